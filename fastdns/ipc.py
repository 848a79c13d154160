"""Messages between fastdns processes: one JSON object per SOCK_SEQPACKET datagram, with
file descriptors beside it (SCM_RIGHTS). The channels are socketpairs the master makes
before it forks a child; messages are small (zone data travels in memfds, see
``fastdns.zone.bundle``).
"""

import json
import socket
from typing import Any

MAX_MESSAGE = 65536
MAX_FDS = 16


def channel() -> tuple[socket.socket, socket.socket]:
    """A connected pair: (the master's end, the child's end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """Send one message; raises OSError (BlockingIOError when the peer does not read)."""
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_MESSAGE:
        raise ValueError(f"message of {len(data)} octets is too long")
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def recv(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The next message and its descriptors; None when the peer has gone."""
    data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
    if not data:
        for fd in fds:
            socket.close(fd)
        return None
    return json.loads(data), fds

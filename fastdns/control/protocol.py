"""The control-socket protocol of PowerDNS Authoritative 4.7, both ends.

What goes over the wire (observed on pdns_server/pdns_control 4.7.3)
----------------------------------------------------------------------
- A stream socket: the Unix socket ``<socket-dir>/pdns.controlsocket``
  (``pdns-<config-name>.controlsocket`` for a named configuration), or TCP when
  ``tcp-control-address`` is set.  The client binds no socket of its own.
- One command per connection.  The client sends one line, ``words joined by spaces`` and
  ``\\n``; over TCP the line is preceded by a line holding the secret.
- The server splits the line on spaces (only spaces), trims trailing whitespace, upper-cases the
  first word, runs the command, writes the reply text -- no length prefix, no status, no trailing
  newline -- and closes the connection.  The client reads until end of file.
- There is no status on the wire.  ``pdns_control`` treats a reply that starts with ``Unknown``
  as a failure (stderr, exit 1) and anything else as success (stdout plus a newline, exit 0):
  :attr:`Reply.status` is that rule.
- ``pdns_control`` rewrites a few commands before sending them (:func:`encode_request`):
  ``show a b`` goes out as ``SHOW a b `` (every word followed by a space), ``list`` as
  ``SHOW *``, and ``quit``/``status``/``version`` as ``QUIT``/``STATUS``/``VERSION``.
- TCP: a client outside ``tcp-control-range`` gets ``Access denied to <address>\\n``; a
  secret that is empty or wrong gets ``Wrong password`` (an empty ``tcp-control-secret`` thus
  refuses everyone); both close the connection.  An empty command line gets ``Empty line``.

fastdns's server answers exactly these bytes.  Where it differs, on purpose: the Unix socket is
created mode 0600 (0660 and the ``setgid`` group when one is given), and a refused TCP client
is answered without a connection reset (the server reads what the client sent before closing),
so the client always sees the refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import logging
import os
import socket
import stat
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from fastdns.config.settings import Netmask, match_netmasks

__all__ = [
    "DEFAULT_TCP_PORT",
    "MAX_LINE",
    "ControlError",
    "ControlServer",
    "ControlServerError",
    "ControlTimeout",
    "Handler",
    "Reply",
    "control_socket_path",
    "encode_request",
    "send_command",
    "split_words",
    "start_control_server",
]

log = logging.getLogger("fastdns.control")

#: ``tcp-control-port``'s default, and ``pdns_control --remote-port``'s.
DEFAULT_TCP_PORT = 53000
#: The longest request line accepted (PowerDNS reads lines into a buffer of this size).
MAX_LINE = 1024000
#: Seconds a client has to send its lines before the server hangs up.
READ_TIMEOUT = 10.0
#: Seconds the server keeps reading from a refused client before it closes.
DRAIN_TIMEOUT = 1.0
#: Seconds ``wait_closed`` lets commands under way finish (``quit``'s reply among them).
CLOSE_GRACE = 2.0
#: What ``str.rstrip`` removes from a request line (C's isspace, as boost::trim_right).
_TRAILING = " \t\n\v\f\r"
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"  # any bytes round-trip: a command word is not always UTF-8


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply, as the server sends it: text only.

    :attr:`status` is what ``pdns_control`` makes of it: 1 (a failure: the text goes to stderr)
    when it starts with ``Unknown``, else 0.
    """

    text: str

    @property
    def status(self) -> int:
        """``pdns_control``'s exit code for this reply: 1 for ``Unknown...``, else 0."""
        return 1 if self.text.startswith("Unknown") else 0

    @property
    def ok(self) -> bool:
        return self.status == 0

    def to_bytes(self) -> bytes:
        return self.text.encode(_ENCODING, _ERRORS)

    @classmethod
    def from_bytes(cls, data: bytes) -> Reply:
        return cls(data.decode(_ENCODING, _ERRORS))


#: ``async def handler(words) -> Reply``; ``words`` is never empty.
Handler = Callable[[list[str]], Awaitable[Reply]]


def control_socket_path(socket_dir: str, config_name: str = "") -> str:
    """Where the Unix control socket lives, named as PowerDNS names it.

    ``<socket-dir>/pdns.controlsocket``, or ``pdns-<config-name>.controlsocket`` for a named
    configuration, so that ``pdns_control --socket-dir=...`` finds fastdns's socket.
    """
    name = f"pdns-{config_name}" if config_name else "pdns"
    return os.path.normpath(os.path.join(socket_dir or "/var/run/pdns", f"{name}.controlsocket"))


def split_words(line: str) -> list[str]:
    """A request line as the server reads it: trailing whitespace trimmed, split on spaces."""
    return [word for word in line.rstrip(_TRAILING).split(" ") if word]


def encode_request(words: Sequence[str]) -> bytes:
    """The line ``pdns_control`` sends for ``words`` (its rewrites included), with ``\\n``."""
    if not words:
        raise ValueError("no command")
    command = words[0]
    if command == "show":
        message = "SHOW " + "".join(f"{word} " for word in words[1:])
    elif command == "list":
        message = "SHOW *"
    elif command in ("quit", "QUIT", "status", "STATUS", "version", "VERSION"):
        message = command.upper()
    else:
        message = " ".join(words)
    return (message + "\n").encode(_ENCODING, _ERRORS)


# --------------------------------------------------------------------------------------------
# The server


class ControlServerError(Exception):
    """The control server cannot start: the socket is in use, or cannot be created."""


def _peer_address(peername: object) -> str:
    host = peername[0] if isinstance(peername, tuple) and peername else str(peername)
    try:
        address = ipaddress.ip_address(str(host).partition("%")[0])
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _is_live(path: str) -> bool:
    """True if something accepts connections on the Unix socket ``path`` (PowerDNS's test)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def _bind_unix(path: str, group: int | None) -> tuple[socket.socket, tuple[int, int]]:
    """A listening-ready socket at ``path``, created with its final mode; (socket, (dev, ino))."""
    if _is_live(path):
        raise ControlServerError(f"Previous controlsocket '{path}' is in use")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlServerError(f"'{path}' exists and is not a socket; not removing it")
        os.unlink(path)
    directory = os.path.dirname(path) or "."
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as err:
        raise ControlServerError(
            f"Unable to create socket directory ({directory}): {err.strerror}") from None
    # Bind under a temporary name, set the mode, then rename: the socket never exists at its
    # real path with a wider mode, and the process umask is left alone.
    temporary = os.path.join(directory, f".ctl.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(temporary)
        os.chmod(temporary, 0o600 if group is None else 0o660)
        if group is not None:
            os.chown(temporary, -1, group)
        os.rename(temporary, path)
    except OSError as err:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ControlServerError(f"Unable to bind to control socket at '{path}': {err}") from None
    st = os.stat(path)
    return sock, (st.st_dev, st.st_ino)


class ControlServer:
    """The listening control sockets; ``close()`` stops them and removes the socket file."""

    def __init__(self, handler: Handler, *, unix_path: str, secret: str,
                 tcp_range: tuple[Netmask, ...]) -> None:
        self.unix_path = unix_path
        self._handler = handler
        self._secret = secret
        self._range = tcp_range
        self._servers: list[asyncio.Server] = []
        self._tcp: asyncio.Server | None = None
        self._identity: tuple[int, int] | None = None
        self._pid = os.getpid()
        self._conversations: set[asyncio.Task] = set()

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """(address, port) the TCP listener is bound to, or None without one."""
        if self._tcp is None or not self._tcp.sockets:
            return None
        name = self._tcp.sockets[0].getsockname()
        return str(name[0]), int(name[1])

    def fds(self) -> list[int]:
        """The listening descriptors (a forked child closes its copies of them)."""
        return [sock.fileno() for server in self._servers for sock in server.sockets]

    async def _start(self, unix_group: int | None, tcp_address: str, tcp_port: int) -> None:
        sock, self._identity = _bind_unix(self.unix_path, unix_group)
        unix = await asyncio.start_unix_server(
            lambda r, w: self._client(r, w, tcp=False), sock=sock, limit=MAX_LINE)
        self._servers.append(unix)
        if not tcp_address:
            return
        try:
            ipaddress.ip_address(tcp_address)
        except ValueError:
            self.close()
            raise ControlServerError(
                f"tcp-control-address '{tcp_address}' is not an IP address") from None
        try:
            self._tcp = await asyncio.start_server(
                lambda r, w: self._client(r, w, tcp=True), host=tcp_address, port=tcp_port,
                reuse_address=True, limit=MAX_LINE)
        except OSError as err:
            self.close()
            raise ControlServerError(
                f"Unable to bind to control socket on '{tcp_address}:{tcp_port}': {err}"
            ) from None
        self._servers.append(self._tcp)

    def close(self) -> None:
        """Stop accepting; remove the socket file if it is still the one this server made.

        In a forked child, ``close()`` only closes the child's copies of the listening sockets:
        the file stays, for the process that made it.
        """
        for server in self._servers:
            server.close()
        if self._identity is not None and os.getpid() == self._pid:
            with contextlib.suppress(OSError):
                st = os.stat(self.unix_path)
                if (st.st_dev, st.st_ino) == self._identity:
                    os.unlink(self.unix_path)
            self._identity = None

    async def wait_closed(self) -> None:
        """Wait for commands under way (up to CLOSE_GRACE seconds, then cancel them)."""
        if self._conversations:
            _, pending = await asyncio.wait(set(self._conversations), timeout=CLOSE_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_GRACE)
        for server in self._servers:
            await server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                      tcp: bool) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conversations.add(task)
        try:
            await self._converse(reader, writer, tcp)
        except (ConnectionError, TimeoutError):
            pass
        except Exception:  # the control socket must outlive any one command
            log.exception("control socket: unexpected error")
        finally:
            if task is not None:
                self._conversations.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        tcp: bool) -> None:
        if tcp:
            peer = _peer_address(writer.get_extra_info("peername"))
            allowed = False
            with contextlib.suppress(ValueError):
                allowed = match_netmasks(self._range, peer)
            if not allowed:
                log.error("Access denied to remote %s because not allowed", peer)
                await _refuse(reader, writer, f"Access denied to {peer}\n")
                return
            secret = await _read_line(reader)
            if secret is None:
                return
            given = secret.strip(_TRAILING).encode(_ENCODING, _ERRORS)
            if not self._secret or not hmac.compare_digest(given, self._secret.encode()):
                log.error("Wrong password on TCP control socket")
                await _refuse(reader, writer, "Wrong password")
                return
        line = await _read_line(reader)
        if line is None:
            return
        words = split_words(line)
        reply = await self._handler(words) if words else Reply("Empty line")
        writer.write(reply.to_bytes())
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def _read_line(reader: asyncio.StreamReader) -> str | None:
    """One line without its newline (a last line without one counts); None: nothing usable."""
    try:
        data = await asyncio.wait_for(reader.readuntil(b"\n"), READ_TIMEOUT)
    except asyncio.IncompleteReadError as err:
        data = err.partial
    except asyncio.LimitOverrunError:
        log.error("control socket: request line too long")
        return None
    if not data:
        return None
    return data.decode(_ENCODING, _ERRORS).removesuffix("\n")


async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str) -> None:
    """Send ``text``, then read what the client sent until it closes (or briefly): closing with
    unread data would reset the connection, and the client would never see ``text``."""
    writer.write(text.encode(_ENCODING, _ERRORS))
    await writer.drain()
    if writer.can_write_eof():
        writer.write_eof()
    deadline = time.monotonic() + DRAIN_TIMEOUT
    with contextlib.suppress(TimeoutError, ConnectionError):
        while (left := deadline - time.monotonic()) > 0:
            if not await asyncio.wait_for(reader.read(65536), left):
                break


async def start_control_server(
    handler: Handler,
    *,
    unix_path: str,
    tcp_address: str = "",
    tcp_port: int = DEFAULT_TCP_PORT,
    tcp_secret: str = "",
    tcp_range: Iterable[Netmask] = (),
    unix_group: int | None = None,
) -> ControlServer:
    """Listen for control commands on ``unix_path`` and, if ``tcp_address`` is set, on TCP.

    Raises :class:`ControlServerError` when another live server answers on ``unix_path`` (a
    stale socket file is removed), when ``unix_path`` is something other than a socket, or when
    a socket cannot be bound.  The parent directory is created (mode 0700) if missing, as
    PowerDNS does.  The socket is mode 0600, or 0660 owned by ``unix_group`` when given (the
    ``setgid`` group; PowerDNS does the same with ``setgid``).  TCP clients must come from
    ``tcp_range`` (the most specific matching entry decides, ``!`` excludes) and send
    ``tcp_secret`` first; an empty secret refuses every TCP client, as in PowerDNS.
    ``tcp_port`` 0 picks a free port (see :attr:`ControlServer.tcp_address`).

    ``handler`` may be called for several connections at once.
    """
    server = ControlServer(handler, unix_path=unix_path, secret=tcp_secret,
                           tcp_range=tuple(tcp_range))
    await server._start(unix_group, tcp_address, tcp_port)
    return server


# --------------------------------------------------------------------------------------------
# The client


class ControlError(Exception):
    """The command could not be sent or its reply not read; ``str()`` is the reason, in
    PowerDNS's words.  :attr:`exit_code` is what ``pdns_control`` exits with (1)."""

    exit_code = 1


class ControlTimeout(ControlError):
    """The server did not accept or answer in time (``pdns_control`` exits with 2)."""

    exit_code = 2


def _tcp_target(host: str, port: int) -> tuple[int, tuple[str, int], str]:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ControlError(f"Unable to convert presentation address '{host}'") from None
    if address.version == 6:
        return socket.AF_INET6, (str(address), port), f"[{address}]:{port}"
    return socket.AF_INET, (str(address), port), f"{address}:{port}"


def _strerror(err: OSError) -> str:
    if err.strerror:
        return err.strerror
    return os.strerror(err.errno) if err.errno else str(err)


def send_command(
    words: Sequence[str],
    *,
    unix_path: str | None = None,
    tcp: tuple[str, int] | None = None,
    secret: str = "",
    timeout: float = 5.0,
) -> Reply:
    """Send one command as ``pdns_control`` does and return the server's reply.

    Exactly one of ``unix_path`` and ``tcp`` (an IP address and a port) is given.  ``timeout``
    bounds the connect and each wait for data.  Raises :class:`ControlTimeout` or
    :class:`ControlError`.  Works against fastdns and PowerDNS's ``pdns_server`` alike.
    """
    if (unix_path is None) == (tcp is None):
        raise ValueError("give exactly one of unix_path and tcp")
    request = encode_request(words)
    family: int
    target: str | tuple[str, int]
    if unix_path is not None:
        family, target, where = socket.AF_UNIX, unix_path, unix_path
        data = request
    else:
        assert tcp is not None
        family, target, where = _tcp_target(*tcp)
        data = secret.encode(_ENCODING, _ERRORS) + b"\n" + request
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(target)
        except TimeoutError:
            raise ControlTimeout(f"Unable to connect to remote '{where}': timed out") from None
        except OSError as err:
            raise ControlError(f"Unable to connect to remote '{where}': {_strerror(err)}") from None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            # the server may have refused us already: its reason is still there to read
            sock.sendall(data)
        return Reply.from_bytes(_receive(sock))


def _receive(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            reason = os.strerror(errno.EAGAIN)  # what pdns_control says on its timeout
            raise ControlTimeout(f"Error from remote in receive(): {reason}") from None
        except ConnectionResetError as err:
            if chunks:
                break
            raise ControlError(f"Error from remote in receive(): {_strerror(err)}") from None
        except OSError as err:
            raise ControlError(f"Error from remote in receive(): {_strerror(err)}") from None
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)

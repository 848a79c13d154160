"""Listening sockets: bound once, before any fork, so that workers can drop privileges.

Every address of ``local-address`` gets a UDP socket and a TCP listener on ``local-port``
(or the address's own port). SO_REUSEPORT lets each worker own its sockets while the
kernel spreads queries across them.

Those options would just as well let another server (a second fastdns, or any server that
sets them) share the port and silently take part of the queries. So every address is first
probed with sockets that share nothing: a port that anyone holds is an error, as it is for
PowerDNS (``reuseport=no``).
"""

import socket
from dataclasses import dataclass

TCP_BACKLOG = 128


@dataclass(slots=True)
class Listener:
    kind: str                 # "udp" or "tcp"
    address: str
    port: int
    sock: socket.socket

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.kind} {host}:{self.port}"


def _socket(kind: str, host: str, port: int, reuseport: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    stype = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, stype)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuseport:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        if kind == "tcp":
            sock.listen(TCP_BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _check_free(host: str, port: int) -> None:
    """Raise OSError (EADDRINUSE) when some socket already holds ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for stype in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(family, stype) as probe:
            if stype == socket.SOCK_STREAM:
                # connections of an earlier run in TIME_WAIT do not make the port busy
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind((host, port))


def bind_listeners(addresses: list[tuple[str, int]], reuseport: bool = True,
                   check_free: bool = True) -> list[Listener]:
    """A UDP and a TCP socket per address. With port 0, the UDP socket's kernel-chosen
    port is used for the TCP socket as well. ``check_free`` first makes sure nobody holds
    the addresses (the first worker slot; the next ones join our own sockets). Raises
    OSError naming the address."""
    listeners: list[Listener] = []
    host, port = "", 0
    try:
        for host, port in addresses:
            if port and check_free:
                _check_free(host, port)
        for host, port in addresses:
            udp = _socket("udp", host, port, reuseport)
            listeners.append(Listener("udp", host, udp.getsockname()[1], udp))
            tcp = _socket("tcp", host, listeners[-1].port, reuseport)
            listeners.append(Listener("tcp", host, listeners[-1].port, tcp))
    except OSError as exc:
        for listener in listeners:
            listener.sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None
    return listeners


def bind_web(host: str, port: int) -> socket.socket:
    """The HTTP listener (API and status page), bound by the master for the manager.
    Raises OSError naming the address."""
    try:
        return _socket("tcp", host, port, reuseport=False)
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise OSError(exc.errno, f"cannot listen on {where} (webserver): {exc.strerror}") \
            from None


class SlotSockets:
    """The listening sockets of every worker slot, held by the master: bound before the
    first fork (slot 0 first, checking that nobody else holds the addresses; with port 0
    the kernel's choice for slot 0 is every slot's), kept while the slot is in use so that
    a respawned worker takes over the queries queued in them, released when it is not."""

    def __init__(self, addresses: list[tuple[str, int]]) -> None:
        self.addresses = addresses
        self.slots: dict[int, list[Listener]] = {}

    def bind(self, slot: int) -> None:
        """Raises OSError naming the address."""
        if slot in self.slots:
            return
        self.slots[slot] = bind_listeners(self.addresses, check_free=slot == 0)
        if slot == 0 and self.addresses and not self.addresses[0][1]:
            self.addresses = [(x.address, x.port) for x in self.slots[0] if x.kind == "udp"]

    def __getitem__(self, slot: int) -> list[Listener]:
        return self.slots[slot]

    def release(self, slot: int) -> None:
        """Close the sockets of a slot no worker will have again."""
        for listener in self.slots.pop(slot, []):
            listener.sock.close()

    def fds(self, but: int | None = None) -> list[int]:
        """Every slot's descriptors, except those of slot ``but``."""
        return [x.sock.fileno() for slot, listeners in self.slots.items() if slot != but
                for x in listeners]

    def close(self) -> None:
        for slot in list(self.slots):
            self.release(slot)

"""A worker: the answer engine behind UDP and TCP sockets, on a uvloop event loop.

The worker never reads a backend: zones arrive as snapshots (``set_zones``). TCP follows
RFC 7766: length-prefixed messages, pipelined queries answered in order, an idle timeout,
and PowerDNS's connection limits (``max-tcp-connections``,
``max-tcp-connections-per-client``, ``max-tcp-transactions-per-conn``,
``max-tcp-connection-duration``).
"""

import asyncio
import logging
import struct
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from fastdns._engine import Engine
from fastdns._snapshot import Snapshot
from fastdns.log import log
from fastdns.server.sockets import Listener

_LEN = struct.Struct("!H")
#: at most one error log line per this many seconds
_ERROR_LOG_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class TcpLimits:
    max_connections: int = 20
    idle_timeout: float = 5.0
    max_duration: float = 0.0          # 0: no limit
    max_transactions: int = 0          # 0: no limit
    max_per_client: int = 0            # 0: no limit


def servfail(packet: bytes) -> bytes | None:
    """A bare SERVFAIL for a query the engine failed on (header only)."""
    if len(packet) < 12 or packet[2] & 0x80:
        return None
    flags = 0x8000 | ((packet[2] & 0x79) << 8) | (packet[3] & 0x10) | 2
    return packet[:2] + _LEN.pack(flags) + bytes(8)


class Worker:
    def __init__(self, engine: Engine, listeners: Iterable[Listener],
                 tcp: TcpLimits = TcpLimits()) -> None:
        self.engine = engine
        self.listeners = list(listeners)
        self.tcp = tcp
        self.tcp_connections: set[TcpConnection] = set()
        self.tcp_per_client: Counter[str] = Counter()
        self._servers: list[asyncio.AbstractServer] = []
        self._transports: list[asyncio.BaseTransport] = []
        self._last_error_log = 0.0

    def set_zones(self, snapshots: Iterable[Snapshot], broken: Iterable[bytes] = ()) -> None:
        self.engine.set_zones(snapshots, broken)

    def answer(self, packet: bytes, tcp: bool) -> bytes | None:
        """The engine's answer; a failure inside it is SERVFAIL and one log line."""
        try:
            return self.engine.answer(packet, tcp)
        except Exception:  # the I/O edge: nothing may take the worker down
            now = time.monotonic()
            if now - self._last_error_log > _ERROR_LOG_INTERVAL:
                self._last_error_log = now
                log.exception("internal error while answering a query; sent SERVFAIL")
            return servfail(packet)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for listener in self.listeners:
            if listener.kind == "udp":
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: UdpProtocol(self), sock=listener.sock)
                self._transports.append(transport)
            else:
                server = await loop.create_server(
                    lambda: TcpConnection(self), sock=listener.sock)
                self._servers.append(server)

    async def stop(self, graceful: bool = True) -> None:
        """Stop listening; with ``graceful``, let open TCP connections flush and close."""
        for server in self._servers:
            server.close()
        for transport in self._transports:
            transport.close()
        for conn in list(self.tcp_connections):
            conn.close(abort=not graceful)
        for server in self._servers:
            await server.wait_closed()


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        response = self.worker.answer(data, False)
        if response is not None and self.transport is not None:
            self.transport.sendto(response, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp socket error: %s", exc)


class TcpConnection(asyncio.Protocol):
    """One client connection: a stream of length-prefixed queries (RFC 1035 §4.2.2)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.client = ""
        self.transactions = 0
        self.idle_timer: asyncio.TimerHandle | None = None
        self.duration_timer: asyncio.TimerHandle | None = None
        self.abort_timer: asyncio.TimerHandle | None = None
        self.paused = False
        self.closing = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else ""
        worker = self.worker
        limits = worker.tcp
        if len(worker.tcp_connections) >= limits.max_connections or (
                limits.max_per_client and
                worker.tcp_per_client[self.client] >= limits.max_per_client):
            log.log(logging.INFO, "tcp connection from %s refused: connection limit reached",
                    self.client)
            transport.abort()
            return
        worker.tcp_connections.add(self)
        worker.tcp_per_client[self.client] += 1
        loop = asyncio.get_running_loop()
        self.idle_timer = loop.call_later(limits.idle_timeout, self.close)
        if limits.max_duration > 0:
            self.duration_timer = loop.call_later(limits.max_duration, self.close)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        buf = self.buffer
        buf += data
        pos = 0
        limits = self.worker.tcp
        while len(buf) - pos >= 2:
            (size,) = _LEN.unpack_from(buf, pos)
            if size == 0:
                # nothing to answer and no way to resynchronise
                self.close()
                return
            if len(buf) - pos - 2 < size:
                break
            query = bytes(buf[pos + 2:pos + 2 + size])
            pos += 2 + size
            response = self.worker.answer(query, True)
            if response is None:
                # not a query (QR=1, shorter than a header): the stream is not DNS
                self.close()
                return
            if self.transport is not None:
                self.transport.write(_LEN.pack(len(response)) + response)
            self.transactions += 1
            if limits.max_transactions and self.transactions >= limits.max_transactions:
                self.close()
                return
        del buf[:pos]
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = asyncio.get_running_loop().call_later(
                limits.idle_timeout, self.close)

    def pause_writing(self) -> None:
        # the client does not read its answers: stop reading its queries
        if self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None and self.paused:
            self.paused = False
            self.transport.resume_reading()

    def close(self, abort: bool = False) -> None:
        transport = self.transport
        if transport is None or (self.closing and not abort):
            return
        self.closing = True
        if abort:
            transport.abort()
            return
        unsent = transport.get_write_buffer_size()
        transport.close()   # flushes what is buffered, then closes
        if unsent:
            # a client that does not read its answers must not keep the connection (and
            # its slot) for ever: it gets tcp-idle-timeout more to take them, as in PowerDNS
            self.abort_timer = asyncio.get_running_loop().call_later(
                self.worker.tcp.idle_timeout or 1.0, self.close, True)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.idle_timer, self.duration_timer, self.abort_timer):
            if timer is not None:
                timer.cancel()
        worker = self.worker
        if self in worker.tcp_connections:
            worker.tcp_connections.discard(self)
            worker.tcp_per_client[self.client] -= 1
            if worker.tcp_per_client[self.client] <= 0:
                del worker.tcp_per_client[self.client]
        self.transport = None

"""A worker process: the packet cache and the answer engine behind its own UDP and TCP
sockets, on a uvloop event loop, with a thread for each UDP socket.

The master forks it with its sockets bound and its zones in hand (memfd bundles, see
``fastdns.zone.bundle``); it then drops privileges and answers until told to stop. UDP is
drained in batches by ``fastdns._udp.UdpReader`` in a thread of its own (``UdpThread``:
blocking recvmmsg, then sendmmsg; a cache hit never enters Python, and the GIL is held
only while a batch's answers are computed). TCP follows RFC 7766: length-prefixed
messages, pipelined queries answered in order, an idle timeout, and PowerDNS's connection
limits (``max-tcp-connections``, ``max-tcp-connections-per-client``,
``max-tcp-transactions-per-conn``, ``max-tcp-connection-duration``).

The worker never reads a backend (STYLE §2): new zone data arrives from the master as a
bundle descriptor on its channel.
"""

import asyncio
import dataclasses
import logging
import os
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from fastdns._shm import SharedRows
from fastdns._sigcache import SigCache
from fastdns._signing import WAIT_TYPE as WAIT_SIGNATURE
from fastdns._udp import Responder, UdpReader, monotonic_seconds
from fastdns._wire import to_lk
from fastdns._zonetable import WAIT_ZONE
from fastdns.log import Throttled, log, reopen, set_level
from fastdns.server import child, messages
from fastdns.server.messages import Channel
from fastdns.server.options import WorkerOptions
from fastdns.server.resolver import StubResolver
from fastdns.server.signer import SignAhead, SigningClient
from fastdns.server.sockets import Listener
from fastdns.server.zoneset import ZoneSet, zone_ids

#: seconds between two lines about malformed packets and missed deadlines
FLOOD_INTERVAL = 10.0
#: the counters of events that come in floods, reported once per FLOOD_INTERVAL
FLOODS = (("corrupt-packets", "malformed packets (FORMERR or dropped)"),
          ("parked-timeouts", "queries that waited too long for a zone being loaded, a "
           "signature from a signer or the resolver (SERVFAIL)"))
#: seconds after which a worker asks the manager again for a zone queries still wait for
#: (the master drops the request when the manager's channel is full)
WANT_AGAIN = 0.5
#: seconds a graceful stop waits for TCP clients to take their answers (a client that does
#: not read must not hold the stop up)
GRACEFUL_TIMEOUT = 1.0
#: seconds a UDP reader thread waits in recvmmsg before it looks whether it is to stop
UDP_WAIT = 0.1


class Worker:
    """One worker process's serving state: responder, sockets, connections."""

    def __init__(self, options: WorkerOptions, listeners: Iterable[Listener],
                 zones: ZoneSet | None = None, rows: SharedRows | None = None,
                 slot: int = 0, signing: tuple[int, list[int]] | None = None) -> None:
        self.options = options
        self.tcp = options.tcp
        self.listeners = list(listeners)
        self.zones = zones or ZoneSet()
        self.rows = rows
        self.slot = slot
        self.engine = options.engine((), ())
        self.engine.set_index(self.zones.index, self.zones.bundles)
        self.cache = options.cache()
        #: apexes of pending zones queries wait for -> [first, last] time the manager was
        #: asked for it
        self.wanted: dict[bytes, list[float]] = {}
        #: expand-alias: the resolver ALIAS targets are asked of (started with the loop)
        self.resolver: StubResolver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self.responder = Responder(self.engine, self.cache, rows, slot,
                                   on_error=self._engine_error, on_wait=self._on_wait,
                                   on_handoff=self._on_handoff)
        #: transfers, NOTIFY and TSIG go to the manager (``Handoff``) when there is one
        self.engine.handoff = options.handoff
        #: UDP hand-offs allowed now (a NOTIFY flood is bounded: HANDOFF_RATE a second)
        self._handoff_tokens = float(HANDOFF_BURST)
        self._handoff_at = time.monotonic()
        #: the signature cache and the links to the signers (fastdns.server.signer)
        self.signing: SigningClient | None = None
        self.ahead: SignAhead | None = None
        if signing is not None:
            cache_fd, links = signing
            cache = SigCache(cache_fd)
            self.engine.set_signature_cache(cache)
            # a test moves the signing clock (the weekly turn) with this; never set in
            # production
            self.engine.signing.set_clock(int(os.environ.get(CLOCK_SKEW_VARIABLE, "0")))
            self.signing = SigningClient(
                links, lambda: self.engine.signing.take_requests(), self._signed,
                _signature_wait, self.responder.wait_ms / 1000.0, rows, slot,
                lambda: self.engine.signing.take_background(), self._unsigned)
            #: worker 0 signs freshly loaded zones ahead of their queries
            self.ahead = SignAhead(self.engine, self.signing, cache.capacity) \
                if slot == 0 else None
        #: sends a message to the master (set by main), with descriptors
        self.send: Callable[[messages.Message], None] = lambda message: None
        self.send_fds: Callable[[messages.Message, tuple[int, ...]], bool] = \
            lambda message, fds: False
        self.tcp_connections: set[TcpConnection] = set()
        self.tcp_per_client: Counter[str] = Counter()
        self._servers: list[asyncio.AbstractServer] = []
        self._readers: list[UdpThread] = []
        self.engine_errors = Throttled(logging.ERROR, "internal error while answering a "
                                       "query; sent SERVFAIL")
        self.tcp_refused = Throttled(logging.WARNING, "tcp connection refused at the "
                                     "connection limit")
        #: counters already reported by report_floods (a respawned worker's row counts on)
        self._reported: dict[str, int] = {}
        self._flood_timer: asyncio.TimerHandle | None = None

    def configure(self, settings: dict) -> None:
        """Take reloadable settings that changed (``Configure``: WorkerOptions fields)."""
        if "loglevel" in settings:
            set_level(settings["loglevel"])
        fields = {k: v for k, v in settings.items() if k in WorkerOptions.__dataclass_fields__}
        if not fields:
            return
        self.options = dataclasses.replace(self.options, **fields)
        if fields.keys() & {"cache_ttl", "negquery_cache_ttl", "max_packet_cache_entries"}:
            # a new cache with the new bounds (the answers cached so far are dropped)
            self.cache = self.options.cache()
            self.responder.set_cache(self.cache)
            if self.rows is not None:
                self.rows.set(self.slot, "packetcache-size", 0)

    # -- zones -----------------------------------------------------------------------------

    def apply_index(self, message: messages.NewIndex, fd: int) -> int:
        """Serve the zones of index ``fd``; drop exactly the cached answers of the zones
        that changed; answer the queries that waited for a zone now in. The number of
        zones whose answers changed."""
        index = self.zones.apply(message, fd)
        self.engine.set_index(index, self.zones.bundles)
        self.zones.retire(message.retired)
        ids = zone_ids(message.purge)
        if self.cache is not None:
            if message.full:
                self.cache.purge()
            else:
                self.cache.purge_tags(ids)
                for below in message.below:
                    self.cache.purge(to_lk(bytes.fromhex(below)), below=True)
            if self.rows is not None:
                self.rows.set(self.slot, "packetcache-size", len(self.cache))
        for wire in list(self.wanted):
            self._resume_if_in(wire)
        if self.ahead is not None and message.signed and self._loop is not None:
            self.ahead.add(self._loop, (bytes.fromhex(w) for w in message.signed))
        return len(ids) + len(message.below)

    def _resume_if_in(self, wire: bytes) -> bool:
        """Answer the queries parked for zone ``wire`` if the index served is past
        pending for it (loaded, broken or gone); whether it was."""
        index = self.zones.index
        entry = index.get(wire) if index is not None else None
        if entry is not None and entry["state"] == "pending":
            return False
        self.wanted.pop(wire, None)
        self.responder.resume(wire, WAIT_ZONE)
        return True

    def purge(self, wire: bytes | None, below: bool) -> int:
        if self.cache is None:
            return 0
        count = self.cache.purge(None if wire is None else to_lk(wire), below)
        if self.rows is not None:
            self.rows.set(self.slot, "packetcache-size", len(self.cache))
        return count

    # -- answering -------------------------------------------------------------------------

    def _engine_error(self, exc: BaseException) -> None:
        self.engine_errors(repr(exc))

    def answer(self, packet: bytes, tcp: bool, v6: bool = False,
               remote: bytes | None = None) -> bytes | None:
        return self.responder.answer(packet, tcp, v6, remote)

    def note_tcp_connections(self) -> None:
        if self.rows is not None:
            self.rows.set(self.slot, "open-tcp-connections", len(self.tcp_connections))

    # -- what the manager answers: transfers, NOTIFY, TSIG ---------------------------------

    def _on_handoff(self, packet: bytes, address: bytes, fd: int) -> None:
        """A UDP query the manager answers (from a UDP thread too): pass it on with the
        socket it came in on, within the hand-off rate (beyond it, dropped)."""
        now = time.monotonic()
        self._handoff_tokens = min(HANDOFF_BURST, self._handoff_tokens
                                   + (now - self._handoff_at) * HANDOFF_RATE)
        self._handoff_at = now
        if self._handoff_tokens < 1:
            return
        self._handoff_tokens -= 1
        message = messages.Handoff(packet.hex(), address.hex())
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.send_fds, message, (fd,))

    def hand_off_tcp(self, connection: "TcpConnection", packet: bytes, rest: bytes) -> None:
        """Give ``connection`` to the manager from ``packet`` on (``rest``: what was read
        after it): the socket goes with the message, and this worker lets go of it."""
        transport = connection.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is None:
            connection.close()
            return
        transport.pause_reading()
        if transport.get_write_buffer_size() and self._loop is not None:
            # answers to queries before it are still being written: the manager writes
            # only after them (a client that never reads them meets the idle timeout)
            self._loop.call_later(0.005, self.hand_off_tcp, connection, packet, rest)
            return
        peer = transport.get_extra_info("peername") or ("", 0)
        message = messages.Handoff(packet.hex(), "", tcp=True, rest=rest.hex(),
                                   peer=f"{peer[0]}|{peer[1]}")
        self.send_fds(message, (sock.fileno(),))
        connection.close()

    # -- what the engine waits for (ALIAS targets) -----------------------------------------

    def _on_wait(self, name: bytes, qtype: int) -> None:
        """A query waits for (``name``, ``qtype``): ask the resolver, the manager for a
        zone not loaded yet, or a signer for a signature, from the loop (this is called
        from a UDP thread too)."""
        if qtype == WAIT_SIGNATURE:
            if self.signing is not None:
                self.signing.wanted()
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self._want_zone if qtype == WAIT_ZONE else self._lookup, name, qtype)

    def _want_zone(self, wire: bytes, qtype: int) -> None:
        # the query was parked on an index older than the one served now, perhaps: the
        # zone may be in already, and the manager would not publish it again
        if self._resume_if_in(wire):
            return
        now = time.monotonic()
        asked = self.wanted.setdefault(wire, [now, -WANT_AGAIN])
        if now - asked[1] >= WANT_AGAIN:
            asked[1] = now
            self.send(messages.WantZone(wire.hex()))
        if self._expiry is None and self._loop is not None:
            self._expiry = self._loop.call_later(0.1, self._expire)

    def _lookup(self, name: bytes, qtype: int) -> None:
        if self.resolver is not None:
            self.resolver.lookup(name, qtype)
        if self._expiry is None and self._loop is not None:
            # parked TCP queries are expired from here; the UDP threads expire their own
            self._expiry = self._loop.call_later(0.1, self._expire)

    def _signed(self, wait: bytes) -> None:
        """A signer put the signature ``wait`` names in the cache: answer its queries."""
        self.responder.resume(wait, WAIT_SIGNATURE)

    def _unsigned(self, wait: bytes) -> None:
        """No signer can make the signature ``wait`` names (no such active key): its
        queries get SERVFAIL now rather than at their deadline."""
        self.responder.fail(wait, WAIT_SIGNATURE)

    def _supply(self, name: bytes, qtype: int, rdatas, ttl: int) -> None:
        self.responder.supply(name, qtype, rdatas, ttl)

    def _expire(self) -> None:
        self._expiry = None
        now = time.monotonic()
        for wire, (first, last) in list(self.wanted.items()):
            if self._resume_if_in(wire):
                continue
            if now - first > 2 * WANT_AGAIN + 2:
                del self.wanted[wire]          # its queries have had their SERVFAIL
            elif now - last >= WANT_AGAIN:
                self.wanted[wire][1] = now
                self.send(messages.WantZone(wire.hex()))
        self.responder.expire()
        self.engine.expire(monotonic_seconds())
        if self.signing is not None and self.engine.signing.requests_pending:
            self.signing.flush()       # requests whose queries parked behind another's
        if self.responder.parked and self._loop is not None:
            self._expiry = self._loop.call_later(0.1, self._expire)

    def report_floods(self) -> None:
        """Every FLOOD_INTERVAL seconds: one line for the malformed packets and the
        parked queries that missed their deadline since the last one (the UDP thread
        counts them in C; a line per packet would be a flood of its own)."""
        if self.rows is not None:
            for counter, what in FLOODS:
                count = self.rows.get(self.slot, counter)
                if count > self._reported.get(counter, count):
                    log.warning("worker %d: %d %s in the last %.0f s", self.slot,
                                count - self._reported[counter], what, FLOOD_INTERVAL)
                self._reported[counter] = count
        if self._loop is not None:
            self._flood_timer = self._loop.call_later(FLOOD_INTERVAL, self.report_floods)

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if self.rows is not None:
            # the row counts on from a worker this one replaces: report what comes now
            self._reported = {c: self.rows.get(self.slot, c) for c, _ in FLOODS}
        self._flood_timer = loop.call_later(FLOOD_INTERVAL, self.report_floods)
        if self.options.resolver is not None:
            self.resolver = StubResolver(self.options.resolver, self._supply)
            await self.resolver.start()
        if self.signing is not None:
            self.signing.attach(loop)
        if self.ahead is not None and self.zones.signed:
            # the indexes sent before this worker started (a zone from the image cache is
            # in before the first worker is): their zones are signed ahead here too
            self.ahead.add(loop, (bytes.fromhex(w) for w in self.zones.signed))
        for listener in self.listeners:
            v6 = listener.sock.family == socket.AF_INET6
            if listener.kind == "udp":
                self._readers.append(UdpThread(listener.sock, v6, self.responder))
            else:
                server = await loop.create_server(
                    self._tcp_factory(v6), sock=listener.sock)
                self._servers.append(server)

    def _tcp_factory(self, v6: bool):
        def factory() -> TcpConnection:
            return TcpConnection(self, v6)
        return factory

    async def stop(self, graceful: bool = True) -> None:
        """Stop listening; with ``graceful``, answer what UDP holds and let open TCP
        connections flush and close."""
        loop = asyncio.get_running_loop()
        for reader in self._readers:
            reader.stop()
        while any(reader.is_alive() for reader in self._readers):
            await asyncio.sleep(0.01)
        if graceful:
            for reader in self._readers:
                reader.drain()
        # closed at once, not at exit: a socket nobody reads must leave the SO_REUSEPORT
        # group before its share of the queries is lost in it (TTOU; the master has let go
        # of its copy)
        for listener in self.listeners:
            if listener.kind == "udp":
                listener.sock.close()
        for server in self._servers:
            server.close()
        for conn in list(self.tcp_connections):
            conn.close(abort=not graceful)
        if graceful and self.tcp_connections:
            deadline = loop.time() + GRACEFUL_TIMEOUT
            while self.tcp_connections and loop.time() < deadline:
                await asyncio.sleep(0.05)
        for conn in list(self.tcp_connections):
            conn.close(abort=True)
        self.tcp_refused.flush()
        self.engine_errors.flush()
        if self.resolver is not None:
            self.resolver.close()
        if self._expiry is not None:
            self._expiry.cancel()
        if self._flood_timer is not None:
            self._flood_timer.cancel()
        if self.signing is not None:
            self.signing.detach()
        if self.ahead is not None:
            self.ahead.stop()


class UdpThread:
    """A UDP socket's reader: a thread of the worker that blocks in recvmmsg and answers
    batch after batch.

    Waiting in recvmmsg instead of in the event loop's epoll_wait saves a system call, a
    wake-up of the loop and its dispatch per batch: about 0.9 µs of CPU per answer with
    dnsperf on loopback, an eighth of the total (bench/). The thread holds the GIL only
    while it computes a batch's answers, exactly as the event loop would compute them, so
    TCP, reloads and purges in the loop see the same single-threaded state as before.
    """

    def __init__(self, sock: socket.socket, v6: bool, responder: Responder) -> None:
        self.reader = UdpReader(sock.fileno(), v6, responder)
        # the file description is shared with the master's copy, which never reads it
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                        struct.pack("ll", 0, int(UDP_WAIT * 1e6)))
        self.thread = threading.Thread(target=self._serve, daemon=True,
                                       name=f"udp {sock.getsockname()}")
        self.thread.start()

    def _serve(self) -> None:
        # signals are the event loop's business: none may interrupt this thread
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            self.reader.serve()
        except BaseException:       # a worker that cannot read its socket must be replaced
            log.exception("the UDP reader failed; worker exits")
            os._exit(1)

    def stop(self) -> None:
        """Make the thread end after its current wait (at most UDP_WAIT)."""
        self.reader.stop()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def drain(self) -> int:
        """Answer what the socket still holds, once the thread has ended."""
        return self.reader.on_readable()


class TcpConnection(asyncio.Protocol):
    """One client connection: a stream of length-prefixed queries (RFC 1035 §4.2.2)."""

    def __init__(self, worker: Worker, v6: bool = False) -> None:
        self.worker = worker
        self.v6 = v6
        self.remote: bytes | None = None
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.client = ""
        self.transactions = 0
        self.idle_timer: asyncio.TimerHandle | None = None
        self.duration_timer: asyncio.TimerHandle | None = None
        self.abort_timer: asyncio.TimerHandle | None = None
        self.paused = False
        self.closing = False
        self.last_active = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if peer else ""
        self.remote = _remote_key(self.client)
        worker = self.worker
        limits = worker.tcp
        if len(worker.tcp_connections) >= limits.max_connections or (
                limits.max_per_client and
                worker.tcp_per_client[self.client] >= limits.max_per_client):
            worker.tcp_refused(self.client)
            transport.abort()
            return
        worker.tcp_connections.add(self)
        worker.tcp_per_client[self.client] += 1
        worker.note_tcp_connections()
        loop = asyncio.get_running_loop()
        self.last_active = loop.time()
        self.idle_timer = loop.call_later(limits.idle_timeout, self.idle_check)
        if limits.max_duration > 0:
            self.duration_timer = loop.call_later(limits.max_duration, self.close)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        buf = self.buffer
        if buf:
            buf += data
            stream: bytes | bytearray = buf
        else:
            stream = data
        limits = self.worker.tcp
        left = limits.max_transactions - self.transactions if limits.max_transactions else -1
        # every complete query in one call (Cython): answers framed and joined, in order
        responder = self.worker.responder
        answers, used, count, stop = responder.answer_stream(
            stream, self.v6, self.remote, left, self.late_reply)
        if answers and self.transport is not None:
            self.transport.write(answers)
        self.transactions += count
        if responder.handed is not None:
            handed, responder.handed = responder.handed, None
            self.worker.hand_off_tcp(self, handed, bytes(stream[used:]))
            return
        if stop:
            self.close()
            return
        if buf:
            del buf[:used]
        elif used < len(data):
            buf += data[used:]
        self.last_active = self.loop_time()

    def late_reply(self, answer: bytes) -> None:
        """The answer to a query that waited (an ALIAS target's lookup): framed, sent if
        the connection is still open (RFC 7766 allows answers out of order)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(answer).to_bytes(2, "big") + answer)

    def loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def idle_check(self) -> None:
        """The idle timer: close a connection quiet for tcp-idle-timeout, else look again
        when it would be (the timer is not re-made for every read)."""
        idle = self.worker.tcp.idle_timeout
        quiet = self.loop_time() - self.last_active
        if quiet >= idle:
            self.close()
        elif self.transport is not None:
            self.idle_timer = asyncio.get_running_loop().call_later(idle - quiet,
                                                                    self.idle_check)

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
            worker.note_tcp_connections()
        self.transport = None


def _remote_key(address: str) -> bytes | None:
    """A client address as 16 octets, IPv4 mapped into IPv6 (the ``remotes`` ring)."""
    try:
        if ":" in address:
            return socket.inet_pton(socket.AF_INET6, address.split("%")[0])
        return b"\0" * 10 + b"\xff\xff" + socket.inet_pton(socket.AF_INET, address)
    except OSError:
        return None


# -- the process ---------------------------------------------------------------------------

#: UDP queries a worker hands to the manager (NOTIFY, TSIG), a second and at once
HANDOFF_RATE = 200.0
HANDOFF_BURST = 100

#: seconds added to the wall clock the signatures' window is computed from (tests only)
CLOCK_SKEW_VARIABLE = "FASTDNS_TEST_SIGNING_CLOCK_SKEW"


def _signature_wait(key: bytes) -> bytes:
    """The wait name of the queries waiting for the signature of cache key ``key``
    (fastdns._signing: the key as one label)."""
    return b"\x10" + key + b"\x00"


def main(birth, listeners: list[Listener], options: WorkerOptions, zones: ZoneSet,
         signing: tuple[int, list[int]] | None = None) -> int:
    """A forked worker's life; its exit status (BOOT_ERROR when it could not start)."""
    import uvloop

    try:
        child.start(f"worker {birth.slot}", options.user, options.group)
        worker = Worker(options, listeners, zones, birth.rows, birth.row, signing)
    except Exception as exc:
        log.error("worker %d cannot start: %s", birth.slot, exc)
        return child.BOOT_ERROR
    return uvloop.run(_serve(worker, birth))


async def _serve(worker: Worker, birth) -> int:
    loop = asyncio.get_running_loop()
    stopping: asyncio.Future[bool] = loop.create_future()
    channel: Channel = birth.channel

    def stop(graceful: bool) -> None:
        if not stopping.done():
            stopping.set_result(graceful)

    def on_bundle(message: messages.ZoneBundle, fds: list[int]) -> None:
        worker.zones.add_bundle(message.bundle, fds[0])

    def on_index(message: messages.NewIndex, fds: list[int]) -> None:
        started = time.monotonic()
        changed = worker.apply_index(message, fds[0])
        log.debug("worker %d: index %d, %d zones changed in %.3fs", birth.slot,
                  message.index, changed, time.monotonic() - started)
        _reply(messages.Applied(message.index))

    def on_purge(message: messages.Purge, fds: list[int]) -> None:
        wire = None if message.wire is None else bytes.fromhex(message.wire)
        _reply(messages.Replied(message.request, worker.purge(wire, message.below)))

    def on_ping(message: messages.Ping, fds: list[int]) -> None:
        _reply(messages.Replied(message.request))

    def on_configure(message: messages.Configure, fds: list[int]) -> None:
        worker.configure(message.settings)

    def _reply(message: messages.Message) -> None:
        try:
            channel.send(message)
        except OSError:
            stop(False)

    loop.add_signal_handler(signal.SIGTERM, stop, True)
    loop.add_signal_handler(signal.SIGINT, stop, True)
    loop.add_signal_handler(signal.SIGQUIT, os._exit, 0)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)      # the master's business
    loop.add_signal_handler(signal.SIGUSR1, reopen)
    worker.send = _reply

    def _send_fds(message: messages.Message, fds: tuple[int, ...]) -> bool:
        try:
            channel.send(message, fds)
            return True
        except BlockingIOError:
            return False          # the master is busy: the client asks again
        except OSError:
            stop(False)
            return False

    worker.send_fds = _send_fds
    channel.attach(loop, {messages.ZoneBundle: on_bundle, messages.NewIndex: on_index,
                          messages.Purge: on_purge,
                          messages.Ping: on_ping, messages.Configure: on_configure},
                   on_closed=lambda: stop(False))
    # the row is this worker's (its pid in it) before the first answer it counts: the
    # master sums the rows that have a pid, so nothing counted is ever missing
    heartbeat = child.Heartbeat(birth.rows, birth.row, birth.master_pid, birth.tick,
                                orphaned=lambda: stop(False))
    heartbeat.start()
    await worker.start()
    _reply(messages.Booted())
    graceful = await stopping
    heartbeat.stop()
    await worker.stop(graceful)
    return 0

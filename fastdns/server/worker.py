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
import ctypes
import grp
import logging
import os
import pwd
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from fastdns import ipc
from fastdns._engine import Engine
from fastdns._pcache import PacketCache
from fastdns._shm import SharedRows
from fastdns._snapshot import Snapshot
from fastdns._udp import Responder, UdpReader
from fastdns._wire import to_lk
from fastdns.log import log
from fastdns.server.sockets import Listener
from fastdns.stats import record_usage
from fastdns.zone.bundle import BundledZone, read_bundle

#: at most one error log line per this many seconds
_ERROR_LOG_INTERVAL = 10.0
#: exit status of a worker that could not start (the master halts instead of respawning)
BOOT_ERROR = 3
#: seconds a graceful stop waits for TCP clients to take their answers (a client that does
#: not read must not hold the stop up)
GRACEFUL_TIMEOUT = 1.0
#: seconds a UDP reader thread waits in recvmmsg before it looks whether it is to stop
UDP_WAIT = 0.1
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class TcpLimits:
    max_connections: int = 20
    idle_timeout: float = 5.0
    max_duration: float = 0.0          # 0: no limit
    max_transactions: int = 0          # 0: no limit
    max_per_client: int = 0            # 0: no limit


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a worker needs from the configuration (it never reads the configuration)."""

    udp_truncation_threshold: int = 1232
    version: str | None = None
    server_id: str | None = None
    dname_processing: bool = True
    any_to_tcp: bool = True
    cache_ttl: int = 20
    negquery_cache_ttl: int = 60
    max_packet_cache_entries: int = 1000000
    tcp: TcpLimits = field(default_factory=TcpLimits)
    user: str = ""                     # setuid
    group: str = ""                    # setgid

    def engine(self, snapshots=(), broken=()) -> Engine:
        return Engine(snapshots, broken=broken,
                      udp_truncation_threshold=self.udp_truncation_threshold,
                      version=self.version, server_id=self.server_id,
                      dname_processing=self.dname_processing, any_to_tcp=self.any_to_tcp)

    def cache(self) -> PacketCache | None:
        if self.cache_ttl <= 0 or self.max_packet_cache_entries <= 0:
            return None
        return PacketCache(self.max_packet_cache_entries, self.cache_ttl,
                           self.negquery_cache_ttl)


def drop_privileges(user: str, group: str) -> None:
    """setgid/setuid to ``group``/``user`` (names or numbers; empty: stay)."""
    if group:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        os.setgroups([])
        os.setgid(gid)
    if user:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
        if not group:
            os.setgroups([])
            os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)


def die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the master dies (the ppid check backs it up)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class ZoneSet:
    """The zones a worker serves: a snapshot per zone over the mapped bundles."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.broken: dict[str, bytes] = {}
        self.kinds: dict[str, str] = {}
        self._tags: dict[str, int] = {}

    def tag(self, name: str) -> int:
        if name not in self._tags:
            self._tags[name] = len(self._tags) + 1
        return self._tags[name]

    def take(self, mapping, zone: BundledZone) -> None:
        view = memoryview(mapping)[zone.offset:zone.offset + zone.size]
        snapshot = Snapshot(view, zone.generation)
        snapshot.tag = self.tag(zone.name)
        self.snapshots[zone.name] = snapshot
        self.kinds[zone.name] = zone.kind
        self.broken.pop(zone.name, None)

    def apply(self, fd: int) -> list[tuple[str, bytes]]:
        """Apply the bundle ``fd`` (which is closed); the zones whose answers changed, as
        (name, apex wire name)."""
        try:
            mapping, manifest = read_bundle(fd)
        finally:
            os.close(fd)
        changed: dict[str, bytes] = {}
        if manifest.full:
            keep = {z.name for z in manifest.zones}
            for name in list(self.snapshots):
                if name not in keep:
                    changed[name] = self.snapshots.pop(name).origin
        for name in manifest.removed:
            if name in self.snapshots:
                changed[name] = self.snapshots.pop(name).origin
        for zone in manifest.zones:
            self.take(mapping, zone)
            changed[zone.name] = zone.wire
        # the manifest's broken list is the whole set: zones in it and not loaded get
        # SERVFAIL, zones no longer in it stop getting it
        broken = {name: wire for name, wire in manifest.broken if name not in self.snapshots}
        for name in set(self.broken) ^ set(broken):
            changed[name] = broken.get(name) or self.broken[name]
        self.broken = broken
        return list(changed.items())


class Worker:
    """One worker process's serving state: responder, sockets, connections."""

    def __init__(self, options: WorkerOptions, listeners: Iterable[Listener],
                 zones: ZoneSet | None = None, rows: SharedRows | None = None,
                 slot: int = 0) -> None:
        self.options = options
        self.tcp = options.tcp
        self.listeners = list(listeners)
        self.zones = zones or ZoneSet()
        self.rows = rows
        self.slot = slot
        self.engine = options.engine(self.zones.snapshots.values(),
                                     self.zones.broken.values())
        self.cache = options.cache()
        self.responder = Responder(self.engine, self.cache, rows, slot,
                                   on_error=self._engine_error)
        self.tcp_connections: set[TcpConnection] = set()
        self.tcp_per_client: Counter[str] = Counter()
        self._servers: list[asyncio.AbstractServer] = []
        self._readers: list[UdpThread] = []
        self._last_error_log = 0.0

    # -- zones -----------------------------------------------------------------------------

    def apply_bundle(self, fd: int) -> int:
        """Serve the zones of bundle ``fd``; drop exactly their cached answers. The number
        of zones whose answers changed."""
        changed = self.zones.apply(fd)
        self.engine.set_zones(self.zones.snapshots.values(), self.zones.broken.values())
        if self.cache is not None:
            for name, wire in changed:
                self.cache.purge(tag=self.zones.tag(name))
                self.cache.purge(to_lk(wire), below=True)
            if self.rows is not None:
                self.rows.set(self.slot, "packetcache-size", len(self.cache))
        return len(changed)

    def purge(self, wire: bytes | None, below: bool) -> int:
        if self.cache is None:
            return 0
        count = self.cache.purge(None if wire is None else to_lk(wire), below)
        if self.rows is not None:
            self.rows.set(self.slot, "packetcache-size", len(self.cache))
        return count

    # -- answering -------------------------------------------------------------------------

    def _engine_error(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_error_log > _ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.error("internal error while answering a query; sent SERVFAIL: %r", exc)

    def answer(self, packet: bytes, tcp: bool, v6: bool = False,
               remote: bytes | None = None) -> bytes | None:
        return self.responder.answer(packet, tcp, v6, remote)

    def note_tcp_connections(self) -> None:
        if self.rows is not None:
            self.rows.set(self.slot, "open-tcp-connections", len(self.tcp_connections))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
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
            log.log(logging.INFO, "tcp connection from %s refused: connection limit reached",
                    self.client)
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
        answers, used, count, stop = self.worker.responder.answer_stream(
            stream, self.v6, self.remote, left)
        if answers and self.transport is not None:
            self.transport.write(answers)
        self.transactions += count
        if stop:
            self.close()
            return
        if buf:
            del buf[:used]
        elif used < len(data):
            buf += data[used:]
        self.last_active = self.loop_time()

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

def main(slot: int, listeners: list[Listener], channel: socket.socket, rows: SharedRows,
         options: WorkerOptions, zones: ZoneSet, master_pid: int) -> int:
    """A forked worker's life; its exit status (BOOT_ERROR when it could not start)."""
    import uvloop
    from setproctitle import setproctitle

    try:
        setproctitle(f"fastdns: worker {slot}")
        die_with_parent()
        drop_privileges(options.user, options.group)
        worker = Worker(options, listeners, zones, rows, slot)
    except Exception as exc:
        log.error("worker %d cannot start: %s", slot, exc)
        return BOOT_ERROR
    return uvloop.run(_serve(worker, channel, master_pid))


async def _serve(worker: Worker, channel: socket.socket, master_pid: int) -> int:
    loop = asyncio.get_running_loop()
    stopping: asyncio.Future[bool] = loop.create_future()

    def stop(graceful: bool) -> None:
        if not stopping.done():
            stopping.set_result(graceful)

    def on_message() -> None:
        try:
            received = ipc.recv(channel)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            received = None
        if received is None:          # the master is gone
            loop.remove_reader(channel.fileno())
            stop(False)
            return
        message, fds = received
        op = message.get("op")
        if op == "zones" and fds:
            started = time.monotonic()
            changed = worker.apply_bundle(fds[0])
            log.debug("worker %d: %d zones changed in %.3fs", worker.slot, changed,
                      time.monotonic() - started)
            ipc.send(channel, {"op": "applied", "bundle": message.get("bundle")})
            for extra in fds[1:]:
                os.close(extra)
        elif op == "purge":
            wire = message.get("wire")
            count = worker.purge(None if wire is None else bytes.fromhex(wire),
                                 bool(message.get("below")))
            ipc.send(channel, {"op": "purged", "id": message.get("id"), "count": count})
        else:
            for fd in fds:
                os.close(fd)

    def beat() -> None:
        if worker.rows is not None:
            record_usage(worker.rows, worker.slot)
        if os.getppid() != master_pid:
            stop(False)
            return
        loop.call_later(1.0, beat)

    loop.add_signal_handler(signal.SIGTERM, stop, True)
    loop.add_signal_handler(signal.SIGINT, stop, True)
    loop.add_signal_handler(signal.SIGQUIT, os._exit, 0)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)      # the master's business
    loop.add_signal_handler(signal.SIGUSR1, reopen_log)
    channel.setblocking(False)
    loop.add_reader(channel.fileno(), on_message)
    if worker.rows is not None:
        # the row is this worker's (its pid in it) before the first answer it counts: the
        # master sums the rows that have a pid, so nothing counted is ever missing
        record_usage(worker.rows, worker.slot)
    await worker.start()
    beat()
    try:
        ipc.send(channel, {"op": "booted", "slot": worker.slot})
    except OSError:               # the master died while this worker was starting
        stop(False)
    graceful = await stopping
    await worker.stop(graceful)
    return 0


def reopen_log() -> None:
    from fastdns.log import reopen

    reopen()

"""The manager process: asyncio services on uvloop that keep the zones up to date and
carry transfers and NOTIFY (fastdns.server.transfers), and later the HTTP API.

Today's service is :class:`ZoneService`: it loads every zone at start (then the manager
says ``Booted``), and again on the master's ``Reload`` (SIGHUP, ``pdns_control reload``) and
every ``zone-check-interval``/``bind-check-interval`` seconds, shipping only the zones that
changed as a bundle of images (``fastdns.zone.bundle``) that the master passes on to every
worker. Reading backends and compiling zones runs in a thread, off the event loop, so the
manager answers its channel (``rping``, the heartbeat) while a big zone loads. Workers never
wait for it: they serve what they have until a new bundle arrives.

A service is an object with ``name``, ``async start()`` (done when it is ready to serve:
the manager boots once every service has started) and ``async run()`` (until cancelled).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

import dns.exception
import dns.name

from fastdns.backends.registry import make_backends, refresh_interval, set_check_interval
from fastdns.log import log, reopen, set_level
from fastdns.server import child, messages
from fastdns.server.transfers import XfrService
from fastdns.server.zoneset import ServedZones, pack_ids
from fastdns.zone.imagecache import ImageCache, default_directory
from fastdns.zone.source import BackendError, ZoneSource
from fastdns.zone.zonedb import RefreshResult, ZoneDB

if TYPE_CHECKING:
    from fastdns.config.loader import Config
    from fastdns.server.webservice import WebService


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def run(self) -> None: ...


def main(birth: child.Birth, config: Config, web_socket: socket.socket | None = None,
         started: float = 0.0, worker_rows: range = range(0)) -> int:
    """A forked manager's life; its exit status (BOOT_ERROR when it could not start)."""
    import uvloop

    try:
        child.start("manager")
        backends = make_backends(config)
        child.drop_privileges(config.setuid, config.setgid)
    except (BackendError, KeyError, OSError) as exc:
        log.error("manager cannot start: %s", exc)
        return child.BOOT_ERROR
    manager = Manager(birth, backends, config)
    if web_socket is not None:
        from fastdns.server.webservice import WebService

        manager.web = WebService(manager, web_socket, started or time.time(), worker_rows)
        manager.services.append(manager.web)
    return uvloop.run(manager.serve())


class Manager:
    def __init__(self, birth: child.Birth, backends: list[ZoneSource], config: Any) -> None:
        self.birth = birth
        self.channel = birth.channel
        self.zones = ZoneService(self, backends, config)
        self.xfr: XfrService | None = None
        self.web: WebService | None = None
        self.services: list[Service] = [self.zones]
        self.config = config
        self.stopping: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def send(self, message: messages.Message, fds: tuple[int, ...] = ()) -> None:
        try:
            self.channel.send(message, fds)
        except OSError as exc:
            log.error("manager: cannot reach the master (%s); stopping", exc)
            self.stop()

    def stop(self) -> None:
        if self.stopping is not None and not self.stopping.done():
            self.stopping.set_result(None)

    async def serve(self) -> int:
        loop = self.loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        self.xfr = XfrService(self, self.zones, self.config)
        self.services.append(self.xfr)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)      # the master's business
        loop.add_signal_handler(signal.SIGUSR1, reopen)
        self.channel.attach(loop, {
            messages.Reload: lambda m, fds: self.zones.request(m.request),
            messages.Ping: lambda m, fds: self.send(messages.Replied(m.request)),
            messages.Configure: lambda m, fds: self.configure(m.settings),
            messages.WantZone: lambda m, fds: self.zones.want(bytes.fromhex(m.wire)),
            messages.Handoff: self.xfr.handoff,
            messages.Command: self.xfr.command,
            messages.CommandDone: self.web.command_done if self.web else lambda m, fds: None,
        }, on_closed=self.stop)
        heartbeat = child.Heartbeat(self.birth.rows, self.birth.row, self.birth.master_pid,
                                    self.birth.tick, orphaned=self.stop)
        heartbeat.start()
        tasks: list[asyncio.Task] = []
        try:
            starting: asyncio.Future = asyncio.ensure_future(
                asyncio.gather(*(s.start() for s in self.services)))
            await asyncio.wait([starting, self.stopping], return_when=asyncio.FIRST_COMPLETED)
            if not self.stopping.done():
                await starting
                self.send(messages.Booted(zones=len(self.zones.zonedb.index)))
                tasks = [asyncio.create_task(s.run(), name=s.name) for s in self.services]
                await self.stopping
        finally:
            heartbeat.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return 0

    def configure(self, settings: dict[str, Any]) -> None:
        if "loglevel" in settings:
            set_level(settings["loglevel"])
        if "intervals" in settings:
            self.zones.set_intervals(settings["intervals"])


def _identity(config: Any) -> str:
    """What the image cache was written for: the backends and their settings (hashed: a
    password is among them)."""
    described = repr([(str(i), sorted(map(str, config.backend(i).items())))
                      for i in config.instances])
    return hashlib.blake2b(described.encode(), digest_size=16).hexdigest()


class ZoneService:
    """Zones from the backends to the workers: list, load in batches, check, reload,
    ship. The first index (every zone listed, pending) goes out before the first zone is
    compiled: the manager boots then, and the workers serve each batch as it comes; a
    query for a zone still pending makes its worker ask for it (``want``), and the zone is
    loaded ahead of the others on a thread of its own."""

    name = "zones"

    def __init__(self, manager: Manager, backends: list[ZoneSource], config: Any) -> None:
        self.manager = manager
        self.config = config
        # generations only have to differ from those of an earlier manager of this server
        directory = default_directory(config)
        self.zonedb = ZoneDB(backends, first_generation=int(time.time() * 1000),
                             publisher=self, cache=ImageCache(directory, _identity(config))
                             if directory else None)
        #: the zones as the workers serve them (transfers out are answered from these)
        self.served = ServedZones(config)
        # one thread: refreshes run one at a time, in the order asked
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="zones")
        self.requests: asyncio.Queue[int] = asyncio.Queue()
        self._index_number = 0
        self._first: asyncio.Future | None = None
        #: zones queries wait for, and the thread (with backends of its own) that loads them
        self._wanted: set[str] = set()
        #: zones just written (transfers stored, API writes) and their kinds, loaded on the
        #: demand thread too
        self._written: dict[str, str] = {}
        self._demand = ThreadPoolExecutor(1, thread_name_prefix="demand")
        self._demand_backends: list[ZoneSource] | None = None
        self._demanding = False
        #: called with each refresh's result (the transfer service: NOTIFY, secondaries)
        self.refreshed: list[Callable[[RefreshResult], None]] = []

    # -- the publisher of ZoneDB's batches (called from the zones threads) -------------------

    def _ship(self, message: messages.Message, fd: int) -> None:
        def send() -> None:
            try:
                self.served.take(message, os.dup(fd))
                self.manager.send(message, (fd,))
            finally:
                os.close(fd)
        assert self.manager.loop is not None
        self.manager.loop.call_soon_threadsafe(send)

    def bundle(self, number: int, fd: int) -> None:
        self._ship(messages.ZoneBundle(number), fd)

    def index(self, fd: int, purge: list[int], below: list[bytes], full: bool,
              retired: list[int], zones: int, pending: int,
              signed: Sequence[bytes] = ()) -> None:
        self._index_number += 1
        self._ship(messages.NewIndex(self._index_number, pack_ids(purge),
                                     [w.hex() for w in below], full, retired, zones,
                                     pending, [w.hex() for w in signed]), fd)

    # -- zones a query waits for -------------------------------------------------------------

    def want(self, wire: bytes) -> None:
        try:
            name = dns.name.from_wire(wire, 0)[0].to_text()
        except dns.exception.DNSException:
            return
        self._wanted.add(name)
        if not self._demanding:
            self._demanding = True
            asyncio.get_running_loop().run_in_executor(self._demand, self._load_wanted)

    def load_now(self, name: str, kind: str = "secondary") -> None:
        """Load ``name`` now, ahead of the next check: its data was just written (a
        transfer stored, an API write; ``kind`` if it is new). The whole check would read
        every zone's fingerprints."""
        self._written[name] = kind
        if not self._demanding:
            self._demanding = True
            asyncio.get_running_loop().run_in_executor(self._demand, self._load_wanted)

    def _load_wanted(self) -> None:
        """In the demand thread: load the zones wanted, until none is."""
        try:
            while True:
                names = list(self._wanted)
                self._wanted.difference_update(names)
                written = dict(self._written)
                for name in written:
                    del self._written[name]
                if not names and not written:
                    return
                if self._demand_backends is None:
                    self._demand_backends = make_backends(self.config)
                started = time.monotonic()
                if written:
                    self.zonedb.demand(self._demand_backends, list(written), changed=True,
                                       kinds=written)
                if names:
                    done = self.zonedb.demand(self._demand_backends, names)
                    log.info("loaded %d zones queries waited for in %.3fs", done,
                             time.monotonic() - started)
        except Exception as exc:       # the refresh loads them anyway
            log.error("loading zones on demand failed: %s", exc)
        finally:
            self._demanding = False
            if (self._wanted or self._written) and self.manager.loop is not None:
                self.manager.loop.call_soon_threadsafe(self.want_again)

    def want_again(self) -> None:
        if (self._wanted or self._written) and not self._demanding:
            self._demanding = True
            asyncio.get_running_loop().run_in_executor(self._demand, self._load_wanted)

    # -- the service ---------------------------------------------------------------------------

    def request(self, number: int) -> None:
        """The master's ``Reload`` number ``number``: reply ``Reloaded`` when done."""
        self.requests.put_nowait(number)

    def set_intervals(self, intervals: list[int]) -> None:
        for backend, seconds in zip(self.zonedb.backends, intervals, strict=False):
            set_check_interval(backend, seconds)
        self.requests.put_nowait(0)         # wake the loop up: the next check moved

    async def start(self) -> None:
        """Done once every zone is listed and that index is out (the load goes on)."""
        loop = asyncio.get_running_loop()
        listed = loop.create_future()

        def done() -> None:
            if not listed.done():
                listed.set_result(None)

        def on_listed() -> None:
            loop.call_soon_threadsafe(done)

        self._first = asyncio.ensure_future(self._refresh(retry_failed=True,
                                                          listed=on_listed))
        await asyncio.wait([listed, self._first], return_when=asyncio.FIRST_COMPLETED)
        if self._first.done():
            self._first.result()            # an error listing: the manager cannot start
        counts = self.zonedb.counts()
        log.warning("listed %d zones; each is answered for as soon as it is in",
                    sum(counts.values()))

    async def run(self) -> None:
        if self._first is not None:
            started = time.monotonic()
            result = await self._first
            self._first = None
            counts = self.zonedb.counts()
            cached = f", {self.zonedb.from_cache} of them from the image cache" \
                if self.zonedb.from_cache else ""
            log.warning("loaded %d zones%s (%d failed, %d without SOA, %d broken records "
                        "skipped) in %.2fs", counts["loaded"], cached, len(result.failed),
                        len(result.absent), result.skipped, time.monotonic() - started)
        next_check = self._next_check()
        while True:
            timeout = None if next_check is None else max(0.0, next_check - time.monotonic())
            try:
                number = await asyncio.wait_for(self.requests.get(), timeout)
            except TimeoutError:
                number = -1
            while number < 0 and not self.requests.empty() and \
                    self.requests._queue[0] < 0:                # type: ignore[attr-defined]
                self.requests.get_nowait()                      # one check for many asks
            if number > 0:
                r = await self._refresh(retry_failed=True)
                # the master says "reload: ..." once every worker serves the result
                self.manager.send(messages.Reloaded(
                    number, len(r.loaded), len(r.removed), len(r.failed), len(r.absent),
                    r.skipped, len(self.zonedb.zones)))
            elif number < 0:
                result = await self._refresh(retry_failed=False)
                if result.changed:
                    log.info("check: %d zones loaded (%d broken records skipped), %d removed, "
                             "%d failed, %d without SOA; serving %d zones", len(result.loaded),
                             result.skipped, len(result.removed), len(result.failed),
                             len(result.absent), len(self.zonedb.zones))
            next_check = self._next_check()

    def _next_check(self) -> float | None:
        # asked each time: an SQL backend whose database is down asks to be retried
        # sooner (1, 2, 4... seconds), and HUP or set may have changed the intervals
        interval = refresh_interval(self.zonedb.backends)
        return time.monotonic() + interval if interval else None

    async def _refresh(self, retry_failed: bool,
                       listed: Callable[[], None] | None = None) -> RefreshResult:
        """Refresh in the zones thread; ZoneDB ships what changed, a batch at a time."""
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self.executor, lambda: self.zonedb.refresh(retry_failed=retry_failed,
                                                       listed=listed))
        for hook in self.refreshed:
            hook(result)
        return result

    def check_soon(self) -> None:
        """Look for changed zones now (a transfer was stored), as the periodic check."""
        self.requests.put_nowait(-1)

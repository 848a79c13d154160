"""The manager process: asyncio services on uvloop that keep the zones up to date and,
later, carry transfers, NOTIFY and the HTTP API.

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
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from fastdns.backends.registry import make_backends, refresh_interval, set_check_interval
from fastdns.log import log, reopen, set_level
from fastdns.server import child, messages
from fastdns.zone.bundle import write_bundle
from fastdns.zone.source import BackendError, ZoneSource
from fastdns.zone.zonedb import RefreshResult, ZoneDB

if TYPE_CHECKING:
    from fastdns.config.loader import Config


class Service(Protocol):
    name: str

    async def start(self) -> None: ...

    async def run(self) -> None: ...


def main(birth: child.Birth, config: Config) -> int:
    """A forked manager's life; its exit status (BOOT_ERROR when it could not start)."""
    import uvloop

    try:
        child.start("manager")
        backends = make_backends(config)
        child.drop_privileges(config.setuid, config.setgid)
    except (BackendError, KeyError, OSError) as exc:
        log.error("manager cannot start: %s", exc)
        return child.BOOT_ERROR
    return uvloop.run(Manager(birth, backends, config).serve())


class Manager:
    def __init__(self, birth: child.Birth, backends: list[ZoneSource], config: Any) -> None:
        self.birth = birth
        self.channel = birth.channel
        self.zones = ZoneService(self, backends)
        self.services: list[Service] = [self.zones]
        self.stopping: asyncio.Future[None] | None = None

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
        loop = asyncio.get_running_loop()
        self.stopping = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)      # the master's business
        loop.add_signal_handler(signal.SIGUSR1, reopen)
        self.channel.attach(loop, {
            messages.Reload: lambda m, fds: self.zones.request(m.request),
            messages.Ping: lambda m, fds: self.send(messages.Replied(m.request)),
            messages.Configure: lambda m, fds: self.configure(m.settings),
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
                self.send(messages.Booted(zones=len(self.zones.zonedb.zones)))
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


class ZoneService:
    """Zones from the backends to the workers: load, check, reload, ship."""

    name = "zones"

    def __init__(self, manager: Manager, backends: list[ZoneSource]) -> None:
        self.manager = manager
        # generations only have to differ from those of an earlier manager of this server
        self.zonedb = ZoneDB(backends, first_generation=int(time.time() * 1000))
        # one thread: refreshes run one at a time, in the order asked
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="zones")
        self.requests: asyncio.Queue[int] = asyncio.Queue()

    def request(self, number: int) -> None:
        """The master's ``Reload`` number ``number``: reply ``Reloaded`` when done."""
        self.requests.put_nowait(number)

    def set_intervals(self, intervals: list[int]) -> None:
        for backend, seconds in zip(self.zonedb.backends, intervals, strict=False):
            set_check_interval(backend, seconds)
        self.requests.put_nowait(0)         # wake the loop up: the next check moved

    async def start(self) -> None:
        started = time.monotonic()
        result = await self._refresh(retry_failed=True, full=True)
        log.warning("loaded %d zones (%d failed, %d without SOA, %d broken records "
                    "skipped) in %.2fs", len(self.zonedb.zones), len(result.failed),
                    len(result.absent), result.skipped, time.monotonic() - started)

    async def run(self) -> None:
        next_check = self._next_check()
        while True:
            timeout = None if next_check is None else max(0.0, next_check - time.monotonic())
            try:
                number = await asyncio.wait_for(self.requests.get(), timeout)
            except TimeoutError:
                number = -1
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

    async def _refresh(self, retry_failed: bool, full: bool = False) -> RefreshResult:
        """Refresh in the zones thread, and ship what changed (``full``: every zone)."""
        loop = asyncio.get_running_loop()

        def work() -> tuple[RefreshResult, int]:
            result = self.zonedb.refresh(retry_failed=retry_failed)
            fd = self._bundle(result, full) if full or result.changed else -1
            return result, fd

        result, fd = await loop.run_in_executor(self.executor, work)
        if fd >= 0:
            try:
                self.manager.send(messages.ZoneBundle(), (fd,))
            finally:
                os.close(fd)
        return result

    def _bundle(self, result: RefreshResult, full: bool) -> int:
        images = [(z.name, z.kind, z.generation, z.image) for z in result.images]
        result.images.clear()
        return write_bundle(images, removed=result.removed,
                            broken=self.zonedb.broken_names(), full=full)


"""The manager's HTTP service: the API and status page of fastdns.api on the manager's
event loop, on the listener the master bound (``webserver-address``:``webserver-port``).

It is also the API's way to the rest of the server (:class:`fastdns.api.hooks.ServerHooks`):
the statistics come from the shared counter rows every process writes; a zone the API
wrote is loaded at once on the zone service's demand thread and shipped to the workers (a
new image, so their caches of that zone are dropped with the old one); ``purge`` goes to the
master as a control command, ``notify`` and ``retrieve`` to the transfer service.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from typing import TYPE_CHECKING, Any

from fastdns import stats
from fastdns.log import log
from fastdns.server import messages

if TYPE_CHECKING:
    from aiohttp import web

    from fastdns.server.manager import Manager

#: seconds the master has to answer a control command
CONTROL_TIMEOUT = 10.0


class WebService:
    name = "web"

    def __init__(self, manager: Manager, sock: socket.socket, started: float,
                 worker_rows: range) -> None:
        self.manager = manager
        self.worker_rows = worker_rows
        self.config = manager.config
        self.sock = sock
        self.started = started
        self.runner: web.AppRunner | None = None
        self._numbers = itertools.count(1)
        self._pending: dict[int, asyncio.Future[str]] = {}
        self.store: Any = None

    # -- the service ---------------------------------------------------------------------

    async def start(self) -> None:
        from aiohttp import web

        from fastdns.api.app import make_app
        from fastdns.api.store import Store

        self.store = Store(self.config)
        app = make_app(self, self.store)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.SockSite(self.runner, self.sock).start()
        host, port = self.sock.getsockname()[:2]
        log.info("HTTP listener on %s:%d (api=%s)", host, port,
                 "yes" if self.config.api else "no")

    async def run(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            if self.runner is not None:
                await self.runner.cleanup()
            if self.store is not None:
                self.store.close()

    # -- ServerHooks -----------------------------------------------------------------------

    def _slots(self) -> list[int]:
        rows: Any = self.manager.birth.rows
        return [slot for slot in range(rows.nrows) if rows.get(slot, "pid")]

    def statistics(self) -> dict[str, int]:
        rows: Any = self.manager.birth.rows
        workers = [slot for slot in self._slots() if slot in self.worker_rows]
        stats.record_usage(rows, self.manager.birth.row)
        return stats.pdns_statistics(rows, self._slots(), self.uptime(), workers)

    def response_sizes(self) -> dict[int, int]:
        return stats.response_sizes(self.manager.birth.rows, self._slots())  # type: ignore[arg-type]

    def query_types(self) -> dict[int, int]:
        return stats.query_types(self.manager.birth.rows, self._slots())  # type: ignore[arg-type]

    def remotes(self) -> list[tuple[str, int]]:
        return stats.remotes(self.manager.birth.rows, self._slots())  # type: ignore[arg-type]

    def uptime(self) -> float:
        return time.time() - self.started

    def served(self) -> dict[str, tuple[str, int]]:
        return {name: (state.kind, state.serial)
                for name, state in list(self.manager.zones.zonedb.zones.items())}

    def written(self, zone: str, kind: str) -> None:
        self.manager.zones.load_now(zone, kind)

    def removed(self, zone: str) -> None:
        # on the demand thread: the zone index's lock may be held by a long refresh
        zones = self.manager.zones
        asyncio.get_running_loop().run_in_executor(zones._demand, zones.zonedb.drop, zone)

    def tsig_changed(self) -> None:
        if self.manager.xfr is not None:
            self.manager.xfr.reread_keys()

    async def control(self, words: list[str]) -> str:
        word = words[0].lower() if words else ""
        xfr = self.manager.xfr
        if word in ("notify", "notify-host", "retrieve") and xfr is not None:
            return await xfr.run_command(words)
        number = next(self._numbers)
        future = self._pending[number] = asyncio.get_running_loop().create_future()
        try:
            self.manager.send(messages.Control(number, words))
            return await asyncio.wait_for(future, CONTROL_TIMEOUT)
        except TimeoutError:
            return "Error: the master did not answer in time"
        finally:
            self._pending.pop(number, None)

    def command_done(self, message: messages.CommandDone, fds: list[int]) -> None:
        future = self._pending.get(message.request)
        if future is not None and not future.done():
            future.set_result(message.text)

"""The master's side of the conversation: what the control commands ask of the running
server (``fastdns.control.commands.ControlContext``), the table of messages the master takes
from its children, and the requests that wait for their replies.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastdns import __version__, stats
from fastdns.control.commands import SET_REFUSED, dispatch
from fastdns.log import log, set_level
from fastdns.server import kinds, messages, reconfig, sdnotify

if TYPE_CHECKING:
    from fastdns.config.loader import Config
    from fastdns.server.master import Child, Master

#: seconds a reply from every worker (purge, ping) may take
REPLY_TIMEOUT = 3.0


def runtime_name(config: Config) -> str:
    """``pdns`` or ``pdns-NAME``: the stem of the control socket and pid file, as PowerDNS
    names them, so that its own ``pdns_control`` finds us."""
    return f"pdns-{config.config_name}" if config.config_name else "pdns"


@dataclass(slots=True)
class _Request:
    future: asyncio.Future
    waiting: set[int]
    counts: list[int] = field(default_factory=list)


class MasterControl:
    def __init__(self, master: Master) -> None:
        self.master = master
        name = runtime_name(master.config)
        self.socket_path = os.path.join(master.config.socket_dir, f"{name}.controlsocket")
        self.pid_path = os.path.join(master.config.socket_dir, f"{name}.pid")
        self._next = 1
        self._requests: dict[int, _Request] = {}
        self._reloads: dict[int, asyncio.Future] = {}
        self._commands: dict[int, asyncio.Future] = {}
        #: the API's control commands under way
        self._controls: set[asyncio.Task] = set()
        #: whether the last index had every zone in (no zone pending)
        self._complete = False

    # -- files -----------------------------------------------------------------------------

    def write_pid(self) -> None:
        try:
            with open(self.pid_path, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as exc:
            log.warning("cannot write the pid file %s: %s", self.pid_path, exc.strerror)

    def remove_files(self) -> None:
        for path in (self.pid_path, self.socket_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    def serving(self) -> None:
        """Every child is up for the first time."""
        listening = ", ".join(str(x) for x in self.master.listeners[0])
        zones = self.master.book.zones
        log.warning("fastdns %s serving %d zones on %s with %d workers", __version__, zones,
                    listening, self.master.num_workers)
        sdnotify.notify("READY=1", f"STATUS=serving {zones} zones", f"MAINPID={os.getpid()}")

    # -- messages from children ------------------------------------------------------------

    def handlers(self, c: Child) -> dict[type, messages.Handler]:
        table: dict[type, messages.Handler] = {
            messages.Booted: lambda m, fds: self.master.booted(c),
            messages.Replied: lambda m, fds: self._replied(m, c.pid),
        }
        if c.kind is kinds.WORKER:
            table[messages.Applied] = lambda m, fds: self.master.book.applied(m.index, c.pid)
            table[messages.WantZone] = self._want_zone
            table[messages.Handoff] = self._handoff
        if c.kind is kinds.MANAGER:
            table[messages.ZoneBundle] = self._bundle
            table[messages.NewIndex] = self._index
            table[messages.Reloaded] = self._reloaded
            table[messages.CommandDone] = self._command_done
            table[messages.Control] = self._control
        return table

    def _bundle(self, message: messages.ZoneBundle, fds: list[int]) -> None:
        """The manager's bundle: book it, pass it to every worker."""
        if self.master.book.take_bundle(message.bundle, fds[0]):
            for c in self.master.of_kind(kinds.WORKER):
                self.master.send(c, message, (fds[0],))

    def _index(self, message: messages.NewIndex, fds: list[int]) -> None:
        """The manager's new zone index: book it, pass it to every worker."""
        book = self.master.book
        if not book.take_index(message, fds[0]):
            return
        sent = {c.pid for c in self.master.of_kind(kinds.WORKER)
                if self.master.send(c, message, (fds[0],))}
        book.sent(message.index, sent)
        if message.pending == 0 and not self._complete:
            self._complete = True
            log.warning("all %d zones loaded", message.zones)
            sdnotify.notify(f"STATUS=serving {message.zones} zones")
        elif message.pending:
            self._complete = False
            sdnotify.notify(f"STATUS=loading: {message.zones - message.pending} of "
                            f"{message.zones} zones in")

    def _want_zone(self, message: messages.WantZone, fds: list[int]) -> None:
        # dropped when the manager's channel is full (it is busy listing a million zones):
        # the worker asks again while its queries wait
        manager = self.master.child_of(kinds.MANAGER, 0)
        if manager is not None:
            self.master.send(manager, message, droppable=True)

    def _handoff(self, message: messages.Handoff, fds: list[int]) -> None:
        """A worker's transfer, NOTIFY or TSIG query: the manager's, with its socket
        (dropped when the manager is busy: the client asks again)."""
        manager = self.master.child_of(kinds.MANAGER, 0)
        try:
            if manager is not None and manager.booted:
                self.master.send(manager, message, (fds[0],), droppable=True)
        finally:
            os.close(fds[0])

    def _command_done(self, message: messages.CommandDone, fds: list[int]) -> None:
        future = self._commands.pop(message.request, None)
        if future is not None and not future.done():
            future.set_result(message.text)

    def _control(self, message: messages.Control, fds: list[int]) -> None:
        """The API's control command (``purge``): run it, reply with its text."""
        async def run() -> None:
            reply = await dispatch(self, message.words)
            manager = self.master.child_of(kinds.MANAGER, 0)
            if manager is not None:
                self.master.send(manager, messages.CommandDone(message.request, reply.text))
        task = asyncio.get_running_loop().create_task(run())
        self._controls.add(task)
        task.add_done_callback(self._controls.discard)

    async def manager_command(self, words: list[str]) -> str:
        """Run a control command in the manager (transfers, NOTIFY): its reply."""
        manager = self.master.child_of(kinds.MANAGER, 0)
        if manager is None or not manager.booted:
            return "Error: the zone manager is not running"
        number = self._number()
        future = self._commands[number] = asyncio.get_running_loop().create_future()
        try:
            if not self.master.send(manager, messages.Command(number, words)):
                return "Error: the zone manager is busy"
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            return "Error: the zone manager did not answer in time"
        finally:
            self._commands.pop(number, None)

    def _reloaded(self, message: messages.Reloaded, fds: list[int]) -> None:
        future = self._reloads.pop(message.request, None)
        self.master.book.reloaded(message, future)

    def _replied(self, message: messages.Replied, pid: int) -> None:
        request = self._requests.get(message.request)
        if request is None:
            return
        request.waiting.discard(pid)
        request.counts.append(message.count)
        if not request.waiting and not request.future.done():
            request.future.set_result(sum(request.counts))

    def child_gone(self, c: Child) -> None:
        """A child died: what waited for it waits no more."""
        for number, request in list(self._requests.items()):
            if c.pid in request.waiting:
                self._replied(messages.Replied(number), c.pid)
        if c.kind is kinds.WORKER:
            self.master.book.forget(c.pid)
        if c.kind is kinds.MANAGER:
            for future in self._reloads.values():
                if not future.done():
                    future.set_result(None)
            self._reloads.clear()

    # -- requests --------------------------------------------------------------------------

    def _number(self) -> int:
        self._next += 1
        return self._next

    async def ask(self, children: list[Child], message: messages.Message) -> int:
        """Send ``message`` (its ``request`` number taken from it) to ``children``; the sum
        of the counts they reply, once all have replied or REPLY_TIMEOUT has passed."""
        loop = asyncio.get_running_loop()
        number = message.request             # type: ignore[attr-defined]
        request = self._requests[number] = _Request(loop.create_future(), set())
        for c in children:
            if c.booted and self.master.send(c, message):
                request.waiting.add(c.pid)
        if not request.waiting:
            request.future.set_result(0)
        try:
            return await asyncio.wait_for(request.future, REPLY_TIMEOUT)
        except TimeoutError:
            return sum(request.counts)
        finally:
            self._requests.pop(number, None)

    def request_reload(self) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        manager = self.master.child_of(kinds.MANAGER, 0)
        number = self._number()
        self._reloads[number] = future
        if manager is None or not self.master.send(manager, messages.Reload(number)):
            self._reloads.pop(number, None)
            future.set_result(None)
        return future

    # -- reconfiguration -------------------------------------------------------------------

    def reconfigure(self) -> None:
        """HUP: read the configuration again, take what may change, reload the zones."""
        sdnotify.reloading()
        new = reconfig.reread(self.master.config)
        if new is not None:
            self.apply(new)
        future = self.request_reload()

        def done(_future: asyncio.Future) -> None:
            sdnotify.notify("READY=1", f"STATUS=serving {self.master.book.zones} zones")

        future.add_done_callback(done)

    def apply(self, new) -> None:
        """Run with configuration ``new`` from now on, as far as it can change while
        running; the rest is logged as needing a restart and keeps its old value."""
        master = self.master
        changes = reconfig.diff(master.config, new)
        if not changes.reloadable and not changes.restart:
            return
        master.config = reconfig.merge(master.config, new, changes.reloadable)
        for name in changes.restart:
            log.warning("setting '%s' changed in the configuration; it takes effect at the "
                        "next restart", name)
        for name in changes.reloadable:
            log.warning("setting '%s' is now '%s'", name, master.config.text(name))
        if "loglevel" in changes.reloadable:
            set_level(master.config.loglevel)
        fields = reconfig.worker_fields(master, changes.reloadable)
        for c in master.children.values():
            if c.kind is kinds.WORKER and fields:
                master.send(c, messages.Configure(fields))
            elif c.kind is kinds.MANAGER:
                master.send(c, messages.Configure(reconfig.manager_fields(
                    master.config, changes.reloadable)))

    # -- fastdns.control.commands.ControlContext -------------------------------------------

    async def command(self, words: list[str]):
        return await dispatch(self, words)

    def uptime(self) -> float:
        return time.time() - self.master.started

    def version(self) -> str:
        return __version__

    async def ping(self) -> None:
        manager = self.master.child_of(kinds.MANAGER, 0)
        await self.ask([manager] if manager else [], messages.Ping(self._number()))

    def loading(self) -> tuple[int, int] | None:
        index = self.master.book.index
        if index is None:
            return (0, 0)
        if index.complete:
            return None
        return (len(index) - index.pending, len(index))

    def slots(self) -> list[int]:
        """Every row that has been written to: workers (past and present), master, manager."""
        rows = self.master.rows
        return [slot for slot in range(rows.nrows) if rows.get(slot, "pid")]

    def statistics(self) -> dict[str, int]:
        master = self.master
        stats.record_usage(master.rows, master.master_row)
        out = stats.pdns_statistics(master.rows, self.slots(), self.uptime(),
                                    [c.row for c in master.of_kind(kinds.WORKER)])
        # each signer's load, asked by name (show signer-0-signatures): how evenly the
        # workers' requests spread, and what signing costs
        first = master.row_of[kinds.SIGNER.name]
        for slot in range(master.counts[kinds.SIGNER.name]):
            row = master.rows.counters(first + slot)
            out[f"signer-{slot}-signatures"] = row["signatures"]
            out[f"signer-{slot}-cpu-msec"] = row["user-msec"] + row["sys-msec"]
        return out

    def cache_counts(self) -> dict[str, int]:
        rows = self.master.rows
        return {"packetcache": sum(rows.get(c.row, "packetcache-size")
                                   for c in self.master.of_kind(kinds.WORKER)),
                "negcache": 0, "querycache": 0}

    async def purge(self, pattern: str | None) -> int:
        wire = None
        below = False
        if pattern is not None:
            below = pattern.endswith("$")
            try:
                wire = reconfig.name_wire(pattern[:-1] if below else pattern).hex()
            except ValueError:
                return 0
        # as PowerDNS's purge sends the next query to the backend, ours first has the
        # manager look for changes (cheap when there are none), so that a record edited in
        # the database is served right after the reply
        await self.request_reload()
        return await self.ask(self.master.of_kind(kinds.WORKER),
                              messages.Purge(self._number(), wire, below))

    async def reload(self) -> None:
        await self.request_reload()

    async def rediscover(self) -> str:
        result = await self.request_reload()
        if not result:
            return ""
        return (f"Done parsing domains, {result.failed} rejected, "
                f"{result.loaded} new, {result.removed} removed")

    def list_zones(self, kind: str | None) -> list[str]:
        return self.master.book.list_zones(kind)

    def current_config(self, diff: bool) -> str:
        return self.master.config.dump("diff" if diff else "full")

    def set_setting(self, name: str, value: str) -> str:
        config = self.master.config
        if name not in config or not config.setting(name).reloadable:
            raise ValueError(SET_REFUSED)
        try:
            new = config.with_value(name, value, "set")
        except ValueError as exc:
            raise ValueError(f"Bad value for '{name}': {exc}") from None
        self.apply(new)
        return "done"

    def response_sizes(self) -> dict[int, int]:
        return stats.response_sizes(self.master.rows, self.slots())

    def query_types(self) -> dict[int, int]:
        return stats.query_types(self.master.rows, self.slots())

    def remotes(self) -> list[tuple[str, int]]:
        return stats.remotes(self.master.rows, self.slots())

    def quit(self) -> None:
        asyncio.get_running_loop().call_later(0.05, self.master.stop, False)

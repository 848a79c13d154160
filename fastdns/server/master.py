"""The master: binds, forks, supervises (gunicorn's arbiter as the model, NSD's slots).

It binds every listening socket before forking, one SO_REUSEPORT UDP socket and TCP listener
per worker slot per address, so that children can drop privileges and a respawned worker
takes over its slot's sockets (and the queries queued in them). It runs the children of
every kind in ``fastdns.server.kinds``, replaces one that dies or stops ticking its heartbeat,
halts with the cause when one keeps failing while it starts, and turns signals and control
commands into messages:

- ``HUP``: the configuration file is read again (reloadable settings take effect) and the
  manager reloads the zones; changed zones reach every worker while the sockets stay open;
- ``TERM``/``INT``: graceful stop; ``QUIT``: stop at once;
- ``TTIN``/``TTOU``: one worker more / fewer; ``USR1``: every process re-opens its log.

The master itself does no DNS and no blocking I/O.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastdns import stats
from fastdns._sigcache import SigCache
from fastdns.control.protocol import ControlServer, ControlServerError, start_control_server
from fastdns.log import log
from fastdns.server import child, kinds, messages, sdnotify
from fastdns.server.context import MasterControl
from fastdns.server.kinds import Birth, ChildKind
from fastdns.server.messages import Channel
from fastdns.server.options import worker_options
from fastdns.server.signer import SignerLinks
from fastdns.server.sockets import SlotSockets, bind_web
from fastdns.server.zonebook import ZoneBook

if TYPE_CHECKING:
    from fastdns.config.loader import Config

#: seconds a graceful stop waits for children before SIGKILL
STOP_TIMEOUT = 4.0
#: shortest pause between respawns of the same slot; doubled for each failed start
RESPAWN_DELAY = 0.1
#: a child that dies this many times in a row before it is up halts the server
BOOT_ATTEMPTS = 3
#: seconds between a child's heartbeats: well under the shortest heartbeat-timeout (1 s),
#: whatever HUP or set makes it later
HEARTBEAT_TICK = 0.25
#: signatures the shared cache holds when max-signature-cache-entries is empty (170 octets
#: of shared memory each, touched only when written: docs/performance.md)
SIGNATURE_CACHE_DEFAULT = 1_000_000


@dataclass(slots=True)
class Child:
    kind: ChildKind
    slot: int
    row: int
    pid: int
    channel: Channel
    pidfd: int                      # readable when the child exits (no SIGCHLD under uvloop)
    booted: bool = False
    killed_for: str = ""            # why the master killed it, for the line that reports it

    @property
    def name(self) -> str:
        return self.kind.title(self.slot)


class Master:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.counts = {kind.name: kind.count(self) for kind in kinds.KINDS}
        self.options = worker_options(config, self.counts["worker"])
        self.rows = stats.allocate(kinds.ROWS)
        self.row_of = kinds.first_rows()
        self.master_row = kinds.ROWS - 1
        self.listeners = SlotSockets([(a.host, a.port or config.local_port)
                                      for a in config.local_address])
        self.children: dict[int, Child] = {}
        self.book = ZoneBook()
        #: the shared signature cache (every worker and signer maps it) and the links
        #: between workers and signers
        self.sigcache_fd = -1
        self.links = SignerLinks(self.counts["signer"])
        self.control = MasterControl(self)
        self.failed_boots: Counter[tuple[str, int]] = Counter()
        self._last_spawn: dict[tuple[str, int], float] = {}
        self._respawning: set[tuple[str, int]] = set()
        #: worker slots TTIN added: one whose worker cannot start is given up, not fatal
        self.added_slots: set[int] = set()
        self.started = time.time()
        self.stopping = False
        self.halt_reason = ""
        self.up: set[str] = set()           # the kinds whose every child has booted
        self.stopped: asyncio.Future | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: ControlServer | None = None
        #: the HTTP listener (webserver=yes or api=yes), the manager's
        self.web_socket: socket.socket | None = None

    @property
    def num_workers(self) -> int:
        return self.counts["worker"]

    # -- start and stop --------------------------------------------------------------------

    def run(self) -> int:
        import uvloop
        from setproctitle import setproctitle

        try:
            for slot in range(self.num_workers):
                self.listeners.bind(slot)
                self.links.ensure(slot)
            os.makedirs(self.config.socket_dir, exist_ok=True)
            self.sigcache_fd = SigCache.create(self.signature_cache_entries())
            if self.config.webserver or self.config.api:
                self.web_socket = bind_web(self.config.webserver_address,
                                           self.config.webserver_port)
        except OSError as exc:
            log.error("%s%s", f"{exc.filename}: " if exc.filename else "", exc.strerror or exc)
            return 1
        setproctitle("fastdns: master")
        return uvloop.run(self.main())

    async def main(self) -> int:
        loop = self.loop = asyncio.get_running_loop()
        self.stopped = loop.create_future()
        Signals(self).install(loop)
        control_path = self.control.socket_path
        try:
            self.server = await start_control_server(
                self.control.command, unix_path=control_path,
                tcp_address=self.config.tcp_control_address,
                tcp_port=self.config.tcp_control_port,
                tcp_secret=self.config.tcp_control_secret,
                tcp_range=self.config.tcp_control_range)
        except (OSError, ControlServerError) as exc:
            log.error("cannot open the control socket %s: %s", control_path, exc)
            return 1
        self.control.write_pid()
        self.converge()
        loop.call_later(self.tick_interval(), self.tick)
        graceful = await self.stopped
        await self.shutdown(graceful)
        if self.halt_reason:
            log.error("halted: %s", self.halt_reason)
            return 1
        return 0

    def stop(self, graceful: bool) -> None:
        if self.stopped is not None and not self.stopped.done():
            self.stopping = True
            sdnotify.notify("STOPPING=1")
            self.stopped.set_result(graceful)

    def halt(self, reason: str) -> None:
        if not self.halt_reason:
            self.halt_reason = reason
        self.stop(False)

    async def shutdown(self, graceful: bool) -> None:
        log.warning("stopping (%s)", "graceful" if graceful else "immediate")
        if self.server is not None:
            self.server.close()
        for c in list(self.children.values()):
            self.kill(c, signal.SIGTERM if graceful else signal.SIGQUIT)
        deadline = time.monotonic() + (STOP_TIMEOUT if graceful else 1.0)
        while self.children and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            self.reap()
        for c in list(self.children.values()):
            self.kill(c, signal.SIGKILL)
        while self.children and time.monotonic() < deadline + 2.0:
            await asyncio.sleep(0.02)
            self.reap()
        self.listeners.close()
        if self.web_socket is not None:
            self.web_socket.close()
        self.book.close()
        self.links.close()
        if self.sigcache_fd >= 0:
            os.close(self.sigcache_fd)
            self.sigcache_fd = -1
        self.control.remove_files()

    # -- children --------------------------------------------------------------------------

    def converge(self) -> None:
        """Start the children that should run and do not (in the table's order: a kind
        waits until the kind it comes ``after`` is up)."""
        if self.stopping:
            return
        for kind in kinds.KINDS:
            if kind.after and kind.after not in self.up:
                continue
            for slot in range(self.counts[kind.name]):
                if not self.child_of(kind, slot) and (kind.name, slot) not in self._respawning:
                    self.spawn(kind, slot)

    def child_of(self, kind: ChildKind, slot: int) -> Child | None:
        return next((c for c in self.children.values()
                     if c.kind is kind and c.slot == slot), None)

    def of_kind(self, kind: ChildKind) -> list[Child]:
        return [c for c in self.children.values() if c.kind is kind]

    def signature_cache_entries(self) -> int:
        """max-signature-cache-entries (empty: SIGNATURE_CACHE_DEFAULT), at least 1024."""
        entries = self.config.max_signature_cache_entries
        return max(1024, SIGNATURE_CACHE_DEFAULT if entries is None else entries)

    def spawn(self, kind: ChildKind, slot: int) -> None:
        if kind is kinds.WORKER and self.links.ensure(slot):
            # a worker slot TTIN added: the signers running take their end of its links
            for signer in self.of_kind(kinds.SIGNER):
                self.send(signer, messages.SignerLink(slot),
                          (self.links.pairs[slot][signer.slot][1].fileno(),))
        ours, theirs = messages.channel()
        birth = Birth(kind.name, slot, self.row_of[kind.name] + slot, Channel(theirs),
                      self.rows, os.getpid(), tick=HEARTBEAT_TICK)

        def run() -> int:
            ours.close()
            return kind.main(self, birth)

        pid = child.fork_child(run, kind.title(slot), self._not_for(kind, slot))
        theirs.close()
        c = Child(kind, slot, birth.row, pid, Channel(ours), os.pidfd_open(pid))
        self.children[pid] = c
        self._last_spawn[(kind.name, slot)] = time.monotonic()
        assert self.loop is not None
        c.channel.attach(self.loop, self.control.handlers(c), on_closed=lambda: None)
        self.loop.add_reader(c.pidfd, self.reap)
        log.info("%s started, pid %d", c.name, pid)

    def _not_for(self, kind: ChildKind, slot: int) -> list[int]:
        """The master's descriptors a new child of ``kind`` must close."""
        fds = []
        for other in self.children.values():
            fds += [other.channel.fileno(), other.pidfd]
        fds += self.listeners.fds(but=slot if kind.keeps_listeners else None)
        fds += self.links.not_for(kind.name, slot)
        if self.web_socket is not None and kind is not kinds.MANAGER:
            fds.append(self.web_socket.fileno())
        # the control sockets: closed, not close()d (that would remove the socket file)
        fds += self.server.fds() if self.server is not None else []
        return fds

    def booted(self, c: Child) -> None:
        c.booted = True
        self.failed_boots.pop((c.kind.name, c.slot), None)
        if c.kind.name in self.up:
            return
        if len([x for x in self.of_kind(c.kind) if x.booted]) >= self.counts[c.kind.name]:
            self.up.add(c.kind.name)
            self.converge()
            if all(k.name in self.up for k in kinds.KINDS):
                self.control.serving()

    def kill(self, c: Child, signum: int) -> None:
        try:
            os.kill(c.pid, signum)
        except ProcessLookupError:
            pass

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            c = self.children.pop(pid, None)
            if c is not None:
                self._gone(c, status)

    def _gone(self, c: Child, status: int) -> None:
        assert self.loop is not None
        self.loop.remove_reader(c.pidfd)
        c.channel.detach(self.loop)
        os.close(c.pidfd)
        c.channel.close()
        self.control.child_gone(c)
        cause = exit_cause(status, self.stopping, c.killed_for)
        if self.stopping:
            log.info("%s (pid %d) %s", c.name, c.pid, cause)
            return
        if c.kind.keeps_listeners and c.slot >= self.counts[c.kind.name]:
            log.info("%s (pid %d) %s (one %s fewer)", c.name, c.pid, cause, c.kind.name)
            self.listeners.release(c.slot)
            return
        boot_error = os.WIFEXITED(status) and os.WEXITSTATUS(status) == child.BOOT_ERROR
        if not c.booted and c.slot in self.added_slots:
            # a worker added by TTIN that cannot start: the server goes on without it
            self.counts[c.kind.name] -= 1
            log.error("%s (pid %d) %s; going on with %d", c.name, c.pid, cause,
                      self.counts[c.kind.name])
            self.added_slots.discard(c.slot)
            self.listeners.release(c.slot)
            return
        if boot_error:
            self.halt(f"{c.name} {cause}")
            return
        if not c.booted:
            failures = self.failed_boots[(c.kind.name, c.slot)] = \
                self.failed_boots[(c.kind.name, c.slot)] + 1
            if failures >= BOOT_ATTEMPTS or not c.kind.respawn:
                self.halt(f"{c.name} (pid {c.pid}) {cause} while starting, {failures} times")
                return
            log.error("%s (pid %d) %s while starting; trying again", c.name, c.pid, cause)
        else:
            log.error("%s (pid %d) %s; starting a new one", c.name, c.pid, cause)
        self.respawn(c.kind, c.slot)

    def respawn(self, kind: ChildKind, slot: int) -> None:
        delay = RESPAWN_DELAY * 2 ** self.failed_boots[(kind.name, slot)]
        wait = self._last_spawn.get((kind.name, slot), 0) + delay - time.monotonic()
        self._respawning.add((kind.name, slot))

        def now() -> None:
            self._respawning.discard((kind.name, slot))
            if slot >= self.counts[kind.name] and kind.keeps_listeners:
                self.listeners.release(slot)
            elif not self.stopping and not self.child_of(kind, slot):
                self.spawn(kind, slot)

        assert self.loop is not None
        self.loop.call_later(max(0.0, wait), now)

    def send(self, c: Child, message: messages.Message, fds: tuple[int, ...] = (),
             droppable: bool = False) -> bool:
        """Send ``message`` to ``c``; a child whose channel is full is killed (it does not
        read it), unless the message is ``droppable`` (its sender asks again)."""
        try:
            c.channel.send(message, fds)
            return True
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ENOBUFS) and not droppable:
                log.error("%s (pid %d) does not read its channel; killing it", c.name, c.pid)
                c.killed_for = "it did not read its channel"
                self.kill(c, signal.SIGKILL)
            return False

    # -- heartbeats ------------------------------------------------------------------------

    def tick_interval(self) -> float:
        return min(1.0, max(0.1, float(self.config.heartbeat_timeout) / 4))

    def tick(self) -> None:
        """Heartbeats, and the master's own usage."""
        if self.stopping:
            return
        stats.record_usage(self.rows, self.master_row)
        for c in list(self.children.values()):
            limit = c.kind.heartbeat(self)
            if not c.booted or c.killed_for or not limit \
                    or self.rows.get(c.row, "pid") != c.pid:
                continue
            age = child.heartbeat_age(self.rows, c.row)
            if age > limit:
                # SIGKILL, not SIGABRT: a stopped process takes no other signal
                c.killed_for = f"no heartbeat for {age:.1f} s"
                log.error("%s (pid %d) has not ticked its heartbeat for %.1f s (limit %g s); "
                          "killing it", c.name, c.pid, age, limit)
                self.kill(c, signal.SIGKILL)
        assert self.loop is not None
        self.loop.call_later(self.tick_interval(), self.tick)

class Signals:
    """What the master does on each signal (handlers run on its event loop)."""

    def __init__(self, master: Master) -> None:
        self.master = master

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum, handler in ((signal.SIGHUP, self.on_hup), (signal.SIGTERM, self.on_term),
                                (signal.SIGINT, self.on_term), (signal.SIGQUIT, self.on_quit),
                                (signal.SIGTTIN, self.on_ttin), (signal.SIGTTOU, self.on_ttou),
                                (signal.SIGUSR1, self.on_usr1)):
            loop.add_signal_handler(signum, handler)

    def on_hup(self) -> None:
        log.info("SIGHUP: reading the configuration again and reloading zones")
        self.master.control.reconfigure()

    def on_term(self) -> None:
        self.master.stop(True)

    def on_quit(self) -> None:
        self.master.stop(False)

    def on_ttin(self) -> None:
        m = self.master
        slot = m.num_workers
        if slot >= kinds.WORKER.rows:
            log.error("SIGTTIN: no room for worker %d", slot)
            return
        try:
            m.listeners.bind(slot)
        except OSError as exc:
            log.error("SIGTTIN: cannot bind the sockets of worker %d: %s", slot,
                      exc.strerror or exc)
            return
        m.counts["worker"] += 1
        m.added_slots.add(slot)
        log.warning("SIGTTIN: %d workers", m.num_workers)
        m.spawn(kinds.WORKER, slot)

    def on_ttou(self) -> None:
        m = self.master
        if m.num_workers <= 1:
            return
        m.counts["worker"] -= 1
        m.added_slots.discard(m.num_workers)
        log.warning("SIGTTOU: %d workers", m.num_workers)
        for c in m.of_kind(kinds.WORKER):
            if c.slot >= m.num_workers:
                # the worker alone holds the slot's sockets now: they leave the SO_REUSEPORT
                # group when it closes them, not when the master notices that it exited
                m.listeners.release(c.slot)
                m.kill(c, signal.SIGTERM)

    def on_usr1(self) -> None:
        from fastdns.log import reopen

        reopen()
        for c in list(self.master.children.values()):
            self.master.kill(c, signal.SIGUSR1)


def exit_cause(status: int, stopping: bool, killed_for: str = "") -> str:
    """How a child ended, in words: the master's own reason when it killed it."""
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if killed_for:
            return f"was killed by the master ({killed_for})"
        cause = f"killed by {signal.Signals(signum).name}"
        if signum == signal.SIGKILL and not stopping:
            cause += " (perhaps out of memory?)"
        return cause
    code = os.WEXITSTATUS(status)
    if code == child.BOOT_ERROR:
        return "could not start (see above)"
    return f"exited with status {code}"


def serve(config: Config) -> int:
    """Run the server of ``config`` until it is told to stop; the exit status."""
    try:
        master = Master(config)
    except ValueError as exc:       # a setting only the server reads (resolver=)
        log.error("%s", exc)
        return 1
    return master.run()

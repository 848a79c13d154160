"""The master: binds, forks, supervises (gunicorn's arbiter as the model, NSD's slots).

It binds every listening socket before forking, one SO_REUSEPORT UDP socket and TCP listener
per worker slot per address, so that workers can drop privileges and a respawned worker
takes over its slot's sockets (and the queries queued in them). It forks the manager (zone
loading) and then ``workers`` workers, restarts a child that dies, and turns signals and
control commands into messages to its children:

- ``HUP``: the manager reloads; changed zones reach every worker as a bundle, while the
  sockets stay open (no query is lost);
- ``TERM``/``INT``: graceful stop (workers answer what they hold and close TCP cleanly);
  ``QUIT``: stop at once;
- ``TTIN``/``TTOU``: one worker more / fewer; ``USR1``: every process re-opens its log.

A worker or manager that fails while starting halts the server with its cause rather than
being respawned in a loop. The master itself does no DNS and no blocking I/O.
"""

import asyncio
import errno
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field

from fastdns import __version__, ipc, stats
from fastdns.control.commands import SET_REFUSED, dispatch
from fastdns.control.protocol import ControlServer, ControlServerError, start_control_server
from fastdns.log import log
from fastdns.server import manager, worker
from fastdns.server.sockets import Listener, bind_listeners
from fastdns.server.worker import BOOT_ERROR, TcpLimits, WorkerOptions, ZoneSet
from fastdns.zone.bundle import BundledZone, read_bundle

#: seconds a graceful stop waits for children before SIGKILL
STOP_TIMEOUT = worker.GRACEFUL_TIMEOUT + 3.0
#: seconds without a heartbeat before a worker is taken for hung (SIGABRT, then SIGKILL)
HEARTBEAT_TIMEOUT = 30.0
#: seconds a reply from every worker (purge) may take
REPLY_TIMEOUT = 3.0
#: shortest pause between respawns of the same slot
RESPAWN_DELAY = 0.1
#: the signals the master acts on
MASTER_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT,
                  signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1)


@dataclass(slots=True)
class Child:
    kind: str                       # "worker" or "manager"
    slot: int
    pid: int
    channel: socket.socket
    started: float
    pidfd: int = -1                 # readable when the child exits (no SIGCHLD under uvloop)
    booted: bool = False
    aborted: bool = False


@dataclass(slots=True)
class Bundle:
    fd: int
    zones: set[str] = field(default_factory=set)


def version_text(setting: str) -> str | None:
    """The version.bind answer for ``version-string`` (None: SERVFAIL, as 'anonymous')."""
    if setting == "anonymous":
        return None
    if setting in ("full", ""):
        return f"fastdns {__version__}"
    if setting == "powerdns":
        return "Served by fastdns"
    return setting


def worker_options(config, workers: int = 1) -> WorkerOptions:
    """The settings a worker acts on. ``max-packet-cache-entries`` bounds the caches of all
    ``workers`` together, as it bounds PowerDNS's one cache: each worker gets its share."""
    server_id = None if config.server_id == "disabled" else config.server_id
    limits = TcpLimits(max_connections=config.max_tcp_connections,
                       idle_timeout=float(config.tcp_idle_timeout),
                       max_duration=float(config.max_tcp_connection_duration),
                       max_transactions=config.max_tcp_transactions_per_conn,
                       max_per_client=config.max_tcp_connections_per_client)
    return WorkerOptions(
        udp_truncation_threshold=config.udp_truncation_threshold,
        version=version_text(config.version_string), server_id=server_id,
        dname_processing=config.dname_processing, any_to_tcp=config.any_to_tcp,
        cache_ttl=config.cache_ttl, negquery_cache_ttl=config.negquery_cache_ttl,
        max_packet_cache_entries=-(-config.max_packet_cache_entries // max(1, workers)),
        tcp=limits,
        user=config.setuid, group=config.setgid)


def runtime_name(config) -> str:
    """``pdns`` or ``pdns-NAME``: the stem of the control socket and pid file, as PowerDNS
    names them, so that its own ``pdns_control`` finds us."""
    return f"pdns-{config.config_name}" if config.config_name else "pdns"


class Master:
    def __init__(self, config) -> None:
        self.config = config
        self.num_workers = config.workers or os.cpu_count() or 1
        self.options = worker_options(config, self.num_workers)
        self.rows = stats.allocate(max(64, self.num_workers + 2))
        self.manager_slot = self.rows.nrows - 1
        self.master_slot = self.rows.nrows - 2
        self.addresses = [(a.host, a.port or config.local_port) for a in config.local_address]
        self.listeners: dict[int, list[Listener]] = {}
        self.children: dict[int, Child] = {}
        self.zones: dict[str, tuple[int, BundledZone]] = {}
        self.broken: dict[str, bytes] = {}
        self.bundles: dict[int, Bundle] = {}
        self._next_bundle = 1
        self._next_request = 1
        self._replies: dict[int, tuple[asyncio.Future, set[int], list[int]]] = {}
        self._reloads: dict[int, asyncio.Future] = {}
        #: bundle -> workers (pids) that have not said they serve it yet
        self._applying: dict[int, set[int]] = {}
        #: reloads the manager finished, waiting for the workers: (last bundle, reply, future)
        self._reload_waiters: list[tuple[int, dict, asyncio.Future | None]] = []
        self._last_spawn: dict[tuple[str, int], float] = {}
        #: worker slots TTIN added: one whose worker cannot start is given up, not fatal
        self.added_slots: set[int] = set()
        self.started = time.time()
        self.stopping = False
        self.halt_reason = ""
        name = runtime_name(config)
        self.control_path = os.path.join(config.socket_dir, f"{name}.controlsocket")
        self.pid_path = os.path.join(config.socket_dir, f"{name}.pid")
        self.ready: asyncio.Future | None = None
        self.stopped: asyncio.Future | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.control: ControlServer | None = None

    # -- start and stop --------------------------------------------------------------------

    def run(self) -> int:
        import uvloop
        from setproctitle import setproctitle

        try:
            self.bind(0)
            if self.addresses and not self.addresses[0][1]:
                # a port of 0: the kernel chose one for slot 0, the other slots share it
                self.addresses = [(x.address, x.port) for x in self.listeners[0]
                                  if x.kind == "udp"]
            for slot in range(1, self.num_workers):
                self.bind(slot)
        except OSError as exc:
            log.error("%s", exc.strerror or exc)
            return 1
        try:
            os.makedirs(self.config.socket_dir, exist_ok=True)
        except OSError as exc:
            log.error("cannot create socket-dir %s: %s", self.config.socket_dir, exc.strerror)
            return 1
        setproctitle("fastdns: master")
        return uvloop.run(self.main())

    def bind(self, slot: int) -> None:
        self.listeners[slot] = bind_listeners(self.addresses, check_free=slot == 0)

    async def main(self) -> int:
        loop = self.loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.stopped = loop.create_future()
        for signum, handler in ((signal.SIGHUP, self.on_hup), (signal.SIGTERM, self.on_term),
                                (signal.SIGINT, self.on_term), (signal.SIGQUIT, self.on_quit),
                                (signal.SIGTTIN, self.on_ttin), (signal.SIGTTOU, self.on_ttou),
                                (signal.SIGUSR1, self.on_usr1)):
            loop.add_signal_handler(signum, handler)
        try:
            self.control = await start_control_server(
                self.control_command, unix_path=self.control_path,
                tcp_address=self.config.tcp_control_address,
                tcp_port=self.config.tcp_control_port,
                tcp_secret=self.config.tcp_control_secret,
                tcp_range=self.config.tcp_control_range)
        except (OSError, ControlServerError) as exc:
            log.error("cannot open the control socket %s: %s", self.control_path, exc)
            return 1
        self.write_pid()
        self.spawn("manager", self.manager_slot)
        ready_task = asyncio.ensure_future(self.ready)
        await asyncio.wait([ready_task, self.stopped], return_when=asyncio.FIRST_COMPLETED)
        if ready_task.done() and not self.stopped.done():
            for slot in range(self.num_workers):
                self.spawn("worker", slot)
            loop.call_later(1.0, self.tick)
            listening = ", ".join(str(x) for x in self.listeners[0])
            log.warning("fastdns %s serving %d zones on %s with %d workers", __version__,
                        len(self.zones), listening, self.num_workers)
        graceful = await self.stopped
        await self.shutdown(graceful)
        if self.halt_reason:
            log.error("halted: %s", self.halt_reason)
            return 1
        return 0

    def stop(self, graceful: bool) -> None:
        if self.stopped is not None and not self.stopped.done():
            self.stopping = True
            self.stopped.set_result(graceful)

    def halt(self, reason: str) -> None:
        if not self.halt_reason:
            self.halt_reason = reason
        self.stop(False)

    async def shutdown(self, graceful: bool) -> None:
        log.warning("stopping (%s)", "graceful" if graceful else "immediate")
        if self.control is not None:
            self.control.close()
        for child in list(self.children.values()):
            self.kill(child, signal.SIGTERM if graceful else signal.SIGQUIT)
        deadline = time.monotonic() + (STOP_TIMEOUT if graceful else 1.0)
        while self.children and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            self.reap()
        for child in list(self.children.values()):
            self.kill(child, signal.SIGKILL)
        while self.children and time.monotonic() < deadline + 2.0:
            await asyncio.sleep(0.02)
            self.reap()
        for listeners in self.listeners.values():
            for listener in listeners:
                listener.sock.close()
        for bundle in self.bundles.values():
            os.close(bundle.fd)
        self.bundles.clear()
        for path in (self.pid_path, self.control_path):
            try:
                os.unlink(path)
            except OSError:
                pass

    def write_pid(self) -> None:
        try:
            with open(self.pid_path, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as exc:
            log.warning("cannot write the pid file %s: %s", self.pid_path, exc.strerror)

    # -- children --------------------------------------------------------------------------

    def spawn(self, kind: str, slot: int) -> None:
        ours, theirs = ipc.channel()
        master_pid = os.getpid()
        # signals wait while the child is born: one sent to it early (TTOU right after TTIN)
        # must find its own handling, not the master's copied into it, where it is lost
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                self._child_hygiene(slot if kind == "worker" else -1)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                if kind == "worker":
                    code = worker.main(slot, self.listeners[slot], theirs, self.rows,
                                       self.options, self._zone_set(), master_pid)
                else:
                    code = manager.main(theirs, self.rows, slot, self.config, master_pid)
            except BaseException as exc:
                try:
                    log.exception("%s %d: %s", kind, slot, exc)
                except BaseException:
                    pass
            finally:
                try:
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        theirs.close()
        ours.setblocking(False)
        child = Child(kind, slot, pid, ours, time.monotonic(), os.pidfd_open(pid))
        self.children[pid] = child
        self._last_spawn[(kind, slot)] = time.monotonic()
        assert self.loop is not None
        self.loop.add_reader(ours.fileno(), self.on_message, child)
        self.loop.add_reader(child.pidfd, self.reap)
        log.info("%s started, pid %d", f"worker {slot}" if kind == "worker" else kind, pid)

    def _child_hygiene(self, own_slot: int) -> None:
        """In a new child: forget the master's event loop, signals and descriptors."""
        asyncio.events._set_running_loop(None)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        # these would kill (HUP, USR1) or suspend (TTIN, TTOU) a child that has not set its
        # own handlers yet, or never does
        for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTTIN, signal.SIGTTOU):
            signal.signal(signum, signal.SIG_IGN)
        for other in self.children.values():
            other.channel.close()
            os.close(other.pidfd)
        for slot, listeners in self.listeners.items():
            if slot != own_slot:
                for listener in listeners:
                    listener.sock.close()
        # the control sockets: closed, not close()d (that would remove the master's socket file)
        for server in getattr(self.control, "_servers", ()):
            for sock in server.sockets:
                try:
                    os.close(sock.fileno())
                except OSError:
                    pass

    def _zone_set(self) -> ZoneSet:
        """In a new worker: the zones the master knows of, mapped from their bundles."""
        zones = ZoneSet()
        mappings = {}
        for bundle_id, zone in self.zones.values():
            if bundle_id not in mappings:
                mappings[bundle_id] = read_bundle(self.bundles[bundle_id].fd)[0]
            zones.take(mappings[bundle_id], zone)
        zones.broken = {name: wire for name, wire in self.broken.items()
                        if name not in zones.snapshots}
        for bundle in self.bundles.values():
            os.close(bundle.fd)
        return zones

    def kill(self, child: Child, signum: int) -> None:
        try:
            os.kill(child.pid, signum)
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
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if self.loop is not None:
                self.loop.remove_reader(child.channel.fileno())
                self.loop.remove_reader(child.pidfd)
            child.channel.close()
            os.close(child.pidfd)
            for bundle_id in list(self._applying):
                self._applied(bundle_id, pid)
            self.child_exited(child, status)

    def child_exited(self, child: Child, status: int) -> None:
        name = f"{child.kind} {child.slot}" if child.kind == "worker" else child.kind
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            cause = f"killed by {signal.Signals(signum).name}"
            if signum == signal.SIGKILL and not self.stopping:
                cause += " (perhaps out of memory?)"
        else:
            code = os.WEXITSTATUS(status)
            cause = f"exited with status {code}"
            if code == BOOT_ERROR:
                cause = "could not start (see above)"
        if not self.stopping and not child.booted and child.slot in self.added_slots \
                and child.slot == self.num_workers - 1:
            # a worker added by TTIN that cannot start: the server goes on without it
            log.error("%s (pid %d) %s; going on with %d workers", name, child.pid, cause,
                      self.num_workers - 1)
            self.num_workers -= 1
            self.added_slots.discard(child.slot)
            self.release(child.slot)
            return
        if not os.WIFSIGNALED(status) and os.WEXITSTATUS(status) == BOOT_ERROR:
            self.halt(f"{name} {cause}")
            return
        if self.stopping:
            log.info("%s (pid %d) %s", name, child.pid, cause)
            return
        if child.kind == "worker" and child.slot >= self.num_workers:
            # TTOU (perhaps before it had started)
            log.info("%s (pid %d) %s (one worker fewer)", name, child.pid, cause)
            self.release(child.slot)
            return
        if not child.booted:
            self.halt(f"{name} (pid {child.pid}) {cause} while starting")
            return
        log.error("%s (pid %d) %s; starting a new one", name, child.pid, cause)
        self.respawn(child.kind, child.slot)

    def respawn(self, kind: str, slot: int) -> None:
        wait = self._last_spawn.get((kind, slot), 0) + RESPAWN_DELAY - time.monotonic()
        if wait > 0:
            assert self.loop is not None
            self.loop.call_later(wait, self._respawn_now, kind, slot)
        else:
            self._respawn_now(kind, slot)

    def _respawn_now(self, kind: str, slot: int) -> None:
        if self.stopping or any(c.kind == kind and c.slot == slot
                                for c in self.children.values()):
            return
        if kind == "worker" and slot >= self.num_workers:
            self.release(slot)
            return
        self.spawn(kind, slot)

    def release(self, slot: int) -> None:
        """Close the sockets of a slot no worker will have again."""
        for listener in self.listeners.pop(slot, []):
            listener.sock.close()

    def workers(self) -> list[Child]:
        return [c for c in self.children.values() if c.kind == "worker"]

    def manager(self) -> Child | None:
        return next((c for c in self.children.values() if c.kind == "manager"), None)

    def tick(self) -> None:
        """Once a second: heartbeats, the master's own usage."""
        if self.stopping:
            return
        stats.record_usage(self.rows, self.master_slot)
        now = time.monotonic()
        for child in self.workers():
            beat = self.rows.get(child.slot, "heartbeat")
            if child.booted and beat and now - beat > HEARTBEAT_TIMEOUT and \
                    self.rows.get(child.slot, "pid") == child.pid:
                if child.aborted:
                    self.kill(child, signal.SIGKILL)
                else:
                    log.error("worker %d (pid %d) is not answering; aborting it",
                              child.slot, child.pid)
                    child.aborted = True
                    self.kill(child, signal.SIGABRT)
        assert self.loop is not None
        self.loop.call_later(1.0, self.tick)

    # -- messages from children ------------------------------------------------------------

    def on_message(self, child: Child) -> None:
        try:
            received = ipc.recv(child.channel)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            received = None
        if received is None:
            assert self.loop is not None
            self.loop.remove_reader(child.channel.fileno())
            return
        message, fds = received
        op = message.get("op")
        if op == "booted":
            child.booted = True
        elif op == "ready" and child.kind == "manager":
            child.booted = True
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(True)
        elif op == "zones" and fds and child.kind == "manager":
            self.new_bundle(fds[0])
            fds = fds[1:]
        elif op == "purged":
            self._reply(message.get("id"), child.pid, int(message.get("count", 0)))
        elif op == "applied":
            self._applied(int(message.get("bundle") or 0), child.pid)
        elif op == "reloaded":
            future = self._reloads.pop(int(message.get("id") or 0), None)
            self._reload_waiters.append((self._next_bundle - 1, message, future))
            self._check_reloads()
        for fd in fds:
            os.close(fd)

    def new_bundle(self, fd: int) -> None:
        """Take the bundle the manager sent: remember its zones, pass it to every worker."""
        try:
            mapping, manifest = read_bundle(fd)
            mapping.close()
        except (OSError, ValueError) as exc:
            log.error("manager sent an unreadable zone bundle: %s", exc)
            os.close(fd)
            return
        bundle_id = self._next_bundle
        self._next_bundle += 1
        bundle = Bundle(fd)
        self.bundles[bundle_id] = bundle
        if manifest.full:
            for name in list(self.zones):
                if name not in {z.name for z in manifest.zones}:
                    self._drop_zone(name)
        for name in manifest.removed:
            self._drop_zone(name)
        for zone in manifest.zones:
            self._drop_zone(zone.name)
            self.zones[zone.name] = (bundle_id, zone)
            bundle.zones.add(zone.name)
        self.broken = {name: wire for name, wire in manifest.broken if name not in self.zones}
        waiting = set()
        for child in self.workers():
            if self.send(child, {"op": "zones", "bundle": bundle_id}, (fd,)):
                waiting.add(child.pid)
        if waiting:
            self._applying[bundle_id] = waiting
        if not bundle.zones:
            del self.bundles[bundle_id]
            os.close(fd)

    def _applied(self, bundle_id: int, pid: int) -> None:
        waiting = self._applying.get(bundle_id)
        if waiting is not None:
            waiting.discard(pid)
            if not waiting:
                del self._applying[bundle_id]
        self._check_reloads()

    def _check_reloads(self) -> None:
        """Finish the reloads whose bundles every worker now serves: log, reply."""
        pending = [r for r in self._reload_waiters
                   if any(b <= r[0] for b in self._applying)]
        for last, message, future in self._reload_waiters:
            if (last, message, future) in pending:
                continue
            log.info("reload: %d zones loaded, %d removed, %d failed, %d without SOA; "
                     "serving %d zones", message.get("loaded", 0), message.get("removed", 0),
                     message.get("failed", 0), message.get("absent", 0),
                     message.get("zones", 0))
            if future is not None and not future.done():
                future.set_result(message)
        self._reload_waiters = pending

    def _drop_zone(self, name: str) -> None:
        entry = self.zones.pop(name, None)
        if entry is None:
            return
        bundle = self.bundles.get(entry[0])
        if bundle is not None:
            bundle.zones.discard(name)
            if not bundle.zones:
                os.close(bundle.fd)
                del self.bundles[entry[0]]

    def send(self, child: Child, message: dict, fds: tuple[int, ...] = ()) -> bool:
        try:
            ipc.send(child.channel, message, fds)
            return True
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ENOBUFS):
                log.error("%s %d does not read its channel; killing it", child.kind, child.slot)
                self.kill(child, signal.SIGKILL)
            return False

    def _reply(self, request: int | None, pid: int, count: int) -> None:
        entry = self._replies.get(request) if request is not None else None
        if entry is None:
            return
        future, waiting, counts = entry
        waiting.discard(pid)
        counts.append(count)
        if not waiting and not future.done():
            future.set_result(sum(counts))

    # -- signals ---------------------------------------------------------------------------

    def on_hup(self) -> None:
        log.info("SIGHUP: reloading zones")
        self.request_reload()

    def on_term(self) -> None:
        self.stop(True)

    def on_quit(self) -> None:
        self.stop(False)

    def on_ttin(self) -> None:
        slot = self.num_workers
        if slot >= self.master_slot:
            log.error("SIGTTIN: no room for worker %d", slot)
            return
        if slot not in self.listeners:
            try:
                self.bind(slot)
            except OSError as exc:
                log.error("SIGTTIN: cannot bind the sockets of worker %d: %s", slot,
                          exc.strerror or exc)
                return
        self.num_workers += 1
        self.added_slots.add(slot)
        log.warning("SIGTTIN: %d workers", self.num_workers)
        self.spawn("worker", slot)

    def on_ttou(self) -> None:
        if self.num_workers <= 1:
            return
        self.num_workers -= 1
        self.added_slots.discard(self.num_workers)
        log.warning("SIGTTOU: %d workers", self.num_workers)
        for child in self.workers():
            if child.slot >= self.num_workers:
                # the worker alone holds the slot's sockets now: they leave the SO_REUSEPORT
                # group when it closes them, not when the master notices that it exited
                self.release(child.slot)
                self.kill(child, signal.SIGTERM)

    def on_usr1(self) -> None:
        from fastdns.log import reopen

        reopen()
        for child in list(self.children.values()):
            self.kill(child, signal.SIGUSR1)

    # -- what the control commands need (fastdns.control.commands.ControlContext) ---------

    def request_reload(self) -> asyncio.Future:
        assert self.loop is not None
        future = self.loop.create_future()
        manager_child = self.manager()
        if manager_child is None:
            future.set_result(None)
            return future
        request = self._next_request
        self._next_request += 1
        self._reloads[request] = future
        if not self.send(manager_child, {"op": "reload", "id": request}):
            self._reloads.pop(request, None)
            future.set_result(None)
        return future

    async def control_command(self, words: list[str]):
        return await dispatch(self, words)

    def uptime(self) -> float:
        return time.time() - self.started

    def version(self) -> str:
        return __version__

    def slots(self) -> list[int]:
        """Every row that has been written to: workers (past and present), master, manager."""
        return [slot for slot in range(self.rows.nrows) if self.rows.get(slot, "pid")]

    def statistics(self) -> dict[str, int]:
        stats.record_usage(self.rows, self.master_slot)
        return stats.pdns_statistics(self.rows, self.slots(), self.uptime(),
                                     [c.slot for c in self.workers()])

    def cache_counts(self) -> dict[str, int]:
        return {"packetcache": sum(self.rows.get(c.slot, "packetcache-size")
                                   for c in self.workers()),
                "negcache": 0, "querycache": 0}

    async def purge(self, pattern: str | None) -> int:
        import dns.exception
        import dns.name

        message: dict = {"op": "purge"}
        if pattern is not None:
            below = pattern.endswith("$")
            text = pattern[:-1] if below else pattern
            try:
                message["wire"] = (dns.name.from_text(text).to_wire() or b"").hex()
            except dns.exception.DNSException:
                return 0
            message["below"] = below
        # as PowerDNS's purge sends the next query to the backend, ours first has the
        # manager look for changes (cheap when there are none), so that a record edited in
        # the database is served right after the reply
        await self.request_reload()
        return await self.ask_workers(message)

    async def ask_workers(self, message: dict) -> int:
        """Send ``message`` to every worker; the sum of their ``count`` replies."""
        assert self.loop is not None
        request = self._next_request
        self._next_request += 1
        message["id"] = request
        future = self.loop.create_future()
        waiting = {c.pid for c in self.workers() if c.booted}
        self._replies[request] = (future, waiting, [])
        for child in self.workers():
            if child.pid in waiting and not self.send(child, message):
                waiting.discard(child.pid)
        if not waiting:
            future.set_result(0)
        try:
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            return sum(self._replies[request][2])
        finally:
            self._replies.pop(request, None)

    async def reload(self) -> None:
        await asyncio.wait_for(self.request_reload(), None)

    async def rediscover(self) -> str:
        result = await self.request_reload()
        if not result:
            return ""
        return (f"Done parsing domains, {result.get('failed', 0)} rejected, "
                f"{result.get('loaded', 0)} new, {result.get('removed', 0)} removed")

    def list_zones(self, kind: str | None) -> list[str]:
        return [name for name, (_, zone) in self.zones.items()
                if kind is None or zone.kind == kind]

    def current_config(self, diff: bool) -> str:
        return self.config.dump("diff" if diff else "full")

    def set_setting(self, name: str, value: str) -> str:
        raise ValueError(SET_REFUSED)

    def response_sizes(self) -> dict[int, int]:
        return stats.response_sizes(self.rows, self.slots())

    def query_types(self) -> dict[int, int]:
        return stats.query_types(self.rows, self.slots())

    def remotes(self) -> list[tuple[str, int]]:
        return stats.remotes(self.rows, self.slots())

    def quit(self) -> None:
        assert self.loop is not None
        self.loop.call_later(0.05, self.stop, False)


def serve(config) -> int:
    """Run the server of ``config`` until it is told to stop; the exit status."""
    return Master(config).run()

"""What every child process does when it starts and while it lives, whatever its kind.

The master forks a child with :func:`fork_child`. In the child, :func:`after_fork` forgets
the master's event loop, signal handlers and every descriptor that is not the child's own;
:func:`start` then names the process, asks the kernel to stop it with its parent, and drops
privileges. A child proves it lives by ticking its heartbeat slot (its row of the shared
counters) from its event loop with :class:`Heartbeat`; the master replaces one that stops.
"""

from __future__ import annotations

import asyncio
import ctypes
import grp
import os
import pwd
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastdns.log import log
from fastdns.server.messages import Channel
from fastdns.stats import record_usage

#: exit status of a child that could not start: the master halts rather than respawn it
BOOT_ERROR = 3
#: the signals the master acts on, blocked while a child is born
MASTER_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT,
                  signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class Birth:
    """What a child is born with, whatever its kind."""

    kind: str
    slot: int                 # its number among its kind (worker 3)
    row: int                  # its row of the shared counters (and heartbeat slot)
    channel: Channel          # its end of its channel to the master
    rows: object              # the shared counter rows (fastdns._shm.SharedRows)
    master_pid: int
    tick: float               # seconds between heartbeats


def fork_child(run: Callable[[], int], name: str, close: Iterable[int]) -> int:
    """Fork; in the child forget the master's state (:func:`after_fork`, closing ``close``),
    call ``run`` and exit with its status (1 if it raised). The master's signals wait while
    the child is born: one sent to it early (TTOU right after TTIN) must find the child's
    own handling, not the master's copied into it (whose wakeup descriptor is the master's:
    the master would take the child's signal for its own). Returns the child's pid, in the
    parent."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, MASTER_SIGNALS)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            after_fork(close)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            code = run()
        except BaseException as exc:
            try:
                log.exception("%s: %s", name, exc)
            except BaseException:
                pass
        finally:
            try:
                sys.stderr.flush()
            finally:
                os._exit(code)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    return pid


def after_fork(close: Iterable[int]) -> None:
    """In a new child, first thing: forget the master's event loop and signal handling, and
    close the descriptors ``close`` (its siblings' channels, other slots' sockets...)."""
    asyncio.events._set_running_loop(None)
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    # these would kill (HUP, USR1) or suspend (TTIN, TTOU) a child that has not set its own
    # handlers yet, or never does
    for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(signum, signal.SIG_IGN)
    for fd in close:
        try:
            os.close(fd)
        except OSError:
            pass


def start(title: str, user: str = "", group: str = "") -> None:
    """Name the process, die with the master, drop privileges (raises when it cannot)."""
    from setproctitle import setproctitle

    setproctitle(f"fastdns: {title}")
    die_with_parent()
    drop_privileges(user, group)


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


class Heartbeat:
    """Ticks a child's slot from its event loop every ``interval`` seconds (CPU time, pid,
    and the time in milliseconds, which the master watches), and calls ``orphaned`` once
    the master is gone."""

    def __init__(self, rows, slot: int, master_pid: int, interval: float,
                 orphaned: Callable[[], None]) -> None:
        self.rows = rows
        self.slot = slot
        self.master_pid = master_pid
        self.interval = interval
        self.orphaned = orphaned
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.tick()

    def tick(self) -> None:
        record_usage(self.rows, self.slot)
        if os.getppid() != self.master_pid:
            self.orphaned()
            return
        self._timer = asyncio.get_running_loop().call_later(self.interval, self.tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def heartbeat_age(rows, slot: int) -> float:
    """Seconds since the child of ``slot`` last ticked (0 before its first tick)."""
    beat = rows.get(slot, "heartbeat")
    return max(0.0, time.monotonic() - beat / 1000.0) if beat else 0.0

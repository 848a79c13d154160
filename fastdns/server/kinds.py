"""The kinds of child the master supervises, as a table (gunicorn's arbiter knows one kind of
worker; fastdns has several, and the signer is next).

Each kind declares how many children of it run, how one starts (the function the forked
child runs), its rows of the shared counters, whether it is respawned when it dies, and how
long it may go without a heartbeat before the master replaces it. The master's code names
no kind except to ask for this table's rows (and to give workers and signers the links
between them, fastdns.server.signer).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastdns.server.child import Birth

if TYPE_CHECKING:
    from fastdns.server.master import Master

#: counter rows in all: the workers take the first ones, then the other kinds, the master last
ROWS = 96
#: the most signer processes at once
SIGNER_ROWS = 16
#: the manager's heartbeat limit is never shorter than this: a compile of a big zone holds
#: the interpreter for a while, and a reload must not be mistaken for a hang
MANAGER_HEARTBEAT_FLOOR = 60.0


@dataclass(frozen=True, slots=True)
class ChildKind:
    name: str
    #: most children of this kind at once: the counter rows it owns
    rows: int
    #: how many to run for this configuration
    count: Callable[[Master], int]
    #: in the forked child: run it, return its exit status
    main: Callable[[Master, Birth], int]
    #: seconds without a heartbeat before the master kills and replaces it (0: not watched)
    heartbeat: Callable[[Master], float]
    #: started only once this kind's children have said they are up
    after: str = ""
    #: replaced when it dies (else the server stops)
    respawn: bool = True
    #: descriptors of the master's that this kind keeps (its slot's sockets)
    keeps_listeners: bool = False

    def title(self, slot: int) -> str:
        return f"{self.name} {slot}" if self.rows > 1 else self.name


def _worker_count(master: Master) -> int:
    return master.config.workers or os.cpu_count() or 1


def _run_worker(master: Master, birth: Birth) -> int:
    from fastdns.server import worker

    zones = master.book.for_new_worker()
    return worker.main(birth, master.listeners[birth.slot], master.options, zones,
                       (master.sigcache_fd, master.links.worker_ends(birth.slot)))


def _signer_count(master: Master) -> int:
    """signing-threads (empty: one per CPU), at most SIGNER_ROWS."""
    count = master.config.signing_threads
    return max(1, min(SIGNER_ROWS, count or os.cpu_count() or 1))


def _run_signer(master: Master, birth: Birth) -> int:
    from fastdns.server import signer

    master.book.close()
    return signer.main(birth, master.config, master.sigcache_fd,
                       master.links.signer_ends(birth.slot))


def _run_manager(master: Master, birth: Birth) -> int:
    from fastdns.server import manager

    master.book.close()
    first = master.row_of[WORKER.name]
    return manager.main(birth, master.config, master.web_socket, master.started,
                        range(first, first + WORKER.rows))


def _worker_heartbeat(master: Master) -> float:
    return float(master.config.heartbeat_timeout)


def _manager_heartbeat(master: Master) -> float:
    return max(MANAGER_HEARTBEAT_FLOOR, float(master.config.heartbeat_timeout))


MANAGER = ChildKind("manager", rows=1, count=lambda master: 1, main=_run_manager,
                    heartbeat=_manager_heartbeat)
SIGNER = ChildKind("signer", rows=SIGNER_ROWS, count=_signer_count, main=_run_signer,
                   heartbeat=_worker_heartbeat, after="manager")
WORKER = ChildKind("worker", rows=ROWS - 2 - SIGNER_ROWS, count=_worker_count,
                   main=_run_worker, heartbeat=_worker_heartbeat, after="manager",
                   keeps_listeners=True)

#: in start order; a kind with ``after`` starts when that kind is up
KINDS: tuple[ChildKind, ...] = (MANAGER, SIGNER, WORKER)


def first_rows() -> dict[str, int]:
    """Each kind's first counter row: workers from 0, then the others; the master's row is
    the last (``ROWS - 1``)."""
    rows, at = {}, 0
    for kind in sorted(KINDS, key=lambda k: k is not WORKER):
        rows[kind.name] = at
        at += kind.rows
    assert at < ROWS
    return rows

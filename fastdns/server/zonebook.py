"""The master's book of zones: the descriptors of the current zone index and of the bundles
its images lie in, which workers have not applied an index yet, and which reloads wait for
them.

The master holds no object per zone: what it knows of the zones is the index, mapped
(``list-zones`` reads it), and it keeps each bundle's descriptor until the manager retires
it, so that a worker forked later (respawn, TTIN) starts with every zone.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from fastdns._zoneindex import ZoneIndex
from fastdns.log import log
from fastdns.server.messages import NewIndex, Reloaded
from fastdns.server.zoneset import ZoneSet, map_bundle, map_index

#: zones kept for a new worker to sign ahead (as many as one index lists at most)
SIGN_AHEAD_KEPT = 10_000


@dataclass(slots=True)
class _Waiter:
    """A finished reload whose reply waits until every worker serves index ``last``."""

    last: int
    result: Reloaded
    future: asyncio.Future | None


class ZoneBook:
    def __init__(self) -> None:
        #: bundle number -> its descriptor
        self.bundles: dict[int, int] = {}
        self.index_fd = -1
        self.index: ZoneIndex | None = None
        self.last_index = 0
        #: the zones the indexes asked to sign ahead, latest last (wire names, hex): a worker
        #: started after an index was sent signs its zones ahead too
        self.signed: dict[str, None] = {}
        #: index number -> workers (pids) that have not said they serve it yet
        self._applying: dict[int, set[int]] = {}
        self._waiters: list[_Waiter] = []

    @property
    def zones(self) -> int:
        """Zones served (neither pending nor broken)."""
        index = self.index
        return 0 if index is None else len(index) - index.pending - index.broken

    def take_bundle(self, number: int, fd: int) -> bool:
        """Book bundle ``number`` (``fd`` is ours now)."""
        if number <= 0 or number in self.bundles:
            log.error("manager sent a zone bundle numbered %d twice or badly; dropped", number)
            os.close(fd)
            return False
        self.bundles[number] = fd
        return True

    def take_index(self, message: NewIndex, fd: int) -> bool:
        """Book the manager's new index (``fd`` is ours now); whether it is sound."""
        try:
            index = map_index(fd)
        except (OSError, ValueError) as exc:
            log.error("manager sent an unreadable zone index: %s", exc)
            os.close(fd)
            return False
        if self.index_fd >= 0:
            os.close(self.index_fd)
        self.index_fd, self.index, self.last_index = fd, index, message.index
        for wire in message.signed:
            self.signed.pop(wire, None)
            self.signed[wire] = None
        while len(self.signed) > SIGN_AHEAD_KEPT:
            del self.signed[next(iter(self.signed))]
        for number in message.retired:
            bundle = self.bundles.pop(number, None)
            if bundle is not None:
                os.close(bundle)
        return True

    def sent(self, number: int, pids: set[int]) -> None:
        """Index ``number`` went to the workers ``pids``."""
        if pids:
            self._applying[number] = set(pids)

    def applied(self, number: int, pid: int) -> None:
        """Worker ``pid`` serves index ``number`` (or is gone: ``forget``)."""
        for n in [n for n in self._applying if n <= number]:
            waiting = self._applying[n]
            waiting.discard(pid)
            if not waiting:
                del self._applying[n]
        self._finish_reloads()

    def forget(self, pid: int) -> None:
        """A worker that died applies nothing more."""
        self.applied(self.last_index, pid)

    def reloaded(self, result: Reloaded, future: asyncio.Future | None) -> None:
        """The manager finished a reload; reply once every worker serves what it shipped."""
        self._waiters.append(_Waiter(self.last_index, result, future))
        self._finish_reloads()

    def _finish_reloads(self) -> None:
        pending = []
        for waiter in self._waiters:
            if any(number <= waiter.last for number in self._applying):
                pending.append(waiter)
                continue
            r = waiter.result
            log.info("reload: %d zones loaded, %d removed, %d failed, %d without SOA; "
                     "serving %d zones", r.loaded, r.removed, r.failed, r.absent, r.zones)
            if waiter.future is not None and not waiter.future.done():
                waiter.future.set_result(r)
        self._waiters = pending

    def close(self) -> None:
        for fd in self.bundles.values():
            os.close(fd)
        self.bundles.clear()
        if self.index_fd >= 0:
            os.close(self.index_fd)
        self.index_fd, self.index = -1, None

    def list_zones(self, kind: str | None) -> list[str]:
        return [] if self.index is None else self.index.names_text(kind)

    def for_new_worker(self):
        """In a newly forked worker: the zones the master knows of, mapped (the
        descriptors are then closed: the mappings keep the pages)."""
        zones = ZoneSet()
        if self.index is not None:
            zones.bundles = {number: map_bundle(fd) for number, fd in self.bundles.items()}
            zones.index = self.index
            zones.applied = self.last_index
            zones.signed = list(self.signed)
        self.index = None
        self.close()
        return zones

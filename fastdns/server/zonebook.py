"""The master's book of zone bundles: which bundle holds the image each zone is served from,
which workers have not applied a bundle yet, and which reloads wait for them.

The master never maps a zone for answering; it keeps each bundle's descriptor while some zone
is served from it, so that a worker forked later (respawn, TTIN) starts with every zone, and
closes it when the last such zone has a newer image elsewhere.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from fastdns.log import log
from fastdns.server.messages import Reloaded
from fastdns.zone.bundle import BundledZone, read_bundle


@dataclass(slots=True)
class Bundle:
    fd: int
    zones: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Waiter:
    """A finished reload whose reply waits until every worker serves bundle ``last``."""

    last: int
    result: Reloaded
    future: asyncio.Future | None


class ZoneBook:
    def __init__(self) -> None:
        self.zones: dict[str, tuple[int, BundledZone]] = {}
        self.broken: dict[str, bytes] = {}
        self.bundles: dict[int, Bundle] = {}
        self._next = 1
        #: bundle -> workers (pids) that have not said they serve it yet
        self._applying: dict[int, set[int]] = {}
        self._waiters: list[_Waiter] = []

    @property
    def last_bundle(self) -> int:
        return self._next - 1

    def take(self, fd: int) -> int:
        """Book the bundle the manager sent (``fd`` is ours now); its number, or 0 when it
        could not be read (``fd`` is then closed)."""
        try:
            mapping, manifest = read_bundle(fd)
            mapping.close()
        except (OSError, ValueError) as exc:
            log.error("manager sent an unreadable zone bundle: %s", exc)
            os.close(fd)
            return 0
        number = self._next
        self._next += 1
        bundle = self.bundles[number] = Bundle(fd)
        if manifest.full:
            kept = {z.name for z in manifest.zones}
            for name in [n for n in self.zones if n not in kept]:
                self._drop(name)
        for name in manifest.removed:
            self._drop(name)
        for zone in manifest.zones:
            self._drop(zone.name)
            self.zones[zone.name] = (number, zone)
            bundle.zones.add(zone.name)
        self.broken = {name: wire for name, wire in manifest.broken if name not in self.zones}
        return number

    def sent(self, number: int, pids: set[int]) -> None:
        """Bundle ``number`` went to the workers ``pids``; close it if it holds no zone we
        serve (a bundle of removals only)."""
        if pids:
            self._applying[number] = set(pids)
        bundle = self.bundles.get(number)
        if bundle is not None and not bundle.zones:
            del self.bundles[number]
            os.close(bundle.fd)

    def applied(self, number: int, pid: int) -> None:
        """Worker ``pid`` serves bundle ``number`` (or is gone: ``forget``)."""
        waiting = self._applying.get(number)
        if waiting is not None:
            waiting.discard(pid)
            if not waiting:
                del self._applying[number]
        self._finish_reloads()

    def forget(self, pid: int) -> None:
        """A worker that died applies nothing more."""
        for number in list(self._applying):
            self.applied(number, pid)

    def reloaded(self, result: Reloaded, future: asyncio.Future | None) -> None:
        """The manager finished a reload; reply once every worker serves what it shipped."""
        self._waiters.append(_Waiter(self.last_bundle, result, future))
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

    def _drop(self, name: str) -> None:
        entry = self.zones.pop(name, None)
        if entry is None:
            return
        bundle = self.bundles.get(entry[0])
        if bundle is not None:
            bundle.zones.discard(name)
            if not bundle.zones:
                os.close(bundle.fd)
                del self.bundles[entry[0]]

    def close(self) -> None:
        for bundle in self.bundles.values():
            os.close(bundle.fd)
        self.bundles.clear()

    def list_zones(self, kind: str | None) -> list[str]:
        return [name for name, (_, zone) in self.zones.items()
                if kind is None or zone.kind == kind]

    def for_new_worker(self):
        """In a newly forked worker: the zones the master knows of, mapped from their
        bundles (whose descriptors are then closed: the mappings keep the pages)."""
        from fastdns.server.zoneset import ZoneSet

        zones = ZoneSet()
        mappings = {}
        for number, zone in self.zones.values():
            if number not in mappings:
                mappings[number] = read_bundle(self.bundles[number].fd)[0]
            zones.take(mappings[number], zone)
        zones.broken = {name: wire for name, wire in self.broken.items()
                        if name not in zones.snapshots}
        self.close()
        return zones

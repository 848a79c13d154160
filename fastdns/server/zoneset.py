"""The zones a worker serves: a snapshot of each zone over the mapped bundles of zone
images (``fastdns.zone.bundle``), applied bundle by bundle as the manager ships them."""

import os

from fastdns._snapshot import Snapshot
from fastdns.zone.bundle import BundledZone, read_bundle


class ZoneSet:
    """The zones a worker serves: a snapshot per zone over the mapped bundles."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.broken: dict[str, bytes] = {}
        self.kinds: dict[str, str] = {}
        self._tags: dict[str, int] = {}

    def tag(self, name: str) -> int:
        if name not in self._tags:
            self._tags[name] = len(self._tags) + 1
        return self._tags[name]

    def take(self, mapping, zone: BundledZone) -> None:
        view = memoryview(mapping)[zone.offset:zone.offset + zone.size]
        snapshot = Snapshot(view, zone.generation)
        snapshot.tag = self.tag(zone.name)
        self.snapshots[zone.name] = snapshot
        self.kinds[zone.name] = zone.kind
        self.broken.pop(zone.name, None)

    def apply(self, fd: int) -> list[tuple[str, bytes]]:
        """Apply the bundle ``fd`` (which is closed); the zones whose answers changed, as
        (name, apex wire name)."""
        try:
            mapping, manifest = read_bundle(fd)
        finally:
            os.close(fd)
        changed: dict[str, bytes] = {}
        if manifest.full:
            keep = {z.name for z in manifest.zones}
            for name in list(self.snapshots):
                if name not in keep:
                    changed[name] = self.snapshots.pop(name).origin
        for name in manifest.removed:
            if name in self.snapshots:
                changed[name] = self.snapshots.pop(name).origin
        for zone in manifest.zones:
            self.take(mapping, zone)
            changed[zone.name] = zone.wire
        # the manifest's broken list is the whole set: zones in it and not loaded get
        # SERVFAIL, zones no longer in it stop getting it
        broken = {name: wire for name, wire in manifest.broken if name not in self.snapshots}
        for name in set(self.broken) ^ set(broken):
            changed[name] = broken.get(name) or self.broken[name]
        self.broken = broken
        return list(changed.items())

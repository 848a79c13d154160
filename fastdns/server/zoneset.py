"""The zones a worker serves: the manager's zone index and the bundles of images it names
(``fastdns._zoneindex``, ``fastdns.zone.bundle``), mapped as they come through the master.

The worker keeps no object per zone: the engine looks zones up in the mapped index and
makes a Snapshot of a zone's image when a query first needs it.
"""

import mmap
import os
import struct
from typing import Any

from fastdns._snapshot import Snapshot
from fastdns._zoneindex import ZoneIndex
from fastdns.server.messages import Message, NewIndex, ZoneBundle

#: zone ids travel packed, four octets each
_IDS = struct.Struct("=I")


def map_index(fd: int) -> ZoneIndex:
    """The index in memfd ``fd``, mapped read-only and checked (ValueError if it is not
    one)."""
    size = os.fstat(fd).st_size
    if size == 0:
        raise ValueError("empty zone index")
    return ZoneIndex(mmap.mmap(fd, size, prot=mmap.PROT_READ))


def map_bundle(fd: int) -> mmap.mmap:
    return mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)


class ZoneSet:
    def __init__(self) -> None:
        self.index: ZoneIndex | None = None
        self.bundles: dict[int, mmap.mmap] = {}
        #: the number of the index served
        self.applied = 0
        #: zones the indexes before this worker asked to sign ahead (wire names, hex): a
        #: worker started after them signs them ahead too
        self.signed: list[str] = []

    def add_bundle(self, number: int, fd: int) -> None:
        """Map bundle ``number`` (``fd`` is closed: the mapping keeps the pages)."""
        try:
            self.bundles[number] = map_bundle(fd)
        finally:
            os.close(fd)

    def apply(self, message: NewIndex, fd: int) -> ZoneIndex:
        """Take the index ``fd`` (closed here) announced by ``message``; the new index.
        The caller sets it in the engine, then drops the retired bundles."""
        try:
            index = map_index(fd)
        finally:
            os.close(fd)
        self.index = index
        self.applied = message.index
        return index

    def retire(self, numbers: list[int]) -> None:
        for number in numbers:
            self.bundles.pop(number, None)     # unmapped once no Snapshot holds it


def zone_ids(packed: str) -> list[int]:
    """The zone ids of a NewIndex's ``purge`` (hex of packed ids)."""
    data = bytes.fromhex(packed)
    return [i for (i,) in _IDS.iter_unpack(data)]


def pack_ids(ids: list[int]) -> str:
    return b"".join(_IDS.pack(i) for i in ids).hex()


class ServedZones:
    """The manager's view of the zones exactly as the workers serve them: the same index
    and bundles, taken as they are shipped, and an engine over them (no packet cache, no
    signing). Transfers out are read from these images, and a query signed with TSIG is
    answered by this engine."""

    def __init__(self, config: Any) -> None:
        from fastdns.server.options import worker_options
        self.zones = ZoneSet()
        self.engine = worker_options(config).engine((), ())
        #: what a worker would hand over, this engine says so (the manager answers it)
        self.engine.handoff = True

    def take(self, message: Message, fd: int) -> None:
        """A ZoneBundle or NewIndex the manager ships (``fd``: a descriptor of its own,
        closed here)."""
        if isinstance(message, ZoneBundle):
            self.zones.add_bundle(message.bundle, fd)
        elif isinstance(message, NewIndex):
            index = self.zones.apply(message, fd)
            self.engine.set_index(index, self.zones.bundles)
            self.zones.retire(message.retired)
        else:
            os.close(fd)

    def snapshot(self, apex: bytes) -> Snapshot | None:
        """The image served for the zone ``apex`` (wire form), or None."""
        return self.engine.snapshot(apex)

    def entry(self, apex: bytes) -> dict | None:
        index = self.zones.index
        return index.get(apex) if index is not None else None

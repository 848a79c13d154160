"""Python API of fastdns._zonetable (the C API is in _zonetable.pxd)."""

from collections.abc import Iterable
from typing import Any

from fastdns._snapshot import Snapshot
from fastdns._zoneindex import ZoneIndex

SNAPSHOTS_KEPT: int
WAIT_ZONE: int

class ZoneTable:
    def __init__(self, zones: Iterable[Snapshot] = (), broken: Iterable[bytes] = ()) -> None: ...
    def set_zones(self, zones: Iterable[Snapshot], broken: Iterable[bytes] = ()) -> None: ...
    def set_index(self, index: ZoneIndex | None, bundles: dict[int, Any]) -> None: ...
    @property
    def index(self) -> ZoneIndex | None: ...
    snapshots_kept: int
    def snapshot(self, lk: bytes) -> Snapshot | None: ...
    @property
    def zones(self) -> dict[bytes, Snapshot | None]: ...

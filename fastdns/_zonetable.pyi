"""Python API of fastdns._zonetable (the C API is in _zonetable.pxd)."""

from collections.abc import Iterable

from fastdns._snapshot import Snapshot

class ZoneTable:
    def __init__(self, zones: Iterable[Snapshot] = (), broken: Iterable[bytes] = ()) -> None: ...
    def set_zones(self, zones: Iterable[Snapshot], broken: Iterable[bytes] = ()) -> None: ...
    @property
    def zones(self) -> dict[bytes, Snapshot | None]: ...

"""Python API of fastdns.zone._imagebuild (the C API is in _imagebuild.pxd)."""

from collections.abc import Iterable

#: (position, owner, rdtype, ttl, [rdata, ...], file, line) of an RRset's first record
Suspect = tuple[int, bytes, int, int, list[bytes], int, int]

class RecordStore:
    files: list[str]
    def __init__(self, origin: bytes, autohints: bool = False) -> None: ...
    def __len__(self) -> int: ...
    def prepare(self, cname_neighbours: Iterable[int],
                first_only: Iterable[int]) -> list[Suspect]: ...
    def pack(self) -> bytes: ...

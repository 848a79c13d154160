"""Python API of fastdns.zone._masterfile (the C API is in _masterfile.pxd)."""

from collections.abc import Callable

from fastdns.zone._imagebuild import RecordStore

DEFAULT_TTL: int

class ZoneFileError(ValueError): ...

def name_text(wire: bytes) -> str: ...

class Sink: ...

class StoreSink(Sink):
    lua: int
    denial: int
    def __init__(self, store: RecordStore, apex: bytes, zone_file: bool = False) -> None: ...

#: (owner, rdtype, ttl, content, file, line, comment)
TextRecord = tuple[bytes, int, int, bytes, int, int, bytes]

class RecordList(Sink):
    records: list[TextRecord]
    def __init__(self, comments: bool = False) -> None: ...

class Parser:
    files: list[str]
    warnings: list[str]
    unlisted: int
    records: int
    skipped: int
    origin_set: bool
    def __init__(self, sink: Sink, origin: bytes, *, allow_include: bool = True,
                 open_include: Callable[[str], tuple[bytes, str]] | None = None,
                 ignore_broken: bool = False, max_generate_steps: int = 0,
                 max_include_depth: int = 20, zone_only: bool = True) -> None: ...
    def parse(self, data: bytes, name: str) -> None: ...
    def start(self, data: bytes, name: str) -> None: ...
    def run(self, limit: int) -> bool: ...
    @property
    def position(self) -> int: ...
    @property
    def current_origin(self) -> bytes: ...

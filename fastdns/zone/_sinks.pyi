"""Python API of fastdns.zone._sinks (the C API is in _sinks.pxd)."""

from fastdns.zone._imagebuild import RecordStore

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

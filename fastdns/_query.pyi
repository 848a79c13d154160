"""Python API of fastdns._query (the C API is in _query.pxd)."""

from typing import Any

PARSE_OK: int
PARSE_DROP: int
PARSE_FORMERR: int
PARSE_NOTIMP: int

def parse(packet: bytes) -> tuple[int, dict[str, Any]]: ...

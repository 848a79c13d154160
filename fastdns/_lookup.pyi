"""Python API of fastdns._lookup (the C API is in _lookup.pxd)."""

from fastdns._supply import Supplies
from fastdns._zonetable import ZoneTable

class Lookup:
    dname_processing: bool
    expand_alias: bool
    def __init__(self, zones: ZoneTable, supplies: Supplies, *, dname_processing: bool = True,
                 expand_alias: bool = False) -> None: ...

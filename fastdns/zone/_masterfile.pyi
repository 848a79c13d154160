"""Python API of fastdns.zone._masterfile (the C API is in _masterfile.pxd)."""

from fastdns.zone._directives import Directives
from fastdns.zone._directives import ZoneFileError as ZoneFileError

class Parser(Directives):
    records: int
    def parse(self, data: bytes, name: str) -> None: ...
    def start(self, data: bytes, name: str) -> None: ...
    def run(self, limit: int) -> bool: ...

"""Python API of fastdns._signing (the C API is in _signing.pxd)."""

from fastdns._sigcache import SigCache

#: the wait type of a query waiting for a signature
WAIT_TYPE: int

class Signing:
    hits: int
    misses: int
    too_big: int
    def __init__(self, cache: SigCache | None = None) -> None: ...
    def take_requests(self) -> list[tuple[bytes, bytes]]: ...
    @property
    def requests_pending(self) -> int: ...
    def set_clock(self, skew: int) -> None: ...
    def window_at(self, now: int) -> tuple[int, int]: ...

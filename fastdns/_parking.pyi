"""Python API of fastdns._parking (the C API is in _parking.pxd)."""

from collections.abc import Callable

class Parked: ...

class ParkingLot:
    parked: int
    wait_ms: int
    max_parked: int
    def __init__(self, wait_timeout: float = 2.0, max_parked: int = 10000,
                 on_wait: Callable[[bytes, int], object] | None = None,
                 on_error: Callable[[BaseException], object] | None = None) -> None: ...

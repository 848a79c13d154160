"""Python API of fastdns._supply (the C API is in _supply.pxd)."""

from collections.abc import Iterable

from typing_extensions import Buffer

class Supplied:
    expires: int
    ttl: int
    failed: bool
    rdatas: tuple[bytes, ...]

class Supplies:
    def __init__(self) -> None: ...
    def supply(self, name: bytes, qtype: int, rdatas: Iterable[Buffer] | None,
               ttl: int = 0, *, now: int) -> None: ...
    def supplied(self, name: bytes, qtype: int, now: int) -> Supplied | None: ...
    def expire(self, now: int) -> int: ...
    def forget(self) -> int: ...
    def alias_hook(self, name: bytes, target: bytes | None) -> None: ...

"""Python API of fastdns._udp (the C API is in _udp.pxd)."""

from collections.abc import Callable

from typing_extensions import Buffer

from fastdns._engine import Engine
from fastdns._pcache import PacketCache
from fastdns._shm import SharedRows

def monotonic_seconds() -> int: ...

class Responder:
    engine: Engine
    cache: PacketCache | None
    def __init__(self, engine: Engine, cache: PacketCache | None = None,
                 rows: SharedRows | None = None, slot: int = 0,
                 on_error: Callable[[BaseException], object] | None = None) -> None: ...
    def set_engine(self, engine: Engine) -> None: ...
    def answer(self, packet: Buffer, tcp: bool = False, v6: bool = False,
               remote: bytes | None = None, now: int | None = None) -> bytes | None: ...
    def counter(self, name: str) -> int: ...
    def set_counter(self, name: str, value: int) -> None: ...

class UdpReader:
    def __init__(self, fd: int, v6: bool, responder: Responder) -> None: ...
    def on_readable(self) -> int: ...

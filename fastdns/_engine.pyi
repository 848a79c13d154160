"""Python API of fastdns._engine (the C API is in _engine.pxd)."""

from collections.abc import Iterable

from fastdns._snapshot import Snapshot

class Engine:
    last_tag: int
    last_multi: bool
    def __init__(
        self,
        zones: Iterable[Snapshot] = (),
        *,
        broken: Iterable[bytes] = (),
        udp_truncation_threshold: int = 1232,
        version: str | bytes | None = None,
        server_id: str | bytes | None = None,
        dname_processing: bool = True,
        any_to_tcp: bool = True,
    ) -> None: ...
    def set_zones(self, zones: Iterable[Snapshot], broken: Iterable[bytes] = ()) -> None: ...
    @property
    def zones(self) -> dict[bytes, Snapshot | None]: ...
    def answer(self, packet: bytes, tcp: bool = False) -> bytes | None: ...

"""Python API of fastdns._engine (the C API is in _engine.pxd)."""

from collections.abc import Iterable
from typing import Any

from typing_extensions import Buffer

from fastdns._sigcache import SigCache
from fastdns._signing import Signing
from fastdns._snapshot import Snapshot
from fastdns._supply import Supplied
from fastdns._zoneindex import ZoneIndex

#: Result.state: answered, waiting for supplied data, dropped
STATE_ANSWERED: int
STATE_WAITING: int
STATE_DROP: int

class Engine:
    udp_limit: int
    handoff: bool
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
        expand_alias: bool = False,
    ) -> None: ...
    def set_zones(self, zones: Iterable[Snapshot], broken: Iterable[bytes] = ()) -> None: ...
    def set_index(self, index: ZoneIndex | None, bundles: dict[int, Any]) -> None: ...
    def snapshot(self, apex: bytes) -> Snapshot | None: ...
    def set_signature_cache(self, cache: SigCache | None) -> None: ...
    @property
    def signing(self) -> Signing: ...
    def keep_snapshots(self, count: int) -> None: ...
    @property
    def zones(self) -> dict[bytes, Snapshot | None]: ...
    def supply(self, name: bytes, qtype: int, rdatas: Iterable[Buffer] | None,
               ttl: int = 0, *, now: int) -> None: ...
    def supplied(self, name: bytes, qtype: int, now: int) -> Supplied | None: ...
    def expire(self, now: int) -> int: ...
    def forget(self) -> int: ...
    def alias_hook(self, name: bytes, target: bytes | None) -> None: ...
    def answer(self, packet: Buffer, tcp: bool = False, now: int = 0) -> bytes | None: ...
    def result(self, packet: Buffer, tcp: bool = False, now: int = 0) -> dict[str, Any]: ...

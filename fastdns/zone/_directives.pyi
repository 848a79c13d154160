"""Python API of fastdns.zone._directives (the C API is in _directives.pxd)."""

from collections.abc import Callable

from fastdns.zone._sinks import Sink

DEFAULT_TTL: int

class ZoneFileError(ValueError): ...

class Directives:
    files: list[str]
    warnings: list[str]
    unlisted: int
    skipped: int
    origin_set: bool
    def __init__(self, sink: Sink, origin: bytes, *, allow_include: bool = True,
                 open_include: Callable[[str], tuple[bytes, str]] | None = None,
                 ignore_broken: bool = False, max_generate_steps: int = 0,
                 max_include_depth: int = 20, zone_only: bool = True) -> None: ...
    @property
    def position(self) -> int: ...
    @property
    def current_origin(self) -> bytes: ...

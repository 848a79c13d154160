"""Python API of fastdns.zone._masterfile."""

from collections.abc import Callable

from fastdns.zone._imagebuild import RecordStore

#: (origin, last_name, last_ttl, last_ttl_known, default_ttl, default_ttl_known,
#: default_ttl_from_soa): dns.zonefile.Reader's state, names in wire form
State = tuple[bytes, bytes, int, bool, int, bool, bool]

class Parser:
    fallbacks: int
    def __init__(self, store: RecordStore, origin: bytes, allow_include: bool,
                 fallback: Callable[[bytes, int, int, State, bool], State] | None,
                 open_include: Callable[[str], tuple[bytes, int] | None] | None) -> None: ...
    def parse(self, data: bytes, file: int) -> None: ...
    def state(self) -> State: ...
    def set_state(self, state: State) -> None: ...

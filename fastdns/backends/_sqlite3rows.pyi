"""Python API of fastdns.backends._sqlite3rows."""

from collections.abc import Callable

from fastdns.zone._sinks import StoreSink

class SQLiteError(Exception): ...

Print = tuple[int, int, int]

def read_records(path: str, domain_id: int, sink: StoreSink, warnings: list[str],
                 timeout_ms: int = 10000) -> tuple[int, int, Print | None]: ...
def record_prints(path: str, timeout_ms: int = 10000) -> dict[int, Print]: ...
def read_zones(path: str, first: int, last: int,
               begin: Callable[[int], tuple[StoreSink, list[str]] | None],
               end: Callable[[int, int, int, Print | None, ValueError | None], None],
               timeout_ms: int = 10000) -> None: ...
def domain_prints(path: str, split: int, timeout_ms: int = 10000) -> tuple[Print, Print]: ...
def read_domains(path: str, after: int, timeout_ms: int = 10000
                 ) -> tuple[list[tuple[int, str | None, str | None, str | None, str | None]],
                            Print]: ...

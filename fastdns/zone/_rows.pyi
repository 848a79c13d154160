"""Python API of fastdns.zone._rows (the C API is in _rows.pxd)."""

from collections.abc import Iterable

from fastdns.zone._sinks import StoreSink

def add_rows(sink: StoreSink, rows: Iterable[tuple], warnings: list[str]) -> tuple[int, int]: ...
def row_warning(row_id: object, name: str | None, rtype: str | None, content: str | None,
                why: str, row: bool = False) -> str: ...

"""Python API of fastdns._encoder (the C API is in _encoder.pxd)."""

def encode(
    id: int,
    flags: int,
    question: tuple[bytes, int, int] | None,
    records: list[tuple[int, bytes, int, int, int, bytes]],
    opt: tuple[int, int, int] | None = None,
    limit: int = 65535,
) -> bytes: ...

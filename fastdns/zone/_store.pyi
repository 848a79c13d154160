"""Python API of fastdns.zone._store: none (its C API is in _store.pxd)."""

"""Python API of fastdns.zone._rdfields: none (its C API is in _rdfields.pxd)."""

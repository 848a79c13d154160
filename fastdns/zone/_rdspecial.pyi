"""Python API of fastdns.zone._rdspecial: none (its C API is in _rdspecial.pxd)."""

"""Python API of fastdns.zone._autohints: none (its C API is in _autohints.pxd)."""

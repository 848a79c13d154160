"""Python API of fastdns.zone._imagetree: none (its C API is in _imagetree.pxd)."""

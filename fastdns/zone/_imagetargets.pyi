"""Python API of fastdns.zone._imagetargets: none (its C API is in _imagetargets.pxd)."""

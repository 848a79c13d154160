"""Python API of fastdns.zone._rdsvcb: none (its C API is in _rdsvcb.pxd)."""

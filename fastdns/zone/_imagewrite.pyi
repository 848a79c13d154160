"""Python API of fastdns.zone._imagewrite: none (its C API is in _imagewrite.pxd)."""

# fastdns.zone._imagewrite: a prepared Store written as a zone image (its layout:
# fastdns/_snapshot.pxd); the end of pack().

from libc.stdint cimport uint32_t

from fastdns.zone._store cimport Store

# The image (bytes) of the Store, with the additional-section targets ``extra`` and the
# (RRset number, extra offset) pairs ``marks`` of fastdns.zone._imagetargets.
cdef object write_image(const Store *s, const uint32_t *extra, size_t nextra,
                        const uint32_t *marks, size_t nmarks)

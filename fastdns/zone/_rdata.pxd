# fastdns.zone._rdata: record data from text, as PowerDNS reads it (see the .pyx docstring).
#
# One reader for every source of zone data: master files (fastdns.zone._masterfile), the
# content column of SQL rows (fastdns.zone._rows), typed data of fastdns-util and the API.
# It reads with the field readers of fastdns.zone._rdfields (RDATA_ROOM is theirs), by
# the type table of fastdns.zone._rdtypes.

from libc.stdint cimport uint8_t, uint16_t


# The rdata of type ``rdtype`` written as ``text`` (``n`` octets) in ``out`` (RDATA_ROOM
# octets): its length, or -1 with ``why`` pointing at a static message. Names are absolute
# whether or not they end in a dot, as in PowerDNS's records.content.
cdef int rdata_from_text(uint16_t rdtype, const uint8_t *text, Py_ssize_t n, uint8_t *out,
                         const char **why) noexcept nogil

# fastdns.zone._sinks: where a reader of zone data puts the records it reads (see the .pyx
# docstring): the compiler's RecordStore, through the reader of record data, or a list.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns.zone._imagebuild cimport RecordStore
from fastdns.zone._zonetext cimport Text

cdef enum:
    WARNINGS_LISTED = 100        # warnings kept per zone (the rest counted): a file or a table
                                 # of broken records does not become a million log lines


cdef class Sink:
    """Where records go: a RecordStore (the server) or a list (fastdns-util)."""
    cdef bint wants_comments
    # 0: taken; -1: broken (``why`` says why); 1: left out on purpose (``why`` says why)
    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2


cdef class StoreSink(Sink):
    cdef RecordStore store
    cdef uint8_t apex[256]
    cdef int apex_len
    cdef uint8_t apex_lk[256]
    cdef int apex_lklen
    # the owner of the last SQL row, as text and in wire form (fastdns.zone._rows)
    cdef uint8_t last_text[1024]
    cdef Py_ssize_t last_text_len
    cdef uint8_t last[256]
    cdef int last_len
    cdef readonly uint64_t lua            # LUA records left out (PowerDNS serves none either)
    cdef bint zone_file                   # records of a zone file (PowerDNS's bind backend)
    cdef readonly uint64_t denial         # ... NSEC, NSEC3 and NSEC3PARAM of it, left out

    # keep a record whose rdata (``n`` octets) is in the store's room; as Sink.record
    cdef int add(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl, int n,
                 uint32_t file, uint32_t line, const char **why) except -2

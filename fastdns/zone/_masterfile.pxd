# fastdns.zone._masterfile: the C side of the master-file reader (see the .pyx docstring).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns.zone._directives cimport Directives
from fastdns.zone._sinks cimport Sink
from fastdns.zone._zonetext cimport Buf, Text


cdef class Parser(Directives):
    cdef Sink sink
    cdef uint8_t prev[256]               # the owner of the previous record (-1: none)
    cdef int prev_len
    cdef bint prev_inside                # ... known to be at or below the zone's apex
    cdef Buf content, scratch, gen
    cdef readonly uint64_t records       # records handed to the sink

    cdef int statement(self, Text line, uint32_t file, uint32_t lineno) except -1
    cdef int _line_owner(self, Text line, Text first, uint8_t *owner, bint *inside,
                         uint32_t file, uint32_t lineno) except -2
    cdef Py_ssize_t _head(self, Text line, Py_ssize_t pos, int *rdtype, uint32_t *ttl,
                          uint32_t file, uint32_t lineno) except -2
    cdef Text rest(self, Text data, bint plain) except *
    cdef object canonical(self, uint16_t rdtype, uint32_t file, uint32_t lineno,
                          const char **why)
    cdef object _canon(self, Text t, const char **why)
    cdef object _swap(self)

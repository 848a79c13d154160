# fastdns.zone._masterfile: the C side of the master-file reader (see the .pyx docstring).

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastdns.zone._imagebuild cimport RecordStore

ctypedef struct Scanner:
    const uint8_t *buf
    Py_ssize_t len
    Py_ssize_t pos
    uint32_t line
    int depth            # open parentheses

ctypedef struct Token:
    int kind
    int flags
    const uint8_t *p
    Py_ssize_t n

ctypedef struct Batch:
    # consecutive statements for dnspython, handed over together
    Py_ssize_t start
    Py_ssize_t end
    uint32_t line
    uint32_t count
    bint error

ctypedef struct ReaderState:
    # dns.zonefile.Reader's fields of the same names
    uint8_t origin[256]          # current_origin
    int origin_len
    uint8_t last_name[256]
    int last_len
    uint32_t last_ttl
    bint last_ttl_known
    uint32_t default_ttl
    bint default_ttl_known
    bint default_ttl_from_soa


cdef class Parser:
    cdef RecordStore store
    cdef ReaderState st
    cdef uint8_t zone_lk[256]
    cdef int zone_lklen
    cdef bint allow_include
    cdef int include_depth
    cdef object fallback
    cdef object open_include
    cdef readonly uint64_t fallbacks      # statements dnspython read

    cdef int delegate(self, const Scanner *s, Batch *batch, uint32_t file) except -1
    cdef int statement(self, Scanner *s, uint32_t file, uint32_t line, bint dry) except -1
    cdef int record(self, Scanner *s, uint32_t file, uint32_t line, const Token *owner_tok,
                    bint dry) except -1
    cdef int directive(self, Scanner *s, Token *t, uint32_t file, bint dry) except -1

# fastdns.zone._rdfields: the readers of the fields of record data, as PowerDNS's
# RecordTextReader has them (see the .pyx docstring), and what they read from and into.
#
# fastdns.zone._rdata reads a record's data with them, by the program of its type
# (rd_fields), or by a reader of its own built from them (fastdns.zone._rdspecial, _rdsvcb).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastdns.zone._chars cimport is_space

cdef enum:
    RDATA_MAX = 65535         # RFC 1035 §3.2.1: RDLENGTH is 16 bits
    RDATA_ROOM = 65535 + 512  # what a Dst of RDATA_MAX octets must have room for (a name
                              # is written before its length is checked against ``cap``)

# PowerDNS's reasons that more than one reader gives
cdef extern from *:
    """
    #define FASTDNS_RD_E_LONG "rdata longer than 65535 octets"
    #define FASTDNS_RD_E_MISSING "missing field at the end of record content"
    #define FASTDNS_RD_E_U8 "overflow reading 8 bit integer"
    #define FASTDNS_RD_E_U16 "overflow reading 16 bit integer"
    """
    const char *E_LONG "FASTDNS_RD_E_LONG"
    const char *E_MISSING "FASTDNS_RD_E_MISSING"
    const char *E_U8 "FASTDNS_RD_E_U8"
    const char *E_U16 "FASTDNS_RD_E_U16"

ctypedef struct Src:
    const uint8_t *s
    Py_ssize_t pos
    Py_ssize_t end
    const char *why

ctypedef struct Dst:
    uint8_t *p
    int n
    int cap                    # the most octets it may hold


cdef inline int fail(Src *s, const char *why) noexcept nogil:
    s.why = why
    return -1


cdef inline int put(Src *s, Dst *d, const uint8_t *data, int n) noexcept nogil:
    if d.n + n > d.cap:
        return fail(s, E_LONG)
    memcpy(d.p + d.n, data, n)
    d.n += n
    return 0


cdef inline int put8(Src *s, Dst *d, uint8_t v) noexcept nogil:
    if d.n + 1 > d.cap:
        return fail(s, E_LONG)
    d.p[d.n] = v
    d.n += 1
    return 0


cdef inline int put16(Src *s, Dst *d, uint16_t v) noexcept nogil:
    if d.n + 2 > d.cap:
        return fail(s, E_LONG)
    d.p[d.n] = v >> 8
    d.p[d.n + 1] = v & 0xFF
    d.n += 2
    return 0


cdef inline int put32(Src *s, Dst *d, uint32_t v) noexcept nogil:
    if d.n + 4 > d.cap:
        return fail(s, E_LONG)
    d.p[d.n] = v >> 24
    d.p[d.n + 1] = (v >> 16) & 0xFF
    d.p[d.n + 2] = (v >> 8) & 0xFF
    d.p[d.n + 3] = v & 0xFF
    d.n += 4
    return 0


cdef inline int skip(Src *s) noexcept nogil:
    """RecordTextReader::skipSpaces: on to the next field, which must exist."""
    while s.pos < s.end and is_space(s.s[s.pos]):
        s.pos += 1
    if s.pos >= s.end:
        return fail(s, E_MISSING)
    return 0


cdef inline Py_ssize_t word_end(const Src *s) noexcept nogil:
    """Where the field at ``s.pos`` ends: the next blank (a carriage return is no blank
    inside a field, as in PowerDNS)."""
    cdef Py_ssize_t p = s.pos
    while p < s.end and (s.s[p] == 13 or not is_space(s.s[p])):
        p += 1
    return p


# A name in presentation form (PowerDNS's DNSName: escapes, no trailing dot needed, "" and
# "." the root) in wire form in ``out`` (256 octets); its length or -1 (``why`` set).
cdef int name_from_text(const uint8_t *text, Py_ssize_t n, uint8_t *out,
                        const char **why) noexcept nogil

# The field readers: 0, or -1 with ``s.why`` set. Each skips the blanks before its field.
cdef int rd_fields(Src *s, Dst *d, const char *fields) noexcept nogil   # a type's program
cdef int rd_name(Src *s, Dst *d) noexcept nogil
cdef int rd_number(Src *s, uint64_t limit, const char *overflow, uint32_t *v) noexcept nogil
cdef int rd_ipv4(Src *s, Dst *d, bint comma_ends) noexcept nogil
cdef int rd_ipv6(Src *s, Dst *d) noexcept nogil
cdef int rd_bitmap(Src *s, Dst *d) noexcept nogil
cdef int rd_base64(Src *s, Dst *d) noexcept nogil
cdef int rd_hex(Src *s, Dst *d, bint to_end) noexcept nogil
cdef int rd_base32hex(Src *s, Dst *d) noexcept nogil

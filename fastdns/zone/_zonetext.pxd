# fastdns.zone._zonetext: the text of master files as their reader handles it (see the
# .pyx docstring): the parts of a line, buffers that grow, names and TTLs as text.

from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcpy

from fastdns.zone._chars cimport is_digit

ctypedef struct Buf:
    uint8_t *p
    Py_ssize_t n
    Py_ssize_t cap

ctypedef struct Text:
    const uint8_t *p
    Py_ssize_t n


cdef inline bint delimiter(uint8_t c) noexcept nogil:
    """What separates the parts of a line (PowerDNS's vstringtok)."""
    return c == 32 or c == 9 or c == 10


cdef inline bint trimmed(uint8_t c) noexcept nogil:
    """What PowerDNS trims off a line or a record's data."""
    return c == 32 or c == 9 or c == 13 or c == 10 or c == 26


cdef inline bint next_part(Text line, Py_ssize_t *pos, Text *part) noexcept nogil:
    cdef Py_ssize_t p = pos[0]
    while p < line.n and delimiter(line.p[p]):
        p += 1
    if p >= line.n:
        pos[0] = p
        return False
    part.p = line.p + p
    while p < line.n and not delimiter(line.p[p]):
        p += 1
    part.n = line.p + p - part.p
    pos[0] = p
    return True


cdef inline bint ieq(Text t, const char *word) noexcept nogil:
    """Is ``t`` ``word`` (upper case ASCII), in any case?"""
    cdef Py_ssize_t i = 0
    cdef uint8_t c
    while i < t.n:
        c = t.p[i]
        if 97 <= c <= 122:
            c -= 32
        if word[i] == 0 or c != <uint8_t>word[i]:
            return False
        i += 1
    return word[i] == 0


# TTLs (PowerDNS's isTimeSpec and makeTTLFromZone)

cdef inline bint is_timespec(Text t) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint8_t c
    for i in range(t.n):
        if is_digit(t.p[i]):
            continue
        if i + 1 != t.n:
            return False
        c = t.p[i] | 0x20
        return c == 115 or c == 109 or c == 104 or c == 100 or c == 119 or c == 121
    return t.n > 0


# A number with an optional unit in its last character: leading digits times the unit
# (``1h30m`` is 60, as in PowerDNS); False where PowerDNS throws.
cdef bint make_ttl(Text t, uint32_t *out) noexcept nogil


# buffers

cdef int buf_grow(Buf *b, Py_ssize_t more) except -1     # room for ``more`` octets, realloc'ed


cdef inline int buf_room(Buf *b, Py_ssize_t more) except -1:
    if b.n + more > b.cap:
        buf_grow(b, more)
    return 0


cdef inline int buf_add(Buf *b, const uint8_t *data, Py_ssize_t n) except -1:
    buf_room(b, n)
    memcpy(b.p + b.n, data, n)
    b.n += n
    return 0


cdef inline int buf_byte(Buf *b, uint8_t c) except -1:
    buf_room(b, 1)
    b.p[b.n] = c
    b.n += 1
    return 0


cdef void buf_trim(Buf *b) noexcept nogil                 # PowerDNS's trim of blanks
# Remove the first ``c`` outside quotes from octet ``i`` on (PowerDNS's findAndElide, on one
# line); was there one?
cdef bint buf_elide(Buf *b, uint8_t c, Py_ssize_t i) noexcept nogil
# A wire name as PowerDNS writes it, with its trailing dot or (``dot`` false) without one;
# the root is "." either way.
cdef int add_name_text(Buf *b, const uint8_t *wire, bint dot) except -1

# Text of a zone file for a message (at most 80 characters).
cdef str show(const uint8_t *p, Py_ssize_t n)

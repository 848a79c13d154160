# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The text of master files as their reader (fastdns.zone._masterfile) handles it: the
parts of a line (PowerDNS's vstringtok), buffers that grow, names written as PowerDNS
writes them, and TTLs with units (its makeTTLFromZone). The small, per-part helpers are
inline in the .pxd.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memmove

from fastdns._names cimport wire_name_ok
from fastdns.zone._chars cimport is_digit, is_space


cdef bint make_ttl(Text t, uint32_t *out) noexcept nogil:
    """A number with an optional unit in its last character: leading digits times the unit
    (``1h30m`` is 60, as in PowerDNS); False where PowerDNS throws."""
    cdef Py_ssize_t i = 0
    cdef uint64_t v = 0
    cdef bint digits = False
    cdef uint8_t last
    while i < t.n and is_space(t.p[i]):
        i += 1
    if i < t.n and t.p[i] == 43:
        i += 1
    while i < t.n and is_digit(t.p[i]):
        v = v * 10 + (t.p[i] - 48)
        if v > 0xFFFFFFFFU:
            return False
        digits = True
        i += 1
    if not digits:
        return False
    last = t.p[t.n - 1]
    if not is_digit(last):
        last |= 0x20
        if last == 109:
            v *= 60
        elif last == 104:
            v *= 3600
        elif last == 100:
            v *= 86400
        elif last == 119:
            v *= 604800
        elif last == 121:
            v *= 31536000
        elif last != 115:
            return False
    out[0] = <uint32_t>(v & 0xFFFFFFFFU)          # PowerDNS multiplies in 32 bits
    return True


# ---------------------------------------------------------------------------------------
# buffers

cdef int buf_grow(Buf *b, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap = b.cap if b.cap else 1024
    cdef uint8_t *p
    while cap < b.n + more:
        cap *= 2
    p = <uint8_t *>realloc(b.p, cap)
    if p == NULL:
        raise MemoryError()
    b.p = p
    b.cap = cap
    return 0


cdef void buf_trim(Buf *b) noexcept nogil:
    cdef Py_ssize_t start = 0
    while b.n > 0 and trimmed(b.p[b.n - 1]):
        b.n -= 1
    while start < b.n and trimmed(b.p[start]):
        start += 1
    if start:
        b.n -= start
        memmove(b.p, b.p + start, b.n)


cdef bint buf_elide(Buf *b, uint8_t c, Py_ssize_t i) noexcept nogil:
    """Remove the first ``c`` outside quotes from octet ``i`` on (PowerDNS's findAndElide,
    on one line); was there one?"""
    cdef bint quoted = False
    while i < b.n:
        if b.p[i] == 92:
            i += 2
            continue
        if b.p[i] == 34:
            quoted = not quoted
        elif b.p[i] == c and not quoted:
            b.n -= 1
            memmove(b.p + i, b.p + i + 1, b.n - i)
            return True
        i += 1
    return False


cdef int add_name_text(Buf *b, const uint8_t *wire, bint dot) except -1:
    """A wire name as PowerDNS writes it, with its trailing dot or (``dot`` false) without
    one; the root is "." either way."""
    cdef int p = 0
    cdef int k
    cdef uint8_t c
    cdef uint8_t *o
    buf_room(b, 4 * 256)                          # the longest text a name can have
    o = b.p + b.n
    if wire[0] == 0:
        o[0] = 46
        b.n += 1
        return 0
    while wire[p]:
        for k in range(1, wire[p] + 1):
            c = wire[p + k]
            if c == 46 or c == 92:
                o[0] = 92
                o[1] = c
                o += 2
            elif 0x20 < c < 0x7F:
                o[0] = c
                o += 1
            else:
                o[0] = 92
                o[1] = 48 + c // 100
                o[2] = 48 + c // 10 % 10
                o[3] = 48 + c % 10
                o += 4
        p += wire[p] + 1
        if wire[p] or dot:
            o[0] = 46
            o += 1
    b.n = o - b.p
    return 0


def name_text(bytes wire) -> str:
    """A wire name as PowerDNS writes it, with its trailing dot (for messages and for the
    data fastdns-util stores)."""
    cdef Buf b
    if not 1 <= len(wire) <= 255 or not wire_name_ok(wire, len(wire), len(wire)):
        raise ValueError("not a wire name")
    b.p = NULL
    b.n = b.cap = 0
    try:
        add_name_text(&b, wire, True)
        return (<bytes>PyBytes_FromStringAndSize(<char *>b.p, b.n)).decode("utf-8",
                                                                          "backslashreplace")
    finally:
        free(b.p)


cdef str show(const uint8_t *p, Py_ssize_t n):
    """Text of a zone file for a message."""
    if n > 80:
        return (<bytes>PyBytes_FromStringAndSize(<const char *>p, 77)).decode(
            "utf-8", "backslashreplace") + "..."
    return (<bytes>PyBytes_FromStringAndSize(<const char *>p, n)).decode("utf-8",
                                                                        "backslashreplace")


# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Record data from text, as PowerDNS Authoritative 4.7 reads it, for every type it knows.

PowerDNS turns a record's text (a zone file's data after the type, or ``records.content``
in SQL) into rdata with one reader per field kind (its RecordTextReader), and a table of
types saying which fields each one has. This module is that reader in C, so that a zone
file, an SQL row, fastdns-util and the API all give the same rdata, with no Python object
per record. Its parts:

- fastdns.zone._rdtypes: the table of types (names, numbers, each type's fields);
- fastdns.zone._rdfields: the reader of each kind of field (numbers, names, addresses,
  character-strings, base64, hex...), and of a type's fields in order;
- fastdns.zone._rdspecial and _rdsvcb: the types with a reader of their own (NSEC3, LOC,
  APL, EUI48/64, IPSECKEY; SVCB and HTTPS);
- here: which reader a type takes, RFC 3597's generic form, and what PowerDNS does around
  the fields (the content trimmed, TXT data without a quote taken as one string, data left
  over after the last field an error).

Where PowerDNS refuses what an RFC allows, the RFC is followed: RFC 3597's generic
``\\# length hex`` is read for every type, not only for the ones PowerDNS does not know
(the rdata must then be well formed for its type). docs/differences.md lists these.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastdns.zone._chars cimport hexval, is_space
from fastdns.zone._rdfields cimport (
    RDATA_MAX, RDATA_ROOM, Dst, Src, fail, name_from_text, put8, rd_fields, rd_number,
)
from fastdns.zone._rdspecial cimport rd_apl, rd_eui, rd_ipseckey, rd_loc, rd_nsec3
from fastdns.zone._rdsvcb cimport rd_svcb
from fastdns.zone._rdtypes cimport TypeInfo, TypeTable, type_in, type_table, zone_data

from fastdns.zone._rdtypes import RdataError

cdef const char *E_TRAILING = b"trailing data after the record content"
cdef const char *E_MEMORY = b"out of memory"
cdef const char *E_GENERIC = b"bad generic rdata (\\# length hex)"
cdef const char *E_GENERIC_FORM = b"generic rdata not well formed for its type"
cdef const char *E_NEED_GENERIC = b"type known only by number: its data must be \\# length hex"
cdef const char *E_META = b"not a type of zone data"
cdef const char *E_CERT = b"CERT type 0 is reserved"

cdef TypeTable TYPES = type_table()             # searched inline, once per record


cdef int rdata_from_text(uint16_t rdtype, const uint8_t *text, Py_ssize_t n, uint8_t *out,
                         const char **why) noexcept nogil:
    cdef Src s
    cdef Dst d
    cdef const TypeInfo *info
    cdef uint8_t *wrapped
    cdef int r
    s.s = text
    s.pos = 0
    s.end = n
    s.why = NULL
    d.p = out
    d.n = 0
    d.cap = RDATA_MAX
    if not zone_data(rdtype):
        why[0] = E_META
        return -1
    while s.pos < s.end and is_space(s.s[s.pos]):       # PowerDNS trims the content
        s.pos += 1
    while s.end > s.pos and is_space(s.s[s.end - 1]):
        s.end -= 1
    if s.end - s.pos >= 2 and s.s[s.pos] == 92 and s.s[s.pos + 1] == 35 \
            and (s.end - s.pos == 2 or is_space(s.s[s.pos + 2])):
        r = rd_generic(&s, &d, rdtype)
        why[0] = s.why
        return r
    info = type_in(TYPES, rdtype)
    if info == NULL:
        why[0] = E_NEED_GENERIC
        return -1
    if info.fields != NULL and info.fields[0] == 0:
        why[0] = E_META
        return -1
    if rdtype == 16 and s.pos < s.end and s.s[s.pos] != 34:
        # PowerDNS quotes TXT data that does not start with a quote: one string
        wrapped = <uint8_t *>malloc(s.end - s.pos + 2)
        if wrapped == NULL:
            why[0] = E_MEMORY
            return -1
        wrapped[0] = 34
        memcpy(wrapped + 1, s.s + s.pos, s.end - s.pos)
        wrapped[s.end - s.pos + 1] = 34
        r = rdata_from_text(rdtype, wrapped, s.end - s.pos + 2, out, why)
        free(wrapped)
        return r
    if info.fields != NULL:
        r = rd_fields(&s, &d, info.fields)
    else:
        r = rd_own(&s, &d, rdtype)
    if r == 0 and s.pos < s.end:
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos < s.end:
            r = fail(&s, E_TRAILING)
    if r == 0 and rdtype == 37 and d.n >= 2 and out[0] == 0 and out[1] == 0:
        r = fail(&s, E_CERT)
    why[0] = s.why
    return d.n if r == 0 else -1


cdef int rd_own(Src *s, Dst *d, uint16_t rdtype) noexcept nogil:
    """The data of a type with a reader of its own (no fields in the type table)."""
    if rdtype == 50 or rdtype == 51:                  # NSEC3, NSEC3PARAM
        return rd_nsec3(s, d, rdtype == 51)
    if rdtype == 64 or rdtype == 65:
        return rd_svcb(s, d)
    if rdtype == 29:
        return rd_loc(s, d)
    if rdtype == 42:
        return rd_apl(s, d)
    if rdtype == 45:
        return rd_ipseckey(s, d)
    if rdtype == 108:
        return rd_eui(s, d, 6)
    if rdtype == 109:
        return rd_eui(s, d, 8)
    return fail(s, E_META)


# ---------------------------------------------------------------------------------------
# generic rdata (RFC 3597 §5)

cdef int rd_generic(Src *s, Dst *d, uint16_t rdtype) noexcept nogil:
    """``\\# length hex``: the hex as one word, exactly ``length`` octets of it."""
    cdef uint32_t length
    cdef Py_ssize_t end
    cdef int hi, lo
    cdef const TypeInfo *info
    s.pos += 2
    if rd_number(s, 0xFFFF, E_GENERIC, &length) < 0:
        s.why = E_GENERIC
        return -1
    if s.pos < s.end and not is_space(s.s[s.pos]):
        return fail(s, E_GENERIC)
    while s.pos < s.end and is_space(s.s[s.pos]):
        s.pos += 1
    end = s.pos
    while end < s.end and not is_space(s.s[end]):
        end += 1
    if end != s.end or end - s.pos != 2 * length:
        return fail(s, E_GENERIC)
    while s.pos < end:
        hi = hexval(s.s[s.pos])
        lo = hexval(s.s[s.pos + 1])
        if hi < 0 or lo < 0:
            return fail(s, E_GENERIC)
        if put8(s, d, (hi << 4) | lo) < 0:
            return -1
        s.pos += 2
    info = type_in(TYPES, rdtype)
    if info != NULL:
        if info.fields != NULL and info.fields[0] == 0:
            return fail(s, E_META)
        if not wire_ok(info, d.p, d.n):
            return fail(s, E_GENERIC_FORM)
    return d.n


cdef bint wire_ok(const TypeInfo *info, const uint8_t *p, int n) noexcept nogil:
    """Is ``p`` well formed for the type's fields (the ones a generic rdata of a known
    type must get right for the engine to use it)?"""
    cdef int at = 0
    cdef int i = 0
    cdef int k
    cdef char f
    if info.fields == NULL:
        if info.code == 29:
            return n == 16
        return True
    while info.fields[i] != 0:
        f = info.fields[i]
        i += 1
        if f == b'B':
            at += 1
        elif f == b'S' or f == b'y':
            at += 2
        elif f == b'L' or f == b'I' or f == b'T':
            at += 4
        elif f == b'6':
            at += 16
        elif f == b'P':
            at += 8
        elif f == b'N':
            k = 0
            while True:
                if at >= n or p[at] > 63:
                    return False
                if p[at] == 0:
                    break
                k += p[at] + 1
                at += p[at] + 1
            at += 1
            if k + 1 > 255:
                return False
        elif f == b't' or f == b'q':
            if at >= n:
                return False
            at += 1 + p[at]
        elif f == b'M':
            if at >= n:
                return False
            while at < n:
                at += 1 + p[at]
        else:
            return True                           # the rest is opaque
        if at > n:
            return False
    return at == n



# ---------------------------------------------------------------------------------------
# Python API

def rdata_from_str(int rdtype, text) -> bytes:
    """The rdata of type ``rdtype`` written as ``text`` (str or bytes); RdataError with
    PowerDNS's reason when it cannot be read."""
    cdef bytes data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) \
        else bytes(text)
    cdef uint8_t *out
    cdef const char *why = NULL
    cdef int n
    if not 0 <= rdtype <= 65535:
        raise RdataError("type number out of range")
    out = <uint8_t *>malloc(RDATA_ROOM)
    if out == NULL:
        raise MemoryError()
    try:
        n = rdata_from_text(rdtype, data, len(data), out, &why)
        if n < 0:
            raise RdataError(why.decode())
        return PyBytes_FromStringAndSize(<char *>out, n)
    finally:
        free(out)


def name_from_str(text) -> bytes:
    """The wire form of a name in presentation form (absolute, trailing dot optional);
    RdataError when it is malformed."""
    cdef bytes data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) \
        else bytes(text)
    cdef uint8_t out[256]
    cdef const char *why = NULL
    cdef int n = name_from_text(data, len(data), out, &why)
    if n < 0:
        raise RdataError(why.decode())
    return out[:n]


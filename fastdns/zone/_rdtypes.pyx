# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The record types PowerDNS Authoritative 4.7 knows (its reportAllTypes), by number and
by name, each with the fields its data is read by.

A type's fields are a program of letters that fastdns.zone._rdfields.rd_fields runs; the
types whose data has a shape of its own (NSEC3, SVCB, LOC, APL...) have no program and are
read by fastdns.zone._rdspecial and _rdsvcb. The meta types (OPT, TSIG, AXFR...) are known
by name but are never zone data.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns.zone._chars cimport is_digit, upper

# What PowerDNS 4.7 knows (reportAllTypes), with its field readers as letters:
#   B S L  8, 16 and 32-bit numbers      I 6  IPv4, IPv6 address      N  a name
#   t      one character-string           M  character-strings to the end
#   U      character-strings to the end, without their length octets (URI, CAA value)
#   q      a word up to the next space, with a length octet (CAA tag)
#   b      base64 to the end              x  hex to the end          y  a type
#   T      a time (YYYYMMDDHHmmSS, or seconds)    W  a type bitmap to the end (NSEC)
#   P      a 64-bit node or locator ID written as four groups of hex (ILNP)
cdef TypeInfo TYPES[64]
cdef int NTYPES = 0


cdef void _type(uint16_t code, const char *name, const char *fields) noexcept:
    global NTYPES
    TYPES[NTYPES].code = code
    TYPES[NTYPES].name = name
    TYPES[NTYPES].fields = fields
    NTYPES += 1


# the common types first: type_from_text scans in this order
_type(1, b"A", b"I")
_type(28, b"AAAA", b"6")
_type(16, b"TXT", b"M")
_type(15, b"MX", b"SN")
_type(5, b"CNAME", b"N")
_type(2, b"NS", b"N")
_type(6, b"SOA", b"NNLLLLL")
_type(12, b"PTR", b"N")
_type(33, b"SRV", b"SSSN")
_type(257, b"CAA", b"BqU")
_type(99, b"SPF", b"M")
_type(43, b"DS", b"SBBx")
_type(48, b"DNSKEY", b"SBBb")
_type(46, b"RRSIG", b"yBBLTTSNb")
_type(47, b"NSEC", b"NW")
_type(50, b"NSEC3", NULL)
_type(51, b"NSEC3PARAM", NULL)
_type(52, b"TLSA", b"BBBx")
_type(44, b"SSHFP", b"BBx")
_type(35, b"NAPTR", b"SStttN")
_type(64, b"SVCB", NULL)
_type(65, b"HTTPS", NULL)
_type(65401, b"ALIAS", b"N")
_type(65402, b"LUA", b"yM")
_type(39, b"DNAME", b"N")
_type(13, b"HINFO", b"tt")
_type(17, b"RP", b"NN")
_type(18, b"AFSDB", b"SN")
_type(29, b"LOC", NULL)
_type(7, b"MB", b"N")
_type(8, b"MG", b"N")
_type(9, b"MR", b"N")
_type(14, b"MINFO", b"NN")
_type(25, b"KEY", b"SBBb")
_type(36, b"KX", b"SN")
_type(37, b"CERT", b"SSBb")
_type(42, b"APL", NULL)
_type(45, b"IPSECKEY", NULL)
_type(49, b"DHCID", b"b")
_type(57, b"RKEY", b"SBBb")
_type(53, b"SMIMEA", b"BBBx")
_type(59, b"CDS", b"SBBx")
_type(60, b"CDNSKEY", b"SBBb")
_type(61, b"OPENPGPKEY", b"b")
_type(62, b"CSYNC", b"LSW")
_type(63, b"ZONEMD", b"LBBx")
_type(104, b"NID", b"SP")
_type(105, b"L32", b"SI")
_type(106, b"L64", b"SP")
_type(107, b"LP", b"SN")
_type(108, b"EUI48", NULL)
_type(109, b"EUI64", NULL)
_type(256, b"URI", b"SSU")
_type(32769, b"DLV", b"SBBx")
# meta types: PowerDNS knows their names; they are never zone data (fastdns.zone.check)
_type(41, b"OPT", b"")
_type(249, b"TKEY", b"")
_type(250, b"TSIG", b"")
_type(251, b"IXFR", b"")
_type(252, b"AXFR", b"")
_type(255, b"ANY", b"")


# ---------------------------------------------------------------------------------------
# types

cdef int type_from_text(const uint8_t *text, Py_ssize_t n) noexcept nogil:
    cdef int i, j
    cdef const char *name
    cdef uint32_t v
    if n == 1 and upper(text[0]) == 65:                      # the commonest first
        return 1
    if n == 4 and upper(text[0]) == 65 and upper(text[1]) == 65 and upper(text[2]) == 65 \
            and upper(text[3]) == 65:
        return 28
    for i in range(NTYPES):
        if n == 0 or upper(text[0]) != <uint8_t>TYPES[i].name[0]:
            continue
        name = TYPES[i].name
        j = 0
        while j < n and name[j] != 0 and upper(text[j]) == <uint8_t>name[j]:
            j += 1
        if j == n and name[j] == 0:
            return TYPES[i].code
    if n > 4 and upper(text[0]) == 84 and upper(text[1]) == 89 and upper(text[2]) == 80 \
            and upper(text[3]) == 69:                 # TYPEnnn
        v = 0
        for j in range(4, n):
            if not is_digit(text[j]):
                return -1
            v = v * 10 + (text[j] - 48)
            if v > 65535:
                return -1
        return v
    return -1


cdef TypeTable type_table() noexcept nogil:
    cdef TypeTable table
    table.types = TYPES
    table.n = NTYPES
    return table


# ---------------------------------------------------------------------------------------
# Python API

class RdataError(ValueError):
    """Record data that cannot be read for its type."""


def type_code(text) -> int:
    """The number of a type as PowerDNS names it (any case), or of ``TYPEnnn``;
    RdataError when PowerDNS does not know it."""
    cdef bytes data = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    cdef int code = type_from_text(data, len(data))
    if code < 0:
        raise RdataError(f"unknown record type '{text}'")
    return code


def type_name(int code) -> str:
    """PowerDNS's name of type ``code``, or ``TYPEnnn``."""
    cdef const TypeInfo *info = type_in(type_table(), code) if 0 <= code <= 65535 else NULL
    if info == NULL:
        return f"TYPE{code}"
    return info.name.decode()


def type_names() -> dict:
    """Every type PowerDNS knows: number → name (meta types included)."""
    return {TYPES[i].code: TYPES[i].name.decode() for i in range(NTYPES)}


def zone_data_type(int code) -> bool:
    """Can records of type ``code`` be zone data (not a meta or query type)?"""
    return 0 <= code <= 65535 and zone_data(code)


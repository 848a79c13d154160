# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Record data from text, as PowerDNS Authoritative 4.7 reads it, for every type it knows.

PowerDNS turns a record's text (a zone file's data after the type, or ``records.content``
in SQL) into rdata with one reader per field kind (its RecordTextReader), and a table of
types saying which fields each one has. This module is that reader and that table in C,
so that a zone file, an SQL row, fastdns-util and the API all give the same rdata, with no
Python object per record:

- numbers are decimal and end at the first non-digit (``10mail.example.`` is MX 10 and a
  name); names are absolute with or without their trailing dot, with ``\\X`` and ``\\DDD``
  escapes; IPv4 addresses take leading zeros; IPv6 addresses are anything inet_pton reads;
- a character-string is quoted, or one unquoted word of letters and digits that ends the
  data; TXT data that does not start with a quote is one string (PowerDNS quotes it);
  strings longer than 255 octets are cut into 255-octet strings (RFC 1035 §3.3 allows no
  more on the wire); ``\\DDD`` above 255 wraps, as in PowerDNS;
- base64 may hold spaces, hex may hold anything that is not a letter or digit (DS, TLSA);
- data left over after the last field is an error.

Where PowerDNS refuses what an RFC allows, the RFC is followed: RFC 3597's generic
``\\# length hex`` is read for every type, not only for the ones PowerDNS does not know
(the rdata must then be well formed for its type). docs/differences.md lists these.

``ipv4hint=auto`` and ``ipv6hint=auto`` in SVCB and HTTPS (PowerDNS's svc-autohints) have
no wire form: they are kept as the key with an empty value, which RFC 9460 forbids on the
wire, for the image builder to fill in or drop (fastdns.zone._imagebuild).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)

cdef extern from "<sys/socket.h>" nogil:
    int AF_INET
    int AF_INET6

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct tm:
        int tm_sec
        int tm_min
        int tm_hour
        int tm_mday
        int tm_mon
        int tm_year
    time_t timegm(tm *t)

ctypedef struct Src:
    const uint8_t *s
    Py_ssize_t pos
    Py_ssize_t end
    const char *why

ctypedef struct Dst:
    uint8_t *p
    int n
    int cap                    # the most octets it may hold

cdef uint64_t U32_MAX = 0xFFFFFFFFU
cdef int64_t LAT_ZERO = (<int64_t>1) << 31     # RFC 1876: the equator, the prime meridian

cdef enum:
    SVC_PARAMS_MAX = 64

ctypedef struct TypeInfo:
    uint16_t code
    const char *name
    # the fields, one letter each (see ``fields``); NULL: read by a function of its own
    const char *fields

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

cdef const char *E_MISSING = b"missing field at the end of record content"
cdef const char *E_TRAILING = b"trailing data after the record content"
cdef const char *E_LONG = b"rdata longer than 65535 octets"
cdef const char *E_MEMORY = b"out of memory"
cdef const char *E_DIGITS = b"expected digits"
cdef const char *E_NUMBER = b"number too large"
cdef const char *E_U16 = b"overflow reading 16 bit integer"
cdef const char *E_U8 = b"overflow reading 8 bit integer"
cdef const char *E_IP = b"unable to parse IP address"
cdef const char *E_IP6 = b"unable to parse IPv6 address"
cdef const char *E_QUOTE = b"data field should start with a quote"
cdef const char *E_UNQUOTE = b"data field should end on a quote"
cdef const char *E_ESCAPE = b"bad escape in a character-string"
cdef const char *E_HEX = b"bad hexadecimal data"
cdef const char *E_BASE64 = b"bad base64 data"
cdef const char *E_TYPE = b"unknown record type"
cdef const char *E_TIME = b"unable to parse a time"
cdef const char *E_NAME_EMPTY = b"empty label in a name"
cdef const char *E_NAME_LABEL = b"label longer than 63 octets"
cdef const char *E_NAME_LONG = b"name longer than 255 octets"
cdef const char *E_NAME_ESCAPE = b"bad escape in a name"
cdef const char *E_GENERIC = b"bad generic rdata (\\# length hex)"
cdef const char *E_GENERIC_FORM = b"generic rdata not well formed for its type"
cdef const char *E_NEED_GENERIC = b"type known only by number: its data must be \\# length hex"
cdef const char *E_META = b"not a type of zone data"
cdef const char *E_LOC = b"unable to parse LOC content"
cdef const char *E_APL = b"unable to parse APL content"
cdef const char *E_EUI = b"unable to parse EUI address"
cdef const char *E_IPSECKEY = b"bad IPSECKEY gateway type or algorithm"
cdef const char *E_CERT = b"CERT type 0 is reserved"
cdef const char *E_SVC_KEY = b"unknown SVCB parameter key"
cdef const char *E_SVC_VALUE = b"bad SVCB parameter value"
cdef const char *E_SVC_DUP = b"SVCB mandatory key given twice"
cdef const char *E_NODE = b"bad 64-bit node or locator ID"


# ---------------------------------------------------------------------------------------
# characters

cdef inline bint is_alnum(uint8_t c) noexcept nogil:
    return is_digit(c) or 65 <= c <= 90 or 97 <= c <= 122


cdef inline int hexval(uint8_t c) noexcept nogil:
    if is_digit(c):
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline uint8_t upper(uint8_t c) noexcept nogil:
    return c - 32 if 97 <= c <= 122 else c


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


cdef bint zone_data(uint16_t code) noexcept nogil:
    """Can records of this type be zone data (RFC 6895 §3.1: not a meta or query type)?"""
    return not (code == 0 or code == 41 or 249 <= code <= 255)


cdef const TypeInfo *type_info(uint16_t code) noexcept nogil:
    cdef int i
    for i in range(NTYPES):
        if TYPES[i].code == code:
            return &TYPES[i]
    return NULL


# ---------------------------------------------------------------------------------------
# names

cdef int name_from_text(const uint8_t *text, Py_ssize_t n, uint8_t *out,
                        const char **why) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int o = 1            # where the next octet goes
    cdef int w = 0            # the current label's length octet
    cdef int ll = 0
    cdef uint8_t c
    if n == 0 or (n == 1 and text[0] == 46):
        out[0] = 0
        return 1
    cdef Py_ssize_t j
    while i < n:
        j = i                                     # a run of plain octets, copied at once
        while j < n and text[j] != 46 and text[j] != 92:
            j += 1
        if j > i:
            if ll + (j - i) > 63:
                why[0] = E_NAME_LABEL
                return -1
            if o + (j - i) > 255:
                why[0] = E_NAME_LONG
                return -1
            memcpy(out + o, text + i, j - i)
            o += j - i
            ll += j - i
            i = j
            if i >= n:
                break
        c = text[i]
        if c == 46:                               # .
            if ll == 0:
                why[0] = E_NAME_EMPTY
                return -1
            out[w] = ll
            w = o                                 # o <= 255 here: w stays inside out
            o += 1
            ll = 0
            i += 1
            continue
        if c == 92:                               # \X or \DDD
            if i + 1 >= n:
                why[0] = E_NAME_ESCAPE
                return -1
            c = text[i + 1]
            if is_digit(c):
                if i + 3 >= n or not (is_digit(text[i + 2]) and is_digit(text[i + 3])):
                    why[0] = E_NAME_ESCAPE
                    return -1
                c = <uint8_t>((c - 48) * 100 + (text[i + 2] - 48) * 10 + (text[i + 3] - 48))
                i += 4
            else:
                i += 2
        else:
            i += 1
        if ll == 63:
            why[0] = E_NAME_LABEL
            return -1
        if o > 254:
            why[0] = E_NAME_LONG
            return -1
        out[o] = c
        o += 1
        ll += 1
    if ll:
        if o > 254:                               # no room for the root label
            why[0] = E_NAME_LONG
            return -1
        out[w] = ll
        out[o] = 0
        return o + 1
    out[w] = 0                                    # ended in a dot: the root label
    if o > 255:
        why[0] = E_NAME_LONG
        return -1
    return o


cdef int rd_name(Src *s, Dst *d) noexcept nogil:
    cdef Py_ssize_t end
    cdef int n
    if skip(s) < 0:
        return -1
    end = word_end(s)
    n = name_from_text(s.s + s.pos, end - s.pos, d.p + d.n, &s.why)   # d.p has 256 spare
    if n < 0:
        return -1
    if d.n + n > d.cap:
        return fail(s, E_LONG)
    d.n += n
    s.pos = end
    return 0


# ---------------------------------------------------------------------------------------
# numbers and addresses

cdef int rd_number(Src *s, uint64_t limit, const char *overflow, uint32_t *v) noexcept nogil:
    """A decimal number up to the first non-digit (RecordTextReader::xfr32BitInt)."""
    cdef uint64_t x = 0
    if skip(s) < 0:
        return -1
    if not is_digit(s.s[s.pos]):
        return fail(s, E_DIGITS)
    while s.pos < s.end and is_digit(s.s[s.pos]):
        x = x * 10 + (s.s[s.pos] - 48)
        if x > U32_MAX:
            return fail(s, E_NUMBER)
        s.pos += 1
    if x > limit:
        return fail(s, overflow)
    v[0] = <uint32_t>x
    return 0


cdef int rd_ipv4(Src *s, Dst *d, bint comma_ends) noexcept nogil:
    """Four decimal octets; a blank (or, in a list, a comma) ends the address."""
    cdef uint32_t octet = 0
    cdef int count = 0
    cdef bint digit = False
    cdef uint8_t addr[4]
    cdef uint8_t c
    if skip(s) < 0:
        return -1
    if not is_digit(s.s[s.pos]):
        return fail(s, E_IP)
    while s.pos < s.end:
        c = s.s[s.pos]
        if c == 46:
            if not digit or count == 3:
                return fail(s, E_IP)
            addr[count] = octet
            count += 1
            octet = 0
            digit = False
        elif is_digit(c):
            octet = octet * 10 + (c - 48)
            if octet > 255:
                return fail(s, E_IP)
            digit = True
        elif is_space(c) or (comma_ends and c == 44):
            break
        else:
            return fail(s, E_IP)
        s.pos += 1
    if count != 3 or not digit:
        return fail(s, E_IP)
    addr[3] = octet
    return put(s, d, addr, 4)


cdef int rd_ipv6(Src *s, Dst *d) noexcept nogil:
    """The longest run of hex digits, colons and dots, read by inet_pton."""
    cdef char text[64]
    cdef uint8_t addr[16]
    cdef Py_ssize_t n = 0
    cdef uint8_t c
    cdef int r
    if skip(s) < 0:
        return -1
    while s.pos + n < s.end:
        c = s.s[s.pos + n]
        if not (hexval(c) >= 0 or c == 58 or c == 46):
            break
        n += 1
    if n == 0 or n >= 64:
        return fail(s, E_IP6)
    r = _ipv6_hex(s.s + s.pos, n, addr)
    if r < 0:                                     # a dotted quad at the end: libc's
        memcpy(text, s.s + s.pos, n)
        text[n] = 0
        r = inet_pton(AF_INET6, text, addr)
    if r != 1:
        return fail(s, E_IP6)
    s.pos += n
    return put(s, d, addr, 16)


cdef int _ipv6_hex(const uint8_t *p, Py_ssize_t n, uint8_t *out) noexcept nogil:
    """An IPv6 address of hex groups and colons, as inet_pton reads it: 1, 0 if it is not
    one, -1 for one with a dot (an IPv4 address at the end: inet_pton's to read)."""
    cdef uint16_t groups[8]
    cdef int count = 0, gap = -1, k, h, g
    cdef uint32_t v
    cdef Py_ssize_t i = 0
    if n >= 2 and p[0] == 58 and p[1] == 58:
        gap = 0
        i = 2
    elif n >= 1 and p[0] == 58:
        return 0
    while i < n:
        v = 0
        k = 0
        while i < n and k < 5:
            h = hexval(p[i])
            if h < 0:
                break
            v = v * 16 + h
            k += 1
            i += 1
        if i < n and p[i] == 46:
            return -1
        if k == 0 or k > 4 or count == 8:
            return 0
        groups[count] = v
        count += 1
        if i == n:
            break
        if p[i] != 58:
            return 0
        i += 1
        if i < n and p[i] == 58:
            if gap >= 0:
                return 0
            gap = count
            i += 1
        elif i == n:
            return 0                              # a colon alone at the end
    if (gap < 0 and count != 8) or (gap >= 0 and count > 7):
        return 0
    memset(out, 0, 16)
    for g in range(count):
        k = g if gap < 0 or g < gap else 8 - count + g
        out[2 * k] = groups[g] >> 8
        out[2 * k + 1] = groups[g] & 0xFF
    return 1


cdef int rd_node(Src *s, Dst *d) noexcept nogil:
    """An ILNP node or locator ID: 64 bits as four colon-separated groups of hex."""
    cdef char text[64]
    cdef uint8_t addr[16]
    cdef Py_ssize_t n = 0
    cdef uint8_t c
    if skip(s) < 0:
        return -1
    while s.pos + n < s.end:
        c = s.s[s.pos + n]
        if not (hexval(c) >= 0 or c == 58):
            break
        n += 1
    if n == 0 or n > 40:
        return fail(s, E_NODE)
    memcpy(text, s.s + s.pos, n)
    memcpy(text + n, b":0:0:0:0", 9)              # parsed as the top half of an IPv6 address
    if inet_pton(AF_INET6, text, addr) != 1:
        return fail(s, E_NODE)
    s.pos += n
    return put(s, d, addr, 8)


cdef int rd_time(Src *s, Dst *d) noexcept nogil:
    """An RRSIG time: seconds since the epoch, or YYYYMMDDHHmmSS (RFC 4034 §3.2)."""
    cdef uint64_t x = 0
    cdef Py_ssize_t start
    cdef tm t
    cdef int k
    if skip(s) < 0:
        return -1
    if not is_digit(s.s[s.pos]):
        return fail(s, E_DIGITS)
    start = s.pos
    while s.pos < s.end and is_digit(s.s[s.pos]):
        if s.pos - start < 19:
            x = x * 10 + (s.s[s.pos] - 48)
        s.pos += 1
    if x <= U32_MAX:
        return put32(s, d, <uint32_t>x)
    if s.pos - start != 14:
        return fail(s, E_TIME)
    memset(&t, 0, sizeof(t))
    t.tm_year = _digits(s.s + start, 4) - 1900
    t.tm_mon = _digits(s.s + start + 4, 2) - 1
    t.tm_mday = _digits(s.s + start + 6, 2)
    t.tm_hour = _digits(s.s + start + 8, 2)
    t.tm_min = _digits(s.s + start + 10, 2)
    t.tm_sec = _digits(s.s + start + 12, 2)
    return put32(s, d, <uint32_t>timegm(&t))


cdef inline int _digits(const uint8_t *p, int n) noexcept nogil:
    cdef int v = 0
    cdef int i
    for i in range(n):
        v = v * 10 + (p[i] - 48)
    return v


cdef int rd_type(Src *s, uint16_t *out) noexcept nogil:
    cdef Py_ssize_t end
    cdef int t
    if skip(s) < 0:
        return -1
    end = s.pos
    while end < s.end and not is_space(s.s[end]):
        end += 1
    t = type_from_text(s.s + s.pos, end - s.pos)
    if t < 0:
        return fail(s, E_TYPE)
    s.pos = end
    out[0] = t
    return 0


cdef int rd_bitmap(Src *s, Dst *d) noexcept nogil:
    """Types up to the end, as an NSEC type bitmap (RFC 4034 §4.1.2)."""
    cdef uint8_t bits[8192]
    cdef uint16_t t
    cdef int window, last
    memset(bits, 0, sizeof(bits))
    while True:
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos >= s.end:
            break
        if rd_type(s, &t) < 0:
            return -1
        bits[t >> 3] |= 0x80 >> (t & 7)
    for window in range(256):
        last = -1
        for t in range(32):
            if bits[window * 32 + t]:
                last = t
        if last >= 0:
            if put8(s, d, window) < 0 or put8(s, d, last + 1) < 0 \
                    or put(s, d, bits + window * 32, last + 1) < 0:
                return -1
    return 0


# ---------------------------------------------------------------------------------------
# character-strings (RecordTextReader::xfrText and PowerDNS's segmentDNSText)

cdef int rd_text(Src *s, Dst *d, bint multi, bint lengths) noexcept nogil:
    """Quoted strings (``multi``: up to the end), or an unquoted run of letters and digits
    that ends the data; each string is cut into pieces of at most 255 octets. Nothing left
    is one empty string (PowerDNS's xfrText)."""
    cdef Py_ssize_t p
    cdef int seg               # where the current piece's length octet is (-1: none)
    cdef int seglen
    cdef uint8_t c
    while s.pos < s.end and is_space(s.s[s.pos]):
        s.pos += 1
    if s.pos >= s.end:
        return put8(s, d, 0) if lengths else 0
    while True:
        if s.s[s.pos] != 34:
            p = s.pos
            while p < s.end and is_alnum(s.s[p]):
                p += 1
            if p != s.end:
                return fail(s, E_QUOTE)
            if lengths and put8(s, d, <uint8_t>(s.end - s.pos if s.end - s.pos < 255
                                                else 255)) < 0:
                return -1
            return _plain_pieces(s, d, lengths)
        s.pos += 1
        seg = -1
        seglen = 0
        if lengths:
            seg = d.n
            if put8(s, d, 0) < 0:
                return -1
        while True:
            if s.pos >= s.end:
                return fail(s, E_UNQUOTE)
            c = s.s[s.pos]
            if c == 34:
                s.pos += 1
                break
            if c != 92 and (not lengths or seglen < 255):
                # a run of plain octets, copied at once (up to a quote, an escape or the
                # end of a 255-octet piece)
                p = s.pos + 1
                while p < s.end and s.s[p] != 34 and s.s[p] != 92 \
                        and (not lengths or seglen + (p - s.pos) < 255):
                    p += 1
                if put(s, d, s.s + s.pos, <int>(p - s.pos)) < 0:
                    return -1
                seglen += p - s.pos
                s.pos = p
                continue
            if c == 92:
                if s.pos + 1 >= s.end:
                    return fail(s, E_UNQUOTE)
                c = s.s[s.pos + 1]
                if is_digit(c):
                    if s.pos + 3 >= s.end or not (is_digit(s.s[s.pos + 2])
                                                  and is_digit(s.s[s.pos + 3])):
                        return fail(s, E_ESCAPE)
                    c = <uint8_t>((c - 48) * 100 + (s.s[s.pos + 2] - 48) * 10
                                  + (s.s[s.pos + 3] - 48))
                    s.pos += 4
                else:
                    s.pos += 2
            else:
                s.pos += 1
            if lengths and seglen == 255:
                d.p[seg] = 255
                seg = d.n
                seglen = 0
                if put8(s, d, 0) < 0:
                    return -1
            if put8(s, d, c) < 0:
                return -1
            seglen += 1
        if lengths:
            d.p[seg] = seglen
        if not multi or s.pos >= s.end:
            return 0
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos >= s.end:
            return 0


cdef int _plain_pieces(Src *s, Dst *d, bint lengths) noexcept nogil:
    """The unquoted word from ``s.pos`` to the end, its first length octet written."""
    cdef Py_ssize_t n = s.end - s.pos
    cdef Py_ssize_t k
    while True:
        k = n if n < 255 else 255
        if put(s, d, s.s + s.pos, k) < 0:
            return -1
        s.pos += k
        n -= k
        if n == 0:
            return 0
        if lengths and put8(s, d, <uint8_t>(n if n < 255 else 255)) < 0:
            return -1


cdef int rd_word(Src *s, Dst *d) noexcept nogil:
    """Up to the next space, with a length octet (xfrUnquotedText: the CAA tag)."""
    cdef Py_ssize_t end
    if skip(s) < 0:
        return -1
    end = s.pos + 1
    while end < s.end and s.s[end] != 32:
        end += 1
    if end - s.pos > 255:
        return fail(s, E_LONG)
    if put8(s, d, end - s.pos) < 0 or put(s, d, s.s + s.pos, end - s.pos) < 0:
        return -1
    s.pos = end
    return 0


# ---------------------------------------------------------------------------------------
# blobs

cdef inline int b64val(uint8_t c) noexcept nogil:
    if 65 <= c <= 90:
        return c - 65
    if 97 <= c <= 122:
        return c - 71
    if is_digit(c):
        return c + 4
    if c == 43:
        return 62
    if c == 47:
        return 63
    return -1


cdef int rd_base64(Src *s, Dst *d) noexcept nogil:
    """Base64 to the end (RecordTextReader::xfrBlob: blanks allowed anywhere)."""
    cdef uint32_t acc = 0
    cdef int bits = 0
    cdef int v
    cdef int pad = 0
    cdef uint8_t c
    if skip(s) < 0:
        return -1
    while s.pos < s.end:
        c = s.s[s.pos]
        if is_space(c):
            s.pos += 1
            continue
        if c == 61:                               # =
            pad += 1
            s.pos += 1
            continue
        v = b64val(c)
        if v < 0:
            break
        if pad:
            return fail(s, E_BASE64)
        acc = (acc << 6) | v
        bits += 6
        if bits >= 8:
            bits -= 8
            if put8(s, d, (acc >> bits) & 0xFF) < 0:
                return -1
        s.pos += 1
    if bits >= 6 or pad > 2:
        return fail(s, E_BASE64)
    return 0


cdef int rd_hex(Src *s, Dst *d, bint to_end) noexcept nogil:
    """Hex digits (RecordTextReader::xfrHexBlob): up to the end, skipping what is not a
    letter or digit, or (``to_end`` false) up to the next blank; ``-`` alone is empty. An
    odd last digit is the high half of a last octet (PowerDNS 4.7)."""
    cdef Py_ssize_t end
    cdef int hi = -1
    cdef int v
    cdef uint8_t c
    if skip(s) < 0:
        return -1
    end = s.end
    if not to_end:
        end = s.pos
        while end < s.end and not is_space(s.s[end]):
            end += 1
    if end - s.pos == 1 and s.s[s.pos] == 45:
        s.pos = end
        return 0
    while s.pos < end:
        c = s.s[s.pos]
        s.pos += 1
        if not is_alnum(c):
            continue
        v = hexval(c)
        if v < 0:
            return fail(s, E_HEX)
        if hi < 0:
            hi = v
        else:
            if put8(s, d, (hi << 4) | v) < 0:
                return -1
            hi = -1
    if hi >= 0:
        return put8(s, d, hi << 4)
    return 0


cdef int rd_base32hex(Src *s, Dst *d) noexcept nogil:
    """A base32hex word (RFC 4648 §7, NSEC3's next hashed owner), with a length octet;
    other characters are skipped, as PowerDNS's decoder does."""
    cdef int at = d.n
    cdef uint64_t acc = 0
    cdef int bits = 0
    cdef int v
    cdef uint8_t c
    if skip(s) < 0 or put8(s, d, 0) < 0:
        return -1
    while s.pos < s.end and not is_space(s.s[s.pos]):
        c = upper(s.s[s.pos])
        s.pos += 1
        if c == 61:
            continue
        if is_digit(c):
            v = c - 48
        elif 65 <= c <= 86:
            v = c - 55
        else:
            continue
        acc = (acc << 5) | v
        bits += 5
        if bits >= 8:
            bits -= 8
            if put8(s, d, (acc >> bits) & 0xFF) < 0:
                return -1
    if d.n - at - 1 > 255:
        return fail(s, E_LONG)
    d.p[at] = d.n - at - 1
    return 0


# ---------------------------------------------------------------------------------------
# the field programs

cdef int rd_fields(Src *s, Dst *d, const char *fields) noexcept nogil:
    cdef int i = 0
    cdef uint32_t v
    cdef uint16_t t
    cdef char f
    while fields[i] != 0:
        f = fields[i]
        i += 1
        if f == b'B':
            if rd_number(s, 0xFF, E_U8, &v) < 0 or put8(s, d, v) < 0:
                return -1
        elif f == b'S':
            if rd_number(s, 0xFFFF, E_U16, &v) < 0 or put16(s, d, v) < 0:
                return -1
        elif f == b'L':
            if rd_number(s, U32_MAX, E_NUMBER, &v) < 0 or put32(s, d, v) < 0:
                return -1
        elif f == b'I':
            if rd_ipv4(s, d, False) < 0:
                return -1
        elif f == b'6':
            if rd_ipv6(s, d) < 0:
                return -1
        elif f == b'N':
            if rd_name(s, d) < 0:
                return -1
        elif f == b't':
            if rd_text(s, d, False, True) < 0:
                return -1
        elif f == b'M':
            if rd_text(s, d, True, True) < 0:
                return -1
        elif f == b'U':
            if rd_text(s, d, True, False) < 0:
                return -1
        elif f == b'q':
            if rd_word(s, d) < 0:
                return -1
        elif f == b'b':
            if rd_base64(s, d) < 0:
                return -1
        elif f == b'x':
            if rd_hex(s, d, True) < 0:
                return -1
        elif f == b'T':
            if rd_time(s, d) < 0:
                return -1
        elif f == b'y':
            if rd_type(s, &t) < 0 or put16(s, d, t) < 0:
                return -1
        elif f == b'W':
            if rd_bitmap(s, d) < 0:
                return -1
        elif f == b'P':
            if rd_node(s, d) < 0:
                return -1
    return 0


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
    info = type_info(rdtype)
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
        r = rd_special(&s, &d, rdtype)
    if r == 0 and s.pos < s.end:
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos < s.end:
            r = fail(&s, E_TRAILING)
    if r == 0 and rdtype == 37 and d.n >= 2 and out[0] == 0 and out[1] == 0:
        r = fail(&s, E_CERT)
    why[0] = s.why
    return d.n if r == 0 else -1


cdef int rd_special(Src *s, Dst *d, uint16_t rdtype) noexcept nogil:
    cdef uint32_t v
    if rdtype == 50 or rdtype == 51:                  # NSEC3, NSEC3PARAM
        if rd_number(s, 0xFF, E_U8, &v) < 0 or put8(s, d, v) < 0:
            return -1
        if rd_number(s, 0xFF, E_U8, &v) < 0 or put8(s, d, v) < 0:
            return -1
        if rd_number(s, 0xFFFF, E_U16, &v) < 0 or put16(s, d, v) < 0:
            return -1
        if rd_salt(s, d) < 0:
            return -1
        if rdtype == 51:
            return 0
        if rd_base32hex(s, d) < 0:
            return -1
        return rd_bitmap(s, d)
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


cdef int rd_salt(Src *s, Dst *d) noexcept nogil:
    cdef int at = d.n
    if put8(s, d, 0) < 0 or rd_hex(s, d, False) < 0:
        return -1
    if d.n - at - 1 > 255:
        return fail(s, E_LONG)
    d.p[at] = d.n - at - 1
    return 0


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
    info = type_info(rdtype)
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
# types with readers of their own

cdef int rd_loc(Src *s, Dst *d) noexcept nogil:
    """RFC 1876 appendix A's loc_aton, as PowerDNS has it."""
    cdef uint32_t lat, lon
    cdef int which1 = 0, which2 = 0
    cdef int64_t meters = 0, frac = 0, sign = 1
    cdef uint8_t size = 0x12, horiz = 0x16, vert = 0x13
    cdef Py_ssize_t p = s.pos
    p = _latlon(s.s, p, s.end, &lat, &which1)
    p = _latlon(s.s, p, s.end, &lon, &which2)
    if which1 + which2 != 3:
        return fail(s, E_LOC)
    if p < s.end and s.s[p] == 45:
        sign = -1
        p += 1
    if p < s.end and s.s[p] == 43:
        p += 1
    while p < s.end and is_digit(s.s[p]):
        meters = meters * 10 + (s.s[p] - 48)
        if meters > 100000000:
            return fail(s, E_LOC)
        p += 1
    if p < s.end and s.s[p] == 46:
        p += 1
        if p < s.end and is_digit(s.s[p]):
            frac = (s.s[p] - 48) * 10
            p += 1
            if p < s.end and is_digit(s.s[p]):
                frac += s.s[p] - 48
                p += 1
    p = _next_field(s.s, p, s.end)
    if p < s.end:
        p = _precsize(s.s, p, s.end, &size)
        p = _next_field(s.s, p, s.end)
    if p < s.end:
        p = _precsize(s.s, p, s.end, &horiz)
        p = _next_field(s.s, p, s.end)
    if p < s.end:
        p = _precsize(s.s, p, s.end, &vert)
        p = _next_field(s.s, p, s.end)
    s.pos = s.end                                 # the rest is ignored, as in PowerDNS
    if put8(s, d, 0) < 0 or put8(s, d, size) < 0 or put8(s, d, horiz) < 0 \
            or put8(s, d, vert) < 0:
        return -1
    if put32(s, d, lat) < 0 or put32(s, d, lon) < 0:
        return -1
    return put32(s, d, <uint32_t>(10000000 + sign * (meters * 100 + frac)))


cdef Py_ssize_t _next_field(const uint8_t *t, Py_ssize_t p, Py_ssize_t end) noexcept nogil:
    while p < end and not is_space(t[p]):         # a unit ("m") or other trailing text
        p += 1
    while p < end and is_space(t[p]):
        p += 1
    return p


cdef Py_ssize_t _latlon(const uint8_t *t, Py_ssize_t p, Py_ssize_t end, uint32_t *out,
                        int *which) noexcept nogil:
    cdef int64_t deg = 0, mins = 0, secs = 0, frac = 0, value
    cdef uint8_t c
    while p < end and is_digit(t[p]):
        deg = deg * 10 + (t[p] - 48)
        if deg > 1000:
            deg = 1000
        p += 1
    while p < end and is_space(t[p]):
        p += 1
    if p < end and is_digit(t[p]):
        while p < end and is_digit(t[p]):
            mins = mins * 10 + (t[p] - 48)
            if mins > 1000:
                mins = 1000
            p += 1
        while p < end and is_space(t[p]):
            p += 1
        if p >= end or is_digit(t[p]):
            while p < end and is_digit(t[p]):
                secs = secs * 10 + (t[p] - 48)
                if secs > 1000:
                    secs = 1000
                p += 1
            if p < end and t[p] == 46:
                p += 1
                if p < end and is_digit(t[p]):
                    frac = (t[p] - 48) * 100
                    p += 1
                    if p < end and is_digit(t[p]):
                        frac += (t[p] - 48) * 10
                        p += 1
                        if p < end and is_digit(t[p]):
                            frac += t[p] - 48
                            p += 1
            while p < end and not is_space(t[p]):
                p += 1
            while p < end and is_space(t[p]):
                p += 1
    c = t[p] if p < end else 0
    value = ((deg * 60 + mins) * 60 + secs) * 1000 + frac
    if c == 78 or c == 110 or c == 69 or c == 101:        # N n E e
        out[0] = <uint32_t>(LAT_ZERO + value)
    elif c == 83 or c == 115 or c == 87 or c == 119:      # S s W w
        out[0] = <uint32_t>(LAT_ZERO - value)
    else:
        out[0] = 0
    if c == 78 or c == 110 or c == 83 or c == 115:
        which[0] = 1
    elif c == 69 or c == 101 or c == 87 or c == 119:
        which[0] = 2
    else:
        which[0] = 0
        return p
    p += 1
    return _next_field(t, p, end)


cdef Py_ssize_t _precsize(const uint8_t *t, Py_ssize_t p, Py_ssize_t end,
                          uint8_t *out) noexcept nogil:
    """A size or precision in metres as RFC 1876's mantissa/exponent octet."""
    cdef uint64_t meters = 0, cm = 0
    cdef int exponent = 0
    cdef uint64_t mantissa
    while p < end and is_digit(t[p]):
        meters = meters * 10 + (t[p] - 48)
        if meters > 100000000:
            meters = 100000000
        p += 1
    if p < end and t[p] == 46:
        p += 1
        if p < end and is_digit(t[p]):
            cm = (t[p] - 48) * 10
            p += 1
            if p < end and is_digit(t[p]):
                cm += t[p] - 48
                p += 1
    cm += meters * 100
    mantissa = cm
    while exponent < 9 and mantissa >= 10:
        mantissa //= 10
        exponent += 1
    out[0] = (mantissa << 4) | exponent
    return p


cdef int rd_apl(Src *s, Dst *d) noexcept nogil:
    """RFC 3123 items ``[!]family:address/prefix``, separated by spaces."""
    cdef Py_ssize_t end, slash, p
    cdef uint8_t addr[16]
    cdef char text[64]
    cdef int family, bits, size, k, afd
    cdef bint negate
    while True:
        while s.pos < s.end and s.s[s.pos] == 32:
            s.pos += 1
        if s.pos >= s.end:
            return 0
        end = s.pos
        while end < s.end and s.s[end] != 32:
            end += 1
        negate = s.s[s.pos] == 33
        p = s.pos + negate
        if end - p < 4 or s.s[p + 1] != 58 or s.s[p] not in (49, 50):
            return fail(s, E_APL)
        family = s.s[p] - 48
        p += 2
        slash = p
        while slash < end and s.s[slash] != 47:
            slash += 1
        if slash == end or slash - p >= 64 or slash + 1 == end:
            return fail(s, E_APL)
        bits = 0
        for k in range(slash + 1, end):
            if not is_digit(s.s[k]):
                return fail(s, E_APL)
            bits = bits * 10 + (s.s[k] - 48)
            if bits > 255:
                return fail(s, E_APL)
        memcpy(text, s.s + p, slash - p)
        text[slash - p] = 0
        size = 4 if family == 1 else 16
        if inet_pton(AF_INET if family == 1 else AF_INET6, text, addr) != 1:
            return fail(s, E_APL)
        for k in range(size):                     # the network: host bits cleared
            if k * 8 >= bits:
                addr[k] = 0
            elif k * 8 + 8 > bits:
                addr[k] &= <uint8_t>(0xFF << (8 - (bits - k * 8)))
        afd = size
        while afd > 0 and addr[afd - 1] == 0:     # RFC 3123 §4.1: no trailing zeros
            afd -= 1
        if put16(s, d, family) < 0 or put8(s, d, bits) < 0 \
                or put8(s, d, (0x80 if negate else 0) | afd) < 0 or put(s, d, addr, afd) < 0:
            return -1
        s.pos = end


cdef int rd_eui(Src *s, Dst *d, int groups) noexcept nogil:
    """EUI48/EUI64 (RFC 7043): hex pairs joined by dashes."""
    cdef uint8_t v[8]
    cdef int g, k, h
    for g in range(groups):
        if g and (s.pos >= s.end or s.s[s.pos] != 45):
            return fail(s, E_EUI)
        if g:
            s.pos += 1
        k = 0
        v[g] = 0
        while k < 2 and s.pos < s.end:
            h = hexval(s.s[s.pos])
            if h < 0:
                break
            v[g] = (v[g] << 4) | h
            s.pos += 1
            k += 1
        if k == 0:
            return fail(s, E_EUI)
    s.pos = s.end                                 # PowerDNS ignores what follows
    return put(s, d, v, groups)


cdef int rd_ipseckey(Src *s, Dst *d) noexcept nogil:
    """RFC 4025: precedence, gateway type, algorithm, gateway, public key."""
    cdef uint32_t precedence, gateway, algorithm
    if rd_number(s, 0xFF, E_U8, &precedence) < 0 or put8(s, d, precedence) < 0:
        return -1
    if rd_number(s, 0xFF, E_U8, &gateway) < 0 or put8(s, d, gateway) < 0:
        return -1
    if rd_number(s, 0xFF, E_U8, &algorithm) < 0 or put8(s, d, algorithm) < 0:
        return -1
    if gateway == 1:
        if rd_ipv4(s, d, False) < 0:
            return -1
    elif gateway == 2:
        if rd_ipv6(s, d) < 0:
            return -1
    elif gateway == 3:
        if rd_name(s, d) < 0:
            return -1
    elif gateway != 0:
        return fail(s, E_IPSECKEY)
    if algorithm == 1 or algorithm == 2:
        return rd_base64(s, d)
    if algorithm != 0:
        return fail(s, E_IPSECKEY)
    return 0


# ---------------------------------------------------------------------------------------
# SVCB and HTTPS (RFC 9460 §2.1 presentation format)

ctypedef struct Param:
    uint16_t key
    int start                  # where its value is in the scratch area
    int length


cdef int rd_svcb(Src *s, Dst *d) noexcept nogil:
    cdef uint32_t priority
    cdef Param params[SVC_PARAMS_MAX]
    cdef int nparams = 0
    cdef uint8_t *scratch
    cdef Dst values
    cdef Py_ssize_t kend
    cdef int key, i, j
    cdef Param tmp
    if rd_number(s, 0xFFFF, E_U16, &priority) < 0 or put16(s, d, priority) < 0:
        return -1
    if rd_name(s, d) < 0:
        return -1
    if priority == 0:
        return 0                                  # AliasMode: no parameters (RFC 9460 §2.4.2)
    scratch = <uint8_t *>malloc(RDATA_ROOM)
    if scratch == NULL:
        return fail(s, E_LONG)
    values.p = scratch
    values.n = 0
    values.cap = RDATA_MAX
    while True:
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos >= s.end:
            break
        kend = s.pos
        while kend < s.end and s.s[kend] != 61 and not is_space(s.s[kend]):
            kend += 1
        key = _svc_key(s.s + s.pos, kend - s.pos)
        if key < 0 or nparams == SVC_PARAMS_MAX:
            free(scratch)
            return fail(s, E_SVC_KEY)
        s.pos = kend
        params[nparams].key = key
        params[nparams].start = values.n
        if _svc_value(s, &values, key) < 0:
            free(scratch)
            return -1
        params[nparams].length = values.n - params[nparams].start
        for i in range(nparams):
            if params[i].key == key:              # given again: the first counts (PowerDNS)
                break
        else:
            nparams += 1
    for i in range(1, nparams):                   # in key order (RFC 9460 §2.2)
        tmp = params[i]
        j = i
        while j > 0 and params[j - 1].key > tmp.key:
            params[j] = params[j - 1]
            j -= 1
        params[j] = tmp
    for i in range(nparams):
        if put16(s, d, params[i].key) < 0 or put16(s, d, params[i].length) < 0 \
                or put(s, d, scratch + params[i].start, params[i].length) < 0:
            free(scratch)
            return -1
    free(scratch)
    return 0


cdef int _svc_key(const uint8_t *k, Py_ssize_t n) noexcept nogil:
    cdef uint32_t v = 0
    cdef Py_ssize_t i
    if _eq(k, n, b"mandatory"):
        return SVC_MANDATORY
    if _eq(k, n, b"alpn"):
        return SVC_ALPN
    if _eq(k, n, b"no-default-alpn"):
        return SVC_NO_DEFAULT_ALPN
    if _eq(k, n, b"port"):
        return SVC_PORT
    if _eq(k, n, b"ipv4hint"):
        return SVC_IPV4HINT
    if _eq(k, n, b"ech"):
        return SVC_ECH
    if _eq(k, n, b"ipv6hint"):
        return SVC_IPV6HINT
    if n <= 3 or k[0] != 107 or k[1] != 101 or k[2] != 121:         # keyNNNNN
        return -1
    for i in range(3, n):
        if not is_digit(k[i]):
            return -1
        v = v * 10 + (k[i] - 48)
        if v > 65534:
            return -1
    return v


cdef inline bint _eq(const uint8_t *k, Py_ssize_t n, const char *word) noexcept nogil:
    cdef Py_ssize_t i = 0
    while i < n and word[i] != 0 and k[i] == <uint8_t>word[i]:
        i += 1
    return i == n and word[i] == 0


cdef int _svc_value(Src *s, Dst *v, int key) noexcept nogil:
    """The value after ``key`` (``=value``, quoted or not) in its wire form."""
    cdef uint8_t raw[4096]
    cdef int n
    cdef uint32_t port
    cdef Src inner
    cdef Dst sub
    if s.pos >= s.end or s.s[s.pos] != 61:
        if key == SVC_NO_DEFAULT_ALPN:
            return 0
        return fail(s, E_SVC_VALUE)
    s.pos += 1
    if key == SVC_NO_DEFAULT_ALPN:
        return fail(s, E_SVC_VALUE)
    n = _svc_string(s, raw, sizeof(raw))
    if n <= 0:
        return fail(s, E_SVC_VALUE)
    inner.s = raw
    inner.pos = 0
    inner.end = n
    inner.why = NULL
    if key == SVC_PORT:
        if rd_number(&inner, 0xFFFF, E_U16, &port) < 0 or inner.pos != n:
            return fail(s, E_SVC_VALUE)
        return put16(s, v, port)
    if key == SVC_ECH:
        sub.p = v.p + v.n
        sub.n = 0
        sub.cap = v.cap - v.n
        if rd_base64(&inner, &sub) < 0 or inner.pos != n:
            return fail(s, E_SVC_VALUE)
        v.n += sub.n
        return 0
    if key == SVC_IPV4HINT or key == SVC_IPV6HINT:
        if n == 4 and raw[0] == 97 and raw[1] == 117 and raw[2] == 116 and raw[3] == 111:
            return 0                              # "auto": an empty value, for the builder
        while inner.pos < n:
            if key == SVC_IPV4HINT:
                if rd_ipv4(&inner, v, True) < 0:
                    return fail(s, E_SVC_VALUE)
            elif rd_ipv6(&inner, v) < 0:
                return fail(s, E_SVC_VALUE)
            if inner.pos < n:
                if raw[inner.pos] != 44 or inner.pos + 1 == n:
                    return fail(s, E_SVC_VALUE)
                inner.pos += 1
        return 0
    if key == SVC_ALPN or key == SVC_MANDATORY:
        return _svc_list(s, v, raw, n, key)
    return put(s, v, raw, n)                      # keyNNNNN: the octets themselves


cdef int _svc_list(Src *s, Dst *v, const uint8_t *raw, int n, int key) noexcept nogil:
    """A comma-separated list (``\\,`` is a comma inside an item): alpn ids, each with a
    length octet, or mandatory keys as sorted 16-bit numbers."""
    cdef uint8_t item[256]
    cdef uint16_t keys[SVC_PARAMS_MAX]
    cdef int nkeys = 0
    cdef int i = 0
    cdef int k, j, m
    cdef uint16_t t
    while i <= n:
        m = 0
        while i < n and raw[i] != 44:
            if raw[i] == 92 and i + 1 < n:
                i += 1
            if m == 255:
                return fail(s, E_SVC_VALUE)
            item[m] = raw[i]
            m += 1
            i += 1
        i += 1
        if m == 0:
            return fail(s, E_SVC_VALUE)
        if key == SVC_ALPN:
            if put8(s, v, m) < 0 or put(s, v, item, m) < 0:
                return -1
            continue
        k = _svc_key(item, m)
        if k < 0 or nkeys == SVC_PARAMS_MAX:
            return fail(s, E_SVC_KEY)
        for j in range(nkeys):
            if keys[j] == k:
                return fail(s, E_SVC_DUP)
        j = nkeys
        while j > 0 and keys[j - 1] > k:
            keys[j] = keys[j - 1]
            j -= 1
        keys[j] = k
        nkeys += 1
    for j in range(nkeys):
        if put16(s, v, keys[j]) < 0:
            return -1
    return 0


cdef int _svc_string(Src *s, uint8_t *out, int room) noexcept nogil:
    """A value: a quoted string, or up to the next blank; ``\\DDD`` decoded, other escapes
    kept as a backslash and the octet for the list reader. Its length, or -1."""
    cdef bint quoted = s.pos < s.end and s.s[s.pos] == 34
    cdef int n = 0
    cdef uint8_t c
    if quoted:
        s.pos += 1
    while s.pos < s.end:
        c = s.s[s.pos]
        if quoted and c == 34:
            s.pos += 1
            quoted = False
            break
        if not quoted and is_space(c):
            break
        if c == 92 and s.pos + 3 < s.end and is_digit(s.s[s.pos + 1]) \
                and is_digit(s.s[s.pos + 2]) and is_digit(s.s[s.pos + 3]):
            c = <uint8_t>((s.s[s.pos + 1] - 48) * 100 + (s.s[s.pos + 2] - 48) * 10
                          + (s.s[s.pos + 3] - 48))
            s.pos += 3
        elif c == 92 and s.pos + 1 < s.end and s.s[s.pos + 1] != 44 and s.s[s.pos + 1] != 92:
            s.pos += 1
            c = s.s[s.pos]
        elif c == 92 and s.pos + 1 < s.end:
            if n + 1 >= room:
                return -1
            out[n] = c                            # \, and \\ stay escaped for the list
            n += 1
            s.pos += 1
            c = s.s[s.pos]
        if n >= room:
            return -1
        out[n] = c
        n += 1
        s.pos += 1
    if quoted:
        return -1
    return n


# ---------------------------------------------------------------------------------------
# Python API

class RdataError(ValueError):
    """Record data that cannot be read for its type."""


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
    cdef const TypeInfo *info = type_info(code) if 0 <= code <= 65535 else NULL
    if info == NULL:
        return f"TYPE{code}"
    return info.name.decode()


def type_names() -> dict:
    """Every type PowerDNS knows: number → name (meta types included)."""
    return {TYPES[i].code: TYPES[i].name.decode() for i in range(NTYPES)}


def zone_data_type(int code) -> bool:
    """Can records of type ``code`` be zone data (not a meta or query type)?"""
    return 0 <= code <= 65535 and zone_data(code)


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

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The readers of the fields of record data, as PowerDNS's RecordTextReader has them.

PowerDNS reads a record's text one field after the other, each by a reader of its kind;
these are those readers, in C, and rd_fields runs the program of letters that a type's
entry in fastdns.zone._rdtypes gives (fastdns.zone._rdata says which types have one):

- numbers are decimal and end at the first non-digit (``10mail.example.`` is MX 10 and a
  name); names are absolute with or without their trailing dot, with ``\\X`` and ``\\DDD``
  escapes; IPv4 addresses take leading zeros; IPv6 addresses are anything inet_pton reads;
- a character-string is quoted, or one unquoted word of letters and digits that ends the
  data; strings longer than 255 octets are cut into 255-octet strings (RFC 1035 §3.3 allows
  no more on the wire); ``\\DDD`` above 255 wraps, as in PowerDNS;
- base64 may hold spaces, hex may hold anything that is not a letter or digit (DS, TLSA).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from fastdns.zone._chars cimport hexval, is_alnum, is_digit, is_space, upper
from fastdns.zone._rdtypes cimport type_from_text

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)

cdef extern from "<sys/socket.h>" nogil:
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

cdef uint64_t U32_MAX = 0xFFFFFFFFU

cdef const char *E_DIGITS = b"expected digits"
cdef const char *E_NUMBER = b"number too large"
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
cdef const char *E_NODE = b"bad 64-bit node or locator ID"


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


# ---------------------------------------------------------------------------------------
# escapes (in names and in character-strings alike)

cdef inline int unescape(const uint8_t *p, Py_ssize_t n, uint8_t *c) noexcept nogil:
    """The escape at ``p`` (a backslash; ``n`` > 1 octets left): ``\\DDD`` (above 255 it
    wraps, as in PowerDNS) or ``\\X``. Its octet in ``c`` and its length, or 0 for a
    backslash and a digit without two digits after it."""
    if not is_digit(p[1]):
        c[0] = p[1]
        return 2
    if n < 4 or not (is_digit(p[2]) and is_digit(p[3])):
        return 0
    c[0] = <uint8_t>((p[1] - 48) * 100 + (p[2] - 48) * 10 + (p[3] - 48))
    return 4


# ---------------------------------------------------------------------------------------
# names

cdef int name_from_text(const uint8_t *text, Py_ssize_t n, uint8_t *out,
                        const char **why) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int o = 1            # where the next octet goes
    cdef int w = 0            # the current label's length octet
    cdef int ll = 0
    cdef int k
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
            k = unescape(text + i, n - i, &c) if i + 1 < n else 0
            if k == 0:
                why[0] = E_NAME_ESCAPE
                return -1
            i += k
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
        if _quoted(s, d, lengths) < 0:
            return -1
        if not multi or s.pos >= s.end:
            return 0
        while s.pos < s.end and is_space(s.s[s.pos]):
            s.pos += 1
        if s.pos >= s.end:
            return 0


cdef int _quoted(Src *s, Dst *d, bint lengths) noexcept nogil:
    """The quoted string at ``s.pos``, its escapes decoded, in pieces of at most 255
    octets, each (``lengths``) after its length octet."""
    cdef Py_ssize_t p
    cdef int seg = -1          # where the current piece's length octet is (-1: none)
    cdef int seglen = 0
    cdef int k
    cdef uint8_t c
    s.pos += 1
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
            # a run of plain octets, copied at once (up to a quote, an escape or the end
            # of a 255-octet piece)
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
            k = unescape(s.s + s.pos, s.end - s.pos, &c)
            if k == 0:
                return fail(s, E_ESCAPE)
            s.pos += k
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


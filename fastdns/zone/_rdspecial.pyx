# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The record types whose data PowerDNS reads with a reader of its own, not a program of
fields: NSEC3 and NSEC3PARAM (a salt, a base32hex hash), LOC (RFC 1876's loc_aton), APL
(RFC 3123), EUI48 and EUI64 (RFC 7043) and IPSECKEY (RFC 4025, its gateway's form given by
its type). SVCB and HTTPS, the other such family, are read by fastdns.zone._rdsvcb.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

from fastdns.zone._chars cimport hexval, is_digit, is_space
from fastdns.zone._rdfields cimport (
    E_LONG, E_U8, E_U16, Dst, Src, fail, put, put8, put16, put32,
    rd_base32hex, rd_base64, rd_bitmap, rd_hex, rd_ipv4, rd_ipv6, rd_name, rd_number,
)

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *src, void *dst)

cdef extern from "<sys/socket.h>" nogil:
    int AF_INET
    int AF_INET6

cdef int64_t LAT_ZERO = (<int64_t>1) << 31     # RFC 1876: the equator, the prime meridian

cdef const char *E_LOC = b"unable to parse LOC content"
cdef const char *E_APL = b"unable to parse APL content"
cdef const char *E_EUI = b"unable to parse EUI address"
cdef const char *E_IPSECKEY = b"bad IPSECKEY gateway type or algorithm"


# ---------------------------------------------------------------------------------------
# NSEC3 and NSEC3PARAM (RFC 5155 §3.3, §4.3)

cdef int rd_nsec3(Src *s, Dst *d, bint param) noexcept nogil:
    """Hash algorithm, flags, iterations, salt; then for NSEC3 the next hashed owner and
    the types."""
    cdef uint32_t v
    if rd_number(s, 0xFF, E_U8, &v) < 0 or put8(s, d, v) < 0:
        return -1
    if rd_number(s, 0xFF, E_U8, &v) < 0 or put8(s, d, v) < 0:
        return -1
    if rd_number(s, 0xFFFF, E_U16, &v) < 0 or put16(s, d, v) < 0:
        return -1
    if rd_salt(s, d) < 0:
        return -1
    if param:
        return 0
    if rd_base32hex(s, d) < 0:
        return -1
    return rd_bitmap(s, d)


cdef int rd_salt(Src *s, Dst *d) noexcept nogil:
    cdef int at = d.n
    if put8(s, d, 0) < 0 or rd_hex(s, d, False) < 0:
        return -1
    if d.n - at - 1 > 255:
        return fail(s, E_LONG)
    d.p[at] = d.n - at - 1
    return 0



# ---------------------------------------------------------------------------------------
# LOC (RFC 1876)

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



# ---------------------------------------------------------------------------------------
# APL, EUI48 and EUI64, IPSECKEY

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

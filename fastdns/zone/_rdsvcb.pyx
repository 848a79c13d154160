# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""SVCB and HTTPS data as PowerDNS reads it (RFC 9460 §2.1 presentation format).

After the priority and the target name come ``key=value`` parameters in any order; they
are written in key order (RFC 9460 §2.2), a key given again counts once (the first, as in
PowerDNS), and ``mandatory`` lists keys, ``alpn`` ids, ``port`` a number, ``ech`` base64,
``ipv4hint``/``ipv6hint`` addresses, ``keyNNNNN`` the octets themselves.

``ipv4hint=auto`` and ``ipv6hint=auto`` (PowerDNS's svc-autohints) have no wire form: they
are kept as the key with an empty value, which RFC 9460 forbids on the wire, for the image
builder to fill in or drop (fastdns.zone._imagebuild).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc

from fastdns.zone._chars cimport is_digit, is_space
from fastdns.zone._rdfields cimport (
    E_LONG, E_U16, RDATA_MAX, RDATA_ROOM, Dst, Src, fail, put, put8, put16,
    rd_base64, rd_ipv4, rd_ipv6, rd_name, rd_number,
)

cdef enum:
    SVC_PARAMS_MAX = 64

cdef const char *E_SVC_KEY = b"unknown SVCB parameter key"
cdef const char *E_SVC_VALUE = b"bad SVCB parameter value"
cdef const char *E_SVC_DUP = b"SVCB mandatory key given twice"

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


# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RFC 1035 master files → records in a RecordStore, with no Python object per record.

The scanner is dnspython's tokenizer (dns/tokenizer.py) and the statement reader is its
zone reader (dns/zonefile.py ``Reader``), rewritten in C for the common case: owners and
names with ``@``, relative or absolute, escapes; TTLs with units; class IN; ``$ORIGIN``,
``$TTL``, ``$INCLUDE``; parentheses, comments and quoted strings; and the rdata of A, AAAA,
NS, CNAME, DNAME, PTR, MX, SRV, SOA, TXT, SPF and CAA.

A statement this module does not read exactly as dnspython would (another type, generic
``\\#`` rdata, another class, ``$GENERATE``, a non-ASCII octet, or anything malformed) is
handed whole to ``fallback``, which reads it with dnspython from the reader state at that
point and returns the new state (fastdns.zone.loader). Errors therefore come from
dnspython itself, with its message and line.

One module of some 900 lines (STYLE §7.11): the tokenizer, the field readers and the
statement reader mirror dnspython's together and share their Scanner and Token inline;
the record store and the image are fastdns.zone._imagebuild's.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from fastdns._wire cimport name_to_lk

cdef enum:
    TK_ERROR = -1
    TK_EOF = 0
    TK_EOL = 1
    TK_WS = 2
    TK_IDENT = 3
    TK_QUOTED = 4

    TF_ESCAPE = 1        # a backslash in the token
    TF_ODD = 2           # an octet outside printable ASCII (or tab): dnspython's to read

    ST_OK = 0            # statement read
    ST_FALLBACK = 1      # statement for dnspython

    RDATA_ROOM = 65535 + 4096
    BATCH_MAX = 1000              # statements per batch (their records are Python objects)
    MAX_TTL = 0xFFFFFFFF
    INCLUDE_DEPTH = 16

# ---------------------------------------------------------------------------------------
# the tokenizer (dns.tokenizer.Tokenizer.get)

cdef inline bint is_delim(uint8_t c) noexcept nogil:
    return c == 32 or c == 9 or c == 10 or c == 59 or c == 40 or c == 41 or c == 34


cdef inline bint is_digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


cdef inline int skip_ws(Scanner *s) noexcept nogil:
    cdef int skipped = 0
    cdef uint8_t c
    while s.pos < s.len:
        c = s.buf[s.pos]
        if c == 10 and s.depth > 0:
            s.line += 1
        elif c != 32 and c != 9:
            break
        s.pos += 1
        skipped += 1
    return skipped


cdef int next_token(Scanner *s, Token *t, bint want_leading) noexcept nogil:
    """The next token, as dnspython's ``get(want_leading)``; TK_ERROR where it raises."""
    cdef uint8_t c
    cdef Py_ssize_t start
    t.flags = 0
    t.kind = TK_ERROR
    if skip_ws(s) and want_leading:
        t.kind = TK_WS
        return TK_WS
    while True:
        if s.pos >= s.len:
            if s.depth > 0:
                return TK_ERROR           # unbalanced parentheses
            t.kind = TK_EOF
            return TK_EOF
        c = s.buf[s.pos]
        if c == 40:                       # (
            s.depth += 1
            s.pos += 1
            skip_ws(s)
            continue
        if c == 41:                       # )
            if s.depth <= 0:
                return TK_ERROR
            s.depth -= 1
            s.pos += 1
            skip_ws(s)
            continue
        if c == 10:
            s.pos += 1
            s.line += 1
            t.kind = TK_EOL
            return TK_EOL
        if c == 59:                       # ; comment
            while s.pos < s.len and s.buf[s.pos] != 10:
                s.pos += 1
            if s.pos >= s.len:
                if s.depth > 0:
                    return TK_ERROR
                t.kind = TK_EOF
                return TK_EOF
            s.pos += 1
            s.line += 1
            if s.depth > 0:
                skip_ws(s)
                continue
            t.kind = TK_EOL
            return TK_EOL
        if c == 34:
            return quoted(s, t)
        start = s.pos
        while s.pos < s.len:
            c = s.buf[s.pos]
            if is_delim(c):
                break
            if c == 92:                   # backslash: the next octet is part of the token
                t.flags |= TF_ESCAPE
                s.pos += 1
                if s.pos >= s.len:
                    return TK_ERROR
                c = s.buf[s.pos]
                if c == 10:
                    s.pos += 1
                    s.line += 1
                    return TK_ERROR
            if c < 32 or c >= 127:
                t.flags |= TF_ODD
            s.pos += 1
        t.p = s.buf + start
        t.n = s.pos - start
        t.kind = TK_IDENT
        return TK_IDENT


cdef int quoted(Scanner *s, Token *t) noexcept nogil:
    cdef uint8_t c
    cdef Py_ssize_t start
    s.pos += 1
    start = s.pos
    while True:
        if s.pos >= s.len:
            return TK_ERROR
        c = s.buf[s.pos]
        if c == 34:
            break
        if c == 10:
            s.pos += 1
            s.line += 1
            return TK_ERROR               # newline in quoted string
        if c == 92:
            t.flags |= TF_ESCAPE
            s.pos += 1
            if s.pos >= s.len:
                return TK_ERROR
            c = s.buf[s.pos]
            if c == 10:
                s.line += 1
                t.flags |= TF_ODD
        if (c < 32 and c != 9) or c >= 127:
            t.flags |= TF_ODD
        s.pos += 1
    t.p = s.buf + start
    t.n = s.pos - start
    s.pos += 1                            # the closing quote
    t.kind = TK_QUOTED
    return TK_QUOTED


cdef inline bint plain(const Token *t) noexcept nogil:
    """An identifier without escapes or odd octets."""
    return t.kind == TK_IDENT and t.flags == 0


cdef bint ieq(const Token *t, const char *word) noexcept nogil:
    """Is the token ``word`` (upper case ASCII), in any case?"""
    cdef Py_ssize_t i = 0
    cdef uint8_t c
    if not plain(t):
        return False
    while i < t.n:
        c = t.p[i]
        if 97 <= c <= 122:
            c -= 32
        if word[i] == 0 or c != <uint8_t>word[i]:
            return False
        i += 1
    return word[i] == 0


# ---------------------------------------------------------------------------------------
# fields

cdef int parse_name(const Token *t, const uint8_t *origin, int olen, uint8_t *out) noexcept nogil:
    """dns.name.from_text(token, origin) in wire form (case kept); -1 where it raises."""
    cdef const uint8_t *p = t.p
    cdef Py_ssize_t n = t.n
    cdef Py_ssize_t i = 0
    cdef int w = 0          # the current label's length octet
    cdef int o = 1          # where the next octet goes
    cdef int ll = 0
    cdef int v
    if t.kind != TK_IDENT or t.flags & TF_ODD:
        return -1
    if n == 1 and p[0] == 64:                 # @
        memcpy(out, origin, olen)
        return olen
    if n == 1 and p[0] == 46:                 # .
        out[0] = 0
        return 1
    while i < n:
        v = p[i]
        if v == 92:
            if i + 1 >= n:
                return -1
            v = p[i + 1]
            if is_digit(v):
                if i + 3 >= n:
                    return -1
                if not (is_digit(p[i + 2]) and is_digit(p[i + 3])):
                    return -1
                v = (v - 48) * 100 + (p[i + 2] - 48) * 10 + (p[i + 3] - 48)
                if v > 255:
                    return -1
                i += 4
            else:
                i += 2
        elif v == 46:
            if ll == 0:
                return -1                     # empty label
            out[w] = ll
            w = o
            o += 1
            ll = 0
            i += 1
            if o > 255:
                return -1
            continue
        else:
            i += 1
        if ll == 63 or o >= 255:
            return -1
        out[o] = v
        o += 1
        ll += 1
    if ll == 0:
        out[w] = 0                            # absolute
        return o
    out[w] = ll
    if o + olen > 255:
        return -1
    memcpy(out + o, origin, olen)
    return o + olen


cdef int64_t parse_ttl(const Token *t) noexcept nogil:
    """dns.ttl.from_text of an identifier's text; -1 where it raises BadTTL."""
    cdef uint64_t total = 0
    cdef uint64_t current = 0
    cdef uint64_t unit
    cdef bint need_digit = True
    cdef bint digits_only = True
    cdef Py_ssize_t i
    cdef uint8_t c
    if t.kind != TK_IDENT or t.n == 0:
        return -1
    for i in range(t.n):
        if not is_digit(t.p[i]):
            digits_only = False
    for i in range(t.n):
        c = t.p[i]
        if is_digit(c):
            if current <= MAX_TTL:
                current = current * 10 + (c - 48)
            need_digit = False
            continue
        if need_digit:
            return -1
        if 65 <= c <= 90:
            c += 32
        if c == 119:
            unit = 604800
        elif c == 100:
            unit = 86400
        elif c == 104:
            unit = 3600
        elif c == 109:
            unit = 60
        elif c == 115:
            unit = 1
        else:
            return -1
        if current > MAX_TTL:
            return -1
        total += current * unit
        if total > MAX_TTL:
            return -1
        current = 0
        need_digit = True
    if digits_only:
        total = current
    elif not need_digit:
        return -1                             # trailing integer
    if total > MAX_TTL:
        return -1
    return <int64_t>total


cdef int64_t parse_uint(const Token *t, uint64_t limit) noexcept nogil:
    """Tokenizer.get_uint*: ASCII digits only, at most ``limit``; -1 where it raises."""
    cdef uint64_t v = 0
    cdef Py_ssize_t i
    if not plain(t) or t.n == 0:
        return -1
    for i in range(t.n):
        if not is_digit(t.p[i]):
            return -1
        v = v * 10 + (t.p[i] - 48)
        if v > limit:
            return -1
    return <int64_t>v


cdef int unescape(const Token *t, uint8_t *out, int limit) noexcept nogil:
    """Token.unescape_to_bytes of an identifier or quoted string, at most ``limit`` octets;
    -1 where it raises (or for text that is not ASCII)."""
    cdef Py_ssize_t i = 0
    cdef int o = 0
    cdef uint8_t c
    if (t.kind != TK_IDENT and t.kind != TK_QUOTED) or t.flags & TF_ODD:
        return -1
    while i < t.n:
        c = t.p[i]
        i += 1
        if c == 92:
            c = t.p[i]
            i += 1
            if is_digit(c):
                if i + 1 >= t.n:
                    return -1
                if not (is_digit(t.p[i]) and is_digit(t.p[i + 1])):
                    return -1
                if (c - 48) * 100 + (t.p[i] - 48) * 10 + (t.p[i + 1] - 48) > 255:
                    return -1
                c = (c - 48) * 100 + (t.p[i] - 48) * 10 + (t.p[i + 1] - 48)
                i += 2
        if o >= limit:
            return -1
        out[o] = c
        o += 1
    return o


cdef int ipv4(const Token *t, uint8_t *out) noexcept nogil:
    """dns.ipv4.inet_aton: four decimal parts, no leading zeros."""
    cdef int part = 0
    cdef int digits = 0
    cdef int v = 0
    cdef Py_ssize_t i
    cdef uint8_t c
    if not plain(t):
        return -1
    for i in range(t.n + 1):
        c = t.p[i] if i < t.n else 46
        if c == 46:
            if digits == 0 or part == 4 or v > 255:
                return -1
            out[part] = v
            part += 1
            digits = 0
            v = 0
        elif is_digit(c):
            if digits == 1 and v == 0:
                return -1                     # leading zero
            if digits == 3:
                return -1
            v = v * 10 + (c - 48)
            digits += 1
        else:
            return -1
    return 4 if part == 4 else -1


cdef inline int hexval(uint8_t c) noexcept nogil:
    if is_digit(c):
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef int ipv6(const Token *t, uint8_t *out) noexcept nogil:
    """dns.ipv6.inet_aton for text of hex digits and colons (a dotted quad, a scope or
    anything else is dnspython's to read)."""
    cdef const uint8_t *p = t.p
    cdef Py_ssize_t n = t.n
    cdef Py_ssize_t i, start, chunks, k
    cdef int o = 0
    cdef int v, h
    cdef bint seen_empty = False
    if not plain(t) or n == 0 or n > 64:
        return -1
    for i in range(n):
        if p[i] != 58 and hexval(p[i]) < 0:
            return -1
    if p[n - 1] == 58 and not (n >= 2 and p[n - 2] == 58):
        return -1
    if p[0] == 58 and not (n >= 2 and p[1] == 58):
        return -1
    if n == 2 and p[0] == 58 and p[1] == 58:     # "::" is read as "0::"
        memset16(out)
        return 16
    if n >= 2 and p[0] == 58 and p[1] == 58:
        p += 1
        n -= 1
    elif n >= 2 and p[n - 1] == 58 and p[n - 2] == 58:
        n -= 1
    chunks = 1
    for i in range(n):
        if p[i] == 58:
            chunks += 1
    if chunks > 8:
        return -1
    start = 0
    for i in range(n + 1):
        if i < n and p[i] != 58:
            continue
        if i == start:
            if seen_empty:
                return -1
            seen_empty = True
            for k in range(8 - chunks + 1):
                out[o] = 0
                out[o + 1] = 0
                o += 2
        else:
            if i - start > 4:
                return -1
            v = 0
            for k in range(start, i):
                v = v * 16 + hexval(p[k])
            out[o] = v >> 8
            out[o + 1] = v & 0xFF
            o += 2
        start = i + 1
    if chunks < 8 and not seen_empty:
        return -1
    return 16 if o == 16 else -1


cdef inline void memset16(uint8_t *out) noexcept nogil:
    cdef int i
    for i in range(16):
        out[i] = 0


cdef inline void put16(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = (v >> 8) & 0xFF
    p[1] = v & 0xFF


cdef inline void put32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = v >> 24
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF


# ---------------------------------------------------------------------------------------
# rdata

cdef enum:
    RT_A = 1
    RT_NS = 2
    RT_CNAME = 5
    RT_SOA = 6
    RT_PTR = 12
    RT_MX = 15
    RT_TXT = 16
    RT_AAAA = 28
    RT_SRV = 33
    RT_DNAME = 39
    RT_SPF = 99
    RT_CAA = 257


cdef int rdtype_of(const Token *t) noexcept nogil:
    """The type this module reads rdata of, by mnemonic; -1 for any other."""
    if ieq(t, b"A"):
        return RT_A
    if ieq(t, b"AAAA"):
        return RT_AAAA
    if ieq(t, b"MX"):
        return RT_MX
    if ieq(t, b"TXT"):
        return RT_TXT
    if ieq(t, b"NS"):
        return RT_NS
    if ieq(t, b"CNAME"):
        return RT_CNAME
    if ieq(t, b"SOA"):
        return RT_SOA
    if ieq(t, b"PTR"):
        return RT_PTR
    if ieq(t, b"SRV"):
        return RT_SRV
    if ieq(t, b"DNAME"):
        return RT_DNAME
    if ieq(t, b"SPF"):
        return RT_SPF
    if ieq(t, b"CAA"):
        return RT_CAA
    return -1


cdef int rdata_of(Scanner *s, Token *t, int rdtype, const ReaderState *st,
                  uint8_t *out) noexcept nogil:
    """The rdata of ``rdtype`` from token ``t`` on, through the end of the line; its length,
    or -1 (dnspython reads it: another form, or an error)."""
    cdef int n, m
    cdef int64_t v
    cdef int i
    if rdtype == RT_TXT or rdtype == RT_SPF:
        return txt(s, t, out)
    if rdtype == RT_A:
        n = ipv4(t, out)
    elif rdtype == RT_AAAA:
        n = ipv6(t, out)
    elif rdtype == RT_NS or rdtype == RT_CNAME or rdtype == RT_PTR or rdtype == RT_DNAME:
        n = parse_name(t, st.origin, st.origin_len, out)
    elif rdtype == RT_MX or rdtype == RT_SRV:
        m = 1 if rdtype == RT_MX else 3
        for i in range(m):
            v = parse_uint(t, 65535)
            if v < 0:
                return -1
            put16(out + 2 * i, <uint32_t>v)
            next_token(s, t, False)
        n = parse_name(t, st.origin, st.origin_len, out + 2 * m)
        n = n + 2 * m if n >= 0 else -1
    elif rdtype == RT_SOA:
        n = soa(s, t, st, out)
    elif rdtype == RT_CAA:
        n = caa(s, t, out)
    else:
        return -1
    if n < 0:
        return -1
    next_token(s, t, False)
    if t.kind != TK_EOL and t.kind != TK_EOF:
        return -1
    return n


cdef int soa(Scanner *s, Token *t, const ReaderState *st, uint8_t *out) noexcept nogil:
    cdef int n, m, i
    cdef int64_t v
    n = parse_name(t, st.origin, st.origin_len, out)
    if n < 0:
        return -1
    next_token(s, t, False)
    m = parse_name(t, st.origin, st.origin_len, out + n)
    if m < 0:
        return -1
    n += m
    next_token(s, t, False)
    v = parse_uint(t, 0xFFFFFFFF)
    if v < 0:
        return -1
    put32(out + n, <uint32_t>v)
    for i in range(4):
        next_token(s, t, False)
        v = parse_ttl(t) if plain(t) else -1
        if v < 0:
            return -1
        put32(out + n + 4 + 4 * i, <uint32_t>v)
    return n + 20


cdef int txt(Scanner *s, Token *t, uint8_t *out) noexcept nogil:
    """TXT and SPF: the strings up to the end of the line (which is consumed)."""
    cdef int o = 0
    cdef int n
    while t.kind == TK_IDENT or t.kind == TK_QUOTED:
        if o + 256 > 65535:
            return -1
        n = unescape(t, out + o + 1, 255)
        if n < 0:
            return -1
        out[o] = n
        o += 1 + n
        next_token(s, t, False)
    if o == 0 or (t.kind != TK_EOL and t.kind != TK_EOF):
        return -1
    return o


cdef int caa(Scanner *s, Token *t, uint8_t *out) noexcept nogil:
    cdef int64_t flags = parse_uint(t, 255)
    cdef int n, m, i
    cdef uint8_t c
    if flags < 0:
        return -1
    out[0] = <uint8_t>flags
    next_token(s, t, False)
    n = unescape(t, out + 2, 255)
    if n <= 0:
        return -1
    for i in range(n):
        c = out[2 + i]
        if not (is_digit(c) or 65 <= c <= 90 or 97 <= c <= 122):
            return -1                         # tag is not alphanumeric
    out[1] = n
    next_token(s, t, False)
    m = unescape(t, out + 2 + n, 65535 - 2 - n)
    if m < 0:
        return -1
    return 2 + n + m


# ---------------------------------------------------------------------------------------
# statements (dns.zonefile.Reader.read, _rr_line)

cdef class Parser:
    """Reads master files into a RecordStore; see the module docstring."""

    def __cinit__(self, RecordStore store not None, bytes origin not None, bint allow_include,
                  fallback, open_include):
        if not 1 <= len(origin) <= 255:
            raise ValueError("bad origin")
        self.store = store
        self.allow_include = allow_include
        self.fallback = fallback
        self.open_include = open_include
        memcpy(self.st.origin, <const char *>origin, len(origin))
        self.st.origin_len = len(origin)
        memcpy(self.st.last_name, <const char *>origin, len(origin))
        self.st.last_len = len(origin)
        self.zone_lklen = name_to_lk(origin, len(origin), self.zone_lk)

    def parse(self, bytes data not None, uint32_t file):
        """Read the statements of ``data`` (a whole file, newlines already translated),
        whose records are ``file`` in the store's files.

        Consecutive statements for dnspython go to it in one batch: whether a statement
        is read here is tried without effect (``dry``) while a batch is pending, and the
        batch is handed over before the first statement read here.
        """
        cdef Scanner s
        cdef Batch batch
        cdef Py_ssize_t start
        cdef uint32_t line
        s.buf = <const uint8_t *><const char *>data
        s.len = len(data)
        s.pos = 0
        s.line = 1
        s.depth = 0
        batch.count = 0
        while s.pos < s.len:
            start = s.pos
            line = s.line
            if batch.count:
                if s.buf[s.pos] == 10 or s.buf[s.pos] == 59:
                    add_to_batch(&batch, &s, start, line, False)     # empty, or a comment
                    continue
                if batch.count < BATCH_MAX and \
                        self.statement(&s, file, line, True) == ST_FALLBACK:
                    add_to_batch(&batch, &s, start, line, True)
                    continue
                self.delegate(&s, &batch, file)
                s.pos = start
                s.line = line
                s.depth = 0
            if self.statement(&s, file, line, False) == ST_FALLBACK:
                add_to_batch(&batch, &s, start, line, True)
        if batch.count:
            self.delegate(&s, &batch, file)

    def state(self):
        """The reader state: (origin, last_name, last_ttl, last_ttl_known, default_ttl,
        default_ttl_known, default_ttl_from_soa), names in wire form."""
        return (self.st.origin[:self.st.origin_len], self.st.last_name[:self.st.last_len],
                self.st.last_ttl, self.st.last_ttl_known, self.st.default_ttl,
                self.st.default_ttl_known, self.st.default_ttl_from_soa)

    def set_state(self, tuple state not None):
        cdef bytes origin = state[0]
        cdef bytes last = state[1]
        if not (1 <= len(origin) <= 255 and 1 <= len(last) <= 255):
            raise ValueError("bad reader state")
        memcpy(self.st.origin, <const char *>origin, len(origin))
        self.st.origin_len = len(origin)
        memcpy(self.st.last_name, <const char *>last, len(last))
        self.st.last_len = len(last)
        self.st.last_ttl = state[2]
        self.st.last_ttl_known = state[3]
        self.st.default_ttl = state[4]
        self.st.default_ttl_known = state[5]
        self.st.default_ttl_from_soa = state[6]

    cdef int delegate(self, const Scanner *s, Batch *batch, uint32_t file) except -1:
        """Hand the batch of statements to dnspython."""
        snippet = PyBytes_FromStringAndSize(<const char *>s.buf + batch.start,
                                            batch.end - batch.start)
        self.fallbacks += batch.count
        batch.count = 0
        self.set_state(self.fallback(snippet, file, batch.line, self.state(), batch.error))
        return 0

    cdef int statement(self, Scanner *s, uint32_t file, uint32_t line, bint dry) except -1:
        """Read one statement at a line start: ST_OK, or ST_FALLBACK (nothing consumed
        that matters: the caller rewinds). A ``dry`` read changes nothing."""
        cdef Token t
        cdef uint8_t c = s.buf[s.pos]
        if c == 10 or c == 59:                # empty or comment line
            while s.pos < s.len and s.buf[s.pos] != 10:
                s.pos += 1
            if s.pos < s.len:
                s.pos += 1
                s.line += 1
            return ST_OK
        if c == 32 or c == 9:                 # no owner: the previous one
            return self.record(s, file, line, NULL, dry)
        if c == 40:
            return ST_FALLBACK
        if next_token(s, &t, False) != TK_IDENT and t.kind != TK_QUOTED:
            return ST_FALLBACK
        if t.kind == TK_IDENT and t.p[0] == 36:
            return self.directive(s, &t, file, dry)
        return self.record(s, file, line, &t, dry)

    cdef int record(self, Scanner *s, uint32_t file, uint32_t line, const Token *owner_tok,
                    bint dry) except -1:
        cdef ReaderState *st = &self.st
        cdef ReaderState after            # the state after this record (TTL fields only)
        cdef Token t
        cdef uint8_t owner[256]
        cdef uint8_t lk[256]
        cdef int olen, rdtype, rdlen
        cdef int64_t ttl = -1
        cdef uint8_t *out
        if owner_tok == NULL:
            next_token(s, &t, True)           # the leading blanks
            if next_token(s, &t, False) == TK_EOL or t.kind == TK_EOF:
                return ST_OK                  # blanks (and a comment) only
            memcpy(owner, st.last_name, st.last_len)
            olen = st.last_len
        else:
            olen = parse_name(owner_tok, st.origin, st.origin_len, owner)
            if olen < 0:
                return ST_FALLBACK
            next_token(s, &t, False)
        if not self.store.same_owner(owner, olen):
            name_to_lk(owner, olen, lk)
            if olen - 1 < self.zone_lklen or memcmp(lk, self.zone_lk, self.zone_lklen) != 0:
                return ST_FALLBACK            # outside the zone: dnspython says so
        rdtype = ttl_class_type(s, &t, st, &ttl, &after)
        if rdtype < 0:
            return ST_FALLBACK
        next_token(s, &t, False)
        if t.kind == TK_IDENT and t.n == 2 and t.p[0] == 92 and t.p[1] == 35:
            return ST_FALLBACK                # generic rdata: \# length hex
        out = self.store.room(RDATA_ROOM)
        rdlen = rdata_of(s, &t, rdtype, st, out)
        if rdlen < 0:
            return ST_FALLBACK
        if rdtype == RT_SOA and not st.default_ttl_known:
            # no $TTL yet: the SOA minimum is the default (dnspython, pre-RFC 2308)
            after.default_ttl = (out[rdlen - 4] << 24) | (out[rdlen - 3] << 16) \
                | (out[rdlen - 2] << 8) | out[rdlen - 1]
            after.default_ttl_known = True
            after.default_ttl_from_soa = True
            if ttl < 0:
                ttl = implicit_ttl(&after)
        if ttl < 0:
            return ST_FALLBACK                # Missing default TTL value
        if dry:
            return ST_OK
        st.last_ttl = after.last_ttl
        st.last_ttl_known = after.last_ttl_known
        st.default_ttl = after.default_ttl
        st.default_ttl_known = after.default_ttl_known
        st.default_ttl_from_soa = after.default_ttl_from_soa
        if owner_tok != NULL:
            memcpy(st.last_name, owner, olen)
            st.last_len = olen
        if not self.store.same_owner(owner, olen):
            self.store.set_owner(owner, olen, lk)
        self.store.add_rec(rdtype, <uint32_t>ttl, rdlen, file, line)
        return ST_OK

    cdef int directive(self, Scanner *s, Token *t, uint32_t file, bint dry) except -1:
        cdef ReaderState *st = &self.st
        cdef ReaderState saved
        cdef Token arg
        cdef Token more
        cdef uint8_t name[256]
        cdef int n
        cdef int64_t v
        next_token(s, &arg, False)
        if ieq(t, b"$TTL"):
            v = parse_ttl(&arg) if plain(&arg) else -1
            if v < 0 or not at_end(s):
                return ST_FALLBACK
            if dry:
                return ST_OK
            st.default_ttl = <uint32_t>v
            st.default_ttl_known = True
            st.default_ttl_from_soa = False
            return ST_OK
        if ieq(t, b"$ORIGIN"):
            n = parse_name(&arg, st.origin, st.origin_len, name)
            if n < 0 or not at_end(s):
                return ST_FALLBACK
            if not dry:
                memcpy(st.origin, name, n)
                st.origin_len = n
            return ST_OK
        if ieq(t, b"$INCLUDE") and self.allow_include and plain(&arg) \
                and self.include_depth < INCLUDE_DEPTH:
            n = st.origin_len
            memcpy(name, st.origin, n)
            if next_token(s, &more, False) == TK_IDENT:
                n = parse_name(&more, st.origin, st.origin_len, name)
                if n < 0 or not at_end(s):
                    return ST_FALLBACK
            elif more.kind != TK_EOL and more.kind != TK_EOF:
                return ST_FALLBACK
            if dry:
                return ST_OK
            included = self.open_include(arg.p[:arg.n].decode("ascii"))
            if included is None:
                return ST_FALLBACK            # dnspython says why it cannot be read
            saved = st[0]
            memcpy(st.origin, name, n)
            st.origin_len = n
            self.include_depth += 1
            try:
                self.parse(included[0], included[1])
            finally:
                self.include_depth -= 1
            st[0] = saved
            return ST_OK
        return ST_FALLBACK                    # $GENERATE, $UNICODE, unknown, malformed


cdef int ttl_class_type(Scanner *s, Token *t, const ReaderState *st, int64_t *ttl,
                        ReaderState *after) noexcept nogil:
    """``[TTL] [IN] [TTL] type`` from token ``t`` on, as Reader._rr_line reads them: the
    type (-1: dnspython's to read), the TTL (-1: none stated nor implied yet), and the TTL
    fields of the state after them in ``after``."""
    cdef int64_t v
    cdef int i
    after.last_ttl = st.last_ttl
    after.last_ttl_known = st.last_ttl_known
    after.default_ttl = st.default_ttl
    after.default_ttl_known = st.default_ttl_known
    after.default_ttl_from_soa = st.default_ttl_from_soa
    for i in range(2):                        # a TTL before the class, else after it
        v = parse_ttl(t) if plain(t) else -1
        if v >= 0:
            ttl[0] = after.last_ttl = v
            after.last_ttl_known = True
            next_token(s, t, False)
        elif t.kind == TK_IDENT and is_digit(t.p[0]):
            return -1                         # a bad TTL: dnspython names the error
        elif i == 1:
            ttl[0] = implicit_ttl(st)
        if i == 0:
            if ieq(t, b"IN"):
                next_token(s, t, False)
            elif rdtype_of(t) < 0:
                return -1                     # another class, or a type dnspython reads
            if ttl[0] >= 0:
                break
    return rdtype_of(t)


cdef inline bint at_end(Scanner *s) noexcept nogil:
    """Is the next token the end of the line (or of the file)?"""
    cdef Token t
    cdef int k = next_token(s, &t, False)
    return k == TK_EOL or k == TK_EOF


cdef inline int64_t implicit_ttl(const ReaderState *st) noexcept nogil:
    """Reader._implicit_ttl: the TTL of a record that states none (-1: none known)."""
    if st.last_ttl_known and (not st.default_ttl_known or st.default_ttl_from_soa):
        return st.last_ttl
    if st.default_ttl_known:
        return st.default_ttl
    return -1


cdef void add_to_batch(Batch *batch, Scanner *s, Py_ssize_t start, uint32_t line,
                       bint counted) noexcept nogil:
    """Add the statement at ``start`` (line ``line``) to the batch; continue after it."""
    cdef bint error = False
    cdef Py_ssize_t end = statement_end(s, start, &error)
    cdef Py_ssize_t i
    if batch.count == 0:
        batch.start = start
        batch.line = line
        batch.error = False
    batch.end = end
    batch.error |= error
    batch.count += counted
    for i in range(start, end):
        if s.buf[i] == 10:
            line += 1
    s.pos = end
    s.line = line
    s.depth = 0


cdef Py_ssize_t statement_end(const Scanner *at, Py_ssize_t start, bint *error) noexcept nogil:
    """Where the statement at ``start`` ends: after its end of line, as dnspython reads it;
    or, if dnspython raises inside it, after the line where it raises (``error`` set)."""
    cdef Scanner s
    cdef Token t
    cdef int k
    s.buf = at.buf
    s.len = at.len
    s.pos = start
    s.line = 0
    s.depth = 0
    k = next_token(&s, &t, True)
    while k != TK_EOL and k != TK_EOF:
        if k == TK_ERROR:
            error[0] = True
            if s.pos > start and s.buf[s.pos - 1] == 10:
                return s.pos
            while s.pos < s.len and s.buf[s.pos] != 10:
                s.pos += 1
            return s.pos + 1 if s.pos < s.len else s.pos
        k = next_token(&s, &t, False)
    return s.pos

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""RFC 1035 master files read as PowerDNS Authoritative 4.7 reads them, with no Python
object per record.

PowerDNS's reader (ZoneParserTNG) works line by line, and this one follows it:

- a line that starts with a blank belongs to the previous owner; ``@`` is the origin; an
  owner without a trailing dot is relative to the origin; ``;`` starts a comment outside
  quotes; a ``(`` in the data opens a group that the next ``)`` closes, on this line or a
  later one;
- the TTL, ``IN`` and the type come in any order before the data (``IN`` may even follow
  the type); a TTL is digits with an optional unit (``s m h d w y``); without ``$TTL`` the
  default TTL is 3600 and a record's explicit TTL becomes the default for the records after
  it (the SOA minimum plays no part);
- ``$TTL`` takes what PowerDNS's makeTTLFromZone takes (``1h30m`` is 60, as there);
  ``$GENERATE start-stop[/step]`` with ``$``, ``\\X`` and ``${offset,width,radix}``;
- the names in the data of NS, CNAME, DNAME, PTR, MX, SRV, RP, AFSDB and SOA are made
  absolute against the origin (and the SOA's times lose their units); the data of every
  other type is read with its names absolute, as PowerDNS does;
- the data then goes to a Sink: fastdns.zone._rdata turns it into rdata for the server
  (StoreSink), or fastdns-util keeps the text, as PowerDNS's tools store it (RecordList).

Where PowerDNS reads a file otherwise than RFC 1035 §5.1, it is read as PowerDNS reads it
(the zone PowerDNS served is served the same), with a warning at the line
(docs/differences.md, Z7): the origin argument of ``$INCLUDE`` is ignored, an ``$ORIGIN``
set in an included file stays in force after it, and ``$ORIGIN`` is absolute even without
a final dot.

A broken record (its data, owner, TTL or type unreadable, or its owner outside the zone)
is an error naming ``file:line``, or with ``ignore_broken`` (PowerDNS's
bind-ignore-broken-records) a warning, and the record is left out. A broken directive is
always an error: what follows it cannot be read as meant.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcmp, memcpy, memmove

from fastdns.consts cimport *
from fastdns._wire cimport name_eq, name_to_lk, wire_name_ok
from fastdns.zone._imagebuild cimport RecordStore
from fastdns.zone._chars cimport is_digit, is_space
from fastdns.zone._rdata cimport rdata_from_text
from fastdns.zone._rdfields cimport RDATA_ROOM, name_from_text
from fastdns.zone._rdtypes cimport TYPE_LUA, type_from_text

from fastdns.zone._rdtypes import type_name

cdef enum:
    INCLUDE_DEPTH = 20            # PowerDNS's max-include-depth

#: PowerDNS's default TTL for a record that states none, before any $TTL
DEFAULT_TTL = 3600


class ZoneFileError(ValueError):
    """A zone file that cannot be read; the message starts with ``file:line:``."""


# ---------------------------------------------------------------------------------------
# characters, parts and buffers

cdef inline bint delimiter(uint8_t c) noexcept nogil:
    """What separates the parts of a line (PowerDNS's vstringtok)."""
    return c == 32 or c == 9 or c == 10


cdef inline bint trimmed(uint8_t c) noexcept nogil:
    """What PowerDNS trims off a line or a record's data."""
    return c == 32 or c == 9 or c == 13 or c == 10 or c == 26


cdef bint next_part(Text line, Py_ssize_t *pos, Text *part) noexcept nogil:
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


cdef bint ieq(Text t, const char *word) noexcept nogil:
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


cdef bint _simple_relative(Text t) noexcept nogil:
    """A relative name of plain labels (letters, digits, "-", "_"), none empty or longer
    than 63 octets: its text is its presentation form as PowerDNS writes it."""
    cdef Py_ssize_t i
    cdef int label = 0
    cdef uint8_t c
    if t.n == 0 or t.p[t.n - 1] == 46:
        return False
    for i in range(t.n):
        c = t.p[i]
        if c == 46:
            if label == 0:
                return False
            label = 0
            continue
        if not (is_digit(c) or 97 <= (c | 0x20) <= 122 or c == 45 or c == 95):
            return False
        label += 1
        if label > 63:
            return False
    return True


cdef inline bint _canonical_type(int rdtype) noexcept nogil:
    """Does PowerDNS make the names in this type's data absolute (Parser.canonical)?"""
    return rdtype == TYPE_NS or rdtype == TYPE_CNAME or rdtype == TYPE_DNAME or rdtype == TYPE_PTR \
        or rdtype == TYPE_MX or rdtype == TYPE_SRV or rdtype == TYPE_RP or rdtype == TYPE_AFSDB \
        or rdtype == TYPE_SOA


cdef Py_ssize_t comment_at(const uint8_t *p, Py_ssize_t n, bint *group) noexcept nogil:
    """Where a ``;`` outside quotes starts a comment (PowerDNS's chopComment), or ``n``;
    ``group`` is set when a "(" outside quotes comes before it."""
    cdef Py_ssize_t i = 0
    cdef bint quoted = False
    while i < n:
        if p[i] == 92:
            i += 2
            continue
        if p[i] == 34:
            quoted = not quoted
        elif not quoted:
            if p[i] == 59:
                return i
            if p[i] == 40:
                group[0] = True
        i += 1
    return n


cdef bint plain_data(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    """No ``;``, ``(`` or ``)`` in the data (the usual): no comment or group to strip,
    whatever the quotes and escapes around. Eight octets at a time: a byte of ``w ^ ';'``
    is zero where ``w`` holds a ``;``, of ``(w ^ '(') & ~1`` where it holds ``(`` or ``)``."""
    cdef Py_ssize_t i = 0
    cdef uint64_t w, a, b
    cdef uint64_t ones = 0x0101010101010101ULL
    cdef uint64_t highs = 0x8080808080808080ULL
    while i + 8 <= n:
        memcpy(&w, p + i, 8)
        a = w ^ 0x3B3B3B3B3B3B3B3BULL
        b = (w ^ 0x2828282828282828ULL) & ~ones
        if ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs):
            return False
        i += 8
    while i < n:
        if p[i] == 59 or p[i] == 40 or p[i] == 41:
            return False
        i += 1
    return True


cdef int buf_room(Buf *b, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap = b.cap if b.cap else 1024
    cdef uint8_t *p
    if b.n + more <= b.cap:
        return 0
    while cap < b.n + more:
        cap *= 2
    p = <uint8_t *>realloc(b.p, cap)
    if p == NULL:
        raise MemoryError()
    b.p = p
    b.cap = cap
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


cdef void buf_trim(Buf *b) noexcept nogil:
    cdef Py_ssize_t start = 0
    while b.n > 0 and trimmed(b.p[b.n - 1]):
        b.n -= 1
    while start < b.n and trimmed(b.p[start]):
        start += 1
    if start:
        b.n -= start
        memmove(b.p, b.p + start, b.n)


cdef bint buf_elide(Buf *b, uint8_t c, Py_ssize_t i=0) noexcept nogil:
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


cdef int add_name_text(Buf *b, const uint8_t *wire, bint dot=True) except -1:
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
        add_name_text(&b, wire)
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


# ---------------------------------------------------------------------------------------
# TTLs (PowerDNS's isTimeSpec and makeTTLFromZone)

cdef bint is_timespec(Text t) noexcept nogil:
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
# sinks

cdef class Sink:
    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        raise NotImplementedError


cdef const char *W_SOA_BELOW = b"an SOA record below the zone apex is left out (RFC 1035 " \
                               b"\xc2\xa75.2)"


cdef class StoreSink(Sink):
    """Records into a RecordStore, their data read by fastdns.zone._rdata."""

    def __cinit__(self, RecordStore store not None, bytes apex not None,
                  bint zone_file=False):
        self.store = store
        self.zone_file = zone_file
        if not 1 <= len(apex) <= 255 or not wire_name_ok(apex, len(apex), len(apex)):
            raise ValueError("bad apex")
        memcpy(self.apex, <const char *>apex, len(apex))
        self.apex_len = len(apex)
        self.apex_lklen = name_to_lk(self.apex, self.apex_len, self.apex_lk)
        self.last_text_len = -1

    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        cdef uint8_t *out
        cdef int n
        if self.zone_file and (rdtype == TYPE_NSEC or rdtype == TYPE_NSEC3
                               or rdtype == TYPE_NSEC3PARAM):
            self.denial += 1       # PowerDNS's bind backend skips them unread
            return 1
        out = self.store.room(RDATA_ROOM)
        n = rdata_from_text(rdtype, content, clen, out, why)
        if n < 0:
            return -1
        return self.add(owner, olen, rdtype, ttl, n, file, line, why)

    cdef int add(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl, int n,
                 uint32_t file, uint32_t line, const char **why) except -2:
        """Keep the record whose rdata (``n`` octets) is in the store's room."""
        cdef uint8_t lk[256]
        if rdtype == TYPE_LUA:
            self.lua += 1                         # read, but not served (enable-lua-records)
            return 1
        if rdtype == TYPE_SOA and not (olen == self.apex_len and name_eq(owner, self.apex)):
            why[0] = W_SOA_BELOW
            return 1
        if not self.store.same_owner(owner, olen):
            name_to_lk(owner, olen, lk)
            self.store.set_owner(owner, olen, lk)
        self.store.add_rec(rdtype, ttl, n, file, line)
        return 0


cdef class RecordList(Sink):
    """Records as text, for fastdns-util: ``(owner, rdtype, ttl, content, file, line,
    comment)`` with the owner in wire form and the content and comment as bytes, in the
    order read."""
    cdef readonly list records

    def __cinit__(self, bint comments=False):
        self.records = []
        self.wants_comments = comments

    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        self.records.append((PyBytes_FromStringAndSize(<const char *>owner, olen), rdtype, ttl,
                             PyBytes_FromStringAndSize(<const char *>content, clen), file, line,
                             PyBytes_FromStringAndSize(<const char *>comment.p, comment.n)
                             if comment.n else b""))
        return 0


# ---------------------------------------------------------------------------------------
# the reader

cdef class Parser:
    """Reads master files into a Sink; see the module docstring.

    ``origin`` is the zone's apex (wire form); ``open_include(name)`` returns the text of
    an ``$INCLUDE``d file and the name its records are reported under, or raises OSError.
    """

    def __cinit__(self, Sink sink not None, bytes origin not None, *, bint allow_include=True,
                  open_include=None, bint ignore_broken=False,
                  uint64_t max_generate_steps=0, int max_include_depth=INCLUDE_DEPTH,
                  bint zone_only=True):
        if not 1 <= len(origin) <= 255 or not wire_name_ok(origin, len(origin), len(origin)):
            raise ValueError("bad origin")
        self.sink = sink
        memcpy(self.origin, <const char *>origin, len(origin))
        self.origin_len = len(origin)
        self.apex_wire = origin
        self.zone_lklen = name_to_lk(origin, len(origin), self.zone_lk)
        self.prev_len = -1
        self.default_ttl = DEFAULT_TTL
        self.allow_include = allow_include and open_include is not None
        self.open_include = open_include
        self.ignore_broken = ignore_broken
        self.zone_only = zone_only
        self.max_generate_steps = max_generate_steps
        self.max_include_depth = min(max(max_include_depth, 0), INCLUDE_DEPTH)
        self.data = []
        self.files = []
        self.file_ids = {}
        self.warnings = []
        self.tpl_parts = []
        self._origin_moved()

    def __dealloc__(self):
        free(self.content.p)
        free(self.scratch.p)
        free(self.gen.p)
        free(self.origin_text.p)

    def parse(self, bytes data not None, str name not None):
        """Read ``data``, the text of the file ``name`` (as messages name it)."""
        self.start(data, name)
        self.run(0)

    def start(self, bytes data not None, str name not None):
        """Begin reading ``data`` (then ``run``)."""
        if self.depth or self.files:
            raise ValueError("a Parser reads one file")
        self._push(data, name, name)

    def run(self, uint64_t limit):
        """Read on until ``limit`` more records went to the sink (0: to the end); whether
        there is more to read."""
        cdef Text line
        cdef uint32_t file, lineno
        cdef uint64_t stop = self.records + self.skipped + limit
        while not limit or self.records + self.skipped < stop:
            if self.tpl_active and self.generated():
                continue
            if not self.next_line(&line, &file, &lineno):
                return False
            self.statement(line, file, lineno)
        return True

    @property
    def position(self):
        """Octets of the first file read so far."""
        return self.fs[0].pos if self.files else 0

    @property
    def current_origin(self):
        """The current origin ($ORIGIN), wire form."""
        return self.origin[:self.origin_len]

    cdef int _push(self, bytes data, str name, str where) except -1:
        """Read ``data`` (the file ``name``, $INCLUDEd at ``where``) next, in the current
        origin; a file read twice keeps its number."""
        cdef FileState *fs
        if self.depth > self.max_include_depth:
            raise ZoneFileError(f"{where}: too many nested $INCLUDEs")
        fs = &self.fs[self.depth]
        self.data.append(data)
        fs.buf = <const uint8_t *><const char *>data
        fs.len = len(data)
        fs.pos = 0
        fs.line = 0
        number = self.file_ids.get(name)
        if number is None:
            number = self.file_ids[name] = len(self.files)
            self.files.append(name)
        fs.file = number
        memcpy(fs.origin, self.origin, self.origin_len)
        fs.origin_len = self.origin_len
        self.depth += 1
        return 0

    cdef int next_line(self, Text *line, uint32_t *file, uint32_t *lineno) except -1:
        """The next line of the innermost file being read; 0 when every file is done."""
        cdef FileState *fs
        cdef const uint8_t *nl
        while self.depth > 0:
            fs = &self.fs[self.depth - 1]
            if fs.pos < fs.len:
                line.p = fs.buf + fs.pos
                nl = <const uint8_t *>memchr(line.p, 10, fs.len - fs.pos)
                line.n = (nl - line.p) if nl != NULL else fs.len - fs.pos
                fs.pos += line.n + 1
                fs.line += 1
                file[0] = fs.file
                lineno[0] = fs.line
                return 1
            self.depth -= 1
            self.data.pop()                       # a zone file's text is read once
            if self.depth > 0 and not (fs.origin_len == self.origin_len and memcmp(
                    fs.origin, self.origin, self.origin_len) == 0):
                # PowerDNS keeps an $ORIGIN of an included file after it (RFC 1035 §5.1
                # would give the includer its origin back)
                self.warn(
                    f"{self.files[fs.file]}: its $ORIGIN '{name_text(self.current_origin)}' "
                    "stays in force after the $INCLUDE, as in PowerDNS")
        return 0

    cdef int warn(self, str text) except -1:
        """Keep a warning (the first WARNINGS_LISTED of a file; the others are counted)."""
        if len(self.warnings) < WARNINGS_LISTED:
            self.warnings.append(text)
        else:
            self.unlisted += 1
        return 0

    cdef int broken(self, uint32_t file, uint32_t lineno, str why) except -1:
        where = f"{self.files[file]}:{lineno}"
        if not self.ignore_broken:
            raise ZoneFileError(f"{where}: {why}")
        self.warn(f"{where}: {why}; record skipped")
        self.skipped += 1
        return 0

    cdef int statement(self, Text line, uint32_t file, uint32_t lineno) except -1:
        cdef Text first, part, comment, data
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t data_at = -1
        cdef uint8_t owner[256]
        cdef uint8_t lk[256]
        cdef int olen, rdtype = -1, r
        cdef uint32_t ttl
        cdef bint have_ttl = False
        cdef const char *why = NULL
        cdef bint inside                          # the owner is known to be in the zone
        cdef bint plain
        while line.n > 0 and trimmed(line.p[line.n - 1]):
            line.n -= 1
        if not next_part(line, &pos, &first) or first.p[0] == 59:
            return 0                              # empty, or a comment
        if line.p[0] == 36:                       # $
            return self.directive(line, file, lineno)
        if is_space(line.p[0]):
            if self.prev_len < 0:
                return self.broken(file, lineno, "no owner name (the line starts with a "
                                   "blank, and no record comes before it)")
            olen = self.prev_len
            memcpy(owner, self.prev, olen)
            inside = self.prev_inside
            pos = 0
        else:
            olen = self._owner(first, owner, &why)
            if olen < 0:
                self.prev_len = -1                # what follows it has no owner either
                return self.broken(file, lineno, f"bad owner name '{show(first.p, first.n)}'"
                                   f": {why.decode()}")
            memcpy(self.prev, owner, olen)
            self.prev_len = olen
            # relative to an origin inside the zone: inside too (no need to look)
            inside = self.origin_inside and first.p[first.n - 1] != 46
            self.prev_inside = inside
        ttl = self.default_ttl
        while next_part(line, &pos, &part):
            data_at = part.p - line.p
            if memchr(part.p, 59, part.n) != NULL:
                break
            if ieq(part, b"IN"):
                continue
            if not have_ttl and rdtype < 0 and is_timespec(part):
                if not make_ttl(part, &ttl):
                    return self.broken(file, lineno, f"bad TTL '{show(part.p, part.n)}'")
                if not self.dollar_ttl:
                    self.default_ttl = ttl        # PowerDNS: the last TTL is the default
                have_ttl = True
                continue
            if rdtype >= 0:
                break
            rdtype = type_from_text(part.p, part.n)
            if rdtype < 0:
                return self.broken(file, lineno, f"'{show(part.p, part.n)}' is not a "
                                   "record type PowerDNS knows")
        if data_at < 0:
            return self.broken(file, lineno, "no type and no data after the owner")
        if rdtype < 0:
            return self.broken(file, lineno, "no record type")
        comment.n = 0
        if self.sink.wants_comments:
            comment.p = <const uint8_t *>memchr(line.p, 59, line.n)
            if comment.p != NULL:
                comment.n = line.p + line.n - comment.p
                self.scratch.n = 0
                buf_add(&self.scratch, comment.p, comment.n)
                comment.p = self.scratch.p
        # the data: the rest of the line, then the lines of an open "(" group
        data.p = line.p + data_at
        data.n = line.n - data_at
        while data.n > 0 and trimmed(data.p[data.n - 1]):
            data.n -= 1
        plain = plain_data(data.p, data.n)
        if not plain or (data.n == 1 and data.p[0] == 64) or _canonical_type(rdtype):
            data = self.rest(data, plain)
            problem = self.canonical(rdtype, file, lineno, &why)
            if problem is not None:
                return self.broken(file, lineno, problem)
            data.p = self.content.p
            data.n = self.content.n
        if self.zone_only and not inside:
            r = name_to_lk(owner, olen, lk)
            inside = r >= self.zone_lklen and memcmp(lk, self.zone_lk, self.zone_lklen) == 0
            self.prev_inside = inside             # the owner is the previous one now
        if self.zone_only and not inside:
            return self.broken(file, lineno, f"'{name_text(owner[:olen])}' is outside the "
                               f"zone '{name_text(self.apex_wire)}'")
        r = self.sink.record(owner, olen, rdtype, ttl, data.p, data.n, file, lineno, comment,
                             &why)
        if r < 0:
            return self.broken(file, lineno, f"bad {type_name(rdtype)} data "
                               f"'{show(data.p, data.n)}': {why.decode()}")
        if r == 1 and why != NULL:
            self.warn(f"{self.files[file]}:{lineno}: {why.decode()}")
        self.records += 1
        return 0

    cdef Text rest(self, Text data, bint plain) except *:
        """The data in ``content``: its comment cut, ``@`` made the origin, the lines of an
        open "(" group joined to it (PowerDNS's chopComment, findAndElide)."""
        cdef Text more
        cdef uint32_t more_file, more_line
        cdef bint group = False
        cdef Py_ssize_t at
        self.content.n = 0
        buf_add(&self.content, data.p,
                data.n if plain else comment_at(data.p, data.n, &group))
        buf_trim(&self.content)
        if self.content.n == 1 and self.content.p[0] == 64:        # "@"
            self.content.n = 0
            add_name_text(&self.content, self.origin)
        if group and buf_elide(&self.content, 40) and not buf_elide(&self.content, 41):
            while self.next_line(&more, &more_file, &more_line):
                while more.n > 0 and is_space(more.p[more.n - 1]):
                    more.n -= 1
                more.n = comment_at(more.p, more.n, &group)
                while more.n > 0 and is_space(more.p[0]):
                    more.p += 1
                    more.n -= 1
                while more.n > 0 and is_space(more.p[more.n - 1]):
                    more.n -= 1
                buf_byte(&self.content, 32)
                at = self.content.n
                buf_add(&self.content, more.p, more.n)
                if buf_elide(&self.content, 41, at):    # in that line only, as PowerDNS
                    break
        buf_trim(&self.content)
        data.p = self.content.p
        data.n = self.content.n
        return data

    cdef int _origin_moved(self) except -1:
        """Is the origin (still) at or below the zone's apex? And its text (no dot)."""
        cdef uint8_t lk[256]
        cdef int n = name_to_lk(self.origin, self.origin_len, lk)
        self.origin_inside = n >= self.zone_lklen and memcmp(lk, self.zone_lk,
                                                             self.zone_lklen) == 0
        self.origin_text.n = 0
        add_name_text(&self.origin_text, self.origin, False)
        return 0

    cdef int _owner(self, Text t, uint8_t *out, const char **why) except -2:
        """An owner (or a name in the data) made absolute against the origin; -1 when it is
        malformed."""
        cdef int n
        if t.n == 1 and t.p[0] == 64:
            memcpy(out, self.origin, self.origin_len)
            return self.origin_len
        n = name_from_text(t.p, t.n, out, why)
        if n < 0:
            return -1
        if t.p[t.n - 1] != 46:                    # relative (PowerDNS's isCanonical)
            if n - 1 + self.origin_len > 255:
                why[0] = b"name longer than 255 octets"
                return -1
            memcpy(out + n - 1, self.origin, self.origin_len)
            n += self.origin_len - 1
        return n

    cdef object canonical(self, uint16_t rdtype, uint32_t file, uint32_t lineno,
                          const char **why):
        """Make the names of NS, CNAME, DNAME, PTR, MX, SRV, RP, AFSDB and SOA data
        absolute (and the SOA's times plain seconds), in ``content``, as PowerDNS's reader
        does; None, or why the record is broken."""
        cdef Text parts[8]
        cdef Text whole
        cdef Py_ssize_t pos = 0
        cdef int count = 0
        cdef int i
        cdef uint32_t v
        cdef int n
        cdef char digits[16]
        if rdtype not in (TYPE_NS, TYPE_CNAME, TYPE_DNAME, TYPE_PTR, TYPE_MX, TYPE_SRV, TYPE_RP, TYPE_AFSDB, TYPE_SOA):
            return None
        whole.p = self.content.p
        whole.n = self.content.n
        if rdtype in (TYPE_NS, TYPE_CNAME, TYPE_DNAME, TYPE_PTR):
            parts[0] = whole
            count = 1
        else:
            while count < 8 and next_part(whole, &pos, &parts[count]):
                count += 1
        self.gen.n = 0        # built here, then swapped in (gen is free between generated lines)
        if rdtype in (TYPE_NS, TYPE_CNAME, TYPE_DNAME, TYPE_PTR):
            if whole.n == 0:
                return None
            return self._canon(parts[0], why) or self._swap()
        if rdtype == TYPE_MX or rdtype == TYPE_SRV or rdtype == TYPE_RP or rdtype == TYPE_AFSDB:
            if rdtype == TYPE_AFSDB and count != 2:
                return "AFSDB data must be a subtype and a hostname"
            if count != (4 if rdtype == TYPE_SRV else 2):
                return None                       # left as written, for the data reader
            for i in range(count):
                if i:
                    buf_byte(&self.gen, 32)
                if i == count - 1 or rdtype == TYPE_RP:
                    if parts[i].n == 1 and parts[i].p[0] == 46 and rdtype != TYPE_RP:
                        buf_byte(&self.gen, 46)
                        continue
                    problem = self._canon(parts[i], why)
                    if problem is not None:
                        return problem
                else:
                    buf_add(&self.gen, parts[i].p, parts[i].n)
            return self._swap()
        # SOA: two names, then times
        if count >= 8:
            return "SOA record data has too many parts"
        for i in range(count):
            if i:
                buf_byte(&self.gen, 32)
            if i < 2 and count > 1:
                problem = self._canon(parts[i], why)
                if problem is not None:
                    return problem
            elif i >= 2:
                if not make_ttl(parts[i], &v):
                    return f"bad time '{show(parts[i].p, parts[i].n)}' in SOA record data"
                n = snprintf(digits, 16, b"%u", v)
                buf_add(&self.gen, <const uint8_t *>digits, n)
            else:
                buf_add(&self.gen, parts[i].p, parts[i].n)
        return self._swap()

    cdef object _canon(self, Text t, const char **why):
        """Append the name ``t`` made absolute (PowerDNS's toCanonic) to ``gen``."""
        cdef uint8_t name[256]
        if _simple_relative(t) and t.n + 1 + self.origin_len <= 255:
            # the usual case, without a round trip through the wire form: letters, digits,
            # hyphens and underscores in labels of at most 63 octets, then the origin
            buf_add(&self.gen, t.p, t.n)
            if self.origin_len > 1:
                buf_byte(&self.gen, 46)
                buf_add(&self.gen, self.origin_text.p, self.origin_text.n)
            return None
        if self._owner(t, name, why) < 0:
            return f"bad name '{show(t.p, t.n)}' in the data: {why[0].decode()}"
        add_name_text(&self.gen, name, False)      # as PowerDNS's tools store it
        return None

    cdef object _swap(self):
        cdef Buf tmp = self.content
        self.content = self.gen
        self.gen = tmp
        return None

    cdef int directive(self, Text line, uint32_t file, uint32_t lineno) except -1:
        cdef Text command, arg, arg2
        cdef Py_ssize_t pos = 0
        cdef uint32_t v
        cdef uint8_t name[256]
        cdef int n
        cdef const char *why = NULL
        where = f"{self.files[file]}:{lineno}"
        next_part(line, &pos, &command)
        have_arg = next_part(line, &pos, &arg)
        if ieq(command, b"$TTL") and have_arg:
            while arg.n > 0 and arg.p[arg.n - 1] == 59:
                arg.n -= 1
            if arg.n == 0 or not make_ttl(arg, &v):
                raise ZoneFileError(f"{where}: bad $TTL '{show(arg.p, arg.n)}'")
            self.default_ttl = v
            self.dollar_ttl = True
            return 0
        if ieq(command, b"$ORIGIN") and have_arg:
            # always absolute, as PowerDNS reads it (RFC 1035 §5.1 would make a name
            # without a final dot relative to the current origin)
            n = self._owner(arg, name, &why) if arg.n == 1 and arg.p[0] == 64 else \
                name_from_text(arg.p, arg.n, name, &why)
            if n < 0:
                raise ZoneFileError(f"{where}: bad $ORIGIN '{show(arg.p, arg.n)}': "
                                    f"{why.decode()}")
            if arg.p[arg.n - 1] != 46 and not (arg.n == 1 and arg.p[0] == 64):
                self.warn(f"{where}: $ORIGIN '{show(arg.p, arg.n)}' is read as "
                                     f"'{name_text(name[:n])}', as PowerDNS reads it (not "
                                     "relative to the origin before it)")
            memcpy(self.origin, name, n)
            self.origin_len = n
            self.origin_set = True
            self._origin_moved()
            return 0
        if ieq(command, b"$INCLUDE") and have_arg:
            if not self.allow_include:
                raise ZoneFileError(f"{where}: $INCLUDE is not allowed here")
            path = (<bytes>arg.p[:arg.n]).decode("utf-8", "surrogateescape")
            if len(path) >= 2 and path.startswith('"') and path.endswith('"'):
                path = path[1:len(path) - 1]
            if next_part(line, &pos, &arg2) and arg2.p[0] != 59:
                # ignored, as PowerDNS ignores it (RFC 1035 §5.1 would read the file
                # relative to it)
                self.warn(f"{where}: the origin '{show(arg2.p, arg2.n)}' of "
                                     "$INCLUDE is ignored, as PowerDNS ignores it")
            try:
                data, shown = self.open_include(path)
            except (OSError, ValueError) as exc:      # ValueError: a NUL in the name
                shown_path = path.replace("\0", "\\000")
                raise ZoneFileError(f"{where}: cannot read the $INCLUDE file '{shown_path}'"
                                    f": {getattr(exc, 'strerror', None) or exc}") from None
            self._push(data, shown, where)
            return 0
        if ieq(command, b"$GENERATE") and have_arg and next_part(line, &pos, &arg2):
            return self._generate(line, arg, arg2.p - line.p, where)
        raise ZoneFileError(f"{where}: cannot read the line '{show(line.p, line.n)}'")

    cdef int _generate(self, Text line, Text spec, Py_ssize_t template_at,
                       str where) except -1:
        """``$GENERATE start-stop[/step] template``: PowerDNS reads the range with
        sscanf("%u-%u/%u"), and the template is the rest of the line's parts."""
        cdef Py_ssize_t i = 0
        cdef uint32_t start = self.tpl_counter, stop = 0, step = 1
        cdef Text t
        cdef Py_ssize_t pos
        cdef Text rest
        if _scan_u32(spec, &i, &start):
            if i < spec.n and spec.p[i] == 45:
                i += 1
                if _scan_u32(spec, &i, &stop) and i < spec.n and spec.p[i] == 47:
                    i += 1
                    _scan_u32(spec, &i, &step)
        if step < 1 or stop < start:
            raise ZoneFileError(f"{where}: invalid $GENERATE parameters")
        if self.max_generate_steps and (stop - start) // step > self.max_generate_steps:
            raise ZoneFileError(f"{where}: the number of $GENERATE steps "
                                f"({(stop - start) // step}) is too high, the maximum is "
                                f"set to {self.max_generate_steps}")
        self.tpl = line.p[template_at:line.n]
        rest.p = <const uint8_t *><const char *>self.tpl
        rest.n = len(self.tpl)
        self.tpl_parts = []
        pos = 0
        while next_part(rest, &pos, &t):
            self.tpl_parts.append((t.p - rest.p, t.p - rest.p + t.n))
        self.tpl_counter = start
        self.tpl_stop = stop
        self.tpl_step = step
        self.tpl_file = self.fs[self.depth - 1].file
        self.tpl_line = self.fs[self.depth - 1].line
        self.tpl_active = True
        return 0

    cdef int generated(self) except -1:
        """Read the next line of the $GENERATE template; 0 when it is done."""
        cdef const uint8_t *tpl
        cdef Py_ssize_t start, end, p, close
        cdef Text line
        cdef bint escaped
        cdef uint8_t c
        cdef char out[80]
        cdef int offset, width, k
        cdef char radix
        cdef uint32_t value
        cdef bint first = True
        if self.tpl_counter > self.tpl_stop:
            self.tpl_active = False
            return 0
        tpl = <const uint8_t *><const char *>self.tpl
        self.gen.n = 0
        for start, end in self.tpl_parts:
            if not first:
                buf_byte(&self.gen, 32)
            first = False
            escaped = False
            p = start
            while p < end:
                c = tpl[p]
                if escaped:
                    buf_byte(&self.gen, c)
                    escaped = False
                elif c == 92:
                    escaped = True
                elif c != 36:
                    buf_byte(&self.gen, c)
                elif p + 1 == end or tpl[p + 1] != 123:           # $ alone: the counter
                    k = snprintf(out, 80, b"%u", self.tpl_counter)
                    buf_add(&self.gen, <const uint8_t *>out, k)
                else:                                              # ${offset,width,radix}
                    close = p + 2
                    while close < end and tpl[close] != 125:
                        close += 1
                    if close == end:
                        break                     # a partial spec ends the part
                    offset, width, radix = 0, 0, 100
                    _scan_spec(tpl + p + 2, close - p - 2, &offset, &width, &radix)
                    width = min(max(width, -70), 70)
                    value = self.tpl_counter + <uint32_t>offset
                    if radix == 111:
                        k = snprintf(out, 80, b"%0*o", width, value)
                    elif radix == 120:
                        k = snprintf(out, 80, b"%0*x", width, value)
                    elif radix == 88:
                        k = snprintf(out, 80, b"%0*X", width, value)
                    else:
                        k = snprintf(out, 80, b"%0*d", width, <int>value)
                    buf_add(&self.gen, <const uint8_t *>out, min(k, 79))
                    p = close
                p += 1
        if self.tpl_stop - self.tpl_counter < self.tpl_step:
            self.tpl_active = False               # the last line (and no wrap around)
        else:
            self.tpl_counter += self.tpl_step
        # the line leaves ``gen``, which canonical() reuses: a copy goes to the statement
        line_bytes = PyBytes_FromStringAndSize(<char *>self.gen.p, self.gen.n)
        line.p = <const uint8_t *><const char *>line_bytes
        line.n = len(line_bytes)
        self.statement(line, self.tpl_file, self.tpl_line)
        return 1


cdef bint _scan_u32(Text t, Py_ssize_t *i, uint32_t *out) noexcept nogil:
    """sscanf's %u: blanks, an optional +, digits (modulo 2^32)."""
    cdef Py_ssize_t p = i[0]
    cdef uint32_t v = 0
    cdef bint digits = False
    while p < t.n and is_space(t.p[p]):
        p += 1
    if p < t.n and t.p[p] == 43:
        p += 1
    while p < t.n and is_digit(t.p[p]):
        v = v * 10 + (t.p[p] - 48)
        digits = True
        p += 1
    if not digits:
        return False
    i[0] = p
    out[0] = v
    return True


cdef void _scan_spec(const uint8_t *s, Py_ssize_t n, int *offset, int *width,
                     char *radix) noexcept nogil:
    """sscanf(spec, "%d,%d,%c"): as many of the three as can be read, in order."""
    cdef Py_ssize_t p = 0
    if not _scan_int(s, n, &p, offset) or p >= n or s[p] != 44:
        return
    p += 1
    if not _scan_int(s, n, &p, width) or p >= n or s[p] != 44:
        return
    p += 1
    if p < n:
        radix[0] = s[p]


cdef bint _scan_int(const uint8_t *s, Py_ssize_t n, Py_ssize_t *at, int *out) noexcept nogil:
    cdef Py_ssize_t p = at[0]
    cdef int64_t v = 0
    cdef int sign = 1
    cdef bint digits = False
    while p < n and is_space(s[p]):
        p += 1
    if p < n and (s[p] == 43 or s[p] == 45):
        sign = -1 if s[p] == 45 else 1
        p += 1
    while p < n and is_digit(s[p]):
        if v < 100000000:
            v = v * 10 + (s[p] - 48)
        digits = True
        p += 1
    if not digits:
        return False
    at[0] = p
    out[0] = <int>(sign * v)
    return True

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
- ``$TTL``, ``$ORIGIN``, ``$INCLUDE`` and ``$GENERATE`` are read by the Parser's base
  class, fastdns.zone._directives.Directives, which holds the files being read and gives
  the lines (a $GENERATE's from fastdns.zone._generate);
- the names in the data of NS, CNAME, DNAME, PTR, MX, SRV, RP, AFSDB and SOA are made
  absolute against the origin (and the SOA's times lose their units); the data of every
  other type is read with its names absolute, as PowerDNS does;
- the data then goes to a Sink (fastdns.zone._sinks): fastdns.zone._rdata turns it into
  rdata for the server (StoreSink), or fastdns-util keeps the text, as PowerDNS's tools
  store it (RecordList). The parts of lines, buffers and TTLs are fastdns.zone._zonetext's.

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

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport free
from libc.string cimport memchr, memcmp, memcpy

from fastdns.consts cimport *
from fastdns._names cimport name_to_lk
from fastdns.zone._chars cimport is_digit, is_space
from fastdns.zone._directives cimport Directives
from fastdns.zone._generate cimport Generate
from fastdns.zone._rdtypes cimport type_from_text
from fastdns.zone._sinks cimport Sink
from fastdns.zone._zonetext cimport (
    Buf, Text, add_name_text, buf_add, buf_byte, buf_elide, buf_trim, ieq, is_timespec,
    make_ttl, next_part, show, trimmed,
)

from fastdns.zone._directives import ZoneFileError  # what the reader raises (here too)
from fastdns.zone._rdtypes import type_name
from fastdns.zone._zonetext import name_text


# ---------------------------------------------------------------------------------------
# comments, groups and names in the data

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


cdef Text line_comment(Text line, Buf *scratch) except *:
    """The line's comment (from its first ``;``), copied to ``scratch``; empty if none."""
    cdef Text comment
    comment.n = 0
    comment.p = <const uint8_t *>memchr(line.p, 59, line.n)
    if comment.p != NULL:
        comment.n = line.p + line.n - comment.p
        scratch.n = 0
        buf_add(scratch, comment.p, comment.n)
        comment.p = scratch.p
    return comment


# ---------------------------------------------------------------------------------------
# the reader

cdef class Parser(Directives):
    """Reads master files into a Sink; see the module docstring. The files, the origin and
    the directives are fastdns.zone._directives.Directives's (``origin``, ``open_include``
    and the limits are its)."""

    def __cinit__(self, Sink sink not None, *args, **kwargs):
        self.sink = sink
        self.prev_len = -1

    def __dealloc__(self):
        free(self.content.p)
        free(self.scratch.p)
        free(self.gen.p)

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
        cdef Generate generate = self.generate     # the reader's one (start() re-arms it)
        while not limit or self.records + self.skipped < stop:
            if generate.active and generate.next_line(&line):     # a $GENERATE's first
                self.statement(line, generate.file, generate.line)
                continue
            if not self.next_line(&line, &file, &lineno):
                return False
            self.statement(line, file, lineno)
        return True

    cdef int statement(self, Text line, uint32_t file, uint32_t lineno) except -1:
        """A line of the file (or of a $GENERATE template): a record, a directive, or
        nothing (blank or a comment)."""
        cdef Text first, comment, data
        cdef Py_ssize_t pos = 0
        cdef Py_ssize_t data_at
        cdef uint8_t owner[256]
        cdef uint8_t lk[256]
        cdef int olen, rdtype, r
        cdef uint32_t ttl
        cdef const char *why = NULL
        cdef bint inside                          # the owner is known to be in the zone
        cdef bint plain
        while line.n > 0 and trimmed(line.p[line.n - 1]):
            line.n -= 1
        if not next_part(line, &pos, &first) or first.p[0] == 59:
            return 0                              # empty, or a comment
        if line.p[0] == 36:                       # $
            return self.directive(line, file, lineno)
        olen = self._line_owner(line, first, owner, &inside, file, lineno)
        if olen < 0:
            return 0
        data_at = self._head(line, 0 if is_space(line.p[0]) else pos, &rdtype, &ttl, file,
                             lineno)
        if data_at < 0:
            return 0
        comment.n = 0
        if self.sink.wants_comments:
            comment = line_comment(line, &self.scratch)
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

    cdef int _line_owner(self, Text line, Text first, uint8_t *owner, bint *inside,
                         uint32_t file, uint32_t lineno) except -2:
        """The owner of a record's line: the previous record's when the line starts with a
        blank, else its first part made absolute; -1 when it has none (``broken`` told)."""
        cdef int olen
        cdef const char *why = NULL
        if is_space(line.p[0]):
            if self.prev_len < 0:
                self.broken(file, lineno, "no owner name (the line starts with a blank, and "
                            "no record comes before it)")
                return -1
            memcpy(owner, self.prev, self.prev_len)
            inside[0] = self.prev_inside
            return self.prev_len
        olen = self._owner(first, owner, &why)
        if olen < 0:
            self.prev_len = -1                    # what follows it has no owner either
            self.broken(file, lineno, f"bad owner name '{show(first.p, first.n)}': "
                        f"{why.decode()}")
            return -1
        memcpy(self.prev, owner, olen)
        self.prev_len = olen
        # relative to an origin inside the zone: inside too (no need to look)
        inside[0] = self.origin_inside and first.p[first.n - 1] != 46
        self.prev_inside = inside[0]
        return olen

    cdef Py_ssize_t _head(self, Text line, Py_ssize_t pos, int *rdtype, uint32_t *ttl,
                          uint32_t file, uint32_t lineno) except -2:
        """The TTL, ``IN`` and the type, in any order, from ``pos`` on: where the data
        starts after them, or -1 when the record is broken (``broken`` told)."""
        cdef Text part
        cdef Py_ssize_t data_at = -1
        cdef bint have_ttl = False
        rdtype[0] = -1
        ttl[0] = self.default_ttl
        while next_part(line, &pos, &part):
            data_at = part.p - line.p
            if memchr(part.p, 59, part.n) != NULL:
                break
            if ieq(part, b"IN"):
                continue
            if not have_ttl and rdtype[0] < 0 and is_timespec(part):
                if not make_ttl(part, ttl):
                    self.broken(file, lineno, f"bad TTL '{show(part.p, part.n)}'")
                    return -1
                if not self.dollar_ttl:
                    self.default_ttl = ttl[0]     # PowerDNS: the last TTL is the default
                have_ttl = True
                continue
            if rdtype[0] >= 0:
                break
            rdtype[0] = type_from_text(part.p, part.n)
            if rdtype[0] < 0:
                self.broken(file, lineno, f"'{show(part.p, part.n)}' is not a record type "
                            "PowerDNS knows")
                return -1
        if data_at < 0:
            self.broken(file, lineno, "no type and no data after the owner")
            return -1
        if rdtype[0] < 0:
            self.broken(file, lineno, "no record type")
            return -1
        return data_at

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
            add_name_text(&self.content, self.origin, True)
        if group and buf_elide(&self.content, 40, 0) \
                and not buf_elide(&self.content, 41, 0):
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
        self.gen.n = 0                            # built here, then swapped in
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

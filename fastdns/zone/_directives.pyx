# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The directives of master files, as PowerDNS Authoritative 4.7 reads them, and what they
govern: the files being read, the origin, the default TTL and the $GENERATE template.

- ``$TTL`` takes what PowerDNS's makeTTLFromZone takes (``1h30m`` is 60, as there);
- ``$ORIGIN`` is absolute even without a final dot, and one set in an included file stays
  in force after it (both with a warning at the line: docs/differences.md, Z7);
- ``$INCLUDE`` reads the file ``open_include`` gives, up to ``max_include_depth`` deep;
  its origin argument is ignored, as PowerDNS ignores it (with a warning);
- ``$GENERATE`` is fastdns.zone._generate's.

A broken directive is always an error (ZoneFileError, ``file:line: why``): what follows it
cannot be read as meant. The records of the lines are the Parser's
(fastdns.zone._masterfile), a subclass: it reads them with this class's lines, origin and
default TTL, and reports a broken one through ``broken``.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free
from libc.string cimport memchr, memcmp, memcpy

from fastdns._names cimport name_to_lk, wire_name_ok
from fastdns.zone._generate cimport Generate
from fastdns.zone._rdfields cimport name_from_text
from fastdns.zone._sinks cimport WARNINGS_LISTED, Sink
from fastdns.zone._zonetext cimport Text, add_name_text, ieq, make_ttl, next_part, show

from fastdns.zone._zonetext import name_text

#: PowerDNS's default TTL for a record that states none, before any $TTL
DEFAULT_TTL = 3600


class ZoneFileError(ValueError):
    """A zone file that cannot be read; the message starts with ``file:line:``."""


cdef class Directives:
    """The state of a master-file reader that directives change, and its lines.

    ``origin`` is the zone's apex (wire form); ``open_include(name)`` returns the text of
    an ``$INCLUDE``d file and the name its records are reported under, or raises OSError.
    ``sink`` and the records are the Parser's.
    """

    def __cinit__(self, Sink sink not None, bytes origin not None, *, bint allow_include=True,
                  open_include=None, bint ignore_broken=False,
                  uint64_t max_generate_steps=0, int max_include_depth=INCLUDE_DEPTH,
                  bint zone_only=True):
        if not 1 <= len(origin) <= 255 or not wire_name_ok(origin, len(origin), len(origin)):
            raise ValueError("bad origin")
        memcpy(self.origin, <const char *>origin, len(origin))
        self.origin_len = len(origin)
        self.apex_wire = origin
        self.zone_lklen = name_to_lk(origin, len(origin), self.zone_lk)
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
        self.generate = Generate()
        self._origin_moved()

    def __dealloc__(self):
        free(self.origin_text.p)

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

    cdef int directive(self, Text line, uint32_t file, uint32_t lineno) except -1:
        """A line that starts with ``$``."""
        cdef Text command, arg, arg2, template
        cdef Py_ssize_t pos = 0
        cdef uint32_t v
        cdef uint8_t name[256]
        cdef int n
        cdef const char *why = NULL
        where = f"{self.files[file]}:{lineno}"
        command.n = 0                             # (the line has one: it starts with "$")
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
                          f"'{name_text(name[:n])}', as PowerDNS reads it (not relative to "
                          "the origin before it)")
            memcpy(self.origin, name, n)
            self.origin_len = n
            self.origin_set = True
            self._origin_moved()
            return 0
        if ieq(command, b"$INCLUDE") and have_arg:
            return self._include(line, pos, arg, where)
        if ieq(command, b"$GENERATE") and have_arg and next_part(line, &pos, &arg2):
            template.p = arg2.p
            template.n = line.p + line.n - arg2.p
            problem = self.generate.start(arg, template, self.max_generate_steps,
                                          self.fs[self.depth - 1].file,
                                          self.fs[self.depth - 1].line)
            if problem is not None:
                raise ZoneFileError(f"{where}: {problem}")
            return 0
        raise ZoneFileError(f"{where}: cannot read the line '{show(line.p, line.n)}'")

    cdef int _include(self, Text line, Py_ssize_t pos, Text arg, str where) except -1:
        """``$INCLUDE file [origin]``: the file is read next (``pos``: after ``arg``)."""
        cdef Text arg2
        if not self.allow_include:
            raise ZoneFileError(f"{where}: $INCLUDE is not allowed here")
        path = (<bytes>arg.p[:arg.n]).decode("utf-8", "surrogateescape")
        if len(path) >= 2 and path.startswith('"') and path.endswith('"'):
            path = path[1:len(path) - 1]
        if next_part(line, &pos, &arg2) and arg2.p[0] != 59:
            # ignored, as PowerDNS ignores it (RFC 1035 §5.1 would read the file relative
            # to it)
            self.warn(f"{where}: the origin '{show(arg2.p, arg2.n)}' of $INCLUDE is "
                      "ignored, as PowerDNS ignores it")
        try:
            data, shown = self.open_include(path)
        except (OSError, ValueError) as exc:      # ValueError: a NUL in the name
            shown_path = path.replace("\0", "\\000")
            raise ZoneFileError(f"{where}: cannot read the $INCLUDE file '{shown_path}'"
                                f": {getattr(exc, 'strerror', None) or exc}") from None
        self._push(data, shown, where)
        return 0

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

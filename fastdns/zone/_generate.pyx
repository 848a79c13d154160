# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""``$GENERATE start-stop[/step] template``, as PowerDNS's ZoneParserTNG reads it.

PowerDNS reads the range with sscanf("%u-%u/%u") (a start it cannot read keeps the
previous $GENERATE's counter), and the template is the rest of the line's parts, joined by
one blank. In a part, ``$`` is the counter, ``${offset,width,radix}`` the counter plus
``offset`` in ``width`` digits of radix d, o, x or X (sscanf "%d,%d,%c": what cannot be
read keeps its default), ``\\X`` the character X. The reader
(fastdns.zone._directives) reads each line it gives as if the file held it, at the place
of the $GENERATE.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport free

from fastdns.zone._chars cimport is_digit, is_space
from fastdns.zone._zonetext cimport Buf, Text, buf_add, buf_byte, next_part


cdef class Generate:
    """One $GENERATE at a time: its range, its template and the lines they give."""

    def __dealloc__(self):
        free(self.out.p)

    cdef object start(self, Text spec, Text template, uint64_t max_steps, uint32_t file,
                      uint32_t line):
        cdef Py_ssize_t i = 0
        cdef uint32_t start = self.counter, stop = 0, step = 1
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
            return "invalid $GENERATE parameters"
        if max_steps and (stop - start) // step > max_steps:
            return (f"the number of $GENERATE steps ({(stop - start) // step}) is too high, "
                    f"the maximum is set to {max_steps}")
        self.tpl = template.p[:template.n]
        rest.p = <const uint8_t *><const char *>self.tpl
        rest.n = len(self.tpl)
        self.parts = []
        pos = 0
        while next_part(rest, &pos, &t):
            self.parts.append((t.p - rest.p, t.p - rest.p + t.n))
        self.counter = start
        self.stop = stop
        self.step = step
        self.file = file
        self.line = line
        self.active = True
        return None

    cdef int next_line(self, Text *line) except -1:
        cdef const uint8_t *tpl
        cdef Py_ssize_t start, end
        cdef bint first = True
        if not self.active:
            return 0
        if self.counter > self.stop:
            self.active = False
            return 0
        tpl = <const uint8_t *><const char *>self.tpl
        self.out.n = 0
        for start, end in self.parts:
            if not first:
                buf_byte(&self.out, 32)
            first = False
            self._part(tpl, start, end)
        if self.stop - self.counter < self.step:
            self.active = False                   # the last line (and no wrap around)
        else:
            self.counter += self.step
        line.p = self.out.p
        line.n = self.out.n
        return 1

    cdef int _part(self, const uint8_t *tpl, Py_ssize_t start, Py_ssize_t end) except -1:
        """One part of the template, at the current counter, appended to ``out``."""
        cdef Py_ssize_t p = start, close
        cdef bint escaped = False
        cdef uint8_t c
        cdef char out[80]
        cdef int offset, width, k
        cdef char radix
        cdef uint32_t value
        while p < end:
            c = tpl[p]
            if escaped:
                buf_byte(&self.out, c)
                escaped = False
            elif c == 92:
                escaped = True
            elif c != 36:
                buf_byte(&self.out, c)
            elif p + 1 == end or tpl[p + 1] != 123:           # $ alone: the counter
                k = snprintf(out, 80, b"%u", self.counter)
                buf_add(&self.out, <const uint8_t *>out, k)
            else:                                              # ${offset,width,radix}
                close = p + 2
                while close < end and tpl[close] != 125:
                    close += 1
                if close == end:
                    break                         # a partial spec ends the part
                offset, width, radix = 0, 0, 100
                _scan_spec(tpl + p + 2, close - p - 2, &offset, &width, &radix)
                width = min(max(width, -70), 70)
                value = self.counter + <uint32_t>offset
                if radix == 111:
                    k = snprintf(out, 80, b"%0*o", width, value)
                elif radix == 120:
                    k = snprintf(out, 80, b"%0*x", width, value)
                elif radix == 88:
                    k = snprintf(out, 80, b"%0*X", width, value)
                else:
                    k = snprintf(out, 80, b"%0*d", width, <int>value)
                buf_add(&self.out, <const uint8_t *>out, min(k, 79))
                p = close
            p += 1
        return 0


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

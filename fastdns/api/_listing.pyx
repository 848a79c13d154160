# cython: language_level=3, boundscheck=False, wraparound=False
"""The API's list of zones written as JSON in one pass over the ``domains`` rows.

A server with 100,000 zones must list them in under a second (issue 15). Made as Python
dicts and written by a JSON library, each zone costs some twenty objects and a few
microseconds of interpreted code; here each row's fields are copied as UTF-8 into one
growing buffer, escaped where JSON or the zone id needs it, and the text is the only object
made. The output is what ``json.dumps`` of fastdns.api.zones' ``_list_json`` objects would be
(the tests compare the two).

A row is ``(id, name, type, master, account, catalog, notified_serial, last_check)`` as
the generic SQL backends read ``domains``; ``soas`` maps ``(id, name)`` to the apex SOA's
content, ``signed`` holds the ids of the zones with keys.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

#: ``domains.type`` → the kind as the API shows it
cdef dict SHOWN = {"NATIVE": "Native", "MASTER": "Master", "SLAVE": "Slave",
                   "PRODUCER": "Producer", "CONSUMER": "Consumer"}
cdef bytes URL = b"/api/v1/servers/localhost/zones/"
cdef const char *HEX = b"0123456789ABCDEF"


cdef class _Buffer:
    cdef char *data
    cdef Py_ssize_t size, room

    def __cinit__(self, Py_ssize_t room):
        self.room = room if room > 64 else 64
        self.data = <char *>malloc(self.room)
        if self.data == NULL:
            raise MemoryError()
        self.size = 0

    def __dealloc__(self):
        free(self.data)

    cdef int need(self, Py_ssize_t more) except -1:
        cdef char *grown
        if self.size + more <= self.room:
            return 0
        while self.size + more > self.room:
            self.room *= 2
        grown = <char *>realloc(self.data, self.room)
        if grown == NULL:
            raise MemoryError()
        self.data = grown
        return 0

    cdef int raw(self, const char *text, Py_ssize_t length) except -1:
        self.need(length)
        memcpy(self.data + self.size, text, length)
        self.size += length
        return 0

    cdef int integer(self, long long value) except -1:
        cdef char digits[24]
        cdef int n = 0
        cdef bint negative = value < 0
        cdef unsigned long long v = <unsigned long long>(-value if negative else value)
        while True:
            digits[n] = <char>(48 + v % 10)
            n += 1
            v //= 10
            if v == 0:
                break
        self.need(n + 1)
        if negative:
            self.data[self.size] = b'-'
            self.size += 1
        while n:
            n -= 1
            self.data[self.size] = digits[n]
            self.size += 1
        return 0

    cdef int string(self, str text) except -1:
        """``text`` as a JSON string: quote, backslash and control characters escaped."""
        cdef Py_ssize_t length, i
        cdef const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length)
        cdef unsigned char c
        self.need(length * 6 + 2)
        self.data[self.size] = b'"'
        self.size += 1
        for i in range(length):
            c = <unsigned char>utf8[i]
            if c == 34 or c == 92:
                self.data[self.size] = b'\\'
                self.data[self.size + 1] = <char>c
                self.size += 2
            elif c < 32:
                memcpy(self.data + self.size, b"\\u00", 4)
                self.data[self.size + 4] = HEX[c >> 4]
                self.data[self.size + 5] = HEX[c & 15]
                self.size += 6
            else:
                self.data[self.size] = <char>c
                self.size += 1
        self.data[self.size] = b'"'
        self.size += 1
        return 0

    cdef int zone_id(self, const char *name, Py_ssize_t length) except -1:
        """PowerDNS's zone id of ``name`` (absolute): every octet other than a letter, a
        digit, ``.`` or ``-`` as ``=XX``; the root is ``=2E``."""
        cdef Py_ssize_t i
        cdef unsigned char c
        if length == 1 and name[0] == b'.':
            return self.raw(b"=2E", 3)
        self.need(length * 3)
        for i in range(length):
            c = <unsigned char>name[i]
            if (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 46 or c == 45:
                self.data[self.size] = <char>c
                self.size += 1
            else:
                self.data[self.size] = b'='
                self.data[self.size + 1] = HEX[c >> 4]
                self.data[self.size + 2] = HEX[c & 15]
                self.size += 3
        return 0

    cdef bytes take(self):
        return PyBytes_FromStringAndSize(self.data, self.size)


cdef str zone_text(str name):
    """``domains.name`` → lowercase with the trailing dot ("." for the root)."""
    name = name.lower()
    if name == "." or name == "":
        return "."
    return name if name.endswith(".") else name + "."


cdef inline bint space(char c) noexcept:
    return c == b' ' or c == b'\t' or c == b'\n' or c == b'\r'


cdef long long soa_serial(object soa) except -1:
    """The serial of an SOA's content, its third field (0 when there is none or it is not
    a number below 2**32)."""
    cdef Py_ssize_t length, i = 0, field
    cdef const char *text
    cdef unsigned long long value = 0
    cdef int digits = 0
    if not soa:
        return 0
    text = PyUnicode_AsUTF8AndSize(soa, &length)
    for field in range(2):
        while i < length and space(text[i]):
            i += 1
        while i < length and not space(text[i]):
            i += 1
    while i < length and space(text[i]):
        i += 1
    while i < length and b'0' <= text[i] <= b'9':
        value = value * 10 + <unsigned long long>(text[i] - 48)
        digits += 1
        if value > 0xFFFFFFFF:
            return 0
        i += 1
    if digits == 0 or (i < length and not space(text[i])):
        return 0
    return <long long>value


def write_zones(list domains, dict soas, set signed, bint dnssec, set seen) -> bytes:
    """The JSON objects, separated by commas, of the rows of ``domains`` whose zone is not
    in ``seen`` (which they join): the listing's objects, in the order of
    fastdns.api.zones' ``_list_json``."""
    cdef _Buffer buf = _Buffer(256 * len(domains))
    cdef tuple row
    cdef str name, zone, master, part
    cdef object db_kind, account, catalog
    cdef long long serial
    cdef const char *utf8
    cdef Py_ssize_t length
    cdef bint first
    for row in domains:
        name = row[1]
        if not name:
            continue
        zone = zone_text(name)
        if zone in seen:
            continue
        seen.add(zone)
        db_kind = row[2]
        master = row[3] or ""
        account = row[4] or ""
        catalog = row[5]
        serial = soa_serial(soas.get((row[0], name)))
        if buf.size:
            buf.raw(b",", 1)
        utf8 = PyUnicode_AsUTF8AndSize(zone, &length)
        buf.raw(b'{"id":"', 7)
        buf.zone_id(utf8, length)
        buf.raw(b'","url":"', 9)
        buf.raw(URL, len(URL))
        buf.zone_id(utf8, length)
        buf.raw(b'","name":', 9)
        buf.string(zone)
        buf.raw(b',"kind":"', 9)
        kind = SHOWN.get(db_kind.upper() if db_kind else "", "Native")
        utf8 = PyUnicode_AsUTF8AndSize(kind, &length)
        buf.raw(utf8, length)
        buf.raw(b'","serial":', 11)
        buf.integer(serial)
        buf.raw(b',"notified_serial":', 19)
        buf.integer(row[6] or 0)
        if dnssec:
            buf.raw(b',"edited_serial":', 17)
            buf.integer(serial)
        buf.raw(b',"masters":[', 12)
        first = True
        if master:
            for part in master.replace(";", ",").replace(" ", ",").split(","):
                part = part.strip()
                if part:
                    if not first:
                        buf.raw(b",", 1)
                    buf.string(part)
                    first = False
        buf.raw(b'],"account":', 12)
        buf.string(account)
        buf.raw(b',"catalog":', 11)
        buf.string(zone_text(catalog) if catalog else "")
        buf.raw(b',"last_check":', 14)
        buf.integer(row[7] or 0)
        if dnssec:
            if row[0] in signed:
                buf.raw(b',"dnssec":true}', 15)
            else:
                buf.raw(b',"dnssec":false}', 16)
        else:
            buf.raw(b"}", 1)
    return buf.take()

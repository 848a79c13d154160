# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Rows of counters in memory shared by every fastdns process.

The master maps the region (``fastdns.stats.allocate``) before it forks, so every child
inherits it. A process writes only its own row, with plain stores: a counter has one
writer, and a reader (the master) that sees a value a moment old is fine. Nothing here
locks or allocates.
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_WRITABLE, PyBUF_SIMPLE
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset

#: PowerDNS's metric name of each counter, by index (the C_* enum of _shm.pxd)
COUNTER_NAMES = (
    "udp-queries", "udp-answers", "udp-answers-bytes",
    "udp4-queries", "udp4-answers", "udp4-answers-bytes",
    "udp6-queries", "udp6-answers", "udp6-answers-bytes", "udp-do-queries",
    "tcp-queries", "tcp-answers", "tcp-answers-bytes",
    "tcp4-queries", "tcp4-answers", "tcp4-answers-bytes",
    "tcp6-queries", "tcp6-answers", "tcp6-answers-bytes",
    "packetcache-hit", "packetcache-miss", "corrupt-packets", "servfail-packets",
    "rd-queries", "udp-sndbuf-errors", "open-tcp-connections", "packetcache-size",
    "latency", "user-msec", "sys-msec", "heartbeat", "pid",
    # fastdns's own (PowerDNS has none of these)
    "parked-queries", "parked-timeouts", "packetcache-not-admitted",
    "signatures", "signature-cache-size", "signature-cache-misses",
    "signing-deadline-losses", "signing-requests-dropped",
)
assert len(COUNTER_NAMES) == NCOUNTERS

#: counters that are a level, not a count (``latency`` is averaged, the others summed)
GAUGES = frozenset({"open-tcp-connections", "packetcache-size", "latency", "heartbeat", "pid",
                    "signature-cache-size"})
ROW_SIZE = sizeof(Row)
REMOTE_SLOTS = REMOTES
SIZE_BUCKET = SIZE_STEP


cdef class SharedRows:
    """A view of the shared rows; ``row(i)`` is what process slot ``i`` writes."""

    def __cinit__(self, object buffer):
        PyObject_GetBuffer(buffer, &self._view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        self._has_view = True
        self._buffer = buffer
        self.rows = <Row *>self._view.buf
        self.nrows = <int>(self._view.len // sizeof(Row))

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)

    cdef Row *row(self, int i) noexcept nogil:
        return &self.rows[i]

    def _check(self, int i):
        if not 0 <= i < self.nrows:
            raise IndexError(f"row {i} outside 0..{self.nrows - 1}")

    def clear(self, int i):
        """Zero row ``i`` (a slot that is given to nobody any more)."""
        self._check(i)
        memset(&self.rows[i], 0, sizeof(Row))

    def get(self, int i, str name):
        self._check(i)
        return self.rows[i].c[COUNTER_NAMES.index(name)]

    def set(self, int i, str name, uint64_t value):
        self._check(i)
        self.rows[i].c[COUNTER_NAMES.index(name)] = value

    def add(self, int i, str name, uint64_t value=1):
        self._check(i)
        self.rows[i].c[COUNTER_NAMES.index(name)] += value

    def counters(self, int i):
        """Row ``i``'s counters by name."""
        self._check(i)
        cdef Row *row = &self.rows[i]
        return {name: row.c[k] for k, name in enumerate(COUNTER_NAMES)}

    def qtypes(self, int i):
        """qtype -> queries of that type seen by row ``i`` (the last slot: higher types)."""
        self._check(i)
        cdef Row *row = &self.rows[i]
        return {k: row.qtypes[k] for k in range(QTYPE_SLOTS) if row.qtypes[k]}

    def sizes(self, int i):
        """upper bound of a SIZE_BUCKET-octet bucket -> answers of that size, for row ``i``."""
        self._check(i)
        cdef Row *row = &self.rows[i]
        return {k * SIZE_STEP: row.sizes[k] for k in range(SIZE_SLOTS) if row.sizes[k]}

    def rcodes(self, int i):
        self._check(i)
        cdef Row *row = &self.rows[i]
        return {k: row.rcodes[k] for k in range(RCODE_SLOTS) if row.rcodes[k]}

    def remotes(self, int i):
        """The client addresses (16 octets each) row ``i`` saw last, oldest first."""
        self._check(i)
        cdef Row *row = &self.rows[i]
        cdef uint64_t n = row.remote_next
        cdef uint64_t first = n - REMOTES if n > REMOTES else 0
        return [bytes(row.remotes[k % REMOTES][:16]) for k in range(first, n)]

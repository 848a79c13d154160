# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Parked queries: a query the engine left WAITING for data from outside the zones is kept
here (a copy of the packet, and where its answer goes) until what it waits for is supplied
or its deadline passes. The lot indexes them both ways: by what they wait for (the
engine's supply key) and by deadline (a binary heap). It answers nothing itself: the
Responder runs the engine again, or answers SERVFAIL, for what the lot hands back.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memset

from fastdns.consts cimport RCODE_SERVFAIL
from fastdns._query cimport Query, parse_query
from fastdns._answer cimport Result, answer_limit
from fastdns._engine cimport Engine
from fastdns._supply cimport supply_key
from fastdns._shm cimport *

cdef extern from "<sys/socket.h>" nogil:
    ssize_t sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *addr,
                   socklen_t addrlen)
    enum:
        MSG_DONTWAIT


# -- the deadlines of parked queries: a binary heap on a list ------------------------------

cdef void heap_push(list heap, Parked p) except *:
    cdef Py_ssize_t i = len(heap)
    cdef Py_ssize_t up
    heap.append(p)
    while i > 0:
        up = (i - 1) >> 1
        if (<Parked>heap[up]).deadline <= p.deadline:
            break
        heap[i] = heap[up]
        i = up
    heap[i] = p


cdef Parked heap_pop(list heap):
    cdef Parked top = heap[0]
    cdef Parked last = heap.pop()
    cdef Py_ssize_t n = len(heap)
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t c
    if n == 0:
        return top
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and (<Parked>heap[c + 1]).deadline < (<Parked>heap[c]).deadline:
            c += 1
        if last.deadline <= (<Parked>heap[c]).deadline:
            break
        heap[i] = heap[c]
        i = c
    heap[i] = last
    return top


cdef class Parked:

    cdef void dest(self, Dest *dest) noexcept:
        """Where its answer goes, as it was given to ParkingLot.add."""
        dest.fd = self.fd
        dest.addr = <const sockaddr *>PyBytes_AS_STRING(self.addr) if self.fd >= 0 else NULL
        dest.addrlen = len(self.addr) if self.fd >= 0 else 0
        dest.reply = <PyObject *>self.reply if self.reply is not None else NULL


cdef class ParkingLot:
    """The parked queries of one Responder: at most ``max_parked`` at once, each for
    ``wait_timeout`` seconds at most. ``on_wait(name, qtype)`` is called when a query
    starts to wait for the records of (name, qtype) and none waited for them already;
    ``on_error`` with an exception ``on_wait`` or a ``reply`` raised. Counts go to ``row``
    (its Responder's).
    """

    def __cinit__(self):
        memset(&self._own, 0, sizeof(Row))
        self.row = &self._own

    def __init__(self, double wait_timeout=2.0, Py_ssize_t max_parked=10000, on_wait=None,
                 on_error=None):
        if not 0 < wait_timeout <= 3600:
            raise ValueError("wait_timeout must be within 0..3600 seconds")
        self.waiting = {}
        self.deadlines = []
        self.parked = 0
        self.wait_ms = <uint64_t>(wait_timeout * 1000)
        self.max_parked = max_parked
        self.on_wait = on_wait
        self.on_error = on_error

    cdef int add(self, bytes key, const uint8_t *packet, Py_ssize_t length, bint tcp,
                 bint v6, const Dest *dest, uint64_t deadline, uint64_t now_ms) except -2:
        """Keep a query until ``key`` is supplied or ``deadline`` (0: a new query, wait_ms
        from ``now_ms``): 1 when it is the first to wait for ``key``, 0 when others wait
        for it already, -1 when it cannot wait (the lot is full, or its deadline passed)."""
        cdef Parked p
        cdef list waiting
        if deadline == 0:
            deadline = now_ms + self.wait_ms
        elif deadline <= now_ms:
            return -1
        if self.parked >= self.max_parked:
            return -1
        p = Parked.__new__(Parked)
        p.packet = PyBytes_FromStringAndSize(<const char *>packet, length)
        p.key = key
        p.tcp = tcp
        p.v6 = v6
        p.deadline = deadline
        p.fd = dest.fd
        p.addr = PyBytes_FromStringAndSize(<const char *>dest.addr, dest.addrlen) \
            if dest.fd >= 0 else None
        p.reply = <object>dest.reply if dest.reply != NULL else None
        p.done = False
        waiting = self.waiting.get(key)
        if waiting is None:
            self.waiting[key] = [p]
        else:
            waiting.append(p)
        heap_push(self.deadlines, p)
        self.parked += 1
        return 1 if waiting is None else 0

    cdef list take(self, bytes key):
        """The queries waiting for ``key`` (None: none), no longer indexed by it; each is
        still parked until release()."""
        return self.waiting.pop(key, None)

    cdef bint release(self, Parked p) noexcept:
        """Mark ``p`` answered: False if it was already (by its deadline)."""
        if p.done:
            return False
        p.done = True
        self.parked -= 1
        return True

    cdef Parked next_due(self, uint64_t now_ms):
        """The next query whose deadline is not after ``now_ms``, released and out of the
        waiting table (the next query for what it waited for asks again); None: none."""
        cdef list heap = self.deadlines
        cdef list waiting
        cdef Parked p
        while heap and (<Parked>heap[0]).deadline <= now_ms:
            p = heap_pop(heap)
            if not self.release(p):
                continue
            waiting = self.waiting.get(p.key)
            if waiting is not None:
                try:
                    waiting.remove(p)
                except ValueError:
                    pass
                if not waiting:
                    del self.waiting[p.key]
            return p
        return None

    cdef void settle(self) noexcept:
        """Drop the heap's entries of answered queries once none is parked."""
        if self.parked == 0:
            self.deadlines.clear()

    cdef int wait(self, Engine engine, const Query *q, const uint8_t *packet,
                  Py_ssize_t length, bint tcp, bint v6, int limit, uint8_t *out,
                  const Result *res, const Dest *dest, uint64_t deadline,
                  uint64_t now_ms) noexcept:
        """Park a query ``engine`` left WAITING (``deadline``: a parked query's, run again;
        0: a new query): RESPOND_PARKED; or, with nowhere to answer it later, no room, or
        its deadline gone, answer SERVFAIL now into ``out`` (its length)."""
        cdef int n
        if dest != NULL and self.park(packet, length, tcp, v6, res, dest, deadline, now_ms) == 0:
            return RESPOND_PARKED
        self.row.c[C_PARKED_TIMEOUTS] += 1
        n = engine.c_error(q, packet, length, tcp, limit, RCODE_SERVFAIL, out)
        if n >= 0:
            row_count_answer(self.row, n, RCODE_SERVFAIL, tcp, v6)
        return n

    cdef int park(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                  const Result *res, const Dest *dest, uint64_t deadline,
                  uint64_t now_ms) noexcept:
        """Keep the query until (res.wait_name, res.wait_type) is supplied or ``deadline``
        (0: a new query, wait_ms from now); 0, or -1 when it cannot wait."""
        cdef int added
        try:
            added = self.add(supply_key(res.wait_name, res.wait_name_len, res.wait_type),
                             packet, length, tcp, v6, dest, deadline, now_ms)
        except Exception as exc:
            self.report(exc)
            return -1
        if added < 0:
            return -1
        if deadline == 0:
            self.row.c[C_PARKED_QUERIES] += 1
        if added == 1 and self.on_wait is not None:
            try:
                self.on_wait(PyBytes_FromStringAndSize(<const char *>res.wait_name,
                                                        res.wait_name_len), res.wait_type)
            except Exception as exc:
                self.report(exc)         # the query stays: its deadline will answer it
        return 0

    cdef int expire_due(self, Engine engine, uint64_t now_ms, uint8_t *out) noexcept:
        """Answer SERVFAIL (made by ``engine`` in ``out``) to the queries whose deadline is
        not after ``now_ms``; the number answered."""
        cdef Parked p
        cdef int count = 0
        while True:
            p = self.next_due(now_ms)
            if p is None:
                break
            count += self.servfail(engine, p, out)
        self.settle()
        return count

    cdef int fail(self, Engine engine, bytes key, uint8_t *out) noexcept:
        """Answer SERVFAIL now to the queries waiting for ``key``, which will not come (a
        signer has no active key for the signature they wait for); the number answered."""
        cdef list waiting = self.take(key)
        cdef Parked p
        cdef int count = 0
        if waiting is None:
            return 0
        for p in waiting:
            if self.release(p):
                count += self.servfail(engine, p, out)
        self.settle()
        return count

    cdef int servfail(self, Engine engine, Parked p, uint8_t *out) noexcept:
        """Send SERVFAIL (made in ``out``) to the released query ``p``, counted in
        parked-timeouts; 1, or 0 when no answer could be made."""
        cdef Query q
        cdef Dest dest
        cdef const uint8_t *packet = <const uint8_t *>PyBytes_AS_STRING(p.packet)
        cdef Py_ssize_t length = len(p.packet)
        cdef int n
        self.row.c[C_PARKED_TIMEOUTS] += 1
        parse_query(packet, length, &q)
        n = engine.c_error(&q, packet, length, p.tcp, answer_limit(&q, p.tcp, engine.udp_limit),
                           RCODE_SERVFAIL, out)
        if n < 0:
            return 0
        row_count_answer(self.row, n, RCODE_SERVFAIL, p.tcp, p.v6)
        p.dest(&dest)
        self.deliver(&dest, out, n)
        return 1

    cdef void deliver(self, const Dest *dest, const uint8_t *answer, int n) noexcept:
        """Send the answer to a parked query: to its UDP client, or through its reply."""
        if dest.fd >= 0:
            if sendto(dest.fd, answer, n, MSG_DONTWAIT, dest.addr, dest.addrlen) < 0:
                self.row.c[C_UDP_SNDBUF_ERRORS] += 1
            return
        if dest.reply == NULL:
            return
        try:
            (<object>dest.reply)(PyBytes_FromStringAndSize(<const char *>answer, n))
        except Exception as exc:
            self.report(exc)

    cdef void report(self, object exc) noexcept:
        if self.on_error is not None:
            try:
                self.on_error(exc)
            except Exception:
                pass

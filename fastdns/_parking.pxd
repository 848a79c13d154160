# fastdns._parking: the C API of parked queries (L2): queries that wait for data from
# outside the zones, where each is answered later, its deadline, and what it waits for.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint64_t

from fastdns._answer cimport Result
from fastdns._engine cimport Engine
from fastdns._query cimport Query
from fastdns._shm cimport Row

cdef enum:
    RESPOND_PARKED = -2       # a query waits, parked; nothing to send now
    RESPOND_HANDOFF = -3      # a TCP query handed to the manager with its connection

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        unsigned short sa_family

# Where the answer to a query goes when it is not sent at once (a parked query).
ctypedef struct Dest:
    int fd                    # UDP: the socket to answer from; -1: call ``reply``
    const sockaddr *addr      # UDP: the client's address
    socklen_t addrlen
    PyObject *reply           # borrowed: called with the response (bytes); NULL: none

cdef class Parked:
    """A query waiting for data from outside the zones (RS_WAITING), until its deadline."""
    cdef bytes packet         # the query, copied
    cdef bytes key            # what it waits for (Engine.supply's key: name and type)
    cdef bint tcp
    cdef bint v6
    cdef uint64_t deadline    # CLOCK_MONOTONIC milliseconds: then it is SERVFAIL
    cdef int fd               # Dest, kept
    cdef bytes addr
    cdef object reply
    cdef bint done            # answered (by supplied data or at its deadline)

    cdef void dest(self, Dest *dest) noexcept

cdef class ParkingLot:
    cdef dict waiting                       # wait key -> [Parked]
    cdef list deadlines                     # heap of Parked by deadline (done ones skipped)
    cdef readonly Py_ssize_t parked         # queries parked now
    cdef readonly uint64_t wait_ms          # how long a query may wait
    cdef readonly Py_ssize_t max_parked
    cdef Row *row                           # where the counts go: its Responder's row
    cdef Row _own                           # the row until it is given one
    cdef object on_wait                     # called with (name, qtype) a query waits for
    cdef object on_error                    # called with the exception, rate limiting is its job

    cdef int wait(self, Engine engine, const Query *q, const uint8_t *packet,
                  Py_ssize_t length, bint tcp, bint v6, int limit, uint8_t *out,
                  const Result *res, const Dest *dest, uint64_t deadline,
                  uint64_t now_ms) noexcept
    cdef int park(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                  const Result *res, const Dest *dest, uint64_t deadline,
                  uint64_t now_ms) noexcept

    cdef int add(self, bytes key, const uint8_t *packet, Py_ssize_t length, bint tcp,
                 bint v6, const Dest *dest, uint64_t deadline, uint64_t now_ms) except -2
    cdef list take(self, bytes key)
    cdef bint release(self, Parked p) noexcept
    cdef Parked next_due(self, uint64_t now_ms)
    cdef void settle(self) noexcept
    cdef int expire_due(self, Engine engine, uint64_t now_ms, uint8_t *out) noexcept
    cdef int fail(self, Engine engine, bytes key, uint8_t *out) noexcept
    cdef int servfail(self, Engine engine, Parked p, uint8_t *out) noexcept
    cdef void deliver(self, const Dest *dest, const uint8_t *answer, int n) noexcept
    cdef void report(self, object exc) noexcept

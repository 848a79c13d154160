# fastdns._supply: data the zones do not hold, supplied from outside (L2): a resolver's
# answer for an ALIAS target (later, signatures from a signer), kept per (name, type) with
# its TTL, and the answers made of it. A query that needs data not (yet) kept ends in the
# WAITING state, naming what it waits for (Result.wait_*).

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot

cdef bytes supply_key(const uint8_t *name, int nlen, uint16_t qtype)

cdef class Supplied:
    cdef readonly uint32_t expires      # clock seconds: stale from then on
    cdef readonly uint32_t ttl
    cdef readonly bint failed           # the lookup failed: the queries get SERVFAIL
    cdef readonly tuple rdatas          # wire-form RDATA, one per record

cdef class Supplies:
    cdef dict _supplied       # (lk of a name + qtype, 2 octets) -> Supplied
    cdef dict _external       # test hook: lk of a name -> target wire name (None: no hook)

    cdef Supplied fresh(self, bytes key, uint32_t now)
    cdef Supplied needed(self, Answer *a, bytes target, uint16_t qtype)
    cdef int external(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                      int owner_len, bytes target, uint16_t qtype) except -1
    cdef int alias(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                   int owner_len) except -2
    cdef int hooked(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                    int owner_len) except -2

# fastdns._engine: the answer engine's C API (used by the per-packet path, fastdns._udp).
#
# The contract: the caller parses a query once (_wire.parse_query), computes the size its
# response must fit (answer_limit, which the packet-cache key uses too) and calls
# Engine.c_answer(query, packet, limit, now, out, result). The engine fills a Result: the
# state the query ended in, and for an answer its rcode, the zone it came from and whether
# the packet cache may keep it. No side fields on the engine.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns.consts cimport EDNS_MIN_UDP
from fastdns._wire cimport Query, Builder, MSG_MAX, PQ_OK
from fastdns._snapshot cimport Snapshot, RRsetRec

cdef enum:
    CHAIN_MAX = 10            # CNAMEs one answer may hold; one more is SERVFAIL (as PowerDNS)
    ADDITIONAL_MAX = 64       # distinct additional-section targets per answer

# How a step of the lookup ended (Knot's KNOTD_IN_STATE_* in spirit).
cdef enum:
    ST_DONE = 0               # answer complete (hit, NODATA, NXDOMAIN, referral, error)
    ST_FOLLOW = 1             # a CNAME or DNAME moved the query to another name

# How a whole query ended: Result.state (Knot's knotd_in_state_t at the query's level).
cdef enum:
    RS_ANSWERED = 0           # ``out`` holds the response, Result.length octets
    RS_WAITING = 1            # it needs data the engine does not hold yet: the records of
                              # (Result.wait_name, Result.wait_type), which another process
                              # or a resolver must supply (Engine.supply); park the query
                              # and answer it again when they come
    RS_DROP = 2               # no response at all (not a query)

ctypedef struct Result:
    int state                 # RS_*
    int length                # RS_ANSWERED: octets written to ``out``
    uint16_t rcode            # RS_ANSWERED: the full (extended) rcode
    uint32_t tag              # the Snapshot.tag of the first zone it drew on (0: none)
    bint multi                # ... and it drew on another zone too
    bint cacheable            # RS_ANSWERED: the packet cache may keep the response
    uint16_t wait_type        # RS_WAITING: the type awaited
    int wait_name_len         # RS_WAITING: the name whose records are awaited (wire form)
    uint8_t wait_name[256]

cdef inline int answer_limit(const Query *q, bint tcp, int threshold) noexcept nogil:
    """The size a response to ``q`` must fit: 64 KiB over TCP; over UDP 512 octets without
    EDNS, else the client's payload size capped at ``threshold`` (udp-truncation-threshold),
    512 at least (RFC 6891 §6.2.5)."""
    cdef int limit
    if tcp:
        return MSG_MAX
    if not (q.has_edns and q.status == PQ_OK):
        return EDNS_MIN_UDP
    limit = q.udp_size if q.udp_size < threshold else threshold
    return limit if limit >= EDNS_MIN_UDP else EDNS_MIN_UDP

ctypedef struct ZoneSlot:
    uint64_t hash             # zone_hash of the apex lookup key (0: an empty slot)
    const uint8_t *lk         # the apex lookup key (the dict key's buffer)
    int lk_len
    PyObject *snap            # borrowed from Engine._zones; Py_None: a zone that failed

ctypedef struct Target:
    PyObject *snap            # borrowed: the zone set outlives the answer
    uint32_t node
    uint16_t rdtype           # 0: the node's A and AAAA; else its RRset of this type (an
                              # SVCB/HTTPS AliasMode chain)
    bint required             # glue below the cut of a referral (RFC 9471): TC if it does not fit

ctypedef struct Answer:
    const Query *q
    Result *res
    uint32_t now
    Builder b
    uint16_t flags            # response flags, rcode bits excluded
    uint16_t rcode            # full (extended) rcode
    bint stop                 # nothing more goes in (truncated, or an error rcode)
    bint tcp
    int qend                  # message length after the question
    int qcomp                 # compression targets the question provides
    int ntargets
    Target targets[ADDITIONAL_MAX]
    uint8_t synth[2][256]     # names made by DNAME substitution (alternating)
    int nsynth
    const uint8_t *lk         # lookup key of the name being resolved: the query's own
    uint8_t lkbuf[256]        # (parsed once), or this one for a name a CNAME led to
    int lk_len
    PyObject *zone            # borrowed: the first zone the answer came from (NULL: none)
    bint multi                # ... and it drew on another zone too
    PyObject *any_snap        # borrowed: where an ANY answer holds a whole node (NULL: none)
    int any_node              # ... that node: its addresses are in the answer already
    bint waiting              # it needs supplied data it does not have (Result.wait_*)

cdef bytes supply_key(const uint8_t *name, int nlen, uint16_t qtype)

cdef class Supplied:
    cdef readonly uint32_t expires      # clock seconds: stale from then on
    cdef readonly uint32_t ttl
    cdef readonly bint failed           # the lookup failed: the queries get SERVFAIL
    cdef readonly tuple rdatas          # wire-form RDATA, one per record

cdef class Engine:
    cdef dict _zones          # apex lookup key -> Snapshot (None: failed to load); owns
                              # the keys and snapshots _table points at
    cdef ZoneSlot *_table     # the same, open addressing, so a lookup makes no object
    cdef uint64_t _table_mask
    cdef int _max_labels      # labels of the deepest apex
    cdef readonly int udp_limit   # udp-truncation-threshold
    cdef bytes _version_txt   # TXT rdata for version.bind / version.pdns; None: SERVFAIL
    cdef bytes _id_txt        # TXT rdata for id.server; None: refused
    cdef bytes _nsid          # NSID option payload (RFC 5001); None: not sent
    cdef bint _dname_processing
    cdef bint _any_to_tcp
    cdef bint _expand_alias   # expand-alias: A/AAAA/ANY at an ALIAS name from the resolver
    cdef dict _supplied       # (lk of a name + qtype, 2 octets) -> Supplied
    cdef dict _external       # test hook: lk of a name -> target wire name (see external)
    cdef uint8_t _out[MSG_MAX + 64]

    cdef int c_answer(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                      bint tcp, int limit, uint32_t now, uint8_t *out,
                      Result *res) except -1
    cdef int c_error(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                     bint tcp, int limit, uint16_t rcode, uint8_t *out) noexcept
    cdef int begin(self, Answer *a, const Query *q, bint tcp, int limit, uint8_t *out,
                   bint *edns, bint *nsid) noexcept
    cdef int finish(self, Answer *a, const uint8_t *packet, Py_ssize_t length, bint edns,
                    bint nsid) noexcept
    cdef int query(self, Answer *a) except -1
    cdef void reset(self, Answer *a, uint16_t rcode, uint16_t flags) noexcept
    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds)
    cdef PyObject *zone_at(self, const uint8_t *lk, int lklen, uint64_t h) noexcept nogil
    cdef Supplied fresh(self, bytes key, uint32_t now)
    cdef Snapshot used(self, Answer *a, PyObject *zone)
    cdef int resolve(self, Answer *a, Snapshot snap) except -1
    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name, int *nlen) except -1
    cdef int redirect(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                      int *nlen) except -1
    cdef int at_node(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                     int *nlen) except -1
    cdef int external(self, Answer *a, Snapshot snap, const uint8_t *owner, int owner_len,
                      bytes target, uint16_t qtype) except -1
    cdef Supplied needed(self, Answer *a, bytes target, uint16_t qtype)
    cdef int alias(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                   int owner_len) except -2
    cdef int dname(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                   int *nlen) except -1
    cdef int referral(self, Answer *a, Snapshot snap, int cut) noexcept
    cdef void negative(self, Answer *a, Snapshot snap) noexcept
    cdef int put(self, Answer *a, int section, Snapshot snap, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) noexcept
    cdef void note_target(self, Answer *a, Snapshot snap, uint32_t node, uint16_t rdtype,
                          bint required) noexcept
    cdef void additional(self, Answer *a) noexcept
    cdef int add_target(self, Answer *a, int i) noexcept
    cdef void chaos(self, Answer *a) noexcept

# fastdns._answer: one answer being built, shared by the modules that build it (L2, no .pyx).
#
# The engine (_engine) drives the lookup; the section solvers (_sections) write RRsets and
# the additional section; the zone table (_zonetable) picks the zone; supplied data
# (_supply) stands in for what the zones do not hold. All of them work on an Answer, and
# the per-packet path (_udp) reads the Result it fills.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns.consts cimport EDNS_MIN_UDP
from fastdns._reader cimport MSG_MAX
from fastdns._query cimport Query, PQ_OK
from fastdns._encoder cimport Builder

cdef enum:
    CHAIN_MAX = 10            # CNAMEs one answer may hold; one more is SERVFAIL (as PowerDNS)
    ADDITIONAL_MAX = 64       # distinct additional-section targets per answer

cdef enum:
    SEC_ANSWER = 1
    SEC_AUTHORITY = 2
    SEC_ADDITIONAL = 3

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
    RS_HANDOFF = 3            # the manager answers it (a zone transfer, a NOTIFY, a query
                              # signed with TSIG): hand the packet, and over TCP the
                              # connection, to it

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

ctypedef struct Target:
    PyObject *snap            # borrowed: the zone set outlives the answer
    uint32_t node
    uint16_t rdtype           # 0: the node's A and AAAA; else its RRset of this type (an
                              # SVCB/HTTPS AliasMode chain)
    bint required             # glue below the cut of a referral (RFC 9471): TC if it does not fit

cdef enum:
    PROOFS_MAX = 6            # NSEC/NSEC3 records one answer may need (NXDOMAIN: 3)
    PROOF_NSEC = 1            # the NSEC of node ``index``
    PROOF_NSEC3 = 2           # the NSEC3 of entry ``index`` of the zone's hashed chain
    PROOF_NARROW = 3          # an NSEC3 made for ``hash``: of node ``index`` (its types),
                              # or, for NO_NODE, covering the hash (owner hash - 1)
    NO_NODE = 0xFFFFFFFF

ctypedef struct Proof:
    PyObject *snap
    int kind
    uint32_t index
    uint8_t hash[20]

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
    PyObject *signing         # borrowed: the engine's Signing, when the query has DO=1
    bint nodata               # the last step wrote a NODATA answer's SOA
    int nproofs
    Proof proofs[PROOFS_MAX]


cdef inline void ans_reset(Answer *a, uint16_t rcode, uint16_t flags) noexcept nogil:
    """Empty every section after the question; set ``rcode`` and ``flags``; stop."""
    a.b.pos = a.qend
    a.b.ncomp = a.qcomp
    a.b.counts[1] = 0
    a.b.counts[2] = 0
    a.b.counts[3] = 0
    a.rcode = rcode
    a.flags |= flags
    a.ntargets = 0
    a.stop = True


cdef inline PyObject *ans_used(Answer *a, PyObject *zone) noexcept nogil:
    """Note that the answer draws on ``zone``; return it."""
    if a.zone == NULL:
        a.zone = zone
    elif a.zone != zone:
        a.multi = True
    return zone

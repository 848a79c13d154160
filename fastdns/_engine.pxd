# fastdns._engine: the answer engine's C API (used by the UDP batch loop).

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns._wire cimport Query, Builder, MSG_MAX
from fastdns._snapshot cimport Snapshot, RRsetRec

cdef enum:
    CHAIN_MAX = 10            # CNAMEs one answer may hold; one more is SERVFAIL (as PowerDNS)
    ADDITIONAL_MAX = 64       # distinct additional-section targets per answer

# How a step of the lookup ended (Knot's KNOTD_IN_STATE_* in spirit).
cdef enum:
    ST_DONE = 0               # answer complete (hit, NODATA, NXDOMAIN, referral, error)
    ST_FOLLOW = 1             # a CNAME or DNAME moved the query to another name

ctypedef struct Target:
    PyObject *snap            # borrowed: the zone set outlives the answer
    uint32_t node
    uint16_t rdtype           # 0: the node's A and AAAA; else its RRset of this type (an
                              # SVCB/HTTPS AliasMode chain)
    bint required             # glue below the cut of a referral (RFC 9471): TC if it does not fit

ctypedef struct Answer:
    Query q
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
    uint8_t lk[256]           # lookup key of the name being resolved
    int lk_len
    PyObject *zone            # borrowed: the first zone the answer came from (NULL: none)
    bint multi                # ... and it drew on another zone too
    PyObject *any_snap        # borrowed: where an ANY answer holds a whole node (NULL: none)
    int any_node              # ... that node: its addresses are in the answer already

cdef class Engine:
    cdef dict _zones          # apex lookup key -> Snapshot
    cdef int _max_labels      # labels of the deepest apex
    cdef int _udp_limit
    cdef bytes _version_txt   # TXT rdata for version.bind / version.pdns; None: SERVFAIL
    cdef bytes _id_txt        # TXT rdata for id.server; None: refused
    cdef bytes _nsid          # NSID option payload (RFC 5001); None: not sent
    cdef bint _dname_processing
    cdef bint _any_to_tcp
    cdef uint8_t _out[MSG_MAX + 64]
    # what the last c_answer drew on, for the packet cache: the tag of its first zone (0: no
    # zone, e.g. REFUSED or CHAOS) and whether a second zone was involved
    cdef readonly uint32_t last_tag
    cdef readonly bint last_multi

    cdef int c_answer(self, const uint8_t *packet, Py_ssize_t length, bint tcp,
                      uint8_t *out) except -2
    cdef void query(self, Answer *a)
    cdef void reset(self, Answer *a, uint16_t rcode, uint16_t flags)
    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds)
    cdef Snapshot used(self, Answer *a, PyObject *zone)
    cdef void resolve(self, Answer *a, Snapshot snap)
    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name, int *nlen)
    cdef int redirect(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                      int *nlen)
    cdef int at_node(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                     int *nlen)
    cdef int dname(self, Answer *a, Snapshot snap, int node, const uint8_t **name, int *nlen)
    cdef int referral(self, Answer *a, Snapshot snap, int cut)
    cdef void negative(self, Answer *a, Snapshot snap)
    cdef int put(self, Answer *a, int section, Snapshot snap, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) except -2
    cdef void note_target(self, Answer *a, Snapshot snap, uint32_t node, uint16_t rdtype,
                          bint required)
    cdef void additional(self, Answer *a)
    cdef int add_target(self, Answer *a, int i)
    cdef void chaos(self, Answer *a)

# fastdns._shm: shared-memory rows, one per process, written without locks (L1).
#
# The master maps one shared region before it forks; every child writes only its own row
# and the master sums them (NSD's stat_map). Counters are PowerDNS's, by index.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns.consts cimport FLAG_RD, EDNS_DO, RCODE_SERVFAIL
from fastdns._query cimport Query, PQ_DROP, PQ_FORMERR

cdef enum:
    C_UDP_QUERIES = 0
    C_UDP_ANSWERS
    C_UDP_ANSWERS_BYTES
    C_UDP4_QUERIES
    C_UDP4_ANSWERS
    C_UDP4_ANSWERS_BYTES
    C_UDP6_QUERIES
    C_UDP6_ANSWERS
    C_UDP6_ANSWERS_BYTES
    C_UDP_DO_QUERIES
    C_TCP_QUERIES
    C_TCP_ANSWERS
    C_TCP_ANSWERS_BYTES
    C_TCP4_QUERIES
    C_TCP4_ANSWERS
    C_TCP4_ANSWERS_BYTES
    C_TCP6_QUERIES
    C_TCP6_ANSWERS
    C_TCP6_ANSWERS_BYTES
    C_PACKETCACHE_HIT
    C_PACKETCACHE_MISS
    C_CORRUPT_PACKETS
    C_SERVFAIL_PACKETS
    C_RD_QUERIES
    C_UDP_SNDBUF_ERRORS
    C_OPEN_TCP_CONNECTIONS        # gauge
    C_PACKETCACHE_SIZE            # gauge
    C_LATENCY                     # gauge: microseconds, moving average of answered misses
    C_USER_MSEC                   # gauge: this process's CPU time
    C_SYS_MSEC                    # gauge
    C_HEARTBEAT                   # gauge: CLOCK_MONOTONIC seconds of the last beat
    C_PID                         # gauge: who owns the row now
    C_PARKED_QUERIES              # queries parked to wait for data from outside the zones
    C_PARKED_TIMEOUTS             # ... answered SERVFAIL: deadline passed, or no room to park
    C_PACKETCACHE_NOT_ADMITTED    # computed answers not kept: first time asked (doorkeeper)
    C_SIGNATURES                  # RRSIGs computed (a signer's row)
    C_SIGNATURE_CACHE_SIZE        # gauge: signatures in the shared cache (signer 0's row)
    C_SIGNATURE_CACHE_MISSES      # signatures an answer needed and the cache lacked (workers)
    C_SIGNING_DEADLINE_LOSSES     # requests a signer dropped: their queries' deadline passed
    C_SIGNING_REQUESTS_DROPPED    # requests a worker could not send: every signer was full
    NCOUNTERS

cdef enum:
    QTYPE_SLOTS = 512             # qtypes 0..510 counted apart, the rest in the last slot
    SIZE_STEP = 10                # response sizes are counted in buckets of this many octets
    SIZE_SLOTS = 6554             # ceil(65536 / SIZE_STEP)
    RCODE_SLOTS = 16
    REMOTES = 4096                # recent client addresses kept per process (a ring)

ctypedef struct Row:
    uint64_t c[NCOUNTERS]
    uint64_t qtypes[QTYPE_SLOTS]
    uint64_t sizes[SIZE_SLOTS]    # sizes[(n + SIZE_STEP - 1) // SIZE_STEP]
    uint64_t rcodes[RCODE_SLOTS]
    uint64_t remote_next          # remotes written so far (the ring index is this % REMOTES)
    uint8_t remotes[REMOTES][16]  # IPv6, or IPv4 mapped into ::ffff:0:0/96

cdef inline void row_query(Row *row, uint16_t qtype) noexcept nogil:
    row.qtypes[qtype if qtype < QTYPE_SLOTS - 1 else QTYPE_SLOTS - 1] += 1

cdef inline void row_answer(Row *row, int size, int rcode) noexcept nogil:
    row.sizes[(size + SIZE_STEP - 1) // SIZE_STEP] += 1
    row.rcodes[rcode & 0xF] += 1

cdef inline void row_count_query(Row *row, const Query *q, bint tcp, bint v6) noexcept nogil:
    # a query, by transport and family; its qtype, RD and DO; a malformed one
    if tcp:
        row.c[C_TCP_QUERIES] += 1
        row.c[C_TCP6_QUERIES if v6 else C_TCP4_QUERIES] += 1
    else:
        row.c[C_UDP_QUERIES] += 1
        row.c[C_UDP6_QUERIES if v6 else C_UDP4_QUERIES] += 1
    if q.status == PQ_DROP or q.status == PQ_FORMERR:
        row.c[C_CORRUPT_PACKETS] += 1
        if q.status == PQ_DROP:
            return
    if q.has_question:
        row_query(row, q.qtype)
    if q.flags & FLAG_RD:
        row.c[C_RD_QUERIES] += 1
    if not tcp and q.has_edns and q.edns_flags & EDNS_DO:
        row.c[C_UDP_DO_QUERIES] += 1

cdef inline void row_count_answer(Row *row, int n, int rcode, bint tcp, bint v6) noexcept nogil:
    # an answer of ``n`` octets, by transport and family; its size and rcode
    if tcp:
        row.c[C_TCP_ANSWERS] += 1
        row.c[C_TCP_ANSWERS_BYTES] += n
        row.c[C_TCP6_ANSWERS if v6 else C_TCP4_ANSWERS] += 1
        row.c[C_TCP6_ANSWERS_BYTES if v6 else C_TCP4_ANSWERS_BYTES] += n
    else:
        row.c[C_UDP_ANSWERS] += 1
        row.c[C_UDP_ANSWERS_BYTES] += n
        row.c[C_UDP6_ANSWERS if v6 else C_UDP4_ANSWERS] += 1
        row.c[C_UDP6_ANSWERS_BYTES if v6 else C_UDP4_ANSWERS_BYTES] += n
    if rcode == RCODE_SERVFAIL:
        row.c[C_SERVFAIL_PACKETS] += 1
    row_answer(row, n, rcode)

cdef class SharedRows:
    cdef object _buffer
    cdef Py_buffer _view
    cdef bint _has_view
    cdef Row *rows
    cdef readonly int nrows

    cdef Row *row(self, int i) noexcept nogil

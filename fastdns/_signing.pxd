# fastdns._signing: DNSSEC in answers (L2, beside _sections): the RRSIGs of the RRsets an
# answer holds, read from the shared signature cache (fastdns._sigcache), and the NSEC and
# NSEC3 records that prove what does not exist (RFC 4035 §3.1, RFC 5155 §7.2). A signature
# the cache lacks is asked of a signer: the query waits for it (Result.wait_type
# WAIT_SIGNATURE, its name the cache key as one label) and is answered again when it is in.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot, RRsetRec
from fastdns._sigcache cimport SigCache

cdef enum:
    WAIT_SIGNATURE = 0xFF01   # the wait type of a query waiting for a signature (a private
                              # type number: never a type the zones hold)
    WAIT_NAME_LEN = 18        # its wait name: the 16-octet cache key as one label
    SIGN_DATA_MAX = 70000     # the canonical form of one RRset, with its RRSIG fields
    WEEK = 604800
    PRESIGN_AHEAD = 43200     # the last 12 hours of the week make the next week's signatures
    BACKGROUND_MAX = 65536    # requests made ahead waiting to be sent, at most

cdef class Signing:
    cdef SigCache cache               # None: every signature is asked of a signer
    cdef dict pending                 # wait name -> request (bytes) not yet sent
    cdef dict background              # cache key -> request made ahead (no query waits)
    cdef uint32_t ahead               # PRESIGN_AHEAD (0: never sign ahead)
    cdef bint presigning              # within ``ahead`` of the weekly turn
    cdef uint8_t *data                # the data being signed (SIGN_DATA_MAX octets)
    cdef long skew                    # seconds added to the wall clock (tests)
    cdef uint32_t week                # the week the window below was computed for
    cdef uint32_t inception
    cdef uint32_t expiration
    cdef readonly uint64_t hits
    cdef readonly uint64_t misses
    cdef readonly uint64_t too_big    # RRsets too large to sign: SERVFAIL

    cdef void window(self, uint32_t now) noexcept

# the RRSIGs of an RRset just written at ``owner`` (the query's name for a wildcard's);
# 0, -1 when they do not fit (the caller truncates or leaves the RRset out), -2 when the
# RRset is too large to sign (the answer is SERVFAIL already)
cdef int sig_rrset(Answer *a, int section, Snapshot snap, int node, const RRsetRec *rs,
                   const uint8_t *owner, int owner_len, uint32_t ttl) noexcept
cdef int sig_rdatas(Answer *a, int section, Snapshot snap, int node, uint16_t rdtype,
                    uint32_t ttl, list rdatas, const uint8_t *owner, int owner_len) noexcept
cdef bint signs(Answer *a, Snapshot snap, int node, uint16_t rdtype) noexcept

# the denial proofs an answer needs, noted as the lookup finds them, written by sig_proofs
cdef void proof_nodata(Answer *a, Snapshot snap, int node) noexcept
cdef void proof_nxdomain(Answer *a, Snapshot snap, int ce) noexcept
cdef void proof_wildcard(Answer *a, Snapshot snap, int ce, int wild, bint nodata) noexcept
cdef void proof_no_ds(Answer *a, Snapshot snap, int cut) noexcept
cdef void sig_proofs(Answer *a) noexcept

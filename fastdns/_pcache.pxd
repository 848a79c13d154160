# fastdns._pcache: the per-worker packet cache (L1): question -> wire answer.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns._query cimport Query

cdef enum:
    KEY_FIXED = 9             # flags 2, qtype 2, qclass 2, EDNS bits 1, size limit 2
    KEY_MAX = KEY_FIXED + 256 # ... then the lookup key of the qname (lowercased)
    PC_MIN_BUCKETS = 1024
    DOOR_WAYS = 4             # doorkeeper fingerprints per bucket

ctypedef struct Entry:
    Entry *chain              # next entry of the same bucket
    Entry *newer              # least-recently-used list: towards the newest
    Entry *older
    uint64_t hash
    uint32_t expires          # clock seconds: the entry is stale from then on
    uint32_t tag              # the zone it came from (the engine's Snapshot.tag)
    bint multi                # it drew on more than one zone
    uint16_t key_len
    uint16_t answer_len
    uint8_t data[1]           # the key, then the answer (allocated to size)

cdef extern from *:
    void __builtin_prefetch(const void *addr) noexcept nogil

cdef int make_key(const Query *q, bint tcp, int limit, uint8_t *key) noexcept nogil
cdef uint64_t key_hash(const uint8_t *key, int key_len) noexcept nogil
cdef int answer_ttl(const uint8_t *answer, int length, uint32_t *ttl) noexcept nogil

cdef class PacketCache:
    cdef Entry **buckets
    cdef uint64_t nbuckets        # a power of two
    cdef Entry *newest
    cdef Entry *oldest
    cdef readonly Py_ssize_t count
    cdef readonly Py_ssize_t max_entries
    cdef readonly uint32_t ttl          # cache-ttl: longest life of an answer
    cdef readonly uint32_t neg_ttl      # negquery-cache-ttl: longest life of a negative one
    cdef uint32_t *door                 # the doorkeeper: fingerprints of keys seen once
    cdef uint64_t door_mask             # its buckets - 1 (a power of two); door NULL: off
    cdef readonly uint64_t not_admitted # answers offered but not kept (first sight)

    cdef int get(self, const uint8_t *key, int key_len, uint64_t h, uint32_t now,
                 uint8_t *out) noexcept nogil
    cdef void put(self, const uint8_t *key, int key_len, uint64_t h, const uint8_t *answer,
                  int answer_len, uint32_t now, uint32_t tag, bint multi) noexcept nogil
    cdef bint offer(self, const uint8_t *key, int key_len, uint64_t h, const uint8_t *answer,
                    int answer_len, uint32_t now, uint32_t tag, bint multi) noexcept nogil
    cdef bint admit(self, uint64_t h) noexcept nogil
    cdef void remember(self, uint64_t h) noexcept nogil
    cdef Entry *find(self, const uint8_t *key, int key_len, uint64_t h) noexcept nogil
    cdef void unlink(self, Entry *e) noexcept nogil
    cdef void lru_unlink(self, Entry *e) noexcept nogil
    cdef void link_newest(self, Entry *e) noexcept nogil
    cdef void grow(self) noexcept nogil

cdef inline void pc_prefetch(PacketCache cache, uint64_t h) noexcept nogil:
    """Start loading the doorkeeper's slot for ``h``: a miss is offered to the cache after
    the engine's work, by when it is there (a random flood touches a new slot each time)."""
    if cache.door != NULL:
        __builtin_prefetch(&cache.door[(h & cache.door_mask) * DOOR_WAYS])

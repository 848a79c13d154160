# fastdns._sigcache: the signature cache every process shares (L1).
#
# Signers write RRSIG signatures into it, workers read them where they are: no round trip,
# no lock on the read path, never a global wipe (PowerDNS's weakness, pdns#12899). It is one
# memfd the master creates before it forks (sealed against shrinking and growing, so that no
# process can pull pages from under another's mapping), mapped MAP_SHARED read-write by every
# signer and worker. Integers are in the host's byte order.
#
#     header   SigHeader, SC_HEADER octets: what the table is (line 0-1), then the counters
#              on lines of their own (written by signers with atomic adds, never by readers)
#     small    small_buckets x SC_SMALL_BUCKET: signatures of 1..SC_SMALL_MAX octets
#              (ECDSA P-256/P-384, Ed25519: 64 or 96)
#     large    large_buckets x SC_LARGE_BUCKET: signatures of SC_SMALL_MAX+1..SC_SIG_MAX
#              octets (Ed448 114, RSA up to 512)
#
# A bucket is a BucketMeta line then SC_WAYS slots (set-associative, SC_WAYS ways): the key
# picks the bucket (its first 8 octets, multiply-shift onto the bucket count), the meta line
# holds per way a 32-bit tag (key octets 8..11, never 0; 0: an empty way) and the last use,
# so a lookup reads one line to find its way and then that way's slot, both in one page.
# A slot is a SlotHead (sequence counter, length, the 16-octet key) and the signature.
#
# Eviction is per bucket: a store takes an empty way, else the way least recently used
# (``used``, the caller's u32 clock, compared modulo 2^32). A hit refreshes ``used`` unless
# it already holds ``now``. Nothing ever clears more than the one way it replaces.
#
# A key's signatures are all of one size class (the key covers the signing key, so its
# algorithm): a key is looked for in the small table, then in the large one.
#
# Readers take no lock (a seqlock per slot): a writer moves ``seq`` from even to odd by CAS
# (if it cannot, another writer holds the way: it tries the next or gives up, this is a
# cache), writes, and releases it even again. A reader reads ``seq`` (acquire), the slot,
# ``seq`` again; a change, or an odd value, means it retries, a few times, then misses.
# Lengths are bounded before any copy, so torn or garbage data is a miss, never a crash.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    SC_VERSION = 1
    SC_WAYS = 8                 # ways per bucket
    SC_KEY = 16                 # key octets
    SC_SIG_MAX = 512            # longest signature (RSA 4096)
    SC_SLOT_HEAD = 24           # sizeof(SlotHead)
    SC_SMALL_SLOT = 128         # two cache lines
    SC_SMALL_MAX = SC_SMALL_SLOT - SC_SLOT_HEAD          # 104
    SC_LARGE_SLOT = SC_SLOT_HEAD + SC_SIG_MAX             # 536
    SC_META = 64                # sizeof(BucketMeta): one cache line
    SC_SMALL_BUCKET = SC_META + SC_WAYS * SC_SMALL_SLOT   # 1,088
    SC_LARGE_BUCKET = SC_META + SC_WAYS * SC_LARGE_SLOT   # 4,352
    SC_HEADER = 256
    SC_READ_TRIES = 4           # a reader's attempts at a slot a writer is changing


ctypedef struct SigHeader:
    char magic[8]               # "FDSIGC01"
    uint32_t version
    uint32_t ways
    uint64_t size               # octets of the whole region
    uint64_t small_buckets
    uint64_t large_buckets      # may be 0: no room for signatures over SC_SMALL_MAX
    uint64_t small_off          # SC_HEADER
    uint64_t large_off          # small_off + small_buckets * SC_SMALL_BUCKET
    uint8_t seed[16]            # the key of sig_key's SipHash, from getrandom at create
    uint8_t _pad0[128 - 72]
    # counters: atomic adds by writers, relaxed loads by stats()
    uint64_t stores             # signatures written
    uint64_t evictions          # ... that replaced another key's
    uint64_t filled[2]          # ways in use, small and large (they never empty again)
    uint64_t skipped            # stores given up: every way of the bucket held by a writer
    uint8_t _pad1[SC_HEADER - 128 - 40]


ctypedef struct SlotHead:
    uint32_t seq                # even: stable; odd: a writer is in
    uint16_t len                # signature octets (0: never written)
    uint16_t _pad
    uint8_t key[SC_KEY]
    # then the signature: SC_SMALL_MAX or SC_SIG_MAX octets


ctypedef struct BucketMeta:
    uint32_t tag[SC_WAYS]       # key octets 8..11 (0 made 1); 0: the way is empty
    uint32_t used[SC_WAYS]      # last use, the caller's clock


ctypedef struct SigTable:       # one table, as this process maps it
    uint8_t *base
    uint64_t nbuckets
    uint32_t bucket_size
    uint32_t slot_size
    uint32_t sig_max


cdef class SigCache:
    cdef uint8_t *base
    cdef readonly size_t nbytes # the region's octets
    cdef SigHeader *hdr
    cdef SigTable tables[2]     # small, large
    cdef uint64_t k0, k1        # the seed, as SipHash's key
    cdef readonly int fd

    cdef _validate(self)
    cdef _check(self)

    # the signature of ``key`` (SC_KEY octets) copied into ``out`` (room for SC_SIG_MAX
    # octets): its length, or -1 (a miss, or a closed cache). A hit marks the way used at now.
    cdef int sc_get(self, const uint8_t *key, uint8_t *out, uint32_t now) noexcept nogil
    # store ``sig`` (1..SC_SIG_MAX octets) under ``key``: 1 stored, 0 not stored (the ways it
    # could take were held by other writers, or no large table), -1 a bad length.
    cdef int sc_put(self, const uint8_t *key, const uint8_t *sig, int siglen,
                    uint32_t now) noexcept nogil


# the cache key of ``data`` (whatever identifies a signature: the signing key and the
# signed data): SipHash-2-4 with 128-bit output, keyed by the cache's seed
cdef void sig_key(SigCache c, const uint8_t *data, size_t len,
                  uint8_t out[16]) noexcept nogil

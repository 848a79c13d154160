# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The signature cache shared by every fastdns process (its layout: _sigcache.pxd).

The master makes the region once, before it forks (``SigCache.create(entries)`` gives the
memfd); signers and workers map it (``SigCache(fd)``). Signers store RRSIG signatures under
a 16-octet key, workers read them in place: ``sc_get``/``sc_put`` take no lock and create no
Python object. Eviction is least-recently-used within a bucket of SC_WAYS ways, so a flood
of one-off signatures pushes out the coldest entries of each bucket and never the hot ones
wholesale, and the cache is never wiped as a whole.

Memory: ``entries`` small slots (signatures of up to 104 octets: P-256, P-384, Ed25519) of
128 octets plus 8 of bucket metadata, and by default entries/16 large slots (Ed448, RSA) of
536 + 8: 170 octets per entry (``entry_bytes``), 340 MB for 2,000,000 entries. The pages are
the kernel's shared memory, counted once whatever the number of processes, and resident
only once written.

The key (``sig_key``) is SipHash-2-4 with its 128-bit output, keyed by a random seed drawn at
create: not the caller's choice of data, nor anyone outside, can aim keys at one bucket or
make two inputs share a key.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.errno cimport errno
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset
from posix.mman cimport mmap, munmap, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_FAILED
from posix.stat cimport struct_stat, fstat
from posix.unistd cimport close as c_close, ftruncate

cdef extern from *:
    """
    #include <fcntl.h>
    #include <sys/mman.h>
    #include <sys/random.h>
    #include <stdint.h>
    #include <string.h>

    #ifndef MFD_CLOEXEC
    #define MFD_CLOEXEC 0x0001U
    #define MFD_ALLOW_SEALING 0x0002U
    #endif
    #ifndef F_ADD_SEALS
    #define F_ADD_SEALS 1033
    #define F_SEAL_SEAL 0x0001
    #define F_SEAL_SHRINK 0x0002
    #define F_SEAL_GROW 0x0004
    #endif
    #ifndef MADV_HUGEPAGE
    #define MADV_HUGEPAGE 14
    #endif

    static int fastdns_sc_memfd(const char *name) {
        return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    }
    static int fastdns_sc_seal(int fd) {
        return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    }
    static int fastdns_sc_random(uint8_t *out, size_t n) {
        while (n) {
            ssize_t got = getrandom(out, n, 0);
            if (got < 0) return -1;
            out += got;
            n -= (size_t)got;
        }
        return 0;
    }
    static void fastdns_sc_hugepages(void *addr, size_t len) {
        (void)madvise(addr, len, MADV_HUGEPAGE);   /* a hint: shmem THP may be off */
    }

    /* -- the seqlock's atomics (Boehm, "Can seqlocks get along with programming language
       memory models?", 2012): the data between the fences is read and written plainly */
    static inline uint32_t fastdns_sc_load_acquire(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }
    static inline uint32_t fastdns_sc_load(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline void fastdns_sc_store(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    }
    static inline void fastdns_sc_store_release(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline int fastdns_sc_cas(uint32_t *p, uint32_t expected, uint32_t desired) {
        return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQUIRE,
                                           __ATOMIC_RELAXED);
    }
    static inline void fastdns_sc_fence_acquire(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
    static inline void fastdns_sc_fence_release(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
    static inline void fastdns_sc_add(uint64_t *p, uint64_t v) {
        __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    }
    static inline uint64_t fastdns_sc_load64(const uint64_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline void fastdns_sc_relax(void) {
    #if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
    #elif defined(__aarch64__)
        __asm__ __volatile__("yield");
    #endif
    }
    /* h onto 0..n-1 without a division (Lemire's multiply-shift) */
    static inline uint64_t fastdns_sc_reduce(uint64_t h, uint64_t n) {
        return (uint64_t)(((unsigned __int128)h * n) >> 64);
    }
    static inline uint64_t fastdns_sc_u64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    static inline uint32_t fastdns_sc_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }

    /* -- SipHash-2-4, 128-bit output (Aumasson and Bernstein's reference, vectors.h) */
    #define FASTDNS_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
    #define FASTDNS_SIPROUND                                                     \\
        do {                                                                     \\
            v0 += v1; v1 = FASTDNS_ROTL(v1, 13); v1 ^= v0; v0 = FASTDNS_ROTL(v0, 32); \\
            v2 += v3; v3 = FASTDNS_ROTL(v3, 16); v3 ^= v2;                       \\
            v0 += v3; v3 = FASTDNS_ROTL(v3, 21); v3 ^= v0;                       \\
            v2 += v1; v1 = FASTDNS_ROTL(v1, 17); v1 ^= v2; v2 = FASTDNS_ROTL(v2, 32); \\
        } while (0)

    static inline uint64_t fastdns_sc_le64(const uint8_t *p) {
        return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16
            | (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40
            | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
    }
    static inline void fastdns_sc_put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
    }

    static void fastdns_siphash128(uint64_t k0, uint64_t k1, const uint8_t *in, size_t len,
                                   uint8_t *out) {
        uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
        uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
        const uint8_t *end = in + (len & ~(size_t)7);
        uint64_t m, b = (uint64_t)len << 56;
        v1 ^= 0xee;
        for (; in != end; in += 8) {
            m = fastdns_sc_le64(in);
            v3 ^= m;
            FASTDNS_SIPROUND; FASTDNS_SIPROUND;
            v0 ^= m;
        }
        switch (len & 7) {
        case 7: b |= (uint64_t)in[6] << 48; /* fall through */
        case 6: b |= (uint64_t)in[5] << 40; /* fall through */
        case 5: b |= (uint64_t)in[4] << 32; /* fall through */
        case 4: b |= (uint64_t)in[3] << 24; /* fall through */
        case 3: b |= (uint64_t)in[2] << 16; /* fall through */
        case 2: b |= (uint64_t)in[1] << 8;  /* fall through */
        case 1: b |= (uint64_t)in[0];
        }
        v3 ^= b;
        FASTDNS_SIPROUND; FASTDNS_SIPROUND;
        v0 ^= b;
        v2 ^= 0xee;
        FASTDNS_SIPROUND; FASTDNS_SIPROUND; FASTDNS_SIPROUND; FASTDNS_SIPROUND;
        fastdns_sc_put_le64(out, v0 ^ v1 ^ v2 ^ v3);
        v1 ^= 0xdd;
        FASTDNS_SIPROUND; FASTDNS_SIPROUND; FASTDNS_SIPROUND; FASTDNS_SIPROUND;
        fastdns_sc_put_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
    }
    """
    int sc_memfd "fastdns_sc_memfd"(const char *name) nogil
    int sc_seal "fastdns_sc_seal"(int fd) nogil
    int sc_random "fastdns_sc_random"(uint8_t *out, size_t n) nogil
    void sc_hugepages "fastdns_sc_hugepages"(void *addr, size_t length) nogil
    uint32_t load_acquire "fastdns_sc_load_acquire"(const uint32_t *p) noexcept nogil
    uint32_t load_relaxed "fastdns_sc_load"(const uint32_t *p) noexcept nogil
    void store_relaxed "fastdns_sc_store"(uint32_t *p, uint32_t v) noexcept nogil
    void store_release "fastdns_sc_store_release"(uint32_t *p, uint32_t v) noexcept nogil
    bint cas "fastdns_sc_cas"(uint32_t *p, uint32_t expected, uint32_t desired) noexcept nogil
    void fence_acquire "fastdns_sc_fence_acquire"() noexcept nogil
    void fence_release "fastdns_sc_fence_release"() noexcept nogil
    void atomic_add "fastdns_sc_add"(uint64_t *p, uint64_t v) noexcept nogil
    uint64_t load64 "fastdns_sc_load64"(const uint64_t *p) noexcept nogil
    void cpu_relax "fastdns_sc_relax"() noexcept nogil
    void prefetch "__builtin_prefetch"(const void *addr) noexcept nogil
    uint64_t reduce "fastdns_sc_reduce"(uint64_t h, uint64_t n) noexcept nogil
    uint64_t get_u64 "fastdns_sc_u64"(const uint8_t *p) noexcept nogil
    uint32_t get_u32 "fastdns_sc_u32"(const uint8_t *p) noexcept nogil
    uint64_t le64 "fastdns_sc_le64"(const uint8_t *p) noexcept nogil
    void siphash128 "fastdns_siphash128"(uint64_t k0, uint64_t k1, const uint8_t *data,
                                         size_t length, uint8_t *out) noexcept nogil

MAGIC = b"FDSIGC01"
VERSION = SC_VERSION
WAYS = SC_WAYS
KEY_SIZE = SC_KEY
SIG_MAX = SC_SIG_MAX
SMALL_MAX = SC_SMALL_MAX
#: the large table's share when create() is not told: one large slot per this many entries
LARGE_SHARE = 16
#: the most entries create() accepts (far beyond any machine's memory)
ENTRIES_MAX = 1 << 32

assert sizeof(SlotHead) == SC_SLOT_HEAD and sizeof(BucketMeta) == SC_META
assert sizeof(SigHeader) == SC_HEADER


cdef inline uint32_t _tag(const uint8_t *key) noexcept nogil:
    cdef uint32_t t = get_u32(key + 8)
    return t if t else 1


cdef inline uint8_t *_bucket(const SigTable *t, const uint8_t *key) noexcept nogil:
    return t.base + reduce(get_u64(key), t.nbuckets) * t.bucket_size


cdef inline SlotHead *_slot(const SigTable *t, uint8_t *bucket, int way) noexcept nogil:
    return <SlotHead *>(bucket + SC_META + way * t.slot_size)


cdef int _slot_read(SlotHead *slot, uint32_t sig_max, const uint8_t *key,
                    uint8_t *out) noexcept nogil:
    """The signature in ``slot`` if it is ``key``'s, copied to ``out``: its length; 0 if
    the slot holds another key, or a writer kept changing it."""
    cdef uint32_t seq
    cdef uint32_t n
    cdef int tries
    cdef const uint8_t *sig = <const uint8_t *>slot + SC_SLOT_HEAD
    for tries in range(SC_READ_TRIES):
        seq = load_acquire(&slot.seq)
        if seq & 1:
            cpu_relax()
            continue
        n = slot.len
        if n == 0 or n > sig_max or memcmp(slot.key, key, SC_KEY) != 0:
            fence_acquire()
            if load_relaxed(&slot.seq) == seq:
                return 0        # a stable slot of another key (or empty)
            continue
        memcpy(out, sig, n)
        fence_acquire()
        if load_relaxed(&slot.seq) == seq:
            return <int>n
    return 0


cdef int _table_get(const SigTable *t, const uint8_t *key, uint32_t tag, uint8_t *out,
                    uint32_t now) noexcept nogil:
    if t.nbuckets == 0:
        return -1
    cdef uint8_t *bucket = _bucket(t, key)
    cdef BucketMeta *meta = <BucketMeta *>bucket
    cdef int way, n
    for way in range(SC_WAYS):
        if load_relaxed(&meta.tag[way]) != tag:
            continue
        n = _slot_read(_slot(t, bucket, way), t.sig_max, key, out)
        if n > 0:
            if load_relaxed(&meta.used[way]) != now:   # a line written only when it changes
                store_relaxed(&meta.used[way], now)
            return n
    return -1


cdef inline uint32_t _age(uint32_t now, uint32_t used) noexcept nogil:
    """How long ago ``used`` was, on a clock that wraps; a time just ahead of ``now`` (a
    process whose clock was read a moment later) is no age at all."""
    cdef uint32_t age = now - used
    return 0 if age > 0x80000000u else age


cdef int _lock_victim(const SigTable *t, uint8_t *bucket, uint32_t now,
                      int *way_out) noexcept nogil:
    """Take a way for a new key: an empty one, else the least recently used one that no
    other writer holds: 0, the way in ``way_out`` (held: its ``seq`` is odd), or -1."""
    cdef BucketMeta *meta = <BucketMeta *>bucket
    cdef uint32_t tried = 0
    cdef int way, best, attempt
    cdef uint64_t score, best_score
    cdef uint32_t seq
    cdef SlotHead *slot
    for attempt in range(SC_WAYS):
        best = -1
        best_score = 0
        for way in range(SC_WAYS):
            if tried & (1u << way):
                continue
            if load_relaxed(&meta.tag[way]) == 0:
                score = 1ULL << 33                    # empty: before any used way
            else:
                score = _age(now, load_relaxed(&meta.used[way]))
            if best < 0 or score > best_score:
                best = way
                best_score = score
        tried |= 1u << best
        slot = _slot(t, bucket, best)
        seq = load_relaxed(&slot.seq)
        if not seq & 1 and cas(&slot.seq, seq, seq + 1):
            way_out[0] = best
            return 0
    return -1


cdef class SigCache:
    """A mapping of the signature cache in memfd ``fd`` (made by ``create``), read-write,
    checked once here so that lookups trust every offset."""

    def __cinit__(self, int fd):
        cdef struct_stat st
        cdef void *addr
        self.fd = fd
        if fstat(fd, &st) != 0:
            raise OSError(errno, "signature cache: fstat failed")
        if st.st_size < SC_HEADER:
            raise ValueError("not a signature cache (too small)")
        addr = mmap(NULL, <size_t>st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        if addr == MAP_FAILED:
            raise OSError(errno, "signature cache: mmap failed")
        self.base = <uint8_t *>addr
        self.nbytes = <size_t>st.st_size
        try:
            self._validate()
        except BaseException:
            munmap(self.base, self.nbytes)
            self.base = NULL
            raise
        sc_hugepages(self.base, self.nbytes)

    def __dealloc__(self):
        if self.base != NULL:
            munmap(self.base, self.nbytes)
            self.base = NULL

    cdef _validate(self):
        cdef SigHeader *h = <SigHeader *>self.base
        if memcmp(h.magic, <const char *>b"FDSIGC01", 8) != 0:
            raise ValueError("not a signature cache")
        if h.version != SC_VERSION or h.ways != SC_WAYS or h.size != self.nbytes:
            raise ValueError("signature cache of another version or size")
        if h.small_buckets == 0 or h.small_buckets > ENTRIES_MAX \
                or h.large_buckets > ENTRIES_MAX or h.small_off != SC_HEADER \
                or h.large_off != h.small_off + h.small_buckets * SC_SMALL_BUCKET \
                or h.size != h.large_off + h.large_buckets * SC_LARGE_BUCKET:
            raise ValueError("signature cache sections malformed")
        self.hdr = h
        self.tables[0].base = self.base + h.small_off
        self.tables[0].nbuckets = h.small_buckets
        self.tables[0].bucket_size = SC_SMALL_BUCKET
        self.tables[0].slot_size = SC_SMALL_SLOT
        self.tables[0].sig_max = SC_SMALL_MAX
        self.tables[1].base = self.base + h.large_off
        self.tables[1].nbuckets = h.large_buckets
        self.tables[1].bucket_size = SC_LARGE_BUCKET
        self.tables[1].slot_size = SC_LARGE_SLOT
        self.tables[1].sig_max = SC_SIG_MAX
        self.k0 = le64(h.seed)
        self.k1 = le64(h.seed + 8)

    # -- the engine's and the signers' API ---------------------------------------------------

    cdef int sc_get(self, const uint8_t *key, uint8_t *out, uint32_t now) noexcept nogil:
        if self.base == NULL:
            return -1
        cdef uint32_t tag = _tag(key)
        if self.tables[1].nbuckets:
            # a large signature (RSA) is looked for in the small table first: start loading
            # its large bucket now, so that the two misses overlap rather than add up
            prefetch(_bucket(&self.tables[1], key))
        cdef int n = _table_get(&self.tables[0], key, tag, out, now)
        if n < 0:
            n = _table_get(&self.tables[1], key, tag, out, now)
        return n

    cdef int sc_put(self, const uint8_t *key, const uint8_t *sig, int siglen,
                    uint32_t now) noexcept nogil:
        if siglen < 1 or siglen > SC_SIG_MAX:
            return -1
        if self.base == NULL:
            return 0
        cdef int which = 0 if siglen <= SC_SMALL_MAX else 1
        cdef const SigTable *t = &self.tables[which]
        if t.nbuckets == 0:
            return 0
        cdef uint8_t *bucket = _bucket(t, key)
        cdef BucketMeta *meta = <BucketMeta *>bucket
        cdef uint32_t tag = _tag(key)
        cdef uint32_t seq, old_tag
        cdef SlotHead *slot
        cdef int way = -1
        cdef int w
        cdef bint same = False
        # the key already has a way: write there (a signer re-signing it). If a writer holds
        # that way, take another: the way may be held for good (a writer killed in the
        # middle), and readers pass over a held way to the next with the same tag.
        for w in range(SC_WAYS):
            if load_relaxed(&meta.tag[w]) == tag \
                    and memcmp(_slot(t, bucket, w).key, key, SC_KEY) == 0:
                slot = _slot(t, bucket, w)
                seq = load_relaxed(&slot.seq)
                if not seq & 1 and cas(&slot.seq, seq, seq + 1):
                    way = w
                    same = True
                    break
        if way < 0 and _lock_victim(t, bucket, now, &way) < 0:
            atomic_add(&self.hdr.skipped, 1)
            return 0
        slot = _slot(t, bucket, way)
        seq = slot.seq                  # odd: ours
        fence_release()
        old_tag = load_relaxed(&meta.tag[way])
        # (another writer may have put a new key in this way since it was compared)
        same = old_tag != 0 and memcmp(slot.key, key, SC_KEY) == 0
        slot.len = <uint16_t>siglen
        memcpy(slot.key, key, SC_KEY)
        memcpy(<uint8_t *>slot + SC_SLOT_HEAD, sig, siglen)
        store_relaxed(&meta.tag[way], tag)
        store_relaxed(&meta.used[way], now)
        store_release(&slot.seq, seq + 1)
        atomic_add(&self.hdr.stores, 1)
        if old_tag == 0:
            atomic_add(&self.hdr.filled[which], 1)
        elif not same:
            atomic_add(&self.hdr.evictions, 1)
        return 1

    # -- for Python: the master, signers' orchestration, tools and tests ---------------------

    @staticmethod
    def create(entries, large=None, seed=None):
        """A new, empty cache for ``entries`` signatures of up to SMALL_MAX octets and
        ``large`` (default entries/16) of up to SIG_MAX, both rounded up to whole buckets
        of WAYS: its memfd (the caller's to pass on and close). ``seed`` (16 octets) is
        for tests; by default it is random."""
        cdef uint64_t n_small, n_large, size
        cdef uint8_t seed_bytes[16]
        cdef int fd
        cdef void *addr
        cdef SigHeader *h
        cdef bytes seed_given
        if not 1 <= entries <= ENTRIES_MAX:
            raise ValueError(f"signature cache entries must be 1..{ENTRIES_MAX}")
        if large is None:
            large = (entries + LARGE_SHARE - 1) // LARGE_SHARE
        if not 0 <= large <= ENTRIES_MAX:
            raise ValueError(f"signature cache large entries must be 0..{ENTRIES_MAX}")
        n_small = (<uint64_t>entries + SC_WAYS - 1) // SC_WAYS
        n_large = (<uint64_t>large + SC_WAYS - 1) // SC_WAYS
        size = SC_HEADER + n_small * SC_SMALL_BUCKET + n_large * SC_LARGE_BUCKET
        if seed is None:
            if sc_random(seed_bytes, 16) != 0:
                raise OSError(errno, "signature cache: getrandom failed")
        else:
            if len(seed) != 16:
                raise ValueError("signature cache seed must be 16 octets")
            seed_given = bytes(seed)
            memcpy(seed_bytes, <const uint8_t *>seed_given, 16)
        fd = sc_memfd(b"fastdns-sigcache")
        if fd < 0:
            raise OSError(errno, "signature cache: memfd_create failed")
        try:
            if ftruncate(fd, <long>size) != 0:
                raise OSError(errno, "signature cache: ftruncate failed")
            addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            if addr == MAP_FAILED:
                raise OSError(errno, "signature cache: mmap failed")
            h = <SigHeader *>addr
            memcpy(h.magic, <const char *>b"FDSIGC01", 8)
            h.version = SC_VERSION
            h.ways = SC_WAYS
            h.size = size
            h.small_buckets = n_small
            h.large_buckets = n_large
            h.small_off = SC_HEADER
            h.large_off = SC_HEADER + n_small * SC_SMALL_BUCKET
            memcpy(h.seed, seed_bytes, 16)
            munmap(addr, size)
            if sc_seal(fd) != 0:
                raise OSError(errno, "signature cache: sealing failed")
        except BaseException:
            c_close(fd)
            raise
        return fd

    def close(self):
        """Unmap the cache (the descriptor stays the caller's); it misses from then on."""
        if self.base != NULL:
            munmap(self.base, self.nbytes)
            self.base = NULL
            self.hdr = NULL

    cdef _check(self):
        if self.base == NULL:
            raise ValueError("signature cache is closed")

    def key(self, bytes data not None):
        """The 16-octet cache key of ``data``, under this cache's seed."""
        self._check()
        cdef uint8_t out[16]
        sig_key(self, <const uint8_t *>data, len(data), out)
        return PyBytes_FromStringAndSize(<char *>out, 16)

    def get(self, bytes key not None, uint32_t now=0):
        """The signature stored under ``key``, or None."""
        self._check()
        if len(key) != SC_KEY:
            raise ValueError("a signature cache key is 16 octets")
        cdef uint8_t out[SC_SIG_MAX]
        cdef int n = self.sc_get(<const uint8_t *>key, out, now)
        return None if n < 0 else PyBytes_FromStringAndSize(<char *>out, n)

    def put(self, bytes key not None, bytes sig not None, uint32_t now=0):
        """Store ``sig`` (1..512 octets) under ``key``: whether it was (False: every way it
        could take was being written by another process)."""
        self._check()
        if len(key) != SC_KEY:
            raise ValueError("a signature cache key is 16 octets")
        if not 1 <= len(sig) <= SC_SIG_MAX:
            raise ValueError(f"a signature is 1..{SC_SIG_MAX} octets, not {len(sig)}")
        return self.sc_put(<const uint8_t *>key, <const uint8_t *>sig, <int>len(sig), now) > 0

    def _sc_put(self, bytes key not None, bytes sig not None, uint32_t now=0):
        """sc_put's own result (1 stored, 0 not, -1 a bad length), for tests."""
        self._check()
        if len(key) != SC_KEY:
            raise ValueError("a signature cache key is 16 octets")
        return self.sc_put(<const uint8_t *>key, <const uint8_t *>sig, <int>len(sig), now)

    @property
    def capacity(self):
        """Signatures of up to SMALL_MAX octets it holds (the entries, in whole buckets)."""
        return self.tables[0].nbuckets * SC_WAYS

    @property
    def large_capacity(self):
        """Signatures of SMALL_MAX+1..SIG_MAX octets it holds, besides."""
        return self.tables[1].nbuckets * SC_WAYS

    @property
    def size(self):
        """Entries in use (ways ever filled: the cache never empties)."""
        self._check()
        return load64(&self.hdr.filled[0]) + load64(&self.hdr.filled[1])

    @property
    def entry_bytes(self):
        """Octets of shared memory per entry of ``capacity``, the large table included."""
        return self.nbytes / (self.tables[0].nbuckets * SC_WAYS)

    def stats(self):
        self._check()
        return {"stores": load64(&self.hdr.stores),
                "evictions": load64(&self.hdr.evictions),
                "skipped": load64(&self.hdr.skipped),
                "size": load64(&self.hdr.filled[0]) + load64(&self.hdr.filled[1]),
                "capacity": self.capacity, "large_capacity": self.large_capacity,
                "bytes": self.nbytes}


cdef void sig_key(SigCache c, const uint8_t *data, size_t len,
                  uint8_t out[16]) noexcept nogil:
    siphash128(c.k0, c.k1, data, len, out)

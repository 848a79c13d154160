# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The packet cache: wire answers keyed on the question, as PowerDNS's.

The key is what the answer depends on and nothing else: the query's flags word (never its
ID), qtype, qclass, whether it has EDNS, its DO bit, whether it asked for the NSID, TCP or
UDP, the size the answer was limited to, and the qname lowercased. An EDNS cookie or other
option the engine does not act on is not part of it. On a hit the caller patches the ID and
the query's own qname case into the copy (``_udp``).

An entry lives min(record TTLs, ``cache-ttl``), a negative answer (NXDOMAIN, NODATA)
min(record TTLs, ``negquery-cache-ttl``); at most ``max-packet-cache-entries`` are kept, the
least recently used going first. Each entry carries the tag of the zone it came from, so a
reload drops exactly that zone's answers (``purge``). Memory is C memory: a hit creates
no Python object.

Admission: an answer is kept the second time its key is asked for, not the first, so that a
flood of random names (each asked once) neither fills the cache nor evicts what is asked for
again (docs/performance.md has the figures). A doorkeeper remembers a 32-bit fingerprint of
each key asked for once, in a table of fixed size: buckets of four, indexed by the key's
hash. A later miss for the same key finds its fingerprint there, and its answer is kept (the
fingerprint leaves the table). The window is the table: a fingerprint stays until four more
keys have landed in its bucket, so under a flood of R misses a second a key must come back
within about slots / R seconds. An entry that expires, or that a purge or a reload drops,
leaves its fingerprint behind: asked for again, its answer is kept again at once.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, calloc, free
from libc.string cimport memcpy, memcmp

from fastdns.consts cimport *
from fastdns._reader cimport WireReader, wr_check, wr_u16, wr_u32, put_u16
from fastdns._names cimport wr_skip_name
from fastdns._query cimport Query

cdef enum:
    DOOR_MIN = 4096               # doorkeeper slots, at least and at most (auto size)
    DOOR_MAX = 1 << 18
    RCODE_MASK = 0x000F
    KEYBIT_EDNS = 1
    KEYBIT_DO = 2
    KEYBIT_NSID = 4
    KEYBIT_TCP = 8


cdef int make_key(const Query *q, bint tcp, int limit, uint8_t *key) noexcept nogil:
    """Write the cache key of ``q`` into ``key`` (KEY_MAX octets); return its length."""
    put_u16(key, q.flags)
    put_u16(key + 2, q.qtype)
    put_u16(key + 4, q.qclass)
    key[6] = ((KEYBIT_EDNS if q.has_edns else 0)
              | (KEYBIT_DO if q.has_edns and q.edns_flags & EDNS_DO else 0)
              | (KEYBIT_NSID if q.has_edns and q.nsid else 0)
              | (KEYBIT_TCP if tcp else 0))
    put_u16(key + 7, <uint16_t>limit)
    memcpy(key + KEY_FIXED, q.lk, q.lk_len)
    return KEY_FIXED + q.lk_len


cdef uint64_t key_hash(const uint8_t *key, int key_len) noexcept nogil:
    """A 64-bit hash of the key, eight octets at a time (a multiply and a shift each, then
    MurmurHash3's finaliser), seeded per process: what a client sends cannot be chosen to
    collide."""
    cdef uint64_t h = hash_seed ^ (<uint64_t>key_len * 0x9E3779B97F4A7C15ULL)
    cdef uint64_t w
    cdef int i = 0
    cdef int j
    while i + 8 <= key_len:
        memcpy(&w, key + i, 8)
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 29
        i += 8
    if i < key_len:
        w = 0
        for j in range(key_len - i):
            w |= (<uint64_t>key[i + j]) << (8 * j)
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL
        h ^= h >> 29
    h ^= h >> 33
    h *= 0xC4CEB9FE1A85EC53ULL
    h ^= h >> 33
    return h


cdef extern from "<sys/random.h>" nogil:
    ssize_t getrandom(void *buf, size_t n, unsigned int flags)

cdef uint64_t hash_seed = 0
if getrandom(&hash_seed, sizeof(hash_seed), 0) != sizeof(hash_seed):
    hash_seed = <uint64_t><size_t>&hash_seed      # (ASLR's share of randomness)


cdef int answer_ttl(const uint8_t *answer, int length, uint32_t *ttl) noexcept nogil:
    """The lowest TTL of the records of ``answer`` (OPT excluded) into ``ttl``; the number
    of records, or -1 if the message does not parse."""
    cdef WireReader r
    cdef int i, records
    cdef uint16_t rdtype, rdlen
    cdef uint32_t t
    r.buf = answer
    r.len = length
    r.pos = 12
    r.floor = 12
    if length < 12:
        return -1
    records = ((answer[6] << 8 | answer[7]) + (answer[8] << 8 | answer[9])
               + (answer[10] << 8 | answer[11]))
    for i in range((answer[4] << 8) | answer[5]):
        if wr_skip_name(&r) < 0 or not wr_check(&r, 4):
            return -1
        r.pos += 4
    ttl[0] = 0xFFFFFFFF
    for i in range(records):
        if wr_skip_name(&r) < 0 or not wr_check(&r, 10):
            return -1
        rdtype = wr_u16(&r)
        r.pos += 2
        t = wr_u32(&r)
        rdlen = wr_u16(&r)
        if not wr_check(&r, rdlen):
            return -1
        r.pos += rdlen
        if rdtype != TYPE_OPT and t < ttl[0]:
            ttl[0] = t
    return records


cdef class PacketCache:
    """``max_entries``, ``ttl`` and ``neg_ttl`` are PowerDNS's max-packet-cache-entries,
    cache-ttl and negquery-cache-ttl. ``doorkeeper`` is the number of slots of the admission
    table (rounded up to a power of two): None sizes it from max_entries (a quarter, within
    4,096..262,144: 16 KiB..1 MiB), 0 turns admission off (every answer is kept)."""

    def __cinit__(self, Py_ssize_t max_entries=1000000, uint32_t ttl=20,
                  uint32_t neg_ttl=60, doorkeeper=None):
        cdef uint64_t slots = 0
        self.max_entries = max_entries
        self.ttl = ttl
        self.neg_ttl = neg_ttl
        self.nbuckets = PC_MIN_BUCKETS
        self.buckets = <Entry **>calloc(self.nbuckets, sizeof(Entry *))
        if self.buckets == NULL:
            raise MemoryError()
        if doorkeeper is None:
            slots = DOOR_MIN
            while slots < DOOR_MAX and slots * 4 < <uint64_t>max(max_entries, 0):
                slots *= 2
        elif doorkeeper > 0:
            slots = 1
            while slots < <uint64_t>doorkeeper:
                slots *= 2
        elif doorkeeper < 0:
            raise ValueError("doorkeeper must be None, 0 or a number of slots")
        if slots:
            slots = slots if slots >= DOOR_WAYS else DOOR_WAYS
            self.door = <uint32_t *>calloc(slots, sizeof(uint32_t))
            if self.door == NULL:
                raise MemoryError()
            self.door_mask = slots // DOOR_WAYS - 1       # over buckets of DOOR_WAYS

    def __dealloc__(self):
        self.clear()
        free(self.buckets)
        free(self.door)

    def __len__(self):
        return self.count

    @property
    def doorkeeper(self):
        """Slots of the admission table (0: admission off)."""
        return (self.door_mask + 1) * DOOR_WAYS if self.door != NULL else 0

    # -- the C side ----------------------------------------------------------------------

    cdef Entry *find(self, const uint8_t *key, int key_len, uint64_t h) noexcept nogil:
        cdef Entry *e = self.buckets[h & (self.nbuckets - 1)]
        while e != NULL:
            if e.hash == h and e.key_len == key_len and memcmp(e.data, key, key_len) == 0:
                return e
            e = e.chain
        return NULL

    cdef int get(self, const uint8_t *key, int key_len, uint64_t h, uint32_t now,
                 uint8_t *out) noexcept nogil:
        """Copy the answer for ``key`` into ``out``; its length, or -1 on a miss."""
        cdef Entry *e = self.find(key, key_len, h)
        if e == NULL:
            return -1
        if now >= e.expires:
            self.unlink(e)
            free(e)
            self.remember(h)              # asked for again: the new answer is kept at once
            return -1
        if e != self.newest:          # most recently used goes to the front
            self.lru_unlink(e)
            self.link_newest(e)
        memcpy(out, e.data + e.key_len, e.answer_len)
        return e.answer_len

    cdef void put(self, const uint8_t *key, int key_len, uint64_t h, const uint8_t *answer,
                  int answer_len, uint32_t now, uint32_t tag, bint multi) noexcept nogil:
        """Keep ``answer`` if it may be kept: NOERROR or NXDOMAIN, with a lifetime > 0."""
        cdef uint32_t ttl, life
        cdef int rcode
        cdef bint negative
        cdef Entry *e
        if self.max_entries <= 0 or answer_len < 12:
            return
        rcode = answer[3] & RCODE_MASK
        if rcode != RCODE_NOERROR and rcode != RCODE_NXDOMAIN:
            return
        if answer_ttl(answer, answer_len, &ttl) < 0:
            return
        negative = rcode == RCODE_NXDOMAIN or (
            answer[6] == 0 and answer[7] == 0 and answer[2] & 0x04)   # NODATA: AA, no answer
        life = self.neg_ttl if negative else self.ttl
        if ttl < life:
            life = ttl
        if life == 0:
            return
        e = self.find(key, key_len, h)
        if e != NULL:
            self.unlink(e)
            free(e)
        while self.count >= self.max_entries and self.oldest != NULL:
            e = self.oldest
            self.unlink(e)
            free(e)
        e = <Entry *>malloc(sizeof(Entry) + key_len + answer_len)
        if e == NULL:
            return
        e.hash = h
        e.expires = now + life
        e.tag = tag
        e.multi = multi
        e.key_len = key_len
        e.answer_len = answer_len
        memcpy(e.data, key, key_len)
        memcpy(e.data + key_len, answer, answer_len)
        if self.count >= <Py_ssize_t>self.nbuckets:
            self.grow()
        e.chain = self.buckets[h & (self.nbuckets - 1)]
        self.buckets[h & (self.nbuckets - 1)] = e
        self.link_newest(e)
        self.count += 1

    cdef bint offer(self, const uint8_t *key, int key_len, uint64_t h, const uint8_t *answer,
                    int answer_len, uint32_t now, uint32_t tag, bint multi) noexcept nogil:
        """``put``, if the key passes the doorkeeper (asked for before); whether it did."""
        if not self.admit(h):
            self.not_admitted += 1
            return False
        self.put(key, key_len, h, answer, answer_len, now, tag, multi)
        return True

    cdef bint admit(self, uint64_t h) noexcept nogil:
        """Was the key of hash ``h`` asked for before (its fingerprint is in its bucket)?
        Then it leaves the doorkeeper (its answer goes into the cache). If not, it is
        remembered now: the next miss for it is admitted."""
        cdef uint32_t fp
        cdef uint32_t *bucket
        cdef int i
        if self.door == NULL:
            return True
        fp = <uint32_t>(h >> 32) | 1
        bucket = &self.door[(h & self.door_mask) * DOOR_WAYS]
        for i in range(DOOR_WAYS):
            if bucket[i] == fp:
                bucket[i] = 0
                return True
        self.remember(h)
        return False

    cdef void remember(self, uint64_t h) noexcept nogil:
        """Put the fingerprint of ``h`` first in its bucket; the oldest of the bucket goes
        (a bucket of DOOR_WAYS, one cache line's quarter: two keys asked for again and again
        that share a bucket are both kept, where one slot each would evict each other)."""
        cdef uint32_t fp
        cdef uint32_t *bucket
        cdef int i
        if self.door == NULL:
            return
        fp = <uint32_t>(h >> 32) | 1
        bucket = &self.door[(h & self.door_mask) * DOOR_WAYS]
        for i in range(DOOR_WAYS - 1, 0, -1):
            bucket[i] = bucket[i - 1]
        bucket[0] = fp

    cdef void link_newest(self, Entry *e) noexcept nogil:
        e.newer = NULL
        e.older = self.newest
        if self.newest != NULL:
            self.newest.newer = e
        self.newest = e
        if self.oldest == NULL:
            self.oldest = e

    cdef void lru_unlink(self, Entry *e) noexcept nogil:
        if e.newer != NULL:
            e.newer.older = e.older
        else:
            self.newest = e.older
        if e.older != NULL:
            e.older.newer = e.newer
        else:
            self.oldest = e.newer
        e.newer = e.older = NULL

    cdef void unlink(self, Entry *e) noexcept nogil:
        """Take ``e`` out of its bucket and out of the LRU list (it is not freed)."""
        cdef Entry **slot
        self.lru_unlink(e)
        self.count -= 1
        slot = &self.buckets[e.hash & (self.nbuckets - 1)]
        while slot[0] != NULL:
            if slot[0] == e:
                slot[0] = e.chain
                break
            slot = &slot[0].chain
        e.chain = NULL

    cdef void grow(self) noexcept nogil:
        cdef uint64_t n = self.nbuckets * 2
        cdef Entry **table = <Entry **>calloc(n, sizeof(Entry *))
        cdef Entry *e
        if table == NULL:
            return
        e = self.oldest
        while e != NULL:
            e.chain = table[e.hash & (n - 1)]
            table[e.hash & (n - 1)] = e
            e = e.newer
        free(self.buckets)
        self.buckets = table
        self.nbuckets = n

    # -- the Python side (control and tests) ---------------------------------------------

    def clear(self):
        """Drop every entry; the number dropped. Their keys are remembered by the
        doorkeeper (as every entry a purge drops): asked for again, they are kept again at
        once, as an entry that expired is."""
        cdef Entry *e = self.oldest
        cdef Entry *nxt
        cdef Py_ssize_t n = self.count
        while e != NULL:
            nxt = e.newer
            self.remember(e.hash)
            free(e)
            e = nxt
        self.newest = self.oldest = NULL
        self.count = 0
        if self.buckets != NULL:
            for i in range(self.nbuckets):
                self.buckets[i] = NULL
        return n

    def purge(self, bytes lk=None, bint below=False, tag=None):
        """Drop the entries for the name whose lookup key is ``lk`` (and, with ``below``,
        every name under it), or of zone ``tag`` (and every entry that drew on more than
        one zone); None for both drops everything. The number dropped."""
        cdef Entry *e = self.oldest
        cdef Entry *nxt
        cdef Py_ssize_t n = 0
        cdef const uint8_t *plk
        cdef int plen, elen
        cdef bint drop
        cdef uint32_t t = 0 if tag is None else tag
        if lk is None and tag is None:
            return self.clear()
        plk = <const uint8_t *>lk if lk is not None else NULL
        plen = len(lk) if lk is not None else 0
        while e != NULL:
            nxt = e.newer
            drop = False
            if tag is not None and (e.tag == t or e.multi):
                drop = True
            elif plk != NULL:
                elen = e.key_len - KEY_FIXED
                if below:
                    drop = elen >= plen and memcmp(e.data + KEY_FIXED, plk, plen) == 0
                else:
                    drop = elen == plen and memcmp(e.data + KEY_FIXED, plk, plen) == 0
            if drop:
                self.unlink(e)
                self.remember(e.hash)
                free(e)
                n += 1
            e = nxt
        return n

    def purge_tags(self, tags):
        """Drop the entries of the zones ``tags`` (and every entry that drew on more than
        one zone), in one pass however many zones changed; the number dropped."""
        cdef set wanted = set(tags)
        cdef Entry *e = self.oldest
        cdef Entry *nxt
        cdef Py_ssize_t n = 0
        if not wanted:
            return 0
        while e != NULL:
            nxt = e.newer
            if e.multi or e.tag in wanted:
                self.unlink(e)
                self.remember(e.hash)
                free(e)
                n += 1
            e = nxt
        return n

    def expire(self, uint32_t now):
        """Drop the stale entries; the number dropped."""
        cdef Entry *e = self.oldest
        cdef Entry *nxt
        cdef Py_ssize_t n = 0
        while e != NULL:
            nxt = e.newer
            if now >= e.expires:
                self.unlink(e)
                free(e)
                n += 1
            e = nxt
        return n

    def get_key(self, const uint8_t[:] key not None, uint32_t now):
        """The answer kept for ``key`` (bytes), or None."""
        cdef uint8_t out[65536]
        cdef int n = self.get(&key[0], key.shape[0], key_hash(&key[0], key.shape[0]), now,
                              out)
        return None if n < 0 else PyBytes_FromStringAndSize(<char *>out, n)

    def put_key(self, const uint8_t[:] key not None, const uint8_t[:] answer not None,
                uint32_t now, uint32_t tag=1, bint multi=False):
        """Keep ``answer`` for ``key``, past the doorkeeper."""
        self.put(&key[0], key.shape[0], key_hash(&key[0], key.shape[0]), &answer[0],
                 answer.shape[0], now, tag, multi)

    def offer_key(self, const uint8_t[:] key not None, const uint8_t[:] answer not None,
                  uint32_t now, uint32_t tag=1, bint multi=False):
        """Keep ``answer`` for ``key`` if the doorkeeper admits it, as a computed answer
        is offered; whether it did."""
        return self.offer(&key[0], key.shape[0], key_hash(&key[0], key.shape[0]),
                          &answer[0], answer.shape[0], now, tag, multi)

    def keys(self):
        """Every key, least recently used first (for tests and `purge` reporting)."""
        cdef Entry *e = self.oldest
        out = []
        while e != NULL:
            out.append(PyBytes_FromStringAndSize(<char *>e.data, e.key_len))
            e = e.newer
        return out

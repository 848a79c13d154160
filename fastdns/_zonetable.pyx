# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The zones an engine serves, and which of them answers a name (the longest apex that is
the name or an ancestor of it; the parent side for DS)."""

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp

from fastdns.consts cimport RCODE_SERVFAIL
from fastdns._reader cimport LABELS_MAX
from fastdns._wire import to_lk
from fastdns._answer cimport Answer, ans_used
from fastdns._snapshot cimport Snapshot

cdef extern from *:
    """
    #define FASTDNS_FNV_OFFSET 14695981039346656037ULL
    #define FASTDNS_FNV_PRIME 1099511628211ULL
    """
    const uint64_t FNV_OFFSET "FASTDNS_FNV_OFFSET"
    const uint64_t FNV_PRIME "FASTDNS_FNV_PRIME"


cdef inline uint64_t _nonzero(uint64_t h) noexcept nogil:
    return h if h else 1


cdef uint64_t zone_hash(const uint8_t *lk, int lklen) noexcept nogil:
    """FNV-1a of a lookup key: best_zone hashes every prefix of a query's key in one pass."""
    cdef uint64_t h = FNV_OFFSET
    cdef int i
    for i in range(lklen):
        h = (h ^ lk[i]) * FNV_PRIME
    return _nonzero(h)


cdef class ZoneTable:
    """Apex lookup key -> Snapshot, for the engine's lookups (``set_zones`` replaces them)."""

    def __cinit__(self):
        self._table = <ZoneSlot *>calloc(8, sizeof(ZoneSlot))
        if self._table == NULL:
            raise MemoryError()
        self._table_mask = 7
        self._zones = {}

    def __dealloc__(self):
        free(self._table)

    def __init__(self, zones=(), broken=()):
        self.set_zones(zones, broken)

    def set_zones(self, zones, broken=()):
        """Hold exactly ``zones`` (Snapshots) from now on. ``broken`` names (wire form) the
        zones that are configured but failed to load: best_zone finds them, and the answer
        is SERVFAIL, as PowerDNS answers them, instead of REFUSED."""
        cdef Snapshot snap
        cdef dict table = {}
        cdef int deepest = 0
        cdef int labels
        cdef uint64_t size = 8
        cdef uint64_t h, slot
        cdef ZoneSlot *slots
        cdef bytes key
        for snap in zones:
            if snap.apex_lk in table:
                raise ValueError("two snapshots of one zone")
            table[snap.apex_lk] = snap
        for name in broken:
            table.setdefault(to_lk(name), None)
        while size < 2 * <uint64_t>len(table):
            size *= 2
        slots = <ZoneSlot *>calloc(size, sizeof(ZoneSlot))
        if slots == NULL:
            raise MemoryError()
        for key, value in table.items():
            labels = _count_labels(key)
            if labels > deepest:
                deepest = labels
            h = zone_hash(key, len(key))
            slot = h & (size - 1)
            while slots[slot].hash != 0:
                slot = (slot + 1) & (size - 1)
            slots[slot].hash = h
            slots[slot].lk = key
            slots[slot].lk_len = len(key)
            slots[slot].snap = <PyObject *>value
        # the table points into ``table``'s keys and values: swap both at once
        free(self._table)
        self._table = slots
        self._table_mask = size - 1
        self._zones = table
        self._max_labels = deepest

    @property
    def zones(self):
        """Apex lookup key -> Snapshot (None for a zone that failed to load)."""
        return dict(self._zones)

    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds):
        """The zone with the longest apex that is ``lk`` or an ancestor of it, noted in
        ``a`` as one the answer draws on.

        For DS the parent side answers (RFC 4035 §3.1.4.1): a zone whose apex is the name
        itself is only used when no ancestor zone is served. A zone that failed to load
        matches like any other and makes the answer SERVFAIL (None, a.rcode set).

        The prefixes of ``lk`` that may be an apex are hashed in one pass and looked up in
        the table: no object is made, whatever the name.
        """
        cdef int bounds[LABELS_MAX + 1]
        cdef uint64_t hashes[LABELS_MAX + 1]
        cdef uint64_t h = FNV_OFFSET
        cdef int nb = 1
        cdef int p = 0
        cdef int i, j, end
        cdef PyObject *found
        cdef PyObject *fallback = NULL
        bounds[0] = 0
        hashes[0] = _nonzero(h)
        while p < lklen:
            end = p + lk[p] + 1
            if nb <= self._max_labels:
                for j in range(p, end):
                    h = (h ^ lk[j]) * FNV_PRIME
            p = end
            bounds[nb] = p
            hashes[nb] = _nonzero(h)
            nb += 1
        i = nb - 1 if nb - 1 < self._max_labels else self._max_labels
        while i >= 0:
            found = self.zone_at(lk, bounds[i], hashes[i])
            if found == <PyObject *>None:
                a.rcode = RCODE_SERVFAIL
                return None
            if found != NULL:
                if ds and i == nb - 1 and i > 0:
                    fallback = found
                else:
                    return <Snapshot>ans_used(a, found)
            i -= 1
        if fallback != NULL:
            return <Snapshot>ans_used(a, fallback)
        return None

    cdef PyObject *zone_at(self, const uint8_t *lk, int lklen, uint64_t h) noexcept nogil:
        """The zone whose apex key is ``lk`` (hash ``h``): borrowed, Py_None for a zone
        that failed to load, NULL for none."""
        cdef uint64_t slot = h & self._table_mask
        cdef const ZoneSlot *z
        while True:
            z = &self._table[slot]
            if z.hash == 0:
                return NULL
            if z.hash == h and z.lk_len == lklen and memcmp(z.lk, lk, lklen) == 0:
                return z.snap
            slot = (slot + 1) & self._table_mask


cdef int _count_labels(bytes lk):
    cdef int p = 0
    cdef int n = 0
    while p < len(lk):
        p += lk[p] + 1
        n += 1
    return n

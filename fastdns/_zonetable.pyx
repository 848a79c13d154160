# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The zones an engine serves, and which of them answers a name (the longest apex that is
the name or an ancestor of it; the parent side for DS)."""

from cpython.ref cimport PyObject, Py_XDECREF, Py_INCREF
from libc.stdint cimport uint8_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy, memset

from fastdns.consts cimport RCODE_SERVFAIL
from fastdns._reader cimport LABELS_MAX
from fastdns._wire import to_lk
from fastdns._answer cimport Answer, Result, ans_used
from fastdns._snapshot cimport Snapshot
from fastdns._zoneindex cimport (ZoneIndex, IndexEntry, zone_hash, nonzero_hash, FNV_OFFSET,
                                 FNV_PRIME, Z_LOADED, Z_PENDING)

#: Snapshots a worker keeps made at once (a flood over a million zones makes a new one per
#: query, at the cost of a small object: the image was checked when it was compiled)
SNAPSHOTS_KEPT = 65536
#: the type a query parked for a zone not loaded yet waits for (no record type is 0)
WAIT_ZONE = 0


cdef class ZoneTable:
    """Apex lookup key -> Snapshot, for the engine's lookups (``set_zones`` replaces them)."""

    def __cinit__(self):
        self._table = <ZoneSlot *>calloc(8, sizeof(ZoneSlot))
        if self._table == NULL:
            raise MemoryError()
        self._table_mask = 7
        self._zones = {}
        self._bundles = {}
        self.snapshots_kept = SNAPSHOTS_KEPT

    def __dealloc__(self):
        free(self._table)
        self._drop_snapshots()
        free(self._snaps)

    def set_index(self, ZoneIndex index, dict bundles not None):
        """Serve the zones of ``index`` (None: none), whose images lie in ``bundles``
        (number -> mapping), besides those of ``set_zones``."""
        cdef PyObject **snaps = NULL
        if index is not None:
            snaps = <PyObject **>calloc(index.nentries + 1, sizeof(PyObject *))
            if snaps == NULL:
                raise MemoryError()
        self._drop_snapshots()
        free(self._snaps)
        self._snaps = snaps
        self._index = index
        self._bundles = bundles

    @property
    def index(self):
        return self._index

    cdef void _drop_snapshots(self) noexcept:
        cdef Py_ssize_t i
        if self._snaps != NULL and self._index is not None:
            for i in range(<Py_ssize_t>self._index.nentries):
                Py_XDECREF(self._snaps[i])
                self._snaps[i] = NULL
        self._made = 0

    cdef Snapshot _indexed(self, Answer *a, const IndexEntry *e):
        """The Snapshot of index entry ``e``, made on first use; None (and a.rcode
        SERVFAIL, or a.waiting for a zone not loaded yet) when there is none to serve."""
        cdef Py_ssize_t i = e - &self._index.entries[0]
        cdef Snapshot snap
        cdef int nlen
        cdef const uint8_t *name
        if e.state != Z_LOADED:
            if e.state == Z_PENDING:
                name = self._index.entry_name(e, &nlen)
                a.waiting = True
                a.res.wait_type = WAIT_ZONE
                a.res.wait_name_len = nlen
                memcpy(a.res.wait_name, name, nlen)
            else:
                a.rcode = RCODE_SERVFAIL
            return None
        if self._snaps[i] != NULL:
            return <Snapshot>ans_used(a, self._snaps[i])
        if self._made >= self.snapshots_kept and a.zone == NULL:
            self._drop_snapshots()       # (no answer holds one: this one has drawn on none)
        bundle = self._bundles.get(e.bundle)
        try:
            if bundle is None or e.offset + e.size > <uint64_t>len(bundle):
                raise ValueError("image outside its bundle")
            snap = Snapshot(memoryview(bundle)[e.offset:e.offset + e.size], e.generation,
                            True)
        except ValueError:
            a.rcode = RCODE_SERVFAIL      # cannot happen: the manager checked it
            return None
        snap.tag = e.zone_id
        Py_INCREF(snap)
        self._snaps[i] = <PyObject *>snap
        self._made += 1
        return <Snapshot>ans_used(a, <PyObject *>snap)

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
        cdef ZoneIndex indexed = self._index
        cdef const IndexEntry *e
        cdef const IndexEntry *ds_entry = NULL
        cdef int deepest = self._max_labels
        if indexed is not None and <int>indexed.max_labels > deepest:
            deepest = indexed.max_labels
        bounds[0] = 0
        hashes[0] = nonzero_hash(h)
        while p < lklen:
            end = p + lk[p] + 1
            if nb <= deepest:
                for j in range(p, end):
                    h = (h ^ lk[j]) * FNV_PRIME
            p = end
            bounds[nb] = p
            hashes[nb] = nonzero_hash(h)
            nb += 1
        i = nb - 1 if nb - 1 < deepest else deepest
        while i >= 0:
            if indexed is not None:
                e = indexed.find(lk, bounds[i], hashes[i])
                if e != NULL:
                    if not (ds and i == nb - 1 and i > 0):
                        return self._indexed(a, e)
                    ds_entry = e
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
        if ds_entry != NULL:
            return self._indexed(a, ds_entry)
        return None

    def snapshot(self, bytes lk not None):
        """The Snapshot of the zone whose apex has lookup key ``lk``, or None (not served,
        not loaded, broken)."""
        cdef Answer a
        cdef Result res
        memset(&a, 0, sizeof(Answer))
        memset(&res, 0, sizeof(Result))
        a.res = &res
        snap = self.best_zone(&a, lk, len(lk), False)
        if snap is None or (<Snapshot>snap).apex_lk != lk:
            return None
        return snap

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

# fastdns._zonetable: the zones an engine serves, by apex (L2): which zone answers a name.
#
# Two sources, looked up alike: the zones a caller hands over as Snapshots (tests, tools:
# an open-addressing table keyed by the FNV-1a hash of each apex's lookup key, beside the
# dict that owns the keys and snapshots), and a worker's zone index in shared memory
# (fastdns._zoneindex), whose Snapshots are made when a zone is first asked for and kept
# while the index is current, up to SNAPSHOTS_KEPT of them.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint64_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot
from fastdns._zoneindex cimport ZoneIndex, IndexEntry, zone_hash

ctypedef struct ZoneSlot:
    uint64_t hash             # zone_hash of the apex lookup key (0: an empty slot)
    const uint8_t *lk         # the apex lookup key (the dict key's buffer)
    int lk_len
    PyObject *snap            # borrowed from ZoneTable._zones; Py_None: a zone that failed

cdef class ZoneTable:
    cdef dict _zones          # apex lookup key -> Snapshot (None: failed to load); owns
                              # the keys and snapshots _table points at
    cdef ZoneSlot *_table     # the same, open addressing, so a lookup makes no object
    cdef uint64_t _table_mask
    cdef int _max_labels      # labels of the deepest apex
    cdef ZoneIndex _index     # the worker's zone index (None: only _zones)
    cdef dict _bundles        # bundle number -> its mapping (the index's images)
    cdef PyObject **_snaps    # per index entry: its Snapshot once made (owned), or NULL
    cdef Py_ssize_t _made     # how many _snaps are set
    cdef public Py_ssize_t snapshots_kept

    cdef Snapshot _indexed(self, Answer *a, const IndexEntry *e)
    cdef void _drop_snapshots(self) noexcept

    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds)
    cdef PyObject *zone_at(self, const uint8_t *lk, int lklen, uint64_t h) noexcept nogil

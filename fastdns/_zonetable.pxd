# fastdns._zonetable: the zones an engine serves, by apex (L2): which zone answers a name.
#
# An open-addressing table keyed by the FNV-1a hash of each apex's lookup key, so that
# best_zone makes no Python object whatever the name; the dict beside it owns the keys and
# snapshots the table points at.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint64_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot

ctypedef struct ZoneSlot:
    uint64_t hash             # zone_hash of the apex lookup key (0: an empty slot)
    const uint8_t *lk         # the apex lookup key (the dict key's buffer)
    int lk_len
    PyObject *snap            # borrowed from ZoneTable._zones; Py_None: a zone that failed

cdef uint64_t zone_hash(const uint8_t *lk, int lklen) noexcept nogil

cdef class ZoneTable:
    cdef dict _zones          # apex lookup key -> Snapshot (None: failed to load); owns
                              # the keys and snapshots _table points at
    cdef ZoneSlot *_table     # the same, open addressing, so a lookup makes no object
    cdef uint64_t _table_mask
    cdef int _max_labels      # labels of the deepest apex

    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds)
    cdef PyObject *zone_at(self, const uint8_t *lk, int lklen, uint64_t h) noexcept nogil

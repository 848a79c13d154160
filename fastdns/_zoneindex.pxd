# fastdns._zoneindex: which zones are served and where each one's image lies (L1).
#
# The zone index is one flat binary in shared memory (a sealed memfd) that the manager
# writes and every worker and the master map: a million zones cost each worker a mapping,
# not a million Python objects (DESIGN §4). It is immutable once published; a change
# publishes a new one. Integers are in the host's byte order.
#
#     header   IndexHeader
#     slots    nslots x IndexSlot: open addressing on zone_hash(apex lookup key), linear
#              probing; a slot's ``entry`` is 1 + the entry's number (0: empty)
#     entries  nentries x IndexEntry, dense (list-zones walks them)
#     names    per entry: [u8 key length][apex lookup key][apex in wire form]
#
# An entry is a zone in one of three states: LOADED (its image is at ``offset``/``size`` in
# bundle ``bundle``), PENDING (listed by its backend, not compiled yet: a query for it waits
# while the worker asks the manager for it) or BROKEN (configured, but it failed to load
# and has no version to serve: SERVFAIL, as PowerDNS answers it).

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    INDEX_VERSION = 1
    # entry states
    Z_LOADED = 1
    Z_PENDING = 2
    Z_BROKEN = 3
    # header flags
    INDEX_COMPLETE = 0x1     # no zone is pending: every zone is in


ctypedef struct IndexHeader:
    char magic[8]            # "FDZINDX1"
    uint32_t version
    uint32_t flags
    uint64_t nslots          # a power of two
    uint64_t nentries
    uint64_t npending
    uint64_t nbroken
    uint64_t slots_off
    uint64_t entries_off
    uint64_t names_off
    uint64_t size
    uint32_t max_labels      # labels of the deepest apex
    uint32_t epoch           # the manager's life: zone ids are its own (packet-cache tags)

ctypedef struct IndexSlot:
    uint32_t check           # the hash's high half, or 1 where that is 0
    uint32_t entry           # 1 + entry number; 0: an empty slot

ctypedef struct IndexEntry:
    uint64_t hash            # zone_hash of the apex lookup key
    uint64_t offset          # the image, within its bundle
    uint64_t size
    uint64_t generation
    uint64_t token           # digest of the backend's change token (the persisted cache)
    uint32_t bundle          # bundle number (0: no image)
    uint32_t name_off        # in names
    uint32_t zone_id         # the zone's number for this manager's life (never 0)
    uint8_t state
    uint8_t kind             # KINDS' index
    uint16_t backend         # the launch= backend it comes from


cdef extern from *:
    """
    #define FASTDNS_FNV_OFFSET 14695981039346656037ULL
    #define FASTDNS_FNV_PRIME 1099511628211ULL
    """
    const uint64_t FNV_OFFSET "FASTDNS_FNV_OFFSET"
    const uint64_t FNV_PRIME "FASTDNS_FNV_PRIME"


cdef inline uint64_t nonzero_hash(uint64_t h) noexcept nogil:
    return h if h else 1


cdef inline uint64_t zone_hash(const uint8_t *lk, int lklen) noexcept nogil:
    """FNV-1a of a lookup key: best_zone hashes every prefix of a query's key in one pass."""
    cdef uint64_t h = FNV_OFFSET
    cdef int i
    for i in range(lklen):
        h = (h ^ lk[i]) * FNV_PRIME
    return nonzero_hash(h)


cdef inline uint32_t slot_check(uint64_t h) noexcept nogil:
    cdef uint32_t c = <uint32_t>(h >> 32)
    return c if c else 1


cdef class IndexBuilder:
    cdef IndexEntry *entries
    cdef uint64_t nentries
    cdef uint64_t cap
    cdef IndexSlot *slots
    cdef uint64_t nslots
    cdef uint8_t *names
    cdef uint64_t names_len
    cdef uint64_t names_cap
    cdef uint32_t next_id
    cdef readonly uint32_t epoch
    cdef uint64_t dead_names     # octets of names of removed entries

    cdef int64_t _find(self, const uint8_t *lk, int lklen, uint64_t h,
                       uint64_t *slot_out) noexcept nogil
    cdef int _grow_slots(self) except -1
    cdef int _room(self, uint64_t names) except -1
    cdef IndexEntry *_entry_for(self, const uint8_t *wire, int nlen) except NULL
    cdef int _compact_names(self) except -1


cdef class ZoneIndex:
    cdef object _buffer
    cdef Py_buffer _view
    cdef bint _has_view
    cdef const uint8_t *base
    cdef const IndexHeader *hdr
    cdef const IndexSlot *slots
    cdef const IndexEntry *entries
    cdef const uint8_t *names
    cdef uint64_t names_size
    cdef readonly uint64_t nentries
    cdef readonly uint32_t max_labels

    cdef _validate(self, Py_ssize_t size)
    cdef dict _entry(self, const IndexEntry *e)
    cdef const IndexEntry *find(self, const uint8_t *lk, int lklen,
                                uint64_t h) noexcept nogil
    cdef const uint8_t *entry_lk(self, const IndexEntry *e, int *lklen) noexcept nogil
    cdef const uint8_t *entry_name(self, const IndexEntry *e, int *nlen) noexcept nogil

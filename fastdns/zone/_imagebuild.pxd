# fastdns.zone._imagebuild: the C API of the record store that zone images are built from.
#
# A reader appends records to a RecordStore (owner names and rdata in wire form, in flat
# arenas: no Python object per record); prepare() orders and groups them and pack() writes
# the image (its layout: fastdns/_snapshot.pxd).

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from fastdns._snapshot cimport ImageHeader

ctypedef struct Rec:
    uint32_t owner        # owner entry (see RecordStore.owners)
    uint16_t rdtype
    uint16_t rdlen
    uint32_t ttl
    uint32_t rdata        # offset in the rdata arena
    uint32_t line         # where the record starts: files[file], line
    uint16_t file
    uint8_t dropped       # one of several where a name may hold only one (check.SINGLETONS)

ctypedef struct Node:
    uint32_t owner        # owner entry holding the key (an ENT: a descendant's, cut short)
    uint16_t lklen
    uint16_t flags
    uint32_t parent
    uint32_t above
    uint32_t wild
    uint32_t rec_start    # the node's records: perm[rec_start:rec_start + rec_count]
    uint32_t rec_count
    uint16_t rrset_count
    uint8_t below_cut
    uint8_t suspect       # might break a rule of check.py: handed to check_zone


cdef class RecordStore:
    # records, in the order they were read
    cdef Rec *recs
    cdef size_t nrec, caprec
    # rdata of every record, uncompressed wire form
    cdef uint8_t *rdata
    cdef size_t rdata_len, rdata_cap
    # owner entries: [u8 key length n][key: n octets][owner name: n + 1 octets, case kept];
    # a new entry starts whenever the owner differs from the previous record's
    cdef uint8_t *owners
    cdef size_t owners_len, owners_cap
    cdef uint32_t *owner_off
    cdef size_t nown, capown
    cdef uint8_t origin_lk[256]
    cdef int origin_lklen
    cdef bint autohints             # svc-autohints: fill "auto" SVCB hints (else drop them)
    cdef readonly list files        # where records come from, as their ``file`` numbers index
                                    # them: "name.zone:" (then a line) or "records.id=" (an id)
    # prepare()
    cdef Node *nodes
    cdef size_t nnodes, capnodes
    cdef uint64_t *node_prefix
    cdef uint32_t *perm
    cdef size_t nrrsets, names_size, rdata_size, extra_bound
    cdef bint prepared

    cdef int set_owner(self, const uint8_t *wire, int wlen, const uint8_t *lk) except -1
    cdef bint same_owner(self, const uint8_t *wire, int wlen) noexcept nogil
    cdef uint8_t *room(self, size_t n) except NULL
    cdef int add_rec(self, uint16_t rdtype, uint32_t ttl, size_t rdlen, uint32_t file,
                     uint32_t line) except -1

    # prepare() and pack()
    cdef const uint8_t *node_lk(self, uint32_t i) noexcept nogil
    cdef int _new_node(self, uint32_t owner, int lklen, uint32_t parent) except -1
    cdef uint32_t *_make_nodes(self) except NULL
    cdef int _bucket_records(self, uint32_t *own_node) except -1
    cdef int _autohints(self) except -1
    cdef int _hinted(self, uint32_t r, size_t node) except -1
    cdef int _link(self, const uint8_t *first, const uint8_t *neighbour) except -1
    cdef uint16_t _scan_types(self, size_t i, const uint8_t *first,
                              const uint8_t *neighbour) noexcept
    cdef list _suspects(self)
    cdef int64_t find(self, const uint8_t *name, int nlen) noexcept
    cdef int _targets(self, uint32_t *extra, size_t *nextra, uint32_t *marks,
                      size_t *nmarks) except -1
    cdef size_t _service_targets(self, size_t node, uint16_t t, const uint32_t *perm,
                                 size_t j, size_t k, uint32_t *out) noexcept
    cdef int64_t _svcb_target(self, uint32_t r, size_t node) noexcept
    cdef object _write(self, const uint32_t *extra, size_t nextra, const uint32_t *marks,
                       size_t nmarks)
    cdef void _write_sections(self, ImageHeader *h, uint8_t *base, const uint32_t *marks,
                              size_t nmarks) noexcept

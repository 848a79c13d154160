# fastdns.zone._store: the records of one zone in flat arenas, and the tree of nodes that
# the image builder makes of them (see the .pyx docstring). The parts of the builder
# (_imagetree, _imagetargets, _autohints, _imagewrite) work on a Store; the RecordStore
# of fastdns.zone._imagebuild holds one.

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp

cdef enum:
    NO_NODE = 0xFFFFFFFF

ctypedef struct Rec:
    uint32_t owner        # owner entry (see Store.owners)
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

ctypedef struct Store:
    # records, in the order they were read
    Rec *recs
    size_t nrec, caprec
    # rdata of every record, uncompressed wire form
    uint8_t *rdata
    size_t rdata_len, rdata_cap
    # owner entries: [u8 key length n][key: n octets][owner name: n + 1 octets, case kept];
    # a new entry starts whenever the owner differs from the previous record's
    uint8_t *owners
    size_t owners_len, owners_cap
    uint32_t *owner_off
    size_t nown, capown
    uint8_t origin_lk[256]
    int origin_lklen
    # the tree (fastdns.zone._imagetree): nodes in canonical order, their order prefixes,
    # and the records grouped by node (perm); the sizes the image will have
    Node *nodes
    size_t nnodes, capnodes
    uint64_t *node_prefix
    uint32_t *perm
    size_t nrrsets, names_size, rdata_size, extra_bound


cdef inline const uint8_t *node_lk(const Store *s, uint32_t i) noexcept nogil:
    return s.owners + s.owner_off[s.nodes[i].owner] + 1


cdef inline bint same_rdata(const Rec *recs, const uint8_t *rdata, uint32_t a,
                            uint32_t b) noexcept nogil:
    return recs[a].rdlen == recs[b].rdlen and \
        memcmp(rdata + recs[a].rdata, rdata + recs[b].rdata, recs[a].rdlen) == 0


cdef inline int rec_cmp(const Rec *recs, const uint8_t *rdata, uint32_t a,
                        uint32_t b) noexcept nogil:
    """(type, rdata as bytes, position): the order an RRset's rdata are written in."""
    cdef const Rec *ra = &recs[a]
    cdef const Rec *rb = &recs[b]
    cdef int c
    if ra.rdtype != rb.rdtype:
        return <int>ra.rdtype - <int>rb.rdtype
    c = memcmp(rdata + ra.rdata, rdata + rb.rdata, ra.rdlen if ra.rdlen < rb.rdlen else rb.rdlen)
    if c:
        return c
    if ra.rdlen != rb.rdlen:
        return <int>ra.rdlen - <int>rb.rdlen
    return (a > b) - (a < b)


# The realloc of grow() (capacity ``cap`` grown by half until ``need`` items fit).
cdef void *grow_to(void *p, size_t *cap, size_t need, size_t item) except NULL
cdef void store_free(Store *s) noexcept


cdef inline void *grow(void *p, size_t *cap, size_t need, size_t item) except NULL:
    """``p`` with room for ``need`` items of ``item`` octets (capacity in ``cap``)."""
    if need <= cap[0]:
        return p
    return grow_to(p, cap, need, item)


cdef inline uint8_t *store_room(Store *s, size_t n) except NULL:
    """Where the next rdata (up to ``n`` octets) is to be written, at ``s.rdata_len``."""
    s.rdata = <uint8_t *>grow(s.rdata, &s.rdata_cap, s.rdata_len + n, 1)
    return s.rdata + s.rdata_len


# The first 8 octets of the order string of a key from octet ``skip`` on.
cdef uint64_t order_prefix(const uint8_t *lk, int n, int skip) noexcept nogil
# The node whose owner is the wire name ``name`` (``nlen`` octets at most), or -1.
cdef int64_t store_find(const Store *s, const uint8_t *name, int nlen) noexcept nogil
# The node an SVCB/HTTPS record's TargetName names (its owner's for "."), or -1.
cdef int64_t svcb_target(const Store *s, uint32_t r, size_t node) noexcept nogil
# Order a node's records (perm[start:start + count]) by type, rdata and position.
cdef void sort_node(const Store *s, size_t start, size_t count) noexcept nogil

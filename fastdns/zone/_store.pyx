# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The records of one zone in flat arenas, and the tree of nodes made of them.

A reader appends records to a Store (through fastdns.zone._imagebuild.RecordStore): owner
names and rdata in wire form, in arenas that grow, no Python object per record. The
builder's parts then work on it: fastdns.zone._imagetree orders the owners into nodes and
groups the records, _autohints fills in SVCB hints, _imagetargets finds the targets of
additional-section processing, _imagewrite writes the image (fastdns/_snapshot.pxd). What
more than one of them needs is here: the canonical order of keys, the lookup of a name's
node, the order of a node's records.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memcmp

from fastdns._names cimport lk_cmp, name_to_lk

cdef extern from "stdlib.h" nogil:
    void qsort_r(void *base, size_t nmemb, size_t size,
                 int (*compar)(const void *, const void *, void *) noexcept nogil, void *arg)

ctypedef struct RecCtx:
    const Rec *recs
    const uint8_t *rdata


cdef void *grow_to(void *p, size_t *cap, size_t need, size_t item) except NULL:
    cdef size_t n = cap[0]
    if n < 1024:
        n = 1024
    while n < need:
        n += n >> 1
    cdef void *q = realloc(p, n * item)
    if q == NULL:
        raise MemoryError()
    cap[0] = n
    return q


cdef void store_free(Store *s) noexcept:
    free(s.recs)
    free(s.rdata)
    free(s.owners)
    free(s.owner_off)
    free(s.nodes)
    free(s.node_prefix)
    free(s.perm)


# ---------------------------------------------------------------------------------------
# order

cdef uint64_t order_prefix(const uint8_t *lk, int n, int skip) noexcept nogil:
    """The first 8 octets of the key's order string from octet ``skip`` on, big-endian.

    The order string joins labels with 0x00 and escapes 0x00/0x01 as 0x01 0x01/0x01 0x02
    (as _wire.sort_key), so comparing it as bytes is the canonical order; a shorter string
    pads with zeros, which sorts first, as a prefix should.
    """
    cdef uint64_t v = 0
    cdef int k = 0
    cdef int p = skip
    cdef int l, j
    cdef uint8_t c
    while p < n and k < 8:
        if p != skip:
            v = v << 8
            k += 1
        l = lk[p]
        j = 1
        while j <= l and k < 8:
            c = lk[p + j]
            if c <= 1:
                v = (v << 8) | 1
                k += 1
                if k < 8:
                    v = (v << 8) | (c + 1)
                    k += 1
            else:
                v = (v << 8) | c
                k += 1
            j += 1
        p += l + 1
    while k < 8:
        v = v << 8
        k += 1
    return v


cdef int64_t store_find(const Store *s, const uint8_t *name, int nlen) noexcept nogil:
    """Node whose owner is the wire name ``name`` (``nlen`` octets at most), or -1."""
    cdef uint8_t lk[256]
    cdef int p = 0
    cdef int n, c
    cdef uint64_t prefix
    cdef size_t lo = 0
    cdef size_t hi = s.nnodes
    cdef size_t mid
    while p < nlen and name[p] != 0 and name[p] < 64:
        p += name[p] + 1
    if p >= nlen or name[p] != 0 or p > 254:
        return -1
    n = name_to_lk(name, p + 1, lk)
    if n < s.origin_lklen or memcmp(lk, s.origin_lk, s.origin_lklen) != 0:
        return -1
    prefix = order_prefix(lk, n, s.origin_lklen)
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.node_prefix[mid] != prefix:
            c = -1 if s.node_prefix[mid] < prefix else 1
        else:
            c = lk_cmp(node_lk(s, mid), s.nodes[mid].lklen, lk, n)
        if c == 0:
            return mid
        if c < 0:
            lo = mid + 1
        else:
            hi = mid
    return -1


cdef int64_t svcb_target(const Store *s, uint32_t r, size_t node) noexcept nogil:
    """The node an SVCB/HTTPS record's TargetName names (its owner's for "."), or -1
    (outside the zone, not held, or malformed rdata)."""
    cdef const Rec *rec = &s.recs[r]
    if rec.rdlen < 3:
        return -1
    if s.rdata[rec.rdata + 2] == 0:
        return node
    return store_find(s, s.rdata + rec.rdata + 2, rec.rdlen - 2)


cdef int rec_cmp_r(const void *a, const void *b, void *ctx) noexcept nogil:
    cdef const RecCtx *c = <const RecCtx *>ctx
    return rec_cmp(c.recs, c.rdata, (<const uint32_t *>a)[0], (<const uint32_t *>b)[0])


cdef void sort_node(const Store *s, size_t start, size_t count) noexcept nogil:
    cdef RecCtx ctx
    ctx.recs = s.recs
    ctx.rdata = s.rdata
    qsort_r(s.perm + start, count, 4, rec_cmp_r, &ctx)

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The targets of additional-section processing, found once per zone version.

For NS, MX and SRV RRsets, the in-zone names of their rdata that have an address, in the
order their rdata first appear in the file; for SVCB and HTTPS, as PowerDNS's
doAdditionalProcessing finds them: a ServiceMode record's TargetName, and an AliasMode
record's chain followed through the zone (up to SVC_CHASE lookups), the RRsets met on the
way going into the section too (EXTRA_RRSET). The image keeps them per RRset
(fastdns.zone._imagewrite); the engine adds their addresses to answers.
"""

from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

from fastdns._snapshot cimport EXTRA_RRSET, N_ADDRESS
from fastdns.consts cimport TYPE_HTTPS, TYPE_MX, TYPE_NS, TYPE_SRV, TYPE_SVCB
from fastdns.zone._store cimport Node, Rec, Store, same_rdata, store_find, svcb_target
from fastdns._gil cimport YIELD_EVERY, let_others_run

cdef extern from "stdlib.h" nogil:
    void qsort_r(void *base, size_t nmemb, size_t size,
                 int (*compar)(const void *, const void *, void *) noexcept nogil, void *arg)


cdef int find_targets(const Store *s, uint32_t *extra, size_t *nextra, uint32_t *marks,
                      size_t *nmarks) except -1:
    """Additional-section targets of NS, MX, SRV, SVCB and HTTPS RRsets: the in-zone
    names with an address, in the order their rdata first appear in the file (for
    SVCB and HTTPS, as service_targets finds them). ``marks`` gets (RRset number,
    extra offset) pairs, in RRset order."""
    cdef size_t i, j, k, n, count, rrset = 0
    cdef size_t most = 1
    cdef Node *nd
    cdef const uint32_t *perm
    cdef const Rec *r
    cdef uint16_t t
    cdef int start
    cdef int64_t found
    cdef uint64_t *hits
    for i in range(s.nnodes):
        if s.nodes[i].rec_count > most:
            most = s.nodes[i].rec_count
    hits = <uint64_t *>malloc(most * 8)
    if hits == NULL:
        raise MemoryError()
    for i in range(s.nnodes):
        if i % (4 * YIELD_EVERY) == 4 * YIELD_EVERY - 1:
            let_others_run()
        nd = &s.nodes[i]
        perm = s.perm + nd.rec_start
        j = 0
        while j < nd.rec_count:
            t = s.recs[perm[j]].rdtype
            start = 0 if t == TYPE_NS else 2 if t == TYPE_MX else 6 if t == TYPE_SRV else -1
            n = 0
            k = j
            while k < nd.rec_count and s.recs[perm[k]].rdtype == t:
                r = &s.recs[perm[k]]
                # the first of equal rdata is the first in the file (perm's order)
                if start >= 0 and r.rdlen > start and not r.dropped and (k == j or not
                        same_rdata(s.recs, s.rdata, perm[k], perm[k - 1])):
                    found = store_find(s, s.rdata + r.rdata + start, r.rdlen - start)
                    if found >= 0 and s.nodes[found].flags & N_ADDRESS:
                        hits[n] = (<uint64_t>perm[k] << 32) | <uint64_t>found
                        n += 1
                k += 1
            count = 0
            if n:
                count = _file_order(hits, n, extra + nextra[0] + 1)
            elif t == TYPE_SVCB or t == TYPE_HTTPS:
                count = service_targets(s, i, t, perm, j, k, extra + nextra[0] + 1)
            j = k
            if count:
                extra[nextra[0]] = count
                marks[nmarks[0]] = rrset
                marks[nmarks[0] + 1] = nextra[0]
                nmarks[0] += 2
                nextra[0] += 1 + count
            rrset += 1
    free(hits)
    return 0


cdef size_t service_targets(const Store *s, size_t node, uint16_t t, const uint32_t *perm,
                            size_t j, size_t k, uint32_t *out) noexcept nogil:
    """The additional-section targets of the SVCB or HTTPS RRset perm[j:k] of
    ``node``, as PowerDNS's doAdditionalProcessing finds them: ServiceMode records give
    their TargetName (the owner for "."); an AliasMode record is followed through the
    records of the same type at its target, up to five lookups in the zone, each
    RRset met on the way going into the section (EXTRA_RRSET), and the name the chain
    ends at gives the addresses. Chained RRsets come first, then the addresses."""
    cdef uint32_t chase[SVC_CHASE * 2]
    cdef uint32_t names[256]
    cdef size_t nchase = 0, nnames = 0, m, x, y, count = 0
    cdef int64_t at, here
    cdef int lookups
    cdef bint more
    cdef const Rec *rec
    cdef const Node *nd
    cdef const uint32_t *p
    for m in range(j, k):
        rec = &s.recs[perm[m]]
        if rec.dropped or rec.rdlen < 3:
            continue
        at = svcb_target(s, perm[m], node)
        if s.rdata[rec.rdata] == 0 and s.rdata[rec.rdata + 1] == 0:   # AliasMode
            lookups = SVC_CHASE
            more = True
            here = at
            while more and lookups > 0 and at >= 0:
                more = False
                lookups -= 1
                nd = &s.nodes[at]
                p = s.perm + nd.rec_start
                here = at
                for x in range(nd.rec_count):
                    rec = &s.recs[p[x]]
                    if rec.rdtype != t or rec.dropped:
                        continue
                    if not (at == <int64_t>node or _listed(chase, nchase, at)) \
                            and nchase < SVC_CHASE * 2:
                        chase[nchase] = at
                        nchase += 1
                    if rec.rdlen >= 3 and s.rdata[rec.rdata] == 0 \
                            and s.rdata[rec.rdata + 1] == 0:
                        more = True
                    if rec.rdlen >= 3 and s.rdata[rec.rdata + 2] != 0:
                        here = store_find(s, s.rdata + rec.rdata + 2, rec.rdlen - 2)
                at = here
        if at >= 0 and s.nodes[at].flags & N_ADDRESS and nnames < 256 \
                and not _listed(names, nnames, at):
            names[nnames] = at
            nnames += 1
    for x in range(nchase):
        out[count] = chase[x] | EXTRA_RRSET
        count += 1
    for y in range(nnames):
        out[count] = names[y]
        count += 1
    return count


cdef int _u64_cmp(const void *a, const void *b, void *ctx) noexcept nogil:
    cdef uint64_t x = (<const uint64_t *>a)[0]
    cdef uint64_t y = (<const uint64_t *>b)[0]
    return (x > y) - (x < y)


cdef size_t _file_order(uint64_t *hits, size_t n, uint32_t *out) noexcept nogil:
    """The nodes of ``hits`` ((record number << 32) | node), by record number, each once."""
    cdef size_t i, count = 0
    cdef uint32_t node
    qsort_r(hits, n, 8, _u64_cmp, NULL)
    for i in range(n):
        node = <uint32_t>(hits[i] & 0xFFFFFFFFU)
        if not _listed(out, count, node):
            out[count] = node
            count += 1
    return count


cdef inline bint _listed(const uint32_t *items, size_t n, uint32_t x) noexcept nogil:
    cdef size_t i
    for i in range(n):
        if items[i] == x:
            return True
    return False

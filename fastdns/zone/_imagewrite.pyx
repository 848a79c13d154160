# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A prepared Store written as one zone image (fastdns/_snapshot.pxd has its layout).

The sections, in order: the header; a NodeRec per node in canonical order (its lookup key
and its name, as the zone file first spelled it, in the names section); an RRsetRec per
RRset (its lowest TTL, its distinct rdata in order, each with a 16-bit length, in the
rdata section; its additional-section targets in the extra section). The header also
says where the apex's SOA is, the serial and the negative TTL (RFC 2308 §5: the lower of
the SOA's TTL and minimum).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport UINT32_MAX, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memset

from fastdns._snapshot cimport IMAGE_VERSION, ImageHeader, NodeRec, RRsetRec, image_magic
from fastdns.consts cimport TYPE_SOA
from fastdns._names cimport lk_to_name
from fastdns.zone._store cimport Node, Rec, Store, node_lk, same_rdata


cdef object write_image(const Store *s, const uint32_t *extra, size_t nextra,
                        const uint32_t *marks, size_t nmarks):
    cdef size_t nodes_off = _align(sizeof(ImageHeader), 8)
    cdef size_t rrsets_off = _align(nodes_off + s.nnodes * sizeof(NodeRec), 8)
    cdef size_t names_off = rrsets_off + s.nrrsets * sizeof(RRsetRec)
    cdef size_t rdata_off = names_off + s.names_size
    cdef size_t extra_off = _align(rdata_off + s.rdata_size, 4)
    cdef size_t size = extra_off + 4 * nextra
    if rdata_off - names_off > UINT32_MAX or extra_off - rdata_off > UINT32_MAX:
        raise ValueError("zone too large for an image")
    out = PyBytes_FromStringAndSize(NULL, size)
    cdef uint8_t *base = <uint8_t *>PyBytes_AS_STRING(out)
    cdef ImageHeader *h = <ImageHeader *>base
    memset(base, 0, nodes_off)
    memset(base + rdata_off + s.rdata_size, 0, extra_off - rdata_off - s.rdata_size)
    memcpy(base + extra_off, extra, 4 * nextra)
    memcpy(h.magic, image_magic(), 8)
    h.version = IMAGE_VERSION
    h.node_count = s.nnodes
    h.rrset_count = s.nrrsets
    h.nodes_off = nodes_off
    h.rrsets_off = rrsets_off
    h.names_off = names_off
    h.rdata_off = rdata_off
    h.extra_off = extra_off
    h.size = size
    with nogil:                      # other threads run while the image is written
        write_sections(s, h, base, marks, nmarks)
    return out


cdef void write_sections(const Store *s, ImageHeader *h, uint8_t *base,
                         const uint32_t *marks, size_t nmarks) noexcept nogil:
    cdef NodeRec *node_recs = <NodeRec *>(base + h.nodes_off)
    cdef RRsetRec *rrset_recs = <RRsetRec *>(base + h.rrsets_off)
    cdef uint8_t *names = base + h.names_off
    cdef uint8_t *rdata = base + h.rdata_off
    cdef size_t names_len = 0, rdata_len = 0, rrset = 0, mark = 0
    cdef size_t i, j, k
    cdef Node *nd
    cdef NodeRec *nr
    cdef RRsetRec *rr
    cdef const uint32_t *perm
    cdef const Rec *r
    cdef const Rec *soa
    cdef uint16_t t, rdlen
    cdef uint32_t minimum
    cdef const uint8_t *lk
    h.soa_rrset = 0xFFFFFFFF
    for i in range(s.nnodes):
        nd = &s.nodes[i]
        nr = &node_recs[i]
        lk = node_lk(s, i)
        nr.lk_off = names_len
        names[names_len] = nd.lklen
        memcpy(names + names_len + 1, lk, nd.lklen)
        names_len += 1 + nd.lklen
        nr.name_off = names_len
        if nd.rec_count:
            # the spelling of the zone file's first record at this name
            memcpy(names + names_len, lk + nd.lklen, nd.lklen + 1)
        else:
            lk_to_name(lk, nd.lklen, names + names_len)
        names_len += nd.lklen + 1
        nr.rrset_start = rrset
        nr.rrset_count = nd.rrset_count
        nr.flags = nd.flags
        nr.above = nd.above
        nr.wild = nd.wild
        perm = s.perm + nd.rec_start
        j = 0
        while j < nd.rec_count:
            r = &s.recs[perm[j]]
            t = r.rdtype
            rr = &rrset_recs[rrset]
            rr.rdtype = t
            rr.count = 0
            rr.ttl = 0xFFFFFFFFU
            rr.rdata_off = rdata_len
            rr.extra_off = 0
            if mark < nmarks and marks[mark] == rrset:
                rr.extra_off = marks[mark + 1]
                mark += 2
            k = j
            soa = NULL
            while k < nd.rec_count and s.recs[perm[k]].rdtype == t:
                r = &s.recs[perm[k]]
                k += 1
                if r.dropped:
                    continue
                if r.ttl < rr.ttl:
                    rr.ttl = r.ttl
                if k - 1 == j or not same_rdata(s.recs, s.rdata, perm[k - 1],
                                                perm[k - 2]):
                    rdlen = r.rdlen
                    memcpy(rdata + rdata_len, &rdlen, 2)
                    memcpy(rdata + rdata_len + 2, s.rdata + r.rdata, rdlen)
                    rdata_len += 2 + rdlen
                    rr.count += 1
                    soa = r
            if t == TYPE_SOA and i == 0:
                r = soa
                h.soa_rrset = rrset
                h.serial = _be32(s.rdata + r.rdata + r.rdlen - 20)
                minimum = _be32(s.rdata + r.rdata + r.rdlen - 4)
                h.neg_ttl = rr.ttl if rr.ttl < minimum else minimum
            j = k
            rrset += 1


cdef inline size_t _align(size_t n, size_t to) noexcept nogil:
    return (n + to - 1) // to * to


cdef inline uint32_t _be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]

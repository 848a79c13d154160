# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""SVCB and HTTPS hints filled in from the zone: PowerDNS's svc-autohints.

The reader of record data keeps ``ipv4hint=auto`` and ``ipv6hint=auto`` as the key with an
empty value (fastdns.zone._rdsvcb), which RFC 9460 forbids on the wire. Here each such hint
gets the addresses of the record's target in the zone (with svc-autohints on and the
target in the zone and holding addresses), or goes; once per zone version, instead of per
answer as PowerDNS does.
"""

from libc.stdint cimport UINT32_MAX, int64_t, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy

from fastdns.consts cimport TYPE_A, TYPE_AAAA, TYPE_HTTPS, TYPE_SVCB
from fastdns.zone._rdsvcb cimport SVC_IPV4HINT, SVC_IPV6HINT
from fastdns.zone._store cimport Node, Rec, Store, sort_node, store_room, svcb_target


cdef int svc_autohints(Store *s, bint fill) except -1:
    """Fill in or drop the empty ipv4hint/ipv6hint (``auto``) of SVCB and HTTPS records;
    each node whose records changed is sorted again."""
    cdef size_t i, j
    cdef Node *nd
    cdef uint32_t r
    cdef bint changed
    for i in range(s.nnodes):
        nd = &s.nodes[i]
        changed = False
        for j in range(nd.rec_start, nd.rec_start + nd.rec_count):
            r = s.perm[j]
            if (s.recs[r].rdtype == TYPE_SVCB or s.recs[r].rdtype == TYPE_HTTPS) \
                    and _auto_hint_at(s.rdata + s.recs[r].rdata, s.recs[r].rdlen) >= 0:
                hinted(s, r, i, fill)
                changed = True
        if changed:
            sort_node(s, nd.rec_start, nd.rec_count)
    return 0


cdef int hinted(Store *s, uint32_t r, size_t node, bint fill) except -1:
    """Rewrite record ``r``: each empty hint gets the target's addresses of its family
    (once each, in the order they are served), or goes; as many as fit in 65535 octets
    with the rest of the record."""
    cdef Rec *rec = &s.recs[r]
    cdef int64_t target = svcb_target(s, r, node)
    cdef uint8_t *out = <uint8_t *>malloc(65536 + 4)
    cdef size_t n, at, end, x, values
    cdef uint16_t key, length, family
    cdef const Node *nd
    cdef const uint32_t *p
    cdef const Rec *a
    cdef const Rec *last
    cdef const uint8_t *rd
    if out == NULL:
        raise MemoryError()
    try:
        rd = s.rdata + rec.rdata
        at = 2 + _name_size(rd + 2, rec.rdlen - 2)
        memcpy(out, rd, at)
        n = at
        while at + 4 <= rec.rdlen:
            key = (rd[at] << 8) | rd[at + 1]
            length = (rd[at + 2] << 8) | rd[at + 3]
            end = at + 4 + length
            if end > rec.rdlen:
                break
            if length or (key != SVC_IPV4HINT and key != SVC_IPV6HINT):
                memcpy(out + n, rd + at, end - at)
                n += end - at
            elif fill and target >= 0:
                family = TYPE_A if key == SVC_IPV4HINT else TYPE_AAAA
                values = n + 4
                nd = &s.nodes[target]
                p = s.perm + nd.rec_start
                last = NULL
                for x in range(nd.rec_count):
                    a = &s.recs[p[x]]
                    if a.rdtype != family or a.dropped or (
                            last != NULL and last.rdlen == a.rdlen and memcmp(
                                s.rdata + last.rdata, s.rdata + a.rdata, a.rdlen) == 0):
                        continue                # the RRset serves a record once
                    # room for this address and what follows the hint in the record
                    if values + a.rdlen + (rec.rdlen - end) > 65535:
                        break
                    memcpy(out + values, s.rdata + a.rdata, a.rdlen)
                    values += a.rdlen
                    last = a
                if values > n + 4:
                    out[n] = key >> 8
                    out[n + 1] = key & 0xFF
                    out[n + 2] = (values - n - 4) >> 8
                    out[n + 3] = (values - n - 4) & 0xFF
                    n = values
            at = end
        memcpy(store_room(s, n), out, n)
        if s.rdata_len + n > UINT32_MAX:
            raise ValueError("zone too large")
        rec.rdata = <uint32_t>s.rdata_len
        rec.rdlen = <uint16_t>n
        s.rdata_len += n
    finally:
        free(out)
    return 0


cdef int _name_size(const uint8_t *name, size_t room) noexcept nogil:
    """Octets of the wire name at ``name`` (``room`` at most; all of it if malformed)."""
    cdef size_t p = 0
    while p < room and name[p] != 0 and name[p] < 64:
        p += name[p] + 1
    return <int>(p + 1 if p < room else room)


cdef int _auto_hint_at(const uint8_t *rd, size_t n) noexcept nogil:
    """Where an empty ipv4hint/ipv6hint (fastdns.zone._rdsvcb's ``auto``) starts in SVCB or
    HTTPS rdata, or -1."""
    cdef size_t at
    cdef uint16_t key, length
    if n < 3:
        return -1
    at = 2 + _name_size(rd + 2, n - 2)
    while at + 4 <= n:
        key = (rd[at] << 8) | rd[at + 1]
        length = (rd[at + 2] << 8) | rd[at + 3]
        if length == 0 and (key == SVC_IPV4HINT or key == SVC_IPV6HINT):
            return <int>at
        at += 4 + length
    return -1

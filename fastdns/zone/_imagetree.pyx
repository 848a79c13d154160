# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The tree of a zone: its owners in canonical order as nodes, their records grouped.

make_nodes sorts the owner entries of a Store by their lookup keys (a merge sort on an
8-octet prefix of the order string, then the whole key) and makes a node of each name,
with an empty non-terminal for each missing ancestor; bucket_records groups the records
by node, each node's by type and rdata; link_nodes sets each node's flags (apex, cut,
DNAME, CNAME, wildcard, below a cut, address), its redirect and wildcard links, counts its
RRsets and sizes, keeps one record of a type that allows one only, and marks the nodes
that might break a rule of fastdns.zone.check; suspects hands their RRsets over.
"""

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

from fastdns._snapshot cimport (
    N_ADDRESS, N_APEX, N_CNAME, N_CUT, N_DNAME, N_ENT, N_NONAUTH, N_WILDCARD,
)
from fastdns.consts cimport *
from fastdns._names cimport lk_cmp
from fastdns.zone._imagetargets cimport SVC_CHASE
from fastdns.zone._store cimport (
    NO_NODE, Node, Rec, Store, grow, node_lk, order_prefix, rec_cmp, same_rdata, sort_node,
)
from fastdns._gil cimport YIELD_EVERY, let_others_run

cdef enum:
    MAX_RRSET = 65535
    RUN = 24                 # insertion-sorted run length of the key merge sort

ctypedef struct Key:
    uint64_t prefix          # first 8 octets of the order key below the apex
    uint32_t owner

ctypedef struct KeyCtx:
    const uint8_t *owners
    const uint32_t *owner_off
    int skip                 # key octets of the apex, which every key starts with


# ---------------------------------------------------------------------------------------
# order

cdef inline int key_cmp(const Key *a, const Key *b, const KeyCtx *s) noexcept nogil:
    cdef int c
    cdef const uint8_t *la
    cdef const uint8_t *lb
    if a.prefix != b.prefix:
        return -1 if a.prefix < b.prefix else 1
    la = s.owners + s.owner_off[a.owner]
    lb = s.owners + s.owner_off[b.owner]
    c = lk_cmp(la + 1 + s.skip, la[0] - s.skip, lb + 1 + s.skip, lb[0] - s.skip)
    if c:
        return c
    return (a.owner > b.owner) - (a.owner < b.owner)


cdef void sort_keys(Key *a, Key *tmp, size_t n, const KeyCtx *s) noexcept nogil:
    """Stable bottom-up merge sort (runs of RUN by insertion); result in ``a``."""
    cdef size_t i, j, lo, mid, hi, width, k
    cdef Key x
    cdef Key *src = a
    cdef Key *dst = tmp
    cdef Key *t
    lo = 0
    while lo < n:
        hi = lo + RUN if lo + RUN < n else n
        for i in range(lo + 1, hi):
            x = a[i]
            j = i
            while j > lo and key_cmp(&x, &a[j - 1], s) < 0:
                a[j] = a[j - 1]
                j -= 1
            a[j] = x
        lo = hi
    width = RUN
    while width < n:
        lo = 0
        while lo < n:
            mid = lo + width if lo + width < n else n
            hi = lo + 2 * width if lo + 2 * width < n else n
            i = lo
            j = mid
            k = lo
            while i < mid and j < hi:
                if key_cmp(&src[j], &src[i], s) < 0:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            if i < mid:
                memcpy(&dst[k], &src[i], (mid - i) * sizeof(Key))
            if j < hi:
                memcpy(&dst[k + mid - i], &src[j], (hi - j) * sizeof(Key))
            lo = hi
        t = src
        src = dst
        dst = t
        width *= 2
    if src != a:
        memcpy(a, src, n * sizeof(Key))


# ---------------------------------------------------------------------------------------
# nodes

cdef int new_node(Store *s, uint32_t owner, int lklen, uint32_t parent) except -1:
    s.nodes = <Node *>grow(s.nodes, &s.capnodes, s.nnodes + 1, sizeof(Node))
    cdef Node *nd = &s.nodes[s.nnodes]
    memset(nd, 0, sizeof(Node))
    nd.owner = owner
    nd.lklen = lklen
    nd.parent = parent
    s.nnodes += 1
    return 0


cdef uint32_t *make_nodes(Store *s) except NULL:
    """Nodes in canonical order, empty non-terminals included; returns owner entry →
    node (the caller frees it)."""
    cdef Key *keys = <Key *>malloc(s.nown * sizeof(Key))
    cdef Key *tmp = <Key *>malloc(s.nown * sizeof(Key))
    cdef uint32_t *own_node = <uint32_t *>malloc(s.nown * 4)
    cdef uint32_t stack[130]
    cdef int sp = 0
    cdef size_t i
    cdef int n, p, top_len
    cdef uint32_t o
    cdef const uint8_t *entry
    cdef const uint8_t *lk
    cdef const uint8_t *prev = NULL
    cdef int prev_len = -1
    cdef KeyCtx ctx
    try:
        if keys == NULL or tmp == NULL or own_node == NULL:
            raise MemoryError()
        for i in range(s.nown):
            entry = s.owners + s.owner_off[i]
            keys[i].prefix = order_prefix(entry + 1, entry[0], s.origin_lklen)
            keys[i].owner = i
        ctx.owners = s.owners
        ctx.owner_off = s.owner_off
        ctx.skip = s.origin_lklen
        with nogil:                  # the longest step: other threads run meanwhile
            sort_keys(keys, tmp, s.nown, &ctx)
        for i in range(s.nown):
            if i % (4 * YIELD_EVERY) == 0:
                let_others_run()
            o = keys[i].owner
            entry = s.owners + s.owner_off[o]
            n = entry[0]
            lk = entry + 1
            if n == prev_len and memcmp(lk, prev, n) == 0:
                own_node[o] = s.nnodes - 1
                continue
            prev = lk
            prev_len = n
            while sp > 0 and not (s.nodes[stack[sp - 1]].lklen < n and memcmp(
                    node_lk(s, stack[sp - 1]), lk, s.nodes[stack[sp - 1]].lklen) == 0):
                sp -= 1
            if sp == 0 and n > s.origin_lklen:
                # no records at the apex: an empty node (check_zone refuses the zone)
                new_node(s, o, s.origin_lklen, NO_NODE)
                stack[0] = s.nnodes - 1
                sp = 1
            if sp > 0:
                # an empty non-terminal for each missing ancestor
                top_len = s.nodes[stack[sp - 1]].lklen
                p = top_len + lk[top_len] + 1
                while p < n:
                    new_node(s, o, p, stack[sp - 1])
                    stack[sp] = s.nnodes - 1
                    sp += 1
                    p += lk[p] + 1
            new_node(s, o, n, stack[sp - 1] if sp > 0 else NO_NODE)
            stack[sp] = s.nnodes - 1
            sp += 1
            own_node[o] = s.nnodes - 1
        s.node_prefix = <uint64_t *>malloc(s.nnodes * 8)
        if s.node_prefix == NULL:
            raise MemoryError()
        for i in range(s.nnodes):
            s.node_prefix[i] = order_prefix(node_lk(s, i), s.nodes[i].lklen, s.origin_lklen)
    except BaseException:
        free(own_node)
        raise
    finally:
        free(keys)
        free(tmp)
    return own_node


cdef int bucket_records(Store *s, const uint32_t *own_node) except -1:
    """``perm``: record numbers grouped by node, each node's sorted by type and rdata."""
    cdef uint32_t *perm = <uint32_t *>malloc(s.nrec * 4 + 4)
    cdef size_t i, node, start, count, j, k
    cdef uint32_t x
    if perm == NULL:
        raise MemoryError()
    s.perm = perm
    for i in range(s.nrec):
        s.nodes[own_node[s.recs[i].owner]].rec_count += 1
    start = 0
    for i in range(s.nnodes):
        s.nodes[i].rec_start = start
        start += s.nodes[i].rec_count
        s.nodes[i].rec_count = 0
    for i in range(s.nrec):
        node = own_node[s.recs[i].owner]
        perm[s.nodes[node].rec_start + s.nodes[node].rec_count] = i
        s.nodes[node].rec_count += 1
    for i in range(s.nnodes):
        start = s.nodes[i].rec_start
        count = s.nodes[i].rec_count
        if count > 16:
            sort_node(s, start, count)
            continue
        for j in range(start + 1, start + count):
            x = perm[j]
            k = j
            while k > start and rec_cmp(s.recs, s.rdata, x, perm[k - 1]) < 0:
                perm[k] = perm[k - 1]
                k -= 1
            perm[k] = x
    return 0


# ---------------------------------------------------------------------------------------
# flags, links, sizes

cdef int link_nodes(Store *s, const uint8_t *first, const uint8_t *neighbour) except -1:
    """Flags, links and section sizes of every node."""
    cdef size_t i
    cdef Node *nd
    cdef Node *parent
    cdef uint16_t flags
    cdef const uint8_t *lk
    for i in range(s.nnodes):
        nd = &s.nodes[i]
        flags = scan_types(s, i, first, neighbour)
        if i == 0:
            flags |= N_APEX
            flags &= ~N_CUT
            nd.suspect = True
        else:
            lk = node_lk(s, i)
            parent = &s.nodes[nd.parent]
            if nd.lklen == parent.lklen + 2 and lk[parent.lklen] == 1 \
                    and lk[parent.lklen + 1] == 42:
                flags |= N_WILDCARD
                parent.wild = i + 1
            # the highest redirecting ancestor wins: parents are linked before children
            if parent.above:
                nd.above = parent.above
            elif parent.flags & (N_CUT | N_DNAME):
                nd.above = nd.parent + 1
            nd.below_cut = parent.below_cut or (parent.flags & N_CUT) != 0
            if nd.below_cut:
                flags |= N_NONAUTH
        nd.flags = flags
        s.names_size += 2 * nd.lklen + 2
    return 0


cdef uint16_t scan_types(Store *s, size_t i, const uint8_t *first,
                         const uint8_t *neighbour) noexcept:
    """Type flags of node ``i`` (N_CUT for any NS); counts its RRsets and sizes, and
    drops all but one record of a type that allows one only."""
    cdef Node *nd = &s.nodes[i]
    cdef const uint32_t *perm = s.perm + nd.rec_start
    cdef size_t j = 0
    cdef size_t k, m, raw, unique
    cdef uint32_t keep
    cdef uint16_t t
    cdef uint16_t flags = 0
    cdef bint cname = False
    cdef bint other = False
    if nd.rec_count == 0:
        return N_ENT
    while j < nd.rec_count:
        t = s.recs[perm[j]].rdtype
        k = j
        unique = 0
        keep = perm[j]
        while k < nd.rec_count and s.recs[perm[k]].rdtype == t:
            if k == j or not same_rdata(s.recs, s.rdata, perm[k], perm[k - 1]):
                unique += 1
            # the first record read, or at the apex the last SOA
            if (i == 0 and t == TYPE_SOA) == (perm[k] > keep):
                keep = perm[k]
            k += 1
        raw = k - j
        if unique > 1 and (first[t >> 3] & (1 << (t & 7)) or (i == 0 and t == TYPE_SOA)):
            for m in range(j, k):
                s.recs[perm[m]].dropped = not same_rdata(s.recs, s.rdata, perm[m], keep)
            unique = 1
            nd.suspect = True
        s.rdata_size += group_size(s.recs, s.rdata, perm, j, k)
        j = k
        nd.rrset_count += 1
        s.nrrsets += 1
        if t == TYPE_NS:
            flags |= N_CUT
        elif t == TYPE_DNAME:
            flags |= N_DNAME
        elif t == TYPE_CNAME:
            flags |= N_CNAME
            cname = True
        elif t == TYPE_A or t == TYPE_AAAA:
            flags |= N_ADDRESS
        if t == TYPE_NS or t == TYPE_MX or t == TYPE_SRV:
            s.extra_bound += 1 + unique
        elif t == TYPE_SVCB or t == TYPE_HTTPS:
            s.extra_bound += 1 + unique * (SVC_CHASE + 1)
        if raw > MAX_RRSET:
            nd.suspect = True
        if not neighbour[t >> 3] & (1 << (t & 7)):
            other = True
    if cname and other:
        nd.suspect = True
    return flags


cdef size_t group_size(const Rec *recs, const uint8_t *rdata, const uint32_t *perm, size_t j,
                       size_t k) noexcept nogil:
    """Octets in the image of the RRset perm[j:k]: its kept, distinct rdata."""
    cdef size_t m
    cdef size_t size = 0
    for m in range(j, k):
        if not recs[perm[m]].dropped and (m == j or not same_rdata(recs, rdata, perm[m],
                                                                    perm[m - 1])):
            size += 2 + recs[perm[m]].rdlen
    return size


cdef list suspects(const Store *s):
    """``(position, owner, rdtype, ttl, [rdata, ...], file, line)`` of each RRset of the
    marked nodes, with its first record's position, owner spelling and place."""
    cdef list out = []
    cdef size_t i, j, k, first
    cdef Node *nd
    cdef const uint32_t *perm
    cdef const Rec *r
    cdef uint16_t t
    cdef uint32_t ttl
    cdef const uint8_t *own
    for i in range(s.nnodes):
        nd = &s.nodes[i]
        if not nd.suspect:
            continue
        perm = s.perm + nd.rec_start
        j = 0
        while j < nd.rec_count:
            t = s.recs[perm[j]].rdtype
            first = perm[j]
            ttl = s.recs[perm[j]].ttl
            rdatas = []
            k = j
            while k < nd.rec_count and s.recs[perm[k]].rdtype == t:
                r = &s.recs[perm[k]]
                first = perm[k] if perm[k] < first else first
                ttl = r.ttl if r.ttl < ttl else ttl
                if k == j or not same_rdata(s.recs, s.rdata, perm[k], perm[k - 1]):
                    rdatas.append(s.rdata[r.rdata:r.rdata + r.rdlen])
                k += 1
            j = k
            r = &s.recs[first]
            own = s.owners + s.owner_off[r.owner]
            out.append((first, own[1 + own[0]:2 + 2 * own[0]], t, ttl, rdatas, r.file,
                        r.line))
    return out

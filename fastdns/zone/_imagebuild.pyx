# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Records in flat arenas → zone image (layout: fastdns/_snapshot.pxd), for millions of records.

The one compiler of zone data, whatever the source (zone files, SQL rows): canonical order,
empty non-terminals, RRset grouping (lowest TTL, rdata deduplicated and sorted), node flags,
redirect and wildcard links and additional-section targets, with no Python object per
record.

    store = RecordStore(origin)        # a reader (fastdns.zone._masterfile, _rows) fills it
    suspects = store.prepare(...)      # sort and group; the RRsets check_zone must see
    image = store.pack()

check_zone (fastdns.zone.check) is the one statement of the zone rules: prepare() hands it
the RRsets of the apex and of every node that might break a rule (a superset), and applies
the rules it is given as data (where a name may hold one record of a type only).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport UINT32_MAX, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

from fastdns._snapshot cimport (
    EXTRA_RRSET, IMAGE_VERSION, ImageHeader, NodeRec, RRsetRec,
    N_ADDRESS, N_APEX, N_CNAME, N_CUT, N_DNAME, N_ENT, N_NONAUTH, N_WILDCARD, image_magic,
)
from fastdns.consts cimport *
from fastdns._wire cimport lk_cmp, lk_to_name, name_to_lk, wire_name_ok
from fastdns.zone._rdsvcb cimport SVC_IPV4HINT, SVC_IPV6HINT

cdef extern from "stdlib.h" nogil:
    void qsort_r(void *base, size_t nmemb, size_t size,
                 int (*compar)(const void *, const void *, void *) noexcept nogil, void *arg)

cdef enum:
    SVC_CHASE = 5            # lookups of an SVCB/HTTPS AliasMode chain (as PowerDNS)
    MAX_RRSET = 65535
    NO_NODE = 0xFFFFFFFF
    RUN = 24                 # insertion-sorted run length of the key merge sort

ctypedef struct Key:
    uint64_t prefix          # first 8 octets of the order key below the apex
    uint32_t owner

ctypedef struct RecCtx:
    const Rec *recs
    const uint8_t *rdata

ctypedef struct KeyCtx:
    const uint8_t *owners
    const uint32_t *owner_off
    int skip                 # key octets of the apex, which every key starts with


cdef void *grow(void *p, size_t *cap, size_t need, size_t item) except NULL:
    """``p`` with room for ``need`` items of ``item`` octets (capacity in ``cap``)."""
    cdef size_t n = cap[0]
    if need <= n:
        return p
    if n < 1024:
        n = 1024
    while n < need:
        n += n >> 1
    cdef void *q = realloc(p, n * item)
    if q == NULL:
        raise MemoryError()
    cap[0] = n
    return q


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


cdef int rec_cmp_r(const void *a, const void *b, void *ctx) noexcept nogil:
    cdef const RecCtx *c = <const RecCtx *>ctx
    return rec_cmp(c.recs, c.rdata, (<const uint32_t *>a)[0], (<const uint32_t *>b)[0])


cdef inline bint same_rdata(const Rec *recs, const uint8_t *rdata, uint32_t a,
                            uint32_t b) noexcept nogil:
    return recs[a].rdlen == recs[b].rdlen and \
        memcmp(rdata + recs[a].rdata, rdata + recs[b].rdata, recs[a].rdlen) == 0


# ---------------------------------------------------------------------------------------
# the store

cdef class RecordStore:
    """Records of one zone in flat arenas, then their image."""

    def __cinit__(self, bytes origin not None, bint autohints=False):
        if not 1 <= len(origin) <= 255 or not wire_name_ok(origin, len(origin), len(origin)):
            raise ValueError("bad origin")
        self.origin_lklen = name_to_lk(origin, len(origin), self.origin_lk)
        self.autohints = autohints
        self.files = []

    def __dealloc__(self):
        free(self.recs)
        free(self.rdata)
        free(self.owners)
        free(self.owner_off)
        free(self.nodes)
        free(self.node_prefix)
        free(self.perm)

    def __len__(self):
        return self.nrec

    # -- C API for parsers ---------------------------------------------------------------

    cdef bint same_owner(self, const uint8_t *wire, int wlen) noexcept nogil:
        """Is ``wire`` (case included) the owner of the last record?"""
        cdef const uint8_t *p
        if self.nown == 0:
            return False
        p = self.owners + self.owner_off[self.nown - 1]
        return p[0] + 1 == wlen and memcmp(p + 1 + p[0], wire, wlen) == 0

    cdef int set_owner(self, const uint8_t *wire, int wlen, const uint8_t *lk) except -1:
        """Make ``wire`` (key ``lk``, which lies at or below the apex) the current owner."""
        self.owner_off = <uint32_t *>grow(self.owner_off, &self.capown, self.nown + 1, 4)
        self.owners = <uint8_t *>grow(self.owners, &self.owners_cap,
                                      self.owners_len + 2 * wlen, 1)
        if self.owners_len + 2 * wlen > UINT32_MAX:
            raise ValueError("zone too large")
        cdef uint8_t *p = self.owners + self.owners_len
        p[0] = wlen - 1
        memcpy(p + 1, lk, wlen - 1)
        memcpy(p + wlen, wire, wlen)
        self.owner_off[self.nown] = self.owners_len
        self.owners_len += 2 * wlen
        self.nown += 1
        return 0

    cdef uint8_t *room(self, size_t n) except NULL:
        """Where the next record's rdata (up to ``n`` octets) is to be written."""
        self.rdata = <uint8_t *>grow(self.rdata, &self.rdata_cap, self.rdata_len + n, 1)
        return self.rdata + self.rdata_len

    cdef int add_rec(self, uint16_t rdtype, uint32_t ttl, size_t rdlen, uint32_t file,
                     uint32_t line) except -1:
        """Append a record of the current owner whose rdata ``room()`` received."""
        if self.rdata_len + rdlen > UINT32_MAX or self.nrec >= UINT32_MAX - 1:
            raise ValueError("zone too large")
        if file > 0xFFFF:
            raise ValueError("records from more than 65536 files")
        self.recs = <Rec *>grow(self.recs, &self.caprec, self.nrec + 1, sizeof(Rec))
        cdef Rec *r = &self.recs[self.nrec]
        r.owner = self.nown - 1
        r.rdtype = rdtype
        r.rdlen = <uint16_t>rdlen
        r.ttl = ttl
        r.rdata = <uint32_t>self.rdata_len
        r.file = <uint16_t>file
        r.line = line
        r.dropped = False
        self.rdata_len += rdlen
        self.nrec += 1
        return 0

    # -- Python API ----------------------------------------------------------------------

    def prepare(self, cname_neighbours, first_only):
        """Order and group the records; the RRsets that check_zone must see.

        Returns ``[(position, owner, rdtype, ttl, [rdata, ...], file, line), ...]`` for the
        apex and for every node that may break a rule (a CNAME beside a type outside
        ``cname_neighbours``, two records of a type in ``first_only``, an RRset too
        large), each RRset with its first record's position, owner spelling and place.
        Of the records of a type in ``first_only`` at one name, only the first read is
        kept; of the SOA records at the apex, the last (PowerDNS serves that one).
        ``ipv4hint=auto``/``ipv6hint=auto`` of SVCB and HTTPS are filled in from the
        target's addresses in the zone, or dropped (svc-autohints off, or no address).
        """
        cdef uint8_t first[8192]
        cdef uint8_t neighbour[8192]
        cdef uint32_t *own_node
        if self.prepared:
            raise ValueError("store already prepared")
        _bitmap(first, first_only)
        _bitmap(neighbour, cname_neighbours)
        self.prepared = True
        if self.nown == 0:
            return []
        own_node = self._make_nodes()
        try:
            self._bucket_records(own_node)
        finally:
            free(own_node)
        if self.nnodes >= EXTRA_RRSET:
            raise ValueError("zone too large: too many names")
        self._autohints()
        self._link(first, neighbour)
        return self._suspects()

    def pack(self):
        """The image of the prepared records (call after check_zone accepted them)."""
        cdef uint32_t *extra = NULL
        cdef uint32_t *marks = NULL
        cdef size_t nextra = 0
        cdef size_t nmarks = 0
        if not self.prepared or self.nnodes == 0:
            raise ValueError("nothing to pack")
        try:
            extra = <uint32_t *>malloc((self.extra_bound + 1) * 4)
            marks = <uint32_t *>malloc((self.extra_bound + 1) * 4)
            if extra == NULL or marks == NULL:
                raise MemoryError()
            extra[0] = 0
            nextra = 1
            self._targets(extra, &nextra, marks, &nmarks)
            return self._write(extra, nextra, marks, nmarks)
        finally:
            free(extra)
            free(marks)

    # -- prepare -------------------------------------------------------------------------

    cdef const uint8_t *node_lk(self, uint32_t i) noexcept nogil:
        return self.owners + self.owner_off[self.nodes[i].owner] + 1

    cdef int _new_node(self, uint32_t owner, int lklen, uint32_t parent) except -1:
        self.nodes = <Node *>grow(self.nodes, &self.capnodes, self.nnodes + 1, sizeof(Node))
        cdef Node *nd = &self.nodes[self.nnodes]
        memset(nd, 0, sizeof(Node))
        nd.owner = owner
        nd.lklen = lklen
        nd.parent = parent
        self.nnodes += 1
        return 0

    cdef uint32_t *_make_nodes(self) except NULL:
        """Nodes in canonical order, empty non-terminals included; returns owner entry →
        node (the caller frees it)."""
        cdef Key *keys = <Key *>malloc(self.nown * sizeof(Key))
        cdef Key *tmp = <Key *>malloc(self.nown * sizeof(Key))
        cdef uint32_t *own_node = <uint32_t *>malloc(self.nown * 4)
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
            for i in range(self.nown):
                entry = self.owners + self.owner_off[i]
                keys[i].prefix = order_prefix(entry + 1, entry[0], self.origin_lklen)
                keys[i].owner = i
            ctx.owners = self.owners
            ctx.owner_off = self.owner_off
            ctx.skip = self.origin_lklen
            sort_keys(keys, tmp, self.nown, &ctx)
            for i in range(self.nown):
                o = keys[i].owner
                entry = self.owners + self.owner_off[o]
                n = entry[0]
                lk = entry + 1
                if n == prev_len and memcmp(lk, prev, n) == 0:
                    own_node[o] = self.nnodes - 1
                    continue
                prev = lk
                prev_len = n
                while sp > 0 and not (self.nodes[stack[sp - 1]].lklen < n and memcmp(
                        self.node_lk(stack[sp - 1]), lk, self.nodes[stack[sp - 1]].lklen) == 0):
                    sp -= 1
                if sp == 0 and n > self.origin_lklen:
                    # no records at the apex: an empty node (check_zone refuses the zone)
                    self._new_node(o, self.origin_lklen, NO_NODE)
                    stack[0] = self.nnodes - 1
                    sp = 1
                if sp > 0:
                    # an empty non-terminal for each missing ancestor
                    top_len = self.nodes[stack[sp - 1]].lklen
                    p = top_len + lk[top_len] + 1
                    while p < n:
                        self._new_node(o, p, stack[sp - 1])
                        stack[sp] = self.nnodes - 1
                        sp += 1
                        p += lk[p] + 1
                self._new_node(o, n, stack[sp - 1] if sp > 0 else NO_NODE)
                stack[sp] = self.nnodes - 1
                sp += 1
                own_node[o] = self.nnodes - 1
            self.node_prefix = <uint64_t *>malloc(self.nnodes * 8)
            if self.node_prefix == NULL:
                raise MemoryError()
            for i in range(self.nnodes):
                self.node_prefix[i] = order_prefix(self.node_lk(i), self.nodes[i].lklen,
                                                   self.origin_lklen)
        except BaseException:
            free(own_node)
            raise
        finally:
            free(keys)
            free(tmp)
        return own_node

    cdef int _bucket_records(self, uint32_t *own_node) except -1:
        """``perm``: record numbers grouped by node, each node's sorted by type and rdata."""
        cdef uint32_t *perm = <uint32_t *>malloc(self.nrec * 4 + 4)
        cdef size_t i, node, start, count, j, k
        cdef uint32_t x
        cdef RecCtx ctx
        if perm == NULL:
            raise MemoryError()
        self.perm = perm
        for i in range(self.nrec):
            self.nodes[own_node[self.recs[i].owner]].rec_count += 1
        start = 0
        for i in range(self.nnodes):
            self.nodes[i].rec_start = start
            start += self.nodes[i].rec_count
            self.nodes[i].rec_count = 0
        for i in range(self.nrec):
            node = own_node[self.recs[i].owner]
            perm[self.nodes[node].rec_start + self.nodes[node].rec_count] = i
            self.nodes[node].rec_count += 1
        ctx.recs = self.recs
        ctx.rdata = self.rdata
        for i in range(self.nnodes):
            start = self.nodes[i].rec_start
            count = self.nodes[i].rec_count
            if count > 16:
                qsort_r(perm + start, count, 4, rec_cmp_r, &ctx)
                continue
            for j in range(start + 1, start + count):
                x = perm[j]
                k = j
                while k > start and rec_cmp(self.recs, self.rdata, x, perm[k - 1]) < 0:
                    perm[k] = perm[k - 1]
                    k -= 1
                perm[k] = x
        return 0

    cdef int _link(self, const uint8_t *first, const uint8_t *neighbour) except -1:
        """Flags, links and section sizes of every node."""
        cdef size_t i
        cdef Node *nd
        cdef Node *parent
        cdef uint16_t flags
        cdef const uint8_t *lk
        for i in range(self.nnodes):
            nd = &self.nodes[i]
            flags = self._scan_types(i, first, neighbour)
            if i == 0:
                flags |= N_APEX
                flags &= ~N_CUT
                nd.suspect = True
            else:
                lk = self.node_lk(i)
                parent = &self.nodes[nd.parent]
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
            self.names_size += 2 * nd.lklen + 2
        return 0

    cdef uint16_t _scan_types(self, size_t i, const uint8_t *first,
                              const uint8_t *neighbour) noexcept:
        """Type flags of node ``i`` (N_CUT for any NS); counts its RRsets and sizes, and
        drops all but one record of a type that allows one only."""
        cdef Node *nd = &self.nodes[i]
        cdef const uint32_t *perm = self.perm + nd.rec_start
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
            t = self.recs[perm[j]].rdtype
            k = j
            unique = 0
            keep = perm[j]
            while k < nd.rec_count and self.recs[perm[k]].rdtype == t:
                if k == j or not same_rdata(self.recs, self.rdata, perm[k], perm[k - 1]):
                    unique += 1
                # the first record read, or at the apex the last SOA
                if (i == 0 and t == TYPE_SOA) == (perm[k] > keep):
                    keep = perm[k]
                k += 1
            raw = k - j
            if unique > 1 and (first[t >> 3] & (1 << (t & 7)) or (i == 0 and t == TYPE_SOA)):
                for m in range(j, k):
                    self.recs[perm[m]].dropped = not same_rdata(self.recs, self.rdata,
                                                                perm[m], keep)
                unique = 1
                nd.suspect = True
            self.rdata_size += _group_size(self.recs, self.rdata, perm, j, k)
            j = k
            nd.rrset_count += 1
            self.nrrsets += 1
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
                self.extra_bound += 1 + unique
            elif t == TYPE_SVCB or t == TYPE_HTTPS:
                self.extra_bound += 1 + unique * (SVC_CHASE + 1)
            if raw > MAX_RRSET:
                nd.suspect = True
            if not neighbour[t >> 3] & (1 << (t & 7)):
                other = True
        if cname and other:
            nd.suspect = True
        return flags

    cdef list _suspects(self):
        cdef list out = []
        cdef size_t i, j, k, first
        cdef Node *nd
        cdef const uint32_t *perm
        cdef const Rec *r
        cdef uint16_t t
        cdef uint32_t ttl
        cdef const uint8_t *own
        for i in range(self.nnodes):
            nd = &self.nodes[i]
            if not nd.suspect:
                continue
            perm = self.perm + nd.rec_start
            j = 0
            while j < nd.rec_count:
                t = self.recs[perm[j]].rdtype
                first = perm[j]
                ttl = self.recs[perm[j]].ttl
                rdatas = []
                k = j
                while k < nd.rec_count and self.recs[perm[k]].rdtype == t:
                    r = &self.recs[perm[k]]
                    first = perm[k] if perm[k] < first else first
                    ttl = r.ttl if r.ttl < ttl else ttl
                    if k == j or not same_rdata(self.recs, self.rdata, perm[k], perm[k - 1]):
                        rdatas.append(self.rdata[r.rdata:r.rdata + r.rdlen])
                    k += 1
                j = k
                r = &self.recs[first]
                own = self.owners + self.owner_off[r.owner]
                out.append((first, own[1 + own[0]:2 + 2 * own[0]], t, ttl, rdatas, r.file,
                            r.line))
        return out

    # -- pack ----------------------------------------------------------------------------

    cdef int64_t find(self, const uint8_t *name, int nlen) noexcept:
        """Node whose owner is the wire name ``name`` (``nlen`` octets at most), or -1."""
        cdef uint8_t lk[256]
        cdef int p = 0
        cdef int n, c
        cdef uint64_t prefix
        cdef size_t lo = 0
        cdef size_t hi = self.nnodes
        cdef size_t mid
        while p < nlen and name[p] != 0 and name[p] < 64:
            p += name[p] + 1
        if p >= nlen or name[p] != 0 or p > 254:
            return -1
        n = name_to_lk(name, p + 1, lk)
        if n < self.origin_lklen or memcmp(lk, self.origin_lk, self.origin_lklen) != 0:
            return -1
        prefix = order_prefix(lk, n, self.origin_lklen)
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.node_prefix[mid] != prefix:
                c = -1 if self.node_prefix[mid] < prefix else 1
            else:
                c = lk_cmp(self.node_lk(mid), self.nodes[mid].lklen, lk, n)
            if c == 0:
                return mid
            if c < 0:
                lo = mid + 1
            else:
                hi = mid
        return -1

    cdef int _targets(self, uint32_t *extra, size_t *nextra, uint32_t *marks,
                      size_t *nmarks) except -1:
        """Additional-section targets of NS, MX, SRV, SVCB and HTTPS RRsets: the in-zone
        names with an address, in the order their rdata first appear in the file (for
        SVCB and HTTPS, as _service_targets finds them). ``marks`` gets (RRset number,
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
        for i in range(self.nnodes):
            if self.nodes[i].rec_count > most:
                most = self.nodes[i].rec_count
        hits = <uint64_t *>malloc(most * 8)
        if hits == NULL:
            raise MemoryError()
        for i in range(self.nnodes):
            nd = &self.nodes[i]
            perm = self.perm + nd.rec_start
            j = 0
            while j < nd.rec_count:
                t = self.recs[perm[j]].rdtype
                start = 0 if t == TYPE_NS else 2 if t == TYPE_MX else 6 if t == TYPE_SRV else -1
                n = 0
                k = j
                while k < nd.rec_count and self.recs[perm[k]].rdtype == t:
                    r = &self.recs[perm[k]]
                    # the first of equal rdata is the first in the file (perm's order)
                    if start >= 0 and r.rdlen > start and not r.dropped and (k == j or not
                            same_rdata(self.recs, self.rdata, perm[k], perm[k - 1])):
                        found = self.find(self.rdata + r.rdata + start, r.rdlen - start)
                        if found >= 0 and self.nodes[found].flags & N_ADDRESS:
                            hits[n] = (<uint64_t>perm[k] << 32) | <uint64_t>found
                            n += 1
                    k += 1
                count = 0
                if n:
                    count = _file_order(hits, n, extra + nextra[0] + 1)
                elif t == TYPE_SVCB or t == TYPE_HTTPS:
                    count = self._service_targets(i, t, perm, j, k, extra + nextra[0] + 1)
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

    cdef int64_t _svcb_target(self, uint32_t r, size_t node) noexcept:
        """The node an SVCB/HTTPS record's TargetName names (its owner's for "."), or -1
        (outside the zone, not held, or malformed rdata)."""
        cdef const Rec *rec = &self.recs[r]
        if rec.rdlen < 3:
            return -1
        if self.rdata[rec.rdata + 2] == 0:
            return node
        return self.find(self.rdata + rec.rdata + 2, rec.rdlen - 2)

    cdef size_t _service_targets(self, size_t node, uint16_t t, const uint32_t *perm,
                                 size_t j, size_t k, uint32_t *out) noexcept:
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
            rec = &self.recs[perm[m]]
            if rec.dropped or rec.rdlen < 3:
                continue
            at = self._svcb_target(perm[m], node)
            if self.rdata[rec.rdata] == 0 and self.rdata[rec.rdata + 1] == 0:   # AliasMode
                lookups = SVC_CHASE
                more = True
                here = at
                while more and lookups > 0 and at >= 0:
                    more = False
                    lookups -= 1
                    nd = &self.nodes[at]
                    p = self.perm + nd.rec_start
                    here = at
                    for x in range(nd.rec_count):
                        rec = &self.recs[p[x]]
                        if rec.rdtype != t or rec.dropped:
                            continue
                        if not (at == <int64_t>node or _listed(chase, nchase, at)) \
                                and nchase < SVC_CHASE * 2:
                            chase[nchase] = at
                            nchase += 1
                        if rec.rdlen >= 3 and self.rdata[rec.rdata] == 0 \
                                and self.rdata[rec.rdata + 1] == 0:
                            more = True
                        if rec.rdlen >= 3 and self.rdata[rec.rdata + 2] != 0:
                            here = self.find(self.rdata + rec.rdata + 2, rec.rdlen - 2)
                    at = here
            if at >= 0 and self.nodes[at].flags & N_ADDRESS and nnames < 256 \
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

    cdef int _autohints(self) except -1:
        """Fill in or drop the empty ipv4hint/ipv6hint (``auto``) of SVCB and HTTPS records:
        PowerDNS's svc-autohints, done once per zone version instead of per answer."""
        cdef size_t i, j
        cdef Node *nd
        cdef uint32_t r
        cdef bint changed
        for i in range(self.nnodes):
            nd = &self.nodes[i]
            changed = False
            for j in range(nd.rec_start, nd.rec_start + nd.rec_count):
                r = self.perm[j]
                if (self.recs[r].rdtype == TYPE_SVCB or self.recs[r].rdtype == TYPE_HTTPS) \
                        and _auto_hint_at(self.rdata + self.recs[r].rdata,
                                          self.recs[r].rdlen) >= 0:
                    self._hinted(r, i)
                    changed = True
            if changed:
                _sort_node(self.recs, self.rdata, self.perm, nd.rec_start, nd.rec_count)
        return 0

    cdef int _hinted(self, uint32_t r, size_t node) except -1:
        """Rewrite record ``r``: each empty hint gets the target's addresses of its family
        (once each, in the order they are served), or goes; as many as fit in 65535 octets
        with the rest of the record."""
        cdef Rec *rec = &self.recs[r]
        cdef int64_t target = self._svcb_target(r, node)
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
            rd = self.rdata + rec.rdata
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
                elif self.autohints and target >= 0:
                    family = TYPE_A if key == SVC_IPV4HINT else TYPE_AAAA
                    values = n + 4
                    nd = &self.nodes[target]
                    p = self.perm + nd.rec_start
                    last = NULL
                    for x in range(nd.rec_count):
                        a = &self.recs[p[x]]
                        if a.rdtype != family or a.dropped or (
                                last != NULL and last.rdlen == a.rdlen and memcmp(
                                    self.rdata + last.rdata, self.rdata + a.rdata,
                                    a.rdlen) == 0):
                            continue                # the RRset serves a record once
                        # room for this address and what follows the hint in the record
                        if values + a.rdlen + (rec.rdlen - end) > 65535:
                            break
                        memcpy(out + values, self.rdata + a.rdata, a.rdlen)
                        values += a.rdlen
                        last = a
                    if values > n + 4:
                        out[n] = key >> 8
                        out[n + 1] = key & 0xFF
                        out[n + 2] = (values - n - 4) >> 8
                        out[n + 3] = (values - n - 4) & 0xFF
                        n = values
                at = end
            memcpy(self.room(n), out, n)
            if self.rdata_len + n > UINT32_MAX:
                raise ValueError("zone too large")
            rec.rdata = <uint32_t>self.rdata_len
            rec.rdlen = <uint16_t>n
            self.rdata_len += n
        finally:
            free(out)
        return 0

    cdef object _write(self, const uint32_t *extra, size_t nextra, const uint32_t *marks,
                       size_t nmarks):
        cdef size_t nodes_off = _align(sizeof(ImageHeader), 8)
        cdef size_t rrsets_off = _align(nodes_off + self.nnodes * sizeof(NodeRec), 8)
        cdef size_t names_off = rrsets_off + self.nrrsets * sizeof(RRsetRec)
        cdef size_t rdata_off = names_off + self.names_size
        cdef size_t extra_off = _align(rdata_off + self.rdata_size, 4)
        cdef size_t size = extra_off + 4 * nextra
        if rdata_off - names_off > UINT32_MAX or extra_off - rdata_off > UINT32_MAX:
            raise ValueError("zone too large for an image")
        out = PyBytes_FromStringAndSize(NULL, size)
        cdef uint8_t *base = <uint8_t *>PyBytes_AS_STRING(out)
        cdef ImageHeader *h = <ImageHeader *>base
        memset(base, 0, nodes_off)
        memset(base + rdata_off + self.rdata_size, 0, extra_off - rdata_off - self.rdata_size)
        memcpy(base + extra_off, extra, 4 * nextra)
        memcpy(h.magic, image_magic(), 8)
        h.version = IMAGE_VERSION
        h.node_count = self.nnodes
        h.rrset_count = self.nrrsets
        h.nodes_off = nodes_off
        h.rrsets_off = rrsets_off
        h.names_off = names_off
        h.rdata_off = rdata_off
        h.extra_off = extra_off
        h.size = size
        self._write_sections(h, base, marks, nmarks)
        return out

    cdef void _write_sections(self, ImageHeader *h, uint8_t *base, const uint32_t *marks,
                              size_t nmarks) noexcept:
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
        for i in range(self.nnodes):
            nd = &self.nodes[i]
            nr = &node_recs[i]
            lk = self.node_lk(i)
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
            perm = self.perm + nd.rec_start
            j = 0
            while j < nd.rec_count:
                r = &self.recs[perm[j]]
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
                while k < nd.rec_count and self.recs[perm[k]].rdtype == t:
                    r = &self.recs[perm[k]]
                    k += 1
                    if r.dropped:
                        continue
                    if r.ttl < rr.ttl:
                        rr.ttl = r.ttl
                    if k - 1 == j or not same_rdata(self.recs, self.rdata, perm[k - 1],
                                                    perm[k - 2]):
                        rdlen = r.rdlen
                        memcpy(rdata + rdata_len, &rdlen, 2)
                        memcpy(rdata + rdata_len + 2, self.rdata + r.rdata, rdlen)
                        rdata_len += 2 + rdlen
                        rr.count += 1
                        soa = r
                if t == TYPE_SOA and i == 0:
                    r = soa
                    h.soa_rrset = rrset
                    h.serial = _be32(self.rdata + r.rdata + r.rdlen - 20)
                    minimum = _be32(self.rdata + r.rdata + r.rdlen - 4)
                    h.neg_ttl = rr.ttl if rr.ttl < minimum else minimum
                j = k
                rrset += 1


cdef size_t _group_size(const Rec *recs, const uint8_t *rdata, const uint32_t *perm, size_t j,
                        size_t k) noexcept nogil:
    """Octets in the image of the RRset perm[j:k]: its kept, distinct rdata."""
    cdef size_t m
    cdef size_t size = 0
    for m in range(j, k):
        if not recs[perm[m]].dropped and (m == j or not same_rdata(recs, rdata, perm[m],
                                                                    perm[m - 1])):
            size += 2 + recs[perm[m]].rdlen
    return size


cdef int _name_size(const uint8_t *name, size_t room) noexcept nogil:
    """Octets of the wire name at ``name`` (``room`` at most; all of it if malformed)."""
    cdef size_t p = 0
    while p < room and name[p] != 0 and name[p] < 64:
        p += name[p] + 1
    return <int>(p + 1 if p < room else room)


cdef int _auto_hint_at(const uint8_t *rd, size_t n) noexcept nogil:
    """Where an empty ipv4hint/ipv6hint (fastdns.zone._rdata's ``auto``) starts in SVCB or
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


cdef void _sort_node(const Rec *recs, const uint8_t *rdata, uint32_t *perm, size_t start,
                     size_t count) noexcept nogil:
    """Order a node's records by type, rdata and position."""
    cdef RecCtx ctx
    ctx.recs = recs
    ctx.rdata = rdata
    qsort_r(perm + start, count, 4, rec_cmp_r, &ctx)


cdef inline size_t _align(size_t n, size_t to) noexcept nogil:
    return (n + to - 1) // to * to


cdef inline uint32_t _be32(const uint8_t *p) noexcept nogil:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]


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


cdef void _bitmap(uint8_t *bits, object types) except *:
    memset(bits, 0, 8192)
    cdef int t
    for t in types:
        bits[(t & 0xFFFF) >> 3] |= 1 << (t & 7)

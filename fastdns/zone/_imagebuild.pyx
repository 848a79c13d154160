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

The parts, one module each, work on the store's arenas (a fastdns.zone._store.Store):
_imagetree (canonical order, nodes, flags, links, the RRsets check_zone must see),
_autohints (svc-autohints), _imagetargets (additional-section targets, SVCB chains),
_imagewrite (the image). This module is the store readers fill and the order of the parts.
"""

from libc.stdint cimport UINT32_MAX, uint8_t, uint16_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

from fastdns._snapshot cimport EXTRA_RRSET
from fastdns._names cimport name_to_lk, wire_name_ok
from fastdns.zone._autohints cimport svc_autohints
from fastdns.zone._imagetargets cimport find_targets
from fastdns.zone._imagetree cimport bucket_records, link_nodes, make_nodes, suspects
from fastdns.zone._imagewrite cimport write_image
from fastdns.zone._store cimport Rec, grow, store_free, store_room
from fastdns._gil cimport YIELD_EVERY, let_others_run


cdef class RecordStore:
    """Records of one zone in flat arenas, then their image."""

    def __cinit__(self, bytes origin not None, bint autohints=False):
        if not 1 <= len(origin) <= 255 or not wire_name_ok(origin, len(origin), len(origin)):
            raise ValueError("bad origin")
        self.s.origin_lklen = name_to_lk(origin, len(origin), self.s.origin_lk)
        self.autohints = autohints
        self.files = []

    def __dealloc__(self):
        store_free(&self.s)

    def __len__(self):
        return self.s.nrec

    # -- C API for parsers ---------------------------------------------------------------

    cdef bint same_owner(self, const uint8_t *wire, int wlen) noexcept nogil:
        """Is ``wire`` (case included) the owner of the last record?"""
        cdef const uint8_t *p
        if self.s.nown == 0:
            return False
        p = self.s.owners + self.s.owner_off[self.s.nown - 1]
        return p[0] + 1 == wlen and memcmp(p + 1 + p[0], wire, wlen) == 0

    cdef int set_owner(self, const uint8_t *wire, int wlen, const uint8_t *lk) except -1:
        """Make ``wire`` (key ``lk``, which lies at or below the apex) the current owner."""
        self.s.owner_off = <uint32_t *>grow(self.s.owner_off, &self.s.capown,
                                            self.s.nown + 1, 4)
        self.s.owners = <uint8_t *>grow(self.s.owners, &self.s.owners_cap,
                                        self.s.owners_len + 2 * wlen, 1)
        if self.s.owners_len + 2 * wlen > UINT32_MAX:
            raise ValueError("zone too large")
        cdef uint8_t *p = self.s.owners + self.s.owners_len
        p[0] = wlen - 1
        memcpy(p + 1, lk, wlen - 1)
        memcpy(p + wlen, wire, wlen)
        self.s.owner_off[self.s.nown] = self.s.owners_len
        self.s.owners_len += 2 * wlen
        self.s.nown += 1
        return 0

    cdef uint8_t *room(self, size_t n) except NULL:
        """Where the next record's rdata (up to ``n`` octets) is to be written."""
        return store_room(&self.s, n)

    cdef int add_rec(self, uint16_t rdtype, uint32_t ttl, size_t rdlen, uint32_t file,
                     uint32_t line) except -1:
        """Append a record of the current owner whose rdata ``room()`` received."""
        if self.s.rdata_len + rdlen > UINT32_MAX or self.s.nrec >= UINT32_MAX - 1:
            raise ValueError("zone too large")
        if file > 0xFFFF:
            raise ValueError("records from more than 65536 files")
        self.s.recs = <Rec *>grow(self.s.recs, &self.s.caprec, self.s.nrec + 1, sizeof(Rec))
        cdef Rec *r = &self.s.recs[self.s.nrec]
        r.owner = self.s.nown - 1
        r.rdtype = rdtype
        r.rdlen = <uint16_t>rdlen
        r.ttl = ttl
        r.rdata = <uint32_t>self.s.rdata_len
        r.file = <uint16_t>file
        r.line = line
        r.dropped = False
        self.s.rdata_len += rdlen
        self.s.nrec += 1
        if self.s.nrec % YIELD_EVERY == 0:
            let_others_run()
        return 0

    # -- Python API ----------------------------------------------------------------------

    def add_wire(self, bytes owner not None, uint16_t rdtype, uint32_t ttl,
                 bytes rdata not None):
        """Add one record given in wire form (owner at or below the origin, its rdata
        already checked): how the records a zone's keys and settings make (DNSKEY, CDS,
        NSEC3PARAM...) join the zone's own."""
        cdef uint8_t lk[256]
        cdef int olen = len(owner)
        if self.prepared:
            raise ValueError("the store is prepared already")
        if not 1 <= olen <= 255 or not wire_name_ok(owner, olen, olen) or len(rdata) > 65535:
            raise ValueError("bad owner or rdata")
        cdef int lklen = name_to_lk(owner, olen, lk)
        if lklen < self.s.origin_lklen or memcmp(lk, self.s.origin_lk,
                                                  self.s.origin_lklen) != 0:
            raise ValueError("owner outside the zone")
        if not self.same_owner(owner, olen):
            self.set_owner(owner, olen, lk)
        cdef uint8_t *room = self.room(len(rdata))
        memcpy(room, <const uint8_t *>rdata, len(rdata))
        self.add_rec(rdtype, ttl, len(rdata), 0, 0)

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
        if self.s.nown == 0:
            return []
        own_node = make_nodes(&self.s)
        try:
            let_others_run()
            bucket_records(&self.s, own_node)
        finally:
            free(own_node)
        if self.s.nnodes >= EXTRA_RRSET:
            raise ValueError("zone too large: too many names")
        let_others_run()
        svc_autohints(&self.s, self.autohints)
        let_others_run()
        link_nodes(&self.s, first, neighbour)
        let_others_run()
        return suspects(&self.s)

    def pack(self):
        """The image of the prepared records (call after check_zone accepted them)."""
        cdef uint32_t *extra = NULL
        cdef uint32_t *marks = NULL
        cdef size_t nextra = 0
        cdef size_t nmarks = 0
        if not self.prepared or self.s.nnodes == 0:
            raise ValueError("nothing to pack")
        try:
            extra = <uint32_t *>malloc((self.s.extra_bound + 1) * 4)
            marks = <uint32_t *>malloc((self.s.extra_bound + 1) * 4)
            if extra == NULL or marks == NULL:
                raise MemoryError()
            extra[0] = 0
            nextra = 1
            find_targets(&self.s, extra, &nextra, marks, &nmarks)
            let_others_run()
            return write_image(&self.s, extra, nextra, marks, nmarks)
        finally:
            free(extra)
            free(marks)


cdef void _bitmap(uint8_t *bits, object types) except *:
    memset(bits, 0, 8192)
    cdef int t
    for t in types:
        bits[(t & 0xFFFF) >> 3] |= 1 << (t & 7)

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Read-only view of one zone image (its layout: _snapshot.pxd).

The image is validated once when the Snapshot is made, so the lookups used per query can
trust every offset in it.
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from fastdns._reader cimport NAME_MAX
from fastdns._names cimport lk_cmp, name_to_lk, name_len, wire_name_ok
from fastdns._encoder cimport rdata_ok
from fastdns._gil cimport YIELD_EVERY, let_others_run

#: the layout's version and magic (this host's byte order), for tests and tools
VERSION = IMAGE_VERSION
MAGIC = image_magic()[:8]
#: node flags (see _snapshot.pxd)
#: the size of the security section's header (fastdns.dnssec.imagesec writes it)
SEC_HEADER_SIZE = sizeof(SecHeader)
cdef ImageHeader _probe
#: where ImageHeader holds ``size`` and ``sec_off`` (fastdns.dnssec.imagesec writes them,
#: the image cache reads the latter), for Python
HEADER_SIZE_AT = <char *>&_probe.size - <char *>&_probe
HEADER_SEC_OFF_AT = <char *>&_probe.sec_off - <char *>&_probe
#: its flags, for Python
SECURITY_FLAGS = {"nsec3": SEC_NSEC3, "narrow": SEC_NARROW, "have-zsk": SEC_HAVE_ZSK,
                  "broken": SEC_BROKEN, "presigned": SEC_PRESIGNED}
NODE_FLAGS = {"apex": N_APEX, "cut": N_CUT, "dname": N_DNAME, "cname": N_CNAME, "ent": N_ENT,
              "wildcard": N_WILDCARD, "nonauth": N_NONAUTH, "address": N_ADDRESS}


cdef const char *image_magic() noexcept nogil:
    cdef uint16_t probe = 1
    return b"FDNSZILE" if (<uint8_t *>&probe)[0] == 1 else b"FDNSZIBE"


cdef inline uint64_t _extra_end(const ImageHeader *h) noexcept nogil:
    return h.sec_off if h.sec_off else h.size


class ImageError(ValueError):
    """A zone image that is not well formed."""


cdef class Snapshot:
    """An immutable zone: the image plus its generation number.

    ``buffer`` is any object exporting a read-only buffer (``bytes``, ``mmap``); it is kept
    alive by the snapshot. A ``trusted`` image (one the manager checked when it compiled it,
    in a sealed bundle: a worker's zone index names it) has its header checked only, so that
    making its snapshot costs the same for a zone of ten records or of a million.
    """

    def __cinit__(self, object buffer, uint64_t generation=0, bint trusted=False):
        # the view is held for the snapshot's life: an mmap cannot be closed or resized
        # under it, a bytes object cannot move
        PyObject_GetBuffer(buffer, &self._view, PyBUF_SIMPLE)
        self._has_view = True
        self._buffer = buffer
        self.base = <const uint8_t *>self._view.buf
        self._validate(self._view.len, trusted)
        self.generation = generation
        cdef int lklen
        cdef const uint8_t *lk = self.node_lk(0, &lklen)
        self.apex_lk = lk[:lklen]
        self.origin = self.node_name(0)[:name_len(self.node_name(0))]

    cdef _validate(self, Py_ssize_t size, bint trusted=False):
        """Check every invariant the engine relies on, so that no image can crash it."""
        cdef const ImageHeader *h
        if size < <Py_ssize_t>sizeof(ImageHeader):
            raise ImageError("image shorter than its header")
        h = <const ImageHeader *>self.base
        if memcmp(h.magic, image_magic(), 8) != 0:
            raise ImageError("bad magic (not an image, or another byte order)")
        if h.version != IMAGE_VERSION:
            raise ImageError(f"image version {h.version}, expected {IMAGE_VERSION}")
        if h.size != <uint64_t>size or h.node_count == 0:
            raise ImageError("image size or node count wrong")
        if not (sizeof(ImageHeader) <= h.nodes_off <= h.rrsets_off <= h.names_off
                <= h.rdata_off <= h.extra_off <= h.size):
            raise ImageError("image sections out of order")
        if h.nodes_off % 8 or h.rrsets_off % 8 or h.extra_off % 4:
            raise ImageError("image sections misaligned")
        if h.nodes_off + <uint64_t>h.node_count * sizeof(NodeRec) > h.rrsets_off:
            raise ImageError("node table overruns")
        if h.rrsets_off + <uint64_t>h.rrset_count * sizeof(RRsetRec) > h.names_off:
            raise ImageError("rrset table overruns")
        self.hdr = h
        self.nodes = <const NodeRec *>(self.base + h.nodes_off)
        self.rrsets = <const RRsetRec *>(self.base + h.rrsets_off)
        self.names = self.base + h.names_off
        self.rdata = self.base + h.rdata_off
        self.extra = <const uint32_t *>(self.base + h.extra_off)
        self.nnodes = h.node_count
        if (_extra_end(h) - h.extra_off) // 4 < 1 or self.extra[0] != 0:
            raise ImageError("extra section malformed")
        self._validate_security(trusted)
        cdef uint32_t i
        if trusted:
            return
        # a big zone takes tens of milliseconds: other threads (a worker's UDP thread, the
        # manager's event loop) take turns meanwhile
        for i in range(self.nnodes):
            self._validate_names(i)
            if i % (4 * YIELD_EVERY) == 4 * YIELD_EVERY - 1:
                let_others_run()
        for i in range(self.nnodes):
            self._validate_node(i)
            if i % (4 * YIELD_EVERY) == 4 * YIELD_EVERY - 1:
                let_others_run()
        if h.soa_rrset >= h.rrset_count or self.rrsets[h.soa_rrset].rdtype != 6 \
                or not (self.nodes[0].rrset_start <= h.soa_rrset
                        < self.nodes[0].rrset_start + self.nodes[0].rrset_count):
            raise ImageError("no SOA record at the apex")

    cdef _validate_security(self, bint trusted):
        """The security section's tables lie inside the image, in order; untrusted, every
        offset in them is checked too."""
        cdef const ImageHeader *h = self.hdr
        cdef const SecHeader *sec
        cdef uint64_t end
        cdef uint32_t i
        self.sec = NULL
        if h.sec_off == 0:
            return
        if h.sec_off % 8 or h.sec_off < h.extra_off or h.sec_off + sizeof(SecHeader) > h.size:
            raise ImageError("security section out of place")
        sec = <const SecHeader *>(self.base + h.sec_off)
        end = h.size
        if not (h.sec_off + sizeof(SecHeader) <= sec.keys_off
                and sec.keys_off + <uint64_t>sec.key_count * sizeof(SecKey) <= sec.canon_off
                and sec.canon_off + <uint64_t>h.rrset_count * 4 <= sec.link_off
                and sec.link_off + <uint64_t>h.node_count * 4 <= sec.chain_off
                and sec.chain_off + <uint64_t>sec.chain_count * sizeof(NSEC3Rec)
                <= sec.canon_data_off <= end
                and sec.canon_off % 4 == 0 and sec.link_off % 4 == 0
                and sec.chain_off % 4 == 0):
            raise ImageError("security section's tables out of place")
        if sec.signer_len == 0 or (sec.key_count == 0) != bool(
                sec.flags & (SEC_BROKEN | SEC_PRESIGNED)):
            raise ImageError("security section malformed")
        self.sec = sec
        self.keys = <const SecKey *>(self.base + sec.keys_off)
        self.canon = <const uint32_t *>(self.base + sec.canon_off)
        self.links = <const uint32_t *>(self.base + sec.link_off)
        self.chain = <const NSEC3Rec *>(self.base + sec.chain_off)
        self.canon_data = self.base + sec.canon_data_off
        if trusted:
            return
        if not wire_name_ok(sec.signer, sec.signer_len, sec.signer_len):
            raise ImageError("security section: bad signer name")
        for i in range(h.node_count):
            if self.links[i] != NOT_LINKED and (
                    self.links[i] >= (sec.chain_count if sec.flags & SEC_NSEC3
                                      else h.node_count)):
                raise ImageError(f"security section: node {i}: link out of range")
        for i in range(sec.chain_count):
            if self.chain[i].node >= h.node_count:
                raise ImageError(f"security section: chain entry {i} out of range")
        cdef uint64_t p, size = end - sec.canon_data_off
        cdef uint32_t k
        for i in range(h.rrset_count):
            if self.canon[i] == NO_CANON:
                continue
            p = self.canon[i]
            for k in range(self.rrsets[i].count):
                if p + 2 > size or p + 2 + rd_u16(self.canon_data + p) > size:
                    raise ImageError(f"security section: rrset {i}: canonical rdata overruns")
                p += 2 + rd_u16(self.canon_data + p)

    cdef _validate_names(self, uint32_t i):
        """Key and owner of node ``i`` are well formed, agree, and sort after node i-1."""
        cdef const NodeRec *n = &self.nodes[i]
        cdef uint64_t names_size = self.hdr.rdata_off - self.hdr.names_off
        cdef int lklen, plen, p
        cdef const uint8_t *lk
        cdef const uint8_t *prev
        cdef uint8_t expect[256]
        if n.lk_off >= names_size or n.lk_off + 1 + <uint64_t>self.names[n.lk_off] > names_size:
            raise ImageError(f"node {i}: key outside the names section")
        lk = self.node_lk(i, &lklen)
        p = 0
        while p < lklen:
            if lk[p] == 0 or lk[p] > 63:
                raise ImageError(f"node {i}: bad label in key")
            p += lk[p] + 1
        if p != lklen or lklen > NAME_MAX - 1:
            raise ImageError(f"node {i}: key malformed")
        if n.name_off >= names_size or n.name_off + <uint64_t>lklen + 1 > names_size \
                or not wire_name_ok(self.names + n.name_off, names_size - n.name_off, lklen + 1):
            raise ImageError(f"node {i}: owner name malformed")
        name_to_lk(self.names + n.name_off, lklen + 1, expect)
        if memcmp(expect, lk, lklen) != 0:
            raise ImageError(f"node {i}: owner name and key disagree")
        if i == 0:
            if not n.flags & N_APEX:
                raise ImageError("node 0 is not the apex")
            return
        prev = self.node_lk(i - 1, &plen)
        if lk_cmp(prev, plen, lk, lklen) >= 0:
            raise ImageError(f"node {i}: nodes not in canonical order")
        cdef int apex_len
        cdef const uint8_t *apex = self.node_lk(0, &apex_len)
        if lklen <= apex_len or memcmp(apex, lk, apex_len) != 0 or n.flags & N_APEX:
            raise ImageError(f"node {i}: not below the apex")

    cdef _validate_node(self, uint32_t i):
        """RRsets, flags and links of node ``i``."""
        cdef const NodeRec *n = &self.nodes[i]
        cdef const RRsetRec *rs
        cdef uint64_t rdata_size = self.hdr.extra_off - self.hdr.rdata_off
        cdef uint64_t extra_words = (_extra_end(self.hdr) - self.hdr.extra_off) // 4
        cdef uint64_t p
        cdef uint32_t j, k, count
        cdef uint16_t rdlen
        cdef int lklen, alen
        cdef const uint8_t *lk = self.node_lk(i, &lklen)
        cdef const uint8_t *other
        if <uint64_t>n.rrset_start + n.rrset_count > self.hdr.rrset_count:
            raise ImageError(f"node {i}: RRsets out of range")
        for j in range(n.rrset_start, n.rrset_start + n.rrset_count):
            rs = &self.rrsets[j]
            if rs.count == 0:
                raise ImageError(f"rrset {j}: empty")
            p = rs.rdata_off
            for k in range(rs.count):
                if p + 2 > rdata_size:
                    raise ImageError(f"rrset {j}: rdata out of range")
                rdlen = rd_u16(self.rdata + p)
                if p + 2 + rdlen > rdata_size or not rdata_ok(rs.rdtype, self.rdata + p + 2,
                                                              rdlen):
                    raise ImageError(f"rrset {j}: rdata malformed")
                if rs.rdtype == 39 and not wire_name_ok(self.rdata + p + 2, rdlen, rdlen):
                    raise ImageError(f"rrset {j}: DNAME target malformed")
                p += 2 + rdlen
            if rs.extra_off:
                if rs.extra_off >= extra_words \
                        or rs.extra_off + 1 + <uint64_t>self.extra[rs.extra_off] > extra_words:
                    raise ImageError(f"rrset {j}: extra list out of range")
                count = self.extra[rs.extra_off]
                for k in range(count):
                    # a node number, with no flag but EXTRA_RRSET
                    if self.extra[rs.extra_off + 1 + k] & ~EXTRA_RRSET >= self.nnodes:
                        raise ImageError(f"rrset {j}: extra target out of range")
        # what the flags promise, the RRsets must hold
        if n.flags & N_CUT and self.rrset(i, 2) == NULL \
                or n.flags & N_DNAME and self.rrset(i, 39) == NULL \
                or n.flags & N_CNAME and self.rrset(i, 5) == NULL:
            raise ImageError(f"node {i}: flags without their RRsets")
        if n.above:
            if n.above > self.nnodes or not self.nodes[n.above - 1].flags & (N_CUT | N_DNAME):
                raise ImageError(f"node {i}: redirect link to a node that does not redirect")
            other = self.node_lk(n.above - 1, &alen)
            if alen >= lklen or memcmp(other, lk, alen) != 0 or lk[alen] + alen + 1 > lklen:
                raise ImageError(f"node {i}: redirect link to a node that is not an ancestor")
        if n.wild:
            if n.wild > self.nnodes:
                raise ImageError(f"node {i}: wildcard link out of range")
            other = self.node_lk(n.wild - 1, &alen)
            if alen != lklen + 2 or memcmp(other, lk, lklen) != 0 \
                    or other[lklen] != 1 or other[lklen + 1] != 42:
                raise ImageError(f"node {i}: wildcard link to a node that is not its '*' child")

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)

    # -- C API -------------------------------------------------------------------------

    cdef int find(self, const uint8_t *lk, int lklen, bint *exact) noexcept nogil:
        """Index of the node with key ``lk`` (exact=1), or of its canonical predecessor
        (exact=0); -1 when ``lk`` sorts before the apex (not in this zone)."""
        cdef int lo = 0
        cdef int hi = self.nnodes
        cdef int mid, c, nlen
        cdef const uint8_t *nk
        exact[0] = False
        while lo < hi:
            mid = (lo + hi) >> 1
            nk = self.node_lk(mid, &nlen)
            c = lk_cmp(nk, nlen, lk, lklen)
            if c == 0:
                exact[0] = True
                return mid
            if c < 0:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    cdef const RRsetRec *rrset(self, uint32_t node, uint16_t rdtype) noexcept nogil:
        cdef const NodeRec *n = &self.nodes[node]
        cdef uint32_t i
        for i in range(n.rrset_start, n.rrset_start + n.rrset_count):
            if self.rrsets[i].rdtype == rdtype:
                return &self.rrsets[i]
        return NULL

    cdef const uint8_t *node_lk(self, uint32_t node, int *lklen) noexcept nogil:
        cdef const uint8_t *p = self.names + self.nodes[node].lk_off
        lklen[0] = p[0]
        return p + 1

    cdef const uint8_t *node_name(self, uint32_t node) noexcept nogil:
        return self.names + self.nodes[node].name_off

    # -- Python API (tests, tools, the control plane) ----------------------------------

    def __len__(self):
        return self.nnodes

    @property
    def serial(self):
        return self.hdr.serial

    @property
    def neg_ttl(self):
        return self.hdr.neg_ttl

    @property
    def nbytes(self):
        return self.hdr.size

    def lookup(self, bytes name not None):
        """(index, exact) for a wire name, as ``find``."""
        cdef uint8_t lk[256]
        cdef bint exact
        cdef int n
        if len(name) > NAME_MAX:
            raise ValueError("name too long")
        n = name_to_lk(name, len(name), lk)
        return self.find(lk, n, &exact), bool(exact)

    @property
    def signed(self):
        """Does the image carry a security section (signed online, presigned, or its
        DNSSEC broken)?"""
        return self.sec != NULL

    @property
    def security_flags(self):
        """The security section's flags (SEC_* of _snapshot.pxd; 0: none)."""
        return self.sec.flags if self.sec != NULL else 0

    def node(self, uint32_t index):
        """(owner wire name, flags, above, wild) of node ``index``."""
        if index >= self.nnodes:
            raise IndexError(index)
        cdef const NodeRec *n = &self.nodes[index]
        cdef const uint8_t *name = self.node_name(index)
        return name[:name_len(name)], n.flags, n.above, n.wild

    def node_rrsets(self, uint32_t index):
        """[(rdtype, ttl, [rdata, ...], [additional target node, ...]), ...] of a node."""
        if index >= self.nnodes:
            raise IndexError(index)
        cdef const NodeRec *n = &self.nodes[index]
        cdef const RRsetRec *rs
        cdef uint32_t i, k, p, rdlen
        out = []
        for i in range(n.rrset_start, n.rrset_start + n.rrset_count):
            rs = &self.rrsets[i]
            rdatas = []
            p = rs.rdata_off
            for k in range(rs.count):
                rdlen = rd_u16(self.rdata + p)
                rdatas.append(self.rdata[p + 2:p + 2 + rdlen])
                p += 2 + rdlen
            targets = []
            if rs.extra_off:
                for k in range(self.extra[rs.extra_off]):
                    targets.append(self.extra[rs.extra_off + 1 + k])
            out.append((rs.rdtype, rs.ttl, rdatas, targets))
        return out

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DNSSEC in answers: RRSIGs from the shared signature cache, NSEC and NSEC3 proofs.

An answer to a query with DO=1 from a zone signed online (its image has a security
section, fastdns.dnssec.imagesec) carries, for every authoritative RRset it holds, one RRSIG
per active key (a KSK signs DNSKEY, CDS and CDNSKEY only when an active ZSK of its
algorithm is there to sign the rest, as PowerDNS: fastdns.dnssec.imagesec.roles), and the NSEC or NSEC3 records that prove a name or a type absent (RFC 4035
§3.1.3, RFC 5155 §7.2): noted by the lookup as it goes (proof_*), written at the end of the
authority section (sig_proofs), each signed too.

The RRSIG's validity is PowerDNS's weekly window (DESIGN §5): inception the Thursday 00:00
UTC before last, expiry two weeks after the last. The data signed (RFC 4034 §3.1.8.1: the
RRSIG's fields, then the RRset in canonical form and order) is hashed into the cache key, so
an entry is right for exactly those records under that key and window, whichever zone
version or process asked for it. A signature the cache lacks is a request (the cache key
and the data) left in ``Signing.pending`` for the worker to send to a signer; the query
waits for the key (WAIT_SIGNATURE) and is answered again when the signer has put it in.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memcmp, memset

from fastdns.consts cimport *
from fastdns._names cimport name_len, lk_to_name
from fastdns._reader cimport put_u16, put_u32
from fastdns._encoder cimport b_rr
from fastdns._answer cimport (Answer, Proof, PROOFS_MAX, PROOF_NSEC, PROOF_NSEC3,
                              PROOF_NARROW, NO_NODE, SEC_AUTHORITY, ans_reset)
from fastdns._snapshot cimport (Snapshot, RRsetRec, NodeRec, SecHeader, SecKey, NSEC3Rec,
                                rd_u16, N_CUT, N_ENT, N_NONAUTH, SEC_NSEC3, SEC_NARROW,
                                SEC_HAVE_ZSK, SEC_BROKEN, SEC_PRESIGNED, KEY_KSK, KEY_ALL, NO_CANON,
                                NOT_LINKED)
from fastdns._sigcache cimport SigCache, sig_key

cdef extern from "<openssl/sha.h>" nogil:
    unsigned char *SHA1(const unsigned char *d, size_t n, unsigned char *md)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    time_t time(time_t *t)

cdef enum:
    FIELDS = 18               # RRSIG rdata before the signer's name
    SIG_MAX = 512
    RECORD_MAX = 2 + 256 + 255 + 6 + 20 + 8704   # an NSEC or NSEC3 rdata, at most

#: for Python: the wait type of a query waiting for a signature
WAIT_TYPE = WAIT_SIGNATURE
#: seconds before the weekly turn from which signatures in use are made for the next window
PRESIGN_SECONDS = PRESIGN_AHEAD

cdef const char *B32HEX = b"0123456789abcdefghijklmnopqrstuv"


cdef class Signing:
    """What an engine signs with: the shared signature cache (None: every signature is
    asked of a signer), the requests not yet sent, the current window."""

    def __cinit__(self):
        self.data = <uint8_t *>malloc(SIGN_DATA_MAX)
        if self.data == NULL:
            raise MemoryError()
        self.pending = {}

    def __init__(self, SigCache cache=None, uint32_t ahead=PRESIGN_AHEAD):
        self.cache = cache
        self.skew = 0
        self.ahead = ahead
        self.background = {}

    def __dealloc__(self):
        free(self.data)

    cdef void window(self, uint32_t now) noexcept:
        cdef uint32_t week = now // WEEK
        if week != self.week or self.expiration == 0:
            self.week = week
            self.inception = week * WEEK - WEEK
            self.expiration = week * WEEK + 2 * WEEK
        # the last PRESIGN_AHEAD seconds of the week: signatures in use get their
        # successors (presign)
        self.presigning = self.cache is not None and self.ahead > 0 \
            and now >= (week + 1) * WEEK - self.ahead

    # -- Python API (the worker; tests) -------------------------------------------------

    def take_requests(self):
        """The signature requests since the last call: [(wait name, request), ...]; a
        request is the 16-octet cache key, the signing key's 8-octet digest, then the data
        to sign (RRSIG fields first)."""
        out = list(self.pending.items())
        self.pending.clear()
        return out

    def sign_zone(self, Snapshot snap not None, uint32_t start=0, int budget=256):
        """Ask ahead (take_background) for up to ``budget`` signatures of the zone
        ``snap`` the cache lacks, from node ``start``: (asked, where to go on), the node
        count when the zone is done."""
        cdef uint32_t cursor = start
        cdef int asked = sign_zone_ahead(self, snap, &cursor, budget)
        return asked, cursor

    def take_background(self):
        """The requests made ahead (presign) since the last call: [request, ...]; no
        query waits for them."""
        out = list(self.background.values())
        self.background.clear()
        return out

    @property
    def requests_pending(self):
        return len(self.pending)

    def set_clock(self, int skew):
        """Sign as if the wall clock were ``skew`` seconds ahead (tests of the weekly
        turn)."""
        self.skew = skew
        self.expiration = 0

    def window_at(self, uint32_t now):
        """(inception, expiration) of the signatures made at wall-clock ``now``."""
        self.window(now)
        return self.inception, self.expiration


cdef inline uint32_t wall_clock(Signing sg) noexcept:
    return <uint32_t>(time(NULL) + sg.skew)


cdef int lower_name(const uint8_t *src, uint8_t *dst) noexcept nogil:
    """Copy the wire name ``src`` in lower case; its length."""
    cdef int n = name_len(src)
    cdef int i
    cdef uint8_t c
    for i in range(n):
        c = src[i]
        dst[i] = c + 32 if 65 <= c <= 90 else c
    return n


cdef int rrsig_labels(const uint8_t *name) noexcept nogil:
    """The RRSIG labels field of owner ``name``: its labels, a leading '*' not counted."""
    cdef int labels = 0, p = 0
    if name[0] == 1 and name[1] == 42:
        p = 2
    while name[p]:
        labels += 1
        p += name[p] + 1
    return labels


cdef bint signs(Answer *a, Snapshot snap, int node, uint16_t rdtype) noexcept:
    """Does an RRset of ``rdtype`` at ``node`` get RRSIGs in this answer? Only in a zone
    signed online, for DO=1, and only authoritative data: not a delegation's NS, not glue."""
    cdef uint16_t flags
    if a.signing == NULL or snap.sec == NULL or snap.sec.flags & SEC_BROKEN:
        return False
    flags = snap.nodes[node].flags
    if flags & N_NONAUTH:
        return False
    return not (flags & N_CUT) or rdtype == TYPE_DS or rdtype == TYPE_NSEC


cdef int fields(Signing sg, Snapshot snap, uint16_t rdtype, int labels, uint32_t ttl,
                uint8_t *out) noexcept:
    """The RRSIG's fields before the signature (algorithm and key tag left for the key);
    their length."""
    put_u16(out, rdtype)
    out[2] = 0
    out[3] = labels
    put_u32(out + 4, ttl)
    put_u32(out + 8, sg.expiration)
    put_u32(out + 12, sg.inception)
    put_u16(out + 16, 0)
    memcpy(out + FIELDS, snap.sec.signer, snap.sec.signer_len)
    return FIELDS + snap.sec.signer_len


cdef int canon_rr(uint8_t *data, int pos, const uint8_t *owner_lc, int olen, uint16_t rdtype,
                  uint32_t ttl, const uint8_t *rdata, int rdlen) noexcept:
    """Append one record in canonical form; the new position, or -1 past SIGN_DATA_MAX."""
    if pos + olen + 10 + rdlen > SIGN_DATA_MAX:
        return -1
    memcpy(data + pos, owner_lc, olen)
    pos += olen
    put_u16(data + pos, rdtype)
    put_u16(data + pos + 2, CLASS_IN)
    put_u32(data + pos + 4, ttl)
    put_u16(data + pos + 8, rdlen)
    memcpy(data + pos + 10, rdata, rdlen)
    return pos + 10 + rdlen


cdef int sig_rrset(Answer *a, int section, Snapshot snap, int node, const RRsetRec *rs,
                   const uint8_t *owner, int owner_len, uint32_t ttl) noexcept:
    cdef Signing sg = <Signing>a.signing
    cdef int length
    if ttl == 0:
        ttl = rs.ttl
    if snap.sec.flags & SEC_PRESIGNED:
        return stored_sigs(a, section, snap, node, rs.rdtype, owner, owner_len, ttl)
    length = rrset_data(sg, snap, node, rs)
    if length < 0:
        sg.too_big += 1
        ans_reset(a, RCODE_SERVFAIL, 0)
        return -2
    return put_sigs(a, sg, snap, section, rs.rdtype, owner, owner_len, ttl, length)


cdef int sig_rdatas(Answer *a, int section, Snapshot snap, int node, uint16_t rdtype,
                    uint32_t ttl, list rdatas, const uint8_t *owner, int owner_len) noexcept:
    """The RRSIGs of records the zone does not hold (an ALIAS target's addresses, found by
    the resolver): ``rdatas`` (wire, no embedded names) of ``rdtype`` at ``node``, signed
    as served (``ttl``), as PowerDNS signs them. As sig_rrset returns."""
    cdef Signing sg = <Signing>a.signing
    cdef uint8_t owner_lc[256]
    cdef const uint8_t *name = snap.node_name(node)
    cdef int olen = lower_name(name, owner_lc)
    cdef int pos
    cdef bytes rdata
    if not signs(a, snap, node, rdtype) or snap.sec.flags & SEC_PRESIGNED:
        return 0
    sg.window(wall_clock(sg))
    pos = fields(sg, snap, rdtype, rrsig_labels(name), ttl, sg.data)
    for rdata in sorted(rdatas):                  # canonical order (RFC 4034 §6.3)
        pos = canon_rr(sg.data, pos, owner_lc, olen, rdtype, ttl, rdata, len(rdata))
        if pos < 0:
            sg.too_big += 1
            ans_reset(a, RCODE_SERVFAIL, 0)
            return -2
    return put_sigs(a, sg, snap, section, rdtype, owner, owner_len, ttl, pos)


cdef int stored_sigs(Answer *a, int section, Snapshot snap, int node, uint16_t rdtype,
                     const uint8_t *owner, int owner_len, uint32_t ttl) noexcept:
    """A presigned zone's own RRSIGs over ``rdtype`` at ``node``, served at ``owner``."""
    cdef const RRsetRec *rs = snap.rrset(node, TYPE_RRSIG)
    cdef uint32_t p, k
    cdef uint16_t rdlen
    cdef const uint8_t *rd
    if rs == NULL:
        return 0
    p = rs.rdata_off
    for k in range(rs.count):
        rdlen = rd_u16(snap.rdata + p)
        rd = snap.rdata + p + 2
        if rdlen >= 2 and ((rd[0] << 8) | rd[1]) == rdtype:
            if b_rr(&a.b, section, owner, owner_len, TYPE_RRSIG, CLASS_IN, ttl, rd,
                    rdlen) < 0:
                return -1
        p += 2 + rdlen
    return 0


cdef int put_stored_proof(Answer *a, Snapshot snap, int node, uint16_t rdtype) noexcept:
    """A presigned zone's own NSEC or NSEC3 RRset at ``node``, with its RRSIGs."""
    cdef const RRsetRec *rs = snap.rrset(node, rdtype)
    cdef const uint8_t *owner = snap.node_name(node)
    cdef int olen = name_len(owner)
    cdef uint32_t p, k
    cdef uint16_t rdlen
    if rs == NULL:
        return 0
    p = rs.rdata_off
    for k in range(rs.count):
        rdlen = rd_u16(snap.rdata + p)
        if b_rr(&a.b, SEC_AUTHORITY, owner, olen, rdtype, CLASS_IN, rs.ttl,
                snap.rdata + p + 2, rdlen) < 0:
            ans_reset(a, a.rcode, FLAG_TC)
            return -1
        p += 2 + rdlen
    if stored_sigs(a, SEC_AUTHORITY, snap, node, rdtype, owner, olen, rs.ttl) < 0:
        ans_reset(a, a.rcode, FLAG_TC)
        return -1
    return 0


cdef int put_sigs(Answer *a, Signing sg, Snapshot snap, int section, uint16_t rdtype,
                  const uint8_t *owner, int owner_len, uint32_t ttl, int length) noexcept:
    """One RRSIG per key that signs ``rdtype``, over ``sg.data[:length]``: from the cache,
    or, missing, asked of a signer (the answer then waits)."""
    cdef const SecHeader *sec = snap.sec
    cdef const SecKey *key
    cdef bint keyset = rdtype == TYPE_DNSKEY or rdtype == TYPE_CDS or rdtype == TYPE_CDNSKEY
    cdef int k, n
    cdef int head = FIELDS + sec.signer_len
    cdef uint8_t ck[16]
    cdef uint8_t rr[FIELDS + 256 + SIG_MAX]
    for k in range(sec.key_count):
        key = &snap.keys[k]
        if sec.flags & SEC_HAVE_ZSK and not key.role & KEY_ALL \
                and bool(key.role & KEY_KSK) != keyset:
            continue
        sg.data[2] = key.algorithm
        put_u16(sg.data + 16, key.tag)
        n = -1
        if sg.cache is not None:
            cache_key(sg, key, length, ck)
            n = sg.cache.sc_get(ck, rr + head, a.now)
        else:
            _fallback_key(sg.data, length, ck)
        if n < 0:
            sg.misses += 1
            _ask(a, sg, key, ck, length)
            continue
        sg.hits += 1
        if sg.presigning:
            presign(sg, key, length)
        if a.waiting:
            continue           # the answer is made again when the signatures are in
        memcpy(rr, sg.data, head)
        if b_rr(&a.b, section, owner, owner_len, TYPE_RRSIG, CLASS_IN, ttl, rr,
                head + n) < 0:
            return -1
    return 0


cdef inline void cache_key(Signing sg, const SecKey *key, int length,
                           uint8_t *ck) noexcept:
    """The cache key of sg.data[:length] signed by ``key``: the data's hash, with the
    key's own digest in it (two keys of one tag never share signatures)."""
    cdef int i
    sig_key(sg.cache, sg.data, length, ck)
    for i in range(8):
        ck[i] ^= key.id[i]


cdef void presign(Signing sg, const SecKey *key, int length) noexcept:
    """Before the weekly window turns, a signature in use has its successor made ahead:
    the same data under the next window, asked of a signer in the background (no query
    waits for it) when the cache lacks it, so that the turn brings no burst of signing on
    the query path (DESIGN §5)."""
    cdef uint8_t ck[16]
    cdef uint8_t sig[SIG_MAX]
    cdef bytes request
    put_u32(sg.data + 8, sg.expiration + WEEK)
    put_u32(sg.data + 12, sg.inception + WEEK)
    cache_key(sg, key, length, ck)
    if sg.cache.sc_get(ck, sig, 0) < 0 and len(sg.background) < BACKGROUND_MAX:
        request = request_of(sg, key, ck, length)
        sg.background[request[:16]] = request
    put_u32(sg.data + 8, sg.expiration)
    put_u32(sg.data + 12, sg.inception)


cdef void _fallback_key(const uint8_t *data, int length, uint8_t *out) noexcept:
    """A cache key without a cache (an engine made without one, in tests): SHA-1 of the
    data, its first 16 octets."""
    cdef uint8_t digest[20]
    SHA1(data, length, digest)
    memcpy(out, digest, 16)


cdef bytes request_of(Signing sg, const SecKey *key, const uint8_t *ck, int length):
    """A signer's request: the cache key, the signing key's digest (which key), the data
    (fastdns.server.signer)."""
    cdef bytes request = PyBytes_FromStringAndSize(NULL, 16 + 8 + length)
    cdef uint8_t *p = <uint8_t *><char *>request
    memcpy(p, ck, 16)
    memcpy(p + 16, key.id, 8)
    memcpy(p + 24, sg.data, length)
    return request


cdef void _ask(Answer *a, Signing sg, const SecKey *key, const uint8_t *ck,
               int length) noexcept:
    """Note a signature to request, and make the answer wait for it."""
    cdef bytes wait = PyBytes_FromStringAndSize(NULL, WAIT_NAME_LEN)
    cdef uint8_t *w = <uint8_t *><char *>wait
    w[0] = 16
    memcpy(w + 1, ck, 16)
    w[17] = 0
    if wait not in sg.pending:
        sg.pending[wait] = request_of(sg, key, ck, length)
    if not a.waiting:
        a.waiting = True
        a.res.wait_type = WAIT_SIGNATURE
        a.res.wait_name_len = WAIT_NAME_LEN
        memcpy(a.res.wait_name, w, WAIT_NAME_LEN)


# -- NSEC3 hashes -------------------------------------------------------------------------

cdef void nsec3_hash(const SecHeader *sec, const uint8_t *lk, int lklen,
                     uint8_t out[20]) noexcept:
    """RFC 5155 §5: the hash of the name with lookup key ``lk`` (lower case already)."""
    cdef uint8_t buf[256 + 256]
    cdef int n = lk_to_name(lk, lklen, buf)
    cdef int i
    memcpy(buf + n, sec.salt, sec.salt_len)
    SHA1(buf, n + sec.salt_len, out)
    for i in range(sec.iterations):
        memcpy(buf, out, 20)
        memcpy(buf + 20, sec.salt, sec.salt_len)
        SHA1(buf, 20 + sec.salt_len, out)


cdef void hash_step(uint8_t *h, int delta) noexcept:
    """``h`` plus or minus one, as a 160-bit number (wrapping)."""
    cdef int i = 19
    if delta > 0:
        while i >= 0:
            h[i] = (h[i] + 1) & 0xFF
            if h[i] != 0:
                return
            i -= 1
    else:
        while i >= 0:
            h[i] = (h[i] - 1) & 0xFF
            if h[i] != 0xFF:
                return
            i -= 1


cdef int hashed_owner(const SecHeader *sec, const uint8_t *h, uint8_t *out) noexcept:
    """base32hex(h).<apex>, in wire form; its length."""
    cdef int i, bit, v, k
    out[0] = 32
    for i in range(32):
        bit = i * 5
        k = bit >> 3
        v = (h[k] << 8) | (h[k + 1] if k + 1 < 20 else 0)
        out[1 + i] = B32HEX[(v >> (11 - (bit & 7))) & 31]
    memcpy(out + 33, sec.signer, sec.signer_len)
    return 33 + sec.signer_len


# -- noting the proofs ---------------------------------------------------------------------

cdef void note(Answer *a, Snapshot snap, int kind, uint32_t index, const uint8_t *h) noexcept:
    cdef int i
    cdef Proof *p
    for i in range(a.nproofs):
        p = &a.proofs[i]
        if p.snap == <PyObject *>snap and p.kind == kind and p.index == index and (
                kind != PROOF_NARROW or memcmp(p.hash, h, 20) == 0):
            return
    if a.nproofs == PROOFS_MAX:
        return
    p = &a.proofs[a.nproofs]
    a.nproofs += 1
    p.snap = <PyObject *>snap
    p.kind = kind
    p.index = index
    if h != NULL:
        memcpy(p.hash, h, 20)


cdef inline bint proving(Answer *a, Snapshot snap) noexcept:
    return a.signing != NULL and snap.sec != NULL and not snap.sec.flags & SEC_BROKEN


cdef void nsec_cover(Answer *a, Snapshot snap, int i) noexcept:
    """The NSEC whose owner is node ``i`` or the nearest before it in the chain."""
    while i > 0 and snap.links[i] == NOT_LINKED:
        i -= 1
    note(a, snap, PROOF_NSEC, i, NULL)


cdef void nsec_cover_lk(Answer *a, Snapshot snap, const uint8_t *lk, int lklen) noexcept:
    cdef bint exact
    cdef int i = snap.find(lk, lklen, &exact)
    nsec_cover(a, snap, i if i > 0 else 0)


cdef void nsec3_match(Answer *a, Snapshot snap, int node) noexcept:
    cdef uint8_t h[20]
    cdef int lklen
    cdef const uint8_t *lk
    if snap.sec.flags & SEC_NARROW:
        lk = snap.node_lk(node, &lklen)
        nsec3_hash(snap.sec, lk, lklen, h)
        note(a, snap, PROOF_NARROW, node, h)
    elif snap.links[node] != NOT_LINKED:
        note(a, snap, PROOF_NSEC3, snap.links[node], NULL)


cdef void nsec3_cover(Answer *a, Snapshot snap, const uint8_t *lk, int lklen) noexcept:
    """The NSEC3 covering the hash of the name ``lk``."""
    cdef uint8_t h[20]
    cdef int lo = 0, hi, mid
    nsec3_hash(snap.sec, lk, lklen, h)
    if snap.sec.flags & SEC_NARROW:
        note(a, snap, PROOF_NARROW, NO_NODE, h)
        return
    hi = snap.sec.chain_count
    if hi == 0:
        return
    while lo < hi:           # the first entry whose hash is not below h
        mid = (lo + hi) >> 1
        if memcmp(snap.chain[mid].hash, h, 20) < 0:
            lo = mid + 1
        else:
            hi = mid
    # its predecessor covers h; before the first, the last entry does (the chain wraps)
    note(a, snap, PROOF_NSEC3, (lo if lo else snap.sec.chain_count) - 1, NULL)


cdef int next_closer(const uint8_t *lk, int lklen, int celen) noexcept:
    """The length of the lookup key of the next closer name: the closest encloser (key
    length ``celen``) and one more label of ``lk``."""
    if celen >= lklen:
        return lklen
    return celen + 1 + lk[celen]


cdef void proof_nodata(Answer *a, Snapshot snap, int node) noexcept:
    """NODATA at an existing name (RFC 4035 §3.1.3.1, RFC 5155 §7.2.3, §7.2.4)."""
    if not proving(a, snap):
        return
    if not snap.sec.flags & SEC_NSEC3:
        nsec_cover(a, snap, node)      # its own NSEC; an empty non-terminal's cover
    elif snap.sec.flags & SEC_NARROW or snap.links[node] != NOT_LINKED:
        nsec3_match(a, snap, node)
    else:
        proof_optout(a, snap, node)


cdef int provable_encloser(Snapshot snap, int node) noexcept:
    """The nearest proper ancestor of ``node`` in the NSEC3 chain (the apex at least)."""
    cdef int lklen, p = 0, i, last = 0
    cdef bint exact
    cdef const uint8_t *lk = snap.node_lk(node, &lklen)
    while p < lklen:
        p += lk[p] + 1
        if p >= lklen:
            break
        i = snap.find(lk, p, &exact)
        if exact and snap.links[i] != NOT_LINKED:
            last = i
    return last


cdef void proof_optout(Answer *a, Snapshot snap, int node) noexcept:
    """A name outside the NSEC3 chain (an insecure delegation under opt-out): the closest
    provable encloser's NSEC3 and the opt-out NSEC3 covering the next closer name
    (RFC 5155 §7.2.4)."""
    cdef int lklen, last, celen
    cdef const uint8_t *lk = snap.node_lk(node, &lklen)
    last = provable_encloser(snap, node)
    snap.node_lk(last, &celen)
    nsec3_match(a, snap, last)
    nsec3_cover(a, snap, lk, next_closer(lk, lklen, celen))


cdef void proof_nxdomain(Answer *a, Snapshot snap, int ce) noexcept:
    """NXDOMAIN (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2): the name and the wildcard at its
    closest encloser ``ce`` do not exist."""
    cdef int celen
    cdef uint8_t wild[256]
    cdef const uint8_t *ck
    if not proving(a, snap):
        return
    ck = snap.node_lk(ce, &celen)
    memcpy(wild, ck, celen)
    wild[celen] = 1
    wild[celen + 1] = 42
    if not snap.sec.flags & SEC_NSEC3:
        nsec_cover_lk(a, snap, a.lk, a.lk_len)
        nsec_cover_lk(a, snap, wild, celen + 2)
        return
    if not snap.sec.flags & SEC_NARROW and snap.links[ce] == NOT_LINKED:
        # an empty non-terminal opt-out leaves out: the closest provable encloser stands
        # for it (as PowerDNS finds it, by hash), the wildcard below that one
        ce = provable_encloser(snap, ce)
        ck = snap.node_lk(ce, &celen)
        memcpy(wild, ck, celen)
        wild[celen] = 1
        wild[celen + 1] = 42
    nsec3_match(a, snap, ce)
    nsec3_cover(a, snap, a.lk, next_closer(a.lk, a.lk_len, celen))
    nsec3_cover(a, snap, wild, celen + 2)


cdef void proof_wildcard(Answer *a, Snapshot snap, int ce, int wild, bint nodata) noexcept:
    """An answer from the wildcard ``wild`` (RFC 4035 §3.1.3.3, §3.1.3.4; RFC 5155 §7.2.5,
    §7.2.6): no closer name exists, and for NODATA the wildcard lacks the type."""
    cdef int celen
    if not proving(a, snap):
        return
    snap.node_lk(ce, &celen)
    if not snap.sec.flags & SEC_NSEC3:
        nsec_cover_lk(a, snap, a.lk, a.lk_len)
        if nodata:
            nsec_cover(a, snap, wild)
        return
    if nodata:
        nsec3_match(a, snap, ce)
    nsec3_cover(a, snap, a.lk, next_closer(a.lk, a.lk_len, celen))
    if nodata:
        nsec3_match(a, snap, wild)


cdef void proof_no_ds(Answer *a, Snapshot snap, int cut) noexcept:
    """A delegation without DS: it is insecure (RFC 4035 §3.1.4)."""
    proof_nodata(a, snap, cut)


# -- writing the proofs --------------------------------------------------------------------

cdef int bitmap(Snapshot snap, int node, bint nsec3, bint full, uint8_t *out) noexcept:
    """The type bitmap of an NSEC or NSEC3 at ``node`` (RFC 4034 §4.1.2); its length.
    ``full`` False: an NSEC3 that only covers (no types)."""
    cdef uint16_t types[520]
    cdef int n = 0, i, j, length = 0, win, last, hi
    cdef const NodeRec *nd = &snap.nodes[node]
    cdef uint16_t t
    cdef bint ds = False
    if not full:
        return 0
    if nd.flags & N_CUT:
        types[n] = TYPE_NS
        n += 1
        if snap.rrset(node, TYPE_DS) != NULL:
            types[n] = TYPE_DS
            n += 1
            ds = True
        if ds or not nsec3:
            types[n] = TYPE_RRSIG
            n += 1
    elif not nd.flags & N_ENT:
        for i in range(nd.rrset_start, nd.rrset_start + nd.rrset_count):
            if n < 510:
                types[n] = snap.rrsets[i].rdtype
                n += 1
        types[n] = TYPE_RRSIG
        n += 1
    if not nsec3:
        types[n] = TYPE_NSEC
        n += 1
    for i in range(1, n):                  # insertion sort: a handful of types
        t = types[i]
        j = i - 1
        while j >= 0 and types[j] > t:
            types[j + 1] = types[j]
            j -= 1
        types[j + 1] = t
    i = 0
    while i < n:
        win = types[i] >> 8
        memset(out + length + 2, 0, 32)
        hi = 0
        while i < n and types[i] >> 8 == win:
            t = types[i] & 0xFF
            out[length + 2 + (t >> 3)] |= 0x80 >> (t & 7)
            if (t >> 3) + 1 > hi:
                hi = (t >> 3) + 1
            i += 1
        out[length] = win
        out[length + 1] = hi
        length += 2 + hi
    return length


cdef void sig_proofs(Answer *a) noexcept:
    """Write the NSEC and NSEC3 records noted, each with its RRSIGs."""
    cdef int i
    for i in range(a.nproofs):
        if a.stop or put_proof(a, &a.proofs[i]) < 0:
            return


cdef int proof_record(Snapshot snap, int kind, uint32_t index, const uint8_t *hash,
                      uint8_t *owner, uint8_t *rdata, int *rlen) noexcept:
    """The NSEC or NSEC3 record a proof stands for: its owner and rdata written, its
    type returned (the owner's length in ``owner``, by name_len)."""
    cdef const SecHeader *sec = snap.sec
    cdef uint8_t h[20]
    cdef int n, node
    if kind == PROOF_NSEC:
        memcpy(owner, snap.node_name(index), name_len(snap.node_name(index)))
        n = lower_name(snap.node_name(snap.links[index]), rdata)
        rlen[0] = n + bitmap(snap, index, False, True, rdata + n)
        return TYPE_NSEC
    rdata[0] = sec.hash_alg
    rdata[1] = sec.nsec3_flags
    put_u16(rdata + 2, sec.iterations)
    rdata[4] = sec.salt_len
    memcpy(rdata + 5, sec.salt, sec.salt_len)
    n = 5 + sec.salt_len
    rdata[n] = 20
    if kind == PROOF_NSEC3:
        hashed_owner(sec, snap.chain[index].hash, owner)
        memcpy(rdata + n + 1, snap.chain[(index + 1) % sec.chain_count].hash, 20)
        node = snap.chain[index].node
        n += 21
        rlen[0] = n + bitmap(snap, node, True, True, rdata + n)
        return TYPE_NSEC3
    memcpy(h, hash, 20)
    if index == NO_NODE:
        hash_step(h, -1)          # owner hash - 1, next hash + 1: covers it only
    hashed_owner(sec, h, owner)
    memcpy(h, hash, 20)
    hash_step(h, 1)
    memcpy(rdata + n + 1, h, 20)
    n += 21
    if index != NO_NODE:
        n += bitmap(snap, index, True, True, rdata + n)
    rlen[0] = n
    return TYPE_NSEC3


cdef int proof_data(Signing sg, Snapshot snap, uint16_t rdtype, const uint8_t *owner,
                    const uint8_t *rdata, int rlen) noexcept:
    """The data an NSEC or NSEC3 record is signed over, in sg.data; its length."""
    cdef uint8_t owner_lc[256]
    cdef int olen = lower_name(owner, owner_lc)
    cdef int pos
    sg.window(wall_clock(sg))
    pos = fields(sg, snap, rdtype, rrsig_labels(owner), snap.sec.denial_ttl, sg.data)
    return canon_rr(sg.data, pos, owner_lc, olen, rdtype, snap.sec.denial_ttl, rdata, rlen)


cdef int put_proof(Answer *a, const Proof *p) noexcept:
    cdef Snapshot snap = <Snapshot>p.snap
    cdef const SecHeader *sec = snap.sec
    cdef Signing sg = <Signing>a.signing
    cdef uint8_t owner[256]
    cdef uint8_t rdata[RECORD_MAX]
    cdef int olen, rlen, pos
    cdef uint16_t rdtype
    if sec.flags & SEC_PRESIGNED:
        if p.kind == PROOF_NSEC:
            return put_stored_proof(a, snap, p.index, TYPE_NSEC)
        return put_stored_proof(a, snap, snap.chain[p.index].node, TYPE_NSEC3)
    rdtype = proof_record(snap, p.kind, p.index, p.hash, owner, rdata, &rlen)
    olen = name_len(owner)
    if b_rr(&a.b, SEC_AUTHORITY, owner, olen, rdtype, CLASS_IN, sec.denial_ttl, rdata,
            rlen) < 0:
        ans_reset(a, a.rcode, FLAG_TC)
        return -1
    pos = proof_data(sg, snap, rdtype, owner, rdata, rlen)
    if put_sigs(a, sg, snap, SEC_AUTHORITY, rdtype, owner, olen, sec.denial_ttl, pos) < 0:
        ans_reset(a, a.rcode, FLAG_TC)
        return -1
    return 0


# -- signing ahead -------------------------------------------------------------------------

cdef int rrset_data(Signing sg, Snapshot snap, int node, const RRsetRec *rs) noexcept:
    """The data ``rs`` (of ``node``) is signed over, in sg.data; its length, or -1 for an
    RRset too large to sign. It is signed with its own TTL (the RRSIG's original TTL),
    whatever TTL it is served with (a negative answer's SOA), as PowerDNS signs it (RFC 4035
    §5.3.3 restores it)."""
    cdef uint8_t owner_lc[256]
    cdef const uint8_t *name = snap.node_name(node)
    cdef int olen = lower_name(name, owner_lc)
    cdef uint32_t index = <uint32_t>(rs - snap.rrsets)
    cdef const uint8_t *rd
    cdef int pos, k, rdlen
    sg.window(wall_clock(sg))
    rd = snap.rdata + rs.rdata_off if snap.canon[index] == NO_CANON \
        else snap.canon_data + snap.canon[index]
    pos = fields(sg, snap, rs.rdtype, rrsig_labels(name), rs.ttl, sg.data)
    for k in range(rs.count):
        rdlen = rd_u16(rd)
        pos = canon_rr(sg.data, pos, owner_lc, olen, rs.rdtype, rs.ttl, rd + 2, rdlen)
        if pos < 0:
            return -1
        rd += 2 + rdlen
    return pos


cdef int ahead(Signing sg, Snapshot snap, uint16_t rdtype, int length) noexcept:
    """Ask ahead for the signatures of sg.data[:length] the cache lacks (no query waits);
    how many were asked."""
    cdef const SecHeader *sec = snap.sec
    cdef const SecKey *key
    cdef bint keyset = rdtype == TYPE_DNSKEY or rdtype == TYPE_CDS or rdtype == TYPE_CDNSKEY
    cdef int k, asked = 0
    cdef uint8_t ck[16]
    cdef uint8_t sig[SIG_MAX]
    cdef bytes request
    for k in range(sec.key_count):
        key = &snap.keys[k]
        if sec.flags & SEC_HAVE_ZSK and not key.role & KEY_ALL \
                and bool(key.role & KEY_KSK) != keyset:
            continue
        sg.data[2] = key.algorithm
        put_u16(sg.data + 16, key.tag)
        cache_key(sg, key, length, ck)
        if sg.cache.sc_get(ck, sig, 0) >= 0:
            continue
        request = request_of(sg, key, ck, length)
        sg.background[request[:16]] = request
        asked += 1
    return asked


cdef int sign_zone_ahead(Signing sg, Snapshot snap, uint32_t *cursor, int budget) noexcept:
    """Ask ahead for the signatures of the zone's RRsets, and of its NSEC or broad NSEC3
    records, that the cache lacks, from node ``cursor[0]`` on, until ``budget`` are asked;
    ``cursor`` is left where to go on (the node count: done). How many were asked."""
    cdef const SecHeader *sec = snap.sec
    cdef const NodeRec *n
    cdef uint32_t i, k
    cdef int asked = 0, length, rlen
    cdef uint16_t rdtype
    cdef uint8_t owner[256]
    cdef uint8_t rdata[RECORD_MAX]
    if sec == NULL or sec.flags & (SEC_BROKEN | SEC_PRESIGNED) or sg.cache is None:
        cursor[0] = snap.nnodes
        return 0
    i = cursor[0]
    while i < snap.nnodes and asked < budget:
        n = &snap.nodes[i]
        if not n.flags & N_NONAUTH and not n.above:
            for k in range(n.rrset_start, n.rrset_start + n.rrset_count):
                if n.flags & N_CUT and snap.rrsets[k].rdtype != TYPE_DS:
                    continue
                length = rrset_data(sg, snap, i, &snap.rrsets[k])
                if length > 0:
                    asked += ahead(sg, snap, snap.rrsets[k].rdtype, length)
            if not sec.flags & SEC_NSEC3 and snap.links[i] != NOT_LINKED:
                rdtype = proof_record(snap, PROOF_NSEC, i, NULL, owner, rdata, &rlen)
                asked += ahead(sg, snap, rdtype, proof_data(sg, snap, rdtype, owner, rdata,
                                                            rlen))
        i += 1
    if sec.flags & SEC_NSEC3 and not sec.flags & SEC_NARROW and i >= snap.nnodes:
        for k in range(sec.chain_count):       # the hashed chain, once the names are done
            rdtype = proof_record(snap, PROOF_NSEC3, k, NULL, owner, rdata, &rlen)
            asked += ahead(sg, snap, rdtype, proof_data(sg, snap, rdtype, owner, rdata,
                                                        rlen))
    cursor[0] = i
    return asked

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The answer engine: one query in, one response out, over immutable zone snapshots.

The lookup is RFC 1034 §4.3.2 with RFC 2308 negative answers, RFC 4592 wildcards, RFC 6672
DNAME and RFC 2181's rules; where those leave room, PowerDNS Authoritative's behaviour is
followed (docs/differences.md lists where fastdns deliberately departs from it). Records
are written straight into the response as they are found, so sections come out in order
and truncation is decided record by record.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memcmp

from fastdns.consts cimport *
from fastdns._wire cimport *
from fastdns._wire import check_name, to_lk
from fastdns._snapshot cimport (Snapshot, NodeRec, RRsetRec, rd_u16, EXTRA_RRSET, N_APEX,
                                N_CUT, N_DNAME, N_CNAME, N_NONAUTH)

cdef enum:
    SEC_ANSWER = 1
    SEC_AUTHORITY = 2
    SEC_ADDITIONAL = 3
    OPT_SIZE = 11
    CHAOS_TTL = 5

#: Result.state, for Python (Engine.result)
STATE_ANSWERED = RS_ANSWERED
STATE_WAITING = RS_WAITING
STATE_DROP = RS_DROP

cdef extern from *:
    """
    #define FASTDNS_FNV_OFFSET 14695981039346656037ULL
    #define FASTDNS_FNV_PRIME 1099511628211ULL
    """
    const uint64_t FNV_OFFSET "FASTDNS_FNV_OFFSET"
    const uint64_t FNV_PRIME "FASTDNS_FNV_PRIME"


cdef bytes _txt(object text):
    """TXT rdata holding ``text`` as character-strings of at most 255 octets."""
    cdef bytes data = text.encode() if isinstance(text, str) else bytes(text)
    out = bytearray()
    if not data:
        return b"\x00"
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out.append(len(chunk))
        out += chunk
    return bytes(out)


cdef inline uint64_t _nonzero(uint64_t h) noexcept nogil:
    return h if h else 1


cdef uint64_t zone_hash(const uint8_t *lk, int lklen) noexcept nogil:
    """FNV-1a of a lookup key: best_zone hashes every prefix of a query's key in one pass."""
    cdef uint64_t h = FNV_OFFSET
    cdef int i
    for i in range(lklen):
        h = (h ^ lk[i]) * FNV_PRIME
    return _nonzero(h)


cdef class Supplied:
    """Records of one (name, type) that the engine does not hold itself, supplied from
    outside (a resolver's answer for an ALIAS target; later, signatures from a signer)."""


cdef inline bint beside_cname(uint16_t qtype, uint16_t flags) noexcept nogil:
    """Is ``qtype`` answered from a name's own data although the name holds a CNAME? The
    CNAME itself, the SOA of an apex that holds one (as PowerDNS), and the types that may
    sit beside a CNAME (fastdns.zone.check.CNAME_NEIGHBOURS: RFC 2181 §10.1, RFC 4035
    §2.5)."""
    return (qtype == TYPE_CNAME or qtype == TYPE_RRSIG or qtype == TYPE_NSEC
            or qtype == TYPE_KEY or (qtype == TYPE_SOA and flags & N_APEX))

cdef class Engine:
    """Answers queries from a set of zone snapshots.

    ``version`` and ``server_id`` are the TXT answers to CHAOS ``version.bind`` and
    ``id.server``, ``server_id`` also the NSID (None: SERVFAIL for the version, REFUSED and no
    NSID for the id, as PowerDNS's ``anonymous`` and ``disabled``).
    ``udp_truncation_threshold``, ``dname_processing`` and ``any_to_tcp`` are PowerDNS's
    settings of those names.

    Data the zones do not hold (an ALIAS target's addresses) comes through ``supply``; a
    query that needs such data before it has come ends in the WAITING state, naming what it
    waits for (``_udp.Responder`` parks it and answers it when the data is supplied).
    """

    def __cinit__(self):
        self._table = <ZoneSlot *>calloc(8, sizeof(ZoneSlot))
        if self._table == NULL:
            raise MemoryError()
        self._table_mask = 7
        self._supplied = {}
        self._external = None

    def __dealloc__(self):
        free(self._table)

    def __init__(self, zones=(), *, broken=(), int udp_truncation_threshold=1232,
                 version=None, server_id=None, bint dname_processing=True,
                 bint any_to_tcp=True, bint expand_alias=False):
        if not 512 <= udp_truncation_threshold <= 65535:
            raise ValueError("udp_truncation_threshold must be within 512..65535")
        self.udp_limit = udp_truncation_threshold
        self._version_txt = None if version is None else _txt(version)
        self._id_txt = None if server_id is None else _txt(server_id)
        self._nsid = None
        if server_id is not None:
            self._nsid = server_id.encode() if isinstance(server_id, str) else bytes(server_id)
            if len(self._nsid) > 512:
                raise ValueError("server_id is too long for NSID")
        self._dname_processing = dname_processing
        self._any_to_tcp = any_to_tcp
        self._expand_alias = expand_alias
        self.set_zones(zones, broken)

    def set_zones(self, zones, broken=()):
        """Serve exactly ``zones`` (Snapshots) from now on. ``broken`` names (wire form) the
        zones that are configured but failed to load: their names get SERVFAIL, as PowerDNS
        answers them, instead of REFUSED."""
        cdef Snapshot snap
        cdef dict table = {}
        cdef int deepest = 0
        cdef int labels
        cdef uint64_t size = 8
        cdef uint64_t h, slot
        cdef ZoneSlot *slots
        cdef bytes key
        for snap in zones:
            if snap.apex_lk in table:
                raise ValueError("two snapshots of one zone")
            table[snap.apex_lk] = snap
        for name in broken:
            table.setdefault(to_lk(name), None)
        while size < 2 * <uint64_t>len(table):
            size *= 2
        slots = <ZoneSlot *>calloc(size, sizeof(ZoneSlot))
        if slots == NULL:
            raise MemoryError()
        for key, value in table.items():
            labels = _count_labels(key)
            if labels > deepest:
                deepest = labels
            h = zone_hash(key, len(key))
            slot = h & (size - 1)
            while slots[slot].hash != 0:
                slot = (slot + 1) & (size - 1)
            slots[slot].hash = h
            slots[slot].lk = key
            slots[slot].lk_len = len(key)
            slots[slot].snap = <PyObject *>value
        # the table points into ``table``'s keys and values: swap both at once
        free(self._table)
        self._table = slots
        self._table_mask = size - 1
        self._zones = table
        self._max_labels = deepest

    @property
    def zones(self):
        """Apex lookup key -> Snapshot (None for a zone that failed to load)."""
        return dict(self._zones)

    # -- data from outside ---------------------------------------------------------------

    def supply(self, name, int qtype, rdatas, uint32_t ttl=0, *, uint32_t now):
        """Keep the records of (``name``, ``qtype``) found outside the zones: ``rdatas``
        (wire-form RDATA, one per record; empty: there are none) with TTL ``ttl``, or None
        when the lookup failed, which makes the queries that need them SERVFAIL (as
        PowerDNS answers a failed ALIAS lookup). Either is kept ``ttl`` seconds from clock
        second ``now``, one at least."""
        cdef Supplied entry = Supplied.__new__(Supplied)
        entry.ttl = ttl
        entry.expires = now + (ttl if ttl > 0 else 1)
        entry.failed = rdatas is None
        entry.rdatas = () if rdatas is None else tuple(bytes(r) for r in rdatas)
        for rdata in entry.rdatas:
            if len(rdata) > 0xFFFF:
                raise ValueError("rdata too long")
        self._supplied[_key_of(name, qtype)] = entry

    def supplied(self, name, int qtype, uint32_t now):
        """What is kept for (``name``, ``qtype``) and fresh at ``now``: the Supplied, or
        None."""
        return self.fresh(_key_of(name, qtype), now)

    cdef Supplied fresh(self, bytes key, uint32_t now):
        cdef Supplied entry = self._supplied.get(key)
        if entry is None or now >= entry.expires:
            return None
        return entry

    def expire(self, uint32_t now):
        """Drop the supplied records that are stale at ``now``; the number dropped."""
        stale = [k for k, e in self._supplied.items() if now >= (<Supplied>e).expires]
        for key in stale:
            del self._supplied[key]
        return len(stale)

    def forget(self):
        """Drop every supplied record; the number dropped."""
        n = len(self._supplied)
        self._supplied.clear()
        return n

    def alias_hook(self, name, target):
        """Answer A and AAAA queries at ``name`` (in a served zone, with no records of that
        type) with the records of ``target``, supplied from outside, as ``expand-alias``
        answers an ALIAS record (None: stop). A test hook, the one way into the WAITING
        state until ALIAS records are expanded (they will take its place in at_node)."""
        key = to_lk(name)
        if target is None:
            if self._external is not None:
                self._external.pop(key, None)
                if not self._external:
                    self._external = None
            return
        if self._external is None:
            self._external = {}
        self._external[key] = check_name(target)

    # -- answering -------------------------------------------------------------------------

    def answer(self, const uint8_t[:] packet not None, bint tcp=False, uint32_t now=0):
        """The response to ``packet`` (bytes), or None when it must be dropped or waits
        for supplied data (``result`` tells which)."""
        r = self.result(packet, tcp, now)
        return r["response"]

    def result(self, const uint8_t[:] packet not None, bint tcp=False, uint32_t now=0):
        """What c_answer makes of ``packet``, as a dict: state (STATE_*), response (bytes
        or None), rcode, tag, multi, cacheable, wait ((name, qtype) or None)."""
        cdef Query q
        cdef Result res
        if packet.shape[0] == 0:
            return {"state": RS_DROP, "response": None, "rcode": 0, "tag": 0, "multi": False,
                    "cacheable": False, "wait": None}
        parse_query(&packet[0], packet.shape[0], &q)
        self.c_answer(&q, &packet[0], packet.shape[0], tcp, answer_limit(&q, tcp, self.udp_limit),
                      now, self._out, &res)
        return {
            "state": res.state,
            "response": PyBytes_FromStringAndSize(<char *>self._out, res.length)
            if res.state == RS_ANSWERED else None,
            "rcode": res.rcode, "tag": res.tag, "multi": bool(res.multi),
            "cacheable": bool(res.cacheable),
            "wait": (PyBytes_FromStringAndSize(<char *>res.wait_name, res.wait_name_len),
                     res.wait_type) if res.state == RS_WAITING else None,
        }

    cdef int c_answer(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                      bint tcp, int limit, uint32_t now, uint8_t *out,
                      Result *res) except -1:
        """Answer the parsed query ``q`` (``packet`` is its wire form, for a TSIG error)
        into ``out`` within ``limit`` octets (answer_limit); fill ``res``; its state."""
        cdef Answer a
        cdef bint edns, nsid
        res.tag = 0
        res.multi = False
        res.cacheable = False
        res.length = 0
        res.rcode = 0
        if q.status == PQ_DROP:
            res.state = RS_DROP
            return RS_DROP
        a.res = res
        a.now = now
        self.begin(&a, q, tcp, limit, out, &edns, &nsid)
        if q.status == PQ_FORMERR:
            a.rcode = RCODE_FORMERR
        elif q.status == PQ_NOTIMP:
            a.rcode = RCODE_NOTIMP
        elif edns and q.edns_version > 0:
            a.flags |= FLAG_AA
            a.rcode = RCODE_BADVERS          # RFC 6891 §6.1.3
        elif q.tsig_off >= 0:
            a.flags |= FLAG_AA
            a.rcode = RCODE_NOTAUTH          # no TSIG keys (yet): BADKEY, RFC 8945 §5.2.2
        elif q.opcode == OPCODE_NOTIFY:
            a.flags |= FLAG_AA
            a.rcode = RCODE_REFUSED          # no secondary zones (yet)
        else:
            self.query(&a)
        if a.zone != NULL:
            res.tag = (<Snapshot>a.zone).tag
            res.multi = a.multi
        if a.waiting:
            res.state = RS_WAITING
            return RS_WAITING
        res.length = self.finish(&a, packet, length, edns, nsid)
        res.rcode = a.rcode
        res.cacheable = a.zone != NULL and (a.rcode == RCODE_NOERROR
                                            or a.rcode == RCODE_NXDOMAIN)
        res.state = RS_ANSWERED
        return RS_ANSWERED

    cdef int c_error(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                     bint tcp, int limit, uint16_t rcode, uint8_t *out) noexcept:
        """An answer with ``rcode`` and nothing but the question (and OPT) to ``q``, as
        c_answer writes one; its length, or -1 to drop. A parked query whose deadline
        passed gets SERVFAIL this way."""
        cdef Answer a
        cdef bint edns, nsid
        if q.status == PQ_DROP:
            return -1
        self.begin(&a, q, tcp, limit, out, &edns, &nsid)
        a.rcode = rcode
        return self.finish(&a, packet, length, edns, nsid)

    cdef int begin(self, Answer *a, const Query *q, bint tcp, int limit, uint8_t *out,
                   bint *edns, bint *nsid) noexcept:
        """Start the response to ``q``: header and question, room kept for OPT and TSIG."""
        cdef int reserve = 0
        edns[0] = q.has_edns and q.status == PQ_OK
        nsid[0] = edns[0] and q.nsid and self._nsid is not None
        if edns[0]:
            reserve = OPT_SIZE + (4 + len(self._nsid) if nsid[0] else 0)
        if q.tsig_off >= 0 and q.status == PQ_OK:
            reserve += q.tsig_error_size
        a.q = q
        b_init(&a.b, out, limit - reserve)
        b_header(&a.b, q.id, 0)
        # RD is copied; CD is not (RFC 4035 §3.2.2 asks it of recursive servers only)
        a.flags = FLAG_QR | (q.flags & (0x7800 | FLAG_RD))
        a.rcode = RCODE_NOERROR
        a.stop = False
        a.waiting = False
        a.tcp = tcp
        a.ntargets = 0
        a.nsynth = 0
        a.zone = NULL
        a.multi = False
        a.any_snap = NULL
        a.any_node = -1
        if q.has_question:
            b_question(&a.b, q.qname, q.qname_len, q.qtype, q.qclass)
        a.qend = a.b.pos
        a.qcomp = a.b.ncomp
        return 0

    cdef int finish(self, Answer *a, const uint8_t *packet, Py_ssize_t length, bint edns,
                    bint nsid) noexcept:
        """OPT, a TSIG error record, the header's flags and counts: the response's length."""
        if edns:
            b_opt(&a.b, self.udp_limit, a.rcode >> 4, a.q.edns_flags & EDNS_DO,
                  <const uint8_t *>self._nsid if nsid else NULL,
                  len(self._nsid) if nsid else 0)
        if a.q.tsig_off >= 0 and a.q.status == PQ_OK:
            b_tsig_error(&a.b, packet, length, a.q, TSIG_BADKEY)
        b_finish(&a.b, a.flags | (a.rcode & 0xF))
        return a.b.pos

    # -- the lookup ----------------------------------------------------------------------

    cdef int query(self, Answer *a) except -1:
        cdef uint16_t qtype = a.q.qtype
        cdef uint16_t qclass = a.q.qclass
        cdef Snapshot snap
        if qclass == CLASS_CH:
            self.chaos(a)
            return 0
        if qclass != CLASS_IN and qclass != CLASS_ANY:
            a.flags |= FLAG_AA
            a.rcode = RCODE_REFUSED
            return 0
        if qtype == TYPE_ANY and self._any_to_tcp and not a.tcp:
            a.flags |= FLAG_AA | FLAG_TC     # PowerDNS's any-to-tcp: ask again over TCP
            return 0
        if qtype == TYPE_IXFR and not a.tcp:
            a.flags |= FLAG_AA
            a.rcode = RCODE_REFUSED          # as PowerDNS, for any name: no IXFR over UDP
            return 0
        if qtype == TYPE_TKEY:
            a.flags |= FLAG_AA
            a.rcode = RCODE_FORMERR
            return 0
        if (qtype == TYPE_AXFR or qtype == TYPE_IXFR) and a.tcp:
            a.flags |= FLAG_AA
            a.rcode = RCODE_NOTAUTH          # zone transfers are not served (yet)
            return 0
        snap = self.best_zone(a, a.q.lk, a.q.lk_len, qtype == TYPE_DS)
        if snap is None:
            if a.rcode == RCODE_SERVFAIL:
                a.flags |= FLAG_AA          # a zone we serve, but could not load
            else:
                a.rcode = RCODE_REFUSED
            return 0
        # QCLASS * may match data we do not hold in other classes: not authoritative
        if qclass == CLASS_IN:
            a.flags |= FLAG_AA
        if qtype == TYPE_RRSIG:
            a.rcode = RCODE_REFUSED          # as PowerDNS: RRSIGs are not asked for directly
            return 0
        self.resolve(a, snap)
        if not a.stop:
            self.additional(a)
        return 0

    cdef void reset(self, Answer *a, uint16_t rcode, uint16_t flags) noexcept:
        """Empty every section after the question; set ``rcode`` and ``flags``; stop."""
        a.b.pos = a.qend
        a.b.ncomp = a.qcomp
        a.b.counts[1] = 0
        a.b.counts[2] = 0
        a.b.counts[3] = 0
        a.rcode = rcode
        a.flags |= flags
        a.ntargets = 0
        a.stop = True

    cdef Snapshot best_zone(self, Answer *a, const uint8_t *lk, int lklen, bint ds):
        """The zone with the longest apex that is ``lk`` or an ancestor of it.

        For DS the parent side answers (RFC 4035 §3.1.4.1): a zone whose apex is the name
        itself is only used when no ancestor zone is served. A zone that failed to load
        matches like any other and makes the answer SERVFAIL (None, a.rcode set).

        The prefixes of ``lk`` that may be an apex are hashed in one pass and looked up in
        the engine's own table: no object is made, whatever the name.
        """
        cdef int bounds[LABELS_MAX + 1]
        cdef uint64_t hashes[LABELS_MAX + 1]
        cdef uint64_t h = FNV_OFFSET
        cdef int nb = 1
        cdef int p = 0
        cdef int i, j, end
        cdef PyObject *found
        cdef PyObject *fallback = NULL
        bounds[0] = 0
        hashes[0] = _nonzero(h)
        while p < lklen:
            end = p + lk[p] + 1
            if nb <= self._max_labels:
                for j in range(p, end):
                    h = (h ^ lk[j]) * FNV_PRIME
            p = end
            bounds[nb] = p
            hashes[nb] = _nonzero(h)
            nb += 1
        i = nb - 1 if nb - 1 < self._max_labels else self._max_labels
        while i >= 0:
            found = self.zone_at(lk, bounds[i], hashes[i])
            if found == <PyObject *>None:
                a.rcode = RCODE_SERVFAIL
                return None
            if found != NULL:
                if ds and i == nb - 1 and i > 0:
                    fallback = found
                else:
                    return self.used(a, found)
            i -= 1
        if fallback != NULL:
            return self.used(a, fallback)
        return None

    cdef PyObject *zone_at(self, const uint8_t *lk, int lklen, uint64_t h) noexcept nogil:
        """The zone whose apex key is ``lk`` (hash ``h``): borrowed, Py_None for a zone
        that failed to load, NULL for none."""
        cdef uint64_t slot = h & self._table_mask
        cdef const ZoneSlot *z
        while True:
            z = &self._table[slot]
            if z.hash == 0:
                return NULL
            if z.hash == h and z.lk_len == lklen and memcmp(z.lk, lk, lklen) == 0:
                return z.snap
            slot = (slot + 1) & self._table_mask

    cdef Snapshot used(self, Answer *a, PyObject *zone):
        """Note that the answer draws on ``zone``; return it."""
        if a.zone == NULL:
            a.zone = zone
        elif a.zone != zone:
            a.multi = True
        return <Snapshot>zone

    cdef int resolve(self, Answer *a, Snapshot snap) except -1:
        """Follow the query name through CNAMEs and DNAMEs, zone to zone."""
        cdef const uint8_t *name = &a.q.qname[0]
        cdef int nlen = a.q.qname_len
        cdef int links = 0
        a.lk = &a.q.lk[0]
        a.lk_len = a.q.lk_len
        while True:
            if self.step(a, snap, &name, &nlen) != ST_FOLLOW or a.stop:
                return 0
            links += 1
            if links > CHAIN_MAX:
                self.reset(a, RCODE_SERVFAIL, 0)     # a loop, or too long a chain
                return 0
            a.lk_len = name_to_lk(name, nlen, a.lkbuf)
            a.lk = a.lkbuf
            snap = self.best_zone(a, a.lk, a.lk_len, a.q.qtype == TYPE_DS)
            if snap is None:
                if a.rcode == RCODE_SERVFAIL:
                    self.reset(a, RCODE_SERVFAIL, 0)
                return 0        # the chain leaves the zones we serve: the client follows it

    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name,
                  int *nlen) except -1:
        cdef bint exact
        cdef int i = snap.find(a.lk, a.lk_len, &exact)
        cdef int ce, common, cklen
        cdef const NodeRec *n
        cdef const uint8_t *ck
        if i < 0:
            a.rcode = RCODE_SERVFAIL            # cannot happen: best_zone chose this zone
            return ST_DONE
        if exact:
            n = &snap.nodes[i]
            if n.above:
                return self.redirect(a, snap, n.above - 1, name, nlen)
            if n.flags & N_CUT and a.q.qtype != TYPE_DS:
                return self.referral(a, snap, i)
            return self.at_node(a, snap, i, name, nlen)
        # no such name: find the closest encloser, an ancestor of the predecessor (the
        # apex, node 0, for most names of a random-subdomain flood: no second search)
        ck = snap.node_lk(i, &cklen)
        lk_common_labels(a.lk, a.lk_len, ck, cklen, &common)
        if common == cklen:
            ce = i
        else:
            snap.node_lk(0, &cklen)
            ce = 0 if common == cklen else snap.find(a.lk, common, &exact)
        n = &snap.nodes[ce]
        if n.above:
            return self.redirect(a, snap, n.above - 1, name, nlen)
        if n.flags & N_CUT:
            return self.referral(a, snap, ce)
        if n.flags & N_DNAME:
            return self.dname(a, snap, ce, name, nlen)
        if n.wild:
            return self.at_node(a, snap, n.wild - 1, name, nlen)
        a.rcode = RCODE_NXDOMAIN
        self.negative(a, snap)
        return ST_DONE

    cdef int redirect(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                      int *nlen) except -1:
        if snap.nodes[node].flags & N_CUT:
            return self.referral(a, snap, node)
        return self.dname(a, snap, node, name, nlen)

    cdef int at_node(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                     int *nlen) except -1:
        """Answer from an existing node (or a wildcard, with the query's name as owner)."""
        cdef const NodeRec *n = &snap.nodes[node]
        cdef const RRsetRec *rs
        cdef uint16_t qtype = a.q.qtype
        cdef uint32_t k
        cdef int state
        if n.flags & N_CNAME and not beside_cname(qtype, n.flags):
            # the CNAME wins over other data at its name (RFC 1034 §3.6.2), and is followed
            # for ANY too, as PowerDNS does (differences.md, A2)
            rs = snap.rrset(node, TYPE_CNAME)
            if self.put(a, SEC_ANSWER, snap, rs, name[0], nlen[0], 0) < 0:
                return ST_DONE
            name[0] = snap.rdata + rs.rdata_off + 2
            nlen[0] = rd_u16(snap.rdata + rs.rdata_off)
            return ST_FOLLOW
        if self._expand_alias and (qtype == TYPE_A or qtype == TYPE_AAAA or qtype == TYPE_ANY
                                   or qtype == TYPE_ALIAS):
            state = self.alias(a, snap, node, name[0], nlen[0])
            if state >= 0:
                return state
        if qtype == TYPE_ANY:
            if n.rrset_count == 0:
                self.negative(a, snap)
            a.any_snap = <PyObject *>snap
            a.any_node = node
            for k in range(n.rrset_start, n.rrset_start + n.rrset_count):
                if self.put(a, SEC_ANSWER, snap, &snap.rrsets[k], name[0], nlen[0], 0) < 0:
                    return ST_DONE
            return ST_DONE
        rs = snap.rrset(node, qtype)
        if rs != NULL:
            self.put(a, SEC_ANSWER, snap, rs, name[0], nlen[0], 0)
            return ST_DONE
        if self._external is not None and (qtype == TYPE_A or qtype == TYPE_AAAA):
            # the test hook stands where ALIAS expansion goes: an ALIAS RRset at the node
            # (expand-alias=yes) names the target instead
            target = self._external.get(_node_lk(snap, node))
            if target is not None:
                return self.external(a, snap, name[0], nlen[0], target, qtype)
        self.negative(a, snap)
        return ST_DONE

    cdef int alias(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                   int owner_len) except -2:
        """expand-alias, as PowerDNS: at a name that holds an ALIAS (not a wildcard's), A
        and AAAA without records of their own, and ANY, are the target's addresses found
        by the resolver (ANY: only those); the ALIAS itself is not shown. -1: not such a
        name or query, answer as usual."""
        cdef const RRsetRec *rs = snap.rrset(node, TYPE_ALIAS)
        cdef const uint8_t *node_name
        cdef uint16_t qtype = a.q.qtype
        cdef Supplied v4
        cdef Supplied v6
        if rs == NULL:
            return -1
        node_name = snap.node_name(node)
        if node_name[0] == 1 and node_name[1] == 42:      # a wildcard's ALIAS: not expanded
            return -1
        if qtype == TYPE_ALIAS:
            self.negative(a, snap)
            return ST_DONE
        if qtype != TYPE_ANY and snap.rrset(node, qtype) != NULL:
            return -1                                     # an address of its own wins
        target = PyBytes_FromStringAndSize(<const char *>snap.rdata + rs.rdata_off + 2,
                                           rd_u16(snap.rdata + rs.rdata_off))
        if qtype != TYPE_ANY:
            return self.external(a, snap, owner, owner_len, target, qtype)
        v4 = self.needed(a, target, TYPE_A)
        if v4 is None:
            return ST_DONE
        if not v4.failed:
            v6 = self.needed(a, target, TYPE_AAAA)
            if v6 is None:
                return ST_DONE
        if v4.failed or v6.failed:           # (no second wait when the first failed)
            self.reset(a, RCODE_SERVFAIL, 0)
            return ST_DONE
        if not v4.rdatas and not v6.rdatas:
            self.negative(a, snap)
            return ST_DONE
        self.external(a, snap, owner, owner_len, target, TYPE_A)
        if not a.stop:
            self.external(a, snap, owner, owner_len, target, TYPE_AAAA)
        return ST_DONE

    cdef Supplied needed(self, Answer *a, bytes target, uint16_t qtype):
        """What is kept for (``target``, ``qtype``); None, with the answer WAITING for it,
        when nothing is."""
        cdef Supplied entry = self.fresh(supply_key(target, len(target), qtype), a.now)
        if entry is None:
            a.waiting = True
            a.stop = True
            a.res.wait_type = qtype
            a.res.wait_name_len = len(target)
            memcpy(a.res.wait_name, <const uint8_t *>target, len(target))
        return entry

    cdef int external(self, Answer *a, Snapshot snap, const uint8_t *owner, int owner_len,
                      bytes target, uint16_t qtype) except -1:
        """Answer with ``target``'s records of ``qtype``, supplied from outside
        (Engine.supply), under ``owner``; when none are kept, end in the WAITING state
        naming (target, qtype). A failed lookup is SERVFAIL, no records NODATA (with the
        SOA, RFC 2308: PowerDNS sends none, differences.md)."""
        cdef Supplied entry = self.needed(a, target, qtype)
        cdef uint32_t ttl
        cdef bytes rdata
        if entry is None:
            return ST_DONE
        if entry.failed:
            self.reset(a, RCODE_SERVFAIL, 0)
            return ST_DONE
        if not entry.rdatas:
            if a.q.qtype != TYPE_ANY:
                self.negative(a, snap)
            return ST_DONE
        # the resolver's TTL as it gave it, while it is kept (PowerDNS, which asks every
        # time, shows it unchanged too; a packet-cache entry made of it lives no longer)
        ttl = entry.ttl
        for rdata in entry.rdatas:
            if b_rr(&a.b, SEC_ANSWER, owner, owner_len, qtype, CLASS_IN, ttl, rdata,
                    len(rdata)) < 0:
                self.reset(a, a.rcode, FLAG_TC)
                return ST_DONE
        return ST_DONE

    cdef int dname(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                   int *nlen) except -1:
        """RFC 6672 §3: the DNAME, a CNAME synthesised from it, then the new name."""
        cdef const RRsetRec *rs = snap.rrset(node, TYPE_DNAME)
        cdef const uint8_t *owner = snap.node_name(node)
        cdef const uint8_t *target = snap.rdata + rs.rdata_off + 2
        cdef int target_len = rd_u16(snap.rdata + rs.rdata_off)
        cdef int prefix = nlen[0] - name_len(owner)
        cdef uint8_t *synth
        if self.put(a, SEC_ANSWER, snap, rs, owner, name_len(owner), 0) < 0:
            return ST_DONE
        if prefix + target_len > NAME_MAX:
            a.rcode = RCODE_YXDOMAIN
            return ST_DONE
        synth = a.synth[a.nsynth & 1]
        a.nsynth += 1
        memcpy(synth, name[0], prefix)
        memcpy(synth + prefix, target, target_len)
        if b_rr(&a.b, SEC_ANSWER, name[0], nlen[0], TYPE_CNAME, CLASS_IN, rs.ttl, synth,
                prefix + target_len) < 0:
            self.reset(a, a.rcode, FLAG_TC)
            return ST_DONE
        name[0] = synth
        nlen[0] = prefix + target_len
        # RFC 6672 §3.2 step 3c: back to step 1 with the new name, whatever the qtype
        return ST_FOLLOW if self._dname_processing else ST_DONE

    cdef int referral(self, Answer *a, Snapshot snap, int cut) noexcept:
        """A delegation: the child's NS in the authority section and glue; not authoritative."""
        if a.b.counts[SEC_ANSWER] == 0:
            a.flags &= ~FLAG_AA
        self.put(a, SEC_AUTHORITY, snap, snap.rrset(cut, TYPE_NS), snap.node_name(cut),
                 name_len(snap.node_name(cut)), 0)
        return ST_DONE

    cdef void negative(self, Answer *a, Snapshot snap) noexcept:
        """NODATA or NXDOMAIN: the SOA with the negative TTL (RFC 2308 §3)."""
        cdef const uint8_t *apex = snap.node_name(0)
        self.put(a, SEC_AUTHORITY, snap, &snap.rrsets[snap.hdr.soa_rrset], apex,
                 name_len(apex), snap.hdr.neg_ttl)

    cdef int put(self, Answer *a, int section, Snapshot snap, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) noexcept:
        """Write an RRset (``ttl`` 0: its own TTL) and note its additional targets.

        An RRset that does not fit is never sent in part. In the answer or authority
        section that truncates the whole response: TC, every section empty (as PowerDNS).
        In the additional section the RRset is left out and -1 returned; TC is not set for
        optional data (RFC 2181 §9).
        """
        cdef uint32_t p = rs.rdata_off
        cdef uint32_t k, entry
        cdef uint16_t rdlen
        cdef const uint32_t *targets
        cdef int save_pos = a.b.pos
        cdef int save_ncomp = a.b.ncomp
        cdef uint16_t save_count = a.b.counts[section]
        if ttl == 0:
            ttl = rs.ttl
        for k in range(rs.count):
            rdlen = rd_u16(snap.rdata + p)
            if b_rr(&a.b, section, owner, owner_len, rs.rdtype, CLASS_IN, ttl,
                    snap.rdata + p + 2, rdlen) < 0:
                if section == SEC_ADDITIONAL:
                    a.b.pos = save_pos
                    a.b.ncomp = save_ncomp
                    a.b.counts[section] = save_count
                else:
                    self.reset(a, a.rcode, FLAG_TC)
                return -1
            p += 2 + rdlen
        if rs.extra_off and section != SEC_ADDITIONAL:
            targets = snap.extra + rs.extra_off
            for k in range(targets[0]):
                entry = targets[1 + k]
                if entry & EXTRA_RRSET:
                    self.note_target(a, snap, entry & (EXTRA_RRSET - 1), rs.rdtype, False)
                    continue
                # the glue of a referral, below its cut, is required (RFC 9471 §3)
                self.note_target(a, snap, entry, 0, section == SEC_AUTHORITY and
                                 rs.rdtype == TYPE_NS and snap.nodes[entry].flags & N_NONAUTH)
        return 0

    cdef void note_target(self, Answer *a, Snapshot snap, uint32_t node, uint16_t rdtype,
                          bint required) noexcept:
        cdef int i
        for i in range(a.ntargets):
            if a.targets[i].snap == <PyObject *>snap and a.targets[i].node == node \
                    and a.targets[i].rdtype == rdtype:
                a.targets[i].required |= required
                return
        if a.ntargets < ADDITIONAL_MAX:
            a.targets[a.ntargets].snap = <PyObject *>snap
            a.targets[a.ntargets].node = node
            a.targets[a.ntargets].rdtype = rdtype
            a.targets[a.ntargets].required = required
            a.ntargets += 1

    cdef void additional(self, Answer *a) noexcept:
        """The additional section, as PowerDNS fills it: required glue first, then the
        SVCB/HTTPS records an AliasMode chain leads to, then the A and AAAA of the
        in-zone targets of the NS, MX, SRV, SVCB and HTTPS records written so far, while
        it fits (leaving out the addresses an ANY answer holds already)."""
        cdef int i
        for i in range(a.ntargets):
            if a.targets[i].required and self.add_target(a, i) < 0:
                self.reset(a, a.rcode, FLAG_TC)
                return
        for i in range(a.ntargets):
            if a.targets[i].rdtype and self.add_target(a, i) < 0:
                return
        for i in range(a.ntargets):
            if a.targets[i].required or a.targets[i].rdtype:
                continue
            if a.targets[i].snap == a.any_snap and <int>a.targets[i].node == a.any_node:
                continue
            if self.add_target(a, i) < 0:
                return

    cdef int add_target(self, Answer *a, int i) noexcept:
        cdef Snapshot snap = <Snapshot>a.targets[i].snap
        cdef uint32_t node = a.targets[i].node
        cdef const uint8_t *owner = snap.node_name(node)
        cdef int owner_len = name_len(owner)
        cdef const RRsetRec *rs
        if a.targets[i].rdtype:
            rs = snap.rrset(node, a.targets[i].rdtype)
            if rs != NULL and self.put(a, SEC_ADDITIONAL, snap, rs, owner, owner_len, 0) < 0:
                return -1
            return 0
        rs = snap.rrset(node, TYPE_A)
        if rs != NULL and self.put(a, SEC_ADDITIONAL, snap, rs, owner, owner_len, 0) < 0:
            return -1
        rs = snap.rrset(node, TYPE_AAAA)
        if rs != NULL and self.put(a, SEC_ADDITIONAL, snap, rs, owner, owner_len, 0) < 0:
            return -1
        return 0

    # -- CHAOS -------------------------------------------------------------------------

    cdef void chaos(self, Answer *a) noexcept:
        """version.bind, version.pdns and id.server TXT in class CH, as PowerDNS answers."""
        cdef bytes txt
        a.flags |= FLAG_AA
        if a.q.qtype != TYPE_TXT:
            a.rcode = RCODE_NOTIMP
            return
        if _lk_is(a, b"\x04bind\x07version") or _lk_is(a, b"\x04pdns\x07version"):
            txt = self._version_txt
            if txt is None:
                a.rcode = RCODE_SERVFAIL
                return
        elif _lk_is(a, b"\x06server\x02id"):
            txt = self._id_txt
            if txt is None:
                a.rcode = RCODE_REFUSED
                return
        else:
            a.rcode = RCODE_REFUSED
            return
        if b_rr(&a.b, SEC_ANSWER, a.q.qname, a.q.qname_len, TYPE_TXT, CLASS_CH, CHAOS_TTL,
                txt, len(txt)) < 0:
            self.reset(a, a.rcode, FLAG_TC)


cdef bytes _node_lk(Snapshot snap, int node):
    cdef int n
    cdef const uint8_t *lk = snap.node_lk(node, &n)
    return PyBytes_FromStringAndSize(<const char *>lk, n)


cdef bytes supply_key(const uint8_t *name, int nlen, uint16_t qtype):
    """The key of supplied records, and of the queries parked for them: the lookup key of
    the wire name ``name``, then the type."""
    cdef uint8_t key[258]
    cdef int n = name_to_lk(name, nlen, key)
    put_u16(key + n, qtype)
    return PyBytes_FromStringAndSize(<const char *>key, n + 2)


cdef inline bytes _key_of(object name, uint16_t qtype):
    cdef bytes wire = check_name(name)
    return supply_key(wire, len(wire), qtype)


cdef bint _lk_is(const Answer *a, bytes expect) noexcept:
    cdef int i
    if a.q.lk_len != len(expect):
        return False
    for i in range(a.q.lk_len):
        if a.q.lk[i] != expect[i]:
            return False
    return True


cdef int _count_labels(bytes lk):
    cdef int p = 0
    cdef int n = 0
    while p < len(lk):
        p += lk[p] + 1
        n += 1
    return n

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The answer engine: one query in, one response out, over immutable zone snapshots.

The lookup is RFC 1034 §4.3.2 with RFC 2308 negative answers, RFC 4592 wildcards, RFC 6672
DNAME and RFC 2181's rules; where those leave room, PowerDNS Authoritative's behaviour is
followed (docs/differences.md lists where fastdns deliberately departs from it). The engine
frames the response (header, question, OPT, TSIG), turns away what it does not answer and
answers CHAOS itself; the name is resolved by fastdns._lookup in the zone fastdns._zonetable
picks, records are written by fastdns._sections straight into the response as they are
found (so sections come out in order and truncation is decided record by record), and data
the zones do not hold comes from fastdns._supply.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns.consts cimport *
from fastdns._query cimport TSIG_BADKEY, PQ_OK, PQ_DROP, PQ_FORMERR, PQ_NOTIMP, Query, parse_query
from fastdns._encoder cimport b_init, b_header, b_question, b_rr, b_opt, b_tsig_error, b_finish
from fastdns._answer cimport *
from fastdns._lookup cimport Lookup
from fastdns._sections cimport sec_additional
from fastdns._signing cimport Signing, sig_proofs
from fastdns._sigcache cimport SigCache
from fastdns._snapshot cimport Snapshot, SEC_BROKEN
from fastdns._names cimport name_to_lk
from fastdns._supply cimport Supplies
from fastdns._zonetable cimport ZoneTable

cdef enum:
    OPT_SIZE = 11
    CHAOS_TTL = 5

#: Result.state, for Python (Engine.result)
STATE_ANSWERED = RS_ANSWERED
STATE_WAITING = RS_WAITING
STATE_DROP = RS_DROP


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
        self._zones = ZoneTable()
        self._supplies = Supplies()
        self._lookup = Lookup(self._zones, self._supplies)
        self._signing = Signing()

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
        self._any_to_tcp = any_to_tcp
        self._lookup.dname_processing = dname_processing
        self._lookup.expand_alias = expand_alias
        self.set_zones(zones, broken)

    def set_zones(self, zones, broken=()):
        """Serve exactly ``zones`` (Snapshots) from now on. ``broken`` names (wire form) the
        zones that are configured but failed to load: their names get SERVFAIL, as PowerDNS
        answers them, instead of REFUSED."""
        self._zones.set_zones(zones, broken)

    def set_index(self, index, bundles):
        """Serve the zones of a zone index (fastdns._zoneindex.ZoneIndex, or None) whose
        images lie in ``bundles`` (bundle number -> mapping), besides those of
        ``set_zones``. A query for a zone the index has as pending waits for it (the
        wait's type is 0, its name the apex)."""
        self._zones.set_index(index, bundles)

    def set_signature_cache(self, SigCache cache):
        """Sign from ``cache`` (fastdns._sigcache.SigCache; None: ask a signer for every
        signature) from now on."""
        self._signing = Signing(cache)

    def snapshot(self, bytes apex not None):
        """The Snapshot of the zone ``apex`` (wire form) served, or None."""
        cdef uint8_t lk[256]
        if not 1 <= len(apex) <= 255:
            return None
        return self._zones.snapshot(PyBytes_FromStringAndSize(
            <char *>lk, name_to_lk(apex, len(apex), lk)))

    @property
    def signing(self):
        """The engine's Signing: the signature requests its answers left, its counts."""
        return self._signing

    def keep_snapshots(self, Py_ssize_t count):
        """Keep at most ``count`` zones' Snapshots made at once (ZoneTable.snapshots_kept)."""
        self._zones.snapshots_kept = count

    @property
    def zones(self):
        """Apex lookup key -> Snapshot (None for a zone that failed to load)."""
        return self._zones.zones

    # -- data from outside (fastdns._supply) -------------------------------------------

    def supply(self, name, int qtype, rdatas, uint32_t ttl=0, *, uint32_t now):
        """Supplies.supply: keep the records of (``name``, ``qtype``) found outside the
        zones (None: the lookup failed) for ``ttl`` seconds from ``now``."""
        self._supplies.supply(name, qtype, rdatas, ttl, now=now)

    def supplied(self, name, int qtype, uint32_t now):
        """Supplies.supplied: what is kept for (``name``, ``qtype``) at ``now``, or None."""
        return self._supplies.supplied(name, qtype, now)

    def expire(self, uint32_t now):
        """Supplies.expire: drop what is stale at ``now``; the number dropped."""
        return self._supplies.expire(now)

    def forget(self):
        """Supplies.forget: drop every supplied record; the number dropped."""
        return self._supplies.forget()

    def alias_hook(self, name, target):
        """Supplies.alias_hook: answer A and AAAA at ``name`` with ``target``'s supplied
        records (a test hook; None: stop)."""
        self._supplies.alias_hook(name, target)

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
        if self.handoff and q.status == PQ_OK and self.handed_off(q, tcp):
            res.state = RS_HANDOFF
            return RS_HANDOFF
        a.res = res
        a.now = now
        self.begin(&a, q, tcp, limit, out, &edns, &nsid)
        if edns and q.edns_flags & EDNS_DO:
            a.signing = <PyObject *>self._signing
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

    cdef bint handed_off(self, const Query *q, bint tcp) noexcept:
        """Is ``q`` the manager's to answer: a zone transfer over TCP, a NOTIFY, or any
        query signed with TSIG (the keys are the manager's)?"""
        if q.has_edns and q.edns_version > 0:
            return False                     # BADVERS, answered here
        if q.tsig_off >= 0 or q.opcode == OPCODE_NOTIFY:
            return True
        return tcp and q.has_question and (q.qtype == TYPE_AXFR or q.qtype == TYPE_IXFR)

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
        a.signing = NULL
        a.nodata = False
        a.nproofs = 0
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
        snap = self._zones.best_zone(a, a.q.lk, a.q.lk_len, qtype == TYPE_DS)
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
        if a.signing != NULL and snap.sec != NULL and snap.sec.flags & SEC_BROKEN:
            a.rcode = RCODE_SERVFAIL         # its keys cannot sign: never unsigned data
            return 0
        self._lookup.resolve(a, snap)
        if a.nproofs and not a.stop:
            sig_proofs(a)
        if not a.stop:
            sec_additional(a)
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
            ans_reset(a, a.rcode, FLAG_TC)



cdef bint _lk_is(const Answer *a, bytes expect) noexcept:
    cdef int i
    if a.q.lk_len != len(expect):
        return False
    for i in range(a.q.lk_len):
        if a.q.lk[i] != expect[i]:
            return False
    return True

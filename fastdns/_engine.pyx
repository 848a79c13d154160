# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The answer engine: one query in, one response out, over immutable zone snapshots.

The lookup is RFC 1034 §4.3.2 with RFC 2308 negative answers, RFC 4592 wildcards, RFC 6672
DNAME and RFC 2181's rules; where those leave room, PowerDNS Authoritative's behaviour is
followed (docs/differences.md lists where fastdns deliberately departs from it). Records
are written straight into the response as they are found, so sections come out in order
and truncation is decided record by record.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastdns.consts cimport *
from fastdns._wire cimport *
from fastdns._snapshot cimport (Snapshot, NodeRec, RRsetRec, rd_u16, N_APEX, N_CUT,
                                N_DNAME, N_CNAME)

cdef enum:
    SEC_ANSWER = 1
    SEC_AUTHORITY = 2
    SEC_ADDITIONAL = 3
    OPT_SIZE = 11
    CHAOS_TTL = 5


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
    ``id.server`` (None refuses them); ``udp_truncation_threshold`` caps UDP responses as
    PowerDNS's setting of that name does.
    """

    def __init__(self, zones=(), *, int udp_truncation_threshold=1232, version=None,
                 server_id=None, bint dname_processing=True):
        if not 512 <= udp_truncation_threshold <= 65535:
            raise ValueError("udp_truncation_threshold must be within 512..65535")
        self._udp_limit = udp_truncation_threshold
        self._version_txt = None if version is None else _txt(version)
        self._id_txt = None if server_id is None else _txt(server_id)
        self._dname_processing = dname_processing
        self.set_zones(zones)

    def set_zones(self, zones):
        """Serve exactly ``zones`` (Snapshots) from now on."""
        cdef Snapshot snap
        cdef dict table = {}
        cdef int deepest = 0
        cdef int labels
        for snap in zones:
            if snap.apex_lk in table:
                raise ValueError("two snapshots of one zone")
            table[snap.apex_lk] = snap
            labels = _count_labels(snap.apex_lk)
            if labels > deepest:
                deepest = labels
        self._zones = table
        self._max_labels = deepest

    @property
    def zones(self):
        return dict(self._zones)

    def answer(self, const uint8_t[:] packet not None, bint tcp=False):
        """The response to ``packet`` (bytes), or None when it must be dropped."""
        if packet.shape[0] == 0:
            return None
        cdef int n = self.c_answer(&packet[0], packet.shape[0], tcp, self._out)
        if n < 0:
            return None
        return PyBytes_FromStringAndSize(<char *>self._out, n)

    cdef int c_answer(self, const uint8_t *packet, Py_ssize_t length, bint tcp,
                      uint8_t *out) except -2:
        """Write the response to ``packet`` into ``out``; its length, or -1 to drop."""
        cdef Answer a
        cdef int status = parse_query(packet, length, &a.q)
        cdef int limit
        cdef bint edns
        if status == PQ_DROP:
            return -1
        edns = a.q.has_edns and status == PQ_OK
        if tcp:
            limit = MSG_MAX
        elif edns:
            limit = a.q.udp_size if a.q.udp_size < self._udp_limit else self._udp_limit
            if limit < EDNS_MIN_UDP:
                limit = EDNS_MIN_UDP
        else:
            limit = EDNS_MIN_UDP
        b_init(&a.b, out, limit - (OPT_SIZE if edns else 0))
        b_header(&a.b, a.q.id, 0)
        a.flags = FLAG_QR | (a.q.flags & (0x7800 | FLAG_RD | FLAG_CD))
        a.rcode = RCODE_NOERROR
        a.stop = False
        a.tcp = tcp
        a.ntargets = 0
        a.nsynth = 0
        if status == PQ_FORMERR or status == PQ_NOTIMP:
            a.rcode = RCODE_FORMERR if status == PQ_FORMERR else RCODE_NOTIMP
            if a.q.has_question:
                b_question(&a.b, a.q.qname, a.q.qname_len, a.q.qtype, a.q.qclass)
        else:
            b_question(&a.b, a.q.qname, a.q.qname_len, a.q.qtype, a.q.qclass)
            if edns and a.q.edns_version > 0:
                a.rcode = RCODE_BADVERS          # RFC 6891 §6.1.3
            elif a.q.opcode == OPCODE_NOTIFY:
                a.rcode = RCODE_NOTIMP          # no secondary zones yet
            else:
                self.query(&a)
        if edns:
            b_opt(&a.b, self._udp_limit, a.rcode >> 4, a.q.edns_flags & EDNS_DO)
        b_finish(&a.b, a.flags | (a.rcode & 0xF))
        return a.b.pos

    # -- the lookup ----------------------------------------------------------------------

    cdef void query(self, Answer *a):
        cdef uint16_t qtype = a.q.qtype
        cdef Snapshot snap
        if a.q.qclass == CLASS_CH:
            self.chaos(a)
            return
        if a.q.qclass != CLASS_IN and a.q.qclass != CLASS_ANY:
            a.rcode = RCODE_REFUSED
            return
        if qtype == TYPE_AXFR or qtype == TYPE_IXFR:
            a.rcode = RCODE_REFUSED if a.tcp else RCODE_FORMERR
            return
        if qtype == TYPE_OPT or qtype == TYPE_TSIG or qtype == TYPE_TKEY \
                or qtype == TYPE_MAILA or qtype == TYPE_MAILB:
            a.rcode = RCODE_NOTIMP
            return
        snap = self.best_zone(a.q.lk, a.q.lk_len, qtype == TYPE_DS)
        if snap is None:
            a.rcode = RCODE_REFUSED
            return
        a.flags |= FLAG_AA
        self.resolve(a, snap)
        if not a.stop:
            self.additional(a)

    cdef Snapshot best_zone(self, const uint8_t *lk, int lklen, bint ds):
        """The zone with the longest apex that is ``lk`` or an ancestor of it.

        For DS the parent side answers (RFC 4035 §3.1.4.1): a zone whose apex is the name
        itself is only used when no ancestor zone is served.
        """
        cdef int bounds[LABELS_MAX + 1]
        cdef int nb = 1
        cdef int p = 0
        cdef int i
        cdef PyObject *found
        cdef PyObject *fallback = NULL
        bounds[0] = 0
        while p < lklen:
            p += lk[p] + 1
            bounds[nb] = p
            nb += 1
        i = nb - 1 if nb - 1 < self._max_labels else self._max_labels
        while i >= 0:
            key = PyBytes_FromStringAndSize(<const char *>lk, bounds[i])
            found = PyDict_GetItem(self._zones, key)
            if found != NULL:
                if ds and i == nb - 1 and i > 0:
                    fallback = found
                else:
                    return <Snapshot>found
            i -= 1
        if fallback != NULL:
            return <Snapshot>fallback
        return None

    cdef void resolve(self, Answer *a, Snapshot snap):
        """Follow the query name through CNAMEs and DNAMEs, zone to zone."""
        cdef const uint8_t *name = a.q.qname
        cdef int nlen = a.q.qname_len
        cdef int links = 0
        while True:
            a.lk_len = name_to_lk(name, nlen, a.lk)
            if self.step(a, snap, &name, &nlen) != ST_FOLLOW or a.stop:
                return
            links += 1
            if links >= CHAIN_MAX:
                return
            a.lk_len = name_to_lk(name, nlen, a.lk)
            snap = self.best_zone(a.lk, a.lk_len, a.q.qtype == TYPE_DS)
            if snap is None:
                return          # the chain leaves the zones we serve: the client follows it

    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name, int *nlen):
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
        # no such name: find the closest encloser, an ancestor of the predecessor
        ck = snap.node_lk(i, &cklen)
        lk_common_labels(a.lk, a.lk_len, ck, cklen, &common)
        ce = i if common == cklen else snap.find(a.lk, common, &exact)
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
                      int *nlen):
        if snap.nodes[node].flags & N_CUT:
            return self.referral(a, snap, node)
        return self.dname(a, snap, node, name, nlen)

    cdef int at_node(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                     int *nlen):
        """Answer from an existing node (or a wildcard, with the query's name as owner)."""
        cdef const NodeRec *n = &snap.nodes[node]
        cdef const RRsetRec *rs
        cdef uint16_t qtype = a.q.qtype
        cdef uint32_t k
        if qtype == TYPE_ANY:
            if n.rrset_count == 0:
                self.negative(a, snap)
            for k in range(n.rrset_start, n.rrset_start + n.rrset_count):
                if self.put(a, SEC_ANSWER, snap, &snap.rrsets[k], name[0], nlen[0], 0) < 0:
                    return ST_DONE
            return ST_DONE
        rs = snap.rrset(node, qtype)
        if rs != NULL:
            self.put(a, SEC_ANSWER, snap, rs, name[0], nlen[0], 0)
            return ST_DONE
        if n.flags & N_CNAME and qtype != TYPE_CNAME:
            rs = snap.rrset(node, TYPE_CNAME)
            if self.put(a, SEC_ANSWER, snap, rs, name[0], nlen[0], 0) < 0:
                return ST_DONE
            name[0] = snap.rdata + rs.rdata_off + 2
            nlen[0] = rd_u16(snap.rdata + rs.rdata_off)
            return ST_FOLLOW
        self.negative(a, snap)
        return ST_DONE

    cdef int dname(self, Answer *a, Snapshot snap, int node, const uint8_t **name, int *nlen):
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
            a.flags |= FLAG_TC
            a.stop = True
            return ST_DONE
        name[0] = synth
        nlen[0] = prefix + target_len
        return ST_FOLLOW if self._dname_processing else ST_DONE

    cdef int referral(self, Answer *a, Snapshot snap, int cut):
        """A delegation: the child's NS in the authority section and glue; not authoritative."""
        if a.b.counts[SEC_ANSWER] == 0:
            a.flags &= ~FLAG_AA
        self.put(a, SEC_AUTHORITY, snap, snap.rrset(cut, TYPE_NS), snap.node_name(cut),
                 name_len(snap.node_name(cut)), 0)
        return ST_DONE

    cdef void negative(self, Answer *a, Snapshot snap):
        """NODATA or NXDOMAIN: the SOA with the negative TTL (RFC 2308 §3)."""
        cdef const uint8_t *apex = snap.node_name(0)
        self.put(a, SEC_AUTHORITY, snap, &snap.rrsets[snap.hdr.soa_rrset], apex,
                 name_len(apex), snap.hdr.neg_ttl)

    cdef int put(self, Answer *a, int section, Snapshot snap, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) except -2:
        """Write an RRset (``ttl`` 0: its own TTL) and note its additional targets.

        Returns -1 when it did not fit: in the answer or authority section that truncates
        the response (TC); in the additional section it merely ends that section.
        """
        cdef uint32_t p = rs.rdata_off
        cdef uint32_t k, t
        cdef uint16_t rdlen
        cdef const uint32_t *targets
        if ttl == 0:
            ttl = rs.ttl
        for k in range(rs.count):
            rdlen = rd_u16(snap.rdata + p)
            if b_rr(&a.b, section, owner, owner_len, rs.rdtype, CLASS_IN, ttl,
                    snap.rdata + p + 2, rdlen) < 0:
                if section != SEC_ADDITIONAL:
                    a.flags |= FLAG_TC
                    a.stop = True
                return -1
            p += 2 + rdlen
        if rs.extra_off and section != SEC_ADDITIONAL:
            targets = snap.extra + rs.extra_off
            for k in range(targets[0]):
                self.note_target(a, snap, targets[1 + k])
        return 0

    cdef void note_target(self, Answer *a, Snapshot snap, uint32_t node):
        cdef int i
        for i in range(a.ntargets):
            if a.targets[i].snap == <PyObject *>snap and a.targets[i].node == node:
                return
        if a.ntargets < ADDITIONAL_MAX:
            a.targets[a.ntargets].snap = <PyObject *>snap
            a.targets[a.ntargets].node = node
            a.ntargets += 1

    cdef void additional(self, Answer *a):
        """A and AAAA of the in-zone targets of NS, MX and SRV records written so far."""
        cdef int i
        cdef Snapshot snap
        cdef const RRsetRec *rs
        cdef const uint8_t *owner
        for i in range(a.ntargets):
            snap = <Snapshot>a.targets[i].snap
            owner = snap.node_name(a.targets[i].node)
            rs = snap.rrset(a.targets[i].node, TYPE_A)
            if rs != NULL and self.put(a, SEC_ADDITIONAL, snap, rs, owner, name_len(owner),
                                       0) < 0:
                return
            rs = snap.rrset(a.targets[i].node, TYPE_AAAA)
            if rs != NULL and self.put(a, SEC_ADDITIONAL, snap, rs, owner, name_len(owner),
                                       0) < 0:
                return

    # -- CHAOS -------------------------------------------------------------------------

    cdef void chaos(self, Answer *a):
        """version.bind, version.pdns, id.server and hostname.bind TXT in class CH."""
        cdef bytes txt
        if a.q.qtype != TYPE_TXT and a.q.qtype != TYPE_ANY:
            a.rcode = RCODE_REFUSED
            return
        if _lk_is(a, b"\x04bind\x07version") or _lk_is(a, b"\x04pdns\x07version"):
            txt = self._version_txt
        elif _lk_is(a, b"\x06server\x02id") or _lk_is(a, b"\x04bind\x08hostname"):
            txt = self._id_txt
        else:
            a.rcode = RCODE_REFUSED
            return
        if txt is None:
            a.rcode = RCODE_REFUSED
            return
        a.flags |= FLAG_AA
        if b_rr(&a.b, SEC_ANSWER, a.q.qname, a.q.qname_len, TYPE_TXT, CLASS_CH, CHAOS_TTL,
                txt, len(txt)) < 0:
            a.flags |= FLAG_TC


cdef bint _lk_is(const Answer *a, bytes expect):
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

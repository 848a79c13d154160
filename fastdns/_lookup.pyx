# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The lookup of RFC 1034 §4.3.2 in the zones served: a name followed through CNAMEs and
DNAMEs (RFC 6672), zone to zone, to the node that answers it, its wildcard (RFC 4592), its
closest encloser's cut, or NXDOMAIN (Knot's solve_answer, nameserver/internet.c). The
records go in through fastdns._sections; ALIAS targets come from fastdns._supply.
"""

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastdns.consts cimport *
from fastdns._reader cimport NAME_MAX
from fastdns._names cimport name_len, name_to_lk, lk_common_labels
from fastdns._encoder cimport b_rr
from fastdns._answer cimport (Answer, CHAIN_MAX, SEC_ANSWER, ST_DONE, ST_FOLLOW, ans_reset)
from fastdns._sections cimport sec_put, sec_negative, sec_referral
from fastdns._signing cimport proof_nodata, proof_nxdomain, proof_wildcard
from fastdns._snapshot cimport (Snapshot, NodeRec, RRsetRec, rd_u16, N_APEX, N_CUT, N_DNAME,
                                N_CNAME)
from fastdns._supply cimport Supplies
from fastdns._zonetable cimport ZoneTable


cdef inline bint beside_cname(uint16_t qtype, uint16_t flags) noexcept nogil:
    """Is ``qtype`` answered from a name's own data although the name holds a CNAME? The
    CNAME itself, the SOA of an apex that holds one (as PowerDNS), and the types that may
    sit beside a CNAME (fastdns.zone.check.CNAME_NEIGHBOURS: RFC 2181 §10.1, RFC 4035
    §2.5)."""
    return (qtype == TYPE_CNAME or qtype == TYPE_RRSIG or qtype == TYPE_NSEC
            or qtype == TYPE_KEY or (qtype == TYPE_SOA and flags & N_APEX))


cdef class Lookup:
    """How an engine resolves a name: over its ZoneTable, with its Supplies, under its
    ``dname_processing`` and ``expand_alias`` settings (PowerDNS's names)."""

    def __init__(self, ZoneTable zones not None, Supplies supplies not None, *,
                 bint dname_processing=True, bint expand_alias=False):
        self.zones = zones
        self.supplies = supplies
        self.dname_processing = dname_processing
        self.expand_alias = expand_alias

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
                ans_reset(a, RCODE_SERVFAIL, 0)     # a loop, or too long a chain
                return 0
            a.lk_len = name_to_lk(name, nlen, a.lkbuf)
            a.lk = a.lkbuf
            snap = self.zones.best_zone(a, a.lk, a.lk_len, a.q.qtype == TYPE_DS)
            if snap is None:
                if a.rcode == RCODE_SERVFAIL:
                    ans_reset(a, RCODE_SERVFAIL, 0)
                return 0        # the chain leaves the zones we serve: the client follows it

    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name,
                  int *nlen) except -1:
        cdef bint exact
        cdef int i = snap.find(a.lk, a.lk_len, &exact)
        cdef int ce, common, cklen, state
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
                return sec_referral(a, snap, i)
            a.nodata = False
            state = self.at_node(a, snap, i, name, nlen)
            if a.nodata and a.signing != NULL:
                proof_nodata(a, snap, i)
            return state
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
            return sec_referral(a, snap, ce)
        if n.flags & N_DNAME:
            return self.dname(a, snap, ce, name, nlen)
        if n.wild:
            a.nodata = False
            state = self.at_node(a, snap, n.wild - 1, name, nlen)
            if a.signing != NULL:
                proof_wildcard(a, snap, ce, n.wild - 1, a.nodata)
            return state
        a.rcode = RCODE_NXDOMAIN
        sec_negative(a, snap)
        if a.signing != NULL:
            proof_nxdomain(a, snap, ce)
        return ST_DONE

    cdef int redirect(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                      int *nlen) except -1:
        if snap.nodes[node].flags & N_CUT:
            return sec_referral(a, snap, node)
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
            if sec_put(a, SEC_ANSWER, snap, node, rs, name[0], nlen[0], 0) < 0:
                return ST_DONE
            name[0] = snap.rdata + rs.rdata_off + 2
            nlen[0] = rd_u16(snap.rdata + rs.rdata_off)
            return ST_FOLLOW
        if self.expand_alias and (qtype == TYPE_A or qtype == TYPE_AAAA or qtype == TYPE_ANY
                                   or qtype == TYPE_ALIAS):
            state = self.supplies.alias(a, snap, node, name[0], nlen[0])
            if state >= 0:
                return state
        if qtype == TYPE_ANY:
            if n.rrset_count == 0:
                sec_negative(a, snap)
            a.any_snap = <PyObject *>snap
            a.any_node = node
            for k in range(n.rrset_start, n.rrset_start + n.rrset_count):
                if sec_put(a, SEC_ANSWER, snap, node, &snap.rrsets[k], name[0], nlen[0],
                           0) < 0:
                    return ST_DONE
            return ST_DONE
        rs = snap.rrset(node, qtype)
        if rs != NULL:
            sec_put(a, SEC_ANSWER, snap, node, rs, name[0], nlen[0], 0)
            return ST_DONE
        if self.supplies._external is not None and (qtype == TYPE_A or qtype == TYPE_AAAA):
            # the test hook stands where ALIAS expansion goes: an ALIAS RRset at the node
            # (expand-alias=yes) names the target instead
            state = self.supplies.hooked(a, snap, node, name[0], nlen[0])
            if state >= 0:
                return state
        sec_negative(a, snap)
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
        if sec_put(a, SEC_ANSWER, snap, node, rs, owner, name_len(owner), 0) < 0:
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
            ans_reset(a, a.rcode, FLAG_TC)
            return ST_DONE
        name[0] = synth
        nlen[0] = prefix + target_len
        # RFC 6672 §3.2 step 3c: back to step 1 with the new name, whatever the qtype
        return ST_FOLLOW if self.dname_processing else ST_DONE

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The sections of a response: RRsets, the negative answer, a referral, the additional
section (the section solvers of Knot's nameserver/internet.c, over fastdns's Answer).

Records are written straight into the response as they are found, so sections come out in
order and truncation is decided RRset by RRset.
"""

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns.consts cimport *
from fastdns._names cimport name_len
from fastdns._encoder cimport b_rr
from fastdns._answer cimport (Answer, ADDITIONAL_MAX, SEC_ANSWER, SEC_AUTHORITY,
                              SEC_ADDITIONAL, ST_DONE, ans_reset)
from fastdns._snapshot cimport Snapshot, RRsetRec, rd_u16, EXTRA_RRSET, N_NONAUTH
from fastdns._signing cimport signs, sig_rrset, proof_no_ds


cdef int sec_referral(Answer *a, Snapshot snap, int cut) noexcept:
    """A delegation: the child's NS in the authority section and glue; not authoritative.
    Signed (DO=1), the DS RRset with its RRSIGs, or the proof that there is none."""
    cdef const RRsetRec *ds
    cdef const uint8_t *owner = snap.node_name(cut)
    if a.b.counts[SEC_ANSWER] == 0:
        a.flags &= ~FLAG_AA
    if sec_put(a, SEC_AUTHORITY, snap, cut, snap.rrset(cut, TYPE_NS), owner,
               name_len(owner), 0) < 0 or not signs(a, snap, cut, TYPE_DS):
        return ST_DONE
    ds = snap.rrset(cut, TYPE_DS)
    if ds != NULL:
        sec_put(a, SEC_AUTHORITY, snap, cut, ds, owner, name_len(owner), 0)
    else:
        proof_no_ds(a, snap, cut)
    return ST_DONE


cdef void sec_negative(Answer *a, Snapshot snap) noexcept:
    """NODATA or NXDOMAIN: the SOA with the negative TTL (RFC 2308 §3)."""
    cdef const uint8_t *apex = snap.node_name(0)
    a.nodata = True
    sec_put(a, SEC_AUTHORITY, snap, 0, &snap.rrsets[snap.hdr.soa_rrset], apex,
            name_len(apex), snap.hdr.neg_ttl)


cdef int sec_put(Answer *a, int section, Snapshot snap, int node, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) noexcept:
    """Write an RRset of ``node`` (``ttl`` 0: its own TTL), with its RRSIGs when the answer
    is signed, and note its additional targets.

    An RRset that does not fit, or whose RRSIGs do not, is never sent in part. In the answer or authority section
    that truncates the whole response: TC, every section empty (as PowerDNS). In the
    additional section the RRset is left out and -1 returned; TC is not set for optional
    data (RFC 2181 §9).
    """
    cdef uint32_t p = rs.rdata_off
    cdef uint32_t k, entry
    cdef int sigs
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
                ans_reset(a, a.rcode, FLAG_TC)
            return -1
        p += 2 + rdlen
    if signs(a, snap, node, rs.rdtype):
        sigs = sig_rrset(a, section, snap, node, rs, owner, owner_len, ttl)
        if sigs == -2:
            return -1                       # SERVFAIL (the RRset is too large to sign)
        if sigs < 0:
            if section == SEC_ADDITIONAL:
                a.b.pos = save_pos
                a.b.ncomp = save_ncomp
                a.b.counts[section] = save_count
            else:
                ans_reset(a, a.rcode, FLAG_TC)
            return -1
    if rs.extra_off and section != SEC_ADDITIONAL:
        targets = snap.extra + rs.extra_off
        for k in range(targets[0]):
            entry = targets[1 + k]
            if entry & EXTRA_RRSET:
                sec_note_target(a, snap, entry & (EXTRA_RRSET - 1), rs.rdtype, False)
                continue
            # the glue of a referral, below its cut, is required (RFC 9471 §3)
            sec_note_target(a, snap, entry, 0, section == SEC_AUTHORITY and
                            rs.rdtype == TYPE_NS and snap.nodes[entry].flags & N_NONAUTH)
    return 0


cdef void sec_note_target(Answer *a, Snapshot snap, uint32_t node, uint16_t rdtype,
                          bint required) noexcept:
    """Remember a node (and which of its RRsets) for the additional section, once."""
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


cdef void sec_additional(Answer *a) noexcept:
    """The additional section, as PowerDNS fills it: required glue first, then the
    SVCB/HTTPS records an AliasMode chain leads to, then the A and AAAA of the in-zone
    targets of the NS, MX, SRV, SVCB and HTTPS records written so far, while it fits
    (leaving out the addresses an ANY answer holds already)."""
    cdef int i
    for i in range(a.ntargets):
        if a.targets[i].required and sec_add_target(a, i) < 0:
            ans_reset(a, a.rcode, FLAG_TC)
            return
    for i in range(a.ntargets):
        if a.targets[i].rdtype and sec_add_target(a, i) < 0:
            return
    for i in range(a.ntargets):
        if a.targets[i].required or a.targets[i].rdtype:
            continue
        if a.targets[i].snap == a.any_snap and <int>a.targets[i].node == a.any_node:
            continue
        if sec_add_target(a, i) < 0:
            return


cdef int sec_add_target(Answer *a, int i) noexcept:
    """The additional records of target ``i``; -1 when they do not fit."""
    cdef Snapshot snap = <Snapshot>a.targets[i].snap
    cdef uint32_t node = a.targets[i].node
    cdef const uint8_t *owner = snap.node_name(node)
    cdef int owner_len = name_len(owner)
    cdef const RRsetRec *rs
    if a.targets[i].rdtype:
        rs = snap.rrset(node, a.targets[i].rdtype)
        if rs != NULL and sec_put(a, SEC_ADDITIONAL, snap, node, rs, owner, owner_len,
                                  0) < 0:
            return -1
        return 0
    rs = snap.rrset(node, TYPE_A)
    if rs != NULL and sec_put(a, SEC_ADDITIONAL, snap, node, rs, owner, owner_len, 0) < 0:
        return -1
    rs = snap.rrset(node, TYPE_AAAA)
    if rs != NULL and sec_put(a, SEC_ADDITIONAL, snap, node, rs, owner, owner_len, 0) < 0:
        return -1
    return 0

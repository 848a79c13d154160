# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Data supplied from outside the zones, and the answers made of it: ALIAS expansion
(expand-alias, as PowerDNS answers it) and the test hook that stands where it goes."""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastdns.consts cimport *
from fastdns._reader cimport put_u16
from fastdns._names cimport name_to_lk
from fastdns._encoder cimport b_rr
from fastdns._wire import check_name, to_lk
from fastdns._answer cimport Answer, SEC_ANSWER, ST_DONE, ans_reset
from fastdns._sections cimport sec_negative
from fastdns._signing cimport sig_rdatas
from fastdns._snapshot cimport Snapshot, RRsetRec, rd_u16


cdef class Supplied:
    """Records of one (name, type) that the engine does not hold itself, supplied from
    outside (a resolver's answer for an ALIAS target; later, signatures from a signer)."""


cdef class Supplies:
    """The Supplied records an engine keeps, by (name, type), until they are stale."""

    def __cinit__(self):
        self._supplied = {}
        self._external = None

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

    cdef Supplied fresh(self, bytes key, uint32_t now):
        cdef Supplied entry = self._supplied.get(key)
        if entry is None or now >= entry.expires:
            return None
        return entry

    cdef int hooked(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                    int owner_len) except -2:
        """The test hook (alias_hook) at ``node`` for an A or AAAA query: the answer, as
        ``external``; -1: no hook there, answer as usual."""
        target = self._external.get(_node_lk(snap, node))
        if target is None:
            return -1
        return self.external(a, snap, node, owner, owner_len, target, a.q.qtype)

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
            sec_negative(a, snap)
            return ST_DONE
        if qtype != TYPE_ANY and snap.rrset(node, qtype) != NULL:
            return -1                                     # an address of its own wins
        target = PyBytes_FromStringAndSize(<const char *>snap.rdata + rs.rdata_off + 2,
                                           rd_u16(snap.rdata + rs.rdata_off))
        if qtype != TYPE_ANY:
            return self.external(a, snap, node, owner, owner_len, target, qtype)
        v4 = self.needed(a, target, TYPE_A)
        if v4 is None:
            return ST_DONE
        if not v4.failed:
            v6 = self.needed(a, target, TYPE_AAAA)
            if v6 is None:
                return ST_DONE
        if v4.failed or v6.failed:           # (no second wait when the first failed)
            ans_reset(a, RCODE_SERVFAIL, 0)
            return ST_DONE
        if not v4.rdatas and not v6.rdatas:
            sec_negative(a, snap)
            return ST_DONE
        self.external(a, snap, node, owner, owner_len, target, TYPE_A)
        if not a.stop:
            self.external(a, snap, node, owner, owner_len, target, TYPE_AAAA)
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

    cdef int external(self, Answer *a, Snapshot snap, int node, const uint8_t *owner,
                      int owner_len, bytes target, uint16_t qtype) except -1:
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
            ans_reset(a, RCODE_SERVFAIL, 0)
            return ST_DONE
        if not entry.rdatas:
            if a.q.qtype != TYPE_ANY:
                sec_negative(a, snap)
            return ST_DONE
        # the resolver's TTL as it gave it, while it is kept (PowerDNS, which asks every
        # time, shows it unchanged too; a packet-cache entry made of it lives no longer)
        ttl = entry.ttl
        for rdata in entry.rdatas:
            if b_rr(&a.b, SEC_ANSWER, owner, owner_len, qtype, CLASS_IN, ttl, rdata,
                    len(rdata)) < 0:
                ans_reset(a, a.rcode, FLAG_TC)
                return ST_DONE
        if a.signing != NULL and sig_rdatas(a, SEC_ANSWER, snap, node, qtype, ttl,
                                            list(entry.rdatas), owner, owner_len) == -1:
            ans_reset(a, a.rcode, FLAG_TC)
        return ST_DONE


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

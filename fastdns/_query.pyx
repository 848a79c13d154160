# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DNS queries: the checked parse of a query's header, question, EDNS (RFC 6891) and TSIG
(RFC 8945) records into a Query (RFC 1035 §4.1).

The C API (_query.pxd) is allocation-free; ``parse`` at the end is a thin wrapper for tests
(re-exported by fastdns._wire).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastdns.consts cimport *
from fastdns._reader cimport *
from fastdns._names cimport wr_name, wr_skip_name, labels_to_lk

cdef int skip_rr(WireReader *r, uint16_t *rdtype) noexcept nogil:
    cdef uint16_t rdlen
    if wr_skip_name(r) < 0:
        return -1
    if not wr_check(r, 10):
        return -1
    rdtype[0] = wr_u16(r)
    r.pos += 6
    rdlen = wr_u16(r)
    if not wr_check(r, rdlen):
        return -1
    r.pos += rdlen
    return 0


cdef int parse_tsig(WireReader *r, Query *q, int owner_len) noexcept nogil:
    """Check the RDATA of a TSIG record (RFC 8945 §4.2); r.pos is at its type."""
    cdef uint16_t rdlen, mac_size, other_len
    cdef Py_ssize_t end
    cdef uint8_t algorithm[256]
    cdef int alg_len, nlabels
    if get_u16(r.buf + r.pos + 2) != CLASS_ANY:
        return WIRE_EOPT                        # RFC 8945 §4.2: CLASS MUST be ANY
    r.pos += 8
    rdlen = wr_u16(r)
    if not wr_check(r, rdlen):
        return WIRE_ESHORT
    end = r.pos + rdlen
    q.tsig_rdata = r.pos
    alg_len = wr_name(r, algorithm, &nlabels)
    if alg_len < 0 or end - r.pos < 10:
        return WIRE_EOPT
    q.tsig_error_size = owner_len + 10 + alg_len + TSIG_FIXED
    r.pos += 8
    mac_size = wr_u16(r)
    if end - r.pos < mac_size + 6:
        return WIRE_EOPT
    r.pos += mac_size + 4
    other_len = wr_u16(r)
    if end - r.pos != other_len:
        return WIRE_EOPT
    r.pos = end
    return 0


cdef int parse_opt(WireReader *r, Query *q) noexcept nogil:
    """Parse the rest of an OPT record (after its root owner); r.pos is at its type."""
    cdef uint32_t ttl
    cdef uint16_t rdlen, optlen, code
    cdef Py_ssize_t end
    r.pos += 2
    q.udp_size = wr_u16(r)
    ttl = wr_u32(r)
    rdlen = wr_u16(r)
    if not wr_check(r, rdlen):
        return WIRE_ESHORT
    q.ext_rcode = ttl >> 24
    q.edns_version = (ttl >> 16) & 0xFF
    q.edns_flags = ttl & 0xFFFF
    q.opt_rdata_off = r.pos
    q.opt_rdata_len = rdlen
    end = r.pos + rdlen
    # the options must tile the rdata exactly (RFC 6891 §6.1.2)
    while r.pos < end:
        if end - r.pos < 4:
            return WIRE_EOPT
        code = wr_u16(r)
        optlen = wr_u16(r)
        if code == OPTION_NSID:
            q.nsid = True
        if optlen > end - r.pos:
            return WIRE_EOPT
        r.pos += optlen
    q.has_edns = True
    return 0


cdef int read_qname(WireReader *r, Query *q) noexcept nogil:
    """The question's name into q.qname, q.nlabels and its key into q.lk, in one pass over
    the packet: its length, or a WIRE_E* error. The question's name can hold no
    compression pointer (one must point before the name and after the header, RFC 1035
    §4.1.4), so it is read as wr_name reads it, with the pointers refused outright."""
    cdef int offs[LABELS_MAX]
    cdef int labels = 0
    cdef Py_ssize_t start = r.pos
    cdef Py_ssize_t pos = r.pos
    cdef int n
    cdef uint8_t c
    while True:
        if pos >= r.len:
            return WIRE_ESHORT
        c = r.buf[pos]
        if c == 0:
            break
        if c >= 64:
            return WIRE_EPTR if c >= 0xC0 else WIRE_ELABEL
        if pos + 1 + c > r.len:
            return WIRE_ESHORT
        if pos - start + c + 2 > NAME_MAX:
            return WIRE_ENAMELEN
        offs[labels] = <int>(pos - start)
        labels += 1
        pos += c + 1
    n = <int>(pos + 1 - start)
    memcpy(q.qname, r.buf + start, n)
    q.qname_len = n
    q.nlabels = labels
    q.lk_len = labels_to_lk(q.qname, n, offs, labels, q.lk)
    r.pos = pos + 1
    return n


cdef inline void q_clear(Query *q) noexcept nogil:
    """Every field parse_fields may leave unset: nothing parsed yet."""
    q.has_question = False
    q.has_edns = False
    q.udp_size = 0
    q.edns_version = 0
    q.ext_rcode = 0
    q.edns_flags = 0
    q.opt_rdata_off = -1
    q.opt_rdata_len = 0
    q.nsid = False
    q.tsig_off = -1
    q.tsig_rdata = -1
    q.tsig_error_size = 0
    q.qname_len = 0
    q.lk_len = 0
    q.nlabels = 0
    q.qtype = 0
    q.qclass = 0
    q.end = 0


cdef int parse_query(const uint8_t *buf, Py_ssize_t len, Query *q) noexcept nogil:
    """Parse a query into ``q``; returns PQ_OK, PQ_DROP, PQ_FORMERR or PQ_NOTIMP, also
    kept in q.status (the engine takes the parsed query, never the packet, to answer it).

    q.has_question tells whether the question may be echoed in an error response.
    """
    q.status = parse_fields(buf, len, q)
    return q.status


cdef int parse_fields(const uint8_t *buf, Py_ssize_t len, Query *q) noexcept nogil:
    cdef WireReader r
    cdef int n, i, status, nlabels
    cdef uint16_t rdtype
    cdef Py_ssize_t start
    cdef uint8_t owner[256]
    r.buf = buf
    r.len = len
    r.pos = 0
    r.floor = 12
    q_clear(q)
    if len < 12:
        return PQ_DROP
    q.id = wr_u16(&r)
    q.flags = wr_u16(&r)
    if q.flags & FLAG_QR:
        return PQ_DROP
    q.opcode = (q.flags >> 11) & 0xF
    q.qdcount = wr_u16(&r)
    q.ancount = wr_u16(&r)
    q.nscount = wr_u16(&r)
    q.arcount = wr_u16(&r)
    status = PQ_OK
    if q.opcode != OPCODE_QUERY and q.opcode != OPCODE_NOTIFY:
        status = PQ_NOTIMP
    if q.qdcount != 1:
        return status if status != PQ_OK else PQ_FORMERR
    n = read_qname(&r, q)
    if n < 0 or not wr_check(&r, 4):
        return status if status != PQ_OK else PQ_FORMERR
    q.qtype = wr_u16(&r)
    q.qclass = wr_u16(&r)
    q.has_question = True
    if status != PQ_OK:
        return status
    for i in range(<int>q.ancount + q.nscount):
        # records here are meaningless in a query (an OPT too) and stepped over; a TSIG
        # anywhere but last in the additional section is FORMERR (RFC 8945 §5.1)
        if skip_rr(&r, &rdtype) < 0 or rdtype == TYPE_TSIG:
            return PQ_FORMERR
    for i in range(q.arcount):
        start = r.pos
        n = wr_name(&r, owner, &nlabels)
        if n < 0 or not wr_check(&r, 10):
            return PQ_FORMERR
        rdtype = get_u16(buf + r.pos)
        if rdtype == TYPE_OPT:
            # one OPT at most, owned by the root (RFC 6891 §6.1.1)
            if q.has_edns or n != 1 or parse_opt(&r, q) < 0:
                return PQ_FORMERR
        elif rdtype == TYPE_TSIG:
            if i != q.arcount - 1 or parse_tsig(&r, q, n) < 0:
                return PQ_FORMERR
            q.tsig_off = start
        else:
            r.pos = start
            if skip_rr(&r, &rdtype) < 0:
                return PQ_FORMERR
    q.end = r.pos
    return PQ_OK


PARSE_OK = PQ_OK
PARSE_DROP = PQ_DROP
PARSE_FORMERR = PQ_FORMERR
PARSE_NOTIMP = PQ_NOTIMP


def parse(const uint8_t[:] packet not None):
    """Parse a query; returns (status, fields) where fields is a dict of what was parsed."""
    cdef Query q
    cdef int status
    if packet.shape[0] == 0:
        return PQ_DROP, {}
    status = parse_query(&packet[0], packet.shape[0], &q)
    fields = {}
    if packet.shape[0] >= 12 and status != PQ_DROP:
        fields = dict(id=q.id, flags=q.flags, opcode=q.opcode, qdcount=q.qdcount,
                      ancount=q.ancount, nscount=q.nscount, arcount=q.arcount)
    if q.has_question:
        fields.update(qname=q.qname[:q.qname_len], lk=q.lk[:q.lk_len], qtype=q.qtype,
                      qclass=q.qclass)
    if q.has_edns:
        fields.update(udp_size=q.udp_size, edns_version=q.edns_version,
                      ext_rcode=q.ext_rcode, edns_flags=q.edns_flags, nsid=bool(q.nsid),
                      options=bytes(packet[q.opt_rdata_off:q.opt_rdata_off + q.opt_rdata_len]))
    if q.tsig_off >= 0:
        fields["tsig_off"] = q.tsig_off
        fields["tsig_rdata"] = q.tsig_rdata
    if status == PQ_OK:
        fields["end"] = q.end
    return status, fields


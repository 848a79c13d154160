# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DNS responses: the encoder of header, question and records, with name compression and
record-by-record truncation under a size limit; OPT and TSIG error records (RFC 1035
§4.1.4, RFC 6891, RFC 8945 §5.2.2).

The C API (_encoder.pxd) is allocation-free; ``encode`` at the end is a thin wrapper for
tests (re-exported by fastdns._wire).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy, memcmp

from fastdns.consts cimport *
from fastdns._reader cimport *
from fastdns._names cimport wr_name, name_len
from fastdns._query cimport Query, OPTION_NSID, TSIG_FIXED
from fastdns._names import check_name

cdef void b_init(Builder *b, uint8_t *buf, int limit) noexcept nogil:
    b.buf = buf
    b.pos = 12
    b.limit = limit
    b.counts[0] = 0
    b.counts[1] = 0
    b.counts[2] = 0
    b.counts[3] = 0
    b.ncomp = 0


cdef void b_header(Builder *b, uint16_t id, uint16_t flags) noexcept nogil:
    put_u16(b.buf, id)
    put_u16(b.buf + 2, flags)


cdef inline void b_remember(Builder *b, int off, int length) noexcept nogil:
    if off < 0x4000 and b.ncomp < COMP_MAX:
        b.comp_off[b.ncomp] = off
        b.comp_len[b.ncomp] = length
        b.ncomp += 1


cdef int b_question(Builder *b, const uint8_t *qname, int qname_len,
                    uint16_t qtype, uint16_t qclass) noexcept nogil:
    """Write the question uncompressed, in the query's own case, and remember its suffixes."""
    cdef int p = 0
    if b.pos + qname_len + 4 > b.limit:
        return WIRE_EFULL
    memcpy(b.buf + b.pos, qname, qname_len)
    while qname[p] != 0:
        b_remember(b, b.pos + p, qname_len - p)
        p += qname[p] + 1
    b.pos += qname_len
    put_u16(b.buf + b.pos, qtype)
    put_u16(b.buf + b.pos + 2, qclass)
    b.pos += 4
    b.counts[0] = 1
    return 0


cdef bint b_match(const Builder *b, int off, const uint8_t *name, int nlen) noexcept nogil:
    """Does the name at ``off`` in the message (ours, so its pointers are sound) equal
    the uncompressed ``name`` (``nlen`` octets), case-insensitively?"""
    cdef const uint8_t *m = b.buf
    cdef int p = off
    cdef int q = 0
    cdef int i
    cdef uint8_t c
    # most often it is there in full and in the same case (the question's suffix, the
    # apex a zone's names end in): one comparison
    if off + nlen <= b.pos and memcmp(m + off, name, nlen) == 0:
        return True
    while True:
        c = m[p]
        while c >= 0xC0:
            p = ((c & 0x3F) << 8) | m[p + 1]
            c = m[p]
        if c != name[q]:
            return False
        if c == 0:
            return True
        for i in range(1, c + 1):
            if m[p + i] != name[q + i] and lower(m[p + i]) != lower(name[q + i]):
                return False
        p += c + 1
        q += c + 1


cdef int b_name(Builder *b, const uint8_t *name, int nlen) noexcept nogil:
    """Write ``name`` compressed against the names already in the message."""
    cdef int i = 0
    cdef int target = -1
    cdef int e, j, l
    while name[i] != 0:
        for e in range(b.ncomp):
            if b.comp_len[e] == nlen - i and b_match(b, b.comp_off[e], name + i, nlen - i):
                target = b.comp_off[e]
                break
        if target >= 0:
            break
        i += name[i] + 1
    if b.pos + i + (2 if target >= 0 else 1) > b.limit:
        return WIRE_EFULL
    j = 0
    while j < i:
        b_remember(b, b.pos, nlen - j)
        l = name[j] + 1
        memcpy(b.buf + b.pos, name + j, l)
        b.pos += l
        j += l
    if target >= 0:
        put_u16(b.buf + b.pos, 0xC000 | target)
        b.pos += 2
    else:
        b.buf[b.pos] = 0
        b.pos += 1
    return 0


cdef inline int b_raw(Builder *b, const uint8_t *data, int n) noexcept nogil:
    if b.pos + n > b.limit:
        return WIRE_EFULL
    memcpy(b.buf + b.pos, data, n)
    b.pos += n
    return 0


cdef bint rdata_ok(uint16_t rdtype, const uint8_t *rdata, int rdlen) noexcept nogil:
    """Are the names that b_rdata compresses well formed and inside the rdata?"""
    cdef int p = 0
    cdef int names = 0
    cdef int i, start
    if rdtype == TYPE_NS or rdtype == TYPE_CNAME or rdtype == TYPE_PTR or rdtype == TYPE_MD \
            or rdtype == TYPE_MF or rdtype == TYPE_MB or rdtype == TYPE_MG or rdtype == TYPE_MR:
        names = 1
    elif rdtype == TYPE_MX:
        names = 1
        p = 2
    elif rdtype == TYPE_SOA or rdtype == TYPE_MINFO:
        names = 2
    else:
        return True
    for i in range(names):
        start = p
        while True:
            if p >= rdlen or rdata[p] > 63:
                return False
            if rdata[p] == 0:
                break
            p += rdata[p] + 1
        p += 1
        if p - start > NAME_MAX:
            return False
    if rdtype == TYPE_SOA:
        return p + 20 == rdlen
    return p == rdlen


cdef int b_rdata(Builder *b, uint16_t rdtype, const uint8_t *rdata, int rdlen) noexcept nogil:
    """Write rdata, compressing the embedded names of RFC 1035's types (RFC 3597 §4)."""
    cdef int n
    if rdtype == TYPE_NS or rdtype == TYPE_CNAME or rdtype == TYPE_PTR or rdtype == TYPE_MD \
            or rdtype == TYPE_MF or rdtype == TYPE_MB or rdtype == TYPE_MG or rdtype == TYPE_MR:
        return b_name(b, rdata, rdlen)
    if rdtype == TYPE_MX:
        if b_raw(b, rdata, 2) < 0:
            return WIRE_EFULL
        return b_name(b, rdata + 2, rdlen - 2)
    if rdtype == TYPE_SOA or rdtype == TYPE_MINFO:
        n = name_len(rdata)
        if b_name(b, rdata, n) < 0:
            return WIRE_EFULL
        rdata += n
        rdlen -= n
        n = name_len(rdata)
        if b_name(b, rdata, n) < 0:
            return WIRE_EFULL
        return b_raw(b, rdata + n, rdlen - n)
    return b_raw(b, rdata, rdlen)


cdef int b_rr(Builder *b, int section, const uint8_t *owner, int owner_len, uint16_t rdtype,
              uint16_t rdclass, uint32_t ttl, const uint8_t *rdata, int rdlen) noexcept nogil:
    """Append one record to ``section`` (1 answer, 2 authority, 3 additional).

    Returns WIRE_EFULL, with the message unchanged, when the record does not fit.
    """
    cdef int save_pos = b.pos
    cdef int save_ncomp = b.ncomp
    cdef int rdlen_at
    if b_name(b, owner, owner_len) < 0 or b.pos + 10 > b.limit:
        b.pos = save_pos
        b.ncomp = save_ncomp
        return WIRE_EFULL
    put_u16(b.buf + b.pos, rdtype)
    put_u16(b.buf + b.pos + 2, rdclass)
    put_u32(b.buf + b.pos + 4, ttl)
    rdlen_at = b.pos + 8
    b.pos += 10
    if b_rdata(b, rdtype, rdata, rdlen) < 0:
        b.pos = save_pos
        b.ncomp = save_ncomp
        return WIRE_EFULL
    put_u16(b.buf + rdlen_at, b.pos - rdlen_at - 2)
    b.counts[section] += 1
    return 0


cdef int b_opt(Builder *b, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags,
               const uint8_t *nsid, int nsid_len) noexcept nogil:
    """Append the OPT record (EDNS version 0), with an NSID option when ``nsid`` is set.

    The caller reserved its 11 octets (plus 4 + nsid_len).
    """
    cdef uint8_t *p = b.buf + b.pos
    p[0] = 0
    put_u16(p + 1, TYPE_OPT)
    put_u16(p + 3, udp_size)
    p[5] = ext_rcode
    p[6] = 0
    put_u16(p + 7, flags)
    if nsid != NULL:
        put_u16(p + 9, 4 + nsid_len)
        put_u16(p + 11, OPTION_NSID)
        put_u16(p + 13, nsid_len)
        memcpy(p + 15, nsid, nsid_len)
        b.pos += 15 + nsid_len
    else:
        put_u16(p + 9, 0)
        b.pos += 11
    b.counts[3] += 1
    return 0


cdef int b_tsig_error(Builder *b, const uint8_t *packet, Py_ssize_t length, const Query *q,
                      uint16_t error) noexcept nogil:
    """Append the unsigned TSIG record of an error response (RFC 8945 §5.2.2): the query's
    key and algorithm names, time signed and fudge, no MAC, ``error``. parse_query checked
    the query's TSIG; the caller reserved room (MSG_MAX - limit)."""
    cdef WireReader r
    cdef uint8_t key[256]
    cdef uint8_t algorithm[256]
    cdef int key_len, alg_len, nlabels, rdlen_at
    r.buf = packet
    r.len = length
    r.floor = 12
    r.pos = q.tsig_off
    key_len = wr_name(&r, key, &nlabels)
    r.pos = q.tsig_rdata
    alg_len = wr_name(&r, algorithm, &nlabels)
    if key_len < 0 or alg_len < 0:
        return WIRE_ESHORT
    memcpy(b.buf + b.pos, key, key_len)
    b.pos += key_len
    put_u16(b.buf + b.pos, TYPE_TSIG)
    put_u16(b.buf + b.pos + 2, CLASS_ANY)
    put_u32(b.buf + b.pos + 4, 0)
    rdlen_at = b.pos + 8
    b.pos += 10
    memcpy(b.buf + b.pos, algorithm, alg_len)
    b.pos += alg_len
    memcpy(b.buf + b.pos, packet + r.pos, 8)       # time signed, fudge
    put_u16(b.buf + b.pos + 8, 0)                  # MAC size
    put_u16(b.buf + b.pos + 10, q.id)              # original ID
    put_u16(b.buf + b.pos + 12, error)
    put_u16(b.buf + b.pos + 14, 0)                 # other len
    b.pos += TSIG_FIXED
    put_u16(b.buf + rdlen_at, b.pos - rdlen_at - 2)
    b.counts[3] += 1
    return 0


cdef void b_finish(Builder *b, uint16_t flags) noexcept nogil:
    put_u16(b.buf + 2, flags)
    put_u16(b.buf + 4, b.counts[0])
    put_u16(b.buf + 6, b.counts[1])
    put_u16(b.buf + 8, b.counts[2])
    put_u16(b.buf + 10, b.counts[3])



def encode(uint16_t id, uint16_t flags, question, records, opt=None, int limit=MSG_MAX):
    """Build a message with the engine's compression and truncation rules.

    question: (qname wire, qtype, qclass) or None. records: iterable of (section, owner
    wire, rdtype, rdclass, ttl, rdata) with section 1, 2 or 3 in order. opt: None or
    (udp_size, ext_rcode, edns_flags). A record that does not fit under ``limit`` ends the
    message, with TC set if it belonged to the answer or authority section.
    """
    cdef uint8_t buf[MSG_MAX + 64]
    cdef Builder b
    cdef bytes qname, owner, rdata
    cdef int reserve = 11 if opt is not None else 0
    if limit > MSG_MAX or limit < 12 + reserve:
        raise ValueError("limit out of range")
    b_init(&b, buf, limit - reserve)
    b_header(&b, id, flags)
    if question is not None:
        qname = check_name(question[0])
        if b_question(&b, qname, len(qname), question[1], question[2]) < 0:
            raise ValueError("question does not fit")
    for section, owner_name, rdtype, rdclass, ttl, rdata in records:
        owner = check_name(owner_name)
        if len(rdata) > 0xFFFF:
            raise ValueError("rdata too long")
        if not rdata_ok(rdtype, rdata, len(rdata)):
            raise ValueError("malformed rdata for its type")
        if b_rr(&b, section, owner, len(owner), rdtype, rdclass, ttl, rdata, len(rdata)) < 0:
            if section != 3:
                flags |= FLAG_TC
            break
    if opt is not None:
        b_opt(&b, opt[0], opt[1], opt[2], NULL, 0)
    b_finish(&b, flags)
    return buf[:b.pos]

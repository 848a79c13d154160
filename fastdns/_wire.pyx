# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DNS wire format: checked parsing of queries, names and lookup keys; response building
with name compression and size limits (RFC 1035 §4, RFC 6891).

Everything here is C-level and allocation-free; the ``def`` functions at the end are thin
wrappers for tests and tools (the engine and the UDP loop cimport the C API in _wire.pxd).
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memcmp

from fastdns.consts cimport *


cdef extern from *:
    """
    /* the index of the first octet (in memory order) where two words loaded by memcpy
       differ: x is their XOR, not 0 */
    static inline int fastdns_first_diff(uint64_t x) {
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        return __builtin_clzll(x) >> 3;
    #else
        return __builtin_ctzll(x) >> 3;
    #endif
    }
    """
    int first_diff "fastdns_first_diff"(uint64_t x) noexcept nogil


# ---------------------------------------------------------------------------------------
# names

cdef int wr_name(WireReader *r, uint8_t *out, int *nlabels) noexcept nogil:
    """Read a possibly compressed name at r.pos into ``out`` (uncompressed, case kept).

    Returns the length of the name in ``out`` (root byte included) and leaves r.pos after
    the name as it appears in the message. A compression pointer must point strictly
    before the previous one (and before the name itself), which rules out loops, and not
    below r.floor (a message's header holds no names, RFC 1035 §4.1.4).
    """
    cdef Py_ssize_t pos = r.pos
    cdef Py_ssize_t lowest = r.pos
    cdef Py_ssize_t ptr
    cdef int n = 0
    cdef int labels = 0
    cdef bint jumped = False
    cdef uint8_t c
    while True:
        if pos >= r.len:
            return WIRE_ESHORT
        c = r.buf[pos]
        if c == 0:
            out[n] = 0
            n += 1
            if not jumped:
                r.pos = pos + 1
            nlabels[0] = labels
            return n
        if c < 64:
            if pos + 1 + c > r.len:
                return WIRE_ESHORT
            if n + c + 2 > NAME_MAX:
                return WIRE_ENAMELEN
            memcpy(out + n, r.buf + pos, c + 1)
            n += c + 1
            pos += c + 1
            labels += 1
        elif c >= 0xC0:
            if pos + 1 >= r.len:
                return WIRE_ESHORT
            ptr = ((c & 0x3F) << 8) | r.buf[pos + 1]
            if ptr >= lowest or ptr < r.floor:
                return WIRE_EPTR
            if not jumped:
                r.pos = pos + 2
                jumped = True
            lowest = ptr
            pos = ptr
        else:
            return WIRE_ELABEL


cdef int wr_skip_name(WireReader *r) noexcept nogil:
    """Validate and step over a name, as wr_name does, without copying it."""
    cdef uint8_t scratch[256]
    cdef int nlabels
    return wr_name(r, scratch, &nlabels)


cdef bint wire_name_ok(const uint8_t *name, uint64_t room, int expect) noexcept nogil:
    """Is ``name`` an uncompressed wire name of length ``expect`` within ``room`` octets?"""
    cdef uint64_t p = 0
    while p < room:
        if name[p] == 0:
            return <int>p + 1 == expect
        if name[p] > 63:
            return False
        p += name[p] + 1
    return False


cdef int name_len(const uint8_t *name) noexcept nogil:
    """Length of an uncompressed wire name, root byte included."""
    cdef int p = 0
    while name[p] != 0:
        p += name[p] + 1
    return p + 1


cdef bint name_eq(const uint8_t *a, const uint8_t *b) noexcept nogil:
    """Case-insensitive equality of two uncompressed wire names."""
    cdef int p = 0
    cdef int i
    cdef uint8_t la
    while True:
        la = a[p]
        if la != b[p]:
            return False
        if la == 0:
            return True
        for i in range(p + 1, p + 1 + la):
            if lower(a[i]) != lower(b[i]):
                return False
        p += la + 1


cdef inline uint64_t lower8(uint64_t w) noexcept nogil:
    """Eight octets lowercased at once (ASCII letters only; SWAR, no carry between octets)."""
    cdef uint64_t heptets = w & 0x7F7F7F7F7F7F7F7FULL
    cdef uint64_t above_z = heptets + 0x2525252525252525ULL     # high bit: > 'Z'
    cdef uint64_t from_a = heptets + 0x3F3F3F3F3F3F3F3FULL      # high bit: >= 'A'
    cdef uint64_t upper = from_a & ~above_z & ~w & 0x8080808080808080ULL
    return w | (upper >> 2)


cdef inline void copy_lower(uint8_t *dst, const uint8_t *src, int n, int src_room,
                            int dst_room) noexcept nogil:
    """Copy ``n`` octets lowercased. Eight at a time where ``src_room`` octets may be read
    and ``dst_room`` written (past ``n`` they are garbage the caller writes over later)."""
    cdef int k = 0
    cdef uint64_t w
    while k < n and k + 8 <= src_room and k + 8 <= dst_room:
        memcpy(&w, src + k, 8)
        w = lower8(w)
        memcpy(dst + k, &w, 8)
        k += 8
    while k < n:
        dst[k] = lower(src[k])
        k += 1


cdef int name_to_lk(const uint8_t *name, int nlen, uint8_t *lk) noexcept nogil:
    """Lookup key of a wire name: its labels root-first, each length-prefixed and lowercased.

    Ordering lookup keys with lk_cmp is the canonical DNS order (RFC 4034 §6.1), and the
    key of an ancestor is a prefix of its descendants' keys. Returns the key length
    (nlen - 1: the root byte is dropped).
    """
    cdef int offs[LABELS_MAX]
    cdef int n = 0
    cdef int p = 0
    while name[p] != 0:
        offs[n] = p
        n += 1
        p += name[p] + 1
    return labels_to_lk(name, nlen, offs, n, lk)


cdef int labels_to_lk(const uint8_t *name, int nlen, const int *offs, int n,
                      uint8_t *lk) noexcept nogil:
    """name_to_lk, the ``n`` labels of ``name`` at ``offs`` known."""
    cdef int total = nlen - 1
    cdef int out = 0
    cdef int i, p, l
    for i in range(n - 1, -1, -1):
        p = offs[i]
        l = name[p]
        lk[out] = l
        copy_lower(lk + out + 1, name + p + 1, l, nlen - p - 1, total - out - 1)
        out += l + 1
    return out


cdef int lk_to_name(const uint8_t *lk, int lklen, uint8_t *name) noexcept nogil:
    """Inverse of name_to_lk (the case is lost). Returns the wire length."""
    cdef int p = 0
    cdef int end = lklen
    cdef int l
    while p < lklen:
        l = lk[p]
        end -= l + 1
        memcpy(name + end, lk + p, l + 1)
        p += l + 1
    name[lklen] = 0
    return lklen + 1


cdef int lk_cmp(const uint8_t *a, int alen, const uint8_t *b, int blen) noexcept nogil:
    """Canonical order of two lookup keys: <0, 0, >0.

    Where two keys agree octet for octet they agree label for label (the length octets
    included), so the first octet that differs is found eight at a time, and only then are
    the labels walked, by their lengths, to see whether it is a length or a letter. The
    keys of one zone share their first labels, the apex's: a binary search over them
    compared those label by label on every step.
    """
    cdef int n = alen if alen < blen else blen
    cdef int d = 0
    cdef int label = 0
    cdef int nxt, la, lb, i
    cdef uint64_t wa, wb
    while d + 8 <= n:
        memcpy(&wa, a + d, 8)
        memcpy(&wb, b + d, 8)
        if wa != wb:
            d += first_diff(wa ^ wb)
            break
        d += 8
    else:
        if d < n and n >= 8:
            # the last eight octets, overlapping what is known to be equal
            memcpy(&wa, a + n - 8, 8)
            memcpy(&wb, b + n - 8, 8)
            d = n if wa == wb else n - 8 + first_diff(wa ^ wb)
        while d < n and a[d] == b[d]:
            d += 1
    if d == n:
        return alen - blen          # one is the other, or its ancestor (which sorts first)
    # the label the first difference is in: its length octet is at ``label``
    while True:
        nxt = label + 1 + a[label]
        if nxt > d:
            break
        label = nxt
    if label < d:
        return <int>a[d] - <int>b[d]    # a letter of two labels of one length
    # the lengths differ: the labels' common part decides, then the shorter goes first
    la = a[d]
    lb = b[d]
    for i in range(1, (la if la < lb else lb) + 1):
        if d + i >= alen or d + i >= blen:
            break
        if a[d + i] != b[d + i]:
            return <int>a[d + i] - <int>b[d + i]
    return la - lb


cdef int lk_common_labels(const uint8_t *a, int alen, const uint8_t *b, int blen,
                          int *common_len) noexcept nogil:
    """Number of leading (root-side) labels two keys share; their byte length in common_len."""
    cdef int p = 0
    cdef int labels = 0
    cdef int l
    while p < alen and p < blen:
        l = a[p]
        if l != b[p] or p + l >= alen or p + l >= blen or memcmp(a + p + 1, b + p + 1, l) != 0:
            break
        p += l + 1
        labels += 1
    common_len[0] = p
    return labels


# ---------------------------------------------------------------------------------------
# queries

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


# ---------------------------------------------------------------------------------------
# building responses

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


# ---------------------------------------------------------------------------------------
# Python wrappers (tests, tools, the control plane)

class WireError(ValueError):
    """A name or message that does not parse."""


_ERRORS = {
    WIRE_ESHORT: "message too short",
    WIRE_ELABEL: "bad label type",
    WIRE_ENAMELEN: "name too long",
    WIRE_EPTR: "bad compression pointer",
    WIRE_EOPT: "malformed OPT record",
}


def read_name(const uint8_t[:] msg not None, Py_ssize_t offset):
    """Read the name at ``offset``: returns (uncompressed wire name, offset after it)."""
    cdef WireReader r
    cdef uint8_t out[256]
    cdef int nlabels
    cdef int n
    if offset < 0 or offset > msg.shape[0]:
        raise WireError("offset outside the message")
    r.buf = &msg[0] if msg.shape[0] else <const uint8_t *>b""
    r.len = msg.shape[0]
    r.pos = offset
    r.floor = 0
    n = wr_name(&r, out, &nlabels)
    if n < 0:
        raise WireError(_ERRORS[n])
    return out[:n], r.pos


def check_name(const uint8_t[:] name not None):
    """Validate an uncompressed wire name (lengths, no pointers); returns it as bytes."""
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t n = name.shape[0]
    while True:
        if i >= n:
            raise WireError("name not terminated")
        if name[i] == 0:
            break
        if name[i] > 63:
            raise WireError("bad label type")
        i += name[i] + 1
    if i + 1 != n:
        raise WireError("trailing octets after the name")
    if n > NAME_MAX:
        raise WireError("name too long")
    return bytes(name)


def to_lk(name):
    """Lookup key (bytes) of an uncompressed wire name."""
    cdef bytes wire = check_name(name)
    cdef uint8_t lk[256]
    cdef int n = name_to_lk(wire, len(wire), lk)
    return lk[:n]


def from_lk(const uint8_t[:] lk not None):
    """Wire name (lowercase) of a lookup key."""
    cdef uint8_t name[256]
    cdef int n
    if lk.shape[0] > NAME_MAX - 1:
        raise WireError("key too long")
    if lk.shape[0] == 0:
        return b"\x00"
    n = lk_to_name(&lk[0], lk.shape[0], name)
    return name[:n]


def sort_key(const uint8_t[:] lk not None):
    """A byte string whose plain ordering is the canonical order of lookup keys.

    Labels are joined by 0x00 after escaping 0x00 as 0x01 0x01 and 0x01 as 0x01 0x02, so a
    label that is a prefix of another sorts first (RFC 4034 §6.1) and no two keys collide.
    """
    cdef uint8_t out[512]
    cdef int p = 0
    cdef int o = 0
    cdef int n = lk.shape[0]
    cdef int l, j
    cdef uint8_t c
    if n > NAME_MAX:
        raise WireError("key too long")
    while p < n:
        l = lk[p]
        if p + 1 + l > n:
            raise WireError("malformed key")
        if o:
            out[o] = 0
            o += 1
        for j in range(p + 1, p + 1 + l):
            c = lk[j]
            if c <= 1:
                out[o] = 1
                out[o + 1] = c + 1
                o += 2
            else:
                out[o] = c
                o += 1
        p += l + 1
    return out[:o]


def lk_compare(const uint8_t[:] a not None, const uint8_t[:] b not None):
    """Canonical comparison of two lookup keys: -1, 0 or 1."""
    cdef int c = lk_cmp(&a[0] if a.shape[0] else <const uint8_t *>b"", a.shape[0],
                        &b[0] if b.shape[0] else <const uint8_t *>b"", b.shape[0])
    return (c > 0) - (c < 0)


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

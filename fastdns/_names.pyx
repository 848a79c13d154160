# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DNS names in wire form: the checked reader of (compressed) names, lengths and
comparisons, and lookup keys, the form zones are ordered and searched by (RFC 1035 §3.1,
§4.1.4; RFC 4034 §6.1).

The C API (_names.pxd) is allocation-free; the ``def`` functions at the end are thin
wrappers for tests, tools and the zone compiler (re-exported by fastdns._wire).
"""

from libc.stdint cimport uint8_t, uint64_t
from libc.string cimport memcpy, memcmp

from fastdns._reader cimport *

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


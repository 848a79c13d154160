# fastdns._reader: the checked reader of DNS messages (L0), declarations only.
#
# Reading follows py-pgproto's frb pattern: every read is preceded by wr_check(), so the
# hot modules can run with boundscheck/wraparound off. Hot functions return C ints
# (>= 0 ok, a negative WIRE_E* code on error) and never raise. Everything here is inline
# or a type, so a module that cimports it imports nothing at run time. Names and lookup
# keys are in fastdns._names, queries in fastdns._query, responses in fastdns._encoder;
# fastdns._wire gathers their Python API.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    WIRE_ESHORT = -1      # a read past the end of the message
    WIRE_ELABEL = -2      # reserved label type (0x40, 0x80) or bad label length
    WIRE_ENAMELEN = -3    # name longer than 255 octets
    WIRE_EPTR = -4        # compression pointer that does not point strictly backwards
    WIRE_EFULL = -5       # builder: the record does not fit under the size limit
    WIRE_EOPT = -6        # malformed or misplaced OPT record


cdef enum:
    NAME_MAX = 255
    LABELS_MAX = 128
    MSG_MAX = 65535

ctypedef struct WireReader:
    const uint8_t *buf
    Py_ssize_t len
    Py_ssize_t pos
    Py_ssize_t floor          # compression pointers below this are invalid (the header)

cdef inline bint wr_check(const WireReader *r, Py_ssize_t n) noexcept nogil:
    return n <= r.len - r.pos

cdef inline uint16_t wr_u16(WireReader *r) noexcept nogil:
    cdef uint16_t v = (<uint16_t>r.buf[r.pos] << 8) | r.buf[r.pos + 1]
    r.pos += 2
    return v

cdef inline uint32_t wr_u32(WireReader *r) noexcept nogil:
    cdef uint32_t v = ((<uint32_t>r.buf[r.pos] << 24) | (<uint32_t>r.buf[r.pos + 1] << 16)
                       | (<uint32_t>r.buf[r.pos + 2] << 8) | r.buf[r.pos + 3])
    r.pos += 4
    return v

cdef inline uint16_t get_u16(const uint8_t *p) noexcept nogil:
    return (<uint16_t>p[0] << 8) | p[1]

cdef inline void put_u16(uint8_t *p, uint16_t v) noexcept nogil:
    p[0] = v >> 8
    p[1] = v & 0xFF

cdef inline void put_u32(uint8_t *p, uint32_t v) noexcept nogil:
    p[0] = v >> 24
    p[1] = (v >> 16) & 0xFF
    p[2] = (v >> 8) & 0xFF
    p[3] = v & 0xFF

cdef extern from *:
    """
    #define FASTDNS_LC(i) ((unsigned char)(((i) >= 'A' && (i) <= 'Z') ? (i) + 32 : (i)))
    #define FASTDNS_LC4(i) FASTDNS_LC(i), FASTDNS_LC(i + 1), FASTDNS_LC(i + 2), FASTDNS_LC(i + 3)
    #define FASTDNS_LC16(i) FASTDNS_LC4(i), FASTDNS_LC4(i + 4), FASTDNS_LC4(i + 8), \
        FASTDNS_LC4(i + 12)
    #define FASTDNS_LC64(i) FASTDNS_LC16(i), FASTDNS_LC16(i + 16), FASTDNS_LC16(i + 32), \
        FASTDNS_LC16(i + 48)
    static const unsigned char fastdns_lower[256] = {
        FASTDNS_LC64(0), FASTDNS_LC64(64), FASTDNS_LC64(128), FASTDNS_LC64(192)};
    """
    const uint8_t *LOWER "fastdns_lower"

cdef inline uint8_t lower(uint8_t c) noexcept nogil:
    # a table: random names make a branch on the case a coin toss
    return LOWER[c]

# fastdns._wire: the C API of the wire codec (L0).
#
# Reading follows py-pgproto's frb pattern: every read is preceded by wr_check(), so the
# hot modules can run with boundscheck/wraparound off. Hot functions return C ints
# (>= 0 ok, a negative WIRE_E* code on error) and never raise.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    WIRE_ESHORT = -1      # a read past the end of the message
    WIRE_ELABEL = -2      # reserved label type (0x40, 0x80) or bad label length
    WIRE_ENAMELEN = -3    # name longer than 255 octets
    WIRE_EPTR = -4        # compression pointer that does not point strictly backwards
    WIRE_EFULL = -5       # builder: the record does not fit under the size limit
    WIRE_EOPT = -6        # malformed or misplaced OPT record

cdef enum:
    OPTION_NSID = 3           # RFC 5001
    TSIG_BADKEY = 17          # RFC 8945 §5.2.2
    TSIG_FIXED = 16           # time signed 6, fudge 2, mac size 2, original id 2, error 2,
                              # other len 2: the RDATA around the algorithm, MAC and other

cdef enum:
    NAME_MAX = 255
    LABELS_MAX = 128
    COMP_MAX = 256        # compression targets remembered per message
    MSG_MAX = 65535

# Outcome of parse_query: what the caller does with the packet.
cdef enum:
    PQ_OK = 0
    PQ_DROP = 1           # not answerable at all (no header, or QR=1)
    PQ_FORMERR = 2
    PQ_NOTIMP = 3

ctypedef struct WireReader:
    const uint8_t *buf
    Py_ssize_t len
    Py_ssize_t pos
    Py_ssize_t floor          # compression pointers below this are invalid (the header)

ctypedef struct Query:
    int status                # what parse_query returned (PQ_*)
    uint16_t id
    uint16_t flags            # the whole flags word of the query
    uint8_t opcode
    uint16_t qdcount
    uint16_t ancount
    uint16_t nscount
    uint16_t arcount
    bint has_question         # the (single) question parsed
    uint8_t qname[256]        # uncompressed wire form, the query's own case
    int qname_len
    int nlabels
    uint8_t lk[256]           # lookup key: labels root-first, each length-prefixed, lowercased
    int lk_len
    uint16_t qtype
    uint16_t qclass
    bint has_edns
    uint16_t udp_size         # the client's announced payload size (raw value)
    uint8_t edns_version
    uint8_t ext_rcode         # upper 8 bits of the extended rcode in the query
    uint16_t edns_flags       # DO and Z
    int opt_rdata_off         # EDNS options of the query (kept for later use), -1 if none
    int opt_rdata_len
    bint nsid                 # the query asked for the name server identifier (RFC 5001)
    int tsig_off              # offset of a trailing TSIG record, -1 if none
    int tsig_rdata            # offset of its RDATA
    int tsig_error_size       # octets of the TSIG record of an error response to it
    int end                   # offset after the last parsed record

ctypedef struct Builder:
    uint8_t *buf
    int pos
    int limit                 # a record ending past this offset does not fit
    uint16_t counts[4]        # qd, an, ns, ar
    int ncomp
    uint16_t comp_off[COMP_MAX]   # where a (partly) uncompressed name suffix starts
    uint8_t comp_len[COMP_MAX]    # its length, uncompressed

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

# names
cdef int wr_name(WireReader *r, uint8_t *out, int *nlabels) noexcept nogil
cdef int wr_skip_name(WireReader *r) noexcept nogil
cdef int name_to_lk(const uint8_t *name, int nlen, uint8_t *lk) noexcept nogil
cdef int lk_to_name(const uint8_t *lk, int lklen, uint8_t *name) noexcept nogil
cdef int lk_cmp(const uint8_t *a, int alen, const uint8_t *b, int blen) noexcept nogil
cdef int lk_common_labels(const uint8_t *a, int alen, const uint8_t *b, int blen,
                          int *common_len) noexcept nogil
cdef bint wire_name_ok(const uint8_t *name, uint64_t room, int expect) noexcept nogil
cdef int name_len(const uint8_t *name) noexcept nogil
cdef bint name_eq(const uint8_t *a, const uint8_t *b) noexcept nogil

# queries
cdef int parse_query(const uint8_t *buf, Py_ssize_t len, Query *q) noexcept nogil

# building responses
cdef void b_init(Builder *b, uint8_t *buf, int limit) noexcept nogil
cdef void b_header(Builder *b, uint16_t id, uint16_t flags) noexcept nogil
cdef int b_question(Builder *b, const uint8_t *qname, int qname_len,
                    uint16_t qtype, uint16_t qclass) noexcept nogil
cdef int b_name(Builder *b, const uint8_t *name, int nlen) noexcept nogil
cdef bint rdata_ok(uint16_t rdtype, const uint8_t *rdata, int rdlen) noexcept nogil
cdef int b_rr(Builder *b, int section, const uint8_t *owner, int owner_len, uint16_t rdtype,
              uint16_t rdclass, uint32_t ttl, const uint8_t *rdata, int rdlen) noexcept nogil
cdef int b_opt(Builder *b, uint16_t udp_size, uint8_t ext_rcode, uint16_t flags,
               const uint8_t *nsid, int nsid_len) noexcept nogil
cdef int b_tsig_error(Builder *b, const uint8_t *packet, Py_ssize_t length, const Query *q,
                      uint16_t error) noexcept nogil
cdef void b_finish(Builder *b, uint16_t flags_and_rcode) noexcept nogil

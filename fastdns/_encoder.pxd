# fastdns._encoder: the C API of the response encoder (L0): header, question, records with
# name compression, OPT, TSIG errors, truncation by a size limit.

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns._query cimport Query

cdef enum:
    COMP_MAX = 256        # compression targets remembered per message

ctypedef struct Builder:
    uint8_t *buf
    int pos
    int limit                 # a record ending past this offset does not fit
    uint16_t counts[4]        # qd, an, ns, ar
    int ncomp
    uint16_t comp_off[COMP_MAX]   # where a (partly) uncompressed name suffix starts
    uint8_t comp_len[COMP_MAX]    # its length, uncompressed

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

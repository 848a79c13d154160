# fastdns._query: the C API of query parsing (L0): header, question, EDNS, TSIG.

from libc.stdint cimport uint8_t, uint16_t

cdef enum:
    OPTION_NSID = 3           # RFC 5001
    TSIG_BADKEY = 17          # RFC 8945 §5.2.2
    TSIG_FIXED = 16           # time signed 6, fudge 2, mac size 2, original id 2, error 2,
                              # other len 2: the RDATA around the algorithm, MAC and other

# Outcome of parse_query: what the caller does with the packet.
cdef enum:
    PQ_OK = 0
    PQ_DROP = 1           # not answerable at all (no header, or QR=1)
    PQ_FORMERR = 2
    PQ_NOTIMP = 3

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

cdef int parse_query(const uint8_t *buf, Py_ssize_t len, Query *q) noexcept nogil

# fastdns.zone._rdata: record data from text, as PowerDNS reads it (see the .pyx docstring).
#
# One reader for every source of zone data: master files (fastdns.zone._masterfile), the
# content column of SQL rows (fastdns.backends), typed data of fastdns-util and the API.

from libc.stdint cimport uint8_t, uint16_t

cdef enum:
    RDATA_MAX = 65535         # RFC 1035 §3.2.1: RDLENGTH is 16 bits
    RDATA_ROOM = 65535 + 512  # what ``out`` of rdata_from_text must hold
    TYPE_ALIAS = 65401        # PowerDNS's own types (their numbers in PowerDNS's QType)
    TYPE_LUA = 65402
    SVC_MANDATORY = 0         # SVCB/HTTPS parameter keys (RFC 9460 §14.3.2)
    SVC_ALPN = 1
    SVC_NO_DEFAULT_ALPN = 2
    SVC_PORT = 3
    SVC_IPV4HINT = 4
    SVC_ECH = 5
    SVC_IPV6HINT = 6


cdef inline bint is_space(uint8_t c) noexcept nogil:
    """PowerDNS's dns_isspace."""
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 11 or c == 12


cdef inline bint is_digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


# The rdata of type ``rdtype`` written as ``text`` (``n`` octets) in ``out`` (RDATA_ROOM
# octets): its length, or -1 with ``why`` pointing at a static message. Names are absolute
# whether or not they end in a dot, as in PowerDNS's records.content.
cdef int rdata_from_text(uint16_t rdtype, const uint8_t *text, Py_ssize_t n, uint8_t *out,
                         const char **why) noexcept nogil

# Can records of this type be zone data (RFC 6895 §3.1: not a meta or query type)?
cdef bint zone_data(uint16_t code) noexcept nogil

# The number of the type named ``text`` (PowerDNS's names, any case, or TYPEnnn); -1 if
# PowerDNS does not know the name.
cdef int type_from_text(const uint8_t *text, Py_ssize_t n) noexcept nogil

# A name in presentation form (PowerDNS's DNSName: escapes, no trailing dot needed, "" and
# "." the root) in wire form in ``out`` (256 octets); its length or -1 (``why`` set).
cdef int name_from_text(const uint8_t *text, Py_ssize_t n, uint8_t *out,
                        const char **why) noexcept nogil

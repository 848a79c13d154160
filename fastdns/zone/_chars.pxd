# fastdns.zone._chars: the character classes of zone text, as PowerDNS has them (inline
# only: no module of its own). The reader of record data (fastdns.zone._rdata and the
# modules it reads with), the master-file reader and the SQL row readers share them.

from libc.stdint cimport uint8_t


cdef inline bint is_space(uint8_t c) noexcept nogil:
    """PowerDNS's dns_isspace."""
    return c == 32 or c == 9 or c == 10 or c == 13 or c == 11 or c == 12


cdef inline bint is_digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


cdef inline bint is_alnum(uint8_t c) noexcept nogil:
    return is_digit(c) or 65 <= c <= 90 or 97 <= c <= 122


cdef inline int hexval(uint8_t c) noexcept nogil:
    if is_digit(c):
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline uint8_t upper(uint8_t c) noexcept nogil:
    return c - 32 if 97 <= c <= 122 else c

# fastdns.zone._rows: SQL rows → a RecordStore (see the .pyx docstring).

from libc.stdint cimport int64_t, uint8_t, uint32_t

from fastdns.zone._sinks cimport StoreSink

cdef enum:
    ROW_BROKEN = -3             # add_row: the row's name, type or TTL cannot be read

# Add one ``records`` row; 0 taken, 1 left out on purpose, -1 its data broken, ROW_BROKEN
# the rest of it (``why`` says why). ``scratch`` holds RDATA_ROOM octets.
cdef int add_row(StoreSink sink, const uint8_t *name, Py_ssize_t nlen, const uint8_t *rtype,
                 Py_ssize_t tlen, const uint8_t *content, Py_ssize_t clen, int64_t ttl,
                 bint has_prio, int64_t prio, uint32_t row, uint8_t *scratch,
                 const char **why) except -2

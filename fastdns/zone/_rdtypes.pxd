# fastdns.zone._rdtypes: the record types PowerDNS 4.7 knows, by number and by name, each
# with the program of fields its data is read by (see the .pyx docstring).

from libc.stdint cimport uint8_t, uint16_t

ctypedef struct TypeInfo:
    uint16_t code
    const char *name
    # the fields, one letter each (fastdns.zone._rdfields.rd_fields); NULL: read by a
    # function of its own; "": a meta type, never zone data
    const char *fields

# The number of the type named ``text`` (PowerDNS's names, any case, or TYPEnnn); -1 if
# PowerDNS does not know the name.
cdef int type_from_text(const uint8_t *text, Py_ssize_t n) noexcept nogil

ctypedef struct TypeTable:
    const TypeInfo *types
    int n

# The table, complete once this module is imported: a module that looks types up per
# record keeps it and searches it inline (type_in), with no call across modules.
cdef TypeTable type_table() noexcept nogil


cdef inline bint zone_data(uint16_t code) noexcept nogil:
    """Can records of this type be zone data (RFC 6895 §3.1: not a meta or query type)?"""
    return not (code == 0 or code == 41 or 249 <= code <= 255)


cdef inline const TypeInfo *type_in(TypeTable table, uint16_t code) noexcept nogil:
    """The entry of type ``code``, or NULL if PowerDNS does not know it."""
    cdef int i
    for i in range(table.n):
        if table.types[i].code == code:
            return &table.types[i]
    return NULL

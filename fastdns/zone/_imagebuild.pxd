# fastdns.zone._imagebuild: the C API of the record store that zone images are built from.
#
# A reader appends records to a RecordStore (owner names and rdata in wire form, in the
# flat arenas of a fastdns.zone._store.Store: no Python object per record); prepare()
# orders and groups them and pack() writes the image (its layout: fastdns/_snapshot.pxd).

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns.zone._store cimport Store


cdef class RecordStore:
    cdef Store s                    # the records and, once prepared, their tree
    cdef bint autohints             # svc-autohints: fill "auto" SVCB hints (else drop them)
    cdef readonly list files        # where records come from, as their ``file`` numbers index
                                    # them: "name.zone:" (then a line) or "records.id=" (an id)
    cdef bint prepared

    cdef int set_owner(self, const uint8_t *wire, int wlen, const uint8_t *lk) except -1
    cdef bint same_owner(self, const uint8_t *wire, int wlen) noexcept nogil
    cdef uint8_t *room(self, size_t n) except NULL
    cdef int add_rec(self, uint16_t rdtype, uint32_t ttl, size_t rdlen, uint32_t file,
                     uint32_t line) except -1

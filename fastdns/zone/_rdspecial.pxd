# fastdns.zone._rdspecial: the readers of the types whose data has a shape of its own
# (no program of fields in fastdns.zone._rdtypes), SVCB and HTTPS aside (_rdsvcb).
# Each returns 0, or -1 with ``s.why`` set.

from fastdns.zone._rdfields cimport Dst, Src

cdef int rd_nsec3(Src *s, Dst *d, bint param) noexcept nogil   # NSEC3 (NSEC3PARAM: param)
cdef int rd_loc(Src *s, Dst *d) noexcept nogil
cdef int rd_apl(Src *s, Dst *d) noexcept nogil
cdef int rd_eui(Src *s, Dst *d, int groups) noexcept nogil    # EUI48: 6, EUI64: 8
cdef int rd_ipseckey(Src *s, Dst *d) noexcept nogil

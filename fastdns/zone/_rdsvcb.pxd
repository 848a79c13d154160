# fastdns.zone._rdsvcb: SVCB and HTTPS data (RFC 9460 §2.1 presentation format).

from fastdns.zone._rdfields cimport Dst, Src

cdef enum:
    SVC_MANDATORY = 0         # SvcParamKeys (RFC 9460 §14.3.2)
    SVC_ALPN = 1
    SVC_NO_DEFAULT_ALPN = 2
    SVC_PORT = 3
    SVC_IPV4HINT = 4
    SVC_ECH = 5
    SVC_IPV6HINT = 6

# Priority, target name and parameters, in key order: 0, or -1 with ``s.why`` set.
cdef int rd_svcb(Src *s, Dst *d) noexcept nogil

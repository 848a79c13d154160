# fastdns.zone._autohints: PowerDNS's svc-autohints, once per zone version (see the .pyx
# docstring): part of prepare().

from fastdns.zone._store cimport Store

# Fill in (``fill``: svc-autohints on) or drop the empty ipv4hint/ipv6hint of every SVCB
# and HTTPS record of a Store whose records are grouped by node.
cdef int svc_autohints(Store *s, bint fill) except -1

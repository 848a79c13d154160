# fastdns.zone._imagetargets: the targets of additional-section processing of a prepared
# Store (see the .pyx docstring): part of pack().

from libc.stdint cimport uint32_t

from fastdns.zone._store cimport Store

cdef enum:
    SVC_CHASE = 5            # lookups of an SVCB/HTTPS AliasMode chain (as PowerDNS)

# The targets of every NS, MX, SRV, SVCB and HTTPS RRset into ``extra`` (from ``nextra``
# on: a count, then node numbers), and (RRset number, extra offset) pairs into ``marks``.
# ``extra`` and ``marks`` hold s.extra_bound + 1 entries.
cdef int find_targets(const Store *s, uint32_t *extra, size_t *nextra, uint32_t *marks,
                      size_t *nmarks) except -1

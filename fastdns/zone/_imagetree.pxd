# fastdns.zone._imagetree: a Store's owners in canonical order, as nodes with their records
# grouped, flagged and linked (see the .pyx docstring): the first part of prepare().

from libc.stdint cimport uint8_t, uint32_t

from fastdns.zone._store cimport Store

# The nodes in canonical order, empty non-terminals included; owner entry -> node (the
# caller frees it).
cdef uint32_t *make_nodes(Store *s) except NULL
# ``perm``: record numbers grouped by node, each node's sorted by type and rdata.
cdef int bucket_records(Store *s, const uint32_t *own_node) except -1
# Flags, links, RRset counts and section sizes of every node; all but one record of a type
# in ``first`` (a bitmap of types) dropped; the nodes check_zone must see marked.
cdef int link_nodes(Store *s, const uint8_t *first, const uint8_t *neighbour) except -1
# The RRsets of the marked nodes, as prepare() returns them.
cdef list suspects(const Store *s)

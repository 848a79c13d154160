# fastdns._lookup: resolving a name in the zones served (L2): RFC 1034 §4.3.2 with CNAME
# and DNAME chains across zones, wildcards, cuts and ALIAS expansion (Knot's solve_answer).
# Each step ends in ST_DONE or ST_FOLLOW (_answer.pxd).

from libc.stdint cimport uint8_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot
from fastdns._supply cimport Supplies
from fastdns._zonetable cimport ZoneTable

cdef class Lookup:
    cdef ZoneTable zones      # the engine's: where a chain's next name is looked up
    cdef Supplies supplies    # the engine's: ALIAS targets' records
    cdef public bint dname_processing   # dname-processing: follow a DNAME's CNAME
    cdef public bint expand_alias       # expand-alias: A/AAAA/ANY at an ALIAS name

    cdef int resolve(self, Answer *a, Snapshot snap) except -1
    cdef int step(self, Answer *a, Snapshot snap, const uint8_t **name, int *nlen) except -1
    cdef int redirect(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                      int *nlen) except -1
    cdef int at_node(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                     int *nlen) except -1
    cdef int dname(self, Answer *a, Snapshot snap, int node, const uint8_t **name,
                   int *nlen) except -1

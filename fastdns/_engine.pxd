# fastdns._engine: the answer engine's C API (used by the per-packet path, fastdns._udp).
#
# The contract: the caller parses a query once (_wire.parse_query), computes the size its
# response must fit (_answer.answer_limit, which the packet-cache key uses too) and calls
# Engine.c_answer(query, packet, limit, now, out, result). The engine fills a Result
# (_answer.pxd): the state the query ended in, and for an answer its rcode, the zone it
# came from and whether the packet cache may keep it. No side fields on the engine.
#
# The engine frames the response and classifies the query; the name is resolved by
# fastdns._lookup in the zone fastdns._zonetable picks, the sections are written by
# fastdns._sections, data from outside comes from fastdns._supply.

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns._reader cimport MSG_MAX
from fastdns._query cimport Query
from fastdns._answer cimport Answer, Result
from fastdns._lookup cimport Lookup
from fastdns._supply cimport Supplies
from fastdns._zonetable cimport ZoneTable
from fastdns._signing cimport Signing

cdef class Engine:
    cdef ZoneTable _zones     # the zones served, by apex
    cdef Supplies _supplies   # records from outside the zones (ALIAS targets)
    cdef Lookup _lookup       # resolves a name over those two
    cdef Signing _signing     # RRSIGs and denial for DO=1 queries to zones signed online
    cdef readonly int udp_limit   # udp-truncation-threshold
    cdef bytes _version_txt   # TXT rdata for version.bind / version.pdns; None: SERVFAIL
    cdef bytes _id_txt        # TXT rdata for id.server; None: refused
    cdef bytes _nsid          # NSID option payload (RFC 5001); None: not sent
    cdef bint _any_to_tcp
    cdef public bint handoff  # transfers, NOTIFY and TSIG go to the manager (RS_HANDOFF)
    cdef uint8_t _out[MSG_MAX + 64]

    cdef int c_answer(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                      bint tcp, int limit, uint32_t now, uint8_t *out,
                      Result *res) except -1
    cdef bint handed_off(self, const Query *q, bint tcp) noexcept
    cdef int c_error(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                     bint tcp, int limit, uint16_t rcode, uint8_t *out) noexcept
    cdef int begin(self, Answer *a, const Query *q, bint tcp, int limit, uint8_t *out,
                   bint *edns, bint *nsid) noexcept
    cdef int finish(self, Answer *a, const uint8_t *packet, Py_ssize_t length, bint edns,
                    bint nsid) noexcept
    cdef int query(self, Answer *a) except -1
    cdef void chaos(self, Answer *a) noexcept

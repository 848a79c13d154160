# fastdns._sections: the sections a response is built from (L2), as Knot's section solvers
# (solve_answer/solve_authority/solve_additional in knot/nameserver/internet.c): RRsets
# written whole or not at all, the negative answer's SOA, a referral's NS, and the
# additional section from the targets noted on the way. C functions over an Answer.

from libc.stdint cimport uint8_t, uint16_t, uint32_t

from fastdns._answer cimport Answer
from fastdns._snapshot cimport Snapshot, RRsetRec

cdef int sec_put(Answer *a, int section, Snapshot snap, int node, const RRsetRec *rs,
                 const uint8_t *owner, int owner_len, uint32_t ttl) noexcept
cdef void sec_negative(Answer *a, Snapshot snap) noexcept
cdef int sec_referral(Answer *a, Snapshot snap, int cut) noexcept
cdef void sec_note_target(Answer *a, Snapshot snap, uint32_t node, uint16_t rdtype,
                          bint required) noexcept
cdef void sec_additional(Answer *a) noexcept
cdef int sec_add_target(Answer *a, int i) noexcept

# fastdns._names: the C API of wire names and lookup keys (L0).

from libc.stdint cimport uint8_t, uint64_t

from fastdns._reader cimport WireReader

cdef int wr_name(WireReader *r, uint8_t *out, int *nlabels) noexcept nogil
cdef int wr_skip_name(WireReader *r) noexcept nogil
cdef int name_to_lk(const uint8_t *name, int nlen, uint8_t *lk) noexcept nogil
cdef int lk_to_name(const uint8_t *lk, int lklen, uint8_t *name) noexcept nogil
cdef int lk_cmp(const uint8_t *a, int alen, const uint8_t *b, int blen) noexcept nogil
cdef int lk_common_labels(const uint8_t *a, int alen, const uint8_t *b, int blen,
                          int *common_len) noexcept nogil
cdef bint wire_name_ok(const uint8_t *name, uint64_t room, int expect) noexcept nogil
cdef int name_len(const uint8_t *name) noexcept nogil
cdef bint name_eq(const uint8_t *a, const uint8_t *b) noexcept nogil
# name_to_lk, the offsets of the labels known (the question's reader has them)
cdef int labels_to_lk(const uint8_t *name, int nlen, const int *offs, int n,
                      uint8_t *lk) noexcept nogil

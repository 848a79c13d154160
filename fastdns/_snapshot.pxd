# fastdns._snapshot: the C view of one zone image (layout: fastdns/zone/image.py).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

ctypedef struct ImageHeader:
    char magic[8]
    uint32_t version
    uint32_t flags
    uint32_t node_count
    uint32_t rrset_count
    uint32_t soa_rrset
    uint32_t neg_ttl
    uint32_t serial
    uint32_t reserved
    uint64_t nodes_off
    uint64_t rrsets_off
    uint64_t names_off
    uint64_t rdata_off
    uint64_t extra_off
    uint64_t size

ctypedef struct NodeRec:
    uint32_t lk_off
    uint32_t name_off
    uint32_t rrset_start
    uint16_t rrset_count
    uint16_t flags
    uint32_t above        # 1 + index of the highest proper ancestor that is a cut or DNAME
    uint32_t wild         # 1 + index of the node "*.<this>"

ctypedef struct RRsetRec:
    uint16_t rdtype
    uint16_t count
    uint32_t ttl
    uint32_t rdata_off
    uint32_t extra_off

cdef enum:
    N_APEX = 0x01
    N_CUT = 0x02
    N_DNAME = 0x04
    N_CNAME = 0x08
    N_ENT = 0x10
    N_WILDCARD = 0x20
    N_NONAUTH = 0x40
    N_ADDRESS = 0x80

cdef inline uint16_t rd_u16(const uint8_t *p) noexcept nogil:
    """An rdlength in the image (host order, possibly unaligned)."""
    cdef uint16_t v
    memcpy(&v, p, 2)
    return v


cdef class Snapshot:
    cdef object _buffer               # the image's exporter (bytes or mmap)
    cdef Py_buffer _view              # held until the snapshot goes
    cdef bint _has_view
    cdef const uint8_t *base
    cdef const ImageHeader *hdr
    cdef const NodeRec *nodes
    cdef const RRsetRec *rrsets
    cdef const uint8_t *names
    cdef const uint8_t *rdata
    cdef const uint32_t *extra
    cdef uint32_t nnodes
    cdef readonly uint64_t generation
    cdef readonly bytes origin        # wire form of the apex, as the zone wrote it
    cdef readonly bytes apex_lk
    cdef public uint32_t tag          # the worker's number for this zone (packet-cache entries)

    cdef _validate(self, Py_ssize_t size)
    cdef _validate_names(self, uint32_t i)
    cdef _validate_node(self, uint32_t i)
    cdef int find(self, const uint8_t *lk, int lklen, bint *exact) noexcept nogil
    cdef const RRsetRec *rrset(self, uint32_t node, uint16_t rdtype) noexcept nogil
    cdef const uint8_t *node_lk(self, uint32_t node, int *lklen) noexcept nogil
    cdef const uint8_t *node_name(self, uint32_t node) noexcept nogil

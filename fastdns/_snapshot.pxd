# fastdns._snapshot: the zone image, defined here once, and its read-only view.
#
# A zone image is one flat, position-independent binary per zone snapshot: a worker serves
# from it without a Python object per record, and every worker maps the same one (DESIGN
# §4). fastdns.zone._imagebuild writes it; Snapshot validates and reads it. Integers are in
# the host's byte order (an image never leaves the machine that built it; the magic says
# which order).
#
#     header   ImageHeader
#     nodes    node_count x NodeRec, in canonical DNS order (RFC 4034 §6.1); the apex is 0
#     rrsets   rrset_count x RRsetRec; a node's RRsets are contiguous, ordered by type
#     names    per node: its lookup key as [u8 length][key], then its owner name in wire
#              form (the case of the first record read at that name)
#     rdata    per RRset: count x ([u16 rdlength][rdata, uncompressed wire form])
#     extra    u32 lists [n, entry, ...]: the additional-section targets of an RRset (NS,
#              MX, SRV, SVCB, HTTPS); an entry is a node whose A and AAAA go in, or, with
#              EXTRA_RRSET set, a node whose RRset of the referring type goes in (the
#              records an SVCB or HTTPS AliasMode chain leads to). The list at offset 0 is
#              empty, so that ``extra_off == 0`` means "none".
#     security what signing the zone online needs (a signed zone only; sec_off 0: none):
#              SecHeader, its keys, each RRset's canonical rdata where it differs from
#              the rdata served, the NSEC chain or the hashed NSEC3 chain

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

cdef enum:
    IMAGE_VERSION = 5
    EXTRA_RRSET = 0x40000000   # (node numbers stay below it: the store refuses more nodes)

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
    uint64_t sec_off          # the SecHeader (0: the zone is not signed online)

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

# The security section (fastdns.dnssec.imagesec writes it). Offsets are from the image's
# start; every table lies inside the image.
ctypedef struct SecHeader:
    uint32_t flags            # SEC_*
    uint16_t key_count        # SecKey records: the active keys, which sign
    uint16_t iterations       # NSEC3
    uint8_t hash_alg          # NSEC3 (1: SHA-1)
    uint8_t nsec3_flags       # NSEC3 (1: opt-out)
    uint8_t salt_len
    uint8_t signer_len        # the apex in wire form, lower case: RRSIG's signer name
    uint8_t salt[256]
    uint8_t signer[256]
    uint32_t denial_ttl       # NSEC and NSEC3 TTL
    uint32_t chain_count      # NSEC3Rec entries (broad NSEC3)
    uint64_t keys_off
    uint64_t canon_off        # rrset_count x u32: offset of the RRset's canonical rdata
                              # in the canon area, NO_CANON: the rdata served is canonical
    uint64_t canon_data_off   # the canon area: per RRset count x ([u16 rdlength][rdata])
    uint64_t link_off         # node_count x u32: NSEC: the next node of the chain
                              # (cyclic), NSEC3: the node's entry in the chain; NOT_LINKED
                              # for a node outside the chain
    uint64_t chain_off        # chain_count x NSEC3Rec, by hash

ctypedef struct SecKey:
    uint16_t tag
    uint8_t algorithm
    uint8_t role              # KEY_ALL: signs every RRset; else, with SEC_HAVE_ZSK, KEY_KSK
                              # signs DNSKEY, CDS, CDNSKEY only and a ZSK the others
    uint8_t id[8]             # a digest of its DNSKEY: part of its signatures' cache keys,
                              # so another key with the same tag never gets its signatures

ctypedef struct NSEC3Rec:
    uint8_t hash[20]
    uint32_t node

cdef enum:
    SEC_NSEC3 = 0x01
    SEC_NARROW = 0x02         # NSEC3 computed per query (hash - 1, hash + 1)
    SEC_HAVE_ZSK = 0x04       # some algorithm's keys split into KSKs and ZSKs (see role)
    SEC_BROKEN = 0x08         # the zone's keys or settings cannot be used: a query with
                              # DO=1 gets SERVFAIL, never unsigned data (no keys then)
    SEC_PRESIGNED = 0x10      # the zone holds its own RRSIGs, NSEC or NSEC3 (no keys);
                              # the chain's nodes hold them
    KEY_KSK = 0x01
    KEY_ALL = 0x02            # its algorithm's keys do not split: it signs every RRset
    NO_CANON = 0xFFFFFFFF
    NOT_LINKED = 0xFFFFFFFF

# node flags
cdef enum:
    N_APEX = 0x01
    N_CUT = 0x02          # NS at a name other than the apex: a delegation point
    N_DNAME = 0x04
    N_CNAME = 0x08
    N_ENT = 0x10          # no RRsets: an empty non-terminal
    N_WILDCARD = 0x20     # the owner's first label is "*"
    N_NONAUTH = 0x40      # below a zone cut: glue or occluded data, never authoritative
    N_ADDRESS = 0x80      # has A or AAAA: a target for additional-section processing

# "FDNSZILE" or "FDNSZIBE": the magic of an image built on this host
cdef const char *image_magic() noexcept nogil

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
    cdef const SecHeader *sec         # NULL: not signed online
    cdef const SecKey *keys
    cdef const uint32_t *canon
    cdef const uint8_t *canon_data
    cdef const uint32_t *links
    cdef const NSEC3Rec *chain
    cdef readonly uint64_t generation
    cdef readonly bytes origin        # wire form of the apex, as the zone wrote it
    cdef readonly bytes apex_lk
    cdef public uint32_t tag          # the worker's number for this zone (packet-cache entries)

    cdef _validate(self, Py_ssize_t size, bint trusted=*)
    cdef _validate_names(self, uint32_t i)
    cdef _validate_node(self, uint32_t i)
    cdef _validate_security(self, bint trusted)
    cdef int find(self, const uint8_t *lk, int lklen, bint *exact) noexcept nogil
    cdef const RRsetRec *rrset(self, uint32_t node, uint16_t rdtype) noexcept nogil
    cdef const uint8_t *node_lk(self, uint32_t node, int *lklen) noexcept nogil
    cdef const uint8_t *node_name(self, uint32_t node) noexcept nogil

"""The zone image: one flat, position-independent binary per zone snapshot.

A worker serves from the image without creating a Python object per record; the image can
be an in-memory ``bytes`` or an mmap'ed file that every worker maps (DESIGN §4). This module
is the single description of the layout; ``fastdns/_snapshot.pxd`` declares the same structs
for C, and ``compile.py`` writes it. All integers are in the host's byte order (an image
never leaves the machine that compiled it; the magic records the order).

    header   HEADER (below)
    nodes    node_count x NODE, in canonical DNS order (RFC 4034 §6.1); the apex is node 0
    rrsets   rrset_count x RRSET; a node's RRsets are contiguous, ordered by type
    names    per node: its lookup key as [u8 length][key], then its owner name in wire form
    rdata    per RRset: count x ([u16 rdlength][rdata, uncompressed wire form])
    extra    u32 lists [n, node+1, ...]: in-zone A/AAAA targets of NS/MX/SRV RRsets; the
             list at offset 0 is empty so that ``extra == 0`` means "none"
"""

import struct
import sys

MAGIC = b"FDNSZI" + (b"LE" if sys.byteorder == "little" else b"BE")
VERSION = 1

#: magic, version, flags, node_count, rrset_count, soa_rrset, neg_ttl, serial, reserved,
#: then the offsets of nodes, rrsets, names, rdata, extra and the total size (u64 each).
HEADER = struct.Struct("=8sIIIIIIII6Q")
#: lk_off, name_off, rrset_start, rrset_count, flags, above, wild
NODE = struct.Struct("=IIIHHII")
#: rdtype, count, ttl, rdata_off, extra_off
RRSET = struct.Struct("=HHIII")

assert HEADER.size == 88 and NODE.size == 24 and RRSET.size == 16

# node flags
N_APEX = 0x01
#: NS at a name other than the apex: a delegation point (zone cut)
N_CUT = 0x02
N_DNAME = 0x04
N_CNAME = 0x08
#: no RRsets: an empty non-terminal
N_ENT = 0x10
#: the owner's first label is ``*``
N_WILDCARD = 0x20
#: below a zone cut: glue or occluded data, never authoritative
N_NONAUTH = 0x40
#: has A or AAAA: a target for additional-section processing
N_ADDRESS = 0x80

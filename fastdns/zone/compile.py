"""Compile a checked ZoneData into a zone image (layout: ``image.py``).

Everything an answer needs is worked out here, once per zone version, so that the engine
only follows offsets: canonical order, empty non-terminals, zone cuts and what lies below
them, DNAME redirection, wildcard children, the negative TTL and the additional-section
targets of NS, MX and SRV records.
"""

import struct
from array import array
from dataclasses import dataclass, field

from fastdns._wire import from_lk, sort_key, to_lk
from fastdns.consts import RdType
from fastdns.zone import image
from fastdns.zone.model import RRset, ZoneData

_U16 = struct.Struct("=H")

#: record types whose targets get A/AAAA in the additional section, and where the target
#: name starts in their rdata
_ADDITIONAL_TARGET_AT = {RdType.NS: 0, RdType.MX: 2, RdType.SRV: 6}


@dataclass(slots=True)
class _Node:
    name: bytes
    rrsets: dict[int, RRset] = field(default_factory=dict)
    flags: int = 0
    above: int = 0
    below_cut: bool = False
    wild: int = 0


def lk_parent(lk: bytes) -> bytes:
    """Lookup key of the parent name (the key minus its last label)."""
    p = 0
    last = 0
    while p < len(lk):
        last = p
        p += lk[p] + 1
    return lk[:last]


def lk_last_label(lk: bytes) -> bytes:
    """The leftmost label of the name (the last one in the key)."""
    p = 0
    last = 0
    while p < len(lk):
        last = p
        p += lk[p] + 1
    return lk[last + 1 :]


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


def compile_zone(zone: ZoneData) -> bytes:
    """Build the image of a zone that ``check.check_zone`` accepted."""
    origin_lk = to_lk(zone.origin)
    nodes: dict[bytes, _Node] = {}
    for rrset in zone.rrsets:
        lk = to_lk(rrset.owner)
        node = nodes.get(lk)
        if node is None:
            node = nodes[lk] = _Node(rrset.owner)
        have = node.rrsets.get(rrset.rdtype)
        if have is None:
            node.rrsets[rrset.rdtype] = RRset(rrset.owner, rrset.rdtype, rrset.ttl,
                                              list(rrset.rdatas), rrset.where)
        else:
            have.rdatas.extend(rrset.rdatas)
            have.ttl = min(have.ttl, rrset.ttl)
    _add_empty_non_terminals(nodes, origin_lk)

    order = sorted(nodes, key=sort_key)
    if order[0] != origin_lk:
        raise ValueError("zone data outside the apex")
    index = {lk: i for i, lk in enumerate(order)}
    for i, lk in enumerate(order):
        _link(nodes, order, index, i, lk)
    return _pack(zone, nodes, order, index)


def _add_empty_non_terminals(nodes: dict[bytes, _Node], origin_lk: bytes) -> None:
    for lk in list(nodes):
        while len(lk) > len(origin_lk):
            lk = lk_parent(lk)
            if lk in nodes:
                break
            # the owner name of an empty non-terminal is rebuilt from its key (lowercase)
            nodes[lk] = _Node(from_lk(lk))


def _link(nodes: dict[bytes, _Node], order: list[bytes], index: dict[bytes, int],
          i: int, lk: bytes) -> None:
    node = nodes[lk]
    types = node.rrsets
    flags = 0
    if i == 0:
        flags |= image.N_APEX
    elif RdType.NS in types:
        flags |= image.N_CUT
    if RdType.DNAME in types:
        flags |= image.N_DNAME
    if RdType.CNAME in types:
        flags |= image.N_CNAME
    if not types:
        flags |= image.N_ENT
    if RdType.A in types or RdType.AAAA in types:
        flags |= image.N_ADDRESS
    if i > 0:
        if lk_last_label(lk) == b"*":
            flags |= image.N_WILDCARD
        parent_index = index[lk_parent(lk)]
        parent = nodes[order[parent_index]]
        if flags & image.N_WILDCARD:
            parent.wild = i + 1
        # the highest redirecting ancestor wins: parents are linked before children
        if parent.above:
            node.above = parent.above
        elif parent.flags & (image.N_CUT | image.N_DNAME):
            node.above = parent_index + 1
        node.below_cut = parent.below_cut or bool(parent.flags & image.N_CUT)
        if node.below_cut:
            flags |= image.N_NONAUTH
    node.flags = flags


def _targets(rrset: RRset, index: dict[bytes, int], nodes: dict[bytes, _Node],
             order: list[bytes]) -> list[int]:
    start = _ADDITIONAL_TARGET_AT.get(rrset.rdtype)  # type: ignore[call-overload]
    if start is None:
        return []
    found: list[int] = []
    for rdata in rrset.rdatas:
        i = index.get(to_lk(rdata[start:]))
        if i is not None and nodes[order[i]].flags & image.N_ADDRESS and i not in found:
            found.append(i)
    return found


def _pack(zone: ZoneData, nodes: dict[bytes, _Node], order: list[bytes],
          index: dict[bytes, int]) -> bytes:
    node_recs = bytearray()
    rrset_recs = bytearray()
    names = bytearray()
    rdata = bytearray()
    extra = array("I", [0])
    rrset_count = 0
    soa_rrset = -1
    neg_ttl = serial = 0
    for lk in order:
        node = nodes[lk]
        lk_off = len(names)
        names.append(len(lk))
        names += lk
        name_off = len(names)
        names += node.name
        rrset_start = rrset_count
        for rdtype in sorted(node.rrsets):
            rrset = node.rrsets[rdtype]
            rdatas = sorted(set(rrset.rdatas))
            rdata_off = len(rdata)
            for rd in rdatas:
                rdata += _U16.pack(len(rd))
                rdata += rd
            extra_off = 0
            targets = _targets(rrset, index, nodes, order)
            if targets:
                extra_off = len(extra)
                extra.append(len(targets))
                extra.extend(targets)
            if rdtype == RdType.SOA and node.flags & image.N_APEX:
                soa_rrset = rrset_count
                soa = rdatas[0]
                serial, minimum = struct.unpack("!I12xI", soa[-20:])
                neg_ttl = min(rrset.ttl, minimum)
            rrset_recs += image.RRSET.pack(rdtype, len(rdatas), rrset.ttl, rdata_off, extra_off)
            rrset_count += 1
        node_recs += image.NODE.pack(lk_off, name_off, rrset_start, rrset_count - rrset_start,
                                     node.flags, node.above, node.wild)
    if soa_rrset < 0:
        raise ValueError("zone has no SOA record at its apex")
    nodes_off = _align(image.HEADER.size, 8)
    rrsets_off = _align(nodes_off + len(node_recs), 8)
    names_off = rrsets_off + len(rrset_recs)
    rdata_off = names_off + len(names)
    extra_off = _align(rdata_off + len(rdata), 4)
    size = extra_off + extra.itemsize * len(extra)
    out = bytearray(size)
    image.HEADER.pack_into(out, 0, image.MAGIC, image.VERSION, 0, len(order), rrset_count,
                           soa_rrset, neg_ttl, serial, 0, nodes_off, rrsets_off, names_off,
                           rdata_off, extra_off, size)
    out[nodes_off:nodes_off + len(node_recs)] = node_recs
    out[rrsets_off:names_off] = rrset_recs
    out[names_off:rdata_off] = names
    out[rdata_off:rdata_off + len(rdata)] = rdata
    out[extra_off:] = extra.tobytes()
    return bytes(out)

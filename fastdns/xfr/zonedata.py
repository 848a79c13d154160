"""A served zone's records, read back from its image: what a transfer out sends, what an
incoming IXFR starts from, and what a stored transfer becomes.

The image (fastdns._snapshot) holds every record of the zone as the source wrote it, owner
case included, with its rdata in uncompressed wire form; these functions walk it node by
node. A zone signed online also has its DNSKEY, CDS, CDNSKEY and NSEC3PARAM in the apex
node; its NSEC/NSEC3 records and RRSIGs are made per query, and for a transfer by
fastdns.xfr.signed.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone

from fastdns._snapshot import Snapshot
from fastdns.backends.sqlbase import Row
from fastdns.zone.content import pdns_content

TYPE_SOA = 6

#: one record: (owner in wire form, lowercase; type; TTL; rdata in wire form)
Record = tuple[bytes, int, int, bytes]


def image_rrsets(snap: Snapshot) -> Iterator[tuple[bytes, int, int, list[bytes]]]:
    """(owner wire name as written, type, TTL, [rdata wire]) of every RRset, the apex SOA
    first."""
    apex_rrsets = snap.node_rrsets(0)
    apex = snap.node(0)[0]
    for rdtype, ttl, rdatas, _targets in apex_rrsets:
        if rdtype == TYPE_SOA:
            yield apex, rdtype, ttl, rdatas
    for index in range(len(snap)):
        owner = snap.node(index)[0]
        for rdtype, ttl, rdatas, _targets in (apex_rrsets if index == 0
                                              else snap.node_rrsets(index)):
            if index == 0 and rdtype == TYPE_SOA:
                continue
            yield owner, rdtype, ttl, rdatas


def _name(wire: bytes) -> dns.name.Name:
    return dns.name.from_wire(wire, 0)[0]


def to_rrset(owner: bytes, rdtype: int, ttl: int, rdatas: list[bytes]) -> dns.rrset.RRset:
    kind = dns.rdatatype.RdataType(rdtype)
    rrset = dns.rrset.RRset(_name(owner), dns.rdataclass.IN, kind)
    for wire in rdatas:
        rrset.add(dns.rdata.from_wire(dns.rdataclass.IN, kind, wire, 0, len(wire)), ttl)
    return rrset


def image_records(snap: Snapshot) -> set[Record]:
    """Every record of the image, for comparing two versions (IXFR)."""
    out: set[Record] = set()
    for owner, rdtype, ttl, rdatas in image_rrsets(snap):
        key = owner.lower()
        for wire in rdatas:
            out.add((key, rdtype, ttl, wire))
    return out


def image_zone(snap: Snapshot) -> dns.zone.Zone:
    """The image as a dnspython zone (the base an incoming IXFR is applied to)."""
    origin = _name(snap.origin)
    zone = dns.zone.Zone(origin, relativize=False)
    with zone.writer() as txn:
        for owner, rdtype, ttl, rdatas in image_rrsets(snap):
            rrset = to_rrset(owner, rdtype, ttl, rdatas)
            txn.add(rrset.name, rrset)
    return zone


def zone_rows(zone: dns.zone.Zone) -> list[Row]:
    """A dnspython zone as ``records`` rows, as pdnsutil load-zone writes them."""
    rows: list[Row] = []
    assert zone.origin is not None
    for name, node in zone.nodes.items():
        owner = name.derelativize(zone.origin).to_text(omit_final_dot=True).lower()
        for rdataset in node.rdatasets:
            rtype = dns.rdatatype.to_text(rdataset.rdtype)
            for rd in rdataset:
                content, prio = pdns_content(rd)
                rows.append(Row(owner, rtype, content, rdataset.ttl, prio))
    return rows


def zone_serial(zone: dns.zone.Zone) -> int | None:
    assert zone.origin is not None
    soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
    return None if soa is None else int(soa[0].serial)


def record_rrsets(records: set[Record] | list[Record]) -> list[dns.rrset.RRset]:
    """Records (an IXFR difference) grouped into RRsets, in a stable order."""
    grouped: dict[tuple[bytes, int, int], list[bytes]] = {}
    for owner, rdtype, ttl, wire in sorted(records):
        grouped.setdefault((owner, rdtype, ttl), []).append(wire)
    return [to_rrset(owner, rdtype, ttl, wires)
            for (owner, rdtype, ttl), wires in grouped.items()]


def soa_rrset(records: set[Record]) -> dns.rrset.RRset | None:
    for owner, rdtype, ttl, wire in records:
        if rdtype == TYPE_SOA:
            return to_rrset(owner, rdtype, ttl, [wire])
    return None


__all__ = ["Record", "image_records", "image_rrsets", "image_zone", "record_rrsets",
           "soa_rrset", "to_rrset", "zone_rows", "zone_serial"]


"""Semantic checks of zone data, shared by every backend.

A fatal problem raises ZoneError naming where the source defined the offending record
("file:line: ..."); a problem that still leaves a servable zone becomes a warning.
"""

from collections import defaultdict

import dns.name

from fastdns._wire import to_lk
from fastdns.consts import RdType
from fastdns.zone.model import RRset, ZoneData

#: types that are never zone data (RFC 6895 §3.1: meta and query types)
_NOT_DATA = {0, RdType.OPT, RdType.TKEY, RdType.TSIG, RdType.IXFR, RdType.AXFR,
             RdType.MAILB, RdType.MAILA, RdType.ANY}
#: types that may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5)
_CNAME_NEIGHBOURS = {RdType.CNAME, RdType.RRSIG, RdType.NSEC, 25}  # 25: KEY
#: the most records one RRset may hold in an image
MAX_RRSET = 65535
#: the longest rdata (RFC 1035 §3.2.1: RDLENGTH is 16 bits)
MAX_RDATA = 65535


class ZoneError(Exception):
    """A zone that cannot be served; the message starts with where the problem is."""


def text(name: bytes) -> str:
    """Presentation form of a wire name, for messages."""
    return dns.name.from_wire(name, 0)[0].to_text()


def check_zone(zone: ZoneData) -> None:
    """Raise ZoneError for a zone that cannot be served; add warnings to ``zone.warnings``."""
    origin_lk = to_lk(zone.origin)
    origin_text = text(zone.origin)
    by_name: dict[bytes, dict[int, RRset]] = defaultdict(dict)
    for rrset in zone.rrsets:
        lk = to_lk(rrset.owner)
        if lk[: len(origin_lk)] != origin_lk:
            raise ZoneError(f"{rrset.where}: '{text(rrset.owner)}' is outside the zone "
                            f"'{origin_text}'")
        if rrset.rdtype in _NOT_DATA:
            raise ZoneError(f"{rrset.where}: type {rrset.rdtype} cannot be zone data")
        types = by_name[lk]
        if rrset.rdtype in types:
            types[rrset.rdtype].rdatas.extend(rrset.rdatas)
        else:
            types[rrset.rdtype] = RRset(rrset.owner, rrset.rdtype, rrset.ttl,
                                        list(rrset.rdatas), rrset.where)
    apex = by_name.get(origin_lk, {})
    soa = apex.get(RdType.SOA)
    if soa is None:
        raise ZoneError(f"{zone.source}: zone '{origin_text}' has no SOA record at its apex")
    if len(set(soa.rdatas)) != 1:
        raise ZoneError(f"{soa.where}: zone '{origin_text}' has more than one SOA record")
    if RdType.NS not in apex:
        zone.warnings.append(f"{zone.source}: zone '{origin_text}' has no NS records at its apex")
    for lk, types in by_name.items():
        _check_node(lk, origin_lk, types)


def _check_node(lk: bytes, origin_lk: bytes, types: dict[int, RRset]) -> None:
    # The fast path (fastdns.zone.loader) shows check_zone only the apex and the nodes that
    # RecordStore.prepare() (fastdns/zone/_imagebuild.pyx) marks as suspect: a new rule
    # here needs its suspicion there (tests/unit/test_masterfile.py compares both paths).
    for rrset in types.values():
        if rrset.rdtype == RdType.SOA and lk != origin_lk:
            raise ZoneError(f"{rrset.where}: SOA record at '{text(rrset.owner)}', "
                            "which is not the zone apex")
        if len(set(rrset.rdatas)) > MAX_RRSET:
            raise ZoneError(f"{rrset.where}: more than {MAX_RRSET} records in one RRset")
        if any(len(rdata) > MAX_RDATA for rdata in rrset.rdatas):
            raise ZoneError(f"{rrset.where}: rdata longer than {MAX_RDATA} octets")
    for singleton in (RdType.CNAME, RdType.DNAME):
        only = types.get(singleton)
        if only is not None and len(set(only.rdatas)) > 1:
            raise ZoneError(f"{only.where}: more than one {singleton.name} record at "
                            f"'{text(only.owner)}'")
    cname = types.get(RdType.CNAME)
    if cname is not None:
        if lk == origin_lk:
            raise ZoneError(f"{cname.where}: CNAME at the zone apex '{text(cname.owner)}'")
        others = sorted(set(types) - _CNAME_NEIGHBOURS)
        if others:
            other = types[others[0]]
            raise ZoneError(f"{other.where}: '{text(cname.owner)}' has a CNAME and other data "
                            f"(RFC 2181 §10.1)")

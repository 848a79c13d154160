"""The rules of zone data, the same for every source (zone files, SQL rows, transfers).

PowerDNS serves what it can of a zone, and so does fastdns: a zone breaking a rule of the
RFCs is served, with a warning naming where the offending record was read, and where an
RFC allows a name one record of a type only, one is kept. Only two things stop a zone:

- no SOA record at its apex: PowerDNS treats such a zone as absent (REFUSED), and so does
  fastdns (NoSOAError, one log line);
- an RRset too large for an image (more than 65535 records).

The rules, and who applies them (fastdns.zone._imagebuild.RecordStore.prepare() hands
check_zone every node that may break one, so that its messages come from here):

- one SOA at the apex: of several, the last one read is served (PowerDNS serves that one);
- no SOA below the apex: such a record is left out as it is read (the readers);
- one CNAME, and one DNAME, per name (RFC 2181 §10.1, RFC 6672 §2.4): the first read is
  kept (FIRST_ONLY, applied by the store);
- a CNAME beside other data (RFC 2181 §10.1): served as PowerDNS serves it, with a
  warning (docs/differences.md);
- NS records at the apex: a warning when there are none.
"""

from collections import defaultdict

from fastdns._wire import to_lk
from fastdns.consts import RdType
from fastdns.zone._zonetext import name_text
from fastdns.zone.model import RRset, ZoneData

#: types that may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5), and are answered from
#: the name beside it (the engine's beside_cname says the same, fastdns/_engine.pyx)
CNAME_NEIGHBOURS = frozenset({RdType.CNAME, RdType.RRSIG, RdType.NSEC, RdType.KEY})
#: types a name may hold one record of: the first read is kept
FIRST_ONLY = frozenset({RdType.CNAME, RdType.DNAME})
#: the most records one RRset may hold in an image
MAX_RRSET = 65535


class ZoneError(Exception):
    """A zone that cannot be served; the message starts with where the problem is."""


class NoSOAError(ZoneError):
    """A zone with no SOA at its apex: not served at all (REFUSED), as PowerDNS."""


def text(name: bytes) -> str:
    """Presentation form of a wire name, for messages."""
    return name_text(name)


def check_zone(zone: ZoneData) -> None:
    """Raise ZoneError for a zone that cannot be served; add the warnings of the rules it
    breaks to ``zone.warnings``. ``zone.rrsets`` holds (a superset of) the RRsets that
    may break a rule, each with every record read, kept or not."""
    origin_lk = to_lk(zone.origin)
    origin = text(zone.origin)
    by_name: dict[bytes, dict[int, RRset]] = defaultdict(dict)
    for rrset in zone.rrsets:
        by_name[to_lk(rrset.owner)][rrset.rdtype] = rrset
    apex = by_name.get(origin_lk, {})
    soa = apex.get(RdType.SOA)
    if soa is None:
        raise NoSOAError(f"{zone.source}: zone '{origin}' has no SOA record at its apex; "
                         "not served (REFUSED)")
    if len(soa.rdatas) > 1:
        zone.warnings.append(f"{soa.where}: zone '{origin}' has {len(soa.rdatas)} SOA "
                             "records; the last one read is served")
    if RdType.NS not in apex:
        zone.warnings.append(f"{zone.source}: zone '{origin}' has no NS records at its apex")
    for lk, types in by_name.items():
        _check_node(zone, lk == origin_lk, types)


def _check_node(zone: ZoneData, apex: bool, types: dict[int, RRset]) -> None:
    for rrset in types.values():
        if len(rrset.rdatas) > MAX_RRSET:
            raise ZoneError(f"{rrset.where}: more than {MAX_RRSET} records in one RRset")
    for rdtype in FIRST_ONLY:
        only = types.get(rdtype)
        if only is not None and len(only.rdatas) > 1:
            zone.warnings.append(f"{only.where}: '{text(only.owner)}' has "
                                 f"{len(only.rdatas)} {RdType(rdtype).name} records; the "
                                 "first one read is served")
    cname = types.get(RdType.CNAME)
    if cname is None:
        return
    if apex:
        zone.warnings.append(f"{cname.where}: CNAME at the zone apex '{text(cname.owner)}' "
                             "(RFC 2181 §10.1)")
    others = sorted(set(types) - CNAME_NEIGHBOURS)
    if others:
        zone.warnings.append(f"{types[others[0]].where}: '{text(cname.owner)}' has a CNAME "
                             "and other data (RFC 2181 §10.1); queries for them get the "
                             "CNAME, as from PowerDNS")

"""Zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995) answered from the zone images
the workers serve, so a secondary gets exactly what is being served.

Who may transfer (PowerDNS's rules, in its order): nobody with ``disable-axfr``; a request
signed with TSIG if its key is in the zone's ``TSIG-ALLOW-AXFR`` (a signed request with
another key is refused, whatever its address); else an address in ``allow-axfr-ips`` or
in the zone's ``ALLOW-AXFR-FROM``. A refused request gets NOTAUTH, as from PowerDNS; a
zone signed with narrow NSEC3 is never transferred (REFUSED: its denial exists only per
query).

An answer is a stream of messages of at most :data:`MESSAGE_OCTETS` (name compression
within each), the SOA first and last; with TSIG every message is signed, each MAC
chained to the one before (RFC 8945 §5.3.1).

IXFR: PowerDNS cannot serve it (pdns#6679); fastdns keeps, per zone, the versions it has
sent (:class:`History`, bounded in records) and answers an IXFR from a version it holds
with one condensed difference sequence to the version served now (RFC 1995 §4 allows
condensing), an IXFR from a version it does not hold with the whole zone in AXFR form,
and one from the current version (or a later one) with the current SOA alone.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.serial

from fastdns._snapshot import SECURITY_FLAGS, Snapshot
from fastdns.config.settings import Netmask, match_netmasks
from fastdns.xfr.zonedata import (
    Record,
    image_records,
    image_rrsets,
    record_rrsets,
    soa_rrset,
    to_rrset,
)

#: octets of RRsets gathered into one message before it is rendered (the rendered message,
#: compressed, is smaller; 64 KiB is the limit)
MESSAGE_OCTETS = 16_000
NARROW = SECURITY_FLAGS["narrow"]
#: PowerDNS's ALIAS type
ALIAS = 65401
PRESIGNED = SECURITY_FLAGS["presigned"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may transfer a zone: the server's settings and the zone's metadata."""

    disabled: bool = False
    allow_ips: tuple[Netmask, ...] = ()
    #: ALLOW-AXFR-FROM (netmasks; AUTO-NS is not resolved: an address must be listed)
    allow_from: tuple[Netmask, ...] = ()
    #: TSIG-ALLOW-AXFR: key names, absolute, lowercase
    tsig_keys: frozenset[str] = frozenset()

    def allows(self, address: str, key: str | None) -> bool:
        if self.disabled:
            return False
        if key is not None:
            return key in self.tsig_keys
        return (match_netmasks(self.allow_ips, address)
                or match_netmasks(self.allow_from, address))


class History:
    """The versions of zones sent by transfer, for IXFR: zone -> {serial: records},
    bounded in records over all zones (the least recently sent versions go first)."""

    def __init__(self, max_records: int = 2_000_000, versions_per_zone: int = 8) -> None:
        self.max_records = max_records
        self.versions_per_zone = versions_per_zone
        self._versions: collections.OrderedDict[tuple[str, int], set[Record]] = \
            collections.OrderedDict()
        #: zone -> its serials kept, oldest first (a zone's versions without a walk of all)
        self._serials: dict[str, list[int]] = {}
        self._records = 0

    def __len__(self) -> int:
        return len(self._versions)

    def get(self, zone: str, serial: int) -> set[Record] | None:
        records = self._versions.get((zone, serial))
        if records is not None:
            self._versions.move_to_end((zone, serial))
        return records

    def keep(self, zone: str, serial: int, records: set[Record]) -> None:
        key = (zone, serial)
        if key in self._versions:
            self._versions.move_to_end(key)
            return
        if len(records) > self.max_records:
            return
        self._versions[key] = records
        self._records += len(records)
        serials = self._serials.setdefault(zone, [])
        serials.append(serial)
        while len(serials) > self.versions_per_zone:
            self._drop((zone, serials[0]))
        while self._records > self.max_records and self._versions:
            self._drop(next(iter(self._versions)))

    def forget(self, zone: str) -> None:
        for serial in list(self._serials.get(zone, ())):
            self._drop((zone, serial))

    def _drop(self, key: tuple[str, int]) -> None:
        self._records -= len(self._versions.pop(key))
        serials = self._serials[key[0]]
        serials.remove(key[1])
        if not serials:
            del self._serials[key[0]]


def _batches(rrsets: Iterable[tuple[dns.rrset.RRset, int]]) -> Iterator[list[dns.rrset.RRset]]:
    batch: list[dns.rrset.RRset] = []
    size = 0
    for rrset, octets in rrsets:
        if batch and size + octets > MESSAGE_OCTETS:
            yield batch
            batch, size = [], 0
        batch.append(rrset)
        size += octets
    if batch:
        yield batch


def _sized(rrset: dns.rrset.RRset, owner: bytes, rdatas: list[bytes]) -> tuple[dns.rrset.RRset,
                                                                             int]:
    return rrset, sum(len(owner) + 12 + len(w) for w in rdatas)


def render(query: dns.message.Message, rrsets: Iterable[tuple[dns.rrset.RRset, int]],
           ) -> Iterator[bytes]:
    """The messages of a transfer answer carrying ``rrsets`` (each with its size), TSIG
    signed and chained if ``query`` was signed."""
    tsig_ctx = None
    first = True
    for batch in _batches(rrsets):
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not first:
            response.question = []
        response.answer = batch
        wire = response.to_wire(max_size=65535, multi=True, tsig_ctx=tsig_ctx)
        tsig_ctx = response.tsig_ctx if query.had_tsig else None
        first = False
        yield wire


def axfr_rrsets(snap: Snapshot) -> Iterator[tuple[dns.rrset.RRset, int]]:
    """The RRsets of an AXFR answer: SOA, the rest, SOA."""
    soa: tuple[dns.rrset.RRset, int] | None = None
    for owner, rdtype, ttl, rdatas in image_rrsets(snap):
        sized = _sized(to_rrset(owner, rdtype, ttl, rdatas), owner, rdatas)
        if soa is None:
            soa = sized
        yield sized
    if soa is not None:
        yield soa


def alias_targets(snap: Snapshot) -> list[tuple[bytes, int, bytes]]:
    """(owner, TTL, target) of each ALIAS record of the zone, names in wire form."""
    return [(owner, ttl, wire) for owner, rdtype, ttl, rdatas in image_rrsets(snap)
            if rdtype == ALIAS for wire in rdatas]


def expanded_rrsets(snap: Snapshot, addresses: dict[bytes, list[dns.rrset.RRset]],
                    ) -> Iterator[tuple[dns.rrset.RRset, int]]:
    """axfr_rrsets with each ALIAS RRset replaced by the A and AAAA RRsets ``addresses``
    holds for its owner (lowercase wire name): outgoing-axfr-expand-alias."""
    for rrset, octets in axfr_rrsets(snap):
        if rrset.rdtype != ALIAS:
            yield rrset, octets
            continue
        for found in addresses.get((rrset.name.to_wire() or b"").lower(), []):
            yield found, _octets(found)


def ixfr_rrsets(snap: Snapshot, old: set[Record], new: set[Record],
                ) -> Iterator[tuple[dns.rrset.RRset, int]]:
    """One condensed difference sequence from ``old`` to ``new`` (RFC 1995 §4)."""
    new_soa, old_soa = soa_rrset(new), soa_rrset(old)
    assert new_soa is not None and old_soa is not None
    yield new_soa, 128
    yield old_soa, 128
    for rrset in record_rrsets({r for r in old - new if r[1] != 6}):
        yield rrset, _octets(rrset)
    yield new_soa, 128
    for rrset in record_rrsets({r for r in new - old if r[1] != 6}):
        yield rrset, _octets(rrset)
    yield new_soa, 128


def _octets(rrset: dns.rrset.RRset) -> int:
    return len(rrset) * (len(rrset.name.to_wire() or b"") + 12 + 64)


def refused(query: dns.message.Message, rcode: int) -> bytes:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.set_rcode(dns.rcode.Rcode(rcode))
    return response.to_wire()


def transfer(query: dns.message.Message, zone: str, snap: Snapshot, history: History,
             tcp: bool, full: Iterable[tuple[dns.rrset.RRset, int]] | None = None,
             ) -> list[bytes]:
    """The answer to an AXFR or IXFR ``query`` for ``zone`` (allowed already), served from
    ``snap``; versions sent go into ``history``. ``full``: the whole zone's RRsets when the
    image's alone are not the zone (a zone signed online: fastdns.xfr.signed); it is sent
    for an AXFR and for any IXFR that is not up to date, and no version goes into
    ``history``."""
    if snap.security_flags & NARROW:
        return [refused(query, dns.rcode.REFUSED)]
    question = query.question[0]
    serial = snap.serial
    if question.rdtype == dns.rdatatype.IXFR:
        theirs = _their_serial(query)
        if theirs is None:
            # RFC 1995 asks for the asker's SOA; PowerDNS answers without it with the whole
            # zone, and so does fastdns
            if not tcp:
                return [refused(query, dns.rcode.REFUSED)]
            return list(render(query, full if full is not None else axfr_rrsets(snap)))
        if full is not None and tcp and dns.serial.Serial(theirs) < dns.serial.Serial(serial):
            # signed online: its RRSIGs and NSEC/NSEC3 records are made for each transfer
            # and no version of them is kept, so the answer is the whole zone in AXFR form
            # (RFC 1995 §4 allows it)
            return list(render(query, full))
        current = image_records(snap)
        if not tcp or dns.serial.Serial(theirs) >= dns.serial.Serial(serial):
            soa = soa_rrset(current)
            assert soa is not None
            return list(render(query, [(soa, 128)]))
        history.keep(zone, serial, current)
        old = history.get(zone, theirs)
        if old is not None:
            return list(render(query, ixfr_rrsets(snap, old, current)))
        return list(render(query, axfr_rrsets(snap)))
    if not tcp:
        return [refused(query, dns.rcode.REFUSED)]
    if full is not None:
        return list(render(query, full))
    answer = list(render(query, axfr_rrsets(snap)))
    if history.versions_per_zone:
        history.keep(zone, serial, image_records(snap))
    return answer


def _their_serial(query: dns.message.Message) -> int | None:
    for rrset in query.authority:
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


__all__ = ["History", "Policy", "axfr_rrsets", "refused", "render", "transfer"]

"""AXFR of a zone signed online: the zone as the workers serve it, signed.

The image of a zone signed online (fastdns.dnssec.imagesec.secure_image) holds the zone's
records and the DNSKEY, CDS, CDNSKEY and NSEC3PARAM RRsets the keys and metadata make, and
a security section with the active keys, the canonical rdata and the NSEC or NSEC3 chain;
the RRSIGs and the NSEC/NSEC3 records are made per answer by fastdns._signing. A transfer
sends them all, as PowerDNS does (narrow NSEC3 zones are refused: outbound.transfer).

Nothing here knows how to make an NSEC, an NSEC3 or the data an RRSIG signs: the workers'
own code does. ``Signing.sign_zone`` — what worker 0 runs after a load to have the zone
signed ahead — walks the image and leaves one request per RRset per signing key, and per
NSEC or NSEC3 record of the chain, for the signatures a signature cache lacks. Given a
private, empty cache it leaves them all: each request holds the RRSIG's fields (window,
key tag, original TTL) and the signed records in canonical form, exactly the bytes a
signer signs for a query. Signed here with the zone's key (``ZoneKey.sign``, as
fastdns.server.signer does), each gives the RRSIG a worker serves: byte for byte for a
deterministic algorithm (Ed25519, Ed448, RSA), an equally valid one for ECDSA. The NSEC and
NSEC3 records are read back from the same requests (owner, TTL, rdata as served).

    security = load_signing(backends, "example.com.", backend="gsqlite3", config=config)
    for rrset, octets in signed_axfr_rrsets(snap, security): ...

The stream is made node by node (CHUNK signatures at a time), so a large zone is never
held twice; the NSEC3 records come after the names, in hash order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from fastdns._sigcache import SigCache
from fastdns._signing import Signing
from fastdns._snapshot import SECURITY_FLAGS, Snapshot
from fastdns.dnssec.keys import ZoneKey, key_digest
from fastdns.dnssec.zonesec import ZoneSecurity, load_security
from fastdns.xfr.zonedata import to_rrset

#: signatures asked of Signing.sign_zone at a time (one batch of RRSIGs in memory)
CHUNK = 2048
TYPE_SOA, TYPE_RRSIG, TYPE_NSEC, TYPE_NSEC3 = 6, 46, 47, 50
#: the RRSIG rdata before the signer's name (type covered ... key tag)
FIELDS = 18
BROKEN = SECURITY_FLAGS["broken"]
PRESIGNED = SECURITY_FLAGS["presigned"]
NARROW = SECURITY_FLAGS["narrow"]

Sized = tuple[dns.rrset.RRset, int]


class SignedTransferError(Exception):
    """A zone signed online that cannot be transferred signed now (its keys are not
    readable, or are not the ones its served image was made with): the transfer fails
    rather than send the zone unsigned."""


def load_signing(backends: Sequence[Any], zone: str, backend: str | None = None,
                 config: Any = None) -> ZoneSecurity:
    """The signing state of ``zone`` (text, trailing dot or not) from its key store:
    that of ``backend`` (a backend name; None: the first of ``backends`` with a key
    store). ``config``: the server's, to give the backends their DNSSEC settings
    (``bind-dnssec-db``, ``max-nsec3-iterations``) when they lack them. Blocking: call it
    on the thread that owns ``backends``. SignedTransferError when it cannot sign."""
    name = zone.rstrip(".") or "."
    for candidate in backends:
        if backend is not None and candidate.name != backend:
            continue
        configure = getattr(candidate, "dnssec_from_config", None)
        if config is not None and configure is not None:
            configure(config)
        key_store = getattr(candidate, "key_store", None)
        store = key_store() if key_store is not None else None
        if store is None:
            if backend is None:
                continue
            raise SignedTransferError(f"backend '{candidate.name}' keeps no DNSSEC keys")
        try:
            security = load_security(store, name,
                                     getattr(candidate, "max_nsec3_iterations", None))
        except Exception as exc:        # a database gone, a key store unreadable
            raise SignedTransferError(f"keys not read: {exc}") from exc
        if security.problems:
            raise SignedTransferError("; ".join(security.problems))
        if not security.usable:
            raise SignedTransferError("the zone has no active key any more")
        return security
    raise SignedTransferError("no backend holds its keys")


def signed_axfr_rrsets(snap: Snapshot, security: ZoneSecurity, now: int | None = None,
                       ) -> Iterator[Sized]:
    """The whole AXFR stream of the zone signed online ``snap`` (each RRset with its size
    in octets, about): the SOA and its RRSIGs, every RRset of the image with its RRSIGs
    (none over a delegation's NS or glue), each name's NSEC and its RRSIG, then the NSEC3
    records and theirs, and the SOA again. ``security``: the zone's keys (load_signing);
    ``now``: the wall clock the signing window is taken at (default: now, as the workers
    sign). SignedTransferError (raised as the stream is read) when a key the image signs
    with is not in ``security``."""
    flags = snap.security_flags
    if not snap.signed or flags & (BROKEN | PRESIGNED | NARROW):
        raise SignedTransferError("not a zone signed online with a chain "
                                  f"(security flags {flags:#x})")
    keys = {key_digest(key.dnskey_rdata()): key for key in security.active_keys()}
    return _stream(snap, keys, now)


def _stream(snap: Snapshot, keys: dict[bytes, ZoneKey], now: int | None) -> Iterator[Sized]:
    fd = SigCache.create(16)            # empty, and never written: every signature misses
    try:
        cache = SigCache(fd)
    finally:
        os.close(fd)                    # the mapping stays
    signing = Signing(cache, 0)
    # one window for the whole transfer, even one that runs across the weekly turn
    clock = int(time.time()) if now is None else now
    soa: Sized | None = None
    nodes, cursor = len(snap), 0
    while cursor < nodes:
        start = cursor
        signing.set_clock(clock - int(time.time()))
        _, cursor = signing.sign_zone(snap, cursor, CHUNK)
        made = _made(signing.take_background(), keys)
        for index in range(start, cursor):
            owner = snap.node(index)[0]
            lower = owner.lower()
            rrsets = snap.node_rrsets(index)
            if index == 0:                  # the SOA first
                rrsets = sorted(rrsets, key=lambda r: r[0] != TYPE_SOA)
            for rdtype, ttl, rdatas, _targets in rrsets:
                rrset = to_rrset(owner, rdtype, ttl, rdatas)
                sized = rrset, sum(len(owner) + 12 + len(w) for w in rdatas)
                if soa is None:
                    soa = sized
                yield sized
                yield from _sigs(rrset.name, owner, rdtype, made.pop((lower, rdtype), None))
            nsec = made.pop((lower, TYPE_NSEC), None)
            if nsec is not None:
                yield from _record(owner, TYPE_NSEC, nsec)
        # the NSEC3 chain comes with the last names (sign_zone asks for it once they are
        # done), in hash order; anything else left is a record the names did not claim
        for (lower, rdtype), entry in made.items():
            if rdtype != TYPE_NSEC3:
                raise SignedTransferError(
                    f"internal error: {dns.rdatatype.RdataType(rdtype).name} records at "
                    f"{_text(lower)} signed but not in the zone's names")
            yield from _record(lower, TYPE_NSEC3, entry)
    cache.close()
    if soa is not None:
        yield soa


#: (owner, lowercase wire; type) -> [(RRSIG rdata, TTL, records)], the records (owner
#: lowercase, TTL, rdata) read from the signed data for NSEC and NSEC3 only
Made = dict[tuple[bytes, int], list[tuple[bytes, int, list[bytes]]]]


def _made(requests: list[bytes], keys: dict[bytes, ZoneKey]) -> Made:
    """The signing requests of Signing.take_background signed: each request is the
    16-octet cache key, the signing key's digest, and the data signed (fastdns._signing
    request_of)."""
    out: Made = {}
    for request in requests:
        key = keys.get(request[16:24])
        data = request[24:]
        if key is None:
            raise SignedTransferError(
                f"key {int.from_bytes(data[16:18], 'big')} (algorithm {data[2]}) of the "
                "served zone is not an active key in the key store any more; a reload "
                "will serve the keys as they are now")
        covered = int.from_bytes(data[:2], "big")
        head = FIELDS + _name_len(data, FIELDS)
        owner_len = _name_len(data, head)
        owner = data[head:head + owner_len]
        records: list[bytes] = []
        if covered in (TYPE_NSEC, TYPE_NSEC3):
            pos = head
            while pos < len(data):
                pos += owner_len + 8
                rdlen = int.from_bytes(data[pos:pos + 2], "big")
                records.append(data[pos + 2:pos + 2 + rdlen])
                pos += 2 + rdlen
        rrsig = data[:head] + key.sign(data)
        ttl = int.from_bytes(data[4:8], "big")
        out.setdefault((owner, covered), []).append((rrsig, ttl, records))
    return out


def _name_len(data: bytes, pos: int) -> int:
    start = pos
    while data[pos]:
        pos += data[pos] + 1
    return pos + 1 - start


def _text(wire: bytes) -> str:
    return dns.name.from_wire(wire, 0)[0].to_text()


def _sigs(name: dns.name.Name, owner: bytes, covered: int,
          entry: list[tuple[bytes, int, list[bytes]]] | None) -> Iterator[Sized]:
    """The RRSIGs over ``covered`` at ``name`` (``owner`` in wire form)."""
    if not entry:
        return
    rrset = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                            dns.rdatatype.RdataType(covered))
    octets = 0
    for rrsig, ttl, _ in entry:
        rrset.add(dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RRSIG, rrsig, 0,
                                      len(rrsig)),
                  ttl)
        octets += len(owner) + 12 + len(rrsig)
    yield rrset, octets


def _record(owner: bytes, rdtype: int,
            entry: list[tuple[bytes, int, list[bytes]]]) -> Iterator[Sized]:
    """An NSEC or NSEC3 RRset (one per key signed: the same record) and its RRSIGs."""
    _, ttl, rdatas = entry[0]
    rrset = to_rrset(owner, rdtype, ttl, rdatas)
    yield rrset, sum(len(owner) + 12 + len(w) for w in rdatas)
    yield from _sigs(rrset.name, owner, rdtype, entry)


__all__ = ["SignedTransferError", "load_signing", "signed_axfr_rrsets"]

"""fastdns._signing through the engine, in one process: a signed zone image, a real
signature cache (a memfd), and the requests the engine leaves signed here with the zone's
keys, as a signer process would (fastdns.server.signer.Signer does the same work).

What the validators see of real servers is in tests/conformance/test_dnssec_conformance.py;
here the engine's own contract: a miss waits and names its requests, the answer comes once
they are in the cache, the window, records from outside the zone (ALIAS targets) signed
like the zone's, and what a query without DO gets.
"""

from __future__ import annotations

import time

import dns.dnssec
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from fastdns._engine import STATE_ANSWERED, STATE_WAITING, Engine
from fastdns._sigcache import SigCache
from fastdns._signing import WAIT_TYPE
from fastdns._snapshot import Snapshot
from fastdns.dnssec.imagesec import SigningKey, SigningSetup, secure_image
from fastdns.dnssec.keys import ZoneKey, key_digest
from fastdns.server.signer import signer_zone
from fastdns.zone.loader import load_image_text

ZONE = """$ORIGIN example.
$TTL 3600
@ SOA ns1 host 1 2 3 4 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
svc ALIAS target.example.net.
*.wild TXT "w"
"""
APEX = dns.name.from_text("example.")


class Zone:
    def __init__(self, mode: str = "nsec", algorithm: int = 13) -> None:
        self.keys = {}
        for flags in (257, 256):
            key = ZoneKey.generate(algorithm, flags)
            self.keys[(algorithm, key.tag)] = key
        nsec3 = None if mode == "nsec" else (1, 0, 1, b"\xab")
        setup = SigningSetup(tuple(SigningKey(k.flags, algorithm, k.dnskey_rdata())
                                   for k in self.keys.values()), nsec3, mode == "narrow")
        image = secure_image(load_image_text(ZONE, "example.").image, setup)
        self.cache = SigCache(SigCache.create(4096))
        self.engine = Engine([Snapshot(image, 1)], expand_alias=True)
        self.engine.set_signature_cache(self.cache)

    def sign_requests(self) -> int:
        done = 0
        for _, request in self.engine.signing.take_requests():
            key, data = request[:16], request[24:]      # cache key, key digest, data
            algorithm, tag, zone = signer_zone(data)
            assert zone == "example"
            self.cache.put(key, self.keys[(algorithm, tag)].sign(data))
            done += 1
        return done

    def ask(self, name: str, rdtype: str, do: bool = True) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, want_dnssec=do, use_edns=0)
        result = self.engine.result(query.to_wire(), True, int(time.monotonic()))
        if result["state"] == STATE_WAITING:
            assert result["wait"][1] == WAIT_TYPE
            assert self.sign_requests() > 0
            result = self.engine.result(query.to_wire(), True, int(time.monotonic()))
        assert result["state"] == STATE_ANSWERED, result
        return dns.message.from_wire(result["response"])

    def keyset(self):
        return {APEX: self.ask("example.", "DNSKEY").answer[0]}


def validate_all(zone: Zone, answer: dns.message.Message) -> int:
    keys, checked = zone.keyset(), 0
    for section in (answer.answer, answer.authority):
        sigs = [r for r in section if r.rdtype == dns.rdatatype.RRSIG]
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.RRSIG:
                continue
            sig = next(s for s in sigs if s.name == rrset.name and s.covers == rrset.rdtype)
            dns.dnssec.validate(rrset, sig, keys)
            checked += 1
    return checked


@pytest.mark.parametrize("mode", ["nsec", "nsec3", "narrow"])
def test_a_miss_waits_then_answers_from_the_cache(mode):
    zone = Zone(mode)
    query = dns.message.make_query("www.example.", "A", want_dnssec=True)
    first = zone.engine.result(query.to_wire(), True, 1)
    assert first["state"] == STATE_WAITING and first["wait"][1] == WAIT_TYPE
    assert len(first["wait"][0]) == 18               # the cache key as one label
    assert zone.sign_requests() == 1                  # the ZSK signs the A RRset
    answer = zone.ask("www.example.", "A")
    assert validate_all(zone, answer) == 1
    # the signature is the cache's now: no request, the same bytes
    again = zone.engine.result(query.to_wire(), True, 1)
    assert again["state"] == STATE_ANSWERED and zone.engine.signing.requests_pending == 0
    nx = zone.ask("nothing.example.", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN and validate_all(zone, nx) >= 2


def test_without_do_nothing_is_signed_or_asked():
    zone = Zone()
    answer = zone.ask("www.example.", "A", do=False)
    assert [r.rdtype for r in answer.answer] == [dns.rdatatype.A]
    assert zone.engine.signing.requests_pending == 0


def test_the_keys_split_their_work():
    """With a ZSK, the KSK signs the DNSKEY RRset alone and the ZSK everything else."""
    zone = Zone()
    ksk = next(k for k in zone.keys.values() if k.flags == 257)
    dnskey = zone.ask("example.", "DNSKEY")
    assert [s.key_tag for s in dnskey.answer[1]] == [ksk.tag]
    soa = zone.ask("example.", "SOA")
    assert [s.key_tag for s in soa.answer[1]] == [k.tag for k in zone.keys.values()
                                                   if k.flags == 256]


def test_alias_targets_are_signed_like_the_zone():
    zone = Zone()
    target = dns.name.from_text("target.example.net.").to_wire()
    now = int(time.monotonic())
    zone.engine.supply(target, 1, [bytes([198, 51, 100, 7])], 60, now=now)
    answer = zone.ask("svc.example.", "A")
    assert [r.to_text() for r in answer.answer[0]] == ["198.51.100.7"]
    assert answer.answer[0].ttl == 60 and validate_all(zone, answer) == 1


def test_the_window_is_powerdns_weekly_one():
    zone = Zone()
    thursday = 1_796_860_800 - 1_796_860_800 % 604800   # a Thursday 00:00 UTC
    assert zone.engine.signing.window_at(thursday + 3600) == (thursday - 604800,
                                                              thursday + 2 * 604800)
    answer = zone.ask("www.example.", "A")
    sig = answer.answer[1][0]
    now = int(time.time())
    assert sig.inception <= now - 604800 + 1 and sig.expiration - sig.inception == 3 * 604800


def test_a_signer_takes_bad_requests_without_harm():
    """What a signer gets is checked: garbage, truncated batches and a request for a key
    it does not have get nothing signed and no exception; a late batch is answered LATE."""
    from fastdns.server.signer import LATE, NO_KEY, SIGNED, Signer, encode_batch, monotonic_ms

    zone = Zone()
    key = next(iter(zone.keys.values()))

    class Ring:
        def get(self, key_id):
            return key if key_id == key_digest(key.dnskey_rdata()) else None

        def key(self, key_id, name):
            return self.get(key_id)

    signer = Signer(zone.cache, Ring())
    data = bytes([0, 1, 13, 2, 0, 0, 14, 16]) + bytes(8) + key.tag.to_bytes(2, "big") \
        + b"\x07example\x00" + b"\x00" * 30
    good = b"\x01" * 16 + key_digest(key.dnskey_rdata()) + data
    unknown = b"\x02" * 16 + b"\xff" * 8 + data
    far = monotonic_ms() + 60_000
    (batch,) = encode_batch([good, unknown], far)
    assert signer.handle(batch) == bytes([SIGNED]) + b"\x01" * 16 + bytes([NO_KEY]) \
        + b"\x02" * 16
    assert zone.cache.get(b"\x01" * 16) is not None and zone.cache.get(b"\x02" * 16) is None
    for garbage in (b"", b"\x00" * 5, batch[:-7], batch[:8] + b"\xff\xff" + batch[10:],
                    bytes(range(256))):
        assert signer.handle(garbage) == b""
    (late,) = encode_batch([good], monotonic_ms() - 1)
    assert signer.handle(late) == bytes([LATE]) + b"\x01" * 16
    # a request whose signer name runs past its data: not signed, answered as keyless
    (broken,) = encode_batch([b"\x03" * 16 + b"\xee" * 8 + data[:18] + b"\x3f" + b"a" * 20],
                             far)
    assert signer.handle(broken) == bytes([NO_KEY]) + b"\x03" * 16
    assert zone.cache.get(b"\x03" * 16) is None


def test_a_signer_reads_the_keys_again_at_once_for_a_key_it_does_not_know(monkeypatch):
    """A key activated just after the signer read the zone's keys is found at the first
    request for it; a key not found is looked for again at most once a second."""
    from fastdns.server import signer as signer_module

    first, second = ZoneKey.generate(13, 257), ZoneKey.generate(13, 256)
    stored = [first]
    reads = []
    ring = signer_module.KeyRing(config=None)

    def load(zone):
        reads.append(zone)
        for k in stored:
            ring._by_id[key_digest(k.dnskey_rdata())] = k

    monkeypatch.setattr(ring, "_load", load)
    clock = [100.0]
    monkeypatch.setattr(signer_module.time, "monotonic", lambda: clock[0])
    assert ring.key(key_digest(first.dnskey_rdata()), "example") is first
    stored.append(second)                         # activated a moment later
    assert ring.key(key_digest(second.dnskey_rdata()), "example") is second
    assert len(reads) == 2
    gone = b"\xee" * 8                            # a key no longer active
    assert ring.key(gone, "example") is None and len(reads) == 3
    clock[0] += 0.5
    assert ring.key(gone, "example") is None and len(reads) == 3
    clock[0] += 0.6
    assert ring.key(gone, "example") is None and len(reads) == 4

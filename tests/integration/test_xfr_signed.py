"""AXFR of zones signed online, from a real server (fastdns/xfr/signed.py; DESIGN §5, §6).

fastdns on 127.0.0.1 serves an SQLite database (``gsqlite3-dnssec=yes``) whose zones were
secured with ``fastdns-util``, as an operator does it:

- ``nsec.test``: an Ed25519 KSK and ZSK, NSEC, CDS and CDNSKEY published;
- ``nsec3.test``: one ECDSA P-256 key (a CSK), NSEC3 ``1 0 0 -``;
- ``optout.test``: an Ed25519 CSK, NSEC3 opt-out with a salt and an iteration;
- ``narrow.test``: NSEC3 narrow, whose AXFR is REFUSED (its denial exists per query only).

Each zone has a secure and an insecure delegation with glue, a wildcard, empty
non-terminals and an owner in upper case. Its AXFR over TCP (dnspython, from 127.0.0.1,
allowed by the default ``allow-axfr-ips``) must be the zone as served, signed: the SOA first
and last; every RRSIG valid (dnspython ``dns.dnssec``) and the whole zone valid for
``ldns-verify-zone``; one RRSIG per RRset per signing key, the KSK over DNSKEY, CDS and
CDNSKEY alone when there is a ZSK, none over a delegation's NS or glue; every RRset equal
to what a DO=1 query for it gets, and for Ed25519 every RRSIG byte for byte the one served;
the NSEC and NSEC3 records those of the denial answers, each of them, with their RRSIGs.
An IXFR from an older serial gets the same stream; keys deactivated since the zone was
loaded fail the transfer (SERVFAIL) rather than send it unsigned. In this process: the
window at a given ``now``, and keys that are not the image's.
"""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.xfr
import pytest

from tests._support.servers import Fastdns, require
from tests.integration.test_dnssec_serving import SCHEMA, sql, util

ZONES = ("nsec.test", "nsec3.test", "optout.test")
ED25519 = ("nsec.test", "optout.test")


def zone_text(zone: str) -> str:
    return (f"$ORIGIN {zone}.\n$TTL 3600\n"
            "@ IN SOA ns1 hostmaster 2024010101 7200 900 1209600 300\n"
            "@ IN NS ns1\n"
            "@ IN NS ns2\n"
            "@ IN MX 10 mail\n"
            "ns1 IN A 192.0.2.1\n"
            "ns2 IN AAAA 2001:db8::2\n"
            "WWW IN A 192.0.2.10\n"
            "www IN TXT \"web\"\n"
            "mail IN A 192.0.2.25\n"
            "*.wild IN TXT \"wildcard\"\n"
            "a.b.c IN A 192.0.2.30\n"
            "sub IN NS ns.sub\n"                    # insecure, with glue
            "ns.sub IN A 192.0.2.53\n"
            "deep.ent IN NS ns.deep.ent\n"          # insecure below an empty non-terminal
            "ns.deep.ent IN A 192.0.2.55\n"
            "secure IN NS ns.secure\n"              # secure
            "secure IN DS 12345 13 2 "
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
            "ns.secure IN A 192.0.2.54\n"
            f"big IN TXT {' '.join(chr(97 + i) * 200 for i in range(8))}\n")


def build_database(base: Path, conf: Path, db: Path) -> None:
    conn = __import__("sqlite3").connect(db)
    conn.executescript(SCHEMA)
    conn.close()
    for zone in (*ZONES, "narrow.test"):
        path = base / f"{zone}.zone"
        path.write_text(zone_text(zone))
        util(conf, "load-zone", zone, str(path))
    util(conf, "add-zone-key", "nsec.test", "ksk", "active", "ed25519")
    util(conf, "add-zone-key", "nsec.test", "zsk", "active", "ed25519")
    util(conf, "set-publish-cds", "nsec.test")
    util(conf, "set-publish-cdnskey", "nsec.test")
    util(conf, "add-zone-key", "nsec3.test", "ksk", "active", "ecdsa256")
    util(conf, "set-nsec3", "nsec3.test", "1 0 0 -")
    util(conf, "add-zone-key", "optout.test", "ksk", "active", "ed25519")
    util(conf, "set-nsec3", "optout.test", "1 1 1 ab")
    util(conf, "add-zone-key", "narrow.test", "ksk", "active", "ed25519")
    util(conf, "set-nsec3", "narrow.test", "1 0 0 -", "narrow")
    util(conf, "rectify-all-zones")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("xfr-signed")
    db = base / "pdns.sqlite3"
    settings = {"launch": "gsqlite3", "gsqlite3-database": str(db), "gsqlite3-dnssec": "yes",
                "workers": "2", "signing-threads": "2", "zone-check-interval": "3600"}
    server = Fastdns(base / "srv", settings)
    build_database(base, server.confdir, db)
    with server:
        server.wait_workers(2)
        yield server, db, base
        code = server.stop()
    assert code == 0, server.log()


# --------------------------------------------------------------------------------------------
# clients


def axfr(server: Fastdns, zone: str, rdtype: str = "AXFR",
         serial: int | None = None) -> list[dns.rrset.RRset]:
    """The RRsets of a transfer, in the order sent."""
    out: list[dns.rrset.RRset] = []
    for message in dns.query.xfr(server.address, f"{zone}.", rdtype=rdtype, serial=serial,
                                 port=server.port, lifetime=30, relativize=False):
        out.extend(message.answer)
    return out


def ask(server: Fastdns, qname: dns.name.Name | str, rdtype: int | str
        ) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=True, use_edns=0,
                                   payload=4096)
    query.flags &= ~dns.flags.RD
    return dns.query.tcp(query, server.address, port=server.port, timeout=10)


Key = tuple[dns.name.Name, int, int]          # owner, type, covered


def by_key(rrsets: list[dns.rrset.RRset]) -> dict[Key, dns.rrset.RRset]:
    """RRsets by (owner, type, covered), merged (RRSIGs of several keys come as one)."""
    out: dict[Key, dns.rrset.RRset] = {}
    for rrset in rrsets:
        key = (rrset.name, rrset.rdtype, rrset.covers)
        if key in out:
            out[key].union_update(rrset)
        else:
            out[key] = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers)
            out[key].update(rrset)
    return out


@pytest.fixture(scope="module")
def transfers(site):
    server, *_ = site
    return {zone: axfr(server, zone) for zone in ZONES}


def origin(zone: str) -> dns.name.Name:
    return dns.name.from_text(zone)


def delegations(zone: str) -> set[dns.name.Name]:
    return {dns.name.from_text(f"{label}.{zone}") for label in ("sub", "deep.ent", "secure")}


def below_cut(name: dns.name.Name, zone: str) -> bool:
    return any(name.is_subdomain(cut) and name != cut for cut in delegations(zone))


# --------------------------------------------------------------------------------------------
# the stream


@pytest.mark.parametrize("zone", ZONES)
def test_the_stream_is_the_zone_signed(transfers, zone):
    """SOA first and last; DNSKEY, NSEC3PARAM (NSEC3), CDS/CDNSKEY (when published) and
    the NSEC or NSEC3 records; every RRset but a delegation's NS and glue signed, by the
    right keys, each RRSIG valid."""
    stream = transfers[zone]
    apex = origin(zone)
    assert stream[0].rdtype == dns.rdatatype.SOA and stream[-1].rdtype == dns.rdatatype.SOA
    assert stream[0] == stream[-1] and stream[0].name == apex
    assert not any(r.rdtype == dns.rdatatype.SOA for r in stream[1:-1])
    rrsets = by_key(stream[:-1])
    types = {rdtype for (_, rdtype, _) in rrsets}
    assert dns.rdatatype.DNSKEY in types
    denial = dns.rdatatype.NSEC if zone == "nsec.test" else dns.rdatatype.NSEC3
    assert denial in types
    assert (dns.rdatatype.NSEC3PARAM in types) == (zone != "nsec.test")
    assert {dns.rdatatype.CDS in types, dns.rdatatype.CDNSKEY in types} == \
        {zone == "nsec.test"}
    keyset = rrsets[(apex, dns.rdatatype.DNSKEY, dns.rdatatype.NONE)]
    keys = {apex: keyset}
    tags = {dns.dnssec.key_id(k): k.flags for k in keyset}
    ksk = {t for t, f in tags.items() if f == 257}
    zsk = {t for t, f in tags.items() if f == 256} or ksk
    checked = 0
    for (name, rdtype, _), rrset in rrsets.items():
        if rdtype == dns.rdatatype.RRSIG:
            assert (name, rrset.covers, dns.rdatatype.NONE) in rrsets, rrset
            continue
        sigs = rrsets.get((name, dns.rdatatype.RRSIG, rdtype))
        if below_cut(name, zone) or (name in delegations(zone)
                                     and rdtype == dns.rdatatype.NS):
            assert sigs is None, f"{name} {rdtype!r} is not authoritative, but signed"
            continue
        assert sigs is not None, f"{name} {dns.rdatatype.to_text(rdtype)} unsigned"
        wanted = ksk if rdtype in (dns.rdatatype.DNSKEY, dns.rdatatype.CDS,
                                   dns.rdatatype.CDNSKEY) else zsk
        assert sorted(s.key_tag for s in sigs) == sorted(wanted), (name, rdtype)
        for sig in sigs:
            assert sig.original_ttl == rrset.ttl and sigs.ttl == rrset.ttl
            dns.dnssec.validate_rrsig(rrset, sig, keys)
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("zone", ZONES)
def test_ldns_verify_zone(transfers, zone, tmp_path):
    """The transferred zone, as a zone file, is valid for ldns-verify-zone: signatures,
    the NSEC or NSEC3 chain (opt-out included), its coverage of every name."""
    tool = require("ldns-verify-zone")
    path = tmp_path / f"{zone}.zone"
    path.write_text("".join(rrset.to_text() + "\n" for rrset in transfers[zone][:-1]))
    run = subprocess.run([tool, "-V", "3", str(path)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Zone is verified and complete" in run.stdout + run.stderr, run.stdout


@pytest.mark.parametrize("zone", ZONES)
def test_every_rrset_as_served(site, transfers, zone):
    """Each signed RRset as a DO=1 query for it gets it; for Ed25519 each RRSIG byte for
    byte the one served."""
    server, *_ = site
    rrsets = by_key(transfers[zone][:-1])
    compared = 0
    for (name, rdtype, _), rrset in rrsets.items():
        sigs = rrsets.get((name, dns.rdatatype.RRSIG, rdtype))
        if rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3) \
                or sigs is None:
            continue
        answer = ask(server, name, rdtype)
        assert answer.rcode() == dns.rcode.NOERROR, answer
        served = by_key(answer.answer)
        assert served[(name, rdtype, dns.rdatatype.NONE)] == rrset, answer
        assert served[(name, rdtype, dns.rdatatype.NONE)].ttl == rrset.ttl
        served_sigs = served[(name, dns.rdatatype.RRSIG, rdtype)]
        if zone in ED25519:
            assert {s.to_wire() for s in served_sigs} == {s.to_wire() for s in sigs}, \
                (name, rdtype, answer)
        else:                 # ECDSA: another random nonce, the same fields
            assert {(s.key_tag, s.inception, s.expiration, s.original_ttl, s.labels)
                    for s in served_sigs} == {(s.key_tag, s.inception, s.expiration,
                                               s.original_ttl, s.labels) for s in sigs}
        compared += 1
    assert compared > 12


def names_of(zone: str, rrsets: dict[Key, dns.rrset.RRset]) -> set[dns.name.Name]:
    """The zone's names and empty non-terminals, hashed owners left out."""
    apex = origin(zone)
    out = set()
    for (name, rdtype, _) in rrsets:
        if rdtype in (dns.rdatatype.NSEC3, dns.rdatatype.RRSIG) and len(name) == len(apex) + 1 \
                and len(name[0]) == 32:
            continue
        while name != apex:
            out.add(name)
            name = name.parent()
    return out | {apex}


def covered_names(zone: str, sent: dict[dns.name.Name, dns.rrset.RRset]
                  ) -> list[dns.name.Name]:
    """For each NSEC3 record of ``sent``, a name of ``zone`` whose hash it covers."""
    apex = origin(zone)
    param = next(iter(next(iter(sent.values()))))
    spans = [(owner[0].decode().upper(), base64.b32hexencode(r.next).decode())
             for owner, rrset in sent.items() for r in rrset]
    out = []
    for low, high in spans:
        for n in range(100_000):
            name = dns.name.from_text(f"h{n}", apex)
            digest = dns.dnssec.nsec3_hash(name, param.salt or None, param.iterations,
                                           param.algorithm)
            if (low < digest < high) if low < high else (digest > low or digest < high):
                out.append(name)
                break
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_denial_records_as_served(site, transfers, zone):
    """The NSEC or NSEC3 records of the denial answers (NODATA at every name, NXDOMAIN
    below and just after each, the wildcard's, and for NSEC3 a name each record covers)
    are the transfer's, with the same TTL, and together they are all of the
    transfer's; Ed25519: their RRSIGs byte for byte."""
    server, *_ = site
    rrsets = by_key(transfers[zone][:-1])
    denial = dns.rdatatype.NSEC if zone == "nsec.test" else dns.rdatatype.NSEC3
    sent = {name: rrset for (name, rdtype, _), rrset in rrsets.items() if rdtype == denial}
    seen: set[dns.name.Name] = set()
    asked: list[tuple[dns.name.Name, str]] = []
    for name in sorted(names_of(zone, rrsets)):
        if below_cut(name, zone):
            continue
        asked += [(name, "SSHFP"), (dns.name.from_text("zz-none", name), "A")]
        if name != origin(zone):        # the name just after it (a delegation's NSEC)
            asked.append((dns.name.Name((name[0] + b"0", *name[1:])), "A"))
    if denial == dns.rdatatype.NSEC3:
        # a name whose hash each NSEC3 covers (a secure delegation's is never matched)
        asked += [(name, "A") for name in covered_names(zone, sent)]
    for qname, rdtype in asked:
        answer = ask(server, qname, rdtype)
        assert answer.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), answer
        served = by_key(answer.authority)
        for (owner, rdtype_, _), rrset in served.items():
            if rdtype_ != denial:
                continue
            assert owner in sent, f"{owner} {denial!r} served, not transferred"
            assert rrset == sent[owner] and rrset.ttl == sent[owner].ttl, \
                (rrset, sent[owner])
            sigs = served[(owner, dns.rdatatype.RRSIG, denial)]
            mine = rrsets[(owner, dns.rdatatype.RRSIG, denial)]
            if zone in ED25519:
                assert {s.to_wire() for s in sigs} == {s.to_wire() for s in mine}
            else:
                assert {s.key_tag for s in sigs} == {s.key_tag for s in mine}
            seen.add(owner)
    assert seen == set(sent), set(sent) - seen


# --------------------------------------------------------------------------------------------
# what else a transfer gets


def test_narrow_nsec3_is_refused(site):
    server, *_ = site
    with pytest.raises(dns.xfr.TransferError) as caught:
        axfr(server, "narrow.test")
    assert caught.value.rcode == dns.rcode.REFUSED


def test_an_ixfr_gets_the_signed_zone_in_full(site, transfers):
    """An IXFR from an older serial: the whole signed zone (AXFR form)."""
    server, *_ = site
    full = axfr(server, "nsec.test", "IXFR", serial=1)
    assert by_key(full[:-1]) == by_key(transfers["nsec.test"][:-1])


def test_the_window_is_the_weekly_one(transfers):
    """Inception the Thursday before last, expiry two weeks after the last (as served)."""
    now = int(time.time())
    week = now // 604800 * 604800
    windows = {(sig.inception, sig.expiration) for rrset in transfers["nsec3.test"]
               if rrset.rdtype == dns.rdatatype.RRSIG for sig in rrset}
    assert windows == {(week - 604800, week + 2 * 604800)}


def test_a_zone_whose_keys_went_is_not_sent_unsigned(site):
    """Keys removed from the store but not yet reloaded: the transfer fails (SERVFAIL), it
    is never sent unsigned."""
    server, db, _ = site
    sql(db, "UPDATE cryptokeys SET active = 0 WHERE domain_id = (SELECT id FROM domains "
        "WHERE name = 'nsec3.test')")
    try:
        with pytest.raises(dns.xfr.TransferError) as caught:
            axfr(server, "nsec3.test")
        assert caught.value.rcode == dns.rcode.SERVFAIL
        assert "AXFR of domain 'nsec3.test.' to 127.0.0.1 failed: it cannot be signed" \
            in server.log()
    finally:
        sql(db, "UPDATE cryptokeys SET active = 1 WHERE domain_id = (SELECT id FROM "
            "domains WHERE name = 'nsec3.test')")


# --------------------------------------------------------------------------------------------
# in this process: the window at a given time, keys that are not the image's


def image_and_security(algorithm: int = 15):
    from fastdns._snapshot import Snapshot
    from fastdns.dnssec.imagesec import secure_image, setup_from
    from fastdns.dnssec.keys import ZoneKey
    from fastdns.dnssec.zonesec import StoredKey, ZoneSecurity
    from fastdns.zone.loader import load_image_text

    key = ZoneKey.generate(algorithm, 257)
    security = ZoneSecurity("example", (StoredKey(1, 257, True, True, key),))
    image = secure_image(load_image_text(zone_text("example"), "example.").image,
                         setup_from(security))
    return Snapshot(image), security


def test_the_window_at_a_given_time():
    """``now``: the weekly window of that time, for every RRSIG of the stream, and the
    stream the same as the server's (SOA first and last, the NSEC chain)."""
    from fastdns.xfr.signed import signed_axfr_rrsets

    snap, security = image_and_security()
    now = 1_700_000_000                      # Tuesday 14 November 2023
    week = now // 604800 * 604800            # Thursday 9 November 2023, 00:00 UTC
    stream = [rrset for rrset, octets in signed_axfr_rrsets(snap, security, now=now)]
    sigs = [sig for rrset in stream if rrset.rdtype == dns.rdatatype.RRSIG for sig in rrset]
    assert {(s.inception, s.expiration) for s in sigs} == {(week - 604800, week + 1209600)}
    assert stream[0].rdtype == stream[-1].rdtype == dns.rdatatype.SOA
    nsec = [r for r in stream if r.rdtype == dns.rdatatype.NSEC]
    assert len(nsec) == len({r.name for r in stream if r.rdtype not in (
        dns.rdatatype.NSEC, dns.rdatatype.RRSIG)} - {
        dns.name.from_text(n) for n in ("ns.sub.example.", "ns.deep.ent.example.",
                                        "ns.secure.example.")})


def test_keys_that_are_not_the_image_s_fail_the_stream():
    from fastdns.xfr.signed import SignedTransferError, signed_axfr_rrsets

    snap, _ = image_and_security()
    _, other = image_and_security()
    with pytest.raises(SignedTransferError, match="not an active key"):
        list(signed_axfr_rrsets(snap, other))

"""Online signing against PowerDNS, on one database (DESIGN §5, issue 13).

Four zones in one SQLite database, written and secured the way an operator of PowerDNS does
it, with Debian's ``pdnsutil`` 4.7: ``load-zone``, ``add-zone-key`` (Ed25519, so that
signatures are deterministic), ``set-nsec3`` for NSEC3, NSEC3 opt-out and narrow NSEC3,
``rectify-all-zones``. ``pdns_server`` and fastdns then serve that same database (gsqlite3,
``gsqlite3-dnssec=yes``), and every query of the set is asked of both with DO=1:

- every RRset fastdns signs validates with dnspython's ``dns.dnssec`` against the zone's
  DNSKEY RRset, and a sample validates end to end with BIND's ``delv`` from the DS that
  ``fastdns-util export-zone-ds`` prints as the only trust anchor;
- fastdns's answer equals PowerDNS's: rcode, the RRsets of every section, the RRSIGs byte
  for byte (same Ed25519 keys, same weekly window), and the NSEC/NSEC3 records' owners and
  type bitmaps — except where docs/differences.md argues a difference (ARGUED below).
"""

from __future__ import annotations

import re
import subprocess
import textwrap
import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests._support.servers import Fastdns, Pdns, require
from tests._support.sqldb import TempDatabase
from tests.conformance.test_conformance import pdns_settings

ZONE_TEXT = """\
$TTL 3600
@        IN SOA  ns1 hostmaster 2026120601 10800 3600 604800 300
@        IN NS   ns1
@        IN NS   ns2.example.net.
@        IN MX   10 Mail
mail2    IN MX   20 MAIL.Example.NET.
ns1      IN A    192.0.2.1
mail     IN A    192.0.2.25
www      IN A    192.0.2.10
www      IN AAAA 2001:db8::10
Alias    IN CNAME www
*.wild   IN TXT  "wild"
a.b.c    IN A    192.0.2.3
insecure IN NS   ns.insecure
ns.insecure IN A 192.0.2.53
secure   IN NS   ns.secure.example.net.
secure   IN DS   12345 13 2 49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD
_sip._tcp IN SRV 0 5 5060 sip
sip      IN A    192.0.2.50
txt      IN TXT  "v=spf1 -all"
deleg.ent IN NS  ns.example.net.
deleg.ent2 IN NS ns.example.net.
deleg.ent2 IN DS 12345 13 2 49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD
"""

#: zone -> how it is secured (pdnsutil arguments after the keys)
MODES = {
    "nsec.test": [],
    "nsec3.test": [["set-nsec3", "nsec3.test", "1 0 1 ab"]],
    "optout.test": [["set-nsec3", "optout.test", "1 1 1 ab"]],
    "narrow.test": [["set-nsec3", "narrow.test", "1 0 0 -", "narrow"]],
}
#: a KSK and a ZSK for these, one CSK for the others
SPLIT_KEYS = {"nsec.test", "nsec3.test"}

QUERIES = [("@", "SOA"), ("@", "NS"), ("@", "DNSKEY"), ("@", "NSEC3PARAM"), ("@", "MX"),
           ("www", "A"), ("www", "TXT"), ("alias", "A"), ("nx", "A"), ("deep.nx", "AAAA"),
           ("x.wild", "TXT"), ("x.wild", "A"), ("y.x.wild", "TXT"), ("b.c", "A"), ("c", "TXT"),
           ("a.b.c", "A"), ("insecure", "A"), ("x.insecure", "A"), ("insecure", "DS"),
           ("secure", "A"), ("secure", "DS"), ("_sip._tcp", "SRV"), ("txt", "TXT"),
           ("zzz", "A"), ("0", "A"), ("ent", "A"), ("x.ent", "A"), ("deleg.ent", "DS"),
           ("ent2", "A"), ("deleg.ent2", "A"), ("deleg.ent", "A")]

#: (zone, name, type) -> why fastdns's answer may differ from PowerDNS's: docs/differences.md
ARGUED: dict[tuple[str, str, str], str] = {
    ("optout.test", "x.ent", "A"): "S2",
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dnssec")
    with TempDatabase("gsqlite3", workdir) as db:
        settings = {**db.settings(), "gsqlite3-dnssec": "yes"}
        for zone, steps in MODES.items():
            path = workdir / f"{zone}.zone"
            path.write_text(f"$ORIGIN {zone}.\n" + ZONE_TEXT)
            pdnsutil_dnssec(db, "load-zone", zone, str(path))
            if zone in SPLIT_KEYS:
                pdnsutil_dnssec(db, "add-zone-key", zone, "ksk", "active", "ed25519")
                pdnsutil_dnssec(db, "add-zone-key", zone, "zsk", "active", "ed25519")
            else:
                pdnsutil_dnssec(db, "add-zone-key", zone, "ksk", "active", "ed25519")
            for step in steps:
                pdnsutil_dnssec(db, *step)
        pdnsutil_dnssec(db, "rectify-all-zones")
        pdns = Pdns(workdir / "pdns", workdir / "unused.conf",
                    pdns_settings(**settings))
        pdns.settings.pop("bind-config")
        fastdns = Fastdns(workdir / "fastdns", {**settings, "signing-threads": "2"})
        pdns.start()
        try:
            fastdns.start()
            try:
                yield db, pdns, fastdns, workdir
            finally:
                assert fastdns.stop() == 0, fastdns.log()
        finally:
            pdns.stop()


def pdnsutil_dnssec(db: TempDatabase, *args: str) -> str:
    """Debian's pdnsutil with gsqlite3-dnssec=yes (PowerDNS keeps keys only where it is
    on)."""
    confdir = db.workdir / "pdnsutil-dnssec"
    confdir.mkdir(exist_ok=True)
    settings = {**db.settings(), "gsqlite3-dnssec": "yes"}
    (confdir / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    result = subprocess.run([require("pdnsutil"), f"--config-dir={confdir}", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"pdnsutil {' '.join(args)}: {result.stderr}{result.stdout}"
    return result.stdout


def ask(server, qname: str, qtype: str, tcp: bool = True) -> dns.message.Message:
    query = dns.message.make_query(qname, qtype, want_dnssec=True, payload=4096)
    if tcp:
        return dns.query.tcp(query, server.address, port=server.port, timeout=5)
    return dns.query.udp(query, server.address, port=server.port, timeout=5)


def fqdn(zone: str, name: str) -> str:
    return f"{zone}." if name == "@" else f"{name}.{zone}."


def keyset(server, zone: str):
    answer = ask(server, f"{zone}.", "DNSKEY")
    dnskey = answer.find_rrset(answer.answer, dns.name.from_text(f"{zone}."),
                               dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    return {dns.name.from_text(f"{zone}."): dnskey}


def signed_rrsets(message: dns.message.Message, zone: str):
    """(rrset, its RRSIGs) of every section that must be signed: all but a referral's NS
    and glue."""
    apex = dns.name.from_text(f"{zone}.")
    for section in (message.answer, message.authority, message.additional):
        sigs = [r for r in section if r.rdtype == dns.rdatatype.RRSIG]
        for rrset in section:
            if rrset.rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.OPT):
                continue
            if rrset.rdtype == dns.rdatatype.NS and rrset.name != apex:
                continue                 # a delegation's NS: not authoritative, unsigned
            if section is message.additional and not message.flags & dns.flags.AA:
                continue                 # glue of a referral
            if section is message.additional and rrset.name.is_subdomain(
                    dns.name.from_text(f"insecure.{zone}.")):
                continue
            yield rrset, [s for s in sigs if s.name == rrset.name and s.covers == rrset.rdtype]


@pytest.mark.parametrize("zone", sorted(MODES))
def test_every_answer_validates(servers, zone):
    """Every RRset fastdns signs validates against the zone's DNSKEY (dnspython), over UDP
    and TCP, and a query without DO gets no DNSSEC records."""
    _, _, fastdns, _ = servers
    keys = keyset(fastdns, zone)
    failures = []
    for name, qtype in QUERIES:
        for tcp in (False, True):
            answer = ask(fastdns, fqdn(zone, name), qtype, tcp)
            assert answer.flags & dns.flags.TC == 0 or not tcp
            for rrset, sigs in signed_rrsets(answer, zone):
                if not sigs:
                    failures.append(f"{name} {qtype}: {rrset.name} {rrset.rdtype!r} unsigned")
                    continue
                for sig in sigs:
                    try:
                        dns.dnssec.validate_rrsig(rrset, sig[0], keys)
                    except dns.dnssec.ValidationFailure as exc:
                        failures.append(f"{name} {qtype}: {rrset.name} {exc}")
    assert not failures, "\n".join(failures)
    plain = dns.query.tcp(dns.message.make_query(f"www.{zone}.", "A"), fastdns.address,
                          port=fastdns.port, timeout=5)
    assert not [r for r in plain.answer if r.rdtype == dns.rdatatype.RRSIG]


def _normal(message: dns.message.Message) -> dict:
    """What must be equal: rcode, AA, and each section's RRsets with TTL and rdata (RRSIGs
    byte for byte); the additional section's glue order aside."""
    def section(rrsets):
        out = set()
        for rrset in rrsets:
            if rrset.rdtype == dns.rdatatype.OPT:
                continue
            for rdata in rrset:
                out.add((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                         rrset.ttl, rdata.to_text().lower()))
        return out
    return {"rcode": dns.rcode.to_text(message.rcode()),
            "aa": bool(message.flags & dns.flags.AA),
            "answer": section(message.answer), "authority": section(message.authority),
            "additional": section(message.additional)}


@pytest.mark.parametrize("zone", sorted(MODES))
def test_answers_equal_powerdns(servers, zone):
    """With the same Ed25519 keys and window, fastdns's signed answers are PowerDNS's: the
    same records, RRSIGs byte for byte, NSEC/NSEC3 owners and bitmaps."""
    _, pdns, fastdns, _ = servers
    differences = []
    compared = 0
    for name, qtype in QUERIES:
        if (zone, name, qtype) in ARGUED:
            continue
        compared += 1
        theirs = _normal(ask(pdns, fqdn(zone, name), qtype))
        ours = _normal(ask(fastdns, fqdn(zone, name), qtype))
        for key in theirs:
            if theirs[key] != ours[key]:
                if isinstance(theirs[key], set):
                    differences.append(f"{name} {qtype} {key}: pdns only "
                                       f"{sorted(theirs[key] - ours[key])}, fastdns only "
                                       f"{sorted(ours[key] - theirs[key])}")
                else:
                    differences.append(f"{name} {qtype} {key}: pdns {theirs[key]}, "
                                       f"fastdns {ours[key]}")
    assert not differences, "\n".join(differences)
    assert compared == len(QUERIES) - len([k for k in ARGUED if k[0] == zone])


DELV_SAMPLE = [("www", "A", "fully validated"), ("nx", "A", "negative response, fully"),
               ("x.wild", "TXT", "fully validated"), ("www", "TXT", "negative response, fully"),
               ("b.c", "A", "negative response, fully"), ("secure", "DS", "fully validated"),
               ("insecure", "DS", "negative response, fully")]


@pytest.mark.parametrize("zone", sorted(MODES))
def test_delv_validates_from_the_exported_ds(servers, zone):
    """BIND's delv, trusting only the DS fastdns-util exports, validates positive answers,
    NXDOMAIN, NODATA, wildcards, empty non-terminals and DS denial."""
    _, _, fastdns, workdir = servers
    delv = require("delv")
    out = subprocess.run(["python3", "-m", "fastdns.cli.util",
                          f"--config-dir={fastdns.confdir}", "export-zone-ds", zone],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    anchors = []
    for line in out.stdout.splitlines():
        fields = line.partition(";")[0].split()
        if "DS" in fields:
            tag, alg, digest_type, *digest = fields[fields.index("DS") + 1:]
            anchors.append(f'"{zone}." static-ds {tag} {alg} {digest_type} '
                           f'"{"".join(digest)}";')
    assert anchors, out.stdout
    anchor_file = workdir / f"anchors-{zone}.conf"
    anchor_file.write_text("trust-anchors {\n" + "\n".join(anchors) + "\n};\n")
    failures = []
    for name, qtype, expect in DELV_SAMPLE:
        if zone == "optout.test" and (name, qtype) == ("x.wild", "TXT"):
            # every NSEC3 of an opt-out zone has the opt-out flag: the one covering the
            # next closer name cannot rule out an insecure delegation there, so a wildcard
            # answer is insecure (RFC 5155 §9.2), for PowerDNS's answer as for ours
            expect = "unsigned answer"
        result = subprocess.run([delv, f"@{fastdns.address}", "-p", str(fastdns.port),
                                 "-a", str(anchor_file), f"+root={zone}", "+tcp",
                                 fqdn(zone, name), qtype],
                                capture_output=True, text=True, timeout=30)
        text = result.stdout + result.stderr
        if expect not in text:
            failures.append(f"{name} {qtype}: {textwrap.shorten(text, 400)}")
    assert not failures, "\n".join(failures)


def test_signing_counters(servers):
    """The signatures were computed by the signers and kept in the shared cache."""
    _, _, fastdns, _ = servers
    ask(fastdns, "www.nsec.test.", "A")
    deadline = time.monotonic() + 5
    while True:                    # signer 0 reports the cache's size once a second
        out = subprocess.run(["python3", "-m", "fastdns.cli.control",
                              f"--config-dir={fastdns.confdir}", "show", "*"],
                             capture_output=True, text=True, timeout=30)
        values = dict(re.findall(r"([a-z0-9-]+)=(\d+)", out.stdout))
        if int(values.get("signature-cache-size", 0)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert int(values.get("signatures", 0)) > 0, out.stdout
    assert int(values.get("signature-cache-size", 0)) > 0, out.stdout
    per_signer = []
    for slot in (0, 1):                      # signing-threads=2: each signer's own count
        shown = subprocess.run(["python3", "-m", "fastdns.cli.control",
                                f"--config-dir={fastdns.confdir}", "show",
                                f"signer-{slot}-signatures"],
                               capture_output=True, text=True, timeout=30)
        per_signer.append(int(shown.stdout))
    assert sum(per_signer) == int(values["signatures"]), (per_signer, values["signatures"])


# --------------------------------------------------------------------------------------------
# presigned zones: signed offline by ldns-signzone, loaded with pdnsutil load-zone
#
# pdns_server is no reference here: it serves a presigned zone's denial from the rows'
# ordername, which only an incoming transfer writes (pdnsutil refuses to rectify a presigned
# zone), so for such a zone it answers the apex's NSEC to every NXDOMAIN and SERVFAIL with
# NSEC3 (differences.md S3). The answers are checked against the validators instead.

PRESIGNED = {"psnsec.test": [], "psnsec3.test": ["-n", "-s", "ab", "-t", "1"],
             # a zone file of the bind backend, PRESIGNED in its bind-dnssec-db
             "bpsnsec3.test": ["-n", "-s", "cd", "-t", "2"]}
BIND_PRESIGNED = {"bpsnsec3.test"}


@pytest.fixture(scope="module")
def presigned(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("presigned")
    keygen, signzone = require("ldns-keygen"), require("ldns-signzone")
    with TempDatabase("gsqlite3", workdir) as db:
        settings = {**db.settings(), "gsqlite3-dnssec": "yes"}
        anchors = {}
        for zone, options in PRESIGNED.items():
            text = workdir / f"{zone}.zone"
            keys = []
            for ksk in (["-k"], []):
                keys.append(subprocess.run([keygen, "-a", "ECDSAP256SHA256", *ksk, zone],
                                           cwd=workdir, capture_output=True, text=True,
                                           check=True).stdout.strip())
            anchors[zone] = (workdir / f"{keys[0]}.ds").read_text()
            text.write_text(f"$ORIGIN {zone}.\n" + ZONE_TEXT + "".join(
                (workdir / f"{k}.key").read_text() for k in keys))
            subprocess.run([signzone, *options, "-o", zone, "-f", f"{text}.signed", str(text),
                            *keys], cwd=workdir, check=True, capture_output=True)
            if zone in BIND_PRESIGNED:
                continue
            pdnsutil_dnssec(db, "load-zone", zone, f"{text}.signed")
            pdnsutil_dnssec(db, "set-presigned", zone)
            if options:
                pdnsutil_dnssec(db, "set-nsec3", zone, "1 0 1 ab")
        named = workdir / "named.conf"
        named.write_text("".join(f'zone "{zone}" {{ type master; file "{workdir}/{zone}.zone'
                                 f'.signed"; }};\n' for zone in sorted(BIND_PRESIGNED)))
        settings = {**settings, "launch": "gsqlite3,bind", "bind-config": str(named),
                    "bind-dnssec-db": str(workdir / "bind-dnssec.sqlite3")}
        conf = workdir / "util-conf"
        conf.mkdir()
        (conf / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        for args in (["create-bind-db", settings["bind-dnssec-db"]],
                     *(["set-presigned", zone] for zone in sorted(BIND_PRESIGNED))):
            result = subprocess.run(["python3", "-m", "fastdns.cli.util",
                                     f"--config-dir={conf}", *args],
                                    capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr
        fastdns = Fastdns(workdir / "fastdns", settings)
        with fastdns:
            yield fastdns, anchors, workdir


@pytest.mark.parametrize("zone", sorted(PRESIGNED))
def test_presigned_zone_serves_its_own_signatures(presigned, zone):
    """A presigned zone is served with the RRSIGs and NSEC/NSEC3 records it holds: every
    signed RRset validates (dnspython), delv validates NXDOMAIN, NODATA, wildcard and
    empty non-terminal answers from the zone's DS, and no signer is asked."""
    fastdns, anchors, workdir = presigned
    keys = keyset(fastdns, zone)
    failures = []
    for name, qtype in QUERIES:
        answer = ask(fastdns, fqdn(zone, name), qtype)
        for rrset, sigs in signed_rrsets(answer, zone):
            if not sigs:
                failures.append(f"{name} {qtype}: {rrset.name} {rrset.rdtype!r} unsigned")
            for sig in sigs:
                try:
                    dns.dnssec.validate_rrsig(rrset, sig[0], keys)
                except dns.dnssec.ValidationFailure as exc:
                    failures.append(f"{name} {qtype}: {rrset.name} {exc}")
    assert not failures, "\n".join(failures)
    fields = anchors[zone].split()
    tag, alg, digest_type, digest = fields[fields.index("DS") + 1:][:4]
    anchor_file = workdir / f"anchors-{zone}.conf"
    anchor_file.write_text(f'trust-anchors {{ "{zone}." static-ds {tag} {alg} '
                           f'{digest_type} "{digest}"; }};\n')
    for name, qtype, expect in DELV_SAMPLE:
        result = subprocess.run([require("delv"), f"@{fastdns.address}", "-p",
                                 str(fastdns.port), "-a", str(anchor_file), f"+root={zone}",
                                 "+tcp", fqdn(zone, name), qtype],
                                capture_output=True, text=True, timeout=30)
        text = result.stdout + result.stderr
        if expect not in text:
            failures.append(f"{name} {qtype}: {textwrap.shorten(text, 400)}")
    assert not failures, "\n".join(failures)
    out = subprocess.run(["python3", "-m", "fastdns.cli.control",
                          f"--config-dir={fastdns.confdir}", "show", "signature-cache-misses"],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "0", out.stdout + out.stderr

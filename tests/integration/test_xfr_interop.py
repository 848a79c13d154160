"""Zone transfers between fastdns and Debian's knotd, nsd, named and pdns_server (DESIGN §6:
"fastdns can be primary or secondary to PowerDNS, BIND, Knot or NSD").

One set of servers on 127.0.0.1 and random ports, shared by every test of the module:

- fastdns ``main`` (SQLite) is primary of ``tsig-out.test`` (TSIG) for knotd and named, of
  ``plain-out.test`` for nsd and pdns_server, and of ``signed-out.test`` (signed online
  with NSEC3) for knotd; and secondary of knotd's ``knot-in.test`` (TSIG) and
  pdns_server's ``pdns-in.test``.
- fastdns ``bindside`` (BIND zone files) is secondary of named's ``named-in.test``.

Every zone's SOA refresh is two hours, so an update can only arrive by NOTIFY: fastdns's
own (it notices the new serial in its database and notifies the zone's ALSO-NOTIFY
targets) or the peer's. After each transfer the whole zone is compared on both sides
(the secondary's AXFR against the primary's), and the peers' logs and fastdns's say
whether the update went by IXFR. Two tests of their own restart fastdns beside a knotd
secondary: a change after a restart from the image cache, and one made while fastdns was
stopped, must go out by NOTIFY too.
"""

from __future__ import annotations

import subprocess

import dns.flags
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from tests._support.peers import (
    Knot,
    Named,
    Nsd,
    Pdns,
    Peer,
    PeerError,
    Record,
    Tsig,
    compare_zones,
    normalize,
)
from tests._support.servers import require
from tests._support.xfrnodes import FastdnsPeer

#: a zone as operators write it: $TTL and $ORIGIN, relative names in mixed case, a
#: multi-line SOA with comments, MX, TXT with spaces (and a semicolon inside quotes), a
#: delegation with glue, AAAA, SRV, a wildcard and CNAMEs
ZONE = """\
$TTL 3600
$ORIGIN {origin}
@       IN SOA  NS1 hostmaster (
                {serial}  ; serial
                7200        ; refresh (2 hours)
                900         ; retry
                1209600     ; expire
                300 )       ; negative caching
        IN NS   ns1
        IN NS   ns2.example.net.
        IN MX   10 Mail
        IN MX   20 mx.backup.example.net.
        IN TXT  "v=spf1 mx a:mail.{origin} -all"
        IN A    192.0.2.10
        IN AAAA 2001:db8::10
ns1     IN A    192.0.2.53
        IN AAAA 2001:db8::53
Mail    IN A    192.0.2.25
        IN AAAA 2001:db8::25
www     IN CNAME @
FTP 300 IN CNAME www
_sip._udp  IN SRV 10 60 5060 sip
_xmpp-server._tcp 86400 IN SRV 5 0 5269 chat.example.net.
sip     IN A    192.0.2.60
notes   IN TXT  "hello world; this has spaces" "and a second string"
*.users IN A    192.0.2.99
        IN TXT  "wildcard answer"
dev     IN NS   ns.dev
        IN NS   ns.other.example.net.
ns.dev  IN A    192.0.2.200
        IN AAAA 2001:db8:1::200
old     IN A    192.0.2.70
        IN TXT  "to be removed"
{extra}"""

SERIAL = 2024060101


#: enough names that a transfer takes several messages (TSIG on each, RFC 8945 5.3.1)
BULK = "".join(f'host{i:04d} IN A 10.0.{i // 256}.{i % 256}\n'
               f'         IN TXT "host number {i} of the bulk"\n' for i in range(1500))


def zone(origin: str, serial: int = SERIAL, extra: str = "", bulk: bool = True) -> str:
    return ZONE.format(origin=origin, serial=serial, extra=extra) + (BULK if bulk else "")


def updated(origin: str, bulk: bool = True) -> str:
    """The update: the serial bumped, records added (a new name, a record at an existing
    name), removed (a whole name, one of an RRset) and changed (an address)."""
    text = zone(origin, SERIAL + 1, 'New     IN A    192.0.2.77\n'
                                    '        IN TXT  "added by the update"\n'
                                    'sip     IN AAAA 2001:db8::60\n', bulk)
    text = text.replace('old     IN A    192.0.2.70\n        IN TXT  "to be removed"\n', "")
    text = text.replace("        IN MX   20 mx.backup.example.net.\n", "")
    return text.replace("192.0.2.25", "192.0.2.26")


TSIG_OUT = "tsig-out.test."        # fastdns -> knot, named (TSIG)
PLAIN_OUT = "plain-out.test."      # fastdns -> nsd, pdns
SIGNED_OUT = "signed-out.test."    # fastdns (signed online, NSEC3) -> knot
KNOT_IN = "knot-in.test."          # knot -> fastdns (SQLite), TSIG
PDNS_IN = "pdns-in.test."          # pdns -> fastdns (SQLite)
NAMED_IN = "named-in.test."        # named -> fastdns (BIND zone file)


class Site:
    def __init__(self, base) -> None:
        self.key = Tsig.generate("xfr-interop.")
        self.main = FastdnsPeer(base)
        self.bindside = FastdnsPeer(base, backend="bind")
        self.knot, self.named = Knot(base), Named(base)
        self.nsd, self.pdns = Nsd(base), Pdns(base)
        main, key = self.main, self.key
        main.add_primary(TSIG_OUT, zone(TSIG_OUT), tsig=key,
                         notify=[self.knot.endpoint, self.named.endpoint])
        main.add_primary(PLAIN_OUT, zone(PLAIN_OUT),
                         notify=[self.nsd.endpoint, self.pdns.endpoint])
        main.add_primary(SIGNED_OUT, zone(SIGNED_OUT, bulk=False), notify=[self.knot.endpoint])
        main.secure(SIGNED_OUT, "1 0 0 -")
        main.add_secondary(KNOT_IN, self.knot.endpoint, tsig=key)
        main.add_secondary(PDNS_IN, self.pdns.endpoint)
        self.bindside.add_secondary(NAMED_IN, self.named.endpoint)
        for peer in (self.knot, self.named):
            peer.add_secondary(TSIG_OUT, main.endpoint, tsig=key)
        for peer in (self.nsd, self.pdns):
            peer.add_secondary(PLAIN_OUT, main.endpoint)
        self.knot.add_secondary(SIGNED_OUT, main.endpoint)
        self.knot.add_primary(KNOT_IN, zone(KNOT_IN), notify=[main.endpoint], tsig=key)
        self.pdns.add_primary(PDNS_IN, zone(PDNS_IN), notify=[main.endpoint])
        self.named.add_primary(NAMED_IN, zone(NAMED_IN), notify=[self.bindside.endpoint])
        #: (primary, secondary, zone) of every pair
        self.outgoing = {"knot": (self.knot, TSIG_OUT), "named": (self.named, TSIG_OUT),
                         "nsd": (self.nsd, PLAIN_OUT), "pdns": (self.pdns, PLAIN_OUT)}
        self.incoming = {"knot": (self.knot, self.main, KNOT_IN),
                         "pdns": (self.pdns, self.main, PDNS_IN),
                         "named": (self.named, self.bindside, NAMED_IN)}
        self.updated_out = False
        self.updated_in = False

    @property
    def all(self) -> list[Peer]:
        # named after its primary (fastdns), fastdns's secondaries after theirs
        return [self.main, self.knot, self.nsd, self.pdns, self.named, self.bindside]

    def start(self) -> None:
        for peer in self.all:
            peer.start()
        # the first look at a zone never transferred is up to 10 s after start, and a
        # primary not up yet then is backed off for 30 s: ask at once instead
        for _, secondary, origin in self.incoming.values():
            secondary.refresh(origin)

    def stop(self) -> None:
        for peer in reversed(self.all):
            peer.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    site = Site(tmp_path_factory.mktemp("xfr-interop"))
    try:
        site.start()
        yield site
    finally:
        site.stop()


def assert_same_zone(primary: Peer, secondary: Peer, origin: str,
                     tsig: Tsig | None = None) -> None:
    """The whole zone is equal on both sides, and equal to the text the primary was given."""
    on_primary = primary.axfr(origin, tsig=tsig or True)
    text = primary.primaries[origin].text
    diff = compare_zones(dns.zone.from_text(text, origin, relativize=False), on_primary)
    assert diff == [], f"{primary.name} differs from its zone text:\n" + "\n".join(diff)
    diff = compare_zones(on_primary, secondary.axfr(origin, tsig=None))
    assert diff == [], (f"{secondary.name} (secondary) differs from {primary.name} "
                        "(primary):\n" + "\n".join(diff))


# --------------------------------------------------------------------------------------------
# 1. fastdns primary -> knotd, named (TSIG), nsd, pdns_server


@pytest.mark.parametrize("peer", ["knot", "named", "nsd", "pdns"])
def test_fastdns_primary_initial_transfer(site, peer):
    secondary, origin = site.outgoing[peer]
    getattr(site, peer).wait_serial(origin, SERIAL, timeout=20)
    assert_same_zone(site.main, secondary, origin)


def test_fastdns_primary_requires_tsig(site):
    with pytest.raises(PeerError):
        site.main.axfr(TSIG_OUT, tsig=None)
    with pytest.raises(PeerError):
        site.main.axfr(TSIG_OUT, tsig=Tsig.generate("xfr-interop."))   # wrong secret


@pytest.fixture(scope="module")
def updated_out(site):
    """The update of fastdns's primary zones, made once: every secondary has the first
    serial, then ``fastdns-util load-zone`` of the new text."""
    for secondary, origin in site.outgoing.values():
        secondary.wait_serial(origin, SERIAL, timeout=20)
    for origin in (TSIG_OUT, PLAIN_OUT):
        site.main.update(origin, updated(origin))
    return site


@pytest.mark.parametrize("peer", ["knot", "named", "nsd", "pdns"])
def test_fastdns_primary_update_by_notify(updated_out, peer):
    site = updated_out
    secondary, origin = site.outgoing[peer]
    secondary.wait_serial(origin, SERIAL + 1, timeout=20)
    assert_same_zone(site.main, secondary, origin)
    got = secondary.axfr(origin, tsig=None)
    assert ("new." + origin, 3600, "A", "192.0.2.77") in got
    assert not [rec for rec in got if rec.name == "old." + origin]
    # it came by fastdns's NOTIFY, which the peer took
    assert (secondary.address, secondary.port, "NOERROR") in site.main.notified(origin), \
        site.main.log_tail()


@pytest.mark.parametrize("peer", ["knot", "named"])
def test_fastdns_primary_update_was_ixfr(updated_out, peer):
    """knotd logs the kind of what it took in; named writes an IXFR (and only an IXFR) to
    its journal. Both asked IXFR of fastdns, which had sent the first version."""
    site = updated_out
    secondary, origin = site.outgoing[peer]
    secondary.wait_serial(origin, SERIAL + 1, timeout=20)
    if peer == "knot":
        assert secondary.transfers(origin) == ["AXFR", "IXFR"], secondary.log_tail()
    else:
        journal = secondary.zone_file(origin).with_name(
            secondary.zone_file(origin).name + ".jnl")
        assert journal.exists(), f"no IXFR journal {journal}{secondary.log_tail()}"
        printed = subprocess.run([require("named-journalprint"), str(journal)],
                                 capture_output=True, text=True, timeout=15)
        assert f"add new.{origin}" in printed.stdout.lower() and \
            f"del old.{origin}" in printed.stdout.lower(), printed.stdout + printed.stderr
    outgoing = site.main.transfers(origin, "outgoing")
    assert "IXFR" in outgoing, site.main.log_tail()


def test_fastdns_primary_serves_the_difference(updated_out):
    """An IXFR from the first serial is the difference (RFC 1995: SOA new, SOA old, the
    deleted records, SOA new, the added records, SOA new), not the whole zone."""
    site = updated_out
    site.knot.wait_serial(TSIG_OUT, SERIAL + 1, timeout=20)
    answer = site.main.ixfr(TSIG_OUT, SERIAL)
    soas = [rrset[0].serial for rrset in answer if rrset.rdtype == dns.rdatatype.SOA]
    assert soas == [SERIAL + 1, SERIAL, SERIAL + 1, SERIAL + 1], [str(r) for r in answer]


def test_fastdns_primary_second_update_ixfr(updated_out):
    """A second update goes by IXFR from the version fastdns sent by IXFR: knotd's and
    named's incremental copies stay equal to fastdns's zone."""
    site = updated_out
    for peer in (site.knot, site.named):
        peer.wait_serial(TSIG_OUT, SERIAL + 1, timeout=20)
    text = updated(TSIG_OUT).replace(str(SERIAL + 1), str(SERIAL + 2)) \
        .replace("host0007 IN A 10.0.0.7\n", "host0007 IN A 10.0.0.8\n") \
        + "Second  IN AAAA 2001:db8::2:2\n"
    site.main.update(TSIG_OUT, text)
    for peer in (site.knot, site.named):
        peer.wait_serial(TSIG_OUT, SERIAL + 2, timeout=20)
        assert_same_zone(site.main, peer, TSIG_OUT)
    assert site.knot.transfers(TSIG_OUT) == ["AXFR", "IXFR", "IXFR"], site.knot.log_tail()


@pytest.mark.parametrize("backend", ["gsqlite3", "bind"])
def test_fastdns_primary_notifies_after_a_restart(tmp_path, backend):
    """fastdns restarted (its zones served at once from its image cache: the default
    zone-cache-dir beside the database, a directory of its own for zone files): the first
    change of a primary zone after that still goes out by NOTIFY."""
    origin = "restart.test."
    cache = "" if backend == "gsqlite3" else str(tmp_path / "image-cache")
    main = FastdnsPeer(tmp_path, backend=backend, settings={"zone-cache-dir": cache})
    knot = Knot(tmp_path)
    main.add_primary(origin, zone(origin, bulk=False), notify=[knot.endpoint])
    knot.add_secondary(origin, main.endpoint)
    with main, knot:
        knot.wait_serial(origin, SERIAL)
        main.restart()
        assert "from the image cache" in main.log(), main.log_tail()
        main.update(origin, updated(origin, bulk=False))
        main.wait_serial(origin, SERIAL + 1)
        knot.wait_serial(origin, SERIAL + 1, timeout=10)
        assert_same_zone(main, knot, origin)


def test_fastdns_primary_notifies_a_change_made_while_stopped(tmp_path):
    """A primary zone changed while fastdns was down (fastdns-util load-zone) is NOTIFYed
    when it starts, as PowerDNS does (domains.notified_serial behind the zone's serial)."""
    origin = "stopped.test."
    main, knot = FastdnsPeer(tmp_path), Knot(tmp_path)
    main.add_primary(origin, zone(origin, bulk=False), notify=[knot.endpoint])
    knot.add_secondary(origin, main.endpoint)
    with main, knot:
        knot.wait_serial(origin, SERIAL)
        main.stop(remove=False)
        main.update(origin, updated(origin, bulk=False))
        main.restart()
        main.wait_serial(origin, SERIAL + 1)
        knot.wait_serial(origin, SERIAL + 1, timeout=10)
        assert_same_zone(main, knot, origin)


# --------------------------------------------------------------------------------------------
# 2. knotd (TSIG), pdns_server -> fastdns (SQLite); named -> fastdns (BIND zone file)


@pytest.mark.parametrize("peer", ["knot", "pdns", "named"])
def test_fastdns_secondary_initial_axfr(site, peer):
    primary, secondary, origin = site.incoming[peer]
    secondary.wait_serial(origin, SERIAL, timeout=20)
    assert_same_zone(primary, secondary, origin)
    assert set(secondary.transfers(origin)) == {"AXFR"}, secondary.log_tail()


#: queries whose answers a secondary must give as its primary does: the apex, a CNAME
#: chain, a wildcard, a referral (below a delegation, and at it), NXDOMAIN, NODATA
QUERIES = [("@", "SOA"), ("@", "MX"), ("FTP", "A"), ("Some.users", "TXT"), ("www.dev", "A"),
           ("dev", "NS"), ("ns.dev", "AAAA"), ("nowhere", "A"), ("Mail", "TXT"),
           ("_sip._udp", "SRV"), ("notes", "TXT")]


def answer(peer: Peer, qname: str, rdtype: str) -> tuple:
    """rcode, AA and the answer and authority sections, normalised."""
    reply = peer.query(qname, rdtype, tcp=True)
    return (dns.rcode.to_text(reply.rcode()), bool(reply.flags & dns.flags.AA),
            normalize(reply.answer), normalize(reply.authority))


@pytest.mark.parametrize("peer", ["knot", "pdns", "named"])
def test_fastdns_secondary_answers_as_primary(site, peer):
    """What fastdns stored (SQL rows rectified: auth, glue; or the zone file written) is
    served as the primary serves it."""
    primary, secondary, origin = site.incoming[peer]
    secondary.wait_serial(origin, SERIAL, timeout=20)
    for name, rdtype in QUERIES:
        qname = origin if name == "@" else f"{name}.{origin}"
        assert answer(secondary, qname, rdtype) == answer(primary, qname, rdtype), \
            (qname, rdtype)


@pytest.fixture(scope="module")
def updated_in(site):
    for _, secondary, origin in site.incoming.values():
        secondary.wait_serial(origin, SERIAL, timeout=20)
    before = {peer: len(secondary.transfers(origin))
              for peer, (_, secondary, origin) in site.incoming.items()}
    for primary, _, origin in site.incoming.values():
        primary.update(origin, updated(origin))
    return site, before


@pytest.mark.parametrize("peer", ["knot", "pdns", "named"])
def test_fastdns_secondary_update_by_notify(updated_in, peer):
    site, before = updated_in
    primary, secondary, origin = site.incoming[peer]
    secondary.wait_serial(origin, SERIAL + 1, timeout=20)
    assert_same_zone(primary, secondary, origin)
    assert f"received NOTIFY for '{origin}' from 127.0.0.1" in secondary.log()
    kinds = secondary.transfers(origin)[before[peer]:]
    # knotd and named serve the difference; pdns_server answers the IXFR in AXFR form
    # ("IXFR fallback to AXFR" in its log), its first message holding the SOA alone
    expected = ["IXFR"] if primary.serves_ixfr else ["AXFR"]
    assert kinds == expected, (kinds, secondary.log_tail(), primary.log_tail())


# --------------------------------------------------------------------------------------------
# 3. a zone signed online by fastdns (NSEC3) -> knotd


def unsigned(records: list[Record]) -> set[Record]:
    """The records with each RRSIG's signature field cut off."""
    return {r._replace(rdata=" ".join(r.rdata.split()[:8])) if r.rdtype == "RRSIG" else r
            for r in records}


def assert_signed_copy(site: Site, path) -> None:
    """knotd's copy of the signed zone is fastdns's (RRSIGs but their signatures: ECDSA's
    differ at each signing), and valid for ldns-verify-zone."""
    on_fastdns = site.main.axfr(SIGNED_OUT)
    on_knot = site.knot.axfr(SIGNED_OUT)
    kinds = {rec.rdtype for rec in on_knot}
    assert {"DNSKEY", "RRSIG", "NSEC3", "NSEC3PARAM"} <= kinds, sorted(kinds)
    a, b = unsigned(on_fastdns), unsigned(on_knot)
    diff = [f"- {rec}" for rec in sorted(a - b)] + [f"+ {rec}" for rec in sorted(b - a)]
    assert diff == [], "knot differs from fastdns:\n" + "\n".join(diff)
    path.write_text("".join(f"{r.name} {r.ttl} IN {r.rdtype} {r.rdata}\n" for r in on_knot))
    done = subprocess.run([require("ldns-verify-zone"), str(path)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_signed_zone_to_knot_verifies(site, tmp_path):
    site.knot.wait_serial(SIGNED_OUT, SERIAL, timeout=20)
    assert_signed_copy(site, tmp_path / "signed-out.test.zone")


def test_signed_zone_update_to_knot_verifies(site, tmp_path):
    """An update of the signed zone reaches knotd by NOTIFY (its IXFR is answered with the
    whole signed zone), re-signed and with the NSEC3 chain made anew."""
    site.knot.wait_serial(SIGNED_OUT, SERIAL, timeout=20)
    site.main.update(SIGNED_OUT, updated(SIGNED_OUT, bulk=False))
    site.knot.wait_serial(SIGNED_OUT, SERIAL + 1, timeout=20)
    assert_signed_copy(site, tmp_path / "signed-out.test.zone")
    assert ("new." + SIGNED_OUT, 3600, "A", "192.0.2.77") in site.knot.axfr(SIGNED_OUT)

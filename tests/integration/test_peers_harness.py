"""The transfer-peer harness (tests/_support/peers.py) proved on peer-to-peer transfers.

Before fastdns is put between them, each pair of Debian's servers must transfer a realistic
zone and agree on every record: knotd -> nsd with TSIG, named -> knotd by AXFR then IXFR of
an update, pdns_server -> named with TSIG. Updates reach the secondary by NOTIFY alone: the
zone's refresh is two hours.
"""

import dns.rdatatype
import dns.zone
import pytest

from tests._support.peers import Knot, Named, Nsd, Pdns, PeerError, Tsig, compare_zones

#: a zone as operators write them: $TTL and $ORIGIN, relative names, a multi-line SOA with
#: comments, MX, TXT with spaces (and a semicolon inside quotes), a delegation with glue,
#: AAAA, SRV, a wildcard and CNAMEs
ZONE = """\
$TTL 3600
$ORIGIN {origin}
@       IN SOA  ns1 hostmaster (
                {serial}  ; serial
                7200        ; refresh (2 hours)
                900         ; retry
                1209600     ; expire
                300 )       ; negative caching
        IN NS   ns1
        IN NS   ns2.example.net.
        IN MX   10 mail
        IN MX   20 mx.backup.example.net.
        IN TXT  "v=spf1 mx a:mail.{origin} -all"
        IN A    192.0.2.10
        IN AAAA 2001:db8::10
ns1     IN A    192.0.2.53
        IN AAAA 2001:db8::53
mail    IN A    192.0.2.25
        IN AAAA 2001:db8::25
www     IN CNAME @
ftp 300 IN CNAME www
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
{extra}"""

SERIAL = 2024060101


def zone(origin: str, serial: int = SERIAL, extra: str = "") -> str:
    return ZONE.format(origin=origin, serial=serial, extra=extra)


def assert_same_zone(primary, secondary, origin: str) -> None:
    """The whole zone is equal on both sides, and equal to the text the primary was given."""
    on_primary = primary.axfr(origin)
    text = primary.primaries[origin].text
    diff = compare_zones(dns.zone.from_text(text, origin, relativize=False), on_primary)
    assert diff == [], "primary differs from its zone text:\n" + "\n".join(diff)
    diff = compare_zones(on_primary, secondary.axfr(origin))
    assert diff == [], "secondary differs from primary:\n" + "\n".join(diff)


def test_knot_primary_nsd_secondary_tsig(tmp_path):
    origin = "knot-nsd.test."
    key = Tsig.generate("knot-nsd.")
    knot, nsd = Knot(tmp_path), Nsd(tmp_path)
    knot.add_primary(origin, zone(origin), notify=[nsd.endpoint], tsig=key)
    nsd.add_secondary(origin, knot.endpoint, tsig=key)
    with knot, nsd:
        nsd.wait_serial(origin, SERIAL)
        assert_same_zone(knot, nsd, origin)
        # the key is required: an unsigned AXFR is refused
        with pytest.raises(PeerError):
            knot.axfr(origin, tsig=None)
        knot.update(origin, zone(origin, SERIAL + 1, "new     IN A    192.0.2.77\n"))
        nsd.wait_serial(origin, SERIAL + 1)
        assert_same_zone(knot, nsd, origin)
        assert ("new.knot-nsd.test.", 3600, "A", "192.0.2.77") in nsd.axfr(origin)


def test_named_primary_knot_secondary_axfr_then_ixfr(tmp_path):
    origin = "named-knot.test."
    named, knot = Named(tmp_path), Knot(tmp_path)
    named.add_primary(origin, zone(origin), notify=[knot.endpoint])
    knot.add_secondary(origin, named.endpoint)
    with named, knot:
        knot.wait_serial(origin, SERIAL)
        assert_same_zone(named, knot, origin)
        assert knot.transfers(origin) == ["AXFR"], knot.log_tail()

        updated = zone(origin, SERIAL + 1, "new     IN A    192.0.2.77\n").replace(
            "192.0.2.25", "192.0.2.26")
        named.update(origin, updated)
        knot.wait_serial(origin, SERIAL + 1)
        assert_same_zone(named, knot, origin)
        # knotd took the update as an IXFR, and named serves the difference itself
        assert knot.transfers(origin) == ["AXFR", "IXFR"], knot.log_tail()
        assert named.transfers(origin, "outgoing").count("IXFR") == 1, named.log_tail()
        answer = named.ixfr(origin, SERIAL)
        soas = [rr[0].serial for rr in answer if rr.rdtype == dns.rdatatype.SOA]
        assert soas == [SERIAL + 1, SERIAL, SERIAL + 1, SERIAL + 1], soas


def test_pdns_primary_named_secondary_tsig(tmp_path):
    origin = "pdns-named.test."
    key = Tsig.generate("pdns-named.")
    pdns, named = Pdns(tmp_path), Named(tmp_path)
    pdns.add_primary(origin, zone(origin), notify=[named.endpoint], tsig=key)
    named.add_secondary(origin, pdns.endpoint, tsig=key)
    with pdns, named:
        named.wait_serial(origin, SERIAL)
        assert_same_zone(pdns, named, origin)
        with pytest.raises(PeerError):
            pdns.axfr(origin, tsig=None)
        pdns.update(origin, zone(origin, SERIAL + 1, "new     IN TXT  \"added later\"\n"))
        named.wait_serial(origin, SERIAL + 1)
        assert_same_zone(pdns, named, origin)

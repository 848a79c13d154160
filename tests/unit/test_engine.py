"""The answer engine, RFC case by RFC case, without sockets (answers parsed by dnspython)."""

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from fastdns._engine import Engine
from fastdns._snapshot import Snapshot
from fastdns.consts import RdType
from fastdns.zone.check import CNAME_NEIGHBOURS
from fastdns.zone.loader import load_image_text
from tests._support.zones import engine as make_engine

EXAMPLE_COM = """
$TTL 3600
@       IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
        NS  ns1
        NS  ns2
        MX  10 mail
ns1     A   192.0.2.1
ns1     AAAA 2001:db8::1
ns2     A   192.0.2.2
mail    A   192.0.2.25
www     A   192.0.2.80
www     AAAA 2001:db8::80
Mixed   A   192.0.2.81
alias   CNAME www
chain1  CNAME chain2
chain2  CNAME www
ext     CNAME www.example.org.
cross   CNAME host.example.net.
loop1   CNAME loop2
loop2   CNAME loop1
dangling CNAME nothere
*.wild  A   192.0.2.99
*.wild  TXT "wild"
*.cwild CNAME www
host.ent.deep A 192.0.2.7
deleg   NS  ns.deleg
deleg   NS  ns.elsewhere.example.org.
deleg   DS  12345 13 2 3e7b6fbd9a4d3c0e5e8e9a1d2c3b4a5f60718293a4b5c6d7e8f9001122334455
ns.deleg A  192.0.2.53
ns.deleg AAAA 2001:db8::53
occluded.deleg A 192.0.2.54
sub     NS  ns1.sub
ns1.sub A   192.0.2.60
sub     DS  54321 13 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
dname   DNAME example.net.
longer  DNAME {2}.example.net.
_sip._tcp SRV 0 5 5060 www
big     TXT "{0}" "{0}" "{0}"
big     TXT "{1}" "{1}" "{1}"
""".format("a" * 200, "b" * 200, "l" * 60)

EXAMPLE_NET = """
$TTL 600
@       IN SOA ns1.example.com. hostmaster.example.com. 7 7200 3600 1209600 900
        NS  ns1.example.com.
host    A   198.51.100.1
back    CNAME www.example.com.
"""

SUB_EXAMPLE_COM = """
$TTL 300
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 60
        NS  ns1
ns1     A   192.0.2.60
"""


@pytest.fixture(scope="module")
def engine():
    return make_engine({"example.com.": EXAMPLE_COM, "example.net.": EXAMPLE_NET,
                        "sub.example.com.": SUB_EXAMPLE_COM},
                       version="fastdns test", server_id="unit-1")


def ask(engine, qname, qtype="A", rdclass="IN", tcp=False, **kw):
    query = dns.message.make_query(qname, qtype, rdclass=rdclass, **kw)
    wire = engine.answer(query.to_wire(), tcp)
    assert wire is not None
    response = dns.message.from_wire(wire)
    assert response.id == query.id
    assert response.question == query.question
    return response


def rrs(section):
    """The records of a section as sorted presentation lines (owner case kept)."""
    return sorted(rr for rrset in section for rr in rrset.to_text().split("\n"))


def aa(response):
    return bool(response.flags & dns.flags.AA)


# -- RFC 1034 §4.3.2 ----------------------------------------------------------------------

def test_exact_answer_is_authoritative_and_echoes_qname_case(engine):
    r = ask(engine, "WwW.ExAmPlE.cOm", "A")
    assert r.rcode() == dns.rcode.NOERROR and aa(r)
    assert rrs(r.answer) == ["WwW.ExAmPlE.cOm. 3600 IN A 192.0.2.80"]
    assert str(r.question[0].name) == "WwW.ExAmPlE.cOm."
    assert not r.authority and not r.additional


def test_rd_is_copied_cd_ad_ra_z_are_not(engine):
    # as PowerDNS: only RD comes back (RFC 4035 §3.2.2's CD copy binds recursive servers)
    r = ask(engine, "www.example.com",
            flags=dns.flags.RD | dns.flags.CD | dns.flags.AD | dns.flags.RA | 0x40)
    assert r.flags == dns.flags.QR | dns.flags.AA | dns.flags.RD
    r = ask(engine, "www.example.com", flags=0)
    assert r.flags == dns.flags.QR | dns.flags.AA


def test_nodata_has_soa_with_negative_ttl(engine):
    r = ask(engine, "www.example.com", "TXT")
    assert r.rcode() == dns.rcode.NOERROR and aa(r) and not r.answer
    # RFC 2308 §3: TTL of the SOA = min(SOA TTL, SOA MINIMUM) = min(3600, 300)
    assert rrs(r.authority) == [
        "example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. "
        "2024010101 7200 3600 1209600 300"]


def test_nxdomain(engine):
    r = ask(engine, "nope.example.com")
    assert r.rcode() == dns.rcode.NXDOMAIN and aa(r) and not r.answer
    assert [rrset.rdtype for rrset in r.authority] == [dns.rdatatype.SOA]
    r = ask(engine, "deeper.www.example.com")          # below an existing leaf
    assert r.rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("qname", ["deep.example.com", "ent.deep.example.com"])
def test_empty_non_terminal_is_nodata(engine, qname):
    r = ask(engine, qname)
    assert r.rcode() == dns.rcode.NOERROR and aa(r) and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_any_returns_every_rrset_over_tcp(engine):
    r = ask(engine, "www.example.com", "ANY", tcp=True)
    assert rrs(r.answer) == ["www.example.com. 3600 IN A 192.0.2.80",
                             "www.example.com. 3600 IN AAAA 2001:db8::80"]
    # the CNAME, followed, as PowerDNS answers (differences.md, A2)
    r = ask(engine, "alias.example.com", "ANY", tcp=True)
    assert rrs(r.answer) == ["alias.example.com. 3600 IN CNAME www.example.com.",
                             "www.example.com. 3600 IN A 192.0.2.80",
                             "www.example.com. 3600 IN AAAA 2001:db8::80"]


CNAME_AND_OTHER = """
$TTL 300
@       SOA  ns1 hostmaster 1 7200 3600 1209600 60
        NS   ns1
ns1     A    192.0.2.1
alias   CNAME ns1
alias   TXT  "left behind"
alias   MX   10 ns1
alias   KEY  256 3 8 AwEAAQ==
"""


@pytest.mark.parametrize(("qtype", "served"), [
    ("TXT", "CNAME"), ("MX", "CNAME"), ("A", "CNAME"), ("ANY", "CNAME"), ("CNAME", "CNAME"),
    ("KEY", "KEY")])
def test_a_cname_beside_other_data_wins(qtype, served):
    """The CNAME is answered (and followed) for every type but those that may sit beside it
    (fastdns.zone.check.CNAME_NEIGHBOURS), as PowerDNS answers (differences.md, Z12)."""
    assert (RdType[qtype] in CNAME_NEIGHBOURS) == (served == qtype)
    # (dnspython refuses such a zone: no oracle here)
    image = load_image_text(CNAME_AND_OTHER, "example.org.").image
    r = ask(Engine([Snapshot(image, 1)]), "alias.example.org", qtype, tcp=True)
    assert r.rcode() == dns.rcode.NOERROR and aa(r)
    assert dns.rdatatype.to_text(r.answer[0].rdtype) == served
    assert r.answer[0].name == dns.name.from_text("alias.example.org")
    if served == "CNAME" and qtype in ("A", "ANY"):
        assert r.answer[1].name == dns.name.from_text("ns1.example.org")   # followed


@pytest.mark.parametrize("qname", ["www.example.com", "nope.example.com", "www.example.org"])
def test_any_over_udp_asks_for_tcp(engine, qname):
    # PowerDNS's any-to-tcp (on by default): an empty truncated answer, for any name
    r = ask(engine, qname, "ANY")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.TC and aa(r)
    assert not r.answer and not r.authority and not r.additional
    without = make_engine({"example.com.": EXAMPLE_COM}, any_to_tcp=False)
    r = ask(without, "www.example.com", "ANY")
    assert not r.flags & dns.flags.TC and len(r.answer) == 2


def test_additional_addresses_for_ns_and_mx(engine):
    r = ask(engine, "example.com", "NS")
    assert rrs(r.additional) == ["ns1.example.com. 3600 IN A 192.0.2.1",
                                 "ns1.example.com. 3600 IN AAAA 2001:db8::1",
                                 "ns2.example.com. 3600 IN A 192.0.2.2"]
    r = ask(engine, "example.com", "MX")
    assert rrs(r.additional) == ["mail.example.com. 3600 IN A 192.0.2.25"]
    r = ask(engine, "_sip._tcp.example.com", "SRV")
    assert rrs(r.additional) == ["www.example.com. 3600 IN A 192.0.2.80",
                                 "www.example.com. 3600 IN AAAA 2001:db8::80"]


# -- CNAME ------------------------------------------------------------------------------------

def test_cname_chain_is_followed(engine):
    r = ask(engine, "chain1.example.com")
    assert rrs(r.answer) == ["chain1.example.com. 3600 IN CNAME chain2.example.com.",
                             "chain2.example.com. 3600 IN CNAME www.example.com.",
                             "www.example.com. 3600 IN A 192.0.2.80"]
    assert aa(r) and r.rcode() == dns.rcode.NOERROR


def test_cname_query_is_not_followed(engine):
    r = ask(engine, "alias.example.com", "CNAME")
    assert rrs(r.answer) == ["alias.example.com. 3600 IN CNAME www.example.com."]


def test_cname_into_another_served_zone(engine):
    r = ask(engine, "cross.example.com")
    assert rrs(r.answer) == ["cross.example.com. 3600 IN CNAME host.example.net.",
                             "host.example.net. 600 IN A 198.51.100.1"]
    assert aa(r)


def test_cname_out_of_our_zones_stops(engine):
    r = ask(engine, "ext.example.com")
    assert r.rcode() == dns.rcode.NOERROR
    assert rrs(r.answer) == ["ext.example.com. 3600 IN CNAME www.example.org."]
    assert not r.authority


def test_cname_to_nothing_is_nxdomain_with_the_cname(engine):
    r = ask(engine, "dangling.example.com")
    assert r.rcode() == dns.rcode.NXDOMAIN     # RFC 6604 §3: rcode of the last name
    assert rrs(r.answer) == ["dangling.example.com. 3600 IN CNAME nothere.example.com."]
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_cname_loop_is_servfail(engine):
    # as PowerDNS: the loop runs into the chain limit, SERVFAIL with nothing else
    r = ask(engine, "loop1.example.com")
    assert r.rcode() == dns.rcode.SERVFAIL and aa(r)
    assert not r.answer and not r.authority and not r.additional


def _chain(links):
    lines = [f"c{i} CNAME c{i + 1}" for i in range(links)] + [f"c{links} A 192.0.2.1"]
    return EXAMPLE_NET + "\n".join(lines) + "\n"


def test_cname_chain_limit_is_ten():
    r = ask(make_engine({"example.net.": _chain(10)}), "c0.example.net")
    assert r.rcode() == dns.rcode.NOERROR and len(r.answer) == 11
    r = ask(make_engine({"example.net.": _chain(11)}), "c0.example.net")
    assert r.rcode() == dns.rcode.SERVFAIL and not r.answer


def test_cname_into_a_delegation_keeps_aa(engine):
    zone = EXAMPLE_COM + "todeleg CNAME host.deleg\n"
    r = ask(make_engine({"example.com.": zone}), "todeleg.example.com")
    assert aa(r) and rrs(r.answer) == [
        "todeleg.example.com. 3600 IN CNAME host.deleg.example.com."]
    assert [rrset.rdtype for rrset in r.authority] == [dns.rdatatype.NS]
    assert len(r.additional) == 2


# -- wildcards (RFC 4592) ------------------------------------------------------------------

@pytest.mark.parametrize("qname", ["x.wild.example.com", "a.b.wild.example.com",
                                   "X.Wild.Example.Com"])
def test_wildcard_synthesis_uses_the_query_name(engine, qname):
    r = ask(engine, qname)
    assert rrs(r.answer) == [f"{qname}. 3600 IN A 192.0.2.99"]
    assert aa(r) and r.rcode() == dns.rcode.NOERROR


def test_wildcard_nodata(engine):
    r = ask(engine, "x.wild.example.com", "MX")
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].rdtype == dns.rdatatype.SOA


def test_wildcard_does_not_cover_the_parent(engine):
    r = ask(engine, "wild.example.com")           # an empty non-terminal
    assert r.rcode() == dns.rcode.NOERROR and not r.answer


def test_wildcard_cname(engine):
    r = ask(engine, "foo.cwild.example.com")
    assert rrs(r.answer) == ["foo.cwild.example.com. 3600 IN CNAME www.example.com.",
                             "www.example.com. 3600 IN A 192.0.2.80"]


# -- delegations ------------------------------------------------------------------------

@pytest.mark.parametrize("qname, qtype", [("deleg.example.com", "A"),
                                          ("x.deleg.example.com", "A"),
                                          ("deleg.example.com", "NS"),
                                          ("occluded.deleg.example.com", "A"),
                                          ("deleg.example.com", "ANY")])
def test_referral(engine, qname, qtype):
    r = ask(engine, qname, qtype, tcp=qtype == "ANY")
    assert r.rcode() == dns.rcode.NOERROR and not aa(r) and not r.answer
    assert rrs(r.authority) == [
        "deleg.example.com. 3600 IN NS ns.deleg.example.com.",
        "deleg.example.com. 3600 IN NS ns.elsewhere.example.org."]
    assert rrs(r.additional) == ["ns.deleg.example.com. 3600 IN A 192.0.2.53",
                                 "ns.deleg.example.com. 3600 IN AAAA 2001:db8::53"]


def test_ds_is_answered_by_the_parent(engine):
    r = ask(engine, "deleg.example.com", "DS")
    assert aa(r) and len(r.answer) == 1 and r.answer[0].rdtype == dns.rdatatype.DS
    # sub.example.com is a zone we serve too: its DS still comes from example.com
    r = ask(engine, "sub.example.com", "DS")
    assert aa(r) and r.answer[0][0].key_tag == 54321
    # other types at the child apex come from the child
    r = ask(engine, "sub.example.com", "SOA")
    assert aa(r) and r.answer[0][0].serial == 1


def test_ds_of_a_zone_whose_parent_we_do_not_serve(engine):
    r = ask(engine, "example.net", "DS")
    assert aa(r) and r.rcode() == dns.rcode.NOERROR and not r.answer
    assert r.authority[0].name == dns.name.from_text("example.net")


# -- DNAME (RFC 6672) ----------------------------------------------------------------------

def test_dname_substitution_and_synthesised_cname(engine):
    r = ask(engine, "host.dname.example.com")
    assert rrs(r.answer) == ["dname.example.com. 3600 IN DNAME example.net.",
                             "host.dname.example.com. 3600 IN CNAME host.example.net.",
                             "host.example.net. 600 IN A 198.51.100.1"]
    assert aa(r) and r.rcode() == dns.rcode.NOERROR


@pytest.mark.parametrize("qtype, tcp", [("CNAME", False), ("ANY", True)])
def test_dname_substitution_is_followed_for_every_qtype(engine, qtype, tcp):
    # RFC 6672 §3.2 step 3c goes back to step 1 with the new name, whatever the qtype
    r = ask(engine, "nothere.dname.example.com", qtype, tcp=tcp)
    assert r.rcode() == dns.rcode.NXDOMAIN and aa(r)
    assert rrs(r.answer) == ["dname.example.com. 3600 IN DNAME example.net.",
                             "nothere.dname.example.com. 3600 IN CNAME nothere.example.net."]
    assert r.authority[0].name == dns.name.from_text("example.net")


def test_dname_owner_itself_is_not_redirected(engine):
    r = ask(engine, "dname.example.com", "DNAME")
    assert rrs(r.answer) == ["dname.example.com. 3600 IN DNAME example.net."]
    r = ask(engine, "dname.example.com", "A")
    assert not r.answer and r.rcode() == dns.rcode.NOERROR


def test_dname_substitution_too_long_is_yxdomain(engine):
    # 200 octets of prefix: 216 octets as asked, 274 after the substitution
    qname = ".".join(["a" * 49] * 4) + ".longer.example.com"
    r = ask(engine, qname)
    assert r.rcode() == dns.rcode.YXDOMAIN
    assert r.answer[0].rdtype == dns.rdatatype.DNAME


# -- outside our zones, classes, opcodes ------------------------------------------------

def test_zone_that_failed_to_load_is_servfail():
    # as PowerDNS: a configured zone without data is SERVFAIL (AA), not REFUSED
    from tests._support.zones import snapshot

    broken = [dns.name.from_text(n).to_wire() for n in ("example.org", "sub.example.com")]
    engine = Engine([snapshot("example.com.", EXAMPLE_COM)], broken=broken)
    for qname, qtype in [("www.example.org", "A"), ("example.org", "SOA"),
                         ("x.sub.example.com", "A"), ("sub.example.com", "DS")]:
        r = ask(engine, qname, qtype)
        assert r.rcode() == dns.rcode.SERVFAIL and aa(r) and not r.answer, qname
    assert ask(engine, "www.example.com").rcode() == dns.rcode.NOERROR
    assert ask(engine, "www.example.net").rcode() == dns.rcode.REFUSED
    zone = EXAMPLE_COM + "tobroken CNAME www.example.org.\n"
    engine.set_zones([snapshot("example.com.", zone)], broken)
    r = ask(engine, "tobroken.example.com")
    assert r.rcode() == dns.rcode.SERVFAIL and not r.answer


def test_refused_outside_our_zones(engine):
    r = ask(engine, "www.example.org")
    assert r.rcode() == dns.rcode.REFUSED and not aa(r) and not r.answer


def test_chaos(engine):
    for qname in ("version.bind", "VERSION.pdns"):
        r = ask(engine, qname, "TXT", "CH")
        assert rrs(r.answer) == [f'{qname}. 5 CH TXT "fastdns test"'] and aa(r)
    r = ask(engine, "id.server", "TXT", "CH")
    assert rrs(r.answer) == ['id.server. 5 CH TXT "unit-1"']
    for qname in ("hostname.bind", "authors.bind", "www.example.com"):
        r = ask(engine, qname, "TXT", "CH")
        assert r.rcode() == dns.rcode.REFUSED and aa(r) and not r.answer
    r = ask(engine, "version.bind", "A", "CH")
    assert r.rcode() == dns.rcode.NOTIMP and aa(r)


def test_chaos_anonymous_and_disabled():
    quiet = make_engine({"example.com.": EXAMPLE_COM})      # version=None, server_id=None
    assert ask(quiet, "version.bind", "TXT", "CH").rcode() == dns.rcode.SERVFAIL
    assert ask(quiet, "id.server", "TXT", "CH").rcode() == dns.rcode.REFUSED
    r = ask(quiet, "www.example.com", use_edns=0,
            options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    assert not r.options


def test_nsid(engine):
    r = ask(engine, "www.example.com", use_edns=0,
            options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    assert [(o.otype, o.to_wire()) for o in r.options] == [(dns.edns.NSID, b"unit-1")]
    assert not ask(engine, "www.example.com", use_edns=0).options


@pytest.mark.parametrize("rdclass, rcode, authoritative", [
    ("NONE", dns.rcode.REFUSED, True), ("HS", dns.rcode.REFUSED, True),
    (2, dns.rcode.REFUSED, True), (0, dns.rcode.REFUSED, True)])
def test_other_classes_are_refused(engine, rdclass, rcode, authoritative):
    r = ask(engine, "www.example.com", "A", rdclass)
    assert r.rcode() == rcode and aa(r) == authoritative


def test_class_any_is_answered_but_not_authoritatively(engine):
    r = ask(engine, "www.example.com", "A", "ANY")
    assert not aa(r) and rrs(r.answer) == ["www.example.com. 3600 IN A 192.0.2.80"]


def test_rrsig_outside_our_zones_is_not_authoritative(engine):
    r = ask(engine, "www.example.org", "RRSIG")
    assert r.rcode() == dns.rcode.REFUSED and not aa(r)
    r = ask(engine, "www.example.org", "IXFR")       # PowerDNS sets AA on this one
    assert r.rcode() == dns.rcode.REFUSED and aa(r)


@pytest.mark.parametrize("qtype, tcp, rcode, answered", [
    ("RRSIG", False, dns.rcode.REFUSED, False),
    ("TKEY", False, dns.rcode.FORMERR, False),
    ("IXFR", False, dns.rcode.REFUSED, False),
    ("AXFR", True, dns.rcode.NOTAUTH, False),
    ("IXFR", True, dns.rcode.NOTAUTH, False),
    ("AXFR", False, dns.rcode.NOERROR, False),      # a NODATA, as PowerDNS
    ("MAILB", False, dns.rcode.NOERROR, False),
    ("TYPE0", False, dns.rcode.NOERROR, False),
    ("TYPE65535", False, dns.rcode.NOERROR, False),
])
def test_special_qtypes(engine, qtype, tcp, rcode, answered):
    r = ask(engine, "example.com", qtype, tcp=tcp)
    assert r.rcode() == rcode and aa(r) and bool(r.answer) == answered


def test_tsig_with_an_unknown_key_is_badkey(engine):
    # RFC 8945 §5.2.2: NOTAUTH and an unsigned TSIG with error BADKEY
    import dns.tsig
    import dns.tsigkeyring

    ring = dns.tsigkeyring.from_text({"nokey.": "c2VjcmV0c2VjcmV0"})
    for use_edns in (-1, 0):
        query = dns.message.make_query("www.example.com", "A", use_edns=use_edns)
        query.use_tsig(ring, keyname="nokey.")
        wire = engine.answer(query.to_wire())
        with pytest.raises(dns.tsig.PeerBadKey):
            dns.message.from_wire(wire, keyring=ring, request_mac=query.mac)
        r = dns.message.from_wire(wire, keyring=False)
        assert r.rcode() == dns.rcode.NOTAUTH and not r.answer and aa(r)
        assert r.tsig[0].error == 17 and r.tsig[0].original_id == query.id
        assert (r.edns == 0) == (use_edns == 0)


def test_notify_is_refused_without_secondary_zones(engine):
    query = dns.message.make_query("example.com", "SOA")
    query.set_opcode(dns.opcode.NOTIFY)
    r = dns.message.from_wire(engine.answer(query.to_wire()))
    assert r.opcode() == dns.opcode.NOTIFY and r.rcode() == dns.rcode.REFUSED and aa(r)


def _raw(flags=0x0100, qd=1, qname=b"\x03www\x07example\x03com\x00", qtype=1, tail=b"", ar=0):
    return struct.pack("!HHHHHH", 0xBEEF, flags, qd, 0, 0, ar) + qname + \
        struct.pack("!HH", qtype, 1) + tail


def test_query_with_qr_set_is_dropped(engine):
    assert engine.answer(_raw(flags=0x8100)) is None
    assert engine.answer(b"\x00\x01") is None


@pytest.mark.parametrize("qd", [0, 2])
def test_qdcount_not_one_is_formerr(engine, qd):
    r = dns.message.from_wire(engine.answer(_raw(qd=qd)), question_only=True) \
        if qd == 0 else None
    wire = engine.answer(_raw(qd=qd))
    (flags,) = struct.unpack_from("!H", wire, 2)
    assert wire[:2] == b"\xbe\xef" and flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR
    del r


@pytest.mark.parametrize("opcode", [1, 2, 3, 5, 6, 15])
def test_unknown_opcodes_are_notimp(engine, opcode):
    wire = engine.answer(_raw(flags=opcode << 11))
    (flags,) = struct.unpack_from("!H", wire, 2)
    assert (flags >> 11) & 0xF == opcode and flags & 0xF == dns.rcode.NOTIMP


# -- EDNS and truncation ---------------------------------------------------------------

def test_edns_is_echoed_with_do(engine):
    r = ask(engine, "www.example.com", use_edns=0, want_dnssec=True, payload=4096)
    assert r.edns == 0 and r.ednsflags & dns.flags.DO and r.payload == 1232
    r = ask(engine, "www.example.com")
    assert r.edns == -1


@pytest.mark.parametrize("qname", ["www.example.com", "www.example.org"])
def test_badvers(engine, qname):
    r = ask(engine, qname, use_edns=1, want_dnssec=True)
    assert r.rcode() == dns.rcode.BADVERS and r.edns == 0 and not r.answer and aa(r)
    assert r.ednsflags & dns.flags.DO


def test_truncation_without_edns_empties_the_sections(engine):
    r = ask(engine, "big.example.com", "TXT")
    assert r.flags & dns.flags.TC and aa(r)
    assert not r.answer and not r.authority and not r.additional
    r = ask(engine, "big.example.com", "TXT", use_edns=0, payload=512)
    assert r.flags & dns.flags.TC and not r.answer and r.edns == 0


def test_optional_additional_data_is_dropped_without_tc():
    # RFC 2181 §9: the answer fits, the addresses of the MX targets do not all fit
    lines = [f"mx{i} A 192.0.2.{i}\nmx{i} AAAA 2001:db8::{i}" for i in range(20)]
    lines += [f"many MX {i} mx{i}" for i in range(20)]
    small = make_engine({"example.net.": EXAMPLE_NET + "\n".join(lines) + "\n"})
    wire = small.answer(dns.message.make_query("many.example.net", "MX").to_wire())
    r = dns.message.from_wire(wire)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 20
    assert 0 < sum(len(rrset) for rrset in r.additional) < 40 and len(wire) <= 512
    # whole RRsets only
    for rrset in r.additional:
        assert len(rrset) == 1


def test_required_glue_that_does_not_fit_truncates():
    # RFC 9471 §3: in-domain glue of a referral must fit, or TC is set
    lines = [f"big NS ns{i}.big\nns{i}.big A 192.0.2.{i}\nns{i}.big AAAA 2001:db8::{i}"
             for i in range(20)]
    small = make_engine({"example.net.": EXAMPLE_NET + "\n".join(lines) + "\n"})
    r = ask(small, "www.big.example.net")
    assert r.flags & dns.flags.TC and not r.authority and not r.additional
    r = ask(small, "www.big.example.net", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.authority[0]) == 20
    assert sum(len(rrset) for rrset in r.additional) == 40


def test_no_truncation_over_tcp(engine):
    r = ask(engine, "big.example.com", "TXT", tcp=True)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 2


def test_udp_truncation_threshold_caps_the_buffer(engine):
    # the RRset takes 1263 octets: over the default threshold of 1232, under 4096
    r = ask(engine, "big.example.com", "TXT", use_edns=0, payload=4096)
    assert r.flags & dns.flags.TC and r.payload == 1232
    large = make_engine({"example.com.": EXAMPLE_COM}, udp_truncation_threshold=4096)
    r = ask(large, "big.example.com", "TXT", use_edns=0, payload=4096)
    assert not r.flags & dns.flags.TC and len(r.answer[0]) == 2 and r.payload == 4096
    r = ask(large, "big.example.com", "TXT", use_edns=0, payload=1300)
    assert not r.flags & dns.flags.TC

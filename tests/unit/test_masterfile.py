"""The master-file reader (fastdns.zone._masterfile) and the image it feeds: what dnspython,
the oracle, reads the same way gives the same RRsets; where PowerDNS reads otherwise, what
PowerDNS 4.7 makes of it (the same files go to pdns_server in tests/conformance)."""

import ast
import textwrap
from pathlib import Path

import dns.exception
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdns.backends.bind import BindBackend
from fastdns.backends.namedconf import parse_named_conf
from fastdns.zone.check import NoSOAError, ZoneError
from fastdns.zone.loader import ZoneOptions, load_image, load_image_text
from fastdns.zone.records import ZoneReader
from fastdns.zone.zonedb import ZoneDB
from tests._support.oracle import image_rrsets, name, read_rrsets

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "example.com."
HEAD = "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"
A, NS, MX, TXT, SOA = (dns.rdatatype.A, dns.rdatatype.NS, dns.rdatatype.MX,
                       dns.rdatatype.TXT, dns.rdatatype.SOA)


def rrsets(text: str, origin: str = ORIGIN, **options) -> dict:
    return image_rrsets(load_image_text(text, origin, "f.zone", ZoneOptions(**options)).image)


def same_as_dnspython(text: str, origin: str = ORIGIN) -> dict:
    got = rrsets(text, origin)
    assert got == read_rrsets(text, origin)
    return got


def at(got: dict, owner: str, rdtype: int) -> tuple[int, list[bytes]]:
    return got[(name(owner), rdtype)]


# -- what both readers read alike ------------------------------------------------------------

def named_zones():
    conf = parse_named_conf(str(ROOT / "conf" / "named.conf"))
    return [(zone.name, zone.file, conf.directory) for zone in conf.zones]


@pytest.mark.parametrize(("origin", "path", "directory"), named_zones())
def test_example_zones_are_read_as_dnspython_reads_them(origin, path, directory):
    got = image_rrsets(load_image(path, origin, directory).image)
    with open(path) as handle:
        text = handle.read()
    if "$INCLUDE" in text:     # dnspython opens includes from the working directory
        import contextlib
        with contextlib.chdir(directory):
            expect = read_rrsets(text, origin)
    else:
        expect = read_rrsets(text, origin)
    assert got == expect


def _test_zone_texts():
    """Every master-file text of the test suite that sets $TTL (without it PowerDNS and
    dnspython disagree on purpose): string constants holding an SOA record, and the
    literal ``zone_text(...)`` calls of the integration tests."""
    from tests.integration.helpers import zone_text

    texts = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name == "test_masterfile.py":
            continue              # its texts test where PowerDNS reads otherwise
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and "SOA" in node.value and "\n" in node.value:
                texts.add(textwrap.dedent(node.value))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "zone_text" \
                    and node.args:
                try:
                    args = [ast.literal_eval(arg) for arg in node.args]
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                except ValueError:
                    continue
                texts.add(zone_text(*args, **kwargs))
    return sorted(t for t in texts if "$TTL" in t and "$GENERATE" not in t)


def _origin(text: str) -> str:
    first = text.split("\n", 1)[0].split()
    return first[1] if first[:1] == ["$ORIGIN"] else ORIGIN


def _dnspython_reads(text: str) -> bool:
    try:
        read_rrsets(text, _origin(text))
    except (dns.exception.DNSException, ValueError, OSError):
        return False
    return True


@pytest.mark.parametrize("text", [t for t in _test_zone_texts() if _dnspython_reads(t)])
def test_zones_of_the_test_suite_read_as_dnspython_reads_them(text):
    origin = _origin(text)
    try:
        got = rrsets(text, origin)
    except ZoneError as exc:
        # records dnspython reads, refused or left out here: an owner outside the zone
        # (dnspython drops it), or no SOA (dnspython reads the rest)
        assert "outside the zone" in str(exc) or isinstance(exc, NoSOAError), exc
        return
    assert got == read_rrsets(text, origin)


COMMON = [
    # owners: @, blank, relative, absolute, case, escapes, $ORIGIN
    HEAD + "  IN A 192.0.2.9\nWWW A 192.0.2.1\nwww A 192.0.2.2\n\tA 192.0.2.3\n"
    "w\\.x A 1.2.3.4\nw\\065x A 1.2.3.5\n*.w A 1.2.3.6\nX.Y.example.COM. A 1.2.3.7\n"
    "$ORIGIN sub.example.com.\na A 1.2.3.8\n@ A 1.2.3.10\n",
    # parentheses, comments, quoted strings and escapes
    HEAD + "t TXT ( \"a b\" ; one\n  \"d\\\"e\" \"\\\\\" \"\\065\\066\" )\nt TXT \"\"\n"
    "t SPF \"v=spf1 -all\"\nu A ( \n 192.0.2.7 ) ; end\n\n; comment\n   \n  ; c\n",
    # TTL and class in either order, units
    HEAD + "a 1h IN A 1.1.1.1\nb IN 2d A 1.1.1.2\nc 3W A 1.1.1.3\nd in a 1.1.1.4\n",
    # types with names, made absolute
    HEAD + "a NS ns1\nb CNAME a.example.net.\nc DNAME example.net.\n4 PTR x\nm MX 0 @\n"
    "s SRV 0 1 65535 s\nr RP admin txt\nf AFSDB 1 afs\nm2 MX 10 mail.example.net.\n",
    # other types
    HEAD + "c2 CAA 128 issue \"ca.example.net; x\"\nv6 AAAA 2001:DB8::1\nv6 AAAA ::\n"
    "h HINFO \"cpu\" \"os\"\nds DS 1 8 2 " + "ABCDEF0123456789" * 4 + "\n"
    "n NAPTR 1 1 \"s\" \"SIP+D2U\" \"\" _sip._udp.example.com.\n"
    "k DNSKEY 257 3 13 AwEAAagAIKlVZrpC6Ia7gEzahOR+9W29euxhJhVVLOyQbSEW0O8gcCjF\n"
    "tl TLSA 3 1 1 " + "AB" * 32 + "\nsf SSHFP 1 1 " + "01" * 20 + "\n"
    "g TYPE65280 \\# 2 abcd\nl LOC 51 59 0.000 N 5 55 0.000 E 4.00m 1m 10000m 10m\n",
    # duplicates, the TTL of an RRset (the lowest), rdata order
    HEAD + "d 10 A 1.1.1.1\nd 5 A 1.1.1.1\nD 7 A 1.1.1.0\nd TXT \"b\"\nd TXT \"a\"\n",
    # glue, cuts, wildcards, DNAME
    HEAD + "@ MX 1 mail\nmail A 1.1.1.1\nmail AAAA ::1\ncut NS ns.cut\nns.cut A 1.1.1.2\n"
    "x.y.cut A 1.1.1.3\n*.w TXT \"w\"\nd DNAME x.\nunder.d A 1.1.1.4\n",
    # the last line without a newline, CRLF lines
    HEAD + "end A 1.2.3.4",
    HEAD.replace("\n", "\r\n") + "crlf A 1.2.3.4\r\n",
]


@pytest.mark.parametrize("text", COMMON)
def test_common_syntax_is_read_as_dnspython_reads_it(text):
    same_as_dnspython(text)


# -- what PowerDNS reads its own way ----------------------------------------------------------

def test_default_ttl_without_dollar_ttl_is_powerdns_s():
    """3600, then the last TTL stated (the SOA minimum plays no part, unlike BIND)."""
    got = rrsets("@ SOA ns hm 1 2 3 4 60\n@ NS ns\na A 1.1.1.1\nb 70 A 1.1.1.2\n"
                 "c A 1.1.1.3\n$TTL 5\nd A 1.1.1.4\ne 8 A 1.1.1.5\nf A 1.1.1.6\n")
    ttls = {owner: at(got, f"{owner}.example.com.", A)[0] for owner in "abcdef"}
    assert ttls == {"a": 3600, "b": 70, "c": 70, "d": 5, "e": 8, "f": 5}


@pytest.mark.parametrize(("spec", "ttl"), [("1h", 3600), ("1h30m", 60), ("2w", 1209600),
                                          ("90S", 90), ("1y", 31536000), ("300;", 300)])
def test_dollar_ttl_as_powerdns_reads_it(spec, ttl):
    got = rrsets(f"$TTL {spec}\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\na A 1.1.1.1\n")
    assert at(got, "a.example.com.", A)[0] == ttl


def test_soa_times_with_units_and_in_after_the_type():
    got = rrsets("$TTL 60\n@ IN SOA ns hm ( 7 1h 30m\n 1w ; expire\n 5m )\n@ NS ns\n"
                 "a A IN 1.1.1.1\n")
    soa = at(got, ORIGIN, SOA)[1][0]
    assert soa.endswith(bytes.fromhex("00000007 00000e10 00000708 00093a80 0000012c"))
    assert at(got, "a.example.com.", A)[1] == [bytes([1, 1, 1, 1])]


def test_text_is_read_as_powerdns_reads_it():
    got = rrsets(HEAD + "a TXT v=spf1 include:_spf.example.net ~all\nb TXT @\n"
                 "c TXT \"" + "x" * 300 + "\"\nd TXT \"a\" b\nunq TXT plain\n")
    assert at(got, "a.example.com.", TXT)[1] == [b"\x24v=spf1 include:_spf.example.net ~all"]
    assert at(got, "b.example.com.", TXT)[1] == [b"\x0cexample.com."]
    assert at(got, "c.example.com.", TXT)[1] == [b"\xff" + b"x" * 255 + b"\x2d" + b"x" * 45]
    assert at(got, "d.example.com.", TXT)[1] == [b"\x01a\x01b"]
    assert at(got, "unq.example.com.", TXT)[1] == [b"\x05plain"]


def test_names_of_other_types_are_absolute_as_in_powerdns():
    """PowerDNS makes relative names absolute for NS, CNAME, MX... only: the target of an
    ALIAS or SVCB written without a dot is a name below the root."""
    got = rrsets(HEAD + "a ALIAS target\nb CNAME target\nh HTTPS 1 target\n")
    assert at(got, "a.example.com.", 65401)[1] == [b"\x06target\x00"]
    assert at(got, "b.example.com.", dns.rdatatype.CNAME)[1] == [name("target.example.com.")]
    assert at(got, "h.example.com.", dns.rdatatype.HTTPS)[1] == [b"\x00\x01\x06target\x00"]


def test_generate_as_powerdns():
    got = rrsets(HEAD + "$GENERATE 1-3 host$ A 10.0.0.${0,3,d}\n"
                 "$GENERATE 10-12/2 r${-9,2,x} CNAME $.$$.example.net.\n"
                 "$GENERATE 1-1 esc\\$ TXT \"\\$\"\n")
    assert at(got, "host2.example.com.", A)[1] == [bytes([10, 0, 0, 2])]
    assert at(got, "r01.example.com.", dns.rdatatype.CNAME)[1] == [name("10.1010.example.net.")]
    assert at(got, "r03.example.com.", dns.rdatatype.CNAME)[1] == [name("12.1212.example.net.")]
    assert at(got, "esc$.example.com.", TXT)[1] == [b"\x01$"]
    with pytest.raises(ZoneError, match=r"f\.zone:5: invalid \$GENERATE"):
        rrsets(HEAD + "$GENERATE 3-1 h$ A 10.0.0.$\n")
    with pytest.raises(ZoneError, match="too high"):
        rrsets(HEAD + "$GENERATE 1-100 h$ A 10.0.0.$\n", max_generate_steps=10)


def test_include_and_origin_as_powerdns_reads_them(tmp_path):
    """PowerDNS ignores the origin argument of $INCLUDE and keeps an $ORIGIN of the included
    file after it (RFC 1035 §5.1 reads both otherwise): read as PowerDNS reads it, with a
    warning at each (docs/differences.md, Z7)."""
    (tmp_path / "inc").write_text("a A 1.2.3.4\n$ORIGIN deeper.example.com.\nb A 1.2.3.5\n")
    (tmp_path / "z").write_text(HEAD + "$INCLUDE inc sub.example.com.\nc A 1.2.3.6\n")
    loaded = load_image(str(tmp_path / "z"), ORIGIN, str(tmp_path))
    got = image_rrsets(loaded.image)
    owners = {owner for owner, rdtype in got if rdtype == A}
    assert {name("a.example.com."), name("b.deeper.example.com."),
            name("c.deeper.example.com.")} <= owners
    assert name("a.sub.example.com.") not in owners and name("c.example.com.") not in owners
    assert loaded.files == [str(tmp_path / "z"), str(tmp_path / "inc")]
    assert loaded.warnings == [
        f"{tmp_path / 'z'}:5: the origin 'sub.example.com.' of $INCLUDE is ignored, as "
        "PowerDNS ignores it",
        "inc: its $ORIGIN 'deeper.example.com.' stays in force after the $INCLUDE, as in "
        "PowerDNS"]


def test_a_record_without_data_takes_its_type_word():
    """``www IN TXT`` and nothing after: PowerDNS's reader takes the data from the type word
    on, so the record is TXT "TXT" (pdnsutil list-zone shows the same)."""
    got = rrsets(HEAD + "www IN TXT\n")
    assert at(got, "www.example.com.", dns.rdatatype.TXT) == (300, [b"\x03TXT"])


def test_origin_without_a_final_dot_is_absolute():
    """``$ORIGIN sub`` is ``sub.``, as PowerDNS reads it: its records are outside the zone."""
    text = HEAD + "$ORIGIN sub\nx A 1.1.1.1\n$ORIGIN www.example.com\ny A 1.1.1.2\n"
    with pytest.raises(ZoneError, match=r"f\.zone:6: 'x\.sub\.' is outside the zone"):
        rrsets(text)
    loaded = load_image_text(text, ORIGIN, "f.zone", ZoneOptions(ignore_broken=True))
    assert (name("y.www.example.com."), A) in image_rrsets(loaded.image)
    assert loaded.warnings[:2] == [
        "f.zone:5: $ORIGIN 'sub' is read as 'sub.', as PowerDNS reads it (not relative to "
        "the origin before it)",
        "f.zone:6: 'x.sub.' is outside the zone 'example.com.'; record skipped"]


# -- broken records: refused, or left out with bind-ignore-broken-records ----------------------

BROKEN = [
    ("bad IN A 1.2.3\n", "bad A data '1.2.3'"),
    ("bad IN A 1.2.3.4 5.6.7.8\n", "trailing data"),
    ("bad IN MX mail\n", "bad MX data"),
    ("bad IN FOO 1\n", "'FOO' is not a record type"),
    ("bad 1h30m A 1.2.3.4\n", "'1h30m' is not a record type"),
    ("bad 99999999999 A 1.2.3.4\n", "bad TTL"),
    ('bad TXT "unterminated\n', "should end on a quote"),
    ("a..b A 1.2.3.4\n", "bad owner name 'a..b'"),
    ("x" * 64 + " A 1.2.3.4\n", "longer than 63"),
    ("x.other. A 1.2.3.4\n", "'x.other.' is outside the zone 'example.com.'"),
    ("bad AFSDB 1\n", "AFSDB data must be"),
    ("bad CNAME a..b\n", "bad name 'a..b'"),
    ("bad TYPE41 \\# 0\n", "not a type of zone data"),
    ("bad A\n", "bad A data 'A'"),
]


@pytest.mark.parametrize(("body", "why"), BROKEN)
def test_a_broken_record_refuses_the_zone_naming_its_line(body, why):
    with pytest.raises(ZoneError) as caught:
        rrsets(HEAD + body + "after A 1.1.1.1\n")
    assert str(caught.value).startswith("f.zone:5: ") and why in str(caught.value)


@pytest.mark.parametrize(("body", "why"), BROKEN)
def test_ignore_broken_records_skips_it_and_serves_the_rest(body, why):
    loaded = load_image_text(HEAD + body + "after A 1.1.1.1\n  A 1.1.1.2\n", ORIGIN, "f.zone",
                             ZoneOptions(ignore_broken=True))
    assert loaded.skipped == 1
    skipped = [w for w in loaded.warnings if w.endswith("; record skipped")]
    assert len(skipped) == 1 and skipped[0].startswith("f.zone:5: ") and why in skipped[0]
    assert at(image_rrsets(loaded.image), "after.example.com.", A)[1] == [
        bytes([1, 1, 1, 1]), bytes([1, 1, 1, 2])]


@pytest.mark.parametrize("body", ["$FOO bar\n", "$TTL abc\n", "$ORIGIN a..b.\n",
                                  "$INCLUDE nowhere\n", "$TTL\n"])
def test_a_broken_directive_always_refuses_the_zone(body):
    for ignore in (False, True):
        with pytest.raises(ZoneError, match=r"^f\.zone:5: "):
            rrsets(HEAD + body, ignore_broken=ignore)


def test_an_include_that_cannot_be_opened_refuses_the_zone(tmp_path):
    """Whatever the reason (no such file, a NUL in its name), the zone is refused with the
    line of the $INCLUDE; nothing else escapes the reader."""
    (tmp_path / "inc").write_text("a A 1.2.3.4\n")
    for body, why in (("$INCLUDE nowhere\n", "'nowhere': No such file"),
                      ("$INCLUDE in\x00c\n", "'in\\000c': embedded null byte")):
        (tmp_path / "z").write_text(HEAD + body)
        with pytest.raises(ZoneError) as refused:
            load_image(str(tmp_path / "z"), ORIGIN, str(tmp_path))
        assert str(refused.value).startswith(
            f"{tmp_path / 'z'}:5: cannot read the $INCLUDE file {why}"), refused.value
    # a file included again keeps its number (files are not counted once per $INCLUDE)
    (tmp_path / "z").write_text(HEAD + "$INCLUDE inc\n" * 3)
    assert load_image(str(tmp_path / "z"), ORIGIN, str(tmp_path)).files == [
        str(tmp_path / "z"), str(tmp_path / "inc")]


def test_warnings_are_listed_up_to_a_hundred():
    """A file of broken lines gives the first hundred warnings and a count of the rest."""
    loaded = load_image_text(HEAD + "bad A 1.2.3\n" * 150, ORIGIN, "f.zone",
                             ZoneOptions(ignore_broken=True))
    assert loaded.skipped == 150 and len(loaded.warnings) == 101
    assert loaded.warnings[0].startswith("f.zone:5: bad A data '1.2.3'")
    assert loaded.warnings[-1] == "f.zone: 50 more warnings like these, not listed"


# -- the zone rules ----------------------------------------------------------------------------

def test_a_zone_without_soa_is_absent():
    for text in ("$TTL 300\nwww A 192.0.2.1\n", "", "sub SOA a b 1 2 3 4 5\n"):
        with pytest.raises(NoSOAError, match="no SOA record at its apex"):
            rrsets(text)


def test_rules_powerdns_serves_through_are_warnings():
    loaded = load_image_text(HEAD + "@ SOA ns2 hm 2 2 3 4 5\nsub SOA a b 1 2 3 4 5\n"
                             "alias CNAME ns1\nalias TXT \"x\"\n"
                             "two CNAME ns1\ntwo CNAME ns2.example.net.\n"
                             "d DNAME b.\nd DNAME a.\n", ORIGIN, "f.zone")
    got = image_rrsets(loaded.image)
    assert len(at(got, ORIGIN, SOA)[1]) == 1 and at(got, ORIGIN, SOA)[1][0].startswith(
        name("ns2.example.com."))                      # the last SOA read, as PowerDNS
    assert (name("sub.example.com."), SOA) not in got
    assert at(got, "two.example.com.", dns.rdatatype.CNAME)[1] == [name("ns1.example.com.")]
    assert at(got, "d.example.com.", dns.rdatatype.DNAME)[1] == [name("b.")]
    assert (name("alias.example.com."), TXT) in got
    text = "\n".join(loaded.warnings)
    for expect in ("f.zone:2: zone 'example.com.' has 2 SOA records",
                   "f.zone:6: an SOA record below the zone apex is left out",
                   "f.zone:8: 'alias.example.com.' has a CNAME and other data",
                   "f.zone:9: 'two.example.com.' has 2 CNAME records; the first one read",
                   "f.zone:11: 'd.example.com.' has 2 DNAME records"):
        assert expect in text, text


def test_lua_records_are_read_and_not_served():
    loaded = load_image_text(HEAD + "l LUA A \"'192.0.2.1'\"\n  TXT \"t\"\n", ORIGIN, "f.zone")
    got = image_rrsets(loaded.image)
    assert (name("l.example.com."), 65402) not in got and (name("l.example.com."), TXT) in got
    assert any("1 LUA records not served" in w for w in loaded.warnings)


def test_svcb_autohints():
    text = HEAD + ("h A 192.0.2.11\nh A 192.0.2.12\nh AAAA 2001:db8::11\n"
                   "s SVCB 1 h.example.com. ipv4hint=auto ipv6hint=auto alpn=h2\n"
                   "n SVCB 1 nowhere.example.com. ipv4hint=auto\n")
    off = rrsets(text)
    on = rrsets(text, autohints=True)
    h = name("h.example.com.")
    assert at(off, "s.example.com.", 64)[1] == [b"\x00\x01" + h + b"\x00\x01\x00\x03\x02h2"]
    assert at(on, "s.example.com.", 64)[1] == [
        b"\x00\x01" + h + b"\x00\x01\x00\x03\x02h2\x00\x04\x00\x08" + bytes([192, 0, 2, 11, 192, 0,
                                                                              2, 12])
        + b"\x00\x06\x00\x10" + bytes.fromhex("20010db8000000000000000000000011")]
    assert at(on, "n.example.com.", 64)[1] == [b"\x00\x01" + name("nowhere.example.com.")]


# -- files and the bind backend ----------------------------------------------------------------

def test_bind_backend_and_zonedb(tmp_path):
    (tmp_path / "inc.records").write_text("inc A 192.0.2.7\n")
    (tmp_path / "a.zone").write_text(HEAD + "$INCLUDE inc.records\n")
    (tmp_path / "b.zone").write_text(HEAD + "broken A 1.2.3\n")
    (tmp_path / "c.zone").write_text("$TTL 60\nwww A 192.0.2.1\n")
    (tmp_path / "named.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "a.test" { type master; file "a.zone"; };\n'
        'zone "b.test" { type master; file "b.zone"; };\n'
        'zone "c.test" { type master; file "c.zone"; };\n')
    backend = BindBackend(str(tmp_path / "named.conf"))
    backend.list_zones()
    assert [path for path, *_ in backend.change_token("a.test.")[1]] == [
        str(tmp_path / "a.zone")]
    backend.load_image("a.test.")
    assert [path for path, *_ in backend.change_token("a.test.")[1]] == [
        str(tmp_path / "a.zone"), str(tmp_path / "inc.records")]
    zonedb = ZoneDB([backend])
    result = zonedb.refresh()
    assert result.loaded == ["a.test."] and result.failed == ["b.test."]
    assert result.absent == ["c.test."]
    assert zonedb.broken_names() == ["b.test."]     # SERVFAIL; c.test (no SOA) is absent
    lenient = ZoneDB([BindBackend(str(tmp_path / "named.conf"),
                                  options=ZoneOptions(ignore_broken=True))])
    result = lenient.refresh()
    assert result.loaded == ["a.test.", "b.test."] and result.skipped == 1


class _Defective(BindBackend):
    """A backend whose loader has a defect (an exception that is not a ZoneError)."""

    def load_image(self, zone, *args, **kwargs):
        raise RuntimeError("a defect")


def test_a_defect_in_one_zone_s_load_leaves_the_others_loading(tmp_path, caplog):
    (tmp_path / "a.zone").write_text(HEAD)
    (tmp_path / "named.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "a.test" { type master; file "a.zone"; };\n')
    (tmp_path / "other.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "b.test" { type master; file "a.zone"; };\n')
    zonedb = ZoneDB([_Defective(str(tmp_path / "named.conf")),
                     BindBackend(str(tmp_path / "other.conf"))])
    with caplog.at_level("ERROR"):
        result = zonedb.refresh()
    assert result.loaded == ["b.test."] and result.failed == ["a.test."]
    assert zonedb.broken_names() == ["a.test."]
    assert "zone 'a.test': internal error loading the zone from backend 'bind': " \
        "RuntimeError: a defect; not served" in caplog.text


def test_text_records_for_the_tools(tmp_path):
    (tmp_path / "z").write_text(HEAD + "mx MX 10 mail ; the mail\nt TXT plain words\n"
                                "aaaa AAAA 2001:DB8:0::1\n")
    got = list(ZoneReader(str(tmp_path / "z"), "example.com", comments=True))
    assert got[3] == ("mx.example.com", "MX", 300, "10 mail.example.com", "; the mail")
    assert got[4][3] == "plain words" and got[5][3] == "2001:DB8:0::1"


# -- nothing read from a file brings the reader down -------------------------------------------

_ATOMS = st.sampled_from([
    "a", "@", "*", "x.y", "x.example.com.", "IN", "CH", "A", "MX", "TXT", "SOA", "NS", "TYPE99",
    "1.2.3.4", "300", "1h", "10", "\"q s\"", "\"", "(", ")", ";c", "\\", "\\065", "$TTL",
    "$ORIGIN", "$GENERATE", "$INCLUDE", "1-3", "${0,3,x}", "$", "..", "\t", " ", "\n", "é",
    "\\# 2 abcd", "HTTPS", "1 . alpn=h2", "ipv4hint=auto", "\x00", "\r",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_ATOMS, max_size=8).map(" ".join), max_size=12))
def test_no_text_crashes_the_reader(lines):
    text = HEAD + "\n".join(lines) + "\n"
    for ignore in (False, True):
        try:
            loaded = load_image_text(text, ORIGIN, "f.zone", ZoneOptions(ignore_broken=ignore))
        except ZoneError:
            continue
        image_rrsets(loaded.image)       # a valid image: the Snapshot validates it


def test_a_zone_asked_for_before_the_listing_loads_on_demand(tmp_path):
    """A query can ask for a zone before the first listing ends: the manager loads it on
    its demand thread, with backends of its own that have listed nothing yet. A BIND zone
    loads there (named.conf is read then), and a zone that failed on demand is taken from
    the main load after all (found by the bench: a zone asked for at once was never
    served)."""
    (tmp_path / "a.zone").write_text("$ORIGIN a.test.\n@ 3600 SOA ns1 host 1 2 3 4 300\n"
                                     "@ 3600 NS ns1\nns1 3600 A 192.0.2.1\n")
    (tmp_path / "named.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "a.test" { type master; file "a.zone"; };\n')
    fresh = BindBackend(str(tmp_path / "named.conf"))
    assert fresh.load_image("a.test.").image          # no list_zones() first
    zonedb = ZoneDB([BindBackend(str(tmp_path / "named.conf"))])
    zonedb._demanded.add("a.test.")                     # as a failed demand leaves it
    zonedb._failed["a.test."] = None
    result = zonedb.refresh()
    assert result.loaded == ["a.test."] and "a.test." in zonedb.zones

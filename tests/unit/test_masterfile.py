"""The fast master-file path (fastdns.zone.loader) against the reference, dnspython's reader
+ check_zone + compile_zone: the same image, byte for byte, or the same error, line and all.
"""

import ast
import textwrap
from pathlib import Path

import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdns.backends.base import ImageSource
from fastdns.backends.bind import BindBackend
from fastdns.backends.namedconf import parse_named_conf
from fastdns.zone._imagebuild import RecordStore
from fastdns.zone.check import ZoneError, check_zone
from fastdns.zone.compile import compile_zone
from fastdns.zone.loader import load_image, load_image_text
from fastdns.zone.zonedb import ZoneDB
from fastdns.zone.zonefile import read_zone_file, read_zone_text

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "example.com."


def reference_text(text: str, origin: str = ORIGIN, source: str = "f.zone"):
    try:
        zone = read_zone_text(text, origin, source)
        check_zone(zone)
        return compile_zone(zone), zone.warnings
    except ZoneError as exc:
        return str(exc)


def fast_text(text: str, origin: str = ORIGIN, source: str = "f.zone"):
    try:
        loaded = load_image_text(text, origin, source)
        return loaded.image, loaded.warnings
    except ZoneError as exc:
        return str(exc)


def same_text(text: str, origin: str = ORIGIN) -> object:
    """Both paths agree on ``text``; what they gave."""
    expect = reference_text(text, origin)
    got = fast_text(text, origin)
    assert got == expect, (text, expect if isinstance(expect, str) else "image",
                           got if isinstance(got, str) else "image")
    return got


def reference_file(path: str, origin: str, directory: str | None):
    try:
        zone = read_zone_file(path, origin, directory)
        check_zone(zone)
        return compile_zone(zone), zone.warnings
    except ZoneError as exc:
        return str(exc)


def fast_file(path: str, origin: str, directory: str | None):
    try:
        loaded = load_image(path, origin, directory)
        return loaded.image, loaded.warnings
    except ZoneError as exc:
        return str(exc)


def same_file(path: Path, origin: str, directory: Path | None = None) -> object:
    directory_text = str(directory) if directory is not None else None
    expect = reference_file(str(path), origin, directory_text)
    got = fast_file(str(path), origin, directory_text)
    assert got == expect, (path, expect if isinstance(expect, str) else "image",
                           got if isinstance(got, str) else "image")
    return got


# -- the zones the project uses ----------------------------------------------------------

def named_zones():
    conf = parse_named_conf(str(ROOT / "conf" / "named.conf"))
    return [(zone.name, zone.file, conf.directory) for zone in conf.zones]


@pytest.mark.parametrize(("origin", "path", "directory"), named_zones())
def test_conf_zones_give_the_same_image(origin, path, directory):
    got = same_file(Path(path), origin, Path(directory))
    assert not isinstance(got, str), got


def test_conf_zones_are_mostly_read_in_c():
    for origin, path, directory in named_zones():
        loaded = load_image(path, origin, directory)
        # $GENERATE, generic rdata and the types without a C reader (SSHFP, NAPTR, HINFO,
        # DS, ...) only
        assert loaded.fallbacks is not None and loaded.fallbacks <= 12, (origin, loaded)


def test_bind_backend_serves_through_the_fast_path(tmp_path):
    (tmp_path / "inc.records").write_text("inc A 192.0.2.7\n")
    (tmp_path / "a.zone").write_text(HEAD + "$INCLUDE inc.records\n")
    (tmp_path / "b.zone").write_text(HEAD + "broken A 1.2.3\n")
    (tmp_path / "named.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "a.test" { type master; file "a.zone"; };\n'
        'zone "b.test" { type master; file "b.zone"; };\n')
    backend = BindBackend(str(tmp_path / "named.conf"))
    assert isinstance(backend, ImageSource)
    backend.list_zones()
    image, warnings = backend.load_image("a.test.")
    data = backend.load_zone("a.test.")
    check_zone(data)
    assert image == compile_zone(data) and warnings == data.warnings == []
    assert [path for path, *_ in backend.change_token("a.test.")[1]] == [
        str(tmp_path / "a.zone"), str(tmp_path / "inc.records")]
    zonedb = ZoneDB([backend])
    result = zonedb.refresh()
    assert result.loaded == ["a.test."] and result.failed == ["b.test."]
    assert [loaded.image for loaded in result.images] == [image]


def _test_zone_texts():
    """Every master-file text in the test suite: string constants that hold an SOA record
    and the ``zone_text(...)`` calls of the integration tests whose arguments are
    literals."""
    from tests.integration.helpers import zone_text

    texts = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
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
    return sorted(texts)


@pytest.mark.parametrize("text", _test_zone_texts())
@pytest.mark.parametrize("origin", ["example.com.", "example.org.", "serve.test."])
def test_zones_of_the_test_suite_give_the_same_image_or_error(text, origin):
    same_text(text, origin)


# -- errors --------------------------------------------------------------------------------

HEAD = "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n"

BROKEN = [
    "bad IN A not-an-address\n",
    "bad IN A 1.2.3\n",
    "bad IN A 01.2.3.4\n",
    "bad IN A 256.1.1.1\n",
    "bad IN MX 10\n",
    "bad IN MX\n",
    "bad IN MX 70000 mail\n",
    "bad IN FOO 1\n",
    "bad 99999999999 IN A 1.2.3.4\n",
    "bad 1h30 IN A 1.2.3.4\n",
    "bad 1x IN A 1.2.3.4\n",
    'bad IN TXT "unterminated\n',
    'bad IN TXT "unterminated',
    "bad IN TXT \"a\\1b\"\n",
    "bad IN TXT \"\\256\"\n",
    "bad IN TXT " + '"' + "x" * 256 + '"\n',
    "bad IN A 1.2.3.4 extra\n",
    "bad IN A (1.2.3.4\n",
    "bad IN A 1.2.3.4)\n",
    "bad IN A 1.2.3.4 \\\n",
    "$FOO bar\n",
    "$INCLUDE other.zone\n",
    "bad CH A 1.2.3.4\n",
    "bad CLASS3 A 1.2.3.4\n",
    "a..b IN A 1.2.3.4\n",
    ".a IN A 1.2.3.4\n",
    "a\\1b IN A 1.2.3.4\n",
    "a\\300 IN A 1.2.3.4\n",
    "x" * 64 + " IN A 1.2.3.4\n",
    ".".join(["abcdefghij"] * 25) + " IN A 1.2.3.4\n",
    "bad IN AAAA 1::2::3\n",
    "bad IN AAAA 1:2:3:4:5:6:7:8:9\n",
    "bad IN AAAA :1::\n",
    "bad IN AAAA 12345::\n",
    "bad IN AAAA 1::g\n",
    "x.other. IN A 1.2.3.4\n",
    "x.example.com.other. IN A 1.2.3.4\n",
    "$TTL\n",
    "$TTL abc\n",
    "$TTL 300 extra\n",
    "$ORIGIN\n",
    "$ORIGIN a..b.\n",
    "bad IN SOA a b 1 2 3 4\n",
    "bad IN SOA a b 1 2 3 4 1x\n",
    "bad IN CAA 0 issue\n",
    "bad IN CAA 256 issue \"ca\"\n",
    "bad IN CAA 0 is-sue \"ca\"\n",
    "bad IN SRV 1 2 3\n",
    "bad IN SRV 1 2 65536 x\n",
    "bad IN A 1.2.3.4 ; ok\n  IN A\n",
    "bad IN TXT\n",
    "bad IN TYPE65280 \\# 3 abcd\n",
    "bad IN A \\# 3 010203\n",
    "alias CNAME ns1\nalias TXT \"x\"\n",
    "alias CNAME ns1\nalias CNAME ns2\n",
    "@ CNAME ns1\n",
    "sub SOA a b 1 2 3 4 5\n",
    "d DNAME a.\nd DNAME b.\n",
    "x TYPE41 \\# 0\n",
    "@ SOA ns2 hostmaster 2 2 3 4 5\n",
    ")\n",
    "( x A 1.2.3.4 )\n",
    "x A 1.2.3.4 ) \n",
    "x ( A\n 1.2.3.4\n",
    "\"quoted\" A 1.2.3.4\n",
    "x \"IN\" A 1.2.3.4\n",
    "x IN \"A\" 1.2.3.4\n",
    "x IN A \"1.2.3.4\"\n",
    "x IN NS \"ns1\"\n",
    "$GENERATE 1-3 h$ A 10.0.0.$ junk\n",
    "$GENERATE 3-1 h$ A 10.0.0.$\n",
    "x IN HINFO \"a\"\n",
]


@pytest.mark.parametrize("body", BROKEN)
def test_broken_files_give_the_same_error(body):
    same_text(HEAD + body)


def test_no_soa_and_no_ns():
    assert "no SOA" in same_text("$TTL 300\nwww A 192.0.2.1\n")
    assert "no SOA" in same_text("")
    _, warnings = same_text("@ 300 SOA a b 1 2 3 4 5\n")
    assert warnings == ["f.zone: zone 'example.com.' has no NS records at its apex"]


def test_missing_ttl():
    assert "Missing default TTL" in same_text("www A 192.0.2.1\n@ 300 SOA a b 1 2 3 4 5\n")


# -- syntax that the C reader handles, and the fallback ------------------------------------

ACCEPTED = [
    # TTLs from $TTL, the SOA minimum, the last stated TTL (RFC 2308 rules of dnspython)
    "@ SOA ns1 hostmaster 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\nb 70 A 1.1.1.1\nc A 1.1.1.2\n",
    "@ 30 SOA ns1 hostmaster 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n$TTL 5\nc A 1.1.1.2\n",
    "$TTL 1h2m3s\n@ SOA ns1 hostmaster 1 1W 2d 3H 4m\n@ NS ns1\nns1 IN 5 A 192.0.2.1\n"
    "ns1 5 in A 192.0.2.2\nns1 in 1 AAAA ::1\nns1 aaaa 1:2::\n",
    # owners: @, blank, relative, absolute, case, escapes, $ORIGIN
    HEAD + "  IN A 192.0.2.9\nWWW A 192.0.2.1\nwww A 192.0.2.2\n\tA 192.0.2.3\n"
    "w\\.x A 1.2.3.4\nw\\065x A 1.2.3.5\n*.w A 1.2.3.6\nX.Y.example.COM. A 1.2.3.7\n"
    "$ORIGIN sub.example.com.\na A 1.2.3.8\n$ORIGIN deeper\nb A 1.2.3.9\n@ A 1.2.3.10\n",
    # parentheses, comments, quoted strings and escapes
    HEAD + "t TXT ( \"a b\" ; one\n  c \"d\\\"e\" \"\\\\\" \"\\065\\066\" )\nt TXT \"\"\n"
    "t TXT a\\ b\nt SPF \"v=spf1 -all\"\nu ( A\n 192.0.2.7 ) ; end\n\n; comment\n   \n  ; c\n",
    # every C type
    HEAD + "a NS ns1\nb CNAME a.example.net.\nc DNAME example.net.\n4 PTR x\nm MX 0 @\n"
    "s SRV 0 1 65535 s\nc2 CAA 128 issue \"ca.example.net; x\"\nc3 CAA 0 iodef mailto:x@y\n"
    "v6 AAAA 2001:DB8::1\nv6 AAAA ::\nv6 AAAA 1:2:3:4:5:6:7:8\nv6 AAAA 1:2:3:4:5:6:7::\n"
    "v6 AAAA ::2:3:4:5:6:7:8\nv6 AAAA 0000:0:0::1\n",
    # duplicates, TTL of an RRset = the lowest, rdata order
    HEAD + "d 10 A 1.1.1.1\nd 5 A 1.1.1.1\nD 7 A 1.1.1.0\nd TXT b\nd TXT a\nd TXT a\n",
    # additional targets, glue, cuts, wildcards, DNAME links
    HEAD + "@ MX 1 mail\nmail A 1.1.1.1\nmail AAAA ::1\ncut NS ns.cut\nns.cut A 1.1.1.2\n"
    "x.y.cut A 1.1.1.3\n*.w TXT w\nd DNAME x.\nunder.d A 1.1.1.4\ns SRV 1 1 1 mail\n",
    # fallback: other types, generic rdata, $GENERATE, dotted quad AAAA, other classes' words
    HEAD + "h HINFO \"cpu\" \"os\"\nds DS 1 8 2 " + "ABCDEF0123456789" * 4
    + "\ng TYPE65280 \\# 2 abcd\n"
    "ga A \\# 4 01020304\n$GENERATE 1-3 host$ A 10.0.0.$\nm AAAA ::ffff:1.2.3.4\n"
    "n NAPTR 1 1 \"s\" \"SIP+D2U\" \"\" _sip._udp\nt TXT caf\u00e9\n\u00e9t\u00e9 A 1.2.3.4\n"
    "after A 1.2.3.5\n  A 1.2.3.6\n",
    # the last line without a newline
    HEAD + "end A 1.2.3.4",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_accepted_syntax_gives_the_same_image(text):
    got = same_text(text)
    assert not isinstance(got, str), got


LONG_NAME = ".".join(["a" * 63] * 3)

TRICKY = [
    # owners that look like classes, types or TTLs
    "IN A 1.2.3.4\n", "A A 1.2.3.4\n", "300 A 1.1.1.1\n", "in IN 300 A 1.1.1.1\n",
    "x 300 IN 400 A 1.1.1.1\n",
    # quotes, parentheses and comments next to other tokens
    'x TXT "a""b"\n', 'x TXT a"b"\n', 'x TXT "a"b\n', "x A(1.2.3.4)\n", "x (A 1.2.3.4)\n",
    "x A 1.2.3.4;c\n", "x A 1.2.3.4 ( )\n", "x A ( ) 1.2.3.4\n", "( )\n", "  ( )\n",
    "  ( ; c\n )\n", "x\tA\t1.2.3.4\t\n", 'x TXT "tab\there"\n',
    "x IN TXT ( a\n b ; c\n c )\n y TXT z\n", "x IN TXT ( a\n b ; c\n c ) z\n",
    "x ( IN\n TXT\n a )\n", "x IN A ( 1.2.3.4 ; c", "x IN A 1.2.3.4 ; c",
    "x A 1.2.3.4 \\\n", "x A 1.2.3.4 \\", 'x A "1.2.3.4\n', 'x TXT "a\\\nb"\n',
    # sizes at their limits
    'x TXT "' + "y" * 255 + '"\n',
    "x TXT " + " ".join(['"' + "y" * 255 + '"'] * 255) + "\n",
    "x TXT " + " ".join(['"' + "y" * 255 + '"'] * 256) + "\n",       # rdata of 65536
    'x CAA 0 issue "' + "v" * 65000 + '"\n',
    LONG_NAME + "." + "b" * 50 + " A 1.2.3.4\n",     # 255 octets with the origin
    LONG_NAME + "." + "b" * 51 + " A 1.2.3.4\n",
    "x 4294967295 A 1.2.3.4\n", "x 4294967296 A 1.2.3.4\n", "x 7101W A 1.2.3.4\n",
    "x 7102W A 1.2.3.4\n", "x 000000000000000000000300 A 1.2.3.4\n",
    # directives in any case, relative $ORIGIN, no owner after $ORIGIN
    "$TTL 1W\nx A 1.1.1.1\n", "$ttl 5\n$origin Sub\nx A 1.1.1.1\n  A 1.1.1.2\n",
    "x A 1.2.3.4\n$ORIGIN sub\n\tA 5.5.5.5\n", "$INCLUDE\n", "$ORIGIN a.\n",
    "$ORIGIN example.net.\nx A 1.1.1.1\n", "$GENERATE 1-100 h${0,3,x} A 10.0.0.$\n",
    # node rules and links
    "x cname y\nx RRSIG A 8 2 300 20300101000000 20200101000000 1 . AAAA\n",
    "x CNAME y\nx NSEC y A\n", "x CNAME y\nx KEY 0 3 8 AAAA\n",
    "@ DNAME x.\nsub A 1.1.1.1\n",
    "cut NS a\ncut DNAME b.\nx.cut A 1.1.1.1\n*.cut A 1.1.1.2\n*.x.cut A 1.1.1.1\n",
    "MAIL A 1.1.1.1\n@ MX 1 mail\n@ MX 2 Mail\n@ MX 1 MAIL\n",
    "@ NS ns2\nns2 AAAA ::2\n@ MX 2 ns2\n@ MX 1 ns1\nsrv SRV 1 1 1 ns2\nsrv SRV 1 1 2 ns1\n",
    "x A 1.1.1.1\nX A 1.1.1.2\nx.y A 1.1.1.3\nX.Y A 1.1.1.4\ny A 1.1.1.5\n",
    "\\000 A 1.1.1.1\n\\001 A 1.1.1.1\n\\002 A 1.1.1.1\na\\000 A 1.1.1.1\na A 1.1.1.1\n"
    "a\\001b A 1.1.1.1\n\\255 A 1.1.1.1\n",
]


@pytest.mark.parametrize("body", TRICKY)
def test_tricky_syntax_gives_the_same_image_or_error(body):
    same_text(HEAD + body)


@pytest.mark.parametrize("text", [
    # the TTL of a record without one: $TTL, else the SOA minimum, else the last TTL stated
    "@ SOA a b 1 2 3 4 9\n@ NS a\nb 70 A 1.1.1.1\nc A 1.1.1.2\n$TTL 3\nd A 1.1.1.3\n"
    "e 8 A 1.1.1.4\nf A 1.1.1.5\n",
    "@ 30 SOA a b 1 2 3 4 9\n$TTL 3\n@ SOA a b 1 2 3 4 7\n",
    "$TTL 3\n@ SOA a b 1 2 3 4 9\n$INCLUDE x\n",
])
def test_default_ttls(text):
    same_text(text)


def test_common_records_do_not_fall_back():
    loaded = load_image_text(ACCEPTED[5], ORIGIN)
    assert loaded.fallbacks == 0


def test_statements_for_dnspython_go_in_batches_that_keep_the_reader_state():
    text = HEAD + ("h 77 HINFO a b\n  A 1.1.1.1\nh2 HINFO c d\nh3 HINFO e f\n\n; c\n  TXT x\n"
                   "$GENERATE 1-2 g$ A 10.0.0.$\n  A 1.1.1.2\n$TTL 9\nh4 HINFO g h\n  A 1.1.1.3\n"
                   + "".join(f"n{i} HINFO \"{i}\" x\n" for i in range(2500)) + "  A 1.1.1.4\n")
    assert not isinstance(same_text(text), str)
    assert load_image_text(text, ORIGIN).fallbacks == 2500 + 5


def test_text_with_carriage_returns_is_read_by_the_reference():
    same_text(HEAD.replace("\n", "\r\n") + "a TXT \"x\ry\"\r\n")


# -- files: $INCLUDE, newlines, encodings ----------------------------------------------------

def test_include_relative_to_directory(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "inc" / "a.inc").write_text("a A 1.2.3.4\n$TTL 7\nb A 1.2.3.5\n"
                                            "$INCLUDE inc/b.inc deep\n  A 1.2.3.6\n")
    (tmp_path / "inc" / "b.inc").write_text("c TXT \"nested\"\n@ A 1.2.3.7\n")
    (tmp_path / "sub" / "z.zone").write_text(
        HEAD + "last A 192.0.2.8\n$INCLUDE inc/a.inc\n  A 192.0.2.9\n"
        "$INCLUDE inc/a.inc other ; comment\nafter A 192.0.2.10\n")
    same_file(tmp_path / "sub" / "z.zone", ORIGIN, tmp_path)
    loaded = load_image(str(tmp_path / "sub" / "z.zone"), ORIGIN, str(tmp_path))
    assert loaded.fallbacks == 0
    assert loaded.files == [str(tmp_path / "sub" / "z.zone"), str(tmp_path / "inc" / "a.inc"),
                            str(tmp_path / "inc" / "b.inc")]


@pytest.mark.parametrize("included", [
    None, "ok A 1.2.3.4\nbroken A 1.2.3.999\n", b"x TXT \"\xff\"\n", "x TXT \"caf\u00e9\"\n",
    "ok A 1.2.3.4\r\nalso A 1.2.3.5\r\n", "$INCLUDE b.inc\n",
])
def test_include_errors_and_oddities(tmp_path, included):
    if isinstance(included, bytes):
        (tmp_path / "b.inc").write_bytes(included)
    elif included is not None:
        (tmp_path / "b.inc").write_text(included)
    (tmp_path / "z.zone").write_text(HEAD + "www A 192.0.2.1\n$INCLUDE b.inc\nend A 1.1.1.1\n")
    same_file(tmp_path / "z.zone", ORIGIN, tmp_path)


@pytest.mark.parametrize("content", [
    HEAD.encode().replace(b"\n", b"\r\n") + b"a TXT \"x\ry\"\r\nb A 1.2.3.4\rc A 1.2.3.5\r",
    b"\xef\xbb\xbf" + HEAD.encode(),
    HEAD.encode() + b"x TXT \"\xff\"\n",
    HEAD.encode() + b"x TXT \"caf\xc3\xa9\"\n",
    HEAD.encode() + b"x\x00y A 1.2.3.4\n",
    HEAD.encode() + b"x A 1.2.3.4\x0b\n",
])
def test_files_with_odd_octets(tmp_path, content):
    (tmp_path / "z.zone").write_bytes(content)
    same_file(tmp_path / "z.zone", ORIGIN)


def test_missing_file(tmp_path):
    assert "cannot read the zone file" in same_file(tmp_path / "nope.zone", ORIGIN)


# -- generated zones -------------------------------------------------------------------------

LABEL = st.text(alphabet="abcxyzABC019-_", min_size=1, max_size=6) | st.sampled_from(
    ["*", "\\.", "a\\065", "\\\\", "\\032x", "xn--bcher-kva", "A\\b"])


@st.composite
def name_text(draw, allow_outside=False):
    kind = draw(st.sampled_from(["rel", "rel", "abs", "at"] + (["out"] if allow_outside else [])))
    labels = draw(st.lists(LABEL, min_size=1, max_size=3))
    if kind == "at":
        return "@"
    if kind == "abs":
        suffix = draw(st.sampled_from(["example.com.", "EXAMPLE.com.", "Example.COM."]))
        return ".".join([*labels, suffix])
    if kind == "out":
        return ".".join([*labels, "example.net."])
    return ".".join(labels)


TTL = st.sampled_from(["", "", "0", "300", "86400", "1h", "1h2m", "2W", "3d4H", "7s",
                       "4294967295"])
CLASS = st.sampled_from(["", "", "IN", "in"])
TXT_STRING = st.text(alphabet="abc \\\"019;()", max_size=8).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"') | st.sampled_from(
    ["plain", "\\065bc", '"\\255"', '""', "a\\;b"])


@st.composite
def rdata_text(draw):
    rdtype = draw(st.sampled_from(["A", "AAAA", "NS", "PTR", "MX", "SRV", "TXT", "SPF", "CAA",
                                   "HINFO", "aaaa", "Mx"] * 4 + ["CNAME", "DNAME", "SOA"]))
    upper = rdtype.upper()
    if upper == "A":
        text = ".".join(str(draw(st.integers(0, 255))) for _ in range(4))
    elif upper == "AAAA":
        text = draw(st.sampled_from(["::", "::1", "1::", "2001:db8::53", "fe80::1:2:3",
                                     "1:2:3:4:5:6:7:8", "ABCD:ef01::", "::ffff:1.2.3.4"]))
    elif upper in ("NS", "CNAME", "PTR", "DNAME"):
        text = draw(name_text(allow_outside=True))
    elif upper == "MX":
        text = f"{draw(st.integers(0, 65535))} {draw(name_text(allow_outside=True))}"
    elif upper == "SRV":
        ints = " ".join(str(draw(st.integers(0, 65535))) for _ in range(3))
        text = f"{ints} {draw(name_text(allow_outside=True))}"
    elif upper in ("TXT", "SPF"):
        text = " ".join(draw(st.lists(TXT_STRING, min_size=1, max_size=3)))
    elif upper == "CAA":
        text = f"{draw(st.integers(0, 255))} {draw(st.sampled_from(['issue', 'iodef', 'X1']))}"\
               f" {draw(TXT_STRING)}"
    elif upper == "SOA":
        text = f"{draw(name_text())} {draw(name_text())} {draw(st.integers(0, 2**32 - 1))} " \
               + " ".join(draw(TTL) or "1" for _ in range(4))
    else:
        text = f"{draw(TXT_STRING)} {draw(TXT_STRING)}"
    return rdtype, text


@st.composite
def record_line(draw):
    owner = draw(st.sampled_from(["", "", "blank"]))
    owner = "\t" if owner == "blank" else draw(name_text())
    rdtype, rdata = draw(rdata_text())
    ttl, cls = draw(TTL), draw(CLASS)
    fields = [ttl, cls] if draw(st.booleans()) else [cls, ttl]
    fields = [f for f in fields if f] + [rdtype]
    if draw(st.integers(0, 5)) == 0:
        spread = rdata.replace(" ", " ; c\n ", 1)
        return f"{owner} {' '.join(fields)} ( {spread}\n )\n"
    sep = draw(st.sampled_from([" ", "\t", "  "]))
    comment = draw(st.sampled_from(["", "", " ; note", ";x"]))
    return f"{owner}{sep}{sep.join(fields)}{sep}{rdata}{comment}\n"


@st.composite
def zones(draw):
    lines = []
    if draw(st.booleans()):
        lines.append(f"$TTL {draw(TTL) or '60'}\n")
    lines.append(f"@ {draw(TTL)} SOA ns1 hostmaster 1 2 3 4 {draw(st.integers(0, 999))}\n")
    lines.append("@ NS ns1\n")
    for _ in range(draw(st.integers(0, 14))):
        choice = draw(st.integers(0, 12))
        if choice == 0:
            lines.append(draw(st.sampled_from(["\n", "; comment\n", "   \n", "\t; c\n"])))
        elif choice == 1:
            origin = draw(st.sampled_from(["sub.example.com.", "x", "@", "EXAMPLE.com."]))
            lines.append(f"$ORIGIN {origin}\n")
        elif choice == 2:
            lines.append(f"$TTL {draw(TTL) or '5'}\n")
        else:
            lines.append(draw(record_line()))
    return "".join(lines)


@given(zones())
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_zones(text):
    same_text(text)


@given(zones(), st.integers(0, 400), st.sampled_from(
    ["\\", "(", ")", '"', "\n", ";", " x", "..", "\\1", "\u00e9"]))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_zones_with_damage(text, at, damage):
    at = min(at, len(text))
    same_text(text[:at] + damage + text[at:])


SOUP = ["a", "WWW", "@", ".", "x.example.com.", "IN", "in", "CH", "300", "1h", "0", "A",
        "AAAA", "MX", "TXT", "NS", "CNAME", "SOA", "SRV", "CAA", "SPF", "PTR", "DNAME", "HINFO",
        "TYPE1", "CLASS1", "1.2.3.4", "::1", "10", '"q s"', '""', '"a\\"b"', "(", ")", ";c",
        "\\#", "\\", "\\065", "\\.", "$TTL", "$ORIGIN", "$GENERATE", "$INCLUDE", "1-2", "$",
        "issue", '"ca"', "4294967296", "65536", "a..b", "*", "\u00e9", "\t", " ", "\n", "\n",
        "ns1"]


@given(st.lists(st.tuples(st.sampled_from(SOUP), st.booleans()), max_size=40))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_token_soup(tokens):
    """Tokens in any order: mostly errors, each with dnspython's message and line."""
    same_text(HEAD + "".join(token + (" " if space else "") for token, space in tokens))


# -- the record store ------------------------------------------------------------------------

def test_store_rejects_owners_outside_the_zone():
    store = RecordStore(dns.name.from_text(ORIGIN).to_wire())
    with pytest.raises(ValueError):
        store.add(dns.name.from_text("example.net.").to_wire(), 1, 1, b"\x01\x02\x03\x04", 0, 1)
    with pytest.raises(ValueError):
        store.add(b"\x03www", 1, 1, b"\x01\x02\x03\x04", 0, 1)


def test_store_without_records():
    store = RecordStore(dns.name.from_text(ORIGIN).to_wire())
    assert store.prepare({0}, {5}) == []
    with pytest.raises(ValueError):
        store.pack(b"FDNSZILE", 1)


def test_large_rrset_and_many_names():
    body = "".join(f"big TXT \"{i}\"\n" for i in range(300))
    body += "".join(f"n{i} A 10.0.{i >> 8}.{i & 255}\n" for i in range(3000))
    same_text(HEAD + body)

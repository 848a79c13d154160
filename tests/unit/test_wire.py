"""fastdns._wire against dnspython as the oracle (STYLE §3), plus a malformed corpus."""

import itertools
import struct

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fastdns import _wire

# -- strategies -------------------------------------------------------------------------

label_bytes = st.binary(min_size=1, max_size=63)
ascii_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
                      min_size=1, max_size=20)


@st.composite
def names(draw, labels=label_bytes, max_labels=8):
    parts = draw(st.lists(labels, max_size=max_labels))
    name = dns.name.Name([p if isinstance(p, bytes) else p.encode() for p in parts]
                         + [b""])
    assume(len(name.to_wire()) <= 255)
    return name


text_names = names(labels=ascii_label)
qtypes = st.sampled_from([1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 43, 48, 255, 65, 99, 65280])


def wire_of(name: dns.name.Name) -> bytes:
    return name.to_wire()


# -- names ------------------------------------------------------------------------------

@given(st.binary(max_size=80).flatmap(lambda d: st.tuples(st.just(d), st.integers(0, len(d)))))
@settings(max_examples=2000)
def test_read_name_agrees_with_dnspython_on_arbitrary_bytes(data_offset):
    data, offset = data_offset
    try:
        expect = dns.name.from_wire(data, offset)
    except (dns.exception.FormError, IndexError, dns.name.NameTooLong):
        expect = None
    except dns.exception.DNSException:
        expect = None
    try:
        got = _wire.read_name(data, offset)
    except _wire.WireError:
        got = None
    if expect is None:
        assert got is None
    else:
        assert got is not None
        name, used = expect
        assert got[0] == name.to_wire()
        assert got[1] == offset + used


@given(st.lists(text_names, min_size=1, max_size=6))
def test_read_name_follows_compression(name_list):
    # dnspython compresses the names of an rrset list; we must read back each owner
    msg = dns.message.Message(id=1)
    for name in name_list:
        msg.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", name_list[0].to_text()))
    wire = msg.to_wire()
    parsed = dns.message.from_wire(wire, one_rr_per_rrset=True)
    # walk the answer section by hand using our reader
    pos = 12
    for rrset in parsed.answer:
        for _ in rrset:
            owner, pos = _wire.read_name(wire, pos)
            assert owner == rrset.name.to_wire()
            (rdlen,) = struct.unpack_from("!H", wire, pos + 8)
            target, _ = _wire.read_name(wire, pos + 10)
            assert target == name_list[0].to_wire()
            pos += 10 + rdlen
    assert pos == len(wire)


def test_compression_pointer_rules():
    # pointer to itself, forward pointer, pointer loop, pointer into the header, out of range
    assert _wire.read_name(b"\x03abc\x00", 0) == (b"\x03abc\x00", 5)
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\xc0\x00", 0)                      # points at itself
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\xc0\x02\x00", 0)                  # forward
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\x01a\xc0\x04\x01b\xc0\x00", 4)     # b -> a -> b ...
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\x01a\x80", 0)                     # label type 0x80
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\x01a\x40", 0)                     # label type 0x40
    with pytest.raises(_wire.WireError):
        _wire.read_name(b"\x05ab", 0)                        # runs past the end
    long_name = (b"\x3f" + b"a" * 63) * 4 + b"\x00"          # 257 octets
    with pytest.raises(_wire.WireError):
        _wire.read_name(long_name, 0)
    ok_name = (b"\x3f" + b"a" * 63) * 3 + b"\x3d" + b"a" * 61 + b"\x00"   # exactly 255
    assert _wire.read_name(ok_name, 0)[1] == 255


@given(st.lists(names(max_labels=5), min_size=2, max_size=30))
def test_sort_key_is_canonical_order(name_list):
    expect = sorted(set(name_list))                 # dnspython orders names canonically
    keyed = sorted({_wire.to_lk(n.to_wire()): n for n in name_list}.items(),
                   key=lambda kv: _wire.sort_key(kv[0]))
    assert [n for _, n in keyed] == expect
    for a, b in itertools.pairwise(expect):
        assert _wire.lk_compare(_wire.to_lk(a.to_wire()), _wire.to_lk(b.to_wire())) == -1


#: labels that make keys agree over whole words and differ inside, between and at lengths
close_label = st.sampled_from([b"a", b"b", b"ab", b"abcdefg", b"abcdefgh", b"abcdefgi",
                               b"abcdefghijklmno", b"abcdefghijklmnp", b"\x00", b"\xff",
                               b"A", b"-", b"host1", b"host10", b"host2"])


@given(st.lists(st.lists(close_label, max_size=3), min_size=2, max_size=10),
       st.sampled_from(["", "example.", "bench.example.", "abcdefghijklmno.abcdefg.example."]))
def test_lk_compare_is_canonical_order_under_a_shared_apex(prefixes, apex):
    """Keys of one zone share their first labels, and differ after them in one octet or
    one length: every pair ordered as dnspython orders the names."""
    suffix = dns.name.from_text(apex) if apex else dns.name.root
    names_ = [dns.name.Name([*p, *suffix.labels]) for p in prefixes]
    for a, b in itertools.product(names_, repeat=2):
        expect = (a > b) - (a < b)
        assert _wire.lk_compare(_wire.to_lk(a.to_wire()), _wire.to_lk(b.to_wire())) == expect


@given(names())
def test_lookup_key_round_trip(name):
    lk = _wire.to_lk(name.to_wire())
    assert _wire.from_lk(lk) == name.canonicalize().to_wire()
    assert _wire.lk_compare(lk, lk) == 0


# -- queries ----------------------------------------------------------------------------

@st.composite
def queries(draw):
    name = draw(st.one_of(text_names, names()))
    qtype = draw(qtypes)
    rdclass = draw(st.sampled_from([1, 3, 255]))
    use_edns = draw(st.sampled_from([-1, 0]))
    options = []
    if use_edns == 0 and draw(st.booleans()):
        # experimental option codes: dnspython keeps them opaque (RFC 6891 §9)
        options = [dns.edns.GenericOption(draw(st.integers(65001, 65534)),
                                          draw(st.binary(max_size=20)))]
    msg = dns.message.make_query(name, qtype, rdclass=rdclass, use_edns=use_edns,
                                 want_dnssec=draw(st.booleans()) if use_edns == 0 else False,
                                 payload=draw(st.integers(0, 65535)), options=options)
    msg.id = draw(st.integers(0, 65535))
    msg.flags = draw(st.integers(0, 0x7FFF)) & ~0x7800   # QR clear, opcode QUERY
    return msg


@given(queries())
@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
def test_parse_query_equals_dnspython(msg):
    wire = msg.to_wire()
    status, f = _wire.parse(wire)
    oracle = dns.message.from_wire(wire)
    assert status == _wire.PARSE_OK
    assert f["id"] == oracle.id
    assert f["flags"] == struct.unpack_from("!H", wire, 2)[0]
    q = oracle.question[0]
    assert f["qname"] == q.name.to_wire()
    assert f["lk"] == _wire.to_lk(q.name.to_wire())
    assert (f["qtype"], f["qclass"]) == (q.rdtype, q.rdclass)
    if oracle.edns >= 0:
        assert f["udp_size"] == oracle.payload
        assert f["edns_version"] == oracle.edns
        assert f["edns_flags"] == oracle.ednsflags & 0xFFFF
        assert f["options"] == b"".join(
            struct.pack("!HH", o.otype, len(o.to_wire())) + o.to_wire() for o in oracle.options)
    else:
        assert "udp_size" not in f
    assert f["end"] == len(wire)


def _query(name=b"\x07example\x03com\x00", qtype=1, flags=0x0100, qd=1, an=0, ns=0, ar=0,
           tail=b""):
    return struct.pack("!HHHHHH", 0x1234, flags, qd, an, ns, ar) + name + \
        struct.pack("!HH", qtype, 1) + tail


OPT = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)


@pytest.mark.parametrize("packet, status", [
    (b"", _wire.PARSE_DROP),
    (b"\x12\x34\x01", _wire.PARSE_DROP),                           # shorter than a header
    (_query(flags=0x8100), _wire.PARSE_DROP),                       # QR=1: a response
    (_query(qd=0), _wire.PARSE_FORMERR),
    (_query(qd=2), _wire.PARSE_FORMERR),
    (_query()[:20], _wire.PARSE_FORMERR),                           # question cut short
    (_query(name=b"\xc0\x0c"), _wire.PARSE_FORMERR),               # points at itself
    (_query(name=b"\xc0\x02"), _wire.PARSE_FORMERR),               # into the header
    (_query(name=b"\x40abc\x00"), _wire.PARSE_FORMERR),            # label type 0x40
    (_query(ar=1), _wire.PARSE_FORMERR),                            # missing record
    (_query(ar=2, tail=OPT + OPT), _wire.PARSE_FORMERR),            # two OPT records
    (_query(ar=1, tail=b"\x01a\x00" + OPT[1:]), _wire.PARSE_FORMERR),   # OPT not at root
    (_query(an=1, tail=OPT), _wire.PARSE_OK),                       # OPT in the answer: ignored
    (_query(ar=1, tail=b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 3) + b"\x00\x01\x00"),
     _wire.PARSE_FORMERR),                                          # option cut short
    (_query(flags=0x2900), _wire.PARSE_NOTIMP),                     # opcode 5 (UPDATE)
    (_query(flags=0x0900), _wire.PARSE_NOTIMP),                     # opcode 1 (IQUERY)
    (_query(flags=0x2100), _wire.PARSE_OK),                         # opcode 4 (NOTIFY)
    (_query(ar=1, tail=OPT), _wire.PARSE_OK),
    (_query(tail=b"garbage"), _wire.PARSE_OK),                      # trailing octets
])
def test_parse_malformed(packet, status):
    assert _wire.parse(packet)[0] == status


ALG = b"\x0bhmac-sha256\x00"
TSIG_RDATA = ALG + b"\x00\x00\x65\x53\xf1\x00" + struct.pack("!HH", 300, 4) + b"MAC!" + \
    struct.pack("!HHH", 0x1234, 0, 0)
TSIG = b"\x03key\x00" + struct.pack("!HHIH", 250, 255, 0, len(TSIG_RDATA)) + TSIG_RDATA


def test_tsig_must_be_last_in_the_additional_section():
    status, fields = _wire.parse(_query(ar=2, tail=OPT + TSIG))
    assert status == _wire.PARSE_OK and fields["tsig_off"] > 0
    assert _wire.parse(_query(ar=2, tail=TSIG + OPT))[0] == _wire.PARSE_FORMERR
    # RFC 8945 §5.1: a TSIG anywhere else is FORMERR
    assert _wire.parse(_query(an=1, tail=TSIG))[0] == _wire.PARSE_FORMERR
    assert _wire.parse(_query(ns=1, ar=1, tail=TSIG + OPT))[0] == _wire.PARSE_FORMERR


@pytest.mark.parametrize("rdata", [
    b"", ALG, ALG + b"\x00" * 9,                                 # cut short
    ALG + b"\x00" * 8 + struct.pack("!H", 40) + b"\x00" * 10,      # MAC overruns
    TSIG_RDATA + b"\x00",                                        # other data overruns
    b"\xc0\x00" + TSIG_RDATA[len(ALG):],                          # bad algorithm name
])
def test_malformed_tsig_is_formerr(rdata):
    tsig = b"\x03key\x00" + struct.pack("!HHIH", 250, 255, 0, len(rdata)) + rdata
    assert _wire.parse(_query(ar=1, tail=tsig))[0] == _wire.PARSE_FORMERR


def test_opt_owner_may_be_a_pointer_to_the_root():
    # the root written as a pointer to the question's final zero octet
    root_at = 12 + len(b"\x07example\x03com")
    opt = struct.pack("!H", 0xC000 | root_at) + OPT[1:]
    status, fields = _wire.parse(_query(ar=1, tail=opt))
    assert status == _wire.PARSE_OK and fields["udp_size"] == 1232
    # a pointer to a name that is not the root is still FORMERR
    opt = struct.pack("!H", 0xC000 | 12) + OPT[1:]
    assert _wire.parse(_query(ar=1, tail=opt))[0] == _wire.PARSE_FORMERR


@given(st.binary(min_size=12, max_size=200))
@settings(max_examples=3000)
def test_parse_never_fails_on_garbage(data):
    status, fields = _wire.parse(data)
    assert status in (_wire.PARSE_OK, _wire.PARSE_DROP, _wire.PARSE_FORMERR, _wire.PARSE_NOTIMP)
    if status == _wire.PARSE_OK:
        oracle = dns.message.from_wire(data, ignore_trailing=True, one_rr_per_rrset=True)
        assert fields["qname"] == oracle.question[0].name.to_wire()


# -- encoding ---------------------------------------------------------------------------

@st.composite
def records(draw):
    owners = draw(st.lists(text_names, min_size=1, max_size=5))
    out = []
    for section in (1, 2, 3):
        for _ in range(draw(st.integers(0, 4))):
            owner = draw(st.sampled_from(owners))
            kind = draw(st.sampled_from(["A", "NS", "CNAME", "MX", "SOA", "TXT", "SRV"]))
            target = draw(st.sampled_from(owners)).to_text()
            text = {"A": "192.0.2.1", "NS": target, "CNAME": target, "MX": f"10 {target}",
                    "SOA": f"{target} {target} 1 2 3 4 5", "TXT": '"hello world"',
                    "SRV": f"0 1 53 {target}"}[kind]
            rd = dns.rdata.from_text("IN", kind, text)
            out.append((section, owner, rd, draw(st.integers(0, 2**31 - 1))))
    return out


@given(text_names, records(), st.integers(0, 65535), st.booleans())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_encode_parses_back_equal(qname, recs, ident, with_opt):
    question = (qname.to_wire(), 1, 1)
    records = [(s, o.to_wire(), rd.rdtype, 1, ttl, rd.to_wire()) for s, o, rd, ttl in recs]
    wire = _wire.encode(ident, 0x8400, question, records,
                        opt=(1232, 0, 0x8000) if with_opt else None)
    msg = dns.message.from_wire(wire, one_rr_per_rrset=True)
    assert msg.id == ident
    assert msg.question[0].name == qname
    assert str(msg.question[0].name) == str(qname)        # case kept
    got = [(s, rrset.name, rrset[0], rrset.ttl)
           for s, section in ((1, msg.answer), (2, msg.authority), (3, msg.additional))
           for rrset in section]
    assert got == [(s, o, rd, ttl) for s, o, rd, ttl in recs]
    assert (msg.edns == 0) == with_opt
    if with_opt:
        assert msg.ednsflags & dns.flags.DO
    # compression: never larger than dnspython's own compressed rendering
    assert len(wire) <= len(msg.to_wire()) + 0


def test_encode_compresses_against_the_question():
    q = dns.name.from_text("WwW.Example.COM")
    wire = _wire.encode(1, 0x8400, (q.to_wire(), 1, 1),
                        [(1, dns.name.from_text("www.example.com").to_wire(), 1, 1, 60,
                          b"\xc0\x00\x02\x01")])
    # question 17+4 octets, answer owner is a 2-octet pointer to offset 12
    assert len(wire) == 12 + 21 + 2 + 10 + 4
    msg = dns.message.from_wire(wire)
    assert msg.answer[0].name.to_text() == "WwW.Example.COM."


def test_encode_truncation_sets_tc_only_for_answer_and_authority():
    owner = dns.name.from_text("big.example").to_wire()
    txt = b"\x96" + b"x" * 150       # 163 octets per record with its compressed owner
    recs = [(1, owner, 16, 1, 60, txt)] * 3
    wire = _wire.encode(1, 0x8400, (owner, 16, 1), recs, limit=512)
    msg = dns.message.from_wire(wire)
    assert msg.flags & dns.flags.TC
    assert len(wire) <= 512
    recs = [(1, owner, 16, 1, 60, txt), (3, owner, 16, 1, 60, txt), (3, owner, 16, 1, 60, txt)]
    wire = _wire.encode(1, 0x8400, (owner, 16, 1), recs, limit=512)
    msg = dns.message.from_wire(wire)
    assert not msg.flags & dns.flags.TC
    assert len(msg.answer[0]) == 1 and len(msg.additional[0]) == 1


def test_encode_rejects_malformed_rdata():
    with pytest.raises(ValueError):
        _wire.encode(1, 0, None, [(1, b"\x00", 2, 1, 0, b"\x05abc")])    # NS: bad name
    with pytest.raises(ValueError):
        _wire.encode(1, 0, None, [(1, b"\x00", 6, 1, 0, b"\x00\x00" + b"\x00" * 19)])

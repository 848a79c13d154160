"""The zone compiler and the snapshot that reads its image."""

import mmap

import dns.message
import dns.name
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdns._engine import Engine
from fastdns._snapshot import NODE_FLAGS, ImageError, Snapshot
from fastdns.zone.loader import load_image_text

N_APEX, N_CUT, N_ENT, N_NONAUTH, N_DNAME, N_WILDCARD, N_CNAME = (
    NODE_FLAGS[k] for k in ("apex", "cut", "ent", "nonauth", "dname", "wildcard", "cname"))
#: the image header's size (fastdns/_snapshot.pxd: ImageHeader)
HEADER_SIZE = 88

ZONE = """
$TTL 300
@          SOA  ns hostmaster 42 1 2 3 60
@          NS   ns
ns         A    192.0.2.1
a.b.c      TXT  "deep"
*.w        A    192.0.2.2
cut        NS   ns.cut
ns.cut     A    192.0.2.3
x.y.cut    A    192.0.2.4
dn         DNAME example.net.
under.dn   A    192.0.2.5
alias      CNAME ns
"""


def compiled(text=ZONE, origin="example.com."):
    return load_image_text(text, origin).image


def name(text):
    return dns.name.from_text(text).to_wire()


@pytest.fixture(scope="module")
def snap():
    return Snapshot(compiled(), 7)


def node_of(snap, text):
    index, exact = snap.lookup(name(text))
    assert exact, text
    return snap.node(index)


def test_header_values(snap):
    assert snap.serial == 42 and snap.neg_ttl == 60 and snap.generation == 7
    assert snap.origin == name("example.com")


def test_canonical_order_and_empty_non_terminals(snap):
    names = [dns.name.from_wire(snap.node(i)[0], 0)[0] for i in range(len(snap))]
    assert names == sorted(names)
    assert names[0] == dns.name.from_text("example.com")
    for ent in ("c.example.com", "b.c.example.com", "w.example.com", "y.cut.example.com"):
        assert node_of(snap, ent)[1] & N_ENT


def test_flags_and_links(snap):
    apex = node_of(snap, "example.com")
    assert apex[1] & N_APEX and not apex[1] & N_CUT
    cut_index = snap.lookup(name("cut.example.com"))[0]
    assert node_of(snap, "cut.example.com")[1] & N_CUT
    for below in ("ns.cut.example.com", "x.y.cut.example.com", "y.cut.example.com"):
        flags, above = node_of(snap, below)[1:3]
        assert flags & N_NONAUTH and above == cut_index + 1
    dname_index = snap.lookup(name("dn.example.com"))[0]
    assert node_of(snap, "dn.example.com")[1] & N_DNAME
    assert node_of(snap, "under.dn.example.com")[2] == dname_index + 1
    wild_index = snap.lookup(name("*.w.example.com"))[0]
    assert node_of(snap, "w.example.com")[3] == wild_index + 1
    assert node_of(snap, "*.w.example.com")[1] & N_WILDCARD
    assert node_of(snap, "alias.example.com")[1] & N_CNAME


def test_additional_targets(snap):
    apex_rrsets = snap.node_rrsets(0)
    ns_rrset = next(r for r in apex_rrsets if r[0] == 2)
    assert ns_rrset[3] == [snap.lookup(name("ns.example.com"))[0]]
    cut_rrsets = snap.node_rrsets(snap.lookup(name("cut.example.com"))[0])
    assert cut_rrsets[0][3] == [snap.lookup(name("ns.cut.example.com"))[0]]


def test_lookup_of_a_missing_name_gives_its_predecessor(snap):
    # canonical order: ... c, b.c, a.b.c, cut, ns.cut, y.cut, x.y.cut, dn, ...
    index, exact = snap.lookup(name("d.example.com"))
    assert not exact
    assert snap.node(index)[0] == name("x.y.cut.example.com")
    index, exact = snap.lookup(name("b.example.com"))
    assert not exact and snap.node(index)[0] == name("alias.example.com")


def test_snapshot_over_mmap_holds_the_mapping(tmp_path):
    path = tmp_path / "zone.img"
    path.write_bytes(compiled())
    with open(path, "rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    snap = Snapshot(mapped)
    with pytest.raises(BufferError):
        mapped.close()            # the snapshot still reads it
    engine = Engine([snap])
    response = dns.message.from_wire(
        engine.answer(dns.message.make_query("ns.example.com", "A").to_wire()))
    assert response.answer[0][0].address == "192.0.2.1"
    del engine, snap
    mapped.close()


@pytest.mark.parametrize("cut", [0, 10, HEADER_SIZE, HEADER_SIZE + 5])
def test_truncated_image_is_rejected(cut):
    with pytest.raises(ImageError):
        Snapshot(compiled()[:cut])


def test_wrong_magic_and_version_are_rejected():
    good = compiled()
    with pytest.raises(ImageError):
        Snapshot(b"XXXXXXXX" + good[8:])
    with pytest.raises(ImageError):
        Snapshot(good[:8] + (99).to_bytes(4, "little") + good[12:])


GOOD = compiled()
QUERIES = [dns.message.make_query(q, t).to_wire() for q, t in [
    ("ns.example.com", "A"), ("x.w.example.com", "A"), ("q.x.y.cut.example.com", "A"),
    ("r.under.dn.example.com", "A"), ("alias.example.com", "A"), ("nope.example.com", "TXT"),
    ("example.com", "NS"), ("c.example.com", "TXT")]]


@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)),
                min_size=1, max_size=8))
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_images_are_rejected_or_served_safely(flips):
    data = bytearray(GOOD)
    for offset, value in flips:
        data[offset] = value
    try:
        snap = Snapshot(bytes(data))
    except ImageError:
        return
    # accepted: every offset in it was checked, so answering must not crash
    engine = Engine([snap])
    for query in QUERIES:
        engine.answer(query)
        engine.answer(query, True)


@pytest.mark.parametrize("high", [0x80000000, 0xC0000000, 0x20000000])
def test_extra_entries_with_stray_high_bits_are_rejected(high):
    """An additional-section entry is a node number, with EXTRA_RRSET (bit 30) as its only
    flag: any other high bit is a corrupt image (random flips seldom set one)."""
    extra_off = int.from_bytes(GOOD[72:80], "little")      # ImageHeader.extra_off
    assert extra_off < len(GOOD)
    for at in range(extra_off, len(GOOD), 4):
        data = bytearray(GOOD)
        word = int.from_bytes(data[at:at + 4], "little") | high
        data[at:at + 4] = word.to_bytes(4, "little")
        try:
            snap = Snapshot(bytes(data))
        except ImageError:
            continue
        engine = Engine([snap])           # accepted (a count word): must answer safely
        for query in QUERIES:
            engine.answer(query)

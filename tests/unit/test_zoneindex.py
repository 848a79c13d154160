"""The zone index (fastdns._zoneindex) and the bundles of images it points into: built by
the manager's IndexBuilder, mapped by workers, looked up by the engine."""

import fcntl
import mmap
import os
import random

import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest

from fastdns._engine import STATE_WAITING, Engine
from fastdns._zoneindex import BROKEN, LOADED, PENDING, IndexBuilder, ZoneIndex
from fastdns.server.zoneset import map_bundle, map_index, pack_ids, zone_ids
from fastdns.zone.bundle import bundle_number, publish_index, write_bundle
from fastdns.zone.loader import load_image_text


def wire(name: str) -> bytes:
    return dns.name.from_text(name).to_wire()


def image(origin: str, address: str = "192.0.2.1", serial: int = 1) -> bytes:
    text = (f"$TTL 300\n@ IN SOA ns1 host {serial} 1 1 1 1\n@ NS ns1\n"
            f"ns1 A {address}\nwww A {address}\n")
    return load_image_text(text, origin).image


class Served:
    """An index and a bundle as a worker has them: built, published, mapped."""

    def __init__(self, zones: dict[str, str]) -> None:
        self.builder = IndexBuilder()
        loaded = [name for name, state in zones.items() if state == "loaded"]
        fd, offsets = write_bundle(1, [image(name) for name in loaded])
        self.bundles = {1: map_bundle(fd)}
        os.close(fd)
        at = dict(zip(loaded, offsets, strict=True))
        for name, state in zones.items():
            if state == "loaded":
                self.builder.put(wire(name), LOADED, "native", 1, at[name],
                                 len(image(name)), 7)
            else:
                self.builder.put(wire(name), PENDING if state == "pending" else BROKEN)
        self.engine = Engine()
        self.publish()

    def publish(self) -> ZoneIndex:
        fd = publish_index(self.builder)
        try:
            self.index = map_index(fd)
        finally:
            os.close(fd)
        self.engine.set_index(self.index, self.bundles)
        return self.index

    def ask(self, name: str, rdtype: str = "A") -> dict:
        return self.engine.result(dns.message.make_query(name, rdtype).to_wire())

    def response(self, name: str, rdtype: str = "A") -> dns.message.Message:
        return dns.message.from_wire(self.ask(name, rdtype)["response"])


def test_a_bundle_is_sealed_and_its_images_aligned():
    images = [image("a.test."), image("b.test.", "192.0.2.9")]
    fd, offsets = write_bundle(42, images)
    try:
        assert bundle_number(fd) == 42
        assert all(offset % 8 == 0 for offset in offsets)
        mapping = map_bundle(fd)
        for data, offset in zip(images, offsets, strict=True):
            assert mapping[offset:offset + len(data)] == data
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SHRINK
        with pytest.raises(PermissionError):
            mmap.mmap(fd, os.fstat(fd).st_size)          # writable shared mapping refused
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def test_builder_agrees_with_a_dict_through_adds_changes_and_removals():
    """Random puts and removes (removal mends the probe chains) against a dict; then the
    published index holds exactly the dict's zones, with their states and ids."""
    rnd = random.Random(12)
    builder = IndexBuilder()
    model: dict[bytes, tuple[int, int]] = {}       # wire -> (state, zone id)
    names = [wire(f"z{i}.{rnd.choice(['com', 'net', 'x.org'])}.") for i in range(3000)]
    for _ in range(20000):
        name = rnd.choice(names)
        if rnd.random() < 0.3:
            assert builder.remove(name) == (name in model)
            model.pop(name, None)
        else:
            state = rnd.choice([LOADED, PENDING, BROKEN])
            zone_id = builder.put(name, state, "primary", 1, 8, 100, 5)
            if name in model:
                assert zone_id == model[name][1]          # a zone keeps its id
            model[name] = (state, zone_id)
    assert len(builder) == len(model)
    for name in names:
        got = builder.get(name)
        assert (got is None) == (name not in model)
        if got is not None:
            assert (got[0], got[7]) == model[name]
    fd = publish_index(builder)
    try:
        index = map_index(fd)
    finally:
        os.close(fd)
    assert len(index) == len(model)
    assert index.pending == sum(s == PENDING for s, _ in model.values())
    assert not index.complete or index.pending == 0
    for name in names:
        entry = index.get(name.upper())                 # names compare without case
        assert (entry is None) == (name not in model)
        if entry is not None:
            assert entry["zone_id"] == model[name][1] and entry["kind"] == "primary"
    text = index.names_text(broken=False)
    assert len(text) == sum(s != BROKEN for s, _ in model.values())     # pending are listed


def test_an_index_that_is_not_one_is_refused():
    builder = IndexBuilder()
    builder.put(wire("a.test."), PENDING)
    fd = publish_index(builder)
    try:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
    finally:
        os.close(fd)
    ZoneIndex(data)
    for bad in (b"", b"FDZINDX1", data[:-1], b"x" * len(data),
                data[:8] + b"\x09" + data[9:]):
        with pytest.raises(ValueError):
            ZoneIndex(bad)


def test_engine_answers_loaded_waits_for_pending_and_fails_broken():
    served = Served({"a.test.": "loaded", "p.test.": "pending", "b.test.": "broken",
                     "sub.a.test.": "pending"})
    r = served.response("www.a.test.")
    assert r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA
    assert [rr.to_text() for rr in r.answer[0]] == ["192.0.2.1"]
    # a pending zone, and a name below it in a loaded parent: the query waits for the zone
    for name, apex in (("www.p.test.", "p.test."), ("x.sub.a.test.", "sub.a.test.")):
        result = served.ask(name)
        assert result["state"] == STATE_WAITING and result["response"] is None
        assert result["wait"] == (wire(apex), 0)
    assert served.response("www.b.test.").rcode() == dns.rcode.SERVFAIL
    assert served.response("www.nowhere.test.").rcode() == dns.rcode.REFUSED
    # DS at a pending child's apex is the loaded parent's to answer
    assert served.ask("sub.a.test.", "DS")["state"] != STATE_WAITING


def test_a_zone_loaded_later_is_answered_with_its_own_tag():
    served = Served({"a.test.": "loaded", "p.test.": "pending"})
    tag_a = served.ask("www.a.test.")["tag"]
    fd, (offset,) = write_bundle(2, [image("p.test.", "192.0.2.77")])
    served.bundles[2] = map_bundle(fd)
    os.close(fd)
    served.builder.put(wire("p.test."), LOADED, "native", 2, offset, len(image("p.test.")), 9)
    served.publish()
    r = served.ask("www.p.test.")
    assert r["rcode"] == dns.rcode.NOERROR and r["tag"] not in (0, tag_a)
    assert served.ask("www.a.test.")["tag"] == tag_a


def test_snapshots_made_on_demand_stay_correct_past_the_bound():
    zones = {f"z{i}.test.": "loaded" for i in range(50)}
    served = Served(zones)
    served.engine.keep_snapshots(7)      # dropped and made again, many times over
    for rounds in range(3):
        for i in range(50):
            r = served.response(f"www.z{i}.test.")
            assert r.rcode() == dns.rcode.NOERROR, (rounds, i)
            assert [rr.to_text() for rr in r.answer[0]] == ["192.0.2.1"]


def test_zone_ids_travel_packed():
    ids = [1, 2, 70000, 2**32 - 1]
    assert zone_ids(pack_ids(ids)) == ids
    assert zone_ids("") == []

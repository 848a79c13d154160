"""Zone bundles (memfd + manifest) and how a worker's ZoneSet applies them."""

import os

import pytest

from fastdns.server.zoneset import ZoneSet
from fastdns.stats import allocate, totals
from fastdns.zone.bundle import read_bundle, write_bundle
from fastdns.zone.loader import load_image_text


def image(origin: str, address: str = "192.0.2.1", serial: int = 1) -> bytes:
    text = (f"$TTL 300\n@ IN SOA ns1 host {serial} 1 1 1 1\n@ NS ns1\n"
            f"ns1 A {address}\n")
    return load_image_text(text, origin).image


def test_round_trip_keeps_images_aligned_and_whole():
    images = [("a.test.", "native", 7, image("a.test.")),
              ("b.test.", "primary", 8, image("b.test.", "192.0.2.9"))]
    fd = write_bundle(images, removed=["gone.test."], broken=["bad.test."], full=True)
    try:
        mapping, manifest = read_bundle(fd)
    finally:
        os.close(fd)
    assert manifest.full and manifest.removed == ("gone.test.",)
    assert manifest.broken == (("bad.test.", b"\x03bad\x04test\x00"),)
    for (name, kind, generation, data), zone in zip(images, manifest.zones, strict=True):
        assert (zone.name, zone.kind, zone.generation) == (name, kind, generation)
        assert zone.offset % 8 == 0
        assert mapping[zone.offset:zone.offset + zone.size] == data


def test_not_a_bundle_is_refused():
    fd = os.memfd_create("x")
    try:
        os.write(fd, b"something else entirely")
        with pytest.raises(ValueError):
            read_bundle(fd)
    finally:
        os.close(fd)


def test_zoneset_applies_full_partial_and_broken():
    zones = ZoneSet()
    changed = zones.apply(write_bundle([("a.test.", "native", 1, image("a.test.")),
                                        ("b.test.", "native", 2, image("b.test."))],
                                       broken=["c.test."], full=True))
    assert {name for name, _ in changed} == {"a.test.", "b.test.", "c.test."}
    assert set(zones.snapshots) == {"a.test.", "b.test."} and set(zones.broken) == {"c.test."}
    tag_a = zones.snapshots["a.test."].tag
    # a partial bundle: a.test changes, c.test now loads, b.test is removed
    changed = zones.apply(write_bundle([("a.test.", "native", 3, image("a.test.", serial=2)),
                                        ("c.test.", "native", 4, image("c.test."))],
                                       removed=["b.test."]))
    assert {name for name, _ in changed} == {"a.test.", "b.test.", "c.test."}
    assert set(zones.snapshots) == {"a.test.", "c.test."} and not zones.broken
    assert zones.snapshots["a.test."].serial == 2
    assert zones.snapshots["a.test."].tag == tag_a          # a zone keeps its tag
    # a full bundle drops what it does not name
    zones.apply(write_bundle([("c.test.", "native", 5, image("c.test."))], full=True))
    assert set(zones.snapshots) == {"c.test."}


def test_shared_rows_sum_and_average():
    rows = allocate(4)
    rows.add(0, "udp-queries", 3)
    rows.add(1, "udp-queries", 4)
    rows.set(0, "latency", 10)
    rows.set(1, "latency", 30)
    rows.add(0, "packetcache-miss")
    rows.add(1, "packetcache-miss")
    out = totals(rows, [0, 1])
    assert out["udp-queries"] == 7
    assert out["latency"] == 20
    assert "pid" not in out and "heartbeat" not in out
    with pytest.raises(IndexError):
        rows.get(4, "udp-queries")
    pid = os.fork()
    if pid == 0:                      # a child writes its row; the parent sees it
        rows.add(2, "tcp-queries", 5)
        os._exit(0)
    os.waitpid(pid, 0)
    assert rows.get(2, "tcp-queries") == 5


def test_a_bundle_is_sealed_once_written():
    import fcntl
    import mmap

    fd = write_bundle([("a.test.", "native", 1, image("a.test."))])
    try:
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_WRITE and seals & fcntl.F_SEAL_SHRINK
        with pytest.raises(PermissionError):
            mmap.mmap(fd, os.fstat(fd).st_size)          # writable shared mapping refused
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)

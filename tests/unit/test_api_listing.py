"""The API's zone list written in one pass (fastdns.api._listing) is, object for object,
the JSON of fastdns.api.zones' ``_list_json``: odd names, escapes, kinds, primaries,
accounts with quotes and control characters, SOAs without a serial."""

import orjson
import pytest

from fastdns.api._listing import write_zones
from fastdns.api.zones import _list_json
from fastdns.backends.gsqlapi import KINDS, split_primaries
from fastdns.backends.sqlbase import zone_text

ROWS = [
    (1, "Example.COM", "MASTER", "192.0.2.1, 192.0.2.2:5300;[2001:db8::1]:53",
     'acc "q" \\ é\x01\x1f', "cat.example", 7, 99),
    (2, ".", None, None, None, None, None, None),
    (3, "under_score.test", "slave", "", "", "", 0, 0),
    (4, "a/b.test", "PRODUCER", None, "ünïcode ☃", None, 3, 4),
    (5, "", "NATIVE", None, None, None, None, None),
    (6, "consumer.test.", "CONSUMER", None, None, None, 4294967295, 2**40),
    (7, "odd\\032name.test", "SOMETHING", None, None, None, None, None),
]
SOAS = {(1, "Example.COM"): "ns. h. 2024010101 1 2 3 4",
        (3, "under_score.test"): "a b not-a-number 1 2 3 4",
        (4, "a/b.test"): "a b",
        (6, "consumer.test."): "a.\tb.  4294967295 1 2 3 4",
        (7, "odd\\032name.test"): "a b 4294967296 1 2 3 4"}


def expected(dnssec: bool, signed: set[int]) -> list[dict]:
    out = []
    for domain_id, name, kind, master, account, catalog, notified, checked in ROWS:
        if not name:
            continue
        row = (domain_id, zone_text(name), KINDS.get((kind or "").upper(), "native"),
               split_primaries(master) if master else [], account or "",
               zone_text(catalog) if catalog else "", notified or 0, checked or 0,
               SOAS.get((domain_id, name)) or "", domain_id in signed)
        out.append(_list_json(row, dnssec))
    return out


@pytest.mark.parametrize("dnssec", [True, False])
def test_the_one_pass_list_is_the_list_of_objects(dnssec):
    written = write_zones(list(ROWS), SOAS, {1, 6}, dnssec, set())
    assert orjson.loads(b"[" + written + b"]") == expected(dnssec, {1, 6})


def test_zones_already_listed_by_an_earlier_backend_are_left_out():
    seen = {"example.com."}
    written = orjson.loads(b"[" + write_zones(list(ROWS), SOAS, set(), True, seen) + b"]")
    assert "example.com." not in [z["name"] for z in written]
    assert {"under_score.test.", "a/b.test."} <= seen


def test_ids_escape_as_powerdns_does():
    written = orjson.loads(b"[" + write_zones(list(ROWS), SOAS, set(), True, set()) + b"]")
    ids = {z["name"]: z["id"] for z in written}
    assert ids["."] == "=2E"
    assert ids["under_score.test."] == "under=5Fscore.test."
    assert ids["a/b.test."] == "a=2Fb.test."
    assert ids["odd\\032name.test."] == "odd=5C032name.test."

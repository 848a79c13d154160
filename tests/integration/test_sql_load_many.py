"""GSQLBackend.load_many: every zone compiled from one scan of ``records`` gives what
load_image gives zone by zone (the same image bytes, warnings, counts and fingerprints, the
same errors), on SQLite, PostgreSQL and MariaDB; a database that goes away in the middle of
the scan keeps the zones delivered and fails the rest. (ZoneSource's default, one
load_image after the other, for the bind backend too.)"""

import os
import random
from pathlib import Path

import pytest

from fastdns.backends.bind import BindBackend
from fastdns.backends.gsql import GSQLBackend
from fastdns.zone.check import NoSOAError, ZoneError
from fastdns.zone.loader import CompiledZone
from fastdns.zone.source import BackendError
from tests._support.sqldb import KINDS, MYSQL, PG, TempDatabase

ZONES = 300


def zone_rows(i: int, zone: str) -> list[tuple]:
    """(name, type, content, ttl, prio, disabled) rows of zone number ``i``: the usual
    records, and every few zones something odd."""
    soa = f"ns1.{zone} hostmaster.{zone} {i} 10800 3600 604800 3600"
    rows: list[tuple] = [
        (zone, "NS", f"ns1.{zone}", 3600, 0, 0),
        (f"ns1.{zone}", "A", f"192.0.2.{i % 250 + 1}", 3600, 0, 0),
        (f"www.{zone}", "AAAA", f"2001:db8::{i:x}", 300, 0, 0),
        (zone, "MX", f"mail.{zone}", 300, 10, 0),
        (zone, "MX", f"20 mail2.{zone}", 300, None, 0),              # prio NULL
        (f"_sip._tcp.{zone}", "SRV", f"5 5060 sip.{zone}", 60, 10 + i % 5, 0),
        (zone, "TXT", f'"zone {i}"', 60, 0, 0),
        (f"alias.{zone}", "CNAME", f"www.{zone}", 60, 0, 0),
        (f"off.{zone}", "A", "192.0.2.9", 60, 0, 1),                 # disabled
        (f"ent.b.{zone}", None, None, 0, 0, 0),                       # an ENT row
        (f"x.ent.b.{zone}", "A", "192.0.2.10", 60, 0, 0),
    ]
    if i % 17 != 5:                                                   # no SOA: absent
        rows.insert(0, (zone, "SOA", soa, 3600, 0, 0))
    if i % 7 == 1:
        rows.append((f"bad.{zone}", "A", "192.0.2.999", 60, 0, 0))
    if i % 11 == 2:
        rows.append(("outside.example.net", "A", "192.0.2.4", 60, 0, 0))
        rows.append((f"t.{zone}", "NOSUCHTYPE", "x", 60, 0, 0))
        rows.append((zone, "soa", soa.replace(f" {i} ", " 7 "), 60, 0, 0))   # a second SOA
    if i % 13 == 3:                                   # two CNAMEs: the first read is kept
        rows.append((f"alias.{zone}", "CNAME", f"ns1.{zone}", 60, 0, 0))
        rows.append((f"www.{zone}", "A", "192.0.2.1", 60, 0, 0))       # CNAME and data
    if i % 19 == 4:                                   # every row disabled
        rows = [(*row[:5], 1) for row in rows]
    if i == 8:                                        # more broken rows than are listed
        rows += [(f"b{k}.{zone}", "A", "not an address", 60, 0, 0) for k in range(120)]
    return rows


def fill(db: TempDatabase, zones: int = ZONES) -> dict[str, int]:
    """``zones`` zones (a few with no rows at all), their rows inserted in random order so
    that a zone's rows are not together in the table. Zone name -> domain id."""
    backend = db.backend()
    names = [f"z{i}.example" for i in range(zones)]
    with backend.dialect.connection() as conn:
        cur = conn.cursor()
        cur.executemany(backend.dialect.sql("INSERT INTO domains (name, type) VALUES (?, ?)"),
                        [(name, "NATIVE") for name in names])
        cur.execute("SELECT name, id FROM domains")
        ids = {name: int(domain_id) for name, domain_id in cur.fetchall()}
        rows = [(ids[zone], *row) for i, zone in enumerate(names) if i % 23 != 6
                for row in zone_rows(i, zone)]
        rows.append((None, "orphan.example", "A", "192.0.2.1", 60, 0, 0))   # no zone
        random.Random(1).shuffle(rows)
        cur.executemany(backend.dialect.sql(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
            [(*row[:6], bool(row[6]), True) for row in rows])
        cur.close()
    backend.close()
    return ids


def outcome(result: CompiledZone | BaseException) -> tuple:
    if isinstance(result, BaseException):
        return (type(result).__name__, str(result))
    return (result.image, result.warnings, result.files, result.records, result.skipped)


def one_by_one(backend: GSQLBackend, zones: list[str]) -> dict[str, tuple]:
    out = {}
    for zone in zones:
        try:
            out[zone] = outcome(backend.load_image(zone))
        except ZoneError as exc:
            out[zone] = outcome(exc)
    return out


def in_one_scan(backend: GSQLBackend, zones: list[str]) -> list[tuple[str, tuple]]:
    got: list[tuple[str, tuple]] = []
    backend.load_many(zones, lambda zone, result: got.append((zone, outcome(result))))
    return got


@pytest.fixture(params=KINDS)
def db(request, tmp_path: Path):
    with TempDatabase(request.param, tmp_path) as database:
        yield database


def test_one_scan_gives_what_load_image_gives(db: TempDatabase) -> None:
    ids = fill(db)
    first = db.backend()
    listed = [z.name for z in first.list_zones()]
    assert len(listed) == ZONES
    expected = one_by_one(first, listed)
    expected_prints = dict(first._prints)

    second = db.backend()
    second.list_zones()
    got = in_one_scan(second, list(reversed(listed)))
    # once each, in domain id order, the same result as load_image's
    assert [zone for zone, _ in got] == sorted(listed, key=lambda z: ids[z[:-1]])
    for zone, result in got:
        assert result == expected[zone], zone
    assert dict(got) == expected
    assert second._prints == expected_prints
    assert second._retries == {}

    kinds = [r[0] for r in expected.values()]
    assert kinds.count("NoSOAError") == len([i for i in range(ZONES) if i % 23 == 6 or
                                              i % 19 == 4 or (i % 17 == 5 and i % 11 != 2)])
    assert "ZoneError" not in kinds
    z8 = expected["z8.example."]
    assert z8[4] == 121 and any("21 more broken records skipped, not listed" in w
                                for w in z8[1])
    z2 = expected["z2.example."]
    assert z2[4] == 2 and z2[3] == 13, z2[3:]
    assert any("2 SOA records" in w for w in z2[1]), z2[1]

    # a subset, and a name that is no zone of the backend
    subset = [*listed[::3], "nosuch.example."]
    got = in_one_scan(second, subset)
    assert got[0] == ("nosuch.example.", outcome(ZoneError(
        f"backend '{second.name}': zone 'nosuch.example' is not in backend "
        f"'{second.name}'")))
    assert dict(got[1:]) == {zone: expected[zone] for zone in listed[::3]}


def test_a_zone_that_is_not_listed_yet_is_looked_up(db: TempDatabase) -> None:
    ids = fill(db, 30)
    backend = db.backend()
    got = in_one_scan(backend, ["z3.example.", "z1.example.", "z23.example."])
    assert [zone for zone, _ in got] == sorted(["z3.example.", "z1.example.", "z23.example."],
                                               key=lambda z: ids[z[:-1]])
    assert dict(got) == one_by_one(db.backend(), ["z3.example.", "z1.example.",
                                                  "z23.example."])


def interrupt(db: TempDatabase) -> None:
    """Take the database away from under a running scan."""
    if db.kind == "gsqlite3":
        os.truncate(db.path, 4096)          # keep the header: the pages read next are gone
    elif db.kind == "gpgsql":
        import psycopg

        with psycopg.connect(dbname=db.name, autocommit=True, **PG) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    else:
        import pymysql

        conn = pymysql.connect(database=db.name, host=MYSQL["host"],
                               port=int(MYSQL["port"]), user=MYSQL["user"],
                               password=MYSQL["password"], autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id FROM information_schema.processlist WHERE db = %s "
                            "AND id <> CONNECTION_ID()", (db.name,))
                for (thread,) in cur.fetchall():
                    cur.execute(f"KILL {int(thread)}")
        finally:
            conn.close()


def test_database_gone_in_the_middle(db: TempDatabase) -> None:
    """The zones delivered before the database went away stay delivered, the rest fail with
    BackendError and move their change tokens (the next check retries them)."""
    fill(db, 600)
    backend = db.backend()
    listed = [z.name for z in backend.list_zones()]
    expected = one_by_one(db.backend(), listed)
    backend.dialect.scan_batch = 200         # the rows come from the server a few at a time
    if db.kind == "gmysql":                  # ... and from a query per 20 zones (the rows
        backend.dialect.scan_zones = 20      # of one are in the socket's buffers at once)
    got: list[tuple[str, tuple]] = []

    def deliver(zone: str, result: CompiledZone | ZoneError) -> None:
        got.append((zone, outcome(result)))
        if len(got) == 50:
            interrupt(db)

    with pytest.raises(BackendError, match="zones not loaded"):
        backend.load_many(listed, deliver)
    assert 50 <= len(got) < len(listed)
    for zone, result in got:
        assert result == expected[zone], zone
    delivered = {zone for zone, _ in got}
    assert len(delivered) == len(got)
    assert set(backend._retries) == {backend._domains[zone].id for zone in listed
                                     if zone not in delivered}
    assert all(count == 1 for count in backend._retries.values())


def test_zone_source_default_is_load_image_per_zone(tmp_path: Path) -> None:
    soa = "@ 3600 IN SOA ns1 hostmaster 1 10800 3600 604800 3600\n@ 3600 IN NS ns1\n"
    (tmp_path / "a.zone").write_text(soa + "ns1 3600 IN A 192.0.2.1\n")
    (tmp_path / "b.zone").write_text("www 3600 IN A 192.0.2.1\n")
    (tmp_path / "named.conf").write_text(
        f'options {{ directory "{tmp_path}"; }};\n'
        'zone "a.example" { type master; file "a.zone"; };\n'
        'zone "b.example" { type master; file "b.zone"; };\n')
    backend = BindBackend(str(tmp_path / "named.conf"))
    backend.list_zones()
    got: list[tuple[str, object]] = []
    backend.load_many(["b.example.", "a.example."], lambda z, r: got.append((z, r)))
    assert [z for z, _ in got] == ["b.example.", "a.example."]
    assert isinstance(got[0][1], NoSOAError)
    assert isinstance(got[1][1], CompiledZone)
    assert got[1][1].image == backend.load_image("a.example.").image

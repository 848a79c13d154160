"""The generic SQL backend on SQLite files: PowerDNS's schema and column meanings, the
change check, the store, the settings and ``launch=`` order. (PostgreSQL and MariaDB run
the same code in tests/integration/test_sql_backends.py.)"""

import logging
import sqlite3
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from fastdns.backends.gsql import GSQLBackend, Row, open_backend, schema_sql
from fastdns.backends.gsqlite3 import SQLite3
from fastdns.backends.registry import make_backends
from fastdns.backends.sqlbase import Dialect
from fastdns.config.loader import load_config, parse_command_line
from fastdns.config.settings import BackendInstance
from fastdns.zone._rdata import name_from_str
from fastdns.zone._rows import add_rows
from fastdns.zone.check import NoSOAError, ZoneError
from fastdns.zone.content import rdata_wire
from fastdns.zone.loader import compile_rows
from fastdns.zone.source import BackendError
from fastdns.zone.zonedb import ZoneDB
from tests._support.oracle import image_rrsets
from tests._support.oracle import name as wire_name


def rows_zone(origin: str, rows: list[tuple]) -> tuple[dict, list[str]]:
    """What the SQL path makes of ``rows``: the zone's RRsets and the warnings."""
    compiled = compile_rows(origin, lambda sink, warnings: add_rows(sink, rows, warnings),
                            "test")
    return image_rrsets(compiled.image), compiled.warnings

SOA = "ns1.example.org hostmaster.example.org 1 10800 3600 604800 3600"


def make_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(schema_sql("sqlite3"))
    conn.close()
    return path


def sql(path: Path, statement: str, params: tuple = ()) -> list[tuple]:
    """A write by someone else (another connection), as an operator's tool does it."""
    conn = sqlite3.connect(path)
    with conn:
        rows = conn.execute(statement, params).fetchall()
    conn.close()
    return rows


def add_zone(path: Path, zone: str, kind: str = "NATIVE", records=()) -> int:
    sql(path, "INSERT INTO domains (name, type) VALUES (?, ?)", (zone, kind))
    (domain_id,) = sql(path, "SELECT id FROM domains WHERE name = ?", (zone,))[0]
    rows = [(zone, "SOA", SOA.replace("example.org", zone), 3600, 0),
            (zone, "NS", f"ns1.{zone}", 3600, 0), *records]
    for name, rtype, content, ttl, prio, *rest in rows:
        disabled = rest[0] if rest else 0
        sql(path, "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (domain_id, name, rtype, content, ttl, prio, disabled))
    return domain_id


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "pdns.sqlite3")


@pytest.fixture
def backend(db: Path):
    backend = GSQLBackend(SQLite3({"database": str(db)}), "gsqlite3")
    yield backend
    backend.close()


def tokens(backend: GSQLBackend) -> dict[str, object]:
    return {z.name: backend.change_token(z.name) for z in backend.list_zones()}


# -- schema and content ---------------------------------------------------------------------

@pytest.mark.parametrize("dialect,package", [("sqlite3", "sqlite3"), ("pgsql", "pgsql"),
                                             ("mysql", "mysql")])
def test_schema_is_powerdns_own(dialect: str, package: str) -> None:
    installed = Path(f"/usr/share/pdns-backend-{package}/schema/schema.{dialect}.sql")
    shipped = schema_sql(dialect)
    header, _, body = shipped.partition("\n\n")
    assert header.startswith("-- PowerDNS Authoritative 4.7") and "GPL-2.0" in header
    assert body == installed.read_text()


@pytest.mark.parametrize("rtype,content,prio", [
    ("A", "192.0.2.1", 0), ("AAAA", "2001:db8::1", 0), ("NS", "ns1.example.org", 0),
    ("CNAME", "www.example.org.", 0), ("PTR", "host.example.org", 0),
    ("MX", "mail.example.org", 10), ("SRV", "1 5060 sip.example.org", 20),
    ("TXT", '"v=spf1 -all" "two"', 0), ("CAA", '0 issue "ca.example"', 0),
    ("SOA", SOA, 0), ("NAPTR", '100 10 "u" "E2U+sip" "!^.*$!sip:x@example.org!" .', 0),
    ("SSHFP", "1 1 0123456789abcdef0123456789abcdef01234567", 0),
    ("DS", "12345 13 2 " + "ab" * 32, 0), ("TYPE65280", r"\# 2 abcd", 0),
])
def test_content_matches_dnspython(rtype: str, content: str, prio: int) -> None:
    """PowerDNS's content text (absolute names without the dot, MX/SRV priority in prio)
    becomes the rdata dnspython makes of the presentation form."""
    rdtype, wire = rdata_wire(rtype, content, prio)
    text = f"{prio} {content}" if rtype in ("MX", "SRV") else content
    expected = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                   origin=dns.name.root, relativize=False)
    assert rdtype == expected.rdtype and wire == expected.to_wire()


def test_short_soa_is_filled_as_powerdns_does() -> None:
    got, _ = rows_zone("example.org", [
        (1, "example.org", "SOA", "ns1.example.org hostmaster.example.org", 3600, None)])
    wire = got[(wire_name("example.org"), dns.rdatatype.SOA)][1][0]
    soa = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.SOA, wire, 0, len(wire))
    assert (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) == \
        (0, 10800, 3600, 604800, 3600)


def test_bad_rows_are_left_out_with_a_warning() -> None:
    rows = [(1, "example.org", "SOA", SOA, 3600, 0), (2, "a.example.org", "A", "nonsense", 60, 0),
            (3, "b.example.org", "LUA", "A 'x'", 60, 0), (4, "c.example.org", "NOPE", "x", 1, 0),
            (5, "d..example.org", "A", "192.0.2.1", 1, 0)]
    got, warnings = rows_zone("example.org", rows)
    assert list(got) == [(wire_name("example.org"), dns.rdatatype.SOA)]
    rows_warned = [w for w in warnings if w.startswith("records.id=")]
    assert [w.split(":")[0] for w in rows_warned] == [
        "records.id=2", "records.id=3", "records.id=4", "records.id=5"]
    assert all(w.endswith("; record skipped") for w in rows_warned)
    assert name_from_str("Example.ORG") == b"\x07Example\x03ORG\x00"
    assert name_from_str(r"a\.b.example.org") == b"\x03a.b\x07example\x03org\x00"


# -- serving: what PowerDNS serves ------------------------------------------------------------

def test_large_zones_read_by_two_threads_are_read_whole(db: Path) -> None:
    """A zone of more than one batch (8192 rows) is read by a thread while another compiles
    it, through the index when it is a small share of the table, else by a scan of the
    table: every way, the same zone, warnings and fingerprint as the drivers' path."""
    small = add_zone(db, "small.example", "NATIVE")
    big = add_zone(db, "big.example", "NATIVE")
    conn = sqlite3.connect(db)
    with conn:
        for domain_id, zone, count in ((small, "small.example", 20_000),
                                       (big, "big.example", 90_000)):
            conn.executemany(
                "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled) "
                "VALUES (?, ?, ?, ?, 60, 0, ?)",
                ((domain_id, f"h{i}.{zone}", "A",
                  "192.0.2.999" if i % 7001 == 0 else f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}",
                  1 if i % 5003 == 0 else 0) for i in range(count)))
    conn.close()
    dialect = SQLite3({"database": str(db)})
    for domain_id, zone in ((small, "small.example."), (big, "big.example.")):
        ours, fingerprint = load_rows(dialect, domain_id, zone)
        assert ours == load_rows(dialect, domain_id, zone, drivers=True)[0]
        assert ours[3] > 1 and len(ours[0]) > 10_000, zone
        assert fingerprint == dialect.record_prints(None)[domain_id], zone
    dialect.close()


def test_broken_rows_are_listed_up_to_a_hundred() -> None:
    rows = [(1, "example.org", "SOA", SOA, 3600, None),
            (2, "example.org", "NS", "ns1.example.org", 3600, None)]
    rows += [(i, f"b{i}.example.org", "A", "1.2.3", 60, None) for i in range(3, 153)]
    _, warnings = rows_zone("example.org.", rows)
    assert len(warnings) == 101
    assert warnings[-1] == "test: 50 more broken records skipped, not listed"


def test_served_rows_follow_powerdns_column_meanings(db: Path, backend: GSQLBackend) -> None:
    add_zone(db, "example.org", "MASTER", [
        ("www.example.org", "A", "192.0.2.1", 60, 0),
        ("www.example.org", "A", "192.0.2.2", 60, 0),
        ("off.example.org", "A", "192.0.2.3", 60, 0, 1),          # disabled
        ("example.org", "MX", "mail.example.org", 60, 10),
        ("_s._tcp.example.org", "SRV", "2 3 t.example.org", 60, 1),
        ("mail.example.org", "a", "192.0.2.25", 60, 0),            # type in lowercase
    ])
    domain_id = add_zone(db, "example.net", "SLAVE")
    sql(db, "INSERT INTO records (domain_id, name, type, disabled, auth) "
            "VALUES (?, 'ent.example.net', NULL, 0, 1)", (domain_id,))
    add_zone(db, "example.com", "PRODUCER")
    assert {(z.name, z.kind) for z in backend.list_zones()} == {
        ("example.org.", "primary"), ("example.net.", "secondary"), ("example.com.", "producer")}
    compiled = backend.load_image("example.org.")
    got = {(dns.name.from_wire(owner, 0)[0].to_text(), rdtype): rdatas
           for (owner, rdtype), (_, rdatas) in image_rrsets(compiled.image).items()}
    assert ("off.example.org.", dns.rdatatype.A) not in got
    assert len(got[("www.example.org.", dns.rdatatype.A)]) == 2
    assert got[("example.org.", dns.rdatatype.MX)] == [b"\x00\x0a\x04mail\x07example\x03org\x00"]
    assert got[("_s._tcp.example.org.", dns.rdatatype.SRV)] == [
        b"\x00\x01\x00\x02\x00\x03\x01t\x07example\x03org\x00"]
    assert ("mail.example.org.", dns.rdatatype.A) in got
    assert not compiled.warnings
    assert backend.load_image("example.net.").records == 2      # the ENT row is no record


def load_rows(dialect: SQLite3, domain_id: int, zone: str,
              drivers: bool = False) -> tuple[tuple, object]:
    """(the zone, warnings, rows read, rows left out) as SQLite's C reader (or, with
    ``drivers``, Dialect.read_records, the other databases' path) reads them; and the
    fingerprint taken on the way."""
    taken: list = []

    def fill(sink, warnings):
        cur = conn.cursor()
        if drivers:
            count, skipped, fingerprint = Dialect.read_records(dialect, cur, domain_id, sink,
                                                               warnings)
        else:
            count, skipped, fingerprint = dialect.read_records(cur, domain_id, sink,
                                                               warnings)
        taken.append(fingerprint)
        return count, skipped

    with dialect.connection() as conn:
        compiled = compile_rows(zone, fill, "test")
    return (image_rrsets(compiled.image), compiled.warnings, compiled.records,
            compiled.skipped), taken[0]


def test_sqlites_c_reader_serves_what_the_drivers_path_serves(db: Path) -> None:
    """The SQLite rows are read through SQLite's C API (fastdns.backends._sqlite3rows); the
    other databases' through their drivers (Dialect.read_records): the same rows make the
    same zone and the same warnings, odd rows included."""
    domain_id = add_zone(db, "example.org", "NATIVE", [
        ("www.example.org", "A", "192.0.2.1", 60, 0),
        ("null.example.org", "A", "192.0.2.2", 60, 0, None),       # disabled NULL: not 0
        ("off.example.org", "A", "192.0.2.3", 60, 0, 1),
        ("dot.example.org.", "txt", '"final dot, lower-case type"', 60, 0),
        ("example.org", "MX", "mail.example.org", 60, None),       # prio NULL
        ("example.org", "MX", "20 mail2.example.org", 60, None),
        ("bad.example.org", "A", "192.0.2.999", 60, 0),
        ("outside.example.net", "A", "192.0.2.4", 60, 0),
        ("none.example.org", "TXT", None, 60, 0),                  # content NULL
    ])
    sql(db, "INSERT INTO records (domain_id, name, type, disabled) "
            "VALUES (?, 'ent.example.org', NULL, 0)", (domain_id,))
    dialect = SQLite3({"database": str(db)})
    ours = load_rows(dialect, domain_id, "example.org.")[0]
    assert ours == load_rows(dialect, domain_id, "example.org.", drivers=True)[0]
    dialect.close()
    got, warnings, records, skipped = ours
    assert (wire_name("null.example.org."), dns.rdatatype.A) not in got
    assert (records, skipped) == (9, 3), (records, skipped)
    assert warnings == [
        "records.id=7: bad MX data 'mail.example.org': expected digits; record skipped",
        "records.id=9: bad A data '192.0.2.999': unable to parse IP address; record skipped",
        "records.id=10: owner outside the zone (name 'outside.example.net', type 'A'); "
        "record skipped"]


def test_a_zone_without_rows_is_a_zone_error(db: Path, backend: GSQLBackend) -> None:
    sql(db, "INSERT INTO domains (name, type) VALUES ('empty.example', 'NATIVE')")
    backend.list_zones()
    with pytest.raises(NoSOAError, match="no SOA"):
        backend.load_image("empty.example.")
    with pytest.raises(ZoneError, match="no zone"):
        backend.change_token("nosuch.example.")


# -- noticing changes -----------------------------------------------------------------------

def test_every_direct_change_moves_the_token_of_its_zone_only(db: Path,
                                                              backend: GSQLBackend) -> None:
    org = add_zone(db, "example.org", records=[("www.example.org", "A", "192.0.2.1", 60, 0)])
    add_zone(db, "example.net")
    tokens(backend)
    for zone in ("example.org.", "example.net."):   # as ZoneDB does after the first listing
        backend.load_image(zone)
    before = tokens(backend)
    assert tokens(backend) == before                                  # nothing changed
    changes = [
        ("INSERT INTO records (domain_id, name, type, content, ttl, prio) "
         "VALUES (?, 'new.example.org', 'A', '192.0.2.9', 60, 0)", (org,)),
        ("UPDATE records SET content = '192.0.2.2' WHERE name = 'www.example.org'", ()),
        ("UPDATE records SET ttl = 61 WHERE name = 'www.example.org'", ()),
        ("UPDATE records SET disabled = 1 WHERE name = 'www.example.org'", ()),
        ("DELETE FROM records WHERE name = 'new.example.org'", ()),
        ("INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, 'X', '1')", (org,)),
        ("UPDATE domains SET type = 'MASTER' WHERE id = ?", (org,)),
    ]
    for statement, params in changes:
        sql(db, statement, params)
        after = tokens(backend)
        assert after["example.org."] != before["example.org."], statement
        assert after["example.net."] == before["example.net."], statement
        before = after
    sql(db, "DELETE FROM domains WHERE name = 'example.net'")
    assert set(tokens(backend)) == {"example.org."}
    add_zone(db, "example.com")
    assert set(tokens(backend)) == {"example.org.", "example.com."}


def test_the_aggregate_runs_only_when_the_database_was_written(db: Path,
                                                               backend: GSQLBackend) -> None:
    add_zone(db, "example.org")
    statements: list[str] = []
    tokens(backend)
    conn = backend.dialect._conn
    assert conn is not None
    conn.set_trace_callback(statements.append)
    tokens(backend)
    assert not any("GROUP BY" in s for s in statements)
    sql(db, "UPDATE records SET ttl = 5 WHERE type = 'NS'")
    tokens(backend)
    # domainmetadata's aggregate; records' is read through SQLite's C API (_sqlite3rows)
    assert sum("GROUP BY" in s for s in statements) == 1


def test_change_log_triggers(db: Path, backend: GSQLBackend) -> None:
    org = add_zone(db, "example.org")
    net = add_zone(db, "example.net")
    backend.install_change_log()
    assert backend.has_change_log()
    before = tokens(backend)
    sql(db, "UPDATE records SET content = '192.0.2.7' WHERE 0")
    assert tokens(backend) == before
    sql(db, "INSERT INTO records (domain_id, name, type, content, ttl) "
            "VALUES (?, 'a.example.org', 'A', '192.0.2.1', 60)", (org,))
    sql(db, "INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, 'X', '1')", (net,))
    after = tokens(backend)
    assert after["example.org."] != before["example.org."]
    assert after["example.net."] != before["example.net."]
    assert sql(db, "SELECT domain_id, changes FROM fastdns_changes ORDER BY 1") == \
        [(org, 1), (net, 1)]
    statements: list[str] = []
    backend.dialect._conn.set_trace_callback(statements.append)
    tokens(backend)
    assert not any("FROM records" in s for s in statements)       # the log, not a scan
    backend.remove_change_log()
    assert not backend.has_change_log()
    assert set(tokens(backend)) == {"example.org.", "example.net."}


def test_outage_keeps_the_last_listing_and_logs_once(db: Path, backend: GSQLBackend,
                                                     caplog) -> None:
    add_zone(db, "example.org")
    before = tokens(backend)
    backend.close()
    broken = GSQLBackend(SQLite3({"database": str(db.parent / "gone" / "x.db")}), "gsqlite3")
    with pytest.raises(BackendError, match="unable to open"):
        broken.list_zones()                          # nothing listed yet: an error (logged
                                                     # by ZoneDB, once per attempt)
    assert broken.check_interval == 1
    with pytest.raises(BackendError):
        broken.list_zones()
    assert broken.check_interval == 2                # backoff while down
    backend.dialect.path = str(db.parent / "gone" / "x.db")        # the database goes away
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fastdns"):
        for _ in range(3):
            assert tokens(backend) == before         # the loaded zones stay served
        backend.dialect.path = str(db)
        sql(db, "UPDATE records SET ttl = 7")
        assert tokens(backend) != before             # back by itself
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "unavailable" in lines[0] and "available again" in lines[1]
    assert backend.check_interval == 60


def test_a_load_that_failed_on_the_database_is_retried(db: Path, backend: GSQLBackend) -> None:
    add_zone(db, "example.org")
    token = tokens(backend)["example.org."]
    backend.dialect.path = str(db.parent / "gone.db")
    with pytest.raises(ZoneError, match="backend 'gsqlite3'"):
        backend.close()
        backend.load_image("example.org.")
    assert backend.change_token("example.org.") != token


def test_create_schema_setting(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    without = GSQLBackend(SQLite3({"database": str(path)}))
    with pytest.raises(BackendError):
        without.list_zones()
    assert not path.exists()                         # PowerDNS does not create it either
    created = GSQLBackend(SQLite3({"database": str(path), "create-schema": True}))
    assert created.list_zones() == []
    assert created.check_schema() == []
    assert GSQLBackend(SQLite3({"database": str(tmp_path / "x.db"),
                                "create-schema": True})).check_schema() == []


# -- the store ------------------------------------------------------------------------------

def test_store_round_trip(db: Path, backend: GSQLBackend) -> None:
    domain_id = backend.create_zone("Example.ORG.", "primary", account="acme")
    with pytest.raises(BackendError, match="already exists"):
        backend.create_zone("example.org")
    assert backend.zone_info("example.org.") == {
        "id": domain_id, "name": "example.org", "kind": "primary", "master": "",
        "account": "acme", "notified_serial": None, "last_check": None}
    assert sql(db, "SELECT type FROM domains") == [("MASTER",)]
    seen: list[int] = []
    rows = [Row("example.org", "SOA", SOA, 3600), Row("example.org", "NS", "ns1.example.org", 60),
            Row("WWW.example.org.", "A", "192.0.2.1", 60),
            Row("example.org", "MX", "mail.example.org", 60, 10)]
    assert backend.replace_zone_records("example.org", rows, progress=seen.append) == 4
    assert seen[-1] == 4
    assert [r.name for r in backend.zone_rows("example.org")] == [
        "example.org", "example.org", "example.org", "www.example.org"]
    backend.replace_rrset("example.org", "www.example.org", "A",
                          [Row("www.example.org", "A", "192.0.2.2", 60),
                           Row("www.example.org", "A", "192.0.2.3", 60)])
    backend.add_rows("example.org", [Row("a.b.example.org", "TXT", '"x"', 60)])
    assert sorted(r.content for r in backend.zone_rows("example.org")
                  if r.name == "www.example.org") == ["192.0.2.2", "192.0.2.3"]
    backend.replace_rrset("example.org", "www.example.org", "A", [])
    assert not [r for r in backend.zone_rows("example.org") if r.name == "www.example.org"]
    backend.set_zone("example.org", kind="secondary", primaries=["192.0.2.1", "192.0.2.2"],
                     account="")
    info = backend.zone_info("example.org")
    assert info is not None
    assert (info["kind"], info["master"], info["account"]) == \
        ("secondary", "192.0.2.1,192.0.2.2", "")
    backend.set_meta("example.org", "ALSO-NOTIFY", ["192.0.2.9", "192.0.2.10"])
    backend.add_meta("example.org", "also-notify", "192.0.2.11")
    assert backend.get_meta("example.org", "ALSO-NOTIFY") == [
        "192.0.2.9", "192.0.2.10", "192.0.2.11"]
    backend.set_meta("example.org", "ALSO-NOTIFY", [])
    assert backend.get_meta("example.org", "ALSO-NOTIFY") == []
    backend.add_autoprimary("192.0.2.1", "ns1.example.org.", "acme")
    assert backend.list_autoprimaries() == [("192.0.2.1", "ns1.example.org", "acme")]
    backend.remove_autoprimary("192.0.2.1", "ns1.example.org")
    with pytest.raises(BackendError, match="no autoprimary"):
        backend.remove_autoprimary("192.0.2.1", "ns1.example.org")
    with pytest.raises(BackendError, match="unknown zone kind"):
        backend.set_zone("example.org", kind="hidden")
    backend.delete_zone("example.org")
    assert backend.zone_info("example.org") is None
    assert sql(db, "SELECT count(*) FROM records") == [(0,)]
    with pytest.raises(BackendError, match="not in backend"):
        backend.zone_rows("example.org")


def test_our_own_writes_are_noticed(db: Path, backend: GSQLBackend) -> None:
    add_zone(db, "example.org")
    before = tokens(backend)
    backend.add_rows("example.org", [Row("x.example.org", "A", "192.0.2.1", 60)])
    assert tokens(backend) != before


def test_rectify_adds_and_removes_empty_non_terminals(db: Path, backend: GSQLBackend) -> None:
    org = add_zone(db, "example.org", records=[
        ("a.b.c.example.org", "A", "192.0.2.1", 60, 0),
        ("x.y.child.example.org", "A", "192.0.2.2", 60, 0),
        ("child.example.org", "NS", "ns.example.net", 60, 0)])
    sql(db, "INSERT INTO records (domain_id, name, type, auth) "
            "VALUES (?, 'stale.example.org', NULL, 1)", (org,))
    assert backend.rectify_zone("example.org") == 4
    ents = sql(db, "SELECT name, auth, ordername, disabled FROM records WHERE type IS NULL "
                   "ORDER BY name")
    assert ents == [("b.c.example.org", 1, None, 0), ("c.example.org", 1, None, 0),
                    ("y.child.example.org", 1, None, 0)]
    assert backend.rectify_zone("example.org") == 0


# -- settings, instances and launch order -----------------------------------------------------

def test_named_instances_and_settings(tmp_path: Path) -> None:
    (tmp_path / "pdns.conf").write_text(
        "launch=gsqlite3,gpgsql:second,gmysql\n"
        "gsqlite3-database=zones.db\n"
        "gpgsql-second-host=db.example\ngpgsql-second-dbname=pdns\n"
        "gpgsql-second-extra-connection-parameters=sslmode=disable\n"
        "gmysql-host=127.0.0.1\ngmysql-dbname=pdns\n"
        "gpgsql-second-dnssec=yes\nzone-check-interval=15\n")
    config = load_config(parse_command_line([f"--config-dir={tmp_path}"]))
    assert config.warnings == []          # <backend>-dnssec is honoured (keys, metadata)
    first, second, third = make_backends(config)
    assert [b.name for b in (first, second, third)] == ["gsqlite3", "gpgsql:second", "gmysql"]
    assert all(b.check_interval == 15 for b in (first, second, third))
    assert isinstance(first, GSQLBackend) and isinstance(second, GSQLBackend)
    assert first.dialect.path == str(tmp_path / "zones.db")
    assert "host=db.example" in second.dialect.conninfo
    assert "dbname=pdns" in second.dialect.conninfo and "sslmode=disable" in second.dialect.conninfo
    assert open_backend(config, BackendInstance("gsqlite3", "")).interval == 15


def write_bind(tmp_path: Path, zones: dict[str, str]) -> Path:
    conf = tmp_path / "named.conf"
    text = ""
    for zone, ns in zones.items():
        (tmp_path / f"{zone}.zone").write_text(
            f"$TTL 60\n@ SOA ns1.{zone}. h.{zone}. 7 1 1 1 1\n@ NS {ns}.\n")
        text += f'zone "{zone}" {{ type master; file "{tmp_path}/{zone}.zone"; }};\n'
    conf.write_text(text)
    return conf


@pytest.mark.parametrize("launch", ["bind,gsqlite3", "gsqlite3,bind"])
def test_first_backend_in_launch_order_wins(tmp_path: Path, launch: str) -> None:
    db = make_db(tmp_path / "z.db")
    add_zone(db, "both.example")
    add_zone(db, "sql.example")
    conf = write_bind(tmp_path, {"both.example": "ns.from-bind.example",
                                 "bind.example": "ns.from-bind.example"})
    (tmp_path / "pdns.conf").write_text(f"launch={launch}\nbind-config={conf}\n"
                                        f"gsqlite3-database={db}\n")
    config = load_config(parse_command_line([f"--config-dir={tmp_path}"]))
    zonedb = ZoneDB(make_backends(config))
    result = zonedb.refresh()
    assert sorted(result.loaded) == ["bind.example.", "both.example.", "sql.example."]
    owner = {name: zone.backend for name, zone in zonedb.zones.items()}
    assert owner["bind.example."] == "bind" and owner["sql.example."] == "gsqlite3"
    assert owner["both.example."] == launch.split(",")[0]
    # the zone leaves the SQL backend: bind's copy is served (reloaded if it was not)
    sql(db, "DELETE FROM domains WHERE name = 'both.example'")
    zonedb.refresh()
    assert zonedb.zones["both.example."].backend == "bind"

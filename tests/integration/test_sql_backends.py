"""The SQL backends against the real PostgreSQL and MariaDB servers of 127.0.0.1 (and SQLite
files): the store and the change check on each database, a server that notices changes
made directly in the database, and outages of a PostgreSQL cluster of the test's own.

Each test run creates and drops its own databases (tests/_support/sqldb.py).
"""

import sqlite3
import time
from pathlib import Path

import dns.rcode
import pytest

from fastdns.backends.gsql import GSQLBackend, Row
from fastdns.backends.gsqlite3 import SQLite3
from fastdns.control.protocol import send_command
from fastdns.zone.source import BackendError
from tests._support.servers import Fastdns, free_port
from tests._support.sqldb import KINDS, PG, TempDatabase, ThrowawayPostgres, pdnsutil
from tests.integration.helpers import hup, rrs, wait_until

SOA = "ns1.example.org hostmaster.example.org 1 10800 3600 604800 3600"


def zone_rows(zone: str, *extra: Row) -> list[Row]:
    return [Row(zone, "SOA", SOA.replace("example.org", zone), 3600),
            Row(zone, "NS", f"ns1.{zone}", 3600), Row(f"ns1.{zone}", "A", "192.0.2.53", 3600),
            *extra]


def fill(backend: GSQLBackend, zone: str, *extra: Row) -> int:
    domain_id = backend.create_zone(zone)
    backend.replace_zone_records(zone, zone_rows(zone, *extra))
    return domain_id


@pytest.fixture(params=KINDS)
def db(request, tmp_path: Path):
    with TempDatabase(request.param, tmp_path) as database:
        yield database


# -- the same code on every database ---------------------------------------------------------

def test_store_and_change_check(db: TempDatabase) -> None:
    backend = db.backend()
    assert backend.check_schema() == []
    org = fill(backend, "example.org", Row("www.example.org", "A", "192.0.2.1", 60),
               Row("example.org", "MX", "mail.example.org", 60, 10))
    fill(backend, "example.net")
    assert {z.name for z in backend.list_zones()} == {"example.org.", "example.net."}
    assert backend.load_image("example.org.").records == 5
    assert db.execute("SELECT prio, content FROM records WHERE type = 'MX'") == [
        (10, "mail.example.org")]

    def tokens() -> dict[str, object]:
        return {z.name: backend.change_token(z.name) for z in backend.list_zones()}

    for zone in ("example.org.", "example.net."):   # as ZoneDB does after the first listing
        backend.load_image(zone)
    before = tokens()
    assert tokens() == before
    for statement, params in [
        ("UPDATE records SET content = '192.0.2.2' WHERE name = 'www.example.org'", ()),
        ("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
         "VALUES (?, 'new.example.org', 'A', '192.0.2.3', 60, 0, ?, ?)", (org, False, True)),
        ("DELETE FROM records WHERE name = 'new.example.org'", ()),
        ("UPDATE records SET disabled = ? WHERE name = 'www.example.org'", (True,)),
        ("INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, 'X', 'y')", (org,)),
    ]:
        db.execute(statement, params)
        after = tokens()
        assert after["example.org."] != before["example.org."], statement
        assert after["example.net."] == before["example.net."], statement
        before = after
    backend.set_meta("example.org", "ALSO-NOTIFY", ["192.0.2.9"])
    assert backend.get_meta("example.org", "also-notify") == ["192.0.2.9"]
    backend.add_autoprimary("192.0.2.1", "ns1.example.org", "acme")
    assert backend.list_autoprimaries() == [("192.0.2.1", "ns1.example.org", "acme")]
    backend.delete_zone("example.net")
    assert {z.name for z in backend.list_zones()} == {"example.org."}


def test_change_log_triggers(db: TempDatabase) -> None:
    backend = db.backend()
    org = fill(backend, "example.org")
    net = fill(backend, "example.net")
    backend.install_change_log()
    before = {z.name: backend.change_token(z.name) for z in backend.list_zones()}
    db.execute("UPDATE records SET ttl = 5 WHERE domain_id = ?", (org,))
    db.execute("INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, 'X', 'y')",
               (net,))
    after = {z.name: backend.change_token(z.name) for z in backend.list_zones()}
    assert after["example.org."] != before["example.org."]
    assert after["example.net."] != before["example.net."]
    # a bulk write bumps each zone it touched (once per statement on PostgreSQL)
    backend.replace_zone_records("example.org", zone_rows("example.org") * 50)
    changes = dict(db.execute("SELECT domain_id, changes FROM fastdns_changes"))
    assert changes[org] > 1 and changes[net] == 1
    # pdns_server's own writes fire the triggers too
    pdnsutil(db, "add-record", "example.net", "www", "A", "192.0.2.80")
    assert dict(db.execute("SELECT domain_id, changes FROM fastdns_changes"))[net] == 2
    backend.remove_change_log()
    assert not backend.has_change_log()
    assert {z.name for z in backend.list_zones()} == {"example.org.", "example.net."}


#: zones of the checks at scale (issue 12): enough that a listing read again shows
SCALE = 3000


def fill_many(db: TempDatabase, zones: int) -> None:
    """``zones`` zones z1.example ... (ids 1 ...), three records each, in two statements."""
    db.execute("INSERT INTO domains (id, name, type) VALUES " + ", ".join(
        f"({i}, 'z{i}.example', 'NATIVE')" for i in range(1, zones + 1)))
    db.execute("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, "
               "auth) VALUES " + ", ".join(
                   f"({i}, 'z{i}.example', 'SOA', 'ns1.z{i}.example h.z{i}.example 1 2 3 4 5', "
                   f"60, 0, ?, ?), ({i}, 'z{i}.example', 'NS', 'ns1.z{i}.example', 60, 0, ?, ?), "
                   f"({i}, 'ns1.z{i}.example', 'A', '192.0.2.1', 60, 0, ?, ?)"
                   for i in range(1, zones + 1)), (False, True) * 3 * zones)


@pytest.mark.parametrize("log", [False, True], ids=["scan", "change-log"])
def test_check_at_scale_sees_exactly_the_zone_changed(db: TempDatabase, log: bool) -> None:
    """Thousands of zones, one changed by raw SQL (no serial bump): the check moves that
    zone's token alone and says so (changed_zones), without listing ``domains`` again
    (the same listing object comes back) unless ``domains`` changed; a zone added is read
    alone."""
    fill_many(db, SCALE)
    backend = db.backend()
    if log:
        backend.install_change_log()
    assert backend.changed_zones() is None                  # no listing yet
    listing = backend.list_zones()
    assert len(listing) == SCALE and backend.changed_zones() is None
    db.execute("UPDATE records SET ttl = 61 WHERE domain_id = 1")
    backend.list_zones()                                    # every fingerprint taken

    def check() -> tuple[set[str], set[str] | None]:
        before = {z.name: backend.change_token(z.name) for z in backend._infos}
        backend.list_zones()
        moved = {z.name for z in backend._infos
                 if backend.change_token(z.name) != before.get(z.name)}
        return moved, backend.changed_zones()

    listing = backend.list_zones()
    assert backend.changed_zones() == set()                 # nothing written
    for statement, params, zone in [
        ("UPDATE records SET content = '192.0.2.9' WHERE domain_id = ? AND type = 'A'",
         (1234,), "z1234.example."),
        ("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
         "VALUES (?, 'www.z77.example', 'A', '192.0.2.3', 60, 0, ?, ?)", (77, False, True),
         "z77.example."),
        ("DELETE FROM records WHERE domain_id = ? AND type = 'A'", (2999,), "z2999.example."),
        ("INSERT INTO domainmetadata (domain_id, kind, content) VALUES (?, 'X', 'y')",
         (5,), "z5.example."),
    ]:
        db.execute(statement, params)
        assert check() == ({zone}, {zone}), statement
        assert backend._infos is listing, statement         # domains not read again
    db.execute("INSERT INTO domains (id, name, type) VALUES (?, 'added.example', 'NATIVE')",
               (SCALE + 1,))
    assert check() == ({"added.example."}, {"added.example."})
    assert len(backend._infos) == SCALE + 1
    listing = backend._infos
    db.execute("UPDATE domains SET type = 'MASTER' WHERE id = 7")
    assert check() == ({"z7.example."}, None)               # listed anew: any may have
    assert backend._infos is not listing and len(backend._infos) == SCALE + 1
    db.execute("DELETE FROM domains WHERE id = 8")
    assert check() == (set(), None)
    assert {z.name for z in backend._infos} == {f"z{i}.example." for i in range(1, SCALE + 1)
                                                if i != 8} | {"added.example."}
    assert check() == (set(), set())


def test_change_log_sees_a_transaction_that_commits_after_a_check(tmp_path: Path) -> None:
    """PostgreSQL: the change log is read from the oldest transaction running at the last
    check, so that a write committed after it is read, though an older one was."""
    import psycopg

    with TempDatabase("gpgsql", tmp_path) as db:
        fill_many(db, 50)
        backend = db.backend()
        backend.install_change_log()
        backend.list_zones()
        with psycopg.connect(dbname=db.name, host=PG["host"], port=PG["port"],
                             user=PG["user"]) as slow:
            slow.execute("UPDATE records SET ttl = 7 WHERE domain_id = 3")   # not committed
            db.execute("UPDATE records SET ttl = 7 WHERE domain_id = 4")
            backend.list_zones()
            assert backend.changed_zones() == {"z4.example."}
            slow.commit()
        backend.list_zones()
        assert backend.changed_zones() == {"z3.example."}
        backend.list_zones()
        assert backend.changed_zones() == set()


def test_rectify_writes_what_pdnsutil_writes(db: TempDatabase) -> None:
    """Our rectify on one zone, pdnsutil's on a copy of it: the same ENT rows."""
    backend = db.backend()
    for zone in ("example.org", "example.net"):
        fill(backend, zone, Row(f"a.b.c.{zone}", "A", "192.0.2.1", 60),
             Row(f"child.{zone}", "NS", "ns.example.com", 60),
             Row(f"x.y.child.{zone}", "A", "192.0.2.2", 60),
             Row(f"_sip._tcp.{zone}", "SRV", f"1 5060 sip.{zone}", 60, 10),
             Row(f"stale.{zone}", None, "", 0))

    def ent_rows(zone: str) -> list[tuple]:
        rows = db.execute("SELECT r.name, r.auth, r.ordername, r.disabled FROM records r "
                          "JOIN domains d ON d.id = r.domain_id "
                          "WHERE r.type IS NULL AND d.name = ?", (zone,))
        return sorted((name.replace(zone, "Z"), bool(auth), order, bool(disabled))
                      for name, auth, order, disabled in rows)

    assert backend.rectify_zone("example.org") == 5          # 4 added, 1 removed
    pdnsutil(db, "rectify-zone", "example.net")
    assert ent_rows("example.org") == ent_rows("example.net")
    assert [row[0] for row in ent_rows("example.org")] == [
        "_tcp.Z", "b.c.Z", "c.Z", "y.child.Z"]
    assert backend.rectify_zone("example.org") == 0


def test_replace_zone_records_is_one_transaction(db: TempDatabase) -> None:
    backend = db.backend()
    fill(backend, "example.org")
    rows = [Row(f"h{i}.example.org", "A", f"192.0.2.{i % 250 + 1}", 60) for i in range(20000)]
    seen: list[int] = []
    started = time.monotonic()
    assert backend.replace_zone_records("example.org", zone_rows("example.org") + rows,
                                        progress=seen.append) == 20003
    assert time.monotonic() - started < 20
    assert seen[-1] == 20003
    with pytest.raises(BackendError):
        backend.replace_zone_records("example.org", [Row("x.example.org", "A", "1", 60),
                                                     Row("y" * 300, "A", "1", 60)]
                                     if db.kind != "gsqlite3" else _failing_rows())
    assert db.execute("SELECT count(*) FROM records") == [(20003,)]


def _failing_rows():
    yield Row("x.example.org", "A", "192.0.2.1", 60)
    raise BackendError("the source of the rows failed")


# -- a server noticing what is written directly into its database -------------------------------

@pytest.mark.parametrize("kind", ["gpgsql", "gmysql"])
def test_server_notices_direct_changes(kind: str, tmp_path: Path) -> None:
    with TempDatabase(kind, tmp_path) as db:
        backend = db.backend()
        org = fill(backend, "example.org", Row("www.example.org", "A", "192.0.2.1", 60))
        with Fastdns(tmp_path / "srv", {**db.settings(), "zone-check-interval": "1"}) as srv:
            assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]
            # no serial bump, as under replication
            db.execute("UPDATE records SET content = '192.0.2.2' WHERE name = 'www.example.org'")
            wait_until(lambda: rrs(srv.query("www.example.org", "A")) == ["192.0.2.2"], 10,
                       what="the updated record")
            db.execute("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled,"
                       " auth) VALUES (?, 'new.example.org', 'A', '192.0.2.3', 60, 0, ?, ?)",
                       (org, False, True))
            wait_until(lambda: rrs(srv.query("new.example.org", "A")) == ["192.0.2.3"], 10,
                       what="the inserted record")
            db.execute("DELETE FROM records WHERE name = 'new.example.org'")
            wait_until(lambda: srv.query("new.example.org", "A").rcode() == 3, 10,
                       what="NXDOMAIN for the deleted record")
            fill(backend, "example.net")
            wait_until(lambda: srv.query("example.net", "SOA").rcode() == 0, 10,
                       what="the new zone")
            backend.delete_zone("example.net")
            wait_until(lambda: srv.query("example.net", "SOA").rcode() == 5, 10,
                       what="REFUSED for the deleted zone")


def test_broken_rows_are_skipped_and_a_zone_without_soa_is_absent(db: TempDatabase,
                                                                   tmp_path: Path) -> None:
    """A row that cannot be read is left out with a line saying so, counted in the load
    summary, and the rest of its zone served; a zone whose rows hold no SOA is absent
    (REFUSED), as PowerDNS treats it (docs/sql-backends.md, "Reading a zone")."""
    backend = db.backend()
    org = fill(backend, "example.org", Row("www.example.org", "A", "192.0.2.1", 60))
    insert = ("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
              "VALUES (?, ?, ?, ?, 60, 0, ?, ?)")
    db.execute(insert, (org, "bad.example.org", "A", "192.0.2.999", False, True))
    (bad_id,) = db.execute("SELECT id FROM records WHERE name = 'bad.example.org'")[0]
    bare = backend.create_zone("nosoa.example")
    db.execute(insert, (bare, "www.nosoa.example", "A", "192.0.2.7", False, True))
    with Fastdns(tmp_path / "srv", db.settings()) as srv:
        assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]
        assert srv.query("bad.example.org", "A").rcode() == dns.rcode.NXDOMAIN   # Z2
        assert srv.query("www.nosoa.example", "A").rcode() == dns.rcode.REFUSED
        log = srv.log()
    lines = [line for line in log.splitlines() if f"records.id={bad_id}:" in line]
    assert len(lines) == 1, log
    assert "bad A data '192.0.2.999'" in lines[0] and "record skipped" in lines[0], lines
    assert "(0 failed, 1 without SOA, 1 broken records skipped)" in log, log
    nosoa = [line for line in log.splitlines() if "nosoa.example" in line]
    assert len(nosoa) == 1 and "no SOA" in nosoa[0], nosoa


def test_reload_is_immediate(tmp_path: Path) -> None:
    with TempDatabase("gsqlite3", tmp_path) as db:
        fill(db.backend(), "example.org", Row("www.example.org", "A", "192.0.2.1", 60))
        with Fastdns(tmp_path / "srv", {**db.settings(), "zone-check-interval": "0"}) as srv:
            assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]
            db.execute("UPDATE records SET content = '192.0.2.2' WHERE name = 'www.example.org'")
            time.sleep(1.5)
            assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]     # no checks
            hup(srv)
            assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.2"]


# -- outages ---------------------------------------------------------------------------------

@pytest.fixture
def cluster():
    pg = ThrowawayPostgres(free_port()).init()
    yield pg
    pg.remove()


def _seed(pg: ThrowawayPostgres, tmp_path: Path) -> GSQLBackend:
    from fastdns.backends.gpgsql import PostgreSQL

    settings = {k.removeprefix("gpgsql-"): v for k, v in pg.settings().items()}
    backend = GSQLBackend(PostgreSQL(settings), "gpgsql")
    backend.create_schema()
    fill(backend, "example.org", Row("www.example.org", "A", "192.0.2.1", 60))
    return backend


def test_database_gone_while_serving(cluster: ThrowawayPostgres, tmp_path: Path) -> None:
    cluster.start()
    backend = _seed(cluster, tmp_path)
    settings = {**cluster.settings(), "zone-check-interval": "1"}
    with Fastdns(tmp_path / "srv", settings) as srv:
        assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]
        backend.close()
        cluster.stop()
        wait_until(lambda: "database unavailable" in srv.log(), 10, what="the outage log line")
        time.sleep(3)                                 # several failed checks
        assert rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"]
        assert srv.log().count("database unavailable") == 1
        assert srv.log().count("ERROR") + srv.log().count("error") <= 2, srv.log()
        cluster.start()
        cluster.execute("UPDATE records SET content = '192.0.2.2' "
                        "WHERE name = 'www.example.org'")
        wait_until(lambda: rrs(srv.query("www.example.org", "A")) == ["192.0.2.2"], 15,
                   what="the change made after the database came back")
        assert "database available again" in srv.log()


def test_database_down_at_start_up(cluster: ThrowawayPostgres, tmp_path: Path) -> None:
    cluster.start()
    _seed(cluster, tmp_path).close()
    cluster.stop()
    settings = {**cluster.settings(), "zone-check-interval": "60"}
    with Fastdns(tmp_path / "srv", settings) as srv:
        # started, answering, and saying why there are no zones
        assert srv.query("www.example.org", "A").rcode() == 5
        assert srv.log().count("Connection refused") == 1, srv.log()
        cluster.start()
        # retried with backoff (1, 2, 4 s...), not after the 60 s interval
        wait_until(lambda: rrs(srv.query("www.example.org", "A")) == ["192.0.2.1"], 20,
                   what="the zones once the database is up")
        assert srv.proc is not None and srv.proc.poll() is None


# -- the example configuration, served from an SQLite file made on first run ------------------

def test_example_zones_from_a_sqlite_file_created_on_first_run(tmp_path: Path) -> None:
    """What conf/fastdns.conf needs to serve the example zones from SQLite: the file is
    created with PowerDNS's schema and filled from named.conf when it does not exist, and
    answers exactly as the zone files do; on the next start it is used as it is."""
    from tests._support.servers import CONF
    from tests.conformance.cases import all_cases
    from tests.conformance.normalise import compare
    from tests.conformance.wire import Client

    database = tmp_path / "run" / "fastdns.sqlite3"
    database.parent.mkdir()
    sqlite = {"launch": "gsqlite3", "gsqlite3-database": str(database),
              "gsqlite3-create-schema": "yes",
              "gsqlite3-seed-bind-config": str(CONF / "named.conf")}
    bind = {"launch": "bind", "bind-config": str(CONF / "named.conf")}
    with Fastdns(tmp_path / "bind", bind) as files, Fastdns(tmp_path / "sql", sqlite) as sql:
        assert "created gsqlite3 database" in sql.log() and "with the 4 zones" in sql.log()
        a, b = Client(files.address, files.port), Client(sql.address, sql.port)
        failures, compared = [], 0
        for case in all_cases():
            query = case.queries[0]
            if query.group != "zone data":
                continue
            qid = a.next_id()
            wire = query.wire(qid)
            diff = compare(a.exchange(wire, query.tcp), b.exchange(wire, query.tcp), qid)
            compared += 1
            if diff:
                failures.append(f"{query}: {diff}")
        a.close()
        b.close()
        assert compared > 1000 and not failures, failures[:10]
    # a second start uses the file as it is (a change made in it is served)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE records SET content = '192.0.2.250' "
                     "WHERE name = 'www.example.com' AND type = 'A'")
    conn.close()
    with Fastdns(tmp_path / "sql2", sqlite) as sql:
        assert "created" not in sql.log()
        assert rrs(sql.query("www.example.com", "A")) == ["192.0.2.250"]


# -- an SQLite file swapped by a rename ---------------------------------------------------------

def _sqlite_file(path: Path, address: str) -> None:
    """An SQLite database in PowerDNS's schema holding example.org, www at ``address``."""
    backend = GSQLBackend(SQLite3({"database": str(path), "create-schema": True}))
    backend.list_zones()
    fill(backend, "example.org", Row("www.example.org", "A", address, 60))
    backend.close()


def test_sqlite_file_replaced_by_a_rename_is_served(tmp_path: Path) -> None:
    """``mv new.db pdns.sqlite3`` (the usual atomic swap) is picked up by the periodic check
    and by ``reload``: the server does not keep reading the old file."""
    database = tmp_path / "pdns.sqlite3"
    _sqlite_file(database, "192.0.2.1")
    server = Fastdns(tmp_path / "server", {"launch": "gsqlite3",
                                           "gsqlite3-database": str(database),
                                           "zone-check-interval": "1"})

    def www() -> list[str]:
        return rrs(server.query("www.example.org", "A"), "A")

    with server:
        assert www() == ["192.0.2.1"]
        _sqlite_file(tmp_path / "new.sqlite3", "192.0.2.2")
        (tmp_path / "new.sqlite3").rename(database)
        assert wait_until(lambda: www() == ["192.0.2.2"], timeout=10), www()
    # without the periodic check: `reload` alone
    server = Fastdns(tmp_path / "server2", {"launch": "gsqlite3",
                                            "gsqlite3-database": str(database),
                                            "zone-check-interval": "0"})
    with server:
        assert www() == ["192.0.2.2"]
        _sqlite_file(tmp_path / "newer.sqlite3", "192.0.2.3")
        (tmp_path / "newer.sqlite3").rename(database)
        assert www() == ["192.0.2.2"]
        reply = send_command(["reload"], unix_path=str(server.control_socket))
        assert reply.ok, reply.text
        assert www() == ["192.0.2.3"]            # reload replies once every worker serves it

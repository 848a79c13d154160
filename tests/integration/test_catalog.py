"""Catalog zones (RFC 9432) through real servers: a fastdns producer (SQLite) and its AXFR,
fastdns and knotd consuming it, pdns_server and fastdns producing from one database, a
fastdns consumer of pdns_server's producer, and ``fastdns-util set-catalog`` beside
``pdnsutil`` on twin databases.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import dns.name
import dns.query
import dns.rdatatype
import pytest

from tests._support.peers import KnotCatalog, Pdns
from tests._support.servers import Fastdns
from tests.integration.helpers import ROOT, wait_until
from tests.integration.test_replication import load, serial, sqlite_server, util

pytestmark = pytest.mark.timeout(240)

CATALOG = """\
$ORIGIN catalog.example.
$TTL 3600
@   IN SOA ns1.example.net. hostmaster.example.net. 2024060101 3600 600 604800 300
    IN NS  ns1.example.net.
stray IN A 192.0.2.1
"""

MEMBER = """\
$ORIGIN {zone}.
$TTL 300
@    IN SOA ns1.example.net. hostmaster.example.net. {serial} 3600 600 604800 300
     IN NS  ns1.example.net.
www  IN A   192.0.2.{n}
"""

MEMBERS = ("shop.example", "blog.example", "mail.example")


def unique(domain_id: int, zone: str) -> str:
    """PowerDNS's member label: base32hex(SHA-1(wire name + decimal domains.id))."""
    wire = dns.name.from_text(zone).canonicalize().to_wire()
    digest = hashlib.sha1(wire + str(domain_id).encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def catalog_axfr(host: str, port: int, zone: str = "catalog.example") -> list[tuple]:
    """(owner, type, ttl, rdata text) of an AXFR, sorted, the closing SOA left out."""
    out = []
    for message in dns.query.xfr(host, zone, port=port, lifetime=10, relativize=False):
        for rrset in message.answer:
            for rdata in rrset:
                out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                            rrset.ttl, rdata.to_text().lower()))
    return sorted(set(out))


def domain_ids(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {name: int(i) for i, name in conn.execute("SELECT id, name FROM domains")}


def served(server, zone: str) -> bool:
    try:
        answer = server.query(zone, "SOA")
    except Exception:
        return False
    return answer.rcode() == 0 and bool(answer.answer)


def producer(tmp_path: Path, settings: dict[str, str]) -> Fastdns:
    """A fastdns producer of catalog.example with the three MEMBERS and a native zone
    in the catalog (not listed: only MASTER zones are, as in PowerDNS)."""
    server = sqlite_server(tmp_path / "producer", {"primary": "yes",
                                                  "allow-axfr-ips": "127.0.0.0/8", **settings})
    util(server, "create-zone", "catalog.example")
    load(server, "catalog.example", CATALOG, tmp_path / "catalog.zone")
    util(server, "set-kind", "catalog.example", "producer")
    for n, zone in enumerate((*MEMBERS, "native.example"), start=1):
        util(server, "create-zone", zone)
        load(server, zone, MEMBER.format(zone=zone, serial=10, n=n), tmp_path / f"{zone}.zone")
        if zone != "native.example":
            util(server, "set-kind", zone, "primary")
        util(server, "set-catalog", zone, "catalog.example")
    return server


def test_a_producer_serves_its_members_and_consumers_follow(tmp_path):
    consumer = sqlite_server(tmp_path / "consumer", {"secondary": "yes"})
    knot = KnotCatalog(tmp_path)
    primary = producer(tmp_path, {"also-notify": f"127.0.0.1:{consumer.port},"
                                                 f"127.0.0.1:{knot.port}"})
    util(consumer, "create-secondary-zone", "catalog.example", f"127.0.0.1:{primary.port}")
    util(consumer, "set-kind", "catalog.example", "consumer")
    knot.add_catalog("catalog.example", ("127.0.0.1", primary.port))
    ids = domain_ids(primary.settings["gsqlite3-database"])
    with primary.start(), consumer.start(), knot:
        # the producer's AXFR: SOA and NS as stored, version "2", a PTR per MASTER member
        # under PowerDNS's unique label, with TTL 0; nothing else of the zone
        records = catalog_axfr("127.0.0.1", primary.port)
        soa = [r for r in records if r[1] == "SOA"]
        assert len(soa) == 1 and int(soa[0][3].split()[2]) > 2024060101     # raised
        assert [r for r in records if r[1] != "SOA"] == sorted([
            ("catalog.example.", "NS", 3600, "ns1.example.net."),
            ("version.catalog.example.", "TXT", 0, '"2"'),
            *[(f"{unique(ids[z], z)}.zones.catalog.example.", "PTR", 0, f"{z}.")
              for z in MEMBERS]])
        # queries see the catalog too (PowerDNS answers them from its rows instead)
        assert primary.query(f"{unique(ids['shop.example'], 'shop.example')}.zones."
                             "catalog.example", "PTR").answer
        with sqlite3.connect(primary.settings["gsqlite3-database"]) as db:
            assert db.execute("SELECT content FROM domainmetadata WHERE kind = "
                              "'CATALOG-HASH'").fetchone()

        # a fastdns consumer makes the members secondaries of the same primary and
        # serves them; so does knotd
        for zone in MEMBERS:
            assert wait_until(lambda z=zone: served(consumer, z), timeout=40,
                              what=f"{zone} on the consumer")
            assert wait_until(lambda z=zone: knot.soa_serial(z) == 10, timeout=40,
                              what=f"{zone} on knotd")
        assert consumer.query("www.blog.example", "A").answer[0][0].address == "192.0.2.2"
        assert not served(consumer, "native.example")
        with sqlite3.connect(consumer.settings["gsqlite3-database"]) as db:
            rows = dict(db.execute("SELECT name, catalog FROM domains WHERE type = 'SLAVE'"))
        assert rows == {z: "catalog.example" for z in MEMBERS}

        # a member taken out of the catalog: a new serial, NOTIFY, and both consumers
        # drop the zone
        before = serial(primary, "catalog.example")
        util(primary, "set-catalog", "mail.example", "")
        assert wait_until(lambda: (serial(primary, "catalog.example") or 0) != before,
                          timeout=20, what="a new producer serial")
        assert not any("mail.example" in r[3] for r in catalog_axfr("127.0.0.1",
                                                                   primary.port))
        assert wait_until(lambda: not served(consumer, "mail.example"), timeout=30,
                          what="mail.example gone from the consumer")
        assert wait_until(lambda: knot.soa_serial("mail.example") is None, timeout=30,
                          what="mail.example gone from knotd")
        assert served(consumer, "shop.example") and knot.soa_serial("shop.example") == 10
        assert "member zone 'mail.example.' left the catalog; deleted" in consumer.log()
    assert "Traceback" not in primary.log() + consumer.log()


def test_pdns_and_fastdns_produce_one_catalog_from_one_database(tmp_path):
    """pdns_server and fastdns on the same SQLite database hand out the same catalog (the
    same CATALOG-HASH: neither raises the serial again after the other); a fastdns
    consumer of pdns_server's producer gets its members."""
    pdns = Pdns(tmp_path)
    consumer = sqlite_server(tmp_path / "consumer", {"secondary": "yes"})
    pdns.add_primary("catalog.example", CATALOG, notify=[("127.0.0.1", consumer.port)])
    for n, zone in enumerate(MEMBERS, start=1):
        pdns.add_primary(zone, MEMBER.format(zone=zone, serial=7, n=n),
                         notify=[("127.0.0.1", consumer.port)])
    util(consumer, "create-secondary-zone", "catalog.example", f"127.0.0.1:{pdns.port}")
    util(consumer, "set-kind", "catalog.example", "consumer")
    with pdns:
        pdns.pdnsutil("set-kind", "catalog.example", "producer")
        for zone in MEMBERS:
            pdns.pdnsutil("set-catalog", zone, "catalog.example")
        # pdns raises the serial at its next primary check (xfr-cycle-interval 5 s)
        wait_until(lambda: pdns.soa_serial("catalog.example") != 2024060101, timeout=20,
                   what="pdns's producer serial")
        ours = sqlite_server(tmp_path / "same-db", {
            "gsqlite3-database": str(pdns.db), "gsqlite3-create-schema": "no",
            "primary": "no", "allow-axfr-ips": "127.0.0.0/8"})
        with ours.start(), consumer.start():
            theirs = catalog_axfr("127.0.0.1", pdns.port)
            assert catalog_axfr("127.0.0.1", ours.port) == theirs
            assert len([r for r in theirs if r[1] == "PTR"]) == 3
            assert "new CATALOG-HASH" not in ours.log()      # pdns's hash is ours too
            for zone in MEMBERS:
                assert wait_until(lambda z=zone: served(consumer, z), timeout=40,
                                  what=f"{zone} from pdns on the consumer")
            assert consumer.query("www.mail.example", "A").answer[0][0].address == \
                "192.0.2.3"


def pdnsutil_twin(tmp_path: Path) -> tuple[Path, Path]:
    """A pdns.conf and a fastdns.conf on two copies of one SQLite database with zones."""
    base = tmp_path / "base.sqlite3"
    shutil.copy(Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
                tmp_path / "schema.sql")
    with sqlite3.connect(base) as db:
        db.executescript((tmp_path / "schema.sql").read_text())
        for i, (zone, kind) in enumerate([("cat.example", "PRODUCER"),
                                          ("a.example", "MASTER"), ("b.example", "MASTER"),
                                          ("c.example", "CONSUMER")], start=1):
            db.execute("INSERT INTO domains (id, name, type) VALUES (?, ?, ?)", (i, zone, kind))
            db.execute("INSERT INTO records (domain_id, name, type, content, ttl) VALUES "
                       "(?, ?, 'SOA', 'ns1.example.net hostmaster.example.net 1 2 3 4 5', 60)",
                       (i, zone))
    dirs = []
    for who in ("pdns", "fastdns"):
        d = tmp_path / who
        d.mkdir()
        shutil.copy(base, d / "db.sqlite3")
        conf = "pdns.conf" if who == "pdns" else "fastdns.conf"
        (d / conf).write_text(f"launch=gsqlite3\ngsqlite3-database={d / 'db.sqlite3'}\n")
        dirs.append(d)
    return dirs[0], dirs[1]


@pytest.mark.parametrize("args", [
    ("a.example", "cat.example"), ("A.Example.", "CAT.example."), ("a.example", ""),
    ("nonexistent.example", "cat.example"), ("a.example", "not-a-zone.example"),
    ("a..example", "cat.example"),
])
def test_set_catalog_as_pdnsutil(tmp_path, args):
    pdns_dir, ours_dir = pdnsutil_twin(tmp_path)
    if shutil.which("pdnsutil") is None:
        pytest.skip("pdnsutil is not installed")
    theirs = subprocess.run(["pdnsutil", f"--config-dir={pdns_dir}", "set-catalog", *args],
                            capture_output=True, text=True, timeout=30)
    mine = subprocess.run(["python3", "-m", "fastdns.cli.util", f"--config-dir={ours_dir}",
                           "set-catalog", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert mine.returncode == theirs.returncode
    assert mine.stdout == theirs.stdout
    assert mine.stderr.replace("fastdns-util", "pdnsutil") == theirs.stderr or \
        (mine.stderr.startswith("Error: ") and theirs.stderr.startswith("Error: "))

    def rows(d: Path) -> list[tuple]:
        with sqlite3.connect(d / "db.sqlite3") as db:
            return db.execute("SELECT id, name, type, catalog FROM domains ORDER BY id")\
                .fetchall()
    assert rows(ours_dir) == rows(pdns_dir)


@pytest.mark.parametrize("kind", ["producer", "primary", "secondary", "consumer"])
def test_list_all_zones_by_catalog_kind_as_pdnsutil(tmp_path, kind):
    pdns_dir, ours_dir = pdnsutil_twin(tmp_path)
    theirs = subprocess.run(["pdnsutil", f"--config-dir={pdns_dir}", "list-all-zones", kind],
                            capture_output=True, text=True, timeout=30)
    mine = subprocess.run(["python3", "-m", "fastdns.cli.util", f"--config-dir={ours_dir}",
                           "list-all-zones", kind], capture_output=True, text=True, timeout=60,
                          cwd=ROOT)
    assert (mine.returncode, sorted(mine.stdout.split())) == \
        (theirs.returncode, sorted(theirs.stdout.split()))

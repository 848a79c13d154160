"""ZoneDB's DNSSEC hook: zones with keys get the signed (or broken) image, zones without
keys are never looked at, and every change of keys or DNSSEC metadata moves the zone's
token — SQLite (scan and change log) and the bind backend with a bind-dnssec-db."""

from __future__ import annotations

import contextlib
import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from fastdns._snapshot import Snapshot
from fastdns.backends.bind import BindBackend
from fastdns.backends.registry import make_backends
from fastdns.config.loader import load_config, parse_command_line
from fastdns.zone import zonedb as zonedb_module
from fastdns.zone.zonedb import ZoneDB

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text()
DNSKEY, NSEC3PARAM, CDS, CDNSKEY = 48, 51, 59, 60


def make_db(path: Path, zones: tuple[str, ...]) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for zone in zones:
        conn.execute("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", (zone,))
        domain_id = conn.execute("SELECT id FROM domains WHERE name = ?", (zone,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "VALUES (?, ?, ?, ?, 300, 0, 0, 1)",
            [(domain_id, zone, "SOA", f"ns1.{zone} hostmaster.{zone} 1 7200 3600 1209600 300"),
             (domain_id, zone, "NS", f"ns1.{zone}"), (domain_id, f"ns1.{zone}", "A", "192.0.2.1")])
    conn.commit()
    conn.close()


def util(conf: Path, *args: str) -> str:
    from fastdns.cli.util import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([f"--config-dir={conf}", *args])
    assert code == 0, (args, out.getvalue(), err.getvalue())
    return out.getvalue()


def sql(path: Path, query: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(query, params)
    conn.close()


class Site:
    def __init__(self, base: Path, settings: str) -> None:
        self.base = base
        (base / "pdns.conf").write_text(settings)

    def zonedb(self) -> ZoneDB:
        config = load_config(parse_command_line([f"--config-dir={self.base}"],
                                                cwd=str(self.base)))
        return ZoneDB(make_backends(config), config=config)


@pytest.fixture
def sqlite_site(tmp_path: Path) -> Site:
    make_db(tmp_path / "pdns.sqlite3", ("example.com", "example.org"))
    return Site(tmp_path, f"launch=gsqlite3\ngsqlite3-database={tmp_path / 'pdns.sqlite3'}\n"
                          "gsqlite3-dnssec=yes\n")


@pytest.fixture
def events() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep(logging.INFO)
    logger = logging.getLogger("fastdns")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def apex(image: bytes, rdtype: int) -> list[bytes]:
    snap = Snapshot(image)
    for kind, _ttl, rdatas, _ in snap.node_rrsets(0):
        if kind == rdtype:
            return sorted(rdatas)
    return []


def published(conf: Path, zone: str, bind: bool = False) -> list[bytes]:
    """export-zone-dnskey's keys (of every published key), as rdata wire."""
    if bind:
        query = "SELECT id FROM cryptokeys WHERE published AND domain = ?"
        path = conf / "dnssec.db"
    else:
        query = ("SELECT k.id FROM cryptokeys k JOIN domains d ON d.id = k.domain_id "
                 "WHERE k.published AND d.name = ?")
        path = conf / "pdns.sqlite3"
    conn = sqlite3.connect(path)
    ids = [str(i) for (i,) in conn.execute(query, (zone,))]
    conn.close()
    out = []
    for line in "".join(util(conf, "export-zone-dnskey", zone, i) for i in ids).splitlines():
        text = line.split("DNSKEY", 1)[1].strip()
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, text)
        out.append(rdata.to_digestable())
    return sorted(out)


def images(db: ZoneDB, **kw: bool) -> dict[str, bytes]:
    result = db.refresh(**kw)
    return {z.name: z.image for z in result.images}


def test_sqlite_keys_and_metadata_reload_the_zone(sqlite_site: Site, events: list[str]) -> None:
    conf = sqlite_site.base
    db = sqlite_site.zonedb()
    first = images(db)
    assert set(first) == {"example.com.", "example.org."}
    assert not any(Snapshot(i).signed for i in first.values())

    util(conf, "secure-zone", "example.com")
    got = images(db, retry_failed=False)
    assert list(got) == ["example.com."]          # example.org untouched
    image = got["example.com."]
    assert Snapshot(image).signed
    assert apex(image, DNSKEY) == published(conf, "example.com") and len(apex(image, DNSKEY)) == 1
    assert apex(image, NSEC3PARAM) == []
    assert images(db, retry_failed=False) == {}  # nothing moved: nothing reloaded

    util(conf, "set-nsec3", "example.com", "1 0 0 ab")
    assert apex(images(db, retry_failed=False)["example.com."], NSEC3PARAM) == \
        [bytes([1, 0, 0, 0, 1, 0xab])]
    util(conf, "set-publish-cds", "example.com")
    util(conf, "set-publish-cdnskey", "example.com")
    image = images(db, retry_failed=False)["example.com."]
    assert len(apex(image, CDS)) == 1 and len(apex(image, CDNSKEY)) == 1

    key_id = util(conf, "add-zone-key", "example.com", "zsk", "inactive", "ecdsa256").split()[-1]
    image = images(db, retry_failed=False)["example.com."]
    assert len(apex(image, DNSKEY)) == 2
    util(conf, "unpublish-zone-key", "example.com", key_id)
    assert len(apex(images(db, retry_failed=False)["example.com."], DNSKEY)) == 1
    util(conf, "activate-zone-key", "example.com", key_id)
    assert list(images(db, retry_failed=False)) == ["example.com."]
    assert not [e for e in events if "DNSSEC" in e]

    # a corrupt key: one line, the zone's DO=1 queries fail, its other queries answer
    sql(conf / "pdns.sqlite3", "UPDATE cryptokeys SET content = 'Private-key-format: v1.2\n"
        "Algorithm: 13 (ECDSAP256SHA256)\nPrivateKey: !!\n' WHERE id = ?", key_id)
    image = images(db, retry_failed=False)["example.com."]
    assert Snapshot(image).signed and apex(image, DNSKEY) == []
    lines = [e for e in events if "DNSSEC" in e]
    assert len(lines) == 1, lines
    assert lines[0].startswith("zone 'example.com': DNSSEC disabled: key ") and \
        lines[0].endswith("; queries with DO=1 get SERVFAIL")
    assert images(db, retry_failed=False) == {}
    assert len([e for e in events if "DNSSEC" in e]) == 1

    util(conf, "remove-zone-key", "example.com", key_id)
    assert apex(images(db, retry_failed=False)["example.com."], DNSKEY) == \
        published(conf, "example.com")
    util(conf, "disable-dnssec", "example.com")
    assert not Snapshot(images(db, retry_failed=False)["example.com."]).signed


def test_change_log_moves_with_keys(sqlite_site: Site) -> None:
    conf = sqlite_site.base
    db = sqlite_site.zonedb()
    backend = db.backends[0]
    backend.install_change_log()          # type: ignore[attr-defined]
    images(db)
    util(conf, "secure-zone", "example.org")
    assert Snapshot(images(db, retry_failed=False)["example.org."]).signed
    conn = sqlite3.connect(conf / "pdns.sqlite3")
    key_id = str(conn.execute("SELECT MAX(id) FROM cryptokeys").fetchone()[0])
    conn.close()
    util(conf, "deactivate-zone-key", "example.org", key_id)
    assert list(images(db, retry_failed=False)) == ["example.org."]
    util(conf, "set-nsec3", "example.org")
    assert list(images(db, retry_failed=False)) == ["example.org."]
    assert images(db, retry_failed=False) == {}


def test_dnssec_off_and_presigned_without_signatures(tmp_path: Path,
                                                     events: list[str]) -> None:
    make_db(tmp_path / "pdns.sqlite3", ("example.com", "example.org"))
    site = Site(tmp_path, f"launch=gsqlite3\ngsqlite3-database={tmp_path / 'pdns.sqlite3'}\n"
                          "gsqlite3-dnssec=yes\n")
    util(tmp_path, "secure-zone", "example.com")
    util(tmp_path, "secure-zone", "example.org")
    util(tmp_path, "set-presigned", "example.org")
    got = images(site.zonedb())
    # a presigned zone that holds no RRSIG is served unsigned without DO, SERVFAIL with
    assert Snapshot(got["example.com."]).signed and Snapshot(got["example.org."]).signed
    assert apex(got["example.org."], DNSKEY) == []
    assert [e for e in events if "DNSSEC" in e] == [
        "zone 'example.org': DNSSEC disabled: PRESIGNED, but the zone holds no RRSIG "
        "records; queries with DO=1 get SERVFAIL"]
    (tmp_path / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database="
                                        f"{tmp_path / 'pdns.sqlite3'}\ngsqlite3-dnssec=no\n")
    assert not any(Snapshot(i).signed for i in images(site.zonedb()).values())


def test_max_nsec3_iterations(sqlite_site: Site, events: list[str]) -> None:
    util(sqlite_site.base, "secure-zone", "example.com")
    util(sqlite_site.base, "set-nsec3", "example.com", "1 0 20 -")
    (sqlite_site.base / "pdns.conf").write_text(
        (sqlite_site.base / "pdns.conf").read_text() + "max-nsec3-iterations=10\n")
    image = images(sqlite_site.zonedb())["example.com."]
    assert apex(image, DNSKEY) == []
    assert [e for e in events if "DNSSEC" in e] == [
        "zone 'example.com': DNSSEC disabled: NSEC3PARAM '1 0 20 -': 20 iterations, above "
        "max-nsec3-iterations=10; queries with DO=1 get SERVFAIL"]


def test_secure_image_failure_is_a_broken_zone(sqlite_site: Site, events: list[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    util(sqlite_site.base, "secure-zone", "example.com")

    def fail(image: bytes, setup: object) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(zonedb_module, "secure_image", fail)
    result = sqlite_site.zonedb().refresh()
    assert sorted(result.loaded) == ["example.com.", "example.org."] and not result.failed
    image = {z.name: z.image for z in result.images}["example.com."]
    assert Snapshot(image).signed and apex(image, DNSKEY) == []
    assert [e for e in events if "DNSSEC" in e] == [
        "zone 'example.com': DNSSEC disabled: internal error signing it: RuntimeError: boom; "
        "queries with DO=1 get SERVFAIL"]


def test_unkeyed_zones_are_not_read(sqlite_site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zones without keys never reach load_security_many."""
    util(sqlite_site.base, "secure-zone", "example.com")
    asked: list[list[str]] = []
    real = zonedb_module.load_security_many

    def spy(store, zones, max_iterations=None):  # type: ignore[no-untyped-def]
        asked.append(list(zones))
        return real(store, zones, max_iterations)

    monkeypatch.setattr(zonedb_module, "load_security_many", spy)
    db = sqlite_site.zonedb()
    images(db)
    assert asked == [["example.com"]]
    sql(sqlite_sit_db(sqlite_site), "UPDATE records SET ttl = 60 WHERE name = 'example.org'")
    images(db, retry_failed=False)
    assert asked == [["example.com"]]


def sqlite_sit_db(site: Site) -> Path:
    return site.base / "pdns.sqlite3"


def test_bind_dnssec_db_token(tmp_path: Path, events: list[str]) -> None:
    zones = tmp_path / "zones"
    zones.mkdir()
    for zone in ("example.com", "example.net"):
        (zones / f"{zone}.zone").write_text(
            f"$ORIGIN {zone}.\n@ 300 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
            "@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n")
    named = tmp_path / "named.conf"
    named.write_text("".join(f'zone "{z}" {{ type master; file "{zones}/{z}.zone"; }};\n'
                             for z in ("example.com", "example.net")))
    dnssec_db = tmp_path / "dnssec.db"
    site = Site(tmp_path, f"launch=bind\nbind-config={named}\nbind-dnssec-db={dnssec_db}\n")
    util(tmp_path, "create-bind-db", str(dnssec_db))
    db = site.zonedb()
    assert isinstance(db.backends[0], BindBackend) and db.backends[0].dnssec_db
    assert not any(Snapshot(i).signed for i in images(db).values())
    util(tmp_path, "secure-zone", "example.com")
    image = images(db, retry_failed=False)["example.com."]
    assert apex(image, DNSKEY) == published(tmp_path, "example.com", bind=True)
    util(tmp_path, "set-nsec3", "example.com")
    assert list(images(db, retry_failed=False)) == ["example.com."]
    assert images(db, retry_failed=False) == {}
    # the token a listing gives moves with the dnssec-db rows of the zone only
    backend = db.backends[0]
    before = {z: backend.change_token(z) for z in ("example.com.", "example.net.")}
    util(tmp_path, "set-publish-cdnskey", "example.com")
    backend.list_zones()
    assert backend.change_token("example.com.") != before["example.com."]
    assert backend.change_token("example.net.") == before["example.net."]

"""The manager loads signed zones: a real server over SQLite (``gsqlite3-dnssec=yes``) and a
BIND zone with a ``bind-dnssec-db``, keys made by ``fastdns-util``. Without DO: the zone's
DNSKEY, NSEC3PARAM, CDS and CDNSKEY as the keys and metadata say, and each change to them
served within ``zone-check-interval``; a corrupt key: one log line, SERVFAIL at once for
DO=1, answers for DO=0; an unsigned zone beside it is unaffected."""

from __future__ import annotations

import contextlib
import io
import sqlite3
import time
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from tests._support.servers import Fastdns
from tests.integration.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text()
SQL_ZONES = ("signed.test", "plain.test")


def soa(zone: str) -> str:
    return f"ns1.{zone} hostmaster.{zone} 1 7200 3600 1209600 300"


def make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for zone in SQL_ZONES:
        conn.execute("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", (zone,))
        domain_id = conn.execute("SELECT id FROM domains WHERE name = ?", (zone,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "VALUES (?, ?, ?, ?, 300, 0, 0, 1)",
            [(domain_id, zone, "SOA", soa(zone)), (domain_id, zone, "NS", f"ns1.{zone}"),
             (domain_id, f"ns1.{zone}", "A", "192.0.2.1"),
             (domain_id, f"www.{zone}", "A", "192.0.2.2")])
    conn.commit()
    conn.close()


def util(conf: Path, *args: str) -> str:
    """fastdns-util in this process (the main() the command runs)."""
    from fastdns.cli.util import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([f"--config-dir={conf}", *args])
    assert code == 0, (args, out.getvalue(), err.getvalue())
    return out.getvalue()


def key_ids(path: Path, zone: str, bind: bool = False) -> list[int]:
    query = "SELECT id FROM cryptokeys WHERE published AND domain = ? ORDER BY id" if bind else \
        ("SELECT k.id FROM cryptokeys k JOIN domains d ON d.id = k.domain_id WHERE k.published "
         "AND d.name = ? ORDER BY k.id")
    conn = sqlite3.connect(path)
    try:
        return [int(i) for (i,) in conn.execute(query, (zone,))]
    finally:
        conn.close()


def exported(conf: Path, path: Path, zone: str, bind: bool = False) -> set[str]:
    """export-zone-dnskey's DNSKEY rdata of every published key of ``zone``."""
    out = set()
    for key_id in key_ids(path, zone, bind):
        for line in util(conf, "export-zone-dnskey", zone, str(key_id)).splitlines():
            text = line.split("DNSKEY", 1)[1].strip()
            out.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, text)
                    .to_text())
    return out


def served(server: Fastdns, zone: str, rdtype: str) -> set[str]:
    response = server.query(zone, rdtype)
    assert response.rcode() == dns.rcode.NOERROR, response
    return {rd.to_text() for rrset in response.answer for rd in rrset
            if rrset.rdtype == dns.rdatatype.from_text(rdtype)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("dnssec-load")
    db = base / "pdns.sqlite3"
    make_db(db)
    zones = base / "zones"
    zones.mkdir()
    (zones / "hybrid.test.zone").write_text(
        f"$ORIGIN hybrid.test.\n@ 300 IN SOA {soa('hybrid.test')}\n@ 300 IN NS ns1\n"
        "ns1 300 IN A 192.0.2.1\nwww 300 IN A 192.0.2.3\n")
    named = base / "named.conf"
    named.write_text(f'zone "hybrid.test" {{ type master; file "{zones}/hybrid.test.zone"; }};\n')
    dnssec_db = base / "dnssec.db"
    server = Fastdns(base / "srv", {
        "launch": "gsqlite3,bind", "gsqlite3-database": str(db), "gsqlite3-dnssec": "yes",
        "bind-config": str(named), "bind-dnssec-db": str(dnssec_db),
        "bind-check-interval": "1", "zone-check-interval": "1"})
    conf = server.confdir
    util(conf, "create-bind-db", str(dnssec_db))
    util(conf, "secure-zone", "signed.test")
    util(conf, "secure-zone", "hybrid.test")
    with server:
        yield server, conf, db, dnssec_db


def test_keys_and_metadata_served(site) -> None:
    server, conf, db, dnssec_db = site
    assert served(server, "signed.test", "DNSKEY") == exported(conf, db, "signed.test")
    assert len(served(server, "signed.test", "DNSKEY")) == 1
    assert served(server, "hybrid.test", "DNSKEY") == \
        exported(conf, dnssec_db, "hybrid.test", bind=True)
    assert served(server, "plain.test", "DNSKEY") == set()
    assert served(server, "signed.test", "NSEC3PARAM") == set()

    util(conf, "set-nsec3", "signed.test", "1 0 0 ab")
    util(conf, "set-nsec3", "hybrid.test")
    wait_until(lambda: served(server, "signed.test", "NSEC3PARAM") == {"1 0 0 ab"}
               and served(server, "hybrid.test", "NSEC3PARAM") == {"1 0 0 -"}, timeout=6)

    util(conf, "set-publish-cds", "signed.test")
    util(conf, "set-publish-cdnskey", "hybrid.test")
    wait_until(lambda: len(served(server, "signed.test", "CDS")) == 1
               and len(served(server, "hybrid.test", "CDNSKEY")) == 1, timeout=6)
    assert served(server, "signed.test", "CDNSKEY") == set()

    # a new key, then the same key deactivated and unpublished: each served within seconds
    started = time.monotonic()
    util(conf, "add-zone-key", "signed.test", "zsk", "active", "ed25519")
    util(conf, "add-zone-key", "hybrid.test", "zsk", "active", "ecdsa256")
    wait_until(lambda: len(served(server, "signed.test", "DNSKEY")) == 2
               and len(served(server, "hybrid.test", "DNSKEY")) == 2, timeout=6)
    assert time.monotonic() - started < 4
    assert served(server, "signed.test", "DNSKEY") == exported(conf, db, "signed.test")
    assert served(server, "hybrid.test", "DNSKEY") == \
        exported(conf, dnssec_db, "hybrid.test", bind=True)
    newest = key_ids(db, "signed.test")[-1]
    util(conf, "deactivate-zone-key", "signed.test", str(newest))
    util(conf, "unpublish-zone-key", "signed.test", str(newest))
    wait_until(lambda: len(served(server, "signed.test", "DNSKEY")) == 1, timeout=6)
    assert "DNSSEC disabled" not in server.log()


def test_corrupt_key(site) -> None:
    server, conf, db, _ = site
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE cryptokeys SET content = 'Private-key-format: v1.2\nAlgorithm: "
                     "13 (ECDSAP256SHA256)\nPrivateKey: !!\n' WHERE id = "
                     "(SELECT MIN(k.id) FROM cryptokeys k JOIN domains d ON d.id = k.domain_id "
                     "WHERE d.name = 'signed.test')")
    conn.close()
    needle = "zone 'signed.test': DNSSEC disabled: key "
    wait_until(lambda: needle in server.log(), timeout=6)
    time.sleep(2.5)                                  # two more checks: no second line
    lines = [line for line in server.log().splitlines() if "DNSSEC disabled" in line]
    assert len(lines) == 1 and lines[0].endswith("; queries with DO=1 get SERVFAIL"), lines

    started = time.monotonic()
    signed_do = server.query("www.signed.test", "A", want_dnssec=True)
    assert signed_do.rcode() == dns.rcode.SERVFAIL
    assert time.monotonic() - started < 1.0          # from the image, not a signer's deadline
    plain = server.query("www.signed.test", "A")
    assert plain.rcode() == dns.rcode.NOERROR
    assert [rd.to_text() for rrset in plain.answer for rd in rrset] == ["192.0.2.2"]
    assert served(server, "signed.test", "DNSKEY") == set()
    # the unsigned zone beside it answers DO=1 queries as ever
    other = server.query("www.plain.test", "A", want_dnssec=True)
    assert other.rcode() == dns.rcode.NOERROR
    assert [rd.to_text() for rrset in other.answer for rd in rrset] == ["192.0.2.2"]
    assert not any(rrset.rdtype == dns.rdatatype.RRSIG for rrset in other.answer)

    # the key removed: signed again
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM cryptokeys WHERE content LIKE '%PrivateKey: !!%'")
    conn.close()
    util(conf, "add-zone-key", "signed.test", "ksk", "active", "ecdsa256")
    wait_until(lambda: served(server, "signed.test", "DNSKEY") == exported(conf, db,
                                                                            "signed.test"),
               timeout=6)
    assert isinstance(dns.message.make_query("x.test", "A"), dns.message.Message)

"""rectify-zone, rectify-all-zones, hash-zone-record and check-zone's DNSSEC checks of
``fastdns-util`` against Debian's ``pdnsutil`` 4.7: each case is set up once with pdnsutil
(load-zone, secure-zone, set-nsec3, set-presigned...) in an SQLite database, the database is
copied, pdnsutil works on one copy and fastdns-util on the other, and the ``records`` tables
(``auth``, ``ordername``, empty non-terminal rows) and the messages must be the same."""

import contextlib
import io
import shutil
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import dns.dnssec
import pytest

from fastdns.cli.util import main as util_main

PDNSUTIL = shutil.which("pdnsutil")
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
pytestmark = pytest.mark.skipif(PDNSUTIL is None or not SCHEMA.exists(),
                                reason="pdnsutil (pdns-backend-sqlite3) is not installed")

DS = "12345 13 2 " + "ab" * 32
ZONE = textwrap.dedent(f"""\
    $ORIGIN example.com.
    $TTL 300
    @ IN SOA ns1 hostmaster 1 2h 1h 2w 5m
    @ NS ns1
    @ NS ns2.other.net.
    ns1 A 192.0.2.1
    www A 192.0.2.2
    a.b.c A 192.0.2.3
    *.wild A 192.0.2.4
    *.x.wild2 TXT "ent above a wildcard"
    Upper.CASE A 192.0.2.5
    sub NS ns.sub
    sub DS {DS}
    sub A 192.0.2.9
    ns.sub A 192.0.2.6
    deep.x.sub A 192.0.2.7
    insec NS ns.other.net.
    insec2 NS ns.insec2
    ns.insec2 AAAA 2001:db8::1
    d.e.insec3 NS ns.other.net.
    s.e.sec NS ns.other.net.
    s.e.sec DS {DS}
    mixed.e.both NS ns.other.net.
    host.e.both A 192.0.2.8
    _sip._tcp SRV 10 20 5060 sip
    d1.d2.d3.d4.d5 TXT "deep"
    """)


class Site:
    """One SQLite database in PowerDNS's schema with a pdns.conf that launches it."""

    def __init__(self, root: Path, dnssec: bool = True) -> None:
        self.root = root
        self.db = root / "pdns.sqlite3"
        self.conf = root / "conf"
        self.conf.mkdir(parents=True, exist_ok=True)
        (self.conf / "pdns.conf").write_text(
            f"launch=gsqlite3\ngsqlite3-database={self.db}\n"
            f"gsqlite3-dnssec={'yes' if dnssec else 'no'}\n")

    def create(self) -> "Site":
        conn = sqlite3.connect(self.db)
        conn.executescript(SCHEMA.read_text())
        conn.close()
        return self

    def copy(self, root: Path, dnssec: bool = True) -> "Site":
        other = Site(root, dnssec)
        shutil.copy(self.db, other.db)
        return other

    def pdnsutil(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        done = subprocess.run([PDNSUTIL, f"--config-dir={self.conf}", *args],
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        if check:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.returncode, done.stdout, done.stderr

    def util(self, *args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = util_main([f"--config-dir={self.conf}", *args])
        return code, out.getvalue(), err.getvalue()

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            with conn:
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def rows(self) -> list[tuple]:
        """Every ``records`` row but its id, sorted."""
        return sorted(self.sql(
            "SELECT d.name, r.name, quote(r.type), quote(r.content), quote(r.ttl), "
            "quote(r.prio), r.disabled, quote(r.auth), quote(r.ordername) "
            "FROM records r JOIN domains d ON d.id = r.domain_id"), key=repr)


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = Site(tmp_path / "base").create()
    (tmp_path / "example.zone").write_text(ZONE)
    site.pdnsutil("load-zone", "example.com", str(tmp_path / "example.zone"))
    return site


def unrectify(site: Site) -> None:
    """Undo what rectify wrote (and leave a stale empty non-terminal, a stray ordername,
    a disabled record and a row stored in uppercase), so that rectify has work to do."""
    site.sql("DELETE FROM records WHERE type IS NULL")
    site.sql("UPDATE records SET auth = 1, ordername = NULL")
    site.sql("UPDATE records SET ordername = 'bogus' WHERE name = 'www.example.com'")
    domain_id = site.sql("SELECT id FROM domains WHERE name = 'example.com'")[0][0]
    for name, rtype, content, disabled in (
            ("stale.example.com", None, None, 0),
            ("c.example.com", None, None, 0),
            ("only.disabled.example.com", "A", "192.0.2.10", 1),
            ("UPPER.stored.example.com", "A", "192.0.2.11", 0)):
        site.sql("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, "
                 "auth, ordername) VALUES (?, ?, ?, ?, 300, 0, ?, 1, NULL)",
                 (domain_id, name, rtype, content, disabled))


def compare(site: Site, tmp_path: Path, *command: str, dnssec: bool = True,
            code: int = 0) -> tuple[str, Site]:
    """Run ``command`` with pdnsutil and with fastdns-util on copies of ``site``: the same
    rows, exit code and messages; pdnsutil's stderr and fastdns's copy."""
    theirs = site.copy(tmp_path / f"pdns-{len(list(tmp_path.iterdir()))}", dnssec)
    ours = site.copy(tmp_path / f"fastdns-{len(list(tmp_path.iterdir()))}", dnssec)
    their_code, their_out, their_err = theirs.pdnsutil(*command, check=False)
    our_code, our_out, our_err = ours.util(*command)
    assert (our_code, our_out, our_err) == (their_code, their_out, their_err)
    assert their_code == code
    assert ours.rows() == theirs.rows()
    return their_err, ours


def by_name(site: Site) -> dict[tuple[str, str | None], tuple]:
    return {(name, rtype): (auth, order) for _, name, rtype, _, _, _, _, auth, order
            in site.rows()}


# --------------------------------------------------------------------------------------------
# rectify-zone in each mode


@pytest.mark.parametrize("dnssec", [True, False])
def test_unsigned_zone(site: Site, tmp_path: Path, dnssec: bool) -> None:
    unrectify(site)
    err, ours = compare(site, tmp_path, "rectify-zone", "example.com", dnssec=dnssec)
    assert err.startswith("Adding empty non-terminals for non-DNSSEC zone 'example.com', ")
    rows = by_name(ours)
    assert ("c.example.com", "NULL") in rows and ("stale.example.com", "NULL") not in rows
    # with gsqlite3-dnssec=yes PowerDNS sets auth (not ordername) in an unsigned zone too
    assert rows[("ns.sub.example.com", "'A'")][0] == ("0" if dnssec else "1")
    compare(ours, tmp_path, "rectify-zone", "example.com", dnssec=dnssec)


def test_nsec_zone(site: Site, tmp_path: Path) -> None:
    site.pdnsutil("secure-zone", "example.com")
    unrectify(site)
    err, ours = compare(site, tmp_path, "rectify-zone", "example.com")
    assert err.startswith("Adding NSEC ordering information for zone 'example.com', ")
    rows = by_name(ours)
    assert rows[("example.com", "'SOA'")] == ("1", "''")
    assert rows[("a.b.c.example.com", "'A'")] == ("1", "'c b a'")
    assert rows[("upper.case.example.com", "'A'")] == ("1", "'case upper'")
    assert rows[("*.wild.example.com", "'A'")] == ("1", "'wild *'")
    assert rows[("sub.example.com", "'NS'")] == ("0", "'sub'")
    assert rows[("sub.example.com", "'DS'")] == ("1", "'sub'")
    assert rows[("sub.example.com", "'A'")] == ("0", "NULL")
    assert rows[("ns.sub.example.com", "'A'")] == ("0", "NULL")
    assert rows[("b.c.example.com", "NULL")] == ("1", "NULL")       # ENT: no ordername
    assert rows[("x.sub.example.com", "NULL")] == ("0", "NULL")
    assert rows[("e.insec3.example.com", "NULL")] == ("0", "NULL")
    compare(ours, tmp_path, "rectify-zone", "example.com")          # again: same count


@pytest.mark.parametrize("param,narrow", [
    ("1 0 0 -", False), ("1 1 5 AbCd", False), ("1 0 1 aBc", True), ("1 1 0 -", True)])
def test_nsec3_zone(site: Site, tmp_path: Path, param: str, narrow: bool) -> None:
    site.pdnsutil("secure-zone", "example.com")
    site.pdnsutil("set-nsec3", "example.com", param, *(["narrow"] if narrow else []))
    unrectify(site)
    err, ours = compare(site, tmp_path, "rectify-zone", "example.com")
    rows = by_name(ours)
    opt_out = param.split()[1] == "1"
    if narrow:
        assert err.startswith("Erasing NSEC3 ordering since we are narrow")
        assert {order for _, order in rows.values()} == {"NULL"}
    else:
        assert ("opt-out " in err) == opt_out
        assert len(rows[("example.com", "'SOA'")][1]) == 34            # 32 + quotes
        assert rows[("ns.sub.example.com", "'A'")] == ("0", "NULL")
        assert rows[("insec.example.com", "'NS'")][1] == ("NULL" if opt_out else
                                                          rows[("insec.example.com",
                                                                "'NS'")][1])
        ent = rows[("e.insec3.example.com", "NULL")]
        assert ent == (("0", "NULL") if opt_out else ("1", ent[1]))
    compare(ours, tmp_path, "rectify-zone", "example.com")


def test_modes_without_signing(site: Site, tmp_path: Path) -> None:
    """NSEC3PARAM without keys, and inactive keys only: rectified as unsigned."""
    site.pdnsutil("set-nsec3", "example.com", "1 0 0 -")
    unrectify(site)
    err, ours = compare(site, tmp_path, "rectify-zone", "example.com")
    assert err.startswith("Adding empty non-terminals for non-DNSSEC zone")
    ours.pdnsutil("add-zone-key", "example.com", "zsk", "inactive", "ecdsa256")
    err, _ = compare(ours, tmp_path, "rectify-zone", "example.com")
    assert err.startswith("Adding empty non-terminals for non-DNSSEC zone")


def test_presigned_zone_is_refused(site: Site, tmp_path: Path) -> None:
    site.pdnsutil("set-presigned", "example.com")
    err, _ = compare(site, tmp_path, "rectify-zone", "example.com", code=1)
    assert err == "Rectify presigned zone 'example.com' is not allowed/necessary.\n"
    # and with the backend's dnssec off PowerDNS does not see PRESIGNED
    compare(site, tmp_path, "rectify-zone", "example.com", dnssec=False)


def test_rectify_all_zones_and_missing_zones(site: Site, tmp_path: Path) -> None:
    (tmp_path / "two.zone").write_text("@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\na.b A 192.0.2.1\n")
    site.pdnsutil("load-zone", "two.example", str(tmp_path / "two.zone"))
    site.pdnsutil("secure-zone", "two.example")
    site.pdnsutil("set-nsec3", "two.example", "1 0 0 -", "narrow")
    (tmp_path / "pre.zone").write_text("@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\n")
    site.pdnsutil("load-zone", "pre.example", str(tmp_path / "pre.zone"))
    site.pdnsutil("set-presigned", "pre.example")
    site.pdnsutil("create-secondary-zone", "nosoa.example", "192.0.2.1")
    unrectify(site)
    err, _ = compare(site, tmp_path, "rectify-all-zones", code=1)
    assert "Rectifying pre.example: Rectify presigned zone" in err
    compare(site, tmp_path, "rectify-all-zones", "quiet", code=1)
    compare(site, tmp_path, "rectify-zone", "two.example", "missing.example", code=1)
    compare(site, tmp_path, "rectify-zone", "nosoa.example", code=1)


# --------------------------------------------------------------------------------------------
# hash-zone-record


def test_hash_zone_record(site: Site, tmp_path: Path) -> None:
    compare(site, tmp_path, "hash-zone-record", "example.com", "www.example.com")
    compare(site, tmp_path, "hash-zone-record", "missing.example", "www")
    assert site.util("hash-zone-record", "example.com") == (          # pdnsutil: exit 0 (U1)
        1, "", "Syntax: fastdns-util hash-zone-record ZONE RNAME\n")
    site.pdnsutil("set-nsec3", "example.com", "1 0 7 AbC1")
    for name in ("www.example.com", "WWW.Example.COM.", "www", "a\\.b.example.com",
                 "x\\032y.example.com", "example.com"):
        compare(site, tmp_path, "hash-zone-record", "example.com", name)
    compare(site, tmp_path, "hash-zone-record", "example.com", "www", dnssec=False)
    site.pdnsutil("set-nsec3", "example.com", "1 0 0 -", "narrow")
    _, ours = compare(site, tmp_path, "hash-zone-record", "Example.com.", "www.example.com")
    assert ours.util("hash-zone-record", "example.com", "www.example.com")[1] == \
        dns.dnssec.nsec3_hash("www.example.com.", "", 0, 1).lower() + "\n"


# --------------------------------------------------------------------------------------------
# check-zone's DNSSEC checks

KEY = "6EsxkBcEbcTxC9hojRTgUwZk8BOcKqbFS6kNqX3m3ILRKINU4RwKKW/08SsZxBFPk4CkmG/AfUVHPnhfjPCjvQ=="
CHECKED = textwrap.dedent(f"""\
    $ORIGIN ck.test.
    $TTL 300
    @ SOA ns1 hostmaster 1 2h 1h 2w 5m
    @ NS ns1
    ns1 A 192.0.2.1
    www A 192.0.2.2
    *.wild A 192.0.2.3
    sub NS ns.sub
    sub DS {DS}
    ns.sub A 192.0.2.4
    lost DS {DS}
    @ 3600 DNSKEY 256 3 13 {KEY}
    @ 300 CDNSKEY 256 3 13 {KEY}
    sub DNSKEY 256 3 13 {KEY}
    www RRSIG A 13 3 300 20240101000000 20231201000000 12345 ck.test. {KEY}
    www NSEC wild.ck.test. A RRSIG NSEC
    0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A
    """)


def test_check_zone_dnssec_texts(tmp_path: Path) -> None:
    site = Site(tmp_path / "base").create()
    (tmp_path / "ck.zone").write_text(CHECKED)
    site.pdnsutil("load-zone", "ck.test", str(tmp_path / "ck.zone"))
    out = compare(site, tmp_path, "check-zone", "ck.test", code=1)[1].util(
        "check-zone", "ck.test")[1]
    assert "[Error] RRSIG found at 'www.ck.test' in non-presigned zone. These do not belong " \
        "in the database.\n" in out
    assert "[Error] NSEC or NSEC3 found at 'www.ck.test'. These do not belong in the " \
        "database.\n" in out
    assert "[Warning] DNSKEY at 'ck.test' in non-presigned zone will mostly be ignored and " \
        "can cause problems.\n" in out
    assert "[Error] Following record is auth=1, run pdnsutil rectify-zone?: ns.sub.ck.test " \
        "IN A 192.0.2.4\n" in out
    compare(site, tmp_path, "check-zone", "ck.test", dnssec=False, code=1)
    site.pdnsutil("rectify-zone", "ck.test")
    site.sql("UPDATE records SET auth = 0 WHERE name = 'www.ck.test'")
    compare(site, tmp_path, "check-zone", "ck.test", code=1)
    site.pdnsutil("secure-zone", "ck.test")
    site.pdnsutil("set-nsec3", "ck.test", "1 1 0 -")
    out = compare(site, tmp_path, "check-zone", "ck.test", code=1)[1].util(
        "check-zone", "ck.test")[1]
    assert "[Info] Wildcard records in opt-out zones are insecure." in out
    site.pdnsutil("set-presigned", "ck.test")
    compare(site, tmp_path, "check-zone", "ck.test", code=1)
    compare(site, tmp_path, "check-all-zones", code=1)


# --------------------------------------------------------------------------------------------
# PostgreSQL (booleans, its own placeholders): one NSEC3 opt-out zone


def test_nsec3_opt_out_on_postgresql(tmp_path: Path) -> None:
    from tests._support.sqldb import TempDatabase

    def setup(db: TempDatabase, name: str) -> Path:
        conf = tmp_path / name
        conf.mkdir()
        (conf / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in
                                                db.settings().items()) + "gpgsql-dnssec=yes\n")
        for args in (("load-zone", "example.com", str(tmp_path / "example.zone")),
                     ("secure-zone", "example.com"),
                     ("set-nsec3", "example.com", "1 1 3 Be5A")):
            done = subprocess.run([PDNSUTIL, f"--config-dir={conf}", *args],
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
        db.execute("DELETE FROM records WHERE type IS NULL")
        db.execute("UPDATE records SET auth = true, ordername = NULL")
        return conf

    def rows(db: TempDatabase) -> list[tuple]:
        return sorted(db.execute("SELECT name, type, auth, ordername, content, ttl, prio "
                                 "FROM records"), key=repr)

    (tmp_path / "example.zone").write_text(ZONE)
    with TempDatabase("gpgsql", tmp_path) as theirs, TempDatabase("gpgsql", tmp_path) as ours:
        their_conf, our_conf = setup(theirs, "pdns"), setup(ours, "fastdns")
        done = subprocess.run([PDNSUTIL, f"--config-dir={their_conf}", "rectify-zone",
                               "example.com"], capture_output=True, text=True, timeout=60)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = util_main([f"--config-dir={our_conf}", "rectify-zone", "example.com"])
        assert (code, out.getvalue(), err.getvalue()) == \
            (done.returncode, done.stdout, done.stderr)
        assert rows(ours) == rows(theirs)
        assert ("e.insec3.example.com", None, False, None, None, None, None) in rows(ours)

"""``fastdns-util`` as an operator runs it: the real command (``python3 -m fastdns.cli.util``)
against SQLite files in a temporary directory, checked against Debian's ``pdnsutil`` and
``zone2sql`` 4.7 reading and writing the same databases, with the same pdns.conf."""

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fastdns.backends.gsql import schema_sql

ROOT = Path(__file__).resolve().parents[2]
PDNSUTIL = shutil.which("pdnsutil")
ZONE2SQL = shutil.which("zone2sql")
needs_pdnsutil = pytest.mark.skipif(PDNSUTIL is None, reason="pdnsutil is not installed")
needs_zone2sql = pytest.mark.skipif(ZONE2SQL is None, reason="zone2sql is not installed")

ZONE = textwrap.dedent("""\
    $ORIGIN example.com.
    $TTL 300
    @ IN SOA ns1 hostmaster ( 2024010101 ; serial
        2h 1h 2w 5m )
    @ NS ns1
    @ NS ns2.other.net.
    ns1 A 192.0.2.1
    www 600 IN A 192.0.2.2
      AAAA 2001:DB8:0::1
    Mail MX 10 mail.Example.com.
    txt TXT "hello world" "a\\"b" c ; comment
    _sip._tcp SRV 10 20 5060 sip
    sub NS ns.sub
    ns.sub A 192.0.2.3
    cname CNAME www
    caa CAA 0 issue "letsencrypt.org"
    sshfp SSHFP 1 1 ( ABCDEF0123456789ABCDEF0123456789
        ABCDEF01 )
    unk TYPE65280 \\# 4 0A000001
    ptr PTR .
    $GENERATE 1-3 h$ A 10.0.0.$
    """)


def make_db(path):
    conn = sqlite3.connect(path)
    conn.executescript(schema_sql("sqlite3"))
    conn.close()


@pytest.fixture
def site(tmp_path):
    """A config dir with pdns.conf (launch=gsqlite3) that both tools read, and its DB."""
    db = tmp_path / "pdns.sqlite3"
    make_db(db)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={db}\n")
    (tmp_path / "example.zone").write_text(ZONE)
    return tmp_path


def util(site, *args, stdin="", env=None):
    return subprocess.run([sys.executable, "-m", "fastdns.cli.util",
                           f"--config-dir={site / 'conf'}", *args],
                          capture_output=True, text=True, input=stdin, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=site)


def pdnsutil(conf_dir, *args):
    return subprocess.run([PDNSUTIL, f"--config-dir={conf_dir}", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def rows(db, zone):
    conn = sqlite3.connect(db)
    out = conn.execute("SELECT r.name, r.type, r.content, r.ttl, r.prio, r.disabled, r.auth, "
                       "r.ordername FROM records r JOIN domains d ON d.id = r.domain_id WHERE "
                       "d.name = ? AND r.type IS NOT NULL ORDER BY r.id", (zone,)).fetchall()
    conn.close()
    return out


def second_site(site):
    """Another config dir and DB beside ``site`` (for pdnsutil's side of a comparison)."""
    other = site / "pdns"
    other.mkdir()
    db = other / "pdns.sqlite3"
    make_db(db)
    (other / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={db}\n")
    return other, db


# --------------------------------------------------------------------------------------------
# load-zone, list-zone, check-zone against pdnsutil


@needs_pdnsutil
def test_load_zone_writes_the_rows_pdnsutil_writes(site):
    result = util(site, "load-zone", "example.com", "example.zone")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Creating 'example.com'\n"
    other, other_db = second_site(site)
    assert pdnsutil(other, "load-zone", "example.com", str(site / "example.zone")).returncode == 0
    assert rows(site / "pdns.sqlite3", "example.com") == rows(other_db, "example.com")
    # list-zone: ours and pdnsutil's on the same database, and on each other's
    ours = util(site, "list-zone", "example.com")
    theirs = pdnsutil(site / "conf", "list-zone", "example.com")
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert ours.stdout.startswith("$ORIGIN .\n_sip._tcp.example.com\t300\tIN\tSRV\t10 20 5060 "
                                  "sip.example.com.\n")
    # check-zone: the same findings, in the same words
    ours = util(site, "check-zone", "example.com")
    theirs = pdnsutil(site / "conf", "check-zone", "example.com")
    assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout)
    assert ours.stdout.endswith("Checked 19 records of 'example.com', 0 errors, 2 warnings.\n")
    # loading again replaces the contents
    again = util(site, "load-zone", "example.com", "example.zone")
    assert again.stderr == "Zone 'example.com' exists already, replacing contents\n"
    assert rows(site / "pdns.sqlite3", "example.com") == rows(other_db, "example.com")


def test_load_zone_refuses_a_bad_file_and_leaves_no_zone(site):
    (site / "out.zone").write_text("@ SOA ns1 h 1 2 3 4 5\nx.other.org. A 192.0.2.1\n")
    result = util(site, "load-zone", "ex.test", "out.zone")
    assert result.returncode == 1
    assert "File contains record named 'x.other.org' which is not part of zone 'ex.test'" \
        in result.stderr
    (site / "bad.zone").write_text("@ SOA ns1 h 1 2 3 4 5\nx A 1.2.3.444\n")
    result = util(site, "load-zone", "ex.test", "bad.zone")
    assert result.returncode == 1
    assert "Bad record content in record for x.ex.test|A: " in result.stderr
    (site / "type.zone").write_text("@ SOA ns1 h 1 2 3 4 5\nx FOO 1\n")
    result = util(site, "load-zone", "ex.test", "type.zone")
    assert result.returncode == 1
    # the server's reader, and its file:line form (docs/differences.md)
    assert "type.zone:2: 'FOO' is not a record type PowerDNS knows" in result.stderr
    assert util(site, "list-all-zones", "-v").stdout == "All zonecount: 0\n"


def test_check_zone_finds_errors(site):
    (site / "k.zone").write_text("$ORIGIN k.test.\n@ SOA ns h 1 2 3 4 5\nc CNAME x\nc A 1.2.3.4\n"
                                 "d A 1.2.3.4\nd A 1.2.3.4\n")
    assert util(site, "load-zone", "k.test", "k.zone").returncode == 0
    result = util(site, "check-zone", "k.test")
    assert result.returncode == 1
    assert result.stdout == (
        "[Error] Duplicate record found in rrset: 'd.k.test IN A 1.2.3.4'\n"
        "[Error] CNAME c.k.test found, but other records with same label exist.\n"
        "[Error] No NS record at zone apex in zone 'k.test'\n"
        "Checked 5 records of 'k.test', 3 errors, 0 warnings.\n")
    result = util(site, "check-all-zones")
    assert result.returncode == 1
    assert result.stdout.endswith("Checked 1 zones, 1 had errors.\n")


# --------------------------------------------------------------------------------------------
# zones and records, read back by pdnsutil


@needs_pdnsutil
def test_zone_and_record_commands_as_pdnsutil_sees_them(site):
    assert util(site, "create-zone", "b.test", "ns1.b.test").stdout == \
        "Also adding one NS record\n"
    exists = util(site, "zone", "create", "b.test")
    assert (exists.returncode, exists.stderr) == (1, "Zone 'b.test' exists already\n")
    added = util(site, "add-record", "b.test", "www", "A", "300", "192.0.2.2", "192.0.2.3")
    assert added.stdout == ("New rrset:\nwww.b.test. 300 IN A 192.0.2.2\n"
                            "www.b.test. 300 IN A 192.0.2.3\n")
    assert util(site, "rrset", "add", "b.test", "@", "MX", "10 mx.b.test").returncode == 0
    assert util(site, "add-record", "b.test", "v6", "AAAA", "2001:DB8:0::1").returncode == 0
    replaced = util(site, "replace-rrset", "b.test", "www", "A", "60", "192.0.2.9")
    assert replaced.stdout.startswith("Current records for www.b.test IN A will be replaced\n")
    assert util(site, "delete-rrset", "b.test", "v6", "AAAA").returncode == 0
    serial = util(site, "increase-serial", "b.test")
    assert serial.stdout == "SOA serial for zone b.test set to 1\n"
    listed = pdnsutil(site / "conf", "list-zone", "b.test")
    assert listed.stdout == (
        "$ORIGIN .\n"
        "b.test\t3600\tIN\tMX\t10 mx.b.test.\n"
        "b.test\t3600\tIN\tNS\tns1.b.test.\n"
        "b.test\t3600\tIN\tSOA\ta.misconfigured.dns.server.invalid hostmaster.b.test 1 10800 "
        "3600 604800 3600\n"
        "www.b.test\t60\tIN\tA\t192.0.2.9\n")
    assert util(site, "list-zone", "b.test").stdout == listed.stdout
    assert util(site, "create-secondary-zone", "s.test", "192.0.2.1").returncode == 0
    assert util(site, "set-kind", "b.test", "primary").returncode == 0
    assert util(site, "set-account", "b.test", "acme").returncode == 0
    assert pdnsutil(site / "conf", "list-all-zones", "primary").stdout == "b.test\n"
    assert util(site, "list-all-zones").stdout == "b.test\n"   # s.test has no SOA yet
    assert util(site, "rectify-zone", "b.test").returncode == 0
    assert util(site, "delete-zone", "s.test").returncode == 0
    gone = util(site, "delete-zone", "s.test")
    assert (gone.returncode, gone.stderr) == (1, "Zone 's.test' not found!\n")


@needs_pdnsutil
def test_metadata_and_autoprimaries(site):
    util(site, "create-zone", "m.test")
    assert util(site, "add-meta", "m.test", "ALSO-NOTIFY", "192.0.2.1", "192.0.2.2").stdout == \
        "Set 'm.test' meta ALSO-NOTIFY = 192.0.2.1, 192.0.2.2\n"
    assert util(site, "set-meta", "m.test", "SOA-EDIT", "INCEPTION-INCREMENT").returncode == 0
    expected = ("Metadata for 'm.test'\nALSO-NOTIFY = 192.0.2.1, 192.0.2.2\n"
                "SOA-EDIT = INCEPTION-INCREMENT\n")
    assert util(site, "get-meta", "m.test").stdout == expected
    assert pdnsutil(site / "conf", "get-meta", "m.test").stdout == expected
    refused = util(site, "add-meta", "m.test", "SOA-EDIT", "x")
    assert refused.returncode == 1
    assert util(site, "add-autoprimary", "192.0.2.1", "ns1.example.com", "acct").returncode == 0
    listed = "IP=192.0.2.1, NS=ns1.example.com, account=acct\n"
    assert util(site, "list-supermasters").stdout == listed
    assert pdnsutil(site / "conf", "list-autoprimaries").stdout == listed
    assert util(site, "remove-autoprimary", "192.0.2.1", "ns1.example.com").returncode == 0
    assert util(site, "autoprimary", "list").stdout == ""


def test_edit_zone_applies_an_edit(site):
    util(site, "create-zone", "e.test", "ns1.e.test")
    editor = site / "editor.sh"
    editor.write_text("#!/bin/sh\necho 'www.e.test 60 IN A 192.0.2.99' >> \"$1\"\n")
    editor.chmod(0o755)
    result = util(site, "edit-zone", "e.test", stdin="y\na\n", env={"EDITOR": str(editor)})
    assert result.returncode == 0, result.stderr
    assert "+www.e.test 60 IN A 192.0.2.99" in result.stdout
    assert "You have not updated the SOA record!" in result.stdout
    listed = util(site, "list-zone", "e.test").stdout
    assert "www.e.test\t60\tIN\tA\t192.0.2.99\n" in listed
    assert " hostmaster.e.test 1 10800" in listed  # the serial moved from 0
    # the same edit again is a duplicate record: the check fails, and the end of input
    # quits (pdnsutil would ask forever) without changing anything
    quit_ = util(site, "edit-zone", "e.test", stdin="", env={"EDITOR": str(editor)})
    assert quit_.returncode == 1
    assert "[Error] Duplicate record found in rrset" in quit_.stdout
    assert util(site, "list-zone", "e.test").stdout == listed


# --------------------------------------------------------------------------------------------
# backends


def test_b2b_migrate_from_bind_to_gsqlite3(site):
    zones = site / "zones"
    zones.mkdir()
    (zones / "example.zone").write_text(ZONE)
    (zones / "named.conf").write_text(
        f'options {{ directory "{zones}"; }};\n'
        'zone "example.com" { type master; file "example.zone"; };\n')
    conf = site / "conf" / "pdns.conf"
    conf.write_text(conf.read_text().replace("launch=gsqlite3", "launch=gsqlite3,bind")
                    + f"bind-config={zones / 'named.conf'}\n")
    result = util(site, "b2b-migrate", "bind", "gsqlite3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("Moving zone(s) from bind to gsqlite3\n"
                             "Processing 'example.com'\n"
                             "Moved 19 record(s), 0 comment(s), 0 metadata(s) and 0 "
                             "cryptokey(s)\nMoved 0 TSIG key(s)\n"
                             "Remember to drop the old backend and run rectify-all-zones\n")
    migrated = {(n, t, c) for n, t, c, *_ in rows(site / "pdns.sqlite3", "example.com")}
    assert ("www.example.com", "AAAA", "2001:db8::1") in migrated
    assert ("mail.example.com", "MX", "mail.Example.com") in migrated
    again = util(site, "b2b-migrate", "bind", "gsqlite3")
    assert again.returncode == 1
    assert "Target backend has zone(s), please clean it first" in again.stderr
    unknown = util(site, "b2b-migrate", "nope", "gsqlite3")
    assert (unknown.returncode, unknown.stderr) == (1, "Unknown source backend 'nope'\n")


def test_create_bind_db_and_test_schema(site):
    path = site / "bind-dnssec.db"
    assert util(site, "create-bind-db", str(path)).returncode == 0
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"domainmetadata", "cryptokeys", "tsigkeys"}
    assert util(site, "create-bind-db", str(path)).returncode == 1
    result = util(site, "test-schema", "ts.test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[+] content field is over 255 bytes\n" in result.stdout
    assert "[+] Big serials work correctly\n" in result.stdout
    bench = util(site, "bench-db")
    assert bench.returncode == 0 and "millisecond/change check" in bench.stdout


# --------------------------------------------------------------------------------------------
# bad calls


@pytest.mark.parametrize("args, usage", [
    (["create-zone"], "Syntax: fastdns-util create-zone ZONE [nsname]\n"),
    (["load-zone", "a.test"], "Syntax: fastdns-util load-zone ZONE FILE [ZONE FILE] ..\n"),
    (["add-record", "a.test", "www", "A"],
     'Syntax: fastdns-util add-record ZONE name type [ttl] "content" ["content"...]\n'),
    (["list-all-zones", "bogus"],
     "Syntax: fastdns-util list-all-zones [primary|secondary|native|producer|consumer]\n"),
    (["b2b-migrate", "bind"], "Syntax: fastdns-util b2b-migrate OLD NEW\n"),
])
def test_bad_calls_print_the_usage_and_fail(site, args, usage):
    result = util(site, *args)
    assert (result.returncode, result.stderr) == (1, usage)


def test_unknown_command_and_no_command(site):
    result = util(site, "frobnicate")
    assert result.returncode == 1
    assert result.stderr.startswith("Unknown command 'frobnicate'\nusage: fastdns-util")
    assert util(site).returncode == 1
    assert "load-zone ZONE FILE" in util(site, "--help").stdout


# --------------------------------------------------------------------------------------------
# zone2sql


@needs_zone2sql
@pytest.mark.parametrize("mode", ["--gsqlite", "--gpgsql", "--gmysql"])
def test_zone2sql_prints_what_zone2sql_prints(site, mode):
    args = [mode, "--transactions", "--zone=example.zone", "--zone-name=example.com"]
    theirs = subprocess.run([ZONE2SQL, *args], capture_output=True, text=True, cwd=site,
                            timeout=60)
    ours = util(site, "zone2sql", *args)
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr == "1 domains were fully parsed, containing 19 " \
        "records\n"


@needs_zone2sql
def test_zone2sql_named_conf_loads_into_sqlite(site):
    (site / "named.conf").write_text(
        f'options {{ directory "{site}"; }};\n'
        'zone "example.com" { type master; file "example.zone"; };\n')
    ours = util(site, "zone2sql", "--gsqlite", f"--named-conf={site / 'named.conf'}")
    theirs = subprocess.run([ZONE2SQL, "--gsqlite", f"--named-conf={site / 'named.conf'}"],
                            capture_output=True, text=True, timeout=60)
    assert ours.stdout == theirs.stdout
    conn = sqlite3.connect(site / "pdns.sqlite3")
    conn.executescript(ours.stdout)
    conn.close()
    assert len(rows(site / "pdns.sqlite3", "example.com")) == 19
    assert util(site, "zone2sql", "--zone=example.zone").stderr.startswith("Unknown SQL mode!")


# --------------------------------------------------------------------------------------------
# PostgreSQL and MariaDB: a database of its own for the test, dropped after


@needs_pdnsutil
@pytest.mark.parametrize("kind", ["gpgsql", "gmysql"])
def test_load_zone_and_records_on_a_server_database(tmp_path, kind):
    from tests._support.sqldb import TempDatabase

    with TempDatabase(kind, tmp_path) as db:
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in db.settings().items()))
        (tmp_path / "example.zone").write_text(ZONE)
        loaded = util(tmp_path, "load-zone", "example.com", "example.zone")
        assert loaded.returncode == 0, loaded.stderr
        assert util(tmp_path, "add-record", "example.com", "new", "AAAA",
                    "2001:DB8::5").returncode == 0
        ours = util(tmp_path, "list-zone", "example.com")
        theirs = pdnsutil(conf, "list-zone", "example.com")
        assert theirs.returncode == 0, theirs.stderr
        assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
        assert "new.example.com\t3600\tIN\tAAAA\t2001:db8::5" in ours.stdout
        assert util(tmp_path, "delete-zone", "example.com").returncode == 0
        assert db.execute("SELECT COUNT(*) FROM records")[0][0] == 0


def test_change_log_install_and_remove(site):
    db = site / "pdns.sqlite3"

    def tables():
        conn = sqlite3.connect(db)
        names = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")}
        conn.close()
        return names

    before = tables()
    done = util(site, "install-change-log")
    assert done.returncode == 0, done.stderr
    assert "Installed the change log" in done.stdout
    added = tables() - before
    assert "fastdns_changes" in added and len(added) > 1          # the table and its triggers
    again = util(site, "install-change-log")
    assert again.returncode == 0 and "already installed" in again.stdout
    assert util(site, "remove-change-log").returncode == 0
    assert tables() == before
    wrong = util(site, "install-change-log", "extra")
    assert wrong.returncode != 0 and "install-change-log" in wrong.stderr + wrong.stdout


def test_big_load_rebuilds_the_indexes_and_a_failed_one_keeps_them(site):
    """Past 50,000 rows load-zone drops the records indexes and builds them again before
    its commit; a load that fails leaves the old rows and every index in place."""
    db = site / "pdns.sqlite3"
    lines = ["$ORIGIN big.test.", "$TTL 300", "@ SOA ns1 host 1 2 3 4 5", "@ NS ns1",
             "ns1 A 192.0.2.1"]
    lines += [f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(60000)]
    (site / "big.zone").write_text("\n".join(lines) + "\n")

    def indexes():
        conn = sqlite3.connect(db)
        out = sorted(r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' "
            "AND sql IS NOT NULL"))
        conn.close()
        return out

    before = indexes()
    assert len(before) == 3
    done = util(site, "load-zone", "big.test", str(site / "big.zone"))
    assert done.returncode == 0, done.stderr
    assert len(rows(db, "big.test")) == 60000 + 3
    assert indexes() == before
    broken = [*lines, "oops A 300.1.2.3"]
    (site / "big.zone").write_text("\n".join(broken) + "\n")
    failed = util(site, "load-zone", "big.test", str(site / "big.zone"))
    assert failed.returncode != 0
    assert len(rows(db, "big.test")) == 60000 + 3
    assert indexes() == before

"""fastdns-util's DNSSEC commands against real SQLite databases and a bind-dnssec-db, checked
against Debian's ``pdnsutil`` 4.7: on identical copies of a database (the same commands
must leave the same rows and print the same text), and on the same database (each reads
what the other wrote)."""

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PDNSUTIL = shutil.which("pdnsutil")
needs_pdnsutil = pytest.mark.skipif(PDNSUTIL is None, reason="pdnsutil is not installed")
SCHEMA = (ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text()


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def make_db(path, zones=("example.com", "example.org"), kind="NATIVE"):
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    for zone in zones:
        conn.execute("INSERT INTO domains (name, type) VALUES (?, ?)", (zone, kind))
        domain_id = conn.execute("SELECT id FROM domains WHERE name = ?", (zone,)).fetchone()[0]
        conn.executemany(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "VALUES (?, ?, ?, ?, 300, 0, 0, 1)",
            [(domain_id, zone, "SOA", f"ns1.{zone} hostmaster.{zone} 2024010101 7200 3600 "
              "1209600 300"), (domain_id, zone, "NS", f"ns1.{zone}"),
             (domain_id, f"ns1.{zone}", "A", "192.0.2.1"),
             (domain_id, f"www.{zone}", "A", "192.0.2.2")])
    conn.commit()
    conn.close()


def make_site(base: Path, extra: str = "", zones=("example.com", "example.org")) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    make_db(base / "pdns.sqlite3", zones)
    (base / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={base / 'pdns.sqlite3'}"
                                    f"\ngsqlite3-dnssec=yes\n{extra}")
    return base


def twin(site: Path, name: str = "twin") -> Path:
    """A copy of ``site``'s database with its own pdns.conf (same settings)."""
    other = site.parent / name
    other.mkdir()
    shutil.copy(site / "pdns.sqlite3", other / "pdns.sqlite3")
    (other / "pdns.conf").write_text((site / "pdns.conf").read_text()
                                     .replace(str(site / "pdns.sqlite3"),
                                              str(other / "pdns.sqlite3")))
    return other


def ours(conf: Path, *args: str) -> Result:
    """fastdns-util in this process (the same main() the command runs)."""
    from fastdns.cli.util import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([f"--config-dir={conf}", *args])
    return Result(code, out.getvalue(), err.getvalue())


def ours_process(conf: Path, *args: str) -> Result:
    done = subprocess.run([sys.executable, "-m", "fastdns.cli.util", f"--config-dir={conf}",
                           *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return Result(done.returncode, done.stdout, done.stderr)


def pdns(conf: Path, *args: str) -> Result:
    done = subprocess.run([PDNSUTIL, f"--config-dir={conf}", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    # pdnsutil's own log lines ("Dec 06 07:14:23 ...") are not part of its answer
    err = "".join(line for line in done.stderr.splitlines(keepends=True)
                  if not (len(line) > 16 and line[3] == " " and line[6] == " "
                          and line[9] == ":"))
    return Result(done.returncode, done.stdout, err)


def table(conf: Path, query: str) -> list:
    db = conf / "pdns.sqlite3"
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def keys(conf: Path) -> list:
    return table(conf, "SELECT k.id, d.name, k.flags, k.active, k.published, k.content FROM "
                 "cryptokeys k JOIN domains d ON d.id = k.domain_id ORDER BY k.id")


def meta(conf: Path) -> list:
    return table(conf, "SELECT d.name, m.kind, m.content FROM domainmetadata m JOIN domains d "
                 "ON d.id = m.domain_id ORDER BY d.name, m.kind, m.content")


def same(a: Result, b: Result, stderr: bool = True) -> None:
    assert a.stdout == b.stdout
    assert a.returncode == b.returncode, (a, b)
    if stderr:
        assert a.stderr == b.stderr


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path / "site")


# --------------------------------------------------------------------------------------------
# secure-zone and what reads the keys it makes


READERS = (("list-keys",), ("list-keys", "example.com"), ("show-zone", "example.com"),
           ("-v", "show-zone", "example.com"), ("export-zone-ds", "example.com"),
           ("-v", "export-zone-ds", "example.com"), ("show-zone", "example.org"),
           ("list-keys", "nozone.test"), ("show-zone", "nozone.test"),
           ("export-zone-ds", "nozone.test"), ("export-zone-ds", "example.org"))


def readers_agree(conf: Path, key_ids) -> None:
    """Every read-only key command prints what pdnsutil prints on the same database."""
    for args in READERS:
        same(ours(conf, *args), pdns(conf, *args))
    for key_id in key_ids:
        for cmd in ("export-zone-key", "export-zone-key-pem", "export-zone-dnskey"):
            same(ours(conf, cmd, "example.com", str(key_id)),
                 pdns(conf, cmd, "example.com", str(key_id)))


@needs_pdnsutil
def test_secure_zone_like_pdnsutil(site):
    other = twin(site)
    mine = ours(site, "secure-zone", "example.com", "nozone.test")
    theirs = pdns(other, "secure-zone", "example.com", "nozone.test")
    assert mine.stdout == theirs.stdout == ("Securing zone with default key size\n"
                                            "Adding CSK (257) with algorithm ecdsa256\n"
                                            "Zone example.com secured\n")
    assert mine.returncode == theirs.returncode == 1
    assert mine.stderr.startswith("Can't find a zone called 'nozone.test'\n")
    # then the zone is rectified, as pdnsutil does (rectify-zone's code and words)
    assert mine.stderr == theirs.stderr
    assert [(r[1], r[2], r[3], r[4]) for r in keys(site)] == \
        [(r[1], r[2], r[3], r[4]) for r in keys(other)] == [("example.com", 257, 1, 1)]
    assert keys(site)[0][5].startswith("Private-key-format: v1.2\nAlgorithm: 13 "
                                       "(ECDSAP256SHA256)\nPrivateKey: ")
    # again: already secure
    again = ours(site, "secure-zone", "example.com")
    assert again.returncode == 1
    assert again.stderr == ("Zone 'example.com' already secure, remove keys with fastdns-util "
                            "remove-zone-key if needed\n")
    # pdnsutil reads our keys as we print them, and the reverse
    readers_agree(site, [keys(site)[0][0], 99])
    readers_agree(other, [keys(other)[0][0]])


@needs_pdnsutil
def test_secure_zone_with_a_ksk_and_a_zsk(tmp_path):
    site = make_site(tmp_path / "site", "default-ksk-algorithm=ecdsa384\n"
                     "default-zsk-algorithm=ed25519\n")
    other = twin(site)
    same(ours(site, "secure-zone", "example.com"), pdns(other, "secure-zone", "example.com"),
         stderr=False)
    assert [(r[2], r[3], r[4], r[5].splitlines()[1]) for r in keys(site)] == \
        [(r[2], r[3], r[4], r[5].splitlines()[1]) for r in keys(other)]
    readers_agree(site, [r[0] for r in keys(site)])
    # a zone name longer than list-keys' column
    long_site = make_site(tmp_path / "long", zones=("a-very-long-zone-name-indeed.example.com",
                                                    "twenty-nine-chars-long.exampl"))
    for zone in ("a-very-long-zone-name-indeed.example.com", "twenty-nine-chars-long.exampl"):
        pdns(long_site, "secure-zone", zone)
    same(ours(long_site, "list-keys"), pdns(long_site, "list-keys"))
    rsa = make_site(tmp_path / "rsa", "default-ksk-algorithm=rsasha256\n")
    result = ours(rsa, "secure-zone", "example.com")
    assert result.returncode == 1 and result.stderr == (
        "Error: Creating an algorithm 8 (RSASHA256) key requires the size (in bits) to be "
        "passed.\n")
    assert keys(rsa) == []


# --------------------------------------------------------------------------------------------
# keys pdnsutil made, read by fastdns-util


@needs_pdnsutil
def test_keys_made_by_pdnsutil_are_shown_identically(site):
    specs = [("ksk", "1024", "active", "rsasha1"), ("zsk", "1024", "rsasha1-nsec3-sha1"),
             ("ksk", "2048", "active", "rsasha256"), ("zsk", "1024", "active", "unpublished",
                                                      "rsasha512"),
             ("ksk", "active", "ecdsa256"), ("zsk", "active", "ecdsa256"),
             ("zsk", "inactive", "ecdsa384"), ("ksk", "active", "ed25519"),
             ("ksk", "active", "unpublished", "ed448"), ("zsk", "inactive", "ed448")]
    for spec in specs:
        assert pdns(site, "add-zone-key", "example.com", *spec).returncode == 0
    readers_agree(site, [r[0] for r in keys(site)])


# --------------------------------------------------------------------------------------------
# commands that change keys and metadata: the same rows as pdnsutil's


@needs_pdnsutil
def test_key_changes_leave_the_rows_pdnsutil_leaves(site):
    for spec in (("ksk", "active", "ecdsa256"), ("zsk", "active", "ed25519"),
                 ("zsk", "inactive", "unpublished", "ecdsa384")):
        pdns(site, "add-zone-key", "example.com", *spec)
    other = twin(site)
    steps = [("activate-zone-key", "example.com", "3"), ("activate-zone-key", "example.com", "3"),
             ("deactivate-zone-key", "example.com", "1"), ("publish-zone-key", "example.com",
                                                           "3"),
             ("unpublish-zone-key", "example.com", "2"), ("remove-zone-key", "example.com", "2"),
             ("activate-zone-key", "example.com", "99"), ("deactivate-zone-key", "example.com",
                                                          "99"),
             ("publish-zone-key", "example.com", "99"), ("unpublish-zone-key", "example.com",
                                                         "99"),
             ("activate-zone-key", "nozone.test", "1"), ("activate-zone-key", "example.com", "x"),
             ("activate-zone-key", "example.org", "1")]
    for step in steps:
        same(ours(site, *step), pdns(other, *step))
        assert keys(site) == keys(other), step
    assert [(r[0], r[3], r[4]) for r in keys(site)] == [(1, 0, 1), (3, 1, 1)]


@needs_pdnsutil
def test_metadata_commands_leave_the_rows_pdnsutil_leaves(tmp_path):
    site = make_site(tmp_path / "site", "max-nsec3-iterations=10\n")
    pdns(site, "secure-zone", "example.com")
    other = twin(site)
    steps = [("set-nsec3", "example.com"), ("set-nsec3", "example.com", "1 1 5 ABcd", "narrow"),
             ("set-nsec3", "example.com", " 1 0 1 ab"), ("set-nsec3", "example.org", "1 0 0 -"),
             ("set-nsec3", "example.com", "1 0 11 -"), ("set-nsec3", "example.com", "2 0 0 -"),
             ("set-nsec3", "example.com", "garbage"), ("set-nsec3", "example.com", "1 0 10"),
             ("set-nsec3", "example.com", "1 0 1 zz"), ("set-nsec3", "example.com", "1 300 1 ab"),
             ("set-nsec3", "example.com", "1 0 70000 ab"), ("set-nsec3", "example.com",
                                                            "1 2 3 -"),
             ("unset-nsec3", "example.com"), ("set-publish-cds", "example.com"),
             ("set-publish-cds", "example.com", "1,2,4"), ("unset-publish-cds", "example.com"),
             ("set-publish-cdnskey", "example.com"), ("set-publish-cdnskey", "example.com",
                                                      "delete"),
             ("unset-publish-cdnskey", "example.com"), ("set-presigned", "example.org"),
             ("unset-presigned", "example.org"), ("set-presigned", "example.com"),
             ("show-zone", "example.com"), ("export-zone-ds", "example.com"),
             ("unset-presigned", "example.com")]
    for step in steps:
        same(ours(site, *step), pdns(other, *step))
        assert meta(site) == meta(other), step
    # the last NSEC3 state in show-zone, and disable-dnssec
    for step in [("set-nsec3", "example.com", "1 0 3 beef", "narrow"),
                 ("set-publish-cds", "example.com", "2,4"), ("show-zone", "example.com"),
                 ("disable-dnssec", "example.com"), ("disable-dnssec", "example.com"),
                 ("disable-dnssec", "nozone.test"), ("show-zone", "example.com")]:
        same(ours(site, *step), pdns(other, *step))
        assert meta(site) == meta(other), step
        assert keys(site) == keys(other), step


@needs_pdnsutil
def test_add_zone_key_like_pdnsutil(site):
    other = twin(site)
    calls = [("zsk", "active", "ecdsa256"), ("ksk", "ed25519"), ("ksk", "2048", "active",
                                                                "rsasha256"),
             ("zsk", "inactive", "unpublished", "ecdsa384"), ("ksk", "published", "ed448",
                                                              "active"),
             ("ecdsa256",), ("zsk", "1024", "rsasha512"), ("ksk", "active", "13"),
             ("ksk", "200", "ecdsa256"), ("ksk", "active", "rsasha256")]
    for call in calls:
        mine = ours(site, "add-zone-key", "example.com", *call)
        theirs = pdns(other, "add-zone-key", "example.com", *call)
        same(mine, theirs)
    shape = [(r[1], r[2], r[3], r[4], r[5].splitlines()[1]) for r in keys(site)]
    assert shape == [(r[1], r[2], r[3], r[4], r[5].splitlines()[1]) for r in keys(other)]
    assert len(shape) == 7
    assert "Modulus" in keys(site)[2][5] and len(keys(site)[2][5]) > 1500  # 2048 bits


def test_add_zone_key_refuses_what_it_cannot_make(site):
    for args, message in [
        (("ksk", "rsasha1", "2048"), "Error: fastdns does not generate algorithm 5 (RSASHA1) "
                                     "keys (RFC 8624); import one with import-zone-key\n"),
        (("ksk", "foo"), "Error: Unknown algorithm, key flag or size 'foo'\n"),
        (("zsk", "512", "rsasha256"), "Error: Unsupported key length of 512 bits requested "
                                      "(RSA: 1024 to 4096)\n"),
    ]:
        result = ours(site, "add-zone-key", "example.com", *args)
        assert (result.returncode, result.stderr) == (1, message)
    result = ours(site, "add-zone-key", "nozone.test", "ksk")
    assert (result.returncode, result.stderr) == (1, "No such zone in the database\n")
    result = ours(site, "add-zone-key", "example.com")
    assert result.returncode == 1
    assert result.stderr.startswith("Syntax: fastdns-util add-zone-key ZONE [zsk|ksk] [BITS]")
    assert keys(site) == []


# --------------------------------------------------------------------------------------------
# import and export


@needs_pdnsutil
def test_import_keys_like_pdnsutil(site, tmp_path):
    pdns(site, "add-zone-key", "example.org", "ksk", "active", "ecdsa256")
    pdns(site, "add-zone-key", "example.org", "ksk", "active", "1024", "rsasha1")
    isc = tmp_path / "key.private"
    pem = tmp_path / "key.pem"
    rsa = tmp_path / "rsa.private"
    isc.write_text(pdns(site, "export-zone-key", "example.org", "1").stdout)
    pem.write_text(pdns(site, "export-zone-key-pem", "example.org", "1").stdout)
    rsa.write_text(pdns(site, "export-zone-key", "example.org", "2").stdout)
    other = twin(site)
    for call in [("import-zone-key", "example.com", str(isc)),
                 ("import-zone-key", "example.com", str(isc), "zsk", "inactive", "unpublished"),
                 ("import-zone-key", "example.com", str(rsa), "zsk", "active"),
                 ("import-zone-key", "example.com", str(isc), "foo"),
                 ("import-zone-key", "example.com", str(tmp_path / "missing")),
                 ("import-zone-key-pem", "example.com", str(pem), "13", "zsk")]:
        mine, theirs = ours(site, *call), pdns(other, *call)
        assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout), call
        if call[-1] != "zsk" or call[0] != "import-zone-key-pem":
            assert mine.stderr == theirs.stderr, call
        assert keys(site) == keys(other), call
    readers_agree(site, [r[0] for r in keys(site)])


def test_import_refuses_bad_keys(site, tmp_path):
    bad = tmp_path / "bad.private"
    bad.write_text("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\n")
    result = ours(site, "import-zone-key", "example.com", str(bad))
    assert result.returncode == 1
    assert result.stderr == ("Error: field 'PrivateKey' is missing (a key without its private "
                             "part cannot sign)\n")
    bad.write_text("Private-key-format: v1.2\nAlgorithm: 12 (ECC-GOST)\nGostAsn1: AAAA\n")
    result = ours(site, "import-zone-key", "example.com", str(bad))
    assert result.stderr == "Error: unsupported DNSKEY algorithm 12 (ALG12)\n"
    result = ours(site, "import-zone-key-pem", "example.com", str(bad), "13", "ksk")
    assert result.returncode == 1 and result.stderr.startswith("Error: not a PEM private key")
    good = tmp_path / "good.pem"
    from fastdns.dnssec.keys import ZoneKey

    good.write_text(ZoneKey.generate(13).to_pem())
    result = ours(site, "import-zone-key-pem", "example.com", str(good), "ecdsa384", "ksk")
    assert result.stderr == "Error: algorithm 14 needs an ECDSA secp384r1 key\n"
    result = ours(site, "import-zone-key-pem", "example.com", str(good), "13", "foo")
    assert result.returncode == 1 and result.stderr.startswith(
        "Syntax: fastdns-util import-zone-key-pem ZONE FILE ALGORITHM {ksk|zsk}")
    result = ours(site, "import-zone-key", "nozone.test", str(good))
    assert result.returncode == 1
    assert keys(site) == []


@needs_pdnsutil
def test_generate_zone_key_like_pdnsutil(site):
    for call in [("zsk",), ("ksk", "ed25519"), ("zsk", "rsasha256", "1024"), ("ksk", "ecdsa384"),
                 ("zsk", "rsasha512")]:
        mine, theirs = ours(site, "generate-zone-key", *call), pdns(site, "generate-zone-key",
                                                                    *call)
        same(Result(mine.returncode, "", mine.stderr), Result(theirs.returncode, "",
                                                              theirs.stderr))
        shape = [line.split(":")[0] for line in mine.stdout.splitlines()]
        assert shape == [line.split(":")[0] for line in theirs.stdout.splitlines()]
        assert mine.stdout.endswith("\n\n") and theirs.stdout.endswith("\n\n")
    mine = ours(site, "generate-zone-key", "ksk", "rsasha256").stdout
    from fastdns.dnssec.keys import ZoneKey

    assert ZoneKey.from_isc(mine.split("\n", 1)[1]).bits == 2048
    result = ours(site, "generate-zone-key", "zsk", "ed25519", "512")
    assert result.returncode == 1 and "Error: The algorithm does not support the given bit " \
        "size." in result.stderr
    assert ours(site, "generate-zone-key", "foo").returncode == 1
    assert table(site, "SELECT COUNT(*) FROM cryptokeys") == [(0,)]


# --------------------------------------------------------------------------------------------
# many zones, the bind-dnssec-db, settings


@needs_pdnsutil
def test_secure_all_zones_is_batched_and_prints_what_pdnsutil_prints(tmp_path):
    zones = [f"z{i}.example" for i in range(2000)]
    site = make_site(tmp_path / "site", zones=zones)
    conn = sqlite3.connect(site / "pdns.sqlite3")
    conn.execute("INSERT INTO domains (name, type) VALUES ('nosoa.example', 'SLAVE')")
    conn.commit()
    conn.close()
    pdns(site, "secure-zone", "z5.example")
    other = twin(site)
    started = time.monotonic()
    mine = ours_process(site, "secure-all-zones")
    elapsed = time.monotonic() - started
    theirs = pdns(other, "secure-all-zones")
    assert mine.returncode == theirs.returncode == 0
    assert sorted(mine.stdout.splitlines()) == sorted(theirs.stdout.splitlines())
    assert mine.stdout.endswith("Secured: 1999 zones. Errors: 0\n")
    assert elapsed < 15, elapsed     # 100,000 zones take about 8 s (docs/dnssec.md)
    assert table(site, "SELECT COUNT(*), COUNT(DISTINCT domain_id) FROM cryptokeys") == \
        [(2000, 2000)]
    again = ours(site, "secure-all-zones", "increase-serial")
    assert again.stdout == "Secured: 0 zones. Errors: 0\n"
    assert ours(site, "secure-all-zones", "foo").returncode == 1
    # pdnsutil serves the keys we stored: one check is enough
    same(ours(site, "show-zone", "z1999.example"), pdns(site, "show-zone", "z1999.example"))
    # the server's view: every zone's signing state with one query per table
    from fastdns.config.loader import load_config, parse_command_line
    from fastdns.dnssec.stores import keystore_for
    from fastdns.dnssec.zonesec import load_security_many

    config = load_config(parse_command_line([f"--config-dir={site}"]))
    store = keystore_for(config, "z7.example")
    assert store is not None and keystore_for(config, "nozone.test") is None
    try:
        states = load_security_many(store, [*zones, "nosoa.example"], max_iterations=100)
    finally:
        store.close()
    assert all(states[zone].usable for zone in zones)
    assert not states["nosoa.example"].signed
    assert {states[zone].keys[0].key.algorithm for zone in zones} == {13}


@needs_pdnsutil
def test_secure_all_zones_increase_serial(tmp_path):
    site = make_site(tmp_path / "site")
    other = twin(site)
    result = ours(site, "secure-all-zones", "increase-serial")
    same(result, pdns(other, "secure-all-zones", "increase-serial"))
    assert "Secured: 2 zones. Errors: 0" in result.stdout
    assert "Zone example.com secured\nSOA serial for zone example.com set to 2024010102\n" \
        in result.stdout
    serials = table(site, "SELECT content FROM records WHERE type = 'SOA' ORDER BY domain_id")
    assert [s[0].split()[2] for s in serials] == ["2024010102", "2024010102"]


@needs_pdnsutil
def test_bind_zones_keep_keys_in_the_bind_dnssec_db(tmp_path):
    site = tmp_path / "bind"
    site.mkdir()
    (site / "example.zone").write_text("$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n"
                                       "@ NS ns1\nns1 A 192.0.2.1\n")
    (site / "named.conf").write_text(f'zone "example.com" {{ type master; file '
                                     f'"{site / "example.zone"}"; }};\n')
    (site / "pdns.conf").write_text(f"launch=bind\nbind-config={site / 'named.conf'}\n"
                                    f"bind-dnssec-db={site / 'dnssec.db'}\n")
    assert ours(site, "create-bind-db", str(site / "dnssec.db")).returncode == 0
    result = ours(site, "secure-zone", "example.com")
    assert result.returncode == 0 and result.stdout.endswith("Zone example.com secured\n")
    assert ours(site, "set-nsec3", "example.com", "1 0 0 ab").returncode == 0
    assert ours(site, "set-publish-cds", "example.com").returncode == 0
    conn = sqlite3.connect(site / "dnssec.db")
    assert conn.execute("SELECT domain, flags, active, published FROM cryptokeys").fetchall() \
        == [("example.com", 257, 1, 1)]
    assert conn.execute("SELECT domain, kind, content FROM domainmetadata ORDER BY id")\
        .fetchall() == [("example.com", "NSEC3PARAM", "1 0 0 ab"),
                        ("example.com", "PUBLISH-CDS", "2")]
    conn.close()
    for args in [("show-zone", "example.com"), ("list-keys",), ("export-zone-ds", "example.com"),
                 ("export-zone-dnskey", "example.com", "1")]:
        same(ours(site, *args), pdns(site, *args))
    pdns(site, "add-zone-key", "example.com", "zsk", "active", "ed25519")
    same(ours(site, "show-zone", "example.com"), pdns(site, "show-zone", "example.com"))
    assert ours(site, "disable-dnssec", "example.com").returncode == 0
    same(ours(site, "show-zone", "example.com"), pdns(site, "show-zone", "example.com"))
    # without bind-dnssec-db a BIND zone cannot be secured
    (site / "pdns.conf").write_text(f"launch=bind\nbind-config={site / 'named.conf'}\n")
    result = ours(site, "secure-zone", "example.com")
    assert result.returncode == 1
    assert result.stderr.startswith("No backend was able to secure 'example.com', most likely")


@needs_pdnsutil
def test_sql_backend_without_dnssec_keeps_no_keys(tmp_path):
    site = make_site(tmp_path / "site")
    (site / "pdns.conf").write_text((site / "pdns.conf").read_text()
                                    .replace("gsqlite3-dnssec=yes", "gsqlite3-dnssec=no"))
    mine, theirs = ours(site, "secure-zone", "example.com"), pdns(site, "secure-zone",
                                                                  "example.com")
    assert mine.returncode == 1 and theirs.stdout == mine.stdout
    assert mine.stderr.splitlines()[:3] == theirs.stderr.splitlines()[:3]
    assert keys(site) == []


# --------------------------------------------------------------------------------------------
# algorithms, and every bad call


@needs_pdnsutil
def test_list_and_test_algorithms(site):
    mine, theirs = ours(site, "list-algorithms"), pdns(site, "list-algorithms")
    assert mine.stdout.splitlines()[1:] == theirs.stdout.splitlines()[1:]
    assert mine.stdout.splitlines()[0] == \
        "DNSKEY algorithms supported by this installation of fastdns:"
    backend = ours(site, "list-algorithms", "with-backend").stdout.splitlines()
    assert backend[3] == "8 - RSASHA256 using cryptography RSA"
    result = ours(site, "test-algorithms")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 8 and all("Signature & verify ok" in line for line in lines)
    assert lines[4].startswith("Testing algorithm 13(ECDSAP256SHA256): 'cryptography ECDSA' ->")


BAD_CALLS = [
    ("secure-zone",), ("secure-all-zones", "foo"), ("disable-dnssec",),
    ("disable-dnssec", "a", "b"), ("generate-zone-key",), ("generate-zone-key", "foo"),
    ("import-zone-key", "example.com"), ("import-zone-key-pem", "example.com", "f", "13"),
    ("export-zone-key", "example.com"), ("export-zone-key-pem",), ("export-zone-dnskey", "x"),
    ("export-zone-ds",), ("list-keys", "a", "b"), ("activate-zone-key", "example.com"),
    ("deactivate-zone-key",), ("publish-zone-key",), ("unpublish-zone-key",),
    ("remove-zone-key", "example.com"), ("show-zone",), ("list-algorithms", "foo"),
    ("test-algorithms", "x"), ("set-publish-cds",), ("set-publish-cds", "a", "1", "2"),
    ("unset-publish-cds",), ("set-publish-cdnskey", "example.com", "foo"),
    ("unset-publish-cdnskey",), ("set-presigned",), ("unset-presigned", "a", "b"),
    ("set-nsec3",), ("set-nsec3", "example.com", "1 0 0 -", "wide"), ("unset-nsec3",),
]


@pytest.mark.parametrize("call", BAD_CALLS, ids=lambda c: " ".join(c) or "none")
def test_bad_calls_get_the_usage_and_fail(site, call):
    result = ours(site, *call)
    assert result.returncode == 1, result
    assert result.stderr.startswith(f"Syntax: fastdns-util {call[0]}"), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("call,message", [
    (("export-zone-key", "example.com", "abc"), "Invalid KEY-ID 'abc'\n"),
    (("export-zone-key", "example.com", "7"),
     "Error: Can't find a key with id 7 for zone 'example.com'\n"),
    (("export-zone-key-pem", "nozone.test", "1"),
     "Error: Can't find a key with id 1 for zone 'nozone.test'\n"),
    (("remove-zone-key", "example.com", "7"), "Can't find a key with id 7 for zone "
                                              "'example.com'\n"),
    (("remove-zone-key", "nozone.test", "7"), "Can't find a key with id 7 for zone "
                                              "'nozone.test'\n"),
    (("set-publish-cds", "example.com", "3"),
     "Error: '3' in '3' is not a DS digest algorithm fastdns publishes (1, 2 or 4; 0 "
     "alone: the delete record)\n"),
    (("set-publish-cds", "example.com", "2,foo"),
     "Error: 'foo' in '2,foo' is not a DS digest algorithm fastdns publishes (1, 2 or 4; 0 "
     "alone: the delete record)\n"),
    (("set-presigned", "nozone.test"), "No such zone in the database\n"),
    (("set-nsec3", "nozone.test"), "No such zone in the database\n"),
    (("set-nsec3", "example.com", "1 0 0 - x"),
     "Error: trailing data after the salt in '1 0 0 - x'\n"),
    (("set-nsec3", "example.com", "1 0 101 -"),
     "Error: NSEC3PARAMs provided for zone 'example.com' are invalid: Number of NSEC3 "
     "iterations is above 'max-nsec3-iterations'.\n"),
    (("unset-nsec3", "nozone.test"), "No such zone in the database\n"),
    (("set-nsec3", "bad..name"), None),
])
def test_bad_input_is_refused_clearly(site, call, message):
    result = ours(site, *call)
    assert result.returncode == 1
    if message is not None:
        assert result.stderr == message
    assert meta(site) == [] and keys(site) == []


def test_a_key_that_cannot_be_read(site):
    assert ours(site, "secure-zone", "example.com").returncode == 0
    conn = sqlite3.connect(site / "pdns.sqlite3")
    conn.execute("INSERT INTO cryptokeys (domain_id, flags, active, published, content) "
                 "VALUES (1, 256, 1, 1, 'Private-key-format: v1.2\nAlgorithm: 12 (ECC-GOST)\n"
                 "GostAsn1: AAAA\n')")
    conn.commit()
    conn.close()
    shown = ours(site, "show-zone", "example.com")
    assert shown.returncode == 0
    assert "ID = 2, flags = 256: this key cannot be read: unsupported DNSKEY algorithm 12 " \
        "(ALG12)\n" in shown.stdout
    listed = ours(site, "list-keys", "example.com")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3
    assert listed.stderr == ("Key 2 of zone 'example.com' cannot be read: unsupported DNSKEY "
                             "algorithm 12 (ALG12)\n")
    exported = ours(site, "export-zone-key", "example.com", "2")
    assert exported.returncode == 1 and exported.stderr == (
        "Error: key 2 of zone 'example.com' cannot be read: unsupported DNSKEY algorithm 12 "
        "(ALG12)\n")
    from fastdns.config.loader import load_config, parse_command_line
    from fastdns.dnssec.stores import keystore_for
    from fastdns.dnssec.zonesec import load_security

    store = keystore_for(load_config(parse_command_line([f"--config-dir={site}"])),
                         "example.com")
    try:
        state = load_security(store, "example.com")
    finally:
        store.close()
    assert state.signed and not state.usable
    assert state.problems == ["key 2: unsupported DNSKEY algorithm 12 (ALG12)"]


def test_check_zone_reports_an_invalid_private_key_as_pdnsutil(site):
    """check-zone of a secured zone whose key cannot be used: pdnsutil's error line and
    exit code (the reason under it is each tool's own: OpenSSL's for pdnsutil)."""
    assert ours(site, "secure-zone", "example.com").returncode == 0
    assert ours(site, "check-zone", "example.com").returncode == 0
    db = sqlite3.connect(site / "pdns.sqlite3")
    db.execute("UPDATE cryptokeys SET content = ?", (
        "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: !!!!\n",))
    db.commit()
    db.close()
    other = twin(site)
    mine, theirs = ours(site, "check-zone", "example.com"), pdns(other, "check-zone",
                                                                  "example.com")
    assert mine.returncode == theirs.returncode == 1
    assert mine.stdout.splitlines()[0] == theirs.stdout.splitlines()[0] == \
        "[Error] zone 'example.com' has at least one invalid DNS Private Key."
    assert mine.stdout.splitlines()[1].startswith("\tkey ")
    assert mine.stdout.splitlines()[-1] == theirs.stdout.splitlines()[-1]

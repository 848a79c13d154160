"""fastdns-util's TSIG key commands against Debian's ``pdnsutil`` 4.7: on twin copies of a
SQLite database the same commands print the same text, exit alike and leave the same rows;
on one database each tool reads the keys the other wrote.  And the bind backend's
``bind-dnssec-db``, which keeps TSIG keys too."""

import base64
import sqlite3

import pytest

from fastdns.tools.admincmds import BIND_DNSSEC_SCHEMA
from tests.integration.test_util_dnssec import (
    make_site,
    meta,
    needs_pdnsutil,
    ours,
    ours_process,
    pdns,
    same,
    table,
    twin,
)

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def tsigkeys(conf):
    return table(conf, "SELECT name, algorithm, secret FROM tsigkeys ORDER BY id")


def meta_rows(conf):
    return table(conf, "SELECT d.name, m.kind, m.content FROM domainmetadata m JOIN domains d "
                 "ON d.id = m.domain_id ORDER BY m.id")


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path / "site")


# every call that both tools answer alike, in order, on twin databases
TWIN_CALLS = [
    ("import-tsig-key", "axfr-key", "hmac-sha256", SECRET),
    ("import-tsig-key", "Upper.Key.", "HMAC-SHA512", SECRET),
    ("import-tsig-key", "md5-key", "hmac-md5.sig-alg.reg.int", SECRET),
    ("import-tsig-key", "axfr-key", "hmac-sha1", SECRET),
    ("import-tsig-key", "axfr-key", "hmac-sha256", base64.b64encode(b"x" * 32).decode()),
    ("import-tsig-key", "last", "hmac-sha224", SECRET),
    ("list-tsig-keys",),
    ("generate-tsig-key", "new", "hmac-foo"),
    ("activate-tsig-key", "example.com", "axfr-key", "primary"),
    ("activate-tsig-key", "example.com", "axfr-key", "primary"),
    ("activate-tsig-key", "example.com", "md5-key", "master"),
    ("activate-tsig-key", "Example.COM.", "axfr-key", "secondary"),
    ("activate-tsig-key", "example.com", "md5-key", "slave"),
    ("activate-tsig-key", "example.org", "no-such-key", "primary"),
    ("activate-tsig-key", "example.com", "axfr-key", "both"),
    ("activate-tsig-key", "nozone.test", "axfr-key", "primary"),
    ("deactivate-tsig-key", "example.com", "axfr-key", "primary"),
    ("deactivate-tsig-key", "example.com", "axfr-key", "primary"),
    ("deactivate-tsig-key", "example.com", "md5-key", "slave"),
    ("deactivate-tsig-key", "example.com", "axfr-key", "neither"),
    ("deactivate-tsig-key", "nozone.test", "axfr-key", "secondary"),
    ("delete-tsig-key", "md5-key"),
    ("delete-tsig-key", "no-such-key"),
    ("list-tsig-keys",),
]


@needs_pdnsutil
def test_commands_print_and_leave_what_pdnsutil_does(site):
    other = twin(site)
    for call in TWIN_CALLS:
        mine, theirs = ours(site, *call), pdns(other, *call)
        same(mine, theirs)
        assert tsigkeys(site) == tsigkeys(other), call
        assert meta_rows(site) == meta_rows(other), call
    assert tsigkeys(site) == [("upper.key", "hmac-sha512", SECRET),
                              ("axfr-key", "hmac-sha1", SECRET),
                              ("axfr-key", "hmac-sha256", base64.b64encode(b"x" * 32).decode()),
                              ("last", "hmac-sha224", SECRET)]
    assert meta(site) == [("example.com", "AXFR-MASTER-TSIG", "axfr-key"),
                          ("example.com", "TSIG-ALLOW-AXFR", "md5-key"),
                          ("example.org", "TSIG-ALLOW-AXFR", "no-such-key")]
    # and each reads the other's database
    same(ours(other, "list-tsig-keys"), pdns(site, "list-tsig-keys"))


@needs_pdnsutil
def test_generated_keys_are_read_by_the_other_tool(site):
    sizes = {"hmac-md5": 32, "hmac-sha1": 32, "hmac-sha224": 32, "hmac-sha256": 64,
             "hmac-sha384": 64, "hmac-sha512": 64}
    for algorithm, size in sizes.items():
        mine = ours_process(site, "generate-tsig-key", f"ours-{algorithm}", algorithm)
        assert mine.returncode == 0 and mine.stderr == ""
        head, secret = mine.stdout.rsplit(" ", 1)
        assert head == f"Create new TSIG key ours-{algorithm} {algorithm}"
        assert len(base64.b64decode(secret)) == size
        theirs = pdns(site, "generate-tsig-key", f"theirs-{algorithm}", algorithm)
        assert theirs.returncode == 0
        assert len(base64.b64decode(theirs.stdout.split()[-1])) == size
    listed = pdns(site, "list-tsig-keys")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 12
    same(ours_process(site, "list-tsig-keys"), listed)
    # replacing a key of the same name and algorithm keeps one row, as pdnsutil does
    again = ours(site, "generate-tsig-key", "theirs-hmac-md5", "hmac-md5")
    assert again.returncode == 0
    assert [r for r in tsigkeys(site) if r[0] == "theirs-hmac-md5"] == \
        [("theirs-hmac-md5", "hmac-md5", again.stdout.split()[-1])]
    # the keys fastdns-util wrote are the server's
    from fastdns.backends.registry import make_backends
    from fastdns.config.loader import load_config, parse_command_line
    from fastdns.xfr.tsig import read_tsig_keys

    backends = make_backends(load_config(parse_command_line([f"--config-dir={site}"])))
    try:
        keys = read_tsig_keys(backends)
    finally:
        for backend in backends:
            backend.close()
    assert sorted(keys) == sorted(f"{who}-{a}." for who in ("ours", "theirs") for a in sizes)
    assert keys["ours-hmac-sha384."].algorithm == "hmac-sha384"


@needs_pdnsutil
def test_metadata_is_kept_without_dnssec_as_pdnsutil_keeps_it(tmp_path):
    site = make_site(tmp_path / "site")
    (site / "pdns.conf").write_text((site / "pdns.conf").read_text()
                                    .replace("gsqlite3-dnssec=yes", "gsqlite3-dnssec=no"))
    other = twin(site)
    for call in [("activate-tsig-key", "example.com", "k", "primary"),
                 ("activate-tsig-key", "example.com", "k", "secondary")]:
        same(ours(site, *call), pdns(other, *call))
    assert meta_rows(site) == meta_rows(other) == [
        ("example.com", "TSIG-ALLOW-AXFR", "k"), ("example.com", "AXFR-MASTER-TSIG", "k")]


@needs_pdnsutil
def test_bind_dnssec_db_keeps_tsig_keys(tmp_path):
    site = tmp_path / "bind"
    site.mkdir()
    (site / "example.zone").write_text("$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n"
                                       "@ NS ns1\nns1 A 192.0.2.1\n")
    (site / "named.conf").write_text(f'zone "example.com" {{ type master; file '
                                     f'"{site / "example.zone"}"; }};\n')
    plain = f"launch=bind\nbind-config={site / 'named.conf'}\n"
    (site / "pdns.conf").write_text(plain)
    # without bind-dnssec-db there is nowhere to keep keys: pdnsutil's failures
    for call, text in [(("import-tsig-key", "k", "hmac-sha256", SECRET),
                        "Failure importing TSIG key k hmac-sha256\n"),
                       (("delete-tsig-key", "k"), "Failure deleting TSIG key k\n"),
                       (("activate-tsig-key", "example.com", "k", "primary"),
                        "Failure enabling TSIG key k for example.com\n")]:
        mine = ours(site, *call)
        assert (mine.returncode, mine.stdout, mine.stderr) == (1, "", text)
        if call[0] != "import-tsig-key":
            same(mine, pdns(site, *call))
    mine, theirs = ours(site, "generate-tsig-key", "k", "hmac-sha256"), \
        pdns(site, "generate-tsig-key", "k", "hmac-sha256")
    assert mine.returncode == theirs.returncode == 1 and mine.stdout == theirs.stdout == ""
    assert mine.stderr.startswith("Failure storing new TSIG key k hmac-sha256 ")
    assert theirs.stderr.startswith("Failure storing new TSIG key k hmac-sha256 ")
    same(ours(site, "list-tsig-keys"), pdns(site, "list-tsig-keys"))
    # with one, keys and metadata go there
    db = site / "dnssec.db"
    conn = sqlite3.connect(db)
    for statement in BIND_DNSSEC_SCHEMA:
        conn.execute(statement)
    conn.commit()
    conn.close()
    (site / "pdns.conf").write_text(plain + f"bind-dnssec-db={db}\n")
    assert ours(site, "import-tsig-key", "k", "hmac-sha256", SECRET).returncode == 0
    assert pdns(site, "import-tsig-key", "p", "hmac-sha1", SECRET).returncode == 0
    same(ours(site, "list-tsig-keys"), pdns(site, "list-tsig-keys"))
    assert ours(site, "list-tsig-keys").stdout == (f"k. hmac-sha256. {SECRET}\n"
                                                   f"p. hmac-sha1. {SECRET}\n")
    mine = ours(site, "activate-tsig-key", "example.com", "k", "primary")
    assert (mine.returncode, mine.stdout) == (0, "Enabled TSIG key k for example.com\n")
    theirs = pdns(site, "activate-tsig-key", "example.com", "p", "primary")
    assert (theirs.returncode, theirs.stdout) == (0, "Enabled TSIG key p for example.com\n")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT domain, kind, content FROM domainmetadata ORDER BY id")\
        .fetchall() == [("example.com", "TSIG-ALLOW-AXFR", "k"),
                        ("example.com", "TSIG-ALLOW-AXFR", "p")]
    conn.close()
    assert ours(site, "delete-tsig-key", "p").stdout == "Deleted TSIG key p\n"
    assert pdns(site, "list-tsig-keys").stdout == f"k. hmac-sha256. {SECRET}\n"


# --------------------------------------------------------------------------------------------
# bad calls and what fastdns-util refuses that pdnsutil 4.7 stores


BAD_CALLS = [
    ("generate-tsig-key",), ("generate-tsig-key", "k"), ("generate-tsig-key", "k", "a", "b"),
    ("import-tsig-key", "k", "hmac-sha1"), ("import-tsig-key", "k", "hmac-sha1", SECRET, "x"),
    ("delete-tsig-key",), ("delete-tsig-key", "a", "b"), ("list-tsig-keys", "x"),
    ("activate-tsig-key", "example.com", "k"), ("activate-tsig-key",),
    ("deactivate-tsig-key", "example.com", "k"), ("deactivate-tsig-key", "a", "b", "c", "d"),
]


@pytest.mark.parametrize("call", BAD_CALLS, ids=lambda c: " ".join(c[:2]) + f"/{len(c)}")
def test_bad_calls_get_the_usage_and_fail(site, call):
    result = ours(site, *call)
    assert result.returncode == 1, result
    assert result.stderr.split("\n")[0].split()[:3] == ["Syntax:", "fastdns-util", call[0]]
    assert result.stdout == ""
    assert tsigkeys(site) == [] and meta(site) == []


@pytest.mark.parametrize("call,message", [
    (("generate-tsig-key", "k", "hmac-sha3"),
     "Could not create new TSIG key k hmac-sha3: Invalid TSIG algorithm: hmac-sha3\n"),
    (("import-tsig-key", "k", "hmac-foo", SECRET),
     "Could not import TSIG key k hmac-foo: Invalid TSIG algorithm: hmac-foo\n"),
    (("import-tsig-key", "k", "hmac-sha1", "notbase64!!"),
     "Could not import TSIG key k hmac-sha1: the key 'notbase64!!' is not base64\n"),
    (("activate-tsig-key", "nozone.test", "k", "primary"),
     "Zone 'nozone.test' does not exist\n"),
    (("activate-tsig-key", "example.com", "k", "foo"),
     "Invalid parameter 'foo', expected primary or secondary type\n"),
    (("generate-tsig-key", "bad..name", "hmac-sha1"), None),
    (("import-tsig-key", "bad..name", "hmac-sha1", SECRET), None),
    (("delete-tsig-key", "bad..name"), None),
    (("activate-tsig-key", "bad..zone", "k", "primary"), None),
])
def test_bad_input_is_refused_clearly(site, call, message):
    result = ours(site, *call)
    assert result.returncode == 1 and result.stdout == ""
    if message is not None:
        assert result.stderr == message
    else:
        assert result.stderr.startswith("Error: bad name 'bad..")
    assert tsigkeys(site) == [] and meta(site) == []


def test_the_5x_names_are_aliases(site):
    assert ours(site, "tsigkey", "import", "k", "hmac-sha256", SECRET).returncode == 0
    assert ours(site, "tsig-key", "list").stdout == f"k. hmac-sha256. {SECRET}\n"
    assert ours(site, "tsigkey", "activate", "example.com", "k", "primary").returncode == 0
    assert meta(site) == [("example.com", "TSIG-ALLOW-AXFR", "k")]

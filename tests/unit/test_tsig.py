"""fastdns.xfr.tsig: PowerDNS's TSIG algorithm names, keys read from real SQLite databases
(a generic SQL one and a bind-dnssec-db, broken rows included), and keyrings that dnspython
signs and verifies messages with."""

import base64
import logging
import sqlite3
from pathlib import Path

import dns.message
import dns.name
import dns.tsig
import pytest

from fastdns.xfr.tsig import (
    ALGORITHMS,
    TsigKey,
    algorithm_name,
    keyring,
    read_tsig_keys,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER = base64.b64encode(b"another secret of thirty-two by.").decode()


@pytest.fixture(autouse=True)
def fastdns_log_reaches_caplog():
    """fastdns.log stops propagation once a server's logging is set up (an earlier test
    may have done it): let the records reach caplog here."""
    logger = logging.getLogger("fastdns")
    before = logger.propagate
    logger.propagate = True
    yield
    logger.propagate = before


def test_algorithms_are_pdns_names_for_dnspython_names():
    assert ALGORITHMS == {
        "hmac-md5": dns.tsig.HMAC_MD5,
        "hmac-md5.sig-alg.reg.int": dns.tsig.HMAC_MD5,
        "hmac-sha1": dns.tsig.HMAC_SHA1,
        "hmac-sha224": dns.tsig.HMAC_SHA224,
        "hmac-sha256": dns.tsig.HMAC_SHA256,
        "hmac-sha384": dns.tsig.HMAC_SHA384,
        "hmac-sha512": dns.tsig.HMAC_SHA512,
    }
    assert str(ALGORITHMS["hmac-md5"]).lower() == "hmac-md5.sig-alg.reg.int."


@pytest.mark.parametrize("text,short", [
    ("hmac-sha256", "hmac-sha256"), ("HMAC-SHA256.", "hmac-sha256"),
    ("hmac-md5", "hmac-md5"), ("hmac-md5.sig-alg.reg.int", "hmac-md5"),
    ("HMAC-MD5.SIG-ALG.REG.INT.", "hmac-md5"), ("hmac-sha1", "hmac-sha1"),
    ("hmac-sha224", "hmac-sha224"), ("hmac-sha384", "hmac-sha384"),
    ("hmac-sha512", "hmac-sha512"), ("hmac-foo", None), ("gss-tsig", None), ("", None),
])
def test_algorithm_names(text, short):
    assert algorithm_name(text) == short


def sql_db(path: Path, rows) -> None:
    conn = sqlite3.connect(path)
    conn.executescript((ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text())
    conn.executemany("INSERT INTO tsigkeys (name, algorithm, secret) VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()


def sql_backend(path: Path, name: str = "gsqlite3"):
    from fastdns.backends.gsql import open_backend
    from fastdns.config.loader import load_config, parse_command_line

    config = load_config(parse_command_line(["--launch=gsqlite3",
                                             f"--gsqlite3-database={path}"]))
    backend = open_backend(config, config.instances[0])
    backend.name = name
    return backend


def test_read_tsig_keys_from_sqlite_skips_broken_rows(tmp_path, caplog):
    db = tmp_path / "pdns.sqlite3"
    sql_db(db, [("axfr-key", "hmac-sha256", SECRET),
                ("md5-key", "hmac-md5.sig-alg.reg.int", SECRET),
                ("Upper.Key", "HMAC-SHA512", OTHER),
                ("bad-alg", "hmac-foo", SECRET),
                ("bad-secret", "hmac-sha1", "notbase64!!"),
                ("axfr-key", "hmac-sha1", OTHER)])     # a second algorithm: the first row wins
    backend = sql_backend(db)
    try:
        with caplog.at_level(logging.WARNING, logger="fastdns"):
            keys = read_tsig_keys([backend])
    finally:
        backend.close()
    assert keys == {
        "axfr-key.": TsigKey("axfr-key.", "hmac-sha256", SECRET),
        "md5-key.": TsigKey("md5-key.", "hmac-md5", SECRET),
        "upper.key.": TsigKey("upper.key.", "hmac-sha512", OTHER),
    }
    skipped = [r.getMessage() for r in caplog.records]
    assert skipped == [
        "TSIG key 'bad-alg' in backend 'gsqlite3' skipped: unknown algorithm 'hmac-foo'",
        "TSIG key 'bad-secret' in backend 'gsqlite3' skipped: its secret is not base64",
    ]


def test_the_first_backend_wins_and_the_bind_dnssec_db_is_read(tmp_path):
    from fastdns.backends.bind import BindBackend
    from fastdns.tools.admincmds import BIND_DNSSEC_SCHEMA

    first, second = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3"
    sql_db(first, [("shared", "hmac-sha256", SECRET)])
    sql_db(second, [("shared", "hmac-sha1", OTHER), ("only-b", "hmac-sha1", OTHER)])
    dnssec_db = tmp_path / "dnssec.db"
    conn = sqlite3.connect(dnssec_db)
    for statement in BIND_DNSSEC_SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT INTO tsigkeys (name, algorithm, secret) VALUES "
                 "('bind-key', 'hmac-sha384', ?)", (SECRET,))
    conn.commit()
    conn.close()
    (tmp_path / "named.conf").write_text("")
    bind = BindBackend(str(tmp_path / "named.conf"), name="bind")
    unsigned = BindBackend(str(tmp_path / "named.conf"), name="bind:plain")
    bind.use_dnssec_db(str(dnssec_db))
    a, b = sql_backend(first, "gsqlite3"), sql_backend(second, "gsqlite3:b")
    try:
        keys = read_tsig_keys([unsigned, a, b, bind])
    finally:
        for backend in (a, b, bind):
            backend.close()
    assert keys == {"shared.": TsigKey("shared.", "hmac-sha256", SECRET),
                    "only-b.": TsigKey("only-b.", "hmac-sha1", OTHER),
                    "bind-key.": TsigKey("bind-key.", "hmac-sha384", SECRET)}


def test_a_backend_that_cannot_be_read_is_logged_and_passed_over(tmp_path, caplog):
    class Broken:
        name = "broken"

        def tsig_keys(self):
            raise RuntimeError("database down")

    class Fine:
        name = "fine"

        def tsig_keys(self):
            return [("k", "hmac-sha256", SECRET)]

    with caplog.at_level(logging.WARNING, logger="fastdns"):
        keys = read_tsig_keys([Broken(), Fine()])
    assert list(keys) == ["k."]
    assert caplog.records[0].getMessage() == ("backend 'broken': TSIG keys cannot be read: "
                                              "database down")


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_keyring_signs_and_verifies_with_dnspython(algorithm):
    key = TsigKey("xfr.example.", algorithm_name(algorithm), SECRET)
    ring = keyring({key.name: key})
    name = dns.name.from_text("xfr.example.")
    assert ring[name].algorithm == ALGORITHMS[algorithm]
    query = dns.message.make_query("example.com.", "SOA")
    query.use_tsig(ring, name)
    wire = query.to_wire()
    parsed = dns.message.from_wire(wire, keyring=ring)
    assert parsed.had_tsig and parsed.keyname == name
    assert parsed.keyalgorithm == ALGORITHMS[algorithm]
    # another secret under the same name does not verify
    other = keyring([TsigKey("xfr.example.", algorithm_name(algorithm), OTHER)])
    with pytest.raises(dns.tsig.BadSignature):
        dns.message.from_wire(wire, keyring=other)


def test_to_dnspython():
    key = TsigKey("k.", "hmac-md5", SECRET).to_dnspython()
    assert key.name == dns.name.from_text("k.")
    assert key.secret == base64.b64decode(SECRET)
    assert key.algorithm == dns.tsig.HMAC_MD5

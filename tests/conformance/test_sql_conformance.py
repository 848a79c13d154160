"""A database that PowerDNS's own tool wrote is served unchanged (DESIGN §1).

For each of SQLite, PostgreSQL and MariaDB: a fresh database in PowerDNS's schema, zones,
records and metadata created by Debian's ``pdnsutil`` 4.7 (``create-zone``,
``add-record``, ``load-zone``, ``set-kind``, ``set-meta``, ``rectify-zone``...), one row
disabled by hand; then the database is served by ``pdns_server`` (its gsqlite3, gpgsql or
gmysql backend) and by fastdns (the same ``launch=`` and settings), and the answers to
every name of the zones by a list of types are compared, as in test_conformance.py
(normalised; a difference must be a row of docs/differences.md).
"""

import textwrap

import dns.rdatatype
import pytest

from tests._support.servers import CONF, Fastdns, Pdns
from tests._support.sqldb import KINDS, TempDatabase, pdnsutil
from tests.conformance.report import TALLY
from tests.conformance.test_conformance import VERSION_STRING, Pair, judge, pdns_settings
from tests.conformance.wire import Client, Query

ZONE = "example.org"
#: pdnsutil add-record arguments: name, type, [ttl], contents...
RECORDS = [
    ("@", "NS", "ns2.example.org"),
    ("ns1", "A", "192.0.2.1"),
    ("ns2", "AAAA", "2001:db8::2"),
    ("www", "A", "192.0.2.10", "192.0.2.11"),
    ("www", "AAAA", "2001:db8::10"),
    ("@", "MX", "10 mail.example.org", "20 mail2.example.net"),
    ("mail", "A", "192.0.2.25"),
    ("@", "TXT", '"v=spf1 -all"'),
    ("txt", "TXT", '"two" "strings"'),
    ("_sip._tcp", "SRV", "10 60 5060 sip.example.org"),
    ("sip", "A", "192.0.2.50"),
    ("alias", "CNAME", "www.example.org"),
    ("ext", "CNAME", "www.example.net"),
    ("*.wild", "A", "192.0.2.99"),
    ("a.b.c", "A", "192.0.2.3"),
    ("child", "NS", "ns.child.example.org"),
    ("ns.child", "A", "192.0.2.53"),
    ("short", "A", "60", "192.0.2.60"),
    ("caa", "CAA", '0 issue "letsencrypt.org"'),
    ("ptr", "PTR", "www.example.org"),
    ("off", "A", "192.0.2.66"),
]
#: the other example zones, loaded with pdnsutil load-zone
LOADED = {"example.net": "example.net.zone", "sub.example.com": "sub.example.com.zone",
          "2.0.192.in-addr.arpa": "2.0.192.in-addr.arpa.zone"}
EXTRA_NAMES = ["nx.example.org", "x.wild.example.org", "deeper.x.wild.example.org",
               "b.c.example.org", "c.example.org", "x.child.example.org", "off.example.org",
               "nx.example.net", "www.example.com"]
TYPES = [dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.SOA,
         dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.CNAME, dns.rdatatype.SRV,
         dns.rdatatype.PTR, dns.rdatatype.CAA, dns.rdatatype.DS, dns.rdatatype.ANY]


def fill(db: TempDatabase) -> None:
    """Zones, records and metadata, written the way an operator of PowerDNS writes them."""
    pdnsutil(db, "create-zone", ZONE, "ns1.example.org")
    for name, rtype, *contents in RECORDS:
        pdnsutil(db, "add-record", ZONE, name, rtype, *contents)
    pdnsutil(db, "increase-serial", ZONE)
    pdnsutil(db, "set-kind", ZONE, "master")
    pdnsutil(db, "set-meta", ZONE, "ALSO-NOTIFY", "192.0.2.200")
    pdnsutil(db, "rectify-zone", ZONE)
    for zone, file in LOADED.items():
        pdnsutil(db, "load-zone", zone, str(CONF / "zones" / file))
    db.execute("UPDATE records SET disabled = ? WHERE name = ?", (True, "off.example.org"))


def query_names(db: TempDatabase) -> list[str]:
    """The names to ask."""
    names = {name for (name,) in db.execute("SELECT DISTINCT name FROM records")}
    return sorted(names) + EXTRA_NAMES


@pytest.fixture(scope="module", params=KINDS)
def served(request, tmp_path_factory):
    kind = request.param
    workdir = tmp_path_factory.mktemp(f"sql-{kind}")
    with TempDatabase(kind, workdir) as db:
        fill(db)
        pdns = Pdns(workdir / "pdns", workdir / "unused.conf",
                    pdns_settings(**db.settings()))
        pdns.settings.pop("bind-config")
        fastdns = Fastdns(workdir / "fastdns", {**db.settings(),
                                                "version-string": VERSION_STRING})
        pdns.start()
        try:
            fastdns.start()
            pair = Pair(Client(pdns.address, pdns.port), Client(fastdns.address, fastdns.port))
            try:
                yield kind, pair, db, query_names(db)
            finally:
                pair.close()
                assert fastdns.stop() == 0, fastdns.log()
        finally:
            pdns.stop()


def test_served_unchanged(served) -> None:
    kind, pair, _db, names = served
    failures = []
    compared = 0
    for name in names:
        for rdtype in TYPES:
            for tcp in (False, True) if rdtype in (dns.rdatatype.A, dns.rdatatype.ANY) \
                    else (False,):
                query = Query(name + ".", rdtype, tcp=tcp, group=f"SQL: {kind}")
                outcome, problems = judge(pair, query)
                TALLY.add(query.group, outcome)
                compared += 1
                if outcome == "failed":
                    failures.append(f"{query}\n" + textwrap.indent("\n".join(problems), "  "))
    assert compared > 500
    assert not failures, f"{len(failures)} of {compared} differ:\n\n" + "\n\n".join(failures[:20])


def test_fill_is_what_pdnsutil_wrote(served) -> None:
    """The fixture holds what the test means: PowerDNS's kinds, metadata, ENT rows written
    by rectify-zone, MX/SRV priorities in ``prio``, and the disabled row."""
    _kind, _pair, db, _names = served
    assert db.execute("SELECT type FROM domains WHERE name = ?", (ZONE,)) == [("MASTER",)]
    assert db.execute("SELECT kind, content FROM domainmetadata") == [
        ("ALSO-NOTIFY", "192.0.2.200")]
    ents = {name for (name,) in db.execute("SELECT name FROM records WHERE type IS NULL")}
    assert {"c.example.org", "b.c.example.org", "_tcp.example.org"} <= ents
    mx = db.execute("SELECT prio, content FROM records WHERE type = 'MX' AND name = ?", (ZONE,))
    assert sorted(mx) == [(10, "mail.example.org"), (20, "mail2.example.net")]
    assert [bool(d) for (d,) in db.execute(
        "SELECT disabled FROM records WHERE name = 'off.example.org'")] == [True]


def test_a_database_fastdns_wrote_is_served_by_pdns(tmp_path) -> None:
    """The reverse direction: the example zones copied into SQLite by fastdns
    (``gsqlite3-seed-bind-config``) are answered by pdns_server's gsqlite3 backend as by its
    bind backend on the zone files themselves."""
    from fastdns.backends.gsql import GSQLBackend
    from fastdns.backends.gsqlite3 import SQLite3
    from tests.conformance.cases import all_cases
    from tests.conformance.normalise import compare

    database = tmp_path / "zones.sqlite3"
    backend = GSQLBackend(SQLite3({"database": str(database), "create-schema": True}))
    backend.dialect.on_create = lambda conn: backend.seed_from_named_conf(
        conn, str(CONF / "named.conf"))
    assert len(backend.list_zones()) == 4
    backend.close()
    files = Pdns(tmp_path / "bind", CONF / "named.conf", pdns_settings())
    sql = Pdns(tmp_path / "sql", tmp_path / "unused.conf",
               pdns_settings(**{"launch": "gsqlite3", "gsqlite3-database": str(database)}))
    sql.settings.pop("bind-config")
    with files, sql:
        a, b = Client(files.address, files.port), Client(sql.address, sql.port)
        failures, compared = [], 0
        for case in all_cases():
            query = case.queries[0]
            if query.group != "zone data" or query.qname.startswith("ttlmix."):
                continue   # ttlmix: an RRset of mixed TTLs is read with the lowest (row A6)
            qid = a.next_id()
            wire = query.wire(qid)
            diff = compare(a.exchange(wire, query.tcp), b.exchange(wire, query.tcp), qid)
            compared += 1
            if diff:
                failures.append(f"{query}: " + "; ".join(diff))
        a.close()
        b.close()
    assert compared > 1000
    assert not failures, f"{len(failures)} differ:\n" + "\n".join(failures[:15])

"""Zones as operators write them (tests/conformance/zones/), served by pdns_server and by
fastdns from the same files, and from the same SQLite database filled by Debian's
``pdnsutil load-zone``: every answer compared.

The query set comes from PowerDNS itself: every name of an AXFR of each zone by the types it
holds and the common ones, ANY, and a name that does not exist. The odd corners of RFC 1035
§5 (comments in parentheses, ``@`` and relative names, escapes, a multi-line SOA with units,
class and TTL in either order, ``$GENERATE``, ``$INCLUDE``, a type dnspython does not know)
are in the files; where fastdns answers otherwise on purpose, the test asserts the answer
docs/differences.md gives (Z2, A2).
"""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from tests._support.servers import Fastdns, Pdns, require
from tests._support.sqldb import pdns_sqlite
from tests.conformance.argued import a2_any_at_cname
from tests.conformance.normalise import Response, compare, differences, parse
from tests.conformance.wire import Client, Query

ZONES = Path(__file__).with_name("zones")
NAMED_CONF = ZONES / "named.conf"
#: what pdnsutil load-zone takes (it refuses lenient.example's broken records and its
#: unquoted TXT, which the bind backend serves)
SQL_ZONES = ("ops.example", "nottl.example", "incl.example", "svc.example", "moved.example")
#: asked at every name, beside the types the name holds
COMMON_TYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "ANY")
#: names whose answers differ on purpose: name -> the row of docs/differences.md
ARGUED_NAMES = {"badaddr.lenient.example.": "Z2"}
SETTINGS = {"bind-ignore-broken-records": "yes", "dname-processing": "yes",
            "version-string": "zone conformance"}


def axfr_names(port: int, zone: str) -> dict[str, set[str]]:
    """name -> types, from an AXFR of PowerDNS (what it serves of the zone), record by
    record (dnspython's zone would drop the data beside a CNAME)."""
    out: dict[str, set[str]] = {}
    for message in dns.query.xfr("127.0.0.1", zone + ".", port=port, timeout=10,
                                 relativize=False):
        for rrset in message.answer:
            out.setdefault(rrset.name.to_text().lower(), set()).add(
                dns.rdatatype.to_text(rrset.rdtype))
    return out


#: a zone PowerDNS cannot transfer (it stops at the broken record): its names, written here
LENIENT = {f"{name}lenient.example.": set() for name in
           ("", "ns.", "good.", "unquoted.", "badaddr.", "lua.", "nsec.", "after.")}


def queries(port: int, zones: tuple[str, ...]) -> Iterator[Query]:
    """The query set (see the module docstring)."""
    for zone in zones:
        names = dict(LENIENT) if zone == "lenient.example" else axfr_names(port, zone)
        names.setdefault(f"nonexistent-name.{zone}.", set())
        for name, types in sorted(names.items()):
            for rtype in sorted(types | set(COMMON_TYPES)):
                yield Query(name, int(dns.rdatatype.from_text(rtype)), tcp=True,
                            group="zone data")
            yield Query(name, dns.rdatatype.A, tcp=False, group="zone data")


def compare_all(pdns: Client, fastdns: Client, asked: list[Query]) -> tuple[int, list[str]]:
    """(queries compared, differences outside ARGUED_NAMES)."""
    failing = []
    for query in asked:
        if query.qname in ARGUED_NAMES:
            continue
        qid = pdns.next_id()
        wire = query.wire(qid)
        ours = fastdns.exchange(wire, query.tcp, timeout=3.0)
        theirs = pdns.exchange(wire, query.tcp, timeout=3.0)
        diff = compare(theirs, ours, qid)
        if diff and _argued_a2(pdns, query, theirs, ours):
            continue
        if diff:
            failing.append(f"{query.qname} {dns.rdatatype.to_text(query.qtype)} "
                           f"{'TCP' if query.tcp else 'UDP'}:\n  " + "\n  ".join(diff))
    return len(asked), failing


def _argued_a2(pdns: Client, query: Query, theirs: bytes | None, ours: bytes | None) -> bool:
    """Is fastdns's answer the one row A2 argues (ANY at a CNAME chain that ends at no
    name: NXDOMAIN with the SOA, where PowerDNS says NOERROR)?"""
    if query.qtype != dns.rdatatype.ANY or theirs is None or ours is None:
        return False

    def ask(related: Query) -> Response | None:
        answer = pdns.exchange(related.wire(pdns.next_id()), related.tcp, timeout=3.0)
        return None if answer is None else parse(answer)
    expected = a2_any_at_cname(query, parse(theirs), ask)
    return isinstance(expected, Response) and not differences(expected, parse(ours))


@pytest.fixture(scope="module")
def bind_servers(tmp_path_factory):
    work = tmp_path_factory.mktemp("zone-conformance")
    pdns = Pdns(work / "pdns", NAMED_CONF, dict(SETTINGS))
    fastdns = Fastdns(work / "fastdns", {"launch": "bind", "bind-config": str(NAMED_CONF),
                                         **SETTINGS})
    with pdns, fastdns:
        yield pdns, fastdns
    assert fastdns.proc is not None and fastdns.proc.returncode == 0, fastdns.log()


@pytest.fixture(scope="module")
def sql_servers(tmp_path_factory):
    """PowerDNS and fastdns on one SQLite database that pdnsutil filled."""
    work = tmp_path_factory.mktemp("zone-conformance-sql")
    database, conf = pdns_sqlite(work)
    for zone in SQL_ZONES:
        subprocess.run([require("pdnsutil"), f"--config-dir={conf}", "load-zone",
                        zone, f"{zone}.zone"], cwd=ZONES, check=True, capture_output=True)
    sql = {"launch": "gsqlite3", "gsqlite3-database": str(database), **SETTINGS}
    pdns = Pdns(work / "pdns", NAMED_CONF, {k: v for k, v in sql.items()
                                            if k != "bind-ignore-broken-records"})
    del pdns.settings["bind-config"]
    fastdns = Fastdns(work / "fastdns", {k: v for k, v in sql.items()
                                         if k != "bind-ignore-broken-records"})
    with pdns, fastdns:
        yield pdns, fastdns


def _clients(servers) -> tuple[Client, Client]:
    pdns, fastdns = servers
    return Client(pdns.address, pdns.port), Client(fastdns.address, fastdns.port)


def test_zone_files_are_served_as_powerdns_serves_them(bind_servers):
    pdns, fastdns = _clients(bind_servers)
    asked = list(queries(bind_servers[0].port, ("ops.example", "nottl.example",
                                                 "lenient.example", "incl.example",
                                                 "svc.example", "moved.example")))
    count, failing = compare_all(pdns, fastdns, asked)
    assert count > 500
    assert not failing, f"{len(failing)} of {count} answers differ:\n" + "\n".join(failing)


def test_pdnsutil_databases_are_served_as_powerdns_serves_them(sql_servers):
    pdns, fastdns = _clients(sql_servers)
    asked = list(queries(sql_servers[0].port, SQL_ZONES))
    count, failing = compare_all(pdns, fastdns, asked)
    assert count > 400
    assert not failing, f"{len(failing)} of {count} answers differ:\n" + "\n".join(failing)


def _ask(server, name: str, rtype: str) -> dns.message.Message:
    return server.query(name, rtype, tcp=True)


def test_z2_a_broken_record_is_left_out_and_its_name_served(bind_servers):
    pdns, fastdns = bind_servers
    for rtype in ("A", "TXT"):
        assert _ask(pdns, "badaddr.lenient.example", rtype).rcode() == dns.rcode.SERVFAIL
    assert [r.to_text() for r in _ask(fastdns, "badaddr.lenient.example", "TXT").answer[0]] \
        == ['"the rest of the name"']
    nodata = _ask(fastdns, "badaddr.lenient.example", "A")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    log = fastdns.log()
    assert "lenient.example.zone:8: bad A data '192.0.2.300'" in log
    assert "record skipped" in log and "2 broken records skipped" in log    # + outside.


def test_z7_include_and_origin_as_powerdns_reads_them(bind_servers):
    """``$INCLUDE incl.include sub.incl.example.``: PowerDNS ignores the origin, and the
    ``$ORIGIN`` the included file sets stays in force after it (RFC 1035 §5.1 reads both
    otherwise); fastdns reads it the same, and says so in its log (Z7)."""
    _pdns, fastdns = bind_servers
    for server in bind_servers:
        for qname, address in (("a.incl.example", "192.0.2.10"),
                               ("indeep.deep.incl.example", "192.0.2.11"),
                               ("back.deep.incl.example", "192.0.2.2")):
            assert [r.to_text() for r in _ask(server, qname, "A").answer[0]] == [address]
        assert _ask(server, "a.sub.incl.example", "A").rcode() == dns.rcode.NXDOMAIN
    log = fastdns.log()
    assert "incl.example.zone:6: the origin 'sub.incl.example.' of $INCLUDE is ignored" in log
    assert "incl.include: its $ORIGIN 'deep.incl.example.' stays in force" in log


def test_odd_corners_are_in_the_files():
    """The corpus holds what the issue lists (a guard against trimming it)."""
    text = (ZONES / "ops.example.zone").read_text()
    for needle in ("( \"v=DKIM1", "; serial", "IN 300 A", "300 IN A", "A IN 192", "\\065",
                   "$GENERATE", "$INCLUDE", "TYPE65280", "3H", "2001:DB8:0::25", "@\n"):
        assert needle in text, needle
    assert "$INCLUDE incl.include sub.incl.example." in (ZONES / "incl.example.zone").read_text()


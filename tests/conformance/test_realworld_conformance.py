"""Zones as operators write them (tests/conformance/realworld/: Windows and BIND exports,
hand-kept zones, reverse and ENUM zones, wildcards, delegations, CNAME and DNAME chains,
the odd types, and the mistakes people leave in zone files), served by pdns_server and by
fastdns from the same files, and from one SQLite database that Debian's ``pdnsutil
load-zone`` filled and ``rectify-all-zones`` rectified: every answer compared.

These zones were first compared by an independent run by hand; this is that run kept. The
query set comes from PowerDNS: every name of its AXFR of each zone (or, for the zones it
will not transfer, of the file) by the types the name holds and the common ones over TCP,
and A over UDP, plus names no AXFR shows (empty non-terminals, names below wildcards,
delegations and DNAMEs, mixed-case spellings, a name that does not exist). Each answer is
judged as in test_conformance.py: equal, or the difference a row of docs/differences.md
argues, exactly as the row says. The differences argued.py cannot recognise by itself (it
knows the names of conf/zones) are listed below by query, each with its row.
"""

import contextlib
import re
import subprocess
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests._support.servers import Fastdns, Pdns, ServerProcess, require
from tests._support.sqldb import pdns_sqlite
from tests.conformance.argued import ROWS, documented_rows
from tests.conformance.normalise import Response, compare, differences, parse
from tests.conformance.report import TALLY
from tests.conformance.test_conformance import VERSION_STRING, Pair, show
from tests.conformance.test_conformance import judge as judge_query
from tests.conformance.test_zone_conformance import axfr_names
from tests.conformance.wire import Client, Query

REALWORLD = Path(__file__).with_name("realworld")
NAMED_CONF = REALWORLD / "named.conf"
GROUP = "real-world zones"
SETTINGS = {"bind-ignore-broken-records": "yes", "dname-processing": "yes",
            "version-string": VERSION_STRING}
#: asked at every name, beside the types the name holds
COMMON_TYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "ANY", "HTTPS", "SVCB", "DS")
#: zones PowerDNS will not transfer (its AXFR stops at a broken record, or it refused the
#: whole zone): their names are read from the files
NOT_TRANSFERRED = ("oddities.example", "broken.example", "units.example")
#: zones ``pdnsutil load-zone`` refuses (a record outside the zone, an unquoted HINFO or
#: TXT, bad addresses, mnemonic CERT, compound TTLs): left out of the SQL variant
NOT_LOADED = ("parent.example", "oddities.example", "broken.example", "units.example")

#: names asked beside the zone's own: empty non-terminals, names below wildcards,
#: delegations and DNAMEs, and mixed-case spellings
EXTRA = {
    "corp.example.com": ["WwW.CoRp.ExAmPlE.CoM.", "nx.intranet.corp.example.com.",
                         "x.www.corp.example.com.", "_tcp.corp.example.com."],
    "acme.example": ["PRN-B-4.ACME.EXAMPLE.", "nx.lab.acme.example.", "_tcp.acme.example."],
    "ad.corp.example": ["dc01._msdcs.ad.corp.example.", "_sites.ad.corp.example.",
                        "Default-First-Site-Name._sites.ad.corp.example.",
                        "dc01.AD.CORP.EXAMPLE."],
    "_msdcs.ad.corp.example": ["dc._msdcs.ad.corp.example.", "nx.dc._msdcs.ad.corp.example."],
    "mailco.example": ["_report._dmarc.mailco.example.", "x._domainkey.mailco.example.",
                       "_tls.mailco.example."],
    "wild.example.org": [
        "alice.dev.wild.example.org.", "Bob.Dev.Wild.Example.Org.", "x.y.dev.wild.example.org.",
        "random.wild.example.org.", "a.b.c.wild.example.org.", "x.host.dev.wild.example.org.",
        "sub.dev.wild.example.org.", "x.sub.dev.wild.example.org.",
        "x.team.dev.wild.example.org.", "foo.cdn.wild.example.org.", "cdn.wild.example.org.",
        "foo.app.wild.example.org.", "x.y.app.wild.example.org.", "foo.shop.wild.example.org.",
        "x.mail.wild.example.org.", "_https._tcp.svc.wild.example.org.",
        "svc.wild.example.org.", "_tcp.svc.wild.example.org.", "x.odd.wild.example.org.",
        "bar.*.odd.wild.example.org.", "*.odd.wild.example.org.", "odd.wild.example.org.",
        "nx.www.wild.example.org."],
    "parent.example": [
        "www.child1.parent.example.", "a.b.child1.parent.example.", "ns1.child1.parent.example.",
        "x.child2.parent.example.", "www.child3.parent.example.", "child4.parent.example.",
        "dept.child4.parent.example.", "x.zone.dept.child4.parent.example.",
        "x.child5.parent.example.", "ns.child5.parent.example.", "x.deeper.sub.parent.example.",
        "ns.dns-hoster.example."],
    "sub.parent.example": ["nx.sub.parent.example."],
    "links.example": [
        "host.old.links.example.", "www.old.links.example.", "nx.old.links.example.",
        "a.b.old.links.example.", "www.brand.links.example.", "ftp.brand.links.example.",
        "nope.brand.links.example.", "static.www.brand.links.example.",
        "x.partner.links.example.", "new.links.example.", "WWW.Links.Example."],
    "secure.example": ["_tcp.www.secure.example.", "_smimecert.secure.example."],
    "svc.example.net": ["_https.www.svc.example.net.", "_dns.svc.example.net."],
    "oddities.example": ["my\\032printer.oddities.example.", "MIXEDCASE.oddities.example.",
                         "sub.oddities.example.", "upper.sub.oddities.example."],
    "include.example": ["lab.dept.include.example.", "wiki.dept.include.example.",
                        "dept.include.example.", "lab.include.example.", "wiki.include.example."],
    "legacy.example": ["rack1.dc2.legacy.example.", "dc2.legacy.example.",
                       "intranet.legacy.example."],
    "broken.example": ["www.partner.example."],
    "2.0.192.in-addr.arpa": ["150.2.0.192.in-addr.arpa.", "99.2.0.192.in-addr.arpa."],
    "51.198.in-addr.arpa": ["70.64/26.100.51.198.in-addr.arpa.",
                            "130.128-135.100.51.198.in-addr.arpa.",
                            "100.51.198.in-addr.arpa.", "200.100.51.198.in-addr.arpa."],
    "8.b.d.0.1.0.0.2.ip6.arpa": [
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.f.f.f.f.8.b.d.0.1.0.0.2.ip6.arpa.",
        "f.f.f.f.8.b.d.0.1.0.0.2.ip6.arpa.", "0.1.1.0.8.b.d.0.1.0.0.2.ip6.arpa."],
    "5.5.5.1.2.1.4.e164.arpa": ["9.8.7.6.5.5.5.1.2.1.4.e164.arpa.",
                                "1.2.3.5.5.5.1.2.1.4.e164.arpa.",
                                "3.5.5.5.1.2.1.4.e164.arpa.", "0.0.0.5.5.5.1.2.1.4.e164.arpa."],
}

#: names whose every answer differs on purpose (docs/differences.md row): a broken record
#: (Z2: PowerDNS SERVFAILs the name), units.example, which PowerDNS refuses whole for its
#: compound TTLs where fastdns skips the two records (Z3: SERVFAIL everywhere), and names the
#: zone holds with octets PowerDNS's 8bit-dns=no refuses (A5: argued.py asks PowerDNS about
#: a stand-in name, which does not exist here)
ARGUED_NAMES = {
    **{f"{name}.broken.example.": "Z2" for name in ("printer", "v6host", "broken6", "smime")},
    "oldbox.oddities.example.": "Z2",
    **{f"{name}units.example.": "Z3" for name in ("", "a.", "b.", "c.", "d.", "e.",
                                                  "nonexistent-name.")},
    **{f"{name}.oddities.example.": "A5" for name in ("joe\\'s-laptop", "semi\\;colon",
                                                      "caf\\195\\169")},
}
#: single queries whose answer differs on purpose: (name, qtype) -> row
ARGUED_QUERIES = {
    # ANY at a CNAME chain that ends at no name: NXDOMAIN with the SOA, as for A
    ("dangling.links.example.", "ANY"): "A2",
    ("shop.broken.example.", "ANY"): "A2",
    # qtype CNAME at a name a wildcard CNAME synthesises: no SOA beside it
    ("foo.app.wild.example.org.", "CNAME"): "A3",
    ("x.y.app.wild.example.org.", "CNAME"): "A3",
    ("foo.shop.wild.example.org.", "CNAME"): "A3",
    ("x.mail.wild.example.org.", "CNAME"): "A3",
    # ANY below the empty non-terminal wildcard *.odd (foo.*.odd A): NODATA
    ("x.odd.wild.example.org.", "ANY"): "A12",
}


def named_conf_zones() -> list[str]:
    return re.findall(r'^zone "([^"]+)"', NAMED_CONF.read_text(), re.M)


def _uncommented(line: str) -> str:
    """``line`` without its comment (a ``;`` outside quotes and not escaped)."""
    quoted, i = False, 0
    while i < len(line):
        if line[i] == "\\":
            i += 1
        elif line[i] == '"':
            quoted = not quoted
        elif line[i] == ";" and not quoted:
            return line[:i]
        i += 1
    return line


def file_names(zone: str) -> dict[str, set[str]]:
    """name -> types, read crudely from the zone's file (for a zone PowerDNS will not
    transfer): ``$ORIGIN``, ``@``, relative and owner-less lines, and the type word where a
    line starts a record."""
    origin = owner = zone + "."
    out: dict[str, set[str]] = {}
    for raw in (REALWORLD / f"{zone}.zone").read_text().splitlines():
        line = _uncommented(raw).rstrip()
        if line.startswith("$ORIGIN"):
            origin = line.split()[1]
        if not line.strip() or line.startswith("$"):
            continue
        tokens = line.split()
        if not raw[0].isspace():
            first = tokens.pop(0)
            owner = origin if first == "@" else first if first.endswith(".") \
                else f"{first}.{origin}"
        types = out.setdefault(owner.lower(), set())
        word = next((t for t in tokens if t.upper() != "IN" and not t[0].isdigit()), "")
        with contextlib.suppress(dns.rdatatype.UnknownRdatatype):
            types.add(dns.rdatatype.to_text(dns.rdatatype.from_text(word)))
    apex = dns.name.from_text(zone)
    return {name: types for name, types in out.items()
            if dns.name.from_text(name).is_subdomain(apex)}


def queries(port: int, zones: list[str]) -> Iterator[Query]:
    """The query set (see the module docstring)."""
    for zone in zones:
        names = file_names(zone) if zone in NOT_TRANSFERRED else axfr_names(port, zone)
        for extra in [*EXTRA.get(zone, ()), f"nonexistent-name.{zone}."]:
            names.setdefault(extra, set())
        for name, types in sorted(names.items()):
            for rtype in sorted(types | set(COMMON_TYPES)):
                yield Query(name, dns.rdatatype.from_text(rtype), tcp=True, group=GROUP)
            yield Query(name, dns.rdatatype.A, tcp=False, group=GROUP)


# --- the rows argued.py cannot recognise by itself -----------------------------------------

@dataclass
class Judge:
    """The two servers, and for A5 a PowerDNS with ``8bit-dns=yes``."""

    pair: Pair
    eightbit: Client | None = None

    def ask_8bit(self, query: Query) -> Response | None:
        assert self.eightbit is not None, "A5 is judged with a PowerDNS with 8bit-dns=yes"
        response = self.eightbit.exchange(query.wire(self.eightbit.next_id()), query.tcp)
        return None if response is None else parse(response)


def z_broken(query: Query, pdns: Response, fastdns: Response, judge: Judge) -> list[str]:
    """Z2/Z3: PowerDNS SERVFAILs the name (Z3: the zone); fastdns serves the rest of it
    (test_z2_*, test_z3_* check what exactly)."""
    problems = []
    if pdns.rcode != dns.rcode.SERVFAIL:
        problems.append(f"PowerDNS answered {pdns.rcode_text()}, documented SERVFAIL")
    if fastdns.rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        problems.append(f"fastdns answered {fastdns.rcode_text()}, documented the name "
                        "served without the broken record")
    return problems


def a5_any_octet(query: Query, pdns: Response, fastdns: Response, judge: Judge) -> list[str]:
    """A5 at a name the zone holds (argued.py's stand-in name would not exist): PowerDNS
    SERVFAILs the qname (``8bit-dns=no``); fastdns answers it like any other name, which
    is what PowerDNS answers with ``8bit-dns=yes``."""
    problems = []
    if pdns.rcode != dns.rcode.SERVFAIL:
        problems.append(f"PowerDNS answered {pdns.rcode_text()}, documented SERVFAIL")
    other = judge.ask_8bit(query)
    if other is None:
        return [*problems, "PowerDNS with 8bit-dns=yes did not answer"]
    return problems + [line.replace("PowerDNS", "PowerDNS with 8bit-dns=yes")
                       for line in differences(other, fastdns)]


def a12_ent_wildcard(query: Query, pdns: Response, fastdns: Response, judge: Judge
                     ) -> list[str]:
    """A12: ANY at a name matched by a wildcard that is an empty non-terminal: NODATA, as
    PowerDNS answers qtype A there (PowerDNS: a record of type 0 with no data)."""
    problems = []
    if not (pdns.error or any(r.rdtype == 0 for r in pdns.answer)):
        problems.append("PowerDNS did not answer its record of type 0")
    nodata = judge.pair.ask_pdns(query.variant(qtype=dns.rdatatype.A))
    if nodata is None:
        return [*problems, "PowerDNS did not answer qtype A"]
    if nodata.rcode != dns.rcode.NOERROR or nodata.answer:
        problems.append(f"PowerDNS's answer to qtype A is not NODATA:\n{nodata}")
    qname = query.name.to_wire()
    assert qname is not None
    expected = replace(nodata, question=((qname, query.qtype, query.qclass),))
    return problems + [line.replace("PowerDNS", "documented")
                       for line in differences(expected, fastdns)]


Check = Callable[[Query, Response, Response, Judge], list[str]]
CHECKS: dict[str, Check] = {"Z2": z_broken, "Z3": z_broken, "A5": a5_any_octet,
                            "A12": a12_ent_wildcard}


def _row_check(row: str) -> Check:
    if row in CHECKS:
        return CHECKS[row]
    argued = next(r for r in ROWS if r.row == row)
    return lambda query, pdns, fastdns, judge: argued.problems(query, pdns, fastdns,
                                                               judge.pair.ask_pdns)


def _key(query: Query) -> tuple[str, str]:
    return query.qname.lower(), dns.rdatatype.to_text(dns.rdatatype.RdataType.make(query.qtype))


def listed_row(query: Query) -> str | None:
    """The row ARGUED_NAMES or ARGUED_QUERIES give ``query``, if any."""
    return ARGUED_NAMES.get(_key(query)[0]) or ARGUED_QUERIES.get(_key(query))


def judge_listed(judge: Judge, query: Query, row: str) -> tuple[str, list[str]]:
    """As ``judge`` of test_conformance.py, for a query listed with its row: fastdns's
    answer must be the one the row documents."""
    qid, pdns_wire, fastdns_wire = judge.pair.exchange(query)
    if pdns_wire is None or fastdns_wire is None:
        return "failed", compare(pdns_wire, fastdns_wire, qid)
    pdns, fastdns = parse(pdns_wire), parse(fastdns_wire)
    wrong = _row_check(row)(query, pdns, fastdns, judge)
    if wrong or row not in documented_rows():
        return "failed", [f"listed as {row} of docs/differences.md, but:",
                          *(f"  {line}" for line in wrong or ["the row is not written"]),
                          show("PowerDNS", pdns), show("fastdns", fastdns)]
    return (row if compare(pdns_wire, fastdns_wire, qid) else "equal"), []


def compare_all(servers: tuple, zones: list[str]) -> tuple[Counter, list[str]]:
    """Every query of the set judged: (outcomes, failures)."""
    pdns, fastdns, *eightbit = servers
    judge = Judge(Pair(Client(pdns.address, pdns.port), Client(fastdns.address, fastdns.port)),
                  Client(eightbit[0].address, eightbit[0].port) if eightbit else None)
    outcomes: Counter = Counter()
    failures = []
    seen: dict[tuple[str, str], set[str]] = {}
    try:
        for query in queries(pdns.port, zones):
            row = listed_row(query)
            outcome, problems = judge_listed(judge, query, row) if row \
                else judge_query(judge.pair, query)
            TALLY.add(GROUP, outcome)
            outcomes[outcome] += 1
            seen.setdefault(_key(query), set()).add(outcome)
            if outcome == "failed":
                failures.append(f"{query}\n" + textwrap.indent("\n".join(problems), "  "))
    finally:
        judge.pair.close()
        if judge.eightbit is not None:
            judge.eightbit.close()
    return outcomes, failures + stale_listings(seen, zones)


def stale_listings(seen: dict[tuple[str, str], set[str]], zones: list[str]) -> list[str]:
    """Listed names and queries of the served zones that were not asked, or that came out
    equal (the listing is out of date)."""
    apexes = [dns.name.from_text(zone) for zone in zones]

    def served(name: str) -> bool:
        return any(dns.name.from_text(name).is_subdomain(apex) for apex in apexes)
    asked = {name for name, _ in seen}
    out = [f"{name} of ARGUED_NAMES was not asked" for name in ARGUED_NAMES
           if served(name) and name not in asked]
    for key, row in ARGUED_QUERIES.items():
        if served(key[0]) and key not in seen:
            out.append(f"{key} of ARGUED_QUERIES was not asked")
        elif seen.get(key) == {"equal"}:
            out.append(f"{key} is answered as PowerDNS answers it, not as {row}: take it out "
                       "of ARGUED_QUERIES")
    return out


def _report(outcomes: Counter, failures: list[str]) -> str:
    total = sum(outcomes.values())
    print(f"\n{GROUP}: {total} compared, " + ", ".join(f"{k} {v}"
                                                       for k, v in sorted(outcomes.items())))
    return (f"{len(failures)} problems in {total} answers ({outcomes['failed']} differ):\n\n"
            + "\n\n".join(failures[:40]))


# --- servers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bind_servers(tmp_path_factory):
    """PowerDNS and fastdns on the zone files, and a PowerDNS with ``8bit-dns=yes`` (A5)."""
    work = tmp_path_factory.mktemp("realworld")
    pdns = Pdns(work / "pdns", NAMED_CONF, dict(SETTINGS))
    fastdns = Fastdns(work / "fastdns", {"launch": "bind", "bind-config": str(NAMED_CONF),
                                         **SETTINGS})
    eightbit = Pdns(work / "pdns-8bit", NAMED_CONF, {**SETTINGS, "8bit-dns": "yes"})
    with pdns, fastdns, eightbit:
        yield pdns, fastdns, eightbit
    assert fastdns.proc is not None and fastdns.proc.returncode == 0, fastdns.log()


@pytest.fixture(scope="module")
def sql_servers(tmp_path_factory):
    """PowerDNS and fastdns on one SQLite database that pdnsutil filled and rectified
    (docs/differences.md S8: unrectified, PowerDNS answers NXDOMAIN at empty non-terminals)."""
    work = tmp_path_factory.mktemp("realworld-sql")
    database, conf = pdns_sqlite(work)
    pdnsutil = [require("pdnsutil"), f"--config-dir={conf}"]
    for zone in sql_zones():    # $INCLUDE is relative to pdnsutil's working directory
        done = subprocess.run([*pdnsutil, "load-zone", zone, f"{zone}.zone"], cwd=REALWORLD,
                              capture_output=True, text=True)
        assert done.returncode == 0, f"pdnsutil load-zone {zone}: {done.stderr}{done.stdout}"
    done = subprocess.run([*pdnsutil, "rectify-all-zones"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    sql = {"launch": "gsqlite3", "gsqlite3-database": str(database),
           "dname-processing": "yes", "version-string": VERSION_STRING}
    pdns = Pdns(work / "pdns", NAMED_CONF, sql)
    del pdns.settings["bind-config"]
    fastdns = Fastdns(work / "fastdns", sql)
    with pdns, fastdns:
        yield pdns, fastdns
    assert fastdns.proc is not None and fastdns.proc.returncode == 0, fastdns.log()


def sql_zones() -> list[str]:
    return [zone for zone in named_conf_zones() if zone not in NOT_LOADED]


# --- tests ----------------------------------------------------------------------------------

def test_zone_files_are_served_as_powerdns_serves_them(bind_servers):
    outcomes, failures = compare_all(bind_servers, named_conf_zones())
    assert sum(outcomes.values()) > 7000
    assert not failures, _report(outcomes, failures)
    _report(outcomes, failures)


def test_pdnsutil_database_is_served_as_powerdns_serves_it(sql_servers):
    outcomes, failures = compare_all(sql_servers, sql_zones())
    assert sum(outcomes.values()) > 6000
    assert not failures, _report(outcomes, failures)
    _report(outcomes, failures)


#: Z2: (name, qtype, fastdns's answer: the rdata, or the rcode of an empty answer), and the
#: warning in fastdns's log; PowerDNS SERVFAILs each name
BROKEN = [
    ("printer.broken.example", "A", "NOERROR", "broken.example.zone:12: bad A data '192.0.2.256'"),
    ("printer.broken.example", "TXT", ['"2nd floor"'], None),
    ("v6host.broken.example", "A", "NOERROR", "broken.example.zone:15: bad A data '2001:db8::1'"),
    ("v6host.broken.example", "AAAA", ["2001:db8::1"], None),
    ("broken6.broken.example", "AAAA", "NOERROR",
     "broken.example.zone:38: bad AAAA data '2001:db8::zz'"),
    ("broken6.broken.example", "A", ["192.0.2.247"], None),
    ("smime.broken.example", "CERT", "NOERROR", "broken.example.zone:47: bad CERT data 'PKIX 0 "),
    ("smime.broken.example", "A", ["192.0.2.253"], None),
    ("oldbox.oddities.example", "HINFO", "NXDOMAIN",
     "oddities.example.zone:19: bad HINFO data 'INTEL-386 UNIX'"),
]


def _expect(server: ServerProcess, name: str, rtype: str, answer: str | list[str]) -> list[str]:
    response = server.query(name, rtype, tcp=True)
    rdata = sorted(r.to_text() for rrset in response.answer for r in rrset)
    rcode = dns.rcode.to_text(response.rcode())
    if isinstance(answer, str):
        ok = rcode == answer and not rdata
    else:
        ok = rcode == "NOERROR" and rdata == sorted(answer)
    return [] if ok else [f"{server.name} {name} {rtype}: {rcode} {rdata}, expected {answer}"]


@pytest.mark.parametrize(("name", "rtype", "answer", "warning"), BROKEN,
                         ids=[f"{b[0]}-{b[1]}" for b in BROKEN])
def test_z2_a_broken_record_is_skipped_and_its_name_served(bind_servers, name, rtype, answer,
                                                           warning):
    pdns, fastdns, _ = bind_servers
    problems = _expect(pdns, name, rtype, "SERVFAIL") + _expect(fastdns, name, rtype, answer)
    if warning is not None and not re.search(
            re.escape(warning) + r".*; record skipped$", fastdns.log(), re.M):
        problems.append(f"no warning '{warning}...; record skipped' in fastdns's log")
    assert not problems, "\n".join(problems)


def test_z3_compound_ttls_skip_two_records_not_the_zone(bind_servers):
    """``a 1d12h IN A``: PowerDNS takes ``1d12h`` (a unit before the last character) for a
    type word and refuses units.example whole; fastdns skips the two records and serves
    the others, their TTLs read as PowerDNS reads them (``$TTL 1W2D``: the number times
    the last unit, one day)."""
    pdns, fastdns, _ = bind_servers
    problems = _expect(pdns, "units.example", "SOA", "SERVFAIL")
    problems += _expect(pdns, "b.units.example", "A", "SERVFAIL")
    for name, answer in (("a", "NXDOMAIN"), ("c", "NXDOMAIN"), ("b", ["192.0.2.2"]),
                         ("d", ["192.0.2.4"]), ("e", ["192.0.2.5"])):
        problems += _expect(fastdns, f"{name}.units.example", "A", answer)
    ttls = {r.name.to_text(): r.ttl for name in "bde"
            for r in fastdns.query(f"{name}.units.example", "A", tcp=True).answer}
    if ttls != {"b.units.example.": 90, "d.units.example.": 1209600,
                "e.units.example.": 86400}:
        problems.append(f"fastdns's TTLs: {ttls}")
    log = fastdns.log()
    for line, word in ((5, "1d12h"), (7, "1m30s")):
        if not re.search(rf"units\.example\.zone:{line}: '{word}' .*; record skipped$", log,
                         re.M):
            problems.append(f"no warning 'units.example.zone:{line}: '{word}' ...' in the log")
    if "units.example': loaded serial 2024010101" not in log or \
            "2 broken records skipped" not in log:
        problems.append("units.example's load line does not count 2 broken records skipped")
    assert not problems, "\n".join(problems)

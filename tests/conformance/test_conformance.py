"""fastdns against PowerDNS Authoritative 4.7.3 (Debian's pdns_server, bind backend) on the
same zones (conf/named.conf).

Every query of the query set (cases.py: the zone data's names by types over UDP and TCP,
with and without EDNS, in mixed case, plus hand-written special cases) goes to both
servers; the responses are normalised and compared (normalise.py). A difference must be
one that docs/differences.md argues, and fastdns's side must then be exactly what the row
says (argued.py); any other difference fails. Raw malformed packets check the M rows
(packets.py), and a few tests check the rows the query set cannot show (record order,
zone transfers, ``version-string``).

Nothing here hard-codes fastdns's answers: the expected side is always PowerDNS's live
answer, or that answer changed exactly as a row of docs/differences.md documents.
"""

import dataclasses
import itertools
import socket
import struct
import textwrap
from dataclasses import dataclass
from pathlib import Path

import dns.rcode
import dns.rdatatype
import pytest

from fastdns import __version__
from tests._support.servers import CONF, Fastdns, Pdns
from tests.conformance.argued import PROPOSED, ROWS, documented_rows
from tests.conformance.cases import CH, Case, all_cases
from tests.conformance.normalise import Response, compare, parse
from tests.conformance.packets import RAW, Outcome
from tests.conformance.report import TALLY
from tests.conformance.wire import OPT_NSID, Client, Query, read_framed

NAMED_CONF = CONF / "named.conf"
#: the same custom text on both servers, so that version.bind compares equal
VERSION_STRING = "conformance suite"
CASES = all_cases()


def pdns_settings(**extra: str) -> dict[str, str]:
    # A1 is neutralised: PowerDNS processes DNAMEs as fastdns does by default
    return {"dname-processing": "yes", "version-string": VERSION_STRING, **extra}


def fastdns_settings(**extra: str) -> dict[str, str]:
    return {"launch": "bind", "bind-config": str(NAMED_CONF.resolve()),
            "version-string": VERSION_STRING, **extra}


@dataclass
class Pair:
    """The two servers, each with a reusable client."""

    pdns: Client
    fastdns: Client

    def exchange(self, query: Query) -> tuple[int, bytes | None, bytes | None]:
        qid = self.pdns.next_id()
        wire = query.wire(qid)
        return (qid, self.pdns.exchange(wire, query.tcp, timeout=2.0),
                self.fastdns.exchange(wire, query.tcp, timeout=2.0))

    def ask_pdns(self, query: Query) -> Response | None:
        """PowerDNS's live answer to a related query (the oracle of argued.py)."""
        response = self.pdns.exchange(query.wire(self.pdns.next_id()), query.tcp)
        return None if response is None else parse(response)

    def close(self) -> None:
        self.pdns.close()
        self.fastdns.close()


def start_pair(workdir: Path, pdns_extra: dict[str, str] | None = None,
               fastdns_extra: dict[str, str] | None = None) -> tuple[Pdns, Fastdns]:
    pdns = Pdns(workdir / "pdns", NAMED_CONF, pdns_settings(**(pdns_extra or {})))
    fastdns = Fastdns(workdir / "fastdns", fastdns_settings(**(fastdns_extra or {})))
    pdns.start()
    try:
        fastdns.start()
    except BaseException:
        pdns.stop()
        raise
    return pdns, fastdns


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    pdns, fastdns = start_pair(tmp_path_factory.mktemp("conformance"))
    pair = Pair(Client(pdns.address, pdns.port), Client(fastdns.address, fastdns.port))
    try:
        yield pair
    finally:
        pair.close()
        pdns.stop()
        assert fastdns.stop() == 0, fastdns.log()


def show(label: str, response: Response | None) -> str:
    return f"{label}:\n" + textwrap.indent("(no response)" if response is None
                                           else str(response), "    ")


def judge(pair: Pair, query: Query) -> tuple[str, list[str]]:
    """Send ``query`` to both servers: ("equal" | row id | "failed", problems)."""
    qid, pdns_wire, fastdns_wire = pair.exchange(query)
    diff = compare(pdns_wire, fastdns_wire, qid)
    if pdns_wire is None or fastdns_wire is None:
        return ("failed", diff) if diff else ("equal", [])
    pdns, fastdns = parse(pdns_wire), parse(fastdns_wire)
    rows = [row for row in ROWS if row.applies(query, pdns)]
    if not rows:
        if not diff:
            return "equal", []
        return "failed", ["a difference that no row of docs/differences.md argues:", *diff,
                          show("PowerDNS", pdns), show("fastdns", fastdns)]
    problems = []
    for row in rows:
        wrong = row.problems(query, pdns, fastdns, pair.ask_pdns)
        if not wrong:
            if not diff:
                return "equal", []
            if row.row not in documented_rows():
                return "failed", [f"a difference argued as {row.row} ({row.summary}), but "
                                  f"docs/differences.md has no row {row.row}; proposed:",
                                  PROPOSED.get(row.row, "?"), *diff,
                                  show("PowerDNS", pdns), show("fastdns", fastdns)]
            return row.row, []
        what = "fastdns answers as PowerDNS" if not diff else "fastdns's answer is not that"
        problems += [f"{row.row} of docs/differences.md applies ({row.summary}), but {what}:",
                     *(f"  {line}" for line in wrong)]
    return "failed", [*problems, "differences from PowerDNS:", *diff,
                      show("PowerDNS", pdns), show("fastdns", fastdns)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_query(servers: Pair, case: Case) -> None:
    failures = []
    for query in case.queries:
        outcome, problems = judge(servers, query)
        TALLY.add(query.group, outcome)
        if outcome == "failed":
            failures.append(f"{query}\n" + textwrap.indent("\n".join(problems), "  "))
    assert not failures, "\n\n".join(failures)


# --- M rows: malformed and unusual packets -----------------------------------------------

def tcp_outcome(client: Client, packet: bytes, timeout: float = 0.5) -> Outcome:
    """Send ``packet`` on a new connection: the first response, or whether the server
    closed the connection without one."""
    with socket.create_connection(client.address, timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(packet)) + packet)
        try:
            return Outcome(read_framed(sock))
        except (EOFError, ConnectionResetError):
            return Outcome(None, closed=True)
        except TimeoutError:
            return Outcome(None, closed=False)


def test_malformed_packets(servers: Pair) -> None:
    """Each raw packet of packets.RAW to both servers, over UDP and TCP: each server does
    what its column of docs/differences.md says."""
    udp_ids = {id(raw): 0x7000 + i for i, raw in enumerate(RAW)}
    udp: dict[str, dict[bytes, bytes]] = {}
    for label, client, attr in (("PowerDNS", servers.pdns, "pdns_udp"),
                                ("fastdns", servers.fastdns, "fastdns_udp")):
        batch = [raw.packet(udp_ids[id(raw)]) for raw in RAW if getattr(raw, attr)]
        udp[label] = client.udp_batch(batch, wait=0.6)
    failures = []
    for raw in RAW:
        qid = udp_ids[id(raw)]
        packet = raw.packet(qid)
        plain = None
        if raw.plain is not None:
            plain = servers.pdns.exchange(raw.plain(qid), tcp=False)
        for label, client, transport in (("PowerDNS", servers.pdns, "udp"),
                                         ("PowerDNS", servers.pdns, "tcp"),
                                         ("fastdns", servers.fastdns, "udp"),
                                         ("fastdns", servers.fastdns, "tcp")):
            attr = f"{'pdns' if label == 'PowerDNS' else 'fastdns'}_{transport}"
            expect = getattr(raw, attr)
            if expect is None:
                continue
            if transport == "udp":
                outcome = Outcome(udp[label].get(packet[:2]))
            else:
                outcome = tcp_outcome(client, packet)
            problems = expect(packet, outcome, plain)
            if label == "fastdns":
                TALLY.add(raw.row, "failed" if problems else
                          ("equal" if raw.row == "same" else raw.row))
            if problems:
                failures.append(f"{raw.row} {raw.name} ({transport}) {label}: documented "
                                f"{expect.__doc__.strip().splitlines()[0]}\n"
                                + textwrap.indent("\n".join(problems), "  "))
    assert not failures, "\n\n".join(failures)


# --- A8: record order ----------------------------------------------------------------------

def test_rrset_order(servers: Pair) -> None:
    """A8: PowerDNS shuffles the records of an RRset on every query; fastdns answers in one
    fixed order, sorted by wire form, the DNAME before its synthesised CNAME."""
    problems = []
    orders: set[tuple] = set()
    for _ in range(20):
        _, pdns_wire, _ = servers.exchange(Query("biga.example.com", dns.rdatatype.A))
        assert pdns_wire is not None
        orders.add(tuple(r.rdata.to_digestable() for r in parse(pdns_wire).answer))
    if len(orders) < 2:
        problems.append("PowerDNS answered biga A in one order 20 times (A8: shuffled)")
    for qname, qtype in (("biga.example.com", "A"), ("multi.example.com", "AAAA"),
                         ("txt.example.com", "TXT"), ("example.com", "NS"),
                         ("example.com", "MX"), ("foo.dname.example.com", "TXT"),
                         ("www.dint.example.com", "A")):
        query = Query(qname, dns.rdatatype.from_text(qtype), tcp=True)
        answers = set()
        for _ in range(3):
            _, _, fastdns_wire = servers.exchange(query)
            assert fastdns_wire is not None
            answers.add(fastdns_wire[2:])
            TALLY.add("A8 order", "A8")
        if len(answers) != 1:
            problems.append(f"{query}: fastdns's answer changed between queries")
        got = parse(fastdns_wire)
        for section in ("answer", "additional"):
            records = got.section(section)
            for a, b in itertools.pairwise(records):
                same_rrset = (a.owner, a.rdtype) == (b.owner, b.rdtype)
                if same_rrset and a.rdata.to_digestable() > b.rdata.to_digestable():
                    problems.append(f"{query}: {section} not sorted by wire form: {a} / {b}")
        types = [r.rdtype for r in got.answer]
        if dns.rdatatype.DNAME in types and types.index(dns.rdatatype.DNAME) != 0:
            problems.append(f"{query}: the DNAME is not first:\n{got}")
    assert not problems, "\n".join(problems)


# --- A9: zone transfers ------------------------------------------------------------------------

def transfer(client: Client, wire: bytes) -> list[bytes]:
    """The messages a server sends for a transfer request: up to the closing SOA, or up to
    an error, or as many as come within 0.1 s of that."""
    out: list[bytes] = []
    soas = 0
    with socket.create_connection(client.address, timeout=2.0) as sock:
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        while True:
            try:
                message = read_framed(sock)
            except (EOFError, ConnectionError, TimeoutError):
                return out
            out.append(message)
            response = parse(message)
            soas += sum(r.rdtype == dns.rdatatype.SOA for r in response.answer)
            if response.rcode != dns.rcode.NOERROR or soas >= 2 or response.error:
                sock.settimeout(0.1)   # a server that wrongly sends more is still caught


def _lowest_ttls(messages) -> list:
    """The records of ``messages``, each RRset's TTL made its lowest record's (A6: an RRset
    written with several TTLs is served, and transferred, with the lowest)."""
    records = [r for m in messages for r in m.answer]
    lowest: dict = {}
    for r in records:
        key = (r.owner.canonicalize(), r.rdtype)
        lowest[key] = min(lowest.get(key, r.ttl), r.ttl)
    return [dataclasses.replace(r, ttl=lowest[(r.owner.canonicalize(), r.rdtype)])
            for r in records]


@pytest.mark.parametrize("query", [
    Query("example.com", dns.rdatatype.AXFR, tcp=True),
    Query("example.com", dns.rdatatype.AXFR, tcp=True, edns=None),
    Query("sub.example.com", dns.rdatatype.AXFR, tcp=True),
    Query("example.com", dns.rdatatype.IXFR, tcp=True),
], ids=str)
def test_zone_transfers(servers: Pair, query: Query) -> None:
    """A9: both servers transfer the zone to 127.0.0.1 (allow-axfr-ips default): every
    message NOERROR and authoritative with the query's ID, the SOA first and last, the same
    records (their order and the message boundaries may differ; an IXFR without the
    asker's SOA is answered with the whole zone by both)."""
    qid = servers.pdns.next_id()
    wire = query.wire(qid)
    pdns = [parse(m) for m in transfer(servers.pdns, wire)]
    fastdns = [parse(m) for m in transfer(servers.fastdns, wire)]
    problems = []
    for name, messages in (("PowerDNS", pdns), ("fastdns", fastdns)):
        records = [r for m in messages for r in m.answer]
        if not (messages and all(m.rcode == dns.rcode.NOERROR and m.qid == qid
                                 for m in messages)
                and len(records) > 2 and records[0].rdtype == dns.rdatatype.SOA
                and records[-1].rdtype == dns.rdatatype.SOA and records[0].owner == query.name):
            problems.append(f"{name} did not transfer the zone (SOA ... SOA):\n"
                            + "\n".join(map(str, messages[:1])))
    theirs = sorted(r.key(None) for r in _lowest_ttls(pdns))
    ours = sorted(r.key(None) for m in fastdns for r in m.answer)
    if theirs != ours:
        only_pdns = sorted(set(theirs) - set(ours))
        only_fastdns = sorted(set(ours) - set(theirs))
        problems.append(f"records differ: only from PowerDNS {only_pdns[:5]}, only from "
                        f"fastdns {only_fastdns[:5]}")
    if fastdns and pdns and fastdns[0].question != pdns[0].question:
        problems.append(f"question: {fastdns[0].question} vs {pdns[0].question}")
    TALLY.add("A9 transfers", "failed" if problems else "equal")
    assert not problems, "\n".join(problems)


# --- A10: version-string ------------------------------------------------------------------------

PDNS_VERSION_TEXT = {"full": "PowerDNS Authoritative Server 4.7.3",
                     "powerdns": "Served by PowerDNS - https://www.powerdns.com/"}
FASTDNS_VERSION_TEXT = {"full": f"fastdns {__version__}", "powerdns": "Served by fastdns"}


@pytest.mark.parametrize("setting", ["full", "powerdns", "anonymous", "custom text here"])
def test_version_string(tmp_path, setting: str) -> None:
    """A10: version.bind with ``version-string=full``/``powerdns`` names each server; with
    ``anonymous`` or a custom text, and id.server/NSID, both answer alike."""
    pdns, fastdns = start_pair(tmp_path, {"version-string": setting},
                               {"version-string": setting})
    pair = Pair(Client(pdns.address, pdns.port), Client(fastdns.address, fastdns.port))
    problems = []
    try:
        for query in (Query("version.bind", dns.rdatatype.TXT, qclass=CH),
                      Query("version.pdns", dns.rdatatype.TXT, qclass=CH, tcp=True),
                      Query("id.server", dns.rdatatype.TXT, qclass=CH),
                      Query("www.example.com", dns.rdatatype.A, options=((OPT_NSID, b""),))):
            qid, pdns_wire, fastdns_wire = pair.exchange(query)
            diff = compare(pdns_wire, fastdns_wire, qid)
            named = query.qname.startswith("version") and setting in PDNS_VERSION_TEXT
            if not named:
                TALLY.add("A10 version-string", "failed" if diff else "equal")
                problems += [f"{query}: {line}" for line in diff]
                continue
            assert pdns_wire is not None and fastdns_wire is not None
            theirs = [r.rdata.to_text() for r in parse(pdns_wire).answer]
            ours = [r.rdata.to_text() for r in parse(fastdns_wire).answer]
            wrong = []
            if theirs != [f'"{PDNS_VERSION_TEXT[setting]}"']:
                wrong.append(f"PowerDNS says {theirs}, documented {PDNS_VERSION_TEXT[setting]!r}")
            if ours != [f'"{FASTDNS_VERSION_TEXT[setting]}"']:
                wrong.append(f"fastdns says {ours}, documented "
                             f"{FASTDNS_VERSION_TEXT[setting]!r}")
            # apart from the text, the two answers are the same
            rest = [line for line in diff if not line.startswith("answer: ")]
            wrong += rest
            TALLY.add("A10 version-string", "failed" if wrong else "A10")
            problems += [f"{query}: {line}" for line in wrong]
    finally:
        pair.close()
        pdns.stop()
        assert fastdns.stop() == 0, fastdns.log()
    assert not problems, "\n".join(problems)


# --- the totals -----------------------------------------------------------------------------------

def test_totals(servers: Pair) -> None:
    """Runs last: the number of queries, and that every answer-path row the query set
    exercises was seen as argued (when the whole module ran)."""
    print("\n" + "\n".join(TALLY.lines()))
    if TALLY.groups["zone data"] < sum(len(c.queries) for c in CASES
                                       if c.queries[0].group == "zone data"):
        return   # a selection of the tests ran (-k): nothing to total
    assert TALLY.queries >= 400, TALLY.lines()
    for row in ROWS:
        if row.row in documented_rows():
            assert TALLY.argued[row.row], f"no query showed {row.row} ({row.summary})"

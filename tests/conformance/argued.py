"""The deliberate differences of docs/differences.md that the query set exercises, each
asserted AS that difference.

A row maps queries to a difference id of docs/differences.md and says what fastdns's
answer must then be, derived from PowerDNS's live answer (to that query, or to a closely
related one: its answer to qtype CNAME, over TCP, for an ASCII stand-in name) plus exactly
the change the row documents. When a row applies, fastdns must give precisely that answer;
when PowerDNS and fastdns differ and no row applies, the difference is undocumented.

Rows of docs/differences.md not here, and why:

- A1 (``dname-processing``) is neutralised: PowerDNS runs with ``dname-processing=yes``.
- A7 (owner names written in mixed case) has no observable case once responses are
  normalised: mixed-case owners are only ever served as the qname (both servers echo the
  query's case there) while other names compare case-insensitively.
- A8 (record order) is normalised away here and asserted by ``test_rrset_order``;
  A9 (zone transfers) by ``test_zone_transfers``; A10 (``version-string``) by
  ``test_version_string``; the M rows by the ``test_malformed_*`` tests.
"""

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
from dns.rdatatype import ANY, CNAME, DNAME, NS, SOA, A

from tests._support.servers import ROOT
from tests.conformance.cases import holds_cname
from tests.conformance.normalise import Record, Response, differences, section_keys
from tests.conformance.wire import AA, TC, Query

DOC = ROOT / "docs" / "differences.md"

#: ask PowerDNS a query (a live answer; None if it did not answer)
Oracle = Callable[[Query], Response | None]


@cache
def documented_rows() -> dict[str, str]:
    """Row id → the row's text, for every table row of docs/differences.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\|\s*([A-Z]\d+)\s*\|(.*)", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def udp_limit(query: Query) -> int:
    """The UDP size both servers truncate at: the client's EDNS size, at least 512 and at
    most udp-truncation-threshold (1232); 512 without EDNS."""
    return 512 if query.edns is None else max(512, min(query.edns, 1232))


# --- the expected fastdns answer of each row ---------------------------------------------

def a2_any_at_cname(query: Query, pdns: Response, ask: Oracle) -> Response | list[str]:
    """ANY at a name holding a CNAME (over TCP): the chain followed, as by PowerDNS; where it
    ends at a name that does not exist, NXDOMAIN with that zone's SOA, as for any other
    qtype (PowerDNS: NOERROR, no SOA)."""
    other = ask(query.variant(qtype=A))
    if other is None:
        return ["PowerDNS did not answer the qtype A query"]
    if other.rcode != dns.rcode.NXDOMAIN:
        return pdns
    return replace(pdns, rcode=dns.rcode.NXDOMAIN, authority=other.authority, additional=())


def a3_wildcard_cname(query: Query, pdns: Response, ask: Oracle) -> Response | list[str]:
    """qtype CNAME at a name a wildcard CNAME synthesises: the CNAME without PowerDNS's SOA."""
    return pdns.without("authority", SOA)


def a4_additional_does_not_fit(query: Query, pdns: Response, fastdns: Response, ask: Oracle
                               ) -> list[str]:
    """PowerDNS truncated (TC, every section empty). When the answer and authority fit but
    the additional section does not, fastdns sends those with the additional RRsets that
    fit, whole, and no TC (RFC 2181 §9); a referral whose glue does not fit keeps TC, and
    so does any answer that does not fit by itself."""
    full = ask(query.variant(tcp=True))
    if full is None:
        return ["PowerDNS did not answer over TCP"]
    limit = udp_limit(query)
    referral = not full.flags & AA and any(r.rdtype == NS for r in full.authority)
    if referral or _size_without_additional(full, query) > limit:
        return differences(pdns, fastdns)      # truncated the same way as PowerDNS
    problems = []
    if fastdns.flags & TC:
        problems.append("TC is set although the answer fits")
    if len(fastdns.wire) > limit:
        problems.append(f"{len(fastdns.wire)} octets > the UDP limit {limit}")
    for label, get in (("rcode", Response.rcode_text), ("flags", Response.flag_text)):
        if get(full) != get(fastdns):
            problems.append(f"{label}: PowerDNS over TCP {get(full)} / fastdns {get(fastdns)}")
    if fastdns.opt != pdns.opt:
        problems.append(f"OPT: PowerDNS {pdns.opt} / fastdns {fastdns.opt}")
    for section in ("answer", "authority"):
        if section_keys(full, section) != section_keys(fastdns, section):
            problems.append(f"the {section} section is not PowerDNS's complete one")
    whole = _rrsets(full.additional)
    for key, records in _rrsets(fastdns.additional).items():
        if whole.get(key) != records:
            problems.append(f"additional RRset {key} is not whole: {sorted(records.elements())}")
    return problems


#: the octets PowerDNS lets through in a qname with ``8bit-dns=no`` (its validDNSName)
PDNS_QNAME_OCTETS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              b"0123456789-_*./@ \\:")


def a5_eight_bit_qname(query: Query, pdns: Response, ask: Oracle) -> Response | list[str]:
    """A qname with octets PowerDNS refuses (SERVFAIL, ``8bit-dns=no``): answered like any
    other name, i.e. as PowerDNS answers the same name with 'x' in place of those octets."""
    stand_in = dns.name.Name(
        bytes(b if b in PDNS_QNAME_OCTETS else 0x78 for b in label)
        for label in query.name.labels)
    other = ask(query.variant(qname=stand_in.to_text()))
    if other is None:
        return ["PowerDNS did not answer the stand-in query"]

    def rename(records: tuple[Record, ...]) -> tuple[Record, ...]:
        return tuple(replace(r, owner=query.name) if r.owner == stand_in else r
                     for r in records)
    return replace(other, question=pdns.question, answer=rename(other.answer),
                   authority=rename(other.authority), additional=rename(other.additional))


def _mixed_ttls(records: tuple[Record, ...]) -> bool:
    ttls: dict[tuple, set[int]] = {}
    for r in records:
        ttls.setdefault((r.owner.canonicalize(), r.rdclass, r.rdtype), set()).add(r.ttl)
    return any(len(found) > 1 for found in ttls.values())


def a6_lowest_ttl(query: Query, pdns: Response, ask: Oracle) -> Response | list[str]:
    """An RRset written with different TTLs: every record of it with the lowest of them
    (PowerDNS serves each record's own)."""
    def lowest(records: tuple[Record, ...]) -> tuple[Record, ...]:
        low: dict[tuple, int] = {}
        for r in records:
            key = (r.owner.canonicalize(), r.rdclass, r.rdtype)
            low[key] = min(low.get(key, r.ttl), r.ttl)
        return tuple(replace(r, ttl=low[(r.owner.canonicalize(), r.rdclass, r.rdtype)])
                     for r in records)
    return replace(pdns, answer=lowest(pdns.answer), authority=lowest(pdns.authority),
                   additional=lowest(pdns.additional))


def a11_dname_followed(query: Query, pdns: Response, ask: Oracle) -> Response | list[str]:
    """qtype CNAME or ANY below a DNAME: the substituted name is looked up like the target
    of any CNAME, so when it does not exist the answer is NXDOMAIN with the target zone's
    SOA (PowerDNS: NOERROR, whether the target exists or not)."""
    target = next(r.rdata.target for r in pdns.answer
                  if r.rdtype == CNAME and r.owner == query.name)
    at_target = ask(Query(target.to_text(), query.qtype, tcp=True, edns=query.edns))
    if at_target is None:
        return ["PowerDNS did not answer for the DNAME target"]
    if at_target.rcode != dns.rcode.NXDOMAIN:
        return pdns
    return replace(pdns, rcode=dns.rcode.NXDOMAIN, authority=at_target.authority)


def _pdns_dname_answer(query: Query, pdns: Response) -> bool:
    return (pdns.rcode == dns.rcode.NOERROR
            and any(r.rdtype == DNAME for r in pdns.answer)
            and any(r.rdtype == CNAME and r.owner == query.name for r in pdns.answer))


def _rrsets(records: tuple[Record, ...]) -> dict[tuple, Counter]:
    out: dict[tuple, Counter] = {}
    for r in records:
        key = (r.owner.canonicalize().to_text(), r.rdclass, r.rdtype)
        out.setdefault(key, Counter())[r.key(None)] += 1
    return out


def _size_without_additional(full: Response, query: Query) -> int:
    """The size of ``full`` without its additional records, as rendered with name
    compression (OPT included when the query had EDNS)."""
    msg = dns.message.Message(full.qid)
    msg.flags = full.flags
    for wire, rdtype, rdclass in full.question:
        msg.find_rrset(msg.question, dns.name.from_wire(wire, 0)[0], rdclass, rdtype,
                       create=True)
    for section, records in ((msg.answer, full.answer), (msg.authority, full.authority)):
        for r in records:
            msg.find_rrset(section, r.owner, r.rdclass, r.rdtype, create=True).add(r.rdata,
                                                                                    r.ttl)
    if query.edns is not None:
        msg.use_edns(0, 0, 1232)
    return len(msg.to_wire(max_size=65535))


def _plain(query: Query) -> bool:
    """An ordinary IN query (opcode QUERY, EDNS version 0 if any)."""
    return query.opcode == 0 and query.qclass == dns.rdataclass.IN and query.edns_version == 0


@dataclass(frozen=True)
class Argued:
    """One row of docs/differences.md and the queries it applies to."""

    row: str
    summary: str
    #: does the row apply to this query (given PowerDNS's answer to it)?
    applies: Callable[[Query, Response], bool]
    #: fastdns's documented answer, derived from PowerDNS's; or problems found
    expected: Callable[[Query, Response, Oracle], Response | list[str]] | None = None
    #: or a check returning problems, for rows that do not fix one exact answer
    check: Callable[[Query, Response, Response, Oracle], list[str]] | None = None

    def problems(self, query: Query, pdns: Response, fastdns: Response, ask: Oracle
                 ) -> list[str]:
        """Why fastdns's answer is not the one this row documents (empty: it is)."""
        if self.check is not None:
            return self.check(query, pdns, fastdns, ask)
        assert self.expected is not None
        expected = self.expected(query, pdns, ask)
        if isinstance(expected, list):
            return expected
        return [line.replace("PowerDNS", "documented")
                for line in differences(expected, fastdns)]


ROWS: tuple[Argued, ...] = (
    Argued("A6", "an RRset written with different TTLs: all records with the lowest",
           lambda q, p: any(_mixed_ttls(s) for s in (p.answer, p.authority, p.additional)),
           expected=a6_lowest_ttl),
    Argued("A2", "ANY at a CNAME chain ending at no name: NXDOMAIN and the SOA, as for A",
           lambda q, p: q.tcp and q.qtype == ANY and _plain(q) and holds_cname(q.name)
           and p.rcode == dns.rcode.NOERROR,
           expected=a2_any_at_cname),
    Argued("A3", "qtype CNAME at a wildcard-synthesised CNAME: no SOA in the answer",
           lambda q, p: q.qtype == CNAME and _plain(q) and holds_cname(q.name, True),
           expected=a3_wildcard_cname),
    Argued("A4", "only the additional section overflows UDP: RRsets that fit, no TC",
           lambda q, p: not q.tcp and q.qtype != ANY and bool(p.flags & TC),
           check=a4_additional_does_not_fit),
    Argued("A5", "octets PowerDNS's 8bit-dns=no refuses in the qname: answered like any "
           "other name", lambda q, p: any(b not in PDNS_QNAME_OCTETS
                                          for label in q.name.labels for b in label),
           expected=a5_eight_bit_qname),
    Argued("A11", "qtype CNAME/ANY below a DNAME: the new name is looked up, NXDOMAIN if absent",
           lambda q, p: q.qtype in (CNAME, ANY) and _plain(q) and _pdns_dname_answer(q, p),
           expected=a11_dname_followed),
)

#: rows proposed for docs/differences.md but not (yet) written: the suite fails on them
#: until the row is written (or fastdns changes)
PROPOSED: dict[str, str] = {}

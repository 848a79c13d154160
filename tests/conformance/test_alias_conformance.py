"""ALIAS records resolved at query time (``expand-alias=yes``, ``resolver=ADDRESS:PORT``):
fastdns against PowerDNS Authoritative 4.7.3 on the same zone files.

The "resolver" is Knot DNS, authoritative for the ALIAS targets (an authoritative answer,
AA=1 RA=0, is what PowerDNS takes as readily as a recursor's), behind a small relay in this
process that records every query a server sends to it and can stop answering or close its
port. pdns_server and fastdns each get their own relay, so each one's resolver traffic is
seen apart.

What PowerDNS does was observed first (the study, its transcripts and the PowerDNS source
read: packethandler.cc doQuestion, dnsproxy.cc, stubresolver.cc); ``EXPECTED`` is that
behaviour, checked against the live pdns_server by ``test_powerdns_answers_as_observed``
so that a change of the reference shows here, not as a puzzling fastdns failure. In short:

- only A, AAAA and ANY at a name holding an ALIAS record are expanded (also at the end of
  an in-zone CNAME); every record of the asked type in the resolver's answer section,
  whatever its owner, is served under the ALIAS owner (the query's case) with the
  *resolver's* TTL; the resolver's CNAMEs are dropped; authority and additional are empty;
- no record of the type at the target (NODATA, a CNAME leaving the resolver's zone, a
  truncated resolver answer): NOERROR, empty, *no SOA*;
- any other resolver rcode (NXDOMAIN, REFUSED, SERVFAIL): SERVFAIL; targets that the
  server itself serves are asked of the resolver like any other;
- ANY (over TCP; over UDP it is TC=1 and empty, ``any-to-tcp=yes``, without asking the
  resolver) answers only the resolver's A and AAAA, asked one after the other: the zone's
  SOA/NS/MX/TXT (and an A written beside the ALIAS) are left out;
- an A written beside an ALIAS wins for A; qtype ALIAS (65401) is NODATA; a wildcard ALIAS
  is not expanded (A: NODATA; ANY: the raw ALIAS record);
- nothing of the resolver's data is cached: a change is served on the next query.

Resolver down: PowerDNS answers SERVFAIL over TCP after its stub resolver's 2 s wait (ANY:
2 s for A, then 2 s for AAAA; immediately when the port is closed), but over UDP an A or
AAAA query is **never answered** (the query waits in pdns's proxy table for a reply that
does not come; a late reply is still relayed). fastdns answers SERVFAIL there too, over
UDP as over TCP, within the same 2 s: a client gets an answer instead of a timeout (RFC 1035
§4.1.1 "server failure"); the tests below assert that difference as such (it wants a row
in docs/differences.md). PowerDNS also answers TCP queries one at a time, so one TCP
query waiting on a silent resolver holds up every other TCP query; fastdns need not.
"""

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from tests._support.servers import Fastdns, Pdns, ServerProcess, free_port, require
from tests.conformance.normalise import Response, canonical_rdata, compare, parse
from tests.conformance.wire import RD, Client, Query

A, AAAA, ANY = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.ANY
MX, TXT, SOA, NS = dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.SOA, dns.rdatatype.NS
ALIAS = 65401


def rdtype(value: int) -> dns.rdatatype.RdataType:
    return dns.rdatatype.RdataType.make(value)

# --- the zones -------------------------------------------------------------------------

#: served by pdns_server and fastdns (bind backend); TTLs chosen so that each is telling
EXAMPLE_COM = """\
$TTL 3600
@        IN SOA ns1.example.com. hostmaster.example.com. 2024010101 3600 600 604800 300
@        IN NS  ns1.example.com.
@        IN NS  ns2.example.net.
@        IN MX  10 mail.example.com.
@        IN TXT "v=spf1 mx -all"
@    300 IN ALIAS lb.provider.net.
ns1      IN A   192.0.2.53
mail     IN A   192.0.2.25
www  600 IN ALIAS both.provider.net.
v4       IN ALIAS v4only.provider.net.
v6       IN ALIAS v6only.provider.net.
none     IN ALIAS nodata.provider.net.
nx       IN ALIAS nxdomain.provider.net.
chain    IN ALIAS chain.provider.net.
chainout IN ALIAS chainout.provider.net.
self     IN ALIAS host.example.com.
host     IN A   192.0.2.80
other    IN ALIAS www.example.org.
*.wild   IN ALIAS both.provider.net.
cn       IN CNAME www.example.com.
mixed    IN ALIAS both.provider.net.
mixed    IN TXT "beside an alias"
withaddr IN ALIAS both.provider.net.
withaddr IN A   192.0.2.1
many     IN ALIAS many.provider.net.
mxalias  IN MX  10 www.example.com.
sub      IN NS  ns.sub.example.com.
ns.sub   IN A   192.0.2.54
deleg.sub IN ALIAS both.provider.net.
moving   IN ALIAS moving.provider.net.
silent   IN ALIAS silent.provider.net.
silentany IN ALIAS silentany.provider.net.
closed   IN ALIAS closed.provider.net.
closedany IN ALIAS closedany.provider.net.
"""

EXAMPLE_ORG = """\
$TTL 3600
@   IN SOA ns1.example.org. hostmaster.example.org. 1 3600 600 604800 300
@   IN NS  ns1.example.com.
www IN A   192.0.2.99
"""


def provider_net(serial: int = 1, moving: str = "198.51.100.30") -> str:
    """The resolver's zone of the ALIAS targets."""
    many = "".join(f"many 90 IN A 198.51.100.{100 + i}\n" for i in range(1, 41))
    return f"""\
$TTL 3600
@         IN SOA ns.provider.net. hostmaster.provider.net. {serial} 3600 600 604800 60
@         IN NS  ns.provider.net.
ns        IN A   203.0.113.53
lb     60 IN A   198.51.100.10
lb     60 IN A   198.51.100.11
lb     60 IN AAAA 2001:db8::10
both  120 IN A   198.51.100.20
both  120 IN AAAA 2001:db8::20
v4only 30 IN A   198.51.100.4
v6only 40 IN AAAA 2001:db8::6
nodata    IN TXT "no addresses here"
chain  50 IN CNAME chain2.provider.net.
chain2 70 IN CNAME both.provider.net.
chainout  IN CNAME x.other.test.
moving  3 IN A   {moving}
{many}"""


OTHER_TEST = """\
$TTL 3600
@  IN SOA ns.other.test. h.other.test. 1 3600 600 604800 60
@  IN NS ns.other.test.
ns IN A 203.0.113.54
x 25 IN A 198.51.100.77
"""

# --- the resolver stand-in ---------------------------------------------------------------


class Knot(ServerProcess):
    """Knot DNS, authoritative for ``zones`` (origin → master-file text)."""

    name = "knot"

    def __init__(self, workdir: Path, zones: dict[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir)
        self.zonedir = workdir / "zones"
        self.rundir = workdir / "run"
        for path in (self.zonedir, self.rundir, workdir / "db"):
            path.mkdir(exist_ok=True)
        for origin, text in zones.items():
            (self.zonedir / f"{origin}.zone").write_text(text)
        self.conf = workdir / "knot.conf"
        self.conf.write_text(
            f'server:\n    rundir: "{self.rundir}"\n    listen: 127.0.0.1@{self.port}\n'
            f'database:\n    storage: "{workdir / "db"}"\n'
            "log:\n  - target: stdout\n    any: info\n"
            f'template:\n  - id: default\n    storage: "{self.zonedir}"\n'
            '    file: "%s.zone"\n    journal-content: none\n    zonefile-sync: -1\n'
            "    semantic-checks: off\n"
            "zone:\n" + "".join(f"  - domain: {origin}\n" for origin in zones))

    def command(self) -> list[str]:
        return [require("knotd"), "-c", str(self.conf)]

    def replace_zone(self, origin: str, text: str, probe: str, expect: str) -> None:
        """Serve ``text`` as ``origin`` from now on (waits until ``probe`` A is ``expect``)."""
        (self.zonedir / f"{origin}.zone").write_text(text)
        subprocess.run([require("knotc"), "-s", str(self.rundir / "knot.sock"),
                        "zone-reload", origin], check=True, capture_output=True, timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            answer = self.query(probe, "A", timeout=0.5)
            if any(rd.to_text() == expect for rrset in answer.answer for rd in rrset):
                return
            time.sleep(0.05)
        raise RuntimeError(f"Knot did not serve {probe} A {expect}:\n{self.log()}")


class Relay:
    """What a server sees as its resolver: a UDP relay to Knot that records every query
    (``seen``) and, by ``mode``, forwards it or drops it ("drop": a resolver that does not
    answer); ``close`` closes the port (ICMP port unreachable), ``open`` opens it again."""

    def __init__(self, upstream: int) -> None:
        self.upstream = ("127.0.0.1", upstream)
        self.port = free_port()
        self.mode = "forward"
        self.seen: list[dns.message.Message] = []
        #: every query since the start (``seen`` is cleared by the tests)
        self.history: list[dns.message.Message] = []
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.open()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.settimeout(0.05)
        self._sock, self._stop = sock, threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, self._stop),
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._sock is None:
            return
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self._sock.close()
        self._sock = None

    def _serve(self, sock: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except (TimeoutError, BlockingIOError, ConnectionRefusedError):
                continue
            except OSError:
                return
            with contextlib.suppress(Exception):
                self.seen.append(dns.message.from_wire(data))
                self.history.append(self.seen[-1])
            if self.mode == "forward":
                threading.Thread(target=self._forward, args=(sock, data, peer),
                                 daemon=True).start()

    def _forward(self, sock: socket.socket, data: bytes, peer) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(2.0)
            upstream.sendto(data, self.upstream)
            try:
                answer = upstream.recv(65535)
            except OSError:
                return
        with contextlib.suppress(OSError):
            sock.sendto(answer, peer)


# --- the servers ---------------------------------------------------------------------------

#: PowerDNS's own cache defaults (the harness's Pdns turns the caches off): the resolver's
#: data must not be cached even so
CACHES = {"cache-ttl": "20", "negquery-cache-ttl": "60", "query-cache-ttl": "20"}


@dataclass
class Servers:
    knot: Knot
    pdns: Pdns
    fastdns: Fastdns
    pdns_relay: Relay
    fastdns_relay: Relay
    pdns_client: Client
    fastdns_client: Client


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[Servers]:
    work = tmp_path_factory.mktemp("alias-conformance")
    zones = work / "zones"
    zones.mkdir()
    (zones / "example.com.zone").write_text(EXAMPLE_COM)
    (zones / "example.org.zone").write_text(EXAMPLE_ORG)
    named_conf = zones / "named.conf"
    named_conf.write_text(f'options {{ directory "{zones}"; }};\n'
                          'zone "example.com" { type master; file "example.com.zone"; };\n'
                          'zone "example.org" { type master; file "example.org.zone"; };\n')
    knot = Knot(work / "knot", {"provider.net": provider_net(), "other.test": OTHER_TEST})
    with knot:
        pdns_relay, fastdns_relay = Relay(knot.port), Relay(knot.port)
        alias = {"expand-alias": "yes", **CACHES}
        pdns = Pdns(work / "pdns", named_conf, {**alias, "resolver": pdns_relay.address})
        fastdns = Fastdns(work / "fastdns", {"launch": "bind", "bind-config": str(named_conf),
                                             **alias, "resolver": fastdns_relay.address})
        try:
            with pdns, fastdns:
                pair = Servers(knot, pdns, fastdns, pdns_relay, fastdns_relay,
                               Client(pdns.address, pdns.port),
                               Client(fastdns.address, fastdns.port))
                yield pair
                pair.pdns_client.close()
                pair.fastdns_client.close()
        finally:
            pdns_relay.close()
            fastdns_relay.close()
    assert fastdns.proc is not None and fastdns.proc.returncode == 0, fastdns.log()


# --- what PowerDNS answers -----------------------------------------------------------------

SOA_NEG = ("example.com. 300 IN SOA ns1.example.com. hostmaster.example.com. "
           "2024010101 3600 600 604800 300")


def alias_rdata(target: str) -> str:
    """An ALIAS record's data as the comparison writes it (RFC 3597 generic form)."""
    wire = dns.name.from_text(target).to_wire() or b""
    return canonical_rdata(dns.rdata.from_wire(dns.rdataclass.IN, rdtype(ALIAS), wire, 0,
                                               len(wire)))


@dataclass(frozen=True)
class Expect:
    """PowerDNS's answer, records as ``owner ttl class type rdata`` (names lowercased)."""

    rcode: str = "NOERROR"
    answer: tuple[str, ...] = ()
    authority: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    flags: str = "QR AA"


def pos(*records: str, additional: tuple[str, ...] = ()) -> Expect:
    return Expect(answer=records, additional=additional)


NODATA_SOA = Expect(authority=(SOA_NEG,))          # the zone's own NODATA
EMPTY = Expect()                                   # an expansion that found nothing: no SOA
SERVFAIL = Expect(rcode="SERVFAIL")

LB_A = ("example.com. 60 IN A 198.51.100.10", "example.com. 60 IN A 198.51.100.11")
LB_AAAA = ("example.com. 60 IN AAAA 2001:db8::10",)


def both(owner: str, qtype: int = ANY) -> tuple[str, ...]:
    """both.provider.net's addresses under ``owner``."""
    a = (f"{owner} 120 IN A 198.51.100.20",)
    aaaa = (f"{owner} 120 IN AAAA 2001:db8::20",)
    return {int(A): a, int(AAAA): aaaa, int(ANY): a + aaaa}[qtype]


CNAME_CN = "cn.example.com. 3600 IN CNAME www.example.com."

#: (qname, qtype) → PowerDNS 4.7.3's answer, the same over UDP and TCP (ANY: over TCP;
#: over UDP it is TC_ONLY)
EXPECTED: dict[tuple[str, int], Expect] = {
    # the apex: ALIAS beside SOA, NS, MX, TXT
    ("example.com.", A): pos(*LB_A),
    ("example.com.", AAAA): pos(*LB_AAAA),
    ("example.com.", ANY): pos(*LB_A, *LB_AAAA),          # the zone's own RRsets left out
    ("example.com.", MX): pos("example.com. 3600 IN MX 10 mail.example.com.",
                              additional=("mail.example.com. 3600 IN A 192.0.2.25",)),
    ("example.com.", TXT): pos('example.com. 3600 IN TXT "v=spf1 mx -all"'),
    ("example.com.", SOA): pos("example.com. 3600 IN SOA ns1.example.com. "
                               "hostmaster.example.com. 2024010101 3600 600 604800 300"),
    ("example.com.", NS): pos("example.com. 3600 IN NS ns1.example.com.",
                              "example.com. 3600 IN NS ns2.example.net.",
                              additional=("ns1.example.com. 3600 IN A 192.0.2.53",)),
    ("example.com.", ALIAS): NODATA_SOA,                   # hidden when expanded
    # a name below the apex, target with A and AAAA (the ALIAS's own TTL is 600)
    ("www.example.com.", A): pos(*both("www.example.com.", A)),
    ("www.example.com.", AAAA): pos(*both("www.example.com.", AAAA)),
    ("www.example.com.", ANY): pos(*both("www.example.com.")),
    ("www.example.com.", MX): NODATA_SOA,
    ("www.example.com.", TXT): NODATA_SOA,
    ("www.example.com.", SOA): NODATA_SOA,
    ("www.example.com.", ALIAS): NODATA_SOA,
    # targets with A only, AAAA only, neither, and no target at all
    ("v4.example.com.", A): pos("v4.example.com. 30 IN A 198.51.100.4"),
    ("v4.example.com.", AAAA): EMPTY,
    ("v6.example.com.", A): EMPTY,
    ("v6.example.com.", AAAA): pos("v6.example.com. 40 IN AAAA 2001:db8::6"),
    ("none.example.com.", A): EMPTY,
    ("none.example.com.", AAAA): EMPTY,
    ("none.example.com.", ANY): EMPTY,
    ("nx.example.com.", A): SERVFAIL,
    ("nx.example.com.", AAAA): SERVFAIL,
    ("nx.example.com.", ANY): SERVFAIL,
    ("nx.example.com.", TXT): NODATA_SOA,
    # the target a CNAME chain at the resolver: the addresses at its end, their own TTL
    ("chain.example.com.", A): pos("chain.example.com. 120 IN A 198.51.100.20"),
    ("chain.example.com.", AAAA): pos("chain.example.com. 120 IN AAAA 2001:db8::20"),
    ("chain.example.com.", ANY): pos(*both("chain.example.com.")),
    ("chainout.example.com.", A): EMPTY,                   # Knot gives the CNAME only
    # targets that the server itself serves, and the resolver does not (REFUSED)
    ("self.example.com.", A): SERVFAIL,
    ("self.example.com.", AAAA): SERVFAIL,
    ("other.example.com.", A): SERVFAIL,
    # a wildcard ALIAS is not expanded
    ("x.wild.example.com.", A): NODATA_SOA,
    ("x.wild.example.com.", AAAA): NODATA_SOA,
    ("x.wild.example.com.", ANY): pos(
        f"x.wild.example.com. 3600 IN TYPE65401 {alias_rdata('both.provider.net.')}"),
    ("wild.example.com.", A): NODATA_SOA,
    # an in-zone CNAME to an ALIAS name
    ("cn.example.com.", A): pos(CNAME_CN, *both("www.example.com.", A)),
    ("cn.example.com.", AAAA): pos(CNAME_CN, *both("www.example.com.", AAAA)),
    ("cn.example.com.", ANY): pos(CNAME_CN, *both("www.example.com.")),
    ("cn.example.com.", MX): Expect(answer=(CNAME_CN,), authority=(SOA_NEG,)),
    # other data beside the ALIAS
    ("mixed.example.com.", A): pos(*both("mixed.example.com.", A)),
    ("mixed.example.com.", TXT): pos('mixed.example.com. 3600 IN TXT "beside an alias"'),
    ("mixed.example.com.", ANY): pos(*both("mixed.example.com.")),
    ("withaddr.example.com.", A): pos("withaddr.example.com. 3600 IN A 192.0.2.1"),
    ("withaddr.example.com.", AAAA): pos(*both("withaddr.example.com.", AAAA)),
    ("withaddr.example.com.", ANY): pos(*both("withaddr.example.com.")),
    # the resolver's answer truncated (40 A, no EDNS in the resolver query): no retry
    ("many.example.com.", A): EMPTY,
    # an MX target that is an ALIAS name: no additional addresses for it
    ("mxalias.example.com.", MX): pos("mxalias.example.com. 3600 IN MX 10 www.example.com."),
    # an ALIAS below a delegation: the referral
    ("deleg.sub.example.com.", A): Expect(
        flags="QR", authority=("sub.example.com. 3600 IN NS ns.sub.example.com.",),
        additional=("ns.sub.example.com. 3600 IN A 192.0.2.54",)),
}


def record_texts(response: Response, section: str) -> tuple[str, ...]:
    return tuple(sorted(
        f"{r.owner.to_text().lower()} {r.ttl} "
        f"{dns.rdataclass.to_text(dns.rdataclass.RdataClass.make(r.rdclass))} "
        f"{dns.rdatatype.to_text(rdtype(r.rdtype))} {canonical_rdata(r.rdata)}"
        for r in response.section(section)))


def summary(response: Response) -> Expect:
    return Expect(rcode=response.rcode_text(), answer=record_texts(response, "answer"),
                  authority=record_texts(response, "authority"),
                  additional=record_texts(response, "additional"),
                  flags=response.flag_text())


def normalised(expect: Expect) -> Expect:
    return Expect(rcode=expect.rcode, answer=tuple(sorted(expect.answer)),
                  authority=tuple(sorted(expect.authority)),
                  additional=tuple(sorted(expect.additional)), flags=expect.flags)


#: ANY over UDP: TC=1 and nothing else (``any-to-tcp=yes``, PowerDNS's default); the
#: resolver is not asked
TC_ONLY = Expect(flags="QR AA TC")


def expected(key: tuple[str, int], tcp: bool) -> Expect:
    return TC_ONLY if key[1] == ANY and not tcp else EXPECTED[key]


def case_id(key: tuple[str, int]) -> str:
    return f"{key[0].rstrip('.')}-{dns.rdatatype.to_text(rdtype(key[1]))}"


def exchange(client: Client, query: Query, qid: int, timeout: float = 3.0) -> bytes | None:
    return client.exchange(query.wire(qid), query.tcp, timeout=timeout)


def argued(theirs: bytes, diff: list[str]) -> list[str]:
    """``diff`` without the differences docs/differences.md argues for (Z18): where the
    resolver has no address of the asked type, PowerDNS's NODATA carries no SOA, fastdns's
    carries the zone's, as RFC 2308 §3 asks of an authoritative server."""
    reference = parse(theirs)
    if reference.rcode == 0 and not reference.answer and not reference.authority:
        return [line for line in diff
                if not (line.startswith("authority: + ") and " IN SOA " in line)]
    return diff


def assert_same(theirs: bytes | None, ours: bytes | None, qid: int, what: object) -> None:
    """fastdns's answer is PowerDNS's, once normalised (and the argued differences)."""
    assert theirs is not None, f"{what}: PowerDNS did not answer"
    diff = argued(theirs, compare(theirs, ours, qid))
    assert not diff, "\n".join([f"{what}:", *diff, "PowerDNS:", str(parse(theirs)),
                                "fastdns:", "no answer" if ours is None else str(parse(ours))])


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
@pytest.mark.parametrize("key", list(EXPECTED), ids=case_id)
def test_powerdns_answers_as_observed(servers, key, tcp):
    """The reference itself: pdns_server answers as the study saw (UDP and TCP take
    different paths in PowerDNS, the DNS proxy and the stub resolver, with one result)."""
    qid = servers.pdns_client.next_id()
    wire = exchange(servers.pdns_client, Query(key[0], key[1], tcp=tcp), qid)
    assert wire is not None, "PowerDNS did not answer"
    assert summary(parse(wire)) == normalised(expected(key, tcp))


#: each case over UDP and TCP, and a few with a DO bit, without EDNS, with RD, mixed case
VARIANTS = [Query(name, qtype, tcp=tcp, group="alias")
            for name, qtype in EXPECTED for tcp in (False, True)] + [
    Query("www.example.com.", A, do=True),
    Query("example.com.", ANY, do=True, tcp=True),
    Query("example.com.", AAAA, do=True, tcp=True),
    Query("www.example.com.", A, edns=None),
    Query("nx.example.com.", A, edns=None),
    Query("www.example.com.", A, flags=RD),
    Query("none.example.com.", AAAA, flags=RD, tcp=True),
    Query("WwW.ExAmPlE.cOm.", A),
    Query("ExAmPlE.CoM.", AAAA, tcp=True),
    Query("CN.example.COM.", A),
    Query("CHAIN.EXAMPLE.COM.", ANY, tcp=True),
    Query("X.Wild.Example.Com.", ANY, tcp=True),
]


@pytest.mark.parametrize("query", VARIANTS, ids=str)
def test_alias_answers_as_powerdns(servers, query):
    """fastdns with expand-alias=yes answers every case exactly as PowerDNS does
    (normalised: ID, record order, name compression, case outside the qname)."""
    qid = servers.pdns_client.next_id()
    assert_same(exchange(servers.pdns_client, query, qid),
                exchange(servers.fastdns_client, query, qid), qid, query)


def _resolver_queries(relay: Relay, client: Client, query: Query) -> list[tuple]:
    relay.seen.clear()
    answer = exchange(client, query, client.next_id())
    assert answer is not None
    time.sleep(0.05)
    return [(m.question[0].name.to_text().lower(), m.question[0].rdtype,
             bool(m.flags & dns.flags.RD), m.edns) for m in relay.seen]


@pytest.mark.parametrize("query", [Query("www.example.com.", A), Query("www.example.com.", A,
                                                                        tcp=True),
                                   Query("example.com.", AAAA),
                                   Query("cn.example.com.", A),
                                   Query("example.com.", ANY, tcp=True)], ids=str)
def test_resolver_is_asked_with_rd(servers, query):
    """The resolver gets the ALIAS target with the asked type (ANY: A and AAAA), with RD
    set: a recursor answers nothing else. PowerDNS sends no EDNS, and asks for every query;
    fastdns keeps an answer for its TTL (differences.md Z18), so it has asked once for
    each (target, type) since it started, never about another name, always with RD."""
    theirs = _resolver_queries(servers.pdns_relay, servers.pdns_client, query)
    _resolver_queries(servers.fastdns_relay, servers.fastdns_client, query)
    target = {"www": "both.provider.net.", "cn": "both.provider.net."}.get(
        query.qname.split(".")[0], "lb.provider.net.")
    wanted = sorted([A, AAAA] if query.qtype == ANY else [query.qtype])
    assert sorted(q[1] for q in theirs) == wanted
    assert all(q[0] == target and q[2] and q[3] == -1 for q in theirs), theirs
    ours = [(m.question[0].name.to_text().lower(), m.question[0].rdtype,
             bool(m.flags & dns.flags.RD), m.edns) for m in servers.fastdns_relay.history]
    asked = {q[1] for q in ours if q[0] == target}
    assert set(wanted) <= asked, f"fastdns asked the resolver {ours}"
    assert all(q[2] and q[3] == -1 for q in ours), f"fastdns asked the resolver {ours}"


def test_resolver_data_is_kept_for_its_ttl(servers):
    """A change at the resolver (a record with a TTL of 3 s): PowerDNS, which asks the
    resolver for every query, serves it on the very next query; fastdns keeps what the
    resolver said for its TTL (differences.md Z18) and serves the change once it has
    passed, over UDP and TCP, with PowerDNS's cache settings in both."""
    queries = [Query("moving.example.com.", A), Query("moving.example.com.", A, tcp=True)]

    def ask() -> list[tuple[Query, int, bytes | None, bytes | None]]:
        out = []
        for query in queries:
            qid = servers.pdns_client.next_id()
            out.append((query, qid, exchange(servers.pdns_client, query, qid),
                        exchange(servers.fastdns_client, query, qid)))
        return out

    def answers(asked, ours: bool = False) -> list[tuple[str, ...]]:
        return [record_texts(parse(wire), "answer") if wire else ("no answer",)
                for wire in (x[3 if ours else 2] for x in asked)]

    old = [("moving.example.com. 3 IN A 198.51.100.30",)] * 2
    new = [("moving.example.com. 3 IN A 198.51.100.31",)] * 2
    time.sleep(3.1)                     # whatever an earlier test left kept is stale now
    before = ask()
    try:
        servers.knot.replace_zone("provider.net", provider_net(2, "198.51.100.31"),
                                  "moving.provider.net", "198.51.100.31")
        after = ask()
        time.sleep(3.1)
        later = ask()
    finally:
        servers.knot.replace_zone("provider.net", provider_net(3), "moving.provider.net",
                                  "198.51.100.30")
    assert answers(before) == answers(before, ours=True) == old
    assert answers(after) == new and answers(after, ours=True) == old
    assert answers(later) == answers(later, ours=True) == new
    for query, qid, theirs, ours in before + later:
        assert_same(theirs, ours, qid, query)


# --- the resolver down ---------------------------------------------------------------------

@dataclass
class Timed:
    wire: bytes | None
    seconds: float


def _timed(server: ServerProcess, query: Query, qid: int, timeout: float) -> Timed:
    client = Client(server.address, server.port)       # one per thread
    try:
        start = time.monotonic()
        wire = exchange(client, query, qid, timeout)
        return Timed(wire, time.monotonic() - start)
    finally:
        client.close()


def _ask_all(servers: Servers, queries: list[Query], timeout: float
             ) -> list[tuple[int, Timed, Timed]]:
    """Each query to both servers, all at once: (qid, PowerDNS's, fastdns's)."""
    with ThreadPoolExecutor(max_workers=2 * len(queries)) as pool:
        jobs = []
        for n, query in enumerate(queries):
            qid = 4000 + n
            jobs.append((qid, pool.submit(_timed, servers.pdns, query, qid, timeout),
                         pool.submit(_timed, servers.fastdns, query, qid, timeout)))
        return [(qid, theirs.result(), ours.result()) for qid, theirs, ours in jobs]


def _servfail_like(template: bytes, qid: int) -> bytes:
    """PowerDNS's SERVFAIL to the same question over TCP, as the answer a UDP query should
    get: fastdns's UDP SERVFAIL must equal it once normalised."""
    return qid.to_bytes(2, "big") + template[2:]


@contextlib.contextmanager
def resolvers(servers: Servers, state: str) -> Iterator[None]:
    relays = (servers.pdns_relay, servers.fastdns_relay)
    for relay in relays:
        if state == "closed":
            relay.close()
        else:
            relay.mode = state
    try:
        yield
    finally:
        for relay in relays:
            relay.mode = "forward"
            if state == "closed":
                relay.open()


#: names whose targets no test asks for while the resolver answers: fastdns keeps what the
#: resolver said (differences.md Z18), so a name asked before would be answered from that
UDP_A = Query("silent.example.com.", A)
TCP_A = Query("silent.example.com.", A, tcp=True)
TCP_ANY = Query("silentany.example.com.", ANY, tcp=True)
CLOSED_UDP_A = Query("closed.example.com.", A)
CLOSED_TCP_A = Query("closed.example.com.", A, tcp=True)
CLOSED_TCP_ANY = Query("closedany.example.com.", ANY, tcp=True)


def test_resolver_not_answering(servers):
    """A resolver that never answers. PowerDNS: TCP A SERVFAIL after 2 s, TCP ANY SERVFAIL
    after 4 s (A, then AAAA, 2 s each), UDP A/AAAA no answer at all. fastdns: SERVFAIL for
    every one, over UDP too (PowerDNS's TCP SERVFAIL), no later than PowerDNS.

    (PowerDNS answers TCP queries one at a time: a TCP query waiting on the resolver holds
    up every other TCP query, so the ANY is asked after the A, not beside it.)"""
    with resolvers(servers, "drop"):
        (q_a, udp_a, udp_a_ours), (q_t, tcp_a, tcp_a_ours) = \
            _ask_all(servers, [UDP_A, TCP_A], timeout=3.0)
        [(q_any, any_, any_ours)] = _ask_all(servers, [TCP_ANY], timeout=6.0)
    # PowerDNS, as observed
    assert udp_a.wire is None, "PowerDNS answered over UDP"
    assert tcp_a.wire is not None and summary(parse(tcp_a.wire)) == normalised(SERVFAIL)
    assert 1.8 <= tcp_a.seconds <= 3.0, tcp_a.seconds
    assert any_.wire is not None and summary(parse(any_.wire)) == normalised(SERVFAIL)
    assert 3.8 <= any_.seconds <= 5.0, any_.seconds
    # fastdns: PowerDNS's answers where it gives one, and no later
    for qid, theirs, ours, limit in ((q_t, tcp_a, tcp_a_ours, 2.5),
                                     (q_any, any_, any_ours, any_.seconds + 0.5)):
        assert_same(theirs.wire, ours.wire, qid, "fastdns, resolver silent")
        assert ours.seconds <= limit, ours.seconds
    # ...and SERVFAIL where PowerDNS gives none
    assert udp_a_ours.wire is not None, "fastdns did not answer over UDP (resolver silent)"
    assert_same(_servfail_like(tcp_a.wire, q_a), udp_a_ours.wire, q_a,
                "fastdns over UDP, resolver silent (PowerDNS: no answer; its TCP SERVFAIL)")
    assert udp_a_ours.seconds <= 2.5, udp_a_ours.seconds


def test_resolver_port_closed(servers):
    """The resolver's port closed (ICMP port unreachable). PowerDNS: TCP A and ANY
    SERVFAIL at once, UDP A no answer. fastdns: SERVFAIL at once for all."""
    with resolvers(servers, "closed"):
        (q_a, udp_a, udp_a_ours), (q_t, tcp_a, tcp_a_ours), (q_any, any_, any_ours) = \
            _ask_all(servers, [CLOSED_UDP_A, CLOSED_TCP_A, CLOSED_TCP_ANY], timeout=2.0)
    assert udp_a.wire is None, "PowerDNS answered over UDP"
    for timed in (tcp_a, any_):
        assert timed.wire is not None and summary(parse(timed.wire)) == normalised(SERVFAIL)
        assert timed.seconds < 1.0, timed.seconds
    for qid, theirs, ours in ((q_t, tcp_a, tcp_a_ours), (q_any, any_, any_ours)):
        assert_same(theirs.wire, ours.wire, qid, "fastdns, resolver port closed")
        assert ours.seconds < 1.0, ours.seconds
    assert udp_a_ours.wire is not None, "fastdns did not answer (resolver port closed)"
    assert_same(_servfail_like(tcp_a.wire, q_a), udp_a_ours.wire, q_a,
                "fastdns over UDP, resolver port closed (PowerDNS: no answer; its TCP SERVFAIL)")
    assert udp_a_ours.seconds < 1.0, udp_a_ours.seconds


def test_zone_data_needs_no_resolver(servers):
    """With the resolver silent, names without an ALIAS are answered as ever, at once."""
    with resolvers(servers, "drop"):
        for query in (Query("example.com.", MX), Query("host.example.com.", A),
                      Query("www.example.com.", TXT)):
            for timed in _ask_all(servers, [query], timeout=2.0)[0][1:]:
                assert timed.wire is not None and timed.seconds < 0.5
                assert parse(timed.wire).rcode == dns.rcode.NOERROR

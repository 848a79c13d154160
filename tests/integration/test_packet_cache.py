"""The packet cache of live workers (DESIGN §3): a hit is byte-identical to the answer the
engine computes for the same query, apart from the ID; the query's own qname case is echoed
whatever case filled the entry; a reload drops the answers of exactly the zones that changed;
an answer is kept the second time it is asked for (admission: docs/performance.md), so the
third query is the first hit, and a flood of names asked once keeps nothing.

The reference is a second server with ``cache-ttl=0`` (no packet cache) on the same zones
(conf/, the conformance fixtures). Each cached answer comes from one UDP socket (one source
port, so always the same worker) or one TCP connection, and the counters confirm that the
second answer was a hit."""

import socket

import dns.edns
import dns.message
import dns.query
import dns.rcode
import pytest

from fastdns.control.protocol import send_command
from tests._support.servers import CONF
from tests.integration.helpers import (
    ZoneTree,
    connect,
    frame,
    hup,
    read_response,
    recv_exact,
    rrs,
    start_server,
    statistics,
    zone_text,
)

NSID = dns.edns.GenericOption(dns.edns.NSID, b"")

#: (qname, qtype, make_query keywords): every kind of answer the engine gives
CASES = [
    ("www.example.com", "A", {}),
    ("www.example.com", "A", {"use_edns": 0}),
    ("www.example.com", "A", {"want_dnssec": True}),
    ("www.example.com", "AAAA", {"use_edns": 0, "options": [NSID]}),
    ("WwW.eXaMpLe.CoM", "A", {"use_edns": 0}),                 # mixed case
    ("foo.wild.example.com", "A", {}),                          # wildcard
    ("a.b.cwild.example.com", "A", {"use_edns": 0}),            # wildcard CNAME
    ("c1.example.com", "A", {}),                                # CNAME chain
    ("chain3.example.com", "A", {"use_edns": 0}),               # 10 links
    ("cnet.example.com", "A", {}),                              # CNAME into another zone
    ("www.dname.example.com", "A", {}),                         # DNAME
    ("nope.example.com", "A", {}),                              # NXDOMAIN
    ("cnx.example.com", "A", {"use_edns": 0}),                  # CNAME to NXDOMAIN
    ("www.example.com", "MX", {}),                              # NODATA
    ("ent.example.com", "A", {"want_dnssec": True}),            # NODATA, empty non-terminal
    ("host.deleg.example.com", "A", {}),                        # referral with glue
    ("example.com", "MX", {"use_edns": 0}),                     # additional section
    ("bigtxt.example.com", "TXT", {}),                          # > 512 without EDNS: TC
    ("hugetxt.example.com", "TXT", {"use_edns": 0, "payload": 600}),  # small buffer: TC
    ("hugetxt.example.com", "TXT", {"use_edns": 0, "payload": 4096}),  # cut at 1232: TC
    ("10.2.0.192.in-addr.arpa", "PTR", {}),                     # reverse zone
]
#: answers that are never kept, and still the same from both servers
UNCACHED = [
    ("chain1.example.com", "A", {}),                            # SERVFAIL: chain too long
    ("www.example.com", "ANY", {}),                             # any-to-tcp: empty, TC
    ("www.example.org", "A", {}),                               # REFUSED: not ours
    ("version.bind", "TXT", {"rdclass": "CH"}),                 # CHAOS
]
TCP_CASES = [
    ("hugetxt.example.com", "TXT", {}),
    ("www.example.com", "ANY", {"use_edns": 0}),
    ("nope.example.com", "A", {"want_dnssec": True}),
    ("Chain3.Example.Com", "A", {}),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """(a server with no packet cache, one with the default cache and two workers)."""
    root = tmp_path_factory.mktemp("packet-cache")
    base = {"launch": "bind", "bind-config": str(CONF / "named.conf"),
            "server-id": "ns.cache.test"}
    plain = start_server(root / "plain", None, {**base, "cache-ttl": "0"})
    cached = start_server(root / "cached", None, {**base, "workers": "2"})
    cached.wait_workers(2)
    yield plain, cached
    assert plain.stop() == 0, plain.log()
    assert cached.stop() == 0, cached.log()


def udp_exchange(sock: socket.socket, server, wire: bytes) -> bytes:
    sock.sendto(wire, (server.address, server.port))
    sock.settimeout(2.0)
    data, _ = sock.recvfrom(65536)
    assert data[:2] == wire[:2]
    return data


def tcp_wire_exchange(conn: socket.socket, wire: bytes) -> bytes:
    conn.sendall(frame(wire))
    size = int.from_bytes(recv_exact(conn, 2), "big")
    data = recv_exact(conn, size)
    assert len(data) == size and data[:2] == wire[:2]
    return data


def purge_all(server) -> None:
    assert send_command(["purge"], unix_path=str(server.control_socket)).ok


def hit_and_miss(server, before: dict[str, int]) -> tuple[int, int]:
    after = statistics(server)
    return (after["packetcache-hit"] - before["packetcache-hit"],
            after["packetcache-miss"] - before["packetcache-miss"])


def assert_third_is_a_hit(server, before: dict[str, int]) -> None:
    """Three queries for one key: a miss, a miss that is kept, a hit. A key asked for before
    the purge (the same name in another spelling, by an earlier test that reached the same
    worker) is kept at its first miss, as the doorkeeper outlives a purge: then two hits."""
    assert hit_and_miss(server, before) in ((1, 2), (2, 1))


def query(qname: str, qtype: str, options: dict) -> bytes:
    return dns.message.make_query(qname, qtype, **options).to_wire()


def ids(cases) -> list[str]:
    return [f"{n}/{t}/{'+'.join(o) or 'plain'}" for n, t, o in cases]


@pytest.mark.parametrize("qname,qtype,options", CASES, ids=ids(CASES))
def test_udp_hit_is_the_computed_answer(servers, qname, qtype, options):
    plain, cached = servers
    wire = query(qname, qtype, options)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((cached.address, 0))
        reference = udp_exchange(sock, plain, wire)
        purge_all(cached)
        before = statistics(cached)
        miss = udp_exchange(sock, cached, wire)
        kept = udp_exchange(sock, cached, query(qname, qtype, options))
        again = query(qname, qtype, options)          # a new ID
        hit = udp_exchange(sock, cached, again)
    assert_third_is_a_hit(cached, before)
    assert kept[2:] == miss[2:]
    assert miss[2:] == reference[2:], (dns.message.from_wire(miss),
                                       dns.message.from_wire(reference))
    assert hit[2:] == reference[2:], (dns.message.from_wire(hit),
                                      dns.message.from_wire(reference))


@pytest.mark.parametrize("qname,qtype,options", UNCACHED, ids=ids(UNCACHED))
def test_uncacheable_answers_are_never_kept(servers, qname, qtype, options):
    plain, cached = servers
    wire = query(qname, qtype, options)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((cached.address, 0))
        reference = udp_exchange(sock, plain, wire)
        purge_all(cached)
        before = statistics(cached)
        answers = [udp_exchange(sock, cached, query(qname, qtype, options)) for _ in range(3)]
    hits, _ = hit_and_miss(cached, before)
    assert hits == 0
    assert all(answer[2:] == reference[2:] for answer in answers)


@pytest.mark.parametrize("qname,qtype,options", TCP_CASES, ids=ids(TCP_CASES))
def test_tcp_hit_is_the_computed_answer(servers, qname, qtype, options):
    plain, cached = servers
    wire = query(qname, qtype, options)
    with connect(plain) as conn:
        reference = tcp_wire_exchange(conn, wire)
    purge_all(cached)
    before = statistics(cached)
    with connect(cached) as conn:
        miss = tcp_wire_exchange(conn, wire)
        tcp_wire_exchange(conn, query(qname, qtype, options))
        hit = tcp_wire_exchange(conn, query(qname, qtype, options))
    assert_third_is_a_hit(cached, before)
    assert miss[2:] == reference[2:] and hit[2:] == reference[2:], \
        (dns.message.from_wire(hit), dns.message.from_wire(reference))


@pytest.mark.parametrize("first,second", [
    ("WWW.EXAMPLE.COM", "www.Example.Com"),
    ("c1.example.com", "C1.EXAMPLE.com"),
    ("Foo.Wild.Example.Com", "fOO.wILD.eXAMPLE.cOM"),
])
def test_hit_echoes_the_query_case(servers, first, second):
    """An entry made by one spelling of the name answers another with that other's case, in
    the question and wherever the answer points back at it."""
    plain, cached = servers
    purge_all(cached)
    before = statistics(cached)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((cached.address, 0))
        udp_exchange(sock, cached, query(first, "A", {}))
        udp_exchange(sock, cached, query(first, "A", {}))
        wire = query(second, "A", {})
        hit = udp_exchange(sock, cached, wire)
        reference = udp_exchange(sock, plain, wire)
    assert_third_is_a_hit(cached, before)
    qname = dns.message.from_wire(wire).question[0].name.to_wire()
    assert hit[12:12 + len(qname)] == qname
    assert hit[2:] == reference[2:]
    answer = dns.message.from_wire(hit)
    assert answer.question[0].name.to_text() == second + "."
    assert answer.answer[0].name.to_text() == second + "."


def test_names_asked_once_are_not_kept(servers):
    """A random-subdomain flood against a live worker: every name asked once, none kept
    (``packetcache-size`` does not move), while a name asked again is kept and hit."""
    _plain, cached = servers
    purge_all(cached)
    before = statistics(cached)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((cached.address, 0))
        for i in range(300):
            response = dns.message.from_wire(
                udp_exchange(sock, cached, query(f"flood{i:04d}.example.com", "A", {})))
            assert response.rcode() == dns.rcode.NXDOMAIN
        for _ in range(3):
            udp_exchange(sock, cached, query("mail2.example.com", "A", {}))
    after = statistics(cached)
    assert hit_and_miss(cached, before) == (1, 302)
    assert after["packetcache-size"] == 1, after["packetcache-size"]


def test_reload_drops_exactly_the_changed_zone(tmp_path):
    """After a HUP that changes zone A, A's new data is served at once (its entries are
    gone: a miss), while zone B's entries are still hits."""
    tree = ZoneTree(tmp_path)
    tree.add("a.test", zone_text("a.test", "www IN A 192.0.2.1\n"))
    tree.add("b.test", zone_text("b.test", "www IN A 192.0.2.2\n"))
    server = start_server(tmp_path / "server", tree, {"workers": "2"})
    server.wait_workers(2)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((server.address, 0))

        def ask(qname: str) -> list[str]:
            return rrs(dns.message.from_wire(udp_exchange(sock, server,
                                                          query(qname, "A", {}))), "A")

        for _ in range(2):
            assert ask("www.a.test") == ["192.0.2.1"]
            assert ask("www.b.test") == ["192.0.2.2"]
        tree.write("a.test", zone_text("a.test", "www IN A 192.0.2.11\n", serial=2))
        hup(server)
        before = statistics(server)
        assert ask("www.a.test") == ["192.0.2.11"]
        assert hit_and_miss(server, before) == (0, 1)
        before = statistics(server)
        assert ask("www.b.test") == ["192.0.2.2"]
        assert hit_and_miss(server, before) == (1, 0)
        before = statistics(server)
        assert ask("www.a.test") == ["192.0.2.11"]
        assert hit_and_miss(server, before) == (1, 0)
    assert server.stop() == 0, server.log()


def test_reload_drops_tcp_entries_too(tmp_path):
    """TCP entries go with the zone too: a pipelined connection sees the new data."""
    tree = ZoneTree(tmp_path)
    tree.add("a.test", zone_text("a.test", "www IN A 192.0.2.1\n"))
    server = start_server(tmp_path / "server", tree, {"workers": "1"})
    with connect(server) as conn:
        for _ in range(2):
            conn.sendall(frame(query("www.a.test", "A", {})))
            response = read_response(conn)
            assert response is not None and rrs(response, "A") == ["192.0.2.1"]
        tree.write("a.test", zone_text("a.test", "www IN A 192.0.2.3\n", serial=2))
        hup(server)
        conn.sendall(frame(query("www.a.test", "A", {})))
        response = read_response(conn)
        assert response is not None and rrs(response, "A") == ["192.0.2.3"]
    assert server.stop() == 0, server.log()

"""The control socket of a live server with zones and two workers, driven by Debian's
``pdns_control`` and by ``fastdns-control`` (``python3 -m fastdns.cli.control``): the replies
carry what the server really did (counters, caches, zones, configuration), and the commands
that act (purge, reload, rediscover, quit) take effect.

Cache behaviour is observed from one UDP socket (one source port, so SO_REUSEPORT sends every
query to the same worker and its packet cache) and one TCP connection."""

import re
import socket

import dns.message
import dns.query
import dns.rcode
import pytest

from fastdns import __version__
from fastdns.control.commands import SET_REFUSED
from fastdns.stats import PDNS_STATISTICS
from tests.integration.helpers import (
    ZoneTree,
    collect,
    connect,
    control,
    exits_within,
    process_group_gone,
    rrs,
    start_server,
    statistics,
    tcp_exchange,
    udp_burst,
    zone_text,
)

CLIENTS = ("pdns_control", "fastdns-control")
#: a short name for each client, for names the test makes up
TAG = {"pdns_control": "pdns", "fastdns-control": "fastdns"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("control-live"))
    tree.add("example.test", zone_text("example.test", """\
        www     IN A     192.0.2.80
        www     IN AAAA  2001:db8::80
        mail    IN A     192.0.2.25
        *.wild  IN A     192.0.2.99
        """))
    tree.add("other.test", zone_text("other.test", "www IN A 198.51.100.80\n"))
    tree.add("reload.test", zone_text("reload.test", "www IN A 203.0.113.1\n"))
    return tree


@pytest.fixture(scope="module")
def server(tree, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("control-live-server"), tree, {"workers": "2"})
    srv.wait_workers(2)
    yield srv
    assert srv.stop() == 0, srv.log()


def ok(server, client: str, *words: str) -> str:
    """The reply to a command that succeeds (exit 0, nothing on stderr), without its newline."""
    done = control(server, *words, client=client)
    assert done.returncode == 0 and done.stderr == "", (words, done)
    assert done.stdout.endswith("\n"), (words, done)
    return done.stdout[:-1]


def table(text: str) -> dict[str, int]:
    """``KEY\\tCOUNT`` lines (qtypes, respsizes, remotes) as a dict."""
    out = {}
    for line in text.splitlines():
        assert re.fullmatch(r"[^\t]+\t\d+", line), line
        key, count = line.split("\t")
        out[key] = int(count)
    return out


def show_all(server, client: str) -> dict[str, int]:
    reply = ok(server, client, "show", "*")
    assert reply.endswith(",")
    items = [item.partition("=") for item in reply[:-1].split(",")]
    assert all(sep == "=" and value.isdigit() for _, sep, value in items), reply
    return {name: int(value) for name, _, value in items}


class Pinned:
    """Queries from one UDP socket: always the same source port, so always the same worker."""

    def __init__(self, server) -> None:
        self.server = server
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((server.address, 0))
        self.sock.setblocking(False)

    def query(self, qname: str, rdtype: str = "A") -> dns.message.Message:
        return dns.query.udp(dns.message.make_query(qname, rdtype), self.server.address,
                             port=self.server.port, timeout=2.0, sock=self.sock)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def pinned(server):
    client = Pinned(server)
    yield client
    client.close()


def cache_deltas(server, pinned: Pinned, *questions: str) -> tuple[int, int]:
    """(packet-cache hits, misses) that ``pinned`` queries for ``questions`` (``NAME`` or
    ``NAME TYPE``; A by default) caused."""
    before = statistics(server)
    for question in questions:
        response = pinned.query(*question.split())
        assert response.rcode() == dns.rcode.NOERROR and response.answer, response
    after = statistics(server)
    return (after["packetcache-hit"] - before["packetcache-hit"],
            after["packetcache-miss"] - before["packetcache-miss"])


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_rping_uptime_version(server, client):
    assert ok(server, client, "rping") == "PONG"
    assert re.fullmatch(r"\d+ seconds|[\d.]+ minutes", ok(server, client, "uptime"))
    assert ok(server, client, "version") == __version__


@pytest.mark.parametrize("client", CLIENTS)
def test_show_counts_what_was_served(server, client, pinned):
    """``show *`` lists every PowerDNS 4.7.3 metric in its order, and the counters moved by
    exactly the queries sent: 15 over UDP (5 names, each a miss, a miss that the packet
    cache admits, then a hit) and 4 over TCP (2 names on one connection, two misses each:
    the second is admitted; docs/performance.md has the admission policy)."""
    before = show_all(server, client)
    assert list(before) == list(PDNS_STATISTICS)
    for i in range(5):
        for _ in range(3):
            response = pinned.query(f"{TAG[client]}-{i}.wild.example.test")
            assert rrs(response, "A") == ["192.0.2.99"]
    conn = connect(server)
    for i in range(2):
        for _ in range(2):
            response = tcp_exchange(conn, f"{TAG[client]}-tcp{i}.wild.example.test")
            assert response is not None and rrs(response, "A") == ["192.0.2.99"]
    conn.close()
    after = show_all(server, client)
    assert list(after) == list(PDNS_STATISTICS)
    delta = {name: after[name] - before[name] for name in after}
    assert {name: delta[name] for name in (
        "udp-queries", "udp-answers", "udp4-queries", "udp4-answers", "udp6-queries",
        "tcp-queries", "tcp-answers", "tcp4-queries", "packetcache-hit", "packetcache-miss",
        "noerror-packets", "nxdomain-packets", "servfail-packets", "corrupt-packets")} == {
        "udp-queries": 15, "udp-answers": 15, "udp4-queries": 15, "udp4-answers": 15,
        "udp6-queries": 0, "tcp-queries": 4, "tcp-answers": 4, "tcp4-queries": 4,
        "packetcache-hit": 5, "packetcache-miss": 14, "noerror-packets": 19,
        "nxdomain-packets": 0, "servfail-packets": 0, "corrupt-packets": 0}
    assert delta["udp-answers-bytes"] > 15 * 12 and delta["tcp-answers-bytes"] > 4 * 12
    assert ok(server, client, "show", "udp-queries") == str(after["udp-queries"])
    assert ok(server, client, "show", "tcp*") == "".join(
        f"{name}={after[name]}," for name in PDNS_STATISTICS if name.startswith("tcp"))
    unknown = control(server, "show", "no-such-metric", client=client)
    assert unknown.returncode == 1 and unknown.stdout == "", unknown


def cached(server, pinned: Pinned, *questions: str) -> None:
    """Ask each question until its answer comes from the packet cache: the cache keeps an
    answer the second time it misses (or at once, for a key it remembers), so what an
    earlier test asked does not change what follows."""
    for question in questions:
        for _ in range(3):
            if cache_deltas(server, pinned, question) == (1, 0):
                break
        else:
            raise AssertionError(f"{question}: never answered from the packet cache")


@pytest.mark.parametrize("client", CLIENTS)
def test_ccounts_and_purge(server, client, pinned):
    """``purge NAME`` drops exactly that name's answers (any case), ``purge ZONE$`` the
    names at and below it, ``purge`` everything; ``ccounts`` counts what is left."""
    ok(server, client, "purge")
    assert ok(server, client, "ccounts") == "negative queries: 0, queries: 0packets: 0"

    cached(server, pinned, "www.example.test", "www.example.test AAAA", "mail.example.test",
           "www.other.test")
    assert ok(server, client, "ccounts") == "negative queries: 0, queries: 0packets: 4"

    assert ok(server, client, "purge", "WWW.Example.test") == "2"     # www's A and AAAA
    assert ok(server, client, "ccounts") == "negative queries: 0, queries: 0packets: 2"
    assert cache_deltas(server, pinned, "mail.example.test") == (1, 0)
    assert cache_deltas(server, pinned, "www.example.test") == (0, 1)

    cached(server, pinned, "www.example.test")
    assert ok(server, client, "purge", "example.test$") == "2"        # www A, mail A
    assert cache_deltas(server, pinned, "www.other.test") == (1, 0)
    assert cache_deltas(server, pinned, "mail.example.test") == (0, 1)
    assert ok(server, client, "purge", "nothing.example.test") == "0"

    cached(server, pinned, "mail.example.test")
    assert ok(server, client, "purge") == "2"                         # other's, mail's
    assert ok(server, client, "ccounts") == "negative queries: 0, queries: 0packets: 0"
    assert cache_deltas(server, pinned, "www.other.test") == (0, 1)


@pytest.mark.parametrize("client", CLIENTS)
def test_reload_serves_new_data_when_it_replies(server, tree, client):
    """After the zone file changed, ``reload`` replies ``Ok`` once every worker serves the
    new data (differences.md P6): queries right after the reply, from 60 source ports
    (both workers, whose caches held the old answer), all get it."""
    old = rrs(server.query("www.reload.test"), "A")
    for _ in range(2):                            # cached on both workers
        answers, waiting = collect(udp_burst(server, "www.reload.test", 40), 3.0)
        assert not waiting and {tuple(rrs(a, "A")) for a in answers} == {tuple(old)}
    new = "203.0.113.2" if old != ["203.0.113.2"] else "203.0.113.3"
    serial = 10 if client == "pdns_control" else 20
    tree.write("reload.test", zone_text("reload.test", f"www IN A {new}\n", serial=serial))
    assert ok(server, client, "reload") == "Ok"
    answers, waiting = collect(udp_burst(server, "www.reload.test", 60), 3.0)
    assert not waiting
    assert {tuple(rrs(a, "A")) for a in answers} == {(new,)}


@pytest.mark.parametrize("client", CLIENTS)
def test_rediscover_finds_a_new_zone(server, tree, client):
    zone = f"new-{TAG[client]}.test"
    assert server.query(f"www.{zone}").rcode() == dns.rcode.REFUSED
    tree.add(zone, zone_text(zone, "www IN A 192.0.2.44\n"))
    assert ok(server, client, "rediscover") == \
        "Ok Done parsing domains, 0 rejected, 1 new, 0 removed"
    answers, waiting = collect(udp_burst(server, f"www.{zone}", 20), 3.0)
    assert not waiting and {tuple(rrs(a, "A")) for a in answers} == {("192.0.2.44",)}
    assert f"{zone}." in ok(server, client, "list-zones").splitlines()


@pytest.mark.parametrize("client", CLIENTS)
def test_list_zones(server, tree, client):
    zones = {f"{zone}." for zone in tree.files}
    lines = ok(server, client, "list-zones").splitlines()
    assert lines[-1] == f"All zonecount: {len(zones)}" and set(lines[:-1]) == zones
    assert len(lines) == len(zones) + 1
    # named.conf's `type master`: primary zones, as PowerDNS's bind backend lists them
    lines = ok(server, client, "list-zones", "primary").splitlines()
    assert lines[-1] == f"Master zonecount: {len(zones)}" and set(lines[:-1]) == zones
    assert ok(server, client, "list-zones", "native") == "Native zonecount: 0"
    assert ok(server, client, "list-zones", "secondary") == "Slave zonecount: 0"


@pytest.mark.parametrize("client", CLIENTS)
def test_current_config(server, tree, client):
    lines = ok(server, client, "current-config").splitlines()
    assert f"local-port={server.port}" in lines
    assert "workers=2" in lines
    assert f"bind-config={tree.conf}" in lines
    diff = ok(server, client, "current-config", "diff").splitlines()
    assert f"local-port={server.port}" in diff and len(diff) < len(lines)


@pytest.mark.parametrize("client", CLIENTS)
def test_qtypes_respsizes_remotes(server, client):
    qtypes = table(ok(server, client, "qtypes"))
    sizes = table(ok(server, client, "respsizes"))
    for rdtype, count in (("A", 7), ("AAAA", 3)):
        for _ in range(count):
            assert server.query("www.example.test", rdtype).rcode() == dns.rcode.NOERROR
    after = table(ok(server, client, "qtypes"))
    assert after["A"] - qtypes.get("A", 0) == 7
    assert after["AAAA"] - qtypes.get("AAAA", 0) == 3
    assert set(after) - set(qtypes) <= {"A", "AAAA"}
    assert {k: v for k, v in after.items() if k not in ("A", "AAAA")} == \
        {k: v for k, v in qtypes.items() if k not in ("A", "AAAA")}
    sizes_after = table(ok(server, client, "respsizes"))
    assert all(key.isdigit() for key in sizes_after)
    assert sum(sizes_after.values()) - sum(sizes.values()) == 10
    remotes = table(ok(server, client, "remotes"))
    assert remotes.get("127.0.0.1", 0) >= 10, remotes


@pytest.mark.parametrize("client", CLIENTS)
def test_set_changes_reloadable_settings_only(server, client):
    """``set`` takes a setting marked reloadable (PowerDNS's reply, ``done``), shows it in
    ``current-config``, and refuses the others and bad values, changing nothing."""
    assert ok(server, client, "set", "query-logging", "yes") == SET_REFUSED
    assert ok(server, client, "set", "local-port", "53") == SET_REFUSED
    assert ok(server, client, "set", "no-such-setting", "1") == SET_REFUSED
    assert ok(server, client, "set", "cache-ttl", "seven").startswith("Bad value for 'cache-ttl'")
    value = str(5 + CLIENTS.index(client))      # the server is shared by both clients
    assert f"cache-ttl={value}\n" not in ok(server, client, "current-config", "diff")
    assert ok(server, client, "set", "cache-ttl", value) == "done"
    assert f"cache-ttl={value}\n" in ok(server, client, "current-config", "diff")


@pytest.mark.parametrize("client", CLIENTS)
def test_unknown_command_fails(server, client):
    done = control(server, "frobnicate", client=client)
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr == "Unknown command: 'FROBNICATE'\n", done


@pytest.mark.parametrize("client", CLIENTS)
def test_quit_stops_the_server(tree, tmp_path, client):
    server = start_server(tmp_path, tree, {"workers": "2"})
    server.wait_workers(2)
    assert server.proc is not None
    assert ok(server, client, "quit") == "Exiting"
    assert exits_within(server.proc, 5.0) == 0, server.log()
    assert process_group_gone(server.proc.pid)
    assert not server.control_socket.exists()
    assert not (server.rundir / "pdns.pid").exists()

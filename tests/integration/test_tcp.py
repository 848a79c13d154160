"""DNS over TCP (RFC 7766, RFC 1035 §4.2.2) and PowerDNS's TCP limits: pipelining, idle
timeout, max-tcp-connections, max-tcp-connections-per-client, max-tcp-transactions-per-conn,
max-tcp-connection-duration, and clients that misbehave."""

import socket
import time

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.integration.helpers import (
    ZoneTree,
    closed_by_peer,
    connect,
    frame,
    is_noerror,
    query_wire,
    read_response,
    rrs,
    start_server,
    tcp_exchange,
    wait_until,
    zone_text,
)

BIG_TXT = ["x" * 200 + f"{i:03d}" for i in range(40)]       # an answer of about 8.5 kB
ZONE = zone_text("tcp.test", "".join(f'big IN TXT "{text}"\n' for text in BIG_TXT) + """\
www   IN A    192.0.2.1
mail  IN MX   10 www.tcp.test.
""" + "".join(f"h{i} IN A 192.0.2.{i}\n" for i in range(1, 50)))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("tcp"))
    tree.add("tcp.test", ZONE)
    return tree


def server_with(tree, tmp_path_factory, **settings):
    settings = {key.replace("_", "-"): str(value) for key, value in settings.items()}
    return start_server(tmp_path_factory.mktemp("tcp-server"), tree, settings)


@pytest.fixture(scope="module")
def server(tree, tmp_path_factory):
    srv = server_with(tree, tmp_path_factory, tcp_idle_timeout=1)
    yield srv
    assert srv.stop() == 0, srv.log()


@pytest.fixture
def clients():
    """Sockets a test opens; all closed afterwards, and the server given time to notice."""
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()
    time.sleep(0.15)


def test_pipelined_queries_answered_in_order(server, clients):
    """50 queries in one write, the large answer first: every one answered, in order
    (PowerDNS answers a connection's queries in order; RFC 7766 §6.2.1.1 allows it)."""
    sock = connect(server)
    clients.append(sock)
    queries = [query_wire("big.tcp.test", "TXT", qid=1000)]
    queries += [query_wire(f"h{i}.tcp.test", "A", qid=1000 + i) for i in range(1, 45)]
    queries += [query_wire(f"nope{i}.tcp.test", "A", qid=1045 + i) for i in range(5)]
    sock.sendall(b"".join(frame(q) for q in queries))
    responses = [read_response(sock) for _ in queries]
    assert all(r is not None for r in responses)
    assert [r.id for r in responses] == [q.id for q in queries]
    assert sorted(r.strings[0].decode() for r in responses[0].answer[0]) == BIG_TXT
    for i, response in enumerate(responses[1:45], 1):
        assert rrs(response, "A") == [f"192.0.2.{i}"]
    assert {r.rcode() for r in responses[45:]} == {dns.rcode.NXDOMAIN}


def test_queries_split_across_segments(server, clients):
    """A length prefix and a message cut anywhere still make one query (RFC 7766 §8)."""
    sock = connect(server)
    clients.append(sock)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = frame(query_wire("www.tcp.test", "A", qid=1)) + frame(query_wire("mail.tcp.test",
                                                                          "MX", qid=2))
    pieces = [data[:1], data[1:2], data[2:9], data[9:-3], data[-3:]]
    for piece in pieces:
        sock.sendall(piece)
        time.sleep(0.02)
    first, second = read_response(sock), read_response(sock)
    assert first is not None and first.id == 1 and rrs(first, "A") == ["192.0.2.1"]
    assert second is not None and second.id == 2 and rrs(second, "MX") == ["10 www.tcp.test."]


def test_idle_connection_closed_after_tcp_idle_timeout(server, clients):
    sock = connect(server)
    clients.append(sock)
    assert is_noerror(tcp_exchange(sock, "www.tcp.test"))
    took = closed_by_peer(sock, timeout=4)
    assert took is not None, "an idle connection stayed open"
    assert 0.7 <= took <= 2.0, took


def test_idle_timeout_after_a_partial_length_prefix(server, clients):
    sock = connect(server)
    clients.append(sock)
    sock.sendall(b"\x00")
    took = closed_by_peer(sock, timeout=4)
    assert took is not None, "a connection with a half length prefix stayed open"
    assert 0.7 <= took <= 2.0, took


def test_idle_timeout_counts_from_the_last_query(server, clients):
    sock = connect(server)
    clients.append(sock)
    for _ in range(4):          # 1.6 s in all, never 1 s idle
        assert is_noerror(tcp_exchange(sock, "www.tcp.test"))
        time.sleep(0.4)
    assert is_noerror(tcp_exchange(sock, "www.tcp.test"))


def test_zero_length_message_closes_the_connection(server, clients):
    sock = connect(server)
    clients.append(sock)
    sock.sendall(frame(query_wire("www.tcp.test", qid=7)) + b"\x00\x00" +
                 frame(query_wire("www.tcp.test", qid=8)))
    response = read_response(sock)
    assert response is not None and response.id == 7
    assert read_response(sock) is None          # closed: the query after it is not answered


def test_a_client_that_never_reads_does_not_stall_others(server, clients):
    stuck = connect(server)
    clients.append(stuck)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setblocking(False)
    burst = frame(query_wire("big.tcp.test", "TXT")) * 100
    sent = 0
    for _ in range(1000):
        try:
            sent += stuck.send(burst)
        except BlockingIOError:
            break
    assert sent > 100_000        # it really queued far more answers than it can receive
    started = time.monotonic()
    for i in range(20):
        query = dns.message.make_query(f"h{i + 1}.tcp.test", "A")
        assert rrs(dns.query.udp(query, server.address, port=server.port, timeout=1), "A")
        assert rrs(dns.query.tcp(query, server.address, port=server.port, timeout=1), "A")
    assert time.monotonic() - started < 3


# --------------------------------------------------------------------------------------------
# Connection limits


@pytest.fixture(scope="module")
def limited(tree, tmp_path_factory):
    srv = server_with(tree, tmp_path_factory, max_tcp_connections=3,
                      max_tcp_connections_per_client=2, tcp_idle_timeout=1)
    yield srv
    assert srv.stop() == 0, srv.log()


def open_answered(server, source: str, clients: list) -> socket.socket:
    """A connection from ``source`` that the server has accepted and answered on."""
    sock = connect(server, source)
    clients.append(sock)
    assert is_noerror(tcp_exchange(sock, "www.tcp.test")), source
    return sock


def refused(server, source: str, clients: list) -> bool:
    """Whether a new connection from ``source`` is closed without an answer."""
    sock = connect(server, source)
    clients.append(sock)
    return tcp_exchange(sock, "www.tcp.test") is None


def test_max_tcp_connections(limited, clients):
    first = [open_answered(limited, "127.0.0.1", clients),
             open_answered(limited, "127.0.0.1", clients),
             open_answered(limited, "127.0.0.2", clients)]
    assert refused(limited, "127.0.0.3", clients)
    for sock in first:           # the three accepted ones still work
        assert is_noerror(tcp_exchange(sock, "www.tcp.test"))
    first[2].close()
    time.sleep(0.15)
    open_answered(limited, "127.0.0.3", clients)     # a slot was freed
    assert "connection limit" in limited.log()


def test_max_tcp_connections_per_client(limited, clients):
    mine = [open_answered(limited, "127.0.0.1", clients),
            open_answered(limited, "127.0.0.1", clients)]
    assert refused(limited, "127.0.0.1", clients)
    open_answered(limited, "127.0.0.2", clients)     # another client still gets in
    for sock in mine:
        assert is_noerror(tcp_exchange(sock, "www.tcp.test"))


def test_unread_answers_do_not_hold_connections(limited, clients):
    """Clients that stop reading cannot keep their slots past tcp-idle-timeout (PowerDNS
    applies it to writes too); otherwise three of them lock everyone out of TCP."""
    for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
        sock = open_answered(limited, source, clients)
        sock.setblocking(False)
        burst = frame(query_wire("big.tcp.test", "TXT")) * 100
        for _ in range(1000):
            try:
                sock.send(burst)
            except BlockingIOError:
                break
    started = time.monotonic()
    assert refused(limited, "127.0.0.4", clients)

    def admitted() -> bool:
        time.sleep(0.2)
        return not refused(limited, "127.0.0.4", clients)

    # tcp-idle-timeout=1, plus as much again to deliver what is pending
    wait_until(admitted, timeout=4, what="a free TCP slot")
    assert time.monotonic() - started >= 0.8


# --------------------------------------------------------------------------------------------
# Per-connection limits


@pytest.fixture(scope="module")
def two_per_conn(tree, tmp_path_factory):
    srv = server_with(tree, tmp_path_factory, max_tcp_transactions_per_conn=2)
    yield srv
    assert srv.stop() == 0, srv.log()


def test_max_tcp_transactions_per_conn_pipelined(two_per_conn, clients):
    sock = connect(two_per_conn)
    clients.append(sock)
    sock.sendall(b"".join(frame(query_wire("www.tcp.test", qid=i)) for i in (1, 2, 3)))
    answers = [read_response(sock) for _ in range(3)]
    assert [a.id if a is not None else None for a in answers] == [1, 2, None]


def test_max_tcp_transactions_per_conn_one_by_one(two_per_conn, clients):
    sock = connect(two_per_conn)
    clients.append(sock)
    assert is_noerror(tcp_exchange(sock, "www.tcp.test"))
    assert is_noerror(tcp_exchange(sock, "www.tcp.test"))
    took = closed_by_peer(sock, timeout=2)     # closed after the second answer, not idle
    assert took is not None and took < 0.5, took


@pytest.fixture(scope="module")
def short_lived(tree, tmp_path_factory):
    srv = server_with(tree, tmp_path_factory, max_tcp_connection_duration=1)
    yield srv
    assert srv.stop() == 0, srv.log()


def test_max_tcp_connection_duration(short_lived, clients):
    sock = connect(short_lived)
    clients.append(sock)
    started = time.monotonic()
    answered = 0
    while time.monotonic() - started < 4:
        if tcp_exchange(sock, "www.tcp.test") is None:
            break
        answered += 1
        time.sleep(0.1)
    took = time.monotonic() - started
    assert answered >= 5             # a busy connection, never idle
    assert 0.8 <= took <= 2.0, took

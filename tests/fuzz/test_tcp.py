"""Malformed TCP framing at one live fastdns (RFC 1035 §4.2.2, RFC 7766): length prefixes
that lie, zero and one-octet messages, byte-at-a-time writes, pipelines mixing good and bad
messages, abandoned connections and more connections than ``max-tcp-connections``.

The server must survive all of it, answer pipelined queries in order, close a connection
that carries something other than a query (docs/differences.md M8) or a zero length, and
keep accepting new connections.
"""

import random
import socket
import struct
import threading
import time

import dns.exception
import dns.message
import pytest

from tests._support.servers import CONF, Fastdns
from tests.fuzz import oracle
from tests.fuzz.clients import closed_by_peer, frame, read_message, tcp_connect
from tests.fuzz.packets import QR, PacketFactory, catalogue, expects_response, header

SEED = 20240612
MAX_TCP_CONNECTIONS = 20        # PowerDNS's default, and fastdns's
SETTINGS = {"launch": "bind", "bind-config": str(CONF / "named.conf")}
IDLE_TIMEOUT = 1                # tcp-idle-timeout of the module's server (default 5 s)

GOOD = [("www.example.com", "A"), ("example.com", "MX"), ("multi.example.com", "AAAA"),
        ("no-such-name.example.com", "A"), ("www.example.net", "A"), ("example.com", "NS"),
        ("txt.example.com", "TXT"), ("www.deleg.example.com", "A"), ("example.com", "ANY")]


def good_query(i: int) -> bytes:
    qname, rdtype = GOOD[i % len(GOOD)]
    return dns.message.make_query(qname, rdtype, id=(0x4000 + i) & 0xFFFF).to_wire()


def normalised(wire: bytes) -> tuple:
    """A response without its ID: rcode, flags and sections."""
    msg = dns.message.from_wire(wire)
    return (msg.rcode(), msg.flags, [sorted(rrset.to_text() for rrset in section)
                                     for section in (msg.question, msg.answer,
                                                     msg.authority, msg.additional)])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with Fastdns(tmp_path_factory.mktemp("fuzz-tcp"),
                 {**SETTINGS, "tcp-idle-timeout": str(IDLE_TIMEOUT)}) as srv:
        yield srv


@pytest.fixture(scope="module")
def reference(server) -> dict[tuple[str, str], tuple]:
    """The answer to each GOOD query, asked alone on its own connection."""
    out = {}
    for i in range(len(GOOD)):
        query = good_query(i)
        with tcp_connect((server.address, server.port)) as sock:
            sock.sendall(frame(query))
            response = read_message(sock)
        assert response is not None
        out[GOOD[i]] = normalised(response)
    return out


def assert_serving(server: Fastdns) -> None:
    """The server is alive and answers a new TCP connection and UDP."""
    assert server.proc is not None and server.proc.poll() is None, server.log()[-3000:]
    response = server.query("www.example.com", "A", tcp=True)
    assert [rrset.to_text() for rrset in response.answer] == \
        ["www.example.com. 300 IN A 192.0.2.80"]
    assert server.query("www.example.com", "A").answer == response.answer


def bad_queries(count: int) -> list[bytes]:
    """Broken packets that are still queries (a readable header, QR=0): each is answered."""
    packets = [p for _, p in PacketFactory(SEED).generate(count * 3) if expects_response(p)]
    packets += [p for name, p in catalogue() if expects_response(p)]
    return random.Random(SEED).sample(packets, count)


def test_reference_answers(reference):
    assert reference[("www.example.com", "A")][2][1] == ["www.example.com. 300 IN A 192.0.2.80"]


@pytest.mark.parametrize("chunking", ["one write", "random writes"])
def test_pipelined_good_and_bad_queries_answered_in_order(server, reference, chunking):
    rng = random.Random(f"{SEED}-{chunking}")
    messages: list[tuple[int | None, bytes]] = []
    bad = bad_queries(150)
    for i in range(300):
        if i % 2 == 0:
            messages.append((i // 2, good_query(i // 2)))
        else:
            messages.append((None, bad[i // 2]))
    stream = b"".join(frame(m) for _, m in messages)
    with tcp_connect((server.address, server.port), timeout=5.0) as sock:
        if chunking == "one write":
            sock.sendall(stream)
        else:
            pos = 0
            while pos < len(stream):
                step = rng.choice((1, 2, 3, 7, 50, 500, 4000))
                sock.sendall(stream[pos:pos + step])
                pos += step
        for n, (good, message) in enumerate(messages):
            response = read_message(sock)
            assert response is not None, f"connection ended before response {n} of " \
                                         f"{len(messages)} (to {message.hex()})"
            if good is not None:
                assert normalised(response) == reference[GOOD[good % len(GOOD)]]
                assert response[:2] == message[:2]
            else:
                # the framing rules; which rcode a bad query deserves is test_udp.py's job
                failure = oracle.check(message, [response], udp=False)
                assert failure is None or failure.rule.startswith("formerr"), \
                    f"response {n}: {failure}\n  query {message.hex()}\n  " \
                    f"response {response.hex()}"
    assert_serving(server)


def test_byte_at_a_time(server, reference):
    stream = frame(good_query(0)) + frame(good_query(1))
    with tcp_connect((server.address, server.port), timeout=5.0) as sock:
        for i in range(len(stream)):
            sock.sendall(stream[i:i + 1])
            time.sleep(0.002)
        for i in range(2):
            response = read_message(sock)
            assert response is not None
            assert normalised(response) == reference[GOOD[i]]
    assert_serving(server)


@pytest.mark.parametrize("ending", ["half-close", "close", "reset"])
def test_length_prefix_longer_than_the_data(server, ending):
    query = good_query(0)
    with tcp_connect((server.address, server.port)) as sock:
        sock.sendall(struct.pack("!H", len(query) + 100) + query)
        if ending == "half-close":
            sock.shutdown(socket.SHUT_WR)
            assert closed_by_peer(sock), "the server kept a half-closed connection open"
        elif ending == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert_serving(server)


def test_zero_length_closes_the_connection(server, reference):
    with tcp_connect((server.address, server.port)) as sock:
        sock.sendall(frame(good_query(0)) + b"\x00\x00" + frame(good_query(1)))
        response = read_message(sock)
        assert response is not None and normalised(response) == reference[GOOD[0]]
        assert closed_by_peer(sock), "a zero-length message did not close the connection"
    assert_serving(server)


@pytest.mark.parametrize("shape", ["header only", "a whole response"])
def test_response_on_tcp_closes_the_connection(server, reference, shape):
    """M8: a message that is not a query (QR=1) closes the connection; the queries before
    it are answered, the ones after it are not."""
    if shape == "header only":
        junk = header(0x5151, QR, 0)
    else:
        junk = dns.message.make_response(dns.message.from_wire(good_query(2))).to_wire()
    with tcp_connect((server.address, server.port)) as sock:
        sock.sendall(frame(good_query(0)) + frame(junk) + frame(good_query(1)))
        response = read_message(sock)
        assert response is not None and normalised(response) == reference[GOOD[0]]
        assert closed_by_peer(sock), \
            f"M8: a QR=1 message ({shape}) did not close the connection: the query after " \
            f"it was answered (message {junk.hex()})"
    assert_serving(server)


@pytest.mark.parametrize("length", [1, 11])
def test_message_shorter_than_a_header_closes_the_connection(server, reference, length):
    """M8: a message too short to be a query is not one: the connection closes."""
    junk = good_query(0)[:length]
    with tcp_connect((server.address, server.port)) as sock:
        sock.sendall(frame(good_query(0)) + frame(junk) + frame(good_query(1)))
        response = read_message(sock)
        assert response is not None and normalised(response) == reference[GOOD[0]]
        assert closed_by_peer(sock), \
            f"M8: a {length}-octet message did not close the connection (frame " \
            f"{frame(junk).hex()})"
    assert_serving(server)


def test_65535_octets_announced_sent_slowly(server, reference):
    """A maximal message whose data comes late: others are served meanwhile, then it is
    answered (a query followed by garbage up to 65535 octets)."""
    query = good_query(0)
    message = query + random.Random(SEED).randbytes(65535 - len(query))
    data = frame(message)
    with tcp_connect((server.address, server.port), timeout=5.0) as sock:
        sock.sendall(data[:1000])
        assert_serving(server)
        time.sleep(0.2)
        sock.sendall(data[1000:30000])
        assert_serving(server)
        sock.sendall(data[30000:])
        response = read_message(sock)
        assert response is not None and normalised(response) == reference[GOOD[0]]
    assert_serving(server)


def test_stalled_message_is_closed_after_the_idle_timeout(server):
    """65535 octets announced, a few sent, then nothing: tcp-idle-timeout closes it."""
    with tcp_connect((server.address, server.port)) as sock:
        sock.sendall(b"\xff\xff" + good_query(0))
        started = time.monotonic()
        assert closed_by_peer(sock, timeout=IDLE_TIMEOUT + 3.0), \
            "a stalled connection outlived tcp-idle-timeout"
        assert time.monotonic() - started >= IDLE_TIMEOUT - 0.5
    assert_serving(server)


def test_client_that_does_not_read(server, reference):
    """Many queries with large answers, the responses left unread for a while: the server
    stops reading instead of buffering without end, then answers them all, in order."""
    count = 3000
    queries = [good_query(8)] * count           # example.com ANY over TCP: a large answer
    stream = b"".join(frame(q) for q in queries)
    with tcp_connect((server.address, server.port), timeout=10.0) as sock:
        sender = threading.Thread(target=sock.sendall, args=(stream,), daemon=True)
        sender.start()
        time.sleep(0.5)
        assert_serving(server)              # other clients are served meanwhile
        for n in range(count):
            response = read_message(sock)
            assert response is not None, f"connection ended at response {n} of {count}"
            assert response[:2] == queries[n][:2]
        assert normalised(response) == reference[GOOD[8]]
        sender.join(5.0)
    assert_serving(server)


def test_abandoned_connections(server):
    """Connections opened and dropped at every stage, by close or by reset."""
    rng = random.Random(SEED)
    query = frame(good_query(0))
    for round_ in range(3):
        socks = []
        for i in range(MAX_TCP_CONNECTIONS - 5):
            sock = tcp_connect((server.address, server.port))
            stage = i % 5
            if stage == 1:
                sock.sendall(query[:1])
            elif stage == 2:
                sock.sendall(query[:2])
            elif stage == 3:
                sock.sendall(query[:rng.randrange(3, len(query))])
            elif stage == 4:
                sock.sendall(query + query[:5])     # answered, but the client never reads
            socks.append(sock)
        for i, sock in enumerate(socks):
            if (i + round_) % 2:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        assert_serving(server)


def test_random_packets_on_many_connections(server):
    """Every kind of bad packet as a TCP message, a few per connection, then a query: as long
    as no packet is a non-query (M8), the final query is answered."""
    rng = random.Random(SEED)
    packets = [p for _, p in PacketFactory(SEED + 1).generate(2000) if expects_response(p)]
    for start in range(0, len(packets), 20):
        batch = packets[start:start + 20]
        with tcp_connect((server.address, server.port), timeout=5.0) as sock:
            stream = b"".join(frame(p) for p in batch) + frame(good_query(rng.randrange(9)))
            sock.sendall(stream)
            for n in range(len(batch) + 1):
                response = read_message(sock)
                assert response is not None, \
                    f"connection ended at response {n}; the batch was {stream.hex()}"
    assert_serving(server)


def test_more_connections_than_max_tcp_connections(tmp_path_factory):
    """Connections past max-tcp-connections are closed at once; the ones held are served;
    once they close, new connections are accepted again."""
    with Fastdns(tmp_path_factory.mktemp("fuzz-tcp-limit"), SETTINGS) as server:
        extra = 5
        socks = [tcp_connect((server.address, server.port))
                 for _ in range(MAX_TCP_CONNECTIONS + extra)]
        time.sleep(0.3)
        answered = 0
        refused = 0
        for i, sock in enumerate(socks):
            try:
                sock.sendall(frame(good_query(i)))
            except (BrokenPipeError, ConnectionResetError):
                refused += 1
                continue
            if read_message(sock) is None:
                refused += 1
            else:
                answered += 1
        assert (answered, refused) == (MAX_TCP_CONNECTIONS, extra)
        for sock in socks:
            sock.close()
        deadline = time.monotonic() + 3.0
        while True:     # the server notices the closes as it reads them
            try:
                assert_serving(server)
                break
            except (AssertionError, OSError, dns.exception.DNSException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        held = [tcp_connect((server.address, server.port)) for _ in range(MAX_TCP_CONNECTIONS)]
        try:
            for i, sock in enumerate(held):
                sock.sendall(frame(good_query(i)))
                assert read_message(sock) is not None, f"connection {i} of a new set refused"
        finally:
            for sock in held:
                sock.close()


def test_server_survived(server):
    assert_serving(server)
    log = server.log()
    assert "internal error" not in log and "Traceback" not in log, log[-5000:]

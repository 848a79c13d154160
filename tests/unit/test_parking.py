"""Parked queries (the engine's WAITING state, fastdns._udp): a query that needs data from
outside the zones waits, parked, until the data is supplied (then it is answered through the
engine again) or until its deadline (then SERVFAIL and ``parked-timeouts``).

Real Responder and UdpReader objects on real loopback UDP sockets; the engine's ALIAS test
hook (Engine.alias_hook) stands where ALIAS expansion will make queries wait.
"""

import socket
import struct
import threading
import time

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

from fastdns._engine import STATE_ANSWERED, STATE_DROP, STATE_WAITING, Engine
from fastdns._pcache import PacketCache
from fastdns._udp import Responder, UdpReader, monotonic_msec
from tests._support.zones import snapshot

ZONE = """\
$TTL 300
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 30
@       NS  ns1
ns1     A   192.0.2.1
www     A   192.0.2.2
alias   TXT "an ALIAS lives here"
"""
TARGET = b"\x06target\x07example\x03net\x00"
ALIAS = b"\x05alias\x07example\x03com\x00"
A_RDATA = bytes([198, 51, 100, 7])
AAAA_RDATA = bytes.fromhex("20010db8000000000000000000000007")


def make_engine() -> Engine:
    snap = snapshot("example.com.", ZONE)
    snap.tag = 1
    engine = Engine([snap])
    engine.alias_hook(ALIAS, TARGET)
    return engine


def query(name="alias.example.com", rdtype="A", **kw) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()


class Waits(list):
    """on_wait: what the responder asked for, in order."""

    def __call__(self, name: bytes, qtype: int) -> None:
        self.append((name, qtype))


@pytest.fixture
def udp():
    """(server socket, client socket), both bound to 127.0.0.1."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(2.0)
    yield server, client
    server.close()
    client.close()


def nothing_arrives(client: socket.socket, wait: float = 0.05) -> bool:
    client.settimeout(wait)
    try:
        client.recv(65535)
    except TimeoutError:
        return True
    finally:
        client.settimeout(2.0)
    return False


def send_and_read(reader: UdpReader, server, client, packet: bytes) -> None:
    client.sendto(packet, server.getsockname())
    deadline = time.monotonic() + 2
    while reader.on_readable() == 0:
        assert time.monotonic() < deadline, "the datagram never arrived"
        time.sleep(0.001)


# -- the engine ------------------------------------------------------------------------------

def test_engine_waits_names_what_it_waits_for_and_answers_once_supplied():
    engine = make_engine()
    r = engine.result(query(), now=100)
    assert r["state"] == STATE_WAITING and r["response"] is None
    assert r["wait"] == (TARGET, dns.rdatatype.A)
    assert r["tag"] == 1
    engine.supply(TARGET, dns.rdatatype.A, [A_RDATA], 60, now=100)
    r = engine.result(query(), now=100)
    assert r["state"] == STATE_ANSWERED and r["cacheable"] and r["tag"] == 1
    response = dns.message.from_wire(r["response"])
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
    assert [rr.to_text() for rr in response.answer] == ["alias.example.com. 60 IN A 198.51.100.7"]
    # AAAA is its own wait; while it is kept, the supplied TTL is served as the resolver
    # gave it (differences.md Z18), and once it is stale the query waits again
    assert engine.result(query(rdtype="AAAA"), now=100)["wait"] == (TARGET, 28)
    engine.supply(TARGET, 28, [AAAA_RDATA], 60, now=100)
    response = dns.message.from_wire(engine.answer(query(rdtype="AAAA"), now=150))
    assert response.answer[0].ttl == 60
    assert engine.result(query(rdtype="AAAA"), now=160)["wait"] == (TARGET, 28)
    # stale: wait again
    assert engine.result(query(), now=160)["state"] == STATE_WAITING
    assert engine.expire(160) == 2 and engine.supplied(TARGET, 1, 160) is None


def test_engine_failed_lookup_is_servfail_and_no_records_nodata():
    engine = make_engine()
    engine.supply(TARGET, dns.rdatatype.A, None, now=0)
    r = engine.result(query(), now=0)
    assert r["state"] == STATE_ANSWERED and r["rcode"] == dns.rcode.SERVFAIL
    assert not r["cacheable"]
    engine.supply(TARGET, dns.rdatatype.A, [], 30, now=0)
    response = dns.message.from_wire(engine.answer(query(), now=0))
    assert response.rcode() == dns.rcode.NOERROR and not response.answer
    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_engine_hook_leaves_other_names_and_types_alone():
    engine = make_engine()
    assert engine.result(query(rdtype="TXT"), now=0)["state"] == STATE_ANSWERED
    assert engine.result(query("www.example.com"), now=0)["state"] == STATE_ANSWERED
    engine.alias_hook(ALIAS, None)
    response = dns.message.from_wire(engine.answer(query(), now=0))
    assert response.rcode() == dns.rcode.NOERROR and not response.answer      # NODATA
    assert engine.result(b"\x00\x01", now=0)["state"] == STATE_DROP


# -- UDP: a real socket, a real reader --------------------------------------------------------

def test_udp_arrival_answers_the_parked_query(udp):
    server, client = udp
    waits = Waits()
    pc = PacketCache(100)
    responder = Responder(make_engine(), pc, on_wait=waits)
    reader = UdpReader(server.fileno(), False, responder)
    packet = query()
    send_and_read(reader, server, client, packet)
    assert nothing_arrives(client)
    assert responder.parked == 1 and waits == [(TARGET, 1)]
    assert responder.counter("parked-queries") == 1
    assert responder.counter("udp-answers") == 0
    assert responder.supply(TARGET, 1, [A_RDATA], 60) == 1
    data = client.recv(65535)
    response = dns.message.from_wire(data)
    assert data[:2] == packet[:2] and response.rcode() == dns.rcode.NOERROR
    assert [rr.to_text() for rr in response.answer] == ["alias.example.com. 60 IN A 198.51.100.7"]
    assert responder.parked == 0
    assert responder.counter("udp-answers") == 1 and responder.counter("udp-queries") == 1
    assert responder.counter("parked-timeouts") == 0
    # the data is kept: the next query is answered at once
    send_and_read(reader, server, client, query())
    assert dns.message.from_wire(client.recv(65535)).answer
    assert responder.parked == 0 and waits == [(TARGET, 1)]


def test_udp_deadline_is_servfail_and_counted(udp):
    server, client = udp
    waits = Waits()
    responder = Responder(make_engine(), PacketCache(100), on_wait=waits, wait_timeout=0.05)
    reader = UdpReader(server.fileno(), False, responder)
    packet = query(use_edns=0)
    send_and_read(reader, server, client, packet)
    assert responder.parked == 1
    assert responder.expire(monotonic_msec()) == 0          # not yet
    time.sleep(0.06)
    reader.on_readable()                                     # nothing to read: expiry only
    data = client.recv(65535)
    response = dns.message.from_wire(data)
    assert data[:2] == packet[:2] and response.rcode() == dns.rcode.SERVFAIL
    assert response.question == dns.message.from_wire(packet).question
    assert response.edns == 0                                # a whole answer, OPT included
    assert responder.parked == 0
    assert responder.counter("parked-timeouts") == 1
    assert responder.counter("servfail-packets") == 1
    # data that comes too late answers nobody; a new query asks again
    assert responder.supply(TARGET, 1, [A_RDATA], 0) == 0
    responder.engine.forget()
    send_and_read(reader, server, client, query())
    assert waits == [(TARGET, 1), (TARGET, 1)]


def test_serving_thread_expires_and_resumes_without_new_traffic(udp):
    """UdpReader.serve in its own thread, as a worker runs it: a deadline passes with no
    datagram to wake it (its receive timeout does), and data supplied from another thread
    (the worker's event loop) answers at once."""
    server, client = udp
    server.setblocking(True)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 20000))
    waits = Waits()
    responder = Responder(make_engine(), PacketCache(100), on_wait=waits, wait_timeout=0.1)
    reader = UdpReader(server.fileno(), False, responder)
    thread = threading.Thread(target=reader.serve, daemon=True)
    thread.start()
    try:
        client.sendto(query(), server.getsockname())
        started = time.monotonic()
        response = dns.message.from_wire(client.recv(65535))
        waited = time.monotonic() - started
        assert response.rcode() == dns.rcode.SERVFAIL
        assert 0.09 <= waited < 0.5
        assert responder.counter("parked-timeouts") == 1
        client.sendto(query(rdtype="AAAA"), server.getsockname())
        deadline = time.monotonic() + 2
        while not waits or waits[-1] != (TARGET, 28):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        assert responder.supply(TARGET, 28, [AAAA_RDATA], 60) == 1
        response = dns.message.from_wire(client.recv(65535))
        assert response.answer[0][0].address == "2001:db8::7"
    finally:
        reader.stop()
        thread.join(2)
    assert not thread.is_alive()


def test_one_request_for_many_waiting_queries(udp):
    server, client = udp
    waits = Waits()
    responder = Responder(make_engine(), None, on_wait=waits)
    reader = UdpReader(server.fileno(), False, responder)
    ids = []
    for _ in range(3):
        packet = query()
        ids.append(packet[:2])
        send_and_read(reader, server, client, packet)
    assert responder.parked == 3 and waits == [(TARGET, 1)]
    # the name is matched case-insensitively, as the engine looks it up
    assert responder.supply(TARGET.upper(), 1, [A_RDATA], 60) == 3
    assert sorted(client.recv(65535)[:2] for _ in range(3)) == sorted(ids)


def test_resume_without_the_data_parks_again_with_its_deadline(udp):
    server, client = udp
    waits = Waits()
    responder = Responder(make_engine(), None, on_wait=waits, wait_timeout=0.1)
    reader = UdpReader(server.fileno(), False, responder)
    send_and_read(reader, server, client, query())
    parked_at = monotonic_msec()
    assert responder.resume(TARGET, 1) == 0                  # nothing supplied: waits again
    assert responder.parked == 1 and len(waits) == 2
    assert responder.counter("parked-queries") == 1
    assert responder.expire(parked_at + 50) == 0
    assert responder.expire(parked_at + 150) == 1            # the first deadline holds
    assert dns.message.from_wire(client.recv(65535)).rcode() == dns.rcode.SERVFAIL


def test_a_failed_lookup_answers_the_parked_queries_servfail(udp):
    server, client = udp
    responder = Responder(make_engine(), PacketCache(100))
    reader = UdpReader(server.fileno(), False, responder)
    send_and_read(reader, server, client, query())
    assert responder.supply(TARGET, 1, None) == 1
    assert dns.message.from_wire(client.recv(65535)).rcode() == dns.rcode.SERVFAIL
    assert responder.counter("parked-timeouts") == 0
    assert responder.counter("servfail-packets") == 1


def test_fail_answers_the_parked_queries_servfail_at_once(udp):
    server, client = udp
    responder = Responder(make_engine(), PacketCache(100))
    reader = UdpReader(server.fileno(), False, responder)
    send_and_read(reader, server, client, query())
    send_and_read(reader, server, client, query(rdtype="AAAA"))
    assert responder.parked == 2
    assert responder.fail(TARGET, 1) == 1                    # only those waiting for it
    assert dns.message.from_wire(client.recv(65535)).rcode() == dns.rcode.SERVFAIL
    assert responder.parked == 1 and responder.fail(TARGET, 1) == 0
    assert responder.counter("parked-timeouts") == 1
    assert responder.counter("servfail-packets") == 1


def test_no_room_to_park_is_servfail_at_once(udp):
    server, client = udp
    responder = Responder(make_engine(), None, max_parked=1)
    reader = UdpReader(server.fileno(), False, responder)
    send_and_read(reader, server, client, query())
    send_and_read(reader, server, client, query(rdtype="AAAA"))
    assert dns.message.from_wire(client.recv(65535)).rcode() == dns.rcode.SERVFAIL
    assert responder.parked == 1 and responder.counter("parked-timeouts") == 1


def test_a_supplied_answer_goes_through_the_packet_cache_as_any_other(udp):
    server, client = udp
    pc = PacketCache(100)
    responder = Responder(make_engine(), pc)
    reader = UdpReader(server.fileno(), False, responder)
    send_and_read(reader, server, client, query())
    responder.supply(TARGET, 1, [A_RDATA], 60)
    client.recv(65535)
    assert len(pc) == 0                    # offered once: first sight (admission)
    for _ in range(2):
        send_and_read(reader, server, client, query())
        client.recv(65535)
    assert len(pc) == 1 and responder.counter("packetcache-hit") == 1


# -- TCP and Python callers: a reply callable -------------------------------------------------

def frame(packet: bytes) -> bytes:
    return len(packet).to_bytes(2, "big") + packet


def test_stream_query_waits_and_replies_out_of_order():
    replies: list[bytes] = []
    responder = Responder(make_engine(), PacketCache(100), wait_timeout=0.05)
    waiting, plain = query(), query("www.example.com")
    answers, used, count, stop = responder.answer_stream(frame(waiting) + frame(plain),
                                                         reply=replies.append)
    assert (count, stop, used) == (2, False, len(frame(waiting) + frame(plain)))
    assert dns.message.from_wire(answers[2:]).id == dns.message.from_wire(plain).id
    assert replies == []
    assert responder.supply(TARGET, 1, [A_RDATA], 60) == 1
    assert len(replies) == 1 and replies[0][:2] == waiting[:2]
    assert dns.message.from_wire(replies[0]).answer
    assert responder.counter("tcp-answers") == 2
    # and a deadline over TCP
    responder.engine.forget()
    responder.answer_stream(frame(waiting), reply=replies.append)
    time.sleep(0.06)
    assert responder.expire() == 1
    assert dns.message.from_wire(replies[1]).rcode() == dns.rcode.SERVFAIL


def test_without_a_way_to_answer_later_a_waiting_query_is_servfail_at_once():
    responder = Responder(make_engine(), None)
    response = dns.message.from_wire(responder.answer(query()))
    assert response.rcode() == dns.rcode.SERVFAIL and responder.parked == 0
    answers, _used, count, _stop = responder.answer_stream(frame(query()))
    assert count == 1 and dns.message.from_wire(answers[2:]).rcode() == dns.rcode.SERVFAIL
    replies: list[bytes] = []
    assert responder.answer(query(), reply=replies.append) is None
    assert responder.parked == 1


def test_errors_in_callbacks_are_reported_not_raised():
    errors: list[BaseException] = []

    def broken(*args):
        raise RuntimeError("resolver gone")

    responder = Responder(make_engine(), None, on_error=errors.append, on_wait=broken)
    assert responder.answer(query(), reply=broken) is None
    assert responder.parked == 1 and len(errors) == 1
    assert responder.supply(TARGET, 1, [A_RDATA], 60) == 1
    assert len(errors) == 2 and responder.parked == 0

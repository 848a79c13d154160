"""100,000 adversarial packets over UDP at one live fastdns: it must survive them, keep
answering correctly, and answer each kind of bad packet as docs/differences.md says.

The blast is paced (a window of outstanding responses) so that the packets are processed,
not dropped by a full socket buffer; the test measures that by counting the responses.
Then a stratified sample of the same packets, plus a catalogue of named cases, is sent one
by one and every response is judged by tests/fuzz/oracle.py.
"""

import collections
import random
import socket
import time
from typing import Any

import dns.message
import pytest

from tests._support.servers import CONF, Fastdns
from tests.fuzz import oracle
from tests.fuzz.clients import BlastResult, Exchanger, blast
from tests.fuzz.packets import KINDS, PacketFactory, catalogue, expects_response

SEED = 20240611
BLAST = 100_000
SAMPLE = 4_000
#: at least this many packets of every kind in the sample
SAMPLE_PER_KIND = 100
#: the share of the responses promised during the blast that must come back
MIN_PROCESSED = 0.97

#: normal queries answered before and after the blast; the answers must not change
REFERENCE: list[tuple[str, str, dict[str, Any]]] = [
    ("www.example.com", "A", {}), ("example.com", "MX", {}), ("multi.example.com", "A", {}),
    ("no-such-name.example.com", "A", {}), ("example.com", "SOA", {"use_edns": 0}),
    ("www.example.net", "AAAA", {}), ("www.deleg.example.com", "A", {}),
    ("foo.wild.example.com", "TXT", {"use_edns": 0, "want_dnssec": True}),
    ("version.bind", "TXT", {"rdclass": "CH"}),
]


def snapshot(server: Fastdns) -> list[tuple]:
    """The answers to the REFERENCE queries, without what changes between two queries."""
    out = []
    for qname, rdtype, kw in REFERENCE:
        msg = server.query(qname, rdtype, **kw)
        out.append((qname, rdtype, msg.rcode(), msg.flags,
                    [sorted(rrset.to_text() for rrset in section)
                     for section in (msg.question, msg.answer, msg.authority,
                                     msg.additional)]))
    return out


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, bytes]]:
    return PacketFactory(SEED).generate(BLAST)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Fastdns(tmp_path_factory.mktemp("fuzz-udp"),
                  {"launch": "bind", "bind-config": str(CONF / "named.conf")})
    with srv:
        yield srv


@pytest.fixture(scope="module")
def blasted(server, corpus) -> tuple[list, BlastResult, list]:
    before = snapshot(server)
    result = blast((server.address, server.port), [packet for _, packet in corpus])
    print(f"\nUDP blast: {result}")
    try:
        after: list = snapshot(server)
    except Exception as exc:    # reported by test_blast_is_processed_and_survived
        after = [f"no answer after the blast: {exc!r}"]
    return before, result, after


def test_blast_is_processed_and_survived(server, corpus, blasted):
    before, result, after = blasted
    assert server.proc.poll() is None, f"fastdns died during the blast:\n{server.log()[-3000:]}"
    assert result.sent == len(corpus) == BLAST
    assert result.expected == sum(expects_response(p) for _, p in corpus)
    # NOTIFY and TSIG queries go to the manager, at most HANDOFF_RATE a second and worker
    # (a flood of them is bounded by design): the rest must nearly all be answered
    handed = sum(1 for _, p in corpus if expects_response(p) and oracle.handed_off(p))
    assert result.received >= MIN_PROCESSED * (result.expected - handed), (
        f"most packets were not processed: {result}, {handed} of them handed off")
    assert result.received <= result.expected, f"more responses than queries: {result}"
    assert result.malformed == 0, str(result)
    assert result.refused == 0, str(result)
    assert after == before, "the answers to normal queries changed after the blast"


def test_unpaced_flood_from_many_sources(server, corpus, blasted):
    """The corpus once more, from 8 sockets at once and without waiting for anything: the
    kernel drops what does not fit, the server must only survive and keep answering."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    try:
        for sock in socks:
            sock.connect((server.address, server.port))
            sock.setblocking(False)
        sent = 0
        start = time.monotonic()
        for i, (_, packet) in enumerate(corpus):
            try:
                socks[i % len(socks)].send(packet)
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                pass
        print(f"\nUDP flood: {sent} packets from {len(socks)} sockets in "
              f"{time.monotonic() - start:.1f}s, unpaced")
    finally:
        for sock in socks:
            sock.close()
    assert sent > len(corpus) // 2
    time.sleep(0.2)         # let the server work off what its socket buffer holds
    assert server.proc.poll() is None, f"fastdns died in the flood:\n{server.log()[-3000:]}"
    assert snapshot(server) == blasted[0]


def test_no_internal_errors_logged(server, blasted):
    log = server.log()
    assert "internal error" not in log and "Traceback" not in log, log[-5000:]


@pytest.fixture(scope="module")
def sample(server, corpus, blasted) -> list[tuple[str, bytes, oracle.Failure | None]]:
    """Named cases and a stratified sample of the corpus, sent one by one and judged."""
    rng = random.Random(SEED + 1)
    by_kind = collections.defaultdict(list)
    for index, (kind, _) in enumerate(corpus):
        by_kind[kind].append(index)
    chosen: set[int] = set()
    for indexes in by_kind.values():
        chosen.update(rng.sample(indexes, min(SAMPLE_PER_KIND, len(indexes))))
    rest = [i for i in range(len(corpus)) if i not in chosen]
    chosen.update(rng.sample(rest, SAMPLE - len(chosen)))
    cases = [(f"catalogue: {name}", packet) for name, packet in catalogue()]
    cases += [(f"{corpus[i][0]} #{i}", corpus[i][1]) for i in sorted(chosen)]
    judged = []
    start = time.monotonic()
    with Exchanger((server.address, server.port)) as client:
        for name, packet in cases:
            responses = client.exchange(packet, late=oracle.handed_off(packet))
            failure: oracle.Failure | None
            if responses is None:
                failure = oracle.Failure("presence", "the server stopped answering")
            else:
                failure = oracle.check(packet, responses)
            judged.append((name, packet, failure))
    print(f"\nUDP sample: {len(cases)} packets one by one in {time.monotonic() - start:.1f}s, "
          f"{sum(f is not None for *_, f in judged)} broke a rule")
    return judged


def report(failures: list[tuple[str, bytes, oracle.Failure | None]]) -> str:
    """Failures grouped by category, each with a count and one packet in hex."""
    groups: dict[str, list] = collections.defaultdict(list)
    for name, packet, failure in failures:
        assert failure is not None
        groups[oracle.category(failure)].append((name, packet, failure))
    lines = [f"{len(failures)} packets broke the rule:"]
    for category, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        name, packet, failure = members[0]
        lines.append(f"- {len(members)} x {category}\n    e.g. {name}: {failure}\n"
                     f"    packet {packet.hex()}")
    return "\n".join(lines)


def failures_of(sample, *rules: str) -> list:
    return [(n, p, f) for n, p, f in sample if f is not None and f.rule in rules]


def test_sample_covers_every_kind(sample):
    kinds = {name.split(" #")[0] for name, *_ in sample if not name.startswith("catalogue")}
    assert kinds == set(KINDS)
    assert len(sample) >= SAMPLE


def test_sample_every_query_answered_with_its_id_and_nothing_else(sample, server):
    """A readable header with QR=0 gets exactly one response, with its ID, QR=1 and its
    opcode, well formed; shorter packets and QR=1 get nothing; FORMERR and NOTIMP for bad
    questions are the header alone; other answers echo the question as asked."""
    failures = failures_of(sample, "presence", "header", "echo")
    assert not failures, report(failures)
    assert server.proc.poll() is None


def test_sample_notimp_for_opcodes_other_than_query_and_notify(sample):
    failures = failures_of(sample, "rcode")
    assert not failures, report(failures)


def test_sample_no_formerr_for_a_wellformed_query(sample):
    failures = failures_of(sample, "formerr-extra")
    assert not failures, report(failures)


def test_sample_formerr_for_every_malformed_query(sample):
    failures = failures_of(sample, "formerr-missing")
    assert not failures, report(failures)


def test_still_answering_after_the_sample(server, blasted):
    before = blasted[0]
    assert server.proc.poll() is None
    assert snapshot(server) == before
    response = server.query(dns.message.make_query("www.example.com", "A"), tcp=True)
    assert [rrset.to_text() for rrset in response.answer] == \
        ["www.example.com. 300 IN A 192.0.2.80"]

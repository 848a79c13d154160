"""The weekly turn of the signatures' window brings no burst of signing (DESIGN §5).

RRSIGs are valid from the Thursday before last to two weeks after the last (PowerDNS's
window): at Thursday 00:00 UTC every signature changes. A server whose signing clock is
moved (FASTDNS_TEST_SIGNING_CLOCK_SKEW, read by the workers) to a few seconds before a turn
answers a steady stream of DO=1 queries for a few hundred names, with the packet cache off,
so that every answer is signed from the signature cache: the signatures in use get their
successors made in the background before the turn, so after it the stream keeps being
answered from the cache: no query waits for a signer, and the answers carry the new
window. (Without the successors, every one of those names would miss the cache after the
turn and wait for a signer: the assertion on ``signature-cache-misses`` is that count.)
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype

from tests._support.servers import Fastdns
from tests.integration.helpers import control
from tests.integration.test_dnssec_load import SCHEMA, util

ZONE = "turn.test"
NAMES = 300
WEEK = 604800
LEAD = 8                  # seconds between the server's start and the turn


def make_zone(workdir: Path) -> tuple[Path, dict[str, str]]:
    db = workdir / "zones.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')", (ZONE,))
    rows = [(1, ZONE, "SOA", f"ns1.{ZONE} hostmaster.{ZONE} 1 7200 3600 1209600 300"),
            (1, ZONE, "NS", f"ns1.{ZONE}"), (1, f"ns1.{ZONE}", "A", "192.0.2.1")]
    rows += [(1, f"h{i}.{ZONE}", "A", f"198.51.100.{i % 250}") for i in range(NAMES)]
    conn.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio, "
                     "disabled, auth) VALUES (?, ?, ?, ?, 300, 0, 0, 1)", rows)
    conn.commit()
    conn.close()
    settings = {"launch": "gsqlite3", "gsqlite3-database": str(db), "gsqlite3-dnssec": "yes",
                "cache-ttl": "0", "negquery-cache-ttl": "0", "signing-threads": "1"}
    conf = workdir / "util-conf"
    conf.mkdir()
    (conf / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    util(conf, "add-zone-key", ZONE, "ksk", "active", "ecdsa256")
    return conf, settings


def stream(server: Fastdns, seconds: float) -> list[dns.message.Message]:
    """Ask for every name, again and again, for ``seconds``; the last round's answers."""
    end = time.monotonic() + seconds
    answers: list[dns.message.Message] = []
    while True:
        answers = []
        for i in range(NAMES):
            query = dns.message.make_query(f"h{i}.{ZONE}.", "A", want_dnssec=True)
            answers.append(dns.query.udp(query, server.address, port=server.port, timeout=3))
        if time.monotonic() >= end:
            return answers


def statistics(server: Fastdns) -> dict[str, int]:
    names = ("signatures", "signature-cache-misses", "parked-queries")
    return {name: int(control(server, "show", name, client="fastdns").stdout)
            for name in names}


def windows(answers: list[dns.message.Message]) -> set[int]:
    return {rrset[0].inception for answer in answers for rrset in answer.answer
            if rrset.rdtype == dns.rdatatype.RRSIG}


def serve(tmp_path: Path, to_turn: int) -> tuple[Fastdns, int]:
    """A server whose signing clock is ``to_turn`` seconds before a weekly turn; the turn
    (as a wall-clock time of the server's)."""
    _, settings = make_zone(tmp_path)
    now = int(time.time())
    turn = (now // WEEK + 1) * WEEK
    skew = turn - to_turn - now
    server = Fastdns(tmp_path / "server", settings)
    server.env = {"FASTDNS_TEST_SIGNING_CLOCK_SKEW": str(skew)}
    return server, turn


def test_the_weekly_turn_is_signed_ahead(tmp_path):
    server, turn = serve(tmp_path, LEAD)
    with server:
        started = time.monotonic()
        before = stream(server, 1.0)                 # fills the cache, this window
        assert windows(before) == {turn - 2 * WEEK}
        key = before[0]
        assert key.flags & dns.flags.AA
        time.sleep(0.5)
        stream(server, 1.0)                          # hits: successors made ahead
        made_ahead = statistics(server)
        assert made_ahead["signatures"] >= 2 * NAMES, made_ahead
        time.sleep(max(0.0, LEAD + 0.5 - (time.monotonic() - started)))
        after = stream(server, 1.0)                  # the turn is past
        counts = statistics(server)
        assert windows(after) == {turn - WEEK}, "answers still carry last week's window"
        # the stream after the turn was answered from the cache: no query waited
        assert counts["signature-cache-misses"] - made_ahead["signature-cache-misses"] \
            <= NAMES // 50, (made_ahead, counts)
        assert counts["parked-queries"] == made_ahead["parked-queries"]
        keys = {dns.name.from_text(f"{ZONE}."): dns.message.from_wire(
            dns.query.tcp(dns.message.make_query(f"{ZONE}.", "DNSKEY", want_dnssec=True),
                          server.address, port=server.port, timeout=3).to_wire()).answer[0]}
        for answer in after[:20]:
            dns.dnssec.validate(answer.answer[0], answer.answer[1], keys,
                                now=turn - WEEK + 3600)


def test_a_loaded_zone_is_signed_ahead_of_its_queries(tmp_path):
    """After its load, a signed zone's RRsets and NSEC records are signed in the
    background (worker 0, at a bounded rate): once that is done, the first DO=1 query for
    each name is answered from the signature cache, none waits for a signer; and the zone
    was served at once, before any of that finished."""
    _, settings = make_zone(tmp_path)
    server = Fastdns(tmp_path / "server", settings)
    with server:
        first = dns.query.udp(dns.message.make_query(f"h1.{ZONE}.", "A"), server.address,
                              port=server.port, timeout=3)
        assert first.answer, "served at once, unsigned answers need no signature"
        deadline = time.monotonic() + 20
        # every name's A and NSEC, and the apex's SOA, NS, DNSKEY, NSEC: one key
        expected = 2 * (NAMES + 1) + 4
        while statistics(server)["signatures"] < expected:
            assert time.monotonic() < deadline, statistics(server)
            time.sleep(0.2)
        before = statistics(server)
        answers = stream(server, 0.0)
        after = statistics(server)
        assert all(any(r.rdtype == dns.rdatatype.RRSIG for r in a.answer) for a in answers)
        assert after["signature-cache-misses"] == before["signature-cache-misses"], after
        assert after["parked-queries"] == before["parked-queries"]


def test_zones_from_the_image_cache_are_signed_ahead_too(tmp_path):
    """A restart serves the signed zone from the persisted image cache (no compile), and
    still signs it ahead: the signature cache (shared memory) starts empty."""
    _, settings = make_zone(tmp_path)
    expected = 2 * (NAMES + 1) + 4
    for run in (1, 2):
        server = Fastdns(tmp_path / f"server{run}", settings)
        with server:
            deadline = time.monotonic() + 20
            while statistics(server)["signatures"] < expected:
                assert time.monotonic() < deadline, (run, statistics(server))
                time.sleep(0.2)
            log = server.log()
        if run == 2:
            assert "1 of them from the image cache" in log, log[-2000:]

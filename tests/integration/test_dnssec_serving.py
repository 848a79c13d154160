"""Serving signed answers through real processes (DESIGN §2, §3, §5; issue 13).

fastdns on 127.0.0.1 serves an SQLite database (``gsqlite3-dnssec=yes``) whose zones were
secured with ``fastdns-util`` (``secure-zone``, ``add-zone-key``, ``set-nsec3 ... narrow``,
``set-publish-cds``...), and real clients (dnspython, ``dnsperf``) ask it with DO=1:

- truncation keeps signed RRsets whole over UDP, and TCP carries the whole answer;
- the packet cache serves signed answers, DO=0 and DO=1 apart;
- a signer killed with SIGKILL is respawned and signs again, no worker dies;
- a stopped signer costs the queries that need a fresh signature a SERVFAIL at their
  deadline, never the worker's loop: DO=0 and cached answers stay immediate;
- a random-name flood against a narrow NSEC3 zone is answered (or SERVFAILed) query by query;
- bad keys and contradictory metadata: SERVFAIL for DO=1, answers for DO=0, one log line;
- CDS/CDNSKEY (RFC 8078 delete included), and a ZSK rollover.

Every RRSIG served is checked with dnspython's ``dns.dnssec`` against the zone's DNSKEY.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import signal
import socket
import sqlite3
import string
import subprocess
import threading
import time
from pathlib import Path

import dns.dnssec
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from fastdns.control.protocol import send_command
from tests._support.servers import Fastdns, require
from tests.integration.helpers import statistics, wait_until

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text()

#: a TXT RRset that fits 512 octets without its RRSIG, not with it (about 420 octets)
BIG = " ".join(f'"{c * 100}"' for c in "abcd")
#: one that fits 1232 octets without its RRSIG, not with it (about 1130 octets)
HUGE = " ".join(f'"{c * 100}"' for c in "abcdefghijk")


def zone_text(zone: str) -> str:
    return (f"$ORIGIN {zone}.\n$TTL 300\n"
            "@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
            "@ IN NS ns1\n"
            "ns1 IN A 192.0.2.1\n"
            "www IN A 192.0.2.2\n"
            "www IN AAAA 2001:db8::2\n"
            "mail IN MX 10 www\n"
            f"big IN TXT {BIG}\n"
            f"huge IN TXT {HUGE}\n")


#: every zone of the database
GOOD = ("sig.test", "narrow.test", "cds.test", "roll.test", "plain.test")
BAD = ("badalg.test", "nopriv.test", "badb64.test", "presig3.test")


def util(conf: Path, *args: str) -> str:
    """fastdns-util (the main() that ``python3 -m fastdns.cli.util`` runs), in this
    process: a second each saved on a dozen commands."""
    from fastdns.cli.util import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([f"--config-dir={conf}", *args])
    assert code == 0, (args, out.getvalue(), err.getvalue())
    return out.getvalue()


def sql(db: Path, statement: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        with conn:
            return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


def key_content(db: Path, zone: str) -> str:
    ((content,),) = sql(db, "SELECT k.content FROM cryptokeys k JOIN domains d ON "
                        "d.id = k.domain_id WHERE d.name = ? ORDER BY k.id LIMIT 1", (zone,))
    return content


def raw_key(db: Path, zone: str, content: str, flags: int = 257) -> None:
    """A cryptokeys row written by hand (what another tool, or a mistake, leaves there)."""
    sql(db, "INSERT INTO cryptokeys (domain_id, flags, active, published, content) "
        "SELECT id, ?, 1, 1, ? FROM domains WHERE name = ?", (flags, content, zone))


def build_database(base: Path, conf: Path, db: Path) -> None:
    """The zones, secured as an operator does it."""
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA)
    conn.close()
    for zone in GOOD + BAD:
        path = base / f"{zone}.zone"
        path.write_text(zone_text(zone))
        util(conf, "load-zone", zone, str(path))
    util(conf, "secure-zone", "sig.test")                        # one ECDSA CSK, NSEC
    for zone in ("narrow.test", "cds.test", "roll.test"):        # KSK + ZSK
        util(conf, "add-zone-key", zone, "ksk", "active", "ecdsa256")
        util(conf, "add-zone-key", zone, "zsk", "active", "ecdsa256")
    util(conf, "set-nsec3", "narrow.test", "1 0 0 -", "narrow")
    # the bad ones
    util(conf, "secure-zone", "badalg.test")
    good = key_content(db, "badalg.test")
    sql(db, "DELETE FROM cryptokeys WHERE domain_id = (SELECT id FROM domains WHERE "
        "name = 'badalg.test')")
    raw_key(db, "badalg.test", good.replace("Algorithm: 13 (ECDSAP256SHA256)",
                                            "Algorithm: 99 (UNKNOWN)"))
    raw_key(db, "nopriv.test", "".join(line + "\n" for line in good.splitlines()
                                       if not line.startswith("PrivateKey")))
    private = re.search(r"PrivateKey: (\S+)", good).group(1)
    raw_key(db, "badb64.test", good.replace(private, private[:-3]))   # cut: bad padding
    util(conf, "secure-zone", "presig3.test")
    util(conf, "set-nsec3", "presig3.test", "1 0 0 -")
    util(conf, "rectify-all-zones")
    util(conf, "set-presigned", "presig3.test")     # (a presigned zone is not rectified)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """One server for all but the stopped-signer case: two workers, two signers."""
    base = tmp_path_factory.mktemp("dnssec-serving")
    db = base / "pdns.sqlite3"
    settings = {"launch": "gsqlite3", "gsqlite3-database": str(db), "gsqlite3-dnssec": "yes",
                "zone-check-interval": "1", "workers": "2", "signing-threads": "2"}
    server = Fastdns(base / "srv", settings)
    build_database(base, server.confdir, db)
    with server:
        server.wait_workers(2)
        yield server, db, base, settings
        code = server.stop()
    assert code == 0, server.log()


# --------------------------------------------------------------------------------------------
# clients and validation


def ask(server: Fastdns, qname: str, rdtype: str = "A", *, do: bool = True, tcp: bool = False,
        payload: int = 1232, timeout: float = 5.0, sock: socket.socket | None = None
        ) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=do, use_edns=0, payload=payload)
    if tcp:
        return dns.query.tcp(query, server.address, port=server.port, timeout=timeout)
    return dns.query.udp(query, server.address, port=server.port, timeout=timeout, sock=sock,
                         ignore_trailing=True, raise_on_truncation=False)


def keys_of(server: Fastdns, zone: str) -> dict:
    answer = ask(server, f"{zone}.", "DNSKEY", tcp=True)
    name = dns.name.from_text(zone)
    return {name: answer.find_rrset(answer.answer, name, dns.rdataclass.IN,
                                    dns.rdatatype.DNSKEY)}


def key_tags(keys: dict, flags: int | None = None) -> set[int]:
    (rrset,) = keys.values()
    return {dns.dnssec.key_id(key) for key in rrset if flags is None or key.flags == flags}


def sig_tags(message: dns.message.Message, rdtype: str, section: str = "answer") -> set[int]:
    covered = dns.rdatatype.from_text(rdtype)
    return {sig.key_tag for rrset in getattr(message, section)
            if rrset.rdtype == dns.rdatatype.RRSIG and rrset.covers == covered for sig in rrset}


def problems(message: dns.message.Message, keys: dict) -> list[str]:
    """What is wrong with a signed answer: an RRset of the answer or authority section
    without RRSIG, or an RRSIG that does not validate (each checked alone)."""
    out = []
    (apex,) = keys
    for section in (message.answer, message.authority):
        for rrset in section:
            if rrset.rdtype in (dns.rdatatype.RRSIG, dns.rdatatype.OPT):
                continue
            if rrset.rdtype == dns.rdatatype.NS and rrset.name != apex:
                continue                              # a referral's NS
            sigs = [s for s in section if s.rdtype == dns.rdatatype.RRSIG
                    and s.name == rrset.name and s.covers == rrset.rdtype]
            if not sigs:
                out.append(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} unsigned")
            for sig in (sig for s in sigs for sig in s):
                try:
                    dns.dnssec.validate_rrsig(rrset, sig, keys)
                except dns.dnssec.ValidationFailure as exc:
                    out.append(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} key "
                               f"{sig.key_tag}: {exc}")
    return out


def has_rrsig(message: dns.message.Message) -> bool:
    return any(rrset.rdtype == dns.rdatatype.RRSIG
               for rrset in message.answer + message.authority + message.additional)


def fresh(zone: str = "narrow.test") -> str:
    """A name never asked before (each needs fresh NSEC3 signatures in a narrow zone)."""
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=16)) + f".{zone}."


def counters(server: Fastdns) -> dict[str, int]:
    return statistics(server)


def show(server: Fastdns, name: str) -> str:
    """``show NAME`` over the control socket (fastdns-control), its reply."""
    reply = send_command(["show", name], unix_path=str(server.control_socket))
    return reply.text.strip()


def signers(server: Fastdns) -> dict[str, int]:
    """title -> pid of the signers."""
    return {title: pid for pid, title in server.children().items() if "signer" in title}


# --------------------------------------------------------------------------------------------
# 1. truncation


@pytest.mark.parametrize(("name", "payload"), [("big", 512), ("huge", 1232)])
def test_truncation_keeps_signed_rrsets_whole(site, name, payload):
    """An RRset that fits the client's buffer without its RRSIG, not with it: TC=1 over UDP
    and no RRset without its RRSIGs; over TCP the whole answer, validating."""
    server, *_ = site
    keys = keys_of(server, "sig.test")
    qname = f"{name}.sig.test."
    plain = ask(server, qname, "TXT", do=False, payload=payload)
    assert not plain.flags & dns.flags.TC and len(plain.answer) == 1, plain   # it does fit
    wire = dns.query.udp(dns.message.make_query(qname, "TXT", want_dnssec=True,
                                                payload=payload),
                         server.address, port=server.port, timeout=5, ignore_trailing=True,
                         raise_on_truncation=False)
    assert wire.flags & dns.flags.TC, f"no TC with a {payload}-octet buffer:\n{wire}"
    assert len(wire.to_wire()) <= payload
    for section in (wire.answer, wire.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.RRSIG:
                assert any(r.name == rrset.name and r.rdtype == rrset.covers for r in section)
            if rrset.rdtype == dns.rdatatype.TXT:           # never part of the RRset
                assert len(rrset) == len(plain.answer[0]), wire
    assert not problems(wire, keys), (problems(wire, keys), wire)
    full = ask(server, qname, "TXT", tcp=True)
    assert not full.flags & dns.flags.TC
    assert [len(rrset) for rrset in full.answer if rrset.rdtype == dns.rdatatype.TXT] == \
        [len(plain.answer[0])]
    assert sig_tags(full, "TXT") == key_tags(keys)
    assert not problems(full, keys), problems(full, keys)
    # a buffer of 4096: UDP answers stop at udp-truncation-threshold (1232, as PowerDNS),
    # so the 512-octet case comes whole, the 1232 one truncated whole again
    roomy = ask(server, qname, "TXT", payload=4096)
    assert bool(roomy.flags & dns.flags.TC) == (payload == 1232), roomy
    assert not problems(roomy, keys) and len(roomy.to_wire()) <= 1232


# --------------------------------------------------------------------------------------------
# 2. the packet cache


def test_packet_cache_serves_signed_answers_do_apart(site):
    """The same DO=1 query again from one socket (so one worker's cache): a packet-cache
    hit, the same octets, still validating; DO=0 is cached apart and has no RRSIG."""
    server, *_ = site
    keys = keys_of(server, "sig.test")
    qname = "mail.sig.test."
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))

        def raw(do: bool) -> bytes:
            query = dns.message.make_query(qname, "MX", want_dnssec=do, payload=1232)
            query.id = 4242
            sock.sendto(query.to_wire(), (server.address, server.port))
            sock.settimeout(5)
            return sock.recvfrom(65535)[0]

        # the packet cache admits an answer the second time it is asked for (DESIGN §3:
        # "admitted entries"; a random-name flood must not evict the useful ones), signed
        # or not: the third query is the hit
        first = raw(True)
        assert raw(True) == first
        hits = counters(server)["packetcache-hit"]
        second = raw(True)
        after = counters(server)["packetcache-hit"]
        assert after == hits + 1, (hits, after)
        assert second == first
        signed = dns.message.from_wire(second)
        assert signed.rcode() == dns.rcode.NOERROR and sig_tags(signed, "MX")
        assert not problems(signed, keys), problems(signed, keys)

        unsigned = raw(False)
        assert raw(False) == unsigned
        assert counters(server)["packetcache-hit"] == after  # not DO=1's entry
        assert raw(False) == unsigned
        assert counters(server)["packetcache-hit"] == after + 1
        message = dns.message.from_wire(unsigned)
        assert message.rcode() == dns.rcode.NOERROR and message.answer, message
        assert not has_rrsig(message), message
        third = raw(True)
        assert counters(server)["packetcache-hit"] == after + 2
        assert third == first                        # DO=1 still its own entry


# --------------------------------------------------------------------------------------------
# 5. a random-name flood (before 3: the signers have counted thousands when one is killed)


def test_random_name_flood_on_a_narrow_zone(site, tmp_path):
    """3000 DO=1 queries for random names in a narrow NSEC3 zone, as fast as dnsperf sends
    them (100 outstanding): every one answered (NXDOMAIN, or SERVFAIL for a missed
    deadline), the signatures counted, no worker replaced."""
    server, *_ = site
    dnsperf = require("dnsperf")
    workers = server.workers()
    before = counters(server)
    names = tmp_path / "queries.txt"
    names.write_text("".join(f"{fresh()} A\n" for _ in range(3000)))
    # -b: dnsperf's own socket buffer (2 MB: 100 answers of ~760 octets come in bursts of
    # sendmmsg; with the default buffer a few are dropped on the client's side)
    result = subprocess.run([dnsperf, "-s", server.address, "-p", str(server.port),
                             "-d", str(names), "-D", "-n", "1", "-l", "30", "-t", "5",
                             "-b", "2048"],
                            capture_output=True, text=True, timeout=60)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
    completed = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
    lost = int(re.search(r"Queries lost:\s+(\d+)", out).group(1))
    codes = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+) \(", out.split(
        "Response codes:", 1)[1].splitlines()[0]))
    after = counters(server)
    # the server took every query and answered every one (its own counters) ...
    assert after["udp-queries"] - before["udp-queries"] == 3000, (before, after)
    assert after["udp-answers"] - before["udp-answers"] == 3000, (before, after)
    # ... and dnsperf got them, but for what the kernel dropped (host-wide counter: on a
    # loaded host another program's drops count too)
    dropped = after["udp-recvbuf-errors"] - before["udp-recvbuf-errors"]
    assert sent == 3000 and completed + lost == 3000 and lost <= dropped, (dropped, out)
    assert set(codes) <= {"NXDOMAIN", "SERVFAIL"}, out
    assert after["signatures"] - before["signatures"] >= codes.get("NXDOMAIN", 0), \
        (before["signatures"], after["signatures"], out)
    assert codes.get("NXDOMAIN", 0) > 0, out
    assert server.workers() == workers
    assert "internal error" not in server.log() and "Traceback" not in server.log()
    keys = keys_of(server, "narrow.test")
    answer = ask(server, fresh())
    assert answer.rcode() == dns.rcode.NXDOMAIN and not problems(answer, keys)
    print(out)


# --------------------------------------------------------------------------------------------
# 3. a signer killed


class Stream(threading.Thread):
    """DO=1 queries for fresh names, one after another, until stopped: (rcode or None)."""

    def __init__(self, server: Fastdns) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.results: list[int | None] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.results.append(ask(self.server, fresh(), timeout=3).rcode())
            except dns.exception.Timeout:
                self.results.append(None)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def test_killed_signer_is_respawned_and_signs(site):
    server, *_ = site
    keys = keys_of(server, "narrow.test")
    workers = server.workers()
    before = signers(server)
    assert sorted(before) == ["fastdns: signer 0", "fastdns: signer 1"], before
    stream = Stream(server)
    stream.start()
    try:
        time.sleep(0.3)
        signed_before = counters(server)["signatures"]
        os.kill(before["fastdns: signer 1"], signal.SIGKILL)
        respawned = wait_until(
            lambda: (pid := signers(server).get("fastdns: signer 1")) and
            pid != before["fastdns: signer 1"] and pid, timeout=5, what="signer 1 respawned")
        time.sleep(0.5)
    finally:
        stream.stop()
    assert stream.results and None not in stream.results, stream.results
    assert respawned != before["fastdns: signer 1"]
    assert signers(server)["fastdns: signer 0"] == before["fastdns: signer 0"]
    # fresh names, after the respawn: every answer signed and validating (both signers,
    # round robin)
    failures = []
    for _ in range(20):
        answer = ask(server, fresh())
        if answer.rcode() != dns.rcode.NXDOMAIN:
            failures.append(f"{answer.question[0].name}: {dns.rcode.to_text(answer.rcode())}")
        failures += problems(answer, keys)
    assert not failures, "\n".join(failures) + "\n" + server.log()[-3000:]
    assert server.workers() == workers
    # `signatures` counts on across a respawn, as a worker's counters do (PowerDNS's
    # counters never go back): the flood before made it thousands, half of them signer 1's
    signed_after = counters(server)["signatures"]
    assert signed_after >= signed_before + 20, \
        f"signatures went from {signed_before} to {signed_after} when signer 1 was respawned"


# --------------------------------------------------------------------------------------------
# 4. a stopped signer


def test_stopped_signer_never_blocks_a_worker(site, tmp_path):
    """One signer, SIGSTOPped (the heartbeat limit is long, so the master leaves it
    stopped): queries needing a fresh signature get SERVFAIL at their deadline (2 s), while
    DO=0 queries and answers whose signatures are cached come at once; SIGCONT, and fresh
    queries are signed again; the late requests are counted."""
    _, _, _, settings = site
    server = Fastdns(tmp_path, {**settings, "workers": "1", "signing-threads": "1",
                                "heartbeat-timeout": "60"})
    with server:
        keys = keys_of(server, "narrow.test")
        warm = ask(server, "www.narrow.test.")
        assert not problems(warm, keys) and sig_tags(warm, "A")
        ask(server, "nothere.narrow.test.")
        (signer,) = signers(server).values()
        start = counters(server)
        own = ("parked-timeouts", "signing-deadline-losses", "signature-cache-misses")
        own_start = {name: show(server, name) for name in own}
        os.kill(signer, signal.SIGSTOP)
        try:
            slow: list[tuple[float, int]] = []

            def one_fresh() -> None:
                began = time.monotonic()
                answer = ask(server, fresh(), timeout=6)
                slow.append((time.monotonic() - began, answer.rcode()))

            threads = [threading.Thread(target=one_fresh) for _ in range(5)]
            for thread in threads:
                thread.start()
            time.sleep(0.2)                           # they are parked now
            fast = []
            for _ in range(10):
                for qname, do in ((fresh(), False), ("www.narrow.test.", True),
                                  ("nothere.narrow.test.", True), ("www.sig.test.", False)):
                    began = time.monotonic()
                    answer = ask(server, qname, do=do, timeout=2)
                    fast.append((time.monotonic() - began, qname, do,
                                 dns.rcode.to_text(answer.rcode()), has_rrsig(answer)))
            for thread in threads:
                thread.join(10)
            middle = counters(server)
            own_middle = {name: show(server, name) for name in own}
        finally:
            os.kill(signer, signal.SIGCONT)
        assert len(slow) == 5 and all(rcode == dns.rcode.SERVFAIL for _, rcode in slow), slow
        assert all(1.5 <= took <= 3.0 for took, _ in slow), slow
        assert all(took < 0.1 for took, *_ in fast), [f for f in fast if f[0] >= 0.1]
        assert all(rcode in ("NOERROR", "NXDOMAIN") for _, _, _, rcode, _ in fast), fast
        assert all(signed == do for _, _, do, _, signed in fast), fast
        # each SERVFAIL counted as one (parked-timeouts itself is no metric of `show *`)
        assert middle["servfail-packets"] - start["servfail-packets"] >= 5, (start, middle)
        assert middle["signatures"] == start["signatures"]
        failures = []
        for _ in range(5):
            answer = ask(server, fresh())
            if answer.rcode() != dns.rcode.NXDOMAIN:
                failures.append(dns.rcode.to_text(answer.rcode()))
            failures += problems(answer, keys)
        assert not failures, failures
        assert signers(server) == {"fastdns: signer 0": signer}
        # the counters of DESIGN §5 / issue 13 ("a request that misses its deadline becomes
        # SERVFAIL and a counter"), fastdns's own, asked for by name (`show NAME`): the
        # parked queries timed out while the signer was stopped, the signer running again
        # found their requests late (not signed, counted)
        assert all(v.isdigit() for v in [*own_start.values(), *own_middle.values()]), \
            (own_start, own_middle)
        assert int(own_middle["parked-timeouts"]) - int(own_start["parked-timeouts"]) >= 5, \
            (own_start, own_middle)
        assert int(own_middle["signature-cache-misses"]) - \
            int(own_start["signature-cache-misses"]) >= 5, (own_start, own_middle)
        wait_until(lambda: int(show(server, "signing-deadline-losses")) -
                   int(own_start["signing-deadline-losses"]) >= 5, timeout=3,
                   what="the late requests counted in signing-deadline-losses")
        code = server.stop()
    assert code == 0, server.log()


# --------------------------------------------------------------------------------------------
# 6. bad keys and contradictory metadata


@pytest.mark.parametrize(("zone", "cause"), [
    ("badalg.test", r"algorithm 99"),
    ("nopriv.test", r"(?i)private ?key"),
    ("badb64.test", r"(?i)base64|PrivateKey|corrupt|invalid"),
    ("presig3.test", r"(?=.*PRESIGNED)(?=.*NSEC3)"),
])
def test_bad_dnssec_input_disables_signing_of_that_zone_only(site, zone, cause):
    server, *_ = site
    started = time.monotonic()
    signed = ask(server, f"www.{zone}.")
    assert signed.rcode() == dns.rcode.SERVFAIL, \
        f"DO=1 answered {dns.rcode.to_text(signed.rcode())} (docs/dnssec.md: SERVFAIL):\n{signed}"
    assert time.monotonic() - started < 1.0
    plain = ask(server, f"www.{zone}.", do=False)
    assert plain.rcode() == dns.rcode.NOERROR, plain
    assert [rd.to_text() for rrset in plain.answer for rd in rrset] == ["192.0.2.2"]
    lines = [line for line in server.log().splitlines()
             if f"'{zone}'" in line and "DNSSEC" in line]
    assert len(lines) == 1, "\n".join(lines) or server.log()[-3000:]
    assert re.search(cause, lines[0]), lines[0]
    assert lines[0].endswith("queries with DO=1 get SERVFAIL"), lines[0]
    # the others, unaffected
    keys = keys_of(server, "sig.test")
    good = ask(server, "www.sig.test.")
    assert good.rcode() == dns.rcode.NOERROR and sig_tags(good, "A") and \
        not problems(good, keys)
    other = ask(server, "www.plain.test.")
    assert other.rcode() == dns.rcode.NOERROR and not has_rrsig(other)


# --------------------------------------------------------------------------------------------
# 7. CDS and CDNSKEY


def test_cds_and_cdnskey(site):
    server, *_ = site
    conf = server.confdir
    zone = "cds.test"
    assert not ask(server, zone + ".", "CDS").answer
    util(conf, "set-publish-cds", zone)
    util(conf, "set-publish-cdnskey", zone)
    wait_until(lambda: ask(server, zone + ".", "CDS").answer and
               ask(server, zone + ".", "CDNSKEY").answer, timeout=6, what="CDS and CDNSKEY")
    keys = keys_of(server, zone)
    (ksk,) = key_tags(keys, 257)
    (dnskeys,) = keys.values()
    for rdtype in ("CDS", "CDNSKEY"):
        answer = ask(server, zone + ".", rdtype)
        assert sig_tags(answer, rdtype) == {ksk}, answer
        assert not problems(answer, keys), problems(answer, keys)
    cdnskey = ask(server, zone + ".", "CDNSKEY").answer[0]
    assert {rd.to_text() for rd in cdnskey} == \
        {rd.to_text() for rd in dnskeys if rd.flags == 257}
    cds = ask(server, zone + ".", "CDS").answer[0]
    (ksk_key,) = [rd for rd in dnskeys if rd.flags == 257]
    assert {rd.to_text() for rd in cds} == \
        {dns.dnssec.make_ds(zone + ".", ksk_key, "SHA256").to_text()}

    util(conf, "set-publish-cdnskey", zone, "delete")
    wait_until(lambda: {rd.to_text() for rrset in ask(server, zone + ".", "CDNSKEY").answer
                        if rrset.rdtype == dns.rdatatype.CDNSKEY for rd in rrset}
               == {"0 3 0 AA=="}, timeout=6, what="the RFC 8078 delete CDNSKEY")
    answer = ask(server, zone + ".", "CDNSKEY")
    assert sig_tags(answer, "CDNSKEY") == {ksk}
    assert not problems(answer, keys_of(server, zone)), problems(answer, keys)
    # the CDS stays as PUBLISH-CDS says (PowerDNS too) until it asks for the delete record
    assert {rd.to_text() for rd in ask(server, zone + ".", "CDS").answer[0]} == \
        {dns.dnssec.make_ds(zone + ".", ksk_key, "SHA256").to_text()}
    util(conf, "set-publish-cds", zone, "0")
    wait_until(lambda: {rd.to_text() for rrset in ask(server, zone + ".", "CDS").answer
                        if rrset.rdtype == dns.rdatatype.CDS for rd in rrset}
               == {"0 0 0 00"}, timeout=6, what="the RFC 8078 delete CDS")
    answer = ask(server, zone + ".", "CDS")
    assert sig_tags(answer, "CDS") == {ksk}
    assert not problems(answer, keys_of(server, zone)), problems(answer, keys)


# --------------------------------------------------------------------------------------------
# 8. a ZSK rollover


def test_zsk_rollover(site):
    server, db, _, _ = site
    conf = server.confdir
    zone = "roll.test"
    keys = keys_of(server, zone)
    (old,) = key_tags(keys, 256)
    (ksk,) = key_tags(keys, 257)
    assert sig_tags(ask(server, f"www.{zone}."), "A") == {old}

    new_id = util(conf, "add-zone-key", zone, "zsk", "inactive", "ecdsa256").split()[0]
    wait_until(lambda: len(key_tags(keys_of(server, zone))) == 3, timeout=6,
               what="the new DNSKEY")
    keys = keys_of(server, zone)
    (new,) = key_tags(keys, 256) - {old}
    for qname, rdtype in ((f"www.{zone}.", "A"), (f"mail.{zone}.", "MX")):
        answer = ask(server, qname, rdtype)
        assert sig_tags(answer, rdtype) == {old}, answer
        assert not problems(answer, keys)
    assert sig_tags(ask(server, zone + ".", "DNSKEY"), "DNSKEY") == {ksk}

    util(conf, "activate-zone-key", zone, new_id)
    wait_until(lambda: sig_tags(ask(server, f"www.{zone}."), "A") == {old, new}, timeout=6,
               what="RRSIGs by both ZSKs")
    for qname, rdtype in ((f"www.{zone}.", "A"), (f"mail.{zone}.", "MX"),
                          (f"nx.{zone}.", "A"), (f"www.{zone}.", "TXT")):
        answer = ask(server, qname, rdtype)
        assert not problems(answer, keys), (qname, rdtype, problems(answer, keys))
        for section in ("answer", "authority"):
            for rrset in getattr(answer, section):
                if rrset.rdtype not in (dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY):
                    assert sig_tags(answer, dns.rdatatype.to_text(rrset.rdtype), section) \
                        == {old, new}, (qname, rdtype, answer)

    (old_id,) = [str(i) for (i,) in sql(
        db, "SELECT k.id FROM cryptokeys k JOIN domains d ON d.id = k.domain_id "
        "WHERE d.name = ? AND k.flags = 256 AND k.id != ?", (zone, int(new_id)))]
    util(conf, "deactivate-zone-key", zone, old_id)
    wait_until(lambda: sig_tags(ask(server, f"www.{zone}."), "A") == {new}, timeout=6,
               what="RRSIGs by the new ZSK only")
    answer = ask(server, f"mail.{zone}.", "MX")
    assert sig_tags(answer, "MX") == {new}
    assert not problems(answer, keys_of(server, zone))


# --------------------------------------------------------------------------------------------
# 9. keys active but not published (an algorithm rollover's first step)


def validates(message: dns.message.Message, keys: dict) -> list[str]:
    """What a validator holding only the published ``keys`` would reject: an RRset of the
    answer or authority section (a referral's NS aside) that no RRSIG of it validates
    (``dns.dnssec.validate``: one good RRSIG is enough), or an algorithm of the DNSKEY
    RRset with no RRSIG of it over the RRset (RFC 4035 §2.2)."""
    out = []
    ((apex, dnskeys),) = keys.items()
    algorithms = {key.algorithm for key in dnskeys}
    for section in (message.answer, message.authority):
        for rrset in section:
            if rrset.rdtype == dns.rdatatype.RRSIG or (
                    rrset.rdtype == dns.rdatatype.NS and rrset.name != apex):
                continue
            what = f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
            sigs = [s for s in section if s.rdtype == dns.rdatatype.RRSIG
                    and s.name == rrset.name and s.covers == rrset.rdtype]
            if not sigs:
                out.append(f"{what} unsigned")
                continue
            try:
                dns.dnssec.validate(rrset, sigs[0], keys)
            except dns.dnssec.ValidationFailure as exc:
                out.append(f"{what}: {exc}")
            missing = algorithms - {sig.algorithm for sig in sigs[0]}
            if missing:
                out.append(f"{what}: no RRSIG of algorithm {sorted(missing)}")
    return out


@pytest.mark.parametrize(("zone", "steps"), [
    # PowerDNS 4.7 as observed: a CSK, and an active unpublished ZSK of another algorithm
    # (the only key of its algorithm, so it signs every RRset, DNSKEY included)
    ("algroll.test", (("secure-zone",), ("add-zone-key", "zsk", "active", "unpublished",
                                         "rsasha256", "1024"))),
    # a KSK and an active unpublished ZSK of its algorithm: PowerDNS signs all but the
    # DNSKEY RRset with the ZSK alone (no validator can use it); fastdns's KSK signs
    # everything then, as if the ZSK were not there (differences.md S8)
    ("unpubzsk.test", (("add-zone-key", "ksk", "active", "ecdsa256"),
                       ("add-zone-key", "zsk", "active", "unpublished", "ecdsa256"))),
])
def test_an_active_unpublished_key_signs_and_the_answers_validate(site, zone, steps):
    server, db, base, _ = site
    conf = server.confdir
    path = base / f"{zone}.zone"
    path.write_text(zone_text(zone))
    util(conf, "load-zone", zone, str(path))
    for step in steps:
        util(conf, step[0], zone, *step[1:])
    util(conf, "set-publish-cds", zone)
    util(conf, "rectify-zone", zone)
    rows = sql(db, "SELECT k.published, k.content FROM cryptokeys k JOIN domains d ON "
               "d.id = k.domain_id WHERE d.name = ? ORDER BY k.id", (zone,))
    assert [published for published, _ in rows] == [1, 0]
    wait_until(lambda: ask(server, zone + ".", "CDS").answer, timeout=6, what="the zone, signed")
    keys = keys_of(server, zone)
    (published,) = key_tags(keys)            # the DNSKEY RRset: the published key alone
    signers_ = sig_tags(ask(server, zone + ".", "DNSKEY"), "DNSKEY")
    assert published in signers_ and len(signers_) == 2, signers_
    (unpublished,) = signers_ - {published}
    for qname, rdtype in ((zone + ".", "DNSKEY"), (zone + ".", "CDS"), (zone + ".", "SOA"),
                          (f"www.{zone}.", "A"), (f"mail.{zone}.", "MX"),
                          (f"nx.{zone}.", "A"), (f"www.{zone}.", "TXT")):
        started = time.monotonic()
        answer = ask(server, qname, rdtype, timeout=3)
        assert time.monotonic() - started < 1.0, (qname, rdtype)
        assert answer.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN), answer
        assert not validates(answer, keys), (qname, rdtype, validates(answer, keys))
        # both keys sign every RRset: the published one for validators, the unpublished
        # one ahead of its DNSKEY (as PowerDNS)
        for section in ("answer", "authority"):
            for rrset in getattr(answer, section):
                if rrset.rdtype != dns.rdatatype.RRSIG:
                    covered = dns.rdatatype.to_text(rrset.rdtype)
                    assert sig_tags(answer, covered, section) == {published, unpublished}, \
                        (qname, rdtype, answer)
    assert f"no active key: zone {zone}" not in server.log()

"""Tens of thousands of small zones in SQL (PowerDNS's schema), served by real processes:
the server answers while it loads (every answer right, a query for a pending zone waits
for it and its worker asks for it ahead of the scan), ``rping`` says LOADING until the
last zone is in, a broken zone and a zone without SOA cost one log line each and nothing
to the others (SQLite and PostgreSQL), zone data is not copied per worker (PSS with 1 and
4 workers), ``list-zones`` is quick, zones added and removed in the database come and go,
and a manager that stops during the load turns a waiting query into SERVFAIL after the
parking deadline (2 s), not a hang.

One SQLite database of N zones serves most tests (module fixture); each test that watches
the load starts its own server without waiting for it (``launch``).
"""

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from bench.host import memory_mb, process_tree
from fastdns.backends.sqlbase import schema_sql
from fastdns.control.protocol import send_command
from tests._support.servers import ROOT, Fastdns, ServerProcess
from tests._support.sqldb import PG, TempDatabase
from tests.integration.helpers import rrs, statistics, stop_process, wait_until

#: zones in the shared database (ids 1..N, loaded in id order by the scan); on this 2-core
#: machine the load takes 5-7 s
N = 40_000
#: a zone whose SOA row is garbage (SERVFAIL), and one with no SOA row (REFUSED)
BROKEN = N // 3
NOSOA = 2 * N // 3
#: the parking deadline of a query for a pending zone
PARK = 2.0
SUFFIX = "many.example"
NOERROR, NXDOMAIN, SERVFAIL, REFUSED = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN,
                                        dns.rcode.SERVFAIL, dns.rcode.REFUSED)


def zone(i: int) -> str:
    return f"z{i}.{SUFFIX}"


def address(i: int) -> str:
    return f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"


def zone_rows(i: int) -> list[tuple]:
    """(domain_id, name, type, content, ttl, prio) of zone ``i``: eight rows."""
    z = zone(i)
    soa = f"ns1.{z} hostmaster.{z} {i} 10800 3600 604800 300"
    if i == BROKEN:
        soa = "this is no SOA at all"
    rows = [(i, z, "SOA", soa, 300, 0),
            (i, z, "NS", f"ns1.{z}", 300, 0),
            (i, z, "NS", f"ns2.{z}", 300, 0),
            (i, f"ns1.{z}", "A", "192.0.2.53", 300, 0),
            (i, f"www.{z}", "A", address(i), 300, 0),
            (i, f"www.{z}", "AAAA", "2001:db8::1", 300, 0),
            (i, z, "MX", f"mail.{z}", 300, 10),
            (i, z, "TXT", f'"zone {i}"', 300, 0)]
    return rows[1:] if i == NOSOA else rows


def fill_sqlite(path: Path, ids: range) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(schema_sql("sqlite3"))
    conn.execute("PRAGMA synchronous = OFF")
    with conn:
        conn.executemany("INSERT INTO domains (id, name, type) VALUES (?, ?, 'NATIVE')",
                         ((i, zone(i)) for i in ids))
        conn.executemany(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "VALUES (?, ?, ?, ?, ?, ?, 0, 1)", (row for i in ids for row in zone_rows(i)))
    conn.close()


def fill_pgsql(db: TempDatabase, ids: range) -> None:
    import psycopg

    with psycopg.connect(dbname=db.name, **PG) as conn, conn.cursor() as cur:
        with cur.copy("COPY domains (id, name, type) FROM STDIN") as copy:
            copy.write("".join(f"{i}\t{zone(i)}\tNATIVE\n" for i in ids))
        with cur.copy("COPY records (domain_id, name, type, content, ttl, prio, disabled, "
                      "auth) FROM STDIN") as copy:
            copy.write("".join("\t".join(map(str, row)) + "\tf\tt\n"
                               for i in ids for row in zone_rows(i)))
        cur.execute("SELECT setval('domains_id_seq', %s)", (ids[-1],))


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("many") / "zones.sqlite3"
    started = time.monotonic()
    fill_sqlite(path, range(1, N + 1))
    print(f"filled {N} zones in {time.monotonic() - started:.1f}s")
    return path


def settings(path: Path, **more: str) -> dict[str, str]:
    # loglevel 4: warnings and errors (the zone-by-zone info lines would slow the load);
    # no image cache: the tests share one database, and each watches a load from scratch
    # (the cache has tests of its own, test_image_cache.py)
    return {"launch": "gsqlite3", "gsqlite3-database": str(path), "loglevel": "4",
            "workers": "2", "zone-cache-dir": "no", **more}


# --------------------------------------------------------------------------------------------
# Servers that are watched while they load


def launch(workdir: Path, config: dict[str, str]) -> Fastdns:
    """A fastdns started without waiting for its zones: it answers (REFUSED for a name of
    no zone) when this returns; stop it with ``stop()``."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = Fastdns(workdir, config)
    with open(server.logfile, "ab") as out:
        server.proc = subprocess.Popen(server.command(), cwd=server.cwd(), stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ServerProcess.wait_ready(server, 20)      # answering: not the zones
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


def rping(server: Fastdns) -> str:
    return send_command(["rping"], unix_path=str(server.control_socket)).text.strip()


def loading(server: Fastdns) -> tuple[int, int] | None:
    """(zones in, zones listed) while rping says LOADING; None once it says PONG."""
    reply = rping(server)
    if reply == "PONG":
        return None
    match = re.fullmatch(r"LOADING (\d+) of (\d+) zones", reply)
    assert match, reply
    return int(match.group(1)), int(match.group(2))


#: the zones of the shared database that are served, broken or not: the one without SOA is
#: no zone (as PowerDNS: REFUSED), and the garbage SOA is counted either way
LOADED = range(N - 2, N)


def wait_loaded(server: Fastdns, timeout: float = 40.0) -> int:
    """Wait for ``all <n> zones loaded`` in the log; n."""
    found = wait_until(lambda: re.search(r"all (\d+) zones loaded", server.log()), timeout,
                       0.05, what=f"'all N zones loaded'\n{server.log()}")
    return int(found.group(1))


def query(server: Fastdns, qname: str, timeout: float = 4.0) -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(qname, "A"), server.address, port=server.port,
                         timeout=timeout)


def expected(i: int, what: str) -> tuple[int, list[str]]:
    """The right (rcode, A records) for query kind ``what`` of zone number ``i``."""
    if i > N:
        return REFUSED, []              # a name under no zone at all
    if i == BROKEN:
        return SERVFAIL, []
    if i == NOSOA:
        return REFUSED, []
    if what == "www":
        return NOERROR, [address(i)]
    return NXDOMAIN, []


def check_answer(server: Fastdns, i: int, what: str = "www") -> float:
    """Ask for ``what``.z<i>; assert the answer is the right one; the seconds it took."""
    started = time.monotonic()
    answer = query(server, f"{what}.{zone(i)}")
    took = time.monotonic() - started
    rcode, addresses = expected(i, what)
    assert (answer.rcode(), rrs(answer, "A")) == (rcode, addresses), (i, what, answer)
    return took


# --------------------------------------------------------------------------------------------
# 1. Serving during the load


@dataclass
class Asked:
    sent: float
    during_load: bool
    i: int
    what: str
    rcode: int | None           # None: no answer at all
    addresses: list[str]
    took: float


class Asker(threading.Thread):
    """Queries for zones spread over the whole id range (first, middle, last, random),
    an existing name or a missing one, and names under no zone, until stopped."""

    def __init__(self, server: Fastdns, seed: int, state: dict[str, bool]) -> None:
        super().__init__(daemon=True)
        self.server, self.rng, self.state = server, random.Random(seed), state
        self.asked: list[Asked] = []
        self.halt = threading.Event()

    def pick(self, n: int) -> tuple[int, str]:
        i = [1, N // 2, N, BROKEN, NOSOA, N + 1 + self.rng.randrange(1000)][n // 4 % 6] \
            if n % 4 == 0 else self.rng.randint(1, N)
        return i, "www" if self.rng.random() < 0.8 else f"nosuch{n}"

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            i, what = self.pick(n)
            n += 1
            during = self.state["loading"]
            started = time.monotonic()
            try:
                answer = query(self.server, f"{what}.{zone(i)}", timeout=PARK + 2)
                got: tuple[int | None, list[str]] = (answer.rcode(), rrs(answer, "A"))
            except dns.exception.Timeout:
                got = (None, [])
            self.asked.append(Asked(started, during, i, what, *got,
                                    time.monotonic() - started))


def test_serving_during_the_load(database, tmp_path):
    """From its first answer on, with rping saying LOADING: every answer is the right one
    (NOERROR with the zone's address, NXDOMAIN for a missing name, REFUSED only for a
    name under no zone, SERVFAIL for the broken zone), at most 1% SERVFAIL for zones that
    are fine, and no query unanswered; then PONG and ``all N zones loaded``."""
    server = launch(tmp_path, settings(database))
    state = {"loading": True}
    askers = [Asker(server, seed, state) for seed in range(16)]
    started = time.monotonic()
    try:
        for asker in askers:
            asker.start()
        states = []
        while (now := loading(server)) is not None and time.monotonic() - started < 40:
            states.append(now)
            time.sleep(0.05)
        state["loading"] = False
        loaded_after = time.monotonic() - started
        time.sleep(0.3)
    finally:
        for asker in askers:
            asker.halt.set()
        for asker in askers:
            asker.join()
    assert now is None, f"still loading after {loaded_after:.1f}s: {states[-3:]}"
    assert wait_loaded(server, 5) in LOADED
    asked = [a for asker in askers for a in asker.asked]
    during = [a for a in asked if a.during_load]
    # the garbage SOA's own answer is test_a_broken_zone_among_many's business
    judged = [a for a in asked if a.i != BROKEN]
    # SERVFAIL for a name of a listed zone: a query that waited past the parking deadline
    # (counted, and a few tolerated); for a name under no zone it is wrong
    servfail = [a for a in judged if a.rcode == SERVFAIL and a.i <= N]
    wrong = [a for a in judged if (a.rcode, a.addresses) != expected(a.i, a.what)
             and a not in servfail]
    refused = [a for a in judged if a.rcode == REFUSED and expected(a.i, a.what)[0] != REFUSED]
    unanswered = [a for a in asked if a.rcode is None]
    slowest = max(a.took for a in during)
    print(f"{len(asked)} queries, {len(during)} while LOADING (first rping {states[:1]}, "
          f"PONG after {loaded_after:.1f}s); {len(servfail)} SERVFAIL, slowest "
          f"{slowest:.2f}s; servfail-packets={statistics(server)['servfail-packets']}")
    for a in servfail[:10]:
        print(f"  SERVFAIL {a.what}.{zone(a.i)} at +{a.sent - started:.2f}s after "
              f"{a.took:.2f}s")
    assert len(during) >= 200, len(during)
    assert {a.i for a in during} >= {1, N // 2, N}, "first, middle and last zone asked"
    assert not refused, refused[:5]
    assert not unanswered, unanswered[:5]
    assert not wrong, wrong[:5]
    assert len(servfail) <= 0.01 * len(asked), [(a.i, round(a.took, 2)) for a in servfail]
    # the zones that cannot be served were asked for while they loaded: still one line each
    for i in (BROKEN, NOSOA):
        lines = [line for line in server.log().splitlines() if f"zone '{zone(i)}'" in line]
        assert len(lines) == 1, lines
    assert server.stop() == 0, server.log()


# --------------------------------------------------------------------------------------------
# 2. On-demand zones


def test_the_last_zone_is_loaded_on_demand(database, tmp_path):
    """Early in the load (rping says LOADING, few zones in), a query for the zone of the
    highest id (the scan's last) is answered right, in well under the parking deadline:
    its worker asked the manager for it, which loaded it ahead of the scan."""
    server = launch(tmp_path, settings(database))
    try:
        before = wait_until(lambda: (s := loading(server)) and s[0] > 0 and s, 10, 0.01,
                            what="a first batch in")
        took = check_answer(server, N)
        after = loading(server)
        print(f"zone {N} answered in {took * 1000:.0f} ms, with {before[0]} of {before[1]} "
              f"zones in before and {after} after")
        assert before[0] < N // 2 and before[1] == N, before
        assert after is not None and after[0] < N, "the scan had not reached it"
        assert took < 1.5
        assert wait_loaded(server) in LOADED
    finally:
        server.stop()


def test_a_query_at_the_first_answer_gets_its_zone_on_demand(database, tmp_path):
    """The same, for a query sent the moment the server first answers (as a client that
    was waiting for it does): answered right, well under the parking deadline."""
    server = launch(tmp_path, settings(database))
    try:
        took = [check_answer(server, i) for i in (N, N - 1)]
        print(f"zones {N} and {N - 1} at the first answer: "
              f"{', '.join(f'{t * 1000:.0f} ms' for t in took)}")
        assert max(took) < 1.5
        assert wait_loaded(server) in LOADED
    finally:
        server.stop()


def test_a_pending_zone_while_the_manager_is_stopped(database, tmp_path):
    """SIGSTOP the manager during the load: a query for a zone still pending gets
    SERVFAIL after the parking deadline (not a hang) while loaded zones are answered at
    once; after SIGCONT the same manager (its heartbeat limit is at least 60 s) loads it
    on demand and finishes the load."""
    server = launch(tmp_path, settings(database))
    try:
        wait_until(lambda: (s := loading(server)) and s[0] > 0, 10, 0.01,
                   what="a first batch in")
        manager = next(pid for pid, title in server.children().items()
                       if title == "fastdns: manager")
        stop_process(manager)
        try:
            started = time.monotonic()
            answer = query(server, f"www.{zone(N)}", timeout=PARK + 3)
            waited = time.monotonic() - started
            quick = check_answer(server, 1)
        finally:
            os.kill(manager, signal.SIGCONT)
        print(f"pending zone with the manager stopped: {dns.rcode.to_text(answer.rcode())} "
              f"after {waited:.2f}s; a loaded zone in {quick * 1000:.0f} ms")
        assert answer.rcode() == SERVFAIL, answer
        assert PARK - 0.1 <= waited <= PARK + 0.7, waited
        assert quick < 0.2
        took = check_answer(server, N)
        print(f"after SIGCONT: zone {N} in {took * 1000:.0f} ms")
        assert took < 1.5
        assert wait_loaded(server) in LOADED
        # parked-timeouts is no metric of `show *`: the SERVFAIL is counted as such
        assert statistics(server)["servfail-packets"] >= 1
        assert manager in server.children(), "the manager was not replaced"
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------
# 3 and 5: a loaded server


@pytest.fixture(scope="module")
def served(database, tmp_path_factory) -> Iterator[Fastdns]:
    server = Fastdns(tmp_path_factory.mktemp("served"), settings(database))
    server.start(timeout=60)
    yield server
    server.stop()


def check_broken_zones(server: Fastdns) -> None:
    """The garbage SOA: SERVFAIL; the zone without SOA: REFUSED (both as PowerDNS 4.7
    answers the same rows); their neighbours and the rest served; one log line each."""
    for i in (BROKEN, NOSOA):
        for j in (i - 1, i + 1):
            check_answer(server, j)
    for i in random.Random(3).sample(range(1, N + 1), 200):
        if i not in (BROKEN, NOSOA):
            check_answer(server, i)
    for what in ("www", "nosuch"):
        check_answer(server, NOSOA, what)
    log = server.log()
    for i in (BROKEN, NOSOA):
        lines = [line for line in log.splitlines() if f"zone '{zone(i)}'" in line]
        print(f"zone {i}: {lines}")
        assert len(lines) == 1, lines
    errors = [line for line in log.splitlines() if "zone '" in line]
    assert len(errors) == 2, errors[:10]
    for what in ("www", "nosuch"):
        check_answer(server, BROKEN, what)


def test_a_broken_zone_among_many_sqlite(served):
    check_broken_zones(served)


def test_a_broken_zone_among_many_pgsql(tmp_path):
    zones = range(1, N + 1)
    with TempDatabase("gpgsql", tmp_path) as db:
        started = time.monotonic()
        fill_pgsql(db, zones)
        filled = time.monotonic() - started
        server = Fastdns(tmp_path, {**db.settings(), "loglevel": "4", "workers": "2"})
        started = time.monotonic()
        server.start(timeout=60)
        try:
            print(f"PostgreSQL: {N} zones filled in {filled:.1f}s, loaded in "
                  f"{time.monotonic() - started:.1f}s")
            check_broken_zones(server)
        finally:
            server.stop()


def test_list_zones_lists_every_zone_quickly(served):
    """``fastdns-control list-zones``: a line per zone, the count last, in a fraction of a
    second. As ``pdns_control list-zones`` of PowerDNS 4.7 on the same rows: the zone
    whose SOA is garbage is listed (and answered SERVFAIL), the zone without SOA is not."""
    command = [sys.executable, "-m", "fastdns.cli.control", f"--socket-dir={served.rundir}",
               "list-zones"]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    took = time.monotonic() - started
    lines = done.stdout.splitlines()
    print(f"list-zones: {len(lines)} lines in {took:.2f}s; last {lines[-1:]}")
    assert done.returncode == 0, done.stderr
    names = set(lines[:-1])
    assert len(names) == len(lines) - 1
    listed = {f"{zone(i)}." for i in range(1, N + 1)}
    assert names - listed == set()
    assert listed - names == {f"{zone(NOSOA)}."}, sorted(listed - names)[:5]
    assert lines[-1] == f"All zonecount: {len(names)}"
    assert took < 2.0


# --------------------------------------------------------------------------------------------
# 4. Memory


def pss(server: Fastdns) -> tuple[float, dict[str, float]]:
    """The PSS (MiB) of the server's process tree, and of each process by title."""
    assert server.proc is not None
    total = memory_mb(server.proc.pid)["pss_mb"]
    each = {}
    for pid in process_tree(server.proc.pid):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        each[title.strip()] = int(found.group(1)) / 1024 if found else 0.0
    return total, each


def measure(workdir: Path, path: Path, workers: int, zones: bool) -> tuple[float, dict]:
    server = Fastdns(workdir, settings(path, workers=str(workers)))
    server.start(timeout=60)
    try:
        server.wait_workers(workers)
        assert wait_loaded(server) in (LOADED if zones else (0,))
        time.sleep(1.5)
        for i in (1, N // 2, N):         # every worker holds the zones it serves
            if zones:
                check_answer(server, i)
        time.sleep(0.5)
        return pss(server)
    finally:
        server.stop()


def test_memory_does_not_grow_with_workers(database, tmp_path):
    """PSS of the whole server with 4 workers minus with 1: less than three bare workers
    (measured the same way on an empty database) and, per worker, a tenth of what the zones
    cost one server (a worker's own state per zone is a pointer, plus the Snapshots and
    packet-cache entries of what it answered); zone data lives once in shared memory, not
    once per worker."""
    empty = tmp_path / "empty.sqlite3"
    fill_sqlite(empty, range(0))
    bare1, _ = measure(tmp_path / "e1", empty, 1, False)
    bare2, _ = measure(tmp_path / "e2", empty, 2, False)
    one, each1 = measure(tmp_path / "w1", database, 1, True)
    four, each4 = measure(tmp_path / "w4", database, 4, True)
    bare = bare2 - bare1
    print(f"PSS: empty database 1 worker {bare1:.1f} MiB, 2 workers {bare2:.1f} MiB "
          f"(a bare worker {bare:.1f} MiB); {N} zones 1 worker {one:.1f} MiB, 4 workers "
          f"{four:.1f} MiB (+{four - one:.1f} MiB)")
    for title, mb in {**{f"[1] {k}": v for k, v in each1.items()},
                      **{f"[4] {k}": v for k, v in each4.items()}}.items():
        print(f"  {title}: {mb:.1f} MiB")
    zones = one - bare1
    assert four - one < 3 * (bare + 0.1 * zones), (one, four, bare, zones)


# --------------------------------------------------------------------------------------------
# 6. Zones that come and go


def add_zone(path: Path, i: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO domains (id, name, type) VALUES (?, ?, 'NATIVE')",
                     (i, zone(i)))
        conn.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio, "
                         "disabled, auth) VALUES (?, ?, ?, ?, ?, ?, 0, 1)", zone_rows(i))
    conn.close()


def remove_zone(path: Path, i: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM records WHERE domain_id = ?", (i,))
        conn.execute("DELETE FROM domains WHERE id = ?", (i,))
    conn.close()


def test_zones_added_and_removed_while_serving(database, tmp_path):
    """A zone inserted into the database is served and a zone deleted is gone (REFUSED)
    after ``fastdns-control reload``, and again by the periodic check
    (zone-check-interval=2) alone."""
    path = tmp_path / "zones.sqlite3"
    shutil.copy(database, path)
    server = Fastdns(tmp_path, settings(path, **{"zone-check-interval": "2"}))
    server.start(timeout=60)
    try:
        added, removed = N + 1, 5
        add_zone(path, added)
        remove_zone(path, removed)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "fastdns.cli.control",
                               f"--socket-dir={server.rundir}", "reload"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30)
        took = time.monotonic() - started
        assert done.stdout.strip() == "Ok", (done.stdout, done.stderr)
        answer = query(server, f"www.{zone(added)}")
        assert (answer.rcode(), rrs(answer, "A")) == (NOERROR, [address(added)]), answer
        assert query(server, f"www.{zone(removed)}").rcode() == REFUSED
        check_answer(server, removed + 1)

        added, removed = N + 2, 6
        add_zone(path, added)
        remove_zone(path, removed)
        started = time.monotonic()

        def changed() -> bool:
            new, gone = query(server, f"www.{zone(added)}"), query(server, f"www.{zone(removed)}")
            return rrs(new, "A") == [address(added)] and gone.rcode() == REFUSED
        wait_until(changed, 10, 0.1, what="the periodic check's changes")
        seen = time.monotonic() - started
        print(f"reload took {took:.2f}s; the periodic check's changes served after {seen:.1f}s")
        assert seen < 2 * 2 + 2
        check_answer(server, removed + 1)
        assert server.stop() == 0, server.log()
    finally:
        server.stop()

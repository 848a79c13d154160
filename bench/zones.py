"""Many small zones in one SQL database: fastdns against PowerDNS (issue 12).

    python3 -m bench.zones --zones 1000000 --records 10 --db sqlite|pgsql [--workers 2]
                           [--servers fastdns,pdns] [--out DIR] [--duration 10]
                           [--check-interval 5] [--quick]

The database: ``--zones`` customer-like zones (``bluebakery123.de``, ``northstudio77.co.uk``:
two words, the zone's number, one of 16 TLDs) of ``--records`` records each, in PowerDNS's
generic SQL schema (fastdns/backends/schema/): SOA, two NS, apex A, MX (to ``mail``),
``www`` CNAME to the apex, ``mail`` A, AAAA, SPF TXT, ``_dmarc`` TXT, then ``host<k>`` A
records up to ``--records`` (at least 7). The records of zone ``i`` are a function of ``i``
alone. SQLite: one transaction of executemany batches, the indexes after, into
``DIR/zones.sqlite3``, kept and reused while ``DIR/zones.json`` matches (``DIR`` defaults to
$TMPDIR/fastdns-bench-zones-<zones>x<records>). PostgreSQL (127.0.0.1:5432, user postgres,
``--pg-*``): the database ``fastdns_bench_zones``, created by COPY, the indexes after,
VACUUM ANALYZE; dropped at the end unless ``--keep-db``, and a kept one whose comment
matches is reused. No other database is touched.

Then, for each server in turn (fastdns: this checkout, ``workers=--workers``; PowerDNS's
pdns_server 4.7 with its gsqlite3/gpgsql backend, ``receiver-threads=--workers``, caches as
default), started on 127.0.0.1 and a free port, pinned to ``--server-cpus`` as bench/run.py
does (its Server, dnsperf runner and per-run measure are used unchanged):

first answer     seconds from the start to the first answer with the apex A of the first
                 zone (polled every 10 ms);
all zones        seconds from the same start until the SOA of 200 random zones and of the
                 last zone (id order) all come back NOERROR and authoritative (polled every
                 20 ms); start CPU is the servers' CPU time at the first answer;
PSS              of all the server's processes (bench/host.py), once every zone is served
                 and again after the query runs;
list-zones       wall time of ``fastdns-control list-zones`` / ``pdns_control list-zones``
                 and the number of zones listed;
idle CPU         the servers' CPU time over ``--idle`` seconds without queries, as a % of
                 one core: for fastdns the periodic change checks of every zone
                 (``zone-check-interval=--check-interval``);
changed record   the apex A of a random zone updated with raw SQL (no serial bump): seconds
                 until the new address is served (polled every 20 ms), and the log lines of
                 the server in that time (fastdns logs the check that loads it); the
                 record is put back afterwards;
dnsperf          bench/run.py's measure over UDP (``--transports``): queries/s, server CPU
                 µs per answer, latency, for two sets. ``existing``: 100,000 questions
                 (www/apex A, apex MX, mail A of random zones), looped. ``random``: a new
                 16-character label under a random zone on every line (NXDOMAIN), one line
                 in ten under no zone at all (REFUSED), read once; each after a warm-up.

With ``--db pgsql`` the CPU time of the PostgreSQL backends connected to the bench's
database counts as the server's (start CPU, idle CPU, CPU per answer): PowerDNS asks the
database for every query it has not cached, fastdns only in its checks and loads. Without it,
the work PowerDNS hands to PostgreSQL would show as "other processes".

To measure the last commit while the checkout is being edited (the work directory holds
half-built extensions then), unpack and build it apart and give ``--fastdns-tree``:

    git clone -q /work/main /tmp/fastdns-head && make -C /tmp/fastdns-head build
    python3 -m bench.zones --zones 100000 --db sqlite --fastdns-tree /tmp/fastdns-head

A table, a column per server and the fastdns/pdns ratio, goes to stdout, and every figure
with the environment and the configurations to bench/results/<date>-<sha>-zones.json.

Timing: generating a million zones of 10 records takes a few minutes (once; SQLite is kept);
each server then costs its start-up, about 2 x (``--warmup`` + ``--duration``) of dnsperf,
``--idle`` seconds and the change check. ``--quick`` is 20,000 zones and 3 s runs.
"""

import argparse
import base64
import contextlib
import datetime
import json
import random
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode

from bench.gen_zone import ipv6
from bench.host import cpu_seconds, free_port, memory_mb, tool, wait_quiet
from bench.run import (
    ROOT,
    Run,
    Server,
    environment,
    lock_workdir,
    make_server,
    measure,
    noisy,
    ratio,
    render,
    write_results,
)
from fastdns.backends.sqlbase import schema_sql, split_statements

FORMAT = 1              # bump when the generated records change: cached databases are rebuilt
SERVERS = ("fastdns", "pdns")
DBS = {"sqlite": "gsqlite3", "pgsql": "gpgsql"}
PG_DBNAME = "fastdns_bench_zones"
TTL = 3600
NS = ("ns1.dns-hosting.net", "ns2.dns-hosting.net")
MIN_RECORDS = 7         # SOA, 2 NS, apex A, MX, www, mail: what the existing set asks for
CHANGED_ADDRESS = "198.51.100.77"
SAMPLE = 200            # zones polled, with the last one, for "every zone is served"
EXISTING_LINES = 100_000
NO_ZONE_SHARE = 10      # one random name in this many is under no zone
RANDOM_QPS_CEILING = 300_000    # lines of a random-name file per second of run (read once)
EXPECTED = {"existing": {"NOERROR"}, "nxdomain": {"NXDOMAIN", "REFUSED"}}
SET_LABELS = {"existing": "existing", "nxdomain": "random"}

FIRST = ("blue", "green", "red", "north", "south", "sun", "moon", "star", "river", "lake",
         "oak", "pine", "stone", "iron", "golden", "silver", "happy", "swift", "bright",
         "urban", "alpine", "coastal", "royal", "little")
SECOND = ("bakery", "dental", "garage", "studio", "design", "media", "consult", "travel",
          "florist", "fitness", "law", "realty", "tech", "solutions", "photo", "cafe", "farm",
          "books", "tools", "pets", "events", "print", "clinic", "builders")
TLDS = ("com", "net", "org", "de", "nl", "fr", "co.uk", "io", "eu", "info", "shop", "be",
        "ch", "at", "biz", "online")


# -- the zones ------------------------------------------------------------------------------

def zone_name(i: int) -> str:
    """The name of zone ``i`` (0-based), as stored: lowercase, no trailing dot. The words
    hold no digit, so the number at their end makes every name unique."""
    first, second = FIRST[i % len(FIRST)], SECOND[(i // len(FIRST)) % len(SECOND)]
    return f"{first}{second}{i}.{TLDS[(i * 7 + i // 16) % len(TLDS)]}"


def ipv4(i: int, first: int = 10) -> str:
    """Zone ``i``'s address in ``first``.0.0.0/8 (apex 10, mail 11, host<k> 11 + k)."""
    return f"{first}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def zone_records(i: int, count: int) -> list[tuple[str, str, str, int]]:
    """The ``count`` records of zone ``i``: (owner, type, content, prio), in PowerDNS's
    column form (no trailing dots; the MX preference in prio)."""
    z = zone_name(i)
    rows = [
        (z, "SOA", f"{NS[0]} hostmaster.{z} 2024010101 10800 3600 604800 3600", 0),
        (z, "NS", NS[0], 0),
        (z, "NS", NS[1], 0),
        (z, "A", ipv4(i), 0),
        (z, "MX", f"mail.{z}", 10),
        (f"www.{z}", "CNAME", z, 0),
        (f"mail.{z}", "A", ipv4(i, 11), 0),
        (z, "AAAA", ipv6(i), 0),
        (z, "TXT", '"v=spf1 mx -all"', 0),
        (f"_dmarc.{z}", "TXT", f'"v=DMARC1; p=none; rua=mailto:dmarc@{z}"', 0),
    ]
    rows += [(f"host{k}.{z}", "A", ipv4(i, 11 + k), 0)
             for k in range(1, count - len(rows) + 1)]
    return rows[:count]


def zone_blocks(zones: int, records: int, block: int = 10_000
                ) -> Iterator[tuple[int, list[tuple], list[tuple]]]:
    """(zones done, domains rows (id, name), records rows (domain_id, name, type, content,
    ttl, prio)) by blocks of ``block`` zones."""
    for start in range(0, zones, block):
        domains, rows = [], []
        for i in range(start, min(zones, start + block)):
            domains.append((i + 1, zone_name(i)))
            rows.extend((i + 1, owner, rdtype, content, TTL, prio)
                        for owner, rdtype, content, prio in zone_records(i, records))
        yield min(zones, start + block), domains, rows


class Progress:
    """One line rewritten in place on a terminal (at most every 0.5 s); elsewhere only the
    final line is printed."""

    def __init__(self, label: str) -> None:
        self.label, self.shown, self.tty = label, 0.0, sys.stdout.isatty()
        self.t0 = time.monotonic()

    def __call__(self, text: str) -> None:
        if self.tty and time.monotonic() - self.shown >= 0.5:
            self.shown = time.monotonic()
            print(f"\r{self.label}: {text} ({self.shown - self.t0:.0f}s)\x1b[K", end="",
                  flush=True)

    def done(self, text: str) -> None:
        line = f"{self.label}: {text}"
        print(f"\r{line}\x1b[K" if self.tty else line, flush=True)


def schema_parts(dialect: str) -> tuple[list[str], list[str]]:
    """PowerDNS's schema as (CREATE TABLE statements, index statements): the indexes are
    made after the rows, which is faster. SQLite's PRAGMA is per connection: left out."""
    statements = split_statements(schema_sql(dialect))
    tables = [s for s in statements if s.startswith("CREATE TABLE")]
    indexes = [s for s in statements if s.startswith("CREATE") and s not in tables]
    return tables, indexes


def build_sqlite(path: Path, zones: int, records: int) -> None:
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    tables, indexes = schema_parts("sqlite3")
    show = Progress("sqlite")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        for statement in tables:
            conn.execute(statement)
        conn.execute("BEGIN")
        for done, domains, rows in zone_blocks(zones, records):
            conn.executemany("INSERT INTO domains (id, name, type) VALUES (?, ?, 'NATIVE')",
                             domains)
            conn.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio,"
                             " disabled, auth) VALUES (?, ?, ?, ?, ?, ?, 0, 1)", rows)
            show(f"{done:,}/{zones:,} zones")
        conn.execute("COMMIT")
        for statement in indexes:
            show(f"{statement.split(' ON ')[0].lower()}")
            conn.execute(statement)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    tmp.rename(path)
    show.done(f"{zones:,} zones, {zones * records:,} records in {path} "
              f"({path.stat().st_size / 2**20:,.0f} MiB, {time.monotonic() - show.t0:.0f}s)")


def ensure_sqlite(work: Path, zones: int, records: int) -> Path:
    path, stamp = work / "zones.sqlite3", work / "zones.json"
    mark = json.dumps({"zones": zones, "records": records, "format": FORMAT})
    if path.exists() and stamp.exists() and stamp.read_text() == mark:
        print(f"sqlite: {path} reused ({zones:,} zones x {records} records)")
        return path
    stamp.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    build_sqlite(path, zones, records)
    stamp.write_text(mark)
    return path


def pg_connect(args: argparse.Namespace, dbname: str, **kwargs: Any) -> Any:
    import psycopg  # only where --db pgsql is asked for
    return psycopg.connect(host=args.pg_host, port=args.pg_port, user=args.pg_user,
                           dbname=dbname, **kwargs)


def ensure_pgsql(args: argparse.Namespace) -> None:
    """``fastdns_bench_zones`` with the zones: reused when its comment says it holds them."""
    mark = f"fastdns bench.zones zones={args.zones} records={args.records} format={FORMAT}"
    with pg_connect(args, "postgres", autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                           "WHERE datname = %s", (PG_DBNAME,)).fetchone()
        if row is not None and row[0] == mark:
            print(f"pgsql: database {PG_DBNAME} reused ({args.zones:,} zones x "
                  f"{args.records} records)")
            return
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_DBNAME}"')
    tables, indexes = schema_parts("pgsql")
    show = Progress("pgsql")
    with pg_connect(args, PG_DBNAME, autocommit=True) as conn:
        for statement in tables:
            conn.execute(statement)
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy("COPY domains (id, name, type) FROM STDIN") as copy:
                for done, domains, _ in zone_blocks(args.zones, 1, block=50_000):
                    copy.write("".join(f"{d}\t{n}\tNATIVE\n" for d, n in domains))
                    show(f"domains {done:,}/{args.zones:,}")
            with cur.copy("COPY records (domain_id, name, type, content, ttl, prio, disabled,"
                          " auth) FROM STDIN") as copy:
                for done, _, rows in zone_blocks(args.zones, args.records):
                    copy.write("".join(f"{r[0]}\t{r[1]}\t{r[2]}\t{r[3]}\t{r[4]}\t{r[5]}\tf\tt\n"
                                       for r in rows))
                    show(f"records of {done:,}/{args.zones:,} zones")
        conn.execute("SELECT setval('domains_id_seq', %s)", (args.zones,))
        for statement in indexes:
            show(f"{statement.split(' ON ')[0].lower()}")
            conn.execute(statement)
        show("vacuum analyze")
        conn.execute("VACUUM ANALYZE")
        conn.execute(f"COMMENT ON DATABASE \"{PG_DBNAME}\" IS '{mark}'")
    show.done(f"{args.zones:,} zones, {args.zones * args.records:,} records in database "
              f"{PG_DBNAME} ({time.monotonic() - show.t0:.0f}s)")


class BackendsCPU:
    """CPU time (s) of the PostgreSQL backends connected to the bench's database now (the
    servers' connections; pg_stat_activity), not of the other databases' users. A backend
    that exits between two samples takes its time with it: both servers keep theirs open."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.conn = pg_connect(args, "postgres", autocommit=True)

    def __call__(self) -> float:
        pids = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                 "pid <> pg_backend_pid()", (PG_DBNAME,)).fetchall()
        return sum(cpu_seconds(pid) for (pid,) in pids)


def drop_pgsql(args: argparse.Namespace) -> None:
    with pg_connect(args, "postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_DBNAME}" WITH (FORCE)')


class Database:
    """Raw SQL on the bench's database, as an operator's script would run it."""

    def __init__(self, args: argparse.Namespace, path: Path | None) -> None:
        self.args, self.path = args, path

    def settings(self) -> dict[str, str]:
        """``launch=`` and the backend's settings, PowerDNS spelling (both servers)."""
        if self.path is not None:
            return {"launch": "gsqlite3", "gsqlite3-database": str(self.path)}
        a = self.args
        return {"launch": "gpgsql", "gpgsql-host": a.pg_host, "gpgsql-port": str(a.pg_port),
                "gpgsql-user": a.pg_user, "gpgsql-dbname": PG_DBNAME}

    def set_apex_a(self, i: int, address: str) -> None:
        """The apex A of zone ``i`` set to ``address``: an UPDATE, no serial bump."""
        sql = "UPDATE records SET content = {0} WHERE domain_id = {0} AND type = 'A' AND name = {0}"
        params = (address, i + 1, zone_name(i))
        if self.path is None:
            with pg_connect(self.args, PG_DBNAME, autocommit=True) as conn:
                conn.execute(sql.format("%s"), params)
            return
        # while a record differs from the generated one the stamp is put aside, so a run
        # killed before the record is put back builds the file again
        stamp = self.path.parent / "zones.json"
        aside = stamp.with_suffix(".changed")
        if address != ipv4(i):
            stamp.rename(aside)
        with contextlib.closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
            conn.execute(sql.format("?"), params)
        if address == ipv4(i) and aside.exists():
            aside.rename(stamp)


# -- query files ----------------------------------------------------------------------------

def random_labels(rng: random.Random, n: int) -> list[str]:
    text = base64.b32encode(rng.randbytes(10 * n)).decode("ascii").lower()
    return [text[k:k + 16] for k in range(0, 16 * n, 16)]


class ZoneQueries:
    """The query files, written into the work directory on first use (bench/run.py's
    QueryFiles for this database: ``get`` is what run.measure calls)."""

    def __init__(self, work: Path, zones: int, duration: int, warmup: int) -> None:
        self.work, self.zones = work, zones
        self.lines, self.warm_lines = RANDOM_QPS_CEILING * duration, RANDOM_QPS_CEILING * warmup
        self.existing = self._file("existing", EXISTING_LINES, self._existing)

    def get(self, set_name: str, transport: str, attempt: int = 1) -> tuple[Path, Path]:
        if set_name == "existing":
            return self.existing, self.existing
        return (self._file(f"random-{transport}-{attempt}", self.lines, self._random),
                self._file(f"random-{transport}-warm", self.warm_lines, self._random))

    def _file(self, tag: str, lines: int,
              write: Callable[[random.Random, int], Iterator[str]]) -> Path:
        path = self.work / f"{tag}.queries"
        marker, stamp = path.with_suffix(".stamp"), f"{self.zones} {lines} {FORMAT}"
        if not path.exists() or not marker.exists() or marker.read_text() != stamp:
            rng = random.Random(zlib.crc32(tag.encode()))
            with open(path, "w", encoding="ascii", buffering=1 << 20) as out:
                for start in range(0, lines, 100_000):
                    out.write("".join(write(rng, min(100_000, lines - start))))
            marker.write_text(stamp)
        return path

    def _existing(self, rng: random.Random, n: int) -> Iterator[str]:
        asked = ("{z} A", "{z} MX", "www.{z} A", "mail.{z} A")
        for _ in range(n):
            z = zone_name(rng.randrange(self.zones))
            yield asked[rng.randrange(len(asked))].format(z=z) + "\n"

    def _random(self, rng: random.Random, n: int) -> Iterator[str]:
        labels = random_labels(rng, 2 * n)
        for k in range(n):
            if k % NO_ZONE_SHARE == NO_ZONE_SHARE - 1:      # under a TLD, in no zone
                yield f"{labels[2 * k]}.{labels[2 * k + 1]}.{TLDS[k % len(TLDS)]} A\n"
            else:
                yield f"{labels[2 * k]}.{zone_name(rng.randrange(self.zones))} A\n"


# -- one server -----------------------------------------------------------------------------

@dataclass
class Figures:
    """What one server was measured at, apart from the dnsperf runs."""

    first_answer_s: float = float("nan")
    all_zones_s: float = float("nan")
    start_cpu_s: float = float("nan")
    log_load_s: float = float("nan")        # fastdns's "loaded N zones (...) in S" line
    memory_served: dict = field(default_factory=dict)
    memory_after: dict = field(default_factory=dict)
    list_zones_s: float = float("nan")
    list_zones_count: int = 0
    list_zones_error: str = ""
    idle_s: float = 0.0
    idle_cpu_pct: float = float("nan")
    change_zone: str = ""
    change_s: float = float("nan")
    change_log: list[str] = field(default_factory=list)


def unanswered(port: int, qnames: list[str], wait: float = 0.25) -> list[str]:
    """Of ``qnames``, those whose SOA did not come back NOERROR and authoritative within
    ``wait`` seconds: one query each, all sent at once from one socket."""
    done: set[int] = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # room for every answer of a burst: the kernel's default holds a few hundred
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        for k, qname in enumerate(qnames):
            query = dns.message.make_query(qname, "SOA")
            query.id = k
            sock.sendto(query.to_wire(), ("127.0.0.1", port))
        deadline = time.monotonic() + wait
        while len(done) < len(qnames) and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                answer = dns.message.from_wire(sock.recv(65535))
            except (TimeoutError, OSError):
                break
            except dns.exception.DNSException:
                continue
            if answer.rcode() == dns.rcode.NOERROR and answer.flags & dns.flags.AA \
                    and answer.answer:
                done.add(answer.id)
    return [q for k, q in enumerate(qnames) if k not in done]


def wait_all_zones(server: Server, sample: list[str], timeout: float) -> float:
    """Seconds from now until every zone of ``sample`` is served."""
    t0, show = time.monotonic(), Progress(f"  {server.name}")
    pending = sample
    while pending:
        server.check_alive()
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{server.name}: {len(pending)} zones unanswered after "
                               f"{timeout}s, e.g. {pending[0]}; see {server.log}")
        pending = unanswered(server.port, pending)
        if pending:
            show(f"{len(sample) - len(pending)}/{len(sample)} sampled zones served")
            time.sleep(0.02)
    return time.monotonic() - t0


def list_zones(name: str, confdir: Path, tree: Path, timeout: float, figures: Figures
               ) -> None:
    if name == "fastdns":
        cmd = [sys.executable, "-m", "fastdns.cli.control", f"--config-dir={confdir}",
               "list-zones"]
    else:
        cmd = [tool("pdns_control"), f"--config-dir={confdir}", "list-zones"]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        figures.list_zones_error = f"no reply in {timeout}s"
        return
    seconds = time.monotonic() - t0
    lines = proc.stdout.splitlines()
    if proc.returncode != 0:
        figures.list_zones_error = (proc.stderr or proc.stdout).strip()[-300:]
        return
    figures.list_zones_s = seconds
    figures.list_zones_count = sum(1 for line in lines if "zonecount" not in line and line)


def idle_cpu(server: Server, seconds: float, figures: Figures) -> None:
    assert server.proc is not None
    cpu0, t0 = server.cpu(), time.monotonic()
    time.sleep(seconds)
    figures.idle_s = time.monotonic() - t0
    figures.idle_cpu_pct = (server.cpu() - cpu0) / figures.idle_s * 100


def changed_record(server: Server, db: Database, zones: int, timeout: float,
                   figures: Figures) -> None:
    """Update the apex A of a random zone behind the server's back; seconds until served."""
    i = random.Random(7).randrange(zones)
    figures.change_zone = zone_name(i)
    query = dns.message.make_query(figures.change_zone, "A")
    offset = server.log.stat().st_size
    show = Progress(f"  {server.name}")
    db.set_apex_a(i, CHANGED_ADDRESS)
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            server.check_alive()
            with contextlib.suppress(dns.exception.Timeout, OSError):
                answer = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=0.1)
                if any(rr.to_text() == CHANGED_ADDRESS for rrset in answer.answer
                       for rr in rrset):
                    figures.change_s = time.monotonic() - t0
                    break
            show(f"waiting for the changed record of {figures.change_zone}")
            time.sleep(0.02)
    finally:
        db.set_apex_a(i, ipv4(i))
    with open(server.log, "rb") as log:
        log.seek(offset)
        figures.change_log = log.read().decode(errors="replace").splitlines()[-20:]


def bench_server(server: Server, confdir: Path, db: Database, files: ZoneQueries,
                 args: argparse.Namespace) -> tuple[Figures, list[Run]]:
    figures, runs = Figures(), []
    rng = random.Random(3)
    sample = [zone_name(i) for i in rng.sample(range(args.zones), min(SAMPLE, args.zones))]
    sample.append(zone_name(args.zones - 1))
    server.log.unlink(missing_ok=True)
    wait_quiet(args.quiet_wait)
    show = Progress(f"{server.name}")
    try:
        server.start(args.server_cpus, (zone_name(0) + ".", ipv4(0)), args.start_timeout,
                     tick=lambda s: show(f"starting, no answer yet after {s:.0f}s"))
        assert server.proc is not None
        figures.first_answer_s, figures.start_cpu_s = server.load_s, server.load_cpu_s
        figures.all_zones_s = server.load_s + wait_all_zones(server, sample,
                                                             args.start_timeout)
        figures.memory_served = memory_mb(server.proc.pid)
        # the start-up load's line, not that of zones loaded on demand for waiting queries
        loaded = re.search(r"loaded \d+ zones \(.* in ([\d.]+)s$", server.log.read_text(),
                           re.M)
        figures.log_load_s = float(loaded[1]) if loaded else float("nan")
        show.done(f"first answer after {figures.first_answer_s:.2f}s, "
                  f"{len(sample)} sampled zones after {figures.all_zones_s:.2f}s, "
                  f"PSS {figures.memory_served['pss_mb']:,.1f} MiB")
        list_zones(server.name, confdir, args.fastdns_tree, args.start_timeout, figures)
        print("  list-zones: " + (f"{figures.list_zones_count:,} zones in "
                                   f"{figures.list_zones_s:.2f}s" if not figures.list_zones_error
                                   else f"failed: {figures.list_zones_error}"), flush=True)
        if args.idle:
            idle_cpu(server, args.idle, figures)
            print(f"  idle: {figures.idle_cpu_pct:.1f}% of a core over {figures.idle_s:.0f}s",
                  flush=True)
        changed_record(server, db, args.zones, args.change_timeout, figures)
        print(f"  changed record served after {figures.change_s:.2f}s", flush=True)
        for line in figures.change_log:
            if figures.change_zone in line or "check" in line:
                print(f"    log: {line}")
        for set_name in args.sets:
            for transport in args.transports:
                run = measure(server, set_name, transport, files, args, 1)
                print(f"  {SET_LABELS[set_name]}/{transport}: {run.qps:,.0f} q/s, "
                      f"{run.cpu_us_per_answer:.2f} µs CPU/answer "
                      f"(other processes: {run.other_cpu_s:.2f}s CPU)", flush=True)
                runs.append(run)
        figures.memory_after = memory_mb(server.proc.pid)
    finally:
        server.stop()
    return figures, runs


# -- configurations, table, record ------------------------------------------------------------

def write_configs(work: Path, db: Database, ports: dict[str, int],
                  args: argparse.Namespace) -> dict[str, Path]:
    common = {**db.settings(), "local-address": "127.0.0.1"}
    own = {
        "fastdns": {"workers": args.workers, "zone-check-interval": args.check_interval,
                    "loglevel": 6},
        "pdns": {"receiver-threads": args.workers, "distributor-threads": 1,
                 "reuseport": "yes", "daemon": "no", "guardian": "no",
                 "disable-syslog": "yes", "security-poll-suffix": "", "webserver": "no",
                 "loglevel": 6},
    }
    confdirs = {}
    for name in SERVERS:
        (work / f"{name}-run").mkdir(parents=True, exist_ok=True)
        confdirs[name] = work / name
        confdirs[name].mkdir(exist_ok=True)
        settings = {**common, "local-port": ports[name], "socket-dir": work / f"{name}-run",
                    **own[name]}
        (confdirs[name] / f"{name}.conf").write_text(
            f"# Generated by bench/zones.py: {args.zones:,} zones, caches as default\n"
            + "".join(f"{k}={v}\n" for k, v in settings.items()))
    return confdirs


def table(figures: dict[str, Figures], runs: list[Run]) -> str:
    names = [n for n in SERVERS if n in figures]
    pair = [("fastdns", "pdns")] if len(names) == 2 else []
    header = ["figure", *names, *(f"{a}/{b}" for a, b in pair)]
    rows: list[list[str]] = []

    def add(label: str, values: dict[str, float], fmt: str) -> None:
        values = {n: v for n, v in values.items() if v == v}       # nan: not measured
        rows.append([f"  {label}", *(fmt.format(values[n]) if n in values else "n/a"
                                     for n in names), *(ratio(values, a, b) for a, b in pair)])

    def each(attr: str) -> dict[str, float]:
        return {n: getattr(f, attr) for n, f in figures.items()}

    rows.append(["start-up"])
    add("first answer s", each("first_answer_s"), "{:,.2f}")
    add("all zones served s", each("all_zones_s"), "{:,.2f}")
    add("start CPU s", each("start_cpu_s"), "{:,.2f}")
    add("zone load in the log s", each("log_load_s"), "{:,.2f}")
    add("PSS served MiB", {n: f.memory_served.get("pss_mb", float("nan"))
                           for n, f in figures.items()}, "{:,.1f}")
    add("list-zones s", {n: f.list_zones_s for n, f in figures.items()}, "{:,.2f}")
    add("zones listed", {n: f.list_zones_count if not f.list_zones_error else float("nan")
                         for n, f in figures.items()}, "{:,}")
    add("idle CPU % of a core", each("idle_cpu_pct"), "{:.1f}")
    add("changed record served s", each("change_s"), "{:,.2f}")
    cases: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        cases.setdefault((run.set, run.transport), {})[run.server] = run
    for (set_name, transport), by in cases.items():
        rows.append([f"{SET_LABELS[set_name]}/{transport}"])
        if by:
            add("queries/s", {n: r.qps for n, r in by.items()}, "{:,.0f}")
            add("CPU µs/answer", {n: r.cpu_us_per_answer for n, r in by.items()}, "{:.2f}")
            add("p99 latency ms", {n: r.p99_ms for n, r in by.items()}, "{:.3f}")
            add("lost queries", {n: r.lost for n, r in by.items()}, "{:,}")
    rows.append(["after the runs"])
    add("PSS MiB", {n: f.memory_after.get("pss_mb", float("nan"))
                    for n, f in figures.items()}, "{:,.1f}")
    return render(header, rows)


def warnings(figures: dict[str, Figures], runs: list[Run], zones: int) -> list[str]:
    out = [f"{n}: list-zones failed: {f.list_zones_error}" for n, f in figures.items()
           if f.list_zones_error]
    out += [f"{n}: list-zones listed {f.list_zones_count:,} zones of {zones:,}"
            for n, f in figures.items() if not f.list_zones_error
            and f.list_zones_count != zones]
    out += [f"{n}: the changed record was not served" for n, f in figures.items()
            if f.change_s != f.change_s]
    sizes: dict[tuple[str, str], dict[str, int]] = {}
    for run in runs:
        label = f"{run.server} {SET_LABELS[run.set]}/{run.transport}"
        unexpected = {k: v for k, v in run.rcodes.items() if k not in EXPECTED[run.set]}
        if unexpected:
            out.append(f"{label}: unexpected rcodes {unexpected}")
        if run.set == "nxdomain" and run.run_s < 0.9 * run.duration_s:
            out.append(f"{label}: the query file ran out after {run.run_s:.1f}s")
        if noisy(run):
            out.append(f"{label}: other processes used {run.other_cpu_s:.2f}s of CPU during "
                       f"the {run.run_s:.0f}s run (noisy)")
        sizes.setdefault((SET_LABELS[run.set], run.transport), {})[run.server] = \
            run.response_bytes
    out += [f"{s}/{t}: mean response size differs {v}" for (s, t), v in sizes.items()
            if len(set(v.values())) > 1]
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (bench/zones.py) for what is measured and how.")
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=10,
                        help=f"records per zone (at least {MIN_RECORDS})")
    parser.add_argument("--db", choices=tuple(DBS), default="sqlite")
    parser.add_argument("--workers", type=int, default=2,
                        help="fastdns workers = PowerDNS receiver threads (default 2)")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--out", type=Path,
                        help="work directory: the SQLite file, query files, configurations, "
                             "logs (default $TMPDIR/fastdns-bench-zones-<zones>x<records>)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per run")
    parser.add_argument("--idle", type=float, default=15,
                        help="seconds of idle CPU measured (0: none)")
    parser.add_argument("--check-interval", type=int, default=5,
                        help="fastdns zone-check-interval (default 5)")
    parser.add_argument("--change-timeout", type=float, default=300,
                        help="seconds to wait for a changed record to be served")
    parser.add_argument("--start-timeout", type=float, default=3600,
                        help="seconds a server may take to serve every zone")
    parser.add_argument("--sets", default="existing,random")
    parser.add_argument("--transports", default="udp")
    parser.add_argument("--quiet-wait", type=float, default=30,
                        help="before each start and run, wait up to this many seconds for "
                             "the machine to be idle (0: do not wait)")
    parser.add_argument("--clients", type=int, default=8, help="dnsperf -c")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--timeout", type=int, default=1, help="dnsperf -t")
    parser.add_argument("--qps-limit", type=int, default=0, help="dnsperf -Q (0: no limit)")
    parser.add_argument("--server-cpus", default="0", help="taskset list for the servers")
    parser.add_argument("--client-cpus", default="1", help="taskset list for dnsperf")
    parser.add_argument("--fastdns-tree", type=Path, default=ROOT,
                        help="source tree whose in-place build is run as fastdns (default: "
                             "this checkout; e.g. `git archive HEAD` unpacked and built, "
                             "to measure the last commit while the checkout is being edited)")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--keep-db", action="store_true",
                        help=f"keep the PostgreSQL database {PG_DBNAME} for the next run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 20000 zones, 3 s runs, 1 s warm-up, 6 s idle")
    args = parser.parse_args(argv)
    if args.quick:
        args.zones, args.duration, args.warmup, args.idle = 20_000, 3, 1, 6
    if args.records < MIN_RECORDS:
        parser.error(f"--records: at least {MIN_RECORDS}")
    args.servers = args.servers.split(",")
    if not args.servers or set(args.servers) - set(SERVERS):
        parser.error(f"--servers: choose among {','.join(SERVERS)}")
    sets = {"existing": "existing", "random": "nxdomain"}     # run.measure's set names
    if set(args.sets.split(",")) - set(sets):
        parser.error("--sets: choose among existing,random")
    args.sets = [sets[s] for s in args.sets.split(",")]
    args.transports = args.transports.split(",")
    if set(args.transports) - {"udp", "tcp"}:
        parser.error("--transports: choose among udp,tcp")
    args.fastdns_tree = args.fastdns_tree.resolve()
    args.work = (args.out or Path(tempfile.gettempdir())
                 / f"fastdns-bench-zones-{args.zones}x{args.records}").resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    command = shlex.join([sys.executable, "-m", "bench.zones",
                          *(sys.argv[1:] if argv is None else argv)])
    for name in ("taskset", "dnsperf", *(["pdns_server", "pdns_control"]
                                         if "pdns" in args.servers else [])):
        tool(name)
    lock = lock_workdir(args.work)      # noqa: F841 (held until exit)
    if args.db == "sqlite":
        db = Database(args, ensure_sqlite(args.work, args.zones, args.records))
    else:
        ensure_pgsql(args)
        db = Database(args, None)
        backends_cpu = BackendsCPU(args)
    try:
        t0 = time.monotonic()
        files = ZoneQueries(args.work, args.zones, args.duration, args.warmup)
        for set_name in args.sets:
            for transport in args.transports:
                files.get(set_name, transport)
        print(f"query files: {time.monotonic() - t0:.1f}s", flush=True)
        ports = {name: free_port() for name in SERVERS}
        confdirs = write_configs(args.work, db, ports, args)
        figures: dict[str, Figures] = {}
        runs: list[Run] = []
        for name in args.servers:
            server = make_server(name, args.work, confdirs, ports[name], args.fastdns_tree)
            if args.db == "pgsql":
                server.helper_cpu = backends_cpu
            figures[name], kept = bench_server(server, confdirs[name], db, files, args)
            runs += kept
    finally:
        if args.db == "pgsql" and not args.keep_db:
            drop_pgsql(args)
    text, notes = table(figures, runs), warnings(figures, runs, args.zones)
    print(f"\n{args.zones:,} zones x {args.records} records, {DBS[args.db]}; servers on CPU "
          f"{args.server_cpus}, dnsperf on CPU {args.client_cpus}, {args.duration}s per run; "
          f"fastdns workers={args.workers} zone-check-interval={args.check_interval}, "
          f"pdns receiver-threads={args.workers}")
    print(text)
    for note in notes:
        print(f"warning: {note}")
    out = write_results({
        "bench": "zones",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "environment": environment(args.fastdns_tree),
        "parameters": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in vars(args).items()},
        "servers": {n: {**asdict(f), "config": (confdirs[n] / f"{n}.conf").read_text()}
                    for n, f in figures.items()},
        "runs": [asdict(r) for r in runs],
        "warnings": notes,
        "table": text,
    }, suffix="-zones")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

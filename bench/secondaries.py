"""Many secondary zones: a fastdns secondary refreshing N zones from a fastdns primary.

    python3 -m bench.secondaries [--zones 100000] [--quick] [--outage 60] [--work DIR]
                                 [--fastdns-tree DIR]

The primary is fastdns on an SQLite database in PowerDNS's schema (bench/zones.py's
database with ``--records 7``: SOA, two NS, apex A, MX, www CNAME, mail A; kind NATIVE,
``allow-axfr-ips=127.0.0.1``, ``zone-check-interval=1``), kept in the work directory and
reused. The secondary is fastdns on a new SQLite database holding only the ``domains`` rows:
the N zones, kind SLAVE, ``master`` the primary's address. Both run on 127.0.0.1 with one
worker, on every CPU (2 on the machine measured), and are written straight into SQLite.

What is measured, once a second (a thread of this process):

- **SOA queries/s at the primary**: its ``udp-queries`` counter over the control socket
  (nothing else queries the primary over UDP: transfers are TCP);
- **transfers/s**: the secondary's ``secondary zone 'Z': AXFR|IXFR from`` log lines;
- **the secondary's manager** (``fastdns: manager``): RSS and CPU time; and the
  secondary's processes' CPU time in all.

The phases:

1. **start**: the secondary starts empty; seconds until every zone is transferred (N log
   lines) and served (the SOA of every zone answered NOERROR and authoritative, asked in
   batches), with the peak and mean SOA queries/s and transfers/s.
2. **restart**: the secondary restarts with every zone served from its database: every zone
   gets its first check (spread, at most CHECKS_PER_SECOND a second). 10 s into that flood,
   one zone's serial is raised on the primary (raw SQL; the primary serves it within its
   1 s check), then a NOTIFY is sent from 127.0.0.1; seconds from the NOTIFY until the
   secondary serves the new serial, and how many zones were waiting for their check then.
   The transfers of the phase (only the notified zone should be stored again).
3. **outage**: the secondary restarts again (a new flood of first checks); after 5 s the
   primary is killed and a UDP socket on its port counts the SOA queries that arrive
   (never answered) for ``--outage`` seconds, a second at a time; then the primary starts
   again, and its ``udp-queries`` are counted until ``--resume-wait`` seconds have passed:
   the rate must drop during the outage (backoff) and come back after it.

``--quick`` is 5,000 zones. A table goes to stdout, and every figure, per-second samples
included, to bench/results/<date>-<sha>-secondaries.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype

from bench.host import cpu_seconds, free_port, process_tree
from bench.run import ROOT, Server, environment, lock_workdir, render, write_results
from bench.zones import Progress, ensure_sqlite, ipv4, schema_parts, unanswered, zone_name
from fastdns.control.protocol import ControlError, control_socket_path, send_command

RECORDS = 7             # bench/zones.py's records, the first 7: SOA, NS, NS, A, MX, www, mail
BATCH = 500             # SOA queries sent at once when every zone is asked
TRANSFER = re.compile(rb"secondary zone '[^']*': [AI]XFR from ")
NOTIFIED = 10.0         # seconds into the restart flood when the NOTIFY is sent
KILL_AFTER = 5.0        # seconds into the second restart when the primary is killed


# -- the databases -------------------------------------------------------------------------

def build_secondary(path: Path, zones: int, primary: str) -> None:
    """A new database with the N zones, kind SLAVE, no records (and no image cache)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    cache = Path(f"{path}.fastdns-cache")
    if cache.exists():
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    tables, indexes = schema_parts("sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in tables:
            conn.execute(statement)
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO domains (id, name, type, master) VALUES (?, ?, 'SLAVE', ?)",
                         ((i + 1, zone_name(i), primary) for i in range(zones)))
        conn.execute("COMMIT")
        for statement in indexes:
            conn.execute(statement)
    finally:
        conn.close()


def prefill_secondary(path: Path, primary_db: Path, primary: str) -> None:
    """The secondary's database as after every zone's transfer: the primary's, its zones
    made SLAVE of ``primary`` (``--prefilled``: the restart and outage phases without the
    start, which takes long at 100,000 zones)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    cache = Path(f"{path}.fastdns-cache")
    if cache.exists():
        subprocess.run(["rm", "-rf", str(cache)], check=True)
    subprocess.run(["cp", str(primary_db), str(path)], check=True)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE domains SET type = 'SLAVE', master = ?", (primary,))


def soa_serial(db: Path, i: int) -> tuple[str, int]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        content = conn.execute("SELECT content FROM records WHERE domain_id = ? AND type = 'SOA'",
                               (i + 1,)).fetchone()[0]
    return content, int(content.split()[2])


def set_soa(db: Path, i: int, content: str) -> None:
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("UPDATE records SET content = ? WHERE domain_id = ? AND type = 'SOA'",
                     (content, i + 1))


# -- the servers ---------------------------------------------------------------------------

def write_conf(confdir: Path, settings: dict[str, Any]) -> None:
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "fastdns.conf").write_text(
        "# Generated by bench/secondaries.py\n"
        + "".join(f"{k}={v}\n" for k, v in settings.items()))


@dataclass
class Fastdns(Server):
    """A fastdns of this bench: bench/run.py's Server, with its control socket."""

    run_dir: Path = Path()

    def control(self, *words: str) -> str:
        path = control_socket_path(str(self.run_dir), "")
        return send_command(list(words), unix_path=path, timeout=5).text

    def kill(self) -> None:
        """SIGKILL to its session: the primary dies without a word."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def fastdns(name: str, work: Path, tree: Path, port: int, settings: dict[str, Any]
            ) -> Fastdns:
    run = work / f"{name}-run"
    run.mkdir(parents=True, exist_ok=True)
    write_conf(work / name, {"local-address": "127.0.0.1", "local-port": port,
                             "socket-dir": run, "workers": 1, **settings})
    return Fastdns(name, [sys.executable, "-m", "fastdns", f"--config-dir={work / name}"],
                   tree, port, work / f"{name}.log", run_dir=run)


def launch(server: Server, cpus: str) -> float:
    """Start ``server`` without waiting for an answer; its start time (monotonic)."""
    log = open(server.log, "ab")
    t0 = time.monotonic()
    server.proc = subprocess.Popen(["taskset", "-c", cpus, *server.command], cwd=server.cwd,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    log.close()
    return t0


def udp_queries(server: Fastdns) -> int | None:
    try:
        return int(server.control("show", "udp-queries").strip())
    except (ControlError, OSError, ValueError):
        return None


def manager_pid(server: Server) -> int | None:
    assert server.proc is not None
    for pid in process_tree(server.proc.pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"fastdns: manager"):
                return pid
    return None


def rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)[1]) / 1024   # type: ignore[index]
    return float("nan")


def own_cpu(pid: int) -> float:
    """CPU seconds of one process (its threads), not its children."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return float("nan")


# -- sampling ------------------------------------------------------------------------------

@dataclass
class Sample:
    t: float                  # seconds since the phase's start
    soa: int | None           # UDP queries the primary received in the last second
    transfers: int            # transfers logged by the secondary in the last second
    manager_rss_mb: float
    manager_cpu_s: float      # cumulative
    secondary_cpu_s: float    # cumulative, every process of the secondary


class Sampler(threading.Thread):
    """Once a second: the primary's UDP queries, the secondary's transfers, its manager."""

    def __init__(self, primary: Fastdns, secondary: Fastdns, t0: float) -> None:
        super().__init__(daemon=True)
        self.primary, self.secondary, self.t0 = primary, secondary, t0
        self.samples: list[Sample] = []
        self.transfers = 0
        self.silent: socket.socket | None = None    # the outage's counting socket
        self.stop_event = threading.Event()
        self._offset = secondary.log.stat().st_size if secondary.log.exists() else 0
        self._last = udp_queries(primary)

    def _new_transfers(self) -> int:
        with open(self.secondary.log, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        cut = data.rfind(b"\n") + 1
        self._offset += cut
        return len(TRANSFER.findall(data[:cut]))

    def _soa(self) -> int | None:
        if self.silent is not None:
            count = 0
            with contextlib.suppress(BlockingIOError):
                while True:
                    self.silent.recv(4096)
                    count += 1
            return count
        now = udp_queries(self.primary)
        if now is None or self._last is None:
            self._last = now
            return None
        delta, self._last = now - self._last, now
        return delta

    def run(self) -> None:
        next_t = time.monotonic() + 1
        while not self.stop_event.wait(max(0.0, next_t - time.monotonic())):
            next_t += 1
            moved = self._new_transfers()
            self.transfers += moved
            manager = manager_pid(self.secondary) if self.secondary.proc else None
            self.samples.append(Sample(
                round(time.monotonic() - self.t0, 1), self._soa(), moved,
                rss_mb(manager) if manager else float("nan"),
                own_cpu(manager) if manager else float("nan"),
                cpu_seconds(self.secondary.proc.pid) if self.secondary.proc else 0.0))

    def silence(self, port: int) -> None:
        """Count the datagrams to the (dead) primary's port, unanswered."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(100):                # its workers die a moment after the master
            try:
                sock.bind(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"the killed primary's port {port} stays taken")
        sock.setblocking(False)
        self.silent = sock

    def unsilence(self) -> None:
        if self.silent is not None:
            self._soa()
            self.silent.close()
        self.silent, self._last = None, None

    def finish(self) -> list[Sample]:
        self.stop_event.set()
        self.join()
        return self.samples


# -- queries -------------------------------------------------------------------------------

def served(port: int, indexes: list[int], wait: float = 0.5) -> set[int]:
    """Of zones ``indexes``, those whose SOA came back NOERROR and authoritative (asked
    BATCH at a time with bench.zones's ``unanswered``)."""
    done: set[int] = set()
    for start in range(0, len(indexes), BATCH):
        batch = indexes[start:start + BATCH]
        missing = set(unanswered(port, [zone_name(i) for i in batch], wait))
        done.update(i for i in batch if zone_name(i) not in missing)
    return done


def serial_of(port: int, i: int) -> int | None:
    try:
        answer = dns.query.udp(dns.message.make_query(zone_name(i), "SOA"), "127.0.0.1",
                               port=port, timeout=0.2)
    except (dns.exception.DNSException, OSError):
        return None
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(rrset[0].serial)
    return None


def notify(port: int, i: int) -> int:
    query = dns.message.make_query(zone_name(i), "SOA")
    query.flags = dns.flags.AA          # before the opcode: flags hold it
    query.set_opcode(dns.opcode.NOTIFY)
    answer = dns.query.udp(query, "127.0.0.1", port=port, timeout=2.0)
    return answer.rcode()


def wait_until(what: Any, timeout: float, server: Server, label: str) -> float:
    t0, show = time.monotonic(), Progress(f"  {server.name}")
    while not what():
        server.check_alive()
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{server.name}: {label}: not after {timeout:.0f}s; "
                               f"see {server.log}")
        show(label)
        time.sleep(0.01)
    return time.monotonic() - t0


# -- the phases ----------------------------------------------------------------------------

@dataclass
class Figures:
    zones: int = 0
    start_all_s: float = float("nan")           # transferred and served
    start_transferred_s: float = float("nan")   # N transfers logged
    start_soa_peak: int = 0
    start_soa_mean: float = float("nan")
    start_transfers_peak: int = 0
    start_transfers_mean: float = float("nan")
    start_manager_rss_mb: float = float("nan")
    start_manager_cpu_s: float = float("nan")
    start_secondary_cpu_s: float = float("nan")
    restart_first_answer_s: float = float("nan")
    restart_soa_peak: int = 0
    restart_soa_mean: float = float("nan")
    restart_manager_cpu_pct: float = float("nan")
    notify_zone: str = ""
    notify_latency_s: float = float("nan")
    notify_backlog: int = 0                    # zones not yet checked at the NOTIFY
    restart_transfers: int = 0                 # stored again during the restart phase
    outage_counts: list[int | None] = field(default_factory=list)
    resume_counts: list[int | None] = field(default_factory=list)
    resume_first_s: float = float("nan")       # primary back -> first SOA query to it
    samples: dict[str, list[dict]] = field(default_factory=dict)


def phase_start(args: argparse.Namespace, primary: Fastdns, secondary: Fastdns,
                figures: Figures) -> None:
    n = args.zones
    t0 = launch(secondary, args.cpus)
    sampler = Sampler(primary, secondary, t0)
    sampler.start()
    try:
        wait_until(lambda: sampler.transfers >= n, args.timeout, secondary,
                   "transferring")
        figures.start_transferred_s = time.monotonic() - t0
        pending = list(range(n))
        while pending:
            secondary.check_alive()
            if time.monotonic() - t0 > args.timeout:
                raise RuntimeError(f"{len(pending)} zones not served; see {secondary.log}")
            pending = sorted(set(pending) - served(secondary.port, pending))
            if pending:
                time.sleep(0.1)
        figures.start_all_s = time.monotonic() - t0
    finally:
        samples = sampler.finish()
    busy = [s for s in samples if s.t <= figures.start_all_s + 1]
    soa = [s.soa for s in busy if s.soa is not None]
    figures.start_soa_peak = max(soa, default=0)
    figures.start_soa_mean = sum(soa) / figures.start_all_s
    figures.start_transfers_peak = max((s.transfers for s in busy), default=0)
    figures.start_transfers_mean = n / figures.start_transferred_s
    manager = manager_pid(secondary)
    figures.start_manager_rss_mb = rss_mb(manager) if manager else float("nan")
    figures.start_manager_cpu_s = own_cpu(manager) if manager else float("nan")
    figures.start_secondary_cpu_s = cpu_seconds(secondary.proc.pid)  # type: ignore[union-attr]
    figures.samples["start"] = [asdict(s) for s in samples]


def phase_restart(args: argparse.Namespace, primary: Fastdns, secondary: Fastdns,
                  figures: Figures) -> None:
    n = args.zones
    if secondary.proc is not None:
        secondary.stop()
    t0 = launch(secondary, args.cpus)
    sampler = Sampler(primary, secondary, t0)
    sampler.start()
    i = n // 2 + 1
    figures.notify_zone = zone_name(i)
    content, serial = soa_serial(args.primary_db, i)
    new = content.replace(f" {serial} ", f" {serial + 1} ", 1)
    try:
        figures.restart_first_answer_s = wait_until(
            lambda: serial_of(secondary.port, i) == serial, args.timeout, secondary,
            "restarting")
        time.sleep(max(0.0, t0 + NOTIFIED - time.monotonic()))
        set_soa(args.primary_db, i, new)
        wait_until(lambda: serial_of(primary.port, i) == serial + 1, 60, primary,
                   "the primary's new serial")
        before = sum(s.soa or 0 for s in sampler.samples)
        rcode = notify(secondary.port, i)
        if rcode != dns.rcode.NOERROR:
            raise RuntimeError(f"NOTIFY answered {dns.rcode.Rcode(rcode).name}")
        figures.notify_latency_s = wait_until(
            lambda: serial_of(secondary.port, i) == serial + 1, 120, secondary,
            "the notified zone's new serial")
        # zones not checked yet at the NOTIFY: one SOA query per check since the restart
        figures.notify_backlog = max(0, n - before)
        time.sleep(5)
    finally:
        samples = sampler.finish()
        set_soa(args.primary_db, i, content)
    soa = [s.soa for s in samples if s.soa is not None]
    figures.restart_soa_peak = max(soa, default=0)
    figures.restart_soa_mean = sum(soa) / max(1, len(soa))
    if len(samples) >= 2:
        span = samples[-1].t - samples[0].t
        figures.restart_manager_cpu_pct = \
            (samples[-1].manager_cpu_s - samples[0].manager_cpu_s) / span * 100
    figures.restart_transfers = sampler.transfers
    figures.samples["restart"] = [asdict(s) for s in samples]


def phase_outage(args: argparse.Namespace, primary: Fastdns, secondary: Fastdns,
                 figures: Figures) -> None:
    if secondary.proc is not None:
        secondary.stop()
    t0 = launch(secondary, args.cpus)
    sampler = Sampler(primary, secondary, t0)
    sampler.start()
    try:
        wait_until(lambda: serial_of(secondary.port, 0) is not None, args.timeout, secondary,
                   "restarting")
        time.sleep(max(0.0, t0 + KILL_AFTER - time.monotonic()))
        primary.kill()
        sampler.silence(primary.port)
        mark = len(sampler.samples)
        time.sleep(args.outage)
        figures.outage_counts = [s.soa for s in sampler.samples[mark:]]
        sampler.unsilence()
        back = launch(primary, args.cpus)
        wait_until(lambda: serial_of(primary.port, 0) is not None, args.timeout, primary,
                   "the primary back")
        sampler._last = udp_queries(primary)
        mark = len(sampler.samples)
        first = None
        while time.monotonic() - back < args.resume_wait:
            time.sleep(1)
            if first is None and any(s.soa for s in sampler.samples[mark:]):
                first = time.monotonic() - back
        figures.resume_counts = [s.soa for s in sampler.samples[mark:]]
        figures.resume_first_s = first if first is not None else float("nan")
    finally:
        figures.samples["outage"] = [asdict(s) for s in sampler.finish()]


# -- the run -------------------------------------------------------------------------------

def table(f: Figures) -> str:
    def rate(counts: list[int | None]) -> str:
        got = [c for c in counts if c is not None]
        return f"{sum(got) / max(1, len(got)):,.1f}/s (max {max(got, default=0):,})"

    rows = [
        ["secondary zones", f"{f.zones:,}"],
        ["start: all transferred", f"{f.start_transferred_s:,.1f} s"],
        ["start: all transferred and served", f"{f.start_all_s:,.1f} s"],
        ["start: SOA queries/s at the primary", f"mean {f.start_soa_mean:,.0f}, "
                                                f"peak {f.start_soa_peak:,}"],
        ["start: transfers/s", f"mean {f.start_transfers_mean:,.0f}, "
                               f"peak {f.start_transfers_peak:,}"],
        ["start: secondary's manager", f"RSS {f.start_manager_rss_mb:,.0f} MiB, "
                                       f"CPU {f.start_manager_cpu_s:,.1f} s"],
        ["start: secondary, all processes", f"CPU {f.start_secondary_cpu_s:,.1f} s"],
        ["restart: first answer", f"{f.restart_first_answer_s:,.2f} s"],
        ["restart: SOA queries/s (first checks)", f"mean {f.restart_soa_mean:,.0f}, "
                                                  f"peak {f.restart_soa_peak:,}"],
        ["restart: manager CPU", f"{f.restart_manager_cpu_pct:,.0f}% of a core"],
        ["NOTIFY during the flood -> new serial", f"{f.notify_latency_s:,.3f} s "
                                                  f"({f.notify_backlog:,} zones unchecked)"],
        ["restart: zones stored again", f"{f.restart_transfers:,}"],
        ["outage: SOA queries/s to the dead primary", rate(f.outage_counts)],
        ["back: first SOA query after", f"{f.resume_first_s:,.0f} s"],
        ["back: SOA queries/s", rate(f.resume_counts)],
    ]
    def seconds(counts: list[int | None]) -> str:
        return " ".join("-" if c is None else str(c) for c in counts)

    return (render(["figure", "fastdns"], rows)
            + f"\nSOA queries to the dead primary, a second at a time: "
              f"{seconds(f.outage_counts)}"
            + f"\nSOA queries to the primary back, a second at a time: "
              f"{seconds(f.resume_counts)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="5,000 zones")
    parser.add_argument("--outage", type=float, default=60.0,
                        help="seconds the primary is down")
    parser.add_argument("--resume-wait", type=float, default=150.0,
                        help="seconds the queries are counted after the primary is back")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--phases", default="start,restart,outage")
    parser.add_argument("--prefilled", action="store_true",
                        help="the secondary's database a copy of the primary's (every zone "
                             "as if transferred); the start phase is left out")
    parser.add_argument("--cpus", default=",".join(map(str, sorted(os.sched_getaffinity(0)))),
                        help="CPUs of both servers (taskset -c)")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--fastdns-tree", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    if args.quick:
        args.zones = 5_000
    if args.prefilled:
        args.phases = ",".join(p for p in args.phases.split(",") if p != "start")
    if args.work is None:
        args.work = Path(tempfile.gettempdir()) / f"fastdns-bench-secondaries-{args.zones}"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work
    lock = lock_workdir(work)
    (work / "primary").mkdir(parents=True, exist_ok=True)
    args.primary_db = ensure_sqlite(work / "primary", args.zones, RECORDS)
    ports = {"primary": free_port(), "secondary": free_port()}
    secondary_db = work / "secondary" / "secondary.sqlite3"
    secondary_db.parent.mkdir(parents=True, exist_ok=True)
    t = time.monotonic()
    if args.prefilled:
        prefill_secondary(secondary_db, args.primary_db, f"127.0.0.1:{ports['primary']}")
    else:
        build_secondary(secondary_db, args.zones, f"127.0.0.1:{ports['primary']}")
    print(f"secondary database: {args.zones:,} SLAVE zones in {time.monotonic() - t:.1f}s"
          + (" (prefilled: a copy of the primary's)" if args.prefilled else ""))
    primary = fastdns("primary", work, args.fastdns_tree, ports["primary"], {
        "launch": "gsqlite3", "gsqlite3-database": args.primary_db,
        "allow-axfr-ips": "127.0.0.1/32", "zone-check-interval": 1, "loglevel": 4})
    secondary = fastdns("secondary", work, args.fastdns_tree, ports["secondary"], {
        "launch": "gsqlite3", "gsqlite3-database": secondary_db, "secondary": "yes",
        "loglevel": 6})
    for server in (primary, secondary):
        server.log.unlink(missing_ok=True)
    figures = Figures(zones=args.zones)
    phases = args.phases.split(",")
    try:
        primary.start(args.cpus, (zone_name(0) + ".", ipv4(0)), args.timeout)
        print(f"primary: {args.zones:,} zones, first answer after {primary.load_s:.1f}s",
              flush=True)
        wait_until(lambda: len(served(primary.port, [args.zones - 1])) == 1, args.timeout,
                   primary, "the primary's last zone")
        if "start" in phases:
            phase_start(args, primary, secondary, figures)
            print(f"start: every zone transferred and served after {figures.start_all_s:.1f}s",
                  flush=True)
        if "restart" in phases:
            phase_restart(args, primary, secondary, figures)
            print(f"restart: NOTIFY acted on in {figures.notify_latency_s:.3f}s", flush=True)
        if "outage" in phases:
            phase_outage(args, primary, secondary, figures)
    finally:
        secondary.stop()
        primary.stop()
        lock.close()
    text = table(figures)
    print(text)
    out = write_results({"environment": environment(args.fastdns_tree),
                         "command": sys.argv, "parameters": {
                             k: str(v) for k, v in vars(args).items()},
                         "figures": asdict(figures), "table": text}, "-secondaries")
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

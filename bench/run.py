"""dnsperf against fastdns, PowerDNS, Knot and NSD on the same synthetic zone, in one run.

    python3 -m bench.run [--names 10000|1000000] [--workers N] [--duration S]
                         [--servers fastdns,pdns,knot,nsd,floor] [--sets existing,nxdomain]
                         [--transports udp,tcp] [--quick]

The servers: fastdns (this checkout's in-place build), PowerDNS's pdns_server (bind backend),
Knot's knotd and NSD (skipped, with a note, when not installed), all serving the same zone
file on 127.0.0.1, and the floor: bench/floor.c, a UDP server that answers every query with
the query itself, through the same recvmmsg/sendmmsg loop as fastdns. It does no DNS work,
so its CPU time per answer is what the kernel alone costs; over TCP it is not run.

Generates the zone and the configurations (bench/gen_zone.py) and the query files
(bench/querysets/) in a work directory and compiles the floor there (``cc -O2``), then for
each server in turn: starts it on 127.0.0.1 pinned to CPU 0 (``taskset -c 0``: its threads
and worker processes inherit the mask), times the zone load (process start to the first
correct answer for the last name of the zone file; for the floor, any answer), and for each
query set and transport runs ``taskset -c 1 dnsperf`` against it, after a one-second
warm-up. With ``--workers 2`` every worker and thread still shares CPU 0 (dnsperf needs the
other core): that measures memory, load time and CPU per answer, not scaling.

On a 2-core machine dnsperf saturates its own core at 120-150k queries/s, so queries/s alone
cannot show a faster server. The figure that counts is the server's CPU time per answer at
that load: the user + system time of every server process (the process started, and all its
descendants, found through /proc/*/stat; threads are counted in their process) over the run,
divided by the answers dnsperf received. Memory is the PSS of the same processes, summed.
Latency percentiles come from dnsperf's ``-v`` per-answer lines (dnsperf 2.10 has no
histogram), written to a file during the run and read after it.

The machine is shared (builds, test suites): before each start and run the benchmark waits
(``--quiet-wait``) for it to be idle, measures the CPU time other processes take during each
run anyway and warns when it passes 5%; ``--repeat N`` runs each case N times and keeps the
median of the quiet runs (by CPU per answer), or the quietest when none was.

One table goes to stdout, a column per server, with the fastdns/PowerDNS, fastdns/Knot,
fastdns/NSD and floor/PowerDNS ratios on every row (those of the servers that ran); every
figure, with the git sha, CPU model, core count, worker count, versions and the command
line, goes to bench/results/<date>-<sha>.json.
"""

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import platform
import re
import resource
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode

from bench import gen_zone, querysets
from bench.host import (
    BUSY,
    cpu_seconds,
    free_port,
    installed,
    memory_mb,
    own_cpu,
    system_cpu,
    tool,
    wait_quiet,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVERS = ("fastdns", "pdns", "knot", "nsd", "floor")      # in the table's order
BINARIES = {"pdns": "pdns_server", "knot": "knotd", "nsd": "nsd", "floor": "cc"}
OPTIONAL = ("knot", "nsd")          # left out of the default --servers when not installed
RATIOS = (("fastdns", "pdns"), ("fastdns", "knot"), ("fastdns", "nsd"), ("floor", "pdns"))
WORKER_SETTINGS = {"fastdns": "workers", "pdns": "receiver-threads",      # all = --workers
                   "knot": "udp-workers=tcp-workers", "nsd": "server-count"}
FLOOR_SOURCE = ROOT / "bench" / "floor.c"
SETS = ("existing", "nxdomain")
TRANSPORTS = ("udp", "tcp")
EXPECTED_RCODE = {"existing": "NOERROR", "nxdomain": "NXDOMAIN"}
NX_QPS_CEILING = 500_000     # lines of an nxdomain file per second of run: none is reused


# -- the floor ----------------------------------------------------------------------------

def build_floor(work: Path) -> Path:
    """bench/floor.c compiled into ``work``, again whenever the source is newer."""
    binary = work / "floor"
    if binary.exists() and binary.stat().st_mtime >= FLOOR_SOURCE.stat().st_mtime:
        return binary
    proc = subprocess.run([tool("cc"), "-O2", "-Wall", "-o", str(binary), str(FLOOR_SOURCE)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench: cc could not build {FLOOR_SOURCE}:\n{proc.stderr}")
    return binary


# -- servers ------------------------------------------------------------------------------

@dataclass
class Server:
    """One server under test: how to start it, and what it was measured at."""

    name: str
    command: list[str]
    cwd: Path
    port: int
    log: Path
    # an echo server, the floor: it answers UDP only, with the query itself, and loads no
    # zone, so any reply with the query's ID shows it is ready
    echo: bool = False
    # CPU time (s, cumulative) of processes outside the server's tree that do its work: the
    # PostgreSQL server behind an SQL backend. Counted as the server's, not as other load.
    helper_cpu: Callable[[], float] | None = None
    proc: subprocess.Popen | None = None
    load_s: float = 0.0
    load_cpu_s: float = 0.0
    load_other_cpu_s: float = 0.0
    memory_loaded: dict = field(default_factory=dict)
    memory_after: dict = field(default_factory=dict)

    @property
    def transports(self) -> tuple[str, ...]:
        return ("udp",) if self.echo else TRANSPORTS

    def start(self, cpus: str, probe: tuple[str, str], timeout: float,
              tick: Callable[[float], None] | None = None) -> None:
        """Start pinned to ``cpus``; return once the probe name answers with its address
        over UDP and TCP accepts (an echo server: once it replies over UDP), having
        recorded the load time. ``tick`` is called with the seconds waited so far at
        every unanswered probe (a progress line)."""
        system0, self0, helper0 = system_cpu(), own_cpu(), self.cpu()
        with open(self.log, "ab") as log:
            t0 = time.monotonic()
            self.proc = subprocess.Popen(["taskset", "-c", cpus, *self.command], cwd=self.cwd,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        qname, address = probe
        query = dns.message.make_query(qname, "A")
        while True:
            self.check_alive()
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"{self.name}: no answer for {qname} in {timeout}s; "
                                   f"see {self.log}")
            if tick is not None:
                tick(time.monotonic() - t0)
            try:
                ready = self.ready(query, address)
            except (dns.exception.Timeout, OSError):
                time.sleep(0.01)
                continue
            if ready:
                self.check_alive()      # the answer came from this server, not a stale one
                self.load_s = time.monotonic() - t0
                self.load_cpu_s = self.cpu() - helper0
                system = system_cpu()
                self.load_other_cpu_s = sum(system[k] - system0[k] for k in BUSY) \
                    - self.load_cpu_s - (own_cpu() - self0)
                break
            time.sleep(0.01)
        if "tcp" in self.transports:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5):
                pass

    def ready(self, query: dns.message.Message, address: str) -> bool:
        """Whether ``query`` is answered with ``address`` (NOERROR); for an echo server,
        whether a reply with the query's ID comes back. Raises OSError on a timeout."""
        if not self.echo:
            answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.1)
            return answer.rcode() == dns.rcode.NOERROR and any(
                rr.to_text() == address for rrset in answer.answer for rr in rrset)
        wire = query.to_wire()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.1)
            sock.sendto(wire, ("127.0.0.1", self.port))
            return sock.recv(65535)[:2] == wire[:2]

    def cpu(self) -> float:
        """CPU time (s) of the server's processes and of its helper, so far (0 before the
        start but for the helper's)."""
        own = cpu_seconds(self.proc.pid) if self.proc is not None else 0.0
        return own + (self.helper_cpu() if self.helper_cpu is not None else 0.0)

    def check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; "
                               f"see {self.log}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the session it was started in (its workers too)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def make_server(name: str, work: Path, confdirs: dict[str, Path], port: int,
                fastdns_tree: Path) -> Server:
    """The server ``name``, in the foreground, with the configuration of ``confdirs``."""
    log = work / f"{name}.log"
    if name == "fastdns":
        # the checkout's in-place build: `-m fastdns` from the tree's root
        return Server(name, [sys.executable, "-m", "fastdns",
                             f"--config-dir={confdirs[name]}"], fastdns_tree, port, log)
    if name == "pdns":
        return Server(name, [tool("pdns_server"), f"--config-dir={confdirs[name]}"],
                      work, port, log)
    if name == "knot":      # knotd stays in the foreground unless given -d
        return Server(name, [tool("knotd"), "-c", str(confdirs[name] / "knot.conf")],
                      work, port, log)
    if name == "nsd":
        return Server(name, [tool("nsd"), "-d", "-c", str(confdirs[name] / "nsd.conf")],
                      work, port, log)
    assert name == "floor"
    return Server(name, [str(build_floor(work)), str(port)], work, port, log, echo=True)


# -- dnsperf ------------------------------------------------------------------------------

@dataclass
class Run:
    """One dnsperf run against one server: every figure it gave."""

    server: str
    set: str
    transport: str
    qps: float
    sent: int
    answers: int
    lost: int
    run_s: float
    duration_s: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    cpu_s: float
    cpu_us_per_answer: float
    server_cpu_pct: float
    dnsperf_cpu_s: float
    other_cpu_s: float
    system_cpu_s: dict[str, float]
    response_bytes: int
    rcodes: dict[str, int]


def dnsperf(port: int, queries: Path, transport: str, seconds: int, args: argparse.Namespace,
            verbose: Path | None = None, once: bool = False,
            after: Callable[[], Any] = float, flags: tuple[str, ...] = ()
            ) -> tuple[str, list[float], tuple[float, Any]]:
    """Run dnsperf pinned to the client CPU: its summary, the sorted per-answer latencies (s)
    when ``verbose`` names a file for its -v lines, and (its CPU time (s), what ``after``
    returned the moment it exited), so that nothing done afterwards is counted. ``flags``
    are more dnsperf options (bench/dnssec.py: -D)."""
    cmd = ["taskset", "-c", args.client_cpus, tool("dnsperf"), "-s", "127.0.0.1",
           "-p", str(port), "-m", transport, "-d", str(queries), "-l", str(seconds),
           "-c", str(args.clients), "-q", str(args.outstanding), "-t", str(args.timeout)]
    if once:
        cmd += ["-n", "1"]
    cmd += flags
    if args.qps_limit:
        cmd += ["-Q", str(args.qps_limit)]
    if verbose is not None:
        cmd.append("-v")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(verbose or os.devnull, "w") as out:
        proc = subprocess.run(cmd, stdout=out if verbose else subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    sample = after()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    summary, values = (proc.stdout, []) if verbose is None else read_verbose(verbose)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed:\n{proc.stderr}{summary[-2000:]}")
    return summary, values, (used, sample)


def read_verbose(path: Path) -> tuple[str, list[float]]:
    """dnsperf -v output: the summary lines, and the latencies of the per-answer lines
    (``> RCODE qname qtype latency``), sorted. The file is removed."""
    summary, values = [], []
    with open(path) as lines:
        for line in lines:
            if line.startswith("> "):
                with contextlib.suppress(ValueError, IndexError):
                    values.append(float(line.rsplit(None, 1)[1]))
            else:
                summary.append(line)
    path.unlink()
    values.sort()
    return "".join(summary), values


def statistics(text: str) -> dict:
    """The figures of dnsperf's summary."""
    def number(label: str) -> float:
        match = re.search(rf"^\s*{label}:\s+([\d.]+)", text, re.M)
        if match is None:
            raise RuntimeError(f"dnsperf output without '{label}':\n{text[-2000:]}")
        return float(match.group(1))

    codes = re.search(r"Response codes:\s+(.*)", text)
    rcodes = {m[1]: int(m[2]) for m in re.finditer(r"([A-Z]+) (\d+) \(", codes[1])} \
        if codes else {}
    size = re.search(r"Average packet size:\s+request \d+, response (\d+)", text)
    return {"sent": int(number("Queries sent")), "answers": int(number("Queries completed")),
            "lost": int(number("Queries lost")), "qps": number("Queries per second"),
            "run_s": number(r"Run time \(s\)"), "mean_s": number(r"Average Latency \(s\)"),
            "rcodes": rcodes, "response_bytes": int(size[1]) if size else 0}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted ``values``, in ms."""
    if not values:
        return float("nan")
    rank = max(0, min(len(values) - 1, int(len(values) * p / 100 + 0.999999) - 1))
    return values[rank] * 1000


def measure(server: Server, set_name: str, transport: str, files: "QueryFiles",
            args: argparse.Namespace, attempt: int) -> Run:
    assert server.proc is not None
    queries, warm = files.get(set_name, transport, attempt)
    once = set_name == "nxdomain"
    wait_quiet(args.quiet_wait)
    dnsperf(server.port, warm, transport, args.warmup, args, once=once)
    verbose = args.work / f"dnsperf-{server.name}-{set_name}-{transport}.out"
    cpu0, system0 = server.cpu(), system_cpu()
    text, lat, (client_cpu, (cpu1, system1)) = dnsperf(
        server.port, queries, transport, args.duration, args, verbose, once=once,
        after=lambda: (server.cpu(), system_cpu()))
    server.check_alive()        # else another process on the port answered dnsperf
    cpu = cpu1 - cpu0
    system = {k: system1[k] - system0[k] for k in system0}
    # busy time on every CPU not charged to the server or dnsperf: another job on the
    # machine, which makes the run noisy. Interrupt time is included, because the kernel
    # charges the loopback network work done in softirq to the process it interrupted too.
    other = sum(system[k] for k in BUSY) - cpu - client_cpu
    stats = statistics(text)
    # dnsperf's run time: sending the queries and waiting for their answers (the
    # process lives on for up to --timeout more when answers are lost)
    busy = stats["run_s"] or 1
    answers = stats["answers"]
    return Run(server.name, set_name, transport, stats["qps"], stats["sent"], answers,
               stats["lost"], stats["run_s"], args.duration, stats["mean_s"] * 1000,
               percentile(lat, 50),
               percentile(lat, 90), percentile(lat, 99), percentile(lat, 99.9),
               lat[-1] * 1000 if lat else float("nan"), cpu, cpu / max(answers, 1) * 1e6,
               cpu / busy * 100, client_cpu, other, system, stats["response_bytes"],
               stats["rcodes"])


class QueryFiles:
    """The query files of the work directory, written on first use."""

    def __init__(self, work: Path, zone: gen_zone.Zone, duration: int, warmup: int) -> None:
        self.work, self.zone = work, zone
        self.lines = NX_QPS_CEILING * duration
        self.warm_lines = NX_QPS_CEILING * warmup
        self.existing = querysets.write_existing(work / "existing.queries", zone)

    def get(self, set_name: str, transport: str, attempt: int = 1) -> tuple[Path, Path]:
        """(measured file, warm-up file) of a set and transport; each attempt of a repeated
        nxdomain run has its own file, so it never meets an earlier attempt's names."""
        if set_name == "existing":
            return self.existing, self.existing
        return (self._nxdomain(f"{transport}-{attempt}", self.lines),
                self._nxdomain(f"{transport}-warm", self.warm_lines))

    def _nxdomain(self, tag: str, lines: int) -> Path:
        path = self.work / f"nxdomain-{tag}.queries"
        stamp = f"{self.zone.zone} {lines}"
        marker = path.with_suffix(".stamp")
        if not path.exists() or not marker.exists() or marker.read_text() != stamp:
            querysets.write_nxdomain(path, self.zone, lines, tag)
            marker.write_text(stamp)
        return path


# -- the table ----------------------------------------------------------------------------

ROWS = (  # (label, Run attribute, format)
    ("queries/s", "qps", "{:,.0f}"),
    ("mean latency ms", "mean_ms", "{:.3f}"),
    ("p99 latency ms", "p99_ms", "{:.3f}"),
    ("lost queries", "lost", "{:,}"),
    ("CPU µs/answer", "cpu_us_per_answer", "{:.2f}"),
    ("server CPU busy %", "server_cpu_pct", "{:.0f}"),
)


def ratio(values: dict[str, float], a: str, b: str) -> str:
    """``values[a] / values[b]``: blank when ``a`` has no value (the floor over TCP), "-"
    when ``b`` has none or both are 0."""
    if a not in values:
        return ""
    if b not in values or values[a] == values[b] == 0:
        return "-"
    return f"{values[a] / values[b]:.2f}" if values[b] else "inf"


def table(runs: list[Run], servers: dict[str, Server]) -> str:
    """A column per server that ran, then one per ratio of two that ran (RATIOS); a block
    of rows per set and transport, and one for the servers' load time and memory."""
    names = [n for n in SERVERS if n in servers]
    ratios = [(a, b) for a, b in RATIOS if a in servers and b in servers]
    header = ["figure", *names, *(f"{a}/{b}" for a, b in ratios)]
    rows: list[list[str]] = []

    def add(label: str, values: dict[str, float], fmt: str) -> None:
        rows.append([f"  {label}", *(fmt.format(values[n]) if n in values else "-"
                                     for n in names),
                     *(ratio(values, a, b) for a, b in ratios)])

    cases: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        cases.setdefault((run.set, run.transport), {})[run.server] = run
    for (set_name, transport), by_server in cases.items():
        rows.append([f"{set_name}/{transport}"])
        for label, attr, fmt in ROWS:
            add(label, {n: getattr(r, attr) for n, r in by_server.items()}, fmt)
    rows.append(["server"])
    loaded = {n: s for n, s in servers.items() if not s.echo}      # the floor loads no zone
    add("zone load s", {n: s.load_s for n, s in loaded.items()}, "{:,.2f}")
    add("zone load CPU s", {n: s.load_cpu_s for n, s in loaded.items()}, "{:,.2f}")
    add("PSS after load MiB", {n: s.memory_loaded["pss_mb"] for n, s in servers.items()},
        "{:,.1f}")
    add("PSS after runs MiB", {n: s.memory_after["pss_mb"] for n, s in servers.items()},
        "{:,.1f}")
    return render(header, rows)


def render(header: list[str], rows: list[list[str]]) -> str:
    """Aligned text columns: the first left-aligned, the others right-aligned; a row shorter
    than the header (a block title) is padded with blank cells."""
    rows = [row + [""] * (len(header) - len(row)) for row in rows]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if k == 0 else c.rjust(w)
                         for k, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def warnings(runs: list[Run], servers: dict[str, Server]) -> list[str]:
    """Answers that differ in kind between servers make their figures incomparable; other
    processes busy on the machine make them noisy. The floor's answers are its queries:
    NOERROR, and of the query's size."""
    out = [f"{s.name}: other processes used {s.load_other_cpu_s:.2f}s of CPU during the "
           f"{s.load_s:.1f}s zone load (noisy)"
           for s in servers.values() if s.load_other_cpu_s > max(0.25, 0.05 * s.load_s)]
    cases: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        cases.setdefault((run.set, run.transport), {})[run.server] = run
        expected = "NOERROR" if servers[run.server].echo else EXPECTED_RCODE[run.set]
        unexpected = {k: v for k, v in run.rcodes.items() if k != expected}
        if unexpected:
            out.append(f"{run.server} {run.set}/{run.transport}: unexpected rcodes {unexpected}")
        if run.set == "nxdomain" and run.run_s < 0.9 * run.duration_s:
            out.append(f"{run.server} {run.set}/{run.transport}: the query file ran out after "
                       f"{run.run_s:.1f}s (raise NX_QPS_CEILING)")
        if noisy(run):
            out.append(f"{run.server} {run.set}/{run.transport}: other processes used "
                       f"{run.other_cpu_s:.2f}s of CPU during the {run.run_s:.0f}s run (noisy)")
    for (set_name, transport), by_server in cases.items():
        sizes = {n: r.response_bytes for n, r in by_server.items() if not servers[n].echo}
        if len(set(sizes.values())) > 1:
            out.append(f"{set_name}/{transport}: mean response size differs {sizes}")
    return out


# -- the run ------------------------------------------------------------------------------

def environment(fastdns_tree: Path) -> dict:
    def output(*cmd: str, cwd: Path = ROOT, check: bool = False) -> str:
        """What ``cmd`` printed; with ``check``, "" when it failed (git outside a repo)."""
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        if check and proc.returncode != 0:
            return ""
        return (proc.stdout + proc.stderr).strip()

    def version(pattern: str, program: str, *flags: str) -> str:
        """The version ``program`` prints, "" when it is not installed."""
        path = installed(program)
        match = re.search(pattern, output(path, *flags)) if path else None
        return match[1] if match else ""

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    dirty = output("git", "status", "--porcelain", "--untracked-files=no", cwd=fastdns_tree,
                   check=True)
    return {
        "sha": output("git", "rev-parse", "--short", "HEAD", cwd=fastdns_tree, check=True)
        or "unknown",
        "dirty": sorted(line.split(maxsplit=1)[1] for line in dirty.splitlines()),
        "fastdns_tree": str(fastdns_tree),
        "bench_sha": output("git", "rev-parse", "--short", "HEAD") or "unknown",
        "bench_dirty": "bench/" in output("git", "status", "--porcelain", "bench"),
        "fastdns_version": output(sys.executable, "-m", "fastdns", "--version", cwd=fastdns_tree),
        "pdns_version": version(r"Authoritative Server ([\d.]+)", "pdns_server", "--version"),
        "knot_version": version(r"version ([\d.]+)", "knotd", "--version"),
        "nsd_version": version(r"NSD version ([\d.]+)", "nsd", "-v"),
        "cc_version": version(r"(.+)", "cc", "--version"),      # the floor's compiler
        "dnsperf_version": version(r"Version ([\d.]+)", "dnsperf", "-h"),
        "cpu_model": model[1] if model else platform.processor(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def write_results(record: dict, suffix: str = "") -> Path:
    """``record`` as bench/results/<date>-<sha><suffix>.json (-2, -3... when taken)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.date.today().isoformat()}-{record['environment']['sha']}{suffix}"
    out, n = RESULTS / f"{stem}.json", 1
    while out.exists():
        n += 1
        out = RESULTS / f"{stem}-{n}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (bench/run.py) for what is measured and how.")
    parser.add_argument("--names", type=int, default=10_000,
                        help="names in the zone, each with A, AAAA, MX, TXT (10000 or 1000000)")
    parser.add_argument("--workers", type=int, default=1,
                        help="fastdns workers = PowerDNS receiver threads = Knot UDP and TCP "
                             "workers = NSD servers (default 1)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case; the table shows the median (CPU per answer) of "
                             "the quiet ones, or the quietest; the JSON has them all")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="before each server start and run, wait up to this many seconds "
                             "for the machine to be idle (0: do not wait)")
    parser.add_argument("--servers",
                        help=f"among {','.join(SERVERS)} (default: all of them, knot and nsd "
                             "only when installed)")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--transports", default=",".join(TRANSPORTS))
    parser.add_argument("--clients", type=int, default=8, help="dnsperf -c (sockets)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q")
    parser.add_argument("--qps-limit", type=int, default=0,
                        help="dnsperf -Q: offered load (default 0: as fast as it can, where "
                             "latency is mostly queueing: mean = outstanding / (queries/s))")
    parser.add_argument("--timeout", type=int, default=1,
                        help="dnsperf -t: seconds before a query counts as lost (default 1)")
    parser.add_argument("--server-cpus", default="0",
                        help="taskset list for the servers (default 0: every worker and "
                             "thread on CPU 0, whatever --workers)")
    parser.add_argument("--client-cpus", default="1", help="taskset list for dnsperf")
    parser.add_argument("--work", type=Path,
                        help="work directory for zones, configs, query files and logs "
                             "(default $TMPDIR/fastdns-bench-NAMES, kept for the next run)")
    parser.add_argument("--fastdns-tree", type=Path, default=ROOT,
                        help="source tree whose in-place build is run as fastdns "
                             "(default: this checkout)")
    parser.add_argument("--load-timeout", type=float, default=1800,
                        help="seconds a server may take to load the zone")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 10000 names, 2 s runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.names, args.duration, args.warmup = 10_000, 2, 1
    args.skipped = []       # optional servers left out of the default, not being installed
    if args.servers is None:
        args.skipped = [n for n in OPTIONAL if installed(BINARIES[n]) is None]
        args.servers = ",".join(n for n in SERVERS if n not in args.skipped)
    for option in ("servers", "sets", "transports"):
        chosen = getattr(args, option).split(",")
        allowed = {"servers": SERVERS, "sets": SETS, "transports": TRANSPORTS}[option]
        if not chosen or set(chosen) - set(allowed):
            parser.error(f"--{option}: choose among {','.join(allowed)}")
        setattr(args, option, chosen)
    args.work = (args.work or gen_zone.default_workdir(args.names)).resolve()
    args.fastdns_tree = args.fastdns_tree.resolve()
    return args


def representative(tries: list[Run]) -> Run:
    """Of repeated runs, the median by CPU per answer among the quiet ones (other processes
    under 5% of a CPU); when none was quiet, the quietest."""
    quiet = sorted((r for r in tries if not noisy(r)), key=lambda r: r.cpu_us_per_answer)
    if quiet:
        return quiet[(len(quiet) - 1) // 2]
    return min(tries, key=lambda r: r.other_cpu_s)


def noisy(run: Run) -> bool:
    return run.other_cpu_s > 0.05 * run.run_s


def bench_server(server: Server, zone: gen_zone.Zone, files: QueryFiles,
                 args: argparse.Namespace) -> tuple[list[Run], list[Run]]:
    """Start ``server``, run every case against it, stop it: the run kept for each case,
    and every attempt."""
    runs: list[Run] = []
    attempts: list[Run] = []
    server.log.unlink(missing_ok=True)
    print(f"{server.name}: starting on CPU {args.server_cpus}, loading ...", end=" ", flush=True)
    try:
        wait_quiet(args.quiet_wait)
        server.start(args.server_cpus, zone.last, args.load_timeout)
        assert server.proc is not None
        server.memory_loaded = memory_mb(server.proc.pid)
        print(f"answered after {server.load_s:.2f}s", flush=True)
        for set_name in args.sets:
            for transport in (t for t in args.transports if t in server.transports):
                for attempt in range(1, args.repeat + 1):
                    files.get(set_name, transport, attempt)     # written before, not during
                tries = []
                for attempt in range(1, args.repeat + 1):
                    run = measure(server, set_name, transport, files, args, attempt)
                    print(f"  {set_name}/{transport}: {run.qps:,.0f} q/s, "
                          f"{run.cpu_us_per_answer:.2f} µs CPU/answer "
                          f"(other processes: {run.other_cpu_s:.2f}s CPU)", flush=True)
                    tries.append(run)
                runs.append(representative(tries))
                attempts.extend(tries)
        server.memory_after = memory_mb(server.proc.pid)
    finally:
        server.stop()
    return runs, attempts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like ^C, so the server being measured is stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    command = shlex.join([sys.executable, "-m", "bench.run", *(sys.argv[1:] if argv is None
                                                               else argv)])
    for name in ("taskset", "dnsperf", *(BINARIES[n] for n in args.servers if n in BINARIES)):
        tool(name)
    for name in args.skipped:
        print(f"note: {BINARIES[name]} is not installed, so {name} is left out "
              f"(scripts/install-deps installs it)")
    lock = lock_workdir(args.work)      # noqa: F841 (held until exit)
    t0 = time.monotonic()
    zone, written = gen_zone.ensure_zone(args.work, args.names)
    print(f"zone: {zone.names:,} names in {args.work / 'zones' / zone.filename}"
          f" ({f'written in {time.monotonic() - t0:.1f}s' if written else 'reused'})",
          flush=True)
    ports = {name: free_port() for name in SERVERS}
    confdirs = gen_zone.write_configs(args.work, zone, ports, args.workers)
    files = QueryFiles(args.work, zone, args.duration, args.warmup)
    servers = {name: make_server(name, args.work, confdirs, ports[name], args.fastdns_tree)
               for name in args.servers}
    runs: list[Run] = []
    attempts: list[Run] = []
    for server in servers.values():
        kept, tried = bench_server(server, zone, files, args)
        runs += kept
        attempts += tried
    text = table(runs, servers)
    notes = warnings(runs, servers)
    print(f"\n{zone.names:,} names, servers on CPU {args.server_cpus}, dnsperf on CPU "
          f"{args.client_cpus}, {args.duration}s per run")
    print(", ".join(f"{n} {WORKER_SETTINGS[n]}={args.workers}" for n in servers
                    if n in WORKER_SETTINGS))
    print(text)
    for note in notes:
        print(f"warning: {note}")
    out = write_results({
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "environment": environment(args.fastdns_tree),
        "parameters": parameters(args),
        "servers": {name: {"command": s.command, "load_s": s.load_s,
                           "load_cpu_s": s.load_cpu_s, "load_other_cpu_s": s.load_other_cpu_s,
                           "memory_after_load": s.memory_loaded,
                           "memory_after_runs": s.memory_after,
                           "config": (confdirs[name] / f"{name}.conf").read_text()
                           if name in confdirs else None}
                    for name, s in servers.items()},
        "runs": [asdict(r) for r in runs],
        "attempts": [asdict(r) for r in attempts] if args.repeat > 1 else [],
        "warnings": notes,
        "table": text,
    })
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return 0


def lock_workdir(work: Path) -> Any:
    """Create ``work`` and lock it for this run: two runs sharing the configurations and
    run directories would start each other's servers on each other's ports."""
    work.mkdir(parents=True, exist_ok=True)
    lock = open(work / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"bench: another bench.run is using {work}; give --work") from None
    return lock


def parameters(args: argparse.Namespace) -> dict:
    return {"names": args.names, "servers": args.servers, "workers": args.workers,
            "pdns_receiver_threads": args.workers, "knot_udp_workers": args.workers,
            "knot_tcp_workers": args.workers, "nsd_server_count": args.workers,
            "duration_s": args.duration,
            "warmup_s": args.warmup, "repeat": args.repeat, "quiet_wait_s": args.quiet_wait,
            "dnsperf_clients": args.clients,
            "dnsperf_outstanding": args.outstanding, "dnsperf_timeout_s": args.timeout,
            "dnsperf_qps_limit": args.qps_limit,
            "server_cpus": args.server_cpus, "client_cpus": args.client_cpus,
            "sets": args.sets, "transports": args.transports,
            "hot_names": min(querysets.HOT_NAMES, args.names),
            "latency_source": "dnsperf -v per-answer lines, nearest-rank percentiles",
            "cpu_source": "utime+stime+cutime+cstime of the server process and its "
                          "descendants (/proc/*/stat), sampled around each run"}


if __name__ == "__main__":
    sys.exit(main())

"""dnsperf against fastdns and PowerDNS's pdns_server on the same synthetic zone, in one run.

    python3 -m bench.run [--names 10000|1000000] [--workers N] [--duration S]
                         [--servers fastdns,pdns] [--sets existing,nxdomain]
                         [--transports udp,tcp] [--quick]

Generates the zone and the configurations (bench/gen_zone.py) and the query files
(bench/querysets/) in a work directory, then for each server in turn: starts it on 127.0.0.1
pinned to CPU 0 (``taskset -c 0``: its threads and worker processes inherit the mask), times
the zone load (process start to the first correct answer for the last name of the zone file),
and for each query set and transport runs ``taskset -c 1 dnsperf`` against it, after a
one-second warm-up. With ``--workers 2`` every worker and thread still shares CPU 0 (dnsperf
needs the other core): that measures memory, load time and CPU per answer, not scaling.

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

One table goes to stdout, with the fastdns/PowerDNS ratio on every row; every figure, with
the git sha, CPU model, core count, worker count, versions and the command line, goes to
bench/results/<date>-<sha>.json.
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
import shutil
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

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("fastdns", "pdns")
SETS = ("existing", "nxdomain")
TRANSPORTS = ("udp", "tcp")
BUSY = ("user", "nice", "system", "irq", "softirq", "steal")    # kinds of /proc/stat time
EXPECTED_RCODE = {"existing": "NOERROR", "nxdomain": "NXDOMAIN"}
NX_QPS_CEILING = 500_000     # lines of an nxdomain file per second of run: none is reused


# -- processes ----------------------------------------------------------------------------

def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, by the ppid field of every /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(int(stat[1]), []).append(int(entry))
    tree = [root]
    for pid in tree:
        tree.extend(children.get(pid, ()))
    return tree


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: [state, ppid, ...]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def cpu_seconds(root: int) -> float:
    """User + system time of the tree: each live process's own, plus cutime + cstime (the
    children it has reaped), so a worker that exits mid-run is still counted, once."""
    ticks = 0
    for pid in process_tree(root):
        stat = _stat(pid)
        if stat is not None:       # fields 14-17 of stat(5): utime stime cutime cstime
            ticks += sum(int(v) for v in stat[11:15])
    return ticks / CLK_TCK


def memory_mb(root: int) -> dict[str, float]:
    """PSS (shared pages split between their users) and RSS summed over the tree, in MiB."""
    pss = rss = 0
    pids = process_tree(root)
    for pid in pids:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss += int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))
            rss += int(re.search(r"^Rss:\s+(\d+) kB", text, re.M).group(1))
    return {"pss_mb": pss / 1024, "rss_mb": rss / 1024, "processes": len(pids)}


def system_cpu() -> dict[str, float]:
    """The machine's CPU time (s) by kind, all CPUs: the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    kinds = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {k: int(v) / CLK_TCK for k, v in zip(kinds, fields, strict=True)}


def wait_quiet(limit: float) -> None:
    """Wait (at most ``limit`` seconds) until the machine has been idle for 3 seconds in a
    row: under 10% of one CPU busy, apart from this process. On a shared machine a build or
    a test suite running beside the benchmark would be measured with it."""
    deadline, quiet, said = time.monotonic() + limit, 0, False
    while quiet < 3 and time.monotonic() < deadline:
        before, own = system_cpu(), own_cpu()
        time.sleep(1)
        after = system_cpu()
        busy = sum(after[k] - before[k] for k in BUSY) - (own_cpu() - own)
        quiet = quiet + 1 if busy < 0.1 else 0
        if not quiet and not said:
            print(f"(waiting up to {limit:.0f}s for other processes to finish)", end=" ",
                  flush=True)
            said = True


def own_cpu() -> float:
    """CPU time (s) of this process (polling and query files), and its finished children
    (dnsperf): to be subtracted from the machine's busy time."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}")
                                  else None)
    if path is None:
        raise SystemExit(f"bench: {name} is not installed (make deps)")
    return path


# -- servers ------------------------------------------------------------------------------

@dataclass
class Server:
    """One server under test: how to start it, and what it was measured at."""

    name: str
    command: list[str]
    cwd: Path
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    load_s: float = 0.0
    load_cpu_s: float = 0.0
    load_other_cpu_s: float = 0.0
    memory_loaded: dict = field(default_factory=dict)
    memory_after: dict = field(default_factory=dict)

    def start(self, cpus: str, probe: tuple[str, str], timeout: float) -> None:
        """Start pinned to ``cpus``; return once the probe name answers with its address
        over UDP and TCP accepts, having recorded the load time."""
        system0, self0 = system_cpu(), own_cpu()
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
            try:
                answer = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.1)
            except (dns.exception.Timeout, OSError):
                time.sleep(0.01)
                continue
            if answer.rcode() == dns.rcode.NOERROR and any(
                    rr.to_text() == address for rrset in answer.answer for rr in rrset):
                self.check_alive()      # the answer came from this server, not a stale one
                self.load_s = time.monotonic() - t0
                self.load_cpu_s = cpu_seconds(self.proc.pid)
                system = system_cpu()
                self.load_other_cpu_s = sum(system[k] - system0[k] for k in BUSY) \
                    - self.load_cpu_s - (own_cpu() - self0)
                break
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass

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


def make_servers(work: Path, confdirs: dict[str, Path], ports: dict[str, int],
                 fastdns_tree: Path) -> dict[str, Server]:
    return {
        # the checkout's in-place build: `-m fastdns` from the tree's root
        "fastdns": Server("fastdns", [sys.executable, "-m", "fastdns",
                                      f"--config-dir={confdirs['fastdns']}"],
                          fastdns_tree, ports["fastdns"], work / "fastdns.log"),
        "pdns": Server("pdns", [tool("pdns_server"), f"--config-dir={confdirs['pdns']}"],
                       work, ports["pdns"], work / "pdns.log"),
    }


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
            after: Callable[[], Any] = float) -> tuple[str, list[float], tuple[float, Any]]:
    """Run dnsperf pinned to the client CPU: its summary, the sorted per-answer latencies (s)
    when ``verbose`` names a file for its -v lines, and (its CPU time (s), what ``after``
    returned the moment it exited), so that nothing done afterwards is counted."""
    cmd = ["taskset", "-c", args.client_cpus, tool("dnsperf"), "-s", "127.0.0.1",
           "-p", str(port), "-m", transport, "-d", str(queries), "-l", str(seconds),
           "-c", str(args.clients), "-q", str(args.outstanding), "-t", str(args.timeout)]
    if once:
        cmd += ["-n", "1"]
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
    root = server.proc.pid
    queries, warm = files.get(set_name, transport, attempt)
    once = set_name == "nxdomain"
    wait_quiet(args.quiet_wait)
    dnsperf(server.port, warm, transport, args.warmup, args, once=once)
    verbose = args.work / f"dnsperf-{server.name}-{set_name}-{transport}.out"
    cpu0, system0 = cpu_seconds(root), system_cpu()
    text, lat, (client_cpu, (cpu1, system1)) = dnsperf(
        server.port, queries, transport, args.duration, args, verbose, once=once,
        after=lambda: (cpu_seconds(root), system_cpu()))
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


def ratio(values: dict[str, float]) -> str:
    a, b = values.get("fastdns"), values.get("pdns")
    if a is None or b is None or (a == 0 and b == 0):
        return "-"
    return f"{a / b:.2f}" if b else "inf"


def table(runs: list[Run], servers: dict[str, Server]) -> str:
    names = [n for n in SERVERS if n in servers]
    header = ["set", "transport", "figure", *names]
    if len(names) > 1:
        header.append("fastdns/pdns")
    rows: list[list[str]] = []
    cases: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        cases.setdefault((run.set, run.transport), {})[run.server] = run
    for (set_name, transport), by_server in cases.items():
        for i, (label, attr, fmt) in enumerate(ROWS):
            values = {n: getattr(r, attr) for n, r in by_server.items()}
            row = [set_name if i == 0 else "", transport if i == 0 else "", label]
            row += [fmt.format(values[n]) if n in values else "-" for n in names]
            rows.append(row + ([ratio(values)] if len(names) > 1 else []))
    for i, (label, values) in enumerate((
            ("zone load s", {n: s.load_s for n, s in servers.items()}),
            ("zone load CPU s", {n: s.load_cpu_s for n, s in servers.items()}),
            ("PSS after load MiB", {n: s.memory_loaded["pss_mb"] for n, s in servers.items()}),
            ("PSS after runs MiB", {n: s.memory_after["pss_mb"] for n, s in servers.items()}))):
        row = ["server" if i == 0 else "", "", label]
        row += [f"{values[n]:,.2f}" if label.startswith("zone") else f"{values[n]:,.1f}"
                for n in names]
        rows.append(row + ([ratio(values)] if len(names) > 1 else []))
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    left = 3

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if k < left else c.rjust(w)
                         for k, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def warnings(runs: list[Run], servers: dict[str, Server]) -> list[str]:
    """Answers that differ in kind between servers make their figures incomparable; other
    processes busy on the machine make them noisy."""
    out = [f"{s.name}: other processes used {s.load_other_cpu_s:.2f}s of CPU during the "
           f"{s.load_s:.1f}s zone load (noisy)"
           for s in servers.values() if s.load_other_cpu_s > max(0.25, 0.05 * s.load_s)]
    cases: dict[tuple[str, str], dict[str, Run]] = {}
    for run in runs:
        cases.setdefault((run.set, run.transport), {})[run.server] = run
        unexpected = {k: v for k, v in run.rcodes.items() if k != EXPECTED_RCODE[run.set]}
        if unexpected:
            out.append(f"{run.server} {run.set}/{run.transport}: unexpected rcodes {unexpected}")
        if run.set == "nxdomain" and run.run_s < 0.9 * run.duration_s:
            out.append(f"{run.server} {run.set}/{run.transport}: the query file ran out after "
                       f"{run.run_s:.1f}s (raise NX_QPS_CEILING)")
        if noisy(run):
            out.append(f"{run.server} {run.set}/{run.transport}: other processes used "
                       f"{run.other_cpu_s:.2f}s of CPU during the {run.run_s:.0f}s run (noisy)")
    for (set_name, transport), by_server in cases.items():
        sizes = {n: r.response_bytes for n, r in by_server.items()}
        if len(set(sizes.values())) > 1:
            out.append(f"{set_name}/{transport}: mean response size differs {sizes}")
    return out


# -- the run ------------------------------------------------------------------------------

def environment(fastdns_tree: Path) -> dict:
    def output(*cmd: str, cwd: Path = ROOT) -> str:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return (proc.stdout + proc.stderr).strip()

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.M)
    dnsperf_version = re.search(r"Version ([\d.]+)", output(tool("dnsperf"), "-h"))
    pdns_version = re.search(r"Authoritative Server ([\d.]+)", output(tool("pdns_server"),
                                                                      "--version"))
    dirty = output("git", "status", "--porcelain", "--untracked-files=no", cwd=fastdns_tree)
    return {
        "sha": output("git", "rev-parse", "--short", "HEAD", cwd=fastdns_tree) or "unknown",
        "dirty": sorted(line.split(maxsplit=1)[1] for line in dirty.splitlines()),
        "fastdns_tree": str(fastdns_tree),
        "bench_sha": output("git", "rev-parse", "--short", "HEAD") or "unknown",
        "bench_dirty": "bench/" in output("git", "status", "--porcelain", "bench"),
        "fastdns_version": output(sys.executable, "-m", "fastdns", "--version", cwd=fastdns_tree),
        "pdns_version": pdns_version[1] if pdns_version else "",
        "dnsperf_version": dnsperf_version[1] if dnsperf_version else "",
        "cpu_model": model[1] if model else platform.processor(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def write_results(record: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"{datetime.date.today().isoformat()}-{record['environment']['sha']}"
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
                        help="fastdns workers = PowerDNS receiver threads (default 1)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per run")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per case; the table shows the median (CPU per answer) of "
                             "the quiet ones, or the quietest; the JSON has them all")
    parser.add_argument("--quiet-wait", type=float, default=120,
                        help="before each server start and run, wait up to this many seconds "
                             "for the machine to be idle (0: do not wait)")
    parser.add_argument("--servers", default=",".join(SERVERS))
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
            for transport in args.transports:
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
    for name in ("taskset", "dnsperf", *(["pdns_server"] if "pdns" in args.servers else [])):
        tool(name)
    lock = lock_workdir(args.work)      # noqa: F841 (held until exit)
    t0 = time.monotonic()
    zone, written = gen_zone.ensure_zone(args.work, args.names)
    print(f"zone: {zone.names:,} names in {args.work / 'zones' / zone.filename}"
          f" ({f'written in {time.monotonic() - t0:.1f}s' if written else 'reused'})",
          flush=True)
    ports = {name: free_port() for name in SERVERS}
    confdirs = gen_zone.write_configs(args.work, zone, ports, args.workers)
    files = QueryFiles(args.work, zone, args.duration, args.warmup)
    every = make_servers(args.work, confdirs, ports, args.fastdns_tree)
    servers = {name: every[name] for name in args.servers}
    runs: list[Run] = []
    attempts: list[Run] = []
    for server in servers.values():
        kept, tried = bench_server(server, zone, files, args)
        runs += kept
        attempts += tried
    text = table(runs, servers)
    notes = warnings(runs, servers)
    print(f"\n{zone.names:,} names, workers={args.workers} (PowerDNS receiver-threads="
          f"{args.workers}), servers on CPU {args.server_cpus}, dnsperf on CPU "
          f"{args.client_cpus}, {args.duration}s per run")
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
                           "config": next(confdirs[name].glob("*.conf")).read_text()}
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
    return {"names": args.names, "workers": args.workers,
            "pdns_receiver_threads": args.workers, "duration_s": args.duration,
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

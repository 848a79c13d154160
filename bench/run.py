"""dnsperf against fastdns and PowerDNS on the same zones, in the same run.

    python -m bench.run [--duration 10] [--queryset existing,nxdomain] [--transport udp,tcp]

Each server is pinned to CPU 0 and dnsperf to CPU 1 (on this 2-core machine dnsperf
saturates its own core at 120-150k queries/s, so queries/s alone cannot show a faster
server): the figure that counts is the server's CPU time per answer at that load, the user
plus system time of every server process divided by the answers dnsperf received. Results
are printed as one table, with the fastdns/PowerDNS ratio on each row, and written to
bench/results/<date>-<sha>.json.
"""

import argparse
import datetime
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import dns.name
import dns.rdatatype

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastdns.zone.zonefile import read_zone_file  # noqa: E402
from tests._support.servers import CONF, Fastdns, Pdns, ServerProcess  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = "0"
CLIENT_CPU = "1"


@dataclass
class Result:
    server: str
    queryset: str
    transport: str
    qps: float
    answers: int
    lost: int
    latency_ms: float
    cpu_us_per_answer: float
    pss_mb: float


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    pids = [pid]
    for p in pids:
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        pids.extend(int(c) for c in children)
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])      # utime, stime
    return total / CLK_TCK


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
        total += int(match.group(1)) if match else 0
    return total / 1024


def querysets(zone_dir: Path, named: list[tuple[str, str]], seed: int = 1) -> dict[str, list[str]]:
    """'existing': every (name, type) with data; 'nxdomain': random names below the apexes."""
    existing = []
    wanted = (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.MX, dns.rdatatype.TXT,
              dns.rdatatype.NS)
    for origin, filename in named:
        zone = read_zone_file(str(zone_dir / filename), origin, directory=str(zone_dir))
        for rrset in zone.rrsets:
            if rrset.rdtype in wanted:
                name = dns.name.from_wire(rrset.owner, 0)[0]
                existing.append(f"{name} {dns.rdatatype.to_text(rrset.rdtype)}")
    rng = random.Random(seed)
    apexes = [origin for origin, _ in named]
    nxdomain = [f"{rng.getrandbits(48):012x}.{rng.choice(apexes)} A" for _ in range(200_000)]
    return {"existing": existing, "nxdomain": nxdomain}


def run_dnsperf(server: ServerProcess, queryfile: Path, transport: str, duration: int) -> dict:
    cmd = ["taskset", "-c", CLIENT_CPU, "dnsperf", "-s", server.address, "-p", str(server.port),
           "-d", str(queryfile), "-l", str(duration), "-m", transport, "-c", "8", "-q", "200"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def number(label: str) -> float:
        match = re.search(rf"{label}:\s+([\d.]+)", out)
        if match is None:
            raise RuntimeError(f"dnsperf output without '{label}':\n{out}")
        return float(match.group(1))

    return {"answers": int(number("Queries completed")), "lost": int(number("Queries lost")),
            "qps": number("Queries per second"), "latency": number(r"Average Latency \(s\)")}


def measure(server: ServerProcess, name: str, queryset: str, queryfile: Path, transport: str,
            duration: int) -> Result:
    assert server.proc is not None
    pids = process_tree(server.proc.pid)
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CPU, str(pid)], check=True,
                       capture_output=True)
    run_dnsperf(server, queryfile, transport, 1)          # warm up (caches, page faults)
    before = cpu_seconds(pids)
    perf = run_dnsperf(server, queryfile, transport, duration)
    used = cpu_seconds(pids) - before
    return Result(name, queryset, transport, perf["qps"], perf["answers"], perf["lost"],
                  perf["latency"] * 1000, used / max(perf["answers"], 1) * 1e6, pss_mb(pids))


def table(results: list[Result]) -> str:
    rows = ["queryset   transport  server   queries/s  answers    lost  latency ms  "
            "CPU µs/answer  PSS MB   ratio CPU/answer"]
    by_case: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        by_case.setdefault((r.queryset, r.transport), {})[r.server] = r
    for (queryset, transport), servers in by_case.items():
        for name, r in servers.items():
            ratio = ""
            if name == "fastdns" and "pdns" in servers:
                ratio = f"{r.cpu_us_per_answer / servers['pdns'].cpu_us_per_answer:.2f}x"
            rows.append(f"{queryset:<10} {transport:<9}  {name:<7} {r.qps:>10.0f} {r.answers:>9} "
                        f"{r.lost:>7} {r.latency_ms:>10.3f} {r.cpu_us_per_answer:>14.2f} "
                        f"{r.pss_mb:>7.1f}   {ratio}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    parser.add_argument("--queryset", default="existing,nxdomain")
    parser.add_argument("--transport", default="udp,tcp")
    parser.add_argument("--servers", default="fastdns,pdns")
    args = parser.parse_args(argv)
    for tool in ("dnsperf", "taskset", "pdns_server"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"bench: {tool} is not installed (scripts/install-deps)", file=sys.stderr)
            return 1
    named_conf = CONF / "named.conf"
    named = [("example.com.", "example.com.zone"), ("example.net.", "example.net.zone"),
             ("sub.example.com.", "sub.example.com.zone"),
             ("2.0.192.in-addr.arpa.", "2.0.192.in-addr.arpa.zone")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {}
        for name, queries in querysets(CONF / "zones", named).items():
            files[name] = work / f"{name}.queries"
            files[name].write_text("\n".join(queries) + "\n")
        servers: dict[str, ServerProcess] = {
            "fastdns": Fastdns(work, {"launch": "bind", "bind-config": str(named_conf),
                                      "loglevel": "3"}),
            "pdns": Pdns(work, named_conf, {"receiver-threads": "1", "loglevel": "3",
                                            "cache-ttl": "20", "negquery-cache-ttl": "60",
                                            "query-cache-ttl": "20",
                                            "dname-processing": "yes"}),
        }
        for name in args.servers.split(","):
            with servers[name] as server:
                for queryset in args.queryset.split(","):
                    for transport in args.transport.split(","):
                        results.append(measure(server, name, queryset, files[queryset],
                                               transport, args.duration))
    print(table(results))
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip() or "unknown"
    out = ROOT / "bench" / "results" / f"{datetime.date.today()}-{sha}-{int(time.time())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"sha": sha, "cpus": os.cpu_count(), "workers": 1,
                               "results": [asdict(r) for r in results]}, indent=2))
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTTP API at scale: fastdns against PowerDNS (issue 15).

    python3 -m bench.api [--zones 100000] [--secured 300] [--repeat 3] [--writes 7]
                         [--servers fastdns,pdns] [--pdns-timeout 300] [--out DIR] [--quick]

The database: ``--zones`` zones of bench/zones.py's generator (its SQLite file, made or reused
by ``bench.zones.ensure_sqlite``), 7 records each (SOA, two NS, apex A, MX, ``www`` CNAME,
``mail`` A), in PowerDNS's schema; ``--secured`` of them, spread evenly, get an ECDSA P-256
CSK in ``cryptokeys`` (made by fastdns.dnssec.keygen, ISC text as pdnsutil stores it). Kept
as ``DIR/api.sqlite3`` while ``DIR/api.json`` matches. Each server gets its own copy, fresh
for every run (the writes below change it); fastdns's image cache is removed, so its load is
cold.

Each server in turn, on 127.0.0.1, pinned to ``--server-cpus`` (the bench to
``--client-cpus``; before each start and listing up to ``--quiet-wait`` seconds for the
machine to be idle, and the CPU time of other processes during each listing is recorded):
fastdns of this checkout (``workers=--workers``) and pdns_server 4.7
(``receiver-threads=--workers``), both ``launch=gsqlite3``, ``gsqlite3-dnssec=yes``,
``webserver=yes``, ``api=yes``, caches as default.

start            fastdns: seconds until its first answer (the first zone's apex A) and until
                 its log says ``all N zones loaded``; the listing is timed only then, on a
                 server at rest. PowerDNS asks the database per query: the first answer.
list             ``GET /api/v1/servers/localhost/zones`` and the same with ``dnssec=false``,
                 ``--repeat`` times each (the median; the spread is kept), timed from the
                 request until the whole body is in (requests), the JSON parsed after; the
                 time until the headers were in is kept too (a server that sends its
                 headers once the body is written: the rest is the transfer). Each
                 must list N zones, and ``dnssec: true`` exactly the secured ones. A
                 listing that takes longer than ``--pdns-timeout`` is reported as "over";
                 one over 60 s is not repeated.
write            ``--writes`` times: a zone's ``mail`` A asked twice over UDP (so the packet
                 cache holds it), then ``PATCH .../zones/<zone>`` REPLACE of that rrset with a
                 new address, then the name asked every 5 ms (dnspython) until the new
                 address comes back. Every other write is on a secured zone. Reported: the
                 PATCH's round trip, and the time from sending it to the first answer with
                 the new address (median and max).

A table, a column per server and the fastdns/pdns ratio, goes to stdout, and every figure
with the environment and the configurations to bench/results/<date>-<sha>-api.json.
``--quick`` is 5,000 zones (100 secured).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import random
import shlex
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import requests

from bench.host import (
    BUSY,
    cpu_seconds,
    free_port,
    memory_mb,
    own_cpu,
    system_cpu,
    tool,
    wait_quiet,
)
from bench.run import (
    ROOT,
    Server,
    environment,
    lock_workdir,
    make_server,
    ratio,
    render,
    write_results,
)
from bench.zones import Progress, ensure_sqlite, ipv4, zone_name
from fastdns.dnssec.keygen import generate

SERVERS = ("fastdns", "pdns")
RECORDS = 7
FORMAT = 1              # bump when the keys or records added here change
API_KEY = "bench-api-key"
ZONES = "/api/v1/servers/localhost/zones"
SLOW = 60.0             # a listing slower than this is not repeated
POLL = 0.005            # seconds between the queries that wait for a write


# -- the database --------------------------------------------------------------------------

def secured(zones: int, count: int) -> list[int]:
    """The indexes of the ``count`` secured zones, spread evenly over ``zones``."""
    count = min(count, zones)
    return [k * zones // count for k in range(count)] if count else []


def ensure_database(work: Path, zones: int, count: int) -> Path:
    """bench.zones's database of ``zones`` zones plus a CSK for each secured zone."""
    path, stamp = work / "api.sqlite3", work / "api.json"
    mark = json.dumps({"zones": zones, "records": RECORDS, "secured": count, "format": FORMAT})
    if path.exists() and stamp.exists() and stamp.read_text() == mark:
        print(f"sqlite: {path} reused ({zones:,} zones, {count} secured)")
        return path
    stamp.unlink(missing_ok=True)
    (work / "zones").mkdir(exist_ok=True)
    base = ensure_sqlite(work / "zones", zones, RECORDS)
    show = Progress("keys")
    tmp = path.with_suffix(".building")
    shutil.copyfile(base, tmp)
    rows = []
    for n, i in enumerate(secured(zones, count)):
        key = generate(13, 257)
        rows.append((i + 1, 257, 1, 1, key.to_isc()))
        show(f"{n + 1}/{count}")
    with contextlib.closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO cryptokeys (domain_id, flags, active, published, content)"
                         " VALUES (?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    tmp.rename(path)
    stamp.write_text(mark)
    show.done(f"{count} CSKs (ECDSA P-256) added, {path}")
    return path


def fresh_copy(base: Path, path: Path) -> None:
    """``base`` copied to ``path``, without the journal or fastdns's image cache of an
    earlier run."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.rmtree(f"{path}.fastdns-cache", ignore_errors=True)
    shutil.copyfile(base, path)


# -- configurations ------------------------------------------------------------------------

def write_configs(work: Path, ports: dict[str, int], web: dict[str, int],
                  args: argparse.Namespace) -> dict[str, Path]:
    own = {
        "fastdns": {"workers": args.workers},
        "pdns": {"receiver-threads": args.workers, "distributor-threads": 1,
                 "daemon": "no", "guardian": "no", "disable-syslog": "yes",
                 "security-poll-suffix": "", "webserver-allow-from": "127.0.0.0/8"},
    }
    confdirs = {}
    for name in SERVERS:
        (work / f"{name}-run").mkdir(parents=True, exist_ok=True)
        confdirs[name] = work / name
        confdirs[name].mkdir(exist_ok=True)
        settings = {"launch": "gsqlite3", "gsqlite3-database": work / name / "db.sqlite3",
                    "gsqlite3-dnssec": "yes", "local-address": "127.0.0.1",
                    "local-port": ports[name], "socket-dir": work / f"{name}-run",
                    "webserver": "yes", "webserver-address": "127.0.0.1",
                    "webserver-port": web[name], "api": "yes", "api-key": API_KEY,
                    "loglevel": 6, **own[name]}
        (confdirs[name] / f"{name}.conf").write_text(
            f"# Generated by bench/api.py: {args.zones:,} zones, caches as default\n"
            + "".join(f"{k}={v}\n" for k, v in settings.items()))
    return confdirs


# -- measures ------------------------------------------------------------------------------

@dataclass
class Listing:
    seconds: list[float] = field(default_factory=list)
    headers: list[float] = field(default_factory=list)     # until the headers were in
    server_cpu: list[float] = field(default_factory=list)  # the server's CPU seconds
    other_cpu: list[float] = field(default_factory=list)   # other processes', the same time
    over: float = 0.0           # the timeout, when a try did not finish
    zones: int = 0
    secured: int = 0
    body_mb: float = 0.0
    error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


@dataclass
class Write:
    zone: str
    secured: bool
    patch_s: float
    served_s: float


@dataclass
class Figures:
    first_answer_s: float = float("nan")
    all_loaded_s: float = float("nan")          # fastdns: "all N zones loaded" in its log
    pss_mb: float = float("nan")
    listings: dict[str, Listing] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    write_error: str = ""

    def served(self, how: Any) -> float:
        done = [w.served_s for w in self.writes if w.served_s == w.served_s]
        return how(done) if done else float("nan")


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = API_KEY

    def get(self, path: str, timeout: float, stream: bool = False, **params: str
            ) -> requests.Response:
        return self.session.get(self.base + path, params=params, timeout=timeout,
                                stream=stream)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.session.patch(self.base + path, json=body, timeout=30)

    def wait(self, server: Server, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            server.check_alive()
            with contextlib.suppress(requests.RequestException):
                if self.get("/api/v1/servers/localhost", 2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{server.name}: no API after {timeout}s; see {server.log}")
            time.sleep(0.05)


def wait_loaded(server: Server, zones: int, t0: float, timeout: float) -> float:
    """Seconds from ``t0`` until fastdns's log says every zone is in."""
    line, show = f"all {zones} zones loaded".encode(), Progress(f"  {server.name}")
    while line not in server.log.read_bytes():
        server.check_alive()
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"{server.name}: not every zone loaded after {timeout}s; "
                               f"see {server.log}")
        show("loading")
        time.sleep(0.05)
    return time.monotonic() - t0


def time_listing(server: Server, api: Api, label: str, params: dict[str, str],
                 args: argparse.Namespace, want_secured: int) -> Listing:
    assert server.proc is not None
    out = Listing()
    for _ in range(args.repeat):
        wait_quiet(args.quiet_wait)
        system0, self0, server0 = system_cpu(), own_cpu(), cpu_seconds(server.proc.pid)
        t0 = time.monotonic()
        try:
            resp = api.get(ZONES, args.pdns_timeout, stream=True, **params)
            headers = time.monotonic() - t0
            body = resp.content
        except requests.Timeout:
            out.over = args.pdns_timeout
            print(f"  {label}: no answer in {args.pdns_timeout:.0f}s", flush=True)
            return out
        seconds = time.monotonic() - t0
        system, used = system_cpu(), cpu_seconds(server.proc.pid) - server0
        out.server_cpu.append(used)
        out.other_cpu.append(sum(system[k] - system0[k] for k in BUSY) - used
                             - (own_cpu() - self0))
        if resp.status_code != 200:
            out.error = f"{resp.status_code}: {body[:200]!r}"
            return out
        zones = json.loads(body)
        out.seconds.append(seconds)
        out.headers.append(headers)
        out.zones, out.body_mb = len(zones), len(body) / 2**20
        out.secured = sum(1 for z in zones if z.get("dnssec"))
        if out.zones != args.zones:
            out.error = f"{out.zones:,} zones listed, not {args.zones:,}"
        elif "dnssec" not in params and out.secured != want_secured:
            out.error = f"{out.secured} listed as secured, not {want_secured}"
        print(f"  {label}: {out.zones:,} zones, {out.body_mb:.1f} MiB in {seconds:.3f}s "
              f"(headers after {headers:.3f}s; server CPU {used:.2f}s, other processes "
              f"{out.other_cpu[-1]:.2f}s)"
              + (f" ({out.error})" if out.error else ""), flush=True)
        if seconds > SLOW:
            break
    return out


def address_of(port: int, qname: str) -> str | None:
    with contextlib.suppress(dns.exception.DNSException, OSError):
        answer = dns.query.udp(dns.message.make_query(qname, "A"), "127.0.0.1", port=port,
                               timeout=0.2)
        for rrset in answer.answer:
            for rr in rrset:
                return rr.to_text()
    return None


def time_writes(server: Server, api: Api, args: argparse.Namespace, figures: Figures) -> None:
    rng = random.Random(15)
    keyed = secured(args.zones, args.secured)
    plain = sorted(set(range(args.zones)) - set(keyed)) if args.zones <= 10_000 else None
    for n in range(args.writes):
        if n % 2 and keyed:
            i = rng.choice(keyed)
        else:
            while True:
                i = rng.choice(plain) if plain else rng.randrange(args.zones)
                if i not in keyed:
                    break
        zone, qname = zone_name(i), f"mail.{zone_name(i)}."
        new = f"192.0.2.{n + 1}"
        for _ in range(2):                      # the old answer in the caches
            if address_of(server.port, qname) != ipv4(i, 11):
                figures.write_error = f"{qname}: not the generated address before the write"
                return
        body = {"rrsets": [{"name": qname, "type": "A", "ttl": 3600, "changetype": "REPLACE",
                            "records": [{"content": new, "disabled": False}]}]}
        t0 = time.monotonic()
        resp = api.patch(f"{ZONES}/{zone}.", body)
        patch_s = time.monotonic() - t0
        if resp.status_code != 204:
            figures.write_error = f"PATCH {zone}: {resp.status_code} {resp.text[:200]}"
            return
        served = float("nan")
        while time.monotonic() - t0 < args.write_timeout:
            if address_of(server.port, qname) == new:
                served = time.monotonic() - t0
                break
            time.sleep(POLL)
        figures.writes.append(Write(zone, i in keyed, patch_s, served))
        print(f"  write {zone}{' (secured)' if i in keyed else ''}: PATCH {patch_s:.3f}s, "
              f"served after " + (f"{served:.3f}s" if served == served else
                                  f"more than {args.write_timeout:.0f}s"), flush=True)


def bench_server(server: Server, web_port: int, base: Path, args: argparse.Namespace
                 ) -> Figures:
    figures = Figures()
    fresh_copy(base, args.work / server.name / "db.sqlite3")
    wait_quiet(args.quiet_wait)
    server.log.unlink(missing_ok=True)
    api = Api(web_port)
    show = Progress(server.name)
    try:
        server.start(args.server_cpus, (zone_name(0) + ".", ipv4(0)), args.start_timeout,
                     tick=lambda s: show(f"starting, no answer yet after {s:.0f}s"))
        assert server.proc is not None
        t0 = time.monotonic() - server.load_s
        figures.first_answer_s = server.load_s
        api.wait(server, args.start_timeout)
        if server.name == "fastdns":
            figures.all_loaded_s = wait_loaded(server, args.zones, t0, args.start_timeout)
        figures.pss_mb = memory_mb(server.proc.pid)["pss_mb"]
        show.done(f"first answer after {figures.first_answer_s:.2f}s"
                  + (f", all {args.zones:,} zones loaded after {figures.all_loaded_s:.2f}s"
                     if server.name == "fastdns" else "")
                  + f", PSS {figures.pss_mb:,.0f} MiB")
        time.sleep(args.settle)
        want = len(secured(args.zones, args.secured))
        figures.listings["zones"] = time_listing(server, api, "GET zones", {}, args, want)
        figures.listings["dnssec=false"] = time_listing(
            server, api, "GET zones?dnssec=false", {"dnssec": "false"}, args, want)
        time_writes(server, api, args, figures)
    finally:
        server.stop()
    return figures


# -- table, record ---------------------------------------------------------------------------

def table(figures: dict[str, Figures]) -> str:
    names = [n for n in SERVERS if n in figures]
    pair = [("fastdns", "pdns")] if len(names) == 2 else []
    header = ["figure", *names, *(f"{a}/{b}" for a, b in pair)]
    rows: list[list[str]] = []

    def add(label: str, values: dict[str, float], fmt: str,
            notes: dict[str, str] | None = None, ratios: bool = True) -> None:
        values = {n: v for n, v in values.items() if v == v}
        notes = notes or {}
        rows.append([f"  {label}", *(fmt.format(values[n]) if n in values else
                                     notes.get(n, "n/a") for n in names),
                     *(ratio(values, a, b) if ratios else "" for a, b in pair)])

    rows.append(["start"])
    add("first answer s", {n: f.first_answer_s for n, f in figures.items()}, "{:,.2f}")
    add("all zones loaded s", {n: f.all_loaded_s for n, f in figures.items()}, "{:,.2f}")
    add("PSS MiB", {n: f.pss_mb for n, f in figures.items()}, "{:,.0f}")
    for label in ("zones", "dnssec=false"):
        rows.append([f"GET zones{'?dnssec=false' if label != 'zones' else ''}"])
        by = {n: f.listings[label] for n, f in figures.items() if label in f.listings}
        add("median s", {n: x.median for n, x in by.items()}, "{:,.3f}",
            {n: f"over {x.over:.0f}" for n, x in by.items() if x.over})
        add("min s", {n: min(x.seconds, default=float("nan")) for n, x in by.items()},
            "{:,.3f}")
        add("max s", {n: max(x.seconds, default=float("nan")) for n, x in by.items()},
            "{:,.3f}")
        add("headers in, median s", {n: statistics.median(x.headers) for n, x in by.items()
                                     if x.headers}, "{:,.3f}")
        add("server CPU median s", {n: statistics.median(x.server_cpu)
                                    for n, x in by.items() if x.server_cpu}, "{:,.3f}")
        add("tries", {n: len(x.seconds) for n, x in by.items()}, "{}", ratios=False)
        add("zones listed", {n: x.zones for n, x in by.items() if x.seconds}, "{:,}",
            ratios=False)
        if label == "zones":
            add("listed as secured", {n: x.secured for n, x in by.items() if x.seconds},
                "{:,}", ratios=False)
        add("body MiB", {n: x.body_mb for n, x in by.items() if x.seconds}, "{:,.1f}")
    rows.append(["PATCH one rrset, then served"])
    add("PATCH round trip median s",
        {n: statistics.median([w.patch_s for w in f.writes]) for n, f in figures.items()
         if f.writes}, "{:.3f}")
    add("served median s", {n: f.served(statistics.median) for n, f in figures.items()},
        "{:.3f}")
    add("served max s", {n: f.served(max) for n, f in figures.items()}, "{:.3f}")
    add("writes", {n: len(f.writes) for n, f in figures.items()}, "{}", ratios=False)
    return render(header, rows)


def warnings(figures: dict[str, Figures], args: argparse.Namespace) -> list[str]:
    out = []
    for n, f in figures.items():
        out += [f"{n}: GET {label}: {x.error}" for label, x in f.listings.items() if x.error]
        out += [f"{n}: GET {label}: over {x.over:.0f}s" for label, x in f.listings.items()
                if x.over]
        out += [f"{n}: GET {label}: other processes used {max(x.other_cpu):.2f}s of CPU "
                f"during a listing (noisy)" for label, x in f.listings.items()
                if x.other_cpu and max(x.other_cpu) > 0.2]
        if f.write_error:
            out.append(f"{n}: writes: {f.write_error}")
        out += [f"{n}: write to {w.zone} not served in {args.write_timeout:.0f}s"
                for w in f.writes if w.served_s != w.served_s]
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (bench/api.py) for what is measured and how.")
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--secured", type=int, default=300,
                        help="zones with a CSK, spread evenly (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="listings of each kind timed")
    parser.add_argument("--writes", type=int, default=7, help="PATCHes timed")
    parser.add_argument("--workers", type=int, default=2,
                        help="fastdns workers = PowerDNS receiver threads (default 2)")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--out", type=Path,
                        help="work directory (default $TMPDIR/fastdns-bench-api-<zones>)")
    parser.add_argument("--pdns-timeout", type=float, default=300,
                        help="seconds a listing may take (default 300)")
    parser.add_argument("--write-timeout", type=float, default=30,
                        help="seconds a write may take to be served")
    parser.add_argument("--start-timeout", type=float, default=1800)
    parser.add_argument("--settle", type=float, default=2,
                        help="seconds of rest between the load and the first listing")
    parser.add_argument("--quiet-wait", type=float, default=30,
                        help="before each start and listing, wait up to this many seconds "
                             "for the machine to be idle (0: do not wait)")
    parser.add_argument("--server-cpus", default="0", help="taskset list for the servers")
    parser.add_argument("--client-cpus", default="1", help="CPUs of this bench")
    parser.add_argument("--fastdns-tree", type=Path, default=ROOT,
                        help="source tree whose in-place build is run as fastdns")
    parser.add_argument("--quick", action="store_true", help="5,000 zones, 100 secured")
    args = parser.parse_args(argv)
    if args.quick:
        args.zones, args.secured = 5_000, min(args.secured, 100)
    args.servers = args.servers.split(",")
    if not args.servers or set(args.servers) - set(SERVERS):
        parser.error(f"--servers: choose among {','.join(SERVERS)}")
    args.fastdns_tree = args.fastdns_tree.resolve()
    args.work = (args.out or Path(tempfile.gettempdir())
                 / f"fastdns-bench-api-{args.zones}").resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    command = shlex.join([sys.executable, "-m", "bench.api",
                          *(sys.argv[1:] if argv is None else argv)])
    for name in ("taskset", *(["pdns_server"] if "pdns" in args.servers else [])):
        tool(name)
    lock = lock_workdir(args.work)      # noqa: F841 (held until exit)
    base = ensure_database(args.work, args.zones, args.secured)
    os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    ports = {name: free_port() for name in SERVERS}
    web = {name: free_port() for name in SERVERS}
    confdirs = write_configs(args.work, ports, web, args)
    figures: dict[str, Figures] = {}
    for name in args.servers:
        server = make_server(name, args.work, confdirs, ports[name], args.fastdns_tree)
        figures[name] = bench_server(server, web[name], base, args)
    text, notes = table(figures), warnings(figures, args)
    print(f"\n{args.zones:,} zones x {RECORDS} records ({len(secured(args.zones, args.secured))} "
          f"secured), gsqlite3, gsqlite3-dnssec=yes; servers on CPU {args.server_cpus}, the "
          f"bench on CPU {args.client_cpus}; fastdns workers={args.workers}, pdns "
          f"receiver-threads={args.workers}, caches as default")
    print(text)
    for note in notes:
        print(f"warning: {note}")
    out = write_results({
        "bench": "api",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "environment": environment(args.fastdns_tree),
        "parameters": {k: (str(v) if isinstance(v, Path) else v)
                       for k, v in vars(args).items()},
        "servers": {n: {**asdict(f), "config": (confdirs[n] / f"{n}.conf").read_text()}
                    for n, f in figures.items()},
        "warnings": notes,
        "table": text,
    }, suffix="-api")
    print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

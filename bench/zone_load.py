"""Zone load time and memory: master file → checked image, and SQLite rows → checked image.

    python3 -m bench.zone_load [--names 1000000] [--sql] [--reference] [--runs 3] [--out DIR]

Each load runs in a fresh child process: ``fast`` is fastdns.zone.loader.load_image (what
the bind backend serves through); ``sql`` is what the gsqlite3 backend does to serve the
same records from an SQLite database that ``fastdns-util load-zone`` filled from the same
file (made once, kept beside the zone); ``reference`` reads the file with dnspython
(tests/_support/oracle.py, the tests' oracle: the speed of a pure-Python reader). Per
run: seconds from the call to the image, peak RSS of the child and its RSS once the load
returned (the image included). The zone is bench/gen_zone.py's (kept between runs); the
record goes to bench/results/<date>-<sha>-zone-load.json.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.gen_zone import ZONE, default_workdir, ensure_zone
from fastdns.backends.sqlbase import schema_sql

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def child(kind: str, path: str) -> None:
    """Load ``path`` once and print the figures as JSON (runs in the child process)."""
    sys.path.insert(0, str(ROOT))
    if kind == "fast":
        from fastdns.zone.loader import load_image

        def load() -> bytes:
            return load_image(path, ZONE).image
    elif kind == "sql":
        from fastdns.backends.gsql import GSQLBackend
        from fastdns.backends.gsqlite3 import SQLite3
        from fastdns.zone.zonedb import ZoneDB

        def load() -> bytes:
            backend = GSQLBackend(SQLite3({"database": path}), "gsqlite3")
            db = ZoneDB([backend])
            result = db.refresh()
            if result.failed:
                raise SystemExit(f"the zone failed to load from {path}")
            return result.images[0].image
    else:
        from tests._support.oracle import read_rrsets

        def load() -> bytes:
            return repr(read_rrsets(open(path).read(), ZONE)).encode()
    started = time.perf_counter()
    image = load()
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    print(json.dumps({"seconds": round(seconds, 3), "image_bytes": len(image),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      "rss_after_mib": rss // 1024}))


def run(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.zone_load", "--child", kind, str(path)],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def sqlite_of(zone_file: Path) -> Path:
    """The SQLite database holding the records of ``zone_file`` (made once, then kept)."""
    db = zone_file.with_suffix(".sqlite3")
    stamp = db.with_suffix(".sqlite3.stamp")
    mark = f"{zone_file.stat().st_size} {zone_file.stat().st_mtime_ns}"
    if db.exists() and stamp.exists() and stamp.read_text() == mark:
        return db
    db.unlink(missing_ok=True)
    conf = db.parent / "sqlite-conf"
    conf.mkdir(exist_ok=True)
    (conf / "fastdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={db}\n")
    with sqlite3.connect(db) as conn:
        conn.executescript(schema_sql("sqlite3"))
    subprocess.run([sys.executable, "-m", "fastdns.cli.util", f"--config-dir={conf}",
                    "load-zone", ZONE, str(zone_file)], cwd=ROOT, check=True)
    stamp.write_text(mark)
    return db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="fast-path runs (the best counts)")
    parser.add_argument("--reference", action="store_true", help="time the dnspython path too")
    parser.add_argument("--sql", action="store_true",
                        help="time the same records served from SQLite too")
    parser.add_argument("--out", type=Path, help="work directory of bench/gen_zone.py")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    work = args.out or default_workdir(args.names)
    zone, _ = ensure_zone(work, args.names)
    path = work / "zones" / zone.filename
    record: dict = {"names": args.names, "file_bytes": path.stat().st_size,
                    "fast": [run("fast", path) for _ in range(args.runs)]}
    if args.sql:
        database = sqlite_of(path)
        record["sql"] = [run("sql", database) for _ in range(args.runs)]
    if args.reference:
        record["reference"] = [run("reference", path)]
    for kind in ("fast", "sql", "reference"):
        for row in record.get(kind, []):
            print(f"{kind:9} {args.names} names: {row['seconds']:8.2f} s, peak "
                  f"{row['peak_rss_mib']} MiB, {row['rss_after_mib']} MiB after")
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip() or "unknown"
    record["environment"] = {"sha": sha, "cores": os.cpu_count(), "machine": platform.machine(),
                             "python": platform.python_version(),
                             "load_average": os.getloadavg()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{datetime.date.today().isoformat()}-{sha}-zone-load.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Zone load time and memory: master file → checked image, fast path against the reference.

    python3 -m bench.zone_load [--names 1000000] [--reference] [--runs 3] [--out DIR]

Each load runs in a fresh child process: ``fast`` is fastdns.zone.loader.load_image (what
the bind backend serves through), ``reference`` is read_zone_file + check_zone +
compile_zone (dnspython; about 440 s and 3.7 GB for 1,000,000 names, hence opt-in). Per
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
import subprocess
import sys
import time
from pathlib import Path

from bench.gen_zone import ZONE, default_workdir, ensure_zone

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def child(kind: str, path: str) -> None:
    """Load ``path`` once and print the figures as JSON (runs in the child process)."""
    sys.path.insert(0, str(ROOT))
    if kind == "fast":
        from fastdns.zone.loader import load_image

        def load() -> bytes:
            return load_image(path, ZONE).image
    else:
        from fastdns.zone.check import check_zone
        from fastdns.zone.compile import compile_zone
        from fastdns.zone.zonefile import read_zone_file

        def load() -> bytes:
            zone = read_zone_file(path, ZONE)
            check_zone(zone)
            return compile_zone(zone)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="fast-path runs (the best counts)")
    parser.add_argument("--reference", action="store_true", help="time the dnspython path too")
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
    if args.reference:
        record["reference"] = [run("reference", path)]
    for kind in ("fast", "reference"):
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

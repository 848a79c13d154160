"""``fastdns-util load-zone`` against ``pdnsutil load-zone``: the same zone file into fresh
databases of the same kind, one after the other, wall-clock seconds and the ratio.

    python3 -m bench.gen_zone --names 250000 --out /tmp/z250k     # 1,000,000 records
    python3 -m bench.util_load /tmp/z250k/zones/bench.example.zone [--kinds gsqlite3,gpgsql]

Each database is made for the run and dropped after (tests/_support/sqldb.py: SQLite files
in a temporary directory, a database of its own on the PostgreSQL of 127.0.0.1).  Prints one
line per kind and a JSON summary (records, seconds, ratio) for results/.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests._support.sqldb import TempDatabase

ROOT = Path(__file__).resolve().parents[1]
ZONE = "bench.example"


def _conf(db: TempDatabase, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in db.settings().items()))
    return directory


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {result.stderr}{result.stdout}")
    return elapsed


def run(kind: str, zone_file: str, work: Path) -> dict:
    out = {"kind": kind}
    for tool in ("pdnsutil", "fastdns-util"):
        with TempDatabase(kind, work) as db:
            conf = _conf(db, work / f"{tool}-{kind}")
            if tool == "pdnsutil":
                command = ["pdnsutil", f"--config-dir={conf}", "load-zone", ZONE, zone_file]
            else:
                command = [sys.executable, "-m", "fastdns.cli.util", f"--config-dir={conf}",
                           "load-zone", ZONE, zone_file]
            out[tool] = round(_timed(command), 2)
            out["records"] = db.execute("SELECT COUNT(*) FROM records")[0][0]
    out["ratio"] = round(out["pdnsutil"] / out["fastdns-util"], 2)
    print(f"{kind}: {out['records']:,} records  pdnsutil {out['pdnsutil']:.1f}s  "
          f"fastdns-util {out['fastdns-util']:.1f}s  ({out['ratio']:.2f}x)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zone_file")
    parser.add_argument("--kinds", default="gsqlite3,gpgsql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fastdns-util-bench-") as tmp:
        results = [run(kind, str(Path(args.zone_file).resolve()), Path(tmp))
                   for kind in args.kinds.split(",")]
    print(json.dumps({"bench": "util_load", "zone": args.zone_file, "results": results}))


if __name__ == "__main__":
    main()

"""python3 -m bench.querysets: write the query files for a zone of --names names."""

import argparse
import sys
from pathlib import Path

from bench.gen_zone import ZONE, Zone, default_workdir
from bench.querysets import write_existing, write_nxdomain


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--names", type=int, default=10_000, help="names in the zone")
    parser.add_argument("--lines", type=int, default=2_000_000, help="lines of nxdomain-*.queries")
    parser.add_argument("--out", type=Path, help="work directory (default: as bench.gen_zone)")
    args = parser.parse_args(argv)
    out = args.out or default_workdir(args.names)
    out.mkdir(parents=True, exist_ok=True)
    zone = Zone(ZONE, args.names)
    for path in (write_existing(out / "existing.queries", zone),
                 write_nxdomain(out / "nxdomain-udp.queries", zone, args.lines, "udp"),
                 write_nxdomain(out / "nxdomain-tcp.queries", zone, args.lines, "tcp")):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

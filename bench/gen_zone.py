"""Deterministic synthetic zones for the benchmark, and the server configurations to serve them.

    python3 -m bench.gen_zone [--names 10000] [--workers 1] [--port 5300] [--out DIR]

writes into DIR (default: a directory under $TMPDIR, printed):

    zones/bench.example.zone   SOA, NS and glue at the apex, then N names ``host<i>``, each
                               with A, AAAA, MX (pointing at the next name) and TXT
    named.conf                 the zone, for fastdns and PowerDNS (configs/named.conf.in)
    fastdns/fastdns.conf       fastdns --config-dir=DIR/fastdns   (configs/fastdns.conf.in)
    pdns/pdns.conf             pdns_server --config-dir=DIR/pdns  (configs/pdns.conf.in)
    knot/knot.conf             knotd -c DIR/knot/knot.conf        (configs/knot.conf.in)
    nsd/nsd.conf               nsd -d -c DIR/nsd/nsd.conf         (configs/nsd.conf.in)

and beside them a run directory per server (``<server>-run``) for its sockets, pid file and
state. Knot and NSD read the zone file directly and write nothing back to it.

The records of name ``i`` are a function of ``i`` alone, so the same N gives the same file,
byte for byte. The zone is written as a stream (the 1,000,000-name variant is about 200 MB)
and kept between runs: ``zone.json`` beside it says what was generated, and a zone whose
stamp matches is not written again.
"""

import argparse
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIGS = Path(__file__).resolve().parent / "configs"
ZONE = "bench.example."
TTL = 3600
FORMAT = 1          # bump when the records of a name change: stale zones are rewritten
TYPES = ("A", "AAAA", "MX", "TXT")
CONFIGURED = ("fastdns", "pdns", "knot", "nsd")      # the servers with a <name>.conf.in


def name(i: int) -> str:
    """The owner of the ``i``-th name, relative to the apex."""
    return f"host{i}"


def ipv4(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def ipv6(i: int) -> str:
    return f"2001:db8::{i >> 16:x}:{i & 0xffff:x}"


def records(i: int, count: int) -> str:
    """The four records of name ``i`` in master-file syntax (relative names)."""
    owner = name(i)
    a, aaaa = ipv4(i), ipv6(i)
    return (f"{owner}\tA\t{a}\n"
            f"{owner}\tAAAA\t{aaaa}\n"
            f"{owner}\tMX\t10 {name((i + 1) % count)}\n"
            f'{owner}\tTXT\t"v=spf1 ip4:{a} ip6:{aaaa} -all"\n')


def apex(zone: str) -> str:
    return (f"$ORIGIN {zone}\n$TTL {TTL}\n"
            f"@\tSOA\tns1 hostmaster 1 7200 3600 1209600 300\n"
            "@\tNS\tns1\n@\tNS\tns2\n"
            "ns1\tA\t192.0.2.1\nns1\tAAAA\t2001:db8:53::1\n"
            "ns2\tA\t192.0.2.2\nns2\tAAAA\t2001:db8:53::2\n")


@dataclass(frozen=True)
class Zone:
    """What was generated: the stamp kept in ``zone.json``."""

    zone: str
    names: int
    format: int = FORMAT

    @property
    def filename(self) -> str:
        return f"{self.zone}zone"

    @property
    def last(self) -> tuple[str, str]:
        """The last name of the file and its address: loaded last, probed for the load time."""
        return f"{name(self.names - 1)}.{self.zone}", ipv4(self.names - 1)


def write_zone(path: Path, zone: str, count: int, chunk: int = 10_000) -> None:
    """Stream the zone to ``path`` (written to a temporary name, then renamed)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="ascii", buffering=1 << 20) as out:
        out.write(apex(zone))
        for start in range(0, count, chunk):
            out.write("".join(records(i, count) for i in range(start, min(start + chunk, count))))
    tmp.replace(path)


def ensure_zone(work: Path, count: int, zone: str = ZONE) -> tuple[Zone, bool]:
    """The zone of ``count`` names in ``work``/zones, written unless already there; and
    whether it was written now."""
    want = Zone(zone, count)
    zones = work / "zones"
    stamp = work / "zone.json"
    try:
        have = Zone(**json.loads(stamp.read_text()))
    except (OSError, ValueError, TypeError):
        have = None
    if have == want and (zones / want.filename).exists():
        return want, False
    zones.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    write_zone(zones / want.filename, zone, count)
    stamp.write_text(json.dumps(asdict(want)) + "\n")
    return want, True


def render(template: str, values: dict[str, str]) -> str:
    text = (CONFIGS / template).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        raise ValueError(f"{template}: no value for {', '.join(leftover)}")
    return text


def write_configs(work: Path, zone: Zone, ports: dict[str, int], workers: int) -> dict[str, Path]:
    """named.conf, and one configuration directory per server; their paths by server name."""
    work = work.resolve()
    common = {"WORK_DIR": str(work), "WORKERS": str(workers), "ZONE": zone.zone.rstrip("."),
              "ZONE_DIR": str(work / "zones"), "ZONE_FILE": zone.filename}
    (work / "named.conf").write_text(render("named.conf.in", common))
    dirs = {}
    for server in CONFIGURED:
        filename = f"{server}.conf"
        confdir = work / server
        confdir.mkdir(exist_ok=True)
        (work / f"{server}-run").mkdir(exist_ok=True)
        values = {**common, "PORT": str(ports[server])}
        (confdir / filename).write_text(render(f"{filename}.in", values))
        dirs[server] = confdir
    return dirs


def default_workdir(count: int) -> Path:
    return Path(tempfile.gettempdir()) / f"fastdns-bench-{count}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000, help="names in the zone")
    parser.add_argument("--workers", type=int, default=1,
                        help="fastdns workers = PowerDNS receiver threads = Knot UDP "
                             "and TCP workers = NSD servers")
    parser.add_argument("--port", type=int, default=5300,
                        help="fastdns's port; pdns, knot and nsd get +1, +2 and +3")
    parser.add_argument("--out", type=Path, help="work directory (default: $TMPDIR/"
                        "fastdns-bench-NAMES)")
    args = parser.parse_args(argv)
    work = args.out or default_workdir(args.names)
    zone, written = ensure_zone(work, args.names)
    ports = {server: args.port + i for i, server in enumerate(CONFIGURED)}
    dirs = write_configs(work, zone, ports, args.workers)
    state = "written" if written else "already there"
    print(f"{work / 'zones' / zone.filename}: {zone.names} names ({state})")
    for server, confdir in dirs.items():
        print(f"{server}: {confdir / f'{server}.conf'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

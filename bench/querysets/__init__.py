"""dnsperf query files for the synthetic zone of bench/gen_zone.py.

    python3 -m bench.querysets [--names 10000] [--lines 2000000] [--out DIR]

Two sets, generated into the work directory (the random one runs to tens of megabytes, so
nothing here is committed but this code):

existing   ``existing.queries``: names of the zone, each asked for A, AAAA, MX and TXT.
           A hot set of at most 2,500 names spread over the whole zone, so 10,000 distinct
           questions in a shuffled order; dnsperf loops over the file, so every question is
           asked again every tenth of a second or so: cache-friendly, as real traffic is.
nxdomain   ``nxdomain-<tag>.queries``: a random 16-character label under the apex, type A,
           a different name on every line (a random-subdomain flood). dnsperf reads it once
           (``-n 1``) so no name is asked twice; each run gets its own file (tag), so a
           later run never meets the negative cache entries of an earlier one.

Both are deterministic: a seed derived from the set name and tag.
"""

import base64
import random
import zlib
from pathlib import Path

from bench.gen_zone import TYPES, Zone, name

HOT_NAMES = 2_500
LABEL = 16              # characters of a random label: base32 of 10 random bytes


def existing(zone: Zone, hot: int = HOT_NAMES, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    picked = rng.sample(range(zone.names), min(hot, zone.names))
    questions = [f"{name(i)}.{zone.zone} {rdtype}" for i in picked for rdtype in TYPES]
    rng.shuffle(questions)
    return questions


def write_existing(path: Path, zone: Zone) -> Path:
    path.write_text("\n".join(existing(zone)) + "\n")
    return path


def write_nxdomain(path: Path, zone: Zone, lines: int, tag: str) -> Path:
    """``lines`` random names under the apex, none repeated (the odds of a repeat among
    10 random bytes are nil), written in blocks."""
    rng = random.Random(zlib.crc32(f"nxdomain-{tag}".encode()))
    suffix = f".{zone.zone} A\n"
    block = 100_000
    with open(path, "w", encoding="ascii", buffering=1 << 20) as out:
        for start in range(0, lines, block):
            n = min(block, lines - start)
            labels = base64.b32encode(rng.randbytes(10 * n)).decode("ascii").lower()
            out.write("".join(labels[k:k + LABEL] + suffix for k in range(0, LABEL * n, LABEL)))
    return path

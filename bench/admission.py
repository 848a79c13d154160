"""The packet cache's admission policy under a random-subdomain flood, simulated on the real
cache (fastdns._pcache): the figures behind docs/performance.md's choice.

    python3 -m bench.admission [--hot 10000] [--queries 2000000]

A hot set of questions (as the benchmark's ``existing`` set: 10,000, each asked again and
again, uniformly) is in the cache when a flood of random names begins, each name asked once;
then the flood's share of the queries is 50 % to 99 %. Every query looks the cache up; a miss
offers its answer (NXDOMAIN-sized, 100 octets, as the engine's). A second, smaller hot set
(1,000 questions) is new: first asked during the flood. For each policy it prints the hit
ratio of the old and of the new hot questions during the flood, the entries held at its end
and the memory they take (key, answer, the entry's header and malloc's 16 octets), and how
many of the flood's answers were kept.

Policies: ``admit-all`` (every answer is kept, as before admission; ``max-packet-cache-
entries`` bounds it, LRU), at the default of 1,000,000 entries and at 100,000; ``doorkeeper``
(kept the second time asked, the default), at the default size for 1,000,000 entries
(262,144 fingerprints, 1 MiB) and at 16,384 (64 KiB). The clock does not move: entries do
not expire here, so a flood's entries stay until LRU evicts them, as within cache-ttl.
"""

import argparse
import random
import sys

from fastdns._pcache import PacketCache

ENTRY_OVERHEAD = 56 + 16                 # struct Entry up to its data, malloc's header


def answer() -> bytes:
    """100 octets: an NXDOMAIN header (no records: its life is negquery-cache-ttl), then
    padding to an NXDOMAIN's usual size (the cache reads only the header)."""
    return b"\x00\x00\x84\x03" + bytes(8) + bytes(88)


def simulate(cache: PacketCache, hot: list[bytes], new: list[bytes], queries: int,
             flood_share: float, rng: random.Random) -> tuple[float, float, int, int, int]:
    """(old hot hit ratio, new hot hit ratio, entries, bytes of entries, flood answers
    kept) during the flood."""
    data = answer()
    for _ in range(2):                   # before the flood: the hot set is in the cache
        for key in hot:
            if cache.get_key(key, 0) is None:
                cache.offer_key(key, data, 0)
    hits = {id(hot): 0, id(new): 0}
    asked = {id(hot): 0, id(new): 0}
    flood_kept = flood_n = 0
    for _ in range(queries):
        if rng.random() < flood_share:
            flood_n += 1
            key = b"flood%012d" % flood_n
            if cache.get_key(key, 0) is None and cache.offer_key(key, data, 0):
                flood_kept += 1
            continue
        group = new if rng.random() < 0.1 else hot
        key = group[rng.randrange(len(group))]
        asked[id(group)] += 1
        if cache.get_key(key, 0) is not None:
            hits[id(group)] += 1
        else:
            cache.offer_key(key, data, 0)
    size = len(cache) * (ENTRY_OVERHEAD + 17 + len(data))
    return (hits[id(hot)] / max(asked[id(hot)], 1), hits[id(new)] / max(asked[id(new)], 1),
            len(cache), size, flood_kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hot", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    hot = [b"hot%012d" % i for i in range(args.hot)]
    new = [b"new%012d" % i for i in range(args.hot // 10)]
    policies = [
        ("admit-all, 1M entries", lambda: PacketCache(1_000_000, 20, 60, doorkeeper=0)),
        ("admit-all, 100k entries", lambda: PacketCache(100_000, 20, 60, doorkeeper=0)),
        ("doorkeeper 262,144 (default)", lambda: PacketCache(1_000_000, 20, 60)),
        ("doorkeeper 16,384", lambda: PacketCache(1_000_000, 20, 60, doorkeeper=16_384)),
    ]
    print(f"{args.hot:,} hot questions in the cache, {len(new):,} new ones, "
          f"{args.queries:,} queries of flood and hot questions per case")
    print(f"{'flood':>5}  {'policy':28}  {'old hot hits':>12}  {'new hot hits':>12}  "
          f"{'entries':>9}  {'MiB':>6}  {'flood kept':>10}")
    for share in (0.5, 0.9, 0.99):
        for name, make in policies:
            old_hits, new_hits, entries, size, kept = simulate(
                make(), hot, new, args.queries, share, random.Random(1))
            print(f"{share:>5.0%}  {name:28}  {old_hits:>12.1%}  {new_hits:>12.1%}  "
                  f"{entries:>9,}  {size / 2**20:>6.1f}  {kept:>10,}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

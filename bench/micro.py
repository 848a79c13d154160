"""The per-query CPU cost of fastdns's own code, without the kernel: a developer's tool, never
a gate (benchmarks are never timed tests).

    python3 -m bench.micro [--names 10000] [--queries 200000] [--repeat 5]

Builds the benchmark's zone (bench/gen_zone.py) in memory and feeds queries to a
``fastdns._udp.Responder`` through ``answer_stream``: the queries of one call are answered in
a C loop (parse, packet cache, engine, counters), exactly as the UDP reader answers a batch,
so the figure is the per-packet path alone, in nanoseconds of this process's CPU per query
(median of ``--repeat`` runs). The sets:

existing     the benchmark's hot questions, the cache warm: packet-cache hits
nxdomain     a new random name under the apex each query (a random-subdomain flood): a
             parse, a cache miss, the engine, the cache's admission refusing it
nxdomain-nc  the same without a packet cache: the engine alone
nodata       existing names asked for a type they lack (SRV), no cache: the engine's
             exact-match path

The streams are framed as TCP's, so the answer limit is 64 KiB rather than UDP's; the
answers are the same ones, the counters the TCP ones.
"""

import argparse
import base64
import random
import statistics
import time

import dns.message

from bench import gen_zone, querysets
from fastdns._engine import Engine
from fastdns._pcache import PacketCache
from fastdns._snapshot import Snapshot
from fastdns._udp import Responder
from fastdns.zone.loader import load_image_text


def zone_text(names: int) -> str:
    chunks = [gen_zone.apex(gen_zone.ZONE)]
    chunks += [gen_zone.records(i, names) for i in range(names)]
    return "".join(chunks)


def framed(questions: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for qname, qtype in questions:
        wire = dns.message.make_query(qname, qtype).to_wire()
        out += len(wire).to_bytes(2, "big") + wire
    return bytes(out)


def random_names(n: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    labels = base64.b32encode(rng.randbytes(10 * n)).decode().lower()
    return [(f"{labels[k:k + 16]}.{gen_zone.ZONE}", "A") for k in range(0, 16 * n, 16)]


def per_query_ns(responder: Responder, stream: bytes, count: int) -> float:
    t0 = time.process_time_ns()
    _answers, _used, answered, _stop = responder.answer_stream(stream)
    elapsed = time.process_time_ns() - t0
    assert answered == count, (answered, count)
    return elapsed / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    zone = gen_zone.Zone(gen_zone.ZONE, args.names)
    snap = Snapshot(load_image_text(zone_text(args.names), gen_zone.ZONE).image, 1)
    snap.tag = 1
    engine = Engine([snap])
    chunk = 10_000            # queries per answer_stream call (its buffer grows to fit)
    existing = [tuple(q.split()) for q in querysets.existing(zone)]

    def run(name: str, questions_of, cache: bool) -> None:
        results = []
        for attempt in range(args.repeat):
            pc = PacketCache(1_000_000, 20, 60) if cache else None
            responder = Responder(engine, pc)
            if name == "existing":
                for _ in range(2):          # admitted on the second miss; then all hits
                    responder.answer_stream(framed(existing))
            total = 0.0
            done = 0
            while done < args.queries:
                questions = questions_of(attempt, done, min(chunk, args.queries - done))
                stream = framed(questions)
                total += per_query_ns(responder, stream, len(questions)) * len(questions)
                done += len(questions)
            results.append(total / done)
        print(f"{name:12} {statistics.median(results):7.0f} ns/query "
              f"(min {min(results):.0f}, max {max(results):.0f})", flush=True)

    def hot(attempt: int, done: int, n: int) -> list[tuple[str, str]]:
        return [existing[(done + k) % len(existing)] for k in range(n)]

    def flood(attempt: int, done: int, n: int) -> list[tuple[str, str]]:
        return random_names(n, attempt * 1_000_003 + done)

    def nodata(attempt: int, done: int, n: int) -> list[tuple[str, str]]:
        rng = random.Random(attempt * 7 + done)
        return [(f"{gen_zone.name(rng.randrange(args.names))}.{gen_zone.ZONE}", "SRV")
                for _ in range(n)]

    print(f"{args.names:,} names, {args.queries:,} queries per run, median of {args.repeat}")
    run("existing", hot, True)
    run("nxdomain", flood, True)
    run("nxdomain-nc", flood, False)
    run("nodata", nodata, False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

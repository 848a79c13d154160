"""What one change check of the gpgsql backend costs on a large database (DESIGN §4).

Builds a PostgreSQL database in PowerDNS's schema with ``--records`` rows spread over
``--zones`` zones (generate_series, then the schema's indexes, then VACUUM ANALYZE), and
times ``GSQLBackend.list_zones()`` — the whole periodic check: the ``domains`` listing and
the fingerprints of every zone — in its three situations:

- ``scan, changed``: a row was updated since the last check, so the aggregate over
  ``records`` runs (no schema change needed; the default);
- ``scan, unchanged``: nothing was written, the WAL position says so, the aggregate is
  skipped;
- ``change log``: the triggers of ``install_change_log()`` are in place; a row was updated.

For each: wall time, and the CPU seconds the PostgreSQL server spent (all ``postgres``
processes, parallel workers included) and the client spent. Prints one JSON object.

    python3 -m bench.sql_check [--records 10000000] [--zones 100000] [--host 127.0.0.1]

The database (``fastdns_bench_check``) is dropped at the end unless ``--keep``.
"""

import argparse
import json
import os
import resource
import time
from pathlib import Path

import psycopg

from fastdns.backends.gpgsql import PostgreSQL
from fastdns.backends.gsql import GSQLBackend, schema_sql, split_statements

DBNAME = "fastdns_bench_check"


def postgres_cpu() -> float:
    """CPU seconds used so far by every process called ``postgres`` on this machine, with
    the exited children they reaped (the parallel workers of a query, reaped by the
    postmaster)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1: stat.rindex(")")]
        if comm.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2:].split()
            total += sum(int(f) for f in fields[11:15])
    return total / ticks


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build(admin: dict, records: int, zones: int) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    statements = split_statements(schema_sql("pgsql"))
    tables = [s for s in statements if s.startswith("CREATE TABLE")]
    indexes = [s for s in statements if not s.startswith("CREATE TABLE")]
    per_zone = max(1, records // zones)
    with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
        for statement in tables:
            conn.execute(statement)
        conn.execute("INSERT INTO domains (name, type) SELECT 'zone' || i || '.example', "
                     "'NATIVE' FROM generate_series(1, %s) i", (zones,))
        conn.execute(
            "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            "SELECT g / %s + 1, 'h' || (g %% %s) || '.zone' || (g / %s + 1) || '.example', "
            "'A', '192.0.2.' || (g %% 250 + 1), 3600, 0, false, true "
            "FROM generate_series(0, %s - 1) g", (per_zone, per_zone, per_zone, records))
        for statement in indexes:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")


def measure(backend: GSQLBackend, admin: dict, label: str, change: bool,
            rounds: int) -> dict:
    walls, server, client = [], [], []
    for i in range(rounds):
        if change:
            with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
                conn.execute("UPDATE records SET ttl = %s WHERE id = %s", (3600 + i + 1, 12345))
        time.sleep(1.2)          # PostgreSQL flushes its statistics, the machine settles
        s0, c0, t0 = postgres_cpu(), client_cpu(), time.perf_counter()
        zones = backend.list_zones()
        walls.append(time.perf_counter() - t0)
        server.append(postgres_cpu() - s0)
        client.append(client_cpu() - c0)
    return {"check": label, "zones": len(zones), "rounds": rounds,
            "wall_s": round(min(walls), 3), "wall_s_median": round(sorted(walls)[rounds // 2], 3),
            "postgres_cpu_s": round(sorted(server)[rounds // 2], 3),
            "client_cpu_s": round(sorted(client)[rounds // 2], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="use the kept database")
    args = parser.parse_args()
    admin = {"host": args.host, "port": args.port, "user": args.user}
    started = time.perf_counter()
    if not args.reuse:
        build(admin, args.records, args.zones)
    built = time.perf_counter() - started
    backend = GSQLBackend(PostgreSQL({**admin, "dbname": DBNAME}), "gpgsql")
    try:
        with psycopg.connect(dbname=DBNAME, **admin) as conn:
            size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('records')), "
                                "count(*) FROM records").fetchone()
        backend.list_zones()     # connect, warm up
        results = [
            measure(backend, admin, "scan, changed", True, args.rounds),
            measure(backend, admin, "scan, unchanged", False, args.rounds),
        ]
        backend.install_change_log()
        with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
            # the worst case: every zone has changed at least once since the install
            conn.execute("INSERT INTO fastdns_changes (domain_id, changes) "
                         "SELECT id, 1 FROM domains ON CONFLICT DO NOTHING")
        backend.list_zones()
        results.append(measure(backend, admin, "change log, changed", True, args.rounds))
        backend.remove_change_log()
    finally:
        backend.close()
        if not args.keep:
            with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
    print(json.dumps({"records": size[1], "records_table": size[0], "zones": args.zones,
                      "build_s": round(built, 1), "cpus": os.cpu_count(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()

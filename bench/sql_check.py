"""What one change check of a gsql backend costs on a large database (DESIGN §4, issue 12).

Builds a database in PowerDNS's schema with ``--zones`` zones of ``--per-zone`` records
each (``--db sqlite3``: an SQLite file written with one INSERT ... SELECT per table;
``--db pgsql``: a PostgreSQL database of its own, ``fastdns_bench_check``, filled with
generate_series; then the schema's indexes and ANALYZE) and times the periodic check as
ZoneDB.refresh runs it: ``list_zones()``, then ``change_token()`` of every zone (the
``tokens`` column), and ``changed_zones()`` (what the caller may use instead of the
tokens), in these situations:

- ``unchanged``: nothing was written since the last check;
- ``record changed``: one record's content updated by raw SQL, no serial bump (the scan:
  the fingerprints of every zone);
- ``zone added``: one row added to ``domains``;
- ``change log, record changed``: the same with ``install_change_log()`` in place.

For each: the wall time of the check (best of ``--rounds``), and for PostgreSQL the CPU
seconds the server spent. Prints one JSON object.

    python3 -m bench.sql_check --db sqlite3 --zones 1000000 [--path /tmp/x.sqlite3]
    python3 -m bench.sql_check --db pgsql --zones 100000 [--host 127.0.0.1]

The PostgreSQL database is dropped at the end unless ``--keep``; the SQLite file is kept
if ``--path`` was given (and reused with ``--reuse``), removed otherwise.
"""

import argparse
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastdns.backends.gsql import GSQLBackend, schema_sql, split_statements

DBNAME = "fastdns_bench_check"

#: the records of zone i (name, type, content, prio), by SQL expressions of z (the name)
_RECORDS = [
    ("z", "'SOA'", "'ns1.' || z || ' hostmaster.' || z || ' 1 10800 3600 604800 3600'", 0),
    ("z", "'NS'", "'ns1.' || z", 0),
    ("z", "'NS'", "'ns2.' || z", 0),
    ("'ns1.' || z", "'A'", "'192.0.2.1'", 0),
    ("'ns2.' || z", "'A'", "'192.0.2.2'", 0),
    ("z", "'MX'", "'mail.' || z", 10),
    ("'mail.' || z", "'A'", "'192.0.2.25'", 0),
    ("'www.' || z", "'A'", "'192.0.2.80'", 0),
    ("'www.' || z", "'AAAA'", "'2001:db8::80'", 0),
    ("z", "'TXT'", "'\"v=spf1 -all\"'", 0),
]


def postgres_cpu() -> float:
    """CPU seconds used so far by every process called ``postgres`` on this machine, with
    the exited children they reaped (parallel workers)."""
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


def _fill_sql(zones: int, per_zone: int, series: str) -> list[str]:
    """INSERT ... SELECT statements of the domains and records (``series``: a FROM clause
    giving i = 0 .. zones - 1)."""
    records = _RECORDS[:per_zone] + [
        (f"'h{k}.' || z", "'A'", f"'198.51.100.{k % 250}'", 0)
        for k in range(len(_RECORDS), per_zone)]
    selects = " UNION ALL ".join(
        f"SELECT id AS i, {name} AS n, {rtype} AS t, {content} AS c, {prio} AS p FROM d"
        for name, rtype, content, prio in records)
    return [
        f"INSERT INTO domains (id, name, type) SELECT i + 1, 'z' || i || '.example', 'NATIVE' "
        f"FROM {series}",
        f"WITH d AS (SELECT id, name AS z FROM domains) INSERT INTO records (domain_id, name, "
        f"type, content, ttl, prio, disabled, auth) SELECT i, n, t, c, 3600, p, false, true "
        f"FROM ({selects}) AS r ORDER BY i",
    ]


def build_sqlite(path: str, zones: int, per_zone: int) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    statements = split_statements(schema_sql("sqlite3"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for statement in statements:
        if not statement.startswith("CREATE INDEX"):
            conn.execute(statement)
    series = f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < " \
             f"{zones}) SELECT i FROM s)"
    for statement in _fill_sql(zones, per_zone, series):
        conn.execute(statement)
    for statement in statements:
        if statement.startswith("CREATE INDEX"):
            conn.execute(statement)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def build_pgsql(admin: dict[str, str], zones: int, per_zone: int) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    statements = split_statements(schema_sql("pgsql"))
    with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
        for statement in statements:
            if statement.startswith("CREATE TABLE"):
                conn.execute(statement)
        for statement in _fill_sql(zones, per_zone, f"generate_series(0, {zones - 1}) i"):
            conn.execute(statement)  # type: ignore[arg-type]
        conn.execute("SELECT setval('domains_id_seq', (SELECT max(id) FROM domains))")
        for statement in statements:
            if not statement.startswith("CREATE TABLE"):
                conn.execute(statement)
        conn.execute("VACUUM ANALYZE")


def check(backend: GSQLBackend) -> tuple[float, float, float, int]:
    """One check as ZoneDB.refresh runs it: (list_zones s, change_token of every zone s,
    changed_zones s, zones)."""
    t0 = time.perf_counter()
    infos = backend.list_zones()
    t1 = time.perf_counter()
    for info in infos:
        backend.change_token(info.name)
    t2 = time.perf_counter()
    changed = getattr(backend, "changed_zones", None)
    if changed is not None:
        changed()
    return t1 - t0, t2 - t1, time.perf_counter() - t2, len(infos)


def measure(backend: GSQLBackend, label: str, write: Callable[[int], None] | None,
            rounds: int, pg: bool) -> dict[str, Any]:
    best: tuple[float, float, float, int] | None = None
    cpu: list[float] = []
    for i in range(rounds):
        if write is not None:
            write(i)
        if pg:
            time.sleep(0.5)
        s0 = postgres_cpu() if pg else 0.0
        took = check(backend)
        cpu.append(postgres_cpu() - s0 if pg else 0.0)
        if best is None or took[0] < best[0]:
            best = took
    assert best is not None
    out: dict[str, Any] = {"check": label, "zones": best[3], "list_zones_s": round(best[0], 3),
                           "tokens_s": round(best[1], 3), "changed_zones_s": round(best[2], 3)}
    if pg:
        out["postgres_cpu_s"] = round(sorted(cpu)[len(cpu) // 2], 3)
    return out


def scenarios(backend: GSQLBackend, execute: Callable[[str, tuple[Any, ...]], None],
              zones: int, rounds: int, pg: bool) -> list[dict[str, Any]]:
    record = 10 * (zones // 2) + 8       # a record of a zone in the middle

    def change(i: int) -> None:
        execute("UPDATE records SET content = ? WHERE id = ?", (f"192.0.2.{100 + i}", record))

    def add_zone(i: int) -> None:
        execute("INSERT INTO domains (name, type) VALUES (?, 'NATIVE')",
                (f"new{time.time_ns()}.example",))

    backend.list_zones()
    change(99)
    backend._wrote()
    check(backend)                       # every fingerprint taken, as after the loads
    results = [measure(backend, "unchanged", None, rounds, pg),
               measure(backend, "record changed", change, rounds, pg),
               measure(backend, "zone added", add_zone, rounds, pg)]
    started = time.perf_counter()
    backend.install_change_log()
    installed = time.perf_counter() - started
    # the worst case: every zone has changed at least once since the install
    execute("UPDATE records SET ttl = 3600 WHERE type = 'SOA'", ())
    check(backend)
    results.append(measure(backend, "change log, record changed", change, rounds, pg))
    results.append(measure(backend, "change log, zone added", add_zone, rounds, pg))
    results.append({"check": "change log install", "s": round(installed, 3)})
    backend.remove_change_log()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite3", "pgsql"), default="pgsql")
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--per-zone", type=int, default=10)
    parser.add_argument("--path", help="the SQLite file (default: a temporary one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--reuse", action="store_true", help="use the kept database or file")
    args = parser.parse_args()
    started = time.perf_counter()
    pg = args.db == "pgsql"
    tmpdir = None
    backend: GSQLBackend
    if pg:
        import psycopg

        from fastdns.backends.gpgsql import PostgreSQL

        admin = {"host": args.host, "port": args.port, "user": args.user}
        if not args.reuse:
            build_pgsql(admin, args.zones, args.per_zone)
        backend = GSQLBackend(PostgreSQL({**admin, "dbname": DBNAME}), "gpgsql")

        def execute(sql: str, params: tuple[Any, ...]) -> None:
            with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
                conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
    else:
        from fastdns.backends.gsqlite3 import SQLite3

        if args.path is None:
            tmpdir = tempfile.TemporaryDirectory(prefix="sql_check")
            args.path = os.path.join(tmpdir.name, "pdns.sqlite3")
        if not args.reuse:
            build_sqlite(args.path, args.zones, args.per_zone)
        backend = GSQLBackend(SQLite3({"database": args.path}), "gsqlite3")

        def execute(sql: str, params: tuple[Any, ...]) -> None:
            conn = sqlite3.connect(args.path)
            with conn:
                conn.execute(sql, params)
            conn.close()
    built = time.perf_counter() - started
    try:
        results = scenarios(backend, execute, args.zones, args.rounds, pg)
    finally:
        backend.close()
        if pg and not args.keep:
            with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        if tmpdir is not None:
            tmpdir.cleanup()
    print(json.dumps({"db": args.db, "zones": args.zones, "per_zone": args.per_zone,
                      "build_s": round(built, 1), "cpus": os.cpu_count(),
                      "results": results}, indent=2))


if __name__ == "__main__":
    main()

"""How fast the SQL backends load every zone: ``load_image`` zone after zone (a query per
zone) against ``load_many`` (one ordered scan of ``records`` for all of them).

Builds a database in PowerDNS's schema with ``--zones`` zones of ten records each (SOA, two
NS, A, AAAA, MX and SRV with their ``prio``, TXT, CNAME, and an A below a delegation-free
subdomain), then, after a ``list_zones()`` (the listing is not timed), times

- ``load_image``: every zone (or the first ``--sample`` of them) by its own query;
- ``load_many``: all of them through one call, the images delivered to a callback;

and prints one JSON object: seconds and zones/second of each, and the ratio.

    python3 -m bench.sql_load [--zones 100000] [--sample 0] [--kind gsqlite3,gpgsql]
        [--host 127.0.0.1] [--port 5432] [--user postgres] [--dir /tmp] [--keep]

SQLite: a file in ``--dir``; PostgreSQL: the database ``fastdns_bench_load``, dropped at
the end unless ``--keep``.
"""

import argparse
import json
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from fastdns.backends.gsql import GSQLBackend, schema_sql, split_statements
from fastdns.backends.gsqlite3 import SQLite3
from fastdns.zone.check import ZoneError
from fastdns.zone.loader import CompiledZone

DBNAME = "fastdns_bench_load"

#: (name prefix, type, content with {z} for the zone, prio)
RECORDS = [
    ("", "SOA", "ns1.{z} hostmaster.{z} 1 10800 3600 604800 3600", 0),
    ("", "NS", "ns1.{z}", 0),
    ("", "NS", "ns2.{z}", 0),
    ("ns1.", "A", "192.0.2.1", 0),
    ("www.", "AAAA", "2001:db8::1", 0),
    ("", "MX", "mail.{z}", 10),
    ("_sip._tcp.", "SRV", "5 5060 sip.{z}", 20),
    ("", "TXT", '"v=spf1 -all"', 0),
    ("ftp.", "CNAME", "www.{z}", 0),
    ("a.b.", "A", "192.0.2.2", 0),
]


def records_sql(false: str, true: str) -> str:
    """An INSERT ... SELECT of the ten records of every zone of ``domains``, zone after
    zone; ``false`` and ``true`` as the database spells them."""
    zone, zone_id = "d.name", "d.id"
    selects = []
    for prefix, rtype, content, prio in RECORDS:
        parts = content.split("{z}")
        content_sql = " || ".join(
            p for i, part in enumerate(parts)
            for p in ([f"'{part}'"] if i == 0 else [zone, f"'{part}'"]) if p != "''")
        selects.append(f"SELECT {zone_id}, '{prefix}' || {zone}, '{rtype}', {content_sql}, "
                       f"3600, {prio} FROM domains d")
    return ("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
            f"SELECT *, {false}, {true} FROM (" + " UNION ALL ".join(selects) + ") r ORDER BY 1")


def build_sqlite(path: Path, zones: int) -> None:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(schema_sql("sqlite3"))
    conn.execute("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
                 "INSERT INTO domains (name, type) SELECT 'zone' || i || '.example', 'NATIVE' "
                 "FROM s", (zones,))
    conn.execute(records_sql("0", "1"))
    conn.commit()
    conn.close()


def build_postgres(admin: dict, zones: int) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DBNAME}"')
    with psycopg.connect(dbname=DBNAME, autocommit=True, **admin) as conn:
        for statement in split_statements(schema_sql("pgsql")):
            conn.execute(statement)
        conn.execute("INSERT INTO domains (name, type) SELECT 'zone' || i || '.example', "
                     "'NATIVE' FROM generate_series(1, %s) i", (zones,))
        conn.execute(records_sql("false", "true"))
        conn.execute("VACUUM ANALYZE")


def measure(backend: GSQLBackend, sample: int) -> dict:
    names = [z.name for z in backend.list_zones()]
    each = names[:sample] if sample else names
    started = time.perf_counter()
    images = 0
    for name in each:
        try:
            backend.load_image(name)
            images += 1
        except ZoneError:
            pass
    per_zone = time.perf_counter() - started
    loaded = [0, 0]

    def deliver(name: str, result: CompiledZone | ZoneError) -> None:
        loaded[isinstance(result, ZoneError)] += 1

    started = time.perf_counter()
    backend.load_many(names, deliver)
    scan = time.perf_counter() - started
    return {"zones": len(names),
            "load_image": {"zones": len(each), "images": images, "s": round(per_zone, 2),
                           "zones_per_s": round(len(each) / per_zone)},
            "load_many": {"zones": len(names), "images": loaded[0], "errors": loaded[1],
                          "s": round(scan, 2), "zones_per_s": round(len(names) / scan)},
            "speed_up": round((len(names) / scan) / (len(each) / per_zone), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zones", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=0,
                        help="time load_image on the first N zones only (0: all)")
    parser.add_argument("--kind", default="gsqlite3,gpgsql")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--dir", default=tempfile.gettempdir())
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    out: dict = {"zones": args.zones, "records_per_zone": len(RECORDS),
                 "cpus": os.cpu_count(), "results": {}}
    for kind in args.kind.split(","):
        started = time.perf_counter()
        if kind == "gsqlite3":
            path = Path(args.dir) / f"{DBNAME}.sqlite3"
            build_sqlite(path, args.zones)
            backend = GSQLBackend(SQLite3({"database": str(path)}), kind)
        elif kind == "gpgsql":
            from fastdns.backends.gpgsql import PostgreSQL

            admin = {"host": args.host, "port": args.port, "user": args.user}
            build_postgres(admin, args.zones)
            backend = GSQLBackend(PostgreSQL({**admin, "dbname": DBNAME}), kind)
        else:
            raise SystemExit(f"--kind: '{kind}' is not gsqlite3 or gpgsql")
        built = time.perf_counter() - started
        try:
            out["results"][kind] = {"build_s": round(built, 1),
                                    **measure(backend, args.sample)}
        finally:
            backend.close()
            if not args.keep:
                if kind == "gsqlite3":
                    path.unlink(missing_ok=True)
                else:
                    import psycopg

                    with psycopg.connect(dbname="postgres", autocommit=True, **admin) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

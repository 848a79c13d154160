"""Throwaway databases in PowerDNS's schema: an SQLite file, or a database of its own on the
PostgreSQL and MariaDB servers of 127.0.0.1 (created for one test or module, dropped after).

``TempDatabase(kind, workdir)`` gives the settings that point fastdns, ``pdns_server`` and
``pdnsutil`` at it (``settings()``), a fastdns backend on it (``backend()``) and plain SQL
(``execute()``). A server that is not running is a broken test setup (``.ci/run`` starts
them), not a skip.
"""

import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

from fastdns.backends.gmysql import MySQL
from fastdns.backends.gpgsql import PostgreSQL
from fastdns.backends.gsql import GSQLBackend, schema_sql, split_statements
from fastdns.backends.gsqlite3 import SQLite3

KINDS = ("gsqlite3", "gpgsql", "gmysql")
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": "3306", "user": "root", "password": ""}


class TempDatabase:
    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self.name = f"fastdns_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.path = workdir / f"{self.name}.sqlite3"
        self._backends: list[GSQLBackend] = []

    # -- life -----------------------------------------------------------------------------

    def create(self) -> "TempDatabase":
        if self.kind == "gsqlite3":
            conn = sqlite3.connect(self.path)
            conn.executescript(schema_sql("sqlite3"))
            conn.close()
        elif self.kind == "gpgsql":
            self._pg_admin(f'CREATE DATABASE "{self.name}"')
            self.execute_script(schema_sql("pgsql"))
        else:
            self._mysql_admin(f"CREATE DATABASE `{self.name}`")
            self.execute_script(schema_sql("mysql"))
        return self

    def drop(self) -> None:
        for backend in self._backends:
            backend.close()
        if self.kind == "gsqlite3":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        elif self.kind == "gpgsql":
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        else:
            self._mysql_admin(f"DROP DATABASE IF EXISTS `{self.name}`")

    def __enter__(self) -> "TempDatabase":
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.drop()

    # -- pointing things at it ------------------------------------------------------------

    def settings(self, prefix: str | None = None) -> dict[str, str]:
        """``launch=`` and the backend settings, in PowerDNS spelling."""
        p = prefix or self.kind
        if self.kind == "gsqlite3":
            return {"launch": self.kind, f"{p}-database": str(self.path)}
        if self.kind == "gpgsql":
            return {"launch": self.kind, f"{p}-host": PG["host"], f"{p}-port": PG["port"],
                    f"{p}-user": PG["user"], f"{p}-dbname": self.name}
        return {"launch": self.kind, f"{p}-host": MYSQL["host"], f"{p}-port": MYSQL["port"],
                f"{p}-user": MYSQL["user"], f"{p}-password": MYSQL["password"],
                f"{p}-dbname": self.name}

    def dialect_settings(self) -> dict[str, Any]:
        prefix = self.kind + "-"
        return {k[len(prefix):]: v for k, v in self.settings().items() if k.startswith(prefix)}

    def backend(self, check_interval: int = 60) -> GSQLBackend:
        settings = self.dialect_settings()
        dialect = {"gsqlite3": SQLite3, "gpgsql": PostgreSQL, "gmysql": MySQL}[self.kind]
        backend = GSQLBackend(dialect(settings), self.kind, check_interval)
        self._backends.append(backend)
        return backend

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement (written with ``?`` placeholders) in its own transaction."""
        if self.kind == "gsqlite3":
            conn = sqlite3.connect(self.path)
            try:
                with conn:
                    return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        sql = sql.replace("?", "%s")
        if self.kind == "gpgsql":
            import psycopg

            with psycopg.connect(dbname=self.name, **PG) as conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        import pymysql

        conn = pymysql.connect(database=self.name, host=MYSQL["host"], port=int(MYSQL["port"]),
                               user=MYSQL["user"], password=MYSQL["password"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                rows = list(cur.fetchall()) if cur.description else []
            conn.commit()
            return rows
        finally:
            conn.close()

    def execute_script(self, sql: str) -> None:
        for statement in split_statements(sql):
            self.execute(statement)

    # -- administration -------------------------------------------------------------------

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **PG) as conn:
            conn.execute(sql)

    def _mysql_admin(self, sql: str) -> None:
        import pymysql

        conn = pymysql.connect(host=MYSQL["host"], port=int(MYSQL["port"]), user=MYSQL["user"],
                               password=MYSQL["password"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()


def pdnsutil(db: TempDatabase, *args: str, check: bool = True) -> str:
    """Debian's pdnsutil on ``db``; its output."""
    confdir = db.workdir / f"pdnsutil-{db.name}"
    confdir.mkdir(exist_ok=True)
    (confdir / "pdns.conf").write_text("".join(f"{k}={v}\n" for k, v in db.settings().items()))
    binary = shutil.which("pdnsutil") or "/usr/bin/pdnsutil"
    result = subprocess.run([binary, f"--config-dir={confdir}", *args], capture_output=True,
                            text=True, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError(f"pdnsutil {' '.join(args)} failed: {result.stderr}{result.stdout}")
    return result.stdout


def pdns_sqlite(work: Path) -> tuple[Path, Path]:
    """An SQLite database made with the schema Debian's PowerDNS ships, and a configuration
    directory for pdnsutil and pdns_server that launches it: (database, configuration)."""
    database = work / "pdns.sqlite3"
    subprocess.run(["sqlite3", str(database)],
                   input=Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
                   .read_text(), text=True, check=True)
    (work / "conf").mkdir()
    (work / "conf" / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={database}\n")
    return database, work / "conf"


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, run as the
    ``postgres`` user), on 127.0.0.1:``port``, that a test may stop and start again."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self, port: int) -> None:
        import tempfile

        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="fastdns-pg-"))
        self.data = self.dir / "data"
        shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> "ThrowawayPostgres":
        self._run(str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U",
                  "postgres", "--no-sync")
        return self

    def start(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                  str(self.dir / "log"), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")

    def stop(self) -> None:
        self._run(str(self.BIN / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def settings(self, dbname: str = "postgres") -> dict[str, str]:
        return {"launch": "gpgsql", "gpgsql-host": "127.0.0.1", "gpgsql-port": str(self.port),
                "gpgsql-user": "postgres", "gpgsql-dbname": dbname}

    def execute(self, sql: str, params: tuple = ()) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres") as conn:
            conn.execute(sql.replace("?", "%s"), params)

    def remove(self) -> None:
        import contextlib

        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

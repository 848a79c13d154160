"""PostgreSQL streaming replication of the test's own: a primary cluster made with
``initdb`` and a hot standby of it made with ``pg_basebackup -R``, each in a temporary
directory, on 127.0.0.1 and a port of its own (never the machine's shared server on 5432).

Both are :class:`ThrowawayPostgres` clusters (tests/_support/sqldb.py): run as the
``postgres`` user when the tests run as root, stopped and removed by ``remove()``.
The server binaries are those of the newest PostgreSQL in /usr/lib/postgresql
(:func:`server_bin`; None when no server is installed).
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests._support.sqldb import ThrowawayPostgres


def server_bin() -> Path | None:
    """The ``bin`` directory of the newest PostgreSQL server installed (Debian's layout)."""
    found = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
             if (path.parent / "pg_basebackup").exists() and (path.parent / "pg_ctl").exists()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
               default=None)


class Cluster(ThrowawayPostgres):
    """A cluster in a temporary directory, owned by ``postgres`` when running as root."""

    BIN = server_bin() or ThrowawayPostgres.BIN

    def __init__(self, port: int) -> None:
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="fastdns-pg-"))
        self.data = self.dir / "data"
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")

    def query(self, sql: str, params: tuple = (), dbname: str = "pdns") -> list[tuple]:
        """One statement (``%s`` placeholders) in its own transaction; its rows."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
                             autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""


class Primary(Cluster):
    """The primary: ``wal_level=replica`` and a ``replication`` line in pg_hba.conf."""

    def init(self) -> "Primary":
        super().init()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 4\n")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        return self

    def wal_position(self) -> str:
        return self.query("SELECT pg_current_wal_lsn()::text", dbname="postgres")[0][0]


class Replica(Cluster):
    """A streaming hot standby of ``primary`` (``pg_basebackup -R``: standby.signal and
    ``primary_conninfo`` written for it)."""

    def __init__(self, port: int, primary: Primary) -> None:
        super().__init__(port)
        self.primary = primary

    def init(self) -> "Replica":
        self._run(str(self.BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                  str(self.primary.port), "-U", "postgres", "-D", str(self.data), "-R",
                  "-X", "stream", "-c", "fast", "--no-sync")
        return self

    def replayed(self, position: str) -> bool:
        """Whether the standby has replayed the primary's WAL up to ``position``."""
        return bool(self.query("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,),
                               dbname="postgres")[0][0])

    def wait_replayed(self, timeout: float = 10.0) -> float:
        """Wait until everything the primary wrote so far is replayed here; the seconds."""
        start = time.monotonic()
        position = self.primary.wal_position()
        while not self.replayed(position):
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"replica did not replay {position} within {timeout}s:\n"
                                   f"{self.log()}")
            time.sleep(0.02)
        return time.monotonic() - start


def start_pair(primary_port: int, replica_port: int) -> tuple[Primary, Replica]:
    """A running primary and a running replica of it; both removed if either fails to start."""
    primary = Primary(primary_port)
    replica: Replica | None = None
    try:
        primary.init().start()
        replica = Replica(replica_port, primary).init()
        replica.start()
        return primary, replica
    except BaseException as exc:
        logs = f"\nprimary log:\n{primary.log()}" + (f"\nreplica log:\n{replica.log()}"
                                                     if replica is not None else "")
        if replica is not None:
            replica.remove()
        primary.remove()
        if isinstance(exc, subprocess.CalledProcessError):
            raise RuntimeError(f"{exc.cmd} failed: {exc.stderr!r}{logs}") from exc
        raise

"""The gpgsql dialect: PowerDNS's schema in PostgreSQL, through psycopg 3 and its pool.

Settings as PowerDNS's: ``gpgsql-host``, ``-port``, ``-dbname``, ``-user``, ``-password``,
``-extra-connection-parameters``.  Bulk writes use COPY.  The cheap change probe is the
WAL position (the insert position on a primary, the replay position on a standby): when
it has not moved, nothing was written and the fingerprint query is skipped.
"""

import contextlib
import logging
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, cast

import psycopg
import psycopg.conninfo
import psycopg_pool

from fastdns.backends.sqlbase import CHANGE_TABLE, Dialect, Row

#: seconds to wait for a connection before the check (or write) fails
CONNECT_TIMEOUT = 3
_TABLES = ("records", "domainmetadata", "cryptokeys")

# the pool logs every failed reconnection attempt; the backend logs an outage once itself
logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)


def conninfo(settings: dict[str, Any]) -> str:
    """The libpq connection string of the gpgsql settings (as PowerDNS builds it)."""
    params = {key: str(settings.get(key) or "") for key in ("host", "port", "user", "password")}
    params["dbname"] = str(settings.get("dbname") or "")
    extra = str(settings.get("extra-connection-parameters") or "")
    base = psycopg.conninfo.make_conninfo(
        extra, **{k: v for k, v in params.items() if v})
    if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(base):
        base = psycopg.conninfo.make_conninfo(base, connect_timeout=CONNECT_TIMEOUT)
    return base


class PostgreSQL(Dialect):
    backend = "gpgsql"
    schema = "pgsql"
    errors = (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)
    down_errors = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout)
    placeholder = "%s"
    row_hash = "hashtext(concat_ws('|', name, type, content, ttl, prio, disabled::int))"
    meta_hash = "hashtext(concat_ws('|', kind, content))"
    # concat_ws skips NULLs: each column marked, so that NULL and '' differ
    domain_hash = ("hashtext(concat_ws('|', id, 'n' || name, 't' || type, 'm' || master, "
                   "'a' || account))")

    def __init__(self, settings: dict[str, Any], max_size: int = 4) -> None:
        self.conninfo = conninfo(settings)
        self.max_size = max_size
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._probe_ok = True

    def describe(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        return (f"gpgsql database '{info.get('dbname', '')}' on "
                f"{info.get('host') or 'local socket'}:{info.get('port') or 5432}")

    def _get_pool(self) -> psycopg_pool.ConnectionPool:
        if self._pool is None:
            # one plain attempt first: a server that is down fails it at once, where the
            # pool would keep retrying until its timeout
            psycopg.connect(self.conninfo).close()
            pool = psycopg_pool.ConnectionPool(self.conninfo, min_size=1, max_size=self.max_size,
                                               open=False, timeout=CONNECT_TIMEOUT * 2,
                                               name=self.describe())
            try:
                pool.open(wait=True, timeout=CONNECT_TIMEOUT)
            except BaseException:
                pool.close(timeout=0)
                raise
            self._pool = pool
        return self._pool

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.InterfaceError):
            # the server went away: start again from a fresh pool on the next call
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                pool.close(timeout=1)

    def probe(self, cur: Any) -> Hashable | None:
        if not self._probe_ok:
            return None
        try:
            cur.execute("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                        "ELSE pg_current_wal_insert_lsn() END::text")
        except psycopg.errors.InsufficientPrivilege:
            self._probe_ok = False
            return None
        return cur.fetchone()[0]

    def scan_cursor(self, cur: Any) -> contextlib.AbstractContextManager[Any]:
        """A server-side cursor (DECLARE ... FETCH), in ``cur``'s transaction."""
        return cast(contextlib.AbstractContextManager[Any],
                    cur.connection.cursor(name="fastdns_zones"))

    def change_log_read(self, cur: Any, mark: int | None
                        ) -> tuple[list[tuple[int, int]], int | None]:
        """``seq`` is the writer's transaction id: the rows to read are those whose writer
        had not committed when the last read's snapshot was taken, i.e. ``seq`` at least
        that snapshot's xmin (the oldest transaction then running); the xmin is taken
        before the read, so the next read starts no later than this one's snapshot."""
        cur.execute("SELECT txid_snapshot_xmin(txid_current_snapshot())")
        xmin = int(cur.fetchone()[0])
        if mark is None:
            cur.execute(f"SELECT domain_id, changes FROM {CHANGE_TABLE}")
        else:
            cur.execute(f"SELECT domain_id, changes FROM {CHANGE_TABLE} WHERE seq >= %s",
                        (mark,))
        return [(int(i), int(c)) for i, c in cur.fetchall()], xmin

    def bulk_insert(self, cur: Any, domain_id: int, rows: Iterable[Row],
                    progress: Callable[[int], None] | None) -> int:
        count = 0
        with cur.copy("COPY records (domain_id, name, type, content, ttl, prio, disabled, "
                      "ordername, auth) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((domain_id, row.name, row.type, row.content, row.ttl, row.prio,
                                bool(row.disabled), row.ordername, bool(row.auth)))
                count += 1
                if progress is not None and count % 10000 == 0:
                    progress(count)
        if progress is not None:
            progress(count)
        return count

    def change_log_sql(self) -> list[str]:
        def bump(source: str) -> str:
            return (f"INSERT INTO {CHANGE_TABLE} (domain_id, changes, seq) SELECT domain_id, 1, "
                    f"txid_current() FROM ({source}) s WHERE domain_id IS NOT NULL ORDER BY "
                    f"domain_id ON CONFLICT (domain_id) DO UPDATE SET changes = "
                    f"{CHANGE_TABLE}.changes + 1, seq = txid_current();")

        # seq: the writer's transaction id (change_log_read)
        out = [
            f"CREATE TABLE {CHANGE_TABLE} (domain_id INT PRIMARY KEY, changes BIGINT NOT NULL, "
            "seq BIGINT NOT NULL DEFAULT txid_current())",
            f"CREATE INDEX {CHANGE_TABLE}_seq ON {CHANGE_TABLE} (seq)",
            f"""CREATE FUNCTION {CHANGE_TABLE}_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {bump("SELECT DISTINCT domain_id FROM new_rows")}
  ELSIF TG_OP = 'DELETE' THEN
    {bump("SELECT DISTINCT domain_id FROM old_rows")}
  ELSIF TG_OP = 'UPDATE' THEN
    {bump("SELECT domain_id FROM new_rows UNION SELECT domain_id FROM old_rows")}
  ELSE
    {bump("SELECT id AS domain_id FROM domains")}
  END IF;
  RETURN NULL;
END $$""",
        ]
        for table in _TABLES:
            trigger = f"CREATE TRIGGER {CHANGE_TABLE}_{table}"
            call = f"FOR EACH STATEMENT EXECUTE FUNCTION {CHANGE_TABLE}_note()"
            out += [
                f"{trigger}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
                f"{call}",
                f"{trigger}_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows "
                f"NEW TABLE AS new_rows {call}",
                f"{trigger}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
                f"{call}",
                f"{trigger}_truncate AFTER TRUNCATE ON {table} {call}",
            ]
        return out

    def drop_change_log_sql(self) -> list[str]:
        out = [f"DROP TRIGGER IF EXISTS {CHANGE_TABLE}_{table}_{event} ON {table}"
               for table in _TABLES for event in ("insert", "update", "delete", "truncate")]
        return [*out, f"DROP FUNCTION IF EXISTS {CHANGE_TABLE}_note()",
                f"DROP TABLE IF EXISTS {CHANGE_TABLE}"]

"""The gmysql dialect: PowerDNS's schema in MariaDB or MySQL, through PyMySQL.

Settings as PowerDNS's: ``gmysql-host``, ``-port``, ``-socket``, ``-dbname``, ``-user``,
``-password``, ``-group`` (the option-file group), ``-timeout`` and
``-innodb-read-committed``.  There is no free "was anything written" question to ask a
MySQL server, so every check runs the fingerprint query (or reads the change log, whole:
its rows carry no ``seq`` here, as a MySQL trigger has no order of commits to give it).
"""

import contextlib
import os
from collections.abc import Iterator
from typing import Any, cast

import pymysql
import pymysql.cursors

from fastdns.backends.sqlbase import CHANGE_TABLE, Dialect

_TABLES = ("records", "domainmetadata", "cryptokeys")
#: seconds to wait for the server to accept a connection
CONNECT_TIMEOUT = 3


class MySQL(Dialect):
    backend = "gmysql"
    schema = "mysql"
    errors = (pymysql.err.MySQLError,)
    down_errors = (pymysql.err.OperationalError, pymysql.err.InterfaceError)
    placeholder = "%s"
    row_hash = "CRC32(CONCAT_WS('|', name, type, content, ttl, prio, disabled))"
    meta_hash = "CRC32(CONCAT_WS('|', kind, content))"
    domain_hash = ("CRC32(CONCAT_WS('|', id, CONCAT('n', name), CONCAT('t', type), "
                   "CONCAT('m', master), CONCAT('a', account)))")

    def __init__(self, settings: dict[str, Any]) -> None:
        self.host = str(settings.get("host") or "")
        self.port = int(settings.get("port") or 3306)
        self.socket = str(settings.get("socket") or "")
        self.dbname = str(settings.get("dbname") or "")
        self.user = str(settings.get("user") or "")
        self.password = str(settings.get("password") or "")
        self.group = str(settings.get("group") or "")
        self.timeout = int(settings.get("timeout") or 0)
        self.read_committed = bool(settings.get("innodb-read-committed", True))
        self._conn: Any = None

    def describe(self) -> str:
        where = self.socket if self.socket and not self.host else f"{self.host}:{self.port}"
        return f"gmysql database '{self.dbname}' on {where}"

    def _open(self) -> Any:
        kwargs: dict[str, Any] = {
            "database": self.dbname or None, "user": self.user or None,
            "password": self.password, "connect_timeout": CONNECT_TIMEOUT,
            "charset": "utf8mb4", "autocommit": False,
        }
        if self.host:
            kwargs.update(host=self.host, port=self.port)
        elif self.socket:
            kwargs["unix_socket"] = self.socket
        else:
            kwargs.update(host="localhost", port=self.port)
        if self.timeout:
            kwargs.update(read_timeout=self.timeout, write_timeout=self.timeout)
        if self.group:
            for path in ("/etc/mysql/my.cnf", os.path.expanduser("~/.my.cnf")):
                if os.path.exists(path):
                    kwargs.update(read_default_file=path, read_default_group=self.group)
                    break
        conn = pymysql.connect(**kwargs)
        if self.read_committed:
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        try:
            yield conn
        except BaseException as exc:
            try:
                conn.rollback()
            except pymysql.err.MySQLError:
                self.close()
            if isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError)):
                self.close()
            raise
        try:
            conn.commit()
        except pymysql.err.MySQLError:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                conn.close()

    #: a query per this many zones: the rows come off the socket as they are read, and
    #: a connection that fails is noticed at the next query at the latest
    scan_zones = 1000

    def scan_cursor(self, cur: Any) -> contextlib.AbstractContextManager[Any]:
        """An unbuffered cursor (rows read off the socket as they are fetched)."""
        return cast(contextlib.AbstractContextManager[Any],
                    cur.connection.cursor(pymysql.cursors.SSCursor))

    def change_log_sql(self) -> list[str]:
        out = [f"CREATE TABLE {CHANGE_TABLE} (domain_id INT NOT NULL PRIMARY KEY, "
               "changes BIGINT NOT NULL) Engine=InnoDB"]
        for table in _TABLES:
            for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)),
                                ("UPDATE", ("OLD", "NEW"))):
                body = "".join(
                    f"IF {r}.domain_id IS NOT NULL THEN INSERT INTO {CHANGE_TABLE} "
                    f"(domain_id, changes) VALUES ({r}.domain_id, 1) ON DUPLICATE KEY UPDATE "
                    "changes = changes + 1; END IF; " for r in rows)
                out.append(f"CREATE TRIGGER {CHANGE_TABLE}_{table}_{event.lower()} AFTER "
                           f"{event} ON {table} FOR EACH ROW BEGIN {body}END")
        return out

    def drop_change_log_sql(self) -> list[str]:
        out = [f"DROP TRIGGER IF EXISTS {CHANGE_TABLE}_{table}_{event}"
               for table in _TABLES for event in ("insert", "delete", "update")]
        return [*out, f"DROP TABLE IF EXISTS {CHANGE_TABLE}"]

"""The gsqlite3 dialect: PowerDNS's schema in an SQLite file (stdlib ``sqlite3``).

The embedded default.  Settings as PowerDNS's: ``gsqlite3-database``,
``gsqlite3-pragma-synchronous``, ``gsqlite3-pragma-foreign-keys``,
``gsqlite3-pragma-journal-mode`` (WAL, as PowerDNS sets it on every open); and fastdns's own
``gsqlite3-create-schema`` (create the file with PowerDNS's schema if it does not exist)
and ``gsqlite3-seed-bind-config`` (fill a file so created with the zones of a named.conf).
The cheap change probe is ``PRAGMA data_version``, which moves whenever another
connection commits to the file; the fingerprints of ``records`` and ``domains`` are taken
with SQLite's C API too. A zone's rows are read with SQLite's C API straight into
the compiler (fastdns.backends._sqlite3rows), on a read-only connection of their own.

A file replaced by a rename (``mv new.db pdns.sqlite3``, the usual atomic swap) is noticed:
each use of the connection first compares the file's identity with the one it opened, and
opens the new file when they differ.
"""

import contextlib
import os
import sqlite3
import threading
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any

from fastdns.backends._sqlite3rows import (
    SQLiteError,
    domain_prints,
    read_domains,
    read_records,
    read_zones,
    record_prints,
)
from fastdns.backends.sqlbase import (
    BATCH,
    CHANGE_TABLE,
    Columns,
    Dialect,
    DomainRow,
    Print,
    Row,
    ZoneBegin,
    ZoneEnd,
    schema_sql,
)

#: a bulk load drops the indexes of ``records`` (and builds them again before the commit)
#: once it has inserted this many rows and at least as many as the table's other rows
DEFER_INDEXES_AFTER = 50_000


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _row_hash(*columns: Any) -> int:
    """32-bit hash of a row's served columns (SQLite has no hash function of its own)."""
    return zlib.crc32("\x1f".join("" if c is None else str(c) for c in columns).encode())


class SQLite3(Dialect):
    backend = "gsqlite3"
    schema = "sqlite3"
    errors = (sqlite3.Error,)
    down_errors = (sqlite3.OperationalError,)
    placeholder = "?"
    meta_hash = "fastdns_meta_hash(kind, content)"
    key_hash = ("fastdns_meta_hash(flags || ' ' || COALESCE(active, '') || ' ' || "
                "COALESCE(published, ''), content)")
    prints_on_load = True

    def __init__(self, settings: dict[str, Any]) -> None:
        self.path = str(settings.get("database") or "")
        self.synchronous = str(settings.get("pragma-synchronous") or "")
        self.foreign_keys = bool(settings.get("pragma-foreign-keys"))
        self.journal_mode = str(settings.get("pragma-journal-mode") or "")
        self.create = bool(settings.get("create-schema"))
        #: called with the connection to a database file being created, after the schema
        self.on_create: Callable[[sqlite3.Connection], None] | None = None
        self._conn: sqlite3.Connection | None = None
        #: (device, inode) of the file ``_conn`` has open
        self._identity: tuple[int, int] | None = None
        self._opened = 0

    def describe(self) -> str:
        return f"gsqlite3 database '{self.path}'"

    def _connect(self, path: str, mode: str) -> sqlite3.Connection:
        uri = "file:" + path.replace("?", "%3f").replace("#", "%23")
        conn = sqlite3.connect(f"{uri}?mode={mode}", uri=True, timeout=10.0,
                               check_same_thread=False)
        try:
            conn.create_function("fastdns_meta_hash", 2, _row_hash, deterministic=True)
            if self.synchronous:
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            if self.journal_mode:
                conn.execute(f"PRAGMA journal_mode = {self.journal_mode}")
            if self.foreign_keys:
                conn.execute("PRAGMA foreign_keys = 1")
        except BaseException:
            conn.close()
            raise
        return conn

    def _create(self) -> None:
        """Make the database file: PowerDNS's schema, then ``on_create`` fills it; all in a
        file of its own that is linked into place, so that a failure leaves nothing, and a
        file another process or thread made meanwhile (the manager's zone service and its
        API open the backend at once) is kept, never replaced under its connections."""
        tmp = f"{self.path}.creating-{os.getpid()}-{threading.get_ident()}"
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # its directory too (conf/run of the example configuration), as sqlite3 will not
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        try:
            conn = sqlite3.connect(tmp)
            try:
                conn.executescript(schema_sql("sqlite3"))
                if self.on_create is not None:
                    self.on_create(conn)
                conn.commit()
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                pass                    # made first by someone else: theirs stays
            except OSError:             # a file system without hard links
                if not os.path.exists(self.path):
                    os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _open(self) -> sqlite3.Connection:
        if not self.path:
            raise sqlite3.OperationalError("gsqlite3-database is not set")
        if self.create and not os.path.exists(self.path):
            self._create()
        conn = self._connect(self.path, "rw")
        self._identity = _identity(self.path)
        self._opened += 1
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        if self._conn is not None and _identity(self.path) != self._identity:
            self.close()                          # replaced: read the new file
        if self._conn is None:
            self._conn = self._open()
        conn = self._conn
        try:
            yield conn
        except BaseException:
            try:
                conn.rollback()
            except sqlite3.Error:
                self.close()
            raise
        conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def read_records(self, cur: Any, domain_id: int, sink: Any,
                     warnings: list[str]) -> tuple[int, int, Hashable | None]:
        """The rows through SQLite's C API (no Python object per row)."""
        try:
            return read_records(self.path, domain_id, sink, warnings)
        except SQLiteError as exc:
            raise sqlite3.OperationalError(str(exc)) from None

    def read_zones(self, cur: Any, ids: Sequence[int], begin: ZoneBegin,
                   end: ZoneEnd) -> None:
        """Every zone's rows in one scan through SQLite's C API, in the order read_records
        reads them, the fingerprints as it takes them (of every row: a zone without
        served rows is seen too)."""
        try:
            read_zones(self.path, ids[0], ids[-1], begin, end)
        except SQLiteError as exc:
            raise sqlite3.OperationalError(str(exc)) from None

    def record_prints(self, cur: Any) -> dict[int, Hashable]:
        """The fingerprints of every zone through SQLite's C API, as read_records takes
        them (a hash in C for each row, instead of a Python function called by SQLite)."""
        try:
            return dict(record_prints(self.path))
        except SQLiteError as exc:
            raise sqlite3.OperationalError(str(exc)) from None

    def domain_prints(self, cur: Any, split: int) -> tuple[Print, Print]:
        """Through SQLite's C API (a hash in C for each row)."""
        try:
            return domain_prints(self.path, split)
        except SQLiteError as exc:
            raise sqlite3.OperationalError(str(exc)) from None

    def read_domains(self, cur: Any, after: int) -> tuple[list[DomainRow], Print]:
        try:
            return read_domains(self.path, after)
        except SQLiteError as exc:
            raise sqlite3.OperationalError(str(exc)) from None

    def probe(self, cur: Any) -> Hashable | None:
        cur.execute("PRAGMA data_version")
        return (self._opened, cur.fetchone()[0])

    def bulk_insert(self, cur: Any, domain_id: int, rows: Iterable[Row],
                    progress: Callable[[int], None] | None) -> int:
        def batches() -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
            batch: list[tuple[Any, ...]] = []
            for r in rows:
                batch.append((r.name, r.type, r.content, r.ttl, r.prio, bool(r.disabled),
                              bool(r.auth), r.ordername))
                if len(batch) >= BATCH:
                    yield len(batch), batch
                    batch = []
            if batch:
                yield len(batch), batch
        return self._insert(cur, domain_id, "name, type, content, ttl, prio, disabled, auth, "
                            "ordername", "?, ?, ?, ?, ?, ?, ?, ?", batches(), progress)

    def bulk_insert_columns(self, cur: Any, domain_id: int, batches: Iterable[Columns],
                            progress: Callable[[int], None] | None) -> int:
        # zip makes the rows in C; bound, 0, 1 and NULL are what False, True and None are
        return self._insert(cur, domain_id, "name, type, content, ttl, prio, disabled, auth, "
                            "ordername", "?, ?, ?, ?, ?, 0, 1, NULL",
                            ((len(c[0]), zip(*c, strict=True)) for c in batches), progress)

    def _insert(self, cur: Any, domain_id: int, columns: str, values: str,
                batches: Iterable[tuple[int, Iterable[tuple[Any, ...]]]],
                progress: Callable[[int], None] | None) -> int:
        """executemany per batch of (rows, parameters).  A big load into a table with few
        other rows drops the indexes of ``records`` once it has inserted
        :data:`DEFER_INDEXES_AFTER` rows and at least as many as the others, and creates
        them again at the end, in the same transaction (SQLite's DDL is transactional: a
        failure rolls the drop back, and readers see the old rows and indexes until the
        commit): a third less time for a million rows.  Building an index costs in
        proportion to the whole table, hence the comparison with the other rows."""
        sql = f"INSERT INTO records (domain_id, {columns}) VALUES ({int(domain_id)}, {values})"
        others = -1
        indexes: list[tuple[str, str]] | None = None
        count = 0
        for size, params in batches:
            cur.executemany(sql, params)
            count += size
            if indexes is None and count >= DEFER_INDEXES_AFTER:
                if others < 0:
                    cur.execute("SELECT COUNT(*) FROM records WHERE domain_id != ?",
                                (domain_id,))
                    others = int(cur.fetchone()[0])
                if count >= others:
                    indexes = self._drop_indexes(cur)
            if progress is not None:
                progress(count)
        for _name, create in indexes or ():
            cur.execute(create)
        return count

    @staticmethod
    def _drop_indexes(cur: Any) -> list[tuple[str, str]]:
        """Drop the indexes of ``records`` that can be dropped; (name, CREATE statement)."""
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                    "tbl_name = 'records' AND sql IS NOT NULL ORDER BY rowid")
        indexes = [(str(name), str(create)) for name, create in cur.fetchall()]
        for name, _create in indexes:
            cur.execute(f'DROP INDEX "{name.replace(chr(34), chr(34) * 2)}"')
        return indexes

    def change_log_sql(self) -> list[str]:
        # seq: one more than the highest, so that a check reads only the rows written
        # since the last (change_log_read; SQLite serializes writers)
        out = [f"CREATE TABLE {CHANGE_TABLE} (domain_id INTEGER PRIMARY KEY, "
               "changes INTEGER NOT NULL, seq INTEGER NOT NULL DEFAULT 0)",
               f"CREATE INDEX {CHANGE_TABLE}_seq ON {CHANGE_TABLE} (seq)"]
        for table in ("records", "domainmetadata", "cryptokeys"):
            for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",)),
                                ("UPDATE", ("OLD", "NEW"))):
                body = "".join(
                    f"INSERT INTO {CHANGE_TABLE} (domain_id, changes, seq) SELECT "
                    f"{r}.domain_id, 1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM {CHANGE_TABLE}) "
                    f"WHERE {r}.domain_id IS NOT NULL ON CONFLICT (domain_id) DO UPDATE SET "
                    "changes = changes + 1, seq = excluded.seq; " for r in rows)
                out.append(f"CREATE TRIGGER {CHANGE_TABLE}_{table}_{event.lower()} AFTER "
                           f"{event} ON {table} FOR EACH ROW BEGIN {body}END")
        return out

    def drop_change_log_sql(self) -> list[str]:
        out = [f"DROP TRIGGER IF EXISTS {CHANGE_TABLE}_{table}_{event}"
               for table in ("records", "domainmetadata", "cryptokeys")
               for event in ("insert", "delete", "update")]
        return [*out, f"DROP TABLE IF EXISTS {CHANGE_TABLE}"]

"""What the generic SQL layer and its dialects share: the row type, the dialect interface,
PowerDNS's schema text and the name forms of the database.

``gsql`` holds the backend itself; ``gsqlite3``, ``gpgsql`` and ``gmysql`` subclass
:class:`Dialect`.  (Split from ``gsql`` so that the dialects never import the layer above.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import groupby
from operator import itemgetter
from typing import Any

from fastdns.zone._rows import add_rows

#: the table the change log keeps (not a PowerDNS table; see ``GSQLBackend.install_change_log``)
CHANGE_TABLE = "fastdns_changes"
#: rows per executemany batch
BATCH = 5000
#: the fingerprint of a set of rows: (rows, highest id, sum of their hashes mod 2**64)
Print = tuple[int, int, int]
#: a ``domains`` row as a check lists it: id, name, type, master, account
DomainRow = tuple[int, "str | None", "str | None", "str | None", "str | None"]
#: the lowest id a check reads from (every id PowerDNS gives is above)
NO_ID = -(2 ** 62)
_MASK = 2 ** 64 - 1


def add_prints(a: Print, b: Print) -> Print:
    """The fingerprint of two disjoint sets of rows."""
    return (a[0] + b[0], max(a[1], b[1]) if a[0] and b[0] else (a[1] if a[0] else b[1]),
            (a[2] + b[2]) & _MASK)


def _print(count: Any, max_id: Any, total: Any) -> Print:
    return (int(count or 0), int(max_id or 0), int(total or 0) & _MASK)

#: load_many's readers: ``begin(domain_id)`` → (sink, warnings) for a zone's rows, or None
#: (its rows are stepped over); ``end(domain_id, rows read, rows left out, fingerprint or
#: None, the ValueError of a store's limit that stopped its rows, or None)``
ZoneBegin = Callable[[int], "tuple[Any, list[str]] | None"]
ZoneEnd = Callable[[int, int, int, "Hashable | None", "ValueError | None"], None]


@dataclass(slots=True)
class Row:
    """One ``records`` row in PowerDNS's column meaning.

    ``name`` is lowercase without the trailing dot; ``type`` is None for an empty
    non-terminal; ``content`` is without the priority of MX/SRV, which is in ``prio``.
    """

    name: str
    type: str | None
    content: str
    ttl: int
    prio: int = 0
    disabled: bool = False
    auth: bool = True
    ordername: str | None = None


#: records of a zone file for a bulk load, as columns of the same length: (names, types,
#: contents, ttls, prios), names in stored form (:func:`db_name`); not disabled, auth, no
#: ordername.  Columns, not a Row or tuple per record: cheap to build, to pickle, to bind.
Columns = tuple[list[str], list[str], list[str], list[int], list[int]]


def schema_sql(dialect: str) -> str:
    """PowerDNS's schema for ``dialect`` ("sqlite3", "pgsql", "mysql", or a backend name)."""
    short = {"gsqlite3": "sqlite3", "gpgsql": "pgsql", "gmysql": "mysql"}.get(dialect, dialect)
    if short not in ("sqlite3", "pgsql", "mysql"):
        raise ValueError(f"no schema for '{dialect}'")
    return (resources.files("fastdns.backends") / "schema" / f"schema.{short}.sql").read_text()


def split_statements(sql: str) -> list[str]:
    """The statements of a schema file (no statement in them contains a ';' in a string)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def db_name(zone: str) -> str:
    """A zone or owner name as PowerDNS stores it: lowercase, no trailing dot ("." for root)."""
    name = zone.strip().lower()
    if name in (".", ""):
        return "."
    return name[:-1] if name.endswith(".") else name


def zone_text(name: str) -> str:
    """``domains.name`` → the zone name fastdns uses: lowercase with the trailing dot."""
    name = name.lower()
    if name in (".", ""):
        return "."
    return name if name.endswith(".") else name + "."


class Dialect:
    """What differs between SQL databases; one subclass per backend module."""

    #: the backend name in ``launch=``
    backend = ""
    #: the schema file's short name
    schema = ""
    #: the driver's exceptions that mean "the database did not answer or refused"
    errors: tuple[type[BaseException], ...] = ()
    #: the placeholder of the driver ("?" or "%s"); queries are written with "?"
    placeholder = "?"
    #: the subset of ``errors`` that means the database is unreachable (an outage)
    down_errors: tuple[type[BaseException], ...] = ()
    #: SQL expression of a 32-bit hash of the served columns of a ``records`` row
    row_hash = ""
    #: whether read_records gives the zone's fingerprint too (as record_prints would)
    prints_on_load = False
    #: the same for a ``domainmetadata`` row
    meta_hash = ""
    #: the same for a ``domains`` row's listed columns (id, name, type, master, account)
    domain_hash = ""

    def connection(self) -> contextlib.AbstractContextManager[Any]:
        """A DB-API connection, committed at the end of the block, rolled back on error."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of every connection."""

    def probe(self, cur: Any) -> Hashable | None:
        """A value that changes whenever anything may have been written (None: no such
        cheap question for this database)."""
        return None

    def bulk_insert(self, cur: Any, domain_id: int, rows: Iterable[Row],
                    progress: Callable[[int], None] | None) -> int:
        """Insert ``rows`` into ``records`` for ``domain_id``; how many."""
        sql = self.sql("INSERT INTO records (domain_id, name, type, content, ttl, prio, "
                       "disabled, ordername, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        count = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append((domain_id, row.name, row.type, row.content, row.ttl, row.prio,
                          bool(row.disabled), row.ordername, bool(row.auth)))
            if len(batch) >= BATCH:
                cur.executemany(sql, batch)
                count += len(batch)
                batch.clear()
                if progress is not None:
                    progress(count)
        if batch:
            cur.executemany(sql, batch)
            count += len(batch)
            if progress is not None:
                progress(count)
        return count

    def bulk_insert_columns(self, cur: Any, domain_id: int, batches: Iterable[Columns],
                            progress: Callable[[int], None] | None) -> int:
        """Insert ``batches`` of :data:`Columns` into ``records`` for ``domain_id``; how
        many.  By default through :meth:`bulk_insert`."""
        rows = (Row(*t) for columns in batches for t in zip(*columns, strict=True))
        return self.bulk_insert(cur, domain_id, rows, progress)

    def record_prints(self, cur: Any) -> dict[int, Hashable]:
        """domain id -> fingerprint of its ``records`` rows: one aggregate for all zones."""
        cur.execute(f"SELECT domain_id, COUNT(*), MAX(id), SUM({self.row_hash}) "
                    "FROM records GROUP BY domain_id")
        return {int(i): (int(n), int(m), int(h or 0)) for i, n, m, h in cur.fetchall()
                if i is not None}

    def domain_prints(self, cur: Any, split: int) -> tuple[Print, Print]:
        """The fingerprint of every ``domains`` row, and of those with an id up to
        ``split``: one aggregate (what a check asks before it lists the zones again)."""
        cur.execute(self.sql(
            "SELECT COUNT(*), MAX(id), SUM(h), SUM(CASE WHEN id <= ? THEN 1 ELSE 0 END), "
            "MAX(CASE WHEN id <= ? THEN id END), SUM(CASE WHEN id <= ? THEN h ELSE 0 END) "
            f"FROM (SELECT id, {self.domain_hash} AS h FROM domains) d"), (split,) * 3)
        n, m, h, bn, bm, bh = cur.fetchone()
        return _print(n, m, h), _print(bn, bm, bh)

    def read_domains(self, cur: Any, after: int) -> tuple[list[DomainRow], Print]:
        """The ``domains`` rows with an id above ``after``, and their fingerprint (as
        domain_prints takes it: of the rows read, in the same statement)."""
        cur.execute(self.sql(f"SELECT id, name, type, master, account, {self.domain_hash} "
                             "FROM domains WHERE id > ?"), (after,))
        rows = cur.fetchall()
        count, max_id, total = 0, 0, 0
        for row in rows:
            count += 1
            max_id = int(row[0]) if count == 1 else max(max_id, int(row[0]))
            total += int(row[5] or 0)
        return [(int(i), n, t, m, a) for i, n, t, m, a, _ in rows], _print(count, max_id,
                                                                           total)

    def change_log_read(self, cur: Any, mark: int | None
                        ) -> tuple[list[tuple[int, int]], int | None]:
        """(domain id, counter) of the change log's rows written since ``mark`` (None:
        every row), and the mark of the next read; None again when the log was emptied or
        made anew since ``mark`` (the caller reads it whole).  By default the mark is the
        highest ``seq`` read: right where writers are serialized and a reader sees every
        commit before its own statement (SQLite), as a writer takes max(seq) + 1."""
        cur.execute(f"SELECT MAX(seq) FROM {CHANGE_TABLE}")
        top = cur.fetchone()[0]
        top = int(top) if top is not None else 0
        if mark is not None and top < mark:
            return [], None
        cur.execute(self.sql(f"SELECT domain_id, changes FROM {CHANGE_TABLE} WHERE seq > ?"),
                    (mark if mark is not None else NO_ID,))
        return [(int(i), int(c)) for i, c in cur.fetchall()], top

    def read_records(self, cur: Any, domain_id: int, sink: Any,
                     warnings: list[str]) -> tuple[int, int, Hashable | None]:
        """Add the served rows of ``domain_id`` to ``sink`` (fastdns.zone._rows); (rows read,
        rows left out, the zone's fingerprint or None). By default through the driver, a
        batch of rows at a time, in id order (the order read_zones reads them in)."""
        cur.execute(self.sql("SELECT id, name, type, content, ttl, prio FROM records "
                             "WHERE domain_id = ? AND disabled = ? AND type IS NOT NULL "
                             "ORDER BY id"),
                    (domain_id, False))
        count = skipped = 0
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                return count, skipped, None
            read, left = add_rows(sink, rows, warnings)
            count += read
            skipped += left

    #: rows fetched at a time by read_zones (from a server-side or unbuffered cursor)
    scan_batch = BATCH
    #: read_zones asks for the rows of this many zones (of those wanted) per query (None:
    #: all in one query)
    scan_zones: int | None = None

    def scan_cursor(self, cur: Any) -> contextlib.AbstractContextManager[Any]:
        """A cursor in ``cur``'s transaction whose rows come from the server as they are
        fetched, not all at once (by default ``cur`` itself)."""
        return contextlib.nullcontext(cur)

    def read_zones(self, cur: Any, ids: Sequence[int], begin: ZoneBegin,
                   end: ZoneEnd) -> None:
        """The served rows of the zones with an id from ``ids[0]`` to ``ids[-1]`` (``ids``
        ascending, the zones wanted) in domain id order, each zone's in id order as
        read_records reads them, streamed (:meth:`scan_cursor`, :attr:`scan_batch` rows at
        a time; one query, or one per :attr:`scan_zones` zones of ``ids``): each zone's go
        to the sink ``begin`` gives as read_records adds them, then ``end`` is called (see
        :data:`ZoneBegin`; a zone without served rows is not seen at all). By default
        through the driver; no fingerprint (as read_records)."""
        sql = self.sql("SELECT domain_id, id, name, type, content, ttl, prio FROM records "
                       "WHERE domain_id BETWEEN ? AND ? AND disabled = ? AND type IS NOT NULL "
                       "ORDER BY domain_id, id")
        step = self.scan_zones or len(ids)
        zone = _ZoneRows(begin, end)
        with self.scan_cursor(cur) as scan:
            for k in range(0, len(ids), step):
                scan.execute(sql, (ids[k], ids[min(k + step, len(ids)) - 1], False))
                while True:
                    rows = scan.fetchmany(self.scan_batch)
                    if not rows:
                        break
                    zone.add(rows)
            zone.close()

    def change_log_sql(self) -> list[str]:
        """Statements that create the change-log table and its triggers."""
        raise NotImplementedError

    def drop_change_log_sql(self) -> list[str]:
        """Statements that remove the change log."""
        raise NotImplementedError

    def sql(self, query: str) -> str:
        """``query`` with this driver's placeholders."""
        return query if self.placeholder == "?" else query.replace("?", self.placeholder)

    def describe(self) -> str:
        """Where the data is, for messages (no password)."""
        return self.backend


class _ZoneRows:
    """Rows of (domain id, then add_rows's columns), zone after zone, to the sinks of
    Dialect.read_zones's ``begin``; a zone's rows may span batches."""

    __slots__ = (
        "begin",
        "count",
        "domain_id",
        "end",
        "error",
        "sink",
        "skipped",
        "warnings",
    )

    def __init__(self, begin: ZoneBegin, end: ZoneEnd) -> None:
        self.begin = begin
        self.end = end
        self.domain_id: int | None = None
        self.sink: Any = None
        self.warnings: list[str] = []
        self.count = self.skipped = 0
        self.error: ValueError | None = None

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        for domain_id, group in groupby(rows, key=itemgetter(0)):
            domain_id = int(domain_id)
            if domain_id != self.domain_id:
                self.close()
                self.domain_id = domain_id
                taken = self.begin(domain_id)
                self.sink, self.warnings = taken if taken is not None else (None, [])
            if self.sink is None:
                continue
            try:
                read, left = add_rows(self.sink, (row[1:] for row in group), self.warnings)
            except ValueError as exc:   # the store's limits: this zone only
                self.error, self.sink = exc, None
                continue
            self.count += read
            self.skipped += left

    def close(self) -> None:
        """The current zone's rows are all read."""
        if self.domain_id is not None:
            domain_id, self.domain_id = self.domain_id, None
            error, self.error, self.sink = self.error, None, None
            count, skipped, self.count, self.skipped = self.count, self.skipped, 0, 0
            self.end(domain_id, count, skipped, None, error)

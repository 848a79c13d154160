"""What the generic SQL layer and its dialects share: the row type, the dialect interface,
PowerDNS's schema text and the name forms of the database.

``gsql`` holds the backend itself; ``gsqlite3``, ``gpgsql`` and ``gmysql`` subclass
:class:`Dialect`.  (Split from ``gsql`` so that the dialects never import the layer above.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastdns.zone._rows import add_rows

#: the table the change log keeps (not a PowerDNS table; see ``GSQLBackend.install_change_log``)
CHANGE_TABLE = "fastdns_changes"
#: rows per executemany batch
BATCH = 5000


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

    def read_records(self, cur: Any, domain_id: int, sink: Any,
                     warnings: list[str]) -> tuple[int, int, Hashable | None]:
        """Add the served rows of ``domain_id`` to ``sink`` (fastdns.zone._rows); (rows read,
        rows left out, the zone's fingerprint or None). By default through the driver, a
        batch of rows at a time."""
        cur.execute(self.sql("SELECT id, name, type, content, ttl, prio FROM records "
                             "WHERE domain_id = ? AND disabled = ? AND type IS NOT NULL"),
                    (domain_id, False))
        count = skipped = 0
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                return count, skipped, None
            read, left = add_rows(sink, rows, warnings)
            count += read
            skipped += left

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

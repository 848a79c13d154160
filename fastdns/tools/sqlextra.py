"""Queries fastdns-util needs beyond the GSQLBackend contract, kept apart on purpose.

``GSQLBackend`` offers what the server and the API need; a few tool-only questions (which
zones have an SOA, one RRset without reading the whole zone, the tables that
``b2b-migrate`` copies as they are: cryptokeys, comments, tsigkeys) are asked here through
the backend's own dialect (its connection, placeholders and error types).
"""

from __future__ import annotations

from typing import Any

from fastdns.backends.gsql import GSQLBackend, Row, db_name
from fastdns.zone.source import BackendError


def _query(backend: GSQLBackend, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
    dialect = backend.dialect
    try:
        with dialect.connection() as conn:
            cur = conn.cursor()
            try:
                cur.execute(dialect.sql(sql), params)
                return list(cur.fetchall()) if cur.description is not None else []
            finally:
                cur.close()
    except dialect.errors as exc:
        raise BackendError(f"{dialect.describe()}: {exc}") from None


def zones_with_soa(backend: GSQLBackend) -> set[str]:
    """Names (database form) of the zones that have an enabled SOA at their apex."""
    rows = _query(backend, "SELECT domains.name FROM domains JOIN records ON "
                  "records.domain_id = domains.id AND records.type = 'SOA' AND "
                  "records.name = domains.name WHERE records.disabled = ?", (False,))
    return {str(name) for (name,) in rows}


def rrset_rows(backend: GSQLBackend, zone: str, name: str, rtype: str) -> list[Row]:
    """The rows of one RRset (disabled ones included), in insertion order."""
    rows = _query(backend, "SELECT records.name, records.type, records.content, records.ttl, "
                  "records.prio, records.disabled, records.auth, records.ordername FROM "
                  "records JOIN domains ON domains.id = records.domain_id WHERE "
                  "domains.name = ? AND records.name = ? AND records.type = ? "
                  "ORDER BY records.id", (db_name(zone), db_name(name), rtype))
    return [Row(n, t, c or "", int(ttl or 0), int(prio or 0), bool(d),
                True if a is None else bool(a), o)
            for n, t, c, ttl, prio, d, a, o in rows]


def _domain_id(backend: GSQLBackend, zone: str) -> int:
    rows = _query(backend, "SELECT id FROM domains WHERE name = ?", (db_name(zone),))
    if not rows:
        raise BackendError(f"zone '{db_name(zone)}' is not in backend '{backend.name}'")
    return int(rows[0][0])


def copy_keys_and_comments(src: GSQLBackend, dst: GSQLBackend, zone: str) -> tuple[int, int]:
    """Copy the cryptokeys and comments of ``zone``; (keys, comments) copied."""
    src_id, dst_id = _domain_id(src, zone), _domain_id(dst, zone)
    keys = _query(src, "SELECT flags, active, published, content FROM cryptokeys "
                  "WHERE domain_id = ? ORDER BY id", (src_id,))
    for flags, active, published, content in keys:
        _query(dst, "INSERT INTO cryptokeys (domain_id, flags, active, published, content) "
               "VALUES (?, ?, ?, ?, ?)",
               (dst_id, int(flags), bool(active), bool(True if published is None else published),
                content))
    comments = _query(src, "SELECT name, type, modified_at, account, comment FROM comments "
                      "WHERE domain_id = ? ORDER BY id", (src_id,))
    for name, rtype, modified, account, comment in comments:
        _query(dst, "INSERT INTO comments (domain_id, name, type, modified_at, account, "
               "comment) VALUES (?, ?, ?, ?, ?, ?)",
               (dst_id, name, rtype, int(modified or 0), account, comment))
    return len(keys), len(comments)


def copy_tsig_keys(src: GSQLBackend, dst: GSQLBackend) -> int:
    """Copy every TSIG key; how many."""
    keys = _query(src, "SELECT name, algorithm, secret FROM tsigkeys ORDER BY id")
    for name, algorithm, secret in keys:
        _query(dst, "INSERT INTO tsigkeys (name, algorithm, secret) VALUES (?, ?, ?)",
               (name, algorithm, secret))
    return len(keys)


def set_notified_serial(backend: GSQLBackend, zone: str, serial: int) -> int | None:
    """Write ``domains.notified_serial`` and read it back (``test-schema``)."""
    _query(backend, "UPDATE domains SET notified_serial = ? WHERE name = ?",
           (serial, db_name(zone)))
    rows = _query(backend, "SELECT notified_serial FROM domains WHERE name = ?",
                  (db_name(zone),))
    return None if not rows or rows[0][0] is None else int(rows[0][0])

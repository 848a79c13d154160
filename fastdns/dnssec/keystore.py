"""Where a zone's DNSSEC keys and metadata live, as PowerDNS keeps them (DESIGN §5).

- A zone of an SQL backend (gsqlite3, gpgsql, gmysql): that backend's own ``cryptokeys``
  and ``domainmetadata`` tables (fastdns.backends.gsqlwrite, GSQLBackend).
- A zone of the bind backend: the SQLite file named by ``bind-dnssec-db`` (made by
  ``fastdns-util create-bind-db``), whose tables key rows by zone name, not id
  (:class:`BindDnssecDB`).  Without that setting a BIND zone has no key store (unsigned).

Both implement :class:`KeyStore`: keys (read, add, flip active/published, remove) and
metadata (get, set), plus the batch reads ``keys_many``/``meta_many`` that load the
signing state of many zones with one query per table.  Zone names are given without the
trailing dot (``example.com``), as fastdns-util and PowerDNS's tables spell them.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol, runtime_checkable

from fastdns.zone.source import BackendError


class KeyRow(NamedTuple):
    """One ``cryptokeys`` row: PowerDNS's columns (``content``: the ISC text)."""

    id: int
    flags: int
    active: bool
    published: bool
    content: str


@runtime_checkable
class KeyStore(Protocol):
    """The keys and metadata of zones (see the module doc)."""

    name: str

    def keys(self, zone: str) -> list[KeyRow]: ...

    def keys_many(self, zones: Iterable[str]) -> dict[str, list[KeyRow]]: ...

    def add_key(self, zone: str, flags: int, active: bool, published: bool,
                content: str) -> int: ...

    def add_keys_many(self, keys: Iterable[tuple[str, int, bool, bool, str]],
                      progress: Callable[[int], None] | None = None) -> int: ...

    def set_key_active(self, zone: str, key_id: int, active: bool) -> bool: ...

    def set_key_published(self, zone: str, key_id: int, published: bool) -> bool: ...

    def remove_key(self, zone: str, key_id: int) -> bool: ...

    def get_meta(self, zone: str, kind: str) -> list[str]: ...

    def set_meta(self, zone: str, kind: str, values: Iterable[str]) -> None: ...

    def all_meta(self, zone: str) -> dict[str, list[str]]: ...

    def meta_many(self, zones: Iterable[str], kinds: Iterable[str]
                  ) -> dict[str, dict[str, list[str]]]: ...

    def close(self) -> None: ...


def _zone_key(zone: str) -> str:
    """A zone name as the bind-dnssec-db stores it: lowercase, no trailing dot."""
    zone = zone.lower()
    return zone[:-1] if zone.endswith(".") and zone != "." else zone


class BindDnssecDB:
    """The keys and metadata of BIND zones in a ``bind-dnssec-db`` SQLite file (PowerDNS's
    schema for it: fastdns.tools.admincmds.BIND_DNSSEC_SCHEMA).  Each call is one
    transaction on a connection opened at first use."""

    def __init__(self, path: str, name: str = "bind-dnssec-db") -> None:
        self.path = path
        self.name = name
        self._conn: sqlite3.Connection | None = None

    def describe(self) -> str:
        return f"bind-dnssec-db '{self.path}'"

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        try:
            if self._conn is None:
                if not os.path.exists(self.path):
                    raise BackendError(f"{self.describe()} does not exist (make it with "
                                       "'fastdns-util create-bind-db')")
                self._conn = sqlite3.connect(self.path, timeout=10.0)
            with self._conn:
                cur = self._conn.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
        except sqlite3.Error as exc:
            raise BackendError(f"{self.describe()}: {exc}") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- keys ----------------------------------------------------------------------------

    def keys(self, zone: str) -> list[KeyRow]:
        with self._cursor() as cur:
            cur.execute("SELECT id, flags, active, published, content FROM cryptokeys "
                        "WHERE domain = ? ORDER BY id", (_zone_key(zone),))
            return [_row(r) for r in cur.fetchall()]

    def keys_many(self, zones: Iterable[str]) -> dict[str, list[KeyRow]]:
        wanted = {_zone_key(zone): zone for zone in zones}
        out: dict[str, list[KeyRow]] = {}
        with self._cursor() as cur:
            cur.execute("SELECT domain, id, flags, active, published, content FROM cryptokeys "
                        "ORDER BY id")
            for domain, *row in cur.fetchall():
                zone = wanted.get(_zone_key(domain or ""))
                if zone is not None:
                    out.setdefault(zone, []).append(_row(row))
        return out

    def add_key(self, zone: str, flags: int, active: bool, published: bool,
                content: str) -> int:
        with self._cursor() as cur:
            cur.execute("INSERT INTO cryptokeys (domain, flags, active, published, content) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (_zone_key(zone), flags, int(bool(active)), int(bool(published)),
                         content))
            return int(cur.lastrowid or 0)

    def add_keys_many(self, keys: Iterable[tuple[str, int, bool, bool, str]],
                      progress: Callable[[int], None] | None = None) -> int:
        rows = [(_zone_key(zone), flags, int(bool(active)), int(bool(published)), content)
                for zone, flags, active, published, content in keys]
        with self._cursor() as cur:
            cur.executemany("INSERT INTO cryptokeys (domain, flags, active, published, "
                            "content) VALUES (?, ?, ?, ?, ?)", rows)
        if progress is not None:
            progress(len(rows))
        return len(rows)

    def set_key_active(self, zone: str, key_id: int, active: bool) -> bool:
        return self._set(zone, key_id, "active", active)

    def set_key_published(self, zone: str, key_id: int, published: bool) -> bool:
        return self._set(zone, key_id, "published", published)

    def _set(self, zone: str, key_id: int, column: str, value: bool) -> bool:
        with self._cursor() as cur:
            cur.execute(f"UPDATE cryptokeys SET {column} = ? WHERE domain = ? AND id = ?",
                        (int(bool(value)), _zone_key(zone), key_id))
            return cur.rowcount != 0

    def remove_key(self, zone: str, key_id: int) -> bool:
        with self._cursor() as cur:
            cur.execute("DELETE FROM cryptokeys WHERE domain = ? AND id = ?",
                        (_zone_key(zone), key_id))
            return cur.rowcount != 0

    # -- metadata ------------------------------------------------------------------------

    def get_meta(self, zone: str, kind: str) -> list[str]:
        with self._cursor() as cur:
            cur.execute("SELECT content FROM domainmetadata WHERE domain = ? AND kind = ? "
                        "ORDER BY id", (_zone_key(zone), kind))
            return [content or "" for (content,) in cur.fetchall()]

    def set_meta(self, zone: str, kind: str, values: Iterable[str]) -> None:
        with self._cursor() as cur:
            cur.execute("DELETE FROM domainmetadata WHERE domain = ? AND kind = ?",
                        (_zone_key(zone), kind))
            cur.executemany("INSERT INTO domainmetadata (domain, kind, content) "
                            "VALUES (?, ?, ?)",
                            [(_zone_key(zone), kind, value) for value in values])

    def all_meta(self, zone: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self._cursor() as cur:
            cur.execute("SELECT kind, content FROM domainmetadata WHERE domain = ? "
                        "ORDER BY id", (_zone_key(zone),))
            for kind, content in cur.fetchall():
                out.setdefault(kind or "", []).append(content or "")
        return out

    def meta_many(self, zones: Iterable[str], kinds: Iterable[str]
                  ) -> dict[str, dict[str, list[str]]]:
        wanted = {_zone_key(zone): zone for zone in zones}
        upper = {kind.upper() for kind in kinds}
        out: dict[str, dict[str, list[str]]] = {}
        with self._cursor() as cur:
            cur.execute("SELECT domain, kind, content FROM domainmetadata ORDER BY id")
            for domain, kind, content in cur.fetchall():
                zone = wanted.get(_zone_key(domain or ""))
                kind = (kind or "").upper()
                if zone is not None and kind in upper:
                    out.setdefault(zone, {}).setdefault(kind, []).append(content or "")
        return out

    # -- TSIG keys (``tsigkeys``, as in PowerDNS's bind-dnssec-db) ---------------------------

    def tsig_keys(self) -> list[tuple[str, str, str]]:
        """Every ``tsigkeys`` row as stored, ``(name, algorithm, secret)``, by id."""
        with self._cursor() as cur:
            cur.execute("SELECT name, algorithm, secret FROM tsigkeys ORDER BY id")
            return [(name or "", algorithm or "", secret or "")
                    for name, algorithm, secret in cur.fetchall()]

    def set_tsig_key(self, name: str, algorithm: str, secret: str) -> None:
        """Store a TSIG key (``name`` and ``algorithm`` lowercase without the trailing dot),
        replacing the key of the same name and algorithm, as PowerDNS does."""
        with self._cursor() as cur:
            cur.execute("REPLACE INTO tsigkeys (name, algorithm, secret) VALUES (?, ?, ?)",
                        (_zone_key(name), _zone_key(algorithm), secret))

    def delete_tsig_key(self, name: str) -> int:
        """Remove every key called ``name`` (any algorithm); how many."""
        with self._cursor() as cur:
            cur.execute("DELETE FROM tsigkeys WHERE name = ?", (_zone_key(name),))
            return max(cur.rowcount, 0)


def _row(row: Any) -> KeyRow:
    key_id, flags, active, published, content = row
    return KeyRow(int(key_id), int(flags or 0), bool(active),
                  bool(published) if published is not None else True, content or "")


__all__ = ["BindDnssecDB", "KeyRow", "KeyStore"]

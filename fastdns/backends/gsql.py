"""The generic SQL backend: PowerDNS's schema, one layer for SQLite, PostgreSQL and MariaDB.

A :class:`GSQLBackend` is a ZoneSource (``list_zones``, ``change_token``, ``load_image``)
and the store the CLI, the API and transfers write through.  It reads and writes the
tables exactly as PowerDNS 4.7 does (``schema/schema.*.sql``):

- ``domains.name`` and ``records.name`` are lowercase, without the trailing dot;
- only rows with ``disabled = 0`` are served; a row with a NULL ``type`` is an empty
  non-terminal written by rectify, not a record;
- MX and SRV keep their priority in ``prio``; it is put back in front of ``content``
  (fastdns.zone._rows reads the rows, with the same reader as zone files);
- ``auth`` and ``ordername`` are written as PowerDNS's rectify writes them (for DNSSEC);
  serving works out cuts and canonical order from the records themselves;
- ``domains.type`` NATIVE, MASTER, SLAVE (PRODUCER, CONSUMER) are the kinds native,
  primary, secondary.

What differs between databases (driver, placeholders, bulk insert, the cheap "did anything
change" probe) lives in a small dialect module each: ``gsqlite3``, ``gpgsql``, ``gmysql``.

The backend is three parts, one module each, over one connection
(fastdns.backends.gsqlconn: transactions, errors, outages): how it notices changes
(gsqlchanges: the listing, fingerprints, the change log; DESIGN §4), what it writes
(gsqlwrite), and here what it reads: a zone's image for the server, and rows for the
tools and the API.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from fastdns.backends.gsqlchanges import ChangeChecks
from fastdns.backends.gsqlconn import KINDS
from fastdns.backends.gsqlwrite import DB_KINDS, TABLES, ZoneWrites
from fastdns.backends.sqlbase import (
    BATCH,
    CHANGE_TABLE,
    Columns,
    Dialect,
    Row,
    db_name,
    schema_sql,
    split_statements,
    zone_text,
)
from fastdns.zone.check import ZoneError
from fastdns.zone.loader import DEFAULT_OPTIONS, CompiledZone, ZoneOptions, compile_rows
from fastdns.zone.source import BackendError


def open_backend(config: Any, instance: Any) -> GSQLBackend:
    """The GSQLBackend of one ``launch=`` instance (``gsqlite3``, ``gpgsql:second``...)."""
    # each driver is imported only where its backend is launched
    from fastdns.backends.gsqlite3 import SQLite3

    settings = config.backend(instance)
    dialect: Dialect
    seed = ""
    if instance.backend == "gsqlite3":
        dialect = SQLite3(settings)
        seed = str(settings.get("seed-bind-config") or "")
    elif instance.backend == "gpgsql":
        from fastdns.backends.gpgsql import PostgreSQL

        dialect = PostgreSQL(settings)
    elif instance.backend == "gmysql":
        from fastdns.backends.gmysql import MySQL

        dialect = MySQL(settings)
    else:
        raise BackendError(f"'{instance.backend}' is not an SQL backend")
    interval = config["zone-check-interval"] if "zone-check-interval" in config else 60
    backend = GSQLBackend(dialect, name=str(instance), check_interval=int(interval),
                          options=ZoneOptions.from_config(config))
    if seed and isinstance(dialect, SQLite3):
        dialect.on_create = lambda conn: backend.seed_from_named_conf(conn, seed)
    return backend


class GSQLBackend(ZoneWrites, ChangeChecks):
    """A ZoneSource and store over PowerDNS's generic SQL schema (see the module doc):
    ``list_zones`` and ``change_token`` are ChangeChecks's, the writes ZoneWrites's."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60,
                 options: ZoneOptions = DEFAULT_OPTIONS) -> None:
        super().__init__(dialect, name, check_interval)
        #: how rows are read (svc-autohints; a broken row is always left out)
        self.options = options

    def load_image(self, zone: str) -> CompiledZone:
        """The image of ``zone``'s served rows (``disabled = 0``, type not NULL); a row
        that cannot be read is left out with a warning, as PowerDNS serves the rest.

        A database error is a ZoneError (the zone keeps its served version), and moves
        the zone's token so that the next periodic check tries again.
        """
        d = self._domains.get(zone)
        try:
            with self._cursor() as cur:
                domain_id = d.id if d is not None else self._domain_id(cur, zone)
                taken: list[Hashable] = []

                def fill(sink: Any, warnings: list[str]) -> tuple[int, int]:
                    count, skipped, fingerprint = self.dialect.read_records(
                        cur, domain_id, sink, warnings)
                    taken.append(fingerprint)
                    return count, skipped

                compiled = compile_rows(zone, fill, f"{self.dialect.describe()}, "
                                        f"domains.id={domain_id}", self.options)
                if taken and taken[0] is not None and not self._change_log:
                    self._prints[domain_id] = taken[0]   # as of the rows just read
                return compiled
        except BackendError as exc:
            if d is not None:
                self._retries[d.id] = self._retries.get(d.id, 0) + 1
            raise ZoneError(f"backend '{self.name}': {exc}") from None

    # -- zones ---------------------------------------------------------------------------

    def zone_info(self, zone: str) -> dict[str, Any] | None:
        """The ``domains`` row of ``zone`` (``kind`` as fastdns spells it), or None."""
        with self._cursor() as cur:
            cur.execute(self._q("SELECT id, name, type, master, account, notified_serial, "
                                "last_check FROM domains WHERE name = ?"), (db_name(zone),))
            row = cur.fetchone()
        if row is None:
            return None
        domain_id, name, db_kind, master, account, notified, last_check = row
        return {"id": int(domain_id), "name": name,
                "kind": KINDS.get((db_kind or "").upper(), "native"),
                "master": master or "", "account": account or "",
                "notified_serial": notified, "last_check": last_check}

    def zone_rows(self, zone: str) -> list[Row]:
        """Every ``records`` row of ``zone`` (disabled and ENT rows included), in name and
        type order."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("SELECT name, type, content, ttl, prio, disabled, auth, "
                                "ordername FROM records WHERE domain_id = ? ORDER BY id"),
                        (domain_id,))
            rows = cur.fetchall()
        out = [Row(name or "", rtype, content or "", int(ttl or 0), int(prio or 0),
                   bool(disabled), bool(auth) if auth is not None else True, ordername)
               for name, rtype, content, ttl, prio, disabled, auth, ordername in rows]
        out.sort(key=lambda r: (r.name, r.type or ""))
        return out

    def get_meta(self, zone: str, kind: str) -> list[str]:
        """The values of metadata ``kind`` of ``zone`` (kinds compare without case)."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("SELECT kind, content FROM domainmetadata WHERE domain_id = ? "
                                "ORDER BY id"), (domain_id,))
            return [content or "" for k, content in cur.fetchall()
                    if (k or "").upper() == kind.upper()]

    def all_meta(self, zone: str) -> dict[str, list[str]]:
        """Every metadata kind of ``zone`` with its values."""
        out: dict[str, list[str]] = {}
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("SELECT kind, content FROM domainmetadata WHERE domain_id = ? "
                                "ORDER BY id"), (domain_id,))
            for kind, content in cur.fetchall():
                out.setdefault(kind or "", []).append(content or "")
        return out

    def list_autoprimaries(self) -> list[tuple[str, str, str]]:
        """(ip, nameserver, account) rows."""
        with self._cursor() as cur:
            cur.execute("SELECT ip, nameserver, account FROM supermasters "
                        "ORDER BY nameserver, ip")
            return [(str(ip), ns, account or "") for ip, ns, account in cur.fetchall()]


__all__ = ["BATCH", "CHANGE_TABLE", "DB_KINDS", "KINDS", "TABLES", "Columns", "Dialect",
           "GSQLBackend", "Row", "db_name", "open_backend", "schema_sql", "split_statements",
           "zone_text"]

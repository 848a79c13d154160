"""The generic SQL backend: PowerDNS's schema, one layer for SQLite, PostgreSQL and MariaDB.

A :class:`GSQLBackend` is a ZoneSource (``list_zones``, ``change_token``, ``load_zone``)
and the store the CLI, the API and transfers write through.  It reads and writes the
tables exactly as PowerDNS 4.7 does (``schema/schema.*.sql``):

- ``domains.name`` and ``records.name`` are lowercase, without the trailing dot;
- only rows with ``disabled = 0`` are served; a row with a NULL ``type`` is an empty
  non-terminal written by rectify, not a record;
- MX and SRV keep their priority in ``prio``; it is put back in front of ``content``;
- ``auth`` and ``ordername`` are written as PowerDNS's rectify writes them (for DNSSEC);
  serving works out cuts and canonical order from the records themselves;
- ``domains.type`` NATIVE, MASTER, SLAVE (PRODUCER, CONSUMER) are the kinds native,
  primary, secondary.

What differs between databases (driver, placeholders, bulk insert, the cheap "did anything
change" probe) lives in a small dialect module each: ``gsqlite3``, ``gpgsql``, ``gmysql``.

Noticing changes (DESIGN §4).  Every check costs one ``domains`` listing plus one
fingerprint query for all zones, never a per-zone query:

- *scan* (default, no schema change): one aggregate over ``records`` grouped by zone
  (row count, highest id, sum of a hash of every served column) and one over
  ``domainmetadata``.  A dialect may first ask the database a free question ("has
  anything been written since?": SQLite's ``data_version``, PostgreSQL's WAL position)
  and skip the aggregate when the answer is no.
- *change log* (``install_change_log()``, offered by ``fastdns-util``): triggers on
  ``records``, ``domainmetadata`` and ``cryptokeys`` bump a per-zone counter in an extra
  table, ``fastdns_changes``; a check then reads only that table.  The PowerDNS tables are
  untouched and pdns_server ignores the extra one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from fastdns.backends.base import BackendError, ZoneInfo
from fastdns.backends.content import rows_to_zone
from fastdns.backends.gmysql import MySQL
from fastdns.backends.gpgsql import PostgreSQL
from fastdns.backends.gsqlite3 import SQLite3
from fastdns.backends.sqlbase import (
    BATCH,
    CHANGE_TABLE,
    Dialect,
    Row,
    db_name,
    schema_sql,
    split_statements,
    zone_text,
)
from fastdns.log import log
from fastdns.zone.model import ZoneData

#: PowerDNS ``domains.type`` → fastdns zone kind
KINDS = {"NATIVE": "native", "MASTER": "primary", "SLAVE": "secondary",
         "PRODUCER": "primary", "CONSUMER": "secondary"}
#: zone kind (either spelling) → ``domains.type``
DB_KINDS = {"native": "NATIVE", "primary": "MASTER", "master": "MASTER",
            "secondary": "SLAVE", "slave": "SLAVE", "producer": "PRODUCER",
            "consumer": "CONSUMER"}
#: the PowerDNS tables ``check_schema`` expects, with the columns fastdns uses
TABLES = {
    "domains": ("id", "name", "master", "last_check", "type", "notified_serial", "account",
                "options", "catalog"),
    "records": ("id", "domain_id", "name", "type", "content", "ttl", "prio", "disabled",
                "ordername", "auth"),
    "supermasters": ("ip", "nameserver", "account"),
    "comments": ("id", "domain_id", "name", "type", "modified_at", "account", "comment"),
    "domainmetadata": ("id", "domain_id", "kind", "content"),
    "cryptokeys": ("id", "domain_id", "flags", "active", "published", "content"),
    "tsigkeys": ("id", "name", "algorithm", "secret"),
}
def open_backend(config: Any, instance: Any) -> GSQLBackend:
    """The GSQLBackend of one ``launch=`` instance (``gsqlite3``, ``gpgsql:second``...)."""
    settings = config.backend(instance)
    dialect: Dialect
    if instance.backend == "gsqlite3":
        dialect = SQLite3(settings)
    elif instance.backend == "gpgsql":
        dialect = PostgreSQL(settings)
    elif instance.backend == "gmysql":
        dialect = MySQL(settings)
    else:
        raise BackendError(f"'{instance.backend}' is not an SQL backend")
    interval = config["zone-check-interval"] if "zone-check-interval" in config else 60
    return GSQLBackend(dialect, name=str(instance), check_interval=int(interval))


class GSQLBackend:
    """A ZoneSource and store over PowerDNS's generic SQL schema (see the module doc)."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60) -> None:
        self.dialect = dialect
        self.name = name or dialect.backend
        self.check_interval = check_interval
        #: zone name (with dot) -> its ``domains`` row, from the last list_zones
        self._domains: dict[str, dict[str, Any]] = {}
        #: domain id -> fingerprint, from the last check (None: not computed this round)
        self._prints: dict[int, Hashable] | None = None
        self._last_prints: dict[int, Hashable] = {}
        self._last_probe: Hashable | None = None
        self._change_log: bool | None = None
        self._down_since: float | None = None

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor in one transaction; driver errors become BackendError."""
        try:
            with self.dialect.connection() as conn:
                cur = conn.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
        except self.dialect.errors as exc:
            self._went_down(exc)
            raise BackendError(f"{self.dialect.describe()}: {_message(exc)}") from None
        self._came_back()

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("backend '%s': database unavailable: %s", self.name, _message(exc))

    def _came_back(self) -> None:
        if self._down_since is not None:
            log.warning("backend '%s': database available again after %.0fs", self.name,
                        time.monotonic() - self._down_since)
            self._down_since = None

    def _q(self, query: str) -> str:
        return self.dialect.sql(query)

    def _domain_id(self, cur: Any, zone: str) -> int:
        cur.execute(self._q("SELECT id FROM domains WHERE name = ?"), (db_name(zone),))
        row = cur.fetchone()
        if row is None:
            raise BackendError(f"zone '{db_name(zone)}' is not in backend '{self.name}'")
        return int(row[0])

    def _wrote(self) -> None:
        """Forget the cached fingerprints after a write of our own (the probe may not see it)."""
        self._last_probe = None

    def close(self) -> None:
        self.dialect.close()

    # -- ZoneSource ----------------------------------------------------------------------

    def list_zones(self) -> list[ZoneInfo]:
        """Every zone in ``domains``; starts a new round of change checks."""
        raise NotImplementedError

    def change_token(self, zone: str) -> Hashable:
        """The zone's ``domains`` row and the fingerprint of its records and metadata."""
        raise NotImplementedError

    def load_zone(self, zone: str) -> ZoneData:
        """The served rows of ``zone`` (``disabled = 0``, type not NULL) as ZoneData."""
        raise NotImplementedError(rows_to_zone)

    # -- zones ---------------------------------------------------------------------------

    def zone_info(self, zone: str) -> dict[str, Any] | None:
        """The ``domains`` row of ``zone`` (kind as fastdns spells it), or None."""
        raise NotImplementedError

    def create_zone(self, zone: str, kind: str = "native", primaries: Iterable[str] = (),
                    account: str = "") -> int:
        """Add a ``domains`` row; its id.  BackendError if the zone exists."""
        raise NotImplementedError

    def delete_zone(self, zone: str) -> None:
        """Remove the zone with its records, metadata, keys and comments."""
        raise NotImplementedError

    def set_zone(self, zone: str, *, kind: str | None = None, account: str | None = None,
                 primaries: Iterable[str] | None = None) -> None:
        """Change the kind, account or primaries of a zone."""
        raise NotImplementedError

    # -- records -------------------------------------------------------------------------

    def replace_zone_records(self, zone: str, rows: Iterable[Row],
                             progress: Callable[[int], None] | None = None) -> int:
        """Replace every record of ``zone`` by ``rows`` in one transaction; how many."""
        raise NotImplementedError

    def zone_rows(self, zone: str) -> list[Row]:
        """Every ``records`` row of ``zone`` (disabled and ENT rows included)."""
        raise NotImplementedError

    def replace_rrset(self, zone: str, name: str, rtype: str, rows: Iterable[Row]) -> None:
        """Replace the RRset ``name``/``rtype`` by ``rows``; no rows deletes it."""
        raise NotImplementedError

    def add_rows(self, zone: str, rows: Iterable[Row]) -> None:
        """Add ``rows`` to ``zone``."""
        raise NotImplementedError

    def rectify_zone(self, zone: str) -> int:
        """Set ``auth`` and ``ordername`` and the ENT rows as PowerDNS's rectify-zone does
        for an unsigned zone; how many rows changed."""
        raise NotImplementedError

    # -- metadata ------------------------------------------------------------------------

    def get_meta(self, zone: str, kind: str) -> list[str]:
        raise NotImplementedError

    def set_meta(self, zone: str, kind: str, values: Iterable[str]) -> None:
        """Replace the values of metadata ``kind`` (no values: remove it)."""
        raise NotImplementedError

    def add_meta(self, zone: str, kind: str, value: str) -> None:
        raise NotImplementedError

    # -- autoprimaries (``supermasters``) ------------------------------------------------

    def list_autoprimaries(self) -> list[tuple[str, str, str]]:
        """(ip, nameserver, account) rows."""
        raise NotImplementedError

    def add_autoprimary(self, ip: str, nameserver: str, account: str = "") -> None:
        raise NotImplementedError

    def remove_autoprimary(self, ip: str, nameserver: str) -> None:
        raise NotImplementedError

    # -- schema --------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create PowerDNS's tables (an error if they exist)."""
        raise NotImplementedError

    def check_schema(self) -> list[str]:
        """Problems with the schema (missing tables or columns); empty when it is usable."""
        raise NotImplementedError

    def install_change_log(self) -> None:
        """Create ``fastdns_changes`` and the triggers that fill it (see the module doc)."""
        raise NotImplementedError

    def remove_change_log(self) -> None:
        raise NotImplementedError


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["BATCH", "CHANGE_TABLE", "DB_KINDS", "KINDS", "TABLES", "Dialect", "GSQLBackend",
           "Row", "db_name", "open_backend", "schema_sql", "split_statements", "zone_text"]

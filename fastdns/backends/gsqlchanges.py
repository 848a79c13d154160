"""How a GSQLBackend (fastdns.backends.gsql) notices changes made to the database.

Every check (DESIGN §4) costs one ``domains`` listing plus one fingerprint query for all
zones, never a per-zone query:

- *scan* (default, no schema change): one aggregate over ``records`` grouped by zone
  (row count, highest id, sum of a hash of every served column) and one over
  ``domainmetadata``.  A dialect may first ask the database a free question ("has
  anything been written since?": SQLite's ``data_version``, PostgreSQL's WAL position)
  and skip the aggregate when the answer is no.
- *change log* (``install_change_log()``, offered by ``fastdns-util``): triggers on
  ``records``, ``domainmetadata`` and ``cryptokeys`` bump a per-zone counter in an extra
  table, ``fastdns_changes``; a check then reads only that table.  The PowerDNS tables are
  untouched and pdns_server ignores the extra one.

A zone's change token (``change_token``) is its ``domains`` row, its fingerprints and its
failed loads (a load that failed on the database moves it, so the next check retries).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from fastdns.backends.gsqlconn import KINDS, Domain, SQLConnection
from fastdns.backends.sqlbase import CHANGE_TABLE, Dialect, zone_text
from fastdns.zone.check import ZoneError
from fastdns.zone.source import BackendError, ZoneInfo


class ChangeChecks(SQLConnection):
    """The listing of the zones and the fingerprints that tell when one changed."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60) -> None:
        super().__init__(dialect, name, check_interval)
        #: domain id -> fingerprint of its records (or its change-log counter), and of its
        #: metadata, from the last good check (or, for records, from its load)
        self._prints: dict[int, Hashable] = {}
        self._meta_prints: dict[int, Hashable] = {}
        #: the dialect's probe value when ``_prints`` was computed (None: recompute)
        self._probe: Hashable | None = None
        #: domain id -> failed loads: moves the token, so that a periodic check retries
        self._retries: dict[int, int] = {}
        self._change_log: bool | None = None
        self._infos: list[ZoneInfo] = []
        #: whether a listing succeeded yet (the first may leave records' prints to loads)
        self._listed = False

    def list_zones(self) -> list[ZoneInfo]:
        """Every zone in ``domains``, and the fingerprints of all of them (one check).

        When the dialect's probe says nothing was written since the last check, nothing
        else is read.  While the database is unreachable, the zones of the last good
        listing are returned with their old fingerprints, so that every loaded zone keeps
        being served (the outage is logged once); before any good listing, BackendError.
        A dialect that takes a zone's fingerprint as it loads it (SQLite) skips the scan of
        ``records`` at the first listing: every zone is loaded after it anyway.
        """
        try:
            with self._cursor() as cur:
                # the probe comes first: whatever is written after it moves it again
                probe = self.dialect.probe(cur)
                if probe is not None and probe == self._probe:
                    return self._infos
                cur.execute("SELECT id, name, type, master, account FROM domains")
                rows = cur.fetchall()
                prints, meta = self._fingerprints(
                    cur, defer=self.dialect.prints_on_load and not self._listed)
        except BackendError:
            if self._domains and not self.available:
                return self._infos
            raise
        domains = {}
        for domain_id, name, db_kind, master, account in rows:
            kind = KINDS.get((db_kind or "").upper(), "native")
            domains[zone_text(name)] = Domain(int(domain_id), kind, master or "",
                                               account or "")
        self._domains = domains
        self._prints = prints
        self._meta_prints = meta
        self._probe = probe
        self._listed = True
        self._infos = [ZoneInfo(name, d.kind, f"domains.id={d.id}")
                       for name, d in domains.items()]
        return self._infos

    def change_token(self, zone: str) -> Hashable:
        """The zone's ``domains`` row and the fingerprint of its records and metadata, as
        of the last ``list_zones``."""
        d = self._domains.get(zone)
        if d is None:
            raise ZoneError(f"backend '{self.name}': no zone '{zone}'")
        return (d.id, d.kind, d.master, self._prints.get(d.id), self._meta_prints.get(d.id),
                self._retries.get(d.id, 0))

    def _fingerprints(self, cur: Any, defer: bool = False
                      ) -> tuple[dict[int, Hashable], dict[int, Hashable]]:
        """domain id -> fingerprint of its records and of its metadata, from the change
        log or one aggregate per table (``defer``: records' left to their loads)."""
        self._change_log = self._has_table(cur, CHANGE_TABLE)
        if self._change_log:
            cur.execute(f"SELECT domain_id, changes FROM {CHANGE_TABLE}")
            return {int(i): int(c) for i, c in cur.fetchall()}, {}
        prints = {} if defer else self.dialect.record_prints(cur)
        cur.execute(f"SELECT domain_id, COUNT(*), MAX(id), SUM({self.dialect.meta_hash}) "
                    "FROM domainmetadata GROUP BY domain_id")
        meta: dict[int, Hashable] = {int(i): (int(n), int(m), int(h or 0))
                                     for i, n, m, h in cur.fetchall() if i is not None}
        return prints, meta

    def _wrote(self) -> None:
        """After a write of our own: the next check recomputes (the probe may not see it)."""
        self._probe = None

    def has_change_log(self) -> bool:
        with self._cursor() as cur:
            return self._has_table(cur, CHANGE_TABLE)

    def install_change_log(self) -> None:
        """Create ``fastdns_changes`` and the triggers that fill it (see the module doc)."""
        with self._cursor() as cur:
            for statement in self.dialect.change_log_sql():
                cur.execute(statement)
        self._change_log = None
        self._wrote()

    def remove_change_log(self) -> None:
        """Drop the change log and its triggers."""
        with self._cursor() as cur:
            for statement in self.dialect.drop_change_log_sql():
                cur.execute(statement)
        self._change_log = None
        self._wrote()

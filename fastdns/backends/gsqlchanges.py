"""How a GSQLBackend (fastdns.backends.gsql) notices changes made to the database.

Every check (DESIGN §4) costs one ``domains`` listing plus one fingerprint query for all
zones, never a per-zone query:

- *scan* (default, no schema change): one aggregate over ``records`` grouped by zone
  (row count, highest id, sum of a hash of every served column) and one each over
  ``domainmetadata`` and ``cryptokeys`` (a key added, removed, activated or published
  moves the zone's token as a record change does).  A dialect may first ask the database
  a free question ("has anything been written since?": SQLite's ``data_version``,
  PostgreSQL's WAL position) and skip the aggregates when the answer is no.
- *change log* (``install_change_log()``, offered by ``fastdns-util``): triggers on
  ``records``, ``domainmetadata`` and ``cryptokeys`` bump a per-zone counter in an extra
  table, ``fastdns_changes``; a check then reads only that table.  The PowerDNS tables are
  untouched and pdns_server ignores the extra one.

A zone's change token (``change_token``) is its ``domains`` row, its fingerprints (records,
metadata, keys) and its failed loads (a load that failed on the database moves it, so the
next check retries).

The zones with ``cryptokeys`` rows (``keyed_zones``) are the only ones whose keys the
server reads when it loads them: in scan mode they are the ids of the keys' fingerprints
(no query of their own), with the change log one ``SELECT DISTINCT domain_id`` per
listing that moved, read only when a zone is loaded.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from fastdns.backends.gsqlconn import KINDS, Domain, SQLConnection
from fastdns.backends.sqlbase import (
    CHANGE_TABLE,
    NO_ID,
    Dialect,
    DomainRow,
    Print,
    add_prints,
    db_name,
    zone_text,
)
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
        #: domain id -> fingerprint of its ``cryptokeys`` rows (scan mode; a zone without
        #: keys has none), or None when not taken (change log, or before the first listing)
        self._key_prints: dict[int, Hashable] | None = None
        #: the domain ids with keys, read for ``keyed_zones`` since the last listing that
        #: moved (change-log mode)
        self._keyed_ids: set[int] | None = None
        #: the dialect's probe value when ``_prints`` was computed (None: recompute)
        self._probe: Hashable | None = None
        #: domain id -> failed loads: moves the token, so that a periodic check retries
        self._retries: dict[int, int] = {}
        self._change_log: bool | None = None
        self._infos: list[ZoneInfo] = []
        #: whether a listing succeeded yet (the first may leave records' prints to loads)
        self._listed = False
        #: take the records' fingerprints at the first listing too (tokens_as_loaded)
        self._prints_now = False
        #: the fingerprint of the ``domains`` rows that ``_domains`` holds (None: none yet)
        self._domain_print: Print | None = None
        #: domain id -> zone name, of ``_domains``
        self._names: dict[int, str] = {}
        #: where the next read of the change log starts (None: it reads every row)
        self._log_mark: int | None = None
        #: domain ids whose token may have moved at the last check (None: any)
        self._changed: set[int] | None = None
        #: ``_retries`` as of the last check
        self._retries_seen: dict[int, int] = {}

    def list_zones(self) -> list[ZoneInfo]:
        """Every zone in ``domains``, and the fingerprints of all of them (one check).

        When the dialect's probe says nothing was written since the last check, nothing
        else is read. Otherwise the ``domains`` rows are listed again only when their
        fingerprint (one aggregate) moved, and only the rows above the highest id listed
        when those below it are as they were (zones added); the change log is read from
        where the last check left it. While the database is unreachable, the zones of the
        last good listing are returned with their old fingerprints, so that every loaded
        zone keeps being served (the outage is logged once); before any good listing,
        BackendError. A dialect that takes a zone's fingerprint as it loads it (SQLite)
        skips the scan of ``records`` at the first listing: every zone is loaded after it
        anyway.
        """
        try:
            with self._cursor() as cur:
                # the probe comes first: whatever is written after it moves it again
                probe = self.dialect.probe(cur)
                if probe is not None and probe == self._probe:
                    self._note_changes(set())
                    return self._infos
                listing = self._read_listing(cur)
                prints, meta, keys, changed = self._fingerprints(
                    cur, defer=self.dialect.prints_on_load and not self._listed
                    and not self._prints_now)
        except BackendError:
            if self._domains and not self.available:
                self._note_changes(set())
                return self._infos
            raise
        if listing is not None:
            domains, names, infos, domain_print, added = listing
            if changed is not None and added is not None:
                changed |= added
            else:
                changed = None
            self._domains, self._names, self._infos = domains, names, infos
            self._domain_print = domain_print
        self._prints = prints
        self._meta_prints = meta
        self._key_prints = keys
        self._keyed_ids = None
        self._probe = probe
        self._listed = True
        self._note_changes(changed)
        return self._infos

    def changed_zones(self) -> set[str] | None:
        """The zones listed whose change_token may differ from every token it gave before
        the last list_zones (a superset: the zones added, those whose rows, metadata or
        change-log counter moved, those whose load failed since), or None when any may
        have (the first listing, ``domains`` rows changed or removed, the change log
        installed or removed): what a caller compares instead of every zone's token."""
        if self._changed is None:
            return None
        names = self._names
        return {names[i] for i in self._changed if i in names}

    def _note_changes(self, changed: set[int] | None) -> None:
        retries = self._retries
        if changed is not None and retries != self._retries_seen:
            changed |= {i for i, n in retries.items() if self._retries_seen.get(i) != n}
        self._retries_seen = dict(retries)
        self._changed = changed

    def tokens_as_loaded(self) -> None:
        """Give, from the first listing on, every zone's token as it is after a load (the
        records' fingerprint too, which SQLite otherwise leaves to the loads): the
        persisted image cache compares them with the tokens its images were loaded at."""
        self._prints_now = True

    def zone_kind(self, zone: str) -> str | None:
        """The kind of ``zone`` as of the last ``list_zones`` (None: not listed)."""
        d = self._domains.get(zone)
        return None if d is None else d.kind

    def change_token(self, zone: str) -> Hashable:
        """The zone's ``domains`` row and the fingerprint of its records and metadata, as
        of the last ``list_zones``."""
        d = self._domains.get(zone)
        if d is None:
            raise ZoneError(f"backend '{self.name}': no zone '{zone}'")
        keys = self._key_prints.get(d.id) if self._key_prints is not None else None
        return (d.id, d.kind, d.master, self._prints.get(d.id), self._meta_prints.get(d.id),
                self._retries.get(d.id, 0), keys)

    def keyed_zones(self, zones: Iterable[str]) -> set[str]:
        """The zones of ``zones`` that have ``cryptokeys`` rows or are PRESIGNED (the
        others are served as compiled; see the module doc). Zones not listed yet are looked
        up by name."""
        if self._key_prints is not None:
            # zones with keys, and (a superset of the presigned ones) zones with metadata
            ids: set[int] | dict[int, Hashable] = \
                set(self._key_prints) | set(self._meta_prints or ())
        elif self._domains:
            if self._keyed_ids is None:
                with self._cursor() as cur:
                    cur.execute("SELECT domain_id FROM cryptokeys UNION SELECT domain_id "
                                "FROM domainmetadata WHERE kind = 'PRESIGNED'")
                    self._keyed_ids = {int(i) for (i,) in cur.fetchall() if i is not None}
            ids = self._keyed_ids
        else:
            ids = set()
        # one dict lookup per zone (a million zones: about 0.3 s, beside their loads)
        out: set[str] = set()
        unlisted: list[str] = []
        domains = self._domains
        for name in zones:
            d = domains.get(name)
            if d is None:
                unlisted.append(name)
            elif ids and d.id in ids:
                out.add(name)
        for start in range(0, len(unlisted), 500):
            chunk = unlisted[start:start + 500]
            wanted = {db_name(name): name for name in chunk}
            marks = ", ".join("?" * len(chunk))
            with self._cursor() as cur:
                cur.execute(self._q("SELECT d.name FROM domains d WHERE d.name IN "
                                    f"({marks}) AND (EXISTS (SELECT 1 FROM cryptokeys k "
                                    "WHERE k.domain_id = d.id) OR EXISTS (SELECT 1 FROM "
                                    "domainmetadata m WHERE m.domain_id = d.id AND "
                                    "m.kind = 'PRESIGNED'))"), list(wanted))
                out.update(wanted[n] for (n,) in cur.fetchall() if n in wanted)
        return out

    def note_failure(self, zone: str) -> None:
        """A load of ``zone`` failed on the database after its rows were read (its keys):
        move its token, as a failed load_image does, so that the next check retries."""
        d = self._domains.get(zone)
        if d is not None:
            self._retries[d.id] = self._retries.get(d.id, 0) + 1

    def _read_listing(self, cur: Any) -> _Listing | None:
        """The ``domains`` rows again, or None when their fingerprint says they are as
        listed: (zones, id -> name, infos, fingerprint, ids added or None: all new)."""
        held = self._domain_print
        if held is not None:
            total, below = self.dialect.domain_prints(cur, held[1])
            if total == held:
                return None
            if below == held:                       # rows added above the highest id
                rows, more = self.dialect.read_domains(cur, held[1])
                domains, names = dict(self._domains), dict(self._names)
                infos = list(self._infos)
                added = set()
                for row in rows:
                    name, domain = _domain(row)
                    if name in domains:             # a name listed twice: list them all
                        break
                    domains[name] = domain
                    names[domain.id] = name
                    infos.append(ZoneInfo(name, domain.kind, f"domains.id={domain.id}"))
                    added.add(domain.id)
                else:
                    return domains, names, infos, add_prints(below, more), added
        rows, domain_print = self.dialect.read_domains(cur, NO_ID)
        domains = {}
        for row in rows:
            name, domain = _domain(row)
            domains[name] = domain
        names = {d.id: name for name, d in domains.items()}
        infos = [ZoneInfo(name, d.kind, f"domains.id={d.id}") for name, d in domains.items()]
        return domains, names, infos, domain_print, None

    def _fingerprints(self, cur: Any, defer: bool = False
                      ) -> tuple[dict[int, Hashable], dict[int, Hashable],
                                 dict[int, Hashable] | None, set[int] | None]:
        """domain id -> fingerprint of its records, of its metadata and of its keys (None
        with the change log: its counter covers them), from the change log or one
        aggregate per table (``defer``: records' left to their loads), and the ids whose
        fingerprints moved (None: any may have)."""
        had = self._change_log
        seq = self._has_table(cur, f"(SELECT seq FROM {CHANGE_TABLE}) s")
        self._change_log = seq or self._has_table(cur, CHANGE_TABLE)
        if self._change_log:
            incremental = False
            if not seq:                             # a log of before seq: read it whole
                cur.execute(f"SELECT domain_id, changes FROM {CHANGE_TABLE}")
                rows, mark = [(int(i), int(c)) for i, c in cur.fetchall()], None
            else:
                incremental = bool(had) and self._log_mark is not None
                rows, mark = self.dialect.change_log_read(
                    cur, self._log_mark if incremental else None)
                if mark is None:                    # emptied or made anew: read it whole
                    incremental = False
                    rows, mark = self.dialect.change_log_read(cur, None)
            if incremental:
                prints = dict(self._prints)
                changed: set[int] | None = {i for i, c in rows if prints.get(i) != c}
                prints.update(rows)
            else:
                prints = dict(rows)
                changed = _moved(self._prints, prints) if had else None
            self._log_mark = mark if seq else None
            return prints, {}, None, changed
        self._log_mark = None
        prints = {} if defer else self.dialect.record_prints(cur)
        # the metadata's and the keys' aggregates in one statement (one round trip)
        cur.execute(f"SELECT 0, domain_id, COUNT(*), MAX(id), SUM({self.dialect.meta_hash}) "
                    "FROM domainmetadata GROUP BY domain_id UNION ALL "
                    f"SELECT 1, domain_id, COUNT(*), MAX(id), SUM({self._key_hash()}) "
                    "FROM cryptokeys GROUP BY domain_id")
        meta: dict[int, Hashable] = {}
        keys: dict[int, Hashable] = {}
        for table, i, n, m, h in cur.fetchall():
            if i is not None:
                (keys if table else meta)[int(i)] = (int(n), int(m), int(h or 0))
        if defer or had is None or had or self._key_prints is None:
            return prints, meta, keys, None
        return prints, meta, keys, (_moved(self._prints, prints)
                                    | _moved(self._meta_prints, meta)
                                    | _moved(self._key_prints, keys))

    def _key_hash(self) -> str:
        """The dialect's SQL hash of a ``cryptokeys`` row's served columns."""
        own = getattr(self.dialect, "key_hash", "")
        return own or KEY_HASH.get(self.dialect.backend, "0")

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


#: a listing: zone -> domains row, id -> zone, the infos, its fingerprint, the ids added
#: to the one before (None: listed anew)
_Listing = tuple[dict[str, Domain], dict[int, str], list[ZoneInfo], Print, "set[int] | None"]


def _domain(row: DomainRow) -> tuple[str, Domain]:
    domain_id, name, db_kind, master, account = row
    return zone_text(name or ""), Domain(int(domain_id), KINDS.get((db_kind or "").upper(),
                                                                   "native"),
                                         master or "", account or "")


def _moved(before: dict[int, Hashable], after: dict[int, Hashable]) -> set[int]:
    """The ids whose value differs between ``before`` and ``after`` (or is in one only)."""
    out = {i for i, v in after.items() if before.get(i, _NONE) != v}
    out.update(i for i in before if i not in after)
    return out


_NONE = object()

#: the hash of a ``cryptokeys`` row (flags, active, published, content) per dialect that
#: does not declare its own ``key_hash``, from the function its ``meta_hash`` uses
KEY_HASH = {
    "gpgsql": "hashtext(concat_ws('|', flags, active, published, content))",
    "gmysql": "CRC32(CONCAT_WS('|', flags, active, published, content))",
}

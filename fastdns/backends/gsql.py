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
from dataclasses import dataclass
from typing import Any

from fastdns.backends.bind import BindBackend
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
from fastdns.log import log
from fastdns.zone.check import ZoneError
from fastdns.zone.loader import DEFAULT_OPTIONS, CompiledZone, ZoneOptions, compile_rows
from fastdns.zone.records import ZoneReader
from fastdns.zone.source import BackendError, ZoneInfo

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




class GSQLBackend:
    """A ZoneSource and store over PowerDNS's generic SQL schema (see the module doc)."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60,
                 options: ZoneOptions = DEFAULT_OPTIONS) -> None:
        self.dialect = dialect
        self.name = name or dialect.backend
        #: how rows are read (svc-autohints; a broken row is always left out)
        self.options = options
        #: ``zone-check-interval``: seconds between checks while the database answers
        self.interval = check_interval
        #: failed attempts in a row (the backoff while the database is down)
        self._failures = 0
        #: zone name (with dot) -> its ``domains`` row, from the last good listing
        self._domains: dict[str, _Domain] = {}
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
        self._down_since: float | None = None
        #: whether a listing succeeded yet (the first may leave records' prints to loads)
        self._listed = False

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
            if isinstance(exc, self.dialect.down_errors):
                self._failures += 1
                self._went_down(exc)
            raise BackendError(f"{self.dialect.describe()}: {_message(exc)}") from None
        self._came_back()

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            if self._domains:   # before the first listing, ZoneDB logs every failed attempt
                log.error("backend '%s': database unavailable: %s; serving the %d zones "
                          "loaded before until it is back", self.name, _message(exc),
                          len(self._domains))

    def _came_back(self) -> None:
        self._failures = 0
        if self._down_since is not None:
            log.warning("backend '%s': database available again after %.0fs", self.name,
                        time.monotonic() - self._down_since)
            self._down_since = None

    @property
    def check_interval(self) -> int:
        """Seconds until the next check: ``zone-check-interval``, or less while the
        database is down (1, 2, 4... seconds, up to the interval)."""
        if self._down_since is None or not self.interval:
            return self.interval
        return min(self.interval, 2 ** min(self._failures - 1, 10))

    @property
    def available(self) -> bool:
        """False while the database is known to be unreachable."""
        return self._down_since is None

    def _q(self, query: str) -> str:
        return self.dialect.sql(query)

    def _domain_id(self, cur: Any, zone: str) -> int:
        cur.execute(self._q("SELECT id FROM domains WHERE name = ?"), (db_name(zone),))
        row = cur.fetchone()
        if row is None:
            raise BackendError(f"zone '{db_name(zone)}' is not in backend '{self.name}'")
        return int(row[0])

    def _wrote(self) -> None:
        """After a write of our own: the next check recomputes (the probe may not see it)."""
        self._probe = None

    def close(self) -> None:
        self.dialect.close()

    # -- ZoneSource ----------------------------------------------------------------------

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
            domains[zone_text(name)] = _Domain(int(domain_id), kind, master or "",
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

    def _has_table(self, cur: Any, table: str) -> bool:
        try:
            with self._savepoint(cur):
                cur.execute(f"SELECT 1 FROM {table} WHERE 1 = 0")
                cur.fetchall()
        except self.dialect.errors:
            return False
        return True

    @contextlib.contextmanager
    def _savepoint(self, cur: Any) -> Iterator[None]:
        """Let a statement fail without aborting the transaction (PostgreSQL's rule)."""
        cur.execute("SAVEPOINT fastdns_probe")
        try:
            yield
        except BaseException:
            cur.execute("ROLLBACK TO SAVEPOINT fastdns_probe")
            raise
        cur.execute("RELEASE SAVEPOINT fastdns_probe")

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

    def create_zone(self, zone: str, kind: str = "native", primaries: Iterable[str] = (),
                    account: str = "") -> int:
        """Add a ``domains`` row; its id.  BackendError if the zone exists."""
        db_kind = _db_kind(kind)
        with self._cursor() as cur:
            cur.execute(self._q("SELECT id FROM domains WHERE name = ?"), (db_name(zone),))
            if cur.fetchone() is not None:
                raise BackendError(f"zone '{db_name(zone)}' already exists")
            cur.execute(self._q("INSERT INTO domains (name, type, master, account) "
                                "VALUES (?, ?, ?, ?)"),
                        (db_name(zone), db_kind, ",".join(primaries) or None, account or None))
            domain_id = self._domain_id(cur, zone)
        self._wrote()
        return domain_id

    def delete_zone(self, zone: str) -> None:
        """Remove the zone with its records, metadata, keys and comments."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            for table in ("records", "comments", "domainmetadata", "cryptokeys"):
                cur.execute(self._q(f"DELETE FROM {table} WHERE domain_id = ?"), (domain_id,))
            cur.execute(self._q("DELETE FROM domains WHERE id = ?"), (domain_id,))
        self._wrote()

    def set_zone(self, zone: str, *, kind: str | None = None, account: str | None = None,
                 primaries: Iterable[str] | None = None) -> None:
        """Change the kind, account or primaries of a zone."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            if kind is not None:
                cur.execute(self._q("UPDATE domains SET type = ? WHERE id = ?"),
                            (_db_kind(kind), domain_id))
            if account is not None:
                cur.execute(self._q("UPDATE domains SET account = ? WHERE id = ?"),
                            (account or None, domain_id))
            if primaries is not None:
                cur.execute(self._q("UPDATE domains SET master = ? WHERE id = ?"),
                            (",".join(primaries) or None, domain_id))
        self._wrote()

    # -- records -------------------------------------------------------------------------

    def replace_zone_records(self, zone: str, rows: Iterable[Row],
                             progress: Callable[[int], None] | None = None) -> int:
        """Replace every record of ``zone`` by ``rows`` in one transaction; how many."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("DELETE FROM records WHERE domain_id = ?"), (domain_id,))
            count = self.dialect.bulk_insert(cur, domain_id, _checked(rows), progress)
        self._wrote()
        return count

    def replace_zone_columns(self, zone: str, batches: Iterable[Columns],
                             progress: Callable[[int], None] | None = None) -> int:
        """:meth:`replace_zone_records` for a bulk load: batches of :data:`Columns`, whose
        names the caller has already put in stored form (:func:`db_name`)."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("DELETE FROM records WHERE domain_id = ?"), (domain_id,))
            count = self.dialect.bulk_insert_columns(cur, domain_id, batches, progress)
        self._wrote()
        return count

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

    def replace_rrset(self, zone: str, name: str, rtype: str, rows: Iterable[Row]) -> None:
        """Replace the RRset ``name``/``rtype`` by ``rows``; no rows deletes it."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("DELETE FROM records WHERE domain_id = ? AND name = ? "
                                "AND type = ?"), (domain_id, db_name(name), rtype.upper()))
            self._insert(cur, domain_id, rows)
        self._wrote()

    def add_rows(self, zone: str, rows: Iterable[Row]) -> None:
        """Add ``rows`` to ``zone``."""
        with self._cursor() as cur:
            self._insert(cur, self._domain_id(cur, zone), rows)
        self._wrote()

    def _insert(self, cur: Any, domain_id: int, rows: Iterable[Row]) -> None:
        cur.executemany(
            self._q("INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, "
                    "ordername, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            [(domain_id, r.name, r.type, r.content, r.ttl, r.prio, bool(r.disabled),
              r.ordername, bool(r.auth)) for r in _checked(rows)])

    def rectify_zone(self, zone: str) -> int:
        """Bring the empty non-terminal rows (NULL type) in line with the records, as
        PowerDNS 4.7's rectify-zone does for an unsigned zone (it leaves ``auth`` and
        ``ordername`` alone there); how many rows it added or removed."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            apex = db_name(zone)
            cur.execute(self._q("SELECT name, type FROM records WHERE domain_id = ?"),
                        (domain_id,))
            names: set[str] = set()
            have_ent: set[str] = set()
            for name, rtype in cur.fetchall():
                (names if rtype is not None else have_ent).add((name or "").lower())
            wanted = _empty_non_terminals(names, apex)
            stale = sorted(have_ent - wanted)
            missing = sorted(wanted - have_ent)
            if stale:
                cur.executemany(self._q("DELETE FROM records WHERE domain_id = ? AND name = ? "
                                        "AND type IS NULL"),
                                [(domain_id, name) for name in stale])
            if missing:
                self._insert(cur, domain_id, [Row(name, None, "", 0, 0, False, True, None)
                                              for name in missing])
        if stale or missing:
            self._wrote()
        return len(stale) + len(missing)

    # -- metadata ------------------------------------------------------------------------

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

    def set_meta(self, zone: str, kind: str, values: Iterable[str]) -> None:
        """Replace the values of metadata ``kind`` (no values: remove it)."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            self._delete_meta(cur, domain_id, kind)
            cur.executemany(self._q("INSERT INTO domainmetadata (domain_id, kind, content) "
                                    "VALUES (?, ?, ?)"),
                            [(domain_id, kind, value) for value in values])
        self._wrote()

    def _delete_meta(self, cur: Any, domain_id: int, kind: str) -> None:
        cur.execute(self._q("SELECT id, kind FROM domainmetadata WHERE domain_id = ?"),
                    (domain_id,))
        ids = [(i,) for i, k in cur.fetchall() if (k or "").upper() == kind.upper()]
        if ids:
            cur.executemany(self._q("DELETE FROM domainmetadata WHERE id = ?"), ids)

    def add_meta(self, zone: str, kind: str, value: str) -> None:
        """Add one value to metadata ``kind``."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("INSERT INTO domainmetadata (domain_id, kind, content) "
                                "VALUES (?, ?, ?)"), (domain_id, kind, value))
        self._wrote()

    # -- autoprimaries (``supermasters``) ------------------------------------------------

    def list_autoprimaries(self) -> list[tuple[str, str, str]]:
        """(ip, nameserver, account) rows."""
        with self._cursor() as cur:
            cur.execute("SELECT ip, nameserver, account FROM supermasters "
                        "ORDER BY nameserver, ip")
            return [(str(ip), ns, account or "") for ip, ns, account in cur.fetchall()]

    def add_autoprimary(self, ip: str, nameserver: str, account: str = "") -> None:
        with self._cursor() as cur:
            cur.execute(self._q("INSERT INTO supermasters (ip, nameserver, account) "
                                "VALUES (?, ?, ?)"), (ip, db_name(nameserver), account))

    def remove_autoprimary(self, ip: str, nameserver: str) -> None:
        """Remove one autoprimary; BackendError if there is no such row."""
        with self._cursor() as cur:
            cur.execute(self._q("DELETE FROM supermasters WHERE ip = ? AND nameserver = ?"),
                        (ip, db_name(nameserver)))
            if cur.rowcount == 0:
                raise BackendError(f"no autoprimary {ip} with nameserver "
                                   f"'{db_name(nameserver)}'")

    # -- copying zones in ----------------------------------------------------------------

    def import_named_conf(self, path: str) -> list[str]:
        """Copy every zone of a named.conf (as the bind backend reads it) into the
        database, in one transaction: zones, records and the ENT rows rectify would add.
        The zones must not exist yet.  The names of the zones."""
        with self._cursor() as cur:
            names = self._import_named_conf(cur, path)
        self._wrote()
        return names

    def seed_from_named_conf(self, conn: Any, path: str) -> None:
        """``on_create`` of a database file being created: fill it from ``path``."""
        cur = conn.cursor()
        try:
            zones = self._import_named_conf(cur, path)
        except (ZoneError, BackendError, OSError) as exc:
            # a driver error: the creation fails, is logged, and is tried again later
            raise self.dialect.down_errors[0](f"cannot fill it from '{path}': {exc}") from None
        finally:
            cur.close()
        log.warning("backend '%s': created %s with the %d zones of %s", self.name,
                    self.dialect.describe(), len(zones), path)

    def _import_named_conf(self, cur: Any, path: str) -> list[str]:
        """Each zone of the named.conf ``path``, its records as ``pdnsutil load-zone``
        stores them (the zone is checked first: a zone the server would refuse is not
        copied)."""
        bind = BindBackend(path)
        names = []
        for info in bind.list_zones():
            bind.load_image(info.name)
            cur.execute(self._q("INSERT INTO domains (name, type) VALUES (?, ?)"),
                        (db_name(info.name), _db_kind(info.kind)))
            domain_id = self._domain_id(cur, info.name)
            file, directory = bind.zone_file(info.name)
            rows = [Row(db_name(owner), rtype, *_split_prio(rtype, content, ttl))
                    for owner, rtype, ttl, content, _ in ZoneReader(file, info.name,
                                                                     reldir=directory)]
            ents = _empty_non_terminals({r.name for r in rows}, db_name(info.name))
            rows += [Row(name, None, "", 0, 0) for name in sorted(ents)]
            self.dialect.bulk_insert(cur, domain_id, rows, None)
            names.append(info.name)
        return names

    # -- schema --------------------------------------------------------------------------

    def create_schema(self) -> None:
        """Create PowerDNS's tables (BackendError if they exist)."""
        with self._cursor() as cur:
            for statement in split_statements(schema_sql(self.dialect.schema)):
                cur.execute(statement)

    def check_schema(self) -> list[str]:
        """Problems with the schema (missing tables or columns); empty when usable."""
        problems = []
        with self._cursor() as cur:
            for table, columns in TABLES.items():
                try:
                    with self._savepoint(cur):
                        cur.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE 1 = 0")
                        cur.fetchall()
                except self.dialect.errors as exc:
                    problems.append(f"table '{table}': {_message(exc)}")
        return problems

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


@dataclass(slots=True, frozen=True)
class _Domain:
    id: int
    kind: str
    master: str
    account: str


def _db_kind(kind: str) -> str:
    try:
        return DB_KINDS[kind.lower()]
    except KeyError:
        raise BackendError(f"unknown zone kind '{kind}' (native, primary or secondary)") \
            from None


def _checked(rows: Iterable[Row]) -> Iterator[Row]:
    """Rows as PowerDNS stores them: names lowercase without the trailing dot."""
    for row in rows:
        name = db_name(row.name)
        if name != row.name:
            row = Row(name, row.type, row.content, row.ttl, row.prio, row.disabled, row.auth,
                      row.ordername)
        yield row


def _split_prio(rtype: str, content: str, ttl: int) -> tuple[str, int, int]:
    """(content, ttl, prio) of a record, the MX/SRV priority in ``prio`` (as stored)."""
    if rtype in ("MX", "SRV"):
        head, _, rest = content.partition(" ")
        if head.isdigit():
            return rest.lstrip(), ttl, int(head)
    return content, ttl, 0


def _empty_non_terminals(names: set[str], apex: str) -> set[str]:
    """The names between ``apex`` and each of ``names`` that have no records."""
    suffix = "" if apex == "." else "." + apex
    out: set[str] = set()
    for name in names:
        if not name.endswith(suffix) or name in (apex, "."):
            continue
        labels = name[: len(name) - len(suffix)].split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:]) + suffix
            if parent in names or parent in out:
                break
            out.add(parent)
    return out


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["BATCH", "CHANGE_TABLE", "DB_KINDS", "KINDS", "TABLES", "Columns", "Dialect",
           "GSQLBackend", "Row", "db_name", "open_backend", "schema_sql", "split_statements",
           "zone_text"]

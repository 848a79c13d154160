"""The generic SQL backend: PowerDNS's schema, one layer for SQLite, PostgreSQL and MariaDB.

A :class:`GSQLBackend` is a ZoneSource (``list_zones``, ``change_token``, ``load_image``,
and ``load_many``: every zone in one scan of ``records``)
and the store the CLI, the API and transfers write through.  It reads and writes the
tables exactly as PowerDNS 4.7 does (``schema/schema.*.sql``):

- ``domains.name`` and ``records.name`` are lowercase, without the trailing dot;
- only rows with ``disabled = 0`` are served; a row with a NULL ``type`` is an empty
  non-terminal written by rectify, not a record;
- MX and SRV keep their priority in ``prio``; it is put back in front of ``content``
  (fastdns.zone._rows reads the rows, with the same reader as zone files);
- ``auth`` and ``ordername`` are written as PowerDNS's rectify writes them (for DNSSEC);
  serving works out cuts and canonical order from the records themselves;
- ``domains.type`` NATIVE, MASTER, SLAVE, PRODUCER, CONSUMER are the kinds native,
  primary, secondary, producer (a catalog made from its members, fastdns.xfr.catalog: sent
  NOTIFY like a primary) and consumer (a catalog transferred like a secondary).

What differs between databases (driver, placeholders, bulk insert, the cheap "did anything
change" probe) lives in a small dialect module each: ``gsqlite3``, ``gpgsql``, ``gmysql``.

The backend is three parts, one module each, over one connection
(fastdns.backends.gsqlconn: transactions, errors, outages): how it notices changes
(gsqlchanges: the listing, fingerprints, the change log; DESIGN §4), what it writes
(gsqlwrite), and here what it reads: a zone's image for the server, and rows for the
tools and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

from fastdns.backends.gsqlchanges import ChangeChecks
from fastdns.backends.gsqlconn import KINDS
from fastdns.backends.gsqlwrite import DB_KINDS, TABLES, KeyRow, ZoneWrites, _key_row
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
from fastdns.xfr import catalog
from fastdns.zone._rows import add_rows
from fastdns.zone._sinks import StoreSink
from fastdns.zone.check import ZoneError
from fastdns.zone.loader import (
    DEFAULT_OPTIONS,
    CompiledZone,
    RowsZone,
    ZoneOptions,
    compile_rows,
    release_memory,
)
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
    backend.settings = settings
    backend.dnssec_from_config(config)
    return backend


class GSQLBackend(ZoneWrites, ChangeChecks):
    """A ZoneSource and store over PowerDNS's generic SQL schema (see the module doc):
    ``list_zones`` and ``change_token`` are ChangeChecks's, the writes ZoneWrites's."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60,
                 options: ZoneOptions = DEFAULT_OPTIONS) -> None:
        super().__init__(dialect, name, check_interval)
        #: how rows are read (svc-autohints; a broken row is always left out)
        self.options = options
        #: ``<backend>-dnssec``: the zones' keys and DNSSEC metadata are served
        self.dnssec = False
        #: ``max-nsec3-iterations`` (None: no limit)
        self.max_nsec3_iterations: int | None = None
        #: the backend's settings (open_backend), for a connection of the key reader's own
        self.settings: dict[str, Any] | None = None
        self._key_reader: GSQLBackend | None = None

    def dnssec_from_config(self, config: Any) -> None:
        """Take ``<backend>-dnssec`` and ``max-nsec3-iterations`` from ``config``."""
        for instance in getattr(config, "instances", ()):
            if str(instance) == self.name:
                self.dnssec = bool(config.backend(instance).get("dnssec"))
        if "max-nsec3-iterations" in config:
            self.max_nsec3_iterations = int(config["max-nsec3-iterations"])

    def key_store(self) -> GSQLBackend | None:
        """Where the server reads the zones' keys and metadata (a KeyStore) as it loads
        them, or None with ``<backend>-dnssec`` off: this backend's tables, on a
        connection of their own (the keys of zones already read are read while the scan
        of ``records`` goes on; without settings, this backend's connection)."""
        if not self.dnssec:
            return None
        if self._key_reader is None:
            if self.settings is None:
                return self
            self._key_reader = _KeyReader(type(self.dialect)(self.settings),  # type: ignore[call-arg]
                                          name=self.name)
        return self._key_reader

    def close(self) -> None:
        if self._key_reader is not None:
            self._key_reader.close()
            self._key_reader = None
        super().close()

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
                    # a catalog producer's records are made from its members
                    made = catalog.producer_rows(self, cur, domain_id, zone)
                    if made is not None:
                        return add_rows(sink, made, warnings)
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

    def load_many(self, zones: Sequence[str],
                  deliver: Callable[[str, CompiledZone | ZoneError], None]) -> None:
        """Compile every zone of ``zones`` (names as list_zones gives them) from one scan
        of ``records`` in domain id order (from the lowest id of them to the highest; the
        dialect's read_zones), streamed: ``deliver(name, result)`` is called once per zone,
        in the order of the scan, as soon as its rows are read; ``result`` is what
        load_image would give (the CompiledZone, the same fingerprint kept for the change
        check) or raise (ZoneError, NoSOAError for a zone without an SOA or without rows).
        A broken zone costs itself only.

        Runs in the calling thread on the backend's connection (SQLite: a read-only
        connection of the scan's own), holding the GIL but letting other threads run as it
        reads; ``deliver`` runs inside the scan, so it should be quick. When the database
        fails in the middle, the zones delivered stay delivered, the others move their
        change token (as a failed load_image does: the next check retries them) and
        BackendError is raised."""
        wanted: dict[int, str] = {}
        unknown: list[str] = []
        for name in zones:
            d = self._domains.get(name)
            if d is None:
                unknown.append(name)
            else:
                wanted[d.id] = name
        scan = _Scan(self, wanted, deliver)
        producers: list[str] = []

        def deliver_one(name: str) -> None:
            try:
                deliver(name, self.load_image(name))
            except ZoneError as exc:
                deliver(name, exc)
        try:
            with self._cursor() as cur:
                for name in unknown:        # not listed yet: load_image looks it up too
                    try:
                        wanted[self._domain_id(cur, name)] = name
                    except BackendError as exc:
                        deliver(name, ZoneError(f"backend '{self.name}': {exc}"))
                # catalog producers are made by load_image, after the scan
                producers = [wanted.pop(i) for i in catalog.producer_ids(self, cur, wanted)]
                scan.order = sorted(wanted)
                if scan.order:
                    self.dialect.read_zones(cur, scan.order, scan.begin, scan.end)
                scan.catch_up(None)
            for name in producers:
                deliver_one(name)
        except BackendError as exc:
            left = [domain_id for domain_id in scan.order[scan.done:]
                    if wanted[domain_id] in self._domains]
            if scan.order and not left:
                return                        # every zone was delivered before it failed
            for domain_id in left:
                self._retries[domain_id] = self._retries.get(domain_id, 0) + 1
            raise BackendError(f"backend '{self.name}': {exc}; {len(left)} zones not "
                               "loaded") from None
        finally:
            release_memory()

    # -- zones ---------------------------------------------------------------------------

    def quick_names(self) -> list[str]:
        """Every ``domains.name``, in one plain read (ZoneDB's first listing at start: a
        million names in a fraction of the full listing's time)."""
        with self._cursor() as cur:
            cur.execute("SELECT name FROM domains")
            return [name for (name,) in cur.fetchall() if name]

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

    def secondary_zones(self) -> dict[str, tuple[str, ...]]:
        """Zone (absolute, lowercase) -> its primaries (``domains.master``, split), of
        every SLAVE (and CONSUMER) zone."""
        with self._cursor() as cur:
            cur.execute("SELECT name, type, master FROM domains")
            rows = cur.fetchall()
        out: dict[str, tuple[str, ...]] = {}
        for name, db_kind, master in rows:
            if name and (db_kind or "").upper() in ("SLAVE", "CONSUMER"):
                primaries = tuple(p.strip() for p in (master or "").replace(";", ",")
                                  .replace(" ", ",").split(",") if p.strip())
                out[zone_text(name)] = primaries
        return out

    def last_checks(self) -> dict[str, int]:
        """Zone -> ``domains.last_check`` (seconds since the epoch), of every zone whose
        primary answered a check (the SOA expire of a secondary counts from it)."""
        with self._cursor() as cur:
            cur.execute("SELECT name, last_check FROM domains WHERE last_check IS NOT NULL")
            return {zone_text(name): int(when) for name, when in cur.fetchall()
                    if name and when}

    def notified_serials(self) -> dict[str, int | None]:
        """Zone -> ``domains.notified_serial`` (None: never notified), of every primary
        (MASTER, PRODUCER) zone."""
        with self._cursor() as cur:
            cur.execute("SELECT name, type, notified_serial FROM domains")
            rows = cur.fetchall()
        return {zone_text(name): None if notified is None else int(notified)
                for name, db_kind, notified in rows
                if name and (db_kind or "").upper() in ("MASTER", "PRODUCER")}

    def list_autoprimaries(self) -> list[tuple[str, str, str]]:
        """(ip, nameserver, account) rows."""
        with self._cursor() as cur:
            cur.execute("SELECT ip, nameserver, account FROM supermasters "
                        "ORDER BY nameserver, ip")
            return [(str(ip), ns, account or "") for ip, ns, account in cur.fetchall()]


__all__ = ["BATCH", "CHANGE_TABLE", "DB_KINDS", "KINDS", "TABLES", "Columns", "Dialect",
           "GSQLBackend", "Row", "db_name", "open_backend", "schema_sql", "split_statements",
           "zone_text"]


class _Scan:
    """GSQLBackend.load_many's side of the dialect's read_zones: a zone's compiler when its
    rows begin, its result delivered when they end; zones without rows delivered as the
    scan passes their id. ``order``: the ids wanted, ascending; ``done``: how many of them
    were delivered (the scan delivers in that order)."""

    def __init__(self, backend: GSQLBackend, wanted: dict[int, str],
                 deliver: Callable[[str, CompiledZone | ZoneError], None]) -> None:
        self.backend = backend
        self.wanted = wanted
        self.deliver = deliver
        self.order: list[int] = []
        self.done = 0
        self.source = backend.dialect.describe()
        #: the zone whose rows are being read: its compiler, or why it has none
        self.rows: RowsZone | ZoneError | None = None

    def _start(self, domain_id: int) -> RowsZone | ZoneError:
        try:
            return RowsZone(self.wanted[domain_id], f"{self.source}, domains.id={domain_id}",
                            self.backend.options)
        except ZoneError as exc:      # a zone name that is no DNS name
            return exc

    def _deliver(self, domain_id: int, result: CompiledZone | ZoneError) -> None:
        self.done += 1
        self.deliver(self.wanted[domain_id], result)

    def catch_up(self, domain_id: int | None) -> None:
        """Deliver the zones before ``domain_id`` (None: all the rest): they have no rows."""
        order = self.order
        while self.done < len(order) and (domain_id is None or order[self.done] < domain_id):
            self._finish(order[self.done], self._start(order[self.done]), 0, 0, None, None)

    def begin(self, domain_id: int) -> tuple[StoreSink, list[str]] | None:
        self.catch_up(domain_id)
        if domain_id not in self.wanted:
            return None
        self.rows = self._start(domain_id)
        return (self.rows.sink, self.rows.warnings) if isinstance(self.rows, RowsZone) \
            else None

    def end(self, domain_id: int, records: int, skipped: int, fingerprint: Hashable | None,
            error: ValueError | None) -> None:
        rows, self.rows = self.rows, None
        if rows is not None and domain_id in self.wanted:
            self._finish(domain_id, rows, records, skipped, fingerprint, error)

    def _finish(self, domain_id: int, rows: RowsZone | ZoneError, records: int, skipped: int,
                fingerprint: Hashable | None, error: ValueError | None) -> None:
        result: CompiledZone | ZoneError
        if isinstance(rows, ZoneError):
            result = rows
        elif error is not None:
            result = rows.broken(error)
        else:
            try:
                result = rows.finish(records, skipped)
            except ZoneError as exc:
                result = exc
            except Exception as exc:  # a defect: the other zones load
                result = ZoneError(f"{rows.source}: internal error: {type(exc).__name__}: "
                                   f"{exc}")
            else:
                if fingerprint is not None and not self.backend._change_log:
                    self.backend._prints[domain_id] = fingerprint  # as of the rows read
        self._deliver(domain_id, result)


class _KeyReader(GSQLBackend):
    """GSQLBackend.key_store: the keys and metadata of a batch of zones by name, a few
    hundred names per query (the tools' ``keys_many`` reads the whole table, once)."""

    CHUNK = 500

    def keys_many(self, zones: Iterable[str]) -> dict[str, list[KeyRow]]:
        out: dict[str, list[KeyRow]] = {}
        for wanted, marks in self._chunks(zones):
            with self._cursor() as cur:
                cur.execute(self._q("SELECT d.name, k.id, k.flags, k.active, k.published, "
                                    "k.content FROM cryptokeys k JOIN domains d ON d.id = "
                                    f"k.domain_id WHERE d.name IN ({marks}) ORDER BY k.id"),
                            list(wanted))
                for name, *row in cur.fetchall():
                    zone = wanted.get(name or "")
                    if zone is not None:
                        out.setdefault(zone, []).append(_key_row(row))
        return out

    def meta_many(self, zones: Iterable[str], kinds: Iterable[str]
                  ) -> dict[str, dict[str, list[str]]]:
        upper = {kind.upper() for kind in kinds}
        out: dict[str, dict[str, list[str]]] = {}
        for wanted, marks in self._chunks(zones):
            with self._cursor() as cur:
                cur.execute(self._q("SELECT d.name, m.kind, m.content FROM domainmetadata m "
                                    f"JOIN domains d ON d.id = m.domain_id WHERE d.name IN "
                                    f"({marks}) ORDER BY m.id"), list(wanted))
                for name, kind, content in cur.fetchall():
                    zone = wanted.get(name or "")
                    kind = (kind or "").upper()
                    if zone is not None and kind in upper:
                        out.setdefault(zone, {}).setdefault(kind, []).append(content or "")
        return out

    def _chunks(self, zones: Iterable[str]) -> list[tuple[dict[str, str], str]]:
        """(database name -> zone as given, placeholders) per :attr:`CHUNK` zones."""
        names = list(zones)
        out = []
        for start in range(0, len(names), self.CHUNK):
            wanted = {db_name(zone): zone for zone in names[start:start + self.CHUNK]}
            out.append((wanted, ", ".join("?" * len(wanted))))
        return out

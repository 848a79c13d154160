"""What a GSQLBackend (fastdns.backends.gsql) writes: zones, records, metadata,
autoprimaries, zones copied in from a named.conf, and the schema.

Rows are written as PowerDNS 4.7 writes them: names lowercase without the trailing dot
(``_checked``), the MX/SRV priority in ``prio``, ``domains.type`` NATIVE, MASTER or SLAVE;
rectify (fastdns.backends.gsqlrectify) sets ``auth`` and ``ordername`` and adds and removes
the empty non-terminal rows (NULL type) as PowerDNS's rectify-zone does. Each write is one
transaction, and tells the change checks to look again (``_wrote``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastdns.backends.bind import BindBackend
from fastdns.backends.gsqlconn import SQLConnection, message
from fastdns.backends.sqlbase import Columns, Row, db_name, schema_sql, split_statements
from fastdns.dnssec.keystore import KeyRow
from fastdns.log import log
from fastdns.zone.check import ZoneError
from fastdns.zone.records import ZoneReader
from fastdns.zone.source import BackendError

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


def _key_row(row: Any) -> KeyRow:
    key_id, flags, active, published, content = row
    return KeyRow(int(key_id), int(flags or 0), bool(active),
                  bool(published) if published is not None else True, content or "")


class ZoneWrites(SQLConnection):
    """The writes of a GSQLBackend, each in one transaction."""

    # -- zones ---------------------------------------------------------------------------

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

    def set_last_check(self, zone: str, when: int) -> None:
        """A primary of the secondary ``zone`` answered its check at ``when`` (epoch
        seconds), as PowerDNS records it; not a change of the zone."""
        with self._cursor() as cur:
            cur.execute(self._q("UPDATE domains SET last_check = ? WHERE name = ?"),
                        (when, db_name(zone)))

    def set_notified_serial(self, zone: str, serial: int) -> None:
        """Record that the secondaries of ``zone`` were sent NOTIFY for ``serial`` (not a
        change of the zone: its change token does not move)."""
        with self._cursor() as cur:
            cur.execute(self._q("UPDATE domains SET notified_serial = ? WHERE name = ?"),
                        (serial, db_name(zone)))

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

    def rectify_zone(self, zone: str, dnssec: bool = False) -> int:
        """Rectify ``zone`` as PowerDNS 4.7's rectify-zone does (fastdns.backends.gsqlrectify:
        ``auth``, ``ordername`` and the empty non-terminal rows; with ``dnssec`` False, as
        with PowerDNS's ``gsqlite3-dnssec=no``, only the empty non-terminal rows); how many
        empty non-terminal rows it added or removed."""
        from fastdns.backends.gsqlrectify import rectify

        done = rectify(self, zone, dnssec)
        return len(done.ents_added) + len(done.ents_removed)

    # -- metadata ------------------------------------------------------------------------

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

    # -- DNSSEC keys (``cryptokeys``) ---------------------------------------------------

    def keys(self, zone: str) -> list[KeyRow]:
        """The ``cryptokeys`` rows of ``zone``, by id; BackendError if there is no such
        zone."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("SELECT id, flags, active, published, content FROM cryptokeys "
                                "WHERE domain_id = ? ORDER BY id"), (domain_id,))
            return [_key_row(row) for row in cur.fetchall()]

    def keys_many(self, zones: Iterable[str]) -> dict[str, list[KeyRow]]:
        """The keys of each of ``zones`` (names as given) in one query; zones without keys
        (or not in the database) are left out."""
        wanted = {db_name(zone): zone for zone in zones}
        out: dict[str, list[KeyRow]] = {}
        with self._cursor() as cur:
            cur.execute("SELECT d.name, k.id, k.flags, k.active, k.published, k.content "
                        "FROM cryptokeys k JOIN domains d ON d.id = k.domain_id "
                        "ORDER BY k.id")
            for name, *row in cur.fetchall():
                zone = wanted.get(name or "")
                if zone is not None:
                    out.setdefault(zone, []).append(_key_row(row))
        return out

    def meta_many(self, zones: Iterable[str], kinds: Iterable[str]
                  ) -> dict[str, dict[str, list[str]]]:
        """Metadata ``kinds`` (uppercase) of each of ``zones`` in one query."""
        wanted = {db_name(zone): zone for zone in zones}
        upper = {kind.upper() for kind in kinds}
        out: dict[str, dict[str, list[str]]] = {}
        with self._cursor() as cur:
            cur.execute("SELECT d.name, m.kind, m.content FROM domainmetadata m "
                        "JOIN domains d ON d.id = m.domain_id ORDER BY m.id")
            for name, kind, content in cur.fetchall():
                zone = wanted.get(name or "")
                kind = (kind or "").upper()
                if zone is not None and kind in upper:
                    out.setdefault(zone, {}).setdefault(kind, []).append(content or "")
        return out

    def add_key(self, zone: str, flags: int, active: bool, published: bool,
                content: str) -> int:
        """Add a key to ``zone``; its id."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("INSERT INTO cryptokeys (domain_id, flags, active, published, "
                                "content) VALUES (?, ?, ?, ?, ?)"),
                        (domain_id, flags, bool(active), bool(published), content))
            cur.execute(self._q("SELECT MAX(id) FROM cryptokeys WHERE domain_id = ?"),
                        (domain_id,))
            key_id = int(cur.fetchone()[0])
        self._wrote()
        return key_id

    def add_keys_many(self, keys: Iterable[tuple[str, int, bool, bool, str]],
                      progress: Callable[[int], None] | None = None) -> int:
        """Add many keys, ``(zone, flags, active, published, content)`` each, in one
        transaction (secure-all-zones); how many.  BackendError (nothing added) if a zone
        is not in the database."""
        count = 0
        with self._cursor() as cur:
            cur.execute("SELECT id, name FROM domains")
            ids = {name: int(domain_id) for domain_id, name in cur.fetchall()}
            batch: list[tuple[int, int, bool, bool, str]] = []
            query = self._q("INSERT INTO cryptokeys (domain_id, flags, active, published, "
                            "content) VALUES (?, ?, ?, ?, ?)")
            for zone, flags, active, published, content in keys:
                domain_id = ids.get(db_name(zone))
                if domain_id is None:
                    raise BackendError(f"zone '{db_name(zone)}' is not in backend "
                                       f"'{self.name}'")
                batch.append((domain_id, flags, bool(active), bool(published), content))
                if len(batch) >= 1000:
                    cur.executemany(query, batch)
                    count += len(batch)
                    batch.clear()
                    if progress is not None:
                        progress(count)
            if batch:
                cur.executemany(query, batch)
                count += len(batch)
        self._wrote()
        return count

    def set_key_active(self, zone: str, key_id: int, active: bool) -> bool:
        """Set a key's ``active``; False if ``zone`` has no key ``key_id``."""
        return self._set_key(zone, key_id, "active", active)

    def set_key_published(self, zone: str, key_id: int, published: bool) -> bool:
        """Set a key's ``published``; False if ``zone`` has no key ``key_id``."""
        return self._set_key(zone, key_id, "published", published)

    def _set_key(self, zone: str, key_id: int, column: str, value: bool) -> bool:
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("SELECT id FROM cryptokeys WHERE domain_id = ? AND id = ?"),
                        (domain_id, key_id))
            if cur.fetchone() is None:
                return False
            cur.execute(self._q(f"UPDATE cryptokeys SET {column} = ? WHERE id = ?"),
                        (bool(value), key_id))
        self._wrote()
        return True

    def remove_key(self, zone: str, key_id: int) -> bool:
        """Remove a key of ``zone``; False if there was none with that id."""
        with self._cursor() as cur:
            domain_id = self._domain_id(cur, zone)
            cur.execute(self._q("DELETE FROM cryptokeys WHERE domain_id = ? AND id = ?"),
                        (domain_id, key_id))
            found = cur.rowcount != 0
        if found:
            self._wrote()
        return found

    # -- autoprimaries (``supermasters``) ------------------------------------------------

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
                    problems.append(f"table '{table}': {message(exc)}")
        return problems

    # -- TSIG keys (``tsigkeys``) ---------------------------------------------------------

    def tsig_keys(self) -> list[tuple[str, str, str]]:
        """Every ``tsigkeys`` row as stored, ``(name, algorithm, secret)``, by id."""
        with self._cursor() as cur:
            cur.execute("SELECT name, algorithm, secret FROM tsigkeys ORDER BY id")
            return [(name or "", algorithm or "", secret or "")
                    for name, algorithm, secret in cur.fetchall()]

    def set_tsig_key(self, name: str, algorithm: str, secret: str) -> None:
        """Store a TSIG key as PowerDNS does (``name`` and ``algorithm`` lowercase without
        the trailing dot), replacing the key of the same name and algorithm."""
        row = (db_name(name), db_name(algorithm), secret)
        with self._cursor() as cur:
            cur.execute(self._q("DELETE FROM tsigkeys WHERE name = ? AND algorithm = ?"),
                        row[:2])
            cur.execute(self._q("INSERT INTO tsigkeys (name, algorithm, secret) "
                                "VALUES (?, ?, ?)"), row)

    def delete_tsig_key(self, name: str) -> int:
        """Remove every key called ``name`` (any algorithm); how many."""
        with self._cursor() as cur:
            cur.execute(self._q("DELETE FROM tsigkeys WHERE name = ?"), (db_name(name),))
            return max(cur.rowcount, 0)


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

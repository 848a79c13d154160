"""The BIND backend: zones listed in a ``named.conf``, data in master files.

PowerDNS's ``launch=bind`` with ``bind-config=``. The named.conf is re-read on every
listing, so zones added to or removed from it are noticed at the next refresh; a zone's
change token is the identity of its files (the master file and every ``$INCLUDE``d file),
so a refresh re-reads exactly the files that changed. Zones are compiled by
fastdns.zone.loader, as PowerDNS reads them (``bind-ignore-broken-records``,
``max-generate-steps``, ``svc-autohints``).

With ``bind-dnssec-db`` (hybrid mode), the zones' keys and DNSSEC metadata are in that
SQLite file (fastdns.dnssec.keystore.BindDnssecDB): each listing takes the fingerprint of
each zone's rows there (one aggregate per table, skipped when SQLite's ``data_version``
says nothing was written since), and a zone's token holds its fingerprint, so a key or
metadata change reloads the zone as a file change does.
"""

import dataclasses
import os
import sqlite3
import zlib
from collections.abc import Hashable, Iterable
from typing import Any

from fastdns.backends.namedconf import NamedConf, NamedConfError, NamedZone, parse_named_conf
from fastdns.backends.sqlbase import Row
from fastdns.log import log
from fastdns.zone.check import ZoneError
from fastdns.zone.loader import DEFAULT_OPTIONS, CompiledZone, ZoneOptions, load_image
from fastdns.zone.source import BackendError, ZoneInfo, ZoneSource


def _file_token(path: str) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1, -1)
    return (path, st.st_mtime_ns, st.st_size, st.st_ino)


class BindBackend(ZoneSource):
    #: an attribute here (the protocol's is a read-only property)
    check_interval = 0

    def __init__(self, config_path: str, name: str = "bind", check_interval: int = 0,
                 options: ZoneOptions = DEFAULT_OPTIONS) -> None:
        self.name = name
        self.check_interval = check_interval
        self.config_path = config_path
        self.options = options
        self._conf: NamedConf | None = None
        #: named.conf's identity when it was read (_current_conf)
        self._conf_token: tuple[str, int, int, int] | None = None
        self._zones: dict[str, NamedZone] = {}
        #: per zone, the files its last load read (master file first)
        self._files: dict[str, list[str]] = {}
        #: bind-dnssec-db (empty: the zones are not signed) and max-nsec3-iterations
        self.dnssec_db = ""
        self.max_nsec3_iterations: int | None = None
        self._store: Any = None
        self._dnssec_conn: sqlite3.Connection | None = None
        #: zone (lowercase, no trailing dot) -> fingerprint of its rows in the dnssec-db
        #: (None: not taken since the database was set or last failed)
        self._dnssec_prints: dict[str, tuple[Hashable, Hashable]] | None = None
        self._dnssec_version: Hashable = None
        #: the last error reading the dnssec-db (logged once)
        self._dnssec_error = ""

    def dnssec_from_config(self, config: Any) -> None:
        """Take ``bind-dnssec-db`` and ``max-nsec3-iterations`` from ``config``."""
        for instance in getattr(config, "instances", ()):
            if str(instance) == self.name:
                self.use_dnssec_db(str(config.backend(instance).get("dnssec-db") or ""))
        if "max-nsec3-iterations" in config:
            self.max_nsec3_iterations = int(config["max-nsec3-iterations"])

    def use_dnssec_db(self, path: str) -> None:
        if path != self.dnssec_db:
            self.close()
            self.dnssec_db = path
            self._store = None
            self._dnssec_prints = None

    def key_store(self) -> Any:
        """The zones' KeyStore (a BindDnssecDB), or None without ``bind-dnssec-db``."""
        if not self.dnssec_db:
            return None
        if self._store is None:
            from fastdns.dnssec.keystore import BindDnssecDB

            self._store = BindDnssecDB(self.dnssec_db, name=f"{self.name} dnssec-db")
        return self._store

    def _presigned(self, zone: str) -> bool:
        """Is ``zone`` PRESIGNED in the dnssec-db? (Its file's NSEC and NSEC3 records are
        then served.) Asked only of zones with keys or metadata there."""
        store = self.key_store()
        if store is None or not self.keyed_zones([zone]):
            return False
        try:
            return (store.get_meta(_db_zone(zone), "PRESIGNED") or [""])[0].strip() == "1"
        except Exception:        # the dnssec-db unreadable: the zone loads as unsigned
            return False

    def keyed_zones(self, zones: Iterable[str]) -> set[str]:
        """The zones of ``zones`` with keys in the dnssec-db (as of the last listing)."""
        if not self.dnssec_db:
            return set()
        if self._dnssec_prints is None:
            self._read_dnssec_prints()
        keyed = self._dnssec_prints or {}
        # zones with keys, or with metadata (PRESIGNED among them)
        return {z for z in zones
                if any(x is not None for x in (keyed.get(_db_zone(z)) or ()))}

    def close(self) -> None:
        if self._dnssec_conn is not None:
            self._dnssec_conn.close()
            self._dnssec_conn = None
        if self._store is not None:
            self._store.close()

    def _read_dnssec_prints(self) -> None:
        """The fingerprints of every zone's keys and metadata in the dnssec-db, unless
        nothing was written to it since they were last taken."""
        try:
            if self._dnssec_conn is None:
                if not os.path.exists(self.dnssec_db):
                    raise sqlite3.OperationalError("no such file (make it with "
                                                   "'fastdns-util create-bind-db')")
                uri = "file:" + self.dnssec_db.replace("?", "%3f").replace("#", "%23")
                self._dnssec_conn = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=10.0,
                                                    check_same_thread=False)
                self._dnssec_conn.create_function("fastdns_hash", 1, _hash,
                                                  deterministic=True)
                self._dnssec_version = None
            conn = self._dnssec_conn
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if self._dnssec_prints is not None and version == self._dnssec_version:
                return
            prints: dict[str, list[Hashable]] = {}
            for column, query in enumerate((
                    "SELECT lower(domain), COUNT(*), MAX(id), SUM(fastdns_hash(flags || ' ' || "
                    "COALESCE(active, '') || ' ' || COALESCE(published, '') || ' ' || "
                    "COALESCE(content, ''))) FROM cryptokeys GROUP BY lower(domain)",
                    "SELECT lower(domain), COUNT(*), MAX(id), SUM(fastdns_hash(COALESCE(kind, "
                    "'') || ' ' || COALESCE(content, ''))) FROM domainmetadata GROUP BY "
                    "lower(domain)")):
                for domain, count, high, total in conn.execute(query):
                    entry = prints.setdefault(_db_zone(domain or ""), [None, None])
                    entry[column] = (int(count), int(high or 0), int(total or 0))
            self._dnssec_prints = {z: (k, m) for z, (k, m) in prints.items()}
            self._dnssec_version = version
            self._dnssec_error = ""
        except sqlite3.Error as exc:
            error = f"bind-dnssec-db '{self.dnssec_db}': {exc}"
            if error != self._dnssec_error:
                log.error("backend '%s': %s; its zones are served without DNSSEC until it "
                          "can be read", self.name, error)
                self._dnssec_error = error
            if self._dnssec_conn is not None:
                self._dnssec_conn.close()
                self._dnssec_conn = None
            self._dnssec_prints = {}
            self._dnssec_version = None

    def list_zones(self) -> list[ZoneInfo]:
        try:
            self._conf = parse_named_conf(self.config_path)
        except NamedConfError as exc:
            raise BackendError(str(exc)) from None
        except OSError as exc:
            raise BackendError(f"{self.config_path}: cannot read: {exc.strerror}") from None
        self._zones = {z.name: z for z in self._conf.zones}
        if self.dnssec_db:
            self._read_dnssec_prints()
        return [ZoneInfo(z.name, z.kind, z.where) for z in self._conf.zones]

    def _current_conf(self) -> None:
        """named.conf as it is now: read again when it changed since this instance last
        read it (the transfer service's instance never lists zones otherwise)."""
        token = _file_token(self.config_path)
        if self._conf is None or token != self._conf_token:
            self.list_zones()
            self._conf_token = token

    def secondary_zones(self) -> dict[str, tuple[str, ...]]:
        """Zone -> its primaries (named.conf's ``masters``), of every secondary zone."""
        self._current_conf()
        return {z.name: z.primaries for z in self._zones.values() if z.kind == "secondary"}

    def also_notify(self, zone: str) -> tuple[str, ...]:
        """named.conf's also-notify for ``zone`` (its own, then the options')."""
        self._current_conf()
        named = self._zones.get(zone)
        own = named.also_notify if named is not None else ()
        return own + (self._conf.also_notify if self._conf is not None else ())

    def store_zone_text(self, zone: str, text: str) -> str:
        """Replace ``zone``'s master file by ``text`` atomically (a transfer in): written
        beside it, flushed, renamed over it. The file's path."""
        path = self._zone(zone).file
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        temporary = f"{path}.fastdns-xfr-{os.getpid()}"
        try:
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        return path

    def _zone(self, zone: str) -> NamedZone:
        if zone not in self._zones and self._conf is None:
            # an instance that has not listed yet (the manager's demand thread loads a zone
            # a query waits for while the first listing runs): read named.conf now
            try:
                self.list_zones()
            except BackendError as exc:
                raise ZoneError(str(exc)) from None
        try:
            return self._zones[zone]
        except KeyError:
            raise ZoneError(f"{self.config_path}: no zone '{zone}'") from None

    def zone_file(self, zone: str) -> tuple[str, str]:
        """(master file, directory for its $INCLUDEs) of ``zone``."""
        named = self._zone(zone)
        assert self._conf is not None
        return named.file, self._conf.directory

    def change_token(self, zone: str) -> Hashable:
        files = self._files.get(zone) or [self._zone(zone).file]
        token = (self._zone(zone).file, tuple(_file_token(f) for f in files))
        if not self.dnssec_db:
            return token
        if self._dnssec_prints is None:
            self._read_dnssec_prints()
        return (*token, (self._dnssec_prints or {}).get(_db_zone(zone)))

    def zone_rows(self, zone: str) -> list[Row]:
        """The records of ``zone`` as PowerDNS's SQL backends would store them (what the
        API and fastdns-util show of a zone file), in name and type order."""
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype

        from fastdns.zone.content import name_text, pdns_content, type_name
        from fastdns.zone.records import image_records

        compiled = self.load_image(zone if zone.endswith(".") else zone + ".")
        rows = []
        for owner, rdtype, ttl, rdata in image_records(compiled.image):
            rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype),
                                     rdata, 0, len(rdata))
            content, prio = pdns_content(rd)
            rows.append(Row(name_text(dns.name.from_wire(owner, 0)[0]).lower(),
                            type_name(f"TYPE{rdtype}") or f"TYPE{rdtype}", content, ttl, prio))
        rows.sort(key=lambda r: (r.name, r.type or ""))
        return rows

    def load_image(self, zone: str) -> CompiledZone:
        named = self._zone(zone)
        assert self._conf is not None
        options = self.options
        if self._presigned(zone):
            options = dataclasses.replace(options, keep_denial=True)
        loaded = load_image(named.file, named.name, self._conf.directory, options)
        self._files[zone] = loaded.files
        return loaded


def _db_zone(zone: str) -> str:
    """A zone name as the dnssec-db keys it: lowercase, no trailing dot."""
    zone = zone.lower()
    return zone[:-1] if zone.endswith(".") and zone != "." else zone


def _hash(text: Any) -> int:
    return zlib.crc32(str(text or "").encode())

"""The BIND backend: zones listed in a ``named.conf``, data in master files.

PowerDNS's ``launch=bind`` with ``bind-config=``. The named.conf is re-read on every
listing, so zones added to or removed from it are noticed at the next refresh; a zone's
change token is the identity of its files (the master file and every ``$INCLUDE``d file),
so a refresh re-reads exactly the files that changed. Zones are compiled by
fastdns.zone.loader, as PowerDNS reads them (``bind-ignore-broken-records``,
``max-generate-steps``, ``svc-autohints``).
"""

import os
from collections.abc import Hashable

from fastdns.backends.namedconf import NamedConf, NamedConfError, NamedZone, parse_named_conf
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
        self._zones: dict[str, NamedZone] = {}
        #: per zone, the files its last load read (master file first)
        self._files: dict[str, list[str]] = {}

    def list_zones(self) -> list[ZoneInfo]:
        try:
            self._conf = parse_named_conf(self.config_path)
        except NamedConfError as exc:
            raise BackendError(str(exc)) from None
        except OSError as exc:
            raise BackendError(f"{self.config_path}: cannot read: {exc.strerror}") from None
        self._zones = {z.name: z for z in self._conf.zones}
        return [ZoneInfo(z.name, z.kind, z.where) for z in self._conf.zones]

    def _zone(self, zone: str) -> NamedZone:
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
        return (self._zone(zone).file, tuple(_file_token(f) for f in files))

    def load_image(self, zone: str) -> CompiledZone:
        named = self._zone(zone)
        assert self._conf is not None
        loaded = load_image(named.file, named.name, self._conf.directory, self.options)
        self._files[zone] = loaded.files
        return loaded

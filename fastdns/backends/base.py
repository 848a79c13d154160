"""The narrow backend interfaces (STYLE §7): zones in, zones out; no per-query calls.

A backend is a source of whole zones: ``list_zones`` says which zones it has,
``change_token`` cheaply tells whether a zone changed since it was loaded, ``load_zone``
reads one into ZoneData. Writes (ZoneStore) and keys (KeyStore) come with the backends
that support them.
"""

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fastdns.zone.model import ZoneData


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    #: absolute, lowercase, with the trailing dot: "example.com."
    name: str
    #: "primary", "secondary" or "native" (PowerDNS's zone kinds)
    kind: str
    #: where the zone is declared, for messages ("named.conf:12", "domains.id=4")
    where: str = ""


class ZoneSource(Protocol):
    #: the backend's name in ``launch=`` ("bind", "gsqlite3:second")
    name: str
    @property
    def check_interval(self) -> int:
        """Seconds until the next check for changes (0: only when told to reload)."""
        ...

    def list_zones(self) -> list[ZoneInfo]:
        """The zones this backend serves; raises BackendError if it cannot tell."""
        ...

    def change_token(self, zone: str) -> Hashable:
        """A cheap value that changes whenever ``zone``'s data changes."""
        ...

    def load_zone(self, zone: str) -> ZoneData:
        """Read ``zone``; raises fastdns.zone.check.ZoneError naming where it is broken."""
        ...


@runtime_checkable
class ImageSource(Protocol):
    """A ZoneSource that compiles a zone itself, faster than load_zone + check + compile
    (the bind backend: master file → image in C). ZoneDB uses it when a backend has it."""

    def load_image(self, zone: str) -> tuple[bytes, list[str]]:
        """The image of ``zone`` (what compile_zone gives after check_zone) and its
        warnings; raises ZoneError as ``load_zone`` and ``check_zone`` would."""
        ...


class BackendError(Exception):
    """A backend that cannot answer at all (its configuration or storage is broken)."""

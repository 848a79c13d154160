"""What a source of zones is (DESIGN §4): zones in, images out; no per-query calls.

A source says which zones it has (``list_zones``), tells cheaply whether a zone changed
since it was loaded (``change_token``) and compiles one into an image (``load_image``,
through fastdns.zone.loader, the one way in). The backends (BIND files, SQL) implement it;
fastdns.zone.zonedb uses it. ``load_many`` compiles many zones at once (by default one
load_image after the other, for a class that subclasses ZoneSource; the SQL backends read
every zone in one scan). Writes and keys come with the backends that support them.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

from fastdns.zone.check import ZoneError
from fastdns.zone.loader import CompiledZone


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
        """The zones this source serves; raises BackendError if it cannot tell."""
        ...

    def change_token(self, zone: str) -> Hashable:
        """A cheap value that changes whenever ``zone``'s data changes."""
        ...

    def load_image(self, zone: str) -> CompiledZone:
        """The image of ``zone``; raises fastdns.zone.check.ZoneError naming where it is
        broken (NoSOAError for a zone without an SOA)."""
        ...

    def load_many(self, zones: Sequence[str],
                  deliver: Callable[[str, CompiledZone | ZoneError], None]) -> None:
        """Compile each of ``zones`` and ``deliver(name, image or ZoneError)`` once per
        zone, as soon as it is compiled; BackendError (raised) for the zones not
        delivered when the source fails as a whole. By default load_image per zone, in
        the order given (a source that can read many zones at once, the SQL backends,
        does it in one scan)."""
        for name in zones:
            try:
                result: CompiledZone | ZoneError = self.load_image(name)
            except ZoneError as exc:
                result = exc
            except BackendError:
                raise
            except Exception as exc:      # a defect: the other zones load
                result = ZoneError(f"internal error loading the zone from backend "
                                   f"'{getattr(self, 'name', '?')}': {type(exc).__name__}: "
                                   f"{exc}")
            deliver(name, result)


class BackendError(Exception):
    """A backend that cannot answer at all (its configuration or storage is broken)."""

"""The set of zones being served: which zones, from which backend, at which generation.

``refresh()`` asks every backend which zones it has (the first backend in ``launch=``
order wins a zone), reloads exactly the zones whose change token moved, and keeps serving
the previous snapshot of a zone whose new version is broken. A zone that never loaded is
not served (SERVFAIL, as PowerDNS answers for it; a zone without an SOA is absent instead:
REFUSED), and every other zone is unaffected. A zone that failed to load is retried on
every explicit reload, but a periodic check retries it only once its token moves again, so
a broken file is reported once per change, not once per check.

The images of the zones it (re)loaded come back in the result, for the caller to ship to
the workers; ZoneDB keeps none of them (a zone's data lives once, in shared memory).
"""

import itertools
import logging
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import dns.name

from fastdns._snapshot import Snapshot
from fastdns.log import log, zone_event
from fastdns.zone.check import NoSOAError, ZoneError
from fastdns.zone.source import BackendError, ZoneSource


@dataclass(slots=True)
class ServedZone:
    name: str
    kind: str
    backend: str
    token: Hashable
    generation: int
    serial: int


@dataclass(slots=True)
class LoadedZone:
    name: str
    kind: str
    generation: int
    image: bytes
    #: broken records left out (bind-ignore-broken-records, SQL rows)
    skipped: int = 0


@dataclass(slots=True)
class RefreshResult:
    loaded: list[str]
    removed: list[str]
    #: zones that could not be loaded (a previous version, if any, keeps being served)
    failed: list[str]
    #: zones whose data holds no SOA: not served at all (REFUSED), as by PowerDNS
    absent: list[str] = field(default_factory=list)
    #: the new images of the zones in ``loaded``
    images: list[LoadedZone] = field(default_factory=list)
    #: broken records left out of the zones loaded
    skipped: int = 0

    @property
    def changed(self) -> bool:
        """Whether the set of served or broken zones may differ from before."""
        return bool(self.loaded or self.removed or self.failed or self.absent)


class ZoneDB:
    def __init__(self, backends: Sequence[ZoneSource], first_generation: int = 1) -> None:
        self.backends = list(backends)
        self.zones: dict[str, ServedZone] = {}
        #: the change token of each zone's last failed load
        self._failed: dict[str, Hashable] = {}
        #: the zones of ``_failed`` that failed for want of an SOA: absent, not broken
        self._absent: set[str] = set()
        self._generations = itertools.count(first_generation)

    def broken(self) -> list[bytes]:
        """Wire names of the configured zones that have no version to serve: their names
        get SERVFAIL (as PowerDNS answers them), not REFUSED."""
        return [dns.name.from_text(name).to_wire() or b"" for name in self.broken_names()]

    def broken_names(self) -> list[str]:
        """The configured zones that failed to load and have no version to serve (a zone
        without an SOA is not one of them: it is not served at all)."""
        return [name for name in self._failed
                if name not in self.zones and name not in self._absent]

    def refresh(self, force: bool = False, retry_failed: bool = True) -> RefreshResult:
        """Bring the served zones in line with the backends; ``force`` reloads every zone.

        With ``retry_failed`` false (periodic checks), a zone whose last load failed is
        left alone until its change token moves.
        """
        result = RefreshResult([], [], [])
        wanted: dict[str, tuple[ZoneSource, str]] = {}
        failed_backends = set()
        for backend in self.backends:
            try:
                infos = backend.list_zones()
            except BackendError as exc:
                log.error("backend '%s': %s; its zones keep their current data", backend.name, exc)
                failed_backends.add(backend.name)
                continue
            for info in infos:
                wanted.setdefault(info.name, (backend, info.kind))
        for name, gone in list(self.zones.items()):
            if name not in wanted and gone.backend not in failed_backends:
                del self.zones[name]
                result.removed.append(name)
                zone_event(logging.INFO, name, "removed")
        for name in [name for name in self._failed if name not in wanted]:
            del self._failed[name]
            self._absent.discard(name)
        for name, (backend, kind) in wanted.items():
            served = self.zones.get(name)
            try:
                token = backend.change_token(name)
            except ZoneError as exc:
                zone_event(logging.ERROR, name, str(exc))
                self._failed[name] = None
                result.failed.append(name)
                continue
            if served is not None and served.token == token and served.backend == backend.name \
                    and not force:
                self._failed.pop(name, None)   # changed back to the version being served
                self._absent.discard(name)
                continue
            if not (force or retry_failed) and self._failed.get(name, self) == token:
                continue
            loaded = self._load(name, kind, backend, token)
            if isinstance(loaded, LoadedZone):
                self._failed.pop(name, None)
                self._absent.discard(name)
                result.loaded.append(name)
                result.images.append(loaded)
                result.skipped += loaded.skipped
                continue
            self._failed[name] = token
            if loaded == "absent":
                result.absent.append(name)
                self._absent.add(name)
                if self.zones.pop(name, None) is not None:
                    result.removed.append(name)
            else:
                result.failed.append(name)
                self._absent.discard(name)
        return result

    def _load(self, name: str, kind: str, backend: ZoneSource,
              token: Hashable) -> LoadedZone | str:
        """The zone's new image, or why there is none: "broken" (the previous version, if
        any, keeps being served) or "absent" (no SOA: the zone is not served at all)."""
        started = time.monotonic()
        try:
            compiled = backend.load_image(name)
        except NoSOAError as exc:
            zone_event(logging.ERROR, name, str(exc))
            return "absent"
        except Exception as exc:      # anything else is a defect: the other zones load
            why = str(exc) if isinstance(exc, ZoneError) else (
                f"internal error loading the zone from backend '{backend.name}': "
                f"{type(exc).__name__}: {exc}")
            keeping = "; still serving the previous version" if name in self.zones else \
                "; not served"
            zone_event(logging.ERROR, name, f"{why}{keeping}")
            return "broken"
        for warning in compiled.warnings:
            zone_event(logging.WARNING, name, warning)
        image = compiled.image
        generation = next(self._generations)
        snapshot = Snapshot(image, generation)    # validates the image once, here
        try:
            # taken again now that the backend has read the zone: a zone file's $INCLUDEs
            # are only known once it has been read
            token = backend.change_token(name)
        except ZoneError:
            pass
        self.zones[name] = ServedZone(name, kind, backend.name, token, generation,
                                      snapshot.serial)
        skipped = f", {compiled.skipped} broken records skipped" if compiled.skipped else ""
        zone_event(logging.INFO, name,
                   f"loaded serial {snapshot.serial}, {len(snapshot)} names, "
                   f"{snapshot.nbytes} bytes in {time.monotonic() - started:.3f}s "
                   f"from backend '{backend.name}'{skipped}")
        return LoadedZone(name, kind, generation, image, compiled.skipped)

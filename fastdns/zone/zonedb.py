"""The set of zones being served: which zones, from which backend, at which generation.

``refresh()`` asks every backend which zones it has (the first backend in ``launch=``
order wins a zone), reloads exactly the zones whose change token moved, and keeps serving
the previous snapshot of a zone whose new version is broken. A zone that never loaded is
not served (SERVFAIL, as PowerDNS answers for it; a zone without an SOA is absent instead:
REFUSED), and every other zone is unaffected. A zone that failed to load is retried on
every explicit reload, but a periodic check retries it only once its token moves again, so
a broken file is reported once per change, not once per check.

ZoneDB also keeps the zone index the workers serve from (fastdns._zoneindex): every zone
listed is in it, pending until it is compiled. A ``Publisher`` turns each batch of images
into a bundle and publishes the index anew, so that zones are served as they are
compiled, a batch at a time, not after the last one; ``demand`` loads a zone a query waits
for ahead of the others. Without a publisher, the images come back in the result (tests,
tools); ZoneDB keeps none of them (a zone's data lives once, in shared memory).

DNSSEC (DESIGN §5): a backend with a key store (``key_store()``: an SQL backend with
``<backend>-dnssec=yes``, the bind backend with ``bind-dnssec-db``) says which of the zones
being loaded have keys (``keyed_zones``: from the fingerprints of its last listing, so a
million unsigned zones cost a set lookup each); only those have their signing state read,
:data:`SECURITY_BATCH` zones per ``load_security_many``. A zone with an active key and no
problem gets the image dnssec.imagesec.secure_image makes; one whose keys or settings
cannot sign (or whose secure_image fails) gets broken_image's, which answers DO=1
queries with SERVFAIL, and one log line per load (a load is once per change); a
presigned zone, or one without an active key, is served as compiled. The keys and
metadata are part of each zone's change token, so a key change reloads the zone as a
record change does, and the image cache never adopts an image of other keys.
"""

import dataclasses
import itertools
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import dns.name

from fastdns._snapshot import HEADER_SEC_OFF_AT, SECURITY_FLAGS, Snapshot
from fastdns._zoneindex import BROKEN, LOADED, PENDING, IndexBuilder
from fastdns.dnssec.imagesec import (
    PresignedError,
    broken_image,
    presigned_image,
    secure_image,
    setup_from,
)
from fastdns.dnssec.zonesec import ZoneSecurity, load_security_many
from fastdns.log import log, zone_event
from fastdns.zone._rdata import RdataError, name_from_str
from fastdns.zone.bundle import publish_index, write_bundle
from fastdns.zone.check import NoSOAError, ZoneError
from fastdns.zone.imagecache import ImageCache, token_digest
from fastdns.zone.loader import CompiledZone
from fastdns.zone.source import BackendError, ZoneSource

#: the signing state of the keyed zones of a load is read this many zones at a time
SECURITY_BATCH = 256

#: a batch of a load is published once it is this old (seconds) or this big (octets); the
#: first batches go out sooner, so that the first zones are served within a second
BATCH_SECONDS = 1.0
BATCH_BYTES = 64 << 20
#: signed zones an index names for signing ahead, at most (the signature cache is bounded
#: anyway; the rest is signed when queries ask)
SIGN_AHEAD_LISTED = 10_000
SEC_BROKEN, SEC_PRESIGNED = SECURITY_FLAGS["broken"], SECURITY_FLAGS["presigned"]
_SIGNED = 1 << 31             # (a security section there is: any flags)


class Publisher(Protocol):
    """Where ZoneDB's batches go (the manager's ZoneService)."""

    def bundle(self, number: int, fd: int) -> None:
        """Ship bundle ``number`` (the callee closes ``fd``)."""

    def index(self, fd: int, purge: list[int], below: list[bytes], full: bool,
              retired: list[int], zones: int, pending: int,
              signed: Sequence[bytes] = ()) -> None:
        """Ship the index ``fd`` (the callee closes it)."""


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
    #: signed online (its image has a security section)
    signed: bool = False


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


def _wire(name: str) -> bytes:
    try:
        return name_from_str(name if name.endswith(".") else name + ".")
    except RdataError:
        return dns.name.from_text(name).to_wire() or b""


class ZoneDB:
    def __init__(self, backends: Sequence[ZoneSource], first_generation: int = 1,
                 publisher: Publisher | None = None, cache: ImageCache | None = None,
                 config: Any = None) -> None:
        self.backends = list(backends)
        #: the server's configuration (by default the publisher's): the backends' DNSSEC
        #: settings (``dnssec_from_config``), here for a backend made without them
        self.config = config if config is not None else getattr(publisher, "config", None)
        self._configured: set[int] = set()
        for backend in self.backends:
            self._configure(backend)
        self.zones: dict[str, ServedZone] = {}
        #: the change token of each zone's last failed load
        self._failed: dict[str, Hashable] = {}
        #: the zones of ``_failed`` that failed for want of an SOA: absent, not broken
        self._absent: set[str] = set()
        self._generations = itertools.count(first_generation)
        self.publisher = publisher
        #: every zone listed (pending, loaded, broken), as the workers see it
        self.index = IndexBuilder(first_generation & 0xFFFFFFFF)
        #: bundle number -> [descriptor, zones served from it]
        self.bundles: dict[int, list[int]] = {}
        self._next_bundle = 1
        #: what the next published index tells the workers to drop from their caches
        self._purge: list[int] = []
        #: apexes (wire) of the zones signed online loaded since the last publication:
        #: their signatures are made ahead (a worker's SignAhead)
        self._signed: list[bytes] = []
        self._below: list[bytes] = []
        self._full = publisher is not None
        #: secondary zones past their SOA expire (fastdns.server.transfers): BROKEN
        self.expired: set[str] = set()
        #: a refresh and the demand thread's loads change the index one at a time
        self.lock = threading.RLock()
        #: the persisted image cache, and (at start) what it held
        self.cache = cache if publisher is not None else None
        self._cached: IndexBuilder | None = None
        self._cache_bundles: set[int] = set()
        #: the cached bundles mapped while their zones are adopted (image headers read)
        self._cache_views: dict[int, mmap.mmap] = {}
        #: zones served from the cache at start, and whether the cache is behind the index
        self.from_cache = 0
        self._unsaved = False
        #: zones loaded (or found broken) on demand during the refresh under way
        self._demanded: set[str] = set()
        #: whether the index changed since it was last published
        self._dirty = False
        #: images compiled and not shipped yet
        self._batch_images: list[LoadedZone] = []
        self._batch_bytes = 0

    def broken(self) -> list[bytes]:
        """Wire names of the configured zones that have no version to serve: their names
        get SERVFAIL (as PowerDNS answers them), not REFUSED."""
        return [_wire(name) for name in self.broken_names()]

    def broken_names(self) -> list[str]:
        """The configured zones that failed to load and have no version to serve (a zone
        without an SOA is not one of them: it is not served at all)."""
        return [name for name in self._failed
                if name not in self.zones and name not in self._absent]

    def counts(self) -> dict[str, int]:
        return self.index.counts()

    def refresh(self, force: bool = False, retry_failed: bool = True,
                listed: Callable[[], None] | None = None) -> RefreshResult:
        """Bring the served zones in line with the backends; ``force`` reloads every zone.

        With ``retry_failed`` false (periodic checks), a zone whose last load failed is
        left alone until its change token moves. ``listed`` is called once every zone
        listed is in the index (pending or not) and that index is published.
        """
        result = RefreshResult([], [], [])
        wanted: dict[str, tuple[ZoneSource, str]] = {}
        failed_backends = set()
        with self.lock:
            self._demanded = set()
        if self.cache is not None and listed is not None and not len(self.index):
            self._open_cache()
        quick = self._quick_listing(listed) if listed is not None and not len(self.index) \
            else None
        if quick is not None:
            listed = None
        changed = None
        for backend in self.backends:
            try:
                infos = backend.list_zones()
            except BackendError as exc:
                log.error("backend '%s': %s; its zones keep their current data", backend.name, exc)
                failed_backends.add(backend.name)
                continue
            changed = self._changed_only(backend, force, retry_failed, quick)
            if changed is not None:
                wanted = changed
                break
            for info in infos:
                wanted.setdefault(info.name, (backend, info.kind))
        to_load: dict[int, list[tuple[str, str, Hashable]]] = {}
        with self.lock:
            for name, gone in list(self.zones.items()) if changed is None else ():
                if name not in wanted and gone.backend not in failed_backends:
                    del self.zones[name]
                    self._unindex(name)
                    result.removed.append(name)
                    zone_event(logging.INFO, name, "removed")
            for name in [name for name in self._failed
                         if name not in wanted and changed is None]:
                del self._failed[name]
                self._absent.discard(name)
                self._unindex(name)
            for count, (name, (backend, kind)) in enumerate(wanted.items()):
                if count % 4096 == 4095:
                    self._let_demand_in()
                served = self.zones.get(name)
                try:
                    token = backend.change_token(name)
                except ZoneError as exc:
                    zone_event(logging.ERROR, name, str(exc))
                    self._failed[name] = None
                    self._mark_broken(name, kind)
                    result.failed.append(name)
                    continue
                if name in self.expired:
                    continue                   # SERVFAIL until a primary answers again
                if served is not None and served.token == token \
                        and served.backend == backend.name and not force:
                    self._failed.pop(name, None)   # changed back to the version being served
                    self._absent.discard(name)
                    continue
                if not (force or retry_failed) and self._failed.get(name, self) == token:
                    continue
                if served is None and self._cached is not None \
                        and self._adopt(name, kind, backend, token):
                    continue
                if served is None and name not in self._failed:
                    self._put(name, PENDING, kind)     # listed: queries wait for it
                to_load.setdefault(id(backend), []).append((name, kind, token))
            for name in quick or ():
                if name not in wanted and name not in self.zones:
                    self._unindex(name)        # gone between the two listings
            self._publish()
        if listed is not None:
            listed()
        try:
            for backend in self.backends:
                if id(backend) in to_load:
                    self._load_from(backend, to_load[id(backend)], result)
        finally:
            with self.lock:
                if self._cached is not None:
                    self._cached = None
                    for number in self._cache_bundles:
                        self._release(number)
                    for view in self._cache_views.values():
                        view.close()
                    self._cache_views.clear()
                self._flush(result)
        if result.changed or quick is not None:
            self._unsaved = True
        self.save_cache()
        return result

    # -- the persisted image cache -----------------------------------------------------------

    def _open_cache(self) -> None:
        """At start: the cache's bundles go to the workers at once (their zones are served
        once their tokens are found unchanged); the backends are asked for every zone's
        token as they will give it after a load (SQLite's records fingerprint)."""
        assert self.cache is not None and self.publisher is not None
        loaded = self.cache.load()
        if loaded is None:
            return
        self._cached, bundles = loaded
        self._cache_bundles = set(bundles)
        self._next_bundle = max(self._next_bundle, self.cache.highest + 1)
        for number, fd in sorted(bundles.items()):
            self.bundles[number] = [fd, 1]      # held until the zones in it are adopted
            self.publisher.bundle(number, os.dup(fd))
        for backend in self.backends:
            full_tokens = getattr(backend, "tokens_as_loaded", None)
            if full_tokens is not None:
                full_tokens()

    def _adopt(self, name: str, kind: str, backend: ZoneSource, token: Hashable) -> bool:
        """Serve ``name`` from the cache if its image there is of the same token."""
        assert self._cached is not None
        wire = _wire(name)
        entry = self._cached.get(wire)
        if entry is None or entry[0] != LOADED or entry[2] not in self._cache_bundles \
                or entry[6] != token_digest(token):
            return False
        _state, _kind, bundle, offset, size, generation, digest, _id = entry
        security = self._cached_security(bundle, offset, size)
        if security & SEC_BROKEN:
            return False          # compiled again: its DNSSEC problem is logged once more
        if security and not security & SEC_PRESIGNED and \
                len(self._signed) < SIGN_AHEAD_LISTED:
            self._signed.append(wire)         # signed ahead, as if just compiled
        self._put(name, LOADED, kind, bundle, offset, size, generation, digest)
        self.zones[name] = ServedZone(name, kind, backend.name, token, generation, 0)
        self.from_cache += 1
        return True

    def _cached_security(self, bundle: int, offset: int, size: int) -> int:
        """The flags of a cached image's security section (fastdns/_snapshot.pxd), or 0
        for an image without one: read from its header in the cached bundle."""
        view = self._cache_views.get(bundle)
        if view is None:
            view = self._cache_views[bundle] = mmap.mmap(self.bundles[bundle][0], 0,
                                                         prot=mmap.PROT_READ)
        if offset + HEADER_SEC_OFF_AT + 8 > min(len(view), offset + size):
            return 0
        sec_off = struct.unpack_from("=Q", view, offset + HEADER_SEC_OFF_AT)[0]
        if not sec_off or sec_off + 4 > size:
            return 0
        return int(struct.unpack_from("=I", view, offset + sec_off)[0]) | _SIGNED

    def save_cache(self) -> None:
        """Write the cache if the index moved on since it was written, once every zone is
        in (a cache of half-loaded zones would serve nothing more)."""
        if self.cache is None or not self._unsaved or self.index.counts()["pending"]:
            return
        with self.lock:
            bundles = {n: fd for n, (fd, live) in self.bundles.items() if live > 0}
            try:
                self.cache.save(self.index, bundles)
            except OSError as exc:
                log.error("image cache '%s' not written: %s", self.cache.directory, exc)
                return
            self._unsaved = False

    def _changed_only(self, backend: ZoneSource, force: bool, retry_failed: bool,
                      quick: list[str] | None) -> dict[str, tuple[ZoneSource, str]] | None:
        """The zones a check must look at, when the only backend can tell which zones may
        have changed since its last listing (``changed_zones``: the SQL backends), instead
        of every zone's token: a million zones are checked in the time of the few that
        moved. None: look at every zone."""
        changed_zones = getattr(backend, "changed_zones", None)
        kind_of = getattr(backend, "zone_kind", None)
        if len(self.backends) != 1 or force or quick is not None or changed_zones is None \
                or kind_of is None or not (self.zones or self._failed):
            return None
        names = changed_zones()
        if names is None:
            return None
        if retry_failed:
            names = set(names) | set(self._failed)
        wanted: dict[str, tuple[ZoneSource, str]] = {}
        gone = []
        for name in names:
            kind = kind_of(name)
            if kind is None:
                gone.append(name)
            else:
                wanted[name] = (backend, kind)
        if gone:
            return None            # a zone went: the full comparison finds every one
        return wanted

    def _let_demand_in(self) -> None:
        """Let the demand thread take the lock a moment (a million zones' tokens take
        seconds, and a query waits for the zone it wants)."""
        self.lock.release()
        time.sleep(0)
        self.lock.acquire()

    def _quick_listing(self, listed: Callable[[], None]) -> list[str] | None:
        """At start: every zone name the backends can list at once (``quick_names``: the
        SQL backends' ``domains``), pending in an index published at once, so that the
        workers start answering (a query waits for its zone, which is loaded ahead of the
        others) before the full listing, which takes seconds at a million zones. The names
        listed, or None when a backend cannot list quickly."""
        names: list[str] = []
        for backend in self.backends:
            quick = getattr(backend, "quick_names", None)
            try:
                listing = quick() if quick is not None else None
            except BackendError:
                listing = None
            if listing is None:
                return None
            names.extend(listing)
        with self.lock:
            self.index.put_names(names, PENDING)
            self._publish()
        listed()
        log.info("listed %d zones quickly", len(names))
        return [n if n.endswith(".") else n + "." for n in names]

    def demand(self, backends: Sequence[ZoneSource], names: Sequence[str],
               changed: bool = False, kinds: Mapping[str, str] | None = None) -> int:
        """Load ``names`` now, from ``backends`` (another thread's instances of ours),
        and publish them: zones queries wait for, ahead of a refresh's queue. With
        ``changed``, zones just written (a transfer stored), loaded or not: the next
        check loads them once more, as its token moved; a new zone's kind is in ``kinds``
        (else it is a secondary, stored by a transfer). The number loaded."""
        done = 0
        batch = RefreshResult([], [], [])
        for backend in backends:
            self._configure(backend)
        for name in names:
            entry = self.index.get(_wire(name))
            if changed:
                if name in self.expired:
                    continue
                kind = entry[1] if entry is not None else \
                    (kinds or {}).get(name, "secondary")
            elif entry is None or entry[0] != PENDING:
                continue
            else:
                kind = entry[1]
            for own, backend in zip(self.backends, backends, strict=True):
                try:
                    token: Hashable = own.change_token(name)
                except ZoneError:
                    # not listed yet (the first listing is under way): the next check
                    # compares a token of None, and loads it again once
                    token = None
                loaded = self._load(name, kind, backend, token)
                if loaded == "absent" and token is None and len(self.backends) > 1:
                    continue           # perhaps another backend's
                with self.lock:
                    self._demanded.add(name)
                    if isinstance(loaded, LoadedZone):
                        self._add(loaded, batch)
                        done += 1
                    else:
                        self._failed_load(name, kind, token, loaded, batch)
                break
        with self.lock:
            self._flush(batch)
        return done

    # -- loading ---------------------------------------------------------------------------

    def _load_from(self, backend: ZoneSource, zones: list[tuple[str, str, Hashable]],
                   result: RefreshResult) -> None:
        """Load ``zones`` of ``backend`` (in one scan where the backend can), a batch
        published at a time."""
        kinds = {name: (kind, token) for name, kind, token in zones}
        started = {name: time.monotonic() for name, _, _ in zones[:1]}
        flushed = [time.monotonic(), 0.1]
        keyed = self._keyed(backend, [name for name, _, _ in zones])
        #: keyed zones compiled, their signing state not read yet
        held: list[tuple[str, CompiledZone]] = []

        def secure_held() -> None:
            batch = held[:]
            del held[:]
            for name, outcome in self._secure_many(backend, batch):
                finish(name, outcome)

        def deliver(name: str, compiled: CompiledZone | ZoneError) -> None:
            if name in keyed and isinstance(compiled, CompiledZone) \
                    and not (name in self._demanded and name in self.zones):
                held.append((name, compiled))
                if len(held) >= SECURITY_BATCH:
                    secure_held()
            else:
                finish(name, compiled)

        def finish(name: str, compiled: CompiledZone | ZoneError) -> None:
            kind, token = kinds.pop(name, ("native", None))
            if name in self._demanded:
                # loaded (or found broken) on demand meanwhile, perhaps before the listing
                # had its token: take the listing's. A zone the demand could not load but
                # this load compiled is served from this load.
                with self.lock:
                    served = self.zones.get(name)
                    if served is not None:
                        if served.token is None:
                            served.token = token
                        return
                    if not isinstance(compiled, CompiledZone):
                        if name in self._failed and self._failed[name] is None:
                            self._failed[name] = token
                        return
                    self._demanded.discard(name)
            outcome = self._compiled(name, kind, backend, token, compiled,
                                     started.pop(name, None))
            with self.lock:
                if isinstance(outcome, LoadedZone):
                    self._add(outcome, result)
                else:
                    self._failed_load(name, kind, token, outcome, result)
                now = time.monotonic()
                if now - flushed[0] >= flushed[1] or self._pending_bytes >= BATCH_BYTES:
                    self._flush(result)
                    # the first batches soon, then one a second (a publish costs more
                    # as the index grows)
                    flushed[0], flushed[1] = time.monotonic(), min(BATCH_SECONDS,
                                                                     flushed[1] * 2)

        load_many = getattr(backend, "load_many", None)
        failure: BackendError | None = None
        try:
            if load_many is not None:
                load_many([name for name, _, _ in zones], deliver)
            else:
                for name, _, _ in zones:
                    try:
                        compiled: CompiledZone | ZoneError = backend.load_image(name)
                    except ZoneError as exc:
                        compiled = exc
                    deliver(name, compiled)
        except BackendError as exc:
            failure = exc
        secure_held()          # the keyed zones delivered before a failure too
        if failure is not None:
            log.error("backend '%s': %s; %d zones not loaded, tried again at the next "
                      "check", backend.name, failure, len(kinds))
            with self.lock:
                for name, (kind, token) in kinds.items():
                    self._failed_load(name, kind, token, "broken", result)

    def _load(self, name: str, kind: str, backend: ZoneSource,
              token: Hashable) -> LoadedZone | str:
        """The zone's new image, or why there is none: "broken" (the previous version, if
        any, keeps being served) or "absent" (no SOA: the zone is not served at all)."""
        started = time.monotonic()
        try:
            compiled: CompiledZone | ZoneError = backend.load_image(name)
        except ZoneError as exc:
            compiled = exc
        except Exception as exc:      # anything else is a defect: the other zones load
            compiled = ZoneError(f"internal error loading the zone from backend "
                                 f"'{backend.name}': {type(exc).__name__}: {exc}")
        if isinstance(compiled, CompiledZone) and self._keyed(backend, [name]):
            compiled = self._secure_many(backend, [(name, compiled)])[0][1]
        return self._compiled(name, kind, backend, token, compiled, started)

    # -- DNSSEC ------------------------------------------------------------------------------

    def _configure(self, backend: ZoneSource) -> None:
        """Give ``backend`` its DNSSEC settings from the configuration, once."""
        setup = getattr(backend, "dnssec_from_config", None)
        if self.config is not None and setup is not None and id(backend) not in self._configured:
            setup(self.config)
            self._configured.add(id(backend))

    @staticmethod
    def _keyed(backend: ZoneSource, names: list[str]) -> set[str]:
        """The zones of ``names`` whose signing state must be read (they have keys)."""
        key_store = getattr(backend, "key_store", None)
        keyed_zones = getattr(backend, "keyed_zones", None)
        if key_store is None or keyed_zones is None or key_store() is None:
            return set()
        try:
            return set(keyed_zones(names))
        except BackendError as exc:
            log.error("backend '%s': which zones have DNSSEC keys is unknown (%s); reading "
                      "the keys of every zone loaded", backend.name, exc)
            return set(names)

    def _secure_many(self, backend: ZoneSource, zones: list[tuple[str, CompiledZone]]
                     ) -> list[tuple[str, CompiledZone | ZoneError]]:
        """``zones`` with their images made as their signing state says (see the module
        doc); a zone whose keys cannot be read is a failed load (ZoneError: its previous
        version, if any, stays; its token moves where the backend can move it)."""
        if not zones:
            return []
        store = backend.key_store()          # type: ignore[attr-defined]
        names = [name for name, _ in zones]
        try:
            states = load_security_many(store, [n.rstrip(".") or "." for n in names],
                                        getattr(backend, "max_nsec3_iterations", None))
        except BackendError as exc:
            failed = getattr(backend, "note_failure", None)
            out: list[tuple[str, CompiledZone | ZoneError]] = []
            for name in names:
                if failed is not None:
                    failed(name)
                out.append((name, ZoneError(f"DNSSEC keys and metadata not read: {exc}")))
            return out
        direct = bool(self.config is not None and "direct-dnskey" in self.config
                      and self.config["direct-dnskey"])
        return [(name, self._secured(name, compiled, states.get(name.rstrip(".") or "."),
                                     direct))
                for name, compiled in zones]

    @staticmethod
    def _secured(name: str, compiled: CompiledZone, security: ZoneSecurity | None,
                 direct: bool = False) -> CompiledZone | ZoneError:
        if security is None:
            return compiled
        if security.presigned and not security.problems:
            nsec3 = security.nsec3
            try:
                compiled.image = presigned_image(compiled.image, None if nsec3 is None else (
                    nsec3.algorithm, nsec3.flags, nsec3.iterations, nsec3.salt))
                return compiled
            except PresignedError as exc:
                security = dataclasses.replace(security, problems=[str(exc)])
            except Exception as exc:      # a defect
                security = dataclasses.replace(security, problems=[
                    f"internal error reading its signatures: {type(exc).__name__}: {exc}"])
        if not (security.signed or (security.presigned and security.problems)):
            return compiled                  # no active key: as compiled
        problems = list(security.problems)
        if not problems:
            try:
                compiled.image = secure_image(compiled.image, setup_from(security, direct))
                return compiled
            except Exception as exc:      # a defect, or keys the image cannot take
                problems = [f"internal error signing it: {type(exc).__name__}: {exc}"]
        zone_event(logging.ERROR, name, f"DNSSEC disabled: {'; '.join(problems)}; "
                   "queries with DO=1 get SERVFAIL")
        try:
            compiled.image = broken_image(compiled.image)
        except Exception as exc:
            return ZoneError(f"internal error: no image for its broken DNSSEC "
                             f"({type(exc).__name__}: {exc})")
        return compiled

    def _compiled(self, name: str, kind: str, backend: ZoneSource, token: Hashable,
                  compiled: CompiledZone | ZoneError,
                  started: float | None) -> LoadedZone | str:
        if isinstance(compiled, NoSOAError):
            zone_event(logging.ERROR, name, str(compiled))
            return "absent"
        if isinstance(compiled, BaseException):
            keeping = "; still serving the previous version" if name in self.zones else \
                "; not served"
            zone_event(logging.ERROR, name, f"{compiled}{keeping}")
            return "broken"
        for warning in compiled.warnings:
            zone_event(logging.WARNING, name, warning)
        image = compiled.image
        generation = next(self._generations)
        try:
            snapshot = Snapshot(image, generation)    # validates the image once, here
        except ValueError as exc:
            zone_event(logging.ERROR, name, f"internal error: bad image ({exc}); not served")
            return "broken"
        try:
            # taken again now that the backend has read the zone: a zone file's $INCLUDEs
            # are only known once it has been read
            token = backend.change_token(name)
        except ZoneError:
            pass
        self.zones[name] = ServedZone(name, kind, backend.name, token, generation,
                                      snapshot.serial)
        if started is not None or len(self.zones) <= 1000 or log.isEnabledFor(logging.DEBUG):
            skipped = f", {compiled.skipped} broken records skipped" if compiled.skipped else ""
            took = f" in {time.monotonic() - started:.3f}s" if started is not None else ""
            flags = snapshot.security_flags
            signed = "" if not snapshot.signed or flags & SEC_BROKEN else \
                ", presigned" if flags & SEC_PRESIGNED else ", signed online"
            zone_event(logging.INFO if started is not None or len(self.zones) <= 1000
                       else logging.DEBUG, name,
                       f"loaded serial {snapshot.serial}, {len(snapshot)} names, "
                       f"{snapshot.nbytes} bytes{took} from backend '{backend.name}'"
                       f"{signed}{skipped}")
        online = snapshot.signed and not snapshot.security_flags & (
            SEC_BROKEN | SEC_PRESIGNED)
        return LoadedZone(name, kind, generation, image, compiled.skipped, online)

    # -- the index and its batches (under ``lock``) ---------------------------------------

    @property
    def _pending_bytes(self) -> int:
        return self._batch_bytes

    def _add(self, loaded: LoadedZone, result: RefreshResult) -> None:
        self._failed.pop(loaded.name, None)
        self._absent.discard(loaded.name)
        result.loaded.append(loaded.name)
        result.skipped += loaded.skipped
        if self.publisher is None:
            result.images.append(loaded)
            self._put(loaded.name, LOADED, loaded.kind, generation=loaded.generation)
        else:
            self._batch_images.append(loaded)
            self._batch_bytes += len(loaded.image)

    def _failed_load(self, name: str, kind: str, token: Hashable, why: str,
                     result: RefreshResult) -> None:
        """``name`` did not load: ``why`` "absent" or "broken"; ``token`` as before the
        load (a load that failed on the database moves it: the next check retries)."""
        self._failed[name] = token
        if why == "absent":
            result.absent.append(name)
            self._absent.add(name)
            if self.zones.pop(name, None) is not None:
                result.removed.append(name)
            self._unindex(name)
        else:
            result.failed.append(name)
            self._absent.discard(name)
            self._mark_broken(name, kind)

    def expire(self, name: str, kind: str) -> None:
        """A secondary zone past its SOA expire: answered SERVFAIL (as a zone that failed
        to load) until ``unexpire``; its data stays in the backend."""
        with self.lock:
            self.expired.add(name)
            self.zones.pop(name, None)
            self._put(name, BROKEN, kind)
            self._publish()

    def drop(self, name: str) -> None:
        """``name`` was deleted from its backend (an API delete): stop serving it now, as
        the next check would."""
        with self.lock:
            if self.zones.pop(name, None) is None and name not in self._failed:
                return
            self._failed.pop(name, None)
            self._absent.discard(name)
            self._unindex(name)
            zone_event(logging.INFO, name, "removed")
            self._publish()

    def unexpire(self, name: str) -> None:
        """A primary answered again: the next refresh loads the zone."""
        with self.lock:
            self.expired.discard(name)

    def _mark_broken(self, name: str, kind: str) -> None:
        if name not in self.zones:
            self._put(name, BROKEN, kind)

    def _put(self, name: str, state: int, kind: str, bundle: int = 0, offset: int = 0,
             size: int = 0, generation: int = 0, token: int = 0) -> None:
        wire = _wire(name)
        before = self.index.get(wire)
        if before is None:
            self._below.append(wire)            # new: another zone may have answered for it
        elif before[0] == LOADED:
            self._purge.append(before[7])
            self._release(before[2])
        elif before[0] == BROKEN:
            self._below.append(wire)
        self.index.put(wire, state, kind, bundle, offset, size, generation, token)
        self._dirty = True
        if state == LOADED and bundle in self.bundles:
            self.bundles[bundle][1] += 1

    def _unindex(self, name: str) -> None:
        wire = _wire(name)
        before = self.index.get(wire)
        if before is None:
            return
        if before[0] == LOADED:
            self._purge.append(before[7])
            self._release(before[2])
        self._below.append(wire)
        self.index.remove(wire)
        self._dirty = True

    def _release(self, bundle: int) -> None:
        entry = self.bundles.get(bundle)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                self._dirty = True          # to be retired by the next index

    def _flush(self, result: RefreshResult) -> None:
        """Ship the images compiled so far as a bundle, and publish the index."""
        if self.publisher is None:
            return
        batch, self._batch_images, self._batch_bytes = self._batch_images, [], 0
        if batch:
            number = self._next_bundle
            self._next_bundle += 1
            fd, offsets = write_bundle(number, [z.image for z in batch])
            self.bundles[number] = [fd, 0]
            self.publisher.bundle(number, os.dup(fd))
            for loaded, offset in zip(batch, offsets, strict=True):
                if loaded.signed and len(self._signed) < SIGN_AHEAD_LISTED:
                    self._signed.append(_wire(loaded.name))
                served = self.zones.get(loaded.name)
                self._put(loaded.name, LOADED, loaded.kind, number, offset,
                          len(loaded.image), loaded.generation,
                          token_digest(served.token) if served is not None else 0)
        self._publish()

    def _publish(self) -> None:
        """Publish the index, if it changed since it was last published (a check that
        finds nothing costs the workers nothing)."""
        if self.publisher is None or not (self._dirty or self._full):
            return
        self._dirty = False
        retired = [number for number, (fd, live) in self.bundles.items() if live <= 0]
        for number in retired:
            os.close(self.bundles.pop(number)[0])
        purge, below, full = self._purge, self._below, self._full
        if len(purge) > 4000 or len(below) > 500:
            purge, below, full = [], [], True
        self._purge, self._below, self._full = [], [], False
        signed, self._signed = self._signed, []
        counts = self.index.counts()
        self.publisher.index(publish_index(self.index), purge, below, full, retired,
                             len(self.index), counts["pending"], signed)

    def close(self) -> None:
        for fd, _live in self.bundles.values():
            os.close(fd)
        self.bundles.clear()

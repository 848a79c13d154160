"""``launch=`` -> backend objects, in launch order (the first backend that has a zone wins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastdns.backends.bind import BindBackend
from fastdns.backends.gsql import open_backend
from fastdns.config.settings import BackendInstance
from fastdns.zone.loader import ZoneOptions
from fastdns.zone.source import BackendError, ZoneSource

if TYPE_CHECKING:
    from fastdns.config.loader import Config


def _bind(config: Any, instance: BackendInstance) -> ZoneSource:
    settings = config.backend(instance)
    path = settings.get("config") or ""
    if not path:
        raise BackendError(f"backend '{instance}': {instance.prefix}config is not set")
    return BindBackend(path, name=str(instance),
                       check_interval=int(settings.get("check-interval") or 0),
                       options=ZoneOptions.from_config(
                           config, bool(settings.get("ignore-broken-records"))))


#: backend name -> factory(config, instance); the SQL backends connect lazily, so a
#: database that is down at start-up is retried by the periodic check, not a failed start
FACTORIES: dict[str, Callable[[Any, BackendInstance], ZoneSource]] = {
    "bind": _bind,
    "gsqlite3": open_backend,
    "gpgsql": open_backend,
    "gmysql": open_backend,
}


def refresh_interval(backends: list[ZoneSource]) -> int:
    """Seconds between change checks: the shortest any backend asks for (0: never)."""
    intervals = [b.check_interval for b in backends if b.check_interval > 0]
    return min(intervals) if intervals else 0


def make_backends(config: Config) -> list[ZoneSource]:
    """The backends of ``config.instances``; raises BackendError for one we cannot start."""
    backends = []
    for instance in config.instances:
        factory = FACTORIES.get(instance.backend)
        if factory is None:
            raise BackendError(f"backend '{instance.backend}' is not available in this version "
                               f"of fastdns (available: {', '.join(sorted(FACTORIES))})")
        backends.append(factory(config, instance))
    return backends


def check_intervals(config: Config) -> list[int]:
    """The change-check interval each launched backend is configured with, in launch order
    (``bind-check-interval`` for a bind backend, ``zone-check-interval`` for SQL ones)."""
    out = []
    for instance in config.instances:
        if instance.backend == "bind":
            out.append(int(config.backend(instance).get("check-interval") or 0))
        else:
            out.append(int(config.zone_check_interval))
    return out


def set_check_interval(backend: ZoneSource, seconds: int) -> None:
    """Change a running backend's check interval (the reloadable settings above)."""
    if hasattr(backend, "interval"):         # SQL: the interval while the database answers
        backend.interval = seconds
    else:
        backend.check_interval = seconds     # type: ignore[misc]

"""``launch=`` -> backend objects, in launch order (the first backend that has a zone wins)."""

from collections.abc import Callable
from typing import Any

from fastdns.backends.base import BackendError, ZoneSource
from fastdns.backends.bind import BindBackend
from fastdns.config.settings import BackendInstance


def _bind(instance: BackendInstance, settings: dict[str, Any]) -> ZoneSource:
    path = settings.get("config") or ""
    if not path:
        raise BackendError(f"backend '{instance}': {instance.prefix}config is not set")
    return BindBackend(path, name=str(instance),
                       check_interval=int(settings.get("check-interval") or 0))


FACTORIES: dict[str, Callable[[BackendInstance, dict[str, Any]], ZoneSource]] = {
    "bind": _bind,
}


def refresh_interval(backends: list[ZoneSource]) -> int:
    """Seconds between change checks: the shortest any backend asks for (0: never)."""
    intervals = [b.check_interval for b in backends if b.check_interval > 0]
    return min(intervals) if intervals else 0


def make_backends(config: Any) -> list[ZoneSource]:
    """The backends of ``config.instances``; raises BackendError for one we cannot start."""
    backends = []
    for instance in config.instances:
        factory = FACTORIES.get(instance.backend)
        if factory is None:
            raise BackendError(f"backend '{instance.backend}' is not available in this version "
                               f"of fastdns (available: {', '.join(sorted(FACTORIES))})")
        backends.append(factory(instance, config.backend(instance)))
    return backends

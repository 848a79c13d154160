"""The API's way to the backends: one thread of its own, with backends of its own.

Every read and write of a request runs there, one at a time and in the order asked, so that
the event loop of the manager never waits on a database and two API writes never interleave
(a PATCH is read, checked and written whole before the next request starts). The backends
are opened in that thread on first use, as SQLite connections belong to the thread that
opened them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastdns.backends.registry import make_backends
from fastdns.dnssec.keystore import KeyStore
from fastdns.dnssec.stores import keystore_for
from fastdns.zone.source import ZoneSource

T = TypeVar("T")


class Store:
    def __init__(self, config: Any) -> None:
        self.config = config
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="api")
        self._backends: list[ZoneSource] | None = None

    def backends(self) -> list[ZoneSource]:
        """The API thread's backends, in ``launch=`` order (call in that thread only)."""
        if self._backends is None:
            self._backends = make_backends(self.config)
        return self._backends

    def find(self, zone: str) -> ZoneSource | None:
        """The first backend in ``launch=`` order that has ``zone`` (API thread only)."""
        from fastdns.backends.gsql import GSQLBackend

        dotted = zone if zone.endswith(".") else zone + "."
        for backend in self.backends():
            if isinstance(backend, GSQLBackend):
                if backend.zone_info(zone) is not None:
                    return backend
            elif dotted in {info.name for info in backend.list_zones()}:
                return backend
        return None

    def keystore(self, zone: str) -> KeyStore | None:
        """Where ``zone``'s keys and metadata are (None: nowhere, as PowerDNS keeps none
        with ``<backend>-dnssec`` off); API thread only."""
        return keystore_for(self, zone)

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the API thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)

    def close(self) -> None:
        def close_all() -> None:
            for backend in self._backends or ():
                close = getattr(backend, "close", None)
                if close is not None:
                    close()
        self._executor.submit(close_all)
        self._executor.shutdown(wait=True)

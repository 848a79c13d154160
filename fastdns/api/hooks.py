"""What the HTTP API asks of the server it runs in: the manager gives it an object of this
shape (fastdns.server.webservice), so that the API stands below the server's layer and its
tests can see every way it reaches the rest of fastdns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastdns.config.loader import Config


class ServerHooks(Protocol):
    config: Config

    def statistics(self) -> dict[str, int]:
        """Every statistic by PowerDNS's name (what ``show *`` lists, then fastdns's own)."""
        ...

    def response_sizes(self) -> dict[int, int]:
        """Answers by size (``respsizes``)."""
        ...

    def query_types(self) -> dict[int, int]:
        """Queries by type number (``qtypes``)."""
        ...

    def remotes(self) -> list[tuple[str, int]]:
        """The clients seen most recently, most first (``remotes``)."""
        ...

    def uptime(self) -> float:
        """Seconds since the server started."""
        ...

    def served(self) -> dict[str, tuple[str, int]]:
        """The zones served now: name (with the trailing dot) → (kind, SOA serial)."""
        ...

    def written(self, zone: str, kind: str) -> None:
        """``zone`` was just changed in its backend: load it and serve it now."""
        ...

    def removed(self, zone: str) -> None:
        """``zone`` was just deleted from its backend: stop serving it now."""
        ...

    def tsig_changed(self) -> None:
        """The TSIG keys were changed: transfers and NOTIFY use the new ones from now on."""
        ...

    async def control(self, words: list[str]) -> str:
        """Run a control command (``purge NAME$``, ``notify NAME``, ``retrieve NAME``) and
        return its reply text, as pdns_control would print it."""
        ...

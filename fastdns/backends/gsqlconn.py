"""The connection of a GSQLBackend (fastdns.backends.gsql): a transaction per call, driver
errors as BackendError, and the database's outages.

While the database does not answer, the backend keeps serving the zones of its last good
listing (``_domains``), logs the outage once and checks again sooner (``check_interval``:
1, 2, 4... seconds, up to ``zone-check-interval``). What the other parts of the backend
share is here too: the forms of the ``domains`` table (KINDS, Domain), a zone's id,
savepoints (PostgreSQL aborts a transaction at a failed statement) and a driver's message.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastdns.backends.sqlbase import Dialect, db_name
from fastdns.log import log
from fastdns.zone.source import BackendError

#: PowerDNS ``domains.type`` → fastdns zone kind
KINDS = {"NATIVE": "native", "MASTER": "primary", "SLAVE": "secondary",
         "PRODUCER": "producer", "CONSUMER": "consumer"}


@dataclass(slots=True, frozen=True)
class Domain:
    """A zone's ``domains`` row, as the backend keeps it."""

    id: int
    kind: str
    master: str
    account: str


class SQLConnection:
    """The database of one backend: transactions, errors, outages (see the module doc)."""

    def __init__(self, dialect: Dialect, name: str = "", check_interval: int = 60) -> None:
        self.dialect = dialect
        self.name = name or dialect.backend
        #: ``zone-check-interval``: seconds between checks while the database answers
        self.interval = check_interval
        #: failed attempts in a row (the backoff while the database is down)
        self._failures = 0
        self._down_since: float | None = None
        #: zone name (with dot) -> its ``domains`` row, from the last good listing (what
        #: is served while the database is down)
        self._domains: dict[str, Domain] = {}

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor in one transaction; driver errors become BackendError."""
        try:
            with self.dialect.connection() as conn:
                cur = conn.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
        except self.dialect.errors as exc:
            if isinstance(exc, self.dialect.down_errors):
                self._failures += 1
                self._went_down(exc)
            raise BackendError(f"{self.dialect.describe()}: {message(exc)}") from None
        self._came_back()

    def _went_down(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            if self._domains:   # before the first listing, ZoneDB logs every failed attempt
                log.error("backend '%s': database unavailable: %s; serving the %d zones "
                          "loaded before until it is back", self.name, message(exc),
                          len(self._domains))

    def _came_back(self) -> None:
        self._failures = 0
        if self._down_since is not None:
            log.warning("backend '%s': database available again after %.0fs", self.name,
                        time.monotonic() - self._down_since)
            self._down_since = None

    @property
    def check_interval(self) -> int:
        """Seconds until the next check: ``zone-check-interval``, or less while the
        database is down (1, 2, 4... seconds, up to the interval)."""
        if self._down_since is None or not self.interval:
            return self.interval
        return min(self.interval, 2 ** min(self._failures - 1, 10))

    @property
    def available(self) -> bool:
        """False while the database is known to be unreachable."""
        return self._down_since is None

    def _q(self, query: str) -> str:
        return self.dialect.sql(query)

    def _domain_id(self, cur: Any, zone: str) -> int:
        cur.execute(self._q("SELECT id FROM domains WHERE name = ?"), (db_name(zone),))
        row = cur.fetchone()
        if row is None:
            raise BackendError(f"zone '{db_name(zone)}' is not in backend '{self.name}'")
        return int(row[0])

    def _wrote(self) -> None:
        """After a write of our own (fastdns.backends.gsqlchanges: the next check looks
        again)."""

    def _has_table(self, cur: Any, table: str) -> bool:
        try:
            with self._savepoint(cur):
                cur.execute(f"SELECT 1 FROM {table} WHERE 1 = 0")
                cur.fetchall()
        except self.dialect.errors:
            return False
        return True

    @contextlib.contextmanager
    def _savepoint(self, cur: Any) -> Iterator[None]:
        """Let a statement fail without aborting the transaction (PostgreSQL's rule)."""
        cur.execute("SAVEPOINT fastdns_probe")
        try:
            yield
        except BaseException:
            cur.execute("ROLLBACK TO SAVEPOINT fastdns_probe")
            raise
        cur.execute("RELEASE SAVEPOINT fastdns_probe")

    def close(self) -> None:
        self.dialect.close()


def message(exc: BaseException) -> str:
    """The first line of a driver's error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

"""Logging: one line per event, naming the zone and the cause.

PowerDNS's ``loglevel`` (syslog severities 0-7; 4 = warning is the default) maps onto
Python's levels. Messages go to stderr, with a timestamp when ``log-timestamp`` is on;
``reopen()`` (SIGUSR1) re-opens a log file given with ``--log-file``-style redirection.
"""

import logging
import sys

#: syslog severity (PowerDNS loglevel) -> Python level
_LEVELS = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR,
           4: logging.WARNING, 5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG}

log = logging.getLogger("fastdns")


def setup(loglevel: int = 4, timestamps: bool = True, stream=None) -> None:
    """Configure the ``fastdns`` logger for a process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    fmt = "%(asctime)s %(message)s" if timestamps else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt, datefmt="%b %d %H:%M:%S"))
    log.handlers[:] = [handler]
    set_level(loglevel)
    log.propagate = False


def set_level(loglevel: int) -> None:
    """Change the level (``loglevel``, reloadable) of a running process."""
    log.setLevel(_LEVELS.get(max(0, min(7, loglevel)), logging.WARNING))


def zone_event(level: int, zone: str, message: str) -> None:
    """Log one event about ``zone``: ``zone 'example.com': <message>``."""
    log.log(level, "zone '%s': %s", zone.rstrip(".") or ".", message)


def reopen() -> None:
    """SIGUSR1: re-open the log's stream, so that a rotated file is let go of. Standard
    error that was redirected to a file is re-opened by its path (as logrotate expects)."""
    for handler in log.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.flush()
            stream = handler.stream
            path = _stream_path(stream)
            if path is not None:
                try:
                    handler.setStream(open(path, "a", buffering=1))
                except OSError:
                    continue


def _stream_path(stream) -> str | None:
    import os

    try:
        fd = stream.fileno()
        path = os.readlink(f"/proc/self/fd/{fd}")
    except (OSError, ValueError, AttributeError):
        return None
    return path if path.startswith("/") and os.path.isfile(path) else None


class Throttled:
    """One kind of event that may come in floods (a refused connection, a malformed packet,
    a refused NOTIFY): counted every time, logged at most once per ``interval`` seconds.

    The first event is logged at once, ``WHAT: DETAIL``; later ones within the interval are
    only counted, and the next line logged says how many there were (``WHAT: DETAIL, and
    1233 more in 10 s``), so a flood costs a line per interval, not a line per packet, and
    nothing is hidden. ``flush`` logs what is still held (at stop).
    """

    __slots__ = ("_clock", "_held", "_last", "count", "interval", "level", "what")

    def __init__(self, level: int, what: str, interval: float = 10.0, clock=None) -> None:
        import time

        self.level = level
        self.what = what
        self.interval = interval
        self.count = 0                  # every event, since the start
        self._clock = clock or time.monotonic
        self._last: float | None = None
        self._held = 0                  # events counted and not logged yet

    def __call__(self, detail: str) -> None:
        """One event; ``detail`` says which (a client address, a zone)."""
        self.count += 1
        now = self._clock()
        if self._last is not None and now - self._last < self.interval:
            self._held += 1
            return
        if self._held:
            log.log(self.level, "%s: %s, and %d more in %.0f s", self.what, detail,
                    self._held, now - (self._last or now))
        else:
            log.log(self.level, "%s: %s", self.what, detail)
        self._last = now
        self._held = 0

    def flush(self) -> None:
        if self._held:
            log.log(self.level, "%s: %d more", self.what, self._held)
            self._held = 0

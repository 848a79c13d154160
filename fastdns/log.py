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
    log.setLevel(_LEVELS.get(max(0, min(7, loglevel)), logging.WARNING))
    log.propagate = False


def zone_event(level: int, zone: str, message: str) -> None:
    """Log one event about ``zone``: ``zone 'example.com': <message>``."""
    log.log(level, "zone '%s': %s", zone.rstrip(".") or ".", message)

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

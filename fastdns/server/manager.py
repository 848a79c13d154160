"""The manager process: reads the backends, compiles zones, and hands the images to the
master in shared-memory bundles (``fastdns.zone.bundle``), which passes them on to every
worker.

It loads every zone at start (then says ``ready``), and again on the master's ``reload``
(SIGHUP, ``pdns_control reload``) and every ``bind-check-interval`` seconds, shipping only
the zones that changed. Workers never wait for it: they serve what they have until a new
bundle arrives.
"""

import os
import select
import signal
import socket
import time

from fastdns import ipc
from fastdns.backends.registry import make_backends, refresh_interval
from fastdns.log import log, reopen
from fastdns.server.worker import BOOT_ERROR, die_with_parent, drop_privileges
from fastdns.stats import record_usage
from fastdns.zone.bundle import write_bundle
from fastdns.zone.source import BackendError
from fastdns.zone.zonedb import RefreshResult, ZoneDB


def main(channel: socket.socket, rows, slot: int, config, master_pid: int) -> int:
    """A forked manager's life; its exit status (BOOT_ERROR when it could not start)."""
    from setproctitle import setproctitle

    setproctitle("fastdns: manager")
    die_with_parent()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGQUIT, _stop)
    signal.signal(signal.SIGUSR1, _reopen_log)
    try:
        return _run(channel, rows, slot, config, master_pid)
    except _Stop:
        return 0


class _Stop(Exception):
    pass


def _stop(signum, frame) -> None:
    raise _Stop()


def _reopen_log(signum, frame) -> None:
    reopen()


def _run(channel: socket.socket, rows, slot: int, config, master_pid: int) -> int:
    try:
        backends = make_backends(config)
        drop_privileges(config.setuid, config.setgid)
    except (BackendError, KeyError, OSError) as exc:
        log.error("manager cannot start: %s", exc)
        return BOOT_ERROR
    # generations only have to differ from those of an earlier manager of this server
    zonedb = ZoneDB(backends, first_generation=int(time.time() * 1000))
    started = time.monotonic()
    result = zonedb.refresh()
    _ship(channel, zonedb, result, full=True)
    log.warning("loaded %d zones (%d failed, %d without SOA, %d broken records "
                "skipped) in %.2fs", len(zonedb.zones), len(result.failed),
                len(result.absent), result.skipped, time.monotonic() - started)
    ipc.send(channel, {"op": "ready", "zones": len(zonedb.zones)})
    interval = refresh_interval(zonedb.backends)
    next_check = time.monotonic() + interval if interval else None
    while True:
        record_usage(rows, slot)
        if os.getppid() != master_pid:
            return 0
        timeout = 1.0 if next_check is None else max(0.0, min(1.0, next_check - time.monotonic()))
        readable, _, _ = select.select([channel], [], [], timeout)
        if readable:
            received = ipc.recv(channel)
            if received is None:
                return 0
            message, fds = received
            for fd in fds:
                os.close(fd)
            if message.get("op") in ("reload", "rediscover"):
                result = zonedb.refresh(retry_failed=True)
                if result.changed:
                    _ship(channel, zonedb, result)
                # the master says "reload: ..." once every worker serves the result
                ipc.send(channel, {"op": "reloaded", "id": message.get("id"),
                                   "loaded": len(result.loaded), "removed": len(result.removed),
                                   "failed": len(result.failed), "absent": len(result.absent),
                                   "skipped": result.skipped,
                                   "zones": len(zonedb.zones)})
        elif next_check is not None and time.monotonic() >= next_check:
            result = zonedb.refresh(retry_failed=False)
            if result.changed:
                _ship(channel, zonedb, result)
                log.info("check: %d zones loaded (%d broken records skipped), %d removed, "
                         "%d failed, %d without SOA; serving %d zones", len(result.loaded),
                         result.skipped, len(result.removed), len(result.failed),
                         len(result.absent), len(zonedb.zones))
            # an SQL backend whose database is down asks to be retried sooner (backoff)
            interval = refresh_interval(zonedb.backends) or interval
            next_check = time.monotonic() + interval


def _ship(channel: socket.socket, zonedb: ZoneDB, result: RefreshResult,
          full: bool = False) -> None:
    """Send the zones ``result`` loaded to the master, in one bundle."""
    images = [(z.name, z.kind, z.generation, z.image) for z in result.images]
    result.images.clear()
    fd = write_bundle(images, removed=result.removed, broken=zonedb.broken_names(), full=full)
    del images
    try:
        ipc.send(channel, {"op": "zones"}, (fd,))
    finally:
        os.close(fd)

"""``fastdns``: start the server (``pdns_server``'s command line)."""

import asyncio
import signal
import sys
from collections.abc import Sequence

from fastdns import __version__

USAGE = """\
usage: fastdns [--config-dir=DIR] [--config-name=NAME] [--SETTING=VALUE ...]
       fastdns --config[=full|default|diff|check] [--config-dir=DIR ...]
       fastdns --version | --help

Settings use PowerDNS's names (see `fastdns --config`); --SETTING=VALUE overrides the file.
"""

BUILD_HINT = """\
fastdns: the compiled extensions (fastdns._wire, ._snapshot, ._engine) cannot be imported:
  {error}
Build them with `pip install .` (or `make build` in a source checkout)."""


def main(argv: Sequence[str] | None = None) -> int:
    from fastdns.config.loader import COMMAND_LINE, ConfigError, load_config, parse_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cmdline = parse_command_line(args)
    except ConfigError as exc:
        print(f"fastdns: {exc}\n{USAGE}", end="", file=sys.stderr)
        return 1
    if cmdline.help:
        print(USAGE, end="")
        return 0
    if cmdline.version:
        print(f"fastdns {__version__}")
        return 0
    try:
        config = load_config(cmdline)
    except ConfigError as exc:
        # a mistake on the command line (`--nonsense`) gets the usage, as a parse error does
        usage = USAGE if exc.where == COMMAND_LINE else ""
        print(f"fastdns: {exc}\n{usage}", end="" if usage else "\n", file=sys.stderr)
        return 1
    if cmdline.config_mode == "check":
        return 0
    if cmdline.config_mode is not None:
        print(config.dump(cmdline.config_mode), end="")
        return 0
    try:
        from fastdns import _engine, _snapshot, _wire  # noqa: F401
    except ImportError as exc:
        print(BUILD_HINT.format(error=exc), file=sys.stderr)
        return 1
    from fastdns import log

    log.setup(config.loglevel, config.log_timestamp)
    for warning in config.warnings:
        log.log.warning("%s", warning)
    return serve(config)


def version_text(setting: str) -> str | None:
    """The version.bind answer for ``version-string`` (None: SERVFAIL, as 'anonymous')."""
    if setting == "anonymous":
        return None
    if setting in ("full", ""):
        return f"fastdns {__version__}"
    if setting == "powerdns":
        return "Served by fastdns"
    return setting


def serve(config) -> int:
    """Load the zones, bind the sockets and answer until told to stop."""
    import uvloop

    from fastdns._engine import Engine
    from fastdns.backends.base import BackendError
    from fastdns.backends.registry import make_backends, refresh_interval
    from fastdns.log import log
    from fastdns.server.sockets import bind_listeners
    from fastdns.server.worker import TcpLimits, Worker
    from fastdns.zone.zonedb import ZoneDB

    try:
        zonedb = ZoneDB(make_backends(config))
    except BackendError as exc:
        log.error("%s", exc)
        return 1
    zonedb.refresh()
    addresses = [(a.host, a.port or config.local_port) for a in config.local_address]
    try:
        listeners = bind_listeners(addresses)
    except OSError as exc:
        log.error("%s", exc.strerror)
        return 1
    server_id = None if config.server_id == "disabled" else config.server_id
    engine = Engine(zonedb.snapshots(), broken=zonedb.broken(),
                    udp_truncation_threshold=config.udp_truncation_threshold,
                    version=version_text(config.version_string), server_id=server_id,
                    dname_processing=config.dname_processing, any_to_tcp=config.any_to_tcp)
    limits = TcpLimits(max_connections=config.max_tcp_connections,
                       idle_timeout=float(config.tcp_idle_timeout),
                       max_duration=float(config.max_tcp_connection_duration),
                       max_transactions=config.max_tcp_transactions_per_conn,
                       max_per_client=config.max_tcp_connections_per_client)
    worker = Worker(engine, listeners, limits)
    check_interval = refresh_interval(zonedb.backends)

    async def run() -> int:
        loop = asyncio.get_running_loop()
        stopping = loop.create_future()

        def reload(periodic: bool = False) -> None:
            result = zonedb.refresh(retry_failed=not periodic)
            if result.changed:
                worker.set_zones(zonedb.snapshots(), zonedb.broken())
            if periodic and not result.changed:
                return   # a check that found nothing to do is not an event
            log.info("reload: %d zones loaded, %d removed, %d failed; serving %d zones",
                     len(result.loaded), len(result.removed), len(result.failed),
                     len(zonedb.zones))

        def stop(graceful: bool) -> None:
            if not stopping.done():
                stopping.set_result(graceful)

        loop.add_signal_handler(signal.SIGHUP, reload)
        loop.add_signal_handler(signal.SIGTERM, stop, True)
        loop.add_signal_handler(signal.SIGINT, stop, True)
        loop.add_signal_handler(signal.SIGQUIT, stop, False)
        await worker.start()
        log.warning("fastdns %s serving %d zones on %s", __version__, len(zonedb.zones),
                    ", ".join(str(listener) for listener in listeners))
        timer = None
        if check_interval:
            def periodic() -> None:
                nonlocal timer
                reload(periodic=True)
                timer = loop.call_later(check_interval, periodic)
            timer = loop.call_later(check_interval, periodic)
        graceful = await stopping
        if timer is not None:
            timer.cancel()
        log.warning("stopping (%s)", "graceful" if graceful else "immediate")
        await worker.stop(graceful)
        return 0

    return uvloop.run(run())


if __name__ == "__main__":
    sys.exit(main())

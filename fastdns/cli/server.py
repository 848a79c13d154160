"""``fastdns``: start the server (``pdns_server``'s command line)."""

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


def serve(config) -> int:
    """Run the server: the master binds, forks the manager and the workers, supervises."""
    from fastdns.server.master import serve as run_master

    return run_master(config)


if __name__ == "__main__":
    sys.exit(main())

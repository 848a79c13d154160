"""``fastdns-util``: zone and database management, with ``pdnsutil``'s commands and options.

    fastdns-util [--config-dir=DIR] [--config-name=NAME] [-v] [--force] COMMAND [ARG ...]
    fastdns-util zone2sql (--gsqlite|--gpgsql|--gmysql) (--zone=FILE | --named-conf=FILE)

Commands take pdnsutil 4.7's flat names and arguments (``create-zone``, ``load-zone``,
``list-zone``...), with 4.7's ``supermaster`` spellings and 5.x's two-word names
(``zone create``, ``rrset add``, ``metadata get``, ``autoprimary list``...) as aliases.  The
configuration is read as the server reads it (``fastdns.conf`` or ``pdns.conf``, ``launch=``
and the backends' settings); ``--SETTING=VALUE`` overrides the file, as for the server.

Output and exit codes are pdnsutil's where a script would notice; a bad call prints
``Syntax: fastdns-util ...`` and exits 1 (pdnsutil: often 0).  See docs/util.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fastdns import __version__

USAGE = """\
usage: fastdns-util [OPTIONS] COMMAND [ARG ...]

options (pdnsutil's):
  --config-dir=DIR     directory of fastdns.conf or pdns.conf (as the server reads it)
  --config-name=NAME   virtual configuration NAME (fastdns-NAME.conf or pdns-NAME.conf)
  --SETTING=VALUE      override a setting of the configuration file (launch=, gsqlite3-...)
  -v, --verbose        be verbose
  --force              force an action
  -h, --help           this text
  --version            show the version

commands:
"""


class _Args:
    def __init__(self) -> None:
        self.loader: list[str] = []
        self.words: list[str] = []
        self.verbose = False
        self.force = False
        self.help = False
        self.version = False


_GLOBAL_VALUED = ("--config-dir", "--config-name")


def parse_arguments(argv: Sequence[str]) -> _Args:
    """Options anywhere (as pdnsutil's), ``--`` ends them; the rest is the command.  After
    ``zone2sql`` every word is zone2sql's own."""
    parsed = _Args()
    items = list(argv)
    i = 0
    literal = False
    while i < len(items):
        arg = items[i]
        i += 1
        if parsed.words and parsed.words[0] == "zone2sql":
            parsed.words.append(arg)
            continue
        if literal or not arg.startswith("-") or arg == "-":
            parsed.words.append(arg)
            continue
        if arg == "--":
            literal = True
        elif arg in ("-v", "--verbose"):
            parsed.verbose = True
        elif arg == "--force":
            parsed.force = True
        elif arg in ("-h", "--help"):
            parsed.help = True
        elif arg == "--version":
            parsed.version = True
        elif arg in _GLOBAL_VALUED and i < len(items):
            parsed.loader.append(f"{arg}={items[i]}")
            i += 1
        elif arg.startswith("--"):
            parsed.loader.append(arg)
        else:
            parsed.words.append(arg)
    return parsed


def _help() -> str:
    from fastdns.tools.utilcore import COMMANDS

    lines = [USAGE]
    for cmd in COMMANDS.values():
        lines.append(f"  {cmd.usage}\n      {cmd.help}\n")
    lines.append("  zone2sql (--gsqlite|--gpgsql|--gmysql) (--zone=FILE|--named-conf=FILE)\n"
                 "      Print the SQL that loads zone files (as PowerDNS's zone2sql)\n")
    lines.append("\n5.x-style aliases: zone create|create-secondary|delete|list|list-all|load|"
                 "edit|check|check-all|rectify|rectify-all|increase-serial|set-kind|"
                 "set-account, rrset add|replace|delete, metadata add|set|get, autoprimary "
                 "add|list|remove, backend migrate|test-schema|bench-db\n")
    return "".join(lines)


def _load_commands() -> None:
    # each module registers its commands when imported
    from fastdns.tools import (  # noqa: F401
        admincmds,
        catalogcmds,
        checkcmds,
        keycmds,
        tsigcmds,
        zonecmds,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    if args.words and args.words[0] == "zone2sql":
        from fastdns.tools.zone2sql import run
        return run(args.words[1:], version=__version__)
    _load_commands()
    if args.help:
        sys.stdout.write(_help())
        return 0
    if args.version:
        print(f"fastdns-util {__version__}")
        return 0
    if not args.words:
        sys.stderr.write("fastdns-util: no command given\n" + USAGE.split("\n\n")[0] + "\n"
                         "(fastdns-util --help lists the commands)\n")
        return 1
    return _run(args)


def _run(args: _Args) -> int:
    from fastdns.config.loader import ConfigError, load_config, parse_command_line
    from fastdns.tools.utilcore import ALIASES, COMMANDS, Context, Failure, UsageError
    from fastdns.zone.source import BackendError

    words = args.words
    name = words[0]
    if len(words) > 1 and f"{words[0]} {words[1]}" in ALIASES:
        name, words = ALIASES[f"{words[0]} {words[1]}"], words[1:]
    name = ALIASES.get(name, name)
    cmd = COMMANDS.get(name)
    if cmd is None:
        sys.stderr.write(f"Unknown command '{words[0]}'\n"
                         "usage: fastdns-util [OPTIONS] COMMAND [ARG ...] "
                         "(fastdns-util --help lists the commands)\n")
        return 1
    try:
        config = load_config(parse_command_line(args.loader))
    except ConfigError as exc:
        sys.stderr.write(f"fastdns-util: {exc}\n")
        return 1
    ctx = Context(config, verbose=args.verbose, force=args.force)
    try:
        return cmd.run(ctx, words[1:])
    except UsageError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Syntax: fastdns-util {exc or cmd.usage}\n")
        return 1
    except Failure as exc:
        sys.stdout.flush()
        stream = sys.stdout if exc.stream == "out" else sys.stderr
        stream.write(f"{exc}\n")
        return exc.code
    except BackendError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nInterrupted\n")
        return 130
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())

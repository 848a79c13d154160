"""``fastdns-control``: send a control command to a running server (``pdns_control``'s CLI).

It finds the server's socket as ``pdns_control`` does: ``--socket-dir``, else ``socket-dir``
from the configuration the server reads (``fastdns.conf`` or ``pdns.conf`` in ``--config-dir``,
resolved by :mod:`fastdns.config.loader` exactly as the server resolves it), and talks TCP
instead when ``--remote-address`` is given.  It works against ``pdns_server`` too.

Output and exit codes are ``pdns_control``'s: the reply and a newline on stdout, exit 0; a
reply starting with ``Unknown`` on stderr, exit 1; ``Fatal error: ...`` on stderr, exit 1, when
the server cannot be reached; ``Timeout error: ...``, exit 2; a ``--remote-port`` that is not a
port, exit 99.  Differences, on purpose (docs/control.md): an unknown option or a missing
command is a usage error (exit 1), and a TCP refusal (``Wrong password``, ``Access denied``)
exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

USAGE = """\
usage: fastdns-control [OPTIONS] COMMAND [ARGUMENT ...]

options (pdns_control's):
  --config-dir=DIR        directory of fastdns.conf or pdns.conf (as the server reads it)
  --config-name=NAME      virtual configuration NAME (socket pdns-NAME.controlsocket)
  --no-config             read no configuration file
  --socket-dir=DIR        directory of the control socket (default: socket-dir from the file)
  --remote-address=IP     send the command over TCP to this address instead
  --remote-port=PORT      TCP port (default 53000)
  --secret=SECRET         the server's tcp-control-secret
  --timeout=SECONDS       how long to wait for the server (default 7)
  --help                  this text

commands (`fastdns-control help` asks the server for its list):
  rping | uptime | version | show <statistic>|*|<prefix>* | ccounts | purge [<name>[$] ...]
  reload | rediscover | list-zones [primary|secondary|native] | current-config [diff]
  set <var> <value> | respsizes | qtypes | remotes | quit
  notify <zone>|* | notify-host <zone> <ip> | retrieve <zone> [<ip>]
"""

#: ``pdns_control``'s receive timeout, in seconds.
DEFAULT_TIMEOUT = 7.0
_VALUED = ("config-dir", "config-name", "socket-dir", "remote-address", "remote-port", "secret",
           "timeout", "chroot", "ignore-unknown-settings")
_SWITCHES = ("help", "no-config")
#: Replies of a server that refused a TCP client (pdns_control exits 0 on them; we exit 1).
_REFUSALS = ("Wrong password", "Access denied to ")


class UsageError(Exception):
    """A bad call: the message and the usage, exit 1."""


class ConfigProblem(Exception):
    """The configuration does not load (and no --socket-dir says where to go): exit 1."""


@dataclass
class Arguments:
    options: dict[str, str] = field(default_factory=dict)
    switches: set[str] = field(default_factory=set)
    words: list[str] = field(default_factory=list)


def parse_arguments(argv: Sequence[str]) -> Arguments:
    """``--name=value`` and ``--switch`` anywhere, as pdns_control; other words are the command."""
    parsed = Arguments()
    for arg in argv:
        if not arg.startswith("--") or arg == "--":
            parsed.words.append(arg)
            continue
        name, eq, value = arg[2:].partition("=")
        if name in _VALUED and eq:
            parsed.options[name] = value
        elif name in _SWITCHES and (not eq or value in ("", "yes", "true", "1")):
            parsed.switches.add(name)
        elif name in _SWITCHES and value in ("no", "false", "0"):
            parsed.switches.discard(name)
        elif name in _VALUED:
            raise UsageError(f"option '--{name}' needs a value: --{name}=VALUE")
        else:
            raise UsageError(f"unknown option '{arg}'")
    return parsed


def socket_path(args: Arguments) -> str:
    """The Unix socket to talk to; raises ConfigProblem for a configuration that does not load
    when ``--socket-dir`` is not given either."""
    from fastdns.config.loader import ConfigError, load_config, parse_command_line
    from fastdns.control.protocol import control_socket_path

    loader_argv = [f"--{name}={args.options[name]}" for name in
                   ("config-dir", "config-name", "ignore-unknown-settings") if name in args.options]
    if "no-config" in args.switches:
        loader_argv.append("--no-config")
    config_name = args.options.get("config-name", "")
    try:
        config = load_config(parse_command_line(loader_argv))
    except ConfigError as err:
        if "socket-dir" not in args.options:
            raise ConfigProblem(f"{err} (or give --socket-dir=DIR)") from None
        return control_socket_path(args.options["socket-dir"], config_name)
    socket_dir = args.options.get("socket-dir", config.text("socket-dir"))
    return control_socket_path(socket_dir, config.text("config-name"))


def _timeout(args: Arguments) -> float:
    text = args.options.get("timeout")
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise UsageError(f"bad value for '--timeout': '{text}' (seconds, more than 0)")
    return value


def _write(stream, text: str) -> None:
    stream.flush()
    stream.buffer.write(text.encode("utf-8", "surrogateescape") + b"\n")
    stream.buffer.flush()


def main(argv: Sequence[str] | None = None) -> int:
    from fastdns.control.protocol import ControlError, ControlTimeout, send_command

    try:
        args = parse_arguments(sys.argv[1:] if argv is None else argv)
        if "help" in args.switches:
            print(USAGE, end="")
            return 0
        if not args.words:
            raise UsageError("No command passed")
        timeout = _timeout(args)
        remote = args.options.get("remote-address", "")
        if not remote:
            unix_path: str | None = socket_path(args)
            tcp = None
        else:
            port_text = args.options.get("remote-port", "53000")
            if not port_text.isdigit() or int(port_text) > 65535:
                print(f"Unable to convert '{port_text}' to a port number for connecting to "
                      "remote PowerDNS", file=sys.stderr)
                return 99
            unix_path, tcp = None, (remote, int(port_text))
    except UsageError as err:
        print(f"fastdns-control: {err}\n{USAGE}", end="", file=sys.stderr)
        return 1
    except ConfigProblem as err:
        print(f"fastdns-control: {err}", file=sys.stderr)
        return 1
    try:
        reply = send_command(args.words, unix_path=unix_path, tcp=tcp,
                             secret=args.options.get("secret", ""), timeout=timeout)
    except ControlTimeout as err:
        print(f"Timeout error: {err}", file=sys.stderr)
        return err.exit_code
    except ControlError as err:
        print(f"Fatal error: {err}", file=sys.stderr)
        return err.exit_code
    if not reply.ok or (tcp is not None and reply.text.startswith(_REFUSALS)):
        _write(sys.stderr, reply.text)
        return 1
    _write(sys.stdout, reply.text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

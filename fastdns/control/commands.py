"""The control commands: one table row each, in PowerDNS 4.7's spelling and with its replies.

The master supplies numbers and names through a :class:`ControlContext`; every reply text is
made here, byte for byte as ``pdns_server`` 4.7.3 makes it (each was observed on it), so that
scripts written against ``pdns_control`` read fastdns's replies unchanged:

========================  ====================================================================
``rping``                 ``PONG``
``uptime``                ``42 seconds``, ``1.5 minutes``, ``2.25 hours``, ``3.5 days``,
                          ``1.2 months`` (PowerDNS's humanDuration)
``version``               the version text, as is
``show NAME``             the value; ``Unknown`` (a failure) for a name that does not exist
``show *``, ``show P*``   ``name=value,`` for every statistic (starting with P), trailing comma
``ccounts``               ``negative queries: N, queries: Q`` + ``packets: P`` (PowerDNS prints
                          no separator before ``packets``)
``purge [NAME[$] ...]``   the number of cache entries removed
``reload``                ``Ok``
``rediscover``            ``Ok`` and the backends' status text
``list-zones [KIND]``     one zone per line, then ``Master zonecount: 1`` (``All``, ``Slave``,
                          ``Native``, ``Producer``, ``Consumer``)
``current-config [diff]`` the configuration, as ``--config[=diff]`` prints it
``set VAR VALUE``         ``done``, or why not
``respsizes``             ``BUCKET\\tCOUNT`` lines for the non-empty size buckets
``qtypes``                ``TYPE\\tCOUNT`` lines, by type number
``remotes``               ``ADDRESS\\tCOUNT`` lines, most first
``quit``                  ``Exiting`` (the master stops shortly after)
``help``                  the command list, ``%-32s %s`` lines sorted
========================  ====================================================================

A wrong number of arguments gets the command's own message (``Wrong number of parameters``,
``Syntax: set variable value``, ``Syntax: current-config [diff]``); other commands ignore
extra arguments, as PowerDNS's do.  A command not in the table gets
``Unknown command: 'NAME'`` (upper-cased), which ``pdns_control`` reports as a failure.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fastdns.control.protocol import Handler, Reply
from fastdns.stats import OWN_STATISTICS

__all__ = [
    "COMMANDS",
    "SET_REFUSED",
    "Command",
    "ControlContext",
    "dispatch",
    "help_text",
    "human_duration",
    "make_handler",
    "qtype_text",
    "respsize_bucket",
]

log = logging.getLogger("fastdns.control")

#: ``set``'s reply for a setting that cannot be changed at runtime (PowerDNS's words).
SET_REFUSED = "This setting cannot be changed at runtime, or no such setting"


class ControlContext(Protocol):
    """What the commands need from the running server (the master implements it).

    Synchronous methods must not block: they read counters and state the master holds.
    """

    def uptime(self) -> float:
        """Seconds since the server started."""
        ...

    async def ping(self) -> None:
        """Return once the processes behind the control socket answer (``rping``)."""
        ...

    def loading(self) -> tuple[int, int] | None:
        """(zones in, zones listed) while zones are still being loaded; None once every
        zone is in."""
        ...

    def version(self) -> str:
        """The text ``version`` replies with."""
        ...

    def statistics(self) -> dict[str, int]:
        """Every statistic by PowerDNS metric name, in the order ``show *`` lists them."""
        ...

    def cache_counts(self) -> dict[str, int]:
        """Entries in the caches: keys ``packetcache``, ``negcache``, ``querycache``."""
        ...

    async def purge(self, pattern: str | None) -> int:
        """Remove cache entries; the number removed, summed over workers.

        None: everything.  ``name``: entries for exactly that name (case-insensitive).
        ``name$``: that name and every name below it.  The pattern is passed as typed.
        """
        ...

    async def reload(self) -> None:
        """Re-read every zone from its backend (``reload`` replies ``Ok`` when it returns)."""
        ...

    async def rediscover(self) -> str:
        """Look for new and removed zones; the backends' status text without ``Ok``, e.g.
        ``Done parsing domains, 0 rejected, 1 new, 0 removed`` (the reply is ``Ok`` + space +
        this, or ``Ok`` alone for an empty text)."""
        ...

    def list_zones(self, kind: str | None) -> list[str]:
        """Zone names with a trailing dot, in the backends' order.

        ``kind``: None for all, else ``primary``, ``secondary``, ``native``, ``producer``
        or ``consumer`` (catalog zones).
        """
        ...

    def current_config(self, diff: bool) -> str:
        """The running configuration as ``--config`` (``--config=diff``) prints it."""
        ...

    def set_setting(self, name: str, value: str) -> str:
        """Change a setting at runtime; the reply text (PowerDNS: ``done``).

        Raises ValueError with the reply text for a refusal (PowerDNS: :data:`SET_REFUSED`
        for every setting other than ``query-logging``).
        """
        ...

    def response_sizes(self) -> dict[int, int]:
        """Response size in bytes (or a PowerDNS bucket bound) → responses; bucketed here."""
        ...

    def query_types(self) -> dict[int, int]:
        """Qtype number → queries."""
        ...

    def remotes(self) -> list[tuple[str, int]]:
        """(address, queries) of the busiest clients, busiest first."""
        ...

    async def manager_command(self, words: list[str]) -> str:
        """Run ``words`` in the manager (``notify``, ``notify-host``, ``retrieve``): its
        reply."""
        ...

    def quit(self) -> None:
        """Schedule a stop; must return at once (the ``Exiting`` reply is sent afterwards)."""
        ...


# --------------------------------------------------------------------------------------------
# Formatting


def human_duration(seconds: float) -> str:
    """PowerDNS's humanDuration: whole seconds below a minute, else 2-3 significant digits."""
    passed = int(seconds)
    if passed < 60:
        return f"{passed} seconds"
    if passed < 3600:
        return f"{passed / 60.0:.2g} minutes"
    if passed < 86400:
        return f"{passed / 3600.0:.3g} hours"
    if passed < 86400 * 30.41:
        return f"{passed / 86400.0:.3g} days"
    return f"{passed / (86400 * 30.41):.3g} months"


#: PowerDNS's response-size buckets: a response counts in the first bound not below its size.
RESPSIZE_BOUNDS: tuple[int, ...] = (20, 40, 60, 80, 100, 150, *range(200, 65000, 200), 65535)


def respsize_bucket(size: int) -> int:
    """The bucket (its upper bound) a response of ``size`` bytes counts in; a bound maps to
    itself, so sizes and already-bucketed counts can be mixed."""
    index = bisect.bisect_left(RESPSIZE_BOUNDS, size)
    return RESPSIZE_BOUNDS[min(index, len(RESPSIZE_BOUNDS) - 1)]


#: Qtype numbers ``qtypes`` shows by name in PowerDNS 4.7.3 (its record types), with those
#: names; any other number is ``TYPEn`` there, even where dnspython has a name (TSIG, SIG...).
_PDNS_QTYPE_NAMES = {
    0: "ENT", 1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 12: "PTR",
    13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 25: "KEY",
    28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT", 39: "DNAME",
    41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA",
    57: "RKEY", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
    64: "SVCB", 65: "HTTPS", 99: "SPF", 104: "NID", 105: "L32", 106: "L64", 107: "LP",
    108: "EUI48", 109: "EUI64", 251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA",
    32769: "DLV", 65401: "ALIAS", 65402: "LUA",
}


def qtype_text(qtype: int) -> str:
    """A qtype's mnemonic as PowerDNS 4.7.3's ``qtypes`` shows it."""
    return _PDNS_QTYPE_NAMES.get(qtype) or f"TYPE{qtype}"


def _lines(rows: Sequence[tuple[object, int]]) -> str:
    return "".join(f"{key}\t{count}\n" for key, count in rows)


def _statistics_list(stats: Mapping[str, int], prefix: str) -> str:
    """PowerDNS's metrics whose names start with ``prefix`` (fastdns's own are asked for by
    name)."""
    return "".join(f"{name}={value}," for name, value in stats.items()
                   if name.startswith(prefix) and name not in OWN_STATISTICS
                   and not name.startswith("signer-"))


#: ``list-zones`` argument (lower-cased) → (kind passed to the context, name in the reply).
_ZONE_KINDS = {
    "primary": ("primary", "Master"), "master": ("primary", "Master"),
    "secondary": ("secondary", "Slave"), "slave": ("secondary", "Slave"),
    "producer": ("producer", "Producer"), "consumer": ("consumer", "Consumer"),
}
_NATIVE = ("native", "Native")  # PowerDNS reads any other word as native, "all" included


# --------------------------------------------------------------------------------------------
# The commands; each gets the context and the arguments after the command word.


async def _rping(ctx: ControlContext, args: list[str]) -> str:
    await ctx.ping()
    loading = ctx.loading()
    if loading is not None:
        # serving, but not every zone yet: a readiness check that waits for PONG waits on
        return f"LOADING {loading[0]} of {loading[1]} zones"
    return "PONG"


async def _uptime(ctx: ControlContext, args: list[str]) -> str:
    return human_duration(ctx.uptime())


async def _version(ctx: ControlContext, args: list[str]) -> str:
    return ctx.version()


async def _show(ctx: ControlContext, args: list[str]) -> str:
    name = args[0]
    stats = ctx.statistics()
    if name.endswith("*"):
        return _statistics_list(stats, name[:-1])
    if name not in stats:
        return "Unknown"
    return str(stats[name])


async def _ccounts(ctx: ControlContext, args: list[str]) -> str:
    counts = ctx.cache_counts()
    return (f"negative queries: {counts.get('negcache', 0)}, "
            f"queries: {counts.get('querycache', 0)}"
            f"packets: {counts.get('packetcache', 0)}")


async def _purge(ctx: ControlContext, args: list[str]) -> str:
    if not args:
        log.warning("Cache clear request received from operator")
        return str(await ctx.purge(None))
    total = 0
    for pattern in args:
        log.warning("Cache clear request for '%s' received from operator", pattern)
        total += await ctx.purge(pattern)
    return str(total)


async def _reload(ctx: ControlContext, args: list[str]) -> str:
    log.warning("Reload was requested")
    await ctx.reload()
    return "Ok"


async def _rediscover(ctx: ControlContext, args: list[str]) -> str:
    log.warning("Rediscovery was requested")
    status = await ctx.rediscover()
    return f"Ok {status}" if status else "Ok"


async def _in_manager(ctx: ControlContext, args: list[str], word: str) -> str:
    return await ctx.manager_command([word, *args])


async def _notify(ctx: ControlContext, args: list[str]) -> str:
    return await _in_manager(ctx, args, "notify")


async def _notify_host(ctx: ControlContext, args: list[str]) -> str:
    return await _in_manager(ctx, args, "notify-host")


async def _retrieve(ctx: ControlContext, args: list[str]) -> str:
    return await _in_manager(ctx, args, "retrieve")


async def _list_zones(ctx: ControlContext, args: list[str]) -> str:
    kind, title = (None, "All") if not args else _ZONE_KINDS.get(args[0].lower(), _NATIVE)
    zones = ctx.list_zones(kind)
    return "".join(f"{zone}\n" for zone in zones) + f"{title} zonecount: {len(zones)}"


async def _current_config(ctx: ControlContext, args: list[str]) -> str:
    if args and args != ["diff"]:
        return "Syntax: current-config [diff]"
    return ctx.current_config(bool(args))


async def _set(ctx: ControlContext, args: list[str]) -> str:
    name, value = args
    try:
        reply = ctx.set_setting(name, value)
    except ValueError as err:
        return str(err) or SET_REFUSED
    log.warning("Configuration change for setting '%s' to value '%s' received from operator",
                name, value)
    return reply or "done"


async def _respsizes(ctx: ControlContext, args: list[str]) -> str:
    buckets: dict[int, int] = {}
    for size, count in ctx.response_sizes().items():
        bucket = respsize_bucket(size)
        buckets[bucket] = buckets.get(bucket, 0) + count
    return _lines(sorted((b, n) for b, n in buckets.items() if n))


async def _qtypes(ctx: ControlContext, args: list[str]) -> str:
    counts = ctx.query_types()
    return _lines([(qtype_text(qtype), counts[qtype]) for qtype in sorted(counts)
                   if counts[qtype]])


async def _remotes(ctx: ControlContext, args: list[str]) -> str:
    return _lines(ctx.remotes())


async def _quit(ctx: ControlContext, args: list[str]) -> str:
    log.warning("Scheduling exit on remote request")
    ctx.quit()
    return "Exiting"


async def _help(ctx: ControlContext, args: list[str]) -> str:
    return help_text()


# --------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True, slots=True)
class Command:
    """One control command."""

    #: the command word, lower case (the server matches it case-insensitively)
    name: str
    #: the arguments as ``help`` shows them (``[<record>]``)
    args: str
    #: what it does, as ``help`` shows it
    usage: str
    run: Callable[[ControlContext, list[str]], Awaitable[str]]
    min_args: int = 0
    #: None: any number (extra arguments are ignored, as in PowerDNS)
    max_args: int | None = None
    #: the reply when the number of arguments is outside min_args..max_args
    syntax: str = ""
    #: False: not in ``help``'s list (``help`` itself, as in PowerDNS)
    listed: bool = True


_PARAMETERS = "Wrong number of parameters"

# fmt: off
COMMANDS: dict[str, Command] = {command.name: command for command in (
    Command("ccounts", "", "get cache statistics", _ccounts),
    Command("current-config", "[diff]", "retrieve the current configuration", _current_config,
            max_args=1, syntax="Syntax: current-config [diff]"),
    Command("help", "", "list the commands", _help, listed=False),
    Command("list-zones", "[primary|secondary|native|consumer|producer]", "show list of zones",
            _list_zones),
    Command("notify", "<zone>", "queue a notification", _notify,
            min_args=1, max_args=1, syntax="syntax: notify zone"),
    Command("notify-host", "<zone> <host>", "notify host for specific zone", _notify_host,
            min_args=2, max_args=2, syntax="syntax: notify-host zone ip"),
    Command("purge", "[<record>]", "purge entries from packet cache", _purge),
    Command("qtypes", "", "get QType statistics", _qtypes),
    Command("quit", "", "quit daemon", _quit),
    Command("rediscover", "", "discover any new zones", _rediscover),
    Command("reload", "", "reload all zones", _reload),
    Command("remotes", "", "get top remotes", _remotes),
    Command("respsizes", "", "get histogram of response sizes", _respsizes),
    Command("retrieve", "<zone> [<ip>]", "retrieve slave zone", _retrieve,
            min_args=1, max_args=2, syntax="syntax: retrieve zone [ip]"),
    Command("rping", "", "ping instance", _rping),
    Command("set", "<var> <value>", "set config variables", _set,
            min_args=2, max_args=2, syntax="Syntax: set variable value"),
    Command("show", "<statistic>", "show a specific statistic or * to get a list", _show,
            min_args=1, max_args=1, syntax=_PARAMETERS),
    Command("uptime", "", "get instance uptime", _uptime),
    Command("version", "", "get instance version", _version),
)}
# fmt: on
_BY_WORD = {name.upper(): command for name, command in COMMANDS.items()}


def help_text(commands: Mapping[str, Command] = COMMANDS) -> str:
    """``help``'s reply: ``name args`` padded to 32 columns, a space, the usage; sorted."""
    lines = sorted(f"{c.name + ' ' + c.args:<32} {c.usage}"
                   for c in commands.values() if c.listed)
    return "\n".join(lines)


def _ascii_upper(word: str) -> str:
    return "".join(ch.upper() if "a" <= ch <= "z" else ch for ch in word)


async def dispatch(ctx: ControlContext, words: list[str]) -> Reply:
    """Run the command ``words`` (the command word first) and return its reply."""
    if not words:
        return Reply("Empty line")
    word = _ascii_upper(words[0])  # PowerDNS upper-cases ASCII letters only
    command = _BY_WORD.get(word)
    if command is None:
        return Reply(f"Unknown command: '{word}'")
    args = words[1:]
    if len(args) < command.min_args or (
            command.max_args is not None and len(args) > command.max_args):
        return Reply(command.syntax)
    try:
        return Reply(await command.run(ctx, args))
    except Exception as err:  # one failing command must not take the control socket down
        log.exception("control command '%s' failed", " ".join(words))
        return Reply(f"Error: {err}")


def make_handler(ctx: ControlContext) -> Handler:
    """The ``handler`` for :func:`fastdns.control.protocol.start_control_server`."""

    async def handler(words: list[str]) -> Reply:
        return await dispatch(ctx, words)

    return handler

"""Configuration that lives: what HUP and ``set`` change in a running server.

HUP reads the configuration files (and the command line the server started with) again.
Settings marked ``reloadable`` in the settings table take their new value: the master sends
the workers and the manager what they act on (``Configure``). Any other setting that changed
keeps its old value and is logged as needing a restart; ``current-config`` shows the values
in force, so it never claims a change that has not happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastdns.log import log
from fastdns.server.options import RELOADABLE, worker_options

if TYPE_CHECKING:
    from fastdns.config.loader import Config
    from fastdns.server.master import Master


@dataclass(frozen=True, slots=True)
class Changes:
    reloadable: tuple[str, ...]     # take effect now
    restart: tuple[str, ...]        # take effect at the next start


def reread(config: Config) -> Config | None:
    """The configuration read again as the server first read it; None (and a log line
    naming file:line and what is wrong) when it cannot be read, and the old one stays."""
    from fastdns.config.loader import ConfigError, load_config

    if config.command_line is None:
        return None
    try:
        return load_config(config.command_line)
    except ConfigError as exc:
        log.error("configuration not reloaded: %s", exc)
        return None


def diff(old: Config, new: Config) -> Changes:
    names = [n for n in new.names() if n in old and old.text(n) != new.text(n)]
    names += [n for n in old.names() if n not in new]
    reloadable = tuple(n for n in names if n in new and new.setting(n).reloadable)
    return Changes(reloadable, tuple(n for n in names if n not in reloadable))


def merge(old: Config, new: Config, names: tuple[str, ...]) -> Config:
    """``old`` with the values of ``names`` taken from ``new``."""
    for name in names:
        old = old.with_value(name, new.text(name), new.source(name))
    return old


def worker_fields(master: Master, names: tuple[str, ...]) -> dict[str, Any]:
    """What the workers are to change: WorkerOptions fields (and the log level)."""
    options = worker_options(master.config, master.num_workers)
    master.options = options
    fields: dict[str, Any] = {RELOADABLE[n]: getattr(options, RELOADABLE[n])
                              for n in names if n in RELOADABLE}
    if "loglevel" in names:
        fields["loglevel"] = master.config.loglevel
    return fields


def manager_fields(config: Config, names: tuple[str, ...]) -> dict[str, Any]:
    """What the manager is to change: the log level, the backends' check intervals."""
    from fastdns.backends.registry import check_intervals

    return {"loglevel": config.loglevel, "intervals": check_intervals(config)}


def name_wire(text: str) -> bytes:
    """A domain name in presentation form (``\\.`` and ``\\DDD`` escapes) in wire form;
    ValueError when it is not a valid name. (The master does not import dnspython: every
    worker it forks would carry it.)"""
    labels: list[bytes] = []
    label = bytearray()
    i = 0
    raw = text.encode("utf-8", "surrogateescape")
    if raw in (b".", b""):
        return b"\0"
    while i < len(raw):
        ch = raw[i]
        if ch == 0x5C:                                    # backslash
            if raw[i + 1:i + 4].isdigit() and len(raw[i + 1:i + 4]) == 3:
                value = int(raw[i + 1:i + 4])
                if value > 255:
                    raise ValueError(f"bad escape in '{text}'")
                label.append(value)
                i += 4
                continue
            if i + 1 >= len(raw):
                raise ValueError(f"'{text}' ends in a backslash")
            label.append(raw[i + 1])
            i += 2
            continue
        if ch == 0x2E:                                    # dot
            if not label:
                raise ValueError(f"empty label in '{text}'")
            labels.append(bytes(label))
            label = bytearray()
        else:
            label.append(ch)
        i += 1
    if label:
        labels.append(bytes(label))
    if any(len(x) > 63 for x in labels):
        raise ValueError(f"a label of '{text}' is longer than 63 octets")
    wire = b"".join(bytes((len(x),)) + x for x in labels) + b"\0"
    if len(wire) > 255:
        raise ValueError(f"'{text}' is longer than 255 octets")
    return wire

"""What every ``fastdns-util`` command stands on: the configuration, the launched backends,
zone lookup across them, errors and progress.

Backends are opened from ``launch=`` exactly as the server opens them (the same settings,
``fastdns.conf`` or ``pdns.conf`` from ``--config-dir``): the SQL backends read and write;
``bind`` is a read-only source (PowerDNS's bind backend cannot store new zones either).  For
each zone the first backend in ``launch=`` order that has it is the one a command works on.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from fastdns.backends.bind import BindBackend
from fastdns.backends.gsql import GSQLBackend, open_backend
from fastdns.config.loader import Config
from fastdns.zone.records import check_name
from fastdns.zone.source import BackendError, ZoneInfo


class UsageError(Exception):
    """A bad call of a command: ``Syntax: fastdns-util <usage>``, exit 1."""


class Failure(Exception):
    """A command that failed: its message (already in PowerDNS's words) and exit code."""

    def __init__(self, message: str, code: int = 1, stream: str = "err") -> None:
        super().__init__(message)
        self.code = code
        self.stream = stream


def zone_arg(text: str) -> str:
    """A zone name from the command line: lowercase, no trailing dot; Failure if malformed."""
    try:
        check_name(text)
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    if text in ("", "."):
        return "."
    return (text[:-1] if text.endswith(".") and not text.endswith("\\.") else text).lower()


def dotted(zone: str) -> str:
    """``example.com`` → ``example.com.`` (the form ZoneSources use)."""
    return "." if zone == "." else zone + "."


@dataclass
class Context:
    """One run of fastdns-util: the configuration, output streams and backends."""

    config: Config
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    verbose: bool = False
    force: bool = False
    _backends: list[tuple[str, Any]] | None = None

    # -- output --------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def warn(self, text: str) -> None:
        self.out.flush()
        self.err.write(text + "\n")

    # -- backends ------------------------------------------------------------------------

    @property
    def backends(self) -> list[tuple[str, Any]]:
        """(launch name, backend) in ``launch=`` order."""
        if self._backends is None:
            opened: list[tuple[str, Any]] = []
            for instance in self.config.instances:
                name = str(instance)
                if instance.backend in ("gsqlite3", "gpgsql", "gmysql"):
                    opened.append((name, open_backend(self.config, instance)))
                elif instance.backend == "bind":
                    path = self.config.backend(instance).get("config") or ""
                    if path:
                        opened.append((name, BindBackend(path, name=name)))
                else:
                    self.warn(f"backend '{name}' is not supported by fastdns-util; ignored")
            self._backends = opened
        return self._backends

    def backend(self, name: str) -> Any | None:
        """The launched backend called ``name`` (``gsqlite3``, ``gpgsql:second``)."""
        for launched, backend in self.backends:
            if launched == name:
                return backend
        return None

    def sql_backends(self) -> list[GSQLBackend]:
        return [b for _, b in self.backends if isinstance(b, GSQLBackend)]

    def zones(self) -> list[tuple[ZoneInfo, Any]]:
        """Every zone of every backend, the first backend winning, in listing order."""
        seen: set[str] = set()
        out: list[tuple[ZoneInfo, Any]] = []
        for _, backend in self.backends:
            for info in backend.list_zones():
                if info.name not in seen:
                    seen.add(info.name)
                    out.append((info, backend))
        return out

    def find(self, zone: str) -> Any | None:
        """The first backend that has ``zone`` (no trailing dot), or None."""
        for _, backend in self.backends:
            if isinstance(backend, GSQLBackend):
                if backend.zone_info(zone) is not None:
                    return backend
            elif dotted(zone) in {info.name for info in backend.list_zones()}:
                return backend
        return None

    def sql_zone(self, zone: str, missing: str, code: int = 1) -> GSQLBackend:
        """The SQL backend that has ``zone``; Failure(missing) if none, or if the zone
        lives in a read-only backend."""
        backend = self.find(zone)
        if backend is None:
            raise Failure(missing.format(zone=zone), code)
        if not isinstance(backend, GSQLBackend):
            raise Failure(f"Zone '{zone}' is in backend '{backend.name}', which "
                          "fastdns-util cannot change", code)
        return backend

    def close(self) -> None:
        for _, backend in self._backends or ():
            close = getattr(backend, "close", None)
            if close is not None:
                close()


@dataclass(frozen=True)
class Command:
    """One fastdns-util command: pdnsutil's flat name, its usage line and its aliases."""

    name: str
    usage: str
    help: str
    run: Callable[[Context, list[str]], int]
    aliases: tuple[str, ...] = ()
    #: opens no backend (zone2sql, create-bind-db)
    offline: bool = False


#: flat name -> Command, in the order of ``--help``
COMMANDS: dict[str, Command] = {}
#: alias (a 4.7 name or a 5.x two-word name joined by a space) -> flat name
ALIASES: dict[str, str] = {}


def command(name: str, usage: str, help: str, aliases: Sequence[str] = (),
            offline: bool = False) -> Callable[[Callable[[Context, list[str]], int]],
                                               Callable[[Context, list[str]], int]]:
    """Register a command handler ``run(ctx, args) -> exit code``."""
    def register(run: Callable[[Context, list[str]], int]
                 ) -> Callable[[Context, list[str]], int]:
        COMMANDS[name] = Command(name, usage, help, run, tuple(aliases), offline)
        for alias in aliases:
            ALIASES[alias] = name
        return run
    return register


def require(args: Sequence[str], low: int, high: int | None, usage: str) -> None:
    """UsageError unless ``low <= len(args) <= high`` (None: no upper bound)."""
    if len(args) < low or (high is not None and len(args) > high):
        raise UsageError(usage)


class Progress:
    """A one-line progress report on stderr, shown only when stderr is a terminal."""

    def __init__(self, stream: TextIO, label: str, total: int = 0) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.enabled = _isatty(stream)
        self.started = time.monotonic()
        self._shown = 0.0

    def update(self, count: int, done: int = 0) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.1:
            return
        self._shown = now
        rate = count / max(now - self.started, 1e-6)
        share = f" {min(100, 100 * done // self.total)}%" if self.total and done else ""
        self.stream.write(f"\r{self.label}:{share} {count:,} records ({rate:,.0f}/s)\x1b[K")
        self.stream.flush()

    def finish(self, count: int) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{self.label}: {count:,} records in {elapsed:.1f}s\x1b[K\n")
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = [
    "ALIASES",
    "COMMANDS",
    "BackendError",
    "Command",
    "Context",
    "Failure",
    "Progress",
    "UsageError",
    "command",
    "dotted",
    "require",
    "zone_arg",
]

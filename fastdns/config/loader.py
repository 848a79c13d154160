"""Reading the configuration: pdns.conf syntax, PowerDNS command-line conventions.

Where the configuration comes from
----------------------------------
The configuration directory is ``--config-dir`` when given (it must exist), else
``/etc/fastdns`` if that directory exists, else ``/etc/powerdns``, so that a host that runs
PowerDNS today works unchanged.  In it, fastdns reads ``fastdns.conf``, or ``pdns.conf`` when
there is no ``fastdns.conf``; with ``--config-name=NAME`` it reads ``fastdns-NAME.conf`` or
else ``pdns-NAME.conf``.  No file at all means defaults (with a warning), as in PowerDNS.

File syntax (as PowerDNS 4.7 reads it)
--------------------------------------
- ``key=value``; whitespace around the key, after ``=`` and at the end of the line is ignored.
- ``#`` starts a comment at the start of a line or after whitespace (``a=b#c`` keeps ``b#c``).
- a line ending in ``\\`` continues on the next line.
- ``key+=value`` appends to a list setting, with ``, ``; a list whose value is empty and that
  was never set with ``=`` has nothing to append to, which is an error (as in PowerDNS).
- a bare ``key`` is ``key=`` (for a yes/no setting, yes).
- a setting given twice: the last one wins.  Aliases (``master``/``primary``...) are one setting.
- ``include-dir=DIR`` in the main file (or on the command line): after the main file, every
  ``*.conf`` in DIR not starting with a dot is read, in case-insensitive name order.
- the command line (``--key=value``, ``--key+=value``, ``--key``) is applied last.

Which names are valid depends on ``launch=`` (``launch=gpgsql:second`` makes
``gpgsql-second-host`` valid), so assignments are collected first, ``launch`` is worked out,
and then every assignment is checked and applied in order.

Differences from PowerDNS, on purpose: relative paths resolve against the directory of the file
that sets them (PowerDNS: its working directory); yes/no values other than yes/no/on/off/
true/false/1/0 and numbers that are not plain decimals are errors (PowerDNS reads ``false`` as
yes and ``53x`` as 53); a PowerDNS setting fastdns does not implement, or a setting of a backend
that ``launch=`` does not start, is a warning (PowerDNS: an error for the latter).
"""

from __future__ import annotations

import datetime
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fastdns.config.attributes import SettingAttributes
from fastdns.config.settings import (
    ALIASES,
    BACKEND_SETTINGS,
    LIST_KINDS,
    PDNS_BACKEND_SUFFIXES,
    PDNS_BACKENDS,
    PDNS_SETTINGS,
    SETTINGS,
    BackendInstance,
    Kind,
    Setting,
    Value,
    parse_value,
    resolve_path,
    setting_name,
    split_list,
)

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_CONFIG_DIRS",
    "Assignment",
    "CommandLine",
    "Config",
    "ConfigError",
    "load_config",
    "parse_command_line",
    "read_config_file",
]

#: Where an assignment from ``argv`` comes from, in messages and :meth:`Config.source`.
COMMAND_LINE = "command line"
#: Tried in order when ``--config-dir`` is not given.
DEFAULT_CONFIG_DIRS: tuple[str, ...] = ("/etc/fastdns", "/etc/powerdns")
#: ``--config=MODE`` values; ``--config`` alone is ``full``.
CONFIG_MODES = ("full", "default", "diff", "check")


class ConfigError(Exception):
    """A configuration that fastdns refuses; ``str()`` is ``where: what is wrong``.

    ``where`` is ``file:line``, ``command line``, or a file name for whole-file problems.
    """

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``key=value`` (or ``key+=value``) as written, before it is checked."""

    key: str
    text: str
    append: bool
    where: str  # "file:line" or COMMAND_LINE
    base_dir: str  # relative PATH values resolve against this
    included: bool = False  # read from an include-dir file


@dataclass(frozen=True, slots=True)
class CommandLine:
    """What ``argv`` asked for.

    ``config_mode`` follows PowerDNS 4.7: ``--config`` (``full``) prints every setting with the
    ones that differ from their default uncommented; ``--config=default`` prints the defaults
    only; ``--config=diff`` prints only the settings that differ; ``--config=check`` prints
    nothing and exits 0 when the configuration loads (1 and the error otherwise).
    ``--config=no`` is the same as no ``--config``.
    """

    assignments: tuple[Assignment, ...] = ()
    config_mode: str | None = None
    help: bool = False
    version: bool = False
    no_config: bool = False  # --no-config: read no file, only the command line

    def last(self, key: str) -> Assignment | None:
        """The last ``--key=...`` given, or None."""
        for assignment in reversed(self.assignments):
            if assignment.key == key:
                return assignment
        return None


def _parse_switch(key: str, text: str | None) -> bool:
    if text is None or text in ("", "yes", "on", "true", "1"):
        return True
    if text in ("no", "off", "false", "0"):
        return False
    raise ConfigError(COMMAND_LINE, f"bad value for '{key}': '{text}' is not yes or no")


def parse_command_line(argv: Sequence[str], *, cwd: str | None = None) -> CommandLine:
    """Parse the arguments after the program name.

    ``--key=value`` and ``--key+=value`` set a setting (checked later, by :func:`load_config`,
    because which names are valid depends on ``launch``); ``--key`` alone is ``--key=``, which
    for a yes/no setting means yes.  PowerDNS has no ``--key value`` form, nor has fastdns.
    """
    base_dir = cwd if cwd is not None else os.getcwd()
    assignments: list[Assignment] = []
    mode: str | None = None
    flags = {"help": False, "version": False, "no-config": False}
    for arg in argv:
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(COMMAND_LINE, f"unexpected argument '{arg}' (expected --name=value)")
        key, eq, text = arg[2:].partition("=")
        append = bool(eq) and key.endswith("+")
        key = key.removesuffix("+") if append else key
        value = text.strip() if eq else None
        if not key or key != key.strip():
            raise ConfigError(COMMAND_LINE, f"bad argument '{arg}'")
        if key in ("help", "version"):
            if eq:
                raise ConfigError(COMMAND_LINE, f"'--{key}' takes no value")
            flags[key] = True
        elif key == "no-config":
            flags[key] = _parse_switch(key, value)
        elif key == "config" and not append:
            mode = _config_mode(value)
        else:
            assignments.append(Assignment(key, value or "", append, COMMAND_LINE, base_dir))
    return CommandLine(
        assignments=tuple(assignments),
        config_mode=mode,
        help=flags["help"],
        version=flags["version"],
        no_config=flags["no-config"],
    )


def _config_mode(value: str | None) -> str | None:
    if value is None or value in ("", "yes", "full"):
        return "full"
    if value in ("no", "off"):
        return None
    if value in CONFIG_MODES:
        return value
    raise ConfigError(
        COMMAND_LINE, f"bad value for 'config': '{value}' (expected default, diff or check)"
    )


# --------------------------------------------------------------------------------------------
# Reading files

_COMMENT = re.compile(r"(?:^|(?<=\s))#")


def read_config_file(path: str, *, included: bool = False) -> list[Assignment]:
    """The assignments of one pdns.conf-syntax file, in order; raises ConfigError."""
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as err:
        raise ConfigError(path, f"cannot read: {err.strerror}") from None
    base_dir = os.path.dirname(os.path.abspath(path))
    assignments: list[Assignment] = []
    pending = ""
    start = 1
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8").rstrip()
        except UnicodeDecodeError:
            raise ConfigError(f"{path}:{number}", "not valid UTF-8") from None
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        assignment = _parse_line(pending + line, f"{path}:{start}", base_dir, included)
        pending = ""
        if assignment is not None:
            assignments.append(assignment)
    if pending:  # a continuation on the last line
        assignment = _parse_line(pending, f"{path}:{start}", base_dir, included)
        if assignment is not None:
            assignments.append(assignment)
    return assignments


def _parse_line(line: str, where: str, base_dir: str, included: bool) -> Assignment | None:
    comment = _COMMENT.search(line)
    if comment is not None:
        line = line[: comment.start()]
    line = line.strip()
    if not line:
        return None
    key, eq, text = line.partition("=")
    append = bool(eq) and key.endswith("+")
    key = (key.removesuffix("+") if append else key).strip()
    if not key:
        raise ConfigError(where, f"no setting name in '{line}'")
    if re.search(r"\s", key):
        raise ConfigError(where, f"expected 'name=value', found '{line}'")
    return Assignment(key, text.strip(), append, where, base_dir, included)


def _find_main_file(config_dir: str, config_name: str) -> str | None:
    stems = ("fastdns", "pdns")
    suffix = f"-{config_name}.conf" if config_name else ".conf"
    for stem in stems:
        path = os.path.join(config_dir, stem + suffix)
        if os.path.exists(path):
            return path
    return None


def _gather_includes(directory: str, where: str) -> list[str]:
    try:
        names = os.listdir(directory)
    except OSError as err:
        message = f"include-dir '{directory}' cannot be read: {err.strerror}"
        raise ConfigError(where, message) from None
    paths = []
    for name in sorted(names, key=lambda name: (name.lower(), name)):
        if name.startswith(".") or not name.endswith(".conf"):
            continue
        path = os.path.join(directory, name)
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError:
            regular = False
        if not regular:
            raise ConfigError(where, f"'{path}' in include-dir is not a regular file")
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# Checking and applying assignments


@dataclass(frozen=True, slots=True)
class _Ignored:
    """A name that is accepted but not acted on; ``reason`` goes into the warning."""

    reason: str


class _Table:
    """The names valid for one ``launch`` value, and what each one resolves to."""

    def __init__(self, instances: Iterable[BackendInstance]) -> None:
        self.instances = tuple(instances)
        self.rows: dict[str, Setting] = dict(SETTINGS)
        launched_rows: set[str] = set()
        for inst in self.instances:
            for suffix, row in BACKEND_SETTINGS.get(inst.backend, {}).items():
                name = inst.prefix + suffix
                self.rows[name] = replace(row, name=name)
                launched_rows.add(name)
        backend_rows = {
            f"{backend}-{suffix}" for backend, rows in BACKEND_SETTINGS.items() for suffix in rows
        }
        general = [name for name in SETTINGS if name not in backend_rows]
        #: What ``--config`` shows: general settings and those of launched backends.
        self.shown = sorted({*general, *launched_rows})

    def lookup(self, key: str) -> Setting | _Ignored | None:
        """The setting ``key`` names, an _Ignored, or None for an unknown name."""
        key = ALIASES.get(key, key)
        backend = key.partition("-")[0]
        if backend in PDNS_BACKENDS:
            return self._lookup_backend(key, backend)
        if key in self.rows:
            return self.rows[key]
        if key in PDNS_SETTINGS:
            return _Ignored(f"PowerDNS setting '{key}' is not implemented by fastdns yet")
        return None

    def _lookup_backend(self, key: str, backend: str) -> Setting | _Ignored | None:
        declared = BACKEND_SETTINGS.get(backend)
        pdns_suffixes = PDNS_BACKEND_SUFFIXES.get(backend)
        candidates = sorted(
            (i for i in self.instances if i.backend == backend and key.startswith(i.prefix)),
            key=lambda i: -len(i.prefix),
        )
        for inst in candidates:
            suffix = key[len(inst.prefix) :]
            if declared is not None and suffix in declared:
                return self.rows[key]
        for inst in candidates:
            suffix = key[len(inst.prefix) :]
            if declared is None or pdns_suffixes is None or suffix in pdns_suffixes:
                return _Ignored(f"PowerDNS setting '{key}' is not implemented by fastdns yet")
        if candidates:
            return None
        known = set(declared or ()) | set(pdns_suffixes or ())
        rest = key[len(backend) + 1 :]
        if any(rest == s or rest.endswith(f"-{s}") for s in known):
            return _Ignored(f"setting '{key}' is for backend '{backend}', which is not launched")
        return None


class _Builder:
    """Applies assignments in order to the textual values of one table."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.texts: dict[str, str] = {name: row.default for name, row in table.rows.items()}
        self.sources: dict[str, str] = {}
        self.cleared: set[str] = set()
        self.ignored: dict[str, tuple[str, str]] = {}
        self.warnings: list[str] = []

    def apply(self, assignment: Assignment) -> None:
        key, where = assignment.key, assignment.where
        target = self.table.lookup(key)
        if target is None:
            if key in split_list(self.texts["ignore-unknown-settings"]):
                self.warnings.append(f"{where}: ignoring unknown setting '{key}' as asked")
                self.ignored[key] = (assignment.text, where)
                return
            raise ConfigError(where, f"unknown setting '{key}'")
        if isinstance(target, _Ignored):
            self.warnings.append(f"{where}: {target.reason}; ignored")
            self.ignored[key] = (assignment.text, where)
            return
        name = target.name
        if name in ("config-dir", "config-name") and where != COMMAND_LINE:
            self.warnings.append(f"{where}: '{key}' only works on the command line; ignored")
            return
        if name == "include-dir" and assignment.included:
            self.warnings.append(f"{where}: include-dir in an included file has no effect")
        self.texts[name] = self.combine(target, assignment)
        self.sources[name] = where
        if not assignment.append:
            self.cleared.add(name)
        if not target.implemented:
            self.warnings.append(
                f"{where}: setting '{key}' is not implemented by fastdns yet; ignored"
            )

    def combine(self, row: Setting, assignment: Assignment) -> str:
        """The new text of ``row`` after ``assignment``; checks the value."""
        key, where, text = assignment.key, assignment.where, assignment.text
        if row.kind is Kind.PATH:
            text = resolve_path(text, assignment.base_dir)
        try:
            parse_value(row, text)
            if row.name == "launch":
                for item in split_list(text):
                    BackendInstance.parse(item)
        except ValueError as err:
            raise ConfigError(where, f"bad value for '{key}': {err}") from None
        if not assignment.append:
            return text
        if row.kind not in LIST_KINDS:
            raise ConfigError(where, f"'{key}' is not a list setting; '+=' cannot add to it")
        current = self.texts[row.name]
        if not current:
            if row.name not in self.cleared:
                raise ConfigError(where, f"'{key}+=' with nothing to add to; set '{key}=' first")
            return text
        return f"{current}, {text}" if text else current


def _launch_of(assignments: Sequence[Assignment]) -> tuple[BackendInstance, ...]:
    """Work out ``launch`` alone (it decides which other names are valid)."""
    builder = _Builder(_Table(()))
    last_where = "default"
    for assignment in assignments:
        if assignment.key == "launch":
            builder.apply(assignment)
            last_where = assignment.where
    instances: list[BackendInstance] = []
    for item in split_list(builder.texts["launch"]):
        instance = BackendInstance.parse(item)
        if instance in instances:
            raise ConfigError(last_where, f"backend '{item}' is launched twice")
        instances.append(instance)
    return tuple(instances)


def _choose_config_dir(cmdline: CommandLine, default_dirs: Sequence[str]) -> tuple[str, str]:
    """The configuration directory and where it comes from."""
    given = cmdline.last("config-dir")
    if given is not None:
        path = resolve_path(given.text, given.base_dir)
        if not os.path.isdir(path):
            raise ConfigError(COMMAND_LINE, f"config-dir '{path}' is not a directory")
        return path, COMMAND_LINE
    for candidate in default_dirs:
        if os.path.isdir(candidate):
            return candidate, "default"
    return default_dirs[0] if default_dirs else "/etc/fastdns", "default"


def load_config(
    cmdline: CommandLine, *, default_config_dirs: Sequence[str] = DEFAULT_CONFIG_DIRS
) -> Config:
    """Read the configuration files and the command line into a :class:`Config`.

    Raises :class:`ConfigError` for an unknown name, a bad value, an unreadable file or
    include-dir, or a ``--config-dir`` that does not exist.
    """
    config_dir, dir_source = _choose_config_dir(cmdline, default_config_dirs)
    name_arg = cmdline.last("config-name")
    config_name = name_arg.text if name_arg is not None else ""
    if "/" in config_name:
        raise ConfigError(COMMAND_LINE, f"bad value for 'config-name': '{config_name}'")
    warnings: list[str] = []
    files: list[str] = []
    assignments: list[Assignment] = []
    if not cmdline.no_config:
        main = _find_main_file(config_dir, config_name)
        if main is None:
            stem = f"-{config_name}.conf" if config_name else ".conf"
            warnings.append(
                f"{config_dir}: no fastdns{stem} or pdns{stem} here; using the defaults"
            )
        else:
            files.append(main)
            assignments.extend(read_config_file(main))
        include = cmdline.last("include-dir") or next(
            (a for a in reversed(assignments) if a.key == "include-dir"), None
        )
        if include is not None and include.text.strip():
            directory = resolve_path(include.text, include.base_dir)
            for path in _gather_includes(directory, include.where):
                files.append(path)
                assignments.extend(read_config_file(path, included=True))
    assignments.extend(cmdline.assignments)

    instances = _launch_of(assignments)
    table = _Table(instances)
    builder = _Builder(table)
    builder.warnings = warnings
    builder.texts["config-dir"] = config_dir
    if dir_source == COMMAND_LINE:
        builder.sources["config-dir"] = COMMAND_LINE
    for assignment in assignments:
        builder.apply(assignment)
    for instance in instances:
        if instance.backend not in BACKEND_SETTINGS:
            builder.warnings.append(
                f"{builder.sources.get('launch', 'default')}: backend '{instance.backend}' "
                "is not implemented by fastdns yet; ignored"
            )
    config = Config(builder, tuple(files))
    config.command_line = cmdline
    return config


# --------------------------------------------------------------------------------------------
# The result


class Config(SettingAttributes):
    """The loaded configuration: values by PowerDNS name or by attribute.

    ``cfg["local-port"]`` and ``cfg.local_port`` give the parsed value (see
    :func:`fastdns.config.settings.parse_value` for each kind); aliases work too
    (``cfg["master"]`` is ``cfg["primary"]``).  ``cfg.text(name)`` is the value as text,
    ``cfg.source(name)`` where it was set.
    """

    __slots__ = ("_ignored", "_rows", "_shown", "_sources", "_texts", "_values", "command_line",
                 "files", "instances", "warnings")  # fmt: skip

    def __init__(self, builder: _Builder, files: tuple[str, ...]) -> None:
        self._rows = builder.table.rows
        self._shown = builder.table.shown
        self._texts = builder.texts
        self._sources = builder.sources
        self._ignored = builder.ignored
        self._values: dict[str, Value] = {
            name: parse_value(row, self._texts[name]) for name, row in self._rows.items()
        }
        #: Non-fatal problems, each ``where: what``; the server logs them at start.
        self.warnings: list[str] = builder.warnings
        #: The files read, in order.
        self.files: tuple[str, ...] = files
        #: ``launch=``, parsed, in order.
        self.instances: tuple[BackendInstance, ...] = builder.table.instances
        #: what the configuration was loaded from, to load it again (HUP)
        self.command_line: CommandLine | None = None

    def with_value(self, name: str, text: str, source: str) -> Config:
        """A copy of this configuration with ``name`` set to ``text`` (``set``); raises
        KeyError for an unknown name, ValueError for a bad value."""
        name = self._name(name)
        value = parse_value(self._rows[name], text)
        copy = object.__new__(Config)
        for slot in Config.__slots__:
            setattr(copy, slot, getattr(self, slot))
        copy._texts = {**self._texts, name: text}
        copy._values = {**self._values, name: value}
        copy._sources = {**self._sources, name: source}
        return copy

    def _name(self, name: str) -> str:
        name = ALIASES.get(name, name)
        if name not in self._rows:
            raise KeyError(name)
        return name

    def __getitem__(self, name: str) -> Any:
        return self._values[self._name(name)]

    if not TYPE_CHECKING:
        # the type checker sees SettingAttributes instead: a misspelt setting is its error
        def __getattr__(self, attr: str) -> Any:
            if attr.startswith("_"):
                raise AttributeError(attr)
            try:
                return self[setting_name(attr)]
            except KeyError:
                raise AttributeError(f"no setting '{setting_name(attr)}'") from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and ALIASES.get(name, name) in self._rows

    def names(self) -> list[str]:
        """Every setting's canonical name (general and launched backends' ones)."""
        return list(self._rows)

    def setting(self, name: str) -> Setting:
        """The table row of ``name``."""
        return self._rows[self._name(name)]

    def text(self, name: str) -> str:
        """The value of ``name`` as text (PATH values resolved)."""
        return self._texts[self._name(name)]

    def source(self, name: str) -> str:
        """``file:line``, ``command line`` or ``default``."""
        return self._sources.get(self._name(name), "default")

    def backend(self, instance: BackendInstance) -> dict[str, Any]:
        """The declared settings of one launched instance, by suffix (``config``)."""
        return {
            suffix: self._values[instance.prefix + suffix]
            for suffix in BACKEND_SETTINGS.get(instance.backend, {})
        }

    def changed(self) -> dict[str, str]:
        """Settings whose text differs from the default, by name (for ``current-config``)."""
        return {
            name: self._texts[name]
            for name in self._shown
            if self._texts[name] != self._rows[name].default
        }

    def dump(self, mode: str = "full", *, now: datetime.datetime | None = None) -> str:
        """The ``--config[=mode]`` text in PowerDNS's layout.

        ``full``: every setting with its help, the ones that differ uncommented;
        ``default``: every setting with its default, all commented;
        ``diff``: only ``name=value`` for the settings that differ.
        Settings that were accepted but ignored (PowerDNS-only, unknown but listed in
        ignore-unknown-settings) follow at the end in ``full`` and ``diff``.
        """
        if mode not in ("full", "default", "diff"):
            raise ValueError(f"bad dump mode '{mode}'")
        running = mode != "default"
        full = mode != "diff"
        if running:
            stamp = (now or datetime.datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M:%S %z")
            out = [f"# Autogenerated configuration file based on running instance ({stamp})\n\n"]
        else:
            out = ["# Autogenerated configuration file template\n\n"]
        first = "ignore-unknown-settings"
        for name in [first, *(n for n in self._shown if n != first)]:
            row = self._rows[name]
            out.append(_format_one(running, full, name, row.help, row.default, self._texts[name]))
        if running:
            for name, (text, _where) in sorted(self._ignored.items()):
                out.append(_format_one(running, full, name, "ignored by fastdns", None, text))
        return "".join(out)


def _format_one(
    running: bool, full: bool, name: str, help: str, default: str | None, text: str
) -> str:
    """One entry in PowerDNS's --config layout; a None default always counts as changed."""
    if running and not full and text == default:
        return ""
    out = ""
    if full:
        out = f"#################################\n# {name}\t{help}\n#\n"
    if not running:
        return f"{out}# {name}={default}\n\n"
    comment = "# " if text == default else ""
    return f"{out}{comment}{name}={text}\n" + ("\n" if full else "")

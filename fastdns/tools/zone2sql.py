"""``fastdns-util zone2sql``: PowerDNS's ``zone2sql``, the same options and the same SQL.

Reads one zone file (``--zone``, ``--zone-name``) or every zone of a ``named.conf``
(``--named-conf``) and prints the INSERT statements that load them into PowerDNS's generic
SQL schema, for SQLite (``--gsqlite``), PostgreSQL (``--gpgsql``) or MySQL/MariaDB
(``--gmysql``).  Record data is what PowerDNS's tools store (:mod:`fastdns.zone.records`),
and the statements are zone2sql 4.7's, byte for byte, quirks included: the zone of a
``--zone`` file is its ``$ORIGIN`` at each record, ``--slave`` keeps the case of names and
the primaries with a trailing space, NSEC/NSEC3 records are left out, a trailing dot of
the content is removed.

Differences, on purpose (docs/util.md): zones of a named.conf come in file order (zone2sql
shuffles them), the progress line is shown only when stderr is a terminal, and zone names
from named.conf are lowercase (fastdns's named.conf reader lowercases them).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from fastdns.zone.records import ZoneFileError, ZoneReader

SWITCHES = ("gpgsql", "gsqlite", "gmysql", "transactions", "slave", "on-error-resume-next",
            "filter-duplicate-soa", "json-comments", "verbose")
VALUED = ("named-conf", "zone", "zone-name", "max-generate-steps", "max-include-depth",
          "ignore-unknown-settings")

HELP = """\
usage: fastdns-util zone2sql (--gsqlite | --gpgsql | --gmysql) [OPTIONS]
         (--zone=FILE [--zone-name=NAME] | --named-conf=FILE)

Prints the SQL that loads zones into PowerDNS's generic SQL schema (as PowerDNS's zone2sql).

  --gsqlite | --gpgsql | --gmysql   SQL for SQLite, PostgreSQL or MySQL/MariaDB
  --zone=FILE                       the zone file to read
  --zone-name=NAME                  the zone's name when FILE has no $ORIGIN
  --named-conf=FILE                 every zone of this BIND configuration (./named.conf)
  --slave                           keep secondary zones of named.conf as SLAVE
  --transactions                    one transaction per zone
  --on-error-resume-next            go on after a zone that cannot be read
  --filter-duplicate-soa            leave out a second SOA record
  --json-comments                   read 'json={"disabled":..,"comment":..}' comments
  --verbose                         say which file each zone comes from
  --max-generate-steps=N            the most $GENERATE steps allowed (0: no limit)
  --max-include-depth=N             the deepest $INCLUDE nesting allowed (20)
  --help | --version
"""


class UsageError(Exception):
    """A bad call of zone2sql."""


@dataclass
class Options:
    switches: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)

    def on(self, name: str) -> bool:
        return name in self.switches


def parse_options(argv: Sequence[str]) -> Options:
    opts = Options()
    for arg in argv:
        if not arg.startswith("--"):
            raise UsageError(f"unexpected argument '{arg}'")
        name, eq, value = arg[2:].partition("=")
        if name in SWITCHES or name in ("help", "version"):
            if not eq or value in ("", "yes", "true", "1", "on"):
                opts.switches.add(name)
            elif value in ("no", "false", "0", "off"):
                opts.switches.discard(name)
            else:
                raise UsageError(f"bad value for '--{name}': '{value}'")
        elif name in VALUED:
            if not eq:
                raise UsageError(f"'--{name}' needs a value: --{name}=VALUE")
            opts.values[name] = value
        else:
            raise UsageError(f"Trying to set unknown setting '{name}'")
    for name in ("max-generate-steps", "max-include-depth"):
        if name in opts.values and not opts.values[name].isdigit():
            raise UsageError(f"bad value for '--{name}': '{opts.values[name]}'")
    return opts


# --------------------------------------------------------------------------------------------
# SQL text, as zone2sql writes it


def _quote(mode: str, text: str) -> str:
    if mode == "sqlite":
        return "'" + text.replace("'", "''") + "'"
    body = "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "E" + body if mode == "pgsql" else body


def _strip_dot_content(content: str) -> str:
    if content == "." or content.endswith(" ."):
        return content
    return content[:-1] if content.endswith(".") else content


def _no_dot(name: str) -> str:
    return name if name == "." else name.rstrip(".")


class Writer:
    """The statements of one run, written to ``out``."""

    def __init__(self, mode: str, opts: Options, out: TextIO,
                 clock: Callable[[], float] = time.time) -> None:
        self.mode = mode
        self.opts = opts
        self.out = out
        self.clock = clock
        self.in_transaction = False
        self.records = 0

    def start_transaction(self) -> None:
        if not self.opts.on("transactions"):
            return
        if self.in_transaction:
            self.out.write("COMMIT WORK;\n" if self.mode == "pgsql" else "COMMIT;\n")
        self.in_transaction = True
        self.out.write("BEGIN;\n" if self.mode == "mysql" else "BEGIN TRANSACTION;\n")

    def finish(self) -> None:
        if self.opts.on("transactions") and self.in_transaction:
            self.out.write("COMMIT;\n" if self.mode == "sqlite" else "COMMIT WORK;\n")

    def domain(self, zone: str, primaries: Sequence[str] = ()) -> None:
        name = zone if zone == "." else zone.rstrip(".")
        if not self.opts.on("slave"):
            self.out.write(f"insert into domains (name,type) values "
                           f"({_quote(self.mode, name).lower()},'NATIVE');\n")
        elif not primaries:
            self.out.write(f"insert into domains (name,type) values "
                           f"({_quote(self.mode, name)},'NATIVE');\n")
        else:
            masters = "".join(f"{p} " for p in primaries)
            self.out.write(f"insert into domains (name,type,master) values "
                           f"({_quote(self.mode, name)},'SLAVE', '{masters}');\n")

    def record(self, zone: str, owner: str, rtype: str, content: str, ttl: int,
               comment: str) -> None:
        self.records += 1
        if rtype in ("NSEC", "NSEC3"):
            return
        disabled = False
        note = ""
        if self.opts.on("json-comments") and comment:
            disabled, note = _json_comment(comment)
        prio = 0
        if rtype in ("MX", "SRV"):
            digits = len(content) - len(content.lstrip("0123456789"))
            prio = int(content[:digits]) if digits else 0
            if digits < len(content):
                content = content[digits:].lstrip()
        q = self.mode
        where = _quote(q, _no_dot(zone)).lower()
        name = _quote(q, _no_dot(owner).lower())
        flag = ("'t'" if disabled else "'f'") if q == "pgsql" else str(int(disabled))
        self.out.write(
            "insert into records (domain_id, name, type,content,ttl,prio,disabled) select id ,"
            f"{name}, {_quote(q, rtype)}, {_quote(q, _strip_dot_content(content))}, {ttl}, "
            f"{prio}, {flag} from domains where name={where};\n")
        if note:
            self.out.write(
                "insert into comments (domain_id,name,type,modified_at, comment) select id, "
                f"{name.lower()}, {_quote(q, rtype)}, {int(self.clock())}, {_quote(q, note)} "
                f"from domains where name={where};\n")


def _json_comment(comment: str) -> tuple[bool, str]:
    """(disabled, comment) from a ``json={...}`` comment (other comments: nothing)."""
    start = comment.find("json={")
    if start < 0:
        return False, ""
    try:
        data = json.loads(comment[start + 5:])
    except ValueError:
        return False, ""
    if not isinstance(data, dict):
        return False, ""
    return bool(data.get("disabled")), str(data.get("comment") or "")


# --------------------------------------------------------------------------------------------
# the run


def _mode(opts: Options) -> str | None:
    for switch, mode in (("gpgsql", "pgsql"), ("gsqlite", "sqlite"), ("gmysql", "mysql")):
        if opts.on(switch):
            return mode
    return None


def _reader(opts: Options, path: str, zone: str, reldir: str = "") -> ZoneReader:
    return ZoneReader(path, zone, reldir=reldir,
                      max_generate_steps=int(opts.values.get("max-generate-steps", "0")),
                      max_include_depth=int(opts.values.get("max-include-depth", "20")))


def _one_zone(writer: Writer, opts: Options, path: str) -> int:
    zone = opts.values.get("zone-name", "")
    reader = _reader(opts, path, zone)
    writer.start_transaction()
    emitted = False
    seen_soa = False
    for owner, rtype, ttl, content, comment in reader:
        if rtype == "SOA":
            if seen_soa and opts.on("filter-duplicate-soa"):
                continue
            seen_soa = True
        if not emitted:
            if not reader.origin:
                continue
            writer.domain(reader.origin)
            emitted = True
        writer.record(reader.origin, owner, rtype, content, ttl, comment)
    return 1


def _named_conf(writer: Writer, opts: Options, path: str, err: TextIO) -> int:
    from fastdns.backends.namedconf import NamedConfError, parse_named_conf

    try:
        conf = parse_named_conf(path)
    except NamedConfError as exc:
        raise ZoneFileError(f"Error in bind configuration {exc}") from None
    except OSError as exc:
        raise ZoneFileError(f"Unable to open '{path}': {exc.strerror}") from None
    for warning in getattr(conf, "warnings", ()):
        err.write(f"{warning}\n")
    if opts.on("verbose"):
        for zone in conf.zones:
            err.write(f"Domain {_no_dot(zone.name)} lives in file '{zone.file}'\n")
    done = 0
    tty = err.isatty()
    for count, zone in enumerate(conf.zones):
        try:
            writer.start_transaction()
            secondary = zone.kind == "secondary"
            writer.domain(zone.name, zone.primaries if secondary else ())
            seen_soa = False
            reader = _reader(opts, zone.file, zone.name, conf.directory)
            for owner, rtype, ttl, content, comment in reader:
                if rtype == "SOA":
                    if seen_soa and opts.on("filter-duplicate-soa"):
                        continue
                    seen_soa = True
                writer.record(zone.name, owner, rtype, content, ttl, comment)
            done += 1
        except ZoneFileError as exc:
            if not opts.on("on-error-resume-next"):
                raise
            err.write(f"\n{exc}\n")
        if tty:
            err.write(f"\r{100 * (count + 1) // len(conf.zones)}% done ({zone.file})\x1b[K")
    if tty and conf.zones:
        err.write("\r100% done\x1b[K\n")
    return done


def run(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None,
        version: str = "") -> int:
    """zone2sql with ``argv`` (the words after ``zone2sql``); the exit code."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        opts = parse_options(argv)
    except UsageError as exc:
        err.write(f"fastdns-util zone2sql: {exc}\n{HELP}")
        return 1
    if opts.on("help"):
        out.write(HELP)
        return 0
    if opts.on("version"):
        out.write(f"fastdns-util zone2sql {version}\n")
        return 0
    mode = _mode(opts)
    if mode is None:
        err.write(f"Unknown SQL mode!\n\n{HELP}")
        return 1
    writer = Writer(mode, opts, out)
    try:
        if "zone" in opts.values:
            done = _one_zone(writer, opts, opts.values["zone"])
        else:
            done = _named_conf(writer, opts, opts.values.get("named-conf", "./named.conf"), err)
    except ZoneFileError as exc:
        out.flush()
        err.write(f"\nFatal error: {exc}\n")
        return 1
    out.flush()
    err.write(f"{done} domains were fully parsed, containing {writer.records} records\n")
    writer.finish()
    return 0

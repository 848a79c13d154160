"""fastdns-util's zone and record commands (pdnsutil 4.7's texts and exit codes).

create-zone, create-secondary-zone, delete-zone, list-all-zones, list-zone, load-zone,
add-record, replace-rrset, delete-rrset, increase-serial, rectify-zone, rectify-all-zones,
hash-zone-record, set-kind, set-account.  (check-zone and edit-zone: ``checkcmds``.)
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import dns.name

from fastdns.backends.gsql import (
    BATCH,
    DB_KINDS,
    Columns,
    GSQLBackend,
    Row,
    db_name,
    zone_text,
)
from fastdns.backends.gsqlrectify import MAX_NSEC3_ITERATIONS, Rectified, rectify
from fastdns.config.settings import parse_address
from fastdns.dnssec.nsec3 import (
    NSEC3ParamError,
    hashed_label,
    label_text,
    name_labels,
    parse_nsec3param,
)
from fastdns.tools.sqlextra import rrset_rows, zones_with_soa
from fastdns.tools.utilcore import (
    Context,
    Failure,
    Progress,
    UsageError,
    command,
    require,
    zone_arg,
)
from fastdns.zone.content import (
    ContentError,
    check_stored,
    parse_content,
    pdns_content,
    split_prio,
    type_name,
)
from fastdns.zone.records import ZoneFileError, ZoneReader, check_name
from fastdns.zone.source import BackendError

#: types whose content list-zone writes with a trailing dot (pdnsutil 4.7's list)
_DOTTED = ("NS", "SRV", "MX", "CNAME")
_KINDS = {"primary": "primary", "master": "primary", "secondary": "secondary",
          "slave": "secondary", "native": "native", "producer": "producer",
          "consumer": "consumer"}


# --------------------------------------------------------------------------------------------
# rows of any backend


def zone_rows(backend: object, zone: str) -> list[Row]:
    """The records of ``zone`` as ``records`` rows, from an SQL backend or any ZoneSource."""
    return backend.zone_rows(zone)  # type: ignore[attr-defined]


def _from_wire(rdtype: int, rdata: bytes) -> dns.rdata.Rdata:
    import dns.rdataclass
    import dns.rdatatype
    return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), rdata,
                               0, len(rdata))


def full_content(row: Row) -> str:
    """``content`` with the MX/SRV priority in front again."""
    return f"{row.prio} {row.content}" if row.type in ("MX", "SRV") else row.content


def _served(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.type and not r.disabled]


# --------------------------------------------------------------------------------------------
# zones


@command("list-all-zones", "list-all-zones [primary|secondary|native|producer|consumer]",
         "List all active zone names. --verbose or -v will also include disabled or empty "
         "zones", aliases=("zone list-all",))
def list_all_zones(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "list-all-zones [primary|secondary|native|producer|consumer]")
    kind = None
    if args:
        kind = _KINDS.get(args[0].lower())
        if kind is None:
            raise UsageError("list-all-zones [primary|secondary|native|producer|consumer]")
    active: dict[int, set[str]] = {}
    stored: dict[int, dict[str, str]] = {}
    count = 0
    for info, backend in ctx.zones():
        if kind is not None:
            if isinstance(backend, GSQLBackend):
                # the listing folds PRODUCER into primary and CONSUMER into secondary (the
                # server serves them so): the stored type tells them apart
                types = stored.get(id(backend))
                if types is None:
                    types = stored[id(backend)] = _stored_types(backend)
                if types.get(info.name) != DB_KINDS[kind]:
                    continue
            elif info.kind != kind:
                continue
        if not ctx.verbose and isinstance(backend, GSQLBackend):
            soa = active.get(id(backend))
            if soa is None:
                soa = active[id(backend)] = zones_with_soa(backend)
            if info.name.rstrip(".") not in soa and info.name != ".":
                continue
        ctx.say(info.name.rstrip(".") or ".")
        count += 1
    if ctx.verbose:
        ctx.say(f"{args[0] if args else 'All'} zonecount: {count}")
    return 0


def _stored_types(backend: GSQLBackend) -> dict[str, str]:
    """Zone -> ``domains.type`` as stored (upper case), of every zone of ``backend``."""
    with backend._cursor() as cur:
        cur.execute("SELECT name, type FROM domains")
        return {zone_text(name): (db_kind or "NATIVE").upper()
                for name, db_kind in cur.fetchall() if name}


@command("list-zone", "list-zone ZONE", "List zone contents", aliases=("zone list",))
def list_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "list-zone ZONE")
    zone = zone_arg(args[0])
    backend = ctx.find(zone)
    if backend is None:
        raise Failure(f"Zone '{args[0].rstrip('.')}' not found!")
    lines = ["$ORIGIN ."]
    for row in _served(zone_rows(backend, zone)):
        content = full_content(row)
        if row.type in _DOTTED and content and not content.endswith("."):
            content += "."
        lines.append(f"{row.name}\t{row.ttl}\tIN\t{row.type}\t{content}")
    ctx.out.write("\n".join(lines) + "\n")
    return 0


def _default_soa(ctx: Context, zone: str) -> str:
    template = str(ctx.config["default-soa-content"])
    words = [zone if w == "@" else (w[:-1] + zone if w.endswith(".@") else w)
             for w in template.split()]
    try:
        rd = parse_content("SOA", " ".join(words))
    except ContentError as exc:
        raise Failure(f"Error: default-soa-content: {exc}") from None
    return pdns_content(rd)[0]


def _create(ctx: Context, zone: str, kind: str, primaries: tuple[str, ...] = ()
            ) -> GSQLBackend:
    """Create ``zone`` in the first SQL backend that takes it."""
    for backend in ctx.sql_backends():
        try:
            backend.create_zone(zone, kind=kind, primaries=primaries)
        except BackendError:
            continue
        return backend
    launch = ", ".join(str(i) for i in ctx.config.instances)
    raise Failure(f"Zone '{zone}' was not created - perhaps backend ({launch}) does not "
                  "support storing new zones.")


@command("create-zone", "create-zone ZONE [nsname]", "Create empty zone ZONE",
         aliases=("zone create",))
def create_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 2, "create-zone ZONE [nsname]")
    zone = zone_arg(args[0])
    if ctx.find(zone) is not None:
        raise Failure(f"Zone '{zone}' exists already")
    ns = None
    if len(args) == 2:
        ns = _name(args[1], ".")
    ctx.warn(f"Creating empty zone '{zone}'")
    backend = _create(ctx, zone, "native")
    ttl = int(ctx.config["default-ttl"])
    rows = [Row(zone, "SOA", _default_soa(ctx, zone), ttl)]
    if ns is not None:
        ctx.say("Also adding one NS record")
        rows.append(Row(zone, "NS", ns, ttl))
    backend.add_rows(zone, rows)
    return 0


@command("create-secondary-zone", "create-secondary-zone ZONE primary-ip [primary-ip..]",
         "Create secondary zone ZONE with primary IP address primary-ip",
         aliases=("create-slave-zone", "zone create-secondary"))
def create_secondary_zone(ctx: Context, args: list[str]) -> int:
    require(args, 2, None, "create-secondary-zone ZONE primary-ip [primary-ip..]")
    zone = zone_arg(args[0])
    if ctx.find(zone) is not None:
        raise Failure(f"Zone '{zone}' exists already")
    primaries = []
    for text in args[1:]:
        try:
            address = parse_address(text)
        except ValueError as exc:
            raise Failure(f"Error: {exc}") from None
        primaries.append(str(address) if address.port is None or address.port == 53
                         else _with_port(address.host, address.port))
    ctx.warn(f"Creating secondary zone '{zone}', with primaries '{','.join(primaries)}'")
    _create(ctx, zone, "secondary", tuple(primaries))
    return 0


def _with_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@command("delete-zone", "delete-zone ZONE", "Delete the zone", aliases=("zone delete",))
def delete_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "delete-zone ZONE")
    zone = zone_arg(args[0])
    backend = ctx.sql_zone(zone, "Zone '{zone}' not found!")
    backend.delete_zone(zone)
    return 0


@command("set-kind", "set-kind ZONE KIND",
         "Change the kind of ZONE to KIND (primary, secondary, native, producer, consumer)",
         aliases=("zone set-kind",))
def set_kind(ctx: Context, args: list[str]) -> int:
    require(args, 2, 2, "set-kind ZONE KIND")
    zone = zone_arg(args[0])
    kind = args[1].lower()
    if kind not in DB_KINDS:
        raise Failure(f"Error: unknown zone kind '{args[1]}' (primary, secondary, native, "
                      "producer or consumer)")
    backend = ctx.sql_zone(zone, "No such zone {zone} in the database")
    backend.set_zone(zone, kind=kind)
    return 0


@command("set-account", "set-account ZONE ACCOUNT",
         "Change the account (owner) of ZONE to ACCOUNT", aliases=("zone set-account",))
def set_account(ctx: Context, args: list[str]) -> int:
    require(args, 2, 2, "set-account ZONE ACCOUNT")
    zone = zone_arg(args[0])
    backend = ctx.sql_zone(zone, "No such zone {zone} in the database")
    backend.set_zone(zone, account=args[1])
    return 0


# --------------------------------------------------------------------------------------------
# load-zone


def file_columns(reader: ZoneReader, zone: str, size: int = BATCH) -> Iterator[Columns]:
    """The rows pdnsutil load-zone stores for the records of ``reader``, in batches of
    ``size`` as Columns (names in stored form); Failure on the first record it refuses
    (outside the zone, or content that cannot be served: the server's reader decides).
    No Row per record: this loop runs a million times for a million-record zone."""
    suffix = "" if zone == "." else "." + zone
    have_soa = False
    names: list[str] = []
    types: list[str] = []
    contents: list[str] = []
    ttls: list[int] = []
    prios: list[int] = []
    last_owner: str | None = None
    name = ""
    for owner, rtype, ttl, content, _comment in reader:
        if owner is not last_owner:   # the reader gives the same object for the same owner
            name = owner.lower()
            if name != zone and not name.endswith(suffix):
                raise Failure(f"File contains record named '{owner}' which is not part of "
                              f"zone '{zone}'")
            if name[-1:] == ".":
                # what the backend's _checked does to a Row's name (db_name: the reader's
                # owners have no blank space around them and are never empty)
                name = db_name(name)
            last_owner = owner
        if rtype == "SOA":
            if have_soa:
                continue
            have_soa = True
        content, prio = split_prio(rtype, content)
        try:
            check_stored(rtype, content, prio)
        except ContentError as exc:
            raise _bad_content(owner, rtype, str(exc)) from None
        names.append(name)
        types.append(rtype)
        contents.append(content)
        ttls.append(ttl)
        prios.append(prio)
        if len(names) >= size:
            yield names, types, contents, ttls, prios
            names, types, contents, ttls, prios = [], [], [], [], []
    if names:
        yield names, types, contents, ttls, prios


class _Parser:
    """The batches of :func:`file_columns`, made by a forked child process a batch or two
    ahead of the database: the zone file is parsed on one core while this process inserts
    on another (threads would not do: the parser holds the GIL, and sqlite3 takes it back
    for every row).  An error of the child (Failure, ZoneFileError, anything else) is
    raised here after the batches before it; leaving early stops the child.  Only when
    this process has no other thread (a forked child would inherit the locks they hold,
    e.g. those of psycopg's pool) and the system can fork; else the batches are made
    here, one after the other.  ``position`` is how far the file has been read (for a
    progress report)."""

    def __init__(self, path: str, zone: str, max_generate_steps: int) -> None:
        self.position = 0
        self._args = (path, zone, max_generate_steps)
        self._fork = threading.active_count() == 1 and \
            "fork" in multiprocessing.get_all_start_methods()

    def __iter__(self) -> Iterator[Columns]:
        if not self._fork:
            path, zone, max_generate_steps = self._args
            reader = ZoneReader(path, zone, max_generate_steps=max_generate_steps)
            for columns in file_columns(reader, zone):
                self.position = reader.position()
                yield columns
            return
        context: Any = multiprocessing.get_context("fork")
        for stream in (sys.stdout, sys.stderr):   # the child must not write them again
            stream.flush()
        conn, child = context.Pipe(duplex=False)
        process = context.Process(target=_parse_in_child, args=(child, *self._args),
                                  daemon=True, name="fastdns-util load-zone parser")
        process.start()
        child.close()
        try:
            while True:
                try:
                    kind, value, position = conn.recv()
                except EOFError:
                    process.join()
                    raise Failure("Error: the zone file parser stopped "
                                  f"(exit code {process.exitcode})") from None
                if kind == "rows":
                    self.position = position or self.position
                    yield value
                elif kind == "end":
                    return
                elif kind == "failure":
                    raise Failure(*value)
                elif kind == "zonefile":
                    raise ZoneFileError(value)
                else:
                    raise value
        finally:
            conn.close()
            if process.is_alive():
                process.terminate()
            process.join()


def _parse_in_child(conn: Any, path: str, zone: str, max_generate_steps: int) -> None:
    """The child of :class:`_Parser`: ("rows", batch, position) per batch, then ("end",)
    or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent stops us on ^C
    try:
        reader = ZoneReader(path, zone, max_generate_steps=max_generate_steps)
        for columns in file_columns(reader, zone):
            conn.send(("rows", columns, reader.position()))
        conn.send(("end", None, 0))
    except Failure as exc:
        conn.send(("failure", (str(exc), exc.code, exc.stream), 0))
    except ZoneFileError as exc:
        conn.send(("zonefile", str(exc), 0))
    except BrokenPipeError:
        pass   # the parent stopped reading
    except BaseException as exc:   # handed to the parent
        _send_error(conn, exc)
    finally:
        conn.close()


def _send_error(conn: Any, exc: BaseException) -> None:
    try:
        conn.send(("error", exc, 0))
    except Exception:   # an exception that does not pickle
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), 0))


def _bad_content(owner: str, rtype: str, why: str) -> Failure:
    return Failure(f"Bad record content in record for {owner}|{rtype}: Parsing record "
                   f"content (try 'fastdns-util check-zone'): {why}")


def load_one(ctx: Context, zone: str, path: str) -> int:
    backend = ctx.find(zone)
    created = False
    if backend is None:
        ctx.warn(f"Creating '{zone}'")
        backend = _create(ctx, zone, "native")
        created = True
    elif not isinstance(backend, GSQLBackend):
        raise Failure(f"Zone '{zone}' is in backend '{backend.name}', which fastdns-util "
                      "cannot change")
    else:
        ctx.warn(f"Zone '{zone}' exists already, replacing contents")
    progress = Progress(ctx.err, f"Loading '{zone}'", _size(path))
    try:
        batches = _Parser(path, zone, _int(ctx, "max-generate-steps"))
        count = backend.replace_zone_columns(
            zone, batches, progress=lambda n: progress.update(n, batches.position))
    except ZoneFileError as exc:
        if created:
            backend.delete_zone(zone)
        raise Failure(f"Error: {exc}") from None
    except BaseException:
        if created:
            backend.delete_zone(zone)
        raise
    progress.finish(count)
    return 0


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _int(ctx: Context, name: str) -> int:
    value = ctx.config[name] if name in ctx.config else 0
    return int(value or 0)


@command("load-zone", "load-zone ZONE FILE [ZONE FILE] ..",
         "Load ZONE from FILE, possibly creating zone or atomically replacing contents",
         aliases=("zone load",))
def load_zone(ctx: Context, args: list[str]) -> int:
    if not args or len(args) % 2:
        raise UsageError("load-zone ZONE FILE [ZONE FILE] ..")
    for i in range(0, len(args), 2):
        load_one(ctx, zone_arg(args[i]), args[i + 1])
    return 0


# --------------------------------------------------------------------------------------------
# records


def _name(text: str, zone: str) -> str:
    """An owner from the command line: ``@`` is the zone, a name with a trailing dot is
    absolute, any other is relative to the zone; lowercase without the trailing dot."""
    if text == "@":
        return zone
    if text.endswith(".") and not text.endswith("\\."):
        name = text[:-1].lower() or "."
    else:
        name = text.lower() if zone == "." else f"{text}.{zone}".lower()
    try:
        check_name(name)
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    return name


def _record_args(ctx: Context, args: list[str], usage: str) -> tuple[str, GSQLBackend, str,
                                                                     str, list[Row]]:
    require(args, 4, None, usage)
    zone = zone_arg(args[0])
    backend = ctx.sql_zone(zone, "Zone '{zone}' does not exist")
    name = _name(args[1], zone)
    if name != zone and not (zone == "." or name.endswith("." + zone)):
        raise Failure(f"Error: name '{args[1]}' is not in zone '{zone}'")
    rtype = type_name(args[2])
    if rtype is None:
        raise Failure(f"Error: Unknown DNS type '{args[2]}'")
    contents = args[3:]
    ttl = int(ctx.config["default-ttl"])
    if len(contents) > 1 and contents[0].isdigit():
        ttl = int(contents[0])
        contents = contents[1:]
    rows = []
    for text in contents:
        try:
            content, prio = pdns_content(parse_content(rtype, text))
        except ContentError as exc:
            raise Failure(f"Error: {str(exc).replace('Parsing record content: ', '')}"
                          if str(exc).startswith("Unknown") else
                          f"Error: Parsing record content (try 'fastdns-util check-zone'): "
                          f"{str(exc).replace('Parsing record content: ', '')}") from None
        rows.append(Row(name, rtype, content, ttl, prio))
    return zone, backend, name, rtype, rows


def _show_rrset(ctx: Context, rows: list[Row]) -> None:
    ctx.say("New rrset:")
    for row in rows:
        ctx.say(f"{row.name}. {row.ttl} IN {row.type} {full_content(row)}")


@command("add-record", 'add-record ZONE name type [ttl] "content" ["content"...]',
         "Add one or more records to ZONE", aliases=("rrset add",))
def add_record(ctx: Context, args: list[str]) -> int:
    zone, backend, name, rtype, rows = _record_args(
        ctx, args, 'add-record ZONE name type [ttl] "content" ["content"...]')
    backend.add_rows(zone, rows)
    _show_rrset(ctx, rrset_rows(backend, zone, name, rtype))
    return 0


@command("replace-rrset", 'replace-rrset ZONE name type [ttl] "content" ["content"...]',
         "Replace named RRSET from zone", aliases=("rrset replace",))
def replace_rrset(ctx: Context, args: list[str]) -> int:
    zone, backend, name, rtype, rows = _record_args(
        ctx, args, 'replace-rrset ZONE name type [ttl] "content" ["content"...]')
    ctx.say(f"Current records for {name} IN {rtype} will be replaced")
    backend.replace_rrset(zone, name, rtype, rows)
    _show_rrset(ctx, rrset_rows(backend, zone, name, rtype))
    return 0


@command("delete-rrset", "delete-rrset ZONE name type", "Delete named RRSET from zone",
         aliases=("rrset delete",))
def delete_rrset(ctx: Context, args: list[str]) -> int:
    require(args, 3, 3, "delete-rrset ZONE name type")
    zone = zone_arg(args[0])
    backend = ctx.sql_zone(zone, "Zone '{zone}' does not exist")
    rtype = type_name(args[2])
    if rtype is None:
        raise Failure(f"Error: Unknown DNS type '{args[2]}'")
    backend.replace_rrset(zone, _name(args[1], zone), rtype, [])
    return 0


# --------------------------------------------------------------------------------------------
# serial and rectify


def next_serial(serial: int, soa_edit: str, now: float | None = None) -> int:
    """The serial ``increase-serial`` writes for SOA-EDIT ``soa_edit`` (pdnsutil 4.7)."""
    kind = soa_edit.upper()
    now = time.time() if now is None else now
    if kind == "INCEPTION-INCREMENT":
        today = int(datetime.datetime.fromtimestamp(now).strftime("%Y%m%d")) * 100 + 1
        return today if serial < today else (serial + 1) & 0xFFFFFFFF
    if kind == "EPOCH":
        return max(int(now), (serial + 1) & 0xFFFFFFFF)
    return (serial + 1) & 0xFFFFFFFF


@command("increase-serial", "increase-serial ZONE",
         "Increases the SOA-serial by 1. Uses SOA-EDIT", aliases=("zone increase-serial",))
def increase_serial(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "increase-serial ZONE")
    zone = zone_arg(args[0])
    backend = ctx.find(zone)
    soa = rrset_rows(backend, zone, zone, "SOA") if isinstance(backend, GSQLBackend) else []
    if backend is None or not soa:
        raise Failure(f"No SOA for zone '{zone}'", 255)
    if not isinstance(backend, GSQLBackend):
        raise Failure(f"Zone '{zone}' is in backend '{backend.name}', which fastdns-util "
                      "cannot change")
    fields = soa[0].content.split()
    if len(fields) < 3 or not fields[2].isdigit():
        raise Failure(f"Error: the SOA of '{zone}' has no serial: '{soa[0].content}'")
    edit = backend.get_meta(zone, "SOA-EDIT")
    fields[2] = str(next_serial(int(fields[2]), edit[0] if edit else ""))
    new = soa[0]
    backend.replace_rrset(zone, zone, "SOA", [Row(new.name, "SOA", " ".join(fields), new.ttl,
                                                  new.prio, new.disabled, new.auth,
                                                  new.ordername)])
    ctx.say(f"SOA serial for zone {zone} set to {fields[2]}")
    return 0


def backend_dnssec(ctx: Context, backend: object) -> bool:
    """The ``<backend>-dnssec`` setting of the launched ``backend`` (PowerDNS reads and
    writes keys, DNSSEC metadata, ``auth`` and ``ordername`` only where it is on)."""
    for instance in ctx.config.instances:
        if ctx.backend(str(instance)) is backend:
            return bool(ctx.config.backend(instance).get("dnssec"))
    return False


def rectify_one(ctx: Context, zone: str) -> Rectified | None:
    """Rectify ``zone`` as pdnsutil 4.7 does; None when there is no such zone (or no SOA)."""
    backend = ctx.find(zone)
    if not isinstance(backend, GSQLBackend) or not rrset_rows(backend, zone, zone, "SOA"):
        return None
    limit = ctx.config["max-nsec3-iterations"] if "max-nsec3-iterations" in ctx.config \
        else MAX_NSEC3_ITERATIONS
    return rectify(backend, zone, backend_dnssec(ctx, backend), int(limit))


def _report(ctx: Context, done: Rectified, quiet: bool = False) -> bool:
    """pdnsutil's lines for one rectify (on stderr; ``quiet``: only on failure)."""
    if not quiet or not done.ok:
        if done.info:
            ctx.warn(done.info)
        if not done.ok and done.error:
            ctx.warn(done.error)
    return done.ok


@command("rectify-zone", "rectify-zone ZONE [ZONE ..]", "Fix up DNSSEC fields (order, auth)",
         aliases=("zone rectify",))
def rectify_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, None, "rectify-zone ZONE [ZONE ..]")
    code = 0
    for text in args:
        zone = zone_arg(text)
        done = rectify_one(ctx, zone)
        if done is None:
            ctx.warn(f"No SOA known for '{zone}', is such a zone in the database?")
            code = 1
        elif not _report(ctx, done):
            code = 1
    return code


@command("rectify-all-zones", "rectify-all-zones [quiet]",
         "Rectify all zones. Optionally quiet output with errors only",
         aliases=("zone rectify-all",))
def rectify_all_zones(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "rectify-all-zones [quiet]")
    quiet = bool(args) and args[0] == "quiet"
    if args and not quiet:
        raise UsageError("rectify-all-zones [quiet]")
    count = 0
    ok = True
    with_soa: dict[int, set[str]] = {}
    for info, backend in ctx.zones():
        if not isinstance(backend, GSQLBackend):
            continue
        zone = info.name.rstrip(".") or "."
        if id(backend) not in with_soa:
            with_soa[id(backend)] = zones_with_soa(backend)
        if zone not in with_soa[id(backend)]:
            continue  # pdnsutil lists only zones with an SOA here
        done = rectify_one(ctx, zone)
        if done is None:
            continue
        count += 1
        if not quiet:
            ctx.err.write(f"Rectifying {zone}: ")
        ok = _report(ctx, done, quiet) and ok
    if not quiet:
        ctx.say(f"Rectified {count} zones.")
    return 0 if ok else 1


@command("hash-zone-record", "hash-zone-record ZONE RNAME",
         "Calculate the NSEC3 hash for RNAME in ZONE")
def hash_zone_record(ctx: Context, args: list[str]) -> int:
    require(args, 2, None, "hash-zone-record ZONE RNAME")  # pdnsutil ignores more
    shown = args[0] if args[0] in ("", ".") else args[0].removesuffix(".")
    try:
        zone = "." if shown in ("", ".") else db_name(".".join(
            label_text(lab) for lab in name_labels(shown)))
        record = name_labels(args[1])
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    param = _nsec3param(ctx, zone)
    if param is None:
        ctx.warn(f"The '{shown}' zone does not use NSEC3")
        return 0
    text, narrow = param
    try:
        _, _, iterations, salt = parse_nsec3param(text)
    except NSEC3ParamError as exc:
        raise Failure(f"Error: {exc}") from None
    if narrow:
        ctx.warn(f"The '{shown}' zone uses narrow NSEC3, but calculating hash anyhow")
    ctx.say(hashed_label(record, salt, iterations))
    return 0


def _nsec3param(ctx: Context, zone: str) -> tuple[str, bool] | None:
    """The NSEC3PARAM metadata of ``zone`` and whether it is narrow, as PowerDNS reads them
    (none from an SQL backend whose ``dnssec`` setting is off)."""
    from fastdns.dnssec.stores import keystore_for

    store = keystore_for(ctx, zone)
    if store is None or (isinstance(store, GSQLBackend) and not backend_dnssec(ctx, store)):
        return None
    values = store.get_meta(zone, "NSEC3PARAM")
    if not values or not values[0]:
        return None
    narrow = store.get_meta(zone, "NSEC3NARROW")
    return values[0], bool(narrow) and narrow[0] == "1"

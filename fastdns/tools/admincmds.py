"""Metadata, autoprimaries and backend commands of fastdns-util (pdnsutil 4.7's texts)."""

from __future__ import annotations

import os
import sqlite3
import time

from fastdns.backends.gsql import GSQLBackend, Row
from fastdns.config.settings import parse_address
from fastdns.tools.sqlextra import (
    copy_keys_and_comments,
    copy_tsig_keys,
    rrset_rows,
    set_notified_serial,
)
from fastdns.tools.utilcore import (
    Context,
    Failure,
    Progress,
    UsageError,
    command,
    dotted,
    require,
    zone_arg,
)
from fastdns.tools.zonecmds import zone_rows
from fastdns.zone.source import BackendError

#: metadata kinds add-meta may add to (pdnsutil 4.7's list; X- kinds too)
MULTI_VALUE = ("ALLOW-AXFR-FROM", "ALLOW-DNSUPDATE-FROM", "ALSO-NOTIFY", "TSIG-ALLOW-AXFR",
               "TSIG-ALLOW-DNSUPDATE", "GSS-ALLOW-AXFR-PRINCIPAL", "PUBLISH-CDS")


# --------------------------------------------------------------------------------------------
# metadata


def _meta_zone(ctx: Context, text: str) -> tuple[str, GSQLBackend]:
    zone = zone_arg(text)
    return zone, ctx.sql_zone(zone, "Invalid zone '{zone}'")


@command("add-meta", "add-meta ZONE KIND VALUE [VALUE ...]",
         "Add zone metadata, this adds to the existing KIND", aliases=("metadata add",))
def add_meta(ctx: Context, args: list[str]) -> int:
    require(args, 2, None, "add-meta ZONE KIND VALUE [VALUE ...]")
    kind = args[1]
    if kind.upper() not in MULTI_VALUE and not kind.upper().startswith("X-"):
        raise Failure(f"Refusing to add metadata to single-value metadata {kind}")
    zone, backend = _meta_zone(ctx, args[0])
    values = backend.get_meta(zone, kind) + args[2:]
    backend.set_meta(zone, kind, values)
    ctx.say(f"Set '{zone}' meta {kind} = {', '.join(values)}")
    return 0


@command("set-meta", "set-meta ZONE KIND [VALUE VALUE ..]",
         "Set zone metadata, optionally providing a value. *No* value clears meta",
         aliases=("metadata set",))
def set_meta(ctx: Context, args: list[str]) -> int:
    require(args, 2, None, "set-meta ZONE KIND [VALUE VALUE ..]")
    zone, backend = _meta_zone(ctx, args[0])
    backend.set_meta(zone, args[1], args[2:])
    ctx.say(f"Set '{zone}' meta {args[1]} = {', '.join(args[2:])}")
    return 0


@command("get-meta", "get-meta ZONE [KIND ...]",
         "Get zone metadata. If no KIND given, lists all known", aliases=("metadata get",))
def get_meta(ctx: Context, args: list[str]) -> int:
    require(args, 1, None, "get-meta ZONE [KIND ...]")
    zone, backend = _meta_zone(ctx, args[0])
    ctx.say(f"Metadata for '{zone}'")
    if len(args) > 1:
        for kind in args[1:]:
            ctx.say(f"{kind} = {', '.join(backend.get_meta(zone, kind))}")
    else:
        for kind, values in sorted(backend.all_meta(zone).items()):
            ctx.say(f"{kind} = {', '.join(values)}")
    return 0


# --------------------------------------------------------------------------------------------
# autoprimaries


def _autoprimary_backend(ctx: Context) -> GSQLBackend:
    backends = ctx.sql_backends()
    if not backends:
        raise Failure("Error: no launched backend stores autoprimaries (launch an SQL "
                      "backend)")
    return backends[0]


@command("add-autoprimary", "add-autoprimary IP NAMESERVER [account]",
         "Add a new autoprimary", aliases=("add-supermaster", "autoprimary add"))
def add_autoprimary(ctx: Context, args: list[str]) -> int:
    require(args, 2, 3, "add-autoprimary IP NAMESERVER [account]")
    try:
        ip = parse_address(args[0])
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    if ip.port is not None:
        raise Failure(f"Error: '{args[0]}' is not an IP address (no port here)")
    backend = _autoprimary_backend(ctx)
    try:
        backend.add_autoprimary(ip.host, zone_arg(args[1]), args[2] if len(args) > 2 else "")
    except BackendError as exc:
        raise Failure(f"Error: unable to insert an autoprimary with IP {ip.host} and "
                      f"nameserver name '{zone_arg(args[1])}': {exc}") from None
    return 0


@command("list-autoprimaries", "list-autoprimaries", "List all autoprimaries",
         aliases=("list-supermasters", "autoprimary list"))
def list_autoprimaries(ctx: Context, args: list[str]) -> int:
    require(args, 0, 0, "list-autoprimaries")
    for backend in ctx.sql_backends():
        for ip, ns, account in backend.list_autoprimaries():
            ctx.say(f"IP={ip}, NS={ns}, account={account}")
    return 0


@command("remove-autoprimary", "remove-autoprimary IP NAMESERVER", "Remove an autoprimary",
         aliases=("remove-supermaster", "autoprimary remove"))
def remove_autoprimary(ctx: Context, args: list[str]) -> int:
    require(args, 2, 2, "remove-autoprimary IP NAMESERVER")
    try:
        ip = parse_address(args[0]).host
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    for backend in ctx.sql_backends():
        try:
            backend.remove_autoprimary(ip, zone_arg(args[1]))
        except BackendError:
            continue  # pdnsutil says nothing when there was no such autoprimary
    return 0


# --------------------------------------------------------------------------------------------
# b2b-migrate


@command("b2b-migrate", "b2b-migrate OLD NEW", "Move all data from one backend to another",
         aliases=("backend migrate",))
def b2b_migrate(ctx: Context, args: list[str]) -> int:
    if len(args) != 2:
        raise UsageError("b2b-migrate OLD NEW")
    src, dst = ctx.backend(args[0]), ctx.backend(args[1])
    if src is None:
        raise Failure(f"Unknown source backend '{args[0]}'")
    if dst is None:
        raise Failure(f"Unknown target backend '{args[1]}'")
    if src is dst:
        raise Failure("Error: Source and target backend must be different")
    if not isinstance(dst, GSQLBackend):
        raise Failure(f"Error: Target backend '{args[1]}' cannot store zones")
    ctx.say(f"Moving zone(s) from {args[0]} to {args[1]}")
    if dst.list_zones():
        raise Failure("Error: Target backend has zone(s), please clean it first")
    for info in src.list_zones():
        zone = info.name.rstrip(".") or "."
        ctx.say(f"Processing '{zone}'")
        _migrate_zone(ctx, src, dst, zone, info.kind)
    keys = copy_tsig_keys(src, dst) if isinstance(src, GSQLBackend) else 0
    ctx.say(f"Moved {keys} TSIG key(s)")
    ctx.say("Remember to drop the old backend and run rectify-all-zones")
    return 0


def _migrate_zone(ctx: Context, src: object, dst: GSQLBackend, zone: str, kind: str) -> None:
    primaries: tuple[str, ...] = ()
    account = ""
    if isinstance(src, GSQLBackend):
        info = src.zone_info(zone) or {}
        primaries = tuple(p for p in info.get("master", "").replace(",", " ").split() if p)
        account = info.get("account", "")
    dst.create_zone(zone, kind=kind, primaries=primaries, account=account)
    try:
        rows = zone_rows(src, zone)
    except Exception as exc:
        raise Failure(f"Error: zone was not loaded: {exc}") from None
    progress = Progress(ctx.err, f"Copying '{zone}'", len(rows))
    count = dst.replace_zone_records(zone, rows, progress=lambda n: progress.update(n, n))
    progress.finish(count)
    metas = 0
    keys = comments = 0
    if isinstance(src, GSQLBackend):
        for meta_kind, values in sorted(src.all_meta(zone).items()):
            dst.set_meta(zone, meta_kind, values)
            metas += len(values)
        keys, comments = copy_keys_and_comments(src, dst, zone)
    ctx.say(f"Moved {count} record(s), {comments} comment(s), {metas} metadata(s) and {keys} "
            "cryptokey(s)")


# --------------------------------------------------------------------------------------------
# create-bind-db, test-schema, bench-db

#: the bind-dnssec-db schema (PowerDNS's bind backend keeps keys and metadata in it)
BIND_DNSSEC_SCHEMA = (
    "CREATE TABLE domainmetadata (id INTEGER PRIMARY KEY, domain VARCHAR(255) COLLATE "
    "NOCASE, kind VARCHAR(32) COLLATE NOCASE, content TEXT)",
    "CREATE INDEX domainmetanameindex on domainmetadata(domain)",
    "CREATE TABLE cryptokeys (id INTEGER PRIMARY KEY, domain VARCHAR(255) COLLATE NOCASE, "
    "flags INT NOT NULL, active BOOL, published BOOL DEFAULT 1, content TEXT)",
    "CREATE INDEX domainnameindex on cryptokeys(domain)",
    "CREATE TABLE tsigkeys (id INTEGER PRIMARY KEY, name VARCHAR(255) COLLATE NOCASE, "
    "algorithm VARCHAR(50) COLLATE NOCASE, secret VARCHAR(255))",
    "CREATE UNIQUE INDEX namealgoindex on tsigkeys(name, algorithm)",
)


def create_bind_db(path: str) -> None:
    """Create the SQLite file ``bind-dnssec-db`` names; Failure if it exists."""
    if os.path.exists(path):
        raise Failure(f"Error: Error creating database in BIND backend: SQLite database "
                      f"'{path}' already exists")
    try:
        conn = sqlite3.connect(path)
        with conn:
            for statement in BIND_DNSSEC_SCHEMA:
                conn.execute(statement)
        conn.close()
    except sqlite3.Error as exc:
        raise Failure(f"Error: Error creating database in BIND backend: {exc}") from None


@command("create-bind-db", "create-bind-db FNAME",
         "Create DNSSEC db for BIND backend (bind-dnssec-db)", offline=True)
def create_bind_db_cmd(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "create-bind-db FNAME")
    create_bind_db(args[0])
    return 0


@command("hash-password", "hash-password [WORK FACTOR]",
         "Ask for a plaintext password or api key and output a hashed and salted version",
         offline=True)
def hash_password_cmd(ctx: Context, args: list[str]) -> int:
    """As pdnsutil's: the secret is one line of standard input (asked without echo on a
    terminal); WORK FACTOR is scrypt's N, a power of two (1024 by default)."""
    import getpass
    import math

    from fastdns.api.credentials import hash_password

    require(args, 0, 1, "hash-password [WORK FACTOR]")
    factor = 1024
    if args:
        if not args[0].isdigit():
            raise Failure(f"Unable to parse the supplied work factor: '{args[0]}'")
        factor = int(args[0])
        if factor < 2 or factor & (factor - 1) or factor > 2**20:
            raise Failure("Error while hashing the supplied password: Invalid work factor of "
                          f"{factor} passed to hashPassword() (a power of two up to 2^20)")
    if ctx.stdin.isatty():
        secret = getpass.getpass("Enter password: ")
    else:
        secret = ctx.stdin.readline().rstrip("\r\n")
    ctx.say(hash_password(secret, ln=int(math.log2(factor))))
    return 0


@command("test-schema", "test-schema ZONE", "Test DB schema - will create ZONE",
         aliases=("backend test-schema",))
def test_schema(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "test-schema ZONE")
    zone = zone_arg(args[0])
    ctx.say("Note: test-schema will try to create the zone, but it will not remove it.")
    ctx.say("Please clean up after this.")
    ctx.say()
    ctx.say("If this test reports an error and aborts, please check your database schema.")
    backends = ctx.sql_backends()
    if not backends:
        raise Failure("Error: no launched backend stores zones")
    backend = backends[0]
    ctx.say("Picking first backend - if this is not what you want, edit launch line!")
    problems = backend.check_schema()
    for problem in problems:
        ctx.say(f"[-] {problem}")
    if problems:
        raise Failure("Schema check failed, aborting")
    ctx.say(f"Creating secondary zone {zone}")
    backend.create_zone(zone, kind="secondary", primaries=("127.0.0.1",), account="_testschema")
    ctx.say("Secondary zone created")
    soa = Row(zone, "SOA", "ns1.example.com. ahu.example.com. 2012081039 7200 3600 1209600 "
              "3600", 3600)
    ctx.say("Starting transaction to feed records")
    ctx.say("Feeding SOA")
    ctx.say("Feeding overlong TXT")
    overlong = '"' + "A" * 300 + '"'
    backend.replace_zone_records(zone, [soa, Row(zone, "TXT", overlong, 3600)])
    ctx.say("Committing")
    ctx.say("Querying TXT")
    txt = rrset_rows(backend, zone, zone, "TXT")
    if not txt or txt[0].content != overlong:
        raise Failure("[-] content field is not over 255 bytes or was cut, aborting")
    ctx.say("[+] content field is over 255 bytes")
    ctx.say("Dropping all records, inserting SOA+2xA")
    ctx.say("Feeding SOA")
    backend.replace_zone_records(zone, [soa, Row(f"_underscore.{zone}", "A", "127.0.0.1", 3600),
                                        Row(f"z.{zone}", "A", "127.0.0.1", 3600)])
    ctx.say("Committing")
    ctx.say("Rectifying zone")
    backend.rectify_zone(zone)
    ctx.say("Checking underscore ordering")
    names = [r.name for r in backend.zone_rows(zone) if r.type == "A"]
    if sorted(names) != [f"_underscore.{zone}", f"z.{zone}"]:
        raise Failure(f"names read back are wrong: {names}, aborting")
    ctx.say("[+] names read back in the order they sort in")
    ctx.say("Setting low notified serial")
    if set_notified_serial(backend, zone, 500) != 500:
        raise Failure("[-] notified_serial was not stored, aborting")
    ctx.say("Setting serial that needs 32 bits")
    if set_notified_serial(backend, zone, 2**31 + 500) != 2**31 + 500:
        raise Failure("[-] Big serials are not stored correctly, aborting")
    ctx.say("[+] Big serials work correctly")
    ctx.say()
    ctx.say(f"End of tests, please remove {zone} from zones+records")
    return 0


@command("bench-db", "bench-db [filename]",
         "Bench database backend with queries, one zone per line",
         aliases=("backend bench-db",))
def bench_db(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "bench-db [filename]")
    if args:
        try:
            with open(args[0]) as handle:
                zones = [zone_arg(line.strip()) for line in handle if line.strip()]
        except OSError as exc:
            raise Failure(f"Error: could not open '{args[0]}': {exc.strerror}") from None
    else:
        zones = [info.name.rstrip(".") or "." for info, _ in ctx.zones()] or ["example.com"]
    checks = 10000
    started = time.perf_counter()
    for backend in [b for _, b in ctx.backends]:
        backend.list_zones()
    for i in range(checks):
        zone = zones[i % len(zones)]
        for _, backend in ctx.backends:
            try:
                backend.change_token(dotted(zone))
            except Exception:
                pass
    check_ms = (time.perf_counter() - started) * 1000 / checks
    records = 0
    started = time.perf_counter()
    loads = 0
    for zone in zones:
        backend = ctx.find(zone)
        if backend is not None:
            records += backend.load_image(dotted(zone)).records
            loads += 1
    load_ms = (time.perf_counter() - started) * 1000 / max(loads, 1)
    ctx.say(f"{check_ms:.7f} millisecond/change check")
    ctx.say(f"{load_ms:.3f} millisecond/zone load, {loads} zones, {records} records")
    return 0


# --------------------------------------------------------------------------------------------
# the change log (fastdns's own: see docs/sql-backends.md)

def _change_log_backend(ctx: Context):
    backends = ctx.sql_backends()
    if not backends:
        raise Failure("Error: no launched backend stores zones")
    return backends[0]


@command("install-change-log", "install-change-log",
         "Install fastdns's change log (a table and triggers) in the first SQL backend, so "
         "that the server's change check reads one small table")
def install_change_log(ctx: Context, args: list[str]) -> int:
    require(args, 0, 0, "install-change-log")
    backend = _change_log_backend(ctx)
    if backend.has_change_log():
        ctx.say(f"The change log is already installed in backend '{backend.name}'")
        return 0
    backend.install_change_log()
    ctx.say(f"Installed the change log in backend '{backend.name}'")
    return 0


@command("remove-change-log", "remove-change-log",
         "Remove fastdns's change log (table and triggers) from the first SQL backend")
def remove_change_log(ctx: Context, args: list[str]) -> int:
    require(args, 0, 0, "remove-change-log")
    backend = _change_log_backend(ctx)
    if not backend.has_change_log():
        ctx.say(f"No change log is installed in backend '{backend.name}'")
        return 0
    backend.remove_change_log()
    ctx.say(f"Removed the change log from backend '{backend.name}'")
    return 0

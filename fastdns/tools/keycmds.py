"""DNSSEC key and metadata commands of fastdns-util, with pdnsutil 4.7's names, arguments,
texts and exit codes (docs/dnssec.md "Keys and fastdns-util" lists where they differ).

Keys and DNSSEC metadata live beside the zone (fastdns.dnssec.keystore): the ``cryptokeys``
and ``domainmetadata`` tables of the SQL backend that has the zone, or the
``bind-dnssec-db`` file for a zone of the bind backend.  Private keys leave the store only
through ``export-zone-key`` and ``export-zone-key-pem``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastdns.dnssec import keygen
from fastdns.dnssec.keygen import KeygenError, SecurePlan
from fastdns.dnssec.keys import (
    ALGORITHMS,
    DIGESTS,
    KSK_FLAGS,
    MNEMONICS,
    ZSK_FLAGS,
    KeyFormatError,
    ZoneKey,
    algorithm_name,
    ds_text,
    name_wire,
)
from fastdns.dnssec.keystore import KeyRow, KeyStore
from fastdns.dnssec.stores import keystore_for
from fastdns.dnssec.zonesec import parse_nsec3param
from fastdns.tools.utilcore import (
    Context,
    Failure,
    Progress,
    UsageError,
    command,
    require,
    zone_arg,
)
from fastdns.zone.source import BackendError

NO_ZONE = "No such zone in the database"
#: a zone whose backend keeps no keys (``<backend>-dnssec=no``, bind without bind-dnssec-db)
NO_DNSSEC = ("No backend was able to secure '{zone}', most likely because no DNSSEC\n"
             "capable backends are loaded, or because the backends have DNSSEC disabled.\n"
             "For the Generic SQL backends, set the 'gsqlite3-dnssec', 'gmysql-dnssec' or\n"
             "'gpgsql-dnssec' flag; for the bind backend, set 'bind-dnssec-db' (and make it "
             "with\n'fastdns-util create-bind-db').")
RECTIFY_HINT = "please rectify your zone if your backend needs it (or reload it if you are " \
    "using the bindbackend)"
ALGORITHM_WORDS = "rsasha1|rsasha1-nsec3-sha1|rsasha256|rsasha512|ecdsa256|ecdsa384|" \
    "ed25519|ed448"
ADD_KEY_USAGE = (f"add-zone-key ZONE [zsk|ksk] [BITS] [active|inactive] "
                 f"[published|unpublished] [{ALGORITHM_WORDS}]\n\n"
                 "If zsk|ksk is omitted, add-zone-key makes a key with flags 256 (a 'ZSK').")
#: key types as pdnsutil shows them
KSK, ZSK, CSK = "KSK", "ZSK", "CSK"


# --------------------------------------------------------------------------------------------
# helpers


def _store(ctx: Context, zone: str, missing: str = NO_ZONE) -> KeyStore:
    """The key store of ``zone``; Failure(missing) when no backend has the zone, and a
    clear Failure when it is a BIND zone without ``bind-dnssec-db``."""
    if ctx.find(zone) is None:
        raise Failure(missing.format(zone=zone))
    store = keystore_for(ctx, zone)
    if store is None:
        raise Failure(NO_DNSSEC.format(zone=zone))
    return store


def _key_id(text: str) -> int:
    if not text.isdigit() or int(text) >= 2**31:
        raise Failure(f"Invalid KEY-ID '{text}'")
    return int(text)


class _Key:
    """A key row of a zone with its key and pdnsutil's type for it."""

    def __init__(self, row: KeyRow) -> None:
        self.row = row
        self.key: ZoneKey | None
        try:
            self.key = ZoneKey.from_isc(row.content, row.flags)
            self.error = ""
        except KeyFormatError as exc:
            self.key, self.error = None, str(exc)
        self.type = CSK


def _keyset(store: KeyStore, zone: str, rows: list[KeyRow] | None = None) -> list[_Key]:
    """The keys of ``zone`` in pdnsutil's order and with its types: per algorithm, a key is
    a KSK or a ZSK only when the algorithm has both an active SEP key and an active
    non-SEP key, else a CSK; ZSKs and CSKs come first, then KSKs, each by id."""
    keys = [_Key(row) for row in (store.keys(zone) if rows is None else rows)]
    sep: set[int] = set()
    nonsep: set[int] = set()
    for k in keys:
        if k.key is not None and k.row.active:
            (sep if k.row.flags == KSK_FLAGS else nonsep).add(k.key.algorithm)
    for k in keys:
        if k.key is not None and k.key.algorithm in sep & nonsep:
            k.type = KSK if k.row.flags == KSK_FLAGS else ZSK
    keys.sort(key=lambda k: (k.type == KSK, k.row.id))
    return keys


def _find_key(store: KeyStore, zone: str, key_id: int) -> ZoneKey:
    for row in store.keys(zone):
        if row.id == key_id:
            try:
                return ZoneKey.from_isc(row.content, row.flags)
            except KeyFormatError as exc:
                raise Failure(f"Error: key {key_id} of zone '{zone}' cannot be read: "
                              f"{exc}") from None
    raise Failure(f"Error: Can't find a key with id {key_id} for zone '{zone}'")


def _ds_lines(zone: str, key: ZoneKey, verbose: bool) -> list[str]:
    owner = name_wire(zone)
    rdata = key.dnskey_rdata()
    return [f"{zone}. IN DS {ds_text(owner, rdata, digest)} ; ( {DIGESTS[digest][1]} )"
            for digest in ((1, 2, 4) if verbose else (2, 4))]


def _presigned(store: KeyStore, zone: str) -> bool:
    return (store.get_meta(zone, "PRESIGNED") or [""])[0].strip() == "1"


def _algorithm(word: str) -> int:
    try:
        return keygen.algorithm(word)
    except KeygenError as exc:
        raise Failure(f"Error: {exc}") from None


def _generate(algorithm: int, flags: int, bits: int) -> ZoneKey:
    """A new key as add-zone-key/secure-zone make it (pdnsutil's errors)."""
    try:
        return keygen.generate(algorithm, flags, bits)
    except KeygenError as exc:
        raise Failure(f"Error: {exc}") from None


def _rectify(ctx: Context, zone: str) -> None:
    """Rectify a zone just secured, as pdnsutil's secure-zone does (rectify-zone's own
    code, fastdns.tools.zonecmds, says what it did)."""
    from fastdns.tools import zonecmds

    try:
        message = zonecmds.rectify_one(ctx, zone)
    except (BackendError, Failure) as exc:
        ctx.warn(f"Error: rectifying '{zone}' failed: {exc}")
        return
    if message is None:
        return
    for line in (message,) if isinstance(message, str) else (message.info, message.error):
        if line:
            ctx.warn(line)


# --------------------------------------------------------------------------------------------
# securing zones


class _Plan:
    """What secure-zone makes (fastdns.dnssec.keygen.SecurePlan), its refusals as
    Failures."""

    def __init__(self, ctx: Context) -> None:
        try:
            self._plan = SecurePlan(ctx.config)
        except KeygenError as exc:
            raise Failure(f"Error: {exc}") from None

    def lines(self) -> list[str]:
        return self._plan.lines()

    def keys(self) -> list[tuple[int, str]]:
        """(flags, ISC text) of the new keys, KSK first: all active and published."""
        try:
            return self._plan.keys()
        except KeygenError as exc:
            raise Failure(f"Error: {exc}") from None


def _listed_zones(ctx: Context) -> list[tuple[str, Any]]:
    """(zone, backend) as pdnsutil's listings of all zones see them: an SQL zone only when
    it has an enabled SOA at its apex."""
    from fastdns.backends.gsql import GSQLBackend
    from fastdns.backends.sqlbase import db_name
    from fastdns.tools.sqlextra import zones_with_soa

    with_soa: dict[int, set[str]] = {}
    out = []
    for info, backend in ctx.zones():
        zone = info.name.rstrip(".") or "."
        if isinstance(backend, GSQLBackend):
            if id(backend) not in with_soa:
                with_soa[id(backend)] = zones_with_soa(backend)
            if db_name(zone) not in with_soa[id(backend)]:
                continue
        out.append((zone, backend))
    return out


def _groups(ctx: Context) -> list[tuple[KeyStore, list[str]]]:
    """The listed zones that have a key store, grouped by store (one per backend)."""
    groups: dict[int, tuple[KeyStore, list[str]]] = {}
    for zone, backend in _listed_zones(ctx):
        store = groups[id(backend)][0] if id(backend) in groups else keystore_for(ctx, zone)
        if store is not None:
            groups.setdefault(id(backend), (store, []))[1].append(zone)
    return list(groups.values())


@command("secure-zone", "secure-zone ZONE [ZONE ..]",
         "Add DNSSEC to zone ZONE (a CSK, or a KSK and a ZSK with default-zsk-algorithm)")
def secure_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, None, "secure-zone ZONE [ZONE ..]")
    plan = _Plan(ctx)
    code = 0
    secured: list[str] = []
    for text in args:
        zone = zone_arg(text)
        try:
            if ctx.find(zone) is not None and keystore_for(ctx, zone) is None:
                for line in plan.lines():      # pdnsutil says what it tried first
                    ctx.say(line)
            store = _store(ctx, zone, "Can't find a zone called '{zone}'")
            if keygen.is_secured(store, zone):
                raise Failure(f"Zone '{zone}' already secure, remove keys with fastdns-util "
                              "remove-zone-key if needed")
            keys = plan.keys()
        except Failure as exc:
            ctx.warn(str(exc))
            code = 1
            continue
        for line in plan.lines():
            ctx.say(line)
        store.add_keys_many([(zone, flags, True, True, content) for flags, content in keys])
        ctx.say(f"Zone {zone} secured")
        secured.append(zone)
    ctx.out.flush()
    for zone in secured:
        _rectify(ctx, zone)
    return code


class _ZoneProgress(Progress):
    """Progress counted in zones secured (``done``: zones looked at)."""

    def update(self, count: int, done: int = 0) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.1:
            return
        self._shown = now
        share = f" {min(100, 100 * done // self.total)}%" if self.total and done else ""
        self.stream.write(f"\r{self.label}:{share} {count:,} secured\x1b[K")
        self.stream.flush()

    def finish(self, count: int) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r{self.label}: {count:,} secured in {elapsed:.1f}s\x1b[K\n")
            self.stream.flush()


@command("secure-all-zones", "secure-all-zones [increase-serial]",
         "Secure all zones without keys")
def secure_all_zones(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "secure-all-zones [increase-serial]")
    if args and args[0] != "increase-serial":
        raise UsageError("secure-all-zones [increase-serial]")
    plan = _Plan(ctx)
    lines = plan.lines()
    # one store per backend; which zones are secured already: two queries per store
    groups = _groups(ctx)
    progress = _ZoneProgress(ctx.err, "Securing zones", sum(len(names) for _, names in groups))
    secured = errors = done = 0
    from fastdns.tools import zonecmds

    for store, names in groups:
        with_keys = store.keys_many(names)
        presigned = store.meta_many(names, ("PRESIGNED",))
        batch: list[tuple[str, int, bool, bool, str]] = []
        #: (zone, what to print, secured): printed once the batch is stored
        report: list[tuple[str, str, bool]] = []
        for zone in names:
            done += 1
            if zone in with_keys or (presigned.get(zone, {}).get("PRESIGNED") or [""])[0] \
                    .strip() == "1":
                continue
            try:
                keys = plan.keys()
            except Failure as exc:
                report.append((zone, f"Securing {zone}: {exc}", False))
                errors += 1
                continue
            batch += [(zone, flags, True, True, content) for flags, content in keys]
            report.append((zone, f"Securing {zone}: " + "\n".join(lines)
                           + f"\nZone {zone} secured", True))
            secured += 1
            progress.update(secured, done)
        store.add_keys_many(batch)
        for zone, text, ok in report:
            ctx.say(text)
            if ok and args:     # increase-serial, after each zone as pdnsutil does
                try:
                    zonecmds.increase_serial(ctx, [zone])
                except Failure as exc:
                    ctx.warn(str(exc))
                    errors += 1
    progress.finish(secured)
    ctx.say(f"Secured: {secured} zones. Errors: {errors}")
    return 0


@command("disable-dnssec", "disable-dnssec ZONE",
         "Deactivate all keys and unset PRESIGNED and NSEC3PARAM in ZONE")
def disable_dnssec(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "disable-dnssec ZONE")
    zone = zone_arg(args[0])
    try:
        store = _store(ctx, zone)
        rows = store.keys(zone)
        if not rows:
            raise Failure(f"No keys for zone '{zone}'.")
    except Failure as exc:
        raise Failure(f"{exc}\nCannot disable DNSSEC on {zone}") from None
    for row in rows:
        store.remove_key(zone, row.id)
    for kind in ("NSEC3PARAM", "NSEC3NARROW", "PRESIGNED"):
        store.set_meta(zone, kind, [])
    return 0


# --------------------------------------------------------------------------------------------
# adding keys


@command("add-zone-key", ADD_KEY_USAGE.split("\n")[0],
         "Add a ZSK or KSK to zone and specify algo&bits")
def add_zone_key(ctx: Context, args: list[str]) -> int:
    if len(args) < 2:
        raise UsageError(ADD_KEY_USAGE)
    zone = zone_arg(args[0])
    flags, active, published, bits, algorithm = ZSK_FLAGS, False, True, 0, 13
    for word in args[1:]:
        low = word.lower()
        if low in ("zsk", "ksk"):
            flags = KSK_FLAGS if low == "ksk" else ZSK_FLAGS
        elif low in ("active", "inactive"):
            active = low == "active"
        elif low in ("published", "unpublished"):
            published = low == "published"
        elif low.isdigit():
            bits = int(low)
        elif low in MNEMONICS:
            algorithm = MNEMONICS[low]
        else:
            raise Failure(f"Error: Unknown algorithm, key flag or size '{word}'")
    store = _store(ctx, zone)
    key = _generate(algorithm, flags, bits)
    key_id = store.add_key(zone, flags, active, published, key.to_isc())
    ctx.say(str(key_id))
    ctx.warn(f"Added a {'KSK' if flags == KSK_FLAGS else 'ZSK'} with algorithm = {algorithm}, "
             f"active={int(active)}")
    if bits:
        ctx.warn(f"Requested specific key size of {bits} bits")
    return 0


@command("generate-zone-key", f"generate-zone-key zsk|ksk [{ALGORITHM_WORDS}] [bits]",
         "Generate a ZSK or KSK to stdout with specified ALGORITHM and BITS")
def generate_zone_key(ctx: Context, args: list[str]) -> int:
    usage = f"generate-zone-key zsk|ksk [{ALGORITHM_WORDS}] [bits]"
    require(args, 1, 3, usage)
    if args[0].lower() not in ("zsk", "ksk"):
        raise UsageError(usage)
    flags = KSK_FLAGS if args[0].lower() == "ksk" else ZSK_FLAGS
    algorithm, bits = 13, 0
    for word in args[1:]:
        if word.isdigit():
            bits = int(word)
        else:
            algorithm = _algorithm(word)
    kind = "KSK" if flags == KSK_FLAGS else "ZSK"
    ctx.warn(f"Generating a {kind} with algorithm = {algorithm}")
    if bits:
        ctx.warn(f"Requesting specific key size of {bits} bits")
    elif algorithm in ALGORITHMS and ALGORITHMS[algorithm].family == "rsa":
        bits = 2048 if flags == KSK_FLAGS else 1024
    key = _generate(algorithm, flags, bits)
    ctx.say(f"Flags: {flags}")
    ctx.say(key.to_isc())
    return 0


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        raise Failure(f"Error: Unable to read file '{path}' for generating DNS Private "
                      "Key") from None


@command("import-zone-key", "import-zone-key ZONE FILE [ksk|zsk] [active|inactive] "
         "[published|unpublished]", "Import from a file a private key, ZSK or KSK")
def import_zone_key(ctx: Context, args: list[str]) -> int:
    usage = "import-zone-key ZONE FILE [ksk|zsk] [active|inactive] [published|unpublished]"
    require(args, 2, 5, usage)
    zone = zone_arg(args[0])
    flags, active, published = KSK_FLAGS, True, True
    for word in args[2:]:
        low = word.lower()
        if low in ("zsk", "ksk"):
            flags = KSK_FLAGS if low == "ksk" else ZSK_FLAGS
        elif low in ("active", "inactive"):
            active = low == "active"
        elif low in ("published", "unpublished"):
            published = low == "published"
        else:
            raise Failure(f"Unknown key flag '{word}'")
    text = _read(args[1])
    try:
        key = ZoneKey.from_isc(text, flags)
    except KeyFormatError as exc:
        raise Failure(f"Error: {exc}") from None
    store = _store(ctx, zone)
    ctx.say(str(store.add_key(zone, flags, active, published, key.to_isc())))
    return 0


@command("import-zone-key-pem", "import-zone-key-pem ZONE FILE ALGORITHM {ksk|zsk}",
         "Import a private key from PEM file")
def import_zone_key_pem(ctx: Context, args: list[str]) -> int:
    usage = "import-zone-key-pem ZONE FILE ALGORITHM {ksk|zsk}"
    require(args, 4, 4, usage)
    zone = zone_arg(args[0])
    if args[3].lower() not in ("ksk", "zsk"):
        raise UsageError(usage)
    flags = KSK_FLAGS if args[3].lower() == "ksk" else ZSK_FLAGS
    algorithm = _algorithm(args[2])
    if algorithm not in ALGORITHMS:
        raise Failure(f"Error: Unsupported algorithm {algorithm} ({algorithm_name(algorithm)})")
    text = _read(args[1])
    try:
        key = ZoneKey.from_pem(text, algorithm, flags)
    except KeyFormatError as exc:
        raise Failure(f"Error: {exc}") from None
    store = _store(ctx, zone)
    ctx.say(str(store.add_key(zone, flags, True, True, key.to_isc())))
    return 0


# --------------------------------------------------------------------------------------------
# exporting


def _export_args(ctx: Context, args: list[str], usage: str) -> tuple[str, ZoneKey]:
    require(args, 2, 2, usage)
    zone = zone_arg(args[0])
    key_id = _key_id(args[1])
    missing = f"Error: Can't find a key with id {key_id} for zone '{zone}'"
    if ctx.find(zone) is None:
        raise Failure(missing)
    return zone, _find_key(_store(ctx, zone, missing), zone, key_id)


@command("export-zone-key", "export-zone-key ZONE KEY-ID",
         "Export to stdout the private key (ISC format)")
def export_zone_key(ctx: Context, args: list[str]) -> int:
    _, key = _export_args(ctx, args, "export-zone-key ZONE KEY-ID")
    ctx.say(key.to_isc())
    return 0


@command("export-zone-key-pem", "export-zone-key-pem ZONE KEY-ID",
         "Export to stdout the private key (PEM format)")
def export_zone_key_pem(ctx: Context, args: list[str]) -> int:
    _, key = _export_args(ctx, args, "export-zone-key-pem ZONE KEY-ID")
    ctx.out.write(key.to_pem())
    return 0


@command("export-zone-dnskey", "export-zone-dnskey ZONE KEY-ID",
         "Export to stdout the public key")
def export_zone_dnskey(ctx: Context, args: list[str]) -> int:
    zone, key = _export_args(ctx, args, "export-zone-dnskey ZONE KEY-ID")
    ctx.say(f"{zone} IN DNSKEY {key.dnskey_text()}")
    return 0


@command("export-zone-ds", "export-zone-ds ZONE",
         "Export to stdout all KSK DS records for ZONE")
def export_zone_ds(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "export-zone-ds ZONE")
    zone = zone_arg(args[0])
    store = _store(ctx, zone)
    presigned = _presigned(store, zone)
    keys = _keyset(store, zone) if not presigned else []
    if not keys and not presigned:
        raise Failure("Zone is not actively secured")
    if not keys:      # a presigned zone: its keys are in the zone, not here
        ctx.warn(f"No keys for zone '{zone}'.")
    for k in keys:
        if k.key is not None and k.type != ZSK:
            for line in _ds_lines(zone, k.key, ctx.verbose):
                ctx.say(line)
    return 0


# --------------------------------------------------------------------------------------------
# listing and showing


def _list_line(zone: str, k: _Key) -> str:
    key = k.key
    assert key is not None
    # each column padded to its width less one, then one space (as pdnsutil's setw); a
    # zone name too long for its column stands on a line of its own
    head = f"{zone:<29} " if len(zone) < 30 else f"{zone}\n{'':30}"
    return (f"{head}{k.type:<4} {'Act' if k.row.active else '':<3} "
            f"{'Pub' if k.row.published else '':<3} {key.bits:<7} "
            f"{algorithm_name(key.algorithm):<15} {k.row.id:<4} {'cryptokeys':<11} {key.tag}")


@command("list-keys", "list-keys [ZONE]", "List DNSSEC keys for ZONE. When ZONE is unset, "
         "display keys for all active zones")
def list_keys(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "list-keys [ZONE]")
    if args:
        zone = zone_arg(args[0])
        if ctx.find(zone) is None:
            raise Failure(f"Zone {zone} not found.")
        stores = [(_store(ctx, zone), [zone])]
    else:
        stores = _groups(ctx)
    ctx.say("Zone                          Type Act Pub Size    Algorithm       ID   "
            "Location    Keytag")
    ctx.say("-" * 90)
    for store, names in stores:
        rows = store.keys_many(names)
        for name in names:
            for k in _keyset(store, name, rows.get(name, [])):
                if k.key is None:
                    ctx.warn(f"Key {k.row.id} of zone '{name}' cannot be read: {k.error}")
                    continue
                ctx.say(_list_line(name, k))
    return 0


def _kind_line(ctx: Context, zone: str) -> None:
    from fastdns.backends.gsql import GSQLBackend

    backend = ctx.find(zone)
    info = backend.zone_info(zone) if isinstance(backend, GSQLBackend) else None
    kind = info["kind"] if info else "primary"
    ctx.say("This is a " + {"primary": "Master", "secondary": "Slave", "producer": "Producer",
                            "consumer": "Consumer"}.get(kind, "Native") + " zone")
    if kind in ("primary", "producer"):
        serial = _serial(ctx, backend, zone)
        notified = (info or {}).get("notified_serial") or 0
        if serial is None:
            ctx.say(f"Last SOA serial number we notified: {notified} != ? (no SOA in the "
                    "database)")
        else:
            ctx.say(f"Last SOA serial number we notified: {notified} "
                    f"{'==' if int(notified) == serial else '!='} {serial} "
                    "(serial in the database)")
    elif kind == "secondary" and info is not None:
        ctx.say("Primary: " + "".join(f"{p}:53 " if ":" not in p else f"{p} "
                                      for p in info["master"].replace(",", " ").split()))
        last = info.get("last_check") or 0
        ctx.say("Last time we got update from primary: "
                + (time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(int(last)))
                   if last else "Never"))
        serial = _serial(ctx, backend, zone)
        ctx.say("No SOA serial found in database" if serial is None
                else f"SOA serial in database: {serial}")


def _serial(ctx: Context, backend: Any, zone: str) -> int | None:
    from fastdns.backends.gsql import GSQLBackend
    from fastdns.tools.sqlextra import rrset_rows

    if isinstance(backend, GSQLBackend):
        soa = [r for r in rrset_rows(backend, zone, zone, "SOA") if not r.disabled]
        fields = soa[0].content.split() if soa else []
        return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else None
    try:
        from fastdns.tools.zonecmds import zone_rows

        for row in zone_rows(backend, zone):
            if row.type == "SOA":
                fields = row.content.split()
                return int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else None
    except Exception:
        return None
    return None


@command("show-zone", "show-zone ZONE", "Show DNSSEC (public) information about a zone")
def show_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "show-zone ZONE")
    zone = zone_arg(args[0])
    store = _store(ctx, zone)
    _kind_line(ctx, zone)
    meta = store.all_meta(zone)
    upper = {kind.upper(): values for kind, values in meta.items()}
    presigned = (upper.get("PRESIGNED") or [""])[0].strip() == "1"
    keys = _keyset(store, zone) if not presigned else []
    if not keys and not presigned:
        ctx.say("Zone is not actively secured")
    if meta:
        ctx.say("Metadata items: ")
        for kind in sorted(meta):
            for value in meta[kind]:
                ctx.say(f"\t{kind}\t{value}")
    else:
        ctx.say("Metadata items: None")
    if presigned:
        ctx.say("Zone is presigned")
    elif keys:
        param = (upper.get("NSEC3PARAM") or [""])[0]
        if param:
            narrow = (upper.get("NSEC3NARROW") or [""])[0].strip() == "1"
            ctx.say(f"Zone has {'NARROW ' if narrow else ''}hashed NSEC3 semantics, "
                    f"configuration: {param}")
        else:
            ctx.say("Zone has NSEC semantics")
    if not keys:
        ctx.warn(f"No keys for zone '{zone}'.")
        return 0
    ctx.say("keys: ")
    for k in keys:
        if k.key is None:
            ctx.say(f"ID = {k.row.id}, flags = {k.row.flags}: this key cannot be read: "
                    f"{k.error}")
            continue
        name = algorithm_name(k.key.algorithm)
        ctx.say(f"ID = {k.row.id} ({k.type}), flags = {k.row.flags}, tag = {k.key.tag}, "
                f"algo = {k.key.algorithm}, bits = {k.key.bits}\t"
                f"{'  Active' if k.row.active else 'Inactive'}\t "
                f"{'Published' if k.row.published else 'Unpublished'}  ( {name} ) ")
        if k.type != ZSK:
            ctx.say(f"{k.type} DNSKEY = {zone}. IN DNSKEY {k.key.dnskey_text()} ; ( {name} )")
            for line in _ds_lines(zone, k.key, ctx.verbose):
                ctx.say(f"DS = {line}")
    return 0


# --------------------------------------------------------------------------------------------
# changing keys


def _key_change(ctx: Context, args: list[str], usage: str, change: str) -> int:
    require(args, 2, 2, usage)
    zone = zone_arg(args[0])
    key_id = _key_id(args[1])
    missing = f"Can't find a key with id {key_id} for zone '{zone}'"
    store = _store(ctx, zone, missing)
    if change == "remove":
        found = store.remove_key(zone, key_id)
    elif change in ("activate", "deactivate"):
        found = store.set_key_active(zone, key_id, change == "activate")
    else:
        found = store.set_key_published(zone, key_id, change == "publish")
    if not found:
        raise Failure(missing)
    return 0


@command("activate-zone-key", "activate-zone-key ZONE KEY-ID",
         "Activate the key with key id KEY-ID in ZONE")
def activate_zone_key(ctx: Context, args: list[str]) -> int:
    return _key_change(ctx, args, "activate-zone-key ZONE KEY-ID", "activate")


@command("deactivate-zone-key", "deactivate-zone-key ZONE KEY-ID",
         "Deactivate the key with key id KEY-ID in ZONE")
def deactivate_zone_key(ctx: Context, args: list[str]) -> int:
    return _key_change(ctx, args, "deactivate-zone-key ZONE KEY-ID", "deactivate")


@command("publish-zone-key", "publish-zone-key ZONE KEY-ID",
         "Publish the zone key with key id KEY-ID in ZONE")
def publish_zone_key(ctx: Context, args: list[str]) -> int:
    return _key_change(ctx, args, "publish-zone-key ZONE KEY-ID", "publish")


@command("unpublish-zone-key", "unpublish-zone-key ZONE KEY-ID",
         "Unpublish the zone key with key id KEY-ID in ZONE")
def unpublish_zone_key(ctx: Context, args: list[str]) -> int:
    return _key_change(ctx, args, "unpublish-zone-key ZONE KEY-ID", "unpublish")


@command("remove-zone-key", "remove-zone-key ZONE KEY-ID",
         "Remove key with KEY-ID from ZONE")
def remove_zone_key(ctx: Context, args: list[str]) -> int:
    return _key_change(ctx, args, "remove-zone-key ZONE KEY-ID", "remove")


# --------------------------------------------------------------------------------------------
# algorithms

_ENGINES = {"rsa": "RSA", "ecdsa": "ECDSA", "eddsa": "EdDSA"}


@command("list-algorithms", "list-algorithms [with-backend]",
         "List all DNSSEC algorithms supported, optionally also listing the crypto library "
         "used")
def list_algorithms(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "list-algorithms [with-backend]")
    if args and args[0] != "with-backend":
        raise UsageError("list-algorithms [with-backend]")
    ctx.say("DNSKEY algorithms supported by this installation of fastdns:")
    for number, info in ALGORITHMS.items():
        engine = f" using cryptography {_ENGINES[info.family]}" if args else ""
        ctx.say(f"{number} - {info.name}{engine}")
    return 0


def _test_key(number: int) -> ZoneKey:
    info = ALGORITHMS[number]
    if info.generate:
        return ZoneKey.generate(number, ZSK_FLAGS, 1024 if info.family == "rsa" else 0)
    from cryptography.hazmat.primitives.asymmetric import rsa

    return ZoneKey(number, ZSK_FLAGS, rsa.generate_private_key(65537, 1024))


@command("test-algorithms", "test-algorithms", "Test all DNSSEC algorithms")
def test_algorithms(ctx: Context, args: list[str]) -> int:
    require(args, 0, 0, "test-algorithms")
    data = b"fastdns test-algorithms: the signing input of an RRSIG" * 4
    failed = False
    for number, info in ALGORITHMS.items():
        engine = f"cryptography {_ENGINES[info.family]}"
        started = time.perf_counter()
        key = _test_key(number)
        created = time.perf_counter()
        again = ZoneKey.from_isc(key.to_isc(), key.flags)
        signature = again.sign(data)
        signed = time.perf_counter()
        ok = key.verify(data, signature) and not key.verify(data + b".", signature)
        verified = time.perf_counter()
        head = (f"Testing algorithm {number}({info.name}): '{engine}' ->'{engine}' -> "
                f"'{engine}' ({key.bits} bits) ")
        if ok:
            ctx.say(head + f"Signature & verify ok, create {_usec(started, created)}usec, "
                    f"signature {_usec(created, signed)}usec, verify "
                    f"{_usec(signed, verified)}usec")
        else:
            ctx.say(head + "Verify failed")
            failed = True
    return 1 if failed else 0


def _usec(start: float, end: float) -> int:
    return int((end - start) * 1_000_000)


# --------------------------------------------------------------------------------------------
# DNSSEC metadata


def _meta_store(ctx: Context, args: Sequence[str]) -> tuple[str, KeyStore]:
    zone = zone_arg(args[0])
    return zone, _store(ctx, zone)


@command("set-publish-cds", "set-publish-cds ZONE [DIGESTALGOS]",
         "Enable sending CDS responses for ZONE, using DIGESTALGOS as signature algorithms; "
         "DIGESTALGOS should be a comma separated list of numbers, it is '2' by default")
def set_publish_cds(ctx: Context, args: list[str]) -> int:
    require(args, 1, 2, "set-publish-cds ZONE [DIGESTALGOS]")
    value = args[1] if len(args) > 1 else "2"
    for word in value.split(","):
        # 0: the RFC 8078 delete record (CDS 0 0 0 00), as PowerDNS publishes it
        if not word.isdigit() or (int(word) not in DIGESTS and value != "0"):
            raise Failure(f"Error: '{word}' in '{value}' is not a DS digest algorithm fastdns "
                          "publishes (1, 2 or 4; 0 alone: the delete record)")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PUBLISH-CDS", [value])
    return 0


@command("unset-publish-cds", "unset-publish-cds ZONE",
         "Disable sending CDS responses for ZONE")
def unset_publish_cds(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "unset-publish-cds ZONE")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PUBLISH-CDS", [])
    return 0


@command("set-publish-cdnskey", "set-publish-cdnskey ZONE [delete]",
         "Enable sending CDNSKEY responses for ZONE. Add 'delete' to publish a CDNSKEY with a "
         "DNSSEC delete algorithm")
def set_publish_cdnskey(ctx: Context, args: list[str]) -> int:
    require(args, 1, 2, "set-publish-cdnskey ZONE [delete]")
    if len(args) > 1 and args[1] != "delete":
        raise UsageError("set-publish-cdnskey ZONE [delete]")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PUBLISH-CDNSKEY", ["0" if len(args) > 1 else "1"])
    return 0


@command("unset-publish-cdnskey", "unset-publish-cdnskey ZONE",
         "Disable sending CDNSKEY responses for ZONE")
def unset_publish_cdnskey(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "unset-publish-cdnskey ZONE")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PUBLISH-CDNSKEY", [])
    return 0


@command("set-presigned", "set-presigned ZONE", "Use presigned RRSIGs from storage")
def set_presigned(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "set-presigned ZONE")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PRESIGNED", ["1"])
    return 0


@command("unset-presigned", "unset-presigned ZONE", "Stop using presigned RRSIGs on ZONE")
def unset_presigned(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "unset-presigned ZONE")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "PRESIGNED", [])
    return 0


@command("set-nsec3", "set-nsec3 ZONE ['PARAMS' [narrow]]",
         "Enable NSEC3 with PARAMS (default '1 0 0 -'); optionally narrow")
def set_nsec3(ctx: Context, args: list[str]) -> int:
    usage = "set-nsec3 ZONE ['PARAMS' [narrow]]"
    require(args, 1, 3, usage)
    if len(args) > 2 and args[2] != "narrow":
        raise UsageError(usage)
    zone = zone_arg(args[0])
    text = args[1] if len(args) > 1 else "1 0 0 -"
    try:
        param = parse_nsec3param(text)
    except ValueError as exc:
        raise Failure(f"Error: {exc}") from None
    if len(text.split()) > 4:
        raise Failure(f"Error: trailing data after the salt in '{text}'")
    if param.algorithm != 1:
        raise Failure(f"NSEC3PARAM algorithm set to '{param.algorithm}', but '1' is the only "
                      "valid value")
    limit = int(ctx.config["max-nsec3-iterations"])
    if param.iterations > limit:
        raise Failure(f"Error: NSEC3PARAMs provided for zone '{zone}' are invalid: Number of "
                      "NSEC3 iterations is above 'max-nsec3-iterations'.")
    store = _store(ctx, zone)
    store.set_meta(zone, "NSEC3PARAM", [param.text()])
    store.set_meta(zone, "NSEC3NARROW", ["1"] if len(args) > 2 else [])
    optout = " (opt-out)" if param.flags else ""
    if store.keys(zone) or _presigned(store, zone):
        ctx.warn(f"NSEC3{optout} set, Done, {RECTIFY_HINT}")
    else:
        ctx.warn(f"NSEC3{optout} set, Done, please secure and rectify your zone (or reload "
                 "it if you are using the bindbackend)")
    return 0


@command("unset-nsec3", "unset-nsec3 ZONE", "Switch ZONE back to NSEC")
def unset_nsec3(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "unset-nsec3 ZONE")
    zone, store = _meta_store(ctx, args)
    store.set_meta(zone, "NSEC3PARAM", [])
    store.set_meta(zone, "NSEC3NARROW", [])
    ctx.warn(f"Done, {RECTIFY_HINT}")
    return 0

"""check-zone, check-all-zones and edit-zone (pdnsutil 4.7's messages and prompts)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass

from fastdns.backends.gsql import GSQLBackend, Row
from fastdns.dnssec.nsec3 import NSEC3ParamError, parse_nsec3param
from fastdns.tools.utilcore import Context, Failure, command, require, zone_arg
from fastdns.tools.zonecmds import (
    backend_dnssec,
    full_content,
    next_serial,
    rectify_one,
    split_prio,
    zone_rows,
)
from fastdns.zone.content import ContentError, pdns_content, rdata_wire
from fastdns.zone.records import ZoneFileError, ZoneReader

_NAMES = ("NS", "CNAME", "PTR", "DNAME", "MX", "SRV")


def _parsed_form(row: Row) -> str | None:
    """What PowerDNS prints when it parses ``row``'s content back, when that can differ
    from the stored text; raises ContentError for content that does not parse."""
    rtype, content = row.type or "", row.content
    if rtype == "LUA":
        rdata_wire(rtype, content, row.prio)
        return None
    if rtype == "A" or rtype == "AAAA":
        family = socket.AF_INET if rtype == "A" else socket.AF_INET6
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, content))
        except OSError:
            raise ContentError("unable to parse IP address") from None
    if rtype in _NAMES and "\\" not in content and not content.endswith(".") and \
            rtype not in ("MX", "SRV"):
        rdata_wire(rtype, content, row.prio)
        return content
    rdtype, wire = rdata_wire(rtype, content, row.prio)
    from fastdns.tools.zonecmds import _from_wire
    text, prio = pdns_content(_from_wire(rdtype, wire))
    return f"{prio} {text}" if rtype in ("MX", "SRV") else text


class _Findings:
    """The messages of one check, in the order pdnsutil prints them, and their counts."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.errors = 0
        self.warnings = 0

    def error(self, text: str, counted: bool = True) -> None:
        self.lines.append(f"[Error] {text}")
        self.errors += counted

    def warning(self, text: str) -> None:
        self.lines.append(f"[Warning] {text}")
        self.warnings += 1


@dataclass
class ZoneDNSSEC:
    """What check-zone's DNSSEC checks need to know of a zone (PowerDNS's view of it)."""

    #: the backend's ``dnssec`` setting (auth is checked only then)
    dnssec: bool = False
    secured: bool = False
    presigned: bool = False
    nsec3: bool = False
    opt_out: bool = False
    #: ``direct-dnskey``, and the SOA minimum its DNSKEY TTLs are compared with
    direct_dnskey: bool = False


def _in(name: str, parent: str) -> bool:
    """``name`` is ``parent`` or below it (names lowercase, no trailing dot)."""
    return parent == "." or name == parent or name.endswith("." + parent)


def _canonical(name: str) -> tuple[str, ...]:
    return () if name == "." else tuple(reversed(name.split(".")))


def check_rows(zone: str, rows: list[Row], sec: ZoneDNSSEC | None = None
               ) -> tuple[_Findings, int]:
    """The findings for ``zone``'s served rows, as pdnsutil words them, and how many records
    were checked (empty non-terminal rows count, as in pdnsutil)."""
    sec = sec or ZoneDNSSEC()
    ents = [r for r in rows if not r.type and not r.disabled]
    rows = [r for r in rows if r.type and not r.disabled]
    found = _Findings()
    soa = [r for r in rows if r.type == "SOA" and r.name == zone]
    if not soa:
        found.error(f"No SOA record present, or active, in zone '{zone}'")
        return found, 0
    suffix = "" if zone == "." else "." + zone
    by_name: dict[str, set[str]] = defaultdict(set)
    seen: set[tuple[str, str, str]] = set()
    cuts: set[tuple[str, str]] = set()
    for row in rows:
        text = f"{row.name} IN {row.type} {full_content(row)}"
        try:
            parsed = _parsed_form(row)
        except ContentError as exc:
            found.error(f'Following record had a problem: "{text}"')
            found.error(f"Error was: Parsing record content (try 'fastdns-util check-zone'): "
                        f"{exc}", counted=False)
            continue
        if row.type == "AAAA" and "." in row.content:
            found.warning(f"Following record is not a valid IPv6 address: {row.name} IN AAAA "
                          f"'{row.content}'")
        elif parsed is not None and row.type != "AAAA" and \
                parsed.lower() != full_content(row).lower() and parsed != f'"{row.content}"':
            found.warning(f"Parsed and original record content are not equal: {row.name} IN "
                          f"{row.type} '{full_content(row)}' (Content parsed as '{parsed}')")
        if row.name != zone and not row.name.endswith(suffix):
            found.error(f"Record '{text}' in zone '{zone}' is out-of-zone.")
            continue
        key = (row.name, row.type or "", parsed if parsed is not None else full_content(row))
        if key in seen:
            found.error(f"Duplicate record found in rrset: '{text}'")
            continue
        seen.add(key)
        if sec.secured and sec.opt_out and row.name.split(".")[0] == "*":
            found.warning(f"wildcard record '{text}' is insecure")
            found.lines.append("[Info] Wildcard records in opt-out zones are insecure. Disable "
                               "the opt-out flag for this zone to avoid this warning. Command: "
                               f"pdnsutil set-nsec3 {zone}")
        if row.name == zone:
            if row.type == "DS":
                found.warning(f"DS at apex in zone '{zone}', should not be here.")
        elif row.type == "DNSKEY":
            found.warning(f"DNSKEY record not at apex '{text}' in zone '{zone}', should not "
                          "be here.")
        elif row.type in ("NS", "DNAME"):
            cuts.add((row.name, row.type))
        if row.type == "RRSIG" and not sec.presigned:
            found.error(f"RRSIG found at '{row.name}' in non-presigned zone. These do not "
                        "belong in the database.")
            continue
        if row.type in ("NSEC", "NSEC3"):
            found.error(f"NSEC or NSEC3 found at '{row.name}'. These do not belong in the "
                        "database.")
            continue
        if row.type == "DNSKEY" and not sec.presigned:
            minimum = _soa_minimum(soa[0])
            if not sec.direct_dnskey:
                found.warning(f"DNSKEY at '{row.name}' in non-presigned zone will mostly be "
                              "ignored and can cause problems.")
            elif row.ttl != minimum:
                found.warning(f"DNSKEY TTL of {row.ttl} at '{row.name}' differs from SOA "
                              f"minimum of {minimum}")
        by_name[row.name].add(row.type or "")
    records = sorted(rows + ents, key=lambda r: (r.name, r.type or ""))
    _check_names(zone, records, by_name, cuts, found, sec)
    return found, len(rows) + len(ents)


def _soa_minimum(soa: Row) -> int:
    fields = soa.content.split()
    return int(fields[6]) if len(fields) > 6 and fields[6].isdigit() else 0


def _check_names(zone: str, rows: list[Row], by_name: dict[str, set[str]],
                 cuts: set[tuple[str, str]], found: _Findings, sec: ZoneDNSSEC) -> None:
    for name in sorted(by_name, key=lambda n: tuple(reversed(n.split(".")))):
        types = by_name[name]
        if "CNAME" in types and types - {"CNAME", "RRSIG", "NSEC"}:
            found.error(f"CNAME {name} found, but other records with same label exist.")
    if "NS" not in by_name.get(zone, set()):
        found.error(f"No NS record at zone apex in zone '{zone}'")
    order = sorted(cuts, key=lambda c: (_canonical(c[0]), c[1] != "NS"))
    for cut, kind in order:
        for row in rows:
            rtype = row.type or "ENT"
            if cut == row.name and ((rtype in ("NS", "DS") and kind == "NS") or
                                    (rtype == "DNAME" and kind == "DNAME")):
                continue
            if _in(row.name, cut) and (kind == "DNAME" or rtype not in ("ENT", "A", "AAAA")):
                what = "delegation" if kind == "NS" else "DNAME"
                found.warning(f"'{row.name}|{rtype}' in zone '{zone}' is occluded by a {what} "
                              f"at '{cut}'")
    for row in rows:
        if row.type in ("MX", "SRV", "NS"):
            target = row.content.split()[-1].lower().rstrip(".") if row.content else ""
            if "CNAME" in by_name.get(target, set()):
                found.warning(f"'{row.name}|{row.type} has a target ({target}) that is a "
                              "CNAME.")
    delegations = [cut for cut, kind in order if kind == "NS"]
    for row in rows:
        _check_auth(zone, row, delegations, found, sec)


def _check_auth(zone: str, row: Row, delegations: list[str], found: _Findings,
                sec: ZoneDNSSEC) -> None:
    """pdnsutil's last pass: a DS without a delegation, and (with the backend's ``dnssec``
    on) an ``auth`` that rectify would change."""
    rtype = row.type or "ENT"
    ok, ds_ns, done = row.auth, False, not sec.dnssec
    for cut in delegations:
        if cut == row.name:
            ds_ns = True
        if done:
            continue
        if not row.auth:
            if _in(row.name, cut) and (cut != row.name or rtype != "DS"):
                ok = done = True
            if rtype == "ENT" and _in(cut, row.name):
                ok = done = True
        elif _in(row.name, cut) and (cut != row.name or rtype != "DS" or rtype == "NS"):
            ok, done = False, True
    if not ds_ns and rtype == "DS" and row.name != zone:
        found.warning(f"DS record without a delegation '{row.name}'.")
    if not ok:
        found.error(f"Following record is auth={int(row.auth)}, run pdnsutil rectify-zone?: "
                    f"{row.name} IN {rtype} {full_content(row)}")


def zone_dnssec(ctx: Context, zone: str, backend: object) -> ZoneDNSSEC:
    """PowerDNS's view of ``zone``'s DNSSEC state: its keys and metadata, none at all from an
    SQL backend whose ``dnssec`` setting is off."""
    from fastdns.dnssec.stores import keystore_for

    sec = ZoneDNSSEC(direct_dnskey=bool(ctx.config["direct-dnskey"])
                     if "direct-dnskey" in ctx.config else False)
    if isinstance(backend, GSQLBackend):
        if not backend_dnssec(ctx, backend):
            return sec
        sec.dnssec = True
    store = keystore_for(ctx, zone)
    if store is None:
        return sec
    presigned = store.get_meta(zone, "PRESIGNED")
    sec.presigned = bool(presigned) and presigned[0] == "1"
    keys = store.keys(zone)
    sec.secured = sec.presigned or any(key.active for key in keys)
    param = store.get_meta(zone, "NSEC3PARAM")
    if param and param[0]:
        try:
            sec.opt_out = parse_nsec3param(param[0])[1] != 0
            sec.nsec3 = True
        except NSEC3ParamError as exc:
            raise Failure(f"Error: {exc}") from None
    return sec


def _key_findings(zone: str, store_keys: list[tuple[int, bool, str]], sec: ZoneDNSSEC,
                  found: _Findings) -> None:
    """pdnsutil's checks before the records: an NSEC3 zone too long for a hashed owner, and
    RSASHA1 (algorithm 5) keys in an NSEC3 zone."""
    if not sec.nsec3:
        return
    wire = 1 if zone == "." else len(zone) + 2
    if sec.secured and wire > 222:
        found.error(f"zone '{zone}' has NSEC3 semantics but is too long to have the hash "
                    f"prepended. Zone name is {wire} bytes long, whereas the maximum is 222 "
                    "bytes.")
    for key_id, active, content in store_keys:
        if re.search(r"^Algorithm:\s*5\b", content, re.MULTILINE):
            found.warning(f"zone '{zone}' has NSEC3 semantics, but the "
                          f"{'' if active else 'in'}active key with id {key_id} has "
                          "'Algorithm: 5'. This should be corrected to 'Algorithm: 7' in the "
                          "database (or NSEC3 should be disabled).")


def _invalid_keys(ctx: Context, zone: str, found: _Findings) -> None:
    """pdnsutil's check of a secured zone's private keys: one error for the zone, then a
    line per key that cannot be used (fastdns's reason, where pdnsutil prints OpenSSL's),
    before the records' findings."""
    from fastdns.dnssec.keys import KeyFormatError, ZoneKey
    from fastdns.dnssec.stores import keystore_for

    store = keystore_for(ctx, zone)
    if store is None:
        return
    reasons = []
    for key in store.keys(zone):
        try:
            ZoneKey.from_isc(key.content, key.flags)
        except KeyFormatError as exc:
            reasons.append(f"\tkey {key.id}: {exc}")
    if reasons:
        before = _Findings()
        before.error(f"zone '{zone}' has at least one invalid DNS Private Key.")
        found.lines[:0] = before.lines + reasons
        found.errors += before.errors


def report(ctx: Context, zone: str, rows: list[Row], backend: object = None,
           supplied: bool = False) -> int:
    """Print the check of ``zone``; the number of errors.  ``supplied``: rows that are not
    (yet) in the backend (edit-zone), whose ``auth`` is not checked."""
    sec = zone_dnssec(ctx, zone, backend) if backend is not None else ZoneDNSSEC()
    if supplied:
        sec.dnssec = False
    found, count = check_rows(zone, rows, sec)
    if sec.secured and not supplied:
        _invalid_keys(ctx, zone, found)
    if sec.nsec3 and count:
        from fastdns.dnssec.stores import keystore_for

        store = keystore_for(ctx, zone)
        keys = [(k.id, k.active, k.content) for k in store.keys(zone)] if store else []
        before = _Findings()
        _key_findings(zone, keys, sec, before)
        found.lines[:0] = before.lines
        found.errors += before.errors
        found.warnings += before.warnings
    for line in found.lines:
        ctx.say(line)
    ctx.say(f"Checked {count} records of '{zone}', {found.errors} errors, {found.warnings} "
            "warnings.")
    return found.errors


@command("check-zone", "check-zone ZONE", "Check a zone for correctness",
         aliases=("zone check",))
def check_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "check-zone ZONE")
    zone = zone_arg(args[0])
    backend = ctx.find(zone)
    if backend is None:
        ctx.say(f"[Error] Unable to get zone information for zone '{zone}'")
        return 1
    return 1 if report(ctx, zone, zone_rows(backend, zone), backend) else 0


@command("check-all-zones", "check-all-zones [exit-on-error]",
         "Check all zones for correctness. Set exit-on-error to exit immediately after "
         "finding an error in a zone.", aliases=("zone check-all",))
def check_all_zones(ctx: Context, args: list[str]) -> int:
    require(args, 0, 1, "check-all-zones [exit-on-error]")
    stop = bool(args) and args[0] == "exit-on-error"
    zones = bad = 0
    for info, backend in ctx.zones():
        zone = info.name.rstrip(".") or "."
        zones += 1
        if report(ctx, zone, zone_rows(backend, zone), backend):
            bad += 1
            if stop:
                return 1
    ctx.say(f"Checked {zones} zones, {bad} had errors.")
    return 1 if bad else 0


# --------------------------------------------------------------------------------------------
# edit-zone


def _canonical_key(row: Row) -> tuple:
    labels = [] if row.name == "." else row.name.split(".")
    return (row.type != "SOA", tuple(reversed(labels)), row.type or "")


def zone_text(rows: list[Row]) -> str:
    lines = ["; Warning - every name in this file is ABSOLUTE!", "$ORIGIN ."]
    for row in sorted((r for r in rows if r.type and not r.disabled), key=_canonical_key):
        lines.append(f"{row.name}\t{row.ttl}\tIN\t{row.type}\t{full_content(row)}")
    return "\n".join(lines) + "\n"


def _read_rows(path: str) -> list[Row]:
    rows = []
    for owner, rtype, ttl, content, _ in ZoneReader(path, "."):
        content, prio = split_prio(rtype, content)
        rows.append(Row(owner.lower(), rtype, content, ttl, prio))
    return rows


def _line(row: Row) -> str:
    return f"{row.name} {row.ttl} IN {row.type} {full_content(row)}"


def _ask(ctx: Context, prompt: str, choices: str) -> str:
    while True:
        ctx.out.write(prompt)
        ctx.out.flush()
        answer = ctx.stdin.readline()
        if not answer:
            ctx.say()
            return "q"  # end of input: quit (pdnsutil would ask forever)
        answer = answer.strip().lower()[:1]
        if answer and answer in choices:
            return answer


def _diff(ctx: Context, old: list[Row], new: list[Row]) -> bool:
    before = {_line(r) for r in old if r.type and not r.disabled}
    after = {_line(r) for r in new}
    if before == after:
        return False
    color = ctx.out.isatty()
    red, green, end = ("\x1b[0;31m", "\x1b[0;32m", "\x1b[0m") if color else ("", "", "")
    ctx.say("Detected the following changes:")
    for line in sorted(before - after):
        ctx.say(f"{red}-{line}{end}")
    for line in sorted(after - before):
        ctx.say(f"{green}+{line}{end}")
    ctx.say()
    return True


def _bump_serial(rows: list[Row], zone: str, soa_edit: str) -> list[Row]:
    out = []
    for row in rows:
        if row.type == "SOA" and row.name == zone:
            fields = row.content.split()
            if len(fields) > 2 and fields[2].isdigit():
                fields[2] = str(next_serial(int(fields[2]), soa_edit))
                row = Row(row.name, row.type, " ".join(fields), row.ttl, row.prio)
        out.append(row)
    return out


def _edit(ctx: Context, path: str) -> None:
    editor = os.environ.get("EDITOR") or "editor"
    try:
        subprocess.call([*shlex.split(editor), path])
    except OSError:
        subprocess.call(["vi", path])


@command("edit-zone", "edit-zone ZONE", "Edit zone contents using $EDITOR",
         aliases=("zone edit",))
def edit_zone(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "edit-zone ZONE")
    zone = zone_arg(args[0])
    backend = ctx.sql_zone(zone, "Zone '{zone}' not found!")
    old = backend.zone_rows(zone)
    fd, path = tempfile.mkstemp(prefix="fastdns-util-", suffix=f"-{zone}.zone")
    os.close(fd)
    try:
        return _edit_loop(ctx, backend, zone, old, path)
    finally:
        os.unlink(path)


def _edit_loop(ctx: Context, backend: GSQLBackend, zone: str, old: list[Row], path: str) -> int:
    original = zone_text(old)
    with open(path, "w") as handle:
        handle.write(original)
    while True:
        _edit(ctx, path)
        try:
            new = _read_rows(path)
        except ZoneFileError as exc:
            ctx.say(f"Error: {exc}")
            answer = _ask(ctx, "(e)dit again, (r)etry with original zone, (q)uit: ", "erq")
            if answer == "r":
                with open(path, "w") as handle:
                    handle.write(original)
            if answer in "er":
                continue
            return 1
        if report(ctx, zone, new, backend, supplied=True):
            answer = _ask(ctx, "There was a problem with your zone\nOptions are: (e)dit your "
                          "changes, (r)etry with original zone, (a)pply change anyhow, "
                          "(q)uit: ", "eraq")
            if answer == "r":
                with open(path, "w") as handle:
                    handle.write(original)
            if answer in "er":
                continue
            if answer == "q":
                return 1
        if not _diff(ctx, old, new):
            ctx.say("Nothing changed")
            return 0
        old_soa = [_line(r) for r in old if r.type == "SOA" and not r.disabled]
        if old_soa == [_line(r) for r in new if r.type == "SOA"]:
            answer = _ask(ctx, "You have not updated the SOA record! Would you like to "
                          "increase-serial?\n(y)es - increase serial, (n)o - leave SOA record "
                          "as is, (e)dit your changes, (q)uit: ", "yneq")
            if answer == "q":
                return 0
            if answer == "e":
                continue
            if answer == "y":
                edit = backend.get_meta(zone, "SOA-EDIT")
                new = _bump_serial(new, zone, edit[0] if edit else "")
                _diff(ctx, old, new)
        answer = _ask(ctx, "(a)pply these changes, (e)dit again, (r)etry with original zone, "
                      "(q)uit: ", "aerq")
        if answer == "a":
            backend.replace_zone_records(zone, new)
            done = rectify_one(ctx, zone)
            if done is not None:
                if done.info:
                    ctx.warn(done.info)
                if not done.ok and done.error:
                    ctx.warn(done.error)
            return 0
        if answer == "r":
            with open(path, "w") as handle:
                handle.write(original)
        if answer == "q":
            return 0
        if answer not in "er":
            raise Failure("Error: unexpected answer")

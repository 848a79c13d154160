"""check-zone, check-all-zones and edit-zone (pdnsutil 4.7's messages and prompts)."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import tempfile
from collections import defaultdict

from fastdns.backends.gsql import GSQLBackend, Row
from fastdns.tools.content import ContentError, pdns_content, rdata_wire
from fastdns.tools.utilcore import Context, Failure, command, require, zone_arg
from fastdns.tools.zonecmds import full_content, next_serial, split_prio, zone_rows
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


def check_rows(zone: str, rows: list[Row]) -> tuple[_Findings, int]:
    """The findings for ``zone``'s served rows, as pdnsutil words them, and how many records
    were checked."""
    rows = [r for r in rows if r.type and not r.disabled]
    found = _Findings()
    if not any(r.type == "SOA" and r.name == zone for r in rows):
        found.error(f"No SOA record present, or active, in zone '{zone}'")
        return found, 0
    suffix = "" if zone == "." else "." + zone
    by_name: dict[str, set[str]] = defaultdict(set)
    seen: set[tuple[str, str, str]] = set()
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
        key = (row.name, row.type or "", parsed if parsed is not None else full_content(row))
        if key in seen:
            found.error(f"Duplicate record found in rrset: '{text}'")
            continue
        seen.add(key)
        if row.type == "DS" and row.name == zone:
            found.warning(f"DS at apex in zone '{zone}', should not be here.")
        if row.name != zone and not row.name.endswith(suffix):
            found.error(f"Record '{text}' in zone '{zone}' is out-of-zone.")
            continue
        by_name[row.name].add(row.type or "")
    _check_names(zone, rows, by_name, found)
    return found, len(rows)


def _check_names(zone: str, rows: list[Row], by_name: dict[str, set[str]],
                 found: _Findings) -> None:
    for name in sorted(by_name, key=lambda n: tuple(reversed(n.split(".")))):
        types = by_name[name]
        if "CNAME" in types and types - {"CNAME", "RRSIG", "NSEC"}:
            found.error(f"CNAME {name} found, but other records with same label exist.")
    if "NS" not in by_name.get(zone, set()):
        found.error(f"No NS record at zone apex in zone '{zone}'")
    dnames = [n for n, t in by_name.items() if "DNAME" in t]
    for row in rows:
        for dname in dnames:
            if row.name.endswith("." + dname):
                found.warning(f"'{row.name}|{row.type}' in zone '{zone}' is occluded by a "
                              f"DNAME at '{dname}'")
    for row in rows:
        if row.type in ("MX", "SRV", "NS"):
            target = row.content.split()[-1].lower().rstrip(".") if row.content else ""
            if "CNAME" in by_name.get(target, set()):
                found.warning(f"'{row.name}|{row.type} has a target ({target}) that is a "
                              "CNAME.")
    for row in rows:
        if row.type == "DS" and row.name != zone and "NS" not in by_name.get(row.name, set()):
            found.warning(f"DS record without a delegation '{row.name}'.")


def report(ctx: Context, zone: str, rows: list[Row]) -> int:
    """Print the check of ``zone``; the number of errors."""
    found, count = check_rows(zone, rows)
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
    return 1 if report(ctx, zone, zone_rows(backend, zone)) else 0


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
        if report(ctx, zone, zone_rows(backend, zone)):
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
        if report(ctx, zone, new):
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
            ctx.warn(f"Adding empty non-terminals for non-DNSSEC zone '{zone}', "
                     f"{backend.rectify_zone(zone)} updates")
            return 0
        if answer == "r":
            with open(path, "w") as handle:
                handle.write(original)
        if answer == "q":
            return 0
        if answer not in "er":
            raise Failure("Error: unexpected answer")

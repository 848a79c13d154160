"""RRsets between the API's JSON and the backends' rows, and a zone change worked out before
anything is written.

Everything a request says is read and checked here first: names absolute (PowerDNS calls a
name without its trailing dot "not canonical"), inside the zone, types known, TTLs in range,
every record's content readable for its type (read by the server's own reader, as a served
record is, and stored as PowerDNS stores it), no record twice, no CNAME beside other data, one
SOA at the apex. A request with one bad RRset is refused whole (422) and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from fastdns.api.http import ApiError
from fastdns.backends.gsqlapi import Comment
from fastdns.backends.sqlbase import Row, db_name
from fastdns.zone.content import (
    PRIO_TYPES,
    ContentError,
    parse_content,
    pdns_content,
    rdata_wire,
    type_name,
)

MAX_TTL = 2**31 - 1
CHANGETYPES = ("REPLACE", "DELETE", "EXTEND", "PRUNE")
#: types whose content is quoted text, kept as the client wrote it
QUOTED = frozenset({"TXT", "SPF"})
#: types that may share their owner with a CNAME (RFC 4035 §2.5: DNSSEC's own)
BESIDE_CNAME = frozenset({"RRSIG", "NSEC", "NSEC3"})


@dataclass(slots=True)
class Record:
    content: str          # as the API shows it (names with their trailing dot)
    stored: str           # as PowerDNS stores it (no trailing dots, MX/SRV prio apart)
    prio: int
    disabled: bool


@dataclass(slots=True)
class RRsetEdit:
    name: str                           # absolute, lowercase
    type: str
    changetype: str
    ttl: int | None
    records: list[Record] | None        # None: not given
    comments: list[Comment] | None      # None: not given


# -- names -------------------------------------------------------------------------------------

def absolute_name(value: Any, what: str = "name") -> str:
    """An absolute name given by a client, lowercase with its trailing dot; 422 else."""
    if not isinstance(value, str) or not value:
        raise ApiError(422, f"'{what}' must be a non-empty string")
    if not value.endswith("."):
        raise ApiError(422, f"DNS Name '{value}' is not canonical")
    try:
        name = dns.name.from_text(value)
    except dns.exception.DNSException as exc:
        raise ApiError(422, f"Unable to parse DNS Name '{value}': {exc}") from None
    return name.to_text().lower()


def in_zone(name: str, zone: str) -> bool:
    return zone == "." or name == zone or name.endswith("." + zone)


# -- reading a request -------------------------------------------------------------------------

def _field(item: dict, key: str, kind: type | tuple[type, ...], where: str,
           required: bool = False) -> Any:
    if key not in item or item[key] is None:
        if required:
            raise ApiError(422, f"{where}: '{key}' is missing")
        return None
    value = item[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(422, f"{where}: '{key}' has the wrong type")
    return value


def read_rrsets(zone: str, items: Any, patch: bool) -> list[RRsetEdit]:
    """The ``rrsets`` of a request, checked; ``patch``: each needs its changetype (else
    every RRset is a REPLACE, as in a zone creation or a whole-zone PUT)."""
    if not isinstance(items, list):
        raise ApiError(422, "'rrsets' must be a list")
    out: list[RRsetEdit] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        if not isinstance(item, dict):
            raise ApiError(422, "each RRset must be an object")
        name = absolute_name(item.get("name"), "name")
        rtype_text = _field(item, "type", str, f"RRset {name}", required=True)
        rtype = type_name(rtype_text.upper()) if rtype_text.isascii() else None
        if rtype is None:
            raise ApiError(422, f"RRset {name} IN {rtype_text}: unknown type")
        where = f"RRset {name} IN {rtype}"
        if not in_zone(name, zone):
            raise ApiError(422, f"{where}: Name is out of zone")
        if (name, rtype) in seen:
            raise ApiError(422, f"{where}: Duplicate RRset in request")
        seen.add((name, rtype))
        changetype = "REPLACE"
        if patch:
            given = _field(item, "changetype", str, where, required=True)
            changetype = given.upper()
            if changetype not in CHANGETYPES:
                raise ApiError(422, f"{where}: Changetype '{given}' not understood")
        ttl = _field(item, "ttl", int, where)
        if ttl is not None and not 0 <= ttl <= MAX_TTL:
            raise ApiError(422, f"{where}: TTL {ttl} is out of range")
        records = _records(item, name, rtype, where) if "records" in item else None
        comments = _comments(item, where) if "comments" in item else None
        if changetype in ("REPLACE", "EXTEND") and records and ttl is None:
            raise ApiError(422, f"{where}: TTL is missing")
        if changetype in ("EXTEND", "PRUNE") and records is None:
            raise ApiError(422, f"{where}: {changetype} needs 'records'")
        if changetype == "REPLACE" and records is None and comments is None:
            raise ApiError(422, f"{where}: No records or comments given")
        if records is not None and changetype in ("REPLACE", "EXTEND"):
            _check_shape(zone, name, rtype, records, where)
        out.append(RRsetEdit(name, rtype, changetype, ttl, records, comments))
    return out


def _records(item: dict, name: str, rtype: str, where: str) -> list[Record]:
    given = item["records"]
    if not isinstance(given, list):
        raise ApiError(422, f"{where}: 'records' must be a list")
    out: list[Record] = []
    seen: set[tuple[str, int]] = set()
    for record in given:
        if not isinstance(record, dict):
            raise ApiError(422, f"{where}: each record must be an object")
        content = _field(record, "content", str, where, required=True)
        disabled = _field(record, "disabled", bool, where) or False
        if rtype in QUOTED and not content.startswith('"'):
            raise ApiError(422, f"Record {name}/{rtype} '{content}': Data field in DNS should "
                                "start with quote (\") at position 0")
        try:
            rd = parse_content(rtype, content)
        except ContentError as exc:
            raise ApiError(422, f"Record {name}/{rtype} '{content}': {exc}") from None
        stored, prio = pdns_content(rd)
        shown, _ = pdns_content(rd, dotted=True)
        if rtype in PRIO_TYPES:
            shown = f"{prio} {shown}"
        _names_absolute(name, rtype, content, shown)
        if rtype in QUOTED:
            # kept as written (PowerDNS shows a long string whole, not split at 255)
            stored = shown = content
        if (stored, prio) in seen:
            raise ApiError(422, f"Duplicate record in RRset {name} IN {rtype} with content "
                                f"\"{content}\"")
        seen.add((stored, prio))
        out.append(Record(shown, stored, prio, disabled))
    return out


def _names_absolute(name: str, rtype: str, content: str, shown: str) -> None:
    """A name in the content must be absolute, as PowerDNS's API wants it: ``10 mail``
    would be the name ``mail.`` at the root, which is never what was meant."""
    given = content.split()
    read = shown.split()
    if len(given) == len(read) and any(r == g + "." and not g.endswith(".")
                                       for g, r in zip(given, read, strict=True)):
        raise ApiError(422, f"Record {name}/{rtype} '{content}': Not in expected format "
                            f"(parsed as '{shown}')")


def _comments(item: dict, where: str) -> list[Comment]:
    given = item["comments"]
    if not isinstance(given, list):
        raise ApiError(422, f"{where}: 'comments' must be a list")
    out = []
    for comment in given:
        if not isinstance(comment, dict):
            raise ApiError(422, f"{where}: each comment must be an object")
        content = _field(comment, "content", str, where) or ""
        account = _field(comment, "account", str, where) or ""
        modified = _field(comment, "modified_at", int, where)
        out.append(Comment(content, account, int(time.time()) if modified is None
                           else modified))
    return out


def _check_shape(zone: str, name: str, rtype: str, records: list[Record], where: str) -> None:
    if rtype == "SOA" and name != zone:
        raise ApiError(422, f"{where}: SOA outside the zone apex")
    if rtype in ("SOA", "CNAME") and len(records) > 1:
        raise ApiError(422, f"{where}: only one {rtype} record may be in an RRset")


# -- a zone's state and a change to it --------------------------------------------------------

class ZoneState:
    """A zone's records by (owner, TYPE), as stored, with what a change did to them."""

    def __init__(self, zone: str, rows: Iterable[Row]) -> None:
        self.zone = zone
        self.sets: dict[tuple[str, str], list[Row]] = {}
        for row in rows:
            if row.type:
                owner = dns.name.from_text(row.name or ".").to_text().lower()
                self.sets.setdefault((owner, row.type.upper()), []).append(row)
        self.changed: dict[tuple[str, str], list[Row]] = {}
        self.comments: dict[tuple[str, str], list[Comment]] = {}

    def put(self, key: tuple[str, str], rows: list[Row]) -> None:
        if rows:
            self.sets[key] = rows
        else:
            self.sets.pop(key, None)
        self.changed[key] = rows

    def apply(self, edits: list[RRsetEdit]) -> None:
        for edit in edits:
            key = (edit.name, edit.type)
            old = self.sets.get(key, [])
            if edit.changetype == "DELETE":
                self.put(key, [])
                self.comments[key] = []
                continue
            if edit.comments is not None:
                self.comments[key] = edit.comments
            if edit.records is None:
                continue
            given = [_row(edit.name, edit.type, r, edit.ttl) for r in edit.records]
            if edit.changetype == "REPLACE":
                self.put(key, given)
            elif edit.changetype == "EXTEND":
                ttl = edit.ttl if edit.ttl is not None else (old[0].ttl if old else 3600)
                have = {(r.content, r.prio) for r in old}
                self.put(key, [_retimed(r, ttl) for r in old]
                         + [_retimed(r, ttl) for r in given if (r.content, r.prio) not in have])
            else:                                           # PRUNE
                gone = {(r.content, r.prio) for r in given}
                self.put(key, [r for r in old if (r.content, r.prio) not in gone])

    def check(self) -> None:
        """The zone after the change obeys the rules a server needs; 422 otherwise."""
        owners: dict[str, set[str]] = {}
        for (owner, rtype), rows in self.sets.items():
            if any(not r.disabled for r in rows):
                owners.setdefault(owner, set()).add(rtype)
        for owner, types in owners.items():
            if "CNAME" in types and types - BESIDE_CNAME - {"CNAME"}:
                raise ApiError(422, f"RRset {owner} IN CNAME: Conflicts with pre-existing "
                                    "RRset")
        if (self.zone, "SOA") not in self.sets:
            raise ApiError(422, f"Zone '{self.zone}' would have no SOA record")

    def soa(self) -> Row | None:
        rows = self.sets.get((self.zone, "SOA"))
        return rows[0] if rows else None

    def set_serial(self, serial: int) -> None:
        soa = self.soa()
        assert soa is not None
        fields = soa.content.split()
        fields[2] = str(serial)
        self.put((self.zone, "SOA"), [Row(soa.name, "SOA", " ".join(fields), soa.ttl,
                                          soa.prio, soa.disabled)])


def _row(name: str, rtype: str, record: Record, ttl: int | None) -> Row:
    return Row(db_name(name), rtype, record.stored, 3600 if ttl is None else ttl,
               record.prio, record.disabled)


def _retimed(row: Row, ttl: int) -> Row:
    return Row(row.name, row.type, row.content, ttl, row.prio, row.disabled)


def serial_of(soa: Row | None) -> int:
    if soa is None:
        return 0
    fields = soa.content.split()
    try:
        return int(fields[2])
    except (IndexError, ValueError):
        return 0


def increased_serial(serial: int, kind: str, soa_edit: str = "",
                     now: float | None = None) -> int:
    """The serial after an API change under SOA-EDIT-API ``kind`` (PowerDNS's
    ``increaseSOA`` kinds: DEFAULT, INCREASE, EPOCH, SOA-EDIT, SOA-EDIT-INCREASE;
    anything else leaves it)."""
    kind = kind.upper()
    now = time.time() if now is None else now
    if kind == "INCREASE":
        return (serial + 1) & 0xFFFFFFFF
    if kind == "EPOCH":
        return int(now) & 0xFFFFFFFF
    if kind == "DEFAULT":
        today = int(time.strftime("%Y%m%d", time.localtime(now))) * 100 + 1
        return today if serial < today else (serial + 1) & 0xFFFFFFFF
    if kind in ("SOA-EDIT", "SOA-EDIT-INCREASE"):
        edited = _soa_edit(serial, soa_edit, now)
        if kind == "SOA-EDIT-INCREASE" and edited <= serial:
            edited = (serial + 1) & 0xFFFFFFFF
        return edited
    return serial


def _soa_edit(serial: int, kind: str, now: float) -> int:
    kind = kind.upper()
    if kind in ("INCEPTION-INCREMENT", "INCEPTION-EPOCH"):
        # the inception of the signatures served now: the latest Thursday minus a week
        week = 7 * 86400
        thursday = int((now - 3 * 86400) // week) * week + 3 * 86400
        inception = thursday - week
        if kind == "INCEPTION-EPOCH":
            return max(serial, inception)
        day = int(time.strftime("%Y%m%d", time.gmtime(inception))) * 100 + 1
        return day if serial < day else serial
    if kind == "EPOCH":
        return int(now)
    if kind in ("INCREMENT-WEEKS",):
        return serial + int(now // (7 * 86400))
    return serial


# -- showing a zone ----------------------------------------------------------------------------

def shown_content(rtype: str, stored: str, prio: int) -> str:
    """A stored record as the API shows it; the stored text when it cannot be read."""
    if rtype in QUOTED:
        return stored
    try:
        code, wire = rdata_wire(rtype, stored, prio)
        rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(code), wire,
                                 0, len(wire))
        text, prio = pdns_content(rd, dotted=True)
    except (ContentError, dns.exception.DNSException, ValueError):
        return f"{prio} {stored}" if rtype in PRIO_TYPES else stored
    return f"{prio} {text}" if rtype in PRIO_TYPES else text


def rrsets_json(rows: Iterable[Row], comments: dict[tuple[str, str], list[Comment]],
                include_disabled: bool = True, only_name: str | None = None,
                only_type: str | None = None) -> list[dict[str, Any]]:
    """The RRsets of ``rows`` as the API shows them, in name and type order."""
    sets: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        if not row.type or (row.disabled and not include_disabled):
            continue
        sets.setdefault((row.name, row.type.upper()), []).append(row)
    for key in comments:
        sets.setdefault(key, [])
    out = []
    for (stored_name, rtype) in sorted(sets, key=_order):
        name = _dotted(stored_name)
        if only_name is not None and name != only_name:
            continue
        if only_type is not None and rtype != only_type:
            continue
        members = sets[(stored_name, rtype)]
        notes = comments.get((stored_name, rtype), [])
        out.append({
            "name": name, "type": rtype, "ttl": members[0].ttl if members else 0,
            "records": [{"content": shown_content(rtype, r.content, r.prio),
                         "disabled": bool(r.disabled)} for r in members],
            "comments": [{"content": c.content, "account": c.account,
                          "modified_at": c.modified_at} for c in notes],
        })
    return out


def _dotted(stored: str) -> str:
    return "." if stored in ("", ".") else stored + "."


def _order(key: tuple[str, str]) -> tuple[tuple[str, ...], str]:
    name, rtype = key
    return tuple(reversed(name.split("."))) if name not in ("", ".") else (), rtype

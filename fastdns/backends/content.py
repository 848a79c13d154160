"""PowerDNS ``records`` rows (presentation text) → zone data in wire form, and back.

PowerDNS keeps a record's data as text in ``content``: names absolute without the
trailing dot ("ns1.example.com"), MX/SRV without their priority (which is in ``prio``).
The common types take a fast path; every other type goes through dnspython's parser,
which is the reference for the text form (no dnspython object leaves this module).
"""

import socket
import struct
from collections.abc import Iterable

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from fastdns.consts import RdType
from fastdns.zone.model import RRset, ZoneData

#: types whose rdata is one domain name
_NAME_TYPES = {RdType.NS, RdType.CNAME, RdType.PTR, RdType.DNAME}
#: types that keep their priority in ``prio``
PRIO_TYPES = frozenset({"MX", "SRV"})
#: PowerDNS-only types that pdns_server computes per query; not zone data
_PDNS_ONLY = frozenset({"ALIAS", "LUA"})
#: what PowerDNS fills in for the fields missing from a short SOA content
_SOA_DEFAULTS = ("", "", "0", "10800", "3600", "604800", "3600")
_U16 = struct.Struct("!H")


class ContentError(ValueError):
    """A row whose content cannot be turned into rdata."""


def name_wire(text: str) -> bytes:
    """Wire form of an absolute name written without (or with) the trailing dot."""
    if text in ("", ".", "@"):
        return b"\0"
    if "\\" in text or '"' in text:
        try:
            return dns.name.from_text(text, dns.name.root).to_wire() or b"\0"
        except dns.exception.DNSException as exc:
            raise ContentError(f"bad name '{text}': {exc}") from None
    if text.endswith("."):
        text = text[:-1]
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        try:
            return dns.name.from_text(text, dns.name.root).to_wire() or b"\0"
        except dns.exception.DNSException as exc:
            raise ContentError(f"bad name '{text}': {exc}") from None
    out = bytearray()
    for label in raw.split(b"."):
        if not 0 < len(label) < 64:
            raise ContentError(f"bad name '{text}': empty or too long label")
        out.append(len(label))
        out += label
    out.append(0)
    if len(out) > 255:
        raise ContentError(f"bad name '{text}': longer than 255 octets")
    return bytes(out)


def rdata_wire(rtype: str, content: str, prio: int | None) -> tuple[int, bytes]:
    """(type code, rdata wire form) of one row; raises ContentError."""
    try:
        rdtype = dns.rdatatype.from_text(rtype)
    except dns.exception.DNSException:
        raise ContentError(f"unknown type '{rtype}'") from None
    if rdtype == RdType.A:
        try:
            return rdtype, socket.inet_pton(socket.AF_INET, content.strip())
        except OSError:
            raise ContentError(f"bad A content '{content}'") from None
    if rdtype == RdType.AAAA:
        try:
            return rdtype, socket.inet_pton(socket.AF_INET6, content.strip())
        except OSError:
            raise ContentError(f"bad AAAA content '{content}'") from None
    if rdtype in _NAME_TYPES:
        return rdtype, name_wire(content.strip())
    if rdtype == RdType.MX:
        if not 0 <= (prio or 0) <= 65535:
            raise ContentError(f"bad MX priority {prio}")
        return rdtype, _U16.pack(prio or 0) + name_wire(content.strip())
    if rtype in PRIO_TYPES:
        content = f"{prio or 0} {content}"
    elif rdtype == RdType.SOA:
        parts = content.split()
        if 2 <= len(parts) < 7:
            content = " ".join(parts + list(_SOA_DEFAULTS[len(parts):]))
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, content, origin=dns.name.root,
                                    relativize=False)
        return int(rdtype), rdata.to_wire() or b""
    except (dns.exception.DNSException, ValueError, TypeError) as exc:
        raise ContentError(f"bad {rtype} content '{content}': {exc}") from None


def rows_to_zone(origin: str, rows: Iterable[tuple], source: str) -> ZoneData:
    """ZoneData of ``origin`` (no trailing dot) from served rows
    ``(id, name, type, content, ttl, prio)``.

    A row that cannot be parsed is left out with a warning (PowerDNS serves the rest of
    the zone too); the zone checks (``fastdns.zone.check``) run on the result.
    """
    rrsets: dict[tuple[str, int], RRset] = {}
    warnings: list[str] = []
    owners: dict[str, bytes] = {}
    for row_id, name, rtype, content, ttl, prio in rows:
        where = f"records.id={row_id}"
        rtype = rtype.upper()
        if rtype in _PDNS_ONLY:
            warnings.append(f"{where}: type {rtype} is not supported by fastdns; not served")
            continue
        name = (name or "").lower()
        try:
            owner = owners.get(name)
            if owner is None:
                owner = owners[name] = name_wire(name)
            rdtype, rdata = rdata_wire(rtype, content or "", prio)
        except ContentError as exc:
            warnings.append(f"{where}: {exc}; not served")
            continue
        key = (name, rdtype)
        rrset = rrsets.get(key)
        if rrset is None:
            rrsets[key] = RRset(owner, rdtype, int(ttl or 0), [rdata], where)
        else:
            rrset.rdatas.append(rdata)
            rrset.ttl = min(rrset.ttl, int(ttl or 0))
    return ZoneData(name_wire(origin), list(rrsets.values()), source, warnings)


def rdata_text(rdtype: int, rdata: bytes) -> tuple[str, int]:
    """(content, prio) of rdata as PowerDNS stores them: names absolute without the
    trailing dot (the root as "."), the priority of MX and SRV apart."""
    rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType(rdtype), rdata, 0,
                             len(rdata))
    # relative to the root, every name prints without its trailing dot; the root as "@"
    words = _words(rd.to_text(origin=dns.name.root, relativize=True))
    prio = 0
    if rdtype in (RdType.MX, RdType.SRV):
        prio = int(words.pop(0))
    return " ".join("." if w == "@" else w for w in words), prio


def _words(text: str) -> list[str]:
    """``text`` split at the spaces outside double quotes."""
    words, start, quoted, escaped = [], 0, False, False
    for i, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            words.append(text[start:i])
            start = i + 1
    words.append(text[start:])
    return words


def zone_rows(zone: ZoneData) -> list[tuple[str, str, str, int, int]]:
    """(name, type, content, ttl, prio) of every record of ``zone``, in PowerDNS's form."""
    out = []
    for rrset in zone.rrsets:
        name = dns.name.from_wire(rrset.owner, 0)[0].to_text(omit_final_dot=True).lower()
        rtype = dns.rdatatype.to_text(dns.rdatatype.RdataType(rrset.rdtype))
        for rdata in rrset.rdatas:
            content, prio = rdata_text(rrset.rdtype, rdata)
            out.append((name or ".", rtype, content, rrset.ttl, prio))
    return out

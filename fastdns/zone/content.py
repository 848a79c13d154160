"""Record data between the forms the tools meet: what an operator types, what PowerDNS stores.

- :func:`rdata_wire` reads data as the server does (fastdns.zone._rdata, the one reader):
  names are absolute with or without their trailing dot, MX and SRV take the priority
  apart; :func:`check_stored` tells whether stored content can be served (``load-zone``
  refuses a file with a record that cannot, as pdnsutil does).
- :func:`parse_content` reads data as ``pdnsutil add-record`` does and
  :func:`pdns_content` writes it back as PowerDNS stores it (``getZoneRepresentation``:
  canonical text, names without the trailing dot, the MX/SRV priority apart);
  ``2001:DB8:0::1`` becomes ``2001:db8::1``. dnspython writes the text (DESIGN §4: the
  CLI's text output).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from fastdns.zone._rdata import RdataError, rdata_from_str
from fastdns.zone.records import labels_text, pdns_type
from fastdns.zone.records import type_code as _type_code

__all__ = ["PRIO_TYPES", "ContentError", "check_stored", "name_text", "parse_content",
           "pdns_content", "rdata_wire", "split_prio", "type_code"]

#: types that keep their priority in ``prio``
PRIO_TYPES = frozenset({"MX", "SRV"})
#: PowerDNS's own types (their numbers in PowerDNS's QType)
ALIAS, LUA = 65401, 65402
_SVC_QUOTED = re.compile(r'="([^"\\\s]*)"')


class ContentError(ValueError):
    """Record data that cannot be read for its type."""


def type_code(text: str) -> int:
    """The code of a type name (``A``, ``TYPE65280``); ContentError if unknown."""
    try:
        return _type_code(text)
    except RdataError:
        raise ContentError(f"Unknown DNS type '{text}'") from None


def type_name(text: str) -> str | None:
    """The type as PowerDNS names it, or None if PowerDNS does not know it."""
    return pdns_type(text)


def split_prio(rtype: str, content: str) -> tuple[str, int]:
    """(content, prio) as PowerDNS's SQL backends store MX and SRV: leading digits apart."""
    if rtype not in PRIO_TYPES:
        return content, 0
    digits = len(content) - len(content.lstrip("0123456789"))
    if not digits:
        return content, 0
    if digits == len(content):
        return content, int(content)
    return content[digits:].lstrip(), int(content[:digits])


def rdata_wire(rtype: str, content: str, prio: int | None) -> tuple[int, bytes]:
    """(type code, rdata) of a stored row, as the server reads it; ContentError."""
    code = type_code(rtype)
    if rtype.upper() in PRIO_TYPES and prio is not None:
        content = f"{prio} {content}"
    try:
        return code, rdata_from_str(code, content)
    except RdataError as exc:
        raise ContentError(f"bad {rtype} content '{content}': {exc}") from None


def check_stored(rtype: str, content: str, prio: int) -> None:
    """Raise ContentError if stored ``content`` (without the MX/SRV priority) cannot be
    served."""
    rdata_wire(rtype, content, prio)


# --------------------------------------------------------------------------------------------
# typed text -> rdata -> PowerDNS's stored text


def parse_content(rtype: str, text: str) -> dns.rdata.Rdata:
    """``text`` of type ``rtype`` read as pdnsutil reads typed data; ContentError."""
    code = type_code(rtype)
    try:
        wire = rdata_from_str(code, text)
        return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(code), wire,
                                   0, len(wire))
    except RdataError as exc:
        if rtype.upper() in ("A", "AAAA"):
            raise ContentError("Parsing record content: unable to parse IP address") from None
        raise ContentError(f"Parsing record content: {exc}") from None
    except dns.exception.DNSException as exc:
        raise ContentError(f"Parsing record content: {exc}") from None


def name_text(name: dns.name.Name) -> str:
    """A name as PowerDNS writes it in content: no trailing dot, "." for the root."""
    return labels_text([label for label in name.labels if label])


def _txt(data: bytes) -> str:
    out = ['"']
    for c in data:
        if c >= 127 or c < 32:
            out.append(f"\\{c:03d}")
        elif c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        else:
            out.append(chr(c))
    out.append('"')
    return "".join(out)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _stored_text(name: dns.name.Name) -> str:
    return name_text(name)


def _dotted_text(name: dns.name.Name) -> str:
    text = name_text(name)
    return text if text == "." else text + "."


def pdns_content(rd: dns.rdata.Rdata, dotted: bool = False) -> tuple[str, int]:
    """(content, prio) of ``rd`` as PowerDNS stores it; with ``dotted``, as its API shows
    it (names absolute, with their trailing dot)."""
    name_text = _dotted_text if dotted else _stored_text
    t = dns.rdatatype.RdataType
    r = rd.rdtype
    a: Any = rd  # each type's fields
    if r in (t.NS, t.CNAME, t.DNAME, t.PTR):
        return name_text(a.target), 0
    if r == t.MX:
        return name_text(a.exchange), int(a.preference)
    if r == t.SRV:
        return (f"{a.weight} {a.port} {name_text(a.target)}",
                int(a.priority))
    if r == t.SOA:
        s = a
        return (f"{name_text(s.mname)} {name_text(s.rname)} {s.serial} "
                f"{s.refresh} {s.retry} {s.expire} {s.minimum}"), 0
    if r in (t.TXT, t.SPF):
        return " ".join(_txt(s) for s in a.strings), 0
    if r == t.HINFO:
        return f"{_txt(a.cpu)} {_txt(a.os)}", 0
    if r == t.CAA:
        return f"{a.flags} {a.tag.decode()} {_txt(a.value)}", 0
    if r in (t.DS, t.CDS):
        return (f"{a.key_tag} {a.algorithm} {a.digest_type} "
                f"{a.digest.hex()}"), 0
    if r in (t.DNSKEY, t.CDNSKEY):
        return (f"{a.flags} {a.protocol} {a.algorithm} "
                f"{_b64(a.key)}"), 0
    if r == t.SSHFP:
        return (f"{a.algorithm} {a.fp_type} "
                f"{a.fingerprint.hex()}"), 0
    if r in (t.TLSA, t.SMIMEA):
        return (f"{a.usage} {a.selector} {a.mtype} "
                f"{a.cert.hex()}"), 0
    if r == t.RP:
        return f"{name_text(a.mbox)} {name_text(a.txt)}", 0
    if r == t.AFSDB:
        return f"{a.subtype} {name_text(a.hostname)}", 0
    if r == t.NAPTR:
        return (f"{a.order} {a.preference} {_txt(a.flags)} "
                f"{_txt(a.service)} {_txt(a.regexp)} "
                f"{name_text(a.replacement)}"), 0
    if r == t.CERT:
        return (f"{a.certificate_type} {a.key_tag} {a.algorithm} "
                f"{_b64(a.certificate)}"), 0
    if r in (t.NSEC, t.NXT):
        return rd.to_text(origin=None, relativize=False), 0
    if r == ALIAS and isinstance(rd, dns.rdata.GenericRdata):
        return name_text(dns.name.from_wire(rd.data, 0)[0]), 0
    if r == LUA and isinstance(rd, dns.rdata.GenericRdata) and len(rd.data) >= 2:
        code = int.from_bytes(rd.data[:2], "big")
        strings, at = [], 2
        while at < len(rd.data):
            strings.append(rd.data[at + 1:at + 1 + rd.data[at]])
            at += 1 + rd.data[at]
        return (f"{dns.rdatatype.to_text(dns.rdatatype.RdataType.make(code))} "
                + " ".join(_txt(x) for x in strings)), 0
    if isinstance(rd, dns.rdata.GenericRdata):
        data = rd.data
        return f"\\# {len(data)} {data.hex()}" if data else "\\# 0", 0
    try:
        text = rd.to_text(origin=None, relativize=False, chunksize=0)
    except TypeError:
        text = rd.to_text(origin=None, relativize=False)
    if r in (t.SVCB, t.HTTPS):
        text = _SVC_QUOTED.sub(r"=\1", text)
    if dotted:
        return text, 0
    return " ".join(w[:-1] if len(w) > 1 and w.endswith(".") and not w.endswith("\\.") else w
                    for w in text.split(" ")), 0

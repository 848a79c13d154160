"""Record data between the forms the tools meet: what an operator types, what PowerDNS stores.

- :func:`parse_content` reads data as ``pdnsutil add-record`` does (names are absolute
  with or without their trailing dot) and :func:`pdns_content` writes it back as PowerDNS
  stores it (``getZoneRepresentation``: canonical text, names without the trailing dot,
  the MX/SRV priority apart).  ``2001:DB8:0::1`` becomes ``2001:db8::1``.
- :func:`check_stored` tells whether stored content can be served (``load-zone`` refuses
  a file with a record that cannot, as pdnsutil does); it runs on every record of a big
  zone, so the common types take a fast path.
"""

from __future__ import annotations

import base64
import re
import socket
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from fastdns.backends.content import ContentError, rdata_wire
from fastdns.tools.pdnszone import TYPE_CODES, labels_text, type_name

__all__ = ["SIMPLE_TXT", "ContentError", "check_stored", "name_text", "parse_content",
           "pdns_content", "split_prio", "type_code"]

#: PowerDNS types that pdns_server computes per query; stored, never parsed here
PDNS_ONLY = frozenset({"ALIAS", "LUA"})
_SVC_QUOTED = re.compile(r'="([^"\\\s]*)"')
#: a name of ASCII labels of 1-63 characters (no escapes), or the root
_SIMPLE_NAME = re.compile(
    r"(?:[A-Za-z0-9_*-][A-Za-z0-9_*/+-]{0,62})(?:\.[A-Za-z0-9_*/+-]{1,63})*|\.")
_NAME_TYPES = frozenset({"NS", "CNAME", "PTR", "DNAME", "MX"})
#: TXT content that is stored as it is: quoted strings without escapes (no rdata needed)
SIMPLE_TXT = re.compile(r'"[^"\\]{0,255}"(?:[ \t]+"[^"\\]{0,255}")*')


def type_code(text: str) -> int:
    """The code of a type name (``A``, ``TYPE65280``); ContentError if unknown."""
    name = type_name(text)
    if name is None:
        raise ContentError(f"Unknown DNS type '{text}'")
    if name.startswith("TYPE") and name not in TYPE_CODES:
        return int(name[4:])
    return TYPE_CODES[name]


def split_prio(rtype: str, content: str) -> tuple[str, int]:
    """(content, prio) as PowerDNS's SQL backends store MX and SRV: leading digits apart."""
    if rtype not in ("MX", "SRV"):
        return content, 0
    digits = len(content) - len(content.lstrip("0123456789"))
    if not digits:
        return content, 0
    if digits == len(content):
        return content, int(content)
    return content[digits:].lstrip(), int(content[:digits])


def check_stored(rtype: str, content: str, prio: int) -> None:
    """Raise ContentError if stored ``content`` (without the MX/SRV priority) cannot be
    turned into rdata."""
    if rtype in PDNS_ONLY:
        return
    if rtype == "A" or rtype == "AAAA":
        try:
            socket.inet_pton(socket.AF_INET if rtype == "A" else socket.AF_INET6, content)
        except OSError:
            raise ContentError(f"bad {rtype} content '{content}'") from None
        return
    if (rtype == "TXT" or rtype == "SPF") and SIMPLE_TXT.fullmatch(content):
        return
    if rtype in _NAME_TYPES and _SIMPLE_NAME.fullmatch(content) and len(content) < 254:
        if rtype != "MX" or 0 <= prio <= 65535:
            return
    rdata_wire(rtype, content, prio)


# --------------------------------------------------------------------------------------------
# typed text -> rdata -> PowerDNS's stored text


def parse_content(rtype: str, text: str) -> dns.rdata.Rdata:
    """``text`` of type ``rtype`` read as pdnsutil reads typed data; ContentError."""
    if rtype in PDNS_ONLY:
        raise ContentError(f"type {rtype} is not supported by fastdns-util")
    try:
        rdtype = dns.rdatatype.RdataType.make(type_code(rtype))
        return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text,
                                   origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError, TypeError) as exc:
        if rtype in ("A", "AAAA"):
            raise ContentError("Parsing record content: unable to parse IP address") from None
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


def pdns_content(rd: dns.rdata.Rdata) -> tuple[str, int]:
    """(content, prio) of ``rd`` as PowerDNS stores it."""
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
    if isinstance(rd, dns.rdata.GenericRdata):
        data = rd.data
        return f"\\# {len(data)} {data.hex()}" if data else "\\# 0", 0
    try:
        text = rd.to_text(origin=None, relativize=False, chunksize=0)
    except TypeError:
        text = rd.to_text(origin=None, relativize=False)
    if r in (t.SVCB, t.HTTPS):
        text = _SVC_QUOTED.sub(r"=\1", text)
    return " ".join(w[:-1] if len(w) > 1 and w.endswith(".") and not w.endswith("\\.") else w
                    for w in text.split(" ")), 0

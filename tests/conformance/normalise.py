"""Normalised responses and their differences (Knot's ``resp.cmp`` in spirit).

What is normalised away, and only that:

- the message ID (both servers must echo it; that is checked, not compared);
- the order of records within a section: PowerDNS shuffles RRsets on every query, so each
  section is compared as a multiset of records;
- the case of names, except the question (compared byte for byte) and the owner of
  records whose owner is the qname: both servers echo the query's case there, so those are
  compared case-sensitively too;
- name compression, and with it the message size.

Everything else must match: opcode, rcode (extended rcode included), every header flag,
the records of each section (owner, TTL, class, type, rdata) and therefore the counts, and
the OPT record's presence, owner, payload size, version, flags and options.
"""

import struct
from collections import Counter
from dataclasses import dataclass, replace

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SECTIONS = ("answer", "authority", "additional")

#: header bits, in RFC 1035 order, as printed
_FLAG_BITS = (("QR", 0x8000), ("AA", 0x0400), ("TC", 0x0200), ("RD", 0x0100),
              ("RA", 0x0080), ("Z", 0x0040), ("AD", 0x0020), ("CD", 0x0010))


@dataclass(frozen=True)
class Record:
    owner: dns.name.Name
    ttl: int
    rdclass: int
    rdtype: int
    rdata: dns.rdata.Rdata

    def key(self, qname: dns.name.Name | None) -> str:
        """The comparison form: owner case kept only when the owner is the qname; rdata
        in canonical form (RFC 4034 §6.2: embedded names lowercased)."""
        owner = self.owner if qname is not None and self.owner == qname \
            else self.owner.canonicalize()
        return (f"{owner} {self.ttl} {dns.rdataclass.to_text(self.rdclass)} "
                f"{dns.rdatatype.to_text(self.rdtype)} {canonical_rdata(self.rdata)}")

    def __str__(self) -> str:
        return (f"{self.owner} {self.ttl} {dns.rdataclass.to_text(self.rdclass)} "
                f"{dns.rdatatype.to_text(self.rdtype)} {self.rdata.to_text()}")


def canonical_rdata(rdata: dns.rdata.Rdata) -> str:
    wire = rdata.to_digestable()
    try:
        return dns.rdata.from_wire(rdata.rdclass, rdata.rdtype, wire, 0, len(wire)).to_text()
    except dns.exception.DNSException:
        return "\\# " + wire.hex()


@dataclass(frozen=True)
class Response:
    """One response, parsed record by record (no RRset merging, so per-record TTLs and the
    owner case of every record survive)."""

    wire: bytes
    qid: int
    opcode: int
    rcode: int
    flags: int
    question: tuple[tuple[bytes, int, int], ...]
    answer: tuple[Record, ...]
    authority: tuple[Record, ...]
    additional: tuple[Record, ...]
    #: None, or (owner, payload, version, flags, options ((code, data), ...))
    opt: tuple | None
    #: set when dnspython could not parse the message
    error: str | None = None

    @property
    def qname(self) -> dns.name.Name | None:
        if not self.question:
            return None
        return dns.name.from_wire(self.question[0][0], 0)[0]

    def section(self, name: str) -> tuple[Record, ...]:
        return getattr(self, name)

    def flag_text(self) -> str:
        return " ".join(text for text, bit in _FLAG_BITS if self.flags & bit) or "-"

    def rcode_text(self) -> str:
        try:
            return dns.rcode.to_text(dns.rcode.Rcode(self.rcode))
        except ValueError:
            return f"RCODE{self.rcode}"

    def has(self, section: str, rdtype: int) -> bool:
        return any(r.rdtype == rdtype for r in self.section(section))

    def without(self, section: str, rdtype: int) -> "Response":
        """A copy without the records of ``rdtype`` in ``section``."""
        return replace(self, **{section: tuple(r for r in self.section(section)
                                               if r.rdtype != rdtype)})

    def __str__(self) -> str:
        lines = [f"opcode={dns.opcode.to_text(dns.opcode.Opcode(self.opcode))} "
                 f"rcode={self.rcode_text()} flags={self.flag_text()} "
                 f"counts={len(self.question)}/{len(self.answer)}/{len(self.authority)}/"
                 f"{len(self.additional) + (self.opt is not None)} size={len(self.wire)}"]
        if self.error:
            lines.append(f"unparsed ({self.error}): {self.wire.hex()}")
        lines += [f"  Q  {q}" for q in question_text(self)]
        for name in SECTIONS:
            lines += [f"  {name[:2].upper()} {r}" for r in self.section(name)]
        lines.append(f"  OPT {opt_text(self.opt)}")
        return "\n".join(lines)


def question_text(response: Response) -> list[str]:
    out = []
    for name, rdtype, rdclass in response.question:
        text = dns.name.from_wire(name, 0)[0].to_text()
        out.append(f"{text} {dns.rdataclass.to_text(rdclass)} {dns.rdatatype.to_text(rdtype)}")
    return out


def opt_text(opt: tuple | None) -> str:
    if opt is None:
        return "none"
    owner, payload, version, flags, options = opt
    opts = ", ".join(f"{code}:{data.hex()}" for code, data in options)
    return (f"owner={owner} udp={payload} version={version} flags=0x{flags:04x} "
            f"options=[{opts}]")


def parse(wire: bytes) -> Response:
    """Parse a response; a message dnspython rejects keeps its header and an error."""
    qid, flags = struct.unpack("!HH", wire[:4])
    base = dict(wire=wire, qid=qid, opcode=(flags >> 11) & 0xF, flags=flags & 0x87F0)
    try:
        msg = dns.message.from_wire(wire, one_rr_per_rrset=True, question_only=False)
    except (dns.exception.DNSException, ValueError, struct.error) as exc:
        return Response(**base, rcode=flags & 0xF, question=(), answer=(), authority=(),
                        additional=(), opt=None, error=f"{type(exc).__name__}: {exc}")
    question = tuple((rrset.name.to_wire(), rrset.rdtype, rrset.rdclass)
                     for rrset in msg.question)
    sections = {name: tuple(Record(rrset.name, rrset.ttl, rrset.rdclass, rrset.rdtype, rd)
                            for rrset in msg.section_from_number(number) for rd in rrset)
                for number, name in enumerate(SECTIONS, start=1)}
    opt = None
    if msg.opt is not None:
        options = tuple(sorted((o.otype, o.to_wire()) for o in msg.options))
        opt = (msg.opt.name.to_text(), msg.payload, msg.edns, msg.ednsflags & 0xFFFF, options)
    return Response(**base, rcode=int(msg.rcode()), question=question, opt=opt, **sections)


def section_keys(response: Response, section: str) -> Counter:
    qname = response.qname
    return Counter(r.key(qname) for r in response.section(section))


# --- a fast path: the same normalisation on raw wire, without dnspython ------------------
#
# Parsing every response with dnspython dominates the suite's run time, and nearly every
# pair of responses is equivalent. ``wire_key`` computes the normalised form straight from
# the wire (names decompressed, lowercased where case is not compared); two responses with
# equal keys are equivalent. Any pair whose keys differ, or that the fast path cannot read,
# is compared again by ``differences`` on dnspython's parse, which is the oracle.

#: where the names are in the RDATA of the types whose names may be compressed or are
#: compared case-insensitively: (octets before the first name, number of names, octets
#: between names)
_RDATA_NAMES = {2: (0, 1), 3: (0, 1), 4: (0, 1), 5: (0, 1), 6: (0, 2), 7: (0, 1), 8: (0, 1),
                9: (0, 1), 12: (0, 1), 14: (0, 2), 15: (2, 1), 17: (0, 2), 18: (2, 1),
                21: (2, 1), 26: (2, 2), 33: (6, 1), 36: (2, 1), 39: (0, 1)}


def read_name(wire: bytes, off: int) -> tuple[bytes, int]:
    """The uncompressed name at ``off`` (case kept) and the offset after it."""
    labels, end, hops = [], None, 0
    while True:
        length = wire[off]
        if length & 0xC0 == 0xC0:
            hops += 1
            if hops > 64:
                raise ValueError("compression loop")
            if end is None:
                end = off + 2
            off = ((length & 0x3F) << 8) | wire[off + 1]
            continue
        if length & 0xC0:
            raise ValueError("bad label type")
        labels.append(wire[off:off + 1 + length])
        off += 1 + length
        if length == 0:
            return b"".join(labels), end if end is not None else off


def rdata_uncompressed(wire: bytes, rdtype: int, start: int, end: int,
                       lower: bool = False) -> bytes:
    """The rdata at ``wire[start:end]`` with its names uncompressed (and, with ``lower``,
    lowercased)."""
    if rdtype not in _RDATA_NAMES:
        return wire[start:end]
    skip, count = _RDATA_NAMES[rdtype]
    out, off = [wire[start:start + skip]], start + skip
    for _ in range(count):
        name, off = read_name(wire, off)
        out.append(name.lower() if lower else name)
    out.append(wire[off:end])
    if off > end:
        raise ValueError("rdata overrun")
    return b"".join(out)


def wire_key(wire: bytes) -> tuple | None:
    """The normalised form of a response computed from the wire, or None when the fast
    path cannot read it (the slow path then decides)."""
    try:
        _, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", wire)
        off, question = 12, []
        for _ in range(qd):
            name, off = read_name(wire, off)
            question.append((name, *struct.unpack_from("!HH", wire, off)))
            off += 4
        qname = question[0][0].lower() if question else None
        sections: list[list] = [[], [], []]
        opts = []
        for index, count in enumerate((an, ns, ar)):
            for _ in range(count):
                owner, off = read_name(wire, off)
                rdtype, rdclass, ttl, rdlen = struct.unpack_from("!HHIH", wire, off)
                off += 10
                if off + rdlen > len(wire):
                    return None
                if rdtype == 41 and index == 2:
                    opts.append((owner, rdclass, ttl, wire[off:off + rdlen]))
                else:
                    lower = owner.lower()
                    rdata = rdata_uncompressed(wire, rdtype, off, off + rdlen, lower=True)
                    sections[index].append((owner if lower == qname else lower, rdtype,
                                            rdclass, ttl, rdata))
                off += rdlen
        if off != len(wire):
            return None
    except (IndexError, ValueError, struct.error):
        return None
    return (flags, tuple(question),
            *(tuple(sorted(s)) for s in sections), tuple(opts))


def differences(pdns: Response | None, fastdns: Response | None, qid: int | None = None
                ) -> list[str]:
    """What differs between the two responses after normalisation, one line per point
    (``-`` PowerDNS's side, ``+`` fastdns's side); empty when they are equivalent."""
    if pdns is None or fastdns is None:
        if pdns is None and fastdns is None:
            return []
        return [f"response: PowerDNS {'none' if pdns is None else 'yes'}, "
                f"fastdns {'none' if fastdns is None else 'yes'}"]
    out = []
    if qid is not None:
        out += [f"{who} did not echo the ID" for who, r in (("PowerDNS", pdns),
                                                            ("fastdns", fastdns))
                if r.qid != qid]
    for label, get in (("opcode", lambda r: r.opcode), ("rcode", Response.rcode_text),
                       ("flags", Response.flag_text), ("question", question_text),
                       ("OPT", lambda r: opt_text(r.opt)), ("parse", lambda r: r.error)):
        a, b = get(pdns), get(fastdns)
        if a != b:
            out.append(f"{label}: PowerDNS {a} / fastdns {b}")
    if pdns.error or fastdns.error:
        return out
    for section in SECTIONS:
        a, b = section_keys(pdns, section), section_keys(fastdns, section)
        out += [f"{section}: - {key}" for key in sorted((a - b).elements())]
        out += [f"{section}: + {key}" for key in sorted((b - a).elements())]
    return out


def compare(pdns: bytes | None, fastdns: bytes | None, qid: int) -> list[str]:
    """``differences`` of two raw responses (None: no response), fast path first."""
    if pdns is not None and fastdns is not None and pdns[:2] == fastdns[:2] == \
            qid.to_bytes(2, "big"):
        key = wire_key(pdns)
        if key is not None and key == wire_key(fastdns):
            return []
    return differences(None if pdns is None else parse(pdns),
                       None if fastdns is None else parse(fastdns), qid)

"""Malformed and unusual packets (rows M1 to M8 of docs/differences.md): the raw bytes, and
what each server is documented to do with them.

PowerDNS's side is asserted as the row states it, and so is fastdns's: a change in either
server, or a row that says something the servers do not do, fails the test.
"""

import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.rcode

from tests.conformance.normalise import Response, compare, parse
from tests.conformance.wire import QR, TC, opt_record

_HEADER = struct.Struct("!HHHHHH")
#: ``www.example.com IN A``
QUESTION = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
#: the zone section of a NOTIFY/UPDATE: ``example.com IN SOA``
ZONE_SOA = b"\x07example\x03com\x00\x00\x06\x00\x01"


def header(qid: int, flags: int = 0, qd: int = 1, an: int = 0, ns: int = 0, ar: int = 0
           ) -> bytes:
    return _HEADER.pack(qid, flags, qd, an, ns, ar)


@dataclass(frozen=True)
class Outcome:
    """What a server sent back for one raw packet over one transport: the first response
    (None: none), and for TCP whether the server closed the connection."""

    response: bytes | None
    closed: bool = False

    @property
    def parsed(self) -> Response | None:
        return None if self.response is None else parse(self.response)


#: an expectation: (the packet sent, the outcome, the plain query's answer from PowerDNS)
#: → problems (empty: as documented)
Expect = Callable[[bytes, Outcome, bytes | None], list[str]]


def _basic(sent: bytes, got: Response, rcode: int) -> list[str]:
    problems = []
    if got.qid != struct.unpack_from("!H", sent)[0]:
        problems.append("the ID is not echoed")
    if not got.flags & QR:
        problems.append("QR is not set")
    if got.opcode != (sent[2] >> 3) & 0xF:
        problems.append(f"opcode {got.opcode} is not the query's")
    if got.rcode != rcode:
        problems.append(f"rcode {got.rcode_text()}, documented {dns.rcode.to_text(rcode)}")
    return problems


def dropped(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
    """No answer (over TCP, the server closes the connection)."""
    if out.response is not None:
        return [f"answered, documented as dropped:\n{out.parsed}"]
    return []


def closed(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
    """TCP: no answer, and the connection closed."""
    problems = dropped(sent, out, plain)
    if not out.closed:
        problems.append("the connection was left open, documented as closed")
    return problems


def _rcode_with_question(rcode: int, aa: bool) -> Expect:
    def expect(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
        got = out.parsed
        if got is None:
            return [f"no answer, documented {dns.rcode.to_text(rcode)}"]
        problems = _basic(sent, got, rcode)
        if bool(got.flags & 0x0400) != aa:
            problems.append(f"AA is {'set' if got.flags & 0x0400 else 'clear'}")
        question = sent[12:sent.index(b"\x00", 12) + 5]
        if got.wire[12:12 + len(question)] != question or len(got.question) != 1:
            problems.append("the question is not echoed")
        if got.answer or got.authority or got.additional:
            problems.append("records in the response")
        return problems + ([str(got)] if problems else [])
    expect.__doc__ = f"{dns.rcode.to_text(rcode)}, question echoed{', AA' if aa else ''}"
    return expect


def _header_only(rcode: int) -> Expect:
    def expect(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
        got = out.parsed
        if got is None:
            return [f"no answer, documented {dns.rcode.to_text(rcode)}, header only"]
        problems = _basic(sent, got, rcode)
        if len(got.wire) != 12:
            problems.append(f"{len(got.wire)} octets, documented header only (12)")
        return problems + ([str(got)] if problems else [])
    expect.__doc__ = f"{dns.rcode.to_text(rcode)}, header only"
    return expect


def formerr(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
    """FORMERR."""
    got = out.parsed
    if got is None:
        return ["no answer, documented FORMERR"]
    problems = _basic(sent, got, dns.rcode.FORMERR)
    return problems + ([str(got)] if problems else [])


def servfail_made_up_question(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
    """SERVFAIL with a made-up question ``. CLASS0 TYPE0`` (PowerDNS over TCP)."""
    got = out.parsed
    if got is None:
        return ["no answer, documented SERVFAIL with a made-up question . CLASS0 TYPE0"]
    problems = _basic(sent, got, dns.rcode.SERVFAIL)
    if got.question != ((b"\x00", 0, 0),):
        problems.append(f"question {got.question}, documented . CLASS0 TYPE0")
    return problems + ([str(got)] if problems else [])


def answered_normally(sent: bytes, out: Outcome, plain: bytes | None) -> list[str]:
    """Answered as PowerDNS answers the same query without the oddity."""
    if out.response is None:
        return ["no answer, documented answered normally"]
    if plain is None:
        return ["PowerDNS did not answer the plain query"]
    qid = struct.unpack_from("!H", sent)[0]
    plain = sent[:2] + plain[2:]
    problems = compare(plain, out.response, qid)
    return [line.replace("PowerDNS", "plain answer") for line in problems]


notimp_question = _rcode_with_question(dns.rcode.NOTIMP, aa=False)
refused_aa_question = _rcode_with_question(dns.rcode.REFUSED, aa=True)
formerr_header_only = _header_only(dns.rcode.FORMERR)
formerr_question = _rcode_with_question(dns.rcode.FORMERR, aa=False)


@dataclass(frozen=True)
class Raw:
    """One raw packet, with the row that documents it and each server's expectation per
    transport (None: not sent over that transport)."""

    row: str
    name: str
    packet: Callable[[int], bytes]
    pdns_udp: Expect | None
    pdns_tcp: Expect | None
    fastdns_udp: Expect | None
    fastdns_tcp: Expect | None
    #: the same query without the oddity, for "answered normally" (EDNS or not)
    plain: Callable[[int], bytes] | None = None


def _q(flags: int = 0, **counts) -> Callable[[int], bytes]:
    return lambda qid: header(qid, flags, **counts) + QUESTION


def _with(head: Callable[[int], bytes], tail: bytes) -> Callable[[int], bytes]:
    return lambda qid: head(qid) + tail


def _header(flags: int = 0, **counts) -> Callable[[int], bytes]:
    return lambda qid: header(qid, flags, **counts)


_PLAIN = _q()
_PLAIN_EDNS = _with(_header(ar=1), QUESTION + opt_record(1232))


def _same(row: str, pdns: Expect, fastdns: Expect) -> dict:
    return dict(row=row, pdns_udp=pdns, pdns_tcp=pdns, fastdns_udp=fastdns, fastdns_tcp=fastdns)


RAW: tuple[Raw, ...] = (
    # M1: opcodes without meaning for an authoritative server
    *(Raw(name=f"opcode {op}", packet=_q(op << 11),
          **_same("M1", dropped, notimp_question)) for op in (1, 2, 3, 6, 7, 15)),
    # M2: dynamic update
    Raw(name="opcode UPDATE", packet=_with(_header(5 << 11), ZONE_SOA),
        **_same("M2", refused_aa_question, notimp_question)),
    # M3: QDCOUNT 0, or more than 1
    Raw("M3", "QDCOUNT 0", _header(qd=0), dropped, servfail_made_up_question,
        formerr_header_only, formerr_header_only),
    Raw("M3", "QDCOUNT 2, two questions", _with(_header(qd=2), QUESTION * 2), dropped,
        closed, formerr_header_only, formerr_header_only),
    Raw("M3", "QDCOUNT 2, one question", _q(qd=2), dropped, closed,
        formerr_header_only, formerr_header_only),
    # M4: a question that cannot be read, or a query cut short
    *(Raw(name=name, packet=_with(_header(), tail), **_same("M4", dropped, formerr_header_only))
      for name, tail in (
          ("header only, QDCOUNT 1", b""),
          ("half a question", QUESTION[:8]),
          ("name cut inside a label", b"\x03ww"),
          ("label type 0x40", b"\x43www\x00\x00\x01\x00\x01"),
          ("label type 0x80", b"\x83www\x00\x00\x01\x00\x01"),
          ("label of 64 octets", b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01"),
          ("name of 257 octets", (b"\x3f" + b"a" * 63) * 4 + b"\x00\x00\x01\x00\x01"),
          ("compression pointer to itself", b"\xc0\x0c\x00\x01\x00\x01"),
          ("forward compression pointer", b"\xc0\x12\x00\x01\x00\x01\x03www\x00"),
          ("compression pointer into the header", b"\xc0\x02\x00\x01\x00\x01"))),
    Raw(name="ANCOUNT 1, the record missing", packet=_q(an=1),
        **_same("M4", dropped, formerr_question)),
    # M5: two OPT records
    Raw(name="two OPT records", plain=_PLAIN_EDNS,
        packet=_with(_header(ar=2), QUESTION + opt_record(1232) + opt_record(1232)),
        **_same("M5", answered_normally, formerr)),
    # M6: OPT with a non-root owner, options overrunning the RDATA
    Raw(name="OPT owner www.", plain=_PLAIN_EDNS,
        packet=_with(_header(ar=1), QUESTION + opt_record(1232, owner=b"\x03www\x00")),
        **_same("M6", answered_normally, formerr)),
    Raw(name="OPT option overrunning the RDATA", plain=_PLAIN_EDNS,
        packet=_with(_header(ar=1), QUESTION + opt_record(1232, rdata=b"\x00\x03\x00\x10ab")),
        **_same("M6", answered_normally, formerr)),
    # M7: TC set in a query
    Raw(name="TC=1", plain=_PLAIN, packet=_q(TC), **_same("M7", dropped, answered_normally)),
    Raw(name="TC=1 with EDNS", plain=_PLAIN_EDNS,
        packet=_with(_header(TC, ar=1), QUESTION + opt_record(1232)),
        **_same("M7", dropped, answered_normally)),
    # M8: a TCP message that is not a query
    Raw("M8", "QR=1, header only", _header(QR, qd=0), None, closed, None, closed),
    # no row: both servers behave the same
    Raw(name="QR=1 query", packet=_q(QR), **_same("same", dropped, dropped)),
    Raw(name="11 octets", packet=lambda qid: header(qid)[:11], **_same("same", dropped, dropped)),
    Raw(name="NOTIFY", packet=_with(_header(4 << 11 | 0x0400), ZONE_SOA),
        **_same("same", refused_aa_question, refused_aa_question)),
    Raw(name="trailing garbage", plain=_PLAIN, packet=_with(_q(), b"garbage"),
        **_same("same", answered_normally, answered_normally)),
    Raw(name="trailing garbage after OPT", plain=_PLAIN_EDNS,
        packet=_with(_header(ar=1), QUESTION + opt_record(1232) + b"\x00\x00"),
        **_same("same", answered_normally, answered_normally)),
)

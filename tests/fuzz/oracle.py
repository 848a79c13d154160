"""What fastdns must answer to any packet, with dnspython as the judge of well-formedness.

The rules, from docs/differences.md (M1-M7) and the engine (fastdns/_query.pyx parse_query,
fastdns/_engine.pyx c_answer):

1. Shorter than the 12-octet header, or QR=1: no response at all (not a query).
2. Otherwise exactly one response, with the query's ID and opcode and QR=1 (RFC 1035
   §4.1.1), itself a well-formed message, over UDP no larger than 512 octets or the query's
   EDNS payload size (RFC 1035 §4.2.1, RFC 6891 §6.2.5).
3. Opcode other than QUERY (0) and NOTIFY (4): NOTIMP (M1, M2), with the question echoed
   exactly when it parses, and the header alone when it does not.
4. Opcode QUERY or NOTIFY: FORMERR exactly when dnspython cannot parse the packet as a
   message with exactly one question (``dns.message.from_wire(p, ignore_trailing=True)``,
   M3-M6). When the question itself does not parse, or QDCOUNT is not 1, the FORMERR is
   the header alone (M3, M4). Otherwise the response echoes the question in the query's own
   case. Where dnspython's reading is adjusted, and why:

   - an OPT record in the answer or authority section is stepped over like any other record
     there (it means nothing in a query); dnspython rejects it (BadEDNS), so the oracle
     reads it as a record of an unknown type;
   - the RDATA of the records after the question, other than OPT and TSIG, and the contents
     of EDNS options are data the server never reads: fastdns steps over a record by its
     RDLENGTH and over an option by its length (parse_query), and so does PowerDNS 4.7.3 (it
     answers NOERROR to a 3-octet A record in the additional section, an NS record whose
     name overruns its RDATA, an ECS option of family 7, a 5-octet COOKIE). Neither RFC 1035
     nor docs/differences.md asks for more. dnspython decodes them by type, so the oracle
     reads them as opaque RDATA and options: their framing is still checked (names, fixed
     fields, RDLENGTH and option lengths within the message and the RDATA);
   - a TSIG record is parsed but not verified: dnspython gets a keyring that skips
     verification, because an unknown key is not a malformed packet. A well-formed query
     with a TSIG gets NOTAUTH and an unsigned TSIG with error BADKEY (M9: the fuzz server
     holds no keys), unless its EDNS version is above 0 (BADVERS comes first); such a
     query, and a NOTIFY, is answered by the manager, after what the worker answers at
     once (``handed_off``);
   - dnspython (>= 2.9) refuses, as a defence of its own, compression pointer chains of more
     than 16 hops and pointer targets that run into the name pointing at them (and, reading
     such a name, resumes after the furthest octet read rather than after the pointer).
     Neither is malformed under RFC 1035 §4.1.4 and docs/differences.md promises FORMERR only
     for loops and forward pointers (M4), which fastdns rejects as dnspython does (every
     pointer must point before the previous one); so the oracle reads names with a plain
     RFC 1035 reader that has that one rule;
   - a well-formed QUERY for QTYPE TKEY in class IN or ANY is FORMERR, as in PowerDNS (so not
     a difference docs/differences.md lists): a TKEY query must carry a TKEY record (RFC 2930
     §4) and the engine answers none.
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import dns.edns
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.wire

OPCODE_QUERY, OPCODE_NOTIFY = 0, 4
TYPE_TKEY = 249
CLASS_IN, CLASS_ANY = 1, 255
_UNKNOWN_TYPE = 65280           # private use: dnspython reads it as opaque RDATA
FORMERR = dns.rcode.FORMERR
NOTIMP = dns.rcode.NOTIMP
NOTAUTH = dns.rcode.NOTAUTH


@dataclass(frozen=True, slots=True)
class Expectation:
    respond: bool
    #: the rcode required (NOTIMP, FORMERR), or None: any rcode but FORMERR
    rcode: dns.rcode.Rcode | None = None
    #: (qname wire in the query's case, qtype, qclass) the response must echo; None: none
    question: tuple[bytes, int, int] | None = None
    #: the response must be the header alone
    header_only: bool = False
    #: the largest UDP response the query allows: 512, or its EDNS payload size (RFC 6891)
    udp_limit: int = 512
    #: why, for failure messages
    why: str = ""


@dataclass(frozen=True, slots=True)
class Failure:
    #: "presence" (a response missing or unexpected), "header" (ID, QR, opcode, shape,
    #: size), "rcode" (NOTIMP), "formerr-missing", "formerr-extra", "echo" (the question)
    rule: str
    detail: str
    why: str = ""

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}" + (f" ({self.why})" if self.why else "")


_ORIGINAL_RR_HEADER = dns.message.Message._parse_rr_header
_ORIGINAL_SPECIAL = dns.message.Message._parse_special_rr_header



def _rr_header(self, section, name, rdclass, rdtype):
    if section != dns.message.MessageSection.QUESTION:
        return (rdclass, _UNKNOWN_TYPE, None, False)
    return _ORIGINAL_RR_HEADER(self, section, name, rdclass, rdtype)


def _special_rr_header(self, section, count, position, name, rdclass, rdtype):
    if rdtype == dns.rdatatype.OPT and section != dns.message.MessageSection.ADDITIONAL:
        return (rdclass, _UNKNOWN_TYPE, None, False)
    return _ORIGINAL_SPECIAL(self, section, count, position, name, rdclass, rdtype)


def _name_from_wire_parser(parser: dns.wire.Parser, decompress: bool = True) -> dns.name.Name:
    """dns.name.from_wire_parser as RFC 1035 §4.1.4 has it: every pointer must point before
    the previous one (so no loops) and past the 12-octet header (which holds no names, M4),
    with no limit on hops and no rule against a target that runs into the name pointing at
    it; the name ends after its first pointer."""
    labels = []
    lowest = parser.current
    resume = None
    count = parser.get_uint8()
    while count != 0:
        if count < 64:
            labels.append(parser.get_bytes(count))
        elif count >= 192:
            if not decompress:
                raise dns.name.DecompressionForbidden
            target = (count & 0x3F) * 256 + parser.get_uint8()
            if target >= lowest or target < 12:
                raise dns.name.BadPointer
            lowest = target
            if resume is None:
                resume = parser.current
            parser.seek(target)
        else:
            raise dns.name.BadLabelType
        count = parser.get_uint8()
    if resume is not None:
        parser.seek(resume)
    return dns.name.Name([*labels, b""])


@contextlib.contextmanager
def _as_fastdns_reads() -> Iterator[None]:
    with mock.patch.object(dns.message.Message, "_parse_special_rr_header",
                           _special_rr_header), \
            mock.patch.object(dns.message.Message, "_parse_rr_header", _rr_header), \
            mock.patch.object(dns.edns, "get_option_class", lambda otype: dns.edns.GenericOption), \
            mock.patch.object(dns.name, "from_wire_parser", _name_from_wire_parser):
        yield


def _wire_of(name: dns.name.Name) -> bytes:
    wire = name.to_wire()
    assert wire is not None
    return wire


def _no_verification(message, keyname):
    return False        # dnspython parses a TSIG unverified when the key is falsy (not None)


def _where(packet: bytes) -> str:
    """What in ``packet`` dnspython's reading (as adjusted here) fails on, in a few words."""
    parser = dns.wire.Parser(packet)
    with _as_fastdns_reads():
        return _walk(parser)


def _walk(parser: dns.wire.Parser) -> str:
    try:
        _, _, qdcount, *counts = parser.get_struct("!HHHHHH")
        for _ in range(qdcount):
            parser.get_name(decompress=True)
            parser.get_struct("!HH")
    except Exception:
        return "in the question section"
    seen_opt = False
    for section, count in zip(("answer", "authority", "additional"), counts, strict=True):
        for i in range(count):
            try:
                owner = parser.get_name(decompress=True)
                rdtype, rdclass, _, rdlen = parser.get_struct("!HHIH")
            except Exception:
                return f"in a record's owner or fixed fields, {section} section"
            if rdlen > parser.remaining():
                return f"a record's RDLENGTH past the end, {section} section"
            if rdtype == dns.rdatatype.TSIG:
                if section != "additional":
                    return f"a TSIG record in the {section} section"
                if rdclass != dns.rdataclass.ANY:
                    return "a TSIG record of a class other than ANY"
                if i != count - 1:
                    return "a TSIG record not last"
            elif rdtype == dns.rdatatype.OPT and section == "additional":
                if seen_opt:
                    return "a second OPT record"
                if owner != dns.name.root:
                    return "an OPT record not owned by the root"
                seen_opt = True
            else:
                parser.seek(parser.current + rdlen)
                continue
            what = dns.rdatatype.to_text(rdtype)
            try:
                with parser.restrict_to(rdlen):
                    dns.rdata.from_wire_parser(rdclass, rdtype, parser)
            except Exception:
                return f"in the RDATA of a{'n' if what == 'OPT' else ''} {what} record"
    return "after the last record"


def _parse_question(packet: bytes) -> tuple[bytes, int, int] | None:
    as_query = packet[:2] + bytes([packet[2] & 0x87]) + packet[3:]   # opcode QUERY
    try:
        msg = dns.message.from_wire(as_query, question_only=True)
    except Exception:       # whatever dnspython raises, the packet does not parse
        return None
    if len(msg.question) != 1:
        return None
    rrset = msg.question[0]
    return _wire_of(rrset.name), int(rrset.rdtype), int(rrset.rdclass)


def _parse_query(packet: bytes) -> tuple[dns.message.Message | None, str]:
    try:
        msg = dns.message.from_wire(packet, ignore_trailing=True, keyring=_no_verification)
    except Exception as exc:    # whatever dnspython raises, the packet does not parse
        return None, f"{type(exc).__name__} [{_where(packet)}]: {exc}"
    if len(msg.question) != 1:
        return None, f"{len(msg.question)} questions"
    return msg, ""


def parse_question(packet: bytes) -> tuple[bytes, int, int] | None:
    """The single question of ``packet`` as fastdns should read it, or None."""
    with _as_fastdns_reads():
        return _parse_question(packet)


def parse_query(packet: bytes) -> tuple[dns.message.Message | None, str]:
    """``packet`` parsed as fastdns should read it: (message or None, why not)."""
    with _as_fastdns_reads():
        return _parse_query(packet)


def expect(packet: bytes) -> Expectation:
    if len(packet) < 12:
        return Expectation(False, why="shorter than a header")
    if packet[2] & 0x80:
        return Expectation(False, why="QR=1: not a query")
    opcode = (packet[2] >> 3) & 0xF
    with _as_fastdns_reads():
        question = _parse_question(packet)
        if opcode not in (OPCODE_QUERY, OPCODE_NOTIFY):
            return Expectation(True, NOTIMP, question, header_only=question is None,
                               why=f"opcode {opcode} (M1/M2)")
        msg, error = _parse_query(packet)
    if msg is None:
        return Expectation(True, FORMERR, question, header_only=question is None,
                           why=f"dnspython: {error}")
    assert question is not None
    qtype, qclass = question[1], question[2]
    if msg.had_tsig and msg.edns <= 0:
        return Expectation(True, NOTAUTH, question, why="TSIG with a key we do not have (M9)")
    if opcode == OPCODE_QUERY and qtype == TYPE_TKEY and qclass in (CLASS_IN, CLASS_ANY) \
            and msg.edns <= 0:
        return Expectation(True, FORMERR, question, why="TKEY query without a TKEY record")
    udp_limit = max(512, msg.payload) if msg.edns >= 0 else 512
    return Expectation(True, None, question, udp_limit=udp_limit, why="dnspython reads a query")


def handed_off(packet: bytes) -> bool:
    """Does a worker hand ``packet`` to the manager (a well-formed NOTIFY, or a query signed
    with TSIG), whose answer comes after those the worker gives at once?"""
    if len(packet) < 12 or packet[2] & 0x80:
        return False
    opcode = (packet[2] >> 3) & 0xF
    if opcode not in (OPCODE_QUERY, OPCODE_NOTIFY):
        return False
    with _as_fastdns_reads():
        msg, _ = _parse_query(packet)
    if msg is None or msg.edns > 0:
        return False
    return opcode == OPCODE_NOTIFY or msg.had_tsig


def check(packet: bytes, responses: list[bytes], udp: bool = True) -> Failure | None:
    """How ``responses`` (all that came back for ``packet``, over UDP or TCP) break the rules;
    None if they do not."""
    exp = expect(packet)
    if not exp.respond:
        if responses:
            return Failure("presence", f"{len(responses)} responses", exp.why)
        return None
    if len(responses) != 1:
        return Failure("presence", f"{len(responses)} responses instead of one", exp.why)
    resp = responses[0]
    if len(resp) < 12:
        return Failure("header", f"response shorter than a header: {resp.hex()}")
    if resp[:2] != packet[:2]:
        return Failure("header", f"response ID {resp[:2].hex()}, query ID {packet[:2].hex()}")
    if not resp[2] & 0x80:
        return Failure("header", "response with QR=0")
    if (resp[2] >> 3) & 0xF != (packet[2] >> 3) & 0xF:
        return Failure("header", f"opcode {(packet[2] >> 3) & 0xF} answered with opcode "
                                 f"{(resp[2] >> 3) & 0xF}")
    if udp and len(resp) > exp.udp_limit:
        return Failure("header", f"a UDP response of {len(resp)} octets, over the "
                                 f"{exp.udp_limit} the query allows")
    try:    # read as opcode QUERY: dnspython reads an UPDATE's question as its zone section
        msg = dns.message.from_wire(resp[:2] + bytes([resp[2] & 0x87]) + resp[3:],
                                    keyring=False)
    except Exception as exc:
        return Failure("header", f"response does not parse: {type(exc).__name__}: {exc}")
    rcode = msg.rcode()
    text = dns.rcode.to_text(rcode)
    if exp.rcode == FORMERR and rcode != FORMERR:
        return Failure("formerr-missing", f"{text} instead of FORMERR", exp.why)
    if exp.rcode is None and rcode == FORMERR:
        return Failure("formerr-extra", "FORMERR for a well-formed query", exp.why)
    if exp.rcode is not None and rcode != exp.rcode:
        return Failure("rcode", f"{text} instead of {dns.rcode.to_text(exp.rcode)}", exp.why)
    if exp.rcode == NOTAUTH and (not msg.had_tsig or msg.tsig[0].error != 17):
        return Failure("tsig", "NOTAUTH without a BADKEY TSIG record", exp.why)
    if exp.header_only and len(resp) != 12:
        return Failure("header", f"a {text} of {len(resp)} octets, not the header alone",
                       exp.why)
    if exp.question is not None and rcode != FORMERR:
        if len(msg.question) != 1:
            return Failure("echo", f"{len(msg.question)} questions in the response", exp.why)
        got = msg.question[0]
        echoed = (_wire_of(got.name), int(got.rdtype), int(got.rdclass))
        if echoed != exp.question:
            return Failure("echo", f"question echoed as {echoed}, asked {exp.question}")
    return None


def category(failure: Failure) -> str:
    """``failure`` without what is particular to one packet, to group failures by."""
    why = failure.why
    if why.startswith("dnspython: "):     # the exception and where, not its message
        why = why.split(": ")[1]
    detail = failure.detail if failure.rule in ("presence", "rcode") else ""
    return f"{failure.rule}: {detail} ({why})" if detail else f"{failure.rule} ({why})"

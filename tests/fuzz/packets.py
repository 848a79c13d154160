"""Adversarial DNS packets: valid queries built with dnspython, then broken on purpose.

Everything comes from one seeded ``random.Random``, so a seed names a corpus exactly and a
failure can be replayed from its seed and index. ``PacketFactory(seed).generate(n)`` returns
``n`` (kind, packet) pairs; the kinds are the keys of ``KINDS``:

- valid queries of many names, types, classes, flags and EDNS settings (dnspython-built);
- bit flips, truncation at a random length and at every length, trailing garbage, splices;
- QD/AN/NS/AR counts inflated up to 65535 (or zeroed);
- compression pointers: self, forward, loops, into the header, past the end, cut in half,
  valid backward chains, chains that build a name longer than 255 octets;
- label lengths 64-255 (label types 0x40 and 0x80), names longer than 255 octets made of many
  labels, and names of exactly 255;
- OPT records with bad option lengths, duplicated, owned by a non-root name (plain or
  compressed), in the answer or authority section, with EDNS versions above 0;
- TSIG records that are not last, in the wrong section or class, or cut short;
- records with malformed RDATA in the answer, authority and additional sections;
- empty packets, header-only packets, packets shorter than a header, random bytes;
- responses (QR=1) and every one of the 16 opcodes.
"""

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype

_HEADER = struct.Struct("!HHHHHH")
_U16 = struct.Struct("!H")

QR = 0x8000
TYPE_A, TYPE_NS, TYPE_OPT, TYPE_TSIG = 1, 2, 41, 250
CLASS_IN, CLASS_ANY = 1, 255


def u16(value: int) -> bytes:
    return _U16.pack(value & 0xFFFF)


def header(id: int = 0, flags: int = 0, qd: int = 1, an: int = 0, ns: int = 0,
           ar: int = 0) -> bytes:
    return _HEADER.pack(id & 0xFFFF, flags & 0xFFFF, qd, an, ns, ar)


def name(*labels: bytes | str) -> bytes:
    """Uncompressed wire form of ``labels`` (no length checks: callers break names on purpose)."""
    out = bytearray()
    for label in labels:
        raw = label.encode() if isinstance(label, str) else label
        out.append(len(raw) & 0xFF)
        out += raw
    out.append(0)
    return bytes(out)


def question(qname: bytes, qtype: int = TYPE_A, qclass: int = CLASS_IN) -> bytes:
    return qname + u16(qtype) + u16(qclass)


def rr(owner: bytes, rdtype: int, rdclass: int, ttl: int, rdata: bytes,
       rdlen: int | None = None) -> bytes:
    """A resource record; ``rdlen`` overrides the true RDATA length."""
    return (owner + u16(rdtype) + u16(rdclass) + struct.pack("!I", ttl & 0xFFFFFFFF)
            + u16(len(rdata) if rdlen is None else rdlen) + rdata)


def option(code: int, data: bytes, olen: int | None = None) -> bytes:
    return u16(code) + u16(len(data) if olen is None else olen) + data


def opt(payload: int = 1232, *, version: int = 0, ext_rcode: int = 0, flags: int = 0,
        options: bytes = b"", owner: bytes = b"\x00", rdlen: int | None = None) -> bytes:
    """An OPT pseudo-record (RFC 6891 §6.1.2)."""
    ttl = (ext_rcode & 0xFF) << 24 | (version & 0xFF) << 16 | (flags & 0xFFFF)
    return rr(owner, TYPE_OPT, payload, ttl, options, rdlen)


def tsig_rdata(mac: bytes = bytes(32), original_id: int = 0, error: int = 0,
               other: bytes = b"", time_signed: int = 1_700_000_000) -> bytes:
    """TSIG RDATA (RFC 8945 §4.2) with the hmac-sha256 algorithm."""
    return (name("hmac-sha256") + struct.pack("!Q", time_signed)[2:] + u16(300)
            + u16(len(mac)) + mac + u16(original_id) + u16(error) + u16(len(other)) + other)


def message(qsection: bytes, an: list[bytes] | tuple = (), ns: list[bytes] | tuple = (),
            ar: list[bytes] | tuple = (), *, id: int = 0, flags: int = 0,
            qd: int | None = None) -> bytes:
    """A message with its counts set from the records given (``qd``: 1 unless told)."""
    return (header(id, flags, 1 if qd is None else qd, len(an), len(ns), len(ar)) + qsection
            + b"".join(an) + b"".join(ns) + b"".join(ar))


def in_section(qsection: bytes, section: str, records: list[bytes], **kw) -> bytes:
    """A message with ``records`` in ``section``: "an", "ns" or "ar"."""
    return message(qsection, an=records if section == "an" else (),
                   ns=records if section == "ns" else (),
                   ar=records if section == "ar" else (), **kw)


def wire_of(qname: dns.name.Name) -> bytes:
    wire = qname.to_wire()
    assert wire is not None
    return wire


def set_header(packet: bytes, *, id: int | None = None, flags: int | None = None,
               qd: int | None = None, an: int | None = None, ns: int | None = None,
               ar: int | None = None) -> bytes:
    """``packet`` (at least 12 octets) with some header fields replaced."""
    fields = list(_HEADER.unpack_from(packet))
    for i, value in enumerate((id, flags, qd, an, ns, ar)):
        if value is not None:
            fields[i] = value & 0xFFFF
    return _HEADER.pack(*fields) + packet[12:]


def expects_response(packet: bytes) -> bool:
    """What docs/differences.md promises: a readable header and QR=0 get an answer."""
    return len(packet) >= 12 and not packet[2] & 0x80


# ---------------------------------------------------------------------------------------
# valid queries

ZONE_NAMES = [
    "example.com", "www.example.com", "multi.example.com", "txt.example.com",
    "mail.example.com", "ns1.example.com", "_sip._tcp.example.com", "caa.example.com",
    "foo.wild.example.com", "a.b.wild.example.com", "c1.example.com", "deleg.example.com",
    "www.deleg.example.com", "sub.example.com", "www.sub.example.com", "dname.example.com",
    "foo.dname.example.com", "example.net", "www.example.net", "back.example.net",
    "xloop.example.net", "10.2.0.192.in-addr.arpa", "2.0.192.in-addr.arpa", "example.org",
    "WwW.ExAmPlE.CoM", "EXAMPLE.NET", ".", "com", "version.bind", "id.server",
]
QTYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 41, 43, 46, 47, 48, 50, 51, 64, 65, 99, 249,
          250, 251, 252, 253, 254, 255, 256, 257, 0, 65280, 65535]
QCLASSES = [1] * 12 + [3, 3, 255, 254, 4, 0, 2, 65535]


@dataclass(frozen=True, slots=True)
class Base:
    """A valid query and where its question ends."""
    wire: bytes
    qend: int


def _random_label(rng: random.Random) -> bytes:
    kind = rng.random()
    size = rng.randint(1, 12)
    if kind < 0.6:
        return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(size))
    if kind < 0.8:
        return bytes(rng.choice(b"ABCDEFabcdef_*") for _ in range(size))
    return rng.randbytes(rng.choice((size, 63)))   # any octet, NUL and dots included


def random_qname(rng: random.Random) -> dns.name.Name:
    base = dns.name.from_text(rng.choice(ZONE_NAMES))
    roll = rng.random()
    if roll < 0.5:
        return base
    labels = [_random_label(rng) for _ in range(rng.randint(1, 4))]
    if roll < 0.55:   # as long as a name can be
        labels = [b"x" * 63] * 3 + [b"y" * 61]
        return dns.name.Name([*labels, b""])
    while sum(len(label) + 1 for label in labels) + len(wire_of(base)) > 255:
        labels.pop()
    return dns.name.Name(labels).concatenate(base)


def random_options(rng: random.Random) -> list[dns.edns.Option]:
    choices: list[Callable[[], dns.edns.Option]] = [
        lambda: dns.edns.NSIDOption(b""),
        lambda: dns.edns.ECSOption("192.0.2.0", rng.choice((0, 8, 24, 32))),
        lambda: dns.edns.ECSOption("2001:db8::", rng.choice((0, 32, 56, 128))),
        lambda: dns.edns.CookieOption(rng.randbytes(8), b""),
        lambda: dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(rng.randint(0, 64))),
        lambda: dns.edns.GenericOption(dns.edns.OptionType.make(rng.randint(65001, 65534)),
                                       rng.randbytes(rng.randint(0, 20))),
    ]
    return [rng.choice(choices)() for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]


def valid_query(rng: random.Random) -> Base:
    qname = random_qname(rng)
    qtype = dns.rdatatype.RdataType.make(rng.choice(QTYPES))
    qclass = dns.rdataclass.RdataClass.make(rng.choice(QCLASSES))
    edns: int | bool = False
    payload = 1232
    options: list[dns.edns.Option] = []
    ednsflags = 0
    if rng.random() < 0.55:
        edns = 0 if rng.random() < 0.9 else rng.randint(1, 255)
        payload = rng.choice((0, 1, 511, 512, 1232, 1400, 4096, 65535, rng.randint(0, 65535)))
        options = random_options(rng)
        ednsflags = dns.flags.DO if rng.random() < 0.4 else 0
    msg = dns.message.make_query(qname, qtype, qclass, use_edns=edns, payload=payload,
                                 options=options or None, ednsflags=ednsflags,
                                 id=rng.randrange(65536))
    msg.flags = 0
    for flag, chance in ((dns.flags.RD, 0.5), (dns.flags.CD, 0.1), (dns.flags.AD, 0.1),
                         (dns.flags.TC, 0.03)):
        if rng.random() < chance:
            msg.flags |= flag
    wire = msg.to_wire()
    return Base(wire, 12 + len(wire_of(qname)) + 4)


# ---------------------------------------------------------------------------------------
# the factory


class PacketFactory:
    """A deterministic stream of adversarial packets (see the module docstring)."""

    def __init__(self, seed: int, pool_size: int = 500) -> None:
        self.rng = random.Random(seed)
        self.pool = [valid_query(self.rng) for _ in range(pool_size)]
        self._mutators: dict[str, Callable[[], list[bytes]]] = {
            kind: getattr(self, f"m_{kind}") for kind in KINDS}

    # -- helpers -------------------------------------------------------------------------

    def base(self) -> Base:
        rng = self.rng
        base = rng.choice(self.pool)
        return Base(set_header(base.wire, id=rng.randrange(65536)), base.qend)

    def any_packet(self) -> bytes:
        """A packet from any mutator but the sweeping ones (used to build combinations)."""
        kind = self.rng.choice(SIMPLE_KINDS)
        return self.rng.choice(self._mutators[kind]())

    def generate(self, n: int) -> list[tuple[str, bytes]]:
        """``n`` packets, each with the kind of mutation that made it."""
        rng = self.rng
        kinds = list(KINDS)
        weights = [KINDS[k] for k in kinds]
        out: list[tuple[str, bytes]] = []
        while len(out) < n:
            kind = rng.choices(kinds, weights)[0]
            out.extend((kind, packet) for packet in self._mutators[kind]())
        return out[:n]

    # -- mutators: each returns a list of packets ------------------------------------------

    def m_valid(self) -> list[bytes]:
        return [self.base().wire]

    def m_bitflip(self) -> list[bytes]:
        rng = self.rng
        packet = bytearray(self.base().wire)
        for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
            # most flips land in the header and the question, where parsing decides most
            limit = len(packet) if rng.random() < 0.4 else min(len(packet), 40)
            packet[rng.randrange(limit)] ^= 1 << rng.randrange(8)
        return [bytes(packet)]

    def m_truncate(self) -> list[bytes]:
        wire = self.base().wire
        return [wire[:self.rng.randrange(len(wire))]]

    def m_truncate_all(self) -> list[bytes]:
        """A valid query (with records after the question sometimes) cut at every length."""
        rng = self.rng
        wire = self.base().wire if rng.random() < 0.6 else self.any_packet()
        return [wire[:i] for i in range(len(wire))]

    def m_trailing(self) -> list[bytes]:
        rng = self.rng
        garbage = rng.choice((b"\x00", b"\xff" * 7, rng.randbytes(rng.randint(1, 200)),
                              self.base().wire))
        return [self.base().wire + garbage]

    def m_splice(self) -> list[bytes]:
        """The header of one packet with the body of another."""
        a, b = self.base(), self.any_packet()
        return [a.wire[:12] + b[12:], b[:12] + a.wire[12:], a.wire[:a.qend] + b[12:]]

    def m_counts(self) -> list[bytes]:
        rng = self.rng
        values = (0, 1, 2, 3, 127, 255, 256, 4096, 32768, 65534, 65535)
        packet = self.base().wire if rng.random() < 0.7 else self.any_packet()
        if len(packet) < 12:
            packet = self.base().wire
        fields = {}
        for field in ("qd", "an", "ns", "ar"):
            if rng.random() < 0.5:
                fields[field] = rng.choice(values) if rng.random() < 0.8 else rng.randrange(65536)
        return [set_header(packet, **fields)]

    def m_pointer(self) -> list[bytes]:
        rng = self.rng
        b = self.base()
        qsec = b.wire[12:b.qend]
        qname = qsec[:-4]
        tail = qsec[-4:]
        hdr = b.wire[:2] + u16(rng.choice((0, 0x0100)))
        variant = rng.randrange(11)
        if variant == 0:        # the question's name points at itself
            body = b"\xc0\x0c" + tail
            return [hdr + header()[4:] + body]
        if variant == 1:        # forward: a label, then a pointer to a name after the question
            target = 12 + 4 + 2 + 4
            body = b"\x03abc" + u16(0xC000 | target) + tail + name("example", "com")
            return [hdr + header()[4:] + body]
        if variant == 2:        # into the header
            body = u16(0xC000 | rng.randrange(12)) + tail
            return [hdr + header()[4:] + body]
        if variant == 3:        # past the end of the message
            body = b"\x01x" + u16(0xC000 | rng.randrange(30, 0x4000)) + tail
            return [hdr + header()[4:] + body]
        if variant == 4:        # a pointer cut in half at the end of the message
            return [hdr + header()[4:] + b"\x01x\xc0"]
        if variant == 5:        # an additional record whose owner points at itself
            here = 12 + len(qsec)
            owner = u16(0xC000 | here)
            return [message(qsec, ar=[rr(owner, TYPE_A, CLASS_IN, 60, bytes(4))], id=b.wire[0])]
        if variant == 6:        # a loop through two records: a -> b -> a
            a_at = 12 + len(qsec)
            rec_a_len = 2 + 2 + 10 + 4
            b_at = a_at + rec_a_len
            rec_a = rr(b"\x01a" + u16(0xC000 | b_at), TYPE_A, CLASS_IN, 60, bytes(4))
            rec_b = rr(b"\x01b" + u16(0xC000 | a_at), TYPE_A, CLASS_IN, 60, bytes(4))
            return [message(qsec, an=[rec_a], ar=[rec_b]),
                    message(qsec, ar=[rec_a, rec_b])]
        if variant == 7:        # valid compression: owners pointing back into the question
            suffix_at = 12 + rng.randrange(len(qname)) if qname != b"\x00" else 12
            # align the pointer on a label boundary of the qname
            p = 0
            while qname[p] and 12 + p + qname[p] + 1 <= suffix_at:
                p += qname[p] + 1
            owner = b"\x03www" + u16(0xC000 | (12 + p))
            return [message(qsec, ar=[rr(owner, TYPE_A, CLASS_IN, 60, bytes(4))]),
                    message(qsec, an=[rr(u16(0xC00C), TYPE_NS, CLASS_IN, 60, u16(0xC00C))])]
        if variant == 8:        # a long valid chain of backward pointers, then one too long
            records = []
            at = 12 + len(qsec)
            prev = 12
            for _ in range(rng.randint(2, 40)):
                owner = b"\x01z" + u16(0xC000 | prev)
                records.append(rr(owner, TYPE_A, CLASS_IN, 0, bytes(4)))
                prev = at
                at += len(records[-1])
            return [message(qsec, ar=records)]
        if variant == 9:        # a pointer into the middle of a label
            body = b"\x05abcde\x00" + tail
            packet = hdr + header()[4:] + body
            owner = u16(0xC000 | (12 + rng.randint(1, 5)))
            return [set_header(packet + rr(owner, TYPE_A, CLASS_IN, 0, bytes(4)), ar=1)]
        # a pointer with the 0x40/0x80 bits mixed in: C0 is a pointer, 40 and 80 are not
        first = rng.choice((0x40, 0x80, 0x7F, 0xBF))
        return [hdr + header()[4:] + bytes([first, 12]) + tail]

    def m_label(self) -> list[bytes]:
        """A label length of 64..255 somewhere in the question name (label types 0x40/0x80,
        lengths over 63, pointers)."""
        rng = self.rng
        b = self.base()
        qname = b.wire[12:b.qend - 4]
        positions = [0]
        p = 0
        while qname[p]:
            p += qname[p] + 1
            positions.append(p)
        at = rng.choice(positions)
        bad = rng.choice((64, 65, 0x41, 0x7F, 0x80, 0xBF, rng.randint(64, 255)))
        broken = bytearray(b.wire)
        broken[12 + at] = bad
        out = [bytes(broken)]
        # and a label longer than what is left of the message
        out.append(b.wire[:12] + b"\x3f" + b"a" * rng.randint(0, 40))
        return out

    def m_longname(self) -> list[bytes]:
        rng = self.rng
        variant = rng.randrange(4)
        if variant == 0:        # many one-octet labels: 254, 255 (valid), 256, 257 octets
            count = rng.choice((126, 127, 128, 129, 200))
            qname = name(*([b"a"] * count))
        elif variant == 1:      # four long labels around 255
            last = rng.choice((60, 61, 62, 63))
            qname = name(b"x" * 63, b"y" * 63, b"z" * 63, b"w" * last)
        elif variant == 2:      # long only once decompressed: 200 octets + a pointer
            qsec = question(name(*([b"q" * 49] * 2)))          # 101 octets
            owner = name(*([b"o" * 49] * 4))[:-1] + u16(0xC00C)  # 200 + 101
            rec = rr(owner, TYPE_A, CLASS_IN, 60, bytes(4))
            return [message(qsec, ar=[rec], id=rng.randrange(65536))]
        else:                   # many labels then a pointer back to the question
            qsec = question(name(*([b"p"] * 60)))
            owner = name(*([b"r"] * rng.choice((70, 74, 80))))[:-1] + u16(0xC00C)
            rec = rr(owner, TYPE_A, CLASS_IN, 60, bytes(4))
            return [message(qsec, an=[rec], id=rng.randrange(65536))]
        qtype = rng.choice((TYPE_A, 28, 16))
        return [message(question(qname, qtype), id=rng.randrange(65536))]

    def m_opt(self) -> list[bytes]:
        rng = self.rng
        b = self.base()
        qsec = b.wire[12:b.qend]
        qname_root_at = 12 + len(qsec) - 5     # the root octet that ends the qname
        good = opt(rng.choice((512, 1232, 4096)))
        variant = rng.randrange(14)
        if variant == 0:        # an option longer than the RDATA
            rec = opt(options=option(10, rng.randbytes(8), olen=rng.randint(9, 300)))
        elif variant == 1:      # 1..3 octets left: not even an option header
            rec = opt(options=option(3, b"") + rng.randbytes(rng.randint(1, 3)))
        elif variant == 2:      # RDLENGTH past the end of the message
            rec = opt(options=option(3, b""), rdlen=rng.choice((5, 100, 65535)))
        elif variant == 3:      # RDLENGTH shorter than the options
            rec = opt(options=option(8, bytes(8)), rdlen=rng.randint(1, 11))
        elif variant == 4:      # two OPT records
            return [message(qsec, ar=[good, good]),
                    message(qsec, ar=[good, opt(4096, flags=0x8000)]),
                    message(qsec, ar=[good, rr(name("x"), TYPE_A, CLASS_IN, 0, bytes(4)), good])]
        elif variant == 5:      # owner not the root
            owner = rng.choice((name("foo"), name("example", "com"), u16(0xC00C)))
            rec = opt(owner=owner)
        elif variant == 6:      # owner the root, but written as a pointer to a root octet
            rec = opt(owner=u16(0xC000 | qname_root_at))
        elif variant == 7:      # in the answer or authority section
            section = rng.choice(("an", "ns"))
            return [in_section(qsec, section, [good]),
                    set_header(in_section(qsec, section, [good]) + good, ar=1)]
        elif variant == 8:      # EDNS versions above 0 (BADVERS), extended rcode bits
            rec = opt(version=rng.choice((1, 2, 255)), ext_rcode=rng.randrange(256))
        elif variant == 9:      # many well-formed options, NSID among them
            opts = b"".join(option(rng.randrange(65536), rng.randbytes(rng.randint(0, 30)))
                            for _ in range(rng.randint(1, 30)))
            rec = opt(options=opts + option(3, b""))
        elif variant == 10:     # odd payload sizes, DO and Z bits
            rec = opt(rng.choice((0, 1, 511, 65535)), flags=rng.randrange(65536))
        elif variant == 11:     # a zero-length option and an option filling the RDATA
            rec = opt(options=option(65001, b"") + option(12, bytes(rng.randint(0, 400))))
        elif variant == 12:     # option header with a length one past the end, exactly
            data = rng.randbytes(rng.randint(0, 10))
            rec = opt(options=option(15, data, olen=len(data) + 1))
        else:                   # OPT not last in the additional section, other records after
            return [message(qsec, ar=[good, rr(name("a"), TYPE_A, CLASS_IN, 0, bytes(4))])]
        return [message(qsec, ar=[rec], id=rng.randrange(65536))]

    def m_tsig(self) -> list[bytes]:
        rng = self.rng
        b = self.base()
        qsec = b.wire[12:b.qend]
        key = name("key", "example")
        tsig = rr(key, TYPE_TSIG, CLASS_ANY, 0, tsig_rdata(rng.randbytes(32), b.wire[0]))
        other = rr(name("a"), TYPE_A, CLASS_IN, 0, bytes(4))
        variant = rng.randrange(7)
        if variant == 0:        # last in the additional section: well formed
            return [message(qsec, ar=[tsig]), message(qsec, ar=[opt(), tsig])]
        if variant == 1:        # not last
            return [message(qsec, ar=[tsig, opt()]), message(qsec, ar=[tsig, other]),
                    message(qsec, ar=[tsig, tsig])]
        if variant == 2:        # in the answer or authority section
            return [message(qsec, an=[tsig]), message(qsec, ns=[tsig])]
        if variant == 3:        # class IN instead of ANY
            return [message(qsec, ar=[rr(key, TYPE_TSIG, CLASS_IN, 0, tsig_rdata())])]
        if variant == 4:        # RDATA cut short (RDLENGTH consistent with it)
            rdata = tsig_rdata()
            return [message(qsec, ar=[rr(key, TYPE_TSIG, CLASS_ANY, 0,
                                         rdata[:rng.randrange(len(rdata))])])]
        if variant == 5:        # MAC size past the RDATA
            overrun = bytearray(tsig_rdata())
            mac_len_at = len(name("hmac-sha256")) + 8
            overrun[mac_len_at:mac_len_at + 2] = u16(rng.randint(33, 65535))
            return [message(qsec, ar=[rr(key, TYPE_TSIG, CLASS_ANY, 0, bytes(overrun))])]
        # an RDLENGTH past the end of the message
        rdata = tsig_rdata()
        return [message(qsec, ar=[rr(key, TYPE_TSIG, CLASS_ANY, 0, rdata, len(rdata) + 10)])]

    def m_records(self) -> list[bytes]:
        """Records after the question: well formed, with bad RDATA, or overrunning."""
        rng = self.rng
        b = self.base()
        qsec = b.wire[12:b.qend]
        owner = rng.choice((u16(0xC00C), name("x", "example", "com"), b"\x00"))
        variant = rng.randrange(8)
        if variant == 0:        # well formed, every section
            recs = [rr(owner, TYPE_A, CLASS_IN, 60, bytes(4)),
                    rr(owner, TYPE_NS, CLASS_IN, 60, name("ns", "example")),
                    rr(owner, 16, CLASS_IN, 60, b"\x03abc"),
                    rr(owner, 65280, CLASS_IN, 60, rng.randbytes(rng.randint(0, 50)))]
            return [message(qsec, an=[recs[0]], ns=[recs[1]], ar=recs[2:])]
        if variant == 1:        # an A record of the wrong length
            section = rng.choice(("an", "ns", "ar"))
            bad = rr(owner, TYPE_A, CLASS_IN, 60, bytes(rng.choice((0, 3, 5, 16))))
            return [in_section(qsec, section, [bad])]
        if variant == 2:        # a name in RDATA that overruns the RDATA
            bad = rr(owner, TYPE_NS, CLASS_IN, 60, b"\x05ab")
            return [message(qsec, ns=[bad])]
        if variant == 3:        # RDLENGTH past the end of the message
            return [message(qsec, an=[rr(owner, TYPE_A, CLASS_IN, 60, bytes(4),
                                         rng.choice((5, 300, 65535)))])]
        if variant == 4:        # a record cut inside its fixed fields
            rec = rr(owner, TYPE_A, CLASS_IN, 60, bytes(4))
            return [message(qsec, ar=[rec[:rng.randrange(len(rec))]])]
        if variant == 5:        # an owner with a bad label
            return [message(qsec, ar=[rr(b"\x45abc\x00", TYPE_A, CLASS_IN, 0, bytes(4))])]
        if variant == 6:        # many records
            recs = [rr(u16(0xC00C), rng.randrange(65536), rng.randrange(65536),
                       rng.randrange(1 << 32), rng.randbytes(rng.randint(0, 8)))
                    for _ in range(rng.randint(10, 200))]
            return [message(qsec, ar=recs)]
        # a meta type or class as a record
        rec = rr(owner, rng.choice((0, 251, 252, 255)), rng.choice((1, 254, 255)), 0, b"")
        return [message(qsec, ar=[rec])]

    def m_empty(self) -> list[bytes]:
        return [b""]

    def m_short(self) -> list[bytes]:
        return [self.rng.randbytes(self.rng.randint(1, 11))]

    def m_header_only(self) -> list[bytes]:
        rng = self.rng
        counts = [rng.choice((0, 1, 65535)) for _ in range(4)]
        return [header(rng.randrange(65536), rng.randrange(65536) & ~QR, *counts),
                header(rng.randrange(65536), rng.randrange(65536), *counts)]

    def m_random(self) -> list[bytes]:
        rng = self.rng
        packet = bytearray(rng.randbytes(rng.choice((12, 13, 20, 50, 100, 512, 1500))))
        if rng.random() < 0.7:      # make it look like a query so that it is answered
            packet[2] &= 0x07
            packet[4:6] = u16(1)
        return [bytes(packet)]

    def m_response(self) -> list[bytes]:
        rng = self.rng
        b = self.base()
        flags = _U16.unpack_from(b.wire, 2)[0] | QR
        out = [set_header(b.wire, flags=flags)]
        query = dns.message.from_wire(b.wire)
        out.append(dns.message.make_response(query).to_wire())
        out.append(header(rng.randrange(65536), QR, 0, 0, 0, 0))        # header only
        other = self.any_packet()
        if len(other) >= 12:
            out.append(other[:2] + bytes([other[2] | 0x80]) + other[3:])
        return out

    def m_opcode(self) -> list[bytes]:
        """Every opcode, on a valid query or on a broken packet."""
        rng = self.rng
        packet = self.base().wire if rng.random() < 0.6 else self.any_packet()
        if len(packet) < 12:
            packet = self.base().wire
        flags = _U16.unpack_from(packet, 2)[0] & ~0x7800
        return [set_header(packet, flags=flags | opcode << 11) for opcode in range(16)]


#: mutator name -> relative weight in a generated stream (sweeps yield many packets each)
KINDS = {
    "valid": 10, "bitflip": 16, "truncate": 6, "truncate_all": 0.6, "trailing": 4,
    "splice": 2, "counts": 8, "pointer": 8, "label": 5, "longname": 3, "opt": 8,
    "tsig": 3, "records": 5, "empty": 1, "short": 2, "header_only": 2, "random": 5,
    "response": 3, "opcode": 1,
}
SIMPLE_KINDS = tuple(k for k in KINDS if k not in ("truncate_all", "opcode", "splice",
                                                    "counts", "response"))


def catalogue() -> list[tuple[str, bytes]]:
    """One hand-built packet per case of the issue and of docs/differences.md M1-M8, named."""
    www = question(name("www", "example", "com"))
    qname_root_at = 12 + len(www) - 5
    key = name("key", "example")
    tsig = rr(key, TYPE_TSIG, CLASS_ANY, 0, tsig_rdata(original_id=0x1234))
    a_rec = rr(name("a"), TYPE_A, CLASS_IN, 0, bytes(4))
    ok = message(www, id=0x1234)
    cases: list[tuple[str, bytes]] = [
        ("valid", ok),
        ("valid with EDNS", message(www, ar=[opt()], id=0x1234)),
        ("empty", b""),
        ("one octet", b"\x12"),
        ("eleven octets", ok[:11]),
        ("header only, QDCOUNT 0", header(0x1234, 0, 0)),
        ("header only, QDCOUNT 1", header(0x1234, 0, 1)),
        ("header only, QR=1", header(0x1234, QR, 0)),
        ("QR=1 query", set_header(ok, flags=QR)),
        ("QDCOUNT 0 with a question", set_header(ok, qd=0)),
        ("QDCOUNT 2", message(www + www, id=0x1234, qd=2)),
        ("QDCOUNT 65535", set_header(ok, qd=65535)),
        ("ANCOUNT 65535", set_header(ok, an=65535)),
        ("NSCOUNT 65535", set_header(ok, ns=65535)),
        ("ARCOUNT 65535", set_header(ok, ar=65535)),
        ("TC=1 (M7)", set_header(ok, flags=0x0200)),
        ("question cut in its type", ok[:-3]),
        ("question cut in its name", ok[:16]),
        ("label type 0x40", header(0x1234) + b"\x41abc\x00" + www[-4:]),
        ("label type 0x80", header(0x1234) + b"\x81abc\x00" + www[-4:]),
        ("label length 64", header(0x1234) + b"\x40" + b"a" * 64 + b"\x00" + www[-4:]),
        ("label length 255 (a pointer past the end)", header(0x1234) + b"\xff\xff" + www[-4:]),
        ("label longer than the message", header(0x1234) + b"\x3fabc"),
        ("name of 255 octets", message(question(name(b"x" * 63, b"y" * 63, b"z" * 63,
                                                     b"w" * 61)), id=0x1234)),
        ("name of 256 octets", message(question(name(b"x" * 63, b"y" * 63, b"z" * 63,
                                                     b"w" * 62)), id=0x1234)),
        ("name of 128 one-octet labels", message(question(name(*[b"a"] * 128)), id=0x1234)),
        ("name of 127 one-octet labels", message(question(name(*[b"a"] * 127)), id=0x1234)),
        ("pointer to itself", header(0x1234) + b"\xc0\x0c" + www[-4:]),
        ("forward pointer", header(0x1234) + b"\xc0\x12" + www[-4:] + name("com")),
        ("pointer into the header", header(0x1234) + b"\xc0\x04" + www[-4:]),
        ("pointer past the end", header(0x1234) + b"\x01a\xc0\xff" + www[-4:]),
        ("pointer cut in half", header(0x1234) + b"\x01a\xc0"),
        ("pointer loop in a record", message(www, ar=[
            rr(u16(0xC000 | (12 + len(www))), TYPE_A, CLASS_IN, 0, bytes(4))], id=0x1234)),
        ("valid compression in a record", message(www, ar=[
            rr(u16(0xC00C), TYPE_A, CLASS_IN, 0, bytes(4))], id=0x1234)),
        ("name over 255 octets through a pointer", message(
            question(name(*([b"q" * 49] * 2))),
            ar=[rr(name(*([b"o" * 49] * 4))[:-1] + u16(0xC00C), TYPE_A, CLASS_IN, 60,
                   bytes(4))], id=0x1234)),
        ("OPT option longer than its RDATA", message(www, ar=[
            opt(options=option(10, bytes(8), olen=9))], id=0x1234)),
        ("OPT with a partial option header", message(www, ar=[
            opt(options=b"\x00\x03\x00")], id=0x1234)),
        ("OPT RDLENGTH past the end", message(www, ar=[opt(rdlen=100)], id=0x1234)),
        ("two OPT records (M5)", message(www, ar=[opt(), opt()], id=0x1234)),
        ("OPT owned by a non-root name (M6)", message(www, ar=[opt(owner=name("foo"))],
                                                      id=0x1234)),
        ("OPT owned by a pointer to the qname (M6)", message(www, ar=[opt(owner=u16(0xC00C))],
                                                             id=0x1234)),
        ("OPT owned by the root, written as a pointer to a root octet", message(
            www, ar=[opt(owner=u16(0xC000 | qname_root_at))], id=0x1234)),
        ("OPT in the answer section", message(www, an=[opt()], id=0x1234)),
        ("OPT in the authority section", message(www, ns=[opt()], id=0x1234)),
        ("EDNS version 1 (BADVERS)", message(www, ar=[opt(version=1)], id=0x1234)),
        ("OPT with NSID", message(www, ar=[opt(options=option(3, b""))], id=0x1234)),
        ("TSIG last", message(www, ar=[tsig], id=0x1234)),
        ("TSIG after OPT", message(www, ar=[opt(), tsig], id=0x1234)),
        ("TSIG not last", message(www, ar=[tsig, opt()], id=0x1234)),
        ("TSIG before a record", message(www, ar=[tsig, a_rec], id=0x1234)),
        ("trailing garbage", ok + b"\xde\xad\xbe\xef" * 8),
        ("trailing copy of the query", ok + ok),
        ("A record of 3 octets in the additional section", message(www, ar=[
            rr(name("a"), TYPE_A, CLASS_IN, 0, bytes(3))], id=0x1234)),
        ("TKEY query", message(question(name("example", "com"), 249), id=0x1234)),
        ("CHAOS version.bind", message(question(name("version", "bind"), 16, 3), id=0x1234)),
    ]
    for opcode in range(16):
        cases.append((f"opcode {opcode}", set_header(ok, flags=opcode << 11)))
        cases.append((f"opcode {opcode}, malformed question",
                      header(0x1234, opcode << 11) + b"\x41abc\x00" + www[-4:]))
    return cases

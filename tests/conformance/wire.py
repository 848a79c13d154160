"""Queries as exact wire bytes, and a client that sends them to one server over UDP or TCP.

Queries are built by hand (not by dnspython's renderer) so that every bit the suite cares
about is explicit: the qname's case, header flags, the OPT record's payload size, version,
flags and options, and deliberately odd values (classes, meta-types, EDNS versions).
"""

import select
import socket
import struct
import time
from dataclasses import dataclass, field, replace

import dns.name
import dns.rdataclass
import dns.rdatatype

_HEADER = struct.Struct("!HHHHHH")
_LEN = struct.Struct("!H")

QR, AA, TC, RD, RA, Z, AD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0040, 0x0020, 0x0010
DO = 0x8000
OPT_NSID, OPT_ECS, OPT_COOKIE, OPT_PADDING = 3, 8, 10, 12


@dataclass(frozen=True)
class Query:
    """One query: what is sent, and how. ``edns`` is the advertised UDP payload size, or
    None for a query without OPT."""

    qname: str
    qtype: int = dns.rdatatype.A
    qclass: int = dns.rdataclass.IN
    tcp: bool = False
    edns: int | None = 1232
    do: bool = False
    #: header flag bits set in the query besides the opcode (RD, CD, AD, AA, Z, TC)
    flags: int = 0
    opcode: int = 0
    edns_version: int = 0
    #: EDNS flag bits other than DO
    edns_flags: int = 0
    options: tuple[tuple[int, bytes], ...] = ()
    #: the group a query belongs to in the report ("zone data", "EDNS", "CHAOS"...)
    group: str = field(default="special", compare=False)

    @property
    def name(self) -> dns.name.Name:
        return dns.name.from_text(self.qname)

    def wire(self, qid: int) -> bytes:
        flags = (self.opcode << 11) | self.flags
        out = [_HEADER.pack(qid, flags, 1, 0, 0, 0 if self.edns is None else 1),
               self.name.to_wire(), struct.pack("!HH", self.qtype, self.qclass)]
        if self.edns is not None:
            out.append(opt_record(self.edns, self.edns_version,
                                  (DO if self.do else 0) | self.edns_flags, self.options))
        return b"".join(out)

    def variant(self, **changes) -> "Query":
        return replace(self, **changes)

    def __str__(self) -> str:
        parts = [self.qname, dns.rdataclass.to_text(self.qclass) if self.qclass != 1 else "",
                 dns.rdatatype.to_text(self.qtype), "tcp" if self.tcp else "udp",
                 "noedns" if self.edns is None else f"edns={self.edns}"]
        if self.do:
            parts.append("do")
        if self.opcode:
            parts.append(f"opcode={self.opcode}")
        if self.flags:
            parts.append(f"flags=0x{self.flags:04x}")
        if self.edns_version:
            parts.append(f"ednsver={self.edns_version}")
        if self.edns_flags:
            parts.append(f"ednsflags=0x{self.edns_flags:04x}")
        parts += [f"opt{code}={data.hex() or '-'}" for code, data in self.options]
        return " ".join(p for p in parts if p)


def opt_record(payload: int, version: int = 0, flags: int = 0,
               options: tuple[tuple[int, bytes], ...] = (), owner: bytes = b"\x00",
               ext_rcode: int = 0, rdata: bytes | None = None) -> bytes:
    """An OPT pseudo-RR (RFC 6891 §6.1.2); ``rdata`` overrides the encoded options."""
    if rdata is None:
        rdata = b"".join(struct.pack("!HH", code, len(data)) + data for code, data in options)
    ttl = (ext_rcode << 24) | (version << 16) | flags
    return owner + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


def mixed_case(text: str, phase: int = 0) -> str:
    """``www.example.com`` → ``WwW.ExAmPlE.CoM`` (letters alternate; escapes kept)."""
    out, upper, i = [], phase % 2 == 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":   # keep \DDD and \X escapes untouched
            step = 4 if text[i + 1:i + 4].isdigit() else 2
            out.append(text[i:i + step])
            i += step
            continue
        if ch.isalpha():
            out.append(ch.upper() if upper else ch.lower())
            upper = not upper
        else:
            out.append(ch)
        i += 1
    return "".join(out)


class Client:
    """Exchanges raw messages with one server: one UDP socket and one TCP connection, both
    reused (a TCP connection the server closed is reopened once)."""

    def __init__(self, address: str, port: int) -> None:
        self.address = (address, port)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.connect(self.address)
        self.tcp: socket.socket | None = None
        self._qid = 0

    def next_id(self) -> int:
        self._qid = (self._qid + 7919) % 65536 or 1
        return self._qid

    def close(self) -> None:
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()
            self.tcp = None

    # --- UDP ----------------------------------------------------------------------------
    def _drain_udp(self) -> None:
        while select.select([self.udp], [], [], 0)[0]:
            try:
                self.udp.recv(65535)
            except OSError:
                return

    def udp_exchange(self, wire: bytes, timeout: float = 2.0) -> bytes | None:
        """Send ``wire``; the first datagram whose ID matches, or None after ``timeout``."""
        self._drain_udp()
        self.udp.send(wire)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([self.udp], [], [], left)[0]:
                break
            try:
                data = self.udp.recv(65535)
            except ConnectionRefusedError:
                return None
            if data[:2] == wire[:2]:
                return data
        return None

    def udp_batch(self, wires: list[bytes], wait: float) -> dict[bytes, bytes]:
        """Send every datagram, then collect what comes back within ``wait`` seconds, by
        ID (the IDs must be distinct): for packets the server may silently drop."""
        self._drain_udp()
        for wire in wires:
            self.udp.send(wire)
        got: dict[bytes, bytes] = {}
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0 and len(got) < len(wires):
            if not select.select([self.udp], [], [], left)[0]:
                break
            data = self.udp.recv(65535)
            got.setdefault(data[:2], data)
        return got

    # --- TCP ----------------------------------------------------------------------------
    def _connection(self) -> socket.socket:
        if self.tcp is None:
            self.tcp = socket.create_connection(self.address, timeout=2.0)
            self.tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.tcp

    def tcp_exchange(self, wire: bytes, timeout: float = 2.0) -> bytes | None:
        """Send ``wire`` framed on the shared connection; the response, or None if the
        server closed the connection without answering."""
        for attempt in (0, 1):
            sock = self._connection()
            try:
                sock.settimeout(timeout)
                sock.sendall(_LEN.pack(len(wire)) + wire)
                return read_framed(sock)
            except (ConnectionError, EOFError, BrokenPipeError):
                self.tcp = None
                sock.close()
                if attempt:
                    return None
        return None

    def exchange(self, wire: bytes, tcp: bool, timeout: float = 2.0) -> bytes | None:
        return self.tcp_exchange(wire, timeout) if tcp else self.udp_exchange(wire, timeout)


def read_framed(sock: socket.socket) -> bytes:
    size = _LEN.unpack(recv_exact(sock, 2))[0]
    return recv_exact(sock, size)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError("connection closed by the server")
        buf += chunk
    return bytes(buf)

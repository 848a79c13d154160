"""Records served one by one: what a server makes of each record of a list.

Record ``i`` of ``records`` (``(type, content)`` as an operator writes them) goes at its own
name ``r<i>.probe.test.``, in a zone file (``via="bind"``) or in ``records`` rows of an
SQLite database (``via="gsqlite3"``). ``probe(server_kind, records, workdir, via)`` serves
that zone with Debian's pdns_server 4.7 or with fastdns (``bind-ignore-broken-records=yes``
for both), asks each name for its type over TCP, and returns the rdata served for each,
uncompressed, sorted (None where nothing was served: a record the server left out, or
PowerDNS's SERVFAIL for a name whose record it cannot read).

For the zone file, PowerDNS refuses the whole zone for a few errors (a malformed name in the
data of NS, MX...; docs/differences.md): ``probe`` then leaves that record out of PowerDNS's
file, says so in ``refused``, and tries again.
"""

import re
import socket
import sqlite3
import struct
from dataclasses import dataclass, field
from pathlib import Path

from fastdns.backends.sqlbase import schema_sql
from tests._support.servers import Fastdns, Pdns, require
from tests.conformance.normalise import rdata_uncompressed, read_name

ZONE = "probe.test"
SOA = "ns.probe.test. hostmaster.probe.test. 1 3600 600 86400 300"
#: types whose rdata names PowerDNS compresses: (octets before the first name, names)
_REFUSED_RECORD = re.compile(r"Error in record 'r(\d+)\.probe\.test")


@dataclass
class Probe:
    #: per record: the rdata served (sorted), or None
    served: list[list[bytes] | None]
    #: records PowerDNS would not load its zone file with (left out of its file)
    refused: set[int] = field(default_factory=set)


def owner(i: int) -> str:
    return f"r{i}.{ZONE}."


def zone_text(records: list[tuple[str, str]], skip: set[int] = frozenset()) -> str:
    lines = ["$TTL 300", f"@ IN SOA {SOA}", "@ IN NS ns.probe.test.", "ns IN A 192.0.2.53"]
    lines += [f"r{i} IN {rtype} {content}" for i, (rtype, content) in enumerate(records)
              if i not in skip]
    return "\n".join(lines) + "\n"


def _bind(records: list[tuple[str, str]], workdir: Path, skip: set[int]) -> dict[str, str]:
    (workdir / "probe.zone").write_text(zone_text(records, skip))
    (workdir / "named.conf").write_text(
        f'zone "{ZONE}" {{ type master; file "{workdir / "probe.zone"}"; }};\n')
    return {"launch": "bind", "bind-config": str(workdir / "named.conf"),
            "bind-ignore-broken-records": "yes"}


def _gsqlite3(records: list[tuple[str, str]], workdir: Path) -> dict[str, str]:
    path = workdir / "probe.sqlite3"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(schema_sql("sqlite3"))
        conn.execute("INSERT INTO domains (id, name, type) VALUES (1, ?, 'NATIVE')", (ZONE,))
        rows = [(ZONE, "SOA", SOA.replace(". ", " "), None), (ZONE, "NS", "ns.probe.test", None),
                (f"ns.{ZONE}", "A", "192.0.2.53", None)]
        for i, (rtype, content) in enumerate(records):
            prio = None
            if rtype.upper() in ("MX", "SRV"):
                head, _, rest = content.partition(" ")
                if head.isdigit():
                    prio, content = int(head), rest
            rows.append((owner(i)[:-1], rtype.upper(), content, prio))
        conn.executemany("INSERT INTO records (domain_id, name, type, content, ttl, prio) "
                         "VALUES (1, ?, ?, ?, 300, ?)", rows)
    return {"launch": "gsqlite3", "gsqlite3-database": str(path)}


def _query(port: int, qname: str, qtype: int) -> bytes:
    wire = struct.pack("!HHHHHH", 0x4242, 0, 1, 0, 0, 0)
    wire += b"".join(bytes([len(p)]) + p.encode() for p in qname.rstrip(".").split("."))
    wire += b"\0" + struct.pack("!HH", qtype, 1)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(struct.pack("!H", len(wire)) + wire)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            data += chunk
    return data[2:]


def _rdatas(wire: bytes, qname: str, qtype: int) -> list[bytes]:
    """The rdata of every RR of ``qname``/``qtype`` in the answer and authority sections."""
    _, _, qd, an, ns, _ = struct.unpack_from("!HHHHHH", wire)
    off = 12
    for _ in range(qd):
        _, off = read_name(wire, off)
        off += 4
    want = b"".join(bytes([len(p)]) + p.encode() for p in qname.rstrip(".").split(".")) + b"\0"
    out = []
    for _ in range(an + ns):
        name, off = read_name(wire, off)
        rdtype, _, _, rdlen = struct.unpack_from("!HHIH", wire, off)
        off += 10
        if rdtype == qtype and name.lower() == want:
            out.append(rdata_uncompressed(wire, rdtype, off, off + rdlen))
        off += rdlen
    return sorted(out)



def probe(kind: str, records: list[tuple[str, int, str]], workdir: Path,
          via: str = "bind") -> Probe:
    """What ``kind`` ("pdns" or "fastdns") serves for each ``(type as written, type
    code, content)``; see the module docstring. ``workdir`` must exist."""
    written = [(rtype, content) for rtype, _, content in records]
    refused: set[int] = set()
    while True:
        settings = _bind(written, workdir, refused) if via == "bind" else \
            _gsqlite3(written, workdir)
        server = _server(kind, workdir, settings)
        with server:
            if _query(server.port, ZONE, 6)[3] & 0xF:
                again = _refused_record(server.log()) if kind == "pdns" else None
                if again is None or again in refused:
                    raise ZoneRefused(server.log()[-3000:])
                refused.add(again)
                continue
            served: list[list[bytes] | None] = []
            for i, (_, code, _) in enumerate(records):
                wire = _query(server.port, owner(i), code)
                found = _rdatas(wire, owner(i), code) if wire[3] & 0xF == 0 else []
                served.append(found or None)
            return Probe(served, refused)


def _server(kind: str, workdir: Path, settings: dict[str, str]):
    if kind == "pdns":
        require("pdns_server")
        server = Pdns(workdir, workdir / "named.conf", settings)
        if settings["launch"] != "bind":
            del server.settings["bind-config"]
        return server
    return Fastdns(workdir, settings)


class ZoneRefused(Exception):
    """The server did not load the probe zone at all."""


def _refused_record(log: str) -> int | None:
    """The record named by the last refusal in the log (one log serves every try)."""
    found = _REFUSED_RECORD.findall(log)
    return int(found[-1]) if found else None

"""The stub resolver a worker asks for the addresses behind an ALIAS (``expand-alias=yes``,
``resolver=``), as PowerDNS asks its ``resolver``: one UDP query per (target, type), RD set,
no EDNS, a random ID from a socket of its own. It never blocks the worker: a query that
needs the answer waits parked in the worker's responder (fastdns._udp), and is answered
when :meth:`StubResolver.lookup` supplies the records to the engine, or SERVFAIL at its
deadline.

What the resolver answers is kept for its TTL (the engine's supplied records): every
record of the asked type in its answer section, whatever its owner (a CNAME chain's end
included), as PowerDNS takes them. An rcode other than NOERROR, or no answer within
``timeout`` (1.5 s: before the waiting queries' own deadline, 2 s, so that they get the
engine's SERVFAIL, authoritative as PowerDNS's), is a failed lookup: SERVFAIL for the
queries that wait, kept a second.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Callable

from fastdns.log import Throttled

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
#: how long an empty answer (NODATA, or a truncated one) is kept when it says nothing
NEGATIVE_TTL = 60
#: most records of one answer taken
MAX_RECORDS = 64


class ResolverError(ValueError):
    """An answer that cannot be read."""


def make_query(qid: int, name: bytes, qtype: int) -> bytes:
    """A query for ``name`` (wire form) and ``qtype``, RD set, no EDNS."""
    return _HEADER.pack(qid, 0x0100, 1, 0, 0, 0) + name + struct.pack("!HH", qtype, 1)


def _skip_name(data: bytes, pos: int) -> int:
    """The position after the (possibly compressed) name at ``pos``."""
    while True:
        if pos >= len(data):
            raise ResolverError("name runs past the end")
        length = data[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        if length & 0xC0:
            raise ResolverError("bad label type")
        pos += 1 + length


def read_answer(data: bytes, qid: int, name: bytes, qtype: int
                ) -> tuple[int, list[bytes], int, bool]:
    """(rcode, rdatas of ``qtype`` in the answer section, their smallest TTL, TC) of the
    response ``data`` to query ``qid``; ResolverError when it is not that response."""
    if len(data) < 12:
        raise ResolverError("short message")
    rid, flags, qdcount, ancount, _ns, _ar = _HEADER.unpack_from(data)
    if rid != qid or not flags & 0x8000 or flags & 0x7800:
        raise ResolverError("not the response to our query")
    pos = 12
    if qdcount != 1:
        raise ResolverError("the response does not echo one question")
    end = _skip_name(data, pos)
    if data[pos:end].lower() != name.lower() or data[end:end + 4] != struct.pack("!HH", qtype, 1):
        raise ResolverError("the response is for another question")
    pos = end + 4
    rdatas: list[bytes] = []
    ttl = 0xFFFFFFFF
    for _ in range(ancount):
        pos = _skip_name(data, pos)
        if pos + _RR.size > len(data):
            raise ResolverError("record runs past the end")
        rtype, rclass, rttl, rdlen = _RR.unpack_from(data, pos)
        pos += _RR.size
        if pos + rdlen > len(data):
            raise ResolverError("record data runs past the end")
        if rtype == qtype and rclass == 1 and len(rdatas) < MAX_RECORDS:
            rdatas.append(data[pos:pos + rdlen])
            ttl = min(ttl, rttl & 0x7FFFFFFF)
        pos += rdlen
    return flags & 0xF, rdatas, ttl if rdatas else NEGATIVE_TTL, bool(flags & 0x0200)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, owner: StubResolver) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr) -> None:
        self.owner.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        self.owner.failed_all(exc)


class StubResolver:
    """``supply(name, qtype, rdatas | None, ttl)`` is called once per lookup: with the
    records (possibly none), or None when the lookup failed."""

    def __init__(self, address: tuple[str, int], supply: Callable[..., None],
                 timeout: float = 1.5) -> None:
        self.address = address
        self.supply = supply
        self.timeout = timeout
        self.transport: asyncio.DatagramTransport | None = None
        #: query ID -> (name, qtype, timer)
        self.pending: dict[int, tuple[bytes, int, asyncio.TimerHandle]] = {}
        self.failures = Throttled(logging.WARNING, "ALIAS lookup failed")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), family=family, remote_addr=self.address)

    def lookup(self, name: bytes, qtype: int) -> None:
        """Ask for (``name``, ``qtype``); the answer goes to ``supply``."""
        if self.transport is None:
            self._done(name, qtype, None, "no resolver socket")
            return
        qid = int.from_bytes(os.urandom(2), "big")
        while qid in self.pending:
            qid = (qid + 1) & 0xFFFF
        timer = asyncio.get_running_loop().call_later(self.timeout, self._timed_out, qid)
        self.pending[qid] = (name, qtype, timer)
        self.transport.sendto(make_query(qid, name, qtype))

    def received(self, data: bytes, addr) -> None:
        if len(data) < 2:
            return
        qid = int.from_bytes(data[:2], "big")
        entry = self.pending.get(qid)
        if entry is None:
            return
        name, qtype, timer = entry
        try:
            rcode, rdatas, ttl, _tc = read_answer(data, qid, name, qtype)
        except ResolverError:
            return                      # not our answer: the real one may still come
        del self.pending[qid]
        timer.cancel()
        if rcode != 0:
            self._done(name, qtype, None, f"rcode {rcode}")
        else:
            self.supply(name, qtype, rdatas, ttl)

    def _timed_out(self, qid: int) -> None:
        entry = self.pending.pop(qid, None)
        if entry is not None:
            self._done(entry[0], entry[1], None, "no answer")

    def failed_all(self, exc: Exception) -> None:
        """The socket reported an error (ICMP port unreachable): every lookup failed."""
        for qid in list(self.pending):
            name, qtype, timer = self.pending.pop(qid)
            timer.cancel()
            self._done(name, qtype, None, str(exc))

    def _done(self, name: bytes, qtype: int, rdatas, why: str) -> None:
        self.failures(f"{name_text(name)} type {qtype} at {self.address[0]}: {why}")
        self.supply(name, qtype, rdatas, 1)

    def close(self) -> None:
        for _name, _qtype, timer in self.pending.values():
            timer.cancel()
        self.pending.clear()
        if self.transport is not None:
            self.transport.close()


def name_text(wire: bytes) -> str:
    """A wire-form name as text, for log lines."""
    labels, pos = [], 0
    while pos < len(wire) and wire[pos]:
        labels.append(wire[pos + 1:pos + 1 + wire[pos]].decode("ascii", "replace"))
        pos += 1 + wire[pos]
    return ".".join(labels) + "."

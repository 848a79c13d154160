"""Zone transfers in: a secondary's SOA check and its AXFR or IXFR from a primary.

A transfer is read into a dnspython zone (an IXFR applied to a copy of the version served
now) and only a complete, well-formed result leaves this module: a transfer that stalls
(``timeout`` per message, ``lifetime`` in all), breaks off, carries a bad TSIG, a first
SOA that is not the zone's, an IXFR sequence that does not apply, or more than
``max_records`` records or ``max_octets`` octets (the limits Knot and NSD added after
CVE-2016-6171/6173; ``xfr-max-received-mbytes`` is PowerDNS's) raises TransferError, and
the caller keeps serving the old zone.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.xfr
import dns.zone

from fastdns.xfr.zonedata import zone_serial


class TransferError(Exception):
    """A transfer (or SOA check) that failed: the message says why, for the log line."""


@dataclass(frozen=True, slots=True)
class Primary:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_primary(text: str) -> Primary:
    """``192.0.2.1``, ``192.0.2.1:5300``, ``2001:db8::1``, ``[2001:db8::1]:5300``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return Primary(host, int(rest[1:]) if rest.startswith(":") else 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return Primary(host, int(port))
    return Primary(text)


@dataclass(frozen=True, slots=True)
class Limits:
    timeout: float = 10.0           # seconds per message read (axfr-fetch-timeout)
    lifetime: float = 600.0         # seconds for the whole transfer
    max_records: int = 5_000_000
    max_octets: int = 0             # 0: no limit (xfr-max-received-mbytes)


async def query_soa(zone: str, primary: Primary, key: dns.tsig.Key | None,
                    timeout: float = 3.0, source: str | None = None) -> int:
    """The serial ``primary`` has for ``zone`` (UDP, then TCP if truncated)."""
    query = dns.message.make_query(zone, dns.rdatatype.SOA)
    query.flags &= ~0x0100                  # no RD: a question for an authority
    if key is not None:
        query.use_tsig(key)
    try:
        response = await dns.asyncquery.udp(query, primary.host, timeout=timeout,
                                            port=primary.port, source=source)
        if response.flags & 0x0200:
            response = await dns.asyncquery.tcp(query, primary.host, timeout=timeout,
                                                port=primary.port, source=source)
    except (dns.exception.DNSException, OSError, EOFError) as exc:
        raise TransferError(f"SOA query to {primary} failed: {_why(exc)}") from None
    if response.rcode() != 0:
        raise TransferError(f"SOA query to {primary}: rcode "
                            f"{dns.rcode.to_text(response.rcode())}")
    origin = dns.name.from_text(zone)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA and rrset.name == origin and len(rrset):
            return int(rrset[0].serial)
    raise TransferError(f"SOA query to {primary}: no SOA for {zone} in the answer")


async def transfer(zone: str, primary: Primary, key: dns.tsig.Key | None,
                   base: dns.zone.Zone | None, limits: Limits = Limits(),
                   source: str | None = None) -> tuple[dns.zone.Zone, str]:
    """``zone`` transferred from ``primary``: (the new zone, "AXFR" or "IXFR"). With a
    ``base`` (the version served now) an IXFR from its serial is asked first; the primary
    may answer it in AXFR form. Raises TransferError."""
    origin = dns.name.from_text(zone)
    serial = zone_serial(base) if base is not None else None
    if base is not None and serial is not None:
        target = _copy(base)
        query = dns.message.make_query(origin, dns.rdatatype.IXFR)
        soa = base.get_rdataset(origin, dns.rdatatype.SOA)
        assert soa is not None
        query.authority.append(dns.rrset.from_rdata_list(origin, soa.ttl, list(soa)))
        rdtype = dns.rdatatype.IXFR
    else:
        target = dns.zone.Zone(origin, relativize=False)
        query = dns.message.make_query(origin, dns.rdatatype.AXFR)
        rdtype = dns.rdatatype.AXFR
    query.flags &= ~0x0100
    if key is not None:
        query.use_tsig(key)
    try:
        kind = await asyncio.wait_for(
            _receive(query, target, primary, rdtype, serial, limits, source), limits.lifetime)
    except TimeoutError:
        raise TransferError(f"transfer from {primary} took longer than "
                            f"{limits.lifetime:.0f} s") from None
    except TransferError:
        raise
    except (dns.exception.DNSException, OSError, EOFError, ValueError, KeyError,
            AttributeError) as exc:
        raise TransferError(f"transfer from {primary} failed: {_why(exc)}") from None
    if zone_serial(target) is None:
        raise TransferError(f"transfer from {primary} left no SOA")
    return target, kind


async def _receive(query: dns.message.Message, target: dns.zone.Zone, primary: Primary,
                   rdtype: int, serial: int | None, limits: Limits,
                   source: str | None) -> str:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(primary.host, primary.port,
                                local_addr=(source, 0) if source else None), limits.timeout)
    try:
        wire = query.to_wire()
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()
        records = octets = 0
        kind = "AXFR"
        first = True
        tsig_ctx = None
        with dns.xfr.Inbound(target, dns.rdatatype.RdataType(rdtype), serial) as inbound:
            done = False
            while not done:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), limits.timeout)
                    (length,) = struct.unpack("!H", head)
                    data = await asyncio.wait_for(reader.readexactly(length), limits.timeout)
                except TimeoutError:
                    raise TransferError(f"{primary} sent nothing for "
                                        f"{limits.timeout:.0f} s; transfer abandoned") from None
                except asyncio.IncompleteReadError:
                    raise TransferError(f"{primary} closed the connection before the "
                                        f"transfer was complete") from None
                octets += 2 + length
                if limits.max_octets and octets > limits.max_octets:
                    raise TransferError(f"transfer from {primary} is larger than "
                                        f"{limits.max_octets} octets; abandoned")
                message = dns.message.from_wire(
                    data, keyring=query.keyring, request_mac=query.mac, xfr=True,
                    origin=target.from_wire_origin(), tsig_ctx=tsig_ctx, multi=True,
                    one_rr_per_rrset=rdtype == dns.rdatatype.IXFR)
                if not query.is_response(message, xfr_continuation=not first):
                    raise TransferError(f"{primary} sent a message that does not answer "
                                        f"the transfer request")
                if message.rcode() != 0:
                    raise TransferError(f"{primary} answered the transfer with "
                                        f"{dns.rcode.to_text(message.rcode())}")
                records += sum(len(rrset) for rrset in message.answer)
                if records > limits.max_records:
                    raise TransferError(f"transfer from {primary} has more than "
                                        f"{limits.max_records} records; abandoned")
                first = False
                done = inbound.process_message(message)
                tsig_ctx = message.tsig_ctx
            # RFC 1995 §4: an IXFR may be answered in AXFR form, which the second record
            # (perhaps in the second message) tells
            if rdtype == dns.rdatatype.IXFR and inbound.incremental:
                kind = "IXFR"
        return kind
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ConnectionError):
            pass


def _copy(zone: dns.zone.Zone) -> dns.zone.Zone:
    copy = dns.zone.Zone(zone.origin, relativize=False)
    with copy.writer() as txn:
        for name, node in zone.nodes.items():
            for rdataset in node.rdatasets:
                txn.add(name, rdataset)
    return copy


def _why(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, dns.tsig.PeerError | dns.tsig.BadSignature | dns.message.UnknownTSIGKey):
        return f"TSIG: {text}"
    return text


__all__ = ["Limits", "Primary", "TransferError", "parse_primary", "query_soa", "transfer"]


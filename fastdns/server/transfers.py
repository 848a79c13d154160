"""The manager's transfer service (DESIGN §2, §6): what the workers hand over — zone
transfers, NOTIFY, queries signed with TSIG — and what the manager does on its own:
NOTIFY to the secondaries of primary zones, and the refresh of secondary zones.

- **Hand-off.** A worker passes the query with its socket (``Handoff``): over TCP the
  connection is the manager's from then on (a session: the transfer, then more queries
  until the client closes or stays idle); over UDP the answer goes out of the worker's
  socket. A worker hands off at most HANDOFF_RATE UDP queries a second.
- **TSIG** (RFC 8945): keys from ``tsigkeys`` (fastdns.xfr.tsig); an unknown key gets
  BADKEY, a bad MAC BADSIG, a time outside the fudge BADTIME, all with NOTAUTH. A signed
  ordinary query is answered by the manager's engine over the served images, signed.
- **Secondary zones** (``secondary=yes``): each is checked at its SOA refresh (retry after
  a failure), at once on a NOTIFY from one of its primaries, and on ``retrieve``. Checks
  are spread (a start with 100,000 secondaries does not ask every primary at once), at
  most CHECKS_PER_SECOND a second and MAX_TRANSFERS at a time, and a primary that fails
  is backed off (doubling, up to BACKOFF_MAX seconds). A newer serial is transferred by
  IXFR (AXFR for a zone never transferred), stored in the zone's backend in one
  transaction (SQL rows; for BIND, the zone file replaced by a rename), then loaded as
  any change is. A failed transfer stores nothing: the old zone keeps being served.
- **Autosecondary** (``autosecondary=yes``): a NOTIFY for an unknown zone from an address
  in ``supermasters`` creates it, as a secondary of that address, in the first SQL backend.
- **NOTIFY out** (``primary=yes``): when a primary zone's serial changes, to its NS hosts
  (in ``only-notify``), ``also-notify``, ``ALSO-NOTIFY`` and named.conf's also-notify,
  retried until answered (NOTIFY_TRIES tries).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
import logging
import os
import random
import socket
import struct
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dns.asyncquery
import dns.asyncresolver
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
import dns.serial
import dns.tsig

from fastdns.backends.registry import make_backends
from fastdns.config.settings import match_netmasks, parse_netmask
from fastdns.log import Throttled, log
from fastdns.server import messages
from fastdns.xfr import catalog, inbound, luafilter, outbound
from fastdns.xfr.tsig import TsigKey, key_name, read_tsig_keys
from fastdns.xfr.zonedata import image_rrsets, image_zone, zone_rows, zone_serial

if TYPE_CHECKING:
    from fastdns.server.manager import Manager, ZoneService
    from fastdns.zone.zonedb import RefreshResult

#: secondary zones checked a second, at most (SOA queries to primaries), whatever wakes
#: the scheduler: a token bucket of this size, refilled at this rate
CHECKS_PER_SECOND = 100
#: transfers in at once, at most
MAX_TRANSFERS = 10
#: a failing primary is asked again after 30 s, then 60, 120... up to this
BACKOFF_START = 30.0
BACKOFF_MAX = 3600.0
#: a zone never transferred is first checked within this many seconds of the start; one
#: that is served, within min(its refresh, this)
FIRST_SPREAD = 10.0
SERVED_SPREAD = 60.0
#: while one check probes a primary whose backoff has ended, the other zones of that
#: primary wait this long (one query finds out whether it is back, not hundreds)
PROBE_WAIT = 5.0
#: the shortest SOA refresh and retry a secondary zone is checked at (seconds)
REFRESH_MIN = 2.0
RETRY_MIN = 1.0
#: secondary zones are looked at for their SOA expire this often (seconds)
EXPIRY_CHECK = 5.0
#: NOTIFY: tries, and the seconds to wait for an answer to each
NOTIFY_TRIES = 5
NOTIFY_WAIT = 2.0
NOTIFY_PARALLEL = 64
#: a TCP session handed over: seconds it may stay idle, queries it may ask
SESSION_IDLE = 10.0
SESSION_QUERIES = 10_000
#: metadata of a zone (transfer policy, also-notify) is read again after this many seconds
META_TTL = 10.0
#: tsigkeys are read again at most this often when an unknown key is seen
KEYS_AGAIN = 5.0

BADSIG, BADKEY, BADTIME = 16, 17, 18
#: Engine.result's state for a query the manager answers (fastdns._answer RS_HANDOFF)
HANDED_OFF = 3


@dataclass(slots=True)
class Secondary:
    """The refresh state of one secondary zone."""

    zone: str
    backend: str
    primaries: tuple[inbound.Primary, ...]
    next_check: float = 0.0
    refresh: float = 3600.0
    retry: float = 600.0
    busy: bool = False
    #: a NOTIFY or retrieve came: check before anything else, transfer even if not newer
    urgent: bool = False
    forced: bool = False
    only: inbound.Primary | None = None
    #: the time of its entry in the service's queue of checks (stale entries are skipped)
    queued: float = -1.0
    #: SOA expire (seconds), and when (monotonic) a primary last answered a check: past
    #: ``fresh + expire`` the zone is answered SERVFAIL until one answers again
    expire: float = 604800.0
    fresh: float = 0.0


@dataclass(slots=True)
class _Backoff:
    failures: int = 0
    until: float = 0.0
    #: its backoff has ended and a check asks it: the others wait for the answer
    probing: bool = False


@dataclass(slots=True)
class _Meta:
    read: float
    values: dict[str, list[str]] = field(default_factory=dict)


def _sockaddr(raw: bytes) -> tuple[str, int]:
    """(address, port) of a raw sockaddr_in or sockaddr_in6."""
    family = int.from_bytes(raw[:2], "little")
    port = struct.unpack("!H", raw[2:4])[0]
    if family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port
    return socket.inet_ntop(socket.AF_INET, raw[4:8]), port


def _plain(address: str) -> str:
    """An IPv4-mapped IPv6 address as IPv4 (the ACLs are written so)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class XfrService:
    name = "xfr"

    def __init__(self, manager: Manager, zones: ZoneService, config: Any) -> None:
        self.manager = manager
        self.zones = zones
        self.config = config
        self.served = zones.served
        self.history = outbound.History()
        self.keys: dict[str, TsigKey] = {}
        self._keys_read = 0.0
        self.secondaries: dict[str, Secondary] = {}
        self.backoff: dict[inbound.Primary, _Backoff] = {}
        # the scheduler: a heap of (time due, order, zone), the zones made urgent, the
        # check budget (a token bucket), and listings coalesced (asked/done numbers)
        self._queue: list[tuple[float, int, str]] = []
        self._order = itertools.count()
        self._urgent: dict[str, Secondary] = {}
        self._tokens, self._tokens_at = float(CHECKS_PER_SECOND), 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._list_lock = asyncio.Lock()
        self._list_asked = self._list_done = 0
        self.transfers = 0
        self.meta: dict[str, _Meta] = {}
        self.serials: dict[str, int] = {}      # primary zones: the serial last notified for
        self._seen_all = False
        self.sessions: set[asyncio.Task] = set()
        #: floods of these cost a log line per 10 s, each
        self.refused_notify = Throttled(logging.WARNING, "NOTIFY refused, not a secondary "
                                        "zone here")
        self.stranger_notify = Throttled(logging.WARNING, "NOTIFY refused, not from one of "
                                         "the zone's primaries")
        self.tsig_refused = Throttled(logging.WARNING, "TSIG refused")
        #: NOTIFYs in flight at once, at most (a start may queue one per zone)
        self.notifying = asyncio.Semaphore(NOTIFY_PARALLEL)
        self.tasks: set[asyncio.Task] = set()
        self.limits = inbound.Limits(
            timeout=float(_setting(config, "axfr-fetch-timeout", 10) or 10),
            max_octets=int(_setting(config, "xfr-max-received-mbytes", 100) or 0) << 20,
            max_records=int(_setting(config, "xfr-max-received-records", 5_000_000) or 0)
            or 1 << 62)
        # backends of its own, used on its own thread (reads of metadata, stores)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="xfr")
        self.render_executor = ThreadPoolExecutor(1, thread_name_prefix="xfr-out")
        self._backends: list[Any] | None = None
        self._wake = asyncio.Event()
        zones.refreshed.append(self._refreshed)

    # -- settings ------------------------------------------------------------------------

    def _on(self, name: str) -> bool:
        return bool(_setting(self.config, name, False))

    # -- the service ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._read_keys()

    async def run(self) -> None:
        # the zones served from the database or the image cache first: a zone checked
        # before its copy is served would be transferred and stored again
        first = getattr(self.zones, "_first", None)
        if first is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(first)
        await self._list_secondaries()
        woken = True
        expiry_check = time.monotonic()
        while True:
            self._wake.clear()
            self._check_due(scan=woken)    # a NOTIFY or retrieve wakes it: look for them
            if time.monotonic() - expiry_check >= EXPIRY_CHECK:
                expiry_check = time.monotonic()
                self._expire_stale(expiry_check)
            try:
                await asyncio.wait_for(self._wake.wait(), 1.0)
                woken = True
            except TimeoutError:
                woken = False

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error("transfer service: internal error: %s: %s", type(exc).__name__, exc)

    async def _blocking(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def backends(self) -> list[Any]:
        """The service's own backends (on its thread only)."""
        if self._backends is None:
            backends = make_backends(self.config)
            for backend in backends:
                setup = getattr(backend, "dnssec_from_config", None)
                if setup is not None:
                    setup(self.config)       # keys and metadata where the zones' are
            self._backends = backends
        return self._backends

    def _backend(self, name: str) -> Any:
        for backend in self.backends():
            if backend.name == name:
                return backend
        raise KeyError(name)

    # -- TSIG keys -------------------------------------------------------------------------

    async def _read_keys(self) -> None:
        self._keys_read = time.monotonic()
        try:
            self.keys = await self._blocking(lambda: read_tsig_keys(self.backends()))
        except Exception as exc:          # a backend down: no keys until it is back
            log.error("cannot read the TSIG keys: %s", exc)

    def reread_keys(self) -> None:
        """The TSIG keys were changed (through the HTTP API): read them again now."""
        self._spawn(self._read_keys())

    def _keyring(self, message: dns.message.Message, name: dns.name.Name) -> Any:
        key = self.keys.get(name.to_text().lower())
        if key is None:
            if time.monotonic() - self._keys_read > KEYS_AGAIN:
                self._keys_read = time.monotonic()
                self._spawn(self._read_keys())
            return None
        return key.to_dnspython()

    def key_for(self, name: str) -> dns.tsig.Key | None:
        key = self.keys.get(key_name(name)) if name else None
        return key.to_dnspython() if key is not None else None

    # -- hand-off from the workers ----------------------------------------------------------

    def handoff(self, message: messages.Handoff, fds: list[int]) -> None:
        fd = fds[0]
        if message.tcp:
            sock = socket.socket(fileno=fd)
            host = message.peer.rpartition("|")[0]
            task = asyncio.ensure_future(self._session(sock, bytes.fromhex(message.packet),
                                                       bytes.fromhex(message.rest),
                                                       _plain(host)))
            self.sessions.add(task)
            task.add_done_callback(self.sessions.discard)
            return
        try:
            address = _sockaddr(bytes.fromhex(message.address))
        except (ValueError, OSError, struct.error):
            socket.socket(fileno=fd).close()
            return
        self._spawn(self._datagram(bytes.fromhex(message.packet), address, fd))

    async def _datagram(self, packet: bytes, address: tuple[str, int], fd: int) -> None:
        try:
            answers = await self.handle(packet, _plain(address[0]), tcp=False)
            if answers:
                sock = socket.socket(fileno=fd)
                try:
                    sock.sendto(answers[0], address)
                except OSError:
                    pass
                finally:
                    sock.detach()
        finally:
            os.close(fd)

    async def _session(self, sock: socket.socket, packet: bytes, rest: bytes,
                       client: str) -> None:
        """A TCP connection handed over: answer ``packet``, then each query that follows,
        until the client closes, stays idle SESSION_IDLE seconds or asks SESSION_QUERIES."""
        sock.setblocking(False)
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError:
            sock.close()
            return
        buffer = bytearray(rest)
        try:
            for _ in range(SESSION_QUERIES):
                answers = await self.handle(packet, client, tcp=True)
                if answers is None:
                    return
                for answer in answers:
                    writer.write(len(answer).to_bytes(2, "big") + answer)
                    await writer.drain()
                while len(buffer) < 2 or len(buffer) < 2 + int.from_bytes(buffer[:2], "big"):
                    data = await asyncio.wait_for(reader.read(65536), SESSION_IDLE)
                    if not data:
                        return
                    buffer += data
                length = int.from_bytes(buffer[:2], "big")
                if length == 0:
                    return
                packet = bytes(buffer[2:2 + length])
                del buffer[:2 + length]
        except (TimeoutError, OSError, ConnectionError):
            return
        finally:
            writer.close()

    # -- one query ---------------------------------------------------------------------------

    async def handle(self, packet: bytes, client: str, tcp: bool) -> list[bytes] | None:
        """The answers to one query handed over; None: no answer (over TCP: close the
        connection, as a worker does for a stream that is not DNS). On a connection
        handed over, a query a worker would answer is answered here by the same engine."""
        result = self.served.engine.result(packet, tcp)
        if result["state"] != HANDED_OFF:
            return [result["response"]] if result["response"] is not None else None
        try:
            query = dns.message.from_wire(packet, keyring=self._keyring, ignore_trailing=True)
        except dns.message.UnknownTSIGKey:
            self.tsig_refused(f"unknown key (BADKEY) from {client}")
            return _tsig_error(packet, BADKEY)
        except dns.tsig.BadTime:
            self.tsig_refused(f"time outside the fudge (BADTIME) from {client}")
            return _tsig_error(packet, BADTIME, self._keyring)
        except (dns.tsig.BadSignature, dns.tsig.PeerError):
            self.tsig_refused(f"bad signature (BADSIG) from {client}")
            return _tsig_error(packet, BADSIG)
        except dns.exception.DNSException:
            return _formerr(packet)
        key = query.keyname.to_text().lower() if query.had_tsig and query.keyname else None
        opcode = query.opcode()
        if opcode == dns.opcode.NOTIFY:
            return [await self.notified(query, client, key)]
        if opcode != dns.opcode.QUERY or len(query.question) != 1:
            return [outbound.refused(query, dns.rcode.NOTIMP if opcode != dns.opcode.QUERY
                                     else dns.rcode.FORMERR)]
        rdtype = query.question[0].rdtype
        if rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            return await self.transfer_out(query, client, key, tcp)
        return [self.signed_answer(query, packet, tcp)]

    def signed_answer(self, query: dns.message.Message, packet: bytes, tcp: bool) -> bytes:
        """A query signed with TSIG, answered by the engine over the served images, and
        the answer signed (DO is not honoured here: the manager holds no signatures)."""
        plain = dns.message.from_wire(packet, keyring=lambda m, n: False,
                                      ignore_trailing=True)
        plain.tsig = None
        plain.keyring = None
        plain.ednsflags &= ~dns.flags.DO
        wire = self.served.engine.answer(plain.to_wire(), tcp)
        response = dns.message.from_wire(wire) if wire else None
        if response is None:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        response.use_tsig(query.keyring, query.keyname, original_id=query.id)
        response.request_mac = query.mac or b""
        return response.to_wire()

    # -- transfers out -------------------------------------------------------------------------

    async def transfer_out(self, query: dns.message.Message, client: str, key: str | None,
                           tcp: bool) -> list[bytes]:
        name = query.question[0].name
        zone = name.to_text().lower()
        snap = self.served.snapshot(name.to_wire() or b"")
        if snap is None:
            log.warning("AXFR of domain '%s' failed: not authoritative (asked by %s)",
                        zone, client)
            return [outbound.refused(query, dns.rcode.NOTAUTH)]
        policy = await self.policy(zone)
        if not policy.allows(client, key):
            log.warning("AXFR of domain '%s' denied to %s%s", zone, client,
                        f" (TSIG key '{key}')" if key else "")
            return [outbound.refused(query, dns.rcode.NOTAUTH)]
        full = None
        if snap.signed and not snap.security_flags & outbound.PRESIGNED \
                and not snap.security_flags & outbound.NARROW:
            # signed online (or its DNSSEC broken): sent signed as the workers serve it,
            # DNSKEY, NSEC/NSEC3 and RRSIGs made for the transfer, or not at all; an IXFR
            # gets the whole zone in AXFR form (outbound.transfer)
            from fastdns.xfr import signed

            served = self.zones.zonedb.zones.get(zone)
            try:
                security = await self._blocking(lambda: signed.load_signing(
                    self.backends(), zone, served.backend if served is not None else None,
                    self.config))
                full = signed.signed_axfr_rrsets(snap, security)
            except signed.SignedTransferError as exc:
                log.error("AXFR of domain '%s' to %s failed: it cannot be signed: %s",
                          zone, client, exc)
                return [outbound.refused(query, dns.rcode.SERVFAIL)]
        elif self._on("outgoing-axfr-expand-alias"):
            targets = outbound.alias_targets(snap)
            if targets:
                try:
                    addresses = await self._expand_aliases(targets)
                except (dns.exception.DNSException, OSError, ValueError) as exc:
                    log.error("AXFR of domain '%s' to %s failed: an ALIAS target could not "
                              "be resolved (outgoing-axfr-expand-alias): %s", zone, client,
                              str(exc) or type(exc).__name__)
                    return [outbound.refused(query, dns.rcode.SERVFAIL)]
                full = outbound.expanded_rrsets(snap, addresses)
        started = time.monotonic()
        try:
            answers = await asyncio.get_running_loop().run_in_executor(
                self.render_executor, outbound.transfer, query, zone, snap, self.history,
                tcp, full)
        except Exception as exc:     # signed.SignedTransferError: keys changed meanwhile
            if full is None:
                raise
            log.error("AXFR of domain '%s' to %s failed: it cannot be signed: %s",
                      zone, client, exc)
            return [outbound.refused(query, dns.rcode.SERVFAIL)]
        log.info("%s of domain '%s' (serial %d) to %s: %d messages in %.3fs",
                 dns.rdatatype.to_text(query.question[0].rdtype), zone, snap.serial, client,
                 len(answers), time.monotonic() - started)
        return answers

    async def _expand_aliases(self, targets: list[tuple[bytes, int, bytes]],
                              ) -> dict[bytes, list[dns.rrset.RRset]]:
        """The A and AAAA records of each ALIAS target, from ``resolver``, as RRsets of
        the ALIAS's owner with its TTL (PowerDNS's outgoing-axfr-expand-alias)."""
        text = str(_setting(self.config, "resolver", "") or "").strip()
        if text in ("", "no"):
            raise ValueError("no resolver is set")
        resolver = inbound.parse_primary(text.split(",")[0].split()[0])
        out: dict[bytes, list[dns.rrset.RRset]] = {}
        for owner, ttl, target in targets:
            name = dns.name.from_wire(owner, 0)[0]
            target_name = dns.name.from_wire(target, 0)[0]
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                query = dns.message.make_query(target_name, rdtype)
                response = await dns.asyncquery.udp(query, resolver.host, timeout=3.0,
                                                    port=resolver.port)
                if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    raise ValueError(f"{target_name}: {dns.rcode.to_text(response.rcode())}")
                for rrset in response.answer:
                    if rrset.rdtype == rdtype:
                        found = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
                        found.update(rrset)
                        found.ttl = ttl
                        out.setdefault((owner or b"").lower(), []).append(found)
        return out

    async def policy(self, zone: str) -> outbound.Policy:
        meta = await self.metadata(zone)
        allow_from = []
        for item in meta.get("ALLOW-AXFR-FROM", []):
            try:
                allow_from.append(parse_netmask(item.strip()))
            except ValueError:
                pass                         # AUTO-NS and garbage: nothing allowed by it
        return outbound.Policy(
            disabled=self._on("disable-axfr"),
            allow_ips=tuple(_setting(self.config, "allow-axfr-ips", ()) or ()),
            allow_from=tuple(allow_from),
            tsig_keys=frozenset(key_name(k) for k in meta.get("TSIG-ALLOW-AXFR", [])))

    async def metadata(self, zone: str) -> dict[str, list[str]]:
        cached = self.meta.get(zone)
        if cached is not None and time.monotonic() - cached.read < META_TTL:
            return cached.values
        values = await self._blocking(self._read_meta, zone)
        self.meta[zone] = _Meta(time.monotonic(), values)
        if len(self.meta) > 100_000:
            self.meta.clear()
        return values

    def _read_meta(self, zone: str) -> dict[str, list[str]]:
        served = self.zones.zonedb.zones.get(zone)
        for backend in self.backends():
            if served is not None and backend.name != served.backend:
                continue
            store = backend.key_store() if hasattr(backend, "key_store") else None
            if store is None:
                return {}
            try:
                return {k.upper(): v for k, v in store.all_meta(zone).items()}
            except Exception:                # the zone is not there (yet)
                return {}
        return {}

    # -- NOTIFY in -----------------------------------------------------------------------------

    async def notified(self, query: dns.message.Message, client: str,
                       key: str | None) -> bytes:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        zone = query.question[0].name.to_text().lower()
        secondary = self.secondaries.get(zone)
        if secondary is None:
            if self._on("autosecondary") and await self.autosecondary(zone, client):
                return response.to_wire()
            self.refused_notify(f"'{zone}' from {client}")
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        if not any(_plain(p.host) == client for p in secondary.primaries):
            self.stranger_notify(f"'{zone}' from {client}")
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        log.info("received NOTIFY for '%s' from %s; checking it now", zone, client)
        secondary.urgent = True
        secondary.next_check = 0.0
        self._wake.set()
        return response.to_wire()

    async def autosecondary(self, zone: str, client: str) -> bool:
        created = await self._blocking(self._create_secondary, zone, client)
        if not created:
            return False
        log.warning("autosecondary: created zone '%s' as a secondary of %s", zone, client)
        await self._list_secondaries()
        secondary = self.secondaries.get(zone)
        if secondary is not None:
            secondary.urgent = True
            secondary.next_check = 0.0
            self._wake.set()
        return True

    def _create_secondary(self, zone: str, client: str) -> bool:
        for backend in self.backends():
            if not hasattr(backend, "list_autoprimaries"):
                continue
            rows = backend.list_autoprimaries()
            for ip, _nameserver, account in rows:
                if _plain(ip) == client:
                    backend.create_zone(zone, "secondary", [client], account)
                    return True
            return False
        return False

    # -- secondaries ---------------------------------------------------------------------------

    def _refreshed(self, result: RefreshResult) -> None:
        """After each load: NOTIFY for primary zones whose serial moved; the list of
        secondaries again when zones came or went."""
        if self._on("primary"):
            if not self._seen_all:
                # the first load: zones taken from the image cache or loaded early for a
                # query are served but not in ``loaded``; their serial is the one to
                # compare the next change with
                self._seen_all = True
                loaded = set(result.loaded)
                for name, held in self.zones.zonedb.zones.items():
                    if name not in loaded and held.kind in ("primary", "producer"):
                        snap = self.served.snapshot(_apex(name)) if not held.serial \
                            else None                 # (adopted: its serial is the image's)
                        self.serials.setdefault(name, snap.serial if snap is not None
                                                else held.serial)
            changed = [(name, served.serial) for name in result.loaded
                       if (served := self.zones.zonedb.zones.get(name)) is not None
                       and served.kind in ("primary", "producer")]
            if changed:
                self._spawn(self._notify_changed(changed))
        if self._on("secondary") and (result.removed or result.loaded or result.absent
                                      or result.failed):
            self._spawn(self._list_secondaries())
        self._spawn(self._bump_producers())

    async def _bump_producers(self) -> None:
        """Catalog producers (RFC 9432) whose member list moved get a new serial."""
        if await self._blocking(catalog.bump_producers, self.backends()):
            self.zones.check_soon()

    async def _notify_changed(self, loaded: list[tuple[str, int]]) -> None:
        """NOTIFY for the primary zones just loaded whose serial is not the one last
        notified: ``domains.notified_serial`` in SQL (so a start notifies the zones changed
        while fastdns was down, as PowerDNS does, and records each serial notified),
        in memory for zone files (a start notifies nothing)."""
        try:
            stored = await self._blocking(self._notified_serials)
        except Exception as exc:
            log.error("cannot read the serials notified: %s", exc)
            stored = {}
        written: list[tuple[str, int]] = []
        for name, serial in loaded:
            if name in stored:
                due = stored[name] != serial
            else:
                before = self.serials.get(name)
                due = before is not None and before != serial
            self.serials[name] = serial
            if due:
                await self.notify_zone(name)
                if name in stored:
                    written.append((name, serial))
        if written:
            try:
                await self._blocking(self._set_notified, written)
            except Exception as exc:
                log.error("cannot record the serials notified: %s", exc)

    def _notified_serials(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for backend in self.backends():
            if hasattr(backend, "notified_serials"):
                for zone, serial in backend.notified_serials().items():
                    out.setdefault(zone, serial)
        return out

    def _set_notified(self, written: list[tuple[str, int]]) -> None:
        for zone, serial in written:
            served = self.zones.zonedb.zones.get(zone)
            for backend in self.backends():
                if hasattr(backend, "set_notified_serial") and (
                        served is None or backend.name == served.backend):
                    backend.set_notified_serial(zone, serial)
                    break

    async def _list_secondaries(self) -> None:
        """List the secondary zones again; returns once a listing begun after the call has
        ended. Calls made while one runs share the next one (every transfer's load asks
        for one: at 100,000 zones a listing is a read of every ``domains`` row)."""
        if not self._on("secondary"):
            return
        self._list_asked += 1
        asked = self._list_asked
        async with self._list_lock:
            if self._list_done >= asked:
                return
            self._list_done = self._list_asked
            try:
                listed = await self._blocking(self._read_secondaries)
                last_checks = await self._blocking(self._read_last_checks) \
                    if any(zone not in self.secondaries for zone in listed) else {}
            except Exception as exc:
                log.error("cannot list the secondary zones: %s", exc)
                return
        now, wall = time.monotonic(), time.time()
        for zone in list(self.secondaries):
            if zone not in listed:
                del self.secondaries[zone]
        parsed_as: dict[tuple[str, ...], tuple[inbound.Primary, ...]] = {}
        for zone, (backend, primaries) in listed.items():
            parsed = parsed_as.get(primaries)
            if parsed is None:
                parsed = parsed_as[primaries] = self._parse_primaries(zone, primaries)
            known = self.secondaries.get(zone)
            if known is not None:
                known.primaries = parsed
                continue
            snap = self.served.snapshot(_apex(zone))
            spread = FIRST_SPREAD if snap is None else SERVED_SPREAD
            secondary = self.secondaries[zone] = Secondary(zone, backend, parsed)
            if snap is not None:
                # fresh since its last check stored (domains.last_check), else since now
                checked = last_checks.get(zone)
                secondary.fresh = now - max(0.0, wall - checked) if checked else now
                soa = _snapshot_soa(snap)
                if soa is not None:
                    self._soa_timers(secondary, soa)
            self._queue_at(secondary, now + random.uniform(0, spread))
        self._wake.set()

    def _parse_primaries(self, zone: str, primaries: tuple[str, ...]
                         ) -> tuple[inbound.Primary, ...]:
        parsed = []
        for text in primaries:
            try:
                parsed.append(inbound.parse_primary(text))
            except ValueError:
                log.error("secondary zone '%s': primary '%s' is not an address", zone, text)
        return tuple(parsed)

    def _read_last_checks(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for backend in self.backends():
            if hasattr(backend, "last_checks"):
                for zone, when in backend.last_checks().items():
                    out.setdefault(zone, when)
        return out

    def _read_secondaries(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        out: dict[str, tuple[str, tuple[str, ...]]] = {}
        for backend in self.backends():
            if hasattr(backend, "secondary_zones"):
                for zone, primaries in backend.secondary_zones().items():
                    out.setdefault(zone, (backend.name, primaries))
        return out

    def _queue_at(self, secondary: Secondary, when: float) -> None:
        secondary.next_check = secondary.queued = when
        heapq.heappush(self._queue, (when, next(self._order), secondary.zone))

    def _check_due(self, scan: bool = False) -> None:
        """Start the checks due: the urgent zones first (NOTIFY, retrieve: found by a walk
        over the zones when ``scan``, i.e. when something woke the service), then the others
        by the time they are due (a heap), at most MAX_TRANSFERS at once and
        CHECKS_PER_SECOND a second. A zone whose primaries are all backed off is put back
        to when the first may be asked, without a check. When one is due within the
        second, a timer looks again then."""
        now = time.monotonic()
        self._tokens = min(float(CHECKS_PER_SECOND),
                           self._tokens + (now - self._tokens_at) * CHECKS_PER_SECOND)
        self._tokens_at = now
        if scan:
            for secondary in self.secondaries.values():
                if secondary.urgent:
                    self._urgent.setdefault(secondary.zone, secondary)
        for zone, secondary in list(self._urgent.items()):
            if self.secondaries.get(zone) is not secondary or not secondary.urgent:
                del self._urgent[zone]
            elif not secondary.busy and self.transfers < MAX_TRANSFERS and self._tokens >= 1:
                del self._urgent[zone]
                self._start(secondary, now)
        queue = self._queue
        while queue and queue[0][0] <= now and self.transfers < MAX_TRANSFERS \
                and self._tokens >= 1:
            when, _, zone = heapq.heappop(queue)
            waiting = self.secondaries.get(zone)
            if waiting is None or waiting.queued != when or waiting.busy:
                continue                     # removed, queued again, or under way
            if waiting.urgent:
                self._urgent.setdefault(zone, waiting)
                continue
            blocked = self._backed_off(waiting, now)
            if blocked is not None:
                self._queue_at(waiting, blocked + random.uniform(0, 1))
                continue
            self._start(waiting, now)
        if self._timer is None and self.transfers < MAX_TRANSFERS:
            # (a check that ends looks again itself) due but no token left, or due within
            # the second: a timer looks again then
            pause = None
            if self._tokens < 1 and (self._urgent or (queue and queue[0][0] <= now)):
                pause = (1 - self._tokens) / CHECKS_PER_SECOND
            elif queue and queue[0][0] <= now + 1:
                pause = queue[0][0] - now
            if pause is not None:
                self._timer = asyncio.get_running_loop().call_later(max(pause, 0.001),
                                                                    self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._check_due()

    def _backed_off(self, secondary: Secondary, now: float) -> float | None:
        """When a zone whose primaries are all backed off (or being probed) may be checked;
        None when one of them may be asked now."""
        until = None
        for primary in secondary.primaries:
            backoff = self.backoff.get(primary)
            if backoff is None:
                return None
            if backoff.until > now:
                wait = backoff.until
            elif backoff.probing:
                wait = now + PROBE_WAIT
            else:
                return None
            until = wait if until is None else min(until, wait)
        return until

    def _start(self, secondary: Secondary, now: float) -> None:
        self._tokens -= 1
        secondary.busy = True
        self.transfers += 1
        for primary in (secondary.only,) if secondary.only else secondary.primaries:
            backoff = self.backoff.get(primary)
            if backoff is not None and backoff.until <= now:
                backoff.probing = True       # its backoff is over: this check finds out
        self._spawn(self._check(secondary))

    async def _check(self, secondary: Secondary) -> None:
        # what was asked is taken now: a NOTIFY or retrieve that comes during the check
        # is acted on by the next one, at once
        urgent, forced, only = secondary.urgent, secondary.forced, secondary.only
        secondary.urgent = secondary.forced = False
        secondary.only = None
        ok = False
        try:
            ok = await self._refresh_zone(secondary, urgent, forced, only)
        finally:
            self.transfers -= 1
            secondary.busy = False
            if secondary.urgent:
                secondary.next_check = 0.0
                self._urgent.setdefault(secondary.zone, secondary)
            else:
                wait = secondary.refresh if ok else secondary.retry
                self._queue_at(secondary, time.monotonic() + wait)
            self._check_due()                # a slot is free: the next one, no walk

    async def _refresh_zone(self, secondary: Secondary, urgent: bool, forced: bool,
                            only: inbound.Primary | None) -> bool:
        zone = secondary.zone
        wire = _apex(zone)
        snap = self.served.snapshot(wire)
        ours = snap.serial if snap is not None else None
        meta = await self.metadata(zone)
        key_names = meta.get("AXFR-MASTER-TSIG", [])
        key = self.key_for(key_names[0]) if key_names else None
        if key_names and key is None:
            log.error("secondary zone '%s': TSIG key '%s' (AXFR-MASTER-TSIG) is unknown",
                      zone, key_names[0])
        primaries = [only] if only else list(secondary.primaries)
        if not primaries:
            log.error("secondary zone '%s' has no primary to transfer from", zone)
            return False
        script = str(_setting(self.config, "lua-axfr-script", "") or "")
        try:
            axfr_filter = await self._blocking(luafilter.filter_for, script, meta)
        except luafilter.FilterError as exc:   # as PowerDNS: no transfer without its script
            log.error("secondary zone '%s': %s; not transferred", zone, exc)
            return False
        now = time.monotonic()
        for primary in primaries:
            backoff = self.backoff.get(primary)
            if backoff is not None and backoff.until > now and not urgent:
                continue
            try:
                theirs = await inbound.query_soa(zone, primary, key)
                if ours is not None and not forced and \
                        not _newer(theirs, ours):
                    self._succeeded(primary, secondary, snap)
                    return True
                base = image_zone(snap) if snap is not None and not forced else None
                started = time.monotonic()
                if axfr_filter is not None:
                    base = None      # the served copy is filtered: deltas cannot apply to it
                result, kind = await inbound.transfer(zone, primary, key, base, self.limits)
                if axfr_filter is not None:
                    result = await self._blocking(axfr_filter.filter_zone, result, primary.host)
                await self._blocking(self._store, secondary, result)
                # catalog zones (RFC 9432): a consumer's members made and deleted
                if await self._blocking(catalog.consume, self._backend(secondary.backend),
                                        zone, result):
                    self._spawn(self._list_secondaries())
                    self.zones.check_soon()          # zones came or went: a whole check
                log.warning("secondary zone '%s': %s from %s, serial %s -> %d, stored in "
                            "%.2fs", zone, kind, primary,
                            "none" if ours is None else ours, zone_serial(result) or 0,
                            time.monotonic() - started)
                # this zone alone is loaded now (a whole check reads every zone's
                # fingerprints: at 100,000 secondaries it held the transfers back)
                self.zones.load_now(zone)
                self._succeeded(primary, secondary, None)
                self._timers(secondary, result)
                return True
            except inbound.TransferError as exc:
                self._failed(primary, zone, str(exc))
            except luafilter.FilterError as exc:     # the old zone stays, as with PowerDNS
                log.error("secondary zone '%s': %s; transfer dropped", zone, exc)
                return False
            except Exception as exc:         # a store that failed: the old zone stays
                self._failed(primary, zone, f"{type(exc).__name__}: {exc}")
        return False

    def _succeeded(self, primary: inbound.Primary, secondary: Secondary, snap: Any) -> None:
        """A primary answered a check of ``secondary`` (its zone current, or stored)."""
        self.backoff.pop(primary, None)
        secondary.fresh = time.monotonic()
        if snap is not None:
            soa = _snapshot_soa(snap)
            if soa is not None:
                self._soa_timers(secondary, soa)
        zone = secondary.zone
        self._spawn(self._blocking(self._set_last_check, secondary, int(time.time())))
        if zone in self.zones.zonedb.expired:
            log.warning("secondary zone '%s': a primary answered again; served again", zone)
            self.zones.executor.submit(self.zones.zonedb.unexpire, zone)
            self.zones.check_soon()          # (after it: the zones thread runs both)

    def _timers(self, secondary: Secondary, zone: Any) -> None:
        soa = zone.get_rdataset(zone.origin, dns.rdatatype.SOA)
        if soa is not None and len(soa):
            self._soa_timers(secondary, soa[0])

    @staticmethod
    def _soa_timers(secondary: Secondary, soa: Any) -> None:
        """The SOA's timers, bounded as Knot bounds them (refresh 2 s to a day, retry 1 s
        to a day); the expire is at least refresh + retry, as BIND makes it, so that a
        zone whose primaries answer never expires between two checks."""
        secondary.refresh = float(max(REFRESH_MIN, min(soa.refresh, 86400)))
        secondary.retry = float(max(RETRY_MIN, min(soa.retry, 86400)))
        secondary.expire = float(max(soa.expire, secondary.refresh + secondary.retry))

    def _set_last_check(self, secondary: Secondary, when: int) -> None:
        backend = self._backend(secondary.backend)
        if hasattr(backend, "set_last_check"):
            backend.set_last_check(secondary.zone, when)

    def _expire_stale(self, now: float) -> None:
        """The secondary zones no primary has answered for longer than their SOA expire
        (RFC 1035 §3.3.13) stop being answered for: SERVFAIL, as a zone that failed to
        load, until a primary answers again."""
        expired = self.zones.zonedb.expired
        for secondary in self.secondaries.values():
            if secondary.fresh and now - secondary.fresh > secondary.expire \
                    and secondary.zone not in expired:
                log.error("secondary zone '%s': no primary has answered for %.0f s, longer "
                          "than its SOA expire (%.0f s); answered SERVFAIL until one does",
                          secondary.zone, now - secondary.fresh, secondary.expire)
                expired.add(secondary.zone)   # at once: the next pass does not log it again
                asyncio.get_running_loop().run_in_executor(
                    self.zones.executor, self.zones.zonedb.expire, secondary.zone,
                    "secondary")

    def _failed(self, primary: inbound.Primary, zone: str, why: str) -> None:
        backoff = self.backoff.setdefault(primary, _Backoff())
        now = time.monotonic()
        if backoff.until <= now:
            # one more failure per period: the checks already under way when the primary
            # stopped answering (up to MAX_TRANSFERS) do not double the backoff each
            backoff.failures += 1
            backoff.until = now + min(BACKOFF_MAX, BACKOFF_START * 2 ** (backoff.failures - 1))
        backoff.probing = False
        log.error("secondary zone '%s': %s; primary %s backed off for %.0fs", zone, why,
                  primary, backoff.until - now)

    def _store(self, secondary: Secondary, zone: Any) -> None:
        """Store a transferred zone in its backend, as one change (on the xfr thread)."""
        backend = self._backend(secondary.backend)
        if hasattr(backend, "store_zone_text"):
            backend.store_zone_text(secondary.zone, zone.to_text(relativize=False))
            return
        backend.replace_zone_records(secondary.zone, zone_rows(zone))
        if hasattr(backend, "rectify_zone"):
            backend.rectify_zone(secondary.zone)

    # -- NOTIFY out ----------------------------------------------------------------------------

    async def notify_zone(self, zone: str, only: Iterable[tuple[str, int]] | None = None,
                          ) -> int:
        """Send NOTIFY for ``zone`` to its secondaries (or to ``only``); how many."""
        targets = list(only) if only is not None else await self.notify_targets(zone)
        meta = await self.metadata(zone)
        keys = meta.get("TSIG-ALLOW-AXFR", [])
        key = self.key_for(keys[0]) if keys else None
        for host, port in targets:
            self._spawn(self._notify_one(zone, host, port, key))
        return len(targets)

    async def notify_targets(self, zone: str) -> list[tuple[str, int]]:
        snap = self.served.snapshot(_apex(zone))
        found: list[tuple[str, int]] = []
        if snap is not None:
            only = tuple(_setting(self.config, "only-notify", ()) or ())
            for address in await _ns_addresses(snap):
                if match_netmasks(only, address):
                    found.append((address, 53))
        for item in _setting(self.config, "also-notify", ()) or ():
            found.append((str(item.host), int(item.port or 53)))
        meta = await self.metadata(zone)
        extra = list(meta.get("ALSO-NOTIFY", []))
        extra += await self._blocking(self._named_also_notify, zone)
        for text in extra:
            try:
                primary = inbound.parse_primary(text)
            except ValueError:
                continue
            found.append((primary.host, primary.port))
        seen: set[tuple[str, int]] = set()
        return [t for t in found if not (t in seen or seen.add(t))]  # type: ignore[func-returns-value]

    def _named_also_notify(self, zone: str) -> list[str]:
        for backend in self.backends():
            if hasattr(backend, "also_notify"):
                try:
                    return list(backend.also_notify(zone))
                except Exception:
                    return []
        return []

    async def _notify_one(self, zone: str, host: str, port: int,
                          key: dns.tsig.Key | None) -> None:
        async with self.notifying:
            await self._notify_tries(zone, host, port, key)

    async def _notify_tries(self, zone: str, host: str, port: int,
                            key: dns.tsig.Key | None) -> None:
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        query.flags = dns.flags.AA
        query.set_opcode(dns.opcode.NOTIFY)
        if key is not None:
            query.use_tsig(key)
        for attempt in range(NOTIFY_TRIES):
            try:
                response = await dns.asyncquery.udp(query, host, timeout=NOTIFY_WAIT,
                                                    port=port)
                log.info("NOTIFY for '%s' to %s:%d answered %s", zone, host, port,
                         dns.rcode.to_text(response.rcode()))
                return
            except (dns.exception.DNSException, OSError) as exc:
                why = str(exc) or type(exc).__name__
                await asyncio.sleep(min(2 ** attempt, 8))
        log.warning("NOTIFY for '%s' to %s:%d: no answer after %d tries (%s)", zone, host,
                    port, NOTIFY_TRIES, why)

    # -- control commands ------------------------------------------------------------------

    def command(self, message: messages.Command, fds: list[int]) -> None:
        async def run() -> None:
            try:
                text = await self._command(message.words)
            except Exception as exc:
                text = f"Error: {exc}"
            self.manager.send(messages.CommandDone(message.request, text))
        self._spawn(run())

    async def run_command(self, words: list[str]) -> str:
        """:meth:`_command` for the HTTP API: its reply, or the error as text. The API's
        notify is sent whatever ``primary`` says, as PowerDNS's is."""
        try:
            return await self._command(words, api=True)
        except Exception as exc:
            return f"Error: {exc}"

    async def _command(self, words: list[str], api: bool = False) -> str:
        """pdns_control's notify, notify-host and retrieve, with its replies."""
        word, args = words[0], words[1:]
        if word in ("notify", "notify-host") and not api and not (
                self._on("primary") or self._on("secondary")):
            return ("fastdns not configured as primary (primary), or secondary (secondary) "
                    "with re-notifications" if word == "notify" else
                    "fastdns not configured as primary, or secondary with re-notifications")
        if word == "notify":
            if args[0] == "*":
                zones = [z for z, s in self.zones.zonedb.zones.items()
                         if s.kind in ("primary", "secondary", "producer", "consumer")]
                for zone in zones:
                    await self.notify_zone(zone)
                return f"Added {len(zones)} MASTER/SLAVE/PRODUCER/CONSUMER zones to queue"
            zone = _zone_arg(args[0])
            if zone not in self.zones.zonedb.zones:
                log.warning("notify for '%s': no such zone", zone)
                return "Failed to add to the queue - see log"
            await self.notify_zone(zone)
            return "Added to queue"
        if word == "notify-host":
            zone = _zone_arg(args[0])
            try:
                target = inbound.parse_primary(args[1])
                ipaddress.ip_address(target.host)
            except ValueError:
                return f"Unable to convert '{args[1]}' to an IP address"
            await self.notify_zone(zone, [(target.host, target.port)])
            return "Added to queue"
        if word == "retrieve":
            zone = _zone_arg(args[0])
            await self._list_secondaries()
            secondary = self.secondaries.get(zone)
            if secondary is None:
                if zone in self.zones.zonedb.zones:
                    return (f"Zone '{zone}' is not a secondary/consumer zone (or has no "
                            f"primary defined)")
                return f" Zone '{zone}' unknown"
            source = args[1] if len(args) > 1 else (
                _shown(secondary.primaries[0]) if secondary.primaries else "")
            if len(args) > 1:
                try:
                    secondary.only = inbound.parse_primary(args[1])
                    ipaddress.ip_address(secondary.only.host)
                except ValueError:
                    secondary.only = None
                    return "Invalid primary address"
            elif not secondary.primaries:
                return (f"Zone '{zone}' is not a secondary/consumer zone (or has no "
                        f"primary defined)")
            secondary.urgent = secondary.forced = True
            secondary.next_check = 0.0
            self._wake.set()
            return f"Added retrieval request for '{zone[:-1]}' from primary {source}"
        return f"Unknown command: '{word}'"


def _shown(primary: inbound.Primary) -> str:
    """An address as PowerDNS shows it: the port only when it is not 53."""
    return primary.host if primary.port == 53 else str(primary)


def _snapshot_soa(snap: Any) -> Any:
    """The SOA rdata of a served image (dnspython), or None."""
    for rdtype, _ttl, rdatas, _targets in snap.node_rrsets(0):
        if rdtype == dns.rdatatype.SOA and rdatas:
            return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.SOA, rdatas[0], 0,
                                       len(rdatas[0]))
    return None


def _apex(zone: str) -> bytes:
    return dns.name.from_text(zone).to_wire() or b""


def _zone_arg(text: str) -> str:
    text = text.lower()
    return text if text.endswith(".") else text + "."


def _newer(theirs: int, ours: int) -> bool:
    """RFC 1982: is serial ``theirs`` after ``ours``?"""
    return dns.serial.Serial(theirs) > dns.serial.Serial(ours)


async def _ns_addresses(snap: Any) -> list[str]:
    """The addresses of the zone's NS hosts: from the zone's own records where it has
    them, else from the system's resolver."""
    apex = snap.node(0)[0].lower()
    hosts: list[dns.name.Name] = []
    addresses: dict[bytes, list[str]] = {}
    for owner, rdtype, _ttl, rdatas in image_rrsets(snap):
        if owner.lower() == apex and rdtype == dns.rdatatype.NS:
            hosts.extend(dns.name.from_wire(w, 0)[0] for w in rdatas)
        elif rdtype == dns.rdatatype.A:
            addresses.setdefault(owner.lower(), []).extend(
                socket.inet_ntop(socket.AF_INET, w) for w in rdatas)
        elif rdtype == dns.rdatatype.AAAA:
            addresses.setdefault(owner.lower(), []).extend(
                socket.inet_ntop(socket.AF_INET6, w) for w in rdatas)
    out: list[str] = []
    for host in hosts:
        local = addresses.get((host.to_wire() or b"").lower())
        if local:
            out.extend(local)
            continue
        try:
            answer = await dns.asyncresolver.resolve(host, "A", lifetime=3.0)
            out.extend(r.address for r in answer)
        except (dns.exception.DNSException, OSError):
            pass
    return out


def _setting(config: Any, name: str, default: Any) -> Any:
    try:
        return config[name] if name in config else default
    except (KeyError, TypeError):
        return default


def _formerr(packet: bytes) -> list[bytes]:
    if len(packet) < 12:
        return []
    header = bytearray(packet[:12])
    header[2] = 0x80 | (header[2] & 0x79)
    header[3] = dns.rcode.FORMERR
    header[4:12] = bytes(8)
    return [bytes(header)]


def _tsig_error(packet: bytes, error: int, keyring: Any = None) -> list[bytes]:
    """NOTAUTH with a TSIG record carrying ``error`` (BADKEY, BADSIG: no MAC, RFC 8945
    §5.2; BADTIME: signed, with the server's time)."""
    try:
        query = dns.message.from_wire(packet, keyring=lambda m, n: False,
                                      ignore_trailing=True)
    except dns.exception.DNSException:
        return _formerr(packet)
    response = dns.message.Message(query.id)
    response.flags = dns.flags.QR | (query.flags & dns.flags.RD)
    response.set_opcode(query.opcode())
    response.question = query.question
    response.set_rcode(dns.rcode.NOTAUTH)
    assert query.tsig is not None
    rd = query.tsig[0]
    now = int(time.time())
    if error == BADTIME and keyring is not None:
        key = keyring(query, query.tsig.name)
        if key:
            response.use_tsig(key, query.tsig.name, original_id=query.id, tsig_error=error,
                              other_data=now.to_bytes(6, "big"))
            response.request_mac = rd.mac
            return [response.to_wire()]
    response.tsig = response._make_tsig(query.tsig.name, rd.algorithm, now, rd.fudge, b"",
                                        query.id, error, b"")
    return [response.to_wire()]


__all__ = ["XfrService"]

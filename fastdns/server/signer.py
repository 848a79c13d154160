"""Signers: the processes that compute RRSIGs for every worker (DESIGN §2, §5).

A worker's answer that needs a signature the shared signature cache (fastdns._sigcache)
lacks leaves a request in its engine (fastdns._signing) and waits. The worker sends its
requests, batched, over one datagram socket pair per (worker slot, signer slot) that the
master made before forking (no address another process could send to: a signer signs only
for its workers). A signer signs, puts each signature in the cache and answers with the
keys it put there; the worker then answers the queries that waited for them.

    datagram, worker -> signer:  u64 deadline (CLOCK_MONOTONIC ms), then per request
                                 u16 length, 16-octet cache key, the signing key's
                                 8-octet digest (its DNSKEY's, keys.key_digest), data to
                                 sign (RRSIG fields first: algorithm at 2, key tag at 16,
                                 signer at 18)
    datagram, signer -> worker:  per request, u8 status (SIGNED, NO_KEY, LATE) and its key

A request for a key the signer cannot find active in the zone's key store (NO_KEY: a key
deactivated or removed since the worker's image was made) is not signed: the queries
waiting for it get SERVFAIL at once, counted in ``parked-timeouts``.

A request past its deadline is not signed (its queries got SERVFAIL already): counted in
``signing-deadline-losses``. A worker never blocks on a signer: a full socket moves the
batch to the next signer, and with every signer full the batch is dropped (counted in
``signing-requests-dropped``; its queries get SERVFAIL at their deadline).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from fastdns.log import Throttled, log, reopen

#: reply status of one request
SIGNED, NO_KEY, LATE = 1, 2, 3
#: a batch's datagram stays below this (the socket pair's buffer holds several)
DATAGRAM_MAX = 48 * 1024
#: the largest datagram a signer takes: one request alone can be past DATAGRAM_MAX (an
#: RRset of up to fastdns._signing's SIGN_DATA_MAX octets)
RECEIVE_MAX = 1 << 17
#: socket buffer of each direction of a link
LINK_BUFFER = 1 << 20
#: how long a signer waits before it looks again for a key it looked for and did not find
KEYS_RECHECK = 1.0
#: the digests of keys not found a signer remembers (then it forgets them all)
MISSING_MAX = 4096
#: the most signer processes (their counter rows)
MAX_SIGNERS = 16
#: how long a worker gathers signature requests before it sends them
BATCH_DELAY = 0.0005
#: how often a worker sends the signatures it made ahead, and their deadline
BACKGROUND_INTERVAL = 0.25
BACKGROUND_DEADLINE_MS = 60_000
#: requests made ahead per datagram: a signer takes a few milliseconds over one
AHEAD_PER_DATAGRAM = 64
#: signatures a second worker 0 asks ahead for freshly loaded zones, and its tick
AHEAD_RATE = 4000
AHEAD_TICK = 0.05

_DEADLINE = struct.Struct("=Q")
_LENGTH = struct.Struct("!H")


def monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


def encode_batch(requests: Iterable[bytes], deadline_ms: int) -> list[bytes]:
    """Requests (cache key + data) in datagrams of at most DATAGRAM_MAX octets."""
    out: list[bytes] = []
    head = _DEADLINE.pack(deadline_ms)
    parts: list[bytes] = [head]
    size = len(head)
    for request in requests:
        if size + 2 + len(request) > DATAGRAM_MAX and len(parts) > 1:
            out.append(b"".join(parts))
            parts, size = [head], len(head)
        parts.append(_LENGTH.pack(len(request)))
        parts.append(request)
        size += 2 + len(request)
    if len(parts) > 1:
        out.append(b"".join(parts))
    return out


def decode_batch(datagram: bytes) -> tuple[int, list[bytes]]:
    """(deadline, [request, ...]) of a datagram; ValueError if it is malformed."""
    if len(datagram) < _DEADLINE.size:
        raise ValueError("short datagram")
    (deadline,) = _DEADLINE.unpack_from(datagram)
    requests = []
    pos = _DEADLINE.size
    while pos < len(datagram):
        if pos + 2 > len(datagram):
            raise ValueError("truncated request length")
        (length,) = _LENGTH.unpack_from(datagram, pos)
        pos += 2
        if length < 16 + 8 + 19 or pos + length > len(datagram):
            raise ValueError("truncated request")
        requests.append(datagram[pos:pos + length])
        pos += length
    return deadline, requests


def batch_deadline(datagram: bytes) -> int:
    """A datagram's deadline (0 for one too short: it is rejected first)."""
    return _DEADLINE.unpack_from(datagram)[0] if len(datagram) >= _DEADLINE.size else 0


def signer_zone(data: bytes) -> tuple[int, int, str]:
    """(algorithm, key tag, signer zone as text without the final dot) of the RRSIG
    fields at the start of ``data``."""
    algorithm, tag = data[2], int.from_bytes(data[16:18], "big")
    labels, pos = [], 18
    while True:
        if pos >= len(data):
            raise ValueError("signer name runs past the data")
        length = data[pos]
        if length == 0:
            break
        if length > 63:
            raise ValueError("bad signer name")
        labels.append(data[pos + 1:pos + 1 + length].decode("ascii", "backslashreplace"))
        pos += 1 + length
    return algorithm, tag, ".".join(labels)


# -- the master's side: the links ----------------------------------------------------------

class SignerLinks:
    """The datagram socket pairs between worker slots and signer slots (the master's)."""

    def __init__(self, signers: int) -> None:
        self.signers = signers
        #: worker slot -> [(worker end, signer end) per signer slot]
        self.pairs: dict[int, list[tuple[socket.socket, socket.socket]]] = {}

    def ensure(self, worker_slot: int) -> bool:
        """Make the pairs of ``worker_slot`` if they are not made; True if made now."""
        if worker_slot in self.pairs or not self.signers:
            return False
        pairs = []
        for _ in range(self.signers):
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            for end in (a, b):
                end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, LINK_BUFFER)
                end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LINK_BUFFER)
                end.setblocking(False)
            pairs.append((a, b))
        self.pairs[worker_slot] = pairs
        return True

    def worker_ends(self, worker_slot: int) -> list[int]:
        return [a.fileno() for a, _ in self.pairs.get(worker_slot, [])]

    def signer_ends(self, signer_slot: int) -> list[tuple[int, int]]:
        """[(worker slot, fd), ...] of a signer slot."""
        return [(w, pairs[signer_slot][1].fileno()) for w, pairs in self.pairs.items()]

    def all_fds(self) -> list[int]:
        return [s.fileno() for pairs in self.pairs.values() for pair in pairs for s in pair]

    def not_for(self, kind: str, slot: int) -> list[int]:
        """The link descriptors a new child of ``kind`` in ``slot`` must close."""
        keep: set[int] = set()
        if kind == "worker":
            keep = set(self.worker_ends(slot))
        elif kind == "signer":
            keep = {fd for _, fd in self.signer_ends(slot)}
        return [fd for fd in self.all_fds() if fd not in keep]

    def close(self) -> None:
        for pairs in self.pairs.values():
            for a, b in pairs:
                a.close()
                b.close()
        self.pairs.clear()


# -- the worker's side ---------------------------------------------------------------------

class SigningClient:
    """A worker's end of its links: sends its engine's requests, resumes the queries whose
    signatures came."""

    def __init__(self, fds: list[int], take: Callable[[], list[tuple[bytes, bytes]]],
                 resume: Callable[[bytes], Any], wait_name: Callable[[bytes], bytes],
                 deadline: float, rows: Any = None, row: int = 0,
                 take_background: Callable[[], list[bytes]] | None = None,
                 fail: Callable[[bytes], Any] | None = None) -> None:
        self.socks = [socket.socket(fileno=fd) for fd in fds]
        for sock in self.socks:
            sock.setblocking(False)
        self.take = take
        self.resume = resume
        #: answers SERVFAIL at once to the queries waiting for a signature no signer can
        #: make (NO_KEY); without it they get SERVFAIL at their deadline
        self.fail = fail
        self.wait_name = wait_name
        self.deadline = deadline
        self.rows = rows
        self.row = row
        self._next = 0
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.take_background = take_background
        self._timer: asyncio.TimerHandle | None = None
        self.dropped = Throttled(logging.WARNING, "signature requests dropped: every "
                                 "signer's queue is full; their queries get SERVFAIL")

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for sock in self.socks:
            loop.add_reader(sock.fileno(), self._read, sock)
        if self.take_background is not None:
            self._timer = loop.call_later(BACKGROUND_INTERVAL, self._background)

    def detach(self) -> None:
        if self._loop is not None:
            for sock in self.socks:
                self._loop.remove_reader(sock.fileno())
        if self._timer is not None:
            self._timer.cancel()
        self._loop = None

    def send_ahead(self, requests: list[bytes]) -> None:
        """Send requests no query waits for (a zone signed ahead), in small datagrams, so
        that a signer is never busy for long with them before a query's request."""
        deadline = monotonic_ms() + BACKGROUND_DEADLINE_MS
        for start in range(0, len(requests), AHEAD_PER_DATAGRAM):
            for datagram in encode_batch(requests[start:start + AHEAD_PER_DATAGRAM],
                                         deadline):
                self._send(datagram, count=False)

    def _background(self) -> None:
        """Send the signatures made ahead (fastdns._signing.presign): no query waits for
        them, so their deadline is far, and a full signer just loses them (they are asked
        again while still in use)."""
        assert self.take_background is not None and self._loop is not None
        requests = self.take_background()
        if requests and self.socks:
            self.send_ahead(requests)
        self._timer = self._loop.call_later(BACKGROUND_INTERVAL, self._background)

    def wanted(self) -> None:
        """A query waits for a signature (from any thread): send soon, batched: the
        requests of the next BATCH_DELAY seconds go in the same datagrams (a signer's cost
        per datagram is paid once for them)."""
        if self._loop is not None and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._loop.call_later, BATCH_DELAY, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        requests = [request for _, request in self.take()]
        if not requests:
            return
        if self.rows is not None:
            self.rows.add(self.row, "signature-cache-misses", len(requests))
        if not self.socks:
            self._drop(len(requests))
            return
        deadline = monotonic_ms() + int(self.deadline * 1000)
        for datagram in encode_batch(requests, deadline):
            self._send(datagram)

    def _send(self, datagram: bytes, count: bool = True) -> None:
        for _ in range(len(self.socks)):
            sock = self.socks[self._next % len(self.socks)]
            self._next += 1
            try:
                sock.send(datagram)
                return
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                continue
        if count:
            _, requests = decode_batch(datagram)
            self._drop(len(requests))

    def _drop(self, count: int) -> None:
        if self.rows is not None:
            self.rows.add(self.row, "signing-requests-dropped", count)
        self.dropped(f"{count} requests")

    def _read(self, sock: socket.socket) -> None:
        for _ in range(64):
            try:
                reply = sock.recv(DATAGRAM_MAX)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            for pos in range(0, len(reply) - 16, 17):
                if reply[pos] == SIGNED:
                    self.resume(self.wait_name(reply[pos + 1:pos + 17]))
                elif reply[pos] == NO_KEY and self.fail is not None:
                    self.fail(self.wait_name(reply[pos + 1:pos + 17]))


class SignAhead:
    """Worker 0's signing of freshly loaded zones ahead of their queries (the index names
    them), a slice at a time from its event loop, at a bounded rate (AHEAD_RATE a second)
    and up to half the signature cache, so that a warm zone answers from the cache and a
    zone just loaded is never served later for it."""

    def __init__(self, engine: Any, client: SigningClient, capacity: int) -> None:
        self.engine = engine
        self.client = client
        self.limit = capacity // 2
        self.asked = 0
        self.queue: list[bytes] = []
        self.cursor = 0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, loop: asyncio.AbstractEventLoop, apexes: Iterable[bytes]) -> None:
        self._loop = loop
        for apex in apexes:
            if apex not in self.queue:
                self.queue.append(apex)
        if self.queue and self._timer is None:
            self._timer = loop.call_later(0, self._tick)

    def _tick(self) -> None:
        self._timer = None
        budget = int(AHEAD_RATE * AHEAD_TICK)
        requests: list[bytes] = []
        while self.queue and budget > 0 and self.asked < self.limit:
            snap = self.engine.snapshot(self.queue[0])
            if snap is None:
                self.queue.pop(0)
                self.cursor = 0
                continue
            asked, self.cursor = self.engine.signing.sign_zone(snap, self.cursor, budget)
            budget -= asked
            self.asked += asked
            requests += self.engine.signing.take_background()
            if self.cursor >= len(snap):
                self.queue.pop(0)
                self.cursor = 0
        if requests:
            self.client.send_ahead(requests)
        if self.asked >= self.limit:
            self.queue.clear()       # the cache is as full as signing ahead may make it
        if not self.queue:
            self.asked = 0           # the next loads get their own share of the cache
        if self.queue and self._loop is not None:
            self._timer = self._loop.call_later(AHEAD_TICK, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


# -- the signer process --------------------------------------------------------------------

class KeyRing:
    """The private keys a signer signs with, by their digest (the request names it), loaded
    from a zone's key store when a request first needs one of them.

    A digest not known makes the signer read the zone's keys at once: a worker asks only
    for the active keys of a zone image made after the keys were stored, so a key added or
    activated since the last reading is found (a reading per zone and second would refuse
    it for up to a second, and its queries would get SERVFAIL). A digest looked for and not
    found (a key deactivated or removed, asked for by an image made before) is looked for
    again at most once a second (KEYS_RECHECK)."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._by_id: dict[bytes, Any] = {}
        #: digest -> when it was last looked for and not found
        self._missing: dict[bytes, float] = {}
        self.failures = Throttled(logging.ERROR, "signer: cannot load keys")

    def get(self, key_id: bytes) -> Any | None:
        """The key of digest ``key_id``, if loaded (the common case: no more work)."""
        return self._by_id.get(key_id)

    def key(self, key_id: bytes, zone: str) -> Any | None:
        """The key of digest ``key_id`` of ``zone``, loading the zone's keys if need be."""
        key = self._by_id.get(key_id)
        if key is not None:
            return key
        now = time.monotonic()
        if now - self._missing.get(key_id, now - KEYS_RECHECK) < KEYS_RECHECK:
            return None
        self._load(zone)
        key = self._by_id.get(key_id)
        if key is not None:
            self._missing.pop(key_id, None)
        else:
            if len(self._missing) >= MISSING_MAX:
                self._missing.clear()
            self._missing[key_id] = now
        return key

    def _load(self, zone: str) -> None:
        from fastdns.dnssec.keys import key_digest
        from fastdns.dnssec.stores import keystore_for
        from fastdns.dnssec.zonesec import load_security

        store = None
        try:
            store = keystore_for(self.config, zone)
            if store is not None:
                for stored in load_security(store, zone).keys:
                    if stored.key is not None and stored.active:
                        self._by_id[key_digest(stored.key.dnskey_rdata())] = stored.key
        except Exception as exc:     # a database gone, a key store unreadable
            self.failures(f"zone {zone or '.'}: {exc}")
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    def forget(self) -> None:
        self._by_id.clear()
        self._missing.clear()


class Signer:
    """One signer process's work: requests in, signatures into the cache, keys out."""

    def __init__(self, cache: Any, keys: KeyRing, rows: Any = None, row: int = 0,
                 gauge: bool = False) -> None:
        self.cache = cache
        self.keys = keys
        self.rows = rows
        self.row = row
        self.gauge = gauge
        self.signed = 0
        self._counted = 0
        self.late = 0
        self.malformed = Throttled(logging.WARNING, "signer: malformed request")
        self.unknown = Throttled(logging.WARNING, "signer: no active key")

    def handle(self, datagram: bytes) -> bytes:
        """Sign a batch; the reply. (A signer's whole work per signature is here, beside
        the signing itself: kept to slices and dict lookups.)"""
        try:
            deadline, requests = decode_batch(datagram)
        except ValueError as exc:
            self.malformed(str(exc))
            return b""
        late = monotonic_ms() > deadline
        reply = bytearray()
        now = int(time.monotonic())
        put, get = self.cache.put, self.keys.get
        for request in requests:
            ck = request[:16]
            if late:
                reply.append(LATE)
                reply += ck
                continue
            key = get(request[16:24])
            if key is None:
                key = self._find(request)
                if key is None:
                    reply.append(NO_KEY)
                    reply += ck
                    continue
            put(ck, key.sign(request[24:]), now)
            self.signed += 1
            reply.append(SIGNED)
            reply += ck
        if late:
            self.late += len(requests)
        if self.rows is not None:
            if late:
                self.rows.add(self.row, "signing-deadline-losses", len(requests))
            # added, not set: the row counts on from a signer this one replaced
            self.rows.add(self.row, "signatures", self.signed - self._counted)
            self._counted = self.signed
        return bytes(reply)

    def _find(self, request: bytes) -> Any | None:
        """The key a request names, from its zone's key store (None: no such active key,
        or a request not well formed, each logged)."""
        try:
            algorithm, tag, zone = signer_zone(request[24:])
        except ValueError as exc:
            self.malformed(str(exc))
            return None
        key = self.keys.key(request[16:24], zone)
        if key is None:
            self.unknown(f"zone {zone or '.'}: algorithm {algorithm}, tag {tag}")
        return key

    def report(self) -> None:
        """The gauges (signer 0 reports the cache's size for all)."""
        if self.rows is not None and self.gauge:
            self.rows.set(self.row, "signature-cache-size", self.cache.size)


def main(birth: Any, config: Any, cache_fd: int, links: list[tuple[int, int]]) -> int:
    """A forked signer's life; its exit status."""
    import uvloop

    from fastdns._sigcache import SigCache
    from fastdns.server import child

    try:
        child.start(f"signer {birth.slot}", config.setuid, config.setgid)
        cache = SigCache(cache_fd)
    except Exception as exc:
        log.error("signer %d cannot start: %s", birth.slot, exc)
        return child.BOOT_ERROR
    signer = Signer(cache, KeyRing(config), birth.rows, birth.row, gauge=birth.slot == 0)
    return uvloop.run(_serve(signer, birth, links))


async def _serve(signer: Signer, birth: Any, links: list[tuple[int, int]]) -> int:
    from fastdns.server import child, messages

    loop = asyncio.get_running_loop()
    stopping: asyncio.Future[bool] = loop.create_future()
    socks = [socket.socket(fileno=fd) for _, fd in links]

    def stop(graceful: bool = True) -> None:
        if not stopping.done():
            stopping.set_result(graceful)

    def readable(sock: socket.socket) -> None:
        batch = []
        for _ in range(16):
            try:
                batch.append(sock.recv(RECEIVE_MAX))
            except OSError:              # drained (BlockingIOError), or the worker gone
                break
        # the nearest deadline first: requests made ahead (presign, a zone signed after
        # its load) never hold up those a query waits for
        batch.sort(key=batch_deadline)
        for datagram in batch:
            reply = signer.handle(datagram)
            if reply:
                try:
                    sock.send(reply)
                except OSError:
                    pass     # the worker is gone or full: its queries time out

    def on_link(message: Any, fds: list[int]) -> None:
        sock = socket.socket(fileno=fds[0])
        sock.setblocking(False)
        socks.append(sock)
        loop.add_reader(sock.fileno(), readable, sock)

    def on_ping(message: Any, fds: list[int]) -> None:
        reply(messages.Replied(message.request))

    def on_configure(message: Any, fds: list[int]) -> None:
        signer.keys.forget()

    def reply(message: Any) -> None:
        try:
            birth.channel.send(message)
        except OSError:
            stop(False)

    for sock in socks:
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), readable, sock)
    loop.add_signal_handler(signal.SIGTERM, stop, True)
    loop.add_signal_handler(signal.SIGINT, stop, True)
    loop.add_signal_handler(signal.SIGQUIT, os._exit, 0)
    loop.add_signal_handler(signal.SIGHUP, signer.keys.forget)
    loop.add_signal_handler(signal.SIGUSR1, reopen)
    birth.channel.attach(loop, {messages.SignerLink: on_link, messages.Ping: on_ping,
                                messages.Configure: on_configure},
                         on_closed=lambda: stop(False))
    heartbeat = child.Heartbeat(birth.rows, birth.row, birth.master_pid, birth.tick,
                                orphaned=lambda: stop(False))
    heartbeat.start()

    def gauges() -> None:
        signer.report()
        loop.call_later(1.0, gauges)

    gauges()
    reply(messages.Booted())
    await stopping
    heartbeat.stop()
    for sock in socks:
        loop.remove_reader(sock.fileno())
        sock.close()
    return 0

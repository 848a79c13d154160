"""Debian's authoritative DNS servers as zone-transfer peers on 127.0.0.1 and a random port.

A peer is knotd (:class:`Knot`), nsd (:class:`Nsd`), named (:class:`Named`) or pdns_server
(:class:`Pdns`), run in the foreground as a child of the test from a configuration written
into its own directory: never the system's configuration, daemon or service. Each peer is
PRIMARY of zones given as master-file text (:meth:`Peer.add_primary`, sending NOTIFY to the
given address:port list, optionally requiring a TSIG key for transfers) and/or SECONDARY of
zones of a given primary address:port (:meth:`Peer.add_secondary`, accepting its NOTIFY).
Ports are chosen when the peer is built, so two peers can name each other before either
starts::

    knot, nsd = Knot(tmp_path), Nsd(tmp_path)
    knot.add_primary("example.test.", text, notify=[nsd.endpoint], tsig=key)
    nsd.add_secondary("example.test.", knot.endpoint, tsig=key)
    with nsd, knot:
        nsd.wait_serial("example.test.", 2024060101)
        assert compare_zones(knot.axfr("example.test."), nsd.axfr("example.test.")) == []

What each peer does (verified on Debian 12: knot 3.2.6, NSD 4.6.1, BIND 9.18, PowerDNS
4.7.3, every primary/secondary pair, with and without TSIG):

========  ===============================================  =========  ======================
peer      update of a primary (:meth:`Peer.update`)        serves     as secondary
                                                           IXFR
========  ===============================================  =========  ======================
Knot      ``knotc zone-reload`` (zonefile-load:             yes        asks IXFR, falls back
          difference into the journal), then NOTIFY                    to AXFR
Named     ``rndc reload <zone>`` (ixfr-from-differences     yes        asks IXFR
          yes), then NOTIFY (``notify-delay 0``)
Nsd       SIGHUP: rereads changed zone files, then NOTIFY   no         asks IXFR
Pdns      gsqlite3: ``pdnsutil load-zone``; bind:           no         asks IXFR (zone
          ``pdns_control bind-reload-now``; then                       metadata IXFR=1; the
          ``pdns_control notify``                                      bind backend: AXFR)
========  ===============================================  =========  ======================

"serves IXFR: no" means an IXFR query gets the whole zone (AXFR-style): NSD 4.6 and
PowerDNS 4.7 keep no differences of a reloaded zone. TSIG: all four require the key for
transfers of a primary zone given one (an unsigned AXFR is refused) and sign their NOTIFY
and transfer requests with it; as secondaries Knot and Nsd accept only a signed NOTIFY,
Named and Pdns a NOTIFY from the primary's address. Pdns with ``backend="bind"`` takes no
TSIG (and allows AXFR from 127.0.0.0/8). NOTIFY goes only to the ``notify`` list, never
to the zone's NS names. :meth:`Peer.transfers` tells AXFR from IXFR where the log says it
(Knot both ways, Named outgoing, Pdns incoming).

Start a :class:`Named` secondary after its primary: named skips a primary that refused its
first SOA query for 60 s, NOTIFY or not (:meth:`Named.refresh` overrides that). The
others retry at once.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone

from tests._support.servers import free_port, require

__all__ = [
    "Knot", "KnotCatalog", "Named", "Nsd", "Pdns", "Peer", "PeerError", "Record", "Tsig",
    "compare_zones", "normalize",
]

Endpoint = tuple[str, int]

#: every peer started and not yet stopped, stopped at exit at the latest
_running: list[Peer] = []


@atexit.register
def _stop_all() -> None:
    for peer in list(_running):
        peer.stop()


class PeerError(RuntimeError):
    """A peer did not start, answer, reload or transfer; the message ends with its log."""


@dataclass(frozen=True)
class Tsig:
    """A TSIG key: ``name``, base64 ``secret`` and ``algorithm`` (a name all four peers and
    dnspython know: hmac-sha256, hmac-sha512, hmac-sha1, hmac-md5...)."""

    name: str
    secret: str
    algorithm: str = "hmac-sha256"

    @classmethod
    def generate(cls, name: str = "transfer-key.", algorithm: str = "hmac-sha256") -> Tsig:
        """A key with a fresh random 256-bit secret."""
        return cls(name, base64.b64encode(secrets.token_bytes(32)).decode(), algorithm)

    @property
    def bare_name(self) -> str:
        """The name without its final dot, as the peers' configurations write it."""
        return self.name.rstrip(".")

    def key(self) -> dns.tsig.Key:
        """The key as dnspython signs and verifies with it."""
        return dns.tsig.Key(self.name, self.secret, self.algorithm)


class Record(NamedTuple):
    """One resource record, normalised: absolute lowercase owner, TTL, type and rdata text
    in canonical form (names in rdata lowercase where RFC 4034 6.2 says so)."""

    name: str
    ttl: int
    rdtype: str
    rdata: str


@dataclass
class _Primary:
    zone: str
    text: str
    notify: list[Endpoint]
    tsig: Tsig | None


@dataclass
class _Secondary:
    zone: str
    primary: Endpoint
    tsig: Tsig | None


def _absolute(zone: str) -> str:
    return dns.name.from_text(zone).to_text().lower()


def _canonical(rdclass: int, rdtype: int, rdata: dns.rdata.Rdata) -> str:
    wire = rdata.to_digestable()
    return dns.rdata.from_wire(rdclass, rdtype, wire, 0, len(wire)).to_text()


def normalize(records: Iterable) -> list[Record]:
    """Sorted, duplicate-free :class:`Record` s of ``records``: a :class:`dns.zone.Zone`,
    RRsets, dnspython messages (their answer sections, e.g. an AXFR's), or tuples
    (name, ttl, type, rdata text) of master-file syntax with absolute names."""
    out: set[Record] = set()
    if isinstance(records, dns.zone.Zone):
        items: Iterable = (dns.rrset.from_rdata_list(name.derelativize(records.origin), rds.ttl,
                                                     list(rds))
                           for name, rds in records.iterate_rdatasets())
    else:
        items = records
    for item in items:
        if isinstance(item, dns.message.Message):
            rrsets: list = list(item.answer)
        elif isinstance(item, dns.rrset.RRset):
            rrsets = [item]
        else:
            name, ttl, rdtype, text = item
            rdtype = dns.rdatatype.from_text(str(rdtype))
            rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)
            rrsets = [dns.rrset.from_rdata(name, int(ttl), rdata)]
        for rrset in rrsets:
            owner = rrset.name.to_text().lower()
            for rdata in rrset:
                out.add(Record(owner, rrset.ttl, dns.rdatatype.to_text(rrset.rdtype),
                               _canonical(rrset.rdclass, rrset.rdtype, rdata)))
    return sorted(out)


def compare_zones(a_records: Iterable, b_records: Iterable, *, ttl: bool = True) -> list[str]:
    """The differences between two zones' records (see :func:`normalize` for what each
    may be): ``"- record"`` only in ``a_records``, ``"+ record"`` only in ``b_records``;
    an empty list when the whole zones are equal. ``ttl=False`` ignores TTLs."""
    def key(rec: Record) -> Record:
        return rec if ttl else rec._replace(ttl=0)

    a = {key(rec) for rec in normalize(a_records)}
    b = {key(rec) for rec in normalize(b_records)}
    return [f"- {' '.join(map(str, rec))}" for rec in sorted(a - b)] + \
           [f"+ {' '.join(map(str, rec))}" for rec in sorted(b - a)]


class Peer:
    """One peer server on 127.0.0.1:``port`` (TCP and UDP), its files under ``workdir``
    (a new temporary directory, removed at :meth:`stop`, when none is given).

    Configure with :meth:`add_primary` / :meth:`add_secondary`, then :meth:`start` (or use
    it as a context manager), which returns once every primary zone answers its SOA."""

    name = "peer"
    #: whether, as a primary, it answers IXFR with the differences of an :meth:`update`
    serves_ixfr = False

    def __init__(self, workdir: Path | str | None = None) -> None:
        self.address = "127.0.0.1"
        self.port = free_port()
        self._own_dir = workdir is None
        base = Path(tempfile.mkdtemp(prefix=f"peer-{self.name}-")) if workdir is None \
            else Path(workdir) / f"{self.name}-{self.port}"
        base.mkdir(parents=True, exist_ok=True)
        # the daemon runs as root and is told not to switch users; the directory stays
        # readable for tools run as someone else
        base.chmod(0o755)
        self.dir = base
        self.logfile = base / f"{self.name}.log"
        self.primaries: dict[str, _Primary] = {}
        self.secondaries: dict[str, _Secondary] = {}
        self.proc: subprocess.Popen | None = None

    # configuration ------------------------------------------------------------------------

    @property
    def endpoint(self) -> Endpoint:
        """(address, port) it answers on: what a primary's ``notify`` and a secondary's
        ``primary`` take."""
        return (self.address, self.port)

    def add_primary(self, zone: str, text: str, notify: Sequence[Endpoint] = (),
                    tsig: Tsig | None = None) -> Peer:
        """Serve ``zone`` from master-file ``text``, allow AXFR (IXFR where
        :attr:`serves_ixfr`) from 127.0.0.0/8 (only with ``tsig`` when given) and send NOTIFY
        to each (address, port) of ``notify`` (signed with ``tsig`` when given)."""
        self._not_started()
        zone = _absolute(zone)
        self.primaries[zone] = _Primary(zone, text, list(notify), tsig)
        self.zone_file(zone).write_text(text)
        return self

    def add_secondary(self, zone: str, primary: Endpoint, tsig: Tsig | None = None) -> Peer:
        """Transfer ``zone`` from ``primary`` (address, port), with ``tsig`` when given,
        accept its NOTIFY, and allow AXFR of the copy from 127.0.0.0/8 without a key."""
        self._not_started()
        zone = _absolute(zone)
        self.secondaries[zone] = _Secondary(zone, tuple(primary), tsig)  # type: ignore[arg-type]
        return self

    def zone_file(self, zone: str) -> Path:
        """The file the zone is served from (primary) or written to (secondary)."""
        return self.dir / f"{_absolute(zone).rstrip('.') or 'root'}.zone"

    def _not_started(self) -> None:
        if self.proc is not None:
            raise PeerError(f"{self.name}: configure a peer before starting it")

    @property
    def keys(self) -> dict[str, Tsig]:
        """Every TSIG key of its zones, by name."""
        out: dict[str, Tsig] = {}
        for item in [*self.primaries.values(), *self.secondaries.values()]:
            if item.tsig is not None:
                if out.get(item.tsig.name, item.tsig) != item.tsig:
                    raise PeerError(f"two different TSIG keys named {item.tsig.name}")
                out[item.tsig.name] = item.tsig
        return out

    # what each peer defines ---------------------------------------------------------------

    def write_config(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def reload_zone(self, zone: str) -> None:
        """Make the running peer load the rewritten zone file and send NOTIFY."""
        raise NotImplementedError

    # life ---------------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> Peer:
        """Write the configuration, start the daemon in the foreground and wait until it
        answers (and every primary zone has its SOA); :class:`PeerError` with the log's tail
        when it does not within ``timeout`` seconds."""
        if self.proc is not None:
            return self
        self.write_config()
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.dir, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        _running.append(self)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop(remove=False)
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        zones = [*self.primaries, *self.secondaries] or ["."]
        probe = dns.message.make_query(zones[0], "SOA")
        while True:
            self._check_alive()
            try:
                dns.query.udp(probe, self.address, port=self.port, timeout=0.2)
                dns.query.tcp(probe, self.address, port=self.port, timeout=0.5)
                break
            except (dns.exception.DNSException, OSError):
                if time.monotonic() > deadline:
                    raise PeerError(f"{self.name} did not answer on {self.port} within "
                                    f"{timeout}s{self.log_tail()}") from None
                time.sleep(0.05)
        for zone in self.primaries:
            while self.soa_serial(zone) is None:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise PeerError(f"{self.name} did not load {zone} within {timeout}s"
                                    f"{self.log_tail()}")
                time.sleep(0.05)

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise PeerError(f"{self.name} exited with {self.proc.returncode}{self.log_tail()}")

    def stop(self, timeout: float = 10.0, remove: bool = True) -> int | None:
        """Stop the daemon (SIGTERM, then SIGKILL of its whole process group) and remove its
        directory if it made it; the daemon's exit code."""
        if self in _running:
            _running.remove(self)
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            # children (nsd's xfrd and servers) must not outlive it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            code = self.proc.returncode
        if remove and self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return code

    def __enter__(self) -> Peer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of its log, for error messages."""
        tail = self.log().splitlines()[-lines:]
        return f"\n--- {self.name} log ({self.logfile}) ---\n" + "\n".join(tail)

    def run(self, *argv: str | Path, timeout: float = 15.0) -> str:
        """Run a control tool; its output, or :class:`PeerError` with it and the log."""
        try:
            done = subprocess.run([str(a) for a in argv], cwd=self.dir, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise PeerError(f"{' '.join(map(str, argv))} timed out{self.log_tail()}") from exc
        if done.returncode != 0:
            raise PeerError(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n"
                            f"{done.stdout}{done.stderr}{self.log_tail()}")
        return done.stdout + done.stderr

    # zones --------------------------------------------------------------------------------

    def update(self, zone: str, text: str) -> None:
        """Replace a primary zone's text (its serial bumped by the caller) and make the
        peer load it and send NOTIFY to the zone's ``notify`` list (see each class)."""
        zone = _absolute(zone)
        if zone not in self.primaries:
            raise PeerError(f"{self.name} is not primary of {zone}")
        self.primaries[zone].text = text
        tmp = self.zone_file(zone).with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.zone_file(zone))
        self.reload_zone(zone)

    def refresh(self, zone: str) -> None:
        """Make a secondary check its primary's SOA now and transfer if it is newer (a
        nudge besides NOTIFY; see each class)."""
        raise NotImplementedError(f"{self.name} has no refresh command here")

    def query(self, qname: str, rdtype: str = "A", *, tcp: bool = False,
              timeout: float = 2.0) -> dns.message.Message:
        msg = dns.message.make_query(qname, rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(msg, self.address, port=self.port, timeout=timeout)

    def soa_serial(self, zone: str) -> int | None:
        """The serial of the SOA it answers authoritatively for ``zone``; None when it has
        none (not loaded or transferred yet) or does not answer."""
        try:
            answer = self.query(zone, "SOA", timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return None
        if answer.rcode() != dns.rcode.NOERROR or not answer.flags & dns.flags.AA:
            return None
        for rrset in answer.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def wait_serial(self, zone: str, serial: int, timeout: float = 15.0) -> int:
        """Poll the SOA of ``zone`` until its serial is ``serial``; :class:`PeerError` with
        the last serial seen and the log's tail when it is not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            self._check_alive()
            seen = self.soa_serial(zone)
            if seen == serial:
                return seen
            time.sleep(0.05)
        raise PeerError(f"{self.name}: {zone} serial {seen}, not {serial}, after {timeout}s"
                        f"{self.log_tail()}")

    def axfr(self, zone: str, tsig: Tsig | bool | None = True,
             timeout: float = 10.0) -> list[Record]:
        """The whole zone as it hands it out by AXFR, normalised (:func:`normalize`).
        ``tsig``: True signs with the key its primary zone requires (if any), None/False
        sends the query unsigned, a :class:`Tsig` signs with that key."""
        zone = _absolute(zone)
        if tsig is True:
            tsig = self.primaries[zone].tsig if zone in self.primaries else None
        kw = {}
        if isinstance(tsig, Tsig):
            kw = {"keyring": tsig.key(), "keyname": tsig.name}
        try:
            messages = list(dns.query.xfr(self.address, zone, port=self.port, lifetime=timeout,
                                          relativize=False, **kw))
        except (dns.exception.DNSException, OSError, EOFError) as exc:
            raise PeerError(f"AXFR of {zone} from {self.name} failed: {exc!r}"
                            f"{self.log_tail()}") from exc
        return normalize(messages)

    def ixfr(self, zone: str, serial: int, tsig: Tsig | bool | None = True,
             timeout: float = 10.0) -> list[dns.rrset.RRset]:
        """The answer to an IXFR query from ``serial``, RRsets in the order sent (not
        normalised: the order is the difference); ``tsig`` as for :meth:`axfr`. A peer
        without the difference answers with the whole zone (one SOA first and last)."""
        zone = _absolute(zone)
        if tsig is True:
            tsig = self.primaries[zone].tsig if zone in self.primaries else None
        kw = {}
        if isinstance(tsig, Tsig):
            kw = {"keyring": tsig.key(), "keyname": tsig.name}
        try:
            return [rrset for msg in dns.query.xfr(self.address, zone, port=self.port,
                                                   rdtype=dns.rdatatype.IXFR, serial=serial,
                                                   lifetime=timeout, relativize=False, **kw)
                    for rrset in msg.answer]
        except (dns.exception.DNSException, OSError, EOFError) as exc:
            raise PeerError(f"IXFR of {zone} from {self.name} failed: {exc!r}"
                            f"{self.log_tail()}") from exc

    #: log patterns of a finished transfer, by direction; group 1 is AXFR or IXFR and
    #: {zone} the zone's name without its final dot, regex-escaped
    transfer_patterns: dict[str, str] = {}

    def transfers(self, zone: str, direction: str = "incoming") -> list[str]:
        """The kind ("AXFR" or "IXFR") of each finished ``incoming`` or ``outgoing``
        transfer of ``zone`` its log shows, oldest first; NotImplementedError where its log
        does not tell (see :attr:`transfer_patterns` of each class)."""
        pattern = self.transfer_patterns.get(direction)
        if pattern is None:
            raise NotImplementedError(f"{self.name} logs no {direction} transfer kind")
        regex = re.compile(pattern.replace("{zone}", re.escape(_absolute(zone).rstrip("."))),
                           re.I)
        return [m.group(1).upper() for m in regex.finditer(self.log())]


def _binary(name: str) -> str:
    return require(name)


# Knot DNS -------------------------------------------------------------------------------------

class Knot(Peer):
    """knotd (Knot DNS 3.2), ``knotd -c knot.conf``, running as root (no ``server.user``).

    Primary zones load with ``zonefile-load: difference`` into a journal, so it serves IXFR
    of every :meth:`update`, which is ``knotc zone-reload`` (it then sends NOTIFY).
    Secondary zones request IXFR (AXFR when the primary has no history) and write the zone
    file at once (``zonefile-sync: 0``)."""

    name = "knot"
    serves_ixfr = True
    transfer_patterns = {
        "incoming": r"\[{zone}\.\] ([AI]XFR), incoming, .*, finished",
        "outgoing": r"\[{zone}\.\] ([AI]XFR), outgoing, .*, finished",
    }

    @property
    def conf(self) -> Path:
        return self.dir / "knot.conf"

    @property
    def socket(self) -> Path:
        return self.dir / "knot.sock"

    def write_config(self) -> None:
        d = self.dir
        lines = [
            "server:", f'    rundir: "{d}"', f'    pidfile: "{d}/knot.pid"',
            f"    listen: {self.address}@{self.port}",
            "    udp-workers: 1", "    tcp-workers: 1", "    background-workers: 1",
            "log:", "  - target: stdout", "    any: info",
            "database:", f'    storage: "{d}"',
            "control:", f'    listen: "{self.socket}"',
        ]
        if self.keys:
            lines.append("key:")
            for key in self.keys.values():
                lines += [f"  - id: {key.bare_name}", f"    algorithm: {key.algorithm}",
                          f"    secret: {key.secret}"]
        remotes: dict[tuple, str] = {}

        def remote(endpoint: Endpoint, tsig: Tsig | None) -> str:
            return remotes.setdefault((tuple(endpoint), tsig and tsig.name), f"r{len(remotes)}")

        zones = []
        acls = ["  - id: xfr_open", "    address: 127.0.0.0/8", "    action: transfer"]
        for zone in self.primaries.values():
            acl = "xfr_open"
            if zone.tsig:
                acl = f"xfr_{zone.tsig.bare_name}"
                if acl not in "\n".join(acls):
                    acls += [f"  - id: {acl}", "    address: 127.0.0.0/8",
                             "    action: transfer", f"    key: {zone.tsig.bare_name}"]
            zones += [f"  - domain: {zone.zone}", f'    file: "{self.zone_file(zone.zone)}"',
                      "    zonefile-load: difference", "    journal-content: changes",
                      "    zonefile-sync: -1", "    semantic-checks: off",
                      f"    acl: [{acl}]"]
            if zone.notify:
                targets = ", ".join(remote(ep, zone.tsig) for ep in zone.notify)
                zones.append(f"    notify: [{targets}]")
        for i, zone in enumerate(self.secondaries.values()):
            acl = f"notify_{i}"
            acls += [f"  - id: {acl}", f"    address: {zone.primary[0]}", "    action: notify"]
            if zone.tsig:
                acls.append(f"    key: {zone.tsig.bare_name}")
            zones += [f"  - domain: {zone.zone}", f'    file: "{self.zone_file(zone.zone)}"',
                      f"    master: {remote(zone.primary, zone.tsig)}",
                      "    zonefile-sync: 0", "    semantic-checks: off",
                      f"    acl: [{acl}, xfr_open]"]
        if remotes:
            lines.append("remote:")
            for (endpoint, keyname), rid in remotes.items():
                lines += [f"  - id: {rid}", f"    address: {endpoint[0]}@{endpoint[1]}"]
                if keyname:
                    lines.append(f"    key: {keyname.rstrip('.')}")
        lines += ["acl:", *acls]
        if zones:
            lines += ["zone:", *zones]
        self.conf.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [_binary("knotd"), "-c", str(self.conf)]

    def knotc(self, *args: str) -> str:
        """Run ``knotc`` against this knotd's control socket."""
        return self.run(_binary("knotc"), "-c", self.conf, "-s", self.socket, *args)

    def reload_zone(self, zone: str) -> None:
        """``knotc zone-reload``: knotd diffs the new file against the zone into its journal
        (for IXFR) and sends NOTIFY."""
        self.knotc("zone-reload", zone)

    def refresh(self, zone: str) -> None:
        """``knotc zone-refresh``."""
        self.knotc("zone-refresh", zone)


class KnotCatalog(Knot):
    """knotd as the consumer of a catalog zone (RFC 9432, ``catalog-role: interpret``):
    :meth:`add_catalog` names the catalog and its primary; its member zones are made from a
    template whose primary is the same, transferred and served. No other secondaries."""

    def add_catalog(self, zone: str, primary: Endpoint) -> KnotCatalog:
        self._not_started()
        self.catalog = (_absolute(zone), tuple(primary))
        return self

    def write_config(self) -> None:
        super().write_config()
        zone, primary = self.catalog
        text = self.conf.read_text()
        if "remote:" in text or self.secondaries:
            raise PeerError("KnotCatalog: a catalog consumer only")
        extra = [
            "remote:", "  - id: catalog_primary", f"    address: {primary[0]}@{primary[1]}",
            "acl:", "  - id: catalog_notify", f"    address: {primary[0]}",
            "    action: notify",
            "template:", "  - id: catalog_member", f'    storage: "{self.dir}"',
            "    master: catalog_primary", "    acl: [catalog_notify, xfr_open]",
            "    zonefile-sync: 0", "    semantic-checks: off",
        ]
        zones = [f"  - domain: {zone}", f'    file: "{self.zone_file(zone)}"',
                 "    master: catalog_primary", "    acl: [catalog_notify, xfr_open]",
                 "    catalog-role: interpret", "    catalog-template: catalog_member",
                 "    zonefile-sync: 0"]
        text = text.replace("acl:\n", "\n".join(extra[:3]) + "\nacl:\n" + "\n".join(extra[4:7])
                            + "\n", 1)
        text += "\n".join(extra[7:]) + "\n" + ("" if "zone:" in text else "zone:\n")
        text += "\n".join(zones) + "\n"
        self.conf.write_text(text)


# NSD -------------------------------------------------------------------------------------------

class Nsd(Peer):
    """nsd (NSD 4.6), ``nsd -d -c nsd.conf``: in the foreground, ``username: ""`` (no user
    switch), no chroot, no database, its own pidfile, xfrdfile, zonelistfile and zonesdir,
    ``rrl-ratelimit: 0``, no remote control.

    :meth:`update` sends SIGHUP: nsd rereads zone files that changed and NOTIFYs. As primary
    it answers IXFR with the whole zone (no differences kept)."""

    name = "nsd"

    @property
    def conf(self) -> Path:
        return self.dir / "nsd.conf"

    def write_config(self) -> None:
        d = self.dir
        lines = [
            "server:", f"    ip-address: {self.address}@{self.port}", f"    port: {self.port}",
            "    do-ip6: no", '    username: ""', '    chroot: ""', f'    zonesdir: "{d}"',
            '    database: ""', f'    pidfile: "{d}/nsd.pid"', f'    xfrdfile: "{d}/xfrd.state"',
            f'    xfrdir: "{d}"', f'    zonelistfile: "{d}/zone.list"',
            "    server-count: 1", "    verbosity: 2", "    rrl-ratelimit: 0",
            "    rrl-whitelist-ratelimit: 0", "    zonefiles-write: 0",
            "remote-control:", "    control-enable: no",
        ]
        for key in self.keys.values():
            lines += ["key:", f'    name: "{key.name}"', f"    algorithm: {key.algorithm}",
                      f'    secret: "{key.secret}"']
        for zone in self.primaries.values():
            key = zone.tsig.name if zone.tsig else "NOKEY"
            lines += ["zone:", f'    name: "{zone.zone}"',
                      f'    zonefile: "{self.zone_file(zone.zone)}"',
                      f"    provide-xfr: 127.0.0.0/8 {key}"]
            lines += [f"    notify: {ep[0]}@{ep[1]} {key}" for ep in zone.notify]
        for zone in self.secondaries.values():
            key = zone.tsig.name if zone.tsig else "NOKEY"
            lines += ["zone:", f'    name: "{zone.zone}"',
                      f'    zonefile: "{self.zone_file(zone.zone)}"',
                      f"    request-xfr: {zone.primary[0]}@{zone.primary[1]} {key}",
                      f"    allow-notify: {zone.primary[0]} {key}",
                      "    provide-xfr: 127.0.0.0/8 NOKEY"]
        self.conf.write_text("\n".join(lines) + "\n")

    def command(self) -> list[str]:
        return [_binary("nsd"), "-d", "-c", str(self.conf)]

    def reload_zone(self, zone: str) -> None:
        """SIGHUP: nsd rereads the zone files whose mtime changed and sends NOTIFY for each
        zone whose serial moved."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)


# BIND 9 ----------------------------------------------------------------------------------------

class Named(Peer):
    """named (BIND 9.18), ``named -g -c named.conf -n 1`` as root (no ``-u``), with a
    ``controls`` channel on 127.0.0.1 and its own rndc.conf.

    Primary zones have ``ixfr-from-differences yes`` so it serves IXFR of every
    :meth:`update` (``rndc reload <zone>``, after which it NOTIFYs ``also-notify``; notify
    is ``explicit``: nothing goes to the zone's NS names)."""

    name = "named"
    serves_ixfr = True
    # what it took in is logged without the kind
    transfer_patterns = {"outgoing": r"transfer of '{zone}/IN': ([AI]XFR) ended"}

    def __init__(self, workdir: Path | str | None = None) -> None:
        super().__init__(workdir)
        self.control_port = free_port()
        self.rndc_key = Tsig.generate("rndc-key")

    @property
    def conf(self) -> Path:
        return self.dir / "named.conf"

    def write_config(self) -> None:
        d = self.dir
        rk = self.rndc_key
        text = [
            f'key "{rk.bare_name}" {{ algorithm {rk.algorithm}; secret "{rk.secret}"; }};',
            f"controls {{ inet 127.0.0.1 port {self.control_port} allow {{ 127.0.0.1; }} "
            f'keys {{ "{rk.bare_name}"; }}; }};',
            "options {", f'    directory "{d}";', f'    pid-file "{d}/named.pid";',
            f'    session-keyfile "{d}/session.key";', f'    managed-keys-directory "{d}";',
            f"    listen-on port {self.port} {{ {self.address}; }};",
            "    listen-on-v6 { none; };", "    recursion no;", "    dnssec-validation no;",
            "    notify explicit;", "    notify-delay 0;", "    allow-transfer { 127.0.0.0/8; };",
            "    allow-query { any; };", "    check-names primary ignore;",
            "    check-names secondary ignore;", "    check-integrity no;",
            "};",
        ]
        for key in self.keys.values():
            text.append(f'key "{key.name}" {{ algorithm {key.algorithm}; '
                        f'secret "{key.secret}"; }};')
        for zone in self.primaries.values():
            allow = f'key "{zone.tsig.name}";' if zone.tsig else "127.0.0.0/8;"
            notify = " ".join(f"{ep[0]} port {ep[1]}"
                              + (f' key "{zone.tsig.name}"' if zone.tsig else "") + ";"
                              for ep in zone.notify)
            text += [f'zone "{zone.zone}" {{', "    type primary;",
                     f'    file "{self.zone_file(zone.zone)}";',
                     "    ixfr-from-differences yes;", f"    allow-transfer {{ {allow} }};",
                     f"    also-notify {{ {notify} }};" if notify else "    notify no;", "};"]
        for zone in self.secondaries.values():
            key = f' key "{zone.tsig.name}"' if zone.tsig else ""
            text += [f'zone "{zone.zone}" {{', "    type secondary;",
                     f'    file "{self.zone_file(zone.zone)}";',
                     f"    primaries {{ {zone.primary[0]} port {zone.primary[1]}{key}; }};",
                     f"    allow-notify {{ {zone.primary[0]}; }};",
                     "    allow-transfer { 127.0.0.0/8; };", "    notify no;", "};"]
        self.conf.write_text("\n".join(text) + "\n")
        (d / "rndc.conf").write_text(
            f'key "{rk.bare_name}" {{ algorithm {rk.algorithm}; secret "{rk.secret}"; }};\n'
            f'options {{ default-key "{rk.bare_name}"; default-server 127.0.0.1; '
            f"default-port {self.control_port}; }};\n")

    def command(self) -> list[str]:
        return [_binary("named"), "-g", "-n", "1", "-c", str(self.conf)]

    def rndc(self, *args: str) -> str:
        """Run ``rndc`` against this named's control channel."""
        return self.run(_binary("rndc"), "-c", self.dir / "rndc.conf", *args)

    def reload_zone(self, zone: str) -> None:
        """``rndc reload <zone>``: named diffs the new file into its journal (IXFR) and sends
        NOTIFY to ``also-notify``."""
        self.rndc("reload", zone.rstrip(".") or ".")

    def refresh(self, zone: str) -> None:
        """``rndc refresh <zone>``: also what gets a secondary going whose primary was not
        up when named started (named then skips that primary for 60 s, NOTIFY or not)."""
        self.rndc("refresh", zone.rstrip(".") or ".")


# PowerDNS --------------------------------------------------------------------------------------

PDNS_SQLITE_SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")


class Pdns(Peer):
    """pdns_server (PowerDNS Authoritative 4.7), ``pdns_server --config-dir=<dir>`` with
    ``daemon=no guardian=no``, its own ``socket-dir``, no caches, ``primary=yes`` /
    ``secondary=yes`` as needed, ``allow-axfr-ips``, ``also-notify`` (``only-notify=``
    empty: no NOTIFY to the zone's NS names).

    ``backend="gsqlite3"`` (default): zones live in an SQLite database made from Debian's
    schema and filled with ``pdnsutil load-zone`` / ``create-secondary-zone``; TSIG keys
    with ``pdnsutil import-tsig-key`` and the ``TSIG-ALLOW-AXFR`` / ``AXFR-MASTER-TSIG``
    metadata; with a TSIG zone ``allow-axfr-ips`` is empty and the other zones get
    ``ALLOW-AXFR-FROM``. :meth:`update` is ``pdnsutil load-zone`` then ``pdns_control
    notify``.
    ``backend="bind"``: a named.conf for the bind backend; :meth:`update` is
    ``pdns_control bind-reload-now`` then ``pdns_control notify``; no TSIG.

    As primary it answers IXFR with the whole zone."""

    name = "pdns"
    # what it hands out is logged as AXFR-out whatever was asked
    transfer_patterns = {"incoming": r"([AI]XFR)-in zone: '{zone}', primary: .*, "
                                     r"zone committed"}

    def __init__(self, workdir: Path | str | None = None, backend: str = "gsqlite3") -> None:
        super().__init__(workdir)
        if backend not in ("gsqlite3", "bind"):
            raise ValueError(f"backend {backend!r}: gsqlite3 or bind")
        self.backend = backend

    @property
    def db(self) -> Path:
        return self.dir / "pdns.sqlite3"

    def settings(self) -> dict[str, str]:
        d = self.dir
        tsig = any(z.tsig for z in self.primaries.values())
        notify = sorted({f"{ep[0]}:{ep[1]}" for z in self.primaries.values() for ep in z.notify})
        out = {
            "launch": self.backend, "local-address": self.address, "local-port": str(self.port),
            "socket-dir": str(d), "daemon": "no", "guardian": "no", "disable-syslog": "yes",
            "loglevel": "6", "security-poll-suffix": "", "cache-ttl": "0",
            "negquery-cache-ttl": "0", "query-cache-ttl": "0", "zone-cache-refresh-interval": "0",
            "distributor-threads": "1", "receiver-threads": "1", "webserver": "no",
            "allow-axfr-ips": "" if tsig else "127.0.0.0/8", "only-notify": "",
            "also-notify": ",".join(notify), "xfr-cycle-interval": "5",
        }
        if self.primaries:
            out["primary"] = "yes"
        if self.secondaries:
            out["secondary"] = "yes"
        if self.backend == "gsqlite3":
            out.update({"gsqlite3-database": str(self.db), "gsqlite3-dnssec": "yes"})
        else:
            out["bind-config"] = str(d / "named.conf")
        return out

    def write_config(self) -> None:
        (self.dir / "pdns.conf").write_text(
            "".join(f"{k}={v}\n" for k, v in self.settings().items()))
        if self.backend == "bind":
            if self.keys:
                raise PeerError("Pdns: TSIG needs backend='gsqlite3'")
            text = []
            for zone in self.primaries.values():
                text.append(f'zone "{zone.zone}" {{ type master; '
                            f'file "{self.zone_file(zone.zone)}"; }};')
            for zone in self.secondaries.values():
                text.append(f'zone "{zone.zone}" {{ type slave; '
                            f'masters {{ {zone.primary[0]}:{zone.primary[1]}; }}; '
                            f'file "{self.zone_file(zone.zone)}"; }};')
            (self.dir / "named.conf").write_text("\n".join(text) + "\n")
            return
        self.db.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            db.executescript(PDNS_SQLITE_SCHEMA.read_text())
            db.commit()
        for key in self.keys.values():
            self.pdnsutil("import-tsig-key", key.name, key.algorithm, key.secret)
        tsig = any(z.tsig for z in self.primaries.values())
        for zone in self.primaries.values():
            self.pdnsutil("load-zone", zone.zone, self.zone_file(zone.zone))
            self.pdnsutil("set-kind", zone.zone, "primary")
            if zone.tsig:
                self.pdnsutil("set-meta", zone.zone, "TSIG-ALLOW-AXFR", zone.tsig.name)
            elif tsig:
                self.pdnsutil("set-meta", zone.zone, "ALLOW-AXFR-FROM", "127.0.0.0/8")
        for zone in self.secondaries.values():
            self.pdnsutil("create-secondary-zone", zone.zone,
                          f"{zone.primary[0]}:{zone.primary[1]}")
            # without it PowerDNS asks only for AXFR
            self.pdnsutil("set-meta", zone.zone, "IXFR", "1")
            if zone.tsig:
                self.pdnsutil("set-meta", zone.zone, "AXFR-MASTER-TSIG", zone.tsig.name)
            if tsig:
                self.pdnsutil("set-meta", zone.zone, "ALLOW-AXFR-FROM", "127.0.0.0/8")

    def command(self) -> list[str]:
        return [_binary("pdns_server"), f"--config-dir={self.dir}"]

    def pdnsutil(self, *args: str | Path) -> str:
        return self.run(_binary("pdnsutil"), f"--config-dir={self.dir}", *args)

    def pdns_control(self, *args: str) -> str:
        return self.run(_binary("pdns_control"), f"--config-dir={self.dir}", *args)

    def reload_zone(self, zone: str) -> None:
        """gsqlite3: ``pdnsutil load-zone`` replaces the zone's records; bind:
        ``pdns_control bind-reload-now``; then ``pdns_control notify`` sends NOTIFY."""
        if self.backend == "gsqlite3":
            self.pdnsutil("load-zone", zone, self.zone_file(zone))
        else:
            out = self.pdns_control("bind-reload-now", zone)
            if re.search(r"error|fail", out, re.I):
                raise PeerError(f"bind-reload-now {zone}: {out}{self.log_tail()}")
        self.pdns_control("notify", zone)

    def refresh(self, zone: str) -> None:
        """``pdns_control retrieve <zone>``."""
        self.pdns_control("retrieve", zone)

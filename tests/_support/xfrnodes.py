"""fastdns as one more zone-transfer peer (tests/_support/peers.py), so that a test puts it
beside knotd, nsd, named and pdns_server and drives all of them the same way::

    fastdns, knot = FastdnsPeer(tmp_path), Knot(tmp_path)
    fastdns.add_primary("example.test.", text, notify=[knot.endpoint], tsig=key)
    knot.add_secondary("example.test.", fastdns.endpoint, tsig=key)
    with fastdns, knot:
        knot.wait_serial("example.test.", 2024060101)

``backend="gsqlite3"`` (default): zones live in an SQLite database made from fastdns's
schema and filled as an operator does it, with ``fastdns-util`` (``load-zone`` + ``set-kind
primary``, ``create-secondary-zone``, ``import-tsig-key`` + ``activate-tsig-key``,
``secure-zone`` + ``set-nsec3``); each primary zone's NOTIFY targets are its
``ALSO-NOTIFY`` metadata; ``zone-check-interval=1``, so an :meth:`update` (``fastdns-util
load-zone``) is noticed within a second and NOTIFY goes out.
``backend="bind"``: a named.conf (``type master; also-notify``, ``type slave; masters``),
``bind-check-interval=1``; no TSIG (it would need a bind-dnssec-db).
As with the harness's pdns_server, a node with a TSIG primary zone has ``allow-axfr-ips=``
empty (PowerDNS and fastdns let an allowed address transfer without the key) and its other
zones ``ALLOW-AXFR-FROM 127.0.0.0/8``.

Both: ``only-notify=`` empty (no NOTIFY to the zones' NS hosts), one worker, one signer,
the control socket in the node's directory (:meth:`FastdnsPeer.control`; ``retrieve`` is
:meth:`refresh`). :meth:`Peer.transfers` reads fastdns's one line per transfer.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

from fastdns.backends.gsql import schema_sql
from tests._support.peers import Peer, PeerError
from tests._support.servers import ROOT

__all__ = ["FastdnsPeer"]


class FastdnsPeer(Peer):
    """fastdns (``python3 -m fastdns --config-dir=<dir>``) as a transfer peer."""

    name = "fastdns"
    serves_ixfr = True
    transfer_patterns = {
        "incoming": r"secondary zone '{zone}\.': ([AI]XFR) from ",
        "outgoing": r"\b([AI]XFR) of domain '{zone}\.' \(serial \d+\) to ",
    }

    def __init__(self, workdir: Path | str | None = None, backend: str = "gsqlite3",
                 settings: dict[str, str] | None = None) -> None:
        if backend not in ("gsqlite3", "bind"):
            raise ValueError(f"backend {backend!r}: gsqlite3 or bind")
        self.backend = backend
        super().__init__(workdir)
        self.extra_settings = dict(settings or {})
        #: zone -> NSEC3 parameters ("1 0 0 -") or "nsec": zones secured before start
        self.secured: dict[str, str] = {}

    @property
    def db(self) -> Path:
        return self.dir / "fastdns.sqlite3"

    @property
    def confdir(self) -> Path:
        return self.dir / "conf"

    def secure(self, zone: str, nsec3: str | None = None) -> FastdnsPeer:
        """Sign primary ``zone`` online (``fastdns-util secure-zone``), with NSEC, or NSEC3
        of the ``nsec3`` parameters ("1 0 0 -") when given. gsqlite3 only."""
        self._not_started()
        if self.backend != "gsqlite3":
            raise PeerError("FastdnsPeer.secure: gsqlite3 only")
        self.secured[zone if zone.endswith(".") else zone + "."] = nsec3 or "nsec"
        return self

    def settings(self) -> dict[str, str]:
        out = {
            "local-address": self.address, "local-port": str(self.port),
            "socket-dir": str(self.dir), "loglevel": "6", "workers": "1",
            "signing-threads": "1", "only-notify": "", "zone-cache-dir": "no",
        }
        if self.primaries:
            out["primary"] = "yes"
        if self.secondaries:
            out["secondary"] = "yes"
        if any(zone.tsig for zone in self.primaries.values()):
            # as for PowerDNS, an address in allow-axfr-ips may transfer any zone without
            # a key: the other zones get ALLOW-AXFR-FROM instead
            out["allow-axfr-ips"] = ""
        if self.backend == "gsqlite3":
            out.update({"launch": "gsqlite3", "gsqlite3-database": str(self.db),
                        "gsqlite3-dnssec": "yes", "zone-check-interval": "1"})
        else:
            out.update({"launch": "bind", "bind-config": str(self.dir / "named.conf"),
                        "bind-check-interval": "1"})
        out.update(self.extra_settings)
        return out

    def restart(self, timeout: float = 20.0) -> FastdnsPeer:
        """Stop fastdns and start it again on the same configuration and database (its
        image cache, when it has one, kept)."""
        self.stop(remove=False)
        self.proc = None
        self._restarting = True
        try:
            self.start(timeout)
        finally:
            self._restarting = False
        return self

    def write_config(self) -> None:
        if getattr(self, "_restarting", False):
            return
        self.confdir.mkdir(exist_ok=True)
        (self.confdir / "fastdns.conf").write_text(
            "".join(f"{k}={v}\n" for k, v in self.settings().items()))
        if self.backend == "bind":
            self._write_named_conf()
            return
        self.db.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            db.executescript(schema_sql("sqlite3"))
            db.commit()
        for key in self.keys.values():
            self.util("import-tsig-key", key.name, key.algorithm, key.secret)
        tsig = any(zone.tsig for zone in self.primaries.values())
        for zone in self.primaries.values():
            self.util("load-zone", zone.zone, str(self.zone_file(zone.zone)))
            self.util("set-kind", zone.zone, "primary")
            for host, port in zone.notify:
                self.util("add-meta", zone.zone, "ALSO-NOTIFY", f"{host}:{port}")
            if zone.tsig:
                self.util("activate-tsig-key", zone.zone, zone.tsig.name, "primary")
            elif tsig:
                self.util("set-meta", zone.zone, "ALLOW-AXFR-FROM", "127.0.0.0/8")
            nsec3 = self.secured.get(zone.zone)
            if nsec3:
                self.util("secure-zone", zone.zone)
                if nsec3 != "nsec":
                    self.util("set-nsec3", zone.zone, nsec3)
                self.util("rectify-zone", zone.zone)
        for zone in self.secondaries.values():
            self.util("create-secondary-zone", zone.zone, f"{zone.primary[0]}:{zone.primary[1]}")
            if zone.tsig:
                self.util("activate-tsig-key", zone.zone, zone.tsig.name, "secondary")
            if tsig:
                self.util("set-meta", zone.zone, "ALLOW-AXFR-FROM", "127.0.0.0/8")

    def _write_named_conf(self) -> None:
        if self.keys:
            raise PeerError("FastdnsPeer: TSIG needs backend='gsqlite3'")
        text = [f'options {{ directory "{self.dir}"; }};']
        for zone in self.primaries.values():
            notify = "".join(f" {host} port {port};" for host, port in zone.notify)
            text.append(f'zone "{zone.zone}" {{ type master; '
                        f'file "{self.zone_file(zone.zone)}";'
                        + (f" also-notify {{{notify} }};" if notify else "") + " };")
        for zone in self.secondaries.values():
            host, port = zone.primary
            text.append(f'zone "{zone.zone}" {{ type slave; '
                        f"masters {{ {host} port {port}; }}; "
                        f'file "{self.zone_file(zone.zone)}"; }};')
        (self.dir / "named.conf").write_text("\n".join(text) + "\n")

    def command(self) -> list[str]:
        # fastdns is run from the source tree (built in place), not installed
        return ["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "fastdns",
                f"--config-dir={self.confdir}"]

    def util(self, *args: str) -> str:
        """``fastdns-util`` on this node's configuration (its main(), in this process: a
        second saved per command); its output, or :class:`PeerError`."""
        from fastdns.cli.util import main

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([f"--config-dir={self.confdir}", *args])
        if code != 0:
            raise PeerError(f"fastdns-util {' '.join(args)} failed ({code}):\n"
                            f"{out.getvalue()}{err.getvalue()}")
        return out.getvalue() + err.getvalue()

    def control(self, *words: str) -> str:
        """``fastdns-control`` on this node's control socket; its reply."""
        done = subprocess.run([sys.executable, "-m", "fastdns.cli.control",
                               f"--socket-dir={self.dir}", *words], cwd=ROOT, text=True,
                              capture_output=True, timeout=15)
        if done.returncode != 0:
            raise PeerError(f"fastdns-control {' '.join(words)} failed ({done.returncode}):\n"
                            f"{done.stdout}{done.stderr}{self.log_tail()}")
        return done.stdout + done.stderr

    def reload_zone(self, zone: str) -> None:
        """gsqlite3: ``fastdns-util load-zone`` (and ``rectify-zone`` when secured), seen
        within ``zone-check-interval``; bind: the rewritten file, seen within
        ``bind-check-interval``. fastdns then sends NOTIFY for the new serial itself."""
        if self.backend == "gsqlite3":
            self.util("load-zone", zone, str(self.zone_file(zone)))
            if zone in self.secured:
                self.util("rectify-zone", zone)

    def refresh(self, zone: str) -> None:
        """``fastdns-control retrieve ZONE``: check the primary now and transfer (AXFR)."""
        self.control("retrieve", zone)

    def notified(self, zone: str) -> list[tuple[str, int, str]]:
        """(host, port, rcode) of each answered NOTIFY for ``zone`` its log shows."""
        pattern = re.compile(rf"NOTIFY for '{re.escape(zone)}' to ([\d.]+):(\d+) answered "
                             r"(\w+)")
        return [(m[1], int(m[2]), m[3]) for m in pattern.finditer(self.log())]


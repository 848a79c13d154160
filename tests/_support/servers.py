"""Real server processes on 127.0.0.1 and a random port: fastdns and PowerDNS's pdns_server.

Both are started from a configuration directory written for the test, waited for until
they answer, and stopped at the end; their logs are kept for failure messages.
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


#: every server started and not yet stopped: a test that fails half-way leaves its server
#: to the end of the session, not running after it
_running: list["ServerProcess"] = []


@atexit.register
def stop_all() -> None:
    """Stop every server still running."""
    for server in list(_running):
        server.stop()


class ServerProcess:
    """A server process answering on 127.0.0.1:``port``."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.address = "127.0.0.1"
        self.proc: subprocess.Popen | None = None
        self.logfile = workdir / f"{self.name}.log"
        #: variables added to the environment the process starts with
        self.env: dict[str, str] = {}

    def command(self) -> list[str]:
        raise NotImplementedError

    def cwd(self) -> Path:
        return self.workdir

    def start(self, timeout: float = 20.0) -> "ServerProcess":
        with open(self.logfile, "ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.cwd(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, **self.env} if self.env else None)
        _running.append(self)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        probe = dns.message.make_query("ready.probe.invalid", "A")
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                dns.query.udp(probe, self.address, port=self.port, timeout=0.2)
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return
            except (dns.exception.Timeout, OSError):
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self, sig: int) -> None:
        """Send ``sig`` to the server process."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Stop the process; its exit code (killed processes give a negative one)."""
        if self.proc is None:
            return 0
        if self in _running:
            _running.remove(self)
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def query(self, qname, rdtype="A", *, tcp=False, timeout=2.0, **kw) -> dns.message.Message:
        msg = qname if isinstance(qname, dns.message.Message) else \
            dns.message.make_query(qname, rdtype, **kw)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(msg, self.address, port=self.port, timeout=timeout, ignore_trailing=True)

    def __enter__(self) -> "ServerProcess":
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


class Fastdns(ServerProcess):
    """fastdns with a fastdns.conf made of ``settings`` (plus a listening address)."""

    name = "fastdns"

    def __init__(self, workdir: Path, settings: dict[str, str] | None = None,
                 args: list[str] | None = None) -> None:
        super().__init__(workdir)
        self.rundir = workdir / "fastdns-run"
        self.settings = {"local-address": "127.0.0.1", "local-port": str(self.port),
                         "loglevel": "6", "socket-dir": str(self.rundir), "workers": "1",
                         "signing-threads": "1", **(settings or {})}
        self.args = args or []
        self.confdir = workdir / "fastdns-conf"
        self.confdir.mkdir(parents=True, exist_ok=True)
        self.write_config()

    def wait_ready(self, timeout: float) -> None:
        """Answering, every worker up, and every zone in (fastdns serves while it loads:
        most tests want the zones loaded, as a readiness check does)."""
        deadline = time.monotonic() + timeout
        super().wait_ready(timeout)
        while time.monotonic() < deadline:
            text = self.log()
            if re.search(r"fastdns \S+ serving", text) and re.search(r"all \d+ zones loaded",
                                                                     text):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{text}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not load its zones within {timeout}s:\n"
                           f"{self.log()}")

    def write_config(self) -> None:
        text = "".join(f"{k}={v}\n" for k, v in self.settings.items())
        (self.confdir / "fastdns.conf").write_text(text)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fastdns", f"--config-dir={self.confdir}", *self.args]

    @property
    def control_socket(self) -> Path:
        return self.rundir / "pdns.controlsocket"

    def children(self) -> dict[int, str]:
        """pid -> process title of the master's children (manager, signers, workers)."""
        assert self.proc is not None
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rpartition(")")[2].split()[1])
                if ppid == self.proc.pid:
                    out[int(entry.name)] = (entry / "cmdline").read_bytes() \
                        .replace(b"\0", b" ").decode(errors="replace").strip()
            except (OSError, ValueError, IndexError):
                continue
        return out

    def workers(self) -> dict[int, str]:
        return {pid: title for pid, title in self.children().items() if "worker" in title}

    def wait_workers(self, count: int, timeout: float = 10.0,
                     exclude: frozenset[int] = frozenset()) -> dict[int, str]:
        """Wait until ``count`` workers (none of ``exclude``) run and answer the control
        socket; the workers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == count and not set(workers) & exclude:
                return workers
            time.sleep(0.02)
        raise RuntimeError(f"not {count} workers within {timeout}s: {self.workers()}\n"
                           f"{self.log()}")

    def cwd(self) -> Path:
        return ROOT


class Pdns(ServerProcess):
    """PowerDNS Authoritative (Debian's pdns_server) with the bind backend."""

    name = "pdns"

    def __init__(self, workdir: Path, named_conf: Path, settings: dict[str, str] | None = None
                 ) -> None:
        super().__init__(workdir)
        self.named_conf = named_conf
        self.sockdir = workdir / "pdns-sock"
        self.sockdir.mkdir(parents=True, exist_ok=True)
        self.settings = {
            "launch": "bind", "bind-config": str(named_conf),
            "local-address": "127.0.0.1", "local-port": str(self.port),
            "socket-dir": str(self.sockdir), "daemon": "no", "guardian": "no",
            "disable-syslog": "yes", "loglevel": "6", "security-poll-suffix": "",
            "cache-ttl": "0", "negquery-cache-ttl": "0", "query-cache-ttl": "0",
            **(settings or {})}

    def command(self) -> list[str]:
        binary = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
        return [binary, "--no-config", *(f"--{k}={v}" for k, v in self.settings.items())]

    def cwd(self) -> Path:
        # PowerDNS resolves named.conf's `directory` against its working directory
        return self.named_conf.parent


def require(binary: str) -> str:
    """The path of a tool the test needs; a missing tool is a broken test setup, not a skip."""
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}")
                                    else None)
    if path is None:
        raise RuntimeError(f"{binary} is not installed: run `make deps` (scripts/install-deps)")
    return path


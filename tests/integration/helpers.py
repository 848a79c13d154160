"""Shared pieces of the integration tests: zone trees on disk, servers, clients, logs.

Every test here talks to a real ``fastdns`` process (tests/_support/servers.py) over real
sockets, with dnspython, ``dig`` and ``kdig``; nothing is mocked.
"""

import contextlib
import os
import re
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import dns.message
import dns.rcode
import dns.rdatatype

from fastdns.control.protocol import send_command
from tests._support.servers import ROOT, Fastdns, require

T = TypeVar("T")

#: Lines of :func:`zone_text`'s head: a record in ``body`` line k is on file line HEAD + k.
HEAD = 5
_LEN = struct.Struct("!H")
_ID = struct.Struct("!H")


def zone_text(origin: str, body: str = "", serial: int = 1) -> str:
    """A small valid zone: SOA, NS and the NS's address, then ``body`` (dedented)."""
    head = (f"$ORIGIN {origin}.\n"
            "$TTL 300\n"
            f"@ IN SOA ns1 hostmaster {serial} 7200 900 1209600 300\n"
            "@ IN NS ns1\n"
            "ns1 IN A 192.0.2.53\n")
    assert head.count("\n") == HEAD
    return head + textwrap.dedent(body)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by a new file (a new inode), so that any change check sees it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class ZoneTree:
    """``etc/named.conf`` with ``directory "zones"`` (relative: etc/zones) and its zone files.

    Zones are written in the order they were added; ``raw`` lines go into named.conf as
    they are (for zones whose file is missing, odd statements and so on).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "etc" / "named.conf"
        self.directory = root / "etc" / "zones"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, str] = {}

    def path(self, zone: str) -> Path:
        return self.directory / self.files[zone]

    def add(self, zone: str, text: str | None, file: str | None = None) -> Path:
        """Declare ``zone`` with ``file`` (default ``<zone>.zone``); write ``text`` unless None."""
        self.files[zone] = file or f"{zone}.zone"
        if text is not None:
            write_atomic(self.path(zone), text)
        self.write_conf()
        return self.path(zone)

    def remove(self, zone: str) -> None:
        del self.files[zone]
        self.write_conf()

    def write(self, zone: str, text: str) -> Path:
        write_atomic(self.path(zone), text)
        return self.path(zone)

    def write_conf(self) -> None:
        lines = ['options {\n\tdirectory "zones";\n};\n']
        for zone, file in self.files.items():
            lines.append(f'zone "{zone}" {{\n\ttype master;\n\tfile "{file}";\n}};\n')
        write_atomic(self.conf, "".join(lines))

    def line_of(self, zone: str, needle: str) -> int:
        """The 1-based line of the zone file that contains ``needle``."""
        for number, line in enumerate(self.path(zone).read_text().splitlines(), 1):
            if needle in line:
                return number
        raise AssertionError(f"{needle!r} is not in {self.path(zone)}")


def start_server(workdir: Path, tree: ZoneTree | None, settings: dict[str, str] | None = None,
                 args: list[str] | None = None) -> Fastdns:
    """A started fastdns serving ``tree`` (bind backend) with ``settings`` on top."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = {"launch": "bind", "bind-config": str(tree.conf)} if tree is not None else {}
    server = Fastdns(workdir, {**base, **(settings or {})}, args)
    server.start()
    return server


def have_ipv6() -> bool:
    """Whether ::1 can be bound on this host."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def run_fastdns(*args: str, cwd: Path = ROOT, timeout: float = 15.0
                ) -> subprocess.CompletedProcess[str]:
    """``fastdns ARGS`` run to completion (for the command-line tests)."""
    return subprocess.run([sys.executable, "-m", "fastdns", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)


# --------------------------------------------------------------------------------------------
# Waiting and logs


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02,
               what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def hup(server: Fastdns, timeout: float = 5.0) -> list[str]:
    """Send SIGHUP, wait for the reload's summary line; the log lines the reload wrote."""
    before = server.log()
    count = before.count(" reload: ")
    server.kill(signal.SIGHUP)
    wait_until(lambda: server.log().count(" reload: ") > count, timeout,
               what=f"a 'reload:' log line after SIGHUP\n{server.log()}")
    return server.log()[len(before):].splitlines()


def zone_lines(lines: list[str], zone: str) -> list[str]:
    """The log lines about ``zone`` (``zone 'NAME': ...``)."""
    return [line for line in lines if f"zone '{zone}':" in line]


def exits_within(proc: subprocess.Popen, seconds: float) -> int | None:
    """The exit code if ``proc`` ends within ``seconds``, else None."""
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return None


def process_group_gone(pgid: int) -> bool:
    """True when no process of the group (the server's session) is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------------------------
# Answers


def rrs(response: dns.message.Message, rdtype: str | None = None) -> list[str]:
    """Answer-section rdata texts (of ``rdtype`` only, when given), sorted."""
    out = []
    for rrset in response.answer:
        if rdtype is None or rrset.rdtype == dns.rdatatype.from_text(rdtype):
            out.extend(rdata.to_text() for rdata in rrset)
    return sorted(out)


# --------------------------------------------------------------------------------------------
# dig and kdig


@dataclass
class DigAnswer:
    """What dig or kdig printed, parsed: status, header flags, answer records, NSID."""

    text: str
    status: str = ""
    flags: set[str] = field(default_factory=set)
    answer: list[list[str]] = field(default_factory=list)
    nsid: str | None = None
    transport: str = ""

    def rdata(self, rdtype: str) -> list[str]:
        return sorted(" ".join(rr[4:]) for rr in self.answer if rr[3] == rdtype)


_STATUS = re.compile(r"status: ([A-Z]+)")
_FLAGS = re.compile(r"^;; [Ff]lags: ([a-z ]*);", re.MULTILINE)
_NSID = re.compile(r"NSID: .*\"(.*)\"")
_TRANSPORT = re.compile(r"^;; (?:SERVER: .*\((UDP|TCP)\)|From .*\((UDP|TCP)\))", re.MULTILINE)


def parse_dig(text: str) -> DigAnswer:
    result = DigAnswer(text)
    if (match := _STATUS.search(text)) is not None:
        result.status = match.group(1)
    if (match := _FLAGS.search(text)) is not None:
        result.flags = set(match.group(1).split())
    if (match := _NSID.search(text)) is not None:
        result.nsid = match.group(1)
    if (match := _TRANSPORT.search(text)) is not None:
        result.transport = match.group(1) or match.group(2)
    section = None
    for line in text.splitlines():
        if line.startswith(";; ") and line.rstrip().endswith("SECTION:"):
            section = line[3:].split()[0]
            continue
        if not line.strip():
            section = None
            continue
        if section == "ANSWER" and not line.startswith(";"):
            result.answer.append(line.split())
    return result


def dig(server: Fastdns | tuple[str, int], *args: str, tool: str = "dig") -> DigAnswer:
    """Run ``dig @ADDRESS -p PORT +norec ARGS`` (or kdig) and parse what it printed."""
    address, port = (server.address, server.port) if isinstance(server, Fastdns) else server
    binary = require(tool)
    command = [binary, f"@{address}", "-p", str(port), "+norec", "+time=2", "+retry=0", *args]
    done = subprocess.run(command, text=True, capture_output=True, timeout=15)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return parse_dig(done.stdout)


# --------------------------------------------------------------------------------------------
# Raw TCP (RFC 1035 §4.2.2 framing)


def frame(message: dns.message.Message | bytes) -> bytes:
    wire = message if isinstance(message, bytes) else message.to_wire()
    return _LEN.pack(len(wire)) + wire


def query_wire(qname: str, rdtype: str = "A", qid: int | None = None) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype)
    if qid is not None:
        query.id = qid
    return query


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes; fewer only when the peer closed the connection first."""
    data = bytearray()
    while len(data) < size:
        try:
            chunk = sock.recv(size - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def read_response(sock: socket.socket) -> dns.message.Message | None:
    """The next framed response, or None when the server closed the connection."""
    head = recv_exact(sock, 2)
    if len(head) < 2:
        return None
    (size,) = _LEN.unpack(head)
    body = recv_exact(sock, size)
    if len(body) < size:
        return None
    return dns.message.from_wire(body)


def closed_by_peer(sock: socket.socket, timeout: float) -> float | None:
    """Seconds until the server closes ``sock`` (EOF or reset), None if it stays open.

    Anything the server still sends before closing is read and ignored.
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return time.monotonic() - started
        except TimeoutError:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started


def connect(server: Fastdns, source: str | None = None, timeout: float = 2.0) -> socket.socket:
    """A TCP connection to ``server``, from ``source`` (an address on lo) when given."""
    return socket.create_connection((server.address, server.port), timeout=timeout,
                                    source_address=(source, 0) if source else None)


def tcp_exchange(sock: socket.socket, qname: str, rdtype: str = "A"
                 ) -> dns.message.Message | None:
    """One query on an open connection; the response, or None if the connection ended."""
    query = query_wire(qname, rdtype)
    try:
        sock.sendall(frame(query))
    except (BrokenPipeError, ConnectionResetError):
        return None
    response = read_response(sock)
    if response is not None:
        assert response.id == query.id
    return response


def is_noerror(response: dns.message.Message | None) -> bool:
    return response is not None and response.rcode() == dns.rcode.NOERROR


# --------------------------------------------------------------------------------------------
# Many clients, processes, the control socket


class UdpLoad(threading.Thread):
    """A steady stream of UDP queries for ``qname`` (one every ``interval`` seconds), sent in
    turn from ``sockets`` sockets of their own (as many source ports, so SO_REUSEPORT spreads
    them over every worker); it records when each was sent and when its answer came.

    ``start()``, then ``stop()``; :meth:`window` says how many of the queries sent in a span
    of time were answered within a client's timeout."""

    def __init__(self, server: Fastdns, qname: str, sockets: int = 64,
                 interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.target = (server.address, server.port)
        self.wire = bytearray(dns.message.make_query(qname, "A").to_wire())
        self.interval = interval
        self.socks = []
        for _ in range(sockets):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((server.address, 0))
            sock.setblocking(False)
            self.socks.append(sock)
        #: (socket index, query ID) -> monotonic time sent / answered, in sending order
        self.sent: dict[tuple[int, int], float] = {}
        self.answered: dict[tuple[int, int], float] = {}
        self._halt = threading.Event()
        self._until = 0.0

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(self.socks):
            selector.register(sock, selectors.EVENT_READ, index)
        count = 0
        next_send = time.monotonic()
        while not self._halt.is_set() or time.monotonic() < self._until:
            now = time.monotonic()
            if not self._halt.is_set() and now >= next_send:
                index = count % len(self.socks)
                qid = (count // len(self.socks)) % 65536
                _ID.pack_into(self.wire, 0, qid)
                with contextlib.suppress(OSError):
                    self.socks[index].sendto(self.wire, self.target)
                    self.sent[(index, qid)] = now
                count += 1
                next_send = max(next_send + self.interval, now - 0.05)
            wait = min(max(0.0, next_send - time.monotonic()), 0.01)
            for key, _ in selector.select(wait):
                while True:
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        break
                    if len(data) >= 2:
                        self.answered.setdefault((key.data, _ID.unpack_from(data)[0]),
                                                 time.monotonic())
        selector.close()
        for sock in self.socks:
            sock.close()

    def stop(self, linger: float = 1.0) -> None:
        """Stop sending; collect late answers for ``linger`` seconds more."""
        self._until = time.monotonic() + linger
        self._halt.set()
        self.join()

    def window(self, start: float, end: float, timeout: float) -> tuple[int, int]:
        """(queries sent in [start, end), of which answered within ``timeout`` seconds)."""
        sent = [key for key, at in self.sent.items() if start <= at < end]
        answered = [key for key in sent if key in self.answered
                    and self.answered[key] - self.sent[key] <= timeout]
        return len(sent), len(answered)

    def unanswered(self) -> list[float]:
        """When the queries that got no answer at all were sent."""
        return sorted(at for key, at in self.sent.items() if key not in self.answered)


def udp_burst(server: Fastdns, qname: str, count: int, rdtype: str = "A"
              ) -> list[socket.socket]:
    """Send one query from each of ``count`` new sockets (as many source ports) at once;
    the sockets, for :func:`collect`."""
    wire = dns.message.make_query(qname, rdtype).to_wire()
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((server.address, 0))
        sock.setblocking(False)
        sock.sendto(wire, (server.address, server.port))
        socks.append(sock)
    return socks


def collect(socks: list[socket.socket], timeout: float, close: bool = True
            ) -> tuple[list[dns.message.Message], list[socket.socket]]:
    """The answers that reach ``socks`` within ``timeout`` (at most one each), and the
    sockets still waiting (left open unless ``close``)."""
    waiting = set(socks)
    answers = []
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        readable, _, _ = select.select(list(waiting), [], [], deadline - time.monotonic())
        for sock in readable:
            answers.append(dns.message.from_wire(sock.recv(65536)))
            waiting.discard(sock)
    if close:
        for sock in socks:
            sock.close()
    return answers, [sock for sock in socks if sock in waiting]


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def stop_process(pid: int) -> None:
    """SIGSTOP ``pid`` and wait until every one of its threads is stopped: kill() returns
    before that, and a worker's UDP thread may answer a while longer if it does not wait."""
    os.kill(pid, signal.SIGSTOP)

    def stopped() -> bool:
        tasks = Path(f"/proc/{pid}/task")
        return all((tasks / tid / "stat").read_text().rpartition(")")[2].split()[0] == "T"
                   for tid in os.listdir(tasks))
    wait_until(stopped, timeout=5, interval=0.001, what=f"process {pid} stopped")


def title(pid: int) -> str:
    """The process title (command line) of ``pid``."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()


def control(server: Fastdns, *words: str, client: str = "pdns_control",
            timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    """Run a control command against ``server`` with PowerDNS's ``pdns_control`` or with
    ``fastdns-control`` (``python3 -m fastdns.cli.control``)."""
    if client == "pdns_control":
        command = [require("pdns_control"), "--no-config", f"--socket-dir={server.rundir}"]
    else:
        command = [sys.executable, "-m", "fastdns.cli.control", f"--socket-dir={server.rundir}"]
    return subprocess.run([*command, *words], cwd=ROOT, text=True, capture_output=True,
                          timeout=timeout)


def statistics(server: Fastdns) -> dict[str, int]:
    """``show *`` over the control socket, as a dict in the server's order."""
    reply = send_command(["show", "*"], unix_path=str(server.control_socket))
    assert reply.ok, reply.text
    return {name: int(value) for name, _, value in
            (item.partition("=") for item in reply.text.split(",") if item)}

"""The control socket against PowerDNS's own: the same commands sent by Debian's
``pdns_control`` to a real ``pdns_server`` 4.7.3 and to fastdns's control server (with a
context that describes an empty server, as the pdns_server here is) must print the same
bytes and exit with the same code.  Only commands whose reply does not depend on what the
server has seen are compared; ``fastdns-control`` is also checked against ``pdns_server``.
"""

import re
import socket
import subprocess
import sys
import time

import pytest

from fastdns.config.settings import parse_netmask
from fastdns.control.commands import SET_REFUSED
from fastdns.control.protocol import control_socket_path, send_command
from tests._support.servers import ROOT, Pdns, free_port, require
from tests.unit.test_control import DEFAULT_RANGE, ServerThread

SECRET = "s3cret"


class EmptyServer:
    """The ControlContext of a server with no zones that has answered nothing."""

    def __init__(self) -> None:
        self.started = time.time()

    def uptime(self) -> float:
        return time.time() - self.started

    async def ping(self) -> None:
        pass

    def loading(self) -> tuple[int, int] | None:
        return None

    def version(self) -> str:
        return "fastdns"

    def statistics(self) -> dict[str, int]:
        return {"udp-queries": 0, "udp-answers": 0}

    def cache_counts(self) -> dict[str, int]:
        return {"packetcache": 0, "negcache": 0, "querycache": 0}

    async def purge(self, pattern: str | None) -> int:
        return 0

    async def reload(self) -> None:
        return None

    async def rediscover(self) -> str:
        return "Done parsing domains, 0 rejected, 0 new, 0 removed"

    def list_zones(self, kind: str | None) -> list[str]:
        return []

    def current_config(self, diff: bool) -> str:
        return ""

    def set_setting(self, name: str, value: str) -> str:
        raise ValueError(SET_REFUSED)

    def response_sizes(self) -> dict[int, int]:
        return {}

    def query_types(self) -> dict[int, int]:
        return {}

    def remotes(self) -> list[tuple[str, int]]:
        return []

    def quit(self) -> None:
        return None


def start_pdns(workdir, **settings: str) -> Pdns:
    workdir.mkdir(parents=True, exist_ok=True)
    named = workdir / "named.conf"
    named.write_text(f'options {{ directory "{workdir}"; }};\n')
    require("pdns_server")
    return Pdns(workdir, named, settings).start()


@pytest.fixture(scope="module")
def pdns(tmp_path_factory):
    server = start_pdns(tmp_path_factory.mktemp("pdns"), **{
        "tcp-control-address": "127.0.0.1", "tcp-control-port": str(free_port()),
        "tcp-control-secret": SECRET})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ours(tmp_path_factory):
    sockdir = tmp_path_factory.mktemp("ours")
    server = ServerThread(EmptyServer(), control_socket_path(str(sockdir)),
                          tcp_address="127.0.0.1", tcp_port=0, tcp_secret=SECRET,
                          tcp_range=DEFAULT_RANGE).start()
    yield server
    server.stop()


def pdns_tcp(pdns: Pdns) -> tuple[str, int]:
    return "127.0.0.1", int(pdns.settings["tcp-control-port"])


def run(argv: list[str]) -> tuple[int, str, str]:
    proc = subprocess.run(argv, capture_output=True, cwd=ROOT, timeout=60)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def pdns_control(socket_dir, *words: str) -> tuple[int, str, str]:
    return run([require("pdns_control"), "--no-config", f"--socket-dir={socket_dir}", *words])


def fastdns_control(socket_dir, *words: str) -> tuple[int, str, str]:
    return run([sys.executable, "-m", "fastdns.cli.control", "--no-config",
                f"--socket-dir={socket_dir}", *words])


def our_dir(ours: ServerThread) -> str:
    return ours.unix_path.rsplit("/", 1)[0]


COMPARED = [
    ["rping"], ["RPING"], ["rping", "extra"], ["frobnicate"], ["status"], ["notify-hosts"],
    [""], ["show"], ["show", "a", "b"], ["show", "nonexistent-stat"], ["show", "nonexistent*"],
    ["set"], ["set", "foo"], ["set", "foo", "bar"], ["set", "a", "b", "c"],
    ["set", "local-port", "5300"], ["current-config", "foo"], ["current-config", "diff", "x"],
    ["list-zones"], ["list-zones", "primary"], ["list-zones", "secondary"],
    ["list-zones", "native"], ["list-zones", "all"], ["list-zones", "consumer"],
    ["list-zones", "producer"], ["purge", "example.com"], ["purge", "nothing.example$"],
    ["reload"],
]


@pytest.mark.parametrize("words", COMPARED, ids=lambda words: " ".join(words) or "empty")
def test_same_reply_as_pdns_server(words, pdns, ours):
    theirs = pdns_control(pdns.sockdir, *words)
    assert pdns_control(our_dir(ours), *words) == theirs
    # and fastdns-control prints for pdns_server what pdns_control prints
    assert fastdns_control(pdns.sockdir, *words) == theirs


def test_ccounts_of_an_empty_cache(pdns, ours):
    pdns_control(pdns.sockdir, "purge")  # the readiness probe may have left an entry
    theirs = pdns_control(pdns.sockdir, "ccounts")
    assert theirs == (0, "negative queries: 0, queries: 0packets: 0\n", "")
    assert pdns_control(our_dir(ours), "ccounts") == theirs


def test_uptime_format(pdns, ours):
    for directory in (pdns.sockdir, our_dir(ours)):
        rc, out, err = pdns_control(directory, "uptime")
        assert rc == 0 and err == "" and re.fullmatch(r"\d+ seconds\n", out), out


def test_help_lines_are_pdns_lines(pdns, ours):
    theirs = pdns_control(pdns.sockdir, "help")[1].splitlines()
    mine = pdns_control(our_dir(ours), "help")[1].splitlines()
    assert mine and set(mine) <= set(theirs), set(mine) - set(theirs)
    assert mine == sorted(mine)


def raw(address: tuple[str, int], data: bytes) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        if data:
            sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_tcp_as_pdns_server(pdns, ours):
    theirs, mine = pdns_tcp(pdns), ours.tcp
    for secret in (SECRET, "wrong", ""):
        assert send_command(["rping"], tcp=mine, secret=secret) == \
            send_command(["rping"], tcp=theirs, secret=secret)
    # the secret line alone: a refusal must not depend on what else was sent
    for line in (b"wrong\n", b"\n", b" \n"):
        assert raw(mine, line) == raw(theirs, line) == b"Wrong password"
    assert send_command(["show", "nonexistent-stat"], tcp=mine, secret=SECRET) == \
        send_command(["show", "nonexistent-stat"], tcp=theirs, secret=SECRET)


def test_tcp_access_denied_as_pdns_server(tmp_path):
    port = free_port()
    theirs = start_pdns(tmp_path / "pdns", **{
        "tcp-control-address": "127.0.0.1", "tcp-control-port": str(port),
        "tcp-control-secret": SECRET, "tcp-control-range": "10.0.0.0/8"})
    mine = ServerThread(EmptyServer(), control_socket_path(str(tmp_path / "ours")),
                        tcp_address="127.0.0.1", tcp_port=0, tcp_secret=SECRET,
                        tcp_range=[parse_netmask("10.0.0.0/8")]).start()
    try:
        assert raw(mine.tcp, b"") == raw(("127.0.0.1", port), b"") == \
            b"Access denied to 127.0.0.1\n"
    finally:
        mine.stop()
        theirs.stop()


def test_timeout_as_pdns_control(tmp_path):
    """A server that accepts and never answers: both clients give up after 7 seconds."""
    path = control_socket_path(str(tmp_path))
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(path)
        silent.listen(5)
        argvs = [[require("pdns_control"), "--no-config", f"--socket-dir={tmp_path}", "rping"],
                 [sys.executable, "-m", "fastdns.cli.control", "--no-config",
                  f"--socket-dir={tmp_path}", "rping"]]
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  cwd=ROOT) for argv in argvs]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=30)
            results.append((proc.returncode, out.decode(), err.decode()))
    assert results[0] == results[1]
    assert results[0][0] == 2 and results[0][2].startswith("Timeout error: ")


def test_quit_as_pdns_server(tmp_path):
    theirs = start_pdns(tmp_path / "pdns")
    mine = ServerThread(EmptyServer(), control_socket_path(str(tmp_path / "ours"))).start()
    try:
        assert pdns_control(our_dir(mine), "quit") == pdns_control(theirs.sockdir, "quit") == \
            (0, "Exiting\n", "")
        assert theirs.proc is not None and theirs.proc.wait(10) == 0
        assert not (theirs.sockdir / "pdns.controlsocket").exists()
    finally:
        mine.stop()
        theirs.stop()
    assert not (tmp_path / "ours" / "pdns.controlsocket").exists()

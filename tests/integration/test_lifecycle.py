"""Signals (DESIGN §1): TERM and INT stop gracefully, QUIT stops at once, HUP reloads
without losing a query; no process is left behind."""

import signal
import socket
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.integration.helpers import (
    ZoneTree,
    connect,
    exits_within,
    frame,
    process_group_gone,
    query_wire,
    rrs,
    start_server,
    tcp_exchange,
    wait_until,
    zone_text,
)

#: what "promptly" means for a stop: well under a service manager's patience, with margin
#: for a loaded 2-core test machine
PROMPTLY = 2.0


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("lifecycle"))
    tree.add("life.test", zone_text("life.test", f"""\
        www IN A 192.0.2.1
        big IN TXT {' '.join(['"' + 'x' * 250 + '"'] * 16)}
        """))
    return tree


def stop_and_check(server, sig: int, expect_code: int = 0) -> float:
    """Send ``sig``; assert the exit code and that the process group is gone; the time taken."""
    assert server.proc is not None
    started = time.monotonic()
    server.kill(sig)
    code = exits_within(server.proc, PROMPTLY)
    took = time.monotonic() - started
    if code is None:
        server.stop(signal.SIGKILL)
        raise AssertionError(f"no exit within {PROMPTLY}s of {signal.Signals(sig).name}:\n"
                             f"{server.log()}")
    assert code == expect_code, server.log()
    wait_until(lambda: process_group_gone(server.proc.pid), timeout=1,
               what="every process of the server's group gone")
    return took


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_graceful_stop_exits_0(tree, tmp_path, sig):
    server = start_server(tmp_path, tree)
    idle = connect(server)                       # an idle TCP client must not hold the stop
    busy = connect(server)
    assert tcp_exchange(busy, "www.life.test") is not None
    stop_and_check(server, sig)
    assert "stopping (graceful)" in server.log()
    for sock in (idle, busy):
        sock.settimeout(1)
        assert sock.recv(1) == b""               # closed by the server, not left hanging
        sock.close()


def test_sigquit_stops_at_once(tree, tmp_path):
    server = start_server(tmp_path, tree)
    client = connect(server)
    assert tcp_exchange(client, "www.life.test") is not None
    stop_and_check(server, signal.SIGQUIT)
    assert "stopping (immediate)" in server.log()
    client.close()


def test_sigterm_with_a_client_that_does_not_read(tree, tmp_path):
    """Answers a client never reads cannot be flushed; the stop must not wait for them."""
    server = start_server(tmp_path, tree)
    stuck = connect(server)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setblocking(False)
    data = frame(query_wire("big.life.test", "TXT")) * 64
    for _ in range(2000):
        try:
            stuck.send(data)
        except BlockingIOError:
            break
    time.sleep(0.3)   # let the server fill its write buffer
    stop_and_check(server, signal.SIGTERM)
    stuck.close()


def test_no_query_lost_while_reloading(tmp_path):
    """2,000 sequential UDP queries with short timeouts while HUPs reload a changing zone."""
    tree = ZoneTree(tmp_path)
    tree.add("life.test", zone_text("life.test", "www IN A 192.0.2.1\n"))
    server = start_server(tmp_path / "server", tree)
    versions = {"192.0.2.1", "192.0.2.2"}
    answered = 0
    lost = []
    for i in range(2000):
        if i % 50 == 25:
            address = "192.0.2.2" if (i // 50) % 2 == 0 else "192.0.2.1"
            tree.write("life.test", zone_text("life.test", f"www IN A {address}\n", serial=i))
            server.kill(signal.SIGHUP)
        query = dns.message.make_query("www.life.test", "A")
        try:
            response = dns.query.udp(query, server.address, port=server.port, timeout=0.5)
        except dns.exception.Timeout:
            lost.append(i)
            continue
        assert response.rcode() == dns.rcode.NOERROR, response
        assert set(rrs(response, "A")) <= versions and rrs(response, "A"), response
        answered += 1
    assert not lost, f"{len(lost)} queries unanswered, first at {lost[:10]}"
    assert answered == 2000
    reloads = server.log().count(" reload: ")
    assert reloads >= 10, server.log()           # the HUPs did reload (some may coalesce)
    assert server.log().count("loaded serial") >= reloads // 2
    stop_and_check(server, signal.SIGTERM)


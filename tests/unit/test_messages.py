"""Typed messages between processes (fastdns.server.messages), over real socketpairs and a
real event loop; the throttled log lines; the master's name reader; the notify protocol."""

import asyncio
import logging
import os
import socket

import dns.name
import pytest

from fastdns.log import Throttled, log
from fastdns.server import messages, sdnotify
from fastdns.server.messages import Channel, MessageError
from fastdns.server.reconfig import name_wire


def pair() -> tuple[Channel, Channel]:
    a, b = messages.channel()
    return Channel(a), Channel(b)


def test_every_message_type_round_trips():
    ours, theirs = pair()
    samples = [messages.Booted(zones=3), messages.Applied(7), messages.Reload(2),
               messages.Reloaded(2, loaded=1, removed=2, failed=3, absent=4, skipped=5,
                                 zones=6),
               messages.Replied(9, 42), messages.Purge(4, "076578616d706c6500", True),
               messages.Purge(5), messages.Ping(6),
               messages.Configure({"cache_ttl": 5, "loglevel": 6})]
    for message in samples:
        ours.send(message)
        received, fds = theirs.recv()
        assert received == message and type(received) is type(message) and fds == []


def test_a_descriptor_travels_with_its_message():
    ours, theirs = pair()
    read, write = os.pipe()
    try:
        ours.send(messages.ZoneBundle(3), (write,))
        received, fds = theirs.recv()
        assert received == messages.ZoneBundle(3) and len(fds) == 1
        os.write(fds[0], b"through")
        os.close(fds[0])
        assert os.read(read, 16) == b"through"
    finally:
        os.close(read)
        os.close(write)


def test_wrong_descriptor_counts_and_foreign_datagrams_are_refused():
    ours, theirs = pair()
    with pytest.raises(ValueError):
        ours.send(messages.ZoneBundle(1))                 # needs its descriptor
    with pytest.raises(ValueError):
        ours.send(messages.Ping(1), (0,))                 # carries none
    for junk in (b"not json", b'{"t": "NoSuchType"}', b'{"t": "Ping"}',
                 b'{"t": "Ping", "request": 1, "extra": 2}', b"[1, 2]"):
        ours.sock.send(junk)
        with pytest.raises(MessageError):
            theirs.recv()
    # a bundle without its descriptor is not taken either; one sent with one too many is
    # refused and the descriptors closed
    ours.sock.send(messages.ZoneBundle(1).encode())
    with pytest.raises(MessageError):
        theirs.recv()
    socket.send_fds(ours.sock, [messages.Ping(1).encode()], [os.dup(0)])
    with pytest.raises(MessageError):
        theirs.recv()


def test_attach_dispatches_by_type_and_reports_the_peer_gone(caplog):
    ours, theirs = pair()
    got: list = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        closed = loop.create_future()
        theirs.attach(loop, {messages.Ping: lambda m, fds: got.append(m),
                             messages.Reload: lambda m, fds: got.append(m)},
                      on_closed=lambda: closed.set_result(True))
        ours.send(messages.Ping(1))
        ours.send(messages.Applied(2))        # no handler here: logged once, dropped
        ours.send(messages.Applied(3))
        ours.sock.send(b"junk")               # not a message: logged, dropped
        ours.send(messages.Reload(4))
        ours.close()
        await asyncio.wait_for(closed, 2)

    with caplog.at_level(logging.ERROR, logger="fastdns"):
        log.propagate = True
        try:
            asyncio.run(main())
        finally:
            log.propagate = False
    assert got == [messages.Ping(1), messages.Reload(4)]
    lines = [r.getMessage() for r in caplog.records]
    assert sum("no handler for Applied" in x for x in lines) == 1, lines
    assert sum("not a message" in x for x in lines) == 1, lines


def test_throttled_counts_every_event_and_logs_once_per_interval(caplog):
    now = [100.0]
    refused = Throttled(logging.WARNING, "tcp connection refused", 10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="fastdns"):
        log.propagate = True
        try:
            for i in range(45_000):
                now[0] = 100.0 + i * 0.001            # 45,000 events in 45 s
                refused(f"192.0.2.{i % 250}")
            refused.flush()
        finally:
            log.propagate = False
    lines = [r.getMessage() for r in caplog.records]
    assert refused.count == 45_000
    assert 5 <= len(lines) <= 7, lines
    assert lines[0] == "tcp connection refused: 192.0.2.0"
    assert "and 9999 more in 10 s" in lines[1], lines
    counted = len(lines) - 1 + sum(int(x.split(" more")[0].rsplit(" ", 1)[1]) for x in lines
                                   if " more" in x)
    assert counted == 45_000, lines


@pytest.mark.parametrize("text", ["example.com.", "Example.COM", ".", "a\\.b.example.",
                                  "\\065\\000x.test.", "xn--bcher-kva.example.", "*.w.test."])
def test_name_wire_agrees_with_dnspython(text):
    assert name_wire(text) == dns.name.from_text(text).to_wire()


@pytest.mark.parametrize("text", ["a..b", "x" * 64 + ".test", "a\\256.test", "a\\",
                                  ".".join(["abcdefghi"] * 26)])
def test_name_wire_refuses_what_is_no_name(text):
    with pytest.raises(ValueError):
        name_wire(text)


@pytest.mark.parametrize("abstract", [False, True])
def test_sd_notify_sends_one_datagram_per_state(tmp_path, monkeypatch, abstract):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"fastdns-test-{os.getpid()}"
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    else:
        path = str(tmp_path / "notify")
        sock.bind(path)
        monkeypatch.setenv("NOTIFY_SOCKET", path)
    sock.settimeout(2)
    with sock:
        assert sdnotify.notify("READY=1", "STATUS=serving 3 zones")
        assert sock.recv(4096) == b"READY=1\nSTATUS=serving 3 zones"
        assert sdnotify.reloading()
        lines = sock.recv(4096).decode().split("\n")
        assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
        assert int(lines[1].split("=")[1]) > 0
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert not sdnotify.notify("READY=1")

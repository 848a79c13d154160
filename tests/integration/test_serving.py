"""Serving: one fastdns on several addresses, queried over UDP and TCP with dnspython, dig
and kdig; NSID (RFC 5001), id.server and version.bind (CH TXT)."""

import socket

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from fastdns import __version__
from tests._support.servers import free_port
from tests.integration.helpers import ZoneTree, dig, have_ipv6, rrs, start_server, zone_text

SERVER_ID = "ns-test-1.example"
IPV6 = have_ipv6()

ZONE = zone_text("serve.test", """\
    www     IN A     192.0.2.80
    www     IN AAAA  2001:db8::80
    mail    IN MX    10 mx.serve.test.
    mx      IN A     192.0.2.25
    text    IN TXT   "hello world"
    """)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    tree = ZoneTree(root)
    tree.add("serve.test", ZONE)
    second_port = free_port()
    addresses = ["127.0.0.1", f"127.0.0.2:{second_port}"] + (["::1"] if IPV6 else [])
    srv = start_server(root, tree, {"local-address": ", ".join(addresses),
                                    "server-id": SERVER_ID})
    srv.second_port = second_port
    yield srv
    assert srv.stop() == 0, srv.log()


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dnspython_answer(server, tcp):
    response = server.query("www.serve.test", "A", tcp=tcp)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.QR and response.flags & dns.flags.AA
    assert rrs(response, "A") == ["192.0.2.80"]
    assert response.answer[0].ttl == 300


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dnspython_negative_answers(server, tcp):
    nxdomain = server.query("nope.serve.test", "A", tcp=tcp)
    assert nxdomain.rcode() == dns.rcode.NXDOMAIN
    assert nxdomain.flags & dns.flags.AA
    assert [r.rdtype for r in nxdomain.authority] == [dns.rdatatype.SOA]
    nodata = server.query("www.serve.test", "MX", tcp=tcp)
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert [r.rdtype for r in nodata.authority] == [dns.rdatatype.SOA]
    # a name in no zone we serve: REFUSED, as PowerDNS answers
    assert server.query("www.example.org", "A", tcp=tcp).rcode() == dns.rcode.REFUSED


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_dig_and_kdig(server, tool, transport):
    args = ["+tcp"] if transport == "TCP" else ["+notcp"]
    answer = dig(server, *args, "www.serve.test", "AAAA", tool=tool)
    assert answer.status == "NOERROR", answer.text
    assert {"qr", "aa"} <= answer.flags and "rd" not in answer.flags, answer.text
    assert answer.transport == transport, answer.text
    assert answer.rdata("AAAA") == ["2001:db8::80"], answer.text


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_dig_mx_with_additional(server, tool):
    answer = dig(server, "mail.serve.test", "MX", tool=tool)
    assert answer.status == "NOERROR", answer.text
    assert answer.rdata("MX") == ["10 mx.serve.test."], answer.text
    assert "192.0.2.25" in answer.text   # the MX target's address, in the additional section


def test_dig_nxdomain(server):
    answer = dig(server, "nope.serve.test", "A")
    assert answer.status == "NXDOMAIN" and "aa" in answer.flags, answer.text
    assert not answer.answer


@pytest.mark.skipif(not IPV6, reason="this host has no IPv6 loopback")
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_ipv6_loopback(server, tcp):
    query = dns.message.make_query("www.serve.test", "A")
    send = dns.query.tcp if tcp else dns.query.udp
    response = send(query, "::1", port=server.port, timeout=2)
    assert rrs(response, "A") == ["192.0.2.80"]
    answer = dig(("::1", server.port), "+tcp" if tcp else "+notcp", "www.serve.test", "A")
    assert answer.rdata("A") == ["192.0.2.80"], answer.text


def test_every_address_answers(server):
    """local-address with several addresses, one with a port of its own."""
    endpoints = [("127.0.0.1", server.port), ("127.0.0.2", server.second_port)]
    if IPV6:
        endpoints.append(("::1", server.port))
    for address, port in endpoints:
        query = dns.message.make_query("text.serve.test", "TXT")
        for send in (dns.query.udp, dns.query.tcp):
            response = send(query, address, port=port, timeout=2)
            assert rrs(response, "TXT") == ['"hello world"'], (address, port, send)
    # 127.0.0.2 listens on its own port only
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", server.port), timeout=2).close()
    started = next(line for line in server.log().splitlines() if " serving " in line)
    for address, port in endpoints:
        host = f"[{address}]" if ":" in address else address
        assert f"udp {host}:{port}" in started and f"tcp {host}:{port}" in started, started


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_nsid(server, tool):
    answer = dig(server, "+nsid", "www.serve.test", "A", tool=tool)
    assert answer.status == "NOERROR"
    assert answer.nsid == SERVER_ID, answer.text


def test_nsid_only_when_asked(server):
    """RFC 5001 §2.1: NSID is returned to a client that asked for it, only."""
    asked = dns.message.make_query("www.serve.test", "A", use_edns=0,
                                   options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    response = dns.query.udp(asked, server.address, port=server.port, timeout=2)
    nsid = [o for o in response.options if o.otype == dns.edns.NSID]
    assert len(nsid) == 1 and nsid[0].to_wire() == SERVER_ID.encode()
    plain = dns.message.make_query("www.serve.test", "A", use_edns=0)
    response = dns.query.udp(plain, server.address, port=server.port, timeout=2)
    assert response.edns == 0 and not response.options


def test_id_server(server):
    answer = dig(server, "id.server", "CH", "TXT")
    assert answer.status == "NOERROR", answer.text
    assert answer.rdata("TXT") == [f'"{SERVER_ID}"'], answer.text


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_version_bind(server, tool):
    """version-string=full (the default): the server's name and version (differences A10)."""
    answer = dig(server, "version.bind", "CH", "TXT", tool=tool)
    assert answer.status == "NOERROR", answer.text
    assert answer.rdata("TXT") == [f'"fastdns {__version__}"'], answer.text
    for rr in answer.answer:
        assert rr[0].lower() == "version.bind." and rr[2] == "CH", answer.text

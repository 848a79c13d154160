"""Zone transfers through real fastdns servers: AXFR and IXFR out with their access rules
and TSIG, NOTIFY in and out, secondary zones in SQLite and in zone files, ``retrieve``,
autosecondary, and transfers that go wrong (a primary of the test's own on loopback sends
garbage, too much, the wrong zone, or stalls) leaving the old zone served.
"""

from __future__ import annotations

import base64
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.zone
import pytest

from tests._support.servers import Fastdns, free_port
from tests.integration.helpers import ROOT, control, wait_until

pytestmark = pytest.mark.timeout(180)

SECRET = base64.b64encode(b"k" * 32).decode()
OTHER = base64.b64encode(b"x" * 32).decode()

ZONE = """\
$ORIGIN example.com.
$TTL 3600
@       IN SOA ns1 hostmaster ({serial} 7200 900 1209600 300 )
        IN NS  ns1
        IN NS  ns2.example.net.
        IN MX  10 Mail
ns1     IN A   127.0.0.1
mail    IN A   192.0.2.25
www     IN CNAME mail
txt     IN TXT "hello world" "two strings"
_sip._tcp IN SRV 10 20 5060 sip
sip     IN AAAA 2001:db8::5
*.wild  IN A   192.0.2.99
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.53
{extra}
"""


def zone_text(serial: int, extra: str = "") -> str:
    return ZONE.format(serial=serial, extra=extra)


def util(server: Fastdns, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "fastdns.cli.util",
                             f"--config-dir={server.confdir}", *args], cwd=ROOT, text=True,
                            capture_output=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def sqlite_server(workdir: Path, settings: dict[str, str] | None = None) -> Fastdns:
    """A fastdns on a new SQLite database (not started)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return Fastdns(workdir, {"launch": "gsqlite3",
                             "gsqlite3-database": str(workdir / "pdns.sqlite3"),
                             "gsqlite3-create-schema": "yes", "gsqlite3-dnssec": "yes",
                             "zone-check-interval": "1", **(settings or {})})


def load(server: Fastdns, zone: str, text: str, path: Path) -> None:
    path.write_text(text)
    util(server, "load-zone", zone, str(path))


def axfr(server: Fastdns, zone: str = "example.com", keyring=None, keyname=None,
         source: str = "127.0.0.1") -> list[dns.message.Message]:
    query = dns.message.make_query(zone, dns.rdatatype.AXFR)
    if keyring is not None:
        query.use_tsig(keyring, keyname)
    return list(_xfr_messages(server.port, query, source))


def _xfr_messages(port: int, query: dns.message.Message, source: str):
    """Every message of a transfer answer, read off the wire (dnspython's xfr would raise
    at a refusal: the tests want the refusal itself)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as sock:
        wire = query.to_wire()
        sock.sendall(struct.pack("!H", len(wire)) + wire)
        tsig_ctx = None
        soas = 0
        first = True
        while True:
            head = _recv(sock, 2)
            if not head:
                return
            data = _recv(sock, struct.unpack("!H", head)[0])
            message = dns.message.from_wire(data, keyring=query.keyring,
                                            request_mac=query.mac, xfr=True,
                                            tsig_ctx=tsig_ctx, multi=True)
            tsig_ctx = message.tsig_ctx
            yield message
            if message.rcode() != 0:
                return
            soas += sum(1 for r in message.answer if r.rdtype == dns.rdatatype.SOA)
            if first and query.question[0].rdtype == dns.rdatatype.IXFR and \
                    len(message.answer) == 1 and len(message.answer[0]) == 1:
                return                       # a single SOA: up to date
            first = False
            if soas >= 2 and query.question[0].rdtype == dns.rdatatype.AXFR:
                return
            if query.question[0].rdtype == dns.rdatatype.IXFR and soas >= 2 and \
                    message.answer and message.answer[-1].rdtype == dns.rdatatype.SOA and \
                    _ixfr_done(message, soas):
                return


def _ixfr_done(message, soas: int) -> bool:
    return (soas % 2 == 0 and soas >= 4) or (soas == 2 and len(message.answer) > 2)


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def records(messages: list[dns.message.Message]) -> list[tuple[str, str, str]]:
    out = []
    for message in messages:
        for rrset in message.answer:
            for rd in rrset:
                out.append((rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype),
                            rd.to_text().lower()))
    return out


def zone_records(text: str) -> list[tuple[str, str, str]]:
    zone = dns.zone.from_text(text, "example.com.", relativize=False)
    return sorted((name.to_text().lower(), dns.rdatatype.to_text(rds.rdtype),
                   rd.to_text().lower())
                  for name, node in zone.nodes.items() for rds in node for rd in rds)


# -- a primary -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def primary(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("primary")
    server = sqlite_server(workdir, {"primary": "yes", "allow-axfr-ips": "127.0.0.1"})
    util(server, "create-zone", "example.com")
    load(server, "example.com", zone_text(1), workdir / "example.zone")
    util(server, "set-kind", "example.com", "primary")
    big = zone_text(1, "\n".join(f"host{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
                                 for i in range(5000)))
    util(server, "create-zone", "big.example")
    load(server, "big.example", big.replace("example.com.", "big.example."), workdir / "big")
    util(server, "create-zone", "tsig.example")
    load(server, "tsig.example", zone_text(7).replace("example.com.", "tsig.example."),
         workdir / "tsig")
    util(server, "import-tsig-key", "xfr-key", "hmac-sha256", SECRET)
    util(server, "activate-tsig-key", "tsig.example", "xfr-key", "primary")
    util(server, "create-zone", "from.example")
    load(server, "from.example", zone_text(3).replace("example.com.", "from.example."),
         workdir / "from")
    util(server, "set-meta", "from.example", "ALLOW-AXFR-FROM", "127.0.0.2/32")
    with server.start():
        yield server


def test_axfr_carries_the_whole_zone_soa_first_and_last(primary):
    messages = axfr(primary)
    assert all(m.rcode() == 0 and m.flags & dns.flags.AA for m in messages)
    answer = [rrset for m in messages for rrset in m.answer]
    assert answer[0].rdtype == dns.rdatatype.SOA and answer[-1].rdtype == dns.rdatatype.SOA
    assert answer[0] == answer[-1]
    got = records(messages)
    assert sorted(got[:-1]) == zone_records(zone_text(1))


def test_a_big_zone_goes_in_many_compressed_messages(primary):
    messages = axfr(primary, "big.example")
    assert len(messages) > 3
    got = records(messages)
    assert len(got) == 5000 + len(zone_records(zone_text(1))) + 1
    assert all(len(m.to_wire()) < 65535 for m in messages)
    # compression: 5,000 A records under one name cost far less than their names in full
    assert sum(len(m.to_wire()) for m in messages) < 5000 * 40


def test_dig_and_kdig_read_the_axfr(primary):
    dig = subprocess.run(["dig", "+nocmd", "+nostats", "@127.0.0.1", "-p", str(primary.port),
                          "example.com", "AXFR"], capture_output=True, text=True, timeout=20)
    lines = [line for line in dig.stdout.splitlines() if line and not line.startswith(";")]
    assert len(lines) == len(zone_records(zone_text(1))) + 1
    assert "Transfer failed" not in dig.stdout


def test_axfr_refused_to_an_address_not_allowed(primary):
    messages = axfr(primary, source="127.0.0.3")
    assert [m.rcode() for m in messages] == [dns.rcode.NOTAUTH]
    assert "AXFR of domain 'example.com.' denied to 127.0.0.3" in primary.log()


def test_allow_axfr_from_metadata_adds_an_address_for_its_zone(primary):
    assert axfr(primary, "from.example", source="127.0.0.2")[0].rcode() == 0
    assert axfr(primary, "example.com", source="127.0.0.2")[0].rcode() == dns.rcode.NOTAUTH


def test_axfr_of_a_zone_not_served_is_notauth(primary):
    assert axfr(primary, "nothere.example")[0].rcode() == dns.rcode.NOTAUTH


def test_no_transfer_over_udp(primary):
    # as pdns_server 4.7: AXFR over UDP gets an empty NOERROR, IXFR over UDP REFUSED
    query = dns.message.make_query("example.com", "AXFR")
    response = dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    assert (response.rcode(), response.answer) == (dns.rcode.NOERROR, [])
    query = dns.message.make_query("example.com", "IXFR")
    response = dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    assert (response.rcode(), response.answer) == (dns.rcode.REFUSED, [])


def test_tsig_axfr_with_the_zone_s_key_is_signed_in_every_message(primary):
    keyring = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
    messages = axfr(primary, "tsig.example", keyring, "xfr-key.")
    assert messages and all(m.had_tsig for m in messages)
    assert messages[0].rcode() == 0
    assert records(messages)[0][1] == "SOA"


def test_tsig_transfer_policy_key_beats_address(primary):
    # tsig.example is transferable from 127.0.0.1 without a key (allow-axfr-ips) ...
    assert axfr(primary, "tsig.example")[0].rcode() == 0
    # ... but a request signed with a key not in its TSIG-ALLOW-AXFR is refused
    util(primary, "import-tsig-key", "other-key", "hmac-sha256", OTHER)
    keyring = dns.tsigkeyring.from_text({"other-key.": ("hmac-sha256", OTHER)})
    messages = wait_until(lambda: axfr(primary, "tsig.example", keyring, "other-key.")
                          if _known(primary, "other-key.") else None, timeout=15)
    assert messages[0].rcode() == dns.rcode.NOTAUTH


def _known(primary: Fastdns, name: str) -> bool:
    query = dns.message.make_query("example.com", "SOA")
    query.use_tsig(dns.tsigkeyring.from_text({name: ("hmac-sha256", OTHER)}), name)
    try:
        response = dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=2,
                                 ignore_unexpected=True)
    except (dns.tsig.PeerBadKey, dns.exception.DNSException):
        time.sleep(0.5)
        return False
    return response.rcode() == 0


def test_tsig_errors_badkey_badsig_badtime(primary):
    unknown = dns.tsigkeyring.from_text({"nobody.": ("hmac-sha256", SECRET)})
    query = dns.message.make_query("example.com", "SOA")
    query.use_tsig(unknown, "nobody.")
    with pytest.raises(dns.tsig.PeerBadKey):
        dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    wrong = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", OTHER)})
    query = dns.message.make_query("example.com", "SOA")
    query.use_tsig(wrong, "xfr-key.")
    with pytest.raises(dns.tsig.PeerBadSignature):
        dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    right = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
    query = dns.message.make_query("example.com", "SOA")
    query.use_tsig(right, "xfr-key.", fudge=10)
    wire = _signed_at(query, right, int(time.time()) - 3600)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(wire, ("127.0.0.1", primary.port))
        data = sock.recv(65535)
    response = dns.message.from_wire(data, keyring=False)
    assert response.rcode() == dns.rcode.NOTAUTH
    assert response.tsig[0].error == 18                  # BADTIME


def _signed_at(query: dns.message.Message, keyring, when: int) -> bytes:
    """``query`` signed as if at ``when`` (a client whose clock is off)."""
    import unittest.mock
    with unittest.mock.patch("time.time", return_value=float(when)):
        return query.to_wire()


def test_a_tsig_signed_query_gets_a_signed_answer(primary):
    right = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", SECRET)})
    query = dns.message.make_query("www.example.com", "A")
    query.use_tsig(right, "xfr-key.")
    response = dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    assert response.had_tsig and response.rcode() == 0
    assert [rr.rdtype for rr in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]


def their_soa(zone: str, serial: int) -> dns.rrset.RRset:
    """The SOA an IXFR request carries: the version the asker has."""
    return dns.rrset.from_text(zone, 0, "IN", "SOA",
                               f"ns1.{zone} h.{zone} {serial} 7200 900 1209600 300")


def test_ixfr_from_the_current_serial_is_one_soa(primary):
    query = dns.message.make_query("example.com", "IXFR")
    query.authority.append(their_soa("example.com.", 1))
    messages = list(_xfr_messages(primary.port, query, "127.0.0.1"))
    assert [r.rdtype for m in messages for r in m.answer] == [dns.rdatatype.SOA]


def test_ixfr_from_an_unknown_serial_is_the_whole_zone(primary):
    query = dns.message.make_query("big.example", "IXFR")
    query.authority.append(their_soa("big.example.", 0))
    assert len(records(list(_xfr_messages(primary.port, query, "127.0.0.1")))) == \
        5000 + len(zone_records(zone_text(1))) + 1


def test_ixfr_out_sends_the_difference_between_versions(primary, tmp_path):
    axfr(primary, "example.com")                    # version 1 is one the primary has sent
    load(primary, "example.com", zone_text(2, "new IN A 192.0.2.200").replace(
        "txt     IN TXT \"hello world\" \"two strings\"\n", ""), tmp_path / "v2")
    wait_until(lambda: primary.query("new.example.com", "A").answer, timeout=10)
    query = dns.message.make_query("example.com", "IXFR")
    query.authority.append(their_soa("example.com.", 1))
    messages = list(_xfr_messages(primary.port, query, "127.0.0.1"))
    answer = [r for m in messages for r in m.answer]
    assert [(r.rdtype, r[0].serial if r.rdtype == dns.rdatatype.SOA else None)
            for r in answer] == [(6, 2), (6, 1), (16, None), (6, 2), (1, None), (6, 2)]
    assert answer[2].name.to_text() == "txt.example.com."
    assert answer[4].name.to_text() == "new.example.com."
    assert "IXFR of domain 'example.com.' (serial 2)" in primary.log()


# -- secondaries -----------------------------------------------------------------------------

@pytest.fixture()
def pair(tmp_path):
    """A primary (SQLite) sending NOTIFY to a secondary (SQLite), both fastdns."""
    secondary = sqlite_server(tmp_path / "secondary", {"secondary": "yes"})
    primary = sqlite_server(tmp_path / "primary", {
        "primary": "yes", "also-notify": f"127.0.0.1:{secondary.port}"})
    util(primary, "create-zone", "example.com")
    load(primary, "example.com", zone_text(10), tmp_path / "z1")
    util(primary, "set-kind", "example.com", "primary")
    util(secondary, "create-secondary-zone", "example.com", f"127.0.0.1:{primary.port}")
    with primary.start(), secondary.start():
        yield primary, secondary


def serial(server: Fastdns, zone: str = "example.com") -> int | None:
    try:
        response = server.query(zone, "SOA")
    except Exception:
        return None
    if response.rcode() != 0 or not response.answer:
        return None
    return response.answer[0][0].serial


def test_a_new_secondary_transfers_its_zone_and_follows_notify(pair, tmp_path):
    primary, secondary = pair
    assert wait_until(lambda: serial(secondary) == 10, timeout=20)
    assert sorted(records(axfr(secondary))[:-1]) == sorted(records(axfr(primary))[:-1])
    load(primary, "example.com", zone_text(11, "added IN TXT \"by notify\""), tmp_path / "z2")
    assert wait_until(lambda: serial(secondary) == 11, timeout=15)
    assert secondary.query("added.example.com", "TXT").answer
    log = secondary.log()
    assert "received NOTIFY for 'example.com.' from 127.0.0.1" in log
    assert "secondary zone 'example.com.': IXFR from" in log
    assert "NOTIFY for 'example.com.' to 127.0.0.1:" in primary.log()
    # stored in the secondary's database, as pdnsutil would show it
    listed = util(secondary, "list-zone", "example.com").stdout
    assert "added.example.com\t3600\tIN\tTXT\t\"by notify\"" in listed
    # the primary recorded the serial it notified, as PowerDNS does
    import sqlite3
    with sqlite3.connect(primary.settings["gsqlite3-database"]) as db:
        assert wait_until(lambda: db.execute("SELECT notified_serial FROM domains WHERE "
                                             "name = 'example.com'").fetchone()[0] == 11,
                          timeout=10)


def test_notify_from_an_address_that_is_not_a_primary_is_refused(pair):
    _, secondary = pair
    query = dns.message.make_query("example.com", "SOA")
    query.flags = dns.flags.AA
    query.set_opcode(dns.opcode.NOTIFY)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.9", 0))
        sock.settimeout(3)
        sock.sendto(query.to_wire(), ("127.0.0.1", secondary.port))
        response = dns.message.from_wire(sock.recv(65535))
    assert response.opcode() == dns.opcode.NOTIFY
    assert response.rcode() == dns.rcode.REFUSED
    assert "NOTIFY refused, not from one of the zone's primaries: 'example.com.' from " \
        "127.0.0.9" in secondary.log()


def test_notify_for_a_zone_that_is_not_secondary_is_refused(pair):
    primary, _ = pair
    query = dns.message.make_query("example.com", "SOA")
    query.flags = dns.flags.AA
    query.set_opcode(dns.opcode.NOTIFY)
    response = dns.query.udp(query, "127.0.0.1", port=primary.port, timeout=3)
    assert response.rcode() == dns.rcode.REFUSED


def test_retrieve_and_notify_over_the_control_socket(pair):
    primary, secondary = pair
    assert wait_until(lambda: serial(secondary) == 10, timeout=20)
    out = control(secondary, "retrieve", "example.com").stdout.strip()
    assert out == f"Added retrieval request for 'example.com' from primary 127.0.0.1:{primary.port}"
    assert wait_until(lambda: secondary.log().count("secondary zone 'example.com.': AXFR")
                      >= 2, timeout=15)
    assert control(secondary, "retrieve", "nothere.example").stdout.strip() == \
        "Zone 'nothere.example.' unknown"
    assert control(primary, "notify", "example.com").stdout.strip() == "Added to queue"
    assert control(primary, "notify", "nothere.example").stdout.strip() == \
        "Failed to add to the queue - see log"
    assert control(primary, "notify-host", "example.com", "bad").stdout.strip() == \
        "Unable to convert 'bad' to an IP address"
    assert control(primary, "notify-host", "example.com",
                   f"127.0.0.1:{secondary.port}").stdout.strip() == "Added to queue"
    assert control(primary, "notify").stdout.strip() == "syntax: notify zone"


def test_a_bind_zone_file_secondary(tmp_path, pair):
    primary, _ = pair
    etc = tmp_path / "bind"
    etc.mkdir()
    (etc / "named.conf").write_text(
        f'zone "example.com" {{ type slave; file "{etc}/example.com.zone"; '
        f'masters {{ 127.0.0.1 port {primary.port}; }}; }};\n')
    secondary = Fastdns(tmp_path / "bind-secondary", {
        "launch": "bind", "bind-config": str(etc / "named.conf"), "secondary": "yes",
        "bind-check-interval": "1"})
    secondary.settings["loglevel"] = "6"
    with secondary.start():
        assert wait_until(lambda: serial(secondary) == 10, timeout=30)
        text = (etc / "example.com.zone").read_text()
        assert sorted(records(axfr(secondary))[:-1]) == sorted(records(axfr(primary))[:-1])
        assert "mail.example.com." in text.lower()
        assert not list(etc.glob("*.fastdns-xfr-*"))


# -- autosecondary -----------------------------------------------------------------------------

def test_autosecondary_creates_the_zone_on_notify_from_a_listed_primary(tmp_path, pair):
    primary, _ = pair
    auto = sqlite_server(tmp_path / "auto", {"secondary": "yes", "autosecondary": "yes"})
    util(auto, "add-autoprimary", "127.0.0.1", "ns1.example.com")
    with auto.start():
        assert control(primary, "notify-host", "example.com",
                       f"127.0.0.1:{auto.port}").stdout.strip() == "Added to queue"
        assert wait_until(lambda: "autosecondary: created zone 'example.com.' as a "
                          "secondary of 127.0.0.1" in auto.log(), timeout=15), auto.log()
        assert "example.com" in util(auto, "-v", "list-all-zones", "secondary").stdout
        # its primary is the NOTIFY's source address on port 53, as PowerDNS records it;
        # this primary listens elsewhere: fetch from there
        assert control(auto, "retrieve", "example.com",
                       f"127.0.0.1:{primary.port}").returncode == 0
        assert wait_until(lambda: serial(auto) == 10, timeout=30), auto.log()


# -- transfers that go wrong -------------------------------------------------------------------

class BadPrimary:
    """A primary of the test's own: answers SOA with ``serial`` over UDP, and a transfer
    request over TCP with what ``script(query)`` returns (a list of raw messages, None to
    stall)."""

    def __init__(self, serial: int, script, port: int | None = None) -> None:
        self.port = port or free_port()
        self.serial = serial
        self.script = script
        self.stop_event = threading.Event()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        self.tcp.settimeout(0.2)
        self.transfers = 0
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for thread in self.threads:
            thread.start()

    def soa(self, serial: int | None = None) -> dns.rrset.RRset:
        return dns.rrset.from_text("example.com.", 3600, "IN", "SOA",
                                   f"ns1.example.com. h.example.com. {serial or self.serial} "
                                   "7200 900 1209600 300")

    def _serve_udp(self) -> None:
        while not self.stop_event.is_set():
            try:
                data, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if query.question[0].rdtype == dns.rdatatype.SOA:
                response.answer.append(self.soa())
            self.udp.sendto(response.to_wire(), peer)

    def _serve_tcp(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    length = struct.unpack("!H", _recv(conn, 2))[0]
                    query = dns.message.from_wire(_recv(conn, length))
                    self.transfers += 1
                    answers = self.script(self, query)
                    if answers is None:
                        self.stop_event.wait(30)
                        continue
                    for wire in answers:
                        conn.sendall(wire)
                except (OSError, struct.error, dns.exception.DNSException):
                    pass

    def close(self) -> None:
        if self.stop_event.is_set():
            return
        self.stop_event.set()
        for thread in self.threads:
            thread.join(2)
        self.udp.close()
        self.tcp.close()

    def message(self, query, rrsets) -> bytes:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.answer = rrsets
        wire = response.to_wire()
        return struct.pack("!H", len(wire)) + wire


def _good_zone(primary: BadPrimary, query, serial: int):
    soa = primary.soa(serial)
    a = dns.rrset.from_text("www.example.com.", 3600, "IN", "A", "192.0.2.1")
    return [primary.message(query, [soa, a, soa])]


SCRIPTS = {
    "garbage": lambda p, q: [b"\x00\x10" + b"\xff" * 16],
    "truncated": lambda p, q: [p.message(q, [p.soa(), dns.rrset.from_text(
        "www.example.com.", 3600, "IN", "A", "192.0.2.66")])[:-3]],
    "no closing SOA": lambda p, q: [p.message(q, [p.soa(), dns.rrset.from_text(
        "www.example.com.", 3600, "IN", "A", "192.0.2.66")])],
    "wrong zone": lambda p, q: [p.message(q, [dns.rrset.from_text(
        "other.example.", 3600, "IN", "SOA", "ns h 99 1 1 1 1")])],
    "too many records": lambda p, q: [p.message(q, [p.soa()] + [dns.rrset.from_text(
        f"h{i}.example.com.", 60, "IN", "A", "192.0.2.1") for i in range(300)] + [p.soa()])],
    "stalls": lambda p, q: None,
    "IXFR cut short": lambda p, q: [p.message(q, [p.soa(6), p.soa(5), dns.rrset.from_text(
        "www.example.com.", 3600, "IN", "A", "192.0.2.1"), p.soa(6)])],
    "IXFR deleting what is not there": lambda p, q: [p.message(q, [
        p.soa(6), p.soa(5), dns.rrset.from_text("nothere.example.com.", 3600, "IN", "A",
                                                "192.0.2.9"),
        p.soa(6), p.soa(6)])],
    "refused": lambda p, q: [p.message(q, [])[:5] + bytes([(p.message(q, [])[5] & 0xF0) | 5])
                             + p.message(q, [])[6:]],
}


@pytest.mark.parametrize("case", sorted(SCRIPTS))
def test_a_bad_transfer_leaves_the_old_zone_served(tmp_path, case):
    good = BadPrimary(5, lambda p, q: _good_zone(p, q, 5))
    secondary = sqlite_server(tmp_path / "secondary", {
        "secondary": "yes", "axfr-fetch-timeout": "2", "xfr-max-received-records": "200"})
    util(secondary, "create-secondary-zone", "example.com", f"127.0.0.1:{good.port}")
    try:
        with secondary.start():
            assert wait_until(lambda: serial(secondary) == 5, timeout=20)
            good.serial = 6
            good.script = lambda p, q: SCRIPTS[case](p, q)
            assert control(secondary, "retrieve", "example.com").returncode == 0
            assert wait_until(lambda: "backed off" in secondary.log(), timeout=20), \
                secondary.log()
            # the old zone keeps being served, the server keeps answering
            assert serial(secondary) == 5
            assert secondary.query("www.example.com", "A").answer[0][0].address == "192.0.2.1"
            assert secondary.query("nothing.example.com", "A").rcode() == dns.rcode.NXDOMAIN
            assert "Traceback" not in secondary.log()
    finally:
        good.close()


def test_a_notify_flood_is_bounded_and_the_server_keeps_answering(pair):
    _, secondary = pair
    assert wait_until(lambda: serial(secondary) == 10, timeout=20)
    query = dns.message.make_query("example.com", "SOA")
    query.flags = dns.flags.AA
    query.set_opcode(dns.opcode.NOTIFY)
    wire = query.to_wire()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.7", 0))
        for _ in range(5000):
            sock.sendto(wire, ("127.0.0.1", secondary.port))
    # the answers to ordinary queries go on (once the kernel's buffer, which the flood
    # filled, has room again); NOTIFY beyond the hand-off rate is dropped
    def answered() -> bool:
        try:
            return secondary.query("example.com", "SOA", timeout=0.5).rcode() == 0
        except dns.exception.Timeout:
            return False
    assert wait_until(answered, timeout=5)
    # a flood costs a log line per 10 s
    line = "NOTIFY refused, not from one of the zone's primaries"
    assert wait_until(lambda: line in secondary.log(), timeout=5)
    time.sleep(1)
    assert secondary.log().count(line) == 1
    assert secondary.query("www.example.com", "A").answer


# -- the Lua AXFR filter -------------------------------------------------------------------------

LUA_FILTER = """\
function axfrfilter(remoteip, zone, record)
    if record:qtype() == pdns.TXT then
        return 0, {}                                   -- drop every TXT
    end
    if record:qname():toString():lower() == "mail.example.com." and record:qtype() == pdns.A then
        return 1, {{qname="mail2.example.com.", qtype=pdns.A, ttl=60,
                    content="192.0.2.26"}}             -- keep it, and add one
    end
    return -1, {}
end
"""


def test_a_lua_axfr_script_filters_what_is_stored(pair, tmp_path):
    primary, _ = pair
    script = tmp_path / "filter.lua"
    script.write_text(LUA_FILTER)
    filtered = sqlite_server(tmp_path / "filtered", {"secondary": "yes"})
    util(filtered, "create-secondary-zone", "example.com", f"127.0.0.1:{primary.port}")
    util(filtered, "set-meta", "example.com", "LUA-AXFR-SCRIPT", str(script))
    with filtered.start():
        assert wait_until(lambda: serial(filtered) == 10, timeout=20), filtered.log()
        assert filtered.query("txt.example.com", "TXT").answer == []
        assert filtered.query("mail.example.com", "A").answer[0][0].address == "192.0.2.25"
        assert filtered.query("mail2.example.com", "A").answer[0][0].address == "192.0.2.26"
        # a script that fails leaves the zone as it was
        script.write_text("function axfrfilter(r, z, rec) error('refused by policy') end\n")
        assert control(filtered, "retrieve", "example.com").returncode == 0
        assert wait_until(lambda: "refused by policy" in filtered.log(), timeout=15)
        assert filtered.query("mail2.example.com", "A").answer


# -- outgoing-axfr-expand-alias ------------------------------------------------------------------

def test_outgoing_axfr_expand_alias(tmp_path):
    from tests.integration.helpers import ZoneTree, start_server
    from tests.integration.helpers import zone_text as small_zone
    targets = ZoneTree(tmp_path / "targets")
    targets.add("target.example", small_zone("target.example", """\
        www IN A 192.0.2.80
        www IN AAAA 2001:db8::80
        """))
    aliased = ZoneTree(tmp_path / "aliased")
    aliased.add("alias.example", small_zone("alias.example", """\
        @ IN ALIAS www.target.example.
        """))
    with start_server(tmp_path / "resolver", targets) as resolver:
        expanding = start_server(tmp_path / "expanding", aliased, {
            "outgoing-axfr-expand-alias": "yes", "resolver": f"127.0.0.1:{resolver.port}"})
        verbatim = start_server(tmp_path / "verbatim", aliased)
        with expanding, verbatim:
            got = records(axfr(expanding, "alias.example"))
            assert ("alias.example.", "A", "192.0.2.80") in got
            assert ("alias.example.", "AAAA", "2001:db8::80") in got
            assert not [r for r in got if r[1] in ("TYPE65401", "ALIAS")]
            # without the setting the ALIAS goes out as it is, as from PowerDNS
            plain = records(axfr(verbatim, "alias.example"))
            assert [r for r in plain if r[1] == "TYPE65401"]
            assert not [r for r in plain if r[0] == "alias.example." and r[1] == "A"]


# -- SOA expire ----------------------------------------------------------------------------------

def test_a_secondary_zone_expires_and_comes_back(tmp_path):
    """No primary answers for longer than the SOA expire: SERVFAIL (RFC 1035 §3.3.13), and
    the zone is served again once a primary answers."""
    def short_expire(p, q):
        soa = dns.rrset.from_text("example.com.", 3600, "IN", "SOA",
                                  "ns1.example.com. h.example.com. 5 2 1 6 300")
        a = dns.rrset.from_text("www.example.com.", 3600, "IN", "A", "192.0.2.1")
        return [p.message(q, [soa, a, soa])]
    primary = BadPrimary(5, short_expire)
    primary.soa = lambda serial=None: dns.rrset.from_text(   # type: ignore[method-assign]
        "example.com.", 3600, "IN", "SOA", "ns1.example.com. h.example.com. 5 2 1 6 300")
    secondary = sqlite_server(tmp_path / "secondary", {"secondary": "yes",
                                                       "axfr-fetch-timeout": "1"})
    util(secondary, "create-secondary-zone", "example.com", f"127.0.0.1:{primary.port}")
    try:
        with secondary.start():
            assert wait_until(lambda: serial(secondary) == 5, timeout=20)
            primary.close()                                   # the primary goes away
            assert wait_until(lambda: secondary.query("www.example.com", "A").rcode()
                              == dns.rcode.SERVFAIL, timeout=30), secondary.log()
            assert "longer than its SOA expire (6 s); answered SERVFAIL" in secondary.log()
            back = BadPrimary(5, short_expire, port=primary.port)   # it comes back
            try:
                back.soa = primary.soa                        # type: ignore[method-assign]
                assert control(secondary, "retrieve", "example.com").returncode == 0
                assert wait_until(lambda: secondary.query("www.example.com", "A").rcode()
                                  == dns.rcode.NOERROR, timeout=30), secondary.log()
                assert "a primary answered again; served again" in secondary.log()
            finally:
                back.close()
    finally:
        primary.close()


# -- a signing secondary -------------------------------------------------------------------------

def test_a_secondary_zone_with_keys_is_signed_online(pair):
    """The "signing secondary" of PowerDNS: the records come by transfer, the RRSIGs from
    the secondary's own keys, and a later transfer is signed as well."""
    primary, secondary = pair
    assert wait_until(lambda: serial(secondary) == 10, timeout=20)
    util(secondary, "secure-zone", "example.com")
    keys = util(secondary, "export-zone-dnskey", "example.com", "1").stdout.strip()

    def signed(name: str) -> list:
        query = dns.message.make_query(name, "A", want_dnssec=True)
        response = dns.query.udp(query, "127.0.0.1", port=secondary.port, timeout=3)
        return [r for r in response.answer if r.rdtype == dns.rdatatype.RRSIG]
    assert wait_until(lambda: signed("mail.example.com"), timeout=15), secondary.log()
    dnskey = dns.message.make_query("example.com", "DNSKEY", want_dnssec=True)
    response = dns.query.udp(dnskey, "127.0.0.1", port=secondary.port, timeout=3)
    key_rrset = response.find_rrset(response.answer, dns.name.from_text("example.com."),
                                    dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    assert keys.split()[-1] in key_rrset.to_text().replace(" ", "")
    query = dns.message.make_query("mail.example.com", "A", want_dnssec=True)
    response = dns.query.udp(query, "127.0.0.1", port=secondary.port, timeout=3)
    dns.dnssec.validate(response.answer[0], response.answer[1],
                        {dns.name.from_text("example.com."): key_rrset})
    # a change on the primary arrives by IXFR and is signed too
    load(primary, "example.com", zone_text(11, "late IN A 192.0.2.111"),
         secondary.workdir / "z-late")
    assert wait_until(lambda: signed("late.example.com"), timeout=20), secondary.log()

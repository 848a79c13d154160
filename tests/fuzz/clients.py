"""Clients that talk to a live server the way the fuzz tests need: a paced UDP blaster that
counts what comes back, a one-by-one UDP exchanger that knows exactly which responses a
packet drew, and raw TCP helpers."""

import collections
import select
import socket
import struct
import time
from dataclasses import dataclass

import dns.message

from tests.fuzz.packets import expects_response

_LEN = struct.Struct("!H")


@dataclass(slots=True)
class BlastResult:
    sent: int = 0
    #: packets that promise a response (a readable header and QR=0)
    expected: int = 0
    received: int = 0
    #: responses whose ID is that of the oldest query still waiting (they come in order)
    in_order: int = 0
    #: responses shorter than a header or with QR=0
    malformed: int = 0
    #: ICMP errors seen (the port closed: the server went away)
    refused: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        return (f"sent {self.sent} packets in {self.seconds:.1f}s ({rate:.0f}/s); "
                f"{self.expected} promise a response, {self.received} responses received "
                f"({self.in_order} in order), {self.malformed} malformed, "
                f"{self.refused} ICMP errors")


def blast(address: tuple[str, int], packets: list[bytes], window: int = 64,
          stall: float = 0.3) -> BlastResult:
    """Send every packet, keeping at most ``window`` responses outstanding so that neither
    socket buffer overflows, and count the responses. A response that does not come within
    ``stall`` seconds of the last one is given up on."""
    result = BlastResult()
    waiting: collections.deque[bytes] = collections.deque()
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        sock.connect(address)
        sock.setblocking(False)
        i = 0
        last_progress = time.monotonic()
        while True:
            while i < len(packets) and len(waiting) < window:
                packet = packets[i]
                try:
                    sock.send(packet)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    result.refused += 1
                    continue
                i += 1
                if expects_response(packet):
                    result.expected += 1
                    waiting.append(packet[:2])
            if i == len(packets) and not waiting:
                break
            select.select([sock], [], [], 0.01)
            progress = False
            while True:
                try:
                    data = sock.recv(65535)
                except BlockingIOError:
                    break
                except ConnectionRefusedError:
                    result.refused += 1
                    continue
                progress = True
                result.received += 1
                if len(data) < 12 or not data[2] & 0x80:
                    result.malformed += 1
                while waiting:
                    if waiting.popleft() == data[:2]:
                        result.in_order += 1
                        break
            now = time.monotonic()
            if progress:
                last_progress = now
            elif now - last_progress > stall:
                waiting.clear()
                last_progress = now
        result.sent = i
    result.seconds = time.monotonic() - start
    return result


class Exchanger:
    """Sends one packet at a time and returns every response it drew.

    Each packet is followed by a marker query of its own; the server answers a client's
    datagrams in order, so whatever arrives before the marker's response belongs to the
    packet, and a packet that draws nothing costs no timeout.
    """

    def __init__(self, address: tuple[str, int], timeout: float = 2.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(address)
        self.timeout = timeout
        self.count = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Exchanger":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def exchange(self, packet: bytes, late: bool = False) -> list[bytes] | None:
        """The responses to ``packet``; None if the marker went unanswered (a hang). A
        ``late`` packet is answered by the manager (a NOTIFY, a query signed with TSIG),
        after the marker the worker answers at once: its response is waited for past the
        marker, up to the timeout."""
        self.count += 1
        marker = dns.message.make_query(f"m{self.count}.fuzz-marker.invalid", "A",
                                        id=self.count & 0xFFFF).to_wire()
        marker_id, marker_question = marker[:2], marker[12:]
        try:
            self.sock.send(packet)
            self.sock.send(marker)
        except ConnectionRefusedError:      # the port is closed: the server is gone
            return None
        responses: list[bytes] = []
        deadline = time.monotonic() + self.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            if data[:2] == marker_id and data[12:12 + len(marker_question)] == marker_question:
                if late and not any(r[:2] == packet[:2] for r in responses):
                    late = False
                    marker_id = b"--"                 # now wait for the packet's own
                    continue
                return responses
            responses.append(data)
            if marker_id == b"--" and data[:2] == packet[:2]:
                return responses


# -- TCP ---------------------------------------------------------------------------------

def frame(message: bytes) -> bytes:
    return _LEN.pack(len(message)) + message


def tcp_connect(address: tuple[str, int], timeout: float = 2.0) -> socket.socket:
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_exact(sock: socket.socket, n: int) -> bytes | None:
    """``n`` octets, or None if the connection ends (closed or reset) first."""
    data = bytearray()
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_message(sock: socket.socket) -> bytes | None:
    """One length-prefixed message, or None if the connection ends first."""
    prefix = read_exact(sock, 2)
    if prefix is None:
        return None
    return read_exact(sock, _LEN.unpack(prefix)[0])


def closed_by_peer(sock: socket.socket, timeout: float = 2.0) -> bool:
    """Does the server close (or reset) the connection within ``timeout``, sending nothing
    more? Data that does arrive first makes it False."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65535) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False

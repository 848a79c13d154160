"""Messages between fastdns processes: declared types, one dispatch table per process.

Each message is a frozen dataclass registered by its class name. On the wire it is one JSON
object per SOCK_SEQPACKET datagram (``{"t": "Reload", "request": 3}``), with file
descriptors beside it (SCM_RIGHTS) when the type declares ``FDS``. The channels are
socketpairs the master makes before it forks a child; messages stay small (zone data
travels in memfds, see ``fastdns.zone.bundle``; counters in shared rows).

A process reads its channel with :class:`Channel.attach`, giving a table from message type
to handler; a message of a type the table does not hold is logged once and its descriptors
closed, so an old child and a new master never wedge each other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, ClassVar, TypeVar, dataclass_transform

from fastdns.log import log

MAX_MESSAGE = 65536
MAX_FDS = 16

_TYPES: dict[str, type[Message]] = {}


class MessageError(ValueError):
    """A datagram that is not a message of a declared type."""


class Message:
    """The base of every message type (each declared with :func:`message`). ``FDS`` is how
    many descriptors travel with it."""

    __slots__ = ()
    FDS: ClassVar[int] = 0

    def encode(self) -> bytes:
        fields = {f.name: getattr(self, f.name)
                  for f in dataclasses.fields(self)}          # type: ignore[arg-type]
        data = json.dumps({"t": type(self).__name__, **fields}, separators=(",", ":")).encode()
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"{type(self).__name__} of {len(data)} octets is too long")
        return data


T = TypeVar("T", bound=type)


@dataclass_transform(frozen_default=True)
def message(cls: T) -> T:
    """Declare a message type: a frozen dataclass, known by its class name."""
    declared: Any = dataclasses.dataclass(frozen=True, slots=True)(cls)
    _TYPES[declared.__name__] = declared
    return declared


def decode(data: bytes) -> Message:
    """The message ``data`` holds; MessageError when it holds none of a declared type."""
    try:
        fields = json.loads(data)
        cls = _TYPES[fields.pop("t")]
        return cls(**fields)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MessageError(f"not a message: {exc!r}") from None


# -- the messages ---------------------------------------------------------------------------
# child -> master

@message
class Booted(Message):
    """A child is up (a worker: its sockets are read; the manager: its zones are loaded)."""

    zones: int = 0


@message
class Applied(Message):
    """A worker serves the zones of index ``index``."""

    index: int


@message
class WantZone(Message):
    """A query waits for a zone the index has as pending (worker -> master -> manager):
    load it ahead of the others. ``wire``: its apex in wire form, hex."""

    wire: str


@message
class Handoff(Message):
    """A query the manager answers: a zone transfer, a NOTIFY, a query signed with TSIG
    (worker -> master -> manager), with its socket. Over UDP ``address`` is the client's
    raw sockaddr (hex) and the socket the one the query came in on (the manager answers
    from it); over TCP the socket is the connection, which is the manager's from then on,
    ``rest`` what the worker had read after the query and ``peer`` "address|port"."""

    FDS: ClassVar[int] = 1
    packet: str
    address: str
    tcp: bool = False
    rest: str = ""
    peer: str = ""


@message
class Command(Message):
    """A control command the manager runs (``notify``, ``notify-host``, ``retrieve``):
    reply ``CommandDone`` with the text for the control socket."""

    request: int
    words: list[str]


@message
class CommandDone(Message):
    """The reply to ``Command`` or ``Control`` number ``request``."""

    request: int
    text: str


@message
class Control(Message):
    """The manager's HTTP API asks the master to run a control command (``purge``):
    the master replies ``CommandDone`` with the command's reply text."""

    request: int
    words: list[str]


@message
class Reloaded(Message):
    """The manager finished reload ``request`` (0: its own periodic check)."""

    request: int
    loaded: int = 0
    removed: int = 0
    failed: int = 0
    absent: int = 0
    skipped: int = 0
    zones: int = 0


@message
class Replied(Message):
    """The answer to ``Purge`` or ``Ping`` number ``request``."""

    request: int
    count: int = 0


# master -> child, and the manager's bundles to the master

@message
class ZoneBundle(Message):
    """A sealed memfd of zone images, numbered ``bundle`` by the manager (manager ->
    master -> workers); an index names it."""

    FDS: ClassVar[int] = 1
    bundle: int


@message
class NewIndex(Message):
    """A sealed memfd holding the manager's zone index number ``index`` (manager -> master
    -> workers; a worker replies ``Applied``). Cached answers to drop: those of the zones
    ``purge`` numbers (hex of packed zone ids), those at and below the apexes ``below``
    (hex wire names: zones new or gone, whose names another zone answered for), or all of
    them (``full``). ``retired`` bundles hold no zone the index serves."""

    FDS: ClassVar[int] = 1
    index: int
    purge: str = ""
    below: list[str] = field(default_factory=list)
    full: bool = False
    retired: list[int] = field(default_factory=list)
    #: zones listed, and how many are still pending
    zones: int = 0
    pending: int = 0
    #: apexes (hex wire names) of zones signed online just loaded: signed ahead
    signed: list[str] = field(default_factory=list)


@message
class SignerLink(Message):
    """A signer's end of the link to a worker slot added since it started (master ->
    signer): a datagram socket its requests come on."""

    FDS: ClassVar[int] = 1
    worker: int


@message
class Reload(Message):
    """Look for changed, new and removed zones now; reply ``Reloaded``."""

    request: int


@message
class Purge(Message):
    """Drop packet-cache entries: all (``wire`` None), one name, or a name and below."""

    request: int
    wire: str | None = None          # the name in wire form, hex
    below: bool = False


@message
class Ping(Message):
    """Reply ``Replied`` from the event loop (``rping``)."""

    request: int


@message
class Configure(Message):
    """Reloadable settings changed (HUP, ``set``): their new texts by PowerDNS name."""

    settings: dict[str, str]


# -- channels -------------------------------------------------------------------------------

#: a handler gets the message and the descriptors that came with it (it owns them)
Handler = Callable[[Any, list[int]], None]


def channel() -> tuple[socket.socket, socket.socket]:
    """A connected pair: (the master's end, the child's end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


class Channel:
    """One end of a channel between two processes."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._unknown: set[str] = set()

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def send(self, message: Message, fds: tuple[int, ...] = ()) -> None:
        """Send one message; raises OSError (BlockingIOError when the peer does not read)."""
        if len(fds) != message.FDS:
            raise ValueError(f"{type(message).__name__} travels with {message.FDS} "
                             f"descriptors, not {len(fds)}")
        data = message.encode()
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.send(data)

    def recv(self) -> tuple[Message, list[int]] | None:
        """The next message and its descriptors; None when the peer has gone. Raises
        MessageError (descriptors closed) for a datagram that is no message, and
        BlockingIOError when there is nothing to read on a non-blocking channel."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, MAX_FDS)
        if not data:
            _close_all(fds)
            return None
        try:
            message = decode(data)
        except MessageError:
            _close_all(fds)
            raise
        if len(fds) != message.FDS:
            _close_all(fds)
            raise MessageError(f"{type(message).__name__} came with {len(fds)} descriptors")
        return message, fds

    def attach(self, loop: asyncio.AbstractEventLoop, table: Mapping[type, Handler],
               on_closed: Callable[[], None]) -> None:
        """Read the channel from ``loop``: each message goes to ``table[type(message)]``;
        ``on_closed`` is called once when the peer has gone."""
        self.sock.setblocking(False)

        def readable() -> None:
            while True:
                try:
                    received = self.recv()
                except (BlockingIOError, InterruptedError):
                    return
                except MessageError as exc:
                    log.error("channel: %s; dropped", exc)
                    continue
                except OSError:
                    received = None
                if received is None:
                    loop.remove_reader(self.sock.fileno())
                    on_closed()
                    return
                message, fds = received
                handler = table.get(type(message))
                if handler is None:
                    _close_all(fds)
                    name = type(message).__name__
                    if name not in self._unknown:
                        self._unknown.add(name)
                        log.error("channel: no handler for %s here; dropped", name)
                    continue
                handler(message, fds)

        loop.add_reader(self.sock.fileno(), readable)

    def detach(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_reader(self.sock.fileno())


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass

"""Master files as records of text, the way PowerDNS's tools store them (``pdnsutil
load-zone``, ``zone2sql``): the server's reader (fastdns.zone._masterfile), with the data
kept as text.

PowerDNS's tools store a record's data as its reader leaves it: the rest of the line after
the type, comments and one pair of parentheses removed, continuation lines joined by one
space, and only the names of NS, CNAME, DNAME, PTR, MX, SRV, RP, AFSDB and SOA made
absolute (with the SOA's times in seconds). ``2001:DB8:0::1`` stays as written, an unquoted
TXT word stays unquoted. fastdns-util stores exactly that, so that a database loaded by
either tool is the same row for row.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastdns.zone._masterfile import Parser, ZoneFileError
from fastdns.zone._rdata import RdataError, name_from_str
from fastdns.zone._rdtypes import type_code, type_name
from fastdns.zone._sinks import RecordList
from fastdns.zone._zonetext import name_text

__all__ = ["BATCH", "ZoneFileError", "ZoneReader", "check_name", "labels_text", "pdns_type",
           "type_code", "type_name"]

#: records read between two hand-overs to the caller
BATCH = 10_000


class ZoneReader:
    """Records of a master file, as ``(owner, type, ttl, content, comment)`` tuples.

    ``owner`` is absolute without the trailing dot and keeps its case (the database layer
    lowercases it); ``type`` is PowerDNS's name of the type; ``content`` is what
    PowerDNS's tools store; ``comment`` is the text from the first ``;`` of the record's
    line (for ``zone2sql --json-comments``), else "". ``origin`` is the zone name; "" means
    unknown until a ``$ORIGIN`` (``origin`` then says the current one). Records outside the
    zone are given too (the tools say what PowerDNS's say of them). A file that cannot be
    read raises ZoneFileError (``file:line: why``); the file is read in batches, so that a
    million-record zone never sits in memory as Python objects.
    """

    def __init__(self, path: str, origin: str, *, reldir: str = "", text: str | None = None,
                 max_generate_steps: int = 0, max_include_depth: int = 20,
                 comments: bool = False) -> None:
        self._path = path
        self._reldir = reldir
        self._known = bool(origin)
        self._sink = RecordList(comments)
        self._parser = Parser(self._sink, _wire(origin or "."), allow_include=text is None,
                              open_include=self._include, max_generate_steps=max_generate_steps,
                              max_include_depth=max_include_depth, zone_only=False)
        if text is not None:
            data = text.encode("utf-8", "surrogateescape")
        else:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError as exc:
                raise ZoneFileError(f"{path}: cannot read the zone file: {exc.strerror}") \
                    from None
        self._parser.start(data, path)

    def _include(self, name: str) -> tuple[bytes, str]:
        path = name if name.startswith("/") or not self._reldir else f"{self._reldir}/{name}"
        with open(path, "rb") as handle:
            return handle.read(), path

    @property
    def origin(self) -> str:
        """The current ``$ORIGIN`` without its trailing dot ("" while none is known)."""
        if not self._known and not self._parser.origin_set:
            return ""
        return _text(self._parser.current_origin)

    def position(self) -> int:
        """Octets of the main file read so far (for a progress report)."""
        return int(self._parser.position)

    def __iter__(self) -> Iterator[tuple[str, str, int, str, str]]:
        records = self._sink.records
        names: dict[bytes, str] = {}
        more = True
        while more:
            more = self._parser.run(BATCH)
            for owner, rdtype, ttl, content, _file, _line, comment in records:
                text = names.get(owner)
                if text is None:
                    if len(names) > BATCH:
                        names.clear()
                    text = names[owner] = _text(owner)
                yield (text, type_name(rdtype), ttl,
                       content.decode("utf-8", "surrogateescape"),
                       comment.decode("utf-8", "surrogateescape"))
            records.clear()


def _wire(name: str) -> bytes:
    try:
        return name_from_str(name if name.endswith(".") else name + ".")
    except RdataError as exc:
        raise ZoneFileError(f"bad zone name '{name}': {exc}") from None


def _text(wire: bytes) -> str:
    text = name_text(wire)
    return text[:-1] if len(text) > 1 else text


def labels_text(labels: list[bytes]) -> str:
    """A name's non-empty labels as PowerDNS writes the name: escaped, dot-separated, no
    trailing dot, "." for the root."""
    if not labels:
        return "."
    return _text(b"".join(bytes([len(label)]) + label for label in labels) + b"\0")


def check_name(text: str) -> None:
    """Raise ValueError if ``text`` is not a well-formed name in presentation form."""
    try:
        name_from_str(text if text.endswith(".") else text + ".")
    except RdataError as exc:
        raise ValueError(f"bad name '{text}': {exc}") from None


def pdns_type(text: str) -> str | None:
    """The type as PowerDNS names it (``a`` → ``A``, ``TYPE1`` → ``A``), or None if
    PowerDNS does not know it."""
    try:
        return type_name(type_code(text))
    except RdataError:
        return None


def image_records(image: bytes) -> Iterator[tuple[bytes, int, int, bytes]]:
    """``(owner, type, ttl, rdata)`` of every record of a zone image, wire forms, in
    canonical order: what the server serves (fastdns-util lists BIND zones with it)."""
    from fastdns._snapshot import Snapshot

    snapshot = Snapshot(image)
    for index in range(len(snapshot)):
        owner = snapshot.node(index)[0]
        for rdtype, ttl, rdatas, _targets in snapshot.node_rrsets(index):
            for rdata in rdatas:
                yield owner, rdtype, ttl, rdata

"""Master file → zone image, without a Python object per record.

``load_image(path, origin, directory)`` gives the bytes that
``compile_zone(read_zone_file(path, origin, directory))`` gives after ``check_zone``, with
the same warnings and the same ZoneError for a broken file, about a hundred times faster:

- fastdns.zone._masterfile reads the statements into a flat record store
  (fastdns.zone._imagebuild); each statement it does not read exactly as dnspython would
  (another type, ``$GENERATE``, generic rdata, anything malformed) goes to
  ``zonefile.read_statement``, which reads it with dnspython from the reader state at that
  point, so that errors carry dnspython's message and line;
- the store sorts and groups the records; ``check_zone`` sees the RRsets of the apex and
  of every node that might break one of its rules, in file order;
- the store packs the image, as compile.py would.

A file that is not UTF-8 (or a text with carriage returns) is read by the reference path,
dnspython end to end.
"""

import ctypes
import ctypes.util
import os
from dataclasses import dataclass, field

import dns.name

from fastdns.zone import check, image
from fastdns.zone._imagebuild import RecordStore
from fastdns.zone._masterfile import Parser
from fastdns.zone.check import ZoneError, check_zone
from fastdns.zone.compile import compile_zone
from fastdns.zone.model import RRset, ZoneData
from fastdns.zone.zonefile import ReaderState, read_statement, read_zone_file, read_zone_text


@dataclass(slots=True)
class CompiledZone:
    image: bytes
    #: problems that do not stop the zone from being served
    warnings: list[str] = field(default_factory=list)
    #: the files read, the master file first (their identity is the zone's change token)
    files: list[str] = field(default_factory=list)
    #: statements the fast reader handed to dnspython (None: dnspython read everything)
    fallbacks: int | None = None


class _Whole(Exception):
    """The file is dnspython's to read, end to end."""


def load_image(path: str, origin: str, directory: str | None = None) -> CompiledZone:
    """The image of the zone ``origin`` in the master file ``path``; ``$INCLUDE`` is
    relative to ``directory``. Raises ZoneError("file:line: what")."""
    try:
        # the file's text goes to _load alone, which drops it once it is parsed
        return _load(_read_bytes(path), path, origin, directory, True)
    except _Whole:
        zone = read_zone_file(path, origin, directory)
        return _reference(zone, _sources(zone, directory))
    finally:
        release_memory()


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ZoneError(f"{path}: cannot read the zone file: {exc.strerror}") from None


def load_image_text(text: str, origin: str, source: str = "<text>") -> CompiledZone:
    """As ``load_image`` for master-file ``text`` (as ``read_zone_text``: no ``$INCLUDE``)."""
    try:
        if "\r" in text:
            raise _Whole      # StringIO does not translate newlines: the tokenizer's rules
        return _load(text.encode("utf-8"), source, origin, None, False, translate=False)
    except (_Whole, UnicodeEncodeError):
        return _reference(read_zone_text(text, origin, source), [])


def _load(data: bytes, path: str, origin: str, directory: str | None, allow_include: bool,
          translate: bool = True) -> CompiledZone:
    text = _as_text(data, translate)
    del data
    if text is None:
        raise _Whole
    origin_wire = dns.name.from_text(origin).to_wire() or b""
    reader = _Reader(RecordStore(origin_wire), origin_wire, path, directory, allow_include)
    try:
        try:
            reader.parser.parse(text, 0)
        finally:
            fallbacks = reader.parser.fallbacks
            del reader.parser     # it holds reader's methods: no cycle keeps the store alive
        del text
        store = reader.store
        zone = ZoneData(origin_wire, [], source=path)
        for _, owner, rdtype, ttl, rdatas, file, line in sorted(
                store.prepare(check._NOT_DATA, check._CNAME_NEIGHBOURS)):
            zone.rrsets.append(RRset(owner, rdtype, ttl, rdatas, f"{store.files[file]}:{line}"))
        check_zone(zone)
        image_bytes = store.pack(image.MAGIC, image.VERSION)
    except ValueError as exc:     # the store's limits: 4 GiB of rdata, of owner names
        raise ZoneError(f"{path}: {exc}") from None
    return CompiledZone(image_bytes, zone.warnings, reader.paths, fallbacks)


class _Reader:
    """The parser and the two things it asks Python for: dnspython, and included files."""

    def __init__(self, store: RecordStore, origin: bytes, path: str, directory: str | None,
                 allow_include: bool) -> None:
        self.store = store
        self.origin = origin
        self.directory = directory
        self.allow_include = allow_include
        #: the files read, as opened
        self.paths = [path]
        self._file_ids = {path: 0}
        store.files.append(path)
        self.parser = Parser(store, origin, allow_include, self.fallback, self.include)

    def file_id(self, name: str) -> int:
        """The number of the file ``name`` (as messages name it) in the store."""
        number = self._file_ids.get(name)
        if number is None:
            number = self._file_ids[name] = len(self.store.files)
            self.store.files.append(name)
            path = os.path.join(self.directory or "", name)
            if path not in self.paths:
                self.paths.append(path)
        return number

    def fallback(self, snippet: bytes, file: int, line: int, state: ReaderState,
                 error: bool) -> ReaderState:
        records, state = read_statement(snippet.decode("utf-8"), self.store.files[file], line,
                                        self.origin, state, self.directory, self.allow_include)
        if error:
            # dnspython read what the fast tokenizer found broken: they disagree, and the
            # reference decides
            raise _Whole
        for owner, rdtype, ttl, rdata, source, at in records:
            if len(rdata) > check.MAX_RDATA:
                raise _Whole      # check_zone refuses it, in its own order of checks
            self.store.add(owner, rdtype, ttl, rdata, self.file_id(source), at)
        return state

    def include(self, name: str) -> tuple[bytes, int] | None:
        """The text of an ``$INCLUDE``d file and its number; None leaves the statement to
        dnspython (which reports why the file cannot be read)."""
        try:
            with open(os.path.join(self.directory or "", name), "rb") as handle:
                data = _as_text(handle.read(), True)
        except OSError:
            return None
        if data is None:
            return None
        return data, self.file_id(name)


def _as_text(data: bytes, translate: bool) -> bytes | None:
    """``data`` as dnspython's tokenizer sees a file opened as UTF-8 text (universal
    newlines); None if it is not UTF-8."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if translate and b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _reference(zone: ZoneData, files: list[str]) -> CompiledZone:
    check_zone(zone)
    return CompiledZone(compile_zone(zone), zone.warnings, files)


def _sources(zone: ZoneData, directory: str | None) -> list[str]:
    """The files that records of ``zone`` came from, the master file first."""
    files = [zone.source]
    for rrset in zone.rrsets:
        source = rrset.where.rpartition(":")[0]
        if source and source != zone.source:
            source = os.path.join(directory or "", source)
            if source not in files:
                files.append(source)
    return files


_libc: ctypes.CDLL | None = None


def release_memory() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``): the parse
    frees hundreds of megabytes that would otherwise stay in the manager's heap."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)

"""Zone data → a checked zone image: the one way in (DESIGN §4).

Zone files and SQL rows go through the same reader of record data (fastdns.zone._rdata),
into the same compiler (fastdns.zone._imagebuild.RecordStore), under the same rules
(fastdns.zone.check), with no Python object per record:

    load_image(path, origin, directory, options)     a master file (the bind backend)
    load_image_text(text, origin, source, options)   master-file text (tests, tools)
    compile_rows(origin, fill, source, options)      SQL rows (the SQL backends)

and the same reader gives fastdns-util the records as text (fastdns.zone.records).
"""

import ctypes
import ctypes.util
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastdns.zone._imagebuild import RecordStore
from fastdns.zone._masterfile import Parser, ZoneFileError
from fastdns.zone._rdata import RdataError, name_from_str
from fastdns.zone._sinks import StoreSink
from fastdns.zone.check import CNAME_NEIGHBOURS, FIRST_ONLY, NoSOAError, ZoneError, check_zone
from fastdns.zone.model import RRset, ZoneData


@dataclass(frozen=True, slots=True)
class ZoneOptions:
    """How zone data is read: PowerDNS's settings of these names."""

    #: bind-ignore-broken-records: a record that cannot be read is left out with a warning
    #: (a zone file's; SQL rows are always left out so) instead of refusing the zone
    ignore_broken: bool = False
    #: max-generate-steps (0: no limit)
    max_generate_steps: int = 0
    #: svc-autohints: fill in ``ipv4hint=auto``/``ipv6hint=auto`` (else they are dropped)
    autohints: bool = False
    #: keep a zone file's NSEC, NSEC3 and NSEC3PARAM records (a presigned zone serves
    #: them; PowerDNS's bind backend skips them otherwise, and so does fastdns)
    keep_denial: bool = False

    @classmethod
    def from_config(cls, config: Any, ignore_broken: bool = False) -> "ZoneOptions":
        """The options of a server configuration (fastdns.config's Config)."""
        def get(name: str, default: Any) -> Any:
            return config[name] if name in config else default
        return cls(ignore_broken=ignore_broken,
                   max_generate_steps=int(get("max-generate-steps", 0) or 0),
                   autohints=bool(get("svc-autohints", False)))


DEFAULT_OPTIONS = ZoneOptions()


@dataclass(slots=True)
class CompiledZone:
    image: bytes
    #: problems that do not stop the zone from being served, one line each
    warnings: list[str] = field(default_factory=list)
    #: the files read, the master file first (their identity is the zone's change token)
    files: list[str] = field(default_factory=list)
    #: records read, and how many of them were broken and left out
    records: int = 0
    skipped: int = 0


def load_image(path: str, origin: str, directory: str | None = None,
               options: ZoneOptions = DEFAULT_OPTIONS) -> CompiledZone:
    """The image of the zone ``origin`` in the master file ``path``; a relative
    ``$INCLUDE`` is relative to ``directory`` (named.conf's). Raises
    ZoneError("file:line: what")."""
    includes = _Includes(directory)
    try:
        # the text goes to the parser alone, which lets it go once it is read
        return _load(_read(path), path, origin, options, includes)
    finally:
        release_memory()


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ZoneError(f"{path}: cannot read the zone file: {exc.strerror}") from None


def load_image_text(text: str, origin: str, source: str = "<text>",
                    options: ZoneOptions = DEFAULT_OPTIONS) -> CompiledZone:
    """As ``load_image`` for master-file ``text`` (``$INCLUDE`` refused)."""
    return _load(text.encode("utf-8", "surrogateescape"), source, origin, options, None)


def compile_rows(origin: str, fill: Callable[[StoreSink, list[str]], tuple[int, int]],
                 source: str, options: ZoneOptions = DEFAULT_OPTIONS) -> CompiledZone:
    """The image of the zone ``origin`` from SQL rows: ``fill(sink, warnings)`` adds them
    (fastdns.zone._rows) and returns (rows read, rows left out)."""
    rows = RowsZone(origin, source, options)
    try:
        try:
            records, skipped = fill(rows.sink, rows.warnings)
        except ValueError as exc:     # the store's limits
            raise rows.broken(exc) from None
        return rows.finish(records, skipped)
    finally:
        release_memory()


class RowsZone:
    """One zone being compiled from SQL rows: a reader adds them to ``sink`` (with its
    warnings to ``warnings``), then ``finish`` checks and packs the image. What
    compile_rows does for one zone, for a reader of many zones in one scan (the gsql
    backends' load_many), which calls release_memory() itself, once."""

    __slots__ = ("apex", "sink", "source", "store", "warnings")

    def __init__(self, origin: str, source: str, options: ZoneOptions = DEFAULT_OPTIONS
                 ) -> None:
        self.apex = _apex(origin)
        self.store = RecordStore(self.apex, options.autohints)
        self.store.files.append("records.id=")
        self.sink = StoreSink(self.store, self.apex)
        self.warnings: list[str] = []
        self.source = source

    def broken(self, exc: ValueError) -> ZoneError:
        """The error of a zone whose rows broke one of the store's limits as they were
        added."""
        return ZoneError(f"{self.source}: {exc}")

    def finish(self, records: int, skipped: int) -> CompiledZone:
        """The checked image (ZoneError, NoSOAError for a zone that cannot be served)."""
        warnings = self.warnings
        listed = sum(line.endswith("record skipped") for line in warnings)
        if skipped > listed:          # the readers list the first WARNINGS_LISTED
            warnings.append(f"{self.source}: {skipped - listed} more broken records "
                            "skipped, not listed")
        try:
            return _compile(self.store, self.sink, warnings, self.apex, self.source, [],
                            records, skipped)
        except NoSOAError:
            # an SOA row there is, but it cannot be read: PowerDNS lists the zone and
            # answers SERVFAIL for it (it is broken, not absent)
            broken = next((w for w in warnings if w.endswith("record skipped")
                           and ": bad SOA data " in w), None)
            if broken is None:
                raise
            raise ZoneError(f"{self.source}: the zone's SOA record cannot be read "
                            f"({broken.removesuffix('; record skipped')}); not served "
                            "(SERVFAIL)") from None


def _apex(origin: str) -> bytes:
    try:
        return name_from_str(origin if origin.endswith(".") else origin + ".")
    except RdataError as exc:
        raise ZoneError(f"bad zone name '{origin}': {exc}") from None


def _load(data: bytes, path: str, origin: str, options: ZoneOptions,
          includes: "_Includes | None") -> CompiledZone:
    apex = _apex(origin)
    store = RecordStore(apex, options.autohints)
    sink = StoreSink(store, apex, zone_file=not options.keep_denial)
    parser = Parser(sink, apex, allow_include=includes is not None, open_include=includes,
                    ignore_broken=options.ignore_broken,
                    max_generate_steps=options.max_generate_steps)
    try:
        parser.parse(data, path)
    except ZoneFileError as exc:
        raise ZoneError(str(exc)) from None
    except ValueError as exc:     # the store's limits: 4 GiB of rdata or owner names, files
        raise ZoneError(f"{path}: {exc}") from None
    finally:
        store.files.extend(f"{name}:" for name in parser.files)
    del data
    files = [path, *(includes.paths if includes is not None else [])]
    warnings = list(parser.warnings)
    if parser.unlisted:
        warnings.append(f"{path}: {parser.unlisted} more warnings like these, not listed")
    return _compile(store, sink, warnings, apex, path, files, parser.records, parser.skipped)


def _compile(store: RecordStore, sink: StoreSink, warnings: list[str], apex: bytes,
             source: str, files: list[str], records: int, skipped: int) -> CompiledZone:
    if sink.lua:
        warnings.append(f"{source}: {sink.lua} LUA records not served (LUA records are "
                        "not supported; PowerDNS serves none with enable-lua-records=no)")
    if sink.denial:
        warnings.append(f"{source}: {sink.denial} NSEC, NSEC3 or NSEC3PARAM records not "
                        "served (from a zone file, PowerDNS serves none either)")
    try:
        suspects = store.prepare(CNAME_NEIGHBOURS, FIRST_ONLY)
        zone = ZoneData(apex, [RRset(owner, rdtype, ttl, rdatas,
                                     f"{store.files[file]}{line}")
                               for _, owner, rdtype, ttl, rdatas, file, line in
                               sorted(suspects)], source, warnings)
        check_zone(zone)
        image = store.pack()
    except ValueError as exc:     # the store's limits: 4 GiB of rdata, of owner names
        raise ZoneError(f"{source}: {exc}") from None
    return CompiledZone(image, zone.warnings, files, records, skipped)


class _Includes:
    """Opens the files a zone file ``$INCLUDE``s: relative to named.conf's directory (as
    PowerDNS's bind backend), and remembers them for the zone's change token."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.paths: list[str] = []

    def __call__(self, name: str) -> tuple[bytes, str]:
        path = os.path.join(self.directory or "", name)
        with open(path, "rb") as handle:
            data = handle.read()
        if path not in self.paths:
            self.paths.append(path)
        return data, name


_libc: ctypes.CDLL | None = None


def release_memory() -> None:
    """Give the heap's free pages back to the system (glibc ``malloc_trim``): a load frees
    hundreds of megabytes that would otherwise stay in the manager's heap."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    trim = getattr(_libc, "malloc_trim", None)
    if trim is not None:
        trim(0)

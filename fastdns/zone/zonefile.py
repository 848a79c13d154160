"""Read a BIND master file (RFC 1035 §5) into ZoneData with dnspython's parser.

``$ORIGIN``, ``$TTL``, ``$INCLUDE`` and ``$GENERATE`` are dnspython's; every record keeps
the ``file:line`` where it was written, so that zone checks name the line. A relative
``$INCLUDE`` resolves against the BIND ``directory`` (as BIND and PowerDNS do): dnspython
opens include files relative to the working directory, so the read runs inside that
directory, one read at a time.

This is the reference reader. The bind backend loads through fastdns.zone.loader, which
reads the common statements in C and hands every other one to ``read_statement`` here.
"""

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from typing import TextIO, TypeAlias

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.tokenizer
import dns.zonefile

from fastdns.zone.check import ZoneError
from fastdns.zone.model import RRset, ZoneData

_cwd_lock = threading.Lock()

#: dns.zonefile.Reader's state between two statements: current origin, last owner (wire
#: form, case kept), last_ttl, last_ttl_known, default_ttl, default_ttl_known and
#: default_ttl_from_soa
ReaderState: TypeAlias = tuple[bytes, bytes, int, bool, int, bool, bool]
#: one record as read: owner, rdtype, ttl, rdata (wire forms), file and line
Record: TypeAlias = tuple[bytes, int, int, bytes, str, int]


class _RecordError(Exception):
    """A record that cannot be read, with the line where the record starts.

    dnspython names the tokenizer's position, which is the next line when the record's
    rdata was read up to its end of line before it failed.
    """

    def __init__(self, where: tuple[str, int], detail: str) -> None:
        super().__init__(f"{where[0]}:{where[1]}: {detail}")


class _Reader(dns.zonefile.Reader):
    """dnspython's reader, noting the line where each record starts."""

    collector: "_Collector"

    def _rr_line(self) -> None:
        self.collector.where = self.tok.where()
        try:
            super()._rr_line()
        except (dns.exception.DNSException, ValueError) as exc:
            raise _RecordError(self.collector.where, str(exc) or type(exc).__name__) from None

    def _generate_line(self) -> None:
        self.collector.where = self.tok.where()
        try:
            super()._generate_line()
        except (dns.exception.DNSException, ValueError) as exc:
            raise _RecordError(self.collector.where, str(exc) or type(exc).__name__) from None

    def _eat_line(self) -> None:
        # dnspython calls this only to skip a record whose owner lies outside the zone.
        # PowerDNS (bind-ignore-broken-records=no) refuses such a zone, and so do we.
        raise dns.exception.SyntaxError(
            f"'{self.last_name}' is outside the zone '{self.zone_origin}'")


class _Collector:
    """The part of a dnspython transaction that the zone file reader uses.

    A full ``dns.transaction.Transaction`` would copy an rdataset on every added record;
    this keeps plain lists, in file order, with the line of each RRset's first record.
    """

    def __init__(self, origin: dns.name.Name) -> None:
        self.origin = origin
        self.manager = self
        self.where: tuple[str, int] = ("", 0)
        self.rrsets: dict[tuple[dns.name.Name, int], RRset] = {}

    # the TransactionManager side
    def origin_information(self) -> tuple[dns.name.Name, bool, dns.name.Name]:
        return self.origin, False, self.origin

    def get_class(self) -> dns.rdataclass.RdataClass:
        return dns.rdataclass.IN

    # the Transaction side
    def check_put_rdataset(self, check: object) -> None:
        """Zone rules are checked by fastdns.zone.check, for every backend alike."""

    def _set_origin(self, origin: dns.name.Name) -> None:
        pass

    def add_unicode(self, value: str) -> None:
        pass

    def add(self, name: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata) -> None:
        key = (name, rdata.rdtype)
        wire = _wire_of(rdata)
        rrset = self.rrsets.get(key)
        if rrset is None:
            self.rrsets[key] = RRset(_wire_of(name), rdata.rdtype, ttl, [wire],
                                     f"{self.where[0]}:{self.where[1]}")
        else:
            # RFC 2181 §5.2: one TTL per RRset; the lowest is kept
            rrset.ttl = min(rrset.ttl, ttl)
            if wire not in rrset.rdatas:
                rrset.rdatas.append(wire)


class _Recorder(_Collector):
    """Every record, in the order read, with where it starts."""

    def __init__(self, origin: dns.name.Name) -> None:
        super().__init__(origin)
        self.records: list[Record] = []

    def add(self, name: dns.name.Name, ttl: int, rdata: dns.rdata.Rdata) -> None:
        self.records.append((_wire_of(name), rdata.rdtype, ttl, _wire_of(rdata), *self.where))


def _wire_of(thing: dns.name.Name | dns.rdata.Rdata) -> bytes:
    """Uncompressed wire form of a name or an rdata."""
    wire = thing.to_wire()
    assert wire is not None   # to_wire() without a file returns the octets
    return wire


@contextlib.contextmanager
def _in_directory(directory: str | None) -> Iterator[None]:
    if not directory:
        yield
        return
    with _cwd_lock:
        previous = os.getcwd()
        os.chdir(directory)
        try:
            yield
        finally:
            os.chdir(previous)


def read_zone_file(path: str, origin: str, directory: str | None = None) -> ZoneData:
    """Read the zone ``origin`` from ``path``; raise ZoneError("file:line: what")."""
    try:
        handle = open(path, encoding="utf-8")
    except OSError as exc:
        raise ZoneError(f"{path}: cannot read the zone file: {exc.strerror}") from None
    return _read(handle, path, origin, directory)


def read_zone_text(text: str, origin: str, source: str = "<text>") -> ZoneData:
    """Read the zone ``origin`` from master-file ``text`` (``$INCLUDE`` is refused)."""
    return _read(io.StringIO(text), source, origin, None, allow_include=False)


def _read(handle: TextIO, path: str, origin: str, directory: str | None,
          allow_include: bool = True) -> ZoneData:
    origin_name = dns.name.from_text(origin)
    collector = _Collector(origin_name)
    reader = None
    try:
        with handle, _in_directory(directory):
            tok = dns.tokenizer.Tokenizer(handle, path)
            reader = _Reader(tok, dns.rdataclass.IN, collector,  # type: ignore[arg-type]
                             allow_include=allow_include)
            reader.collector = collector
            reader.read()
    except (dns.exception.DNSException, _RecordError, OSError, UnicodeDecodeError,
            ValueError) as exc:
        raise _zone_error(exc, path, reader) from None
    return ZoneData(_wire_of(origin_name), list(collector.rrsets.values()), source=path)


def read_statement(text: str, source: str, line: int, origin: bytes, state: ReaderState,
                   directory: str | None = None,
                   allow_include: bool = True) -> tuple[list[Record], ReaderState]:
    """Read the statement ``text`` (line ``line`` of ``source``) of the zone ``origin``
    from the reader state before it, as ``read_zone_file`` would; its records and the
    state after it. Raises ZoneError as ``read_zone_file`` does.

    The fast reader (fastdns.zone._masterfile) hands over the statements it does not read
    itself: other types, ``$GENERATE``, generic rdata, errors.
    """
    origin_name = dns.name.from_wire(origin, 0)[0]
    recorder = _Recorder(origin_name)
    reader = None
    try:
        with _in_directory(directory):
            tok = dns.tokenizer.Tokenizer(io.StringIO(text), source)
            tok.line_number = line
            reader = _Reader(tok, dns.rdataclass.IN, recorder,  # type: ignore[arg-type]
                             allow_include=allow_include)
            reader.collector = recorder
            reader.current_origin = dns.name.from_wire(state[0], 0)[0]
            reader.last_name = dns.name.from_wire(state[1], 0)[0]
            (reader.last_ttl, reader.last_ttl_known, reader.default_ttl,
             reader.default_ttl_known, reader.default_ttl_from_soa) = state[2:]
            reader.read()
    except (dns.exception.DNSException, _RecordError, OSError, UnicodeDecodeError,
            ValueError) as exc:
        raise _zone_error(exc, source, reader) from None
    assert reader.current_origin is not None and reader.last_name is not None
    return recorder.records, (_wire_of(reader.current_origin), _wire_of(reader.last_name),
                              reader.last_ttl, reader.last_ttl_known, reader.default_ttl,
                              reader.default_ttl_known, reader.default_ttl_from_soa)


def _zone_error(exc: Exception, path: str, reader: _Reader | None) -> ZoneError:
    """The ZoneError for what reading raised: ``file:line: what``."""
    if isinstance(exc, dns.exception.SyntaxError | _RecordError):
        return ZoneError(str(exc))
    where = path
    if reader is not None:
        filename, line = reader.tok.where()
        where = f"{filename}:{line}"
    detail = exc.strerror if isinstance(exc, OSError) else (str(exc) or type(exc).__name__)
    return ZoneError(f"{where}: {detail}")

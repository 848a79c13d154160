"""Read a BIND master file (RFC 1035 §5) into ZoneData with dnspython's parser.

``$ORIGIN``, ``$TTL``, ``$INCLUDE`` and ``$GENERATE`` are dnspython's; every record keeps
the ``file:line`` where it was written, so that zone checks name the line. A relative
``$INCLUDE`` resolves against the BIND ``directory`` (as BIND and PowerDNS do): dnspython
opens include files relative to the working directory, so the read runs inside that
directory, one read at a time.
"""

import contextlib
import io
import os
import threading
from collections.abc import Iterator
from typing import TextIO

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.tokenizer
import dns.zonefile

from fastdns.zone.check import ZoneError
from fastdns.zone.model import RRset, ZoneData

_cwd_lock = threading.Lock()


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
    except (dns.exception.SyntaxError, _RecordError) as exc:
        raise ZoneError(str(exc)) from None
    except (dns.exception.DNSException, OSError, UnicodeDecodeError, ValueError) as exc:
        where = path
        if reader is not None:
            filename, line = reader.tok.where()
            where = f"{filename}:{line}"
        detail = exc.strerror if isinstance(exc, OSError) else (str(exc) or type(exc).__name__)
        raise ZoneError(f"{where}: {detail}") from None
    return ZoneData(_wire_of(origin_name), list(collector.rrsets.values()), source=path)

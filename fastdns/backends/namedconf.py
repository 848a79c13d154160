"""The subset of BIND's named.conf that the bind backend reads.

Statements understood (everything else is skipped, nested blocks included):

- ``options { directory "DIR"; also-notify [port N] { ADDR; ... }; ... };``
- ``zone "NAME" [IN] { type TYPE; file "FILE"; masters|primaries [port N] { ADDR; ... };
  also-notify [port N] { ADDR; ... }; ... };``
- ``masters|primaries NAME [port N] { ADDR; ... };`` named address lists, which a zone's
  ``masters`` may refer to by name (as in BIND).
- ``include "FILE";`` wherever a statement may stand.

ADDR is an IPv4 or IPv6 address, with ``port N`` after it (BIND) or ``:N`` / ``[v6]:N``
(PowerDNS).  Comments are ``//``, ``#`` and ``/* */``; strings are double-quoted and may
contain ``\\"``.

Paths: a relative ``directory`` resolves against the directory of the top named.conf; relative
zone files and relative ``include`` paths resolve against the ``directory`` in force when the
statement is read.  That is PowerDNS's bindbackend rule (its lexer joins an include path with
the current ``directory``, default ``.``) and BIND's (includes are relative to its working
directory, which ``directory`` sets); fastdns only replaces PowerDNS's default ``.`` (its cwd)
by the directory of named.conf.

Zone types: ``master``/``primary`` → primary, ``slave``/``secondary`` → secondary,
``native`` → native.  Others (hint, forward, stub...) are skipped with a warning, as PowerDNS
does.  Differences from PowerDNS, on purpose: a zone without ``type`` or ``file`` is an error
(PowerDNS assumes native, or skips the zone), and so is a zone declared twice (PowerDNS keeps
the last one).  Zones inside ``view`` statements are skipped with a warning.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import dns.exception
import dns.name

from fastdns.config.settings import SocketAddress, parse_address

__all__ = ["NamedConf", "NamedConfError", "NamedZone", "parse_named_conf"]

#: Include nesting limit (PowerDNS's lexer allows 10 levels too).
MAX_INCLUDE_DEPTH = 10
#: Brace nesting limit, so that a hostile file cannot exhaust the stack.
MAX_NESTING = 64

_KINDS = {
    "master": "primary",
    "primary": "primary",
    "slave": "secondary",
    "secondary": "secondary",
    "native": "native",
}


class NamedConfError(Exception):
    """A named.conf that cannot be used; ``str()`` is ``file:line: what is wrong``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class NamedZone:
    """One served zone of named.conf."""

    name: str  # absolute, lowercase, trailing dot: "example.com."
    kind: str  # "primary" | "secondary" | "native"
    file: str  # absolute path
    primaries: tuple[str, ...]  # "192.0.2.1", "192.0.2.1:5300", "[2001:db8::1]:5300"
    also_notify: tuple[str, ...]
    where: str  # "file:line" of the zone statement


@dataclass(frozen=True, slots=True)
class NamedConf:
    """What the bind backend needs from named.conf."""

    path: str
    directory: str
    also_notify: tuple[str, ...]
    zones: tuple[NamedZone, ...]
    #: skipped zones and statements, each "file:line: what"
    warnings: tuple[str, ...] = ()


def parse_named_conf(path: str) -> NamedConf:
    """Read ``path`` and the files it includes; raises :class:`NamedConfError`."""
    return _Reader(path).run()


# --------------------------------------------------------------------------------------------
# Lexing: one file's text → tokens


class _Token(NamedTuple):
    kind: str  # "word" | "string" | "{" | "}" | ";"
    text: str
    line: int


# Each match is one token and the whitespace and comments before it (group 1); an unclosed
# string or /* comment matches only as "bad" (group 5).
_SCAN = re.compile(
    r"""
    ((?:\s+|(?://|\#)[^\n]*|/\*.*?\*/)*)
    (?:
      ((?:[^\s"{};/\#]|/(?![/*]))+)   # 2: word
      |([{};])                        # 3: punctuation
      |("(?:[^"\\]|\\.)*")            # 4: string
      |(/\*|")                        # 5: bad
    )
    """,
    re.VERBOSE | re.DOTALL,
)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _lex(text: str, path: str) -> list[_Token]:
    tokens: list[_Token] = []
    append = tokens.append
    line = 1
    for skipped, word, punct, string, bad in _SCAN.findall(text):
        if "\n" in skipped:
            line += skipped.count("\n")
        if word:
            append(_Token("word", word, line))
        elif punct:
            append(_Token(punct, punct, line))
        elif string:
            body = string[1:-1]
            append(_Token("string", _UNESCAPE.sub(r"\1", body) if "\\" in body else body, line))
            line += body.count("\n")
        elif bad == '"':
            raise NamedConfError(f"{path}:{line}", "string is never closed")
        else:
            raise NamedConfError(f"{path}:{line}", "comment '/*' is never closed")
    return tokens


# --------------------------------------------------------------------------------------------
# Parsing: tokens → statements (items up to ';', blocks nested)


@dataclass(slots=True)
class _Block:
    statements: list[_Statement]
    line: int


@dataclass(slots=True)
class _Statement:
    items: list[_Token | _Block] = field(default_factory=list)
    path: str = ""
    line: int = 0

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def keyword(self) -> str:
        first = self.items[0]
        return first.text.lower() if isinstance(first, _Token) and first.kind == "word" else ""


def _parse(tokens: list[_Token], path: str) -> list[_Statement]:
    statements, pos = _parse_block(tokens, 0, path, None, 0)
    assert pos == len(tokens)
    return statements


def _parse_block(
    tokens: list[_Token], pos: int, path: str, opened: _Token | None, depth: int
) -> tuple[list[_Statement], int]:
    """Statements from ``pos`` up to the '}' closing ``opened`` (or the end of the file)."""
    if depth > MAX_NESTING:
        assert opened is not None
        raise NamedConfError(f"{path}:{opened.line}", "braces nested too deeply")
    statements: list[_Statement] = []
    current = _Statement(path=path)
    while pos < len(tokens):
        token = tokens[pos]
        if token.kind == "}":
            if opened is None:
                raise NamedConfError(f"{path}:{token.line}", "'}' without a matching '{'")
            if current.items:
                raise NamedConfError(current.where, "missing ';' at the end of this statement")
            return statements, pos + 1
        if not current.items:
            current.line = token.line
        if token.kind == "{":
            body, pos = _parse_block(tokens, pos + 1, path, token, depth + 1)
            current.items.append(_Block(body, token.line))
            continue
        if token.kind == ";":
            if current.items:
                statements.append(current)
                current = _Statement(path=path)
        else:
            current.items.append(token)
        pos += 1
    if opened is not None:
        raise NamedConfError(f"{path}:{opened.line}", "'{' is never closed")
    if current.items:
        raise NamedConfError(current.where, "missing ';' at the end of this statement")
    return statements, pos


# --------------------------------------------------------------------------------------------
# Interpreting statements


@dataclass(slots=True)
class _PendingZone:
    name: str
    kind: str
    file: str
    primaries: list[tuple[str, _Statement]]  # raw entries: address or list name
    primaries_port: int | None
    also_notify: tuple[str, ...]
    where: str


def _word(item: _Token | _Block) -> str | None:
    """The text of a word or string item, None for a block or punctuation."""
    if isinstance(item, _Token) and item.kind in ("word", "string"):
        return item.text
    return None


class _Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.top_dir = os.path.dirname(os.path.abspath(path))
        self.directory = self.top_dir
        self.also_notify: tuple[str, ...] = ()
        self.options_where: str | None = None
        self.zones: dict[str, _PendingZone] = {}
        self.lists: dict[str, tuple[list[tuple[str, _Statement]], int | None, str]] = {}
        self.warnings: list[str] = []
        self.stack: list[str] = []

    def run(self) -> NamedConf:
        for statement in self._read(self.path, None):
            self._top(statement)
        zones = tuple(self._finish(zone) for zone in self.zones.values())
        return NamedConf(
            path=self.path,
            directory=self.directory,
            also_notify=self.also_notify,
            zones=zones,
            warnings=tuple(self.warnings),
        )

    # -- files and includes ------------------------------------------------------------------

    def _read(self, path: str, included_at: _Statement | None) -> Iterator[_Statement]:
        where = included_at.where if included_at is not None else path
        real = os.path.realpath(path)
        if real in self.stack:
            raise NamedConfError(where, f"'{path}' includes itself")
        if len(self.stack) > MAX_INCLUDE_DEPTH:
            raise NamedConfError(where, "includes nested too deeply")
        try:
            with open(path, encoding="utf-8") as stream:
                text = stream.read()
        except OSError as err:
            raise NamedConfError(where, f"cannot read '{path}': {err.strerror}") from None
        except UnicodeDecodeError:
            raise NamedConfError(where, f"'{path}' is not valid UTF-8") from None
        statements = _parse(_lex(text, path), path)
        self.stack.append(real)
        try:
            yield from self._expand(statements)
        finally:
            self.stack.pop()

    def _expand(self, statements: list[_Statement]) -> Iterator[_Statement]:
        """The statements with every ``include "file";`` replaced by that file's statements."""
        for statement in statements:
            if statement.keyword() != "include":
                yield statement
                continue
            args = statement.items[1:]
            target = _word(args[0]) if len(args) == 1 else None
            if not target:
                raise NamedConfError(statement.where, 'expected include "FILE";')
            yield from self._read(os.path.join(self.directory, target), statement)

    # -- top level -----------------------------------------------------------------------------

    def _top(self, statement: _Statement) -> None:
        keyword = statement.keyword()
        if keyword == "options":
            self._options(statement)
        elif keyword == "zone":
            self._zone(statement)
        elif keyword in ("masters", "primaries") and len(statement.items) > 2:
            self._named_list(statement)
        elif keyword == "view":
            label = _word(statement.items[1]) if len(statement.items) > 1 else None
            self.warnings.append(
                f"{statement.where}: view '{label}' skipped; zones inside views are not served"
            )

    def _options(self, statement: _Statement) -> None:
        if self.options_where is not None:
            raise NamedConfError(
                statement.where, f"second options statement (the first is at {self.options_where})"
            )
        self.options_where = statement.where
        body = _body(statement, "options")
        for sub in self._expand(body.statements):
            keyword = sub.keyword()
            if keyword == "directory":
                value = _single_value(sub, "directory")
                self.directory = os.path.normpath(os.path.join(self.top_dir, value))
            elif keyword == "also-notify":
                self.also_notify = self._addresses(sub)

    def _named_list(self, statement: _Statement) -> None:
        name = _word(statement.items[1])
        if name is None:
            raise NamedConfError(statement.where, "expected a list name")
        entries, port = self._address_list(statement)
        self.lists[name] = (entries, port, statement.where)

    def _zone(self, statement: _Statement) -> None:
        items = statement.items
        name_text = _word(items[1]) if len(items) > 1 else None
        if name_text is None:
            raise NamedConfError(statement.where, "zone statement without a zone name")
        zclass = _word(items[2]) if len(items) > 2 else None
        block_at = 3 if zclass is not None else 2
        if len(items) <= block_at or not isinstance(items[block_at], _Block):
            raise NamedConfError(statement.where, f"zone '{name_text}' has no {{ ... }} body")
        if len(items) > block_at + 1:
            extra = _word(items[block_at + 1]) or "{"
            raise NamedConfError(
                statement.where,
                f"missing ';' after the body of zone '{name_text}' (found '{extra}')",
            )
        name = _zone_name(name_text, statement)
        if zclass is not None and zclass.lower() != "in":
            self.warnings.append(f"{statement.where}: zone '{name}' of class {zclass} skipped")
            return
        block = items[block_at]
        assert isinstance(block, _Block)
        zone = self._zone_body(name, block, statement)
        if zone is None:
            return
        first = self.zones.get(name)
        if first is not None:
            raise NamedConfError(
                statement.where, f"zone '{name}' is declared twice (first at {first.where})"
            )
        self.zones[name] = zone

    def _zone_body(self, name: str, block: _Block, statement: _Statement) -> _PendingZone | None:
        ztype: str | None = None
        zfile: str | None = None
        primaries: list[tuple[str, _Statement]] = []
        primaries_port: int | None = None
        also_notify: tuple[str, ...] = ()
        for sub in self._expand(block.statements):
            keyword = sub.keyword()
            if keyword == "type":
                ztype = _single_value(sub, "type").lower()
            elif keyword == "file":
                zfile = os.path.normpath(os.path.join(self.directory, _single_value(sub, "file")))
            elif keyword in ("masters", "primaries"):
                primaries, primaries_port = self._address_list(sub)
            elif keyword == "also-notify":
                also_notify = self._addresses(sub)
        if ztype is None:
            raise NamedConfError(statement.where, f"zone '{name}' has no type")
        kind = _KINDS.get(ztype)
        if kind is None:
            self.warnings.append(f"{statement.where}: zone '{name}' of type {ztype} skipped")
            return None
        if zfile is None:
            raise NamedConfError(statement.where, f"zone '{name}' has no file")
        if kind == "secondary" and not primaries:
            self.warnings.append(f"{statement.where}: secondary zone '{name}' has no primaries")
        return _PendingZone(
            name, kind, zfile, primaries, primaries_port, also_notify, statement.where
        )

    # -- address lists -------------------------------------------------------------------------

    def _address_list(
        self, statement: _Statement
    ) -> tuple[list[tuple[str, _Statement]], int | None]:
        """``KEYWORD [NAME] [port N] { entry; ... }`` → raw entries and the list's port."""
        items = statement.items
        keyword = statement.keyword()
        block = items[-1]
        if not isinstance(block, _Block):
            raise NamedConfError(statement.where, f"'{keyword}' needs a {{ ... }} list")
        head = [_word(item) for item in items[1:-1]]
        port: int | None = None
        if head[-2:-1] == ["port"]:
            port = _port(head[-1], statement)
            head = head[:-2]
        if len(head) > (1 if keyword != "also-notify" else 0) or None in head:
            raise NamedConfError(statement.where, f"unexpected words in '{keyword}'")
        entries: list[tuple[str, _Statement]] = []
        for sub in self._expand(block.statements):
            words = [_word(item) for item in sub.items]
            if None in words:
                raise NamedConfError(sub.where, f"unexpected block in '{keyword}' list")
            text = " ".join(word for word in words if word is not None)
            entries.append((text, sub))
        return entries, port

    def _addresses(self, statement: _Statement) -> tuple[str, ...]:
        entries, port = self._address_list(statement)
        return tuple(_address(text, sub, port) for text, sub in entries)

    def _finish(self, zone: _PendingZone) -> NamedZone:
        primaries: list[str] = []
        self._resolve(zone.primaries, zone.primaries_port, primaries, [])
        return NamedZone(
            name=zone.name,
            kind=zone.kind,
            file=zone.file,
            primaries=tuple(primaries),
            also_notify=zone.also_notify,
            where=zone.where,
        )

    def _resolve(
        self,
        entries: list[tuple[str, _Statement]],
        port: int | None,
        out: list[str],
        seen: list[str],
    ) -> None:
        for text, sub in entries:
            words = text.split()
            if len(words) == 1 and words[0] in self.lists:
                name = words[0]
                if name in seen:
                    raise NamedConfError(sub.where, f"primaries list '{name}' refers to itself")
                inner, inner_port, _where = self.lists[name]
                self._resolve(inner, inner_port or port, out, [*seen, name])
            else:
                out.append(_address(text, sub, port))


def _body(statement: _Statement, keyword: str) -> _Block:
    if len(statement.items) > 2 and isinstance(statement.items[1], _Block):
        raise NamedConfError(statement.where, f"missing ';' after {keyword} {{ ... }}")
    if len(statement.items) != 2 or not isinstance(statement.items[1], _Block):
        raise NamedConfError(statement.where, f"expected {keyword} {{ ... }};")
    return statement.items[1]


def _single_value(statement: _Statement, keyword: str) -> str:
    value = _word(statement.items[1]) if len(statement.items) == 2 else None
    if not value:
        raise NamedConfError(statement.where, f"'{keyword}' needs exactly one value")
    return value


def _port(text: str | None, statement: _Statement) -> int:
    if text is None or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise NamedConfError(statement.where, f"bad port '{text}'")
    return int(text)


def _address(text: str, statement: _Statement, default_port: int | None) -> str:
    """``ADDR``, ``ADDR port N``, ``ADDR:N`` or ``[ADDR]:N`` → normalised text."""
    words = text.split()
    port = default_port
    if len(words) == 3 and words[1] == "port":
        port = _port(words[2], statement)
    elif len(words) > 1 and words[1] == "key":
        raise NamedConfError(statement.where, "TSIG keys in address lists are not supported yet")
    elif len(words) != 1:
        raise NamedConfError(statement.where, f"bad address '{text}'")
    try:
        address = parse_address(words[0])
    except ValueError as err:
        raise NamedConfError(statement.where, str(err)) from None
    if address.port is None and port is not None:
        address = SocketAddress(address.host, port)
    return str(address)


_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
                         r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?")  # fmt: skip


def _zone_name(text: str, statement: _Statement) -> str:
    """The zone name in canonical text: lowercase, absolute."""
    if len(text) < 250 and _PLAIN_NAME.fullmatch(text):  # the usual case, without dnspython
        return text.lower() if text.endswith(".") else text.lower() + "."
    try:
        name = dns.name.from_text(text)
    except dns.exception.DNSException as err:
        raise NamedConfError(statement.where, f"bad zone name '{text}': {err}") from None
    return name.to_text().lower()

"""Master files read the way PowerDNS's own tools read them (``pdnsutil load-zone``, ``zone2sql``).

PowerDNS 4.7's tools do not store a record's data as they parsed it but as it was *written*:
the rest of the line after the type, with comments and one pair of parentheses removed,
continuation lines joined by one space, and only the domain names of a few types made
absolute (NS, CNAME, DNAME, PTR, MX, SRV, RP, AFSDB and the two names of an SOA, whose
time fields with units become seconds).  ``2001:DB8:0::1`` stays as written, an unquoted
TXT word stays unquoted.  fastdns-util writes the database exactly as they do, so that a
database loaded by either tool is the same row for row.  The rules, as PowerDNS applies them:

- a line starting with blank space belongs to the previous owner; ``@`` is the origin; an
  owner without a trailing dot is relative to the origin;
- ``$ORIGIN name`` (the name is absolute even without its trailing dot), ``$TTL``,
  ``$INCLUDE file`` (relative to ``reldir`` when given), ``$GENERATE start-stop[/step]``
  with ``$``, ``\\$`` and ``${offset,width,radix}``; any other ``$`` line is an error;
- the default TTL is 3600; without ``$TTL``, a record's explicit TTL becomes the default
  for the records after it; the class ``IN`` may stand anywhere before the type;
- a ``(`` in the data opens a group that ends at the next ``)``, on this line or a later one.

This reader is a fast path of plain string operations (no dnspython per record): about
1.2 µs a record, streaming, so that a million-record zone never sits in memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import dns.rdatatype

__all__ = ["TYPE_CODES", "ZoneFileError", "ZoneReader", "canonical_name", "labels_text",
           "type_name"]

#: PowerDNS's default TTL for records without one and no ``$TTL``
DEFAULT_TTL = 3600
#: nesting of ``$INCLUDE`` (PowerDNS's ``max-include-depth`` default)
MAX_INCLUDE_DEPTH = 20
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_TRIM = " \t\r\n\x1a"
_U32 = 0xFFFFFFFF

#: PowerDNS's own types beside the IANA ones dnspython knows
_PDNS_TYPES = {"ALIAS": 65401, "LUA": 65402}


def _type_tables() -> tuple[dict[str, str], dict[int, str]]:
    by_name: dict[str, str] = {}
    by_code: dict[int, str] = {}
    for rdtype in dns.rdatatype.RdataType:
        name = rdtype.name.replace("_", "-")
        if int(rdtype) == 0 or name.startswith("TYPE"):
            continue
        by_name[name] = name
        by_code[int(rdtype)] = name
    for name, code in _PDNS_TYPES.items():
        by_name[name] = name
        by_code[code] = name
    return by_name, by_code


#: type name (upper case) -> the name PowerDNS writes; ``TYPE65280`` is looked up apart
TYPE_NAMES, _CODE_NAMES = _type_tables()
#: type name -> code
TYPE_CODES = {name: code for code, name in _CODE_NAMES.items()}
_TYPE_N = re.compile(r"TYPE(\d{1,5})")


def type_name(text: str) -> str | None:
    """The type as PowerDNS names it (``a`` → ``A``, ``TYPE1`` → ``A``), or None if unknown."""
    up = text.upper()
    name = TYPE_NAMES.get(up)
    if name is not None:
        return name
    match = _TYPE_N.fullmatch(up)
    if match is None or int(match.group(1)) > 65535:
        return None
    code = int(match.group(1))
    return _CODE_NAMES.get(code, f"TYPE{code}")


class ZoneFileError(Exception):
    """A zone file that PowerDNS's tools refuse; the message says where, as they do."""


# --------------------------------------------------------------------------------------------
# names


def _parse_labels(text: str) -> list[bytes]:
    """The labels of a presentation-form name (escapes ``\\X`` and ``\\DDD``); ValueError."""
    labels: list[bytes] = []
    label = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i, n = 0, len(raw)
    if raw == b".":
        return []
    while i < n:
        c = raw[i]
        if c == 0x5C:  # backslash
            if i + 3 < n + 0 and raw[i + 1:i + 4].isdigit():
                value = int(raw[i + 1:i + 4])
                if value > 255:
                    raise ValueError(f"bad escape in '{text}'")
                label.append(value)
                i += 4
                continue
            if i + 1 >= n:
                raise ValueError(f"name '{text}' ends in a backslash")
            label.append(raw[i + 1])
            i += 2
            continue
        if c == 0x2E:  # dot
            if not label:
                raise ValueError(f"Found . in wrong position in DNSName {text}")
            labels.append(bytes(label))
            label = bytearray()
        else:
            label.append(c)
        i += 1
    if label:
        labels.append(bytes(label))
    for one in labels:
        if len(one) > 63:
            raise ValueError(f"label too long in '{text}'")
    if sum(len(one) + 1 for one in labels) + 1 > 255:
        raise ValueError(f"name too long: '{text}'")
    return labels


def _escape_label(label: bytes) -> str:
    out = []
    for c in label:
        if c in (0x2E, 0x5C):
            out.append("\\" + chr(c))
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\{c:03d}")
    return "".join(out)


def _absolute(text: str, origin: str) -> str:
    """``text`` made absolute against ``origin``: no trailing dot, "." for the root."""
    if text == "@":
        return origin or "."
    if text.endswith(".") and not text.endswith("\\."):
        body = text[:-1]
        if not body:
            return "."
    elif origin in (".", ""):
        body = text
    else:
        body = f"{text}.{origin}"
    if "\\" in body or ".." in body or body.startswith(".") or len(body) > 63:
        return _slow_name(body)
    return body


def _slow_name(body: str) -> str:
    return labels_text(_parse_labels(body))


def labels_text(labels: list[bytes]) -> str:
    """A name's non-empty labels as PowerDNS writes the name: escaped, dot-separated, no
    trailing dot, "." for the root."""
    return ".".join(_escape_label(label) for label in labels) if labels else "."


def canonical_name(text: str, origin: str) -> str:
    """A name as PowerDNS writes it after reading ``text`` in a zone whose origin is
    ``origin`` (both without trailing dot, "." for the root); ValueError if malformed."""
    return _absolute(text, origin)


def _chop_comment(text: str) -> str:
    """``text`` up to a ``;`` outside quotes (a backslash protects the next character)."""
    if ";" not in text:
        return text
    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ";" and not quoted:
            return text[:i]
        i += 1
    return text


def _elide(text: str, char: str) -> tuple[str, bool]:
    """``text`` without its first ``char`` outside quotes, and whether there was one."""
    if char not in text:
        return text, False
    if '"' not in text and "\\" not in text:
        i = text.index(char)
        return text[:i] + text[i + 1:], True
    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            return text[:i] + text[i + 1:], True
        i += 1
    return text, False


def _is_time(token: str) -> bool:
    if token.isdigit():
        return token.isascii()
    head = token[:-1]
    return bool(head) and head.isascii() and head.isdigit() and token[-1].lower() in _UNITS


@dataclass(slots=True)
class _File:
    handle: TextIO
    name: str
    lineno: int = 0


@dataclass(slots=True)
class _Template:
    parts: list[str]
    counter: int
    stop: int
    step: int


#: the types whose data :meth:`ZoneReader._canonical` rewrites
_CANONICAL_TYPES = frozenset({"NS", "CNAME", "DNAME", "PTR", "MX", "SRV", "SOA", "RP", "AFSDB"})
_GEN_SPEC = re.compile(r"\$\{([^}]*)\}|\\(.)|\$")


class ZoneReader:
    """Records of a master file, as ``(owner, type, ttl, content, comment)`` tuples.

    ``owner`` is absolute without the trailing dot and keeps its case (the database layer
    lowercases it); ``content`` is what PowerDNS's tools store; ``comment`` is the text from
    the first ``;`` of the record's line (for ``zone2sql --json-comments``), else "".
    ``origin`` is the zone name (no trailing dot); "" means unknown until a ``$ORIGIN``.
    Errors raise ZoneFileError with PowerDNS's wording and ``on line N of file 'F'``.
    """

    def __init__(self, path: str, origin: str, *, reldir: str = "", text: str | None = None,
                 max_generate_steps: int = 0, max_include_depth: int = MAX_INCLUDE_DEPTH
                 ) -> None:
        self.origin = _strip_dot(origin)
        self.reldir = reldir
        self.max_generate_steps = max_generate_steps
        self.max_include_depth = max_include_depth
        self.default_ttl = DEFAULT_TTL
        self.have_dollar_ttl = False
        self._stack: list[_File] = []
        self._template: _Template | None = None
        self._prev_owner: str | None = None
        if text is not None:
            import io
            self._stack.append(_File(io.StringIO(text), path))
        else:
            self._push(path)

    # -- input ---------------------------------------------------------------------------

    def _push(self, path: str) -> None:
        if len(self._stack) > self.max_include_depth:
            raise ZoneFileError(f"Too many nested includes {self.where()}")
        try:
            handle = open(path, encoding="utf-8", errors="surrogateescape", newline="\n")
        except OSError as exc:
            raise ZoneFileError(f"Unable to open file '{path}': {exc.strerror}") from None
        self._stack.append(_File(handle, path))

    def close(self) -> None:
        while self._stack:
            self._stack.pop().handle.close()

    def where(self) -> str:
        """``on line N of file 'F'`` for the line being read."""
        if not self._stack:
            return ""
        top = self._stack[-1]
        return f"on line {top.lineno} of file '{top.name}'"

    def position(self) -> int:
        """Bytes of the main file read so far (for a progress report)."""
        if not self._stack:
            return 0
        buffer = getattr(self._stack[0].handle, "buffer", None)
        try:
            return int(buffer.tell()) if buffer is not None else 0
        except (OSError, ValueError):
            return 0

    def location(self) -> tuple[str, int]:
        """(file, line) being read."""
        if not self._stack:
            return ("", 0)
        return (self._stack[-1].name, self._stack[-1].lineno)

    def _lines(self) -> Iterator[str]:
        stack = self._stack
        while stack:
            top = stack[-1]
            for line in top.handle:
                top.lineno += 1
                yield line
                if self._template is not None:
                    yield from self._generated()
                if stack[-1] is not top:
                    break  # an $INCLUDE was pushed: read it first
            else:
                top.handle.close()
                stack.pop()

    def _next_file_line(self) -> str | None:
        """The next line of the current file (for a group continued over lines)."""
        while self._stack:
            top = self._stack[-1]
            line = top.handle.readline()
            if line:
                top.lineno += 1
                return line
            top.handle.close()
            self._stack.pop()
        return None

    # -- records -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[str, str, int, str, str]]:
        try:
            yield from self._records()
        finally:
            self.close()

    def _records(self) -> Iterator[tuple[str, str, int, str, str]]:
        type_names = TYPE_NAMES
        trim = _TRIM
        canonical_types = _CANONICAL_TYPES
        last_text, last_origin, last_owner = "", "", ""
        for raw in self._lines():
            line = raw.rstrip(trim)
            if not line:
                continue
            first = line[0]
            if first == "$":
                self._directive(line)
                continue
            if first == " " or first == "\t":
                parts = line.split(None, 3)
                if not parts or parts[0][0] == ";":
                    continue
                if self._prev_owner is None:
                    raise ZoneFileError(f"Line with no owner name {self.where()}")
                owner = self._prev_owner
                start = 0
            else:
                if first == ";":
                    continue
                parts = line.split(None, 4)
                if parts[0] == last_text and self.origin == last_origin:
                    owner = last_owner   # the same owner as the line before, made again
                else:
                    try:
                        owner = _absolute(parts[0], self.origin)
                    except ValueError as exc:
                        raise ZoneFileError(f"{exc} {self.where()}") from None
                    last_text, last_origin, last_owner = parts[0], self.origin, owner
                self._prev_owner = owner
                start = 1
                if len(parts) == 1:
                    raise ZoneFileError(f"Line with too little parts {self.where()}")
            # the TTL, the class and the type, in any order before the data
            ttl = -1
            rtype = None
            index = start
            count = len(parts)
            last = start + 3 if count > start + 3 else count
            while index < last:
                token = parts[index]
                if ";" in token:
                    break
                up = token.upper()
                if up == "IN":
                    index += 1
                    continue
                if ttl < 0 and token[0] in "0123456789" and _is_time(token):
                    ttl = self._ttl(token)
                    index += 1
                    continue
                rtype = type_names.get(up) or type_name(up)
                if rtype is None:
                    raise ZoneFileError(f"Parsing zone content {self.where()}: '{token}' "
                                        "doesn't look like a qtype, stopping loop")
                break
            if rtype is None:
                content, rtype, ttl = self._odd_line(line, start)
            else:
                tail = parts[-1]
                if count == index + 2 and (len(tail) != 2 or tail.upper() != "IN"):
                    content = parts[-1]  # one word after the type: the whole data
                elif index == start + 2 and count == start + 4 and tail[:2].upper() != "IN":
                    content = parts[-1]
                else:
                    content = self._data_after(line, index)
            if ttl < 0:
                ttl = self.default_ttl
            elif not self.have_dollar_ttl:
                self.default_ttl = ttl
            if ";" in content:
                content = _chop_comment(content)
            content = content.strip(trim)
            comment = line[line.index(";"):] if ";" in line else ""
            if content == "@":
                content = self.origin + "." if self.origin not in ("", ".") else "."
            if "(" in content:
                content = self._group(content)
            if rtype in canonical_types:
                content = self._canonical(owner, rtype, content)
            yield owner, rtype, ttl, content, comment

    def _data_after(self, line: str, index: int) -> str:
        """The data of a record whose type is token ``index`` (owner counted in ``start``):
        from the first token after the type that is not ``IN``; without one, the last token
        (PowerDNS's reader leaves its cursor there)."""
        skip = index + 1
        pieces = line.split(None, skip)
        if len(pieces) <= skip:
            return pieces[-1]
        data = pieces[skip]
        while data[:2].upper() == "IN" and (len(data) == 2 or data[2] in " \t"):
            rest = data[2:].lstrip(" \t")
            if not rest:
                return data
            data = rest
        return data

    def _odd_line(self, line: str, start: int) -> tuple[str, str, int]:
        """A line whose type comes late or never: PowerDNS's token loop, one token at a time."""
        tokens = [(m.group(), m.start()) for m in re.finditer(r"\S+", line)]
        if start == 0:
            tokens.insert(0, ("", 0))
        ttl = -1
        rtype = None
        position = len(line)
        for token, position in tokens[1:]:
            if ";" in token:
                break
            if token.upper() == "IN":
                continue
            if ttl < 0 and rtype is None and _is_time(token):
                ttl = self._ttl(token)
                continue
            if rtype is not None:
                return line[position:], rtype, ttl
            rtype = type_name(token)
            if rtype is None:
                raise ZoneFileError(f"Parsing zone content {self.where()}: '{token}' "
                                    "doesn't look like a qtype, stopping loop")
        if rtype is None:
            raise ZoneFileError(f"Malformed line {self.where()}: '{line}'")
        return line[position:], rtype, ttl

    def _group(self, content: str) -> str:
        content, opened = _elide(content, "(")
        if not opened:
            return content
        content, closed = _elide(content, ")")
        while not closed:
            more = self._next_file_line()
            if more is None:
                break
            more = _chop_comment(more.rstrip()).strip()
            more, closed = _elide(more, ")")
            content += " " + more
        return content.strip(_TRIM)

    def _canonical(self, owner: str, rtype: str, content: str) -> str:
        origin = self.origin
        try:
            if rtype in ("NS", "CNAME", "DNAME", "PTR"):
                return _absolute(content, origin)
            if rtype == "MX":
                parts = content.split()
                if len(parts) == 2:
                    target = parts[1] if parts[1] == "." else _absolute(parts[1], origin)
                    return f"{parts[0]} {target}"
                return content
            if rtype == "SRV":
                parts = content.split()
                if len(parts) == 4:
                    target = parts[3] if parts[3] == "." else _absolute(parts[3], origin)
                    return f"{parts[0]} {parts[1]} {parts[2]} {target}"
                return content
            if rtype == "SOA":
                return self._soa(owner, content)
            if rtype == "RP":
                parts = content.split()
                if len(parts) == 2:
                    return f"{_absolute(parts[0], origin)} {_absolute(parts[1], origin)}"
                return content
            if rtype == "AFSDB":
                parts = content.split()
                if len(parts) != 2:
                    raise ZoneFileError(f"AFSDB record for {owner} invalid")
                return f"{parts[0]} {_absolute(parts[1], origin)}"
        except ValueError as exc:
            raise ZoneFileError(f"Error in record '{owner} {rtype}': {exc}") from None
        return content

    def _soa(self, owner: str, content: str) -> str:
        parts = content.split()
        if len(parts) > 7:
            raise ZoneFileError(f"SOA record contents for {owner} contains too many parts")
        if len(parts) > 1:
            parts[0] = _absolute(parts[0], self.origin)
            parts[1] = _absolute(parts[1], self.origin)
        for i in range(2, len(parts)):
            parts[i] = str(self._ttl(parts[i]))
        return " ".join(parts)

    def _ttl(self, text: str) -> int:
        """A time with an optional unit (s, m, h, d, w, y) in seconds, as PowerDNS reads it."""
        digits, unit = text, 1
        last = text[-1:].lower()
        if last and not last.isdigit():
            if last not in _UNITS:
                raise ZoneFileError(f"Unable to parse time specification '{text}' "
                                    f"{self.where()}")
            digits, unit = text[:-1], _UNITS[last]
        if not (digits.isascii() and digits.isdigit()) or int(digits) > _U32:
            raise ZoneFileError(f"Unable to parse time specification '{text}' {self.where()}")
        return (int(digits) * unit) & _U32

    # -- directives ----------------------------------------------------------------------

    def _directive(self, line: str) -> None:
        parts = line.split()
        command = parts[0].upper()
        if command == "$TTL" and len(parts) > 1:
            self.default_ttl = self._ttl(parts[1].rstrip(";"))
            self.have_dollar_ttl = True
        elif command == "$INCLUDE" and len(parts) > 1:
            name = parts[1]
            if len(name) > 1 and name[0] == name[-1] == '"':
                name = name[1:-1]
            if name and not name.startswith("/") and self.reldir:
                name = os.path.join(self.reldir, name)
            self._push(name)
        elif command == "$ORIGIN" and len(parts) > 1:
            try:
                self.origin = _absolute(parts[1] if parts[1].endswith(".") else parts[1] + ".",
                                        ".")
            except ValueError as exc:
                raise ZoneFileError(f"{exc} {self.where()}") from None
        elif command == "$GENERATE" and len(parts) > 2:
            self._start_template(parts)
        else:
            raise ZoneFileError(f"Can't parse zone line '{line}' {self.where()}")

    def _start_template(self, parts: list[str]) -> None:
        match = re.fullmatch(r"(\d+)-(\d+)(?:/(\d+))?", parts[1])
        if match is None:
            raise ZoneFileError(f"Invalid $GENERATE parameters {self.where()}")
        start, stop = int(match.group(1)), int(match.group(2))
        step = int(match.group(3) or 1)
        if step < 1 or stop < start:
            raise ZoneFileError(f"Invalid $GENERATE parameters {self.where()}")
        steps = (stop - start) // step
        if self.max_generate_steps and steps > self.max_generate_steps:
            raise ZoneFileError(f"The number of $GENERATE steps ({steps}) is too high, the "
                                f"maximum is set to {self.max_generate_steps}")
        self._template = _Template(parts[2:], start, stop, step)

    def _generated(self) -> Iterator[str]:
        template = self._template
        assert template is not None
        self._template = None
        counter = template.counter
        while counter <= template.stop:
            yield " ".join(_expand(part, counter) for part in template.parts)
            counter += template.step


def _expand(part: str, counter: int) -> str:
    if "$" not in part and "\\" not in part:
        return part

    def one(match: re.Match[str]) -> str:
        if match.group(2) is not None:
            return match.group(2)
        if match.group(1) is None:
            return str(counter)
        fields = [*match.group(1).split(","), "", "", ""][:3]
        try:
            offset = int(fields[0] or 0)
            width = int(fields[1] or 0)
        except ValueError:
            offset, width = 0, 0
        radix = fields[2][:1] or "d"
        code = {"o": "o", "x": "x", "X": "X"}.get(radix, "d")
        return format(counter + offset, f"0{width}{code}")

    return _GEN_SPEC.sub(one, part)


def _strip_dot(name: str) -> str:
    if name in ("", "."):
        return name
    return name[:-1] if name.endswith(".") else name

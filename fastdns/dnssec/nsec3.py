"""NSEC3 hashing (RFC 5155 §5), base32hex, NSEC3PARAM text as pdnsutil reads it, and the
``ordername`` forms PowerDNS writes into ``records``.

- :func:`nsec3_hash`: the iterated SHA-1 of a name's canonical wire form (RFC 5155 §5);
- :func:`b32hex`: base32hex (RFC 4648 §7) in lowercase without padding, as NSEC3 owner
  labels are written and as PowerDNS stores an NSEC3 zone's ``ordername``;
- :func:`parse_nsec3param`: ``"1 0 0 -"``, ``"1 1 10 ab12"``... read with PowerDNS 4.7's
  record-text rules (and its error texts): leading blanks skipped, anything after the salt
  ignored, ``-`` an empty salt, and in the salt every character that is not a letter or a
  digit skipped, an odd last digit the high half of a byte (``abc`` is ``ab c0``);
- :func:`nsec_ordername`: the ``ordername`` of an NSEC zone's name: its labels below the
  zone, last first, lowercase, joined by spaces (``a.b.c.example.com`` in ``example.com``:
  ``c b a``; the apex: the empty string), labels escaped as PowerDNS writes names
  (``\\.``, ``\\\\``, ``\\DDD`` outside ``!``..``~``).

Names come as text (presentation form, escapes allowed, trailing dot optional) or as a tuple
of labels (bytes, the root last or omitted): :func:`name_labels` reads text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

#: NSEC3 hash algorithm 1, the only one (RFC 5155 §11)
SHA1 = 1
#: the opt-out bit of the NSEC3/NSEC3PARAM flags (RFC 5155 §3.1.2.1)
OPT_OUT = 1

Labels = tuple[bytes, ...]


class NSEC3ParamError(ValueError):
    """NSEC3PARAM text PowerDNS would refuse; the message is pdnsutil's."""


# --------------------------------------------------------------------------------------------
# names


def name_labels(text: str) -> Labels:
    """The labels of a name in presentation form (``\\.``, ``\\DDD`` read), lowercase,
    without the root; ``""`` and ``"."`` are the root (no labels).  ValueError if
    malformed."""
    if text in ("", "."):
        return ()
    labels: list[bytes] = []
    label = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            digits = text[i + 1:i + 4]
            if len(digits) == 3 and digits.isascii() and digits.isdigit():
                value = int(digits)
                if value > 255:
                    raise ValueError(f"bad escape in name '{text}'")
                label.append(value)
                i += 4
                continue
            if i + 1 >= n:
                raise ValueError(f"name '{text}' ends in a backslash")
            label.extend(text[i + 1].encode("latin-1"))
            i += 2
            continue
        if c == ".":
            if not label:
                raise ValueError(f"empty label in name '{text}'")
            labels.append(bytes(label))
            label = bytearray()
            i += 1
            continue
        label.extend(c.encode("latin-1"))
        i += 1
    if label:
        labels.append(bytes(label))
    if any(len(lab) > 63 for lab in labels):
        raise ValueError(f"label too long in name '{text}'")
    return tuple(lab.lower() for lab in labels)


def name_wire(labels: Sequence[bytes]) -> bytes:
    """The wire form of a name (labels without the root), as given (no case change)."""
    return b"".join(bytes([len(lab)]) + lab for lab in labels) + b"\x00"


def label_text(label: bytes) -> str:
    """One label as PowerDNS writes it: ``.`` and ``\\`` escaped with a backslash, bytes
    outside ``!``..``~`` as ``\\DDD``."""
    out = []
    for b in label:
        if b == 0x2E:
            out.append("\\.")
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 < b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


# --------------------------------------------------------------------------------------------
# hashing


def nsec3_hash(name: str | bytes | Sequence[bytes], salt: bytes, iterations: int) -> bytes:
    """RFC 5155 §5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) = H(IH(salt, x, k-1) ||
    salt), with x the owner name in canonical wire form (lowercase); the 20-octet digest.

    ``name`` is text, the wire form (bytes, lowercased here) or a tuple of labels."""
    if isinstance(name, str):
        wire = name_wire(name_labels(name))
    elif isinstance(name, (bytes, bytearray, memoryview)):
        wire = bytes(name).lower()
    else:
        wire = name_wire([bytes(lab).lower() for lab in name if lab])
    if not 0 <= iterations <= 0xFFFF:
        raise ValueError(f"NSEC3 iterations out of range: {iterations}")
    digest = hashlib.sha1(wire + salt).digest()
    for _ in range(iterations):
        digest = hashlib.sha1(digest + salt).digest()
    return digest


def b32hex(data: bytes) -> str:
    """Base32hex (RFC 4648 §7), lowercase, without padding (20 octets: 32 characters)."""
    return base64.b32hexencode(data).decode("ascii").rstrip("=").lower()


def b32hex_decode(text: str) -> bytes:
    """The octets of unpadded base32hex text (either case); ValueError if malformed."""
    pad = (-len(text)) % 8
    try:
        return base64.b32hexdecode(text.upper() + "=" * pad)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base32hex: '{text}'") from exc


def hashed_label(name: str | bytes | Sequence[bytes], salt: bytes, iterations: int) -> str:
    """The NSEC3 owner label (and PowerDNS's NSEC3 ``ordername``) of ``name``."""
    return b32hex(nsec3_hash(name, salt, iterations))


# --------------------------------------------------------------------------------------------
# NSEC3PARAM text


class _Reader:
    """PowerDNS's RecordTextReader, for the four fields of NSEC3PARAM."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n\v\f":
            self.pos += 1

    def _end(self) -> None:
        if self.pos >= len(self.text):
            raise NSEC3ParamError(f"missing field at the end of record content '{self.text}'")

    def integer(self, bits: int) -> int:
        self._skip_spaces()
        self._end()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isdigit() and \
                self.text[self.pos].isascii():
            self.pos += 1
        if start == self.pos:
            raise NSEC3ParamError(f"expected digits at position {start} in '{self.text}'")
        value = int(self.text[start:self.pos])
        if value > 0xFFFFFFFF:
            raise NSEC3ParamError("Overflow reading 32 bit integer from record content")
        if value >= 1 << bits:
            raise NSEC3ParamError(f"Overflow reading {bits} bit integer from record content")
        return value

    def hex_blob(self) -> bytes:
        self._skip_spaces()
        self._end()
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in " \t\r\n\v\f":
            self.pos += 1
        word = self.text[start:self.pos]
        if word == "-":
            return b""
        out = bytearray()
        high: int | None = None
        for ch in word:
            if not (ch.isascii() and ch.isalnum()):
                continue
            if ch not in "0123456789abcdefABCDEF":
                raise NSEC3ParamError(f"Unknown hexadecimal character '{ord(ch)}'")
            if high is None:
                high = int(ch, 16) << 4
            else:
                out.append(high | int(ch, 16))
                high = None
        if high is not None:
            out.append(high)
        return bytes(out)


def parse_nsec3param(text: str) -> tuple[int, int, int, bytes]:
    """``(algorithm, flags, iterations, salt)`` of NSEC3PARAM text as PowerDNS 4.7 reads it
    (``set-nsec3``, the NSEC3PARAM metadata); NSEC3ParamError with PowerDNS's text.

    Only the syntax is checked here: PowerDNS's further checks (algorithm 1, the
    ``max-nsec3-iterations`` limit) are :func:`check_nsec3param`'s."""
    reader = _Reader(text)
    algorithm = reader.integer(8)
    flags = reader.integer(8)
    iterations = reader.integer(16)
    salt = reader.hex_blob()
    return algorithm, flags, iterations, salt


def check_nsec3param(algorithm: int, flags: int, iterations: int,
                     max_iterations: int = 0) -> str | None:
    """pdnsutil's complaint about NSEC3PARAM values, or None when they are usable:
    algorithm 1 only; ``max_iterations`` (0: no limit) bounds the iterations."""
    if algorithm != SHA1:
        return f"NSEC3PARAM algorithm set to '{algorithm}', but '1' is the only valid value"
    if max_iterations and iterations > max_iterations:
        return "Number of NSEC3 iterations is above 'max-nsec3-iterations'."
    return None


def nsec3param_text(algorithm: int, flags: int, iterations: int, salt: bytes) -> str:
    """NSEC3PARAM in PowerDNS's zone form (``1 0 0 -``, ``1 1 10 ab12``)."""
    return f"{algorithm} {flags} {iterations} {salt.hex() if salt else '-'}"


# --------------------------------------------------------------------------------------------
# NSEC order


def nsec_ordername(name: Sequence[bytes], zone: Sequence[bytes]) -> str:
    """PowerDNS's ``ordername`` of ``name`` (labels, root omitted) in an NSEC zone
    ``zone``: the labels below the zone, last first, lowercase, space-separated; ``""`` at
    the apex.  ValueError if ``name`` is not in the zone."""
    depth = len(zone)
    if depth and tuple(lab.lower() for lab in name[len(name) - depth:]) != \
            tuple(lab.lower() for lab in zone):
        raise ValueError("name is not in the zone")
    relative = name[:len(name) - depth]
    return " ".join(label_text(lab.lower()) for lab in reversed(relative))


def canonical_key(name: Sequence[bytes]) -> tuple[bytes, ...]:
    """A sort key giving RFC 4034 §6.1 canonical order: labels last first, lowercase."""
    return tuple(lab.lower() for lab in reversed(name))


__all__ = [
    "OPT_OUT",
    "SHA1",
    "Labels",
    "NSEC3ParamError",
    "b32hex",
    "b32hex_decode",
    "canonical_key",
    "check_nsec3param",
    "hashed_label",
    "label_text",
    "name_labels",
    "name_wire",
    "nsec3_hash",
    "nsec3param_text",
    "nsec_ordername",
    "parse_nsec3param",
]

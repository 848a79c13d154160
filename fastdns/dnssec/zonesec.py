"""A zone's signing state, read from its key store: keys, NSEC3 parameters and the DNSSEC
metadata kinds PowerDNS uses (NSEC3PARAM, NSEC3NARROW, PRESIGNED, PUBLISH-CDS,
PUBLISH-CDNSKEY).

:class:`ZoneSecurity` is a value: the server builds one per zone load and compares them to
notice a change.  A zone whose state has ``problems`` (a corrupt key, an unknown algorithm,
a key without its private part, NSEC3PARAM together with PRESIGNED, too many NSEC3
iterations) is not signed at all: the server logs ``problems`` in one line and answers DO=1
queries for it with SERVFAIL rather than unsigned data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from fastdns.dnssec.keys import KeyFormatError, ZoneKey
from fastdns.dnssec.keystore import KeyRow, KeyStore

#: the metadata kinds ZoneSecurity reads
KINDS = ("NSEC3PARAM", "NSEC3NARROW", "PRESIGNED", "PUBLISH-CDS", "PUBLISH-CDNSKEY")


@dataclass(frozen=True)
class NSEC3Param:
    """NSEC3PARAM as stored in metadata (``1 0 0 -``)."""

    algorithm: int
    flags: int
    iterations: int
    salt: bytes

    @property
    def opt_out(self) -> bool:
        return bool(self.flags & 1)

    def text(self) -> str:
        """The presentation form (``1 0 0 -``; the salt in lowercase hex)."""
        return f"{self.algorithm} {self.flags} {self.iterations} {self.salt.hex() or '-'}"

    def rdata(self) -> bytes:
        """The NSEC3PARAM rdata as served (its flags field is always 0, RFC 5155 §4.1.2)."""
        return bytes([self.algorithm, 0]) + self.iterations.to_bytes(2, "big") \
            + bytes([len(self.salt)]) + self.salt


def parse_nsec3param(text: str) -> NSEC3Param:
    """``ALG FLAGS ITERATIONS SALT`` → NSEC3Param; ValueError with pdnsutil's words."""
    fields = text.split()
    if not fields:
        raise ValueError(f"expected digits at position 0 in '{text}'")
    values: list[int] = []
    for i, bits in enumerate((8, 8, 16)):
        if i >= len(fields):
            raise ValueError(f"missing field at the end of record content '{text}'")
        word = fields[i]
        if not word.isdigit():
            raise ValueError(f"expected digits at position {text.find(word)} in '{text}'")
        value = int(word)
        if value >= 1 << bits:
            raise ValueError(f"Overflow reading {bits} bit integer from record content")
        values.append(value)
    if len(fields) < 4:
        raise ValueError(f"missing field at the end of record content '{text}'")
    salt_text = fields[3]
    if salt_text == "-":
        salt = b""
    else:
        for ch in salt_text:
            if ch not in "0123456789abcdefABCDEF":
                raise ValueError(f"Unknown hexadecimal character '{ord(ch)}'")
        if len(salt_text) % 2:
            raise ValueError(f"odd number of hexadecimal digits in salt '{salt_text}'")
        salt = bytes.fromhex(salt_text)
        if len(salt) > 255:
            raise ValueError("NSEC3 salt longer than 255 bytes")
    return NSEC3Param(values[0], values[1], values[2], salt)


@dataclass(frozen=True)
class StoredKey:
    """One key row with the usable key, or why it is not usable."""

    id: int
    flags: int
    active: bool
    published: bool
    key: ZoneKey | None
    error: str = ""

    @property
    def algorithm(self) -> int | None:
        return self.key.algorithm if self.key is not None else None


@dataclass(frozen=True)
class ZoneSecurity:
    """The signing state of one zone (see the module doc)."""

    zone: str
    keys: tuple[StoredKey, ...] = ()
    nsec3: NSEC3Param | None = None
    narrow: bool = False
    presigned: bool = False
    publish_cds: tuple[int, ...] = ()
    publish_cdnskey: bool = False
    #: PUBLISH-CDNSKEY "0": publish the RFC 8078 delete CDNSKEY record
    cdnskey_delete: bool = False
    problems: list[str] = field(default_factory=list, compare=False)

    @property
    def signed(self) -> bool:
        """Has an active key and is not presigned (problems aside: see ``usable``)."""
        return not self.presigned and any(k.active for k in self.keys)

    @property
    def usable(self) -> bool:
        """Signed and without problems: the server may sign it."""
        return self.signed and not self.problems

    def active_keys(self) -> list[ZoneKey]:
        return [k.key for k in self.keys if k.active and k.key is not None]

    def published_keys(self) -> list[ZoneKey]:
        return [k.key for k in self.keys if k.published and k.key is not None]


def _key(row: KeyRow) -> StoredKey:
    try:
        key: ZoneKey | None = ZoneKey.from_isc(row.content, row.flags)
        error = ""
    except KeyFormatError as exc:
        key, error = None, str(exc)
    return StoredKey(row.id, row.flags, row.active, row.published, key, error)


def _build(zone: str, rows: Sequence[KeyRow], meta: dict[str, list[str]],
           max_iterations: int | None) -> ZoneSecurity:
    problems: list[str] = []
    keys = tuple(_key(row) for row in rows)
    for k in keys:
        if k.error:
            problems.append(f"key {k.id}: {k.error}")
    presigned = (meta.get("PRESIGNED") or [""])[0].strip() == "1"
    nsec3: NSEC3Param | None = None
    if meta.get("NSEC3PARAM"):
        text = meta["NSEC3PARAM"][0]
        try:
            nsec3 = parse_nsec3param(text)
        except ValueError as exc:
            problems.append(f"NSEC3PARAM '{text}': {exc}")
        else:
            if nsec3.algorithm != 1:
                problems.append(f"NSEC3PARAM '{text}': hash algorithm {nsec3.algorithm} "
                                "(1 is the only one defined)")
            if max_iterations is not None and nsec3.iterations > max_iterations:
                problems.append(f"NSEC3PARAM '{text}': {nsec3.iterations} iterations, "
                                f"above max-nsec3-iterations={max_iterations}")
    # NSEC3PARAM with PRESIGNED is how PowerDNS knows a presigned zone's NSEC3 hashing:
    # it must agree with the zone's own NSEC3 records (imagesec.presigned_image checks)
    narrow = (meta.get("NSEC3NARROW") or [""])[0].strip() == "1"
    cds: list[int] = []
    for value in meta.get("PUBLISH-CDS", [])[:1]:
        for word in value.replace(" ", ",").split(","):
            if not word:
                continue
            # set-publish-cds takes only 1, 2 and 4, or 0 (the RFC 8078 delete record);
            # other values (as pdnsutil 4.7 could store) publish no CDS of that type
            if word.isdigit() and int(word) in (0, 1, 2, 4) and int(word) not in cds:
                cds.append(int(word))
    cdnskey = (meta.get("PUBLISH-CDNSKEY") or [""])[0].strip()
    return ZoneSecurity(zone, keys, nsec3, narrow, presigned, tuple(cds), cdnskey == "1",
                        cdnskey == "0", problems)


def load_security(store: KeyStore, zone: str,
                  max_iterations: int | None = None) -> ZoneSecurity:
    """The signing state of ``zone`` (no trailing dot) from ``store``."""
    meta = {kind: store.get_meta(zone, kind) for kind in KINDS}
    return _build(zone, store.keys(zone), meta, max_iterations)


def load_security_many(store: KeyStore, zones: Iterable[str],
                       max_iterations: int | None = None) -> dict[str, ZoneSecurity]:
    """The signing state of each of ``zones`` with one query per table."""
    names = list(zones)
    keys = store.keys_many(names)
    meta = store.meta_many(names, KINDS)
    return {zone: _build(zone, keys.get(zone, []), meta.get(zone, {}), max_iterations)
            for zone in names}


__all__ = ["KINDS", "NSEC3Param", "StoredKey", "ZoneSecurity", "load_security",
           "load_security_many", "parse_nsec3param"]

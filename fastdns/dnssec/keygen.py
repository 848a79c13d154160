"""Making a zone's keys: one key of an algorithm, flags and size, or the set ``secure-zone``
adds (a CSK, or a KSK and a ZSK) as ``default-ksk-algorithm``/``-size`` and
``default-zsk-algorithm``/``-size`` ask.  fastdns-util (add-zone-key, secure-zone,
secure-all-zones) and the HTTP API (cryptokeys, zones created with ``"dnssec": true``) both
make their keys here, so they refuse the same things with the same words.

A refusal is a :class:`KeygenError` whose text is pdnsutil's (without its ``Error:``
prefix, which the command line adds).
"""

from __future__ import annotations

from typing import Any

from fastdns.dnssec.keys import (
    ALGORITHMS,
    KSK_FLAGS,
    ZSK_FLAGS,
    KeyFormatError,
    ZoneKey,
    algorithm_name,
    algorithm_number,
)
from fastdns.dnssec.keystore import KeyStore


class KeygenError(Exception):
    """A key that cannot be made: unknown or unsupported algorithm, a size the algorithm
    does not take, no ``default-ksk-algorithm``, a zone secured already."""


def algorithm(word: str) -> int:
    """pdnsutil's algorithm word or number (``ecdsa256``, ``13``) → the number."""
    try:
        return algorithm_number(word)
    except KeyFormatError:
        raise KeygenError(f"Unknown algorithm '{word}'") from None


def generate(number: int, flags: int, bits: int = 0) -> ZoneKey:
    """A new key of algorithm ``number`` with DNSKEY ``flags``; ``bits``: the RSA modulus
    size (required for RSA), or 0 or the algorithm's only size for the others."""
    info = ALGORITHMS.get(number)
    if info is None:
        raise KeygenError(f"Unsupported algorithm {number} ({algorithm_name(number)})")
    if not info.generate:
        raise KeygenError(f"fastdns does not generate algorithm {number} ({info.name}) keys "
                          "(RFC 8624); import one with import-zone-key")
    if info.family == "rsa" and not bits:
        raise KeygenError(f"Creating an algorithm {number} ({info.name}) key requires the "
                          "size (in bits) to be passed.")
    if info.family != "rsa" and bits and bits != info.bits:
        raise KeygenError("The algorithm does not support the given bit size.")
    try:
        return ZoneKey.generate(number, flags, bits)
    except KeyFormatError as exc:
        raise KeygenError(str(exc)) from None


class SecurePlan:
    """What securing a zone adds, read from the configuration once: a KSK of
    ``default-ksk-algorithm`` (a CSK when ``default-zsk-algorithm`` is empty) and a ZSK of
    ``default-zsk-algorithm``, each of its ``-size`` (0: the algorithm's default)."""

    def __init__(self, config: Any) -> None:
        self.ksk_word = str(config["default-ksk-algorithm"] or "").strip()
        self.zsk_word = str(config["default-zsk-algorithm"] or "").strip()
        self.ksk_size = int(config["default-ksk-size"] or 0)
        self.zsk_size = int(config["default-zsk-size"] or 0)
        if not self.ksk_word:
            raise KeygenError("default-ksk-algorithm is empty: secure-zone needs a "
                              "key-signing (or combined) key algorithm")
        self.ksk_algorithm = algorithm(self.ksk_word)
        self.zsk_algorithm = algorithm(self.zsk_word) if self.zsk_word else 0

    def lines(self) -> list[str]:
        """What pdnsutil's secure-zone prints before it adds the keys."""
        size = "default key size" if not self.ksk_size else f"key size {self.ksk_size}"
        out = [f"Securing zone with {size}"]
        if self.zsk_algorithm:
            out += [f"Adding KSK with algorithm {self.ksk_word}",
                    f"Adding ZSK with algorithm {self.zsk_word}"]
        else:
            out.append(f"Adding CSK (257) with algorithm {self.ksk_word}")
        return out

    def keys(self) -> list[tuple[int, str]]:
        """(flags, ISC text) of a new set of keys, the KSK (or CSK) first."""
        out = [(KSK_FLAGS, generate(self.ksk_algorithm, KSK_FLAGS, self.ksk_size).to_isc())]
        if self.zsk_algorithm:
            out.append((ZSK_FLAGS, generate(self.zsk_algorithm, ZSK_FLAGS,
                                             self.zsk_size).to_isc()))
        return out


def is_secured(store: KeyStore, zone: str) -> bool:
    """``zone`` has keys, or is PRESIGNED."""
    presigned = (store.get_meta(zone, "PRESIGNED") or [""])[0].strip() == "1"
    return presigned or bool(store.keys(zone))


def secure_zone(store: KeyStore, zone: str, config: Any) -> list[int]:
    """Add to ``zone`` (no trailing dot) the keys ``secure-zone`` adds, all active and
    published, in one write; the ids of the zone's keys afterwards.  KeygenError when the
    zone is secured already or the configured algorithms cannot be made."""
    plan = SecurePlan(config)
    if is_secured(store, zone):
        raise KeygenError(f"Zone '{zone}' already secure, remove keys with fastdns-util "
                          "remove-zone-key if needed")
    store.add_keys_many([(zone, flags, True, True, content) for flags, content in plan.keys()])
    return [row.id for row in store.keys(zone)]


__all__ = ["KeygenError", "SecurePlan", "algorithm", "generate", "is_secured", "secure_zone"]

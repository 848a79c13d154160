"""TSIG keys (RFC 8945) as PowerDNS keeps them: the ``tsigkeys`` table of the generic SQL
backends, and the same table in the bind backend's ``bind-dnssec-db``.

A row is ``(name, algorithm, secret)``: the key's name and PowerDNS's algorithm name
(``hmac-sha256``...; ``hmac-md5.sig-alg.reg.int`` is accepted for ``hmac-md5``), both
without the trailing dot, and the secret in base64.  :func:`read_tsig_keys` reads them from
the launched backends (the first backend in ``launch=`` order that has a name wins; in one
backend, the first row of a name); :func:`keyring` makes dnspython's ``keyring=`` of them.
A key that cannot be used (an unknown algorithm, a secret that is not base64) is left out
with one log line, never an exception: one bad row must not stop a server.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import dns.exception
import dns.name
import dns.tsig

from fastdns.log import log
from fastdns.zone.source import BackendError

#: PowerDNS's TSIG algorithm names (and the long form of hmac-md5) -> dnspython's
ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-md5.sig-alg.reg.int": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}
#: the secret pdnsutil's generate-tsig-key makes for each algorithm, in bytes
SECRET_SIZES: dict[str, int] = {
    "hmac-md5": 32, "hmac-sha1": 32, "hmac-sha224": 32,
    "hmac-sha256": 64, "hmac-sha384": 64, "hmac-sha512": 64,
}


def algorithm_name(text: str) -> str | None:
    """PowerDNS's short name of a TSIG algorithm given in any case, with or without the
    trailing dot, long hmac-md5 form included (``HMAC-MD5.SIG-ALG.REG.INT.`` ->
    ``hmac-md5``); None if unknown."""
    word = text.strip().lower()
    if word.endswith("."):
        word = word[:-1]
    if word not in ALGORITHMS:
        return None
    return "hmac-md5" if word == "hmac-md5.sig-alg.reg.int" else word


def decode_secret(secret: str) -> bytes | None:
    """The bytes of a base64 secret; None if it is not base64 or is empty."""
    try:
        raw = base64.b64decode(secret.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw or None


def key_name(text: str) -> str:
    """A key name as :class:`TsigKey` holds it: absolute, lowercase, trailing dot."""
    name = text.strip().lower()
    if name in ("", "."):
        return "."
    return name if name.endswith(".") else name + "."


class TsigKey(NamedTuple):
    """One usable TSIG key."""

    #: absolute, lowercase, with the trailing dot (``axfr-key.``)
    name: str
    #: PowerDNS's short algorithm name (``hmac-sha256``)
    algorithm: str
    #: the secret, base64
    secret: str

    def to_dnspython(self) -> dns.tsig.Key:
        return dns.tsig.Key(dns.name.from_text(self.name), base64.b64decode(self.secret),
                            ALGORITHMS[self.algorithm])


def usable_key(name: str, algorithm: str, secret: str, where: str = "") -> TsigKey | None:
    """The TsigKey of a stored row, or None (logged once, naming ``where``) when its
    algorithm is unknown, its secret is not base64 or its name is not a DNS name."""
    short = algorithm_name(algorithm)
    place = f" in {where}" if where else ""
    problem = ""
    if short is None:
        problem = f"unknown algorithm '{algorithm}'"
    elif decode_secret(secret) is None:
        problem = "its secret is not base64"
    else:
        try:
            dns.name.from_text(key_name(name))
        except dns.exception.DNSException as exc:
            problem = f"bad name: {exc}"
    if problem:
        log.warning("TSIG key '%s'%s skipped: %s", name, place, problem)
        return None
    assert short is not None
    return TsigKey(key_name(name), short, secret.strip())


def _rows(backend: Any) -> tuple[Any, str] | None:
    """What holds the ``tsigkeys`` of ``backend``, and its name: an SQL backend itself, the
    bind backend's ``bind-dnssec-db`` (None without one), or anything with ``tsig_keys()``."""
    name = str(getattr(backend, "name", type(backend).__name__))
    if hasattr(backend, "tsig_keys"):
        return backend, name
    key_store = getattr(backend, "key_store", None)
    if key_store is not None:
        store = key_store()
        if store is not None and hasattr(store, "tsig_keys"):
            return store, str(getattr(store, "name", name))
    return None


def read_tsig_keys(backends: Iterable[Any]) -> dict[str, TsigKey]:
    """Key name (:class:`TsigKey` form) -> key, from the ``tsigkeys`` of every backend given
    (SQL backends; a bind backend's ``bind-dnssec-db``; any object with ``tsig_keys()``).
    The first backend in order that has a name wins.  A backend that cannot be read and a
    key that cannot be used are logged and left out."""
    out: dict[str, TsigKey] = {}
    for backend in backends:
        found = _rows(backend)
        if found is None:
            continue
        store, where = found
        try:
            rows = store.tsig_keys()
        except BackendError as exc:   # a database down: the zone service says so, once
            log.debug("backend '%s': TSIG keys cannot be read: %s", where, exc)
            continue
        except Exception as exc:      # without the table: the keys of the others
            log.error("backend '%s': TSIG keys cannot be read: %s", where, exc)
            continue
        for name, algorithm, secret in rows:
            key = usable_key(name, algorithm, secret, f"backend '{where}'")
            if key is not None and key.name not in out:
                out[key.name] = key
    return out


def keyring(keys: Mapping[str, TsigKey] | Iterable[TsigKey]) -> dict[dns.name.Name, dns.tsig.Key]:
    """dnspython's ``keyring=`` of ``keys`` (read_tsig_keys's dict, or TsigKeys)."""
    values = keys.values() if isinstance(keys, Mapping) else keys
    out: dict[dns.name.Name, dns.tsig.Key] = {}
    for key in values:
        dnskey = key.to_dnspython()
        out.setdefault(dnskey.name, dnskey)
    return out


__all__ = ["ALGORITHMS", "SECRET_SIZES", "TsigKey", "algorithm_name", "decode_secret",
           "key_name", "keyring", "read_tsig_keys", "usable_key"]

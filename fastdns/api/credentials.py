"""The API key and the web server's password, plain or hashed as PowerDNS hashes them.

A hashed credential reads ``$scrypt$ln=10,p=1,r=8$SALT$HASH`` (salt and hash in base64),
which is what ``pdnsutil hash-password`` and ``fastdns-util hash-password`` print; either
form may be set in ``api-key`` and ``webserver-password``. With
``webserver-hash-plaintext-credentials=yes`` a plain one is hashed when read, so that the
process holds no copy of it. Every comparison takes the same time whatever matches.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

_HASHED = re.compile(r"^\$scrypt\$ln=(\d+),p=(\d+),r=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")
#: PowerDNS's work factors and sizes
LN, P, R, SALT_SIZE, HASH_SIZE = 10, 1, 8, 16, 32


def _scrypt(secret: str, salt: bytes, ln: int, p: int, r: int, size: int) -> bytes:
    n = 1 << ln
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=size,
                          maxmem=256 * n * r * p + (1 << 20))


def hash_password(secret: str, salt: bytes | None = None, *, ln: int = LN) -> str:
    """``secret`` hashed in PowerDNS's format (``ln``: log2 of the scrypt work factor N)."""
    salt = os.urandom(SALT_SIZE) if salt is None else salt
    digest = _scrypt(secret, salt, ln, P, R, HASH_SIZE)
    return (f"$scrypt$ln={ln},p={P},r={R}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def is_hashed(text: str) -> bool:
    return _HASHED.match(text) is not None


class Credential:
    """A configured secret that a request's secret is checked against."""

    def __init__(self, configured: str, hash_plaintext: bool = False) -> None:
        self._plain: bytes | None = None
        self._hashed: tuple[int, int, int, bytes, bytes] | None = None
        if not is_hashed(configured) and hash_plaintext:
            configured = hash_password(configured)
        match = _HASHED.match(configured)
        if match is None:
            self._plain = configured.encode()
            return
        ln, p, r = (int(match.group(i)) for i in (1, 2, 3))
        try:
            salt = base64.b64decode(match.group(4), validate=True)
            digest = base64.b64decode(match.group(5), validate=True)
        except binascii.Error:
            raise ValueError("a hashed credential whose salt or hash is not base64") from None
        if not 1 <= ln <= 20 or not 1 <= p <= 16 or not 1 <= r <= 32:
            raise ValueError("a hashed credential with work factors out of range")
        self._hashed = (ln, p, r, salt, digest)

    def matches(self, given: str) -> bool:
        if self._plain is not None:
            return hmac.compare_digest(self._plain, given.encode())
        assert self._hashed is not None
        ln, p, r, salt, digest = self._hashed
        return hmac.compare_digest(digest, _scrypt(given, salt, ln, p, r, len(digest)))

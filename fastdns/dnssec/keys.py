"""DNSSEC keys: the algorithms, PowerDNS's stored forms, DNSKEY, key tags, DS and signing.

A :class:`ZoneKey` is one key of a zone (algorithm, DNSKEY flags and the private key as a
``cryptography`` object, loaded once: signing never parses anything again).  It reads and
writes the two forms PowerDNS uses:

- ISC ``Private-key-format: v1.2`` text, as pdnsutil writes it into ``cryptokeys.content``:
  the field names and order of each algorithm, base64, one ``\\n`` after each line (RSA
  numbers in their shortest big-endian form; ECDSA private keys at the curve's full width,
  EdDSA private keys as the raw seed); a key read from pdnsutil's text is written back
  byte for byte.  BIND's ``.private`` files (v1.2 and v1.3, with Created:/Publish:/...
  lines) are read too; the lines fastdns does not need are ignored.
- PEM: the traditional OpenSSL forms for RSA and ECDSA (``RSA PRIVATE KEY``,
  ``EC PRIVATE KEY``), PKCS#8 for EdDSA, as ``pdnsutil export-zone-key-pem`` writes them.

Algorithms 8, 10, 13, 14, 15 and 16 can be generated; 5 and 7 (RSA/SHA-1) are read,
imported and served only (RFC 8624).  Signatures are in DNSSEC wire form: RSA PKCS#1 v1.5
(RFC 3110, 5702), ECDSA ``r || s`` at the curve's width (RFC 6605), EdDSA raw (RFC 8080).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

#: DNSKEY flags of a zone-signing key and of a key-signing key (the SEP bit set)
ZSK_FLAGS = 256
KSK_FLAGS = 257


class KeyFormatError(ValueError):
    """A key that cannot be read or used: bad text or PEM, unknown or unsupported algorithm,
    a missing field, a key that does not match its algorithm."""


@dataclass(frozen=True)
class Algorithm:
    """One DNSKEY algorithm as fastdns and PowerDNS name it."""

    number: int
    #: PowerDNS's name (list-algorithms, show-zone, list-keys)
    name: str
    #: the name in the ``Algorithm:`` line of the ISC text
    isc_name: str
    #: ``rsa``, ``ecdsa`` or ``eddsa``
    family: str
    #: may be generated (5 and 7 are read and served only)
    generate: bool
    #: the bits pdnsutil reports for a key of this algorithm (RSA: the modulus's)
    bits: int = 0


ALGORITHMS: dict[int, Algorithm] = {a.number: a for a in (
    Algorithm(5, "RSASHA1", "RSASHA1", "rsa", False),
    Algorithm(7, "RSASHA1-NSEC3-SHA1", "RSASHA1", "rsa", False),
    Algorithm(8, "RSASHA256", "RSASHA256", "rsa", True),
    Algorithm(10, "RSASHA512", "RSASHA512", "rsa", True),
    Algorithm(13, "ECDSAP256SHA256", "ECDSAP256SHA256", "ecdsa", True, 256),
    Algorithm(14, "ECDSAP384SHA384", "ECDSAP384SHA384", "ecdsa", True, 384),
    Algorithm(15, "ED25519", "ED25519", "eddsa", True, 256),
    Algorithm(16, "ED448", "ED448", "eddsa", True, 456),
)}

#: pdnsutil's algorithm words (add-zone-key, generate-zone-key, default-ksk-algorithm)
MNEMONICS: dict[str, int] = {
    "rsamd5": 1, "dh": 2, "dsa": 3, "rsasha1": 5, "dsa-nsec3-sha1": 6,
    "rsasha1-nsec3-sha1": 7, "rsasha256": 8, "rsasha512": 10, "ecc-gost": 12,
    "gost": 12, "ecdsa256": 13, "ecdsap256sha256": 13, "ecdsa384": 14,
    "ecdsap384sha384": 14, "ed25519": 15, "ed448": 16,
}

#: DS digest types: number -> (hashlib name, pdnsutil's comment)
DIGESTS: dict[int, tuple[str, str]] = {
    1: ("sha1", "SHA1 digest"),
    2: ("sha256", "SHA256 digest"),
    4: ("sha384", "SHA-384 digest"),
}

_RSA_FIELDS = ("Modulus", "PublicExponent", "PrivateExponent", "Prime1", "Prime2",
               "Exponent1", "Exponent2", "Coefficient")
_RSA_HASHES: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    5: hashes.SHA1, 7: hashes.SHA1, 8: hashes.SHA256, 10: hashes.SHA512}
_CURVES: dict[int, tuple[type[ec.EllipticCurve], int, Callable[[], hashes.HashAlgorithm]]] = {
    13: (ec.SECP256R1, 32, hashes.SHA256),
    14: (ec.SECP384R1, 48, hashes.SHA384),
}
_EDDSA_SIZES = {15: 32, 16: 57}


def algorithm_number(word: str) -> int:
    """pdnsutil's algorithm word or number → the number; KeyFormatError if unknown."""
    text = word.strip().lower()
    if text in MNEMONICS:
        return MNEMONICS[text]
    if text.isdigit() and int(text) < 256:
        return int(text)
    raise KeyFormatError(f"Unknown algorithm '{word}'")


def algorithm_name(number: int) -> str:
    """PowerDNS's name of algorithm ``number`` (``ALG<n>`` when it has none)."""
    known = ALGORITHMS.get(number)
    return known.name if known is not None else f"ALG{number}"


def _algorithm(number: int) -> Algorithm:
    known = ALGORITHMS.get(number)
    if known is None:
        raise KeyFormatError(f"unsupported DNSKEY algorithm {number} "
                             f"({algorithm_name(number)})")
    return known


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"field '{field}' is not valid base64") from None


def _int_bytes(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _rsa_public(n: int, e: int) -> bytes:
    """The DNSKEY public key field of an RSA key (RFC 3110 §2)."""
    exp = _int_bytes(e)
    head = bytes([len(exp)]) if len(exp) < 256 else b"\x00" + len(exp).to_bytes(2, "big")
    return head + exp + _int_bytes(n)


class ZoneKey:
    """One DNSSEC key with its private part, ready to sign (see the module doc)."""

    __slots__ = ("_public", "_rdata", "_sign", "_tag", "algorithm", "flags", "private")

    algorithm: int
    flags: int
    private: Any
    _public: bytes
    _rdata: bytes
    _tag: int
    _sign: Callable[[bytes], bytes]

    def __init__(self, algorithm: int, flags: int, private: Any) -> None:
        info = _algorithm(algorithm)
        self.algorithm = algorithm
        self.flags = flags
        self.private = private
        if info.family == "rsa":
            if not isinstance(private, rsa.RSAPrivateKey):
                raise KeyFormatError(f"algorithm {algorithm} needs an RSA key")
            numbers = private.public_key().public_numbers()
            self._public = _rsa_public(numbers.n, numbers.e)
            pad, digest = padding.PKCS1v15(), _RSA_HASHES[algorithm]()
            self._sign = lambda data: private.sign(data, pad, digest)
        elif info.family == "ecdsa":
            curve, width, hash_cls = _CURVES[algorithm]
            if not isinstance(private, ec.EllipticCurvePrivateKey) \
                    or not isinstance(private.curve, curve):
                raise KeyFormatError(f"algorithm {algorithm} needs an ECDSA {curve.name} key")
            point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
            self._public = point[1:]
            scheme = ec.ECDSA(hash_cls())

            def sign_ecdsa(data: bytes) -> bytes:
                return _der_to_raw(private.sign(data, scheme), width)
            self._sign = sign_ecdsa
        else:
            wanted = ed25519.Ed25519PrivateKey if algorithm == 15 else ed448.Ed448PrivateKey
            if not isinstance(private, wanted):
                raise KeyFormatError(f"algorithm {algorithm} needs an "
                                     f"{info.name.capitalize()} key")
            self._public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                             serialization.PublicFormat.Raw)
            self._sign = private.sign
        self._rdata = flags.to_bytes(2, "big") + bytes([3, algorithm]) + self._public
        self._tag = key_tag(self._rdata)

    # -- making keys ---------------------------------------------------------------------

    @classmethod
    def generate(cls, algorithm: int, flags: int = ZSK_FLAGS, bits: int = 0) -> ZoneKey:
        """A new key; ``bits`` only for RSA (0: 2048).  KeyFormatError for an algorithm
        fastdns does not generate (5 and 7, unknown numbers) or a size it cannot have."""
        info = _algorithm(algorithm)
        if not info.generate:
            raise KeyFormatError(f"algorithm {algorithm} ({info.name}) is not generated by "
                                 "fastdns (RFC 8624: MUST NOT); import such a key instead")
        private: Any
        if info.family == "rsa":
            bits = bits or 2048
            if not 1024 <= bits <= 4096:
                raise KeyFormatError(f"Unsupported key length of {bits} bits requested "
                                     "(RSA: 1024 to 4096)")
            private = rsa.generate_private_key(65537, bits)
        elif bits and bits != info.bits:
            raise KeyFormatError(f"Unsupported key length of {bits} bits requested, "
                                 f"{info.name} keys have {info.bits}")
        elif info.family == "ecdsa":
            private = ec.generate_private_key(_CURVES[algorithm][0]())
        elif algorithm == 15:
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            private = ed448.Ed448PrivateKey.generate()
        return cls(algorithm, flags, private)

    @classmethod
    def from_isc(cls, text: str, flags: int = ZSK_FLAGS) -> ZoneKey:
        """Read ISC ``Private-key-format`` text (cryptokeys.content, a BIND .private file)."""
        fields: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                fields.setdefault(key.strip(), value.strip())
        fmt = fields.get("Private-key-format", "")
        if not fmt.startswith("v1."):
            raise KeyFormatError("not an ISC private key (no 'Private-key-format: v1.x' line)")
        head = fields.get("Algorithm", "").split(None, 1)
        if not head or not head[0].isdigit():
            raise KeyFormatError("no 'Algorithm:' line")
        algorithm = int(head[0])
        info = _algorithm(algorithm)

        def need(name: str) -> bytes:
            if name not in fields:
                raise KeyFormatError(f"field '{name}' is missing (a key without its private "
                                     "part cannot sign)")
            return _unb64(name, fields[name])

        private: Any
        try:
            if info.family == "rsa":
                n, e, d, p, q, dmp1, dmq1, iqmp = (int.from_bytes(need(f), "big")
                                                   for f in _RSA_FIELDS)
                private = rsa.RSAPrivateNumbers(p, q, d, dmp1, dmq1, iqmp,
                                                rsa.RSAPublicNumbers(e, n)).private_key()
            elif info.family == "ecdsa":
                curve, width, _ = _CURVES[algorithm]
                raw = need("PrivateKey")
                if len(raw) > width:
                    raise KeyFormatError(f"PrivateKey of algorithm {algorithm} is "
                                         f"{len(raw)} bytes long, not {width}")
                private = ec.derive_private_key(int.from_bytes(raw, "big"), curve())
            else:
                raw = need("PrivateKey")
                if len(raw) != _EDDSA_SIZES[algorithm]:
                    raise KeyFormatError(f"PrivateKey of algorithm {algorithm} is "
                                         f"{len(raw)} bytes long, not "
                                         f"{_EDDSA_SIZES[algorithm]}")
                cls_ = ed25519.Ed25519PrivateKey if algorithm == 15 else ed448.Ed448PrivateKey
                private = cls_.from_private_bytes(raw)
        except (ValueError, UnsupportedAlgorithm) as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError(f"invalid algorithm {algorithm} key: {exc}") from None
        return cls(algorithm, flags, private)

    @classmethod
    def from_pem(cls, pem: str | bytes, algorithm: int, flags: int = ZSK_FLAGS) -> ZoneKey:
        """Read a PEM private key (any form OpenSSL writes, unencrypted) for ``algorithm``."""
        _algorithm(algorithm)
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"not a PEM private key: {exc}") from None
        return cls(algorithm, flags, private)

    def with_flags(self, flags: int) -> ZoneKey:
        """The same key with other DNSKEY flags (its tag changes)."""
        return self if flags == self.flags else ZoneKey(self.algorithm, flags, self.private)

    # -- writing it ----------------------------------------------------------------------

    def to_isc(self) -> str:
        """The ISC text pdnsutil stores in ``cryptokeys.content`` (see the module doc)."""
        info = ALGORITHMS[self.algorithm]
        lines = ["Private-key-format: v1.2", f"Algorithm: {self.algorithm} ({info.isc_name})"]
        if info.family == "rsa":
            pn = self.private.private_numbers()
            values = (pn.public_numbers.n, pn.public_numbers.e, pn.d, pn.p, pn.q, pn.dmp1,
                      pn.dmq1, pn.iqmp)
            lines += [f"{name}: {_b64(_int_bytes(v))}"
                      for name, v in zip(_RSA_FIELDS, values, strict=True)]
        elif info.family == "ecdsa":
            width = _CURVES[self.algorithm][1]
            d = self.private.private_numbers().private_value
            lines.append(f"PrivateKey: {_b64(d.to_bytes(width, 'big'))}")
        else:
            raw = self.private.private_bytes(serialization.Encoding.Raw,
                                             serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption())
            lines.append(f"PrivateKey: {_b64(raw)}")
        return "\n".join(lines) + "\n"

    def to_pem(self) -> str:
        """The PEM text ``pdnsutil export-zone-key-pem`` prints."""
        fmt = serialization.PrivateFormat.PKCS8 if self.algorithm in _EDDSA_SIZES \
            else serialization.PrivateFormat.TraditionalOpenSSL
        return self.private.private_bytes(serialization.Encoding.PEM, fmt,
                                          serialization.NoEncryption()).decode("ascii")

    # -- the public side -----------------------------------------------------------------

    def public_bytes(self) -> bytes:
        """The DNSKEY Public Key field."""
        return self._public

    def dnskey_rdata(self) -> bytes:
        """The DNSKEY rdata in wire form (flags, protocol 3, algorithm, public key)."""
        return self._rdata

    @property
    def tag(self) -> int:
        """The key tag (RFC 4034 appendix B)."""
        return self._tag

    @property
    def bits(self) -> int:
        """The size pdnsutil shows (RSA: modulus bits; Ed448: 456)."""
        info = ALGORITHMS[self.algorithm]
        return int(self.private.key_size) if info.family == "rsa" else info.bits

    @property
    def is_ksk(self) -> bool:
        return bool(self.flags & 1)

    def dnskey_text(self) -> str:
        """``FLAGS 3 ALGORITHM BASE64`` (the DNSKEY rdata in presentation form)."""
        return f"{self.flags} 3 {self.algorithm} {_b64(self._public)}"

    # -- signing -------------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        """The RRSIG Signature field over ``data`` (the RFC 4034 §3.1.8.1 signing input)."""
        return self._sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (wire form) is this key's over ``data``."""
        public = self.private.public_key()
        try:
            if self.algorithm in _RSA_HASHES:
                public.verify(signature, data, padding.PKCS1v15(),
                              _RSA_HASHES[self.algorithm]())
            elif self.algorithm in _CURVES:
                width = _CURVES[self.algorithm][1]
                if len(signature) != 2 * width:
                    return False
                der = encode_dss_signature(int.from_bytes(signature[:width], "big"),
                                           int.from_bytes(signature[width:], "big"))
                public.verify(der, data, ec.ECDSA(_CURVES[self.algorithm][2]()))
            else:
                public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __eq__(self, other: object) -> bool:
        """Keys are equal when their DNSKEY rdata are (flags, algorithm, public key)."""
        return isinstance(other, ZoneKey) and other._rdata == self._rdata

    def __hash__(self) -> int:
        return hash(self._rdata)

    def __repr__(self) -> str:
        return f"ZoneKey(algorithm={self.algorithm}, flags={self.flags}, tag={self._tag})"


def _der_to_raw(der: bytes, width: int) -> bytes:
    """An ECDSA signature's DER SEQUENCE { INTEGER r, INTEGER s } as DNSSEC's r || s of
    ``width`` octets each (RFC 6605 §4): a signer's hot path, so read by hand (the
    lengths of a P-256/P-384 signature's parts fit one octet); anything unexpected goes
    the library's way."""
    rlen = der[3] if len(der) > 3 else 0
    at = 4 + rlen
    if len(der) < 8 or der[0] != 0x30 or der[1] & 0x80 or der[2] != 2 \
            or at + 2 > len(der) or der[at] != 2:
        r_int, s_int = decode_dss_signature(der)
        return r_int.to_bytes(width, "big") + s_int.to_bytes(width, "big")
    r = der[4:at][-width:]                # a leading 0 (sign) octet goes
    s = der[at + 2:at + 2 + der[at + 1]][-width:]
    return bytes(width - len(r)) + r + bytes(width - len(s)) + s


def key_digest(dnskey_rdata: bytes) -> bytes:
    """8 octets that tell a key from any other (blake2b of its DNSKEY rdata): how the
    server's signature requests name the key to sign with (fastdns._signing's SecKey.id)."""
    return hashlib.blake2b(dnskey_rdata, digest_size=8).digest()


def key_tag(dnskey_rdata: bytes) -> int:
    """The key tag of a DNSKEY rdata (RFC 4034 appendix B; algorithm 1's rule too)."""
    if len(dnskey_rdata) > 3 and dnskey_rdata[3] == 1:
        return int.from_bytes(dnskey_rdata[-3:-1], "big") if len(dnskey_rdata) >= 7 else 0
    acc = 0
    for i, byte in enumerate(dnskey_rdata):
        acc += byte << 8 if not i & 1 else byte
    acc += (acc >> 16) & 0xFFFF
    return acc & 0xFFFF


def canonical_wire(owner_wire: bytes) -> bytes:
    """A wire-form name with its labels' ASCII letters lowercased (RFC 4034 §6.2)."""
    out = bytearray(owner_wire)
    i = 0
    while i < len(out) and out[i]:
        length = out[i]
        for j in range(i + 1, min(i + 1 + length, len(out))):
            if 65 <= out[j] <= 90:
                out[j] += 32
        i += length + 1
    return bytes(out)


def name_wire(text: str) -> bytes:
    """``example.com`` / ``example.com.`` → its wire form, lowercased (plain names only:
    zone names as fastdns-util takes them; ``\\`` escapes are decoded)."""
    import dns.name  # the control plane only (STYLE §1: dnspython off the hot path)

    return bytes(dns.name.from_text(text).canonicalize().to_wire() or b"")


def ds_rdata(owner_wire: bytes, dnskey_rdata: bytes, digest_type: int) -> bytes:
    """The DS rdata for a DNSKEY (RFC 4034 §5.1.4, RFC 4509, RFC 6605); KeyFormatError for
    a digest type other than 1, 2 or 4."""
    if digest_type not in DIGESTS:
        raise KeyFormatError(f"unsupported DS digest type {digest_type}")
    digest = hashlib.new(DIGESTS[digest_type][0],
                         canonical_wire(owner_wire) + dnskey_rdata).digest()
    return key_tag(dnskey_rdata).to_bytes(2, "big") + bytes([dnskey_rdata[3], digest_type]) \
        + digest


def ds_text(owner_wire: bytes, dnskey_rdata: bytes, digest_type: int) -> str:
    """The DS rdata in presentation form (``TAG ALG TYPE hexdigest``, hex lowercase)."""
    rdata = ds_rdata(owner_wire, dnskey_rdata, digest_type)
    return f"{int.from_bytes(rdata[:2], 'big')} {rdata[2]} {rdata[3]} {rdata[4:].hex()}"


__all__ = [
    "ALGORITHMS",
    "DIGESTS",
    "KSK_FLAGS",
    "MNEMONICS",
    "ZSK_FLAGS",
    "Algorithm",
    "KeyFormatError",
    "ZoneKey",
    "algorithm_name",
    "algorithm_number",
    "canonical_wire",
    "ds_rdata",
    "ds_text",
    "key_tag",
    "name_wire",
]

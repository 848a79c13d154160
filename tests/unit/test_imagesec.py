"""fastdns.dnssec.imagesec: a zone image made ready for signing, and its checks.

The answers built from these images are tested end to end (tests/conformance/
test_dnssec_conformance.py, tests/integration/test_dnssec_*.py); here: what goes into the
image (the apex records the keys and settings make, direct-dnskey, the chains), presigned
zones that cannot be served signed, and images whose security section is not well formed.
"""

from __future__ import annotations

import struct

import pytest

from fastdns._snapshot import HEADER_SEC_OFF_AT, ImageError, Snapshot
from fastdns.dnssec.imagesec import (
    KEY_ALL,
    KEY_KSK,
    PresignedError,
    SigningKey,
    SigningSetup,
    broken_image,
    presigned_image,
    roles,
    secure_image,
)
from fastdns.dnssec.keys import ZoneKey
from fastdns.zone.loader import load_image_text

DNSKEY, NSEC3PARAM, CDS, CDNSKEY = 48, 51, 59, 60
ZONE = """$ORIGIN example.
$TTL 3600
@ SOA ns1 host 1 2 3 4 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
a.b.c A 192.0.2.3
sub NS ns.sub
ns.sub A 192.0.2.4
deleg.ent NS ns.example.net.
"""
KSK = ZoneKey.generate(13, 257)
ZSK = ZoneKey.generate(13, 256)
KEYS = (SigningKey(257, 13, KSK.dnskey_rdata()), SigningKey(256, 13, ZSK.dnskey_rdata()))


def apex_types(image: bytes) -> dict[int, tuple[int, list[bytes]]]:
    return {t: (ttl, rdatas) for t, ttl, rdatas, _ in Snapshot(image).node_rrsets(0)}


def test_apex_records_made_from_keys_and_settings():
    image = secure_image(load_image_text(ZONE, "example.").image,
                         SigningSetup(KEYS, (1, 0, 5, b"\xab"), cds=(2, 4), cdnskey=True))
    snap = Snapshot(image)
    assert snap.signed
    apex = apex_types(image)
    # DNSKEY, CDS, CDNSKEY, NSEC3PARAM take the SOA minimum as TTL (as PowerDNS)
    assert apex[DNSKEY] == (300, sorted([KSK.dnskey_rdata(), ZSK.dnskey_rdata()]))
    assert apex[NSEC3PARAM] == (300, [b"\x01\x00\x00\x05\x01\xab"])
    assert len(apex[CDS][1]) == 2 and apex[CDNSKEY][1] == [KSK.dnskey_rdata()]


def test_keys_not_published_are_not_in_dnskey_and_delete_records():
    keys = (KEYS[0], SigningKey(256, 13, ZSK.dnskey_rdata(), active=False, published=False))
    image = secure_image(load_image_text(ZONE, "example.").image,
                         SigningSetup(keys, cds=(0,), cdnskey=False))
    apex = apex_types(image)
    assert apex[DNSKEY][1] == [KSK.dnskey_rdata()]
    assert apex[CDS][1] == [b"\x00\x00\x00\x00\x00"]            # RFC 8078 §4: 0 0 0 00
    assert apex[CDNSKEY][1] == [b"\x00\x00\x03\x00\x00"]


def test_direct_dnskey_keeps_the_zones_own_dnskey():
    other = ZoneKey.generate(15, 257)
    text = ZONE + f"@ DNSKEY {other.dnskey_text()}\n"
    image = load_image_text(text, "example.").image
    plain = apex_types(secure_image(image, SigningSetup(KEYS)))
    direct = apex_types(secure_image(image, SigningSetup(KEYS, direct=True)))
    assert other.dnskey_rdata() not in plain[DNSKEY][1]
    assert other.dnskey_rdata() in direct[DNSKEY][1] and len(direct[DNSKEY][1]) == 3


def test_broken_image_serves_unsigned_data_but_is_marked():
    image = broken_image(load_image_text(ZONE, "example.").image)
    snap = Snapshot(image)
    assert snap.signed and DNSKEY not in apex_types(image)


def test_presigned_zone_that_cannot_be_served_signed():
    image = load_image_text(ZONE, "example.").image
    with pytest.raises(PresignedError, match="no RRSIG records"):
        presigned_image(image)
    with pytest.raises(PresignedError, match="holds no NSEC3 records"):
        presigned_image(image, (1, 0, 0, b""))


def test_a_security_section_out_of_place_is_refused():
    image = bytearray(secure_image(load_image_text(ZONE, "example.").image,
                                   SigningSetup(KEYS)))
    sec_off = struct.unpack_from("=Q", image, HEADER_SEC_OFF_AT)[0]
    Snapshot(bytes(image))
    # the keys table pointed past the image
    bad = bytearray(image)
    struct.pack_into("=Q", bad, sec_off + 536, len(image) + 8)
    with pytest.raises(ImageError):
        Snapshot(bytes(bad))
    # a link out of range (the NSEC chain names node 10,000)
    bad = bytearray(image)
    link_off = struct.unpack_from("=Q", bad, sec_off + 560)[0]
    struct.pack_into("=I", bad, link_off, 10_000)
    with pytest.raises(ImageError, match="link out of range"):
        Snapshot(bytes(bad))


def test_roles_split_per_algorithm_over_published_keys():
    ksk, zsk = KEYS
    rsa = SigningKey(256, 8, b"\x01\x00\x03\x08rsa")
    unpublished = SigningKey(256, 13, ZSK.dnskey_rdata(), published=False)
    # a KSK and a ZSK of one algorithm split; a key alone in its algorithm signs all
    assert roles([ksk, zsk]) == [KEY_KSK, 0]
    assert roles([ksk]) == [KEY_ALL | KEY_KSK]
    assert roles([ksk, rsa]) == [KEY_ALL | KEY_KSK, KEY_ALL]          # as PowerDNS
    assert roles([ksk, zsk, rsa]) == [KEY_KSK, 0, KEY_ALL]
    # a role held by an unpublished key alone does not split its algorithm
    assert roles([ksk, unpublished]) == [KEY_ALL | KEY_KSK, KEY_ALL]
    assert roles([ksk, zsk, unpublished]) == [KEY_KSK, 0, 0]

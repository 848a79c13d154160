"""fastdns.dnssec.keygen: the keys secure-zone and the API's cryptokeys make, and their
refusals."""

import pytest

from fastdns.dnssec import keygen
from fastdns.dnssec.keygen import KeygenError
from fastdns.dnssec.keys import KSK_FLAGS, ZSK_FLAGS, ZoneKey
from fastdns.dnssec.keystore import KeyRow


class MemoryStore:
    name = "memory"

    def __init__(self):
        self.rows, self.meta = [], {}

    def keys(self, zone):
        return [row for z, row in self.rows if z == zone]

    def add_keys_many(self, keys, progress=None):
        for zone, flags, active, published, content in keys:
            self.rows.append((zone, KeyRow(len(self.rows) + 1, flags, active, published,
                                           content)))
        return len(self.rows)

    def get_meta(self, zone, kind):
        return self.meta.get((zone, kind), [])


def settings(ksk="ecdsa256", zsk="", ksk_size=0, zsk_size=0):
    return {"default-ksk-algorithm": ksk, "default-zsk-algorithm": zsk,
            "default-ksk-size": ksk_size, "default-zsk-size": zsk_size}


def test_generate_refusals():
    assert keygen.generate(13, KSK_FLAGS).flags == KSK_FLAGS
    assert keygen.generate(8, ZSK_FLAGS, 1024).bits == 1024
    for args, text in (((99, 256), "Unsupported algorithm 99"),
                       ((5, 256, 1024), "does not generate algorithm 5"),
                       ((8, 256), "requires the size"),
                       ((13, 256, 384), "does not support the given bit size")):
        with pytest.raises(KeygenError, match=text):
            keygen.generate(*args)
    with pytest.raises(KeygenError, match="Unknown algorithm 'nope'"):
        keygen.algorithm("nope")


def test_secure_zone_csk_then_refuses_again():
    store = MemoryStore()
    ids = keygen.secure_zone(store, "example.com", settings())
    assert ids == [1]
    row = store.keys("example.com")[0]
    assert (row.flags, row.active, row.published) == (KSK_FLAGS, True, True)
    assert ZoneKey.from_isc(row.content, row.flags).algorithm == 13
    with pytest.raises(KeygenError, match="already secure"):
        keygen.secure_zone(store, "example.com", settings())


def test_secure_zone_ksk_and_zsk():
    store = MemoryStore()
    keygen.secure_zone(store, "example.org", settings("rsasha256", "ecdsa256", 2048))
    ksk, zsk = store.keys("example.org")
    assert (ksk.flags, zsk.flags) == (KSK_FLAGS, ZSK_FLAGS)
    assert ZoneKey.from_isc(ksk.content, ksk.flags).bits == 2048
    assert keygen.SecurePlan(settings("rsasha256", "ecdsa256", 2048)).lines() == [
        "Securing zone with key size 2048", "Adding KSK with algorithm rsasha256",
        "Adding ZSK with algorithm ecdsa256"]


def test_presigned_is_secured():
    store = MemoryStore()
    store.meta[("example.net", "PRESIGNED")] = ["1"]
    with pytest.raises(KeygenError, match="already secure"):
        keygen.secure_zone(store, "example.net", settings())
    with pytest.raises(KeygenError, match="default-ksk-algorithm is empty"):
        keygen.secure_zone(MemoryStore(), "example.net", settings(ksk=""))

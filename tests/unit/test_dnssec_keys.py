"""fastdns.dnssec.keys, keystore and zonesec: every algorithm against dnspython's
``dns.dnssec`` (DS, key tags, signature validation) and against keys written by the real
``pdnsutil`` 4.7 (byte-identical ISC text, PEM and DNSKEY)."""

import base64
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from fastdns.dnssec.keys import (
    ALGORITHMS,
    KSK_FLAGS,
    ZSK_FLAGS,
    KeyFormatError,
    ZoneKey,
    algorithm_number,
    canonical_wire,
    ds_rdata,
    key_tag,
    name_wire,
)
from fastdns.dnssec.keystore import BindDnssecDB
from fastdns.dnssec.zonesec import (
    NSEC3Param,
    load_security,
    load_security_many,
    parse_nsec3param,
)

ROOT = Path(__file__).resolve().parents[2]
PDNSUTIL = shutil.which("pdnsutil")
needs_pdnsutil = pytest.mark.skipif(PDNSUTIL is None, reason="pdnsutil is not installed")
GENERATED = (8, 10, 13, 14, 15, 16)

#: keys pdnsutil 4.7 wrote (cryptokeys.content) with their DNSKEY as it exports it
PDNS_ECDSA = ("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\n"
              "PrivateKey: JqTZe5eek/732tWTVTYg+SBWxpLqQy8u4bBxAukSqwc=\n")
PDNS_ECDSA_DNSKEY = ("257 3 13 ozoYy1n/vAyuSqrHWC2jQPKQstpzsqW92xHCBR0CbGlpFYVGFJSLITEEEpRTag2"
                     "IsqATCK0TIbW4h1Snf13pOg==")
PDNS_ECDSA_PEM = """-----BEGIN EC PRIVATE KEY-----
MHcCAQEEICak2XuXnpP+99rVk1U2IPkgVsaS6kMvLuGwcQLpEqsHoAoGCCqGSM49
AwEHoUQDQgAEozoYy1n/vAyuSqrHWC2jQPKQstpzsqW92xHCBR0CbGlpFYVGFJSL
ITEEEpRTag2IsqATCK0TIbW4h1Snf13pOg==
-----END EC PRIVATE KEY-----
"""
PDNS_ED25519 = ("Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\n"
                "PrivateKey: dB+YSVgxLxIOCFHsSnz3lHYykJN5VeNmFU2UDNqIrYE=\n")


def rdata_of(key: ZoneKey) -> dns.rdata.Rdata:
    wire = key.dnskey_rdata()
    return dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.DNSKEY, wire, 0, len(wire))


def signing_input(key: ZoneKey, zone: str, rrset: dns.rrset.RRset) -> tuple[bytes, object]:
    """The RFC 4034 §3.1.8.1 input for ``rrset`` and an RRSIG template (dnspython's)."""
    origin = dns.name.from_text(zone)
    template = dns.rdata.from_text(
        dns.rdataclass.IN, dns.rdatatype.RRSIG,
        f"{dns.rdatatype.to_text(rrset.rdtype)} {key.algorithm} {len(rrset.name) - 1} "
        f"{rrset.ttl} 20300101000000 20200101000000 {key.tag} {zone} AAAA")
    data = dns.dnssec._make_rrsig_signature_data(rrset, template, origin)
    return data, template


# --------------------------------------------------------------------------------------------
# algorithms, generation, formats


@pytest.mark.parametrize("algorithm", GENERATED)
def test_generated_key_signs_what_dnspython_validates(algorithm):
    key = ZoneKey.generate(algorithm, KSK_FLAGS, 1024 if algorithm in (8, 10) else 0)
    zone = "Example.COM."
    rrset = dns.rrset.from_text("www.example.com.", 300, "IN", "A", "192.0.2.1", "192.0.2.2")
    data, template = signing_input(key, zone, rrset)
    signature = key.sign(data)
    rrsig = template.replace(signature=signature)
    keys = {dns.name.from_text(zone): dns.rrset.from_rdata(zone, 300, rdata_of(key))}
    dns.dnssec.validate_rrsig(rrset, rrsig, keys, now=time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0)))
    assert key.verify(data, signature)
    assert not key.verify(data + b"x", signature)
    # ECDSA signatures are r||s at the curve's width
    if algorithm in (13, 14):
        assert len(signature) == (64 if algorithm == 13 else 96)
    # round trips: ISC text and PEM give the same key back
    again = ZoneKey.from_isc(key.to_isc(), KSK_FLAGS)
    assert again.dnskey_rdata() == key.dnskey_rdata()
    assert again.to_isc() == key.to_isc()
    assert ZoneKey.from_pem(key.to_pem(), algorithm, KSK_FLAGS).to_isc() == key.to_isc()
    assert again.verify(data, signature)


@pytest.mark.parametrize("algorithm", GENERATED)
def test_tag_and_ds_match_dnspython(algorithm):
    key = ZoneKey.generate(algorithm, ZSK_FLAGS, 1024 if algorithm in (8, 10) else 0)
    rdata = rdata_of(key)
    assert key.tag == dns.dnssec.key_id(rdata) == key_tag(key.dnskey_rdata())
    for digest, name in ((1, "SHA1"), (2, "SHA256"), (4, "SHA384")):
        expected = dns.dnssec.make_ds("Example.Com.", rdata, name,
                                       policy=dns.dnssec.allow_all_policy).to_wire()
        assert ds_rdata(name_wire("example.com"), key.dnskey_rdata(), digest) == expected
        # an owner with upper case letters is canonicalised
        assert ds_rdata(b"\x07EXAMPLE\x03COM\x00", key.dnskey_rdata(), digest) == expected
    with pytest.raises(KeyFormatError):
        ds_rdata(name_wire("example.com"), key.dnskey_rdata(), 3)


def test_pdnsutil_written_keys_are_read_and_written_back_byte_for_byte():
    key = ZoneKey.from_isc(PDNS_ECDSA, KSK_FLAGS)
    assert key.to_isc() == PDNS_ECDSA
    assert key.dnskey_text() == PDNS_ECDSA_DNSKEY
    assert key.tag == 19668 and key.bits == 256
    assert key.to_pem() == PDNS_ECDSA_PEM
    assert ZoneKey.from_pem(PDNS_ECDSA_PEM, 13, KSK_FLAGS).to_isc() == PDNS_ECDSA
    ed = ZoneKey.from_isc(PDNS_ED25519, KSK_FLAGS)
    assert ed.to_isc() == PDNS_ED25519 and ed.tag == 12005
    # the DS pdnsutil printed for the ECDSA key
    assert ds_rdata(name_wire("example.com"), key.dnskey_rdata(), 2)[4:].hex() == \
        "62c096a443c101a250fb4295185315673dfdbca78c74063c700a7af7e051a3d8"


def test_ed25519_signatures_are_deterministic():
    key = ZoneKey.from_isc(PDNS_ED25519)
    assert key.sign(b"abc") == key.sign(b"abc")
    assert len(key.sign(b"abc")) == 64


def test_ecdsa_private_key_with_leading_zero_keeps_full_width():
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.derive_private_key(0x1234, ec.SECP256R1())
    key = ZoneKey(13, ZSK_FLAGS, private)
    text = key.to_isc()
    raw = base64.b64decode(text.split("PrivateKey: ")[1])
    assert len(raw) == 32 and raw.endswith(b"\x12\x34")
    assert ZoneKey.from_isc(text).to_isc() == text


def test_rsasha1_is_read_and_served_but_not_generated():
    from cryptography.hazmat.primitives.asymmetric import rsa

    for algorithm in (5, 7):
        with pytest.raises(KeyFormatError, match="not generated"):
            ZoneKey.generate(algorithm)
        key = ZoneKey(algorithm, ZSK_FLAGS, rsa.generate_private_key(65537, 1024))
        text = key.to_isc()
        assert f"Algorithm: {algorithm} (RSASHA1)\nModulus: " in text
        assert [line.split(":")[0] for line in text.splitlines()] == [
            "Private-key-format", "Algorithm", "Modulus", "PublicExponent", "PrivateExponent",
            "Prime1", "Prime2", "Exponent1", "Exponent2", "Coefficient"]
        again = ZoneKey.from_isc(text)
        assert again.to_isc() == text
        rrset = dns.rrset.from_text("example.com.", 60, "IN", "TXT", '"x"')
        data, template = signing_input(key, "example.com.", rrset)
        rrsig = template.replace(signature=key.sign(data))
        keys = {dns.name.from_text("example.com."):
                dns.rrset.from_rdata("example.com.", 60, rdata_of(key))}
        dns.dnssec.validate_rrsig(rrset, rrsig, keys,
                                  now=time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0)))


def test_bind_private_files_are_read():
    text = ("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\n"
            "PrivateKey: JqTZe5eek/732tWTVTYg+SBWxpLqQy8u4bBxAukSqwc=\n"
            "Created: 20240101000000\nPublish: 20240101000000\nActivate: 20240101000000\n")
    assert ZoneKey.from_isc(text, KSK_FLAGS).to_isc() == PDNS_ECDSA


@pytest.mark.parametrize("text,message", [
    ("", "not an ISC private key"),
    ("Private-key-format: v1.2\n", "no 'Algorithm:' line"),
    ("Private-key-format: v1.2\nAlgorithm: 12 (ECC-GOST)\nPrivateKey: AAAA\n",
     "unsupported DNSKEY algorithm 12"),
    ("Private-key-format: v1.2\nAlgorithm: 99\nPrivateKey: AAAA\n",
     "unsupported DNSKEY algorithm 99"),
    ("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\n",
     "field 'PrivateKey' is missing"),
    ("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: !!!\n",
     "not valid base64"),
    ("Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: AAAA\n",
     "3 bytes long, not 32"),
    ("Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: "
     + base64.b64encode(b"\xff" * 32).decode() + "\n", "invalid algorithm 13 key"),
    ("Private-key-format: v1.2\nAlgorithm: 8 (RSASHA256)\nModulus: AQAB\n",
     "field 'PublicExponent' is missing"),
])
def test_bad_isc_text_is_a_clear_error(text, message):
    with pytest.raises(KeyFormatError, match=message):
        ZoneKey.from_isc(text)


def test_pem_of_the_wrong_kind_is_refused():
    with pytest.raises(KeyFormatError, match="needs an ECDSA secp384r1 key"):
        ZoneKey.from_pem(PDNS_ECDSA_PEM, 14)
    with pytest.raises(KeyFormatError, match="needs an RSA key"):
        ZoneKey.from_pem(PDNS_ECDSA_PEM, 8)
    with pytest.raises(KeyFormatError, match="not a PEM private key"):
        ZoneKey.from_pem("garbage", 13)


def test_sizes_and_algorithm_words():
    assert ZoneKey.generate(8, bits=1024).bits == 1024
    assert ZoneKey.generate(16).bits == 456
    with pytest.raises(KeyFormatError, match="Unsupported key length"):
        ZoneKey.generate(15, bits=512)
    with pytest.raises(KeyFormatError, match="Unsupported key length"):
        ZoneKey.generate(8, bits=512)
    assert algorithm_number("ECDSA256") == 13 and algorithm_number("13") == 13
    assert algorithm_number("rsasha1-nsec3-sha1") == 7
    with pytest.raises(KeyFormatError):
        algorithm_number("foo")
    assert sorted(ALGORITHMS) == [5, 7, 8, 10, 13, 14, 15, 16]
    assert canonical_wire(b"\x02AB\x01Z\x00") == b"\x02ab\x01z\x00"


def test_with_flags_changes_the_tag():
    key = ZoneKey.from_isc(PDNS_ECDSA, ZSK_FLAGS)
    assert key.with_flags(KSK_FLAGS).tag == key.tag + 1 and key.with_flags(ZSK_FLAGS) is key


def test_signing_is_fast_enough():
    # the loaded key object is kept: no parsing per signature
    key = ZoneKey.generate(13)
    started = time.perf_counter()
    for i in range(200):
        key.sign(b"data %d" % i)
    assert time.perf_counter() - started < 2.0


# --------------------------------------------------------------------------------------------
# keys made by the real pdnsutil, every algorithm


@pytest.fixture(scope="module")
def pdns_keys(tmp_path_factory):
    """(zone, id, flags, content, exported dnskey, exported pem) of keys pdnsutil made."""
    site = tmp_path_factory.mktemp("pdns")
    db = site / "pdns.sqlite3"
    conn = sqlite3.connect(db)
    conn.executescript((ROOT / "fastdns/backends/schema/schema.sqlite3.sql").read_text())
    conn.execute("INSERT INTO domains (name, type) VALUES ('alg.test', 'NATIVE')")
    conn.commit()
    conn.close()
    (site / "pdns.conf").write_text(f"launch=gsqlite3\ngsqlite3-database={db}\n"
                                    "gsqlite3-dnssec=yes\n")

    def run(*args):
        return subprocess.run([PDNSUTIL, f"--config-dir={site}", *args], capture_output=True,
                              text=True, timeout=60, check=True).stdout

    for word, bits in (("rsasha1", "1024"), ("rsasha1-nsec3-sha1", "1024"),
                       ("rsasha256", "1024"), ("rsasha512", "1024"), ("ecdsa256", ""),
                       ("ecdsa384", ""), ("ed25519", ""), ("ed448", "")):
        for flag in ("ksk", "zsk"):
            run("add-zone-key", "alg.test", flag, *([bits] if bits else []), "active", word)
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, flags, content FROM cryptokeys ORDER BY id").fetchall()
    conn.close()
    return [(key_id, flags, content, run("export-zone-dnskey", "alg.test", str(key_id)),
             run("export-zone-key-pem", "alg.test", str(key_id)),
             run("export-zone-ds", "alg.test"))
            for key_id, flags, content in rows]


@needs_pdnsutil
def test_every_pdnsutil_algorithm_round_trips(pdns_keys):
    assert len(pdns_keys) == 16
    for key_id, flags, content, dnskey, pem, ds in pdns_keys:
        key = ZoneKey.from_isc(content, flags)
        assert key.to_isc() == content, key_id
        assert dnskey == f"alg.test IN DNSKEY {key.dnskey_text()}\n", key_id
        assert key.to_pem() == pem, key_id
        assert ZoneKey.from_pem(pem, key.algorithm, flags).to_isc() == content
        if flags == KSK_FLAGS:
            digest = ds_rdata(name_wire("alg.test"), key.dnskey_rdata(), 2)[4:].hex()
            assert f"alg.test. IN DS {key.tag} {key.algorithm} 2 {digest} ;" in ds


@needs_pdnsutil
def test_pdnsutil_keys_sign_what_dnspython_validates(pdns_keys):
    rrset = dns.rrset.from_text("alg.test.", 60, "IN", "TXT", '"signed"')
    for _, flags, content, *_ in pdns_keys:
        key = ZoneKey.from_isc(content, flags)
        data, template = signing_input(key, "alg.test.", rrset)
        rrsig = template.replace(signature=key.sign(data))
        keys = {dns.name.from_text("alg.test."):
                dns.rrset.from_rdata("alg.test.", 60, rdata_of(key))}
        dns.dnssec.validate_rrsig(rrset, rrsig, keys,
                                  now=time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0)))


# --------------------------------------------------------------------------------------------
# key stores and ZoneSecurity


@pytest.fixture
def bind_db(tmp_path):
    from fastdns.tools.admincmds import create_bind_db

    path = tmp_path / "dnssec.db"
    create_bind_db(str(path))
    store = BindDnssecDB(str(path))
    yield store
    store.close()


def test_bind_dnssec_db_keys_and_metadata(bind_db):
    store = bind_db
    first = store.add_key("Example.com.", KSK_FLAGS, True, True, PDNS_ECDSA)
    second = store.add_key("example.com", ZSK_FLAGS, False, True, PDNS_ED25519)
    assert [r.id for r in store.keys("example.com")] == [first, second]
    assert store.set_key_active("example.com", second, True)
    assert not store.set_key_active("example.com", 999, True)
    assert store.set_key_published("example.com", first, False)
    assert store.keys("example.com")[0].published is False
    assert store.remove_key("example.com", first) and not store.remove_key("example.com", first)
    store.set_meta("example.com", "NSEC3PARAM", ["1 0 0 ab"])
    store.set_meta("example.com", "PUBLISH-CDS", ["1,2"])
    assert store.get_meta("example.com", "nsec3param") == ["1 0 0 ab"]
    assert store.all_meta("example.com") == {"NSEC3PARAM": ["1 0 0 ab"], "PUBLISH-CDS": ["1,2"]}
    store.set_meta("example.com", "PUBLISH-CDS", [])
    assert store.get_meta("example.com", "PUBLISH-CDS") == []
    assert store.add_keys_many([("a.test", KSK_FLAGS, True, True, PDNS_ECDSA),
                                ("b.test", KSK_FLAGS, True, True, PDNS_ECDSA)]) == 2
    many = load_security_many(store, ["example.com", "a.test", "c.test"])
    assert many["a.test"].signed and many["example.com"].signed
    assert many["example.com"].nsec3 == NSEC3Param(1, 0, 0, b"\xab")
    assert not many["c.test"].signed and many["c.test"].keys == ()
    assert many["example.com"] == load_security(store, "example.com")


def test_zone_security_problems(bind_db):
    store = bind_db
    zone = "p.test"
    store.add_key(zone, KSK_FLAGS, True, True, PDNS_ECDSA)
    sec = load_security(store, zone, max_iterations=100)
    assert sec.signed and sec.usable and sec.problems == []
    assert sec.active_keys()[0].tag == 19668
    store.set_meta(zone, "NSEC3PARAM", ["1 1 150 -"])
    store.set_meta(zone, "NSEC3NARROW", ["1"])
    store.set_meta(zone, "PUBLISH-CDS", ["2,4,9"])
    store.set_meta(zone, "PUBLISH-CDNSKEY", ["0"])
    sec = load_security(store, zone, max_iterations=100)
    assert sec.nsec3 is not None and sec.nsec3.opt_out and sec.narrow
    assert sec.publish_cds == (2, 4) and sec.cdnskey_delete and not sec.publish_cdnskey
    assert sec.problems == ["NSEC3PARAM '1 1 150 -': 150 iterations, above "
                            "max-nsec3-iterations=100"]
    assert not sec.usable
    store.set_meta(zone, "NSEC3PARAM", ["1 0 0 -"])
    store.set_meta(zone, "PRESIGNED", ["1"])
    sec = load_security(store, zone)
    # PowerDNS's way to say how a presigned zone hashes: no problem in itself (the image
    # checks it against the zone's own NSEC3 records)
    assert not sec.signed and sec.presigned and sec.nsec3 is not None and not sec.problems
    store.set_meta(zone, "PRESIGNED", [])
    store.set_meta(zone, "NSEC3PARAM", [])
    store.add_key(zone, ZSK_FLAGS, True, True,
                  "Private-key-format: v1.2\nAlgorithm: 12 (ECC-GOST)\nGostAsn1: AAAA\n")
    store.add_key(zone, ZSK_FLAGS, False, True,
                  "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\n")
    sec = load_security(store, zone)
    assert sec.signed and not sec.usable
    assert [p.split(":")[1].strip() for p in sec.problems] == [
        "unsupported DNSKEY algorithm 12 (ALG12)",
        "field 'PrivateKey' is missing (a key without its private part cannot sign)"]
    assert sec.keys[1].key is None and sec.keys[1].error


@pytest.mark.parametrize("text,result", [
    ("1 0 0 -", NSEC3Param(1, 0, 0, b"")),
    (" 1 1 10 AbCd", NSEC3Param(1, 1, 10, b"\xab\xcd")),
])
def test_nsec3param_parse(text, result):
    assert parse_nsec3param(text) == result
    assert parse_nsec3param(result.text()) == result
    assert result.rdata()[1] == 0


@pytest.mark.parametrize("text,message", [
    ("garbage", "expected digits at position 0 in 'garbage'"),
    ("1 0 10", "missing field at the end of record content '1 0 10'"),
    ("1 300 1 ab", "Overflow reading 8 bit integer"),
    ("1 0 70000 ab", "Overflow reading 16 bit integer"),
    ("1 0 1 zz", "Unknown hexadecimal character '122'"),
    ("1 0 1 abc", "odd number of hexadecimal digits"),
    ("", "expected digits at position 0"),
])
def test_nsec3param_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_nsec3param(text)

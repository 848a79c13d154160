"""fastdns.dnssec.nsec3 against RFC 5155 Appendix A and dnspython's ``dns.dnssec``."""

import dns.dnssec
import dns.name
import pytest

from fastdns.dnssec.nsec3 import (
    NSEC3ParamError,
    b32hex,
    b32hex_decode,
    hashed_label,
    name_labels,
    nsec3_hash,
    nsec3param_text,
    nsec_ordername,
    parse_nsec3param,
)

SALT = bytes.fromhex("aabbccdd")
#: RFC 5155 Appendix A: salt aabbccdd, 12 iterations
APPENDIX_A = {
    "example": "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
    "a.example": "35mthgpgcu1qg68fab165klnsnk3dpvl",
    "ai.example": "gjeqe526plbf1g8mklp59enfd789njgi",
    "ns1.example": "2t7b4g4vsa5smi47k61mv5bv1a22bojr",
    "ns2.example": "q04jkcevqvmu85r014c7dkba38o0ji5r",
    "w.example": "k8udemvp1j2f7eg6jebps17vp3n8i58h",
    "*.w.example": "r53bq7cc2uvmubfu5ocmm6pers9tk9en",
    "x.w.example": "b4um86eghhds6nea196smvmlo4ors995",
    "y.w.example": "ji6neoaepv8b5o6k4ev33abha8ht9fgc",
    "x.y.w.example": "2vptu5timamqttgl4luu9kg21e0aor3s",
    "xx.example": "t644ebqk9bibcna874givr6joj62mlhv",
}


@pytest.mark.parametrize("name,hashed", sorted(APPENDIX_A.items()))
def test_rfc5155_appendix_a(name: str, hashed: str) -> None:
    assert hashed_label(name, SALT, 12) == hashed
    assert hashed_label(name.upper() + ".", SALT, 12) == hashed       # case and dot
    wire = dns.name.from_text(name).to_wire()
    assert b32hex(nsec3_hash(wire, SALT, 12)) == hashed
    assert b32hex(nsec3_hash(name_labels(name), SALT, 12)) == hashed


@pytest.mark.parametrize("name", ["example.com", "A.b.C", "x\\032y.example", "a\\.b.test",
                                  "\\255.test", "*.wild.example", "."])
@pytest.mark.parametrize("salt,iterations", [(b"", 0), (b"\xab\xcd", 1), (SALT, 100)])
def test_against_dnspython(name: str, salt: bytes, iterations: int) -> None:
    expected = dns.dnssec.nsec3_hash(name, salt, iterations, 1).lower()
    assert hashed_label(name, salt, iterations) == expected
    assert len(nsec3_hash(name, salt, iterations)) == 20
    assert b32hex_decode(expected.upper()) == nsec3_hash(name, salt, iterations)


def test_parse_nsec3param_as_pdnsutil() -> None:
    assert parse_nsec3param("1 0 0 -") == (1, 0, 0, b"")
    assert parse_nsec3param("1 1 10 AB12") == (1, 1, 10, b"\xab\x12")
    # PowerDNS's hex reader: non-alphanumerics skipped, an odd digit is a high nibble
    assert parse_nsec3param(" 01\t0 0 abc trailing") == (1, 0, 0, b"\xab\xc0")
    assert parse_nsec3param("1 0 0 -1") == (1, 0, 0, b"\x10")
    assert parse_nsec3param("1 0 0 --") == (1, 0, 0, b"")
    assert nsec3param_text(*parse_nsec3param("1 1 10 AB12")) == "1 1 10 ab12"
    for text, message in (
            ("1 0 0", "missing field at the end of record content '1 0 0'"),
            ("", "missing field at the end of record content ''"),
            ("x 0 0 -", "expected digits at position 0 in 'x 0 0 -'"),
            ("1 0 -1 -", "expected digits at position 4 in '1 0 -1 -'"),
            ("1 0 0 xyz", "Unknown hexadecimal character '120'"),
            ("256 0 0 -", "Overflow reading 8 bit integer from record content"),
            ("1 0 70000 -", "Overflow reading 16 bit integer from record content")):
        with pytest.raises(NSEC3ParamError) as caught:
            parse_nsec3param(text)
        assert str(caught.value) == message


def test_nsec_ordername() -> None:
    zone = name_labels("example.com")
    assert nsec_ordername(name_labels("example.com"), zone) == ""
    assert nsec_ordername(name_labels("a.b.C.Example.com"), zone) == "c b a"
    assert nsec_ordername(name_labels("*.wild.example.com"), zone) == "wild *"
    assert nsec_ordername(name_labels("x\\032y.a\\.b.example.com"), zone) == "a\\.b x\\032y"
    assert nsec_ordername(name_labels("a.b"), ()) == "b a"
    with pytest.raises(ValueError):
        nsec_ordername(name_labels("a.example.net"), zone)

"""The cryptokeys and metadata of the HTTP API through a live server: keys made, imported,
switched and removed are served (DNSKEY, CDS) within a second, asked with dnspython; the
kinds PowerDNS 4.7 keeps from the API are refused with its words; bad input changes
nothing."""

from __future__ import annotations

import time

import dns.dnssec
import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests._support.apiserver import ZONES, ApiServer

ZONE = "keys.test."
KEYS = f"{ZONES}/{ZONE}/cryptokeys"
META = f"{ZONES}/{ZONE}/metadata"
ISC_ED25519 = ("Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\n"
               "PrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ApiServer(tmp_path_factory.mktemp("api-keys")).start()
    response = srv.api("POST", ZONES, {"name": ZONE, "kind": "Native",
                                       "nameservers": [f"ns1.{ZONE}"]})
    assert response.status_code == 201, response.text
    yield srv
    assert srv.stop() == 0, srv.log()


def dnskeys(server, rtype: str = "DNSKEY", zone: str = ZONE) -> set[str]:
    query = dns.message.make_query(zone, rtype, want_dnssec=True)
    try:
        reply = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    except dns.exception.Timeout:
        raise AssertionError(f"no answer to {rtype}:\n{server.log()[-3000:]}") from None
    return {rd.to_text(chunksize=0) for rrs in reply.answer
            if rrs.rdtype == dns.rdatatype.from_text(rtype)
            for rd in rrs}


def served_within(server, wanted, rtype: str = "DNSKEY", limit: float = 1.0) -> None:
    started = time.monotonic()
    while (got := dnskeys(server, rtype)) != wanted:
        assert time.monotonic() - started < limit, f"served {got}, wanted {wanted}"
        time.sleep(0.01)


def key_list(server) -> list[dict]:
    response = server.api("GET", KEYS)
    assert response.status_code == 200, response.text
    return response.json()


def test_keys_made_activated_and_removed_are_served_within_a_second(server):
    assert key_list(server) == []
    started = time.monotonic()
    response = server.api("POST", KEYS, {"keytype": "csk", "active": True})
    assert response.status_code == 201, response.text
    csk = response.json()
    served_within(server, {csk["dnskey"]}, limit=1.0 - (time.monotonic() - started))
    assert csk["type"] == "Cryptokey" and csk["keytype"] == "csk" and csk["flags"] == 257
    assert csk["algorithm"] == "ECDSAP256SHA256" and csk["bits"] == 256
    assert csk["active"] is True and csk["published"] is True
    assert csk["privatekey"].startswith("Private-key-format: v1.2\nAlgorithm: 13")
    assert [ds.split()[2] for ds in csk["ds"]] == ["1", "2", "4"]
    assert "cds" not in csk
    # the DS shown is the DS of the DNSKEY served
    served = dns.message.make_query(ZONE, "DNSKEY")
    reply = dns.query.udp(served, "127.0.0.1", port=server.port, timeout=2)
    ds = dns.dnssec.make_ds(ZONE, reply.answer[0][0], "SHA256")
    assert ds.to_text(chunksize=0) == csk["ds"][1]

    # an inactive ZSK of another algorithm: published, so served; listed without its secret
    response = server.api("POST", KEYS, {"keytype": "zsk", "algorithm": "rsasha256",
                                         "bits": 1024})
    assert response.status_code == 201, response.text
    zsk = response.json()
    assert zsk["flags"] == 256 and zsk["bits"] == 1024 and zsk["active"] is False
    served_within(server, {csk["dnskey"], zsk["dnskey"]})
    listed = key_list(server)
    assert [k["id"] for k in listed] == [csk["id"], zsk["id"]]
    assert all("privatekey" not in k for k in listed)
    single = server.api("GET", f"{KEYS}/{zsk['id']}").json()
    assert single["privatekey"].startswith("Private-key-format: v1.2\nAlgorithm: 8")

    # unpublish it: gone from the DNSKEY set; PUT answers 204
    response = server.api("PUT", f"{KEYS}/{zsk['id']}", {"active": False, "published": False})
    assert response.status_code == 204, response.text
    served_within(server, {csk["dnskey"]})
    again = server.api("GET", f"{KEYS}/{zsk['id']}").json()
    assert (again["active"], again["published"]) == (False, False)

    # PUBLISH-CDS: the CDS records are served and shown in the key
    response = server.api("PUT", f"{META}/PUBLISH-CDS", {"metadata": ["2"]})
    assert response.status_code == 200, response.text
    served_within(server, {csk["ds"][1]}, rtype="CDS")
    assert server.api("GET", f"{KEYS}/{csk['id']}").json()["cds"] == [csk["ds"][1]]
    assert server.api("DELETE", f"{META}/PUBLISH-CDS").status_code == 200
    served_within(server, set(), rtype="CDS")

    # removed: 204, then 404, not served
    assert server.api("DELETE", f"{KEYS}/{zsk['id']}").status_code == 204
    assert server.api("GET", f"{KEYS}/{zsk['id']}").status_code == 404
    assert server.api("DELETE", f"{KEYS}/{zsk['id']}").status_code == 404
    served_within(server, {csk["dnskey"]})


def test_an_active_unpublished_key_leaves_the_zone_answered(server):
    # the ZSK is activated within a second of the signer's first reading of the zone's
    # keys: the signer must read them again at once (it once refused the new key for a
    # second, and the queries waiting for its signatures got no answer in time)
    zone = "unpublished.test."
    keys = f"{ZONES}/{zone}/cryptokeys"
    assert server.api("POST", ZONES, {"name": zone, "kind": "Native",
                                      "nameservers": [f"ns1.{zone}"]}).status_code == 201
    assert server.api("POST", keys, {"keytype": "csk", "active": True}).status_code == 201
    zsk = server.api("POST", keys, {"keytype": "zsk", "algorithm": "rsasha256",
                                    "bits": 1024}).json()
    response = server.api("PUT", f"{keys}/{zsk['id']}", {"active": True, "published": False})
    assert response.status_code == 204, response.text
    assert server.api("PUT", f"{ZONES}/{zone}/metadata/PUBLISH-CDS",
                      {"metadata": ["2"]}).status_code == 200
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        dnskeys(server, "CDS", zone)
        time.sleep(0.01)
    assert f"no active key: zone {zone.rstrip('.')}" not in server.log()


def test_a_key_imported_from_its_isc_text(server):
    response = server.api("POST", KEYS, {"keytype": "ksk", "active": False,
                                         "privatekey": ISC_ED25519})
    assert response.status_code == 201, response.text
    key = response.json()
    assert key["algorithm"] == "ED25519" and key["flags"] == 257
    assert key["privatekey"] == ISC_ED25519
    started = time.monotonic()
    while key["dnskey"] not in dnskeys(server):
        assert time.monotonic() - started < 1.0
        time.sleep(0.01)
    assert server.api("DELETE", f"{KEYS}/{key['id']}").status_code == 204


@pytest.mark.parametrize(("body", "status", "error"), [
    ({}, 422, "Key 'keytype' not present or not a String"),
    ({"keytype": "bad"}, 422, "Invalid keytype bad"),
    ({"keytype": "zsk", "algorithm": "nope"}, 422, "Unknown algorithm: nope"),
    ({"keytype": "zsk", "algorithm": "rsasha256"}, 422,
     "Creating an algorithm 8 (RSASHA256) key requires the size (in bits) to be passed."),
    ({"keytype": "zsk", "algorithm": "ecdsa256", "bits": 1024}, 422,
     "The algorithm does not support the given bit size."),
    ({"keytype": "zsk", "bits": -1}, 422, "'bits' must be a positive integer value"),
    ({"keytype": "zsk", "bits": "x"}, 422, "'bits' must be a positive integer value"),
    ({"keytype": "zsk", "active": "yes"}, 422, "Key 'active' not present or not a Bool"),
    ({"keytype": "zsk", "privatekey": "garbage"}, 422,
     "Key could not be parsed. Make sure your key format is correct."),
    ({"keytype": "zsk", "privatekey": "garbage", "bits": 256}, 422,
     "Either you submit just the 'privatekey' field or you leave 'privatekey' empty and "
     "submit the other fields."),
])
def test_bad_key_requests_are_refused_and_change_nothing(server, body, status, error):
    before = key_list(server)
    response = server.api("POST", KEYS, body)
    assert (response.status_code, response.json()) == (status, {"error": error})
    assert key_list(server) == before


def test_bad_key_paths_and_bodies(server):
    assert server.api("GET", f"{ZONES}/nozone.test./cryptokeys").status_code == 404
    assert server.api("GET", f"{KEYS}/abc").status_code == 404
    assert server.api("GET", f"{KEYS}/999").status_code == 404
    assert server.api("PUT", f"{KEYS}/999", {"active": True}).status_code == 404
    assert server.api("GET", "/api/v1/servers/other/zones/keys.test./cryptokeys") \
        .status_code == 404
    response = server.api("POST", KEYS, data="{not json",
                          headers={"Content-Type": "application/json"}, json=None)
    assert response.status_code == 400 and "error" in response.json()
    key = server.api("POST", KEYS, {"keytype": "zsk", "algorithm": "ed25519"}).json()
    response = server.api("PUT", f"{KEYS}/{key['id']}", {"published": False})
    assert (response.status_code, response.json()) == \
        (422, {"error": "Key 'active' not present or not a Bool"})
    assert server.api("GET", f"{KEYS}/{key['id']}").json()["published"] is True
    assert server.api("DELETE", f"{KEYS}/{key['id']}").status_code == 204


def test_metadata_crud(server):
    response = server.api("POST", META, {"kind": "ALSO-NOTIFY", "metadata": ["192.0.2.1"]})
    assert response.status_code == 201, response.text
    response = server.api("POST", META, {"kind": "ALSO-NOTIFY",
                                         "metadata": ["192.0.2.2", "192.0.2.1", "192.0.2.2"]})
    assert response.json() == {"type": "Metadata", "kind": "ALSO-NOTIFY",
                               "metadata": ["192.0.2.1", "192.0.2.2"]}
    assert server.api("GET", f"{META}/ALSO-NOTIFY").json()["metadata"] == \
        ["192.0.2.1", "192.0.2.2"]
    response = server.api("PUT", f"{META}/X-TEST", {"metadata": ["b", "a"]})
    assert response.status_code == 200
    assert response.json() == {"type": "Metadata", "kind": "X-TEST", "metadata": ["b", "a"]}
    kinds = [m["kind"] for m in server.api("GET", META).json()]
    assert kinds == sorted(kinds) and {"ALSO-NOTIFY", "X-TEST", "SOA-EDIT-API"} <= set(kinds)
    assert server.api("GET", f"{META}/X-NONE").json() == \
        {"type": "Metadata", "kind": "X-NONE", "metadata": []}
    response = server.api("DELETE", f"{META}/X-TEST")
    assert response.status_code == 200 and response.text == ""
    assert server.api("GET", f"{META}/X-TEST").json()["metadata"] == []
    # NSEC3PARAM may be read, not changed
    assert server.api("GET", f"{META}/NSEC3PARAM").status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "error"), [
    ("POST", META, {"kind": "NSEC3PARAM", "metadata": ["1 0 0 -"]},
     "Unsupported metadata kind 'NSEC3PARAM'"),
    ("PUT", f"{META}/PRESIGNED", {"metadata": ["1"]}, "Unsupported metadata kind 'PRESIGNED'"),
    ("DELETE", f"{META}/NSEC3NARROW", None, "Unsupported metadata kind 'NSEC3NARROW'"),
    ("PUT", f"{META}/LUA-AXFR-SCRIPT", {"metadata": []},
     "Unsupported metadata kind 'LUA-AXFR-SCRIPT'"),
    ("POST", META, {"kind": "SOA-EDIT-API", "metadata": ["EPOCH"]},
     "Unsupported metadata kind 'SOA-EDIT-API'"),
    ("GET", f"{META}/API-RECTIFY", None, "Unsupported metadata kind 'API-RECTIFY'"),
    ("POST", META, {"kind": "FOO", "metadata": []}, "Unsupported metadata kind 'FOO'"),
    ("POST", META, {"kind": "x-lower", "metadata": []}, "Unsupported metadata kind 'x-lower'"),
    ("POST", META, {"kind": 3, "metadata": []}, "kind is not specified or not a string"),
    ("POST", META, {"kind": "X-A", "metadata": "1"}, "metadata is not specified or not an array"),
    ("POST", META, {"kind": "X-A", "metadata": [1]}, "metadata must be strings"),
    ("PUT", f"{META}/X-A", {}, "metadata is not specified or not an array"),
    ("PUT", f"{META}/PUBLISH-CDS", {"metadata": ["7"]}, None),
])
def test_metadata_refusals_change_nothing(server, method, path, body, error):
    before = server.api("GET", META).json()
    response = server.api(method, path, body)
    assert response.status_code == 422, response.text
    if error is not None:
        assert response.json() == {"error": error}
    assert server.api("GET", META).json() == before
    assert server.api("GET", f"{ZONES}/nozone.test./metadata").status_code == 404

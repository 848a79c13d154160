"""The pdns_server API harness (tests/_support/pdnsapi.py) proved against pdns_server itself:
a zone created through its API is read back through the API and served over DNS, and the
API description it serves parses."""

import json

import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

from tests._support.pdnsapi import PdnsApi, pdns_spec
from tests._support.servers import ROOT


@pytest.fixture(scope="module")
def pdns(tmp_path_factory):
    with PdnsApi(tmp_path_factory.mktemp("pdnsapi")) as server:
        yield server


def test_create_zone_read_back_and_served(pdns):
    status, created, _ = pdns.request("POST", "/servers/localhost/zones", json={
        "name": "harness.test.", "kind": "Native", "nameservers": ["ns1.harness.test."],
        "rrsets": [{"name": "www.harness.test.", "type": "A", "ttl": 300,
                    "records": [{"content": "192.0.2.80", "disabled": False}]}]})
    assert status == 201, created
    assert created["id"] == "harness.test." and created["kind"] == "Native"

    status, zone, headers = pdns.request("GET", "/servers/localhost/zones/harness.test.")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    rrsets = {(r["name"], r["type"]): r for r in zone["rrsets"]}
    assert rrsets["www.harness.test.", "A"]["records"] == [{"content": "192.0.2.80",
                                                           "disabled": False}]
    assert rrsets["harness.test.", "NS"]["records"][0]["content"] == "ns1.harness.test."
    assert ("harness.test.", "SOA") in rrsets

    answer = pdns.query("www.harness.test.", "A")
    assert answer.rcode() == dns.rcode.NOERROR
    assert [str(rd) for rd in answer.find_rrset(answer.answer, answer.question[0].name,
                                                 dns.rdataclass.IN, dns.rdatatype.A)] \
        == ["192.0.2.80"]

    status, listed, _ = pdns.request("GET", "/servers/localhost/zones",
                                     params={"zone": "harness.test."})
    assert status == 200 and [z["name"] for z in listed] == ["harness.test."]


def test_key_required_and_spec_served(pdns):
    status, _, _ = pdns.request("GET", "/servers/localhost/zones", key=None)
    assert status == 401
    status, _, _ = pdns.request("GET", "/servers/localhost/zones", key="wrong")
    assert status == 401
    spec = pdns_spec(pdns)
    assert spec["swagger"] == "2.0" and spec["basePath"] == "/api/v1"
    assert "/servers/{server_id}/zones/{zone_id}" in spec["paths"]


def test_our_openapi_covers_pdns_spec(pdns):
    """fastdns/api/openapi.json has every operation of the spec pdns_server 4.7 serves (bar
    its /error demo), with the same parameters and the same success status."""
    ours = json.loads((ROOT / "fastdns" / "api" / "openapi.json").read_text())
    theirs = pdns_spec(pdns)
    assert ours["basePath"] == theirs["basePath"]
    assert ours["securityDefinitions"]["APIKeyHeader"] == {
        **theirs["securityDefinitions"]["APIKeyHeader"],
        "description": ours["securityDefinitions"]["APIKeyHeader"]["description"]}
    missing, params = [], []
    for path, item in theirs["paths"].items():
        if path == "/error":
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            mine = ours["paths"].get(path, {}).get(method)
            if mine is None:
                missing.append(f"{method.upper()} {path}")
                continue
            want = {(p["name"], p["in"]) for p in [*item.get("parameters", []),
                                                    *operation.get("parameters", [])]}
            have = {(p["name"], p["in"]) for p in mine.get("parameters", [])}
            if want - have:
                params.append(f"{method.upper()} {path}: {sorted(want - have)}")
            success = {c for c in operation["responses"] if c.startswith("2")}
            if not success & set(mine["responses"]):
                params.append(f"{method.upper()} {path}: success {success} not described")
    assert missing == [] and params == []

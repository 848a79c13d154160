"""Who may use the HTTP API, and what a bad request gets: every API path wants the key
(plain, or hashed by pdnsutil's ``hash-password``) and an address in
``webserver-allow-from``; malformed, mistyped and oversized requests get a 4xx with a JSON
error and change nothing; the key never reaches the log; every answer carries PowerDNS's
security headers."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import requests

from tests._support.apiserver import API_KEY, ZONES, ApiServer

HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "deny",
           "X-Permitted-Cross-Domain-Policies": "none", "X-XSS-Protection": "1; mode=block"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ApiServer(tmp_path_factory.mktemp("api-security"),
                    {"webserver-loglevel": "detailed", "webserver-max-bodysize": "1"}).start()
    yield srv
    assert srv.stop() == 0, srv.log()


def zone_names(server) -> list[str]:
    return sorted(z["name"] for z in server.api("GET", ZONES).json())


def assert_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json().get("error"), str) and response.json()["error"]
    for name, value in HEADERS.items():
        assert response.headers[name] == value


@pytest.mark.parametrize("path", ["/api/v1/servers", ZONES, f"{ZONES}/example.test.",
                                  "/api/v1/servers/localhost/statistics", "/api/docs"])
@pytest.mark.parametrize("key", [None, "", "wrong", API_KEY + "x", API_KEY[:-1]])
def test_every_api_path_wants_the_key(server, path, key):
    assert_json_error(server.api("GET", path, key=key), 401)


def test_the_key_may_come_in_the_query_string(server):
    response = server.api("GET", ZONES, key=None, params={"api-key": API_KEY})
    assert response.status_code == 200


def test_a_write_without_the_key_changes_nothing(server):
    before = zone_names(server)
    body = {"name": "sneaky.test.", "kind": "Native", "nameservers": ["ns.sneaky.test."]}
    assert_json_error(server.api("POST", ZONES, body, key="wrong"), 401)
    assert zone_names(server) == before


@pytest.mark.parametrize("body, status", [
    ('{"name": "x.test.", ', 400),                   # malformed JSON
    ("[1, 2]", 400),                                  # not an object
    ("", 400),
    ('{"name": 12}', 422),                            # wrong type
    ('{"name": "bad..name.", "kind": "Native"}', 422),
    ('{"name": "x.test.", "kind": "Native", "rrsets": {"a": 1}}', 422),
    ('{"name": "x.test.", "kind": "Native", "masters": "192.0.2.1"}', 422),
])
def test_malformed_requests_get_a_json_error_and_change_nothing(server, body, status):
    before = zone_names(server)
    response = server.api("POST", ZONES, data=body, headers={"Content-Type": "application/json"})
    assert_json_error(response, status)
    assert zone_names(server) == before


def test_an_oversized_body_is_refused_before_it_is_read(server):
    before = zone_names(server)
    big = {"name": "big.test.", "kind": "Native", "nameservers": ["ns.big.test."],
           "rrsets": [{"name": f"n{i}.big.test.", "type": "TXT", "ttl": 60,
                       "records": [{"content": '"' + "x" * 200 + '"'}]} for i in range(6000)]}
    assert_json_error(server.api("POST", ZONES, big), 413)
    assert zone_names(server) == before


def test_unknown_paths_and_methods_get_json_errors(server):
    assert_json_error(server.api("GET", "/api/v1/servers/localhost/nothing"), 404)
    assert_json_error(server.api("GET", f"{ZONES}/nosuchzone.test."), 404)
    assert_json_error(server.api("POST", f"{ZONES}/x.test./export"), 405)


def test_the_key_never_reaches_the_log(server):
    server.api("GET", ZONES, key=None, params={"api-key": API_KEY})
    server.api("GET", ZONES, key=API_KEY + "-wrong")
    server.api("GET", ZONES)
    log = server.log()
    assert "HTTP GET /api/v1/servers/localhost/zones" in log      # detailed: every request
    assert API_KEY not in log


def test_the_spec_is_served_to_key_holders(server):
    response = server.api("GET", "/api/docs")
    assert response.status_code == 200
    spec = response.json()
    assert spec["swagger"] == "2.0" and "/servers/{server_id}/zones" in spec["paths"]


def test_an_address_outside_allow_from_is_refused(tmp_path):
    with ApiServer(tmp_path, {"webserver-allow-from": "192.0.2.0/24, 2001:db8::/32"}) as srv:
        body = {"name": "denied.test.", "kind": "Native", "nameservers": ["ns.denied.test."]}
        assert_json_error(srv.api("POST", ZONES, body), 403)
        assert_json_error(srv.api("GET", ZONES), 403)
    # nothing was created: the same database, served with an open allow-from
    with ApiServer(tmp_path, {"webserver-allow-from": "127.0.0.0/8"}) as srv:
        assert zone_names(srv) == []


@pytest.mark.skipif(shutil.which("pdnsutil") is None, reason="pdnsutil (pdns-tools) missing")
def test_a_key_hashed_by_pdnsutil_is_accepted(tmp_path):
    hashed = subprocess.run(["pdnsutil", "hash-password"], input="hashed-secret\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    assert hashed.startswith("$scrypt$")
    with ApiServer(tmp_path, {"api-key": hashed}) as srv:
        assert srv.api("GET", ZONES, key="hashed-secret").status_code == 200
        assert_json_error(srv.api("GET", ZONES, key=hashed), 401)
        assert_json_error(srv.api("GET", ZONES, key="hashed-secre"), 401)


def test_plaintext_credentials_hashed_in_memory_still_match(tmp_path):
    with ApiServer(tmp_path, {"webserver-hash-plaintext-credentials": "yes"}) as srv:
        assert srv.api("GET", ZONES).status_code == 200
        assert_json_error(srv.api("GET", ZONES, key="nope"), 401)


def test_api_off_means_no_api_and_webserver_off_means_no_page(tmp_path):
    with ApiServer(tmp_path / "a", {"api": "no"}) as srv:
        assert_json_error(srv.api("GET", ZONES), 404)
        assert requests.get(srv.url + "/metrics", timeout=5).status_code == 200
    with ApiServer(tmp_path / "b", {"webserver": "no"}) as srv:
        assert srv.api("GET", ZONES).status_code == 200
        assert_json_error(requests.get(srv.url + "/metrics", timeout=5), 404)

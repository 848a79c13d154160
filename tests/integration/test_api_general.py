"""The server-wide endpoints of the HTTP API through a live server: discovery, the server,
config (secrets hidden), statistics (statistic=, includerings=, 422), search-data,
cache/flush, TSIG keys and autoprimaries; bad input gets a 4xx JSON error and changes
nothing."""

from __future__ import annotations

import base64

import dns.message
import dns.query
import pytest

from tests._support.apiserver import API_KEY, ZONES, ApiServer

SERVER = "/api/v1/servers/localhost"
TSIG = f"{SERVER}/tsigkeys"
AUTOPRIMARIES = f"{SERVER}/autoprimaries"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ApiServer(tmp_path_factory.mktemp("api-general"),
                    {"webserver-password": "web-secret"}).start()
    response = srv.api("POST", ZONES, {
        "name": "search.test.", "kind": "Native", "nameservers": ["ns1.search.test."],
        "rrsets": [{"name": "www.search.test.", "type": "A", "ttl": 300,
                    "changetype": "REPLACE",
                    "records": [{"content": "192.0.2.1", "disabled": False}],
                    "comments": [{"content": "the web server", "account": "ops"}]},
                   {"name": "search.test.", "type": "MX", "ttl": 300, "changetype": "REPLACE",
                    "records": [{"content": "10 mail.search.test.", "disabled": False}]}]})
    assert response.status_code == 201, response.text
    yield srv
    assert srv.stop() == 0, srv.log()


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def refused(response, status: int = 422) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()["error"]


def test_discovery_and_server(server):
    assert ok(server.api("GET", "/api")) == [{"url": "/api/v1", "version": 1}]
    assert ok(server.api("GET", "/api/v1")) == \
        [{"server_url": "/api/v1/servers{/server}", "api_features": []}]
    servers = ok(server.api("GET", "/api/v1/servers"))
    assert servers == [ok(server.api("GET", SERVER))]
    one = servers[0]
    assert one["type"] == "Server" and one["id"] == "localhost"
    assert one["daemon_type"] == "authoritative" and one["url"] == SERVER
    assert one["zones_url"] == SERVER + "/zones{/zone}"
    assert one["config_url"] == SERVER + "/config{/config_setting}"
    refused(server.api("GET", "/api/v1/servers/other"), 404)
    refused(server.api("GET", "/api/v1/servers/other/config"), 404)
    refused(server.api("GET", "/api/v1/servers/other/statistics"), 404)


def test_config_lists_every_setting_with_secrets_hidden(server):
    settings = {s["name"]: s for s in ok(server.api("GET", f"{SERVER}/config"))}
    assert all(s["type"] == "ConfigSetting" for s in settings.values())
    assert settings["webserver-port"]["value"] == str(server.web_port)
    assert settings["launch"]["value"] == "gsqlite3"
    for secret in ("api-key", "webserver-password"):
        assert settings[secret]["value"] == "***"
    assert API_KEY not in server.api("GET", f"{SERVER}/config").text
    assert "web-secret" not in server.api("GET", f"{SERVER}/config").text
    assert ok(server.api("GET", f"{SERVER}/config/local-port")) == \
        {"type": "ConfigSetting", "name": "local-port", "value": str(server.port)}
    assert ok(server.api("GET", f"{SERVER}/config/api-key"))["value"] == "***"
    refused(server.api("GET", f"{SERVER}/config/no-such-setting"), 404)


def test_statistics(server):
    query = dns.message.make_query("www.search.test.", "A")
    dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    items = ok(server.api("GET", f"{SERVER}/statistics"))
    plain = {i["name"]: i["value"] for i in items if i["type"] == "StatisticItem"}
    assert {"uptime", "udp-queries", "packetcache-hit"} <= set(plain)
    assert all(isinstance(v, str) and v.isdigit() for v in plain.values())
    maps = {i["name"]: i["value"] for i in items if i["type"] == "MapStatisticItem"}
    assert set(maps) == {"response-by-qtype", "response-sizes", "response-by-rcode"}
    rings = [i for i in items if i["type"] == "RingStatisticItem"]
    assert [r["name"] for r in rings] == ["remotes"]
    no_rings = ok(server.api("GET", f"{SERVER}/statistics", params={"includerings": "false"}))
    assert not [i for i in no_rings if i["type"] == "RingStatisticItem"]
    one = ok(server.api("GET", f"{SERVER}/statistics", params={"statistic": "uptime"}))
    assert [(i["name"], i["type"]) for i in one] == [("uptime", "StatisticItem")]
    for name in ("nope", "response-sizes", "remotes"):
        assert refused(server.api("GET", f"{SERVER}/statistics",
                                  params={"statistic": name})) == "Unknown statistic name"


def search(server, **params) -> list[dict]:
    return ok(server.api("GET", f"{SERVER}/search-data", params=params))


def test_search_data(server):
    found = search(server, q="*search*")
    assert {"object_type": "zone", "name": "search.test.", "zone_id": "search.test."} in found
    records = [f for f in found if f["object_type"] == "record"]
    assert {"object_type": "record", "name": "www.search.test.", "type": "A",
            "content": "192.0.2.1", "ttl": 300, "disabled": False, "zone": "search.test.",
            "zone_id": "search.test."} in records
    assert {(r["type"], r["content"]) for r in records} >= \
        {("MX", "10 mail.search.test."), ("NS", "ns1.search.test.")}
    assert [f["object_type"] for f in found] == sorted(
        (f["object_type"] for f in found), key=["zone", "record", "comment"].index)
    assert search(server, q="THE WEB*") == [
        {"object_type": "comment", "name": "www.search.test.", "type": "A",
         "content": "the web server", "zone": "search.test.", "zone_id": "search.test."}]
    assert [f["content"] for f in search(server, q="192.0.2.?")] == ["192.0.2.1"]
    assert {f["object_type"] for f in search(server, q="*", object_type="zone")} == {"zone"}
    assert len(search(server, q="*", object_type="record", max="1")) == 1
    assert search(server, q="100%_none") == []
    assert refused(server.api("GET", f"{SERVER}/search-data")) == "Query q can't be blank"
    assert refused(server.api("GET", f"{SERVER}/search-data", params={"q": "*", "max": "0"})) \
        == "Maximum entries must be larger than 0"
    refused(server.api("GET", f"{SERVER}/search-data", params={"q": "*", "max": "x"}))
    assert refused(server.api("GET", f"{SERVER}/search-data",
                              params={"q": "*", "object_type": "bad"})).startswith(
        "object_type must be one of the following options")


def test_cache_flush(server):
    query = dns.message.make_query("www.search.test.", "A")
    for _ in range(2):
        dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    flushed = ok(server.api("PUT", f"{SERVER}/cache/flush",
                            params={"domain": "search.test."}))
    assert flushed["result"] == "Flushed cache." and isinstance(flushed["count"], int)
    assert ok(server.api("PUT", f"{SERVER}/cache/flush",
                         params={"domain": "other.test."})) == \
        {"count": 0, "result": "Flushed cache."}
    assert refused(server.api("PUT", f"{SERVER}/cache/flush",
                              params={"domain": "search.test"})) == \
        "DNS Name 'search.test' is not canonical"
    refused(server.api("PUT", f"{SERVER}/cache/flush"))


def test_tsig_keys(server):
    assert ok(server.api("GET", TSIG)) == []
    made = ok(server.api("POST", TSIG, {"name": "made", "algorithm": "hmac-sha256"}), 201)
    assert made["type"] == "TSIGKey" and made["id"] == "made." and made["name"] == "made"
    assert made["algorithm"] == "hmac-sha256" and len(base64.b64decode(made["key"])) == 64
    given = ok(server.api("POST", TSIG, {"name": "Given.", "algorithm": "HMAC-SHA512",
                                         "key": "c2VjcmV0"}), 201)
    assert (given["name"], given["algorithm"], given["key"]) == \
        ("given", "hmac-sha512", "c2VjcmV0")
    listed = ok(server.api("GET", TSIG))
    assert [(k["name"], k["key"]) for k in listed] == [("made", ""), ("given", "")]
    assert ok(server.api("GET", f"{TSIG}/made.")) == made
    assert ok(server.api("GET", f"{TSIG}/made")) == made
    refused(server.api("POST", TSIG, {"name": "made", "algorithm": "hmac-sha1"}), 409)
    changed = ok(server.api("PUT", f"{TSIG}/made.", {"algorithm": "hmac-sha1",
                                                      "name": "renamed"}))
    assert (changed["name"], changed["algorithm"], changed["key"]) == \
        ("renamed", "hmac-sha1", made["key"])
    refused(server.api("GET", f"{TSIG}/made."), 404)
    refused(server.api("PUT", f"{TSIG}/renamed.", {"name": "given"}), 409)
    assert ok(server.api("GET", f"{TSIG}/renamed."))["algorithm"] == "hmac-sha1"
    assert server.api("DELETE", f"{TSIG}/renamed.").status_code == 204
    refused(server.api("DELETE", f"{TSIG}/renamed."), 404)
    assert [k["name"] for k in ok(server.api("GET", TSIG))] == ["given"]


@pytest.mark.parametrize(("body", "error"), [
    ({"name": "k3", "algorithm": "hmac-nope"}, "Unknown TSIG algorithm: hmac-nope"),
    ({"name": "k3", "algorithm": "hmac-md5", "key": "!!!"},
     "TSIG content '!!!' cannot be base64-decoded"),
    ({"name": "k3"}, "Key 'algorithm' not present or not a String"),
    ({"algorithm": "hmac-md5"}, "Key 'name' not present or not a String"),
    ({"name": 5, "algorithm": "hmac-md5"}, "Key 'name' not present or not a String"),
    ({"name": "bad..name", "algorithm": "hmac-md5"}, "Unable to parse DNS Name 'bad..name'"),
    ({"name": "k3", "algorithm": "hmac-md5", "key": 7},
     "TSIG content '7' cannot be base64-decoded"),
])
def test_bad_tsig_keys_are_refused_and_change_nothing(server, body, error):
    before = ok(server.api("GET", TSIG))
    assert refused(server.api("POST", TSIG, body)) == error
    assert ok(server.api("GET", TSIG)) == before


def test_autoprimaries(server):
    assert ok(server.api("GET", AUTOPRIMARIES)) == []
    response = server.api("POST", AUTOPRIMARIES, {"ip": "192.0.2.1",
                                                   "nameserver": "ns1.example.org.",
                                                   "account": "acc"})
    assert response.status_code == 201 and response.text == ""
    assert ok(server.api("GET", AUTOPRIMARIES)) == \
        [{"ip": "192.0.2.1", "nameserver": "ns1.example.org", "account": "acc"}]
    refused(server.api("POST", AUTOPRIMARIES, {"ip": "192.0.2.1",
                                               "nameserver": "ns1.example.org"}), 409)
    for body, error in (({"ip": "192.0.2.2"}, "Key 'nameserver' not present or not a String"),
                        ({"ip": "", "nameserver": ""}, "ip and nameserver fields must be filled"),
                        ({"ip": "not-ip", "nameserver": "ns"}, "'not-ip' is not an IP address"),
                        ({"ip": "192.0.2.2", "nameserver": "ns", "account": 1},
                         "Key 'account' is not a String")):
        assert refused(server.api("POST", AUTOPRIMARIES, body)) == error
    assert len(ok(server.api("GET", AUTOPRIMARIES))) == 1
    path = f"{AUTOPRIMARIES}/192.0.2.1/ns1.example.org"
    assert server.api("DELETE", path).status_code == 204
    assert server.api("DELETE", path).status_code == 204      # gone already: as 4.7
    assert ok(server.api("GET", AUTOPRIMARIES)) == []


@pytest.mark.parametrize(("method", "path"), [
    ("POST", TSIG), ("PUT", f"{TSIG}/given."), ("POST", AUTOPRIMARIES)])
def test_malformed_json_is_a_400_and_changes_nothing(server, method, path):
    before = (ok(server.api("GET", TSIG)), ok(server.api("GET", AUTOPRIMARIES)))
    for data in ("{not json", "[1, 2]", "", "null"):
        response = server.api(method, path, data=data,
                              headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, response.text
        assert "error" in response.json()
    assert (ok(server.api("GET", TSIG)), ok(server.api("GET", AUTOPRIMARIES))) == before


def test_every_path_needs_the_key(server):
    for path in ("/api", SERVER, f"{SERVER}/config", f"{SERVER}/statistics", TSIG,
                 AUTOPRIMARIES, f"{SERVER}/search-data?q=*"):
        assert server.api("GET", path, key=None).status_code == 401
        assert server.api("GET", path, key="wrong").status_code == 401


def test_a_tsig_key_changed_through_the_api_is_used_for_transfers_at_once(server):
    """A key's new secret signs the next transfer; the old one gets BADSIG."""
    import dns.rcode
    import dns.tsig
    import dns.tsigkeyring

    old, new = (base64.b64encode(bytes([n]) * 32).decode() for n in (1, 2))
    ok(server.api("POST", TSIG, {"name": "xfr-key", "algorithm": "hmac-sha256",
                                 "key": old}), 201)
    ok(server.api("PUT", f"{ZONES}/search.test.", {"master_tsig_key_ids": ["xfr-key."]}), 204)
    assert server.api("GET", f"{ZONES}/search.test.").json()["master_tsig_key_ids"] == \
        ["xfr-key."]

    def transfer(secret: str) -> list[dns.message.Message]:
        keyring = dns.tsigkeyring.from_text({"xfr-key.": ("hmac-sha256", secret)})
        return list(dns.query.xfr("127.0.0.1", "search.test.", port=server.port,
                                  keyring=keyring, keyname="xfr-key.", timeout=5,
                                  source="127.0.0.2"))

    assert transfer(old)[0].answer
    ok(server.api("PUT", f"{TSIG}/xfr-key.", {"key": new}))
    deadline = __import__("time").monotonic() + 1.0
    while True:
        try:
            assert transfer(new)[0].answer
            break
        except (dns.tsig.PeerBadSignature, dns.query.TransferError, dns.exception.DNSException):
            assert __import__("time").monotonic() < deadline, "the new secret is not used"
    with pytest.raises((dns.tsig.PeerBadSignature, dns.tsig.PeerError,
                        dns.exception.DNSException)):
        transfer(old)

"""The zones of the HTTP API through a live server: what a write does is served within a
second (asked with dnspython), a refused request changes nothing, not even creates the zone
(PowerDNS does, pdns#7763), and a whole-zone change is never seen half done."""

from __future__ import annotations

import threading
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests._support.apiserver import ZONES, ApiServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = ApiServer(tmp_path_factory.mktemp("api-zones")).start()
    yield srv
    assert srv.stop() == 0, srv.log()


def create(server, name: str, **body) -> dict:
    body.setdefault("kind", "Native")
    body.setdefault("nameservers", [f"ns1.{name}", f"ns2.{name}"])
    response = server.api("POST", ZONES, {"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


def rrset(name: str, rtype: str, *contents: str, ttl: int = 300,
          changetype: str = "REPLACE") -> dict:
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


def answer(server, name: str, rtype: str = "A") -> tuple[int, list[str]]:
    query = dns.message.make_query(name, rtype)
    reply = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    return reply.rcode(), sorted(rd.to_text() for rrs in reply.answer for rd in rrs
                                 if rrs.rdtype == dns.rdatatype.from_text(rtype))


def served_within(server, name: str, rtype: str, wanted, limit: float = 1.0) -> float:
    """Seconds until ``name``/``rtype`` is answered ``wanted`` (fails after ``limit``)."""
    started = time.monotonic()
    while True:
        got = answer(server, name, rtype)
        if got == wanted:
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"still {got}, wanted {wanted}"
        time.sleep(0.01)


def zone(server, name: str, **params) -> dict:
    response = server.api("GET", f"{ZONES}/{name}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def sets(data: dict) -> dict[tuple[str, str], list[str]]:
    return {(r["name"], r["type"]): sorted(x["content"] for x in r["records"])
            for r in data["rrsets"]}


def test_a_created_zone_is_shown_as_powerdns_shows_it_and_served_within_a_second(server):
    started = time.monotonic()
    data = create(server, "created.test.", rrsets=[
        rrset("www.created.test.", "A", "192.0.2.1", "192.0.2.2"),
        rrset("created.test.", "MX", "10 mail.created.test."),
        rrset("txt.created.test.", "TXT", '"hello world" "two"')])
    served_within(server, "www.created.test.", "A", (0, ["192.0.2.1", "192.0.2.2"]),
                  limit=1.0 - (time.monotonic() - started))
    assert data["id"] == "created.test." and data["name"] == "created.test."
    assert data["url"] == "/api/v1/servers/localhost/zones/created.test."
    assert data["kind"] == "Native" and data["masters"] == [] and data["dnssec"] is False
    assert data["soa_edit_api"] == "DEFAULT"
    today = int(time.strftime("%Y%m%d")) * 100 + 1
    assert data["serial"] == today
    got = sets(data)
    assert got[("created.test.", "NS")] == ["ns1.created.test.", "ns2.created.test."]
    assert got[("created.test.", "MX")] == ["10 mail.created.test."]
    assert got[("txt.created.test.", "TXT")] == ['"hello world" "two"']
    soa = got[("created.test.", "SOA")][0].split()
    assert soa[0] == "a.misconfigured.dns.server.invalid." and soa[2] == str(today)
    listed = server.api("GET", ZONES).json()
    assert {"id": "created.test.", "name": "created.test.", "kind": "Native"}.items() \
        <= next(z for z in listed if z["name"] == "created.test.").items()


def test_patch_replace_delete_extend_prune_are_served_and_bump_the_serial(server):
    create(server, "patch.test.", rrsets=[rrset("a.patch.test.", "A", "192.0.2.1"),
                                          rrset("b.patch.test.", "A", "192.0.2.9")])
    before = zone(server, "patch.test.")["serial"]
    changes = [rrset("a.patch.test.", "A", "192.0.2.5", "192.0.2.6"),
               {"name": "b.patch.test.", "type": "A", "changetype": "DELETE"},
               rrset("c.patch.test.", "AAAA", "2001:db8::1", changetype="EXTEND")]
    response = server.api("PATCH", f"{ZONES}/patch.test.", {"rrsets": changes})
    assert response.status_code == 204, response.text
    served_within(server, "a.patch.test.", "A", (0, ["192.0.2.5", "192.0.2.6"]))
    assert answer(server, "b.patch.test.")[0] == dns.rcode.NXDOMAIN
    assert answer(server, "c.patch.test.", "AAAA") == (0, ["2001:db8::1"])
    after = zone(server, "patch.test.")["serial"]
    assert after == before + 1
    response = server.api("PATCH", f"{ZONES}/patch.test.", {"rrsets": [
        rrset("a.patch.test.", "A", "192.0.2.7", changetype="EXTEND"),
        rrset("a.patch.test.", "A", "192.0.2.5", changetype="PRUNE")]})
    assert response.status_code == 422      # one RRset twice in a request
    response = server.api("PATCH", f"{ZONES}/patch.test.", {"rrsets": [
        rrset("a.patch.test.", "A", "192.0.2.5", changetype="PRUNE")]})
    assert response.status_code == 204
    served_within(server, "a.patch.test.", "A", (0, ["192.0.2.6"]))


def test_comments_are_kept_and_shown(server):
    create(server, "comments.test.")
    change = rrset("www.comments.test.", "A", "192.0.2.1")
    change["comments"] = [{"content": "the web server", "account": "ops",
                           "modified_at": 1700000000}]
    assert server.api("PATCH", f"{ZONES}/comments.test.", {"rrsets": [change]}).status_code \
        == 204
    shown = next(r for r in zone(server, "comments.test.")["rrsets"]
                 if r["name"] == "www.comments.test.")
    assert shown["comments"] == [{"content": "the web server", "account": "ops",
                                  "modified_at": 1700000000}]


@pytest.mark.parametrize("bad", [
    {"rrsets": [rrset("x.refused.test.", "A", "not-an-address")]},
    {"rrsets": [rrset("x.refused.test", "A", "192.0.2.1")]},          # not absolute
    {"rrsets": [rrset("x.elsewhere.test.", "A", "192.0.2.1")]},       # out of zone
    {"rrsets": [rrset("x.refused.test.", "NOSUCHTYPE", "1")]},
    {"rrsets": [rrset("x.refused.test.", "A", "192.0.2.1", "192.0.2.1")]},   # twice
    {"rrsets": [rrset("x.refused.test.", "CNAME", "a.test."),
                rrset("x.refused.test.", "A", "192.0.2.1")]},          # CNAME and other data
    {"rrsets": [{"name": "x.refused.test.", "type": "A", "ttl": "300",
                 "records": [{"content": "192.0.2.1"}]}]},             # a TTL that is text
    {"rrsets": [rrset("x.refused.test.", "TXT", "unquoted text")]},
    {"rrsets": [rrset("refused.test.", "MX", "10 mail")]},             # "mail." at the root
    {"kind": "Sideways"},
    {"masters": ["not an address"]},
    {"nameservers": ["ns1.refused.test"]},
])
def test_a_refused_create_leaves_no_zone_behind(server, bad):
    response = server.api("POST", ZONES, {"name": "refused.test.", "kind": "Native",
                                          "nameservers": ["ns1.refused.test."], **bad})
    assert response.status_code == 422, response.text
    assert "error" in response.json()
    assert server.api("GET", f"{ZONES}/refused.test.").status_code == 404
    assert answer(server, "refused.test.", "SOA")[0] == dns.rcode.REFUSED


def test_a_refused_patch_changes_nothing(server):
    create(server, "keep.test.", rrsets=[rrset("www.keep.test.", "A", "192.0.2.1")])
    before = zone(server, "keep.test.")
    response = server.api("PATCH", f"{ZONES}/keep.test.", {"rrsets": [
        rrset("new.keep.test.", "A", "192.0.2.2"),
        rrset("www.keep.test.", "MX", "ten mail.keep.test.")]})
    assert response.status_code == 422 and "error" in response.json()
    for body in ('{"rrsets": [', "[]", '{"rrsets": "no"}', '{"rrsets": [{"name": 1}]}'):
        response = server.api("PATCH", f"{ZONES}/keep.test.", data=body,
                              headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500 and "error" in response.json(), body
    assert zone(server, "keep.test.") == before
    assert answer(server, "new.keep.test.")[0] == dns.rcode.NXDOMAIN


def test_put_replaces_the_whole_zone_and_its_settings(server):
    create(server, "whole.test.", rrsets=[rrset("old.whole.test.", "A", "192.0.2.1")])
    response = server.api("PUT", f"{ZONES}/whole.test.", {
        "account": "customer-7", "kind": "Master",
        "rrsets": [rrset("whole.test.", "NS", "ns.whole.test."),
                   rrset("new.whole.test.", "A", "192.0.2.2")]})
    assert response.status_code == 204, response.text
    served_within(server, "new.whole.test.", "A", (0, ["192.0.2.2"]))
    assert answer(server, "old.whole.test.")[0] == dns.rcode.NXDOMAIN
    data = zone(server, "whole.test.")
    assert data["account"] == "customer-7" and data["kind"] == "Master"
    assert set(sets(data)) == {("whole.test.", "NS"), ("whole.test.", "SOA"),
                               ("new.whole.test.", "A")}


def test_no_query_sees_half_of_a_whole_zone_change(server):
    """Forty names flip between two versions, many times over, while another thread
    transfers the zone: every transfer holds one version only."""
    names = [f"n{i}.flip.test." for i in range(40)]
    create(server, "flip.test.", rrsets=[rrset(n, "TXT", '"v0"') for n in names])
    seen: list[set[str]] = []
    done = threading.Event()

    def transfer() -> None:
        while not done.is_set():
            xfr = dns.query.xfr("127.0.0.1", "flip.test.", port=server.port, timeout=5)
            versions = {rd.to_text() for m in xfr for rrs in m.answer
                        if rrs.rdtype == dns.rdatatype.TXT for rd in rrs}
            seen.append(versions)

    thread = threading.Thread(target=transfer)
    thread.start()
    try:
        for round_ in range(1, 16):
            body = {"rrsets": [rrset(n, "TXT", f'"v{round_}"') for n in names]}
            assert server.api("PATCH", f"{ZONES}/flip.test.", body).status_code == 204
            time.sleep(0.05)
    finally:
        done.set()
        thread.join()
    assert len(seen) > 5
    assert all(len(versions) == 1 for versions in seen), [v for v in seen if len(v) > 1]
    assert len(set().union(*seen)) > 2          # versions did change under the transfers


def test_delete_stops_serving_within_a_second(server):
    create(server, "gone.test.", rrsets=[rrset("www.gone.test.", "A", "192.0.2.1")])
    served_within(server, "www.gone.test.", "A", (0, ["192.0.2.1"]))
    assert server.api("DELETE", f"{ZONES}/gone.test.").status_code == 204
    served_within(server, "www.gone.test.", "A", (dns.rcode.REFUSED, []))
    assert server.api("GET", f"{ZONES}/gone.test.").status_code == 404
    assert server.api("DELETE", f"{ZONES}/gone.test.").status_code == 404


def test_zone_ids_escape_what_is_not_a_letter_digit_dot_or_dash(server):
    data = create(server, "0/25.2.0.192.in-addr.arpa.", nameservers=["ns.test."])
    assert data["id"] == "0=2F25.2.0.192.in-addr.arpa."
    assert data["url"].endswith("/zones/0=2F25.2.0.192.in-addr.arpa.")
    assert zone(server, "0=2F25.2.0.192.in-addr.arpa.")["name"] == "0/25.2.0.192.in-addr.arpa."
    assert create(server, "under_score.test.")["id"] == "under=5Fscore.test."
    assert zone(server, "under=5Fscore.test.")["name"] == "under_score.test."
    assert server.api("POST", ZONES, {"name": "under_score.test.", "kind": "Native",
                                      "nameservers": ["ns.test."]}).status_code == 409


def test_get_filters_and_export(server):
    create(server, "filter.test.", rrsets=[rrset("www.filter.test.", "A", "192.0.2.1"),
                                           rrset("www.filter.test.", "AAAA", "2001:db8::1")])
    data = zone(server, "filter.test.", rrset_name="www.filter.test.", rrset_type="AAAA")
    assert [(r["name"], r["type"]) for r in data["rrsets"]] == [("www.filter.test.", "AAAA")]
    assert "rrsets" not in zone(server, "filter.test.", rrsets="false")
    text = server.api("GET", f"{ZONES}/filter.test./export").text
    assert "www.filter.test.\t300\tIN\tAAAA\t2001:db8::1\n" in text
    assert server.api("GET", ZONES, params={"zone": "filter.test."}).json()[0]["name"] == \
        "filter.test."
    assert server.api("GET", "/api/v1/servers/elsewhere/zones").status_code == 404


def test_zone_file_zones_are_listed_and_shown_but_not_written(tmp_path):
    """launch=bind,gsqlite3: the BIND zone is listed first (first backend wins), shown with
    its records, exported, and refused (422) for writes; new zones go to the SQL backend."""
    (tmp_path / "file.test.zone").write_text(
        "$TTL 300\n@ IN SOA ns.file.test. h.file.test. 7 3600 600 86400 300\n"
        "@ IN NS ns.file.test.\nns IN A 192.0.2.53\nwww IN MX 10 mail.file.test.\n")
    (tmp_path / "named.conf").write_text(
        f'zone "file.test" {{ type master; file "{tmp_path}/file.test.zone"; }};\n')
    with ApiServer(tmp_path, {"launch": "bind,gsqlite3",
                              "bind-config": str(tmp_path / "named.conf")}) as srv:
        response = srv.api("GET", ZONES)
        assert response.status_code == 200, (response.text, srv.log()[-3000:])
        listed = {z["name"]: z for z in response.json()}
        assert listed["file.test."]["kind"] == "Master"
        assert listed["file.test."]["serial"] == 7
        data = zone(srv, "file.test.")
        assert data["serial"] == 7
        assert sets(data)[("www.file.test.", "MX")] == ["10 mail.file.test."]
        assert "ns.file.test.\t300\tIN\tA\t192.0.2.53\n" in \
            srv.api("GET", f"{ZONES}/file.test./export").text
        response = srv.api("PATCH", f"{ZONES}/file.test.",
                           {"rrsets": [rrset("x.file.test.", "A", "192.0.2.1")]})
        assert response.status_code == 422 and "bind" in response.json()["error"]
        assert srv.api("DELETE", f"{ZONES}/file.test.").status_code == 422
        assert srv.api("POST", ZONES, {"name": "file.test.", "kind": "Native",
                                       "nameservers": ["ns.file.test."]}).status_code == 409
        create(srv, "sql.test.")
        assert {"file.test.", "sql.test."} <= {z["name"] for z in srv.api("GET", ZONES).json()}
        assert answer(srv, "ns.file.test.") == (0, ["192.0.2.53"])

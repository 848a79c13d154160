"""The API on each generic SQL backend (SQLite, the PostgreSQL and MariaDB of 127.0.0.1): the
same operator session — create with records and comments, PATCH, a refused PATCH, PUT of
the whole zone, keys and metadata, the listing, delete — is served and stored alike, and
what it stores is what PowerDNS's pdnsutil reads."""

from __future__ import annotations

import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests._support.apiserver import ZONES, ApiServer
from tests._support.sqldb import KINDS, TempDatabase, pdnsutil

ZONE = "sql-api.test."


def rrset(name: str, rtype: str, *contents: str, changetype: str = "REPLACE",
          ttl: int = 300) -> dict:
    return {"name": name, "type": rtype, "ttl": ttl, "changetype": changetype,
            "records": [{"content": c, "disabled": False} for c in contents]}


def answer(server: ApiServer, name: str, rtype: str = "A") -> tuple[int, list[str]]:
    reply = dns.query.udp(dns.message.make_query(name, rtype), "127.0.0.1",
                          port=server.port, timeout=2)
    return reply.rcode(), sorted(rd.to_text() for rrs in reply.answer for rd in rrs
                                 if rrs.rdtype == dns.rdatatype.from_text(rtype))


def served(server: ApiServer, name: str, rtype: str, wanted, limit: float = 1.0) -> None:
    started = time.monotonic()
    while (got := answer(server, name, rtype)) != wanted:
        assert time.monotonic() - started < limit, f"{name} {rtype}: {got}, not {wanted}"
        time.sleep(0.01)


@pytest.fixture(params=KINDS)
def server(request, tmp_path):
    with TempDatabase(request.param, tmp_path) as db:
        settings = {**db.settings(), f"{db.kind}-dnssec": "yes"}
        with ApiServer(tmp_path, settings) as srv:
            srv.db = db
            yield srv


def test_an_operator_session_on_every_sql_backend(server):
    api = server.api
    made = api("POST", ZONES, {
        "name": ZONE, "kind": "Master", "nameservers": [f"ns1.{ZONE}", f"ns2.{ZONE}"],
        "account": "customer-1",
        "rrsets": [{**rrset(f"www.{ZONE}", "A", "192.0.2.1"),
                    "comments": [{"content": "web", "account": "ops",
                                  "modified_at": 1700000000}]},
                   rrset(ZONE, "MX", f"10 mail.{ZONE}"),
                   rrset(f"txt.{ZONE}", "TXT", '"v=spf1 -all"')]})
    assert made.status_code == 201, made.text
    served(server, f"www.{ZONE}", "A", (0, ["192.0.2.1"]))
    serial = made.json()["serial"]

    assert api("PATCH", f"{ZONES}/{ZONE}", {"rrsets": [
        rrset(f"www.{ZONE}", "A", "192.0.2.2", changetype="EXTEND"),
        {"name": f"txt.{ZONE}", "type": "TXT", "changetype": "DELETE"}]}).status_code == 204
    served(server, f"www.{ZONE}", "A", (0, ["192.0.2.1", "192.0.2.2"]))
    assert answer(server, f"txt.{ZONE}", "TXT")[0] == dns.rcode.NXDOMAIN

    before = api("GET", f"{ZONES}/{ZONE}").json()
    refused = api("PATCH", f"{ZONES}/{ZONE}", {"rrsets": [
        rrset(f"new.{ZONE}", "A", "192.0.2.9"), rrset(f"bad.{ZONE}", "AAAA", "192.0.2.9")]})
    assert refused.status_code == 422
    after = api("GET", f"{ZONES}/{ZONE}").json()
    assert after == before and after["serial"] == serial + 1
    www = next(r for r in after["rrsets"] if r["name"] == f"www.{ZONE}")
    assert www["comments"] == [{"content": "web", "account": "ops", "modified_at": 1700000000}]

    key = api("POST", f"{ZONES}/{ZONE}/cryptokeys", {"keytype": "csk", "active": True})
    assert key.status_code == 201, key.text
    assert api("PUT", f"{ZONES}/{ZONE}/metadata/X-NOTE", {"metadata": ["kept"]}).status_code \
        == 200
    assert api("PUT", f"{ZONES}/{ZONE}", {"rrsets": [
        rrset(ZONE, "NS", f"ns1.{ZONE}"), rrset(f"only.{ZONE}", "A", "192.0.2.7")]}) \
        .status_code == 204
    served(server, f"only.{ZONE}", "A", (0, ["192.0.2.7"]))
    assert answer(server, f"www.{ZONE}")[0] == dns.rcode.NXDOMAIN
    signed = dns.query.udp(dns.message.make_query(f"only.{ZONE}", "A", want_dnssec=True),
                           "127.0.0.1", port=server.port, timeout=2)
    assert any(rrs.rdtype == dns.rdatatype.RRSIG for rrs in signed.answer)

    listed = next(z for z in api("GET", ZONES).json() if z["name"] == ZONE)
    assert listed["kind"] == "Master" and listed["account"] == "customer-1"
    assert listed["dnssec"] is True and listed["serial"] == serial + 2

    # what the API stored is PowerDNS's to read: pdnsutil lists the zone as served
    text = pdnsutil(server.db, "list-zone", ZONE.rstrip("."))
    assert "only.sql-api.test\t300\tIN\tA\t192.0.2.7" in text, text
    assert "www.sql-api.test" not in text

    assert api("DELETE", f"{ZONES}/{ZONE}").status_code == 204
    served(server, f"only.{ZONE}", "A", (dns.rcode.REFUSED, []))
    assert server.db.execute("SELECT count(*) FROM records")[0][0] == 0
    assert server.db.execute("SELECT count(*) FROM cryptokeys")[0][0] == 0

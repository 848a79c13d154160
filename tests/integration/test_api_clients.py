"""Real PowerDNS API clients, unmodified, against a live fastdns (issue 15 item 5).

- octodns with octodns-powerdns: ``octodns-sync --doit`` (the installed entry point) pushes an
  operator's zone from YAML into fastdns, a second plan finds nothing to do, an edit of the YAML
  is synced and served within a second, and the plan after it is empty again;
- schemathesis: PowerDNS 4.7.3's own OpenAPI document, as pdns_server serves it at /api/docs,
  fuzzes every operation of fastdns for a bounded time; no answer may be a server error or break
  the document's response schemas or status codes;
- dns-lexicon's powerdns provider: the certbot DNS-01 flow (create, list, update, delete a TXT
  record), each step checked in what fastdns serves; with a Master zone lexicon asks for a
  NOTIFY after each change (PUT .../notify), which pdns_server queues with its default settings.

Each test passes unchanged against pdns_server 4.7.3 itself (an ApiServer-shaped wrapper around
tests._support.pdnsapi.PdnsApi), so what they ask of fastdns is what PowerDNS does.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from tests._support.apiserver import API_KEY, ZONES, ApiServer
from tests._support.pdnsapi import PdnsApi, pdns_spec

BIN = Path(sys.executable).parent

#: lexicon's own modules warn that they move in lexicon 4 when pytest inspects them
pytestmark = pytest.mark.filterwarnings("ignore:Module lexicon:DeprecationWarning")


def answer(server: ApiServer, name: str, rtype: str) -> tuple[int, list[str]]:
    """(rcode, the sorted answer rdatas of ``rtype``) from fastdns's DNS port."""
    query = dns.message.make_query(name, rtype)
    reply = dns.query.udp(query, "127.0.0.1", port=server.port, timeout=2)
    wanted = dns.rdatatype.from_text(rtype)
    return reply.rcode(), sorted(rd.to_text() for rrs in reply.answer for rd in rrs
                                 if rrs.rdtype == wanted)


def served_within(server: ApiServer, name: str, rtype: str, wanted: tuple[int, list[str]],
                  since: float, limit: float = 1.0) -> None:
    """``name``/``rtype`` is answered ``wanted`` within ``limit`` seconds of ``since``."""
    while True:
        got = answer(server, name, rtype)
        if got == wanted:
            return
        assert time.monotonic() - since < limit, f"{name}/{rtype}: still {got}, wanted {wanted}"
        time.sleep(0.01)


# --- octodns ----------------------------------------------------------------------------------

OCTODNS_CONFIG = """\
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {zones}
    default_ttl: 3600
    enforce_order: false
  fastdns:
    class: octodns_powerdns.PowerDnsProvider
    host: 127.0.0.1
    port: {port}
    scheme: http
    api_key: {key}
    timeout: 10
zones:
  example.test.:
    sources: [config]
    targets: [fastdns]
"""

#: a DKIM key's base64 (392 characters): the TXT string is longer than 255 octets
DKIM_KEY = ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwkHRx0dXhZ2Mo6O3Xq8cP4yG"
            "fVx0k9rS3bT9mH1yq2ZlH5e8pN0LwVJb7n3cQ4QeX2k9uFz1rT8sD6aY0vB3mC7xK5jW"
            "2nR4tL8pE1oG6hU9iJ3fS0dQ7yA5cV2bN4mZ8xK1lP6wT3rE9uI0oH7gF2jD5sC8vB4n"
            "M1aQ6zY3xW0eR9tU7iO2pL5kJ8hG4fD1sA6qZ3wX0cV9bN7mE2rT5yU8iO1pK4lJ7hG3"
            "fD0sA9qZ6wX2cV5bN8mE1rT4yU7iO0pL3kJ6hG9fD2sA5qZ8wX1cV4bN7mE0rT3yU6iO"
            "9pL2kJ5hG8fD1sA4qZ7wX0cV3bN6mE9rT2yU5iO8pL1kJ4hG7fDQIDAQAB")

SPF = ("v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 ip6:2001:db8::/32 include:_spf.mail.example.net"
       " include:spf.protection.example.org include:_spf.example.com ~all")

ZONE_YAML = f"""\
---
'':
  - type: A
    values: [192.0.2.10, 192.0.2.11]
  - type: CAA
    values:
      - flags: 0
        tag: issue
        value: letsencrypt.org
      - flags: 0
        tag: iodef
        value: mailto:security@example.test
  - type: MX
    values:
      - exchange: mx1.example.test.
        preference: 10
      - exchange: mx2.example.test.
        preference: 20
  - type: NS
    values: [ns1.example.test., ns2.example.test.]
  - type: TXT
    values:
      - {SPF}
      - google-site-verification=abc123
'*':
  type: A
  value: 192.0.2.99
_dmarc:
  type: TXT
  value: v=DMARC1\\; p=reject\\; rua=mailto:dmarc@example.test
_sip._tcp:
  type: SRV
  values:
    - port: 5060
      priority: 10
      target: sip.example.test.
      weight: 60
ftp:
  type: CNAME
  value: www.example.test.
mail:
  type: A
  value: 192.0.2.25
mail._domainkey:
  type: TXT
  value: v=DKIM1\\; k=rsa\\; p={DKIM_KEY}
mx1:
  type: A
  value: 192.0.2.26
mx2:
  type: A
  value: 192.0.2.27
ns1:
  type: A
  value: 192.0.2.53
ns2:
  type: A
  value: 192.0.2.54
sip:
  type: AAAA
  value: 2001:db8::5060
sub:
  type: NS
  ttl: 86400
  values: [ns1.sub.example.test., ns2.sub.example.test.]
ns1.sub:
  type: A
  value: 198.51.100.53
ns2.sub:
  type: AAAA
  value: 2001:db8:1::53
www:
  - type: A
    values: [192.0.2.80, 192.0.2.81]
  - type: AAAA
    value: 2001:db8::80
"""


def octodns_sync(config: Path, *args: str) -> str:
    """``octodns-sync`` as an operator runs it; its output (the plan is logged on stderr)."""
    proc = subprocess.run([str(BIN / "octodns-sync"), f"--config-file={config}", *args],
                          capture_output=True, text=True, timeout=120, cwd=config.parent)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"octodns-sync {' '.join(args)} failed:\n{output}"
    return output


def no_changes(output: str) -> bool:
    return "No changes were planned" in output and "Summary:" not in output


@pytest.fixture
def server(tmp_path):
    srv = ApiServer(tmp_path / "fastdns").start()
    yield srv
    assert srv.stop() == 0, srv.log()


def test_octodns_syncs_a_zone_reads_it_back_unchanged_and_applies_an_edit(server, tmp_path):
    zones = tmp_path / "zones"
    zones.mkdir()
    zone_file = zones / "example.test.yaml"
    zone_file.write_text(ZONE_YAML)
    config = tmp_path / "octodns.yaml"
    config.write_text(OCTODNS_CONFIG.format(zones=zones, port=server.web_port, key=API_KEY))

    output = octodns_sync(config, "--doit")
    assert "Creates=21" in output, output
    since = time.monotonic()
    served_within(server, "www.example.test.", "A", (0, ["192.0.2.80", "192.0.2.81"]), since)
    expected = {
        ("example.test.", "A"): ["192.0.2.10", "192.0.2.11"],
        ("example.test.", "MX"): ["10 mx1.example.test.", "20 mx2.example.test."],
        ("example.test.", "NS"): ["ns1.example.test.", "ns2.example.test."],
        ("example.test.", "CAA"): ['0 iodef "mailto:security@example.test"',
                                   '0 issue "letsencrypt.org"'],
        ("example.test.", "TXT"): ['"google-site-verification=abc123"', f'"{SPF}"'],
        ("anything.example.test.", "A"): ["192.0.2.99"],
        ("_dmarc.example.test.", "TXT"): ['"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"'],
        ("_sip._tcp.example.test.", "SRV"): ["10 60 5060 sip.example.test."],
        ("ftp.example.test.", "CNAME"): ["www.example.test."],
        ("sip.example.test.", "AAAA"): ["2001:db8::5060"],
        ("www.example.test.", "AAAA"): ["2001:db8::80"],
    }
    for (name, rtype), rdatas in expected.items():
        assert answer(server, name, rtype) == (0, sorted(rdatas)), (name, rtype)
    # the DKIM string is longer than 255 octets: served as 255-octet pieces, in order
    _, dkim = answer(server, "mail._domainkey.example.test.", "TXT")
    assert len(dkim) == 1 and dkim[0].startswith('"v=DKIM1; k=rsa; p=MIIB') and '" "' in dkim[0]
    assert dkim[0].replace('" "', "").strip('"') == f"v=DKIM1; k=rsa; p={DKIM_KEY}"
    # the delegation: a referral with its glue, not an answer
    reply = dns.query.udp(dns.message.make_query("host.sub.example.test.", "A"), "127.0.0.1",
                          port=server.port, timeout=2)
    assert not reply.answer and reply.rcode() == 0
    assert sorted(rd.to_text() for rrs in reply.authority for rd in rrs
                  if rrs.rdtype == dns.rdatatype.NS) == ["ns1.sub.example.test.",
                                                        "ns2.sub.example.test."]
    assert sorted(rd.to_text() for rrs in reply.additional for rd in rrs) == \
        ["198.51.100.53", "2001:db8:1::53"]

    output = octodns_sync(config)
    assert no_changes(output), f"fastdns read back differs from what octodns wrote:\n{output}"

    # the operator's edit: one A changed, the CNAME deleted (the wildcard answers for it
    # then), one record added
    edited = ZONE_YAML.replace("values: [192.0.2.80, 192.0.2.81]", "values: [192.0.2.82]")
    edited = edited.replace("ftp:\n  type: CNAME\n  value: www.example.test.\n", "")
    edited += "api:\n  type: A\n  ttl: 300\n  value: 192.0.2.90\n"
    zone_file.write_text(edited)
    output = octodns_sync(config, "--doit")
    assert "Creates=1, Updates=1, Deletes=1" in output, output
    since = time.monotonic()
    served_within(server, "www.example.test.", "A", (0, ["192.0.2.82"]), since)
    served_within(server, "api.example.test.", "A", (0, ["192.0.2.90"]), since)
    served_within(server, "ftp.example.test.", "CNAME", (0, []), since)
    assert answer(server, "ftp.example.test.", "A") == (0, ["192.0.2.99"])

    output = octodns_sync(config)
    assert no_changes(output), f"after the edit:\n{output}"


# --- schemathesis -----------------------------------------------------------------------------

#: hypothesis examples per operation: 36 operations, about 30 s in all on 2 cores
EXAMPLES = 40
FUZZ_ZONE = "fuzz.test."
FUZZ_TSIG = "fuzz-key"
FUZZ_METADATA = "X-FUZZ"


@pytest.fixture(scope="module")
def powerdns_spec(tmp_path_factory) -> dict[str, Any]:
    """The OpenAPI document pdns_server 4.7.3 itself serves at /api/docs."""
    with PdnsApi(tmp_path_factory.mktemp("pdns-spec")) as pdns:
        spec = pdns_spec(pdns)
    return spec


def spec_errata(spec: dict[str, Any]) -> dict[str, Any]:
    """PowerDNS 4.7.3's document with the three places where it is wrong about what
    pdns_server 4.7.3 itself answers (each seen from pdns_server, with PdnsApi), so the
    checks hold fastdns to what PowerDNS does; nothing else is changed."""
    spec = copy.deepcopy(spec)
    # 1. RRSet requires "changetype", but a zone's rrsets come back without it (it is a
    #    PATCH instruction): GET /zones/fuzz.test. -> {"comments": [], "name": ..., "records":
    #    [...], "ttl": 3600, "type": "SOA"}
    spec["definitions"]["RRSet"]["required"].remove("changetype")
    # 2. rectify says 200 is a string; pdns_server answers {"result": "Rectified"}
    rectify = spec["paths"]["/servers/{server_id}/zones/{zone_id}/rectify"]["put"]
    rectify["responses"]["200"]["schema"] = {
        "type": "object", "properties": {"result": {"type": "string"}}}
    # 3. statistics gives "items" as a list, which JSON Schema reads as a tuple (first item a
    #    StatisticItem, second a MapStatisticItem, third a RingStatisticItem); pdns_server's
    #    list starts with three StatisticItems: any item is one of the three
    stats = spec["paths"]["/servers/{server_id}/statistics"]["get"]["responses"]["200"]
    stats["schema"]["items"] = {"anyOf": stats["schema"]["items"]}
    return spec


def fuzz_fixtures(server: ApiServer) -> dict[str, list[str]]:
    """A zone with records, metadata and a key, a TSIG key and an autoprimary, made again
    whenever the fuzzing deleted them: the known ids path parameters are drawn from."""
    zone = server.api("GET", f"{ZONES}/{FUZZ_ZONE}")
    if zone.status_code == 404:
        made = server.api("POST", ZONES, {
            "name": FUZZ_ZONE, "kind": "Master", "nameservers": [f"ns1.{FUZZ_ZONE}"],
            "rrsets": [{"name": f"www.{FUZZ_ZONE}", "type": "A", "ttl": 300,
                        "records": [{"content": "192.0.2.1", "disabled": False}]}]})
        assert made.status_code == 201, made.text
    if server.api("GET", f"{ZONES}/{FUZZ_ZONE}/metadata/{FUZZ_METADATA}").json() \
            .get("metadata") in (None, []):
        server.api("PUT", f"{ZONES}/{FUZZ_ZONE}/metadata/{FUZZ_METADATA}",
                   {"kind": FUZZ_METADATA, "metadata": ["one"]})
    keys = server.api("GET", f"{ZONES}/{FUZZ_ZONE}/cryptokeys")
    ids = [str(k["id"]) for k in keys.json()] if keys.status_code == 200 else []
    if not ids:
        key = server.api("POST", f"{ZONES}/{FUZZ_ZONE}/cryptokeys",
                         {"keytype": "csk", "active": True, "algorithm": "ecdsap256sha256"})
        assert key.status_code == 201, key.text
        ids = [str(key.json()["id"])]
    tsig = server.api("GET", f"/api/v1/servers/localhost/tsigkeys/{FUZZ_TSIG}.")
    if tsig.status_code == 404:
        server.api("POST", "/api/v1/servers/localhost/tsigkeys",
                   {"name": FUZZ_TSIG, "algorithm": "hmac-sha256"})
    server.api("POST", "/api/v1/servers/localhost/autoprimaries",
               {"ip": "192.0.2.7", "nameserver": "ns.primary.test.", "account": ""})
    return {
        "server_id": ["localhost"],
        "zone_id": [FUZZ_ZONE, "fuzz.test", "nonexistent.test."],
        "cryptokey_id": [*ids, "999"],
        "metadata_kind": [FUZZ_METADATA, "ALLOW-AXFR-FROM", "SOA-EDIT", "AXFR-SOURCE"],
        "tsigkey_id": [f"{FUZZ_TSIG}.", "unknown-key."],
        "config_setting_name": ["launch", "api", "default-ttl", "no-such-setting"],
        "ip": ["192.0.2.7"],
        "nameserver": ["ns.primary.test."],
    }


def fuzz_operation(server: ApiServer, operation: Any, known: dict[str, list[str]],
                   examples: int) -> list[str]:
    """Run ``examples`` generated requests of one operation (path parameters mostly drawn
    from ``known``, the rest as generated); the failures, each with its request and answer."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import (
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )
    from schemathesis.exceptions import CheckFailed
    from schemathesis.types import NotSet

    failures: list[str] = []

    @given(case=operation.as_strategy(), data=st.data())
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any, data: Any) -> None:
        for name, value in list((case.path_parameters or {}).items()):
            if name in known:
                choices = known[name] if name == "server_id" else [*known[name], value]
                case.path_parameters[name] = data.draw(st.sampled_from(choices))
        response = case.call(headers={"X-API-Key": API_KEY}, timeout=10)
        try:
            case.validate_response(response, checks=(not_a_server_error,
                                                      response_schema_conformance,
                                                      status_code_conformance))
        except CheckFailed as exc:
            body = "" if isinstance(case.body, NotSet) else \
                f"  body: {json.dumps(case.body, default=str)[:400]}\n"
            failures.append(f"{case.method} {response.request.url}\n{body}"
                            f"  -> {response.status_code} {response.text[:400]}\n"
                            f"  {str(exc).strip()[:800]}")

    run()
    return failures


def test_schemathesis_finds_no_server_error_and_no_answer_breaking_powerdns_spec(
        server, powerdns_spec):
    import schemathesis

    schema = schemathesis.from_dict(spec_errata(powerdns_spec), base_url=server.url + "/api/v1",
                                    validate_schema=False)
    failures: dict[str, list[str]] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        known = fuzz_fixtures(server)
        found = fuzz_operation(server, operation, known, EXAMPLES)
        if found:
            failures[operation.verbose_name] = found
    elapsed = time.monotonic() - started
    assert server.proc is not None and server.proc.poll() is None, server.log()
    report = "\n".join(f"{name}: {len(found)} failing\n" + "\n".join(found[:3])
                       for name, found in failures.items())
    assert not failures, f"{sum(map(len, failures.values()))} failures in {elapsed:.0f}s:\n" \
        + report


# --- dns-lexicon ------------------------------------------------------------------------------

def lexicon(server: ApiServer, action: str, **options: Any) -> Any:
    """One lexicon action through its powerdns provider, configured as certbot's lexicon
    plugins configure it (a dict, no DNS lookups for the zone name)."""
    from lexicon.client import Client
    from lexicon.config import ConfigResolver

    config = ConfigResolver().with_dict({
        "provider_name": "powerdns", "action": action, "domain": "www.example.com",
        "type": "TXT", "ttl": 60,
        "powerdns": {"auth_token": API_KEY, "pdns_server": server.url}, **options})
    return Client(config).execute()


@pytest.mark.parametrize("kind", ["Native", "Master"])
def test_lexicon_runs_the_certbot_dns01_flow(server, tmp_path, monkeypatch, kind):
    # lexicon finds the zone with tldextract: its public suffix list from a cache in tmp_path,
    # or its bundled copy when the list cannot be fetched (within 3 s)
    monkeypatch.setenv("TLDEXTRACT_CACHE_PATH", str(tmp_path / "tld"))
    monkeypatch.setenv("TLDEXTRACT_CACHE_TIMEOUT", "3")
    made = server.api("POST", ZONES, {"name": "example.com.", "kind": kind,
                                      "nameservers": ["ns1.example.com.", "ns2.example.com."]})
    assert made.status_code == 201, made.text
    name = "_acme-challenge.www.example.com"
    fqdn = name + "."

    def contents() -> list[str]:
        return sorted(r["content"] for r in lexicon(server, "list", name=name))

    since = time.monotonic()
    assert lexicon(server, "create", name=name, content="token-one") is True
    served_within(server, fqdn, "TXT", (0, ['"token-one"']), since)
    # a second challenge for the same name (a certificate for example.com and *.example.com)
    since = time.monotonic()
    assert lexicon(server, "create", name=name, content="token-two") is True
    served_within(server, fqdn, "TXT", (0, ['"token-one"', '"token-two"']), since)
    assert contents() == ["token-one", "token-two"]
    records = lexicon(server, "list", name=name)
    assert {r["ttl"] for r in records} == {60} and {r["type"] for r in records} == {"TXT"}
    assert {r["name"] for r in records} == {name}

    identifier = next(r["id"] for r in records if r["content"] == "token-one")
    since = time.monotonic()
    assert lexicon(server, "update", identifier=identifier, name=name,
                   content="token-three") is True
    served_within(server, fqdn, "TXT", (0, ['"token-three"', '"token-two"']), since)
    assert contents() == ["token-three", "token-two"]

    since = time.monotonic()
    assert lexicon(server, "delete", name=name, content="token-two") is True
    served_within(server, fqdn, "TXT", (0, ['"token-three"']), since)
    since = time.monotonic()
    assert lexicon(server, "delete", name=name, content="token-three") is True
    served_within(server, fqdn, "TXT", (3, []), since)   # NXDOMAIN: the name is gone
    assert contents() == []
    assert answer(server, "www.example.com.", "TXT")[0] in (0, 3)


def test_schemathesis_finds_fastdns_answering_as_its_own_spec_says(server):
    """The document fastdns serves at /api/docs describes what it answers: the same
    fuzzing, from that document (fewer examples: PowerDNS's spec above has the paths)."""
    import schemathesis

    spec = server.api("GET", "/api/docs").json()
    schema = schemathesis.from_dict(spec, base_url=server.url + "/api/v1")
    failures: dict[str, list[str]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found = fuzz_operation(server, operation, fuzz_fixtures(server), EXAMPLES // 4)
        if found:
            failures[operation.verbose_name] = found
    assert server.proc is not None and server.proc.poll() is None, server.log()
    assert not failures, "\n".join(f"{name}: {len(found)} failing\n" + "\n".join(found[:3])
                                   for name, found in failures.items())


# --- python-powerdns ------------------------------------------------------------------------

def served_a(server: ApiServer, name: str, wanted: list[str]) -> None:
    """``name``'s A records are ``wanted`` within a second."""
    deadline = time.monotonic() + 1.0
    while (got := answer(server, name, "A")[1]) != wanted:
        assert time.monotonic() < deadline, f"{name}: {got}, not {wanted}"
        time.sleep(0.01)


def test_python_powerdns_manages_backs_up_and_restores_a_zone(server, tmp_path):
    """python-powerdns (the PDNSEndpoint interface scripts use): a zone made, records with a
    comment added and read back, searched, the zone backed up to JSON, deleted, restored
    from that JSON by POSTing it whole (ids, urls, serials and all), served again."""
    import powerdns

    api = powerdns.PDNSEndpoint(powerdns.PDNSApiClient(server.url + "/api/v1", API_KEY,
                                                       timeout=10))
    pdns = api.servers[0]
    zone = pdns.create_zone("pp.test.", "Native", ["ns1.pp.test.", "ns2.pp.test."])
    assert zone is not None and zone.name == "pp.test."
    zone.create_records([
        powerdns.RRSet("www", "A", ["192.0.2.1", ("192.0.2.2", True)], ttl=300,
                       comments=[powerdns.Comment("front door", "ops")]),
        powerdns.RRSet("pp.test.", "MX", ["10 mail.pp.test."], ttl=300)])
    served_a(server, "www.pp.test.", ["192.0.2.1"])      # the disabled one is not served
    record = zone.get_record("www.pp.test.")
    assert [r["content"] for r in record[0]["records"]] == ["192.0.2.1", "192.0.2.2"]
    assert record[0]["comments"][0]["content"] == "front door"
    assert any(hit.get("name") == "www.pp.test." for hit in pdns.search("www*"))

    zone.backup(str(tmp_path))
    pdns.delete_zone("pp.test.")
    served_a(server, "www.pp.test.", [])
    restored = pdns.restore_zone(str(tmp_path / "pp.test.json"))
    assert restored is not None and restored.name == "pp.test."
    served_a(server, "www.pp.test.", ["192.0.2.1"])
    again = restored.get_record("www.pp.test.")[0]
    assert again["comments"][0]["content"] == "front door"
    restored.delete_records([powerdns.RRSet("www", "A", [])])
    assert server.api("GET", f"{ZONES}/pp.test.", params={"rrset_name": "www.pp.test."}) \
        .json()["rrsets"] == []

"""fastdns.xfr.luafilter: PowerDNS's Lua AXFR filter, with real Lua (lupa).

The semantics follow PowerDNS's ``AuthLua4::axfrfilter`` (pdns/lua-auth4.cc) and the
secondary communicator (``LUA-AXFR-SCRIPT`` metadata over ``lua-axfr-script``, NONE).
"""

from __future__ import annotations

import time
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import pytest

from fastdns.xfr.luafilter import AxfrFilter, FilterError, ScriptError, filter_for

ZONE = """
@        3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@        3600 IN NS  ns1
@        3600 IN MX  10 mail
ns1      3600 IN A   192.0.2.1
www       300 IN A   192.0.2.2
mail     3600 IN A   192.0.2.3
old        60 IN HINFO "Nexus" "Android"
_private 3600 IN TXT "secret"
"""


def _zone() -> dns.zone.Zone:
    return dns.zone.from_text(ZONE, origin="example.com.", relativize=False)


def _script(tmp_path: Path, body: str, name: str = "filter.lua") -> str:
    path = tmp_path / name
    path.write_text(body)
    return str(path)


def _rrs(zone: dns.zone.Zone) -> set[tuple[str, int, str, str]]:
    return {(name.to_text(), ttl, dns.rdatatype.to_text(rdata.rdtype),
             rdata.to_text(origin=dns.name.root, relativize=False))
            for name, ttl, rdata in zone.iterate_rdatas()}


def _run(tmp_path: Path, body: str, **kwargs: float) -> dns.zone.Zone:
    return AxfrFilter(_script(tmp_path, body), **kwargs).filter_zone(_zone(), "192.0.2.53")


def test_keep_returns_an_equal_new_zone(tmp_path: Path) -> None:
    zone = _zone()
    out = AxfrFilter(_script(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          return -1, {}
        end
    """)).filter_zone(zone, "192.0.2.53")
    assert out is not zone
    assert out.origin == zone.origin and not out.relativize
    assert _rrs(out) == _rrs(zone)


def test_the_script_sees_what_powerdns_shows(tmp_path: Path) -> None:
    """remoteip, zone and the record's accessors; every record, the SOA first."""
    out = _run(tmp_path, """
        seen = {}
        function axfrfilter(remoteip, zone, record)
          seen[#seen + 1] = table.concat({remoteip:toString(), remoteip:toStringWithPort(),
            zone:toString(), zone:toStringNoDot(), record:qname():toString(),
            tostring(record:qname():isPartOf(zone)), tostring(record:qtype()),
            tostring(record:qclass()), tostring(record:ttl()), record:content()}, "|")
          if record:qtype() == pdns.MX then
            local out = {}
            for i, line in ipairs(seen) do
              out[i] = {qname = i .. ".seen." .. zone:toString(), qtype = pdns.TXT, ttl = 1,
                        content = line}
            end
            return 0, out
          end
          return -1, {}
        end
    """)
    seen = {name.to_text(): b"".join(rdata.strings).decode()
            for name, ttl, rdata in out.iterate_rdatas() if "seen" in name.to_text()}
    lines = [seen[f"{i}.seen.example.com."] for i in range(1, len(seen) + 1)]
    assert lines[0] == ("192.0.2.53|192.0.2.53:53|example.com.|example.com|example.com.|true|6|1|"
                        "3600|ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 "
                        "1209600 300")
    assert "192.0.2.53|192.0.2.53:53|example.com.|example.com|example.com.|true|15|1|3600|"\
           "10 mail.example.com." in lines


def test_drop(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qname():toString():sub(1, 1) == "_" then return 0, {} end
          return -1, {}
        end
    """)
    assert _rrs(out) == {rr for rr in _rrs(_zone()) if not rr[0].startswith("_")}


def test_replace_one_record_by_two(tmp_path: Path) -> None:
    """PowerDNS's documented example: HINFO replaced by TXT (unquoted content: one string)."""
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.HINFO then
            local resp = {}
            resp[1] = {qname = record:qname():toString(), qtype = pdns.TXT, ttl = 99,
                       content = "Hello Ahu!"}
            resp[2] = {qname = "new." .. zone:toString(), qtype = "AAAA", ttl = 120,
                       content = "2001:db8::1"}
            return 0, resp
          end
          return -1, {}
        end
    """)
    expected = {rr for rr in _rrs(_zone()) if rr[2] != "HINFO"}
    expected |= {("old.example.com.", 99, "TXT", '"Hello Ahu!"'),
                 ("new.example.com.", 120, "AAAA", "2001:db8::1")}
    assert _rrs(out) == expected


def test_append_keeps_the_record(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.A and record:qname():equal("www.example.com") then
            return 1, {{qname = "www.example.com", qtype = pdns.TXT, ttl = 300,
                        content = '"from ' .. remoteip:toString() .. '"'}}
          end
          return -1, {}
        end
    """)
    assert _rrs(out) == _rrs(_zone()) | {("www.example.com.", 300, "TXT", '"from 192.0.2.53"')}


def test_change_ttl_and_content_names_are_absolute(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.MX then
            return 0, {{qname = record:qname():toString(), qtype = record:qtype(), ttl = 60,
                        content = "20 mx.example.net"}}
          end
          if record:qtype() == pdns.A then
            return 0, {{qname = record:qname():toString(), qtype = record:qtype(), ttl = 42,
                        content = record:content()}}
          end
          return -1, {}
        end
    """)
    rrs = _rrs(out)
    assert ("example.com.", 60, "MX", "20 mx.example.net.") in rrs
    assert {rr[1] for rr in rrs if rr[2] == "A"} == {42}


def test_the_soa_is_filtered_but_never_lost(tmp_path: Path) -> None:
    edited = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.SOA then
            return 0, {{qname = zone:toString(), qtype = pdns.SOA, ttl = 3600,
              content = "ns1.example.com. hostmaster.example.com. 2024999999 7200 3600 "
                        .. "1209600 300"}}
          end
          return -1, {}
        end
    """)
    soa = edited.get_rdataset(dns.name.from_text("example.com."), dns.rdatatype.SOA)
    assert [r.serial for r in soa] == [2024999999]
    dropped = _run(tmp_path, "function axfrfilter() return 0, {} end")
    assert {rr[2] for rr in _rrs(dropped)} == {"SOA"}
    assert dropped.get_rdataset(dropped.origin, dns.rdatatype.SOA)[0].serial == 2024010101


def test_records_outside_the_zone_are_left_out(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.HINFO then
            return 0, {{qname = "evil.example.net", qtype = pdns.A, ttl = 1,
                        content = "192.0.2.66"}}
          end
          return -1, {}
        end
    """)
    assert not any(rr[0].endswith("example.net.") for rr in _rrs(out))


def test_a_script_error_aborts(tmp_path: Path) -> None:
    path = _script(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.MX then error("no MX here") end
          return -1, {}
        end
    """)
    with pytest.raises(FilterError) as info:
        AxfrFilter(path).filter_zone(_zone(), "192.0.2.53")
    message = str(info.value)
    assert "example.com." in message and path in message and "no MX here" in message
    assert f"{path}:3:" in message and "\n" not in message


@pytest.mark.parametrize("body, why", [
    ("return 2, {}", "not -1, 0 or 1"),
    ("return 'yes', {}", "not -1, 0 or 1"),
    ("return nil", "not -1, 0 or 1"),
    ("return 0", "not a table of records"),
    ("return 0, {'x'}", "not a table"),
    ("return 0, {{qname = 'a.example.com', qtype = pdns.A, content = 'not an address'}}",
     "cannot be read"),
    ("return 0, {{qname = 'a.example.com', qtype = pdns.A, content = '192.0.2.9', prio = 1}}",
     "unknown field 'prio'"),
    ("return 0, {{qname = 'a.example.com', content = '192.0.2.9'}}", "lacks qtype"),
    ("return 0, {{qname = 'a.example.com', qtype = pdns.A, ttl = -1, content = '192.0.2.9'}}",
     "cannot be read"),
])
def test_a_bad_return_value_aborts(tmp_path: Path, body: str, why: str) -> None:
    path = _script(tmp_path, f"function axfrfilter(remoteip, zone, record) {body} end")
    with pytest.raises(FilterError, match=why) as info:
        AxfrFilter(path).filter_zone(_zone(), "192.0.2.53")
    assert "example.com." in str(info.value) and path in str(info.value)


@pytest.mark.parametrize("body", [
    "function axfrfilter() while true do end end",
    # a pcall of the script cannot swallow the limit
    "function axfrfilter() while true do pcall(function() while true do end end) end end",
    # nor a coroutine escape it
    "function axfrfilter() coroutine.wrap(function() while true do end end)() end",
    "function axfrfilter() debug.sethook() while true do end end",
])
def test_a_runaway_script_is_stopped_within_a_second(tmp_path: Path, body: str) -> None:
    started = time.monotonic()
    with pytest.raises(FilterError, match=r"ran longer than|reserved"):
        _run(tmp_path, body)
    assert time.monotonic() - started < 1.0


def test_a_script_that_eats_memory_is_stopped(tmp_path: Path) -> None:
    with pytest.raises(FilterError, match="not enough memory"):
        AxfrFilter(_script(tmp_path, """
            function axfrfilter()
              local t = {}
              for i = 1, 1e9 do t[i] = string.rep("x", 64) .. i end
            end
        """), max_memory=4 << 20, call_timeout=5).filter_zone(_zone(), "192.0.2.53")


def test_the_filter_is_usable_after_a_timeout(tmp_path: Path) -> None:
    """The limit is per call: the next call gets its full time again."""
    flt = AxfrFilter(_script(tmp_path, """
        calls = 0
        function axfrfilter()
          calls = calls + 1
          if calls == 1 then while true do end end
          return -1, {}
        end
    """), call_timeout=0.2)
    with pytest.raises(FilterError):
        flt.filter_zone(_zone(), "192.0.2.53")
    assert _rrs(flt.filter_zone(_zone(), "192.0.2.53")) == _rrs(_zone())


def test_a_script_that_does_not_compile_reports_path_and_line(tmp_path: Path) -> None:
    path = _script(tmp_path, "-- a comment\nfunction axfrfilter(remoteip, zone, record)\n"
                             "  return = -1\nend\n")
    with pytest.raises(ScriptError) as info:
        AxfrFilter(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_scripts_that_cannot_be_used(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read"):
        AxfrFilter(str(tmp_path / "missing.lua"))
    with pytest.raises(ScriptError, match="defines no function axfrfilter"):
        AxfrFilter(_script(tmp_path, "function axfrFilter() return -1, {} end"))
    with pytest.raises(ScriptError, match=r"filter\.lua:1: .*at load"):
        AxfrFilter(_script(tmp_path, "error('at load')"))
    with pytest.raises(ScriptError, match="while loading"):
        AxfrFilter(_script(tmp_path, "while true do end"), call_timeout=0.2)


def test_python_is_not_reachable(tmp_path: Path) -> None:
    out = _run(tmp_path, """
        function axfrfilter(remoteip, zone, record)
          if record:qtype() == pdns.HINFO then
            return 0, {{qname = record:qname():toString(), qtype = pdns.TXT, ttl = 1,
                        content = tostring(python) .. " " .. tostring(pcall(function()
                          return pdnslog.__globals__ end))}}
          end
          return -1, {}
        end
    """)
    assert ("old.example.com.", 1, "TXT", '"nil false"') in _rrs(out)


def test_filter_for_setting_and_metadata(tmp_path: Path) -> None:
    glob = _script(tmp_path, "function axfrfilter() return -1, {} end", "global.lua")
    zone = _script(tmp_path, "function axfrfilter() return 0, {} end", "zone.lua")
    assert filter_for("", {}) is None
    assert filter_for("", {"ALLOW-AXFR-FROM": ["192.0.2.0/24"]}) is None
    chosen = filter_for(glob, {})
    assert chosen is not None and chosen.path == glob
    # the zone's metadata beats the global setting
    chosen = filter_for(glob, {"LUA-AXFR-SCRIPT": [zone]})
    assert chosen is not None and chosen.path == zone
    chosen = filter_for("", {"LUA-AXFR-SCRIPT": [zone]})
    assert chosen is not None and chosen.path == zone
    # NONE (any case) disables it for that zone
    assert filter_for(glob, {"LUA-AXFR-SCRIPT": ["NONE"]}) is None
    assert filter_for(glob, {"LUA-AXFR-SCRIPT": ["none"]}) is None
    assert filter_for("", {"LUA-AXFR-SCRIPT": ["NONE"]}) is None
    # an empty list is no metadata
    chosen = filter_for(glob, {"LUA-AXFR-SCRIPT": []})
    assert chosen is not None and chosen.path == glob
    with pytest.raises(ScriptError):
        filter_for(str(tmp_path / "missing.lua"), {})

"""PowerDNS's Lua AXFR filter: a secondary zone's records rewritten or dropped by a script.

As PowerDNS (``docs/modes-of-operation.rst`` "Modifying a secondary zone using a script",
``pdns/lua-auth4.cc`` ``AuthLua4::axfrfilter``, ``auth-secondarycommunicator.cc``
``doAxfr``/``suck``): the script is the per-zone metadata ``LUA-AXFR-SCRIPT`` (first value;
``NONE``, any case, disables) or else the ``lua-axfr-script`` setting.  Its function
``axfrfilter(remoteip, zone, record)`` is called once for every record of the transferred
zone, the SOA included, and returns a code and a table of records:

- a negative code (``-1``): keep the record as it came;
- ``0``: replace it by the records of the table (an empty table drops it);
- ``1``: keep it and add the records of the table after it;
- anything else aborts the transfer, as does an error in the script or a record of the
  table that cannot be read.  The zone served stays the one from before the transfer.

A record of the table is ``{qname=, qtype=, ttl=, content=}`` (any other field is an
error; ``ttl`` defaults to 0, as PowerDNS's).  ``remoteip`` has ``toString()``,
``toStringWithPort()``, ``getPort()``, ``isIPv4()``, ``isIPv6()``; ``zone`` and
``record:qname()`` are names with ``toString()``, ``toStringNoDot()``, ``countLabels()``,
``isPartOf(name)``, ``equal(text)``, ``chopOff()`` and ``==``; ``record`` has ``qname()``,
``qtype()``, ``qclass()``, ``ttl()``, ``content()`` (presentation form, names absolute),
``auth()`` and ``disabled()``.  The globals ``pdns`` (``pdns.A`` ... type codes,
``pdns.loglevels``), ``pdnslog(message[, level])`` and ``newDN(text)`` exist as in PowerDNS.
A record the script puts outside the zone is left out with a warning, and only the first SOA
at the apex is kept, as PowerDNS does.

Deliberate differences (each also in the report of the change that brought this module):

- the script runs with a time limit per call (:data:`CALL_TIMEOUT`) and a memory limit
  (:data:`MAX_MEMORY`), so that a runaway script cannot hang the manager; PowerDNS has none;
- a zone whose SOA the script drops keeps the SOA it came with (PowerDNS would store a zone
  without one), with a warning;
- a script that defines no ``axfrfilter`` is an error when it is loaded (PowerDNS silently
  leaves the zone as it came);
- ``qtype`` may also be a type name (``"TXT"``), and a TXT/SPF ``content`` that does not start
  with ``"`` is one string (PowerDNS's documented example writes ``content = "Hello Ahu!"``);
- ``debug.sethook`` is reserved (it carries the time limit); the ``python`` module lupa
  would add is absent.

Records of one RRset share one TTL here (the lowest wins), as everywhere in fastdns.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import time
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.zone
import lupa.lua54 as lua

__all__ = ["CALL_TIMEOUT", "MAX_MEMORY", "AxfrFilter", "FilterError", "ScriptError",
           "filter_for"]

log = logging.getLogger(__name__)

#: seconds one call of ``axfrfilter`` (or the loading of the script) may run
CALL_TIMEOUT = 0.5
#: bytes the Lua state of one script may allocate
MAX_MEMORY = 64 << 20
#: Lua instructions between two looks at the clock
_HOOK_COUNT = 1000


class FilterError(Exception):
    """The filter failed: the transfer must be dropped.  One line naming zone and script."""


class ScriptError(FilterError):
    """The script cannot be used at all: unreadable, does not compile (``path:line: why``),
    fails while loading, or defines no ``axfrfilter``."""


# The Lua side: helpers the script cannot reach (locals of this chunk), returned to Python.
_PRELUDE = r"""
local now, limit, hook_count, pylog = ...
local sethook, getinfo = debug.sethook, debug.getinfo
local pcall, error, tostring, type = pcall, error, tostring, type
local setmetatable, select, pack, unpack = setmetatable, select, table.pack, table.unpack
local lower, sub, concat = string.lower, string.sub, table.concat

local deadline, timed_out, main = 0, false, nil
local guarded
local function hook()
  if timed_out then
    if getinfo(2, "f").func ~= guarded then error("time limit exceeded", 0) end
  elseif now() > deadline then
    -- from now on every instruction fails, so that no pcall of the script can catch it
    timed_out = true
    sethook(hook, "", 1)
    sethook(main, hook, "", 1)
    error("time limit exceeded", 0)
  end
end

function guarded(fn, ...)
  deadline, timed_out, main = now() + limit, false, coroutine.running()
  sethook(hook, "", hook_count)
  local result = pack(pcall(fn, ...))
  sethook()
  if not result[1] then
    local why = result[2]
    return timed_out, false, type(why) == "string" and why or tostring(why)
  end
  return timed_out, true, unpack(result, 2, result.n)
end

-- a coroutine does not inherit the hook: give it one
local co_create, co_resume = coroutine.create, coroutine.resume
coroutine.create = function(fn)
  local co = co_create(fn)
  sethook(co, hook, "", hook_count)
  return co
end
coroutine.wrap = function(fn)
  local co = coroutine.create(fn)
  return function(...)
    local result = pack(co_resume(co, ...))
    if not result[1] then error(result[2], 0) end
    return unpack(result, 2, result.n)
  end
end

debug.sethook = function() error("debug.sethook is reserved by fastdns", 2) end
python = nil

-- names: absolute presentation text and its labels
local DN = {}
DN.__index = DN
local function labels_of(text)
  local out, cur, i, n = {}, {}, 1, #text
  while i <= n do
    local c = sub(text, i, i)
    if c == "\\" then
      cur[#cur + 1] = sub(text, i, i + 1)
      i = i + 2
    elseif c == "." then
      if #cur > 0 then out[#out + 1] = concat(cur) end
      cur = {}
      i = i + 1
    else
      cur[#cur + 1] = c
      i = i + 1
    end
  end
  if #cur > 0 then out[#out + 1] = concat(cur) end
  return out
end
local function make_name(labels)
  return setmetatable({_labels = labels}, DN)
end
local function newDN(text)
  return make_name(labels_of(tostring(text)))
end
function DN:toString()
  if #self._labels == 0 then return "." end
  return concat(self._labels, ".") .. "."
end
DN.tostring = DN.toString
DN.__tostring = DN.toString
function DN:toStringNoDot()
  if #self._labels == 0 then return "." end
  return concat(self._labels, ".")
end
function DN:countLabels() return #self._labels end
function DN:isPartOf(other)
  if type(other) == "string" then other = newDN(other) end
  local mine, theirs = self._labels, other._labels
  local offset = #mine - #theirs
  if offset < 0 then return false end
  for i = 1, #theirs do
    if lower(mine[offset + i]) ~= lower(theirs[i]) then return false end
  end
  return true
end
DN.__eq = function(a, b)
  return #a._labels == #b._labels and a:isPartOf(b)
end
function DN:equal(text) return self == newDN(text) end
function DN:chopOff()
  if #self._labels == 0 then return false end
  table.remove(self._labels, 1)
  return true
end

-- the transfer's remote address
local CA = {}
CA.__index = CA
function CA:toString() return self._ip end
CA.tostring = CA.toString
CA.__tostring = CA.toString
function CA:toStringWithPort()
  if self._ip:find(":", 1, true) then return "[" .. self._ip .. "]:" .. self._port end
  return self._ip .. ":" .. self._port
end
function CA:getPort() return self._port end
function CA:isIPv4() return not self._ip:find(":", 1, true) end
function CA:isIPv6() return self._ip:find(":", 1, true) ~= nil end
local function address(ip, port)
  return setmetatable({_ip = ip, _port = port}, CA)
end

-- one record of the zone, as PowerDNS's DNSResourceRecord shows it
local RR = {}
RR.__index = RR
function RR:qname() return newDN(self._qname) end
function RR:qtype() return self._qtype end
function RR:qclass() return self._qclass end
function RR:ttl() return self._ttl end
function RR:content() return self._content end
function RR:auth() return true end
function RR:disabled() return false end
local function record(qname, qtype, qclass, ttl, content)
  return setmetatable({_qname = qname, _qtype = qtype, _qclass = qclass, _ttl = ttl,
                       _content = content}, RR)
end

_G.newDN = newDN
_G.pdnslog = function(message, level) pylog(tostring(message), level) end

local function compile(source, chunkname)
  return load(source, "=" .. chunkname, "t")
end

local function is_function(value) return type(value) == "function" end
local function is_table(value) return type(value) == "table" end

return {guarded = guarded, record = record, name = newDN, address = address,
        compile = compile, is_function = is_function, is_table = is_table}
"""

_SYSLOG_LEVELS = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL,
                  3: logging.ERROR, 4: logging.WARNING, 5: logging.INFO, 6: logging.INFO,
                  7: logging.DEBUG}
_LOGLEVELS = {"Emergency": 0, "Alert": 1, "Critical": 2, "Error": 3, "Warning": 4, "Notice": 5,
              "Info": 6, "Debug": 7}
_RECORD_FIELDS = ("qname", "qtype", "ttl", "content")


def _deny_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("Python attributes are not reachable from the AXFR script")


class AxfrFilter:
    """A Lua AXFR script, loaded and ready to filter transferred zones.

    Loading compiles and runs the script once (raises :class:`ScriptError`).  One instance
    is used by one thread at a time (lupa serialises calls into a Lua state anyway).
    """

    def __init__(self, path: str, *, call_timeout: float = CALL_TIMEOUT,
                 max_memory: int = MAX_MEMORY) -> None:
        self.path = path
        self.call_timeout = call_timeout
        self._chunk = os.path.basename(path) or path
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError as exc:
            raise ScriptError(f"{path}: cannot read the Lua AXFR script: "
                              f"{exc.strerror or exc}") from None
        self._lua = lua.LuaRuntime(max_memory=max_memory, register_eval=False,
                                   register_builtins=False,
                                   attribute_filter=_deny_attributes)
        pdns = self._lua.table_from({t.name: int(t) for t in dns.rdatatype.RdataType})
        pdns["loglevels"] = self._lua.table_from(_LOGLEVELS)
        self._lua.globals()["pdns"] = pdns
        self._h = self._lua.execute(_PRELUDE, time.monotonic, call_timeout, _HOOK_COUNT,
                                    self._pdnslog)
        compiled = self._h.compile(source, self._chunk)
        function, why = (compiled if isinstance(compiled, tuple) else (compiled, None))
        if function is None:
            raise ScriptError(self._where(str(why), compile_error=True))
        timed_out, ok, *rest = self._h.guarded(function)
        if timed_out:
            raise ScriptError(f"{path}: ran longer than {call_timeout:g} s while loading")
        if not ok:
            raise ScriptError(self._where(str(rest[0])))
        self._filter = self._lua.globals()["axfrfilter"]
        if not self._h.is_function(self._filter):
            raise ScriptError(f"{path}: the script defines no function axfrfilter")

    # -- reporting -----------------------------------------------------------------------

    def _where(self, message: str, compile_error: bool = False) -> str:
        """A Lua message ``chunk:line: why`` as ``path:line: why``, on one line."""
        message = " ".join(message.split())
        prefix = self._chunk + ":"
        if message.startswith(prefix):
            line, _, why = message[len(prefix):].partition(":")
            if line.isdigit():
                return f"{self.path}:{line}:{why}"
        return f"{self.path}: {message}" if compile_error else message

    def _pdnslog(self, message: str, level: Any = None) -> None:
        level = level if isinstance(level, int) else 4
        log.log(_SYSLOG_LEVELS.get(level, logging.WARNING), "Lua AXFR script %s: %s",
                self.path, message)

    # -- filtering -----------------------------------------------------------------------

    def filter_zone(self, zone: dns.zone.Zone, remote_ip: str) -> dns.zone.Zone:
        """A new zone (``relativize=False``) made of ``zone``'s records as ``axfrfilter``
        leaves them.  Raises :class:`FilterError` (the transfer must be dropped)."""
        origin = zone.origin
        assert origin is not None
        zone_text = origin.to_text()
        out = dns.zone.Zone(origin, rdclass=zone.rdclass, relativize=False)
        remote = self._address(remote_ip)
        lua_zone = self._h.name(zone_text)
        soa: tuple[int, dns.rdata.Rdata] | None = None
        kept_soa = False
        for name, ttl, rdata in _records(zone):
            if rdata.rdtype == dns.rdatatype.SOA and soa is None:
                soa = (ttl, rdata)
            results = self._call(zone_text, remote, lua_zone, name, ttl, rdata)
            for new_name, new_ttl, new_rdata in results:
                if not new_name.is_subdomain(origin):
                    log.warning("zone '%s': Lua AXFR script %s put %s|%s outside the zone; "
                                "left out", zone_text, self.path, new_name,
                                dns.rdatatype.to_text(new_rdata.rdtype))
                    continue
                if new_rdata.rdtype == dns.rdatatype.SOA:
                    if kept_soa or new_name != origin:
                        continue          # as PowerDNS: the first SOA at the apex only
                    kept_soa = True
                _add(out, new_name, new_ttl, new_rdata)
        if not kept_soa and soa is not None:
            log.warning("zone '%s': Lua AXFR script %s dropped the SOA; the transferred SOA "
                        "is kept", zone_text, self.path)
            _add(out, origin, soa[0], soa[1])
        return out

    def _address(self, remote_ip: str) -> Any:
        text, port = remote_ip.strip(), 53
        match = re.fullmatch(r"\[(.+)\]:(\d+)|([^:]+):(\d+)", text)
        if match:
            text = match.group(1) or match.group(3)
            port = int(match.group(2) or match.group(4))
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            ip = None
        return self._h.address(str(ip) if ip is not None else text, port)

    def _call(self, zone_text: str, remote: Any, lua_zone: Any, name: dns.name.Name,
              ttl: int, rdata: dns.rdata.Rdata) -> list[tuple[dns.name.Name, int, Any]]:
        rdtype = dns.rdatatype.to_text(rdata.rdtype)
        content = rdata.to_text(origin=dns.name.root, relativize=False)
        record = self._h.record(name.to_text(), int(rdata.rdtype), int(rdata.rdclass), ttl,
                                content)
        timed_out, ok, *rest = self._h.guarded(self._filter, remote, lua_zone, record)
        where = f"zone '{zone_text}': Lua AXFR script {self.path}"
        if timed_out:
            raise FilterError(f"{where} ran longer than {self.call_timeout:g} s on "
                              f"{name}|{rdtype}")
        if not ok:
            raise FilterError(f"{where} failed on {name}|{rdtype}: {self._where(str(rest[0]))}")
        code = rest[0] if rest else None
        if isinstance(code, float) and code.is_integer():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int) or code > 1:
            raise FilterError(f"{where} returned {_show(code)} for {name}|{rdtype}, not -1, "
                              "0 or 1")
        if code < 0:
            return [(name, ttl, rdata)]
        rows = rest[1] if len(rest) > 1 else None
        if not self._h.is_table(rows):
            raise FilterError(f"{where} returned {code} and {_show(rows)} for {name}|{rdtype}"
                              ", not a table of records")
        kept = [(name, ttl, rdata)] if code == 1 else []
        return kept + [self._row(where, name, rdtype, key, row, zone_text)
                       for key, row in _ordered(rows)]

    def _row(self, where: str, name: dns.name.Name, rdtype: str, key: Any, row: Any,
             zone_text: str) -> tuple[dns.name.Name, int, Any]:
        what = f"{where}: record {_show(key)} returned for {name}|{rdtype}"
        if not self._h.is_table(row):
            raise FilterError(f"{what} is {_show(row)}, not a table")
        fields: dict[str, Any] = {}
        for field, value in row.items():
            if field not in _RECORD_FIELDS:
                raise FilterError(f"{what} has an unknown field {_show(field)}")
            fields[field] = value
        missing = [f for f in ("qname", "qtype", "content") if f not in fields]
        if missing:
            raise FilterError(f"{what} lacks {', '.join(missing)}")
        try:
            qname = fields["qname"]
            if not isinstance(qname, str):
                raise ValueError(f"qname {_show(qname)} is not text")
            new_name = dns.name.from_text(qname)
            new_name = dns.name.Name([label.lower() for label in new_name.labels])
            new_type = _rdtype(fields["qtype"])
            ttl = fields.get("ttl", 0)
            if isinstance(ttl, float) and ttl.is_integer():
                ttl = int(ttl)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl < 2**31:
                raise ValueError(f"ttl {_show(ttl)} is not a number of seconds")
            content = fields["content"]
            if not isinstance(content, str):
                raise ValueError(f"content {_show(content)} is not text")
            if new_type in (dns.rdatatype.TXT, dns.rdatatype.SPF) and \
                    not content.lstrip().startswith('"'):
                content = '"' + content.replace("\\", "\\\\").replace('"', '\\"') + '"'
            new_rdata = dns.rdata.from_text(dns.rdataclass.IN, new_type, content,
                                            origin=dns.name.root, relativize=False)
        except Exception as exc:  # dnspython's parse errors are many classes
            why = " ".join(str(exc).split()) or type(exc).__name__
            raise FilterError(f"{what} cannot be read: {why}") from None
        return new_name, ttl, new_rdata


def filter_for(setting_path: str, zone_meta: dict[str, list[str]]) -> AxfrFilter | None:
    """The filter for one zone: its ``LUA-AXFR-SCRIPT`` metadata (first value; ``NONE``
    disables) or else the ``lua-axfr-script`` setting; ``None`` when neither names a script.
    Raises :class:`ScriptError` for a script that cannot be loaded (PowerDNS then does not
    transfer the zone)."""
    script = (setting_path or "").strip()
    for kind, values in zone_meta.items():
        if kind.upper() == "LUA-AXFR-SCRIPT" and values:
            first = values[0].strip()
            script = "" if first.upper() == "NONE" else first
            break
    return AxfrFilter(script) if script else None


# -- helpers -----------------------------------------------------------------------------


def _records(zone: dns.zone.Zone) -> list[tuple[dns.name.Name, int, dns.rdata.Rdata]]:
    """The zone's records with absolute names, the apex SOA first (as AXFR sends them)."""
    origin = zone.origin
    assert origin is not None
    first, rest = [], []
    for name, ttl, rdata in zone.iterate_rdatas():
        name = name.derelativize(origin)
        if rdata.rdtype == dns.rdatatype.SOA and name == origin:
            first.append((name, ttl, rdata))
        else:
            rest.append((name, ttl, rdata))
    return first + rest


def _add(zone: dns.zone.Zone, name: dns.name.Name, ttl: int, rdata: Any) -> None:
    node = zone.find_node(name, create=True)
    rdataset = node.find_rdataset(rdata.rdclass, rdata.rdtype, rdata.covers(), create=True)
    rdataset.add(rdata, ttl)


def _ordered(rows: Any) -> list[tuple[Any, Any]]:
    """A Lua table's items, numeric keys in order first (PowerDNS's order is its map's)."""
    items = list(rows.items())
    numeric = sorted((kv for kv in items if isinstance(kv[0], (int, float))),
                     key=lambda kv: kv[0])
    return numeric + [kv for kv in items if not isinstance(kv[0], (int, float))]


def _rdtype(value: Any) -> dns.rdatatype.RdataType:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        raise ValueError(f"qtype {value!r} is not a type")
    if isinstance(value, int):
        if not 0 < value < 65536:
            raise ValueError(f"qtype {value} is not a type")
        return dns.rdatatype.RdataType.make(value)
    if isinstance(value, str):
        return dns.rdatatype.from_text(value.strip())
    raise ValueError(f"qtype {_show(value)} is not a type")


def _show(value: Any) -> str:
    """A Lua value as a short phrase for an error message."""
    if value is None:
        return "nil"
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return lua.lua_type(value) or type(value).__name__

"""The server-wide parts of PowerDNS 4.7's API: discovery (``/api``, ``/api/v1``), the server
object, its configuration and statistics, search-data, cache/flush, TSIG keys and
autoprimaries.

- ``config`` lists every setting (the general ones and those of the launched backends) with
  its value as text; secrets (``api-key``, ``webserver-password``, every ``*-password`` and
  ``*-secret``) show as ``***``, as PowerDNS shows the first two.
- ``statistics`` gives PowerDNS's counters (StatisticItem, value as text), then the queries
  by type, the answers by size and by rcode (MapStatisticItem), then the ``remotes`` ring
  (RingStatisticItem) unless ``includerings=false``; ``statistic=NAME`` picks one counter
  (422 ``Unknown statistic name`` for any other name, as 4.7).
- ``search-data`` matches ``q`` (``*`` any text, ``?`` one character, no case) against zone
  names, record names and contents, and comment names and texts: one SQL query per SQL
  backend, at most ``max`` (default 100) of each object type; zones of the bind backend are
  matched by name only.
- TSIG keys live in the ``tsigkeys`` tables fastdns-util uses (the SQL backends and the
  ``bind-dnssec-db`` files, in ``launch=`` order; a new key goes to the first); a key posted
  without a secret gets a random one of pdnsutil's size.
- Autoprimaries live in the ``supermasters`` table of the SQL backends (new ones in the
  first).
"""

from __future__ import annotations

import base64
import fnmatch
import ipaddress
import os
from typing import Any

from aiohttp import web

from fastdns.api.http import (
    SERVER,
    STORE,
    ApiError,
    check_server,
    json_response,
    no_content,
    read_json,
)
from fastdns.api.keys import dns_name
from fastdns.api.rrsets import shown_content
from fastdns.api.zones import zone_from_id, zone_id
from fastdns.backends.bind import BindBackend
from fastdns.backends.gsql import GSQLBackend, db_name, zone_text
from fastdns.dnssec.keystore import BindDnssecDB
from fastdns.xfr.tsig import SECRET_SIZES, algorithm_name, decode_secret
from fastdns.zone.source import BackendError

SERVERS = "/api/v1/servers"
SERVER_PATH = SERVERS + "/{server_id}"
RCODES = {"noerror-packets": "No Error", "servfail-packets": "Server Failure",
          "nxdomain-packets": "Non-Existent domain", "unauth-packets": "Query Refused"}
OBJECT_TYPES = ("all", "zone", "record", "comment")
HIDDEN = "***"


def _hidden(name: str) -> bool:
    return name == "api-key" or name.endswith(("-password", "-secret"))


# --------------------------------------------------------------------------------------------
# discovery and the server


async def api_root(request: web.Request) -> web.Response:
    return json_response([{"url": "/api/v1", "version": 1}])


async def api_v1(request: web.Request) -> web.Response:
    return json_response([{"server_url": "/api/v1/servers{/server}", "api_features": []}])


#: the version the Server object gives: the PowerDNS release whose API this one is. Clients
#: choose what to send by it (octodns-powerdns takes a version below 4.2 for one whose
#: missing zones are 422s, not 404s); fastdns's own version is in the Server header
API_VERSION = "4.7.3"


def _server() -> dict[str, Any]:
    base = f"{SERVERS}/localhost"
    return {"type": "Server", "id": "localhost", "daemon_type": "authoritative",
            "version": API_VERSION, "url": base, "config_url": base + "/config{/config_setting}",
            "zones_url": base + "/zones{/zone}",
            "autoprimaries_url": base + "/autoprimaries{/autoprimary}"}


async def list_servers(request: web.Request) -> web.Response:
    return json_response([_server()])


async def get_server(request: web.Request) -> web.Response:
    check_server(request)
    return json_response(_server())


# --------------------------------------------------------------------------------------------
# config


def _setting(config: Any, name: str) -> dict[str, Any]:
    return {"type": "ConfigSetting", "name": name,
            "value": HIDDEN if _hidden(name) else config.text(name)}


async def list_config(request: web.Request) -> web.Response:
    check_server(request)
    config = request.app[SERVER].config
    return json_response([_setting(config, name) for name in sorted(config.names())])


async def get_config(request: web.Request) -> web.Response:
    check_server(request)
    config = request.app[SERVER].config
    name = request.match_info["config_setting_name"]
    if name not in config.names():
        raise ApiError(404, f"No setting '{name}'")
    return json_response(_setting(config, name))


# --------------------------------------------------------------------------------------------
# statistics


def _pairs(items: list[tuple[str, int]]) -> list[dict[str, str]]:
    return [{"name": name, "value": str(count)} for name, count in items]


def _type_name(code: int) -> str:
    import dns.rdatatype

    try:
        return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(code))
    except ValueError:
        return f"TYPE{code}"


async def statistics(request: web.Request) -> web.Response:
    check_server(request)
    server = request.app[SERVER]
    counters = server.statistics()
    wanted = request.query.get("statistic")
    if wanted is not None:
        if wanted not in counters:
            raise ApiError(422, "Unknown statistic name")
        return json_response([{"type": "StatisticItem", "name": wanted,
                               "value": str(counters[wanted])}])
    out: list[dict[str, Any]] = [{"type": "StatisticItem", "name": name, "value": str(value)}
                                 for name, value in sorted(counters.items())]
    qtypes = sorted(server.query_types().items())
    sizes = sorted(server.response_sizes().items())
    rcodes = [(text, counters.get(name, 0)) for name, text in RCODES.items()]
    out += [
        {"type": "MapStatisticItem", "name": "response-by-qtype",
         "value": _pairs([(_type_name(code), count) for code, count in qtypes if count])},
        {"type": "MapStatisticItem", "name": "response-sizes",
         "value": _pairs([(str(size), count) for size, count in sizes if count])},
        {"type": "MapStatisticItem", "name": "response-by-rcode",
         "value": _pairs([(text, count) for text, count in rcodes if count])},
    ]
    if request.query.get("includerings", "true") != "false":
        remotes = server.remotes()
        out.append({"type": "RingStatisticItem", "name": "remotes",
                    "size": str(len(remotes)), "value": _pairs(remotes)})
    return json_response(out)


# --------------------------------------------------------------------------------------------
# search-data


def _like(pattern: str) -> str:
    """A ``*``/``?`` pattern as an SQL LIKE pattern (escape ``!``), lowercase."""
    out = []
    for char in pattern.lower():
        if char in "!%_":
            out.append("!" + char)
        else:
            out.append({"*": "%", "?": "_"}.get(char, char))
    return "".join(out)


_SEARCH_SQL = (
    "SELECT * FROM (SELECT 'zone', name, '', '', 0, 0, name, 0 FROM domains "
    "WHERE name LIKE ? ESCAPE '!' LIMIT ?) AS z UNION ALL "
    "SELECT * FROM (SELECT 'record', records.name, records.type, records.content, "
    "records.ttl, CASE WHEN records.disabled THEN 1 ELSE 0 END, domains.name, records.prio "
    "FROM records JOIN domains ON domains.id = records.domain_id WHERE "
    "records.type IS NOT NULL AND "
    "(records.name LIKE ? ESCAPE '!' OR LOWER(records.content) LIKE ? ESCAPE '!') LIMIT ?) "
    "AS r UNION ALL "
    "SELECT * FROM (SELECT 'comment', comments.name, comments.type, comments.comment, 0, 0, "
    "domains.name, 0 FROM comments JOIN domains ON domains.id = comments.domain_id WHERE "
    "comments.name LIKE ? ESCAPE '!' OR LOWER(comments.comment) LIKE ? ESCAPE '!' LIMIT ?) "
    "AS c")


def _query(backend: GSQLBackend, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with backend._cursor() as cur:
        cur.execute(backend._q(sql), params)
        return list(cur.fetchall())


def _search(backends: list[Any], q: str, limit: int, kinds: set[str]
            ) -> list[dict[str, Any]]:
    name_pattern = _like(q[:-1] if q.endswith(".") and q != "." else q)
    pattern = _like(q)
    found: dict[str, list[dict[str, Any]]] = {"zone": [], "record": [], "comment": []}
    for backend in backends:
        if isinstance(backend, GSQLBackend):
            rows = _query(backend, _SEARCH_SQL, (
                name_pattern, limit if "zone" in kinds else 0,
                name_pattern, pattern, limit if "record" in kinds else 0,
                name_pattern, pattern, limit if "comment" in kinds else 0))
        elif "zone" in kinds:
            rows = [("zone", info.name, "", "", 0, 0, info.name, 0)
                    for info in backend.list_zones()
                    if fnmatch.fnmatchcase(info.name.rstrip(".").lower(), q.lower().rstrip("."))]
        else:
            rows = []
        for kind, name, rtype, content, ttl, disabled, zone, prio in rows:
            zone = zone_text(str(zone))
            item: dict[str, Any] = {"object_type": kind, "name": zone_text(str(name)),
                                    "zone_id": zone_id(zone)}
            if kind == "record":
                item.update(type=rtype, content=shown_content(rtype, content or "",
                                                             int(prio or 0)),
                            ttl=int(ttl or 0), disabled=bool(disabled), zone=zone)
            elif kind == "comment":
                item.update(type=rtype, content=content or "", zone=zone)
            found[kind].append(item)
    return [item for kind in ("zone", "record", "comment") for item in found[kind][:limit]]


async def search_data(request: web.Request) -> web.Response:
    check_server(request)
    q = request.query.get("q", "")
    if not q:
        raise ApiError(422, "Query q can't be blank")
    text = request.query.get("max", "100")
    try:
        limit = int(text)
    except ValueError:
        raise ApiError(422, f"Maximum entries '{text}' is not a number") from None
    if limit <= 0:
        raise ApiError(422, "Maximum entries must be larger than 0")
    object_type = request.query.get("object_type", "all")
    if object_type not in OBJECT_TYPES:
        raise ApiError(422, "object_type must be one of the following options: "
                       + ", ".join(OBJECT_TYPES))
    kinds = {"zone", "record", "comment"} if object_type == "all" else {object_type}
    store = request.app[STORE]
    out = await store.run(lambda: _search(store.backends(), q, limit, kinds))
    return json_response(out)


# --------------------------------------------------------------------------------------------
# cache/flush


async def flush_cache(request: web.Request) -> web.Response:
    check_server(request)
    domain = request.query.get("domain", "")
    if not domain.endswith("."):
        raise ApiError(422, f"DNS Name '{domain}' is not canonical")
    name = dns_name(domain)
    reply = await request.app[SERVER].control(["purge", name + "$"])
    try:
        count = int(reply.strip())
    except ValueError:
        raise ApiError(500, f"Flushing the cache failed: {reply.strip()}") from None
    return json_response({"count": count, "result": "Flushed cache."})


# --------------------------------------------------------------------------------------------
# TSIG keys


def _tsig_stores(config: Any, backends: list[Any]) -> list[Any]:
    """Where TSIG keys live, in ``launch=`` order (as fastdns-util finds them)."""
    stores: list[Any] = []
    for backend in backends:
        if isinstance(backend, GSQLBackend):
            stores.append(backend)
        elif isinstance(backend, BindBackend):
            for instance in config.instances:
                if str(instance) == backend.name:
                    path = str(config.backend(instance).get("dnssec-db") or "")
                    if path:
                        stores.append(BindDnssecDB(path, name=f"{backend.name} dnssec-db"))
    return stores


def _tsig_json(name: str, algorithm: str, secret: str) -> dict[str, Any]:
    name = db_name(name)
    return {"type": "TSIGKey", "name": name, "id": zone_id(name + "."),
            "algorithm": db_name(algorithm), "key": secret}


class _Tsig:
    """The TSIG key stores, opened in the API thread for one request."""

    def __init__(self, request: web.Request) -> None:
        self.stores = _tsig_stores(request.app[SERVER].config,
                                   request.app[STORE].backends())

    def close(self) -> None:
        for store in self.stores:
            if isinstance(store, BindDnssecDB):
                store.close()

    def find(self, name: str) -> tuple[Any, str, str] | None:
        """(store, algorithm, secret) of the key called ``name``, first store first."""
        for store in self.stores:
            for key, algorithm, secret in store.tsig_keys():
                if key == db_name(name):
                    return store, algorithm, secret
        return None


def _in_tsig(request: web.Request, work: Any) -> Any:
    def run() -> Any:
        tsig = _Tsig(request)
        try:
            return work(tsig)
        finally:
            tsig.close()

    return request.app[STORE].run(run)


def _tsig_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(422, "Key 'name' not present or not a String")
    return db_name(dns_name(value))


def _tsig_algorithm(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(422, "Key 'algorithm' not present or not a String")
    if algorithm_name(value) is None:
        raise ApiError(422, f"Unknown TSIG algorithm: {value}")
    return db_name(value)


def _tsig_secret(value: Any) -> str:
    if not isinstance(value, str) or decode_secret(value) is None:
        raise ApiError(422, f"TSIG content '{value}' cannot be base64-decoded")
    return value.strip()


def _key_name(request: web.Request) -> str:
    return db_name(zone_from_id(request.match_info["tsigkey_id"]))


async def list_tsig(request: web.Request) -> web.Response:
    check_server(request)
    return json_response(await _in_tsig(request, lambda tsig: [
        _tsig_json(name, algorithm, "")
        for store in tsig.stores for name, algorithm, _ in store.tsig_keys()]))


async def add_tsig(request: web.Request) -> web.Response:
    check_server(request)
    body = await read_json(request)
    name = _tsig_name(body.get("name"))
    algorithm = _tsig_algorithm(body.get("algorithm"))
    secret = body.get("key")
    if secret is None or secret == "":
        size = SECRET_SIZES[algorithm_name(algorithm) or "hmac-sha256"]
        secret = base64.b64encode(os.urandom(size)).decode()
    secret = _tsig_secret(secret)

    def work(tsig: _Tsig) -> None:
        if tsig.find(name) is not None:
            raise ApiError(409, f"A TSIG key with the name '{name}' already exists")
        if not tsig.stores:
            raise ApiError(422, "No backend can store TSIG keys (an SQL backend, or the bind "
                           "backend with bind-dnssec-db)")
        tsig.stores[0].set_tsig_key(name, algorithm, secret)

    await _in_tsig(request, work)
    request.app[SERVER].tsig_changed()
    return json_response(_tsig_json(name, algorithm, secret), 201)


async def get_tsig(request: web.Request) -> web.Response:
    check_server(request)
    name = _key_name(request)

    def work(tsig: _Tsig) -> dict[str, Any]:
        found = tsig.find(name)
        if found is None:
            raise ApiError(404, f"TSIG key with name '{name}' not found")
        return _tsig_json(name, found[1], found[2])

    return json_response(await _in_tsig(request, work))


async def change_tsig(request: web.Request) -> web.Response:
    check_server(request)
    old = _key_name(request)
    body = await read_json(request)
    new = _tsig_name(body["name"]) if body.get("name") is not None else old
    algorithm = _tsig_algorithm(body["algorithm"]) \
        if body.get("algorithm") is not None else None
    secret = _tsig_secret(body["key"]) if body.get("key") is not None else None

    def work(tsig: _Tsig) -> dict[str, Any]:
        found = tsig.find(old)
        if found is None:
            raise ApiError(404, f"TSIG key with name '{old}' not found")
        if new != old and tsig.find(new) is not None:
            raise ApiError(409, f"A TSIG key with the name '{new}' already exists")
        store, was_algorithm, was_secret = found
        key = (new, algorithm or was_algorithm, secret or was_secret)
        store.delete_tsig_key(old)
        store.set_tsig_key(*key)
        return _tsig_json(*key)

    changed = await _in_tsig(request, work)
    request.app[SERVER].tsig_changed()
    return json_response(changed)


async def delete_tsig(request: web.Request) -> web.Response:
    check_server(request)
    name = _key_name(request)

    def work(tsig: _Tsig) -> None:
        if sum(store.delete_tsig_key(name) for store in tsig.stores) == 0:
            raise ApiError(404, f"TSIG key with name '{name}' not found")

    await _in_tsig(request, work)
    request.app[SERVER].tsig_changed()
    return no_content()


# --------------------------------------------------------------------------------------------
# autoprimaries


def _sql(backends: list[Any]) -> list[GSQLBackend]:
    found = [backend for backend in backends if isinstance(backend, GSQLBackend)]
    if not found:
        raise ApiError(422, "No backend keeps autoprimaries (only the SQL backends do)")
    return found


async def list_autoprimaries(request: web.Request) -> web.Response:
    check_server(request)
    store = request.app[STORE]

    def work() -> list[dict[str, str]]:
        return [{"ip": ip, "nameserver": nameserver, "account": account}
                for backend in store.backends() if isinstance(backend, GSQLBackend)
                for ip, nameserver, account in backend.list_autoprimaries()]

    return json_response(await store.run(work))


async def add_autoprimary(request: web.Request) -> web.Response:
    check_server(request)
    body = await read_json(request)
    for field in ("ip", "nameserver"):
        if not isinstance(body.get(field), str):
            raise ApiError(422, f"Key '{field}' not present or not a String")
    account = body.get("account", "")
    if not isinstance(account, str):
        raise ApiError(422, "Key 'account' is not a String")
    ip, nameserver = body["ip"].strip(), body["nameserver"].strip()
    if not ip or not nameserver:
        raise ApiError(422, "ip and nameserver fields must be filled")
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        raise ApiError(422, f"'{ip}' is not an IP address") from None
    nameserver = db_name(dns_name(nameserver))
    store = request.app[STORE]

    def work() -> None:
        backends = _sql(store.backends())
        for backend in backends:
            if (ip, nameserver) in {(i, n) for i, n, _ in backend.list_autoprimaries()}:
                raise ApiError(409, f"Autoprimary {ip} with nameserver '{nameserver}' "
                               "exists already")
        backends[0].add_autoprimary(ip, nameserver, account)

    await store.run(work)
    return web.Response(status=201)


async def delete_autoprimary(request: web.Request) -> web.Response:
    check_server(request)
    ip, nameserver = request.match_info["ip"], db_name(request.match_info["nameserver"])
    store = request.app[STORE]

    def work() -> None:
        for backend in _sql(store.backends()):
            try:
                backend.remove_autoprimary(ip, nameserver)
            except BackendError:
                continue        # not in this one: gone already is gone (as 4.7)

    await store.run(work)
    return no_content()


def routes() -> list[web.RouteDef]:
    tsig, autoprimaries = SERVER_PATH + "/tsigkeys", SERVER_PATH + "/autoprimaries"
    return [
        web.get("/api", api_root), web.get("/api/v1", api_v1),
        web.get(SERVERS, list_servers), web.get(SERVER_PATH, get_server),
        web.get(SERVER_PATH + "/config", list_config),
        web.get(SERVER_PATH + "/config/{config_setting_name}", get_config),
        web.get(SERVER_PATH + "/statistics", statistics),
        web.get(SERVER_PATH + "/search-data", search_data),
        web.put(SERVER_PATH + "/cache/flush", flush_cache),
        web.get(tsig, list_tsig), web.post(tsig, add_tsig),
        web.get(tsig + "/{tsigkey_id}", get_tsig), web.put(tsig + "/{tsigkey_id}", change_tsig),
        web.delete(tsig + "/{tsigkey_id}", delete_tsig),
        web.get(autoprimaries, list_autoprimaries), web.post(autoprimaries, add_autoprimary),
        web.delete(autoprimaries + "/{ip}/{nameserver}", delete_autoprimary),
    ]

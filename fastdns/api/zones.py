"""The zones of PowerDNS's API v1: list, create, show, change (PUT and PATCH), delete, export,
rectify, axfr-retrieve and notify.

A write is worked out whole in the API's thread (fastdns.api.rrsets checks every name,
type and record first), written in one transaction (fastdns.backends.gsqlapi.apply), and
the zone is then loaded and served at once (``ServerHooks.written``): no query sees half of
a change, and a refused request leaves nothing behind, not even a new zone's ``domains``
row. Zones are written in the generic SQL backends; a BIND zone file is read-only here, as
it is in PowerDNS's API.
"""

from __future__ import annotations

import gc
import ipaddress
import re
from typing import Any

from aiohttp import web

from fastdns.api._listing import write_zones
from fastdns.api.http import (
    SERVER,
    STORE,
    ApiError,
    check_server,
    json_body,
    json_bytes,
    json_response,
    no_content,
    read_json,
)
from fastdns.api.rrsets import (
    RRsetEdit,
    ZoneState,
    absolute_name,
    increased_serial,
    read_rrsets,
    rrsets_json,
    serial_of,
    shown_content,
)
from fastdns.api.store import Store
from fastdns.backends.gsqlapi import (
    ListedZone,
    ZoneChange,
    ZoneRow,
    apply,
    list_rows,
    listing_rows,
    zone_comments,
)
from fastdns.backends.sqlbase import Row, db_name
from fastdns.zone.content import ContentError, parse_content, pdns_content
from fastdns.zone.source import BackendError

BASE = "/api/v1/servers/{server_id}"
ZONE = BASE + "/zones/{zone_id}"
#: zone kinds as the API spells them, and back (either spelling in, any case)
SHOWN_KINDS = {"native": "Native", "primary": "Master", "secondary": "Slave",
               "producer": "Producer", "consumer": "Consumer"}
KINDS_IN = {"native": "native", "master": "primary", "primary": "primary",
            "slave": "secondary", "secondary": "secondary", "producer": "producer",
            "consumer": "consumer"}
#: fields of a zone a PUT may change, with their JSON types
ZONE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "kind": str, "masters": list, "account": str, "catalog": str, "soa_edit": str,
    "soa_edit_api": str, "api_rectify": bool, "dnssec": bool, "nsec3param": str,
    "nsec3narrow": bool, "presigned": bool, "master_tsig_key_ids": list,
    "slave_tsig_key_ids": list,
}
_PLAIN_ID = re.compile(r"[A-Za-z0-9.-]*\Z")
_ID_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


# -- zone ids ----------------------------------------------------------------------------------

def zone_id(name: str) -> str:
    """PowerDNS's zone id: the name with its trailing dot, each octet other than letters,
    digits, ``.`` and ``-`` as ``=XX``; the root is ``=2E``."""
    if _PLAIN_ID.match(name) and name != ".":
        return name                             # most names: nothing to escape
    if name == ".":
        return "=2E"
    return "".join(c if c in _ID_SAFE else "".join(f"={b:02X}" for b in c.encode())
                   for c in name)


def zone_from_id(text: str) -> str:
    """The zone name (lowercase, absolute) of a zone id; 404 for one that is no name."""
    out = bytearray()
    at = 0
    raw = text.encode()
    while at < len(raw):
        if raw[at:at + 1] == b"=" and at + 2 < len(raw) + 0 and \
                all(c in b"0123456789abcdefABCDEF" for c in raw[at + 1:at + 3]) and \
                len(raw[at + 1:at + 3]) == 2:
            out.append(int(raw[at + 1:at + 3], 16))
            at += 3
        else:
            out.append(raw[at])
            at += 1
    name = out.decode("utf-8", "replace")
    if not name.endswith("."):
        name += "."
    try:
        return absolute_name(name)
    except ApiError:
        raise ApiError(404, "Could not find domain") from None


ZONES_URL = "/api/v1/servers/localhost/zones/"


def _zone_url(name: str) -> str:
    return ZONES_URL + zone_id(name)


def _bool_arg(request: web.Request, key: str, default: bool) -> bool:
    value = request.query.get(key)
    if value is None:
        return default
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise ApiError(422, f"'{key}' must be true or false")


# -- reading zones (in the API thread) ---------------------------------------------------------

def _listed(store: Store, only: str | None, keyed: bool = True) -> list[ZoneRow]:
    """Every zone (the first backend that has it wins), or ``only``; ``keyed``: whether
    each has keys is looked up."""
    from fastdns.backends.gsql import GSQLBackend

    seen: dict[str, ZoneRow] = {}
    for backend in store.backends():
        rows = list_rows(backend, only, keyed) if isinstance(backend, GSQLBackend) \
            else _file_rows(backend, {})
        for row in rows:
            name = row[1]
            if (only is None or name == only) and name not in seen:
                seen[name] = row
    return list(seen.values())


def _file_rows(backend: Any, served: dict[str, tuple[str, int]]) -> list[ZoneRow]:
    """The zones of a zone-file backend as listing rows, with the serial each is served
    with (``served``: the files are not read again for a listing)."""
    return [(0, info.name, info.kind, [], "", "", 0, 0,
             f". . {served[info.name][1]}" if info.name in served else "", False)
            for info in backend.list_zones()]


def _soa_serial(soa: str) -> int:
    """An SOA content's serial (0 when it has none that fits in 32 bits)."""
    try:
        serial = int(soa.split(None, 3)[2])
    except (IndexError, ValueError):
        return 0
    return serial if 0 <= serial <= 0xFFFFFFFF and soa.split()[2].isdigit() else 0


def _listing(store: Store, only: str | None, dnssec: bool,
             served: dict[str, tuple[str, int]]) -> bytes:
    """The zone list as JSON: an SQL backend's rows written by fastdns.api._listing in one
    pass (100,000 zones in a fraction of a second), a zone file's zones as
    :func:`_list_json` objects. The cyclic garbage collector, which would walk the
    hundreds of thousands of row objects over and over as they are made, is held off
    meanwhile (nothing here makes a cycle)."""
    from fastdns.backends.gsql import GSQLBackend

    enabled = gc.isenabled()
    gc.disable()
    try:
        seen: set[str] = set()
        chunks = []
        for backend in store.backends():
            if isinstance(backend, GSQLBackend):
                domains, soas, signed = listing_rows(backend, only, dnssec)
                chunks.append(write_zones(domains, soas, signed, dnssec, seen))
                continue
            rows = [row for row in _file_rows(backend, served)
                    if (only is None or row[1] == only) and row[1] not in seen]
            seen.update(row[1] for row in rows)
            chunks.append(json_bytes([_list_json(row, dnssec) for row in rows])[1:-1])
        return b"[" + b",".join(chunk for chunk in chunks if chunk) + b"]"
    finally:
        if enabled:
            gc.enable()


def _list_json(zone: ZoneRow, dnssec: bool) -> dict[str, Any]:
    _, name, kind, primaries, account, catalog, notified, checked, soa, keyed = zone
    serial = _soa_serial(soa) if soa else 0
    ident = zone_id(name)
    out: dict[str, Any] = {
        "id": ident, "url": ZONES_URL + ident, "name": name,
        "kind": SHOWN_KINDS.get(kind, "Native"), "serial": serial,
        "notified_serial": notified, "edited_serial": serial, "masters": primaries,
        "account": account, "catalog": catalog, "last_check": checked,
    }
    if dnssec:
        out["dnssec"] = keyed
    else:
        del out["edited_serial"]        # PowerDNS leaves both out: they cost a lookup each
    return out


def _rows(store: Store, zone: str) -> tuple[Any, list[Row]]:
    """The backend of ``zone`` and its rows; 404 if no backend has it."""
    from fastdns.backends.bind import BindBackend
    from fastdns.backends.gsql import GSQLBackend

    backend = store.find(zone)
    if backend is None:
        raise ApiError(404, "Could not find domain")
    if isinstance(backend, GSQLBackend | BindBackend):
        return backend, backend.zone_rows(zone)
    raise ApiError(422, f"Zone '{zone}' is in backend '{backend.name}', whose records the "
                        "API cannot read")


def _meta(store: Store, zone: str) -> dict[str, list[str]]:
    keystore = store.keystore(db_name(zone))
    if keystore is None:
        return {}
    return {kind.upper(): values for kind, values in keystore.all_meta(db_name(zone)).items()}


def _first(meta: dict[str, list[str]], kind: str, default: str = "") -> str:
    values = meta.get(kind)
    return values[0] if values else default


def _zone_json(store: Store, zone: str, rrsets: bool, include_disabled: bool,
               only_name: str | None, only_type: str | None) -> dict[str, Any]:
    from fastdns.backends.gsql import GSQLBackend

    listed = _listed_one(store, zone)
    backend, rows = _rows(store, zone)
    meta = _meta(store, zone)
    keystore = store.keystore(db_name(zone))
    keys = keystore.keys(db_name(zone)) if keystore is not None else []
    presigned = _first(meta, "PRESIGNED") == "1"
    out = _list_json(listed, dnssec=True)
    soa = next((r for r in rows if r.type == "SOA" and not r.disabled), None)
    out["serial"] = out["edited_serial"] = serial_of(soa)
    out["dnssec"] = bool(keys) or presigned
    out.update({
        "nsec3param": _first(meta, "NSEC3PARAM"),
        "nsec3narrow": _first(meta, "NSEC3NARROW") == "1",
        "soa_edit": _first(meta, "SOA-EDIT"),
        "soa_edit_api": _first(meta, "SOA-EDIT-API"),
        # as PowerDNS shows it: the zone's own API-RECTIFY, not default-api-rectify
        "api_rectify": _first(meta, "API-RECTIFY") == "1",
        # the keys of primary operation (transfers out) and of secondary operation (in),
        # by TSIG key id
        "master_tsig_key_ids": [_key_id(k) for k in meta.get("TSIG-ALLOW-AXFR", [])],
        "slave_tsig_key_ids": [_key_id(k) for k in meta.get("AXFR-MASTER-TSIG", [])],
    })
    if rrsets:
        comments = zone_comments(backend, zone) if isinstance(backend, GSQLBackend) else {}
        out["rrsets"] = rrsets_json(rows, comments, include_disabled, only_name, only_type)
    return out


def _key_id(name: str) -> str:
    """A TSIG key's id, as the API's tsigkeys give it."""
    return zone_id(name if name.endswith(".") else name + ".")


def _listed_one(store: Store, zone: str) -> ListedZone:
    found = _listed(store, zone)
    if not found:
        raise ApiError(404, "Could not find domain")
    return ListedZone._make(found[0])


# -- handlers ----------------------------------------------------------------------------------

async def list_zones_handler(request: web.Request) -> web.Response:
    check_server(request)
    only = request.query.get("zone")
    name = absolute_name(only if only.endswith(".") else only + ".", "zone") \
        if only else None
    dnssec = _bool_arg(request, "dnssec", True)
    store = request.app[STORE]

    # the serials of zone files, from the zones served (read on the event loop, where the
    # zone service changes them); SQL zones' come with their rows
    served = request.app[SERVER].served() if any(
        i.backend == "bind" for i in store.config.instances) else {}
    return json_body(await store.run(_listing, store, name, dnssec, served))


async def get_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    with_rrsets = _bool_arg(request, "rrsets", True)
    include_disabled = _bool_arg(request, "include_disabled", True)
    only_name = request.query.get("rrset_name")
    only_type = request.query.get("rrset_type")
    if only_name is not None:
        only_name = absolute_name(only_name if only_name.endswith(".") else only_name + ".",
                                  "rrset_name")
        only_type = only_type.upper() if only_type is not None else None
    else:
        only_type = None            # as PowerDNS: rrset_type alone filters nothing
    store = request.app[STORE]
    body = await store.run(lambda: json_bytes(_zone_json(store, zone, with_rrsets,
                                                         include_disabled, only_name,
                                                         only_type)))
    return json_body(body)


async def create_zone(request: web.Request) -> web.Response:
    check_server(request)
    body = await read_json(request)
    zone = absolute_name(body.get("name"), "name")
    store = request.app[STORE]
    server = request.app[SERVER]
    kind = await store.run(_create, store, zone, body)
    server.written(zone, kind)
    data = await store.run(_zone_json, store, zone, True, True, None, None)
    response = json_response(data, 201)
    response.headers["Location"] = _zone_url(zone)
    return response


async def patch_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    body = await read_json(request)
    if "rrsets" not in body:
        raise ApiError(422, "No rrsets given")
    edits = read_rrsets(zone, body["rrsets"], patch=True)
    store = request.app[STORE]
    kind = await store.run(_change, store, zone, edits, {}, False)
    request.app[SERVER].written(zone, kind)
    return no_content()


async def put_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    body = await read_json(request)
    settings = _settings(body)
    edits = read_rrsets(zone, body["rrsets"], patch=False) if "rrsets" in body else None
    store = request.app[STORE]
    kind = await store.run(_change, store, zone, edits or [], settings, edits is not None)
    request.app[SERVER].written(zone, kind)
    return no_content()


async def delete_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    store = request.app[STORE]
    await store.run(_delete, store, zone)
    request.app[SERVER].removed(zone)
    return no_content()


async def export_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    store = request.app[STORE]
    _, rows = await store.run(_rows, store, zone)
    lines = []
    for row in sorted((r for r in rows if r.type and not r.disabled),
                      key=lambda r: (tuple(reversed(r.name.split("."))), r.type or "")):
        name = "." if row.name in ("", ".") else row.name + "."
        lines.append(f"{name}\t{row.ttl}\tIN\t{row.type}\t"
                     f"{shown_content(row.type or '', row.content, row.prio)}\n")
    return web.Response(text="".join(lines), content_type="text/plain")


async def rectify_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    store = request.app[STORE]
    kind = await store.run(_rectify, store, zone)
    request.app[SERVER].written(zone, kind)
    return json_response({"result": "Rectified"})


async def axfr_retrieve(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    store = request.app[STORE]
    await store.run(_listed_one, store, zone)
    text = await request.app[SERVER].control(["retrieve", zone])
    if not text.startswith("Added"):
        raise ApiError(422, text.strip())
    return json_response({"result": text})


async def notify_zone(request: web.Request) -> web.Response:
    check_server(request)
    zone = zone_from_id(request.match_info["zone_id"])
    store = request.app[STORE]
    listed = await store.run(_listed_one, store, zone)
    if listed.kind not in ("primary", "secondary", "producer"):
        raise ApiError(422, f"Domain '{zone}' is not a primary or secondary zone")
    text = await request.app[SERVER].control(["notify", zone])
    if not text.startswith("Added"):
        raise ApiError(422, text.strip())
    return json_response({"result": "Notification queued"})


def routes() -> list[web.RouteDef]:
    return [
        web.get(BASE + "/zones", list_zones_handler),
        web.post(BASE + "/zones", create_zone),
        web.get(ZONE, get_zone),
        web.put(ZONE, put_zone),
        web.patch(ZONE, patch_zone),
        web.delete(ZONE, delete_zone),
        web.get(ZONE + "/export", export_zone),
        web.put(ZONE + "/rectify", rectify_zone),
        web.put(ZONE + "/axfr-retrieve", axfr_retrieve),
        web.put(ZONE + "/notify", notify_zone),
    ]


# -- writes (in the API thread) ----------------------------------------------------------------

def _settings(body: dict[str, Any]) -> dict[str, Any]:
    """The zone fields of a create or PUT body, type-checked."""
    out: dict[str, Any] = {}
    for key, kind in ZONE_FIELDS.items():
        if key in body and body[key] is not None:
            value = body[key]
            if not isinstance(value, kind):
                raise ApiError(422, f"'{key}' has the wrong type")
            out[key] = value
    if "kind" in out:
        if out["kind"].lower() not in KINDS_IN:
            raise ApiError(422, f"Invalid zone kind '{out['kind']}'")
        out["kind"] = KINDS_IN[out["kind"].lower()]
    if "masters" in out:
        out["masters"] = [_primary(p) for p in out["masters"]]
    if out.get("catalog"):
        out["catalog"] = absolute_name(out["catalog"], "catalog")
    for key in ("master_tsig_key_ids", "slave_tsig_key_ids"):
        if key in out:
            out[key] = [_key_name(k, key) for k in out[key]]
    if out.get("nsec3param"):
        try:
            parse_content("NSEC3PARAM", out["nsec3param"])
        except ContentError as exc:
            raise ApiError(422, f"NSEC3PARAM '{out['nsec3param']}' is invalid: {exc}") \
                from None
    return out


def _key_name(key_id: Any, field: str) -> str:
    """The TSIG key name of a key id in ``field``, stored as PowerDNS stores it (absolute,
    with its trailing dot)."""
    if not isinstance(key_id, str) or not key_id:
        raise ApiError(422, f"'{field}' must be a list of TSIG key ids")
    try:
        return zone_from_id(key_id)
    except ApiError:
        raise ApiError(422, f"'{field}': '{key_id}' is not a TSIG key id") from None


def _primary(value: Any) -> str:
    if not isinstance(value, str):
        raise ApiError(422, "'masters' must be a list of strings")
    host, port = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ipaddress.ip_address(host)
        if port and not 0 < int(port) < 65536:
            raise ValueError
    except ValueError:
        raise ApiError(422, f"Primary '{value}' is not an IP address[:port]") from None
    return value


def _sql_backend(store: Store) -> Any:
    from fastdns.backends.gsql import GSQLBackend

    for backend in store.backends():
        if isinstance(backend, GSQLBackend):
            return backend
    raise ApiError(422, "No backend of this server can store new zones (launch an SQL "
                        "backend: gsqlite3, gpgsql or gmysql)")


def _meta_writes(settings: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, kind in (("soa_edit", "SOA-EDIT"), ("soa_edit_api", "SOA-EDIT-API"),
                      ("nsec3param", "NSEC3PARAM")):
        if key in settings:
            out[kind] = [settings[key]] if settings[key] else []
    for key, kind in (("api_rectify", "API-RECTIFY"), ("nsec3narrow", "NSEC3NARROW"),
                      ("presigned", "PRESIGNED")):
        if key in settings:
            out[kind] = ["1"] if settings[key] else (["0"] if key == "api_rectify" else [])
    if "master_tsig_key_ids" in settings:
        out["TSIG-ALLOW-AXFR"] = settings["master_tsig_key_ids"]
    if "slave_tsig_key_ids" in settings:
        out["AXFR-MASTER-TSIG"] = settings["slave_tsig_key_ids"]
    return out


def _rectify_mode(store: Store, backend: Any, meta: dict[str, list[str]]) -> bool | None:
    """How a change is rectified: None not at all (API-RECTIFY off), else with the
    backend's DNSSEC ordering or without."""
    default = "1" if store.config.default_api_rectify else "0"
    if _first(meta, "API-RECTIFY", default) != "1":
        return None
    return bool(getattr(backend, "dnssec", False))


def _create(store: Store, zone: str, body: dict[str, Any]) -> str:
    settings = _settings(body)
    kind = settings.get("kind", "native")
    edits = read_rrsets(zone, body.get("rrsets") or [], patch=False)
    nameservers = body.get("nameservers") or []
    if not isinstance(nameservers, list):
        raise ApiError(422, "'nameservers' must be a list")
    for ns in nameservers:
        absolute_name(ns, "nameservers")
    if nameservers and any(e.name == zone and e.type == "NS" for e in edits):
        raise ApiError(422, "Nameservers list MUST NOT be mixed with zone-level NS in rrsets")
    if store.find(zone) is not None:
        raise ApiError(409, f"Domain '{zone}' already exists")
    backend = _sql_backend(store)
    state = ZoneState(zone, [])
    state.apply(edits)
    if state.soa() is None:
        state.put((zone, "SOA"), [Row(db_name(zone), "SOA", _default_soa(store, zone),
                                      store.config.default_ttl or 3600)])
    for ns in nameservers:
        rows = state.sets.get((zone, "NS"), [])
        state.put((zone, "NS"), [*rows, Row(db_name(zone), "NS", ns[:-1] or ".",
                                            store.config.default_ttl or 3600)])
    if kind != "secondary":
        state.check()
    settings.setdefault("soa_edit_api", "DEFAULT")
    soa_edit_api = settings["soa_edit_api"]
    if soa_edit_api and state.soa() is not None:
        state.set_serial(increased_serial(serial_of(state.soa()), soa_edit_api,
                                          settings.get("soa_edit", "")))
    dnssec_on = bool(getattr(backend, "dnssec", False))
    meta = _meta_writes(settings) if dnssec_on else {}
    change = ZoneChange(zone, create=True, kind=kind, primaries=settings.get("masters", []),
                        account=settings.get("account", ""), catalog=settings.get("catalog"),
                        rrsets=[(n, t, rows) for (n, t), rows in state.sets.items()],
                        comments=[(n, t, c) for (n, t), c in state.comments.items() if c],
                        meta={k: v for k, v in meta.items() if v})
    change.rectify = _rectify_mode(store, backend, meta)
    try:
        apply(backend, change)
    except BackendError as exc:
        raise ApiError(422, str(exc)) from None
    if settings.get("dnssec"):
        _secure(store, zone)
    return kind


def _secure(store: Store, zone: str) -> None:
    from fastdns.dnssec.keygen import KeygenError, secure_zone

    keystore = store.keystore(db_name(zone))
    if keystore is None:
        raise ApiError(422, f"Zone '{zone}' cannot be signed: its backend keeps no keys "
                            "(set <backend>-dnssec=yes)")
    try:
        if not keystore.keys(db_name(zone)):
            secure_zone(keystore, db_name(zone), store.config)
    except KeygenError as exc:
        raise ApiError(422, str(exc)) from None


def _default_soa(store: Store, zone: str) -> str:
    template = str(store.config.default_soa_content)
    words = [zone if w == "@" else (w[:-1] + zone if w.endswith(".@") else w)
             for w in template.split()]
    try:
        return pdns_content(parse_content("SOA", " ".join(words)))[0]
    except ContentError as exc:
        raise ApiError(422, f"default-soa-content: {exc}") from None


def _change(store: Store, zone: str, edits: list[RRsetEdit], settings: dict[str, Any],
            replace_all: bool) -> str:
    """A PATCH (``edits``) or PUT (``settings``, and with ``replace_all`` every RRset):
    worked out on the zone as stored, then written in one transaction. The zone's kind."""
    backend = _writable(store, zone)
    info = backend.zone_info(zone)
    assert info is not None
    rows = backend.zone_rows(zone)
    old = ZoneState(zone, rows)
    state = ZoneState(zone, [] if replace_all else rows)
    if replace_all and not any(e.name == zone and e.type == "SOA" for e in edits):
        soa = old.soa()
        if soa is not None:
            state.put((zone, "SOA"), [soa])
    state.apply(edits)
    kind = settings.get("kind", info["kind"])
    if kind != "secondary":
        state.check()
    meta = _meta(store, zone)
    keystore = store.keystore(db_name(zone))
    dnssec_on = keystore is not None
    keys = keystore.keys(db_name(zone)) if keystore is not None else []
    writes = _meta_writes(settings) if dnssec_on else {}
    merged = {**meta, **writes}
    soa_changed = any(key == (zone, "SOA") for key in state.changed) and \
        serial_of(state.soa()) != serial_of(old.soa())
    # as PowerDNS: any RRset named (comments alone too), and a change of how the zone is
    # signed, moves the serial
    records_changed = replace_all or any((e.name, e.type) != (zone, "SOA") for e in edits) \
        or any(kind in writes and writes[kind] != meta.get(kind, [])
               for kind in ("NSEC3PARAM", "NSEC3NARROW", "PRESIGNED")) \
        or ("dnssec" in settings and settings["dnssec"] != bool(keys))
    soa_edit_api = _first(merged, "SOA-EDIT-API")
    if records_changed and not soa_changed and soa_edit_api and state.soa() is not None:
        state.set_serial(increased_serial(serial_of(state.soa()), soa_edit_api,
                                          _first(merged, "SOA-EDIT")))
    if replace_all:
        rrsets = [(n, t, r) for (n, t), r in state.sets.items()]
    else:
        rrsets = [(n, t, r) for (n, t), r in state.changed.items()]
    change = ZoneChange(zone, kind=settings.get("kind"), primaries=settings.get("masters"),
                        account=settings.get("account"), catalog=settings.get("catalog"),
                        replace_all=replace_all, rrsets=rrsets,
                        comments=list((n, t, c) for (n, t), c in state.comments.items()),
                        meta=writes)
    if rrsets or replace_all:
        change.rectify = _rectify_mode(store, backend, merged)
    try:
        apply(backend, change)
    except BackendError as exc:
        raise ApiError(422, str(exc)) from None
    if settings.get("dnssec") is True:
        _secure(store, zone)
    elif settings.get("dnssec") is False and keystore is not None:
        for key in keys:
            keystore.remove_key(db_name(zone), key.id)
    return str(kind)


def _writable(store: Store, zone: str) -> Any:
    """The SQL backend that has ``zone``: 404 if none has it, 422 if a zone file does."""
    from fastdns.backends.gsql import GSQLBackend

    backend = store.find(zone)
    if backend is None:
        raise ApiError(404, "Could not find domain")
    if not isinstance(backend, GSQLBackend):
        raise ApiError(422, f"Zone '{zone}' is in backend '{backend.name}', which the API "
                            "cannot change")
    return backend


def _delete(store: Store, zone: str) -> None:
    _writable(store, zone).delete_zone(zone)


def _rectify(store: Store, zone: str) -> str:
    from fastdns.backends.gsqlrectify import rectify

    backend = _writable(store, zone)
    done = rectify(backend, db_name(zone), bool(getattr(backend, "dnssec", False)))
    if done.error:
        raise ApiError(422, done.error)
    info = backend.zone_info(zone)
    return str(info["kind"]) if info else "native"

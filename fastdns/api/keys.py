"""The DNSSEC keys and the metadata of a zone, as PowerDNS 4.7's API serves them:

- ``/servers/localhost/zones/{zone_id}/cryptokeys`` (GET: the keys; POST: a new key, made
  here (fastdns.dnssec.keygen) or imported from its ISC text, 201 with the key and its
  private part) and ``.../cryptokeys/{cryptokey_id}`` (GET with the private key; PUT
  ``active``/``published``, 204; DELETE, 204);
- ``/servers/localhost/zones/{zone_id}/metadata`` (GET every kind; POST adds values to a
  kind, 201) and ``.../metadata/{metadata_kind}`` (GET, PUT replaces the values, DELETE).

Keys live where fastdns-util keeps them (fastdns.dnssec.keystore): the zone's SQL backend
(``<backend>-dnssec=yes``) or the ``bind-dnssec-db`` of a BIND zone.  Metadata lives in the
zone's SQL backend whatever its ``-dnssec`` setting, or in the ``bind-dnssec-db``.

The kinds follow 4.7: ``X-`` kinds and the kinds PowerDNS knows may be read; of those, the
ones PowerDNS derives or manages itself (NSEC3PARAM, NSEC3NARROW, PRESIGNED, TSIG-ALLOW-AXFR,
AXFR-MASTER-TSIG, LUA-AXFR-SCRIPT) are read-only here (422), and SOA-EDIT-API, API-RECTIFY
and the rest are refused (422) as 4.7 refuses them: the zone endpoints own those.

Every change is followed by a reload of the zone (``written``), so the DNSKEY, CDS and
CDNSKEY records served follow the keys and metadata at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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
from fastdns.api.zones import zone_from_id
from fastdns.backends.gsql import GSQLBackend, db_name
from fastdns.dnssec import keygen
from fastdns.dnssec.keygen import KeygenError
from fastdns.dnssec.keys import (
    DIGESTS,
    KSK_FLAGS,
    ZSK_FLAGS,
    KeyFormatError,
    ZoneKey,
    algorithm_name,
    ds_text,
    name_wire,
)
from fastdns.dnssec.keystore import BindDnssecDB, KeyRow, KeyStore

T = TypeVar("T")

ZONE = "/api/v1/servers/{server_id}/zones/{zone_id}"

#: metadata kinds the API may read: kind -> whether it may also change them (PowerDNS 4.7)
KINDS: dict[str, bool] = {
    "ALLOW-AXFR-FROM": True, "ALLOW-DNSUPDATE-FROM": True, "ALSO-NOTIFY": True,
    "AXFR-MASTER-TSIG": False, "AXFR-SOURCE": True, "FORWARD-DNSUPDATE": True,
    "GSS-ACCEPTOR-PRINCIPAL": True, "GSS-ALLOW-AXFR-PRINCIPAL": True, "IXFR": True,
    "LUA-AXFR-SCRIPT": False, "NOTIFY-DNSUPDATE": True, "NSEC3NARROW": False,
    "NSEC3PARAM": False, "PRESIGNED": False, "PUBLISH-CDNSKEY": True, "PUBLISH-CDS": True,
    "SLAVE-RENOTIFY": True, "SOA-EDIT": True, "SOA-EDIT-DNSUPDATE": True,
    "TSIG-ALLOW-AXFR": False, "TSIG-ALLOW-DNSUPDATE": True,
}
NO_DNSSEC = "Adding key failed, perhaps DNSSEC not enabled in configuration?"
BOTH = ("Either you submit just the 'privatekey' field or you leave 'privatekey' empty and "
        "submit the other fields.")


# --------------------------------------------------------------------------------------------
# names (shared with fastdns.api.general)


def dns_name(text: str) -> str:
    """``text`` as a DNS name, with or without its trailing dot: absolute, lowercase; 422
    if it is none."""
    name = text.lower()
    if not name.endswith("."):
        name += "."
    labels = name[:-1].split(".") if name != "." else []
    if len(name) > 254 or any(not label or len(label) > 63 for label in labels):
        raise ApiError(422, f"Unable to parse DNS Name '{text}'")
    return name


# --------------------------------------------------------------------------------------------
# a zone's stores, in the API thread


@dataclass
class ZoneStores:
    """A zone's name as the stores spell it (no trailing dot), its key store (None: the
    zone keeps no keys) and its metadata store (None: it keeps no metadata)."""

    zone: str
    keys: KeyStore | None
    meta: Any | None


async def _in_zone(request: web.Request, work: Callable[[ZoneStores], T]) -> Any:
    """``work`` on the stores of the zone the URL names, in the API thread; 404 when no
    backend has the zone."""
    check_server(request)
    zone = db_name(zone_from_id(request.match_info["zone_id"]))
    store = request.app[STORE]

    def run() -> T:
        backend = store.find(zone)
        if backend is None:
            raise ApiError(404, "Not Found")
        keys = store.keystore(zone)
        meta = backend if isinstance(backend, GSQLBackend) else keys
        try:
            return work(ZoneStores(zone, keys, meta))
        finally:
            if isinstance(keys, BindDnssecDB):
                keys.close()

    return await store.run(run)


def _reload(request: web.Request, zone: str) -> None:
    """Serve ``zone`` as its backend has it now (signed with its keys as they are now)."""
    server = request.app[SERVER]
    name = "." if zone == "." else zone + "."
    server.written(name, server.served().get(name, ("native", 0))[0])


# --------------------------------------------------------------------------------------------
# cryptokeys


def _types(rows: list[KeyRow]) -> list[tuple[KeyRow, ZoneKey, str]]:
    """The readable keys with PowerDNS's type for each: per algorithm, ksk and zsk when the
    algorithm has an active key with the SEP flag and an active one without, else csk."""
    keys = []
    for row in rows:
        try:
            keys.append((row, ZoneKey.from_isc(row.content, row.flags)))
        except KeyFormatError:
            continue
    sep = {key.algorithm for row, key in keys if row.active and row.flags == KSK_FLAGS}
    nonsep = {key.algorithm for row, key in keys if row.active and row.flags != KSK_FLAGS}
    both = sep & nonsep
    return [(row, key, ("ksk" if row.flags == KSK_FLAGS else "zsk")
             if key.algorithm in both else "csk") for row, key in keys]


def _cds_digests(stores: ZoneStores) -> set[int]:
    assert stores.keys is not None
    values = stores.keys.get_meta(stores.zone, "PUBLISH-CDS")
    words = ",".join(values).replace(" ", ",").split(",")
    return {int(word) for word in words if word.isascii() and word.isdigit()}


def _cryptokey(zone: str, row: KeyRow, key: ZoneKey, keytype: str, cds: set[int],
               private: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Cryptokey", "id": row.id, "active": row.active, "published": row.published,
        "keytype": keytype, "flags": row.flags, "dnskey": key.dnskey_text(),
        "algorithm": algorithm_name(key.algorithm), "bits": key.bits}
    if keytype != "zsk":
        owner, rdata = name_wire(zone), key.dnskey_rdata()
        ds = {digest: ds_text(owner, rdata, digest) for digest in DIGESTS}
        out["ds"] = list(ds.values())
        if cds & set(ds):
            out["cds"] = [text for digest, text in ds.items() if digest in cds]
    if private:
        out["privatekey"] = key.to_isc()
    return out


def _key_json(stores: ZoneStores, key_id: int, private: bool) -> dict[str, Any]:
    assert stores.keys is not None
    cds = _cds_digests(stores)
    for row, key, keytype in _types(stores.keys.keys(stores.zone)):
        if row.id == key_id:
            return _cryptokey(stores.zone, row, key, keytype, cds, private)
    raise ApiError(404, "Not Found")


def _key_id(request: web.Request) -> int:
    text = request.match_info["cryptokey_id"]
    if not (text.isascii() and text.isdigit()) or int(text) >= 2**31:
        raise ApiError(404, "Not Found")
    return int(text)


def _bool(body: dict[str, Any], field: str, default: bool | None) -> bool:
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise ApiError(422, f"Key '{field}' not present or not a Bool")
    return value


async def list_keys(request: web.Request) -> web.Response:
    def work(stores: ZoneStores) -> list[dict[str, Any]]:
        if stores.keys is None:
            return []
        cds = _cds_digests(stores)
        return [_cryptokey(stores.zone, row, key, keytype, cds, False)
                for row, key, keytype in _types(stores.keys.keys(stores.zone))]

    return json_response(await _in_zone(request, work))


async def get_key(request: web.Request) -> web.Response:
    key_id = _key_id(request)

    def work(stores: ZoneStores) -> dict[str, Any]:
        if stores.keys is None:
            raise ApiError(404, "Not Found")
        return _key_json(stores, key_id, True)

    return json_response(await _in_zone(request, work))


def _new_key(request: web.Request, body: dict[str, Any]) -> tuple[int, Callable[[], ZoneKey]]:
    """(flags, a maker of the key) from a POST body; ApiError for what cannot be made."""
    keytype = body.get("keytype")
    if not isinstance(keytype, str):
        raise ApiError(422, "Key 'keytype' not present or not a String")
    if keytype not in ("ksk", "zsk", "csk"):
        raise ApiError(422, f"Invalid keytype {keytype}")
    flags = ZSK_FLAGS if keytype == "zsk" else KSK_FLAGS
    private = body.get("privatekey", body.get("content"))
    if private is not None:
        if body.get("bits") is not None or body.get("algorithm") is not None:
            raise ApiError(422, BOTH)
        if not isinstance(private, str):
            raise ApiError(422, "Key 'privatekey' is not a String")
        try:
            key = ZoneKey.from_isc(private, flags)
        except KeyFormatError:
            raise ApiError(422, "Key could not be parsed. Make sure your key format is "
                           "correct.") from None
        return flags, lambda: key
    config = request.app[SERVER].config
    ksk = flags == KSK_FLAGS
    bits = body.get("bits")
    if bits is None:
        bits = int(config["default-ksk-size" if ksk else "default-zsk-size"] or 0)
    elif isinstance(bits, bool) or not isinstance(bits, int) or bits < 0:
        raise ApiError(422, "'bits' must be a positive integer value")
    given = body.get("algorithm")
    try:
        if given is None:
            word = str(config["default-ksk-algorithm"] if ksk else
                       config["default-zsk-algorithm"] or config["default-ksk-algorithm"])
            number = keygen.algorithm(word)
        elif isinstance(given, str):
            number = keygen.algorithm(given)
        elif isinstance(given, int) and not isinstance(given, bool) and 0 <= given < 256:
            number = given
        else:
            raise ApiError(422, f"Unknown algorithm: {given}")
    except KeygenError:
        raise ApiError(422, f"Unknown algorithm: {given}") from None

    def make() -> ZoneKey:
        try:
            return keygen.generate(number, flags, bits)
        except KeygenError as exc:
            raise ApiError(422, str(exc)) from None

    return flags, make


async def add_key(request: web.Request) -> web.Response:
    check_server(request)
    body = await read_json(request)
    flags, make = _new_key(request, body)
    active = _bool(body, "active", False)
    published = _bool(body, "published", True)

    def work(stores: ZoneStores) -> dict[str, Any]:
        if stores.keys is None:
            raise ApiError(422, NO_DNSSEC)
        key = make()
        key_id = stores.keys.add_key(stores.zone, flags, active, published, key.to_isc())
        return _key_json(stores, key_id, True)

    out = await _in_zone(request, work)
    _reload(request, db_name(zone_from_id(request.match_info["zone_id"])))
    return json_response(out, 201)


async def change_key(request: web.Request) -> web.Response:
    key_id = _key_id(request)
    check_server(request)
    body = await read_json(request)

    def work(stores: ZoneStores) -> str:
        if stores.keys is None or not any(row.id == key_id
                                          for row in stores.keys.keys(stores.zone)):
            raise ApiError(404, "Not Found")
        active = _bool(body, "active", None)
        published = _bool(body, "published", True)
        stores.keys.set_key_active(stores.zone, key_id, active)
        stores.keys.set_key_published(stores.zone, key_id, published)
        return stores.zone

    _reload(request, await _in_zone(request, work))
    return no_content()


async def remove_key(request: web.Request) -> web.Response:
    key_id = _key_id(request)

    def work(stores: ZoneStores) -> str:
        if stores.keys is None or not stores.keys.remove_key(stores.zone, key_id):
            raise ApiError(404, "Not Found")
        return stores.zone

    _reload(request, await _in_zone(request, work))
    return no_content()


# --------------------------------------------------------------------------------------------
# metadata


def _kind(kind: Any, change: bool) -> str:
    """``kind`` if the API may read it (``change``: and change it); 422 otherwise."""
    if not isinstance(kind, str) or not (kind.startswith("X-") or
                                         (kind in KINDS and (KINDS[kind] or not change))):
        raise ApiError(422, f"Unsupported metadata kind '{kind}'")
    return kind


def _values(body: dict[str, Any], kind: str) -> list[str]:
    values = body.get("metadata")
    if not isinstance(values, list):
        raise ApiError(422, "metadata is not specified or not an array")
    if not all(isinstance(value, str) for value in values):
        raise ApiError(422, "metadata must be strings")
    if kind == "PUBLISH-CDS":
        for value in values:
            words = value.replace(" ", ",").split(",")
            if value != "0" and not all(w.isascii() and w.isdigit() and int(w) in DIGESTS
                                        for w in words):
                raise ApiError(422, f"PUBLISH-CDS value '{value}': DS digest types 1, 2 or "
                               "4, comma separated, or 0 alone (the delete record)")
    if kind == "PUBLISH-CDNSKEY" and any(value not in ("0", "1") for value in values):
        raise ApiError(422, "PUBLISH-CDNSKEY values are 1 (publish) or 0 (the delete record)")
    return values


def _metadata(kind: str, values: list[str]) -> dict[str, Any]:
    return {"type": "Metadata", "kind": kind, "metadata": values}


def _meta_store(stores: ZoneStores) -> Any:
    if stores.meta is None:
        raise ApiError(422, f"Zone '{stores.zone}' keeps no metadata (a BIND zone without "
                       "bind-dnssec-db)")
    return stores.meta


async def list_meta(request: web.Request) -> web.Response:
    def work(stores: ZoneStores) -> list[dict[str, Any]]:
        if stores.meta is None:
            return []
        found = stores.meta.all_meta(stores.zone)
        return [_metadata(kind, found[kind]) for kind in sorted(found)]

    return json_response(await _in_zone(request, work))


async def add_meta(request: web.Request) -> web.Response:
    check_server(request)
    body = await read_json(request)
    if not isinstance(body.get("kind"), str):
        raise ApiError(422, "kind is not specified or not a string")
    kind = _kind(body["kind"], True)
    new = _values(body, kind)

    def work(stores: ZoneStores) -> list[str]:
        meta = _meta_store(stores)
        values = list(meta.get_meta(stores.zone, kind))
        values += [value for i, value in enumerate(new)
                   if value not in values and value not in new[:i]]
        meta.set_meta(stores.zone, kind, values)
        return values

    values = await _in_zone(request, work)
    if not kind.startswith("X-"):
        _reload(request, db_name(zone_from_id(request.match_info["zone_id"])))
    return json_response(_metadata(kind, values), 201)


async def get_meta(request: web.Request) -> web.Response:
    kind = request.match_info["metadata_kind"]

    def work(stores: ZoneStores) -> list[str]:
        _kind(kind, False)
        return [] if stores.meta is None else list(stores.meta.get_meta(stores.zone, kind))

    return json_response(_metadata(kind, await _in_zone(request, work)))


async def set_meta(request: web.Request) -> web.Response:
    check_server(request)
    kind = _kind(request.match_info["metadata_kind"], True)
    values = _values(await read_json(request), kind)

    def work(stores: ZoneStores) -> str:
        _meta_store(stores).set_meta(stores.zone, kind, values)
        return stores.zone

    zone = await _in_zone(request, work)
    if not kind.startswith("X-"):
        _reload(request, zone)
    return json_response(_metadata(kind, values))


async def delete_meta(request: web.Request) -> web.Response:
    check_server(request)
    kind = _kind(request.match_info["metadata_kind"], True)

    def work(stores: ZoneStores) -> str:
        _meta_store(stores).set_meta(stores.zone, kind, [])
        return stores.zone

    zone = await _in_zone(request, work)
    if not kind.startswith("X-"):
        _reload(request, zone)
    # 4.7 answers 200 with an empty body (its spec says 204)
    return web.Response(status=200)


def routes() -> list[web.RouteDef]:
    keys, key = f"{ZONE}/cryptokeys", f"{ZONE}/cryptokeys/{{cryptokey_id}}"
    metas, meta = f"{ZONE}/metadata", f"{ZONE}/metadata/{{metadata_kind}}"
    return [
        web.get(keys, list_keys), web.post(keys, add_key),
        web.get(key, get_key), web.put(key, change_key), web.delete(key, remove_key),
        web.get(metas, list_meta), web.post(metas, add_meta),
        web.get(meta, get_meta), web.put(meta, set_meta), web.delete(meta, delete_meta),
    ]

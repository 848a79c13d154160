"""The HTTP listener of the manager (aiohttp): PowerDNS's API v1 under ``/api``, the status
page and ``/metrics`` (fastdns.api.web).

Every request passes, in this order:

1. the source address, against ``webserver-allow-from`` (403 otherwise);
2. the credentials: ``/api/*`` wants the ``api-key`` in ``X-API-Key`` (or in the
   ``api-key`` query parameter, as PowerDNS accepts), the other pages the
   ``webserver-password`` by HTTP basic authentication when one is set (401 otherwise);
   either may be stored hashed as PowerDNS hashes it, and is compared in constant time;
3. the handler, whose failures become ``{"error": "..."}`` with a 4xx status, and whose
   unexpected exceptions become a 500 with the same shape and one log line (never the key);
4. PowerDNS's security headers, on every answer.

A body larger than ``webserver-max-bodysize`` is refused with 413 before it is read whole.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from aiohttp import web

from fastdns import __version__
from fastdns.api.credentials import Credential
from fastdns.api.hooks import ServerHooks
from fastdns.api.http import SECURITY_HEADERS, SERVER, STORE, ApiError, Handler, error_response
from fastdns.api.store import Store
from fastdns.log import log
from fastdns.zone.source import BackendError


def _allowed(remote: str | None, networks: tuple[Any, ...]) -> bool:
    if remote is None:
        return False
    try:
        address = ipaddress.ip_address(remote.split("%")[0])
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in net.network for net in networks)


def _basic_password(header: str) -> str | None:
    import base64
    import binascii

    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2]


async def _docs(request: web.Request) -> web.Response:
    """fastdns's OpenAPI (Swagger 2.0) description of the API, as JSON (PowerDNS 4.7
    serves its own as YAML)."""
    from importlib import resources

    text = resources.files("fastdns.api").joinpath("openapi.json").read_text()
    return web.Response(text=text, content_type="application/json")


def make_app(server: ServerHooks, store: Store) -> web.Application:
    config = server.config
    hash_plain = config.webserver_hash_plaintext_credentials
    api_key = Credential(config.api_key, hash_plain) if config.api_key else None
    password = Credential(config.webserver_password, hash_plain) \
        if config.webserver_password else None
    networks = tuple(config.webserver_allow_from)
    detailed = config.webserver_loglevel == "detailed"
    quiet = config.webserver_loglevel == "none"

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        try:
            response = await _guarded(request, handler)
        except web.HTTPException as exc:
            response = error_response(exc.status, exc.reason)
        except ApiError as exc:
            response = error_response(exc.status, exc.message)
        except BackendError as exc:        # the database failed: nothing was written
            log.error("API %s %s: %s", request.method, request.path, exc)
            response = error_response(500, str(exc))
        except Exception as exc:           # one bad request never takes the listener down
            log.exception("API %s %s from %s failed: %s", request.method, request.path,
                          request.remote, exc)
            response = error_response(500, f"Internal error: {type(exc).__name__}")
        response.headers.update(SECURITY_HEADERS)
        response.headers["Server"] = f"fastdns/{__version__}"
        if detailed or (not quiet and response.status >= 400):
            # the path only: the query string may carry the api-key
            log.info("HTTP %s %s from %s: %d in %.1f ms", request.method, request.path,
                     request.remote, response.status, (time.monotonic() - started) * 1000)
        return response

    async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _allowed(request.remote, networks):
            raise ApiError(403, "Forbidden: source address not in webserver-allow-from")
        path = request.path
        if path == "/api" or path.startswith("/api/"):
            if not config.api or api_key is None:
                raise ApiError(404, "Not Found: the API is off (api=no or no api-key)")
            given = request.headers.get("X-API-Key") or request.query.get("api-key")
            if given is None or not api_key.matches(given):
                raise ApiError(401, "Unauthorized")
        elif password is not None:
            given = _basic_password(request.headers.get("Authorization", ""))
            if given is None or not password.matches(given):
                response = error_response(401, "Unauthorized")
                response.headers["WWW-Authenticate"] = 'Basic realm="fastdns"'
                return response
        return await handler(request)

    app = web.Application(middlewares=[guard],
                          client_max_size=config.webserver_max_bodysize * 1024 * 1024)
    app[SERVER] = server
    app[STORE] = store
    if config.api and api_key is not None:
        from fastdns.api import general, keys, zones

        app.add_routes(zones.routes())
        app.add_routes(keys.routes())
        app.add_routes(general.routes())
        app.add_routes([web.get("/api/docs", _docs)])
    if config.webserver:
        from fastdns.api import web as webpage

        webpage.setup(app, server)
    return app

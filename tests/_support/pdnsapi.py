"""PowerDNS Authoritative (Debian's pdns_server 4.7) with its HTTP API, as the API's oracle.

:class:`PdnsApi` runs pdns_server on 127.0.0.1 with a random DNS port and a random web server
port, ``launch=gsqlite3`` on a fresh SQLite database made from the schema fastdns ships
(the PowerDNS generic SQL schema), ``api=yes`` with a key, and no caches::

    with PdnsApi(tmp_path) as pdns:
        status, body, headers = pdns.request("POST", "/servers/localhost/zones",
                                             json={"name": "example.test.", "kind": "Native",
                                                   "nameservers": ["ns1.example.test."]})

:func:`api_request` is the same helper for any server (fastdns too), :func:`pdns_spec` the
OpenAPI (Swagger 2.0) document pdns_server itself serves at ``/api/docs`` (4.7 serves its
YAML source as text/plain, behind the API key).
"""

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from tests._support.servers import ROOT, ServerProcess, free_port, require

SCHEMA = ROOT / "fastdns" / "backends" / "schema" / "schema.sqlite3.sql"
API_KEY = "api-secret-key"

#: (status, JSON body or text, headers)
Response = tuple[int, Any, "requests.structures.CaseInsensitiveDict[str]"]


def api_request(base: str, method: str, path: str, *, json: Any = None, data: Any = None,
                params: dict[str, str] | None = None, key: str | None = API_KEY,
                timeout: float = 10.0) -> Response:
    """``method`` ``base`` + ``path`` (``path`` under /api/v1 unless it starts with /api or
    is ``/``), with the X-API-Key header unless ``key`` is None; a JSON body from ``json``
    or raw bytes/text from ``data``. The body comes back parsed when the server says it is
    JSON and is not empty, else as text."""
    url = base + (path if path == "/" or path.startswith("/api") else "/api/v1" + path)
    headers = {"X-API-Key": key} if key is not None else {}
    resp = requests.request(method, url, json=json, data=data, params=params, headers=headers,
                            timeout=timeout)
    body: Any = resp.text
    if resp.content and resp.headers.get("Content-Type", "").startswith("application/json"):
        try:
            body = resp.json()
        except ValueError:
            pass
    return resp.status_code, body, resp.headers


class PdnsApi(ServerProcess):
    """pdns_server with the gsqlite3 backend (``gsqlite3-dnssec=yes``) and the API on."""

    name = "pdns-api"

    def __init__(self, workdir: Path, settings: dict[str, str] | None = None,
                 api_key: str = API_KEY) -> None:
        super().__init__(workdir)
        self.dir = workdir / "pdns-api"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logfile = self.dir / "pdns.log"
        self.db = self.dir / "pdns.sqlite3"
        self.api_key = api_key
        self.web_port = free_port()
        self.settings = {
            "launch": "gsqlite3", "gsqlite3-database": str(self.db), "gsqlite3-dnssec": "yes",
            "local-address": self.address, "local-port": str(self.port),
            "socket-dir": str(self.dir), "daemon": "no", "guardian": "no",
            "disable-syslog": "yes", "loglevel": "6", "security-poll-suffix": "",
            "cache-ttl": "0", "negquery-cache-ttl": "0", "query-cache-ttl": "0",
            "zone-cache-refresh-interval": "0", "distributor-threads": "1",
            "receiver-threads": "1",
            "webserver": "yes", "webserver-address": self.address,
            "webserver-port": str(self.web_port), "webserver-allow-from": "127.0.0.0/8",
            "api": "yes", "api-key": api_key,
            **(settings or {})}

    @property
    def url(self) -> str:
        """The web server's base URL (``http://127.0.0.1:<port>``)."""
        return f"http://{self.address}:{self.web_port}"

    def command(self) -> list[str]:
        return [require("pdns_server"), "--no-config",
                *(f"--{k}={v}" for k, v in self.settings.items())]

    def cwd(self) -> Path:
        return self.dir

    def start(self, timeout: float = 20.0) -> "PdnsApi":
        """A fresh database, then the server, ready when DNS and the API both answer."""
        self.db.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(self.db)) as db:
            db.executescript(SCHEMA.read_text())
            db.commit()
        super().start(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        super().wait_ready(timeout)
        while time.monotonic() < deadline:
            try:
                status, _, _ = self.request("GET", "/servers/localhost", timeout=1.0)
                if status == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   f"{self.log()}")
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}'s API did not answer within {timeout}s:\n{self.log()}")

    def request(self, method: str, path: str, json: Any = None, *, key: Any = "default",
                **kw: Any) -> Response:
        """:func:`api_request` against this server, with its key unless ``key`` is given
        (None: no X-API-Key header)."""
        return api_request(self.url, method, path, json=json,
                           key=self.api_key if key == "default" else key, **kw)

    def __enter__(self) -> "PdnsApi":
        return self.start() if self.proc is None else self


def pdns_spec(harness: PdnsApi) -> dict[str, Any]:
    """The API description pdns_server serves at ``/api/docs``, parsed (4.7 serves the Swagger
    2.0 YAML it was built from)."""
    status, body, headers = harness.request("GET", "/api/docs")
    if status != 200 or not isinstance(body, str):
        raise RuntimeError(f"/api/docs: {status} {headers.get('Content-Type')}: {body!r:.200}")
    spec = yaml.safe_load(body)
    if not isinstance(spec, dict) or "paths" not in spec:
        raise RuntimeError(f"/api/docs is not an API description: {body[:200]!r}")
    return spec

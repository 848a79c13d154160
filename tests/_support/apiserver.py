"""A fastdns server with its HTTP API on, on the embedded default (SQLite, with DNSSEC
tables), for the API's tests: ``server.api(method, path, json=...)`` sends a request with the
key, ``server.url`` is the listener's base."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from tests._support.servers import Fastdns, free_port

API_KEY = "the-api-key"
ZONES = "/api/v1/servers/localhost/zones"


class ApiServer(Fastdns):
    def __init__(self, workdir: Path, settings: dict[str, str] | None = None) -> None:
        self.web_port = free_port()
        super().__init__(workdir, {
            "launch": "gsqlite3", "gsqlite3-database": str(workdir / "pdns.sqlite3"),
            "gsqlite3-create-schema": "yes", "gsqlite3-dnssec": "yes",
            "webserver": "yes", "webserver-address": "127.0.0.1",
            "webserver-port": str(self.web_port), "api": "yes", "api-key": API_KEY,
            "zone-check-interval": "60", **(settings or {})})
        self.url = f"http://127.0.0.1:{self.web_port}"

    def start(self, timeout: float = 20.0) -> ApiServer:
        super().start(timeout)
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(self.url + "/api", timeout=2)
                return self
            except requests.ConnectionError:
                assert time.monotonic() < deadline, f"no HTTP listener:\n{self.log()}"
                time.sleep(0.05)

    def api(self, method: str, path: str, json: Any = None, key: str | None = API_KEY,
            **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if key is not None:
            headers["X-API-Key"] = key
        return requests.request(method, self.url + path, json=json, headers=headers,
                                timeout=10, **kw)

"""The status page and ``/metrics`` of a live server (``webserver=yes``, a password), read by
real clients: ``requests`` + ``prometheus_client``'s parser for ``/metrics``, and Debian's
Chromium (headless) for the page, whose script must have drawn every graph from the
server's history and filled the tables.

The server is queried with dnspython over a few seconds first, so that the history has
several points and the counters have known values."""

import subprocess
import threading
import time
from html.parser import HTMLParser

import dns.rcode
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from fastdns.stats import PDNS_STATISTICS
from tests._support.servers import free_port, require
from tests.integration.helpers import ZoneTree, start_server, statistics, zone_text

PASSWORD = "page-secret"
GRAPHS = ("graph-queries", "graph-cache", "graph-latency", "graph-signatures")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("web-page"))
    tree.add("example.test", zone_text("example.test", """\
        www     IN A     192.0.2.80
        www     IN AAAA  2001:db8::80
        @       IN MX    10 mail
        mail    IN A     192.0.2.25
        """))
    port = free_port()
    srv = start_server(tmp_path_factory.mktemp("web-page-server"), tree, {
        "webserver": "yes", "webserver-address": "127.0.0.1", "webserver-port": str(port),
        "webserver-password": PASSWORD})
    srv.web = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if get(srv, "/metrics").status_code == 200:
                break
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, f"no HTTP listener on {port}:\n{srv.log()}"
        time.sleep(0.1)
    yield srv
    assert srv.stop() == 0, srv.log()


def get(server, path: str, **kw) -> requests.Response:
    return requests.get(server.web + path, auth=("admin", PASSWORD), timeout=5, **kw)


def scrape(server) -> dict[str, tuple[str, float]]:
    """``/metrics`` parsed: family name → (type, value of its one unlabelled sample)."""
    response = get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(response.text):
        assert family.documentation, family.name
        plain = [s for s in family.samples if not s.labels]
        if plain:
            out[family.name] = (family.type, plain[0].value)
    return out


def ask(server, count: int, spread: float = 0.0) -> None:
    """``count`` UDP queries, all answered, over ``spread`` seconds."""
    kinds = [("www.example.test", "A"), ("www.example.test", "AAAA"), ("example.test", "MX")]
    for i in range(count):
        qname, rdtype = kinds[i % len(kinds)]
        assert server.query(qname, rdtype).rcode() == dns.rcode.NOERROR
        if spread:
            time.sleep(spread / count)


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_metrics_count_the_queries_sent(server):
    before = scrape(server)["pdns_auth_udp_queries"][1]
    ask(server, 25)
    # the workers' counters are read from shared memory: they show every query at once
    def counted():
        now = scrape(server)
        return now if now["pdns_auth_udp_queries"][1] >= before + 25 else None

    after = wait_for(counted)
    assert after, "udp-queries did not count the queries"
    assert after["pdns_auth_udp_queries"][1] == before + 25
    assert after["pdns_auth_udp_answers"][1] >= 25
    for name in PDNS_STATISTICS:
        assert "pdns_auth_" + name.replace("-", "_") in after, name
    assert after["pdns_auth_udp_queries"][0] == "counter"
    assert after["pdns_auth_latency"][0] == "gauge"
    assert after["pdns_auth_uptime"][0] == "counter"        # as PowerDNS declares it
    # the same rows as the control socket's ``show *`` (nothing was asked in between)
    assert statistics(server)["udp-queries"] == after["pdns_auth_udp_queries"][1]


def test_pages_need_the_password(server):
    for path in ("/", "/metrics", "/stats/history.json", "/static/status.js"):
        response = requests.get(server.web + path, timeout=5)
        assert response.status_code == 401, path
        assert get(server, path).status_code == 200, path


class Dom(HTMLParser):
    """What the test reads of the rendered page: the statistics table's cells, the
    polylines of each graph, the rows of the small tables, the refresh note."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self.points: dict[str, list[int]] = {}
        self.rows: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._svg: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._name: str | None = None
        self._id: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "svg":
            self._svg = attrs.get("id")
            self.points.setdefault(self._svg, [])
        elif tag == "polyline" and self._svg:
            pairs = (attrs.get("points") or "").split()
            assert int(attrs.get("data-points", -1)) == len(pairs)
            self.points[self._svg].append(len(pairs))
        elif tag == "table":
            self._table = attrs.get("id")
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self.rows[self._table].append([])
        elif tag == "td" and self._table:
            self._cell = []
            self._name = attrs.get("data-name")
        elif tag == "span" and attrs.get("id"):
            self._id = attrs["id"]
            self.texts[self._id] = ""

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
        elif tag == "table":
            self._table = None
        elif tag == "td" and self._cell is not None:
            text = "".join(self._cell).strip()
            self.rows[self._table][-1].append(text)
            if self._name:
                self.values[self._name] = text
            self._cell = self._name = None
        elif tag == "span":
            self._id = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._id:
            self.texts[self._id] += data


def test_page_in_chromium_has_the_statistics_and_the_graphs(server):
    chromium = require("chromium")
    # a few seconds of traffic, so that every graph has several points
    traffic = threading.Thread(target=ask, args=(server, 60, 4.0))
    traffic.start()
    traffic.join()
    sent = scrape(server)["pdns_auth_udp_queries"][1]
    # the page works under the listener's Content-Security-Policy (no inline script)
    assert "default-src 'self'" in get(server, "/").headers["Content-Security-Policy"]
    url = server.web.replace("http://", f"http://admin:{PASSWORD}@") + "/"
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-extensions",
                           f"--user-data-dir={server.workdir / 'chromium'}",
                           "--virtual-time-budget=5000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = Dom()
    dom.feed(done.stdout)
    # the script ran and both of its fetches answered
    assert dom.texts.get("refreshed", "").startswith("updated"), \
        (dom.texts, done.stdout[-3000:])
    # every statistic by PowerDNS's name, with a number; udp-queries at least what was sent
    for name in PDNS_STATISTICS:
        assert dom.values.get(name, "").isdigit(), (name, dom.values.get(name))
    assert int(dom.values["udp-queries"]) >= sent
    # every graph drawn, each line with points (one a second, the traffic lasted 4 s)
    for graph in GRAPHS:
        assert dom.points.get(graph), (graph, dom.points)
        assert all(count > 1 for count in dom.points[graph]), (graph, dom.points)
    assert len(dom.points["graph-queries"]) == 2 and len(dom.points["graph-cache"]) == 2
    # the query types asked for, by name; the client in the top remotes
    qtypes = {row[0]: int(row[1]) for row in dom.rows["qtypes"] if len(row) == 3}
    assert qtypes["A"] >= 20 and qtypes["AAAA"] >= 20 and qtypes["MX"] >= 20
    remotes = [row[0] for row in dom.rows["remotes"] if row]
    assert "127.0.0.1" in remotes
    assert dom.texts["uptime"] and dom.texts["queries"].isdigit()

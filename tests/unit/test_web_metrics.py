"""``/metrics`` and the status page's data (fastdns.api.metrics, fastdns.api.web), without a
server: the exposition text is read back by ``prometheus_client``'s own parser, the history's
rates are checked on samples taken at given times, and the handlers run in aiohttp's test
server."""

import asyncio
import json
import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from fastdns import __version__
from fastdns.api import metrics
from fastdns.api import web as webpage
from fastdns.stats import OWN_STATISTICS, PDNS_STATISTICS

#: what PowerDNS 4.7 declares as gauges (pdns/auth-main.cc declareStats, the caches' own
#: declarations, StatBag's ring sizes); everything else is a counter there
GAUGES_47 = {"open-tcp-connections", "qsize-q", "real-memory-usage", "fd-usage",
             "meta-cache-size", "key-cache-size", "signature-cache-size", "latency",
             "receive-latency", "cache-latency", "backend-latency", "send-latency",
             "security-status", "xfr-queue", "packetcache-size", "query-cache-size",
             "zone-cache-size"}


def statistics() -> dict[str, int]:
    """Every statistic with a distinct value: PowerDNS's, fastdns's own, two signers."""
    names = (*PDNS_STATISTICS, *OWN_STATISTICS)
    out = {name: 1000 + i for i, name in enumerate(names)}
    out.update({"signer-0-signatures": 7, "signer-0-cpu-msec": 70,
                "signer-1-signatures": 8, "signer-1-cpu-msec": 80})
    return out


def families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_every_pdns_statistic_has_its_powerdns_name_help_type_and_value():
    stats = statistics()
    text = metrics.render(stats)
    found = families(text)
    for name in PDNS_STATISTICS:
        prom = "pdns_auth_" + name.replace("-", "_")
        family = found[prom]
        assert family.documentation, name
        expected = "gauge" if name in GAUGES_47 or name.startswith("ring-") else "counter"
        assert family.type == expected, name
        [sample] = family.samples
        # (the parser names a counter's sample NAME_total, as OpenMetrics would)
        assert sample.name in (prom, prom + "_total") and sample.labels == {}
        assert sample.value == stats[name]
        # the raw lines, as a scraper reads them: PowerDNS's names, no _total
        assert f"# HELP {prom} " in text and f"# TYPE {prom} {expected}\n" in text
        assert f"\n{prom} {stats[name]}\n" in text
    # PowerDNS's order: the families come as ``show *`` lists them
    pdns = [name for name in found if name.startswith("pdns_auth_")]
    assert pdns == ["pdns_auth_" + name.replace("-", "_") for name in PDNS_STATISTICS]


def test_own_statistics_signers_query_types_and_sizes_are_fastdns_families():
    stats = statistics()
    text = metrics.render(stats, {"A": 5, "AAAA": 2, "TYPE65534": 1}, {100: 3, 600: 1},
                          __version__)
    found = families(text)
    for name in OWN_STATISTICS:
        family = found["fastdns_" + name.replace("-", "_")]
        assert family.type == "counter" and family.documentation
        assert family.samples[0].value == stats[name]
    assert not any(name.startswith("pdns_auth_") and name[10:].replace("_", "-")
                   in OWN_STATISTICS for name in found)
    signatures = found["fastdns_signer_signatures"]
    assert {s.labels["signer"]: s.value for s in signatures.samples} == {"0": 7, "1": 8}
    assert {s.labels["signer"]: s.value
            for s in found["fastdns_signer_cpu_msec"].samples} == {"0": 70, "1": 80}
    assert {s.labels["qtype"]: s.value for s in found["fastdns_queries_by_type"].samples} \
        == {"A": 5, "AAAA": 2, "TYPE65534": 1}
    assert {s.labels["upto"]: s.value for s in found["fastdns_answers_by_size"].samples} \
        == {"100": 3, "600": 1}
    [info] = found["fastdns_info"].samples
    assert info.labels == {"version": __version__} and info.value == 1
    # every family once, each with HELP and TYPE before its samples
    helps = re.findall(r"^# HELP (\S+) ", text, re.M)
    types = re.findall(r"^# TYPE (\S+) (counter|gauge)$", text, re.M)
    assert helps == [name for name, _ in types] and len(set(helps)) == len(helps)


def test_every_statistic_is_described_in_our_words():
    for name in (*PDNS_STATISTICS, *OWN_STATISTICS):
        assert metrics.DESCRIPTIONS.get(name), name
    assert metrics.description("signer-3-signatures").startswith("RRSIGs")


def test_help_and_label_values_are_escaped():
    text = metrics.render({}, {'we"ird\\\n': 1}, None, "1.0")
    [family] = [f for f in text_string_to_metric_families(text)
                if f.name == "fastdns_queries_by_type"]
    assert family.samples[0].labels == {"qtype": 'we"ird\\\n'}


class FakeServer:
    """The hooks the web pages use, with counters a test sets."""

    config = None

    def __init__(self) -> None:
        self.stats = {name: 0 for name in (*PDNS_STATISTICS, *OWN_STATISTICS)}

    def statistics(self) -> dict[str, int]:
        return dict(self.stats)

    def uptime(self) -> float:
        return 125.0

    def query_types(self) -> dict[int, int]:
        return {1: 30, 28: 10, 6: 0, 65401: 2}

    def response_sizes(self) -> dict[int, int]:
        return {64: 20, 80: 5, 600: 1}

    def remotes(self) -> list[tuple[str, int]]:
        return [("192.0.2.1", 9), ("2001:db8::<b>", 1)]


def advance(server: FakeServer, history: webpage.History, at: float, **counts: int) -> None:
    for name, value in counts.items():
        server.stats[name.replace("_", "-")] += value
    history.sample(monotonic=at, wall=1_000_000 + at)


def test_history_rates_between_samples_and_averages():
    server = FakeServer()
    history = webpage.History(server, interval=1.0, span=600.0)
    history.sample(monotonic=0.0, wall=1_000_000.0)
    advance(server, history, 1.0, udp_queries=100, tcp_queries=10, packetcache_hit=90,
            packetcache_miss=20, signatures=4)
    server.stats["latency"] = 55
    advance(server, history, 3.0, udp_queries=50, packetcache_hit=10, packetcache_miss=40)
    series = history.series()
    assert series["time"] == [1_000_001.0, 1_000_003.0]
    assert series["series"]["udp-queries"] == [100.0, 25.0]
    assert series["series"]["tcp-queries"] == [10.0, 0.0]
    assert series["series"]["packetcache-hit"] == [90.0, 5.0]
    assert series["series"]["packetcache-miss"] == [20.0, 20.0]
    assert series["series"]["signatures"] == [4.0, 0.0]
    assert series["series"]["latency"] == [0, 55]
    assert history.rate(("udp-queries", "tcp-queries"), 60) == pytest.approx(160 / 3)
    assert history.rate(("udp-queries",), 2) == pytest.approx(25.0)
    assert history.peak(("udp-queries", "tcp-queries")) == pytest.approx(110.0)
    head = webpage.summary(history, server.statistics(), 125.0)
    assert head["qps"] == "53, 53, 53" and head["qps-max"] == "110"
    assert head["hitrate"] == ", ".join(["62.5%"] * 3)        # 100 hits of 160 lookups
    assert head["queries"] == "160" and head["latency"] == "0.055"
    assert head["uptime"] == "2.1 minutes"


def test_history_is_a_bounded_ring_and_survives_a_counter_going_down():
    server = FakeServer()
    history = webpage.History(server, interval=1.0, span=10.0)
    for second in range(30):
        advance(server, history, float(second), udp_queries=5)
    assert len(history.samples) == 11
    assert history.series()["series"]["udp-queries"] == [5.0] * 10
    server.stats["udp-queries"] = 0
    history.sample(monotonic=30.0, wall=1_000_030.0)
    assert history.series()["series"]["udp-queries"][-1] == 0.0
    empty = webpage.History(server)
    assert empty.rate(("udp-queries",), 60) is None
    assert webpage.summary(empty, server.statistics(), 1.0)["qps"] == "n/a, n/a, n/a"


def test_tables_use_powerdns_type_names_and_buckets():
    top = webpage.tables(FakeServer())
    assert top["qtypes"].rows == [("A", 30, "71.4%"), ("AAAA", 10, "23.8%"),
                                  ("ALIAS", 2, "4.8%")]
    assert top["respsizes"].rows == [("≤ 80", 25, "96.2%"), ("≤ 600", 1, "3.8%")]
    assert top["remotes"].total == 10
    long = webpage.table([(str(i), 1) for i in range(15)])
    assert len(long.rows) == webpage.TOP and long.rest == 5 and long.total == 15


async def _get_all(server: FakeServer) -> dict[str, tuple[int, dict[str, str], bytes]]:
    app = web.Application()
    webpage.setup(app, server, interval=0.05)
    out = {}
    async with TestClient(TestServer(app)) as client:
        await asyncio.sleep(0.2)       # a few samples
        for path in ("/", "/metrics", "/stats/history.json", "/stats/now.json",
                     "/static/status.js", "/static/status.css", "/static/nothing.js"):
            response = await client.get(path)
            out[path] = (response.status, dict(response.headers), await response.read())
        assert app[webpage.HISTORY]._task is not None
    assert app[webpage.HISTORY]._task is None          # stopped with the application
    return out


def test_handlers():
    server = FakeServer()
    server.stats["udp-queries"] = 42
    got = asyncio.run(_get_all(server))
    status, headers, body = got["/metrics"]
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    [udp] = families(body.decode())["pdns_auth_udp_queries"].samples
    assert udp.value == 42
    status, headers, body = got["/"]
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    # no inline script (the CSP forbids it): the script is a file of its own
    assert re.findall(r"<script[^>]*>", page) == ['<script src="static/status.js" defer>']
    assert "<script>" not in page and "http://" not in page and "https://" not in page
    for name in (*PDNS_STATISTICS, *OWN_STATISTICS):
        assert f'data-name="{name}"' in page, name
    assert "2001:db8::&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1]
    for element in webpage.GRAPHS:
        assert f'id="{element}"' in page
    status, _, body = got["/stats/history.json"]
    history = json.loads(body)
    assert status == 200 and len(history["time"]) >= 2
    assert set(history["series"]) == set(webpage.RATES) | set(webpage.LEVELS)
    assert set(history["graphs"]) == set(webpage.GRAPHS) and history["summary"]["uptime"]
    now = json.loads(got["/stats/now.json"][2])
    assert now["statistics"]["udp-queries"] == 42
    assert now["tables"]["qtypes"]["rows"][0] == ["A", 30, "71.4%"]
    assert got["/static/status.js"][0] == 200
    assert got["/static/status.js"][1]["Content-Type"].startswith("text/javascript")
    assert got["/static/status.css"][1]["Content-Type"].startswith("text/css")
    assert got["/static/nothing.js"][0] == 404

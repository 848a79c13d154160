"""The web server's own pages: the status page at ``/`` with its graphs, and ``/metrics``.

As PowerDNS's, the page shows the uptime, the query rate and cache hit rate over the last 1, 5
and 10 minutes, the latency, the top query types, response sizes and remotes, and every
statistic. It adds graphs over the last 10 minutes (queries, packet cache hits and misses,
latency, signatures), which ``static/status.js`` draws as SVG from ``stats/history.json``
and redraws every few seconds; the tables are in the HTML too, so the page reads without
scripts. The page has no inline script (the web server's Content-Security-Policy forbids
them) and loads nothing from elsewhere.

:class:`History` samples the statistics every second into a ring of the last 10 minutes; it
runs with the application (``setup`` adds it to ``cleanup_ctx``) and samples once at start,
so the page has data from its first load.

Authentication (``webserver-password``, ``webserver-allow-from``) is the application's
middleware's; these handlers assume the request passed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from importlib import resources
from itertools import pairwise
from typing import TYPE_CHECKING, Any, NamedTuple

from aiohttp import web

from fastdns import __version__
from fastdns.api import metrics
from fastdns.control.commands import human_duration, qtype_text, respsize_bucket

if TYPE_CHECKING:
    from fastdns.api.hooks import ServerHooks

log = logging.getLogger("fastdns.api")

#: counters the graphs show as a rate per second
RATES = ("udp-queries", "tcp-queries", "packetcache-hit", "packetcache-miss", "signatures")
#: levels the graphs show as they are
LEVELS = ("latency",)
#: the page's graphs: element id → (title, unit, [(series, legend)])
GRAPHS: dict[str, tuple[str, str, list[tuple[str, str]]]] = {
    "graph-queries": ("Queries per second", "/s",
                      [("udp-queries", "UDP"), ("tcp-queries", "TCP")]),
    "graph-cache": ("Packet cache per second", "/s",
                    [("packetcache-hit", "hits"), ("packetcache-miss", "misses")]),
    "graph-latency": ("Latency", "µs", [("latency", "question/answer")]),
    "graph-signatures": ("Signatures per second", "/s", [("signatures", "RRSIGs made")]),
}
#: rows of the top-N tables
TOP = 10
#: averaging windows of the summary, in minutes
WINDOWS = (1, 5, 10)


class Sample(NamedTuple):
    monotonic: float      # for the rates: never jumps
    wall: float           # for the time axis
    values: tuple[int, ...]   # RATES then LEVELS


class History:
    """The graphed statistics of the last ``span`` seconds, sampled every ``interval``."""

    def __init__(self, server: ServerHooks, interval: float = 1.0, span: float = 600.0) -> None:
        self.server = server
        self.interval = interval
        self.span = span
        self.samples: deque[Sample] = deque(maxlen=int(span / interval) + 1)
        self._task: asyncio.Task[None] | None = None

    # -- sampling --------------------------------------------------------------------------

    def sample(self, monotonic: float | None = None, wall: float | None = None) -> None:
        """Take one sample now (or at the times given: tests)."""
        stats = self.server.statistics()
        values = tuple(int(stats.get(name, 0)) for name in (*RATES, *LEVELS))
        self.samples.append(Sample(time.monotonic() if monotonic is None else monotonic,
                                   time.time() if wall is None else wall, values))

    async def run(self) -> None:
        """Sample every ``interval`` seconds, on the beat (a slow sample does not shift the
        next ones), until cancelled."""
        loop = asyncio.get_running_loop()
        beat = loop.time()
        while True:
            beat += self.interval
            await asyncio.sleep(max(0.0, beat - loop.time()))
            if loop.time() - beat > self.interval:     # fell behind (a stalled loop)
                beat = loop.time()
            try:
                self.sample()
            except Exception:      # the statistics must not end the sampler
                log.exception("web server: could not sample the statistics")

    def start(self) -> None:
        if self._task is None:
            self.sample()
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """For ``app.cleanup_ctx``: sample while the application runs."""
        self.start()
        yield
        await self.stop()

    # -- reading ---------------------------------------------------------------------------

    def series(self) -> dict[str, Any]:
        """The ring as JSON: ``time`` (seconds since the epoch) of every sample but the
        first, and for each name the rate per second since the sample before (RATES) or
        the value (LEVELS) at those times."""
        out: dict[str, list[float]] = {name: [] for name in (*RATES, *LEVELS)}
        times: list[float] = []
        for before, after in pairwise(self.samples):
            elapsed = after.monotonic - before.monotonic
            if elapsed <= 0:
                continue
            times.append(round(after.wall, 3))
            for i, name in enumerate(RATES):
                # counters never go down; a restarted process's row would, briefly
                out[name].append(round(max(0, after.values[i] - before.values[i]) / elapsed, 3))
            for i, name in enumerate(LEVELS, len(RATES)):
                out[name].append(after.values[i])
        return {"interval": self.interval, "span": self.span, "time": times, "series": out}

    def rate(self, names: Sequence[str], seconds: float) -> float | None:
        """The summed rate per second of counters ``names`` over the last ``seconds`` (or
        as long as sampled); None before two samples."""
        if len(self.samples) < 2:
            return None
        last = self.samples[-1]
        first = last
        for sample in reversed(self.samples):
            if last.monotonic - sample.monotonic > seconds + self.interval / 2:
                break
            first = sample
        elapsed = last.monotonic - first.monotonic
        if elapsed <= 0:
            return None
        index = [RATES.index(name) for name in names]
        return sum(max(0, last.values[i] - first.values[i]) for i in index) / elapsed

    def peak(self, names: Sequence[str]) -> float:
        """The highest summed rate of ``names`` between two successive samples."""
        index = [RATES.index(name) for name in names]
        best = 0.0
        for before, after in pairwise(self.samples):
            elapsed = after.monotonic - before.monotonic
            if elapsed > 0:
                best = max(best, sum(max(0, after.values[i] - before.values[i])
                                     for i in index) / elapsed)
        return best


# ------------------------------------------------------------------------------------------
# What the page shows (the HTML and stats/*.json share these)


def summary(history: History, stats: Mapping[str, int], uptime: float) -> dict[str, str]:
    """The head of the page, as text by element id."""
    queries = ("udp-queries", "tcp-queries")
    rates = [history.rate(queries, minutes * 60) for minutes in WINDOWS]
    hits = [history.rate(("packetcache-hit",), minutes * 60) for minutes in WINDOWS]
    lookups = [history.rate(("packetcache-hit", "packetcache-miss"), minutes * 60)
               for minutes in WINDOWS]
    hitrates = [f"{100.0 * hit / total:.1f}%" if hit is not None and total else "n/a"
                for hit, total in zip(hits, lookups, strict=True)]
    return {
        "uptime": human_duration(uptime),
        "qps": ", ".join("n/a" if r is None else f"{r:.0f}" for r in rates),
        "qps-max": f"{history.peak(queries):.0f}",
        "hitrate": ", ".join(hitrates),
        "queries": str(sum(stats.get(name, 0) for name in queries)),
        "latency": f"{stats.get('latency', 0) / 1000.0:.3f}",
    }


class Table(NamedTuple):
    rows: list[tuple[str, int, str]]      # label, count, percentage of the total
    rest: int
    total: int


def _percent(part: int, total: int) -> str:
    return f"{100.0 * part / max(1, total):.1f}%"


def table(items: Iterable[tuple[str, int]], limit: int | None = TOP) -> Table:
    """The first ``limit`` of ``items`` with their share, what the others add up to, and
    the total."""
    items = [(label, count) for label, count in items if count]
    total = sum(count for _, count in items)
    shown = items if limit is None else items[:limit]
    rows = [(label, count, _percent(count, total)) for label, count in shown]
    return Table(rows, total - sum(count for _, count, _ in rows), total)


def tables(server: ServerHooks) -> dict[str, Table]:
    """The top query types, the response sizes (PowerDNS's buckets, smallest first) and the
    top remotes."""
    qtypes = sorted(((qtype_text(qtype), count) for qtype, count
                     in server.query_types().items()), key=lambda item: (-item[1], item[0]))
    buckets: dict[int, int] = {}
    for size, count in server.response_sizes().items():
        bucket = respsize_bucket(size)
        buckets[bucket] = buckets.get(bucket, 0) + count
    sizes = [(f"≤ {bucket}", count) for bucket, count in sorted(buckets.items())]
    return {"qtypes": table(qtypes), "respsizes": table(sizes, None),
            "remotes": table(server.remotes())}


# ------------------------------------------------------------------------------------------
# HTML


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


_TABLE_TITLES = {"qtypes": "Top query types", "respsizes": "Response sizes",
                 "remotes": "Top remotes"}
_TABLE_HEADS = {"qtypes": "Type", "respsizes": "Size (octets)", "remotes": "Address"}


def _table_body(top: Table) -> str:
    rows = "".join(f"<tr><td>{_e(label)}</td><td class=n>{count}</td>"
                   f"<td class=n>{pct}</td></tr>" for label, count, pct in top.rows)
    if top.rest:
        rows += (f"<tr class=rest><td>Rest</td><td class=n>{top.rest}</td>"
                 f"<td class=n>{_percent(top.rest, top.total)}</td></tr>")
    return rows + (f"<tr class=total><td>Total</td><td class=n>{top.total}</td>"
                   f"<td class=n>100%</td></tr>")


def _graph(element: str, title: str, unit: str, lines: list[tuple[str, str]]) -> str:
    series = ",".join(f"{name}:{legend}" for name, legend in lines)
    return (f'<figure class=graph><figcaption>{_e(title)} <span class=unit>({_e(unit)})'
            f'</span></figcaption><svg id="{element}" class=chart viewBox="0 0 640 200" '
            f'role=img aria-label="{_e(title)}" data-series="{_e(series)}" '
            f'data-unit="{_e(unit)}"></svg></figure>')


def page(server: ServerHooks, history: History) -> str:
    """The status page."""
    stats = server.statistics()
    head = summary(history, stats, server.uptime())
    panels = []
    for key, top in tables(server).items():
        panels.append(f'<div class=panel><h2>{_TABLE_TITLES[key]}</h2>'
                      f'<table class=data id="{key}"><thead><tr><th>{_TABLE_HEADS[key]}</th>'
                      f'<th>Count</th><th>Share</th></tr></thead>'
                      f'<tbody>{_table_body(top)}</tbody></table></div>')
    variables = "".join(
        f'<tr><td>{_e(name)}</td><td class=n data-name="{_e(name)}">{value}</td>'
        f'<td>{_e(metrics.description(name))}</td></tr>' for name, value in stats.items())
    graphs = "".join(_graph(element, *spec) for element, spec in GRAPHS.items())
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<title>fastdns Authoritative Server Monitor</title>
<link rel=stylesheet href="static/status.css">
<script src="static/status.js" defer></script>
</head><body>
<header><a href="./" id=appname>fastdns {_e(__version__)}</a>
<span class=sub>authoritative server monitor</span></header>
<main>
<section id=summary><p>
Uptime: <span id=uptime>{_e(head["uptime"])}</span><br>
Queries/second, 1, 5, 10 minute averages: <span id=qps>{_e(head["qps"])}</span>.
Max queries/second: <span id=qps-max>{_e(head["qps-max"])}</span><br>
Cache hitrate, 1, 5, 10 minute averages: <span id=hitrate>{_e(head["hitrate"])}</span><br>
Total queries: <span id=queries>{_e(head["queries"])}</span>.
Question/answer latency: <span id=latency>{_e(head["latency"])}</span> ms</p></section>
<section id=graphs>{graphs}</section>
<section id=tables>{"".join(panels)}</section>
<section class=panel id=variables><h2>Variables</h2>
<table class=data id=statistics><thead><tr><th>Name</th><th>Value</th><th>Description</th></tr>
</thead><tbody>{variables}</tbody></table></section>
</main>
<footer>fastdns {_e(__version__)} &middot; statistics as PowerDNS Authoritative names them
&middot; <a href="metrics">/metrics</a> &middot; <span id=refreshed></span></footer>
</body></html>
"""


# ------------------------------------------------------------------------------------------
# Handlers


def _asset(name: str) -> bytes:
    return resources.files("fastdns.api").joinpath("static").joinpath(name).read_bytes()


_ASSETS = {"status.js": "text/javascript", "status.css": "text/css"}


class StatusPages:
    """The handlers, bound to the server's hooks and the history."""

    def __init__(self, server: ServerHooks, history: History) -> None:
        self.server = server
        self.history = history
        self._assets = {name: _asset(name) for name in _ASSETS}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.index),
                web.get("/static/{name}", self.static),
                web.get("/stats/history.json", self.history_json),
                web.get("/stats/now.json", self.now_json),
                web.get("/metrics", self.metrics)]

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=page(self.server, self.history), content_type="text/html",
                            headers={"Cache-Control": "no-store"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return web.Response(body=self._assets[name], content_type=_ASSETS[name],
                            charset="utf-8", headers={"Cache-Control": "no-cache"})

    async def history_json(self, request: web.Request) -> web.Response:
        body = self.history.series()
        body["summary"] = summary(self.history, self.server.statistics(), self.server.uptime())
        body["graphs"] = {element: {"title": title, "unit": unit, "series": lines}
                          for element, (title, unit, lines) in GRAPHS.items()}
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def now_json(self, request: web.Request) -> web.Response:
        stats = self.server.statistics()
        body: dict[str, Any] = {
            "summary": summary(self.history, stats, self.server.uptime()),
            "statistics": stats,
            "tables": {key: {"rows": top.rows, "rest": top.rest, "total": top.total}
                       for key, top in tables(self.server).items()},
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def metrics(self, request: web.Request) -> web.Response:
        qtypes: dict[str, int] = {}
        for qtype, count in sorted(self.server.query_types().items()):
            if count:
                name = qtype_text(qtype)
                qtypes[name] = qtypes.get(name, 0) + count
        sizes: dict[int, int] = {}
        for size, count in self.server.response_sizes().items():
            if count:
                bucket = respsize_bucket(size)
                sizes[bucket] = sizes.get(bucket, 0) + count
        text = metrics.render(self.server.statistics(), qtypes, dict(sorted(sizes.items())),
                              __version__)
        return web.Response(body=text.encode(), headers={"Content-Type": metrics.CONTENT_TYPE,
                                                         "Cache-Control": "no-store"})


HISTORY = web.AppKey("history", History)


def setup(app: web.Application, server: ServerHooks, interval: float = 1.0,
          span: float = 600.0) -> None:
    """Add the status page, its assets and data, and ``/metrics`` to ``app``, and sample the
    statistics while it runs."""
    history = History(server, interval, span)
    app[HISTORY] = history
    app.add_routes(StatusPages(server, history).routes())
    app.cleanup_ctx.append(history.context)


__all__ = ["GRAPHS", "HISTORY", "LEVELS", "RATES", "History", "StatusPages", "page", "setup",
           "summary", "tables"]

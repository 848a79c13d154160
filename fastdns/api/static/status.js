// fastdns status page: draws the graphs as SVG from stats/history.json and refreshes the
// summary, the tables and the statistics from stats/now.json every few seconds.
// Served as a file of its own: the page's Content-Security-Policy allows no inline script.
"use strict";

(function () {
  const REFRESH_MS = 5000;
  const SVG = "http://www.w3.org/2000/svg";
  // the viewBox of every chart and the plot's margins inside it
  const W = 640, H = 200, LEFT = 56, RIGHT = 12, TOP = 26, BOTTOM = 22;

  function svgElement(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) {
      node.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  // the smallest 1, 2, 2.5 or 5 times a power of ten not below value
  function roundUp(value) {
    if (!(value > 0)) {
      return 1;
    }
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (value <= step * power * 1.0000001) {
        return step * power;
      }
    }
    return 10 * power;
  }

  function short(value) {
    if (value >= 1e6) {
      return (value / 1e6).toFixed(1) + "M";
    }
    if (value >= 1e4) {
      return (value / 1e3).toFixed(0) + "k";
    }
    if (value >= 1e3) {
      return (value / 1e3).toFixed(1) + "k";
    }
    if (value >= 100 || Number.isInteger(value)) {
      return value.toFixed(0);
    }
    return value.toFixed(1);
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toTimeString().slice(0, 8);
  }

  // one chart: lines is [{legend, values}], each value at times[i] (seconds since the epoch)
  function draw(svg, times, lines) {
    while (svg.firstChild) {
      svg.removeChild(svg.firstChild);
    }
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    let top = 0;
    for (const line of lines) {
      for (const value of line.values) {
        top = Math.max(top, value);
      }
    }
    top = roundUp(top);
    for (let i = 0; i <= 4; i++) {
      const y = TOP + plotH - (plotH * i) / 4;
      svg.appendChild(svgElement("line", {class: i ? "grid" : "axis", x1: LEFT, x2: W - RIGHT,
                                          y1: y, y2: y}));
      svg.appendChild(svgElement("text", {x: LEFT - 6, y: y + 4, "text-anchor": "end"},
                                 short((top * i) / 4)));
    }
    svg.appendChild(svgElement("line", {class: "axis", x1: LEFT, x2: LEFT, y1: TOP,
                                        y2: TOP + plotH}));
    if (times.length < 2) {
      svg.appendChild(svgElement("text", {class: "empty", x: LEFT + plotW / 2,
                                          y: TOP + plotH / 2, "text-anchor": "middle"},
                                 "collecting data\u2026"));
    } else {
      const first = times[0], last = times[times.length - 1];
      const span = last - first || 1;
      svg.appendChild(svgElement("text", {x: LEFT, y: H - 6}, clock(first)));
      svg.appendChild(svgElement("text", {x: W - RIGHT, y: H - 6, "text-anchor": "end"},
                                 clock(last)));
      lines.forEach(function (line, n) {
        const points = line.values.map(function (value, i) {
          const x = LEFT + (plotW * (times[i] - first)) / span;
          const y = TOP + plotH - (plotH * Math.min(value, top)) / top;
          return x.toFixed(1) + "," + y.toFixed(1);
        });
        svg.appendChild(svgElement("polyline", {class: "line s" + n, points: points.join(" "),
                                                "data-points": points.length}));
      });
    }
    let x = LEFT;
    lines.forEach(function (line, n) {
      const now = line.values.length ? line.values[line.values.length - 1] : null;
      const label = line.legend + (now === null ? "" : ": " + short(now));
      svg.appendChild(svgElement("rect", {class: "s" + n, x: x, y: 8, width: 10, height: 10}));
      svg.appendChild(svgElement("text", {x: x + 14, y: 17}, label));
      x += 30 + label.length * 6.5;
    });
  }

  function drawAll(history) {
    for (const [id, graph] of Object.entries(history.graphs)) {
      const svg = document.getElementById(id);
      if (!svg) {
        continue;
      }
      const lines = graph.series.map(function (pair) {
        return {legend: pair[1], values: history.series[pair[0]] || []};
      });
      draw(svg, history.time, lines);
    }
  }

  function cell(row, text, numeric) {
    const td = row.insertCell();
    td.textContent = String(text);
    if (numeric) {
      td.className = "n";
    }
  }

  function fillTable(id, top) {
    const table = document.getElementById(id);
    if (!table) {
      return;
    }
    const body = table.tBodies[0];
    while (body.rows.length) {
      body.deleteRow(0);
    }
    for (const [label, count, share] of top.rows) {
      const row = body.insertRow();
      cell(row, label);
      cell(row, count, true);
      cell(row, share, true);
    }
    const share = function (part) {
      return ((100 * part) / Math.max(1, top.total)).toFixed(1) + "%";
    };
    if (top.rest) {
      const row = body.insertRow();
      row.className = "rest";
      cell(row, "Rest");
      cell(row, top.rest, true);
      cell(row, share(top.rest), true);
    }
    const total = body.insertRow();
    total.className = "total";
    cell(total, "Total");
    cell(total, top.total, true);
    cell(total, "100%", true);
  }

  function fillNow(now) {
    for (const [id, text] of Object.entries(now.summary)) {
      const node = document.getElementById(id);
      if (node) {
        node.textContent = text;
      }
    }
    for (const td of document.querySelectorAll("#statistics td[data-name]")) {
      const value = now.statistics[td.dataset.name];
      if (value !== undefined) {
        td.textContent = String(value);
      }
    }
    for (const [id, top] of Object.entries(now.tables)) {
      fillTable(id, top);
    }
  }

  // path relative to the page, without the user:password@ a page URL may carry (fetch
  // refuses a URL with credentials; the browser sends the ones it was given by itself)
  function here(path) {
    const url = new URL(path, document.baseURI);
    url.username = "";
    url.password = "";
    return url.href;
  }

  async function fetchJSON(path) {
    const response = await fetch(here(path), {cache: "no-store", credentials: "same-origin"});
    if (!response.ok) {
      throw new Error(path + ": HTTP " + response.status);
    }
    return response.json();
  }

  async function refresh() {
    const status = document.getElementById("refreshed");
    try {
      const [history, now] = await Promise.all([fetchJSON("stats/history.json"),
                                                fetchJSON("stats/now.json")]);
      drawAll(history);
      fillNow(now);
      if (status) {
        status.textContent = "updated " + clock(Date.now() / 1000);
      }
    } catch (error) {
      if (status) {
        status.textContent = "not updated: " + error.message;
      }
    }
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();

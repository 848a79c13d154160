"""The counters' shared rows (zone bundles and the zone index: test_zoneindex.py)."""

import os

import pytest

from fastdns.stats import allocate, totals


def test_shared_rows_sum_and_average():
    rows = allocate(4)
    rows.add(0, "udp-queries", 3)
    rows.add(1, "udp-queries", 4)
    rows.set(0, "latency", 10)
    rows.set(1, "latency", 30)
    rows.add(0, "packetcache-miss")
    rows.add(1, "packetcache-miss")
    out = totals(rows, [0, 1])
    assert out["udp-queries"] == 7
    assert out["latency"] == 20
    assert "pid" not in out and "heartbeat" not in out
    with pytest.raises(IndexError):
        rows.get(4, "udp-queries")
    pid = os.fork()
    if pid == 0:                      # a child writes its row; the parent sees it
        rows.add(2, "tcp-queries", 5)
        os._exit(0)
    os.waitpid(pid, 0)
    assert rows.get(2, "tcp-queries") == 5

"""Native replication (docs/replication.md): two fastdns nodes, node A reading a PostgreSQL
primary and node B reading a streaming replica of it, both clusters the test's own
(tests/_support/pgcluster.py: ``initdb``, ``pg_basebackup -R``, 127.0.0.1, random ports).

Whatever is written on the primary (by ``fastdns-util`` with a serial bump, by a raw
``UPDATE`` without one, before and after the change log is installed there; zones added and
deleted) is served by node B within ``zone-check-interval`` plus a little slack, and node B,
on a read-only database, never writes and never fails.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.rcode
import pytest

from tests._support.pgcluster import Primary, Replica, server_bin, start_pair
from tests._support.servers import ROOT, Fastdns, free_port
from tests.integration.helpers import rrs, wait_until, zone_text

if server_bin() is None:
    pytest.skip("the PostgreSQL server binaries (initdb, pg_basebackup) are not installed: "
                "apt-get install postgresql", allow_module_level=True)

#: zone-check-interval of both nodes, and what a change may take on top of it (replication
#: lag, the load, a loaded machine)
INTERVAL = 2
SLACK = 4
DBNAME = "pdns"
ZONE = "example.org"


@dataclass
class Fleet:
    primary: Primary
    replica: Replica
    work: Path
    a: Fastdns = field(init=False)
    b: Fastdns = field(init=False)
    #: what each change took to be served by node B, seconds (for the report)
    delays: dict[str, float] = field(default_factory=dict)

    def util(self, *args: str) -> str:
        """``fastdns-util`` on the primary, as an operator runs it; its output."""
        result = subprocess.run(
            [sys.executable, "-m", "fastdns.cli.util", f"--config-dir={self.work / 'util'}",
             *args], capture_output=True, text=True, timeout=60, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, f"fastdns-util {' '.join(args)}: {result.stderr}"
        return result.stdout

    def served_by_b(self, what: str, predicate: Callable[[Fastdns], bool]) -> float:
        """Wait until node B answers as ``predicate`` wants, at most INTERVAL + SLACK seconds
        from now (the write just made); the seconds it took. Node A must answer so too."""
        start = time.monotonic()
        while not predicate(self.b):
            elapsed = time.monotonic() - start
            assert elapsed <= INTERVAL + SLACK, (
                f"{what}: not served by node B (replica) within {INTERVAL} + {SLACK} s\n"
                f"node B log:\n{self.b.log()}\nreplica log:\n{self.replica.log()}")
            time.sleep(0.05)
        self.delays[what] = round(time.monotonic() - start, 2)
        assert predicate(self.a), f"{what}: node B serves it, node A (primary) does not"
        return self.delays[what]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    work = tmp_path_factory.mktemp("replication")
    primary, replica = start_pair(free_port(), free_port())
    try:
        fleet = Fleet(primary, replica, work)
        # the primary: PowerDNS's schema and a zone, as an operator loads them
        primary.query(f"CREATE DATABASE {DBNAME}", dbname="postgres")
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                        str(primary.port), "-U", "postgres", "-d", DBNAME, "-f",
                        str(ROOT / "fastdns/backends/schema/schema.pgsql.sql")],
                       check=True, capture_output=True, timeout=60)
        (work / "util").mkdir()
        (work / "util" / "fastdns.conf").write_text(
            "".join(f"{k}={v}\n" for k, v in primary.settings(DBNAME).items()))
        (work / f"{ZONE}.zone").write_text(zone_text(ZONE, """\
            www IN A 192.0.2.1
            raw IN A 192.0.2.10
            logged IN A 192.0.2.20
            """))
        fleet.util("load-zone", ZONE, str(work / f"{ZONE}.zone"))
        fleet.util("create-zone", "doomed.example", "ns1.doomed.example")
        replica.wait_replayed()
        node = {"zone-check-interval": str(INTERVAL)}
        fleet.a = Fastdns(work / "a", {**primary.settings(DBNAME), **node})
        fleet.b = Fastdns(work / "b", {**replica.settings(DBNAME), **node})
        with fleet.a, fleet.b:
            yield fleet
            print(f"\nnode B delays (s): {fleet.delays}")
    finally:
        replica.remove()
        primary.remove()


def test_both_nodes_serve_the_zone(fleet: Fleet) -> None:
    for node in (fleet.a, fleet.b):
        assert rrs(node.query(f"www.{ZONE}", "A")) == ["192.0.2.1"]
        assert node.query(ZONE, "SOA").answer[0][0].serial == 1
        assert node.query("doomed.example", "SOA").rcode() == dns.rcode.NOERROR


def test_util_change_with_serial_bump(fleet: Fleet) -> None:
    """replace-rrset then increase-serial on the primary: node B serves both."""
    fleet.util("replace-rrset", ZONE, "www", "A", "300", "192.0.2.2", "192.0.2.3")
    fleet.util("increase-serial", ZONE)
    fleet.served_by_b("replace-rrset + increase-serial", lambda node: rrs(
        node.query(f"www.{ZONE}", "A")) == ["192.0.2.2", "192.0.2.3"]
        and node.query(ZONE, "SOA").answer[0][0].serial == 2)


def test_raw_edit_without_serial_bump(fleet: Fleet) -> None:
    """UPDATE records on the primary, no serial bump (the default scan check on node B)."""
    fleet.primary.query("UPDATE records SET content = '192.0.2.11' WHERE name = %s",
                        (f"raw.{ZONE}",))
    fleet.served_by_b("raw UPDATE, scan", lambda node: rrs(
        node.query(f"raw.{ZONE}", "A")) == ["192.0.2.11"])
    assert fleet.b.query(ZONE, "SOA").answer[0][0].serial == 2      # no bump served


def test_raw_edit_with_the_change_log(fleet: Fleet) -> None:
    """install-change-log on the primary (the replica gets its table and triggers by
    replication; node B uses the log as soon as the table is there), then raw edits."""
    fleet.util("install-change-log")
    fleet.replica.wait_replayed()
    assert fleet.replica.query("SELECT to_regclass('fastdns_changes')")[0][0] is not None
    fleet.primary.query("UPDATE records SET content = '192.0.2.21' WHERE name = %s",
                        (f"logged.{ZONE}",))
    fleet.served_by_b("raw UPDATE, change log", lambda node: rrs(
        node.query(f"logged.{ZONE}", "A")) == ["192.0.2.21"])
    fleet.primary.query("DELETE FROM records WHERE name = %s", (f"raw.{ZONE}",))
    fleet.served_by_b("raw DELETE, change log", lambda node: node.query(
        f"raw.{ZONE}", "A").rcode() == dns.rcode.NXDOMAIN)
    # node B read the log on the replica (the only client reading it there)
    wait_until(lambda: fleet.replica.query(
        "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
        "WHERE relname = 'fastdns_changes'")[0][0] > 0, 5, what="node B reading the log")


def test_zone_created_and_deleted(fleet: Fleet) -> None:
    fleet.util("create-zone", "new.example", "ns1.new.example")
    fleet.util("add-record", "new.example", "www", "A", "192.0.2.30")
    fleet.served_by_b("create-zone", lambda node: rrs(
        node.query("www.new.example", "A")) == ["192.0.2.30"])
    fleet.util("delete-zone", "doomed.example")
    fleet.served_by_b("delete-zone", lambda node: node.query(
        "doomed.example", "SOA").rcode() == dns.rcode.REFUSED)


def test_replica_node_never_writes(fleet: Fleet) -> None:
    """Node B ran every check above on a read-only database: no write was tried there
    (PostgreSQL logs any, refused), nothing failed, and it still runs."""
    time.sleep(INTERVAL + 1)                       # one more check with nothing to do
    assert fleet.b.proc is not None and fleet.b.proc.poll() is None, fleet.b.log()
    replica_log = fleet.replica.log()
    for refusal in ("read-only transaction", "cannot execute", "recovery is in progress"):
        assert refusal not in replica_log, replica_log
    trouble = re.findall(r"^.*(?:Traceback|error|unavailable|(?<!\b0 )failed).*$",
                         fleet.b.log(), re.IGNORECASE | re.MULTILINE)
    assert trouble == [], fleet.b.log()
    assert rrs(fleet.b.query(f"www.{ZONE}", "A")) == ["192.0.2.2", "192.0.2.3"]

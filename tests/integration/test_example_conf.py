"""The README's serve command: `fastdns --config-dir=conf` serves the example zones from the
embedded default, an SQLite database it creates on first run from conf/named.conf."""

import shutil
import subprocess
import sys

import requests

from tests._support.servers import CONF, ROOT, Fastdns, free_port
from tests.integration.helpers import rrs


class ExampleConf(Fastdns):
    """fastdns on a copy of conf/ (so the test never writes into the repository), with the
    port and socket-dir given on the command line as an operator would."""

    def __init__(self, workdir) -> None:
        super().__init__(workdir)
        self.confdir = workdir / "conf"
        shutil.rmtree(self.confdir, ignore_errors=True)
        shutil.copytree(CONF, self.confdir, ignore=shutil.ignore_patterns("run"))
        self.web_port = free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fastdns", f"--config-dir={self.confdir}",
                f"--local-port={self.port}", f"--socket-dir={self.rundir}",
                f"--webserver-port={self.web_port}"]


def util(confdir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastdns.cli.util",
                           f"--config-dir={confdir}", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_first_run_creates_the_database_and_later_runs_serve_it(tmp_path):
    server = ExampleConf(tmp_path).start()
    try:
        database = server.confdir / "run" / "fastdns.sqlite3"
        assert database.exists(), server.log()
        assert rrs(server.query("www.example.com", "A")) == ["192.0.2.80"]
        assert server.query("example.net", "SOA").answer
        assert "created gsqlite3 database" in server.log()
        # the status page the example turns on
        page = requests.get(f"http://127.0.0.1:{server.web_port}/metrics", timeout=5)
        assert page.status_code == 200 and "pdns_auth_udp_queries" in page.text
    finally:
        assert server.stop() == 0, server.log()
    # the database is what is served from now on: an edit made with fastdns-util shows
    edit = util(server.confdir, "replace-rrset", "example.com", "www", "A", "3600",
                "192.0.2.81")
    assert edit.returncode == 0, edit.stderr
    again = ExampleConf.__new__(ExampleConf)
    Fastdns.__init__(again, tmp_path / "second")
    again.confdir = server.confdir
    again.web_port = free_port()
    again.start()
    try:
        assert rrs(again.query("www.example.com", "A")) == ["192.0.2.81"]
        assert "created gsqlite3 database" not in again.log()
    finally:
        assert again.stop() == 0, again.log()

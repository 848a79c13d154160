"""The README's serve command: `fastdns --config-dir=conf` serves the example zones from the
embedded default, an SQLite database it creates on first run from conf/named.conf."""

import shutil
import subprocess
import sys

from tests._support.servers import CONF, ROOT, Fastdns
from tests.integration.helpers import rrs


class ExampleConf(Fastdns):
    """fastdns on a copy of conf/ (so the test never writes into the repository), with the
    port and socket-dir given on the command line as an operator would."""

    def __init__(self, workdir) -> None:
        super().__init__(workdir)
        self.confdir = workdir / "conf"
        shutil.rmtree(self.confdir, ignore_errors=True)
        shutil.copytree(CONF, self.confdir, ignore=shutil.ignore_patterns("run"))

    def command(self) -> list[str]:
        return [sys.executable, "-m", "fastdns", f"--config-dir={self.confdir}",
                f"--local-port={self.port}", f"--socket-dir={self.rundir}"]


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
    finally:
        assert server.stop() == 0, server.log()
    # the database is what is served from now on: an edit made with fastdns-util shows
    edit = util(server.confdir, "replace-rrset", "example.com", "www", "A", "3600",
                "192.0.2.81")
    assert edit.returncode == 0, edit.stderr
    again = ExampleConf.__new__(ExampleConf)
    Fastdns.__init__(again, tmp_path / "second")
    again.confdir = server.confdir
    again.start()
    try:
        assert rrs(again.query("www.example.com", "A")) == ["192.0.2.81"]
        assert "created gsqlite3 database" not in again.log()
    finally:
        assert again.stop() == 0, again.log()

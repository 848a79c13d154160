"""fastdns-util hash-password, as pdnsutil's: the secret read from standard input, printed
hashed with scrypt in PowerDNS's format, which the API's credentials accept (and which
pdnsutil's own output is checked against)."""

import re
import shutil
import subprocess
import sys

import pytest

from fastdns.api.credentials import Credential

PDNSUTIL = shutil.which("pdnsutil")
HASHED = re.compile(r"^\$scrypt\$ln=(\d+),p=1,r=8\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$")


def util(tmp_path, *args, stdin="secret\n"):
    return subprocess.run([sys.executable, "-m", "fastdns.cli.util",
                           f"--config-dir={tmp_path}", "hash-password", *args],
                          capture_output=True, text=True, input=stdin, timeout=60)


def test_the_line_read_is_printed_hashed(tmp_path):
    done = util(tmp_path)
    assert done.returncode == 0, done.stderr
    hashed = done.stdout.strip()
    assert HASHED.match(hashed).group(1) == "10"
    assert Credential(hashed).matches("secret")
    assert not Credential(hashed).matches("secret\n")
    assert util(tmp_path).stdout.strip() != hashed        # a new salt each time


def test_work_factor(tmp_path):
    done = util(tmp_path, "4096")
    assert done.returncode == 0, done.stderr
    assert HASHED.match(done.stdout.strip()).group(1) == "12"
    assert Credential(done.stdout.strip()).matches("secret")
    for bad in ("12", "0", "x"):
        done = util(tmp_path, bad)
        assert done.returncode == 1 and done.stdout == "", (bad, done)
        assert "work factor" in done.stderr
    assert util(tmp_path, "1024", "2").returncode != 0


@pytest.mark.skipif(PDNSUTIL is None, reason="pdnsutil is not installed")
def test_pdnsutil_hashes_are_accepted(tmp_path):
    (tmp_path / "pdns.conf").write_text("")
    done = subprocess.run([PDNSUTIL, f"--config-dir={tmp_path}", "hash-password"],
                          input="secret\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Credential(done.stdout.strip()).matches("secret")

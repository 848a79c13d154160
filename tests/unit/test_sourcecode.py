"""Lint and type checks as tests (asyncpg's tests/test__sourcecode.py)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_ruff():
    result = run("ruff", "check", "--no-cache", "fastdns", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy():
    result = run("mypy", "fastdns")
    assert result.returncode == 0, result.stdout + result.stderr

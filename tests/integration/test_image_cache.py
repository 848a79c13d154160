"""The persisted image cache (``zone-cache-dir``), with real server processes on a real
SQLite database in PowerDNS's schema: each test starts fastdns, lets it load every zone and
write the cache, stops it (SIGTERM), changes something and starts it again.

- nothing changed: every zone comes from the cache and answers as before;
- a record changed with raw SQL (no serial bump), a zone added, a zone deleted while the
  server was down: the changed zone answers its new content, never the cached one, the new
  one is served, the deleted one is REFUSED, every other zone comes from the cache; so
  does a TTL changed and a record disabled;
- a bundle with flipped bytes, one truncated, one deleted: a warning, their zones are
  compiled again, and the next start finds a whole cache again;
- a garbage ``index``, a manifest that is not JSON: the cache is not used;
- the same cache directory for another database: the cache is not used;
- ``zone-cache-dir=no``: no cache directory at all;
- a zone asked for (loaded on demand) while a cache with a missing bundle is read: every
  zone still answers right (new bundles never take a cached bundle's number).

One database of N zones is made for the module; each test works on its own copy.
"""

import contextlib
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from fastdns.backends.sqlbase import schema_sql
from tests._support.servers import Fastdns, ServerProcess
from tests.integration.helpers import rrs, wait_until

#: zones in the database (ids 1..N), eight records each
N = 8000
SUFFIX = "cache.example"
NOERROR, NXDOMAIN, REFUSED = dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED
#: zones asked for after each start: the ends, a stride through the middle
SAMPLE = sorted({1, 2, N // 2, N - 1, N, *range(3, N, 97)})
_BUNDLE_HEAD = struct.Struct("=8sII")


def zone(i: int) -> str:
    return f"z{i}.{SUFFIX}"


def address(i: int) -> str:
    return f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"


def zone_rows(i: int) -> list[tuple]:
    """(domain_id, name, type, content, ttl, prio) of zone ``i``: eight rows."""
    z = zone(i)
    return [(i, z, "SOA", f"ns1.{z} hostmaster.{z} {i} 10800 3600 604800 300", 300, 0),
            (i, z, "NS", f"ns1.{z}", 300, 0),
            (i, z, "NS", f"ns2.{z}", 300, 0),
            (i, f"ns1.{z}", "A", "192.0.2.53", 300, 0),
            (i, f"www.{z}", "A", address(i), 300, 0),
            (i, f"www.{z}", "AAAA", "2001:db8::1", 300, 0),
            (i, z, "MX", f"mail.{z}", 300, 10),
            (i, z, "TXT", f'"zone {i}"', 300, 0)]


def insert_zones(conn: sqlite3.Connection, ids: range) -> None:
    conn.executemany("INSERT INTO domains (id, name, type) VALUES (?, ?, 'NATIVE')",
                     ((i, zone(i)) for i in ids))
    conn.executemany(
        "INSERT INTO records (domain_id, name, type, content, ttl, prio, disabled, auth) "
        "VALUES (?, ?, ?, ?, ?, ?, 0, 1)", (row for i in ids for row in zone_rows(i)))


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("imagecache") / "zones.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(schema_sql("sqlite3"))
    with conn:
        insert_zones(conn, range(1, N + 1))
    conn.close()
    return path


@pytest.fixture
def db(database: Path, tmp_path: Path) -> Path:
    """This test's copy of the database."""
    path = tmp_path / "pdns.sqlite3"
    shutil.copyfile(database, path)
    return path


def sql(path: Path, *statements: tuple[str, tuple]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for text, args in statements:
            conn.execute(text, args)
    conn.close()


def cache_dir(path: Path) -> Path:
    return Path(f"{path}.fastdns-cache")


def check_files(cache: Path) -> None:
    """The cache holds its index, its manifest and the bundles the manifest lists, and no
    temporary file. (A damaged bundle whose number no new bundle takes is left on disk
    unlisted: harmless, so not asserted here.)"""
    manifest = json.loads((cache / "manifest.json").read_text())
    names = {p.name for p in cache.iterdir()}
    assert {"index", "manifest.json", *(f"bundle-{n}" for n in manifest["bundles"])} <= names
    assert not [n for n in names if n.endswith(".tmp")], names


# --------------------------------------------------------------------------------------------
# One run of the server


class Run:
    """A fastdns started on ``db`` in a work directory of its own, waited for until every
    zone is loaded and the cache written (when there is one)."""

    def __init__(self, workdir: Path, db: Path, cache: Path | None, **more: str) -> None:
        config = {"launch": "gsqlite3", "gsqlite3-database": str(db), "loglevel": "4",
                  "workers": "2", **more}
        workdir.mkdir(parents=True)
        self.cache = cache
        before = _manifest_id(cache)
        self.server = Fastdns(workdir, config)
        started = time.monotonic()
        self.server.start(timeout=60)
        #: seconds from the start until ``all N zones loaded``
        self.ready = time.monotonic() - started
        found = wait_until(lambda: re.search(
            r"loaded (\d+) zones(?:, (\d+) of them from the image cache)? \(.*\) in "
            r"([\d.]+)s", self.server.log()), 20, 0.05, what="the 'loaded N zones' line")
        self.loaded = int(found.group(1))
        self.from_cache = int(found.group(2) or 0)
        #: the manager's own count of the load's seconds
        self.load_seconds = float(found.group(3))
        if cache is not None and (before is None or self.from_cache < self.loaded):
            # written once every zone is in: a new manifest (renamed into place); a start
            # that compiled nothing need not write it again
            wait_until(lambda: _manifest_id(cache) not in (None, before), 20, 0.05,
                       what=f"a new {cache}/manifest.json\n{self.server.log()}")

    def log(self) -> str:
        return self.server.log()

    def stop(self) -> None:
        assert self.server.stop() == 0, self.log()
        if self.cache is not None:
            check_files(self.cache)

    def __str__(self) -> str:
        return (f"{self.loaded} zones, {self.from_cache} from the cache, ready in "
                f"{self.ready:.2f}s (manager: {self.load_seconds:.2f}s)")


def _manifest_id(cache: Path | None) -> tuple[int, int] | None:
    try:
        st = os.stat(cache / "manifest.json") if cache is not None else None
    except FileNotFoundError:
        return None
    return None if st is None else (st.st_ino, st.st_mtime_ns)


def run(tmp_path: Path, label: str, db: Path, cache: Path | None = None, **more: str) -> Run:
    started = Run(tmp_path / label, db, cache if cache is not None else
                  (None if more.get("zone-cache-dir") == "no" else cache_dir(db)), **more)
    print(f"{label}: {started}")
    return started


# --------------------------------------------------------------------------------------------
# Answers


def ask(server: Fastdns, qname: str) -> tuple[int, list[str]]:
    answer = dns.query.udp(dns.message.make_query(qname, "A"), server.address,
                           port=server.port, timeout=3)
    return answer.rcode(), rrs(answer, "A")


def answers(r: Run, ids, changed: dict[int, str] | None = None,
            gone: frozenset[int] = frozenset()) -> list[tuple]:
    """Ask, for each zone of ``ids``, its www name, a missing name in it and a name under
    no zone; assert each answer is the right one (``changed``: www's new address; ``gone``:
    no zone any more); the answers."""
    changed = changed or {}
    got = []
    for i in ids:
        www = ask(r.server, f"www.{zone(i)}")
        missing = ask(r.server, f"nope.{zone(i)}")
        if i in gone:
            assert (www, missing) == ((REFUSED, []), (REFUSED, [])), (i, www, missing)
        else:
            assert www == (NOERROR, [changed.get(i, address(i))]), (i, www)
            assert missing == (NXDOMAIN, []), (i, missing)
        got.append((i, www, missing))
    assert ask(r.server, f"www.z1.not-{SUFFIX}") == (REFUSED, [])
    got.append(ask(r.server, "x.invalid"))
    return got


def warnings(r: Run) -> list[str]:
    return [line for line in r.log().splitlines() if "image cache" in line
            and "of them from the image cache" not in line]


# --------------------------------------------------------------------------------------------
# 1. Nothing changed


def test_unchanged_restart_serves_every_zone_from_the_cache(db, tmp_path):
    first = run(tmp_path, "first", db)
    assert (first.loaded, first.from_cache) == (N, 0)
    before = answers(first, SAMPLE)
    first.stop()
    cache = cache_dir(db)
    names = sorted(p.name for p in cache.iterdir())
    assert "index" in names and "manifest.json" in names and \
        any(n.startswith("bundle-") for n in names), names
    assert not [n for n in names if n.endswith(".tmp")], names

    second = run(tmp_path, "second", db)
    assert (second.loaded, second.from_cache) == (N, N), second.log()
    assert f"loaded {N} zones, {N} of them from the image cache" in second.log()
    assert not warnings(second), warnings(second)
    assert answers(second, SAMPLE) == before
    second.stop()


# --------------------------------------------------------------------------------------------
# 2. Changes made while the server was down


CHANGED, DELETED, ADDED, TTL, DISABLED = 7, 11, N + 1, 13, 17


def test_changes_while_down_are_served_not_the_cached_images(db, tmp_path):
    first = run(tmp_path, "first", db)
    answers(first, [CHANGED, DELETED])
    first.stop()

    # a record's content, no serial bump
    sql(db, ("UPDATE records SET content = ? WHERE domain_id = ? AND type = 'A' "
             "AND name = ?", ("198.51.100.7", CHANGED, f"www.{zone(CHANGED)}")))
    second = run(tmp_path, "changed", db)
    assert (second.loaded, second.from_cache) == (N, N - 1), second.log()
    new = {CHANGED: "198.51.100.7"}
    answers(second, [CHANGED, *SAMPLE], changed=new)
    second.stop()

    # a zone added, another deleted (the changed one now comes from the rewritten cache)
    conn = sqlite3.connect(db)
    with conn:
        insert_zones(conn, range(ADDED, ADDED + 1))
        conn.execute("DELETE FROM records WHERE domain_id = ?", (DELETED,))
        conn.execute("DELETE FROM domains WHERE id = ?", (DELETED,))
    conn.close()
    third = run(tmp_path, "added-deleted", db)
    assert (third.loaded, third.from_cache) == (N, N - 1), third.log()
    answers(third, [CHANGED, ADDED, DELETED, *SAMPLE], changed=new,
            gone=frozenset({DELETED}))
    assert not warnings(third), warnings(third)
    third.stop()

    # no content changed: a TTL, and the www A record disabled
    sql(db, ("UPDATE records SET ttl = 60 WHERE domain_id = ? AND type = 'A' AND name = ?",
             (TTL, f"www.{zone(TTL)}")),
        ("UPDATE records SET disabled = 1 WHERE domain_id = ? AND type = 'A' AND name = ?",
         (DISABLED, f"www.{zone(DISABLED)}")))
    fourth = run(tmp_path, "ttl-disabled", db)
    assert (fourth.loaded, fourth.from_cache) == (N, N - 2), fourth.log()
    answer = dns.query.udp(dns.message.make_query(f"www.{zone(TTL)}", "A"),
                           fourth.server.address, port=fourth.server.port, timeout=3)
    assert [(r.ttl, rrs(answer)) for r in answer.answer] == [(60, [address(TTL)])], answer
    assert ask(fourth.server, f"www.{zone(DISABLED)}") == (NOERROR, [])   # AAAA only
    answers(fourth, [CHANGED, ADDED, *SAMPLE], changed=new)
    fourth.stop()


# --------------------------------------------------------------------------------------------
# 3. Damaged bundle files


def bundles(cache: Path) -> dict[Path, int]:
    """bundle file -> the number of zone images in it (from its head)."""
    out = {}
    for path in cache.glob("bundle-*"):
        magic, _number, count = _BUNDLE_HEAD.unpack(path.read_bytes()[:_BUNDLE_HEAD.size])
        assert magic == b"FDZBNDL2", path
        out[path] = count
    return out


def test_damaged_bundles_are_compiled_again_and_the_cache_made_whole(db, tmp_path):
    first = run(tmp_path, "first", db)
    first.stop()
    cache = cache_dir(db)
    # how many bundles a load makes depends on its speed (one after a tenth of a second,
    # then slower): each restart with zones added makes one more, of those zones alone
    total = N
    while len(bundles(cache)) < 4:
        conn = sqlite3.connect(db)
        with conn:
            insert_zones(conn, range(total + 1, total + 21))
        conn.close()
        total += 20
        run(tmp_path, f"added-{total}", db).stop()
    found = bundles(cache)
    assert sum(found.values()) == total, found
    # the largest flipped, the two smallest truncated and deleted: one bundle stays whole
    by_size = sorted(found, key=lambda p: p.stat().st_size, reverse=True)
    flipped, truncated, deleted = by_size[0], by_size[-1], by_size[-2]
    data = bytearray(flipped.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    flipped.write_bytes(bytes(data))
    with open(truncated, "r+b") as handle:
        handle.truncate(truncated.stat().st_size // 2)
    deleted.unlink()
    damaged = found[flipped] + found[truncated] + found[deleted]

    second = run(tmp_path, "damaged", db)
    assert (second.loaded, second.from_cache) == (total, total - damaged), second.log()
    assert second.from_cache > 0
    assert f"image cache '{cache}': 3 bundles missing or corrupt; their zones are loaded " \
           "anew" in second.log(), warnings(second)
    answers(second, range(1, total + 1))       # every zone: those of the damaged bundles too
    second.stop()
    assert sum(bundles(cache).values()) == total, bundles(cache)

    third = run(tmp_path, "whole-again", db)
    assert (third.loaded, third.from_cache) == (total, total), third.log()
    assert not warnings(third), warnings(third)
    answers(third, SAMPLE)
    third.stop()


# --------------------------------------------------------------------------------------------
# 4. A garbage index, a manifest that is not JSON


def test_garbage_index_or_manifest_is_not_used(db, tmp_path):
    first = run(tmp_path, "first", db)
    first.stop()
    cache = cache_dir(db)

    index = cache / "index"
    index.write_bytes(os.urandom(index.stat().st_size))
    second = run(tmp_path, "garbage-index", db)
    assert (second.loaded, second.from_cache) == (N, 0), second.log()
    assert re.search(rf"image cache '{re.escape(str(cache))}': index not usable \(.*\); "
                     "not used", second.log()), warnings(second)
    answers(second, SAMPLE)
    second.stop()

    (cache / "manifest.json").write_text('{"format": "fastdns", "identity": ')
    third = run(tmp_path, "bad-manifest", db)
    assert (third.loaded, third.from_cache) == (N, 0), third.log()
    assert re.search(rf"image cache '{re.escape(str(cache))}': unreadable manifest \(.*\); "
                     "not used", third.log()), warnings(third)
    answers(third, SAMPLE)
    third.stop()
    json.loads((cache / "manifest.json").read_text())     # written again, whole


# --------------------------------------------------------------------------------------------
# 5. The same cache directory for another database


def test_cache_of_another_database_is_not_used(db, tmp_path):
    first = run(tmp_path, "first", db)
    first.stop()
    cache = cache_dir(db)

    other = tmp_path / "other" / "pdns.sqlite3"
    other.parent.mkdir()
    shutil.copyfile(db, other)
    sql(other, ("UPDATE records SET content = ? WHERE domain_id = ? AND type = 'A' "
                "AND name = ?", ("198.51.100.9", CHANGED, f"www.{zone(CHANGED)}")))
    second = run(tmp_path, "other-db", other, cache, **{"zone-cache-dir": str(cache)})
    assert (second.loaded, second.from_cache) == (N, 0), second.log()
    assert f"image cache '{cache}': written by another version or for other backends; " \
           "not used" in second.log(), warnings(second)
    answers(second, [CHANGED, *SAMPLE], changed={CHANGED: "198.51.100.9"})
    second.stop()
    assert not cache_dir(other).exists()


# --------------------------------------------------------------------------------------------
# 6. No cache


def test_zone_cache_dir_no_writes_nothing(db, tmp_path):
    before = sorted(p.name for p in db.parent.iterdir())
    first = run(tmp_path, "first", db, **{"zone-cache-dir": "no"})
    answers(first, SAMPLE[:5])
    time.sleep(0.5)                       # a cache would have been written by now
    first.stop()
    assert not cache_dir(db).exists()
    assert not [p for p in tmp_path.rglob("*") if p.name in ("manifest.json", "index")
                or p.name.startswith("bundle-")]
    # (SQLite's own -wal and -shm files come and go with the connections)
    after = sorted(p.name for p in db.parent.iterdir() if p.name != "first"
                   and not p.name.endswith(("-wal", "-shm")))
    assert after == [name for name in before if not name.endswith(("-wal", "-shm"))]


# --------------------------------------------------------------------------------------------
# 7. A zone asked for while a damaged cache is read


def test_zone_demanded_while_a_missing_bundle_is_reloaded(db, tmp_path):
    first = run(tmp_path, "first", db)
    first.stop()
    cache = cache_dir(db)
    found = bundles(cache)
    last = max(found, key=lambda p: int(p.name.split("-")[1]))
    if len(found) < 2:
        pytest.skip(f"one bundle only: {found}")
    last.unlink()               # the last bundle: the new ones are numbered from it on

    workdir = tmp_path / "demand"
    workdir.mkdir()
    server = Fastdns(workdir, {"launch": "gsqlite3", "gsqlite3-database": str(db),
                               "loglevel": "4", "workers": "2"})
    with open(server.logfile, "ab") as out:
        server.proc = subprocess.Popen(server.command(), cwd=server.cwd(), stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ServerProcess.wait_ready(server, 20)          # answering: not the zones yet
        # the scan loads in id order: the last bundle holds the highest ids; ask for them
        # (each a pending zone, loaded on demand) until every zone is in
        i = N
        while not re.search(r"all \d+ zones loaded", server.log()):
            with contextlib.suppress(dns.exception.Timeout):
                dns.query.udp(dns.message.make_query(f"www.{zone(i)}", "A"), server.address,
                              port=server.port, timeout=0.5)
            i = i - 7 if i > 8 else N
        assert "1 bundles missing or corrupt" in server.log(), server.log()
        wrong = [i for i in range(1, N + 1)
                 if ask(server, f"www.{zone(i)}") != (NOERROR, [address(i)])]
        assert not wrong, f"{len(wrong)} zones answer wrongly, first {wrong[:5]}\n" \
                          f"{server.log()}"
    finally:
        server.stop()

"""The layer table of STYLE §2, enforced: imports point down, never up, and never in a cycle.

Python modules are read with ``ast``; Cython modules (.pyx/.pxd) by their import lines.
"""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fastdns"

#: module (or package prefix) -> layer; the longest matching prefix decides
LAYERS = {
    "fastdns.consts": 0, "fastdns._wire": 0, "fastdns._gil": 0, "fastdns._reader": 0,
    "fastdns._names": 0, "fastdns._query": 0, "fastdns._encoder": 0,
    "fastdns._snapshot": 1, "fastdns._pcache": 1, "fastdns._shm": 1, "fastdns._zoneindex": 1,
    "fastdns._sigcache": 1,
    "fastdns._answer": 2, "fastdns._signing": 2, "fastdns._sections": 2,
    "fastdns._zonetable": 2, "fastdns._supply": 2,
    "fastdns._lookup": 2, "fastdns._engine": 2, "fastdns._parking": 2, "fastdns._udp": 2,
    "fastdns.config": 3, "fastdns.zone": 3, "fastdns.dnssec": 3, "fastdns.backends": 3,
    "fastdns.xfr": 3, "fastdns.stats": 3, "fastdns.log": 3,
    "fastdns.api": 4, "fastdns.control": 4,
    "fastdns.server": 5, "fastdns.server.master": 6,
    "fastdns.cli": 7, "fastdns.tools": 7, "fastdns.__main__": 8, "fastdns": 0,
}
#: what the compiled hot path (L0-L2) may import at all
CYTHON_ALLOWED = re.compile(r"^(fastdns\.|cpython|libc|posix)")
#: third-party packages and fastdns modules that must not be in a worker process at all (the
#: master forks the workers: what it has imported, they have too)
WORKER_PROCESS_BANNED = ("dns", "psycopg", "pymysql", "sqlite3", "_sqlite3", "cryptography",
                         "fastdns.backends", "fastdns.zone.loader", "fastdns.zone.records",
                         "fastdns.zone._masterfile", "fastdns.zone._directives",
                         "fastdns.zone._generate", "fastdns.zone._sinks",
                         "fastdns.zone._zonetext", "fastdns.zone._rdata",
                         "fastdns.zone._rdtypes", "fastdns.zone._rdfields",
                         "fastdns.zone._rdspecial", "fastdns.zone._rdsvcb",
                         "fastdns.zone._imagebuild", "fastdns.zone._store",
                         "fastdns.zone._imagetree", "fastdns.zone._autohints",
                         "fastdns.zone._imagetargets", "fastdns.zone._imagewrite",
                         "fastdns.zone.zonedb")
#: what a worker must never import (STYLE §2 bans)
WORKER_BANNED = ("fastdns.backends", "fastdns.api", "fastdns.xfr", "psycopg", "sqlite3",
                 "cryptography", "fastdns.zone.loader", "fastdns.zone.records", "fastdns.config")

_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+c?import|c?import\s+([\w.]+))", re.M)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> int | None:
    best = None
    for prefix, value in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and \
                (best is None or len(prefix) > len(best[0])):
            best = (prefix, value)
    return None if best is None else best[1]


def imports_of(path: Path) -> set[str]:
    text = path.read_text()
    if path.suffix in (".pyx", ".pxd"):
        return {a or b for a, b in _IMPORT_LINE.findall(text)}
    found = set()
    tree = ast.parse(text)
    # imports for the type checker only (``if TYPE_CHECKING:``) are no dependency at run time
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # "from fastdns import _wire" imports fastdns._wire
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}".startswith("fastdns."))
    return found


def sources():
    return sorted(p for p in PACKAGE.rglob("*") if p.suffix in (".py", ".pyx", ".pxd"))


def internal(module: str, known: set[str]) -> str | None:
    """The fastdns module an import refers to (a name imported from a module counts as
    the module)."""
    while module:
        if module in known:
            return module
        module = module.rpartition(".")[0]
    return None


KNOWN = {module_name(p) for p in sources()}
GRAPH = {module_name(p): imports_of(p) for p in sources()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_layers(module):
    own = layer(module)
    assert own is not None, f"{module} is in no layer of STYLE §2: add it to LAYERS"
    for imported in GRAPH[module]:
        target = internal(imported, KNOWN)
        if target is None or target == module or target == "fastdns":
            continue
        assert layer(target) <= own, f"{module} (L{own}) imports {target} (L{layer(target)})"
        assert not target.startswith("fastdns.cli") or module == "fastdns.__main__", \
            f"{module} imports {target}: nothing imports the command line"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if layer(m) <= 2))
def test_hot_path_imports_no_python_package(module):
    for imported in GRAPH[module]:
        if module.endswith(("_wire", "_reader", "_names", "_query", "_encoder", "_snapshot",
                            "_answer", "_sections", "_zonetable", "_supply", "_lookup",
                            "_engine", "_pcache", "_parking", "_udp", "_shm",
                            "_zoneindex", "_sigcache", "_signing")):
            assert CYTHON_ALLOWED.match(imported), f"{module} imports {imported}"
        else:
            assert imported.startswith("fastdns") or imported in ("enum",), \
                f"{module} imports {imported}"


def test_worker_bans():
    for module, imported in GRAPH.items():
        if module == "fastdns.server.worker":
            for name in imported:
                assert not name.startswith(WORKER_BANNED), f"worker imports {name}"


def test_zone_does_not_import_backends():
    """The zone layer defines what a source of zones is (fastdns.zone.source); the backends
    implement it, so the two packages never import each other both ways."""
    for module, imported in GRAPH.items():
        if module.startswith("fastdns.zone"):
            for name in imported:
                assert not name.startswith("fastdns.backends"), f"{module} imports {name}"


def test_no_import_cycles():
    edges = {m: {t for i in GRAPH[m] if (t := internal(i, KNOWN)) and t != m and t != "fastdns"}
             for m in GRAPH}
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [])


_PROCESS_PROBE = """
import sys
from fastdns.config.loader import load_config, parse_command_line
config = load_config(parse_command_line(["--config-dir=" + sys.argv[1]]))
from fastdns.server import kinds
from fastdns.server.master import Master
master = Master(config)
if sys.argv[2] == "worker":
    # what the worker kind's start imports, then a worker built as in a real one
    from fastdns.server import worker
    from fastdns.server.zoneset import ZoneSet
    worker.Worker(master.options, [], ZoneSet())
else:
    from fastdns.backends.registry import make_backends
    from fastdns.server import manager
    make_backends(config)
print(" ".join(sorted(sys.modules)))
"""


def _process_modules(tmp_path, kind: str, launch: str) -> set[str]:
    """The modules a ``kind`` process of a server with ``launch`` has, in a fresh
    interpreter that imports what the master and that child import."""
    import subprocess
    import sys

    (tmp_path / "fastdns.conf").write_text(
        f"launch={launch}\ngsqlite3-database={tmp_path}/z.sqlite3\n"
        f"bind-config={tmp_path}/named.conf\nlocal-address=127.0.0.1\n")
    (tmp_path / "named.conf").write_text("")
    done = subprocess.run([sys.executable, "-c", _PROCESS_PROBE, str(tmp_path), kind],
                          capture_output=True, text=True, cwd=PACKAGE.parent, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


@pytest.mark.parametrize("launch", ["gsqlite3", "bind", "gpgsql"])
def test_a_worker_process_holds_no_banned_module(tmp_path, launch):
    """Transitively, not only the import lines of worker.py: nothing the master or a worker
    imports brings in dnspython, a database driver or the zone compiler."""
    modules = _process_modules(tmp_path, "worker", launch)
    banned = sorted(m for m in modules if m.startswith(WORKER_PROCESS_BANNED)
                    and (m in WORKER_PROCESS_BANNED or "." in m))
    assert not banned, f"a worker holds {banned}"
    assert "fastdns._engine" in modules and "fastdns.server.worker" in modules


def test_a_gsqlite3_manager_imports_no_other_driver(tmp_path):
    modules = _process_modules(tmp_path, "manager", "gsqlite3")
    assert "fastdns.backends.gsqlite3" in modules or "sqlite3" in modules \
        or "fastdns.backends._sqlite3rows" in modules
    assert not {m for m in modules if m.split(".")[0] in ("psycopg", "pymysql", "MySQLdb")}

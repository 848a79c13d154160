"""What the benchmark reads off the machine: the processes of a server and their CPU time
and memory (/proc), the machine's own CPU time and idleness, free ports and installed tools.
"""

import contextlib
import os
import random
import re
import resource
import shutil
import socket
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
BUSY = ("user", "nice", "system", "irq", "softirq", "steal")    # kinds of /proc/stat time


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, by the ppid field of every /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(int(stat[1]), []).append(int(entry))
    tree = [root]
    for pid in tree:
        tree.extend(children.get(pid, ()))
    return tree


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name: [state, ppid, ...]."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def cpu_seconds(root: int) -> float:
    """User + system time of the tree: each live process's own, plus cutime + cstime (the
    children it has reaped), so a worker that exits mid-run is still counted, once."""
    ticks = 0
    for pid in process_tree(root):
        stat = _stat(pid)
        if stat is not None:       # fields 14-17 of stat(5): utime stime cutime cstime
            ticks += sum(int(v) for v in stat[11:15])
    return ticks / CLK_TCK


def memory_mb(root: int) -> dict[str, float]:
    """PSS (shared pages split between their users) and RSS summed over the tree, in MiB."""
    pss = rss = 0
    pids = process_tree(root)
    for pid in pids:
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            pss += int(re.search(r"^Pss:\s+(\d+) kB", text, re.M).group(1))
            rss += int(re.search(r"^Rss:\s+(\d+) kB", text, re.M).group(1))
    return {"pss_mb": pss / 1024, "rss_mb": rss / 1024, "processes": len(pids)}


def system_cpu() -> dict[str, float]:
    """The machine's CPU time (s) by kind, all CPUs: the first line of /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    kinds = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {k: int(v) / CLK_TCK for k, v in zip(kinds, fields, strict=True)}


def wait_quiet(limit: float) -> None:
    """Wait (at most ``limit`` seconds) until the machine has been idle for 3 seconds in a
    row: under 10% of one CPU busy, apart from this process. On a shared machine a build or
    a test suite running beside the benchmark would be measured with it."""
    deadline, quiet, said = time.monotonic() + limit, 0, False
    while quiet < 3 and time.monotonic() < deadline:
        before, own = system_cpu(), own_cpu()
        time.sleep(1)
        after = system_cpu()
        busy = sum(after[k] - before[k] for k in BUSY) - (own_cpu() - own)
        quiet = quiet + 1 if busy < 0.1 else 0
        if not quiet and not said:
            print(f"(waiting up to {limit:.0f}s for other processes to finish)", end=" ",
                  flush=True)
            said = True


def own_cpu() -> float:
    """CPU time (s) of this process (polling and query files), and its finished children
    (dnsperf): to be subtracted from the machine's busy time."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now, below the kernel's range of
    ephemeral ports. dnsperf's TCP connections to the servers run first take their local
    ports from that range and leave them in TIME_WAIT: a server started later on one of
    them could not bind it (NSD cannot)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(1024, max(low, 2048))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def installed(name: str) -> str | None:
    """The path of the program ``name``: on $PATH, or in /usr/sbin (Debian's daemons)."""
    return shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}")
                                  else None)


def tool(name: str) -> str:
    path = installed(name)
    if path is None:
        raise SystemExit(f"bench: {name} is not installed (make deps)")
    return path

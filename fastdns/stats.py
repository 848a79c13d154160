"""Statistics: PowerDNS's metric names over the shared counter rows (``fastdns._shm``).

Every process writes its own row; the master sums them here. Rows are never zeroed when a
worker is replaced, so counters count from the server's start, as PowerDNS's do.
"""

import mmap
import os
import resource
import time

from fastdns._shm import COUNTER_NAMES, GAUGES, REMOTE_SLOTS, ROW_SIZE, SIZE_BUCKET, SharedRows

#: gauges that are averaged over the processes reporting them, not summed
_AVERAGED = frozenset({"latency"})


def allocate(nrows: int) -> SharedRows:
    """Shared rows for ``nrows`` processes, in an anonymous mapping inherited across fork."""
    buffer = mmap.mmap(-1, nrows * ROW_SIZE, flags=mmap.MAP_SHARED,
                       prot=mmap.PROT_READ | mmap.PROT_WRITE)
    return SharedRows(buffer)


def record_usage(rows: SharedRows, slot: int) -> None:
    """Write this process's CPU time and a heartbeat (monotonic milliseconds) into its row."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rows.set(slot, "user-msec", int(usage.ru_utime * 1000))
    rows.set(slot, "sys-msec", int(usage.ru_stime * 1000))
    rows.set(slot, "heartbeat", int(time.monotonic() * 1000))
    rows.set(slot, "pid", os.getpid())


def totals(rows: SharedRows, slots) -> dict[str, int]:
    """The counters of ``slots`` summed (``latency`` averaged over those that answered)."""
    out = dict.fromkeys(COUNTER_NAMES, 0)
    latencies = []
    for slot in slots:
        row = rows.counters(slot)
        for name, value in row.items():
            if name in _AVERAGED:
                if row["packetcache-miss"] or row["udp-answers"] or row["tcp-answers"]:
                    latencies.append(value)
            else:
                out[name] += value
    out["latency"] = sum(latencies) // len(latencies) if latencies else 0
    for name in ("heartbeat", "pid"):
        del out[name]
    return out


def query_types(rows: SharedRows, slots) -> dict[int, int]:
    out: dict[int, int] = {}
    for slot in slots:
        for qtype, count in rows.qtypes(slot).items():
            out[qtype] = out.get(qtype, 0) + count
    return out


def response_sizes(rows: SharedRows, slots) -> dict[int, int]:
    """Answers by size, in SIZE_BUCKET-octet steps (the key is a step's upper bound; the
    control command puts them in PowerDNS's ``respsizes`` buckets)."""
    out: dict[int, int] = {}
    for slot in slots:
        for upper, count in rows.sizes(slot).items():
            out[upper] = out.get(upper, 0) + count
    return dict(sorted(out.items()))


def remotes(rows: SharedRows, slots, top: int = 20) -> list[tuple[str, int]]:
    """The clients seen most in the recent queries of every process, most first."""
    import ipaddress

    counts: dict[bytes, int] = {}
    for slot in slots:
        for raw in rows.remotes(slot):
            counts[raw] = counts.get(raw, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    out = []
    for raw, count in ranked:
        v6 = ipaddress.IPv6Address(raw)
        text = str(v6.ipv4_mapped) if v6.ipv4_mapped else str(v6)
        out.append((text, count))
    return out


#: fastdns's own counters (PowerDNS has none of these): ``show NAME`` answers them
OWN_STATISTICS = ("parked-queries", "parked-timeouts", "packetcache-not-admitted",
                  "signature-cache-misses", "signing-deadline-losses",
                  "signing-requests-dropped")

#: ``show *`` of PowerDNS 4.7.3, in its order
PDNS_STATISTICS = tuple("""
backend-queries corrupt-packets deferred-cache-inserts deferred-cache-lookup
deferred-packetcache-inserts deferred-packetcache-lookup dnsupdate-answers dnsupdate-changes
dnsupdate-queries dnsupdate-refused incoming-notifications noerror-packets nxdomain-packets
overload-drops packetcache-hit packetcache-miss packetcache-size query-cache-hit
query-cache-miss query-cache-size rd-queries recursing-answers recursing-questions
recursion-unanswered security-status servfail-packets signatures tcp-answers
tcp-answers-bytes tcp-cookie-queries tcp-queries tcp4-answers tcp4-answers-bytes tcp4-queries
tcp6-answers tcp6-answers-bytes tcp6-queries timedout-packets udp-answers udp-answers-bytes
udp-cookie-queries udp-do-queries udp-queries udp4-answers udp4-answers-bytes udp4-queries
udp6-answers udp6-answers-bytes udp6-queries unauth-packets zone-cache-hit zone-cache-miss
zone-cache-size backend-latency cache-latency cpu-iowait cpu-steal fd-usage key-cache-size
latency meta-cache-size open-tcp-connections qsize-q real-memory-usage receive-latency
ring-logmessages-capacity ring-logmessages-size ring-noerror-queries-capacity
ring-noerror-queries-size ring-nxdomain-queries-capacity ring-nxdomain-queries-size
ring-queries-capacity ring-queries-size ring-remotes-capacity ring-remotes-corrupt-capacity
ring-remotes-corrupt-size ring-remotes-size ring-remotes-unauth-capacity
ring-remotes-unauth-size ring-servfail-queries-capacity ring-servfail-queries-size
ring-unauth-queries-capacity ring-unauth-queries-size send-latency signature-cache-size
sys-msec udp-in-csum-errors udp-in-errors udp-noport-errors udp-recvbuf-errors
udp-sndbuf-errors udp6-in-csum-errors udp6-in-errors udp6-noport-errors udp6-recvbuf-errors
udp6-sndbuf-errors uptime user-msec xfr-queue
""".split())


def _snmp(path: str, proto: str) -> dict[str, int]:
    """The kernel's UDP counters (/proc/net/snmp, snmp6), as PowerDNS reports them."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    if path.endswith("snmp6"):
        for line in lines:
            key, _, value = line.partition(" ")
            if key.startswith(proto):
                out[key[len(proto):]] = int(value.strip() or 0)
        return out
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head.startswith(proto + ":"):
            out.update(zip(head.split()[1:], map(int, values.split()[1:]), strict=False))
    return out


def _memory(pids) -> int:
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
    return total


def _cpu(field: int) -> int:
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[field]) * 10     # ticks of 10 ms -> ms
    except (OSError, ValueError, IndexError):
        return 0


def pdns_statistics(rows: SharedRows, slots, uptime: float, workers) -> dict[str, int]:
    """Every metric ``show *`` lists, by PowerDNS's name and in its order: what fastdns
    counts, what the kernel counts, and 0 for what fastdns does not have (no backend
    query cache, no recursion, no DNS UPDATE)."""
    ours = totals(rows, slots)
    rcodes: dict[int, int] = {}
    ring = 0
    pids = []
    for slot in slots:
        for rcode, count in rows.rcodes(slot).items():
            rcodes[rcode] = rcodes.get(rcode, 0) + count
        ring += min(len(rows.remotes(slot)), REMOTE_SLOTS)
        pids.append(rows.get(slot, "pid"))
    udp = _snmp("/proc/net/snmp", "Udp")
    udp6 = _snmp("/proc/net/snmp6", "Udp6")
    try:
        fds = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = 0
    values = {
        **ours,
        "noerror-packets": rcodes.get(0, 0), "nxdomain-packets": rcodes.get(3, 0),
        "unauth-packets": rcodes.get(5, 0), "uptime": int(uptime),
        "real-memory-usage": _memory(pids), "fd-usage": fds,
        "cpu-iowait": _cpu(5), "cpu-steal": _cpu(8),
        "ring-remotes-capacity": REMOTE_SLOTS * max(1, len(list(workers))),
        "ring-remotes-size": ring,
        "udp-in-errors": udp.get("InErrors", 0), "udp-noport-errors": udp.get("NoPorts", 0),
        "udp-recvbuf-errors": udp.get("RcvbufErrors", 0),
        "udp-sndbuf-errors": udp.get("SndbufErrors", 0) + ours["udp-sndbuf-errors"],
        "udp-in-csum-errors": udp.get("InCsumErrors", 0),
        "udp6-in-errors": udp6.get("InErrors", 0), "udp6-noport-errors": udp6.get("NoPorts", 0),
        "udp6-recvbuf-errors": udp6.get("RcvbufErrors", 0),
        "udp6-sndbuf-errors": udp6.get("SndbufErrors", 0),
        "udp6-in-csum-errors": udp6.get("InCsumErrors", 0),
    }
    out = {name: int(values.get(name, 0)) for name in PDNS_STATISTICS}
    # fastdns's own, after PowerDNS's: ``show NAME`` answers them, ``show *`` lists
    # PowerDNS's alone (tools parse that list)
    out.update((name, int(ours.get(name, 0))) for name in OWN_STATISTICS)
    return out


__all__ = [
    "GAUGES",
    "OWN_STATISTICS",
    "PDNS_STATISTICS",
    "SIZE_BUCKET",
    "allocate",
    "pdns_statistics",
    "query_types",
    "record_usage",
    "remotes",
    "response_sizes",
    "totals",
]

"""The statistics in Prometheus's text format (0.0.4), with PowerDNS's names and types.

PowerDNS Authoritative 4.7 serves ``/metrics`` as one family per statistic of ``show *``:
``pdns_auth_`` and the name with ``-`` turned into ``_``, typed ``counter`` or ``gauge`` as
PowerDNS declares the statistic. fastdns serves the same families with the same names and
types (the help texts are its own), then its own statistics, the queries by type and the
answers by size as ``fastdns_*`` families: PowerDNS has none of these, and a name of its own
keeps them from ever meaning something else than a PowerDNS dashboard expects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from fastdns.stats import PDNS_STATISTICS

#: Content-Type of the text format
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

COUNTER = "counter"
GAUGE = "gauge"

#: what each statistic counts, in fastdns's words; the same text is the page's description
DESCRIPTIONS: dict[str, str] = {
    "backend-queries": "Lookups sent to a backend to answer a query (none: zones are served "
                       "from their compiled images)",
    "corrupt-packets": "Queries that could not be parsed",
    "deferred-cache-inserts": "Query cache inserts put off while the cache was busy",
    "deferred-cache-lookup": "Query cache lookups put off while the cache was busy",
    "deferred-packetcache-inserts": "Packet cache inserts put off while the cache was busy",
    "deferred-packetcache-lookup": "Packet cache lookups put off while the cache was busy",
    "dnsupdate-answers": "DNS UPDATE messages answered with success",
    "dnsupdate-changes": "Records changed by DNS UPDATE messages",
    "dnsupdate-queries": "DNS UPDATE messages received",
    "dnsupdate-refused": "DNS UPDATE messages refused",
    "incoming-notifications": "NOTIFY messages received",
    "noerror-packets": "Answers sent with rcode NOERROR",
    "nxdomain-packets": "Answers sent with rcode NXDOMAIN",
    "overload-drops": "Queries dropped because the server was overloaded",
    "packetcache-hit": "Queries answered from the packet cache",
    "packetcache-miss": "Queries the packet cache had no answer for",
    "packetcache-size": "Answers held in the packet caches now",
    "query-cache-hit": "Backend lookups answered by the query cache",
    "query-cache-miss": "Backend lookups the query cache could not answer",
    "query-cache-size": "Entries in the query cache now",
    "rd-queries": "Queries with the recursion desired (RD) flag set",
    "recursing-answers": "Answers relayed from a recursor",
    "recursing-questions": "Queries passed on to a recursor",
    "recursion-unanswered": "Queries passed on to a recursor that got no answer",
    "security-status": "Result of the security status poll (0 when not polled)",
    "servfail-packets": "Answers sent with rcode SERVFAIL",
    "signatures": "RRSIGs computed",
    "tcp-answers": "Answers sent over TCP",
    "tcp-answers-bytes": "Octets of the answers sent over TCP",
    "tcp-cookie-queries": "TCP queries carrying an EDNS COOKIE option",
    "tcp-queries": "Queries received over TCP",
    "tcp4-answers": "Answers sent over TCP on IPv4",
    "tcp4-answers-bytes": "Octets of the answers sent over TCP on IPv4",
    "tcp4-queries": "Queries received over TCP on IPv4",
    "tcp6-answers": "Answers sent over TCP on IPv6",
    "tcp6-answers-bytes": "Octets of the answers sent over TCP on IPv6",
    "tcp6-queries": "Queries received over TCP on IPv6",
    "timedout-packets": "Queries dropped because they waited too long to be answered",
    "udp-answers": "Answers sent over UDP",
    "udp-answers-bytes": "Octets of the answers sent over UDP",
    "udp-cookie-queries": "UDP queries carrying an EDNS COOKIE option",
    "udp-do-queries": "UDP queries with the DNSSEC OK (DO) bit set",
    "udp-queries": "Queries received over UDP",
    "udp4-answers": "Answers sent over UDP on IPv4",
    "udp4-answers-bytes": "Octets of the answers sent over UDP on IPv4",
    "udp4-queries": "Queries received over UDP on IPv4",
    "udp6-answers": "Answers sent over UDP on IPv6",
    "udp6-answers-bytes": "Octets of the answers sent over UDP on IPv6",
    "udp6-queries": "Queries received over UDP on IPv6",
    "unauth-packets": "Answers sent with rcode REFUSED for a zone not served here",
    "zone-cache-hit": "Zone lookups found in the zone cache",
    "zone-cache-miss": "Zone lookups not found in the zone cache",
    "zone-cache-size": "Zones in the zone cache now",
    "backend-latency": "Mean microseconds spent in backend lookups",
    "cache-latency": "Mean microseconds spent in packet cache lookups",
    "cpu-iowait": "CPU time the whole host spent waiting for I/O, in milliseconds",
    "cpu-steal": "CPU time the hypervisor gave to other guests, in milliseconds",
    "fd-usage": "File descriptors open in the process serving the statistics",
    "key-cache-size": "Entries in the DNSSEC key cache now",
    "latency": "Mean microseconds from receiving a query to sending its answer",
    "meta-cache-size": "Entries in the zone metadata cache now",
    "open-tcp-connections": "TCP connections open now",
    "qsize-q": "Queries waiting for a backend now",
    "real-memory-usage": "Resident memory of the answering processes, in octets",
    "receive-latency": "Mean microseconds spent receiving a query",
    "send-latency": "Mean microseconds spent sending an answer",
    "signature-cache-size": "Signatures held in the shared signature cache now",
    "sys-msec": "CPU time spent in the kernel by every fastdns process, in milliseconds",
    "udp-in-csum-errors": "UDPv4 datagrams with a bad checksum (host-wide kernel counter)",
    "udp-in-errors": "UDPv4 datagrams the kernel could not deliver (host-wide kernel counter)",
    "udp-noport-errors": "UDPv4 datagrams to a port nobody listens on (host-wide kernel counter)",
    "udp-recvbuf-errors": "UDPv4 datagrams dropped for a full receive buffer (host-wide kernel "
                          "counter)",
    "udp-sndbuf-errors": "UDPv4 datagrams dropped for a full send buffer (host-wide kernel "
                         "counter, plus fastdns's failed sends)",
    "udp6-in-csum-errors": "UDPv6 datagrams with a bad checksum (host-wide kernel counter)",
    "udp6-in-errors": "UDPv6 datagrams the kernel could not deliver (host-wide kernel counter)",
    "udp6-noport-errors": "UDPv6 datagrams to a port nobody listens on (host-wide kernel "
                          "counter)",
    "udp6-recvbuf-errors": "UDPv6 datagrams dropped for a full receive buffer (host-wide "
                           "kernel counter)",
    "udp6-sndbuf-errors": "UDPv6 datagrams dropped for a full send buffer (host-wide kernel "
                          "counter)",
    "uptime": "Seconds since the server started",
    "user-msec": "CPU time spent in user space by every fastdns process, in milliseconds",
    "xfr-queue": "Zone transfers waiting to start",
    # fastdns's own
    "parked-queries": "Queries that waited for a signature, a zone being loaded or the ALIAS "
                      "resolver",
    "parked-timeouts": "Waiting queries answered SERVFAIL after the 2 s deadline",
    "packetcache-not-admitted": "Answers not cached because their question was new (the "
                                "cache admits a question on its second sighting)",
    "signature-cache-misses": "Signatures a worker asked a signer for because the cache "
                              "lacked them",
    "signing-deadline-losses": "Signing requests a signer received after their deadline",
    "signing-requests-dropped": "Signing requests dropped because every signer's queue was "
                                "full",
}

_RINGS = ("logmessages", "noerror-queries", "nxdomain-queries", "queries", "remotes",
          "remotes-corrupt", "remotes-unauth", "servfail-queries", "unauth-queries")
for _ring in _RINGS:
    DESCRIPTIONS[f"ring-{_ring}-capacity"] = f"Entries the {_ring} ring can hold"
    DESCRIPTIONS[f"ring-{_ring}-size"] = f"Entries in the {_ring} ring now"

#: the statistics PowerDNS 4.7 declares as gauges (a level, not a running count); every
#: other one is a counter there, ``uptime``, ``cpu-iowait`` and ``cpu-steal`` included
PDNS_GAUGES = frozenset({
    "backend-latency", "cache-latency", "fd-usage", "key-cache-size", "latency",
    "meta-cache-size", "open-tcp-connections", "packetcache-size", "qsize-q",
    "query-cache-size", "real-memory-usage", "receive-latency", "security-status",
    "send-latency", "signature-cache-size", "xfr-queue", "zone-cache-size",
    *(name for name in PDNS_STATISTICS if name.startswith("ring-")),
})

#: a signer's own load (``signer-0-signatures``): one family, the signer as a label
_SIGNER = re.compile(r"signer-(\d+)-(.+)")
_PDNS_NAMES = frozenset(PDNS_STATISTICS)
_SIGNER_DESCRIPTIONS = {"signatures": "RRSIGs computed by each signer process",
                        "cpu-msec": "CPU time used by each signer process, in milliseconds"}


def metric_type(name: str) -> str:
    """``counter`` or ``gauge``: PowerDNS's type for its statistics, and for fastdns's own
    what they are (all of them count)."""
    return GAUGE if name in PDNS_GAUGES else COUNTER


def description(name: str) -> str:
    """What the statistic ``name`` is, for HELP lines and the status page."""
    found = DESCRIPTIONS.get(name)
    if found is not None:
        return found
    match = _SIGNER.fullmatch(name)
    if match:
        return _SIGNER_DESCRIPTIONS.get(match[2], f"{match[2]} of each signer process")
    return name


def metric_name(name: str) -> str:
    """The family name of statistic ``name``: PowerDNS's for its own statistics, ``fastdns_``
    for the others."""
    prefix = "pdns_auth_" if name in _PDNS_NAMES else "fastdns_"
    return prefix + name.replace("-", "_")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(out: list[str], name: str, kind: str, text: str,
            samples: Iterable[tuple[str, int | float]]) -> None:
    out.append(f"# HELP {name} {_help(text)}\n")
    out.append(f"# TYPE {name} {kind}\n")
    out.extend(f"{name}{labels} {value}\n" for labels, value in samples)


def render(statistics: Mapping[str, int], query_types: Mapping[str, int] | None = None,
           response_sizes: Mapping[int, int] | None = None, version: str | None = None) -> str:
    """The exposition text: every statistic of ``statistics`` (PowerDNS's first, in its
    order), then the signers' load, the queries by type name (``query_types``) and the answers
    by size bucket (``response_sizes``: a bucket's upper bound in octets → answers)."""
    out: list[str] = []
    signers: dict[str, list[tuple[str, int]]] = {}
    for name, value in statistics.items():
        match = _SIGNER.fullmatch(name)
        if match:
            signers.setdefault(match[2], []).append((f'{{signer="{match[1]}"}}', value))
            continue
        _family(out, metric_name(name), metric_type(name), description(name), [("", value)])
    for what, samples in signers.items():
        _family(out, "fastdns_signer_" + what.replace("-", "_"), COUNTER,
                _SIGNER_DESCRIPTIONS.get(what, f"{what} of each signer process"), samples)
    if query_types is not None:
        _family(out, "fastdns_queries_by_type", COUNTER,
                "Queries received, by query type (the types seen so far)",
                [(f'{{qtype="{_label(qtype)}"}}', count)
                 for qtype, count in query_types.items()])
    if response_sizes is not None:
        _family(out, "fastdns_answers_by_size", COUNTER,
                "Answers sent, by size: the label is the upper bound in octets of PowerDNS's "
                "response-size bucket (the buckets seen so far)",
                [(f'{{upto="{upper}"}}', count) for upper, count in response_sizes.items()])
    if version is not None:
        _family(out, "fastdns_info", GAUGE, "The fastdns version serving (always 1)",
                [(f'{{version="{_label(version)}"}}', 1)])
    return "".join(out)


__all__ = ["CONTENT_TYPE", "DESCRIPTIONS", "PDNS_GAUGES", "description", "metric_name",
           "metric_type", "render"]

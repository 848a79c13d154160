"""What a worker acts on, taken from the configuration once by the master (a worker never
reads the configuration): :class:`WorkerOptions`, and the settings among them that a
running worker takes on HUP or ``set`` (:data:`RELOADABLE`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastdns import __version__
from fastdns._engine import Engine
from fastdns._pcache import PacketCache

if TYPE_CHECKING:
    from fastdns.config.loader import Config

#: setting -> the WorkerOptions field a running worker changes when it changes
RELOADABLE = {"cache-ttl": "cache_ttl", "negquery-cache-ttl": "negquery_cache_ttl",
              "max-packet-cache-entries": "max_packet_cache_entries"}


@dataclass(frozen=True, slots=True)
class TcpLimits:
    max_connections: int = 20
    idle_timeout: float = 5.0
    max_duration: float = 0.0          # 0: no limit
    max_transactions: int = 0          # 0: no limit
    max_per_client: int = 0            # 0: no limit


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What a worker needs from the configuration (it never reads the configuration)."""

    udp_truncation_threshold: int = 1232
    version: str | None = None
    server_id: str | None = None
    dname_processing: bool = True
    any_to_tcp: bool = True
    cache_ttl: int = 20
    negquery_cache_ttl: int = 60
    max_packet_cache_entries: int = 1000000
    tcp: TcpLimits = field(default_factory=TcpLimits)
    user: str = ""                     # setuid
    group: str = ""                    # setgid
    #: expand-alias with a resolver: where ALIAS targets are looked up (None: not expanded)
    resolver: tuple[str, int] | None = None
    #: zone transfers, NOTIFY and TSIG-signed queries go to the manager (a server always;
    #: False: the engine answers them as a server without transfers would, NOTAUTH)
    handoff: bool = True

    def engine(self, snapshots=(), broken=()) -> Engine:
        return Engine(snapshots, broken=broken,
                      udp_truncation_threshold=self.udp_truncation_threshold,
                      version=self.version, server_id=self.server_id,
                      dname_processing=self.dname_processing, any_to_tcp=self.any_to_tcp,
                      expand_alias=self.resolver is not None)

    def cache(self) -> PacketCache | None:
        if self.cache_ttl <= 0 or self.max_packet_cache_entries <= 0:
            return None
        return PacketCache(self.max_packet_cache_entries, self.cache_ttl,
                           self.negquery_cache_ttl)


def version_text(setting: str) -> str | None:
    """The version.bind answer for ``version-string`` (None: SERVFAIL, as 'anonymous')."""
    if setting == "anonymous":
        return None
    if setting in ("full", ""):
        return f"fastdns {__version__}"
    if setting == "powerdns":
        return "Served by fastdns"
    return setting


def worker_options(config: Config, workers: int = 1) -> WorkerOptions:
    """The settings a worker acts on. ``max-packet-cache-entries`` bounds the caches of all
    ``workers`` together, as it bounds PowerDNS's one cache: each worker gets its share."""
    server_id = None if config.server_id == "disabled" else config.server_id
    limits = TcpLimits(max_connections=config.max_tcp_connections,
                       idle_timeout=float(config.tcp_idle_timeout),
                       max_duration=float(config.max_tcp_connection_duration),
                       max_transactions=config.max_tcp_transactions_per_conn,
                       max_per_client=config.max_tcp_connections_per_client)
    return WorkerOptions(
        udp_truncation_threshold=config.udp_truncation_threshold,
        version=version_text(config.version_string), server_id=server_id,
        dname_processing=config.dname_processing, any_to_tcp=config.any_to_tcp,
        cache_ttl=config.cache_ttl, negquery_cache_ttl=config.negquery_cache_ttl,
        max_packet_cache_entries=-(-config.max_packet_cache_entries // max(1, workers)),
        tcp=limits,
        user=config.setuid, group=config.setgid,
        resolver=alias_resolver(config))


def alias_resolver(config: Config) -> tuple[str, int] | None:
    """Where ALIAS targets are looked up: ``resolver`` when ``expand-alias`` is on (as
    PowerDNS, expand-alias without a resolver expands nothing); raises ValueError for a
    resolver that is no address."""
    from fastdns.config.settings import parse_address

    text = config.resolver.strip()
    if not config.expand_alias or text in ("", "no"):
        return None
    try:
        address = parse_address(text.split(",")[0].split()[0])
    except ValueError as exc:
        raise ValueError(f"bad value for 'resolver': {exc}") from None
    return address.host, address.port or 53

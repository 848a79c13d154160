"""The settings table: every setting fastdns knows, in PowerDNS spelling.

This module is the one place where settings are declared (STYLE §4: dashes become underscores
here and nowhere else).  It holds:

- :data:`SETTINGS`, the general settings fastdns declares, plus the settings of every backend
  registered with :func:`declare_backend_settings`, under their unnamed-instance names
  (``bind-config``).  A row with ``implemented=False`` is declared but the server does not act
  on it yet: the loader accepts it and warns.  Flip the flag when the feature lands.
- :data:`ALIASES`, the old PowerDNS names that map to one canonical setting.
- :data:`PDNS_SETTINGS`, every setting name PowerDNS Authoritative 4.7.3 knows (general ones and
  those of the bind, gsqlite3, gpgsql and gmysql backends), so that a PowerDNS setting fastdns
  does not implement is a warning, not an error.
- the value parsers for each :class:`Kind`.

Backend settings are declared per backend with suffix names (``config`` for ``bind-config``);
``launch=gpgsql:second`` makes ``gpgsql-second-<suffix>`` valid too (see :class:`BackendInstance`).
"""

from __future__ import annotations

import enum
import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

__all__ = [
    "ALIASES",
    "BACKEND_SETTINGS",
    "NOT_IMPLEMENTED",
    "PDNS_BACKENDS",
    "PDNS_BACKEND_SUFFIXES",
    "PDNS_SETTINGS",
    "SETTINGS",
    "BackendInstance",
    "Kind",
    "Netmask",
    "Setting",
    "SocketAddress",
    "Value",
    "attr_name",
    "declare_backend_settings",
    "match_netmasks",
    "parse_address",
    "parse_value",
    "resolve_path",
    "setting_name",
]


class Kind(enum.Enum):
    """How the text of a setting is turned into a value."""

    #: yes/no (also on/off, true/false, 1/0); an empty value means yes, as in PowerDNS.
    BOOL = "bool"
    #: a decimal whole number within ``Setting.minimum``/``maximum``; empty means the default.
    INT = "int"
    #: free text, kept as written.
    STR = "str"
    #: items separated by commas and/or whitespace.
    LIST = "list"
    #: IPv4/IPv6 addresses, each with an optional port: ``192.0.2.1:5300``, ``[2001:db8::1]:53``.
    ADDRESSES = "addresses"
    #: addresses or networks, ``!`` in front excludes: ``127.0.0.0/8, ::1, !10.0.0.0/8``.
    NETMASKS = "netmasks"
    #: a file or directory; relative paths resolve against the directory of the file that set
    #: them (the current directory on the command line).  PowerDNS uses its cwd instead.
    PATH = "path"


#: Kinds that accept ``key+=value``.
LIST_KINDS = frozenset({Kind.LIST, Kind.ADDRESSES, Kind.NETMASKS})


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table."""

    name: str
    kind: Kind
    default: str
    help: str
    reloadable: bool = False
    #: False: declared (accepted, shown by ``--config``) but not acted on yet; the loader warns.
    implemented: bool = True
    minimum: int | None = None
    maximum: int | None = None
    #: STR settings: the words allowed (empty: any text)
    choices: tuple[str, ...] = ()


class SocketAddress(NamedTuple):
    """An IP address (normalised text) and an optional port."""

    host: str
    port: int | None

    def __str__(self) -> str:
        if self.port is None:
            return self.host
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


class Netmask(NamedTuple):
    """One entry of a netmask list; a negated entry excludes its network."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    negated: bool

    def __str__(self) -> str:
        return ("!" if self.negated else "") + str(self.network)


Value = bool | int | str | None | tuple[str, ...] | tuple[SocketAddress, ...] | tuple[Netmask, ...]

_T = Kind  # short alias for the table below
#: the largest number PowerDNS takes for a setting (a C int); the cache lifetimes are
#: 32-bit in the workers
_INT_MAX = 2**31 - 1


def _hostname() -> str:
    return socket.gethostname()


def _socket_dir() -> str:
    # systemd's RuntimeDirectory= exports RUNTIME_DIRECTORY; PowerDNS honours it the same way.
    return os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or "/var/run/pdns"


# fmt: off
_GENERAL: tuple[Setting, ...] = (
    # -- where the configuration comes from ------------------------------------------------
    Setting("config-dir", _T.PATH, "/etc/fastdns",
            "directory of fastdns.conf or pdns.conf (/etc/powerdns when /etc/fastdns is absent)"),
    Setting("config-name", _T.STR, "",
            "name of a virtual configuration: reads fastdns-NAME.conf or pdns-NAME.conf"),
    Setting("include-dir", _T.PATH, "",
            "directory whose *.conf files are read, in name order, after the main file"),
    Setting("ignore-unknown-settings", _T.LIST, "",
            "setting names that are skipped with a warning instead of stopping start-up"),
    Setting("launch", _T.LIST, "bind",
            "backends to start, in the order zones are looked up; NAME:INSTANCE for more than one"),
    # -- listening --------------------------------------------------------------------------
    Setting("local-address", _T.ADDRESSES, "0.0.0.0, ::",
            "addresses to answer queries on, each with an optional port"),
    Setting("local-port", _T.INT, "53", "port to answer queries on (UDP and TCP)",
            minimum=1, maximum=65535),
    Setting("udp-truncation-threshold", _T.INT, "1232",
            "largest UDP answer sent, whatever the client's EDNS buffer size says",
            minimum=512, maximum=65535),
    Setting("max-tcp-connections", _T.INT, "20",
            "open TCP connections allowed per worker", minimum=1),
    Setting("tcp-idle-timeout", _T.INT, "5",
            "seconds a TCP connection may sit idle before it is closed", minimum=0),
    Setting("max-tcp-connection-duration", _T.INT, "0",
            "seconds a TCP connection may stay open in all (0: no limit)", minimum=0),
    Setting("max-tcp-transactions-per-conn", _T.INT, "0",
            "queries answered on one TCP connection before it is closed (0: no limit)", minimum=0),
    Setting("max-tcp-connections-per-client", _T.INT, "0",
            "open TCP connections allowed from one client address (0: no limit)", minimum=0),
    # -- answers ----------------------------------------------------------------------------
    Setting("version-string", _T.STR, "full",
            "answer to version.bind queries: full, anonymous, powerdns, or the literal text"),
    Setting("server-id", _T.STR, _hostname(),
            "answer to id.server queries and NSID; 'disabled' turns both off"),
    Setting("dname-processing", _T.BOOL, "yes",
            "follow DNAME records when answering (PowerDNS defaults to no)"),
    # -- process ----------------------------------------------------------------------------
    Setting("socket-dir", _T.PATH, _socket_dir(), "directory of the control socket and pid file"),
    Setting("loglevel", _T.INT, "4", "how much to log, 0 (errors only) to 9 (debug)",
            reloadable=True, minimum=0, maximum=9),
    Setting("log-timestamp", _T.BOOL, "yes", "start every log line with the time"),
    Setting("disable-syslog", _T.BOOL, "no", "log to standard error only, never to syslog"),
    Setting("daemon", _T.BOOL, "no", "detach from the terminal and run in the background"),
    Setting("guardian", _T.BOOL, "no",
            "accepted for PowerDNS compatibility; the fastdns master always supervises"),
    Setting("setuid", _T.STR, "", "user (name or number) the children run as after binding"),
    Setting("setgid", _T.STR, "", "group (name or number) the children run as after binding"),
    Setting("workers", _T.INT, "0",
            "worker processes answering queries (0: one per CPU)", minimum=0, maximum=62),
    Setting("heartbeat-timeout", _T.INT, "3",
            "seconds a worker may go without a heartbeat before it is replaced",
            reloadable=True, minimum=1, maximum=3600),
    Setting("zone-cache-dir", _T.STR, "",
            "directory of the persisted zone images a restart serves unchanged zones from "
            "(relative to config-dir; default: beside the first gsqlite3 database, as "
            "<file>.fastdns-cache; no: none)"),
    Setting("zone-check-interval", _T.INT, "60",
            "seconds between checks of the SQL backends for changed zones (0: only on reload)",
            reloadable=True, minimum=0),
    # -- declared, not implemented yet: see NOT_IMPLEMENTED below --------------------------
    Setting("chroot", _T.PATH, "", "not supported: fastdns never changes its root directory"),
    Setting("cache-ttl", _T.INT, "20",
            "seconds an answer stays in the packet cache (0: no packet cache)",
            reloadable=True, minimum=0, maximum=_INT_MAX),
    Setting("negquery-cache-ttl", _T.INT, "60",
            "seconds a negative answer stays cached", reloadable=True, minimum=0,
            maximum=_INT_MAX),
    Setting("query-cache-ttl", _T.INT, "20",
            "seconds a backend lookup result stays cached", reloadable=True, minimum=0,
            maximum=_INT_MAX),
    Setting("max-packet-cache-entries", _T.INT, "1000000",
            "answers kept in the packet caches of all workers together", reloadable=True,
            minimum=0),
    Setting("disable-axfr", _T.BOOL, "no", "refuse every zone transfer request",
            reloadable=True),
    Setting("allow-axfr-ips", _T.NETMASKS, "127.0.0.0/8,::1",
            "clients that may transfer zones (per-zone ALLOW-AXFR-FROM adds to it)",
            reloadable=True),
    Setting("primary", _T.BOOL, "no", "send NOTIFY to secondaries when a zone changes"),
    Setting("secondary", _T.BOOL, "no",
            "refresh secondary zones from their primaries"),
    Setting("autosecondary", _T.BOOL, "no",
            "create secondary zones on NOTIFY from a listed autoprimary"),
    Setting("also-notify", _T.ADDRESSES, "",
            "servers that get a NOTIFY for every zone change, besides the zone's NS",
            reloadable=True),
    Setting("only-notify", _T.NETMASKS, "0.0.0.0/0,::/0",
            "NOTIFY is sent only to addresses in these networks", reloadable=True),
    Setting("outgoing-axfr-expand-alias", _T.BOOL, "no",
            "send the A and AAAA records of an ALIAS's target (from resolver) instead of "
            "the ALIAS record in a zone transfer"),
    Setting("axfr-fetch-timeout", _T.INT, "10",
            "seconds a transfer in may wait for the next message from its primary",
            minimum=1, maximum=3600),
    Setting("xfr-max-received-mbytes", _T.INT, "100",
            "megabytes a transfer in may carry (0: no limit)", minimum=0, maximum=_INT_MAX),
    Setting("xfr-max-received-records", _T.INT, "5000000",
            "records a transfer in may carry (0: no limit)", minimum=0, maximum=_INT_MAX),
    Setting("lua-axfr-script", _T.PATH, "",
            "Lua script whose axfrfilter() may rewrite or drop each record of a zone "
            "transferred in (a zone's LUA-AXFR-SCRIPT metadata overrides it, NONE: none)"),
    Setting("default-soa-content", _T.STR,
            "a.misconfigured.dns.server.invalid hostmaster.@ 0 10800 3600 604800 3600",
            "SOA of zones created without one (@ stands for the zone name)"),
    Setting("default-ttl", _T.INT, "3600", "TTL of records created without one",
            minimum=0, maximum=2**31 - 1),
    Setting("any-to-tcp", _T.BOOL, "yes",
            "answer ANY queries over UDP with an empty truncated reply"),
    Setting("expand-alias", _T.BOOL, "no",
            "answer A and AAAA at an ALIAS name with the target's addresses, from resolver"),
    Setting("resolver", _T.STR, "no",
            "the resolver ALIAS targets are looked up at (address[:port]; no: none)"),
    Setting("max-generate-steps", _T.INT, "0",
            "most lines one $GENERATE of a zone file may make (0: no limit)",
            minimum=0, maximum=_INT_MAX),
    Setting("svc-autohints", _T.BOOL, "no",
            "fill in the ipv4hint=auto and ipv6hint=auto of SVCB and HTTPS records from "
            "their target's addresses (else such hints are left out)"),
    Setting("webserver", _T.BOOL, "no", "serve statistics over HTTP"),
    Setting("webserver-address", _T.STR, "127.0.0.1",
            "address of the HTTP listener (statistics and API)"),
    Setting("webserver-port", _T.INT, "8081", "port of the HTTP listener",
            minimum=1, maximum=65535),
    Setting("webserver-allow-from", _T.NETMASKS, "127.0.0.1,::1",
            "clients allowed to use the HTTP listener"),
    Setting("webserver-password", _T.STR, "", "password for the statistics pages"),
    Setting("webserver-max-bodysize", _T.INT, "2",
            "largest request body the HTTP listener reads, in megabytes", minimum=1,
            maximum=1024),
    Setting("webserver-hash-plaintext-credentials", _T.BOOL, "no",
            "keep webserver-password and api-key in memory hashed (scrypt)"),
    Setting("webserver-loglevel", _T.STR, "normal",
            "HTTP requests logged: none, normal (failed ones) or detailed (every one)",
            choices=("none", "normal", "detailed")),
    Setting("api", _T.BOOL, "no", "serve the PowerDNS-compatible HTTP API"),
    Setting("api-key", _T.STR, "",
            "key that API clients send in X-API-Key (plain, or hashed as PowerDNS hashes "
            "it: $scrypt$ln=...)"),
    Setting("default-api-rectify", _T.BOOL, "yes",
            "rectify a zone after every API change to it (unless its API-RECTIFY says no)"),
    # PowerDNS's empty is "no limit"; fastdns's cache is one shared region made at start,
    # so it has a size: 1,000,000 by default (170 octets each), 1,024 at least
    Setting("max-signature-cache-entries", _T.INT, "",
            "RRSIGs kept in the shared signature cache (empty: 1,000,000)", minimum=0),
    # PowerDNS's default is 3 threads; fastdns's signers are processes, one per CPU by
    # default, so that signing uses every core (DESIGN §2; differences.md)
    Setting("signing-threads", _T.INT, "",
            "signer processes computing RRSIGs (empty: one per CPU, 16 at most)", minimum=1,
            maximum=16),
    Setting("max-nsec3-iterations", _T.INT, "100",
            "highest NSEC3 iteration count a zone may use", minimum=0, maximum=65535),
    Setting("direct-dnskey", _T.BOOL, "no",
            "also serve DNSKEY/CDS/CDNSKEY records stored in the zone itself"),
    Setting("default-ksk-algorithm", _T.STR, "ecdsa256",
            "algorithm of the key-signing key secure-zone creates"),
    Setting("default-ksk-size", _T.INT, "0",
            "bits of the key-signing key (0: the algorithm's usual size)", minimum=0),
    Setting("default-zsk-algorithm", _T.STR, "",
            "algorithm of the zone-signing key secure-zone creates (empty: none)"),
    Setting("default-zsk-size", _T.INT, "0",
            "bits of the zone-signing key (0: the algorithm's usual size)", minimum=0),
    Setting("tcp-control-address", _T.STR, "",
            "address to take control commands on over TCP (empty: Unix socket only)"),
    Setting("tcp-control-port", _T.INT, "53000", "port for control commands over TCP",
            minimum=1, maximum=65535),
    Setting("tcp-control-secret", _T.STR, "", "secret a TCP control client must send"),
    Setting("tcp-control-range", _T.NETMASKS,
            "127.0.0.0/8, 10.0.0.0/8, 192.168.0.0/16, 172.16.0.0/12, ::1/128, fe80::/10",
            "clients allowed to send control commands over TCP"),
)

#: Old PowerDNS names → the canonical setting.  Setting both is allowed; the last one wins.
ALIASES: dict[str, str] = {
    "master": "primary",
    "slave": "secondary",
    "superslave": "autosecondary",
    "receiver-threads": "workers",
}

_BIND: tuple[Setting, ...] = (
    Setting("config", _T.PATH, "", "named.conf listing the zones and their files"),
    Setting("check-interval", _T.INT, "0",
            "seconds between checks of zone files for changes (0: only on reload)",
            reloadable=True, minimum=0),
    Setting("dnssec-db", _T.PATH, "",
            "SQLite file holding keys and metadata of BIND zones (empty: unsigned)"),
    Setting("dnssec-db-journal-mode", _T.STR, "WAL", "SQLite journal mode of dnssec-db"),
    Setting("hybrid", _T.BOOL, "no",
            "keep keys and metadata of BIND zones in another launched backend"),
    Setting("ignore-broken-records", _T.BOOL, "no",
            "leave out a record that cannot be read (or lies outside its zone) with a "
            "warning and serve the rest of the zone, instead of refusing the zone"),
    Setting("supermaster-config", _T.PATH, "",
            "file that autosecondary zone statements are appended to"),
    Setting("supermaster-destdir", _T.PATH, "/etc/powerdns",
            "directory where autosecondary zone files are written"),
    Setting("supermasters", _T.PATH, "",
            "file listing the autoprimaries this server accepts NOTIFY from"),
)
# fmt: on

#: Settings that are declared (accepted, shown by ``--config``) but that the server does not act
#: on yet; the loader warns when one is set.  Delete a name here in the change that makes the
#: server honour it.
NOT_IMPLEMENTED: frozenset[str] = frozenset(
    """
    daemon
    chroot query-cache-ttl
    default-soa-content
    default-ttl
    bind-dnssec-db-journal-mode bind-hybrid
    bind-supermaster-config bind-supermaster-destdir bind-supermasters
    """.split()
)


# --------------------------------------------------------------------------------------------
# What PowerDNS Authoritative 4.7.3 knows.  Derived once from
#   pdns_server --no-config --launch=bind,gsqlite3,gpgsql,gmysql --config=default
# (names only: they are facts of the interface).

_PDNS_GENERAL = """
8bit-dns allow-axfr-ips allow-dnsupdate-from allow-notify-from allow-unsigned-autoprimary
allow-unsigned-notify allow-unsigned-supermaster also-notify any-to-tcp api api-key autosecondary
axfr-fetch-timeout axfr-lower-serial cache-ttl carbon-instance carbon-interval carbon-namespace
carbon-ourname carbon-server chroot config-dir config-name consistent-backends control-console
daemon default-api-rectify default-ksk-algorithm default-ksk-size default-publish-cdnskey
default-publish-cds default-soa-content default-soa-edit default-soa-edit-signed default-ttl
default-zsk-algorithm default-zsk-size direct-dnskey disable-axfr disable-axfr-rectify
disable-syslog distributor-threads dname-processing dnssec-key-cache-ttl dnsupdate
domain-metadata-cache-ttl edns-cookie-secret edns-subnet-processing enable-lua-records
entropy-source expand-alias forward-dnsupdate forward-notify guardian ignore-unknown-settings
include-dir launch load-modules local-address local-address-nonexist-fail local-port
log-dns-details log-dns-queries log-timestamp logging-facility loglevel lua-axfr-script
lua-dnsupdate-policy-script lua-health-checks-expire-delay lua-health-checks-interval
lua-prequery-script lua-records-exec-limit master max-cache-entries max-ent-entries
max-generate-steps max-include-depth max-nsec3-iterations max-packet-cache-entries
max-queue-length max-signature-cache-entries max-tcp-connection-duration max-tcp-connections
max-tcp-connections-per-client max-tcp-transactions-per-conn module-dir negquery-cache-ttl
no-shuffle non-local-bind only-notify outgoing-axfr-expand-alias overload-queue-length
prevent-self-notification primary proxy-protocol-from proxy-protocol-maximum-size query-cache-ttl
query-local-address query-logging queue-limit receiver-threads resolver retrieval-threads reuseport
rng secondary secondary-check-signature-freshness secondary-do-renotify security-poll-suffix
send-signed-notify server-id setgid setuid signing-threads slave slave-cycle-interval
slave-renotify socket-dir superslave svc-autohints tcp-control-address tcp-control-port
tcp-control-range tcp-control-secret tcp-fast-open tcp-idle-timeout traceback-handler
trusted-notification-proxy udp-truncation-threshold upgrade-unknown-types version-string webserver
webserver-address webserver-allow-from webserver-hash-plaintext-credentials webserver-loglevel
webserver-max-bodysize webserver-password webserver-port webserver-print-arguments write-pid
xfr-cycle-interval xfr-max-received-mbytes zone-cache-refresh-interval zone-metadata-cache-ttl
"""

# Suffixes shared by the generic SQL backends (gsqlite3, gpgsql, gmysql): mostly query texts.
_PDNS_GSQL_COMMON = """
activate-domain-key-query add-domain-key-query any-id-query any-query autoprimary-remove
basic-query clear-domain-all-keys-query clear-domain-all-metadata-query
clear-domain-metadata-query deactivate-domain-key-query delete-comment-rrset-query
delete-comments-query delete-domain-query delete-empty-non-terminal-query delete-names-query
delete-rrset-query delete-tsig-key-query delete-zone-query dnssec get-all-domain-metadata-query
get-all-domains-query get-domain-metadata-query get-last-inserted-key-id-query
get-order-after-query get-order-before-query get-order-first-query get-order-last-query
get-tsig-key-query get-tsig-keys-query id-query info-all-master-query info-all-slaves-query
info-consumer-members-query info-producer-members-query info-zone-query insert-comment-query
insert-empty-non-terminal-order-query insert-record-query insert-zone-query list-autoprimaries
list-comments-query list-domain-keys-query list-query list-subzone-query
nullify-ordername-and-update-auth-query nullify-ordername-and-update-auth-type-query
publish-domain-key-query remove-domain-key-query remove-empty-non-terminals-from-zone-query
search-comments-query search-records-query set-domain-metadata-query set-tsig-key-query
supermaster-add supermaster-name-to-ips supermaster-query unpublish-domain-key-query
update-account-query update-catalog-query update-kind-query update-lastcheck-query
update-master-query update-options-query update-ordername-and-auth-query
update-ordername-and-auth-type-query update-serial-query
"""

#: Backend → the suffixes of its settings in PowerDNS 4.7.3 (``gpgsql`` + ``host``).
PDNS_BACKEND_SUFFIXES: dict[str, frozenset[str]] = {
    "bind": frozenset(
        "check-interval config dnssec-db dnssec-db-journal-mode hybrid ignore-broken-records"
        " supermaster-config supermaster-destdir supermasters".split()
    ),
    "gsqlite3": frozenset(
        _PDNS_GSQL_COMMON.split()
        + "database pragma-foreign-keys pragma-journal-mode pragma-synchronous".split()
    ),
    "gpgsql": frozenset(
        _PDNS_GSQL_COMMON.split()
        + "dbname extra-connection-parameters host password port prepared-statements user".split()
    ),
    "gmysql": frozenset(
        _PDNS_GSQL_COMMON.split()
        + (
            "dbname group host innodb-read-committed password port socket ssl thread-cleanup"
            " timeout user"
        ).split()
    ),
}

#: Every backend name PowerDNS 4.7 can launch (the modules it ships).
PDNS_BACKENDS: frozenset[str] = frozenset(
    "bind geoip gmysql godbc gpgsql gsqlite3 ldap lmdb lua2 pipe remote tinydns".split()
)

#: Every setting name PowerDNS 4.7.3 knows, backend ones with their unnamed-instance prefix.
PDNS_SETTINGS: frozenset[str] = frozenset(_PDNS_GENERAL.split()) | frozenset(
    f"{backend}-{suffix}"
    for backend, suffixes in PDNS_BACKEND_SUFFIXES.items()
    for suffix in suffixes
)


# --------------------------------------------------------------------------------------------
# The tables fastdns works from.

#: General settings plus every declared backend setting under its unnamed-instance name.
SETTINGS: dict[str, Setting] = {
    row.name: replace(row, implemented=row.name not in NOT_IMPLEMENTED) for row in _GENERAL
}

#: Backend → its declared settings, keyed by suffix (``config`` for ``bind-config``).
BACKEND_SETTINGS: dict[str, dict[str, Setting]] = {}


def declare_backend_settings(backend: str, rows: Iterable[Setting]) -> None:
    """Declare the settings of a backend; row names are suffixes (``database``).

    Called once per backend at import time of its module (the bind rows are declared below).
    A row with ``implemented=False`` (or whose full name is in :data:`NOT_IMPLEMENTED`) is
    declared but not acted on yet.  The module must be imported before
    :func:`fastdns.config.loader.load_config` runs, or its settings are unknown.  Declaring a
    backend twice replaces its rows.
    """
    if backend not in PDNS_BACKENDS:
        raise ValueError(f"'{backend}' is not a PowerDNS backend name")
    table: dict[str, Setting] = {}
    for row in rows:
        if row.name.startswith(f"{backend}-") or row.name in table:
            raise ValueError(f"bad or repeated suffix '{row.name}' for backend '{backend}'")
        if f"{backend}-{row.name}" in NOT_IMPLEMENTED:
            row = replace(row, implemented=False)
        table[row.name] = row
    for old in BACKEND_SETTINGS.get(backend, {}):
        SETTINGS.pop(f"{backend}-{old}", None)
    BACKEND_SETTINGS[backend] = table
    for suffix, row in table.items():
        full = replace(row, name=f"{backend}-{suffix}")
        SETTINGS[full.name] = full


declare_backend_settings("bind", _BIND)

#: Settings every generic SQL backend has (PowerDNS's ``gsql`` module declares them all).
_GSQL_COMMON: tuple[Setting, ...] = (
    Setting("dnssec", _T.BOOL, "no", "serve DNSSEC keys and metadata from this backend"),
)

_GSQLITE3: tuple[Setting, ...] = (
    Setting("database", _T.PATH, "powerdns.sqlite", "SQLite file with PowerDNS's schema"),
    Setting("pragma-synchronous", _T.STR, "", "SQLite 'synchronous' pragma (empty: SQLite's)"),
    Setting("pragma-foreign-keys", _T.BOOL, "no", "turn on SQLite's foreign key checks"),
    Setting("pragma-journal-mode", _T.STR, "WAL", "SQLite journal mode (empty: SQLite's)"),
    Setting("create-schema", _T.BOOL, "no",
            "create the database file with PowerDNS's schema if it does not exist"),
    Setting("seed-bind-config", _T.PATH, "",
            "named.conf whose zones fill the database file that create-schema creates"),
    *_GSQL_COMMON,
)

_GPGSQL: tuple[Setting, ...] = (
    Setting("host", _T.STR, "", "PostgreSQL server host or socket directory"),
    Setting("port", _T.STR, "", "PostgreSQL server port"),
    Setting("dbname", _T.STR, "", "database name"),
    Setting("user", _T.STR, "", "database user"),
    Setting("password", _T.STR, "", "database password"),
    Setting("extra-connection-parameters", _T.STR, "",
            "more libpq connection parameters (key=value ...)"),
    Setting("prepared-statements", _T.BOOL, "yes", "use prepared statements",
            implemented=False),
    *_GSQL_COMMON,
)

_GMYSQL: tuple[Setting, ...] = (
    Setting("host", _T.STR, "", "MySQL/MariaDB server host (empty: the socket)"),
    Setting("port", _T.INT, "3306", "MySQL/MariaDB server port", minimum=1, maximum=65535),
    Setting("socket", _T.STR, "", "MySQL/MariaDB server socket"),
    Setting("dbname", _T.STR, "powerdns", "database name"),
    Setting("user", _T.STR, "powerdns", "database user"),
    Setting("password", _T.STR, "", "database password"),
    Setting("group", _T.STR, "client", "option-file group to read connection settings from"),
    Setting("timeout", _T.INT, "10", "seconds a read or write may take (0: no limit)",
            minimum=0),
    Setting("innodb-read-committed", _T.BOOL, "yes",
            "read with the READ COMMITTED isolation level"),
    Setting("ssl", _T.BOOL, "no", "connect with TLS", implemented=False),
    Setting("thread-cleanup", _T.BOOL, "no", "accepted for PowerDNS compatibility",
            implemented=False),
    *_GSQL_COMMON,
)

declare_backend_settings("gsqlite3", _GSQLITE3)
declare_backend_settings("gpgsql", _GPGSQL)
declare_backend_settings("gmysql", _GMYSQL)


class BackendInstance(NamedTuple):
    """One entry of ``launch=``: ``gpgsql`` or ``gpgsql:second``."""

    backend: str
    instance: str  # "" for the unnamed instance

    @property
    def prefix(self) -> str:
        """Prefix of this instance's settings: ``gpgsql-`` or ``gpgsql-second-``."""
        if self.instance:
            return f"{self.backend}-{self.instance}-"
        return f"{self.backend}-"

    def __str__(self) -> str:
        return f"{self.backend}:{self.instance}" if self.instance else self.backend

    @classmethod
    def parse(cls, text: str) -> BackendInstance:
        """Parse one launch item; raises ValueError."""
        backend, sep, instance = text.partition(":")
        if backend not in PDNS_BACKENDS:
            raise ValueError(f"unknown backend '{backend}'")
        if sep and not re.fullmatch(r"[a-z0-9][a-z0-9_]*", instance):
            raise ValueError(f"bad instance name in '{text}'")
        return cls(backend, instance)


def attr_name(name: str) -> str:
    """``local-port`` → ``local_port`` (the only place dashes become underscores)."""
    return name.replace("-", "_")


def setting_name(attr: str) -> str:
    """``local_port`` → ``local-port``."""
    return attr.replace("_", "-")


# --------------------------------------------------------------------------------------------
# Value parsing.  Every parser raises ValueError with a message that names the bad part.

_TRUE = frozenset({"", "yes", "on", "true", "1"})
_FALSE = frozenset({"no", "off", "false", "0"})
_SPLIT = re.compile(r"[,\s]+")
_BRACKETED = re.compile(r"\[([^\]]+)\](?::(\d+))?")


def split_list(text: str) -> tuple[str, ...]:
    """Items separated by commas and/or whitespace."""
    return tuple(item for item in _SPLIT.split(text.strip()) if item)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"bad port in '{whole}'")
    return int(text)


def parse_address(text: str) -> SocketAddress:
    """``192.0.2.1``, ``192.0.2.1:53``, ``2001:db8::1``, ``[2001:db8::1]``, ``[::1]:53``."""
    text = text.strip()
    port: int | None = None
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        host = bracketed.group(1)
        if bracketed.group(2) is not None:
            port = _port(bracketed.group(2), text)
        version = 6
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, text)
        version = 4
    else:
        host, version = text, 0
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"'{text}' is not an IP address") from None
    if version and address.version != version:
        raise ValueError(f"'{text}' is not an IP address")
    return SocketAddress(str(address), port)


def parse_netmask(text: str) -> Netmask:
    """``10.0.0.0/8``, ``::1`` (a single host), ``!192.0.2.0/24`` (excluded)."""
    negated = text.startswith("!")
    body = text[1:] if negated else text
    try:
        network = ipaddress.ip_network(body, strict=False)
    except ValueError:
        raise ValueError(f"'{text}' is not an IP address or network") from None
    return Netmask(network, negated)


def match_netmasks(masks: Iterable[Netmask], address: str) -> bool:
    """True if ``address`` is allowed: the most specific matching entry decides."""
    ip = ipaddress.ip_address(address)
    best: Netmask | None = None
    for mask in masks:
        if ip.version == mask.network.version and ip in mask.network:
            if best is None or mask.network.prefixlen > best.network.prefixlen:
                best = mask
            elif mask.network.prefixlen == best.network.prefixlen and mask.negated:
                best = mask
    return best is not None and not best.negated


def resolve_path(text: str, base_dir: str) -> str:
    """A PATH value: empty stays empty, relative resolves against ``base_dir``."""
    text = text.strip()
    if not text:
        return ""
    return os.path.normpath(os.path.join(base_dir, text))


def _parse_int(setting: Setting, text: str) -> int | None:
    text = text.strip()
    if not text:
        text = setting.default
        if not text:
            return None
    if not re.fullmatch(r"\d+", text):
        raise ValueError(f"'{text}' is not a whole number")
    number = int(text)
    if setting.minimum is not None and number < setting.minimum:
        raise ValueError(f"{number} is below the minimum of {setting.minimum}")
    if setting.maximum is not None and number > setting.maximum:
        raise ValueError(f"{number} is above the maximum of {setting.maximum}")
    return number


def parse_value(setting: Setting, text: str) -> Value:
    """Turn the text of ``setting`` into its value; raises ValueError.

    PATH values are taken as already resolved (see :func:`resolve_path`).
    """
    kind = setting.kind
    if kind is Kind.BOOL:
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"'{text.strip()}' is not yes or no")
    if kind is Kind.INT:
        return _parse_int(setting, text)
    if kind is Kind.LIST:
        return split_list(text)
    if kind is Kind.ADDRESSES:
        return tuple(parse_address(item) for item in split_list(text))
    if kind is Kind.NETMASKS:
        return tuple(parse_netmask(item) for item in split_list(text))
    if kind is Kind.PATH:
        return text.strip()
    if setting.choices and text.strip() not in setting.choices:
        raise ValueError(f"'{text.strip()}' is not one of {', '.join(setting.choices)}")
    return text.strip() if setting.choices else text

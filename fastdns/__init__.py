"""fastdns: a high-throughput authoritative DNS server, drop-in for PowerDNS Authoritative."""

__version__ = "0.1.0"

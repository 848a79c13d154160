"""The control socket: PowerDNS's ``pdns_control`` protocol (``protocol``) and its commands
(``commands``), served by the master and spoken by ``fastdns-control``."""

"""PowerDNS's HTTP API v1, the status page and /metrics, served by the manager
(fastdns.server.webservice)."""

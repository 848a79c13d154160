"""Which key store holds a zone's keys and DNSSEC metadata (fastdns.dnssec.keystore): the
SQL backend that has the zone (with ``<backend>-dnssec`` on), or the ``bind-dnssec-db`` of
a BIND zone. Apart from keystore.py so that the backends, which use the stores, are not
imported by it.
"""

from __future__ import annotations

from typing import Any

from fastdns.dnssec.keystore import BindDnssecDB, KeyStore


def keystore_for(ctx_or_config: Any, zone: str) -> KeyStore | None:
    """The key store of ``zone`` (no trailing dot), or None when the zone is in no
    launched backend, in an SQL backend whose ``<backend>-dnssec`` setting is off, or in
    the bind backend without ``bind-dnssec-db``.

    ``ctx_or_config``: a fastdns-util Context (its opened backends are used; the first in
    ``launch=`` order that has the zone wins), or a Config (the backends are opened here,
    and the SQL one returned should be closed by the caller when done)."""
    from fastdns.backends.bind import BindBackend
    from fastdns.backends.gsql import GSQLBackend, open_backend

    config = getattr(ctx_or_config, "config", ctx_or_config)
    finder = getattr(ctx_or_config, "find", None)
    if finder is not None:
        backend = finder(zone)
        if backend is None:
            return None
        if isinstance(backend, GSQLBackend):
            return backend if _dnssec_on(config, backend.name) else None
        if isinstance(backend, BindBackend):
            return _bind_store(config, backend.name)
        return None
    dotted = "." if zone in ("", ".") else zone.rstrip(".") + "."
    for instance in config.instances:
        if instance.backend in ("gsqlite3", "gpgsql", "gmysql"):
            sql = open_backend(config, instance)
            if sql.zone_info(zone) is not None:
                if _dnssec_on(config, str(instance)):
                    return sql
                sql.close()
                return None
            sql.close()
        elif instance.backend == "bind":
            path = config.backend(instance).get("config") or ""
            if path and dotted in {i.name for i in BindBackend(path).list_zones()}:
                return _bind_store(config, str(instance))
    return None


def _dnssec_on(config: Any, name: str) -> bool:
    """The ``<backend>-dnssec`` setting of the SQL backend ``name``: PowerDNS keeps keys
    and DNSSEC metadata only where it is on (and ignores the ones there when it is off)."""
    for instance in config.instances:
        if str(instance) == name:
            return bool(config.backend(instance).get("dnssec"))
    return False


def _bind_store(config: Any, name: str) -> BindDnssecDB | None:
    for instance in config.instances:
        if str(instance) == name:
            path = str(config.backend(instance).get("dnssec-db") or "")
            return BindDnssecDB(path, name=f"{name} dnssec-db") if path else None
    return None


__all__ = ["keystore_for"]

"""fastdns-util's catalog zone command (pdnsutil 4.7's texts and exit codes).

set-catalog ZONE CATALOG: the catalog (``domains.catalog``) of ZONE; an empty CATALOG,
or none, takes ZONE out of its catalog. The catalog need not exist yet (as pdnsutil). A
producer picks the change up at the server's next check of the zones
(fastdns.xfr.catalog), raising its serial.
"""

from __future__ import annotations

from fastdns.tools.utilcore import Context, command, require, zone_arg


@command("set-catalog", "set-catalog ZONE [CATALOG]",
         "Change the catalog of ZONE to CATALOG (an empty CATALOG, or none, removes ZONE "
         "from its catalog)", aliases=("zone set-catalog",))
def set_catalog(ctx: Context, args: list[str]) -> int:
    require(args, 1, 2, "set-catalog ZONE [CATALOG]")
    zone = zone_arg(args[0])
    catalog = zone_arg(args[1]) if len(args) > 1 and args[1] not in ("", ".") else ""
    backend = ctx.sql_zone(zone, "No such zone {zone} in the database")
    with backend._cursor() as cur:
        cur.execute(backend._q("UPDATE domains SET catalog = ? WHERE name = ?"),
                    (catalog, zone))
    backend._wrote()
    return 0

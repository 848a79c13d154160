"""What the HTTP API reads and writes in a generic SQL backend, beyond fastdns.backends.gsql:
the zone list in one query, comments, and a whole zone change in one transaction.

:func:`apply` is the API's only write: a zone created, its ``domains`` columns, its RRsets
and comments replaced (or every record, for a whole-zone PUT), its metadata, and its
rectification all commit together or not at all, so that the server, which loads the zone
after the commit, never serves half of a change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from fastdns.backends.gsqlconn import KINDS
from fastdns.backends.sqlbase import Row, db_name, zone_text
from fastdns.zone.source import BackendError

if TYPE_CHECKING:
    from fastdns.backends.gsql import GSQLBackend


class ListedZone(NamedTuple):
    """One zone as the API's zone list shows it (a tuple: a listing makes 100,000)."""

    id: int
    name: str                   # absolute, as stored (lowercase)
    kind: str                   # fastdns's spelling: native, primary, secondary...
    primaries: list[str]
    account: str
    catalog: str
    notified_serial: int
    last_check: int
    soa: str                    # the apex SOA's content, or ""
    dnssec: bool


@dataclass(slots=True)
class Comment:
    content: str
    account: str
    modified_at: int


@dataclass(slots=True)
class ZoneChange:
    """One API write to one zone, applied in one transaction by :func:`apply`."""

    zone: str                                   # absolute, lowercase
    #: create the zone (``domains`` row) first; the write fails if it exists
    create: bool = False
    kind: str | None = None
    primaries: Sequence[str] | None = None
    account: str | None = None
    catalog: str | None = None
    #: every record and comment of the zone goes before ``rrsets`` are written
    replace_all: bool = False
    #: (owner, TYPE, rows): the RRset becomes ``rows`` (none: it is deleted)
    rrsets: list[tuple[str, str, list[Row]]] = field(default_factory=list)
    #: (owner, TYPE, comments): the RRset's comments become these
    comments: list[tuple[str, str, list[Comment]]] = field(default_factory=list)
    #: metadata kind → values (none: the kind is deleted)
    meta: dict[str, list[str]] = field(default_factory=dict)
    #: rectify after the change: None no, else with (True) or without DNSSEC ordering
    rectify: bool | None = None


def split_primaries(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").replace(";", ",").replace(" ", ",").split(",")
            if p.strip()]


#: a zone's listing row: id, name (absolute, lowercase), kind (fastdns's spelling), primaries,
#: account, catalog, notified_serial, last_check, apex SOA content ("" for none), keyed
ZoneRow = tuple[int, str, str, list[str], str, str, int, int, str, bool]


def listing_rows(backend: GSQLBackend, only: str | None = None, keyed: bool = True
                 ) -> tuple[list[tuple[Any, ...]], dict[tuple[Any, str], str], set[int]]:
    """The ``domains`` rows (id, name, type, master, account, catalog, notified_serial,
    last_check) of every zone of ``backend`` (or of the zone ``only``), the content of each
    one's SOA by (id, name) and the ids of those with keys (without ``keyed``: none looked
    up), in a few queries whatever their number."""
    where, args = ("WHERE name = ?", (db_name(only),)) if only else ("", ())
    with backend._cursor() as cur:
        cur.execute(backend._q(
            "SELECT id, name, type, master, account, catalog, notified_serial, last_check "
            f"FROM domains {where}"), args)
        domains = cur.fetchall()
        if only and not domains:
            return [], {}, set()
        # the SOA rows alone, matched to their zone here: a scan of the SOA rows costs less
        # than an index lookup per zone
        selected = f" AND domain_id = {int(domains[0][0])}" if only else ""
        cur.execute(backend._q("SELECT domain_id, name, content FROM records WHERE type = "
                               f"'SOA' AND disabled = ?{selected}"), (False,))
        soas = {(domain_id, name): content for domain_id, name, content in cur.fetchall()}
        signed: set[int] = set()
        if keyed:
            cur.execute("SELECT DISTINCT domain_id FROM cryptokeys"
                        + selected.replace("AND", "WHERE"))
            signed = {int(domain_id) for (domain_id,) in cur.fetchall()}
            cur.execute(backend._q("SELECT domain_id FROM domainmetadata WHERE kind = ? "
                                   f"AND content = ?{selected}"), ("PRESIGNED", "1"))
            signed.update(int(domain_id) for (domain_id,) in cur.fetchall())
    return list(domains), soas, signed


def list_rows(backend: GSQLBackend, only: str | None = None,
              keyed: bool = True) -> list[ZoneRow]:
    """:func:`listing_rows` as one plain tuple a zone (:data:`ZoneRow`)."""
    domains, soas, signed = listing_rows(backend, only, keyed)
    kinds = KINDS
    return [(domain_id, zone_text(name),
             kinds.get(db_kind.upper(), "native") if db_kind else "native",
             split_primaries(master) if master else [], account or "",
             zone_text(catalog) if catalog else "", notified or 0, checked or 0,
             soas.get((domain_id, name)) or "", domain_id in signed)
            for domain_id, name, db_kind, master, account, catalog, notified, checked
            in domains if name]


def list_zones(backend: GSQLBackend, only: str | None = None) -> list[ListedZone]:
    """:func:`list_rows` as :class:`ListedZone`."""
    return [ListedZone(*row) for row in list_rows(backend, only)]


def zone_comments(backend: GSQLBackend, zone: str) -> dict[tuple[str, str], list[Comment]]:
    """The comments of ``zone`` by (owner as stored, TYPE), oldest first."""
    with backend._cursor() as cur:
        domain_id = backend._domain_id(cur, zone)
        cur.execute(backend._q("SELECT name, type, comment, account, modified_at FROM comments "
                               "WHERE domain_id = ? ORDER BY modified_at, id"), (domain_id,))
        rows = cur.fetchall()
    out: dict[tuple[str, str], list[Comment]] = {}
    for name, rtype, content, account, modified in rows:
        out.setdefault(((name or "").lower(), (rtype or "").upper()), []).append(
            Comment(content or "", account or "", int(modified or 0)))
    return out


def apply(backend: GSQLBackend, change: ZoneChange, dnssec_ok: bool = True) -> None:
    """Write ``change`` in one transaction (BackendError: nothing was written)."""
    from fastdns.backends.gsqlrectify import rectify_in
    from fastdns.backends.gsqlwrite import DB_KINDS

    zone = change.zone
    stored = db_name(zone)
    q = backend._q
    with backend._cursor() as cur:
        if change.create:
            cur.execute(q("SELECT id FROM domains WHERE name = ?"), (stored,))
            if cur.fetchone() is not None:
                raise BackendError(f"Domain '{zone}' already exists")
            cur.execute(q("INSERT INTO domains (name, type, master, account) "
                          "VALUES (?, ?, ?, ?)"),
                        (stored, DB_KINDS[change.kind or "native"],
                         ",".join(change.primaries or ()) or None, change.account or None))
        domain_id = backend._domain_id(cur, zone)
        columns: list[tuple[str, Any]] = []
        if change.kind is not None and not change.create:
            columns.append(("type", DB_KINDS[change.kind]))
        if change.primaries is not None and not change.create:
            columns.append(("master", ",".join(change.primaries) or None))
        if change.account is not None and not change.create:
            columns.append(("account", change.account or None))
        if change.catalog is not None:
            columns.append(("catalog", db_name(change.catalog) if change.catalog else None))
        for column, value in columns:
            cur.execute(q(f"UPDATE domains SET {column} = ? WHERE id = ?"), (value, domain_id))
        if change.replace_all:
            cur.execute(q("DELETE FROM records WHERE domain_id = ?"), (domain_id,))
            cur.execute(q("DELETE FROM comments WHERE domain_id = ?"), (domain_id,))
        for name, rtype, rows in change.rrsets:
            if not change.replace_all:
                cur.execute(q("DELETE FROM records WHERE domain_id = ? AND name = ? "
                              "AND type = ?"), (domain_id, db_name(name), rtype))
            backend._insert(cur, domain_id, rows)
        for name, rtype, comments in change.comments:
            if not change.replace_all:
                cur.execute(q("DELETE FROM comments WHERE domain_id = ? AND name = ? "
                              "AND type = ?"), (domain_id, db_name(name), rtype))
            cur.executemany(
                q("INSERT INTO comments (domain_id, name, type, modified_at, account, comment) "
                  "VALUES (?, ?, ?, ?, ?, ?)"),
                [(domain_id, db_name(name), rtype, c.modified_at, c.account or None, c.content)
                 for c in comments])
        for kind, values in change.meta.items():
            backend._delete_meta(cur, domain_id, kind)
            cur.executemany(q("INSERT INTO domainmetadata (domain_id, kind, content) "
                              "VALUES (?, ?, ?)"), [(domain_id, kind, v) for v in values])
        if change.rectify is not None:
            done = rectify_in(cur, backend, stored, domain_id, change.rectify and dnssec_ok)
            if done.error and "presigned" not in done.error:
                raise BackendError(done.error)
    backend._wrote()


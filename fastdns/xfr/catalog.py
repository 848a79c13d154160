"""Catalog zones (RFC 9432), as PowerDNS 4.7 makes and reads them, over the generic SQL
schema (``domains.catalog``, ``domains.options``; SQL backends only, as in PowerDNS).

- **Producer** (``domains.type`` PRODUCER): its members are the MASTER zones whose
  ``domains.catalog`` names it and that have an SOA. Its image is made here instead of
  from its rows (:func:`producer_rows`, the gsql load path): the apex SOA and NS as
  stored (NS ``invalid.`` when it has none), ``version`` TXT "2", and per member
  ``<unique>.zones`` PTR, ``coo.<unique>.zones`` PTR and ``group.<unique>.zones`` TXT,
  the generated records with TTL 0. The unique id is PowerDNS's: base32hex of the SHA-1
  of the member's wire name salted with its ``domains.id`` (a zone made again gets a new
  one), unless ``options`` names one. Every other record of the zone is not served.
- **Its serial** follows the member list: a hash of the list (PowerDNS's, so that the
  two servers agree on one database) is kept in the ``CATALOG-HASH`` metadata; when the
  list no longer matches it, the SOA serial is raised (to the time, or by one) and the
  hash stored, in the transaction that reads the list (:func:`sync_producer`). The load
  path does this, so that one serial never means two lists; :func:`bump_producers` does
  it after each check of the zones, so that a change of ``domains`` alone (``set-catalog``,
  a zone added) reaches the zone: the bump moves its rows and the zone loads again.
- **Consumer** (``domains.type`` CONSUMER, a secondary): after each transfer stored,
  :func:`consume` makes each member a SLAVE zone of the consumer's primaries with
  ``domains.catalog`` = the consumer (``options``: its unique id, coo and groups), and
  deletes the zones of this catalog that left it (a new unique id for a member: made
  again, RFC 9432 §5.6). A zone that exists outside this catalog is left as it is (one
  line in the log), unless its catalog hands it over with a ``coo`` naming this one
  (§5.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone

from fastdns.backends.sqlbase import db_name, zone_text
from fastdns.log import log
from fastdns.zone.source import BackendError

#: the metadata kind holding a producer's member hash (PowerDNS's)
HASH_KIND = "CATALOG-HASH"
#: catalog versions read as a consumer (PowerDNS: "1", ISC's, and "2", RFC 9432's)
VERSIONS = ("1", "2")
#: an empty name in PowerDNS's hash (DNSName::toLogString of an empty name)
_EMPTY = "(empty)"


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a catalog: its zone (absolute, lowercase), the unique label of its
    node, and its properties."""

    zone: str
    unique: str
    coo: str = ""
    groups: tuple[str, ...] = ()

    def options(self, side: str) -> str:
        """``domains.options`` as PowerDNS writes it (``side``: producer or consumer)."""
        entry: dict[str, Any] = {}
        if self.coo:
            entry["coo"] = self.coo
        entry["unique"] = self.unique
        if self.groups:
            entry["group"] = list(self.groups)
        return json.dumps({side: entry}, separators=(",", ":"))


def unique_id(domain_id: int, zone: str) -> str:
    """PowerDNS's unique label of a member: base32hex(SHA-1(wire name + str(id)))."""
    wire = dns.name.from_text(zone).canonicalize().to_wire() or b""
    digest = hashlib.sha1(wire + str(domain_id).encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


def _options(text: str | None, side: str) -> dict[str, Any]:
    """The ``side`` object of a ``domains.options`` JSON text (empty when none or bad)."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    entry = doc.get(side) if isinstance(doc, dict) else None
    return entry if isinstance(entry, dict) else {}


def _absolute(text: str) -> str:
    text = text.strip().lower()
    return text if text.endswith(".") else text + "."


# -- producer ---------------------------------------------------------------------------------


def producer_members(backend: Any, cur: Any, catalog: str
                     ) -> list[tuple[int, Member, dict[str, Any]]]:
    """(domains.id, Member, its ``options`` producer object) of the members of producer
    ``catalog``, in id order."""
    cur.execute(backend._q(
        "SELECT d.id, d.name, d.options FROM domains d WHERE d.catalog = ? AND "
        "d.type = 'MASTER' AND EXISTS (SELECT 1 FROM records r WHERE r.domain_id = d.id "
        "AND r.name = d.name AND r.type = 'SOA' AND r.disabled = ?) ORDER BY d.id"),
        (db_name(catalog), False))
    out = []
    for domain_id, name, options in cur.fetchall():
        entry = _options(options, "producer")
        unique = str(entry.get("unique") or "").rstrip(".").lower()
        coo = str(entry.get("coo") or "")
        groups = entry.get("group")
        out.append((int(domain_id), Member(
            zone_text(name), unique or unique_id(int(domain_id), zone_text(name)),
            _absolute(coo) if coo else "",
            tuple(str(g) for g in groups) if isinstance(groups, list) else ()), entry))
    return out


def member_hash(members: Iterable[tuple[int, Member, dict[str, Any]]]) -> str:
    """PowerDNS 4.7's CATALOG-HASH of a member list: SHA-256 over, per member in id order,
    the low byte of its id, its name, and its coo and unique options (``(empty)`` when
    unset), then its groups; base64."""
    digest = hashlib.sha256()
    for domain_id, member, entry in members:
        coo = str(entry.get("coo") or "").rstrip(".") or _EMPTY
        unique = str(entry.get("unique") or "").rstrip(".") or _EMPTY
        digest.update(bytes([domain_id & 0xFF]) + (member.zone.rstrip(".") + coo + unique)
                      .encode())
        for group in member.groups:
            digest.update(f"{len(group)}{group}".encode())
    return base64.b64encode(digest.digest()).decode()


def _raised(serial: int, now: int) -> int:
    """The serial after a change of members: the time (PowerDNS's EPOCH), or one more
    when that would not move it forward (RFC 1982)."""
    if 0 < (now - serial) % (1 << 32) < (1 << 31):
        return now % (1 << 32)
    return (serial + 1) % (1 << 32)


def sync_producer(backend: Any, cur: Any, domain_id: int, zone: str,
                  now: int | None = None) -> tuple[list[Member], bool]:
    """The members of producer ``zone``, and whether its serial was raised: when they no
    longer match its CATALOG-HASH, its SOA serial is raised and the hash stored (on
    ``cur``, in its transaction)."""
    listed = producer_members(backend, cur, zone)
    members = [member for _, member, _ in listed]
    wanted = member_hash(listed)
    cur.execute(backend._q("SELECT content FROM domainmetadata WHERE domain_id = ? AND "
                           "kind = ?"), (domain_id, HASH_KIND))
    held = [content for (content,) in cur.fetchall()]
    if held == [wanted]:
        return members, False
    cur.execute(backend._q("SELECT id, content FROM records WHERE domain_id = ? AND "
                           "name = ? AND type = 'SOA' AND disabled = ?"),
                (domain_id, db_name(zone), False))
    soa = cur.fetchone()
    if soa is None:                          # PowerDNS: nothing to raise, nothing stored
        return members, False
    fields = (soa[1] or "").split()
    if len(fields) < 3 or not fields[2].isdigit():
        log.warning("producer zone '%s': its SOA '%s' cannot be raised", zone, soa[1])
        return members, False
    old = int(fields[2])
    fields[2] = str(_raised(old, int(time.time()) if now is None else now))
    cur.execute(backend._q("UPDATE records SET content = ? WHERE id = ?"),
                (" ".join(fields), soa[0]))
    cur.execute(backend._q("DELETE FROM domainmetadata WHERE domain_id = ? AND kind = ?"),
                (domain_id, HASH_KIND))
    cur.execute(backend._q("INSERT INTO domainmetadata (domain_id, kind, content) "
                           "VALUES (?, ?, ?)"), (domain_id, HASH_KIND, wanted))
    backend._wrote()
    log.warning("producer zone '%s': %d members, new CATALOG-HASH '%s', serial %d -> %s",
                zone, len(members), wanted, old, fields[2])
    return members, True


def producer_rows(backend: Any, cur: Any, domain_id: int, zone: str
                  ) -> list[tuple[int, str, str, str, int, int]] | None:
    """The rows a producer zone is compiled from (``records`` form: id, name, type,
    content, ttl, prio), or None when ``zone`` is no producer (the gsql load path)."""
    cur.execute(backend._q("SELECT type FROM domains WHERE id = ?"), (domain_id,))
    row = cur.fetchone()
    if row is None or (row[0] or "").upper() != "PRODUCER":
        return None
    members = sync_producer(backend, cur, domain_id, zone)[0]
    apex = db_name(zone)
    cur.execute(backend._q("SELECT id, name, type, content, ttl, prio FROM records WHERE "
                           "domain_id = ? AND name = ? AND type IN ('SOA', 'NS') AND "
                           "disabled = ? ORDER BY id"), (domain_id, apex, False))
    rows = [(int(i), n, t, c, int(ttl or 0), int(p or 0))
            for i, n, t, c, ttl, p in cur.fetchall()]
    if not any(t == "NS" for _, _, t, _, _, _ in rows):
        rows.append((0, apex, "NS", "invalid.", 0, 0))
    rows.append((0, f"version.{apex}", "TXT", '"2"', 0, 0))
    for member in members:
        node = f"{member.unique}.zones.{apex}"
        rows.append((0, node, "PTR", member.zone, 0, 0))
        if member.coo:
            rows.append((0, f"coo.{node}", "PTR", member.coo, 0, 0))
        for group in member.groups:
            rows.append((0, f"group.{node}", "TXT", json.dumps(group), 0, 0))
    return rows


def producer_ids(backend: Any, cur: Any, ids: Iterable[int]) -> set[int]:
    """The ids of ``ids`` whose zones are producers (the gsql load path sends them to
    load_image): one query, by ids for a few zones, else over ``domains``."""
    wanted = list(ids)
    if not wanted:
        return set()
    if len(wanted) <= 500:
        marks = ", ".join("?" * len(wanted))
        cur.execute(backend._q(f"SELECT id FROM domains WHERE id IN ({marks}) AND "
                               "UPPER(type) = 'PRODUCER'"), wanted)
    else:
        cur.execute("SELECT id FROM domains WHERE UPPER(type) = 'PRODUCER'")
    found = {int(i) for (i,) in cur.fetchall()}
    return found & set(wanted)


def bump_producers(backends: Iterable[Any]) -> list[str]:
    """After a check of the zones: the producers whose member list moved get a new
    serial (:func:`sync_producer`); their names (they load again at the next check)."""
    bumped: list[str] = []
    for backend in backends:
        if not hasattr(backend, "dialect"):
            continue                            # SQL backends only
        try:
            bumped += _bump(backend)
        except BackendError as exc:             # a database down: the zone service says
            log.debug("backend '%s': catalog producers not checked: %s", backend.name, exc)
        except Exception as exc:                # the next check tries again
            log.error("backend '%s': catalog producers not checked: %s", backend.name, exc)
    return bumped


def _bump(backend: Any) -> list[str]:
    with backend._cursor() as cur:
        cur.execute("SELECT id, name FROM domains WHERE UPPER(type) = 'PRODUCER'")
        producers = [(int(i), zone_text(n)) for i, n in cur.fetchall() if n]
    bumped = []
    for domain_id, zone in producers:
        with backend._cursor() as cur:
            if sync_producer(backend, cur, domain_id, zone)[1]:
                bumped.append(zone)
    return bumped


# -- consumer ---------------------------------------------------------------------------------


def catalog_members(zone: dns.zone.Zone) -> dict[str, Member] | None:
    """The members of a transferred catalog zone by zone name, or None when it is no
    catalog fastdns reads (no ``version`` TXT "1" or "2"). A member node with more than
    one PTR, and every node after the first naming a zone, are left out (logged)."""
    origin = zone.origin
    assert origin is not None
    catalog = origin.to_text().lower()
    version = zone.get_rdataset(dns.name.from_text("version", origin), dns.rdatatype.TXT)
    texts = [b"".join(r.strings).decode(errors="replace") for r in version or ()]
    if len(texts) != 1 or texts[0] not in VERSIONS:
        log.error("catalog zone '%s': version %s is not one fastdns reads (\"2\" or "
                  "\"1\"); its members are left as they are", catalog,
                  ", ".join(f'"{t}"' for t in texts) or "missing")
        return None
    zones_node = dns.name.from_text("zones", origin)
    found: dict[str, Member] = {}
    properties: dict[str, dict[str, Any]] = {}
    names = sorted(name if name.is_absolute() else name.derelativize(origin)
                   for name in zone.nodes)
    for name in names:
        relative = name.relativize(zones_node)
        if not name.is_subdomain(zones_node) or name == zones_node:
            continue
        labels = [label.decode(errors="replace").lower() for label in relative.labels]
        node = zone.nodes.get(name) or zone.nodes.get(name.relativize(origin))
        if node is None:
            continue
        if len(labels) == 1:
            ptr = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.PTR)
            if ptr is None:
                continue
            if len(ptr) != 1:
                log.error("catalog zone '%s': member node '%s' has %d PTR records; left "
                          "out", catalog, name, len(ptr))
                continue
            target = next(iter(ptr)).target
            if not target.is_absolute():
                target = target.derelativize(origin)
            member = target.to_text().lower()
            if member in found:
                log.error("catalog zone '%s': zone '%s' is listed twice; '%s' left out",
                          catalog, member, name)
                continue
            found[member] = Member(member, labels[0])
        elif len(labels) == 2 and labels[0] in ("coo", "group"):
            entry = properties.setdefault(labels[1], {})
            if labels[0] == "coo":
                ptr = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.PTR)
                if ptr is not None and len(ptr) == 1:
                    entry["coo"] = next(iter(ptr)).target.to_text().lower()
            else:
                txt = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)
                entry["group"] = tuple(sorted(b"".join(r.strings).decode(errors="replace")
                                              for r in txt or ()))
    return {z: Member(z, m.unique, properties.get(m.unique, {}).get("coo", ""),
                      properties.get(m.unique, {}).get("group", ()))
            for z, m in found.items()}


def consume(backend: Any, catalog: str, zone: dns.zone.Zone) -> bool:
    """After a transfer of ``catalog`` was stored in ``backend``: when it is a CONSUMER
    zone, make and delete its member zones (see the module doc). Whether any zone was
    made or deleted (the caller lists its secondaries again)."""
    if not hasattr(backend, "dialect"):
        return False                             # SQL backends only
    try:
        return _consume(backend, catalog, zone)
    except Exception as exc:     # the catalog zone itself is stored and served
        log.error("catalog zone '%s': its member zones not updated: %s: %s", catalog,
                  type(exc).__name__, exc)
        return False


def _consume(backend: Any, catalog: str, zone: dns.zone.Zone) -> bool:
    with backend._cursor() as cur:
        cur.execute(backend._q("SELECT type, master FROM domains WHERE name = ?"),
                    (db_name(catalog),))
        row = cur.fetchone()
    if row is None or (row[0] or "").upper() != "CONSUMER":
        return False
    primaries = row[1] or None
    members = catalog_members(zone)
    if members is None:
        return False
    changed = False
    with backend._cursor() as cur:
        cur.execute(backend._q("SELECT id, name, options FROM domains WHERE catalog = ?"),
                    (db_name(catalog),))
        ours = {zone_text(n): (int(i), _options(o, "consumer")) for i, n, o in
                cur.fetchall()}
        for name, (domain_id, entry) in ours.items():
            member = members.get(name)
            if member is not None and str(entry.get("unique", "")).rstrip(".") in (
                    member.unique, ""):
                cur.execute(backend._q("UPDATE domains SET options = ?, master = ? "
                                       "WHERE id = ?"),
                            (member.options("consumer"), primaries, domain_id))
                continue
            for table in ("records", "comments", "domainmetadata", "cryptokeys"):
                cur.execute(backend._q(f"DELETE FROM {table} WHERE domain_id = ?"),
                            (domain_id,))
            cur.execute(backend._q("DELETE FROM domains WHERE id = ?"), (domain_id,))
            changed = True
            if member is None:
                log.warning("catalog zone '%s': member zone '%s' left the catalog; "
                            "deleted", catalog, name)
            else:
                log.warning("catalog zone '%s': member zone '%s' has a new unique id "
                            "'%s'; made again", catalog, name, member.unique)
                ours[name] = (0, {})
        for name, member in members.items():
            if name in ours and ours[name][0]:
                continue
            cur.execute(backend._q("SELECT id, catalog, options FROM domains WHERE "
                                   "name = ?"), (db_name(name),))
            other = cur.fetchone()
            if other is not None:
                coo = _options(other[2], "consumer").get("coo", "")
                if not coo or _absolute(str(coo)) != catalog.lower():
                    log.warning("catalog zone '%s': member zone '%s' already exists%s; "
                                "left as it is", catalog, name,
                                f" in catalog '{zone_text(other[1])}'" if other[1] else "")
                    continue
                cur.execute(backend._q("UPDATE domains SET catalog = ?, options = ?, "
                                       "master = ?, type = 'SLAVE' WHERE id = ?"),
                            (db_name(catalog), member.options("consumer"), primaries,
                             other[0]))
                log.warning("catalog zone '%s': member zone '%s' taken over from catalog "
                            "'%s' (coo)", catalog, name, zone_text(other[1] or ""))
                changed = True
                continue
            cur.execute(backend._q("INSERT INTO domains (name, type, master, catalog, "
                                   "options) VALUES (?, 'SLAVE', ?, ?, ?)"),
                        (db_name(name), primaries, db_name(catalog),
                         member.options("consumer")))
            log.warning("catalog zone '%s': member zone '%s' added as a secondary of %s",
                        catalog, name, primaries or "no primary")
            changed = True
    backend._wrote()
    return changed


__all__ = ["HASH_KIND", "Member", "bump_producers", "catalog_members", "consume",
           "member_hash", "producer_ids", "producer_rows", "sync_producer", "unique_id"]

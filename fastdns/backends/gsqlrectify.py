"""rectify-zone on the generic SQL schema, as PowerDNS 4.7's ``DNSSECKeeper::rectifyZone``
writes it: the ``auth`` and ``ordername`` columns and the empty non-terminal rows (NULL type).

What it writes depends on the zone's mode (:func:`zone_mode`):

- with the backend's ``dnssec`` setting off (PowerDNS's default), only the empty
  non-terminal rows are added and removed; ``auth`` and ``ordername`` are left alone (PowerDNS
  reads and writes neither, nor keys or DNSSEC metadata, then);
- an unsigned zone (no active key, not PRESIGNED; an NSEC3PARAM alone does not count):
  ``auth`` = 0 below a delegation (the delegation's NS included), 1 elsewhere, and every
  ``ordername`` NULL;
- NSEC (active keys, no NSEC3PARAM): ``ordername`` = the name's labels below the zone, last
  first, space-separated (``''`` at the apex, fastdns.dnssec.nsec3.nsec_ordername), on the
  authoritative names and the delegation points (their NS: ``auth`` 0, their DS: 1); NULL
  on names below a cut and on the empty non-terminals, whose ``auth`` is 1 if any name
  below them is authoritative;
- NSEC3 (broad): ``ordername`` = the base32hex hash of the name, for every name not below a
  cut and every empty non-terminal above one (these get ``auth`` 1); with opt-out (flags 1)
  a delegation without DS, and the empty non-terminals above nothing but such delegations,
  get none (NULL) and keep ``auth`` 0; the A/AAAA rows at a cut get ordername NULL, as do
  the NS rows of an opt-out insecure delegation;
- NSEC3 narrow: as NSEC3 but every ``ordername`` NULL;
- PRESIGNED: refused, with PowerDNS's message.

Only enabled rows are read and written (PowerDNS's queries say ``disabled=0``), and names
compare as stored (a row whose name is not lowercase is read, but not updated).  The message
and its count of "updates" are PowerDNS's (one per name or RRset whose ``auth`` or
``ordername`` it set, counted also when nothing changed, as PowerDNS counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastdns.backends.sqlbase import db_name
from fastdns.dnssec.nsec3 import (
    Labels,
    NSEC3ParamError,
    hashed_label,
    label_text,
    name_labels,
    nsec_ordername,
    parse_nsec3param,
)
from fastdns.log import log

if TYPE_CHECKING:
    from fastdns.backends.gsqlwrite import ZoneWrites

#: PowerDNS's ``max-ent-entries`` default
MAX_ENT_ENTRIES = 100000
#: PowerDNS 4.7's ``max-nsec3-iterations`` default
MAX_NSEC3_ITERATIONS = 500

# the ordername of a name to write: None (NULL), or (labels for comparing, stored text)
_Order = tuple[tuple[bytes, ...], str] | None


@dataclass
class ZoneMode:
    """How a zone is rectified (see the module doc)."""

    #: the backend's ``dnssec`` setting: auth and ordername are read and written at all
    dnssec: bool = False
    presigned: bool = False
    #: active keys (or PRESIGNED)
    secured: bool = False
    nsec3: bool = False
    narrow: bool = False
    opt_out: bool = False
    salt: bytes = b""
    iterations: int = 0

    def describe(self, zone: str) -> str:
        """PowerDNS's first words for this mode."""
        if not self.secured:
            return f"Adding empty non-terminals for non-DNSSEC zone '{zone}'"
        if not self.nsec3:
            return f"Adding NSEC ordering information for zone '{zone}'"
        if self.narrow:
            return ("Erasing NSEC3 ordering since we are narrow, only setting 'auth' fields "
                    f"for zone '{zone}'")
        if self.opt_out:
            return f"Adding NSEC3 opt-out hashed ordering information for zone '{zone}'"
        return f"Adding NSEC3 hashed ordering information for zone '{zone}'"


@dataclass
class Rectified:
    """The outcome of one rectify: ``ok``, pdnsutil's info line and error."""

    ok: bool
    info: str = ""
    error: str = ""
    updates: int = 0
    #: empty non-terminal rows added and removed
    ents_added: list[str] = field(default_factory=list)
    ents_removed: list[str] = field(default_factory=list)


class RectifyError(Exception):
    """The zone cannot be rectified; the message is PowerDNS's."""


def _meta(cur: Any, store: ZoneWrites, domain_id: int, kind: str) -> list[str]:
    # PowerDNS asks for the kind exactly as spelt (its SQL compares it as written)
    cur.execute(store._q("SELECT content FROM domainmetadata WHERE domain_id = ? AND kind = ? "
                         "ORDER BY id"), (domain_id, kind))
    return [content or "" for (content,) in cur.fetchall()]


def zone_mode(cur: Any, store: ZoneWrites, zone: str, domain_id: int, dnssec: bool,
              max_iterations: int = MAX_NSEC3_ITERATIONS) -> ZoneMode:
    """The mode of ``zone`` as PowerDNS's DNSSECKeeper sees it; RectifyError for NSEC3PARAM
    metadata that does not parse (PowerDNS's message)."""
    mode = ZoneMode(dnssec=dnssec)
    if not dnssec:
        return mode
    presigned = _meta(cur, store, domain_id, "PRESIGNED")
    mode.presigned = bool(presigned) and presigned[0] == "1"
    cur.execute(store._q("SELECT active FROM cryptokeys WHERE domain_id = ?"), (domain_id,))
    mode.secured = mode.presigned or any(bool(active) for (active,) in cur.fetchall())
    if not mode.secured:
        return mode
    param = _meta(cur, store, domain_id, "NSEC3PARAM")
    if param and param[0]:
        try:
            _, flags, iterations, salt = parse_nsec3param(param[0])
        except NSEC3ParamError as exc:
            raise RectifyError(str(exc)) from None
        if max_iterations and iterations > max_iterations:
            log.error("Number of NSEC3 iterations for zone '%s' is above "
                      "'max-nsec3-iterations'. Value adjusted to: %d", zone, max_iterations)
            iterations = max_iterations
        narrow = _meta(cur, store, domain_id, "NSEC3NARROW")
        mode.nsec3 = True
        mode.narrow = bool(narrow) and narrow[0] == "1"
        mode.opt_out = flags != 0
        mode.salt, mode.iterations = salt, iterations
    return mode


def _stored_order(text: str | None) -> tuple[bytes, ...] | None:
    """An ``ordername`` column as PowerDNS reads it back: '' and NULL are "none"."""
    if not text:
        return None
    try:
        return tuple(reversed(name_labels(text.replace(" ", "."))))
    except ValueError:
        return (text.lower().encode("utf-8", "replace"),)


def _order_of(labels: Labels, zone: Labels, mode: ZoneMode, real: bool,
              in_nsec3: bool) -> _Order:
    if mode.nsec3:
        if in_nsec3 and not mode.narrow:
            hashed = hashed_label(labels, mode.salt, mode.iterations)
            return (hashed.encode(),), hashed
        return None
    if real and mode.secured:
        relative = labels[:len(labels) - len(zone)]
        return tuple(relative), nsec_ordername(labels, zone)
    return None


def _below_cut(labels: Labels, zone_depth: int, cuts: set[Labels]) -> bool:
    """Whether a strict ancestor of ``labels`` below the apex is a delegation."""
    return any(labels[i:] in cuts for i in range(1, len(labels) - zone_depth))


def _auth(labels: Labels, cuts: set[Labels]) -> bool:
    """False at or below a delegation (PowerDNS walks up to the root)."""
    return not any(labels[i:] in cuts for i in range(len(labels)))


class _Status:
    """What PowerDNS remembers of a name's stored rows (``RecordStatus``)."""

    __slots__ = ("auth", "order", "update")

    def __init__(self, order: tuple[bytes, ...] | None, auth: bool, update: bool) -> None:
        self.order, self.auth, self.update = order, auth, update


def rectify(store: ZoneWrites, zone: str, dnssec: bool = False,
            max_iterations: int = MAX_NSEC3_ITERATIONS,
            max_ents: int = MAX_ENT_ENTRIES) -> Rectified:
    """Rectify ``zone`` (no trailing dot) in one transaction, as pdnsutil 4.7 does."""
    with store._cursor() as cur:
        result = rectify_in(cur, store, zone, store._domain_id(cur, zone), dnssec,
                            max_iterations, max_ents)
    if result.updates or result.ents_added or result.ents_removed:
        store._wrote()
    return result


def rectify_in(cur: Any, store: ZoneWrites, zone: str, domain_id: int, dnssec: bool = False,
               max_iterations: int = MAX_NSEC3_ITERATIONS,
               max_ents: int = MAX_ENT_ENTRIES) -> Rectified:
    """:func:`rectify` within the caller's transaction ``cur`` (an API write: the records
    and their rectification are committed together)."""
    try:
        mode = zone_mode(cur, store, zone, domain_id, dnssec, max_iterations)
    except RectifyError as exc:
        return Rectified(False, error=str(exc))
    if mode.presigned:
        return Rectified(False, error=f"Rectify presigned zone '{zone}' is not "
                                      "allowed/necessary.")
    return _rectify(cur, store, zone, domain_id, mode, max_ents)


def _rectify(cur: Any, store: ZoneWrites, zone: str, domain_id: int, mode: ZoneMode,
             max_ents: int) -> Rectified:
    apex = name_labels(db_name(zone))
    depth = len(apex)
    cur.execute(store._q("SELECT name, type, auth, ordername, disabled FROM records "
                         "WHERE domain_id = ?"), (domain_id,))
    status: dict[Labels, _Status] = {}
    names: set[Labels] = set()
    cuts: set[Labels] = set()
    ds_names: set[Labels] = set()
    records: list[tuple[Labels, str]] = []
    stale: set[Labels] = set()
    plain = not mode.secured or mode.narrow
    for name, rtype, auth, ordername, disabled in cur.fetchall():
        if disabled:
            continue
        try:
            labels = name_labels(name or "")
        except ValueError:
            continue
        if labels[len(labels) - depth:] != apex:
            continue  # out of zone: PowerDNS would walk up to the root; left alone here
        stored = _stored_order(ordername)
        stored_auth = bool(auth) if mode.dnssec else True
        known = status.get(labels)
        if known is None:
            known = status[labels] = _Status(stored, stored_auth, (stored is None) != plain)
            if plain and labels == apex:
                known.update = True
        elif not known.update:
            known.update = known.auth != stored_auth or known.order != stored
        elif plain and labels == apex:
            known.update = True
        if rtype:
            names.add(labels)
            records.append((labels, rtype.upper()))
            if rtype.upper() == "NS" and labels != apex:
                cuts.add(labels)
            if rtype.upper() == "DS":
                ds_names.add(labels)
        else:
            stale.add(labels)

    nsec3_names: set[Labels] = set()
    if mode.nsec3 and (not mode.narrow or not mode.opt_out):
        for labels, rtype in records:
            if _below_cut(labels, depth, cuts) or (rtype == "NS" and mode.opt_out):
                continue
            for i in range(len(labels) - depth + 1):
                nsec3_names.add(labels[i:])

    writes = _Writes(cur, store, domain_id, mode.dnssec)
    result = Rectified(True, info="")
    nonterm: dict[Labels, bool] = {}
    inserted: set[Labels] = set()
    ents_ok = True
    budget = max_ents
    for labels in sorted(names):
        auth = _auth(labels, cuts)
        order = _order_of(labels, apex, mode, True, labels in nsec3_names)
        text = _text(labels)
        _update(writes, result, status.get(labels), text, order, auth)
        if labels in ds_names:
            writes.set(text, order, True, "DS")
            result.updates += 1
        if not auth or labels in cuts:
            if mode.opt_out and labels not in ds_names:
                writes.set(text, None, False, "NS")
                result.updates += 1
            for rtype in ("A", "AAAA"):
                writes.set(text, None, False, rtype)
                result.updates += 1
        if not ents_ok:
            continue
        for i in range(1, len(labels) - depth + 1):
            parent = labels[i:]
            if parent in names:
                continue
            if not budget:
                log.warning("Zone '%s' has too many empty non terminals.", zone)
                inserted.clear()
                ents_ok = False
                break
            if parent not in stale and parent not in nonterm:
                inserted.add(parent)
            else:
                stale.discard(parent)
            if parent not in nonterm:
                nonterm[parent] = auth
                budget -= 1
            elif auth:
                nonterm[parent] = True

    if not ents_ok:
        cur.execute(store._q("DELETE FROM records WHERE domain_id = ? AND type IS NULL"),
                    (domain_id,))
        result.ents_removed = sorted(_text(n) for n in status if n not in names)
    else:
        removed = sorted(_text(n) for n in stale)
        added = sorted(_text(n) for n in inserted)
        if removed:
            cur.executemany(store._q("DELETE FROM records WHERE domain_id = ? AND name = ? "
                                     "AND type IS NULL"),
                            [(domain_id, name) for name in removed])
        if added:
            cur.executemany(store._q("INSERT INTO records (domain_id, name, type, content, "
                                     "ttl, prio, disabled, ordername, auth) VALUES "
                                     "(?, ?, NULL, NULL, NULL, NULL, ?, NULL, ?)"),
                            [(domain_id, name, False, True) for name in added])
        result.ents_added, result.ents_removed = added, removed
        for labels in sorted(nonterm):
            auth = nonterm[labels]
            in_nsec3 = labels in nsec3_names
            order = _order_of(labels, apex, mode, False, in_nsec3)
            if in_nsec3 and not mode.opt_out:
                auth = True
            _update(writes, result, status.get(labels), _text(labels), order, auth)
    result.info = f"{mode.describe(zone)}, {result.updates} updates"
    return result


def _update(writes: _Writes, result: Rectified, known: _Status | None, text: str,
            order: _Order, auth: bool) -> None:
    """PowerDNS's update of a whole name, made (and counted) only when it changes
    something PowerDNS remembers."""
    compare = order[0] if order is not None else None
    if known is None or known.update or known.auth != auth or known.order != compare:
        writes.set(text, order, auth, None)
        result.updates += 1


def _text(labels: Labels) -> str:
    return ".".join(label_text(lab) for lab in labels) or "."


class _Writes:
    """The ``auth``/``ordername`` updates (none when the backend's ``dnssec`` is off)."""

    def __init__(self, cur: Any, store: ZoneWrites, domain_id: int, enabled: bool) -> None:
        self.cur, self.store, self.domain_id, self.enabled = cur, store, domain_id, enabled

    def set(self, name: str, order: _Order, auth: bool, rtype: str | None) -> None:
        if not self.enabled:
            return
        query = "UPDATE records SET ordername = ?, auth = ? WHERE domain_id = ? AND name = ?"
        params: list[Any] = [order[1] if order is not None else None, bool(auth),
                             self.domain_id, name]
        if rtype is not None:
            query += " AND type = ?"
            params.append(rtype)
        self.cur.execute(self.store._q(query + " AND disabled = ?"), (*params, False))


__all__ = ["MAX_ENT_ENTRIES", "MAX_NSEC3_ITERATIONS", "Rectified", "RectifyError",
           "ZoneMode", "rectify", "zone_mode"]

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Records as PowerDNS's SQL backends store them (``records`` rows) → a RecordStore.

The other way into the one compiler (the first is fastdns.zone._masterfile): a row's
``content`` is read by the same reader, fastdns.zone._rdata, as a zone file's data. What
PowerDNS's generic SQL backend does to a row before reading it is done here too:

- ``name`` is absolute, with or without a trailing dot (PowerDNS writes it lowercase and
  without one);
- MX and SRV keep their priority in ``prio``, put back in front of ``content`` when it is
  not NULL;
- an SOA whose content stops early gets PowerDNS's defaults for the missing fields
  (serial 0, refresh 10800, retry 3600, expire 604800, minimum 3600);
- a row that cannot be read is left out with a warning, the rest of the zone served.

``add_row`` is the C entry (fastdns.backends._sqlite3rows reads SQLite files with it, with
no Python object per row); ``add_rows`` takes rows from a Python database driver.
"""

from libc.stdint cimport UINT32_MAX, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdio cimport snprintf
from libc.string cimport memcmp, memcpy

from fastdns.consts cimport TYPE_MX, TYPE_SOA, TYPE_SRV
from fastdns._names cimport name_to_lk
from fastdns.zone._sinks cimport WARNINGS_LISTED, StoreSink
from fastdns.zone._chars cimport is_space
from fastdns.zone._rdata cimport rdata_from_text
from fastdns.zone._rdfields cimport RDATA_ROOM, name_from_text
from fastdns.zone._rdtypes cimport type_from_text

cdef const char *E_OUTSIDE = b"owner outside the zone"
cdef const char *E_TYPE = b"unknown record type"
cdef const char *E_TTL = b"TTL out of range"
cdef const char *E_CONTENT = b"content too long"
#: what PowerDNS fills in for the fields missing from a short SOA content (after the names)
cdef const char *SOA_DEFAULTS[5]
SOA_DEFAULTS[0] = b"0"
SOA_DEFAULTS[1] = b"10800"
SOA_DEFAULTS[2] = b"3600"
SOA_DEFAULTS[3] = b"604800"
SOA_DEFAULTS[4] = b"3600"


cdef int add_row(StoreSink sink, const uint8_t *name, Py_ssize_t nlen, const uint8_t *rtype,
                 Py_ssize_t tlen, const uint8_t *content, Py_ssize_t clen, int64_t ttl,
                 bint has_prio, int64_t prio, uint32_t row, uint8_t *scratch,
                 const char **why) except -2:
    """Add one row (``scratch``: RDATA_ROOM octets); as Sink.record, -1 with ``why`` when
    its data cannot be read, ROW_BROKEN when its name, type or TTL cannot."""
    cdef uint8_t owner[256]
    cdef uint8_t lk[256]
    cdef int olen, lklen, rdtype, n, fields
    cdef Py_ssize_t i, k
    cdef uint8_t *out
    if nlen == sink.last_text_len and memcmp(name, sink.last_text, nlen) == 0:
        olen = sink.last_len                      # the previous row's owner (the usual)
        memcpy(owner, sink.last, olen)
    else:
        olen = name_from_text(name, nlen, owner, why)
        if olen < 0:
            return ROW_BROKEN
        lklen = name_to_lk(owner, olen, lk)
        if lklen < sink.apex_lklen or memcmp(lk, sink.apex_lk, sink.apex_lklen) != 0:
            why[0] = E_OUTSIDE
            return ROW_BROKEN
        if nlen <= 1024:
            memcpy(sink.last_text, name, nlen)
            sink.last_text_len = nlen
            memcpy(sink.last, owner, olen)
            sink.last_len = olen
    rdtype = type_from_text(rtype, tlen)
    if rdtype < 0:
        why[0] = E_TYPE
        return ROW_BROKEN
    if ttl < 0 or ttl > UINT32_MAX:
        why[0] = E_TTL
        return ROW_BROKEN
    if (rdtype == TYPE_MX or rdtype == TYPE_SRV) and has_prio:
        if clen > RDATA_ROOM - 32:
            why[0] = E_CONTENT
            return -1
        k = snprintf(<char *>scratch, 32, b"%lld ", <long long>prio)
        memcpy(scratch + k, content, clen)
        content = scratch
        clen += k
    elif rdtype == TYPE_SOA:
        fields = 0
        i = 0
        while i < clen:
            while i < clen and is_space(content[i]):
                i += 1
            if i < clen:
                fields += 1
            while i < clen and not is_space(content[i]):
                i += 1
        if 2 <= fields < 7:
            if clen > RDATA_ROOM - 64:
                why[0] = E_CONTENT
                return -1
            memcpy(scratch, content, clen)
            k = clen
            while fields < 7:
                k += snprintf(<char *>scratch + k, 16, b" %s", SOA_DEFAULTS[fields - 2])
                fields += 1
            content = scratch
            clen = k
    out = sink.store.room(RDATA_ROOM)
    n = rdata_from_text(rdtype, content, clen, out, why)
    if n < 0:
        return -1
    return sink.add(owner, olen, rdtype, <uint32_t>ttl, n, 0, row, why)


def add_rows(StoreSink sink not None, rows, list warnings not None):
    """Add ``(id, name, type, content, ttl, prio)`` rows (a Python driver's); a row that
    cannot be read gets a warning ``records.id=N: why; record skipped``. Returns how many
    rows were read and how many of them were skipped."""
    cdef bytearray scratch = bytearray(RDATA_ROOM)
    cdef const char *why = NULL
    cdef int r
    cdef uint64_t count = 0, skipped = 0
    for row_id, name, rtype, content, ttl, prio in rows:
        name_b = (name or "").encode("utf-8", "surrogateescape")
        type_b = (rtype or "").encode("utf-8", "surrogateescape")
        content_b = (content or "").encode("utf-8", "surrogateescape")
        count += 1
        why = NULL
        r = add_row(sink, name_b, len(name_b), type_b, len(type_b), content_b, len(content_b),
                    int(ttl or 0), prio is not None, int(prio or 0),
                    <uint32_t>(int(row_id) & 0xFFFFFFFF), scratch, &why)
        if r < 0:
            skipped += 1
        if len(warnings) >= WARNINGS_LISTED:
            continue                              # counted: the caller says how many more
        if r < 0:
            warnings.append(row_warning(row_id, name, rtype, content, why.decode(),
                                        r == ROW_BROKEN))
        elif r == 1 and why != NULL:
            warnings.append(f"records.id={row_id}: {why.decode()}")
    return count, skipped


def row_warning(row_id, name, rtype, content, str why, bint row=False) -> str:
    """The warning for a row that is left out: for its data, or (``row``) for its name,
    type or TTL."""
    if row:
        return f"records.id={row_id}: {why} (name '{name}', type '{rtype}'); record skipped"
    shown = content if len(content or "") <= 80 else content[:77] + "..."
    return f"records.id={row_id}: bad {rtype} data '{shown}': {why}; record skipped"

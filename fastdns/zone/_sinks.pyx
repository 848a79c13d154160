# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Where the readers of zone data put the records they read, one C call per record.

A Sink takes a record as its owner (wire form), type, TTL and data as text: StoreSink reads
the data with fastdns.zone._rdata into the compiler's RecordStore (what the server loads:
master files through fastdns.zone._masterfile, SQL rows through fastdns.zone._rows), and
RecordList keeps the text, for fastdns-util to store as PowerDNS's tools do.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

from fastdns.consts cimport TYPE_LUA, TYPE_NSEC, TYPE_NSEC3, TYPE_NSEC3PARAM, TYPE_SOA
from fastdns._names cimport name_eq, name_to_lk, wire_name_ok
from fastdns.zone._imagebuild cimport RecordStore
from fastdns.zone._rdata cimport rdata_from_text
from fastdns.zone._rdfields cimport RDATA_ROOM
from fastdns.zone._zonetext cimport Text


cdef class Sink:
    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        raise NotImplementedError


cdef const char *W_SOA_BELOW = b"an SOA record below the zone apex is left out (RFC 1035 " \
                               b"\xc2\xa75.2)"


cdef class StoreSink(Sink):
    """Records into a RecordStore, their data read by fastdns.zone._rdata."""

    def __cinit__(self, RecordStore store not None, bytes apex not None,
                  bint zone_file=False):
        self.store = store
        self.zone_file = zone_file
        if not 1 <= len(apex) <= 255 or not wire_name_ok(apex, len(apex), len(apex)):
            raise ValueError("bad apex")
        memcpy(self.apex, <const char *>apex, len(apex))
        self.apex_len = len(apex)
        self.apex_lklen = name_to_lk(self.apex, self.apex_len, self.apex_lk)
        self.last_text_len = -1

    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        cdef uint8_t *out
        cdef int n
        if self.zone_file and (rdtype == TYPE_NSEC or rdtype == TYPE_NSEC3
                               or rdtype == TYPE_NSEC3PARAM):
            self.denial += 1       # PowerDNS's bind backend skips them unread
            return 1
        out = self.store.room(RDATA_ROOM)
        n = rdata_from_text(rdtype, content, clen, out, why)
        if n < 0:
            return -1
        return self.add(owner, olen, rdtype, ttl, n, file, line, why)

    cdef int add(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl, int n,
                 uint32_t file, uint32_t line, const char **why) except -2:
        """Keep the record whose rdata (``n`` octets) is in the store's room."""
        cdef uint8_t lk[256]
        if rdtype == TYPE_LUA:
            self.lua += 1                         # read, but not served (enable-lua-records)
            return 1
        if rdtype == TYPE_SOA and not (olen == self.apex_len and name_eq(owner, self.apex)):
            why[0] = W_SOA_BELOW
            return 1
        if not self.store.same_owner(owner, olen):
            name_to_lk(owner, olen, lk)
            self.store.set_owner(owner, olen, lk)
        self.store.add_rec(rdtype, ttl, n, file, line)
        return 0


cdef class RecordList(Sink):
    """Records as text, for fastdns-util: ``(owner, rdtype, ttl, content, file, line,
    comment)`` with the owner in wire form and the content and comment as bytes, in the
    order read."""
    cdef readonly list records

    def __cinit__(self, bint comments=False):
        self.records = []
        self.wants_comments = comments

    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2:
        self.records.append((PyBytes_FromStringAndSize(<const char *>owner, olen), rdtype, ttl,
                             PyBytes_FromStringAndSize(<const char *>content, clen), file, line,
                             PyBytes_FromStringAndSize(<const char *>comment.p, comment.n)
                             if comment.n else b""))
        return 0

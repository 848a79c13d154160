# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The zone index (its layout: _zoneindex.pxd): ZoneIndex reads one, IndexBuilder (the
manager's) keeps the zones in C arrays and publishes them as a sealed memfd.

A worker maps every published index and the bundles it names; its per-zone state is what
the index holds, in shared pages. The builder's cost per zone is an entry, a slot and the
names: a change is O(1), a publish one write of the arrays.

(What the hot path may import is fastdns's and C's alone: the memfd is made and sealed by
fastdns.zone.bundle.)
"""

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcmp, memcpy, memset

from fastdns._names cimport name_to_lk, lk_to_name, name_len, wire_name_ok
from fastdns._reader cimport NAME_MAX
from fastdns._gil cimport YIELD_EVERY, let_others_run

cdef extern from "<unistd.h>" nogil:
    ssize_t pwrite(int fd, const void *buf, size_t count, long offset)

MAGIC = b"FDZINDX1"
VERSION = INDEX_VERSION
LOADED = Z_LOADED
PENDING = Z_PENDING
BROKEN = Z_BROKEN
#: zone kinds, by their number in an entry
KINDS = ("native", "primary", "secondary", "producer", "consumer")
_KIND_NUMBERS = {kind: i for i, kind in enumerate(KINDS)}
_STATES = {Z_LOADED: "loaded", Z_PENDING: "pending", Z_BROKEN: "broken"}


class IndexError_(ValueError):
    """A zone index that is not well formed."""


cdef inline uint64_t _align8(uint64_t n) noexcept nogil:
    return (n + 7) & ~(<uint64_t>7)


cdef int _labels(const uint8_t *lk, int lklen) noexcept nogil:
    cdef int p = 0
    cdef int n = 0
    while p < lklen:
        p += lk[p] + 1
        n += 1
    return n


cdef class ZoneIndex:
    """A published index, read-only: ``buffer`` exports its bytes (an mmap of the memfd);
    it is checked once here, so that lookups trust every offset."""

    def __cinit__(self, object buffer):
        PyObject_GetBuffer(buffer, &self._view, PyBUF_SIMPLE)
        self._has_view = True
        self._buffer = buffer
        self.base = <const uint8_t *>self._view.buf
        self._validate(self._view.len)

    def __dealloc__(self):
        if self._has_view:
            PyBuffer_Release(&self._view)

    cdef _validate(self, Py_ssize_t size):
        cdef const IndexHeader *h = <const IndexHeader *>self.base
        cdef uint64_t i, n
        cdef const IndexEntry *e
        cdef int lklen, nlen
        if size < <Py_ssize_t>sizeof(IndexHeader) or memcmp(h.magic, <const char *>b"FDZINDX1", 8):
            raise IndexError_("not a zone index")
        if h.version != INDEX_VERSION or h.size != <uint64_t>size:
            raise IndexError_("zone index of another version or size")
        if h.nslots == 0 or h.nslots & (h.nslots - 1) or h.nentries > h.nslots \
                or h.slots_off != _align8(sizeof(IndexHeader)) \
                or h.entries_off != h.slots_off + h.nslots * sizeof(IndexSlot) \
                or h.names_off != h.entries_off + h.nentries * sizeof(IndexEntry) \
                or h.names_off > h.size:
            raise IndexError_("zone index sections malformed")
        self.hdr = h
        self.slots = <const IndexSlot *>(self.base + h.slots_off)
        self.entries = <const IndexEntry *>(self.base + h.entries_off)
        self.names = self.base + h.names_off
        self.names_size = h.size - h.names_off
        self.nentries = h.nentries
        self.max_labels = h.max_labels
        for i in range(h.nslots):
            if self.slots[i].entry > h.nentries:
                raise IndexError_("zone index slot out of range")
        for i in range(h.nentries):
            e = &self.entries[i]
            if e.name_off >= self.names_size:
                raise IndexError_(f"zone index entry {i}: name outside the index")
            lklen = self.names[e.name_off]
            if e.name_off + 1 + <uint64_t>lklen + lklen + 1 > self.names_size \
                    or lklen > NAME_MAX - 1 or _labels(self.names + e.name_off + 1, lklen) \
                    > h.max_labels \
                    or not wire_name_ok(self.names + e.name_off + 1 + lklen,
                                        self.names_size - e.name_off - 1 - lklen, lklen + 1):
                raise IndexError_(f"zone index entry {i}: name malformed")
            if e.state != Z_LOADED and e.state != Z_PENDING and e.state != Z_BROKEN:
                raise IndexError_(f"zone index entry {i}: bad state")

    cdef const IndexEntry *find(self, const uint8_t *lk, int lklen,
                                uint64_t h) noexcept nogil:
        """The entry of the zone whose apex key is ``lk`` (hash ``h``), or NULL."""
        cdef uint64_t mask = self.hdr.nslots - 1
        cdef uint64_t slot = h & mask
        cdef uint32_t check = slot_check(h)
        cdef const IndexSlot *s
        cdef const IndexEntry *e
        cdef const uint8_t *elk
        cdef uint64_t probes = 0
        while probes <= mask:
            s = &self.slots[slot]
            if s.entry == 0:
                return NULL
            if s.check == check:
                e = &self.entries[s.entry - 1]
                elk = self.names + e.name_off
                if e.hash == h and elk[0] == lklen and memcmp(elk + 1, lk, lklen) == 0:
                    return e
            slot = (slot + 1) & mask
            probes += 1
        return NULL

    cdef const uint8_t *entry_lk(self, const IndexEntry *e, int *lklen) noexcept nogil:
        lklen[0] = self.names[e.name_off]
        return self.names + e.name_off + 1

    cdef const uint8_t *entry_name(self, const IndexEntry *e, int *nlen) noexcept nogil:
        cdef int lklen = self.names[e.name_off]
        nlen[0] = lklen + 1
        return self.names + e.name_off + 1 + lklen

    # -- for Python: the master's list-zones, tools and tests ------------------------------

    def __len__(self):
        return self.nentries

    @property
    def pending(self):
        return self.hdr.npending

    @property
    def broken(self):
        return self.hdr.nbroken

    @property
    def complete(self):
        return bool(self.hdr.flags & INDEX_COMPLETE)

    @property
    def epoch(self):
        return self.hdr.epoch

    @property
    def nbytes(self):
        return self.hdr.size

    def get(self, wire):
        """The entry of the zone whose apex is ``wire`` (wire form) as a dict, or None."""
        cdef uint8_t lk[256]
        cdef bytes w = bytes(wire)
        if not w or len(w) > NAME_MAX:
            return None
        cdef int lklen = name_to_lk(w, len(w), lk)
        cdef const IndexEntry *e = self.find(lk, lklen, zone_hash(lk, lklen))
        return None if e == NULL else self._entry(e)

    cdef dict _entry(self, const IndexEntry *e):
        cdef int nlen
        cdef const uint8_t *name = self.entry_name(e, &nlen)
        return {"wire": name[:nlen], "state": _STATES[e.state], "kind": KINDS[e.kind]
                if e.kind < len(KINDS) else "native", "bundle": e.bundle,
                "offset": e.offset, "size": e.size, "generation": e.generation,
                "zone_id": e.zone_id, "token": e.token, "backend": e.backend}

    def names_text(self, kind=None, bint broken=True):
        """The apexes as text (``example.com.``), in entry order: every zone listed, loaded
        or still pending (and the broken ones unless ``broken``), of ``kind`` if given."""
        cdef list out = []
        cdef uint64_t i
        cdef const IndexEntry *e
        cdef int k = -1 if kind is None else _KIND_NUMBERS.get(kind, 255)
        for i in range(self.nentries):
            e = &self.entries[i]
            if e.state == Z_BROKEN and not broken:
                continue
            if k >= 0 and e.kind != k:
                continue
            out.append(_text(self.names + e.name_off + 1 + self.names[e.name_off]))
        return out



cdef str _text(const uint8_t *name):
    """A wire name as presentation text (letters and digits as they are, the rest escaped
    as a master file writes them)."""
    cdef char out[1024]
    cdef int n = 0
    cdef int p = 0
    cdef int i, end
    cdef uint8_t c
    while name[p]:
        end = p + 1 + name[p]
        for i in range(p + 1, end):
            c = name[i]
            if c == 0x2e or c == 0x5c or c == 0x28 or c == 0x29 or c == 0x3b or c == 0x22 \
                    or c == 0x24 or c == 0x40:
                out[n] = 0x5c
                out[n + 1] = c
                n += 2
            elif c <= 0x20 or c >= 0x7f:
                out[n] = 0x5c
                out[n + 1] = 0x30 + c // 100
                out[n + 2] = 0x30 + (c // 10) % 10
                out[n + 3] = 0x30 + c % 10
                n += 4
            else:
                out[n] = c
                n += 1
        out[n] = 0x2e
        n += 1
        p = end
    if n == 0:
        out[0] = 0x2e
        n = 1
    return out[:n].decode("ascii")


cdef class IndexBuilder:
    """The manager's zones, in C arrays: ``put`` adds or changes a zone, ``remove`` drops
    it, ``prepare`` and ``write_into`` write the index a worker maps (into a sealed memfd:
    fastdns.zone.bundle.publish_index).

    Zone ids count from 1 for this builder's life; a zone keeps its id while it is in it.
    """

    def __cinit__(self, uint32_t epoch=0):
        self.epoch = epoch
        self.next_id = 1
        self.nslots = 16
        self.slots = <IndexSlot *>calloc(self.nslots, sizeof(IndexSlot))
        self.cap = 8
        self.entries = <IndexEntry *>calloc(self.cap, sizeof(IndexEntry))
        self.names_cap = 256
        self.names = <uint8_t *>calloc(self.names_cap, 1)
        if self.slots == NULL or self.entries == NULL or self.names == NULL:
            raise MemoryError()

    def __dealloc__(self):
        free(self.slots)
        free(self.entries)
        free(self.names)

    def __len__(self):
        return self.nentries

    cdef int64_t _find(self, const uint8_t *lk, int lklen, uint64_t h,
                       uint64_t *slot_out) noexcept nogil:
        """The entry number of ``lk``, or -1 (``slot_out``: its slot, or the free one)."""
        cdef uint64_t mask = self.nslots - 1
        cdef uint64_t slot = h & mask
        cdef uint32_t check = slot_check(h)
        cdef const IndexEntry *e
        while self.slots[slot].entry:
            if self.slots[slot].check == check:
                e = &self.entries[self.slots[slot].entry - 1]
                if e.hash == h and self.names[e.name_off] == lklen \
                        and memcmp(self.names + e.name_off + 1, lk, lklen) == 0:
                    slot_out[0] = slot
                    return self.slots[slot].entry - 1
            slot = (slot + 1) & mask
        slot_out[0] = slot
        return -1

    cdef int _grow_slots(self) except -1:
        cdef uint64_t size = self.nslots * 2
        cdef IndexSlot *slots = <IndexSlot *>calloc(size, sizeof(IndexSlot))
        cdef uint64_t i, slot
        if slots == NULL:
            raise MemoryError()
        for i in range(self.nentries):
            slot = self.entries[i].hash & (size - 1)
            while slots[slot].entry:
                slot = (slot + 1) & (size - 1)
            slots[slot].check = slot_check(self.entries[i].hash)
            slots[slot].entry = <uint32_t>(i + 1)
        free(self.slots)
        self.slots = slots
        self.nslots = size
        return 0

    cdef int _room(self, uint64_t names) except -1:
        cdef void *p
        if self.nentries + 1 > self.cap:
            p = realloc(self.entries, 2 * self.cap * sizeof(IndexEntry))
            if p == NULL:
                raise MemoryError()
            self.entries = <IndexEntry *>p
            self.cap *= 2
        if self.names_len + names > self.names_cap:
            while self.names_len + names > self.names_cap:
                self.names_cap *= 2
            p = realloc(self.names, self.names_cap)
            if p == NULL:
                raise MemoryError()
            self.names = <uint8_t *>p
        if self.names_cap > 0xFFFFFFFF:
            raise ValueError("zone index names exceed 4 GiB")
        if 2 * (self.nentries + 1) > self.nslots:
            self._grow_slots()
        return 0

    def put(self, wire, int state, str kind="native", uint32_t bundle=0,
            uint64_t offset=0, uint64_t size=0, uint64_t generation=0, uint64_t token=0,
            int backend=0):
        """Add or change the zone whose apex is ``wire`` (wire form); its zone id."""
        cdef const uint8_t[:] w = wire
        cdef int nlen = w.shape[0]
        if nlen == 0 or nlen > NAME_MAX or not wire_name_ok(&w[0], nlen, nlen):
            raise ValueError("bad zone name")
        if state != Z_LOADED and state != Z_PENDING and state != Z_BROKEN:
            raise ValueError("bad zone state")
        cdef IndexEntry *e = self._entry_for(&w[0], nlen)
        e.state = state
        e.kind = _KIND_NUMBERS.get(kind, 0)
        e.bundle = bundle
        e.offset = offset
        e.size = size
        e.generation = generation
        e.token = token
        e.backend = backend
        return e.zone_id

    cdef IndexEntry *_entry_for(self, const uint8_t *wire, int nlen) except NULL:
        """The entry of the zone whose apex is ``wire`` (checked), made if it is new."""
        cdef uint8_t lk[256]
        cdef int lklen = name_to_lk(wire, nlen, lk)
        cdef uint64_t h = zone_hash(lk, lklen)
        cdef uint64_t slot
        cdef int64_t i = self._find(lk, lklen, h, &slot)
        cdef IndexEntry *e
        if i >= 0:
            return &self.entries[i]
        self._room(1 + lklen + nlen)
        self._find(lk, lklen, h, &slot)      # the slots may have grown
        e = &self.entries[self.nentries]
        memset(e, 0, sizeof(IndexEntry))
        e.hash = h
        e.name_off = <uint32_t>self.names_len
        e.zone_id = self.next_id
        self.next_id += 1
        self.names[self.names_len] = lklen
        memcpy(self.names + self.names_len + 1, lk, lklen)
        # the apex lowercase, like its key
        lk_to_name(lk, lklen, self.names + self.names_len + 1 + lklen)
        self.names_len += 1 + lklen + nlen
        self.slots[slot].check = slot_check(h)
        self.slots[slot].entry = <uint32_t>(self.nentries + 1)
        self.nentries += 1
        return e

    def put_names(self, names, int state, str kind="native"):
        """``put`` for many zones by name as ``domains.name`` holds them (str, text form,
        with or without the final dot), in one loop: a first listing of a million zones.
        A name that is not plain text (escapes, bad labels) is skipped; their number."""
        cdef uint8_t wire[256]
        cdef int n, label, i, skipped = 0
        cdef bytes raw
        cdef const uint8_t *p
        cdef uint8_t c
        cdef IndexEntry *e
        cdef uint8_t k = _KIND_NUMBERS.get(kind, 0)
        if state != Z_LOADED and state != Z_PENDING and state != Z_BROKEN:
            raise ValueError("bad zone state")
        cdef Py_ssize_t count = 0
        for name in names:
            count += 1
            if count % YIELD_EVERY == 0:
                let_others_run()       # the manager's event loop reads its channel meanwhile
            raw = (<str>name).encode("ascii", "replace") if name is not None else b""
            p = raw
            n = len(raw)
            if n and p[n - 1] == 0x2e:
                n -= 1
            if n > NAME_MAX - 2:
                skipped += 1
                continue
            # "a.b" -> \x01a\x01b\x00; the root for an empty name
            label = 0
            wire[0] = 0
            for i in range(n):
                c = p[i]
                if c == 0x2e:
                    if wire[label] == 0:
                        break
                    label = i + 1
                    wire[label] = 0
                elif c == 0x5c or c == 0x3f:
                    break
                else:
                    wire[label + 1 + wire[label]] = c
                    wire[label] += 1
                    if wire[label] > 63:
                        break
            else:
                if n == 0 or wire[label] != 0:
                    wire[n + 1 if n else 0] = 0
                    e = self._entry_for(wire, n + 2 if n else 1)
                    e.state = state
                    e.kind = k
                    continue
            skipped += 1
        return skipped

    def remove(self, wire):
        """Drop the zone whose apex is ``wire``; whether it was there. (The last entry
        takes its place; its slots are mended by backward-shift deletion.)"""
        cdef const uint8_t[:] w = wire
        cdef uint8_t lk[256]
        cdef uint64_t slot, nxt, home, mask = self.nslots - 1
        cdef int64_t i
        cdef int lklen
        cdef uint64_t last
        if w.shape[0] == 0 or w.shape[0] > NAME_MAX:
            return False
        lklen = name_to_lk(&w[0], w.shape[0], lk)
        i = self._find(lk, lklen, zone_hash(lk, lklen), &slot)
        if i < 0:
            return False
        self.dead_names += 1 + 2 * lklen + 1
        # empty the slot, and move up the ones after it that probed past it
        self.slots[slot].entry = 0
        nxt = (slot + 1) & mask
        while self.slots[nxt].entry:
            home = self.entries[self.slots[nxt].entry - 1].hash & mask
            if ((nxt - home) & mask) >= ((nxt - slot) & mask):
                self.slots[slot] = self.slots[nxt]
                self.slots[nxt].entry = 0
                slot = nxt
            nxt = (nxt + 1) & mask
        last = self.nentries - 1
        if <uint64_t>i != last:
            self.entries[i] = self.entries[last]
            self._find(self.names + self.entries[i].name_off + 1,
                       self.names[self.entries[i].name_off], self.entries[i].hash, &slot)
            self.slots[slot].entry = <uint32_t>(i + 1)
        self.nentries -= 1
        return True

    def get(self, wire):
        """(state, kind, bundle, offset, size, generation, token, zone_id) of the zone
        whose apex is ``wire``, or None."""
        cdef const uint8_t[:] w = wire
        cdef uint8_t lk[256]
        cdef uint64_t slot
        if w.shape[0] == 0 or w.shape[0] > NAME_MAX:
            return None
        cdef int lklen = name_to_lk(&w[0], w.shape[0], lk)
        cdef int64_t i = self._find(lk, lklen, zone_hash(lk, lklen), &slot)
        if i < 0:
            return None
        cdef IndexEntry *e = &self.entries[i]
        return (e.state, KINDS[e.kind], e.bundle, e.offset, e.size, e.generation, e.token,
                e.zone_id)

    def counts(self):
        """{state name: zones}."""
        cdef uint64_t n[4]
        cdef uint64_t i
        memset(n, 0, sizeof(n))
        for i in range(self.nentries):
            n[self.entries[i].state & 3] += 1
        return {"loaded": n[Z_LOADED], "pending": n[Z_PENDING], "broken": n[Z_BROKEN]}

    def load(self, ZoneIndex index not None):
        """Become a copy of the published ``index`` (the persisted image cache: its
        zones, ids and locations, as they were written)."""
        cdef uint64_t i
        cdef uint32_t top = 0
        cdef void *p
        free(self.entries)
        free(self.slots)
        free(self.names)
        self.entries = NULL
        self.slots = NULL
        self.names = NULL
        self.cap = index.nentries if index.nentries > 8 else 8
        self.nslots = index.hdr.nslots
        self.names_cap = index.names_size if index.names_size > 256 else 256
        self.entries = <IndexEntry *>calloc(self.cap, sizeof(IndexEntry))
        self.slots = <IndexSlot *>calloc(self.nslots, sizeof(IndexSlot))
        self.names = <uint8_t *>calloc(self.names_cap, 1)
        if self.entries == NULL or self.slots == NULL or self.names == NULL:
            raise MemoryError()
        memcpy(self.entries, index.entries, index.nentries * sizeof(IndexEntry))
        memcpy(self.slots, index.slots, self.nslots * sizeof(IndexSlot))
        memcpy(self.names, index.names, index.names_size)
        self.nentries = index.nentries
        self.names_len = index.names_size
        self.dead_names = 0
        self.epoch = index.hdr.epoch
        for i in range(self.nentries):
            if self.entries[i].zone_id > top:
                top = self.entries[i].zone_id
        self.next_id = top + 1

    def prepare(self):
        """Fix the index's layout for ``write_into``; the octets it will take."""
        if self.dead_names > self.names_len // 2:
            self._compact_names()
        return (_align8(sizeof(IndexHeader)) + self.nslots * sizeof(IndexSlot)
                + self.nentries * sizeof(IndexEntry) + self.names_len)

    def write_into(self, int fd):
        """Write the index as it is now into ``fd`` (of ``prepare()``'s size)."""
        cdef IndexHeader h
        cdef uint64_t i, npending = 0, nbroken = 0
        cdef uint32_t deepest = 0, labels
        cdef bint ok
        memset(&h, 0, sizeof(h))
        memcpy(h.magic, <const char *>b"FDZINDX1", 8)
        h.version = INDEX_VERSION
        h.nslots = self.nslots
        h.nentries = self.nentries
        for i in range(self.nentries):
            if self.entries[i].state == Z_PENDING:
                npending += 1
            elif self.entries[i].state == Z_BROKEN:
                nbroken += 1
            labels = _labels(self.names + self.entries[i].name_off + 1,
                             self.names[self.entries[i].name_off])
            if labels > deepest:
                deepest = labels
        h.npending = npending
        h.nbroken = nbroken
        h.flags = INDEX_COMPLETE if npending == 0 else 0
        h.max_labels = deepest
        h.epoch = self.epoch
        h.slots_off = _align8(sizeof(IndexHeader))
        h.entries_off = h.slots_off + self.nslots * sizeof(IndexSlot)
        h.names_off = h.entries_off + self.nentries * sizeof(IndexEntry)
        h.size = h.names_off + self.names_len
        with nogil:
            ok = (_write_all(fd, &h, sizeof(h), 0)
                  and _write_all(fd, self.slots, self.nslots * sizeof(IndexSlot),
                                 h.slots_off)
                  and _write_all(fd, self.entries, self.nentries * sizeof(IndexEntry),
                                 h.entries_off)
                  and _write_all(fd, self.names, self.names_len, h.names_off))
        if not ok:
            raise OSError("cannot write the zone index")

    cdef int _compact_names(self) except -1:
        cdef uint8_t *names = <uint8_t *>calloc(self.names_cap, 1)
        cdef uint64_t at = 0, i, n
        if names == NULL:
            raise MemoryError()
        for i in range(self.nentries):
            n = 1 + 2 * <uint64_t>self.names[self.entries[i].name_off] + 1
            memcpy(names + at, self.names + self.entries[i].name_off, n)
            self.entries[i].name_off = <uint32_t>at
            at += n
        free(self.names)
        self.names = names
        self.names_len = at
        self.dead_names = 0
        return 0


cdef bint _write_all(int fd, const void *data, uint64_t size, uint64_t at) noexcept nogil:
    cdef ssize_t n
    cdef uint64_t done = 0
    while done < size:
        n = pwrite(fd, <const uint8_t *>data + done, size - done, at + done)
        if n <= 0:
            return False
        done += n
    return True

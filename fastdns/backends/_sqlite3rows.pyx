# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A zone's ``records`` rows read from an SQLite file straight into a RecordStore.

Python's sqlite3 module makes a tuple of Python objects per row: for a million records
that costs more than reading, checking and compiling them. This reads the rows with
SQLite's C API, on a connection of its own opened read-only for the one SELECT (so a file
replaced by a rename is read anew), and hands each row to fastdns.zone._rows.add_row.

It also takes the fingerprint of the rows by which fastdns.backends.gsql notices direct
changes (row count, highest id, sum of a 64-bit hash of each row's served columns),
for one zone as it loads it, or for every zone in one scan (``record_prints``): the same
values either way.

``read_zones`` reads the rows of many zones (all of them) in one scan in domain id order,
into a compiler per zone, with the same row reader and the same fingerprints.

``domain_prints`` and ``read_domains`` do the same for the ``domains`` table, whose
listing a check keeps until its fingerprint moves.
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

from fastdns._gil cimport YIELD_EVERY, let_others_run
from fastdns.zone._sinks cimport WARNINGS_LISTED, StoreSink
from fastdns.zone._rdfields cimport RDATA_ROOM
from fastdns.zone._rows cimport ROW_BROKEN, add_row

import queue
import threading

from fastdns.zone._rows import row_warning

cdef extern from "sqlite3.h" nogil:
    ctypedef struct sqlite3
    ctypedef struct sqlite3_stmt
    int sqlite3_open_v2(const char *filename, sqlite3 **db, int flags, const char *vfs)
    int sqlite3_close_v2(sqlite3 *db)
    int sqlite3_busy_timeout(sqlite3 *db, int ms)
    int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **stmt,
                           const char **tail)
    int sqlite3_bind_int64(sqlite3_stmt *stmt, int index, long long value)
    int sqlite3_step(sqlite3_stmt *stmt)
    int sqlite3_finalize(sqlite3_stmt *stmt)
    int sqlite3_column_type(sqlite3_stmt *stmt, int col)
    const unsigned char *sqlite3_column_text(sqlite3_stmt *stmt, int col)
    int sqlite3_column_bytes(sqlite3_stmt *stmt, int col)
    long long sqlite3_column_int64(sqlite3_stmt *stmt, int col)
    const char *sqlite3_errmsg(sqlite3 *db)
    enum:
        SQLITE_OK
        SQLITE_ROW
        SQLITE_DONE
        SQLITE_NULL
        SQLITE_OPEN_READONLY
        SQLITE_OPEN_URI
        SQLITE_OPEN_NOMUTEX

cdef const char *ZONE_QUERY = (b"SELECT id, name, type, content, ttl, prio, disabled "
                               b"FROM records WHERE domain_id = ?")
# the same over the whole table: faster than the index once the zone is a quarter of it
cdef const char *ZONE_SCAN = (b"SELECT id, name, type, content, ttl, prio, disabled "
                              b"FROM records NOT INDEXED WHERE domain_id = ?")
cdef const char *TABLE_SIZE = b"SELECT max(rowid) FROM records"
cdef const char *ZONE_ROWS_UP_TO = (b"SELECT count(*) FROM "
                                    b"(SELECT 1 FROM records WHERE domain_id = ? LIMIT ?)")
# every zone's rows, zone after zone (on records_order_idx, as ZONE_QUERY)
cdef const char *ZONES_QUERY = (b"SELECT domain_id, id, name, type, content, ttl, prio, "
                                b"disabled FROM records WHERE domain_id BETWEEN ? AND ? "
                                b"ORDER BY domain_id")
cdef const char *ALL_QUERY = (b"SELECT domain_id, id, name, type, content, ttl, prio, disabled "
                              b"FROM records WHERE domain_id IS NOT NULL")

# read-only; the connection is this call's alone (no mutex on every column read)
cdef int OPEN_FLAGS = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX

ctypedef struct Print:
    uint64_t count
    int64_t max_id
    uint64_t hash


cdef inline uint64_t fnv(uint64_t h, const unsigned char *p, int n) noexcept nogil:
    """FNV-1a, eight octets a step (the rows' fingerprint need not match any other)."""
    cdef uint64_t word
    cdef int i = 0
    while i + 8 <= n:
        memcpy(&word, p + i, 8)
        h = (h ^ word) * 1099511628211ULL
        i += 8
    while i < n:
        h = (h ^ p[i]) * 1099511628211ULL
        i += 1
    return h


ctypedef struct Row:
    # the served columns: name, type, content (text), then ttl, prio, disabled (integers)
    const unsigned char *text[3]
    int size[3]
    long long num[3]
    bint null[6]


cdef void read_row(sqlite3_stmt *stmt, int first, Row *row) noexcept nogil:
    """The served columns from column ``first`` on, each asked of SQLite once."""
    cdef int i
    for i in range(6):
        row.null[i] = sqlite3_column_type(stmt, first + i) == SQLITE_NULL
        if i < 3:
            if row.null[i]:
                row.text[i] = <const unsigned char *>b""
                row.size[i] = 0
            else:
                row.text[i] = sqlite3_column_text(stmt, first + i)
                row.size[i] = sqlite3_column_bytes(stmt, first + i)
                if row.text[i] == NULL:           # out of memory: read as empty
                    row.text[i] = <const unsigned char *>b""
                    row.size[i] = 0
        else:
            row.num[i - 3] = 0 if row.null[i] else sqlite3_column_int64(stmt, first + i)


cdef uint64_t row_hash(const Row *row) noexcept nogil:
    """The hash of the served columns; NULL and empty differ."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef unsigned char sep = 0x1f
    cdef unsigned char null = 0
    cdef int i
    for i in range(6):
        if row.null[i]:
            h = fnv(h, &null, 1)
        elif i < 3:
            h = fnv(h, row.text[i], row.size[i])
        else:
            h = fnv(h, <const unsigned char *>&row.num[i - 3], 8)
        h = fnv(h, &sep, 1)
    return h


cdef inline void add_print(Print *p, int64_t row_id, uint64_t h) noexcept nogil:
    p.count += 1
    if p.count == 1 or row_id > p.max_id:
        p.max_id = row_id
    p.hash += h


class SQLiteError(Exception):
    """The file could not be opened or read (the message is SQLite's)."""


cdef bytes _uri(str path):
    return ("file:" + path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
            + "?mode=ro").encode("utf-8", "surrogateescape")


def record_prints(str path not None, int timeout_ms=10000):
    """domain id → (rows, highest id, hash) of every zone's ``records`` rows."""
    cdef sqlite3 *db = NULL
    cdef sqlite3_stmt *stmt = NULL
    cdef int rc
    cdef int64_t domain_id, last = -1
    cdef Print p
    cdef Row row
    cdef dict out = {}
    p.count = 0
    try:
        _prepare(path, ALL_QUERY, timeout_ms, &db, &stmt)
        while True:
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE:
                break
            if rc != SQLITE_ROW:
                raise SQLiteError(_message(db))
            domain_id = sqlite3_column_int64(stmt, 0)
            if domain_id != last:
                if p.count:
                    _merge(out, last, &p)
                p.count = p.hash = 0
                p.max_id = 0
                last = domain_id
            read_row(stmt, 2, &row)
            add_print(&p, sqlite3_column_int64(stmt, 1), row_hash(&row))
        if p.count:
            _merge(out, last, &p)
        return out
    finally:
        sqlite3_finalize(stmt)
        sqlite3_close_v2(db)


cdef void _merge(dict out, int64_t domain_id, const Print *p):
    """Add ``p`` to what ``out`` has for the domain (its rows need not be contiguous)."""
    have = out.get(domain_id)
    if have is None:
        out[domain_id] = (p.count, p.max_id, p.hash)
    else:
        out[domain_id] = (have[0] + p.count, max(have[1], p.max_id),
                          (have[2] + p.hash) & 0xFFFFFFFFFFFFFFFF)


# -- the domains table: its fingerprint, and its rows ------------------------------------

cdef const char *DOMAINS_QUERY = b"SELECT id, name, type, master, account FROM domains"
cdef const char *DOMAINS_AFTER = (b"SELECT id, name, type, master, account FROM domains "
                                  b"WHERE id > ?")


cdef uint64_t domain_hash(sqlite3_stmt *stmt) noexcept nogil:
    """The hash of a ``domains`` row's listed columns (id, name, type, master, account);
    NULL and empty differ."""
    cdef uint64_t h = 14695981039346656037ULL
    cdef unsigned char sep = 0x1f
    cdef unsigned char null = 0
    cdef int64_t domain_id = sqlite3_column_int64(stmt, 0)
    cdef const unsigned char *text
    cdef int i
    h = fnv(h, <const unsigned char *>&domain_id, 8)
    for i in range(1, 5):
        h = fnv(h, &sep, 1)
        text = NULL if sqlite3_column_type(stmt, i) == SQLITE_NULL \
            else sqlite3_column_text(stmt, i)
        if text == NULL:
            h = fnv(h, &null, 1)
        else:
            h = fnv(h, text, sqlite3_column_bytes(stmt, i))
    return h


def domain_prints(str path not None, int64_t split, int timeout_ms=10000):
    """((rows, highest id, hash) of every ``domains`` row, the same of those with an id up
    to ``split``), from one scan: what tells whether the listing moved, and whether only
    rows were added after ``split``."""
    cdef sqlite3 *db = NULL
    cdef sqlite3_stmt *stmt = NULL
    cdef int rc
    cdef int64_t domain_id
    cdef uint64_t h
    cdef Print total, below
    total.count = total.hash = below.count = below.hash = 0
    total.max_id = below.max_id = 0
    try:
        _prepare(path, DOMAINS_QUERY, timeout_ms, &db, &stmt)
        with nogil:
            while True:
                rc = sqlite3_step(stmt)
                if rc != SQLITE_ROW:
                    break
                domain_id = sqlite3_column_int64(stmt, 0)
                h = domain_hash(stmt)
                add_print(&total, domain_id, h)
                if domain_id <= split:
                    add_print(&below, domain_id, h)
        if rc != SQLITE_DONE:
            raise SQLiteError(_message(db))
        return ((total.count, total.max_id, total.hash),
                (below.count, below.max_id, below.hash))
    finally:
        sqlite3_finalize(stmt)
        sqlite3_close_v2(db)


cdef object _column_text(sqlite3_stmt *stmt, int col):
    if sqlite3_column_type(stmt, col) == SQLITE_NULL:
        return None
    cdef const unsigned char *text = sqlite3_column_text(stmt, col)
    if text == NULL:
        return ""
    return text[:sqlite3_column_bytes(stmt, col)].decode("utf-8", "replace")


def read_domains(str path not None, int64_t after, int timeout_ms=10000):
    """(the ``domains`` rows with an id above ``after`` as (id, name, type, master,
    account), and their (rows, highest id, hash) as domain_prints takes them)."""
    cdef sqlite3 *db = NULL
    cdef sqlite3_stmt *stmt = NULL
    cdef int rc
    cdef int64_t domain_id
    cdef Print p
    cdef list rows = []
    p.count = p.hash = 0
    p.max_id = 0
    try:
        _prepare(path, DOMAINS_AFTER, timeout_ms, &db, &stmt)
        sqlite3_bind_int64(stmt, 1, after)
        while True:
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE:
                break
            if rc != SQLITE_ROW:
                raise SQLiteError(_message(db))
            domain_id = sqlite3_column_int64(stmt, 0)
            add_print(&p, domain_id, domain_hash(stmt))
            rows.append((domain_id, _column_text(stmt, 1), _column_text(stmt, 2),
                         _column_text(stmt, 3), _column_text(stmt, 4)))
        return rows, (p.count, p.max_id, p.hash)
    finally:
        sqlite3_finalize(stmt)
        sqlite3_close_v2(db)


# -- one zone's rows: read by one thread, compiled by another ---------------------------

cdef enum:
    BATCH_ROWS = 8192             # rows a batch holds: a smaller zone is read in one
    ROW_HEAD = 8 * 3 + 1 + 4 * 3  # id, ttl, prio, has prio, then the lengths of the texts
    NO_MEMORY = -1                # Batch.rc when a batch could not grow


cdef class Batch:
    """Served rows, copied out of SQLite: [id ttl prio (int64)] [has prio (u8)]
    [lengths of name, type, content (u32)] [name type content], one after the other."""
    cdef uint8_t *buf
    cdef size_t len, cap
    cdef uint32_t rows
    cdef int rc                   # after the fill: SQLITE_ROW (more to come), SQLITE_DONE,
                                  # an SQLite error or NO_MEMORY

    def __dealloc__(self):
        free(self.buf)


cdef class ZoneRows:
    """The SELECT of one zone's rows, and the fingerprint of every row it has stepped over
    (served or not)."""
    cdef sqlite3 *db
    cdef sqlite3_stmt *stmt
    cdef Print print_

    def __dealloc__(self):
        sqlite3_finalize(self.stmt)
        sqlite3_close_v2(self.db)

    cdef void fill(self, Batch b) noexcept nogil:
        """Step on until ``b`` holds BATCH_ROWS served rows or the rows end."""
        cdef Row row
        cdef int64_t row_id, v
        cdef size_t need
        cdef uint8_t *at
        cdef uint32_t n
        cdef int i
        b.len = 0
        b.rows = 0
        while b.rows < BATCH_ROWS:
            b.rc = sqlite3_step(self.stmt)
            if b.rc != SQLITE_ROW:
                return
            row_id = sqlite3_column_int64(self.stmt, 0)
            read_row(self.stmt, 1, &row)
            add_print(&self.print_, row_id, row_hash(&row))
            if row.null[1] or row.null[5] or row.num[2]:
                continue              # an empty non-terminal, or not disabled = 0 (PowerDNS)
            need = b.len + ROW_HEAD + row.size[0] + row.size[1] + row.size[2]
            if need > b.cap and not _grow(b, need):
                b.rc = NO_MEMORY
                return
            at = b.buf + b.len
            memcpy(at, &row_id, 8)
            memcpy(at + 8, &row.num[0], 8)
            memcpy(at + 16, &row.num[1], 8)
            at[24] = not row.null[4]
            at += 25
            for i in range(3):
                n = <uint32_t>row.size[i]
                memcpy(at, &n, 4)
                at += 4
            for i in range(3):
                memcpy(at, row.text[i], row.size[i])
                at += row.size[i]
            b.len = need
            b.rows += 1
        b.rc = SQLITE_ROW

    def fill_on(self, empty, full):
        """Fill the batches ``empty`` gives (None: stop) into ``full``, without the GIL while
        SQLite is read: in a thread of its own, beside the compiler."""
        cdef Batch b
        while True:
            b = empty.get()
            if b is None:
                return
            with nogil:
                self.fill(b)
            full.put(b)
            if b.rc != SQLITE_ROW:
                return


cdef bint _a_quarter_of_the_table(sqlite3 *db, int64_t domain_id) except -1:
    """Does the zone hold at least a quarter of the rows of ``records`` (by its highest
    rowid)? Counted on the index, and no further than that quarter."""
    cdef sqlite3_stmt *stmt = NULL
    cdef int64_t quarter = 0, count = 0
    try:
        if sqlite3_prepare_v2(db, TABLE_SIZE, -1, &stmt, NULL) != SQLITE_OK:
            raise SQLiteError(_message(db))
        if sqlite3_step(stmt) == SQLITE_ROW:
            quarter = sqlite3_column_int64(stmt, 0) // 4
        sqlite3_finalize(stmt)
        stmt = NULL
        if sqlite3_prepare_v2(db, ZONE_ROWS_UP_TO, -1, &stmt, NULL) != SQLITE_OK:
            raise SQLiteError(_message(db))
        sqlite3_bind_int64(stmt, 1, domain_id)
        sqlite3_bind_int64(stmt, 2, quarter)
        if sqlite3_step(stmt) == SQLITE_ROW:
            count = sqlite3_column_int64(stmt, 0)
        return quarter > 0 and count >= quarter
    finally:
        sqlite3_finalize(stmt)


cdef bint _grow(Batch b, size_t need) noexcept nogil:
    cdef size_t cap = b.cap * 2 if b.cap else 1 << 20
    cdef uint8_t *p
    while cap < need:
        cap *= 2
    p = <uint8_t *>realloc(b.buf, cap)
    if p == NULL:
        return False
    b.buf = p
    b.cap = cap
    return True


def read_records(str path not None, int64_t domain_id, StoreSink sink not None,
                 list warnings not None, int timeout_ms=10000):
    """Add the served rows of ``domain_id`` in the SQLite file ``path`` to ``sink`` (not
    disabled, type not NULL), as fastdns.zone._rows.add_rows would; (rows read, rows
    skipped, the fingerprint of all the zone's rows as record_prints gives it).

    The first BATCH_ROWS rows are read here; the rest of a larger zone by a thread that
    reads SQLite while this one compiles what it read before (a second core halves the
    time of a million rows)."""
    cdef ZoneRows reader = ZoneRows()
    cdef Batch b = Batch()
    cdef uint64_t counts[2]
    cdef uint8_t *scratch = <uint8_t *>malloc(RDATA_ROOM)
    if scratch == NULL:
        raise MemoryError()
    counts[0] = counts[1] = 0
    reader.print_.count = reader.print_.hash = 0
    reader.print_.max_id = 0
    thread = None
    empty = queue.SimpleQueue()         # batches for the thread to fill
    try:
        _prepare(path, ZONE_QUERY, timeout_ms, &reader.db, &reader.stmt)
        sqlite3_bind_int64(reader.stmt, 1, domain_id)
        reader.fill(b)
        if b.rc == SQLITE_ROW and _a_quarter_of_the_table(reader.db, domain_id):
            # a large share of the table: read it whole (nothing was compiled yet)
            sqlite3_finalize(reader.stmt)
            reader.stmt = NULL
            if sqlite3_prepare_v2(reader.db, ZONE_SCAN, -1, &reader.stmt, NULL) != SQLITE_OK:
                raise SQLiteError(_message(reader.db))
            sqlite3_bind_int64(reader.stmt, 1, domain_id)
            reader.print_.count = reader.print_.hash = 0
            reader.print_.max_id = 0
            reader.fill(b)
        if b.rc == SQLITE_ROW:        # more than a batch: a thread reads on
            full = queue.SimpleQueue()
            empty.put(Batch())
            empty.put(Batch())
            thread = threading.Thread(target=reader.fill_on, args=(empty, full),
                                      name="sqlite-rows", daemon=True)
            thread.start()
        while True:
            if b.rc != SQLITE_ROW and b.rc != SQLITE_DONE:
                if b.rc == NO_MEMORY:
                    raise MemoryError()
                if thread is not None:
                    thread.join()
                raise SQLiteError(_message(reader.db))
            _add_batch(b, sink, warnings, scratch, counts)
            if b.rc == SQLITE_DONE:
                break
            empty.put(b)
            b = full.get()
        p = reader.print_
        return counts[0], counts[1], (p.count, p.max_id, p.hash) if p.count else None
    finally:
        if thread is not None:
            empty.put(None)           # the thread stops at its next batch, at the latest
            thread.join()
        free(scratch)


cdef int _add_batch(Batch b, StoreSink sink, list warnings, uint8_t *scratch,
                    uint64_t *counts) except -1:
    """Hand the rows of ``b`` to the compiler; counts: rows read, rows left out."""
    cdef const uint8_t *at = b.buf
    cdef const uint8_t *text[3]
    cdef uint32_t size[3]
    cdef int64_t row_id, ttl, prio
    cdef bint has_prio
    cdef int i
    cdef uint32_t k
    for k in range(b.rows):
        memcpy(&row_id, at, 8)
        memcpy(&ttl, at + 8, 8)
        memcpy(&prio, at + 16, 8)
        has_prio = at[24]
        at += 25
        for i in range(3):
            memcpy(&size[i], at, 4)
            at += 4
        for i in range(3):
            text[i] = at
            at += size[i]
        _take_row(sink, row_id, text, size, ttl, has_prio, prio, warnings, scratch, counts)
    return 0


cdef int _take_row(StoreSink sink, int64_t row_id, const uint8_t **text,
                   const uint32_t *size, int64_t ttl, bint has_prio, int64_t prio,
                   list warnings, uint8_t *scratch, uint64_t *counts) except -1:
    """Hand one served row (name, type, content in ``text``) to the compiler, with its
    warning if it is left out; counts: rows read, rows left out."""
    cdef const char *why = NULL
    cdef int r
    counts[0] += 1
    r = add_row(sink, text[0], size[0], text[1], size[1], text[2], size[2], ttl,
                has_prio, prio, <uint32_t>row_id, scratch, &why)
    if r < 0:
        counts[1] += 1
    if len(warnings) >= WARNINGS_LISTED:
        return 0                                  # counted: the caller says how many more
    if r < 0:
        warnings.append(row_warning(
            row_id, _text(text[0], size[0]), _text(text[1], size[1]),
            _text(text[2], size[2]), why.decode(), r == ROW_BROKEN))
    elif r == 1 and why != NULL:
        warnings.append(f"records.id={row_id}: {why.decode()}")
    return 0


# -- every zone's rows in one scan ------------------------------------------------------

def read_zones(str path not None, int64_t first, int64_t last, begin not None,
               end not None, int timeout_ms=10000):
    """The rows of every zone with an id from ``first`` to ``last`` in one scan of
    ``records`` in domain id order (the index the one-zone SELECT uses, so a zone's rows
    come in the same order). For each zone that has rows: ``begin(domain_id)`` gives
    (StoreSink, warnings) to add its served rows to, as read_records adds them (or None:
    the rows are stepped over), then ``end(domain_id, rows read, rows left out,
    fingerprint, error)`` once its rows are read, the fingerprint as read_records takes
    it (of all its rows) and ``error`` the ValueError of a store's limit that stopped
    the reading of the zone's rows (the rest of them stepped over), or None.

    Rows are read with SQLite's C API straight into the compiler, holding the GIL but
    letting other threads run every YIELD_EVERY rows (the manager loads zones beside its
    event loop). Raises SQLiteError when the file cannot be read (the zones whose rows
    ended before were handed to ``end`` already)."""
    cdef sqlite3 *db = NULL
    cdef sqlite3_stmt *stmt = NULL
    cdef int rc, i
    cdef int64_t domain_id, row_id, current = 0
    cdef bint open_ = False
    cdef Print p
    cdef Row row
    cdef uint64_t counts[2]
    cdef uint32_t size[3]
    cdef uint64_t stepped = 0
    cdef StoreSink sink = None
    cdef list warnings = None
    cdef object error = None
    cdef uint8_t *scratch = <uint8_t *>malloc(RDATA_ROOM)
    if scratch == NULL:
        raise MemoryError()
    try:
        _prepare(path, ZONES_QUERY, timeout_ms, &db, &stmt)
        sqlite3_bind_int64(stmt, 1, first)
        sqlite3_bind_int64(stmt, 2, last)
        while True:
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE:
                break
            if rc != SQLITE_ROW:
                raise SQLiteError(_message(db))
            stepped += 1
            if stepped % YIELD_EVERY == 0:
                let_others_run()
            domain_id = sqlite3_column_int64(stmt, 0)
            if not open_ or domain_id != current:
                if open_:
                    _end_zone(end, current, counts, &p, error)
                    sink = None
                    warnings = None
                    error = None
                open_ = True
                p.count = p.hash = 0
                p.max_id = 0
                current = domain_id
                counts[0] = counts[1] = 0
                taken = begin(domain_id)
                if taken is not None:
                    sink, warnings = taken
            row_id = sqlite3_column_int64(stmt, 1)
            read_row(stmt, 2, &row)
            add_print(&p, row_id, row_hash(&row))
            if sink is None or row.null[1] or row.null[5] or row.num[2]:
                continue              # not wanted; an empty non-terminal, or disabled
            for i in range(3):
                size[i] = <uint32_t>row.size[i]
            try:
                _take_row(sink, row_id, row.text, size, row.num[0], not row.null[4],
                          row.num[1], warnings, scratch, counts)
            except ValueError as exc:             # the store's limits: this zone only
                error = exc
                sink = None
        if open_:
            _end_zone(end, current, counts, &p, error)
    finally:
        sqlite3_finalize(stmt)
        sqlite3_close_v2(db)
        free(scratch)


cdef int _end_zone(end, int64_t domain_id, const uint64_t *counts, const Print *p,
                   object error) except -1:
    end(domain_id, counts[0], counts[1], (p.count, p.max_id, p.hash) if p.count else None,
        error)
    return 0


cdef str _text(const unsigned char *p, int n):
    return (<const char *>p)[:n].decode("utf-8", "backslashreplace")


cdef int _prepare(str path, const char *sql, int timeout_ms, sqlite3 **db,
                  sqlite3_stmt **stmt) except -1:
    """Open ``path`` read-only and prepare ``sql`` on it (the caller finalizes and closes
    both, whatever happened)."""
    if sqlite3_open_v2(_uri(path), db, OPEN_FLAGS, NULL) != SQLITE_OK:
        raise SQLiteError(_message(db[0]))
    sqlite3_busy_timeout(db[0], timeout_ms)
    if sqlite3_prepare_v2(db[0], sql, -1, stmt, NULL) != SQLITE_OK:
        raise SQLiteError(_message(db[0]))
    return 0


cdef str _message(sqlite3 *db):
    if db == NULL:
        return "out of memory"
    return sqlite3_errmsg(db).decode("utf-8", "backslashreplace")

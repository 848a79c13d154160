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
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastdns.zone._masterfile cimport WARNINGS_LISTED, StoreSink
from fastdns.zone._rdata cimport RDATA_ROOM
from fastdns.zone._rows cimport ROW_BROKEN, add_row

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


def read_records(str path not None, int64_t domain_id, StoreSink sink not None,
                 list warnings not None, int timeout_ms=10000):
    """Add the served rows of ``domain_id`` in the SQLite file ``path`` to ``sink`` (not
    disabled, type not NULL), as fastdns.zone._rows.add_rows would; (rows read, rows
    skipped, the fingerprint of all the zone's rows as record_prints gives it)."""
    cdef sqlite3 *db = NULL
    cdef sqlite3_stmt *stmt = NULL
    cdef uint8_t *scratch = <uint8_t *>malloc(RDATA_ROOM)
    cdef Print p
    cdef Row row
    cdef const char *why
    cdef int rc, r
    cdef int64_t row_id
    cdef uint64_t count = 0, skipped = 0
    if scratch == NULL:
        raise MemoryError()
    p.count = p.hash = 0
    p.max_id = 0
    try:
        _prepare(path, ZONE_QUERY, timeout_ms, &db, &stmt)
        sqlite3_bind_int64(stmt, 1, domain_id)
        while True:
            rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE:
                break
            if rc != SQLITE_ROW:
                raise SQLiteError(_message(db))
            row_id = sqlite3_column_int64(stmt, 0)
            read_row(stmt, 1, &row)
            add_print(&p, row_id, row_hash(&row))
            if row.null[1] or row.null[5] or row.num[2]:
                continue              # an empty non-terminal, or not disabled = 0 (PowerDNS)
            why = NULL
            count += 1
            r = add_row(sink, row.text[0], row.size[0], row.text[1], row.size[1],
                        row.text[2], row.size[2], row.num[0], not row.null[4], row.num[1],
                        <uint32_t>row_id, scratch, &why)
            if r < 0:
                skipped += 1
            if len(warnings) >= WARNINGS_LISTED:
                continue                          # counted: the caller says how many more
            if r < 0:
                warnings.append(row_warning(
                    row_id, _text(row.text[0], row.size[0]), _text(row.text[1], row.size[1]),
                    _text(row.text[2], row.size[2]), why.decode(), r == ROW_BROKEN))
            elif r == 1 and why != NULL:
                warnings.append(f"records.id={row_id}: {why.decode()}")
        return count, skipped, (p.count, p.max_id, p.hash) if p.count else None
    finally:
        sqlite3_finalize(stmt)
        sqlite3_close_v2(db)
        free(scratch)


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

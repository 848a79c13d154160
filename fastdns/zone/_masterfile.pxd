# fastdns.zone._masterfile: the C side of the master-file reader (see the .pyx docstring).

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from fastdns.zone._imagebuild cimport RecordStore

ctypedef struct Buf:
    uint8_t *p
    Py_ssize_t n
    Py_ssize_t cap

ctypedef struct Text:
    const uint8_t *p
    Py_ssize_t n

cdef enum:
    WARNINGS_LISTED = 100        # warnings kept per zone (the rest counted): a file or a table
                                 # of broken records does not become a million log lines

ctypedef struct FileState:
    const uint8_t *buf
    Py_ssize_t len
    Py_ssize_t pos
    uint32_t line
    uint32_t file                # number in the reader's ``files``
    uint8_t origin[256]          # the origin when it was opened (PowerDNS does not restore
    int origin_len               # it after an $INCLUDE: a change is warned of)


cdef class Sink:
    """Where records go: a RecordStore (the server) or a list (fastdns-util)."""
    cdef bint wants_comments
    # 0: taken; -1: broken (``why`` says why); 1: left out on purpose (``why`` says why)
    cdef int record(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl,
                    const uint8_t *content, Py_ssize_t clen, uint32_t file, uint32_t line,
                    Text comment, const char **why) except -2


cdef class StoreSink(Sink):
    cdef RecordStore store
    cdef uint8_t apex[256]
    cdef int apex_len
    cdef uint8_t apex_lk[256]
    cdef int apex_lklen
    # the owner of the last SQL row, as text and in wire form (fastdns.zone._rows)
    cdef uint8_t last_text[1024]
    cdef Py_ssize_t last_text_len
    cdef uint8_t last[256]
    cdef int last_len
    cdef readonly uint64_t lua            # LUA records left out (PowerDNS serves none either)
    cdef bint zone_file                   # records of a zone file (PowerDNS's bind backend)
    cdef readonly uint64_t denial         # ... NSEC, NSEC3 and NSEC3PARAM of it, left out

    # keep a record whose rdata (``n`` octets) is in the store's room; as Sink.record
    cdef int add(self, const uint8_t *owner, int olen, uint16_t rdtype, uint32_t ttl, int n,
                 uint32_t file, uint32_t line, const char **why) except -2


cdef class Parser:
    cdef Sink sink
    cdef list data                       # the text of every file being read (kept alive)
    cdef FileState fs[21]
    cdef int depth                       # files open: fs[0 .. depth - 1]
    cdef uint8_t origin[256]             # $ORIGIN, wire form
    cdef int origin_len
    cdef uint8_t zone_lk[256]            # the zone's apex, lookup key
    cdef bytes apex_wire                 # ... and as given, wire form
    cdef int zone_lklen
    cdef uint8_t prev[256]               # the owner of the previous record (-1: none)
    cdef int prev_len
    cdef bint prev_inside                # ... known to be at or below the zone's apex
    cdef bint origin_inside              # the origin is at or below the zone's apex
    cdef uint32_t default_ttl
    cdef bint dollar_ttl
    cdef readonly bint origin_set        # a $ORIGIN was read
    cdef bint allow_include
    cdef bint ignore_broken
    cdef bint zone_only                  # an owner outside the zone is a broken record
    cdef uint64_t max_generate_steps
    cdef int max_include_depth
    cdef object open_include
    # $GENERATE
    cdef bytes tpl
    cdef list tpl_parts                  # (start, end) of each part of ``tpl``
    cdef uint32_t tpl_counter, tpl_stop, tpl_step, tpl_file, tpl_line
    cdef bint tpl_active
    cdef Buf content, scratch, gen
    cdef Buf origin_text                 # the origin as PowerDNS writes it, no trailing dot
    cdef readonly list files             # file names, as records' ``file`` numbers index them
    cdef dict file_ids                   # file name -> its number in ``files``
    cdef readonly list warnings          # the first WARNINGS_LISTED of them
    cdef readonly uint64_t unlisted      # ... and how many more there were
    cdef readonly uint64_t records       # records handed to the sink
    cdef readonly uint64_t skipped       # broken records left out (bind-ignore-broken-records)

    cdef int _push(self, bytes data, str name, str where) except -1
    cdef int next_line(self, Text *line, uint32_t *file, uint32_t *lineno) except -1
    cdef int statement(self, Text line, uint32_t file, uint32_t lineno) except -1
    cdef int directive(self, Text line, uint32_t file, uint32_t lineno) except -1
    cdef object canonical(self, uint16_t rdtype, uint32_t file, uint32_t lineno,
                          const char **why)
    cdef object _canon(self, Text t, const char **why)
    cdef object _swap(self)
    cdef int _owner(self, Text t, uint8_t *out, const char **why) except -2
    cdef int _origin_moved(self) except -1
    cdef Text rest(self, Text data, bint plain) except *
    cdef int warn(self, str text) except -1
    cdef int broken(self, uint32_t file, uint32_t lineno, str why) except -1
    cdef int _generate(self, Text line, Text spec, Py_ssize_t template_at,
                       str where) except -1
    cdef int generated(self) except -1

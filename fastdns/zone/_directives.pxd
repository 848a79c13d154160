# fastdns.zone._directives: what the directives of a master file govern (see the .pyx
# docstring): the files being read ($INCLUDE), the origin ($ORIGIN), the default TTL
# ($TTL), the $GENERATE template, and what is said about them. The master-file Parser
# (fastdns.zone._masterfile) reads records on top of it.

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastdns.zone._generate cimport Generate
from fastdns.zone._zonetext cimport Buf, Text

cdef enum:
    INCLUDE_DEPTH = 20            # PowerDNS's max-include-depth

ctypedef struct FileState:
    const uint8_t *buf
    Py_ssize_t len
    Py_ssize_t pos
    uint32_t line
    uint32_t file                # number in the reader's ``files``
    uint8_t origin[256]          # the origin when it was opened (PowerDNS does not restore
    int origin_len               # it after an $INCLUDE: a change is warned of)


cdef class Directives:
    # the files being read: fs[0 .. depth - 1], the innermost last ($INCLUDE)
    cdef list data                       # the text of every file being read (kept alive)
    cdef FileState fs[21]
    cdef int depth
    cdef readonly list files             # file names, as records' ``file`` numbers index them
    cdef dict file_ids                   # file name -> its number in ``files``
    cdef bint allow_include
    cdef object open_include
    cdef int max_include_depth
    # the zone
    cdef uint8_t zone_lk[256]            # the zone's apex, lookup key
    cdef int zone_lklen
    cdef bytes apex_wire                 # ... and as given, wire form
    cdef bint zone_only                  # an owner outside the zone is a broken record
    # the origin ($ORIGIN)
    cdef uint8_t origin[256]             # wire form
    cdef int origin_len
    cdef Buf origin_text                 # the origin as PowerDNS writes it, no trailing dot
    cdef bint origin_inside              # the origin is at or below the zone's apex
    cdef readonly bint origin_set        # a $ORIGIN was read
    # $TTL
    cdef uint32_t default_ttl
    cdef bint dollar_ttl
    # $GENERATE
    cdef Generate generate
    cdef uint64_t max_generate_steps
    # what is said about the files
    cdef bint ignore_broken
    cdef readonly list warnings          # the first WARNINGS_LISTED of them
    cdef readonly uint64_t unlisted      # ... and how many more there were
    cdef readonly uint64_t skipped       # broken records left out (bind-ignore-broken-records)

    cdef int _push(self, bytes data, str name, str where) except -1
    cdef int next_line(self, Text *line, uint32_t *file, uint32_t *lineno) except -1
    cdef int directive(self, Text line, uint32_t file, uint32_t lineno) except -1
    cdef int _include(self, Text line, Py_ssize_t pos, Text arg, str where) except -1
    cdef int _origin_moved(self) except -1
    cdef int _owner(self, Text t, uint8_t *out, const char **why) except -2
    cdef int warn(self, str text) except -1
    cdef int broken(self, uint32_t file, uint32_t lineno, str why) except -1

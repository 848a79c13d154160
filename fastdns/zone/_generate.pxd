# fastdns.zone._generate: the $GENERATE directive of master files (see the .pyx docstring).

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastdns.zone._zonetext cimport Buf, Text


cdef class Generate:
    cdef bytes tpl                       # the template: the rest of the $GENERATE line
    cdef list parts                      # (start, end) of each part of ``tpl``
    cdef uint32_t counter, stop, step
    cdef uint32_t file, line             # where the $GENERATE is (its records' place)
    cdef bint active                     # lines are left to give
    cdef Buf out                         # the line given last

    # Take ``start-stop[/step]`` and the template: None, or why they cannot be used.
    cdef object start(self, Text spec, Text template, uint64_t max_steps, uint32_t file,
                      uint32_t line)
    # The next line of the template (in ``out``): 1, or 0 when the range is done.
    cdef int next_line(self, Text *line) except -1
    cdef int _part(self, const uint8_t *tpl, Py_ssize_t start, Py_ssize_t end) except -1

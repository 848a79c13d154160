# fastdns._gil: a moment without the GIL in the long loops of a zone load.
#
# The manager reads and compiles zones in a thread beside its event loop. Compiled code
# holding the GIL never gives it up on its own (only the bytecode loop honours the other
# thread's request), so a million-record zone would freeze the loop for a second. The loops
# of the reader and the compiler call let_others_run() every YIELD_EVERY records: a thread
# that has waited for the GIL (its request is set after the 5 ms switch interval) takes
# it then; without one waiting, releasing and taking it back costs tens of nanoseconds.

cdef extern from "Python.h":
    ctypedef struct PyThreadState
    PyThreadState *PyEval_SaveThread() noexcept
    void PyEval_RestoreThread(PyThreadState *state) noexcept

cdef enum:
    YIELD_EVERY = 4096


cdef inline void let_others_run() noexcept:
    PyEval_RestoreThread(PyEval_SaveThread())

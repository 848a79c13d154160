# fastdns._udp: the per-packet path of a worker (L2): cache, engine, counters, parked
# queries (kept by fastdns._parking), batched UDP.

from cpython.ref cimport PyObject
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastdns._answer cimport Result
from fastdns._engine cimport Engine
from fastdns._pcache cimport PacketCache
from fastdns._shm cimport Row, SharedRows
from fastdns._query cimport Query
from fastdns._parking cimport (Dest, ParkingLot, Parked, RESPOND_PARKED, RESPOND_HANDOFF,
                              sockaddr, socklen_t)

cdef extern from "<sys/socket.h>" nogil:
    struct sockaddr_storage:
        unsigned short ss_family
    struct iovec:
        void *iov_base
        size_t iov_len
    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags
    struct mmsghdr:
        msghdr msg_hdr
        unsigned int msg_len
    struct timespec
    int recvmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags, timespec *timeout)
    int sendmmsg(int fd, mmsghdr *msgs, unsigned int vlen, int flags)
    enum:
        MSG_DONTWAIT
        MSG_WAITFORONE
        MSG_TRUNC
        AF_INET
        AF_INET6

cdef enum:
    VLEN = 32                 # datagrams per recvmmsg/sendmmsg
    BATCHES = 8               # batches per wake-up, then the event loop runs again
    SLOT = 65536              # room per datagram, in and out
    LATENCY_SAMPLE = 16       # one computed answer in this many is timed (``latency``)

cdef class Responder:
    cdef readonly Engine engine
    cdef readonly PacketCache cache         # None: no packet cache
    cdef SharedRows _rows                   # keeps the shared mapping alive
    cdef Row *row
    cdef Row _own                           # the row used when there is no shared one
    cdef object _on_error                   # called with the exception, rate limiting is its job
    cdef object _on_handoff                 # called with a UDP query the manager answers
    cdef public bytes handed                # the TCP query handed off last (its connection goes too)
    cdef ParkingLot parking                 # queries waiting for data from outside the zones
    cdef uint64_t _computed                 # answers computed (the latency sample's clock)
    cdef uint8_t _out[SLOT]
    cdef uint8_t *_tcp                      # framed TCP answers being gathered
    cdef Py_ssize_t _tcp_size

    cdef int respond(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                     uint8_t *out, uint32_t now, const Dest *dest) noexcept
    cdef int solve(self, const Query *q, const uint8_t *packet, Py_ssize_t length, bint tcp,
                   bint v6, uint8_t *out, uint32_t now, const Dest *dest,
                   uint64_t deadline) noexcept
    cdef int guarded(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                     bint tcp, int limit, uint32_t now, uint8_t *out, Result *res) noexcept
    cdef int hand_off(self, const uint8_t *packet, Py_ssize_t length,
                      const Dest *dest) noexcept
    cdef int rerun(self, Parked p, uint32_t now, uint8_t *out) noexcept
    cdef void report(self, object exc) noexcept
    cdef void note_remote(self, const sockaddr *addr) noexcept nogil
    cdef bint tcp_reserve(self, Py_ssize_t size) noexcept

cdef class UdpReader:
    cdef int fd
    cdef bint v6
    cdef Responder responder
    cdef mmsghdr inmsg[VLEN]
    cdef mmsghdr outmsg[VLEN]
    cdef iovec iov_in[VLEN]
    cdef iovec iov_out[VLEN]
    cdef sockaddr_storage addrs[VLEN]
    cdef uint8_t *inbuf
    cdef uint8_t *outbuf
    cdef volatile bint stopping

    cdef int receive(self, int flags) noexcept nogil
    cdef int answer_batch(self, int n, uint32_t now) noexcept
    cdef int send(self, int nout) noexcept nogil
    cdef void expire_parked(self) noexcept

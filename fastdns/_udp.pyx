# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A worker's per-packet path: packet cache, answer engine and counters, and the UDP reader
that drains its socket in batches (recvmmsg/sendmmsg).

A cache hit is C all the way: parse, key, copy, patch the ID and the query's qname case,
count, send. Only a miss calls the engine, and only the engine's own bookkeeping touches
Python objects.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.errno cimport errno, EAGAIN, EINTR
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memset, strerror

from fastdns.consts cimport *
from fastdns._wire cimport Query, parse_query, PQ_OK, PQ_DROP, PQ_FORMERR, MSG_MAX
from fastdns._pcache cimport make_key, key_hash, KEY_MAX
from fastdns._shm cimport *

cdef extern from "<time.h>" nogil:
    struct timespec_t "timespec":
        long tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec_t *ts)
    enum:
        CLOCK_MONOTONIC
        CLOCK_MONOTONIC_COARSE

cdef extern from "<netinet/in.h>" nogil:
    struct in_addr:
        uint32_t s_addr
    struct sockaddr_in:
        unsigned short sin_family
        unsigned short sin_port
        in_addr sin_addr
    struct in6_addr:
        uint8_t s6_addr[16]
    struct sockaddr_in6:
        unsigned short sin6_family
        unsigned short sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr


cdef inline uint32_t clock_seconds() noexcept nogil:
    cdef timespec_t ts
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return <uint32_t>ts.tv_sec


cdef inline uint64_t clock_usec() noexcept nogil:
    cdef timespec_t ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000000 + <uint64_t>(ts.tv_nsec // 1000)


def monotonic_seconds():
    """The clock the packet cache runs on (whole seconds)."""
    return clock_seconds()


cdef int servfail(const uint8_t *packet, Py_ssize_t length, uint8_t *out) noexcept nogil:
    """A bare SERVFAIL (header only) for a query the engine failed on; -1 to drop."""
    if length < 12 or packet[2] & 0x80:
        return -1
    out[0] = packet[0]
    out[1] = packet[1]
    out[2] = 0x80 | (packet[2] & 0x79)
    out[3] = (packet[3] & 0x10) | RCODE_SERVFAIL
    memset(out + 4, 0, 8)
    return 12


cdef class Responder:
    """Answers one packet: from the packet cache, or from the engine (then cached).

    ``rows``/``slot`` give the shared counters row this process writes; without them the
    counters are private (tests). ``on_error`` is called with an exception the engine
    raised (the answer is then SERVFAIL).
    """

    def __init__(self, Engine engine not None, PacketCache cache=None, SharedRows rows=None,
                 int slot=0, on_error=None):
        self.engine = engine
        self.cache = cache
        self._rows = rows
        self._on_error = on_error
        memset(&self._own, 0, sizeof(Row))
        if rows is not None:
            if not 0 <= slot < rows.nrows:
                raise IndexError(f"slot {slot} outside the shared rows")
            self.row = rows.row(slot)
        else:
            self.row = &self._own

    def set_engine(self, Engine engine not None):
        self.engine = engine

    cdef int respond(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                     uint8_t *out, uint32_t now) noexcept:
        """Write the response to ``packet`` into ``out``: its length, or -1 to drop it."""
        cdef Row *row = self.row
        cdef Query q
        cdef int status = parse_query(packet, length, &q)
        cdef int limit, n, klen = 0, rcode
        cdef uint8_t key[KEY_MAX]
        cdef uint64_t h = 0, t0, us
        cdef bint cacheable
        if tcp:
            row.c[C_TCP_QUERIES] += 1
            row.c[C_TCP6_QUERIES if v6 else C_TCP4_QUERIES] += 1
        else:
            row.c[C_UDP_QUERIES] += 1
            row.c[C_UDP6_QUERIES if v6 else C_UDP4_QUERIES] += 1
        if status == PQ_DROP or status == PQ_FORMERR:
            row.c[C_CORRUPT_PACKETS] += 1
            if status == PQ_DROP:
                return -1
        if q.has_question:
            row_query(row, q.qtype)
        if q.flags & FLAG_RD:
            row.c[C_RD_QUERIES] += 1
        if not tcp and q.has_edns and q.edns_flags & EDNS_DO:
            row.c[C_UDP_DO_QUERIES] += 1
        cacheable = (self.cache is not None and status == PQ_OK and q.opcode == OPCODE_QUERY
                     and q.tsig_off < 0 and not (q.has_edns and q.edns_version > 0)
                     and q.ancount == 0 and q.nscount == 0 and q.qclass == CLASS_IN)
        if cacheable:
            if tcp:
                limit = MSG_MAX
            elif q.has_edns:
                limit = q.udp_size if q.udp_size < self.engine._udp_limit \
                    else self.engine._udp_limit
                if limit < EDNS_MIN_UDP:
                    limit = EDNS_MIN_UDP
            else:
                limit = EDNS_MIN_UDP
            klen = make_key(&q, tcp, limit, key)
            h = key_hash(key, klen)
            n = self.cache.get(key, klen, h, now, out)
            if n >= 0:
                out[0] = packet[0]                      # the query's ID
                out[1] = packet[1]
                memcpy(out + 12, q.qname, q.qname_len)  # and its qname, as it wrote it
                row.c[C_PACKETCACHE_HIT] += 1
                self.count_answer(n, out[3] & 0xF, tcp, v6)
                return n
            row.c[C_PACKETCACHE_MISS] += 1
        t0 = clock_usec()
        n = self.guarded(packet, length, tcp, v6, out, now)
        if n < 0:
            return -1
        us = clock_usec() - t0
        # PowerDNS's latency: a moving average, in microseconds, of the answers computed
        row.c[C_LATENCY] = (row.c[C_LATENCY] * 127 + us) // 128
        rcode = out[3] & 0xF
        if cacheable and self.engine.last_tag != 0:
            self.cache.put(key, klen, h, out, n, now, self.engine.last_tag,
                           self.engine.last_multi)
            row.c[C_PACKETCACHE_SIZE] = self.cache.count
        self.count_answer(n, rcode, tcp, v6)
        return n

    cdef void count_answer(self, int n, int rcode, bint tcp, bint v6) noexcept nogil:
        cdef Row *row = self.row
        if tcp:
            row.c[C_TCP_ANSWERS] += 1
            row.c[C_TCP_ANSWERS_BYTES] += n
            row.c[C_TCP6_ANSWERS if v6 else C_TCP4_ANSWERS] += 1
            row.c[C_TCP6_ANSWERS_BYTES if v6 else C_TCP4_ANSWERS_BYTES] += n
        else:
            row.c[C_UDP_ANSWERS] += 1
            row.c[C_UDP_ANSWERS_BYTES] += n
            row.c[C_UDP6_ANSWERS if v6 else C_UDP4_ANSWERS] += 1
            row.c[C_UDP6_ANSWERS_BYTES if v6 else C_UDP4_ANSWERS_BYTES] += n
        if rcode == RCODE_SERVFAIL:
            row.c[C_SERVFAIL_PACKETS] += 1
        row_answer(row, n, rcode)

    cdef int guarded(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                     uint8_t *out, uint32_t now) noexcept:
        """The engine's answer; an exception inside it is SERVFAIL and a report."""
        try:
            return self.engine.c_answer(packet, length, tcp, out)
        except Exception as exc:      # the I/O edge: nothing may take the worker down
            if self._on_error is not None:
                try:
                    self._on_error(exc)
                except Exception:
                    pass
            return servfail(packet, length, out)

    cdef void note_remote(self, const sockaddr *addr) noexcept nogil:
        cdef Row *row = self.row
        cdef uint8_t *slot = row.remotes[row.remote_next % REMOTES]
        if addr.sa_family == AF_INET:
            memset(slot, 0, 10)
            slot[10] = 0xFF
            slot[11] = 0xFF
            memcpy(slot + 12, &(<const sockaddr_in *>addr).sin_addr, 4)
        elif addr.sa_family == AF_INET6:
            memcpy(slot, &(<const sockaddr_in6 *>addr).sin6_addr, 16)
        else:
            return
        row.remote_next += 1

    # -- Python side: TCP, tests -----------------------------------------------------------

    def answer(self, const uint8_t[:] packet not None, bint tcp=False, bint v6=False,
               remote=None, now=None):
        """The response to ``packet`` (bytes), or None to drop it. ``remote`` is the
        client's address as 16 octets (IPv4 mapped), for ``remotes``."""
        cdef int n
        cdef uint32_t t = clock_seconds() if now is None else now
        cdef const uint8_t[:] r
        if packet.shape[0] == 0:
            self.row.c[C_CORRUPT_PACKETS] += 1
            return None
        if remote is not None and len(remote) == 16:
            r = remote
            memcpy(self.row.remotes[self.row.remote_next % REMOTES], &r[0], 16)
            self.row.remote_next += 1
        n = self.respond(&packet[0], packet.shape[0], tcp, v6, self._out, t)
        if n < 0:
            return None
        return PyBytes_FromStringAndSize(<char *>self._out, n)

    def answer_stream(self, const uint8_t[:] data not None, bint v6=False, remote=None,
                      Py_ssize_t max_count=-1):
        """Answer every complete length-prefixed query at the start of ``data`` (a TCP
        stream, RFC 1035 §4.2.2), in order.

        Returns (answers, consumed, count, stop): the framed answers as one bytes object,
        the octets of ``data`` used, the queries answered, and whether the connection must
        be closed once the answers are sent — a zero length or a message that is not a
        query (no way to go on), or ``max_count`` answers given.
        """
        cdef Py_ssize_t n = data.shape[0]
        cdef Py_ssize_t pos = 0, used = 0, count = 0
        cdef uint32_t now = clock_seconds()
        cdef int size, m
        cdef bint stop = False
        cdef const uint8_t[:] r
        cdef bint note = remote is not None and len(remote) == 16
        if note:
            r = remote
        while n - pos >= 2 and not stop:
            if max_count >= 0 and count >= max_count:
                stop = True
                break
            size = (data[pos] << 8) | data[pos + 1]
            if size == 0:
                stop = True
                break
            if n - pos - 2 < size:
                break
            if not self.tcp_reserve(used + 2 + SLOT):
                raise MemoryError()
            if note:
                memcpy(self.row.remotes[self.row.remote_next % REMOTES], &r[0], 16)
                self.row.remote_next += 1
            m = self.respond(&data[pos + 2], size, True, v6, self._tcp + used + 2, now)
            pos += 2 + size
            if m < 0:
                stop = True           # not a query: the stream is not DNS
                break
            self._tcp[used] = m >> 8
            self._tcp[used + 1] = m & 0xFF
            used += 2 + m
            count += 1
        if max_count >= 0 and count >= max_count:
            stop = True
        return PyBytes_FromStringAndSize(<char *>self._tcp, used), pos, count, stop

    cdef bint tcp_reserve(self, Py_ssize_t size) noexcept:
        cdef uint8_t *grown
        cdef Py_ssize_t capacity = self._tcp_size or SLOT * 2
        if size <= self._tcp_size:
            return True
        while capacity < size:
            capacity *= 2
        grown = <uint8_t *>realloc(self._tcp, capacity)
        if grown == NULL:
            return False
        self._tcp = grown
        self._tcp_size = capacity
        return True

    def __dealloc__(self):
        free(self._tcp)

    def counter(self, str name):
        """This responder's counter ``name`` (a PowerDNS metric name)."""
        from fastdns._shm import COUNTER_NAMES
        return self.row.c[COUNTER_NAMES.index(name)]

    def set_counter(self, str name, uint64_t value):
        from fastdns._shm import COUNTER_NAMES
        self.row.c[COUNTER_NAMES.index(name)] = value


cdef class UdpReader:
    """Drains a UDP socket in batches of VLEN datagrams: recvmmsg, answer each, sendmmsg.

    ``on_readable`` is the event loop's reader callback for the socket's descriptor.
    """

    def __cinit__(self):
        self.inbuf = NULL
        self.outbuf = NULL
        self.stopping = False

    def __init__(self, int fd, bint v6, Responder responder not None):
        cdef int i
        self.fd = fd
        self.v6 = v6
        self.responder = responder
        self.inbuf = <uint8_t *>malloc(VLEN * SLOT)
        self.outbuf = <uint8_t *>malloc(VLEN * SLOT)
        if self.inbuf == NULL or self.outbuf == NULL:
            raise MemoryError()
        memset(self.inmsg, 0, sizeof(self.inmsg))
        memset(self.outmsg, 0, sizeof(self.outmsg))
        for i in range(VLEN):
            self.iov_in[i].iov_base = self.inbuf + i * SLOT
            self.iov_in[i].iov_len = SLOT
            self.inmsg[i].msg_hdr.msg_iov = &self.iov_in[i]
            self.inmsg[i].msg_hdr.msg_iovlen = 1
            self.inmsg[i].msg_hdr.msg_name = &self.addrs[i]
            self.outmsg[i].msg_hdr.msg_iovlen = 1

    def __dealloc__(self):
        free(self.inbuf)
        free(self.outbuf)

    cdef int receive(self, int flags) noexcept nogil:
        """One recvmmsg into the input slots: the datagrams read, or -1 (errno set)."""
        cdef int i
        for i in range(VLEN):
            self.inmsg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage)
            self.inmsg[i].msg_hdr.msg_flags = 0
        return recvmmsg(self.fd, self.inmsg, VLEN, flags, NULL)

    cdef int answer_batch(self, int n, uint32_t now) noexcept:
        """Write the answers to the ``n`` datagrams just read into the output slots: how
        many there are to send."""
        cdef int i, m
        cdef int nout = 0
        cdef Responder responder = self.responder
        cdef Row *row = responder.row
        for i in range(n):
            responder.note_remote(<const sockaddr *>&self.addrs[i])
            if self.inmsg[i].msg_hdr.msg_flags & MSG_TRUNC:
                row.c[C_UDP_QUERIES] += 1
                row.c[C_CORRUPT_PACKETS] += 1
                continue
            m = responder.respond(self.inbuf + i * SLOT, self.inmsg[i].msg_len, False,
                                  self.v6, self.outbuf + nout * SLOT, now)
            if m < 0:
                continue
            self.iov_out[nout].iov_base = self.outbuf + nout * SLOT
            self.iov_out[nout].iov_len = m
            self.outmsg[nout].msg_hdr.msg_iov = &self.iov_out[nout]
            self.outmsg[nout].msg_hdr.msg_name = &self.addrs[i]
            self.outmsg[nout].msg_hdr.msg_namelen = self.inmsg[i].msg_hdr.msg_namelen
            nout += 1
        return nout

    cdef int send(self, int nout) noexcept nogil:
        """sendmmsg the first ``nout`` output slots (more calls if one stops short): how
        many could not be sent (a full send buffer loses them, as the kernel would)."""
        cdef int r, sent = 0
        while sent < nout:
            r = sendmmsg(self.fd, self.outmsg + sent, nout - sent, MSG_DONTWAIT)
            if r < 0 and errno == EINTR:
                continue
            if r <= 0:
                break
            sent += r
        return nout - sent

    def on_readable(self):
        """Answer what the socket holds (up to BATCHES batches); the datagrams read."""
        cdef int batch, n
        cdef int total = 0
        cdef uint32_t now = clock_seconds()
        for batch in range(BATCHES):
            n = self.receive(MSG_DONTWAIT)
            if n <= 0:
                break
            total += n
            self.responder.row.c[C_UDP_SNDBUF_ERRORS] += self.send(self.answer_batch(n, now))
            if n < VLEN:
                break
        return total

    def serve(self):
        """Block in recvmmsg and answer, batch after batch, until ``stop()``; for a thread
        of its own. The GIL is held only while a batch's answers are computed, exactly as
        on_readable computes them; sending them and waiting for the next batch let go of
        it. The socket must be blocking, with a receive timeout: the longest ``stop()``
        waits."""
        cdef int n, lost = 0, nout = 0, error = 0
        cdef Row *row = self.responder.row
        while True:
            with nogil:
                lost = self.send(nout)
                n = -1 if self.stopping else self.receive(MSG_WAITFORONE)
                error = errno
            row.c[C_UDP_SNDBUF_ERRORS] += lost
            nout = 0
            if n < 0:
                if self.stopping:
                    return
                if error != EAGAIN and error != EINTR:
                    raise OSError(error, strerror(error).decode())
                continue
            nout = self.answer_batch(n, clock_seconds())

    def stop(self):
        """Make ``serve()`` return after its current wait."""
        self.stopping = True

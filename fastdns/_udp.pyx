# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A worker's per-packet path: packet cache, answer engine and counters, parked queries,
and the UDP reader that drains its socket in batches (recvmmsg/sendmmsg).

A query is parsed once. A cache hit is C all the way: parse, key, copy, patch the ID and the
query's qname case, count, send. A miss gives the parsed query to the engine, which makes no
Python object either unless the answer needs data from outside the zones.

Such a query ends in the engine's WAITING state: it is parked (a copy of the packet, and the
client's address for UDP or a ``reply`` callable for TCP) until what it waits for is
supplied (``Responder.supply``: the engine is run again and the answer sent), or until its
deadline (``wait_timeout``), when it is answered SERVFAIL and counted in
``parked-timeouts``. The first query to wait for a (name, type) calls ``on_wait`` with it:
that is where the worker asks a resolver, or another process.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.ref cimport PyObject
from libc.errno cimport errno, EAGAIN, EINTR
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memset, strerror

from fastdns.consts cimport *
from fastdns._query cimport Query, parse_query, PQ_OK, PQ_DROP, PQ_FORMERR
from fastdns._answer cimport Result, RS_ANSWERED, RS_WAITING, RS_DROP, RS_HANDOFF, answer_limit
from fastdns._engine cimport Engine
from fastdns._supply cimport supply_key
from fastdns._pcache cimport make_key, key_hash, pc_prefetch, KEY_MAX
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


cdef inline uint64_t clock_msec() noexcept nogil:
    cdef timespec_t ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000 + <uint64_t>(ts.tv_nsec // 1000000)


def monotonic_seconds():
    """The clock the packet cache and supplied data run on (whole seconds)."""
    return clock_seconds()


def monotonic_msec():
    """The clock of parked queries' deadlines (milliseconds)."""
    return clock_msec()


cdef class Responder:
    """Answers one packet: from the packet cache, or from the engine (then offered to the
    cache), or later, when what it waits for is supplied (a parked query).

    ``rows``/``slot`` give the shared counters row this process writes; without them the
    counters are private (tests). ``on_error`` is called with an exception the engine
    raised (the answer is then SERVFAIL), or one ``on_wait`` or a ``reply`` raised.
    ``on_wait(name, qtype)`` is called when a query starts to wait for the records of
    (name, qtype) and none waited for them already: it must not block (the worker hands
    the request to its event loop). A parked query waits ``wait_timeout`` seconds at most;
    at most ``max_parked`` wait at once (one more is SERVFAIL at once).

    A query the engine hands off (RS_HANDOFF: transfers, NOTIFY, TSIG) gets no answer here.
    Over UDP ``on_handoff(packet, sockaddr, fd)`` is called with it, the client's address
    (a raw sockaddr) and the socket it came in on, which the manager answers from; over TCP
    the stream stops at it and ``handed`` holds it: its connection is the manager's.
    """

    def __init__(self, Engine engine not None, PacketCache cache=None, SharedRows rows=None,
                 int slot=0, on_error=None, *, on_wait=None, double wait_timeout=2.0,
                 Py_ssize_t max_parked=10000, on_handoff=None):
        self.engine = engine
        self.cache = cache
        self._rows = rows
        self._on_error = on_error
        self._on_handoff = on_handoff
        self.handed = None
        self.parking = ParkingLot(wait_timeout, max_parked, on_wait, on_error)
        memset(&self._own, 0, sizeof(Row))
        if rows is not None:
            if not 0 <= slot < rows.nrows:
                raise IndexError(f"slot {slot} outside the shared rows")
            self.row = rows.row(slot)
        else:
            self.row = &self._own
        self.parking.row = self.row

    @property
    def parked(self):
        """Queries parked now."""
        return self.parking.parked

    @property
    def wait_ms(self):
        return self.parking.wait_ms

    @property
    def max_parked(self):
        return self.parking.max_parked

    def set_engine(self, Engine engine not None):
        self.engine = engine

    def set_cache(self, PacketCache cache):
        """Answer from ``cache`` from now on (None: no packet cache)."""
        self.cache = cache

    # -- the per-packet path -----------------------------------------------------------------

    cdef int respond(self, const uint8_t *packet, Py_ssize_t length, bint tcp, bint v6,
                     uint8_t *out, uint32_t now, const Dest *dest) noexcept:
        """Write the response to ``packet`` into ``out``: its length, -1 to drop it, or
        RESPOND_PARKED when it waits (to be answered through ``dest``; with ``dest`` NULL
        a query that would wait is SERVFAIL at once)."""
        cdef Query q
        parse_query(packet, length, &q)
        row_count_query(self.row, &q, tcp, v6)
        if q.status == PQ_DROP:
            return -1
        return self.solve(&q, packet, length, tcp, v6, out, now, dest, 0)

    cdef int solve(self, const Query *q, const uint8_t *packet, Py_ssize_t length, bint tcp,
                   bint v6, uint8_t *out, uint32_t now, const Dest *dest,
                   uint64_t deadline) noexcept:
        """respond() after the parse. ``deadline`` is a parked query's, run again (0: a new
        query)."""
        cdef Row *row = self.row
        cdef PacketCache cache = self.cache     # held: set_cache may swap it meanwhile
        cdef int limit = answer_limit(q, tcp, self.engine.udp_limit)
        cdef int n, klen = 0
        cdef uint8_t key[KEY_MAX]
        cdef uint64_t h = 0, t0 = 0
        cdef Result res
        cdef bint timed
        cdef bint keyed = (cache is not None and q.status == PQ_OK
                           and q.opcode == OPCODE_QUERY and q.tsig_off < 0
                           and not (q.has_edns and q.edns_version > 0)
                           and q.ancount == 0 and q.nscount == 0 and q.qclass == CLASS_IN)
        if keyed:
            klen = make_key(q, tcp, limit, key)
            h = key_hash(key, klen)
            pc_prefetch(cache, h)
            n = cache.get(key, klen, h, now, out)
            if n >= 0:
                out[0] = packet[0]                      # the query's ID
                out[1] = packet[1]
                memcpy(out + 12, q.qname, q.qname_len)  # and its qname, as it wrote it
                row.c[C_PACKETCACHE_HIT] += 1
                row_count_answer(self.row, n, out[3] & 0xF, tcp, v6)
                return n
            row.c[C_PACKETCACHE_MISS] += 1
        # PowerDNS's latency: a moving average, in microseconds, of the answers computed;
        # one in LATENCY_SAMPLE is timed (two clock reads cost more than a NXDOMAIN)
        self._computed += 1
        timed = (self._computed & (LATENCY_SAMPLE - 1)) == 0
        if timed:
            t0 = clock_usec()
        if self.guarded(q, packet, length, tcp, limit, now, out, &res) != RS_ANSWERED:
            if res.state == RS_WAITING:
                return self.parking.wait(self.engine, q, packet, length, tcp, v6, limit, out,
                                         &res, dest, deadline, clock_msec())
            if res.state == RS_HANDOFF:
                return self.hand_off(packet, length, dest)
            return -1
        if timed:
            row.c[C_LATENCY] = (row.c[C_LATENCY] * 15 + (clock_usec() - t0)) // 16
        if keyed and res.cacheable:
            if cache.offer(key, klen, h, out, res.length, now, res.tag, res.multi):
                row.c[C_PACKETCACHE_SIZE] = cache.count
            else:
                row.c[C_PACKETCACHE_NOT_ADMITTED] += 1
        row_count_answer(self.row, res.length, res.rcode & 0xF, tcp, v6)
        return res.length

    cdef int hand_off(self, const uint8_t *packet, Py_ssize_t length,
                      const Dest *dest) noexcept:
        """Give a query to the manager: a UDP one through ``on_handoff`` (nothing to
        send: -1), a TCP one to ``handed`` (RESPOND_HANDOFF: its connection follows)."""
        cdef bytes data = PyBytes_FromStringAndSize(<const char *>packet, length)
        if dest != NULL and dest.fd >= 0:
            if self._on_handoff is not None:
                try:
                    self._on_handoff(data, PyBytes_FromStringAndSize(
                        <const char *>dest.addr, dest.addrlen), dest.fd)
                except Exception as exc:
                    self.report(exc)
            return -1
        self.handed = data
        return RESPOND_HANDOFF

    cdef int guarded(self, const Query *q, const uint8_t *packet, Py_ssize_t length,
                     bint tcp, int limit, uint32_t now, uint8_t *out, Result *res) noexcept:
        """The engine's answer; an exception inside it is SERVFAIL and a report."""
        try:
            return self.engine.c_answer(q, packet, length, tcp, limit, now, out, res)
        except Exception as exc:      # the I/O edge: nothing may take the worker down
            self.report(exc)
        res.length = self.engine.c_error(q, packet, length, tcp, limit, RCODE_SERVFAIL, out)
        res.state = RS_ANSWERED if res.length >= 0 else RS_DROP
        res.rcode = RCODE_SERVFAIL
        res.cacheable = False
        return res.state

    cdef void report(self, object exc) noexcept:
        if self._on_error is not None:
            try:
                self._on_error(exc)
            except Exception:
                pass

    # -- parked queries ------------------------------------------------------------------------

    def supply(self, name, int qtype, rdatas, uint32_t ttl=0, now=None):
        """Keep the records of (``name``, ``qtype``) in the engine (Engine.supply: None for
        a failed lookup, which is SERVFAIL) and answer the queries parked for them. The
        number of parked queries answered."""
        cdef uint32_t t = clock_seconds() if now is None else now
        self.engine.supply(name, qtype, rdatas, ttl, now=t)
        return self.resume(name, qtype, t)

    def resume(self, name, int qtype, now=None):
        """Run the engine again for the queries parked on (``name``, ``qtype``), and send
        their answers (a query that now waits for something else is parked again, with its
        deadline); the number answered."""
        cdef uint32_t t = clock_seconds() if now is None else now
        cdef bytes wire = bytes(name)
        cdef list waiting = self.parking.take(supply_key(wire, len(wire), qtype))
        cdef Parked p
        cdef int answered = 0
        if waiting is None:
            return 0
        for p in waiting:
            if self.parking.release(p) and self.rerun(p, t, self._out) != RESPOND_PARKED:
                answered += 1
        self.parking.settle()
        return answered

    def fail(self, name, int qtype):
        """Answer SERVFAIL now to the queries parked on (``name``, ``qtype``): what they
        wait for will not come (a signer has no active key for their signature). Counted in
        ``parked-timeouts``; the number answered."""
        cdef bytes wire = bytes(name)
        return self.parking.fail(self.engine, supply_key(wire, len(wire), qtype), self._out)

    cdef int rerun(self, Parked p, uint32_t now, uint8_t *out) noexcept:
        """Answer a parked query again through the engine (and send it)."""
        cdef Query q
        cdef Dest dest
        cdef const uint8_t *packet = <const uint8_t *>PyBytes_AS_STRING(p.packet)
        cdef Py_ssize_t length = len(p.packet)
        cdef int n
        p.dest(&dest)
        parse_query(packet, length, &q)
        n = self.solve(&q, packet, length, p.tcp, p.v6, out, now, &dest, p.deadline)
        if n >= 0:
            self.parking.deliver(&dest, out, n)
        return n

    def expire(self, now_ms=None):
        """Answer SERVFAIL to the parked queries whose deadline has passed (at
        ``now_ms``, CLOCK_MONOTONIC milliseconds); the number answered. The UDP readers do
        it themselves at every wake-up (at most their socket's receive timeout apart); a
        worker calls it from a timer for the rest."""
        return self.parking.expire_due(self.engine, clock_msec() if now_ms is None else now_ms,
                                       self._out)

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
               remote=None, now=None, reply=None):
        """The response to ``packet`` (bytes), or None: to drop it, or, given ``reply``,
        when the query waits (``reply`` is called with its response later). Without
        ``reply`` a query that would wait is SERVFAIL at once. ``remote`` is the client's
        address as 16 octets (IPv4 mapped), for ``remotes``."""
        cdef int n
        cdef uint32_t t = clock_seconds() if now is None else now
        cdef const uint8_t[:] r
        cdef Dest dest
        if packet.shape[0] == 0:
            self.row.c[C_CORRUPT_PACKETS] += 1
            return None
        if remote is not None and len(remote) == 16:
            r = remote
            memcpy(self.row.remotes[self.row.remote_next % REMOTES], &r[0], 16)
            self.row.remote_next += 1
        dest.fd = -1
        dest.addr = NULL
        dest.addrlen = 0
        dest.reply = <PyObject *>reply
        n = self.respond(&packet[0], packet.shape[0], tcp, v6, self._out, t,
                         &dest if reply is not None else NULL)
        if n < 0:
            return None
        return PyBytes_FromStringAndSize(<char *>self._out, n)

    def answer_stream(self, const uint8_t[:] data not None, bint v6=False, remote=None,
                      Py_ssize_t max_count=-1, reply=None):
        """Answer every complete length-prefixed query at the start of ``data`` (a TCP
        stream, RFC 1035 §4.2.2), in order.

        Returns (answers, consumed, count, stop): the framed answers as one bytes object,
        the octets of ``data`` used, the queries taken, and whether the connection must
        be closed once the answers are sent — a zero length or a message that is not a
        query (no way to go on), or ``max_count`` queries taken. A query that waits is
        left out of ``answers``: ``reply`` is called with its response (unframed) later,
        out of order as RFC 7766 §6.2.1.1 allows; without ``reply`` it is SERVFAIL at once.
        """
        cdef Py_ssize_t n = data.shape[0]
        cdef Py_ssize_t pos = 0, used = 0, count = 0
        cdef uint32_t now = clock_seconds()
        cdef int size, m
        cdef bint stop = False
        cdef const uint8_t[:] r
        cdef bint note = remote is not None and len(remote) == 16
        cdef Dest dest
        dest.fd = -1
        dest.addr = NULL
        dest.addrlen = 0
        dest.reply = <PyObject *>reply
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
            m = self.respond(&data[pos + 2], size, True, v6, self._tcp + used + 2, now,
                             &dest if reply is not None else NULL)
            pos += 2 + size
            if m == RESPOND_PARKED:
                count += 1
                continue
            if m == RESPOND_HANDOFF:
                count += 1
                stop = True           # the connection is the manager's from this query on
                break
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
        many there are to send (a query that waits is parked with its client's address,
        and answered from this socket later)."""
        cdef int i, m
        cdef int nout = 0
        cdef Responder responder = self.responder
        cdef Row *row = responder.row
        cdef Dest dest
        dest.fd = self.fd
        dest.reply = NULL
        for i in range(n):
            responder.note_remote(<const sockaddr *>&self.addrs[i])
            if self.inmsg[i].msg_hdr.msg_flags & MSG_TRUNC:
                row.c[C_UDP_QUERIES] += 1
                row.c[C_CORRUPT_PACKETS] += 1
                continue
            dest.addr = <const sockaddr *>&self.addrs[i]
            dest.addrlen = self.inmsg[i].msg_hdr.msg_namelen
            m = responder.respond(self.inbuf + i * SLOT, self.inmsg[i].msg_len, False,
                                  self.v6, self.outbuf + nout * SLOT, now, &dest)
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

    cdef void expire_parked(self) noexcept:
        """Answer the parked queries whose deadline passed (the output slots are free)."""
        if self.responder.parking.parked:
            self.responder.parking.expire_due(self.responder.engine, clock_msec(),
                                              self.outbuf)

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
        self.expire_parked()
        return total

    def serve(self):
        """Block in recvmmsg and answer, batch after batch, until ``stop()``; for a thread
        of its own. The GIL is held only while a batch's answers are computed, exactly as
        on_readable computes them; sending them and waiting for the next batch let go of
        it. The socket must be blocking, with a receive timeout: the longest ``stop()``
        waits, and how late a parked query's deadline may be noticed."""
        cdef int n, lost = 0, nout = 0, error = 0
        cdef Row *row = self.responder.row
        while True:
            with nogil:
                lost = self.send(nout)
                n = -1 if self.stopping else self.receive(MSG_WAITFORONE)
                error = errno
            row.c[C_UDP_SNDBUF_ERRORS] += lost
            nout = 0
            self.expire_parked()
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

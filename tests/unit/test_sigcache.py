"""The signature cache shared by every process (fastdns._sigcache): round trips of every
signature size, the key function (SipHash-2-4-128 against the reference vectors, per seed),
LRU per bucket, a flood larger than the cache that keeps the hot keys and never empties it,
bad input, garbage and held slots in the region, and forked writers and readers hammering one
region, every value read checked against the value derived from its key."""

import mmap
import os
import random
import struct
import time

import pytest

from fastdns._sigcache import SIG_MAX, SMALL_MAX, WAYS, SigCache

SEED = bytes(range(16))
HEADER = 256                  # SC_HEADER
META = 64                     # a bucket's first line: tags, then last-use times
SMALL_SLOT = 128
SMALL_BUCKET = META + WAYS * SMALL_SLOT
#: SipHash-2-4, 128-bit output, key 00..0f, input 00..(n-1): vectors_sip128 of the
#: reference implementation (veorq/SipHash vectors.h)
SIP128 = {
    0: "a3817f04ba25a8e66df67214c7550293",
    1: "da87c1d86b99af44347659119b22fc45",
    7: "a1f1ebbed8dbc153c0b84aa61ff08239",
    8: "3b62a9ba6258f5610f83e264f31497b4",
    15: "5493e99933b0a8117e08ec0f97cfc3d9",
    16: "6ee2a4ca67b054bbfd3315bf85230577",
    63: "5150d1772f50834a503e069a973fbd7c",
}


def open_cache(entries: int, large: int | None = None, seed: bytes | None = SEED):
    fd = SigCache.create(entries, large, seed)
    return fd, SigCache(fd)


@pytest.fixture
def cache():
    fd, c = open_cache(4096, 4096)
    yield c
    c.close()
    os.close(fd)


def value(key: bytes) -> bytes:
    """The signature a test stores under ``key``: its length (1..512) and every octet
    follow from the key, so a value torn between two keys' never passes for either."""
    n = 1 + int.from_bytes(key[:2], "little") % SIG_MAX
    return (key * 33)[:n]


def bucket_of(c: SigCache, key: bytes) -> int:
    return (int.from_bytes(key[:8], "little") * (c.capacity // WAYS)) >> 64


def slot_offset(c: SigCache, region: mmap.mmap, key: bytes) -> int:
    """Where ``key``'s slot of the small table lies in the region."""
    bucket = HEADER + bucket_of(c, key) * SMALL_BUCKET
    for way in range(WAYS):
        at = bucket + META + way * SMALL_SLOT
        if region[at + 8:at + 24] == key:
            return at
    raise AssertionError("key not in its bucket")


# -- round trips -------------------------------------------------------------------------


def test_every_signature_size_round_trips(cache):
    rng = random.Random(1)
    stored = {}
    for n in range(1, SIG_MAX + 1):
        key = cache.key(b"rrset %d" % n)
        sig = rng.randbytes(n)
        assert cache.put(key, sig, now=n)
        stored[key] = sig
    for key, sig in stored.items():
        assert cache.get(key, now=1000) == sig
    stats = cache.stats()
    assert stats["stores"] == SIG_MAX and stats["size"] == SIG_MAX
    assert stats["evictions"] == 0 and stats["bytes"] == cache.nbytes


@pytest.mark.parametrize("n", [64, 96, 104, 105, 114, 256, 384, 512])
def test_algorithm_sizes(cache, n):
    # P-256 and Ed25519 64, P-384 96 (small slots); Ed448 114, RSA 2048..4096 (large)
    key = cache.key(b"www.example.com. A %d" % n)
    sig = bytes(range(256)) * 2
    assert cache.put(key, sig[:n])
    assert cache.get(key) == sig[:n]
    assert cache.put(key, sig[1:n + 1])          # re-signed: the same way, a new value
    assert cache.get(key) == sig[1:n + 1]
    assert cache.stats()["size"] == 1 and cache.stats()["evictions"] == 0


def test_miss_and_other_mapping(cache):
    key = cache.key(b"a")
    assert cache.get(key) is None
    assert cache.put(key, b"s" * 64)
    other = SigCache(cache.fd)                     # a second process maps the same memfd
    assert other.get(key) == b"s" * 64
    assert other.key(b"a") == key
    assert other.get(cache.key(b"b")) is None
    other.close()


def test_sizes_and_memory():
    fd, c = open_cache(2000)
    assert c.capacity == 2000 and c.large_capacity == 128        # 2000/16, whole buckets
    assert c.nbytes == HEADER + 250 * SMALL_BUCKET + 16 * (META + WAYS * 536)
    assert 169 < c.entry_bytes < 172                              # 136 + 34, the header
    c.close()
    os.close(fd)
    fd, c = open_cache(1, 0)
    assert c.capacity == WAYS and c.large_capacity == 0
    assert not c.put(c.key(b"x"), b"r" * 256)                   # no large table: not stored
    assert c.put(c.key(b"x"), b"e" * 64)
    c.close()
    os.close(fd)


# -- the key -----------------------------------------------------------------------------


def test_key_is_siphash_2_4_128():
    fd, c = open_cache(8, seed=SEED)
    for n, expected in SIP128.items():
        assert c.key(bytes(range(n))).hex() == expected
    c.close()
    os.close(fd)


def test_key_per_seed():
    fd1, a = open_cache(8, seed=None)
    fd2, b = open_cache(8, seed=None)
    fd3, c = open_cache(8, seed=SEED)
    data = b"\x00\x0d" + b"signing input" * 20
    assert a.key(data) == a.key(data) and len(a.key(data)) == 16
    assert a.key(data) != b.key(data) != c.key(data)
    assert a.key(data) != a.key(data + b"\x00") and a.key(b"") != b.key(b"")
    assert SigCache(fd3).key(data) == c.key(data)
    for x in (a, b, c):
        x.close()
    for fd in (fd1, fd2, fd3):
        os.close(fd)


# -- eviction ----------------------------------------------------------------------------


def same_bucket_keys(n: int) -> list[bytes]:
    # a cache of one small bucket: every key lands in it
    return [struct.pack("<QQ", i * 0x9E3779B97F4A7C15 % 2**64, i + 1) for i in range(n)]


@pytest.mark.parametrize("start", [1, 2**32 - 5])       # the clock wraps in the middle
def test_lru_per_bucket(start):
    fd, c = open_cache(WAYS, 0)
    keys = same_bucket_keys(WAYS + 3)
    clock = start

    def tick() -> int:
        nonlocal clock
        clock = (clock + 1) % 2**32
        return clock

    for key in keys[:WAYS]:
        assert c.put(key, value(key)[:64], now=tick())
    assert c.get(keys[0], now=tick())                  # the oldest is used again
    assert c.put(keys[WAYS], value(keys[WAYS])[:64], now=tick())
    assert c.get(keys[1], now=clock) is None             # the least recently used went
    assert c.get(keys[0], now=clock) is not None
    assert c.put(keys[WAYS + 1], value(keys[WAYS + 1])[:64], now=tick())
    assert c.get(keys[2], now=clock) is None
    assert all(c.get(k, now=clock) is not None for k in [keys[0], *keys[3:WAYS + 2]])
    stats = c.stats()
    assert stats["evictions"] == 2 and stats["size"] == WAYS
    c.close()
    os.close(fd)


def test_flood_keeps_hot_keys_and_never_wipes():
    entries = 4096
    fd, c = open_cache(entries)
    hot = [c.key(b"hot %d" % i) for i in range(entries // 16)]
    clock = 1
    for key in hot:
        assert c.put(key, value(key)[:64], now=clock)
    recent: list[bytes] = []
    size = 0
    for i in range(4 * entries):                     # one-off signatures, four times the room
        clock += 1
        key = c.key(b"once %d" % i)
        assert c.put(key, value(key)[:SMALL_MAX], now=clock)
        recent.append(key)
        if i % 256 == 255:                            # the hot keys are asked for all along
            assert all(c.get(k, now=clock) == value(k)[:64] for k in hot)
            assert c.stats()["size"] >= size            # it never empties
            size = c.stats()["size"]
            if i > entries:
                last = recent[-256:]
                hits = sum(c.get(k, now=clock) is not None for k in last)
                assert hits >= 0.95 * len(last)        # and never wipes what came in last
    stats = c.stats()
    assert stats["size"] == entries                   # full, and still serving:
    assert stats["evictions"] == stats["stores"] - entries
    key = c.key(b"after")
    assert c.put(key, b"z" * 64, now=clock + 1) and c.get(key) == b"z" * 64
    c.close()
    os.close(fd)


# -- bad input ---------------------------------------------------------------------------


def test_bad_sizes(cache):
    key = cache.key(b"k")
    for bad in (b"", b"x" * (SIG_MAX + 1)):
        with pytest.raises(ValueError):
            cache.put(key, bad)
        assert cache._sc_put(key, bad) == -1            # the C API's answer
    assert cache._sc_put(key, b"x" * SIG_MAX) == 1
    for bad_key in (b"", b"k" * 15, b"k" * 17):
        with pytest.raises(ValueError):
            cache.get(bad_key)
        with pytest.raises(ValueError):
            cache.put(bad_key, b"s")
    with pytest.raises(ValueError):
        SigCache.create(0)
    with pytest.raises(ValueError):
        SigCache.create(8, seed=b"short")
    with pytest.raises(ValueError):
        SigCache.create(8, -1)


def test_not_a_cache_and_sealed(cache):
    fd = os.memfd_create("not-a-cache")
    os.ftruncate(fd, 4096)
    with pytest.raises(ValueError):
        SigCache(fd)
    os.close(fd)
    with pytest.raises(PermissionError):                # no process can pull its pages away
        os.ftruncate(cache.fd, HEADER)


def test_closed(cache):
    key = cache.key(b"k")
    cache.put(key, b"s")
    cache.close()
    with pytest.raises(ValueError):
        cache.get(key)
    cache.close()


def test_garbage_in_the_region_is_a_miss(cache):
    keys = [cache.key(b"g %d" % i) for i in range(64)]
    for key in keys:
        cache.put(key, value(key)[:64])
    region = mmap.mmap(cache.fd, cache.nbytes)
    for key in keys[:32]:                                 # lengths beyond the slot
        at = slot_offset(cache, region, key)
        region[at + 4:at + 6] = struct.pack("=H", 0xFFFF if key[0] & 1 else SMALL_MAX + 1)
    for key in keys[:32]:
        assert cache.get(key) is None
    assert all(cache.get(k) == value(k)[:64] for k in keys[32:])
    region[HEADER:] = os.urandom(cache.nbytes - HEADER)   # everything after the header
    for key in keys:
        got = cache.get(key)
        assert got is None or len(got) <= SIG_MAX
    region.close()


def test_a_held_way_is_passed_over():
    # a writer killed while it held a way leaves its sequence number odd for good
    fd, c = open_cache(WAYS, 0)
    key = c.key(b"k")
    assert c.put(key, b"a" * 64, now=1)
    region = mmap.mmap(fd, c.nbytes)
    at = slot_offset(c, region, key)
    seq = struct.unpack_from("=I", region, at)[0]
    struct.pack_into("=I", region, at, seq + 1)
    assert c.get(key) is None                            # a few tries, then a miss
    assert c.put(key, b"b" * 64, now=2)                 # stored in another way
    assert c.get(key) == b"b" * 64
    region.close()
    c.close()
    os.close(fd)


# -- many processes ----------------------------------------------------------------------


def _child(fd: int, writer: bool, keys: list[bytes], until: float, out: int) -> None:
    c = SigCache(fd)
    rng = random.Random(os.getpid())
    done = hits = bad = 0
    while time.monotonic() < until:
        for _ in range(500):
            key = rng.choice(keys)
            if writer:
                c.put(key, value(key), now=done)
            else:
                got = c.get(key, now=done)
                if got is not None:
                    hits += 1
                    if got != value(key):
                        bad += 1
            done += 1
    os.write(out, struct.pack("=QQQ", done, hits, bad))


def test_forked_writers_and_readers():
    # a small cache and many more keys than ways: writers evict and rewrite the very slots
    # readers are copying; a torn read would return a value that is no key's
    fd, c = open_cache(64, 64)
    keys = [c.key(b"key %d" % i) for i in range(400)]
    until = time.monotonic() + 2.5
    pids = []
    pipes = []
    for n in range(6):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                _child(fd, n % 2 == 0, keys, until, w)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        pids.append(pid)
        pipes.append((r, n % 2 == 0))
    results = []
    for (r, writer), pid in zip(pipes, pids, strict=True):
        data = os.read(r, 24)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        results.append((writer, *struct.unpack("=QQQ", data)))
    reads = sum(done for writer, done, _, _ in results if not writer)
    hits = sum(h for writer, _, h, _ in results if not writer)
    bad = sum(b for writer, _, _, b in results if not writer)
    writes = sum(done for writer, done, _, _ in results if writer)
    assert bad == 0, f"{bad} torn values in {hits} hits"
    assert writes > 10_000 and reads > 10_000 and hits > 1_000
    stats = c.stats()
    region = mmap.mmap(fd, c.nbytes, prot=mmap.PROT_READ)
    small_tags = [region[b:b + 4 * WAYS] for b in range(HEADER, HEADER + 8 * SMALL_BUCKET,
                                                          SMALL_BUCKET)]
    large = HEADER + 8 * SMALL_BUCKET
    large_tags = [region[b:b + 4 * WAYS] for b in range(large, c.nbytes, META + WAYS * 536)]
    region.close()
    in_use = sum(t != 0 for tags in small_tags + large_tags for t in struct.unpack("=8I", tags))
    assert stats["size"] == in_use                      # counted once per way filled
    assert stats["stores"] + stats["skipped"] == writes
    assert all(c.get(k) in (None, value(k)) for k in keys)
    c.close()
    os.close(fd)

"""The packet cache (fastdns._pcache) and the per-packet path around it (fastdns._udp.Responder):
what the key holds and what it leaves out, admission (an answer is kept the second time it is
asked for), lifetimes, LRU eviction, purge and zone invalidation, and answers from the cache
equal to the engine's apart from the ID."""

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest

from fastdns._engine import Engine
from fastdns._pcache import PacketCache
from fastdns._udp import Responder
from fastdns._wire import to_lk
from tests._support.zones import snapshot

ZONE = """\
$TTL 300
@       IN SOA ns1 hostmaster 1 7200 3600 1209600 30
@       NS  ns1
ns1     A   192.0.2.1
www     A   192.0.2.2
short 5 A   192.0.2.3
alias   CNAME www
*.wild  TXT "wild"
sub     NS  ns.sub
ns.sub  A   192.0.2.53
big     TXT {big}
""".format(big=" ".join(['"' + "x" * 200 + '"'] * 8))

OTHER = """\
$TTL 300
@   IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 600
@   NS  ns1.example.com.
www A   198.51.100.1
"""


def make(**cache):
    a = snapshot("example.com.", ZONE)
    a.tag = 1
    b = snapshot("example.org.", OTHER)
    b.tag = 2
    engine = Engine([a, b])
    pc = PacketCache(**cache) if cache is not None else None
    return engine, pc, Responder(engine, pc)


def wire(name, rdtype="A", **kw):
    return dns.message.make_query(name, rdtype, **kw).to_wire()


def with_id(packet: bytes, qid: int) -> bytes:
    return qid.to_bytes(2, "big") + packet[2:]


def fill(responder, packet: bytes, tcp: bool = False, now: int = 0) -> bytes:
    """Ask twice: the first answer is not kept (admission), the second is."""
    responder.answer(packet, tcp, now=now)
    return responder.answer(packet, tcp, now=now)


QUERIES = [
    ("www.example.com", "A", {}),
    ("WwW.ExAmPlE.cOm", "A", {}),
    ("alias.example.com", "A", {}),
    ("a.wild.example.com", "TXT", {}),
    ("A.WILD.example.com", "TXT", {"use_edns": 0}),
    ("nx.example.com", "A", {}),
    ("www.example.com", "AAAA", {"want_dnssec": True}),
    ("host.sub.example.com", "A", {}),
    ("big.example.com", "TXT", {}),                     # truncated at 512
    ("big.example.com", "TXT", {"use_edns": 0, "payload": 4096}),
    ("big.example.com", "TXT", {"use_edns": 0, "payload": 1232}),
    ("www.example.org", "A", {}),
]


@pytest.mark.parametrize("name,rdtype,kw", QUERIES)
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_hit_equals_miss_apart_from_the_id(name, rdtype, kw, tcp):
    engine, _pc, responder = make(max_entries=100)
    first = wire(name, rdtype, **kw)
    miss = fill(responder, first, tcp, now=10)
    assert responder.counter("packetcache-miss") == 2
    assert responder.counter("packetcache-not-admitted") == 1
    for qid in (1, 2, 65535):
        again = with_id(first, qid)
        hit = responder.answer(again, tcp, now=11)
        assert responder.counter("packetcache-hit") >= 1
        assert hit == engine.answer(again, tcp)
        assert hit[2:] == miss[2:] and hit[:2] == again[:2]


def test_the_querys_qname_case_is_echoed_on_a_hit():
    engine, _pc, responder = make()
    fill(responder, wire("www.example.com"), now=1)
    fill(responder, wire("A.WILD.EXAMPLE.COM", "TXT"), now=1)
    for name in ("WWW.EXAMPLE.COM", "wWw.eXaMpLe.CoM", "a.Wild.example.com"):
        query = wire(name, "TXT" if "wild" in name.lower() else "A")
        hits = responder.counter("packetcache-hit")
        hit = responder.answer(query, now=1)
        assert responder.counter("packetcache-hit") == hits + 1
        assert hit == engine.answer(query)
        response = dns.message.from_wire(hit)
        assert response.question[0].name.to_text().rstrip(".") == name
        assert response.answer[0].name.to_text().rstrip(".") == name


def test_key_separates_what_changes_the_answer():
    _, pc, responder = make()
    variants = [
        wire("www.example.com"),
        wire("www.example.com", "AAAA"),
        wire("www.example.com", use_edns=0),
        wire("www.example.com", want_dnssec=True),
        wire("www.example.com", use_edns=0, payload=600),
        # (a payload above udp-truncation-threshold is that threshold: no key of its own)
        wire("www.example.com", use_edns=0, options=[dns.edns.GenericOption(3, b"")]),
    ]
    no_rd = dns.message.make_query("www.example.com", "A")
    no_rd.flags &= ~dns.flags.RD
    variants.append(no_rd.to_wire())
    for packet in variants:
        fill(responder, packet, now=1)
    fill(responder, variants[0], True, now=1)        # TCP is its own entry
    assert len(pc) == len(variants) + 1
    assert responder.counter("packetcache-hit") == 0


def test_key_leaves_out_the_id_and_an_edns_cookie():
    _, pc, responder = make()
    cookie = dns.edns.GenericOption(10, b"\x01" * 8)
    fill(responder, wire("www.example.com", use_edns=0), now=1)
    answer = responder.answer(wire("www.example.com", use_edns=0, options=[cookie]), now=1)
    assert responder.counter("packetcache-hit") == 1
    assert len(pc) == 1
    assert dns.message.from_wire(answer).answer


def test_what_is_never_cached():
    _, pc, responder = make()
    refused = fill(responder, wire("www.example.net"), now=1)         # not our zone
    assert dns.message.from_wire(refused).rcode() == dns.rcode.REFUSED
    fill(responder, wire("version.bind", "TXT", rdclass="CH"), now=1)
    fill(responder, wire("www.example.com", "ANY"), now=1)            # any-to-tcp: no zone
    bad = dns.message.make_query("www.example.com", "A", use_edns=1)  # BADVERS
    fill(responder, bad.to_wire(), now=1)
    assert len(pc) == 0
    assert responder.counter("packetcache-not-admitted") == 0         # never offered


def test_lifetime_is_the_lowest_ttl_capped_by_cache_ttl():
    _, _pc, responder = make(ttl=20, neg_ttl=60)
    fill(responder, wire("short.example.com"), now=100)               # TTL 5
    fill(responder, wire("www.example.com"), now=100)                 # TTL 300 -> 20
    responder.answer(wire("short.example.com"), now=104)
    responder.answer(wire("www.example.com"), now=119)
    assert responder.counter("packetcache-hit") == 2
    responder.answer(wire("short.example.com"), now=105)
    responder.answer(wire("www.example.com"), now=120)
    assert responder.counter("packetcache-hit") == 2
    assert responder.counter("packetcache-miss") == 6


def test_negative_answers_live_negquery_cache_ttl_at_most():
    _, _pc, responder = make(ttl=20, neg_ttl=10)
    fill(responder, wire("nx.example.org"), now=0)       # SOA TTL 300, minimum 600 -> 300
    responder.answer(wire("nx.example.org"), now=9)
    assert responder.counter("packetcache-hit") == 1
    responder.answer(wire("nx.example.org"), now=10)
    assert responder.counter("packetcache-hit") == 1
    # the negative TTL of example.com is min(300, 30) = 30, then capped at 10
    fill(responder, wire("www.example.com", "MX"), now=0)
    responder.answer(wire("www.example.com", "MX"), now=10)
    assert responder.counter("packetcache-hit") == 1


def test_cache_ttl_0_means_no_entry():
    _, pc, responder = make(ttl=0, neg_ttl=0)
    for _ in range(3):
        responder.answer(wire("www.example.com"), now=0)
    assert len(pc) == 0 and responder.counter("packetcache-hit") == 0


def test_least_recently_used_goes_first():
    _, pc, responder = make(max_entries=3)
    names = ["www.example.com", "ns1.example.com", "alias.example.com", "www.example.org"]
    for name in names[:3]:
        fill(responder, wire(name), now=0)
    responder.answer(wire(names[0]), now=0)             # now the most recent
    fill(responder, wire(names[3]), now=0)              # evicts ns1, the least recent
    assert len(pc) == 3
    hits = responder.counter("packetcache-hit")
    responder.answer(wire(names[0]), now=0)
    assert responder.counter("packetcache-hit") == hits + 1
    responder.answer(wire(names[1]), now=0)
    assert responder.counter("packetcache-hit") == hits + 1


def test_table_grows_and_keeps_every_entry():
    cache = PacketCache(100000, 20, 20)
    answer = dns.message.make_response(dns.message.make_query("x.", "A")).to_wire()
    answer = answer[:2] + b"\x84\x00" + answer[4:]
    keys = [b"k%06d" % i for i in range(5000)]
    for key in keys:
        cache.put_key(key, answer, now=0)
    assert len(cache) == 5000
    assert all(cache.get_key(key, 1) == answer for key in keys)
    assert cache.get_key(b"absent", 1) is None


def test_purge_by_name_and_below():
    _, pc, responder = make()
    for name in ("www.example.com", "ns1.example.com", "www.example.org"):
        fill(responder, wire(name), now=0)
        fill(responder, wire(name, "AAAA"), now=0)
    www = dns.name.from_text("WWW.example.com").canonicalize().to_wire()
    assert pc.purge(to_lk(www)) == 2
    assert pc.purge(to_lk(dns.name.from_text("example.com").to_wire()), below=True) == 2
    assert len(pc) == 2
    assert pc.purge() == 2 and len(pc) == 0


def test_invalidating_a_zone_keeps_the_others():
    _, pc, responder = make()
    fill(responder, wire("www.example.com"), now=0)
    fill(responder, wire("alias.example.com"), now=0)
    fill(responder, wire("www.example.org"), now=0)
    assert pc.purge(tag=1) == 2
    responder.answer(wire("www.example.org"), now=0)
    assert responder.counter("packetcache-hit") == 1


def test_an_answer_from_two_zones_goes_with_either():
    text = OTHER + "cross CNAME www.example.com.\n"
    a = snapshot("example.com.", ZONE)
    a.tag = 1
    b = snapshot("example.org.", text)
    b.tag = 2
    pc = PacketCache()
    responder = Responder(Engine([a, b]), pc)
    fill(responder, wire("cross.example.org"), now=0)
    fill(responder, wire("www.example.org"), now=0)
    assert pc.purge(tag=1) == 1                # the CNAME chain drew on example.com too
    assert len(pc) == 1


# -- admission ----------------------------------------------------------------------------

def test_an_answer_is_kept_the_second_time_it_is_asked_for():
    _, pc, responder = make()
    query = wire("www.example.com")
    responder.answer(query, now=0)
    assert len(pc) == 0 and responder.counter("packetcache-not-admitted") == 1
    responder.answer(query, now=0)
    assert len(pc) == 1 and responder.counter("packetcache-size") == 1
    responder.answer(query, now=0)
    assert [responder.counter(c) for c in ("packetcache-miss", "packetcache-hit")] == [2, 1]


def test_random_names_neither_fill_the_cache_nor_evict_what_is_asked_again():
    """A random-subdomain flood: every name asked once. Nothing of it is kept, and a name
    asked again every few hundred flood queries stays a hit throughout."""
    engine, pc, responder = make(max_entries=1000)
    assert pc.doorkeeper == 4096
    hot = wire("www.example.com")
    fill(responder, hot, now=0)
    for i in range(20000):
        responder.answer(wire(f"r{i:05d}x.example.com"), now=0)
        if i % 200 == 0:
            assert responder.answer(hot, now=0) == engine.answer(hot)
    assert len(pc) == 1
    assert responder.counter("packetcache-hit") == 100
    assert responder.counter("packetcache-not-admitted") == 20000 + 1     # + hot's first


def test_an_expired_entry_is_kept_again_at_once():
    _, pc, responder = make(ttl=20)
    fill(responder, wire("www.example.com"), now=0)
    responder.answer(wire("www.example.com"), now=20)          # stale: a miss, kept again
    assert len(pc) == 1
    responder.answer(wire("www.example.com"), now=21)
    assert responder.counter("packetcache-hit") == 1


def test_a_purged_entry_is_kept_again_at_once():
    """A reload or a purge drops answers that were asked for again: their next miss is
    kept, as after an expiry, not a first sight."""
    _, pc, responder = make()
    fill(responder, wire("www.example.com"), now=0)
    fill(responder, wire("www.example.org"), now=0)
    assert pc.purge(tag=1) == 1 and pc.purge() == 1
    responder.answer(wire("www.example.com"), now=0)
    responder.answer(wire("www.example.org"), now=0)
    assert len(pc) == 2


def test_hot_keys_sharing_a_bucket_are_all_kept():
    """Four-way buckets: keys that land in one bucket do not evict each other."""
    cache = PacketCache(100, 20, 20, doorkeeper=4)       # one bucket
    answer = dns.message.make_response(dns.message.make_query("x.", "A")).to_wire()
    answer = answer[:2] + b"\x84\x00" + answer[4:]
    keys = [b"k1", b"k2", b"k3", b"k4"]
    assert not any(cache.offer_key(key, answer, now=0) for key in keys)
    assert all(cache.offer_key(key, answer, now=0) for key in keys)
    assert len(cache) == 4


def test_doorkeeper_sizes_and_off():
    assert PacketCache(1000000).doorkeeper == 1 << 18
    assert PacketCache(100000).doorkeeper == 32768
    assert PacketCache(10).doorkeeper == 4096
    assert PacketCache(10, doorkeeper=5000).doorkeeper == 8192
    _, pc, responder = make(doorkeeper=0)
    assert pc.doorkeeper == 0
    responder.answer(wire("www.example.com"), now=0)
    assert len(pc) == 1 and responder.counter("packetcache-not-admitted") == 0
    with pytest.raises(ValueError):
        PacketCache(10, doorkeeper=-1)


def test_offer_key_is_the_admission_put_key_is_not():
    cache = PacketCache(100, 20, 20)
    answer = dns.message.make_response(dns.message.make_query("x.", "A")).to_wire()
    answer = answer[:2] + b"\x84\x00" + answer[4:]
    assert not cache.offer_key(b"k1", answer, now=0)
    assert cache.get_key(b"k1", 0) is None
    assert cache.offer_key(b"k1", answer, now=0)
    assert cache.get_key(b"k1", 0) == answer
    cache.put_key(b"k2", answer, now=0)
    assert cache.get_key(b"k2", 0) == answer and cache.not_admitted == 1


def test_counters_of_the_per_packet_path():
    _, _pc, responder = make()
    responder.answer(wire("www.example.com"), now=0)
    responder.answer(wire("www.example.com"), now=0)
    responder.answer(wire("www.example.com"), True, now=0)
    responder.answer(b"\x00\x01garbage", now=0)
    responder.answer(wire("www.example.com", "AAAA"), v6=True, now=0)
    assert responder.counter("udp-queries") == 4
    assert responder.counter("udp4-queries") == 3
    assert responder.counter("udp6-queries") == 1
    assert responder.counter("tcp-queries") == 1 and responder.counter("tcp-answers") == 1
    assert responder.counter("udp-answers") == 3
    assert responder.counter("corrupt-packets") == 1
    assert responder.counter("rd-queries") == 4


def frame(packet: bytes) -> bytes:
    return len(packet).to_bytes(2, "big") + packet


def unframe(stream: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(stream):
        size = int.from_bytes(stream[pos:pos + 2], "big")
        out.append(stream[pos + 2:pos + 2 + size])
        pos += 2 + size
    return out


def test_answer_stream_answers_pipelined_queries_in_order():
    engine, _, responder = make()
    queries = [wire(name) for name in ("www.example.com", "nx.example.com", "www.example.org")]
    stream = b"".join(frame(q) for q in queries)
    partial = frame(queries[0])[:7]
    answers, used, count, stop = responder.answer_stream(stream + partial)
    assert (used, count, stop) == (len(stream), 3, False)
    assert unframe(answers) == [engine.answer(q, True) for q in queries]
    assert responder.counter("tcp-queries") == 3


def test_answer_stream_stops_where_the_stream_cannot_go_on():
    _, _, responder = make()
    query = frame(wire("www.example.com"))
    answers, used, count, stop = responder.answer_stream(query + b"\x00\x00" + query)
    assert (count, stop, len(unframe(answers))) == (1, True, 1)
    response = dns.message.make_response(dns.message.make_query("www.example.com", "A"))
    answers, used, count, stop = responder.answer_stream(frame(response.to_wire()) + query)
    assert (answers, count, stop) == (b"", 0, True)          # QR=1: not a query
    answers, used, count, stop = responder.answer_stream(query * 5, max_count=2)
    assert (count, stop, used) == (2, True, 2 * len(query))


def test_answer_stream_grows_past_one_buffer():
    engine, _, responder = make()
    big = wire("big.example.com", "TXT")
    answers, _used, count, stop = responder.answer_stream(frame(big) * 40)
    assert count == 40 and not stop
    assert unframe(answers) == [engine.answer(big, True)] * 40

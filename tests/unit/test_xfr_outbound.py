"""The IXFR history of fastdns.xfr.outbound: versions kept per zone and in all, dropped
oldest first, and the access rules of Policy."""

from fastdns.config.settings import parse_netmask
from fastdns.xfr.outbound import History, Policy


def rec(data: bytes):
    return (b"\x01a\x00", 1, 60, data)


def test_a_zone_keeps_its_last_versions():
    history = History(max_records=100, versions_per_zone=2)
    for serial in (1, 2, 3):
        history.keep("a.", serial, {rec(bytes([serial]))})
    assert history.get("a.", 1) is None
    assert history.get("a.", 2) == {rec(b"\x02")} and history.get("a.", 3) is not None
    assert len(history) == 2


def test_the_records_in_all_are_bounded_least_recently_sent_first():
    history = History(max_records=10, versions_per_zone=8)
    for i in range(20):
        history.keep(f"z{i}.", 1, {rec(b"x")})
    assert len(history) == 10
    assert history.get("z9.", 1) is None and history.get("z10.", 1) is not None
    history.get("z10.", 1)                           # sent again: kept longest
    history.keep("new.", 1, {rec(b"y")})
    assert history.get("z10.", 1) is not None and history.get("z11.", 1) is None


def test_forget_and_a_version_too_big_to_keep():
    history = History(max_records=3)
    history.keep("a.", 1, {rec(b"1"), rec(b"2")})
    history.keep("b.", 1, {rec(b"1"), rec(b"2"), rec(b"3"), rec(b"4")})   # larger than all
    assert history.get("b.", 1) is None
    history.forget("a.")
    assert len(history) == 0 and history.get("a.", 1) is None


def test_many_zones_cost_no_walk_of_the_others():
    history = History(max_records=10**6)
    for i in range(20000):
        history.keep(f"z{i}.", 1, {rec(b"x")})
        history.keep(f"z{i}.", 2, {rec(b"y")})
    assert len(history) == 40000


def test_policy_tsig_key_beats_address_and_disable_beats_all():
    policy = Policy(allow_ips=(parse_netmask("127.0.0.0/8"),),
                    allow_from=(parse_netmask("192.0.2.0/24"),),
                    tsig_keys=frozenset({"xfr-key."}))
    assert policy.allows("127.0.0.1", None) and policy.allows("192.0.2.9", None)
    assert not policy.allows("198.51.100.1", None)
    assert policy.allows("198.51.100.1", "xfr-key.")
    assert not policy.allows("127.0.0.1", "other-key.")
    assert not Policy(disabled=True, allow_ips=policy.allow_ips).allows("127.0.0.1", None)

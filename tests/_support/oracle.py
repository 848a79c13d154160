"""The tests' oracle for zone data: dnspython reads master-file text, independently of
fastdns's reader, and zone images are read back into the same form for the comparison.

Both sides give ``{(owner lookup form, rdtype): (ttl, sorted rdatas)}``: owners lowercased
wire names, rdata in uncompressed wire form, one TTL per RRset (the lowest, RFC 2181 §5.2).
dnspython follows RFC 1035 and BIND where PowerDNS (and so fastdns) differs (the default
TTL without ``$TTL``, ``$GENERATE``'s details, long TXT strings, relative ``$ORIGIN``):
tests compare texts that mean the same to both, and test the differences against
pdns_server itself (tests/conformance).
"""

import dns.name
import dns.rdataclass
import dns.zone

from fastdns._snapshot import Snapshot

RRsets = dict[tuple[bytes, int], tuple[int, list[bytes]]]


def read_rrsets(text: str, origin: str) -> RRsets:
    """What dnspython reads in master-file ``text`` of the zone ``origin``."""
    zone = dns.zone.from_text(text, origin, relativize=False, check_origin=False,
                              allow_include=True)
    out: RRsets = {}
    for name, node in zone.nodes.items():
        owner = (name.to_wire() or b"").lower()
        for rdataset in node.rdatasets:
            out[(owner, int(rdataset.rdtype))] = (
                rdataset.ttl, sorted({rd.to_wire() or b"" for rd in rdataset}))
    return out


def image_rrsets(image: bytes) -> RRsets:
    """What a zone image holds, in the same form."""
    snapshot = Snapshot(image)
    out: RRsets = {}
    for index in range(len(snapshot)):
        owner = snapshot.node(index)[0].lower()
        for rdtype, ttl, rdatas, _targets in snapshot.node_rrsets(index):
            out[(owner, rdtype)] = (ttl, sorted(rdatas))
    return out


def name(text: str) -> bytes:
    """The lowercased wire form of an absolute name."""
    return (dns.name.from_text(text).to_wire() or b"").lower()

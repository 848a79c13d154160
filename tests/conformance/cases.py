"""The query set: generated from the example zones (every name by a list of types, each over
UDP and TCP, with and without EDNS, in several spellings), plus hand-written special cases.

A :class:`Case` is one question asked in several ways; each of its queries goes to both
servers and the two normalised responses are compared (test_conformance.py).
"""

import contextlib
from dataclasses import dataclass
from functools import cache

import dns.name
import dns.node
import dns.rdataclass
import dns.rdatatype
import dns.zone
from dns.rdatatype import (
    AAAA,
    ANY,
    CNAME,
    DNAME,
    DNSKEY,
    DS,
    MX,
    NS,
    NSEC,
    NSEC3,
    NSEC3PARAM,
    PTR,
    RRSIG,
    SOA,
    SRV,
    TXT,
    A,
)

from tests._support.servers import CONF
from tests.conformance.wire import (
    AA,
    AD,
    CD,
    OPT_COOKIE,
    OPT_ECS,
    OPT_NSID,
    OPT_PADDING,
    RD,
    Query,
    Z,
    mixed_case,
)

ZONE_DIR = CONF / "zones"
#: the zones of conf/named.conf, with their files
ZONES = {"example.com": "example.com.zone", "sub.example.com": "sub.example.com.zone",
         "example.net": "example.net.zone", "2.0.192.in-addr.arpa": "2.0.192.in-addr.arpa.zone"}

#: asked at every name of the zones (plus the types that name holds)
GENERATED_TYPES = (A, AAAA, NS, SOA, MX, TXT, CNAME, DS, ANY)

CH, HS, NONE_CLASS, ANY_CLASS = 3, 4, 254, 255


@dataclass(frozen=True)
class Case:
    id: str
    queries: tuple[Query, ...]


@cache
def zones() -> dict[str, dns.zone.Zone]:
    """The example zones as dnspython reads them ($INCLUDE is relative to the cwd)."""
    with contextlib.chdir(ZONE_DIR):
        return {origin: dns.zone.from_file(file, origin, relativize=False)
                for origin, file in ZONES.items()}


def zone_of(name: dns.name.Name) -> dns.zone.Zone | None:
    """The zone we serve that is the closest enclosing one of ``name``."""
    best = None
    for zone in zones().values():
        if name.is_subdomain(zone.origin) and (best is None or
                                               zone.origin.is_subdomain(best.origin)):
            best = zone
    return best


def _is_ent(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
    return any(other != name and other.is_subdomain(name) for other in zone.nodes)


def source_node(name: dns.name.Name) -> dns.node.Node | None:
    """The node of the zone data that answers for ``name`` (RFC 1034 §4.3.2, RFC 4592): the
    name's own node, or the wildcard that synthesises it; None for a name that does not
    exist, is an empty non-terminal, or lies below a zone cut or a DNAME."""
    zone = zone_of(name)
    if zone is None:
        return None
    for depth in range(len(zone.origin) + 1, len(name)):
        ancestor = name.split(depth)[1]
        node = zone.get_node(ancestor)
        if node is not None and (node.get_rdataset(1, NS) or node.get_rdataset(1, DNAME)):
            return None
    node = zone.get_node(name)
    if node is not None or _is_ent(zone, name):
        return node
    encloser = name.parent()
    while encloser != zone.origin and zone.get_node(encloser) is None \
            and not _is_ent(zone, encloser):
        encloser = encloser.parent()
    return zone.get_node(dns.name.from_text("*", encloser))


def holds_cname(name: dns.name.Name, wildcard_only: bool = False) -> bool:
    """True when ``name`` holds a CNAME in the zone data, or a wildcard CNAME synthesises
    one (only the latter with ``wildcard_only``)."""
    node = source_node(name)
    if node is None or node.get_rdataset(1, CNAME) is None:
        return False
    zone = zone_of(name)
    return not wildcard_only or (zone is not None and zone.get_node(name) is None)


def names_to_ask() -> list[tuple[dns.name.Name, tuple[int, ...]]]:
    """Every owner name, every empty non-terminal, a few names a wildcard synthesises, names
    below each DNAME and each zone cut, and a nonexistent name in each zone and below a
    leaf; each with the types it holds."""
    out: dict[dns.name.Name, tuple[int, ...]] = {}
    for zone in zones().values():
        origin = zone.origin
        for name, node in sorted(zone.nodes.items()):
            types = tuple(sorted(rds.rdtype for rds in node))
            out.setdefault(name, types)
            parent = name.parent()
            while parent != origin and parent.is_subdomain(origin):   # empty non-terminals
                out.setdefault(parent, ())
                parent = parent.parent()
            if name.labels[0] == b"*":
                base = name.parent()
                for prefix in ("synth", "a.b", "exists"):
                    out.setdefault(dns.name.from_text(prefix, base), ())
            if DNAME in types:
                for prefix in ("www", "foo", "nope"):
                    out.setdefault(dns.name.from_text(prefix, name), ())
            if NS in types and name != origin:
                out.setdefault(dns.name.from_text("host", name), ())
        out.setdefault(dns.name.from_text("nx", origin), ())
    out.setdefault(dns.name.from_text("nx.www.example.com"), ())
    out.setdefault(dns.name.from_text("a.b.www.example.com"), ())
    return sorted(out.items())


def generated() -> list[Case]:
    """Names by types, each asked four ways: UDP with EDNS in the zone file's spelling, UDP
    without EDNS in mixed case, TCP with EDNS and DO in the other mixed case, TCP without
    EDNS in lower case."""
    cases = []
    for name, held in names_to_ask():
        text = name.to_text(omit_final_dot=True)
        for qtype in dict.fromkeys(GENERATED_TYPES + held):
            q = Query(text, qtype, group="zone data")
            cases.append(Case(f"{text.lower()}/{dns.rdatatype.to_text(qtype)}", (
                q,
                q.variant(qname=mixed_case(text, 0), edns=None),
                q.variant(qname=mixed_case(text, 1), tcp=True, do=True),
                q.variant(qname=text.lower(), tcp=True, edns=None))))
    return cases


def _both(q: Query) -> tuple[Query, Query]:
    return q, q.variant(tcp=True)


def special() -> list[Case]:
    cases: list[Case] = []

    def add(case_id: str, group: str, *queries: Query) -> None:
        cases.append(Case(case_id, tuple(q.variant(group=group) for q in queries)))

    # --- EDNS buffer sizes and truncation: large answers at every size --------------------
    sizes = (None, 0, 100, 511, 512, 700, 1000, 1232, 1233, 1500, 4096, 65535)
    for qname, qtype in (("bigtxt.example.com", TXT), ("hugetxt.example.com", TXT),
                         ("biga.example.com", A), ("manymx.example.com", MX),
                         ("txt.example.com", TXT), ("example.com", NS), ("example.com", MX),
                         ("example.com", ANY), ("c1.example.com", A)):
        base = Query(qname, qtype)
        add(f"truncation/{qname}/{dns.rdatatype.to_text(qtype)}", "truncation",
            *(base.variant(edns=size) for size in sizes),
            base.variant(edns=512, do=True), base.variant(edns=4096, do=True),
            base.variant(tcp=True, edns=512), base.variant(tcp=True, edns=None),
            base.variant(tcp=True, edns=65535, do=True))
    # manymx: the answer alone fits in 512; with its additional data 697 octets
    manymx = Query("manymx.example.com", MX)
    add("truncation/manymx-threshold", "truncation",
        *(manymx.variant(edns=size) for size in (600, 695, 696, 697, 698, 800)))

    # --- EDNS: versions, flags, options ------------------------------------------------------
    www = Query("www.example.com", A)
    for qname, qtype in (("www.example.com", A), ("nope.example.com", A),
                         ("www.example.org", A), ("deleg.example.com", NS)):
        q = Query(qname, qtype)
        add(f"edns/badvers/{qname}", "EDNS",
            *_both(q.variant(edns_version=1)), q.variant(edns_version=1, do=True),
            q.variant(edns_version=255, edns=512))
    add("edns/nsid", "EDNS",
        *_both(www.variant(options=((OPT_NSID, b""),))),
        www.variant(options=((OPT_NSID, b""),), do=True),
        Query("www.example.org", A, options=((OPT_NSID, b""),)),
        Query("nope.example.com", A, options=((OPT_NSID, b""),), edns_version=1))
    add("edns/unknown-options", "EDNS",
        *_both(www.variant(options=((65001, b"\x01\x02\x03"),))),
        www.variant(options=((OPT_ECS, bytes.fromhex("00011800c00002")),)),
        www.variant(options=((OPT_PADDING, bytes(16)),)),
        www.variant(tcp=True, options=((11, b""),)),
        www.variant(options=((OPT_NSID, b""), (65001, b"x"))))
    add("edns/cookie", "EDNS",
        *_both(www.variant(options=((OPT_COOKIE, bytes.fromhex("0102030405060708")),))),
        www.variant(options=((OPT_COOKIE, bytes.fromhex("0102030405")),)))
    add("edns/flags", "EDNS",
        *_both(www.variant(edns_flags=0x4000)), www.variant(do=True, edns_flags=0x0001),
        Query("nope.example.com", A, do=True, edns_flags=0x7fff))
    for qname, qtype in (("nope.example.com", A), ("www.example.com", MX),
                         ("www.deleg.example.com", A), ("deleg.example.com", DS),
                         ("foo.dname.example.com", A), ("x.cwild.example.com", A)):
        add(f"edns/do/{qname}/{dns.rdatatype.to_text(qtype)}", "EDNS",
            *_both(Query(qname, qtype, do=True)), Query(qname, qtype, do=True, edns=512))

    # --- header flags in the query -----------------------------------------------------------
    for qname in ("www.example.com", "nope.example.com", "www.example.org",
                  "host.deleg.example.com"):
        q = Query(qname, A)
        add(f"header/{qname}", "header flags",
            *_both(q.variant(flags=RD)), q.variant(flags=CD), q.variant(flags=AD),
            q.variant(flags=AA), q.variant(flags=Z), q.variant(flags=RD | CD | AD, do=True),
            q.variant(flags=RD, edns=None))

    # --- classes ----------------------------------------------------------------------------
    for qname, qtype in (("www.example.com", A), ("nope.example.com", A),
                         ("example.com", SOA), ("www.example.org", A)):
        q = Query(qname, qtype)
        add(f"class/{qname}/{dns.rdatatype.to_text(qtype)}", "classes",
            *_both(q.variant(qclass=ANY_CLASS)), q.variant(qclass=NONE_CLASS),
            q.variant(qclass=2), q.variant(qclass=HS), q.variant(qclass=0),
            q.variant(qclass=1000), q.variant(qclass=65280, tcp=True))

    # --- CHAOS ------------------------------------------------------------------------------
    chaos = [Query(name, TXT, qclass=CH) for name in
             ("version.bind", "VERSION.BIND", "version.pdns", "id.server", "ID.Server",
              "hostname.bind", "version.server", "authors.bind", "www.example.com")]
    add("chaos/txt", "CHAOS", *chaos, *(q.variant(tcp=True) for q in chaos[:4]),
        chaos[0].variant(edns=None, flags=RD), chaos[3].variant(do=True))
    add("chaos/other", "CHAOS",
        *_both(Query("version.bind", A, qclass=CH)), Query("version.bind", ANY, qclass=CH),
        Query("www.example.com", A, qclass=CH), Query("version.bind", TXT),
        Query("id.server", TXT), Query("version.bind", TXT, qclass=HS),
        Query("version.bind", TXT, qclass=CH, edns_version=1))

    # --- special and meta qtypes ------------------------------------------------------------
    # TYPE0, MD, MF, NULL, OPT, SPF, TKEY, TSIG, IXFR and AXFR over UDP, MAILB, MAILA,
    # TYPE65535, an unknown type, and the DNSSEC types of an unsigned zone
    meta = (0, 3, 4, 10, 41, 99, 249, 250, 251, 252, 253, 254, 65535, 65281, NSEC, NSEC3,
            NSEC3PARAM, DNSKEY, RRSIG)
    for qname in ("www.example.com", "example.com", "nope.example.com", "www.example.org"):
        add(f"qtypes/{qname}", "special qtypes", *(Query(qname, t) for t in meta),
            *(Query(qname, t, tcp=True) for t in (0, 41, 249, 250, 65535, RRSIG)))

    # --- names outside our zones --------------------------------------------------------------
    outside = (("www.example.org", A), (".", NS), (".", SOA), ("com", SOA), ("org", NS),
               ("0.192.in-addr.arpa", NS), ("3.0.192.in-addr.arpa", PTR),
               ("xexample.com", A), ("example.co", A), ("com", DS), ("www.example.org", ANY))
    for qname, qtype in outside:
        q = Query(qname, qtype)
        add(f"refused/{qname}/{dns.rdatatype.to_text(qtype)}", "outside our zones",
            *_both(q), q.variant(flags=RD, edns=None), q.variant(do=True, tcp=True))

    # --- odd qnames ---------------------------------------------------------------------------
    long_in = ".".join(["x" * 62] * 3 + ["y" * 46]) + ".example.com"      # 255 octets
    long_out = ".".join(["x" * 62] * 3 + ["y" * 46]) + ".example.org"
    long_dname = ".".join(["l" * 40] * 3) + ".dlong.example.com"   # + 128 octets > 255
    for qname, qtype in (("a\\032b.example.com", A), ("www\\.www.example.com", A),
                         (long_in, A), (long_out, A), (long_dname, A), (long_dname, TXT),
                         ("w.dlong.example.com", A), ("*.example.com", A),
                         ("*.wild.example.com", A), ("*.wild.example.com", MX),
                         ("\\*.wild.example.com", TXT), ("-.example.com", A),
                         ("_tcp.example.com", SRV), ("_SIP._TCP.EXAMPLE.COM", SRV),
                         ("MXCASE.example.com", MX), ("mxcase.EXAMPLE.COM", MX),
                         ("NoPe.ExAmPlE.CoM", A), ("WWW.DELEG.EXAMPLE.COM", A),
                         ("FOO.DNAME.EXAMPLE.COM", TXT), ("X.CWILD.EXAMPLE.COM", A)):
        add(f"qname/{qname}/{dns.rdatatype.to_text(qtype)}", "qnames",
            *_both(Query(qname, qtype)), Query(qname, qtype, edns=None))
    # 8-bit and NUL octets in a label (difference A5)
    for qname, qtype in (("caf\\233.example.com", A), ("a\\000b.example.com", A),
                         ("caf\\233.wild.example.com", TXT), ("\\255.www.example.com", A),
                         ("caf\\233.example.org", A)):
        add(f"qname8bit/{qname}/{dns.rdatatype.to_text(qtype)}", "qnames",
            *_both(Query(qname, qtype)), Query(qname, qtype, edns=None))

    # --- the packet cache: the same question in other spellings, repeated ----------------------
    for qname, qtype in (("www.example.com", A), ("nope.example.com", A),
                         ("c1.example.com", A), ("x.wild.example.com", TXT),
                         ("deleg.example.com", A), ("foo.dname.example.com", A)):
        q = Query(qname, qtype)
        add(f"cache/{qname}/{dns.rdatatype.to_text(qtype)}", "packet cache",
            q, q, q.variant(qname=qname.upper()), q.variant(qname=mixed_case(qname)),
            q.variant(qname=qname.upper()), q)
    return cases


def all_cases() -> list[Case]:
    return generated() + special()

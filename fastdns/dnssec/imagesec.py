"""A zone image made ready for online signing (its layout: fastdns/_snapshot.pxd).

The zone's keys and settings (fastdns.dnssec.zonesec) add records to the zone — DNSKEY,
CDS, CDNSKEY, NSEC3PARAM at the apex, as PowerDNS serves them — and a security section
that the engine signs from: the active keys, each RRset's canonical rdata (RFC 4034 §6.2,
§6.3) where it differs from the rdata served, and the NSEC chain (the next name of every
name in it) or the NSEC3 chain (its hashes, in order). Signatures themselves are never in
the image: signers compute them into the shared signature cache when a query first needs
them.

    image = secure_image(compiled.image, setup)

This runs in the manager once per load of a signed zone; the per-record work is here,
in Python, for signed zones only.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from fastdns._snapshot import (
    HEADER_SEC_OFF_AT,
    HEADER_SIZE_AT,
    NODE_FLAGS,
    SEC_HEADER_SIZE,
    SECURITY_FLAGS,
    Snapshot,
)
from fastdns.dnssec.keys import ds_rdata, key_digest, key_tag
from fastdns.dnssec.nsec3 import nsec3_hash
from fastdns.dnssec.zonesec import ZoneSecurity
from fastdns.zone._imagebuild import RecordStore

TYPE_SOA, TYPE_NS, TYPE_DS = 6, 2, 43
TYPE_DNSKEY, TYPE_NSEC3PARAM, TYPE_CDS, TYPE_CDNSKEY = 48, 51, 59, 60

SEC_NSEC3, SEC_NARROW, SEC_HAVE_ZSK, SEC_BROKEN, SEC_PRESIGNED = (
    SECURITY_FLAGS[f] for f in ("nsec3", "narrow", "have-zsk", "broken", "presigned"))
#: SecKey.role (fastdns/_snapshot.pxd)
KEY_KSK, KEY_ALL = 0x01, 0x02
NO_CANON = NOT_LINKED = 0xFFFFFFFF
#: SecHeader (see _snapshot.pxd): native layout, alignment as the C compiler lays it out
_HEADER = struct.Struct("=IHHBBBB256s256sII4xQQQQQ")
_NSEC3REC = struct.Struct("=20sI")
_SECKEY = struct.Struct("=HBB8s")

#: the CDS and CDNSKEY rdata of RFC 8078 §4 (delete the DS at the parent)
CDS_DELETE = b"\x00\x00\x00\x00\x00"      # CDS 0 0 0 00
CDNSKEY_DELETE = b"\x00\x00\x03\x00\x00"

_FLAG_ENT = NODE_FLAGS["ent"]
_FLAG_CUT = NODE_FLAGS["cut"]
_FLAG_NONAUTH = NODE_FLAGS["nonauth"]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the zone as the image needs it."""

    flags: int                      # 256 ZSK, 257 KSK (the SEP bit)
    algorithm: int
    dnskey: bytes                   # the DNSKEY rdata
    active: bool = True             # signs
    published: bool = True          # in the DNSKEY RRset

    @property
    def tag(self) -> int:
        return key_tag(self.dnskey)

    @property
    def ksk(self) -> bool:
        return bool(self.flags & 1)


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """What a signed zone's image is made from: its keys and DNSSEC settings."""

    keys: tuple[SigningKey, ...]
    #: (hash algorithm, flags, iterations, salt) of NSEC3PARAM; None: NSEC
    nsec3: tuple[int, int, int, bytes] | None = None
    narrow: bool = False
    #: PUBLISH-CDS digest types (0: the RFC 8078 delete record); empty: no CDS
    cds: tuple[int, ...] = ()
    #: PUBLISH-CDNSKEY: None no CDNSKEY, True the keys', False the delete record
    cdnskey: bool | None = None
    #: direct-dnskey: the DNSKEY, CDS and CDNSKEY records the zone holds are served too
    direct: bool = False
    warnings: list[str] = field(default_factory=list)


def setup_from(security: ZoneSecurity, direct: bool = False) -> SigningSetup:
    """The SigningSetup of a zone's usable signing state (ZoneSecurity.usable);
    ``direct``: PowerDNS's direct-dnskey."""
    keys = tuple(SigningKey(k.flags, k.key.algorithm, k.key.dnskey_rdata(), k.active,
                            k.published)
                 for k in security.keys if k.key is not None)
    nsec3 = security.nsec3
    # the RFC 8078 delete records: CDS from PUBLISH-CDS "0", CDNSKEY from PUBLISH-CDNSKEY
    # "0", each on its own (as PowerDNS)
    cds = security.publish_cds
    cdnskey = False if security.cdnskey_delete else (True if security.publish_cdnskey
                                                     else None)
    return SigningSetup(keys, None if nsec3 is None else
                        (nsec3.algorithm, nsec3.flags, nsec3.iterations, nsec3.salt),
                        security.narrow, cds, cdnskey, direct)


def secure_image(image: bytes, setup: SigningSetup) -> bytes:
    """The image of the zone in ``image`` with its DNSSEC records and security section."""
    unsigned = Snapshot(image)
    apex = unsigned.origin
    store = RecordStore(apex)
    store.files.append("<keys and DNSSEC metadata>")
    soa_min = 0
    for index in range(len(unsigned)):
        owner = unsigned.node(index)[0]
        for rdtype, ttl, rdatas, _ in unsigned.node_rrsets(index):
            made = rdtype == TYPE_NSEC3PARAM or (
                not setup.direct and rdtype in (TYPE_DNSKEY, TYPE_CDS, TYPE_CDNSKEY))
            if index == 0 and made:
                continue        # the keys and settings make these (as PowerDNS)
            if index == 0 and rdtype == TYPE_SOA:
                soa_min = int.from_bytes(rdatas[0][-4:], "big")
            for rdata in rdatas:
                store.add_wire(owner, rdtype, ttl, rdata)
    for rdtype, rdata in _apex_records(apex, setup):
        store.add_wire(apex, rdtype, soa_min, rdata)
    store.prepare((), ())
    return _with_section(store.pack(), setup)


def broken_image(image: bytes) -> bytes:
    """The image of a zone whose keys or settings cannot sign it: served as it is to
    queries without DO, SERVFAIL to those with DO=1 (never unsigned data)."""
    snap = Snapshot(image)
    nodes = len(snap)
    rrsets = sum(len(snap.node_rrsets(i)) for i in range(nodes))
    start = _align(len(image), 8)
    apex = _lower(snap.origin)
    keys_off = canon_off = start + _HEADER.size
    link_off = canon_off + 4 * rrsets
    chain_off = canon_data_off = link_off + 4 * nodes
    header = _HEADER.pack(SEC_BROKEN, 0, 0, 0, 0, 0, len(apex), b"", apex, 0, 0, keys_off,
                          canon_off, canon_data_off, link_off, chain_off)
    out = bytearray(image) + bytes(start - len(image)) + header
    out += struct.pack(f"={rrsets + nodes}I", *([NO_CANON] * (rrsets + nodes)))
    _patch_header(out, start)
    return bytes(out)


TYPE_RRSIG, TYPE_NSEC, TYPE_NSEC3 = 46, 47, 50


class PresignedError(ValueError):
    """A presigned zone that cannot be served signed: it lacks its signatures or its
    denial records, or its NSEC3PARAM metadata contradicts them."""


def presigned_image(image: bytes,
                    nsec3: tuple[int, int, int, bytes] | None = None) -> bytes:
    """The image of a presigned zone (metadata PRESIGNED): served with its own RRSIGs,
    NSEC or NSEC3 records, found through a security section with no keys: the nodes that
    hold an NSEC (the NSEC chain), or the nodes that hold an NSEC3, by hash (the NSEC3
    chain; a name's entry is the one its hash matches). ``nsec3``: the zone's NSEC3PARAM
    metadata, which PowerDNS needs for a presigned NSEC3 zone (else the zone's own
    NSEC3PARAM record says it). PresignedError for a zone that cannot be served so.
    """
    snap = Snapshot(image)
    nodes = [snap.node(i) for i in range(len(snap))]
    rrsets = [snap.node_rrsets(i) for i in range(len(snap))]
    apex = _lower(snap.origin)
    links = [NOT_LINKED] * len(nodes)
    chain: list[tuple[bytes, int]] = []
    types = {t for node_rrsets in rrsets for t, *_ in node_rrsets}
    param = next((rdatas[0] for t, _, rdatas, _ in rrsets[0] if t == TYPE_NSEC3PARAM), None)
    if param is not None:
        own = struct.unpack_from("!BBHB", param)
        own_param = (own[0], own[2], param[5:5 + own[3]])
        if nsec3 is not None and own_param != (nsec3[0], nsec3[2], nsec3[3]):
            raise PresignedError(
                f"NSEC3PARAM metadata '{_param_text(*nsec3)}' contradicts the zone's own "
                f"NSEC3PARAM record '{_param_text(own[0], own[1], own[2], own_param[2])}'")
        if nsec3 is None:
            nsec3 = (own[0], own[1], own[2], own_param[2])
    if nsec3 is not None and TYPE_NSEC3 not in types:
        raise PresignedError(
            f"NSEC3PARAM metadata '{_param_text(*nsec3)}' and PRESIGNED, but the zone "
            "holds no NSEC3 records")
    if TYPE_RRSIG not in types:
        raise PresignedError("PRESIGNED, but the zone holds no RRSIG records")
    flags = SEC_PRESIGNED
    alg = nflags = iterations = 0
    salt = b""
    if nsec3 is None:
        if TYPE_NSEC not in types:
            raise PresignedError("PRESIGNED, but the zone holds neither NSEC nor NSEC3 "
                                 "records")
        for i, node_rrsets in enumerate(rrsets):
            if any(t == TYPE_NSEC for t, *_ in node_rrsets):
                links[i] = i
    else:
        flags |= SEC_NSEC3
        alg, nflags, iterations, salt = nsec3
        for i, (owner, *_) in enumerate(nodes):
            if not any(t == TYPE_NSEC3 for t, *_ in rrsets[i]):
                continue
            label = owner[1:1 + owner[0]].decode("ascii", "replace").upper()
            try:
                digest = base64.b32hexdecode(label)
            except ValueError:
                continue
            if len(digest) == 20 and owner[1 + owner[0]:].lower() == apex:
                chain.append((digest, i))
                nflags = max(nflags, _nsec3_flags(rrsets[i]))
        chain.sort()
        at = {digest: k for k, (digest, _) in enumerate(chain)}
        for i, (owner, f, above, _) in enumerate(nodes):
            if f & _FLAG_NONAUTH or above:
                continue
            k = at.get(nsec3_hash(_lower(owner), salt, iterations))
            if k is not None:
                links[i] = k
    rrset_count = sum(len(r) for r in rrsets)
    start = _align(len(image), 8)
    keys_off = canon_off = start + _HEADER.size
    link_off = canon_off + 4 * rrset_count
    chain_off = link_off + 4 * len(nodes)
    canon_data_off = chain_off + _NSEC3REC.size * len(chain)
    header = _HEADER.pack(flags, 0, iterations, alg, nflags, len(salt), len(apex), salt,
                          apex, snap.neg_ttl, len(chain), keys_off, canon_off,
                          canon_data_off, link_off, chain_off)
    out = bytearray(image) + bytes(start - len(image)) + header
    out += struct.pack(f"={rrset_count}I", *([NO_CANON] * rrset_count))
    out += struct.pack(f"={len(links)}I", *links)
    for digest, node in chain:
        out += _NSEC3REC.pack(digest, node)
    _patch_header(out, start)
    return bytes(out)


def roles(active: list[SigningKey]) -> list[int]:
    """The role (SecKey.role) of each of the ``active`` keys: which RRsets it signs.

    As PowerDNS 4.7, roles are per algorithm: an algorithm's KSKs (flags 257) sign only
    DNSKEY, CDS and CDNSKEY and its ZSKs (256) the rest when it has both; an algorithm with
    keys of one kind alone (a CSK; a ZSK whose algorithm has no KSK, as in an algorithm
    rollover) signs every RRset (KEY_ALL). Unlike PowerDNS, an algorithm splits only when
    both its roles have a published key: an active but unpublished ZSK beside a published
    KSK of its algorithm would leave every RRset but the DNSKEY set signed by a key no
    validator can find, so both sign everything then (docs/differences.md S8)."""
    split = {key.algorithm for key in active if key.ksk and key.published} \
        & {key.algorithm for key in active if not key.ksk and key.published}
    return [(KEY_KSK if key.ksk else 0) if key.algorithm in split else
            KEY_ALL | (KEY_KSK if key.ksk else 0) for key in active]


def _param_text(alg: int, flags: int, iterations: int, salt: bytes) -> str:
    return f"{alg} {flags} {iterations} {salt.hex() or '-'}"


def _nsec3_flags(node_rrsets: list) -> int:
    for rdtype, _, rdatas, _ in node_rrsets:
        if rdtype == TYPE_NSEC3 and rdatas:
            return rdatas[0][1]
    return 0


def _apex_records(apex: bytes, setup: SigningSetup) -> list[tuple[int, bytes]]:
    out = [(TYPE_DNSKEY, key.dnskey) for key in setup.keys if key.published]
    # the KSKs in the DNSKEY RRset, active or not (as PowerDNS: a KSK published ahead of
    # its activation gets its DS to the parent in time)
    entry = [key for key in setup.keys if key.published and key.ksk]
    if setup.cds:
        if 0 in setup.cds:
            out.append((TYPE_CDS, CDS_DELETE))
        else:
            out.extend((TYPE_CDS, ds_rdata(apex, key.dnskey, digest))
                       for key in entry for digest in setup.cds)
    if setup.cdnskey is not None:
        if setup.cdnskey:
            out.extend((TYPE_CDNSKEY, key.dnskey) for key in entry)
        else:
            out.append((TYPE_CDNSKEY, CDNSKEY_DELETE))
    if setup.nsec3 is not None:
        alg, _, iterations, salt = setup.nsec3
        # the opt-out flag is the NSEC3 records', never NSEC3PARAM's (RFC 5155 §4.1.2)
        out.append((TYPE_NSEC3PARAM, struct.pack("!BBHB", alg, 0, iterations, len(salt))
                    + salt))
    return out


#: the types whose rdata names are lowercased in the canonical form (RFC 4034 §6.2 item 3,
#: RFC 6840 §5.1); any other type's rdata is canonical as it is
_NAMED_TYPES = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 12, 14, 15, 17, 18, 21, 24, 26, 33, 35,
                          36, 38, 39})
_UPPER = frozenset(range(65, 91))


def _canonical(rdtype: int, rdatas: list[bytes]) -> list[bytes]:
    """The RRset's rdata in canonical form and order (RFC 4034 §6.2 item 3, §6.3)."""
    if rdtype not in _NAMED_TYPES or not any(_UPPER.intersection(w) for w in rdatas):
        return sorted(rdatas)      # nothing to lowercase (the common case: no dnspython)
    out = []
    for wire in rdatas:
        try:
            rd = dns.rdata.from_wire(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype),
                                     wire, 0, len(wire))
            out.append(rd.to_digestable())
        except Exception:             # a type dnspython reads otherwise: as it is
            out.append(wire)
    out.sort()
    return out


def _lower(wire: bytes) -> bytes:
    return wire.lower()


def _with_section(image: bytes, setup: SigningSetup) -> bytes:
    snap = Snapshot(image)
    nodes = [snap.node(i) for i in range(len(snap))]
    rrsets = [snap.node_rrsets(i) for i in range(len(snap))]
    apex = _lower(snap.origin)
    active = [key for key in setup.keys if key.active]
    role = roles(active)
    flags = SEC_HAVE_ZSK if any(not r & KEY_ALL for r in role) else 0
    nsec3 = setup.nsec3
    if nsec3 is not None:
        flags |= SEC_NSEC3 | (SEC_NARROW if setup.narrow else 0)

    # the canonical rdata of the RRsets whose served rdata is not canonical already
    canon_offsets: list[int] = []
    canon = bytearray()
    for node_rrsets in rrsets:
        for rdtype, _, rdatas, _ in node_rrsets:
            form = _canonical(rdtype, rdatas)
            if form == rdatas:
                canon_offsets.append(NO_CANON)
                continue
            canon_offsets.append(len(canon))
            for rdata in form:
                canon += len(rdata).to_bytes(2, "little" if _LITTLE else "big") + rdata

    # the chain: a name is in it unless it is glue or occluded (or, for NSEC, empty)
    links = [NOT_LINKED] * len(nodes)
    chain: list[tuple[bytes, int]] = []
    in_chain = [not (flags_ & _FLAG_NONAUTH) and not above
                for _, flags_, above, _ in nodes]
    if nsec3 is None:
        members = [i for i, (_, f, _, _) in enumerate(nodes)
                   if in_chain[i] and not f & _FLAG_ENT]
        for k, i in enumerate(members):
            links[i] = members[(k + 1) % len(members)]
    elif not setup.narrow:
        alg, nflags, iterations, salt = nsec3
        optout = bool(nflags & 1)
        hashed = list(in_chain)
        if optout:
            # an insecure delegation is covered by opt-out, and so is an empty
            # non-terminal with nothing but insecure delegations below it (RFC 5155 §7.1;
            # PowerDNS leaves both out of the chain)
            for i, (_, f, _, _) in enumerate(nodes):
                if f & _FLAG_CUT and not any(t == TYPE_DS for t, *_ in rrsets[i]):
                    hashed[i] = False
                elif f & _FLAG_ENT:
                    hashed[i] = False
            for i in _below_entered(nodes, hashed):
                hashed[i] = True
        for i, (owner, _, _, _) in enumerate(nodes):
            if hashed[i]:
                chain.append((nsec3_hash(_lower(owner), salt, iterations), i))
        chain.sort()
        for k, (_, i) in enumerate(chain):
            links[i] = k

    keys = b"".join(_SECKEY.pack(key.tag, key.algorithm, r, key_digest(key.dnskey))
                    for key, r in zip(active, role, strict=True))
    rrset_count = len(canon_offsets)
    start = _align(len(image), 8)
    keys_off = start + _HEADER.size
    canon_off = _align(keys_off + len(keys), 4)
    link_off = canon_off + 4 * rrset_count
    chain_off = link_off + 4 * len(nodes)
    canon_data_off = chain_off + _NSEC3REC.size * len(chain)
    alg, nflags, iterations, salt = nsec3 if nsec3 is not None else (0, 0, 0, b"")
    header = _HEADER.pack(flags, len(active), iterations, alg, nflags, len(salt), len(apex),
                          salt, apex, snap.neg_ttl, len(chain), keys_off, canon_off,
                          canon_data_off, link_off, chain_off)
    out = bytearray(image)
    out += bytes(start - len(out))
    out += header
    out += keys + bytes(canon_off - keys_off - len(keys))
    out += struct.pack(f"={rrset_count}I", *canon_offsets)
    out += struct.pack(f"={len(links)}I", *links)
    for digest, node in chain:
        out += _NSEC3REC.pack(digest, node)
    out += canon
    _patch_header(out, start)
    return bytes(out)




def _below_entered(nodes: list, hashed: list[bool]) -> set[int]:
    """The empty non-terminals with a hashed name (not an ENT) below them."""
    index = {_lower(owner): i for i, (owner, *_) in enumerate(nodes)}
    out: set[int] = set()
    for i, (owner, f, _, _) in enumerate(nodes):
        if not hashed[i] or f & _FLAG_ENT:
            continue
        name = _lower(owner)
        while name and name != b"\x00":
            name = name[name[0] + 1:]
            j = index.get(name)
            if j is None:
                break
            if nodes[j][1] & _FLAG_ENT:
                out.add(j)
    return out


def _patch_header(out: bytearray, sec_off: int) -> None:
    struct.pack_into("=Q", out, HEADER_SIZE_AT, len(out))
    struct.pack_into("=Q", out, HEADER_SEC_OFF_AT, sec_off)


def _align(n: int, to: int) -> int:
    return (n + to - 1) // to * to


_LITTLE = struct.pack("=H", 1) == b"\x01\x00"

assert _HEADER.size == SEC_HEADER_SIZE, (_HEADER.size, SEC_HEADER_SIZE)

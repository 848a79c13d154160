"""DNS constants as IntEnums; the C mirror is ``consts.pxd`` (kept in step by a unit test)."""

from enum import IntEnum, IntFlag


class Flag(IntFlag):
    """Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2)."""

    #: response
    QR = 0x8000
    #: authoritative answer
    AA = 0x0400
    #: truncated
    TC = 0x0200
    #: recursion desired
    RD = 0x0100
    #: recursion available
    RA = 0x0080
    #: reserved, must be zero
    Z = 0x0040
    #: authentic data
    AD = 0x0020
    #: checking disabled
    CD = 0x0010


class Opcode(IntEnum):
    #: standard query
    QUERY = 0
    #: inverse query (obsolete, RFC 3425)
    IQUERY = 1
    #: server status (never specified)
    STATUS = 2
    #: zone change notification (RFC 1996)
    NOTIFY = 4
    #: dynamic update (RFC 2136)
    UPDATE = 5


class Rcode(IntEnum):
    #: no error
    NOERROR = 0
    #: the query could not be interpreted
    FORMERR = 1
    #: the server failed
    SERVFAIL = 2
    #: the name does not exist
    NXDOMAIN = 3
    #: not implemented
    NOTIMP = 4
    #: refused by policy (e.g. not authoritative)
    REFUSED = 5
    #: a name exists when it should not (RFC 6672 §2.2: DNAME substitution too long)
    YXDOMAIN = 6
    #: not authoritative for the zone
    NOTAUTH = 9
    #: unsupported EDNS version (extended rcode, RFC 6891)
    BADVERS = 16


class RdClass(IntEnum):
    IN = 1
    CH = 3
    NONE = 254
    ANY = 255


class RdType(IntEnum):
    A = 1
    NS = 2
    MD = 3
    MF = 4
    CNAME = 5
    SOA = 6
    MB = 7
    MG = 8
    MR = 9
    PTR = 12
    HINFO = 13
    MINFO = 14
    MX = 15
    TXT = 16
    RP = 17
    AFSDB = 18
    KEY = 25
    AAAA = 28
    SRV = 33
    DNAME = 39
    OPT = 41
    DS = 43
    RRSIG = 46
    NSEC = 47
    DNSKEY = 48
    NSEC3 = 50
    NSEC3PARAM = 51
    CDS = 59
    CDNSKEY = 60
    SVCB = 64
    HTTPS = 65
    TKEY = 249
    TSIG = 250
    IXFR = 251
    AXFR = 252
    MAILB = 253
    MAILA = 254
    ANY = 255
    ALIAS = 65401
    LUA = 65402


#: EDNS flag: DNSSEC OK (RFC 3225)
EDNS_DO = 0x8000
#: smallest UDP payload a client may announce (RFC 6891 §6.2.3)
EDNS_MIN_UDP = 512

# C-level DNS constants. Mirrored by fastdns/consts.py (IntEnums); tests/unit/test_consts.py
# keeps the two in step.

cdef enum:
    # Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2)
    FLAG_QR = 0x8000
    FLAG_AA = 0x0400
    FLAG_TC = 0x0200
    FLAG_RD = 0x0100
    FLAG_RA = 0x0080
    FLAG_Z = 0x0040
    FLAG_AD = 0x0020
    FLAG_CD = 0x0010

cdef enum:
    OPCODE_QUERY = 0
    OPCODE_IQUERY = 1
    OPCODE_STATUS = 2
    OPCODE_NOTIFY = 4
    OPCODE_UPDATE = 5

cdef enum:
    RCODE_NOERROR = 0
    RCODE_FORMERR = 1
    RCODE_SERVFAIL = 2
    RCODE_NXDOMAIN = 3
    RCODE_NOTIMP = 4
    RCODE_REFUSED = 5
    RCODE_YXDOMAIN = 6
    RCODE_NOTAUTH = 9
    RCODE_BADVERS = 16

cdef enum:
    CLASS_IN = 1
    CLASS_CH = 3
    CLASS_NONE = 254
    CLASS_ANY = 255

cdef enum:
    TYPE_A = 1
    TYPE_NS = 2
    TYPE_MD = 3
    TYPE_MF = 4
    TYPE_CNAME = 5
    TYPE_SOA = 6
    TYPE_MB = 7
    TYPE_MG = 8
    TYPE_MR = 9
    TYPE_PTR = 12
    TYPE_HINFO = 13
    TYPE_MINFO = 14
    TYPE_MX = 15
    TYPE_TXT = 16
    TYPE_RP = 17
    TYPE_AFSDB = 18
    TYPE_KEY = 25
    TYPE_AAAA = 28
    TYPE_SRV = 33
    TYPE_DNAME = 39
    TYPE_OPT = 41
    TYPE_DS = 43
    TYPE_RRSIG = 46
    TYPE_NSEC = 47
    TYPE_DNSKEY = 48
    TYPE_NSEC3 = 50
    TYPE_NSEC3PARAM = 51
    TYPE_CDS = 59
    TYPE_CDNSKEY = 60
    TYPE_SVCB = 64
    TYPE_HTTPS = 65
    TYPE_TKEY = 249
    TYPE_TSIG = 250
    TYPE_IXFR = 251
    TYPE_AXFR = 252
    TYPE_MAILB = 253
    TYPE_MAILA = 254
    TYPE_ANY = 255
    TYPE_ALIAS = 65401        # PowerDNS's own types (their numbers in PowerDNS's QType)
    TYPE_LUA = 65402

cdef enum:
    EDNS_DO = 0x8000
    EDNS_MIN_UDP = 512

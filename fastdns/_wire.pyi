"""Python API of fastdns._wire: what fastdns._names, fastdns._query and fastdns._encoder
export, gathered (their C APIs are in their .pxd files)."""

from fastdns._encoder import encode as encode
from fastdns._names import WireError as WireError
from fastdns._names import check_name as check_name
from fastdns._names import from_lk as from_lk
from fastdns._names import lk_compare as lk_compare
from fastdns._names import read_name as read_name
from fastdns._names import sort_key as sort_key
from fastdns._names import to_lk as to_lk
from fastdns._query import PARSE_DROP as PARSE_DROP
from fastdns._query import PARSE_FORMERR as PARSE_FORMERR
from fastdns._query import PARSE_NOTIMP as PARSE_NOTIMP
from fastdns._query import PARSE_OK as PARSE_OK
from fastdns._query import parse as parse

__all__ = ["PARSE_DROP", "PARSE_FORMERR", "PARSE_NOTIMP", "PARSE_OK", "WireError",
           "check_name", "encode", "from_lk", "lk_compare", "parse", "read_name", "sort_key",
           "to_lk"]

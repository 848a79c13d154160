# cython: language_level=3
"""DNS wire format, the Python API: names and lookup keys (fastdns._names), the parse of
queries (fastdns._query) and the response encoder (fastdns._encoder), gathered for tests,
tools and the control plane.

The C APIs are in those modules' .pxd files, with the checked reader they share in
_reader.pxd; Cython code cimports from them directly.
"""

from fastdns._names import (WireError, check_name, from_lk, lk_compare, read_name, sort_key,
                            to_lk)
from fastdns._query import PARSE_DROP, PARSE_FORMERR, PARSE_NOTIMP, PARSE_OK, parse
from fastdns._encoder import encode

__all__ = ["PARSE_DROP", "PARSE_FORMERR", "PARSE_NOTIMP", "PARSE_OK", "WireError",
           "check_name", "encode", "from_lk", "lk_compare", "parse", "read_name", "sort_key",
           "to_lk"]

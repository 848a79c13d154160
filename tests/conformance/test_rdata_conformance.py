"""Every record type PowerDNS 4.7 knows, as operators write it, served by pdns_server and by
fastdns from the same zone file and from the same SQLite rows: the same rdata, record by
record (tests/conformance/rdata_corpus.py; the harness: tests/_support/pdns_probe.py).

Both servers run with ``bind-ignore-broken-records=yes``: a record PowerDNS cannot read
answers SERVFAIL at its name, and fastdns leaves it out (docs/differences.md, Z2), so for
both nothing is served at that name. The records PowerDNS refuses its whole zone file for
(a malformed name in the data of NS, MX... ; Z3) are left out of its file and must be
left out by fastdns. Every other difference is one of ``ARGUED``, each a row of
docs/differences.md.
"""

import pytest

from fastdns.zone._rdtypes import RdataError, type_code
from tests._support.pdns_probe import Probe, probe
from tests.conformance.argued import documented_rows
from tests.conformance.rdata_corpus import CORPUS

#: (type, content) -> the row of docs/differences.md that argues the difference
ARGUED = {
    ("A", "\\# 4 c0000201"): "Z4", ("A", "\\# 4 C0000201"): "Z4",
    ("TYPE1", "\\# 4 c0000201"): "Z4", ("MX", "\\# 8 000a046d61696c00"): "Z4",
    ("TXT", "\\# 6 0568656c6c6f"): "Z4",
    ("DNSKEY", "257 3 8 A"): "Z5", ("DNSKEY", "257 3 8 AQ=I"): "Z5",
    ("HTTPS", "1 . alpn=h2\\,x,h3"): "Z6",
}
#: SOA and RRSIG are not asked for at a name of their own (an SOA belongs at the apex, and
#: both servers refuse queries for RRSIG); tests/unit/test_rdata.py checks their reading
NOT_ASKED = {6, 46}


def records() -> list[tuple[str, int, str]]:
    out = []
    for rtype, content in CORPUS:
        code = type_code(rtype)
        if code not in NOT_ASKED:
            out.append((rtype, code, content))
    return out


@pytest.fixture(scope="module", params=["bind", "gsqlite3"])
def served(request, tmp_path_factory) -> tuple[str, Probe, Probe]:
    via = request.param
    work = tmp_path_factory.mktemp(f"rdata-{via}")
    (work / "pdns").mkdir()
    (work / "fastdns").mkdir()
    items = records()
    return (via, probe("pdns", items, work / "pdns", via),
            probe("fastdns", items, work / "fastdns", via))


def test_every_record_as_powerdns_serves_it(served):
    via, pdns, fastdns = served
    failing, argued = [], set()
    for i, (rtype, _, content) in enumerate(records()):
        ours = fastdns.served[i]
        if i in pdns.refused:
            if ours is not None:
                failing.append(f"r{i} {rtype} {content!r}: PowerDNS refuses its zone for "
                               f"it, fastdns serves {[x.hex() for x in ours]}")
            continue
        theirs = pdns.served[i]
        if ours == theirs:
            assert (rtype, content) not in ARGUED, f"{rtype} {content!r} is argued, but equal"
            continue
        if (rtype, content) in ARGUED:
            argued.add(ARGUED[(rtype, content)])
            continue
        failing.append(f"r{i} {rtype} {content!r}:\n  PowerDNS {_hex(theirs)}\n"
                       f"  fastdns  {_hex(ours)}")
    assert not failing, f"{via}: {len(failing)} records differ:\n" + "\n".join(failing)
    assert argued <= set(documented_rows()), argued - set(documented_rows())


def test_the_zone_file_refusals_are_the_expected_ones(served):
    """PowerDNS refuses its whole zone file only for a malformed name in the data of the
    types whose names it makes absolute (Z3)."""
    via, pdns, _ = served
    items = records()
    refused = {(items[i][0], items[i][2]) for i in pdns.refused}
    assert all(rtype in ("NS", "CNAME", "DNAME", "PTR", "MX", "SRV", "RP", "AFSDB")
               for rtype, _ in refused), refused
    assert via == "bind" or not refused


def _hex(rdatas: list[bytes] | None) -> str:
    return "nothing" if rdatas is None else " ".join(x.hex() for x in rdatas)


def test_the_corpus_names_every_type_powerdns_knows():
    from fastdns.zone._rdtypes import type_names

    written = set()
    for rtype, _ in CORPUS:
        try:
            written.add(type_code(rtype))
        except RdataError:
            pass
    meta = {41, 249, 250, 251, 252, 255}
    assert set(type_names()) - meta <= written, set(type_names()) - meta - written

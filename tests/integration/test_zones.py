"""Zones from named.conf and master files: broken files rejected with ``file:line: what``
while every other zone serves, $INCLUDE, reloads on SIGHUP and on ``bind-check-interval``.
"""

import time

import dns.flags
import dns.rcode
import pytest

from tests.integration.helpers import (
    HEAD,
    ZoneTree,
    hup,
    rrs,
    start_server,
    wait_until,
    zone_lines,
    zone_text,
)

# --------------------------------------------------------------------------------------------
# Broken zone files at start-up


BROKEN = {
    # zone: (file text, the text on the offending line or None, what the message says)
    "syntax.test": (zone_text("syntax.test", """\
        www   IN A 192.0.2.1
        bad   IN A not-an-address
        after IN A 192.0.2.3
        """), "not-an-address", ""),
    "outside.test": (zone_text("outside.test", """\
        www                IN A 192.0.2.1
        www.other.example. IN A 192.0.2.9
        """), "www.other.example.", "outside the zone"),
    "nosoa.test": ("$ORIGIN nosoa.test.\n@ 300 IN NS ns1.good.test.\nwww 300 IN A 192.0.2.1\n",
                   None, "no SOA"),
    "missing.test": (None, None, "No such file or directory"),
}


#: a zone that breaks a rule PowerDNS serves through: served, with one warning
CNAME_AND_OTHER = zone_text("cname.test", """\
        alias IN CNAME www
        www   IN A     192.0.2.1
        alias IN TXT   "other data"
        """)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("broken"))
    tree.add("good.test", zone_text("good.test", "www IN A 192.0.2.10\n"))
    tree.add("cname.test", CNAME_AND_OTHER)
    for zone, (text, _needle, _what) in BROKEN.items():
        tree.add(zone, text)
    # $INCLUDE resolves against named.conf's `directory` (etc/zones), not against the
    # directory of the including file (etc/zones/sub) nor the server's working directory
    tree.add("include.test", zone_text("include.test", """\
        www IN A 192.0.2.20
        $INCLUDE inc/include.test.records
        """), file="sub/include.test.zone")
    (tree.directory / "inc").mkdir()
    (tree.directory / "inc" / "include.test.records").write_text(
        "included IN A 192.0.2.21\nincluded IN TXT \"from the include\"\n")
    tree.add("badinclude.test", zone_text("badinclude.test", """\
        www IN A 192.0.2.30
        $INCLUDE inc/bad.records
        """))
    (tree.directory / "inc" / "bad.records").write_text(
        "fine IN A 192.0.2.31\nbroken IN A 192.0.2.999\n")
    tree.add("last.test", zone_text("last.test", "www IN A 192.0.2.40\n"))
    return tree


@pytest.fixture(scope="module")
def server(tree, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("broken-server"), tree)
    yield srv
    assert srv.stop() == 0, srv.log()


def test_other_zones_still_serve(server):
    for qname, address in [("www.good.test", "192.0.2.10"), ("www.include.test", "192.0.2.20"),
                           ("www.last.test", "192.0.2.40")]:
        response = server.query(qname, "A")
        assert response.rcode() == dns.rcode.NOERROR, qname
        assert rrs(response, "A") == [address], qname
    started = next(line for line in server.log().splitlines() if " serving " in line)
    assert " serving 4 zones " in started, started


@pytest.mark.parametrize("zone", sorted(BROKEN))
def test_broken_zone_rejected_with_file_and_line(server, tree, zone):
    _text, needle, what = BROKEN[zone]
    path = tree.path(zone)
    where = f"{path}:{tree.line_of(zone, needle)}: " if needle else f"{path}: "
    lines = zone_lines(server.log().splitlines(), zone)
    assert len(lines) == 1, "\n".join(lines) or server.log()
    assert where in lines[0] and what in lines[0], lines[0]
    assert "not served" in lines[0], lines[0]


def test_a_rule_powerdns_serves_through_is_a_warning(server, tree):
    """A CNAME beside other data (RFC 2181 §10.1): PowerDNS serves the zone and answers the
    CNAME for every type at that name; so does fastdns, with one warning naming the line
    (docs/differences.md, Z12)."""
    warned = [line for line in zone_lines(server.log().splitlines(), "cname.test")
              if "loaded serial" not in line]
    line = tree.line_of("cname.test", '"other data"')
    assert len(warned) == 1 and f"{tree.path('cname.test')}:{line}: " in warned[0] \
        and "CNAME and other data" in warned[0], server.log()
    for qtype in ("TXT", "CNAME", "ANY"):
        answer = server.query("alias.cname.test", qtype, tcp=True)
        assert rrs(answer, "CNAME") == ["www.cname.test."] and not rrs(answer, "TXT"), qtype
    assert rrs(server.query("alias.cname.test", "A"), "A") == ["192.0.2.1"]


def test_syntax_error_line_is_the_broken_record(tree):
    assert tree.line_of("syntax.test", "not-an-address") == HEAD + 2


def test_error_in_included_file_names_that_file(server, tree):
    lines = zone_lines(server.log().splitlines(), "badinclude.test")
    assert len(lines) == 1, server.log()
    assert "bad.records:2: " in lines[0] and "not served" in lines[0], lines[0]


def test_broken_zone_serves_no_data(server):
    for zone in BROKEN:
        response = server.query(f"www.{zone}", "A")
        assert not response.answer, (zone, response)


def test_zone_that_failed_to_load_answers_servfail(server):
    """A zone named.conf declares but that did not load is SERVFAIL, as in PowerDNS 4.7.3
    ("Zone for '...' not loaded (file missing, corrupt or master dead) sending out
    servfail", observed for these three files) and BIND; REFUSED would tell resolvers that
    this server is lame for a zone it is configured to serve."""
    rcodes = {zone: dns.rcode.to_text(server.query(f"www.{zone}", "A").rcode())
              for zone in ("syntax.test", "outside.test", "missing.test")}
    assert rcodes == dict.fromkeys(rcodes, "SERVFAIL")


def test_zone_without_soa_answers_refused(server):
    """A zone with no SOA is absent, as PowerDNS treats it: REFUSED, not authoritative."""
    response = server.query("www.nosoa.test", "A")
    assert dns.rcode.to_text(response.rcode()) == "REFUSED"
    assert not response.flags & dns.flags.AA


def test_include_relative_to_directory(server):
    assert rrs(server.query("included.include.test", "A"), "A") == ["192.0.2.21"]
    assert rrs(server.query("included.include.test", "TXT"), "TXT") == ['"from the include"']


# --------------------------------------------------------------------------------------------
# SIGHUP


@pytest.fixture(scope="module")
def reload_tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("reload"))
    tree.add("a.test", zone_text("a.test", "www IN A 192.0.2.1\n", serial=1))
    tree.add("b.test", zone_text("b.test", "www IN A 192.0.2.1\n", serial=1))
    tree.add("gone.test", zone_text("gone.test", "www IN A 192.0.2.1\n"))
    tree.add("late.test", None)            # its file appears later
    return tree


@pytest.fixture(scope="module")
def reloading(reload_tree, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("reload-server"), reload_tree)
    yield srv
    assert srv.stop() == 0, srv.log()


def test_hup_serves_the_changed_file(reloading, reload_tree):
    assert rrs(reloading.query("www.a.test", "A")) == ["192.0.2.1"]
    reload_tree.write("a.test", zone_text("a.test", "www IN A 192.0.2.2\n", serial=2))
    lines = hup(reloading)
    assert rrs(reloading.query("www.a.test", "A")) == ["192.0.2.2"]
    assert reloading.query("a.test", "SOA").answer[0][0].serial == 2
    # one line for the one zone that changed; nothing about the others
    assert len(zone_lines(lines, "a.test")) == 1, lines
    assert "loaded serial 2" in zone_lines(lines, "a.test")[0]
    # (late.test has no file yet: each reload retries it and says so)
    about_zones = {line for line in lines if "zone '" in line}
    assert about_zones == {*zone_lines(lines, "a.test"), *zone_lines(lines, "late.test")}, lines


def test_hup_keeps_previous_version_of_a_broken_file(reloading, reload_tree):
    path = reload_tree.write("b.test", zone_text("b.test", """\
        www IN A 192.0.2.2
        oops IN AAAA 192.0.2.2
        """, serial=2))
    lines = hup(reloading)
    events = zone_lines(lines, "b.test")
    assert len(events) == 1, lines
    assert f"{path}:{HEAD + 2}: " in events[0], events[0]
    assert "still serving the previous version" in events[0], events[0]
    assert rrs(reloading.query("www.b.test", "A")) == ["192.0.2.1"]
    assert reloading.query("b.test", "SOA").answer[0][0].serial == 1
    # once fixed, the next reload serves it
    reload_tree.write("b.test", zone_text("b.test", "www IN A 192.0.2.3\n", serial=3))
    lines = hup(reloading)
    assert "loaded serial 3" in "".join(zone_lines(lines, "b.test")), lines
    assert rrs(reloading.query("www.b.test", "A")) == ["192.0.2.3"]


def test_hup_picks_up_zones_added_and_removed(reloading, reload_tree):
    assert rrs(reloading.query("www.gone.test", "A")) == ["192.0.2.1"]
    reload_tree.add("new.test", zone_text("new.test", "www IN A 192.0.2.77\n"))
    reload_tree.remove("gone.test")
    lines = hup(reloading)
    assert rrs(reloading.query("www.new.test", "A")) == ["192.0.2.77"]
    assert reloading.query("www.gone.test", "A").rcode() == dns.rcode.REFUSED
    added, removed = zone_lines(lines, "new.test"), zone_lines(lines, "gone.test")
    assert len(added) == 1 and "loaded serial 1" in added[0], lines
    assert len(removed) == 1 and removed[0].endswith("zone 'gone.test': removed"), lines


def test_hup_loads_a_zone_whose_file_was_missing(reloading, reload_tree):
    assert not reloading.query("www.late.test", "A").answer
    reload_tree.write("late.test", zone_text("late.test", "www IN A 192.0.2.99\n"))
    lines = hup(reloading)
    assert rrs(reloading.query("www.late.test", "A")) == ["192.0.2.99"]
    assert len(zone_lines(lines, "late.test")) == 1, lines


def test_hup_without_changes_reloads_no_zone(reloading):
    lines = hup(reloading)
    assert not [line for line in lines if "loaded serial" in line or "': removed" in line], lines
    assert " reload: 0 zones loaded, 0 removed" in lines[-1], lines


# --------------------------------------------------------------------------------------------
# bind-check-interval


@pytest.fixture(scope="module")
def periodic_tree(tmp_path_factory):
    tree = ZoneTree(tmp_path_factory.mktemp("periodic"))
    tree.add("p.test", zone_text("p.test", "www IN A 192.0.2.1\n", serial=1))
    tree.add("q.test", zone_text("q.test", "www IN A 192.0.2.1\n", serial=1))
    return tree


@pytest.fixture(scope="module")
def periodic(periodic_tree, tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("periodic-server"), periodic_tree,
                       {"bind-check-interval": "1"})
    yield srv
    assert srv.stop() == 0, srv.log()


def test_check_interval_notices_a_change_without_a_signal(periodic, periodic_tree):
    periodic_tree.write("p.test", zone_text("p.test", "www IN A 192.0.2.2\n", serial=2))
    wait_until(lambda: rrs(periodic.query("www.p.test", "A")) == ["192.0.2.2"], timeout=4,
               what="the changed p.test served")
    assert len([line for line in zone_lines(periodic.log().splitlines(), "p.test")
                if "loaded serial 2" in line]) == 1


def test_check_interval_logs_a_broken_change_once(periodic, periodic_tree):
    path = periodic_tree.write("q.test", zone_text("q.test", "www IN A 192.0.2.2\nx IN MX\n",
                                                   serial=2))
    wait_until(lambda: any(f"{path}:{HEAD + 2}: " in line
                           for line in zone_lines(periodic.log().splitlines(), "q.test")),
               timeout=4, what="the error about q.test")
    time.sleep(2.5)   # two more checks: the file did not change again, so no new line
    errors = [line for line in zone_lines(periodic.log().splitlines(), "q.test")
              if "still serving the previous version" in line]
    assert len(errors) == 1, periodic.log()
    assert rrs(periodic.query("www.q.test", "A")) == ["192.0.2.1"]


def test_check_interval_is_quiet_when_nothing_changes(periodic):
    before = periodic.log()
    time.sleep(2.2)
    assert periodic.log()[len(before):] == ""


def test_first_hup_without_changes_reloads_no_zone_with_an_include(tmp_path):
    """The change token of a zone covers its $INCLUDEd files from its first load on."""
    tree = ZoneTree(tmp_path / "tree")
    (tree.directory / "extra.inc").write_text("mail IN A 192.0.2.25\n")
    tree.add("inc.test", zone_text("inc.test", "$INCLUDE extra.inc\nwww IN A 192.0.2.1\n"))
    srv = start_server(tmp_path / "server", tree)
    try:
        assert rrs(srv.query("mail.inc.test", "A")) == ["192.0.2.25"]
        lines = hup(srv)
        assert not [line for line in lines if "loaded serial" in line], lines
        (tree.directory / "extra.inc").write_text("mail IN A 192.0.2.26\n")
        lines = hup(srv)
        assert len(zone_lines(lines, "inc.test")) == 1, lines
        assert rrs(srv.query("mail.inc.test", "A")) == ["192.0.2.26"]
    finally:
        assert srv.stop() == 0, srv.log()

"""fastdns.backends.namedconf: the named.conf subset the bind backend reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fastdns.backends.namedconf import NamedConf, NamedConfError, NamedZone, parse_named_conf

PDNSUTIL = shutil.which("pdnsutil")
needs_pdnsutil = pytest.mark.skipif(PDNSUTIL is None, reason="pdnsutil is not installed")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def parse(path: Path) -> NamedConf:
    return parse_named_conf(str(path))


def error_of(path: Path) -> str:
    with pytest.raises(NamedConfError) as info:
        parse(path)
    return str(info.value)


def test_zones_and_options(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "named.conf",
        """\
options {
    directory "zones";          // relative to named.conf's directory
    also-notify { 192.0.2.10; 192.0.2.11 port 5300; [2001:db8::11]:5300; };
    recursion no;
    allow-query { any; };
};

zone "Example.COM" IN {
    type master;
    file "example.com.zone";
    also-notify { 198.51.100.1; };
    allow-transfer { none; };
    notify explicit;
};

zone "example.net" {
    type slave;
    masters { 192.0.2.1; 192.0.2.2 port 5300; 2001:db8::1; 2001:db8::2 port 53;
              192.0.2.3:5301; [2001:db8::3]:5302; };
    file "/var/lib/zones/example.net.zone";
};
zone "example.org" { type secondary; primaries port 5353 { 192.0.2.4; 192.0.2.5 port 53; };
                     file "sub/example.org"; };
zone "example.info" { type native; file "example.info"; };
zone "example.biz" { type primary; file "example.biz"; };
zone "." { type master; file "root.zone"; };
""",
    )
    named = parse(conf)
    zones = tmp_path / "zones"
    assert named.path == str(conf)
    assert named.directory == str(zones)
    assert named.also_notify == ("192.0.2.10", "192.0.2.11:5300", "[2001:db8::11]:5300")
    assert named.warnings == ()
    assert named.zones == (
        NamedZone(
            name="example.com.",
            kind="primary",
            file=str(zones / "example.com.zone"),
            primaries=(),
            also_notify=("198.51.100.1",),
            where=f"{conf}:8",
        ),
        NamedZone(
            name="example.net.",
            kind="secondary",
            file="/var/lib/zones/example.net.zone",
            primaries=(
                "192.0.2.1",
                "192.0.2.2:5300",
                "2001:db8::1",
                "[2001:db8::2]:53",
                "192.0.2.3:5301",
                "[2001:db8::3]:5302",
            ),
            also_notify=(),
            where=f"{conf}:16",
        ),
        NamedZone(
            name="example.org.",
            kind="secondary",
            file=str(zones / "sub" / "example.org"),
            primaries=("192.0.2.4:5353", "192.0.2.5:53"),
            also_notify=(),
            where=f"{conf}:22",
        ),
        NamedZone("example.info.", "native", str(zones / "example.info"), (), (), f"{conf}:24"),
        NamedZone("example.biz.", "primary", str(zones / "example.biz"), (), (), f"{conf}:25"),
        NamedZone(".", "primary", str(zones / "root.zone"), (), (), f"{conf}:26"),
    )


def test_no_options_means_the_directory_of_named_conf(tmp_path: Path) -> None:
    conf = write(tmp_path / "etc" / "named.conf", 'zone "a.test" { type master; file "a"; };')
    named = parse(conf)
    assert named.directory == str(tmp_path / "etc")
    assert named.zones[0].file == str(tmp_path / "etc" / "a")
    assert named.also_notify == ()


def test_comments_and_strings(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "named.conf",
        """\
/* a block comment
   over "three" lines { } ; */
# shell comment zone "commented.test" { };
// C++ comment zone "commented.test" { };
zone "a.test" { type master; file "a file with spaces and \\"quotes\\"";  }; /* x */ # y
zone /* inline */ "b.test" {type master;file "b";};
zone "c.test"
{
    type    master ;
    file
        "c" ;
} ;
zone d.test { type master; file path/without/quotes; };
""",
    )
    named = parse(conf)
    assert [(z.name, Path(z.file).name, z.where.rpartition(":")[2]) for z in named.zones] == [
        ("a.test.", 'a file with spaces and "quotes"', "5"),
        ("b.test.", "b", "6"),
        ("c.test.", "c", "7"),
        ("d.test.", "quotes", "13"),
    ]
    assert named.zones[3].file == str(tmp_path / "path" / "without" / "quotes")


def test_unknown_statements_are_skipped(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "named.conf",
        """\
acl "trusted" { 10.0.0.0/8; !192.0.2.0/24; { 127.0.0.1; }; };
key "tsig-key" { algorithm hmac-sha256; secret "c2VjcmV0"; };
logging {
    channel default_log { file "/var/log/named.log" versions 3 size 5m; severity info; };
    category default { default_log; };
};
controls { inet 127.0.0.1 port 953 allow { 127.0.0.1; } keys { "rndc-key"; }; };
server 192.0.2.99 { keys { tsig-key; }; };
statistics-channels { inet 127.0.0.1 port 8053; };
dnssec-policy "standard" { keys { ksk lifetime unlimited algorithm 13; }; };
options { directory "."; listen-on port 53 { any; }; dnssec-validation auto;
          forwarders { 0.0.0.0; }; };
view "internal" {
    match-clients { trusted; };
    zone "internal.test" { type master; file "internal"; };
};
zone "ch.test" CH { type master; file "ch"; };
zone "a.test" { type master; file "a"; in-view "internal"; };
""",
    )
    named = parse(conf)
    assert [zone.name for zone in named.zones] == ["a.test."]
    assert named.warnings == (
        f"{conf}:13: view 'internal' skipped; zones inside views are not served",
        f"{conf}:17: zone 'ch.test.' of class CH skipped",
    )


def test_debian_bind9_layout(tmp_path: Path) -> None:
    """Debian's bind9 package layout: named.conf including three files."""
    etc = tmp_path / "etc" / "bind"
    cache = tmp_path / "var" / "cache" / "bind"
    cache.mkdir(parents=True)
    conf = write(
        etc / "named.conf",
        f"""\
// This is the primary configuration file for the BIND DNS server named.
//
// Please read /usr/share/doc/bind9/README.Debian for information on the
// structure of BIND configuration files in Debian, *BEFORE* you customize
// this configuration file.
//
// If you are just adding zones, please do that in /etc/bind/named.conf.local

include "{etc}/named.conf.options";
include "{etc}/named.conf.local";
include "{etc}/named.conf.default-zones";
""",
    )
    write(
        etc / "named.conf.options",
        f"""\
options {{
\tdirectory "{cache}";

\t// If there is a firewall between you and nameservers you want
\t// to talk to, you may need to fix the firewall to allow multiple
\t// ports to talk.  See http://www.kb.cert.org/vuls/id/800113

\t// forwarders {{
\t// \t0.0.0.0;
\t// }};

\t//========================================================================
\t// If BIND logs error messages about the root key being expired,
\t// you will need to update your keys.  See https://www.isc.org/bind-keys
\t//========================================================================
\tdnssec-validation auto;

\tlisten-on-v6 {{ any; }};
}};
""",
    )
    local = write(
        etc / "named.conf.local",
        f"""\
//
// Do any local configuration here
//

// Consider adding the 1918 zones here, if they are not used in your
// organization
//include "/etc/bind/zones.rfc1918";

zone "example.com" {{
\ttype master;
\tfile "{etc}/db.example.com";
\tallow-transfer {{ 192.0.2.2; }};
}};

zone "example.net" {{
\ttype slave;
\tfile "db.example.net";
\tmasters {{ 192.0.2.1; }};
}};
""",
    )
    zones = write(
        etc / "named.conf.default-zones",
        f"""\
// prime the server with knowledge of the root servers
zone "." {{
\ttype hint;
\tfile "/usr/share/dns/root.hints";
}};

// be authoritative for the localhost forward and reverse zones, and for
// broadcast zones as per RFC 1912

zone "localhost" {{
\ttype master;
\tfile "{etc}/db.local";
}};

zone "127.in-addr.arpa" {{
\ttype master;
\tfile "{etc}/db.127";
}};

zone "0.in-addr.arpa" {{
\ttype master;
\tfile "{etc}/db.0";
}};

zone "255.in-addr.arpa" {{
\ttype master;
\tfile "{etc}/db.255";
}};
""",
    )
    named = parse(conf)
    assert named.directory == str(cache)
    assert [(z.name, z.kind, z.file, z.primaries, z.where) for z in named.zones] == [
        ("example.com.", "primary", f"{etc}/db.example.com", (), f"{local}:9"),
        ("example.net.", "secondary", f"{cache}/db.example.net", ("192.0.2.1",), f"{local}:15"),
        ("localhost.", "primary", f"{etc}/db.local", (), f"{zones}:10"),
        ("127.in-addr.arpa.", "primary", f"{etc}/db.127", (), f"{zones}:15"),
        ("0.in-addr.arpa.", "primary", f"{etc}/db.0", (), f"{zones}:20"),
        ("255.in-addr.arpa.", "primary", f"{etc}/db.255", (), f"{zones}:25"),
    ]
    assert named.warnings == (f"{zones}:2: zone '.' of type hint skipped",)


def test_debian_pdns_layout(tmp_path: Path) -> None:
    """Debian's pdns-backend-bind: named.conf includes the (empty) autosecondary file."""
    supermaster = write(tmp_path / "var" / "supermaster.conf", "")
    conf = write(
        tmp_path / "named.conf",
        f"""\
# Debian default: supermaster created zones are written here:
include "{supermaster}";

# Example for a manually configured slave zone:
#
# zone "example.net" {{
#   file "/var/lib/powerdns/zones.slave.d/example.net.zone";
#   type slave;
#   masters {{ 192.0.2.53; }};
# }};
""",
    )
    assert parse(conf) == NamedConf(str(conf), str(tmp_path), (), (), ())


def test_includes_resolve_against_directory(tmp_path: Path) -> None:
    """As PowerDNS and BIND: a relative include is relative to the current `directory`."""
    conf = write(
        tmp_path / "named.conf",
        'include "before.conf";\n'  # before options: directory is named.conf's own
        'options { directory "data"; include "opts.conf"; };\n'
        'include "zones.conf";\n',
    )
    write(tmp_path / "before.conf", 'zone "before.test" { type master; file "before"; };\n')
    write(tmp_path / "data" / "opts.conf", "also-notify { 192.0.2.9; };\n")
    nested = write(
        tmp_path / "data" / "zones.conf",
        '\nzone "x.test" {\n  include "zone-body.conf";\n};\ninclude "more/zones.conf";\n',
    )
    write(tmp_path / "data" / "zone-body.conf", 'type slave; masters { 192.0.2.1; };\nfile "x";\n')
    more = write(tmp_path / "data" / "more" / "zones.conf", 'zone "y.test" { type master;'
                 ' file "y"; };\n')  # fmt: skip
    named = parse(conf)
    assert named.also_notify == ("192.0.2.9",)
    assert [(z.name, z.file, z.where) for z in named.zones] == [
        ("before.test.", str(tmp_path / "before"), f"{tmp_path}/before.conf:1"),
        ("x.test.", str(tmp_path / "data" / "x"), f"{nested}:2"),
        ("y.test.", str(tmp_path / "data" / "y"), f"{more}:1"),
    ]
    assert named.zones[1].primaries == ("192.0.2.1",)


def test_named_primaries_lists(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "named.conf",
        'zone "a.test" { type slave; masters { upstream; 192.0.2.9; }; file "a"; };\n'
        "masters upstream port 5300 { 192.0.2.1; inner; };\n"
        "primaries inner { 2001:db8::1; 192.0.2.2 port 53; };\n",
    )
    assert parse(conf).zones[0].primaries == (
        "192.0.2.1:5300", "[2001:db8::1]:5300", "192.0.2.2:53", "192.0.2.9",
    )  # fmt: skip


def test_secondary_without_primaries_warns(tmp_path: Path) -> None:
    conf = write(tmp_path / "named.conf", 'zone "a.test" { type slave; file "a"; };\n')
    assert parse(conf).warnings == (f"{conf}:1: secondary zone 'a.test.' has no primaries",)


@needs_pdnsutil
def test_same_zones_as_real_pdns(tmp_path: Path) -> None:
    """A named.conf in the syntax PowerDNS 4.7 accepts: PowerDNS lists the same zones."""
    assert PDNSUTIL is not None
    zone = "$TTL 300\n@ SOA ns1.{0}. hostmaster.{0}. 1 3600 600 86400 300\n@ NS ns1.{0}.\n"
    for name in ("example.com", "example.net", "example.org"):
        write(tmp_path / "zones" / f"{name}.zone", zone.format(name))
    conf = write(
        tmp_path / "named.conf",
        f'options {{ directory "{tmp_path}/zones"; also-notify {{ 192.0.2.9; }}; }};\n'
        "/* c */ # c\n// c\n"
        'include "inc.conf";\n'
        'zone "example.com" IN { type master; file "example.com.zone"; };\n'
        'zone "example.org" { type slave; masters { 192.0.2.1; 192.0.2.2:5300; };'
        ' file "example.org.zone"; };\n'
        'zone "example.info" { type hint; file "root.hints"; };\n',
    )
    write(tmp_path / "zones" / "inc.conf", 'zone "example.net" { type native;'
          ' file "example.net.zone"; };\n')  # fmt: skip
    write(tmp_path / "pdns.conf", f"launch=bind\nbind-config={conf}\n")
    result = subprocess.run(
        [PDNSUTIL, f"--config-dir={tmp_path}", "list-all-zones"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    pdns_zones = {line.strip().lower() + "." for line in result.stdout.splitlines() if line}
    assert {zone.name for zone in parse(conf).zones} == pdns_zones


# --------------------------------------------------------------------------------------------
# Errors: every one names file:line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('zone "a.test" {\n type master;\n};\n', "1: zone 'a.test.' has no file"),
        ('\nzone "a.test" { file "a"; };\n', "2: zone 'a.test.' has no type"),
        ('zone "a.test" { type master; file "a"; };\n\nzone "A.TEST." { type slave; file "b"; };',
         "3: zone 'a.test.' is declared twice (first at {conf}:1)"),
        ('options {\n directory "/tmp;\n};\n', "2: string is never closed"),
        ('options { };\n/* unterminated\n\n', "2: comment '/*' is never closed"),
        ('options {\n directory "/tmp";\n', "1: '{' is never closed"),
        ('zone "a.test" { type master; file "a"; { };\n', "1: '{' is never closed"),
        ('options { };\n};\n', "2: '}' without a matching '{'"),
        ('options { directory "/tmp" };\n', "1: missing ';' at the end of this statement"),
        ('options { directory "/tmp"; }\nzone "a.test" { type master; file "a"; };\n',
         "1: missing ';' after options { ... }"),
        ('zone "a.test" { type master; file "a"; }', "1: missing ';' at the end of this statement"),
        ('zone "a.test" { type master; file "a"; } zone "b.test" { };',
         "1: missing ';' after the body of zone 'a.test' (found 'zone')"),
        ('zone;', "1: zone statement without a zone name"),
        ('zone "a.test";', "1: zone 'a.test' has no { ... } body"),
        ('zone "a..test" { type master; file "a"; };',
         "1: bad zone name 'a..test': A DNS label is empty."),
        ('zone "a.test" { type slave; file "a";\n masters { 192.0.2.300; }; };',
         "2: '192.0.2.300' is not an IP address"),
        ('zone "a.test" { type slave; file "a";\n masters { ns1.example.com; }; };',
         "2: 'ns1.example.com' is not an IP address"),
        ('zone "a.test" { type slave; file "a"; masters {\n 192.0.2.1 port 99999; }; };',
         "2: bad port '99999'"),
        ('zone "a.test" { type slave; file "a"; masters {\n 192.0.2.1 key "k"; }; };',
         "2: TSIG keys in address lists are not supported yet"),
        ('zone "a.test" { type slave; file "a"; masters { 192.0.2.1 foo bar baz; }; };',
         "1: bad address '192.0.2.1 foo bar baz'"),
        ('zone "a.test" { type slave; file "a"; masters 192.0.2.1; };',
         "1: 'masters' needs a { ... } list"),
        ('zone "a.test" { type; file "a"; };', "1: 'type' needs exactly one value"),
        ('zone "a.test" { type master; file "a" "b"; };', "1: 'file' needs exactly one value"),
        ('options { directory "/a"; };\n\noptions { };', "3: second options statement (the first"
         " is at {conf}:1)"),
        ('options directory "/a";', "1: expected options { ... };"),
        ('include;', '1: expected include "FILE";'),
        ('include "{dir}/missing.conf";',
         "1: cannot read '{dir}/missing.conf': No such file or directory"),
        ('include "named.conf";', "1: '{dir}/named.conf' includes itself"),
        ('zone "a.test" { type slave; file "a"; masters { loop; }; };\n'
         "masters loop { loop; };", "2: primaries list 'loop' refers to itself"),
        ("\n\n" + "{ " * 100 + "}" * 100 + ";", "3: braces nested too deeply"),
    ],
)  # fmt: skip
def test_errors(tmp_path: Path, text: str, message: str) -> None:
    conf = tmp_path / "named.conf"
    conf.write_text(text.replace("{dir}", str(tmp_path)))
    expected = message.replace("{conf}", str(conf)).replace("{dir}", str(tmp_path))
    assert error_of(conf) == f"{conf}:{expected}"


def test_error_inside_an_included_file(tmp_path: Path) -> None:
    conf = write(tmp_path / "named.conf", 'zone "a.test" { type master; file "a"; };\n'
                 'include "inc.conf";\n')  # fmt: skip
    inc = write(tmp_path / "inc.conf", '\n\nzone "a.test" { type master; file "b"; };\n')
    assert error_of(conf) == f"{inc}:3: zone 'a.test.' is declared twice (first at {conf}:1)"
    write(tmp_path / "inc.conf", "\n/* never closed\n")
    assert error_of(conf) == f"{inc}:2: comment '/*' is never closed"


def test_include_cycle_and_depth(tmp_path: Path) -> None:
    conf = write(tmp_path / "named.conf", 'include "a.conf";\n')
    a = write(tmp_path / "a.conf", '\ninclude "b.conf";\n')
    write(tmp_path / "b.conf", 'include "a.conf";\n')
    assert error_of(conf) == f"{tmp_path}/b.conf:1: '{a}' includes itself"
    for n in range(20):
        write(tmp_path / f"d{n}.conf", f'include "d{n + 1}.conf";\n')
    write(tmp_path / "named.conf", 'include "d0.conf";\n')
    # named.conf → d0 → ... → d9 is 10 levels, as PowerDNS allows; d9 → d10 is one too many
    assert error_of(conf) == f"{tmp_path}/d9.conf:1: includes nested too deeply"


def test_missing_named_conf(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.conf") == (
        f"{tmp_path}/nope.conf: cannot read '{tmp_path}/nope.conf': No such file or directory"
    )


def test_not_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "named.conf"
    conf.write_bytes(b'zone "\xff" { };')
    assert error_of(conf) == f"{conf}: '{conf}' is not valid UTF-8"


def test_large_file_is_fast(tmp_path: Path) -> None:
    """A registrar's named.conf: 20,000 zones parse in well under a second or two."""
    lines = [
        f'zone "zone{n}.example" {{ type master; file "zones/zone{n}.example"; }};\n'
        for n in range(20000)
    ]
    conf = write(tmp_path / "named.conf", "".join(lines))
    named = parse(conf)
    assert len(named.zones) == 20000
    assert named.zones[-1].where == f"{conf}:20000"

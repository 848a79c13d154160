"""fastdns.config: the settings table, pdns.conf reading, the command line, --config output."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastdns.config import settings
from fastdns.config.loader import (
    COMMAND_LINE,
    CommandLine,
    Config,
    ConfigError,
    load_config,
    parse_command_line,
    read_config_file,
)
from fastdns.config.settings import (
    ALIASES,
    BACKEND_SETTINGS,
    NOT_IMPLEMENTED,
    PDNS_BACKENDS,
    PDNS_SETTINGS,
    SETTINGS,
    BackendInstance,
    Kind,
    Netmask,
    Setting,
    SocketAddress,
    declare_backend_settings,
    match_netmasks,
    parse_address,
    parse_value,
)

PDNS = shutil.which("pdns_server")
needs_pdns = pytest.mark.skipif(PDNS is None, reason="pdns_server is not installed")


def load(directory: Path, *args: str, cwd: Path | None = None) -> Config:
    argv = [f"--config-dir={directory}", *args]
    return load_config(parse_command_line(argv, cwd=str(cwd or directory)))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_of(directory: Path, *args: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(directory, *args)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# The table


def test_every_default_parses() -> None:
    for row in SETTINGS.values():
        parse_value(row, row.default)


def test_table_rows_are_well_formed() -> None:
    for name, row in SETTINGS.items():
        assert name == row.name
        assert row.help and "\n" not in row.help, name
        assert row.name == row.name.lower() and " " not in row.name
    # fastdns's own names are only those PowerDNS has no equivalent for
    assert set(SETTINGS) - PDNS_SETTINGS == {"workers", "zone-check-interval", "heartbeat-timeout",
                                             "zone-cache-dir",
                                             "gsqlite3-create-schema",
                                             "gsqlite3-seed-bind-config",
                                             "xfr-max-received-records"}
    for alias, target in ALIASES.items():
        assert alias in PDNS_SETTINGS and target in SETTINGS and alias not in SETTINGS
    assert NOT_IMPLEMENTED <= set(SETTINGS)
    # general names never look like backend settings
    for name in SETTINGS:
        if name.partition("-")[0] in PDNS_BACKENDS:
            assert name.partition("-")[2] in BACKEND_SETTINGS[name.partition("-")[0]]


def test_pending_marker() -> None:
    assert SETTINGS["local-port"].implemented
    assert SETTINGS["bind-config"].implemented
    assert SETTINGS["cache-ttl"].implemented
    assert not SETTINGS["query-cache-ttl"].implemented
    assert SETTINGS["bind-dnssec-db"].implemented
    assert not SETTINGS["bind-hybrid"].implemented
    assert not BACKEND_SETTINGS["bind"]["hybrid"].implemented


def test_pdns_names() -> None:
    assert len(PDNS_SETTINGS) == 374
    for name in ("8bit-dns", "zone-metadata-cache-ttl", "bind-hybrid", "gsqlite3-database",
                 "gpgsql-extra-connection-parameters", "gmysql-innodb-read-committed",
                 "gpgsql-list-query"):  # fmt: skip
        assert name in PDNS_SETTINGS


def _pdns_config_default() -> dict[str, tuple[str, str]]:
    """name → (default, help) as printed by the real pdns_server."""
    assert PDNS is not None
    result = subprocess.run(
        [PDNS, "--no-config", "--launch=bind,gsqlite3,gpgsql,gmysql", "--config=default"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"pdns_server cannot load the four backends: {result.stderr.strip()}")
    output = result.stdout
    result: dict[str, tuple[str, str]] = {}
    help_text = ""
    for line in output.splitlines():
        if line.startswith("# ") and "\t" in line:
            help_text = line.partition("\t")[2]
        elif line.startswith("# ") and "=" in line:
            name, _, default = line[2:].partition("=")
            result[name] = (default, help_text)
    return result


@needs_pdns
def test_names_and_defaults_match_real_pdns() -> None:
    pdns = _pdns_config_default()
    assert set(pdns) == PDNS_SETTINGS
    # deliberate differences, each one argued in settings.py
    different = {"config-dir", "launch", "dname-processing", "server-id", "socket-dir",
                 "signing-threads"}
    for name, row in SETTINGS.items():
        if name in pdns and name not in different:
            assert row.default == pdns[name][0], name
        if name in pdns:
            assert row.help != pdns[name][1], f"help of {name} is PowerDNS's text"


# --------------------------------------------------------------------------------------------
# Values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", SocketAddress("192.0.2.1", None)),
        ("192.0.2.1:5300", SocketAddress("192.0.2.1", 5300)),
        ("2001:DB8::1", SocketAddress("2001:db8::1", None)),
        ("::", SocketAddress("::", None)),
        ("[2001:db8::1]", SocketAddress("2001:db8::1", None)),
        ("[::1]:53", SocketAddress("::1", 53)),
    ],
)
def test_parse_address(text: str, expected: SocketAddress) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize(
    "text", ["example.com", "192.0.2.1:", "192.0.2.1:0", "192.0.2.1:65536", "[192.0.2.1]:53",
             "[::1]:x", "1.2.3.4.5", ""],
)  # fmt: skip
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_socket_address_text() -> None:
    assert str(SocketAddress("::1", 53)) == "[::1]:53"
    assert str(SocketAddress("192.0.2.1", 53)) == "192.0.2.1:53"
    assert str(SocketAddress("::1", None)) == "::1"


def test_netmasks() -> None:
    row = SETTINGS["allow-axfr-ips"]
    masks = parse_value(row, "10.0.0.0/8, !10.1.0.0/16 192.0.2.1,::1")
    assert isinstance(masks, tuple)
    assert [str(mask) for mask in masks] == ["10.0.0.0/8", "!10.1.0.0/16", "192.0.2.1/32",
                                             "::1/128"]  # fmt: skip
    netmasks = [mask for mask in masks if isinstance(mask, Netmask)]
    assert match_netmasks(netmasks, "10.2.3.4")
    assert not match_netmasks(netmasks, "10.1.2.3")
    assert match_netmasks(netmasks, "192.0.2.1")
    assert not match_netmasks(netmasks, "192.0.2.2")
    assert match_netmasks(netmasks, "::1")
    assert not match_netmasks(netmasks, "::2")
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        parse_value(row, "10.0.0.0/33")


def test_bool_and_int_values() -> None:
    daemon = SETTINGS["daemon"]
    for text in ("", "yes", "on", "true", "1", "YES"):
        assert parse_value(daemon, text) is True
    for text in ("no", "off", "false", "0"):
        assert parse_value(daemon, text) is False
    with pytest.raises(ValueError, match="'maybe' is not yes or no"):
        parse_value(daemon, "maybe")
    port = SETTINGS["local-port"]
    assert parse_value(port, "5300") == 5300
    assert parse_value(port, "") == 53  # empty means the default, as PowerDNS's asNum
    assert parse_value(SETTINGS["max-signature-cache-entries"], "") is None
    for text, message in (("53x", "not a whole number"), ("0x35", "not a whole number"),
                          ("-1", "not a whole number"), ("0", "below the minimum of 1"),
                          ("65536", "above the maximum of 65535")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_value(port, text)


# --------------------------------------------------------------------------------------------
# Defaults and the choice of file


def test_defaults_without_any_file() -> None:
    cfg = load_config(CommandLine(no_config=True))
    assert cfg.local_port == 53
    assert cfg["local-port"] == 53
    assert cfg.local_address == (SocketAddress("0.0.0.0", None), SocketAddress("::", None))
    assert cfg.dname_processing is True
    assert cfg.launch == ("bind",)
    assert cfg.instances == (BackendInstance("bind", ""),)
    assert cfg.udp_truncation_threshold == 1232
    assert cfg.workers == 0
    assert cfg.any_to_tcp is True
    assert cfg.allow_axfr_ips[0] == Netmask(ipaddress.ip_network("127.0.0.0/8"), False)
    assert cfg.source("local-port") == "default"
    assert cfg.files == ()
    assert cfg.warnings == []


def test_reads_pdns_conf(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\n")
    cfg = load(tmp_path)
    assert cfg.local_port == 5300
    assert cfg.source("local-port") == f"{tmp_path}/pdns.conf:1"
    assert cfg.files == (f"{tmp_path}/pdns.conf",)


def test_fastdns_conf_wins_over_pdns_conf(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\n")
    write(tmp_path / "fastdns.conf", "local-port=5301\n")
    assert load(tmp_path).local_port == 5301


def test_config_name(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\n")
    write(tmp_path / "pdns-second.conf", "local-port=5302\n")
    assert load(tmp_path, "--config-name=second").local_port == 5302
    write(tmp_path / "fastdns-second.conf", "local-port=5303\n")
    cfg = load(tmp_path, "--config-name=second")
    assert cfg.local_port == 5303
    assert cfg.config_name == "second"
    assert cfg.source("config-name") == COMMAND_LINE


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    assert cfg.local_port == 53
    assert cfg.warnings == [f"{tmp_path}: no fastdns.conf or pdns.conf here; using the defaults"]


def test_missing_config_dir_is_an_error(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope") == (
        f"command line: config-dir '{tmp_path}/nope' is not a directory"
    )


def test_default_config_dirs(tmp_path: Path) -> None:
    write(tmp_path / "powerdns" / "pdns.conf", "local-port=5300\n")
    dirs = (str(tmp_path / "fastdns"), str(tmp_path / "powerdns"))
    cfg = load_config(CommandLine(), default_config_dirs=dirs)
    assert cfg.local_port == 5300
    assert cfg.config_dir == str(tmp_path / "powerdns")
    assert cfg.source("config-dir") == "default"
    write(tmp_path / "fastdns" / "fastdns.conf", "local-port=5301\n")
    assert load_config(CommandLine(), default_config_dirs=dirs).local_port == 5301


def test_no_config_reads_no_file(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\n")
    assert load(tmp_path, "--no-config").local_port == 53


# --------------------------------------------------------------------------------------------
# File syntax


def test_file_syntax(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "pdns.conf",
        "# a comment\n"
        "   \n"
        "  local-port  =  5300   \n"
        "version-string=hello # trailing comment\n"
        "server-id=ns#1\n"
        "webserver-password=pa\tss\t#x\n"
        "cache-ttl=30\n"
        "cache-ttl=40\r\n"
        "default-soa-content=ns1.example.com. \\\n"
        "  hostmaster.@ 0 10800 3600 604800 3600\n"
        "daemon\n",
    )
    cfg = load(tmp_path)
    assert cfg.local_port == 5300
    assert cfg.version_string == "hello"
    assert cfg.server_id == "ns#1"
    assert cfg.webserver_password == "pa\tss"
    assert cfg.cache_ttl == 40
    assert cfg.source("cache-ttl") == f"{conf}:8"
    assert cfg.default_soa_content == "ns1.example.com.   hostmaster.@ 0 10800 3600 604800 3600"
    assert cfg.source("default-soa-content") == f"{conf}:9"
    assert cfg.daemon is True


def test_read_config_file_keeps_order_and_lines(tmp_path: Path) -> None:
    conf = write(tmp_path / "x.conf", "a=1\n\n# c\nb+=2\n")
    assignments = read_config_file(str(conf))
    assert [(a.key, a.text, a.append, a.where) for a in assignments] == [
        ("a", "1", False, f"{conf}:1"),
        ("b", "2", True, f"{conf}:4"),
    ]


def test_append(tmp_path: Path) -> None:
    write(
        tmp_path / "pdns.conf",
        "allow-axfr-ips+=10.0.0.0/8\n"  # appends to the default, as PowerDNS
        "also-notify=\n"
        "also-notify+=192.0.2.1\n"
        "also-notify+=[2001:db8::1]:5300\n",
    )
    cfg = load(tmp_path)
    assert cfg.text("allow-axfr-ips") == "127.0.0.0/8,::1, 10.0.0.0/8"
    assert len(cfg.allow_axfr_ips) == 3
    assert cfg.also_notify == (SocketAddress("192.0.2.1", None), SocketAddress("2001:db8::1", 5300))


def test_append_without_parent_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "# x\nalso-notify+=192.0.2.1\n")
    assert error_of(tmp_path) == (
        f"{conf}:2: 'also-notify+=' with nothing to add to; set 'also-notify=' first"
    )


def test_append_to_a_scalar_is_an_error(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "local-port+=5\n")
    assert error_of(tmp_path) == (
        f"{conf}:1: 'local-port' is not a list setting; '+=' cannot add to it"
    )


def test_line_without_equals(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "cache-ttl 7\n")
    assert error_of(tmp_path) == f"{conf}:1: expected 'name=value', found 'cache-ttl 7'"
    write(tmp_path / "pdns.conf", "=7\n")
    assert error_of(tmp_path) == f"{conf}:1: no setting name in '=7'"


def test_bad_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "pdns.conf"
    conf.write_bytes(b"local-port=53\nversion-string=\xff\n")
    assert error_of(tmp_path) == f"{conf}:2: not valid UTF-8"


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "pdns.conf").mkdir()
    assert error_of(tmp_path).startswith(f"{tmp_path}/pdns.conf: cannot read: ")


def test_unknown_setting(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "local-port=53\n\nno-such-thing=1\n")
    assert error_of(tmp_path) == f"{conf}:3: unknown setting 'no-such-thing'"


def test_ignore_unknown_settings(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "ignore-unknown-settings=no-such-thing\nno-such-thing=1\n")
    cfg = load(tmp_path)
    assert cfg.warnings == [f"{conf}:2: ignoring unknown setting 'no-such-thing' as asked"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("local-port=abc", "bad value for 'local-port': 'abc' is not a whole number"),
        ("local-port=70000", "bad value for 'local-port': 70000 is above the maximum of 65535"),
        ("loglevel=10", "bad value for 'loglevel': 10 is above the maximum of 9"),
        ("cache-ttl=4294967296", "bad value for 'cache-ttl': 4294967296 is above the maximum"
                                 " of 2147483647"),
        ("daemon=maybe", "bad value for 'daemon': 'maybe' is not yes or no"),
        ("local-address=192.0.2.1:99999", "bad value for 'local-address': bad port in "
                                          "'192.0.2.1:99999'"),
        ("local-address=localhost", "bad value for 'local-address': 'localhost' is not an IP"
                                    " address"),
        ("allow-axfr-ips=10.0.0.0/33", "bad value for 'allow-axfr-ips': '10.0.0.0/33' is not an"
                                       " IP address or network"),
        ("launch=bind,nosuch", "bad value for 'launch': unknown backend 'nosuch'"),
        ("launch=bind:BAD!", "bad value for 'launch': bad instance name in 'bind:BAD!'"),
        ("receiver-threads=x", "bad value for 'receiver-threads': 'x' is not a whole number"),
    ],
)  # fmt: skip
def test_bad_values(tmp_path: Path, line: str, message: str) -> None:
    conf = write(tmp_path / "pdns.conf", f"# first\n{line}\n")
    assert error_of(tmp_path) == f"{conf}:2: {message}"


def test_pdns_setting_not_implemented_is_a_warning(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "pdns.conf",
        "security-poll-suffix=\nquery-cache-ttl=30\nchroot=/var/empty\nbind-hybrid=yes\n",
    )
    cfg = load(tmp_path)
    assert cfg.warnings == [
        f"{conf}:1: PowerDNS setting 'security-poll-suffix' is not implemented by fastdns yet;"
        " ignored",
        f"{conf}:2: setting 'query-cache-ttl' is not implemented by fastdns yet; ignored",
        f"{conf}:3: setting 'chroot' is not implemented by fastdns yet; ignored",
        f"{conf}:4: setting 'bind-hybrid' is not implemented by fastdns yet; ignored",
    ]
    assert cfg.query_cache_ttl == 30  # declared settings still carry their value
    assert "security-poll-suffix" not in cfg


def test_config_dir_in_a_file_is_ignored(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "config-dir=/elsewhere\n")
    cfg = load(tmp_path)
    assert cfg.config_dir == str(tmp_path)
    assert cfg.warnings == [f"{conf}:1: 'config-dir' only works on the command line; ignored"]


def test_aliases(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "master=yes\nslave=yes\nsecondary=no\n"
                                         "superslave=yes\nreceiver-threads=4\n")  # fmt: skip
    cfg = load(tmp_path)
    assert cfg.primary is True and cfg["master"] is True
    assert cfg.secondary is False and cfg["slave"] is False
    assert cfg.source("slave") == f"{conf}:3"
    assert cfg.autosecondary is True
    assert cfg.workers == 4
    assert cfg.source("workers") == f"{conf}:5"


def test_paths_resolve_against_the_file(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "bind-config=named.conf\nsocket-dir=../run\nchroot=\n")
    cfg = load(tmp_path)
    assert cfg.bind_config == str(tmp_path / "named.conf")
    assert cfg.socket_dir == str(tmp_path.parent / "run")
    assert cfg.chroot == ""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    cfg = load(tmp_path, "--bind-config=other.conf", cwd=elsewhere)
    assert cfg.bind_config == str(elsewhere / "other.conf")


# --------------------------------------------------------------------------------------------
# include-dir


def test_include_dir(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "include-dir=pdns.d\nlaunch=\nlocal-port=1\n")
    write(tmp_path / "pdns.d" / "B.conf", "local-port=3\nlaunch+=bind\n")
    write(tmp_path / "pdns.d" / "a.conf", "local-port=2\nversion-string=a\n")
    write(tmp_path / "pdns.d" / "c.conf", "version-string=c\n")
    write(tmp_path / "pdns.d" / ".hidden.conf", "local-port=4\n")
    write(tmp_path / "pdns.d" / "d.conf.dpkg-old", "local-port=5\n")
    cfg = load(tmp_path)
    assert cfg.files == (
        str(tmp_path / "pdns.conf"),
        str(tmp_path / "pdns.d" / "a.conf"),
        str(tmp_path / "pdns.d" / "B.conf"),
        str(tmp_path / "pdns.d" / "c.conf"),
    )
    assert cfg.local_port == 3
    assert cfg.source("local-port") == f"{tmp_path}/pdns.d/B.conf:1"
    assert cfg.version_string == "c"
    assert cfg.launch == ("bind",)


def test_include_dir_from_command_line(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "include-dir=/nonexistent\n")
    write(tmp_path / "other" / "x.conf", "local-port=7\n")
    cfg = load(tmp_path, f"--include-dir={tmp_path}/other")
    assert cfg.local_port == 7
    assert cfg.include_dir == f"{tmp_path}/other"


def test_missing_include_dir(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "\ninclude-dir=/nonexistent/dir\n")
    assert error_of(tmp_path) == (
        f"{conf}:2: include-dir '/nonexistent/dir' cannot be read: No such file or directory"
    )
    assert error_of(tmp_path, "--include-dir=/nonexistent/other") == (
        "command line: include-dir '/nonexistent/other' cannot be read: No such file or directory"
    )


def test_include_dir_with_a_directory_named_conf(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "include-dir=pdns.d\n")
    (tmp_path / "pdns.d" / "sub.conf").mkdir(parents=True)
    assert error_of(tmp_path) == (
        f"{conf}:1: '{tmp_path}/pdns.d/sub.conf' in include-dir is not a regular file"
    )


def test_errors_in_included_files_name_that_file(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "include-dir=pdns.d\n")
    included = write(tmp_path / "pdns.d" / "x.conf", "local-port=53\nlocal-port=x\n")
    assert error_of(tmp_path) == (
        f"{included}:2: bad value for 'local-port': 'x' is not a whole number"
    )


def test_include_dir_inside_an_included_file(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "include-dir=pdns.d\n")
    included = write(tmp_path / "pdns.d" / "x.conf", f"include-dir={tmp_path}\n")
    cfg = load(tmp_path)
    assert cfg.warnings == [f"{included}:1: include-dir in an included file has no effect"]


def test_debian_layout(tmp_path: Path) -> None:
    """The layout of Debian's pdns-server and pdns-backend-bind packages."""
    write(tmp_path / "pdns.conf", "# lots of comments\n#\n# launch=\nlaunch=\n"
          f"include-dir={tmp_path}/pdns.d\nsecurity-poll-suffix=\n")  # fmt: skip
    write(tmp_path / "pdns.d" / "bind.conf", "launch+=bind\n#\n# bind-config=\n"
          f"bind-config={tmp_path}/named.conf\n")  # fmt: skip
    cfg = load(tmp_path)
    assert cfg.launch == ("bind",)
    assert cfg.bind_config == f"{tmp_path}/named.conf"
    assert cfg.backend(BackendInstance("bind", ""))["config"] == f"{tmp_path}/named.conf"
    assert len(cfg.warnings) == 1 and "security-poll-suffix" in cfg.warnings[0]


# --------------------------------------------------------------------------------------------
# The command line


def test_command_line_parsing(tmp_path: Path) -> None:
    cmdline = parse_command_line(
        ["--local-port=5300", "--daemon", "--also-notify+=192.0.2.1", "--help", "--version"],
        cwd=str(tmp_path),
    )
    assert [(a.key, a.text, a.append, a.where) for a in cmdline.assignments] == [
        ("local-port", "5300", False, COMMAND_LINE),
        ("daemon", "", False, COMMAND_LINE),
        ("also-notify", "192.0.2.1", True, COMMAND_LINE),
    ]
    assert cmdline.help and cmdline.version and cmdline.config_mode is None


@pytest.mark.parametrize(
    ("arg", "mode"),
    [("--config", "full"), ("--config=", "full"), ("--config=default", "default"),
     ("--config=diff", "diff"), ("--config=check", "check"), ("--config=no", None)],
)  # fmt: skip
def test_config_modes(arg: str, mode: str | None) -> None:
    assert parse_command_line([arg]).config_mode == mode


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["local-port=53"], "command line: unexpected argument 'local-port=53' (expected"
                            " --name=value)"),
        (["-h"], "command line: unexpected argument '-h' (expected --name=value)"),
        (["--"], "command line: unexpected argument '--' (expected --name=value)"),
        (["--=5"], "command line: bad argument '--=5'"),
        (["--help=yes"], "command line: '--help' takes no value"),
        (["--config=dif"], "command line: bad value for 'config': 'dif' (expected default,"
                           " diff or check)"),
        (["--no-config=maybe"], "command line: bad value for 'no-config': 'maybe' is not yes"
                                " or no"),
    ],
)  # fmt: skip
def test_command_line_errors(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_command_line(argv)
    assert str(info.value) == message


def test_command_line_overrides_file(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\ndaemon=no\n")
    cfg = load(tmp_path, "--local-port=5301", "--daemon")
    assert cfg.local_port == 5301
    assert cfg.daemon is True
    assert cfg.source("local-port") == COMMAND_LINE


def test_command_line_errors_name_the_command_line(tmp_path: Path) -> None:
    assert error_of(tmp_path, "--no-such-thing=1") == (
        "command line: unknown setting 'no-such-thing'"
    )
    assert error_of(tmp_path, "--local-port=x") == (
        "command line: bad value for 'local-port': 'x' is not a whole number"
    )


def test_command_line_launch_append(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "launch=bind\n")
    cfg = load(tmp_path, "--launch+=gsqlite3:two")
    assert cfg.instances == (BackendInstance("bind", ""), BackendInstance("gsqlite3", "two"))


# --------------------------------------------------------------------------------------------
# Backends and instances


@pytest.fixture
def fake_sqlite_backend() -> Iterator[None]:
    """Declare gsqlite3 settings for one test, as its backend module will at import."""
    saved_settings, saved_backends = dict(SETTINGS), dict(BACKEND_SETTINGS)
    declare_backend_settings(
        "gsqlite3",
        [
            Setting("database", Kind.PATH, "", "SQLite file"),
            Setting("dnssec", Kind.BOOL, "no", "keys and metadata here"),
        ],
    )
    yield
    SETTINGS.clear()
    SETTINGS.update(saved_settings)
    BACKEND_SETTINGS.clear()
    BACKEND_SETTINGS.update(saved_backends)


@pytest.mark.usefixtures("fake_sqlite_backend")
def test_named_backend_instances(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "pdns.conf",
        # settings may come before the launch line that makes them valid, as in PowerDNS
        "gsqlite3-second-database=second.db\n"
        "launch=bind,gsqlite3,gsqlite3:second\n"
        "gsqlite3-database=/var/lib/first.db\n"
        "gsqlite3-second-dnssec=yes\n"
        "gsqlite3-second-pragma-synchronous=1\n",
    )
    cfg = load(tmp_path)
    first, second = BackendInstance("gsqlite3", ""), BackendInstance("gsqlite3", "second")
    assert cfg.instances == (BackendInstance("bind", ""), first, second)
    assert cfg.backend(first) == {"database": "/var/lib/first.db", "dnssec": False}
    assert cfg.backend(second) == {"database": str(tmp_path / "second.db"), "dnssec": True}
    assert cfg["gsqlite3-second-database"] == str(tmp_path / "second.db")
    assert cfg.source("gsqlite3-second-dnssec") == f"{conf}:4"
    assert cfg.warnings == [
        f"{conf}:5: PowerDNS setting 'gsqlite3-second-pragma-synchronous' is not implemented"
        " by fastdns yet; ignored"
    ]
    assert "gsqlite3-second-database=" in cfg.dump("default")


@pytest.mark.usefixtures("fake_sqlite_backend")
def test_unknown_suffix_of_a_launched_backend(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "launch=gsqlite3:second\ngsqlite3-second-nosuch=1\n")
    assert error_of(tmp_path) == f"{conf}:2: unknown setting 'gsqlite3-second-nosuch'"
    write(tmp_path / "pdns.conf", "launch=bind\nbind-nosuch=1\n")
    assert error_of(tmp_path) == f"{conf}:2: unknown setting 'bind-nosuch'"


def test_settings_of_a_backend_that_is_not_launched(tmp_path: Path) -> None:
    conf = write(
        tmp_path / "pdns.conf",
        "launch=bind\ngsqlite3-database=/x.db\ngpgsql-second-host=db\ngmysql-nosuch=1\n",
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == f"{conf}:4: unknown setting 'gmysql-nosuch'"
    write(tmp_path / "pdns.conf", "launch=bind\ngsqlite3-database=/x.db\ngpgsql-second-host=db\n")
    assert load(tmp_path).warnings == [
        f"{conf}:2: setting 'gsqlite3-database' is for backend 'gsqlite3', which is not launched;"
        " ignored",
        f"{conf}:3: setting 'gpgsql-second-host' is for backend 'gpgsql', which is not launched;"
        " ignored",
    ]


def test_backend_not_implemented_yet(tmp_path: Path) -> None:
    conf = write(tmp_path / "pdns.conf", "launch=lmdb\nlmdb-filename=db\n")
    cfg = load(tmp_path)
    assert cfg.warnings == [
        f"{conf}:2: PowerDNS setting 'lmdb-filename' is not implemented by fastdns yet; ignored",
        f"{conf}:1: backend 'lmdb' is not implemented by fastdns yet; ignored",
    ]


def test_launch_twice(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "launch=bind\n")
    write(tmp_path / "pdns.d" / "bind.conf", "launch+=bind\n")
    with open(tmp_path / "pdns.conf", "a") as stream:
        stream.write("include-dir=pdns.d\n")
    assert error_of(tmp_path) == f"{tmp_path}/pdns.d/bind.conf:1: backend 'bind' is launched twice"


def test_declare_backend_settings_checks_names() -> None:
    with pytest.raises(ValueError, match="not a PowerDNS backend"):
        declare_backend_settings("nosuch", [])
    with pytest.raises(ValueError, match="bad or repeated suffix"):
        declare_backend_settings("bind", [Setting("bind-config", Kind.PATH, "", "x")])


# --------------------------------------------------------------------------------------------
# The Config object


def test_config_access(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\n")
    cfg = load(tmp_path)
    assert cfg.text("local-port") == "5300"
    assert cfg.setting("receiver-threads") is SETTINGS["workers"]
    assert "local-port" in cfg and "master" in cfg and "nope" not in cfg
    with pytest.raises(AttributeError, match="no setting 'no-such-thing'"):
        _ = cfg.no_such_thing
    with pytest.raises(KeyError):
        _ = cfg["no-such-thing"]
    assert cfg.changed() == {"config-dir": str(tmp_path), "local-port": "5300"}


NOW = datetime.datetime(2024, 5, 2, 13, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(0)))


def test_dump_default() -> None:
    text = load_config(CommandLine(no_config=True)).dump("default")
    assert text.startswith(
        "# Autogenerated configuration file template\n\n"
        "#################################\n"
        "# ignore-unknown-settings\t" + SETTINGS["ignore-unknown-settings"].help + "\n"
        "#\n"
        "# ignore-unknown-settings=\n\n"
        "#################################\n"
        "# allow-axfr-ips\t"
    )
    assert (
        "#################################\n"
        f"# local-port\t{SETTINGS['local-port'].help}\n"
        "#\n"
        "# local-port=53\n\n"
    ) in text
    assert "# bind-config=\n" in text and "receiver-threads" not in text


def test_dump_full_and_diff(tmp_path: Path) -> None:
    write(tmp_path / "pdns.conf", "local-port=5300\nlocal-address=192.0.2.1\n"
                                  "cache-ttl=20\nsecurity-poll-suffix=\n")  # fmt: skip
    cfg = load(tmp_path)
    full = cfg.dump("full", now=NOW)
    assert full.startswith(
        "# Autogenerated configuration file based on running instance (2024-05-02 13:04:05 +0000)"
        "\n\n#################################\n# ignore-unknown-settings\t"
    )
    assert f"# local-port\t{SETTINGS['local-port'].help}\n#\nlocal-port=5300\n\n" in full
    assert "#\n# local-port=5300" not in full
    assert "#\n# cache-ttl=20\n\n" in full  # set, but to its default: stays commented
    assert full.endswith(
        "#################################\n# security-poll-suffix\tignored by fastdns\n#\n"
        "security-poll-suffix=\n\n"
    )
    assert cfg.dump("diff", now=NOW) == (
        "# Autogenerated configuration file based on running instance (2024-05-02 13:04:05 +0000)"
        "\n\n"
        f"config-dir={tmp_path}\n"
        "local-address=192.0.2.1\n"
        "local-port=5300\n"
        "security-poll-suffix=\n"
    )
    with pytest.raises(ValueError):
        cfg.dump("check")


# --------------------------------------------------------------------------------------------
# Against the real PowerDNS: the same file must give the same values


def _pdns_diff(config_dir: Path) -> dict[str, str]:
    assert PDNS is not None
    result = subprocess.run(
        [PDNS, f"--config-dir={config_dir}", "--config=diff"],
        capture_output=True, text=True, timeout=30, cwd=config_dir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    values = {}
    for line in result.stdout.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


@needs_pdns
def test_file_syntax_matches_real_pdns(tmp_path: Path) -> None:
    write(
        tmp_path / "pdns.conf",
        "# comment\n"
        "  local-port  =  5300   \n"
        "version-string=hello # trailing\n"
        "server-id=ns#1\n"
        "cache-ttl=30\n"
        "cache-ttl=40\r\n"
        "allow-axfr-ips+=10.0.0.0/8\n"
        "also-notify=\n"
        "also-notify+=192.0.2.1\n"
        "also-notify+=192.0.2.2:5300\n"
        "default-soa-content=ns1.example.com. \\\n"
        "hostmaster.@ 0 10800 3600 604800 3600\n"
        "launch=\n"
        "include-dir=pdns.d\n"
        "master=yes\n"
        "primary=no\n",
    )
    write(tmp_path / "pdns.d" / "b.conf", "launch+=bind\nnegquery-cache-ttl=2\n")
    write(tmp_path / "pdns.d" / "A.conf", "negquery-cache-ttl=1\nbind-check-interval=5\n")
    pdns = _pdns_diff(tmp_path)
    cfg = load(tmp_path)
    # (pdns --config=diff does not show backend settings such as bind-check-interval)
    for name in ("local-port", "version-string", "server-id", "cache-ttl", "allow-axfr-ips",
                 "also-notify", "default-soa-content", "launch", "negquery-cache-ttl"):  # fmt: skip
        assert cfg.text(name) == pdns[name], name
    # paths: PowerDNS keeps the text (and uses its cwd, here the same directory)
    assert cfg.include_dir == str(tmp_path / pdns["include-dir"])
    # A deliberate difference: PowerDNS ORs master= into primary=; here they are one setting
    # and the last one wins.
    assert pdns["master"] == "yes" and pdns["primary"] == "yes"
    assert cfg.primary is False


@needs_pdns
def test_errors_match_real_pdns(tmp_path: Path) -> None:
    """What PowerDNS refuses, fastdns refuses (PowerDNS needs --config=check to be strict)."""
    assert PDNS is not None
    for text in ("no-such-thing=1\n", "also-notify+=192.0.2.1\n", "launch=bind,bind\n",
                 "include-dir=/nonexistent\n"):  # fmt: skip
        write(tmp_path / "pdns.conf", text)
        result = subprocess.run(
            [PDNS, f"--config-dir={tmp_path}", "--config=check"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 1, text
        with pytest.raises(ConfigError):
            load(tmp_path)


def test_settings_module_has_no_mutable_defaults_leaking() -> None:
    # the registry is module state on purpose; make sure tests restored it
    assert set(BACKEND_SETTINGS) == {"bind", "gsqlite3", "gpgsql", "gmysql"}
    assert SETTINGS["gsqlite3-database"].help == "SQLite file with PowerDNS's schema"
    assert settings.SETTINGS is SETTINGS
    assert os.path.isabs(SETTINGS["socket-dir"].default)


def test_every_setting_is_a_typed_attribute_of_config():
    """fastdns.config.attributes declares each setting of the table, with the type its
    kind parses to, and nothing else: the type checker's view of Config is the table."""
    import typing

    from fastdns.config.attributes import SettingAttributes
    from fastdns.config.settings import SETTINGS, Kind, Netmask, SocketAddress, attr_name

    types = {Kind.BOOL: bool, Kind.INT: int, Kind.STR: str, Kind.PATH: str,
             Kind.LIST: tuple[str, ...], Kind.ADDRESSES: tuple[SocketAddress, ...],
             Kind.NETMASKS: tuple[Netmask, ...]}
    declared = typing.get_type_hints(SettingAttributes)
    expected = {}
    for name, row in SETTINGS.items():
        kind = types[row.kind]
        expected[attr_name(name)] = kind | None if row.kind is Kind.INT and not row.default \
            else kind
    assert declared == expected


def test_the_type_checker_reports_a_misspelt_setting(tmp_path):
    """``config.cache_tll`` is a mypy error; ``config.cache_ttl`` is an int."""
    import subprocess
    import sys

    probe = tmp_path / "probe.py"
    probe.write_text("from fastdns.config.loader import Config\n\n\n"
                     "def f(config: Config) -> int:\n"
                     "    reveal_type(config.cache_ttl)\n"
                     "    return config.cache_tll\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", str(probe)],
                          capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert 'Revealed type is "int"' in done.stdout or 'is "builtins.int"' in done.stdout, \
        done.stdout
    assert '"Config" has no attribute "cache_tll"' in done.stdout, done.stdout


def test_a_setting_with_choices_takes_only_those():
    from fastdns.config.settings import SETTINGS, parse_value

    setting = SETTINGS["webserver-loglevel"]
    assert parse_value(setting, " detailed ") == "detailed"
    with pytest.raises(ValueError, match="not one of none, normal, detailed"):
        parse_value(setting, "loud")

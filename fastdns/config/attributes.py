"""Every setting of the table as a typed attribute of :class:`fastdns.config.loader.Config`,
so that the type checker knows ``config.cache_ttl`` is an int and reports ``config.cach_ttl``.

Generated from ``fastdns.config.settings.SETTINGS`` (general settings and the unnamed
instances' backend settings); ``tests/unit/test_config.py`` checks that the two agree, so
a setting added to the table without its line here fails the tests, not the server.
"""

from fastdns.config.settings import Netmask, SocketAddress


class SettingAttributes:
    """Annotations only: the values come from ``Config.__getattr__``."""

    __slots__ = ()

    config_dir: str
    config_name: str
    include_dir: str
    ignore_unknown_settings: tuple[str, ...]
    launch: tuple[str, ...]
    local_address: tuple[SocketAddress, ...]
    local_port: int
    udp_truncation_threshold: int
    max_tcp_connections: int
    tcp_idle_timeout: int
    max_tcp_connection_duration: int
    max_tcp_transactions_per_conn: int
    max_tcp_connections_per_client: int
    version_string: str
    server_id: str
    dname_processing: bool
    socket_dir: str
    loglevel: int
    log_timestamp: bool
    disable_syslog: bool
    daemon: bool
    guardian: bool
    setuid: str
    setgid: str
    workers: int
    heartbeat_timeout: int
    zone_cache_dir: str
    zone_check_interval: int
    chroot: str
    cache_ttl: int
    negquery_cache_ttl: int
    query_cache_ttl: int
    max_packet_cache_entries: int
    disable_axfr: bool
    allow_axfr_ips: tuple[Netmask, ...]
    primary: bool
    secondary: bool
    autosecondary: bool
    also_notify: tuple[SocketAddress, ...]
    only_notify: tuple[Netmask, ...]
    axfr_fetch_timeout: int
    outgoing_axfr_expand_alias: bool
    xfr_max_received_mbytes: int
    xfr_max_received_records: int
    lua_axfr_script: str
    default_soa_content: str
    default_ttl: int
    any_to_tcp: bool
    expand_alias: bool
    resolver: str
    max_generate_steps: int
    svc_autohints: bool
    webserver: bool
    webserver_address: str
    webserver_port: int
    webserver_allow_from: tuple[Netmask, ...]
    webserver_password: str
    webserver_max_bodysize: int
    webserver_hash_plaintext_credentials: bool
    webserver_loglevel: str
    api: bool
    api_key: str
    default_api_rectify: bool
    max_signature_cache_entries: int | None
    signing_threads: int | None
    max_nsec3_iterations: int
    direct_dnskey: bool
    default_ksk_algorithm: str
    default_ksk_size: int
    default_zsk_algorithm: str
    default_zsk_size: int
    tcp_control_address: str
    tcp_control_port: int
    tcp_control_secret: str
    tcp_control_range: tuple[Netmask, ...]
    bind_config: str
    bind_check_interval: int
    bind_dnssec_db: str
    bind_dnssec_db_journal_mode: str
    bind_hybrid: bool
    bind_ignore_broken_records: bool
    bind_supermaster_config: str
    bind_supermaster_destdir: str
    bind_supermasters: str
    gsqlite3_database: str
    gsqlite3_pragma_synchronous: str
    gsqlite3_pragma_foreign_keys: bool
    gsqlite3_pragma_journal_mode: str
    gsqlite3_create_schema: bool
    gsqlite3_seed_bind_config: str
    gsqlite3_dnssec: bool
    gpgsql_host: str
    gpgsql_port: str
    gpgsql_dbname: str
    gpgsql_user: str
    gpgsql_password: str
    gpgsql_extra_connection_parameters: str
    gpgsql_prepared_statements: bool
    gpgsql_dnssec: bool
    gmysql_host: str
    gmysql_port: int
    gmysql_socket: str
    gmysql_dbname: str
    gmysql_user: str
    gmysql_password: str
    gmysql_group: str
    gmysql_timeout: int
    gmysql_innodb_read_committed: bool
    gmysql_ssl: bool
    gmysql_thread_cleanup: bool
    gmysql_dnssec: bool

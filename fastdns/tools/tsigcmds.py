"""TSIG key commands of fastdns-util, with pdnsutil 4.7's names, arguments, texts and exit
codes (docs/util.md "TSIG keys" lists where they differ).

Keys live in the ``tsigkeys`` table of the SQL backends and of the bind backend's
``bind-dnssec-db`` (fastdns.xfr.tsig reads them for the server): a new key goes to the
first of those in ``launch=`` order, as pdnsutil stores it; ``list-tsig-keys`` shows them
all; ``delete-tsig-key`` removes the name from every one.  ``activate-tsig-key`` and
``deactivate-tsig-key`` edit the zone's ``TSIG-ALLOW-AXFR`` (primary) or
``AXFR-MASTER-TSIG`` (secondary) metadata where the zone lives.
"""

from __future__ import annotations

import base64
import os
from typing import Any

from fastdns.backends.bind import BindBackend
from fastdns.backends.gsql import GSQLBackend
from fastdns.dnssec.keystore import BindDnssecDB
from fastdns.tools.utilcore import Context, Failure, command, require, zone_arg
from fastdns.xfr.tsig import SECRET_SIZES, algorithm_name, decode_secret

ALGORITHM_WORDS = "hmac-md5|hmac-sha1|hmac-sha224|hmac-sha256|hmac-sha384|hmac-sha512"
#: activate-tsig-key's last word -> the metadata kind it edits
KINDS = {"primary": "TSIG-ALLOW-AXFR", "master": "TSIG-ALLOW-AXFR",
         "producer": "TSIG-ALLOW-AXFR", "secondary": "AXFR-MASTER-TSIG",
         "slave": "AXFR-MASTER-TSIG", "consumer": "AXFR-MASTER-TSIG"}


# --------------------------------------------------------------------------------------------
# helpers


def _display(text: str) -> str:
    """A name as pdnsutil echoes it: as given, without the trailing dot."""
    return text[:-1] if text.endswith(".") and text != "." else text


def _name(text: str) -> str:
    """A key name from the command line, checked (Failure if malformed)."""
    zone_arg(text)
    return text


class _Stores:
    """The TSIG key stores of one command, in ``launch=`` order: each SQL backend, and the
    ``bind-dnssec-db`` of each bind backend that has one (opened here, closed on exit)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._dbs: dict[str, BindDnssecDB] = {}

    def __enter__(self) -> _Stores:
        return self

    def __exit__(self, *exc: object) -> None:
        for db in self._dbs.values():
            db.close()

    def all(self) -> list[Any]:
        stores: list[Any] = []
        for _, backend in self.ctx.backends:
            if isinstance(backend, GSQLBackend):
                stores.append(backend)
            elif isinstance(backend, BindBackend):
                db = self.bind_db(backend.name)
                if db is not None:
                    stores.append(db)
        return stores

    def bind_db(self, name: str) -> BindDnssecDB | None:
        config = self.ctx.config
        for instance in config.instances:
            if str(instance) == name:
                path = str(config.backend(instance).get("dnssec-db") or "")
                if not path:
                    return None
                if path not in self._dbs:
                    self._dbs[path] = BindDnssecDB(path, name=f"{name} dnssec-db")
                return self._dbs[path]
        return None

    def meta_store(self, zone: str) -> Any | None:
        """Where ``zone``'s metadata lives (None: a BIND zone without ``bind-dnssec-db``);
        Failure if no backend has the zone."""
        backend = self.ctx.find(zone)
        if backend is None:
            raise Failure(f"Zone '{zone}' does not exist")
        if isinstance(backend, GSQLBackend):
            return backend
        if isinstance(backend, BindBackend):
            return self.bind_db(backend.name)
        return None


def _store_key(ctx: Context, name: str, algorithm: str, secret: str, failure: str) -> None:
    with _Stores(ctx) as stores:
        found = stores.all()
        if not found:
            raise Failure(failure)
        found[0].set_tsig_key(name, algorithm, secret)


# --------------------------------------------------------------------------------------------
# keys


@command("generate-tsig-key", f"generate-tsig-key NAME ({ALGORITHM_WORDS})",
         "Generate new TSIG key", aliases=("tsigkey generate", "tsig-key generate"))
def generate_tsig_key(ctx: Context, args: list[str]) -> int:
    require(args, 2, 2, f"generate-tsig-key NAME ({ALGORITHM_WORDS})")
    name, algorithm = _name(args[0]), args[1]
    short = algorithm_name(algorithm)
    if short is None:
        raise Failure(f"Could not create new TSIG key {_display(name)} {algorithm}: "
                      f"Invalid TSIG algorithm: {algorithm}")
    secret = base64.b64encode(os.urandom(SECRET_SIZES[short])).decode()
    shown = f"{_display(name)} {_display(algorithm)} {secret}"
    _store_key(ctx, name, algorithm, secret, f"Failure storing new TSIG key {shown}")
    ctx.say(f"Create new TSIG key {shown}")
    return 0


@command("import-tsig-key", "import-tsig-key NAME ALGORITHM KEY", "Import TSIG key",
         aliases=("tsigkey import", "tsig-key import"))
def import_tsig_key(ctx: Context, args: list[str]) -> int:
    require(args, 3, 3, "import-tsig-key NAME ALGORITHM KEY")
    name, algorithm, secret = _name(args[0]), args[1], args[2]
    shown = f"{_display(name)} {_display(algorithm)}"
    # pdnsutil 4.7 stores any algorithm and secret; a key no server can use is refused here
    if algorithm_name(algorithm) is None:
        raise Failure(f"Could not import TSIG key {shown}: Invalid TSIG algorithm: "
                      f"{algorithm}")
    if decode_secret(secret) is None:
        raise Failure(f"Could not import TSIG key {shown}: the key '{secret}' is not "
                      "base64")
    _store_key(ctx, name, algorithm, secret, f"Failure importing TSIG key {shown}")
    ctx.say(f"Imported TSIG key {shown}")
    return 0


@command("delete-tsig-key", "delete-tsig-key NAME",
         "Delete TSIG key (warning: will not unmap key!)",
         aliases=("tsigkey delete", "tsig-key delete"))
def delete_tsig_key(ctx: Context, args: list[str]) -> int:
    require(args, 1, 1, "delete-tsig-key NAME")
    name = _name(args[0])
    with _Stores(ctx) as stores:
        found = stores.all()
        if not found:
            raise Failure(f"Failure deleting TSIG key {_display(name)}")
        for store in found:
            store.delete_tsig_key(name)
    ctx.say(f"Deleted TSIG key {_display(name)}")
    return 0


@command("list-tsig-keys", "list-tsig-keys", "List all TSIG keys",
         aliases=("tsigkey list", "tsig-key list"))
def list_tsig_keys(ctx: Context, args: list[str]) -> int:
    require(args, 0, 0, "list-tsig-keys")
    with _Stores(ctx) as stores:
        for store in stores.all():
            for name, algorithm, secret in store.tsig_keys():
                ctx.say(f"{_dotted(name)} {_dotted(algorithm)} {secret}")
    return 0


def _dotted(text: str) -> str:
    return text if text.endswith(".") else text + "."


# --------------------------------------------------------------------------------------------
# zones


ACTIVATE_USAGE = "activate-tsig-key ZONE NAME {primary|secondary}"
DEACTIVATE_USAGE = "deactivate-tsig-key ZONE NAME {primary|secondary}"


def _change(ctx: Context, args: list[str], usage: str, enable: bool) -> int:
    require(args, 3, 3, usage)
    kind = KINDS.get(args[2])
    if kind is None:
        raise Failure(f"Invalid parameter '{args[2]}', expected primary or secondary type")
    zone, name = zone_arg(args[0]), args[1]
    shown = f"TSIG key {name} for {_display(args[0])}"
    with _Stores(ctx) as stores:
        store = stores.meta_store(zone)
        if store is None:
            raise Failure(f"Failure {'enabling' if enable else 'disabling'} {shown}")
        values = store.get_meta(zone, kind)
        if enable:
            if name not in values:
                values.append(name)
        else:
            values = [value for value in values if value != name]
        store.set_meta(zone, kind, values)
    ctx.say(f"{'Enabled' if enable else 'Disabled'} {shown}")
    return 0


@command("activate-tsig-key", ACTIVATE_USAGE,
         "Enable TSIG authenticated AXFR using the key NAME for ZONE",
         aliases=("tsigkey activate", "tsig-key activate"))
def activate_tsig_key(ctx: Context, args: list[str]) -> int:
    return _change(ctx, args, ACTIVATE_USAGE, True)


@command("deactivate-tsig-key", DEACTIVATE_USAGE,
         "Disable TSIG authenticated AXFR using the key NAME for ZONE",
         aliases=("tsigkey deactivate", "tsig-key deactivate"))
def deactivate_tsig_key(ctx: Context, args: list[str]) -> int:
    return _change(ctx, args, DEACTIVATE_USAGE, False)


__all__ = ["activate_tsig_key", "deactivate_tsig_key", "delete_tsig_key",
           "generate_tsig_key", "import_tsig_key", "list_tsig_keys"]

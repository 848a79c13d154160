"""Build snapshots and engines from zone text, for tests that need no sockets."""

import textwrap

from fastdns._engine import Engine
from fastdns._snapshot import Snapshot
from fastdns.zone.check import check_zone
from fastdns.zone.compile import compile_zone
from fastdns.zone.zonefile import read_zone_text


def snapshot(origin: str, text: str, generation: int = 1) -> Snapshot:
    data = read_zone_text(textwrap.dedent(text), origin)
    check_zone(data)
    return Snapshot(compile_zone(data), generation)


def engine(zones: dict[str, str], **options) -> Engine:
    return Engine([snapshot(origin, text) for origin, text in zones.items()], **options)

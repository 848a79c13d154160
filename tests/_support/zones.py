"""Build snapshots and engines from zone text, for tests that need no sockets."""

import textwrap

from fastdns._engine import Engine
from fastdns._snapshot import Snapshot
from fastdns.zone.check import check_zone
from fastdns.zone.compile import compile_zone
from fastdns.zone.loader import load_image_text
from fastdns.zone.zonefile import read_zone_text


def snapshot(origin: str, text: str, generation: int = 1) -> Snapshot:
    text = textwrap.dedent(text)
    data = read_zone_text(text, origin)
    check_zone(data)
    image = compile_zone(data)
    # every zone of the engine tests is also a case for the fast path (fastdns.zone.loader)
    assert load_image_text(text, origin).image == image, "fast path and compile_zone differ"
    return Snapshot(image, generation)


def engine(zones: dict[str, str], **options) -> Engine:
    return Engine([snapshot(origin, text) for origin, text in zones.items()], **options)

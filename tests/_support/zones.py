"""Build snapshots and engines from zone text, for tests that need no sockets."""

import textwrap

from fastdns._engine import Engine
from fastdns._snapshot import Snapshot
from fastdns.zone.loader import ZoneOptions, load_image_text
from tests._support.oracle import image_rrsets, read_rrsets


def snapshot(origin: str, text: str, generation: int = 1, **options) -> Snapshot:
    """The zone ``origin`` of master-file ``text``, read by fastdns's one reader; the image
    holds what dnspython, the oracle, reads in the same text."""
    text = textwrap.dedent(text)
    image = load_image_text(text, origin, options=ZoneOptions(**options)).image
    assert image_rrsets(image) == read_rrsets(text, origin), "fastdns and dnspython differ"
    return Snapshot(image, generation)


def engine(zones: dict[str, str], **options) -> Engine:
    return Engine([snapshot(origin, text) for origin, text in zones.items()], **options)

"""RRsets in wire form, for the checks of ``check.py``.

The compiler (``_imagebuild.RecordStore.prepare``) hands over, as a ZoneData, the RRsets
that might break a rule of ``check.py`` (few, and none in most zones); the records
themselves never become Python objects. No dnspython object crosses this boundary.
"""

from dataclasses import dataclass, field


@dataclass(slots=True)
class RRset:
    #: owner name, uncompressed wire form, case as the source wrote it
    owner: bytes
    rdtype: int
    ttl: int
    #: rdata in uncompressed wire form
    rdatas: list[bytes]
    #: where the source defined it, for messages: "file:line", "records.id=42", ...
    where: str = ""


@dataclass(slots=True)
class ZoneData:
    #: apex name, uncompressed wire form
    origin: bytes
    rrsets: list[RRset]
    #: what the zone was read from, for messages
    source: str = ""
    #: problems that do not stop the zone from being served
    warnings: list[str] = field(default_factory=list)

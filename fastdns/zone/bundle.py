"""Zone images in shared memory: a bundle is one memfd holding a manifest and the images of
the zones one refresh (re)loaded.

The manager writes a bundle and hands its descriptor to the master, which passes it on to
every worker; each worker maps it read-only and makes a Snapshot of each image in place. The
pages are shared: a zone's data is in memory once, whatever the number of workers, and is
freed when the last process drops its last snapshot of it.

Layout: ``FDZBNDL1``, the manifest's length (4 octets, big-endian), the manifest (JSON), then
the images, each at an offset that is a multiple of 8. A bundle is sealed once written
(F_SEAL_WRITE and kin): no process can change it afterwards.
"""

import fcntl
import json
import mmap
import os
import struct
from dataclasses import dataclass

MAGIC = b"FDZBNDL1"
_HEAD = struct.Struct("!8sI")
_ALIGN = 8


@dataclass(frozen=True, slots=True)
class BundledZone:
    name: str            # "example.com."
    wire: bytes          # the apex in wire form
    kind: str            # primary, secondary, native
    generation: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    #: the zones whose (new) images the bundle holds
    zones: tuple[BundledZone, ...]
    #: zones no longer served
    removed: tuple[str, ...]
    #: configured zones that failed to load and have no version to serve (SERVFAIL)
    broken: tuple[tuple[str, bytes], ...]
    #: the bundle describes every zone: a zone it does not name is not served
    full: bool


def _wire(name: str) -> str:
    """``name`` in wire form, as hex for the manifest (the writer's side: the manager reads
    text; a worker, which must not import dnspython, reads the wire form)."""
    import dns.name

    return (dns.name.from_text(name).to_wire() or b"").hex()


def _images_start(manifest_len: int) -> int:
    return -(-(_HEAD.size + manifest_len) // _ALIGN) * _ALIGN


def write_bundle(images: list[tuple[str, str, int, bytes]], removed=(), broken=(),
                 full: bool = False) -> int:
    """A memfd holding ``images`` ((name, kind, generation, image) each); its descriptor.
    Offsets in the manifest count from the start of the images."""
    entries: list[list] = []
    offsets: list[int] = []
    offset = 0
    for name, kind, generation, image in images:
        entries.append([name, _wire(name), kind, generation, offset, len(image)])
        offsets.append(offset)
        offset += -(-len(image) // _ALIGN) * _ALIGN
    manifest = json.dumps({"zones": entries, "removed": list(removed),
                           "broken": [[name, _wire(name)] for name in broken],
                           "full": full}).encode()
    start = _images_start(len(manifest))
    size = start + offset
    fd = os.memfd_create("fastdns-zones", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        os.pwrite(fd, _HEAD.pack(MAGIC, len(manifest)) + manifest, 0)
        for (_, _, _, image), at in zip(images, offsets, strict=True):
            # a write, not a copy into a mapping: the GIL is let go while the kernel copies
            # (a million-record zone is tens of megabytes)
            view = memoryview(image)
            done = 0
            while done < len(view):
                done += os.pwrite(fd, view[done:], start + at + done)
        # from now on nobody, the manager included, can change what the workers validated
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                    | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bundle(fd: int) -> tuple[mmap.mmap, Manifest]:
    """Map the bundle ``fd`` read-only; the mapping and its manifest."""
    size = os.fstat(fd).st_size
    mm = mmap.mmap(fd, size, prot=mmap.PROT_READ)
    magic, length = _HEAD.unpack_from(mm, 0)
    if magic != MAGIC or _HEAD.size + length > size:
        mm.close()
        raise ValueError("not a zone bundle")
    data = json.loads(mm[_HEAD.size:_HEAD.size + length])
    start = _images_start(length)
    zones = []
    for name, wire, kind, generation, offset, zsize in data["zones"]:
        offset += start
        if offset % _ALIGN or offset + zsize > size:
            mm.close()
            raise ValueError(f"zone '{name}' lies outside the bundle")
        zones.append(BundledZone(name, bytes.fromhex(wire), kind, generation, offset, zsize))
    manifest = Manifest(tuple(zones), tuple(data["removed"]),
                        tuple((name, bytes.fromhex(wire)) for name, wire in data["broken"]),
                        data["full"])
    return mm, manifest

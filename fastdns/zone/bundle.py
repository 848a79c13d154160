"""Zone images in shared memory: a bundle is one sealed memfd holding the images of many
zones, the ones one batch of a load compiled.

The manager writes a bundle, numbers it, and hands its descriptor to the master, which
passes it on to every worker; each maps it read-only. Where a zone's image lies (bundle,
offset, size) is the zone index's business (fastdns._zoneindex): a bundle holds images
and nothing else about them. The pages are shared: a zone's data is in memory once,
whatever the number of workers.

Layout: ``FDZBNDL2``, the bundle's number and its image count (4 octets each, host order),
then the images, each at an offset that is a multiple of 8. A bundle is sealed once
written (F_SEAL_WRITE and kin): no process can change it afterwards.
"""

import fcntl
import os
import struct
from collections.abc import Callable, Sequence

from fastdns._zoneindex import IndexBuilder

MAGIC = b"FDZBNDL2"
_HEAD = struct.Struct("=8sII")
_ALIGN = 8


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def sealed_memfd(name: str, size: int, write: Callable[[int], None]) -> int:
    """A memfd of ``size`` octets that ``write(fd)`` fills, then sealed: from then on
    nobody, its writer included, can change what the workers map. Its descriptor."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        os.ftruncate(fd, size)
        write(fd)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW
                    | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_bundle(number: int, images: Sequence[bytes]) -> tuple[int, list[int]]:
    """A sealed memfd holding ``images``: its descriptor, and the offset of each image."""
    offsets: list[int] = []
    at = _aligned(_HEAD.size)
    for image in images:
        offsets.append(at)
        at += _aligned(len(image))

    def write(fd: int) -> None:
        os.pwrite(fd, _HEAD.pack(MAGIC, number, len(images)), 0)
        for image, offset in zip(images, offsets, strict=True):
            # a write, not a copy into a mapping: the GIL is let go while the kernel copies
            # (a million-record zone is tens of megabytes)
            view = memoryview(image)
            done = 0
            while done < len(view):
                done += os.pwrite(fd, view[done:], offset + done)

    return sealed_memfd(f"fastdns-zones-{number}", at, write), offsets


def publish_index(index: IndexBuilder) -> int:
    """A sealed memfd holding the zone index ``index`` as it is now; its descriptor."""
    return sealed_memfd("fastdns-index", index.prepare(), index.write_into)


def bundle_number(fd: int) -> int:
    """The number bundle ``fd`` was written with (ValueError if it is no bundle)."""
    head = os.pread(fd, _HEAD.size, 0)
    if len(head) != _HEAD.size or head[:8] != MAGIC:
        raise ValueError("not a zone bundle")
    return _HEAD.unpack(head)[1]

"""The persisted image cache: the zone index and the bundles of compiled images, kept on
disk beside the database, so that a restart serves every unchanged zone within seconds
instead of compiling it again.

A directory holds ``index`` (the zone index as published, fastdns._zoneindex),
``bundle-<n>`` (the bundles it points into, fastdns.zone.bundle) and ``manifest.json``
(what wrote them, and the size and CRC-32 of every file). Each index entry carries a
digest of its zone's change token (``token_digest``): at start, a cached zone is served
only when its backend gives the same token again; every other zone is loaded anew. A file
that is missing, truncated or whose CRC does not match is not used (its zones are
loaded), never served; a cache written by another version of fastdns or for another
configuration of backends is ignored.

Files are written to a temporary name and renamed into place, the manifest last, so a
crash leaves the previous cache or none. Bundles never change once written (they are
numbered by the manager that wrote them), so a save writes only the new ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import zlib
from collections.abc import Hashable
from typing import Any

from fastdns import __version__
from fastdns._snapshot import VERSION as IMAGE_VERSION
from fastdns._zoneindex import VERSION as INDEX_VERSION
from fastdns._zoneindex import IndexBuilder, ZoneIndex
from fastdns.log import log
from fastdns.zone.bundle import bundle_number, sealed_memfd

MANIFEST = "manifest.json"
FORMAT = f"fastdns {__version__} image {IMAGE_VERSION} index {INDEX_VERSION}"


def token_digest(token: Hashable) -> int:
    """A stable 64-bit digest of a change token (0 is never one)."""
    digest = int.from_bytes(hashlib.blake2b(repr(token).encode("utf-8", "replace"),
                                            digest_size=8).digest(), "little")
    return digest or 1


def default_directory(config: Any) -> str:
    """``zone-cache-dir``, or beside the first gsqlite3 database (``<file>.fastdns-cache``);
    "" for none."""
    directory = str(config["zone-cache-dir"]) if "zone-cache-dir" in config else ""
    if directory:
        if directory == "no":
            return ""
        return os.path.join(str(config["config-dir"]), directory)
    for instance in config.instances:
        if instance.backend == "gsqlite3":
            database = str(config.backend(instance).get("database") or "")
            return f"{database}.fastdns-cache" if database else ""
    return ""


def _crc(fd: int, size: int) -> int:
    if size == 0:
        return 0
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as m:
        return zlib.crc32(m)


class ImageCache:
    """The cache in ``directory`` for the backends described by ``identity``."""

    def __init__(self, directory: str, identity: str) -> None:
        self.directory = directory
        self.identity = identity
        #: bundle number -> (size, crc) of the files written
        self._written: dict[int, tuple[int, int]] = {}
        #: the highest bundle number the manifest read lists (new bundles count on from it,
        #: so that none takes the number of a cached one that failed its check)
        self.highest = 0

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    # -- reading -------------------------------------------------------------------------

    def load(self) -> tuple[IndexBuilder, dict[int, int]] | None:
        """The cached index and its bundles (number -> sealed memfd, the caller's), or
        None when there is no usable cache. Bundles that fail their check are left out."""
        try:
            with open(self._path(MANIFEST), "rb") as handle:
                manifest = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("image cache '%s': unreadable manifest (%s); not used",
                        self.directory, exc)
            return None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
                or manifest.get("identity") != self.identity:
            log.warning("image cache '%s': written by another version or for other "
                        "backends; not used", self.directory)
            return None
        try:
            index = self._load_index(manifest["index"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("image cache '%s': index not usable (%s); not used", self.directory,
                        exc)
            return None
        bundles: dict[int, int] = {}
        bad = 0
        for number, (size, crc) in dict(manifest.get("bundles", {})).items():
            self.highest = max(self.highest, int(number))
            fd = self._load_bundle(int(number), int(size), int(crc))
            if fd is None:
                bad += 1
            else:
                bundles[int(number)] = fd
                self._written[int(number)] = (int(size), int(crc))
        if bad:
            log.warning("image cache '%s': %d bundles missing or corrupt; their zones are "
                        "loaded anew", self.directory, bad)
        return index, bundles

    def _load_index(self, meta: dict) -> IndexBuilder:
        with open(self._path("index"), "rb") as handle:
            data = handle.read()
        if len(data) != meta["size"] or zlib.crc32(data) != meta["crc"]:
            raise ValueError("size or CRC-32 does not match")
        builder = IndexBuilder()
        builder.load(ZoneIndex(data))
        return builder

    def _load_bundle(self, number: int, size: int, crc: int) -> int | None:
        """The bundle file copied into a sealed memfd (its pages are the workers' to map,
        and no write to the file can reach them), or None if it fails its check."""
        try:
            source = os.open(self._path(f"bundle-{number}"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            if os.fstat(source).st_size != size:
                return None

            fd = sealed_memfd(f"fastdns-zones-{number}", size,
                              lambda fd: _copy(source, fd, size))
        except OSError:
            return None
        finally:
            os.close(source)
        try:
            if _crc(fd, size) != crc or bundle_number(fd) != number:
                os.close(fd)
                return None
        except (OSError, ValueError):
            os.close(fd)
            return None
        return fd

    # -- writing -------------------------------------------------------------------------

    def save(self, index: IndexBuilder, bundles: dict[int, int]) -> None:
        """Write ``index`` and the bundles (number -> memfd) it points into."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        written: dict[int, tuple[int, int]] = {}
        for number, fd in bundles.items():
            if number in self._written:
                written[number] = self._written[number]
                continue
            size = os.fstat(fd).st_size
            self._write(f"bundle-{number}", lambda out, fd=fd, size=size:
                        _copy(fd, out, size))
            written[number] = (size, _crc(fd, size))
        size = index.prepare()

        def write_index(out: int) -> None:
            os.ftruncate(out, size)
            index.write_into(out)

        self._write("index", write_index)
        with open(self._path("index"), "rb") as handle:
            data = handle.read()
        manifest = {"format": FORMAT, "identity": self.identity,
                    "index": {"size": len(data), "crc": zlib.crc32(data)},
                    "bundles": {str(n): list(v) for n, v in written.items()}}
        data = json.dumps(manifest).encode()

        def write_manifest(out: int) -> None:
            done = 0
            while done < len(data):
                done += os.write(out, data[done:])

        self._write(MANIFEST, write_manifest)
        self._written = written
        # bundles of earlier saves, and any a failed start left unlisted
        for name in os.listdir(self.directory):
            if name.startswith("bundle-") and name[7:].isdigit() \
                    and int(name[7:]) not in written:
                with contextlib.suppress(OSError):
                    os.unlink(self._path(name))

    def _write(self, name: str, fill: Any) -> None:
        tmp = self._path(f".{name}.tmp")
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            fill(out)
            os.fsync(out)
        finally:
            os.close(out)
        os.replace(tmp, self._path(name))


def _copy(source: int, out: int, size: int) -> None:
    """``size`` octets from the start of ``source`` to ``out`` (at its position), by the
    kernel."""
    done = 0
    while done < size:
        sent = os.sendfile(out, source, done, size - done)
        if sent <= 0:
            raise OSError("short copy")
        done += sent

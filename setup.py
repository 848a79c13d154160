"""Build fastdns's Cython extensions.

    python setup.py build_ext --inplace            # normal build
    FASTDNS_DEBUG=1 python setup.py build_ext ...  # annotate, linetrace, -O0 -g
    FASTDNS_ANNOTATE=1 ...                         # write the annotated .html beside each .pyx
"""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSIONS = [# the wire format: names, queries, the response encoder, their Python API
              "_names", "_query", "_encoder", "_wire",
              "_snapshot", "_shm", "_pcache", "_sigcache",
              # the answer engine: its sections, zone table, supplied data, lookup, the entry
              "_zoneindex", "_signing", "_sections", "_zonetable", "_supply", "_lookup",
              "_engine",
              # the worker's per-packet path: parked queries, the responder and UDP reader
              "_parking", "_udp",
              # the reader of record data: types, fields, own readers, the entry
              "zone._rdtypes", "zone._rdfields", "zone._rdspecial", "zone._rdsvcb",
              "zone._rdata",
              # the image builder: the store, its tree, hints, targets, the image, the entry
              "zone._store", "zone._imagetree", "zone._autohints", "zone._imagetargets",
              "zone._imagewrite", "zone._imagebuild",
              # the master-file reader: text, sinks, $GENERATE, directives, the records
              "zone._zonetext", "zone._sinks", "zone._generate", "zone._directives",
              "zone._masterfile",
              "zone._rows",
              "backends._sqlite3rows",
              # the API's zone list, written as JSON in one pass
              "api._listing"]
#: C libraries an extension links with (SQLite's C API: libsqlite3-dev to build)
LIBRARIES = {"backends._sqlite3rows": ["sqlite3"],
             "_signing": ["crypto"]}    # libcrypto's SHA-1 (NSEC3): libssl-dev to build

DEBUG = os.environ.get("FASTDNS_DEBUG") == "1"
ANNOTATE = DEBUG or os.environ.get("FASTDNS_ANNOTATE") == "1"

directives = {"language_level": 3, "embedsignature": True}
macros = [("_GNU_SOURCE", None)]   # recvmmsg, sendmmsg
compile_args = ["-O2"]
if DEBUG:
    directives.update(linetrace=True, boundscheck=True, wraparound=True)
    macros.append(("CYTHON_TRACE_NOGIL", "1"))
    compile_args = ["-O0", "-g"]

extensions = [
    Extension(
        f"fastdns.{name}",
        [f"fastdns/{name.replace('.', '/')}.pyx"],
        define_macros=macros,
        extra_compile_args=compile_args,
        libraries=LIBRARIES.get(name, []),
    )
    for name in EXTENSIONS
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=ANNOTATE,
        force=DEBUG,
    ),
)

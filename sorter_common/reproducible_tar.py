"""A gzip-compressed tar that is byte-for-byte the same for the same files: the one tar writer.

Fixed order (the caller's), times, owners and modes, and a gzip header without a timestamp, so
an archive's hash changes exactly when a file in it does: the model artifact (model.tar.gz) gets
the same hash from the same training run, and a code bundle's CDK asset hash moves only with
the code. Python 3.7 syntax, like the rest of the package.
"""

import io
import tarfile
import zlib
from typing import Iterable, Tuple

FILE_MODE = 0o644
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream


def tar_gz_bytes(members: Iterable[Tuple[str, bytes]], compresslevel: int = 9) -> bytes:
    """(name in the archive, content) pairs, in the order given, as .tar.gz bytes (PAX format)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    # zlib's own gzip wrapper (wbits 16 + 15): no time, no file name, the same header on every
    # Python (gzip.GzipFile and gzip.compress before 3.11 write another OS byte than 3.11's), and
    # the bytes gzip.compress(mtime=0) gives on 3.11+, which Python 3.7 lacks.
    compressor = zlib.compressobj(compresslevel, zlib.DEFLATED, GZIP_WBITS)
    return compressor.compress(raw.getvalue()) + compressor.flush()

"""Hostile inputs built byte by byte: zip members with damaged headers, a zip bomb, a PNG bomb.

Zip fields are written per PKWARE's APPNOTE.TXT (4.3.7 local file header, 4.3.12 central
directory header, 4.4.4 general purpose bit 0 = encrypted, 4.4.5 compression method); PNG per
the W3C PNG specification (IHDR, IDAT as one zlib stream, IEND). Bombs are made without
compressing their expanded size: after a full flush, deflate output for the same input block is
the same bytes, so one compressed block is repeated.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"


def _central_offsets(data: bytes, name: str) -> tuple[int, int]:
    """(local header offset, central directory entry offset) of member name."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
        position = archive.start_dir  # where the central directory begins
    encoded = name.encode("utf-8")
    while data[position : position + 4] == CENTRAL_HEADER:
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        if data[position + 46 : position + 46 + name_length] == encoded:
            return local, position
        position += 46 + name_length + extra_length + comment_length
    raise KeyError(name)


def patch_member(
    path: Path, name: str, *, flags: int | None = None, method: int | None = None, crc: int | None = None
) -> None:
    """Rewrite member name's general purpose flags, compression method or CRC in both its headers."""
    data = bytearray(path.read_bytes())
    local, central = _central_offsets(bytes(data), name)
    for field, local_at, central_at in (("flags", 6, 8), ("method", 8, 10)):
        value = flags if field == "flags" else method
        if value is not None:
            struct.pack_into("<H", data, local + local_at, value)
            struct.pack_into("<H", data, central + central_at, value)
    if crc is not None:
        struct.pack_into("<I", data, local + 14, crc)
        struct.pack_into("<I", data, central + 16, crc)
    path.write_bytes(bytes(data))


def _repeated_deflate(block: bytes, count: int, wbits: int) -> tuple[bytes, int]:
    """A deflate stream of block repeated count times, without compressing count blocks;
    returns (stream without trailer, number of compressed bytes)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the stream is byte-aligned with no history: the same block compresses to
    # the same bytes. b"\x03\x00" is an empty final block with fixed Huffman codes.
    stream = first + repeat * (count - 1) + b"\x03\x00"
    return stream, len(stream)


def zip_bomb(path: Path, name: str = "compost/zeros.jpg", expanded: int = 1 << 30) -> Path:
    """A zip of one deflated member that expands to `expanded` zero bytes (1 GiB: a ~1 MB zip)."""
    block = bytes(1 << 20)
    count = expanded // len(block)
    stream, _ = _repeated_deflate(block, count, -15)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    encoded = name.encode()
    common = struct.pack("<HHHHHIII", 20, 0, zipfile.ZIP_DEFLATED, 0, 0x21, crc, len(stream), count * len(block))
    local = LOCAL_HEADER + common + struct.pack("<HH", len(encoded), 0) + encoded
    central = (
        CENTRAL_HEADER
        + struct.pack("<H", 20)
        + common
        + struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, 0)
        + encoded
    )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    path.write_bytes(local + stream + central + end)
    return path


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bomb(path: Path, side: int = 20000, rows_per_block: int = 500) -> Path:
    """A valid side x side 8-bit greyscale PNG of zeros: a few hundred kB that decode to side*side bytes."""
    row = bytes(side + 1)  # filter byte 0, then the pixels
    block = row * rows_per_block
    count = side // rows_per_block
    stream, _ = _repeated_deflate(block, count, 15)
    adler = 1
    for _ in range(count):
        adler = zlib.adler32(block, adler)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
    png += _chunk(b"IDAT", stream + struct.pack(">I", adler)) + _chunk(b"IEND", b"")
    path.write_bytes(png)
    return path

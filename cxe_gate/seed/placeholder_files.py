"""What a seeded test uploads in place of a recorded file (a recording never keeps a file's
content): a few bytes that are a valid file of the recorded type where an app is likely to check
(a 1x1 PNG, GIF or JPEG for an image field, a PDF header), a line of text otherwise."""

from __future__ import annotations

import struct
import zlib

TEXT = b"cxe-gate placeholder file\n"
# A 1x1 GIF89a: screen (1x1, a 2-colour table: black, white), a graphic control block, the image,
# its LZW data (minimum code size 2) and the trailer; 43 bytes.
GIF = (
    b"GIF89a"
    + bytes.fromhex("0100 0100 80 00 00")
    + bytes.fromhex("000000 ffffff")
    + bytes.fromhex("21f904 01 0000 00 00")
    + bytes.fromhex("2c 0000 0000 0100 0100 00")
    + bytes.fromhex("02 02 4401 00")
    + b";"
)
PDF = b"%PDF-1.4\n% cxe-gate placeholder file\n%%EOF\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png() -> bytes:
    """A 1x1 grey PNG: signature, IHDR (8-bit greyscale), one IDAT row (filter 0, one pixel)."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + _png_chunk(b"IEND", b"")
    )


def _jpeg() -> bytes:
    """A 1x1 grey baseline JPEG: every coefficient zero, so each Huffman table needs one code
    (DC category 0, AC end-of-block), both the 1-bit code `0`; the scan is those two bits."""
    quantization = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + b"\x01" * 64
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 1, 1, 1) + b"\x01\x11\x00"
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0
    dc = b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + one_code
    ac = b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + one_code
    scan = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00" + b"\x00\x3f\x00"
    # DC `0`, EOB `0`, padded with ones.
    return b"\xff\xd8" + quantization + frame + dc + ac + scan + b"\x3f" + b"\xff\xd9"


def placeholder_content(mime_type: str | None) -> bytes:
    """The bytes a placeholder of this content type carries."""
    kind = (mime_type or "").split(";")[0].strip().lower()
    if kind == "image/png":
        return _png()
    if kind == "image/gif":
        return GIF
    if kind in ("image/jpeg", "image/jpg", "image/pjpeg"):
        return _jpeg()
    if kind == "application/pdf":
        return PDF
    return TEXT

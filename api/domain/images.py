"""What an uploaded image really is, read from its own bytes: the format by its signature and
the size in pixels from its header. The type a browser declares is never trusted.

Raster formats only (PNG, JPEG, GIF, WebP): an SVG can carry scripts and is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class NotAnImage(ValueError):
    """The bytes are not an image of a supported format, or its header is damaged."""


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int


MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC)
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# markers that stand alone, with no length after them
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def inspect(data: bytes) -> ImageInfo:
    """The image's real type and size; raises :class:`NotAnImage` otherwise."""
    try:
        if data.startswith(_PNG):
            return _png(data)
        if data.startswith(b"\xff\xd8\xff"):
            return _jpeg(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _gif(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except (struct.error, IndexError):
        raise NotAnImage("the image is truncated or damaged") from None
    raise NotAnImage("not a PNG, JPEG, GIF or WebP image")


def _checked(media_type: str, width: int, height: int) -> ImageInfo:
    if width <= 0 or height <= 0:
        raise NotAnImage("the image has no size")
    return ImageInfo(media_type, width, height)


def _png(data: bytes) -> ImageInfo:
    length, kind, width, height = struct.unpack(">I4sII", data[8:24])
    if kind != b"IHDR" or length != 13:
        raise NotAnImage("a PNG must begin with its IHDR header")
    return _checked("image/png", width, height)


def _gif(data: bytes) -> ImageInfo:
    width, height = struct.unpack("<HH", data[6:10])
    return _checked("image/gif", width, height)


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            raise NotAnImage("a damaged JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or start of scan before any frame header
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2:
            raise NotAnImage("a damaged JPEG segment")
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return _checked("image/jpeg", width, height)
        pos += 2 + length
    raise NotAnImage("a JPEG without a frame header")


def _webp(data: bytes) -> ImageInfo:
    chunk = data[12:16]
    body = data[20:]
    if chunk == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            raise NotAnImage("a damaged WebP frame")
        width, height = struct.unpack("<HH", body[6:10])
        return _checked("image/webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        if body[0] != 0x2F:
            raise NotAnImage("a damaged WebP frame")
        (bits,) = struct.unpack("<I", body[1:5])
        return _checked("image/webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        if len(body) < 10:
            raise NotAnImage("the image is truncated or damaged")
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return _checked("image/webp", width, height)
    raise NotAnImage("an unknown WebP chunk")

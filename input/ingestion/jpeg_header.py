"""A JPEG's frame size from its header, and a check that the file is whole, without decoding.

A JPEG starts with SOI (FF D8), then marker segments (FF xx, a 2-byte
big-endian length that counts itself), and ends with EOI (FF D9). The frame
size sits in the SOF segment (SOF0..SOF15 except DHT C4, JPG C8, DAC CC):
precision (1 byte), height, width (2 bytes each), components (1 byte).
Only the segments before it are walked, so the cost is a few hundred bytes
of the file whatever its size.
"""
import struct
from typing import NamedTuple

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"
_NOT_SOF = (0xC4, 0xC8, 0xCC)
_STANDALONE = set(range(0xD0, 0xD8)) | {0x01}  # RSTn, TEM: no length field


class JpegError(ValueError):
    """Bytes that are not a whole JPEG."""


class JpegHeader(NamedTuple):
    width: int
    height: int
    components: int  # 1 gray, 3 colour


def jpeg_header(data: bytes) -> JpegHeader:
    """Size and components of a JPEG; `JpegError` if it lacks SOI, SOF or the final EOI."""
    if not data.startswith(SOI):
        raise JpegError("not a JPEG (no FF D8 start-of-image marker)")
    if not data.rstrip(b"\x00").endswith(EOI):  # some writers pad with zeros after EOI
        raise JpegError(f"truncated JPEG (no FF D9 end-of-image marker at the end of "
                        f"{len(data)} bytes)")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise JpegError(f"corrupt JPEG header (no marker at byte {position})")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _STANDALONE:
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in _NOT_SOF:
            if position + 10 > len(data):
                break
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            if width == 0 or height == 0:
                raise JpegError(f"JPEG header states a {width}x{height} frame")
            return JpegHeader(width, height, data[position + 9])
        if marker in (0xDA, 0xD9):  # start of scan or end before any frame header
            break
        position += 2 + length
    raise JpegError("corrupt JPEG header (no SOF frame header before the image data)")

"""Checking the signature image a phone sends: a real, small PNG with some ink on it."""
from __future__ import annotations

import base64
import binascii
import io
import struct

from PIL import Image, UnidentifiedImageError

from engine.errors import N_, InvalidInput

FIELD = "signature"
DATA_URL_PREFIX = "data:image/png;base64,"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 200 * 1024
MIN_SIDE, MAX_SIDE = 40, 2000
INK_LEVEL = 200      # grey level (0 black … 255 white) below which a pixel counts as ink
MIN_INK_PIXELS = 30  # a stray tap is not a signature

_INVALID = N_("簽名資料不正確，請重新簽名。")
NOT_A_PNG = N_("簽名必須是 200 KB 以內的 PNG 圖片。")


def _rejected(message: str) -> InvalidInput:
    return InvalidInput(_INVALID, {FIELD: [message]})


def decode_data_url(value: str | None) -> bytes:
    """The bytes of a ``data:image/png;base64,…`` URL; InvalidInput for anything else."""
    if not value or not value.strip():
        raise _rejected(N_("請先在框內簽名，再按「確認簽名」。"))
    value = value.strip()
    if not value.startswith(DATA_URL_PREFIX) or len(value) > len(DATA_URL_PREFIX) + MAX_BYTES * 4 // 3 + 4:
        raise _rejected(NOT_A_PNG)
    try:
        return base64.b64decode(value[len(DATA_URL_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise _rejected(NOT_A_PNG) from None


def _dimensions(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, read before any decoding."""
    if len(png) < 24 or png[12:16] != b"IHDR":
        raise _rejected(NOT_A_PNG)
    return struct.unpack(">II", png[16:24])


def _ink_pixels(png: bytes) -> int:
    """How many pixels are dark and not transparent, seen on white paper."""
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
            image.load()
            rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _rejected(NOT_A_PNG) from None
    paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(paper, rgba).convert("L")
    histogram = grey.histogram()
    return sum(histogram[:INK_LEVEL])


def check_png(png: bytes) -> bytes:
    """``png`` if it is a PNG of sane size with a signature on it; InvalidInput naming the problem otherwise."""
    if len(png) > MAX_BYTES or not png.startswith(PNG_MAGIC):
        raise _rejected(NOT_A_PNG)
    width, height = _dimensions(png)
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise _rejected(N_("簽名圖片的尺寸不正確，請重新簽名。"))
    if _ink_pixels(png) < MIN_INK_PIXELS:
        raise _rejected(N_("沒有偵測到簽名筆跡，請在框內簽名。"))
    return png


def signature_from(value: str | None) -> bytes:
    """The checked PNG carried by a data URL."""
    return check_png(decode_data_url(value))

"""Reading a QR code back, as the scanner at the cinema's door does (zxing-cpp)."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image


def read_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in a PNG image."""
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]

"""Draw doorstep's app icons (a door under a roof, on the brand blue) and write them as
PNG files with the standard library alone:

    python scripts/make_icons.py     # writes src/doorstep/web/static/icons/icon-*.png

The drawing is a few shapes tested pixel by pixel, so it scales to any size; the
manifest (``/manifest.webmanifest``) lists the sizes written here.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "src/doorstep/web/static/icons"
SIZES = (192, 512)
BLUE = (31, 111, 235)
WHITE = (255, 255, 255)
DARK = (23, 32, 44)


def colour_at(x: float, y: float) -> tuple[int, int, int]:
    """The colour of the point (x, y) of the unit square: a roof and a house in white, a
    dark door with a white knob, on blue. Everything sits inside the central 80 %, so a
    platform that crops the icon to a circle (a "maskable" icon) keeps the drawing."""
    roof = 0.22 <= y <= 0.46 and abs(x - 0.5) <= (y - 0.22) * (0.30 / 0.24)
    house = 0.44 <= y <= 0.80 and 0.28 <= x <= 0.72
    door = 0.56 <= y <= 0.80 and 0.43 <= x <= 0.57
    knob = (x - 0.54) ** 2 + (y - 0.69) ** 2 <= 0.012**2
    if door and not knob:
        return DARK
    if roof or house:
        return WHITE
    return BLUE


def png(size: int) -> bytes:
    """The icon at ``size`` x ``size`` pixels as a PNG (8-bit RGB, no interlace)."""
    rows = bytearray()
    for j in range(size):
        rows.append(0)  # filter type "none" for this row
        for i in range(size):
            rows.extend(colour_at((i + 0.5) / size, (j + 0.5) / size))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        (ICONS / f"icon-{size}.png").write_bytes(png(size))


if __name__ == "__main__":
    main()

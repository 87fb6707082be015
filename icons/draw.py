#!/usr/bin/env python3
"""Draws Keepsake's app icon (a keepsake box with a ribbon) as icons/source.png.

Pure standard library: signed distance shapes, anti-aliased by coverage.
Regenerate every size from it with:
    python3 icons/draw.py && ui/node_modules/.bin/tauri icon icons/source.png -o icons
"""
import math
import struct
import sys
import zlib
from pathlib import Path

N = 1024


def rounded_box(px, py, cx, cy, hw, hh, r):
    """Signed distance to a rounded rectangle centred at (cx, cy)."""
    qx = abs(px - cx) - hw + r
    qy = abs(py - cy) - hh + r
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def cover(d):
    """Coverage of a pixel whose centre is at signed distance d."""
    return min(1.0, max(0.0, 0.5 - d))


def mix(dst, src, a):
    return tuple(d + (s - d) * a for d, s in zip(dst, src))


def pixel(x, y):
    px, py = x + 0.5, y + 0.5
    # Background: a rounded square, deep teal to indigo from top to bottom.
    bg = rounded_box(px, py, 512, 512, 460, 460, 200)
    t = py / N
    top, bottom = (32, 122, 126), (44, 62, 120)
    color = tuple(a + (b - a) * t for a, b in zip(top, bottom))
    alpha = cover(bg)
    if alpha == 0.0:
        return (0, 0, 0, 0)
    # Soft shadow under the box.
    sh = rounded_box(px, py, 512, 742, 250, 26, 26)
    color = mix(color, (14, 30, 52), 0.35 * min(1.0, max(0.0, 0.5 - sh / 30)))
    # The box body.
    body = rounded_box(px, py, 512, 585, 235, 170, 28)
    color = mix(color, (246, 233, 208), cover(body))
    # Its lid: wider, a little darker.
    lid = rounded_box(px, py, 512, 388, 265, 62, 26)
    color = mix(color, (236, 214, 178), cover(lid))
    # A line where the lid meets the body.
    seam = rounded_box(px, py, 512, 452, 236, 5, 4)
    color = mix(color, (200, 170, 130), cover(seam) * 0.8)
    # The ribbon: a vertical band over lid and body.
    band = rounded_box(px, py, 512, 570, 34, 244, 6)
    color = mix(color, (214, 79, 92), cover(max(band, min(lid, body))))
    # The bow: two loops above the lid, and a knot.
    for side in (-1, 1):
        cx = 512 + side * 70
        loop = math.hypot((px - cx) / 1.35, py - 290) - 52
        hole = math.hypot((px - cx) / 1.35, py - 292) - 22
        color = mix(color, (214, 79, 92), cover(max(loop, -hole)))
    knot = rounded_box(px, py, 512, 305, 36, 36, 14)
    color = mix(color, (190, 60, 74), cover(knot))
    return (*color, alpha * 255)


def main():
    out = Path(__file__).with_name("source.png")
    rows = bytearray()
    for y in range(N):
        rows.append(0)
        for x in range(N):
            rows.extend(max(0, min(255, round(c))) for c in pixel(x, y))
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", N, N, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(rows), 9))
    png += chunk(b"IEND", b"")
    out.write_bytes(png)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""png_grid_check.py — reads a sample_grid picture (8-bit RGB PNG, non-interlaced) with the standard
library alone (the python3 the tests find need not have PIL) and checks its layout and pixels against
what plugins/metrics/sample_grid/sample_grid.c promises. Used by tests/test_sample_grid.sh.

usage: png_grid_check.py PNG ROWS COLS H W SCALE GAP LEVELS
  SCALE: pixels per image pixel (already resolved from scale 0); LEVELS: the dataset's gray levels K
  (pixels must be round(255 k / (K - 1)), k = 0..K-1, within 1). Prints one line per check,
  'ok ...' or 'FAIL ...', and exits 1 if any failed."""
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype != 2 or interlace != 0:
        raise ValueError(f"expected 8-bit RGB non-interlaced, got depth {depth} colour type {ctype} interlace {interlace}")
    raw, bpp, stride = zlib.decompress(idat), 3, 3 * w
    rows, prev, p = [], bytearray(stride), 0
    for _ in range(h):   # undo the per-row filters (PNG spec §9)
        ft, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif ft != 0:
                raise ValueError(f"bad filter type {ft}")
        rows.append(bytes(line))
        prev = line
    return w, h, rows


def main():
    path = sys.argv[1]
    rows, cols, H, W, s, gap, levels = map(int, sys.argv[2:9])
    fails = 0

    def check(what, ok):
        nonlocal fails
        print(("ok   " if ok else "FAIL ") + what)
        fails += not ok

    w, h, px = read_png(path)
    pw, ph, seam = cols * W * s + (cols - 1) * gap, rows * H * s + (rows - 1) * gap, 8 + 4 * gap
    check(f"size {w}x{h} = expected {2 * pw + seam}x{ph}", (w, h) == (2 * pw + seam, ph))
    if (w, h) != (2 * pw + seam, ph):
        return 1

    def pixel(x, y):
        return tuple(px[y][3 * x:3 * x + 3])

    check("the seam between the panels is white", all(pixel(x, y) == (255, 255, 255) for y in range(h) for x in range(pw, pw + seam)))
    if gap:
        gx = W * s   # the first gap column inside each panel
        check("gaps between images are gray 128",
              all(pixel(x0 + gx, y) == (128, 128, 128) for x0 in (0, pw + seam) for y in range(h)))
    allowed = {round(255 * k / (levels - 1)) for k in range(levels)}
    for name, x0 in (("model", 0), ("true", pw + seam)):
        vals, blocky, gray, total = {}, True, True, 0
        for i in range(rows * cols):
            ox, oy = x0 + (i % cols) * (W * s + gap), (i // cols) * (H * s + gap)
            for y in range(H * s):
                for x in range(W * s):
                    r, g, b = pixel(ox + x, oy + y)
                    gray &= r == g == b
                    blocky &= (r, g, b) == pixel(ox + x - x % s, oy + y - y % s)
                    vals[r] = vals.get(r, 0) + 1
                    total += r
        n = rows * cols * H * W * s * s
        off = sorted(v for v in vals if all(abs(v - a) > 1 for a in allowed))
        check(f"{name} panel: gray pixels (C = 1)", gray)
        check(f"{name} panel: each image pixel is a {s}x{s} block", blocky)
        check(f"{name} panel: every value is a level 255 k / {levels - 1} (off: {off[:5]})", not off)
        check(f"{name} panel: not all one colour ({len(vals)} values)", len(vals) > 1)
        print(f"mean {name} {total / (255.0 * n):.4f}")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

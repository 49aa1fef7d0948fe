#!/usr/bin/env python3
"""figure_check.py — reads back an SVG or PDF that unigfn's cairo code (core/src/plot/) wrote and checks
what must be in it, with the standard library alone (plus poppler-utils' pdfinfo and pdftotext for PDFs).
Used by tests/test_report.c, which checks the PNGs itself with libpng.

usage: figure_check.py svg FILE [--size WxH] [--stroke RRGGBB]... [--band RRGGBB]... [--no-band RRGGBB]...
                                [--markers RRGGBB]... [--errorbar RRGGBB]... [--legend N] [--glyphs N] [--images N]
       figure_check.py pdf FILE [--pages N] [--text T]...
svg: the file parses as XML with an <svg> root of that size; --stroke: a bold line (width >= 2) of >= 10
  segments in that colour (a group mean); --band: a translucent fill (opacity 0.1 ... 0.3, no stroke) of
  >= 10 points in that colour (a mean ± std band) and --no-band: none; --markers: a filled disc (curves
  ending where they start) in that colour; --errorbar: a thin vertical line with caps in that colour; --legend N: N
  colours with a horizontal 26-unit swatch line in the legend rows under the plot; --glyphs N: at least N
  glyphs drawn (cairo writes text as glyph outlines used by <use>); --images N: at least N <image>s.
pdf: the file starts with %PDF- and ends with %%EOF; --pages N: pdfinfo counts N pages; --text: pdftotext
  finds the text (whitespace collapsed).
Prints 'ok ...' or 'FAIL ...' per check and exits 1 if any failed."""
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

fails = 0


def check(ok, what):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += 0 if ok else 1


def style_of(el):
    out = {}
    for part in el.get("style", "").split(";"):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip()] = v.strip()
    return out


def hex_of(colour):
    """cairo writes rgb(12.156863%,46.666667%,70.588235%)"""
    m = re.fullmatch(r"rgb\(([\d.]+)%,([\d.]+)%,([\d.]+)%\)", colour or "")
    if not m:
        return None
    return "%02x%02x%02x" % tuple(round(float(x) * 2.55) for x in m.groups())


def path_points(d):
    """[(command, [numbers])] of an SVG path in cairo's absolute form"""
    return [(c, [float(x) for x in args.split()]) for c, args in re.findall(r"([MLCZ])([^MLCZ]*)", d or "")]


def svg(path, args):
    ns = {"svg": "http://www.w3.org/2000/svg", "xlink": "http://www.w3.org/1999/xlink"}
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        check(False, f"{path} parses as XML: {e}")
        return
    check(root.tag == "{http://www.w3.org/2000/svg}svg", f"root element is <svg> ({root.tag})")
    height = float(re.sub(r"[a-z]+$", "", root.get("height", "0")))
    if args.get("size"):
        w, h = args["size"][0].split("x")
        got = (root.get("width"), root.get("height"))
        check(got == (w + "px", h + "px"), f"size {got[0]} x {got[1]} = {w}px x {h}px")
    paths = []
    for p in root.iter("{http://www.w3.org/2000/svg}path"):
        st = style_of(p)
        paths.append((st, path_points(p.get("d"))))
    for c in args.get("stroke", []):
        n = [len(pts) for st, pts in paths if hex_of(st.get("stroke")) == c and float(st.get("stroke-width", 0)) >= 2]
        check(any(k >= 10 for k in n), f"a bold line in #{c} with >= 10 segments (lengths {sorted(n)[-3:]})")

    def bands(c):
        return [len(pts) for st, pts in paths if hex_of(st.get("fill")) == c and st.get("stroke") == "none"
                and 0.1 <= float(st.get("fill-opacity", 1)) <= 0.3]
    for c in args.get("band", []):
        check(any(k >= 10 for k in bands(c)), f"a translucent band in #{c} of >= 10 points ({sorted(bands(c))[-3:]})")
    for c in args.get("no-band", []):
        check(not any(k >= 10 for k in bands(c)), f"no band in #{c} ({bands(c)})")
    for c in args.get("markers", []):
        n = sum(1 for st, pts in paths if hex_of(st.get("fill")) == c and float(st.get("fill-opacity", 1)) > 0.9
                and sum(k == "C" for k, _ in pts) >= 2 and pts[0][0] == "M" and pts[-1][1][-2:] == pts[0][1][:2])
        check(n >= 1, f"a filled marker disc in #{c} ({n})")
    for c in args.get("errorbar", []):
        n = 0
        for st, pts in paths:
            if hex_of(st.get("stroke")) != c:
                continue
            xs = [v[0] for k, v in pts if k in "ML"]
            n += len(pts) >= 6 and all(k in "ML" for k, _ in pts) and any(abs(x - xs[0]) < 1e-6 for x in xs[1:2])
        check(n >= 1, f"an error bar in #{c} ({n})")
    if args.get("legend"):
        want = int(args["legend"][0])
        cols = set()
        for st, pts in paths:
            if len(pts) == 2 and [k for k, _ in pts] == ["M", "L"]:
                (x0, y0), (x1, y1) = pts[0][1][:2], pts[1][1][:2]
                if abs(y0 - y1) < 1e-6 and abs(x1 - x0 - 26) < 1e-6 and y0 > height - 18 * want - 14 and st.get("stroke"):
                    cols.add(hex_of(st["stroke"]))
        check(len(cols) >= want, f"legend swatches in {want} colours ({sorted(c for c in cols if c)})")
    if args.get("glyphs"):
        n = sum(1 for u in root.iter("{http://www.w3.org/2000/svg}use")
                if (u.get("{http://www.w3.org/1999/xlink}href") or "").startswith("#glyph"))
        check(n >= int(args["glyphs"][0]), f"{n} glyphs drawn (>= {args['glyphs'][0]})")
    if args.get("images"):
        n = len(root.findall(".//svg:image", ns))
        check(n >= int(args["images"][0]), f"{n} embedded images (>= {args['images'][0]})")


def pdf(path, args):
    data = open(path, "rb").read()
    check(data.startswith(b"%PDF-"), "starts with %PDF-")
    check(data.rstrip().endswith(b"%%EOF"), "ends with %%EOF")
    tools = all(shutil.which(t) for t in ("pdfinfo", "pdftotext"))
    check(tools, "pdfinfo and pdftotext are installed (apt-get install poppler-utils)")
    if not tools:
        return
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True)
    check(info.returncode == 0, f"pdfinfo reads it ({info.stderr.strip()[:200]})")
    if args.get("pages"):
        m = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
        check(m is not None and m.group(1) == args["pages"][0], f"pages: {m.group(1) if m else '?'} = {args['pages'][0]}")
    if args.get("text"):
        txt = subprocess.run(["pdftotext", path, "-"], capture_output=True, text=True).stdout
        flat = " ".join(txt.split())
        for t in args["text"]:
            check(" ".join(t.split()) in flat, f"text '{t}'" + ("" if " ".join(t.split()) in flat else f" not in: {flat[:400]}"))


def main(argv):
    if len(argv) < 3 or argv[1] not in ("svg", "pdf"):
        print(__doc__)
        return 2
    args, i = {}, 3
    while i < len(argv):
        key = argv[i].lstrip("-")
        args.setdefault(key, []).append(argv[i + 1] if i + 1 < len(argv) else "")
        i += 2
    (svg if argv[1] == "svg" else pdf)(argv[2], args)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env bash
# test_sample_decode.sh — `unigfn sample RUN -n N --decode` (issue 21 item 4): a binary GFlowNet run on
# Gray-coded 2-D data prints "x y" points that are its raw 32-bit rows decoded (sign bit, then the
# 15-bit reflected Gray code of |v| * int_scale, per coordinate: plugins/datasets/synthetic2d/gray.c,
# recomputed here from the bits alone) for the same draw and seed; a picture dataset (UCI digits, as in
# test_sample_grid) writes -o FILE.png, a grid of the N images; a dataset with neither (test_cats) and
# the wrong output for each are refused with a golden message, exit 2, before sampling.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz

"$U" run "$SPEC/tiny.yaml" threads=1 train.steps=20 --db t.db --quiet
id=$(q t.db 'select id from runs')
"$U" sample "$id" -n 200 --seed 5 --db t.db > raw.txt
"$U" sample "$id" -n 200 --seed 5 --decode --db t.db > pts.txt
check "--decode prints 200 lines of two numbers" \
  "[ \$(grep -cE '^-?[0-9.e+-]+ -?[0-9.e+-]+\$' pts.txt) -eq 200 ] && [ \$(wc -l < pts.txt) -eq 200 ]"
python3 - raw.txt pts.txt > cmp.txt <<'PY'
import sys
raw = [l.strip() for l in open(sys.argv[1])]
pts = [tuple(map(float, l.split())) for l in open(sys.argv[2])]
def coord(bits):                       # bits: 16 characters, sign first
    g = int(bits[1:], 2)
    m, s = g, 1
    while s < 16:
        m ^= m >> s
        s <<= 1
    return (-1 if bits[0] == "1" else 1), m
scale, bad = None, 0
for r, p in zip(raw, pts):
    for half, v in ((r[:16], p[0]), (r[16:], p[1])):
        sign, m = coord(half)
        if m == 0:
            bad += v != 0
            continue
        if (v < 0) != (sign < 0):
            bad += 1
            continue
        scale = scale or m / abs(v)    # one int_scale for every coordinate of every row
        bad += abs(abs(v) * scale - m) > 1e-4 * m
print("ok" if len(raw) == len(pts) == 200 and bad == 0 and scale else f"FAIL: {bad} coordinates differ (scale {scale})")
PY
check "each point is its raw row decoded from the bits ($(cat cmp.txt))" "[ \"\$(cat cmp.txt)\" = ok ]"
"$U" sample "$id" -n 200 --seed 6 --decode --db t.db > pts6.txt
check "another seed, other points" "! cmp -s pts.txt pts6.txt"
"$U" sample "$id" -n 200 --seed 5 --decode -o out.txt --db t.db 2> err.txt
check "--decode -o FILE writes the same points and says so" \
  "[ \$? -eq 0 ] && cmp -s pts.txt out.txt && [ \"\$(cat err.txt)\" = \"unigfn: wrote 200 decoded points of run $id (step 20) to out.txt\" ]"

# ---- refusals (exit 2, nothing sampled) ----
"$U" run "$SPEC/d3pm-cats.yaml" threads=1 train.steps=4 'metrics=[]' --db c.db --quiet
cid=$(q c.db 'select id from runs')
while IFS='|' read -r args want; do
  [ -z "$args" ] && continue
  # shellcheck disable=SC2086
  "$U" sample $args > out.txt 2> err.txt
  rc=$?
  check "sample $args: exit 2, '$want'" "[ $rc -eq 2 ] && [ \"\$(cat err.txt)\" = \"\$want\" ] && [ ! -s out.txt ] && [ ! -e x.png ]"
done <<EOF2
$id -n 5 --decode -o x.png --db t.db|unigfn sample: --decode writes the 2-D points of run $id as text, not to x.png (\`unigfn report samples $id -o x.png\` draws them)
$cid -n 5 --decode --db c.db|unigfn sample: --decode: dataset 'test_cats' of run $cid has no decoder to 2-D points (decoded_dim 0) and has no image layout (space.shape (C, H, W) is unset); without --decode the samples print as the model makes them
EOF2

# ---- pictures ----
if [ ! -r "$DIGITS" ]; then
  echo "test_sample_decode: $pass passed, $fail failed; skip the digits run: no $DIGITS (apt-get install python3-sklearn)"
  [ "$fail" -eq 0 ] && exit 77
  exit 1
fi
"$U" run "$SPEC/ar-digits-grid.yaml" threads=1 --db a.db --quiet
aid=$(q a.db 'select id from runs')
"$U" sample "$aid" -n 20 --decode -o grid.png --db a.db > out.txt 2> err.txt
check "a digits run: --decode -o grid.png exits 0 and names the picture" \
  "[ \$? -eq 0 ] && [ ! -s out.txt ] && [ \"\$(cat err.txt)\" = \"unigfn: wrote a grid of 20 8x8 images of run $aid (step 20) to grid.png\" ]"
python3 - grid.png > png.txt <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
ok = d[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", d[16:24]) if ok else (0, 0)
# a grid of 20 images of 8 x 8 pixels at least one screen pixel each: 5 x 4 of them, or 4 x 5
print("ok" if ok and min(w, h) >= 4 * 8 and max(w, h) >= 5 * 8 else f"FAIL: {w}x{h}, signature {ok}")
PY
check "grid.png is a PNG large enough for 20 images of 8x8 ($(cat png.txt))" "[ \"\$(cat png.txt)\" = ok ]"
while IFS='|' read -r args want; do
  [ -z "$args" ] && continue
  # shellcheck disable=SC2086
  "$U" sample $args > out.txt 2> err.txt
  rc=$?
  check "sample $args: exit 2, '$want'" "[ $rc -eq 2 ] && [ \"\$(cat err.txt)\" = \"\$want\" ] && [ ! -s out.txt ]"
done <<EOF2
$aid -n 20 --decode --db a.db|unigfn sample: --decode of run $aid makes a picture of 8x8 images: give -o FILE.png
$aid -n 20 --decode -o grid.txt --db a.db|unigfn sample: --decode of run $aid makes a picture of 8x8 images: give -o FILE.png
$aid -n 5000 --decode -o big.png --db a.db|unigfn sample: --decode draws at most 4096 images in one picture, got -n 5000
EOF2

echo "test_sample_decode: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# test_sample_grid.sh — the sample_grid metric plugin through the CLI and the real loader: `unigfn plugins`
# lists it and `unigfn plugins sample_grid` prints its schema; a short run of the ar model on UCI digits
# (tests/specs/runner/ar-digits-grid.yaml) writes runs/ID/samples-20.png, recorded as the run's artifact
# with no metric values, whose size follows from rows, cols, scale, gap and the 8x8 images, and whose
# panels tests/png_grid_check.py decodes: model on the left (near-uniform levels after 20 steps, mean
# intensity near 0.5), true digits on the right (mean about 0.3), every pixel a gray level v/16.
# A 2-D dataset and a picture too large are spec errors (exit 2) naming sample_grid, before any run row.
# The digits part needs python3-sklearn's digits.csv.gz: without it the test skips (77), as
# test_image_datasets real_digits does, after the checks that need no data.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
PNGCHECK="$UG_SOURCE_ROOT/tests/png_grid_check.py"
DIGITS=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz

"$U" plugins > list.txt
check "plugins lists metric sample_grid" "grep -qE '^metric +sample_grid +1\.0 ' list.txt"
"$U" plugins sample_grid > sg.txt
check "plugins sample_grid exits 0" "[ $? -eq 0 ]"
check "the schema comes from the built plugin" "grep -q 'plugins/metrics/sample_grid/sample_grid.so' sg.txt"
for k in rows cols scale gap chunk; do
  check "schema shows key $k" "grep -qE '^    $k +int' sg.txt"
done
check "rows defaults to 8 in [1, 256]" "grep -qE '^    rows +int +default 8  range \[1, 256\]' sg.txt"
check "scale defaults to 0 (automatic)" "grep -qE '^    scale +int +default 0  range \[0, 64\]' sg.txt"

# (3) not images: refused when the metric is created, exit 2, no database written
"$U" run "$SPEC/realnvp-grid-2d.yaml" --db b.db --quiet 2> err2d.txt
check "a 2-D dataset exits 2" "[ $? -eq 2 ]"
check "the message names sample_grid, the dataset and why" \
  "grep -q \"sample_grid: dataset 'synthetic2d' has no image layout\" err2d.txt"
check "no database was written" "[ ! -e b.db ]"

if [ ! -r "$DIGITS" ]; then
  echo "test_sample_grid: $pass passed, $fail failed; skip the digits runs: no $DIGITS (apt-get install python3-sklearn)"
  [ "$fail" -eq 0 ] && exit 77
  exit 1
fi

"$U" run "$SPEC/ar-digits-grid.yaml" metrics.0.rows=256 metrics.0.cols=256 metrics.0.scale=64 --db big.db --quiet 2> errbig.txt
check "a picture over 16384 px exits 2" "[ $? -eq 2 ]"
check "the message names sample_grid and the limit" "grep -q 'sample_grid: a 256 x 256 grid of 8 x 8 images .* over 16384 px' errbig.txt"

# (2) the picture: 4 x 5 images per panel, 8x8 pixels each, scale 0 -> 4 (4 * 8 = 32 px), gap 1
"$U" run "$SPEC/ar-digits-grid.yaml" --db a.db --quiet
check "run exits 0" "[ $? -eq 0 ]"
check "one FINISHED run" "[ \"$(q a.db 'select status from runs')\" = FINISHED ]"
id=$(q a.db "select id from runs")
png="runs/$id/samples-20.png"
check "the picture is at $png" "[ -s $png ]"
check "it is the run's one artifact, a png at step 20" \
  "[ \"$(q a.db "select path, kind, step from artifacts")\" = \"$png|png|20\" ]"
check "no metric values beside it (only the loss keys)" \
  "[ $(q a.db "select count(*) from metrics where key not like 'loss%' and key not like 'kl_tb.%' and key not like 'grad_norm.%'") -eq 0 ]"
rows=4 cols=5 s=4 gap=1
w=$((2 * (cols * 8 * s + (cols - 1) * gap) + 8 + 4 * gap)) h=$((rows * 8 * s + (rows - 1) * gap))
python3 "$PNGCHECK" "$png" $rows $cols 8 8 $s $gap 17 > png.txt
check "png_grid_check passes (size ${w}x$h, panels, levels)" "[ $? -eq 0 ]"
check "it measured ${w}x$h" "grep -q '^ok   size ${w}x$h = ' png.txt"
check "the true panel is not all one colour" "grep -q '^ok   true panel: not all one colour' png.txt"
mm=$(sed -n 's/^mean model //p' png.txt) mt=$(sed -n 's/^mean true //p' png.txt)
check "left = model: near-uniform levels after 20 steps (mean $mm > 0.42)" "python3 -c 'import sys; sys.exit(not $mm > 0.42)'"
check "right = digits: mean intensity $mt in [0.22, 0.40] (the data's is 0.30)" \
  "python3 -c 'import sys; sys.exit(not 0.22 <= $mt <= 0.40)'"

# explicit scale and no gap: 2 * (5 * 16) + 8 wide, 4 * 16 high
"$U" run "$SPEC/ar-digits-grid.yaml" metrics.0.scale=2 metrics.0.gap=0 --db c.db --quiet
check "scale 2, gap 0 run exits 0" "[ $? -eq 0 ]"
id2=$(q c.db "select id from runs")
python3 "$PNGCHECK" "runs/$id2/samples-20.png" 4 5 8 8 2 0 17 > png2.txt
check "scale 2, gap 0: png_grid_check passes" "[ $? -eq 0 ]"
check "scale 2, gap 0: 168x64" "grep -q '^ok   size 168x64 = ' png2.txt"

[ "$fail" -eq 0 ] || cat png.txt png2.txt
echo "test_sample_grid: $pass passed, $fail failed (${w}x$h; mean intensity model $mm, true $mt)"
[ "$fail" -eq 0 ]

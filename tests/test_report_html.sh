#!/usr/bin/env bash
# test_report_html.sh — `unigfn report html OUT/` (issue 21 item 6): a database of real runs (two seeds
# of two settings, one with a density picture, one FAILED, one with markup in its experiment name) gives
# a page whose embedded data is valid JSON that no string can break out of, whose pictures are copied,
# and which, opened from disk in headless Chromium, shows every run as a row, the ablation table, a
# curve with a mean ± std band, a run's pictures, and filters and sorts from its address. The
# screenshot is kept as build/report-html-screenshot.png. Without Chromium (Debian `chromium`, which
# .ci/run installs) the browser half is skipped (exit 77) after the file checks.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

"$U" sweep "$SPEC/tiny.yaml" model.hidden=[16],[32] seed=1,2 train.steps=40 --db r.db > sweep.txt 2>&1
check "sweep of 4 runs finished" "grep -q 'sweep: ran 4: 4 FINISHED' sweep.txt"
"$U" run "$UG_SOURCE_ROOT/experiments/smoke/first-run.yaml" train.steps=20 'metrics=[{plugin: density_png, samples: 2000}]' \
  --db r.db --quiet
check "a run with a picture" "[ \$(q r.db \"select count(*) from artifacts\") -eq 1 ]"
"$U" run "$SPEC/nan.yaml" --db r.db --quiet 2> /dev/null
check "a FAILED run" "[ \"\$(q r.db \"select count(*) from runs where status='FAILED'\")\" = 1 ]"
"$U" run "$SPEC/tiny.yaml" train.steps=20 'name=</script><b id=x>' --db r.db --quiet
n=$(q r.db "select count(*) from runs")
check "seven runs" "[ $n -eq 7 ]"

# 1. The files.
"$U" --db r.db report html out --table model.hidden:seed:nll --table model.hidden:status:loss:min > out.txt 2> err.txt
check "report html exits 0" "[ $? -eq 0 ]"
check "says where the page is" "grep -qx 'wrote out/index.html (7 runs, with the tables); open it in a browser, no server needed' out.txt"
check "index.html written, no temporary left" "[ -s out/index.html ] && [ ! -e out/index.html.tmp ]"
check "the picture copied into img/" "[ \$(ls out/img/*.png | wc -l) -eq 1 ]"
check "no network: no http(s) address in the page" "! grep -qE '(src|href)=\"https?:' out/index.html"
"$PY" - out/index.html <<'PY' > json.txt
import json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'<script type="application/json" id="ug-data">\n(.*?)\n</script>', page, re.S)
d = json.loads(m.group(1))
print(len(d["runs"]), sum(1 for r in d["runs"] if r["pictures"]), sum(1 for r in d["runs"] if r["error"]))
print(page.count("</script>"), "|".join(sorted(r["experiment"] for r in d["runs"]))[:40])
PY
check "embedded data is JSON with 7 runs, 1 with pictures, 1 with an error" "[ \"\$(sed -n 1p json.txt)\" = '7 1 1' ]"
check "a name with </script> cannot close the data (two script elements only)" "sed -n 2p json.txt | grep -q '^2 </script><b id=x>'"
check "ablation tables as HTML tables" "[ \$(grep -c '<table class=\"ablation\">' out/index.html) -eq 2 ]"

# 2. Errors.
"$U" --db r.db report html > /dev/null 2> e1.txt; rc=$?
check "no folder: exit 2 with the reason" "[ $rc -eq 2 ] && grep -qx 'unigfn report html: which folder? (unigfn report html OUT)' e1.txt"
"$U" --db r.db report html o2 --table model.hidden:nll > /dev/null 2> e2.txt; rc=$?
check "bad --table: exit 2 with the form" "[ $rc -eq 2 ] && grep -qx \"unigfn report html: --table needs ROWS:COLS:METRIC\\[:REDUCE\\], got 'model.hidden:nll'\" e2.txt"
"$U" --db r.db report html o3 --bogus > /dev/null 2> e3.txt; rc=$?
check "unknown option: exit 2" "[ $rc -eq 2 ] && grep -q \"unknown option '--bogus'\" e3.txt"
"$U" --db nosuch.db report html o4 > /dev/null 2>&1; rc=$?
check "missing database: exit 1, none created" "[ $rc -eq 1 ] && [ ! -e nosuch.db ]"

# 3. In a browser.
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
  echo "skip: no chromium (apt-get install chromium) for the browser checks; $pass file checks passed, $fail failed"
  [ $fail -eq 0 ] && exit 77 || exit 1
fi
url="file://$PWD/out/index.html"
cr() { "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$PWD/chrome" "$@" 2>/dev/null; }
cr --dump-dom "$url" > dom.html
check "every run is a row" "[ \$(grep -o '<tr class=\"run[^\"]*\" data-id=' dom.html | wc -l) -eq 7 ]"
check "the count line" "grep -q 'id=\"count\">7 of 7 runs<' dom.html"
check "a curve is drawn (SVG polyline)" "grep -q '<svg class=\"curve\"' dom.html && grep -q '<polyline class=\"line\"' dom.html"
check "seeds of one setting drawn as a mean ± std band" "grep -q '<polygon class=\"band\"' dom.html && grep -q 'mean ± std, 2 seeds' dom.html"
check "a run's detail with its picture opens" "grep -q '<img src=\"img/[0-9a-f]*-density-20.png\"' dom.html"
check "... and what it was computed from (the ddpm plugin, its SHA-256)" "grep -q '<table class=\"provenance\">' dom.html && grep -qE '<td>model</td><td>ddpm</td><td>[^<]*</td><td>[0-9a-f]{12}</td>' dom.html"
check "the hostile name is text, not markup" "! grep -q '<b id=\"x\">' dom.html && grep -q '&lt;/script&gt;&lt;b id=x&gt;' dom.html"
cr --dump-dom "$url#filter=seed%3D2&sort=-step" > dom2.html
check "#filter=seed=2 keeps the two seed-2 runs" "grep -q 'id=\"count\">2 of 7 runs<' dom2.html"
ids=$(q r.db "select id from runs r join params p on p.run=r.id and p.key='seed' and p.value='2' order by r.id" | tr '\n' ' ')
got=$(grep -o '<tr class="run[^"]*" data-id="[0-9a-f]*"' dom2.html | grep -o '[0-9a-f]\{16\}' | sort | tr '\n' ' ')
check "the filtered rows are those runs" "[ \"$ids\" = \"$got\" ]"
cr --dump-dom "$url#metric=nll&logy=1" > dom3.html
check "#metric=nll&logy=1: the chart is of nll on a log axis" "grep -q 'data-metric=\"nll\"' dom3.html && grep -q '>nll (log)<' dom3.html"
"$chrome" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$PWD/chrome" --enable-logging=stderr --v=0 \
  --dump-dom "$url#sort=-m:nosuch" > dom4.html 2> console.txt
check "a sort key no column shows: every row still there, no script error" \
  "grep -q 'id=\"count\">7 of 7 runs<' dom4.html && ! grep -q 'Uncaught' console.txt"
shot="$UG_BUILD_ROOT/report-html-screenshot.png"
cr --window-size=1400,2000 --screenshot="$shot" "$url" > /dev/null
check "screenshot written" "[ -s \"$shot\" ]"
if "$PY" -c 'import PIL' 2>/dev/null; then
  check "the screenshot is a page, not a blank (many colours, dark text on light)" "\"$PY\" - \"$shot\" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert('RGB')
w, h = im.size
colors = im.getcolors(1 << 20) or []
dark = sum(n for n, c in colors if sum(c) < 200)
assert w == 1400 and h == 2000 and len(colors) > 200 and 0.002 < dark / (w * h) < 0.5, (w, h, len(colors), dark)
PY"
fi
echo "$pass passed, $fail failed (screenshot: $shot)"
[ $fail -eq 0 ]

#!/usr/bin/env bash
# test_merge_folders.sh — `unigfn db merge OUT SHARD...` carries run folders: a run merged from a shard
# in another folder samples from OUT as from its shard (its folder copied, not linked); merging again
# changes nothing; a run whose row is replaced gets the replacing shard's folder, one whose row OUT kept
# keeps its own; a merged KILLED run resumes from OUT; a shard beside OUT needs no copy.
set -u
. "$UG_SOURCE_ROOT/tests/runner_env.sh"
mkdir s1 s2 out
"$U" run "$SPEC/tiny.yaml" train.steps=20 --db s1/r.db --quiet
"$U" run "$SPEC/tiny.yaml" train.steps=20 seed=4 --db s2/r.db --quiet
r1=$(q s1/r.db "select id from runs")
r2=$(q s2/r.db "select id from runs")

"$U" db merge out/all.db s1/r.db s2/r.db > out.txt
check "merge exits 0 and says where the folders went" "[ $? -eq 0 ] && grep -q '^2 run folders copied into out/runs/\$' out.txt"
for r in "$r1" "$r2"; do
  shard=s1; [ "$r" = "$r2" ] && shard=s2
  "$U" --db out/all.db sample "$r" -n 4 > got.txt 2> err.txt
  check "sample $r -n 4 from the merged database" "[ $? -eq 0 ] && [ \$(wc -l < got.txt) -eq 4 ] || { cat err.txt; false; }"
  "$U" --db $shard/r.db sample "$r" -n 4 > want.txt
  check "the same samples as from its shard" "cmp -s got.txt want.txt"
  check "its checkpoint is a copy, not a link" "cmp -s out/runs/$r/checkpoint.bin $shard/runs/$r/checkpoint.bin && [ \$(stat -c %i out/runs/$r/checkpoint.bin) != \$(stat -c %i $shard/runs/$r/checkpoint.bin) ]"
done
"$U" db merge out/all.db s1/r.db s2/r.db > out.txt
check "merging again: rows unchanged, samples the same" "grep -q 'total: 0 added, 0 replaced, 2 unchanged' out.txt && \"$U\" --db out/all.db sample $r1 -n 4 | cmp -s - <(\"$U\" --db s1/r.db sample $r1 -n 4)"
check "nothing left beside the folders" "[ \"\$(ls out/runs | sort | tr '\n' ' ')\" = \"\$(printf '%s\n' $r1 $r2 | sort | tr '\n' ' ')\" ]"

# s3: s1's run as an earlier copy (KILLED, with a file of its own). Merged first, then s1's FINISHED copy
# replaces its row, and its folder with it; merging s3 again keeps s1's row and so s1's folder.
cp -r s1 s3
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("update runs set status = ?, heartbeat = heartbeat - 100", ("KILLED",)); c.commit()' s3/r.db
echo s3 > s3/runs/$r1/marker
mkdir o2
"$U" db merge o2/all.db s3/r.db > /dev/null
check "the KILLED copy arrives with its folder" "[ -f o2/runs/$r1/marker ]"
"$U" db merge o2/all.db s1/r.db > out.txt
check "s1's FINISHED copy replaces the row" "grep -q '1 replaced' out.txt && [ \"$(q o2/all.db 'select status from runs')\" = FINISHED ]"
check "and the folder: s1's, without s3's file" "[ ! -e o2/runs/$r1/marker ] && cmp -s o2/runs/$r1/checkpoint.bin s1/runs/$r1/checkpoint.bin"
check "no temporary folder left" "[ \"\$(ls o2/runs)\" = $r1 ]"
"$U" db merge o2/all.db s3/r.db > out.txt
check "merging the older copy again keeps the row and its folder" "grep -q '0 added, 0 replaced, 1 unchanged' out.txt && grep -q '^0 run folders copied' out.txt && [ ! -e o2/runs/$r1/marker ]"

# A KILLED run merged out of its shard resumes from the merged database.
mkdir k o3
"$U" run "$SPEC/tiny.yaml" train.steps=3000 --db k/r.db --quiet &
term_after_logs k/r.db 5 $!
kid=$(q k/r.db "select id from runs")
"$U" db merge o3/all.db k/r.db > /dev/null
"$U" --db o3/all.db resume "$kid" --quiet
check "a merged KILLED run resumes to FINISHED from OUT" "[ $? -eq 0 ] && [ \"$(q o3/all.db 'select status, step from runs')\" = 'FINISHED|3000' ]"
check "its shard's folder is untouched by the resume" "[ \"$(q k/r.db 'select status from runs')\" = KILLED ] && [ \"$(python3 "$UG_SOURCE_ROOT/tests/ckpt_tool.py" step k/runs/$kid/checkpoint.bin)\" -lt 3000 ]"

# A shard beside OUT shares its runs/ folder: nothing to copy.
"$U" db merge s1/all.db s1/r.db > out.txt
check "a shard beside OUT: no copy, and it samples" "grep -q '^0 run folders copied' out.txt && \"$U\" --db s1/all.db sample $r1 -n 4 | cmp -s - <(\"$U\" --db s1/r.db sample $r1 -n 4)"

echo "merge_folders: $pass passed, $fail failed"
[ $fail -eq 0 ]

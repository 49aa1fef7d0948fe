#!/usr/bin/env bash
# test_run_queue.sh — experiments/paper/run-queue.sh on tiny specs: two workers share three specs and
# each run is made exactly once; SIGTERM to a worker leaves its run KILLED and the next launch resumes
# it to FINISHED; a run left RUNNING with a stale heartbeat (a database committed mid-run) is marked
# CRASHED and resumed; a re-launch over finished work starts nothing; a longer budget continues the
# FINISHED shorter run (--from; a list item SPEC@STEPS has its own budget), and starts from step 0
# when unigfn refuses that.
set -u
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cp "$UG_SOURCE_ROOT/experiments/paper/run-queue.sh" "$T/"
export UNIGFN="$UG_BUILD_ROOT/unigfn"
cd "$T"
. "$UG_SOURCE_ROOT/tests/shell_checks.sh"
# different seeds: a spec's name is not part of its run id, so four copies differing only in name
# would be one run
seed=10
for n in a b c d; do
  seed=$((seed + 1))
  sed "s/^name: runner-tiny/name: queue-$n/; s/^seed: 3\$/seed: $seed/" "$UG_SOURCE_ROOT/tests/specs/runner/tiny.yaml" > "$n.yaml"
done

# 1. Two workers, three specs: every run FINISHED, each experiment once.
./run-queue.sh --steps 60 a.yaml b.yaml c.yaml > w1.log 2>&1 &
./run-queue.sh --steps 60 a.yaml b.yaml c.yaml > w2.log 2>&1 &
wait
check "three runs" "[ $(q results.db 'select count(*) from runs') -eq 3 ]"
check "all FINISHED at step 60" "[ \"$(q results.db "select count(*) from runs where status='FINISHED' and step=60")\" = 3 ]"
check "one run per experiment" "[ $(q results.db 'select count(distinct experiment) from runs') -eq 3 ]"
check "both workers worked or one took all" "[ $(cat w1.log w2.log | grep -c '^run-queue: starting') -eq 3 ]"

# 2. A re-launch over finished work starts nothing.
./run-queue.sh --steps 60 a.yaml b.yaml c.yaml > w3.log 2>&1
check "re-launch starts nothing" "[ ! -s w3.log ]"

# 3. SIGTERM to the worker: KILLED with a checkpoint; the next launch resumes it.
./run-queue.sh --steps 600 d.yaml > w4.log 2>&1 &
wpid=$!
# wait for 10 logged windows (step 100): runs.step moves only with the 10 s heartbeat, too late on a
# quiet machine, where the whole run can end before one
end=$((SECONDS + 120))
while [ $SECONDS -lt $end ]; do
  n=$(q results.db "select count(*) from metrics m join runs r on r.id = m.run
                    where r.experiment = 'queue-d' and m.key = 'loss'" 2>/dev/null)
  [ "${n:-0}" -ge 10 ] && break
  sleep 0.05
done
kill -TERM $wpid
wait $wpid
check "worker TERM: run KILLED" "[ \"$(q results.db "select status from runs where experiment='queue-d'")\" = KILLED ]"
killed_at=$(q results.db "select step from runs where experiment='queue-d'")
check "killed mid-run" "[ $killed_at -gt 0 ] && [ $killed_at -lt 600 ]"

# 4. Pretend the database was copied while the run was RUNNING, an hour ago: gc marks it CRASHED and the
#    queue resumes it to the end.
python3 -c 'import sqlite3,sys; c=sqlite3.connect("results.db"); c.execute("update runs set status=\"RUNNING\", heartbeat=heartbeat-3600 where experiment=\"queue-d\""); c.commit()'
check "made stale RUNNING" "[ \"$(q results.db "select status from runs where experiment='queue-d'")\" = RUNNING ]"
./run-queue.sh --steps 600 d.yaml > w5.log 2>&1
check "stale RUNNING resumed" "grep -q '^run-queue: resuming d.yaml' w5.log"
check "resumed from its checkpoint" "grep -q 'resuming run .* at step $killed_at' logs/d-600.log"
check "FINISHED at 600" "[ \"$(q results.db "select status || ' ' || step from runs where experiment='queue-d'")\" = 'FINISHED 600' ]"
check "still one run of queue-d" "[ $(q results.db "select count(*) from runs where experiment='queue-d'") -eq 1 ]"

# 5. A longer budget (SPEC@STEPS, after the FINISHED 60-step item) continues the 60-step run of a.yaml
#    from its checkpoint.
./run-queue.sh --steps 60 a.yaml a.yaml@100 > w6.log 2>&1
a60=$(q results.db "select r.id from runs r join params p on p.run = r.id where r.experiment='queue-a' and p.key='train.steps' and p.value='60'")
check "longer budget starts from the shorter run" "grep -q \"^run-queue: starting a.yaml from $a60\" w6.log"
check "FINISHED at 100 with from_run" "[ \"$(q results.db "select r.status || ' ' || r.step || ' ' || p.value from runs r join params p on p.run = r.id where r.experiment='queue-a' and p.key='from_run'")\" = \"FINISHED 100 $a60@60\" ]"
# 6. b.yaml edited since its 60-step run (another seed): --from is refused and the run starts afresh.
sed -i "s/^seed: .*/seed: 99/" b.yaml
./run-queue.sh --steps 100 b.yaml > w7.log 2>&1
check "refused --from falls back to step 0" "grep -q '^run-queue: --from .* refused' w7.log && grep -q 'differs from this one in 1 key other than train.steps (seed: ' logs/b-100.log"
check "the fresh run FINISHED at 100 without from_run" "[ \"$(q results.db "select r.status || ' ' || r.step || ' ' || (select count(*) from params p where p.run = r.id and p.key = 'from_run') from runs r join params p on p.run = r.id where r.experiment='queue-b' and p.key='train.steps' and p.value='100'")\" = 'FINISHED 100 0' ]"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

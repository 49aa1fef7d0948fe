#!/usr/bin/env bash
# test_sweep_slurm.sh — `unigfn sweep --slurm` against a real single-node Slurm started here: munged,
# slurmctld and slurmd on localhost with a generated slurm.conf in a temp folder (no systemd needed).
# Checks: one array task per job, each writing its own shard; --slurm-wait merges them (and their run
# folders: a merged run samples) into --db; an
# explicit `db merge` of the shards gives the same rows and a second merge changes nothing; a re-launch
# submits nothing (FINISHED in --db, or in the shards alone). Exits 77 (meson's skip) with the exact
# reason when the daemons cannot run here.
set -u
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

UG=${UG_BUILD_ROOT:?run through meson (UG_BUILD_ROOT)}/unigfn
[[ -x $UG ]] || fail "$UG is not built"
[[ $(id -u) == 0 ]] || skip "slurmd has to run as root to start job steps, and this test runs as $(id -un)"
for b in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd; do
  [[ -x $b ]] || skip "$b is missing: install Debian's slurm-wlm (or slurmctld slurmd slurm-client) and munge"
done
for b in sbatch sinfo munge; do
  command -v $b >/dev/null || skip "$b is missing: install Debian's slurm-client and munge"
done

T=$(mktemp -d /tmp/ug-test-slurm-XXXXXX)
cleanup() {
  local pids=() end=$((SECONDS + 30))
  for p in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
    [[ -s $p ]] && pids+=("$(cat "$p")") && kill "${pids[-1]}" 2>/dev/null
  done
  # the daemons write into $T until they are gone: wait for that (with a deadline), not a fixed time
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [[ $SECONDS -lt $end ]]; do sleep 0.05; done
  done
  [[ -n ${UG_KEEP_TMP:-} ]] || rm -rf "$T"
}
trap cleanup EXIT

# ---- munge: a private key, socket and pid file ----
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log"
chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$T/munge/munge.key"
SOCK=$T/munge/munge.sock
/usr/sbin/munged --key-file="$T/munge/munge.key" --socket="$SOCK" --pid-file="$T/munge/munged.pid" \
  --log-file="$T/munge/munged.log" --seed-file="$T/munge/seed" --force \
  || skip "munged did not start: $(tail -n 3 "$T/munge/munged.log" 2>/dev/null | tr '\n' ' ')"
munge -S "$SOCK" -n | unmunge -S "$SOCK" >/dev/null 2>&1 \
  || skip "munge cannot encode/decode a credential on this machine: $(tail -n 3 "$T/munge/munged.log" | tr '\n' ' ')"

# ---- slurm.conf on two free ports ----
free_port() {
  local p
  for _ in $(seq 50); do
    p=$(( 20000 + RANDOM % 30000 ))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }
  done
  echo 0
}
CP=$(free_port); DP=$(free_port)
[[ $CP != 0 && $DP != 0 && $CP != "$DP" ]] || skip "no free TCP ports for slurmctld/slurmd on localhost"
export SLURM_CONF=$T/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=ugtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CP
SlurmdPort=$DP
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeHostname=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
/usr/sbin/slurmctld -c || skip "slurmctld did not start: $(tail -n 3 "$T/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
/usr/sbin/slurmd -N localhost || skip "slurmd did not start: $(tail -n 3 "$T/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
state=""
end=$((SECONDS + 60))  # a deadline in seconds: the daemons start slower on a busy machine
while [[ $SECONDS -lt $end ]]; do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
  [[ $state == idle* ]] && break
  sleep 0.2
done
[[ $state == idle* ]] || skip "the node did not become idle (state '$state'): slurmctld: $(tail -n 2 "$T/log/slurmctld.log" | tr '\n' ' ') slurmd: $(tail -n 2 "$T/log/slurmd.log" | tr '\n' ' ')"
echo "slurm: $(sinfo -h -o '%P %a %D %T %N' | head -n 1) on ports $CP/$DP"

# ---- a 4-job sweep as a job array ----
cat > "$T/spec.yaml" <<'SPEC'
name: sweep-slurm
seed: 0
dataset: {plugin: synthetic2d, data: checkerboard}
model: {plugin: binary_gfn, hidden: [8], log_z: false}
objective:
  - {plugin: kl_tb, updates: [forward]}
  - {plugin: tbc, updates: [backward]}
optim: {forward: {lr: 1.0e-3}, backward: {lr: 1.0e-4}}
train: {steps: 20, batch: 8, log_every: 5}
sweep:
  seed: 0:4
SPEC
out=$("$UG" --db "$T/main.db" sweep "$T/spec.yaml" --slurm --slurm-dir "$T/sw" --slurm-opt=--time=00:05:00 \
        --slurm-opt=--job-name=ugtest --slurm-wait 2>&1)
rc=$?
echo "$out"
[[ $rc == 0 ]] || fail "sweep --slurm exit $rc; slurmctld: $(tail -n 5 "$T/log/slurmctld.log")"
grep -q "4 array tasks (of 4 jobs)" <<<"$out" || fail "expected 4 array tasks"
grep -q "sweep: 4 of 4 tasks FINISHED; shards merged into" <<<"$out" || fail "not every task FINISHED"
grep -q '^#SBATCH --array=0-3$' "$T/sw/sweep.sbatch" || fail "array line: $(grep array "$T/sw/sweep.sbatch")"
grep -q '^#SBATCH --time=00:05:00$' "$T/sw/sweep.sbatch" || fail "--slurm-opt not in the script"
n_shards=$(ls "$T"/sw/shards/job-*.db | wc -l)
[[ $n_shards == 4 ]] || fail "expected 4 shards, found $n_shards"
for j in 0 1 2 3; do
  "$UG" --db "$T/sw/shards/job-$j.db" ls | grep -q FINISHED || fail "shard $j has no FINISHED run"
  [[ $("$UG" --db "$T/sw/shards/job-$j.db" ls | tail -n +2 | wc -l) == 1 ]] || fail "shard $j holds more than its run"
done

# ---- the run folders came with the rows: a merged run samples from --db ----
rid=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select id from runs").fetchone()[0])' \
  "$T/sw/shards/job-0.db")
"$UG" --db "$T/main.db" sample "$rid" -n 4 > "$T/s.txt" || fail "sample of merged run $rid from --db"
[[ $(wc -l < "$T/s.txt") == 4 ]] || fail "sample of merged run $rid: $(cat "$T/s.txt")"

# ---- the shards merged by hand: the same rows as --slurm-wait merged; twice changes nothing ----
m1=$("$UG" db merge "$T/merged.db" "$T"/sw/shards/job-*.db) || fail "db merge: $m1"
echo "$m1" | tail -n 1
grep -q "total: 4 added, 0 replaced, 0 unchanged" <<<"$m1" || fail "first merge: $m1"
m2=$("$UG" db merge "$T/merged.db" "$T"/sw/shards/job-*.db) || fail "db merge again: $m2"
echo "$m2" | tail -n 1
grep -q "total: 0 added, 0 replaced, 4 unchanged; 0 metric rows" <<<"$m2" || fail "second merge: $m2"
e1=$("$UG" --db "$T/main.db" export --where experiment=sweep-slurm --format csv | sort)
e2=$("$UG" --db "$T/merged.db" export --where experiment=sweep-slurm --format csv | sort)
n_rows=$(wc -l <<<"$e1")
[[ $n_rows -gt 4 && "$e1" == "$e2" ]] || fail "merged metric rows differ ($n_rows rows)"
echo "metric rows in both databases: $((n_rows - 1))"

# ---- re-launch: nothing to submit, from --db or from the shards alone ----
out=$("$UG" --db "$T/main.db" sweep "$T/spec.yaml" --slurm --slurm-dir "$T/sw" --slurm-wait 2>&1) || fail "re-launch: $out"
grep -q "all 4 jobs are FINISHED" <<<"$out" || fail "re-launch submitted: $out"
out=$("$UG" --db "$T/fresh.db" sweep "$T/spec.yaml" --slurm --slurm-dir "$T/sw" --slurm-wait 2>&1) || fail "re-launch 2: $out"
grep -q "all 4 jobs are FINISHED" <<<"$out" || fail "shards were not consulted: $out"
echo "PASS: 4 array tasks, 4 shards, merge idempotent, re-launch submits nothing"

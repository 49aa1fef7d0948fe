#!/usr/bin/env bash
# run-queue.sh — work through the §4.2 runs into results.db, one run at a time per worker; start it
# once per core. Each spec is claimed with flock, so concurrent workers never take the same run.
# A FINISHED run is skipped, a KILLED or CRASHED one continues from its checkpoint (unigfn resume),
# anything else starts: from the checkpoint of the longest FINISHED shorter run of the same experiment
# if there is one (unigfn run --from; the 1e5 runs continue the 1e4 runs, which are their first 1e4
# steps exactly), else from step 0. Stop a worker with Ctrl-C or SIGTERM: its run is checkpointed as
# KILLED and the next launch continues it.
#   experiments/paper/run-queue.sh [--steps N] [SPEC[@STEPS]...]
# A SPEC runs at --steps N (default 10000), SPEC@STEPS at its own budget. The default list is RESULTS.md's
# plan in order: the 14 specs and mlegfn-shared at 1e4, then {EB,MLE}-GFN on checkerboard and 2spirals
# at 1e5. Logs go to experiments/paper/logs/<spec>-<steps>.log. One thread per worker (threads=1).
set -uo pipefail
# The whole script is one { ... } block: bash parses it before running it, so editing this file
# while a worker runs cannot feed the worker half-read lines.
{
cd "$(dirname "$0")"
ug=${UNIGFN:-../../build/unigfn}  # UNIGFN: another build's CLI (the tests use it)
steps=10000
if [[ "${1:-}" == "--steps" ]]; then steps=$2; shift 2; fi
default_steps=$steps
specs=("$@")
if [[ ${#specs[@]} -eq 0 ]]; then
  for d in checkerboard 2spirals 8gaussians circles moons pinwheel swissroll; do
    specs+=("ebgfn-$d.yaml" "mlegfn-$d.yaml")
  done
  specs+=(mlegfn-shared-checkerboard.yaml)  # REPRODUCTION §3: measure the shared trunk too
  for d in checkerboard 2spirals; do specs+=("ebgfn-$d.yaml@100000" "mlegfn-$d.yaml@100000"); done
fi
mkdir -p logs .locks
stop=0
trap 'stop=1' INT TERM
# Runs one unigfn command in the background, forwarding INT/TERM to it; sets rc.
launch() {
  "$ug" "$@" --db results.db --plain >>"$log" 2>&1 &
  pid=$!
  trap 'stop=1; kill -TERM $pid 2>/dev/null' INT TERM
  wait $pid; rc=$?
  # wait returns early when a trapped signal arrives: wait again for the run's own checkpoint and exit
  while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done
  trap 'stop=1' INT TERM
}
for item in "${specs[@]}"; do
  [[ $stop == 1 ]] && break
  spec=${item%@*}
  steps=$default_steps; [[ $item == *@* ]] && steps=${item##*@}
  tag=$steps; [[ $steps == 10000 ]] && tag=1e4; [[ $steps == 100000 ]] && tag=1e5
  # threads=1 is part of the resolved spec (and so of the run id) of every committed run
  over=(threads=1); [[ $steps != 100000 ]] && over+=("train.steps=$steps")
  exec {lk}>".locks/${spec%.yaml}-$tag.lock"
  if ! flock -n "$lk"; then exec {lk}>&-; continue; fi
  name=$(sed -n 's/^name: *//p' "$spec" | head -1)
  # The newest run of this experiment at this budget, found by name and train.steps rather than by
  # the spec's run id: a plugin that gains an option (with a default) changes the resolved spec and so
  # the id, and earlier runs must still be continued, not started over.
  # Also the longest FINISHED run of it with fewer steps, to continue from.
  read -r id from < <(python3 - "$name" "$steps" <<'PY'
import sqlite3, sys
c = sqlite3.connect("results.db")
q = """select r.id from runs r join params p on p.run = r.id and p.key = 'train.steps'
       where r.experiment = ? and p.value = ? order by r.status = 'FINISHED' desc, r.created desc limit 1"""
qf = """select r.id from runs r join params p on p.run = r.id and p.key = 'train.steps'
        where r.experiment = ? and r.status = 'FINISHED' and cast(p.value as integer) < ?
        order by cast(p.value as integer) desc, r.created desc limit 1"""
try:
    row = c.execute(q, (sys.argv[1], sys.argv[2])).fetchone()
    frow = c.execute(qf, (sys.argv[1], int(sys.argv[2]))).fetchone()
except sqlite3.OperationalError:  # no database yet
    row = frow = None
print(row[0] if row else "-", frow[0] if frow else "-")
PY
)
  [[ ${id:-} == - ]] && id=""
  [[ ${from:-} == - ]] && from=""
  status=""
  [[ -n $id ]] && status=$("$ug" ls --db results.db | awk -v id="$id" '$1 == id {print $2}')
  if [[ $status == RUNNING ]]; then
    # RUNNING with its lock free: no worker here runs it. A copy of the database committed while it
    # ran, or a process that died: once its heartbeat is 30 min old (longer than any final evaluation,
    # which sends none) gc marks it CRASHED and it continues from its checkpoint.
    "$ug" gc --mark-crashed --stale 1800 --db results.db >/dev/null
    status=$("$ug" ls --db results.db | awk -v id="$id" '$1 == id {print $2}')
  fi
  log="logs/${spec%.yaml}-$tag.log"
  case $status in
    FINISHED|RUNNING) exec {lk}>&-; continue ;;
    KILLED|CRASHED) echo "run-queue: resuming $spec ($id)"; launch resume "$id" ;;
    *)
      if [[ -n $from ]]; then
        echo "run-queue: starting $spec from $from"
        n0=0; [[ -f $log ]] && n0=$(wc -c < "$log")  # a new log has no earlier bytes
        launch run "$spec" "${over[@]}" --from "$from"
        # Refused (a spec that changed since, say): nothing was written, so start from step 0.
        if [[ $rc == 1 && $stop == 0 ]] && tail -c +$((n0 + 1)) "$log" | grep -q '^unigfn: --from'; then
          echo "run-queue: --from $from refused (see $log), starting $spec from step 0"
          launch run "$spec" "${over[@]}"
        fi
      else
        echo "run-queue: starting $spec"
        launch run "$spec" "${over[@]}"
      fi ;;
  esac
  echo "run-queue: $spec exited $rc"
  exec {lk}>&-
done
exit 0
}

#!/usr/bin/env bash
# CI's cluster step: the sweep's job array submitted to a real (one-node) Slurm cluster.
#
# Usage, as root from anywhere: scripts/slurm/ci_cluster_test.sh
#
# Brings a cluster up with cluster.sh, builds the executables once before submitting, runs
# `sbatch --array=0-3 sweep.sbatch experiments/cluster.toml` and checks that the four shards
# cover the grid exactly once with results bit-identical to a single-machine sweep; cancels
# one task mid-shard, re-submits it and checks that it resumed; submits a task with a bad
# experiment path and checks its message and exit code; analyses the shards into a report;
# and checks that teardown left no Slurm or munge process. Prints each phase's time.
set -euo pipefail
cd "$(dirname "$0")/../.."

experiment=experiments/cluster.toml
shards=4
# Two one-CPU tasks at a time on the two-CPU node; the #SBATCH default (8) is for real nodes.
cpus_per_task=1
array_timeout=${ARRAY_TIMEOUT:-600}
daemons=(slurmctld slurmd slurmstepd slurmctld-wlm slurmd-wlm slurmstepd-wlm munged)
# Processes of those names (pgrep matches names of at most 15 characters, one at a time).
left_running() {
  local name found=1
  for name in "${daemons[@]}"; do pgrep -a -x "$name" && found=0; done
  return $found
}

if [[ ${1:-} != --inside ]]; then
  phase_started=$(date +%s.%N)
  elapsed() { awk -v since="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - since }'; }

  echo "-- build (once, before submission)"
  cargo build --release --workspace --bins
  echo "build: $(elapsed "$phase_started") s"
  echo "-- bring-up, array and checks on a one-node cluster"
  CLUSTER_STARTED=$(date +%s.%N) scripts/slurm/cluster.sh run -- "$0" --inside

  # Teardown is done when cluster.sh returns: no daemon or job step of it may be left.
  for _ in $(seq 20); do
    left_running >/dev/null || break
    sleep 0.25
  done
  if left_running; then
    echo "FAIL: Slurm or munge processes left after teardown"
    exit 1
  fi
  echo "teardown: no slurmctld, slurmd, slurmstepd or munged process left"
  echo "cluster step: $(elapsed "$phase_started") s in all"
  exit 0
fi

# ---- inside the cluster (SLURM_CONF set by cluster.sh) ----
elapsed() { awk -v since="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - since }'; }
echo "bring-up: $(elapsed "$CLUSTER_STARTED") s (install if needed, daemons, node idle)"

work=$(mktemp -d /tmp/cluster-ci.XXXXXX)
trap 'rm -rf "$work"' EXIT
export RESULTS_ROOT=$work/results
name=cluster
shard_dir() { echo "$RESULTS_ROOT/$name/shard-$1-of-$shards"; }

# Waits until none of the given job's tasks is pending or running, at most $2 seconds.
wait_job() {
  local deadline=$((SECONDS + $2))
  while [[ -n $(squeue -h -j "$1" -o %i 2>/dev/null) ]]; do
    if ((SECONDS >= deadline)); then
      echo "FAIL: job $1 still queued or running after $2 s"
      squeue -j "$1"
      exit 1
    fi
    sleep 0.5
  done
}
# The state and exit code of one task (JOB_TASK) as the controller reports them.
task_state() { scontrol show job "$1" | tr ' ' '\n' | grep -E '^(JobState|ExitCode)=' | paste -sd ' '; }

submit() { sbatch --parsable --cpus-per-task=$cpus_per_task --mem=1G --output="$work/slurm-%A_%a.out" "$@"; }

echo "-- expected grid and the single-machine reference"
for ((i = 0; i < shards; i++)); do
  target/release/sweep --config $experiment --list-runs --shard "$i/$shards" >"$work/expected-$i.txt"
done
target/release/sweep --config $experiment --list-runs >"$work/expected.txt"
echo "grid: $(wc -l <"$work/expected.txt") runs in $shards shards"
started=$(date +%s.%N)
target/release/sweep --config $experiment --out "$work/single" --threads 2 --quiet
echo "single-machine sweep: $(elapsed "$started") s"

echo "-- job array (sbatch --array=0-$((shards - 1)), one cancelled mid-shard)"
started=$(date +%s.%N)
job=$(submit --array=0-$((shards - 1)) scripts/slurm/sweep.sbatch $experiment)
echo "submitted job $job"
# Cancel the last task once its shard has recorded a run, before it finishes.
victim=$((shards - 1))
victim_runs=$(wc -l <"$work/expected-$victim.txt")
deadline=$((SECONDS + array_timeout))
until [[ -s $(shard_dir $victim)/runs.jsonl ]]; do
  ((SECONDS < deadline)) || { echo "FAIL: shard $victim recorded nothing in $array_timeout s"; exit 1; }
  sleep 0.1
done
scancel "${job}_$victim"
wait_job "$job" "$array_timeout"
echo "array wall time: $(elapsed "$started") s"
for ((i = 0; i < shards; i++)); do echo "task ${job}_$i: $(task_state "${job}_$i")"; done
recorded=$(grep -c . "$(shard_dir $victim)/runs.jsonl" || true)
echo "cancelled task ${job}_$victim had recorded $recorded of its $victim_runs runs"
if ((recorded >= victim_runs)); then
  echo "FAIL: the cancel landed after shard $victim finished; it checks nothing"
  exit 1
fi
task_state "${job}_$victim" | grep -q 'JobState=CANCELLED' || { echo "FAIL: task ${job}_$victim not cancelled"; exit 1; }

echo "-- re-submitting the cancelled task"
started=$(date +%s.%N)
rejob=$(SWEEP_SHARDS=$shards submit --array=$victim scripts/slurm/sweep.sbatch $experiment)
wait_job "$rejob" "$array_timeout"
echo "resubmitted task ${rejob}_$victim: $(task_state "${rejob}_$victim") in $(elapsed "$started") s"
task_state "${rejob}_$victim" | grep -q 'ExitCode=0:0' || { cat "$work"/slurm-"${rejob}"_*.out; exit 1; }
resumed=$(grep -o '([0-9]* already recorded)' "$work/slurm-${rejob}_$victim.out" | tr -dc 0-9)
echo "resume: $(paste -sd ' ' "$work/slurm-${rejob}_$victim.out")"
# A run cut off mid-write is not recorded, so the count may be one less than the lines seen.
if [[ -z $resumed ]] || ((resumed == 0 || resumed > recorded)); then
  echo "FAIL: the re-submitted shard did not resume from its runs.jsonl (${resumed:-?} already recorded)"
  exit 1
fi

echo "-- coverage and bit-identity"
expect=()
for ((i = 0; i < shards; i++)); do expect+=(--expect "$(shard_dir $i)=$work/expected-$i.txt"); done
python3 scripts/slurm/check_shards.py --sweep target/release/sweep --reference "$work/single" "${expect[@]}"

echo "-- a task with a bad experiment path"
badjob=$(submit --array=0 scripts/slurm/sweep.sbatch experiments/no-such-experiment.toml)
wait_job "$badjob" 60
state=$(task_state "${badjob}_0")
echo "task ${badjob}_0: $state"
echo "its output: $(cat "$work/slurm-${badjob}_0.out")"
grep -q "experiment file 'experiments/no-such-experiment.toml' not found" "$work/slurm-${badjob}_0.out" ||
  { echo "FAIL: no clear message in the task's output file"; exit 1; }
[[ $state == *JobState=FAILED* && $state != *ExitCode=0:0* ]] ||
  { echo "FAIL: scontrol does not report a failed task with a non-zero exit code"; exit 1; }

echo "-- analyze over the shards"
started=$(date +%s.%N)
inputs=()
for ((i = 0; i < shards; i++)); do inputs+=(--input "$(shard_dir $i)"); done
target/release/analyze "${inputs[@]}" --no-default-criterion --out "$work/report" >"$work/analyze.log" 2>&1 ||
  { cat "$work/analyze.log"; exit 1; }
test -s "$work/report/README.md"
echo "report: $(ls "$work/report" | wc -l) files in $(elapsed "$started") s"
echo "-- teardown"

#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, for trying the job array and for CI.
#
# Usage (as root; no systemd or cgroups needed):
#   scripts/slurm/cluster.sh run -- COMMAND [ARGS...]
#
# Installs Debian's slurmctld, slurmd, slurm-client and munge if they are missing, writes a
# slurm.conf for one node on 127.0.0.1 with this machine's CPUs and memory into a temporary
# directory, starts munged, slurmctld and slurmd in the background, waits (bounded) until
# `sinfo` shows the node idle, then runs COMMAND with SLURM_CONF exported so that sbatch,
# squeue, scancel and scontrol talk to this cluster. On exit, whatever COMMAND returned, it
# stops exactly the daemons it started and removes its directory; the exit status is
# COMMAND's. The daemons' logs are printed when bring-up fails.
#
# Environment: CLUSTER_UP_TIMEOUT (seconds to wait for the node, default 60).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

if [[ ${1:-} != run || ${2:-} != -- || $# -lt 3 ]]; then
  usage >&2
  exit 2
fi
shift 2

if [[ $(id -u) -ne 0 ]]; then
  echo "error: the one-node cluster runs its daemons as root; run this as root" >&2
  exit 2
fi

log() { echo "[cluster] $*" >&2; }

install_if_missing() {
  local missing=()
  for binary in slurmctld slurmd sbatch munged mungekey; do
    command -v "$binary" >/dev/null || PATH=$PATH:/usr/sbin command -v "$binary" >/dev/null || missing+=("$binary")
  done
  if ((${#missing[@]})); then
    log "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends \
      slurmctld slurmd slurm-client munge >/dev/null
  fi
}

install_if_missing
export PATH=$PATH:/usr/sbin

dir=$(mktemp -d /tmp/slurm-cluster.XXXXXX)
# munged wants its socket's directories searchable by everyone, its key directory private.
chmod 0755 "$dir"
pids=()

teardown() {
  local status=$?
  local started
  started=$(date +%s.%N)
  # Jobs still queued or running on this cluster are this cluster's own: cancel them while
  # the controller is up, so that no job step outlives slurmd.
  if ((${#pids[@]} >= 3)); then
    scancel --full --quiet --partition=local 2>/dev/null || true
    for _ in $(seq 100); do
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.1
    done
  fi
  # Reverse order of start: slurmd, slurmctld, munged.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
  log "teardown: $(awk -v since="$started" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f", now - since }') s, stopped ${#pids[@]} daemon(s)"
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
mkdir -p "$dir/munge" "$dir/run" "$dir/state" "$dir/spool" "$dir/log"
chmod 0700 "$dir/munge"
mungekey -c -k "$dir/munge/munge.key"
chmod 0400 "$dir/munge/munge.key"
socket=$dir/run/munge.socket

cat >"$dir/slurm.conf" <<EOF
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=node1 NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=local Nodes=node1 Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf

dump_logs() {
  for file in "$dir"/log/*; do
    [[ -f $file ]] || continue
    echo "---- $file" >&2
    tail -n 30 "$file" >&2
  done
}

munged -F --socket="$socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do [[ -S $socket ]] && break; sleep 0.1; done
if [[ ! -S $socket ]]; then
  log "error: munged did not create $socket"
  dump_logs
  exit 1
fi
# The daemons write their own log files (see slurm.conf); their terminal output repeats it.
slurmctld -D -i -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
slurmd -D -N node1 -f "$SLURM_CONF" -d "$(command -v slurmstepd)" >/dev/null 2>&1 &
pids+=($!)

timeout=${CLUSTER_UP_TIMEOUT:-60}
deadline=$((SECONDS + timeout))
until [[ $(sinfo -h -N -o '%T' 2>/dev/null) == idle ]]; do
  if ((SECONDS >= deadline)); then
    log "error: node not idle after ${timeout} s; sinfo says: $(sinfo -h -N -o '%T' 2>&1 || true)"
    dump_logs
    exit 1
  fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "error: a daemon exited during bring-up (pid $pid)"
      dump_logs
      exit 1
    fi
  done
  sleep 0.5
done
log "node1 idle: $cpus CPUs, ${memory_mb} MB, SLURM_CONF=$SLURM_CONF"

"$@"

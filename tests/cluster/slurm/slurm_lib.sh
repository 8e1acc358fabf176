# shellcheck shell=bash
# Shared part of the cluster tests (sourced by each test with DFL_HAVE_MPI as
# $1; ctest sets $DYNFILL and $DFL_SOURCE_DIR).
#
# Starts a private one-node Slurm for one test: munged, slurmctld and slurmd
# run in the foreground of background jobs of this shell, with every file
# (munge key and socket, slurm.conf, state, spool, logs) in a temporary
# folder and free loopback ports, so nothing under /etc is read or written
# and several tests (or engineers) can run side by side. The jobs are the
# project's own scripts, docker/slurm/*.sbatch, submitted unmodified with
# the CPU backend and 2 MPI ranks. On exit, whatever happened, the jobs are
# cancelled, any process left from them is killed by PID, the daemons are
# stopped by PID and the folder is removed (DFL_KEEP_WORK=1 keeps it).
#
# Packages: slurmctld, slurmd, slurm-client and munge are installed with
# apt-get when missing and the test runs as root (their installation writes
# /etc/munge/munge.key and /etc/slurm/plugstack.conf*, which these tests do
# not use); otherwise the test is skipped (exit 77), as it is when the
# daemons do not come up.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${DFL_SOURCE_DIR:-$(cd "$HERE/../../.." && pwd)}
# The distributed tests' tiny model, data maker and checkpoint comparison.
DIST=$SRC/tests/mpi/dist
PY=/usr/bin/python3
: "${DYNFILL:?set DYNFILL to the dynfill binary (ctest does)}"
DYNFILL=$(readlink -f "$DYNFILL")

skip() {
  echo "SKIP: $*"
  exit 77
}

if [ "${1:-ON}" != "ON" ]; then
  skip "dynfill was built without MPI"
fi
command -v mpirun >/dev/null || skip "no mpirun on PATH"

# A Slurm that runs this test (an outer allocation) must not leak into the
# private one: its job id, node list or configuration would be read by sbatch.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^SLURM_' || true)

dfl_slurm_packages() {
  local need=() p
  for p in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge; do
    command -v "${p%%:*}" >/dev/null || PATH=$PATH:/usr/sbin command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || skip "Slurm is not installed (${need[*]}) and installing it needs root"
  [ "${DFL_CLUSTER_INSTALL:-1}" = 1 ] || skip "Slurm is not installed (${need[*]}); DFL_CLUSTER_INSTALL=0"
  echo "cluster: installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
    >/dev/null 2>&1 || skip "could not install ${need[*]} with apt-get"
}
dfl_slurm_packages
export PATH=$PATH:/usr/sbin

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dfl-cluster.XXXXXX")
chmod 755 "$WORK" # munged wants its socket's folders searchable by all
SW=$WORK/slurm
mkdir -p "$SW/state" "$SW/spool" "$SW/log" "$WORK/tmp"
# Every job process carries this variable (sbatch exports the submitting
# environment), so cleanup can find the ones that outlive their job.
MARK="DFL_CLUSTER_TEST=$SW"
munged_pid="" ctld_pid="" slurmd_pid=""

# Stops a process by PID: TERM, then KILL after $2 seconds.
stop_pid() {
  local pid=$1 grace=$2 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; ++i)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# PIDs of processes started by this test's jobs (their environment has $MARK).
job_pids() {
  local e
  for e in /proc/[0-9]*/environ; do
    { tr '\0' '\n' <"$e"; } 2>/dev/null | grep -qxF "$MARK" && { e=${e#/proc/}; echo "${e%/environ}"; }
  done
  return 0
}

dump_logs() {
  local f
  for f in "$WORK"/job-*.out "$SW"/log/*; do
    [ -s "$f" ] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

cleanup() {
  local rc=$? i pids
  trap - EXIT
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    scancel --full --quiet --signal=KILL --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 300; ++i)); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  pids=$(job_pids)
  if [ -n "$pids" ]; then
    echo "cleanup: killing leftover job processes $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
  fi
  stop_pid "$slurmd_pid" 10
  stop_pid "$ctld_pid" 10
  stop_pid "$munged_pid" 5
  [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || dump_logs
  if [ "${DFL_KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  exit 1
}

free_ports() {
  "$PY" -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

# Starts munged, slurmctld and slurmd; one node "dflnode" with the
# machine's CPUs, one partition; skips the test when they do not come up.
slurm_start() {
  local i ctld_port slurmd_port
  head -c 1024 /dev/urandom >"$SW/munge.key"
  chmod 0400 "$SW/munge.key"
  munged -F --force --socket="$SW/munge.sock" --key-file="$SW/munge.key" --pid-file="$SW/munged.pid" \
    --seed-file="$SW/munged.seed" --log-file="$SW/log/munged.log" >>"$SW/log/munged.log" 2>&1 &
  munged_pid=$!
  for ((i = 0; i < 100; ++i)); do
    [ -S "$SW/munge.sock" ] && break
    kill -0 "$munged_pid" 2>/dev/null || { dump_logs; skip "munged did not start"; }
    sleep 0.1
  done
  [ -S "$SW/munge.sock" ] || { dump_logs; skip "munged created no socket in 10 s"; }
  read -r ctld_port slurmd_port < <(free_ports)
  local host
  host=$(hostname -s)
  cat >"$SW/slurm.conf" <<EOF
# One-node Slurm of a dynfill cluster test (tests/cluster/slurm/slurm_lib.sh)
ClusterName=dfltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SW/munge.sock
CredType=cred/munge
StateSaveLocation=$SW/state
SlurmdSpoolDir=$SW/spool
SlurmctldPidFile=$SW/slurmctld.pid
SlurmdPidFile=$SW/slurmd.pid
SlurmctldLogFile=$SW/log/slurmctld.log
SlurmdLogFile=$SW/log/slurmd.log
MailProg=/bin/true
TmpFS=$WORK/tmp
# no cgroups in a container: processes are tracked by parentage
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
# a rank gets this long between SIGTERM and SIGKILL to write its checkpoint
# (the tiny model's takes well under a second; sites use 30 s or more)
KillWait=10
# finished jobs stay visible to scontrol for the test's checks
MinJobAge=3600
SchedulerParameters=sched_interval=1
NodeName=dflnode NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=dfl Nodes=dflnode Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  export SLURM_CONF=$SW/slurm.conf
  slurmctld -D -f "$SLURM_CONF" >>"$SW/log/slurmctld.out" 2>&1 &
  ctld_pid=$!
  slurmd -D -f "$SLURM_CONF" -N dflnode >>"$SW/log/slurmd.out" 2>&1 &
  slurmd_pid=$!
  for ((i = 0; i < 300; ++i)); do
    case $(sinfo -h -n dflnode -o %t 2>/dev/null) in idle) break ;; esac
    kill -0 "$ctld_pid" 2>/dev/null || { dump_logs; skip "slurmctld exited at start"; }
    kill -0 "$slurmd_pid" 2>/dev/null || { dump_logs; skip "slurmd exited at start"; }
    sleep 0.1
  done
  [ "$(sinfo -h -n dflnode -o %t 2>/dev/null)" = idle ] || { dump_logs; skip "the Slurm node is not idle after 30 s"; }
  echo "slurm: one node, $(nproc) CPUs, controller on 127.0.0.1:$ctld_port ($SW)"
}

# The environment of the submitted jobs: dynfill from this build on PATH,
# the CPU backend, OpenMPI as root, one thread per rank.
job_env=(
  "$MARK"
  "PATH=$(dirname "$DYNFILL"):$PATH"
  "DFL_SET=--set train.backend=cpu"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
  OMP_NUM_THREADS=1
  # mpirun gives ranks this long after SIGTERM (train_1node.sbatch), like KillWait
  DFL_SIGKILL_TIMEOUT=10
  # OpenMPI's session folders and shared-memory segments (which a killed rank
  # leaves behind) go to the work folder, not /tmp and /dev/shm
  "TMPDIR=$WORK/tmp" "OMPI_MCA_btl_vader_backing_directory=$WORK/tmp"
)

# submit SCRIPT RUN_DIR [sbatch options --] [dynfill train options]: submits
# docker/slurm/SCRIPT from the source folder (as the README says: the
# scripts find their helpers in $SLURM_SUBMIT_DIR/docker/slurm) for 2 ranks
# of 1 CPU and no GPU, on tiny.ini and $WORK/data.h5. Prints the job id.
submit() {
  local script=$1 run=$2
  shift 2
  local opts=()
  if [[ " $* " == *" -- "* ]]; then
    while [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
  fi
  (cd "$SRC" && env "${job_env[@]}" "${DFL_JOB_ENV[@]}" sbatch --parsable --nodes=1 --ntasks-per-node=2 \
    --cpus-per-task=1 --gpus-per-node=0 --time=15 --output="$WORK/job-%j.out" "${opts[@]}" \
    "docker/slurm/$script" "${DFL_JOB_CONFIG:-$DIST/tiny.ini}" "$run" --quiet --data "$WORK/data.h5" "$@")
}
DFL_JOB_ENV=()

job_field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }

# wait_state JOB SECONDS STATE...: waits until the job is in one of STATEs.
wait_state() {
  local job=$1 secs=$2 i st
  shift 2
  for ((i = 0; i < secs * 5; ++i)); do
    st=$(job_field "$job" JobState)
    for s in "$@"; do [ "$st" = "$s" ] && return 0; done
    sleep 0.2
  done
  fail "job $job is $st after $secs s, expected $*"
}

# wait_steps RUN_DIR N SECONDS: waits until metrics.jsonl has N loss lines.
loss_lines() { grep -c '"loss"' "$1/metrics.jsonl" 2>/dev/null || true; }
wait_steps() {
  local i
  for ((i = 0; i < $3 * 10; ++i)); do
    [ "$(loss_lines "$1")" -ge "$2" ] 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$1: fewer than $2 training steps logged after $3 s"
}

# requeued JOB [FIELD=VALUE ...]: waits until Slurm has requeued the job and
# every process of its run has ended (state PENDING), then lifts the start
# delay that Slurm gives every requeued job (BeginTime = requeue + 121 s) so
# the test need not wait for it, applying the FIELD=VALUE updates too
# (e.g. TimeLimit=15). It waits 3 s first: slurmd revokes the credential of
# the ended run with a time in whole seconds, and a start within the same
# second is refused ("Job credential revoked") and fails the job.
requeued() {
  local job=$1 i
  shift
  for ((i = 0; i < 900; ++i)); do
    [ "$(job_field "$job" Restarts)" -ge 1 ] 2>/dev/null && [ "$(job_field "$job" JobState)" = PENDING ] && break
    sleep 0.2
  done
  [ "$(job_field "$job" Restarts)" -ge 1 ] 2>/dev/null || fail "job $job was not requeued"
  [ "$(job_field "$job" JobState)" = PENDING ] || fail "requeued job $job is $(job_field "$job" JobState), not PENDING"
  sleep 3
  scontrol update JobId="$job" StartTime=now "$@" || fail "could not release the requeued job $job"
}

compare() { "$PY" "$DIST/compare_ckpt.py" "$@"; }
# identical A B: every dataset and the training cursor of two checkpoints
# are bit-identical (weights, EMA, AdamW moments, step, data stream).
identical() { "$PY" "$HERE/same_ckpt.py" "$@"; }
ckpt_step() { "$PY" -c 'import sys, h5py; print(int(h5py.File(sys.argv[1], "r").attrs["step"]))' "$1"; }

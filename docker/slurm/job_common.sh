# Shared part of the dynfill sbatch scripts (sourced; not a job itself).
#
# Inputs (environment, all optional):
#   DFL_EXEC       prefix that runs a command in the container on every rank,
#                  e.g. "apptainer exec --nv --bind /scratch /images/dynfill.sif";
#                  empty: dynfill and docker/slurm/dynfill-rank.sh from the host
#   DFL_SET        extra --set overrides for dynfill train (default: the CUDA
#                  backend with the NCCL communicator)
#   NCCL_*         passed through; see docker/README.md for the ones that matter
# Provides: dfl_train_cmd (array: the per-rank command), dfl_launch (runs a
# launcher in the background, forwards time-limit USR1 and preemption TERM
# to it, waits, requeues the job after a time-limit stop).

: "${SLURM_JOB_ID:?run this through sbatch}"
if [ "$#" -lt 2 ]; then
  echo "usage: sbatch $0 CONFIG.ini RUN_DIR [dynfill train options, e.g. --set train.steps=200000]" >&2
  exit 2
fi
dfl_config=$1
dfl_run_dir=$2
shift 2
dfl_extra=("$@")

# One rank per GPU: the rank wrapper picks the GPU and the thread count.
if [ -n "${DFL_EXEC:-}" ]; then
  read -r -a dfl_exec <<<"$DFL_EXEC"
  dfl_wrapper=("${dfl_exec[@]}" dynfill-rank)
else
  dfl_wrapper=("$DFL_SLURM_DIR/dynfill-rank.sh")
fi

read -r -a dfl_set <<<"${DFL_SET---set train.backend=cuda --set dist.comm=nccl}"
mkdir -p "$dfl_run_dir"
if [ -f "$dfl_run_dir/ckpt.h5" ]; then
  # A requeued or resubmitted job continues from the last checkpoint; the
  # configuration comes from the checkpoint, overrides still apply.
  dfl_train_cmd=("${dfl_wrapper[@]}" dynfill train --resume --out "$dfl_run_dir" "${dfl_set[@]}" "${dfl_extra[@]}")
else
  dfl_train_cmd=("${dfl_wrapper[@]}" dynfill train --config "$dfl_config" --out "$dfl_run_dir" "${dfl_set[@]}"
                 "${dfl_extra[@]}")
fi

# NCCL: warnings only unless asked; everything else is NCCL's own choice
# (set NCCL_SOCKET_IFNAME / NCCL_IB_HCA in the submitting shell if its
# choice of interfaces is wrong on your cluster: sbatch exports them).
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}

dfl_time_limit=0
dfl_launcher=
dfl_on_usr1() {
  # --signal=B:USR1@T: the time limit is near. Every rank checkpoints at the
  # same step and exits 0 (mpirun and srun forward USR1 to the ranks).
  dfl_time_limit=1
  [ -n "$dfl_launcher" ] && kill -USR1 "$dfl_launcher" 2>/dev/null || true
}
dfl_on_term() {
  # Preemption or scancel: Slurm signals the ranks as well; pass it on in
  # case only this shell got it.
  [ -n "$dfl_launcher" ] && kill -TERM "$dfl_launcher" 2>/dev/null || true
}

dfl_launch() {
  trap dfl_on_usr1 USR1
  trap dfl_on_term TERM
  echo "dynfill job $SLURM_JOB_ID: $SLURM_JOB_NUM_NODES node(s), ${SLURM_NTASKS:-?} rank(s): $*"
  "$@" &
  dfl_launcher=$!
  local rc=0
  # `wait` returns early when a trapped signal arrives: wait again until the
  # launcher itself has exited.
  while :; do
    rc=0
    wait "$dfl_launcher" || rc=$?
    kill -0 "$dfl_launcher" 2>/dev/null || break
  done
  trap - USR1 TERM
  if [ "$rc" -eq 0 ] && [ "$dfl_time_limit" = 1 ]; then
    echo "dynfill job $SLURM_JOB_ID: checkpointed before the time limit; requeueing"
    scontrol requeue "$SLURM_JOB_ID"
  fi
  return "$rc"
}

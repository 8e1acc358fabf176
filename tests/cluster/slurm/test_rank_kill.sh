#!/usr/bin/env bash
# A rank of a Slurm job killed with SIGKILL (an OOM kill, a crashed node
# process): the job fails cleanly (its state is FAILED, no process of it is
# left) and the last periodic checkpoint (train.ckpt_every = 5) is intact:
# readable, at a multiple of 5 steps, with a consistent data cursor, and the
# same sbatch command submitted again resumes from it and completes.
# Both launchers: mpirun (train_1node.sbatch) and srun --kill-on-bad-exit
# (train_multinode.sbatch).
source "$(dirname "$0")/slurm_lib.sh"
slurm_start
"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
args=(--set train.batch=2 --set train.ckpt_every=5)

# rank_pid RANK: the PID of dynfill rank RANK of this test's running job
rank_pid() {
  local p
  for p in $(job_pids); do
    [ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$DYNFILL" ] || continue
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxE "(OMPI_COMM_WORLD_RANK|SLURM_PROCID)=$1"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

kill_rank() {
  local script=$1 run=$2 opts=("${@:3}") job pid i k
  job=$(submit "$script" "$run" "${opts[@]}" -- "${args[@]}" --set train.steps=100000000)
  wait_state "$job" 60 RUNNING
  wait_steps "$run" 12 120
  pid=$(rank_pid 1) || fail "job $job: no process of rank 1 found"
  echo "job $job ($script): kill -9 rank 1 (pid $pid) after $(loss_lines "$run") steps"
  kill -KILL "$pid"
  t0=$(date +%s)
  # mpirun stops the other rank with SIGTERM, then SIGKILL after
  # DFL_SIGKILL_TIMEOUT (10 s here); srun --kill-on-bad-exit kills it at once
  wait_state "$job" 60 FAILED COMPLETED CANCELLED
  [ "$(job_field "$job" JobState)" = FAILED ] || fail "job $job ended $(job_field "$job" JobState), expected FAILED"
  echo "job $job: $(job_field "$job" JobState) $(($(date +%s) - t0)) s after the kill, exit code $(job_field "$job" ExitCode)"
  for ((i = 0; i < 100; ++i)); do
    [ -z "$(job_pids)" ] && break
    sleep 0.2
  done
  [ -z "$(job_pids)" ] || fail "processes of the failed job $job are left: $(job_pids)"
  "$PY" - "$run/ckpt.h5" <<'PYEOF' || fail "$run: the last checkpoint is not intact"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    step, epoch, pos = int(f.attrs["step"]), int(f.attrs["data_epoch"]), int(f.attrs["data_position"])
    assert int(f.attrs["world_size"]) == 2
    assert step >= 5 and step % 5 == 0, step
    assert epoch * 18 + pos == 4 * step, (step, epoch, pos)
    for g in ("params", "ema", "adam_m", "adam_v"):
        assert len(f[g]) > 0 and all(np.all(np.isfinite(f[g][k][...])) for k in f[g]), g
print("intact checkpoint at step", step)
PYEOF
  k=$(ckpt_step "$run/ckpt.h5")
  job=$(submit "$script" "$run" "${opts[@]}" -- "${args[@]}" --set train.steps=$((k + 3)))
  wait_state "$job" 120 COMPLETED FAILED CANCELLED TIMEOUT
  [ "$(job_field "$job" JobState)" = COMPLETED ] || fail "resubmitted job $job ended $(job_field "$job" JobState)"
  grep -q -- "--resume" "$WORK/job-$job.out" || fail "the resubmitted job $job did not resume"
  compare "$run/ckpt.h5" "$run/ckpt.h5" 0 step=$((k + 3)) world_size=2 || fail "resumed step count"
}

kill_rank train_1node.sbatch "$WORK/mpirun"
echo "PASS: mpirun job with a rank killed by SIGKILL failed cleanly; its checkpoint resumed"
if srun --mpi=list 2>&1 | grep -q pmix; then
  kill_rank train_multinode.sbatch "$WORK/srun" --nodes=1
  echo "PASS: srun job with a rank killed by SIGKILL failed cleanly; its checkpoint resumed"
fi

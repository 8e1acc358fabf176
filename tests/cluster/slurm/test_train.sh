#!/usr/bin/env bash
# A Slurm job of docker/slurm/train_1node.sbatch (mpirun, 2 ranks x batch 2)
# trains to completion and its checkpoint equals a single-process run with
# the same global batch of 4 (relative error <= 1e-5, as
# tests/mpi/dist/test_equivalence.sh). The same job through
# train_multinode.sbatch (srun --mpi=pmix) ends bit-identical to it.
source "$(dirname "$0")/slurm_lib.sh"
slurm_start
steps=12

"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
"$DYNFILL" train --config "$DIST/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=4 \
  --set train.steps=$steps --out "$WORK/one" || fail "single-process run exited $?"

job=$(submit train_1node.sbatch "$WORK/mpirun" --set train.batch=2 --set train.steps=$steps)
wait_state "$job" 120 COMPLETED FAILED CANCELLED TIMEOUT
[ "$(job_field "$job" JobState)" = COMPLETED ] || fail "job $job (train_1node) ended $(job_field "$job" JobState)"
[ "$(job_field "$job" ExitCode)" = 0:0 ] || fail "job $job exit code $(job_field "$job" ExitCode)"
grep -q "2 rank(s)" "$WORK/job-$job.out" || fail "job $job did not report 2 ranks"
compare "$WORK/mpirun/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=$steps world_size=2 \
  || fail "2 ranks x batch 2 under Slurm (mpirun) differ from 1 process x batch 4"

if srun --mpi=list 2>&1 | grep -q pmix; then
  job=$(submit train_multinode.sbatch "$WORK/srun" --nodes=1 -- --set train.batch=2 --set train.steps=$steps)
  wait_state "$job" 120 COMPLETED FAILED CANCELLED TIMEOUT
  [ "$(job_field "$job" JobState)" = COMPLETED ] || fail "job $job (train_multinode) ended $(job_field "$job" JobState)"
  identical "$WORK/srun/ckpt.h5" "$WORK/mpirun/ckpt.h5" step=$steps world_size=2 \
    || fail "the srun --mpi=pmix job differs from the mpirun job"
else
  echo "note: this Slurm has no PMIx plugin; train_multinode.sbatch not run"
fi
echo "PASS: Slurm jobs (mpirun and srun --mpi=pmix, 2 ranks) equal one process with the same global batch"

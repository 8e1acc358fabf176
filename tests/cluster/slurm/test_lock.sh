#!/usr/bin/env bash
# A run directory belongs to one run, through Slurm: while a job of
# docker/slurm/train_1node.sbatch trains into RUN_DIR, a second job on the
# same RUN_DIR (a requeued or re-typed submission that starts while the old
# job is still alive; both submitted with --oversubscribe, so it starts at once on this one
# node) fails: exit 2 and a message naming the holder's pid and host, with
# the first job still running and its metrics in order. After the first job
# is stopped (SIGTERM: it checkpoints), the same submission resumes: the
# lock went with the job.
source "$(dirname "$0")/slurm_lib.sh"
slurm_start
"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
run=$WORK/run
args=(--set train.batch=2 --set train.steps=100000000)

a=$(submit train_1node.sbatch "$run" --oversubscribe -- "${args[@]}")
wait_state "$a" 60 RUNNING
wait_steps "$run" 5 120
b=$(submit train_1node.sbatch "$run" --oversubscribe -- "${args[@]}")
wait_state "$b" 120 FAILED COMPLETED CANCELLED TIMEOUT
[ "$(job_field "$b" JobState)" = FAILED ] || fail "second job $b ended $(job_field "$b" JobState), expected FAILED"
grep -q "in use by another training run (pid [0-9]* on host" "$WORK/job-$b.out" \
  || fail "second job $b: no message naming the holder: $(tail -5 "$WORK/job-$b.out")"
[ "$(job_field "$a" JobState)" = RUNNING ] || fail "first job $a is $(job_field "$a" JobState) after the second failed"
"$PY" - "$run/metrics.jsonl" <<'PYEOF' || fail "the first job's metrics are not in order"
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if '"loss"' in l]
assert steps and steps == sorted(steps) and len(set(steps)) == len(steps), steps
PYEOF
echo "job $b: refused while job $a holds $run ($(grep -o 'pid [0-9]* on host [^ ,)]*' "$WORK/job-$b.out" | head -1))"
scancel --full --signal=TERM "$a"
wait_state "$a" 120 COMPLETED FAILED CANCELLED TIMEOUT
k=$(ckpt_step "$run/ckpt.h5")
c=$(submit train_1node.sbatch "$run" -- --set train.batch=2 --set train.steps=$((k + 3)))
wait_state "$c" 120 COMPLETED FAILED CANCELLED TIMEOUT
[ "$(job_field "$c" JobState)" = COMPLETED ] || fail "resubmitted job $c ended $(job_field "$c" JobState)"
[ "$(ckpt_step "$run/ckpt.h5")" = $((k + 3)) ] || fail "job $c did not resume from step $k"
echo "PASS: a second job on a run directory in use is refused naming the holder; the lock is released with the job"

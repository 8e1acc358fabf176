#!/usr/bin/env bash
# A Slurm job of docker/slurm/train_1node.sbatch that runs inside the image
# (DFL_EXEC = `buildah run` of a working container of it; the job's mpirun,
# the rank wrapper and dynfill are the image's): 2 ranks train to completion
# and the weights equal one process of this build with the same global batch
# (relative error <= 1e-5: the image's binary is compiled separately).
# Skips (77) when buildah or the image (DFL_IMAGE, default
# localhost/dynfill:cpu, built by docker/test.sh) is not there.
source "$(dirname "$0")/slurm_lib.sh"
IMAGE=${DFL_IMAGE:-localhost/dynfill:cpu}
command -v buildah >/dev/null || skip "no buildah"
buildah inspect --type image "$IMAGE" >/dev/null 2>&1 || skip "no image $IMAGE (bash docker/test.sh builds it)"
ctr=$(buildah from --quiet --name "dfl-cluster-$$" "$IMAGE") || skip "buildah from $IMAGE failed"
# the working container goes too, and cleanup still sees the test's status
image_cleanup() {
  local rc=$?
  buildah rm "$ctr" >/dev/null 2>&1 || true
  set +e # (exit rc) must hand rc to cleanup, not end the shell under errexit
  (exit "$rc")
  cleanup
}
trap image_cleanup EXIT
slurm_start
steps=8

"$PY" "$DIST/make_data.py" "$WORK/data.h5" 18
"$DYNFILL" train --config "$DIST/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=4 \
  --set train.steps=$steps --out "$WORK/one" || fail "single-process run exited $?"
# the container runs as its user dynfill (uid 1000): the run folder is made
# writable for it; the work folder and the source tree (tiny.ini) are bound
# at the same paths
mkdir -m 0777 "$WORK/image"
chmod a+r "$WORK/data.h5"
# the config from the work folder: the checkout may be private to root (a
# mktemp -d clone is 0700), and the container's user could not read it there
cp "$DIST/tiny.ini" "$WORK/tiny.ini"
chmod a+r "$WORK/tiny.ini"
# shellcheck disable=SC2034 # read by submit() in slurm_lib.sh
DFL_JOB_CONFIG=$WORK/tiny.ini
# shellcheck disable=SC2034 # read by submit() in slurm_lib.sh
DFL_JOB_ENV=("DFL_EXEC=buildah run --isolation chroot -v $WORK:$WORK -v $SRC:$SRC:ro $ctr --")
job=$(submit train_1node.sbatch "$WORK/image" --set train.batch=2 --set train.steps=$steps)
wait_state "$job" 300 COMPLETED FAILED CANCELLED TIMEOUT
[ "$(job_field "$job" JobState)" = COMPLETED ] || fail "job $job (in $IMAGE) ended $(job_field "$job" JobState)"
grep -q "buildah run" "$WORK/job-$job.out" || fail "job $job did not launch through DFL_EXEC"
compare "$WORK/image/ckpt.h5" "$WORK/one/ckpt.h5" 1e-5 step=$steps world_size=2 \
  || fail "2 ranks in $IMAGE under Slurm differ from 1 process x batch 4"
echo "PASS: a Slurm job inside $IMAGE (2 ranks) equals one process with the same global batch"

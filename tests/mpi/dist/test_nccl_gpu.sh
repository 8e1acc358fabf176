#!/usr/bin/env bash
# The NCCL communicator on a GPU machine (label device; CI has no GPU and
# runs -LE device; tests/device/run.sh runs it where a GPU exists).
#  (1) world size 1: `dynfill bench allreduce --comm nccl` (every size is
#      checked element by element) and a CUDA training run with
#      dist.comm = nccl equals the same run with dist.comm = none;
#  (2) with 2+ GPUs: the same bench on 2 ranks, and 2 ranks x batch 2 equal
#      1 rank x batch 4 on the CUDA backend (relative error <= 1e-5), and
#      dist.comm = auto with the CUDA backend picks NCCL.
# Skips (77) without the CUDA backend or a GPU.
source "$(dirname "$0")/common.sh"

probe=$("$DYNFILL" bench allreduce --comm nccl --min 4 --max 4 --iters 1 --warmup 0 2>&1) || {
  echo "SKIP: NCCL path unavailable: $probe"
  exit 77
}
ngpu=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)

"$DYNFILL" bench allreduce --comm nccl --min 1K --max 64M --iters 5 --warmup 2 \
  || fail "bench allreduce --comm nccl (1 rank) exited $?"

make_data "$WORK/data.h5" 18
cuda=(--set train.backend=cuda --set train.precision=fp32 --set train.threads=0)
train --data "$WORK/data.h5" "${cuda[@]}" --set train.batch=4 --set dist.comm=nccl --out "$WORK/nccl" \
  || fail "CUDA run with dist.comm=nccl exited $?"
train --data "$WORK/data.h5" "${cuda[@]}" --set train.batch=4 --set dist.comm=none --out "$WORK/none" \
  || fail "CUDA run with dist.comm=none exited $?"
compare "$WORK/nccl/ckpt.h5" "$WORK/none/ckpt.h5" 0 step=6 world_size=1 \
  || fail "world size 1: dist.comm=nccl changed the weights"

if [ "$ngpu" -ge 2 ]; then
  mpi 2 "$DYNFILL" bench allreduce --comm nccl --min 1K --max 256M --iters 10 \
    || fail "bench allreduce --comm nccl (2 ranks) exited $?"
  # one GPU per rank through the rank wrapper of the Slurm scripts
  mpi 2 "$DFL_SOURCE_DIR/docker/slurm/dynfill-rank.sh" "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" "${cuda[@]}" \
    --set train.batch=2 --set dist.comm=nccl --out "$WORK/two" || fail "2-rank NCCL run exited $?"
  compare "$WORK/two/ckpt.h5" "$WORK/none/ckpt.h5" 1e-5 step=6 world_size=2 \
    || fail "2 GPUs x batch 2 differ from 1 GPU x batch 4"
  # dist.comm = auto with the CUDA backend on 2 ranks is NCCL (the log names the communicator)
  mpi 2 "$DFL_SOURCE_DIR/docker/slurm/dynfill-rank.sh" "$DYNFILL" train --config "$HERE/tiny.ini" --data "$WORK/data.h5" \
    "${cuda[@]}" --set train.batch=2 --set dist.comm=auto --out "$WORK/auto" 2>"$WORK/auto.log" || fail "2-rank auto run exited $?"
  grep -q "nccl" "$WORK/auto.log" || fail "dist.comm=auto with the CUDA backend did not use NCCL: $(cat "$WORK/auto.log")"
else
  echo "one GPU: the 2-rank part needs two"
fi
echo "PASS: NCCL communicator"

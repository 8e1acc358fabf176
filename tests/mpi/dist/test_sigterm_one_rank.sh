#!/usr/bin/env bash
# docs/design.md, "Distributed training": SIGTERM to ONE rank (rank 1, which writes nothing itself) of a
# 2-rank run stops both ranks at the same step: both exit 0 (mpirun's exit
# status), rank 0 writes a checkpoint at that step whose cursor matches it,
# and a 1-rank --resume loads it and continues. Then the same through
# mpirun, as a batch script forwards preemption: SIGUSR1 to the launcher.
source "$(dirname "$0")/common.sh"

make_data "$WORK/data.h5" 18
# Each rank records its pid, then becomes dynfill.
mpi_bg 2 sh -c 'echo $$ > "$1/pid.$OMPI_COMM_WORLD_RANK"; shift; exec "$@"' sh "$WORK" \
  "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
  --set train.steps=100000000 --out "$WORK/run"

# Wait for training to be under way: the first metrics line (log_every = 1).
for _ in $(seq 1 400); do
  if [ -s "$WORK/run/metrics.jsonl" ] && [ -s "$WORK/pid.1" ]; then break; fi
  if ! kill -0 "$launcher" 2>/dev/null; then fail "the 2-rank run ended before it was signalled"; fi
  sleep 0.1
done
[ -s "$WORK/run/metrics.jsonl" ] || { kill -TERM "$launcher"; fail "no metrics line after 40 s"; }
kill -TERM "$(cat "$WORK/pid.1")"

rc=0
wait "$launcher" || rc=$?
[ "$rc" -eq 0 ] || fail "mpirun exited $rc after SIGTERM to rank 1 (both ranks must exit 0)"
[ -f "$WORK/run/ckpt.h5" ] || fail "no checkpoint after SIGTERM"

step=$("$PY" - "$WORK/run/ckpt.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    step, epoch, pos = int(f.attrs["step"]), int(f.attrs["data_epoch"]), int(f.attrs["data_position"])
    assert int(f.attrs["world_size"]) == 2
    assert len(f["params"]) > 0 and len(f["adam_m"]) == len(f["params"])
# every step consumed a global batch of 4 from an 18-sample stream
assert 1 <= step < 100000000, step
assert epoch * 18 + pos == 4 * step, (step, epoch, pos)
print(step)
PYEOF
) || fail "checkpoint after SIGTERM is not consistent"
echo "stopped at step $step"

"$DYNFILL" train --resume --quiet --out "$WORK/run" --set train.steps=$((step + 2)) --set train.batch=4 \
  || fail "1-rank resume of the signalled run exited $?"
compare "$WORK/run/ckpt.h5" "$WORK/run/ckpt.h5" 0 step=$((step + 2)) world_size=1 || fail "resumed step count"
echo "PASS: SIGTERM to one rank stopped both at step $step with a loadable checkpoint"

# The launcher path the Slurm scripts use (docker/slurm): SIGUSR1 to mpirun
# is forwarded to every rank (OpenMPI forwards USR1 by default); all ranks
# checkpoint at the same step and mpirun exits 0.
mpi_bg 2 "$DYNFILL" train --config "$HERE/tiny.ini" --quiet --data "$WORK/data.h5" --set train.batch=2 \
  --set train.steps=100000000 --out "$WORK/usr1"
for _ in $(seq 1 400); do
  if [ -s "$WORK/usr1/metrics.jsonl" ]; then break; fi
  if ! kill -0 "$launcher" 2>/dev/null; then fail "the 2-rank run ended before it was signalled"; fi
  sleep 0.1
done
[ -s "$WORK/usr1/metrics.jsonl" ] || { kill -TERM "$launcher"; fail "no metrics line after 40 s"; }
kill -USR1 "$launcher"
rc=0
wait "$launcher" || rc=$?
[ "$rc" -eq 0 ] || fail "mpirun exited $rc after SIGUSR1"
"$PY" - "$WORK/usr1/ckpt.h5" <<'PYEOF' || fail "checkpoint after SIGUSR1 to mpirun is not consistent"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    step, epoch, pos = int(f.attrs["step"]), int(f.attrs["data_epoch"]), int(f.attrs["data_position"])
assert 1 <= step < 100000000 and epoch * 18 + pos == 4 * step, (step, epoch, pos)
print("SIGUSR1 to mpirun: stopped at step", step)
PYEOF
echo "PASS: SIGUSR1 to mpirun checkpointed and exited 0"

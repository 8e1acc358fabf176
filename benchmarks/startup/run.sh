#!/usr/bin/env bash
# Start-up of `dynfill train` on a 1 GB and a 20 GB dataset, 1 and 2 ranks:
# wall time of a 1-step run of a tiny model (start-up dominates), new binary
# (lazy open) against the parent commit's (full validation pass at open).
set -u
NEW=${NEW:?path of the dynfill binary to measure}
OLD=${OLD:?path of a dynfill binary that validates the whole file at open (before 2026-12-03)}
export DFL_PROGRESS=off OMP_NUM_THREADS=1
for gb in 1 20; do
  [ -f d$gb.h5 ] || TMPDIR=$PWD $NEW bench io --gb $gb --size 64 --seconds 0.1 --keep --json > mk$gb.json 2>&1
  f=$(ls -t $PWD/*.h5 | grep -v "^$PWD/d[0-9]*.h5" | head -1); [ -f d$gb.h5 ] || mv "$f" d$gb.h5
done
cat > tiny.ini <<INI
[model]
base = 8
mult = 1,2
nres = 1
[train]
steps = 1
batch = 8
ckpt_every = 0
val_every = 1000
INI
for round in 1 2 3; do
  for gb in 1 20; do
    for bin in NEW OLD; do
      for np in 1 2; do
        rm -rf run
        cmd=("${!bin}" train --config tiny.ini --data d$gb.h5 --out run --quiet)
        [ $np = 2 ] && cmd=(mpirun --allow-run-as-root --oversubscribe -np 2 "${cmd[@]}")
        s=$(date +%s.%N); "${cmd[@]}" >/dev/null 2>err.txt; rc=$?; e=$(date +%s.%N)
        echo "round=$round gb=$gb bin=$bin ranks=$np rc=$rc seconds=$(echo "$e - $s" | bc)"
      done
    done
  done
done

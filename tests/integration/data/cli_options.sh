#!/bin/bash
# The command-line conventions of every subcommand and benchmark
# (getopt_long, host/core/args.h): "--opt=value" and "--opt value" give the
# same result, repeated --set accumulate, -h/--help print the usage on
# stdout and exit 0; an unknown option, a missing value, a value given to a
# flag, an abbreviated name or a bad number exit 2 with one line
# "dynfill <cmd>: option --x: ..." and nothing written.
set -uo pipefail
: "${DYNFILL:?}"
PY=/usr/bin/python3
W=$(mktemp -d /tmp/dfl_cli_options.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} DFL_PROGRESS=off
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# run_ok NAME cmd...: exit 0 expected
run_ok() {
  local name=$1; shift
  "$@" > "$name.out" 2> "$name.err" || { bad "$name: exit $? for: $* ($(cat "$name.err"))"; return 1; }
}

# same_h5 A B: every dataset of A equals the one of B and neither has more
same_h5() {
  $PY - "$1" "$2" <<'PY' || bad "$1 and $2 differ"
import sys, h5py, numpy as np
def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = datasets(sys.argv[1]), datasets(sys.argv[2])
assert a and a.keys() == b.keys(), (sorted(a), sorted(b))
for k in a:
    assert a[k].shape == b[k].shape and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k
PY
}

# expect2 PATTERN cmd...: exit 2, one line on stderr holding PATTERN, nothing on stdout
expect2() {
  local want=$1; shift
  local rc=0
  "$@" > e.out 2> e.err || rc=$?
  if [ "$rc" -ne 2 ] || [ "$(grep -c . e.err)" -ne 1 ] || ! grep -qF -- "$want" e.err || [ -s e.out ]; then
    bad "'$*' -> rc $rc, stderr: $(cat e.err), stdout: $(head -c 200 e.out) (wanted exit 2 and one line with '$want')"
  fi
}

# --- data for the commands
run_ok gen1 "$DYNFILL" gen --kind advection --n 6 --size 16 --seed 3 --out t1.h5
run_ok gen2 "$DYNFILL" gen --kind=advection --n=6 --size=16 --seed=3 --out=t2.h5
run_ok gen3 "$DYNFILL" gen --seed=3 --out t3.h5 --size 16 --n=6 --kind advection
run_ok gen4 "$DYNFILL" gen --kind advection --n 6 --size 16 --seed 4 --out t4.h5
same_h5 t1.h5 t2.h5
same_h5 t1.h5 t3.h5
$PY -c "
import sys, h5py, numpy as np
assert not np.array_equal(h5py.File('t1.h5')['truth'][...], h5py.File('t4.h5')['truth'][...])" \
  || bad "--seed 4 gave the data of --seed 3: the comparison above would prove nothing"

run_ok mask1 "$DYNFILL" mask --in t1.h5 --pattern pixel:0.4 --seed 2 --out o1.h5
run_ok mask2 "$DYNFILL" mask --in=t1.h5 --pattern=pixel:0.4 --seed=2 --out=o2.h5
same_h5 o1.h5 o2.h5

$PY - <<'PY' || bad "writing raw.h5"
import h5py, numpy as np
u = np.random.default_rng(0).normal(size=(5, 8, 12)).astype(np.float32)
u[1, 2, 3] = np.nan
with h5py.File("raw.h5", "w") as f:
    f["u"] = u
    f["x"] = np.random.default_rng(1).normal(size=(3, 2, 16, 16)).astype(np.float32)
    f["t"] = np.array([0.1, 0.5, 0.9], np.float32)
PY
run_ok import1 "$DYNFILL" import --in raw.h5 --var u --time 1:4 --fill 99 --out i1.h5
run_ok import2 "$DYNFILL" import --in=raw.h5 --var=u --time=1:4 --fill=99 --out=i2.h5
same_h5 i1.h5 i2.h5

# --- a fresh model (bench train --save-ckpt), imputation, evaluation, plots, the raw network
run_ok bt1 "$DYNFILL" bench train --C 1 --size 16 --batch 1 --base 8 --mult 1 --nres 1 --steps 1 --warmup 0 \
  --seed 5 --save-ckpt c1.h5
run_ok bt2 "$DYNFILL" bench train --C=1 --size=16 --batch=1 --base=8 --mult=1 --nres=1 --steps=1 --warmup=0 \
  --seed=5 --save-ckpt=c2.h5
same_h5 c1.h5 c2.h5

run_ok imp1 "$DYNFILL" impute --ckpt c1.h5 --in o1.h5 --out p1.h5 -K 3 --seed 2 --batch 6 --quiet
run_ok imp2 "$DYNFILL" impute --ckpt=c1.h5 --in=o1.h5 --out=p2.h5 -K3 --seed=2 --batch=6 --quiet
run_ok imp3 "$DYNFILL" impute --quiet --K=3 --out p3.h5 --seed 2 --in o1.h5 --batch=6 --ckpt c1.h5
run_ok imp4 "$DYNFILL" impute --ckpt c1.h5 --in o1.h5 --out p4.h5 -K 3 --seed 9 --batch 6 --quiet
same_h5 p1.h5 p2.h5
same_h5 p1.h5 p3.h5
$PY -c "
import h5py, numpy as np
assert not np.array_equal(h5py.File('p1.h5')['std'][...], h5py.File('p4.h5')['std'][...])" \
  || bad "--seed 9 gave the ensemble of --seed 2: the comparison above would prove nothing"
run_ok mean1 "$DYNFILL" impute --method mean --in o1.h5 --out m1.h5
run_ok mean2 "$DYNFILL" impute --method=mean --in=o1.h5 --out=m2.h5
same_h5 m1.h5 m2.h5

run_ok eval1 "$DYNFILL" eval --pred p1.h5 --truth t1.h5 --json
run_ok eval2 "$DYNFILL" eval --json --pred=p1.h5 --truth=t1.h5
cmp -s eval1.out eval2.out || bad "eval: --pred p --truth t and --pred=p --truth=t print different results"
grep -q '"mse_missing"' eval1.out || bad "eval --json printed no JSON: $(cat eval1.out)"

run_ok plot1 "$DYNFILL" plot --pred p1.h5 --truth t1.h5 --index 2 --out f1.png
run_ok plot2 "$DYNFILL" plot --pred=p1.h5 --truth=t1.h5 --index=2 --out=f2.png
run_ok plot3 "$DYNFILL" plot --pred p1.h5 --truth t1.h5 --index 0 --out f3.png
cmp -s f1.png f2.png || bad "plot: --index 2 and --index=2 draw different figures"
cmp -s f1.png f3.png && bad "plot: --index 2 and --index 0 draw the same figure: the comparison above would prove nothing"

$PY - <<'PY' || bad "writing x.h5"
import h5py
with h5py.File("raw.h5", "r") as r, h5py.File("x.h5", "w") as f:
    f["input"] = r["x"][...]
    f["t"] = r["t"][...]
PY
run_ok fwd1 "$DYNFILL" forward --ckpt c1.h5 --in x.h5 --out y1.h5 --batch 2
run_ok fwd2 "$DYNFILL" forward --ckpt=c1.h5 --in=x.h5 --out=y2.h5 --batch=2
same_h5 y1.h5 y2.h5

# --- repeated --set accumulate, in both forms
run_ok cov1 "$DYNFILL" coverage --data o1.h5 --set method.strategy=block --set method.grid=2x2 --samples 20
run_ok cov2 "$DYNFILL" coverage --data=o1.h5 --set=method.strategy=block --set=method.grid=2x2 --samples=20
cmp -s cov1.out cov2.out || bad "coverage: the two forms print different results"
grep -q "strategy block (grid 2x2" cov1.out || bad "coverage: both --set not applied: $(grep strategy cov1.out)"
grep -q "20 context draws" cov1.out || bad "coverage: --samples 20 not applied"

cat > tiny.ini <<INI
[model]
base = 8
mult = 1
nres = 1

[train]
steps = 50
batch = 4
ckpt_every = 0
INI
run_ok train1 "$DYNFILL" train --config tiny.ini --data o1.h5 --out run1 --set train.steps=2 --set=train.batch=2 \
  --set train.log_every=1 --quiet
$PY - run1/config.ini <<'PY' || bad "train: repeated --set not all applied: $(cat run1/config.ini)"
import configparser, sys
c = configparser.ConfigParser()
c.read(sys.argv[1])
assert int(c["train"]["steps"]) == 2 and int(c["train"]["batch"]) == 2 and int(c["train"]["log_every"]) == 1
PY
[ -s run1/ckpt.h5 ] || bad "train: no checkpoint"

# --- positionals
run_ok info1 "$DYNFILL" info o1.h5
run_ok info2 "$DYNFILL" info -- o1.h5
cmp -s info1.out info2.out || bad "info FILE and info -- FILE differ"
grep -q "valid: yes" info1.out || bad "info: $(cat info1.out)"

# --- the benchmarks take both forms (their timings differ run to run: compare what the options set)
run_ok bio "$DYNFILL" bench io --gb=0.001 --seconds 0.1 --size=16 --channels 2 --batch=8 --json
grep -q '"batch":8,.*"c":2,"h":16,"w":16' bio.out || bad "bench io: options not honoured: $(cat bio.out)"
run_ok bk "$DYNFILL" bench kernels --backend=cpu --n 1 --size=8 --channels=8 --params 1024 --iters=1 --reps 1 --json
grep -q '"iters":1,"reps":1' bk.out || bad "bench kernels: options not honoured: $(head -1 bk.out)"
run_ok bi "$DYNFILL" bench impute --json --base=8 --mult 1 --nres=1 --size=12x8 --n=2 -K2 --reps=1 --warmup 0
grep -q '"K":2,' bi.out && grep -q '"H":12,"W":8' bi.out || bad "bench impute: options not honoured: $(cat bi.out)"

# --- help: stdout, exit 0, nothing on stderr
for cmd in gen mask import info coverage train impute eval plot forward bench "bench train" "bench impute" \
  "bench kernels" "bench allreduce" "bench io"; do
  for h in --help -h; do
    rc=0
    $DYNFILL $cmd $h > h.out 2> h.err || rc=$?
    [ "$rc" -eq 0 ] && grep -q "usage:" h.out && [ ! -s h.err ] || bad "$cmd $h: rc $rc, stdout $(head -c 80 h.out)"
  done
done
"$DYNFILL" train --help | grep -q -- "--force" || bad "train --help does not document --force"

# --- unknown options, named
for cmd in gen mask import info coverage train impute eval plot forward bench "bench train" "bench impute" \
  "bench kernels" "bench allreduce" "bench io"; do
  expect2 "dynfill $cmd: option --bogus: unknown option" $DYNFILL $cmd --bogus
  expect2 "dynfill $cmd: option --bogus: unknown option" $DYNFILL $cmd --bogus=1
done
expect2 "option -Z: unknown option" "$DYNFILL" impute -Z
expect2 "option -x: unknown option" "$DYNFILL" gen -x
# getopt_long would take a unique prefix; dynfill wants the whole name
expect2 "option --see: unknown option (did you mean --seed?)" "$DYNFILL" gen --kind advection --n 2 --see 3 --out a.h5
expect2 "option --conf: unknown option (did you mean --config?)" "$DYNFILL" train --conf tiny.ini --out r
expect2 "option --js: unknown option" "$DYNFILL" eval --pred p1.h5 --truth t1.h5 --js

# --- missing values, named, and nothing written
expect2 "dynfill gen: option --size: needs a value" "$DYNFILL" gen --kind advection --n 2 --out g.h5 --size
expect2 "dynfill mask: option --seed: needs a value" "$DYNFILL" mask --in t1.h5 --pattern pixel:0.5 --out mk.h5 --seed
expect2 "dynfill import: option --var: needs a value" "$DYNFILL" import --in raw.h5 --out im.h5 --var
expect2 "dynfill coverage: option --out: needs a value" "$DYNFILL" coverage --data o1.h5 --out
expect2 "dynfill train: option --set: needs a value" "$DYNFILL" train --config tiny.ini --data o1.h5 --out run2 --set
expect2 "dynfill impute: option -K: needs a value" "$DYNFILL" impute --method mean --in o1.h5 --out pk.h5 -K
expect2 "dynfill impute: option --K: needs a value" "$DYNFILL" impute --method mean --in o1.h5 --out pk.h5 --K
expect2 "dynfill eval: option --truth: needs a value" "$DYNFILL" eval --pred p1.h5 --truth
expect2 "dynfill plot: option --index: needs a value" "$DYNFILL" plot --pred p1.h5 --out pl.png --index
expect2 "dynfill forward: option --batch: needs a value" "$DYNFILL" forward --ckpt c1.h5 --in x.h5 --out fw.h5 --batch
expect2 "dynfill bench train: option --save-ckpt: needs a value" "$DYNFILL" bench train --steps 1 --save-ckpt
expect2 "dynfill bench impute: option --base: needs a value" "$DYNFILL" bench impute --base
expect2 "dynfill bench kernels: option --n: needs a value" "$DYNFILL" bench kernels --backend cpu --n
expect2 "dynfill bench allreduce: option --comm: needs a value" "$DYNFILL" bench allreduce --comm
expect2 "dynfill bench io: option --data: needs a value" "$DYNFILL" bench io --data
for f in g.h5 mk.h5 im.h5 run2 pk.h5 pl.png fw.h5; do [ -e "$f" ] && bad "$f written by a command with a bad option"; done

# --- values given to flags, bad numbers in both forms, stray positionals, --force with --resume
expect2 "dynfill eval: option --json: takes no value" "$DYNFILL" eval --pred p1.h5 --truth t1.h5 --json=yes
expect2 "dynfill mask: option --per-channel: takes no value" "$DYNFILL" mask --in t1.h5 --pattern pixel:0.5 \
  --out mk.h5 --per-channel=1
expect2 "dynfill gen: option --n: 'abc' is not an integer" "$DYNFILL" gen --kind advection --n abc --out g.h5
expect2 "dynfill gen: option --n: 'abc' is not an integer" "$DYNFILL" gen --kind advection --n=abc --out g.h5
expect2 "dynfill gen: option --spinup: 'x' is not a number" "$DYNFILL" gen --kind advection --n 2 --spinup=x --out g.h5
expect2 "dynfill impute: option -K: 'x' is not an integer" "$DYNFILL" impute --method mean --in o1.h5 --out pk.h5 -Kx
expect2 "dynfill plot: option --channel: -1 is outside" "$DYNFILL" plot --pred p1.h5 --out pl.png --channel=-1
expect2 "dynfill bench io: option --gb: 'lots' is not a number" "$DYNFILL" bench io --gb lots
expect2 "dynfill eval: unexpected argument 'stray.h5'" "$DYNFILL" eval --pred p1.h5 stray.h5 --truth t1.h5
expect2 "dynfill info: expected one file" "$DYNFILL" info o1.h5 o2.h5
expect2 "dynfill train: option --force" "$DYNFILL" train --resume --force --out run1
for f in g.h5 mk.h5 pk.h5 pl.png; do [ -e "$f" ] && bad "$f written by a command with a bad option"; done

[ $fail -eq 0 ] && echo "cli options: all checks passed"
exit $fail

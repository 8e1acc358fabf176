#!/bin/bash
# `dynfill eval --json` and `dynfill plot` on small files written with
# h5py: JSON values against numpy, PNG sizes from the PNG header, exit
# codes and messages for bad input.
set -u
: "${DYNFILL:?DYNFILL must point at the dynfill binary}"
PY=/usr/bin/python3
$PY -c "import h5py, numpy" 2>/dev/null || { echo "skip: no h5py"; exit 77; }
work=$(mktemp -d /tmp/dfl_eval_cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fail=1; fi; }

$PY - <<'PY'
import h5py, numpy as np, json
rng = np.random.default_rng(7)
N, C, H, W = 3, 2, 16, 16
lat = np.linspace(80, -80, H)  # descending, ERA5 style
t = rng.normal(size=(N, C, H, W)).astype('f4')
m = (rng.random((N, 1, H, W)) < 0.25).astype('u1')
p = (t + rng.normal(scale=0.3, size=t.shape)).astype('f4')
p = np.where(m.astype(bool), t, p).astype('f4')
s = (0.1 + 0.1 * rng.random(t.shape)).astype('f4') * (1 - m)
with h5py.File('truth.h5', 'w') as f:
    f['truth'] = t
    f.attrs['channels'] = ['u', 'v']
    f.attrs['periodic'] = 'x'
    f.attrs['source'] = 'test'
    f.attrs['lat'] = lat
with h5py.File('pred.h5', 'w') as f:
    f['pred'] = p; f['std'] = s; f['mask'] = m
    f.attrs['channels'] = ['u', 'v']; f.attrs['method'] = 'harmonic'
    f.attrs['lat'] = lat; f.attrs['lon'] = np.arange(W) * 360.0 / W
with h5py.File('pred_nostd.h5', 'w') as f:
    f['pred'] = p; f['mask'] = m
with h5py.File('pred_full.h5', 'w') as f:  # nothing missing: empty missing-entry sets
    f['pred'] = p; f['mask'] = np.ones_like(m)
with h5py.File('truth_nolat.h5', 'w') as f:
    f['truth'] = t
with h5py.File('truth_bad.h5', 'w') as f:
    f['truth'] = t[:, :, :, :15]
with h5py.File('truth_swapped.h5', 'w') as f:  # the right shape, the channels in another order
    f['truth'] = t
    f.attrs['channels'] = ['v', 'u']
with h5py.File('pred_nomask.h5', 'w') as f:
    f['pred'] = p
# expected values
e2 = (p.astype('f8') - t) ** 2
miss = np.broadcast_to(m == 0, e2.shape)
w = np.cos(np.deg2rad(lat)); w = w / w.mean()
Wt = np.broadcast_to(w[None, None, :, None], e2.shape)
exp = {'mse_missing': e2[miss].mean(), 'mse_all': e2.mean(),
       'lat_weighted_rmse_all': np.sqrt((Wt * e2).mean()),
       'lat_weighted_rmse_missing': np.sqrt((Wt * e2)[miss].sum() / Wt[miss].sum()),
       'per_channel_mse_missing': [e2[:, c][miss[:, c]].mean() for c in range(C)],
       'count_missing': int(miss.sum())}
json.dump(exp, open('expected.json', 'w'))
with open('metrics.jsonl', 'w') as f:
    for st in range(0, 1001, 20):
        d = {"step": st, "loss": 0.5 * np.exp(-st / 300) + 0.01, "lr": 1e-3, "samples_per_s": 30.5}
        if st % 200 == 0: d["val_loss"] = d["loss"] * 1.3
        f.write(json.dumps(d) + "\n")
PY
[ -f expected.json ] || { echo "FAIL: python setup"; exit 1; }

# --- eval --json against numpy
"$DYNFILL" eval --pred pred.h5 --truth truth.h5 --json > eval.json 2> eval.err
check '[ $? -eq 0 ]' "eval exit code ($(cat eval.err))"
$PY - <<'PY' || fail=1
import json, math
got = json.load(open('eval.json')); exp = json.load(open('expected.json'))
def close(a, b, tol=1e-6): return abs(a - b) <= tol * max(1.0, abs(b))
ok = True
for k in ['mse_missing', 'mse_all', 'lat_weighted_rmse_all', 'lat_weighted_rmse_missing']:
    if not close(got[k], exp[k]): print('FAIL: %s %r != %r' % (k, got[k], exp[k])); ok = False
if not close(got['rmse_missing'], math.sqrt(exp['mse_missing'])): print('FAIL: rmse_missing'); ok = False
if not close(got['rmse_all'], math.sqrt(exp['mse_all'])): print('FAIL: rmse_all'); ok = False
if got['count_missing'] != exp['count_missing']: print('FAIL: count_missing'); ok = False
pc = got['per_channel']
if [c['name'] for c in pc] != ['u', 'v']: print('FAIL: channel names', pc); ok = False
for c in range(2):
    if not close(pc[c]['mse_missing'], exp['per_channel_mse_missing'][c]): print('FAIL: per_channel', c); ok = False
    if 'lat_weighted_rmse_all' not in pc[c]: print('FAIL: per-channel lat rmse'); ok = False
if got['method'] != 'harmonic' or got['n'] != 3 or got['channels'] != 2: print('FAIL: header keys'); ok = False
raise SystemExit(0 if ok else 1)
PY

# without latitudes: no lat_weighted keys
"$DYNFILL" eval --pred pred_nostd.h5 --truth truth_nolat.h5 --json > nolat.json
check '[ $? -eq 0 ]' "eval without lat"
check "$PY -c \"import json,sys; d=json.load(open('nolat.json')); sys.exit('lat_weighted_rmse_all' in d or d['lat_weighted'])\"" "no lat keys without lat"

# nothing missing: the missing-entry scores are null (JSON has no NaN); every
# output is one line that a strict parser reads
"$DYNFILL" eval --pred pred_full.h5 --truth truth_nolat.h5 --json > full.json
check '[ $? -eq 0 ]' "eval with nothing missing"
$PY - <<'PY' || fail=1
import json
def strict(name):
    text = open(name).read()
    assert text.endswith('\n') and text.count('\n') == 1, 'FAIL: %s is not one line' % name
    def constant(c): raise ValueError('FAIL: %s holds %s' % (name, c))
    return json.loads(text, parse_constant=constant)
strict('eval.json'); strict('nolat.json')
d = strict('full.json')
assert d['count_missing'] == 0 and d['mse_missing'] is None and d['rmse_missing'] is None, 'FAIL: %r' % d
assert all(c['mse_missing'] is None and c['count_missing'] == 0 for c in d['per_channel']), 'FAIL: %r' % d
assert d['mse_all'] > 0, 'FAIL: %r' % d
PY

# text table
"$DYNFILL" eval --pred pred.h5 --truth truth.h5 > table.txt
check 'grep -q "^overall" table.txt && grep -q "^u " table.txt' "text table rows"

# --- the spread-skill interval: runs of the truth's gen_samples_per_run drawn whole, --samples-per-run
# overriding; the largest sample's share against numpy
$PY - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(3)
N, H, W = 40, 8, 8
t = np.zeros((N, 1, H, W), 'f4')
# runs of 10 samples share one error scale (one trajectory each): correlated within a run
scale = np.repeat(rng.uniform(0.2, 2.0, N // 10), 10)[:, None, None, None]
p = (scale * rng.normal(size=t.shape)).astype('f4')
for name, spr in (('truth_runs.h5', 10), ('truth_one.h5', None)):
    with h5py.File(name, 'w') as f:
        f['truth'] = t
        if spr: f.attrs['gen_samples_per_run'] = spr
with h5py.File('pred_runs.h5', 'w') as f:
    f['pred'] = p; f['std'] = np.ones_like(p); f['mask'] = np.zeros((N, 1, H, W), 'u1')
se = (p.astype('f8') ** 2).sum(axis=(1, 2, 3))
open('share.txt', 'w').write('%.9g' % (se.max() / se.sum()))
PY
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_runs.h5 --json > runs.json
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_one.h5 --json > one.json
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_runs.h5 --json --samples-per-run 1 > runs1.json
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_one.h5 --json --samples-per-run 10 > one10.json
$PY - <<'PY' || fail=1
import json
r, o, r1, o10 = (json.load(open(f)) for f in ('runs.json', 'one.json', 'runs1.json', 'one10.json'))
assert (r['samples_per_run'], o['samples_per_run'], r1['samples_per_run'], o10['samples_per_run']) == (10, 1, 1, 10), 'FAIL: runs'
w = lambda d: d['spread_skill_p95_missing'] - d['spread_skill_p05_missing']
assert r['spread_skill_p05_missing'] < r['spread_skill_missing'] < r['spread_skill_p95_missing'], 'FAIL: %r' % r
assert w(r) > 1.5 * w(o), 'FAIL: whole runs of correlated samples should widen the interval: %g %g' % (w(r), w(o))
assert w(r1) == w(o) and w(o10) == w(r), 'FAIL: --samples-per-run overrides the attribute'
share = float(open('share.txt').read())
assert abs(r['largest_sample_share_missing'] - share) < 1e-6 * share, 'FAIL: share %r %r' % (r['largest_sample_share_missing'], share)
PY
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_runs.h5 > runs.txt
check 'grep -q "bootstrap interval over runs of 10 sample(s)" runs.txt && grep -q "ss_p05" runs.txt' "text: the interval's runs"
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_runs.h5 --samples-per-run 0 > /dev/null 2> spr.err; code=$?
check '[ $code -eq 2 ] && grep -q -- "--samples-per-run" spr.err' "--samples-per-run 0: exit 2 ($code: $(cat spr.err))"
$PY -c "
import h5py; f = h5py.File('truth_runs.h5', 'a'); f.attrs['gen_samples_per_run'] = 0"
"$DYNFILL" eval --pred pred_runs.h5 --truth truth_runs.h5 > /dev/null 2> spr0.err; code=$?
check '[ $code -eq 2 ] && grep -q "truth_runs.h5: attribute gen_samples_per_run 0" spr0.err' "gen_samples_per_run 0: exit 2 ($code: $(cat spr0.err))"

# --- bad input: exit 2, one message naming file and dataset
"$DYNFILL" eval --pred pred.h5 --truth truth_bad.h5 > /dev/null 2> bad.err; code=$?
check '[ $code -eq 2 ] && grep -q "truth_bad.h5" bad.err && grep -q "/truth" bad.err && [ $(wc -l < bad.err) -eq 1 ]' "shape mismatch exit 2 ($code: $(cat bad.err))"
"$DYNFILL" eval --pred pred_nomask.h5 --truth truth.h5 > /dev/null 2> bad2.err; code=$?
check '[ $code -eq 2 ] && grep -q "pred_nomask.h5: dataset /mask is missing" bad2.err' "missing /mask exit 2 ($code: $(cat bad2.err))"
"$DYNFILL" eval --pred pred.h5 --truth truth_swapped.h5 > swapped.out 2> swapped.err; code=$?
check '[ $code -eq 2 ] && grep -q "truth_swapped.h5: attribute channels names channel 0 .v., but pred.h5 names it .u." swapped.err && [ $(wc -l < swapped.err) -eq 1 ] && [ ! -s swapped.out ]' "channel names differ: exit 2 ($code: $(cat swapped.err))"
"$DYNFILL" eval --pred pred.h5 > /dev/null 2> bad3.err; code=$?
check '[ $code -eq 2 ]' "missing --truth exit 2"
"$DYNFILL" eval --help > help.txt; code=$?
check '[ $code -eq 0 ] && grep -q -- "--json" help.txt' "eval --help"

# --- plot: PNG files with the expected pixel size
png_size() { $PY -c "
import struct, sys
b = open(sys.argv[1], 'rb').read(24)
assert b[:8] == b'\x89PNG\r\n\x1a\n' and b[12:16] == b'IHDR', 'not a PNG'
print('%dx%d' % struct.unpack('>II', b[16:24]))" "$1"; }

"$DYNFILL" plot --pred pred.h5 --truth truth.h5 --index 2 --channel 1 --out fig.png > plot.out; code=$?
check '[ $code -eq 0 ] && [ -s fig.png ]' "plot fields exit $code"
# 16×16 at 20× = 320 px panels: 5 panels (with /std) 1744×471, 4 without 1396×471
check '[ "$(png_size fig.png)" = "1744x471" ]' "fig.png size $(png_size fig.png)"
check 'grep -q "wrote fig.png (1744x471)" plot.out' "plot prints the size"
"$DYNFILL" plot --pred pred_nostd.h5 --truth truth_nolat.h5 --out fig4.png > /dev/null
check '[ "$(png_size fig4.png)" = "1396x471" ]' "fig4.png size $(png_size fig4.png)"
"$DYNFILL" plot --metrics metrics.jsonl --out loss.png > /dev/null; code=$?
check '[ $code -eq 0 ] && [ "$(png_size loss.png)" = "960x560" ]' "loss.png ($code) $(png_size loss.png 2>&1)"
mkdir -p run && cp metrics.jsonl run/
"$DYNFILL" plot --metrics run --out loss2.png > /dev/null
check 'cmp -s loss.png loss2.png || [ "$(png_size loss2.png)" = "960x560" ]' "plot --metrics RUN_DIR"

"$DYNFILL" plot --pred pred.h5 --truth truth.h5 --index 3 --out bad.png 2> badplot.err; code=$?
check '[ $code -eq 2 ] && grep -q -- "--index 3" badplot.err && [ ! -e bad.png ]' "plot bad index exit 2"
"$DYNFILL" plot --pred pred.h5 --out /nonexistent-dir/x.png 2> badout.err; code=$?
check '[ $code -eq 2 ] && grep -q "/nonexistent-dir/x.png" badout.err' "plot unwritable out exit 2"
"$DYNFILL" plot --metrics missing.jsonl --out l.png 2> badm.err; code=$?
check '[ $code -eq 2 ] && grep -q "missing.jsonl" badm.err' "plot missing metrics exit 2"
printf '{"step": 0, "loss": 1.0}\n{"step": 1, "loss": NaN}\n{"step": 2, "loss": 0.5}\n' > badline.jsonl
"$DYNFILL" plot --metrics badline.jsonl --out bl.png 2> badline.err; code=$?
check '[ $code -eq 2 ] && grep -q "badline.jsonl: line 2" badline.err && [ $(wc -l < badline.err) -eq 1 ]' \
  "plot malformed metrics line exit 2 ($code: $(cat badline.err))"
check '[ ! -e bl.png ]' "plot wrote a figure from a malformed metrics file"

[ $fail -eq 0 ] && echo "eval_cli_integration: all checks passed"
exit $fail

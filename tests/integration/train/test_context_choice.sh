#!/usr/bin/env bash
# Contexts at imputation (docs/design.md): a model trained on empirical
# contexts (swath masks) imputes with the contexts it trained on (--context
# trained), with pixel contexts (--context pixel[:RATIO]), with the rule
# that scores better in --calibrate (--context auto), or by default with
# the contexts `train` calibrated, chosen as auto chooses (infer.context =
# auto) or named (infer.context = pixel). Checked: train logs its choice
# and stores it (calib_context_ratio), and a plain impute writes exactly
# what the explicit --context run of that rule writes; pixel
# contexts change the prediction and are recorded in /pred's method
# attribute; --calibrate with pixel contexts hides what pixel contexts
# query (other entries than the trained rule's); auto's two calibrations
# are those of the explicit runs (--calibrate, then --calibrate --context
# pixel) line for line, and it scores both rules on one third set of
# hidden entries (as many for each, other than either calibration's);
# auto writes exactly what the explicit run of the rule it reports
# writes, and keeps a block-trained model's contexts; bad rules and
# combinations exit 2, name --context and write nothing.
source "$(dirname "$0")/common.sh"
make_data 64 16 swath:3:0.4
write_tiny_config 200
sed -i 's/^strategy = pixel/strategy = empirical/' tiny.ini
"$DYNFILL" train --config tiny.ini --out run 2> err.txt || { cat err.txt; fail "train failed"; }
grep -q "train: context choice: hidden-entry CRPS" err.txt || { cat err.txt; fail "train logged no context choice"; }
train_chosen=$(sed -n 's/.*train: context choice: .*imputing with \([a-z]*\) contexts.*/\1/p' err.txt)
stored=$(h5attr run/ckpt.h5 calib_context_ratio 2> /dev/null || echo none)
echo "train chose $train_chosen contexts (calib_context_ratio $stored)"
case $train_chosen/$stored in
  pixel/0.8 | empirical/none) ;;
  *) fail "train chose '$train_chosen' contexts and stored calib_context_ratio $stored" ;;
esac
"$DYNFILL" gen --kind advection --n 24 --size 16 --seed 5 --out test_truth.h5 >/dev/null 2>&1
"$DYNFILL" mask --in test_truth.h5 --pattern swath:3:0.4 --seed 6 --out test.h5 >/dev/null 2>&1
run() { # run NAME ARGS...: impute test.h5 into NAME.h5, the log in NAME.txt
  local name=$1
  shift
  "$DYNFILL" impute --ckpt run/ckpt.h5 --in test.h5 --out "$name.h5" -K 4 "$@" 2> "$name.txt" ||
    { cat "$name.txt"; fail "impute $* failed"; }
}
run trained --context trained --raw-pred
run pixel --context pixel:0.7 --raw-pred
run plain --raw-pred # the checkpoint's rule
if [ "$train_chosen" = pixel ]; then run ckpt_rule --context pixel --raw-pred; else cp trained.h5 ckpt_rule.h5; fi
grep -q "context pixel without --calibrate" pixel.txt || { cat pixel.txt; fail "no warning for pixel contexts"; }
run trained_cal --calibrate --context trained
run pixel_cal --calibrate --context pixel
run auto_cal --calibrate --context auto
grep -q "impute: context choice: hidden-entry CRPS" auto_cal.txt || { cat auto_cal.txt; fail "no choice line"; }
chosen=$(sed -n 's/.*impute: context choice: .*imputing with \([a-z]*\) contexts.*/\1/p' auto_cal.txt)
[ "$chosen" = empirical ] || [ "$chosen" = pixel ] || { cat auto_cal.txt; fail "auto chose '$chosen'"; }
echo "auto chose $chosen contexts: $(grep -- 'context choice: hidden-entry' auto_cal.txt | sed 's/.*choice: //')"
# the calibrations' figures (hidden entries, spread-skill, spline weights) line by line
figures() { grep -E "impute: (spread calibration|spline correction), channel" "$1" | sed 's/^.*impute: /impute: /'; }
figures trained_cal.txt > f_trained.txt
figures pixel_cal.txt > f_pixel.txt
figures auto_cal.txt > f_auto.txt
n=$(wc -l < f_trained.txt)
head -n "$n" f_auto.txt | cmp -s - f_trained.txt ||
  { diff <(head -n "$n" f_auto.txt) f_trained.txt; fail "auto's first calibration is not the trained run's"; }
tail -n +"$((n + 1))" f_auto.txt | cmp -s - f_pixel.txt ||
  { diff <(tail -n +"$((n + 1))" f_auto.txt) f_pixel.txt; fail "auto's second calibration is not the pixel run's"; }
count() { sed -n 's/.*: \([0-9]*\) hidden entries of.*/\1/p' "$@"; }
t=$(count f_trained.txt) p=$(count f_pixel.txt)
read -r st sp < <(sed -n 's/.*choice: hidden-entry CRPS .*, \([0-9]*\) entries) with .*, \([0-9]*\) entries) with pixel.*/\1 \2/p' auto_cal.txt)
echo "hidden entries: trained rule $t, pixel contexts $p; scored on $st (trained contexts) and $sp (pixel contexts)"
[ "$t" != "$p" ] || fail "--context pixel --calibrate hid as many entries as the trained rule ($t)"
[ -n "$st" ] && [ "$st" = "$sp" ] || fail "auto scored the two rules on $st and $sp entries"
[ "$st" != "$t" ] && [ "$st" != "$p" ] || fail "auto scored on as many entries ($st) as a calibration hid ($t, $p)"
[ "$chosen" = empirical ] && same=trained_cal || same=pixel_cal
$PY - "$same" "$chosen" "$train_chosen" <<'PY'
import sys, h5py, numpy as np
same, chosen, train_chosen = sys.argv[1], sys.argv[2], sys.argv[3]
attr = lambda f: (lambda v: v.decode() if isinstance(v, bytes) else str(v))(h5py.File(f, "r").attrs["method"])
for k in ("pred", "std"):
    a, b = h5py.File("auto_cal.h5", "r")[k][:], h5py.File(same + ".h5", "r")[k][:]
    assert np.array_equal(a, b), (k, float(np.abs(a - b).max()))
    a, b = h5py.File("plain.h5", "r")[k][:], h5py.File("ckpt_rule.h5", "r")[k][:]
    assert np.array_equal(a, b), ("plain against the checkpoint's rule", k, float(np.abs(a - b).max()))
assert ("context=pixel:0.8" in attr("plain.h5")) == (train_chosen == "pixel"), attr("plain.h5")
t, p = h5py.File("trained.h5", "r")["pred"][:], h5py.File("pixel.h5", "r")["pred"][:]
m = h5py.File("test.h5", "r")["mask"][:] == 0
print("pixel:0.7 against trained contexts: largest change %.3g on the missing entries" % np.abs(t - p)[m].max())
assert np.abs(t - p)[m].max() > 1e-4
assert "context=pixel:0.7" in attr("pixel.h5"), attr("pixel.h5")
assert "context=" not in attr("trained.h5"), attr("trained.h5")
assert ("context=pixel:0.8" if chosen == "pixel" else "context=empirical") in attr("auto_cal.h5"), attr("auto_cal.h5")
PY
# a block-trained model: offered no choice (auto keeps the block contexts), but pixel contexts by name
mkdir -p block && (
  cd block || exit 1
  make_data 64 16 block:4x4:3
  write_tiny_config 200
  sed -i 's/^strategy = pixel/strategy = block/' tiny.ini
  # infer.context = pixel: train calibrates pixel contexts alone and impute draws them by default
  "$DYNFILL" train --config tiny.ini --set infer.context=pixel --out run 2> err.txt ||
    { cat err.txt; fail "block train failed"; }
  ! grep -q "context choice" err.txt || { cat err.txt; fail "infer.context = pixel: train chose"; }
  [ "$(h5attr run/ckpt.h5 calib_context_ratio)" = 0.8 ] || fail "infer.context = pixel: calib_context_ratio"
  for rule in "" "--context pixel" "--context trained"; do
    # shellcheck disable=SC2086
    "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out "plain${rule#--context }.h5" -K 2 $rule 2> plain.txt ||
      { cat plain.txt; fail "block impute $rule failed"; }
  done
  grep -q "context trained without --calibrate: .* fitted with pixel contexts (0.80)" plain.txt ||
    { cat plain.txt; fail "no warning for trained contexts on a pixel calibration"; }
  block_run() { # block_run NAME ARGS...: impute obs.h5 with --calibrate into NAME.h5
    local name=$1
    shift
    "$DYNFILL" impute --ckpt run/ckpt.h5 --in obs.h5 --out "$name.h5" -K 2 --calibrate "$@" 2> "$name.txt" ||
      { cat "$name.txt"; fail "block impute $* failed"; }
  }
  block_run auto --context auto
  grep -q "impute: context choice: the checkpoint trained on block contexts, which stay" auto.txt ||
    { cat auto.txt; fail "auto offered a block model the choice"; }
  block_run trained --context trained
  $PY <<'PY'
import h5py, numpy as np
for k in ("pred", "std"):
    a, b = h5py.File("auto.h5", "r")[k][:], h5py.File("trained.h5", "r")[k][:]
    assert np.array_equal(a, b), ("auto against --context trained", k, float(np.abs(a - b).max()))
    a, b = h5py.File("plain.h5", "r")[k][:], h5py.File("plainpixel.h5", "r")[k][:]
    assert np.array_equal(a, b), ("plain against --context pixel", k, float(np.abs(a - b).max()))
a, b = h5py.File("plain.h5", "r")["pred"][:], h5py.File("plaintrained.h5", "r")["pred"][:]
assert not np.array_equal(a, b), "plain as --context trained"
PY
) || exit 1
# a finished run resumed: no steps, the final calibration again, here of the trained contexts alone
step=$(h5attr run/ckpt.h5 step)
"$DYNFILL" train --resume --out run --set infer.context=trained 2> resume.txt || { cat resume.txt; fail "resume"; }
! grep -q "context choice" resume.txt || { cat resume.txt; fail "infer.context = trained: train chose"; }
grep -q "train: spread calibration, channel" resume.txt || { cat resume.txt; fail "the resumed run did not calibrate"; }
[ "$(h5attr run/ckpt.h5 calib_context_ratio 2> /dev/null || echo none)" = none ] ||
  fail "infer.context = trained: calib_context_ratio stored"
[ "$(h5attr run/ckpt.h5 step)" = "$step" ] || fail "the resumed finished run trained on"
for bad in "--context auto" "--context pixel:1.5" "--context pixel:" "--context blocks" \
  "--method harmonic --context pixel"; do
  # shellcheck disable=SC2086
  impute_refuses test.h5 --context $bad
done
echo "PASS"

#!/usr/bin/env bash
# benchmarks/peers/train_throughput.py end to end on config a, tiny: dynfill
# against PyTorch eager, 2 interleaved rounds of 1 step; checks the JSON
# (every side has one figure per round, the ratio is dynfill's median over
# the strongest peer's) and that bad arguments exit 2. Skips (77) where no
# interpreter with torch is found ($DFL_PEERS_PYTHON, .venv-peers,
# /usr/bin/python3). Never a timing assertion.
set -euo pipefail
: "${DYNFILL:?DYNFILL must name the dynfill binary}"
: "${DFL_SOURCE_DIR:?DFL_SOURCE_DIR must name the source tree}"
TPY=
for cand in "${DFL_PEERS_PYTHON:-}" "$DFL_SOURCE_DIR/.venv-peers/bin/python" /usr/bin/python3; do
  if [ -n "$cand" ] && [ -x "$cand" ] && "$cand" -c "import torch" >/dev/null 2>&1; then TPY=$cand; break; fi
done
if [ -z "$TPY" ]; then
  echo "peers_throughput_smoke: no python with torch; skipping"
  exit 77
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
TT="$DFL_SOURCE_DIR/benchmarks/peers/train_throughput.py"
set +e
/usr/bin/python3 "$TT" --dynfill "$DYNFILL" --torch-python "$TPY" --configs z >"$W/bad.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] || { cat "$W/bad.log"; echo "peers_throughput_smoke: unknown config exited $rc, not 2"; exit 1; }
grep -q "unknown config" "$W/bad.log" || { cat "$W/bad.log"; echo "peers_throughput_smoke: no message"; exit 1; }
/usr/bin/python3 "$TT" --dynfill "$DYNFILL" --torch-python "$TPY" --cpu --configs a --sides dynfill,torch-eager \
  --rounds 2 --steps 1 --warmup 0 --json "$W/tp.json" | tee "$W/tp.log"
grep -q '^| a | ' "$W/tp.log" || { echo "peers_throughput_smoke: no table row"; exit 1; }
/usr/bin/python3 - "$W/tp.json" <<'PYEOF'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
assert r["rounds"] == 2 and len(r["results"]) == 1, r.keys()
row = r["results"][0]
for side in ("dynfill", "torch-eager"):
    s = row["sides"][side]
    assert len(s["rounds"]) == 2 and all(v > 0 for v in s["rounds"]), (side, s["rounds"])
    assert abs(s["median"] - statistics.median(s["rounds"])) < 1e-9
assert row["strongest_peer"] == "torch-eager"
want = row["sides"]["dynfill"]["median"] / row["sides"]["torch-eager"]["median"]
assert abs(row["ratio_to_strongest"] - want) < 1e-9, (row["ratio_to_strongest"], want)
env = r["peer_envs"]["torch-eager"]
for k in ("torch", "blas", "onednn", "threads", "onednn_conv"):
    assert k in env, k
print("peers_throughput_smoke: JSON consistent; torch %s, BLAS %s, oneDNN %s" % (env["torch"], env["blas"], env["onednn"]))
PYEOF

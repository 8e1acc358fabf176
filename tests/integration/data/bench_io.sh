#!/bin/bash
# dynfill bench io on a small synthetic file: runs, reports a sane GB/s
# as JSON, removes its file; also on an existing dataset with crops.
set -euo pipefail
: "${DYNFILL:?}"
W=$(mktemp -d /tmp/dfl_data_bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
TMPDIR="$W" "$DYNFILL" bench io --gb 0.05 --seconds 1 --json 2>/dev/null > "$W/out.json"
cat "$W/out.json"
/usr/bin/python3 - "$W/out.json" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["bench"] == "io" and r["direct_reads"] is True
assert r["gb_per_s"] > 0.02, r        # the >= 1 GB/s target is for an idle machine
assert r["samples"] > 2000 and r["h"] == 64
PYEOF
[ -z "$(ls "$W"/dynfill_bench_io_* 2>/dev/null)" ] || { echo "synthetic file not removed"; exit 1; }
"$DYNFILL" gen --kind advection --n 64 --size 32 --seed 1 --out "$W/t.h5" 2>/dev/null
"$DYNFILL" mask --in "$W/t.h5" --pattern pixel:0.5 --out "$W/o.h5" 2>/dev/null
"$DYNFILL" bench io --data "$W/o.h5" --patch 16 --batch 8 --seconds 0.5 | grep -q "loader: .* GB/s"
echo "bench io ok"

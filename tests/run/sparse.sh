#!/bin/sh
# h2c run with attention plans. (1) tests/schedule/plan-tiny.h2: layer 0 dense, layer 1 with a static
# head (16 sink + 112 window tokens, a ring that the 2048-token prompt has already wrapped) and a
# dynamic one (Quest pages selected in the schedule, docs/schedule.md §7), against the fp64 reference
# with the static head's decode attention over its sink and window and the dynamic head's over the
# pages Quest keeps; tests/schedule/plan-quest.h2 (dense, static and page-selecting dynamic heads)
# too, whose check fails against a reference that attends densely. (2) the same
# model with a plan whose heads are all dense (sparsity mode = dense) at tiny.h2's workload: --check
# passes; prefill (dense on the NPU either way) gives tiny.h2's logits bit for bit; decode computes
# each stream whole on one bank where tiny.h2's schedule splits a KV head over four banks and merges
# the partial states, so the sums are ordered differently and agree to rounding, not bitwise.
# usage: sparse.sh H2C SRC OUTDIR
set -eu
H2C=$1 SRC=$2 OUT=$3
PY=/usr/bin/python3
rm -rf "$OUT" && mkdir -p "$OUT"
"$H2C" run "$SRC/tests/schedule/plan-tiny.h2" --steps 4 --check > "$OUT/plan.txt" 2>&1 || { cat "$OUT/plan.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/plan.txt"
"$H2C" run "$SRC/tests/schedule/plan-quest.h2" --check > "$OUT/quest.txt" 2>&1 || { cat "$OUT/quest.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/quest.txt"
sed 's/^  mode = hybrid;/  mode = dense;/' "$SRC/tests/schedule/plan-tiny.h2" | sed '/^workload tiny_long/,/^}/d' > "$OUT/dense-plan.h2"
sed -n '/^workload/,/^}/p' "$SRC/examples/tiny.h2" >> "$OUT/dense-plan.h2"
"$H2C" compile "$OUT/dense-plan.h2" --emit=schedule -o "$OUT/dense-plan.json" -q
grep -q '"kind": "dense"' "$OUT/dense-plan.json"
if grep -q '"kind": "static"\|"kind": "dynamic"' "$OUT/dense-plan.json"; then echo "FAIL: the plan is not all dense"; exit 1; fi
"$H2C" run "$OUT/dense-plan.h2" --check --dump-logits "$OUT/plan.npy" > "$OUT/dense-plan.txt" 2>&1 || { cat "$OUT/dense-plan.txt"; exit 1; }
"$H2C" run "$SRC/examples/tiny.h2" -q --dump-logits "$OUT/dense.npy"
# the .npy header is 128 bytes; prefill's logits are the first batch x vocab floats
cmp -n $((128 + 2 * 512 * 4)) "$OUT/plan.npy" "$OUT/dense.npy" || { echo "FAIL: prefill logits differ"; exit 1; }
if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" -c "
import numpy as np, sys
a, b = np.load('$OUT/plan.npy'), np.load('$OUT/dense.npy')
e = np.max(np.abs(a - b)) / np.max(np.abs(b))
print('all-dense plan vs dense schedule: logits differ by %.3g of the largest' % e)
sys.exit(0 if e < 1e-3 else 1)"
fi

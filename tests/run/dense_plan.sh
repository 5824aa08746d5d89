#!/bin/sh
# An all-dense attention plan against the dense schedule, on the first layer of an example model: the
# example without a sparsity block and with `sparsity { mode = dense; }` (any block it has replaced)
# run the same prefill and decode step, and their hidden states must be equal bit for bit. The plan
# keeps the dense schedule's tiling (docs/sparsity.md §3) and runs it through the plan's own commands.
# palm-8b's dense schedule computes both of its pairs on the NPU (one because the dense mapping
# places its K and V apart): two `by npu` streams; llama3-8b spreads each pair over 96 banks.
# usage: dense_plan.sh H2C SRC NAME OUTDIR
set -eu
H2C=$1 SRC=$2 NAME=$3 OUT=$4/$3
rm -rf "$OUT" && mkdir -p "$OUT"
sed -e "s|^import \"|import \"$SRC/examples/|" -e '/^use workload/d' -e '/^sparsity {/,/^}/d' "$SRC/examples/$NAME.h2" > "$OUT/dense.h2"
echo 'workload short { batch = 2; prompt = 6 tokens; generate = 2 tokens; max_seq = 64 tokens; }' >> "$OUT/dense.h2"
{ cat "$OUT/dense.h2"; echo 'sparsity { mode = dense; }'; } > "$OUT/plan.h2"
"$H2C" compile "$OUT/plan.h2" --workload short --emit=ir -o "$OUT/plan.ir" -q 2>/dev/null
grep -q '^  pattern layers .* dense$' "$OUT/plan.ir" || { echo "FAIL: no all-dense plan"; exit 1; }
"$H2C" compile "$OUT/dense.h2" --workload short --emit=ir -o "$OUT/dense.ir" -q 2>/dev/null
if grep -q '^attention' "$OUT/dense.ir"; then echo "FAIL: the dense model has a plan"; exit 1; fi
for v in dense plan; do
    "$H2C" run "$OUT/$v.h2" --workload short --layers 1 --steps 1 -q --dump-hidden "$OUT/$v.npy" 2>/dev/null
done
cmp "$OUT/dense.npy" "$OUT/plan.npy" || { echo "FAIL: the all-dense plan's hidden states differ from the dense run's"; exit 1; }
echo "$NAME: all-dense plan vs dense schedule, 1 layer, prefill + 1 step: hidden states bit for bit ($(grep -c 'by npu' "$OUT/plan.ir") streams by npu)"

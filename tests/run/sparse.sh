#!/bin/sh
# h2c run with attention plans. (1) tests/schedule/plan-tiny.h2: layer 0 dense, layer 1 with a static
# head (16 sink + 112 window tokens, a ring that the 2048-token prompt has already wrapped) and a
# dynamic one (Quest pages selected in the schedule, docs/schedule.md §7), against the fp64 reference
# with the static head's decode attention over its sink and window and the dynamic head's over the
# pages Quest keeps, and each KV head's attention result against the reference's;
# tests/schedule/plan-quest.h2 (dense, static and page-selecting dynamic heads)
# too, whose check fails against a reference that attends densely; tests/schedule/good/plan-by-npu.h2ir,
# plan-tiny with its static head `by npu` (the NPU loads the ring's slots from the bank). (2) the same
# model with a plan whose heads are all dense (sparsity mode = dense) at tiny.h2's workload: --check
# passes, and its logits and hidden states are tiny.h2's bit for bit, prefill and decode. The plan
# keeps the dense schedule's tiling (three streams over ch0's four banks, merged on the NPU, and one
# `by npu` over ch1's) but runs it through the plan's own commands: stream appends, per-stream
# kernels and merges, stream kv_loads.
# usage: sparse.sh H2C SRC OUTDIR
set -eu
H2C=$1 SRC=$2 OUT=$3
PY=/usr/bin/python3
rm -rf "$OUT" && mkdir -p "$OUT"
"$H2C" run "$SRC/tests/schedule/plan-tiny.h2" --steps 4 --check > "$OUT/plan.txt" 2>&1 || { cat "$OUT/plan.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/plan.txt"
# --check measures every KV head's attention result, named by its pattern
grep -q '^    attention: head 0 dense [0-9.e+-]*, 1 dense' "$OUT/plan.txt" &&
    grep -q '^    attention: head 0 static [0-9.e+-]*, 1 dynamic [0-9.e+-]*$' "$OUT/plan.txt" ||
    { echo "FAIL: no per-head errors"; exit 1; }
"$H2C" run "$SRC/tests/schedule/plan-quest.h2" --check > "$OUT/quest.txt" 2>&1 || { cat "$OUT/quest.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/quest.txt"
# plan-tiny with its static head computed by the NPU: its ring's slots loaded from the stream's bank
"$H2C" opt --passes= "$SRC/tests/schedule/good/plan-by-npu.h2ir" --emit=schedule -o "$OUT/by-npu.json"
grep -q '"cmd": "kv_load".*"stream"' "$OUT/by-npu.json" || { echo "FAIL: no stream is loaded by the NPU"; exit 1; }
"$H2C" run "$OUT/by-npu.json" --steps 4 --check > "$OUT/by-npu.txt" 2>&1 || { cat "$OUT/by-npu.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/by-npu.txt"
sed 's/^  mode = hybrid;/  mode = dense;/' "$SRC/tests/schedule/plan-tiny.h2" | sed '/^workload tiny_long/,/^}/d' > "$OUT/dense-plan.h2"
sed -n '/^workload/,/^}/p' "$SRC/examples/tiny.h2" >> "$OUT/dense-plan.h2"
"$H2C" compile "$OUT/dense-plan.h2" --emit=schedule -o "$OUT/dense-plan.json" -q
grep -q '"kind": "dense"' "$OUT/dense-plan.json"
if grep -q '"kind": "static"\|"kind": "dynamic"' "$OUT/dense-plan.json"; then echo "FAIL: the plan is not all dense"; exit 1; fi
grep -q '"cmd": "kv_load".*"stream": [0-9]*, "part": "k"' "$OUT/dense-plan.json" || { echo "FAIL: no stream is loaded by the NPU"; exit 1; }
"$H2C" run "$OUT/dense-plan.h2" --check --dump-logits "$OUT/plan.npy" --dump-hidden "$OUT/plan-hidden.npy" > "$OUT/dense-plan.txt" 2>&1 || { cat "$OUT/dense-plan.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/dense-plan.txt"
"$H2C" run "$SRC/examples/tiny.h2" -q --dump-logits "$OUT/dense.npy" --dump-hidden "$OUT/dense-hidden.npy"
cmp "$OUT/plan.npy" "$OUT/dense.npy" || { echo "FAIL: the all-dense plan's logits differ from the dense run's"; exit 1; }
cmp "$OUT/plan-hidden.npy" "$OUT/dense-hidden.npy" || { echo "FAIL: the all-dense plan's hidden states differ from the dense run's"; exit 1; }
echo "all-dense plan vs dense schedule: logits and hidden states bit for bit"

#!/bin/sh
# Front-end throughput: writes a synthetic 10,000-op model (bench/gen_model) into the build
# directory and times fe_load + fe_check on it (bench/bench_frontend, 20 runs); then the IR, the
# attention planning passes (bench/bench_attn), the kernel library's bandwidth (bench/kernels), the
# compile-to-folder command (schedule, kernels, JIT), the exploration, and the exploration at scale
# (bench/explore_scale.sh: 1,024,000 designs on 1 and 2 MPI ranks; about 2 minutes).
# usage: bench/run.sh BUILD_DIR      (after `cmake --build BUILD_DIR --target benchmarks`)
# N=100000 REPS=5 bench/run.sh build  changes the model size and the number of runs.
set -eu
build=${1:?usage: bench/run.sh BUILD_DIR}
n=${N:-10000}
reps=${REPS:-20}
gen=$build/bench/gen_model
bench=$build/bench/bench_frontend
for exe in "$gen" "$bench"; do
  if [ ! -x "$exe" ]; then
    echo "bench/run.sh: $exe is missing; build it with: cmake --build $build --target benchmarks" >&2
    exit 2
  fi
done
model=$build/bench/model-$n.h2
"$gen" "$n" >"$model"
echo "== front end: fe_load + fe_check of a $n-op model"
"$bench" "$model" "$reps"

echo
echo "== IR: lower + default pipeline + print + re-parse of llama3-8b (bench_ir, $reps runs)"
"$build/bench/bench_ir" examples/llama3-8b.h2 "$reps"

echo
echo "== attention plans: sparsity + coplace + balance for llama3-8b at 128k, all 32 layers (bench_attn, $reps runs)"
"$build/bench/bench_attn" examples/llama3-8b-longctx.h2 "$reps" lc128k

echo
echo "== kernels: decode GEMV and attention bandwidth, JIT vs STREAM triad vs gcc -O3 vs OpenBLAS (bench/kernels)"
if [ -x "$build/bench/kernels" ]; then
  "$build/bench/kernels" --workdir "$build/bench"
else
  echo "(not built: it needs OpenBLAS, Debian libopenblas-dev)"
fi

echo
echo "== the compile-to-folder command: schedule, C kernels and the JIT of every kernel (bench/compile.sh; stages: bench_schedule)"
bench/compile.sh "$build/h2c" examples/llama3-8b.h2 10
"$build/bench/bench_schedule" examples/llama3-8b.h2 5

h2c=$build/h2c
secs() { # prints the wall seconds a command takes (its output discarded)
  s=$(date +%s.%N)
  "$@" >/dev/null
  e=$(date +%s.%N)
  echo "$e $s" | awk '{printf "%.2f", $1 - $2}'
}
echo
echo "== design-space exploration (h2llm-artifact cost model; the artifact's AE budget search took 4 min 42 s on this kind of machine)"
echo "H2-LLM-Full for llama3-8b (64 devices, exact search each):   $(secs "$h2c" explore examples/llama3-8b.h2 --cost-model h2llm-artifact) s"
echo "the same, one thread:                                        $(secs "$h2c" explore examples/llama3-8b.h2 --cost-model h2llm-artifact --threads 1) s"
echo "the whole reproduction grid (3 models x 4 workloads x 3 batch"
echo "  sizes x 9 designs, 2592 searches):                          $(secs "$h2c" explore --reproduce-h2llm examples/opt-6.7b.h2 examples/llama3-8b.h2 examples/palm-8b.h2) s"
echo "the grid, one thread:                                        $(secs "$h2c" explore --reproduce-h2llm examples/opt-6.7b.h2 examples/llama3-8b.h2 examples/palm-8b.h2 --threads 1) s"

echo
echo "== big inputs (issue 14: 50,000-op IR and .h2 files handled in under 2 s; linear: 10x the ops, ~10x the time)"
big=$build/bench/big
mkdir -p "$big"
for n in 5000 50000; do
  sh tests/big/gen_ir.sh "$h2c" $n >"$big/ir-$n.h2ir"
  "$gen" $n >"$big/model-$n.h2"
done
echo "h2c opt, IR of  5,000 ops per phase:                         $(secs "$h2c" opt "$big/ir-5000.h2ir") s"
echo "h2c opt, IR of 50,000 ops per phase:                         $(secs "$h2c" opt "$big/ir-50000.h2ir") s"
echo "h2c check, .h2 of  5,000 ops:                                $(secs "$h2c" check "$big/model-5000.h2") s"
echo "h2c check, .h2 of 50,000 ops:                                $(secs "$h2c" check "$big/model-50000.h2") s"
echo "h2c compile, 50,000 ops (refused before the search):         $(secs sh -c "\"$h2c\" compile -q \"$big/model-50000.h2\" -o /dev/null 2>/dev/null || true") s"
echo "h2c compile --dataflow=npu-only, 50,000 ops (no search):     $(secs "$h2c" compile -q --dataflow=npu-only "$big/model-50000.h2" -o /dev/null) s"
"$gen" 4096 >"$big/model-4096.h2"
echo "h2c compile, 4,096 ops (the search's limit, 128 pieces):     $(secs sh -c "\"$h2c\" compile -q \"$big/model-4096.h2\" -o /dev/null 2>/dev/null") s"

echo
echo "== every reader on 1 MB and 10 MB inputs (issue 14: linear time; bench/big_readers.py)"
/usr/bin/python3 bench/big_readers.py "$build" 3

echo
echo "== the exploration at scale (issue 15: streamed, checkpointed, on MPI ranks; docs/distributed.md)"
"$build/bench/bench_explore" tests/explore/bad/space-too-large.h2
sh bench/explore_scale.sh "$build"

echo
echo "== the emulator: h2c run --bench (bench/emu.sh)"
sh bench/emu.sh "$build/h2c"

#!/bin/sh
# Front-end throughput: writes a synthetic 10,000-op model (bench/gen_model) into the build
# directory and times fe_load + fe_check on it (bench/bench_frontend, 20 runs).
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

#!/bin/sh
# The files h2c compile writes into a folder (the IR, the schedule, its kernels as C and as LLVM IR)
# are the same bytes from run to run and whatever --threads says (it only spreads --jit's work).
# usage: determinism.sh H2C WORKDIR EXAMPLE.h2...   (from the source root)
set -u
h2c=$1 work=$2
shift 2
root=$(pwd)
fail=0
for ex in "$@"; do
    name=$(basename "$ex" .h2)
    rm -rf "$work/a" "$work/b" "$work/c"
    "$h2c" compile -q "$ex" --emit=ir,schedule,c,llvm -o "$work/a/" --threads 1 2>/dev/null || { echo "FAIL: compile $ex"; fail=1; continue; }
    "$h2c" compile -q "$ex" --emit=ir,schedule,c,llvm -o "$work/b/" --threads 2 --jit 2>/dev/null || { echo "FAIL: compile --jit $ex"; fail=1; continue; }
    (mkdir -p "$work/c" && cd "$work/c" && "$h2c" compile -q "$root/$ex" --emit=ir,schedule,c,llvm -o ./ --threads 3 2>/dev/null) ||
        { echo "FAIL: compile from another folder $ex"; fail=1; continue; }
    for f in "$name.h2ir" "$name.schedule.json" "$name.kernels.c" "$name.kernels.ll"; do
        cmp -s "$work/a/$f" "$work/b/$f" || { echo "FAIL: $f differs between --threads 1 and --threads 2 --jit"; fail=1; }
    done
    # from another folder only the source's path in the IR and the schedule may differ: it is the same here
    for f in "$name.schedule.json" "$name.kernels.c" "$name.kernels.ll"; do
        sed "s|$root/||g" "$work/c/$f" | cmp -s "$work/a/$f" - || { echo "FAIL: $f differs when run from another folder"; fail=1; }
    done
done
[ "$fail" = 0 ] && echo "byte-identical across runs and --threads: $*"
exit $fail

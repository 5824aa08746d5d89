#!/bin/sh
# valgrind.sh: a subset of the suite under valgrind's memcheck (CI, .ci/run): h2c check, compile,
# opt, explore, import-hf and compat on the examples, a schedule written (its kernels JIT-compiled)
# and read back, an input with errors, the unit tests, and every fuzz harness replaying its corpus
# and regression inputs. Each must give its usual exit status with no memcheck error and no definite
# leak (--error-exitcode=99 tells the two apart).
#   tests/valgrind.sh BUILD      BUILD configured with -DH2C_NATIVE=OFF (valgrind has no AVX-512)
# Prints one line per run with its time; exits 1 if any run failed.
set -u
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
b=$1
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (make bootstrap)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/h2c-valgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
vg="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite"
fails=0 runs=0

# run WANT CMD...: CMD under memcheck must exit WANT
run() {
    want=$1
    shift
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    TMPDIR=$tmp $vg "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    t=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    runs=$((runs + 1))
    if [ $rc -eq 99 ] || [ $rc -ne "$want" ]; then
        printf 'FAIL %6.1fs (exit %d, want %d) %s\n' "$t" $rc "$want" "$*"
        sed -n '/==[0-9]*==/p' "$tmp/err" | head -n 40
        fails=$((fails + 1))
    else
        printf 'ok   %6.1fs %s\n' "$t" "$*"
    fi
}

h2c=$b/h2c
for f in examples/*.h2; do
    run 0 "$h2c" check -q "$f"
done
for f in examples/tiny.h2 examples/llama3-8b.h2 examples/qwen2-7b.h2; do
    run 0 "$h2c" compile -q "$f" -o "$tmp/out.h2ir"
done
run 0 "$h2c" compile examples/tiny.h2 --report=ops -o "$tmp/tiny.h2ir"
run 0 "$h2c" compile -q examples/tiny.h2 --emit=schedule,c,llvm --jit -o "$tmp/sched/"
run 0 "$h2c" validate "$tmp/sched/tiny.schedule.json"
run 0 "$h2c" opt "$tmp/tiny.h2ir" --report=ops -o "$tmp/tiny2.h2ir"
run 0 "$h2c" opt tests/ir/passes/shapes-whole.h2ir --passes=shapes,dataflow,placement -o "$tmp/whole.h2ir"
run 1 "$h2c" opt tests/ir/bad/df-partitions-share.h2ir
run 1 "$h2c" check tests/frontend/bad/syntax-several-errors.h2
run 1 "$h2c" check tests/frontend/bad/capacity-small-device.h2
run 0 "$h2c" explore -q examples/llama3-8b.h2 --cost-model h2llm-artifact --write-hw "$tmp/best.h2"
run 0 "$h2c" import-hf examples/hf/llama-3-8b -o "$tmp/llama.h2"
run 0 "$h2c" check -q "$tmp/llama.h2"
ref=../shared/reference
if [ -f $ref/h2llm-testvectors.json ]; then
    run 0 "$h2c" compat $ref/h2llm-testvectors.json
    run 0 "$h2c" compat $ref/h2llm-baselines.txt
fi

# the unit tests (run from the repository root, as ctest runs them); not test_attn_ref, which takes
# 7 minutes under memcheck (plain double arithmetic, run under ASan and UBSan by make asan), nor
# test_oom, test_search and test_kernels (minutes each; ASan runs them)
for t in units diag frontend npy cost_h2c cost_artifact import_hf pieces; do
    [ -x "$b/tests/test_$t" ] && run 0 "$b/tests/test_$t"
done

# the fuzz harnesses on their corpora and regression inputs
for n in h2 ir npy safetensors hf compat schedule; do
    set -- tests/fuzz/corpus/$n
    [ -d tests/fuzz/regress/$n ] && set -- "$@" tests/fuzz/regress/$n
    run 0 "$b/tests/fuzz/replay_$n" "$@"
done

echo "valgrind.sh: $runs runs, $fails failed"
[ $fails -eq 0 ]

#!/bin/sh
# `make demo`: what h2c does, on the examples. usage: tools/demo.sh [path/to/h2c]
# Each command is printed before it runs, written so that it can be pasted from the repository
# root; the demo stops at the first step that fails. Bold headings only on a terminal.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H2C=${1:-build/h2c}
case $H2C in /*) ;; *) H2C=$(pwd)/$H2C ;; esac
cd "$ROOT"
case $H2C in "$ROOT"/*) H2C=${H2C#"$ROOT"/} ;; esac
OUT=$(dirname "$H2C")    # where the demo's IR file goes: beside h2c, in the build directory
if [ -t 1 ]; then BOLD=$(printf '\033[1m') PLAIN=$(printf '\033[0m'); else BOLD='' PLAIN=''; fi
say() { printf '\n%s$ %s%s\n' "$BOLD" "$*" "$PLAIN"; }
run() { say "$*"; "$@"; }
# run_fails STATUS CMD...: a step that shows an error; any other exit status stops the demo
run_fails() {
    want=$1
    shift
    say "$*   # exits $want"
    rc=0
    "$@" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "demo: '$*' exited $rc, not $want" >&2
        exit 1
    fi
}

run "$H2C" --version
printf '\nThe three models of the H2-LLM artifact, checked against its device and workloads:\n'
run "$H2C" check examples/llama3-8b.h2
run "$H2C" check examples/opt-6.7b.h2
run "$H2C" check examples/palm-8b.h2

printf '\nCompile Llama-3-8B: lower it to the IR, choose the dataflow (exact search), place the data.\n'
printf 'The IR goes to the file; the pass times and what the plan costs go to the terminal:\n'
run "$H2C" compile examples/llama3-8b.h2 -o "$OUT/llama3-8b.h2ir" --time-passes
printf '\nThe q projection in decode, its columns split between the NMP PEs and the NPU:\n'
say "grep -A3 '%q: \\[4' $OUT/llama3-8b.h2ir"
grep -A3 '%q: \[4' "$OUT/llama3-8b.h2ir"

printf '\nThe IR can be edited by hand and priced again, op by op:\n'
run "$H2C" opt "$OUT/llama3-8b.h2ir" --report=ops -o "$OUT/llama3-8b.opt.h2ir"

printf '\nExplore the design space of examples/llama3-8b.h2 (64 devices) under the artifact'"'"'s cost model:\n'
run "$H2C" explore examples/llama3-8b.h2 --cost-model h2llm-artifact --top 5

printf '\nThe same under h2c'"'"'s own model (whole model, every decode step, energy):\n'
run "$H2C" explore examples/llama3-8b.h2 --top 3

printf '\nThe artifact'"'"'s own numbers, reproduced (the model configs beside the file are found):\n'
if [ -f ../shared/reference/h2llm-testvectors.json ]; then
    run "$H2C" compat ../shared/reference/h2llm-testvectors.json
else
    echo "(../shared/reference is not beside this checkout: skipped)"
fi

printf '\nRun the compiled schedule on the emulated device (h2c run): every command on real data with the\n'
printf 'JIT kernels, time and energy per unit and link, each layer checked against an fp64 reference:\n'
run "$H2C" compile examples/tiny.h2 -o "$OUT/tiny/" -q
run "$H2C" run "$OUT/tiny/tiny.schedule.json" --check

# H2C_DEMO_QUICK=1 (the sanitizer build's cli/demo test): not the 1.3 GB of Llama-3-8B weights
if [ -z "${H2C_DEMO_QUICK:-}" ]; then
    printf '\nOne layer of Llama-3-8B (its 4096 x 128256 embedding and LM head too), one sequence, 2 decode steps:\n'
    run "$H2C" run examples/llama3-8b.h2 --layers 1 --workload he --batch 1 --steps 2

    printf '\nA Hugging Face model: its config.json imported as a .h2 (on the default device and workload),\n'
    printf 'then one layer run on the emulated device (synthetic weights; --weights DIR reads safetensors):\n'
    run "$H2C" import-hf examples/hf/opt-6.7b -o "$OUT/opt-6.7b-hf.h2"
    run "$H2C" run "$OUT/opt-6.7b-hf.h2" --layers 1 --batch 1 --steps 2
fi

printf '\nA mistake is reported like a compiler does, with the line and a caret:\n'
run_fails 1 "$H2C" check tests/frontend/bad/wrong-unit-kind.h2

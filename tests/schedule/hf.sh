#!/bin/sh
# The models h2c import-hf writes (tests/hf/good/*.out: Llama 3.1 and 3.2 with RoPE scaling, Gemma's
# unit-offset norms, OPT's learned positions, GPT-NeoX, Qwen2's biases, ...) compiled on the H2-LLM
# device: each schedule is accepted by the runtime's reader and its kernels JIT-compile. A sliding
# window shorter than max_seq (Phi-3's 2047 at 2048) gives an attention kernel with that window, one
# at least as long (Mistral's 4096) plain causal attention, which it then is.
# usage: hf.sh H2C WORKDIR   (from the source root)
set -u
h2c=$1 work=$2
root=$(pwd)
mkdir -p "$work" || exit 1
fail=0
for out in tests/hf/good/*.out; do
    name=$(basename "$out" .out)
    src=$work/$name.h2
    { echo "import \"$root/examples/hw/h2llm.h2\"; import \"$root/examples/workloads.h2\"; use workload sg;"
      cat "$out"; } >"$src"
    rm -rf "$work/$name"
    "$h2c" compile -q "$src" -o "$work/$name/" --jit 2>"$work/$name.err"
    rc=$?
    [ "$rc" = 0 ] || { echo "FAIL: $name: compile exits $rc"; cat "$work/$name.err"; fail=1; continue; }
    # a window shorter than the workload's max_seq (2048) is the attention kernel's; a longer one hides no key
    win=$(sed -n 's/.*window = \([0-9]*\) tokens.*/\1/p' "$out" | head -1)
    if [ -n "$win" ] && [ "$win" -lt 2048 ]; then
        grep -q "\"window\": $win\b" "$work/$name/$name.schedule.json" ||
            { echo "FAIL: $name: no attention kernel with a window of $win"; fail=1; }
    elif grep -q '"kind": "attn".*"window"' "$work/$name/$name.schedule.json"; then
        echo "FAIL: $name: an attention kernel with a window that hides no key"; fail=1
    fi
    "$h2c" validate -q "$work/$name/$name.schedule.json" || { echo "FAIL: $name: the reader refuses it"; fail=1; }
done
[ "$fail" = 0 ] && echo "every imported model is scheduled (Phi-3 with a window)"
exit $fail

#!/bin/sh
# h2c run --weights on tiny Hugging Face checkpoints (Llama with Llama 3.1 RoPE scaling, Qwen2 with
# biases and a tied head, OPT with learned positions and LayerNorm, GPT-NeoX with parallel residuals
# and partial rotary, Mistral with a sliding window of 3 keys): tests/hf/oracle/hf_oracle.py writes each checkpoint, its token ids and the
# logits of an independent numpy forward pass; h2c import-hf, a short workload, then h2c run with the
# checkpoint and the same token ids (prefill of 5, then 4 decode steps) dumps its logits as .npy,
# which numpy reads and compares. The banks hold fp16 weights and an fp16 KV cache while numpy
# computes with the checkpoint's f32 values, hence the tolerance (docs/runtime.md §5.4); --check
# compares with the fp64 reference on the very values stored, to its own tighter bound. Each model
# runs twice: as imported, and with an attention plan whose heads are all dense, whose logits must
# be the first run's bit for bit.
# usage: hf.sh H2C SRC OUTDIR (77: skipped without numpy)
set -u
H2C=$1 SRC=$2 OUT=$3
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null || { echo "no /usr/bin/python3 with numpy"; exit 77; }
rm -rf "$OUT" && mkdir -p "$OUT"
rc=0
for fam in llama qwen2 opt neox mistral; do
    d=$OUT/$fam
    "$PY" "$SRC/tests/hf/oracle/hf_oracle.py" make "$d" "$fam" || { rc=1; continue; }
    "$H2C" import-hf "$d" --name m 2>/dev/null > "$d/m.h2" || { echo "$fam: import-hf failed"; rc=1; continue; }
    echo 'workload w { batch = 2; prompt = 5 tokens; generate = 4 tokens; max_seq = 16 tokens; }' >> "$d/m.h2"
    toks=$("$PY" -c "import numpy as np; t = np.fromfile('$d/tokens.bin', '<i4').reshape(2, -1); print(';'.join(','.join(str(v) for v in r) for r in t))")
    if ! "$H2C" run "$d/m.h2" --workload w --weights "$d" --prompt-tokens "$toks" --check \
            --dump-logits "$d/logits.npy" > "$d/run.txt" 2>&1; then
        cat "$d/run.txt"; echo "$fam: h2c run failed"; rc=1; continue
    fi
    grep '^check: ok' "$d/run.txt"
    "$PY" -c "import numpy as np; np.load('$d/logits.npy').astype('<f8').tofile('$d/logits.bin')" || { rc=1; continue; }
    "$PY" "$SRC/tests/hf/oracle/hf_oracle.py" check "$d" 3e-3 || rc=1
    # the same with an attention plan whose heads are all dense (its KV in the plan's streams)
    { cat "$d/m.h2"; echo 'sparsity { mode = dense; }'; } > "$d/m-plan.h2"
    if ! "$H2C" run "$d/m-plan.h2" --workload w --weights "$d" --prompt-tokens "$toks" --check \
            --dump-logits "$d/logits-plan.npy" > "$d/run-plan.txt" 2>&1; then
        cat "$d/run-plan.txt"; echo "$fam: h2c run with a plan failed"; rc=1; continue
    fi
    "$H2C" compile "$d/m-plan.h2" --workload w --emit=schedule -o "$d/plan.json" -q 2>/dev/null
    if grep -q '"sliding_window"' "$d/config.json"; then   # (Mistral's window of 3: no plan, a note says so)
        grep -q 'gets no sparse plan' "$d/run-plan.txt" || { echo "$fam: no note that the window has no plan"; rc=1; }
        # decode near memory: each bank's PE attends over its tile's keys in the window
        grep -q '"kind": "attn".*"window": 3, "interleave"' "$d/plan.json" ||
            { echo "$fam: no windowed attention kernel over an interleaved tile"; rc=1; }
    else
        grep -q '"kind": "dense"' "$d/plan.json" || { echo "$fam: the schedule has no attention plan"; rc=1; }
    fi
    "$PY" -c "import numpy as np; np.load('$d/logits-plan.npy').astype('<f8').tofile('$d/logits.bin')" || { rc=1; continue; }
    printf 'with an all-dense plan: '
    "$PY" "$SRC/tests/hf/oracle/hf_oracle.py" check "$d" 3e-3 || rc=1
    # the plan keeps the dense schedule's tiling, so its logits are the dense run's bit for bit
    cmp "$d/logits.npy" "$d/logits-plan.npy" || { echo "$fam: the all-dense plan's logits differ from the dense run's"; rc=1; }
done
exit $rc

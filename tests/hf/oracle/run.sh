#!/bin/sh
# Tiny Hugging Face checkpoints of four families against an independent numpy forward pass:
# hf_oracle.py writes each checkpoint and its expected logits, hf_forward computes them through
# import-hf, the IR, the safetensors reader and the runtime. usage: run.sh HF_FORWARD (77: skipped)
set -u
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null || { echo "no /usr/bin/python3 with numpy"; exit 77; }
here=$(dirname "$0")
dir=$(mktemp -d "${TMPDIR:-/tmp}/h2c-hf.XXXXXX")
trap 'rm -rf "$dir"' EXIT
rc=0
for fam in llama qwen2 opt neox; do
    "$PY" "$here/hf_oracle.py" make "$dir/$fam" "$fam" || { rc=1; continue; }
    "$1" "$dir/$fam" || { echo "$fam: h2c failed"; rc=1; continue; }
    "$PY" "$here/hf_oracle.py" check "$dir/$fam" 1e-9 || rc=1
done
exit $rc

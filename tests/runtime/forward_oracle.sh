#!/bin/sh
# runtime/forward.c against an independent numpy forward pass, for five model families.
# usage: forward_oracle.sh FORWARD_DUMP   (exit 77: skipped, no numpy)
set -u
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null || { echo "no /usr/bin/python3 with numpy"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/h2c-forward.XXXXXX")
trap 'rm -rf "$dir"' EXIT
rc=0
for v in llama llama3-scaled mistral neox opt gemma; do
    mkdir -p "$dir/$v"
    "$1" "$v" "$dir/$v" || { echo "forward_dump $v failed"; rc=1; continue; }
    "$PY" "$(dirname "$0")/forward_oracle.py" "$v" "$dir/$v" || rc=1
done
exit $rc

#!/bin/sh
# The first layer of an example model (examples/NAME.h2, its hardware, its attention plan) run by
# h2c run --layers 1 --check: prefill and a decode step of a short workload (a prompt of 6 tokens at
# batch 2, so the fp64 reference stays quick), every layer output and the logits within the stated
# tolerance of the reference; and its trace is valid. usage: example.sh H2C SRC NAME OUTDIR
set -eu
H2C=$1 SRC=$2 NAME=$3 OUT=$4
mkdir -p "$OUT"
# the example as it is, its imports made absolute and its own `use workload` left out (--workload
# picks the short one; an importing file cannot override a `use`)
sed -e "s|^import \"|import \"$SRC/examples/|" -e '/^use workload/d' "$SRC/examples/$NAME.h2" > "$OUT/$NAME.h2"
echo 'workload short { batch = 2; prompt = 6 tokens; generate = 2 tokens; max_seq = 64 tokens; }' >> "$OUT/$NAME.h2"
"$H2C" run "$OUT/$NAME.h2" --workload short --layers 1 --steps 1 --check > "$OUT/$NAME.txt" 2>&1 || {
    cat "$OUT/$NAME.txt"; exit 1; }
sed -n '/^check:/,$p' "$OUT/$NAME.txt"
# its trace (timing needs no numerics: --numerics off gives the same slices), valid trace-event JSON
"$H2C" run "$OUT/$NAME.h2" --workload short --layers 1 --steps 1 --numerics off -q --trace "$OUT/$NAME.trace.json" 2>/dev/null
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 "$SRC/tests/run/trace_check.py" "$OUT/$NAME.trace.json" 3
fi

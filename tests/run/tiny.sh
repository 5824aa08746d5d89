#!/bin/sh
# h2c run on examples/tiny.h2: --check passes; --numerics off gives the very same times and energy
# (timing never reads the data); the schedule file and the .h2 give the same logits, byte for byte;
# the summary's counts; the lazy weight window gives the same logits; the trace is valid trace-event
# JSON with a track per unit and link.
# usage: tiny.sh H2C SRC OUTDIR
set -eu
H2C=$1 SRC=$2 OUT=$3
PY=/usr/bin/python3
rm -rf "$OUT" && mkdir -p "$OUT"
tiny=$SRC/examples/tiny.h2
"$H2C" run "$tiny" --check > "$OUT/check.txt" || { cat "$OUT/check.txt"; echo "FAIL: --check"; exit 1; }
grep -q '^check: ok' "$OUT/check.txt"
grep -q '^  layer 1 ' "$OUT/check.txt"
"$H2C" run "$tiny" > "$OUT/on.txt"
"$H2C" run "$tiny" --numerics off > "$OUT/off.txt"
grep -v '^host:' "$OUT/on.txt" > "$OUT/on.cmp"
grep -v '^host:' "$OUT/off.txt" > "$OUT/off.cmp"
cmp "$OUT/on.cmp" "$OUT/off.cmp" || { diff "$OUT/on.cmp" "$OUT/off.cmp" | head; echo "FAIL: --numerics off changes the times"; exit 1; }
grep -qx 'run: tiny on tiny_hw: 2 of 2 layers, batch 2, prompt 16, 8 decode steps' "$OUT/on.txt"
# the numbers that are model facts: 8 steps x 2 sequences; decode time per step within reason
awk '/^  decode /{ split($2, a, " "); v = $2; u = $3; if (u == "us") v *= 1e-6; else if (u == "ms") v *= 1e-3; else if (u == "ns") v *= 1e-9;
      if (v < 1e-6 || v > 1e-3) { print "decode per step out of range: " $0; exit 1 } }' "$OUT/on.txt"
# a schedule file runs as the .h2 does
"$H2C" compile "$tiny" -o "$OUT/" -q
"$H2C" run "$OUT/tiny.schedule.json" -q --dump-logits "$OUT/a.npy" --dump-hidden "$OUT/ha.npy"
"$H2C" run "$tiny" -q --dump-logits "$OUT/b.npy" --dump-hidden "$OUT/hb.npy"
cmp "$OUT/a.npy" "$OUT/b.npy"
cmp "$OUT/ha.npy" "$OUT/hb.npy"
# the lazy weight window (every layer's weights written into one copy before its iteration) computes
# the same values
"$H2C" run "$tiny" -q --lazy-weights --dump-logits "$OUT/lazy.npy"
cmp "$OUT/a.npy" "$OUT/lazy.npy"
# the trace
"$H2C" run "$tiny" -q --steps 2 --trace "$OUT/trace.json"
if [ -x "$PY" ]; then
    "$PY" "$SRC/tests/run/trace_check.py" "$OUT/trace.json" 8
fi
echo "run/tiny: ok"

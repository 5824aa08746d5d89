#!/bin/sh
# h2c run --check on tiny.h2 at every storage precision of its device: int8 and int4 weights
# (quantised per group of 128 along K with an fp16 scale, packed as the kernels read them; the
# reference reads the same values dequantised), and fp32 (weights and KV in f32: the emulator then
# agrees with the fp64 reference to fp32 rounding, 1e-5, which shows the fp16 KV cache is what the
# default tolerance is for). usage: precision.sh H2C SRC OUTDIR
set -eu
H2C=$1 SRC=$2 OUT=$3
mkdir -p "$OUT"
for p in int8 int4 fp32; do
    sed "s/precision = fp16;/precision = $p;/" "$SRC/examples/tiny.h2" > "$OUT/tiny-$p.h2"
    grep -q "precision = $p;" "$OUT/tiny-$p.h2"
    tol=4e-3
    [ "$p" = fp32 ] && tol=1e-5
    "$H2C" run "$OUT/tiny-$p.h2" --steps 2 --check --tolerance $tol > "$OUT/$p.txt" 2>&1 || { cat "$OUT/$p.txt"; exit 1; }
    echo "$p: $(grep '^check: ok' "$OUT/$p.txt")"
done

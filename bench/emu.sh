#!/bin/sh
# The emulator's throughput (h2c run --bench): emulated decode tokens per host second, the host time
# of the decode steps in kernels, moves and bookkeeping, the decode weight stream against a STREAM
# triad measured in the same run, and the peak resident memory; for tiny.h2, one layer of Llama-3-8B
# (with 4 KiB and with huge pages), all 32 layers with the lazy per-layer weight window and (given
# 18 GiB of free memory) with every layer's weights resident, and the whole
# of Llama-3-8B's ShareGPT workload with --numerics off (time and energy only).
# usage: bench/emu.sh H2C   (from the source root)
set -eu
H2C=${1:-build/h2c}
row() {
    name=$1
    shift
    start=$(date +%s.%N)
    out=$("$H2C" run "$@" --bench 2>/dev/null)
    end=$(date +%s.%N)
    echo "== $name: h2c run $* --bench   ($(echo "$end - $start" | bc) s wall)"
    echo "$out" | grep -E '^run:|^  decode|^bench:|^host:'
}
row "tiny.h2, 8 decode steps" examples/tiny.h2
row "llama3-8b, 1 layer, 8 decode steps" examples/llama3-8b.h2 --layers 1 --workload he --batch 1 --steps 8
row "llama3-8b, 1 layer, huge pages" examples/llama3-8b.h2 --layers 1 --workload he --batch 1 --steps 8 --huge-pages
row "llama3-8b, 32 layers, lazy weights, 1 decode step" examples/llama3-8b.h2 --workload he --batch 1 --steps 1 --lazy-weights
# every layer's weights resident (16 GB): the kernel-bound 32-layer run, where the memory allows it
avail=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo 2>/dev/null || echo 0)
if [ "${avail:-0}" -ge 18 ]; then
    row "llama3-8b, 32 layers, resident weights, 4 decode steps" examples/llama3-8b.h2 --workload he --batch 1 --steps 4
else
    echo "== llama3-8b, 32 layers, resident weights: skipped (${avail} GiB available, 18 needed)"
fi
start=$(date +%s.%N)
out=$("$H2C" run examples/llama3-8b.h2 --numerics off 2>/dev/null)
end=$(date +%s.%N)
echo "== llama3-8b, 32 layers, ShareGPT (batch 4, 783 + 209 tokens), --numerics off   ($(echo "$end - $start" | bc) s wall)"
echo "$out" | grep -E '^run:|^  prefill|^  decode|^host:'

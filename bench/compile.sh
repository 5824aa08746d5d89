#!/bin/sh
# The compile-to-folder command end to end: `h2c compile FILE.h2 -o DIR/ --jit` writes the schedule and
# its kernels (C) and JIT-compiles every distinct kernel for this host; RUNS runs, the best and the
# median wall time, and the CPU time (user + sys) of the best run.
# usage: bench/compile.sh H2C [FILE.h2] [RUNS] [WORKDIR]   (from the repository root)
set -u
h2c=${1:?usage: bench/compile.sh H2C [FILE.h2] [RUNS] [WORKDIR]}
file=${2:-examples/llama3-8b.h2}
runs=${3:-10}
work=${4:-$(mktemp -d)}
mkdir -p "$work" || exit 1
name=$(basename "$file" .h2)
times=$work/times
: >"$times"
i=0
while [ "$i" -lt "$runs" ]; do
    rm -rf "$work/out"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%e %U %S" -o "$work/t" "$h2c" compile "$file" -o "$work/out/" --jit --report=none \
            2>"$work/err" || { cat "$work/err"; exit 1; }
        read -r wall user sys <"$work/t"
    else
        s=$(date +%s.%N)
        "$h2c" compile "$file" -o "$work/out/" --jit --report=none 2>"$work/err" || { cat "$work/err"; exit 1; }
        e=$(date +%s.%N)
        wall=$(echo "$e $s" | awk '{printf "%.3f", $1 - $2}') user=0 sys=0
    fi
    echo "$wall $user $sys $(grep '^jit:' "$work/err" | sed 's/^jit: //')" >>"$times"
    i=$((i + 1))
done
sort -n "$times" >"$times.sorted"
best=$(head -1 "$times.sorted")
median=$(awk -v n="$runs" 'NR == int((n + 1) / 2) {print $1}' "$times.sorted")
echo "h2c compile $file -o DIR/ --jit: $(ls "$work/out" | tr '\n' ' ')($(wc -c <"$work/out/$name.schedule.json") bytes of schedule)"
echo "$best" | awk -v m="$median" -v n="$runs" '{printf "  best of %d runs %.3f s wall (median %.3f s), %.3f s CPU (user + sys)\n", n, $1, m, $2 + $3;
    $1 = $2 = $3 = ""; sub(/^ +/, ""); printf "  its JIT: %s\n", $0}'

#!/bin/sh
# --stream keeps only the table's designs, the Pareto front and each sweep point's best, and shows the
# same table, front and best as the plain run that keeps every design: for the examples under both
# cost models, an energy objective, a sample of a large space and the long-context sweep. Its CSV
# lists exactly the designs of the table and of the front (the plain CSV's rows for them, with their
# rank and whether they are on the front), and is the same byte for byte for 1 and 2 threads and any
# chunk size. A space of 4.4e12 distinct designs is sampled in a moment. usage: stream.sh H2C
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
# the report without its timing line
report() { sed 2d "$1"; }
check() { # check NAME ARGS...: plain vs stream, threads and chunks
    name=$1
    shift
    "$H2C" explore "$@" --threads 2 --csv "$T/plain.csv" >"$T/plain.txt" 2>/dev/null ||
        { echo "FAIL: $name: the plain run exits $?"; fail=1; return; }
    "$H2C" explore "$@" --stream --threads 1 --csv "$T/s1.csv" >"$T/s1.txt" 2>/dev/null ||
        { echo "FAIL: $name: the streamed run exits $?"; fail=1; return; }
    "$H2C" explore "$@" --stream --threads 2 --chunk 3 --csv "$T/s2.csv" >"$T/s2.txt" 2>/dev/null ||
        { echo "FAIL: $name: the streamed run (2 threads, chunks of 3) exits $?"; fail=1; return; }
    report "$T/plain.txt" >"$T/a"
    report "$T/s1.txt" >"$T/b"
    report "$T/s2.txt" >"$T/c"
    cmp -s "$T/a" "$T/b" || { echo "FAIL: $name: the streamed report differs from the plain one"; diff "$T/a" "$T/b" | head; fail=1; }
    cmp -s "$T/b" "$T/c" || { echo "FAIL: $name: the streamed report depends on threads or chunks"; fail=1; }
    cmp -s "$T/s1.csv" "$T/s2.csv" || { echo "FAIL: $name: the streamed CSV depends on threads or chunks"; fail=1; }
    # the summary line says the same, but for the time
    sed -n 2p "$T/plain.txt" | sed 's/ in [0-9.]* s on .*//' >"$T/a"
    sed -n 2p "$T/s1.txt" | sed 's/ in [0-9.]* s on .*//' >"$T/b"
    cmp -s "$T/a" "$T/b" || { echo "FAIL: $name: the summary lines differ"; cat "$T/a" "$T/b"; fail=1; }
}
check llama3-8b examples/llama3-8b.h2
check llama3-8b-artifact examples/llama3-8b.h2 --cost-model h2llm-artifact
check llama3-8b-energy examples/llama3-8b.h2 --objective energy --top 30
check sample tests/explore/bad/space-too-large.h2 --evaluations 2000 --top 5
check longctx examples/llama3-8b-longctx.h2

# the streamed CSV: the table's designs ranked 1..K and the front's flagged, as the plain CSV has them
"$H2C" explore examples/llama3-8b.h2 -q --top 5 --csv "$T/plain.csv" 2>/dev/null
"$H2C" explore examples/llama3-8b.h2 -q --top 5 --stream --csv "$T/s.csv" 2>/dev/null
head -1 "$T/s.csv" | grep -q ',configs,rank,pareto$' || { echo "FAIL: the streamed CSV's header"; fail=1; }
[ "$(awk -F, 'NR > 1 && $(NF - 1) != ""' "$T/s.csv" | wc -l)" = 5 ] || { echo "FAIL: not 5 ranked designs"; fail=1; }
awk -F, 'NR > 1 { print $(NF - 1) }' "$T/s.csv" | grep . | sort -n | tr '\n' ' ' | grep -qx '1 2 3 4 5 ' ||
    { echo "FAIL: the ranks are not 1..5"; fail=1; }
# each streamed row is the plain CSV's row for that design
awk -F, 'NR == FNR { row[$1] = $0; next } FNR > 1 {
        line = $0; sub(/,[^,]*,[^,]*$/, "", line)
        if (row[$1] != line) { print "FAIL: design " $1 " differs from its row in the plain CSV"; bad = 1 } }
    END { exit bad }' "$T/plain.csv" "$T/s.csv" || fail=1
# the front: the table's best designs by latency and energy, as the report lists it
"$H2C" explore examples/llama3-8b.h2 --top 5 --stream >"$T/s.txt" 2>/dev/null
front=$(awk '/^Pareto front/ { on = 1; next } on && /^ +[0-9]+ / { print $1 } on && !/^ / { on = 0 }' "$T/s.txt" | sort -n | tr '\n' ' ')
flagged=$(awk -F, 'NR > 1 && $NF == 1 { print $1 }' "$T/s.csv" | sort -n | tr '\n' ' ')
[ -n "$front" ] && [ "$front" = "$flagged" ] || { echo "FAIL: the CSV's front ($flagged) is not the report's ($front)"; fail=1; }

# 4.4e12 distinct designs: sampled with a budget, refused without one (tests/explore/bad/stream-too-large)
"$H2C" explore --stream tests/explore/bad/stream-too-large.h2 --evaluations 100 >"$T/big.txt" 2>/dev/null ||
    { echo "FAIL: sampling 4.4e12 designs exits $?"; fail=1; }
grep -q 'searched 100 of 4,398,046,511,104 distinct designs' "$T/big.txt" || { echo "FAIL: the sample's summary"; fail=1; }
[ "$fail" = 0 ] && echo "streaming keeps the plain run's table, front and best, whatever the threads and chunks"
exit $fail

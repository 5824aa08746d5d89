#!/bin/sh
# An evaluation budget stops the exploration early and still reports (and writes) the best so far,
# and says what stopped it. usage: budget.sh H2C
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$h2c" explore examples/llama3-8b.h2 --evaluations 5 --top 1 --write-hw "$d/best.h2" > "$d/out"
grep -q 'searched 5 of 64 distinct designs (7.81%)' "$d/out"
grep -q 'stopped by --evaluations 5: the best so far is below' "$d/out"
grep -q '^best: design [0-9]*,' "$d/out"
"$h2c" check -q "$d/best.h2"
# a time budget too short for more than one design says so (the first design is always searched)
"$h2c" explore examples/llama3-8b.h2 --budget 0.000001s --threads 1 --top 1 > "$d/out"
grep -q 'stopped by --budget 1e-06 s: the best so far is below' "$d/out"
echo "the budget stops the search, keeps the best so far and says what stopped it"

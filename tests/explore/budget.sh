#!/bin/sh
# An evaluation budget stops the exploration early and still reports (and writes) the best so far.
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$h2c" explore examples/llama3-8b.h2 --evaluations 5 --top 1 --write-hw "$d/best.h2" > "$d/out"
grep -q 'searched 5 in' "$d/out"
grep -q 'stopped by the budget' "$d/out"
grep -q '^best: design [0-4],' "$d/out"
"$h2c" check -q "$d/best.h2"
echo "the budget stops the search and keeps the best so far"

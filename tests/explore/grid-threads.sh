#!/bin/sh
# The reproduction grid is the same with 1 and 2 threads (one model, to keep it short).
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$h2c" explore --reproduce-h2llm examples/llama3-8b.h2 -q --threads 1 --csv "$d/a.csv"
"$h2c" explore --reproduce-h2llm examples/llama3-8b.h2 -q --threads 2 --csv "$d/b.csv"
cmp "$d/a.csv" "$d/b.csv"
test "$(wc -l < "$d/a.csv")" -eq 109   # a header and 12 points x 9 designs
echo "the grid does not depend on the thread count"

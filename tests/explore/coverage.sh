#!/bin/sh
# A budget-limited exploration visits designs in an order that reaches every value of every axis
# early (not in index order, which saw only nmp.channels = 2 first), says how much of the space it
# searched, and is the same for any thread count. A space of more distinct designs than h2c explores
# (200,000) is sampled with --evaluations. usage: coverage.sh H2C
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$h2c" explore examples/llama3-8b.h2 --evaluations 16 --top 1 > "$d/out"
grep -q 'searched 16 of 64 distinct designs (25%), every value of every axis at least once, in' "$d/out"
grep -q 'stopped by --evaluations 16' "$d/out"
"$h2c" explore examples/llama3-8b.h2 --evaluations 4 --top 1 > "$d/out"
grep -q 'searched 4 of 64 distinct designs (6.25%), not yet every value of every axis (pe 4 of 16), in' "$d/out"
# the four values of nmp.channels are all among the first four designs
"$h2c" explore examples/llama3-8b.h2 --evaluations 4 -q --csv "$d/four.csv"
test "$(awk -F, 'NR > 1 && $4 == 1 { print $15 }' "$d/four.csv" | sort -u | wc -l)" -eq 4
# the explore block's own budget is named as such
"$h2c" explore tests/explore/block-evaluations.h2 --top 1 > "$d/out"
grep -q 'searched 7 of 16 distinct designs (43.8%), every value of every axis at least once' "$d/out"
grep -q "stopped by the explore block's evaluations = 7" "$d/out"
# 1,024,000 distinct designs: a sample of 100, the same with 1 and 2 threads
"$h2c" explore tests/explore/bad/space-too-large.h2 --evaluations 100 --threads 1 -q --csv "$d/a.csv"
"$h2c" explore tests/explore/bad/space-too-large.h2 --evaluations 100 --threads 2 --csv "$d/b.csv" > "$d/out"
grep -q 'searched 100 of 1,024,000 distinct designs (0.00977%), every value of every axis at least once' "$d/out"
cut -d, -f1-32 "$d/a.csv" > "$d/a"
cut -d, -f1-32 "$d/b.csv" > "$d/b"
cmp "$d/a" "$d/b"
test "$(wc -l < "$d/a.csv")" -eq 101
echo "a budget sees every axis early and says how much it searched"

#!/bin/sh
# h2c explore gives the same designs, in the same order, with the same numbers, for 1 and 2 threads
# and for two runs; only the search-time column may differ. usage: determinism.sh H2C
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
for cm in h2c h2llm-artifact; do
  "$h2c" explore examples/llama3-8b.h2 --cost-model $cm --threads 1 -q --csv "$d/a.csv"
  "$h2c" explore examples/llama3-8b.h2 --cost-model $cm --threads 2 -q --csv "$d/b.csv"
  "$h2c" explore examples/llama3-8b.h2 --cost-model $cm --threads 2 -q --csv "$d/c.csv"
  for f in a b c; do cut -d, -f1-32 "$d/$f.csv" > "$d/$f.cut"; done
  cmp "$d/a.cut" "$d/b.cut"
  cmp "$d/b.cut" "$d/c.cut"
  "$h2c" explore examples/llama3-8b.h2 --cost-model $cm --threads 1 --top 1 > "$d/a.txt"
  "$h2c" explore examples/llama3-8b.h2 --cost-model $cm --threads 2 --top 1 > "$d/b.txt"
  grep '^best:' "$d/a.txt" > "$d/a.best"
  grep '^best:' "$d/b.txt" > "$d/b.best"
  cmp "$d/a.best" "$d/b.best"
done
echo "explore is deterministic"

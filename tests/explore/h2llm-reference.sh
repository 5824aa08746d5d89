#!/bin/sh
# The searched designs of the H2-LLM evaluation, under h2llm-artifact, are at least as fast as the
# artifact's own results (reference/h2llm-artifact.md §7.3: b=4, sg, seconds per layer): H2-LLM,
# CC-NMP, ID-NMP+ and H2-LLM-Full, for opt-6.7b, llama3-8b and palm-8b. usage: h2llm-reference.sh H2C
set -eu
h2c=$1
csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
"$h2c" explore --reproduce-h2llm examples/opt-6.7b.h2 examples/llama3-8b.h2 examples/palm-8b.h2 -q --csv "$csv"
# model, design, the artifact's total (§7.3)
awk -F, '
BEGIN {
  ref["opt_6_7b,H2-LLM"] = 0.0560163908021591;       ref["llama3_8b,H2-LLM"] = 0.05803831432788877;
  ref["palm_8b,H2-LLM"] = 0.05832706216286832;       ref["opt_6_7b,CC-NMP"] = 0.060996427522310825;
  ref["llama3_8b,CC-NMP"] = 0.06028726835963255;     ref["palm_8b,CC-NMP"] = 0.062318500599887805;
  ref["opt_6_7b,ID-NMP+"] = 0.2871829900904273;      ref["llama3_8b,ID-NMP+"] = 0.27899250445029966;
  ref["palm_8b,ID-NMP+"] = 0.2973176991417091;       ref["opt_6_7b,H2-LLM-Full"] = 0.04406183626754929;
  ref["llama3_8b,H2-LLM-Full"] = 0.045450319524634276; ref["palm_8b,H2-LLM-Full"] = 0.046820272382959334;
  ref["opt_6_7b,CP"] = 1.37738583; ref["llama3_8b,CP"] = 1.33321189; ref["palm_8b,CP"] = 1.40688943;
  bad = 0; seen = 0
}
$2 == "sg" && $5 == 4 && (($1 "," $6) in ref) {
  key = $1 "," $6; seen++
  want = ref[key]; got = $7 + 0
  ok = got <= want * (1 + 1e-8)
  printf "%-24s h2c %.17g  artifact %.17g  %s\n", key, got, want, ok ? "ok" : "SLOWER"
  if (!ok) bad++
}
END { if (seen != 15) { print "expected 15 rows, saw " seen; exit 1 } exit bad > 0 }' "$csv"

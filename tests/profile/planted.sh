#!/bin/sh
# h2c profile recovers planted head patterns exactly (issue 10's "Done when"): synthetic calibration
# data (gen_planted.c) plants local heads (attention on the sinks and the recent window) and retrieval
# heads (attention on a far needle); with static_heads = 50% the static heads must be exactly the
# planted local ones, each head's output error must be reported (small for the planted plan), and a
# plan that makes retrieval heads static must show large errors for them. The CSV it writes, named as
# a sparsity block's profile, must give the same plan back.
# usage: planted.sh H2C GEN_PLANTED   (from the source root)
set -u
H2C=$1 GEN=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
mkdir "$T/calib"
"$GEN" "$T/calib" 2 8 4 32 512 32 4 32 7 >"$T/planted.csv" || { echo "FAIL: gen_planted"; exit 1; }

"$H2C" profile tests/profile/planted.h2 --calib "$T/calib" -o "$T/half.csv" 2>"$T/half.err" ||
    { echo "FAIL: h2c profile exits $?"; cat "$T/half.err"; exit 1; }
# the plan column against the planted kinds: local <-> static, retrieval <-> dynamic
got=$(grep -v '^#' "$T/half.csv" | sed 1d | cut -d, -f1,2,5 | sed 's/static$/local/; s/dynamic$/retrieval/')
if [ "$got" != "$(cat "$T/planted.csv")" ]; then
    echo "FAIL: the static heads are not the planted local heads"
    paste -d' ' "$T/planted.csv" "$T/half.csv"
    fail=1
fi
# every head has its error; the planted plan's are small
awk -F, '!/^#/ && NR > 1 && $1 != "layer" {
    if ($6 == "") { print "FAIL: no error for layer " $1 " head " $2; bad = 1 }
    else if ($6 + 0 > 0.05) { print "FAIL: layer " $1 " head " $2 " (" $5 "): error " $6 " under the planted plan"; bad = 1 }
} END { exit bad }' "$T/half.csv" || fail=1
grep -q 'largest error of a static head' "$T/half.err" || { echo "FAIL: no per-kind error in the report"; fail=1; }
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ .* static ' "$T/half.err")" = 4 ] || { echo "FAIL: the report does not list 4 static heads"; fail=1; }

# three quarters static: two planted retrieval heads become static, and their error is large
cat >"$T/most.h2" <<EOT
import "$PWD/tests/profile/planted.h2";
use sparsity most;
EOT
"$H2C" profile "$T/most.h2" --calib "$T/calib" -o "$T/most.csv" 2>"$T/most.err" ||
    { echo "FAIL: h2c profile (75%) exits $?"; cat "$T/most.err"; exit 1; }
grep -v '^#' "$T/most.csv" | sed 1d | paste -d, "$T/planted.csv" - | awk -F, '
    $3 == "retrieval" && $8 == "static" { n++; if ($9 + 0 < 0.3) { print "FAIL: a static retrieval head with a small error: " $0; bad = 1 } }
    $3 == "local" && $8 != "static" { print "FAIL: a planted local head not static at 75%: " $0; bad = 1 }
    END { if (n != 2) { print "FAIL: " n + 0 " retrieval heads static at 75%, expected 2"; bad = 1 } exit bad }' || fail=1

# the CSV read back as a profile gives the same plan
cp "$T/half.csv" "$T/heads.csv"
cat >"$T/back.h2" <<EOT
import "$PWD/tests/profile/planted.h2";
sparsity back {
  static { sink = 4 tokens; window = 32 tokens; }
  dynamic { page = 16 tokens; budget = 64 tokens; }
  static_heads = 50%; dense_layers = 0; profile = "heads.csv";
}
use sparsity back;
EOT
"$H2C" profile "$T/back.h2" -o "$T/back.csv" 2>"$T/back.err" || { echo "FAIL: reading the profile back"; cat "$T/back.err"; exit 1; }
if [ "$(sed 1d "$T/back.csv" | cut -d, -f1,2,4)" != "$(grep -v '^#' "$T/half.csv" | sed 1d | cut -d, -f1,2,5)" ]; then
    echo "FAIL: the profile read back gives another plan"
    fail=1
fi
[ "$fail" = 0 ] && echo "planted patterns recovered exactly: $(grep -c local "$T/planted.csv") local, $(grep -c retrieval "$T/planted.csv") retrieval heads"
exit $fail

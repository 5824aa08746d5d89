#!/bin/sh
# Sweep axes beyond hardware and context: models (from imports), workloads and batch sizes, with a
# hardware axis. The CSV has one row per point, with its model, workload and batch; each point is its
# model at its workload and batch explored alone, bit for bit; the result is the same for 1 and 2
# threads, and streamed. usage: sweep-axes.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
cat >"$T/multi.h2" <<EOT
import "$PWD/examples/llama3-8b.h2";
import "$PWD/examples/opt-6.7b.h2";
use model llama3_8b;
explore multi {
  nmp.channels = [4, 8];
  models = [llama3_8b, opt_6_7b];
  workloads = [sg, lb];
  batch = [1, 16];
}
use explore multi;
EOT
"$H2C" explore "$T/multi.h2" --threads 1 --csv "$T/a.csv" >"$T/a.txt" 2>"$T/err" ||
    { echo "FAIL: the sweep exits $?"; cat "$T/err"; exit 1; }
"$H2C" explore "$T/multi.h2" --threads 2 -q --csv "$T/b.csv" 2>/dev/null
"$H2C" explore "$T/multi.h2" --threads 2 -q --stream --chunk 1 --csv "$T/c.csv" 2>/dev/null
cmp -s "$T/a.csv" "$T/b.csv" || { echo "FAIL: the sweep depends on the thread count"; fail=1; }
cmp -s "$T/a.csv" "$T/c.csv" || { echo "FAIL: the streamed sweep differs"; fail=1; }
grep -q '^sweep: 8 points (2 models x 2 workloads x 2 batch); each point on the best device of the hardware space at its model, workload and batch size$' "$T/a.txt" ||
    { echo "FAIL: the sweep line"; sed -n 3p "$T/a.txt"; fail=1; }
grep -q '^explore: models llama3_8b, opt_6_7b, workloads sg, lb (batch swept), ' "$T/a.txt" ||
    { echo "FAIL: the explore line"; head -1 "$T/a.txt"; fail=1; }
[ "$(wc -l <"$T/a.csv")" = 9 ] || { echo "FAIL: $(wc -l <"$T/a.csv") lines, want a header and 8 points"; fail=1; }
# the rows, last axis fastest: model, workload, batch
got=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    { printf "%s/%s/%s ", $h["model"], $h["workload"], $h["batch"] }' "$T/a.csv")
want="llama3_8b/sg/1 llama3_8b/sg/16 llama3_8b/lb/1 llama3_8b/lb/16 opt_6_7b/sg/1 opt_6_7b/sg/16 opt_6_7b/lb/1 opt_6_7b/lb/16 "
[ "$got" = "$want" ] || { echo "FAIL: the points are $got"; fail=1; }
# each point is its model, workload and batch explored alone over the same hardware axis
for pt in "opt_6_7b lb 16" "llama3_8b sg 1" "opt_6_7b sg 1"; do
    set -- $pt
    printf 'import "%s/multi.h2";\nexplore alone { nmp.channels = [4, 8]; }\nuse explore alone;\nuse model %s;\n' \
        "$T" "$1" >"$T/alone.h2"
    "$H2C" explore "$T/alone.h2" --workload "$2" --batch "$3" -q --csv "$T/alone.csv" 2>/dev/null ||
        { echo "FAIL: $pt alone exits $?"; fail=1; continue; }
    alone=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        $h["feasible"] == 1 && (b == "" || $h["total_s"] + 0 < b + 0) { b = $h["total_s"] }
        END { printf "%.17g", b }' "$T/alone.csv")
    swept=$(awk -F, -v m="$1" -v w="$2" -v b="$3" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        $h["model"] == m && $h["workload"] == w && $h["batch"] == b { printf "%.17g", $h["total_s"] }' "$T/a.csv")
    [ -n "$alone" ] && [ "$alone" = "$swept" ] || { echo "FAIL: point $pt: $swept in the sweep, $alone alone"; fail=1; }
done
[ "$fail" = 0 ] && echo "models x workloads x batch sizes: a row per point, each its workload explored alone"
exit $fail

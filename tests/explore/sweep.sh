#!/bin/sh
# Sweeps (explore blocks with context and sparsity axes): the example's table over contexts 4k..128k
# has a row per point with its sweep values, max_seq follows the context, the decode cost grows with
# it, and so does the speedup of the sparse plan over the dense HB baseline (the ablation hook); a point priced through the sweep equals the same workload explored without one, bit for
# bit; the result does not depend on the thread count; with hardware axes too, each point gets the
# best device at its context; and the committed gnuplot script draws the CSV (when gnuplot is there).
# usage: sweep.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$H2C" explore examples/llama3-8b-longctx.h2 -q --threads 2 --csv "$T/s.csv" 2>"$T/err" ||
    { echo "FAIL: explore of the long-context example exits $?"; cat "$T/err"; exit 1; }
[ "$(wc -l <"$T/s.csv")" = 55 ] || { echo "FAIL: $(wc -l <"$T/s.csv") lines, want a header and 54 points"; fail=1; }
head -1 "$T/s.csv" | grep -q '^point,context,prompt,generate,max_seq,batch,static_heads,sink,window,page,budget,' ||
    { echo "FAIL: the CSV's sweep columns"; fail=1; }
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    $h["max_seq"] != $h["context"] + 256 { print "FAIL: max_seq does not follow the context: " $0; bad = 1 }
    $h["feasible"] != 1 || $h["ablation"] != "plan" || $h["speedup"] <= 1 || $h["energy_gain"] <= 1 {
        print "FAIL: point " $1 ": feasible, ablation, speedup, energy gain: " $h["feasible"] " " $h["ablation"] " " $h["speedup"] " " $h["energy_gain"]; bad = 1 }
    { key = $h["static_heads"] "/" $h["budget"]
      if (key in last && $h["decode_step_s"] <= last[key]) { print "FAIL: decode does not grow with the context at " key; bad = 1 }
      if (key in gain && $h["speedup"] <= gain[key]) { print "FAIL: the speedup does not grow with the context at " key; bad = 1 }
      last[key] = $h["decode_step_s"]; gain[key] = $h["speedup"]; n[$h["context"]]++ }
    END { for (c in n) if (n[c] != 9) { print "FAIL: context " c " has " n[c] " points"; bad = 1 } exit bad }' "$T/s.csv" || fail=1

# the table: one row per point, the ratios' note
"$H2C" explore examples/llama3-8b-longctx.h2 --threads 2 >"$T/table" 2>/dev/null
grep -q '^sweep: 54 points (6 context x 3 static_heads x 3 dynamic.budget)' "$T/table" || { echo "FAIL: the sweep line"; fail=1; }
[ "$(grep -cE '^ +[0-9]+ +[0-9]+ +[0-9]+% +[0-9]+ ' "$T/table")" = 54 ] || { echo "FAIL: the table's rows"; fail=1; }
grep -q "the dense HB baseline's decode time and energy over the full sparse plan's" "$T/table" || { echo "FAIL: the note on the ratios"; fail=1; }

# a point of a sweep is the same workload explored without it, bit for bit (hardware axes too)
cat >"$T/one.h2" <<EOT
import "$PWD/examples/llama3-8b.h2";
explore swept { nmp.channels = [2, 4, 6, 8]; context = [32768, 8192]; }
explore plain { nmp.channels = [2, 4, 6, 8]; }
EOT
printf 'import "%s/one.h2";\nuse workload lc32k;\nuse explore swept;\n' "$T" >"$T/swept.h2"
printf 'import "%s/one.h2";\nuse workload lc32k;\nuse explore plain;\n' "$T" >"$T/plain.h2"
"$H2C" explore "$T/swept.h2" -q --threads 1 --csv "$T/swept1.csv" 2>/dev/null || { echo "FAIL: explore swept"; fail=1; }
"$H2C" explore "$T/swept.h2" -q --threads 2 --csv "$T/swept2.csv" 2>/dev/null || { echo "FAIL: explore swept"; fail=1; }
cmp -s "$T/swept1.csv" "$T/swept2.csv" || { echo "FAIL: the sweep depends on the thread count"; fail=1; }
"$H2C" explore "$T/plain.h2" -q --csv "$T/plain.csv" 2>/dev/null || { echo "FAIL: explore plain"; fail=1; }
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    $h["feasible"] == 1 && (b == "" || $h["total_s"] + 0 < b + 0) { b = $h["total_s"]; nmp = $h["nmp.channels"] }
    END { print nmp, b }' "$T/plain.csv")
point=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next } $h["context"] == 32768 {
    printf "%s %.17g\n", $h["nmp.channels"], $h["total_s"] }' "$T/swept1.csv")
best=$(echo "$best" | awk '{ printf "%s %.17g\n", $1, $2 }')
[ "$best" = "$point" ] || { echo "FAIL: the 32k point ($point) is not lc32k explored alone ($best)"; fail=1; }
[ "$(wc -l <"$T/swept1.csv")" = 3 ] || { echo "FAIL: two points expected"; fail=1; }
"$H2C" explore "$T/swept.h2" --threads 2 >"$T/swept.txt" 2>/dev/null
grep -q 'each point on the best device of the hardware space at its context' "$T/swept.txt" &&
    grep -qE '^ +0 +32768 +nmp.channels=[0-9]' "$T/swept.txt" || { echo "FAIL: the device column"; cat "$T/swept.txt"; fail=1; }

# the committed plot script draws the example's CSV
if command -v gnuplot >/dev/null 2>&1; then
    mkdir "$T/plots"
    gnuplot -e "csv='$T/s.csv'; out='$T/plots'" tools/plot-sweep.gp 2>"$T/gp.err" || { echo "FAIL: gnuplot"; cat "$T/gp.err"; fail=1; }
    for f in sweep decode; do
        grep -q '<svg' "$T/plots/$f.svg" 2>/dev/null || { echo "FAIL: no $f.svg"; fail=1; }
    done
else
    echo "(gnuplot not found: the plot script is not run)"
fi
[ "$fail" = 0 ] && echo "sweeps: 54 points over 4k..128k, a point equals its workload explored alone, threads agree"
exit $fail

#!/bin/sh
# h2c run's command line: bad uses exit 2 with the option named, bad inputs exit 1 with a located
# error, and nothing is written when a run fails. usage: cli.sh H2C SRC OUTDIR
set -u
H2C=$1 SRC=$2 OUT=$3
rm -rf "$OUT" && mkdir -p "$OUT"
fail=0
expect() {  # expect STATUS PATTERN ARGS...: h2c run ARGS exits STATUS and its stderr holds PATTERN
    want=$1 pat=$2
    shift 2
    rc=0
    "$H2C" run "$@" >"$OUT/out" 2>"$OUT/err" || rc=$?
    if [ "$rc" != "$want" ] || ! grep -q -- "$pat" "$OUT/err"; then
        echo "FAIL: h2c run $* exits $rc (want $want), stderr:"; cat "$OUT/err"; fail=1
    fi
}
tiny=$SRC/examples/tiny.h2
"$H2C" compile "$tiny" -o "$OUT/" -q
expect 2 "--steps needs a whole number" "$tiny" --steps x
expect 2 "--numerics is on or off" "$tiny" --numerics maybe
expect 2 "the option needs a value" "$tiny" --trace
expect 2 "--batch with a schedule" "$OUT/tiny.schedule.json" --batch 3
expect 1 "pass the 64 tokens the schedule holds" "$tiny" --steps 100
expect 1 "sequence 1 has 1 tokens" "$tiny" --prompt-tokens "1,2;3"
expect 1 "outside the vocabulary" "$tiny" --prompt-tokens "1,2,999"
expect 1 "takes no --check" "$tiny" --numerics off --check
expect 1 "cannot open" "$OUT/missing.h2"
expect 1 "is not an h2c schedule" "$SRC/docs/schedule.schema.json"
expect 1 "tolerance 1.0e-09" "$tiny" --steps 1 --check --tolerance 1e-9
# a failed run leaves no output file
expect 1 "tolerance" "$tiny" --steps 1 --check --tolerance 1e-9 --dump-logits "$OUT/l.npy"
[ ! -e "$OUT/l.npy" ] || { echo "FAIL: a failed --check wrote its logits"; fail=1; }
exit $fail

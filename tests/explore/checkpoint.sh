#!/bin/sh
# Checkpoints: an exploration killed (SIGKILL, through the H2C_TEST_KILL_AFTER_CHUNKS hook) after a
# random number of chunks, for several seeds, and restarted with the same command, ends with the same
# report and the same CSV, byte for byte, as a run never stopped: streamed and plain, once or twice
# killed; a finished checkpoint gives the same again. A checkpoint of another exploration, with other
# options, damaged, truncated, not a checkpoint, or not a regular file is refused with the reason.
# usage: checkpoint.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
space=tests/explore/bad/space-too-large.h2
report() { sed 2d "$1"; }
summary() { sed -n 2p "$1" | sed 's/ in [0-9.]* s on .*//'; }
# a number in [1, n] from a seed
pick() { awk -v s="$1" -v n="$2" 'BEGIN { srand(s); print 1 + int(rand() * n) }'; }

resume_case() { # resume_case NAME SEED KILLS CHUNK MAXN ARGS...: killed KILLS times, each after 1..MAXN chunks
    name=$1 seed=$2 kills=$3 chunk=$4 maxn=$5
    shift 5
    "$H2C" explore "$@" --threads 2 --csv "$T/want.csv" >"$T/want.txt" 2>/dev/null ||
        { echo "FAIL: $name: the run without a checkpoint exits $?"; fail=1; return; }
    rm -f "$T/ck"
    k=0
    while [ "$k" -lt "$kills" ]; do
        n=$(pick "$seed$k" "$maxn")
        H2C_TEST_KILL_AFTER_CHUNKS=$n "$H2C" explore "$@" --threads 2 --checkpoint "$T/ck" --checkpoint-every 0 \
            --chunk "$chunk" --csv "$T/got.csv" >"$T/got.txt" 2>"$T/err"
        rc=$?
        [ "$rc" = 137 ] || { echo "FAIL: $name: the run to be killed after $n chunks exits $rc"; cat "$T/err"; fail=1; }
        k=$((k + 1))
    done
    [ -f "$T/ck" ] || { echo "FAIL: $name: no checkpoint was written"; fail=1; return; }
    "$H2C" explore "$@" --threads 1 --checkpoint "$T/ck" --csv "$T/got.csv" >"$T/got.txt" 2>"$T/err" ||
        { echo "FAIL: $name: the resumed run exits $?"; cat "$T/err"; fail=1; return; }
    grep -q 'resumed from a checkpoint' "$T/got.txt" || { echo "FAIL: $name: the report does not say it resumed"; fail=1; }
    report "$T/want.txt" >"$T/a"
    report "$T/got.txt" >"$T/b"
    cmp -s "$T/a" "$T/b" || { echo "FAIL: $name (seed $seed): the resumed report differs"; diff "$T/a" "$T/b" | head; fail=1; }
    cmp -s "$T/want.csv" "$T/got.csv" || { echo "FAIL: $name (seed $seed): the resumed CSV differs"; fail=1; }
    # the summary line (how much was searched, what stopped it) but for the time
    summary "$T/want.txt" >"$T/a"
    summary "$T/got.txt" >"$T/b"
    cmp -s "$T/a" "$T/b" || { echo "FAIL: $name (seed $seed): the summary differs"; cat "$T/a" "$T/b"; fail=1; }
    ls "$T" | grep -q '^ck\.tmp\.' && { echo "FAIL: $name: a temporary checkpoint is left"; fail=1; }
}
for seed in 1 2 3; do
    resume_case stream $seed 1 25 50 $space --evaluations 1500 --stream --top 5
    resume_case plain $seed 1 25 20 $space --evaluations 600
done
resume_case stream-twice 7 2 25 25 $space --evaluations 1500 --stream
resume_case sweep 4 1 1 5 examples/llama3-8b-longctx.h2 --stream
# a finished checkpoint: the same again, nothing left to search
good=$T/good
"$H2C" explore $space --evaluations 600 --checkpoint "$good" --csv "$T/want.csv" >/dev/null 2>&1 ||
    { echo "FAIL: a run with a checkpoint exits $?"; fail=1; }
"$H2C" explore $space --evaluations 600 --checkpoint "$good" --csv "$T/again.csv" >"$T/again.txt" 2>/dev/null ||
    { echo "FAIL: a finished checkpoint exits $?"; fail=1; }
cmp -s "$T/want.csv" "$T/again.csv" || { echo "FAIL: a finished checkpoint gives another CSV"; fail=1; }
grep -q 'searched 600 of 1,024,000 distinct designs' "$T/again.txt" || { echo "FAIL: a finished checkpoint's count"; fail=1; }

# refused checkpoints, each with its reason (and the file left as it was)
refused() { # refused NAME PATTERN ARGS...
    name=$1 pattern=$2
    shift 2
    "$H2C" explore "$@" >/dev/null 2>"$T/err"
    rc=$?
    [ "$rc" = 1 ] || { echo "FAIL: $name: exits $rc, not 1"; fail=1; }
    grep -q "$pattern" "$T/err" || { echo "FAIL: $name: no '$pattern' in:"; cat "$T/err"; fail=1; }
}
cp "$good" "$T/keep"
refused "another input" "is of another exploration (model small" examples/llama3-8b.h2 --checkpoint "$good"
cmp -s "$good" "$T/keep" || { echo "FAIL: a refused checkpoint was changed"; fail=1; }
refused "other options" "the same in words, but its input, space or options differ" $space --evaluations 600 --top 3 \
    --checkpoint "$good"
refused "another cost model" "is of another exploration" $space --evaluations 600 --cost-model h2llm-artifact \
    --checkpoint "$good"
size=$(wc -c <"$good")
head -c $((size / 2)) "$good" >"$T/half"
refused truncated "is damaged (its checksum does not match" $space --evaluations 600 --checkpoint "$T/half"
cp "$good" "$T/flip"
printf 'Z' | dd of="$T/flip" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
refused "a byte changed" "is damaged" $space --evaluations 600 --checkpoint "$T/flip"
echo "design,stands_for" >"$T/text"
refused "not a checkpoint" "is not an h2c explore checkpoint" $space --evaluations 600 --checkpoint "$T/text"
: >"$T/empty"
refused "empty" "is not an h2c explore checkpoint" $space --evaluations 600 --checkpoint "$T/empty"
mkdir "$T/dir"
refused "a directory" "is not a regular file" $space --evaluations 600 --checkpoint "$T/dir"
mkfifo "$T/fifo" 2>/dev/null && refused "a FIFO" "is not a regular file" $space --evaluations 600 --checkpoint "$T/fifo"
# a checkpoint in use: the second run waits a moment, then says so
"$H2C" explore $space --evaluations 200000 --stream --checkpoint "$T/busy" --threads 1 >/dev/null 2>&1 &
pid=$!
sleep 0.3
refused "in use" "is in use by another h2c explore" $space --evaluations 200000 --stream --checkpoint "$T/busy"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$fail" = 0 ] && echo "killed and resumed: the same report and CSV; foreign and damaged checkpoints refused"
exit $fail

#!/bin/sh
# h2c-mpi killed and restarted with the same command ends with h2c's report and CSV, byte for byte:
# one rank (rank 0, or another) killed with SIGKILL after a random number of chunks (several seeds,
# through the H2C_TEST_KILL_AFTER_CHUNKS hook), every rank killed at once, and mpirun itself killed;
# resumed on another number of ranks too, streamed and plain. A checkpoint of another exploration
# is refused, said once. usage: mpi-resume.sh H2C H2C_MPI MPIRUN   (from the source root; as root,
# OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment)
set -u
H2C=$1 H2C_MPI=$2 MPIRUN=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
space=tests/explore/bad/space-too-large.h2
summary() { sed -n 2p "$1" | sed 's/ in [0-9.]* s on .*//'; }
pick() { awk -v s="$1" -v n="$2" 'BEGIN { srand(s); print 1 + int(rand() * n) }'; }
mpi() { # mpi NP ARGS...
    np=$1
    shift
    "$MPIRUN" --oversubscribe -np "$np" "$H2C_MPI" "$@"
}
want() { # want ARGS...: h2c's result, never stopped
    "$H2C" explore "$@" --csv "$T/want.csv" >"$T/want.txt" 2>/dev/null || { echo "FAIL: h2c $* exits $?"; fail=1; }
    sed 2d "$T/want.txt" >"$T/want.report"
}
resumed() { # resumed NAME NP ARGS...: resume on NP ranks and compare with want
    name=$1 np=$2
    shift 2
    mpi "$np" explore "$@" --checkpoint "$T/ck" --csv "$T/got.csv" >"$T/got.txt" 2>"$T/err" ||
        { echo "FAIL: $name: the resumed run exits $?"; cat "$T/err"; fail=1; return; }
    grep -q 'resumed from a checkpoint' "$T/got.txt" || { echo "FAIL: $name: it did not resume"; fail=1; }
    sed 2d "$T/got.txt" >"$T/got.report"
    cmp -s "$T/want.csv" "$T/got.csv" || { echo "FAIL: $name: the resumed CSV differs"; fail=1; }
    summary "$T/want.txt" >"$T/a"
    summary "$T/got.txt" >"$T/b"
    cmp -s "$T/a" "$T/b" || { echo "FAIL: $name: the summary differs"; cat "$T/a" "$T/b"; fail=1; }
    cmp -s "$T/want.report" "$T/got.report" ||
        { echo "FAIL: $name: the resumed report differs"; diff "$T/want.report" "$T/got.report" | head; fail=1; }
}

# a rank killed after a random number of chunks: rank 0 (which merges) or rank 1; resumed on 1, 2 or 4
args="$space --evaluations 1500 --stream --top 5"
want $args
for seed in 1 2 3; do
    n=$(pick "$seed" 25)
    victim=$((seed % 2))
    rm -f "$T/ck"
    H2C_TEST_KILL_AFTER_CHUNKS=$n:$victim mpi 2 explore $args --chunk 25 --checkpoint "$T/ck" --checkpoint-every 0 \
        >/dev/null 2>"$T/err" && { echo "FAIL: seed $seed: rank $victim was not killed after $n chunks"; fail=1; }
    resumed "rank $victim killed after $n chunks" "$(echo "1 4 2" | cut -d' ' -f$seed)" $args
done
# the same for a plain run (every design kept, and sent)
args="$space --evaluations 800"
want $args
rm -f "$T/ck"
H2C_TEST_KILL_AFTER_CHUNKS=$(pick 9 20):1 mpi 2 explore $args --chunk 20 --checkpoint "$T/ck" --checkpoint-every 0 \
    >/dev/null 2>&1 && { echo "FAIL: plain: rank 1 was not killed"; fail=1; }
resumed "plain, rank 1 killed" 2 $args

# every rank killed at once, and mpirun killed: from outside, a moment into a longer run
args="$space --evaluations 12000 --stream --top 5"
want $args
for what in ranks mpirun; do
    rm -f "$T/ck"
    mpi 2 explore $args --checkpoint "$T/ck" --checkpoint-every 0 >/dev/null 2>&1 &
    pid=$!
    # wait for the first checkpoint
    i=0
    while [ ! -s "$T/ck" ] && [ $i -lt 400 ]; do sleep 0.02; i=$((i + 1)); done
    ranks=$(pgrep -P "$pid")
    if [ "$what" = ranks ]; then
        kill -9 $ranks 2>/dev/null
    else
        kill -9 "$pid"
    fi
    wait "$pid" 2>/dev/null && { echo "FAIL: killing the $what did not stop the run"; fail=1; }
    # ranks orphaned by a killed mpirun end by themselves (a second or two: they lose mpirun's
    # connection), and hold the checkpoint's lock until then: a restart before that is refused
    i=0
    while [ $i -lt 300 ]; do
        alive=""
        for r in $ranks; do kill -0 "$r" 2>/dev/null && alive="$alive $r"; done
        [ -z "$alive" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    [ -z "$alive" ] || { echo "FAIL: the ranks of the killed $what still run after 30 s:$alive"; kill -9 $alive; fail=1; }
    [ -s "$T/ck" ] || { echo "FAIL: no checkpoint before the $what were killed"; fail=1; }
    resumed "the $what killed" 2 $args
done

# a checkpoint of another exploration: refused, said once
mpi 2 explore examples/llama3-8b.h2 --checkpoint "$T/ck" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || { echo "FAIL: a foreign checkpoint under h2c-mpi exits $rc"; fail=1; }
[ "$(grep -c 'is of another exploration' "$T/err")" = 1 ] || { echo "FAIL: the refusal is not said once"; cat "$T/err"; fail=1; }
[ "$fail" = 0 ] && echo "h2c-mpi killed (a rank, every rank, mpirun) and resumed: h2c's report and CSV"
exit $fail

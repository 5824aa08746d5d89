#!/bin/sh
# h2c-mpi under mpirun with 1, 2 and 4 ranks gives the report (but its timing line) and the CSV of the
# one-process h2c explore, byte for byte: the examples under both cost models, plain and streamed, the
# long-context sweep, a models x workloads x batch sweep, and a sample of a large space cut in many
# chunks (with 2 threads a rank too). Only rank 0 speaks: one copy of each warning, the progress line.
# usage: mpi.sh H2C H2C_MPI MPIRUN   (from the source root; as root, OMPI_ALLOW_RUN_AS_ROOT=1 and
# OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 in the environment)
set -u
H2C=$1 H2C_MPI=$2 MPIRUN=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
mpi() { # mpi NP ARGS...
    np=$1
    shift
    "$MPIRUN" --oversubscribe -np "$np" "$H2C_MPI" "$@"
}
summary() { sed -n 2p "$1" | sed 's/ in [0-9.]* s on .*//'; }
same() { # same NAME NPS ARGS...: h2c-mpi with each number of ranks against h2c
    name=$1 nps=$2
    shift 2
    "$H2C" explore "$@" --csv "$T/want.csv" >"$T/want.txt" 2>/dev/null || { echo "FAIL: $name: h2c exits $?"; fail=1; return; }
    sed 2d "$T/want.txt" >"$T/want.report"
    summary "$T/want.txt" >"$T/want.summary"
    for np in $nps; do
        mpi "$np" explore "$@" --csv "$T/got.csv" >"$T/got.txt" 2>"$T/err" ||
            { echo "FAIL: $name: h2c-mpi with $np ranks exits $?"; cat "$T/err"; fail=1; continue; }
        sed 2d "$T/got.txt" >"$T/got.report"
        summary "$T/got.txt" >"$T/got.summary"
        cmp -s "$T/want.csv" "$T/got.csv" || { echo "FAIL: $name: the CSV of $np ranks differs"; fail=1; }
        cmp -s "$T/want.report" "$T/got.report" ||
            { echo "FAIL: $name: the report of $np ranks differs"; diff "$T/want.report" "$T/got.report" | head; fail=1; }
        cmp -s "$T/want.summary" "$T/got.summary" || { echo "FAIL: $name: the summary of $np ranks differs"; fail=1; }
        if [ "$np" -gt 1 ]; then
            grep -q " on $np ranks x " "$T/got.txt" || { echo "FAIL: $name: the report does not name $np ranks"; fail=1; }
        fi
    done
}
same llama3-8b "1 4" examples/llama3-8b.h2
same llama3-8b-artifact-stream "2" examples/llama3-8b.h2 --cost-model h2llm-artifact --stream --top 20
same longctx-sweep "4" examples/llama3-8b-longctx.h2 --stream
same sample "1 2 4" tests/explore/bad/space-too-large.h2 --evaluations 3000 --stream --chunk 40 --top 5
same sample-threads "2" tests/explore/bad/space-too-large.h2 --evaluations 3000 --stream --chunk 40 --threads 2
same sample-plain "2" tests/explore/bad/space-too-large.h2 --evaluations 1000 --chunk 40
cat >"$T/multi.h2" <<EOT
import "$PWD/examples/llama3-8b.h2";
import "$PWD/examples/opt-6.7b.h2";
use model llama3_8b;
explore multi { nmp.channels = [4, 8]; models = [llama3_8b, opt_6_7b]; workloads = [sg, lb]; batch = [1, 16]; }
use explore multi;
EOT
same models-workloads-batch "4" "$T/multi.h2" --chunk 1

# only rank 0 speaks: the input's warning once, and the progress line
printf 'import "%s/examples/llama3-8b.h2";\nexplore dup { nmp.channels = [4, 8, 8]; pe = [(8, 400 MHz, 6.4 GB/s), (4, 1 GHz, 25.6 GB/s)]; }\nuse explore dup;\n' \
    "$PWD" >"$T/dup.h2"
mpi 4 explore "$T/dup.h2" -q --progress >/dev/null 2>"$T/err" || { echo "FAIL: h2c-mpi --progress exits $?"; fail=1; }
[ "$(grep -c "warning: duplicate candidate for 'nmp.channels' ignored" "$T/err")" = 1 ] ||
    { echo "FAIL: the warning is not said once"; cat "$T/err"; fail=1; }
tr '\r' '\n' <"$T/err" | grep -q '^explore: 4/4 designs' || { echo "FAIL: no progress line"; cat "$T/err"; fail=1; }
# an error in the input: said once, exit status 1
printf 'import "%s/examples/llama3-8b.h2";\nexplore bad { models = [llama3_8c]; }\nuse explore bad;\n' "$PWD" >"$T/bad.h2"
mpi 2 explore "$T/bad.h2" >/dev/null 2>"$T/err"
rc=$?
[ "$rc" = 1 ] || { echo "FAIL: a bad input under h2c-mpi exits $rc"; fail=1; }
[ "$(grep -c "no model block named 'llama3_8c'" "$T/err")" = 1 ] || { echo "FAIL: the error is not said once"; cat "$T/err"; fail=1; }
# other commands are h2c's
"$H2C_MPI" check examples/tiny.h2 >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "h2c-mpi runs 'explore' on MPI ranks" "$T/err" || { echo "FAIL: h2c-mpi check"; fail=1; }
[ "$fail" = 0 ] && echo "h2c-mpi on 1, 2 and 4 ranks: the same report and CSV as h2c"
exit $fail

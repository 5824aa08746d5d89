#!/bin/sh
# run.sh: runs libFuzzer harnesses for a while each (docs/fuzzing.md).
#   tests/fuzz/run.sh BUILD SECONDS [NAME...]      (default: every harness, one after another)
# BUILD is a build folder configured with -DH2C_FUZZ=ON. Each harness starts from its committed
# corpus (tests/fuzz/corpus/NAME, read only) and a work corpus WORK/NAME/corpus that keeps what it
# finds between runs (WORK: $FUZZ_WORK, else BUILD/fuzz-work); crash inputs go to WORK/NAME/
# (crash-*, leak-*, timeout-*), the log to WORK/NAME/log. Prints each run's final stats line, and exits 1
# if a harness found a crash, a leak, a timeout or an oracle failure.
set -u
cd "$(dirname "$0")/../.."
[ $# -ge 2 ] || { echo "usage: $0 BUILD SECONDS [NAME...]" >&2; exit 2; }
build=$1 secs=$2
shift 2
names=${*:-h2 ir npy safetensors hf compat schedule}
status=0
for n in $names; do
    bin=$build/tests/fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "run.sh: no $bin (configure $build with -DH2C_FUZZ=ON)" >&2; exit 2; }
    work=${FUZZ_WORK:-$build/fuzz-work}/$n
    case $work in /*) ;; *) work=$PWD/$work ;; esac
    mkdir -p "$work/corpus"
    # the harness's scratch folder goes in the work folder (TMPDIR)
    TMPDIR=$work "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -dict=tests/fuzz/dict/$n.dict -artifact_prefix="$work/" \
        "$work/corpus" "tests/fuzz/corpus/$n" > "$work/log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
    echo "fuzz_$n: ${execs:-?} execs, ${speed:-?}/s; $last"
    if [ $rc -ne 0 ]; then
        echo "fuzz_$n: exit status $rc; see $work/log and $work/" >&2
        grep -E 'ERROR|fuzz oracle failed|SUMMARY|Test unit written' "$work/log" | head -n 5 >&2
        status=1
    fi
done
exit $status

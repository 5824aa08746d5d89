#!/bin/sh
# One example's schedule: h2c compile writes it (and its kernels) into a folder; the runtime's reader
# accepts it; what the reader kept, written again (h2c validate --dump), is the same bytes; and, with
# MODE schema, it validates against docs/schedule.schema.json with Debian's python3-jsonschema
# (/usr/bin/python3; exit 77, skipped, without it).
# A placed module in IR (EXAMPLE.h2ir, after the pipeline) is scheduled by h2c opt --passes= instead.
# usage: example.sh MODE H2C EXAMPLE.h2 WORKDIR   (from the source root; MODE roundtrip or schema)
set -u
mode=$1 h2c=$2 ex=$3 work=$4
rm -rf "$work" && mkdir -p "$work" || exit 1
case $ex in
*.h2ir) name=$(basename "$ex" .h2ir)
        "$h2c" opt --passes= "$ex" -o "$work/" 2>"$work/err" || { cat "$work/err"; echo "FAIL: opt $ex"; exit 1; } ;;
*)      name=$(basename "$ex" .h2)
        "$h2c" compile -q "$ex" -o "$work/" 2>"$work/err" || { cat "$work/err"; echo "FAIL: compile $ex"; exit 1; } ;;
esac
sched=$work/$name.schedule.json
[ -s "$sched" ] && [ -s "$work/$name.kernels.c" ] || { echo "FAIL: no schedule or kernels in $work"; exit 1; }
case $mode in
roundtrip)
    "$h2c" validate "$sched" --dump "$work/again.json" || { echo "FAIL: the reader refuses $sched"; exit 1; }
    cmp "$sched" "$work/again.json" || { echo "FAIL: the reader's copy differs"; diff "$sched" "$work/again.json" | head; exit 1; }
    echo "$name: read back byte for byte ($(wc -c <"$sched") bytes)"
    ;;
schema)
    [ -x /usr/bin/python3 ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
    exec /usr/bin/python3 tests/schedule/schema_check.py docs/schedule.schema.json "$sched"
    ;;
esac

#!/bin/sh
# A corrupted schedule (tests/schedule/bad/CASE.edit applied to tiny's schedule by corrupt.c) is
# rejected by the runtime's reader with the error in CASE.err (the JSON path of what is wrong).
# usage: bad.sh H2C CORRUPT BASE.json CASE.edit CASE.err WORKDIR
set -u
h2c=$1 corrupt=$2 base=$3 edit=$4 err=$5 work=$6
case=$(basename "$edit" .edit)
mkdir -p "$work" || exit 1
"$corrupt" "$base" "$work/$case.json" "$edit" || { echo "FAIL: cannot apply $edit"; exit 1; }
cd "$work" || exit 1
exec sh "$(dirname "$0")/../golden.sh" 1 stderr "$err" -- "$h2c" validate "$case.json"

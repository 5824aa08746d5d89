#!/bin/sh
# Golden-file test: runs a command, compares one of its streams with a file and checks its exit
# status. usage: golden.sh EXIT STREAM GOLDEN -- COMMAND...
#   EXIT    expected exit status; STREAM stdout, stderr or both (stderr after stdout)
# With UPDATE_GOLDEN=1 the golden file is rewritten instead (then review the diff before committing).
set -u
want_rc=$1 stream=$2 golden=$3
shift 3
[ "$1" = "--" ] && shift
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
"$@" >"$out" 2>"$err"
rc=$?
case $stream in
  stdout) got=$out ;;
  stderr) got=$err ;;
  both)   cat "$err" >>"$out"; got=$out ;;
  *) echo "golden.sh: bad stream '$stream'"; exit 2 ;;
esac
if [ "${UPDATE_GOLDEN:-}" = 1 ]; then
  cp "$got" "$golden"
fi
fail=0
if [ "$rc" != "$want_rc" ]; then
  echo "exit status $rc, expected $want_rc: $*"
  echo "--- stderr:"; cat "$err"
  fail=1
fi
if ! diff -u "$golden" "$got"; then
  echo "output differs from $golden: $*"
  fail=1
fi
if [ "$rc" -ge 128 ]; then
  echo "crashed (signal $((rc - 128)))"
  fail=1
fi
exit $fail

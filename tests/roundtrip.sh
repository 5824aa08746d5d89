#!/bin/sh
# The IR's text form round-trips: for a .h2 input, compile it to IR and check that `h2c opt` reads it
# back and prints the same text; for a .h2ir input, check that printing what was read is a fixed
# point (opt(opt(x)) == opt(x)). usage: roundtrip.sh H2C FILE
set -u
h2c=$1 in=$2
a=$(mktemp) b=$(mktemp) c=$(mktemp)
trap 'rm -f "$a" "$b" "$c"' EXIT
case $in in
  *.h2) "$h2c" compile "$in" -o "$a" || { echo "compile failed: $in"; exit 1; } ;;
  *)    "$h2c" opt "$in" -o "$a" || { echo "opt failed: $in"; exit 1; } ;;
esac
"$h2c" opt "$a" -o "$b" || { echo "the IR of $in does not read back"; exit 1; }
if ! cmp -s "$a" "$b"; then
  echo "printing the IR read back from $in gives different text:"
  diff -u "$a" "$b"
  exit 1
fi
exit 0

#!/bin/sh
# --write-hw writes the best design as .h2 that h2c check and compile accept, and compiling it gives
# the IR that --write-ir wrote. usage: write-hw.sh H2C
set -eu
h2c=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$h2c" explore examples/llama3-8b.h2 -q --write-hw "$d/best.h2" --write-ir "$d/best.h2ir"
"$h2c" check -q "$d/best.h2"
"$h2c" compile "$d/best.h2" -o "$d/again.h2ir"
grep -v '^module' "$d/best.h2ir" | sed 's/ @[^ ]*//g' > "$d/a"
grep -v '^module' "$d/again.h2ir" | sed 's/ @[^ ]*//g' > "$d/b"
cmp "$d/a" "$d/b"
"$h2c" opt "$d/best.h2ir" > /dev/null
echo "the written design compiles to the written IR"

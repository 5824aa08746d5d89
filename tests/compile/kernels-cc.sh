#!/bin/sh
# The kernels h2c writes for a schedule (--emit=c) compile cleanly with gcc and with clang (when
# clang-14 is installed) under -std=c11 -Wall -Wextra -Wmissing-prototypes -Wvla -Werror, for units
# that use only some of the prelude's helpers: tiny, llama3-8b and a plan with page selection.
# usage: kernels-cc.sh H2C   (from the source root)
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ccs=gcc
command -v clang-14 >/dev/null && ccs="$ccs clang-14"
for f in examples/tiny.h2 examples/llama3-8b.h2 tests/schedule/plan-quest.h2; do
    n=$(basename "$f" .h2)
    "$H2C" compile -q "$f" --emit=c -o "$T/" 2>/dev/null || { echo "FAIL: h2c compile $f"; fail=1; continue; }
    for cc in $ccs; do
        "$cc" -std=c11 -O1 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror \
            -c "$T/$n.kernels.c" -o "$T/$n.$cc.o" || { echo "FAIL: $cc on $n.kernels.c"; fail=1; }
    done
done
[ "$fail" = 0 ] && echo "the kernels of tiny, llama3-8b and plan-quest compile with: $ccs"
exit $fail

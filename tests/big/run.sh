#!/bin/sh
# run.sh H2C GEN_MODEL TMPDIR: big inputs are read in linear time (issue 14, finding 3: a
# 50,000-op IR took 40 s in the reader's name lookups, a 50,000-op model 26 s in a pairwise
# duplicate check). The ctest timeout catches a quadratic step; bench/run.sh times them.
#  1. an IR module of 50,000 ops per phase: `h2c opt` reads, verifies and prints it, and the
#     printed text reads back to itself;
#  2. the same with a duplicate op name at its end: a located error;
#  3. a 50,000-op .h2 model (bench/gen_model): `h2c check` accepts it, `h2c compile` refuses it
#     before searching (the search takes 4,096 ops per scope) and writes nothing;
#  4. a fixed mapping has no search: `--dataflow=npu-only` compiles the 50,000 ops.
# Run from the source root.
set -eu
h2c=$1 gen=$2 tmp=$3
mkdir -p "$tmp"
fail() { echo "tests/big: $*" >&2; exit 1; }

sh tests/big/gen_ir.sh "$h2c" 50000 >"$tmp/big.h2ir"
"$h2c" opt "$tmp/big.h2ir" -o "$tmp/big.opt.h2ir" || fail "h2c opt refused a 50,000-op module"
"$h2c" opt "$tmp/big.opt.h2ir" -o "$tmp/big.opt2.h2ir" || fail "the printed module does not read back"
cmp -s "$tmp/big.opt.h2ir" "$tmp/big.opt2.h2ir" || fail "print, read, print is not a fixed point"
[ "$(grep -c '= activation' "$tmp/big.opt.h2ir")" = 100000 ] || fail "ops lost in the round trip"

sh tests/big/gen_ir.sh "$h2c" 50000 dup >"$tmp/dup.h2ir"
if "$h2c" opt "$tmp/dup.h2ir" -o "$tmp/dup.out" 2>"$tmp/dup.err"; then fail "a duplicate op was accepted"; fi
grep -q "dup.h2ir:100062:3: error: op '%a0' is defined twice in phase decode" "$tmp/dup.err" ||
  { cat "$tmp/dup.err" >&2; fail "the duplicate op's error is not located"; }
[ ! -e "$tmp/dup.out" ] || fail "a refused module wrote output"

"$gen" 50000 >"$tmp/big.h2"
"$h2c" check "$tmp/big.h2" >"$tmp/check.out" || fail "h2c check refused the 50,000-op model"
grep -q "50000 ops" "$tmp/check.out" || fail "h2c check did not count the ops"
if "$h2c" compile -q "$tmp/big.h2" -o "$tmp/big.out" 2>"$tmp/compile.err"; then fail "the search took 50,000 ops"; fi
grep -q "the layer has 50000 ops; the dataflow search takes at most 4096 ops per scope" "$tmp/compile.err" ||
  { cat "$tmp/compile.err" >&2; fail "the refusal does not say why"; }
[ ! -e "$tmp/big.out" ] || fail "a refused compile wrote output"

"$h2c" compile -q --dataflow=npu-only "$tmp/big.h2" -o "$tmp/npu.h2ir" || fail "npu-only refused 50,000 ops"
[ "$(grep -c 'on npu' "$tmp/npu.h2ir")" -ge 100000 ] || fail "npu-only did not map every op"
echo "tests/big: ok"

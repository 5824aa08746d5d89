#!/bin/sh
# `make demo`: what h2c does, on the examples. usage: tools/demo.sh path/to/h2c
set -u
H2C=${1:-build/h2c}
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run "$H2C" --version
run "$H2C" check examples/llama3-8b.h2
run "$H2C" check examples/opt-6.7b.h2
run "$H2C" check examples/palm-8b.h2
run "$H2C" check examples/tiny.h2
say "$H2C dump-ast examples/tiny.h2 | head -20"
"$H2C" dump-ast examples/tiny.h2 | head -20
printf '\nA mistake is reported like a compiler does, with the line and a caret:\n'
run "$H2C" check tests/frontend/bad/wrong-unit-kind.h2
exit 0

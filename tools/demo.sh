#!/bin/sh
# `make demo`: what h2c does, on the examples. usage: tools/demo.sh path/to/h2c
set -u
H2C=${1:-build/h2c}
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run "$H2C" --version
printf '\nThe three models of the H2-LLM artifact, checked against its device and workloads:\n'
run "$H2C" check examples/llama3-8b.h2
run "$H2C" check examples/opt-6.7b.h2
run "$H2C" check examples/palm-8b.h2

printf '\nCompile Llama-3-8B: lower it to the IR, choose the dataflow (exact search), place the data.\n'
say "$H2C compile examples/llama3-8b.h2 --time-passes | grep -A3 '%%q: \\[4'"
"$H2C" compile examples/llama3-8b.h2 --time-passes | grep -A3 '%q: \[4'

printf '\nExplore the design space of examples/llama3-8b.h2 (64 devices) under the artifact'"'"'s cost model:\n'
run "$H2C" explore examples/llama3-8b.h2 --cost-model h2llm-artifact --top 5

printf '\nThe same under h2c'"'"'s own model (whole model, every decode step, energy):\n'
run "$H2C" explore examples/llama3-8b.h2 --top 3

printf '\nThe artifact'"'"'s own numbers, reproduced:\n'
say "$H2C compat ../shared/reference/h2llm-testvectors.json --configs ../shared/reference/h2llm-configs | tail -3"
if [ -f ../shared/reference/h2llm-testvectors.json ]; then
  "$H2C" compat ../shared/reference/h2llm-testvectors.json --configs ../shared/reference/h2llm-configs | tail -3
else
  echo "(../shared/reference is not beside this checkout)"
fi

printf '\nA mistake is reported like a compiler does, with the line and a caret:\n'
run "$H2C" check tests/frontend/bad/wrong-unit-kind.h2
exit 0

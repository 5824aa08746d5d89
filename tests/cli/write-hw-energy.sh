#!/bin/sh
# The design --write-hw writes says what it costs: its energy under the h2c model, and that energy is
# not modelled under h2llm-artifact (not "energy 0 J"). usage: write-hw-energy.sh H2C
set -u
H2C=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
"$H2C" explore examples/tiny.h2 -q --write-hw "$T/h2c.h2" || fail=1
grep -q '^// Latency .* s, energy [0-9.e-]* J\. ' "$T/h2c.h2" || { echo "FAIL: no energy in $(sed -n 2p "$T/h2c.h2")"; fail=1; }
"$H2C" explore examples/tiny.h2 -q --cost-model h2llm-artifact --write-hw "$T/art.h2" || fail=1
grep -q '^// Latency .* s per layer, energy not modelled by h2llm-artifact\. ' "$T/art.h2" ||
    { echo "FAIL: $(sed -n 2p "$T/art.h2")"; fail=1; }
exit $fail

#!/bin/sh
# gen_ir.sh H2C N [dup]: writes to stdout an IR module with N ops per phase: the device, model,
# workload and tensors of examples/tiny.h2 (from `h2c compile --passes=`), each phase a prologue
# lookup, a chain of N activations and the epilogue's LM head. With `dup`, the last op of the
# decode phase repeats the first one's name. Run from the source root.
set -eu
h2c=$1 n=$2 dup=${3:-}
"$h2c" compile -q --passes= examples/tiny.h2 | sed -n '/^phase prefill/q;p'
for ph in "prefill tokens 16 context 16 steps 1" "decode tokens 1 context 17..24 steps 8"; do
  echo "phase $ph {"
  echo "  prologue {"
  echo "    %e = embedding(%tokens) w %w.e"
  echo "  }"
  last=$((n - 1))
  if [ -n "$dup" ] && [ "${ph%% *}" = decode ]; then last=a0; else last=a$last; fi
  awk -v n="$n" -v last="$last" 'BEGIN {
    print "  %a0 = activation(%x) fn silu"
    for (i = 1; i < n - 1; i++) printf "  %%a%d = activation(%%a%d) fn silu\n", i, i - 1
    if (n > 1) printf "  %%%s = activation(%%a%d) fn silu\n", last, n - 2 }'
  echo "  epilogue {"
  echo "    %nf = norm(%a$((n - 2))) w %w.nf fn rms"
  echo "    %logits = fc(%nf) wT %w.e"
  echo "  }"
  echo "}"
done

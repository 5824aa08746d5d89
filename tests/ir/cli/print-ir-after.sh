# --print-ir-after=NAME prints only that pass's result.
"$1" compile examples/opt-6.7b.h2 --print-ir-after=placement -o /dev/null
# CHECK-NOT: ; IR after shapes
# CHECK: ; IR after placement
# CHECK: phase decode tokens 1 context 784..992 steps 209

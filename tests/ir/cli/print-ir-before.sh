# --print-ir-before=NAME prints the pass's input: the dataflow has placed every tensor on channels,
# but nothing has a byte offset yet.
"$1" compile examples/palm-8b.h2 --print-ir-before=placement -o /dev/null
# CHECK: ; IR before placement
# CHECK: tensor %w.q weight fp16 [4096, 4096] layers 32 @examples/palm-8b.h2
# CHECK-NOT: at 0x
# CHECK: %f1: [3132, 16384] = fc(%x) w %w.f1 shape [1, 3132, 16384, 4096] on npu @

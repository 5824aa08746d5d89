# --print-ir-after-all prints each pass's IR, under a header, in pipeline order, to stderr.
"$1" compile examples/llama3-8b.h2 --print-ir-after-all -o /dev/null
# CHECK: ; IR after shapes
# CHECK-NEXT: ; h2c IR v1
# CHECK: %qk: [32, 3132, 783] = attn_score(%q, %k) kv %kv.k shape [32, 3132, 783, 128]
# CHECK-NOT: tensor %w.q {{.*}} at 0x
# CHECK: ; IR after placement
# CHECK-NEXT: ; h2c IR v1
# CHECK: tensor %w.q weight fp16 [4096, 4096] layers 32 in ch{0-7} at 0x0
# CHECK: %f2: [4, 4096] = fc(%f1, %f3) w %w.f2 shape [1, 4, 4096, 14336] on npu

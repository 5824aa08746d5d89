# --print-ir-after-all prints each pass's IR, under a header, in pipeline order, to stderr.
"$1" compile examples/llama3-8b.h2 --print-ir-after-all -o /dev/null
# CHECK: ; IR after shapes
# CHECK-NEXT: ; h2c IR v2
# CHECK: %qk: [32, 3132, 783] = attn_score(%q, %k) kv %kv.k shape [32, 3132, 783, 128]
# CHECK-NOT: group 0 part 0
# CHECK: ; IR after dataflow
# CHECK-NEXT: ; h2c IR v2
# CHECK: tensor %w.q weight fp16 [4096, 4096] layers 32 @examples/llama3-8b.h2:21:6
# CHECK-NEXT: tile [*, 0:{{[0-9]+}}] in ch{{[{][0-9-]+[}]}}{{$}}
# CHECK: %q: [4, 4096] = fc(%x) w %w.q shape [1, 4, 4096, 4096] group 0 part 0 stratum 0
# CHECK-NEXT: tile [*, *, 0:{{[0-9]+}}, *] on nmp ch{{[{][0-9-]+[}]}}
# CHECK-NEXT: tile [*, *, {{[0-9]+}}:4096, *] on npu
# CHECK: ; IR after placement
# CHECK-NEXT: ; h2c IR v2
# CHECK: tensor %w.q weight fp16 [4096, 4096] layers 32 @examples/llama3-8b.h2:21:6
# CHECK-NEXT: tile [*, 0:{{[0-9]+}}] in ch{{[{][0-9-]+[}]}} at 0x{{[0-9a-f]+}}

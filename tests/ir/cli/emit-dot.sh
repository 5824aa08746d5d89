# --emit=dot: one cluster per phase; ops coloured by where they run, labelled with shape.
"$1" compile examples/tiny.h2 --emit=dot
# CHECK: digraph "tiny" {
# CHECK: subgraph cluster_prefill {
# CHECK: prefill_2 [fillcolor=lightblue, label="q = fc\n[1, 32, 256, 256]\nNPU"];
# CHECK: prefill_tokens -> prefill_0;
# CHECK: prefill_x -> prefill_1;
# CHECK: subgraph cluster_decode {
# CHECK: label="decode: 1 token, context 17..24, 8 steps";

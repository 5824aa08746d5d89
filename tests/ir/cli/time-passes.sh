# --time-passes prints a table with one row per pass, the verifier, and a total.
"$1" compile examples/llama3-8b.h2 --time-passes -o /dev/null
# CHECK: h2c pass execution times
# CHECK: wall (ms)
# CHECK: {{[0-9.]+}} {{ *[0-9.]+}}% shapes
# CHECK: {{[0-9.]+}} {{ *[0-9.]+}}% placement
# CHECK: (verifier)
# CHECK: 100.0% total

/* shapes.c: shape inference. Fills each op's iteration space [B, M, N, K] and result shape in both
 * phases, from the model, the workload and the phase (prefill: prompt tokens; decode: one token at
 * the last context).
 * Requires: a lowered or parsed module (ops, inputs, operand tensors).
 * Maintains: everything else. Breaks: nothing; existing shapes are recomputed and must agree.
 * The work is ir_fill_shapes (ir/shape.c), which lowering clients outside the pipeline use too. */
#include "passes.h"

bool pass_shapes(Module *m, Diag *d) { return ir_fill_shapes(m, d); }

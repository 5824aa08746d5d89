/* shapes.c: shape inference. Fills each op's iteration space [B, M, N, K] and result shape in both
 * phases, from the model, the workload and the phase (prefill: prompt tokens; decode: one token at
 * the last context).
 * Requires: a lowered or parsed module (ops, inputs, operand tensors).
 * Maintains: everything else. Breaks: nothing; existing shapes are recomputed and must agree. */
#include "passes.h"

#include <string.h>

bool pass_shapes(Module *m, Diag *d) {
    bool ok = true;
    for (int p = 0; p < PH_COUNT_; p++) {
        Phase *ph = &m->phases[p];
        int *order = h2c_raw_alloc(sizeof(int) * (size_t)(ph->nops + 1));
        if (!order) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        if (!ir_topo_order(ph, order)) {
            diag_error(d, ph->loc, "the ops of phase %s form a cycle", phase_names[p]);
            h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
            return false;
        }
        for (int k = 0; k < ph->nops; k++) {
            Op *op = &ph->ops[order[k]];
            long long shape[4], out[3];
            int rank = 0;
            if (!ir_infer_shape(m, ph, op, shape, &rank, out)) {
                diag_error(d, op->loc, "cannot infer the shape of %%%s in phase %s", op->name, phase_names[p]);
                ok = false;
                continue;
            }
            bool had = op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3];
            if (had && memcmp(shape, op->shape, sizeof shape) != 0) {
                diag_error(d, op->loc, "%%%s: shape [%lld, %lld, %lld, %lld] should be [%lld, %lld, %lld, %lld]",
                           op->name, op->shape[0], op->shape[1], op->shape[2], op->shape[3], shape[0], shape[1],
                           shape[2], shape[3]);
                ok = false;
                continue;
            }
            memcpy(op->shape, shape, sizeof shape);
            op->out_rank = rank;
            memcpy(op->out, out, sizeof out);
        }
        h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
    }
    return ok;
}

/* shape.c: the iteration space [B, M, N, K] and result shape of each op kind, from the model, the
 * workload, the phase and the inputs' results. One function, used by pass_shapes to fill shapes and
 * by the verifier to check them. Decode shapes are taken at the phase's last (longest) context. */
#include "ir.h"

#include <string.h>

/* The result shape of input i of op: the layer input x is [rows, hidden], the token ids [rows, 1].
 * The epilogue sees only the last position of each sequence: a layer result it reads has batch rows
 * (in decode that is all of them; in prefill the logits of the last prompt token are the ones
 * generation needs). */
static bool input_shape(const Module *m, const Phase *ph, const Op *op, int i, int *rank, long long out[3]) {
    int k = op->inputs[i];
    if (k == IR_INPUT_X || k == IR_INPUT_TOKENS) {
        *rank = 2;
        out[0] = (long long)m->work.batch * ph->tokens;
        out[1] = k == IR_INPUT_X ? m->model.hidden : 1;
        return true;
    }
    if (k < 0 || k >= ph->nops || ph->ops[k].out_rank == 0)
        return false;
    *rank = ph->ops[k].out_rank;
    for (int j = 0; j < 3; j++)
        out[j] = ph->ops[k].out[j];
    if (op->scope == SCOPE_EPILOGUE && ph->ops[k].scope == SCOPE_LAYER && *rank == 2)
        out[0] = m->work.batch;
    return true;
}

bool ir_infer_shape(const Module *m, const Phase *ph, const Op *op, long long shape[4], int *out_rank,
                    long long out[3]) {
    const ModelShape *ms = &m->model;
    long long b = m->work.batch, s = ph->tokens, rows = b * s, ctx = ph->ctx_last;
    long long g = ms->kv_heads > 0 ? ms->heads / ms->kv_heads : 1;
    int r0 = 0;
    long long in0[3] = {0};
    if (op->ninputs > 0 && !input_shape(m, ph, op, 0, &r0, in0))
        return false;
    shape[0] = shape[1] = shape[2] = shape[3] = 0;
    out[0] = out[1] = out[2] = 0;
    switch (op->code) {
    case OP_FC: {
        if (op->tensor < 0 || op->tensor >= m->ntensors || r0 != 2)
            return false;
        const Tensor *w = &m->tensors[op->tensor];
        long long n = op->tied ? w->dims[0] : w->dims[1];
        shape[0] = 1, shape[1] = in0[0], shape[2] = n, shape[3] = in0[1];
        *out_rank = 2, out[0] = in0[0], out[1] = n;
        return true;
    }
    case OP_EMBEDDING:
        if (r0 != 2 || in0[1] != 1)
            return false;
        shape[0] = 1, shape[1] = in0[0], shape[2] = ms->hidden, shape[3] = 1;
        *out_rank = 2, out[0] = in0[0], out[1] = ms->hidden;
        return true;
    case OP_ATTN_SCORE:
        shape[0] = ms->kv_heads * b, shape[1] = s * g, shape[2] = ctx, shape[3] = ms->head_dim;
        *out_rank = 3, out[0] = shape[0], out[1] = shape[1], out[2] = ctx;
        return true;
    case OP_SOFTMAX:
        if (r0 != 3)
            return false;
        shape[0] = in0[0], shape[1] = in0[1], shape[2] = in0[2], shape[3] = 1;
        *out_rank = 3, out[0] = in0[0], out[1] = in0[1], out[2] = in0[2];
        return true;
    case OP_ATTN_VALUE:
        shape[0] = ms->kv_heads * b, shape[1] = s * g, shape[2] = ms->head_dim, shape[3] = ctx;
        *out_rank = 2, out[0] = rows, out[1] = (long long)ms->heads * ms->head_dim;
        return true;
    case OP_ROPE:
    case OP_NORM:
    case OP_ACTIVATION:
    case OP_ADD:
    case OP_MUL:
        if (r0 != 2)
            return false;
        shape[0] = 1, shape[1] = in0[0], shape[2] = in0[1], shape[3] = 1;
        *out_rank = 2, out[0] = in0[0], out[1] = in0[1];
        return true;
    case OP_ATTN_TILE: {
        /* queries of the KV heads in `heads` over the KV positions in `kv_range` */
        long long kvh = op->heads.hi > op->heads.lo ? op->heads.hi - op->heads.lo : ms->kv_heads;
        long long len = op->kv_range.hi > op->kv_range.lo ? op->kv_range.hi - op->kv_range.lo : ctx;
        shape[0] = kvh * b, shape[1] = s * g, shape[2] = len, shape[3] = ms->head_dim;
        *out_rank = 3, out[0] = shape[0], out[1] = shape[1], out[2] = ms->head_dim;
        return true;
    }
    case OP_ATTN_MERGE:
        if (r0 != 3)
            return false;
        shape[0] = in0[0], shape[1] = in0[1], shape[2] = in0[2], shape[3] = op->ninputs;
        *out_rank = 2, out[0] = rows, out[1] = (long long)ms->heads * ms->head_dim;
        return true;
    case OP_PAGE_SELECT: {
        long long page = m->has_sparsity && m->sparsity.page > 0 ? m->sparsity.page : 16;
        long long budget = m->has_sparsity && m->sparsity.budget > 0 ? m->sparsity.budget : 1024;
        shape[0] = ms->kv_heads * b, shape[1] = s * g, shape[2] = (ctx + page - 1) / page, shape[3] = ms->head_dim;
        *out_rank = 2, out[0] = shape[0], out[1] = budget / page;
        return true;
    }
    default:
        return false;
    }
}

bool ir_fill_shapes(Module *m, Diag *d) {
    bool ok = true;
    for (int p = 0; p < PH_COUNT_; p++) {
        Phase *ph = &m->phases[p];
        int *order = h2c_raw_alloc(sizeof(int) * (size_t)(ph->nops + 1));
        if (!order) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        int topo = ir_topo_order(ph, order);
        if (topo != 1) {
            if (topo == 0)
                diag_error(d, ph->loc, "the ops of phase %s form a cycle", phase_names[p]);
            else
                diag_error(d, NOLOC, "out of memory");
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

void ir_workload_phases(Module *m) {
    const Workload *w = &m->work;
    int last = w->prompt + w->generate;
    if (last > w->max_seq)
        last = w->max_seq;
    Phase *pf = &m->phases[PH_PREFILL], *dc = &m->phases[PH_DECODE];
    pf->tokens = w->prompt;
    pf->ctx_first = pf->ctx_last = w->prompt;
    pf->steps = 1;
    dc->tokens = 1;
    dc->ctx_first = w->prompt + 1 < last ? w->prompt + 1 : last;
    dc->ctx_last = last;
    dc->steps = w->generate;
}

bool ir_set_workload(Module *m, const Workload *w, Diag *d) {
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].ntiles) {
            diag_error(d, m->tensors[i].loc, "%%%s is placed already: a placed module cannot change its workload",
                       m->tensors[i].name);
            return false;
        }
    m->work.batch = w->batch;
    m->work.prompt = w->prompt;
    m->work.generate = w->generate;
    m->work.max_seq = w->max_seq;
    for (int i = 0; i < m->ntensors; i++)
        if (m->tensors[i].kind == TEN_KV) {
            m->tensors[i].dims[1] = w->batch;
            m->tensors[i].dims[2] = w->max_seq;
        }
    ir_workload_phases(m);
    for (int p = 0; p < PH_COUNT_; p++)
        for (int k = 0; k < m->phases[p].nops; k++) {
            Op *op = &m->phases[p].ops[k];
            if (op->ntiles) {
                diag_error(d, op->loc, "%%%s is mapped already: a mapped module cannot change its workload", op->name);
                return false;
            }
            memset(op->shape, 0, sizeof op->shape);
            memset(op->out, 0, sizeof op->out);
            op->out_rank = 0;
        }
    return ir_fill_shapes(m, d);
}

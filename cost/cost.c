/* cost.c: what every cost model shares: the problem a module poses (df_problem_from_module), the
 * split dimension of an op and how a plan's share of it is resolved (an integer, or the artifact's
 * ratio r truncated as Python's int(S * r) does). */
#include "cost.h"

#include <string.h>

long long df_split_len(const DfProblem *p, int op) {
    const DfOp *o = &p->ops[op];
    switch (o->kind) {
    case DFK_FC: return (long long)o->dec.N;
    case DFK_ATTN: return o->dec.B > 1 ? (long long)o->dec.B : (long long)o->dec.N; /* one GEMM: split N */
    default: return 0;
    }
}

long long df_split_of(const DfProblem *p, int op, const DfAssign *a) {
    long long S = df_split_len(p, op);
    if (a->ratio >= 0)
        return (long long)((double)S * a->ratio);
    return a->split;
}

DfExec df_exec_of(const DfAssign *a) {
    if (a->exec != DF_EXEC_AUTO)
        return a->exec;
    if (a->nmp && a->normal)
        return DF_EXEC_MIX;
    return a->nmp ? DF_EXEC_NMP : DF_EXEC_NPU;
}

static DfKind kind_of(OpCode c) {
    switch (c) {
    case OP_FC: return DFK_FC;
    case OP_ATTN_SCORE:
    case OP_ATTN_VALUE:
    case OP_ATTN_TILE:
    case OP_PAGE_SELECT: return DFK_ATTN;
    case OP_EMBEDDING:      /* a lookup on the NPU, reading rows from wherever the table is */
    default: return DFK_OTHER;
    }
}

static Gemm gemm_of(const Op *op) { return (Gemm){(double)op->shape[0], (double)op->shape[1], (double)op->shape[2], (double)op->shape[3]}; }

bool df_problem_from_module(const Module *m, const CostModel *cm, DfProblem *p, Diag *d) {
    return df_problem_scope(m, cm, SCOPE_LAYER, p, d);
}

bool df_problem_scope(const Module *m, const CostModel *cm, OpScope scope, DfProblem *p, Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    int ops[DF_MAX_OPS], n = 0;
    for (int i = 0; i < dc->nops; i++)
        if (dc->ops[i].scope == scope) {
            if (n == DF_MAX_OPS) {
                diag_error(d, dc->ops[i].loc, "the dataflow search handles up to %d ops per %s; this one has more",
                           DF_MAX_OPS, scope == SCOPE_LAYER ? "layer" : op_scope_names[scope]);
                return false;
            }
            ops[n++] = i;
        }
    if (!df_problem_of_ops(m, cm, ops, n, p, d))
        return false;
    p->scope = scope;   /* (an empty scope's too) */
    p->layers = scope == SCOPE_LAYER ? m->model.layers : 1;
    return true;
}

bool df_problem_of_ops(const Module *m, const CostModel *cm, const int *ops, int nops, DfProblem *p, Diag *d) {
    const Phase *pf = &m->phases[PH_PREFILL], *dc = &m->phases[PH_DECODE];
    if (nops > DF_MAX_OPS)
        h2c_unreachable("a problem of more than DF_MAX_OPS ops");
    memset(p, 0, sizeof *p);
    p->hw = m->dev.hw;
    p->nmp = dev_nmp_channels(&m->dev);
    p->normal = dev_channels(&m->dev) - p->nmp;
    p->batch = m->work.batch;
    p->prompt = m->work.prompt;
    p->gen = m->work.generate;
    p->max_seq = m->work.max_seq;
    p->ctx_first = dc->ctx_first;
    p->ctx_last = dc->ctx_last;
    p->hidden = m->model.hidden;
    p->intermediate = m->model.intermediate;
    p->vocab = m->model.vocab;
    p->heads = m->model.heads;
    p->kv_heads = m->model.kv_heads;
    p->head_dim = m->model.head_dim;
    p->es = ir_elem_bytes(m);
    p->nmp_util = cm->nmp_util ? cm->nmp_util(&m->dev.hw, m->work.batch) : 1.0;
    p->attention = ir_attention_form(m);
    p->scope = nops > 0 ? dc->ops[ops ? ops[0] : 0].scope : SCOPE_LAYER;
    p->layers = p->scope == SCOPE_LAYER ? m->model.layers : 1;
    p->nops = nops;
    for (int k = 0; k < nops; k++)
        p->index[k] = ops ? ops[k] : k;
    for (int k = 0; k < nops; k++) {
        int i = p->index[k];
        const Op *o = &dc->ops[i], *po = &pf->ops[i];
        DfOp *q = &p->ops[k];
        if (o->scope != p->scope)
            h2c_unreachable("a problem of ops of two scopes");
        if (!(o->shape[0] && po->shape[0])) {
            diag_error(d, o->loc, "%%%s has no shape; run the shapes pass first", o->name);
            return false;
        }
        q->name = o->name;
        q->code = o->code;
        q->kind = kind_of(o->code);
        q->pre = gemm_of(po);
        q->dec = gemm_of(o);
        q->fused = -1;
        q->window = o->window;
        q->ctx_dim = o->code == OP_ATTN_SCORE || o->code == OP_SOFTMAX || o->code == OP_ATTN_TILE ? 2
                     : o->code == OP_ATTN_VALUE                                                      ? 3
                                                                                                     : -1;
        /* inputs from ops not listed (x, tokens, the layer's output read by the epilogue, an earlier
           piece of the layer) are placed already */
        for (int j = 0; j < o->ninputs; j++)
            for (int t = 0; t < nops && o->inputs[j] >= 0; t++)
                if (p->index[t] == o->inputs[j])
                    q->preds |= 1u << t;
        if (o->tensor >= 0) {
            const Tensor *t = &m->tensors[o->tensor];
            Range box[IR_MAX_RANK];
            for (int r = 0; r < t->rank; r++)
                box[r] = (Range){0, t->dims[r]};
            q->footprint = tensor_box_bytes(t, box) * t->layers;
            /* a tied LM head reads the embedding's table: the prologue's lookup does not own it */
            if (o->code == OP_EMBEDDING) {
                for (int u = 0; u < dc->nops; u++)
                    if (dc->ops[u].tied && dc->ops[u].tensor == o->tensor)
                        q->footprint = 0;
            }
        }
    }
    /* fused attention: a score op, the softmax it may feed, and the value op that reads the result */
    for (int k = 0; k < nops; k++) {
        const Op *v = &dc->ops[p->index[k]];
        if (v->code != OP_ATTN_VALUE || v->ninputs < 1 || v->inputs[0] < 0)
            continue;
        int src = v->inputs[0], sm = -1;
        if (dc->ops[src].code == OP_SOFTMAX && dc->ops[src].ninputs == 1 && dc->ops[src].inputs[0] >= 0) {
            sm = src;
            src = dc->ops[src].inputs[0];
        }
        if (dc->ops[src].code != OP_ATTN_SCORE)
            continue;
        int ks = -1, km = -1;
        for (int t = 0; t < nops; t++) {
            if (p->index[t] == src)
                ks = t;
            if (p->index[t] == sm)
                km = t;
        }
        if (ks < 0 || (sm >= 0 && km < 0))
            continue;   /* split over two pieces of a layer: priced op by op */
        p->ops[ks].fused = k;
        p->ops[k].fused = ks;
        if (km >= 0)
            p->ops[km].fused = ks;
    }
    return true;
}

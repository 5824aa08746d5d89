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
    default: return DFK_OTHER;
    }
}

static Gemm gemm_of(const Op *op) { return (Gemm){(double)op->shape[0], (double)op->shape[1], (double)op->shape[2], (double)op->shape[3]}; }

bool df_problem_from_module(const Module *m, const CostModel *cm, DfProblem *p, Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    if (dc->nops > DF_MAX_OPS) {
        diag_error(d, dc->ops[DF_MAX_OPS].loc, "the dataflow search handles layers of up to %d ops; this one has %d",
                   DF_MAX_OPS, dc->nops);
        return false;
    }
    return df_problem_of_ops(m, cm, NULL, dc->nops, p, d);
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
    p->layers = m->model.layers;
    p->hidden = m->model.hidden;
    p->intermediate = m->model.intermediate;
    p->vocab = m->model.vocab;
    p->heads = m->model.heads;
    p->kv_heads = m->model.kv_heads;
    p->head_dim = m->model.head_dim;
    p->es = ir_elem_bytes(m);
    p->nmp_util = cm->nmp_util ? cm->nmp_util(&m->dev.hw, m->work.batch) : 1.0;
    p->nops = nops;
    for (int i = 0; i < nops; i++) {
        int mi = ops ? ops[i] : i;
        const Op *o = &dc->ops[mi], *po = &pf->ops[mi];
        DfOp *q = &p->ops[i];
        if (!(o->shape[0] && po->shape[0])) {
            diag_error(d, o->loc, "%%%s has no shape; run the shapes pass first", o->name);
            return false;
        }
        q->name = o->name;
        q->code = o->code;
        q->kind = kind_of(o->code);
        q->pre = gemm_of(po);
        q->dec = gemm_of(o);
        q->ctx_dim = o->code == OP_ATTN_SCORE || o->code == OP_SOFTMAX || o->code == OP_ATTN_TILE ? 2
                     : o->code == OP_ATTN_VALUE                                                      ? 3
                                                                                                     : -1;
        for (int j = 0; j < o->ninputs; j++)
            for (int k = 0; k < nops && o->inputs[j] >= 0; k++)
                if ((ops ? ops[k] : k) == o->inputs[j])
                    q->preds |= 1u << k; /* (an input outside the ops is placed already) */
        if (o->tensor >= 0) {
            const Tensor *t = &m->tensors[o->tensor];
            double elems = 1;
            for (int k = 0; k < t->rank; k++)
                elems *= (double)t->dims[k];
            q->footprint = elems * precision_bytes(t->elem) * t->layers;
        }
    }
    return true;
}

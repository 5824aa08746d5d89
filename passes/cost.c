/* cost.c: what both cost models share: the split dimension of an op and how a plan's share of it
 * is resolved (an integer, or the artifact's ratio r truncated as Python's int(S * r) does). */
#include "passes.h"

long long df_split_len(const DfProblem *p, int op) {
    const DfOp *o = &p->ops[op];
    switch (o->kind) {
    case DFK_FC: return (long long)o->dec.N;
    case DFK_ATTN: return (long long)o->dec.B;
    default: return 0;
    }
}

long long df_split_of(const DfProblem *p, int op, const DfAssign *a) {
    long long S = df_split_len(p, op);
    if (a->ratio >= 0)
        return (long long)((double)S * a->ratio);
    return a->split;
}

/* sema_model.c: checks a `model` block: its shape fields (with derived head_dim and kv_heads) and
 * its op graph: inputs defined, acyclic, arities and widths consistent, KV caches read once. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- model */

enum { MF_LAYERS, MF_HIDDEN, MF_INTERMEDIATE, MF_HEADS, MF_KV_HEADS, MF_HEAD_DIM, MF_VOCAB, MF_COUNT_ };

static bool model_derived(Scope *sc, int i, double *out, Loc use) {
    double a, b;
    switch (i) {
    case MF_KV_HEADS:
        return sema_slot_value(sc, MF_HEADS, out, use);
    case MF_HEAD_DIM:
        if (!sema_slot_value(sc, MF_HIDDEN, &a, use) || !sema_slot_value(sc, MF_HEADS, &b, use))
            return false;
        *out = floor(a / b);
        return true;
    default:
        return true;
    }
}

typedef struct ModelCtx {
    Sema *S;
    const Stmt **ops;
    int nops, cap;
} ModelCtx;

static bool model_extra(void *ctx, const char *path, const Stmt *st) {
    ModelCtx *mc = ctx;
    if (path)
        return false;
    VEC_PUSH(mc->S->a, mc->ops, mc->nops, mc->cap, st);
    return true;
}

static const char *width_desc(Sema *S, const Model *m, int w) {
    if (w == m->hidden)
        return arena_printf(S->a, "%d (hidden)", w);
    if (w == m->heads * m->head_dim)
        return arena_printf(S->a, "%d (heads x head_dim)", w);
    if (w == m->kv_heads * m->head_dim)
        return arena_printf(S->a, "%d (kv_heads x head_dim)", w);
    return arena_printf(S->a, "%d", w);
}

/* Evaluates an op's keyword argument as a positive whole number in the model's scope. */
static bool op_int_arg(Scope *sc, const Arg *a, int *out) {
    Val v;
    if (!sema_eval(sc, a->value, &v))
        return false;
    if (!sema_check_value(sc->S, a->name, UK_NONE, F_INT, 1, 1 << 24, v, a->value))
        return false;
    *out = (int)v.v;
    return true;
}

static const char *const act_fns[] = {"silu", "gelu", "relu", "swish", NULL};
static const char *const norm_kinds[] = {"rms", "layer", NULL};

/* Op names to indices: open addressing over a power-of-two table (models may have thousands of ops). */
typedef struct NameIndex {
    const char **names;     /* NULL: empty slot */
    int *idx;
    size_t cap;
} NameIndex;

static size_t name_hash(const char *s) {
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The index of name, or -1; with insert, adds it as `value` if absent. */
static int name_find(NameIndex *ni, const char *name, bool insert, int value) {
    size_t i = name_hash(name) & (ni->cap - 1);
    while (ni->names[i]) {
        if (strcmp(ni->names[i], name) == 0)
            return ni->idx[i];
        i = (i + 1) & (ni->cap - 1);
    }
    if (insert) {
        ni->names[i] = name;
        ni->idx[i] = value;
    }
    return -1;
}

static bool check_ops(Sema *S, Scope *sc, Model *m, ModelCtx *mc) {
    bool ok = true;
    m->nops = mc->nops;
    m->ops = ARENA_ARRAY(S->a, ModelOp, mc->nops ? mc->nops : 1);
    NameIndex ni;
    ni.cap = 16;
    while (ni.cap < (size_t)mc->nops * 2)
        ni.cap *= 2;
    ni.names = ARENA_ARRAY(S->a, const char *, ni.cap);
    ni.idx = ARENA_ARRAY(S->a, int, ni.cap);
    /* names first, so inputs may refer to ops written later */
    for (int i = 0; i < mc->nops; i++) {
        const Stmt *st = mc->ops[i];
        ModelOp *op = &m->ops[i];
        op->name = st->op.name;
        op->loc = st->op.name_loc;
        op->kind_loc = st->op.callee_loc;
        if (strcmp(op->name, "x") == 0) {
            diag_error(S->d, op->loc, "'x' is the layer input and cannot be redefined");
            ok = false;
        }
        int first = name_find(&ni, op->name, true, i);
        if (first >= 0) {
            diag_error(S->d, op->loc, "op '%s' is defined twice", op->name);
            diag_note(S->d, m->ops[first].loc, "first defined here");
            ok = false;
        }
        op->kind = OPK_COUNT_;
        for (int k = 0; k < OPK_COUNT_; k++)
            if (strcmp(st->op.callee, op_kind_names[k]) == 0)
                op->kind = (OpKind)k;
        if (strcmp(st->op.callee, "linear") == 0)
            op->kind = OPK_FC;
        if (op->kind == OPK_COUNT_) {
            const char *sug = closest_word(st->op.callee, (const char *const[]){
                "fc", "linear", "attn_score", "attn_value", "softmax", "norm", "activation", "add", "mul", NULL});
            if (sug)
                diag_error(S->d, st->op.callee_loc, "unknown op kind '%s'; did you mean '%s'?", st->op.callee, sug);
            else
                diag_error(S->d, st->op.callee_loc,
                           "unknown op kind '%s' (known: fc, linear, attn_score, attn_value, softmax, norm, "
                           "activation, add, mul)",
                           st->op.callee);
            ok = false;
        }
    }
    if (!ok)
        return false;
    /* arguments */
    for (int i = 0; i < mc->nops; i++) {
        const Stmt *st = mc->ops[i];
        ModelOp *op = &m->ops[i];
        op->inputs = ARENA_ARRAY(S->a, int, st->op.nargs ? st->op.nargs : 1);
        bool seen_kw = false, out_given = false;
        int npos = 0;   /* inputs written, resolved or not: the arity check counts these */
        for (int j = 0; j < st->op.nargs; j++) {
            const Arg *a = &st->op.args[j];
            if (a->name) {
                seen_kw = true;
                if (strcmp(a->name, "out") == 0 && op->kind == OPK_FC) {
                    if (out_given) {
                        diag_error(S->d, a->name_loc, "'out' is given twice");
                        ok = false;
                    } else if (!op_int_arg(sc, a, &op->out)) {
                        ok = false;
                    }
                    out_given = true;
                } else if (strcmp(a->name, "fn") == 0 && op->kind == OPK_ACTIVATION) {
                    int k = sema_enum_value(S, a->value, "activation function", act_fns, 4);
                    if (k < 0)
                        ok = false;
                    else
                        op->fn = act_fns[k];
                } else if (strcmp(a->name, "kind") == 0 && op->kind == OPK_NORM) {
                    int k = sema_enum_value(S, a->value, "norm kind", norm_kinds, 2);
                    if (k < 0)
                        ok = false;
                    else
                        op->fn = norm_kinds[k];
                } else {
                    diag_error(S->d, a->name_loc, "%s takes no argument '%s'", op_kind_names[op->kind], a->name);
                    ok = false;
                }
                continue;
            }
            npos++;
            if (seen_kw) {
                diag_error(S->d, a->value->loc, "inputs come before keyword arguments");
                ok = false;
                continue;
            }
            if (a->value->kind != EX_NAME) {
                diag_error(S->d, a->value->loc, "an op input is the name of an op or 'x'");
                ok = false;
                continue;
            }
            int idx = -2;
            if (strcmp(a->value->name, "x") == 0)
                idx = -1;
            if (idx == -2) {
                int k = name_find(&ni, a->value->name, false, 0);
                if (k >= 0)
                    idx = k;
            }
            if (idx == -2) {
                const char **names = arena_alloc(S->a, sizeof(char *) * (size_t)(m->nops + 2));
                names[0] = "x";
                for (int k = 0; k < m->nops; k++)
                    names[k + 1] = m->ops[k].name;
                const char *sug = closest_word(a->value->name, names);
                if (sug)
                    diag_error(S->d, a->value->loc, "op '%s' uses '%s', which is not defined; did you mean '%s'?",
                               op->name, a->value->name, sug);
                else
                    diag_error(S->d, a->value->loc, "op '%s' uses '%s', which is not defined", op->name,
                               a->value->name);
                ok = false;
                continue;
            }
            if (idx == i) {
                diag_error(S->d, a->value->loc, "op '%s' uses itself", op->name);
                ok = false;
                continue;
            }
            op->inputs[op->ninputs++] = idx;
        }
        if (op->kind == OPK_FC && !out_given) {
            diag_error(S->d, st->op.callee_loc, "fc op '%s' needs its output width: out = N", op->name);
            ok = false;
        }
        if (op->kind == OPK_ACTIVATION && !op->fn)
            op->fn = "silu";
        if (op->kind == OPK_NORM && !op->fn)
            op->fn = "rms";
        int want_lo = 1, want_hi = 1;
        switch (op->kind) {
        case OPK_FC: want_lo = 1; want_hi = 16; break;
        case OPK_ATTN_SCORE: case OPK_ATTN_VALUE: case OPK_ADD: case OPK_MUL: want_lo = want_hi = 2; break;
        default: break;
        }
        if (npos < want_lo || npos > want_hi) {
            if (want_lo == want_hi)
                diag_error(S->d, st->op.callee_loc, "%s takes %d input%s, but '%s' has %d", op_kind_names[op->kind],
                           want_lo, want_lo == 1 ? "" : "s", op->name, npos);
            else
                diag_error(S->d, st->op.callee_loc, "%s takes %d to %d inputs, but '%s' has %d",
                           op_kind_names[op->kind], want_lo, want_hi, op->name, npos);
            ok = false;
        }
    }
    if (!ok)
        return false;
    /* cycles: depth-first search with colours; report one cycle, once */
    int n = m->nops;
    int *colour = ARENA_ARRAY(S->a, int, n + 1), *stack = ARENA_ARRAY(S->a, int, n + 1),
        *next = ARENA_ARRAY(S->a, int, n + 1), *order = ARENA_ARRAY(S->a, int, n + 1);
    int norder = 0;
    for (int r = 0; r < n && ok; r++) {
        if (colour[r])
            continue;
        int sp = 0;
        stack[sp++] = r;
        colour[r] = 1;
        next[r] = 0;
        while (sp > 0 && ok) {
            int v = stack[sp - 1];
            if (next[v] < m->ops[v].ninputs) {
                int w = m->ops[v].inputs[next[v]++];
                if (w < 0)
                    continue;
                if (colour[w] == 1) {
                    /* the cycle is w ... v on the stack, each using the next; print it the way
                       data flows, each feeding the next: w -> v -> ... -> w */
                    char buf[512];
                    snprintf(buf, sizeof buf, "%s", m->ops[w].name);
                    for (int k = sp - 1; k >= 0; k--) {
                        size_t l = strlen(buf);
                        snprintf(buf + l, sizeof buf - l, " -> %s", m->ops[stack[k]].name);
                        if (stack[k] == w)
                            break;
                    }
                    diag_error(S->d, m->ops[w].loc, "the ops form a cycle: %s (each is an input of the next)", buf);
                    ok = false;
                } else if (colour[w] == 0) {
                    colour[w] = 1;
                    next[w] = 0;
                    stack[sp++] = w;
                }
            } else {
                colour[v] = 2;
                order[norder++] = v;
                sp--;
            }
        }
    }
    if (!ok)
        return false;
    /* widths and value types, in topological order */
    for (int t = 0; t < n; t++) {
        ModelOp *op = &m->ops[order[t]];
        ValType it[16];
        int iw[16];
        for (int j = 0; j < op->ninputs; j++) {
            int k = op->inputs[j];
            it[j] = k < 0 ? VT_ACT : m->ops[k].type;
            iw[j] = k < 0 ? m->hidden : m->ops[k].width;
        }
        const char *in0 = op->ninputs > 0 ? (op->inputs[0] < 0 ? "x" : m->ops[op->inputs[0]].name) : "";
        const char *in1 = op->ninputs > 1 ? (op->inputs[1] < 0 ? "x" : m->ops[op->inputs[1]].name) : "";
        int qw = m->heads * m->head_dim, kvw = m->kv_heads * m->head_dim;
        switch (op->kind) {
        case OPK_FC:
            for (int j = 0; j < op->ninputs; j++) {
                if (it[j] != VT_ACT) {
                    diag_error(S->d, op->loc, "fc '%s' cannot take attention scores as input", op->name);
                    ok = false;
                } else if (iw[j] != iw[0]) {
                    diag_error(S->d, op->loc, "the inputs of fc '%s' differ in width: %s vs %s", op->name,
                               width_desc(S, m, iw[0]), width_desc(S, m, iw[j]));
                    ok = false;
                }
            }
            op->type = VT_ACT;
            op->width = op->out;
            break;
        case OPK_ATTN_SCORE:
            if (it[0] != VT_ACT || iw[0] != qw) {
                diag_error(S->d, op->loc, "attn_score '%s': the query '%s' must be %d wide (heads x head_dim), not %s",
                           op->name, in0, qw, it[0] == VT_ACT ? width_desc(S, m, iw[0]) : "scores");
                ok = false;
            }
            if (it[1] != VT_ACT || iw[1] != kvw) {
                diag_error(S->d, op->loc,
                           "attn_score '%s': the key '%s' must be %d wide (kv_heads x head_dim), not %s", op->name,
                           in1, kvw, it[1] == VT_ACT ? width_desc(S, m, iw[1]) : "scores");
                ok = false;
            }
            op->type = VT_SCORES;
            break;
        case OPK_ATTN_VALUE:
            if (it[0] != VT_SCORES) {
                diag_error(S->d, op->loc, "attn_value '%s': the first input '%s' must be attention scores", op->name,
                           in0);
                ok = false;
            }
            if (it[1] != VT_ACT || iw[1] != kvw) {
                diag_error(S->d, op->loc,
                           "attn_value '%s': the value '%s' must be %d wide (kv_heads x head_dim), not %s", op->name,
                           in1, kvw, it[1] == VT_ACT ? width_desc(S, m, iw[1]) : "scores");
                ok = false;
            }
            op->type = VT_ACT;
            op->width = qw;
            break;
        case OPK_SOFTMAX:
            if (it[0] != VT_SCORES) {
                diag_error(S->d, op->loc, "softmax '%s' applies to attention scores; '%s' is not", op->name, in0);
                ok = false;
            }
            op->type = VT_SCORES;
            break;
        case OPK_NORM:
        case OPK_ACTIVATION:
            if (it[0] != VT_ACT) {
                diag_error(S->d, op->loc, "%s '%s' cannot take attention scores", op_kind_names[op->kind], op->name);
                ok = false;
            }
            op->type = VT_ACT;
            op->width = iw[0];
            break;
        case OPK_ADD:
        case OPK_MUL:
            if (it[0] != VT_ACT || it[1] != VT_ACT) {
                diag_error(S->d, op->loc, "%s '%s' cannot take attention scores", op_kind_names[op->kind], op->name);
                ok = false;
            } else if (iw[0] != iw[1]) {
                diag_error(S->d, op->loc, "%s '%s': '%s' and '%s' differ in width (%d vs %d)",
                           op_kind_names[op->kind], op->name, in0, in1, iw[0], iw[1]);
                ok = false;
            }
            op->type = VT_ACT;
            op->width = iw[0];
            break;
        default:
            h2c_unreachable("op kind");
        }
    }
    return ok;
}

/* Each KV cache is read by one attention op: two scores (or two values) over the K (or V) of the same
 * op would share a cache, which h2c's dataflow cannot map. */
static bool check_kv_readers(Sema *S, const Model *m) {
    bool ok = true;
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *a = &m->ops[i];
        if ((a->kind != OPK_ATTN_SCORE && a->kind != OPK_ATTN_VALUE) || a->ninputs < 2)
            continue;
        for (int j = 0; j < i; j++) {
            const ModelOp *b = &m->ops[j];
            if (b->kind == a->kind && b->ninputs >= 2 && b->inputs[1] == a->inputs[1]) {
                const char *src = a->inputs[1] < 0 ? "x" : m->ops[a->inputs[1]].name;
                diag_error(S->d, a->loc, "%s '%s' reads the same %s cache as '%s' (both from '%s'); each KV cache "
                           "must belong to one attention op", op_kind_names[a->kind], a->name,
                           a->kind == OPK_ATTN_SCORE ? "K" : "V", b->name, src);
                diag_note(S->d, b->loc, "'%s' is defined here", b->name);
                ok = false;
            }
        }
    }
    return ok;
}

Model *sema_model(Sema *S, const Item *it) {
    Model *m = ARENA_NEW(S->a, Model);
    m->name = it->block.name;
    m->loc = it->block.name_loc;
    static const struct {
        const char *path;
        int flags;
        double min, max;
    } mf[MF_COUNT_] = {
        {"layers", F_INT | F_REQUIRED, 1, 100000},        {"hidden", F_INT | F_REQUIRED, 1, 1 << 20},
        {"intermediate", F_INT | F_REQUIRED, 1, 1 << 22}, {"heads", F_INT | F_REQUIRED, 1, 4096},
        {"kv_heads", F_INT, 1, 4096},                     {"head_dim", F_INT, 1, 65536},
        {"vocab", F_INT, 0, 1 << 24},
    };
    Slot *slots = ARENA_ARRAY(S->a, Slot, MF_COUNT_);
    for (int i = 0; i < MF_COUNT_; i++)
        slots[i] = (Slot){mf[i].path, UK_NONE, mf[i].flags, mf[i].min, mf[i].max, 0, NULL, SLOT_UNSEEN, 0, 0};
    Scope sc = {S, arena_printf(S->a, "model '%s'", m->name), slots, MF_COUNT_, model_derived, 0, 0};
    ModelCtx mc = {S, NULL, 0, 0};
    sema_collect(&sc, it->block.body, NULL, model_extra, &mc);
    bool ok = true;
    for (int i = 0; i < MF_COUNT_; i++) {
        if ((slots[i].flags & F_REQUIRED) && !slots[i].st) {
            diag_error(S->d, m->loc, "model '%s' does not set '%s'", m->name, slots[i].path);
            slots[i].state = SLOT_BAD;
            ok = false;
        }
    }
    if (!sema_eval_all(&sc))
        ok = false;
    int *dst[MF_COUNT_] = {&m->layers, &m->hidden, &m->intermediate, &m->heads, &m->kv_heads, &m->head_dim,
                           &m->vocab};
    for (int i = 0; i < MF_COUNT_; i++) {
        *dst[i] = (int)slots[i].value;
        m->f_locs[i] = slots[i].st ? slots[i].st->assign.value->loc : m->loc;
    }
    if (!ok)
        return NULL;
    if (m->kv_heads > m->heads) {
        diag_error(S->d, m->f_locs[MF_KV_HEADS], "kv_heads = %d exceeds heads = %d", m->kv_heads, m->heads);
        ok = false;
    } else if (m->heads % m->kv_heads != 0) {
        diag_error(S->d, m->f_locs[MF_KV_HEADS], "heads = %d is not a multiple of kv_heads = %d", m->heads,
                   m->kv_heads);
        ok = false;
    }
    if (!slots[MF_HEAD_DIM].st && m->hidden % m->heads != 0) {
        diag_error(S->d, m->f_locs[MF_HEADS],
                   "hidden = %d is not a multiple of heads = %d; set head_dim explicitly", m->hidden, m->heads);
        ok = false;
    }
    if (mc.nops == 0) {
        diag_error(S->d, m->loc, "model '%s' has no ops (write them as: op q = fc(x, out = hidden);)", m->name);
        ok = false;
    }
    if (ok && !check_ops(S, &sc, m, &mc))
        ok = false;
    if (ok && !check_kv_readers(S, m))
        ok = false;
    return ok ? m : NULL;
}


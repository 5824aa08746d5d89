/* sema_model.c: checks a `model` block: its shape fields (with derived head_dim and kv_heads) and
 * its op graph: inputs defined, acyclic, arities and widths consistent, KV caches read once. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- model */

enum {
    MF_LAYERS, MF_HIDDEN, MF_INTERMEDIATE, MF_HEADS, MF_KV_HEADS, MF_HEAD_DIM, MF_VOCAB,
    MF_NORM_EPS, MF_ROPE_THETA, MF_ROPE_FRACTION, MF_ROPE_FACTOR, MF_ROPE_LOW, MF_ROPE_HIGH, MF_ROPE_ORIGINAL,
    MF_COUNT_
};

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
    const Stmt **ops;       /* op statements: the prologue's, the layer's, the epilogue's */
    OpScope *scopes;
    int nops, cap, scap;
    const Stmt *attention, *scaling;    /* the enum fields' assignments */
    bool ok;
} ModelCtx;

static void add_op_stmt(ModelCtx *mc, const Stmt *st, OpScope scope) {
    int n = mc->nops;
    VEC_PUSH(mc->S->a, mc->ops, mc->nops, mc->cap, st);
    int sn = n;
    VEC_PUSH(mc->S->a, mc->scopes, sn, mc->scap, scope);
}

static bool model_extra(void *ctx, const char *path, const Stmt *st) {
    ModelCtx *mc = ctx;
    if (!path) {
        add_op_stmt(mc, st, SCOPE_LAYER);
        return true;
    }
    const Stmt **slot = strcmp(path, "attention") == 0 ? &mc->attention
                        : strcmp(path, "rope.scaling") == 0 ? &mc->scaling : NULL;
    if (!slot)
        return false;
    if (*slot) {
        diag_error(mc->S->d, st->assign.path_loc, "'%s' is set twice", path);
        diag_note(mc->S->d, (*slot)->assign.path_loc, "first set here");
        mc->ok = false;
    } else {
        *slot = st;
    }
    return true;
}

/* The statements of a model block with its prologue and epilogue blocks taken out (their ops are
 * added to mc with their scope); the rest is collected as fields and layer ops. */
static const Stmt *split_scopes(ModelCtx *mc, const Stmt *body) {
    Sema *S = mc->S;
    const Stmt *seen[SCOPE_COUNT_] = {0};
    /* prologue ops first, then the layer's (collected later), then the epilogue's */
    for (int pass = 0; pass < 2; pass++) {
        OpScope want = pass == 0 ? SCOPE_PROLOGUE : SCOPE_EPILOGUE;
        for (const Stmt *st = body; st; st = st->next) {
            if (st->kind != ST_BLOCK || strcmp(st->block.name, op_scope_names[want]) != 0)
                continue;
            if (seen[want]) {
                diag_error(S->d, st->block.name_loc, "model has two %s blocks", op_scope_names[want]);
                diag_note(S->d, seen[want]->block.name_loc, "the first is here");
                mc->ok = false;
                continue;
            }
            seen[want] = st;
            for (const Stmt *o = st->block.body; o; o = o->next) {
                if (o->kind == ST_OP)
                    add_op_stmt(mc, o, want);
                else {
                    diag_error(S->d, o->loc, "a %s holds only ops (op NAME = KIND(...);)", op_scope_names[want]);
                    mc->ok = false;
                }
            }
        }
    }
    if (!seen[SCOPE_PROLOGUE] && !seen[SCOPE_EPILOGUE])
        return body;
    /* a copy of the list without those blocks */
    Stmt *head = NULL, **tail = &head;
    for (const Stmt *st = body; st; st = st->next) {
        if (st->kind == ST_BLOCK && (strcmp(st->block.name, "prologue") == 0 || strcmp(st->block.name, "epilogue") == 0))
            continue;
        Stmt *c = ARENA_NEW(S->a, Stmt);
        *c = *st;
        c->next = NULL;
        *tail = c;
        tail = &c->next;
    }
    return head;
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

static const char *const act_fns[] = {"silu", "gelu", "gelu_tanh", "relu", "swish", NULL};
static const char *const norm_kinds[] = {"rms", "layer", NULL};
static const char *const bools[] = {"false", "true", NULL};

/* Evaluates an op's keyword argument as a plain number in [lo, hi]. */
static bool op_num_arg(Scope *sc, const Arg *a, double lo, double hi, double *out) {
    Val v;
    if (!sema_eval(sc, a->value, &v))
        return false;
    if (!sema_check_value(sc->S, a->name, UK_NONE, 0, lo, hi, v, a->value))
        return false;
    *out = v.v;
    return true;
}

/* An input's name as written, for messages. */
static const char *input_name(const Model *m, int k) {
    return k == MODEL_INPUT_X ? "x" : k == MODEL_INPUT_TOKENS ? "tokens" : m->ops[k].name;
}

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

/* The ends of the layer graph. The prologue's last op is the first layer's input x; the layer's
 * output is its one op that no other layer op reads, and it feeds the next layer's x; the epilogue
 * reads that output (its value after the last layer) and no other layer op. */
static bool check_ends(Sema *S, Model *m) {
    bool ok = true;
    bool *read = ARENA_ARRAY(S->a, bool, m->nops + 1);
    int last_pro = -1, nepi = 0;
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *op = &m->ops[i];
        if (op->scope == SCOPE_PROLOGUE)
            last_pro = i;
        if (op->scope == SCOPE_EPILOGUE)
            nepi++;
        if (op->scope != SCOPE_LAYER)
            continue;
        for (int j = 0; j < op->ninputs; j++)
            if (op->inputs[j] >= 0)
                read[op->inputs[j]] = true;
    }
    int nsinks = 0, sink = -1;
    char names[256] = "";
    for (int i = 0; i < m->nops; i++) {
        if (m->ops[i].scope != SCOPE_LAYER || read[i])
            continue;
        if (nsinks < 4) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s'%s'", nsinks ? ", " : "", m->ops[i].name);
        }
        nsinks++;
        sink = i;
    }
    if (nsinks == 1)
        m->layer_out = sink;
    if (last_pro < 0 && nepi == 0)
        return true;
    if (nsinks != 1) {
        diag_error(S->d, m->loc,
                   "the layer of model '%s' has %d outputs (%s%s): with a prologue or epilogue, exactly one layer op "
                   "must be read by no other layer op, as it feeds the next layer",
                   m->name, nsinks, names, nsinks > 4 ? ", ..." : "");
        return false;
    }
    const ModelOp *out = &m->ops[sink];
    if (out->type != VT_ACT || out->width != m->hidden) {
        diag_error(S->d, out->loc, "'%s' is the layer's output, which feeds the next layer, so it must be hidden = %d "
                   "wide", out->name, m->hidden);
        ok = false;
    }
    if (last_pro >= 0) {
        const ModelOp *p = &m->ops[last_pro];
        if (p->type != VT_ACT || p->width != m->hidden) {
            diag_error(S->d, p->loc, "'%s' ends the prologue, so it is the first layer's input x and must be hidden = "
                       "%d wide", p->name, m->hidden);
            ok = false;
        }
    }
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *op = &m->ops[i];
        if (op->scope != SCOPE_EPILOGUE)
            continue;
        for (int j = 0; j < op->ninputs; j++) {
            int k = op->inputs[j];
            if (k >= 0 && m->ops[k].scope == SCOPE_LAYER && k != sink) {
                diag_error(S->d, op->loc, "epilogue op '%s' reads '%s'; after the last layer only the layer's output "
                           "'%s' is left", op->name, m->ops[k].name, out->name);
                ok = false;
            }
        }
    }
    return ok;
}

/* May an op of scope `from` read the result of op k? The layer reads the layer and x; the prologue
 * reads tokens and the prologue; the epilogue reads the epilogue and the layer (its output after
 * the last layer, checked once the output is known). */
static bool scope_may_read(const Model *m, OpScope from, int k) {
    if (k == MODEL_INPUT_X)
        return from == SCOPE_LAYER;
    if (k == MODEL_INPUT_TOKENS)
        return from == SCOPE_PROLOGUE;
    OpScope to = m->ops[k].scope;
    return to == from || (from == SCOPE_EPILOGUE && to == SCOPE_LAYER);
}

static const char *scope_rule(OpScope s) {
    switch (s) {
    case SCOPE_PROLOGUE: return "a prologue op reads 'tokens' and other prologue ops";
    case SCOPE_EPILOGUE: return "an epilogue op reads the layer's output and other epilogue ops";
    default: return "a layer op reads 'x' (the layer input) and other layer ops";
    }
}

static bool check_ops(Sema *S, Scope *sc, Model *m, ModelCtx *mc) {
    bool ok = true;
    m->nops = mc->nops;
    m->ops = ARENA_ARRAY(S->a, ModelOp, mc->nops ? mc->nops : 1);
    m->layer_out = -1;
    NameIndex ni;
    ni.cap = 16;
    while (ni.cap < (size_t)mc->nops * 2)
        ni.cap *= 2;
    ni.names = ARENA_ARRAY(S->a, const char *, ni.cap);
    ni.idx = ARENA_ARRAY(S->a, int, ni.cap);
    const char *kinds[OPK_COUNT_ + 2];
    int nk = 0;
    for (int k = 0; k < OPK_COUNT_; k++) {
        kinds[nk++] = op_kind_names[k];
        if (k == OPK_FC)
            kinds[nk++] = "linear";
    }
    kinds[nk] = NULL;
    /* names first, so inputs may refer to ops written later */
    for (int i = 0; i < mc->nops; i++) {
        const Stmt *st = mc->ops[i];
        ModelOp *op = &m->ops[i];
        op->name = st->op.name;
        op->loc = st->op.name_loc;
        op->kind_loc = st->op.callee_loc;
        op->scope = mc->scopes[i];
        op->tied = -1;
        if (strcmp(op->name, "x") == 0 || strcmp(op->name, "tokens") == 0) {
            diag_error(S->d, op->loc, "'%s' is the %s and cannot be redefined", op->name,
                       op->name[0] == 'x' ? "layer input" : "token input of the prologue");
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
            const char *sug = closest_word(st->op.callee, kinds);
            if (sug) {
                diag_error(S->d, st->op.callee_loc, "unknown op kind '%s'; did you mean '%s'?", st->op.callee, sug);
            } else {
                char all[256] = "";
                for (int k = 0; kinds[k]; k++) {
                    size_t l = strlen(all);
                    snprintf(all + l, sizeof all - l, "%s%s", k ? ", " : "", kinds[k]);
                }
                diag_error(S->d, st->op.callee_loc, "unknown op kind '%s' (known: %s)", st->op.callee, all);
            }
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
        bool seen_kw = false, out_given = false, bias_given = false;
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
                    int k = sema_enum_value(S, a->value, "activation function", act_fns, 5);
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
                } else if (strcmp(a->name, "eps") == 0 && op->kind == OPK_NORM) {
                    if (!op_num_arg(sc, a, 1e-30, 1, &op->eps))
                        ok = false;
                } else if (strcmp(a->name, "bias") == 0 && (op->kind == OPK_FC || op->kind == OPK_NORM)) {
                    int k = sema_enum_value(S, a->value, "bias value", bools, 2);
                    if (k < 0)
                        ok = false;
                    op->bias = k == 1;
                    bias_given = true;
                } else if (strcmp(a->name, "scale") == 0 && op->kind == OPK_EMBEDDING) {
                    if (!op_num_arg(sc, a, 1e-30, 1e30, &op->scale))
                        ok = false;
                } else if ((strcmp(a->name, "positions") == 0 || strcmp(a->name, "offset") == 0) &&
                           op->kind == OPK_EMBEDDING) {
                    double v = 0;
                    bool pos = a->name[0] == 'p';
                    if (!op_num_arg(sc, a, pos ? 1 : 0, 1 << 24, &v) || v != floor(v)) {
                        if (v != floor(v))
                            diag_error(S->d, a->value->loc, "'%s' is a whole number", a->name);
                        ok = false;
                    } else if (pos) {
                        op->positions = (int)v;
                    } else {
                        op->offset = (int)v;
                    }
                } else if (strcmp(a->name, "window") == 0 && op->kind == OPK_ATTN_SCORE) {
                    Val v;
                    if (!sema_eval(sc, a->value, &v) ||
                        !sema_check_value(S, "window", UK_TOKENS, F_INT, 1, 1 << 26, v, a->value))
                        ok = false;
                    else
                        op->window = (int)v.v;
                } else if (strcmp(a->name, "unit_offset") == 0 && op->kind == OPK_NORM) {
                    int k = sema_enum_value(S, a->value, "unit_offset value", bools, 2);
                    if (k < 0)
                        ok = false;
                    op->unit_offset = k == 1;
                } else if (strcmp(a->name, "tied") == 0 && op->kind == OPK_FC) {
                    int k = a->value->kind == EX_NAME ? name_find(&ni, a->value->name, false, 0) : -1;
                    if (k < 0 || m->ops[k].kind != OPK_EMBEDDING || m->ops[k].positions > 0) {
                        diag_error(S->d, a->value->loc, "'tied' names the embedding op whose table this fc shares");
                        ok = false;
                    } else {
                        op->tied = k;
                    }
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
                diag_error(S->d, a->value->loc, "an op input is the name of an op, 'x' or 'tokens'");
                ok = false;
                continue;
            }
            int idx = -3;
            if (strcmp(a->value->name, "x") == 0)
                idx = MODEL_INPUT_X;
            else if (strcmp(a->value->name, "tokens") == 0)
                idx = MODEL_INPUT_TOKENS;
            if (idx == -3) {
                int k = name_find(&ni, a->value->name, false, 0);
                if (k >= 0)
                    idx = k;
            }
            if (idx == -3) {
                const char **names = arena_alloc(S->a, sizeof(char *) * (size_t)(m->nops + 3));
                int nn = 0;
                names[nn++] = op->scope == SCOPE_PROLOGUE ? "tokens" : "x";
                for (int k = 0; k < m->nops; k++)
                    if (scope_may_read(m, op->scope, k))
                        names[nn++] = m->ops[k].name;
                names[nn] = NULL;
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
            if (!scope_may_read(m, op->scope, idx)) {
                const char *where = idx >= 0 ? op_scope_names[m->ops[idx].scope] : idx == MODEL_INPUT_X ? "layer" : "prologue";
                diag_error(S->d, a->value->loc, "%s op '%s' cannot read '%s' (%s); %s",
                           op_scope_names[op->scope], op->name, a->value->name,
                           idx >= 0 ? arena_printf(S->a, "a %s op", where) : arena_printf(S->a, "the %s's input", where),
                           scope_rule(op->scope));
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
        if (op->kind == OPK_NORM && !bias_given)
            op->bias = strcmp(op->fn, "layer") == 0; /* LayerNorm has a shift (beta) unless told otherwise */
        if (op->kind == OPK_EMBEDDING && op->scale == 0)
            op->scale = 1;
        if (op->kind == OPK_EMBEDDING && op->scope != SCOPE_PROLOGUE) {
            diag_error(S->d, st->op.callee_loc, "embedding '%s' belongs in the model's prologue block", op->name);
            ok = false;
        }
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
            it[j] = k == MODEL_INPUT_X ? VT_ACT : k == MODEL_INPUT_TOKENS ? VT_TOKENS : m->ops[k].type;
            iw[j] = k == MODEL_INPUT_X ? m->hidden : k == MODEL_INPUT_TOKENS ? 1 : m->ops[k].width;
        }
        const char *in0 = op->ninputs > 0 ? input_name(m, op->inputs[0]) : "";
        const char *in1 = op->ninputs > 1 ? input_name(m, op->inputs[1]) : "";
        int qw = m->heads * m->head_dim, kvw = m->kv_heads * m->head_dim;
        bool tokens_misused = false;
        for (int j = 0; j < op->ninputs; j++)
            if (it[j] == VT_TOKENS && op->kind != OPK_EMBEDDING)
                tokens_misused = true;
        if (tokens_misused) {
            diag_error(S->d, op->loc, "%s '%s' cannot take the token ids; look them up with embedding(tokens)",
                       op_kind_names[op->kind], op->name);
            ok = false;
            op->type = VT_ACT;
            op->width = m->hidden;
            continue;
        }
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
            if (op->tied >= 0 && (iw[0] != m->hidden || op->out != m->vocab)) {
                diag_error(S->d, op->loc,
                           "fc '%s' is tied to the embedding '%s', so it maps hidden (%d) to vocab (%d); it maps %d to %d",
                           op->name, m->ops[op->tied].name, m->hidden, m->vocab, iw[0], op->out);
                ok = false;
            }
            if (op->tied >= 0 && op->bias) {
                diag_error(S->d, op->loc, "fc '%s' is tied to an embedding table, which has no bias", op->name);
                ok = false;
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
            if (op->scope != SCOPE_LAYER) {
                diag_error(S->d, op->loc, "attention op '%s' belongs in the layer graph, not the %s", op->name,
                           op_scope_names[op->scope]);
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
        case OPK_EMBEDDING:
            if (it[0] != VT_TOKENS) {
                diag_error(S->d, op->loc, "embedding '%s' looks up 'tokens', not '%s'", op->name, in0);
                ok = false;
            }
            if (m->vocab <= 0 && op->positions == 0) {
                diag_error(S->d, op->loc, "embedding '%s' needs the model's vocab (vocab = N)", op->name);
                ok = false;
            }
            if (op->offset > 0 && op->positions == 0) {
                diag_error(S->d, op->loc, "embedding '%s': 'offset' applies to a table of positions (positions = N)",
                           op->name);
                ok = false;
            }
            op->type = VT_ACT;
            op->width = m->hidden;
            break;
        case OPK_ROPE:
            if (it[0] != VT_ACT || iw[0] % m->head_dim != 0 || (iw[0] != qw && iw[0] != kvw)) {
                diag_error(S->d, op->loc,
                           "rope '%s' rotates queries or keys: '%s' must be %d (heads x head_dim) or %d (kv_heads x "
                           "head_dim) wide, not %s",
                           op->name, in0, qw, kvw, it[0] == VT_ACT ? width_desc(S, m, iw[0]) : "scores");
                ok = false;
            }
            op->type = VT_ACT;
            op->width = iw[0];
            break;
        default:
            h2c_unreachable("op kind");
        }
    }
    if (!ok)
        return false;
    return check_ends(S, m);
}

/* Each KV cache is read by one attention op: two scores (or two values) over the K (or V) of the same
 * op would share a cache, which h2c's dataflow cannot map. */
static bool check_kv_readers(Sema *S, const Model *m) {
    bool ok = true;
    /* the first score and the first value op reading each op's result (slot 0: the layer input x) */
    int *first = arena_alloc(S->a, sizeof(int) * 2 * (size_t)(m->nops + 1));
    for (int i = 0; i < 2 * (m->nops + 1); i++)
        first[i] = -1;
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *a = &m->ops[i];
        if ((a->kind != OPK_ATTN_SCORE && a->kind != OPK_ATTN_VALUE) || a->ninputs < 2 || a->inputs[1] < -1 ||
            a->inputs[1] >= m->nops)
            continue;
        int *slot = &first[2 * (a->inputs[1] + 1) + (a->kind == OPK_ATTN_VALUE)];
        if (*slot < 0) {
            *slot = i;
            continue;
        }
        const ModelOp *b = &m->ops[*slot];
        const char *src = a->inputs[1] < 0 ? "x" : m->ops[a->inputs[1]].name;
        diag_error(S->d, a->loc, "%s '%s' reads the same %s cache as '%s' (both from '%s'); each KV cache "
                   "must belong to one attention op", op_kind_names[a->kind], a->name,
                   a->kind == OPK_ATTN_SCORE ? "K" : "V", b->name, src);
        diag_note(S->d, b->loc, "'%s' is defined here", b->name);
        ok = false;
    }
    return ok;
}

Model *sema_model(Sema *S, const Item *it) {
    Model *m = ARENA_NEW(S->a, Model);
    m->name = it->block.name;
    m->loc = it->block.name_loc;
    Rope rd;
    rope_defaults(&rd);
    static const struct {
        const char *path;
        UnitKind kind;
        int flags;
        double min, max;
    } mf[MF_COUNT_] = {
        {"layers", UK_NONE, F_INT | F_REQUIRED, 1, 100000},
        {"hidden", UK_NONE, F_INT | F_REQUIRED, 1, 1 << 20},
        {"intermediate", UK_NONE, F_INT | F_REQUIRED, 1, 1 << 22},
        {"heads", UK_NONE, F_INT | F_REQUIRED, 1, 4096},
        {"kv_heads", UK_NONE, F_INT, 1, 4096},
        {"head_dim", UK_NONE, F_INT, 1, 65536},
        {"vocab", UK_NONE, F_INT, 0, 1 << 24},
        {"norm_eps", UK_NONE, 0, 1e-30, 1},
        {"rope.theta", UK_NONE, 0, 1, 1e12},
        {"rope.fraction", UK_PERCENT, 0, 1e-6, 1},
        {"rope.factor", UK_NONE, 0, 1, 1e6},
        {"rope.low_freq_factor", UK_NONE, 0, 1e-6, 1e6},
        {"rope.high_freq_factor", UK_NONE, 0, 1e-6, 1e6},
        {"rope.original_max", UK_TOKENS, F_INT, 1, 1 << 26},
    };
    const double defs[MF_COUNT_] = {0, 0, 0, 0, 0, 0, 0, 1e-5, rd.theta, rd.fraction, rd.factor, rd.low_freq_factor,
                                    rd.high_freq_factor, rd.original_max};
    Slot *slots = ARENA_ARRAY(S->a, Slot, MF_COUNT_);
    for (int i = 0; i < MF_COUNT_; i++)
        slots[i] = (Slot){mf[i].path, mf[i].kind, mf[i].flags, mf[i].min, mf[i].max, defs[i], NULL, SLOT_UNSEEN, 0, 0};
    Scope sc = {S, arena_printf(S->a, "model '%s'", m->name), slots, MF_COUNT_, model_derived, 0, 0};
    ModelCtx mc;
    memset(&mc, 0, sizeof mc);
    mc.S = S;
    mc.ok = true;
    const Stmt *body = split_scopes(&mc, it->block.body);
    sema_collect(&sc, body, NULL, model_extra, &mc);
    /* the layer ops were collected after the prologue's and the epilogue's: put them in between */
    {
        int n = mc.nops;
        const Stmt **ops = ARENA_ARRAY(S->a, const Stmt *, n + 1);
        OpScope *sco = ARENA_ARRAY(S->a, OpScope, n + 1);
        int k = 0;
        static const OpScope order[3] = {SCOPE_PROLOGUE, SCOPE_LAYER, SCOPE_EPILOGUE};
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < n; i++)
                if (mc.scopes[i] == order[o]) {
                    ops[k] = mc.ops[i];
                    sco[k++] = order[o];
                }
        mc.ops = ops;
        mc.scopes = sco;
    }
    bool ok = mc.ok;
    for (int i = 0; i < MF_COUNT_; i++) {
        if ((slots[i].flags & F_REQUIRED) && !slots[i].st) {
            diag_error(S->d, m->loc, "model '%s' does not set '%s'", m->name, slots[i].path);
            slots[i].state = SLOT_BAD;
            ok = false;
        }
    }
    if (!sema_eval_all(&sc))
        ok = false;
    int *dst[MF_NORM_EPS] = {&m->layers, &m->hidden, &m->intermediate, &m->heads, &m->kv_heads, &m->head_dim,
                             &m->vocab};
    for (int i = 0; i < MF_NORM_EPS; i++) {
        *dst[i] = (int)slots[i].value;
        m->f_locs[i] = slots[i].st ? slots[i].st->assign.value->loc : m->loc;
    }
    m->norm_eps = slots[MF_NORM_EPS].value;
    m->rope = rd;
    m->rope.theta = slots[MF_ROPE_THETA].value;
    m->rope.fraction = slots[MF_ROPE_FRACTION].value;
    m->rope.factor = slots[MF_ROPE_FACTOR].value;
    m->rope.low_freq_factor = slots[MF_ROPE_LOW].value;
    m->rope.high_freq_factor = slots[MF_ROPE_HIGH].value;
    m->rope.original_max = (int)slots[MF_ROPE_ORIGINAL].value;
    m->attention = ATTN_FUSED;
    bool enums_ok = true;   /* a bad enum stops nothing else: the ops are still checked */
    if (mc.attention) {
        int k = sema_enum_value(S, mc.attention->assign.value, "attention form", attn_form_names, ATTN_COUNT_);
        if (k < 0)
            enums_ok = false;
        else
            m->attention = (AttnForm)k;
    }
    if (mc.scaling) {
        int k = sema_enum_value(S, mc.scaling->assign.value, "rope scaling", rope_scaling_names, ROPE_COUNT_);
        if (k < 0)
            enums_ok = false;
        else
            m->rope.scaling = (RopeScaling)k;
    }
    if (!ok)
        return NULL;
    if (m->rope.high_freq_factor <= m->rope.low_freq_factor && m->rope.scaling == ROPE_LLAMA3) {
        diag_error(S->d, slots[MF_ROPE_HIGH].st ? slots[MF_ROPE_HIGH].st->assign.value->loc : m->loc,
                   "rope.high_freq_factor (%g) must exceed rope.low_freq_factor (%g)", m->rope.high_freq_factor,
                   m->rope.low_freq_factor);
        ok = false;
    }
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
    int nlayer = 0;
    for (int i = 0; i < mc.nops; i++)
        nlayer += mc.scopes[i] == SCOPE_LAYER;
    if (nlayer == 0) {
        diag_error(S->d, m->loc, "model '%s' has no layer ops (write them as: op q = fc(x, out = hidden);)", m->name);
        ok = false;
    }
    if (ok && !check_ops(S, &sc, m, &mc))
        ok = false;
    if (ok && !check_kv_readers(S, m))
        ok = false;
    if (ok) {
        int rot = (int)(m->head_dim * m->rope.fraction);
        for (int i = 0; i < m->nops && ok; i++)
            if (m->ops[i].kind == OPK_ROPE && (rot < 2 || rot % 2 != 0)) {
                diag_error(S->d, m->ops[i].loc,
                           "rope '%s' rotates head_dim x rope.fraction = %d dimensions, which must be even and at "
                           "least 2", m->ops[i].name, rot);
                ok = false;
            }
    }
    return ok && enums_ok ? m : NULL;
}


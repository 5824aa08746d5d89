/* attn.c: the attention plans of a Module (docs/ir.md §2.6): what a pattern reserves, the bytes of
 * a tile's region, lookups of a stream's pattern and tiles, and which tensors and ops a plan
 * covers. pass_sparsity, pass_coplace and pass_balance build plans; print.c, parse.c and verify.c
 * read and check them; the cost model prices them (cost/cost_attn.c). */
#include "ir.h"

#include <string.h>

const char *const pat_kind_names[PAT_COUNT_] = {"dense", "static", "dynamic"};

long long attn_slots(const Pattern *p, long long max_seq) {
    if (p->kind == PAT_STATIC) {
        long long s = (long long)p->sink + p->window;
        return s < max_seq ? s : max_seq;
    }
    return max_seq;
}

int attn_token_tile(const Pattern *p, long long t, int n) {
    if (n < 1)
        return 0;
    long long slot = t;
    if (p->kind == PAT_STATIC && t >= p->sink && p->window > 0)
        slot = p->sink + (t - p->sink) % p->window;   /* the window is a ring after the sinks */
    return (int)(slot % n);
}

long long attn_meta_pages(const Pattern *p, long long max_seq) {
    if (p->kind != PAT_DYNAMIC || p->page < 1)
        return 0;
    return (max_seq + p->page - 1) / p->page;
}

static long long ceil_div(long long a, long long b) { return b > 0 ? (a + b - 1) / b : 0; }

long long attn_region_bytes(const Module *m, const Pattern *p, int n) {
    if (n < 1)
        return 0;
    long long max_seq = m->work.max_seq;
    double row = (double)m->model.head_dim * ir_elem_bytes(m); /* one key or value vector */
    double bytes = (double)ceil_div(attn_slots(p, max_seq), n) * row * 2 +
                   (double)ceil_div(attn_meta_pages(p, max_seq), n) * row * 2;
    long long whole = (long long)bytes;
    return (double)whole < bytes ? whole + 1 : whole;
}

long long attn_line_region(const Module *m, const Attention *a, const AttnTiles *t) {
    long long r = 0;
    for (int i = 0; i < a->npats; i++) {
        const AttnPatternLine *pl = &a->pats[i];
        if (pl->layers.hi <= t->layers.lo || t->layers.hi <= pl->layers.lo)
            continue;
        bool has = false;
        for (int k = 0; k < pl->nheads && !has; k++)
            has = pl->heads[k] == t->head;
        if (!has)
            continue;
        long long b = attn_region_bytes(m, &pl->pat, t->nbanks);
        r = b > r ? b : r;
    }
    return r;
}

const AttnPatternLine *attn_pattern_at(const Attention *a, int layer, int head) {
    for (int i = 0; i < a->npats; i++) {
        const AttnPatternLine *pl = &a->pats[i];
        if (layer < pl->layers.lo || layer >= pl->layers.hi)
            continue;
        for (int k = 0; k < pl->nheads; k++)
            if (pl->heads[k] == head)
                return pl;
    }
    return NULL;
}

const AttnTiles *attn_tiles_at(const Attention *a, int layer, int head, int batch) {
    for (int i = 0; i < a->ntiles; i++) {
        const AttnTiles *t = &a->tiles[i];
        if (t->head == head && t->batch == batch && layer >= t->layers.lo && layer < t->layers.hi)
            return t;
    }
    return NULL;
}

int ir_attention_of_tensor(const Module *m, int t) {
    for (int i = 0; i < m->nattns; i++)
        if (m->attns[i].ntiles > 0 && (m->attns[i].k_tensor == t || m->attns[i].v_tensor == t))
            return i;
    return -1;
}

int ir_attention_of_op(const Module *m, int op) {
    const Phase *dc = &m->phases[PH_DECODE];
    for (int i = 0; i < m->nattns; i++) {
        const Attention *a = &m->attns[i];
        if (a->ntiles == 0)
            continue;
        if (a->value_op == op || a->score_op == op)
            return i;
        /* a softmax between the score op and the value op */
        if (a->value_op >= 0 && a->value_op < dc->nops && op >= 0 && op < dc->nops) {
            const Op *v = &dc->ops[a->value_op];
            if (v->ninputs > 0 && v->inputs[0] == op && dc->ops[op].code == OP_SOFTMAX)
                return i;
        }
    }
    return -1;
}

ChanSet attn_channels(const Attention *a) {
    ChanSet s = 0;
    for (int i = 0; i < a->ntiles; i++)
        for (int j = 0; j < a->tiles[i].nbanks; j++)
            s |= CHAN_BIT(a->tiles[i].banks[j].ch);
    return s;
}

ChanSet ir_tensor_chans(const Module *m, int t) {
    int a = ir_attention_of_tensor(m, t);
    if (a >= 0)
        return attn_channels(&m->attns[a]);
    ChanSet s = 0;
    const Tensor *T = &m->tensors[t];
    for (int i = 0; i < T->ntiles; i++)
        s |= T->tiles[i].place.chans;
    return s;
}

void ir_attn_add_pattern(Arena *ar, Attention *a, AttnPatternLine line) {
    VEC_PUSH(ar, a->pats, a->npats, a->pats_cap, line);
}

void ir_attn_add_tiles(Arena *ar, Attention *a, AttnTiles line) {
    VEC_PUSH(ar, a->tiles, a->ntiles, a->tiles_cap, line);
}

Attention *ir_add_attention(Module *m) {
    Attention a;
    memset(&a, 0, sizeof a);
    a.value_op = a.score_op = a.k_tensor = a.v_tensor = -1;
    VEC_PUSH(&m->arena, m->attns, m->nattns, m->attns_cap, a);
    return &m->attns[m->nattns - 1];
}

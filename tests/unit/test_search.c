/* test_search.c: the dataflow search is exact. On hundreds of small random problems (random DAGs
 * of 2-5 ops, 1-3 NMP channels, with and without normal channels, fc/attention/other ops) and a
 * synthetic cost model with random per-op tables, df_search's optimum must equal the minimum over
 * every legal plan, found here by brute force: every topological chunking into groups, every
 * grouping of a chunk's components into partitions, every map of named channels to partitions,
 * every sequence of strata, every map of a stratum's channels to its ops, every normal flag and
 * every split. The brute force shares no code with the search, only the cost model. */
#include "passes.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- a synthetic cost model */

enum { MAXS = 5, MAXC = 4 };

typedef struct Tables {
    double pre[DF_MAX_OPS][MAXC + 1][2];            /* prefill by (c, normal) */
    double npu_only[DF_MAX_OPS];                    /* NPU mode */
    double nmp_only[DF_MAX_OPS][MAXC + 1];          /* NMP mode by c: not monotone in c */
    double mix_nmp[DF_MAX_OPS][MAXC + 1][MAXS + 1]; /* MIX, by c and split */
    double mix_npu[DF_MAX_OPS][MAXC + 1][MAXS + 1];
    double other[DF_MAX_OPS];                       /* channel-less ops */
    bool scan;                                      /* splits not monotone: the model says so */
} Tables;

static Tables T;
static bool art;    /* the artifact's split space (--splits=artifact): the brute force lists its splits itself */
static const struct CostModel *syn;   /* the model under test (set per variant) */
static unsigned long long rng = 88172645463325252ULL;
static double rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static int rndi(int n) { return (int)(rnd() * n); }

static void syn_op_cost(const DfProblem *p, int op, int c, bool normal, long long split, OpCost *out) {
    memset(out, 0, sizeof *out);
    if (p->ops[op].kind == DFK_OTHER) {
        out->npu = T.other[op];
        return;
    }
    out->prefill = T.pre[op][c][normal];
    if (c == 0) {
        out->npu = T.npu_only[op];
    } else if (!normal) {
        out->nmp = T.nmp_only[op][c];
    } else {
        out->nmp = T.mix_nmp[op][c][split];
        out->npu = T.mix_npu[op][c][split];
    }
}

/* The hierarchy's rules (the same as the artifact's evaluator), over the tables. */
static void syn_evaluate(const DfProblem *p, const DfPlan *plan, CostResult *out) {
    memset(out, 0, sizeof *out);
    int G = 0;
    for (int i = 0; i < p->nops; i++)
        if (plan->a[i].group + 1 > G)
            G = plan->a[i].group + 1;
    for (int g = 0; g < G; g++) {
        double gmax = 0;
        for (int part = 0; part < DF_MAX_OPS; part++) {
            double psum = 0;
            for (int s = 0; s < DF_MAX_OPS; s++) {
                double nmax = 0, nsum = 0;
                for (int i = 0; i < p->nops; i++) {
                    const DfAssign *a = &plan->a[i];
                    if (a->group != g || a->part != part || a->stratum != s)
                        continue;
                    OpCost oc;
                    syn_op_cost(p, i, chanset_count(a->nmp), a->normal, a->split, &oc);
                    out->prefill += oc.prefill;
                    nmax = oc.nmp > nmax ? oc.nmp : nmax;
                    nsum += oc.npu;
                }
                psum += nmax > nsum ? nmax : nsum;
            }
            gmax = psum > gmax ? psum : gmax;
        }
        out->decode += gmax;
    }
    out->total = out->prefill + out->decode;
}

static int syn_pieces(const DfProblem *p, int op, int c, long long *breaks, int max) {
    (void)c;
    (void)max;
    if (T.scan)
        return 0;
    breaks[0] = 1;
    breaks[1] = df_split_len(p, op);
    return 1;
}

/* Prefill does not depend on the split here, so the bound is exact; energy is 0. */
static void syn_mix_lower(const DfProblem *p, int op, int c, long long lo, long long hi, double *prefill,
                          double *energy) {
    (void)p;
    (void)lo;
    (void)hi;
    *prefill = T.pre[op][c][1];
    *energy = 0;
}

static const CostModel syn_plain = {
    .name = "synthetic", .op_cost = syn_op_cost, .evaluate = syn_evaluate, .split_pieces = syn_pieces};
/* with bounds, and with ops of one shape sharing their tables (so they are interchangeable) */
static const CostModel syn_bounded = {.name = "synthetic+bounds",
                                      .op_cost = syn_op_cost,
                                      .evaluate = syn_evaluate,
                                      .split_pieces = syn_pieces,
                                      .mix_lower = syn_mix_lower,
                                      .costs_by_shape = true};

/* ---------------------------------------------------------------- random problems */

static void make_problem(DfProblem *p, int n, int nmp, int normal) {
    memset(p, 0, sizeof *p);
    p->nmp = nmp;
    p->normal = normal;
    p->nops = n;
    p->kv_heads = art ? 2 : 0; /* attention then splits in halves of B: i/kv */
    p->hw.banks_per_channel = 16;
    p->hw.bank_capacity = 1e12;
    for (int i = 0; i < n; i++) {
        DfOp *o = &p->ops[i];
        o->kind = (DfKind)(rnd() < 0.15 ? DFK_OTHER : rnd() < 0.5 ? DFK_ATTN : DFK_FC);
        o->dec.B = o->kind == DFK_ATTN ? 2 + rndi(MAXS - 1) : 1;
        o->dec.N = o->kind == DFK_FC ? 2 + rndi(MAXS - 1) : 1;
        o->pre.N = art ? 2 + rndi(3) : 0; /* the artifact quantises an fc's split in i/(prefill N) */
        for (int j = 0; j < i; j++)
            if (rnd() < 0.45)
                o->preds |= 1u << j;
        long long S = o->kind == DFK_FC ? (long long)o->dec.N : (long long)o->dec.B;
        for (int c = 0; c <= nmp; c++) {
            T.pre[i][c][0] = 0.2 + rnd();
            T.pre[i][c][1] = 0.1 + rnd();
            T.nmp_only[i][c] = 0.5 + 2 * rnd();
            double a = 0.2 + rnd(), b = 0.2 + rnd();
            for (long long s = 0; s <= S; s++) {
                if (T.scan) {
                    T.mix_nmp[i][c][s] = 0.1 + 2 * rnd();
                    T.mix_npu[i][c][s] = 0.1 + 2 * rnd();
                } else {
                    T.mix_nmp[i][c][s] = a * (double)s + 0.05 * rnd() * (s > 0);
                    T.mix_npu[i][c][s] = b * (double)(S - s);
                }
            }
            if (!T.scan)
                for (long long s = 1; s <= S; s++) /* keep them monotone after the jitter */
                    if (T.mix_nmp[i][c][s] < T.mix_nmp[i][c][s - 1])
                        T.mix_nmp[i][c][s] = T.mix_nmp[i][c][s - 1];
        }
        T.npu_only[i] = 0.5 + 2 * rnd();
        T.other[i] = 0.05 + 0.3 * rnd();
        if (syn->costs_by_shape) {
            /* an op shaped like an earlier one costs what it costs: the model depends on shapes only */
            for (int j = 0; j < i; j++) {
                const DfOp *a = &p->ops[i], *b = &p->ops[j];
                if (a->kind == b->kind && a->code == b->code && a->ctx_dim == b->ctx_dim &&
                    a->footprint == b->footprint && memcmp(&a->pre, &b->pre, sizeof a->pre) == 0 &&
                    memcmp(&a->dec, &b->dec, sizeof a->dec) == 0) {
                    memcpy(T.pre[i], T.pre[j], sizeof T.pre[i]);
                    T.npu_only[i] = T.npu_only[j];
                    memcpy(T.nmp_only[i], T.nmp_only[j], sizeof T.nmp_only[i]);
                    memcpy(T.mix_nmp[i], T.mix_nmp[j], sizeof T.mix_nmp[i]);
                    memcpy(T.mix_npu[i], T.mix_npu[j], sizeof T.mix_npu[i]);
                    T.other[i] = T.other[j];
                    break;
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- brute force */

typedef struct Brute {
    const DfProblem *p;
    DataflowMode mode;
    DfPlan plan;
    DfPlan best_plan;
    double best;
    long long plans;
} Brute;

static uint32_t all_of(const DfProblem *p) { return (1u << p->nops) - 1; }

static bool gemm(const DfProblem *p, int i) { return p->ops[i].kind != DFK_OTHER; }

static void try_plan(Brute *b) {
    CostResult r;
    syn_evaluate(b->p, &b->plan, &r);
    b->plans++;
    if (r.total < b->best) {
        b->best = r.total;
        b->best_plan = b->plan;
    }
}

/* continuation after a group is fully assigned */
static void mags(Brute *b, uint32_t done, int g);

typedef struct GroupState {
    int g;
    uint32_t done_after;
    int nblocks;
    uint32_t U[DF_MAX_OPS];
    ChanSet chans[DF_MAX_OPS];
    bool nf[DF_MAX_OPS];
} GroupState;

static void strata(Brute *b, GroupState *gs, int blk, uint32_t I, int s);

/* assign the ops of stratum Tm (in block blk) channel by channel, then normal flags, then splits */
/* Whether split sp of op k is one the artifact can express: int(S * i/den) for some i in 1..den-1,
 * den = kv for attention over B > 1 pairs (kv > 1), else B; the prefill N for a split along N. */
static bool artifact_split(const DfProblem *p, int k, long long sp) {
    const DfOp *o = &p->ops[k];
    long long S = df_split_len(p, k);
    long long den = o->kind == DFK_ATTN && o->dec.B > 1 ? (p->kv_heads > 1 ? p->kv_heads : (long long)o->dec.B)
                                                        : (long long)o->pre.N;
    for (long long i = 1; i < den; i++)
        if ((long long)((double)S * ((double)i / (double)den)) == sp)
            return true;
    return false;
}

static void stratum_splits(Brute *b, GroupState *gs, int blk, uint32_t I, int s, uint32_t Tm, int k) {
    const DfProblem *p = b->p;
    if (k == p->nops) {
        strata(b, gs, blk, I | Tm, s + 1);
        return;
    }
    if (!(Tm & (1u << k)) || !gemm(p, k)) {
        stratum_splits(b, gs, blk, I, s, Tm, k + 1);
        return;
    }
    DfAssign *a = &b->plan.a[k];
    long long S = df_split_len(p, k);
    if (a->nmp && a->normal) {
        for (long long sp = 1; sp <= S - 1; sp++) {
            if (art && !artifact_split(p, k, sp))
                continue;
            a->split = sp;
            stratum_splits(b, gs, blk, I, s, Tm, k + 1);
        }
    } else {
        a->split = a->nmp ? S : 0;
        stratum_splits(b, gs, blk, I, s, Tm, k + 1);
    }
}

static void stratum_normals(Brute *b, GroupState *gs, int blk, uint32_t I, int s, uint32_t Tm, int k, bool used) {
    const DfProblem *p = b->p;
    if (k == p->nops) {
        if (used != gs->nf[blk])
            return;
        for (int i = 0; i < p->nops; i++) {
            if (!(Tm & (1u << i)) || !gemm(p, i))
                continue;
            const DfAssign *a = &b->plan.a[i];
            if (!a->nmp && !a->normal)
                return;
            if (b->mode == DF_COMPUTE_CENTRIC && a->nmp && a->normal)
                return;
        }
        stratum_splits(b, gs, blk, I, s, Tm, 0);
        return;
    }
    if (!(Tm & (1u << k)) || !gemm(p, k)) {
        stratum_normals(b, gs, blk, I, s, Tm, k + 1, used);
        return;
    }
    b->plan.a[k].normal = false;
    stratum_normals(b, gs, blk, I, s, Tm, k + 1, used);
    if (gs->nf[blk]) {
        b->plan.a[k].normal = true;
        stratum_normals(b, gs, blk, I, s, Tm, k + 1, true);
        b->plan.a[k].normal = false;
    }
}

/* channel ch of the block goes to one GEMM op of the stratum */
static void stratum_channels(Brute *b, GroupState *gs, int blk, uint32_t I, int s, uint32_t Tm, int ch) {
    const DfProblem *p = b->p;
    if (ch == p->nmp) {
        stratum_normals(b, gs, blk, I, s, Tm, 0, false);
        return;
    }
    if (!(gs->chans[blk] & CHAN_BIT(ch))) {
        stratum_channels(b, gs, blk, I, s, Tm, ch + 1);
        return;
    }
    for (int i = 0; i < p->nops; i++) {
        if (!(Tm & (1u << i)) || !gemm(p, i))
            continue;
        b->plan.a[i].nmp |= CHAN_BIT(ch);
        stratum_channels(b, gs, blk, I, s, Tm, ch + 1);
        b->plan.a[i].nmp &= ~CHAN_BIT(ch);
    }
}

static void strata(Brute *b, GroupState *gs, int blk, uint32_t I, int s) {
    const DfProblem *p = b->p;
    if (blk == gs->nblocks) {
        mags(b, gs->done_after, gs->g + 1);
        return;
    }
    uint32_t U = gs->U[blk];
    if (I == U) {
        strata(b, gs, blk + 1, 0, 0);
        return;
    }
    uint32_t ready = 0;
    for (int j = 0; j < p->nops; j++)
        if ((U & (1u << j)) && !(I & (1u << j)) && (p->ops[j].preds & U & ~I) == 0)
            ready |= 1u << j;
    for (uint32_t Tm = ready; Tm; Tm = (Tm - 1) & ready) {
        bool any_gemm = false;
        for (int i = 0; i < p->nops; i++)
            if (Tm & (1u << i)) {
                DfAssign *a = &b->plan.a[i];
                a->group = gs->g;
                a->part = blk;
                a->stratum = s;
                a->nmp = 0;
                a->normal = false;
                a->split = 0;
                a->ratio = -1;
                any_gemm |= gemm(p, i);
            }
        if (any_gemm)
            stratum_channels(b, gs, blk, I, s, Tm, 0);
        else
            strata(b, gs, blk, I | Tm, s + 1);
    }
}

static bool block_has_gemm(const DfProblem *p, uint32_t U) {
    for (int i = 0; i < p->nops; i++)
        if ((U & (1u << i)) && gemm(p, i))
            return true;
    return false;
}

/* every map of named NMP channels (and the normal group) to the blocks; a block of channel-less ops
 * holds none, and a group of only such ops none at all */
static void group_channels(Brute *b, GroupState *gs, int ch) {
    const DfProblem *p = b->p;
    bool any = false;
    for (int j = 0; j < gs->nblocks; j++)
        any |= block_has_gemm(p, gs->U[j]);
    bool dc = b->mode == DF_DATA_CENTRIC && any;
    if (ch == p->nmp) {
        int normal_options = p->normal > 0 ? gs->nblocks : 0;
        for (int nb = (!dc || !p->normal ? -1 : 0); nb < normal_options; nb++) {
            for (int j = 0; j < gs->nblocks; j++)
                gs->nf[j] = j == nb;
            bool ok = true;
            for (int j = 0; j < gs->nblocks; j++) {
                bool g = block_has_gemm(p, gs->U[j]);
                if (g && !gs->chans[j] && !gs->nf[j])
                    ok = false;
                if (!g && (gs->chans[j] || gs->nf[j]))
                    ok = false;
                if (b->mode == DF_COMPUTE_CENTRIC && gs->chans[j] && gs->nf[j])
                    ok = false;
            }
            if (ok)
                strata(b, gs, 0, 0, 0);
        }
        return;
    }
    /* data-centric: every channel to a block; compute-centric: a channel may stay unused */
    for (int j = (!dc ? -1 : 0); j < gs->nblocks; j++) {
        if (j >= 0)
            gs->chans[j] |= CHAN_BIT(ch);
        group_channels(b, gs, ch + 1);
        if (j >= 0)
            gs->chans[j] &= ~CHAN_BIT(ch);
    }
}

static void blocks(Brute *b, GroupState *gs, const uint32_t *comp, int ncomp, int *blk, int i, int nb) {
    if (i == ncomp) {
        gs->nblocks = nb;
        for (int j = 0; j < nb; j++) {
            gs->U[j] = 0;
            gs->chans[j] = 0;
        }
        for (int c = 0; c < ncomp; c++)
            gs->U[blk[c]] |= comp[c];
        group_channels(b, gs, 0);
        return;
    }
    for (int j = 0; j <= nb; j++) {
        blk[i] = j;
        blocks(b, gs, comp, ncomp, blk, i + 1, j == nb ? nb + 1 : nb);
    }
}

static void mags(Brute *b, uint32_t done, int g) {
    const DfProblem *p = b->p;
    if (done == all_of(p)) {
        try_plan(b);
        return;
    }
    uint32_t rem = all_of(p) & ~done;
    for (uint32_t S = rem; S; S = (S - 1) & rem) {
        bool ideal = true;
        for (int i = 0; i < p->nops; i++)
            if ((S & (1u << i)) && (p->ops[i].preds & ~(done | S)))
                ideal = false;
        if (!ideal)
            continue;
        /* weakly connected components of S */
        uint32_t comp[DF_MAX_OPS];
        int ncomp = 0;
        uint32_t left = S;
        while (left) {
            uint32_t c = left & (~left + 1), grow = c;
            do {
                c = grow;
                for (int i = 0; i < p->nops; i++) {
                    if (!(c & (1u << i)))
                        continue;
                    grow |= p->ops[i].preds & S;
                    for (int j = 0; j < p->nops; j++)
                        if ((S & (1u << j)) && (p->ops[j].preds & (1u << i)))
                            grow |= 1u << j;
                }
            } while (grow != c);
            comp[ncomp++] = c;
            left &= ~c;
        }
        GroupState gs;
        memset(&gs, 0, sizeof gs);
        gs.g = g;
        gs.done_after = done | S;
        int blk[DF_MAX_OPS];
        blocks(b, &gs, comp, ncomp, blk, 0, 0);
    }
}

/* ---------------------------------------------------------------- a plan's legality */

/* The hierarchy's rules (docs/dataflow.md §1), checked on a plan with named channels. */
static bool plan_legal(const DfProblem *p, const DfPlan *pl, DataflowMode mode) {
    int n = p->nops;
    for (int i = 0; i < n; i++) {
        const DfAssign *a = &pl->a[i];
        if (a->group < 0 || a->part < 0 || a->stratum < 0)
            return false;
        for (int j = 0; j < n; j++) {
            if (!(p->ops[i].preds & (1u << j)))
                continue;
            const DfAssign *b = &pl->a[j];
            if (b->group > a->group || (b->group == a->group && (b->part != a->part || b->stratum >= a->stratum)))
                return false;
        }
        if (!gemm(p, i)) {
            if (a->nmp || a->normal)
                return false;
            continue;
        }
        long long S = df_split_len(p, i);
        if (!a->nmp && !a->normal)
            return false;
        if (a->nmp && a->normal && (mode == DF_COMPUTE_CENTRIC || a->split < 1 || a->split > S - 1))
            return false;
    }
    for (int g = 0; g < n; g++) {
        ChanSet used = 0;
        int normals = 0;
        bool any = false;
        for (int part = 0; part < n; part++) {
            ChanSet pc = 0;
            bool pn = false, in_part = false;
            for (int i = 0; i < n; i++)
                if (pl->a[i].group == g && pl->a[i].part == part) {
                    pc |= pl->a[i].nmp;
                    pn |= pl->a[i].normal;
                    in_part = true;
                }
            if (!in_part)
                continue;
            if (pc & used)
                return false;
            used |= pc;
            normals += pn;
            for (int st = 0; st < n; st++) {
                ChanSet sc = 0;
                bool sn = false, sg = false;
                for (int i = 0; i < n; i++) {
                    const DfAssign *a = &pl->a[i];
                    if (a->group != g || a->part != part || a->stratum != st)
                        continue;
                    if (sc & a->nmp)
                        return false;
                    sc |= a->nmp;
                    sn |= a->normal;
                    sg |= gemm(p, i);
                }
                if (sg && (sc != pc || sn != pn))
                    return false;
            }
            for (int i = 0; i < n; i++)
                any |= pl->a[i].group == g && pl->a[i].part == part && gemm(p, i);
        }
        if (normals > 1)
            return false;
        if (mode == DF_DATA_CENTRIC && any && (used != chanset_first(p->nmp) || (p->normal > 0 && normals != 1)))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the test */

static int bounded; /* problems the restricted search and the relaxation bound were checked on */

static void one(int n, int nmp, int normal, DataflowMode mode, int *checked) {
    DfProblem p;
    make_problem(&p, n, nmp, normal);
    Brute b;
    memset(&b, 0, sizeof b);
    b.p = &p;
    b.mode = mode;
    b.plan.nops = n;
    for (int i = 0; i < n; i++)
        b.plan.order[i] = i;
    b.best = INFINITY;
    mags(&b, 0, 0);
    /* the width (the largest set of ops with no path between two) against every subset */
    int widest = 0;
    for (uint32_t sub = 1; sub < (1u << n); sub++) {
        bool anti = true;
        for (int i = 0; i < n && anti; i++)
            for (int j = 0; j < n && anti; j++) {
                if (i == j || !(sub & (1u << i)) || !(sub & (1u << j)))
                    continue;
                /* is there a path from i to j? */
                uint32_t reach = 1u << i;
                for (int pass = 0; pass < n; pass++)
                    for (int k = 0; k < n; k++)
                        if (p.ops[k].preds & reach)
                            reach |= 1u << k;
                if (reach & (1u << j))
                    anti = false;
            }
        if (anti && __builtin_popcount(sub) > widest)
            widest = __builtin_popcount(sub);
    }
    CHECK_EQ(df_width(&p), widest);
    SearchOpts o = {.mode = mode, .objective = OBJ_LATENCY, .splits = art ? SPLITS_ARTIFACT : SPLITS_ALL};
    SearchResult r;
    Diag d;
    diag_init(&d, stderr);
    bool found = df_search(&p, syn, &o, &r, &d);
    if (!isfinite(b.best)) {
        CHECK(!found);
        return;
    }
    CHECK(found);
    if (!found)
        return;
    CHECK_NEAR(b.best, r.value, 1e-9 * b.best);
    /* the plan it returns really costs what it says, and is legal enough to re-evaluate */
    CostResult again;
    syn_evaluate(&p, &r.plan, &again);
    CHECK_NEAR(r.value, again.total, 1e-12 * again.total);
    CHECK_NEAR(r.bound, r.value, 1e-9 * r.value);
    CHECK(r.exact);
    CHECK(plan_legal(&p, &r.plan, mode));
    /* with budgets too small for the exact search: the restricted search's plan is legal and no
       better than the optimum, and the relaxation's bound is no worse */
    for (int w = 0; w < 3; w++) {
        SearchOpts ro = o;
        ro.work_budget = w == 0 ? 1 : w == 1 ? 40 : 400;
        SearchResult rr;
        bool rf = df_search(&p, syn, &ro, &rr, &d);
        CHECK(rf);
        if (!rf)
            continue;
        CHECK(plan_legal(&p, &rr.plan, mode));
        CHECK(rr.value >= b.best * (1 - 1e-9));
        CHECK(rr.bound <= b.best * (1 + 1e-9));
        if (!rr.exact)
            bounded++;
        syn_evaluate(&p, &rr.plan, &again);
        CHECK_NEAR(rr.value, again.total, 1e-12 * again.total);
    }
    if (fabs(b.best - r.value) > 1e-9 * b.best) {
        fprintf(stderr, "  n=%d nmp=%d normal=%d mode=%s scan=%d: brute %.12g (%lld plans), search %.12g\n", n, nmp,
                normal, dataflow_mode_names[mode], T.scan, b.best, b.plans, r.value);
        for (int which = 0; which < 2; which++) {
            const DfPlan *pl = which ? &r.plan : &b.best_plan;
            fprintf(stderr, "  %s:\n", which ? "search" : "brute");
            for (int i = 0; i < n; i++) {
                const DfAssign *a = &pl->a[i];
                fprintf(stderr, "    op %d kind %d preds %x: g%d p%d s%d nmp %llx normal %d split %lld/%lld\n", i,
                        p.ops[i].kind, p.ops[i].preds, a->group, a->part, a->stratum, (unsigned long long)a->nmp,
                        a->normal, a->split, df_split_len(&p, i));
            }
        }
    }
    (*checked)++;
}

int main(void) {
    int checked = 0;
    for (int variant = 0; variant < 4; variant++) {
        T.scan = variant & 1;
        syn = variant & 2 ? &syn_bounded : &syn_plain;
        for (int rep = 0; rep < 25; rep++) {
            one(2 + rndi(3), 1 + rndi(2), rndi(2) * 2, DF_DATA_CENTRIC, &checked);
            one(2 + rndi(3), 1 + rndi(2), 2, DF_COMPUTE_CENTRIC, &checked);
        }
        for (int rep = 0; rep < 6; rep++) {
            one(4, 2, 2, DF_DATA_CENTRIC, &checked);
            one(3, 3, 0, DF_DATA_CENTRIC, &checked);
            one(3, 0, 2, DF_DATA_CENTRIC, &checked);
        }
        if (variant == 3)
            one(5, 2, 2, DF_DATA_CENTRIC, &checked); /* one larger case, with every feature on */
    }
    /* the artifact's split space: the same, with the brute force listing only its splits */
    art = true;
    int before = checked;
    for (int variant = 0; variant < 4; variant++) {
        T.scan = variant & 1;
        syn = variant & 2 ? &syn_bounded : &syn_plain;
        for (int rep = 0; rep < 10; rep++) {
            one(2 + rndi(3), 1 + rndi(2), 2, DF_DATA_CENTRIC, &checked);
            one(4, 2, 2, DF_DATA_CENTRIC, &checked);
        }
    }
    printf("%d problems checked against brute force (%d in the artifact's split space), %d restricted searches and "
           "bounds\n", checked, checked - before, bounded);
    return test_done();
}

/* search.c: the exact dataflow search (docs/dataflow.md). A plan is a sequence of groups (MAGs);
 * the partitions (MPGs) of a group run in parallel on disjoint channels; the strata of a partition
 * run in sequence; the ops of a stratum share the partition's channels. Channels are
 * interchangeable, so the search works on channel counts:
 *   stratum(T, k, nf)   every assignment of k NMP channels (and the normal group if nf) to the ops
 *                       of antichain T, each MIX split solved exactly; kept: the Pareto front of
 *                       (additive cost a, decode time d)
 *   partition(U, k, nf) DP over the ideals of U, one stratum at a time: a front of (a, d)
 *   group(S)            every grouping of S's weakly connected components into partitions and
 *                       every split of the channels among them; a = sum, d = max: exact by trying
 *                       every d as the threshold
 *   plan                DP over the ideals of the graph, one group (a topological chunk) at a time
 * a is prefill time (+ lambda x energy); d is decode time summed over the steps. Memoised at every
 * level. Splits: where the cost model declares monotone pieces, a binary search finds where the
 * NMP and NPU times cross; elsewhere every split is tried.
 * The search has a budget of steps and memory, estimated before it starts and enforced while it
 * runs; a layer that does not fit gets the restricted search (the exact one on chunks of the layer,
 * one after another) and a lower bound from a relaxation instead (docs/dataflow.md §2.3-2.4). */
#include "search.h"

#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- a small hash map */

typedef struct MapEnt {
    uint64_t key;
    void *val;
} MapEnt;

typedef struct Map {
    MapEnt *ents;
    size_t cap, n;      /* cap a power of two; key 0 is reserved: stored keys are key + 1 */
} Map;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static void *map_get(const Map *m, uint64_t key) {
    if (!m->cap)
        return NULL;
    uint64_t k = key + 1;
    for (size_t i = mix64(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->ents[i].key == k)
            return m->ents[i].val;
        if (m->ents[i].key == 0)
            return NULL;
    }
}

static void map_put(Arena *a, Map *m, uint64_t key, void *val) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        MapEnt *ne = ARENA_ARRAY(a, MapEnt, ncap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->ents[i].key) {
                size_t j = mix64(m->ents[i].key) & (ncap - 1);
                while (ne[j].key)
                    j = (j + 1) & (ncap - 1);
                ne[j] = m->ents[i];
            }
        m->ents = ne;
        m->cap = ncap;
    }
    uint64_t k = key + 1;
    size_t i = mix64(k) & (m->cap - 1);
    while (m->ents[i].key && m->ents[i].key != k)
        i = (i + 1) & (m->cap - 1);
    if (!m->ents[i].key)
        m->n++;
    m->ents[i].key = k;
    m->ents[i].val = val;
}

/* ---------------------------------------------------------------- fronts */

/* A point of a stratum's front: the assignment of each op of the stratum (in `ops` order). */
typedef struct SPt {
    double a, d;
    int8_t *c;          /* NMP channels per op */
    bool *nf;           /* on the normal group */
    long long *split;   /* NMP share along the split dimension */
} SPt;

typedef struct SFront {
    int m;              /* ops in the stratum */
    int ops[DF_MAX_OPS];
    SPt *pts;
    int n, cap;
} SFront;

/* A point of a partition's front: how it was reached. */
typedef struct PPt {
    double a, d;
    uint32_t prev;      /* the ideal before the last stratum */
    int prev_pt;        /* the point of prev's front it extends */
    uint32_t T;         /* the last stratum */
    int spt;            /* the point of T's front */
} PPt;

typedef struct PFront {
    PPt *pts;
    int n, cap;
} PFront;

typedef struct PartMemo {
    Map ideals;         /* ideal of U -> PFront* */
    PFront *final;      /* front for the whole of U (NULL if no legal plan) */
} PartMemo;

typedef struct GroupMemo {
    double cost;        /* INFINITY if no legal grouping */
    int nblocks;
    uint32_t U[DF_MAX_OPS];
    int k[DF_MAX_OPS];
    bool nf[DF_MAX_OPS];
    int pt[DF_MAX_OPS]; /* the chosen point of each partition's front */
} GroupMemo;

/* Inserts (a, d) unless dominated; drops points it dominates. Fronts are sorted by d ascending
 * with a strictly decreasing. Returns the index or -1. */
static int front_insert(Arena *ar, void **pts, int *n, int *cap, size_t sz, double a, double d) {
    char *base = *pts;
    /* position by d */
    int lo = 0, hi = *n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        double md = ((double *)(base + (size_t)mid * sz))[1];
        if (md < d || (md == d && ((double *)(base + (size_t)mid * sz))[0] <= a))
            lo = mid + 1;
        else
            hi = mid;
    }
    /* dominated by a point with d' <= d and a' <= a? those are before lo */
    if (lo > 0) {
        double pa = ((double *)(base + (size_t)(lo - 1) * sz))[0];
        if (pa <= a)
            return -1;
    }
    /* drop the points after lo that this one dominates (d' >= d, a' >= a) */
    int k = lo;
    while (k < *n && ((double *)(base + (size_t)k * sz))[0] >= a)
        k++;
    int removed = k - lo;
    if (removed == 0) {
        if (*n == *cap) {
            int ncap = *cap ? *cap * 2 : 8;
            base = arena_realloc(ar, base, sz * (size_t)*cap, sz * (size_t)ncap);
            *pts = base;
            *cap = ncap;
        }
        memmove(base + (size_t)(lo + 1) * sz, base + (size_t)lo * sz, sz * (size_t)(*n - lo));
        (*n)++;
    } else if (removed > 1) {
        memmove(base + (size_t)(lo + 1) * sz, base + (size_t)k * sz, sz * (size_t)(*n - k));
        *n -= removed - 1;
    }
    double *p = (double *)(base + (size_t)lo * sz);
    memset(p, 0, sz);
    p[0] = a;
    p[1] = d;
    return lo;
}

/* ---------------------------------------------------------------- the search context */

/* The MIX splits an op may take, in order: grid_at(t) for t = 0 .. n-1, non-decreasing. Every split
 * 1..S-1 (den 0), or the artifact's quantised ratios (--splits=artifact): r = i/den with den = kv for
 * attention over (KV head, batch) pairs when kv > 1, B when kv = 1, and the prefill N when the op
 * splits along N, each split int(S * r) as the artifact computes it (reference §3.2, step 6), for
 * the i that give a split in 1..S-1. */
typedef struct SplitGrid {
    long long S, den, i0, n;
} SplitGrid;

static long long grid_at(const SplitGrid *g, long long t) {
    if (!g->den)
        return t + 1;
    return (long long)((double)g->S * ((double)(g->i0 + t) / (double)g->den));
}

static SplitGrid split_grid(const DfProblem *p, int op, SplitSpace sp) {
    const DfOp *o = &p->ops[op];
    SplitGrid g = {df_split_len(p, op), 0, 1, 0};
    g.n = g.S - 1 > 0 ? g.S - 1 : 0;
    if (sp != SPLITS_ARTIFACT || o->kind == DFK_OTHER || g.S < 2)
        return g;
    if (o->kind == DFK_ATTN && o->dec.B > 1)
        g.den = p->kv_heads > 1 ? p->kv_heads : (long long)o->dec.B;
    else
        g.den = (long long)o->pre.N;
    if (g.den < 2) {
        g.n = 0;
        return g;
    }
    /* the i in 1..den-1 whose split lies in 1..S-1: a run, since the split grows with i */
    long long lo = 1, hi = g.den; /* first i with a split >= 1 */
    while (lo < hi) {
        long long mid = lo + (hi - lo) / 2;
        SplitGrid at = g;
        at.i0 = mid;
        if (grid_at(&at, 0) >= 1)
            hi = mid;
        else
            lo = mid + 1;
    }
    long long first = lo;
    lo = first - 1;
    hi = g.den - 1; /* last i with a split <= S - 1 */
    while (lo < hi) {
        long long mid = lo + (hi - lo + 1) / 2;
        SplitGrid at = g;
        at.i0 = mid;
        if (grid_at(&at, 0) <= g.S - 1)
            lo = mid;
        else
            hi = mid - 1;
    }
    g.i0 = first;
    g.n = lo >= first ? lo - first + 1 : 0;
    return g;
}

/* The positions *t0 .. *t1 of the splits of g within [lo, hi] (none if *t0 > *t1). */
static void grid_span(const SplitGrid *g, long long lo, long long hi, long long *t0, long long *t1) {
    if (!g->den) {
        *t0 = lo - 1 < 0 ? 0 : lo - 1;
        *t1 = hi - 1 > g->n - 1 ? g->n - 1 : hi - 1;
        return;
    }
    long long a = 0, b = g->n;
    while (a < b) {
        long long mid = a + (b - a) / 2;
        if (grid_at(g, mid) >= lo)
            b = mid;
        else
            a = mid + 1;
    }
    *t0 = a;
    a = -1;
    b = g->n - 1;
    while (a < b) {
        long long mid = a + (b - a + 1) / 2;
        if (grid_at(g, mid) <= hi)
            a = mid;
        else
            b = mid - 1;
    }
    *t1 = a;
}

typedef struct CostSlot {
    OpCost oc;
    bool set;
} CostSlot;

typedef struct Ctx {
    const DfProblem *p;
    const CostModel *cm;
    SearchOpts o;
    double lambda;              /* weight of energy (joules) against time (seconds) */
    double mu;                  /* price of a byte stored on NMP channels (capacity), seconds per byte */
    uint32_t no_nmp;            /* ops that must not use NMP channels (capacity) */
    uint32_t no_normal;         /* ops that must not use the normal channels (capacity) */
    Arena *ar;
    int n;
    uint32_t all;
    uint32_t pred[DF_MAX_OPS], adj[DF_MAX_OPS];
    bool gemm[DF_MAX_OPS];
    uint32_t gemm_mask;         /* the ops with gemm set */
    int cls[DF_MAX_OPS];        /* the first op identical to this one (same kind, shapes and size) */
    long long S[DF_MAX_OPS];
    SplitGrid grid[DF_MAX_OPS]; /* the MIX splits op may take (grid_at) */
    int N;                      /* NMP channels */
    bool has_normal;
    CostSlot pure[DF_MAX_OPS][IR_MAX_CHANNELS + 1][2];  /* NPU / NMP modes by (op, c, normal) */
    CostSlot *mix[DF_MAX_OPS][IR_MAX_CHANNELS + 1];     /* MIX by (op, c), indexed by split (small S) */
    Map mixmap[DF_MAX_OPS][IR_MAX_CHANNELS + 1];        /* MIX by (op, c), keyed by split (large S) */
    Map pieces;                 /* (op, c) -> long long[] (count first) */
    Map strata, parts, groups;
    long long configs;          /* assignments evaluated */
    long long pruned;           /* assignments skipped by the bound */
    long long work;             /* steps taken: the unit of the time budget (assignments, merges, groupings) */
    long long work_limit;       /* beyond it the search gives up, through ar->oom, like running out of memory */
    double single[DF_MAX_OPS][IR_MAX_CHANNELS + 1];     /* op alone on c channels + normal: best d (0: not yet) */
    double mix_pre[DF_MAX_OPS][IR_MAX_CHANNELS + 1];    /* lower bounds of a MIX op's prefill ... */
    double mix_en[DF_MAX_OPS][IR_MAX_CHANNELS + 1];     /* ... and energy, over its splits */
    bool mix_lb[DF_MAX_OPS][IR_MAX_CHANNELS + 1];
} Ctx;

/* Counts n steps of work; over the limit, gives up the way running out of memory does (the caller
 * that set ar->oom catches it and discards the context). */
static void spend(Ctx *x, long long n) {
    x->work += n;
    if (x->work > x->work_limit && x->ar->oom)
        longjmp(*x->ar->oom, 1);
}

static const OpCost *op_cost(Ctx *x, int op, int c, bool nf, long long split) {
    CostSlot *slot;
    if (c > 0 && nf && x->gemm[op] && x->S[op] <= 1024) {
        if (!x->mix[op][c])
            x->mix[op][c] = ARENA_ARRAY(x->ar, CostSlot, x->S[op] + 1);
        slot = &x->mix[op][c][split];
    } else if (c > 0 && nf && x->gemm[op]) {
        slot = map_get(&x->mixmap[op][c], (uint64_t)split);
        if (!slot) {
            slot = ARENA_NEW(x->ar, CostSlot);
            map_put(x->ar, &x->mixmap[op][c], (uint64_t)split, slot);
        }
    } else {
        slot = &x->pure[op][c][nf];
    }
    if (!slot->set) {
        x->cm->op_cost(x->p, op, c, nf, split, &slot->oc);
        slot->set = true;
    }
    return &slot->oc;
}

/* The split of an op in a pure mode: NPU 0, NMP all of S. */
static long long pure_split(Ctx *x, int op, int c) { return c > 0 ? x->S[op] : 0; }

/* Monotone pieces of op's MIX split on c channels; NULL result count 0 means: try every split. */
static const long long *get_pieces(Ctx *x, int op, int c) {
    uint64_t key = ((uint64_t)op << 8) | (uint64_t)c;
    long long *pc = map_get(&x->pieces, key);
    if (pc)
        return pc;
    long long tmp[66];
    int n;
    if (x->cm->split_pieces) {
        n = x->cm->split_pieces(x->p, op, c, tmp + 1, 64);
    } else {
        tmp[1] = 1;
        tmp[2] = x->S[op];
        n = 1;
    }
    pc = ARENA_ARRAY(x->ar, long long, n + 2);
    pc[0] = n;
    for (int i = 0; i <= n; i++)
        pc[i + 1] = tmp[i + 1];
    map_put(x->ar, &x->pieces, key, pc);
    return pc;
}

/* ---------------------------------------------------------------- one stratum */

/* The MIX split of one op that minimises max(A0, nmp(s), B0 + npu(s)) over s in [1, S-1]. */
static long long solve_one(Ctx *x, int op, int c, double A0, double B0, double *best) {
    long long S = x->S[op];
    const SplitGrid *g = &x->grid[op];
    const long long *pc = get_pieces(x, op, c);
    long long bs = 1;
    double bh = INFINITY;
#define TRY(t_)                                                                                    \
    do {                                                                                           \
        long long t__ = (t_);                                                                      \
        if (t__ >= 0 && t__ <= g->n - 1) {                                                         \
            long long s__ = grid_at(g, t__);                                                       \
            const OpCost *oc_ = op_cost(x, op, c, true, s__);                                      \
            double h_ = A0;                                                                        \
            if (oc_->nmp > h_) h_ = oc_->nmp;                                                      \
            if (B0 + oc_->npu > h_) h_ = B0 + oc_->npu;                                            \
            if (h_ < bh || (h_ == bh && s__ > bs)) { bh = h_; bs = s__; }                          \
        }                                                                                          \
    } while (0)
    if (pc[0] == 0) {
        spend(x, g->n / 16);
        for (long long t = 0; t < g->n; t++)
            TRY(t);
    } else {
        for (int j = 0; j < pc[0]; j++) {
            long long lo = pc[1 + j], hi = pc[2 + j] - 1; /* piece [lo, hi] */
            if (lo < 1)
                lo = 1;
            if (hi > S - 1)
                hi = S - 1;
            long long t0, t1;
            grid_span(g, lo, hi, &t0, &t1);
            if (t0 > t1)
                continue;
            /* first split in the piece where nmp >= B0 + npu: f = nmp - B0 - npu grows */
            long long a = t0, b = t1 + 1;
            while (a < b) {
                long long mid = a + (b - a) / 2;
                const OpCost *oc = op_cost(x, op, c, true, grid_at(g, mid));
                if (oc->nmp >= B0 + oc->npu)
                    b = mid;
                else
                    a = mid + 1;
            }
            TRY(a);
            TRY(a - 1 >= t0 ? a - 1 : t0);
            TRY(t0);
            TRY(t1);
        }
    }
#undef TRY
    *best = bh;
    return bs;
}

/* The split of op with the least npu time among those with nmp(s) <= tau, or 0 if none. Within a
 * monotone piece that is the largest such split; across pieces, or where the model declares no
 * structure, the least npu time decides. */
static long long best_within(Ctx *x, int op, int c, double tau) {
    long long S = x->S[op];
    const SplitGrid *g = &x->grid[op];
    const long long *pc = get_pieces(x, op, c);
    long long best = 0;
    double best_npu = INFINITY;
    if (pc[0] == 0) {
        spend(x, g->n / 16);
        for (long long t = 0; t < g->n; t++) {
            long long sp = grid_at(g, t);
            const OpCost *oc = op_cost(x, op, c, true, sp);
            if (oc->nmp <= tau && oc->npu < best_npu) {
                best_npu = oc->npu;
                best = sp;
            }
        }
        return best;
    }
    for (int j = 0; j < pc[0]; j++) {
        long long lo = pc[1 + j], hi = pc[2 + j] - 1;
        if (lo < 1)
            lo = 1;
        if (hi > S - 1)
            hi = S - 1;
        long long t0, t1;
        grid_span(g, lo, hi, &t0, &t1);
        if (t0 > t1 || op_cost(x, op, c, true, grid_at(g, t0))->nmp > tau)
            continue;
        long long a = t0, b = t1; /* the last split in the piece with nmp <= tau */
        while (a < b) {
            long long mid = a + (b - a + 1) / 2;
            if (op_cost(x, op, c, true, grid_at(g, mid))->nmp <= tau)
                a = mid;
            else
                b = mid - 1;
        }
        double npu = op_cost(x, op, c, true, grid_at(g, a))->npu;
        if (npu < best_npu) {
            best_npu = npu;
            best = grid_at(g, a);
        }
    }
    return best;
}

static double single_best(Ctx *x, int op, int c);

/* Bytes of op (all layers) on NMP channels with c channels, normal flag and split. */
static double nmp_bytes(const Ctx *x, int op, int c, bool nf, long long split) {
    if (!x->gemm[op] || c == 0)
        return 0;
    if (!nf)
        return x->p->ops[op].footprint;
    return x->p->ops[op].footprint * (double)split / (double)x->S[op];
}

/* Several MIX ops share the NPU: the least tau with tau >= A0, every op's NMP part within tau, and
 * B0 + their NPU parts within tau. Feasibility grows with tau, so bisection finds it. Each op's best
 * split is a step function of tau: once the low (infeasible) and high (feasible) ends pick the same
 * splits, every tau between them does too, and the optimum is what those splits cost. */
static double solve_many(Ctx *x, const int *ops, const int *cs, int nm, double A0, double B0, long long *splits) {
    long long s_hi[DF_MAX_OPS], s_lo[DF_MAX_OPS], s_mid[DF_MAX_OPS];
    double hi = A0 > B0 ? A0 : B0, lo;
    double sum = B0;
    for (int i = 0; i < nm; i++) {
        s_hi[i] = grid_at(&x->grid[ops[i]], x->grid[ops[i]].n - 1);
        const OpCost *oc = op_cost(x, ops[i], cs[i], true, s_hi[i]);
        if (oc->nmp > hi)
            hi = oc->nmp;
        sum += oc->npu;
    }
    if (sum > hi)
        hi = sum;
    /* hi is feasible with the splits at hi; recompute them as the least-NPU choice within hi */
    for (int i = 0; i < nm; i++) {
        long long sp = best_within(x, ops[i], cs[i], hi);
        if (sp)
            s_hi[i] = sp;
    }
    lo = A0 > B0 ? A0 : B0;
    for (int i = 0; i < nm; i++) {
        double sb = single_best(x, ops[i], cs[i]);
        if (sb > lo && sb < hi)
            lo = sb;
    }
    for (int i = 0; i < nm; i++)
        s_lo[i] = best_within(x, ops[i], cs[i], lo);
    for (int it = 0; it < 64 && hi - lo > 1e-13 * hi; it++) {
        bool same = true;
        for (int i = 0; i < nm && same; i++)
            same = s_lo[i] == s_hi[i];
        if (same)
            break;
        double tau = 0.5 * (lo + hi);
        double t = B0;
        bool ok = true;
        for (int i = 0; i < nm; i++) {
            s_mid[i] = best_within(x, ops[i], cs[i], tau);
            if (s_mid[i] == 0)
                ok = false;
            else
                t += op_cost(x, ops[i], cs[i], true, s_mid[i])->npu;
        }
        if (ok && t <= tau) {
            hi = tau;
            memcpy(s_hi, s_mid, sizeof(long long) * (size_t)nm);
        } else {
            lo = tau;
            memcpy(s_lo, s_mid, sizeof(long long) * (size_t)nm);
        }
    }
    double npu = B0, nmp = A0;
    for (int i = 0; i < nm; i++) {
        splits[i] = s_hi[i];
        const OpCost *oc = op_cost(x, ops[i], cs[i], true, s_hi[i]);
        npu += oc->npu;
        if (oc->nmp > nmp)
            nmp = oc->nmp;
    }
    return npu > nmp ? npu : nmp;
}

/* The best d of op alone in a stratum as MIX on c channels: a lower bound of its d anywhere. */
static double single_best(Ctx *x, int op, int c) {
    if (x->single[op][c] == 0) {
        double d;
        solve_one(x, op, c, 0, 0, &d);
        x->single[op][c] = d > 0 ? d : 1e-300;
    }
    return x->single[op][c];
}

/* True if the front holds a point at least as good in both a and d. */
static bool front_dominates(const SFront *f, double a, double d) {
    int lo = 0, hi = f->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (f->pts[mid].d <= d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && f->pts[lo - 1].a <= a;
}

typedef struct Assign {
    int m;
    int ops[DF_MAX_OPS];
    int c[DF_MAX_OPS];
    bool nf[DF_MAX_OPS];
} Assign;

static void eval_assign(Ctx *x, SFront *f, const Assign *as) {
    double a = 0, fixed_npu = 0, fixed_nmp = 0;
    int mix_ops[DF_MAX_OPS], mix_c[DF_MAX_OPS], mix_pos[DF_MAX_OPS], nm = 0;
    long long split[DF_MAX_OPS];
    x->configs++;
    spend(x, 1);
    for (int i = 0; i < as->m; i++) {
        int op = as->ops[i];
        int c = as->c[i];
        bool nf = as->nf[i];
        if (x->gemm[op] && c > 0 && nf) {
            mix_ops[nm] = op;
            mix_c[nm] = c;
            mix_pos[nm++] = i;
            continue;
        }
        split[i] = x->gemm[op] ? pure_split(x, op, c) : 0;
        const OpCost *oc = op_cost(x, op, c, nf, split[i]);
        a += oc->prefill + x->lambda * oc->energy + x->mu * nmp_bytes(x, op, c, nf, split[i]);
        fixed_npu += oc->npu;
        if (oc->nmp > fixed_nmp)
            fixed_nmp = oc->nmp;
    }
    if (nm > 0 && x->cm->mix_lower) {
        /* bound: a no less than the MIX ops' least prefill and energy, d no less than any part's */
        double alb = a, dlb = fixed_npu > fixed_nmp ? fixed_npu : fixed_nmp;
        for (int i = 0; i < nm; i++) {
            int op = mix_ops[i], c = mix_c[i];
            if (!x->mix_lb[op][c]) {
                x->cm->mix_lower(x->p, op, c, 1, x->S[op] - 1, &x->mix_pre[op][c], &x->mix_en[op][c]);
                x->mix_lb[op][c] = true;
            }
            alb += x->mix_pre[op][c] + x->lambda * x->mix_en[op][c] +
                   x->mu * nmp_bytes(x, op, c, true, x->mu > 0 ? 1 : x->S[op] - 1);
            double sb = single_best(x, op, c);
            if (sb > dlb)
                dlb = sb;
        }
        if (front_dominates(f, alb, dlb)) {
            x->pruned++;
            return;
        }
    }
    double d;
    if (nm == 0) {
        d = fixed_npu > fixed_nmp ? fixed_npu : fixed_nmp;
    } else if (nm == 1) {
        split[mix_pos[0]] = solve_one(x, mix_ops[0], mix_c[0], fixed_nmp, fixed_npu, &d);
    } else {
        long long sp[DF_MAX_OPS];
        d = solve_many(x, mix_ops, mix_c, nm, fixed_nmp, fixed_npu, sp);
        for (int i = 0; i < nm; i++)
            split[mix_pos[i]] = sp[i];
    }
    for (int i = 0; i < nm; i++) {
        const OpCost *oc = op_cost(x, mix_ops[i], mix_c[i], true, split[mix_pos[i]]);
        a += oc->prefill + x->lambda * oc->energy + x->mu * nmp_bytes(x, mix_ops[i], mix_c[i], true, split[mix_pos[i]]);
    }
    int at = front_insert(x->ar, (void **)&f->pts, &f->n, &f->cap, sizeof(SPt), a, d);
    if (at < 0)
        return;
    SPt *pt = &f->pts[at];
    pt->c = ARENA_ARRAY(x->ar, int8_t, as->m);
    pt->nf = ARENA_ARRAY(x->ar, bool, as->m);
    pt->split = ARENA_ARRAY(x->ar, long long, as->m);
    for (int i = 0; i < as->m; i++) {
        pt->c[i] = (int8_t)as->c[i];
        pt->nf[i] = as->nf[i];
        pt->split[i] = split[i];
    }
}

/* Every way to give the GEMM ops gi..ng-1 of the stratum `left` channels and normal flags. */
static void enum_assign(Ctx *x, SFront *f, Assign *as, const int *gpos, int ng, int gi, int left, bool nf,
                        bool nf_used) {
    if (gi == ng) {
        if (left == 0 && nf_used == nf)
            eval_assign(x, f, as);
        return;
    }
    int pos = gpos[gi];
    int remaining_ops = ng - gi - 1;
    /* identical ops are interchangeable within a stratum: take their assignments in order only */
    int prev = gi > 0 ? gpos[gi - 1] : -1;
    bool twin = prev >= 0 && x->cls[as->ops[prev]] == x->cls[as->ops[pos]];
    for (int c = 0; c <= left; c++) {
        /* the ops after this one need at least their channels when the partition has no normal */
        if (!nf && left - c < remaining_ops)
            break;
        if (twin && c > as->c[prev])
            break;
        for (int k = 0; k < 2; k++) {
            bool onf = k == 1;
            if (twin && c == as->c[prev] && onf && !as->nf[prev])
                continue;
            if (onf && !nf)
                continue;
            if (c == 0 && !onf)
                continue;
            if (x->o.mode == DF_COMPUTE_CENTRIC && c > 0 && onf)
                continue;
            if (c > 0 && onf && x->grid[as->ops[pos]].n <= 0)
                continue; /* no split to give it */
            uint32_t bit = 1u << as->ops[pos];
            if ((c > 0 && (x->no_nmp & bit)) || (onf && (x->no_normal & bit)))
                continue;
            as->c[pos] = c;
            as->nf[pos] = onf;
            enum_assign(x, f, as, gpos, ng, gi + 1, left - c, nf, nf_used || onf);
        }
    }
}

static SFront *stratum_front(Ctx *x, uint32_t T, int k, bool nf) {
    uint64_t key = ((uint64_t)T << 16) | ((uint64_t)k << 1) | (uint64_t)nf;
    SFront *f = map_get(&x->strata, key);
    if (f)
        return f;
    f = ARENA_NEW(x->ar, SFront);
    Assign as;
    memset(&as, 0, sizeof as);
    int gpos[DF_MAX_OPS], ng = 0;
    for (int i = 0; i < x->n; i++)
        if (T & (1u << i)) {
            f->ops[f->m++] = i;
            as.ops[as.m] = i;
            if (x->gemm[i])
                gpos[ng++] = as.m;
            as.m++;
        }
    if (ng == 0)
        eval_assign(x, f, &as); /* channel-less ops only: on the NPU, whatever the partition has */
    else
        enum_assign(x, f, &as, gpos, ng, 0, k, nf, false);
    map_put(x->ar, &x->strata, key, f);
    return f;
}

/* ---------------------------------------------------------------- one partition */

static uint32_t *ideals_of(Ctx *x, uint32_t U, int *n);

static PFront *pfront_at(Ctx *x, PartMemo *pm, uint32_t I, bool create) {
    PFront *f = map_get(&pm->ideals, I);
    if (!f && create) {
        f = ARENA_NEW(x->ar, PFront);
        map_put(x->ar, &pm->ideals, I, f);
    }
    return f;
}

static PartMemo *partition_front(Ctx *x, uint32_t U, int k, bool nf) {
    uint64_t key = ((uint64_t)U << 16) | ((uint64_t)k << 1) | (uint64_t)nf;
    PartMemo *pm = map_get(&x->parts, key);
    if (pm)
        return pm;
    pm = ARENA_NEW(x->ar, PartMemo);
    map_put(x->ar, &x->parts, key, pm);
    PFront *f0 = pfront_at(x, pm, 0, true);
    int at = front_insert(x->ar, (void **)&f0->pts, &f0->n, &f0->cap, sizeof(PPt), 0, 0);
    f0->pts[at].prev_pt = -1;
    int nid;
    uint32_t *ideals = ideals_of(x, U, &nid);
    /* every stratum leads from an ideal to a larger one, so this order sees each front complete */
    for (int ii = 0; ii < nid; ii++) {
        uint32_t I = ideals[ii];
        PFront *fi = pfront_at(x, pm, I, false);
        if (!fi || fi->n == 0)
            continue;
        uint32_t ready = 0;
        for (int j = 0; j < x->n; j++)
            if ((U & (1u << j)) && !(I & (1u << j)) && (x->pred[j] & U & ~I) == 0)
                ready |= 1u << j;
        for (uint32_t T = ready; T; T = (T - 1) & ready) {
            SFront *sf = stratum_front(x, T, k, nf);
            if (sf->n == 0)
                continue;
            uint32_t J = I | T;
            PFront *fj = pfront_at(x, pm, J, true);
            fi = pfront_at(x, pm, I, false); /* the map may have moved nothing, but be safe */
            spend(x, (long long)fi->n * sf->n);
            for (int a = 0; a < fi->n; a++)
                for (int b = 0; b < sf->n; b++) {
                    int ix = front_insert(x->ar, (void **)&fj->pts, &fj->n, &fj->cap, sizeof(PPt),
                                          fi->pts[a].a + sf->pts[b].a, fi->pts[a].d + sf->pts[b].d);
                    if (ix >= 0) {
                        fj->pts[ix].prev = I;
                        fj->pts[ix].prev_pt = a;
                        fj->pts[ix].T = T;
                        fj->pts[ix].spt = b;
                    }
                }
        }
    }
    pm->final = pfront_at(x, pm, U, false);
    if (pm->final && pm->final->n == 0)
        pm->final = NULL;
    return pm;
}

/* ---------------------------------------------------------------- one group */

typedef struct GroupSearch {
    Ctx *x;
    int ncomp;
    uint32_t comp[DF_MAX_OPS];
    int block_of[DF_MAX_OPS];
    GroupMemo *best;
} GroupSearch;

/* The cost of a grouping with resources: sum of a + max of d, exactly. */
static void try_resources(GroupSearch *gs, int nb, const uint32_t *U, const int *k, const bool *nf) {
    Ctx *x = gs->x;
    PFront *f[DF_MAX_OPS];
    for (int j = 0; j < nb; j++) {
        PartMemo *pm = partition_front(x, U[j], k[j], nf[j]);
        if (!pm->final)
            return;
        f[j] = pm->final;
    }
    long long steps = 0;
    for (int j = 0; j < nb; j++)
        steps += f[j]->n;
    spend(x, steps * nb);
    /* candidate thresholds: every d of every front */
    for (int j = 0; j < nb; j++) {
        for (int q = 0; q < f[j]->n; q++) {
            double tau = f[j]->pts[q].d;
            double sum = 0, dmax = 0;
            int pick[DF_MAX_OPS];
            bool ok = true;
            for (int i = 0; i < nb && ok; i++) {
                /* the least a with d <= tau: fronts are sorted by d with a falling */
                int lo = 0, hi = f[i]->n;
                while (lo < hi) {
                    int mid = (lo + hi) / 2;
                    if (f[i]->pts[mid].d <= tau)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                if (lo == 0) {
                    ok = false;
                    break;
                }
                pick[i] = lo - 1;
                sum += f[i]->pts[lo - 1].a;
                if (f[i]->pts[lo - 1].d > dmax)
                    dmax = f[i]->pts[lo - 1].d;
            }
            if (!ok)
                continue;
            double cost = sum + dmax;
            if (cost < gs->best->cost) {
                GroupMemo *b = gs->best;
                b->cost = cost;
                b->nblocks = nb;
                for (int i = 0; i < nb; i++) {
                    b->U[i] = U[i];
                    b->k[i] = k[i];
                    b->nf[i] = nf[i];
                    b->pt[i] = pick[i];
                }
            }
        }
    }
}

static void enum_resources(GroupSearch *gs, int nb, const uint32_t *U, int *k, bool *nf, int j, int left,
                           int normal_at) {
    Ctx *x = gs->x;
    if (j == nb) {
        /* data-centric: the partitions take every channel, unless no op of the group can use one */
        bool dc = x->o.mode == DF_DATA_CENTRIC, any = false;
        for (int i = 0; i < nb; i++)
            any |= (U[i] & x->gemm_mask) != 0;
        if (dc && any && left != 0)
            return;
        if (dc && any && x->has_normal && normal_at < 0)
            return;
        try_resources(gs, nb, U, k, nf);
        return;
    }
    if (!(U[j] & x->gemm_mask)) {
        /* a partition of channel-less ops (softmax, norms) runs on the NPU and holds no channels */
        k[j] = 0;
        nf[j] = false;
        enum_resources(gs, nb, U, k, nf, j + 1, left, normal_at);
        return;
    }
    for (int c = 0; c <= left; c++) {
        for (int t = 0; t < 2; t++) {
            bool takes_normal = t == 1;
            if (takes_normal && (!x->has_normal || normal_at >= 0))
                continue;
            if (c == 0 && !takes_normal)
                continue; /* every partition needs some channel */
            if (x->o.mode == DF_COMPUTE_CENTRIC && c > 0 && takes_normal)
                continue;
            k[j] = c;
            nf[j] = takes_normal;
            enum_resources(gs, nb, U, k, nf, j + 1, left - c, takes_normal ? j : normal_at);
        }
    }
}

/* Every set partition of the components into blocks (restricted growth strings). */
static void enum_blocks(GroupSearch *gs, int i, int nb) {
    if (i == gs->ncomp) {
        spend(gs->x, 1);
        uint32_t U[DF_MAX_OPS] = {0};
        for (int c = 0; c < gs->ncomp; c++)
            U[gs->block_of[c]] |= gs->comp[c];
        int k[DF_MAX_OPS];
        bool nf[DF_MAX_OPS];
        enum_resources(gs, nb, U, k, nf, 0, gs->x->N, -1);
        return;
    }
    for (int b = 0; b <= nb; b++) {
        gs->block_of[i] = b;
        enum_blocks(gs, i + 1, b == nb ? nb + 1 : nb);
    }
}

static GroupMemo *group_best(Ctx *x, uint32_t S) {
    GroupMemo *g = map_get(&x->groups, S);
    if (g)
        return g;
    g = ARENA_NEW(x->ar, GroupMemo);
    g->cost = INFINITY;
    GroupSearch gs;
    memset(&gs, 0, sizeof gs);
    gs.x = x;
    gs.best = g;
    /* weakly connected components of S */
    uint32_t left = S;
    while (left) {
        uint32_t comp = left & (~left + 1), grow;
        do {
            grow = comp;
            for (int i = 0; i < x->n; i++)
                if (comp & (1u << i))
                    grow |= x->adj[i] & S;
            if (grow == comp)
                break;
            comp = grow;
        } while (1);
        gs.comp[gs.ncomp++] = comp;
        left &= ~comp;
    }
    enum_blocks(&gs, 0, 0);
    map_put(x->ar, &x->groups, S, g);
    return g;
}

/* ---------------------------------------------------------------- the whole plan */

typedef struct TopState {
    double cost;
    uint32_t prev;
    bool reached;
} TopState;

/* Writes the groups `chain` chose through the memo tables into plan, numbered from *g and placed in
 * plan->order from *k; advances both. */
static void reconstruct(Ctx *x, const uint32_t *chain, int nchain, DfPlan *plan, int *g, int *k) {
    for (int gi = 0; gi < nchain; gi++) {
        GroupMemo *gm = group_best(x, chain[gi]);
        int ch = 0;
        for (int b = 0; b < gm->nblocks; b++) {
            PartMemo *pm = partition_front(x, gm->U[b], gm->k[b], gm->nf[b]);
            /* walk back through the strata */
            uint32_t strata[DF_MAX_OPS];
            int spts[DF_MAX_OPS], ns = 0;
            uint32_t I = gm->U[b];
            int pt = gm->pt[b];
            while (I) {
                PFront *f = pfront_at(x, pm, I, false);
                const PPt *pp = &f->pts[pt];
                strata[ns] = pp->T;
                spts[ns++] = pp->spt;
                I = pp->prev;
                pt = pp->prev_pt;
            }
            for (int s = 0; s < ns; s++) {
                uint32_t T = strata[ns - 1 - s];
                SFront *sf = stratum_front(x, T, gm->k[b], gm->nf[b]);
                const SPt *sp = &sf->pts[spts[ns - 1 - s]];
                int c0 = ch;
                for (int i = 0; i < sf->m; i++) {
                    int op = sf->ops[i];
                    DfAssign *a = &plan->a[op];
                    a->group = *g + gi;
                    a->part = b;
                    a->stratum = s;
                    a->nmp = 0;
                    for (int q = 0; q < sp->c[i]; q++)
                        a->nmp |= CHAN_BIT(c0 + q);
                    c0 += sp->c[i];
                    a->normal = sp->nf[i];
                    a->split = sp->split[i];
                    a->ratio = -1;
                    plan->order[(*k)++] = op;
                }
            }
            ch += gm->k[b];
        }
    }
    *g += nchain;
}

/* The ideals of U (subsets closed under inputs within U), in order of size: breadth-first, adding
 * one op at a time. */
static uint32_t *ideals_of(Ctx *x, uint32_t U, int *n) {
    uint32_t *ideals = NULL;
    int nid = 0, capid = 0;
    Map seen = {0};
    VEC_PUSH(x->ar, ideals, nid, capid, 0u);
    map_put(x->ar, &seen, 0, (void *)1);
    for (int i = 0; i < nid; i++) {
        spend(x, 1);
        uint32_t I = ideals[i];
        for (int j = 0; j < x->n; j++) {
            uint32_t J = I | (1u << j);
            if ((U & (1u << j)) && J != I && (x->pred[j] & U & ~I) == 0 && !map_get(&seen, J)) {
                map_put(x->ar, &seen, J, (void *)1);
                VEC_PUSH(x->ar, ideals, nid, capid, J);
            }
        }
    }
    *n = nid;
    return ideals;
}

/* The plan DP over the ideals of U, one group (a topological chunk) at a time: G(J) = min over
 * I in J of G(I) + group(J \ I). U is an ideal of what is left: every input of U's ops is in U or
 * already placed. Appends U's groups to plan (see reconstruct) and sets *value to their cost; false
 * if U has no legal plan. */
static bool run_dp(Ctx *x, uint32_t U, DfPlan *plan, int *g, int *k, double *value) {
    int nid;
    uint32_t *ideals = ideals_of(x, U, &nid);
    TopState *st = ARENA_ARRAY(x->ar, TopState, nid);
    Map index = {0};
    for (int i = 0; i < nid; i++)
        map_put(x->ar, &index, ideals[i], (void *)(intptr_t)(i + 1));
    st[0].reached = true;
    st[0].cost = 0;
    for (int i = 0; i < nid; i++) {
        if (!st[i].reached)
            continue;
        spend(x, (nid - i) / 16 + 1);
        uint32_t I = ideals[i];
        for (int j = i + 1; j < nid; j++) {
            uint32_t J = ideals[j];
            if ((J & I) != I || J == I)
                continue;
            GroupMemo *gm = group_best(x, J & ~I);
            if (!isfinite(gm->cost))
                continue;
            double c = st[i].cost + gm->cost;
            if (!st[j].reached || c < st[j].cost) {
                st[j].reached = true;
                st[j].cost = c;
                st[j].prev = I;
            }
        }
    }
    intptr_t fi = (intptr_t)map_get(&index, U);
    if (!fi || !st[fi - 1].reached)
        return false;
    uint32_t chain[DF_MAX_OPS];
    int nchain = 0;
    for (uint32_t I = U; I;) {
        intptr_t ii = (intptr_t)map_get(&index, I) - 1;
        chain[nchain++] = I & ~st[ii].prev;
        I = st[ii].prev;
    }
    for (int i = 0; i < nchain / 2; i++) {
        uint32_t t = chain[i];
        chain[i] = chain[nchain - 1 - i];
        chain[nchain - 1 - i] = t;
    }
    *value = st[fi - 1].cost;
    reconstruct(x, chain, nchain, plan, g, k);
    return true;
}

/* ---------------------------------------------------------------- capacity */

/* Bytes (all layers) each NMP channel and the normal group hold under plan: an op's NMP share goes
 * evenly to its NMP channels, the rest to the normal group. */
void df_plan_loads(const DfProblem *p, const DfPlan *plan, double load[IR_MAX_CHANNELS], double *normal) {
    memset(load, 0, sizeof(double) * IR_MAX_CHANNELS);
    *normal = 0;
    for (int i = 0; i < p->nops; i++) {
        const DfAssign *a = &plan->a[i];
        if (p->ops[i].kind == DFK_OTHER)
            continue;
        long long S = df_split_len(p, i);
        double f = a->nmp ? (a->normal ? (S ? (double)df_split_of(p, i, a) / (double)S : 0) : 1) : 0;
        int c = chanset_count(a->nmp);
        for (int ch = 0; ch < IR_MAX_CHANNELS; ch++)
            if (a->nmp & CHAN_BIT(ch))
                load[ch] += p->ops[i].footprint * f / c;
        *normal += p->ops[i].footprint * (1 - f);
    }
}

bool df_capacity_ok(const DfProblem *p, const DfPlan *plan) {
    double per_ch = p->hw.banks_per_channel * p->hw.bank_capacity - p->reserve;
    double load[IR_MAX_CHANNELS], normal;
    df_plan_loads(p, plan, load, &normal);
    for (int ch = 0; ch < p->nmp; ch++)
        if (load[ch] > per_ch)
            return false;
    return normal <= per_ch * p->normal;
}

/* Moves bytes off overloaded channels by shrinking (or growing) MIX splits, one op at a time,
 * always taking the move that costs least; false if nothing can be moved. */
static bool repair_capacity(const DfProblem *p, const CostModel *cm, Objective obj, SplitSpace sp, DfPlan *plan) {
    double per_ch = p->hw.banks_per_channel * p->hw.bank_capacity - p->reserve;
    for (int round = 0; round < 4 * DF_MAX_OPS && !df_capacity_ok(p, plan); round++) {
        double load[IR_MAX_CHANNELS], normal;
        df_plan_loads(p, plan, load, &normal);
        int worst = -1;
        double over = 0;
        for (int ch = 0; ch < p->nmp; ch++)
            if (load[ch] - per_ch > over) {
                over = load[ch] - per_ch;
                worst = ch;
            }
        bool to_normal = worst >= 0;
        if (!to_normal)
            over = normal - per_ch * p->normal;
        double best = INFINITY;
        int best_op = -1;
        long long best_split = 0;
        for (int i = 0; i < p->nops; i++) {
            DfAssign *a = &plan->a[i];
            if (p->ops[i].kind == DFK_OTHER || !a->normal || !a->nmp)
                continue;
            if (to_normal && !(a->nmp & CHAN_BIT(worst)))
                continue;
            long long S = df_split_len(p, i), s = df_split_of(p, i, a);
            double per_unit = p->ops[i].footprint / (double)S / (to_normal ? chanset_count(a->nmp) : 1);
            long long delta = (long long)ceil(over / per_unit);
            long long ns = to_normal ? s - delta : s + delta;
            if (ns < 1 || ns > S - 1)
                ns = to_normal ? 1 : S - 1;
            SplitGrid g = split_grid(p, i, sp);
            if (g.den) {
                /* only the splits of the space searched: the nearest one on the side that fits */
                long long t0, t1;
                grid_span(&g, to_normal ? 1 : ns, to_normal ? ns : S - 1, &t0, &t1);
                if (t0 > t1)
                    continue;
                ns = grid_at(&g, to_normal ? t1 : t0);
            }
            if (ns == s)
                continue;
            DfAssign keep = *a;
            a->split = ns;
            a->ratio = -1;
            CostResult r;
            cm->evaluate(p, plan, &r);
            double v = df_objective(obj, &r);
            *a = keep;
            if (v < best) {
                best = v;
                best_op = i;
                best_split = ns;
            }
        }
        if (best_op < 0)
            return false;
        plan->a[best_op].split = best_split;
        plan->a[best_op].ratio = -1;
    }
    return df_capacity_ok(p, plan);
}

/* ---------------------------------------------------------------- budgets and the restricted search */

/* What one df_search may spend, and what it found out. */
typedef struct Budget {
    long long work;         /* steps one exact search may take */
    size_t memory;          /* arena bytes one search may hold */
    bool too_big;           /* an exact search did not fit: the later ones go straight to the restricted one */
    double estimate;        /* the exact search's estimated steps (a lower bound; 0: not estimated) */
    long long spent;        /* steps taken, all searches together */
    int chunks;             /* chunks of the latest restricted search */
} Budget;

/* One search's arguments: the problem, and the prices and bars of this run. */
typedef struct Run {
    const DfProblem *p;
    const CostModel *cm;
    const SearchOpts *o;
    double lambda, mu;
    uint32_t no_nmp, no_normal;
    Arena *ar;
    Budget *B;
    long long *configs;
} Run;

enum { SR_NONE, SR_EXACT, SR_RESTRICTED };

static uint32_t all_ops(int n) { return n >= 32 ? 0xffffffffu : (1u << n) - 1; }

/* A fresh context in a reset arena (every earlier memo is dropped). */
static Ctx *ctx_new(const Run *rn) {
    const DfProblem *p = rn->p;
    arena_reset(rn->ar);
    Ctx *x = ARENA_NEW(rn->ar, Ctx); /* large caches: in the arena, not on the stack */
    x->p = p;
    x->cm = rn->cm;
    x->o = *rn->o;
    x->lambda = rn->lambda;
    x->mu = rn->mu;
    x->no_nmp = rn->no_nmp;
    x->no_normal = rn->no_normal;
    x->ar = rn->ar;
    x->n = p->nops;
    x->all = all_ops(x->n);
    x->N = p->nmp;
    x->has_normal = p->normal > 0;
    x->work_limit = 0;
    for (int i = 0; i < x->n; i++) {
        x->pred[i] = p->ops[i].preds;
        x->gemm[i] = p->ops[i].kind != DFK_OTHER;
        x->gemm_mask |= (uint32_t)x->gemm[i] << i;
        x->S[i] = df_split_len(p, i);
        x->grid[i] = split_grid(p, i, rn->o->splits);
    }
    for (int i = 0; i < x->n; i++) {
        x->cls[i] = i;
        for (int j = 0; j < i && x->cls[i] == i && rn->cm->costs_by_shape; j++) {
            const DfOp *a = &p->ops[i], *b = &p->ops[j];
            if (a->kind == b->kind && a->code == b->code && a->ctx_dim == b->ctx_dim && a->footprint == b->footprint &&
                memcmp(&a->pre, &b->pre, sizeof a->pre) == 0 && memcmp(&a->dec, &b->dec, sizeof a->dec) == 0)
                x->cls[i] = x->cls[j];
        }
    }
    for (int i = 0; i < x->n; i++)
        for (int j = 0; j < x->n; j++)
            if (x->pred[i] & (1u << j)) {
                x->adj[i] |= 1u << j;
                x->adj[j] |= 1u << i;
            }
    return x;
}

/* How many resource splits enum_resources tries for nb partitions: a count over (channels left,
 * normal group given). */
static double resource_splits(const Ctx *x, int nb) {
    double ways[IR_MAX_CHANNELS + 1][2], next[IR_MAX_CHANNELS + 1][2];
    memset(ways, 0, sizeof ways);
    ways[x->N][0] = 1;
    bool cc = x->o.mode == DF_COMPUTE_CENTRIC;
    for (int j = 0; j < nb; j++) {
        memset(next, 0, sizeof next);
        for (int left = 0; left <= x->N; left++)
            for (int used = 0; used < 2; used++) {
                if (ways[left][used] == 0)
                    continue;
                for (int c = 0; c <= left; c++)
                    for (int t = 0; t < 2; t++) {
                        if (t && (!x->has_normal || used))
                            continue;
                        if ((c == 0 && !t) || (cc && c > 0 && t))
                            continue;
                        next[left - c][used || t] += ways[left][used];
                    }
            }
        memcpy(ways, next, sizeof ways);
    }
    if (x->o.mode == DF_DATA_CENTRIC)
        return ways[0][x->has_normal ? 1 : 0];
    double n = 0;
    for (int left = 0; left <= x->N; left++)
        n += ways[left][0] + ways[left][1];
    return n;
}

/* A lower bound on the steps the exact search over U takes, counted without pricing anything:
 * the pairs of ideals the plan DP visits and, for every group they make, its groupings of
 * components into partitions times their splits of the channels (the partitions' own DP is not
 * counted). Stops counting past `limit`. */
static double estimate_steps(Ctx *x, uint32_t U, double limit) {
    uint32_t *ideals = NULL;
    int nid = 0, capid = 0;
    Map seen = {0};
    VEC_PUSH(x->ar, ideals, nid, capid, 0u);
    map_put(x->ar, &seen, 0, (void *)1);
    for (int i = 0; i < nid; i++) {
        uint32_t I = ideals[i];
        for (int j = 0; j < x->n; j++) {
            uint32_t J = I | (1u << j);
            if ((U & (1u << j)) && J != I && (x->pred[j] & U & ~I) == 0 && !map_get(&seen, J)) {
                map_put(x->ar, &seen, J, (void *)1);
                VEC_PUSH(x->ar, ideals, nid, capid, J);
            }
        }
        if ((double)nid * nid / 32 > limit)
            return (double)nid * nid / 32; /* the pair loop alone is over */
    }
    /* Stirling numbers of the second kind, and the splits per number of partitions */
    double stirling[DF_MAX_OPS + 1][DF_MAX_OPS + 1], splits[DF_MAX_OPS + 1];
    memset(stirling, 0, sizeof stirling);
    stirling[0][0] = 1;
    for (int m = 1; m <= DF_MAX_OPS; m++)
        for (int b = 1; b <= m; b++)
            stirling[m][b] = b * stirling[m - 1][b] + stirling[m - 1][b - 1];
    for (int b = 1; b <= DF_MAX_OPS; b++)
        splits[b] = resource_splits(x, b);
    double steps = 0;
    Map groups = {0};
    for (int i = 0; i < nid && steps <= limit; i++) {
        steps += (nid - i) / 16 + 1;
        for (int j = i + 1; j < nid; j++) {
            uint32_t I = ideals[i], J = ideals[j];
            if ((J & I) != I || J == I || map_get(&groups, J & ~I))
                continue;
            uint32_t S = J & ~I, left = S;
            map_put(x->ar, &groups, S, (void *)1);
            int ncomp = 0; /* components with a GEMM op: only their partitions take channels */
            while (left) {
                uint32_t comp = left & (~left + 1), grow;
                while ((grow = comp) != 0) {
                    for (int q = 0; q < x->n; q++)
                        if (comp & (1u << q))
                            grow |= x->adj[q] & S;
                    if (grow == comp)
                        break;
                    comp = grow;
                }
                ncomp += (comp & x->gemm_mask) != 0;
                left &= ~comp;
            }
            for (int b = 1; b <= ncomp; b++)
                steps += stirling[ncomp][b] * (1 + splits[b]);
        }
    }
    return steps;
}

/* The plan DP over U in the context *xp (made if NULL) within `work` steps and the arena's limit:
 * 1 with U's groups appended to plan, 0 if U has no legal plan, -1 over the budget (then *xp is
 * NULL: a context cut off halfway holds half-made memos and is dropped). */
static int attempt(const Run *rn, Ctx **xp, uint32_t U, long long work, DfPlan *plan, int *g, int *k, double *value) {
    jmp_buf jb;
    long long work0 = *xp ? (*xp)->work : 0, configs0 = *xp ? (*xp)->configs : 0;
    rn->ar->oom = &jb;
    if (setjmp(jb)) {
        /* out of steps or memory: count what was spent, drop the context */
        rn->ar->oom = NULL;
        if (*xp) {
            rn->B->spent += (*xp)->work - work0;
            *rn->configs += (*xp)->configs - configs0;
        }
        *xp = NULL;
        return -1;
    }
    if (!*xp)
        *xp = ctx_new(rn);
    Ctx *x = *xp;
    double est = estimate_steps(x, U, (double)work);
    if (U == x->all && rn->B->estimate == 0)
        rn->B->estimate = est;
    if (est > (double)work) {
        rn->ar->oom = NULL;
        return -1; /* (the context is intact: nothing was memoised) */
    }
    x->work_limit = x->work + work;
    DfPlan tmp = *plan;
    int g1 = *g, k1 = *k;
    bool ok = run_dp(x, U, &tmp, &g1, &k1, value);
    rn->ar->oom = NULL;
    rn->B->spent += x->work - work0;
    *rn->configs += x->configs - configs0;
    if (!ok)
        return 0;
    *plan = tmp;
    *g = g1;
    *k = k1;
    return 1;
}

/* Cuts chunk C (two ops or more) in two, C1 to run first with about num/den of the ops: whole weakly
 * connected components when C has several; else the ops of its first topological levels (by the
 * longest path within C to them). Either way C1 is closed under inputs within C. */
static void split_chunk(const Run *rn, uint32_t C, int num, int den, uint32_t *c1, uint32_t *c2) {
    const DfProblem *p = rn->p;
    int n = __builtin_popcount(C), target = (n * num + den - 1) / den;
    uint32_t first = 0, left = C;
    while (left) {
        /* the component of the lowest op left */
        uint32_t comp = left & (~left + 1), grow;
        do {
            grow = comp;
            for (int i = 0; i < p->nops; i++)
                if (C & (1u << i)) {
                    if (comp & (1u << i))
                        grow |= p->ops[i].preds & C;
                    if (p->ops[i].preds & comp)
                        grow |= 1u << i;
                }
            if (grow == comp)
                break;
            comp = grow;
        } while (1);
        if (comp == C)
            break; /* connected */
        if (first && (__builtin_popcount(first | comp) > target || (first | comp) == C))
            break;
        first |= comp;
        left &= ~comp;
    }
    if (first && first != C) {
        *c1 = first;
        *c2 = C & ~first;
        return;
    }
    int level[DF_MAX_OPS] = {0}, maxl = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < p->nops; i++)
            if (C & (1u << i))
                for (int j = 0; j < p->nops; j++)
                    if ((p->ops[i].preds & C & (1u << j)) && level[i] < level[j] + 1) {
                        level[i] = level[j] + 1;
                        changed = true;
                    }
    }
    for (int i = 0; i < p->nops; i++)
        if ((C & (1u << i)) && level[i] > maxl)
            maxl = level[i];
    /* the most levels whose ops are at most num/den of C, and at least one level */
    uint32_t best = 0;
    for (int L = 0; L < maxl; L++) {
        uint32_t low = 0;
        for (int i = 0; i < p->nops; i++)
            if ((C & (1u << i)) && level[i] <= L)
                low |= 1u << i;
        if (!best || den * __builtin_popcount(low) <= num * n)
            best = low;
    }
    if (!best) /* (cannot happen: a connected chunk of two ops or more has two levels) */
        h2c_unreachable("a chunk that cannot be cut");
    *c1 = best;
    *c2 = C & ~best;
}

/* The restricted search: the ops cut into chunks small enough for the exact search, each solved
 * exactly, their groups one after another. A chunk that does not fit its share of the budget is cut
 * in two (split_chunk); one op always fits. So the plan is optimal among the plans whose group
 * boundaries include the chunk boundaries (docs/dataflow.md §2.3). */
static int restricted(const Run *rn, int num, int den, DfPlan *plan, double *value) {
    uint32_t stack[2 * DF_MAX_OPS + 2];
    bool whole[2 * DF_MAX_OPS + 2]; /* a chunk merged with the next one: it is not cut again */
    int top = 0;
    stack[top] = all_ops(rn->p->nops);
    whole[top++] = false;
    Ctx *x = NULL;
    /* half a budget; less once the searches of this df_search have spent a few (EDP, capacity) */
    long long left = rn->B->work / 2, pool = 6 * rn->B->work - rn->B->spent;
    if (pool < left)
        left = pool > rn->B->work / 16 ? pool : rn->B->work / 16;
    int g = 0, k = 0;
    double total = 0;
    rn->B->chunks = 0;
    while (top > 0) {
        top--;
        uint32_t C = stack[top];
        bool single = __builtin_popcount(C) == 1, keep = whole[top];
        long long give = single ? (long long)1 << 50 : keep ? left : left / 2;
        long long before = rn->B->spent;
        double v = 0;
        int r = attempt(rn, &x, C, give, plan, &g, &k, &v);
        left -= rn->B->spent - before;
        if (r < 0 && !single && !keep) {
            uint32_t c1, c2;
            split_chunk(rn, C, num, den, &c1, &c2);
            stack[top] = c2;
            whole[top++] = false;
            stack[top] = c1;
            whole[top++] = false;
            continue;
        }
        if (r == 0 && top > 0) {
            /* no legal plan for the chunk alone (an op that cannot take a whole group by itself):
               try it together with the next one */
            stack[top - 1] |= C;
            whole[top - 1] = true;
            continue;
        }
        if (r <= 0)
            return SR_NONE;
        total += v;
        rn->B->chunks++;
    }
    *value = total;
    return SR_RESTRICTED;
}

/* One search at energy weight lambda, byte price mu and with bars: the exact search if it fits the
 * budget, else the restricted one. Returns SR_NONE if no legal plan was found. */
static int search_lambda(const DfProblem *p, const CostModel *cm, const SearchOpts *o, Budget *B, double lambda,
                         double mu, uint32_t no_nmp, uint32_t no_normal, DfPlan *plan, double *value,
                         long long *configs) {
    Arena own;
    arena_init(&own);
    Arena *ar = o->scratch ? o->scratch : &own;
    size_t keep = ar->limit;
    ar->limit = B->memory;
    Run rn = {p, cm, o, lambda, mu, no_nmp, no_normal, ar, B, configs};
    memset(plan, 0, sizeof *plan);
    plan->nops = p->nops;
    int status = SR_NONE;
    bool done = false;
    if (!B->too_big) {
        Ctx *x = NULL;
        int g = 0, k = 0;
        int r = attempt(&rn, &x, all_ops(p->nops), B->work, plan, &g, &k, value);
        if (r >= 0) {
            status = r ? SR_EXACT : SR_NONE;
            done = true;
        } else {
            B->too_big = true;
        }
    }
    if (!done) {
        /* the restricted search with chunks cut at a half, a third and two thirds; the best plan
           (only the first once a few budgets are spent: EDP and capacity run many searches) */
        static const int cuts[3][2] = {{1, 2}, {1, 3}, {2, 3}};
        DfPlan cand;
        double v;
        int chunks = 0, variants = B->spent > 4 * B->work ? 1 : 3;
        for (int c = 0; c < variants; c++) {
            memset(&cand, 0, sizeof cand);
            cand.nops = p->nops;
            if (restricted(&rn, cuts[c][0], cuts[c][1], &cand, &v) == SR_NONE || (status != SR_NONE && !(v < *value)))
                continue;
            status = SR_RESTRICTED;
            *plan = cand;
            *value = v;
            chunks = B->chunks;
        }
        B->chunks = chunks;
    }
    arena_reset(ar);
    ar->limit = keep;
    arena_free(&own);
    return status;
}

/* ---------------------------------------------------------------- a bound without the search */

/* One way to run an op, or a lower bound over a range of MIX splits [lo, hi]: every value is at
 * most what any split in the range gives (npu at hi, nmp at lo, prefill its least over splits). */
typedef struct Way {
    double a, npu, nmp;
    int c;
    long long lo, hi;   /* positions of the MIX splits covered (split_grid; lo == hi: exact) */
} Way;

typedef struct Weights {
    double path, npu, nmp;  /* alpha, beta, gamma: a convex combination of the three decode bounds */
} Weights;

/* The ops of a relaxation: one problem's, or a whole layer's (from its pieces' problems). */
typedef struct Relax {
    int n;                  /* ops */
    int N;                  /* NMP channels */
    const bool *gemm;       /* op i is a GEMM (else its NPU time may overlap other partitions') */
    Way **ways;             /* op i's ways, nways[i] of them */
    const int *nways;
    const int *order;       /* the ops in topological order */
    const int *pstart, *plist;  /* op i's inputs: plist[pstart[i] .. pstart[i + 1]) */
    double *len;            /* scratch: n */
    Ctx *x;                 /* the one problem's context, to narrow MIX ranges; NULL: no narrowing */
} Relax;

static double way_cost(const Relax *R, int op, const Way *w, Weights wt, bool with_path) {
    double f = w->a + (R->gemm[op] ? wt.npu * w->npu : 0) + (R->N > 0 ? wt.nmp * w->c * w->nmp / R->N : 0);
    if (with_path)
        f += wt.path * (w->npu > w->nmp ? w->npu : w->nmp);
    return f;
}

/* The ways of op: NPU, NMP on c channels, and MIX ranges: up to `samples` on each of the model's
 * monotone pieces. */
static Way *ways_of(Ctx *x, int op, int samples, int *count) {
    const DfProblem *p = x->p;
    Way *w = NULL;
    int n = 0, cap = 0;
    if (!x->gemm[op]) {
        const OpCost *oc = op_cost(x, op, 0, false, 0);
        VEC_PUSH(x->ar, w, n, cap, ((Way){oc->prefill, oc->npu, oc->nmp, 0, 0, 0}));
        *count = n;
        return w;
    }
    bool cc = x->o.mode == DF_COMPUTE_CENTRIC;
    if (x->has_normal) {
        const OpCost *oc = op_cost(x, op, 0, true, 0);
        VEC_PUSH(x->ar, w, n, cap, ((Way){oc->prefill, oc->npu, oc->nmp, 0, 0, 0}));
    }
    long long S = x->S[op];
    for (int c = 1; c <= x->N; c++) {
        const OpCost *oc = op_cost(x, op, c, false, S);
        VEC_PUSH(x->ar, w, n, cap, ((Way){oc->prefill, oc->npu, oc->nmp, c, 0, 0}));
        if (cc || !x->has_normal || S < 2)
            continue;
        const SplitGrid *g = &x->grid[op];
        if (g->n <= 0)
            continue;
        double pre = 0, en = 0;
        if (x->cm->mix_lower)
            x->cm->mix_lower(p, op, c, grid_at(g, 0), grid_at(g, g->n - 1), &pre, &en);
        const long long *pc = get_pieces(x, op, c);
        if (pc[0] == 0 && g->n > 4096) {
            /* no monotone structure and too many splits to list: only the prefill bound */
            VEC_PUSH(x->ar, w, n, cap, ((Way){pre, 0, 0, c, 0, 0})); /* (not narrowed: not monotone) */
            continue;
        }
        if (pc[0] == 0) {
            /* no monotone structure: every split, one by one */
            for (long long t = 0; t < g->n; t++) {
                const OpCost *e = op_cost(x, op, c, true, grid_at(g, t));
                VEC_PUSH(x->ar, w, n, cap, ((Way){e->prefill, e->npu, e->nmp, c, t, t}));
            }
            continue;
        }
        for (int j = 0; j < pc[0]; j++) {
            long long lo = pc[1 + j] < 1 ? 1 : pc[1 + j], hi = pc[2 + j] - 1 > S - 1 ? S - 1 : pc[2 + j] - 1;
            long long t0, t1;
            grid_span(g, lo, hi, &t0, &t1);
            if (t0 > t1)
                continue;
            /* on a monotone piece, ranges of positions [prev, t]: npu at t and nmp at prev bound them */
            long long steps = t1 - t0 < samples ? t1 - t0 : samples;
            if (steps == 0) {
                const OpCost *e = op_cost(x, op, c, true, grid_at(g, t0));
                VEC_PUSH(x->ar, w, n, cap, ((Way){e->prefill, e->npu, e->nmp, c, t0, t0}));
            }
            long long prev = t0;
            for (long long k = 1; k <= steps; k++) {
                long long t = t0 + (t1 - t0) * k / steps;
                const OpCost *a = op_cost(x, op, c, true, grid_at(g, prev)), *b = op_cost(x, op, c, true, grid_at(g, t));
                double rpre = pre, ren = 0;
                if (x->cm->mix_lower)
                    x->cm->mix_lower(p, op, c, grid_at(g, prev), grid_at(g, t), &rpre, &ren);
                VEC_PUSH(x->ar, w, n, cap, ((Way){rpre > pre ? rpre : pre, b->npu, a->nmp, c, prev, t}));
                prev = t;
            }
        }
    }
    *count = n;
    return w;
}

/* The least cost of op's ways under wt; with `refine` (one problem only), ranges that hold the least
 * are halved (at most 24 times) for a tighter value. */
static double least_way(const Relax *R, int op, Weights wt, bool with_path, bool refine) {
    Way extra[64];
    int ne = 0, n = R->nways[op];
    Way *ways = R->ways[op];
    Ctx *x = R->x;
    refine = refine && x;
    if (refine) { /* refined ranges replace their parent: work on a copy */
        ways = ARENA_ARRAY(x->ar, Way, n);
        memcpy(ways, R->ways[op], sizeof(Way) * (size_t)n);
    }
    for (int round = 0;; round++) {
        double best = INFINITY;
        Way *arg = NULL;
        for (int i = 0; i < n + ne; i++) {
            Way *w = i < n ? &ways[i] : &extra[i - n];
            double f = way_cost(R, op, w, wt, with_path);
            if (f < best) {
                best = f;
                arg = w;
            }
        }
        if (!refine || round >= 24 || !arg || arg->hi - arg->lo < 2 || ne + 2 > 64)
            return best;
        /* halve the range of positions: [lo, mid] and [mid, hi], each bound again */
        const SplitGrid *g = &x->grid[op];
        long long mid = arg->lo + (arg->hi - arg->lo) / 2;
        const OpCost *at_mid = op_cost(x, op, arg->c, true, grid_at(g, mid));
        Way right = *arg;
        right.lo = mid;
        right.nmp = at_mid->nmp;
        arg->hi = mid;
        arg->npu = at_mid->npu;
        if (x->cm->mix_lower) {
            double pre, en;
            x->cm->mix_lower(x->p, op, arg->c, grid_at(g, arg->lo), grid_at(g, mid), &pre, &en);
            arg->a = pre > arg->a ? pre : arg->a;
            x->cm->mix_lower(x->p, op, right.c, grid_at(g, mid), grid_at(g, right.hi), &pre, &en);
            right.a = pre > right.a ? pre : right.a;
        }
        extra[ne++] = right;
    }
}

/* The bound for one choice of weights: each op's least cost for the weights without the path term,
 * plus the longest path of what the path term adds. */
static double weighted_bound(const Relax *R, Weights wt, bool refine) {
    double base = 0, longest = 0;
    for (int q = 0; q < R->n; q++) {
        int i = R->order[q];
        double m0 = least_way(R, i, wt, false, refine);
        double m1 = wt.path > 0 ? least_way(R, i, wt, true, refine) : m0;
        base += m0;
        double from = 0;
        for (int e = R->pstart[i]; e < R->pstart[i + 1]; e++)
            if (R->len[R->plist[e]] > from)
                from = R->len[R->plist[e]];
        R->len[i] = from + (m1 - m0);
        if (R->len[i] > longest)
            longest = R->len[i];
    }
    return base + longest;
}

/* A lower bound on the additive cost plus decode time of every legal plan, for when the exact search
 * does not finish (docs/dataflow.md §2.4). Decode is at least (1) the NPU parts of the GEMM ops,
 * summed: only one partition of a group holds the normal channels, and its strata run in sequence;
 * (2) the NMP channel-time of all ops over the N channels: the partitions of a group and the ops
 * of a stratum hold disjoint channels; (3) along any path, each op's max(npu, nmp), summed: the
 * ops of a path sit in different strata or groups. A convex combination of the three is a bound
 * too, and together with the additive cost it separates over the ops: each takes its cheapest way
 * for the weights, and a longest-path pass finds the path. Every choice of weights gives a valid
 * bound; the search over them (the path weight on a grid, the NPU weight by golden section, which
 * is exact where the bound is concave in it) only decides how tight. */
static double relax_search(const Relax *R) {
    double best = 0;
    Weights best_wt = {0, 0, 1};
#define TRY_WEIGHTS(a_, b_)                                                                        \
    do {                                                                                           \
        Weights w_ = {(a_), (b_), 1 - (a_) - (b_)};                                                \
        if (w_.nmp < 0)                                                                            \
            w_.nmp = 0;                                                                            \
        double v_ = weighted_bound(R, w_, false);                                                  \
        if (v_ > best) {                                                                           \
            best = v_;                                                                             \
            best_wt = w_;                                                                          \
        }                                                                                          \
        last = v_;                                                                                 \
    } while (0)
    for (int ia = 0; ia <= 8; ia++) {
        double alpha = ia / 8.0, room = 1 - alpha, last;
        /* small NPU weights on a log scale (a slow NPU wants them), then golden section on [0, room] */
        TRY_WEIGHTS(alpha, 0.0);
        for (double b = room / 1024; b < room / 2; b *= 2)
            TRY_WEIGHTS(alpha, b);
        double lo = 0, hi = room, g = 0.6180339887498949;
        double m1 = hi - g * (hi - lo), m2 = lo + g * (hi - lo), f1, f2;
        TRY_WEIGHTS(alpha, m1);
        f1 = last;
        TRY_WEIGHTS(alpha, m2);
        f2 = last;
        for (int it = 0; it < 24; it++) {
            if (f1 < f2) {
                lo = m1;
                m1 = m2;
                f1 = f2;
                m2 = lo + g * (hi - lo);
                TRY_WEIGHTS(alpha, m2);
                f2 = last;
            } else {
                hi = m2;
                m2 = m1;
                f2 = f1;
                m1 = hi - g * (hi - lo);
                TRY_WEIGHTS(alpha, m1);
                f1 = last;
            }
        }
    }
#undef TRY_WEIGHTS
    /* the best weights again, with the MIX ranges that decide it narrowed */
    double refined = weighted_bound(R, best_wt, true);
    return refined > best ? refined : best;
}

/* The relaxation over one problem's ops. */
static double relax_bound(Ctx *x) {
    int n = x->n;
    Way *ways[DF_MAX_OPS];
    int nways[DF_MAX_OPS], order[DF_MAX_OPS], no = 0, pstart[DF_MAX_OPS + 1], plist[DF_MAX_OPS * DF_MAX_OPS], e = 0;
    double len[DF_MAX_OPS];
    for (int i = 0; i < n; i++) {
        ways[i] = ways_of(x, i, 16, &nways[i]);
        pstart[i] = e;
        for (int j = 0; j < n; j++)
            if (x->pred[i] & (1u << j))
                plist[e++] = j;
    }
    pstart[n] = e;
    uint32_t placed = 0;
    while (no < n)
        for (int i = 0; i < n; i++)
            if (!(placed & (1u << i)) && (x->pred[i] & ~placed) == 0) {
                order[no++] = i;
                placed |= 1u << i;
            }
    Relax R = {n, x->N, x->gemm, ways, nways, order, pstart, plist, len, x};
    return relax_search(&R);
}

/* The relaxation bound in a fresh context (no prices, no bars); 0 if it runs out of memory. */
static double bound_without_search(const DfProblem *p, const CostModel *cm, const SearchOpts *o, Budget *B) {
    Arena own;
    arena_init(&own);
    Arena *ar = o->scratch ? o->scratch : &own;
    size_t keep = ar->limit;
    ar->limit = B->memory;
    long long configs = 0;
    Run rn = {p, cm, o, 0, 0, 0, 0, ar, B, &configs};
    jmp_buf jb;
    volatile double lb = 0;
    ar->oom = &jb;
    if (!setjmp(jb)) {
        Ctx *x = ctx_new(&rn);
        lb = relax_bound(x);
    }
    ar->oom = NULL;
    arena_reset(ar);
    ar->limit = keep;
    arena_free(&own);
    return lb;
}

double df_layer_bound(const DfLayer *l, const CostModel *cm, const SearchOpts *o) {
    int n = l->nops, samples = n <= 256 ? 16 : 4;
    size_t sz = sizeof(Way *) + sizeof(int) * 2 + sizeof(bool) + sizeof(double);
    char *mem = h2c_raw_alloc(sz * (size_t)(n + 1));
    if (!mem)
        return 0;
    Way **ways = (Way **)mem;
    double *len = (double *)(mem + sizeof(Way *) * (size_t)(n + 1));
    int *nways = (int *)(mem + (sizeof(Way *) + sizeof(double)) * (size_t)(n + 1));
    int *order = nways + n + 1;
    bool *gemm = (bool *)(order + n + 1);
    memset(ways, 0, sizeof(Way *) * (size_t)(n + 1));
    Arena own;
    arena_init(&own);
    Arena *ar = o->scratch ? o->scratch : &own;
    size_t keep = ar->limit;
    ar->limit = DF_MEMORY_BUDGET;
    Budget B = {DF_WORK_BUDGET, DF_MEMORY_BUDGET, false, 0, 0, 0};
    long long configs = 0;
    volatile bool ok = true;
    volatile int pos = 0;
    jmp_buf jb;
    for (int k = 0; k < l->npieces && ok; k++) {
        Run rn = {&l->pieces[k], cm, o, 0, 0, 0, 0, ar, &B, &configs};
        ar->oom = &jb;
        if (setjmp(jb)) {
            ok = false;
            break;
        }
        Ctx *x = ctx_new(&rn);
        for (int i = 0; i < x->n; i++) {
            int mi = l->local[l->op[k * DF_MAX_OPS + i]], cnt;
            Way *w = ways_of(x, i, samples, &cnt);
            ways[mi] = h2c_raw_alloc(sizeof(Way) * (size_t)(cnt + 1));
            if (!ways[mi]) {
                ok = false;
                break;
            }
            memcpy(ways[mi], w, sizeof(Way) * (size_t)cnt);
            nways[mi] = cnt;
            gemm[mi] = x->gemm[i];
            order[pos++] = mi;
        }
        ar->oom = NULL;
    }
    ar->oom = NULL;
    arena_reset(ar);
    ar->limit = keep;
    arena_free(&own);
    double lb = 0;
    if (ok) {
        Relax R = {n, l->pieces[0].nmp, gemm, ways, nways, order, l->pstart, l->plist, len, NULL};
        lb = relax_search(&R);
    }
    for (int i = 0; i < n; i++)
        if (ways[i])
            h2c_raw_free(ways[i], sizeof(Way) * (size_t)(nways[i] + 1));
    h2c_raw_free(mem, sz * (size_t)(n + 1));
    return lb;
}

/* ---------------------------------------------------------------- entry points */

/* Keeps cand as *best if its objective beats *bestv; true if it did. */
static bool consider(const DfProblem *p, const CostModel *cm, Objective obj, const DfPlan *cand, DfPlan *best,
                     double *bestv) {
    CostResult c;
    cm->evaluate(p, cand, &c);
    double v = df_objective(obj, &c);
    if (!(v < *bestv))
        return false;
    *bestv = v;
    *best = *cand;
    return true;
}

double df_objective(Objective obj, const CostResult *c) {
    switch (obj) {
    case OBJ_ENERGY: return c->energy;
    case OBJ_EDP: return c->total * c->energy;
    default: return c->total;
    }
}

/* Augmenting path for Kuhn's bipartite matching: op i (left) to a later op it reaches (right). */
static bool augment(const uint32_t *reach, int n, int i, int *match, uint32_t *seen) {
    for (int j = 0; j < n; j++) {
        if (!(reach[i] & (1u << j)) || (*seen & (1u << j)))
            continue;
        *seen |= 1u << j;
        if (match[j] < 0 || augment(reach, n, match[j], match, seen)) {
            match[j] = i;
            return true;
        }
    }
    return false;
}

int df_width(const DfProblem *p) {
    /* Dilworth: the largest set of ops with no path between any two equals the fewest chains that
       cover the graph, which is n minus a maximum matching of "i reaches j" */
    int n = p->nops;
    uint32_t reach[DF_MAX_OPS] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (p->ops[j].preds & (1u << i))
                reach[i] |= 1u << j;
    for (int k = 0; k < n; k++) /* transitive closure */
        for (int i = 0; i < n; i++)
            if (reach[i] & (1u << k))
                reach[i] |= reach[k];
    int match[DF_MAX_OPS], matched = 0;
    for (int j = 0; j < n; j++)
        match[j] = -1;
    for (int i = 0; i < n; i++) {
        uint32_t seen = 0;
        matched += augment(reach, n, i, match, &seen);
    }
    return n - matched;
}

static bool search_in(const DfProblem *p, const CostModel *cm, const SearchOpts *o, SearchResult *r, Diag *d);

bool df_search(const DfProblem *p, const CostModel *cm, const SearchOpts *o, SearchResult *r, Diag *d) {
    if (o->scratch)
        return search_in(p, cm, o, r, d);
    /* one arena for all the searches of this call, rather than one each */
    Arena own;
    arena_init(&own);
    SearchOpts so = *o;
    so.scratch = &own;
    bool ok = search_in(p, cm, &so, r, d);
    arena_free(&own);
    return ok;
}

/* df_search with o->scratch set. */
static bool search_in(const DfProblem *p, const CostModel *cm, const SearchOpts *o, SearchResult *r, Diag *d) {
    memset(r, 0, sizeof *r);
    if (p->nops == 0) {
        diag_error(d, NOLOC, "nothing to schedule: the layer has no ops");
        return false;
    }
    Budget B = {o->work_budget > 0 ? o->work_budget : DF_WORK_BUDGET,
                o->memory_budget > 0 ? o->memory_budget : DF_MEMORY_BUDGET, false, 0, 0, 0};
    double value;
    int st;
    bool exact = true;
    if (o->objective == OBJ_LATENCY || !cm->has_energy) {
        st = search_lambda(p, cm, o, &B, 0, 0, 0, 0, &r->plan, &value, &r->configs);
        exact = st == SR_EXACT;
        if (st != SR_NONE)
            r->bound = exact            ? value + (cm->fixed_time ? cm->fixed_time(p) : 0)
                       : o->skip_bound ? NAN
                                       : bound_without_search(p, cm, o, &B) + (cm->fixed_time ? cm->fixed_time(p) : 0);
    } else if (o->objective == OBJ_ENERGY) {
        /* energy first; time only breaks ties */
        st = search_lambda(p, cm, o, &B, 1e9, 0, 0, 0, &r->plan, &value, &r->configs);
        exact = st == SR_EXACT;
        r->bound = NAN;
    } else {
        /* EDP: the plans optimal for latency + lambda x energy, lambda swept around the ratio of
           the latency-optimal plan's time to its energy; the best product wins */
        DfPlan best, cand;
        st = search_lambda(p, cm, o, &B, 0, 0, 0, 0, &best, &value, &r->configs);
        exact = st == SR_EXACT;
        if (st != SR_NONE) {
            CostResult c0;
            cm->evaluate(p, &best, &c0);
            double bestv = df_objective(OBJ_EDP, &c0);
            double l0 = c0.energy > 0 ? c0.total / c0.energy : 1;
            for (int e = -8; e <= 8; e++) {
                double lam = l0 * pow(4.0, e);
                int s2 = search_lambda(p, cm, o, &B, lam, 0, 0, 0, &cand, &value, &r->configs);
                if (s2 == SR_NONE)
                    continue;
                exact &= s2 == SR_EXACT;
                CostResult c;
                cm->evaluate(p, &cand, &c);
                double v = df_objective(OBJ_EDP, &c);
                if (v < bestv) {
                    bestv = v;
                    best = cand;
                }
            }
            r->plan = best;
        }
        r->bound = NAN;
    }
    r->exact = exact && st != SR_NONE;
    r->chunks = B.chunks;
    r->estimate = B.estimate;
    if (st == SR_NONE) {
        diag_error(d, NOLOC, "no legal dataflow exists for this device (%d NMP and %d normal channels)", p->nmp,
                   p->normal);
        return false;
    }
    /* (with room for rounding: a device that ties the cutoff must still be evaluated, ties go by index) */
    if (o->cutoff > 0 && o->objective == OBJ_LATENCY && r->bound > o->cutoff * (1 + 1e-9)) {
        /* no plan on this device can beat the cutoff: its best is at least the bound */
        r->dominated = true;
        r->value = INFINITY;
        return true;
    }
    if (o->capacity && !df_capacity_ok(p, &r->plan)) {
        /* The unconstrained optimum overflows a side. Candidates, best kept: (1) its MIX splits moved
           until it fits; (2) the search again at a range of prices per byte on the NMP channels
           (up when they overflow, down when the normal ones do), each repaired the same way; (3)
           ops barred from the overflowing side one at a time, greedily, each step the search
           again. The unconstrained optimum (or the bound) stays a lower bound, so the gap reported
           is honest. */
        r->repaired = true;
        double per_ch = p->hw.banks_per_channel * p->hw.bank_capacity - p->reserve, total = 0, on_nmp = 0, load[IR_MAX_CHANNELS];
        df_plan_loads(p, &r->plan, load, &total);
        for (int ch = 0; ch < IR_MAX_CHANNELS; ch++)
            on_nmp += load[ch];
        total += on_nmp;
        if (total > per_ch * (p->nmp + p->normal)) {
            diag_error(d, NOLOC, "the model does not fit the device: %.3g GiB of weights and KV, %.3g GiB of memory",
                       total / 1073741824.0, per_ch * (p->nmp + p->normal) / 1073741824.0);
            return false;
        }
        bool nmp_over = on_nmp > per_ch * p->nmp;
        double lam = o->objective == OBJ_ENERGY ? 1e9 : 0;
        DfPlan best, cand = r->plan;
        double bestv = INFINITY;
        bool have = repair_capacity(p, cm, o->objective, o->splits, &cand) && consider(p, cm, o->objective, &cand, &best, &bestv);
        double mu0 = total > 0 ? value / total : 0;
        for (int k = -2; k <= 6; k += 2) {
            double v;
            int s2 = search_lambda(p, cm, o, &B, lam, (nmp_over ? 1 : -1) * mu0 * pow(4.0, k), 0, 0, &cand, &v,
                                   &r->configs);
            if (s2 == SR_NONE)
                continue;
            if (!df_capacity_ok(p, &cand) && !repair_capacity(p, cm, o->objective, o->splits, &cand))
                continue;
            have |= consider(p, cm, o->objective, &cand, &best, &bestv);
        }
        if (!have) {
            /* greedy: bar one more op from the overflowing side per step; take a step's best plan
               that fits, else the one that moved the most bytes off that side, and go on (within
               a few budgets' worth of steps) */
            uint32_t barred = 0;
            for (int step = 0; step < p->nops && !have && B.spent < 8 * B.work; step++) {
                int pick = -1;
                double most = -1;
                for (int i = 0; i < p->nops; i++) {
                    if ((barred & (1u << i)) || p->ops[i].kind == DFK_OTHER)
                        continue;
                    uint32_t b = barred | (1u << i);
                    double v;
                    int s2 = search_lambda(p, cm, o, &B, lam, 0, nmp_over ? b : 0, nmp_over ? 0 : b, &cand, &v,
                                           &r->configs);
                    if (s2 == SR_NONE)
                        continue;
                    bool fits = df_capacity_ok(p, &cand) || repair_capacity(p, cm, o->objective, o->splits, &cand);
                    if (fits) {
                        have |= consider(p, cm, o->objective, &cand, &best, &bestv);
                    } else if (p->ops[i].footprint > most) {
                        most = p->ops[i].footprint;
                        pick = i;
                    }
                }
                if (!have && pick < 0)
                    break;
                if (!have)
                    barred |= 1u << pick;
            }
        }
        if (!have) {
            diag_error(d, NOLOC, "the model does not fit the device: no dataflow found keeps every channel within its %g "
                       "bytes", per_ch);
            return false;
        }
        r->plan = best;
    }
    r->chunks = B.chunks;
    cm->evaluate(p, &r->plan, &r->cost);
    r->value = df_objective(o->objective, &r->cost);
    return true;
}

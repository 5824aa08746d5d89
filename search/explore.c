/* explore.c: hardware x dataflow co-exploration. The space is the cartesian product of the
 * `explore {}` axes (and `pe` tuples) applied to the module's device; designs that differ only in
 * fields no cost model reads (the buffer sizes; for the artifact model also the NPU SRAM) are
 * searched once, and the distinct ones are numbered without listing the space. They are visited in
 * an order that reaches every value of every axis early, each with the dataflow search of its layer.
 * Work is split over threads in that order and every result lands in its own slot, so the outcome
 * does not depend on the thread count; ties go to the lowest index. A time or evaluation budget
 * stops new work, keeps what is done, and the report says how much of the space was searched. */
#include "search.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_DESIGNS = 200000 };

bool explore_problem(const Module *m, const CostModel *cm, const Hardware *hw, DfProblem *p, Diag *d) {
    return explore_problem_scope(m, cm, hw, SCOPE_LAYER, p, d);
}

bool explore_problem_scope(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfProblem *p,
                           Diag *d) {
    if (!df_problem_scope(m, cm, scope, p, d))
        return false;
    df_retarget(p, cm, hw, m->work.batch);
    return true;
}

/* n with thousands separators: 40,000. */
static void fmt_count(char *buf, size_t n, long long v) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", v), k = 0;
    for (int i = 0; i < len && (size_t)k + 2 < n; i++) {
        if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
}

/* Whether a cost model reads a hardware field (designs that differ only in fields it does not read
 * cannot differ in cost: the buffer sizes; for the artifact's model also the NPU's SRAM). */
static bool field_read(const CostModel *cm, int f) {
    if (f == HWF_buffer_input || f == HWF_buffer_weight || f == HWF_buffer_output)
        return false;
    return cm->reads_sram || f != HWF_npu_sram;
}

static bool device_valid(const Hardware *hw, char *why, size_t n) {
    if (hardware_inconsistency(hw, why, n) >= 0)
        return false;
    if (hw->channels > IR_MAX_CHANNELS) {
        snprintf(why, n, "more than %d channels", IR_MAX_CHANNELS);
        return false;
    }
    return true;
}

void explore_device(const Module *m, const Explore *xp, long long index, Hardware *hw) {
    *hw = m->dev.hw;
    long long rest = index;
    for (int a = (xp ? xp->naxes : 0) - 1; a >= 0; a--) {
        int nv = xp->axes[a].nvalues;
        double v = xp->axes[a].values[rest % nv];
        rest /= nv;
        *(double *)((char *)hw + hw_fields[xp->axes[a].field].offset) = v;
    }
    if (xp && xp->npe_tuples) {
        const double *t = xp->pe_tuples[rest % xp->npe_tuples];
        hw->pe_fpus = t[0];
        hw->pe_frequency = t[1];
        hw->pe_bandwidth = t[2];
    }
}

/* The space as numbers: designs are numbered with the last axis varying fastest and the pe tuples
 * slowest. The distinct designs are those of the axes the cost model reads (sema allows each field
 * once, no repeated values and no axis the tuples also set), numbered the same way; each stands for
 * the designs that differ from it only in the other axes, and is the first of them (their values 0). */
typedef struct Space {
    const Explore *xp;
    int naxes, ntuples;
    bool read[HWF_COUNT_];      /* axis a is read by the cost model */
    long long stride[HWF_COUNT_], tstride;
    long long total, distinct, stands_for;
    int nwork;                  /* a sweep's contexts (1: none): the slowest digit of every index */
    long long hw_total;         /* designs of the hardware space (tstride x ntuples) */
} Space;

/* A sweep's context axis, or NULL. */
static const SweepAxis *context_axis(const Explore *xp) {
    for (int i = 0; xp && i < xp->nsweeps; i++)
        if (xp->sweeps[i].field == SW_CONTEXT)
            return &xp->sweeps[i];
    return NULL;
}

/* False if the space is too large to number (2^62 designs). */
static bool space_init(Space *s, const Explore *xp, const CostModel *cm) {
    memset(s, 0, sizeof *s);
    s->xp = xp;
    s->naxes = xp ? xp->naxes : 0;
    s->ntuples = xp && xp->npe_tuples ? xp->npe_tuples : 1;
    double total = s->ntuples, distinct = s->ntuples;
    long long stride = 1;
    s->stands_for = 1;
    for (int a = s->naxes - 1; a >= 0; a--) {
        int nv = xp->axes[a].nvalues;
        s->read[a] = field_read(cm, xp->axes[a].field);
        s->stride[a] = stride;
        total *= nv;
        if (total > 4.6e18)
            return false;
        stride *= nv;
        if (s->read[a])
            distinct *= nv;
        else
            s->stands_for *= nv;
    }
    s->tstride = stride;
    s->hw_total = (long long)total;
    /* a sweep's contexts: each a workload of its own, searched like one more axis the model reads */
    const SweepAxis *ctx = context_axis(xp);
    s->nwork = ctx ? ctx->nvalues : 1;
    total *= s->nwork;
    distinct *= s->nwork;
    if (total > 4.6e18)
        return false;
    s->total = (long long)total;
    s->distinct = (long long)distinct;
    return true;
}

/* The design that distinct design j stands for (its index in the space). */
static long long full_index(const Space *s, long long j) {
    long long idx = 0;
    for (int a = s->naxes - 1; a >= 0; a--)
        if (s->read[a]) {
            int nv = s->xp->axes[a].nvalues;
            idx += (j % nv) * s->stride[a];
            j /= nv;
        }
    return idx + (j % s->ntuples) * s->tstride + (j / s->ntuples) * s->hw_total;
}

/* The distinct design with value i (mod the axis's count) on every read axis and tuple i (mod their count). */
static long long diagonal(const Space *s, int i) {
    long long j = 0, mult = 1;
    for (int a = s->naxes - 1; a >= 0; a--)
        if (s->read[a]) {
            int nv = s->xp->axes[a].nvalues;
            j += (i % nv) * mult;
            mult *= nv;
        }
    j += (i % s->ntuples) * mult;
    return j + (i % s->nwork) * mult * s->ntuples;
}

/* (a * b) mod m without overflow. */
static long long mulmod(long long a, long long b, long long m) {
    long long r = 0;
    a %= m;
    while (b > 0) {
        if (b & 1)
            r = (r + a) % m;
        a = (a * 2) % m;
        b >>= 1;
    }
    return r;
}

static long long gcd_ll(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The order designs are visited in: first a diagonal that puts every value of every read axis (and
 * every pe tuple) in some design, then all the distinct designs by a stride coprime with their count
 * near the golden ratio of it (k * stride mod count), which spreads every axis's values over the
 * order; the diagonal's designs are not visited again. Deterministic: it depends on the space only. */
typedef struct Walk {
    const Space *s;
    long long stride;
    long long *diag;            /* the diagonal's distinct designs, sorted */
    int ndiag, next_diag;
    long long k;                /* next k of the stride part */
} Walk;

static bool walk_init(Walk *w, const Space *s) {
    memset(w, 0, sizeof *w);
    w->s = s;
    int maxr = s->ntuples > s->nwork ? s->ntuples : s->nwork;
    for (int a = 0; a < s->naxes; a++)
        if (s->read[a] && s->xp->axes[a].nvalues > maxr)
            maxr = s->xp->axes[a].nvalues;
    if (maxr > s->distinct)
        maxr = (int)s->distinct;
    w->diag = h2c_raw_alloc(sizeof(long long) * (size_t)(maxr + 1));
    if (!w->diag)
        return false;
    /* the diagonal's own order spread the same way, so that a short budget sees far-apart values */
    long long ds = (long long)(maxr * 0.6180339887498949);
    if (ds < 1)
        ds = 1;
    while (maxr > 1 && gcd_ll(ds, maxr) != 1)
        ds++;
    for (int i = 0; i < maxr; i++)
        w->diag[w->ndiag++] = diagonal(s, (int)mulmod(i, ds, maxr));
    long long D = s->distinct;
    long long st = (long long)((double)D * 0.6180339887498949);
    if (st < 1)
        st = 1;
    while (D > 1 && gcd_ll(st, D) != 1)
        st++;
    w->stride = st;
    return true;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The next distinct design, or -1 when every one has been visited. */
static long long walk_next(Walk *w) {
    if (w->next_diag < w->ndiag) {
        long long j = w->diag[w->next_diag++];
        if (w->next_diag == w->ndiag)
            qsort(w->diag, (size_t)w->ndiag, sizeof(long long), cmp_ll); /* for the lookups below */
        return j;
    }
    while (w->k < w->s->distinct) {
        long long j = mulmod(w->k++, w->stride, w->s->distinct);
        if (!bsearch(&j, w->diag, (size_t)w->ndiag, sizeof(long long), cmp_ll))
            return j;
    }
    return -1;
}

typedef struct Work {
    const Module *m;
    Module *const *mods;    /* a sweep's module at each context (NULL: m for every design) */
    bool sweep;             /* price each design's decode energy too */
    const Explore *xp;
    const SearchOpts *so;
    const CostModel *cm;
    ExploreResult *r;
    const int *order;       /* entries of r->designs in the order they are visited */
    int norder;
    atomic_int next;        /* next position in order */
    atomic_int done;        /* designs finished */
    atomic_int stop;        /* the time budget ran out */
    atomic_int started;     /* designs started (the first is searched whatever the time budget) */
    double t0, budget_seconds;
} Work;

/* Designs in order of the objective, then the other measure (energy for a latency objective, else
 * latency), then index: deterministic, and an equally fast design that uses less energy comes first. */
static int design_order(const Design *a, const Design *b) {
    double va = a->value, vb = b->value;
    if (va != vb)
        return va < vb ? -1 : 1;
    double sa = a->energy, sb = b->energy;
    if (a->value == a->energy) { /* energy objective: latency breaks ties */
        sa = a->total;
        sb = b->total;
    }
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void *worker(void *arg) {
    Work *w = arg;
    Arena scratch; /* search memory, reused from one design to the next */
    arena_init(&scratch);
    SearchOpts so = *w->so;
    so.scratch = &scratch;
    ModulePlan *mp = h2c_raw_alloc(sizeof *mp); /* each design's plans (NULL: every design fails) */
    for (;;) {
        if (atomic_load(&w->stop))
            break;
        int k = atomic_fetch_add(&w->next, 1);
        if (k >= w->norder)
            break;
        Design *ds = &w->r->designs[w->order[k]];
        if (!ds->valid)
            continue;
        if (w->budget_seconds > 0 && h2c_seconds() - w->t0 > w->budget_seconds && atomic_load(&w->started) > 0) {
            atomic_store(&w->stop, 1);
            break;
        }
        atomic_fetch_add(&w->started, 1);
        double t = h2c_seconds();
        /* diagnostics of one design stay with it: a design with no legal plan is just infeasible */
        Diag d;
        diag_init_quiet(&d);
        Hardware hw;
        explore_device(w->m, w->xp, ds->index, &hw);
        const Module *dm = w->mods ? w->mods[ds->work] : w->m;
        ds->ok = mp && df_search_module(dm, w->cm, &hw, &so, mp, &d);
        if (ds->ok) {
            ds->decode_energy = w->sweep ? df_module_decode_energy(mp, w->cm) : NAN;
            const SearchResult *sr = &mp->sum;
            ds->total = sr->cost.total;
            ds->prefill = sr->cost.prefill;
            ds->decode = sr->cost.decode;
            ds->decode_step = sr->cost.decode_step;
            ds->energy = sr->cost.energy;
            ds->value = sr->value;
            ds->bound = sr->bound;
            ds->configs = sr->configs;
            ds->exact = sr->exact;
            df_module_plan_free(mp);
        }
        ds->seconds = h2c_seconds() - t;
        ds->evaluated = true;
        atomic_fetch_add(&w->done, 1);
    }
    h2c_raw_free(mp, sizeof *mp);
    arena_free(&scratch);
    return NULL;
}

static int cmp_design_index(const void *a, const void *b) {
    long long x = ((const Design *)a)->index, y = ((const Design *)b)->index;
    return (x > y) - (x < y);
}

/* Which values of the read axes and pe tuples no searched design has, as text ("" if none). */
static void coverage(const Space *s, const ExploreResult *r, char *buf, size_t n) {
    const Explore *xp = s->xp;
    size_t k = 0;
    buf[0] = 0;
    for (int a = -1; a < s->naxes; a++) {
        if (a >= 0 && !s->read[a])
            continue;
        int nv = a < 0 ? s->ntuples : xp->axes[a].nvalues;
        if (a < 0 && !(xp && xp->npe_tuples))
            continue;
        bool *seen = h2c_raw_alloc((size_t)nv);
        if (!seen)
            return;
        memset(seen, 0, (size_t)nv);
        int count = 0;
        for (int i = 0; i < r->n; i++) {
            const Design *ds = &r->designs[i];
            if (!ds->evaluated)
                continue;
            long long d = a < 0 ? (ds->index / s->tstride) % s->ntuples : (ds->index / s->stride[a]) % nv;
            if (!seen[d]) {
                seen[d] = true;
                count++;
            }
        }
        h2c_raw_free(seen, (size_t)nv);
        if (count < nv && k < n)
            k += (size_t)snprintf(buf + k, n - k, "%s%s %d of %d", k ? ", " : "",
                                  a < 0 ? "pe" : hw_fields[xp->axes[a].field].path, count, nv);
    }
    if (s->nwork > 1) {
        int count = 0;
        for (int w = 0; w < s->nwork; w++)
            for (int i = 0; i < r->n; i++)
                if (r->designs[i].evaluated && r->designs[i].work == w) {
                    count++;
                    break;
                }
        if (count < s->nwork && k < n)
            snprintf(buf + k, n - k, "%scontext %d of %d", k ? ", " : "", count, s->nwork);
    }
}

static void free_modules(Module **mods, int n) {
    if (!mods)
        return;
    for (int i = 0; i < n; i++)
        if (mods[i])
            ir_module_free(mods[i]);
    h2c_raw_free(mods, sizeof(Module *) * (size_t)n);
}

/* The points of a sweep, the last sweep axis varying fastest: each gets the best design of the
 * hardware space at its context and, through the ablation hook, the speedup and energy gain of the
 * full sparse plan over the dense baseline there. */
static bool sweep_points(const Module *m, Module *const *mods, const Explore *xp, const Space *s,
                         const ExploreOpts *o, ExploreResult *r, Diag *d) {
    long long n = 1;
    for (int a = 0; a < xp->nsweeps; a++)
        n *= xp->sweeps[a].nvalues;
    if (n > MAX_DESIGNS) {
        diag_error(d, xp->loc, "the sweep has %lld points; h2c sweeps at most %d", n, MAX_DESIGNS);
        return false;
    }
    /* the best design at each context */
    int *best = h2c_raw_alloc(sizeof(int) * (size_t)s->nwork);
    r->points = h2c_raw_alloc(sizeof(SweepPoint) * (size_t)n);
    if (!best || !r->points) {
        h2c_raw_free(best, sizeof(int) * (size_t)s->nwork);
        h2c_raw_free(r->points, sizeof(SweepPoint) * (size_t)n);
        r->points = NULL;
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    r->npoints = (int)n;
    for (int w = 0; w < s->nwork; w++)
        best[w] = -1;
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        if (ds->evaluated && ds->ok && (best[ds->work] < 0 || design_order(ds, &r->designs[best[ds->work]]) < 0))
            best[ds->work] = i;
    }
    bool ok = true;
    for (long long p = 0; p < n && ok; p++) {
        SweepPoint *pt = &r->points[p];
        memset(pt, 0, sizeof *pt);
        pt->wl = m->work;
        pt->has_sparsity = m->has_sparsity;
        if (m->has_sparsity)
            pt->sp = m->sparsity;
        else
            sparsity_defaults(&pt->sp);
        long long rest = p;
        for (int a = xp->nsweeps - 1; a >= 0; a--) {
            const SweepAxis *ax = &xp->sweeps[a];
            int k = (int)(rest % ax->nvalues);
            rest /= ax->nvalues;
            if (ax->field == SW_CONTEXT) {
                pt->work = k;
                sweep_workload(&pt->wl, ax->values[k]);
            } else {
                sweep_sparsity(&pt->sp, ax->field, ax->values[k]);
            }
        }
        pt->entry = best[pt->work];
        if (pt->entry < 0)
            continue;
        const Design *ds = &r->designs[pt->entry];
        pt->ab = (Ablation){ds->decode, ds->decode_energy, ds->decode, ds->decode_energy};
        if (o->ablation) {
            Hardware hw;
            explore_device(m, xp, ds->index, &hw);
            ok = o->ablation(mods ? mods[pt->work] : m, &hw, &pt->sp, &pt->ab, d, o->ablation_ctx);
            pt->ablated = ok;
        }
    }
    h2c_raw_free(best, sizeof(int) * (size_t)s->nwork);
    return ok;
}

bool explore_run(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreResult *r, Diag *d) {
    memset(r, 0, sizeof *r);
    r->best = -1;
    double t0 = h2c_seconds();
    DfLayer l0;
    if (!df_layer_from_module(m, o->cm, NULL, SCOPE_LAYER, &l0, d))
        return false;
    df_layer_free(&l0);
    Space s;
    if (!space_init(&s, xp, o->cm)) {
        diag_error(d, xp ? xp->loc : NOLOC, "the design space has more than 4.6e18 designs; narrow the axes");
        return false;
    }
    r->space = s.total;
    r->distinct = s.distinct;
    r->hw_space = s.hw_total;
    long long want = o->budget_evals > 0 ? o->budget_evals : 0; /* consistent designs to search (0: all) */
    if (s.distinct > MAX_DESIGNS && (want == 0 || want > MAX_DESIGNS)) {
        char dn[32], tn[32], mn[32];
        fmt_count(dn, sizeof dn, s.distinct);
        fmt_count(tn, sizeof tn, s.total);
        fmt_count(mn, sizeof mn, MAX_DESIGNS);
        diag_error(d, xp ? xp->loc : NOLOC,
                   "the design space has %s distinct designs (of %s); h2c explores at most %s of them: narrow the "
                   "axes, or search a sample of at most %s with --evaluations N (visited in an order that reaches "
                   "every value of every axis early)", dn, tn, mn, mn);
        return false;
    }
    /* the designs to visit, in the walk's order: the first `want` consistent ones, or all */
    long long cap = s.distinct < MAX_DESIGNS ? s.distinct : MAX_DESIGNS;
    Walk w;
    memset(&w, 0, sizeof w);
    if (!walk_init(&w, &s)) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    char why[160] = "";
    long long valid = 0, j;
    bool more = false, oom = false;
    while (r->n < cap && (j = walk_next(&w)) >= 0) {
        if (want && valid == want) {
            more = true; /* a design is left that the evaluation budget keeps out */
            break;
        }
        if (r->n == r->cap) {
            int ncap = r->cap ? (r->cap * 2 < cap ? r->cap * 2 : (int)cap) : (cap < 256 ? (int)cap : 256);
            Design *nd = h2c_raw_realloc(r->designs, sizeof(Design) * (size_t)r->cap, sizeof(Design) * (size_t)ncap);
            if (!nd) {
                oom = true;
                break;
            }
            r->designs = nd;
            r->cap = ncap;
        }
        Design *ds = &r->designs[r->n++];
        memset(ds, 0, sizeof *ds);
        ds->index = full_index(&s, j);
        ds->work = (int)(ds->index / s.hw_total);
        ds->stands_for = s.stands_for;
        Hardware hw;
        explore_device(m, xp, ds->index, &hw);
        ds->valid = device_valid(&hw, why, sizeof why);
        valid += ds->valid;
        r->invalid += !ds->valid;
    }
    h2c_raw_free(w.diag, sizeof(long long) * (size_t)(w.ndiag + 1));
    int *order = oom ? NULL : h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
    long long *walked = oom ? NULL : h2c_raw_alloc(sizeof(long long) * (size_t)(r->n + 1));
    if (!order || !walked) {
        h2c_raw_free(order, sizeof(int) * (size_t)(r->n + 1));
        h2c_raw_free(walked, sizeof(long long) * (size_t)(r->n + 1));
        explore_result_free(r);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    if (valid == 0) {
        h2c_raw_free(order, sizeof(int) * (size_t)(r->n + 1));
        h2c_raw_free(walked, sizeof(long long) * (size_t)(r->n + 1));
        diag_error(d, xp ? xp->loc : NOLOC, "every design in the space is inconsistent (for example: %s)", why);
        return false;
    }
    /* the entries in index order (for the reports and ties), visited in the walk's order */
    for (int i = 0; i < r->n; i++)
        walked[i] = r->designs[i].index;
    qsort(r->designs, (size_t)r->n, sizeof(Design), cmp_design_index);
    for (int i = 0; i < r->n; i++) {
        Design key = {.index = walked[i]};
        const Design *at = bsearch(&key, r->designs, (size_t)r->n, sizeof(Design), cmp_design_index);
        order[i] = (int)(at - r->designs);
    }
    h2c_raw_free(walked, sizeof(long long) * (size_t)(r->n + 1));
    SearchOpts so = {.mode = m->dataflow == DF_COMPUTE_CENTRIC ? DF_COMPUTE_CENTRIC : DF_DATA_CENTRIC,
                     .objective = m->objective, .capacity = true, .splits = m->splits};
    /* a sweep's contexts: a copy of the module at each */
    Module **mods = NULL;
    const SweepAxis *ctx = context_axis(xp);
    if (ctx) {
        mods = h2c_raw_alloc(sizeof(Module *) * (size_t)ctx->nvalues);
        bool ok = mods != NULL;
        if (mods)
            memset(mods, 0, sizeof(Module *) * (size_t)ctx->nvalues);
        for (int i = 0; ok && i < ctx->nvalues; i++) {
            Workload wl = m->work;
            sweep_workload(&wl, ctx->values[i]);
            mods[i] = ir_module_copy(m, d);
            ok = mods[i] && ir_set_workload(mods[i], &wl, d);
        }
        if (!ok) {
            free_modules(mods, ctx->nvalues);
            h2c_raw_free(order, sizeof(int) * (size_t)(r->n + 1));
            explore_result_free(r);
            if (!mods)
                diag_error(d, NOLOC, "out of memory");
            return false;
        }
    }
    Work wk;
    memset(&wk, 0, sizeof wk);
    wk.m = m;
    wk.mods = mods;
    wk.sweep = xp && xp->nsweeps > 0;
    wk.xp = xp;
    wk.so = &so;
    wk.cm = o->cm;
    wk.r = r;
    wk.order = order;
    wk.norder = r->n;
    wk.t0 = t0;
    wk.budget_seconds = o->budget_seconds;
    int nthreads = o->threads > 0 ? o->threads : 1;
    if (nthreads > 64)
        nthreads = 64;
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker, &wk) == 0)
            started++;
    if (started == 0)
        worker(&wk);
    double last = 0;
    while (o->progress && atomic_load(&wk.done) < valid && !atomic_load(&wk.stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double t = h2c_seconds() - t0;
        if (t - last >= 0.5) {
            fprintf(stderr, "\rexplore: %d/%lld designs [%.1f s]", atomic_load(&wk.done), valid, t);
            last = t;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    h2c_raw_free(order, sizeof(int) * (size_t)(r->n + 1));
    r->seconds = h2c_seconds() - t0;
    if (atomic_load(&wk.stop)) {
        r->stopped = EXPLORE_STOP_TIME;
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s%g s", o->budget_from_block ? "the explore block's budget = "
                 : "--budget ", o->budget_seconds);
    } else if (more) {
        r->stopped = EXPLORE_STOP_EVALUATIONS;
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s%lld", o->evals_from_block ? "the explore block's "
                 "evaluations = " : "--evaluations ", o->budget_evals);
    }
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        if (!ds->evaluated)
            continue;
        r->evaluated++;
        if (!ds->ok)
            continue;
        if (r->best < 0 || design_order(ds, &r->designs[r->best]) < 0)
            r->best = i;
    }
    coverage(&s, r, r->uncovered, sizeof r->uncovered);
    if (o->progress)
        fprintf(stderr, "\rexplore: %d/%lld designs [%.2f s]%s%s\n", r->evaluated, valid, r->seconds,
                r->stopped ? " (stopped by " : "", r->stopped ? r->stop_reason : "");
    bool ok = r->best >= 0;
    if (!ok)
        diag_error(d, xp ? xp->loc : m->dev.hw.loc, "no design in the space has a legal dataflow");
    if (ok && xp && xp->nsweeps > 0)
        ok = sweep_points(m, mods, xp, &s, o, r, d);
    free_modules(mods, s.nwork);
    return ok;
}

void explore_result_free(ExploreResult *r) {
    if (r->designs)
        h2c_raw_free(r->designs, sizeof(Design) * (size_t)r->cap);
    if (r->points)
        h2c_raw_free(r->points, sizeof(SweepPoint) * (size_t)r->npoints);
    memset(r, 0, sizeof *r);
}

int explore_pareto(const ExploreResult *r, int *out) {
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        const Design *a = &r->designs[i];
        if (!a->evaluated || !a->ok)
            continue;
        bool dominated = false;
        for (int j = 0; j < r->n && !dominated; j++) {
            const Design *b = &r->designs[j];
            if (j == i || !b->evaluated || !b->ok)
                continue;
            bool le = b->total <= a->total && b->energy <= a->energy;
            bool lt = b->total < a->total || b->energy < a->energy;
            /* equal points: keep the lower index only */
            if (le && (lt || j < i))
                dominated = true;
        }
        if (!dominated)
            out[n++] = i;
    }
    /* by latency */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && r->designs[out[j]].total < r->designs[out[j - 1]].total; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* ---------------------------------------------------------------- reports */

/* The axes that vary, as "name=value" text for one design. */
static void design_label(char *buf, size_t n, const Module *m, const Explore *xp, long long index) {
    Hardware hw;
    explore_device(m, xp, index, &hw);
    size_t k = 0;
    buf[0] = 0;
    for (int a = 0; xp && a < xp->naxes && k < n; a++) {
        const FieldDesc *f = &hw_fields[xp->axes[a].field];
        double v = *(const double *)((const char *)&hw + f->offset);
        char val[64];
        if (f->flags & F_ENUM_PREC)
            snprintf(val, sizeof val, "%s", precision_name((Precision)v));
        else
            unit_format(val, sizeof val, v, f->kind);
        k += (size_t)snprintf(buf + k, n - k, "%s%s=%s", k ? " " : "", f->path, val);
    }
    if (xp && xp->npe_tuples && k < n) {
        char fr[32], bw[32];
        unit_format(fr, sizeof fr, hw.pe_frequency, UK_FREQ);
        unit_format(bw, sizeof bw, hw.pe_bandwidth, UK_BANDWIDTH);
        snprintf(buf + k, n - k, "%spe=(%g, %s, %s)", k ? " " : "", hw.pe_fpus, fr, bw);
    }
    if (!buf[0])
        snprintf(buf, n, "%s", hw.name ? hw.name : "device");
}

static int cmp_designs(const ExploreResult *r, int a, int b) { return design_order(&r->designs[a], &r->designs[b]); }

/* A sweep value as written back: tokens as a count, a share as a percentage. */
static void sweep_value(char *buf, size_t n, SweepField f, double v) {
    if (sweep_fields[f].kind == UK_PERCENT) {
        fmt_double(buf, n > 1 ? n - 1 : n, v * 100);
        strcat(buf, "%");
    } else {
        snprintf(buf, n, "%.0f", v);
    }
}

static double point_value(const SweepPoint *pt, SweepField f) {
    switch (f) {
    case SW_CONTEXT: return pt->wl.prompt;
    case SW_STATIC_HEADS: return pt->sp.static_heads;
    case SW_SINK: return pt->sp.sink;
    case SW_WINDOW: return pt->sp.window;
    case SW_BUDGET: return pt->sp.budget;
    default: h2c_unreachable("a sweep field");
    }
}

/* The sweep's table: a row per point, its swept values, its device (when the hardware space has more
 * than one), the dense plan's decode time per step and decode energy, and the ablation's ratios. */
static void print_sweep(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r) {
    bool devices = r->hw_space > 1;
    fprintf(out, "sweep: %d point%s (", r->npoints, r->npoints == 1 ? "" : "s");
    for (int a = 0; a < xp->nsweeps; a++)
        fprintf(out, "%s%d %s", a ? " x " : "", xp->sweeps[a].nvalues, sweep_fields[xp->sweeps[a].field].path);
    fprintf(out, ")%s\n\n", devices ? "; each point on the best device of the hardware space at its context" : "");
    int w[SW_COUNT_ + 1];
    fprintf(out, "%5s", "point");
    for (int a = 0; a < xp->nsweeps; a++) {
        const char *name = sweep_fields[xp->sweeps[a].field].path;
        w[a] = (int)strlen(name) > 8 ? (int)strlen(name) : 8;
        fprintf(out, " %*s", w[a], name);
    }
    int lw = 0;
    if (devices) {
        for (int p = 0; p < r->npoints; p++) {
            char label[256] = "-";
            if (r->points[p].entry >= 0)
                design_label(label, sizeof label, m, xp, r->designs[r->points[p].entry].index);
            lw = (int)strlen(label) > lw ? (int)strlen(label) : lw;
        }
        fprintf(out, "  %-*s", lw, "device");
    }
    fprintf(out, " %14s %14s %12s %12s\n", "decode/step s", "decode J", "speedup", "energy gain");
    int ablated = 0;
    for (int p = 0; p < r->npoints; p++) {
        const SweepPoint *pt = &r->points[p];
        fprintf(out, "%5d", p);
        for (int a = 0; a < xp->nsweeps; a++) {
            char v[32];
            sweep_value(v, sizeof v, xp->sweeps[a].field, point_value(pt, xp->sweeps[a].field));
            fprintf(out, " %*s", w[a], v);
        }
        if (devices) {
            char label[256] = "-";
            if (pt->entry >= 0)
                design_label(label, sizeof label, m, xp, r->designs[pt->entry].index);
            fprintf(out, "  %-*s", lw, label);
        }
        if (pt->entry < 0) {
            fprintf(out, " %14s %14s %12s %12s\n", "-", "-", "-", "-");
            continue;
        }
        const Design *ds = &r->designs[pt->entry];
        ablated += pt->ablated;
        fprintf(out, " %14.6g %14.6g %12.4g %12.4g\n", ds->decode_step, ds->decode_energy,
                pt->ab.base_decode / pt->ab.full_decode, pt->ab.base_energy / pt->ab.full_energy);
    }
    fprintf(out, "(decode/step, decode J: the dense plan of the best device at the point's context, under the cost "
                 "model; '-': no design searched at that context fits)\n");
    if (!ablated)
        fprintf(out, "(speedup, energy gain: the dense HB baseline over the full sparse plan, from the ablation hook "
                     "(ExploreOpts.ablation), which is not connected yet: both are the dense plan, so both are 1)\n");
    else
        fprintf(out, "(speedup, energy gain: the dense HB baseline's decode time and energy over the full sparse "
                     "plan's)\n");
}

void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads) {
    const char *unit = m->cost_model == CM_ARTIFACT ? "s per layer" : "s, whole model";
    char prompt[32];
    snprintf(prompt, sizeof prompt, context_axis(xp) ? "context" : "%d", m->work.prompt);
    fprintf(out, "explore: model %s, workload %s (batch %d, %s+%d tokens), cost model %s, objective %s, %s%s\n",
            m->model.name, m->work.name, m->work.batch, prompt, m->work.generate,
            cost_model_names[m->cost_model], objective_names[m->objective], dataflow_mode_names[m->dataflow],
            m->splits == SPLITS_ARTIFACT ? " (only the artifact's MIX splits)" : "");
    char total[32], distinct[32], searched[32];
    fmt_count(total, sizeof total, r->space);
    fmt_count(distinct, sizeof distinct, r->distinct);
    fmt_count(searched, sizeof searched, r->evaluated);
    fprintf(out, "space: %s design%s, %s distinct", total, r->space == 1 ? "" : "s", distinct);
    if (r->distinct < r->space)
        fprintf(out, " (the rest differ only in fields no cost model reads)");
    if (r->invalid)
        fprintf(out, ", %d inconsistent", r->invalid);
    fprintf(out, "; searched %s of %s distinct design%s (%.3g%%)", searched, distinct, r->distinct == 1 ? "" : "s",
            100.0 * r->evaluated / (double)r->distinct);
    if (r->evaluated < r->distinct) {
        if (r->uncovered[0])
            fprintf(out, ", not yet every value of every axis (%s)", r->uncovered);
        else
            fprintf(out, ", every value of every axis at least once");
    }
    fprintf(out, "%s in %.3f s on %d thread%s", r->evaluated < r->distinct ? "," : "", r->seconds, threads,
            threads == 1 ? "" : "s");
    if (r->stopped)
        fprintf(out, " (stopped by %s: the best so far is below)", r->stop_reason);
    fputc('\n', out);
    if (r->points) {
        print_sweep(out, m, xp, r);
        return;
    }
    int *idx = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
    if (!idx)
        return;
    int n = 0, restricted = 0;
    for (int i = 0; i < r->n; i++)
        if (r->designs[i].evaluated && r->designs[i].ok) {
            idx[n++] = i;
            restricted += !r->designs[i].exact;
        }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && cmp_designs(r, idx[j], idx[j - 1]) < 0; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    /* the device column: 44 wide, or as wide as the longest label shown */
    int lw = 44;
    for (int k = 0; k < n && k < top; k++) {
        char label[256];
        design_label(label, sizeof label, m, xp, r->designs[idx[k]].index);
        lw = (int)strlen(label) > lw ? (int)strlen(label) : lw;
    }
    fprintf(out, "\n%4s %6s  %-*s %12s %12s %12s %12s %9s\n", "rank", "design", lw, "device", "latency", "prefill",
            "decode", "energy (J)", "gap");
    for (int k = 0; k < n && k < top; k++) {
        const Design *ds = &r->designs[idx[k]];
        char label[256];
        design_label(label, sizeof label, m, xp, ds->index);
        char gap[32] = "-";
        if (!isnan(ds->bound) && ds->value > 0) {
            double g = (ds->value - ds->bound) / ds->value;
            if (fabs(g) < 1e-9) /* rounding in sums taken in another order */
                snprintf(gap, sizeof gap, "0%%");
            else
                snprintf(gap, sizeof gap, "%.3g%%", 100 * g);
        }
        fprintf(out, "%4d %6lld  %-*s %12.6g %12.6g %12.6g %12.6g %9s\n", k + 1, ds->index, lw, label, ds->total,
                ds->prefill, ds->decode, ds->energy, gap);
    }
    fprintf(out, "(latency, prefill, decode in %s; gap: how far the design's dataflow may be from the best for "
                 "its device, 0%% = proven optimal)\n", unit);
    if (restricted)
        fprintf(out, "(%d design%s too wide or too long for the exact search's budget: a restricted search chose "
                     "%s dataflow, and the gap bounds how far it may be from the best)\n", restricted,
                restricted == 1 ? " was" : "s were", restricted == 1 ? "its" : "their");
    int np = explore_pareto(r, idx);
    if (m->cost_model != CM_ARTIFACT) {
        fprintf(out, "\nPareto front (latency vs energy): %d design%s\n", np, np == 1 ? "" : "s");
        int pw = 44;
        for (int k = 0; k < np; k++) {
            char label[256];
            design_label(label, sizeof label, m, xp, r->designs[idx[k]].index);
            pw = (int)strlen(label) > pw ? (int)strlen(label) : pw;
        }
        for (int k = 0; k < np; k++) {
            const Design *ds = &r->designs[idx[k]];
            char label[256];
            design_label(label, sizeof label, m, xp, ds->index);
            fprintf(out, "  %6lld  %-*s %12.6g s %12.6g J\n", ds->index, pw, label, ds->total, ds->energy);
        }
    }
    h2c_raw_free(idx, sizeof(int) * (size_t)(r->n + 1));
    if (r->best >= 0) {
        char label[256];
        design_label(label, sizeof label, m, xp, r->designs[r->best].index);
        fprintf(out, "\nbest: design %lld, %s: %.9g %s\n", r->designs[r->best].index, label,
                r->designs[r->best].total, unit);
    }
}

/* "," then v in the shortest form that reads back, or "," alone for NAN. */
static void csv_num(FILE *out, double v) {
    char b[32];
    if (isnan(v)) {
        fputc(',', out);
        return;
    }
    fmt_double(b, sizeof b, v);
    fprintf(out, ",%s", b);
}

/* A sweep's CSV: one row per point. */
static void write_sweep_csv(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r) {
    fputs("point,context,prompt,generate,max_seq,batch,static_heads,sink,window,page,budget,design,feasible", out);
    for (int i = 0; i < HWF_COUNT_; i++)
        fprintf(out, ",%s", hw_fields[i].path);
    fputs(",total_s,prefill_s,decode_s,decode_step_s,energy_j,decode_energy_j,base_decode_s,full_decode_s,speedup,"
          "base_energy_j,full_energy_j,energy_gain,ablation\n", out);
    for (int p = 0; p < r->npoints; p++) {
        const SweepPoint *pt = &r->points[p];
        const Workload *w = &pt->wl;
        fprintf(out, "%d,%d,%d,%d,%d,%d", p, w->prompt, w->prompt, w->generate, w->max_seq, w->batch);
        if (pt->has_sparsity) {
            csv_num(out, pt->sp.static_heads);
            fprintf(out, ",%d,%d,%d,%d", pt->sp.sink, pt->sp.window, pt->sp.page, pt->sp.budget);
        } else {
            fputs(",,,,,", out);
        }
        const Design *ds = pt->entry >= 0 ? &r->designs[pt->entry] : NULL;
        Hardware hw;
        explore_device(m, xp, ds ? ds->index : 0, &hw);
        if (ds)
            fprintf(out, ",%lld,1", ds->index);
        else
            fputs(",,0", out);
        for (int f = 0; f < HWF_COUNT_; f++) {
            double v = *(const double *)((const char *)&hw + hw_fields[f].offset);
            if (!ds)
                fputc(',', out);
            else if (hw_fields[f].flags & F_ENUM_PREC)
                fprintf(out, ",%s", precision_name((Precision)v));
            else
                csv_num(out, v);
        }
        if (!ds) {
            fputs(",,,,,,,,,,,,,\n", out);
            continue;
        }
        const Ablation *ab = &pt->ab;
        double cols[] = {ds->total, ds->prefill, ds->decode, ds->decode_step, ds->energy, ds->decode_energy,
                         ab->base_decode, ab->full_decode, ab->base_decode / ab->full_decode, ab->base_energy,
                         ab->full_energy, ab->base_energy / ab->full_energy};
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
            csv_num(out, cols[k]);
        fprintf(out, ",%s\n", pt->ablated ? "plan" : "none");
    }
}

void explore_write_csv(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r) {
    if (r->points) {
        write_sweep_csv(out, m, xp, r);
        return;
    }
    fputs("design,stands_for,valid,evaluated,feasible", out);
    for (int i = 0; i < HWF_COUNT_; i++)
        fprintf(out, ",%s", hw_fields[i].path);
    fputs(",total_s,prefill_s,decode_s,decode_step_s,energy_j,edp,bound,configs,search_s\n", out);
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        Hardware hw;
        explore_device(m, xp, ds->index, &hw);
        fprintf(out, "%lld,%lld,%d,%d,%d", ds->index, ds->stands_for, ds->valid, ds->evaluated, ds->ok);
        for (int f = 0; f < HWF_COUNT_; f++) {
            double v = *(const double *)((const char *)&hw + hw_fields[f].offset);
            if (hw_fields[f].flags & F_ENUM_PREC)
                fprintf(out, ",%s", precision_name((Precision)v));
            else
                fprintf(out, ",%.17g", v);
        }
        if (ds->evaluated && ds->ok)
            fprintf(out, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%lld,%.6f\n", ds->total, ds->prefill, ds->decode,
                    ds->decode_step, ds->energy, ds->total * ds->energy, ds->bound, ds->configs, ds->seconds);
        else
            fputs(",,,,,,,,,\n", out);
    }
}

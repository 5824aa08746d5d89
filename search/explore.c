/* explore.c: hardware x dataflow co-exploration, streamed. The space is the cartesian product of the
 * `explore {}` axes (and `pe` tuples) applied to the module's device, times the sweep's work points
 * (models x workloads x batch sizes x contexts); designs that differ only in fields no cost model
 * reads are searched once, and the distinct ones are numbered without listing the space. They are
 * visited in an order that reaches every value of every axis early, whose positions are handed out
 * in chunks (to threads here, to MPI ranks by tools/explore_mpi.c). Each chunk's designs are searched
 * into an ExploreState; states merge in any order to the same result (ties go to the lowest index),
 * so the outcome depends neither on the thread nor on the rank count. A state keeps the top-K table,
 * the Pareto front and each work point's best (the plain run: every design), so memory does not grow
 * with the space; a checkpoint holds the finished ranges of the order and the merged state. */
#include "search.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_DESIGNS = 200000,       /* designs a plain run keeps (each one is in its CSV) */
    MAX_WORK = 4096,            /* a sweep's work points (a module each) */
    MAX_CHUNK = 4096,           /* positions of a guided chunk */
    DESIGN_BYTES = 93,          /* a design encoded */
};
#define MAX_STREAM 1e12         /* distinct designs a stream searches without a budget */
#define MAX_CHECKPOINT (1u << 30)   /* bytes of a checkpoint read */
#define CKPT_MAGIC "H2CXPCK\n"
#define CKPT_FORMAT 1u
#define STATE_MAGIC 0x31545358u /* "XST1" */

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

/* ---------------------------------------------------------------- the space and its order */

/* The space as numbers: designs are numbered with the last axis varying fastest, then the pe tuples,
 * then the sweep's work points (its work axes in the order written, the last fastest). The distinct
 * designs are those of the axes the cost model reads (sema allows each field once, no repeated values
 * and no axis the tuples also set), numbered the same way; each stands for the designs that differ
 * from it only in the other axes, and is the first of them (their values 0). */
typedef struct Space {
    const Explore *xp;
    int naxes, ntuples;
    bool read[HWF_COUNT_];      /* axis a is read by the cost model */
    long long stride[HWF_COUNT_], tstride;
    long long total, distinct, stands_for;
    long long hw_total;         /* designs of the hardware space (tstride x ntuples) */
    int nwork;                  /* the sweep's work points (1: none) */
    int nworkax;                /* its work axes ... */
    int workax[SW_COUNT_];      /* ... as indices into xp->sweeps, in the order written */
    int cov_axis[HWF_COUNT_];   /* where read axis a's values start in a state's coverage bytes */
    int cov_tuple;              /* where the pe tuples' start (-1: no tuples) */
    int cov_workax[SW_COUNT_];  /* where work axis i's values start */
    int ncover;                 /* coverage bytes */
} Space;

/* False if the space is too large to number (4.6e18 designs). */
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
    double nwork = 1;
    for (int i = 0; xp && i < xp->nsweeps; i++)
        if (sweep_is_work(xp->sweeps[i].field)) {
            s->workax[s->nworkax++] = i;
            nwork *= xp->sweeps[i].nvalues;
        }
    total *= nwork;
    distinct *= nwork;
    if (total > 4.6e18 || nwork > 1e9)
        return false;
    s->nwork = (int)nwork;
    s->total = (long long)total;
    s->distinct = (long long)distinct;
    int k = 0;
    for (int a = 0; a < s->naxes; a++) {
        s->cov_axis[a] = k;
        k += s->read[a] ? xp->axes[a].nvalues : 0;
    }
    s->cov_tuple = xp && xp->npe_tuples ? k : -1;
    k += xp && xp->npe_tuples ? s->ntuples : 0;
    for (int i = 0; i < s->nworkax; i++) {
        s->cov_workax[i] = k;
        k += xp->sweeps[s->workax[i]].nvalues;
    }
    s->ncover = k;
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

/* Whether index is a design full_index gives (every axis the cost model does not read at its first value). */
static bool is_distinct_index(const Space *s, long long index) {
    if (index < 0 || index >= s->total)
        return false;
    for (int a = 0; a < s->naxes; a++)
        if (!s->read[a] && (index / s->stride[a]) % s->xp->axes[a].nvalues != 0)
            return false;
    return true;
}

/* The value of work axis i at work point w. */
static int work_digit(const Space *s, int w, int i) {
    for (int k = s->nworkax - 1; k > i; k--)
        w /= s->xp->sweeps[s->workax[k]].nvalues;
    return w % s->xp->sweeps[s->workax[i]].nvalues;
}

/* The distinct design with value i (mod the axis's count) on every read axis, tuple i (mod their
 * count) and work point i (mod theirs). */
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
    return (long long)((unsigned __int128)(unsigned long long)a * (unsigned long long)b % (unsigned long long)m);
}

static long long gcd_ll(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int cmp_ll(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The order designs are visited in: first a diagonal that puts every value of every read axis (and
 * every pe tuple and work point) in some design, in a spread order of its own, then all the distinct
 * designs by a stride coprime with their count near the golden ratio of it (k * stride mod count),
 * which spreads every axis's values over the order. A position of the stride part whose design the
 * diagonal had is a duplicate, visited never. It depends on the space only. */
typedef struct Walk {
    long long D;                /* distinct designs */
    long long stride;
    long long *diag;            /* the diagonal's designs, in the order visited */
    long long *sorted;          /* the same, sorted (for the duplicate test) */
    int ndiag;
} Walk;

static void walk_free(Walk *w) {
    h2c_raw_free(w->diag, sizeof(long long) * (size_t)(w->ndiag + 1));
    h2c_raw_free(w->sorted, sizeof(long long) * (size_t)(w->ndiag + 1));
    memset(w, 0, sizeof *w);
}

static bool walk_init(Walk *w, const Space *s) {
    memset(w, 0, sizeof *w);
    int maxr = s->ntuples > s->nwork ? s->ntuples : s->nwork;
    for (int a = 0; a < s->naxes; a++)
        if (s->read[a] && s->xp->axes[a].nvalues > maxr)
            maxr = s->xp->axes[a].nvalues;
    if (maxr > s->distinct)
        maxr = (int)s->distinct;
    w->ndiag = maxr;
    w->diag = h2c_raw_alloc(sizeof(long long) * (size_t)(maxr + 1));
    w->sorted = h2c_raw_alloc(sizeof(long long) * (size_t)(maxr + 1));
    if (!w->diag || !w->sorted) {
        walk_free(w);
        return false;
    }
    /* the diagonal's own order spread the same way, so that a short budget sees far-apart values */
    long long ds = (long long)(maxr * 0.6180339887498949);
    if (ds < 1)
        ds = 1;
    while (maxr > 1 && gcd_ll(ds, maxr) != 1)
        ds++;
    for (int i = 0; i < maxr; i++)
        w->sorted[i] = w->diag[i] = diagonal(s, (int)mulmod(i, ds, maxr));
    qsort(w->sorted, (size_t)maxr, sizeof(long long), cmp_ll);
    w->D = s->distinct;
    long long st = (long long)((double)w->D * 0.6180339887498949);
    if (st < 1)
        st = 1;
    while (w->D > 1 && gcd_ll(st, w->D) != 1)
        st++;
    w->stride = st;
    return true;
}

/* The distinct design at position p of the order, or -1 for a duplicate. */
static long long walk_at(const Walk *w, long long p) {
    if (p < w->ndiag)
        return w->diag[p];
    long long j = mulmod(p - w->ndiag, w->stride, w->D);
    return bsearch(&j, w->sorted, (size_t)w->ndiag, sizeof(long long), cmp_ll) ? -1 : j;
}

/* ---------------------------------------------------------------- states */

struct ExploreState {
    int top;                    /* designs the table keeps */
    bool keep_all;              /* keep every design visited (the plain run: its CSV lists them all) */
    int nwork, ncover;
    long long visited;          /* distinct designs visited, consistent or not */
    long long evaluated, invalid, feasible, restricted;
    double search_seconds;      /* the searches' time, summed (statistics only) */
    Design *best;               /* the `top` best, in design order */
    int nbest;
    Design *front;              /* the latency-energy Pareto front (equal points: the lowest index) */
    int nfront, front_cap;
    Design *work_best;          /* each work point's best (index -1: none yet) */
    unsigned char *seen;        /* coverage: 1 for each axis value some searched design has */
    Design *all;                /* keep_all: every design visited */
    long long nall, all_cap;
    bool oom;                   /* an allocation failed: the state is incomplete */
};

int explore_design_order(const Design *a, const Design *b) {
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

static void state_sizes_free(ExploreState *st) {
    h2c_raw_free(st->best, sizeof(Design) * (size_t)st->top);
    h2c_raw_free(st->front, sizeof(Design) * (size_t)st->front_cap);
    h2c_raw_free(st->work_best, sizeof(Design) * (size_t)st->nwork);
    h2c_raw_free(st->seen, (size_t)st->ncover + 1);
    h2c_raw_free(st->all, sizeof(Design) * (size_t)st->all_cap);
}

void explore_state_free(ExploreState *st) {
    if (!st)
        return;
    state_sizes_free(st);
    h2c_raw_free(st, sizeof *st);
}

void explore_state_counts(const ExploreState *st, long long *visited, long long *searched, double *seconds) {
    *visited = st->visited;
    *searched = st->evaluated;
    *seconds = st->search_seconds;
}

void explore_state_reset(ExploreState *st) {
    st->visited = st->evaluated = st->invalid = st->feasible = st->restricted = 0;
    st->search_seconds = 0;
    st->nbest = st->nfront = 0;
    st->nall = 0;
    st->oom = false;
    for (int w = 0; w < st->nwork; w++)
        st->work_best[w].index = -1;
    memset(st->seen, 0, (size_t)st->ncover + 1);
}

static ExploreState *state_new(int top, bool keep_all, int nwork, int ncover) {
    ExploreState *st = h2c_raw_alloc(sizeof *st);
    if (!st)
        return NULL;
    memset(st, 0, sizeof *st);
    st->top = top;
    st->keep_all = keep_all;
    st->nwork = nwork;
    st->ncover = ncover;
    st->best = h2c_raw_alloc(sizeof(Design) * (size_t)top);
    st->work_best = h2c_raw_alloc(sizeof(Design) * (size_t)nwork);
    st->seen = h2c_raw_alloc((size_t)ncover + 1);
    if (!st->best || !st->work_best || !st->seen) {
        explore_state_free(st);
        return NULL;
    }
    explore_state_reset(st);
    return st;
}

/* b is at least as fast and as frugal as a, and better in one, or an equal point of a lower index. */
static bool dominates(const Design *b, const Design *a) {
    if (!(b->total <= a->total && b->energy <= a->energy))
        return false;
    return b->total < a->total || b->energy < a->energy || b->index < a->index;
}

static void front_add(ExploreState *st, const Design *ds) {
    for (int i = 0; i < st->nfront; i++)
        if (dominates(&st->front[i], ds) || st->front[i].index == ds->index)
            return;
    int k = 0;
    for (int i = 0; i < st->nfront; i++)
        if (!dominates(ds, &st->front[i]))
            st->front[k++] = st->front[i];
    st->nfront = k;
    if (st->nfront == st->front_cap) {
        int ncap = st->front_cap ? st->front_cap * 2 : 8;
        Design *nf = h2c_raw_realloc(st->front, sizeof(Design) * (size_t)st->front_cap, sizeof(Design) * (size_t)ncap);
        if (!nf) {
            st->oom = true;
            return;
        }
        st->front = nf;
        st->front_cap = ncap;
    }
    st->front[st->nfront++] = *ds;
}

static void top_add(ExploreState *st, const Design *ds) {
    if (st->nbest == st->top && explore_design_order(ds, &st->best[st->nbest - 1]) >= 0)
        return;
    int pos = st->nbest;
    while (pos > 0 && explore_design_order(ds, &st->best[pos - 1]) < 0)
        pos--;
    if (pos > 0 && st->best[pos - 1].index == ds->index)
        return;     /* (the same design twice) */
    int n = st->nbest < st->top ? st->nbest + 1 : st->top;
    memmove(&st->best[pos + 1], &st->best[pos], sizeof(Design) * (size_t)(n - 1 - pos));
    st->best[pos] = *ds;
    st->nbest = n;
}

static void all_add(ExploreState *st, const Design *ds) {
    if (st->nall == st->all_cap) {
        long long ncap = st->all_cap ? st->all_cap * 2 : 64;
        Design *na = h2c_raw_realloc(st->all, sizeof(Design) * (size_t)st->all_cap, sizeof(Design) * (size_t)ncap);
        if (!na) {
            st->oom = true;
            return;
        }
        st->all = na;
        st->all_cap = ncap;
    }
    st->all[st->nall++] = *ds;
}

/* A searched design's results, which every merge keeps the same way. */
static void state_keep(ExploreState *st, const Design *ds) {
    top_add(st, ds);
    front_add(st, ds);
    Design *wb = &st->work_best[ds->work];
    if (wb->index < 0 || explore_design_order(ds, wb) < 0)
        *wb = *ds;
}

/* The coverage bytes a searched design sets. */
static void mark_seen(const Space *s, unsigned char *seen, const Design *ds) {
    for (int a = 0; a < s->naxes; a++)
        if (s->read[a])
            seen[s->cov_axis[a] + (ds->index / s->stride[a]) % s->xp->axes[a].nvalues] = 1;
    if (s->cov_tuple >= 0)
        seen[s->cov_tuple + (ds->index / s->tstride) % s->ntuples] = 1;
    for (int i = 0; i < s->nworkax; i++)
        seen[s->cov_workax[i] + work_digit(s, ds->work, i)] = 1;
}

static void state_add(const Space *s, ExploreState *st, const Design *ds) {
    st->visited++;
    if (st->keep_all)
        all_add(st, ds);
    if (!ds->valid) {
        st->invalid++;
        return;
    }
    if (!ds->evaluated)
        return;
    st->evaluated++;
    st->search_seconds += ds->seconds;
    mark_seen(s, st->seen, ds);
    if (!ds->ok)
        return;
    st->feasible++;
    st->restricted += !ds->exact;
    state_keep(st, ds);
}

static void state_merge(ExploreState *into, const ExploreState *from) {
    into->visited += from->visited;
    into->evaluated += from->evaluated;
    into->invalid += from->invalid;
    into->feasible += from->feasible;
    into->restricted += from->restricted;
    into->search_seconds += from->search_seconds;
    for (int i = 0; i < from->nbest; i++)
        top_add(into, &from->best[i]);
    for (int i = 0; i < from->nfront; i++)
        front_add(into, &from->front[i]);
    for (int w = 0; w < from->nwork; w++) {
        const Design *ds = &from->work_best[w];
        if (ds->index >= 0 && (into->work_best[w].index < 0 || explore_design_order(ds, &into->work_best[w]) < 0))
            into->work_best[w] = *ds;
    }
    for (int i = 0; i < from->ncover; i++)
        into->seen[i] |= from->seen[i];
    for (long long i = 0; i < from->nall; i++)
        all_add(into, &from->all[i]);
    into->oom |= from->oom;
}

/* ---------------------------------------------------------------- bytes (states, checkpoints) */

typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
    bool oom;
} Buf;

static void put(Buf *b, const void *x, size_t n) {
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->n + n)
            ncap *= 2;
        unsigned char *np = h2c_raw_realloc(b->p, b->cap, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}

static void put_u64(Buf *b, unsigned long long v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 8);
}

static void put_u32(Buf *b, unsigned v) {
    unsigned char x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    put(b, x, 4);
}

static void put_f64(Buf *b, double v) {
    unsigned long long u;
    memcpy(&u, &v, 8);
    put_u64(b, u);
}

static void put_str(Buf *b, const char *s) {
    put_u32(b, (unsigned)strlen(s));
    put(b, s, strlen(s));
}

/* The buffer shrunk to its bytes; NULL (and freed) if it ran out of memory. */
static unsigned char *buf_take(Buf *b, size_t *len) {
    if (!b->oom && b->n && b->n != b->cap) {
        unsigned char *np = h2c_raw_realloc(b->p, b->cap, b->n);
        if (np) {
            b->p = np;
            b->cap = b->n;
        } else {
            b->oom = true;
        }
    }
    if (b->oom || !b->n) {
        h2c_raw_free(b->p, b->cap);
        *len = 0;
        return NULL;
    }
    *len = b->n;
    return b->p;
}

void explore_bytes_free(unsigned char *p, size_t len) { h2c_raw_free(p, len); }

/* Reads bytes that may be anything: each read past the end sets bad and gives 0. */
typedef struct Rd {
    const unsigned char *p;
    size_t n, at;
    bool bad;
    char why[128];              /* the first problem found */
} Rd;

static void rd_fail(Rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rd_fail(Rd *r, const char *fmt, ...) {
    if (r->bad)
        return;
    r->bad = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static bool get(Rd *r, void *x, size_t n) {
    if (r->bad || n > r->n - r->at) {
        if (!r->bad)
            rd_fail(r, "it ends at byte %zu, inside a field", r->n);
        memset(x, 0, n);
        return false;
    }
    memcpy(x, r->p + r->at, n);
    r->at += n;
    return true;
}

static unsigned long long get_u64(Rd *r) {
    unsigned char x[8];
    get(r, x, 8);
    unsigned long long v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | x[i];
    return v;
}

static unsigned get_u32(Rd *r) {
    unsigned char x[4];
    get(r, x, 4);
    return (unsigned)x[0] | (unsigned)x[1] << 8 | (unsigned)x[2] << 16 | (unsigned)x[3] << 24;
}

static double get_f64(Rd *r) {
    unsigned long long u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* A count that must be in [0, max]. */
static long long get_count(Rd *r, long long max, const char *what) {
    unsigned long long v = get_u64(r);
    if (!r->bad && v > (unsigned long long)max) {
        rd_fail(r, "%s is %llu, more than %lld", what, v, max);
        return 0;
    }
    return (long long)v;
}

static void put_design(Buf *b, const Design *ds) {
    put_u64(b, (unsigned long long)ds->index);
    unsigned char flags = (unsigned char)(ds->valid | ds->evaluated << 1 | ds->ok << 2 | ds->exact << 3);
    put(b, &flags, 1);
    put_u32(b, (unsigned)ds->work);
    double v[] = {ds->total, ds->prefill, ds->decode, ds->decode_step, ds->energy, ds->decode_energy, ds->value,
                  ds->bound, ds->seconds};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        put_f64(b, v[i]);
    put_u64(b, (unsigned long long)ds->configs);
}

/* A design as put_design wrote it, checked against the space: a distinct design of it, at the work
 * point its index says, with flags that go together and finite costs when it has a plan. */
static void get_design(Rd *r, const Space *s, Design *ds) {
    memset(ds, 0, sizeof *ds);
    ds->index = (long long)get_u64(r);
    unsigned char flags = 0;
    get(r, &flags, 1);
    ds->work = (int)get_u32(r);
    double *v[] = {&ds->total, &ds->prefill, &ds->decode, &ds->decode_step, &ds->energy, &ds->decode_energy,
                   &ds->value, &ds->bound, &ds->seconds};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        *v[i] = get_f64(r);
    ds->configs = (long long)get_u64(r);
    if (r->bad)
        return;
    ds->valid = flags & 1;
    ds->evaluated = flags >> 1 & 1;
    ds->ok = flags >> 2 & 1;
    ds->exact = flags >> 3 & 1;
    ds->stands_for = s->stands_for;
    if (!is_distinct_index(s, ds->index))
        rd_fail(r, "design %lld is not a distinct design of this space", ds->index);
    else if (ds->work != (int)(ds->index / s->hw_total))
        rd_fail(r, "design %lld has work point %d, not %lld", ds->index, ds->work, ds->index / s->hw_total);
    else if (flags > 15 || (ds->ok && !ds->evaluated) || (ds->evaluated && !ds->valid))
        rd_fail(r, "design %lld has flags 0x%x that do not go together", ds->index, flags);
    else if (ds->ok && !(isfinite(ds->total) && isfinite(ds->energy) && isfinite(ds->value)))
        rd_fail(r, "design %lld has a plan whose cost is not a number", ds->index);
}

static void state_encode_into(Buf *b, const ExploreState *st) {
    put_u32(b, STATE_MAGIC);
    put_u32(b, (unsigned)st->top);
    put_u32(b, st->keep_all);
    put_u32(b, (unsigned)st->nwork);
    put_u32(b, (unsigned)st->ncover);
    long long c[] = {st->visited, st->evaluated, st->invalid, st->feasible, st->restricted};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        put_u64(b, (unsigned long long)c[i]);
    put_f64(b, st->search_seconds);
    put_u64(b, (unsigned long long)st->nbest);
    for (int i = 0; i < st->nbest; i++)
        put_design(b, &st->best[i]);
    put_u64(b, (unsigned long long)st->nfront);
    for (int i = 0; i < st->nfront; i++)
        put_design(b, &st->front[i]);
    long long nw = 0;
    for (int w = 0; w < st->nwork; w++)
        nw += st->work_best[w].index >= 0;
    put_u64(b, (unsigned long long)nw);
    for (int w = 0; w < st->nwork; w++)
        if (st->work_best[w].index >= 0)
            put_design(b, &st->work_best[w]);
    put(b, st->seen, (size_t)st->ncover);
    put_u64(b, (unsigned long long)st->nall);
    for (long long i = 0; i < st->nall; i++)
        put_design(b, &st->all[i]);
}

unsigned char *explore_state_encode(const ExploreState *st, size_t *len) {
    Buf b = {0};
    state_encode_into(&b, st);
    return buf_take(&b, len);
}

/* Reads a state into st (reset first). The designs go through the same insertions as searched ones,
 * so a state that was not written by h2c still gives a table in order and a front that is one. */
static void state_decode_from(Rd *r, const Space *s, ExploreState *st, long long max_designs) {
    explore_state_reset(st);
    if (get_u32(r) != STATE_MAGIC) {
        rd_fail(r, "no state where one belongs");
        return;
    }
    unsigned top = get_u32(r), keep_all = get_u32(r), nwork = get_u32(r), ncover = get_u32(r);
    if (!r->bad && (top != (unsigned)st->top || keep_all != st->keep_all || nwork != (unsigned)st->nwork ||
                    ncover != (unsigned)st->ncover)) {
        rd_fail(r, "its state has another shape (top %u, keep %u, work points %u, coverage %u)", top, keep_all, nwork,
                ncover);
        return;
    }
    long long *c[] = {&st->visited, &st->evaluated, &st->invalid, &st->feasible, &st->restricted};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        *c[i] = get_count(r, max_designs, "a count of designs");
    st->search_seconds = get_f64(r);
    if (!r->bad && (st->evaluated + st->invalid > st->visited || st->feasible > st->evaluated ||
                    st->restricted > st->feasible || !(st->search_seconds >= 0)))
        rd_fail(r, "its counts of designs do not add up");
    long long room = (long long)((r->n - r->at) / DESIGN_BYTES);
    long long nbest = get_count(r, st->top < room ? st->top : room, "the table's size");
    for (long long i = 0; i < nbest && !r->bad; i++) {
        Design ds;
        get_design(r, s, &ds);
        if (!r->bad && !ds.ok)
            rd_fail(r, "design %lld of the table has no plan", ds.index);
        if (!r->bad)
            top_add(st, &ds);
    }
    room = (long long)((r->n - r->at) / DESIGN_BYTES);
    long long nfront = get_count(r, room, "the Pareto front's size");
    for (long long i = 0; i < nfront && !r->bad; i++) {
        Design ds;
        get_design(r, s, &ds);
        if (!r->bad && !ds.ok)
            rd_fail(r, "design %lld of the Pareto front has no plan", ds.index);
        if (!r->bad)
            front_add(st, &ds);
    }
    long long nw = get_count(r, st->nwork, "the work points with a best design");
    for (long long i = 0; i < nw && !r->bad; i++) {
        Design ds;
        get_design(r, s, &ds);
        if (!r->bad && !ds.ok)
            rd_fail(r, "design %lld, a work point's best, has no plan", ds.index);
        if (!r->bad)
            state_keep(st, &ds);
    }
    get(r, st->seen, (size_t)st->ncover);
    for (int i = 0; i < st->ncover && !r->bad; i++)
        if (st->seen[i] > 1)
            rd_fail(r, "a coverage byte is %d", st->seen[i]);
    room = (long long)((r->n - r->at) / DESIGN_BYTES);
    long long nall = get_count(r, st->keep_all ? room : 0, "the designs listed");
    for (long long i = 0; i < nall && !r->bad; i++) {
        Design ds;
        get_design(r, s, &ds);
        if (!r->bad)
            all_add(st, &ds);
    }
    if (!r->bad && st->keep_all && nall != st->visited)
        rd_fail(r, "it lists %lld designs but counts %lld", nall, st->visited);
}

/* ---------------------------------------------------------------- runs */

/* Finished positions of the visit order: sorted, disjoint, not touching ranges [a, b). */
typedef struct Ranges {
    long long (*r)[2];
    int n, cap;
    long long covered;          /* positions in all */
} Ranges;

static bool ranges_add(Ranges *rs, long long a, long long b) {
    if (a >= b)
        return true;
    /* the first range that ends at or after a */
    int lo = 0, hi = rs->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (rs->r[mid][1] < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    int i = lo, j = lo;
    long long na = a, nb = b, inside = 0;
    while (j < rs->n && rs->r[j][0] <= b) {   /* overlapping or touching: merged */
        na = rs->r[j][0] < na ? rs->r[j][0] : na;
        nb = rs->r[j][1] > nb ? rs->r[j][1] : nb;
        inside += rs->r[j][1] - rs->r[j][0];
        j++;
    }
    if (i == j && rs->n == rs->cap) {
        int ncap = rs->cap ? rs->cap * 2 : 16;
        void *nr = h2c_raw_realloc(rs->r, sizeof rs->r[0] * (size_t)rs->cap, sizeof rs->r[0] * (size_t)ncap);
        if (!nr)
            return false;
        rs->r = nr;
        rs->cap = ncap;
    }
    /* ranges i..j-1 become one */
    int removed = j - i;
    if (removed == 0) {
        memmove(&rs->r[i + 1], &rs->r[i], sizeof rs->r[0] * (size_t)(rs->n - i));
        rs->n++;
    } else if (removed > 1) {
        memmove(&rs->r[i + 1], &rs->r[j], sizeof rs->r[0] * (size_t)(rs->n - j));
        rs->n -= removed - 1;
    }
    rs->r[i][0] = na;
    rs->r[i][1] = nb;
    rs->covered += (nb - na) - inside;
    return true;
}

/* The end of the finished range holding p, or p if none holds it. */
static long long ranges_skip(const Ranges *rs, long long p) {
    int lo = 0, hi = rs->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (rs->r[mid][1] <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rs->n && rs->r[lo][0] <= p ? rs->r[lo][1] : p;
}

/* The start of the first finished range after p (or `none`). */
static long long ranges_next_start(const Ranges *rs, long long p, long long none) {
    int lo = 0, hi = rs->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (rs->r[mid][0] <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < rs->n ? rs->r[lo][0] : none;
}

struct ExploreRun {
    const Module *m;
    const Explore *xp;
    ExploreOpts o;
    SearchOpts so;
    Space s;
    Walk w;
    long long positions;        /* of the visit order: the diagonal's, then one per distinct design */
    Module **works;             /* the module at each work point (NULL: m for every design) */
    bool sweep;                 /* price each design's decode energy too */
    int top;
    unsigned long long fingerprint;
    char describe[200];         /* the exploration in words (for a checkpoint of another) */
    /* the process that merges (one process, or MPI rank 0) */
    ExploreState *total;
    Ranges done;
    long long cursor;           /* where the next chunk starts looking */
    long long want;             /* --evaluations: consistent designs to search (0: all) */
    long long cut;              /* positions searched: [0, cut) (-1: not known yet) */
    long long scan_pos;         /* --evaluations: [0, scan_pos) counted ... */
    long long scan_valid;       /* ... with this many consistent designs ... */
    long long scan_nondup;      /* ... and this many distinct ones */
    long long to_visit;         /* distinct designs to visit (without an evaluation budget) */
    bool more;                  /* the evaluation budget left a distinct design out */
    long long chunks;           /* chunks merged in this run */
    double t0;                  /* when this run started */
    atomic_int started;         /* designs started (the first is searched whatever the time budget) */
    atomic_int stop;            /* the time budget ran out, or explore_halt */
    bool time_out;              /* it was the time budget */
    double ckpt_last, progress_last;
    int lock_fd;                /* the checkpoint's lock, held while the run is open (-1: none) */
    bool resumed;
};

bool explore_state_decode(const ExploreRun *run, const unsigned char *p, size_t len, ExploreState *st,
                          const char *what, Diag *d) {
    Rd r = {p, len, 0, false, ""};
    state_decode_from(&r, &run->s, st, run->positions);
    if (!r.bad && st->oom)
        rd_fail(&r, "out of memory");
    if (!r.bad && r.at != r.n)
        rd_fail(&r, "%zu bytes follow the state", r.n - r.at);
    if (r.bad)
        diag_error(d, NOLOC, "%s is not a state of this exploration: %s", what, r.why);
    return !r.bad;
}

unsigned long long explore_fingerprint(const ExploreRun *run) { return run->fingerprint; }
long long explore_positions(const ExploreRun *run) { return run->positions; }

/* FNV-1a over bytes, 64 bits. */
static unsigned long long fnv(unsigned long long h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}
#define FNV_SEED 14695981039346656037ULL

static unsigned long long fnv_module(unsigned long long h, const Module *m) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return h ^ 1;
    ir_print(f, m);
    fclose(f);
    h = fnv(h, text, len);
    free(text);     /* (open_memstream's buffer comes from malloc) */
    return h;
}

/* What the results depend on: h2c, the module (model, device, workload, sparsity, modes), the space,
 * each swept model and workload, and the options that change what is searched or kept. */
static unsigned long long fingerprint(const ExploreRun *run) {
    unsigned long long h = fnv(FNV_SEED, H2C_VERSION, strlen(H2C_VERSION));
    int irv = IR_VERSION, fmt = CKPT_FORMAT;
    h = fnv(h, &irv, sizeof irv);
    h = fnv(h, &fmt, sizeof fmt);
    h = fnv_module(h, run->m);
    h = fnv(h, run->o.cm->name, strlen(run->o.cm->name));
    const Explore *xp = run->xp;
    for (int a = 0; xp && a < xp->naxes; a++) {
        h = fnv(h, &xp->axes[a].field, sizeof xp->axes[a].field);
        h = fnv(h, xp->axes[a].values, sizeof(double) * (size_t)xp->axes[a].nvalues);
    }
    if (xp && xp->npe_tuples)
        h = fnv(h, xp->pe_tuples, sizeof(double[3]) * (size_t)xp->npe_tuples);
    for (int i = 0; xp && i < xp->nsweeps; i++) {
        const SweepAxis *ax = &xp->sweeps[i];
        h = fnv(h, &ax->field, sizeof ax->field);
        h = fnv(h, ax->values, sizeof(double) * (size_t)ax->nvalues);
        for (int k = 0; ax->names && k < ax->nvalues; k++)
            h = fnv(h, ax->names[k], strlen(ax->names[k]) + 1);
        for (int k = 0; ax->workloads && k < ax->nvalues; k++) {
            const Workload *wl = &ax->workloads[k];
            int v[] = {wl->batch, wl->prompt, wl->generate, wl->max_seq, wl->attention};
            h = fnv(h, v, sizeof v);
        }
    }
    for (int i = 0; i < run->o.nmodels; i++)
        h = fnv_module(h, run->o.models[i]);
    long long opts[] = {run->o.stream, run->top, run->want};
    return fnv(h, opts, sizeof opts);
}

/* The module of work point w: the base (or the swept model's) at the point's workload. */
static Module *work_module(const ExploreRun *run, int w, Diag *d) {
    const Space *s = &run->s;
    const Module *base = run->m;
    Workload wl = run->m->work;
    bool named = false;
    for (int i = 0; i < s->nworkax; i++) {
        const SweepAxis *ax = &s->xp->sweeps[s->workax[i]];
        int k = work_digit(s, w, i);
        if (ax->field == SW_MODEL)
            base = run->o.models[k];
        else if (ax->field == SW_WORKLOAD) {
            wl = ax->workloads[k];
            named = true;
        }
    }
    for (int i = 0; i < s->nworkax; i++) {   /* batch and context apply to the workload chosen */
        const SweepAxis *ax = &s->xp->sweeps[s->workax[i]];
        int k = work_digit(s, w, i);
        if (ax->field == SW_BATCH)
            wl.batch = (int)ax->values[k];
        else if (ax->field == SW_CONTEXT)
            sweep_workload(&wl, ax->values[k]);
    }
    Module *mod = ir_module_copy(base, d);
    if (!mod)
        return NULL;
    if (named) {
        mod->work.name = arena_strdup(&mod->arena, wl.name);
        mod->work.attention = wl.attention;
    }
    if (!ir_set_workload(mod, &wl, d)) {
        ir_module_free(mod);
        return NULL;
    }
    return mod;
}

static void free_works(ExploreRun *run) {
    if (!run->works)
        return;
    for (int i = 0; i < run->s.nwork; i++)
        if (run->works[i])
            ir_module_free(run->works[i]);
    h2c_raw_free(run->works, sizeof(Module *) * (size_t)run->s.nwork);
    run->works = NULL;
}

void explore_close(ExploreRun *run) {
    if (!run)
        return;
    free_works(run);
    walk_free(&run->w);
    explore_state_free(run->total);
    h2c_raw_free(run->done.r, sizeof run->done.r[0] * (size_t)run->done.cap);
    if (run->lock_fd >= 0)
        close(run->lock_fd);    /* (the lock goes with it) */
    h2c_raw_free(run, sizeof *run);
}

ExploreState *explore_state_new(const ExploreRun *run) {
    return state_new(run->top, !run->o.stream, run->s.nwork, run->s.ncover);
}

/* A plain run lists every design it visits: the first consistent designs the evaluation budget allows,
 * at most MAX_DESIGNS in all, known before it starts. */
static bool plan_plain(ExploreRun *run, Diag *d) {
    long long cap = run->s.distinct < MAX_DESIGNS ? run->s.distinct : MAX_DESIGNS;
    long long n = 0, valid = 0, p = 0;
    char why[160] = "";
    for (; n < cap && p < run->positions; p++) {
        long long j = walk_at(&run->w, p);
        if (j < 0)
            continue;
        if (run->want && valid == run->want) {
            run->more = true;   /* a design is left that the evaluation budget keeps out */
            break;
        }
        n++;
        Hardware hw;
        explore_device(run->m, run->xp, full_index(&run->s, j), &hw);
        valid += device_valid(&hw, why, sizeof why);
    }
    run->cut = p;
    run->to_visit = n;
    if (valid == 0) {
        diag_error(d, run->xp ? run->xp->loc : NOLOC, "every design in the space is inconsistent (for example: %s)",
                   why);
        return false;
    }
    return true;
}

static bool read_checkpoint(ExploreRun *run, Diag *d);

bool explore_open(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreRun **out, Diag *d) {
    *out = NULL;
    DfLayer l0;
    if (!df_layer_from_module(m, o->cm, NULL, SCOPE_LAYER, &l0, d))
        return false;
    df_layer_free(&l0);
    ExploreRun *run = h2c_raw_alloc(sizeof *run);
    if (!run) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    memset(run, 0, sizeof *run);
    run->lock_fd = -1;
    run->m = m;
    run->xp = xp;
    run->o = *o;
    run->top = o->top > 0 ? o->top : 10;
    run->t0 = h2c_seconds();
    run->cut = -1;
    run->want = o->budget_evals > 0 ? o->budget_evals : 0;
    Space *s = &run->s;
    Loc at = xp ? xp->loc : NOLOC;
    if (!space_init(s, xp, o->cm)) {
        diag_error(d, at, "the design space has more than 4.6e18 designs; narrow the axes");
        explore_close(run);
        return false;
    }
    char dn[32], tn[32], mn[32];
    explore_fmt_count(dn, sizeof dn, s->distinct);
    explore_fmt_count(tn, sizeof tn, s->total);
    if (!o->stream && s->distinct > MAX_DESIGNS && (run->want == 0 || run->want > MAX_DESIGNS)) {
        explore_fmt_count(mn, sizeof mn, MAX_DESIGNS);
        diag_error(d, at,
                   "the design space has %s distinct designs (of %s); h2c explores at most %s of them: narrow the "
                   "axes, or search a sample of at most %s with --evaluations N (visited in an order that reaches "
                   "every value of every axis early)", dn, tn, mn, mn);
        explore_close(run);
        return false;
    }
    if (o->stream && s->distinct > MAX_STREAM && !run->want && !(o->budget_seconds > 0)) {
        diag_error(d, at, "the design space has %s distinct designs (of %s), more than 10^12: bound the run with "
                   "--evaluations N or --budget TIME, or narrow the axes", dn, tn);
        explore_close(run);
        return false;
    }
    if (s->nwork > MAX_WORK) {
        char wn[32];
        explore_fmt_count(wn, sizeof wn, s->nwork);
        explore_fmt_count(mn, sizeof mn, MAX_WORK);
        diag_error(d, xp->sweeps[s->workax[0]].loc, "the sweep has %s work points (models x workloads x batch sizes "
                   "x contexts, each a workload searched over the hardware space); h2c sweeps at most %s", wn, mn);
        explore_close(run);
        return false;
    }
    if (!walk_init(&run->w, s)) {
        diag_error(d, NOLOC, "out of memory");
        explore_close(run);
        return false;
    }
    run->positions = run->w.ndiag + run->w.D;
    run->so = (SearchOpts){.mode = m->dataflow == DF_COMPUTE_CENTRIC ? DF_COMPUTE_CENTRIC : DF_DATA_CENTRIC,
                           .objective = m->objective, .capacity = true, .splits = m->splits};
    run->sweep = xp && xp->nsweeps > 0;
    if (s->nworkax > 0) {
        run->works = h2c_raw_alloc(sizeof(Module *) * (size_t)s->nwork);
        if (!run->works) {
            diag_error(d, NOLOC, "out of memory");
            explore_close(run);
            return false;
        }
        memset(run->works, 0, sizeof(Module *) * (size_t)s->nwork);
        for (int w = 0; w < s->nwork; w++)
            if (!(run->works[w] = work_module(run, w, d))) {
                explore_close(run);
                return false;
            }
    }
    run->total = explore_state_new(run);
    if (!run->total) {
        diag_error(d, NOLOC, "out of memory");
        explore_close(run);
        return false;
    }
    run->fingerprint = fingerprint(run);
    snprintf(run->describe, sizeof run->describe, "model %s, %s design%s (%s distinct), cost model %s, objective %s",
             m->model.name, tn, s->total == 1 ? "" : "s", dn, o->cm->name, objective_names[m->objective]);
    if (!o->stream && !plan_plain(run, d)) {
        explore_close(run);
        return false;
    }
    if (o->stream && !run->want) {
        run->cut = run->positions;
        run->to_visit = s->distinct;
    }
    if (o->checkpoint && !read_checkpoint(run, d)) {
        explore_close(run);
        return false;
    }
    run->ckpt_last = run->progress_last = h2c_seconds();
    *out = run;
    return true;
}

/* ---------------------------------------------------------------- chunks */

static bool time_up(ExploreRun *run) {
    return run->o.budget_seconds > 0 && h2c_seconds() - run->t0 > run->o.budget_seconds &&
           atomic_load(&run->started) > 0;
}

void explore_halt(ExploreRun *run) { atomic_store(&run->stop, 1); }

long long explore_chunk_size(const ExploreRun *run, int workers) {
    if (run->o.chunk > 0)
        return run->o.chunk;
    long long left;
    if (run->cut >= 0)
        left = run->cut - run->done.covered;
    else  /* --evaluations, cut not found yet: the designs left to find, as positions */
        left = (run->want - run->scan_valid) + (run->scan_pos - run->done.covered);
    long long c = left / (8LL * (workers > 0 ? workers : 1));
    return c < 1 ? 1 : c > MAX_CHUNK ? MAX_CHUNK : c;
}

/* --evaluations: counts the consistent designs of [scan_pos, e), and cuts the order after the
 * budget's last one. Returns the end of the chunk (e, or the cut). */
static long long scan_to(ExploreRun *run, long long e) {
    char why[160];
    for (long long p = run->scan_pos; p < e; p++) {
        long long j = walk_at(&run->w, p);
        if (j < 0)
            continue;
        if (run->scan_valid == run->want) {
            run->cut = p;
            run->more = true;   /* a distinct design is left that the budget keeps out */
            run->scan_pos = p;
            return p;
        }
        run->scan_nondup++;
        Hardware hw;
        explore_device(run->m, run->xp, full_index(&run->s, j), &hw);
        run->scan_valid += device_valid(&hw, why, sizeof why);
    }
    run->scan_pos = e;
    if (e == run->positions)
        run->cut = e;
    return e;
}

bool explore_next_chunk(ExploreRun *run, long long max, long long *k0, long long *k1) {
    if (atomic_load(&run->stop))
        return false;
    if (time_up(run)) {
        run->time_out = true;
        explore_halt(run);
        return false;
    }
    long long q = run->cursor;
    for (long long n; (n = ranges_skip(&run->done, q)) != q;)
        q = n;
    long long limit = run->cut >= 0 ? run->cut : run->positions;
    if (q >= limit)
        return false;
    long long e = q + (max > 0 ? max : 1);
    e = e < limit ? e : limit;
    long long nd = ranges_next_start(&run->done, q, limit);
    e = e < nd ? e : nd;
    if (run->cut < 0 && e > run->scan_pos) {
        e = scan_to(run, e);
        if (e <= q)
            return false;
    }
    run->cursor = e;
    *k0 = q;
    *k1 = e;
    return true;
}

static bool checkpoint_write(ExploreRun *run, Diag *d);

static void progress_line(ExploreRun *run, bool last) {
    /* distinct designs visited of those to visit; under an evaluation budget, searched of the budget */
    char a[32], b[32];
    explore_fmt_count(a, sizeof a, run->want ? run->total->evaluated : run->total->visited);
    explore_fmt_count(b, sizeof b, run->want ? run->want : run->to_visit);
    fprintf(stderr, "\rexplore: %s/%s designs [%.*f s]", a, b, last ? 2 : 1, h2c_seconds() - run->t0);
}

bool explore_chunk_done(ExploreRun *run, long long k0, long long k1, long long kend, const ExploreState *st, Diag *d) {
    if (kend < k1 && !atomic_load(&run->stop)) {
        run->time_out = true;   /* a worker's time budget stopped it (elsewhere, or before this one's) */
        explore_halt(run);
    }
    state_merge(run->total, st);
    if (run->total->oom || !ranges_add(&run->done, k0, kend)) {
        diag_error(d, NOLOC, "out of memory");
        explore_halt(run);
        return false;
    }
    run->chunks++;
    double now = h2c_seconds();
    if (run->o.progress && now - run->progress_last >= 0.5) {
        progress_line(run, false);
        run->progress_last = now;
    }
    if (run->o.checkpoint && now - run->ckpt_last >= run->o.checkpoint_every) {
        if (!checkpoint_write(run, d)) {
            explore_halt(run);
            return false;
        }
        run->ckpt_last = h2c_seconds();
    }
    if (run->o.on_merge)
        run->o.on_merge(run->o.on_merge_ctx, run->chunks);
    return true;
}

/* ---------------------------------------------------------------- searching */

/* One thread's means to search: memory reused from one design to the next. */
typedef struct Worker {
    Arena scratch;
    ModulePlan *mp;             /* each design's plans (NULL: out of memory, every design fails) */
    SearchOpts so;
} Worker;

/* Searches the designs at positions [k0, k1) into st; returns the first position not visited (k1, or
 * where the time budget stopped it). `between` runs before each design (the MPI traffic). */
static long long eval_chunk(ExploreRun *run, Worker *wk, long long k0, long long k1, ExploreState *st,
                            void (*between)(void *), void *ctx) {
    const Space *s = &run->s;
    char why[160];
    for (long long p = k0; p < k1; p++) {
        if (between)
            between(ctx);
        long long j = walk_at(&run->w, p);
        if (j < 0)
            continue;
        Design ds;
        memset(&ds, 0, sizeof ds);
        ds.index = full_index(s, j);
        ds.work = (int)(ds.index / s->hw_total);
        ds.stands_for = s->stands_for;
        ds.decode_energy = NAN;
        ds.bound = NAN;
        Hardware hw;
        explore_device(run->m, run->xp, ds.index, &hw);
        ds.valid = device_valid(&hw, why, sizeof why);
        if (ds.valid) {
            if (atomic_load(&run->stop))
                return p;
            if (time_up(run)) {
                run->time_out = true;
                explore_halt(run);
                return p;
            }
            atomic_fetch_add(&run->started, 1);
            double t = h2c_seconds();
            /* diagnostics of one design stay with it: a design with no legal plan is just infeasible */
            Diag dd;
            diag_init_quiet(&dd);
            const Module *dm = run->works ? run->works[ds.work] : run->m;
            ds.ok = df_search_module(dm, run->o.cm, &hw, &wk->so, wk->mp, &dd);
            if (ds.ok) {
                ds.decode_energy = run->sweep ? df_module_decode_energy(wk->mp, run->o.cm) : NAN;
                const SearchResult *sr = &wk->mp->sum;
                ds.total = sr->cost.total;
                ds.prefill = sr->cost.prefill;
                ds.decode = sr->cost.decode;
                ds.decode_step = sr->cost.decode_step;
                ds.energy = sr->cost.energy;
                ds.value = sr->value;
                ds.bound = sr->bound;
                ds.configs = sr->configs;
                ds.exact = sr->exact;
                df_module_plan_free(wk->mp);
            }
            ds.seconds = h2c_seconds() - t;
            ds.evaluated = true;
        }
        state_add(s, st, &ds);
    }
    return k1;
}

typedef struct Drive {
    ExploreRun *run;
    const ExploreHooks *h;
    pthread_mutex_t lock;
    atomic_int active;          /* threads still searching */
    atomic_int failed;          /* a hook failed, or memory ran out */
    Diag *d;
} Drive;

static void locked_poll(void *arg) {
    Drive *dv = arg;
    pthread_mutex_lock(&dv->lock);
    dv->h->poll(dv->h->ctx);
    pthread_mutex_unlock(&dv->lock);
}

static void drive_thread(Drive *dv, bool first) {
    ExploreRun *run = dv->run;
    const ExploreHooks *h = dv->h;
    Worker wk;
    arena_init(&wk.scratch);
    wk.so = run->so;
    wk.so.scratch = &wk.scratch;
    wk.mp = h2c_raw_alloc(sizeof *wk.mp);
    ExploreState *st = explore_state_new(run);
    if (!st || !wk.mp) {
        atomic_store(&dv->failed, 1);
        explore_halt(run);
    }
    while (st && wk.mp && !atomic_load(&dv->failed)) {
        long long k0, k1;
        pthread_mutex_lock(&dv->lock);
        bool got = h->next(h->ctx, &k0, &k1);
        pthread_mutex_unlock(&dv->lock);
        if (!got)
            break;
        explore_state_reset(st);
        long long kend = eval_chunk(run, &wk, k0, k1, st, first && h->poll ? locked_poll : NULL, dv);
        pthread_mutex_lock(&dv->lock);
        if (st->oom || !h->done(h->ctx, k0, k1, kend, st)) {
            atomic_store(&dv->failed, 1);
            explore_halt(run);
        }
        pthread_mutex_unlock(&dv->lock);
    }
    explore_state_free(st);
    h2c_raw_free(wk.mp, sizeof *wk.mp);
    arena_free(&wk.scratch);
    if (first && h->poll) {
        /* the first thread serves the others (MPI ranks) until none is left */
        for (;;) {
            pthread_mutex_lock(&dv->lock);
            h->poll(h->ctx);
            bool more = atomic_load(&dv->active) > 1 || (h->pending && h->pending(h->ctx));
            pthread_mutex_unlock(&dv->lock);
            if (!more)
                break;
            struct timespec ts = {0, 200 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_fetch_sub(&dv->active, 1);
}

static void *drive_main(void *arg) {
    drive_thread(arg, false);
    return NULL;
}

/* This process alone: the chunks come from the run itself. */
typedef struct Local {
    ExploreRun *run;
    int workers;
    Diag *d;
} Local;

static bool local_next(void *ctx, long long *k0, long long *k1) {
    Local *l = ctx;
    return explore_next_chunk(l->run, explore_chunk_size(l->run, l->workers), k0, k1);
}

static bool local_done(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st) {
    Local *l = ctx;
    return explore_chunk_done(l->run, k0, k1, kend, st, l->d);
}

bool explore_drive(ExploreRun *run, int threads, const ExploreHooks *h, Diag *d) {
    int nthreads = threads > 0 ? threads : 1;
    if (nthreads > 64)
        nthreads = 64;
    if (h2c_allocator_hooked())
        nthreads = 1;   /* a counting allocator sees the allocations in a repeatable order */
    Local l = {run, nthreads, d};
    ExploreHooks local = {local_next, local_done, NULL, NULL, &l};
    Drive dv = {.run = run, .h = h ? h : &local, .d = d};
    pthread_mutex_init(&dv.lock, NULL);
    atomic_store(&dv.active, nthreads);
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], NULL, drive_main, &dv) == 0)
            started++;
    atomic_store(&dv.active, started + 1);
    drive_thread(&dv, true);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&dv.lock);
    if (atomic_load(&dv.failed)) {
        if (d->errors == 0)
            diag_error(d, NOLOC, "out of memory");
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the result */

static int cmp_design_index(const void *a, const void *b) {
    long long x = ((const Design *)a)->index, y = ((const Design *)b)->index;
    return (x > y) - (x < y);
}

/* Which values of the read axes, pe tuples and work axes no searched design has, as text ("" if none). */
static void coverage(const Space *s, const unsigned char *seen, char *buf, size_t n) {
    const Explore *xp = s->xp;
    size_t k = 0;
    buf[0] = 0;
    for (int a = -1; a < s->naxes; a++) {
        if (a >= 0 && !s->read[a])
            continue;
        if (a < 0 && s->cov_tuple < 0)
            continue;
        int nv = a < 0 ? s->ntuples : xp->axes[a].nvalues, off = a < 0 ? s->cov_tuple : s->cov_axis[a], count = 0;
        for (int v = 0; v < nv; v++)
            count += seen[off + v];
        if (count < nv && k < n)
            k += (size_t)snprintf(buf + k, n - k, "%s%s %d of %d", k ? ", " : "",
                                  a < 0 ? "pe" : hw_fields[xp->axes[a].field].path, count, nv);
    }
    for (int i = 0; i < s->nworkax; i++) {
        const SweepAxis *ax = &xp->sweeps[s->workax[i]];
        int count = 0;
        for (int v = 0; v < ax->nvalues; v++)
            count += seen[s->cov_workax[i] + v];
        if (count < ax->nvalues && k < n)
            k += (size_t)snprintf(buf + k, n - k, "%s%s %d of %d", k ? ", " : "", sweep_fields[ax->field].path,
                                  count, ax->nvalues);
    }
}

/* The points of a sweep, the last sweep axis varying fastest: each gets the best design of the
 * hardware space at its work point and, through the ablation hook, the speedup and energy gain of the
 * full sparse plan over the dense baseline there. */
static bool sweep_points(ExploreRun *run, ExploreResult *r, Diag *d) {
    const Module *m = run->m;
    const Explore *xp = run->xp;
    const Space *s = &run->s;
    long long n = 1;
    for (int a = 0; a < xp->nsweeps; a++)
        n *= xp->sweeps[a].nvalues;
    if (n > MAX_DESIGNS) {
        diag_error(d, xp->loc, "the sweep has %lld points; h2c sweeps at most %d", n, MAX_DESIGNS);
        return false;
    }
    /* the best design at each work point */
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
        if (ds->evaluated && ds->ok &&
            (best[ds->work] < 0 || explore_design_order(ds, &r->designs[best[ds->work]]) < 0))
            best[ds->work] = i;
    }
    bool ok = true;
    for (long long p = 0; p < n && ok; p++) {
        SweepPoint *pt = &r->points[p];
        memset(pt, 0, sizeof *pt);
        pt->wl = m->work;
        pt->model = pt->workload = -1;
        pt->has_sparsity = m->has_sparsity;
        if (m->has_sparsity)
            pt->sp = m->sparsity;
        else
            sparsity_defaults(&pt->sp);
        /* the digits of p, the last axis fastest; the work point from the work axes' digits */
        int digit[SW_COUNT_];
        long long rest = p;
        for (int a = xp->nsweeps - 1; a >= 0; a--) {
            digit[a] = (int)(rest % xp->sweeps[a].nvalues);
            rest /= xp->sweeps[a].nvalues;
        }
        for (int i = 0; i < s->nworkax; i++) {
            const SweepAxis *ax = &xp->sweeps[s->workax[i]];
            int k = digit[s->workax[i]];
            pt->work = pt->work * ax->nvalues + k;
            if (ax->field == SW_MODEL)
                pt->model = k;
            else if (ax->field == SW_WORKLOAD) {
                pt->workload = k;
                pt->wl = ax->workloads[k];
            }
        }
        for (int a = 0; a < xp->nsweeps; a++) {
            const SweepAxis *ax = &xp->sweeps[a];
            double v = ax->values[digit[a]];
            if (ax->field == SW_BATCH)
                pt->wl.batch = (int)v;
            else if (ax->field == SW_CONTEXT)
                sweep_workload(&pt->wl, v);
            else if (!sweep_is_work(ax->field))
                sweep_sparsity(&pt->sp, ax->field, v);
        }
        pt->entry = best[pt->work];
        if (pt->entry < 0)
            continue;
        const Design *ds = &r->designs[pt->entry];
        pt->ab = (Ablation){ds->decode, ds->decode_energy, ds->decode, ds->decode_energy};
        if (run->o.ablation) {
            Hardware hw;
            explore_device(m, xp, ds->index, &hw);
            ok = run->o.ablation(run->works ? run->works[pt->work] : m, &hw, &pt->sp, &pt->ab, d,
                                 run->o.ablation_ctx);
            pt->ablated = ok;
        }
    }
    h2c_raw_free(best, sizeof(int) * (size_t)s->nwork);
    return ok;
}

/* The designs a stream keeps: the table's, the front's and each work point's best, once each. */
static bool kept_designs(const ExploreState *st, ExploreResult *r) {
    long long n = st->nbest + st->nfront;
    for (int w = 0; w < st->nwork; w++)
        n += st->work_best[w].index >= 0;
    r->cap = (int)(n > 0 ? n : 1);
    r->designs = h2c_raw_alloc(sizeof(Design) * (size_t)r->cap);
    if (!r->designs)
        return false;
    for (int i = 0; i < st->nbest; i++)
        r->designs[r->n++] = st->best[i];
    for (int i = 0; i < st->nfront; i++)
        r->designs[r->n++] = st->front[i];
    for (int w = 0; w < st->nwork; w++)
        if (st->work_best[w].index >= 0)
            r->designs[r->n++] = st->work_best[w];
    qsort(r->designs, (size_t)r->n, sizeof(Design), cmp_design_index);
    int k = 0;
    for (int i = 0; i < r->n; i++)
        if (k == 0 || r->designs[k - 1].index != r->designs[i].index)
            r->designs[k++] = r->designs[i];
    r->n = k;
    return true;
}

/* Every design a plain run walked, in index order: those it visited as searched, the rest (after a
 * time budget stopped it) as not. */
static bool all_designs(ExploreRun *run, ExploreResult *r) {
    const ExploreState *st = run->total;
    long long cap = st->nall;
    for (long long p = 0; p < run->cut; p++)
        cap += walk_at(&run->w, p) >= 0;
    r->cap = (int)(cap > 0 ? cap : 1);
    r->designs = h2c_raw_alloc(sizeof(Design) * (size_t)r->cap);
    if (!r->designs)
        return false;
    memcpy(r->designs, st->all, sizeof(Design) * (size_t)st->nall);
    r->n = (int)st->nall;
    qsort(r->designs, (size_t)r->n, sizeof(Design), cmp_design_index);
    int visited = r->n;
    char why[160];
    for (long long p = 0; p < run->cut; p++) {
        long long j = walk_at(&run->w, p);
        if (j < 0)
            continue;
        Design key = {.index = full_index(&run->s, j)};
        if (bsearch(&key, r->designs, (size_t)visited, sizeof(Design), cmp_design_index))
            continue;
        Design *ds = &r->designs[r->n++];
        memset(ds, 0, sizeof *ds);
        ds->index = key.index;
        ds->work = (int)(key.index / run->s.hw_total);
        ds->stands_for = run->s.stands_for;
        ds->decode_energy = ds->bound = NAN;
        Hardware hw;
        explore_device(run->m, run->xp, ds->index, &hw);
        ds->valid = device_valid(&hw, why, sizeof why);
    }
    qsort(r->designs, (size_t)r->n, sizeof(Design), cmp_design_index);
    r->invalid = 0;
    for (int i = 0; i < r->n; i++)
        r->invalid += !r->designs[i].valid;
    return true;
}

bool explore_finish(ExploreRun *run, ExploreResult *r, Diag *d) {
    memset(r, 0, sizeof *r);
    r->best = -1;
    const ExploreState *st = run->total;
    const Space *s = &run->s;
    if (run->o.checkpoint && !checkpoint_write(run, d))
        return false;
    r->space = s->total;
    r->distinct = s->distinct;
    r->hw_space = s->hw_total;
    r->streamed = run->o.stream;
    r->ranks = run->o.ranks;
    r->resumed = run->resumed;
    r->evaluated = st->evaluated;
    r->invalid = st->invalid;
    r->restricted = st->restricted;
    r->search_seconds = st->search_seconds;
    if (!(run->o.stream ? kept_designs(st, r) : all_designs(run, r))) {
        explore_result_free(r);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        if (ds->evaluated && ds->ok && (r->best < 0 || explore_design_order(ds, &r->designs[r->best]) < 0))
            r->best = i;
    }
    if (run->time_out) {
        r->stopped = EXPLORE_STOP_TIME;
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s%g s", run->o.budget_from_block ?
                 "the explore block's budget = " : "--budget ", run->o.budget_seconds);
    } else if (run->more && run->done.covered >= run->cut) {
        r->stopped = EXPLORE_STOP_EVALUATIONS;
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s%lld", run->o.evals_from_block ? "the explore block's "
                 "evaluations = " : "--evaluations ", run->o.budget_evals);
    }
    coverage(s, st->seen, r->uncovered, sizeof r->uncovered);
    r->seconds = h2c_seconds() - run->t0;
    if (run->o.progress) {
        progress_line(run, true);
        fprintf(stderr, "%s%s%s\n", r->stopped ? " (stopped by " : "", r->stopped ? r->stop_reason : "",
                r->stopped ? ")" : "");
    }
    if (st->evaluated == 0 && st->invalid > 0 && !r->stopped && run->o.stream) {
        char why[160] = "";
        Hardware hw;
        explore_device(run->m, run->xp, full_index(s, walk_at(&run->w, 0)), &hw);
        device_valid(&hw, why, sizeof why);
        diag_error(d, run->xp ? run->xp->loc : NOLOC, "every design in the space is inconsistent (for example: %s)",
                   why);
        return false;
    }
    if (r->best < 0) {
        diag_error(d, run->xp ? run->xp->loc : run->m->dev.hw.loc, "no design in the space has a legal dataflow");
        return false;
    }
    if (run->xp && run->xp->nsweeps > 0)
        return sweep_points(run, r, d);
    return true;
}

void explore_result_free(ExploreResult *r) {
    if (r->designs)
        h2c_raw_free(r->designs, sizeof(Design) * (size_t)r->cap);
    if (r->points)
        h2c_raw_free(r->points, sizeof(SweepPoint) * (size_t)r->npoints);
    memset(r, 0, sizeof *r);
}

bool explore_run(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreResult *r, Diag *d) {
    memset(r, 0, sizeof *r);
    r->best = -1;
    ExploreRun *run;
    if (!explore_open(m, xp, o, &run, d))
        return false;
    bool ok = explore_drive(run, o->threads, NULL, d) && explore_finish(run, r, d);
    explore_close(run);
    return ok;
}

static int cmp_front(const void *a, const void *b) {
    const Design *x = *(const Design *const *)a, *y = *(const Design *const *)b;
    if (x->total != y->total)
        return x->total < y->total ? -1 : 1;
    if (x->energy != y->energy)
        return x->energy < y->energy ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int explore_pareto(const ExploreResult *r, int *out) {
    /* by latency, then energy, then index: a design is on the front when it uses less energy than
       every one before it (which are at least as fast) */
    const Design **by = h2c_raw_alloc(sizeof(Design *) * (size_t)(r->n + 1));
    if (!by)
        return 0;
    int m = 0;
    for (int i = 0; i < r->n; i++)
        if (r->designs[i].evaluated && r->designs[i].ok)
            by[m++] = &r->designs[i];
    qsort(by, (size_t)m, sizeof *by, cmp_front);
    int n = 0;
    for (int i = 0; i < m; i++)
        if (n == 0 || by[i]->energy < r->designs[out[n - 1]].energy)
            out[n++] = (int)(by[i] - r->designs);
    h2c_raw_free(by, sizeof(Design *) * (size_t)(r->n + 1));
    return n;
}

/* ---------------------------------------------------------------- checkpoints */

/* The checkpoint, little-endian: the magic and format, h2c's version, the fingerprint and the
 * exploration in words, the allocation (where the evaluation budget cut the order, how far it was
 * counted), the finished ranges, the merged state, and FNV-1a of everything before it. */
unsigned char *explore_checkpoint_encode(const ExploreRun *run, size_t *len) {
    Buf b = {0};
    put(&b, CKPT_MAGIC, 8);
    put_u32(&b, CKPT_FORMAT);
    put_str(&b, H2C_VERSION);
    put_u64(&b, run->fingerprint);
    put_str(&b, run->describe);
    long long v[] = {run->positions, run->cut, run->scan_pos, run->scan_valid, run->scan_nondup, run->more};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        put_u64(&b, (unsigned long long)v[i]);
    put_u64(&b, (unsigned long long)run->done.n);
    for (int i = 0; i < run->done.n; i++) {
        put_u64(&b, (unsigned long long)run->done.r[i][0]);
        put_u64(&b, (unsigned long long)run->done.r[i][1]);
    }
    state_encode_into(&b, run->total);
    if (!b.oom)
        put_u64(&b, fnv(FNV_SEED, b.p, b.n));
    return buf_take(&b, len);
}

static bool ckpt_error(Diag *d, const char *name, const char *what) {
    diag_error(d, NOLOC, "checkpoint '%s' %s", name, what);
    return false;
}

bool explore_checkpoint_decode(ExploreRun *run, const unsigned char *p, size_t len, const char *name, Diag *d) {
    char msg[512];
    if (len < 12 || memcmp(p, CKPT_MAGIC, 8) != 0)
        return ckpt_error(d, name, "is not an h2c explore checkpoint (delete it, or name another file)");
    Rd r = {p, len, 8, false, ""};
    unsigned format = get_u32(&r);
    if (format != CKPT_FORMAT) {
        snprintf(msg, sizeof msg, "has format %u; this h2c (%s) reads format %u: it cannot resume from it (delete it "
                 "to start over)", format, H2C_VERSION, CKPT_FORMAT);
        return ckpt_error(d, name, msg);
    }
    Rd sum = {p, len, len - 8, false, ""};
    if (len < 8 + 4 + 8 || fnv(FNV_SEED, p, len - 8) != get_u64(&sum))
        return ckpt_error(d, name, "is damaged (its checksum does not match its contents): delete it to start over");
    r.n = len - 8;  /* the checksum is not part of the contents */
    unsigned vlen = get_u32(&r);
    char version[64] = "";
    if (vlen >= sizeof version)
        return ckpt_error(d, name, "is damaged (a version name longer than any)");
    get(&r, version, vlen);
    if (!r.bad && strcmp(version, H2C_VERSION) != 0) {
        snprintf(msg, sizeof msg, "was written by h2c %s; this is h2c %s, whose results may differ: delete it to "
                 "start over", version, H2C_VERSION);
        return ckpt_error(d, name, msg);
    }
    unsigned long long fp = get_u64(&r);
    unsigned dlen = get_u32(&r);
    char describe[sizeof run->describe] = "";
    if (dlen >= sizeof describe)
        return ckpt_error(d, name, "is damaged (a description longer than any)");
    get(&r, describe, dlen);
    if (!r.bad && fp != run->fingerprint) {
        snprintf(msg, sizeof msg, "is of another exploration (%s), not this one (%s%s): name another file, or "
                 "delete it to start over", describe, strcmp(describe, run->describe) == 0 ? "the same in words, "
                 "but its input, space or options differ: " : "", run->describe);
        return ckpt_error(d, name, msg);
    }
    long long positions = (long long)get_u64(&r), cut = (long long)get_u64(&r);
    long long scan_pos = (long long)get_u64(&r), scan_valid = (long long)get_u64(&r);
    long long scan_nondup = (long long)get_u64(&r), more = (long long)get_u64(&r);
    if (!r.bad && (positions != run->positions || cut < -1 || cut > positions || scan_pos < 0 ||
                   scan_pos > positions || scan_valid < 0 || scan_valid > scan_pos || scan_nondup < scan_valid ||
                   scan_nondup > scan_pos || (more != 0 && more != 1) || (run->cut >= 0 && cut != run->cut) ||
                   (run->o.stream && run->want && cut >= 0 && cut != scan_pos)))
        rd_fail(&r, "its allocation of the visit order is not one of this exploration");
    long long nranges = get_count(&r, (long long)((r.n - r.at) / 16), "the number of finished ranges");
    Ranges done = {0};
    long long last = -1;
    for (long long i = 0; i < nranges && !r.bad; i++) {
        long long a = (long long)get_u64(&r), b = (long long)get_u64(&r);
        long long limit = cut >= 0 ? cut : scan_pos;
        if (!r.bad && (a <= last || a >= b || b > limit))
            rd_fail(&r, "finished range %lld, [%lld, %lld), is not after the one before it and inside [0, %lld)",
                    i, a, b, limit);
        else if (!r.bad && !ranges_add(&done, a, b))
            rd_fail(&r, "out of memory");
        last = b;
    }
    ExploreState *st = explore_state_new(run);
    if (!st) {
        h2c_raw_free(done.r, sizeof done.r[0] * (size_t)done.cap);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    if (!r.bad)
        state_decode_from(&r, &run->s, st, done.covered);
    if (!r.bad && st->visited > done.covered)
        rd_fail(&r, "it counts %lld designs in %lld finished positions", st->visited, done.covered);
    if (!r.bad && st->oom)
        rd_fail(&r, "out of memory");
    if (!r.bad && r.at != r.n)
        rd_fail(&r, "%zu bytes follow its contents", r.n - r.at);
    if (r.bad) {
        explore_state_free(st);
        h2c_raw_free(done.r, sizeof done.r[0] * (size_t)done.cap);
        snprintf(msg, sizeof msg, "is damaged: %s (delete it to start over)", r.why);
        return ckpt_error(d, name, msg);
    }
    explore_state_free(run->total);
    run->total = st;
    h2c_raw_free(run->done.r, sizeof run->done.r[0] * (size_t)run->done.cap);
    run->done = done;
    run->cut = cut;
    run->scan_pos = scan_pos;
    run->scan_valid = scan_valid;
    run->scan_nondup = scan_nondup;
    run->more = more;
    run->cursor = 0;
    run->resumed = true;
    return true;
}

/* The checkpoint's bytes for outfile_write. */
typedef struct CkptOut {
    const unsigned char *p;
    size_t len;
} CkptOut;

static void write_bytes(FILE *out, const void *ctx) {
    const CkptOut *c = ctx;
    fwrite(c->p, 1, c->len, out);
}

static bool checkpoint_write(ExploreRun *run, Diag *d) {
    size_t len;
    unsigned char *p = explore_checkpoint_encode(run, &len);
    if (!p) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    CkptOut c = {p, len};
    bool ok = outfile_replace(run->o.checkpoint, write_bytes, &c, d);
    explore_bytes_free(p, len);
    return ok;
}

/* A run killed while it wrote its checkpoint leaves the temporary file outfile_replace renames
 * (FILE.tmp.XXXXXX beside the file it replaces); whoever holds the lock removes them. */
static void remove_stale_temporaries(const char *path) {
    char target[PATH_MAX], dir[PATH_MAX];
    if (!realpath(path, target)) {
        if (strlen(path) >= sizeof target)
            return;
        strcpy(target, path);
    }
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - target) : 1, slash ? target : ".");
    if (!dir[0])
        strcpy(dir, "/");
    DIR *dd = opendir(dir);
    if (!dd)
        return;
    size_t bl = strlen(base);
    for (struct dirent *e; (e = readdir(dd));) {
        const char *nm = e->d_name;
        if (strncmp(nm, base, bl) != 0 || strncmp(nm + bl, ".tmp.", 5) != 0 || strlen(nm + bl + 5) != 6)
            continue;
        char full[PATH_MAX];
        if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, nm) < sizeof full)
            unlink(full);
    }
    closedir(dd);
}

/* Takes the checkpoint's lock (FILE.lock, held while the run is open), then reads the file if it is
 * there: a regular file of at most 1 GiB. */
static bool read_checkpoint(ExploreRun *run, Diag *d) {
    const char *path = run->o.checkpoint;
    size_t n = strlen(path) + 8;
    char *lock = h2c_raw_alloc(n);
    if (!lock) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    snprintf(lock, n, "%s.lock", path);
    run->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (run->lock_fd < 0) {
        diag_error(d, NOLOC, "cannot open the checkpoint's lock '%s': %s", lock, strerror(errno));
        h2c_raw_free(lock, n);
        return false;
    }
    /* a run just killed may take a moment to go (an MPI rank notices its launcher died) */
    int e = 0;
    for (int tries = 0; flock(run->lock_fd, LOCK_EX | LOCK_NB) != 0; tries++) {
        e = errno;
        if (e != EWOULDBLOCK || tries == 100)
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        e = 0;
    }
    if (e) {
        if (e == EWOULDBLOCK)
            diag_error(d, NOLOC, "checkpoint '%s' is in use by another h2c explore (it holds '%s')", path, lock);
        else
            diag_error(d, NOLOC, "cannot lock '%s': %s", lock, strerror(e));
        h2c_raw_free(lock, n);
        return false;
    }
    h2c_raw_free(lock, n);
    remove_stale_temporaries(path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return true;    /* nothing to resume: a fresh start */
        diag_error(d, NOLOC, "cannot read checkpoint '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        diag_error(d, NOLOC, "checkpoint '%s' is not a regular file (a checkpoint is replaced by renaming a new one "
                   "over it, so it must be a file)", path);
        return false;
    }
    if (st.st_size > MAX_CHECKPOINT) {
        close(fd);
        diag_error(d, NOLOC, "checkpoint '%s' has %lld bytes, more than any checkpoint h2c writes (1 GiB)", path,
                   (long long)st.st_size);
        return false;
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *p = h2c_raw_alloc(len + 1);
    if (!p) {
        close(fd);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    while (got < len) {
        ssize_t k = read(fd, p + got, len - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    bool ok = explore_checkpoint_decode(run, p, got, path, d);
    h2c_raw_free(p, len + 1);
    return ok;
}

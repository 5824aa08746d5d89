/* explore.c: hardware x dataflow co-exploration. The space is the cartesian product of the
 * `explore {}` axes (and `pe` tuples) applied to the module's device; designs that differ only in
 * fields no cost model reads (the buffer sizes; for the artifact model also the NPU SRAM) are
 * evaluated once. Each distinct design gets the exact dataflow search. Work is split over threads
 * by design index and every result lands in its own slot, so the outcome does not depend on the
 * thread count; ties go to the lowest index. A time or evaluation budget stops new work and keeps
 * what is done. */
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
    if (!df_problem_from_module(m, cm, p, d))
        return false;
    df_retarget(p, cm, hw, m->work.batch);
    return true;
}

/* A copy of hw with everything no cost model reads cleared, for telling designs apart. */
static void dedupe_key(const Hardware *hw, const CostModel *cm, Hardware *key) {
    memset(key, 0, sizeof *key);
    for (int i = 0; i < HWF_COUNT_; i++) {
        if (i == HWF_buffer_input || i == HWF_buffer_weight || i == HWF_buffer_output)
            continue;
        if (!cm->reads_sram && i == HWF_npu_sram)
            continue;
        *(double *)((char *)key + hw_fields[i].offset) = *(const double *)((const char *)hw + hw_fields[i].offset);
    }
    if (cm->has_energy)
        for (int i = 0; i < EF_COUNT_; i++)
            key->energy[i].value = i == EF_pe_mac ? energy_pe_mac(hw, hw->pe_frequency) : hw->energy[i].value;
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

typedef struct Work {
    const Module *m;
    const SearchOpts *so;
    const CostModel *cm;
    ExploreResult *r;
    int *order;             /* distinct designs, in index order */
    int norder;
    atomic_int next;        /* next position in order */
    atomic_int done;        /* designs finished */
    atomic_int stop;        /* a budget ran out */
    double t0, budget_seconds;
    long long budget_evals;
} Work;

/* Designs in order of the objective, then the other measure (energy for a latency objective, else
 * latency), then index: deterministic, and an equally fast design that uses less energy comes first. */
static int design_order(const Design *a, int ia, const Design *b, int ib) {
    double va = a->sr.value, vb = b->sr.value;
    if (va != vb)
        return va < vb ? -1 : 1;
    double sa = a->sr.cost.energy, sb = b->sr.cost.energy;
    if (a->sr.value == a->sr.cost.energy) { /* energy objective: latency breaks ties */
        sa = a->sr.cost.total;
        sb = b->sr.cost.total;
    }
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

static void *worker(void *arg) {
    Work *w = arg;
    Arena scratch; /* search memory, reused from one design to the next */
    arena_init(&scratch);
    SearchOpts so = *w->so;
    so.scratch = &scratch;
    for (;;) {
        if (atomic_load(&w->stop))
            break;
        int k = atomic_fetch_add(&w->next, 1);
        if (k >= w->norder)
            break;
        if ((w->budget_evals > 0 && k >= w->budget_evals) ||
            (w->budget_seconds > 0 && h2c_seconds() - w->t0 > w->budget_seconds)) {
            atomic_store(&w->stop, 1);
            break;
        }
        Design *ds = &w->r->designs[w->order[k]];
        double t = h2c_seconds();
        /* diagnostics of one design stay with it: a design with no legal plan is just infeasible */
        Diag d;
        diag_init_quiet(&d);
        DfLayer l;
        ds->ok = df_layer_from_module(w->m, w->cm, &ds->hw, &l, &d);
        if (ds->ok) {
            ds->ok = df_search_layer(&l, w->cm, &so, NULL, &ds->sr, &d);
            df_layer_free(&l);
        }
        ds->seconds = h2c_seconds() - t;
        ds->evaluated = true;
        atomic_fetch_add(&w->done, 1);
    }
    arena_free(&scratch);
    return NULL;
}

bool explore_run(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreResult *r, Diag *d) {
    memset(r, 0, sizeof *r);
    r->best = -1;
    double t0 = h2c_seconds();
    DfLayer l0;
    if (!df_layer_from_module(m, o->cm, NULL, &l0, d))
        return false;
    df_layer_free(&l0);
    /* the space: every axis, and the pe tuples as one more axis */
    int naxes = xp ? xp->naxes : 0;
    long long total = 1;
    for (int i = 0; i < naxes; i++)
        total *= xp->axes[i].nvalues;
    int ntuples = xp && xp->npe_tuples ? xp->npe_tuples : 1;
    total *= ntuples;
    if (total > MAX_DESIGNS) {
        diag_error(d, xp ? xp->loc : NOLOC, "the design space has %lld designs; h2c explores at most %d (narrow the axes)",
                   total, MAX_DESIGNS);
        return false;
    }
    r->n = (int)total;
    r->designs = h2c_raw_alloc(sizeof(Design) * (size_t)r->n);
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)r->n);
    if (!r->designs || !order) {
        h2c_raw_free(r->designs, sizeof(Design) * (size_t)r->n);
        h2c_raw_free(order, sizeof(int) * (size_t)r->n);
        r->designs = NULL;
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    memset(r->designs, 0, sizeof(Design) * (size_t)r->n);
    /* designs in index order: the last axis varies fastest, pe tuples slowest */
    Hardware *keys = h2c_raw_alloc(sizeof(Hardware) * (size_t)r->n);
    if (!keys) {
        explore_result_free(r);
        h2c_raw_free(order, sizeof(int) * (size_t)r->n);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    size_t hcap = 16;
    while (hcap < (size_t)r->n * 2)
        hcap *= 2;
    int *table = h2c_raw_alloc(sizeof(int) * hcap);
    if (!table) {
        h2c_raw_free(keys, sizeof(Hardware) * (size_t)r->n);
        h2c_raw_free(order, sizeof(int) * (size_t)r->n);
        explore_result_free(r);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    for (size_t i = 0; i < hcap; i++)
        table[i] = -1;
    int norder = 0, invalid = 0;
    char why[160] = "";
    for (int idx = 0; idx < r->n; idx++) {
        Design *ds = &r->designs[idx];
        ds->hw = m->dev.hw;
        long long rest = idx;
        for (int a = naxes - 1; a >= 0; a--) {
            int nv = xp->axes[a].nvalues;
            double v = xp->axes[a].values[rest % nv];
            rest /= nv;
            *(double *)((char *)&ds->hw + hw_fields[xp->axes[a].field].offset) = v;
        }
        if (xp && xp->npe_tuples) {
            const double *t = xp->pe_tuples[rest % ntuples];
            ds->hw.pe_fpus = t[0];
            ds->hw.pe_frequency = t[1];
            ds->hw.pe_bandwidth = t[2];
        }
        ds->dup_of = -1;
        ds->valid = device_valid(&ds->hw, why, sizeof why);
        if (!ds->valid) {
            invalid++;
            continue;
        }
        dedupe_key(&ds->hw, o->cm, &keys[idx]);
        /* the first design with the same key, through a hash of the key's bytes */
        uint64_t h = 14695981039346656037u;
        for (size_t b = 0; b < sizeof(Hardware); b++)
            h = (h ^ ((const unsigned char *)&keys[idx])[b]) * 1099511628211u;
        size_t slot = (size_t)h & (hcap - 1);
        while (table[slot] >= 0 && memcmp(&keys[table[slot]], &keys[idx], sizeof(Hardware)) != 0)
            slot = (slot + 1) & (hcap - 1);
        if (table[slot] >= 0) {
            ds->dup_of = table[slot];
        } else {
            table[slot] = idx;
            order[norder++] = idx;
        }
    }
    h2c_raw_free(keys, sizeof(Hardware) * (size_t)r->n);
    h2c_raw_free(table, sizeof(int) * hcap);
    r->distinct = norder;
    r->invalid = invalid;
    if (invalid && norder == 0) {
        diag_error(d, xp ? xp->loc : NOLOC, "every design in the space is inconsistent (for example: %s)", why);
        h2c_raw_free(order, sizeof(int) * (size_t)r->n);
        return false;
    }
    SearchOpts so = {.mode = m->dataflow == DF_COMPUTE_CENTRIC ? DF_COMPUTE_CENTRIC : DF_DATA_CENTRIC,
                     .objective = m->objective, .capacity = true};
    Work w;
    memset(&w, 0, sizeof w);
    w.m = m;
    w.so = &so;
    w.cm = o->cm;
    w.r = r;
    w.order = order;
    w.norder = norder;
    w.t0 = t0;
    w.budget_seconds = o->budget_seconds;
    w.budget_evals = o->budget_evals;
    int nthreads = o->threads > 0 ? o->threads : 1;
    if (nthreads > 64)
        nthreads = 64;
    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker, &w) == 0)
            started++;
    if (started == 0)
        worker(&w);
    double last = 0;
    while (o->progress && atomic_load(&w.done) < norder && !atomic_load(&w.stop)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double t = h2c_seconds() - t0;
        if (t - last >= 0.5) {
            fprintf(stderr, "\rexplore: %d/%d designs [%.1f s]", atomic_load(&w.done), norder, t);
            last = t;
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    h2c_raw_free(order, sizeof(int) * (size_t)r->n);
    r->seconds = h2c_seconds() - t0;
    r->stopped = atomic_load(&w.stop) != 0;
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        if (ds->dup_of >= 0 || !ds->evaluated)
            continue;
        r->evaluated++;
        if (!ds->ok)
            continue;
        if (r->best < 0 || design_order(ds, i, &r->designs[r->best], r->best) < 0)
            r->best = i;
    }
    if (o->progress)
        fprintf(stderr, "\rexplore: %d/%d designs [%.2f s]%s\n", r->evaluated, norder, r->seconds,
                r->stopped ? " (stopped by the budget)" : "");
    if (r->best < 0) {
        diag_error(d, xp ? xp->loc : m->dev.hw.loc, "no design in the space has a legal dataflow");
        return false;
    }
    return true;
}

void explore_result_free(ExploreResult *r) {
    if (r->designs)
        h2c_raw_free(r->designs, sizeof(Design) * (size_t)r->n);
    memset(r, 0, sizeof *r);
}

int explore_pareto(const ExploreResult *r, int *out) {
    int n = 0;
    for (int i = 0; i < r->n; i++) {
        const Design *a = &r->designs[i];
        if (a->dup_of >= 0 || !a->evaluated || !a->ok)
            continue;
        bool dominated = false;
        for (int j = 0; j < r->n && !dominated; j++) {
            const Design *b = &r->designs[j];
            if (j == i || b->dup_of >= 0 || !b->evaluated || !b->ok)
                continue;
            bool le = b->sr.cost.total <= a->sr.cost.total && b->sr.cost.energy <= a->sr.cost.energy;
            bool lt = b->sr.cost.total < a->sr.cost.total || b->sr.cost.energy < a->sr.cost.energy;
            /* equal points: keep the lower index only */
            if (le && (lt || j < i))
                dominated = true;
        }
        if (!dominated)
            out[n++] = i;
    }
    /* by latency */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && r->designs[out[j]].sr.cost.total < r->designs[out[j - 1]].sr.cost.total; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* ---------------------------------------------------------------- reports */

/* The axes that vary, as "name=value" text for one design. */
static void design_label(char *buf, size_t n, const Explore *xp, const Hardware *hw) {
    size_t k = 0;
    buf[0] = 0;
    for (int a = 0; xp && a < xp->naxes && k < n; a++) {
        const FieldDesc *f = &hw_fields[xp->axes[a].field];
        double v = *(const double *)((const char *)hw + f->offset);
        char val[64];
        if (f->flags & F_ENUM_PREC)
            snprintf(val, sizeof val, "%s", precision_name((Precision)v));
        else
            unit_format(val, sizeof val, v, f->kind);
        k += (size_t)snprintf(buf + k, n - k, "%s%s=%s", k ? " " : "", f->path, val);
    }
    if (xp && xp->npe_tuples && k < n) {
        char fr[32], bw[32];
        unit_format(fr, sizeof fr, hw->pe_frequency, UK_FREQ);
        unit_format(bw, sizeof bw, hw->pe_bandwidth, UK_BANDWIDTH);
        snprintf(buf + k, n - k, "%spe=(%g, %s, %s)", k ? " " : "", hw->pe_fpus, fr, bw);
    }
    if (!buf[0])
        snprintf(buf, n, "%s", hw->name ? hw->name : "device");
}

static int cmp_designs(const ExploreResult *r, int a, int b) { return design_order(&r->designs[a], a, &r->designs[b], b); }

void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads) {
    const char *unit = m->cost_model == CM_ARTIFACT ? "s per layer" : "s, whole model";
    fprintf(out, "explore: model %s, workload %s (batch %d, %d+%d tokens), cost model %s, objective %s, %s\n",
            m->model.name, m->work.name, m->work.batch, m->work.prompt, m->work.generate,
            cost_model_names[m->cost_model], objective_names[m->objective], dataflow_mode_names[m->dataflow]);
    fprintf(out, "space: %d design%s, %d distinct", r->n, r->n == 1 ? "" : "s", r->distinct);
    if (r->distinct < r->n)
        fprintf(out, " (the rest differ only in fields no cost model reads)");
    if (r->invalid)
        fprintf(out, ", %d inconsistent", r->invalid);
    fprintf(out, "; searched %d in %.3f s on %d thread%s%s\n", r->evaluated, r->seconds, threads, threads == 1 ? "" : "s",
            r->stopped ? " (stopped by the budget: the best so far is below)" : "");
    int *idx = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
    if (!idx)
        return;
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (r->designs[i].dup_of < 0 && r->designs[i].evaluated && r->designs[i].ok)
            idx[n++] = i;
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
        design_label(label, sizeof label, xp, &r->designs[idx[k]].hw);
        lw = (int)strlen(label) > lw ? (int)strlen(label) : lw;
    }
    fprintf(out, "\n%4s %6s  %-*s %12s %12s %12s %12s %9s\n", "rank", "design", lw, "device", "latency", "prefill",
            "decode", "energy (J)", "gap");
    for (int k = 0; k < n && k < top; k++) {
        const Design *ds = &r->designs[idx[k]];
        char label[256];
        design_label(label, sizeof label, xp, &ds->hw);
        char gap[32] = "-";
        if (!isnan(ds->sr.bound) && ds->sr.value > 0) {
            double g = (ds->sr.value - ds->sr.bound) / ds->sr.value;
            if (fabs(g) < 1e-9) /* rounding in sums taken in another order */
                snprintf(gap, sizeof gap, "0%%");
            else
                snprintf(gap, sizeof gap, "%.3g%%", 100 * g);
        }
        fprintf(out, "%4d %6d  %-*s %12.6g %12.6g %12.6g %12.6g %9s\n", k + 1, idx[k], lw, label, ds->sr.cost.total,
                ds->sr.cost.prefill, ds->sr.cost.decode, ds->sr.cost.energy, gap);
    }
    fprintf(out, "(latency, prefill, decode in %s; gap: how far the design's dataflow may be from the best for "
                 "its device, 0%% = proven optimal)\n", unit);
    int np = explore_pareto(r, idx);
    if (m->cost_model != CM_ARTIFACT) {
        fprintf(out, "\nPareto front (latency vs energy): %d design%s\n", np, np == 1 ? "" : "s");
        int pw = 44;
        for (int k = 0; k < np; k++) {
            char label[256];
            design_label(label, sizeof label, xp, &r->designs[idx[k]].hw);
            pw = (int)strlen(label) > pw ? (int)strlen(label) : pw;
        }
        for (int k = 0; k < np; k++) {
            const Design *ds = &r->designs[idx[k]];
            char label[256];
            design_label(label, sizeof label, xp, &ds->hw);
            fprintf(out, "  %6d  %-*s %12.6g s %12.6g J\n", idx[k], pw, label, ds->sr.cost.total, ds->sr.cost.energy);
        }
    }
    h2c_raw_free(idx, sizeof(int) * (size_t)(r->n + 1));
    if (r->best >= 0) {
        char label[256];
        design_label(label, sizeof label, xp, &r->designs[r->best].hw);
        fprintf(out, "\nbest: design %d, %s: %.9g %s\n", r->best, label, r->designs[r->best].sr.cost.total, unit);
    }
}

void explore_write_csv(FILE *out, const Explore *xp, const ExploreResult *r) {
    fputs("design,duplicate_of,valid,evaluated,feasible", out);
    for (int i = 0; i < HWF_COUNT_; i++)
        fprintf(out, ",%s", hw_fields[i].path);
    fputs(",total_s,prefill_s,decode_s,decode_step_s,energy_j,edp,bound,configs,search_s\n", out);
    for (int i = 0; i < r->n; i++) {
        const Design *ds = &r->designs[i];
        fprintf(out, "%d,%d,%d,%d,%d", i, ds->dup_of, ds->valid, ds->evaluated, ds->ok);
        for (int f = 0; f < HWF_COUNT_; f++) {
            double v = *(const double *)((const char *)&ds->hw + hw_fields[f].offset);
            if (hw_fields[f].flags & F_ENUM_PREC)
                fprintf(out, ",%s", precision_name((Precision)v));
            else
                fprintf(out, ",%.17g", v);
        }
        if (ds->evaluated && ds->ok)
            fprintf(out, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%lld,%.6f\n", ds->sr.cost.total, ds->sr.cost.prefill,
                    ds->sr.cost.decode, ds->sr.cost.decode_step, ds->sr.cost.energy,
                    ds->sr.cost.total * ds->sr.cost.energy, ds->sr.bound, ds->sr.configs, ds->seconds);
        else
            fputs(",,,,,,,,,\n", out);
    }
    (void)xp;
}

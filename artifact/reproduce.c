/* reproduce.c: the H2-LLM artifact's evaluation grid (reference/h2llm-artifact.md §6.3), under the
 * h2llm-artifact cost model: every model given x workloads he, sg, lb, lg x batch 1, 4, 16 x the
 * designs CP, ID-NMP, ID-NMP+, H2-LLM, Attn-NMP, Attn-NMP-Split, FC-NMP, CC-NMP and H2-LLM-Full.
 * The fixed mappings are closed forms (art_baseline); the others are the exact search, on the
 * artifact's devices, H2-LLM-Full over its 64 (nmp channels x PE tuple) devices. One task per
 * (point, design, device) runs on a pool of threads; results land in fixed slots, so the grid does
 * not depend on the thread count. Then the speedup tables behind the paper's figures 10, 12-15. */
#include "artifact.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int prompt, gen;
} datasets[] = {{"he", 157, 67}, {"sg", 783, 209}, {"lb", 1886, 97}, {"lg", 1971, 17}};
enum { NDS = 4, NBATCH = 3, NFULL = 64 };
static const int batches[NBATCH] = {1, 4, 16};

const char *const grid_design_names[GRID_DESIGNS] = {"CP",     "ID-NMP",         "ID-NMP+", "H2-LLM",
                                                     "Attn-NMP", "Attn-NMP-Split", "FC-NMP",  "CC-NMP",
                                                     "H2-LLM-Full"};

/* The artifact's default PE space (main.py:32-36): (FPUs per PE, MHz, GB/s per PE). */
static const double full_tuples[16][3] = {
    {8, 400, 6.4},  {8, 600, 6.4},  {8, 800, 6.4},  {8, 1000, 6.4},  {8, 400, 12.8},  {8, 600, 12.8},
    {8, 800, 12.8}, {4, 1000, 12.8}, {8, 400, 25.6}, {8, 600, 25.6},  {4, 800, 25.6},  {4, 1000, 25.6},
    {8, 400, 51.2}, {4, 600, 51.2},  {4, 800, 51.2}, {2, 1000, 51.2},
};

/* The device of a design (for H2-LLM-Full, of its k-th candidate). */
static Hardware design_device(GridDesign g, int k) {
    Hardware hw;
    hardware_defaults_named(&hw, grid_design_names[g]); /* the artifact's H2-LLM device */
    switch (g) {
    case GRID_CP:
        hw.nmp_channels = 0;
        hw.npu_throughput = 256e12;
        break;
    case GRID_ID_NMP:
    case GRID_ID_NMP_PLUS:
        hw.nmp_channels = 8;
        hw.pe_fpus = 1;
        hw.pe_frequency = g == GRID_ID_NMP ? 200e6 : 1000e6;
        hw.pe_bandwidth = 6.4e9;
        break;
    case GRID_FULL:
        hw.nmp_channels = 2 + 2 * (k / 16);
        hw.pe_fpus = full_tuples[k % 16][0];
        hw.pe_frequency = full_tuples[k % 16][1] * 1e6;
        hw.pe_bandwidth = full_tuples[k % 16][2] * 1e9;
        break;
    default:
        break;
    }
    hw.energy[EF_pe_mac].value = energy_pe_mac(&hw, hw.pe_frequency);
    return hw;
}

typedef struct Task {
    int point;          /* model * NDS * NBATCH + ds * NBATCH + batch */
    GridDesign design;
    bool ok;
    CostResult cost;
    double bound;
    Hardware hw;
} Task;

typedef struct Pool {
    Module **modules;   /* one per point */
    Task *tasks;
    SplitSpace splits;  /* the MIX splits the searches may use */
    int *order;         /* the order tasks are taken in (NULL: as they are) */
    int ntasks;
    atomic_int next;
} Pool;

/* H2-LLM-Full: the 64 devices in order; a device whose unconstrained optimum is already worse than
 * the best so far cannot win, so its capacity work is skipped (the best found is unchanged). */
static void run_full(Pool *pool, Task *t, Arena *scratch, Diag *d) {
    const Module *m = pool->modules[t->point];
    int best_k = -1;
    /* the most NMP channels first: the likely winners, which make the cutoff bite for the rest */
    for (int k = NFULL - 1; k >= 0; k--) {
        Hardware hw = design_device(GRID_FULL, k);
        DfProblem p;
        if (!explore_problem(m, &cost_artifact, &hw, &p, d))
            continue;
        SearchOpts o = {.mode = DF_DATA_CENTRIC, .objective = OBJ_LATENCY, .capacity = true, .scratch = scratch,
                        .cutoff = t->ok ? t->cost.total : 0, .splits = pool->splits};
        SearchResult r;
        if (!df_search(&p, &cost_artifact, &o, &r, d) || r.dominated)
            continue;
        /* the lowest index wins a tie, as in h2c explore */
        if (!t->ok || r.cost.total < t->cost.total || (r.cost.total == t->cost.total && k < best_k)) {
            best_k = k;
            t->ok = true;
            t->cost = r.cost;
            t->bound = r.bound;
            t->hw = hw;
        }
    }
}

static void run_task(Pool *pool, Task *t, Arena *scratch) {
    const Module *m = pool->modules[t->point];
    DfProblem p;
    Diag d;
    diag_init_quiet(&d);
    if (t->design == GRID_FULL) {
        run_full(pool, t, scratch, &d);
        return;
    }
    t->hw = design_device(t->design, 0);
    if (!explore_problem(m, &cost_artifact, &t->hw, &p, &d))
        return;
    switch (t->design) {
    case GRID_CP:
        p.nmp_util = 1;
        t->ok = art_baseline(&p, DF_NPU_ONLY, &t->cost);
        t->bound = t->cost.total;
        break;
    case GRID_ATTN_NMP:
    case GRID_ATTN_NMP_SPLIT:
    case GRID_FC_NMP:
        /* FixedMappingEvaluator never sets the utilisation (§1.3) */
        p.nmp_util = 1;
        t->ok = art_baseline(&p,
                             t->design == GRID_ATTN_NMP         ? DF_ATTN_NMP
                             : t->design == GRID_ATTN_NMP_SPLIT ? DF_ATTN_NMP_SPLIT
                                                                : DF_FC_NMP,
                             &t->cost);
        t->bound = t->cost.total;
        break;
    default: {
        SearchOpts o = {.mode = t->design == GRID_CC_NMP ? DF_COMPUTE_CENTRIC : DF_DATA_CENTRIC,
                        .objective = OBJ_LATENCY, .capacity = true, .scratch = scratch, .splits = pool->splits};
        SearchResult r;
        t->ok = df_search(&p, &cost_artifact, &o, &r, &d);
        if (t->ok) {
            t->cost = r.cost;
            t->bound = r.bound;
        }
    }
    }
}

static void *pool_worker(void *arg) {
    Pool *pool = arg;
    Arena scratch; /* search memory, reused from one task to the next */
    arena_init(&scratch);
    for (;;) {
        int i = atomic_fetch_add(&pool->next, 1);
        if (i >= pool->ntasks)
            break;
        run_task(pool, &pool->tasks[pool->order ? pool->order[i] : i], &scratch);
    }
    arena_free(&scratch);
    return NULL;
}

static void fmt_gib(char *buf, size_t n, double b) { snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024)); }

/* False, with an error at the model, if it does not fit the artifact's device at some batch of the
 * grid (its weights and its KV cache at max_seq 2048): the grid and its figures need every point. The
 * fixed mappings are closed forms that place nothing, so this total is the check that applies to
 * them; the searched designs also keep every channel within its capacity. */
static bool fits_grid(const Model *model, Diag *d) {
    Hardware hw;
    hardware_defaults_named(&hw, "h2llm");
    double es = precision_bytes((Precision)hw.precision), cap = hw.channels * hw.banks_per_channel * hw.bank_capacity;
    for (int b = 0; b < NBATCH; b++) {
        Workload w;
        workload_defaults(&w);
        w.batch = batches[b];
        w.max_seq = 2048;
        double weights = model_weight_bytes(model, es), kv = model_kv_bytes(model, &w, es);
        if (weights + kv <= cap)
            continue;
        char ws[32], ks[32], cs[32];
        fmt_gib(ws, sizeof ws, weights);
        fmt_gib(ks, sizeof ks, kv);
        fmt_gib(cs, sizeof cs, cap);
        diag_error(d, model->loc, "model '%s' does not fit the H2-LLM artifact's device: %s of weights + %s of KV cache "
                   "(batch %d, max_seq 2048) > %s; its evaluation grid runs every model at batch 1, 4 and 16",
                   model->name, ws, ks, batches[b], cs);
        return false;
    }
    return true;
}

bool reproduce_h2llm(Config *const *models, int nmodels, int threads, SplitSpace splits, Grid *g, Diag *d) {
    memset(g, 0, sizeof *g);
    g->splits = splits;
    bool fit = true;
    for (int mi = 0; mi < nmodels; mi++)
        fit &= fits_grid(models[mi]->model, d);
    if (!fit)
        return false;
    double t0 = h2c_seconds();
    int npoints = nmodels * NDS * NBATCH;
    g->nmodels = nmodels;
    g->npoints = npoints;
    g->rows = h2c_raw_alloc(sizeof(GridRow) * (size_t)npoints * GRID_DESIGNS);
    Module **modules = h2c_raw_alloc(sizeof(Module *) * (size_t)npoints);
    int ntasks = npoints * GRID_DESIGNS;
    Task *tasks = h2c_raw_alloc(sizeof(Task) * (size_t)ntasks);
    if (!g->rows || !modules || !tasks) {
        h2c_raw_free(g->rows, sizeof(GridRow) * (size_t)npoints * GRID_DESIGNS);
        h2c_raw_free(modules, sizeof(Module *) * (size_t)npoints);
        h2c_raw_free(tasks, sizeof(Task) * (size_t)ntasks);
        g->rows = NULL;
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    memset(modules, 0, sizeof(Module *) * (size_t)npoints);
    memset(tasks, 0, sizeof(Task) * (size_t)ntasks);
    bool ok = true;
    /* one module per point: the model on the artifact's device at that workload */
    for (int mi = 0; mi < nmodels && ok; mi++) {
        for (int ds = 0; ds < NDS && ok; ds++) {
            for (int b = 0; b < NBATCH && ok; b++) {
                int point = (mi * NDS + ds) * NBATCH + b;
                Config c = *models[mi];
                Workload w;
                workload_defaults(&w);
                w.name = datasets[ds].name;
                w.prompt = datasets[ds].prompt;
                w.generate = datasets[ds].gen;
                w.batch = batches[b];
                w.max_seq = 2048;
                Hardware hw;
                hardware_defaults_named(&hw, "h2llm");
                c.workload = &w;
                c.hw = &hw;
                c.cost_model = CM_ARTIFACT;
                modules[point] = ir_lower(&c, d);
                if (!modules[point] || !ir_fill_shapes(modules[point], d))
                    ok = false;
            }
        }
    }
    int k = 0;
    for (int point = 0; point < npoints && ok; point++) {
        for (int de = 0; de < GRID_DESIGNS; de++) {
            tasks[k].point = point;
            tasks[k].design = (GridDesign)de;
            k++;
        }
    }
    if (ok) {
        Pool pool;
        memset(&pool, 0, sizeof pool);
        pool.modules = modules;
        pool.tasks = tasks;
        pool.splits = splits;
        pool.ntasks = ntasks;
        if (threads < 1)
            threads = 1;
        if (threads > 64)
            threads = 64;
        pthread_t th[64];
        int started = 0;
        /* the Full tasks (64 devices each) go first, so no thread is left with one at the end */
        pool.order = h2c_raw_alloc(sizeof(int) * (size_t)ntasks);
        if (pool.order) {
            int q = 0;
            for (int i = 0; i < ntasks; i++)
                if (tasks[i].design == GRID_FULL)
                    pool.order[q++] = i;
            for (int i = 0; i < ntasks; i++)
                if (tasks[i].design != GRID_FULL)
                    pool.order[q++] = i;
        }
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, pool_worker, &pool) == 0)
                started++;
        if (started == 0)
            pool_worker(&pool);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        h2c_raw_free(pool.order, sizeof(int) * (size_t)ntasks);
        /* rows: the fixed designs as they are, H2-LLM-Full the best of its devices (lowest index on a tie) */
        k = 0;
        for (int point = 0; point < npoints; point++) {
            int mi = point / (NDS * NBATCH), ds = (point / NBATCH) % NDS, b = point % NBATCH;
            for (int de = 0; de < GRID_DESIGNS; de++) {
                GridRow *row = &g->rows[point * GRID_DESIGNS + de];
                memset(row, 0, sizeof *row);
                row->model = models[mi]->model->name;
                row->dataset = datasets[ds].name;
                row->prompt = datasets[ds].prompt;
                row->gen = datasets[ds].gen;
                row->batch = batches[b];
                row->design = (GridDesign)de;
                const Task *best = tasks[k].ok ? &tasks[k] : NULL;
                k++;
                if (best) {
                    row->ok = true;
                    row->cost = best->cost;
                    row->bound = best->bound;
                    row->hw = best->hw;
                }
            }
        }
    }
    for (int i = 0; i < npoints; i++)
        ir_module_free(modules[i]);
    h2c_raw_free(modules, sizeof(Module *) * (size_t)npoints);
    h2c_raw_free(tasks, sizeof(Task) * (size_t)ntasks);
    g->searches = npoints * (GRID_DESIGNS - 1 + NFULL);
    g->seconds = h2c_seconds() - t0;
    return ok;
}

void grid_free(Grid *g) {
    if (g->rows)
        h2c_raw_free(g->rows, sizeof(GridRow) * (size_t)g->npoints * GRID_DESIGNS);
    memset(g, 0, sizeof *g);
}

static const GridRow *row_at(const Grid *g, int mi, int ds, int b, GridDesign de) {
    return &g->rows[((mi * NDS + ds) * NBATCH + b) * GRID_DESIGNS + de];
}

void grid_write_csv(FILE *out, const Grid *g) {
    fputs("model,dataset,prompt,generate,batch,design,total_s_per_layer,prefill_s,decode_s,decode_step_s,bound,"
          "nmp_channels,pe_fpus,pe_mhz,pe_gbps\n", out);
    for (int i = 0; i < g->npoints * GRID_DESIGNS; i++) {
        const GridRow *r = &g->rows[i];
        if (!r->ok) {
            fprintf(out, "%s,%s,%d,%d,%d,%s,,,,,,,,,\n", r->model, r->dataset, r->prompt, r->gen, r->batch,
                    grid_design_names[r->design]);
            continue;
        }
        fprintf(out, "%s,%s,%d,%d,%d,%s,%.17g,%.17g,%.17g,%.17g,%.17g,%g,%g,%g,%g\n", r->model, r->dataset, r->prompt,
                r->gen, r->batch, grid_design_names[r->design], r->cost.total, r->cost.prefill, r->cost.decode,
                r->cost.decode_step, r->bound, r->hw.nmp_channels, r->hw.pe_fpus, r->hw.pe_frequency / 1e6,
                r->hw.pe_bandwidth / 1e9);
    }
}

static double lat(const Grid *g, int mi, int ds, int b, GridDesign de) {
    const GridRow *r = row_at(g, mi, ds, b, de);
    return r->ok ? r->cost.total : NAN;
}

/* A number of a table, or "-" where a design has no plan (none keeps every channel within its
 * capacity): never nan. Sets *gaps when it prints one. */
static void cell(FILE *out, int width, double v, bool *gaps) {
    if (isfinite(v)) {
        fprintf(out, " %*.3f", width, v);
    } else {
        fprintf(out, " %*s", width, "-");
        *gaps = true;
    }
}

/* A table: one row per (dataset, batch) of the model, one column per design, each the speedup of
 * the design over `base` (base latency / design latency), and a geometric-mean row. */
static void speedup_table(FILE *out, const Grid *g, int mi, const char *title, GridDesign base, const GridDesign *cols,
                          int ncols, bool *gaps) {
    fprintf(out, "\n%s, %s (speedup over %s):\n  %-9s", title, row_at(g, mi, 0, 0, 0)->model, grid_design_names[base],
            "");
    for (int c = 0; c < ncols; c++)
        fprintf(out, " %14s", grid_design_names[cols[c]]);
    fputc('\n', out);
    double logsum[GRID_DESIGNS] = {0};
    int count[GRID_DESIGNS] = {0};
    for (int ds = 0; ds < NDS; ds++)
        for (int b = 0; b < NBATCH; b++) {
            fprintf(out, "  %-3s b%-4d", datasets[ds].name, batches[b]);
            for (int c = 0; c < ncols; c++) {
                double s = lat(g, mi, ds, b, base) / lat(g, mi, ds, b, cols[c]);
                cell(out, 14, s, gaps);
                if (isfinite(s) && s > 0) {
                    logsum[c] += log(s);
                    count[c]++;
                }
            }
            fputc('\n', out);
        }
    fprintf(out, "  %-9s", "geomean");
    for (int c = 0; c < ncols; c++)
        cell(out, 14, count[c] ? exp(logsum[c] / count[c]) : NAN, gaps);
    fputc('\n', out);
}

void grid_print(FILE *out, const Grid *g) {
    fprintf(out, "H2-LLM evaluation grid under h2llm-artifact: %d model%s x %d workloads x %d batch sizes x %d designs, "
                 "%d evaluations (%d exact searches, %d closed forms), %.2f s\n", g->nmodels, plural(g->nmodels), NDS,
            NBATCH, GRID_DESIGNS,
            g->searches, g->searches - 4 * g->npoints, 4 * g->npoints, g->seconds);
    fputs("Latencies are seconds per layer (the artifact's unit); every searched design is the exact optimum of its "
          "space.\n", out);
    if (g->splits == SPLITS_ARTIFACT)
        fputs("The searches use only the artifact's own MIX splits (--splits=artifact): the ratios i/kv, i/B or i/N "
              "its generator draws.\n", out);
    static const GridDesign e2e[] = {GRID_CP, GRID_ID_NMP, GRID_ID_NMP_PLUS, GRID_H2LLM};
    int mw = 12;    /* the model column: as wide as the longest name */
    for (int mi = 0; mi < g->nmodels; mi++)
        if ((int)strlen(row_at(g, mi, 0, 0, 0)->model) > mw)
            mw = (int)strlen(row_at(g, mi, 0, 0, 0)->model);
    static const GridDesign flow[] = {GRID_ATTN_NMP, GRID_ATTN_NMP_SPLIT, GRID_FC_NMP, GRID_CC_NMP, GRID_H2LLM};
    bool gaps = false;
    for (int mi = 0; mi < g->nmodels; mi++) {
        speedup_table(out, g, mi, "Figure 10 (end to end)", GRID_ID_NMP_PLUS, e2e, 4, &gaps);
        speedup_table(out, g, mi, "Figure 12 (dataflow)", GRID_FC_NMP, flow, 5, &gaps);
    }
    /* Figure 13: per model and batch, the geometric mean over the datasets of the speedup over ID-NMP+ */
    fputs("\nFigure 13 (dataflow ablation): geometric mean over he, sg, lb, lg of the speedup over ID-NMP+\n", out);
    fprintf(out, "  %-*s %-4s", mw, "model", "b");
    for (int c = 0; c < 5; c++)
        fprintf(out, " %14s", grid_design_names[flow[c]]);
    fputc('\n', out);
    for (int mi = 0; mi < g->nmodels; mi++)
        for (int b = 0; b < NBATCH; b++) {
            fprintf(out, "  %-*s %-4d", mw, row_at(g, mi, 0, 0, 0)->model, batches[b]);
            for (int c = 0; c < 5; c++) {
                double ls = 0;
                for (int ds = 0; ds < NDS; ds++)
                    ls += log(lat(g, mi, ds, b, GRID_ID_NMP_PLUS) / lat(g, mi, ds, b, flow[c]));
                cell(out, 14, exp(ls / NDS), &gaps);
            }
            fputc('\n', out);
        }
    /* Figure 14: prefill's share of H2-LLM, and CC-NMP's prefill against H2-LLM's */
    fputs("\nFigure 14 (prefill): H2-LLM prefill / total, CC-NMP prefill / H2-LLM prefill\n", out);
    for (int mi = 0; mi < g->nmodels; mi++)
        for (int ds = 0; ds < NDS; ds++)
            for (int b = 0; b < NBATCH; b++) {
                const GridRow *h = row_at(g, mi, ds, b, GRID_H2LLM), *cc = row_at(g, mi, ds, b, GRID_CC_NMP);
                fprintf(out, "  %-*s %-3s b%-3d", mw, h->model, datasets[ds].name, batches[b]);
                cell(out, 8, h->ok ? h->cost.prefill / h->cost.total : NAN, &gaps);
                cell(out, 8, h->ok && cc->ok ? cc->cost.prefill / h->cost.prefill : NAN, &gaps);
                fputc('\n', out);
            }
    /* Figure 15: the fixed H2-LLM device against the best of the 64 */
    fputs("\nFigure 15 (architecture exploration): H2-LLM latency / H2-LLM-Full latency, and Full's device\n", out);
    for (int mi = 0; mi < g->nmodels; mi++)
        for (int ds = 0; ds < NDS; ds++)
            for (int b = 0; b < NBATCH; b++) {
                const GridRow *f = row_at(g, mi, ds, b, GRID_FULL);
                fprintf(out, "  %-*s %-3s b%-3d", mw, f->model, datasets[ds].name, batches[b]);
                cell(out, 8, f->ok ? lat(g, mi, ds, b, GRID_H2LLM) / f->cost.total : NAN, &gaps);
                if (f->ok)
                    fprintf(out, "   nmp %g, (%g, %g MHz, %g GB/s)", f->hw.nmp_channels, f->hw.pe_fpus,
                            f->hw.pe_frequency / 1e6, f->hw.pe_bandwidth / 1e9);
                fputc('\n', out);
            }
    if (gaps)
        fputs("\n(-: a design with no dataflow that keeps every channel within its capacity at that point)\n", out);
}

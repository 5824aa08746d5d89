/* explore_report.c: what h2c explore shows of a finished exploration: the report (the space, how much
 * of it was searched and what stopped it, the best designs, the Pareto front, the best; or a sweep's
 * table of points) and the CSV. Nothing here depends on timing except the report's "in N s" line,
 * so the table, the front and the CSV are the same for any thread or rank count. */
#include "search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void explore_fmt_count(char *buf, size_t n, long long v) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", v), k = 0;
    for (int i = 0; i < len && (size_t)k + 2 < n; i++) {
        if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
}

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

static int cmp_designs(const ExploreResult *r, int a, int b) {
    return explore_design_order(&r->designs[a], &r->designs[b]);
}

/* "model llama3_8b", or a swept axis's "models llama3_8b, opt_6_7b". */
static void names_list(char *buf, size_t n, const char *what, const SweepAxis *ax, const char *one) {
    int k = snprintf(buf, n, "%s ", what);
    for (int i = 0; i < (ax ? ax->nvalues : 1) && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%s", i ? ", " : "", ax ? ax->names[i] : one);
}

static int cmp_design_ptrs(const void *a, const void *b) {
    return explore_design_order(*(const Design *const *)a, *(const Design *const *)b);
}

/* Sorts entries of r->designs into design order (a total order: indices differ). */
static void sort_entries(const ExploreResult *r, int *idx, int n) {
    const Design **by = h2c_raw_alloc(sizeof(Design *) * (size_t)(n + 1));
    if (!by) {  /* out of memory: insertion sort, in place */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && cmp_designs(r, idx[j], idx[j - 1]) < 0; j--) {
                int t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        return;
    }
    for (int i = 0; i < n; i++)
        by[i] = &r->designs[idx[i]];
    qsort(by, (size_t)n, sizeof *by, cmp_design_ptrs);
    for (int i = 0; i < n; i++)
        idx[i] = (int)(by[i] - r->designs);
    h2c_raw_free(by, sizeof(Design *) * (size_t)(n + 1));
}

static double point_value(const SweepPoint *pt, SweepField f) {
    switch (f) {
    case SW_CONTEXT: return pt->wl.prompt;
    case SW_BATCH: return pt->wl.batch;
    case SW_STATIC_HEADS: return pt->sp.static_heads;
    case SW_SINK: return pt->sp.sink;
    case SW_WINDOW: return pt->sp.window;
    case SW_BUDGET: return pt->sp.budget;
    default: h2c_unreachable("a sweep field");
    }
}

/* A point's value of sweep axis ax as written back: a block's name, tokens as a count, a share as a
 * percentage. */
static void sweep_value(char *buf, size_t n, const SweepAxis *ax, const SweepPoint *pt) {
    if (ax->field == SW_MODEL || ax->field == SW_WORKLOAD) {
        snprintf(buf, n, "%s", ax->names[ax->field == SW_MODEL ? pt->model : pt->workload]);
        return;
    }
    double v = point_value(pt, ax->field);
    if (sweep_fields[ax->field].kind == UK_PERCENT) {
        fmt_double(buf, n > 1 ? n - 1 : n, v * 100);
        strcat(buf, "%");
    } else {
        snprintf(buf, n, "%.0f", v);
    }
}

/* "context", "model and context", "model, batch and context": a sweep's work axes in words. */
static void work_axes_words(char *buf, size_t n, const Explore *xp) {
    static const char *const word[SW_COUNT_] = {[SW_CONTEXT] = "context", [SW_MODEL] = "model",
                                                [SW_WORKLOAD] = "workload", [SW_BATCH] = "batch size"};
    int nw = 0, k = 0;
    for (int a = 0; a < xp->nsweeps; a++)
        nw += sweep_is_work(xp->sweeps[a].field);
    buf[0] = 0;
    for (int a = 0, i = 0; a < xp->nsweeps; a++) {
        if (!sweep_is_work(xp->sweeps[a].field))
            continue;
        k += snprintf(buf + k, n - (size_t)k, "%s%s", i == 0 ? "" : i == nw - 1 ? " and " : ", ",
                      word[xp->sweeps[a].field]);
        i++;
        if ((size_t)k >= n)
            break;
    }
}

/* The sweep's table: a row per point, its swept values, its device (when the hardware space has more
 * than one), the dense plan's decode time per step and decode energy, and the ablation's ratios. */
static void print_sweep(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r) {
    bool devices = r->hw_space > 1;
    fprintf(out, "sweep: %d point%s (", r->npoints, r->npoints == 1 ? "" : "s");
    for (int a = 0; a < xp->nsweeps; a++)
        fprintf(out, "%s%d %s", a ? " x " : "", xp->sweeps[a].nvalues, sweep_fields[xp->sweeps[a].field].path);
    char words[96];
    work_axes_words(words, sizeof words, xp);
    if (devices && words[0])
        fprintf(out, "); each point on the best device of the hardware space at its %s\n\n", words);
    else
        fprintf(out, ")%s\n\n", devices ? "; each point on the best device of the hardware space" : "");
    int w[SW_COUNT_ + 1];
    fprintf(out, "%5s", "point");
    for (int a = 0; a < xp->nsweeps; a++) {
        const SweepAxis *ax = &xp->sweeps[a];
        const char *name = sweep_fields[ax->field].path;
        w[a] = (int)strlen(name) > 8 ? (int)strlen(name) : 8;
        for (int k = 0; ax->names && k < ax->nvalues; k++)
            w[a] = (int)strlen(ax->names[k]) > w[a] ? (int)strlen(ax->names[k]) : w[a];
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
            char v[64];
            sweep_value(v, sizeof v, &xp->sweeps[a], pt);
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
    if (!words[0] || strcmp(words, "context") == 0)
        fprintf(out, "(decode/step, decode J: the dense plan of the best device at the point's context, under the "
                     "cost model; '-': no design searched at that context fits)\n");
    else
        fprintf(out, "(decode/step, decode J: the dense plan of the best device at the point's %s, under the cost "
                     "model; '-': no design searched there fits)\n", words);
    if (!ablated)
        fprintf(out, "(speedup, energy gain: the dense HB baseline over the full sparse plan, from the ablation hook "
                     "(ExploreOpts.ablation), which is not connected yet: both are the dense plan, so both are 1)\n");
    else
        fprintf(out, "(speedup, energy gain: the dense HB baseline's decode time and energy over the full sparse "
                     "plan's)\n");
}

void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads) {
    const char *unit = m->cost_model == CM_ARTIFACT ? "s per layer" : "s, whole model";
    const SweepAxis *swept[SW_COUNT_] = {0};
    for (int a = 0; xp && a < xp->nsweeps; a++)
        swept[xp->sweeps[a].field] = &xp->sweeps[a];
    char models[160], workloads[160], batch[16], prompt[16], generate[16];
    names_list(models, sizeof models, swept[SW_MODEL] ? "models" : "model", swept[SW_MODEL], m->model.name);
    names_list(workloads, sizeof workloads, swept[SW_WORKLOAD] ? "workloads" : "workload", swept[SW_WORKLOAD],
               m->work.name);
    snprintf(batch, sizeof batch, swept[SW_BATCH] ? "swept" : "%d", m->work.batch);
    snprintf(prompt, sizeof prompt, swept[SW_CONTEXT] ? "context" : "%d", m->work.prompt);
    snprintf(generate, sizeof generate, "%d", m->work.generate);
    char tokens[48] = "";   /* (each swept workload has its own) */
    if (!swept[SW_WORKLOAD])
        snprintf(tokens, sizeof tokens, ", %s+%s tokens", prompt, generate);
    fprintf(out, "explore: %s, %s (batch %s%s), cost model %s, objective %s, %s%s\n", models, workloads, batch, tokens,
            cost_model_names[m->cost_model], objective_names[m->objective], dataflow_mode_names[m->dataflow],
            m->splits == SPLITS_ARTIFACT ? " (only the artifact's MIX splits)" : "");
    char total[32], distinct[32], searched[32];
    explore_fmt_count(total, sizeof total, r->space);
    explore_fmt_count(distinct, sizeof distinct, r->distinct);
    explore_fmt_count(searched, sizeof searched, r->evaluated);
    fprintf(out, "space: %s design%s, %s distinct", total, r->space == 1 ? "" : "s", distinct);
    if (r->distinct < r->space)
        fprintf(out, " (the rest differ only in fields no cost model reads)");
    if (r->invalid)
        fprintf(out, ", %lld inconsistent", r->invalid);
    fprintf(out, "; searched %s of %s distinct design%s (%.3g%%)", searched, distinct, r->distinct == 1 ? "" : "s",
            100.0 * r->evaluated / (double)r->distinct);
    if (r->evaluated < r->distinct) {
        if (r->uncovered[0])
            fprintf(out, ", not yet every value of every axis (%s)", r->uncovered);
        else
            fprintf(out, ", every value of every axis at least once");
    }
    fprintf(out, "%s in %.3f s on ", r->evaluated < r->distinct ? "," : "", r->seconds);
    if (r->ranks > 1)
        fprintf(out, "%d ranks x ", r->ranks);
    fprintf(out, "%d thread%s", threads, threads == 1 ? "" : "s");
    if (r->resumed)
        fprintf(out, " (resumed from a checkpoint)");
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
    int n = 0;
    long long restricted = r->restricted;
    for (int i = 0; i < r->n; i++)
        if (r->designs[i].evaluated && r->designs[i].ok)
            idx[n++] = i;
    sort_entries(r, idx, n);
    /* the device column: 44 wide, or as wide as the longest label shown */
    int lw = 44;
    for (int k = 0; k < n && k < top; k++) {
        char label[256];
        design_label(label, sizeof label, m, xp, r->designs[idx[k]].index);
        lw = (int)strlen(label) > lw ? (int)strlen(label) : lw;
    }
    /* the design column: 6 wide, or as wide as the space's last index */
    int dw = snprintf(NULL, 0, "%lld", r->space - 1);
    dw = dw > 6 ? dw : 6;
    fprintf(out, "\n%4s %*s  %-*s %12s %12s %12s %12s %9s\n", "rank", dw, "design", lw, "device", "latency", "prefill",
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
        fprintf(out, "%4d %*lld  %-*s %12.6g %12.6g %12.6g %12.6g %9s\n", k + 1, dw, ds->index, lw, label, ds->total,
                ds->prefill, ds->decode, ds->energy, gap);
    }
    fprintf(out, "(latency, prefill, decode in %s; gap: how far the design's dataflow may be from the best for "
                 "its device, 0%% = proven optimal)\n", unit);
    if (restricted)
        fprintf(out, "(%lld design%s too wide or too long for the exact search's budget: a restricted search chose "
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
            fprintf(out, "  %*lld  %-*s %12.6g s %12.6g J\n", dw, ds->index, pw, label, ds->total, ds->energy);
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
          "base_energy_j,full_energy_j,energy_gain,ablation,model,workload\n", out);
    const SweepAxis *models = NULL;
    for (int a = 0; a < xp->nsweeps; a++)
        if (xp->sweeps[a].field == SW_MODEL)
            models = &xp->sweeps[a];
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
        const char *model = pt->model >= 0 ? models->names[pt->model] : m->model.name;
        if (!ds) {
            fputs(",,,,,,,,,,,,,", out);
            fprintf(out, ",%s,%s\n", model, w->name);
            continue;
        }
        const Ablation *ab = &pt->ab;
        double cols[] = {ds->total, ds->prefill, ds->decode, ds->decode_step, ds->energy, ds->decode_energy,
                         ab->base_decode, ab->full_decode, ab->base_decode / ab->full_decode, ab->base_energy,
                         ab->full_energy, ab->base_energy / ab->full_energy};
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++)
            csv_num(out, cols[k]);
        fprintf(out, ",%s,%s,%s\n", pt->ablated ? "plan" : "none", model, w->name);
    }
}

void explore_write_csv(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r) {
    if (r->points) {
        write_sweep_csv(out, m, xp, r);
        return;
    }
    /* streamed: each design's place in the table (1 is the best; empty: not in the first `top`... of the
       kept ones) and whether it is on the Pareto front */
    int *rank = NULL, *front = NULL, nfront = 0;
    if (r->streamed) {
        rank = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
        front = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
        if (!rank || !front) {
            h2c_raw_free(rank, sizeof(int) * (size_t)(r->n + 1));
            h2c_raw_free(front, sizeof(int) * (size_t)(r->n + 1));
            return;
        }
        nfront = explore_pareto(r, front);
        int n = 0;
        for (int i = 0; i < r->n; i++)
            if (r->designs[i].evaluated && r->designs[i].ok)
                rank[n++] = i;
        sort_entries(r, rank, n);
        /* rank[k] = entry -> pos[entry] = k + 1 */
        int *pos = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
        if (!pos) {
            h2c_raw_free(rank, sizeof(int) * (size_t)(r->n + 1));
            h2c_raw_free(front, sizeof(int) * (size_t)(r->n + 1));
            return;
        }
        memset(pos, 0, sizeof(int) * (size_t)(r->n + 1));
        for (int k = 0; k < n; k++)
            pos[rank[k]] = k + 1;
        memcpy(rank, pos, sizeof(int) * (size_t)(r->n + 1));
        h2c_raw_free(pos, sizeof(int) * (size_t)(r->n + 1));
    }
    fputs("design,stands_for,valid,evaluated,feasible", out);
    for (int i = 0; i < HWF_COUNT_; i++)
        fprintf(out, ",%s", hw_fields[i].path);
    fputs(",total_s,prefill_s,decode_s,decode_step_s,energy_j,edp,bound,configs", out);
    fputs(r->streamed ? ",rank,pareto\n" : "\n", out);
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
            fprintf(out, ",%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%lld", ds->total, ds->prefill, ds->decode,
                    ds->decode_step, ds->energy, ds->total * ds->energy, ds->bound, ds->configs);
        else
            fputs(",,,,,,,,", out);
        if (r->streamed) {
            bool on = false;
            for (int k = 0; k < nfront && !on; k++)
                on = front[k] == i;
            if (rank[i])
                fprintf(out, ",%d,%d\n", rank[i], on);
            else
                fprintf(out, ",,%d\n", on);
        } else {
            fputc('\n', out);
        }
    }
    h2c_raw_free(rank, sizeof(int) * (size_t)(r->n + 1));
    h2c_raw_free(front, sizeof(int) * (size_t)(r->n + 1));
}

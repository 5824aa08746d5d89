/* sema_explore.c: checks an `explore` block: the hardware axes and pe tuples of the design space,
 * the sweep axes over models, workloads, batch sizes, contexts and the sparsity block's values, the
 * dataflow mode, search method, objective, seed and budgets. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- explore */

typedef struct XpCtx {
    Sema *S;
    Explore *xp;
    const Stmt *seen_fields[HWF_COUNT_];
    const Stmt *seen_sweeps[SW_COUNT_];
    const Stmt *dataflow, *method, *objective, *splits, *seed, *budget, *evals, *pe;
    bool ok;
} XpCtx;

static bool xp_value(Sema *S, HwField f, const Expr *e, double *out) {
    Scope none = {S, "an explore list", NULL, 0, NULL, 0, 0};
    const FieldDesc *fd = &hw_fields[f];
    if (fd->flags & F_ENUM_PREC) {
        if (e->kind == EX_NAME)
            for (int p = 0; p < PREC_COUNT_; p++)
                if (strcmp(e->name, precision_name((Precision)p)) == 0) {
                    *out = p;
                    return true;
                }
        diag_error(S->d, e->loc, "'precision' must be one of fp16, int8, int4, fp32");
        return false;
    }
    Val v;
    if (!sema_eval(&none, e, &v) || !sema_check_value(S, fd->path, fd->kind, fd->flags, fd->min, fd->max, v, e))
        return false;
    *out = v.v;
    return true;
}

/* A sweep axis: `context = [4096, 8192];`, `static_heads = [25%, 50%];`: each value checked like the
 * field it stands for, duplicates dropped with a warning. Checked against the selected workload and
 * sparsity block later (sema.c), when the selection is known. */
static void sweep_axis(XpCtx *xc, SweepField w, const Stmt *st) {
    Sema *S = xc->S;
    const SweepDesc *sd = &sweep_fields[w];
    if (xc->seen_sweeps[w]) {
        diag_error(S->d, st->assign.path_loc, "'%s' is set twice", sd->path);
        diag_note(S->d, xc->seen_sweeps[w]->assign.path_loc, "first set here");
        xc->ok = false;
        return;
    }
    xc->seen_sweeps[w] = st;
    const Expr *e = st->assign.value;
    int n = e->kind == EX_LIST ? e->list.count : 1;
    if (n == 0) {
        diag_error(S->d, e->loc, "the list of values for '%s' is empty", sd->path);
        xc->ok = false;
        return;
    }
    SweepAxis ax = {w, ARENA_ARRAY(S->a, double, n), ARENA_ARRAY(S->a, Loc, n), 0, st->assign.path_loc, NULL, NULL};
    Scope none = {S, "an explore list", NULL, 0, NULL, 0, 0};
    if (sd->flags & F_NAME) {
        /* names of blocks, resolved once every block is known (sema.c, check_sweeps) */
        ax.names = ARENA_ARRAY(S->a, const char *, n);
        for (int i = 0; i < n; i++) {
            const Expr *item = e->kind == EX_LIST ? e->list.items[i] : e;
            const char *name = item->kind == EX_NAME ? item->name : item->kind == EX_STR ? item->str : NULL;
            if (!name) {
                bool m = w == SW_MODEL;
                diag_error(S->d, item->loc, "'%s' lists %s blocks by name, e.g. %s = [%s];", sd->path,
                           m ? "model" : "workload", sd->path, m ? "llama3_8b, opt_6_7b" : "sg, lb");
                xc->ok = false;
                return;
            }
            bool dup = false;
            for (int j = 0; j < ax.nvalues; j++)
                dup |= strcmp(ax.names[j], name) == 0;
            if (dup) {
                diag_warning(S->d, item->loc, "duplicate value for '%s' ignored", sd->path);
                continue;
            }
            ax.value_locs[ax.nvalues] = item->loc;
            ax.names[ax.nvalues] = name;
            ax.values[ax.nvalues++] = -1;
        }
    }
    for (int i = 0; i < n && !(sd->flags & F_NAME); i++) {
        const Expr *item = e->kind == EX_LIST ? e->list.items[i] : e;
        Val v;
        if (!sema_eval(&none, item, &v) ||
            !sema_check_value(S, sd->path, sd->kind, sd->flags, sd->min, sd->max, v, item)) {
            xc->ok = false;
            return;
        }
        bool dup = false;
        for (int j = 0; j < ax.nvalues; j++)
            dup |= ax.values[j] == v.v;
        if (dup) {
            diag_warning(S->d, item->loc, "duplicate value for '%s' ignored", sd->path);
            continue;
        }
        ax.value_locs[ax.nvalues] = item->loc;
        ax.values[ax.nvalues++] = v.v;
    }
    Explore *xp = xc->xp;
    xp->sweeps = arena_realloc(S->a, xp->sweeps, sizeof(SweepAxis) * (size_t)xp->nsweeps,
                               sizeof(SweepAxis) * (size_t)(xp->nsweeps + 1));
    xp->sweeps[xp->nsweeps++] = ax;
}

static bool xp_extra(void *ctx, const char *path, const Stmt *st) {
    XpCtx *xc = ctx;
    Sema *S = xc->S;
    if (!path) {
        diag_error(S->d, st->loc, "ops belong in a model block, not in explore");
        xc->ok = false;
        return true;
    }
    const Stmt **special = NULL;
    if (strcmp(path, "dataflow") == 0) special = &xc->dataflow;
    else if (strcmp(path, "method") == 0) special = &xc->method;
    else if (strcmp(path, "objective") == 0) special = &xc->objective;
    else if (strcmp(path, "splits") == 0) special = &xc->splits;
    else if (strcmp(path, "seed") == 0) special = &xc->seed;
    else if (strcmp(path, "budget") == 0) special = &xc->budget;
    else if (strcmp(path, "evaluations") == 0) special = &xc->evals;
    else if (strcmp(path, "pe") == 0) special = &xc->pe;
    if (special) {
        if (*special) {
            diag_error(S->d, st->assign.path_loc, "'%s' is set twice", path);
            diag_note(S->d, (*special)->assign.path_loc, "first set here");
            xc->ok = false;
        } else {
            *special = st;
        }
        return true;
    }
    for (int w = 0; w < SW_COUNT_; w++)
        if (strcmp(sweep_fields[w].path, path) == 0) {
            sweep_axis(xc, (SweepField)w, st);
            return true;
        }
    int f;
    for (f = 0; f < HWF_COUNT_; f++)
        if (strcmp(hw_fields[f].path, path) == 0)
            break;
    if (f == HWF_COUNT_) {
        const char *names[HWF_COUNT_ + SW_COUNT_ + 9];
        int k = 0;
        for (int i = 0; i < HWF_COUNT_; i++)
            names[k++] = hw_fields[i].path;
        for (int i = 0; i < SW_COUNT_; i++)
            names[k++] = sweep_fields[i].path;
        static const char *const extra[] = {"dataflow", "method", "objective", "splits", "seed", "budget",
                                            "evaluations", "pe"};
        for (int i = 0; i < 8; i++)
            names[k++] = extra[i];
        names[k] = NULL;
        const char *sug = closest_word(path, names);
        if (sug)
            diag_error(S->d, st->assign.path_loc, "unknown field '%s' in explore; did you mean '%s'?", path, sug);
        else
            diag_error(S->d, st->assign.path_loc,
                       "unknown field '%s' in explore (explore a hardware field, e.g. nmp.channels, or sweep models, "
                       "workloads, batch, context, static_heads, static.sink, static.window or dynamic.budget)", path);
        xc->ok = false;
        return true;
    }
    if (xc->seen_fields[f]) {
        diag_error(S->d, st->assign.path_loc, "'%s' is set twice", path);
        diag_note(S->d, xc->seen_fields[f]->assign.path_loc, "first set here");
        xc->ok = false;
        return true;
    }
    xc->seen_fields[f] = st;
    const Expr *e = st->assign.value;
    ExploreAxis ax = {(HwField)f, NULL, 0, st->assign.path_loc};
    int n = e->kind == EX_LIST ? e->list.count : 1;
    if (n == 0) {
        diag_error(S->d, e->loc, "the list of candidates for '%s' is empty", path);
        xc->ok = false;
        return true;
    }
    ax.values = ARENA_ARRAY(S->a, double, n);
    for (int i = 0; i < n; i++) {
        const Expr *item = e->kind == EX_LIST ? e->list.items[i] : e;
        double v;
        if (!xp_value(S, (HwField)f, item, &v)) {
            xc->ok = false;
            return true;
        }
        bool dup = false;
        for (int j = 0; j < ax.nvalues; j++)
            dup |= ax.values[j] == v;
        if (dup) {
            diag_warning(S->d, item->loc, "duplicate candidate for '%s' ignored", path);
            continue;
        }
        ax.values[ax.nvalues++] = v;
    }
    Explore *xp = xc->xp;
    int cap = xp->naxes;
    xp->axes = arena_realloc(S->a, xp->axes, sizeof(ExploreAxis) * (size_t)cap, sizeof(ExploreAxis) * (size_t)(cap + 1));
    xp->axes[xp->naxes++] = ax;
    return true;
}

Explore *sema_explore(Sema *S, const Item *it) {
    Explore *xp = ARENA_NEW(S->a, Explore);
    xp->name = it->block.name ? it->block.name : "default";
    xp->loc = it->block.name_loc;
    xp->seed = 1;
    XpCtx xc = {S, xp, {0}, {0}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true};
    Scope sc = {S, "explore", NULL, 0, NULL, 0, 0};
    sema_collect(&sc, it->block.body, NULL, xp_extra, &xc);
    Scope none = {S, "explore", NULL, 0, NULL, 0, 0};
    if (xc.dataflow) {
        int k = sema_enum_value(S, xc.dataflow->assign.value, "dataflow", dataflow_mode_names, DF_COUNT_);
        if (k < 0) xc.ok = false; else xp->dataflow = (DataflowMode)k;
    }
    if (xc.method) {
        const Expr *mv = xc.method->assign.value;
        bool asks_ga = (mv->kind == EX_NAME && strcmp(mv->name, "ga") == 0) ||
                       (mv->kind == EX_STR && strcmp(mv->str, "ga") == 0);
        /* only exhaustive is offered; ga is named so a user asking for it gets a clear answer */
        int k = asks_ga ? SM_GA : sema_enum_value(S, mv, "search method", search_method_names, 1);
        if (k == SM_GA) {
            /* named so a user asking for it gets a clear answer, not a silent exhaustive search */
            diag_error(S->d, xc.method->assign.value->loc,
                       "method = ga is not available: h2c searches every design exactly (method = exhaustive)");
            k = -1;
        }
        if (k < 0) xc.ok = false; else xp->method = (SearchMethod)k;
    }
    if (xc.objective) {
        int k = sema_enum_value(S, xc.objective->assign.value, "objective", objective_names, OBJ_COUNT_);
        if (k < 0) xc.ok = false; else xp->objective = (Objective)k;
        xp->objective_loc = xc.objective->assign.value->loc;
    }
    if (xc.splits) {
        int k = sema_enum_value(S, xc.splits->assign.value, "splits", split_space_names, SPLITS_COUNT_);
        if (k < 0) xc.ok = false; else xp->splits = (SplitSpace)k;
    }
    if (xc.seed) {
        Val v;
        if (!sema_eval(&none, xc.seed->assign.value, &v) ||
            !sema_check_value(S, "seed", UK_NONE, F_INT, 0, 9007199254740992.0, v, xc.seed->assign.value))
            xc.ok = false;
        else
            xp->seed = (unsigned long long)v.v;
    }
    if (xc.budget) {
        Val v;
        if (!sema_eval(&none, xc.budget->assign.value, &v) ||
            !sema_check_value(S, "budget", UK_TIME, 0, 0, 1e7, v, xc.budget->assign.value))
            xc.ok = false;
        else
            xp->budget_seconds = v.v;
    }
    if (xc.evals) {
        Val v;
        if (!sema_eval(&none, xc.evals->assign.value, &v) ||
            !sema_check_value(S, "evaluations", UK_NONE, F_INT, 1, 1e15, v, xc.evals->assign.value))
            xc.ok = false;
        else
            xp->budget_evals = (long long)v.v;
    }
    if (xc.pe) {
        const Expr *e = xc.pe->assign.value;
        int n = e->kind == EX_LIST ? e->list.count : 1;
        if (n == 0) {
            diag_error(S->d, e->loc, "the list of pe candidates is empty");
            xc.ok = false;
        }
        xp->pe_tuples = arena_alloc(S->a, sizeof(double[3]) * (size_t)(n ? n : 1));
        xp->pe_loc = xc.pe->assign.path_loc;
        for (int i = 0; i < n && xc.ok; i++) {
            const Expr *t = e->kind == EX_LIST ? e->list.items[i] : e;
            if (t->kind != EX_TUPLE || t->list.count != 3) {
                diag_error(S->d, t->loc, "'pe' candidates are (fpus, frequency, bandwidth) tuples, e.g. (8, 600 MHz, 25.6 GB/s)");
                xc.ok = false;
                break;
            }
            double v[3];
            HwField fs[3] = {HWF_pe_fpus, HWF_pe_frequency, HWF_pe_bandwidth};
            for (int j = 0; j < 3; j++)
                if (!xp_value(S, fs[j], t->list.items[j], &v[j]))
                    xc.ok = false;
            if (!xc.ok)
                break;
            bool dup = false;
            for (int j = 0; j < xp->npe_tuples; j++)
                dup |= xp->pe_tuples[j][0] == v[0] && xp->pe_tuples[j][1] == v[1] && xp->pe_tuples[j][2] == v[2];
            if (dup) {
                diag_warning(S->d, t->loc, "duplicate pe candidate ignored");
                continue;
            }
            memcpy(xp->pe_tuples[xp->npe_tuples++], v, sizeof v);
        }
        for (int i = 0; i < xp->naxes && xc.ok; i++) {
            HwField f = xp->axes[i].field;
            if (f == HWF_pe_fpus || f == HWF_pe_frequency || f == HWF_pe_bandwidth) {
                diag_error(S->d, xp->axes[i].loc, "'%s' is also set by 'pe' tuples; use one or the other",
                           hw_fields[f].path);
                xc.ok = false;
            }
        }
    }
    return xc.ok ? xp : NULL;
}


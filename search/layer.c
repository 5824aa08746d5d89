/* layer.c: one scope of a module as the search sees it (the layer graph, or the epilogue): one
 * DfProblem when it has at most DF_MAX_OPS ops, else its decode ops in topological order cut into
 * pieces of at most DF_MAX_OPS, each its own problem with its share of every channel's capacity (its
 * share of the scope's bytes), searched one after another so that the pieces' groups follow each
 * other (docs/dataflow.md §2.5). Used by the module's planning (plan.c); a problem can be moved to
 * another device (df_retarget). */
#include "search.h"

#include <math.h>
#include <string.h>

void df_retarget(DfProblem *p, const CostModel *cm, const Hardware *hw, int batch) {
    double es_old = p->es;
    p->hw = *hw;
    p->nmp = (int)hw->nmp_channels;
    p->normal = (int)(hw->channels - hw->nmp_channels);
    p->es = precision_bytes((Precision)hw->precision);
    for (int i = 0; i < p->nops; i++)
        p->ops[i].footprint *= p->es / es_old;
    p->nmp_util = cm->nmp_util ? cm->nmp_util(hw, batch) : 1.0;
}

void df_layer_free(DfLayer *l) {
    h2c_raw_free(l->pieces, sizeof(DfProblem) * (size_t)l->npieces);
    h2c_raw_free(l->op, sizeof(int) * (size_t)l->npieces * DF_MAX_OPS);
    h2c_raw_free(l->local, sizeof(int) * (size_t)(l->nphase + 1));
    h2c_raw_free(l->pstart, sizeof(int) * (size_t)(l->nphase + 1));
    h2c_raw_free(l->plist, sizeof(int) * (size_t)(l->nedges + 1));
    memset(l, 0, sizeof *l);
}

bool df_layer_from_module(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfLayer *l,
                          Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    memset(l, 0, sizeof *l);
    int n = 0;
    for (int i = 0; i < dc->nops; i++)
        n += dc->ops[i].scope == scope;
    l->nops = n;
    l->npieces = n <= DF_MAX_OPS ? 1 : (n + DF_MAX_OPS - 1) / DF_MAX_OPS;
    for (int i = 0; i < dc->nops; i++)
        l->nedges += dc->ops[i].ninputs;
    l->pieces = h2c_raw_alloc(sizeof(DfProblem) * (size_t)l->npieces);
    l->op = h2c_raw_alloc(sizeof(int) * (size_t)l->npieces * DF_MAX_OPS);
    l->pstart = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    l->plist = h2c_raw_alloc(sizeof(int) * (size_t)(l->nedges + 1));
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    if (!l->pieces || !l->op || !l->pstart || !l->plist || !order) {
        h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
        df_layer_free(l);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    /* the scope's ops numbered 0..n-1 in phase order (local), and their inputs in that numbering */
    l->local = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    if (!l->local) {
        h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
        df_layer_free(l);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    l->nphase = dc->nops;
    for (int i = 0, k = 0; i < dc->nops; i++)
        l->local[i] = dc->ops[i].scope == scope ? k++ : -1;
    int e = 0;
    for (int i = 0; i < dc->nops; i++) {
        if (l->local[i] < 0)
            continue;
        l->pstart[l->local[i]] = e;
        for (int j = 0; j < dc->ops[i].ninputs; j++)
            if (dc->ops[i].inputs[j] >= 0 && l->local[dc->ops[i].inputs[j]] >= 0)
                l->plist[e++] = l->local[dc->ops[i].inputs[j]];
    }
    l->pstart[n] = e;
    bool ok = true;
    if (l->npieces == 1) {
        /* the whole scope, ops in their own order */
        int k = 0;
        for (int i = 0; i < dc->nops; i++)
            if (dc->ops[i].scope == scope)
                l->op[k++] = i;
        ok = df_problem_of_ops(m, cm, l->op, n, &l->pieces[0], d);
    } else if (!ir_topo_order(dc, order)) {
        diag_error(d, dc->loc, "the ops of the decode phase form a cycle");
        ok = false;
    } else {
        /* the scope's ops in topological order, cut into runs */
        int k = 0;
        for (int i = 0; i < dc->nops; i++)
            if (dc->ops[order[i]].scope == scope)
                order[k++] = order[i];
        for (int c = 0; c < l->npieces && ok; c++) {
            int first = c * DF_MAX_OPS, count = n - first < DF_MAX_OPS ? n - first : DF_MAX_OPS;
            memcpy(&l->op[c * DF_MAX_OPS], &order[first], sizeof(int) * (size_t)count);
            ok = df_problem_of_ops(m, cm, &order[first], count, &l->pieces[c], d);
        }
    }
    h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
    if (!ok) {
        df_layer_free(l);
        return false;
    }
    for (int k = 0; k < l->npieces; k++) {
        l->pieces[k].scope = scope;
        l->pieces[k].layers = scope == SCOPE_LAYER ? m->model.layers : 1;
        if (hw)
            df_retarget(&l->pieces[k], cm, hw, m->work.batch);
    }
    if (l->npieces > 1) {
        /* each piece gets its share of every channel: its bytes over the layer's */
        double total = 0;
        for (int k = 0; k < l->npieces; k++)
            for (int i = 0; i < l->pieces[k].nops; i++)
                total += l->pieces[k].ops[i].footprint;
        for (int k = 0; k < l->npieces; k++) {
            double b = 0;
            for (int i = 0; i < l->pieces[k].nops; i++)
                b += l->pieces[k].ops[i].footprint;
            l->pieces[k].share = total > 0 ? b / total : 1.0 / l->npieces;
            l->pieces[k].hw.bank_capacity *= l->pieces[k].share;
        }
    }
    return true;
}

/* Every piece of l holds `bytes` per channel fewer (another scope's), in proportion to its share. */
void df_layer_reserve(DfLayer *l, double bytes) {
    for (int k = 0; k < l->npieces; k++)
        l->pieces[k].reserve = bytes * (l->npieces > 1 ? l->pieces[k].share : 1);
}

bool df_search_layer(const DfLayer *l, const CostModel *cm, const SearchOpts *o, SearchResult *each, SearchResult *r,
                     Diag *d) {
    if (l->npieces == 1) {
        bool ok = df_search(&l->pieces[0], cm, o, r, d);
        if (ok && each)
            each[0] = *r;
        return ok;
    }
    /* the pieces share a few budgets' worth of steps */
    SearchOpts po = *o;
    long long work = o->work_budget > 0 ? o->work_budget : DF_WORK_BUDGET;
    po.work_budget = work / l->npieces > work / 16 ? work / l->npieces : work / 16;
    po.cutoff = 0;
    memset(r, 0, sizeof *r);
    for (int k = 0; k < l->npieces; k++) {
        SearchResult one;
        if (!df_search(&l->pieces[k], cm, &po, &one, d))
            return false;
        if (each)
            each[k] = one;
        r->cost.prefill += one.cost.prefill;
        r->cost.decode += one.cost.decode;
        r->cost.decode_step += one.cost.decode_step;
        r->cost.total += one.cost.total;
        r->cost.energy += one.cost.energy;
        r->configs += one.configs;
        r->chunks += one.chunks ? one.chunks : 1;
        r->repaired |= one.repaired;
    }
    r->pieces = l->npieces;
    r->exact = false; /* the pieces' boundaries are group boundaries: a restricted space */
    r->value = df_objective(o->objective, &r->cost);
    r->bound = NAN;
    if (o->objective == OBJ_LATENCY || !cm->has_energy)
        r->bound = df_layer_bound(l, cm, o) + (cm->fixed_time ? cm->fixed_time(&l->pieces[0]) : 0);
    return true;
}

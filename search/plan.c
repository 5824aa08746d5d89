/* plan.c: the dataflow of a whole module (search/). A model is its prologue (token embedding), its
 * layer graph run `layers` times, and its epilogue (final norm, LM head), one after the other, so
 * the best plan is the best plan of each part: the epilogue is searched like a layer (its LM head,
 * the largest weight of the model, may stay on the NPU, go to the NMP PEs or be split), the layer
 * graph with the capacity the epilogue leaves, and the prologue's lookup runs on the NPU. Their
 * costs add up. A cost model that prices one layer (the H2-LLM artifact's) sees the layer graph only.
 * A scope of more than DF_MAX_OPS ops is searched in pieces (layer.c). */
#include "search.h"

#include <math.h>
#include <string.h>

/* Every op on the NPU, one after another, its data striped over every channel. */
static void npu_plan(const DfProblem *p, DfPlan *plan) {
    memset(plan, 0, sizeof *plan);
    plan->nops = p->nops;
    for (int i = 0; i < p->nops; i++) {
        DfAssign *a = &plan->a[i];
        plan->order[i] = i;
        a->group = i;
        a->ratio = -1;
        a->exec = DF_EXEC_NPU;
        if (p->ops[i].kind != DFK_OTHER) {
            a->nmp = chanset_first(p->nmp);
            a->normal = p->normal > 0;
            a->spread = true;
        }
    }
}

/* The bytes per channel a plan holds at most (an NMP channel, or a normal one of the group). */
static double max_load(const DfProblem *p, const DfPlan *plan) {
    double load[IR_MAX_CHANNELS], normal;
    df_plan_loads(p, plan, load, &normal);
    double worst = p->normal > 0 ? normal / p->normal : 0;
    for (int c = 0; c < IR_MAX_CHANNELS; c++)
        worst = load[c] > worst ? load[c] : worst;
    return worst;
}

static double scope_bytes(const DfLayer *l) {
    double s = 0;
    for (int k = 0; k < l->npieces; k++)
        for (int i = 0; i < l->pieces[k].nops; i++)
            s += l->pieces[k].ops[i].footprint;
    return s;
}

static void add_cost(CostResult *sum, const CostResult *c) {
    sum->prefill += c->prefill;
    sum->decode += c->decode;
    sum->total += c->total;
    sum->energy += c->energy;
}

void df_module_plan_free(ModulePlan *mp) {
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        h2c_raw_free(mp->each[s], sizeof(SearchResult) * (size_t)(mp->part[s].npieces + 1));
        df_layer_free(&mp->part[s]);
    }
    memset(mp, 0, sizeof *mp);
}

/* Searches one scope (all its pieces); mp->each[s] gets each piece's result, mp->r[s] their sum. */
static bool search_scope(ModulePlan *mp, int s, const CostModel *cm, const SearchOpts *o, Diag *d) {
    DfLayer *l = &mp->part[s];
    mp->each[s] = h2c_raw_alloc(sizeof(SearchResult) * (size_t)(l->npieces + 1));
    if (!mp->each[s]) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    return df_search_layer(l, cm, o, mp->each[s], &mp->r[s], d);
}

bool df_search_module(const Module *m, const CostModel *cm, const Hardware *hw, const SearchOpts *o, ModulePlan *mp,
                      Diag *d) {
    memset(mp, 0, sizeof *mp);
    /* refused before any work: a scope the search cannot take in reasonable time */
    const Phase *dc = &m->phases[PH_DECODE];
    int count[SCOPE_COUNT_] = {0};
    for (int i = 0; i < dc->nops; i++)
        count[dc->ops[i].scope]++;
    for (int s = 0; s < SCOPE_COUNT_; s++)
        if (count[s] > DF_MAX_SCOPE_OPS) {
            diag_error(d, m->model.loc, "model '%s': the %s has %d ops; the dataflow search takes at most %d ops per scope "
                       "(%d pieces of %d)", m->model.name, s == SCOPE_LAYER ? "layer" : op_scope_names[s], count[s],
                       DF_MAX_SCOPE_OPS, DF_MAX_SCOPE_OPS / DF_MAX_OPS, DF_MAX_OPS);
            diag_note(d, NOLOC, "a fixed mapping (--dataflow=npu-only, attn-nmp, attn-nmp-split or fc-nmp) has no "
                      "search and takes any number of ops");
            return false;
        }
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        if (s != SCOPE_LAYER && !cm->whole_model)
            continue;
        if (!df_layer_from_module(m, cm, hw, (OpScope)s, &mp->part[s], d)) {
            df_module_plan_free(mp);
            return false;
        }
        mp->has[s] = mp->part[s].nops > 0;
    }
    if (!mp->has[SCOPE_LAYER]) {
        diag_error(d, m->model.loc, "nothing to schedule: the model has no layer ops");
        df_module_plan_free(mp);
        return false;
    }
    const DfProblem *lp0 = &mp->part[SCOPE_LAYER].pieces[0];
    int channels = lp0->nmp + lp0->normal;
    double layer_bytes = scope_bytes(&mp->part[SCOPE_LAYER]);
    double pro_bytes = mp->has[SCOPE_PROLOGUE] ? scope_bytes(&mp->part[SCOPE_PROLOGUE]) : 0;
    bool additive = o->objective != OBJ_EDP;
    double fixed = 0, fixed_bound = 0;
    /* the prologue: lookups on the NPU */
    if (mp->has[SCOPE_PROLOGUE]) {
        DfLayer *l = &mp->part[SCOPE_PROLOGUE];
        mp->each[SCOPE_PROLOGUE] = h2c_raw_alloc(sizeof(SearchResult) * (size_t)(l->npieces + 1));
        if (!mp->each[SCOPE_PROLOGUE]) {
            diag_error(d, NOLOC, "out of memory");
            df_module_plan_free(mp);
            return false;
        }
        SearchResult *r = &mp->r[SCOPE_PROLOGUE];
        for (int k = 0; k < l->npieces; k++) {
            SearchResult *e = &mp->each[SCOPE_PROLOGUE][k];
            memset(e, 0, sizeof *e);
            npu_plan(&l->pieces[k], &e->plan);
            cm->evaluate(&l->pieces[k], &e->plan, &e->cost);
            e->value = df_objective(o->objective, &e->cost);
            e->bound = e->value;
            e->exact = true;
            add_cost(&r->cost, &e->cost);
        }
        r->value = df_objective(o->objective, &r->cost);
        r->bound = r->value;
        r->exact = true;
        fixed += r->value;
        fixed_bound += r->bound;
    }
    /* the epilogue, with the layers' bytes spread over every channel */
    if (mp->has[SCOPE_EPILOGUE]) {
        df_layer_reserve(&mp->part[SCOPE_EPILOGUE], (layer_bytes + pro_bytes) / channels);
        SearchOpts eo = *o;
        eo.cutoff = 0;
        if (!search_scope(mp, SCOPE_EPILOGUE, cm, &eo, d)) {
            diag_note(d, m->model.loc, "while placing the epilogue of model '%s'", m->model.name);
            df_module_plan_free(mp);
            return false;
        }
        fixed += mp->r[SCOPE_EPILOGUE].value;
        fixed_bound += mp->r[SCOPE_EPILOGUE].bound;
    }
    /* the layer graph, with what the epilogue holds */
    double epi_load = 0;
    if (mp->has[SCOPE_EPILOGUE])
        for (int k = 0; k < mp->part[SCOPE_EPILOGUE].npieces; k++)
            epi_load += max_load(&mp->part[SCOPE_EPILOGUE].pieces[k], &mp->each[SCOPE_EPILOGUE][k].plan);
    df_layer_reserve(&mp->part[SCOPE_LAYER], pro_bytes / channels + epi_load);
    SearchOpts lo = *o;
    lo.cutoff = o->cutoff > 0 && additive ? o->cutoff - fixed : 0;
    SearchResult *sum = &mp->sum;
    if (o->cutoff > 0 && additive && lo.cutoff <= 0) {
        /* the prologue and epilogue alone are past the cutoff */
        sum->dominated = true;
        sum->bound = fixed_bound;
        return true;
    }
    if (!search_scope(mp, SCOPE_LAYER, cm, &lo, d)) {
        df_module_plan_free(mp);
        return false;
    }
    const SearchResult *lr = &mp->r[SCOPE_LAYER];
    sum->configs = lr->configs + mp->r[SCOPE_EPILOGUE].configs;
    sum->repaired = lr->repaired || mp->r[SCOPE_EPILOGUE].repaired;
    sum->pieces = lr->pieces;
    sum->chunks = lr->chunks + mp->r[SCOPE_EPILOGUE].chunks;
    sum->exact = lr->exact && (!mp->has[SCOPE_EPILOGUE] || mp->r[SCOPE_EPILOGUE].exact);
    sum->estimate = lr->estimate;
    if (lr->dominated) {
        sum->dominated = true;
        sum->bound = additive ? lr->bound + fixed_bound : NAN;
        return true;
    }
    for (int s = 0; s < SCOPE_COUNT_; s++)
        if (mp->has[s])
            add_cost(&sum->cost, &mp->r[s].cost);
    sum->cost.decode_step = lr->cost.decode_step;
    if (m->work.generate > 0 && cm->whole_model)
        sum->cost.decode_step = sum->cost.decode / m->work.generate;
    sum->value = df_objective(o->objective, &sum->cost);
    sum->bound = additive ? lr->bound + fixed_bound : NAN;
    return true;
}

double df_module_decode_energy(const ModulePlan *mp, const CostModel *cm) {
    if (!cm->detail || !cm->has_energy)
        return NAN;
    CostDetail *det = h2c_raw_alloc(sizeof *det);
    if (!det)
        return NAN;
    double e = 0;
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        if (!mp->has[s])
            continue;
        const DfLayer *l = &mp->part[s];
        for (int k = 0; k < l->npieces; k++) {
            cm->detail(&l->pieces[k], &mp->each[s][k].plan, det);
            for (int i = 0; i < l->pieces[k].nops; i++)
                for (int f = 0; f < EF_COUNT_; f++)
                    e += det->op[PH_DECODE][i].energy[f];
        }
    }
    h2c_raw_free(det, sizeof *det);
    return e;
}

/* plan.c: the dataflow of a whole module (search/). A model is its prologue (token embedding), its
 * layer graph run `layers` times, and its epilogue (final norm, LM head), one after the other, so
 * the best plan is the best plan of each part: the epilogue is searched like a layer (its LM head,
 * the largest weight of the model, may go to the NPU, the NMP PEs or be split), the layer graph
 * with the capacity the epilogue leaves, and the prologue's lookup runs on the NPU. Their costs
 * add up. A cost model that prices one layer (the H2-LLM artifact's) sees the layer graph only. */
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

static double total_footprint(const DfProblem *p) {
    double s = 0;
    for (int i = 0; i < p->nops; i++)
        s += p->ops[i].footprint;
    return s;
}

static void add_cost(CostResult *sum, const CostResult *c) {
    sum->prefill += c->prefill;
    sum->decode += c->decode;
    sum->total += c->total;
    sum->energy += c->energy;
}

bool df_search_module(const Module *m, const CostModel *cm, const Hardware *hw, const SearchOpts *o, ModulePlan *mp,
                      Diag *d) {
    memset(mp, 0, sizeof *mp);
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        OpScope sc = (OpScope)s;
        if (sc != SCOPE_LAYER && !cm->whole_model)
            continue;
        DfProblem *p = &mp->p[s];
        if (!(hw ? explore_problem_scope(m, cm, hw, sc, p, d) : df_problem_scope(m, cm, sc, p, d)))
            return false;
        mp->has[s] = p->nops > 0;
    }
    if (!mp->has[SCOPE_LAYER]) {
        diag_error(d, m->model.loc, "nothing to schedule: the model has no layer ops");
        return false;
    }
    int channels = mp->p[SCOPE_LAYER].nmp + mp->p[SCOPE_LAYER].normal;
    double layer_bytes = total_footprint(&mp->p[SCOPE_LAYER]);
    /* the prologue: a lookup on the NPU */
    if (mp->has[SCOPE_PROLOGUE]) {
        SearchResult *r = &mp->r[SCOPE_PROLOGUE];
        npu_plan(&mp->p[SCOPE_PROLOGUE], &r->plan);
        cm->evaluate(&mp->p[SCOPE_PROLOGUE], &r->plan, &r->cost);
        r->value = df_objective(o->objective, &r->cost);
        r->bound = r->value;
    }
    double pro_bytes = mp->has[SCOPE_PROLOGUE] ? total_footprint(&mp->p[SCOPE_PROLOGUE]) : 0;
    /* the epilogue, with the layers' bytes spread over every channel */
    double fixed = mp->has[SCOPE_PROLOGUE] ? mp->r[SCOPE_PROLOGUE].value : 0, fixed_bound = fixed;
    if (mp->has[SCOPE_EPILOGUE]) {
        DfProblem *p = &mp->p[SCOPE_EPILOGUE];
        p->reserve = (layer_bytes + pro_bytes) / channels;
        SearchOpts eo = *o;
        eo.cutoff = 0;
        if (!df_search(p, cm, &eo, &mp->r[SCOPE_EPILOGUE], d)) {
            diag_note(d, m->model.loc, "while placing the epilogue of model '%s'", m->model.name);
            return false;
        }
        fixed += mp->r[SCOPE_EPILOGUE].value;
        fixed_bound += mp->r[SCOPE_EPILOGUE].bound;
    }
    /* the layer graph, with what the epilogue holds */
    DfProblem *lp = &mp->p[SCOPE_LAYER];
    lp->reserve = pro_bytes / channels + (mp->has[SCOPE_EPILOGUE] ? max_load(&mp->p[SCOPE_EPILOGUE],
                                                                             &mp->r[SCOPE_EPILOGUE].plan) : 0);
    SearchOpts lo = *o;
    bool additive = o->objective != OBJ_EDP;
    lo.cutoff = o->cutoff > 0 && additive ? o->cutoff - fixed : 0;
    if (o->cutoff > 0 && additive && lo.cutoff <= 0) {
        /* the epilogue alone is past the cutoff */
        mp->sum.dominated = true;
        mp->sum.bound = fixed_bound;
        return true;
    }
    if (!df_search(lp, cm, &lo, &mp->r[SCOPE_LAYER], d))
        return false;
    SearchResult *sum = &mp->sum;
    const SearchResult *lr = &mp->r[SCOPE_LAYER];
    sum->plan = lr->plan;
    sum->configs = lr->configs + mp->r[SCOPE_EPILOGUE].configs;
    sum->repaired = lr->repaired || mp->r[SCOPE_EPILOGUE].repaired;
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

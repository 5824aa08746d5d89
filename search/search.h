/* search.h: finding plans and designs (search/): the exact dataflow search over the H2-LLM hierarchy
 * for one device (search.c) and hardware x dataflow co-exploration over a design space (explore.c).
 * Both take the cost model to use as an argument; they know no model by name. */
#ifndef H2C_SEARCH_H
#define H2C_SEARCH_H

#include "cost.h"

/* ---------------------------------------------------------------- search.c
 * The exact dataflow search: dynamic programming over the H2-LLM hierarchy (groups in sequence over
 * the ideals of the graph; parallel partitions combined exactly; strata in sequence over the ideals
 * of a partition; every channel assignment of a stratum; MIX splits solved by crossing searches on
 * monotone pieces). Channels are interchangeable, so it works on counts and names them at the end.
 * docs/dataflow.md gives the argument for why the plan it returns is optimal. */

typedef struct SearchOpts {
    DataflowMode mode;      /* DF_DATA_CENTRIC or DF_COMPUTE_CENTRIC */
    Objective objective;
    bool capacity;          /* keep every channel within its capacity */
    Arena *scratch;         /* memory to reuse across searches (one per thread), or NULL */
    double cutoff;          /* > 0: if even the unconstrained optimum is worse, stop (result: dominated) */
} SearchOpts;

typedef struct SearchResult {
    DfPlan plan;
    CostResult cost;        /* the plan evaluated by the cost model */
    double value;           /* the objective's value for the plan */
    double bound;           /* a lower bound on the objective over every legal plan */
    long long configs;      /* stratum channel assignments evaluated */
    bool repaired;          /* the unconstrained optimum broke capacity and was repaired */
    bool dominated;         /* stopped at the cutoff: value and plan are not set, bound is */
} SearchResult;

/* The search's cost grows exponentially with the width of the layer (its largest set of ops with
 * no path between any two); layers wider than this are refused with a message. */
#define DF_MAX_WIDTH 8
int df_width(const DfProblem *p);
/* False, with a diagnostic at `at` naming the model (or "the layer" if model is NULL), if p is too wide. */
bool df_check_width(const DfProblem *p, const char *model, Loc at, Diag *d);
/* Finds the best plan for p under cm. False (with a diagnostic) if there is no legal plan. */
bool df_search(const DfProblem *p, const CostModel *cm, const SearchOpts *o, SearchResult *r, Diag *d);
/* The objective's value for a cost: latency (s), energy (J) or their product. */
double df_objective(Objective obj, const CostResult *c);
/* Channel loads of a plan: false if an NMP channel or the normal group overflows (bytes). */
bool df_capacity_ok(const DfProblem *p, const DfPlan *plan);
/* Bytes (all layers) each NMP channel and the normal group hold under plan. */
void df_plan_loads(const DfProblem *p, const DfPlan *plan, double load[IR_MAX_CHANNELS], double *normal);

/* ---------------------------------------------------------------- plan.c
 * The dataflow of a whole module: the prologue on the NPU, the epilogue and the layer graph each
 * searched (the layer with the capacity the epilogue leaves), their costs summed. */

typedef struct ModulePlan {
    bool has[SCOPE_COUNT_];         /* the scope has ops (and the cost model prices it) */
    DfProblem p[SCOPE_COUNT_];      /* each scope's problem */
    SearchResult r[SCOPE_COUNT_];   /* each scope's plan and cost (the prologue's is fixed) */
    SearchResult sum;               /* the layer's plan, the summed cost, its objective value and bound */
} ModulePlan;

/* Plans every scope of m on hw (NULL: the module's device) under cm; false with a diagnostic if a
 * scope has no legal plan. With o->cutoff, sum.dominated may be set as df_search does. */
bool df_search_module(const Module *m, const CostModel *cm, const Hardware *hw, const SearchOpts *o, ModulePlan *mp,
                      Diag *d);


/* ---------------------------------------------------------------- explore.c */

typedef struct ExploreOpts {
    const CostModel *cm;        /* the cost model to search under */
    int threads;                /* worker threads */
    double budget_seconds;      /* start no design after this many seconds (0: no limit) */
    long long budget_evals;     /* evaluate at most this many distinct designs, in order (0: all) */
    bool progress;              /* a progress line on stderr */
} ExploreOpts;

typedef struct Design {
    Hardware hw;                /* the device */
    int dup_of;                 /* -1, or the design it cannot differ from (it is not evaluated) */
    bool valid;                 /* consistent (nmp.channels <= channels, ...) */
    bool evaluated;             /* searched (not cut by a budget) */
    bool ok;                    /* a legal dataflow exists */
    SearchResult sr;
    double seconds;             /* search time */
} Design;

typedef struct ExploreResult {
    Design *designs;            /* every design of the space, in index order */
    int n;                      /* designs in the space */
    int distinct;               /* designs that can differ */
    int invalid;                /* inconsistent designs */
    int evaluated;              /* distinct designs searched */
    int best;                   /* index of the best, lowest index on a tie; -1 if none */
    bool stopped;               /* a budget ran out */
    double seconds;
} ExploreResult;

/* Searches every distinct design of the module's `explore` space (or just its device if xp is NULL). */
bool explore_run(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreResult *r, Diag *d);
void explore_result_free(ExploreResult *r);
/* Indices of the designs on the latency-energy Pareto front, by latency. out has room for r->n. */
int explore_pareto(const ExploreResult *r, int *out);
/* The problem of the module on another device. */
bool explore_problem(const Module *m, const CostModel *cm, const Hardware *hw, DfProblem *p, Diag *d);
/* The same for one scope of the module. */
bool explore_problem_scope(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfProblem *p,
                           Diag *d);
/* The report: the space, the best `top` designs, the Pareto front (h2c model), the best. */
void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads);
/* Every design of the space, one CSV line each. */
void explore_write_csv(FILE *out, const Explore *xp, const ExploreResult *r);


#endif

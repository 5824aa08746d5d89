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

/* What one search may spend. The exact search's work grows exponentially with the width of the
 * layer (its largest set of ops with no path between any two); when it would take more, the search
 * falls back to the restricted search (exact within chunks of the layer) and bounds the optimum from
 * below instead (docs/dataflow.md §2.3-2.4). Work is counted in steps (stratum assignments, front
 * merges, groupings), not seconds, so the outcome does not depend on the machine or its load. */
#define DF_WORK_BUDGET 3000000LL            /* steps: about 0.5 s on a 2-core machine */
#define DF_MEMORY_BUDGET (64u << 20)        /* bytes of search memory */
#define DF_MAX_SCOPE_OPS 4096               /* ops of one scope the search takes (128 pieces, ~2 s) */

typedef struct SearchOpts {
    DataflowMode mode;      /* DF_DATA_CENTRIC or DF_COMPUTE_CENTRIC */
    Objective objective;
    bool capacity;          /* keep every channel within its capacity */
    Arena *scratch;         /* memory to reuse across searches (one per thread), or NULL */
    double cutoff;          /* > 0: if even the unconstrained optimum is worse, stop (result: dominated) */
    long long work_budget;  /* steps one exact search may take (0: DF_WORK_BUDGET) */
    size_t memory_budget;   /* bytes one search may hold (0: DF_MEMORY_BUDGET) */
    SplitSpace splits;      /* the MIX splits it may use: all, or only the artifact's */
    int threads;            /* a scope cut in pieces: pieces searched at once (0 or 1: one after another);
                               the plan does not depend on it */
    bool skip_bound;        /* no bound wanted when the search is restricted (a piece of a scope, whose
                               bound is the whole scope's); the result's bound is then NAN */
} SearchOpts;

typedef struct SearchResult {
    DfPlan plan;
    CostResult cost;        /* the plan evaluated by the cost model */
    double value;           /* the objective's value for the plan */
    double bound;           /* a lower bound on the objective over every legal plan (NAN: none known) */
    long long configs;      /* stratum channel assignments evaluated */
    bool exact;             /* the exact search finished: bound is the optimum without capacity limits;
                               else the restricted search chose the plan and bound is the relaxation's */
    int chunks;             /* the restricted search's chunks (0: it did not run) */
    double estimate;        /* the exact search's steps, estimated before it starts (a lower bound) */
    int pieces;             /* a layer searched in pieces (layer.c): how many (0: one problem) */
    bool repaired;          /* the unconstrained optimum broke capacity and was repaired */
    bool dominated;         /* stopped at the cutoff: value and plan are not set, bound is */
} SearchResult;

/* The width of the layer: its largest set of ops with no path between any two (Dilworth). */
int df_width(const DfProblem *p);
/* Finds the best plan for p under cm. False (with a diagnostic) if there is no legal plan. */
bool df_search(const DfProblem *p, const CostModel *cm, const SearchOpts *o, SearchResult *r, Diag *d);
/* The objective's value for a cost: latency (s), energy (J) or their product. */
double df_objective(Objective obj, const CostResult *c);
/* Channel loads of a plan: false if an NMP channel or the normal group overflows (bytes). */
bool df_capacity_ok(const DfProblem *p, const DfPlan *plan);
/* Bytes (all layers) each NMP channel and the normal group hold under plan. */
void df_plan_loads(const DfProblem *p, const DfPlan *plan, double load[IR_MAX_CHANNELS], double *normal);

/* ---------------------------------------------------------------- layer.c
 * A layer of more than DF_MAX_OPS ops is searched in pieces: its decode ops in topological order,
 * cut into runs of at most DF_MAX_OPS, each a DfProblem with its share of every channel's capacity
 * (its share of the layer's bytes), searched one after another; the pieces' groups follow each
 * other. A layer of at most DF_MAX_OPS ops is one piece, the module's own problem. */

typedef struct DfLayer {
    int npieces;
    DfProblem *pieces;      /* in order; together every decode op of the scope */
    int *op;                /* op[k * DF_MAX_OPS + i]: the decode op that is op i of piece k */
    int nops;               /* the scope's decode ops */
    int nphase;             /* the decode phase's ops */
    int *local;             /* local[j]: decode op j's number among the scope's ops (phase order), or -1 */
    int nedges;
    int *pstart, *plist;    /* local op j's inputs (local numbers): plist[pstart[j] .. pstart[j + 1]) */
} DfLayer;

/* One scope of the module (the layer graph, the epilogue), on device hw (NULL: the module's own).
 * False (with a diagnostic) on failure. */
bool df_layer_from_module(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfLayer *l,
                          Diag *d);
/* Every piece of l keeps `bytes` per channel free for the module's other scopes (in proportion to
 * its share of the scope). */
void df_layer_reserve(DfLayer *l, double bytes);
void df_layer_free(DfLayer *l);
/* Searches every piece: each[k] (if not NULL) gets piece k's result, r their sum, with the bound of
 * the whole layer. For one piece this is df_search. */
bool df_search_layer(const DfLayer *l, const CostModel *cm, const SearchOpts *o, SearchResult *each, SearchResult *r,
                     Diag *d);
/* Moves a problem to another device (channels, precision, the model's utilisation at this batch). */
void df_retarget(DfProblem *p, const CostModel *cm, const Hardware *hw, int batch);
/* search.c: the relaxation's lower bound (latency) for a layer in pieces, the paths over the whole layer. */
double df_layer_bound(const DfLayer *l, const CostModel *cm, const SearchOpts *o);


/* ---------------------------------------------------------------- plan.c
 * The dataflow of a whole module: the prologue on the NPU, the epilogue and the layer graph each
 * searched (the layer with the capacity the epilogue leaves), their costs summed. */

typedef struct ModulePlan {
    bool has[SCOPE_COUNT_];         /* the scope has ops (and the cost model prices it) */
    DfLayer part[SCOPE_COUNT_];     /* each scope's problem, or its pieces */
    SearchResult *each[SCOPE_COUNT_];   /* each piece's plan and cost (part[s].npieces of them) */
    SearchResult r[SCOPE_COUNT_];   /* each scope's cost summed over its pieces (the prologue's fixed) */
    SearchResult sum;               /* the summed cost, its objective value and bound; plan: unused */
} ModulePlan;

/* Plans every scope of m on hw (NULL: the module's device) under cm; false with a diagnostic if a
 * scope has no legal plan. With o->cutoff, sum.dominated may be set as df_search does. */
bool df_search_module(const Module *m, const CostModel *cm, const Hardware *hw, const SearchOpts *o, ModulePlan *mp,
                      Diag *d);
/* Frees what df_search_module allocated (safe on a zeroed or failed ModulePlan). */
void df_module_plan_free(ModulePlan *mp);
/* Joules of a module plan's decode steps (every scope, every layer, every step), from the cost model's
 * op-by-op detail; NAN if the model gives none. */
double df_module_decode_energy(const ModulePlan *mp, const CostModel *cm);


/* ---------------------------------------------------------------- explore.c
 * Hardware x dataflow co-exploration, streamed: the designs of a space are numbered, visited in an
 * order that reaches every value of every axis early, and handed out in chunks of that order to
 * threads (explore_drive) or to MPI ranks (tools/explore_mpi.c, through the same calls). A chunk's
 * designs are searched into an ExploreState, and states merge deterministically (objective, then
 * energy, then index): the outcome depends neither on the thread nor on the rank count, nor on how
 * a run was cut by checkpoints. docs/distributed.md says how. */

/* The ablation of one sweep point: decode (all steps) time and energy of the dense HB baseline and of
 * the full sparse plan (per-head patterns, co-placement, balance) for the point's workload, sparsity
 * and device. speedup = base_decode / full_decode, energy gain = base_energy / full_energy. */
typedef struct Ablation {
    double base_decode, base_energy;    /* seconds, joules: dense attention on the same HB device */
    double full_decode, full_energy;    /* the full plan */
} Ablation;

/* THE HOOK FOR THE ABLATION RATIO. Prices one sweep point: m is the module at the point's workload
 * (shapes filled, nothing placed), hw the point's device (the best of the hardware space at that
 * workload), sp the point's sparsity settings. It lives above search/ (the sparsity passes and the
 * cost of sparse attention, passes/), so the CLI passes it in ExploreOpts.ablation; false (with a
 * diagnostic on d) if the point cannot be priced. Until it is connected (ExploreOpts.ablation NULL),
 * base and full are both the dense plan's decode time and energy under the cost model, and the
 * speedup and energy gain are 1. */
typedef bool (*ExploreAblationFn)(const Module *m, const Hardware *hw, const Sparsity *sp, Ablation *out, Diag *d,
                                  void *ctx);

typedef struct ExploreOpts {
    const CostModel *cm;        /* the cost model to search under */
    int threads;                /* worker threads */
    double budget_seconds;      /* start no design after this many seconds (0: no limit) */
    long long budget_evals;     /* search at most this many consistent distinct designs, in the visit order (0: all) */
    bool budget_from_block;     /* budget_seconds is the explore block's `budget` (for the report) */
    bool evals_from_block;      /* budget_evals is the explore block's `evaluations` */
    bool progress;              /* a progress line on stderr (from the process that merges) */
    bool stream;                /* keep only the table's `top` designs, the Pareto front and each work point's
                                   best: memory bounded whatever the space's size (at most 10^12 distinct designs
                                   without a budget); else every design visited (at most 200,000) */
    int top;                    /* designs in the table (0: 10) */
    long long chunk;            /* positions of the visit order per chunk (0: shrinking with what is left) */
    const char *checkpoint;     /* resume from this file if it is there, and write it as the run goes (NULL: none) */
    double checkpoint_every;    /* seconds between checkpoints (0: after every chunk); one is written at the end */
    Module *const *models;      /* a `models` sweep axis: each model's module (lowered, shapes filled), in its order */
    int nmodels;
    void (*on_merge)(void *ctx, long long chunks); /* after each chunk merged (and checkpointed): the CLI's
                                                      fault injection for the kill-and-resume tests; may be NULL */
    void *on_merge_ctx;
    int ranks;                  /* MPI ranks taking part (for the report; 0 or 1: one process) */
    ExploreAblationFn ablation; /* a sweep's speedup and energy gain (NULL: not connected, both 1) */
    void *ablation_ctx;         /* passed to it */
} ExploreOpts;

/* A distinct design of the space: it stands for the designs that differ from it only in fields no
 * cost model reads, and is the first of them. Its device is explore_device(index). */
typedef struct Design {
    long long index;            /* in the space: the last axis varies fastest, the pe tuples slowest, then the
                                   sweep's work points */
    long long stands_for;       /* designs of the space it stands for, itself included */
    bool valid;                 /* consistent (nmp.channels <= channels, ...) */
    bool evaluated;             /* searched (not cut by a budget) */
    bool ok;                    /* a legal dataflow exists */
    bool exact;                 /* the exact search chose its dataflow (else the restricted one) */
    int work;                   /* the sweep's work point (model x workload x batch x context), 0 without one */
    double total, prefill, decode, decode_step, energy;     /* the plan's cost */
    double decode_energy;       /* joules of the decode steps (a sweep only; NAN: not priced by op) */
    double value;               /* the objective's value */
    double bound;               /* a lower bound on it for this device (NAN: none) */
    long long configs;          /* stratum assignments the search evaluated */
    double seconds;             /* search time (statistics only: no output that is compared shows it) */
} Design;

typedef enum ExploreStop {
    EXPLORE_DONE,               /* every distinct design was visited */
    EXPLORE_STOP_EVALUATIONS,   /* the evaluation budget left designs out */
    EXPLORE_STOP_TIME,          /* the time budget ran out */
} ExploreStop;

/* A point of a sweep: one value of every sweep axis, with the best device of the hardware space at
 * its work point (model, workload, batch, context). */
typedef struct SweepPoint {
    int work;                   /* its work point, 0 without work axes */
    int entry;                  /* the best design at that work point (an entry of designs), -1: none fits */
    int model;                  /* its value of the models axis (an index into it), -1: none */
    int workload;               /* its value of the workloads axis, -1: none */
    Workload wl;                /* its workload */
    bool has_sparsity;          /* the module has a sparsity block (sp is then its settings at this point) */
    Sparsity sp;                /* its sparsity settings: the block's, with the swept values */
    Ablation ab;                /* the baseline's and the full plan's decode cost */
    bool ablated;               /* ab came from ExploreOpts.ablation (else both are the dense plan) */
} SweepPoint;

typedef struct ExploreResult {
    Design *designs;            /* the designs kept, in index order: every one visited, or (streamed) the
                                   table's, the Pareto front's and each work point's best */
    int n, cap;
    bool streamed;              /* designs holds only what a stream keeps */
    long long space;            /* designs in the space */
    long long distinct;         /* designs that can differ */
    long long hw_space;         /* designs of the hardware space (a sweep's at each work point) */
    long long invalid;          /* inconsistent designs among those visited */
    long long evaluated;        /* distinct designs searched */
    long long restricted;       /* of those, searched by the restricted search */
    int best;                   /* the entry of the best design, lowest index on a tie; -1 if none */
    ExploreStop stopped;
    char stop_reason[96];       /* what stopped it, as the user set it ("--evaluations 5") */
    char uncovered[160];        /* axis values no searched design has, as text ("" if none) */
    double seconds;             /* this run's wall time */
    double search_seconds;      /* the searches' time, summed over every run of a resumed exploration */
    int ranks;                  /* MPI ranks (0 or 1: one process) */
    bool resumed;               /* a checkpoint was read */
    SweepPoint *points;         /* a sweep's points (the last sweep axis fastest), or NULL */
    int npoints;
} ExploreResult;

/* An exploration under way: the space numbered, its visit order, the modules of the sweep's work
 * points, and (in the process that merges) the merged state, the finished ranges of the visit order
 * and where the next chunk starts. */
typedef struct ExploreRun ExploreRun;
/* What a chunk of the visit order found: counts, the `top` best, the Pareto front, each work point's
 * best, which axis values were searched, and (not streamed) every design. Mergeable in any order. */
typedef struct ExploreState ExploreState;

/* Prepares a run of the module's `explore` space (or just its device if xp is NULL) and, if
 * o->checkpoint names a file that is there, resumes from it (refused, with the reason, if it is of
 * another exploration, another h2c, or damaged). False with a diagnostic. */
bool explore_open(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreRun **out, Diag *d);
void explore_close(ExploreRun *run);
/* A hash of everything the results depend on (the module, the space, the options, h2c's version). */
unsigned long long explore_fingerprint(const ExploreRun *run);
/* Positions of the visit order in all. */
long long explore_positions(const ExploreRun *run);
/* Positions the next chunk should have for `workers` workers: --chunk, or what is left over 8 times
 * the workers, between 1 and 4,096. */
long long explore_chunk_size(const ExploreRun *run, int workers);
/* The next chunk [*k0, *k1) of at most max positions that is neither finished nor handed out; false
 * when none is left (or the time budget ran out). Not thread-safe: one caller at a time. */
bool explore_next_chunk(ExploreRun *run, long long max, long long *k0, long long *k1);
/* Merges what chunk [k0, k1) found in [k0, kend) (kend < k1: the time budget stopped it, and the run
 * counts as stopped by it), marks that range finished, prints progress and writes the checkpoint when
 * due. False (with a diagnostic) if the checkpoint cannot be written or memory ran out. Not
 * thread-safe. */
bool explore_chunk_done(ExploreRun *run, long long k0, long long k1, long long kend, const ExploreState *st, Diag *d);
/* No further chunk is handed out (an error elsewhere). */
void explore_halt(ExploreRun *run);

/* How a driver gets and returns chunks. Every call is made under one lock. */
typedef struct ExploreHooks {
    bool (*next)(void *ctx, long long *k0, long long *k1);  /* a chunk to search; false: none is left */
    bool (*done)(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st); /* searched up to
                                                                                  kend; false: stop (an error) */
    void (*poll)(void *ctx);        /* between designs, on the first thread (MPI traffic); may be NULL */
    bool (*pending)(void *ctx);     /* after its last chunk the first thread polls until this is false */
    void *ctx;
} ExploreHooks;
/* Searches chunks on `threads` threads (the calling one is the first) until next says none is left.
 * h NULL: this process alone (explore_next_chunk and explore_chunk_done). False (with a diagnostic)
 * if a hook failed. */
bool explore_drive(ExploreRun *run, int threads, const ExploreHooks *h, Diag *d);
/* The result from the merged state: the designs kept, the best, what stopped the run, the coverage,
 * and a sweep's points (priced through the ablation hook); writes the last checkpoint. False with a
 * diagnostic if no design has a legal dataflow. The result does not point into the run. */
bool explore_finish(ExploreRun *run, ExploreResult *r, Diag *d);

ExploreState *explore_state_new(const ExploreRun *run);    /* NULL when out of memory */
/* Designs a state visited (consistent or not) and searched, and the searches' summed time. */
void explore_state_counts(const ExploreState *st, long long *visited, long long *searched, double *seconds);
void explore_state_reset(ExploreState *st);
void explore_state_free(ExploreState *st);
/* A state as bytes (an MPI message); NULL when out of memory. Free with explore_bytes_free. */
unsigned char *explore_state_encode(const ExploreState *st, size_t *len);
/* Reads what explore_state_encode wrote (of the same run) into st (reset first), checking every field
 * against the run; false with an error naming `what` if the bytes are not such a state. */
bool explore_state_decode(const ExploreRun *run, const unsigned char *p, size_t len, ExploreState *st,
                          const char *what, Diag *d);
void explore_bytes_free(unsigned char *p, size_t len);
/* The checkpoint as bytes: the run's identity, the finished ranges, the merged state, a checksum. */
unsigned char *explore_checkpoint_encode(const ExploreRun *run, size_t *len);
/* Resumes from checkpoint bytes (`name` for the messages), as explore_open does from the file; the
 * bytes are hostile: every field is bounded and checked. False with the reason. */
bool explore_checkpoint_decode(ExploreRun *run, const unsigned char *p, size_t len, const char *name, Diag *d);

/* explore_open, explore_drive on o->threads threads and explore_finish in one call. */
bool explore_run(const Module *m, const Explore *xp, const ExploreOpts *o, ExploreResult *r, Diag *d);
void explore_result_free(ExploreResult *r);
/* Designs in order of the objective, then the other measure (energy for a latency objective, else
 * latency), then index. */
int explore_design_order(const Design *a, const Design *b);
/* Indices of the designs on the latency-energy Pareto front, by latency. out has room for r->n. */
int explore_pareto(const ExploreResult *r, int *out);
/* The problem of the module on another device. */
bool explore_problem(const Module *m, const CostModel *cm, const Hardware *hw, DfProblem *p, Diag *d);
/* The same for one scope of the module. */
bool explore_problem_scope(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfProblem *p,
                           Diag *d);
/* The device of design `index` of the space. */
void explore_device(const Module *m, const Explore *xp, long long index, Hardware *hw);

/* ---------------------------------------------------------------- explore_report.c */

/* The report: the space, the best `top` designs, the Pareto front (h2c model), the best; for a sweep
 * the table of its points. */
void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads);
/* One CSV line per design kept (every one visited; streamed: the table's and the front's, with their
 * rank and whether they are on the front); for a sweep, one line per point instead, with the sweep
 * values, the point's best device and the ablation's columns. No column depends on timing. */
void explore_write_csv(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r);
/* v with thousands separators (40,000) into buf of n bytes, cut to fit. */
void explore_fmt_count(char *buf, size_t n, long long v);


#endif

/* passes.h: the passes over the IR, one file each (passes/<name>.c exporting pass_<name>), and the
 * pipeline that runs them in order with the verifier in between (pipeline.c). */
#ifndef H2C_PASSES_H
#define H2C_PASSES_H

#include "ir.h"

typedef bool (*PassFn)(Module *m, Diag *d);

typedef struct Pass {
    const char *name;       /* as written in --passes and --print-ir-after */
    PassFn run;
    const char *summary;    /* one line, for --help */
} Pass;

/* ---------------------------------------------------------------- cost.c: what the cost models see
 * A DfProblem is one layer's GEMM graph with its prefill and decode shapes on one device, for one
 * workload; a DfPlan is a dataflow for it: per op a position in the H2-LLM hierarchy (group = MAG,
 * part = MPG, stratum), the NMP channels holding and computing its NMP share, whether it also
 * lives on the normal channels, and how much of its split dimension is on NMP. Both cost models,
 * the search, `h2c compat` (from the artifact's JSON) and the IR (passes/dataflow.c) meet here. */

#define DF_MAX_OPS 32

typedef enum DfKind {
    DFK_FC,         /* a GEMM against weights: splits along N (weight columns) */
    DFK_ATTN,       /* attention (QK or SV): splits along B (KV head x batch pairs) */
    DFK_OTHER,      /* softmax, norm, activation, add, mul: on the NPU, no storage */
} DfKind;

typedef struct Gemm {
    double B, M, N, K;  /* batched GEMM B x (M x K) . (K x N) */
} Gemm;

typedef struct DfOp {
    const char *name;
    DfKind kind;
    OpCode code;
    Gemm pre;           /* prefill shape (context = prompt) */
    Gemm dec;           /* decode shape at the last context */
    int ctx_dim;        /* which of pre/dec's N (2) or K (3) is the context; -1: none */
    uint32_t preds;     /* bit j: op j is an input */
    double footprint;   /* bytes of its weights or KV cache (max_seq), all layers */
} DfOp;

typedef struct DfProblem {
    Hardware hw;        /* the device's parameters */
    int nmp, normal;    /* channel counts */
    int batch, prompt, gen, max_seq;
    int ctx_first, ctx_last;    /* decode contexts: prompt+1 .. min(prompt+gen, max_seq) */
    int layers, hidden, intermediate, vocab, heads, kv_heads, head_dim;
    double es;          /* bytes per element */
    int nops;
    DfOp ops[DF_MAX_OPS];
    double nmp_util;    /* the artifact's NMP utilisation factor (1 except its ID-NMP points) */
} DfProblem;

typedef enum DfExec {
    DF_EXEC_AUTO,       /* data-centric: NMP only -> NMP, normal only -> NPU, both -> MIX */
    DF_EXEC_NPU,        /* all on the NPU, reading from wherever the op is stored (the baselines) */
    DF_EXEC_NMP,        /* all on the NMP PEs of `nmp` */
    DF_EXEC_MIX,        /* `split` on the NMP PEs, the rest on the NPU */
} DfExec;

typedef struct DfAssign {
    int group, part, stratum;   /* decode position: MAG, MPG, stratum */
    ChanSet nmp;        /* NMP channels holding (and computing) the op's NMP share */
    bool normal;        /* the op also lives on (all) the normal channels */
    long long split;    /* NMP share along the split dimension: N columns (fc) or B GEMMs (attention) */
    double ratio;       /* >= 0: the artifact's r; split is then int(S * r) as the artifact computes it */
    DfExec exec;        /* how decode runs; AUTO derives it from nmp/normal as H2-LLM does */
    bool spread;        /* the NPU's share is striped over every channel, not only the normal ones */
} DfAssign;

/* The decode execution of an assignment, with AUTO resolved. */
DfExec df_exec_of(const DfAssign *a);

typedef struct DfPlan {
    int nops;
    DfAssign a[DF_MAX_OPS];
    int order[DF_MAX_OPS];      /* evaluation order: ops are summed in this order within a stratum */
} DfPlan;

typedef struct CostResult {
    double prefill;         /* seconds (artifact: one layer; h2c: the whole model) */
    double decode;          /* seconds, all decode steps */
    double decode_step;     /* artifact: one step at the last context; h2c: decode / steps */
    double total;           /* prefill + decode */
    double energy;          /* joules (the artifact: always 0) */
    double op_prefill[DF_MAX_OPS];  /* per op, prefill seconds */
    double op_decode[DF_MAX_OPS];   /* per op, decode seconds (its own time, before overlap) */
} CostResult;

/* One op under one mapping, as the search sees it: prefill time, and the decode time of its NPU
 * and NMP parts (summed over all decode steps), and energy. */
typedef struct OpCost {
    double prefill;
    double npu;
    double nmp;
    double energy;
} OpCost;

typedef struct CostModel {
    const char *name;
    /* c NMP channels, normal: also on the normal channels, split: NMP share (see DfAssign) */
    void (*op_cost)(const DfProblem *p, int op, int c, bool normal, long long split, OpCost *out);
    /* the whole plan, with the hierarchy's overlap rules */
    void (*evaluate)(const DfProblem *p, const DfPlan *plan, CostResult *out);
    /* Where the search may binary-search a MIX split. Fills breaks[0..n] (breaks[0] = 1, breaks[n] =
     * S) so that on each [breaks[j], breaks[j+1]) op_cost's nmp time does not decrease and its npu
     * time does not increase as the split grows; returns n, or 0 if there is no such structure and
     * every split must be tried. NULL: one piece, [1, S). */
    int (*split_pieces)(const DfProblem *p, int op, int c, long long *breaks, int max);
    /* True if energy is modelled (the artifact's is always 0). */
    bool has_energy;
    /* Lower bounds, over every MIX split, of op_cost's prefill and energy on c channels (+ normal).
     * Lets the search skip assignments that cannot enter a front. NULL: no bounds. */
    void (*mix_lower)(const DfProblem *p, int op, int c, double *prefill, double *energy);
    /* True if op_cost depends on an op only through its DfOp fields (kind, shapes, footprint): then
     * ops that agree in those are interchangeable, and the search enumerates them in one order. */
    bool costs_by_shape;
    /* Time every plan pays on top of its ops (the h2c model's LM head), for the search's bound. NULL: 0. */
    double (*fixed_time)(const DfProblem *p);
} CostModel;

const CostModel *cost_model_get(CostModelKind k);
/* The length of op's split dimension (N for fc, B for attention, 0 for others). */
long long df_split_len(const DfProblem *p, int op);
/* The NMP share of op in plan a as an integer, resolving a ratio the way the artifact does. */
long long df_split_of(const DfProblem *p, int op, const DfAssign *a);
/* The problem for a module (its device, shapes and graph); false if it has more than DF_MAX_OPS ops. */
bool df_problem_from_module(const Module *m, DfProblem *p, Diag *d);

/* ---------------------------------------------------------------- cost_artifact.c
 * The H2-LLM artifact's evaluator, number for number (reference/h2llm-artifact.md §4): per layer,
 * decode at the last context times the generated tokens, energy 0. */
extern const CostModel cost_artifact;
double art_npu(const DfProblem *p, Gemm g, int cn, int cx);     /* §4.1, with the device's NPU */
double art_nmp(const DfProblem *p, Gemm g, int c);              /* §4.3, divided by p->nmp_util */
/* §2's capacity check: every NMP channel within its capacity, the normal group within its. */
bool art_capacity_ok(const DfProblem *p, const DfPlan *plan);
/* §1.3's utilisation table: the factor for (fpus, MHz, GB/s) at this batch, 1 elsewhere. */
double art_utilization(const Hardware *hw, int batch);
/* §4.7's fixed mappings (CP = DF_NPU_ONLY on a 0-NMP device, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT,
 * DF_FC_NMP), in graph order, exactly as FixedMappingEvaluator computes them. */
bool art_baseline(const DfProblem *p, DataflowMode mode, CostResult *out);

/* ---------------------------------------------------------------- compat.c
 * `h2c compat`: the artifact's own inputs read strictly, with located errors: its model configs
 * (DIR/<model>/shape.json and operator_graph.json), its test vectors (JSON) and its baseline table
 * (text). Each entry is evaluated with cost_artifact and compared with the artifact's numbers. */

#define COMPAT_TOLERANCE 1e-9   /* the largest relative error accepted, at the file's precision */

/* The problem for the artifact model whose shape.json under `configs` says "type": type ("opt",
 * "llama" or "palm"), on device hw, for this workload; nmp_util is 1. Ops come in the
 * operator_graph's node order, with preds from its edges. False, with errors in d, if the configs
 * are missing or malformed. */
bool compat_problem(const char *configs, const char *type, const Hardware *hw, int batch, int prompt,
                    int gen, int max_seq, DfProblem *p, Diag *d);

typedef struct CompatSummary {
    int entries;        /* vectors or baseline lines compared */
    int failed;         /* entries whose error exceeds COMPAT_TOLERANCE */
    double max_err;     /* largest relative error at the file's precision */
    double max_raw;     /* largest raw relative error */
} CompatSummary;

/* Reads a test-vector file (JSON, it starts with '{') or a baseline table, evaluates every entry
 * and prints to `out` a header line, one line per entry and "max relative error: X". The error of
 * a number is taken after rounding the computed value to as many significant digits as the
 * expected one is written with. False, with errors in d and nothing printed, if the file or the
 * configs are malformed; otherwise `sum` says how the numbers compare. */
bool compat_check(const char *path, const char *configs, FILE *out, CompatSummary *sum, Diag *d);

/* ---------------------------------------------------------------- cost_h2c.c
 * h2c's own model (docs/cost-models.md): all layers, KV growth step by step, output and activation
 * traffic, non-GEMM ops, and energy from the device's table. */
extern const CostModel cost_h2c;

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

/* ---------------------------------------------------------------- dataflow.c */
bool pass_dataflow(Module *m, Diag *d);
/* A fixed baseline mapping (DF_NPU_ONLY, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT, DF_FC_NMP) as a plan. */
bool df_plan_preset(const DfProblem *p, DataflowMode mode, DfPlan *plan);
/* The plan a module's tiles and positions describe (ops without positions run one after another). */
bool df_plan_from_module(const Module *m, const DfProblem *p, DfPlan *plan);

/* ---------------------------------------------------------------- explore.c */

typedef struct ExploreOpts {
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
bool explore_problem(const Module *m, const Hardware *hw, DfProblem *p, Diag *d);
/* The report: the space, the best `top` designs, the Pareto front (h2c model), the best. */
void explore_print(FILE *out, const Module *m, const Explore *xp, const ExploreResult *r, int top, int threads);
/* Every design of the space, one CSV line each. */
void explore_write_csv(FILE *out, const Explore *xp, const ExploreResult *r);

/* ---------------------------------------------------------------- reproduce.c */

typedef enum GridDesign {
    GRID_CP, GRID_ID_NMP, GRID_ID_NMP_PLUS, GRID_H2LLM, GRID_ATTN_NMP, GRID_ATTN_NMP_SPLIT, GRID_FC_NMP, GRID_CC_NMP,
    GRID_FULL, GRID_DESIGNS
} GridDesign;
extern const char *const grid_design_names[GRID_DESIGNS];

typedef struct GridRow {
    const char *model, *dataset;
    int prompt, gen, batch;
    GridDesign design;
    bool ok;
    CostResult cost;        /* per layer, h2llm-artifact */
    double bound;
    Hardware hw;            /* the device (H2-LLM-Full: the best of its 64) */
} GridRow;

typedef struct Grid {
    GridRow *rows;          /* [point][design], points model-major, then dataset, then batch */
    int nmodels, npoints, searches;
    double seconds;
} Grid;

/* The artifact's evaluation grid for these models (each Config's selected model). */
bool reproduce_h2llm(Config *const *models, int nmodels, int threads, Grid *g, Diag *d);
void grid_print(FILE *out, const Grid *g);
void grid_write_csv(FILE *out, const Grid *g);
void grid_free(Grid *g);

/* ---------------------------------------------------------------- shapes.c */
bool pass_shapes(Module *m, Diag *d);

/* ---------------------------------------------------------------- placement.c */
bool pass_placement(Module *m, Diag *d);

/* ---------------------------------------------------------------- pipeline.c */

extern const Pass pass_table[];
extern const int pass_count;
extern const char *const default_pipeline[];
extern const int default_pipeline_len;
const Pass *pass_lookup(const char *name);

typedef struct PipelineOpts {
    const char **print_after;   /* pass names whose output to print, NULL-terminated; or NULL */
    const char **print_before;  /* pass names whose input to print */
    bool print_after_all;
    bool time_passes;           /* print a timing table to `dump` at the end */
    bool verify;                /* run the verifier before the first pass and after each (default on) */
    FILE *dump;                 /* where printed IR and timings go (stderr in the CLI) */
} PipelineOpts;

/* Runs the named passes in order. Stops at the first pass or verifier failure. */
bool pipeline_run(Module *m, const char *const *names, int n, const PipelineOpts *o, Diag *d);

#endif

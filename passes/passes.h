/* passes.h: the passes over the IR, one file each (passes/<name>.c exporting pass_<name>), the
 * pipeline that runs them in order with the verifier in between, the table of cost models the
 * passes choose from (pipeline.c), and the cost report of a finished plan (report.c). */
#ifndef H2C_PASSES_H
#define H2C_PASSES_H

#include "search.h"

typedef bool (*PassFn)(Module *m, Diag *d);

typedef struct Pass {
    const char *name;       /* as written in --passes and --print-ir-after */
    PassFn run;
    const char *summary;    /* one line, for --help */
} Pass;

/* ---------------------------------------------------------------- dataflow.c */
bool pass_dataflow(Module *m, Diag *d);
/* A fixed baseline mapping (DF_NPU_ONLY, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT, DF_FC_NMP) as a plan. */
bool df_plan_preset(const DfProblem *p, DataflowMode mode, DfPlan *plan);
/* The plan a module's tiles and positions describe (ops without positions run one after another).
 * False (with a diagnostic) on a cycle or when memory runs out. */
bool df_plan_from_module(const Module *m, const DfProblem *p, DfPlan *plan, Diag *d);

/* ---------------------------------------------------------------- shapes.c */
bool pass_shapes(Module *m, Diag *d);

/* ---------------------------------------------------------------- placement.c */
bool pass_placement(Module *m, Diag *d);
/* The first free byte of each bank (top[c * banks + b]) once every tensor tile is allocated as the
 * pass would allocate them (a tensor with no tiles striped over every bank), leaving out tensors
 * skip_k and skip_v (-1: none); false if they do not fit. */
bool placement_tensor_tops(const Module *m, int skip_k, int skip_v, long long *top);
/* Gives an offset to each of a's tiles lines that has none, as the pass does: from the top of each
 * bank down (widest lines first), each line at one offset in all its banks, below ceil[] (updated)
 * and at or above floor[] (the tensors' top). False if a line does not fit (*bad: that line), or on
 * exhausted memory (*bad = -1); offsets given before the failure stay. */
bool placement_attention(const Module *m, Attention *a, long long *ceil, const long long *floor, int *bad);

/* ---------------------------------------------------------------- sparsity.c, coplace.c, balance.c */
bool pass_sparsity(Module *m, Diag *d);
bool pass_coplace(Module *m, Diag *d);
bool pass_balance(Module *m, Diag *d);

/* ---------------------------------------------------------------- attnplan.c (not a pass)
 * Tilings of an attention's streams over banks, shared by pass_coplace, pass_balance and the
 * ablation of --report=attention (docs/sparsity.md §3-§4). */

typedef enum AttnTiling {
    TILING_HEAD_PER_PE,     /* each stream whole in one bank, its PE computes it (the dense HB baseline) */
    TILING_NAIVE,           /* each stream striped over every usable bank, read by the NPU (no co-placement) */
    TILING_COPLACE,         /* pass_coplace: static heads whole, dynamic over a page's banks, dense over all */
    TILING_BALANCE,         /* pass_balance: tile counts and PEs chosen per layer class by the balancer */
    TILING_DATAFLOW,        /* pass_coplace, all heads dense: the dense schedule's, from the dataflow's tiles */
} AttnTiling;

/* Whether decode op v is the value op of an attention (an attn_value reading an attn_score, directly
 * or through a softmax): then a holds its ops, caches and location, and no lines. */
bool attn_plan_find(const Module *m, int v, Attention *a);
/* The NMP channels whose banks a's tiles are co-placed on: those its value op runs near memory on
 * in decode (every NMP channel when the op is not mapped yet); 0: no PE (the NPU reads the tiles). */
ChanSet attn_plan_channels(const Module *m, const Attention *a);
/* Replaces a's patterns by one dense line over every layer and head (the dense baselines). */
void attn_plan_dense(Arena *ar, const Module *m, Attention *a);
/* The tile of KV tensor t holding pair (KV head h, batch row b), or NULL. */
const TensorTile *attn_kv_tile(const Tensor *t, int h, int b);
/* Where the dense schedule computes decode attention pair (h, b) of score op s and value op v (the
 * fused kernel needs the pair's K and V in the same banks): near the banks of its K tile (both ops'
 * tiles near memory, K and V tiles in the same NMP banks), on the NPU as mapped, or moved to the NPU
 * although mapped near memory (one op on the NPU, K and V apart, or banks without PEs). The
 * all-dense plan's tiling (TILING_DATAFLOW) follows it, so the two compute alike. */
typedef enum AttnPairAt { PAIR_NPU, PAIR_MOVED, PAIR_NEAR } AttnPairAt;
AttnPairAt attn_pair_at(const Module *m, const Op *s, const Op *v, int h, int b);
/* Whether every pattern of a is dense (and it has some). */
bool attn_plan_all_dense(const Attention *a);
/* Replaces a's tiles by the tiling `how` of its patterns, allocating in ar. TILING_BALANCE starts
 * from `start`'s tiles (a co-placed tiling of the same patterns) and keeps them for a layer class
 * where it finds nothing faster. TILING_DATAFLOW reads the K and V tensors' tiles, so it runs before
 * the plan drops them. False if the tiling cannot be made (no PE, no room, no tiles to read). */
bool attn_plan_tile(Arena *ar, const Module *m, int index, Attention *a, AttnTiling how, const Attention *start);
/* Whether a, as attention `index` of m, fits the banks beside the tensors and the other attentions
 * as pass_placement would allocate it: 1 yes, 0 no, -1 memory ran out; if not, the reason in why. */
int attn_plan_fits(const Module *m, int index, const Attention *a, char *why, size_t n);

/* ---------------------------------------------------------------- report.c (not a pass) */

typedef enum ReportKind {
    REPORT_NONE,        /* print nothing */
    REPORT_SUMMARY,     /* prefill, decode per step, total, energy by entry of the energy table */
    REPORT_OPS,         /* the summary, then a table per phase: each op's time, bytes, energy, units */
    REPORT_ATTENTION,   /* the summary, then the attention plans layer by layer and the ablation of
                           docs/sparsity.md §6: dense and sparse, placed naively, co-placed, balanced */
} ReportKind;

/* True if the module's plan can be priced (shapes, tiles on every op, every tensor placed); else
 * false with the reason in why. */
bool report_ready(const Module *m, char *why, size_t n);
/* The ablation hook of a sweep (ExploreOpts.ablation, search.h): at the point's workload, device
 * and sparsity settings, the decode time and energy of the full sparse plan (the passes dataflow,
 * sparsity, coplace, balance) and of the dense HB baseline (whole heads, one per PE); a side whose
 * plan does not fit stays the dense plan's. Under the h2llm-artifact model it leaves both as they are. */
bool report_ablation(const Module *m, const Hardware *hw, const Sparsity *sp, Ablation *out, Diag *d, void *ctx);
/* Prices the module's own plan (its tiles and positions) with its cost model and prints the report.
 * False, with an error, if it cannot be priced. */
bool report_print(FILE *out, const Module *m, ReportKind kind, Diag *d);

/* ---------------------------------------------------------------- pipeline.c */

/* The cost model of a kind (h2c or the H2-LLM artifact's). */
const CostModel *cost_model_get(CostModelKind k);

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


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
    int layers, hidden, vocab, heads, kv_heads, head_dim;
    double es;          /* bytes per element */
    int nops;
    DfOp ops[DF_MAX_OPS];
    double nmp_util;    /* the artifact's NMP utilisation factor (1 except its ID-NMP points) */
} DfProblem;

typedef struct DfAssign {
    int group, part, stratum;   /* decode position: MAG, MPG, stratum */
    ChanSet nmp;        /* NMP channels holding and computing the op's NMP share */
    bool normal;        /* the op's other share lives on (all) the normal channels */
    long long split;    /* NMP share along the split dimension: N columns (fc) or B GEMMs (attention) */
    double ratio;       /* >= 0: the artifact's r; split is then int(S * r) as the artifact computes it */
} DfAssign;

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

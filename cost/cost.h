/* cost.h: the cost models (cost/). What they see (a DfProblem: one layer's GEMM graph on one
 * device and workload), what they price (a DfPlan), their one interface (CostModel), and h2c's own
 * model. The H2-LLM artifact's model implements the same interface in artifact/. Used by the search
 * (search/) to choose and by the passes and reports to price. */
#ifndef H2C_COST_H
#define H2C_COST_H

#include "ir.h"

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

typedef struct AttnCost AttnCost;   /* cost_attn.c: an attention plan prepared for pricing */

typedef struct DfOp {
    const char *name;
    DfKind kind;
    OpCode code;
    const AttnCost *attn;   /* decode: the value op of an attention priced by its plan (its score op and the
                               softmax between cost nothing in decode), or NULL */
    bool in_attn;           /* decode: a score op or softmax inside such a plan */
    Gemm pre;           /* prefill shape (context = prompt) */
    Gemm dec;           /* decode shape at the last context */
    int ctx_dim;        /* which of pre/dec's N (2) or K (3) is the context; -1: none */
    uint32_t preds;     /* bit j: op j is an input */
    double footprint;   /* bytes of its weights or KV cache (max_seq), all layers */
    int window;         /* attention: a sliding window of this many tokens (0: the whole context) */
    int fused;          /* attention run as one fused kernel in prefill: for the score op, the value op
                           it feeds (through its softmax); for the softmax and value ops, the score op;
                           -1: none */
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
    OpScope scope;      /* the module's ops it holds: the layer graph (run `layers` times, the default),
                           the prologue or the epilogue (run once: `layers` is then 1) */
    int index[DF_MAX_OPS];  /* op i of the problem is op index[i] of the module's phases */
    AttnForm attention; /* prefill attention: fused (the default) or unfused (the artifact's form) */
    double reserve;     /* bytes per channel held by the module's other scopes (capacity) */
    double share;       /* a piece of a scope cut in pieces: its share of the scope's bytes (else 0) */
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

/* A plan's cost op by op, for reports (the summary of `h2c compile`, --report=ops). Each figure
 * covers every layer the model counts; decode sums every step. */
typedef struct OpDetail {
    double time;                /* seconds: the op's own time (decode: each step, the slower of its parts) */
    double npu, nmp;            /* seconds of its NPU and NMP parts */
    double bytes;               /* bytes moved: DRAM reads and writes, SRAM spill, NPU<->NMP transfers */
    double energy[EF_COUNT_];   /* joules, by entry of the device's energy table */
} OpDetail;

typedef struct CostDetail {
    OpDetail op[PH_COUNT_][DF_MAX_OPS];     /* by phase, by op of the problem */
} CostDetail;

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
    /* Lower bounds, over the MIX splits lo..hi, of op_cost's prefill and energy on c channels
     * (+ normal). Lets the search skip assignments that cannot enter a front (over 1..S-1), and
     * bound the optimum when it does not finish (over narrower ranges). NULL: no bounds. */
    void (*mix_lower)(const DfProblem *p, int op, int c, long long lo, long long hi, double *prefill, double *energy);
    /* True if op_cost depends on an op only through its DfOp fields (kind, shapes, footprint): then
     * ops that agree in those are interchangeable, and the search enumerates them in one order. */
    bool costs_by_shape;
    /* Time every plan pays on top of its ops, for the search's bound (the LM head is an op of the
     * epilogue now: both models leave it NULL). NULL: 0. */
    double (*fixed_time)(const DfProblem *p);
    /* The NMP utilisation factor the model applies on this device at this batch (the artifact's
     * table for its ID-NMP points). NULL: 1. */
    double (*nmp_util)(const Hardware *hw, int batch);
    /* True if the model reads the NPU's SRAM size (designs differing only in it then differ). */
    bool reads_sram;
    /* True if the model prices the whole model (the prologue and epilogue too), not one layer. */
    bool whole_model;
    /* The plan op by op, with bytes and energy by entry, for reports. NULL: the model gives only
     * CostResult (the artifact's: times per op, no traffic, no energy). */
    void (*detail)(const DfProblem *p, const DfPlan *plan, CostDetail *out);
} CostModel;

/* The length of op's split dimension (N for fc, B for attention, 0 for others). */
long long df_split_len(const DfProblem *p, int op);
/* The NMP share of op in plan a as an integer, resolving a ratio the way the artifact does. */
long long df_split_of(const DfProblem *p, int op, const DfAssign *a);
/* The problem for a module (its device, shapes and graph); false if it has more than DF_MAX_OPS ops. */
bool df_problem_from_module(const Module *m, const CostModel *cm, DfProblem *p, Diag *d);
/* The problem of one scope of a module: its ops (inputs from other scopes dropped), run `layers`
 * times for the layer graph and once for the prologue and epilogue. False if it has more than
 * DF_MAX_OPS ops; a scope without ops gives nops = 0. */
bool df_problem_scope(const Module *m, const CostModel *cm, OpScope scope, DfProblem *p, Diag *d);
/* The problem of some of its decode ops, all of one scope: op i of p is decode op ops[i] (ops NULL:
 * op i), nops at most DF_MAX_OPS; inputs from ops not listed are left out (they are placed before
 * these). */
bool df_problem_of_ops(const Module *m, const CostModel *cm, const int *ops, int nops, DfProblem *p, Diag *d);

/* ---------------------------------------------------------------- cost_attn.c
 * Decode attention under an attention plan (docs/cost-models.md §3.6): per layer and step, each
 * tile's work on the PE under its bank (or on the NPU, or a PE elsewhere reading over the channel),
 * the query and the new K and V into the PEs, the page scores out and the chosen pages back for
 * dynamic heads, the partial states out over each channel's transfer link and their merge on the
 * NPU; energy by entry of the device's table. */

typedef struct AttnDev {
    double pe_rate, pe_bw;      /* MAC/s and B/s of one PE (its banks to it) */
    double ch_bw;               /* B/s of one channel to the NPU, derated */
    double xfer;                /* B/s of one NMP channel's transfer link */
    double npu, vec;            /* the NPU's MAC/s (derated) and vector operations/s */
    double es;                  /* bytes per element */
    int g, d;                   /* query heads per KV head, head_dim */
    int channels, banks, pe_banks, nmp;
    ChanSet pes;                /* the channels whose PEs the attention may use (for utilisation) */
    const EnergyEntry *e;       /* the device's energy table */
    double e_pe_mac;            /* pJ/MAC of a PE at its frequency */
} AttnDev;

/* One stream (layer, KV head, batch row) as priced: its pattern and its tiles. */
typedef struct AttnStream {
    Pattern pat;
    int ntiles;
    const BankRef *banks;       /* [ntiles] */
    Exec by;                    /* EXEC_NONE: co-placed; EXEC_NPU; EXEC_PE: that PE reads remotely */
} AttnStream;

typedef struct AttnLayerCost {
    double time;                /* seconds: t_in + t_main + t_select + t_out + t_merge */
    double t_in;                /* queries and new K and V over the transfer links (busiest link) */
    double t_main;              /* the tiles: the busiest PE, the NPU, or the busiest channel's remote reads */
    double t_select;            /* dynamic heads: page scores out, top-k on the NPU, page lists back */
    double t_out;               /* partial states over the transfer links (busiest link) */
    double t_merge;             /* the log-sum-exp merge of the states on the NPU */
    double makespan;            /* the busiest PE's load */
    double mean;                /* the mean load over the usable PEs */
    double lower;               /* max(total PE load / usable PEs, the largest tile) */
    double kv_bytes;            /* K, V and page metadata read */
    double bytes;               /* every byte moved: reads, writes, transfers */
    double pj[EF_COUNT_];       /* energy by entry, pJ */
    int states;                 /* partial states merged */
    int tiles;                  /* tiles in all */
    int pes_used;               /* PEs with work */
} AttnLayerCost;

void attn_dev_init(AttnDev *dev, const Module *m, ChanSet pes);
/* The channels whose PEs an attention may use: those its value op runs near memory on in decode,
 * else those its plan computes on, else every NMP channel. */
ChanSet attn_pe_channels(const Module *m, const Attention *a);
/* One layer of streams at context ctx (decode). */
void attn_layer_cost(const AttnDev *dev, const AttnStream *s, int ns, double ctx, AttnLayerCost *out);
/* Adds b to a (times, bytes, energy, states; makespan, mean and lower too). */
void attn_cost_add(AttnLayerCost *a, const AttnLayerCost *b, double times);

/* An attention plan cut into classes of consecutive layers that share their patterns and tiles. */
AttnCost *attn_cost_new(const Module *m, const Attention *a);     /* NULL: out of memory */
void attn_cost_free(AttnCost *c);
/* Every layer at one context: the sum of the classes' costs times their layer counts. */
void attn_cost_all(const AttnCost *c, double ctx, AttnLayerCost *sum);
int attn_cost_classes(const AttnCost *c);
/* Class k: its layers and one of its layers' cost at ctx. */
void attn_cost_class(const AttnCost *c, int k, double ctx, Range *layers, AttnLayerCost *out);
/* Whether any tile runs on a PE (then the plan's time is the op's near-memory part). */
bool attn_cost_uses_pes(const AttnCost *c);
/* Sum over a problem's decode steps of f(ctx) (exact for the piecewise-linear times of the h2c model). */
double cost_sum_decode(const DfProblem *p, double (*f)(const void *data, double ctx), const void *data);

/* ---------------------------------------------------------------- cost_h2c.c
 * h2c's own model (docs/cost-models.md): all layers, KV growth step by step, output and activation
 * traffic, non-GEMM ops, and energy from the device's table. */
extern const CostModel cost_h2c;


#endif

/* spec.h: what a .h2 file specifies, as plain data that the front end fills, the IR carries and
 * the runtime can validate against: the hardware schema (fields with units, ranges and defaults;
 * the energy table with sources), precisions, workloads, sparsity settings, design spaces and the
 * names of the options. Depends only on support/. */
#ifndef H2C_SPEC_H
#define H2C_SPEC_H

#include "support.h"

/* ---------------------------------------------------------------- schema.c: the device */

typedef enum Precision { PREC_FP16, PREC_INT8, PREC_INT4, PREC_FP32, PREC_COUNT_ } Precision;
double precision_bytes(Precision p);         /* 2, 1, 0.5, 4 */
const char *precision_name(Precision p);

/* The hardware fields: X(member, "path", unit kind, default, min, max, flags, "doc").
 * min/max bound the value in base units; flags: F_INT (integral), F_POW2 (power of two),
 * F_ENUM_PREC (a Precision). Defaults are the H2-LLM artifact's device (h2llm-artifact.md §1). */
#define F_INT 1
#define F_POW2 2
#define F_ENUM_PREC 4
#define F_REQUIRED 8
#define F_OPTIONAL 16  /* may be left unset (value 0 means "not given") */
#define F_NAME 32      /* a sweep axis whose values are names of blocks (model, workload) */

#define HW_FIELDS(X)                                                                                            \
    X(precision, "precision", UK_NONE, PREC_FP16, 0, PREC_COUNT_ - 1, F_ENUM_PREC,                               \
      "element type of weights, activations and KV: fp16, int8, int4 or fp32")                                  \
    X(channels, "channels", UK_NONE, 8, 1, 64, F_INT, "memory channels in all, NMP and normal")                  \
    X(banks_per_channel, "banks_per_channel", UK_NONE, 16, 1, 1024, F_INT | F_POW2, "DRAM banks per channel")    \
    X(bank_capacity, "bank_capacity", UK_BYTES, 268435456.0, 1048576.0, 1099511627776.0, F_POW2,                 \
      "bytes per bank")                                                                                         \
    X(channel_bandwidth, "channel.bandwidth", UK_BANDWIDTH, 12.8e9, 1e6, 1e15, 0,                                \
      "bandwidth of one channel to the NPU (LPDDR5-6400 x16)")                                                  \
    X(channel_utilization, "channel.utilization", UK_PERCENT, 0.7, 0.01, 1, 0,                                   \
      "achievable share of channel.bandwidth")                                                                  \
    X(npu_throughput, "npu.throughput", UK_MACRATE, 128e12, 1e6, 1e18, 0, "NPU peak MAC rate")                   \
    X(npu_utilization, "npu.utilization", UK_PERCENT, 0.7, 0.01, 1, 0, "achievable share of npu.throughput")     \
    X(npu_sram, "npu.sram", UK_BYTES, 134217728.0, 0, 1099511627776.0, 0, "NPU on-chip SRAM")                    \
    X(nmp_channels, "nmp.channels", UK_NONE, 6, 0, 64, F_INT, "channels with near-memory PEs (ids 0..n-1)")      \
    X(nmp_transfer_bandwidth, "nmp.transfer_bandwidth", UK_BANDWIDTH, 12.8e9, 1e6, 1e15, 0,                      \
      "NPU<->NMP activation transfer bandwidth per NMP channel")                                                \
    X(pe_fpus, "pe.fpus", UK_NONE, 8, 1, 1024, F_INT, "FPUs per near-memory PE")                                 \
    X(pe_simd, "pe.simd", UK_NONE, 16, 1, 1024, F_INT | F_POW2, "MACs per FPU per cycle (FPU SIMD width)")       \
    X(pe_frequency, "pe.frequency", UK_FREQ, 600e6, 1e6, 1e11, 0, "PE clock")                                    \
    X(pe_bandwidth, "pe.bandwidth", UK_BANDWIDTH, 25.6e9, 1e6, 1e15, 0,                                          \
      "hybrid-bond bandwidth from a bank to its PE")                                                            \
    X(pe_banks, "pe.banks", UK_NONE, 1, 1, 1024, F_INT | F_POW2, "banks per PE")                                 \
    X(buffer_input, "buffers.input", UK_BYTES, 32768.0, 0, 1073741824.0, F_POW2, "PE input global buffer")       \
    X(buffer_weight, "buffers.weight", UK_BYTES, 32768.0, 0, 1073741824.0, F_POW2, "PE weight buffer")           \
    X(buffer_output, "buffers.output", UK_BYTES, 65536.0, 0, 1073741824.0, F_POW2,                              \
      "output global buffer of a whole NMP channel")

typedef enum HwField {
#define X(m, path, uk, def, lo, hi, fl, doc) HWF_##m,
    HW_FIELDS(X)
#undef X
    HWF_COUNT_
} HwField;

/* One entry of a field table, for the generic checker and the docs. */
typedef struct FieldDesc {
    const char *path;   /* dotted key */
    UnitKind kind;
    double def;         /* default in base units */
    double min, max;    /* allowed range in base units */
    int flags;
    const char *doc;
    size_t offset;      /* of the double in the config struct */
} FieldDesc;

/* The energy table: X(member, "name", unit kind, default, "source", "doc"). Values are pJ/bit or
 * pJ/MAC (reference/energy.md §1). pe.mac may also be a frequency table. */
#define ENERGY_FIELDS(X)                                                                                   \
    X(npu_mac, "npu.mac", UK_ENERGY_MAC, 0.682, "[H2LLM] §7.1 (10 nm synthesis)", "NPU energy per MAC")    \
    X(pe_mac, "pe.mac", UK_ENERGY_MAC, 1.075,                                                               \
      "[H2LLM] §7.1 (40 nm FPU, 0.974/1.075/1.148/1.365 pJ at 0.4/0.6/0.8/1.0 GHz)",                        \
      "near-memory PE energy per MAC (a number, or a table of (frequency, energy) pairs)")                 \
    X(sram_access, "sram.access", UK_ENERGY_BIT, 0.027, "[H2LLM] §7.1", "SRAM buffer access per bit")     \
    X(hb_io, "hb.io", UK_ENERGY_BIT, 0.88, "[H2LLM] §7.1 citing [NIU22]",                                  \
      "bank to PE over the hybrid bond, per bit")                                                          \
    X(channel_io, "channel.io", UK_ENERGY_BIT, 7.0, "[H2LLM] §7.1 citing Pawlowski 2019 (LPDDR5-6400)",    \
      "channel interface to the NPU, per bit")                                                             \
    X(dram_read, "dram.read", UK_ENERGY_BIT, 0.55, "[FGDRAM] via [ATTACC] src/config.py (0.44 + 0.11 ACT)", \
      "DRAM array read incl. activation at full-row locality, per bit")                                    \
    X(dram_on_die, "dram.on_die", UK_ENERGY_BIT, 2.24, "[FGDRAM] via [ATTACC] (1.01 + 1.23)",              \
      "bank to chip I/O inside the DRAM die, per bit (channel path only)")

typedef enum EnergyField {
#define X(m, name, uk, def, src, doc) EF_##m,
    ENERGY_FIELDS(X)
#undef X
    EF_COUNT_
} EnergyField;

typedef struct EnergyPoint {
    double freq;        /* Hz */
    double pj;          /* pJ/MAC */
} EnergyPoint;

typedef struct EnergyEntry {
    double value;           /* pJ/bit or pJ/MAC (for a table: the value at the PE frequency) */
    EnergyPoint *table;     /* pe.mac only: (frequency, energy) pairs sorted by frequency, or NULL */
    int ntable;
    const char *source;     /* where the number comes from */
    Loc loc;                /* NOLOC for a default */
} EnergyEntry;

typedef struct Hardware {
    const char *name;
    Loc loc;                        /* the block's name (or the default's NOLOC) */
#define X(m, path, uk, def, lo, hi, fl, doc) double m; /* doc */
    HW_FIELDS(X)
#undef X
    Loc locs[HWF_COUNT_];           /* where each field was set (NOLOC: default) */
    EnergyEntry energy[EF_COUNT_];
} Hardware;

extern const FieldDesc hw_fields[HWF_COUNT_];
extern const char *const energy_names[EF_COUNT_];
extern const char *const energy_docs[EF_COUNT_];
extern const UnitKind energy_kinds[EF_COUNT_];
void hardware_defaults(Hardware *hw);  /* the artifact's H2-LLM device */
/* pJ/MAC of a PE at `freq` Hz: linear interpolation in the table, clamped at its ends. */
double energy_pe_mac(const Hardware *hw, double freq);
/* The first disagreement between a device's fields (nmp.channels > channels; pe.banks not
 * dividing banks_per_channel): writes the message into why[n] and returns the field to blame
 * (HWF_*), or -1 if the fields agree. */
int hardware_inconsistency(const Hardware *hw, char *why, size_t n);

/* Operator kinds of the language. */
void hardware_defaults_named(Hardware *hw, const char *name);

/* ---------------------------------------------------------------- schema.c: workload, sparsity, options */

/* How attention runs in prefill: fused (flash-style: the scores stay on chip, the causal mask skips
 * the upper triangle) or unfused (the H2-LLM artifact's form: the whole score matrix is written). */
typedef enum AttnForm { ATTN_FUSED, ATTN_UNFUSED, ATTN_COUNT_ } AttnForm;
extern const char *const attn_form_names[ATTN_COUNT_];

typedef struct Workload {
    const char *name;
    Loc loc;
    int batch, prompt, generate, max_seq;
    Loc f_locs[4];
    int attention;          /* an AttnForm overriding the model's, or -1: the model's */
    Loc attention_loc;
} Workload;
void workload_defaults(Workload *w);

/* Where an op of a model sits: in the layer graph (run once per layer), or around it, once per
 * step: the prologue (token embedding) before the first layer, the epilogue (final norm, LM head)
 * after the last. */
typedef enum OpScope { SCOPE_LAYER, SCOPE_PROLOGUE, SCOPE_EPILOGUE, SCOPE_COUNT_ } OpScope;
extern const char *const op_scope_names[SCOPE_COUNT_];

/* Rotary position embedding: the model's `rope {}` block (Hugging Face's rope_theta,
 * partial_rotary_factor and rope_scaling). */
typedef enum RopeScaling { ROPE_NONE, ROPE_LINEAR, ROPE_LLAMA3, ROPE_COUNT_ } RopeScaling;
extern const char *const rope_scaling_names[ROPE_COUNT_];

typedef struct Rope {
    double theta;           /* base of the inverse frequencies */
    double fraction;        /* share of head_dim that is rotated (partial rotary), (0, 1] */
    RopeScaling scaling;
    double factor;          /* linear, llama3: the context extension factor */
    double low_freq_factor, high_freq_factor;   /* llama3 */
    int original_max;       /* llama3: the original context length, tokens */
} Rope;
void rope_defaults(Rope *r);

typedef enum SparseMode { SP_DENSE, SP_STATIC, SP_DYNAMIC, SP_HYBRID, SP_COUNT_ } SparseMode;
extern const char *const sparse_mode_names[SP_COUNT_];

typedef struct Sparsity {
    const char *name;
    Loc loc;
    SparseMode mode;
    int sink, window;       /* static: tokens */
    int page, budget;       /* dynamic: tokens */
    double static_heads;    /* share of heads made static (0..1) */
    int dense_layers;       /* first layers kept dense */
    Loc dense_layers_loc;   /* where dense_layers was set (the block, for the default) */
    const char *profile;    /* head-profile source: a CSV path, or NULL (uniform) */
    Loc profile_loc;
} Sparsity;
/* The language's defaults (docs/language.md §5.4): hybrid, sink 64, window 256, page 16, budget
 * 1024, half the heads static, the first 2 layers dense, a uniform profile. */
void sparsity_defaults(Sparsity *sp);

typedef enum DataflowMode {
    DF_DATA_CENTRIC,        /* H2-LLM */
    DF_COMPUTE_CENTRIC,     /* SpecPIM: each op on one kind of unit */
    DF_NPU_ONLY,            /* CP: everything on the NPU */
    DF_ATTN_NMP,            /* attention on NMP, FC on NPU */
    DF_ATTN_NMP_SPLIT,      /* attention on NMP, FFN split */
    DF_FC_NMP,              /* FC on NMP, attention on NPU */
    DF_COUNT_
} DataflowMode;
extern const char *const dataflow_mode_names[DF_COUNT_];

typedef enum Objective { OBJ_LATENCY, OBJ_ENERGY, OBJ_EDP, OBJ_COUNT_ } Objective;
extern const char *const objective_names[OBJ_COUNT_];

/* Which MIX splits the dataflow search may use (docs/dataflow.md §3). */
typedef enum SplitSpace {
    SPLITS_ALL,             /* every split 1..S-1 */
    SPLITS_ARTIFACT,        /* only the H2-LLM artifact's quantised ratios (i/kv, i/B or i/N) */
    SPLITS_COUNT_
} SplitSpace;
extern const char *const split_space_names[SPLITS_COUNT_];

typedef enum SearchMethod { SM_EXHAUSTIVE, SM_GA, SM_COUNT_ } SearchMethod;
extern const char *const search_method_names[SM_COUNT_];

typedef enum CostModelKind { CM_H2C, CM_ARTIFACT, CM_COUNT_ } CostModelKind;
extern const char *const cost_model_names[CM_COUNT_];

typedef struct ExploreAxis {
    HwField field;
    double *values;
    int nvalues;
    Loc loc;
} ExploreAxis;

/* Sweep axes of an explore block: values of the model, the workload and the sparsity block rather
 * than of the device (docs/language.md §5.5). X(id, "path", unit kind, min, max, flags, "doc").
 * `models` and `workloads` name blocks (of the file or its imports); `batch` replaces the workload's
 * batch size; `context` is the prompt, with max_seq following it (max_seq = context + generate); the
 * others replace a field of the selected sparsity block. The first four are the sweep's work axes:
 * each of their points is a workload of its own, whose hardware space is searched. */
#define SWEEP_FIELDS(X)                                                                                    \
    X(CONTEXT, "context", UK_TOKENS, 1, 16777216.0, F_INT,                                                 \
      "prompt tokens of the workload; max_seq = context + generate")                                      \
    X(MODEL, "models", UK_NONE, 0, 0, F_NAME, "model blocks (of the file or its imports), by name")        \
    X(WORKLOAD, "workloads", UK_NONE, 0, 0, F_NAME, "workload blocks (of the file or its imports), by name")\
    X(BATCH, "batch", UK_NONE, 1, 1048576.0, F_INT, "the workload's batch size")                           \
    X(STATIC_HEADS, "static_heads", UK_PERCENT, 0, 1, 0, "share of heads made static")                    \
    X(SINK, "static.sink", UK_TOKENS, 0, 16777216.0, F_INT, "static heads: the first tokens kept")         \
    X(WINDOW, "static.window", UK_TOKENS, 1, 16777216.0, F_INT, "static heads: the most recent tokens kept") \
    X(BUDGET, "dynamic.budget", UK_TOKENS, 1, 16777216.0, F_INT, "dynamic heads: tokens attended, in whole pages")

typedef enum SweepField {
#define X(id, path, uk, lo, hi, fl, doc) SW_##id,
    SWEEP_FIELDS(X)
#undef X
    SW_COUNT_
} SweepField;

typedef struct SweepDesc {
    const char *path;       /* the key in an explore block */
    UnitKind kind;
    double min, max;        /* range in base units */
    int flags;              /* F_INT */
    const char *doc;
} SweepDesc;
extern const SweepDesc sweep_fields[SW_COUNT_];

typedef struct SweepAxis {
    SweepField field;
    double *values;         /* in base units (tokens, a fraction), each once, in the order written; for
                               model and workload: the block's index in the Config's models or workloads */
    Loc *value_locs;        /* where each value is written */
    int nvalues;
    Loc loc;                /* the key */
    const char **names;     /* model and workload axes: the blocks' names (NULL for the others) */
    Workload *workloads;    /* a workload axis: the blocks themselves (with --batch applied), once checked */
} SweepAxis;

/* Whether a sweep axis is a work axis (model, workload, batch, context): each of its values is a
 * workload of its own, searched over the hardware space; the others are priced on the best design. */
bool sweep_is_work(SweepField f);
/* The workload of a sweep point: w with prompt = context and max_seq = context + generate. */
void sweep_workload(Workload *w, double context);
/* Sets field f of a sparsity block to v (a sweep point's value). */
void sweep_sparsity(Sparsity *sp, SweepField f, double v);

typedef struct Explore {
    const char *name;
    Loc loc;
    ExploreAxis *axes;      /* independent axes (cartesian product) */
    int naxes;
    SweepAxis *sweeps;      /* workload and sparsity axes, in the order written (a sweep: one row per point) */
    int nsweeps;
    double (*pe_tuples)[3]; /* pe = [(fpus, frequency, bandwidth), ...] or NULL */
    int npe_tuples;
    Loc pe_loc;
    DataflowMode dataflow;
    SearchMethod method;
    Objective objective;
    Loc objective_loc;      /* where objective was set (NOLOC: the default) */
    SplitSpace splits;      /* the MIX splits the dataflow search may use */
    unsigned long long seed;
    double budget_seconds;  /* 0: none */
    long long budget_evals; /* 0: none */
} Explore;

#endif

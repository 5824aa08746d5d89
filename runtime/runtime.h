/* runtime.h: h2c's runtime: the reader of a compiled schedule (sched_read.c, with its canonical
 * writer sched_write.c; docs/schedule.md), the plain-C reference numerics and forward pass that
 * schedules and the emulator are checked against (attn_ref.c, forward.c), and checkpoints
 * (safetensors.c, hfmap.c). Nothing of the compiler (no IR, no AST): it builds on the ground floor
 * (support.h), cJSON, and the kernel library's descriptions (kernels.h), so a program that runs
 * schedules links h2c_runtime without the compiler. */
#ifndef H2C_RUNTIME_H
#define H2C_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels.h"
#include "support.h"

/* ---------------------------------------------------------------- sched_read.c
 * A schedule as the runtime holds it: every field of the JSON document (docs/schedule.md), checked.
 * Everything lives in the schedule's arena. */

#define RT_SCHED_VERSION 1
#define RT_SCHED_MAX_BYTES (1LL << 30)      /* a larger file is refused */
#define RT_SCHED_MAX_DEPTH 32               /* deeper nesting is refused before parsing */
#define RT_SCHED_MAX_COUNT (1 << 24)        /* elements of any array */

typedef enum RtSpace {
    RT_AT_NPU,          /* the NPU's scratch (its SRAM and what spills from it) */
    RT_AT_PE,           /* the scratch of the PE that runs the command (or of the PEs a transfer names) */
    RT_AT_BANK,         /* a DRAM bank */
} RtSpace;

/* A buffer a command reads or writes. */
typedef struct RtRef {
    bool null;          /* an unused kernel buffer slot */
    RtSpace at;
    int channel, bank;  /* RT_AT_BANK */
    int64_t addr;       /* in layer l of a layer body: addr + l * layer_stride */
    int64_t layer_stride;   /* RT_AT_BANK */
    int64_t bytes;      /* bytes the command may touch from addr (one repetition's) */
} RtRef;

/* An integer of the context (docs/schedule.md §4.2): v = floor((min(ctx, clamp) * ctx_coef + plus) /
 * div) (clamp 0: none), a constant when ctx_coef is 0; with mod > 0, v mod `mod` (in [0, mod)).
 * With page_rows > 0 it is a selection's row count, known at run time only (the `sel` form of a paged
 * attention's hi): v is then the rows of a PE's tile (`rows`), and the value is
 * rt_sel_rows(the i32 list at sel, sel.bytes / 4, page_rows, v). */
typedef struct RtExpr {
    int64_t ctx, plus, div, clamp;
    int64_t mod;        /* > 0: the value modulo this (predicates, kernel arguments) */
    int64_t page_rows;  /* > 0: the sel form: rows of a tile per page */
    RtRef sel;          /* the sel form: the selected pages, i32, ascending, then -1 */
} RtExpr;

/* Seconds (or joules) at a context: ctx * c + plus; a number when ctx is 0. */
typedef struct RtEst {
    double ctx, plus;
} RtEst;

typedef enum RtCmdKind {
    RT_LOAD,            /* bank -> NPU scratch, on the bank's channel link */
    RT_STORE,           /* NPU scratch -> bank, on the bank's channel link */
    RT_COPY,            /* within the NPU's (or a PE's) scratch, strided, optionally narrowing fp32 to fp16 */
    RT_TRANSFER,        /* NPU scratch <-> PE scratch, on the channel's transfer link */
    RT_KERNEL,          /* a call of a kernel of the table */
    RT_KV_APPEND,       /* the step's new K or V rows into a KV tile's banks, on a channel link */
    RT_KV_LOAD,         /* a KV tile's tokens [first, first+count) of some pairs into NPU scratch */
    RT_GATHER,          /* rows of an embedding table, by token id, into NPU scratch */
    RT_CMD_COUNT_
} RtCmdKind;
extern const char *const rt_cmd_names[RT_CMD_COUNT_];

typedef struct RtCmd {
    int id;
    RtCmdKind kind;
    int op;                 /* the phase's op it belongs to, or -1 */
    int64_t layers[2];      /* the layer iterations it runs in, [lo, hi); [0, 0): every one (layer body only) */
    bool has_when;          /* it runs only in the steps where when's value (at the step's ctx) is when_eq */
    RtExpr when;
    int64_t when_eq;
    int *deps, ndeps;       /* ids of commands of the same body it waits for */
    RtEst est;              /* the cost model's estimate, seconds */
    /* moves (load, store, copy, transfer) */
    RtRef src, dst;         /* also kv_append's src, kv_load's and gather's dst */
    int64_t rows, row_bytes, src_stride, dst_stride;
    bool cvt;               /* copy: fp32 rows narrowed to fp16 */
    int *pes, npes;         /* transfer: the PE units written to, or read from (one) */
    /* kernel */
    int kernel;
    RtRef bufs[KERNEL_MAX_BUFS];
    int nbufs;
    RtExpr args[KERNEL_MAX_ARGS];
    int nargs;
    int64_t repeat;         /* 1, or the command stands for `repeat` commands ... */
    int64_t strides[KERNEL_MAX_BUFS];   /* ... the i-th with reference k advanced by i * strides[k] */
    int nstrides;
    /* kv_append, kv_load, gather */
    int tensor, tile;       /* a tensor's tile; or, for kv_append, -1 and an attention stream: */
    int stream;             /* kv_append: an attention stream (RtSchedule.streams), or -1 */
    bool part_v;            /* kv_append to a stream: its values (else its keys) */
    bool ring;              /* kv_append to a stream: static slots, token t in t (t < sink) or sink + (t - sink) mod window */
    int sink, window;
    RtExpr first, count;    /* tokens [first, first + count) */
    int64_t head_stride, batch_stride, token_stride;    /* kv_append: the source row of (h, b, t) */
    int64_t pairs[2];       /* kv_load: the tile's pairs [pairs[0], pairs[1]) */
    int64_t pair_stride;    /* kv_load */
    RtRef ids;              /* gather: the row ids (token ids, or positions), i32 */
    int64_t id_offset;      /* gather: added to every id (a table of learned positions) */
} RtCmd;

typedef struct RtStream {
    bool link;              /* a link's stream (else a unit's) */
    int id;                 /* the unit or link */
    RtCmd *cmds;
    int ncmds;
} RtStream;

typedef struct RtBody {
    int repeat;             /* 1, or the layer count */
    int ncmds;              /* commands, all streams */
    RtStream *streams;
    int nstreams;
} RtBody;

typedef struct RtSchedOp {
    const char *name, *kind, *scope, *runs;
    int into;               /* runs "fused": the op whose commands compute it; else -1 */
    bool has_est;
    RtEst npu, nmp, energy; /* the cost model: one layer, one step */
} RtSchedOp;

typedef struct RtConst {
    RtRef ref;
    bool iota;              /* i32 0, 1, 2, ...; else every f32 is `fill` */
    double fill;
} RtConst;

typedef enum RtSchedScope { RT_SCHED_PROLOGUE, RT_SCHED_LAYER, RT_SCHED_EPILOGUE, RT_SCHED_SCOPE_COUNT_ } RtSchedScope;
extern const char *const rt_sched_scope_names[RT_SCHED_SCOPE_COUNT_];

typedef struct RtPhase {
    int tokens, rows, steps;
    int64_t ctx_first, ctx_last, ctx_max;   /* the schedule is valid for every context in [first, max] */
    int64_t npu_scratch, pe_scratch;        /* bytes */
    bool has_tokens, has_x_in, has_positions, has_logits, has_x_out;
    RtRef in_tokens, in_x, in_positions, out_logits, out_x;
    RtRef out_hidden;                       /* the layer's output x: layer l's after iteration l of the layer body */
    bool has_attn;
    RtRef out_attn;                         /* its attention's result (rows x heads x head_dim f32), likewise */
    RtConst *consts;
    int nconsts;
    RtSchedOp *ops;
    int nops;
    RtBody body[RT_SCHED_SCOPE_COUNT_];
} RtPhase;

typedef enum RtLayout { RT_ROWS, RT_VECTOR, RT_TOKENS, RT_LAYOUT_COUNT_ } RtLayout;

typedef struct RtRegion {
    int channel, bank;
    int64_t addr, stride, bytes;
    int64_t lo, hi;         /* rows, elements, or the residue (lo; hi = lo + 1) */
} RtRegion;

typedef struct RtTile {
    int64_t box[4][2];
    RtLayout layout;
    KernelDType dtype;
    int64_t row_bytes, k, scale_bytes, group;
    bool bias;
    int64_t lo, hi;                 /* rows or elements */
    int64_t heads[2], batch[2], cap; /* tokens */
    int nbanks;
    RtRegion *regions;
    int nregions;
} RtTile;

/* An attention plan (docs/schedule.md §3.1): a pattern per (layer, KV head) and, per stream (layer,
 * KV head, batch row), its KV in tiles, one region each. */
typedef enum RtPatKind { RT_PAT_DENSE, RT_PAT_STATIC, RT_PAT_DYNAMIC } RtPatKind;
typedef struct RtPattern {
    int64_t layers[2];
    int *heads, nheads;
    RtPatKind kind;
    int sink, window, page, budget;
} RtPattern;

typedef struct RtKvStream {
    int attn;               /* its attention */
    int64_t layers[2];
    int head, batch;
    KernelDType dtype;
    int64_t row_bytes, cap, pages;  /* a region: cap keys, cap values, pages (min keys, max keys) entries */
    RtRegion *regions;      /* tile j's; lo = j */
    int nregions;
} RtKvStream;

typedef struct RtAttention {
    int value, score, k, v; /* the ops and the tensors it places */
    RtPattern *pats;
    int npats;
    int first, nstreams;    /* its streams in RtSchedule.streams */
} RtAttention;

typedef struct RtTensor {
    const char *name;
    bool kv;
    int rank;
    int64_t dims[4];
    int layers;
    RtTile *tiles;
    int ntiles;
} RtTensor;

typedef enum RtUnitKind { RT_UNIT_NPU, RT_UNIT_CHANNEL, RT_UNIT_BANK, RT_UNIT_PE } RtUnitKind;
typedef struct RtUnit {
    RtUnitKind kind;
    int channel, bank, pe;  /* as the kind has them, else -1 */
    int bank_lo, bank_hi;   /* a PE's banks */
    bool nmp;               /* a channel's */
    double rate, sram, capacity;
} RtUnit;

typedef enum RtLinkKind { RT_LINK_CHANNEL, RT_LINK_HB, RT_LINK_XFER } RtLinkKind;
typedef struct RtLink {
    RtLinkKind kind;
    int channel, bank;
    double bandwidth;
} RtLink;

typedef struct RtEnergy {
    const char *name, *unit, *source;
    double value;
    double (*table)[2];     /* (Hz, pJ/MAC) pairs, or NULL */
    int ntable;
} RtEnergy;

#define RT_ENERGY_COUNT 7

typedef struct RtDevice {
    const char *name, *precision;
    int channels, nmp_channels, banks;
    int64_t bank_capacity;
    double channel_bandwidth, channel_utilization, npu_throughput, npu_utilization, npu_sram,
        transfer_bandwidth, pe_fpus, pe_simd, pe_frequency, pe_bandwidth, pe_banks, buf_input, buf_weight,
        buf_output;
    RtEnergy energy[RT_ENERGY_COUNT];
    RtUnit *units;
    int nunits;
    RtLink *links;
    int nlinks;
} RtDevice;

typedef struct RtKernel {
    char name[KERNEL_NAME_MAX];
    KernelDesc desc;
} RtKernel;

typedef struct RtSchedule {
    Arena arena;            /* owns everything */
    int version;
    const char *generator, *name, *source;
    const char *cost_model, *dataflow, *objective;
    const char *model_name;
    int layers, hidden, intermediate, heads, kv_heads, head_dim, vocab;
    const char *workload_name;
    int batch, prompt, generate, max_seq;
    RtDevice dev;
    RtTensor *tensors;
    int ntensors;
    RtAttention *attns;
    int nattns;
    RtKvStream *streams;    /* every attention's streams, attention by attention */
    int nstreams;
    RtKernel *kernels;
    int nkernels;
    RtPhase phase[2];       /* prefill, decode */
    struct RtModel *graph;  /* the model's op graph (`graph`): the decode phase's ops, for the reference pass */
    int *graph_tensor;      /* per graph op: its weight tensor (an index into tensors), or -1 */
} RtSchedule;
extern const char *const rt_phase_names[2];

/* Reads and checks a schedule file (docs/schedule.md §8): every field's presence, type and range,
 * the device's units and links, the memory map (regions inside their banks, none overlapping), the
 * kernels (a known kind, fields in range, the name they make), every command (its unit, references
 * inside their spaces and regions, kernel arguments that fit the kernel's ABI at every context up to
 * max_seq) and the dependencies (no dangling id, no cycle). NULL, with one error naming the file and
 * the JSON path ("s.json: $.phases.decode.layer.units[3].commands[17].deps[0]: ..."), otherwise. */
RtSchedule *rt_schedule_read(const char *path, Diag *d);
/* The same from memory; `name` is what messages call the file. */
RtSchedule *rt_schedule_parse(const char *name, const char *text, size_t len, Diag *d);
void rt_schedule_free(RtSchedule *s);
/* An expression's value at a context: floor((min(ctx, clamp) * e.ctx + e.plus) / e.div) (mod e.mod).
 * For the sel form, the largest value the selection can give: min(rows, entries * page_rows). */
int64_t rt_expr_eval(RtExpr e, int64_t ctx);
/* The value a command uses: rt_expr_eval, or for the sel form rt_sel_rows over `sel`, the selected
 * list e.sel names (e.sel.bytes / 4 entries), resolved by the caller; -1 if the list is not a valid
 * selection. */
int64_t rt_expr_value(RtExpr e, int64_t ctx, const int32_t *sel);
/* The keys a paged attention reads from one tile given a selection (docs/schedule.md §7): the tile
 * holds `rows` local rows, `page_rows` per page (page p at local rows [p * page_rows, ...)). sel[0..n)
 * lists pages, strictly ascending, then -1s; page p contributes min(page_rows, max(0, rows - p *
 * page_rows)) rows; once a page is short (the newest), every later one must be empty, so the
 * kernel's logical keys [0, hi) are exactly the selected rows. Returns hi, or -1 for a list that
 * breaks these rules (a page out of order, a -1 before a page, a negative id, a short page that is
 * not the last). */
int64_t rt_sel_rows(const int32_t *sel, int64_t n, int64_t page_rows, int64_t rows);
/* Whether command c runs in iteration `layer` of its body (0 outside the layer body) of a step at
 * context ctx: its `layers` range and its `when` predicate. A dependency on a command that does not
 * run is met. */
bool rt_cmd_runs(const RtCmd *c, int64_t layer, int64_t ctx);

/* ---------------------------------------------------------------- sched_write.c */

typedef struct RtText {
    char *text;             /* NUL-terminated, from h2c_raw_alloc */
    size_t len, cap;
    bool failed;
} RtText;

/* The schedule as JSON in the compiler's layout: reading a schedule h2c wrote and writing it again
 * gives the same bytes. False when out of memory (nothing to free). */
bool rt_schedule_render(const RtSchedule *s, RtText *out);
void rt_text_free(RtText *t);

/* ---------------------------------------------------------------- attn_ref.c */

/* Reference attention for decoding: one query position, the g query heads that share one KV
 * head (GQA; g = 1 is plain multi-head attention), over a set of tokens of that KV head's cache.
 * Conventions (docs/runtime.md):
 * - the cache of a KV head is K and V, each [tokens x d] floats, row t = token t;
 * - q is [g x d]: query head h of the group is row h; o is [g x d] the same way, lse is [g];
 * - score s_j = scale * (q . k_j); scale is rt_attn_scale(d) = 1/sqrt(d) unless a model says
 *   otherwise;
 * - a partial state per query head: O = sum_j exp(s_j - m) v_j / l, normalised, and
 *   LSE = m + ln l, with m = max_j s_j and l = sum_j exp(s_j - m): natural log, fp32 (fp64 in
 *   the oracle). An empty or all-masked set gives O = 0, LSE = -inf, never NaN;
 * - a token set is a list of row indices (tokens == NULL: rows 0..n-1), with an optional
 *   `masked` flag per entry (nonzero: left out, as if its score were -inf). Inputs are finite. */

/* 1/sqrt(d) in float. */
float rt_attn_scale(int d);

/* Attention of the g query heads over tokens[0..n): o [g x d], lse [g] (lse may be NULL).
 * fp32: per head one pass for the max score, one for exp-sum and the weighted sum of V. */
void rt_attn(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
             const unsigned char *masked, int n, float scale, float *o, float *lse);
/* The oracle: the same from the same float inputs, computed in double. */
void rt_attn_f64(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                 const unsigned char *masked, int n, double scale, double *o, double *lse);

/* a := a (+) b, the exact log-sum-exp merge of two partial states of g query heads:
 * LSE = M + ln(exp(LSE_a - M) + exp(LSE_b - M)), M = max; O = w_a O_a + w_b O_b with
 * w_i = exp(LSE_i - LSE). A state with LSE = -inf contributes nothing (its O is not read);
 * two of them give O = 0, LSE = -inf. */
void rt_merge2(float *o_a, float *lse_a, const float *o_b, const float *lse_b, int g, int d);
/* n states at once: o_parts [n x g x d], lse_parts [n x g] -> o [g x d], lse [g]; n = 0 or all
 * -inf gives O = 0, LSE = -inf. */
void rt_merge_n(int n, const float *o_parts, const float *lse_parts, int g, int d, float *o, float *lse);

typedef enum RtMergeOrder {
    RT_MERGE_FOLD,      /* ((s0 (+) s1) (+) s2) (+) ...: a left fold */
    RT_MERGE_TREE,      /* (s0 (+) s1) (+) (s2 (+) s3) ...: a pairwise tree */
    RT_MERGE_ONEPASS,   /* rt_merge_n over all tiles */
} RtMergeOrder;

/* Floats of work space rt_attn_tiled needs: ntiles * g * (d + 1). */
size_t rt_tiled_work(int ntiles, int g, int d);
/* Tiled attention: tile i is entries tile_start[i] .. tile_start[i+1] of tokens (and masked):
 * ntiles + 1 non-decreasing offsets, tiles may be empty. Each tile gives a partial state per
 * query head (rt_attn), and the states are merged in `order`. Equal to rt_attn over all the
 * entries up to rounding, for any partition and any order. */
void rt_attn_tiled(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                   const unsigned char *masked, const int *tile_start, int ntiles, float scale,
                   RtMergeOrder order, float *work, float *o, float *lse);

/* The static (sink + window) pattern for a context of ctx tokens: tokens 0..sink-1 and
 * ctx-window..ctx-1, ascending, each once (all ctx tokens when sink + window >= ctx). out holds
 * at least min(ctx, sink + window) ints; returns the count. */
int rt_static_tokens(int ctx, int sink, int window, int *out);

/* Quest pages of P >= 1 tokens: page p holds tokens p*P .. min((p+1)*P, ctx)-1; the last page
 * may be partial.
 * kmin, kmax [pages x d]: the element-wise min and max of the page's keys. */
int rt_pages(int ctx, int page);
void rt_quest_meta_build(const float *k, int ctx, int d, int page, float *kmin, float *kmax);
/* Token t (= the context length before it) was appended with key row k_t: starts page t / P
 * when t is its first token, else widens its min and max. */
void rt_quest_meta_append(const float *k_t, int t, int d, int page, float *kmin, float *kmax);
/* score[p] = sum over the g query heads h, sum_i max(q_hi * kmax_pi, q_hi * kmin_pi): an upper
 * bound of the page's best q . k for each head, summed over the group (fp32, heads outer). */
void rt_quest_scores(const float *q, int g, int d, const float *kmin, const float *kmax, int pages, float *score);
/* Pages a budget of `budget` tokens buys: budget / P (floor). A partial last page costs a whole
 * page, so the selected tokens can fall short of the budget; a budget below P buys none. */
int rt_quest_pages_for_budget(int budget, int page);
/* The min(kk, pages) pages with the highest score (ties to the lower index, NaN lowest), in
 * ascending page order in out[0..). out must hold `pages` ints (it is the sort's space). */
int rt_quest_top_pages(const float *score, int pages, int kk, int *out);
/* The tokens of the selected pages (ascending page indices), ascending; returns the count. */
int rt_quest_tokens(const int *sel, int nsel, int page, int ctx, int *out);

/* Head-wise sparsity profile: the share of softmax mass the static pattern keeps for one KV
 * head. q [g x nq x d]: nq calibration queries for each of the head's g query heads, query i at
 * position ctx - nq + i (nq <= ctx); k [ctx x d]. A query at position t sees keys 0..t (causal);
 * its kept mass is sum over j in rt_static_tokens(t + 1, sink, window) of its softmax p_j. The
 * result is the mean over the g * nq (head, query) pairs, in fp64; 1 when nq or g is 0, NaN when
 * nq > ctx. */
double rt_static_mass(const float *q, int g, int nq, const float *k, int ctx, int d, int sink, int window,
                      double scale);

/* ---------------------------------------------------------------- forward.c
 * The reference forward pass of a whole model, in double precision (docs/runtime.md §4): the op
 * graph below, weights through a callback a block of rows at a time (bounded memory), a KV cache
 * per attention op and layer. The emulator's --check and the Hugging Face oracle compare with it. */

typedef enum RtOpKind {
    RT_FC,          /* y = x W (+ b); several inputs: silu(in0) * in1 * ... first (a gated FFN) */
    RT_ATTN_SCORE,  /* stores the step's keys (input 1); the queries (input 0) are read by the value op */
    RT_SOFTMAX,     /* part of the causal attention the value op computes */
    RT_ATTN_VALUE,  /* stores the values (input 1) and computes causal softmax(q k^T / sqrt(d)) v */
    RT_NORM,        /* RMS or layer norm with a scale (and a shift) */
    RT_ACT,         /* element-wise activation */
    RT_ADD,
    RT_MUL,
    RT_EMBED,       /* rows of the vocab x hidden table for the token ids, times scale */
    RT_ROPE,        /* rotary positions, rotate-half, on head_dim x rope_fraction dims of each head */
} RtOpKind;

typedef enum RtAct { RT_ACT_SILU, RT_ACT_GELU, RT_ACT_GELU_TANH, RT_ACT_RELU } RtAct;
typedef enum RtScope { RT_SCOPE_LAYER, RT_SCOPE_PROLOGUE, RT_SCOPE_EPILOGUE } RtScope;
typedef enum RtRopeScaling { RT_ROPE_NONE, RT_ROPE_LINEAR, RT_ROPE_LLAMA3 } RtRopeScaling;

#define RT_INPUT_X (-1)         /* the layer input */
#define RT_INPUT_TOKENS (-2)    /* the token ids */

typedef struct RtOp {
    const char *name;
    RtOpKind kind;
    RtScope scope;
    int inputs[16];     /* op indices, RT_INPUT_X or RT_INPUT_TOKENS */
    int ninputs;
    int in_width;       /* fc: K */
    int width;          /* the output's width (0 for scores) */
    RtAct act;          /* RT_ACT */
    bool layer_norm;    /* RT_NORM: layer norm (else RMS) */
    bool bias;          /* RT_FC: a bias; RT_NORM: a shift */
    int tied;           /* RT_FC: the embedding op whose table it reads transposed, or -1 */
    double eps;         /* RT_NORM: 0 = the model's norm_eps */
    double scale;       /* RT_EMBED: 0 = 1 */
    int positions;      /* RT_EMBED: 0 looks up token ids; N > 0 looks up position + offset in N rows */
    int offset;
    int window;         /* RT_ATTN_VALUE (and its score): sliding window of the last `window` keys (0: all) */
    bool unit_offset;   /* RT_NORM: the scale is 1 + the stored weight (Gemma) */
} RtOp;

typedef struct RtModel {
    int layers, hidden, heads, kv_heads, head_dim, vocab;
    double norm_eps;
    double rope_theta, rope_fraction, rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max;
    RtRopeScaling rope_scaling;
    RtOp *ops;
    int nops;
    int layer_out;      /* the layer op that feeds the next layer */
    bool has_prologue, has_epilogue;
    int prologue_out;   /* the prologue's last op (the first layer's input) */
    int epilogue_out;   /* the epilogue's last op (the logits) */
    /* decode attention of static (sink + window) heads, per layer * kv_heads + KV head: sink and
     * window, both 0 for a dense head; NULL: every head dense. Prefill is dense whatever the head. */
    const int *static_sink, *static_window;
    /* decode attention of dynamic (Quest) heads, the same index: page size and pages kept (the
     * newest page and the best others by the page score of the group's queries over the pages' key
     * minima and maxima, docs/kernels.md's page score and top-k), 0 for another head; NULL: none */
    const int *quest_page, *quest_pages;
} RtModel;

/* Which weights of an op: fc and embedding weights ([K x N] row-major; an embedding's [vocab x
 * hidden]), an fc's bias [N], a norm's scale and shift [width]. */
typedef enum RtWeightPart { RT_PART_WEIGHT, RT_PART_BIAS, RT_PART_SCALE, RT_PART_SHIFT } RtWeightPart;

/* The weights source: rows row .. row+rows-1 (each `cols` values) of an op's part in a layer
 * (0 outside the layer graph). False if it has none. */
typedef struct RtWeights {
    void *ctx;
    bool (*get)(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols, double *dst);
} RtWeights;

typedef struct RtForward RtForward;

/* A forward pass over `batch` sequences of up to max_seq tokens; NULL when memory runs out. */
RtForward *rt_forward_new(const RtModel *m, int batch, int max_seq, const RtWeights *w);
void rt_forward_free(RtForward *f);
/* The next ntok tokens of every sequence (tokens: batch x ntok ids, row-major): prefill with the
 * prompt, then a decode step with ntok = 1. hidden[l] (if hidden and hidden[l] are not NULL) gets
 * the layer's output [batch x ntok x hidden]; logits (if not NULL and the model has an epilogue)
 * [batch x vocab] at each sequence's last token. False with rt_forward_error on failure. */
bool rt_forward_step(RtForward *f, const int *tokens, int ntok, double *const *hidden, double *logits);
/* From the next step on, rt_forward_step also copies layer l's attention result (the layer's one
 * attn_value op: rows x heads x head_dim) into attn[l] (NULL: none; a layer with no such op or
 * several: nothing). attn must outlive the steps. */
void rt_forward_capture_attention(RtForward *f, double *const *attn);
const char *rt_forward_error(const RtForward *f);

/* Deterministic synthetic weights, independent of where they are stored: the value of element
 * `index` of a tensor (named by rt_name_hash) in a layer, rounded to binary16. Weights are uniform
 * in [-scale, scale) (scale 1/sqrt(K) for an fc), a norm's scale in [0.75, 1.25), biases and
 * shifts in [-0.05, 0.05). */
uint64_t rt_name_hash(const char *s);
double rt_synth_weight(uint64_t seed, uint64_t tensor, int layer, RtWeightPart part, uint64_t index, double scale);
/* The binary16 value nearest v, as a double (round to nearest even). */
double rt_round_f16(double v);

/* ---------------------------------------------------------------- safetensors.c
 * Hugging Face checkpoints (docs/runtime.md §3): one .safetensors file, a folder with
 * model.safetensors, or a folder with model.safetensors.index.json and its shards; memory-mapped
 * and checked whole on opening. */

#define ST_MAX_RANK 8

typedef enum StDtype { ST_F32, ST_F16, ST_BF16, ST_DTYPE_COUNT_ } StDtype;
const char *st_dtype_name(StDtype t);

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int rank;
    int64_t dims[ST_MAX_RANK];
    size_t offset, nbytes;      /* in its file's data */
    int file;
} StTensor;

typedef struct StFile {
    char *path;
    void *map;
    size_t size;
    const unsigned char *data;  /* after the header */
    size_t data_size;
} StFile;

typedef struct StModel {
    StTensor *t;
    int n, cap;
    int *byname;                /* the tensors' indices in name order (st_find's binary search) */
    StFile *files;
    int nfiles;
    char err[600];              /* why st_open failed */
} StModel;

/* Opens a checkpoint; false with m->err set (the model is still to be closed). */
bool st_open(const char *path, StModel *m);
void st_close(StModel *m);
const StTensor *st_find(const StModel *m, const char *name);
size_t st_count(const StTensor *t);
/* Element i (row-major) converted to double. */
double st_element(const StModel *m, const StTensor *t, size_t i);

/* ---------------------------------------------------------------- hfmap.c
 * The weights of a model `h2c import-hf` wrote, from its Hugging Face checkpoint: the family is
 * found from the tensor names (Llama-like: Llama, Mistral, Qwen2, Gemma; OPT; GPT-NeoX; Phi-3). */

typedef enum RtHfFamily { RT_HF_LLAMA, RT_HF_OPT, RT_HF_NEOX, RT_HF_PHI3, RT_HF_COUNT_ } RtHfFamily;

typedef struct RtHfWeights {
    const RtModel *m;
    const StModel *st;
    RtHfFamily family;
    char err[400];      /* why rt_hf_bind failed: the tensor missing or of the wrong shape */
} RtHfWeights;

/* Checks that the checkpoint holds every tensor m reads, with its shape; false with w->err. */
bool rt_hf_bind(RtHfWeights *w, const RtModel *m, const StModel *st);
/* The weights callback over a bound checkpoint. */
RtWeights rt_hf_weights(RtHfWeights *w);

/* ---------------------------------------------------------------- the emulator (h2c run; docs/runtime.md §5)
 * emu_mem.c: the device's memories; emu_weights.c: weights into the banks and the same values for the
 * reference; emulate.c: the dispatch loop; emu_time.c: time and energy; emu_report.c: the summary;
 * emu_trace.c: Chrome trace events; emu_check.c: the comparison with the reference forward pass. */

/* emu_mem.c: the NPU's scratch, each PE's scratch, and every bank, lazily (mmap'd, MAP_NORESERVE:
 * only pages touched cost memory). */
typedef struct RtMem {
    unsigned char *npu;         /* npu_bytes */
    int64_t npu_bytes;
    unsigned char *pe;          /* npes x pe_bytes */
    int64_t pe_bytes;
    int npes, pe_unit0;         /* PE unit u's scratch is pe + (u - pe_unit0) * pe_bytes */
    unsigned char *banks;       /* channels x banks x bank_bytes, or NULL */
    size_t banks_len;
    int64_t bank_bytes;
    int nbanks_per_channel;
} RtMem;
/* False, with an error in err, when the memory cannot be had. */
/* `huge`: ask for transparent huge pages on the banks. */
bool rt_mem_init(RtMem *m, const RtSchedule *s, bool huge, char *err, size_t errlen);
void rt_mem_free(RtMem *m);
/* Gives bank memory back to the system (its pages read as zeros again). */
void rt_mem_bank_release(RtMem *m, int channel, int bank, int64_t addr, int64_t bytes);
static inline unsigned char *rt_mem_bank(const RtMem *m, int channel, int bank) {
    return m->banks + ((size_t)channel * (size_t)m->nbanks_per_channel + (size_t)bank) * (size_t)m->bank_bytes;
}

/* emu_weights.c. The synthetic weights of a schedule's graph: rt_synth_weight of the op's weight
 * tensor's name, the layer and the element's index in the reference's layout, so that they do not
 * depend on where the schedule stores them. */
typedef struct RtSynthWeights {
    const RtSchedule *s;
    uint64_t seed;
} RtSynthWeights;
RtWeights rt_synth_weights(RtSynthWeights *w);

/* The values the banks hold: a source's weights rounded to their storage type (fp16 weights and
 * tables, f32 norm vectors and biases; int8 and int4 quantised per group of a row along K with an
 * fp16 scale, and dequantised). The reference forward pass reads these, so it computes with the very
 * numbers the kernels do. */
typedef struct RtStoredWeights {
    const RtSchedule *s;
    RtWeights src;
    double *buf;                /* a block of source rows */
    size_t cap;
    bool failed;                /* out of memory */
} RtStoredWeights;
RtWeights rt_stored_weights(RtStoredWeights *w);
void rt_stored_weights_free(RtStoredWeights *w);
/* Writes every weight region of the layer copies [l0, l1) (l0 = 0 includes the prologue's and
 * epilogue's tensors when `top`) into the banks, in their layouts (docs/schedule.md §3), from the
 * stored values. `layer_of` maps the copy written to the layer whose weights it holds (the lazy
 * window: copy 0 holds layer l); NULL: the same. False with err on failure. */
bool rt_fill_weights(const RtSchedule *s, RtMem *mem, RtWeights *stored, int copy, int layer, bool top,
                     char *err, size_t errlen);
/* Bytes of the weight regions of one layer copy, and of the prologue's and epilogue's. */
int64_t rt_weight_bytes(const RtSchedule *s, bool layer);

/* emu_time.c: the event-driven model of time and energy (docs/runtime.md §5.3). */
enum { RT_SIDE_NPU, RT_SIDE_NMP };
typedef struct RtTimeCmd {
    double start, end;          /* seconds since the run began */
    double energy[RT_ENERGY_COUNT];     /* joules by component */
    double bytes, macs;
    int res[10], nres;          /* the resources it held */
    int side;                   /* RT_SIDE_* */
} RtTimeCmd;
typedef struct RtTime RtTime;
RtTime *rt_time_new(const RtSchedule *s);
void rt_time_free(RtTime *t);
/* A body (or one iteration of the layer body) begins: it starts when the previous one ended. */
void rt_time_body(RtTime *t, const RtBody *b);
/* Times one command of the current body at context ctx. `rows_here`: for kv_append, kv_load and
 * gather, the token rows this link really moves (summed over pairs); else ignored. */
const RtTimeCmd *rt_time_cmd(RtTime *t, const RtStream *st, const RtCmd *c, int64_t ctx, int64_t rows_here);
double rt_time_now(const RtTime *t);                    /* the end of the last body */
double rt_time_busy(const RtTime *t, int resource);     /* seconds a resource was busy */
int rt_time_resources(const RtTime *t);                 /* units, then links */
const char *rt_time_resource_name(const RtTime *t, int resource, char *buf, size_t n);
double rt_time_energy(const RtTime *t, int component);  /* joules so far */

/* emulate.c: h2c run. */
typedef struct RtRunOptions {
    int steps;                  /* decode steps; -1: the workload's generate */
    int layers;                 /* layers run; 0: all */
    uint64_t seed;              /* synthetic weights and tokens */
    bool numerics;              /* false: time and energy only (no memory, no kernels) */
    bool check;                 /* compare with the reference forward pass */
    bool quiet;                 /* no summary */
    bool progress;              /* a progress line on stderr for long runs */
    const RtWeights *weights;   /* a checkpoint's weights (before storage rounding), or NULL: synthetic */
    const int *tokens;          /* [batch][ntokens]: the prompt, then the tokens fed to decode steps; NULL: synthetic */
    int ntokens;
    int64_t lazy_bytes;         /* weights above this many bytes are written a layer at a time; 0: 1 GiB; <0: never */
    const char *trace;          /* --trace FILE.json, or NULL */
    const char *dump_logits, *dump_hidden;  /* .npy files, or NULL */
    double tolerance;           /* --check's bound; 0: the default (docs/runtime.md §5.4) */
    bool huge_pages;            /* the banks on 2 MiB pages (faster weight streams, more memory) */
    bool bench;                 /* after the run, a STREAM triad and the host-side figures (docs/runtime.md §6) */
} RtRunOptions;


/* What a run measured, for the summary (emu_report.c). */
typedef struct RtOpStat {
    double est_model[2];        /* the cost model's estimate (ops[].npu, .nmp), summed over the iterations run */
    double est_cmds[2];         /* the commands' `est`, summed, per side */
    double busy[2];             /* the commands' emulated durations, summed, per side */
    double span[2];             /* the time at least one of its commands ran, per side */
} RtOpStat;

typedef struct RtCmdStat {
    int phase, scope, id;       /* the command */
    double time, energy;        /* emulated, summed over its runs */
    int runs;
} RtCmdStat;

typedef struct RtRunStats {
    int layers, steps, batch;
    double prefill_time, decode_time;           /* seconds, emulated */
    double energy[2][RT_ENERGY_COUNT];          /* per phase, joules by component */
    RtOpStat *ops[2];                           /* per phase: its ops */
    RtCmdStat *cmds;                            /* every command of every body */
    int ncmds;
    double host_seconds, kernel_seconds, fill_seconds, check_seconds;   /* host time of the run, in kernels, writing weights, in the reference */
    double weight_bytes_decode;                 /* bytes of weights streamed by decode's commands (loads and PE reads) */
    double kernel_seconds_decode, host_seconds_decode, move_seconds_decode, fill_seconds_decode;
    double triad_gbs;                           /* --bench: a STREAM triad (C, one thread) measured after the run */
    double check_err_layer_max;                 /* --check: the worst per-layer error */
    bool lazy;
    int64_t peak_rss_kb;
} RtRunStats;

/* emu_report.c: the summary. */
/* False (nothing printed) when out of memory. */
bool rt_report(FILE *out, const RtSchedule *s, const RtTime *t, const RtRunStats *st);

/* emu_trace.c: Chrome trace-event JSON (one track per unit and link; one complete event per command). */
typedef struct RtTrace RtTrace;
RtTrace *rt_trace_new(const RtSchedule *s);
void rt_trace_free(RtTrace *t);
/* A command's slice; false when out of memory. */
bool rt_trace_cmd(RtTrace *t, int phase, const RtStream *st, const RtCmd *c, const RtTimeCmd *tc, const char *op);
/* A counter (bank bytes in use) at time ts. */
bool rt_trace_counter(RtTrace *t, const char *name, double ts, double value);
bool rt_trace_write(const RtTrace *t, const RtTime *time, const char *path, Diag *d);

/* emu_check.c: --check. The reference forward pass on the stored weights and the same tokens,
 * compared per layer (the layer's output), per KV head (its attention result, where the schedule
 * names it) and on the logits: max |emulated - reference| / max |reference| over a step's rows. */
typedef struct RtCheck RtCheck;
#define RT_CHECK_TOL 4e-3       /* fp16 weights and KV, fp32 activations (docs/runtime.md §5.4) */
RtCheck *rt_check_new(const RtSchedule *s, int layers, RtWeights *stored);
void rt_check_free(RtCheck *c);
/* One step: tokens [batch x ntok]; hidden[l] the emulator's layer outputs [rows x hidden]; attn[l]
 * their attention results [rows x heads x head_dim] (NULL: not named by the schedule), compared per
 * KV head (its g query heads' columns); logits [batch x vocab] (NULL: none). False with err when
 * the reference fails. */
bool rt_check_step(RtCheck *c, const int *tokens, int ntok, float *const *hidden, float *const *attn,
                   const float *logits, char *err, size_t errlen);
/* Prints the errors per layer, per KV head (its pattern named) and on the logits; false when one
 * is above tol (the worst named). */
bool rt_check_report(const RtCheck *c, FILE *out, double tol, Diag *d, double *worst);

/* Runs a schedule: prefill, then the decode steps; prints the summary on `out` (unless quiet).
 * False with errors on d (a failed --check included). */
bool rt_run(const RtSchedule *s, const RtRunOptions *o, FILE *out, Diag *d);

#endif

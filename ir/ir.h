/* ir.h: h2c's tiling/placement IR. A Module holds the resolved device (every unit and link), the
 * model's shape, the workload, the weight and KV tensors with their placement (tensor tiles), and
 * per phase (prefill, decode) the operator graph of one layer, each op with its shape, dataflow
 * position and execution tiles. lower.c builds it from a Config, print.c/parse.c are its text form
 * (docs/ir.md), verify.c checks it, dot.c draws it. */
#ifndef H2C_IR_H
#define H2C_IR_H

#include "spec.h"
#include "ops.h"

typedef struct Config Config;   /* frontend.h: the checked program, the input of ir_lower */

#define IR_VERSION 2
#define IR_MAX_RANK 4
#define IR_INPUT_X (-1)     /* the layer input, %x */
#define IR_INPUT_TOKENS (-2) /* the token ids, %tokens: the prologue's input */
#define IR_MAX_CHANNELS 64

typedef enum OperandKind {
    OPND_NONE,      /* the op reads only its inputs */
    OPND_WEIGHT,    /* the op reads a weight tensor (fc) */
    OPND_KV,        /* the op reads a KV-cache tensor (attention) */
} OperandKind;

typedef struct OpInfo {
    const char *name;       /* spelling in the text form */
    int min_in, max_in;     /* number of inputs */
    OperandKind operand;    /* the tensor it reads, if any */
    const char *doc;
} OpInfo;
extern const OpInfo op_info[OP_COUNT_];

/* ---------------------------------------------------------------- device */

typedef enum DevKind {
    DEV_NPU,        /* the logic-die NPU */
    DEV_CHANNEL,    /* a DRAM channel (NMP or normal) */
    DEV_BANK,       /* a bank of a channel */
    DEV_PE,         /* the near-memory PE hybrid-bonded under a bank (NMP channels only) */
} DevKind;

typedef struct DevUnit {
    DevKind kind;
    int channel;        /* -1 for the NPU */
    int bank;           /* -1 for the NPU and channels */
    bool nmp;           /* part of an NMP channel */
    double capacity;    /* bytes it stores (banks, channels; NPU: SRAM) */
    double rate;        /* MAC/s (NPU peak, PE peak); 0 otherwise */
} DevUnit;

typedef enum LinkKind {
    LINK_CHANNEL,   /* a channel to the NPU */
    LINK_HB,        /* a bank to its PE over the hybrid bond */
    LINK_XFER,      /* NPU <-> NMP activation transfer, per NMP channel */
} LinkKind;

typedef struct DevLink {
    LinkKind kind;
    int from, to;       /* unit indices */
    double bandwidth;   /* bytes/s, peak */
} DevLink;

typedef struct Device {
    Hardware hw;        /* the parameters: the source of truth; units and links derive from them */
    DevUnit *units;     /* [0] NPU, then channels, then banks (channel-major), then PEs */
    int nunits;
    DevLink *links;
    int nlinks;
} Device;

/* Builds units and links from dev->hw (into the module's arena). */
void ir_device_build(Arena *a, Device *dev);
int dev_channel_unit(const Device *d, int c);
int dev_bank_unit(const Device *d, int c, int b);
int dev_pe_unit(const Device *d, int c, int b);     /* -1 if channel c has no PEs */
static inline int dev_channels(const Device *d) { return (int)d->hw.channels; }
static inline int dev_nmp_channels(const Device *d) { return (int)d->hw.nmp_channels; }
static inline int dev_banks(const Device *d) { return (int)d->hw.banks_per_channel; }

/* ---------------------------------------------------------------- placement */

typedef uint64_t ChanSet;   /* bit c: channel c */
#define CHAN_BIT(c) ((ChanSet)1 << (c))
int chanset_count(ChanSet s);
ChanSet chanset_first(int n);             /* channels 0..n-1 */
ChanSet dev_nmp_set(const Device *d);       /* channels 0..nmp-1 */
ChanSet dev_normal_set(const Device *d);    /* channels nmp..channels-1 */
ChanSet dev_all_set(const Device *d);

typedef struct Range {
    long long lo, hi;   /* [lo, hi) */
} Range;

typedef enum PlaceKind {
    PLACE_NONE,         /* not placed yet */
    PLACE_CHANNELS,     /* striped evenly over every bank of a channel set */
    PLACE_BANK,         /* one bank */
} PlaceKind;

typedef struct Place {
    PlaceKind kind;
    ChanSet chans;      /* PLACE_CHANNELS: the set; PLACE_BANK: the bank's channel (one bit) */
    int bank;           /* PLACE_BANK: bank index in its channel */
    long long offset;   /* byte offset in each bank it uses; -1: not allocated yet */
} Place;

/* A box of a tensor (one copy per layer) and where it lives. */
typedef struct TensorTile {
    Range box[IR_MAX_RANK];
    Place place;
} TensorTile;

typedef enum TensorKind {
    TEN_WEIGHT,     /* [K, N] of an fc */
    TEN_KV,         /* [kv_heads, batch, max_seq, head_dim] of a K or V cache */
} TensorKind;

typedef struct Tensor {
    const char *name;       /* without the % sigil, e.g. "w.q" */
    TensorKind kind;
    Precision elem;
    int rank;
    long long dims[IR_MAX_RANK];
    int layers;             /* one copy per layer, each at the same place (1: a prologue/epilogue tensor) */
    bool bias;              /* a weight with a bias: one more row of N values (rank 1: a shift vector) */
    TensorTile *tiles;
    int ntiles, tiles_cap;
    Loc loc;                /* the .h2 op that made it */
} Tensor;

/* Bytes of one layer's copy of a box of t. */
double tensor_box_bytes(const Tensor *t, const Range *box);
/* Bytes per bank of one layer's copy of tile i (ceil over the banks it is striped on). */
long long tile_bank_bytes(const Device *d, const Tensor *t, const TensorTile *tile);

/* ---------------------------------------------------------------- ops */

typedef enum ExecKind {
    EXEC_NONE,      /* not mapped yet */
    EXEC_NPU,       /* the NPU */
    EXEC_NMP,       /* the PEs of a set of NMP channels (all their banks) */
    EXEC_PE,        /* one PE: channel c, bank b */
} ExecKind;

typedef struct Exec {
    ExecKind kind;
    ChanSet chans;      /* EXEC_NMP: the channels; EXEC_PE: its channel (one bit) */
    int bank;           /* EXEC_PE */
} Exec;

/* A box of an op's iteration space [B, M, N, K] and the unit that computes it. */
typedef struct OpTile {
    Range box[4];
    Exec exec;
} OpTile;

typedef struct DfPos {
    int group;      /* sequential group (MAG); -1: not set */
    int part;       /* parallel partition inside the group (MPG) */
    int stratum;    /* sequential stratum inside the partition */
} DfPos;

enum { DIM_B, DIM_M, DIM_N, DIM_K };

typedef struct Op {
    const char *name;           /* result name without %, e.g. "q" */
    OpCode code;
    OpScope scope;              /* the layer graph, the prologue or the epilogue */
    int *inputs;                /* indices into the phase's ops, or IR_INPUT_X */
    int ninputs;
    int tensor;                 /* operand tensor (fc: weight; attention: KV), or -1 */
    const char *fn;             /* activation function or norm kind, or NULL */
    bool tied;                  /* fc: the weight is an embedding table [N, K] read transposed */
    double eps;                 /* norm: epsilon (0: none given) */
    double scale;               /* embedding: factor on the looked-up rows (0: none given) */
    int positions;              /* embedding: 0 looks up token ids; N > 0 positions (+ offset) in N rows */
    int offset;                 /* embedding by position: added to the position */
    int window;                 /* attn_score, attn_value: sliding window of the last `window` tokens (0: all) */
    bool unit_offset;           /* norm: the scale is 1 + the stored weight */
    long long shape[4];         /* iteration space B, M, N, K; all 0 until pass_shapes */
    int out_rank;               /* result activation: rank 0 until pass_shapes */
    long long out[3];           /* result dims: [rows, width] or scores [B, M, N] */
    DfPos df;                   /* dataflow position (decode); group -1 when unset */
    Range kv_range;             /* attn_tile/page_select: KV positions; lo = hi = 0: unset */
    Range heads;                /* attn_tile: KV heads (each with its heads/kv_heads query heads); lo = hi = 0: unset */
    OpTile *tiles;              /* execution; empty until mapped */
    int ntiles, tiles_cap;
    Loc loc;                    /* the .h2 op */
} Op;

typedef enum PhaseKind { PH_PREFILL, PH_DECODE, PH_COUNT_ } PhaseKind;
extern const char *const phase_names[PH_COUNT_];

typedef struct Phase {
    PhaseKind kind;
    int tokens;                 /* tokens per sequence in one step: prompt (prefill) or 1 (decode) */
    int ctx_first, ctx_last;    /* context length of the first and last step */
    int steps;                  /* steps: 1 (prefill) or generated tokens (decode) */
    Op *ops;                    /* one layer's graph, in source order */
    int nops, ops_cap;
    Loc loc;
} Phase;

typedef struct ModelShape {
    const char *name;
    int layers, hidden, intermediate, heads, kv_heads, head_dim, vocab;
    Loc loc;
    double norm_eps;            /* epsilon of norms that give none */
    Rope rope;                  /* rotary embedding parameters */
    AttnForm attention;         /* prefill attention form (the workload may override it) */
} ModelShape;

/* An entity read from IR text has its place in that text as its Loc (errors point there) and the
 * .h2 place its @file:line:col named as its origin (printed back, and given as a note). */
typedef struct LocOrigin {
    Loc at;                     /* in the IR text */
    Loc origin;                 /* in the .h2 source */
} LocOrigin;

/* ---------------------------------------------------------------- attention plans
 * Decode attention per layer and KV head (docs/ir.md §2.6): a *stream* is (layer l, KV head h,
 * batch row b). Every (l, h) has one pattern; every stream one tiling: its KV cut into n tiles, tile
 * j in bank banks[j], computed by the PE under that bank (co-placed) or elsewhere (`by`). Lines cover
 * layer ranges, so consecutive layers that agree share one line. */

typedef enum PatKind {
    PAT_DENSE,      /* every token of the context */
    PAT_STATIC,     /* the first `sink` tokens and the `window` most recent (a ring of sink + window slots) */
    PAT_DYNAMIC,    /* Quest: the top floor(budget / page) pages by their min/max-key score */
    PAT_COUNT_
} PatKind;
extern const char *const pat_kind_names[PAT_COUNT_];

typedef struct Pattern {
    PatKind kind;
    int sink, window;       /* static: tokens */
    int page, budget;       /* dynamic: tokens */
} Pattern;

typedef struct AttnPatternLine {
    Range layers;           /* [lo, hi) */
    int *heads;             /* KV heads it covers, ascending, distinct */
    int nheads;
    Pattern pat;
    Loc loc;
} AttnPatternLine;

typedef struct BankRef {
    int ch, bank;           /* bank `bank` of channel `ch` */
} BankRef;

typedef struct AttnTiles {
    Range layers;           /* [lo, hi): the layers it covers, their regions back to back in each bank */
    int head, batch;        /* the stream's KV head and batch row */
    BankRef *banks;         /* tile j (tokens t with t mod n = j) lives in banks[j]; n = nbanks */
    int nbanks;
    Exec by;                /* EXEC_NONE: each tile on the PE under its bank (co-placed); EXEC_NPU or
                               EXEC_PE: computed there, reading the tiles over their channels */
    long long offset;       /* byte offset of the first layer's region in every bank of the list; -1: none */
    Loc loc;
} AttnTiles;

typedef struct Attention {
    int value_op, score_op; /* the attn_value and attn_score ops (same index in both phases) */
    int k_tensor, v_tensor; /* the K and V caches it places (they have no tensor tiles of their own) */
    AttnPatternLine *pats;
    int npats, pats_cap;
    AttnTiles *tiles;
    int ntiles, tiles_cap;
    Loc loc;                /* the .h2 value op */
} Attention;

typedef struct Module {
    Arena arena;                /* owns everything below */
    const char *source;         /* the .h2 file it came from */
    CostModelKind cost_model;
    DataflowMode dataflow;
    Objective objective;
    SplitSpace splits;          /* the MIX splits the dataflow search may use */
    Device dev;
    ModelShape model;
    Workload work;
    bool has_sparsity;
    Sparsity sparsity;
    Tensor *tensors;
    int ntensors, tensors_cap;
    Attention *attns;           /* decode attention plans (pass_sparsity, pass_coplace, pass_balance) */
    int nattns, attns_cap;
    Phase phases[PH_COUNT_];
    SrcFile **files;            /* source files named by Locs read from text */
    int nfiles, files_cap;
    LocOrigin *origins;         /* the .h2 origins of entities read from IR text */
    int norigins, origins_cap;
    bool origins_unsorted;      /* recorded out of text order: looked up by a scan */
} Module;

Module *ir_module_new(void);
void ir_module_free(Module *m);
int ir_find_op(const Phase *ph, const char *name);
int ir_find_tensor(const Module *m, const char *name);
Op *ir_add_op(Module *m, Phase *ph);
Tensor *ir_add_tensor(Module *m);
/* The module's copy of a source file, made once per name; text may be NULL (read lazily). */
const SrcFile *ir_intern_file(Module *m, const char *name, const char *text, size_t len);
/* loc, pointing at the module's copy of its file. */
Loc ir_own_loc(Module *m, Loc loc);
/* Records that the entity at `at` (in IR text) came from `origin` (in a .h2 file). */
void ir_set_origin(Module *m, Loc at, Loc origin);
/* The .h2 origin of an entity read from IR text, or NOLOC. */
Loc ir_origin(const Module *m, Loc at);
void ir_op_add_tile(Module *m, Op *op, OpTile t);
void ir_tensor_add_tile(Module *m, Tensor *t, TensorTile tile);
double ir_elem_bytes(const Module *m);
/* How prefill attention runs: the workload's choice, else the model's. */
AttnForm ir_attention_form(const Module *m);
/* An op's name for an input index (x, tokens, or another op of the phase). */
const char *ir_input_name(const Phase *ph, int k);

/* ---------------------------------------------------------------- attn.c: attention plans */

/* Tokens a stream of pattern p reserves: max_seq (dense, dynamic) or sink + window (static). */
long long attn_slots(const Pattern *p, long long max_seq);
/* The tile (of n) that holds token t of a stream of pattern p: t mod n for a dense or dynamic
 * stream; for a static one, its slot mod n, the slot being t for a sink token and
 * sink + (t - sink) mod window for the others (a ring). */
int attn_token_tile(const Pattern *p, long long t, int n);
/* Pages whose min/max keys a dynamic stream keeps: ceil(max_seq / page); 0 otherwise. */
long long attn_meta_pages(const Pattern *p, long long max_seq);
/* Bytes one tile of n holds per layer: ceil(slots / n) tokens of K and V, and for a dynamic stream
 * ceil(pages / n) pages of min and max keys. */
long long attn_region_bytes(const Module *m, const Pattern *p, int n);
/* Bytes per bank of one layer of a tiles line: the largest region of its layers' patterns. */
long long attn_line_region(const Module *m, const Attention *a, const AttnTiles *t);
/* The pattern of (layer, head), or NULL when no line covers it. */
const AttnPatternLine *attn_pattern_at(const Attention *a, int layer, int head);
/* The tiles line of stream (layer, head, batch), or NULL. */
const AttnTiles *attn_tiles_at(const Attention *a, int layer, int head, int batch);
/* The attention whose plan places tensor t (one with tiles lines), or -1. */
int ir_attention_of_tensor(const Module *m, int t);
/* The attention with tiles lines whose score op, value op or a softmax between them is op i (an
 * index of both phases), or -1. */
int ir_attention_of_op(const Module *m, int op);
/* The channels an attention's tiles live on. */
ChanSet attn_channels(const Attention *a);
/* The channels a tensor lives on: its tiles', or its attention's. */
ChanSet ir_tensor_chans(const Module *m, int t);
/* Appends a line to a's patterns or tiles, growing the arrays in `ar` (the module's arena, or a
 * scratch arena for a plan that is only priced). The line's own arrays must outlive a. */
void ir_attn_add_pattern(Arena *ar, Attention *a, AttnPatternLine line);
void ir_attn_add_tiles(Arena *ar, Attention *a, AttnTiles line);
Attention *ir_add_attention(Module *m);
/* A bank list as the text form writes it: ch0.b{0-11},ch1.b3 or ch{0-5}.b{0-15} (print.c). */
void ir_print_banks(FILE *out, const BankRef *b, int n);

/* ---------------------------------------------------------------- lower.c */

/* Lowers the checked program's selection to a Module: device, shapes, tensors, both phases. */
Module *ir_lower(const Config *c, Diag *d);

/* ---------------------------------------------------------------- shape.c */

/* The iteration space [B, M, N, K] and result shape an op has in a phase, from the model, the
 * workload and its inputs' result shapes (which must be known). False if they are not. */
bool ir_infer_shape(const Module *m, const Phase *ph, const Op *op, long long shape[4], int *out_rank,
                    long long out[3]);
/* Fills every op's shape and result in both phases, in topological order; shapes already set must
 * agree. False, with a located error, on a cycle or an op whose shape cannot be inferred. */
bool ir_fill_shapes(Module *m, Diag *d);
/* The phases' tokens, contexts and steps from m->work: prefill runs the prompt at once; decode one
 * token a step, the context growing from prompt+1 to prompt+generate, capped at max_seq. */
void ir_workload_phases(Module *m);
/* Gives a module that is not placed yet another workload's batch, prompt, generated tokens and
 * max_seq (its name and place stay): the KV tensors, the phases and every op's shape follow. For a
 * sweep over contexts. False, with an error, if the module is placed or mapped already. */
bool ir_set_workload(Module *m, const Workload *w, Diag *d);

/* ---------------------------------------------------------------- print.c / parse.c */

void ir_print(FILE *out, const Module *m);
/* Reads the text form. `name` is used in diagnostics; the text must stay alive only during the call. */
/* IR text files are read up to this size (`h2c opt` refuses a larger one). */
#define IR_MAX_FILE_BYTES ((size_t)256 << 20)
Module *ir_parse(const char *name, const char *text, size_t len, Diag *d);
/* A deep copy of m, through its text form (which round-trips): everything the text carries. */
Module *ir_module_copy(const Module *m, Diag *d);
void ir_print_range_set(FILE *out, ChanSet s);   /* ch{0-5} */
void ir_print_exec(FILE *out, Exec e);

/* ---------------------------------------------------------------- verify.c */

/* Checks every invariant of docs/ir.md §Invariants; reports each violation with its Loc. */
bool ir_verify(const Module *m, Diag *d);

/* ---------------------------------------------------------------- dot.c */

void ir_print_dot(FILE *out, const Module *m);

/* ---------------------------------------------------------------- queries used by passes */

/* The channels holding op's operand tensor: NMP ones and whether any normal one. */
void ir_op_storage(const Module *m, const Op *op, ChanSet *nmp, bool *normal);
/* Share of op's iteration space computed on NMP units (by volume). */
double ir_op_nmp_share(const Op *op);
long long ir_box_volume(const Range *box, int rank);
/* Topological order of a phase's ops (inputs first): 1, or 0 on a cycle, -1 when memory ran out. */
int ir_topo_order(const Phase *ph, int *order);

#endif

/* frontend.h: the .h2 front end of h2c, and the base every other folder builds on.
 * Pipeline position: text -> (lexer.l, parser.y) AST -> (sema.c) Config. Also home of
 * Loc, the allocator hook, arenas and diagnostics, which ir/, passes/ and tools/ share. */
#ifndef H2C_FRONTEND_H
#define H2C_FRONTEND_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define H2C_VERSION "0.3.0"

/* ---------------------------------------------------------------- base.c */

/* One allocator hook for the whole library (Lua's lua_Alloc): realloc semantics, nsize 0 frees.
 * Returns NULL on failure. Tests install a hook that fails the Nth call. */
typedef void *(*H2cAllocFn)(void *ud, void *ptr, size_t osize, size_t nsize);
void h2c_set_allocator(H2cAllocFn fn, void *ud);
void *h2c_raw_alloc(size_t n);           /* NULL on failure */
void *h2c_raw_realloc(void *p, size_t osize, size_t nsize);
void h2c_raw_free(void *p, size_t osize);

/* An internal invariant failed: a bug in h2c, never a user error. */
_Noreturn void h2c_unreachable_at(const char *file, int line, const char *msg);
#define h2c_unreachable(msg) h2c_unreachable_at(__FILE__, __LINE__, (msg))

/* Arena: bump allocation in chunks, freed all at once. Lifetimes are named by who owns the arena
 * (a Session owns sources, ASTs and configs; a Module owns its IR). When an allocation fails the
 * arena longjmps to `oom` (set by the library entry point that is running), or, if none is set,
 * calls h2c_unreachable. */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
    ArenaChunk *head;   /* newest chunk first */
    ArenaChunk *spare;  /* chunks kept by arena_reset for reuse */
    size_t used;        /* bytes used in head */
    size_t total;       /* bytes handed out, for statistics */
    jmp_buf *oom;       /* where to jump when memory runs out; NULL: fatal */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Forgets every allocation but keeps the memory for the next ones (no trip to the allocator). */
void arena_reset(Arena *a);
void *arena_alloc(Arena *a, size_t n);            /* zeroed, 16-byte aligned */
void *arena_realloc(Arena *a, void *p, size_t osize, size_t nsize);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

/* A growable array in an arena: `T *items; int count, cap;` next to each other. */
#define VEC_PUSH(arena, items, count, cap, value)                                              \
    do {                                                                                       \
        if ((count) == (cap)) {                                                                \
            int ncap_ = (cap) ? (cap) * 2 : 8;                                                 \
            (items) = arena_realloc((arena), (items), sizeof(*(items)) * (size_t)(cap),        \
                                    sizeof(*(items)) * (size_t)ncap_);                         \
            (cap) = ncap_;                                                                     \
        }                                                                                      \
        (items)[(count)++] = (value);                                                          \
    } while (0)

/* Writes s in double quotes with " \\ newline tab and control bytes escaped (as .h2 and IR read them). */
void fe_write_quoted(FILE *out, const char *s);
/* Shortest decimal text that reads back to exactly `v` (%.15g, %.16g or %.17g). */
void fmt_double(char *buf, size_t n, double v);
/* Edit distance, for "did you mean" suggestions. */
int edit_distance(const char *a, const char *b);
/* The candidate closest to `word` (NULL-terminated list), or NULL if none is close. */
const char *closest_word(const char *word, const char *const *candidates);
/* Seconds on the monotonic clock, for timing passes and searches. */
double h2c_seconds(void);

/* ---------------------------------------------------------------- diag.c */

/* A source file kept in memory for the caret lines of diagnostics. `text` may be NULL for a file
 * that is only named (e.g. a .h2 location read back from IR text); the line is then read lazily. */
typedef struct SrcFile {
    const char *name;   /* path as given */
    const char *text;   /* whole contents, NUL-terminated (may contain NULs), or NULL */
    size_t len;         /* bytes in text */
    bool ir_text;       /* IR text being read: Locs into it point at errors but are not printed back */
} SrcFile;

/* Where something came from: every token, AST node and IR entity has one. line/col are 1-based,
 * col counts bytes; len is the span in bytes on that line (0: a point). file NULL: no location. */
typedef struct Loc {
    const SrcFile *file;
    int line, col, len;
} Loc;

extern const Loc NOLOC;

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

/* Counts and prints diagnostics in the gcc format. Phases return false on error; only the CLI
 * turns that into an exit status. */
typedef struct Diag {
    FILE *out;          /* where diagnostics go (stderr in the CLI, a memstream in tests) */
    int errors;         /* errors reported so far */
    int warnings;       /* warnings reported so far */
    int max_errors;     /* stop after this many (0: 20) */
    bool stop;          /* set once max_errors is reached: phases should give up */
    bool werror;        /* treat warnings as errors */
    bool quiet;         /* count diagnostics but print none (a search trying designs one by one) */
} Diag;

void diag_init(Diag *d, FILE *out);
/* A Diag that counts and prints nothing. */
void diag_init_quiet(Diag *d);
void diag_report(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vreport(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
#define diag_error(d, loc, ...) diag_report((d), DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_report((d), DIAG_WARNING, (loc), __VA_ARGS__)
#define diag_note(d, loc, ...) diag_report((d), DIAG_NOTE, (loc), __VA_ARGS__)
/* Loc spanning from a's start to b's end when both are on one line, else a. */
Loc loc_span(Loc a, Loc b);

/* ---------------------------------------------------------------- units.c */

/* What a value measures. Each field of the language accepts one kind. */
typedef enum UnitKind {
    UK_NONE,        /* a plain number (counts, ratios written without %) */
    UK_BYTES,       /* B, KB, KiB, MB, MiB, GB, GiB, TB, TiB; base: byte */
    UK_FREQ,        /* Hz, kHz, MHz, GHz; base: Hz */
    UK_BANDWIDTH,   /* B/s, KB/s, MB/s, GB/s, GiB/s, TB/s; base: byte/s */
    UK_MACRATE,     /* MAC/s, GMAC/s, TMAC/s; base: MAC/s */
    UK_ENERGY_BIT,  /* fJ/bit, pJ/bit, pJ/B; base: pJ/bit */
    UK_ENERGY_MAC,  /* fJ/MAC, pJ/MAC; base: pJ/MAC */
    UK_ENERGY,      /* fJ, pJ, nJ, uJ; base: pJ */
    UK_TOKENS,      /* token, tokens; base: token */
    UK_PERCENT,     /* %; stored as a fraction */
    UK_TIME,        /* ns, us, ms, s, min; base: s */
    UK_COUNT_
} UnitKind;

typedef struct Unit {
    const char *name;   /* spelling, e.g. "GB/s" */
    UnitKind kind;
    int pow10;          /* scale = 10^pow10 * 2^pow2 (exact scaling, see unit_apply) */
    int pow2;
    double factor;      /* any other scale (min = 60 s); 1 otherwise */
} Unit;

const Unit *unit_lookup(const char *name);
const char *unit_kind_name(UnitKind k);      /* "a size", "a frequency", ... */
const char *unit_kind_example(UnitKind k);   /* "MiB", "MHz", ... */
/* Scale the decimal literal `text` by `u` exactly (10^k by rewriting the exponent, 2^k exactly).
 * Returns false on overflow to infinity. */
bool unit_apply(const char *text, const Unit *u, double *out);
/* Print v (base units of kind k) with the unit that gives the shortest number that reads back
 * exactly (the larger unit on a tie; a number below 1 only in the base unit), among the house
 * units: sizes in binary multiples (256MiB, 1.5KiB, else bytes), energies in pJ (0.682pJ/MAC),
 * the rest in any unit of the kind (12.8GB/s, 600MHz). No space before the unit; a percentage
 * prints as a fraction (0.7). */
void unit_format(char *buf, size_t n, double v, UnitKind k);

/* ---------------------------------------------------------------- ast.c */

typedef enum ExprKind {
    EX_NUM,     /* a number, maybe with a unit: 25.6 GB/s */
    EX_STR,     /* "text" */
    EX_NAME,    /* identifier: a field reference or an enum value */
    EX_NEG,     /* -lhs */
    EX_BIN,     /* lhs op rhs, op one of + - * / */
    EX_LIST,    /* [a, b, ...] */
    EX_TUPLE,   /* (a, b, ...) with at least two items */
} ExprKind;

typedef struct Expr Expr;
struct Expr {
    ExprKind kind;
    Loc loc;                        /* the whole expression */
    union {
        struct {
            const char *text;       /* the literal as written, e.g. "25.6" */
            const char *unit;       /* unit spelling or NULL */
            Loc unit_loc;           /* where the unit is */
        } num;
        const char *str;            /* EX_STR: contents, escapes resolved */
        const char *name;           /* EX_NAME */
        struct {
            char op;                /* '+', '-', '*', '/' (EX_BIN) */
            Expr *lhs, *rhs;        /* rhs NULL for EX_NEG */
            Loc op_loc;             /* the operator */
        } bin;
        struct {
            Expr **items;           /* EX_LIST / EX_TUPLE */
            int count;
        } list;
    };
};

typedef struct Arg {
    const char *name;   /* keyword (out = ...) or NULL for a positional input */
    Loc name_loc;
    Expr *value;
} Arg;

typedef enum StmtKind {
    ST_ASSIGN,  /* path = value [from "source"]; */
    ST_BLOCK,   /* name { stmts } */
    ST_OP,      /* op name = callee(args); */
} StmtKind;

typedef struct Stmt Stmt;
struct Stmt {
    StmtKind kind;
    Loc loc;                        /* the statement's first token */
    Stmt *next;                     /* next statement in the block */
    union {
        struct {
            const char *path;       /* dotted key, e.g. "nmp.channels" */
            Loc path_loc;
            Expr *value;
            const char *source;     /* `from "..."` or NULL */
            Loc source_loc;
        } assign;
        struct {
            const char *name;
            Loc name_loc;
            Stmt *body;             /* first statement or NULL */
        } block;
        struct {
            const char *name;       /* the op's result name */
            Loc name_loc;
            const char *callee;     /* op kind as written: fc, attn_score, ... */
            Loc callee_loc;
            Arg *args;
            int nargs;
        } op;
    };
};

typedef enum BlockKind { BK_HARDWARE, BK_MODEL, BK_WORKLOAD, BK_SPARSITY, BK_EXPLORE, BK_COUNT_ } BlockKind;
const char *block_kind_name(BlockKind k);

typedef enum ItemKind {
    IT_IMPORT,  /* import "path"; */
    IT_USE,     /* use kind name; */
    IT_BLOCK,   /* hardware/model/workload/sparsity/explore [name] { ... } */
} ItemKind;

typedef struct Item Item;
struct Item {
    ItemKind kind;
    Loc loc;
    Item *next;
    union {
        struct {
            const char *path;       /* as written */
            Loc path_loc;
        } import;
        struct {
            const char *what;       /* hardware, model, workload, sparsity, explore, cost-model */
            Loc what_loc;
            const char *name;
            Loc name_loc;
        } use;
        struct {
            BlockKind bk;
            const char *name;       /* NULL when unnamed */
            Loc name_loc;
            Stmt *body;
            Loc end_loc;            /* the closing brace */
        } block;
    };
};

/* One parsed file. */
typedef struct AstFile {
    SrcFile *src;
    const char *canon;              /* canonical path, to load each file once */
    Item *items;                    /* first item or NULL */
    struct AstFile **imports;       /* files this one imports, resolved, in order */
    int nimports, imports_cap;
} AstFile;

Expr *ast_expr(Arena *a, ExprKind k, Loc loc);
Stmt *ast_stmt(Arena *a, StmtKind k, Loc loc);
Item *ast_item(Arena *a, ItemKind k, Loc loc);
/* Prints the file and, after it, each imported file once, as an indented tree with line:col. */
void ast_dump(FILE *out, const AstFile *f);
void expr_print(FILE *out, const Expr *e);   /* compact s-expression form */

/* ---------------------------------------------------------------- source.c */

/* A Session owns everything read for one input: files, ASTs, and the checked Config. */
typedef struct Session {
    Arena arena;
    Diag *diag;
    AstFile **files;                /* every file loaded, root first */
    int nfiles, files_cap;
    const char **include_dirs;      /* extra import search paths (-I) */
    int ninclude;
} Session;

void session_init(Session *s, Diag *d);
void session_free(Session *s);
/* Reads and parses `path` and, recursively, its imports. Returns the root file, or NULL when the
 * root cannot be read; syntax errors are reported and parsing goes on (check diag->errors). */
AstFile *fe_load(Session *s, const char *path);
/* Reads a whole file into the arena as a SrcFile (two NULs after the text). NULL, with a diagnostic
 * located at `from`, if it cannot be opened or read or is larger than max_bytes. */
SrcFile *fe_read_file(Arena *a, Diag *d, const char *path, Loc from, size_t max_bytes);
/* Parses in-memory text (tests, fuzzing); imports are resolved relative to the cwd. */
AstFile *fe_load_text(Session *s, const char *name, const char *text, size_t len);

/* ---------------------------------------------------------------- lexer.l / parser.y */

/* Parses one buffer into `out` (items appended). The buffer must end with two NUL bytes. */
bool fe_parse(Session *s, SrcFile *src, AstFile *out);

/* ---------------------------------------------------------------- schema.c */

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
#define OP_KINDS(X)                                                                              \
    X(FC, "fc", "fully connected layer: y = x W, inputs of one width, out = N")                 \
    X(ATTN_SCORE, "attn_score", "attention scores S = Q K^T per head (GQA aware)")               \
    X(ATTN_VALUE, "attn_value", "attention output O = P V per head")                             \
    X(SOFTMAX, "softmax", "row softmax of attention scores")                                     \
    X(NORM, "norm", "layer or RMS normalisation over the hidden width")                         \
    X(ACTIVATION, "activation", "element-wise activation (silu, gelu, relu)")                    \
    X(ADD, "add", "element-wise sum (residual)")                                                 \
    X(MUL, "mul", "element-wise product (gating)")

typedef enum OpKind {
#define X(id, name, doc) OPK_##id,
    OP_KINDS(X)
#undef X
    OPK_COUNT_
} OpKind;
extern const char *const op_kind_names[OPK_COUNT_];

/* ---------------------------------------------------------------- sema.c: the checked program */

typedef enum ValType { VT_ACT, VT_SCORES } ValType;

typedef struct ModelOp {
    const char *name;
    Loc loc;                /* the op's name in `op NAME = ...` */
    OpKind kind;
    Loc kind_loc;
    int *inputs;            /* indices into Model.ops; -1 = the layer input x */
    int ninputs;
    int out;                /* output width N for fc (0 otherwise) */
    const char *fn;         /* activation function or norm kind, or NULL */
    ValType type;           /* what the op produces */
    int width;              /* output width (VT_ACT) */
} ModelOp;

typedef struct Model {
    const char *name;
    Loc loc;
    int layers, hidden, intermediate, heads, kv_heads, head_dim, vocab;
    Loc f_locs[7];          /* where layers..vocab were set */
    ModelOp *ops;           /* in source order; inputs may refer forward (sema checks acyclicity) */
    int nops;
} Model;

typedef struct Workload {
    const char *name;
    Loc loc;
    int batch, prompt, generate, max_seq;
    Loc f_locs[4];
} Workload;

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

typedef enum SearchMethod { SM_EXHAUSTIVE, SM_GA, SM_COUNT_ } SearchMethod;
extern const char *const search_method_names[SM_COUNT_];

typedef enum CostModelKind { CM_H2C, CM_ARTIFACT, CM_COUNT_ } CostModelKind;
extern const char *const cost_model_names[CM_COUNT_];

/* One explored axis: a hardware field and its candidate values (base units). */
typedef struct ExploreAxis {
    HwField field;
    double *values;
    int nvalues;
    Loc loc;
} ExploreAxis;

typedef struct Explore {
    const char *name;
    Loc loc;
    ExploreAxis *axes;      /* independent axes (cartesian product) */
    int naxes;
    double (*pe_tuples)[3]; /* pe = [(fpus, frequency, bandwidth), ...] or NULL */
    int npe_tuples;
    Loc pe_loc;
    DataflowMode dataflow;
    SearchMethod method;
    Objective objective;
    unsigned long long seed;
    double budget_seconds;  /* 0: none */
    long long budget_evals; /* 0: none */
} Explore;

/* The checked program: every block of every loaded file, plus the selection for compile. */
typedef struct Config {
    Hardware **hardware; int nhardware;
    Model **models; int nmodels;
    Workload **workloads; int nworkloads;
    Sparsity **sparsity; int nsparsity;
    Explore **explore; int nexplore;
    /* selection (use ... / the only one / the defaults) */
    Hardware *hw;           /* never NULL after a successful check */
    Model *model;           /* NULL for a library file without a model */
    Workload *workload;     /* never NULL */
    Sparsity *sparse;       /* NULL: dense */
    Explore *xp;            /* NULL: no explore block */
    CostModelKind cost_model;
    Loc cost_model_loc;
} Config;

/* CLI overrides of the selection (NULL: none). */
typedef struct Selection {
    const char *hardware, *model, *workload, *cost_model;
    int batch;                  /* > 0: run the chosen workload at this batch size */
} Selection;

/* Checks the loaded files and builds the Config. Reports every error it finds; returns NULL if
 * there was any. */
Config *fe_check(Session *s, AstFile *root, const Selection *sel);

/* Bytes of weights and of the KV cache (all layers) of a model under a workload. */
double model_weight_bytes(const Model *m, double elem_bytes);
double model_kv_bytes(const Model *m, const Workload *w, double elem_bytes);

void hardware_defaults_named(Hardware *hw, const char *name);
void workload_defaults(Workload *w);

/* ---------------------------------------------------------------- emit.c */

/* Writes hw as a .h2 `hardware NAME { ... }` block that reads back to the same values. */
void fe_write_hardware(FILE *out, const Hardware *hw, const char *name);

#endif

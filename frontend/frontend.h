/* frontend.h: the .h2 language: the scanner and parser (lexer.l, parser.y) build the AST (ast.c)
 * from files read and imported by source.c; the semantic checks (sema*.c) turn it into a Config;
 * emit.c writes .h2 text back. Pipeline position: text -> AST -> Config -> ir/lower. */
#ifndef H2C_FRONTEND_H
#define H2C_FRONTEND_H

#include "spec.h"

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
            bool broken;            /* the parser recovered from an error inside it: not checked */
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
    const char *import_root;        /* NULL, or a canonical directory: an import must then resolve to a
                                       regular file inside it (the fuzzers' scratch folder), so no input
                                       can make h2c open a device, a FIFO or a file elsewhere */
} Session;

void session_init(Session *s, Diag *d);
void session_free(Session *s);
/* Reads and parses `path` and, recursively, its imports. Returns the root file, or NULL when the
 * root cannot be read; syntax errors are reported and parsing goes on (check diag->errors). */
AstFile *fe_load(Session *s, const char *path);
/* Parses in-memory text (tests, fuzzing); imports are resolved relative to the cwd. */
AstFile *fe_load_text(Session *s, const char *name, const char *text, size_t len);

/* ---------------------------------------------------------------- lexer.l / parser.y */

/* Parses one buffer into `out` (items appended). The buffer must end with two NUL bytes. */
bool fe_parse(Session *s, SrcFile *src, AstFile *out);

/* ---------------------------------------------------------------- ops of the language */

#define OP_KINDS(X)                                                                              \
    X(FC, "fc", "fully connected layer: y = x W, inputs of one width, out = N")                 \
    X(ATTN_SCORE, "attn_score", "attention scores S = Q K^T per head (GQA aware)")               \
    X(ATTN_VALUE, "attn_value", "attention output O = P V per head")                             \
    X(SOFTMAX, "softmax", "row softmax of attention scores")                                     \
    X(NORM, "norm", "layer or RMS normalisation over the hidden width")                         \
    X(ACTIVATION, "activation", "element-wise activation (silu, gelu, relu)")                    \
    X(ADD, "add", "element-wise sum (residual)")                                                 \
    X(MUL, "mul", "element-wise product (gating)")                                               \
    X(EMBEDDING, "embedding", "token embedding: rows of a vocab x hidden table (prologue)")      \
    X(ROPE, "rope", "rotary position embedding of q or k, per head (the model's rope block)")

typedef enum OpKind {
#define X(id, name, doc) OPK_##id,
    OP_KINDS(X)
#undef X
    OPK_COUNT_
} OpKind;
extern const char *const op_kind_names[OPK_COUNT_];

/* ---------------------------------------------------------------- sema.c: the checked program */

typedef enum ValType { VT_ACT, VT_SCORES, VT_TOKENS } ValType;

#define MODEL_INPUT_X (-1)        /* an input that is the layer input x */
#define MODEL_INPUT_TOKENS (-2)   /* an input that is the token ids (the prologue's input) */

typedef struct ModelOp {
    const char *name;
    Loc loc;                /* the op's name in `op NAME = ...` */
    OpKind kind;
    Loc kind_loc;
    OpScope scope;          /* layer graph, prologue or epilogue */
    int *inputs;            /* indices into Model.ops, or MODEL_INPUT_X / MODEL_INPUT_TOKENS */
    int ninputs;
    int out;                /* output width N for fc (0 otherwise) */
    const char *fn;         /* activation function or norm kind, or NULL */
    bool bias;              /* fc: adds a bias vector; norm (layer): has a bias (beta) */
    int tied;               /* fc: the embedding op whose table it reads transposed, or -1 */
    double eps;             /* norm: epsilon (0: the model's norm_eps) */
    double scale;           /* embedding: the factor the looked-up rows are multiplied by (Gemma) */
    int positions;          /* embedding: 0 looks up token ids in a vocab x hidden table; N > 0 looks up
                               positions (+ offset) in a learned N x hidden table (OPT, GPT-2) */
    int offset;             /* embedding by position: added to the position (OPT's 2) */
    int window;             /* attn_score: sliding-window attention over the last `window` tokens (0: all) */
    bool unit_offset;       /* norm: the scale is 1 + the stored weight (Gemma) */
    ValType type;           /* what the op produces */
    int width;              /* output width (VT_ACT) */
} ModelOp;

typedef struct Model {
    const char *name;
    Loc loc;
    int layers, hidden, intermediate, heads, kv_heads, head_dim, vocab;
    Loc f_locs[7];          /* where layers..vocab were set */
    Rope rope;              /* the rope {} block (defaults when absent) */
    double norm_eps;        /* epsilon of every norm that does not give its own */
    AttnForm attention;     /* how prefill attention runs (a workload may override it) */
    ModelOp *ops;           /* prologue ops first, then the layer graph, then the epilogue; inputs may
                               refer forward within a scope (sema checks acyclicity) */
    int nops;
    int layer_out;          /* the layer op whose result feeds the next layer (-1: none defined) */
} Model;
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
    const char *objective;      /* --objective: overrides the explore block's (the CLI checks it) */
    int batch;                  /* > 0: run the chosen workload at this batch size */
} Selection;

/* Checks the loaded files and builds the Config. Reports every error it finds; returns NULL if
 * there was any. */
Config *fe_check(Session *s, AstFile *root, const Selection *sel);

/* Bytes of weights and of the KV cache (all layers) of a model under a workload. */
double model_weight_bytes(const Model *m, double elem_bytes);
double model_kv_bytes(const Model *m, const Workload *w, double elem_bytes);

/* ---------------------------------------------------------------- import_hf.c */

/* `h2c import-hf`: reads a Hugging Face config.json (path, or path/config.json when is_dir) and
 * writes a .h2 model block named `name` (NULL: from the folder's name) to out. False, with errors
 * naming the config's keys, if the architecture or a value cannot be represented; fields it does not
 * model are listed in one warning. */
bool fe_import_hf(Arena *a, const char *path, bool is_dir, const char *name, FILE *out, Diag *d);

/* ---------------------------------------------------------------- emit.c */

/* Writes hw as a .h2 `hardware NAME { ... }` block that reads back to the same values. */
void fe_write_hardware(FILE *out, const Hardware *hw, const char *name);
/* Writes s as a .h2 string literal that reads back as s. */
void fe_write_string(FILE *out, const char *s);

#endif

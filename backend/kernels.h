/* kernels.h: h2c's kernel library. A KernelDesc names one op tile with its shapes folded in; two
 * targets turn a list of them into code: readable C text (emit_c.c) and LLVM IR that is optimised
 * and JIT-compiled in-process (llvm.c). Every kernel has one C ABI, KernelFn, so the runtime's
 * dispatch loop can call any of them. Depends only on libc, libm, LLVM-C (inside llvm.c) and the
 * ground floor, support.h (h2c_raw_*, Diag): not on the IR, so the runtime links it
 * without the compiler. Layouts, argument lists and numerics are specified in docs/kernels.md. */
#ifndef H2C_KERNELS_H
#define H2C_KERNELS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "support.h"

/* ---------------------------------------------------------------- kdesc.c */

/* What a kernel computes. Buffers and arguments per kind are in be_kernel_abi() and
 * docs/kernels.md; "R" below is args[0], the run-time row count, unless said otherwise. */
typedef enum KernelKind {
    KK_GEMM,        /* y[M][N] (+)= x[M][K] . W^T (+ bias); W output-major, fp32/fp16/int8/int4 */
    KK_ATTN,        /* one KV head, g query heads, keys [lo,hi) of a contiguous or paged cache -> O, LSE */
    KK_MERGE,       /* n partial attention states (O_i, LSE_i) -> (O, LSE) */
    KK_PAGE_SCORE,  /* Quest: score pages from their key min/max, select the top k */
    KK_PAGE_META,   /* Quest: fold an appended key into its page's min/max */
    KK_SOFTMAX,     /* y = softmax(x) per row of n */
    KK_RMSNORM,     /* y = x / sqrt(mean(x^2) + eps) * w per row of n */
    KK_LAYERNORM,   /* y = (x - mean) / sqrt(var + eps) * w (+ b) per row of n */
    KK_SILU,        /* y = x / (1 + exp(-x)) */
    KK_GELU_TANH,   /* y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    KK_GELU_ERF,    /* y = 0.5 x (1 + erf(x / sqrt(2))) */
    KK_RELU,        /* y = x > 0 ? x : 0 */
    KK_ADD,         /* y = a + b (residual add) */
    KK_MUL,         /* y = a * b */
    KK_ROPE,        /* rotary embedding, rotate-half, on the first `rot` dims of each head */
    KK_EMBED,       /* y[r] = table[ids[r]] (fp16 rows widened to fp32) */
    KK_TOPK,        /* Quest: the top k pages of a score vector, the newest page always kept */
    KK_PAGE_ROWS,   /* Quest: a tile's local rows of the selected pages (tokens interleaved over n tiles) */
    KK_COUNT_
} KernelKind;

/* Element types of weights and KV caches. */
typedef enum KernelDType {
    KD_F32,         /* IEEE binary32 */
    KD_F16,         /* IEEE binary16, stored as uint16_t */
    KD_I8,          /* signed 8-bit, one per byte, times a per-group fp16 scale */
    KD_I4,          /* 4-bit, nibble - 8, in blocks of 32 weights in 16 bytes: byte j holds weight j (low
                     * nibble) and weight j + 16 (high nibble); times a per-group fp16 scale */
    KD_COUNT_
} KernelDType;

/* One kernel, specialised: every field is a compile-time constant of the generated code. Fields
 * not used by the kind must be zero (be_kernel_equal and be_kernel_hash ignore them anyway). */
typedef struct KernelDesc {
    KernelKind kind;
    union {
        struct {
            int m;              /* rows of x: 1..8 folded into the code, 0 = run-time (args[0]) */
            int k, n;           /* reduction length and output columns */
            KernelDType wtype;  /* weights: KD_F32, KD_F16, KD_I8 or KD_I4 */
            int group;          /* elements per scale along K: KD_I8 a multiple of 16, KD_I4 of 32; else 0 */
            bool bias;          /* add bias[N] */
            bool accumulate;    /* y += result instead of y = result */
        } gemm;
        struct {
            int head_dim;       /* D */
            int g;              /* query heads per KV head (GQA group), >= 1 */
            KernelDType kv;     /* K/V cache element: KD_F16 or KD_F32 */
            int page;           /* 0: contiguous cache; else tokens per page, pages listed at run time */
            bool causal;        /* query row i sees key t only if t <= qpos[i] */
            float scale;        /* softmax scale; 0 means 1/sqrt(D) */
            int window;         /* causal only: > 0, row i sees key t only if t > qpos[i] - window too */
            int interleave;     /* 0, 1: key t at row t; n >= 2 (not paged): lo < n, the rows hold the
                                   keys t = lo mod n, t at row t / n ([lo, hi) and qpos in tokens) */
        } attn;
        struct {
            int head_dim;       /* D */
        } merge;
        struct {
            int head_dim;       /* D */
            int g;              /* query heads summed into each page's score */
            int topk;           /* pages selected; 0: scores only (sel unused) */
            KernelDType mtype;  /* element type of the metadata: KD_F32 or KD_F16 */
        } score;
        struct {
            int head_dim;       /* D */
            int page;           /* tokens per page */
            KernelDType kv;     /* element type of the appended keys: KD_F16 or KD_F32 */
            KernelDType mtype;  /* element type of the metadata: KD_F32, or kv (min and max are keys' bits) */
            int interleave;     /* n: the buffer holds every n-th page (page p at p / n); 0 or 1: every page */
        } meta;
        struct {
            int k;              /* pages selected (the newest and the k - 1 best of the others) */
        } topk;
        struct {
            int page;           /* P: tokens per page */
            int tiles;          /* n: token t lives in tile t mod n, local row t / n */
            int k;              /* entries of the selection */
        } rows;
        struct {
            int n;              /* row length (every row-wise and element-wise kind) */
            float eps;          /* RMSNorm/LayerNorm epsilon; else 0 */
            bool bias;          /* LayerNorm: add b[n] */
        } row;
        struct {
            int head_dim;       /* D */
            int heads;          /* heads per row of x */
            int rot;            /* rotated dims (even, <= D): D times the partial-rotary fraction */
            double theta;       /* base, e.g. 10000 or 500000 */
            int scaling;        /* KR_SCALE_*: the inverse frequencies' context extension (Hugging Face's
                                 * rope_scaling); 0: none, and the fields below are 0 */
            double factor;      /* linear: positions divided by it; llama3: long wavelengths divided by it */
            double low_freq_factor, high_freq_factor;   /* llama3: the ramp's ends */
            int original_max;   /* llama3: the context the model was trained for */
        } rope;
        struct {
            int hidden;         /* row length H */
            int vocab;          /* rows of the table V; ids outside [0, V) give a zero row */
        } embed;
    };
} KernelDesc;

/* RoPE's scalings (KernelDesc.rope.scaling). */
enum { KR_SCALE_NONE, KR_SCALE_LINEAR, KR_SCALE_LLAMA3 };

/* The one C ABI of every kernel: bufs[i] are the kind's buffers (outputs first), args[j] its
 * run-time integers. A kernel never allocates, never fails and never keeps a pointer. */
typedef void (*KernelFn)(void *const *bufs, const int64_t *args);

enum { KERNEL_MAX_BUFS = 8, KERNEL_MAX_ARGS = 4, KERNEL_NAME_MAX = 128 };

/* The calling convention of one kind, as text: for the runtime's messages, docs and the C target's
 * comments. Buffer and argument counts are exact; unused slots may be NULL. */
typedef struct KernelAbi {
    const char *name;                       /* "gemm", "attn", ... */
    int nbufs, nargs;
    const char *bufs[KERNEL_MAX_BUFS];      /* "y: out f32 [M][N]", ... */
    const char *args[KERNEL_MAX_ARGS];      /* "M: rows of x and y", ... */
} KernelAbi;

const KernelAbi *be_kernel_abi(KernelKind k);
const char *be_dtype_name(KernelDType t);   /* "f32", "f16", "i8", "i4" */
/* The deterministic symbol name of d (a C identifier, < KERNEL_NAME_MAX bytes), e.g.
 * gemv_f16_m1_k4096_n1024 or attn_f16_d128_g4_p16. Equal descs, and only they, share a name. */
void be_kernel_name(const KernelDesc *d, char buf[KERNEL_NAME_MAX]);
bool be_kernel_equal(const KernelDesc *a, const KernelDesc *b);
uint64_t be_kernel_hash(const KernelDesc *d);
/* False, with an error for each problem, if d's shapes are out of range for its kind. */
bool be_kernel_check(const KernelDesc *d, Diag *diag);
/* RoPE's inverse frequency of rotary pair i (of rot/2), in double: theta^(-2i/rot), with the scaling. */
double be_rope_inv_freq(const KernelDesc *d, int i);
/* The softmax scale an attention kernel uses: attn.scale, or 1/sqrt(D) rounded to float. */
float be_attn_scale(const KernelDesc *d);
/* Bytes of one weight row of a GEMM (N rows of this), and of one row of its fp16 scales. */
int64_t be_gemm_row_bytes(const KernelDesc *d);
int64_t be_gemm_scale_row_bytes(const KernelDesc *d);
/* A page metadata kernel's interleave n (1 when the field is 0). */
int be_meta_interleave(const KernelDesc *d);
int be_attn_interleave(const KernelDesc *d);    /* attn.interleave, or 1 */

/* kjson.c: d as an object of the schedule's `kernels` table (its name, kind and fields); NULL only
 * when cJSON's allocator fails and returns. */
struct cJSON;
struct cJSON *be_kernel_json(const KernelDesc *d);

/* IEEE binary16 <-> binary32. Widening is exact; a NaN keeps its payload and becomes quiet, as
 * F16C's vcvtph2ps does. Narrowing rounds to nearest even (for callers filling caches, weights). */
float be_f16_to_f32(uint16_t h);
uint16_t be_f32_to_f16(float f);

/* ---------------------------------------------------------------- target.c */

/* Code generation options shared by both targets. */
typedef struct KernelOptions {
    int vector_width;   /* fp32 lanes of the LLVM code: 0 = from the host (16 AVX-512, 8 AVX, 4); 4, 8, 16 */
    bool portable;      /* LLVM: target-independent IR only: fp16 widened with integer ops even with F16C,
                         * int4 unpacked without AVX-512's vpermps table lookup */
    bool keep_ir;       /* be_jit_compile: keep the optimised module's text for be_jit_ir */
    const char *features;   /* LLVM: appended to the host's CPU features, e.g. "-avx512f" for AVX2 code; NULL: none */
} KernelOptions;

/* A target turns kernel descriptions into one translation unit (QBE's struct Target): open a
 * unit, add kernels, write the unit's text, close. The C target writes C11; the LLVM target
 * writes the optimised module as .ll text (its JIT is be_jit_compile below). */
typedef struct KernelTarget {
    const char *name;   /* "c" or "llvm" */
    const char *ext;    /* file name suffix: ".kernels.c", ".kernels.ll" */
    void *(*open)(const char *unit, const KernelOptions *o, Diag *d);   /* NULL on error */
    bool (*add)(void *unit, const KernelDesc *k, Diag *d);
    bool (*write)(void *unit, FILE *out, Diag *d);
    void (*close)(void *unit);                                          /* NULL is fine */
} KernelTarget;

extern const KernelTarget be_target_c;
extern const KernelTarget be_target_llvm;

/* Writes one unit with every distinct desc of descs[0..n) (duplicates are emitted once) to
 * `path`, through a temporary file renamed into place only on success. `unit` names the unit in
 * its header comment (the module name for LLVM). */
bool be_write_kernels(const KernelTarget *t, const char *path, const char *unit, const KernelDesc *descs,
                      int n, const KernelOptions *o, Diag *d);
/* The same into an open stream (no temporary file). */
bool be_emit_kernels(const KernelTarget *t, FILE *out, const char *unit, const KernelDesc *descs, int n,
                     const KernelOptions *o, Diag *d);

/* ---------------------------------------------------------------- llvm.c */

/* Kernels compiled to machine code in this process: one LLVM module, one ORC LLJIT. */
typedef struct KernelJit KernelJit;

/* Builds, verifies, optimises (default<O3> for the host CPU and its features) and JIT-compiles
 * every distinct desc of descs[0..n) in one module. NULL, with errors in d, on failure. */
KernelJit *be_jit_compile(const KernelDesc *descs, int n, const KernelOptions *o, Diag *d);
/* The compiled kernel for d (which must be among the descs compiled), or NULL with an error. */
KernelFn be_jit_lookup(const KernelJit *j, const KernelDesc *d, Diag *diag);
/* The compiled kernel named `name` (be_kernel_name), or NULL if there is none. */
KernelFn be_jit_lookup_name(const KernelJit *j, const char *name);
/* The optimised module's text if KernelOptions.keep_ir was set, else NULL. Owned by j. */
const char *be_jit_ir(const KernelJit *j);
/* What the host offers and what the code uses: "cpu generic, 16 lanes, f16c". Owned by j. */
const char *be_jit_target(const KernelJit *j);
/* Wall seconds be_jit_compile spent building + optimising the IR and generating machine code, and
 * the CPU seconds of the whole (this thread's; stable when the machine is shared). NULL: skipped. */
void be_jit_times(const KernelJit *j, double *build_opt, double *codegen, double *cpu);
void be_jit_free(KernelJit *j);

#endif

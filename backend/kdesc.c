/* kdesc.c: kernel descriptions: their names, equality and hashing (a schedule deduplicates its
 * kernels with these), range checks, the per-kind calling convention, and fp16 conversion.
 * Both targets start here; nothing in this file knows about C text or LLVM. */
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const KernelAbi abis[KK_COUNT_] = {
    [KK_GEMM] = {"gemm", 5, 1,
                 {"y: out f32 [M][N]", "x: in f32 [M][K]",
                  "W: in [N][K] elements of wtype, row by row (i4: [N][16 ceil(K/32)] bytes)",
                  "scales: in f16 [N][ceil(K/group)] (i8, i4; else unused)", "bias: in f32 [N] (if bias; else unused)"},
                 {"M: rows of x and y (must equal m when m is folded)"}},
    [KK_ATTN] = {"attn", 7, 3,
                 {"O: out f32 [M][g][D]", "LSE: out f32 [M][g] (natural log)", "Q: in f32 [M][g][D]",
                  "K: in kv [T][D] (paged: a pool of pages, page p at rows [p*P, p*P+P))", "V: in kv, as K",
                  "pages: in i32 [ceil(hi/P)] page ids (paged; else unused)", "qpos: in i32 [M] (causal; else unused): row i's token position (window: it sees keys t > qpos - window)"},
                 {"M: query rows", "lo: first key (logical token index; interleaved: the tile's residue)",
                  "hi: one past the last key"}},
    [KK_MERGE] = {"merge", 4, 2,
                  {"O: out f32 [R][D]", "LSE: out f32 [R]", "Os: in f32 [n][R][D]", "LSEs: in f32 [n][R]"},
                  {"R: rows (query heads)", "n: partial states"}},
    [KK_PAGE_SCORE] = {"pagescore", 4, 1,
                       {"sel: out i32 [topk] selected pages in ascending order, then -1 (topk 0: unused)",
                        "score: out f32 [npages]", "q: in f32 [g][D]",
                        "meta: in mtype [npages][2][D] (min row, max row)"},
                       {"npages: pages scored"}},
    [KK_PAGE_META] = {"pagemeta", 2, 2,
                      {"meta: in/out mtype [ceil(pages/n)][2][D] (min row, max row; page p at p/n)",
                       "keys: in kv [count][D]"},
                      {"t: token position of the first key (page t/P)", "count: keys appended"}},
    [KK_SOFTMAX] = {"softmax", 2, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]"}, {"R: rows"}},
    [KK_RMSNORM] = {"rmsnorm", 3, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]", "w: in f32 [n]"}, {"R: rows"}},
    [KK_LAYERNORM] = {"layernorm", 4, 1,
                      {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]", "w: in f32 [n]",
                       "b: in f32 [n] (if bias; else unused)"},
                      {"R: rows"}},
    [KK_SILU] = {"silu", 2, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]"}, {"R: rows"}},
    [KK_GELU_TANH] = {"gelutanh", 2, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]"}, {"R: rows"}},
    [KK_GELU_ERF] = {"geluerf", 2, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]"}, {"R: rows"}},
    [KK_RELU] = {"relu", 2, 1, {"y: out f32 [R][n] (may be x)", "x: in f32 [R][n]"}, {"R: rows"}},
    [KK_ADD] = {"add", 3, 1, {"y: out f32 [R][n] (may be a or b)", "a: in f32 [R][n]", "b: in f32 [R][n]"}, {"R: rows"}},
    [KK_MUL] = {"mul", 3, 1, {"y: out f32 [R][n] (may be a or b)", "a: in f32 [R][n]", "b: in f32 [R][n]"}, {"R: rows"}},
    [KK_ROPE] = {"rope", 3, 1,
                 {"y: out f32 [R][heads][D] (may be x)", "x: in f32 [R][heads][D]", "pos: in i32 [R] positions"},
                 {"R: rows (tokens)"}},
    [KK_EMBED] = {"embed", 3, 1, {"y: out f32 [R][H]", "table: in f16 [V][H]", "ids: in i32 [R] token ids"},
                  {"R: rows (tokens)"}},
    [KK_TOPK] = {"topk", 2, 1,
                 {"sel: out i32 [k] selected pages in ascending order (the newest, npages-1, last), then -1",
                  "score: in f32 [npages]"},
                 {"npages: pages to choose from"}},
    [KK_PAGE_ROWS] = {"pagerows", 2, 1,
                      {"rows: out i32 [k ceil(P/n)] tile j's local rows of the selected pages, ascending, then -1",
                       "sel: in i32 [k] pages, ascending, then -1"},
                      {"j: the tile (rows of tokens t = j mod n)"}},
};

int be_meta_interleave(const KernelDesc *d) { return d->meta.interleave > 1 ? d->meta.interleave : 1; }
int be_attn_interleave(const KernelDesc *d) { return d->attn.interleave > 1 ? d->attn.interleave : 1; }

const KernelAbi *be_kernel_abi(KernelKind k) {
    if ((unsigned)k >= KK_COUNT_)
        h2c_unreachable("bad kernel kind");
    return &abis[k];
}

const char *be_dtype_name(KernelDType t) {
    switch (t) {
    case KD_F32: return "f32";
    case KD_F16: return "f16";
    case KD_I8: return "i8";
    case KD_I4: return "i4";
    case KD_COUNT_: break;
    }
    return "?";
}

/* The shortest decimal form of v that reads back as v, spelled as an identifier part:
 * '-' -> 'm', '.' -> 'p', '+' dropped (1e-05 -> 1em05, 0.5 -> 0p5). Injective on finite values. */
static void ident_double(char *out, size_t n, double v, bool is_float) {
    char tmp[40];
    if (v == floor(v) && fabs(v) < 1e15)    /* integers in full: 500000, not 5e+05 */
        snprintf(tmp, sizeof tmp, "%.0f", v);
    else
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof tmp, "%.*g", prec, v);
            if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
                break;
        }
    size_t j = 0;
    for (const char *p = tmp; *p && j + 1 < n; p++) {
        if (*p == '-')
            out[j++] = 'm';
        else if (*p == '.')
            out[j++] = 'p';
        else if (*p != '+')
            out[j++] = *p;
    }
    out[j] = '\0';
}

void be_kernel_name(const KernelDesc *d, char buf[KERNEL_NAME_MAX]) {
    char num[48];
    size_t n = KERNEL_NAME_MAX;
    switch (d->kind) {
    case KK_GEMM: {
        char m[16];
        if (d->gemm.m > 0)
            snprintf(m, sizeof m, "%d", d->gemm.m);
        else
            snprintf(m, sizeof m, "x");
        int len = snprintf(buf, n, "%s_%s_m%s_k%d_n%d", d->gemm.m == 1 ? "gemv" : "gemm", be_dtype_name(d->gemm.wtype),
                           m, d->gemm.k, d->gemm.n);
        if (d->gemm.wtype == KD_I8 || d->gemm.wtype == KD_I4)
            len += snprintf(buf + len, n - (size_t)len, "_g%d", d->gemm.group);
        if (d->gemm.bias)
            len += snprintf(buf + len, n - (size_t)len, "_bias");
        if (d->gemm.accumulate)
            snprintf(buf + len, n - (size_t)len, "_acc");
        return;
    }
    case KK_ATTN: {
        int len = snprintf(buf, n, "attn_%s_d%d_g%d", be_dtype_name(d->attn.kv), d->attn.head_dim, d->attn.g);
        if (d->attn.page)
            len += snprintf(buf + len, n - (size_t)len, "_p%d", d->attn.page);
        if (d->attn.causal)
            len += snprintf(buf + len, n - (size_t)len, "_causal");
        if (d->attn.window > 0)
            len += snprintf(buf + len, n - (size_t)len, "_w%d", d->attn.window);
        if (d->attn.interleave > 1)
            len += snprintf(buf + len, n - (size_t)len, "_i%d", d->attn.interleave);
        if (d->attn.scale != 0) {
            ident_double(num, sizeof num, d->attn.scale, true);
            snprintf(buf + len, n - (size_t)len, "_s%s", num);
        }
        return;
    }
    case KK_MERGE: snprintf(buf, n, "merge_d%d", d->merge.head_dim); return;
    case KK_PAGE_SCORE: {
        int len = snprintf(buf, n, "pagescore_d%d_g%d_k%d", d->score.head_dim, d->score.g, d->score.topk);
        if (d->score.mtype != KD_F32)
            snprintf(buf + len, n - (size_t)len, "_m%s", be_dtype_name(d->score.mtype));
        return;
    }
    case KK_PAGE_META: {
        int len = snprintf(buf, n, "pagemeta_%s_d%d_p%d", be_dtype_name(d->meta.kv), d->meta.head_dim, d->meta.page);
        if (d->meta.mtype != KD_F32)
            len += snprintf(buf + len, n - (size_t)len, "_m%s", be_dtype_name(d->meta.mtype));
        if (d->meta.interleave > 1)
            snprintf(buf + len, n - (size_t)len, "_i%d", d->meta.interleave);
        return;
    }
    case KK_TOPK: snprintf(buf, n, "topk_k%d", d->topk.k); return;
    case KK_PAGE_ROWS: snprintf(buf, n, "pagerows_p%d_n%d_k%d", d->rows.page, d->rows.tiles, d->rows.k); return;
    case KK_RMSNORM:
    case KK_LAYERNORM:
        ident_double(num, sizeof num, d->row.eps, true);
        snprintf(buf, n, "%s_n%d_eps%s%s", abis[d->kind].name, d->row.n, num,
                 d->kind == KK_LAYERNORM && d->row.bias ? "_bias" : "");
        return;
    case KK_SOFTMAX:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU:
    case KK_ADD:
    case KK_MUL: snprintf(buf, n, "%s_n%d", abis[d->kind].name, d->row.n); return;
    case KK_ROPE: {
        ident_double(num, sizeof num, d->rope.theta, false);
        int len = snprintf(buf, n, "rope_d%d_h%d_r%d_t%s", d->rope.head_dim, d->rope.heads, d->rope.rot, num);
        char f[40], lo[40], hi[40];
        ident_double(f, sizeof f, d->rope.factor, false);
        if (d->rope.scaling == KR_SCALE_LINEAR && len > 0 && (size_t)len < n) {
            snprintf(buf + len, n - (size_t)len, "_lin%.24s", f);
        } else if (d->rope.scaling == KR_SCALE_LLAMA3 && len > 0 && (size_t)len < n) {
            ident_double(lo, sizeof lo, d->rope.low_freq_factor, false);
            ident_double(hi, sizeof hi, d->rope.high_freq_factor, false);
            snprintf(buf + len, n - (size_t)len, "_l3f%.20sl%.20sh%.20so%d", f, lo, hi, d->rope.original_max);
        }
        return;
    }
    case KK_EMBED: snprintf(buf, n, "embed_h%d_v%d", d->embed.hidden, d->embed.vocab); return;
    case KK_COUNT_: break;
    }
    h2c_unreachable("bad kernel kind");
}

static bool same_float(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }
static bool same_double(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

bool be_kernel_equal(const KernelDesc *a, const KernelDesc *b) {
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case KK_GEMM:
        return a->gemm.m == b->gemm.m && a->gemm.k == b->gemm.k && a->gemm.n == b->gemm.n &&
               a->gemm.wtype == b->gemm.wtype &&
               (a->gemm.wtype == KD_F32 || a->gemm.wtype == KD_F16 || a->gemm.group == b->gemm.group) &&
               a->gemm.bias == b->gemm.bias && a->gemm.accumulate == b->gemm.accumulate;
    case KK_ATTN:
        return a->attn.head_dim == b->attn.head_dim && a->attn.g == b->attn.g && a->attn.kv == b->attn.kv &&
               a->attn.page == b->attn.page && a->attn.causal == b->attn.causal &&
               same_float(a->attn.scale, b->attn.scale) && a->attn.window == b->attn.window &&
               be_attn_interleave(a) == be_attn_interleave(b);
    case KK_MERGE: return a->merge.head_dim == b->merge.head_dim;
    case KK_PAGE_SCORE:
        return a->score.head_dim == b->score.head_dim && a->score.g == b->score.g && a->score.topk == b->score.topk &&
               a->score.mtype == b->score.mtype;
    case KK_PAGE_META:
        return a->meta.head_dim == b->meta.head_dim && a->meta.page == b->meta.page && a->meta.kv == b->meta.kv &&
               a->meta.mtype == b->meta.mtype && be_meta_interleave(a) == be_meta_interleave(b);
    case KK_TOPK: return a->topk.k == b->topk.k;
    case KK_PAGE_ROWS: return a->rows.page == b->rows.page && a->rows.tiles == b->rows.tiles && a->rows.k == b->rows.k;
    case KK_RMSNORM: return a->row.n == b->row.n && same_float(a->row.eps, b->row.eps);
    case KK_LAYERNORM:
        return a->row.n == b->row.n && same_float(a->row.eps, b->row.eps) && a->row.bias == b->row.bias;
    case KK_SOFTMAX:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU:
    case KK_ADD:
    case KK_MUL: return a->row.n == b->row.n;
    case KK_ROPE:
        return a->rope.head_dim == b->rope.head_dim && a->rope.heads == b->rope.heads && a->rope.rot == b->rope.rot &&
               same_double(a->rope.theta, b->rope.theta) && a->rope.scaling == b->rope.scaling &&
               (a->rope.scaling == KR_SCALE_NONE || same_double(a->rope.factor, b->rope.factor)) &&
               (a->rope.scaling != KR_SCALE_LLAMA3 ||
                (same_double(a->rope.low_freq_factor, b->rope.low_freq_factor) &&
                 same_double(a->rope.high_freq_factor, b->rope.high_freq_factor) &&
                 a->rope.original_max == b->rope.original_max));
    case KK_EMBED: return a->embed.hidden == b->embed.hidden && a->embed.vocab == b->embed.vocab;
    case KK_COUNT_: break;
    }
    h2c_unreachable("bad kernel kind");
}

/* FNV-1a over the fields be_kernel_equal compares. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define HASH(h, v) ((h) = fnv((h), &(v), sizeof(v)))

uint64_t be_kernel_hash(const KernelDesc *d) {
    uint64_t h = 0xcbf29ce484222325ULL;
    int kind = d->kind, flags;
    HASH(h, kind);
    switch (d->kind) {
    case KK_GEMM: {
        int group = d->gemm.wtype == KD_I8 || d->gemm.wtype == KD_I4 ? d->gemm.group : 0;
        int wt = d->gemm.wtype;
        flags = d->gemm.bias | d->gemm.accumulate << 1;
        HASH(h, d->gemm.m), HASH(h, d->gemm.k), HASH(h, d->gemm.n), HASH(h, wt), HASH(h, group), HASH(h, flags);
        break;
    }
    case KK_ATTN: {
        int kv = d->attn.kv;
        flags = d->attn.causal;
        HASH(h, d->attn.head_dim), HASH(h, d->attn.g), HASH(h, kv), HASH(h, d->attn.page), HASH(h, flags);
        int il = be_attn_interleave(d);
        HASH(h, d->attn.scale), HASH(h, d->attn.window), HASH(h, il);
        break;
    }
    case KK_MERGE: HASH(h, d->merge.head_dim); break;
    case KK_PAGE_SCORE: {
        int mt = d->score.mtype;
        HASH(h, d->score.head_dim), HASH(h, d->score.g), HASH(h, d->score.topk), HASH(h, mt);
        break;
    }
    case KK_PAGE_META: {
        int kv = d->meta.kv, mt = d->meta.mtype, il = be_meta_interleave(d);
        HASH(h, d->meta.head_dim), HASH(h, d->meta.page), HASH(h, kv), HASH(h, mt), HASH(h, il);
        break;
    }
    case KK_TOPK: HASH(h, d->topk.k); break;
    case KK_PAGE_ROWS: HASH(h, d->rows.page), HASH(h, d->rows.tiles), HASH(h, d->rows.k); break;
    case KK_RMSNORM: HASH(h, d->row.n), HASH(h, d->row.eps); break;
    case KK_LAYERNORM:
        flags = d->row.bias;
        HASH(h, d->row.n), HASH(h, d->row.eps), HASH(h, flags);
        break;
    case KK_SOFTMAX:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU:
    case KK_ADD:
    case KK_MUL: HASH(h, d->row.n); break;
    case KK_ROPE:
        HASH(h, d->rope.head_dim), HASH(h, d->rope.heads), HASH(h, d->rope.rot), HASH(h, d->rope.theta);
        HASH(h, d->rope.scaling);
        if (d->rope.scaling != KR_SCALE_NONE)
            HASH(h, d->rope.factor);
        if (d->rope.scaling == KR_SCALE_LLAMA3)
            HASH(h, d->rope.low_freq_factor), HASH(h, d->rope.high_freq_factor), HASH(h, d->rope.original_max);
        break;
    case KK_EMBED: HASH(h, d->embed.hidden), HASH(h, d->embed.vocab); break;
    case KK_COUNT_: h2c_unreachable("bad kernel kind");
    }
    return h;
}

enum { DIM_MAX = 1 << 24 };     /* any size field; products are formed in int64_t */

/* One range check: reports `what` with d's name when !ok. */
static bool need(bool ok, const KernelDesc *k, Diag *d, const char *what) {
    if (!ok) {
        char name[KERNEL_NAME_MAX];
        if ((unsigned)k->kind < KK_COUNT_)
            be_kernel_name(k, name);
        else
            snprintf(name, sizeof name, "kernel of kind %d", (int)k->kind);
        diag_error(d, NOLOC, "%s: %s", name, what);
    }
    return ok;
}

static bool in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

bool be_kernel_check(const KernelDesc *k, Diag *d) {
    if (!need((unsigned)k->kind < KK_COUNT_, k, d, "unknown kernel kind"))
        return false;
    bool ok = true;
    switch (k->kind) {
    case KK_GEMM: {
        ok &= need(in_range(k->gemm.m, 0, 8), k, d, "m must be 0 (run-time rows) or 1..8");
        ok &= need(in_range(k->gemm.k, 1, DIM_MAX) && in_range(k->gemm.n, 1, DIM_MAX), k, d,
                   "k and n must be in 1..2^24");
        ok &= need((unsigned)k->gemm.wtype < KD_COUNT_, k, d, "unknown weight type");
        if (k->gemm.wtype == KD_I8)
            ok &= need(in_range(k->gemm.group, 16, DIM_MAX) && k->gemm.group % 16 == 0, k, d,
                       "group must be a positive multiple of 16");
        if (k->gemm.wtype == KD_I4)     /* whole 32-weight blocks per group */
            ok &= need(in_range(k->gemm.group, 32, DIM_MAX) && k->gemm.group % 32 == 0, k, d,
                       "group must be a positive multiple of 32");
        break;
    }
    case KK_ATTN:
        ok &= need(in_range(k->attn.head_dim, 1, 1024), k, d, "head_dim must be in 1..1024");
        ok &= need(in_range(k->attn.g, 1, 64), k, d, "g must be in 1..64");
        ok &= need(k->attn.kv == KD_F16 || k->attn.kv == KD_F32, k, d, "the KV cache must be f16 or f32");
        ok &= need(in_range(k->attn.page, 0, DIM_MAX), k, d, "page must be 0 (contiguous) or a token count");
        ok &= need(isfinite(k->attn.scale) && k->attn.scale >= 0 && !signbit(k->attn.scale), k, d,
                   "scale must be positive, or 0 for 1/sqrt(head_dim)");
        ok &= need(in_range(k->attn.window, 0, DIM_MAX), k, d, "window must be 0 (none) or a token count");
        ok &= need(k->attn.window == 0 || k->attn.causal, k, d, "a window needs the positions (causal)");
        ok &= need(in_range(k->attn.interleave, 0, 4096), k, d, "interleave must be in 0..4096");
        ok &= need(k->attn.interleave < 2 || k->attn.page == 0, k, d, "an interleaved tile is not paged");
        break;
    case KK_MERGE: ok &= need(in_range(k->merge.head_dim, 1, DIM_MAX), k, d, "head_dim must be in 1..2^24"); break;
    case KK_PAGE_SCORE:
        ok &= need(in_range(k->score.head_dim, 1, 1024), k, d, "head_dim must be in 1..1024");
        ok &= need(in_range(k->score.g, 1, 64), k, d, "g must be in 1..64");
        ok &= need(in_range(k->score.topk, 0, 4096), k, d, "topk must be in 0..4096 (0: scores only)");
        ok &= need(k->score.mtype == KD_F16 || k->score.mtype == KD_F32, k, d, "the metadata must be f16 or f32");
        break;
    case KK_PAGE_META:
        ok &= need(in_range(k->meta.head_dim, 1, 1024), k, d, "head_dim must be in 1..1024");
        ok &= need(in_range(k->meta.page, 1, DIM_MAX), k, d, "page must be a positive token count");
        ok &= need(k->meta.kv == KD_F16 || k->meta.kv == KD_F32, k, d, "the key must be f16 or f32");
        ok &= need(k->meta.mtype == KD_F32 || k->meta.mtype == k->meta.kv, k, d,
                   "the metadata must be f32 or the keys' type");
        ok &= need(in_range(k->meta.interleave, 0, 4096), k, d, "interleave must be in 0..4096");
        break;
    case KK_TOPK: ok &= need(in_range(k->topk.k, 1, 4096), k, d, "k must be in 1..4096"); break;
    case KK_PAGE_ROWS:
        ok &= need(in_range(k->rows.page, 1, 1 << 16), k, d, "page must be in 1..65536");
        ok &= need(in_range(k->rows.tiles, 1, 4096), k, d, "tiles must be in 1..4096");
        ok &= need(in_range(k->rows.k, 1, 4096), k, d, "k must be in 1..4096");
        break;
    case KK_RMSNORM:
    case KK_LAYERNORM:
        ok &= need(isfinite(k->row.eps) && k->row.eps >= 0, k, d, "eps must be finite and >= 0");
        /* fall through */
    case KK_SOFTMAX:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU:
    case KK_ADD:
    case KK_MUL: ok &= need(in_range(k->row.n, 1, DIM_MAX), k, d, "n must be in 1..2^24"); break;
    case KK_ROPE:
        ok &= need(in_range(k->rope.head_dim, 1, 4096) && in_range(k->rope.heads, 1, 4096), k, d,
                   "head_dim and heads must be in 1..4096");
        ok &= need(in_range(k->rope.rot, 2, k->rope.head_dim) && k->rope.rot % 2 == 0, k, d,
                   "rot must be even and in 2..head_dim");
        ok &= need(isfinite(k->rope.theta) && k->rope.theta > 0, k, d, "theta must be positive");
        ok &= need(k->rope.scaling >= KR_SCALE_NONE && k->rope.scaling <= KR_SCALE_LLAMA3, k, d,
                   "scaling must be none, linear or llama3");
        if (k->rope.scaling != KR_SCALE_NONE)
            ok &= need(isfinite(k->rope.factor) && k->rope.factor > 0, k, d, "the scaling factor must be positive");
        if (k->rope.scaling == KR_SCALE_LLAMA3)
            ok &= need(isfinite(k->rope.low_freq_factor) && isfinite(k->rope.high_freq_factor) &&
                           k->rope.low_freq_factor > 0 && k->rope.high_freq_factor > k->rope.low_freq_factor &&
                           k->rope.original_max >= 1,
                       k, d, "llama3 scaling needs 0 < low_freq_factor < high_freq_factor and original_max >= 1");
        break;
    case KK_EMBED:
        ok &= need(in_range(k->embed.hidden, 1, DIM_MAX) && in_range(k->embed.vocab, 1, DIM_MAX), k, d,
                   "hidden and vocab must be in 1..2^24");
        break;
    case KK_COUNT_: break;
    }
    return ok;
}

double be_rope_inv_freq(const KernelDesc *d, int i) {
    double f = pow(d->rope.theta, -2.0 * i / d->rope.rot);
    if (d->rope.scaling == KR_SCALE_LINEAR)
        return f / d->rope.factor;
    if (d->rope.scaling == KR_SCALE_LLAMA3) {
        /* Llama 3.1 (Hugging Face's _compute_llama3_parameters): long wavelengths divided by the
           factor, short ones kept, a linear ramp in 1/wavelength between */
        double wavelen = 2 * 3.141592653589793 / f;
        double low_wl = d->rope.original_max / d->rope.low_freq_factor;
        double high_wl = d->rope.original_max / d->rope.high_freq_factor;
        if (wavelen < high_wl)
            return f;
        if (wavelen > low_wl)
            return f / d->rope.factor;
        double smooth = (d->rope.original_max / wavelen - d->rope.low_freq_factor) /
                        (d->rope.high_freq_factor - d->rope.low_freq_factor);
        return (1 - smooth) * f / d->rope.factor + smooth * f;
    }
    return f;
}

float be_attn_scale(const KernelDesc *d) {
    return d->attn.scale != 0 ? d->attn.scale : (float)(1.0 / sqrt((double)d->attn.head_dim));
}

int64_t be_gemm_row_bytes(const KernelDesc *d) {
    int64_t k = d->gemm.k;
    switch (d->gemm.wtype) {
    case KD_F32: return 4 * k;
    case KD_F16: return 2 * k;
    case KD_I8: return k;
    case KD_I4: return 16 * ((k + 31) / 32);
    case KD_COUNT_: break;
    }
    h2c_unreachable("bad weight type");
}

int64_t be_gemm_scale_row_bytes(const KernelDesc *d) {
    if (d->gemm.wtype != KD_I8 && d->gemm.wtype != KD_I4)
        return 0;
    return 2 * (((int64_t)d->gemm.k + d->gemm.group - 1) / d->gemm.group);
}

float be_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fff, bits;
    if (em >= 0x7c00) {     /* inf, or NaN made quiet */
        bits = sign | 0x7f800000 | (em & 0x3ff) << 13 | (em > 0x7c00 ? 0x400000 : 0);
    } else {                /* normal or subnormal: rebias the exponent by a multiplication by 2^112 */
        float f;
        uint32_t m = em << 13;
        memcpy(&f, &m, sizeof f);
        f *= 0x1p112f;
        memcpy(&bits, &f, sizeof bits);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

uint16_t be_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffff;
    if (ax > 0x7f800000)    /* NaN: keep the top payload bits, stay a (quiet) NaN */
        return (uint16_t)(sign | 0x7e00 | (ax >> 13 & 0x3ff));
    if (ax >= 0x477ff000)   /* rounds to >= 65520: infinity */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000) {  /* below the smallest normal half: a subnormal, rounded to nearest even */
        float a;
        memcpy(&a, &ax, sizeof a);
        a = a * 0x1p24f;    /* exact; the subnormal's integer mantissa */
        float r = nearbyintf(a);
        return (uint16_t)(sign | (uint32_t)r);
    }
    uint32_t mant = ax & 0x7fffff, exp = (ax >> 23) - 112;  /* half exponent, >= 1 */
    uint32_t h = exp << 10 | mant >> 13, rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;                /* may carry into the exponent: still right (up to 0x7bff + 1 = inf excluded above) */
    return (uint16_t)(sign | h);
}

/* emit_c.c: the C target. Writes one C11 translation unit (NAME.kernels.c) holding every kernel
 * of a schedule, constants folded, readable, with no dependency but libm: fp16 is uint16_t with an
 * exact, branch-free conversion. Reductions keep 16 partial sums (lanes) so a compiler can
 * vectorise them without reassociating; the LLVM target follows the same order wherever
 * docs/kernels.md promises bitwise-equal results. */
#include "kernels.h"

#include <math.h>
#include <string.h>

typedef struct CUnit {
    const char *name;       /* unit name, for the header comment */
    KernelDesc *descs;      /* kernels added so far */
    int count, cap;
} CUnit;

static void *c_open(const char *unit, const KernelOptions *o, Diag *d) {
    (void)o;
    CUnit *u = h2c_raw_alloc(sizeof *u);
    if (!u) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    memset(u, 0, sizeof *u);
    u->name = unit;
    return u;
}

static bool c_add(void *unit, const KernelDesc *k, Diag *d) {
    CUnit *u = unit;
    if (!be_kernel_check(k, d))
        return false;
    if (u->count == u->cap) {
        int ncap = u->cap ? 2 * u->cap : 16;
        KernelDesc *p = h2c_raw_realloc(u->descs, sizeof *p * (size_t)u->cap, sizeof *p * (size_t)ncap);
        if (!p) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        u->descs = p;
        u->cap = ncap;
    }
    u->descs[u->count++] = *k;
    return true;
}

static void c_close(void *unit) {
    CUnit *u = unit;
    if (!u)
        return;
    h2c_raw_free(u->descs, sizeof *u->descs * (size_t)u->cap);
    h2c_raw_free(u, sizeof *u);
}

/* ---------------------------------------------------------------- text helpers */

#define P(...) fprintf(out, __VA_ARGS__)

/* A float constant as an exact C literal: 0x1.6a09e6p-4f. */
static void flit(char *buf, size_t n, float v) { snprintf(buf, n, "%af", (double)v); }

static const char *kv_ctype(KernelDType t) { return t == KD_F16 ? "uint16_t" : "float"; }
static const char *kv_load(KernelDType t) { return t == KD_F16 ? "h2f" : ""; }

static const char prelude[] =
    "#include <math.h>\n"
    "#include <stdint.h>\n"
    "#include <string.h>\n"
    "\n"
    "/* a*b+c is never fused: the results must not depend on the compiler's contraction */\n"
    "#if defined(__clang__)\n"
    "#pragma STDC FP_CONTRACT OFF\n"
    "#endif\n"
    "\n"
    "enum { LANES = 16 };   /* partial sums per reduction: sum lane l takes elements l, l+16, ... */\n"
    "\n"
    "/* a unit uses only some of the helpers below; clang warns about the others without this */\n"
    "#if defined(__GNUC__)\n"
    "#define MAYBE_UNUSED __attribute__((unused))\n"
    "#else\n"
    "#define MAYBE_UNUSED\n"
    "#endif\n"
    "\n"
    "/* IEEE binary16 -> binary32, exact. Normal and subnormal halves are rebiased by a multiplication\n"
    " * by 2^112; inf and NaN are rebuilt, a NaN made quiet as F16C's vcvtph2ps does. No branches, so\n"
    " * loops over it vectorise. */\n"
    "static inline MAYBE_UNUSED float h2f(uint16_t h)\n"
    "{\n"
    "    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, em = h & 0x7fffu, bits = em << 13;\n"
    "    float f;\n"
    "    memcpy(&f, &bits, sizeof f);\n"
    "    f *= 0x1p112f;\n"
    "    memcpy(&bits, &f, sizeof bits);\n"
    "    uint32_t special = 0x7f800000u | em << 13 | (em > 0x7c00u ? 0x400000u : 0u);\n"
    "    bits = (em >= 0x7c00u ? special : bits) | sign;\n"
    "    memcpy(&f, &bits, sizeof f);\n"
    "    return f;\n"
    "}\n"
    "\n"
    "/* Element k of an int4 row: blocks of 32 weights in 16 bytes, byte j of a block holding weight j\n"
    " * in its low nibble and weight j + 16 in its high nibble; the value is nibble - 8. */\n"
    "static inline MAYBE_UNUSED float q4(const uint8_t *row, int64_t k)\n"
    "{\n"
    "    return (float)(((row[k / 32 * 16 + k % 16] >> (k % 32 / 16 * 4)) & 15) - 8);\n"
    "}\n"
    "\n"
    "/* Sum of the 16 lanes, lane 0 first. */\n"
    "static inline MAYBE_UNUSED float lanes_sum(const float *acc)\n"
    "{\n"
    "    float s = 0.0f;\n"
    "    for (int l = 0; l < LANES; l++)\n"
    "        s += acc[l];\n"
    "    return s;\n"
    "}\n"
    "\n"
    "/* q . k over n elements: 16 lanes, then the lanes in order, then the tail in order. */\n"
    "static inline MAYBE_UNUSED float dot_f32(const float *q, const float *k, int64_t n)\n"
    "{\n"
    "    float acc[LANES] = {0};\n"
    "    int64_t nv = n / LANES * LANES, i;\n"
    "    for (i = 0; i < nv; i += LANES)\n"
    "        for (int l = 0; l < LANES; l++)\n"
    "            acc[l] += q[i + l] * k[i + l];\n"
    "    float s = lanes_sum(acc);\n"
    "    for (i = nv; i < n; i++)\n"
    "        s += q[i] * k[i];\n"
    "    return s;\n"
    "}\n"
    "\n"
    "static inline MAYBE_UNUSED float dot_f16(const float *q, const uint16_t *k, int64_t n)\n"
    "{\n"
    "    float acc[LANES] = {0};\n"
    "    int64_t nv = n / LANES * LANES, i;\n"
    "    for (i = 0; i < nv; i += LANES)\n"
    "        for (int l = 0; l < LANES; l++)\n"
    "            acc[l] += q[i + l] * h2f(k[i + l]);\n"
    "    float s = lanes_sum(acc);\n"
    "    for (i = nv; i < n; i++)\n"
    "        s += q[i] * h2f(k[i]);\n"
    "    return s;\n"
    "}\n"
    "\n"
    "static inline MAYBE_UNUSED float dot_i8(const float *x, const int8_t *w, int64_t n)\n"
    "{\n"
    "    float acc[LANES] = {0};\n"
    "    int64_t nv = n / LANES * LANES, i;\n"
    "    for (i = 0; i < nv; i += LANES)\n"
    "        for (int l = 0; l < LANES; l++)\n"
    "            acc[l] += x[i + l] * (float)w[i + l];\n"
    "    float s = lanes_sum(acc);\n"
    "    for (i = nv; i < n; i++)\n"
    "        s += x[i] * (float)w[i];\n"
    "    return s;\n"
    "}\n"
    "\n"
    "/* x[0..n) . elements k0..k0+n of an int4 row (k0 a multiple of 32): block by block, the low\n"
    " * nibbles then the high ones, so lane l still takes elements l, l+16, ... in order. */\n"
    "static inline MAYBE_UNUSED float dot_i4(const float *x, const uint8_t *row, int64_t k0, int64_t n)\n"
    "{\n"
    "    float acc[LANES] = {0};\n"
    "    const uint8_t *b = row + k0 / 2;\n"
    "    int64_t nb = n / 32, i;\n"
    "    for (i = 0; i < nb; i++)\n"
    "        for (int l = 0; l < LANES; l++) {\n"
    "            acc[l] += x[32 * i + l] * (float)((b[16 * i + l] & 15) - 8);\n"
    "            acc[l] += x[32 * i + 16 + l] * (float)((b[16 * i + l] >> 4) - 8);\n"
    "        }\n"
    "    float s = lanes_sum(acc);\n"
    "    for (i = nb * 32; i < n; i++)\n"
    "        s += x[i] * q4(row, k0 + i);\n"
    "    return s;\n"
    "}\n";

/* The comment above each kernel: its name, what it computes, its buffers and arguments. */
static void header(FILE *out, const KernelDesc *k, const char *name, const char *what) {
    const KernelAbi *abi = be_kernel_abi(k->kind);
    P("\n/* %s: %s\n", name, what);
    for (int i = 0; i < abi->nbufs; i++)
        P(" *   bufs[%d] %s\n", i, abi->bufs[i]);
    for (int i = 0; i < abi->nargs; i++)
        P(" *   args[%d] %s\n", i, abi->args[i]);
    P(" */\nvoid %s(void *const *bufs, const int64_t *args)\n{\n", name);
}

/* ---------------------------------------------------------------- GEMM */

static void emit_gemm(FILE *out, const KernelDesc *k, const char *name) {
    KernelDType wt = k->gemm.wtype;
    char what[160];
    snprintf(what, sizeof what, "y%s x . W^T%s, W %s [N][K]%s", k->gemm.accumulate ? " +=" : " =",
             k->gemm.bias ? " + bias" : "", be_dtype_name(wt),
             wt == KD_I8 || wt == KD_I4 ? " with fp16 scales per group of G along K" : "");
    header(out, k, name, what);
    P("    enum { K = %d, N = %d", k->gemm.k, k->gemm.n);
    if (wt == KD_I8 || wt == KD_I4)
        P(", G = %d, NG = (K + G - 1) / G", k->gemm.group);
    if (wt == KD_I4)
        P(", KB = (K + 31) / 32 * 16");
    P(" };\n");
    if (k->gemm.m > 0)
        P("    const int64_t M = %d;\n    (void)args;\n", k->gemm.m);
    else
        P("    const int64_t M = args[0];\n");
    P("    float *y = bufs[0];\n    const float *x = bufs[1];\n");
    switch (wt) {
    case KD_F32: P("    const float *w = bufs[2];\n"); break;
    case KD_F16: P("    const uint16_t *w = bufs[2];\n"); break;
    case KD_I8: P("    const int8_t *w = bufs[2];\n    const uint16_t *scales = bufs[3];\n"); break;
    case KD_I4: P("    const uint8_t *w = bufs[2];\n    const uint16_t *scales = bufs[3];\n"); break;
    case KD_COUNT_: h2c_unreachable("bad weight type");
    }
    if (k->gemm.bias)
        P("    const float *bias = bufs[4];\n");
    P("    for (int64_t n = 0; n < N; n++) {\n");
    switch (wt) {
    case KD_F32:
    case KD_F16:
        P("        const %s *wn = w + n * K;\n", wt == KD_F32 ? "float" : "uint16_t");
        P("        for (int64_t m = 0; m < M; m++) {\n");
        P("            float r = dot_%s(x + m * K, wn, K);\n", be_dtype_name(wt));
        break;
    case KD_I8:
    case KD_I4:
        if (wt == KD_I8)
            P("        const int8_t *wn = w + n * K;\n");
        else
            P("        const uint8_t *wn = w + n * KB;\n");
        P("        const uint16_t *sn = scales + n * NG;\n");
        P("        for (int64_t m = 0; m < M; m++) {\n");
        P("            float r = 0.0f;\n");
        P("            for (int64_t g = 0; g < NG; g++) {   /* a group's partial sum, times its scale */\n");
        P("                int64_t k0 = g * G, len = K - k0 < G ? K - k0 : G;\n");
        if (wt == KD_I8)
            P("                r += h2f(sn[g]) * dot_i8(x + m * K + k0, wn + k0, len);\n");
        else
            P("                r += h2f(sn[g]) * dot_i4(x + m * K + k0, wn, k0, len);\n");
        P("            }\n");
        break;
    case KD_COUNT_: break;
    }
    if (k->gemm.bias)
        P("            r += bias[n];\n");
    P("            y[m * N + n] = %sr;\n", k->gemm.accumulate ? "y[m * N + n] + " : "");
    P("        }\n    }\n}\n");
}

/* ---------------------------------------------------------------- attention */

static void emit_attn(FILE *out, const KernelDesc *k, const char *name) {
    KernelDType kv = k->attn.kv;
    char what[200], sc[40];
    snprintf(what, sizeof what,
             "attention of g query heads over keys [lo,hi) of one KV head%s%s%s; online softmax, one key at a time",
             k->attn.page ? " (paged)" : "", k->attn.causal ? ", causal" : "",
             k->attn.window > 0 ? ", sliding window" : "");
    header(out, k, name, what);
    flit(sc, sizeof sc, be_attn_scale(k));
    P("    enum { D = %d, G = %d", k->attn.head_dim, k->attn.g);
    if (k->attn.page)
        P(", P = %d", k->attn.page);
    P(" };\n");
    P("    const float scale = %s;\n", sc);
    P("    const int64_t M = args[0], lo = args[1], hi = args[2];\n");
    P("    float *o = bufs[0], *lse = bufs[1];\n    const float *q = bufs[2];\n");
    P("    const %s *kc = bufs[3], *vc = bufs[4];\n", kv_ctype(kv));
    if (k->attn.page)
        P("    const int32_t *pages = bufs[5];\n");
    if (k->attn.causal)
        P("    const int32_t *qpos = bufs[6];\n");
    P("    for (int64_t i = 0; i < M; i++) {\n");
    if (k->attn.causal)
        P("        int64_t end = (int64_t)qpos[i] + 1 < hi ? (int64_t)qpos[i] + 1 : hi;   /* keys t <= qpos[i] */\n");
    else
        P("        int64_t end = hi;\n");
    if (k->attn.window > 0)
        P("        int64_t start = (int64_t)qpos[i] - %d + 1 > lo ? (int64_t)qpos[i] - %d + 1 : lo;   /* and t > qpos[i] - W */\n",
          k->attn.window, k->attn.window);
    else
        P("        int64_t start = lo;\n");
    if (be_attn_interleave(k) > 1) {    /* keys t = lo mod n at rows t / n: the rows of tokens [start, end) */
        int n = be_attn_interleave(k);
        P("        int64_t j = lo %% %d;\n", n);
        P("        start = (start - j + %d) / %d;\n", n - 1, n);
        P("        end = end > j ? (end - j + %d) / %d : 0;\n", n - 1, n);
    }
    P("        for (int64_t h = 0; h < G; h++) {\n");
    P("            const float *qh = q + (i * G + h) * D;\n");
    P("            float *oh = o + (i * G + h) * D;\n");
    P("            float mx = -INFINITY, sum = 0.0f, acc[D] = {0};\n");
    P("            for (int64_t t = start; t < end; t++) {\n");
    if (k->attn.page)
        P("                int64_t row = (int64_t)pages[t / P] * P + t %% P;\n");
    else
        P("                int64_t row = t;\n");
    P("                const %s *kt = kc + row * D, *vt = vc + row * D;\n", kv_ctype(kv));
    P("                float s = dot_%s(qh, kt, D) * scale;\n", be_dtype_name(kv));
    P("                if (s > mx) {   /* a new maximum: rescale what was summed so far */\n");
    P("                    float c = expf(mx - s);\n");
    P("                    sum *= c;\n");
    P("                    for (int d = 0; d < D; d++)\n");
    P("                        acc[d] *= c;\n");
    P("                    mx = s;\n");
    P("                }\n");
    P("                float p = expf(s - mx);\n");
    P("                sum += p;\n");
    P("                for (int d = 0; d < D; d++)\n");
    P("                    acc[d] += p * %s(vt[d]);\n", kv_load(kv));
    P("            }\n");
    P("            if (sum > 0.0f) {\n");
    P("                for (int d = 0; d < D; d++)\n");
    P("                    oh[d] = acc[d] / sum;\n");
    P("                lse[i * G + h] = mx + logf(sum);\n");
    P("            } else {   /* no key: O = 0, LSE = -inf */\n");
    P("                for (int d = 0; d < D; d++)\n");
    P("                    oh[d] = 0.0f;\n");
    P("                lse[i * G + h] = -INFINITY;\n");
    P("            }\n");
    P("        }\n    }\n}\n");
}

static void emit_merge(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name,
           "merge of n partial states: LSE = M + ln sum exp(LSE_i - M), O = sum exp(LSE_i - LSE) O_i");
    P("    enum { D = %d };\n", k->merge.head_dim);
    P("    const int64_t R = args[0], n = args[1];\n");
    P("    float *o = bufs[0], *lse = bufs[1];\n    const float *os = bufs[2], *lses = bufs[3];\n");
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        float *orow = o + r * D;\n");
    P("        float mx = -INFINITY;\n");
    P("        for (int64_t i = 0; i < n; i++)\n");
    P("            mx = lses[i * R + r] > mx ? lses[i * R + r] : mx;\n");
    P("        for (int64_t d = 0; d < D; d++)\n");
    P("            orow[d] = 0.0f;\n");
    P("        if (mx == -INFINITY) {   /* every part empty */\n");
    P("            lse[r] = -INFINITY;\n");
    P("            continue;\n");
    P("        }\n");
    P("        float sum = 0.0f;\n");
    P("        for (int64_t i = 0; i < n; i++)\n");
    P("            sum += expf(lses[i * R + r] - mx);\n");
    P("        float l = mx + logf(sum);\n");
    P("        for (int64_t i = 0; i < n; i++) {\n");
    P("            float w = expf(lses[i * R + r] - l);\n");
    P("            const float *oi = os + (i * R + r) * D;\n");
    P("            for (int64_t d = 0; d < D; d++)\n");
    P("                orow[d] += w * oi[d];\n");
    P("        }\n");
    P("        lse[r] = l;\n");
    P("    }\n}\n");
}

/* ---------------------------------------------------------------- Quest */

/* The insertion of score s of page p into the best KEEP kept so far (best first; an equal score came
 * earlier, from a lower page, and stays ahead), then the kept pages sorted ascending: the selection
 * step the page score and top-k kernels share (and the LLVM target follows). */
static void emit_keep_best(FILE *out, const char *indent) {
    P("%sif (s != s)\n", indent);
    P("%s    s = -INFINITY;    /* NaN ranks last */\n", indent);
    P("%sif (kept == KEEP && !(s > best[KEEP - 1]))\n", indent);
    P("%s    continue;\n", indent);
    P("%sint64_t j = kept < KEEP ? kept++ : KEEP - 1;\n", indent);
    P("%sfor (; j > 0 && s > best[j - 1]; j--) {\n", indent);
    P("%s    best[j] = best[j - 1];\n", indent);
    P("%s    besti[j] = besti[j - 1];\n", indent);
    P("%s}\n", indent);
    P("%sbest[j] = s;\n", indent);
    P("%sbesti[j] = (int32_t)p;\n", indent);
}

static void emit_sort_kept(FILE *out) {
    P("    for (int64_t i = 1; i < kept; i++) {   /* the selection in page order */\n");
    P("        int32_t v = besti[i];\n");
    P("        int64_t j = i;\n");
    P("        for (; j > 0 && besti[j - 1] > v; j--)\n");
    P("            besti[j] = besti[j - 1];\n");
    P("        besti[j] = v;\n");
    P("    }\n");
}

static void emit_page_score(FILE *out, const KernelDesc *k, const char *name) {
    bool pick = k->score.topk > 0;
    header(out, k, name,
           pick ? "Quest page scores, sum over heads h and dims d of max(q[h][d] max[d], q[h][d] min[d]), and the "
                  "top k pages (ties to the lower page; NaN scores rank last)"
                : "Quest page scores, sum over heads h and dims d of max(q[h][d] max[d], q[h][d] min[d])");
    P("    enum { D = %d, G = %d", k->score.head_dim, k->score.g);
    if (pick)
        P(", KEEP = %d", k->score.topk);
    P(" };\n");
    P("    const int64_t np = args[0];\n");
    if (pick)
        P("    int32_t *sel = bufs[0];\n");
    P("    float *score = bufs[1];\n");
    P("    const float *q = bufs[2];\n");
    P("    const %s *meta = bufs[3];\n", kv_ctype(k->score.mtype));
    if (pick) {
        P("    float best[KEEP];     /* kept scores, best first */\n");
        P("    int32_t besti[KEEP];  /* their pages */\n");
        P("    int64_t kept = 0;\n");
    }
    P("    for (int64_t p = 0; p < np; p++) {\n");
    P("        const %s *mn = meta + p * 2 * D, *mxk = mn + D;\n", kv_ctype(k->score.mtype));
    P("        float s = 0.0f;\n");
    P("        for (int64_t h = 0; h < G; h++)\n");
    P("            for (int64_t d = 0; d < D; d++) {\n");
    P("                float a = q[h * D + d] * %s(mxk[d]), b = q[h * D + d] * %s(mn[d]);\n",
      kv_load(k->score.mtype), kv_load(k->score.mtype));
    P("                s += a > b ? a : b;\n");
    P("            }\n");
    P("        score[p] = s;\n");
    if (pick)
        emit_keep_best(out, "        ");
    P("    }\n");
    if (pick) {
        emit_sort_kept(out);
        P("    for (int64_t i = 0; i < KEEP; i++)\n");
        P("        sel[i] = i < kept ? besti[i] : -1;\n");
    }
    P("}\n");
}

static void emit_topk(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name,
           "Quest's choice: the newest page (npages - 1) and the k - 1 best of the others by score (ties to "
           "the lower page; NaN ranks last), in ascending page order, then -1");
    P("    enum { K = %d };\n", k->topk.k);
    P("    const int64_t np = args[0];\n");
    P("    int32_t *sel = bufs[0];\n");
    if (k->topk.k > 1) {
        P("    const float *score = bufs[1];\n");
        P("    enum { KEEP = K - 1 };\n");
        P("    float best[KEEP];     /* kept scores, best first */\n");
        P("    int32_t besti[K] = {0};   /* their pages, and the newest */\n");
        P("    int64_t kept = 0;\n");
        P("    for (int64_t p = 0; p < np - 1; p++) {\n");
        P("        float s = score[p];\n");
        emit_keep_best(out, "        ");
        P("    }\n");
        emit_sort_kept(out);
    } else {
        P("    int32_t besti[K] = {0};\n");
        P("    int64_t kept = 0;\n");
    }
    P("    if (np > 0)\n");
    P("        besti[kept++] = (int32_t)(np - 1);   /* the newest, after every other page */\n");
    P("    for (int64_t i = 0; i < K; i++)\n");
    P("        sel[i] = i < kept ? besti[i] : -1;\n");
    P("}\n");
}

static void emit_page_rows(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name,
           "a tile's share of the selected pages: tile j of n holds token t = j (mod n) at local row t / n, "
           "so page p's tokens are its rows ceil((pP - j) / n) .. ceil(((p+1)P - j) / n) - 1");
    P("    enum { P = %d, NT = %d, K = %d, MAXR = K * ((P + NT - 1) / NT) };\n", k->rows.page, k->rows.tiles,
      k->rows.k);
    P("    const int64_t j = args[0];\n");
    P("    int32_t *rows = bufs[0];\n");
    P("    const int32_t *sel = bufs[1];\n");
    P("    int64_t m = 0;\n");
    P("    for (int64_t i = 0; i < K && sel[i] >= 0; i++) {\n");
    P("        const int64_t p = sel[i];\n");
    P("        for (int64_t r = (p * P - j + NT - 1) / NT; r < ((p + 1) * P - j + NT - 1) / NT && m < MAXR; r++)\n");
    P("            rows[m++] = (int32_t)r;\n");
    P("    }\n");
    P("    for (; m < MAXR; m++)\n");
    P("        rows[m] = -1;\n");
    P("}\n");
}

static void emit_page_meta(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name,
           "Quest metadata: the key of token t opens page t/P (its first token) or widens its min and max; "
           "page p is entry p/n of the buffer");
    KernelDType mt = k->meta.mtype, kv = k->meta.kv;
    P("    enum { D = %d, P = %d, NI = %d };\n", k->meta.head_dim, k->meta.page, be_meta_interleave(k));
    P("    const int64_t t0 = args[0], count = args[1];\n");
    P("    %s *meta = bufs[0];\n", kv_ctype(mt));
    P("    const %s *keys = bufs[1];\n", kv_ctype(kv));
    P("    for (int64_t i = 0; i < count; i++) {\n");
    P("        const int64_t t = t0 + i;\n");
    P("        %s *mn = meta + t / P / NI * 2 * D, *mx = mn + D;\n", kv_ctype(mt));
    P("        const %s *key = keys + i * D;\n", kv_ctype(kv));
    P("        for (int64_t d = 0; d < D; d++) {\n");
    P("            float v = %s(key[d]);\n", kv_load(kv));
    if (mt == KD_F32) {
        P("            if (t %% P == 0) {\n");
        P("                mn[d] = v;\n");
        P("                mx[d] = v;\n");
        P("            } else {\n");
        P("                mn[d] = v < mn[d] ? v : mn[d];\n");
        P("                mx[d] = v > mx[d] ? v : mx[d];\n");
        P("            }\n");
    } else {    /* the metadata in the keys' type: the min and max are keys, kept bit for bit */
        P("            if (t %% P == 0) {\n");
        P("                mn[d] = key[d];\n");
        P("                mx[d] = key[d];\n");
        P("            } else {\n");
        P("                mn[d] = v < h2f(mn[d]) ? key[d] : mn[d];\n");
        P("                mx[d] = v > h2f(mx[d]) ? key[d] : mx[d];\n");
        P("            }\n");
    }
    P("        }\n");
    P("    }\n}\n");
}

/* ---------------------------------------------------------------- row-wise and element-wise */

static void emit_rows_begin(FILE *out, const KernelDesc *k, int nin) {
    P("    enum { N = %d };\n", k->row.n);
    P("    const int64_t R = args[0];\n");
    P("    float *y = bufs[0];\n");
    if (nin == 1)
        P("    const float *x = bufs[1];\n");
    else
        P("    const float *a = bufs[1], *b = bufs[2];\n");
}

static void emit_softmax(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name, "softmax of each row; a row of -inf gives zeros");
    emit_rows_begin(out, k, 1);
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        const float *xr = x + r * N;\n");
    P("        float *yr = y + r * N;\n");
    P("        float mx = -INFINITY, sum = 0.0f;\n");
    P("        for (int64_t j = 0; j < N; j++)\n");
    P("            mx = xr[j] > mx ? xr[j] : mx;\n");
    P("        if (mx == -INFINITY) {\n");
    P("            for (int64_t j = 0; j < N; j++)\n");
    P("                yr[j] = 0.0f;\n");
    P("            continue;\n");
    P("        }\n");
    P("        for (int64_t j = 0; j < N; j++) {\n");
    P("            float e = expf(xr[j] - mx);\n");
    P("            yr[j] = e;\n");
    P("            sum += e;\n");
    P("        }\n");
    P("        float inv = 1.0f / sum;\n");
    P("        for (int64_t j = 0; j < N; j++)\n");
    P("            yr[j] *= inv;\n");
    P("    }\n}\n");
}

/* A 16-lane sum of EXPR(j) over a row, into `var` (lanes, then the lanes in order, then the tail). */
static void emit_lane_sum(FILE *out, const char *var, const char *expr_l, const char *expr_j) {
    P("        float %s;\n", var);
    P("        {\n");
    P("            float acc[LANES] = {0};\n");
    P("            int64_t j;\n");
    P("            for (j = 0; j < N / LANES * LANES; j += LANES)\n");
    P("                for (int l = 0; l < LANES; l++)\n");
    P("                    acc[l] += %s;\n", expr_l);
    P("            %s = lanes_sum(acc);\n", var);
    P("            for (j = N / LANES * LANES; j < N; j++)\n");
    P("                %s += %s;\n", var, expr_j);
    P("        }\n");
}

static void emit_rmsnorm(FILE *out, const KernelDesc *k, const char *name) {
    char eps[40];
    flit(eps, sizeof eps, k->row.eps);
    header(out, k, name, "RMSNorm: y = x * (1 / sqrt(sum(x^2) / N + eps)) * w");
    emit_rows_begin(out, k, 1);
    P("    const float *w = bufs[2];\n");
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        const float *xr = x + r * N;\n");
    P("        float *yr = y + r * N;\n");
    emit_lane_sum(out, "ss", "xr[j + l] * xr[j + l]", "xr[j] * xr[j]");
    P("        float inv = 1.0f / sqrtf(ss / (float)N + %s);\n", eps);
    P("        for (int64_t j = 0; j < N; j++)\n");
    P("            yr[j] = xr[j] * inv * w[j];\n");
    P("    }\n}\n");
}

static void emit_layernorm(FILE *out, const KernelDesc *k, const char *name) {
    char eps[40];
    flit(eps, sizeof eps, k->row.eps);
    header(out, k, name, "LayerNorm: y = (x - mean) * (1 / sqrt(var + eps)) * w (+ b); var by a second pass");
    emit_rows_begin(out, k, 1);
    P("    const float *w = bufs[2];\n");
    if (k->row.bias)
        P("    const float *b = bufs[3];\n");
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        const float *xr = x + r * N;\n");
    P("        float *yr = y + r * N;\n");
    emit_lane_sum(out, "sx", "xr[j + l]", "xr[j]");
    P("        float mean = sx / (float)N;\n");
    emit_lane_sum(out, "sv", "(xr[j + l] - mean) * (xr[j + l] - mean)", "(xr[j] - mean) * (xr[j] - mean)");
    P("        float inv = 1.0f / sqrtf(sv / (float)N + %s);\n", eps);
    P("        for (int64_t j = 0; j < N; j++)\n");
    P("            yr[j] = (xr[j] - mean) * inv * w[j]%s;\n", k->row.bias ? " + b[j]" : "");
    P("    }\n}\n");
}

static void emit_eltwise(FILE *out, const KernelDesc *k, const char *name) {
    const char *what = "", *expr = "";
    int nin = 1;
    switch (k->kind) {
    case KK_SILU: what = "SiLU, y = x / (1 + exp(-x))"; expr = "v / (1.0f + expf(-v))"; break;
    case KK_GELU_TANH:
        what = "GELU, tanh approximation";
        expr = "0.5f * v * (1.0f + tanhf(0x1.988454p-1f * (v + 0x1.6e4e26p-5f * v * v * v)))";
        break;
    case KK_GELU_ERF: what = "GELU, exact (erf)"; expr = "0.5f * v * (1.0f + erff(v * 0x1.6a09e6p-1f))"; break;
    case KK_RELU: what = "ReLU, y = x > 0 ? x : 0"; expr = "v > 0.0f ? v : 0.0f"; break;
    case KK_ADD: what = "y = a + b"; expr = "a[i] + b[i]"; nin = 2; break;
    case KK_MUL: what = "y = a * b"; expr = "a[i] * b[i]"; nin = 2; break;
    default: h2c_unreachable("not an element-wise kernel");
    }
    header(out, k, name, what);
    emit_rows_begin(out, k, nin);
    P("    for (int64_t i = 0; i < R * N; i++) {\n");
    if (nin == 1)
        P("        float v = x[i];\n");
    P("        y[i] = %s;\n", expr);
    P("    }\n}\n");
}

/* ---------------------------------------------------------------- RoPE, embedding */

static void emit_rope(FILE *out, const KernelDesc *k, const char *name) {
    int half = k->rope.rot / 2;
    header(out, k, name,
           "RoPE, rotate-half on dims [0, rot) of each head: (x_i, x_{i+rot/2}) turned by pos * theta^(-2i/rot); "
           "angles, cos and sin in double");
    P("    enum { D = %d, H = %d, ROT = %d, HALF = ROT / 2 };\n", k->rope.head_dim, k->rope.heads, k->rope.rot);
    P("    static const double inv_freq[HALF] = {   /* theta^(-2i/ROT), theta = %.17g%s */\n", k->rope.theta,
      k->rope.scaling == KR_SCALE_LINEAR ? ", linear scaling" : k->rope.scaling == KR_SCALE_LLAMA3 ? ", llama3 scaling" : "");
    for (int i = 0; i < half; i++)
        P("%s%a,%s", i % 4 == 0 ? "        " : " ", be_rope_inv_freq(k, i),
          i % 4 == 3 || i == half - 1 ? "\n" : "");
    P("    };\n");
    P("    const int64_t R = args[0];\n");
    P("    float *y = bufs[0];\n    const float *x = bufs[1];\n    const int32_t *pos = bufs[2];\n");
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        float c[HALF], s[HALF];\n");
    P("        for (int64_t i = 0; i < HALF; i++) {\n");
    P("            double angle = (double)pos[r] * inv_freq[i];\n");
    P("            c[i] = (float)cos(angle);\n");
    P("            s[i] = (float)sin(angle);\n");
    P("        }\n");
    P("        for (int64_t h = 0; h < H; h++) {\n");
    P("            const float *xh = x + (r * H + h) * D;\n");
    P("            float *yh = y + (r * H + h) * D;\n");
    P("            for (int64_t i = 0; i < HALF; i++) {\n");
    P("                float x0 = xh[i], x1 = xh[i + HALF];\n");
    P("                yh[i] = x0 * c[i] - x1 * s[i];\n");
    P("                yh[i + HALF] = x1 * c[i] + x0 * s[i];\n");
    P("            }\n");
    P("            for (int64_t i = ROT; i < D; i++)\n");
    P("                yh[i] = xh[i];\n");
    P("        }\n    }\n}\n");
}

static void emit_embed(FILE *out, const KernelDesc *k, const char *name) {
    header(out, k, name, "embedding lookup: row ids[r] of an fp16 table, widened; an id outside [0, V) gives zeros");
    P("    enum { H = %d, V = %d };\n", k->embed.hidden, k->embed.vocab);
    P("    const int64_t R = args[0];\n");
    P("    float *y = bufs[0];\n    const uint16_t *table = bufs[1];\n    const int32_t *ids = bufs[2];\n");
    P("    for (int64_t r = 0; r < R; r++) {\n");
    P("        int64_t id = ids[r];\n");
    P("        for (int64_t j = 0; j < H; j++)\n");
    P("            y[r * H + j] = id >= 0 && id < V ? h2f(table[id * H + j]) : 0.0f;\n");
    P("    }\n}\n");
}

/* ---------------------------------------------------------------- the unit */

static bool c_write(void *unit, FILE *out, Diag *d) {
    CUnit *u = unit;
    (void)d;
    char name[KERNEL_NAME_MAX];
    P("/* %s.kernels.c: %d kernel%s generated by h2c from their descriptions (docs/kernels.md).\n", u->name,
      u->count, u->count == 1 ? "" : "s");
    P(" * C11 with no dependency but libm: cc -std=c11 -O2 -c %s.kernels.c */\n", u->name);
    P("%s", prelude);
    P("\n");
    for (int i = 0; i < u->count; i++) {
        be_kernel_name(&u->descs[i], name);
        P("void %s(void *const *bufs, const int64_t *args);\n", name);
    }
    for (int i = 0; i < u->count; i++) {
        const KernelDesc *k = &u->descs[i];
        be_kernel_name(k, name);
        switch (k->kind) {
        case KK_GEMM: emit_gemm(out, k, name); break;
        case KK_ATTN: emit_attn(out, k, name); break;
        case KK_MERGE: emit_merge(out, k, name); break;
        case KK_PAGE_SCORE: emit_page_score(out, k, name); break;
        case KK_PAGE_META: emit_page_meta(out, k, name); break;
        case KK_SOFTMAX: emit_softmax(out, k, name); break;
        case KK_RMSNORM: emit_rmsnorm(out, k, name); break;
        case KK_LAYERNORM: emit_layernorm(out, k, name); break;
        case KK_SILU:
        case KK_GELU_TANH:
        case KK_GELU_ERF:
        case KK_RELU:
        case KK_ADD:
        case KK_MUL: emit_eltwise(out, k, name); break;
        case KK_ROPE: emit_rope(out, k, name); break;
        case KK_EMBED: emit_embed(out, k, name); break;
        case KK_TOPK: emit_topk(out, k, name); break;
        case KK_PAGE_ROWS: emit_page_rows(out, k, name); break;
        case KK_COUNT_: h2c_unreachable("bad kernel kind");
        }
    }
    return true;
}

const KernelTarget be_target_c = {"c", ".kernels.c", c_open, c_add, c_write, c_close};

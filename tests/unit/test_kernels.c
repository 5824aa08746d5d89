/* test_kernels.c: the kernel library checked three ways. Every kernel of the list below is
 * (a) written by the C target, compiled here with the system C compiler ($CC, else cc) into a
 * shared object under $TMPDIR and loaded with dlopen, (b) JIT-compiled by the LLVM target four
 * times (see jit_opts), and (c) computed by an fp64 reference written here from docs/kernels.md,
 * not from the library. Tolerances are given per kernel where they are checked; kernels whose two
 * targets share one order of operations (all but GEMM and attention) must agree bit for bit. Also:
 * names, equality, hashing, range checks, fp16 conversion, the .ll target, and errors reported
 * instead of crashes. */
#include "kernels.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static const double U = 0x1p-24;   /* fp32 unit roundoff */

/* ---------------------------------------------------------------- data */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void) {    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static double urand(double lo, double hi) { return lo + (hi - lo) * (double)(rng() >> 11) * 0x1p-53; }
static int irand(int lo, int hi) { return lo + (int)(rng() % (uint64_t)(hi - lo + 1)); }

static void *xalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "test_kernels: out of memory\n");
        exit(2);
    }
    return p;
}

static float *frand_buf(size_t n, double lo, double hi) {
    float *p = xalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)urand(lo, hi);
    return p;
}

/* binary16 decoded independently of the library: sign * mantissa * 2^exponent. */
static double half_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double s = h & 0x8000 ? -1.0 : 1.0;
    if (e == 31)
        return m ? NAN : s * INFINITY;
    if (e == 0)
        return s * ldexp(m, -24);
    return s * ldexp(m + 1024, e - 25);
}

/* The nearest binary16 to v by search over the (monotone) encodings, for filling weights. */
static uint16_t half_near(double v) {
    uint16_t best = 0;
    double bd = INFINITY;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double d = fabs(fabs(v) - half_value((uint16_t)h));
        if (d < bd) {
            bd = d;
            best = (uint16_t)h;
        }
        if (half_value((uint16_t)h) > fabs(v))
            break;
    }
    return (uint16_t)(best | (v < 0 ? 0x8000 : 0));
}

static uint16_t *hrand_buf(size_t n, double lo, double hi) {
    uint16_t *p = xalloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = be_f32_to_f16((float)urand(lo, hi));
    return p;
}

static bool same_bits(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

/* ---------------------------------------------------------------- the three implementations */

/* The host's code (AVX-512 here), AVX2 code as most machines run it, target-independent IR with
 * the integer fp16 widening, and 4 lanes (every tail path taken differently). */
enum { NJIT = 4 };
static const KernelOptions jit_opts[NJIT] = {
    {.keep_ir = true}, {.features = "-avx512f"}, {.vector_width = 8, .portable = true}, {.vector_width = 4}};
static const char *const jit_names[NJIT] = {"jit(host)", "jit(-avx512f)", "jit(8 lanes, portable)", "jit(4 lanes)"};

static void *so;                /* the C target's kernels, compiled and loaded */
static KernelJit *jits[NJIT];

typedef struct Impls {
    KernelFn c;
    KernelFn jit[NJIT];
} Impls;

static Impls impls(const KernelDesc *k) {
    Impls im = {0};
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    void *sym = dlsym(so, name);
    memcpy(&im.c, &sym, sizeof im.c);   /* POSIX: a dlsym'd function's address */
    Diag d;
    diag_init(&d, stderr);
    for (int i = 0; i < NJIT; i++)
        im.jit[i] = be_jit_lookup(jits[i], k, &d);
    if (!im.c)
        fprintf(stderr, "test_kernels: %s missing from the C build\n", name);
    return im;
}

/* Runs one implementation on a private copy of the buffers (sizes[i] bytes each, outputs too, as
 * some are read-modify-write); the copies are returned in out[] (caller frees). */
static void run(KernelFn fn, int nbufs, void *const *bufs, const size_t *sizes, const int64_t *args, void **out) {
    void *copy[KERNEL_MAX_BUFS] = {0};
    for (int i = 0; i < nbufs; i++) {
        if (!bufs[i])
            continue;
        copy[i] = xalloc(sizes[i]);
        memcpy(copy[i], bufs[i], sizes[i]);
    }
    fn(copy, args);
    for (int i = 0; i < nbufs; i++)
        out[i] = copy[i];
}

static void free_bufs(int n, void **b) {
    for (int i = 0; i < n; i++) {
        free(b[i]);
        b[i] = NULL;
    }
}

/* The C build and every JIT build on the same inputs: outs[0] is C, outs[1..] the JITs. */
enum { NIMPL = 1 + NJIT };
static void run_all(const Impls *im, int nbufs, void *const *bufs, const size_t *sizes, const int64_t *args,
                    void *outs[NIMPL][KERNEL_MAX_BUFS]) {
    memset(outs, 0, sizeof(void *) * NIMPL * KERNEL_MAX_BUFS);
    if (!im->c)
        return;
    run(im->c, nbufs, bufs, sizes, args, outs[0]);
    for (int i = 0; i < NJIT; i++)
        if (im->jit[i])
            run(im->jit[i], nbufs, bufs, sizes, args, outs[1 + i]);
}

static const char *impl_name(int i) { return i == 0 ? "c" : jit_names[i - 1]; }

static int near_failures;   /* reports printed by near(), capped */
static KernelKind cur_kind;     /* the kind being checked, for worst[] */
static double worst[KK_COUNT_][2];  /* per kind, the largest |error| / tolerance: C, then the JITs */

/* |got - want| <= tol, reporting the kernel, implementation and element when not. */
static bool near(const char *kname, int impl, const char *what, long idx, double want, double got, double tol) {
    test_checks++;
    if (tol > 0 && !isnan(want))
        worst[cur_kind][impl > 0] = fmax(worst[cur_kind][impl > 0], fabs(want - got) / tol);
    if (want == got || fabs(want - got) <= tol || (isnan(want) && isnan(got)))
        return true;
    test_failures++;
    if (near_failures++ < 30)
        fprintf(stderr, "%s [%s] %s[%ld]: want %.9g, got %.9g (tol %.3g)\n", kname, impl_name(impl), what, idx, want,
                got, tol);
    return false;
}

static void check_bitwise(const char *kname, void *outs[NIMPL][KERNEL_MAX_BUFS], int buf, size_t bytes) {
    for (int i = 1; i < NIMPL; i++) {
        test_checks++;
        if (outs[0][buf] && outs[i][buf] && !same_bits(outs[0][buf], outs[i][buf], bytes)) {
            test_failures++;
            fprintf(stderr, "%s: bufs[%d] of %s differs from c in its bits\n", kname, buf, impl_name(i));
        }
    }
}

/* ---------------------------------------------------------------- GEMM */

/* Tolerance: fp32 dot products of K terms, each summed through at most K/4 + 64 additions in either
 * target's order (C: K/16 per lane + 16 lanes + 15 tail; JIT: K/(VL*U) per accumulator + tree + the
 * group sums) plus the product and scale roundings: (K/4 + 64) u sum|x w| + the same on bias and y. */
static void check_gemm(const KernelDesc *k, int M) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int K = k->gemm.k, N = k->gemm.n, G = k->gemm.group;
    KernelDType wt = k->gemm.wtype;
    int NG = wt == KD_I8 || wt == KD_I4 ? (K + G - 1) / G : 0;
    size_t wbytes = (size_t)N * (size_t)be_gemm_row_bytes(k);
    size_t sizes[5] = {sizeof(float) * (size_t)M * N, sizeof(float) * (size_t)M * K, wbytes,
                       sizeof(uint16_t) * (size_t)N * (NG ? NG : 1), sizeof(float) * (size_t)N};
    void *bufs[5];
    bufs[0] = frand_buf((size_t)M * N, -1, 1);
    bufs[1] = frand_buf((size_t)M * K, -1, 1);
    bufs[2] = xalloc(wbytes);
    for (size_t i = 0; i < wbytes; i++)
        ((uint8_t *)bufs[2])[i] = (uint8_t)rng();
    if (wt == KD_F32)
        for (size_t i = 0; i < (size_t)N * K; i++)
            ((float *)bufs[2])[i] = (float)urand(-1, 1);
    if (wt == KD_F16)
        for (size_t i = 0; i < (size_t)N * K; i++)
            ((uint16_t *)bufs[2])[i] = be_f32_to_f16((float)urand(-1, 1));
    bufs[3] = hrand_buf((size_t)N * (NG ? NG : 1), 0.001, 0.03);
    bufs[4] = frand_buf((size_t)N, -1, 1);
    int64_t args[1] = {M};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 5, bufs, sizes, args, outs);
    const float *x = bufs[1], *y0 = bufs[0], *bias = bufs[4];
    const uint16_t *sc = bufs[3];
    int64_t rb = be_gemm_row_bytes(k);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double want = 0, mag = 0;
            for (int kk = 0; kk < K; kk++) {
                double w;
                const uint8_t *row = (const uint8_t *)bufs[2] + n * rb;
                switch (wt) {
                case KD_F32: w = ((const float *)bufs[2])[(size_t)n * K + kk]; break;
                case KD_F16: w = half_value(((const uint16_t *)bufs[2])[(size_t)n * K + kk]); break;
                case KD_I8: w = (int8_t)row[kk] * half_value(sc[n * NG + kk / G]); break;
                default:    /* int4: blocks of 32 in 16 bytes, weight j low, weight j + 16 high */
                    w = (((row[kk / 32 * 16 + kk % 16] >> (kk % 32 / 16 * 4)) & 15) - 8) *
                        half_value(sc[n * NG + kk / G]);
                    break;
                }
                want += x[m * K + kk] * w;
                mag += fabs(x[m * K + kk] * w);
            }
            if (k->gemm.bias) {
                want += bias[n];
                mag += fabs(bias[n]);
            }
            if (k->gemm.accumulate) {
                want += y0[m * N + n];
                mag += fabs(y0[m * N + n]);
            }
            double tol = (K / 4.0 + 64) * U * mag + 1e-30;
            for (int i = 0; i < NIMPL; i++)
                if (outs[i][0])
                    near(name, i, "y", m * N + n, want, ((float *)outs[i][0])[m * N + n], tol);
        }
    for (int i = 0; i < NIMPL; i++)
        free_bufs(5, outs[i]);
    free_bufs(5, bufs);
}

/* ---------------------------------------------------------------- attention */

typedef struct AttnCase {
    int M;          /* query rows */
    int lo, hi;     /* key range */
    int qpos0;      /* causal: row i sits at position qpos0 + i */
} AttnCase;

/* Tolerance: a score's error is at most (D/4 + 64) u scale sum_d |q_d k_d| (the dot product as in
 * GEMM); a softmax weight inherits it (relative), exp and log add a few ulp, so with |v| <= 1:
 * |dO| and |dLSE| <= 4 (D/4 + 64) u max_t(scale sum|q k|) + 64 u (1 + |LSE|). */
static void check_attn(const KernelDesc *k, AttnCase ac) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int D = k->attn.head_dim, G = k->attn.g, P = k->attn.page, M = ac.M;
    bool f16 = k->attn.kv == KD_F16;
    size_t es = f16 ? 2 : 4;
    int npages = P ? (ac.hi + P - 1) / P + 2 : 0;
    int rows = P ? npages * P : ac.hi + 1;
    size_t sizes[7] = {sizeof(float) * (size_t)M * G * D, sizeof(float) * (size_t)M * G,
                       sizeof(float) * (size_t)M * G * D, es * (size_t)rows * D, es * (size_t)rows * D,
                       sizeof(int32_t) * (size_t)(npages ? npages : 1), sizeof(int32_t) * (size_t)M};
    void *bufs[7];
    bufs[0] = frand_buf((size_t)M * G * D, -1, 1);
    bufs[1] = frand_buf((size_t)M * G, -1, 1);
    bufs[2] = frand_buf((size_t)M * G * D, -1, 1);
    for (int i = 3; i < 5; i++)
        bufs[i] = f16 ? (void *)hrand_buf((size_t)rows * D, -1, 1) : (void *)frand_buf((size_t)rows * D, -1, 1);
    int32_t *pages = xalloc(sizes[5]), *qpos = xalloc(sizes[6]);
    for (int p = 0; p < npages; p++)    /* a permutation of the pool, so logical != physical */
        pages[p] = p;
    for (int p = npages - 1; p > 0; p--) {
        int j = irand(0, p);
        int32_t t = pages[p];
        pages[p] = pages[j];
        pages[j] = t;
    }
    for (int i = 0; i < M; i++)
        qpos[i] = ac.qpos0 + i;
    bufs[5] = pages;
    bufs[6] = qpos;
    int64_t args[3] = {M, ac.lo, ac.hi};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 7, bufs, sizes, args, outs);
    double scale = be_attn_scale(k);
    const float *q = bufs[2];
    double *s = xalloc(sizeof(double) * (size_t)(ac.hi + 1));
    for (int i = 0; i < M; i++) {
        int end = k->attn.causal && qpos[i] + 1 < ac.hi ? qpos[i] + 1 : ac.hi;
        int start = k->attn.window > 0 && qpos[i] - k->attn.window + 1 > ac.lo ? qpos[i] - k->attn.window + 1 : ac.lo;
        int nil = be_attn_interleave(k);
        for (int h = 0; h < G; h++) {
            const float *qh = q + ((size_t)i * G + h) * D;
            double mx = -INFINITY, l = 0, bound = 0;
            for (int t = start; t < end; t++) {
                if ((t - ac.lo) % nil != 0)
                    continue;   /* (an interleaved tile holds every nil-th token: row t / nil) */
                size_t row = P ? (size_t)pages[t / P] * P + (size_t)(t % P) : (size_t)(t / nil);
                double dot = 0, mag = 0;
                for (int d = 0; d < D; d++) {
                    double kv = f16 ? half_value(((uint16_t *)bufs[3])[row * D + d]) : ((float *)bufs[3])[row * D + d];
                    dot += qh[d] * kv;
                    mag += fabs(qh[d] * kv);
                }
                s[t] = dot * scale;
                mx = fmax(mx, s[t]);
                bound = fmax(bound, mag * scale);
            }
            double o[1024] = {0};
            for (int t = start; t < end; t++) {
                if ((t - ac.lo) % nil != 0)
                    continue;   /* (an interleaved tile holds every nil-th token: row t / nil) */
                size_t row = P ? (size_t)pages[t / P] * P + (size_t)(t % P) : (size_t)(t / nil);
                double p = exp(s[t] - mx);
                l += p;
                for (int d = 0; d < D; d++)
                    o[d] += p * (f16 ? half_value(((uint16_t *)bufs[4])[row * D + d])
                                     : ((float *)bufs[4])[row * D + d]);
            }
            double lse = l > 0 ? mx + log(l) : -INFINITY;
            double tol = 4 * (D / 4.0 + 64) * U * bound + 64 * U * (1 + (isinf(lse) ? 0 : fabs(lse)));
            for (int im_ = 0; im_ < NIMPL; im_++) {
                if (!outs[im_][0])
                    continue;
                const float *og = (float *)outs[im_][0] + ((size_t)i * G + h) * D;
                float lg = ((float *)outs[im_][1])[i * G + h];
                if (isinf(lse)) {   /* no key: exactly O = 0, LSE = -inf */
                    test_checks++;
                    if (!(isinf(lg) && lg < 0)) {
                        test_failures++;
                        fprintf(stderr, "%s [%s] row %d head %d: empty range gives LSE %g\n", name, impl_name(im_), i,
                                h, lg);
                    }
                    for (int d = 0; d < D; d++)
                        near(name, im_, "O(empty)", d, 0.0, og[d], 0.0);
                    continue;
                }
                near(name, im_, "LSE", i * G + h, lse, lg, tol);
                for (int d = 0; d < D; d++)
                    near(name, im_, "O", ((long)i * G + h) * D + d, l > 0 ? o[d] / l : 0, og[d], tol);
            }
        }
    }
    free(s);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(7, outs[i]);
    free_bufs(7, bufs);
}

/* ---------------------------------------------------------------- merge */

/* Tolerance: exp and log of values of magnitude <= 10, n terms: 8 n u (1 + |LSE|) on LSE and O
 * (|O_i| <= 1). The two targets agree bit for bit. */
static void check_merge(const KernelDesc *k, int R, int n, int ninf_every) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int D = k->merge.head_dim;
    size_t sizes[4] = {sizeof(float) * (size_t)R * D, sizeof(float) * (size_t)R,
                       sizeof(float) * (size_t)(n ? n : 1) * R * D, sizeof(float) * (size_t)(n ? n : 1) * R};
    void *bufs[4] = {frand_buf((size_t)R * D, -1, 1), frand_buf((size_t)R, -1, 1),
                     frand_buf((size_t)(n ? n : 1) * R * D, -1, 1), frand_buf((size_t)(n ? n : 1) * R, -6, 6)};
    float *lses = bufs[3], *os = bufs[2];
    for (int i = 0; i < n * R; i++)
        if (ninf_every && i % ninf_every == 0)
            lses[i] = -INFINITY;
    int64_t args[2] = {R, n};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 4, bufs, sizes, args, outs);
    for (int r = 0; r < R; r++) {
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++)
            mx = fmax(mx, lses[i * R + r]);
        for (int i = 0; i < n; i++)
            sum += exp(lses[i * R + r] - mx);
        double lse = isinf(mx) ? -INFINITY : mx + log(sum);
        double tol = 8.0 * (n + 1) * U * (1 + fabs(isinf(lse) ? 0 : lse));
        for (int im_ = 0; im_ < NIMPL; im_++) {
            if (!outs[im_][0])
                continue;
            float lg = ((float *)outs[im_][1])[r];
            if (isinf(lse)) {
                test_checks++;
                if (!(isinf(lg) && lg < 0)) {
                    test_failures++;
                    fprintf(stderr, "%s [%s] row %d: all parts empty gives LSE %g\n", name, impl_name(im_), r, lg);
                }
            } else {
                near(name, im_, "LSE", r, lse, lg, tol);
            }
            for (int d = 0; d < D; d++) {
                double o = 0;
                for (int i = 0; i < n && !isinf(lse); i++)
                    o += exp(lses[i * R + r] - lse) * os[((size_t)i * R + r) * D + d];
                near(name, im_, "O", (long)r * D + d, o, ((float *)outs[im_][0])[r * D + d], tol);
            }
        }
    }
    check_bitwise(name, outs, 0, sizes[0]);
    check_bitwise(name, outs, 1, sizes[1]);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(4, outs[i]);
    free_bufs(4, bufs);
}

/* ---------------------------------------------------------------- Quest */

/* With small integers for q and the keys' min/max, every product and sum is exact in fp32: the
 * scores must equal the reference exactly, and the selection too, ties included (lower page
 * first). With `real` data the scores are checked to (G D) u sum|...| and the targets bitwise. */
static void check_page_score(const KernelDesc *k, int np, bool real) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int D = k->score.head_dim, G = k->score.g, TOPK = k->score.topk;
    bool mf16 = k->score.mtype == KD_F16;   /* the metadata in fp16 (the cache's type), widened exactly */
    size_t sizes[4] = {sizeof(int32_t) * (size_t)TOPK, sizeof(float) * (size_t)(np ? np : 1),
                       sizeof(float) * (size_t)G * D, (mf16 ? 2 : 4) * (size_t)(np ? np : 1) * 2 * D};
    void *bufs[4] = {TOPK ? xalloc(sizes[0]) : NULL, xalloc(sizes[1]), xalloc(sizes[2]), xalloc(sizes[3])};
    float *q = bufs[2];
    float *meta = xalloc(sizeof(float) * (size_t)(np ? np : 1) * 2 * D);  /* the metadata's values */
    for (int i = 0; i < G * D; i++)
        q[i] = real ? (float)urand(-1, 1) : (float)irand(-2, 2);
    for (int p = 0; p < np; p++)
        for (int d = 0; d < D; d++) {
            float a = real ? (float)urand(-1, 1) : (float)irand(-2, 2);
            float b = real ? (float)urand(-1, 1) : (float)irand(-2, 2);
            if (mf16) {
                a = be_f16_to_f32(be_f32_to_f16(a));
                b = be_f16_to_f32(be_f32_to_f16(b));
            }
            meta[(size_t)p * 2 * D + d] = fminf(a, b);
            meta[(size_t)p * 2 * D + D + d] = fmaxf(a, b);
        }
    for (size_t i = 0; i < (size_t)np * 2 * D; i++) {
        if (mf16)
            ((uint16_t *)bufs[3])[i] = be_f32_to_f16(meta[i]);
        else
            ((float *)bufs[3])[i] = meta[i];
    }
    int64_t args[1] = {np};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 4, bufs, sizes, args, outs);
    double *ref = xalloc(sizeof(double) * (size_t)(np ? np : 1));
    int *order = xalloc(sizeof(int) * (size_t)(np ? np : 1));
    for (int p = 0; p < np; p++) {
        double s = 0, mag = 0;
        for (int h = 0; h < G; h++)
            for (int d = 0; d < D; d++) {
                double a = (double)q[h * D + d] * meta[(size_t)p * 2 * D + D + d];
                double b = (double)q[h * D + d] * meta[(size_t)p * 2 * D + d];
                s += fmax(a, b);
                mag += fabs(fmax(a, b));
            }
        ref[p] = s;
        order[p] = p;
        for (int i = 0; i < NIMPL; i++)
            if (outs[i][1])
                near(name, i, "score", p, s, ((float *)outs[i][1])[p], real ? (double)G * D * U * mag : 0);
    }
    if (!real) {    /* the reference selection: by score, ties to the lower page; then in page order */
        for (int i = 1; i < np; i++)
            for (int j = i; j > 0 && (ref[order[j]] > ref[order[j - 1]] ||
                                      (ref[order[j]] == ref[order[j - 1]] && order[j] < order[j - 1]));
                 j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        int kept = np < TOPK ? np : TOPK;
        for (int i = 1; i < kept; i++)
            for (int j = i; j > 0 && order[j] < order[j - 1]; j--) {
                int t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (int im_ = 0; im_ < NIMPL; im_++) {
            if (!outs[im_][0])
                continue;
            const int32_t *sel = outs[im_][0];
            for (int i = 0; i < TOPK; i++)
                near(name, im_, "sel", i, i < kept ? order[i] : -1, sel[i], 0);
        }
    }
    check_bitwise(name, outs, 0, sizes[0]);
    check_bitwise(name, outs, 1, sizeof(float) * (size_t)np);
    free(ref);
    free(order);
    free(meta);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(4, outs[i]);
    free_bufs(4, bufs);
}

/* Quest's top-k with the newest page kept, against a brute-force oracle: the newest page np-1, then
 * the k-1 best of pages 0..np-2 by score (ties to the lower page, NaN lowest), all in page order,
 * then -1. Scores are small integers (many ties) with a few NaNs and infinities; exact. */
static void check_topk(const KernelDesc *k, int np, int nnan) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int K = k->topk.k;
    size_t sizes[2] = {sizeof(int32_t) * (size_t)K, sizeof(float) * (size_t)(np ? np : 1)};
    void *bufs[2] = {xalloc(sizes[0]), xalloc(sizes[1])};
    float *score = bufs[1];
    for (int p = 0; p < np; p++)
        score[p] = (float)irand(-3, 3);
    for (int i = 0; i < nnan && np > 0; i++)
        score[irand(0, np - 1)] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    int64_t args[1] = {np};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 2, bufs, sizes, args, outs);
    /* the oracle: page p beats page o if its score is larger (NaN counts as -inf), or equal and p < o */
    int *want = xalloc(sizeof(int) * (size_t)K);
    unsigned char *taken = xalloc((size_t)np + 1);
    memset(taken, 0, (size_t)np + 1);
    int nsel = 0;
    if (np > 0) {
        taken[np - 1] = 1;
        nsel = 1;
    }
    for (; nsel < K && nsel < np; nsel++) {
        int best = -1;
        for (int p = 0; p < np - 1; p++) {
            if (taken[p])
                continue;
            double sp = isnan(score[p]) ? -HUGE_VAL : score[p];
            double sb = best < 0 ? 0 : (isnan(score[best]) ? -HUGE_VAL : score[best]);
            if (best < 0 || sp > sb)
                best = p;
        }
        if (best >= 0)
            taken[best] = 1;
    }
    int w = 0;
    for (int p = 0; p < np; p++)
        if (taken[p])
            want[w++] = p;
    CHECK(w == (K < np ? K : np));
    CHECK(np == 0 || want[w - 1] == np - 1);   /* the newest is kept, and last */
    for (int i = 0; i < NIMPL; i++) {
        if (!outs[i][0])
            continue;
        const int32_t *sel = outs[i][0];
        for (int j = 0; j < K; j++)
            near(name, i, "sel", j, j < w ? want[j] : -1, sel[j], 0);
    }
    check_bitwise(name, outs, 0, sizes[0]);
    free(want);
    free(taken);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(2, outs[i]);
    free_bufs(2, bufs);
}

/* A tile's local rows of a selection, against the definition: every token t of every listed page
 * with t mod n = j, in order, its row t / n; then -1. The list stops at its first -1. */
static void check_page_rows(const KernelDesc *k, int nsel, int j) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int P = k->rows.page, NT = k->rows.tiles, K = k->rows.k, MAXR = K * ((P + NT - 1) / NT);
    size_t sizes[2] = {sizeof(int32_t) * (size_t)MAXR, sizeof(int32_t) * (size_t)K};
    void *bufs[2] = {xalloc(sizes[0]), xalloc(sizes[1])};
    int32_t *sel = bufs[1];
    int p = irand(0, 3);
    for (int i = 0; i < K; i++) {
        sel[i] = i < nsel ? p : -1;
        p += irand(1, 4);
    }
    int64_t args[1] = {j};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 2, bufs, sizes, args, outs);
    int32_t *want = xalloc(sizes[0]);
    int w = 0;
    for (int i = 0; i < K && sel[i] >= 0; i++)
        for (int t = sel[i] * P; t < (sel[i] + 1) * P; t++)
            if (t % NT == j)
                want[w++] = t / NT;
    CHECK(w <= MAXR);
    for (; w < MAXR; w++)
        want[w] = -1;
    for (int i = 0; i < NIMPL; i++) {
        if (!outs[i][0])
            continue;
        for (int r = 0; r < MAXR; r++)
            near(name, i, "rows", r, want[r], ((int32_t *)outs[i][0])[r], 0);
    }
    check_bitwise(name, outs, 0, sizes[0]);
    free(want);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(2, outs[i]);
    free_bufs(2, bufs);
}

/* Appends tokens 0..ntok-1 in calls of `chunk` keys (the first call: `first` keys, as a prompt), but
 * with an interleave n only the tokens of pages p = r (mod n), one call per run of them; min and max
 * are exact (and, in fp16 metadata, the keys' own bits), so the metadata must equal the reference
 * exactly. */
static void check_page_meta(const KernelDesc *k, int ntok, int first, int chunk, int r) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int D = k->meta.head_dim, P = k->meta.page, NI = be_meta_interleave(k), pages = (ntok + P - 1) / P;
    int entries = (pages + NI - 1) / NI + 1;
    bool f16 = k->meta.kv == KD_F16, mf16 = k->meta.mtype == KD_F16;
    size_t es = f16 ? 2 : 4, mes = mf16 ? 2 : 4, msize = mes * (size_t)entries * 2 * D;
    void *meta[NIMPL];
    for (int i = 0; i < NIMPL; i++) {
        meta[i] = xalloc(msize);
        memset(meta[i], 0xff, msize);   /* NaN in both types: never read before a page's first token */
    }
    double *ref = xalloc(sizeof(double) * (size_t)entries * 2 * D);
    for (size_t j = 0; j < (size_t)entries * 2 * D; j++)
        ref[j] = NAN;
    unsigned char *keys = xalloc(es * (size_t)ntok * D);
    for (int t = 0; t < ntok; t++)
        for (int d = 0; d < D; d++) {
            double v;
            if (f16) {
                ((uint16_t *)keys)[(size_t)t * D + d] = be_f32_to_f16((float)urand(-4, 4));
                v = half_value(((uint16_t *)keys)[(size_t)t * D + d]);
            } else {
                ((float *)keys)[(size_t)t * D + d] = (float)urand(-4, 4);
                v = ((float *)keys)[(size_t)t * D + d];
            }
            if ((t / P) % NI != r)
                continue;
            double *mn = ref + (size_t)(t / P / NI) * 2 * D, *mx = mn + D;
            mn[d] = t % P == 0 ? v : fmin(mn[d], v);
            mx[d] = t % P == 0 ? v : fmax(mx[d], v);
        }
    for (int t = 0; t < ntok;) {
        if ((t / P) % NI != r) {
            t++;
            continue;
        }
        int n = t == 0 ? first : chunk;
        if (n > ntok - t)
            n = ntok - t;
        if (NI > 1 && n > (t / P + 1) * P - t)
            n = (t / P + 1) * P - t;    /* not into the next page: another PE's */
        if (n < 1)
            n = 1;
        int64_t args[2] = {t, n};
        for (int i = 0; i < NIMPL; i++) {
            KernelFn fn = i == 0 ? im.c : im.jit[i - 1];
            void *bufs[2] = {meta[i], keys + es * (size_t)t * D};
            if (fn)
                fn(bufs, args);
        }
        t += n;
    }
    int64_t none[2] = {5, 0};  /* no key: nothing changes */
    for (int i = 0; i < NIMPL; i++) {
        KernelFn fn = i == 0 ? im.c : im.jit[i - 1];
        void *bufs[2] = {meta[i], NULL};
        if (fn)
            fn(bufs, none);
    }
    for (int i = 0; i < NIMPL; i++)
        for (int j = 0; j < (entries - 1) * 2 * D; j++) {
            if (isnan(ref[j]))
                continue;   /* an entry of another residue's page */
            double got = mf16 ? half_value(((uint16_t *)meta[i])[j]) : ((float *)meta[i])[j];
            near(name, i, "meta", j, ref[j], got, 0);
        }
    for (int i = 0; i < NIMPL; i++)
        free(meta[i]);
    free(ref);
    free(keys);
}

/* ---------------------------------------------------------------- row-wise and element-wise */

/* Softmax: each output within (2N + 8) u of itself (the sum of N exps, one exp, one product).
 * RMSNorm/LayerNorm: the sums as in GEMM, (N/4 + 64) u relative, on y's magnitude. */
static void check_rows(const KernelDesc *k, int R, bool special) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int N = k->row.n;
    size_t n = (size_t)R * N;
    bool ln = k->kind == KK_LAYERNORM;
    size_t sizes[4] = {sizeof(float) * n, sizeof(float) * n, sizeof(float) * (size_t)N, sizeof(float) * (size_t)N};
    void *bufs[4] = {xalloc(sizes[0]), frand_buf(n, ln ? 2 : -3, ln ? 4 : 3), frand_buf((size_t)N, 0.5, 1.5),
                     frand_buf((size_t)N, -1, 1)};
    float *x = bufs[1], *w = bufs[2], *b = bufs[3];
    if (special && k->kind == KK_SOFTMAX) {   /* masked entries, and a last row of -inf only */
        for (size_t i = 0; i < n; i += 3)
            x[i] = -INFINITY;
        for (int j = 0; j < N; j++)
            x[(size_t)(R - 1) * N + j] = -INFINITY;
    }
    int nb = be_kernel_abi(k->kind)->nbufs;
    int64_t args[1] = {R};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, nb, bufs, sizes, args, outs);
    double eps = k->row.eps;
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * N;
        double mx = -INFINITY, sum = 0, mean = 0, var = 0;
        for (int j = 0; j < N; j++) {
            mx = fmax(mx, xr[j]);
            mean += xr[j];
            var += (double)xr[j] * xr[j];
        }
        mean /= N;
        if (ln) {
            var = 0;
            for (int j = 0; j < N; j++)
                var += (xr[j] - mean) * (xr[j] - mean);
        }
        if (k->kind == KK_SOFTMAX && !isinf(mx))
            for (int j = 0; j < N; j++)
                sum += exp(xr[j] - mx);
        for (int j = 0; j < N; j++) {
            double want, tol;
            if (k->kind == KK_SOFTMAX) {
                want = isinf(mx) ? 0 : exp(xr[j] - mx) / sum;
                tol = (2.0 * N + 8) * U * want;
            } else if (ln) {
                want = (xr[j] - mean) / sqrt(var / N + eps) * w[j] + (k->row.bias ? b[j] : 0);
                tol = (N / 4.0 + 64) * U * (fabs(want) + 8 * w[j]);
            } else {
                want = xr[j] / sqrt(var / N + eps) * w[j];
                tol = (N / 4.0 + 64) * U * fabs(want);
            }
            for (int i = 0; i < NIMPL; i++)
                if (outs[i][0])
                    near(name, i, "y", (long)r * N + j, want, ((float *)outs[i][0])[(size_t)r * N + j], tol + 1e-30);
        }
    }
    check_bitwise(name, outs, 0, sizes[0]);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(nb, outs[i]);
    free_bufs(4, bufs);
}

/* SiLU/GELU: the float formula against its fp64 value, 1e-6 (1 + |x|) (a few ulp, and the
 * cancellation in 1 + tanh for negative x). ReLU, add, mul: exact. Targets bitwise. */
static void check_eltwise(const KernelDesc *k, int R) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    size_t n = (size_t)R * k->row.n;
    size_t sizes[3] = {sizeof(float) * n, sizeof(float) * n, sizeof(float) * n};
    void *bufs[3] = {xalloc(sizes[0]), frand_buf(n, -8, 8), frand_buf(n, -8, 8)};
    const float *a = bufs[1], *b = bufs[2];
    int nb = be_kernel_abi(k->kind)->nbufs;
    int64_t args[1] = {R};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, nb, bufs, sizes, args, outs);
    for (size_t i = 0; i < n; i++) {
        double v = a[i], want = 0, tol = 1e-6 * (1 + fabs(v));
        switch (k->kind) {
        case KK_SILU: want = v / (1 + exp(-v)); break;
        case KK_GELU_TANH: want = 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))); break;
        case KK_GELU_ERF: want = 0.5 * v * (1 + erf(v / sqrt(2))); break;
        case KK_RELU: want = v > 0 ? v : 0; tol = 0; break;
        case KK_ADD: want = (float)(v + b[i]); tol = 0; break;
        case KK_MUL: want = (float)(v * b[i]); tol = 0; break;
        default: break;
        }
        for (int j = 0; j < NIMPL; j++)
            if (outs[j][0])
                near(name, j, "y", (long)i, want, ((float *)outs[j][0])[i], tol);
    }
    check_bitwise(name, outs, 0, sizes[0]);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(nb, outs[i]);
    free_bufs(3, bufs);
}

/* RoPE's inverse frequencies as docs/kernels.md §4 gives them: theta^(-2i/rot); linear scaling divides
 * them by the factor; llama3 scaling (Hugging Face's Llama 3.1 rule) divides those whose wavelength
 * 2 pi / f exceeds original_max / low_freq_factor, keeps those below original_max / high_freq_factor,
 * and between mixes the two by s = (original_max / wavelength - low) / (high - low). */
static double ref_inv_freq(const KernelDesc *k, int i) {
    double f = pow(k->rope.theta, -2.0 * i / k->rope.rot);
    if (k->rope.scaling == KR_SCALE_LINEAR)
        return f / k->rope.factor;
    if (k->rope.scaling != KR_SCALE_LLAMA3)
        return f;
    double wl = 2 * M_PI / f, orig = k->rope.original_max;
    if (wl < orig / k->rope.high_freq_factor)
        return f;
    if (wl > orig / k->rope.low_freq_factor)
        return f / k->rope.factor;
    double sm = (orig / wl - k->rope.low_freq_factor) / (k->rope.high_freq_factor - k->rope.low_freq_factor);
    return sm * f + (1 - sm) * f / k->rope.factor;
}

/* RoPE: cos and sin rounded to float, then two products and a sum: 4 u (|x0| + |x1|). Bitwise. */
static void check_rope(const KernelDesc *k, int R, int maxpos) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int D = k->rope.head_dim, H = k->rope.heads, ROT = k->rope.rot, HALF = ROT / 2;
    size_t n = (size_t)R * H * D;
    size_t sizes[3] = {sizeof(float) * n, sizeof(float) * n, sizeof(int32_t) * (size_t)R};
    void *bufs[3] = {xalloc(sizes[0]), frand_buf(n, -2, 2), xalloc(sizes[2])};
    int32_t *pos = bufs[2];
    for (int r = 0; r < R; r++)
        pos[r] = r == 0 ? 0 : r == 1 ? maxpos : irand(0, maxpos);
    int64_t args[1] = {R};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 3, bufs, sizes, args, outs);
    const float *x = bufs[1];
    for (int r = 0; r < R; r++)
        for (int h = 0; h < H; h++) {
            const float *xh = x + ((size_t)r * H + h) * D;
            for (int d = 0; d < D; d++) {
                double want, tol = 0;
                if (d < ROT) {
                    int i = d % HALF;
                    double ang = pos[r] * ref_inv_freq(k, i);
                    double x0 = xh[i], x1 = xh[i + HALF];
                    want = d < HALF ? x0 * cos(ang) - x1 * sin(ang) : x1 * cos(ang) + x0 * sin(ang);
                    tol = 4 * U * (fabs(x0) + fabs(x1));
                } else {
                    want = xh[d];
                }
                for (int j = 0; j < NIMPL; j++)
                    if (outs[j][0])
                        near(name, j, "y", ((long)r * H + h) * D + d, want,
                             ((float *)outs[j][0])[((size_t)r * H + h) * D + d], tol);
            }
        }
    check_bitwise(name, outs, 0, sizes[0]);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(3, outs[i]);
    free_bufs(3, bufs);
}

/* Embedding over a table holding every binary16 value (H x V = 65536): exact, NaNs as NaN (and
 * bitwise between the targets: quiet, payload kept); ids outside the table give zero rows. */
static void check_embed(const KernelDesc *k) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    Impls im = impls(k);
    cur_kind = k->kind;
    int H = k->embed.hidden, V = k->embed.vocab, R = V + 2;
    size_t sizes[3] = {sizeof(float) * (size_t)R * H, sizeof(uint16_t) * (size_t)V * H, sizeof(int32_t) * (size_t)R};
    void *bufs[3] = {xalloc(sizes[0]), xalloc(sizes[1]), xalloc(sizes[2])};
    uint16_t *table = bufs[1];
    int32_t *ids = bufs[2];
    for (size_t i = 0; i < (size_t)V * H; i++)
        table[i] = (uint16_t)(i * 40503u);  /* odd multiplier: a permutation of all 65536 values */
    for (int r = 0; r < V; r++)
        ids[r] = (r * 7 + 3) % V;
    ids[V] = -1;
    ids[V + 1] = V;
    int64_t args[1] = {R};
    void *outs[NIMPL][KERNEL_MAX_BUFS];
    run_all(&im, 3, bufs, sizes, args, outs);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < H; j++) {
            double want = r < V ? half_value(table[(size_t)ids[r] * H + j]) : 0;
            for (int i = 0; i < NIMPL; i++)
                if (outs[i][0])
                    near(name, i, "y", (long)r * H + j, want, ((float *)outs[i][0])[(size_t)r * H + j], 0);
        }
    check_bitwise(name, outs, 0, sizes[0]);
    for (int i = 0; i < NIMPL; i++)
        free_bufs(3, outs[i]);
    free_bufs(3, bufs);
}

/* ---------------------------------------------------------------- the kernel list */

static KernelDesc gemm(int m, int k, int n, KernelDType wt, int group, bool bias, bool acc) {
    return (KernelDesc){.kind = KK_GEMM, .gemm = {m, k, n, wt, group, bias, acc}};
}
static KernelDesc attn(int d, int g, KernelDType kv, int page, bool causal, float scale) {
    return (KernelDesc){.kind = KK_ATTN, .attn = {d, g, kv, page, causal, scale, 0, 0}};
}
static KernelDesc attn_window(int d, int g, KernelDType kv, int page, int window) {
    return (KernelDesc){.kind = KK_ATTN, .attn = {d, g, kv, page, true, 0, window, 0}};
}
/* a tile of an interleaved cache: keys t = lo mod n at rows t / n (lo < n) */
static KernelDesc attn_tile(int d, int g, int window, int n) {
    return (KernelDesc){.kind = KK_ATTN, .attn = {d, g, KD_F16, 0, true, 0, window, n}};
}
static KernelDesc rowk(KernelKind kind, int n, float eps, bool bias) {
    return (KernelDesc){.kind = kind, .row = {n, eps, bias}};
}

typedef struct GemmCase { KernelDesc k; int M; } GemmCase;
typedef struct AttnTest { KernelDesc k; AttnCase c; } AttnTest;

static GemmCase gemm_cases[64];
static int ngemm;
static AttnTest attn_cases[64];
static int nattn;

static void add_gemm(KernelDesc k, int M) { gemm_cases[ngemm++] = (GemmCase){k, M}; }
static void add_attn(KernelDesc k, AttnCase c) { attn_cases[nattn++] = (AttnTest){k, c}; }

static void make_cases(void) {
    static const KernelDType wts[4] = {KD_F32, KD_F16, KD_I8, KD_I4};
    for (int i = 0; i < 4; i++) {
        KernelDType wt = wts[i];
        bool q = wt == KD_I8 || wt == KD_I4;
        int g16 = wt == KD_I4 ? 32 : 16;    /* the smallest group */
        add_gemm(gemm(1, 1, 1, wt, q ? g16 : 0, false, false), 1);         /* one element */
        add_gemm(gemm(1, 17, 5, wt, q ? g16 : 0, true, false), 1);         /* K: a chunk and a tail */
        add_gemm(gemm(1, 256, 33, wt, q ? 64 : 0, false, false), 1);       /* whole groups; N % 4 = 1 */
        add_gemm(gemm(1, 300, 7, wt, q ? 128 : 0, true, true), 1);         /* K % group, bias, y += */
        add_gemm(gemm(2, 95, 9, wt, q ? 32 : 0, false, false), 2);         /* two rows folded, odd K */
        add_gemm(gemm(5, 64, 6, wt, q ? 32 : 0, false, true), 5);          /* five rows folded */
        add_gemm(gemm(8, 33, 3, wt, q ? g16 : 0, true, false), 8);         /* eight rows folded */
        add_gemm(gemm(1, 200, 3, wt, q ? g16 : 0, false, false), 1);       /* K % group, several groups */
        add_gemm(gemm(0, 129, 10, wt, q ? 32 : 0, false, false), 7);       /* run-time rows: 4 + 3 */
        add_gemm(gemm(0, 129, 10, wt, q ? 32 : 0, false, false), 1);
        add_gemm(gemm(0, 129, 10, wt, q ? 32 : 0, false, false), 0);       /* no rows at all */
    }
    add_gemm(gemm(1, 4096, 64, KD_F16, 0, false, false), 1);               /* a decode-sized row */
    add_gemm(gemm(1, 4096, 64, KD_I4, 128, false, false), 1);
    add_gemm(gemm(1, 4096, 64, KD_I8, 64, false, false), 1);

    static const int gs[3] = {1, 4, 8};
    for (int i = 0; i < 3; i++) {
        int g = gs[i];
        add_attn(attn(128, g, KD_F16, 0, false, 0), (AttnCase){1, 0, 100, 0});    /* 6 blocks + 4 */
        add_attn(attn(128, g, KD_F16, 0, false, 0), (AttnCase){1, 5, 5, 0});      /* empty range */
        add_attn(attn(128, g, KD_F16, 0, false, 0), (AttnCase){1, 7, 8, 0});      /* one token */
        add_attn(attn(128, g, KD_F16, 16, false, 0), (AttnCase){1, 0, 77, 0});    /* all pages, the last partial */
        add_attn(attn(128, g, KD_F16, 16, false, 0), (AttnCase){1, 16, 48, 0});   /* whole pages from page 1 */
    }
    add_attn(attn(64, 4, KD_F32, 0, false, 0), (AttnCase){2, 3, 40, 0});
    add_attn(attn(5, 2, KD_F16, 0, false, 0.5f), (AttnCase){1, 0, 33, 0});        /* head_dim 5: tails only */
    add_attn(attn(20, 3, KD_F32, 3, false, 0), (AttnCase){1, 1, 29, 0});          /* page of 3, odd D */
    add_attn(attn(128, 4, KD_F16, 0, true, 0), (AttnCase){5, 0, 40, 30});         /* prefill tile: rows 30..34 */
    add_attn(attn(128, 4, KD_F16, 0, true, 0), (AttnCase){4, 20, 40, 18});        /* rows before the tile: empty */
    add_attn(attn(64, 8, KD_F16, 16, true, 0), (AttnCase){3, 0, 64, 40});         /* causal over pages */
    add_attn(attn(128, 4, KD_F16, 0, false, 0), (AttnCase){1, 0, 1000, 0});       /* a longer range */
    /* sliding windows: prefill rows whose windows start inside the range, before it, and (row 0) at 0 */
    add_attn(attn_window(128, 4, KD_F16, 0, 7), (AttnCase){12, 0, 40, 0});       /* rows 0..11, window 7 */
    add_attn(attn_window(64, 2, KD_F32, 0, 33), (AttnCase){6, 10, 100, 30});     /* from the range's lo on */
    add_attn(attn_window(128, 8, KD_F16, 0, 100), (AttnCase){1, 0, 500, 499});   /* a decode row: 100 keys */
    add_attn(attn_window(64, 4, KD_F16, 16, 20), (AttnCase){3, 0, 64, 40});      /* over pages */
    add_attn(attn_window(16, 1, KD_F16, 0, 1), (AttnCase){4, 0, 8, 2});          /* one key each */
    /* a bank's tile of n interleaved ones (decode near memory): tokens in [lo, hi) and qpos */
    add_attn(attn_tile(128, 4, 100, 4), (AttnCase){1, 1, 500, 499});            /* tile 1 of 4: 25 keys */
    add_attn(attn_tile(64, 8, 37, 6), (AttnCase){1, 5, 301, 300});              /* tile 5 of 6 */
    add_attn(attn_tile(64, 2, 3, 8), (AttnCase){1, 2, 300, 299});               /* no key in this tile */
    add_attn(attn_tile(32, 2, 0, 3), (AttnCase){1, 0, 100, 99});                /* no window: every third */
    add_attn(attn_tile(32, 4, 50, 96), (AttnCase){1, 95, 200, 199});             /* 96 tiles */
}

static const KernelDesc merge_ks[] = {{.kind = KK_MERGE, .merge = {128}}, {.kind = KK_MERGE, .merge = {7}}};
static const KernelDesc score_ks[] = {{.kind = KK_PAGE_SCORE, .score = {16, 1, 4, KD_F32}},
                                      {.kind = KK_PAGE_SCORE, .score = {8, 4, 3, KD_F32}},
                                      {.kind = KK_PAGE_SCORE, .score = {128, 4, 16, KD_F32}},
                                      {.kind = KK_PAGE_SCORE, .score = {64, 2, 5, KD_F16}},     /* fp16 metadata */
                                      {.kind = KK_PAGE_SCORE, .score = {64, 2, 0, KD_F16}},     /* scores only */
                                      {.kind = KK_PAGE_SCORE, .score = {9, 3, 0, KD_F32}}};
static const KernelDesc meta_ks[] = {{.kind = KK_PAGE_META, .meta = {128, 16, KD_F16, KD_F32, 0}},
                                     {.kind = KK_PAGE_META, .meta = {7, 3, KD_F32, KD_F32, 0}},
                                     {.kind = KK_PAGE_META, .meta = {64, 16, KD_F16, KD_F16, 2}},  /* a PE's pages */
                                     {.kind = KK_PAGE_META, .meta = {5, 4, KD_F32, KD_F32, 3}},
                                     {.kind = KK_PAGE_META, .meta = {33, 8, KD_F16, KD_F16, 1}}};
static const KernelDesc rows_ks[] = {{.kind = KK_PAGE_ROWS, .rows = {16, 3, 4}},
                                     {.kind = KK_PAGE_ROWS, .rows = {16, 12, 8}},
                                     {.kind = KK_PAGE_ROWS, .rows = {8, 2, 4}},
                                     {.kind = KK_PAGE_ROWS, .rows = {4, 8, 5}},
                                     {.kind = KK_PAGE_ROWS, .rows = {1, 1, 3}}};
static const KernelDesc topk_ks[] = {{.kind = KK_TOPK, .topk = {1}}, {.kind = KK_TOPK, .topk = {2}},
                                     {.kind = KK_TOPK, .topk = {8}}, {.kind = KK_TOPK, .topk = {64}}};
static const KernelDesc rope_ks[] = {{.kind = KK_ROPE, .rope = {.head_dim = 128, .heads = 4, .rot = 128, .theta = 10000}},
                                     {.kind = KK_ROPE, .rope = {.head_dim = 64, .heads = 2, .rot = 16, .theta = 500000}},   /* partial: 0.25 */
                                     {.kind = KK_ROPE, .rope = {.head_dim = 6, .heads = 3, .rot = 4, .theta = 10000}},
                                     /* Llama 3.2 with linear scaling; Llama 3.1's rule (every branch at D 128) */
                                     {.kind = KK_ROPE,
                                      .rope = {.head_dim = 64, .heads = 2, .rot = 64, .theta = 500000,
                                               .scaling = KR_SCALE_LINEAR, .factor = 32}},
                                     {.kind = KK_ROPE,
                                      .rope = {.head_dim = 128, .heads = 2, .rot = 128, .theta = 500000,
                                               .scaling = KR_SCALE_LLAMA3, .factor = 8, .low_freq_factor = 1,
                                               .high_freq_factor = 4, .original_max = 8192}}};
static const KernelDesc embed_k = {.kind = KK_EMBED, .embed = {256, 256}};
static const int row_ns[] = {1, 15, 16, 17, 100, 4096};

static KernelDesc all_descs[512];
static int ndescs;

static void collect(void) {
    make_cases();
    for (int i = 0; i < ngemm; i++)
        all_descs[ndescs++] = gemm_cases[i].k;
    for (int i = 0; i < nattn; i++)
        all_descs[ndescs++] = attn_cases[i].k;
    for (size_t i = 0; i < sizeof merge_ks / sizeof *merge_ks; i++)
        all_descs[ndescs++] = merge_ks[i];
    for (size_t i = 0; i < sizeof score_ks / sizeof *score_ks; i++)
        all_descs[ndescs++] = score_ks[i];
    for (size_t i = 0; i < sizeof meta_ks / sizeof *meta_ks; i++)
        all_descs[ndescs++] = meta_ks[i];
    for (size_t i = 0; i < sizeof topk_ks / sizeof *topk_ks; i++)
        all_descs[ndescs++] = topk_ks[i];
    for (size_t i = 0; i < sizeof rows_ks / sizeof *rows_ks; i++)
        all_descs[ndescs++] = rows_ks[i];
    for (size_t i = 0; i < sizeof rope_ks / sizeof *rope_ks; i++)
        all_descs[ndescs++] = rope_ks[i];
    all_descs[ndescs++] = embed_k;
    static const KernelKind rk[] = {KK_SOFTMAX, KK_RMSNORM, KK_LAYERNORM, KK_SILU, KK_GELU_TANH,
                                    KK_GELU_ERF, KK_RELU, KK_ADD, KK_MUL};
    for (size_t i = 0; i < sizeof rk / sizeof *rk; i++)
        for (size_t j = 0; j < sizeof row_ns / sizeof *row_ns; j++) {
            bool norm = rk[i] == KK_RMSNORM || rk[i] == KK_LAYERNORM;
            all_descs[ndescs++] = rowk(rk[i], row_ns[j], norm ? 1e-5f : 0, rk[i] == KK_LAYERNORM && j % 2);
        }
}

/* ---------------------------------------------------------------- builds */

static char tmpdir[512];

/* The C target's unit for every kernel, compiled with the system compiler and loaded. */
static bool build_c(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/h2c-kernels-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "test_kernels: mkdtemp %s: %s\n", tmpdir, strerror(errno));
        return false;
    }
    char src[600], lib[600], cmd[2048];
    snprintf(src, sizeof src, "%s/test.kernels.c", tmpdir);
    snprintf(lib, sizeof lib, "%s/test.kernels.so", tmpdir);
    Diag d;
    diag_init(&d, stderr);
    if (!be_write_kernels(&be_target_c, src, "test", all_descs, ndescs, NULL, &d))
        return false;
    const char *cc = getenv("CC");
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -O2 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror "
             "-fPIC -shared -o %s %s -lm",
             cc && *cc ? cc : "cc", lib, src);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_kernels: failed: %s\n", cmd);
        return false;
    }
    so = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!so)
        fprintf(stderr, "test_kernels: dlopen: %s\n", dlerror());
    return so != NULL;
}

static void remove_tmp(void) {
    if (!tmpdir[0] || getenv("H2C_KEEP_KERNELS")) {
        if (tmpdir[0])
            fprintf(stderr, "test_kernels: kept %s\n", tmpdir);
        return;
    }
    char p[600];
    snprintf(p, sizeof p, "%s/test.kernels.c", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/test.kernels.so", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

static bool build_jits(void) {
    for (int i = 0; i < NJIT; i++) {
        Diag d;
        diag_init(&d, stderr);
        jits[i] = be_jit_compile(all_descs, ndescs, &jit_opts[i], &d);
        if (!jits[i])
            return false;
        double tb, tc, cpu;
        be_jit_times(jits[i], &tb, &tc, &cpu);
        fprintf(stderr, "%s: %d kernels (%s): IR + O3 %.3f s, machine code %.3f s (CPU %.3f s)\n", jit_names[i],
                ndescs, be_jit_target(jits[i]), tb, tc, cpu);
    }
    return true;
}

/* ---------------------------------------------------------------- library checks */

static void test_descs(void) {
    char name[KERNEL_NAME_MAX];
    KernelDesc g = gemm(1, 4096, 1024, KD_F16, 0, false, false);
    be_kernel_name(&g, name);
    CHECK_STR(name, "gemv_f16_m1_k4096_n1024");
    KernelDesc q = gemm(0, 4096, 14336, KD_I4, 128, true, true);
    be_kernel_name(&q, name);
    CHECK_STR(name, "gemm_i4_mx_k4096_n14336_g128_bias_acc");
    KernelDesc a = attn(128, 4, KD_F16, 16, true, 0);
    be_kernel_name(&a, name);
    CHECK_STR(name, "attn_f16_d128_g4_p16_causal");
    a.attn.scale = 0.125f;
    be_kernel_name(&a, name);
    CHECK_STR(name, "attn_f16_d128_g4_p16_causal_s0p125");
    a.attn.window = 4096;
    be_kernel_name(&a, name);
    CHECK_STR(name, "attn_f16_d128_g4_p16_causal_w4096_s0p125");
    KernelDesc n = rowk(KK_RMSNORM, 4096, 1e-5f, false);
    be_kernel_name(&n, name);
    CHECK_STR(name, "rmsnorm_n4096_eps1em05");
    be_kernel_name(&rope_ks[1], name);
    CHECK_STR(name, "rope_d64_h2_r16_t500000");
    be_kernel_name(&rope_ks[3], name);
    CHECK_STR(name, "rope_d64_h2_r64_t500000_lin32");
    be_kernel_name(&rope_ks[4], name);
    CHECK_STR(name, "rope_d128_h2_r128_t500000_l3f8l1h4o8192");
    KernelDesc unscaled = {.kind = KK_ROPE, .rope = {.head_dim = 128, .heads = 2, .rot = 128, .theta = 500000}};
    CHECK(!be_kernel_equal(&rope_ks[4], &unscaled));

    /* equal descs hash alike; fields a kind does not use are ignored; any used field differs */
    KernelDesc g2 = g;
    g2.gemm.group = 77;     /* unused by f16 weights */
    CHECK(be_kernel_equal(&g, &g2));
    CHECK_EQ(be_kernel_hash(&g), be_kernel_hash(&g2));
    g2.gemm.n = 1023;
    CHECK(!be_kernel_equal(&g, &g2));
    CHECK(be_kernel_hash(&g) != be_kernel_hash(&g2));
    for (int i = 0; i < ndescs; i++)
        for (int j = 0; j < ndescs; j++) {
            char a1[KERNEL_NAME_MAX], a2[KERNEL_NAME_MAX];
            be_kernel_name(&all_descs[i], a1);
            be_kernel_name(&all_descs[j], a2);
            bool eq = be_kernel_equal(&all_descs[i], &all_descs[j]);
            if (eq != (strcmp(a1, a2) == 0) || (eq && be_kernel_hash(&all_descs[i]) != be_kernel_hash(&all_descs[j]))) {
                CHECK(!"names, equality and hashes agree");
                fprintf(stderr, "    %s vs %s\n", a1, a2);
            }
        }

    /* range checks report errors, never crash */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    Diag d;
    diag_init(&d, f);
    KernelDesc bad[] = {gemm(1, 64, 8, KD_I4, 48, false, false), gemm(9, 64, 8, KD_F16, 0, false, false),
                        attn(128, 0, KD_I8, 0, false, -1), rowk(KK_RMSNORM, 0, NAN, false),
                        {.kind = KK_ROPE, .rope = {.head_dim = 64, .heads = 1, .rot = 65, .theta = 10000}}, {.kind = KK_COUNT_}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!be_kernel_check(&bad[i], &d));
    CHECK(!be_jit_compile(bad, 1, NULL, &d));
    KernelOptions vw = {.vector_width = 5};
    CHECK(!be_jit_compile(&g, 1, &vw, &d));
    CHECK(!be_emit_kernels(&be_target_c, f, "bad", bad, 2, NULL, &d));
    CHECK(!be_write_kernels(&be_target_c, "/nonexistent-dir/x.kernels.c", "x", &g, 1, NULL, &d));
    fclose(f);
    CHECK(strstr(text, "gemv_i4_m1_k64_n8_g48: group must be a positive multiple of 32") != NULL);
    CHECK(strstr(text, "g must be in 1..64") != NULL);
    CHECK(strstr(text, "vector width 5") != NULL);
    CHECK(strstr(text, "cannot write '/nonexistent-dir/x.kernels.c'") != NULL);
    free(text);
}

static void test_f16(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = be_f16_to_f32((uint16_t)h);
        double want = half_value((uint16_t)h);
        if (isnan(want)) {
            uint32_t bits;
            memcpy(&bits, &f, 4);
            /* quiet, payload kept: as vcvtph2ps */
            if (!(isnan(f) && (bits & 0x400000) && ((bits >> 13) & 0x1ff) == (h & 0x1ff) && (bits >> 31) == (h >> 15)))
                CHECK(!"f16 NaN widens to a quiet NaN with its payload");
        } else if (!(f == want && signbit(f) == signbit(want))) {
            CHECK_EQ(want, f);
        }
        if (!isnan(want) && be_f32_to_f16(f) != h)
            CHECK_EQ(h, be_f32_to_f16(f));
    }
    /* rounding to nearest even, overflow, subnormals */
    CHECK_EQ(be_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);           /* tie: to even */
    CHECK_EQ(be_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);       /* tie: to even, up */
    CHECK_EQ(be_f32_to_f16(65519.0f), 0x7bff);
    CHECK_EQ(be_f32_to_f16(65520.0f), 0x7c00);
    CHECK_EQ(be_f32_to_f16(0x1p-25f), 0x0000);                  /* half the smallest subnormal: to even */
    CHECK_EQ(be_f32_to_f16(0x1.8p-25f), 0x0001);
    CHECK_EQ(be_f32_to_f16(-0x1p-14f), 0x8400);
    for (int i = 0; i < 3000; i++) {    /* nearest, checked by search */
        float v = (float)urand(-70000, 70000) * (float)ldexp(1, irand(-30, 0));
        uint16_t h = be_f32_to_f16(v);
        if (fabs(v) < 65504 && h != half_near(v) &&
            fabs(half_value(h) - v) != fabs(half_value(half_near(v)) - v))
            CHECK_EQ(half_near(v), h);
    }
}

/* The .ll target writes a verified, optimised module with every kernel defined. */
static void test_ll(void) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    Diag d;
    diag_init(&d, stderr);
    KernelDesc ks[3] = {gemm(1, 4096, 1024, KD_F16, 0, false, false), attn(128, 4, KD_F16, 16, false, 0), embed_k};
    CHECK(be_emit_kernels(&be_target_llvm, f, "three", ks, 3, NULL, &d));
    fclose(f);
    CHECK(strstr(text, "define void @gemv_f16_m1_k4096_n1024(") != NULL);
    CHECK(strstr(text, "@attn_f16_d128_g4_p16(") != NULL);
    CHECK(strstr(text, "@embed_h256_v256(") != NULL);
    CHECK(strstr(text, "llvm.fma.v") != NULL);
    free(text);
    KernelDesc g = gemm(1, 4096, 64, KD_F16, 0, false, false);
    CHECK(be_jit_lookup_name(jits[0], "gemv_f16_m1_k4096_n64") == be_jit_lookup(jits[0], &g, &d));
    CHECK(be_jit_lookup_name(jits[0], "gemv_f16_m1_k4096_n65") == NULL);
    const char *ir = be_jit_ir(jits[0]);
    CHECK(ir && strstr(ir, "define") != NULL);
    CHECK(be_jit_ir(jits[1]) == NULL);
    CHECK(strstr(be_jit_target(jits[1]), "8 fp32 lanes") != NULL);  /* -avx512f: AVX2's width */
}

int main(void) {
    collect();
    test_f16();
    test_descs();
    if (!build_c() || !build_jits()) {
        CHECK(!"the C and JIT builds of the kernels");
        remove_tmp();
        return test_done();
    }
    remove_tmp();
    test_ll();
    for (int i = 0; i < ngemm; i++)
        check_gemm(&gemm_cases[i].k, gemm_cases[i].M);
    for (int i = 0; i < nattn; i++)
        check_attn(&attn_cases[i].k, attn_cases[i].c);
    for (size_t i = 0; i < sizeof merge_ks / sizeof *merge_ks; i++) {
        check_merge(&merge_ks[i], 4, 3, 0);
        check_merge(&merge_ks[i], 3, 5, 4);     /* some parts empty */
        check_merge(&merge_ks[i], 2, 2, 1);     /* every part empty */
        check_merge(&merge_ks[i], 2, 0, 0);     /* no parts */
        check_merge(&merge_ks[i], 1, 1, 0);
    }
    for (size_t i = 0; i < sizeof score_ks / sizeof *score_ks; i++) {
        int topk = score_ks[i].score.topk > 0 ? score_ks[i].score.topk : 4;
        check_page_score(&score_ks[i], 0, false);
        check_page_score(&score_ks[i], topk - 1, false);    /* all pages */
        check_page_score(&score_ks[i], topk, false);
        check_page_score(&score_ks[i], 5 * topk + 3, false);
        check_page_score(&score_ks[i], 300, false);
        check_page_score(&score_ks[i], 50, true);
    }
    for (size_t i = 0; i < sizeof meta_ks / sizeof *meta_ks; i++) {
        int P = meta_ks[i].meta.page, NI = be_meta_interleave(&meta_ks[i]);
        for (int r = 0; r < NI; r++) {
            check_page_meta(&meta_ks[i], 3 * P * NI + 2, 1, 1, r);           /* decode: a key a step */
            check_page_meta(&meta_ks[i], 3 * P * NI + 2, 2 * P + 1, 1, r);   /* a prompt, then decode */
            check_page_meta(&meta_ks[i], 5 * P * NI + 3, 3, 7, r);           /* calls across pages */
        }
    }
    for (size_t i = 0; i < sizeof rows_ks / sizeof *rows_ks; i++)
        for (int j = 0; j < rows_ks[i].rows.tiles; j++)
            for (int nsel = 0; nsel <= rows_ks[i].rows.k; nsel++)
                check_page_rows(&rows_ks[i], nsel, j);
    for (size_t i = 0; i < sizeof topk_ks / sizeof *topk_ks; i++) {
        int K = topk_ks[i].topk.k;
        for (int np = 0; np <= K + 2; np++)
            check_topk(&topk_ks[i], np, 0);
        check_topk(&topk_ks[i], 5 * K + 3, 0);
        check_topk(&topk_ks[i], 300, 0);
        check_topk(&topk_ks[i], 200, 12);
        check_topk(&topk_ks[i], K + 1, 3);
    }
    for (size_t i = 0; i < sizeof rope_ks / sizeof *rope_ks; i++) {
        check_rope(&rope_ks[i], 5, 32767);
        check_rope(&rope_ks[i], 1, 0);
    }
    check_embed(&embed_k);
    for (int i = 0; i < ndescs; i++) {
        const KernelDesc *k = &all_descs[i];
        switch (k->kind) {
        case KK_SOFTMAX:
        case KK_RMSNORM:
        case KK_LAYERNORM:
            check_rows(k, 3, true);
            check_rows(k, 1, false);
            break;
        case KK_SILU:
        case KK_GELU_TANH:
        case KK_GELU_ERF:
        case KK_RELU:
        case KK_ADD:
        case KK_MUL: check_eltwise(k, 3); break;
        default: break;
        }
    }
    fprintf(stderr, "largest error / tolerance against the fp64 reference (C target, JIT):\n");
    for (int i = 0; i < KK_COUNT_; i++)
        if (worst[i][0] > 0 || worst[i][1] > 0)
            fprintf(stderr, "  %-10s %.3f %.3f\n", be_kernel_abi((KernelKind)i)->name, worst[i][0], worst[i][1]);
    for (int i = 0; i < NJIT; i++)
        be_jit_free(jits[i]);
    dlclose(so);
    return test_done();
}

/* kernels.c (bench/kernels): memory bandwidth of the kernel library's decode kernels, single
 * threaded, in one run: GEMV (M = 1) 4096x4096 and 14336x4096 with fp16, int8 and int4 weights,
 * and an attention tile at 32k context (head_dim 128, g = 4, fp16 KV, 8 KV heads), as GB/s of
 * weight/KV bytes for (i) the JIT kernel, (ii) a STREAM triad, (iii) the C target's text built with
 * gcc -O3 -march=native (at run time, into the work directory; without -march=native in a build
 * configured with -DH2C_NATIVE=OFF, for valgrind), (iv) OpenBLAS cblas_sgemv on fp32
 * weights, 1 and 2 threads. Best of N timings; caches are flushed (a 128 MiB read) before each.
 * usage: kernels [--tiny] [--reps N] [--workdir DIR]   (--tiny: small shapes, a smoke test) */
#include "kernels.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The gcc flags of the C target: CMake's H2C_NATIVE (ON: "-O3 -march=native") */
#ifndef H2C_BENCH_CFLAGS
#define H2C_BENCH_CFLAGS "-O3 -march=native"
#endif

static double now(void) { return h2c_seconds(); }

static void *xalloc(size_t n) {
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "kernels: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float frand(void) { return (float)((double)(rng() >> 11) * 0x1p-53 * 2 - 1); }

/* ---------------------------------------------------------------- cache flush, triad */

static float *flush_buf;
static size_t flush_n;
static volatile float flush_sink;

static void flush_caches(void) {
    float s = 0;
    for (size_t i = 0; i < flush_n; i += 16)
        s += flush_buf[i];
    flush_sink = s;
}

/* ---------------------------------------------------------------- measurements */

/* One thing timed: a kernel over `calls` buffer sets, OpenBLAS's sgemv, or the triad. All of them
 * run once per round, rounds repeat, and each keeps its best time: a slow phase of a noisy machine
 * then hits every measurement alike. */
typedef enum MeasKind { M_KERNEL, M_SGEMV, M_TRIAD } MeasKind;

typedef struct Meas {
    MeasKind kind;
    char what[64];              /* the workload */
    const char *impl;           /* who runs it */
    double bytes;               /* weight/KV bytes read (triad: STREAM's 24 per element) */
    KernelFn fn;                /* M_KERNEL */
    int calls;
    void *bufs[16][KERNEL_MAX_BUFS];
    int64_t args[3];
    const float *w, *x;         /* M_SGEMV */
    float *y;
    int n, k, threads;
    double *a, *b, *c;          /* M_TRIAD */
    size_t len;
    double best;                /* seconds */
} Meas;

static Meas meas[64];
static int nmeas;

static Meas *add_meas(MeasKind kind, const char *what, const char *impl, double bytes) {
    Meas *m = &meas[nmeas++];
    memset(m, 0, sizeof *m);
    m->kind = kind;
    snprintf(m->what, sizeof m->what, "%s", what);
    m->impl = impl;
    m->bytes = bytes;
    m->best = 1e30;
    return m;
}

static void run_meas(Meas *m) {
    if (m->kind != M_TRIAD)
        flush_caches();     /* the triad's arrays are 12x the L3 anyway */
    if (m->kind == M_SGEMV)
        openblas_set_num_threads(m->threads);
    double t = now();
    switch (m->kind) {
    case M_KERNEL:
        for (int c = 0; c < m->calls; c++)
            m->fn(m->bufs[c], m->args);
        break;
    case M_SGEMV:
        cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n, m->k, 1.0f, m->w, m->k, m->x, 1, 0.0f, m->y, 1);
        break;
    case M_TRIAD:
        for (size_t i = 0; i < m->len; i++)
            m->a[i] = m->b[i] + 3.0 * m->c[i];
        break;
    }
    t = now() - t;
    m->best = t < m->best ? t : m->best;
}

/* ---------------------------------------------------------------- the gcc build of the C target */

static void *gcc_so;

static bool build_gcc(const char *dir, const KernelDesc *descs, int n) {
    char src[1024], lib[1024], cmd[3000];
    snprintf(src, sizeof src, "%s/bench.kernels.c", dir);
    snprintf(lib, sizeof lib, "%s/bench.kernels.so", dir);
    Diag d;
    diag_init(&d, stderr);
    if (!be_write_kernels(&be_target_c, src, "bench", descs, n, NULL, &d))
        return false;
    snprintf(cmd, sizeof cmd, "gcc -std=c11 " H2C_BENCH_CFLAGS " -fPIC -shared -o %s %s -lm", lib, src);
    if (system(cmd) != 0) {
        fprintf(stderr, "kernels: failed: %s\n", cmd);
        return false;
    }
    gcc_so = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!gcc_so)
        fprintf(stderr, "kernels: dlopen %s: %s\n", lib, dlerror());
    return gcc_so != NULL;
}

static KernelFn gcc_fn(const KernelDesc *k) {
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    void *sym = dlsym(gcc_so, name);
    KernelFn fn;
    memcpy(&fn, &sym, sizeof fn);
    return fn;
}

/* ---------------------------------------------------------------- the table */

/* max |a - b| / max |b|: a sanity check that the two builds compute the same thing */
static double rel_diff(const float *a, const float *b, size_t n) {
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        m = fmax(m, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    return s > 0 ? m / s : m;
}

typedef struct Shape { int n, k; } Shape;

int main(int argc, char **argv) {
    bool tiny = false;
    int rounds = 15;
    const char *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tiny") == 0)
            tiny = true;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--workdir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else {
            fprintf(stderr, "usage: kernels [--tiny] [--reps N] [--workdir DIR]\n");
            return 2;
        }
    }
    if (tiny)
        rounds = 2;
    Shape shapes[2] = {{4096, 4096}, {14336, 4096}};
    int ctx = 32768, kvheads = 8, D = 128, G = 4, GROUP = 128;
    if (tiny) {
        shapes[0] = (Shape){64, 256};
        shapes[1] = (Shape){96, 256};
        ctx = 300;
        kvheads = 2;
    }
    flush_n = tiny ? 1 << 16 : (size_t)32 << 20;    /* 128 MiB of floats: 4x the L3 */
    flush_buf = xalloc(flush_n * sizeof(float));
    for (size_t i = 0; i < flush_n; i++)
        flush_buf[i] = 1;

    /* the kernels: the measured ones, and the rest of a llama-style decoder layer, in one JIT */
    static const KernelDType wts[3] = {KD_F16, KD_I8, KD_I4};
    KernelDesc descs[32];
    int nd = 0;
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 3; t++)
            descs[nd++] = (KernelDesc){.kind = KK_GEMM,
                                       .gemm = {.m = 1, .k = shapes[s].k, .n = shapes[s].n, .wtype = wts[t],
                                                .group = wts[t] == KD_F16 ? 0 : GROUP}};
    KernelDesc gemv32[2];
    for (int s = 0; s < 2; s++)
        descs[nd++] = gemv32[s] =
            (KernelDesc){.kind = KK_GEMM, .gemm = {.m = 1, .k = shapes[s].k, .n = shapes[s].n, .wtype = KD_F32}};
    KernelDesc attn = {.kind = KK_ATTN, .attn = {D, G, KD_F16, 0, false, 0, 0, 0}};
    KernelDesc attn_paged = {.kind = KK_ATTN, .attn = {D, G, KD_F16, 16, false, 0, 0, 0}};
    descs[nd++] = attn;
    descs[nd++] = attn_paged;
    int nmeasured = nd;
    descs[nd++] = (KernelDesc){.kind = KK_GEMM, .gemm = {.m = 1, .k = 4096, .n = 1024, .wtype = KD_F16}};  /* k, v */
    descs[nd++] = (KernelDesc){.kind = KK_ATTN, .attn = {D, G, KD_F16, 0, true, 0, 0, 0}};   /* prefill */
    descs[nd++] = (KernelDesc){.kind = KK_MERGE, .merge = {D}};
    descs[nd++] = (KernelDesc){.kind = KK_PAGE_SCORE, .score = {D, G, 64, KD_F32}};
    descs[nd++] = (KernelDesc){.kind = KK_PAGE_META, .meta = {D, 16, KD_F16, KD_F32, 1}};
    descs[nd++] = (KernelDesc){.kind = KK_RMSNORM, .row = {4096, 1e-5f, false}};
    descs[nd++] = (KernelDesc){.kind = KK_ROPE, .rope = {.head_dim = D, .heads = 32, .rot = D, .theta = 500000}};
    descs[nd++] = (KernelDesc){.kind = KK_ROPE, .rope = {.head_dim = D, .heads = 8, .rot = D, .theta = 500000}};
    descs[nd++] = (KernelDesc){.kind = KK_SILU, .row = {14336, 0, false}};
    descs[nd++] = (KernelDesc){.kind = KK_MUL, .row = {14336, 0, false}};
    descs[nd++] = (KernelDesc){.kind = KK_ADD, .row = {4096, 0, false}};
    descs[nd++] = (KernelDesc){.kind = KK_SOFTMAX, .row = {128256, 0, false}};
    descs[nd++] = (KernelDesc){.kind = KK_EMBED, .embed = {4096, 128256}};

    Diag d;
    diag_init(&d, stderr);
    KernelJit *jit = be_jit_compile(descs, nd, NULL, &d);
    if (!jit)
        return 1;
    double tb, tc, cpu;
    be_jit_times(jit, &tb, &tc, &cpu);
    printf("JIT: %d kernels in one module (%s): IR + O3 %.3f s, machine code %.3f s, total %.3f s wall, %.3f s CPU\n",
           nd, be_jit_target(jit), tb, tc, tb + tc, cpu);
    double tg = now();
    if (!build_gcc(dir, descs, nmeasured))
        return 1;
    printf("C target: %d kernels written and built with gcc " H2C_BENCH_CFLAGS " in %.3f s\n", nmeasured, now() - tg);

    /* the triad: three arrays of doubles, 12x the L3 together */
    Meas *tri = add_meas(M_TRIAD, "STREAM triad a = b + 3c", "C, 1 thread", 0);
    tri->len = tiny ? 1 << 16 : (size_t)1 << 24;
    tri->bytes = 24.0 * (double)tri->len;
    tri->a = xalloc(tri->len * sizeof(double));
    tri->b = xalloc(tri->len * sizeof(double));
    tri->c = xalloc(tri->len * sizeof(double));
    for (size_t i = 0; i < tri->len; i++) {
        tri->b[i] = 1;
        tri->c[i] = 2;
    }

    /* GEMV: each weight type through the JIT and through gcc's build, fp32 through OpenBLAS */
    void *blocks[64];
    int nblocks = 0;
    float *ys[16][2];
    int nys = 0;
    for (int s = 0; s < 2; s++) {
        int N = shapes[s].n, K = shapes[s].k;
        float *x = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)K);
        for (int i = 0; i < K; i++)
            x[i] = frand();
        for (int t = 0; t < 3; t++) {
            const KernelDesc *k = &descs[s * 3 + t];
            size_t wb = (size_t)N * (size_t)be_gemm_row_bytes(k), sb = (size_t)N * (size_t)be_gemm_scale_row_bytes(k);
            uint8_t *w = blocks[nblocks++] = xalloc(wb);
            uint16_t *sc = blocks[nblocks++] = xalloc(sb ? sb : 2);
            if (wts[t] == KD_F16)
                for (size_t i = 0; i < wb / 2; i++)
                    ((uint16_t *)w)[i] = be_f32_to_f16(frand() * 0.05f);
            else
                for (size_t i = 0; i < wb; i++)
                    w[i] = (uint8_t)rng();
            for (size_t i = 0; i < sb / 2; i++)
                sc[i] = be_f32_to_f16(0.002f);
            char what[64];
            snprintf(what, sizeof what, "gemv %dx%d %s%s", N, K, be_dtype_name(wts[t]), t ? " g128" : "");
            for (int impl = 0; impl < 2; impl++) {
                Meas *m = add_meas(M_KERNEL, what, impl ? "C, gcc " H2C_BENCH_CFLAGS : "JIT", (double)(wb + sb));
                m->fn = impl ? gcc_fn(k) : be_jit_lookup(jit, k, &d);
                if (!m->fn)
                    return 1;
                float *y = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)N);
                ys[nys][impl] = y;
                void *b[KERNEL_MAX_BUFS] = {y, x, w, sc, NULL};
                memcpy(m->bufs[0], b, sizeof b);
                m->calls = 1;
                m->args[0] = 1;
                m->n = N;
            }
            nys++;
        }
        float *wf = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)N * K);
        for (size_t i = 0; i < (size_t)N * K; i++)
            wf[i] = frand() * 0.05f;
        char what[64];
        snprintf(what, sizeof what, "gemv %dx%d f32", N, K);
        Meas *mj = add_meas(M_KERNEL, what, "JIT", 4.0 * N * K);
        mj->fn = be_jit_lookup(jit, &gemv32[s], &d);
        if (!mj->fn)
            return 1;
        void *b32[KERNEL_MAX_BUFS] = {blocks[nblocks++] = xalloc(sizeof(float) * (size_t)N), x, wf};
        memcpy(mj->bufs[0], b32, sizeof b32);
        mj->calls = 1;
        mj->args[0] = 1;
        snprintf(what, sizeof what, "sgemv %dx%d f32", N, K);
        for (int th = 1; th <= 2; th++) {
            Meas *m = add_meas(M_SGEMV, what, th == 1 ? "OpenBLAS, 1 thread" : "OpenBLAS, 2 threads", 4.0 * N * K);
            m->w = wf;
            m->x = x;
            m->y = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)N);
            m->n = N;
            m->k = K;
            m->threads = th;
        }
    }

    /* attention: one decode step over kvheads KV heads of ctx tokens each */
    size_t kvn = (size_t)ctx * D;
    int npages = ctx / 16 + 1;
    float *q = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)G * D);
    int32_t *pages = blocks[nblocks++] = xalloc(sizeof(int32_t) * (size_t)npages);
    for (int i = 0; i < npages; i++)
        pages[i] = i;
    for (int i = 0; i < G * D; i++)
        q[i] = frand();
    uint16_t *caches[32];
    for (int h = 0; h < 2 * kvheads; h++) {
        caches[h] = blocks[nblocks++] = xalloc(sizeof(uint16_t) * kvn);
        for (size_t i = 0; i < kvn; i++)
            caches[h][i] = be_f32_to_f16(frand());
    }
    char what[64];
    snprintf(what, sizeof what, "attn %dk d%d g%d f16, %d KV heads", ctx / 1024, D, G, kvheads);
    float *attn_o[3];
    for (int impl = 0; impl < 3; impl++) {
        static const char *const names[3] = {"JIT", "JIT, pages of 16", ("C, gcc " H2C_BENCH_CFLAGS)};
        Meas *m = add_meas(M_KERNEL, what, names[impl], 2.0 * sizeof(uint16_t) * (double)kvn * kvheads);
        m->fn = impl == 2 ? gcc_fn(&attn) : be_jit_lookup(jit, impl ? &attn_paged : &attn, &d);
        if (!m->fn)
            return 1;
        float *o = attn_o[impl] = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)kvheads * G * D);
        float *lse = blocks[nblocks++] = xalloc(sizeof(float) * (size_t)kvheads * G);
        for (int h = 0; h < kvheads; h++) {
            void *b[KERNEL_MAX_BUFS] = {o + (size_t)h * G * D, lse + h * G, q, caches[2 * h], caches[2 * h + 1],
                                        pages, NULL};
            memcpy(m->bufs[h], b, sizeof b);
        }
        m->calls = kvheads;
        int64_t args[3] = {1, 0, ctx};
        memcpy(m->args, args, sizeof args);
    }

    /* every measurement once per round; the best of the rounds */
    for (int r = 0; r < rounds; r++)
        for (int i = 0; i < nmeas; i++)
            run_meas(&meas[i]);
    openblas_set_num_threads(1);

    double triad = tri->bytes / tri->best / 1e9;
    printf("best of %d rounds, each measurement cold (caches flushed), single-threaded unless said\n\n", rounds);
    printf("%-34s %-26s %10s %10s %10s %7s\n", "workload", "implementation", "MiB read", "best ms", "GB/s",
           "/triad");
    for (int i = 0; i < nmeas; i++) {
        const Meas *m = &meas[i];
        double gbs = m->bytes / m->best / 1e9;
        printf("%-34s %-26s %10.1f %10.3f %10.1f %7.2f\n", m->what, m->impl, m->bytes / 1048576.0, m->best * 1e3, gbs,
               gbs / triad);
    }

    bool ok = true;
    for (int i = 0; i < nys; i++) {
        double diff = rel_diff(ys[i][0], ys[i][1], (size_t)shapes[i / 3].n);
        if (diff > 1e-4) {
            fprintf(stderr, "kernels: GEMV %d: JIT and C differ by %g (relative)\n", i, diff);
            ok = false;
        }
    }
    for (int i = 1; i < 3; i++) {
        double diff = rel_diff(attn_o[i], attn_o[0], (size_t)kvheads * G * D);
        if (diff > 1e-4) {
            fprintf(stderr, "kernels: attention %d: differs from the JIT by %g (relative)\n", i, diff);
            ok = false;
        }
    }
    for (int i = 0; i < nblocks; i++)
        free(blocks[i]);
    free(tri->a);
    free(tri->b);
    free(tri->c);
    be_jit_free(jit);
    dlclose(gcc_so);
    free(flush_buf);
    return ok ? 0 : 1;
}

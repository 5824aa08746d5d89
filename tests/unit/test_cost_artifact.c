/* test_cost_artifact.c: the h2llm-artifact cost model (passes/cost_artifact.c) against numbers
 * worked out by hand below and the artifact's operator-level table (h2llm-artifact.md §4.8). The
 * whole-plan and baseline paths are checked end to end by the compat/testvectors and
 * compat/baselines tests. Runs from the source root (it reads ../shared/reference for one check). */
#include "artifact.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A harness of a few lines in the style of chibicc's test/test.h: a failed check prints file:line
 * and the expression under test with its values. */
static int checks, failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: FAILED CHECK(%s)\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(want, got)                                                                        \
    do {                                                                                           \
        checks++;                                                                                  \
        long long w_ = (want), g_ = (got);                                                         \
        if (w_ != g_) {                                                                            \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: FAILED CHECK_EQ(%s, %s): want %lld, got %lld\n", __FILE__,     \
                    __LINE__, #want, #got, w_, g_);                                                \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(want, got, tol)                                                                 \
    do {                                                                                           \
        checks++;                                                                                  \
        double w_ = (want), g_ = (got);                                                            \
        if (!(fabs(w_ - g_) <= (tol))) {                                                           \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: FAILED CHECK_NEAR(%s, %s, %s): want %.17g, got %.17g\n",       \
                    __FILE__, __LINE__, #want, #got, #tol, w_, g_);                                \
        }                                                                                          \
    } while (0)

#define CONFIGS "../shared/reference/h2llm-configs"

/* The artifact's H2-LLM device, (8 FPUs, 600 MHz, 25.6 GB/s) PEs on 6 of 8 channels, fp16. */
static void device(DfProblem *p) {
    memset(p, 0, sizeof *p);
    hardware_defaults(&p->hw);
    p->nmp = 6;
    p->normal = 2;
    p->es = 2;
    p->nmp_util = 1;
}

/* Hand-worked NPU example: llama's q at decode, b=4: B=1, M=4, N=K=4096, fp16, on the 2 normal
 * channels. bw = 2 x 12.8 = 25.6 GB/s, 0.7 x 25.6 = 17.92 GB/s usable; the NPU's 89.6 TMAC/s over
 * that is thr = 89600 / 17.92 = 5000 MAC/B. ai = 4*4096*4096 / (2 * (4*4096 + 4096*4096))
 * = 67108864 / 33587200 = 1.998 MAC/B < thr, so it is bandwidth-bound:
 * t = bytes / bw = 33587200 B / 17.92e9 B/s = 1.8742857142857143e-3 s (§4.8: 1.874286 ms).
 *
 * Hand-worked NMP example: the same GEMM on 6 NMP channels. B=1 gives P=6 PEs' channels per GEMM,
 * G=1 round. sqrt(K*P/N) = sqrt(6) = 2.449; of the factors 1,2,3,6, 2 is closest (0.449 vs 0.551),
 * so kd=2, nd=3: K' = 2048, N' = ceil(4096/3) = 1366, M' = 4.
 *   t_in  = 2*4*2048 B / 2^30 / 12.8 = 1.1920928955078125e-6 s
 *   t_out = 2*4*1366 B / 2^30 / 12.8 = 10928 / 13743895347.2 = 7.951...e-7 s
 *   Pc = 16*8*600*16/1e3 = 1228.8 GMAC/s, Bc = 25.6*16 = 409.6 GB/s, thr = 3 MAC/B;
 *   ai = 4*2048*1366 / (2*(4*2048 + 2048*1366)) = 11190272/5611520 = 1.994 < 3: bandwidth-bound,
 *   t_c = 5611520 B / 409.6e9 B/s = 1.37e-5 s
 *   t = t_in + t_c + t_out = 1.5687...e-5 s (§4.8: 0.015687 ms). */
static void hand_examples(void) {
    DfProblem p;
    device(&p);
    Gemm q = {1, 4, 4096, 4096};
    CHECK_NEAR(33587200.0 / 17.92e9, art_npu(&p, q, 0, 2), 1e-18);
    double t_in = 2.0 * 4 * 2048 / 1073741824.0 / 12.8;
    double t_out = 2.0 * 4 * 1366 / 1073741824.0 / 12.8;
    double t_c = 5611520.0 / 409.6e9;
    CHECK_NEAR(1.1920928955078125e-6, t_in, 1e-21);
    CHECK_NEAR(t_in + t_c + t_out, art_nmp(&p, q, 6), 1e-18);
    CHECK_NEAR(1.5687e-5, art_nmp(&p, q, 6), 1e-9);
    /* prefill q, M = 4*783 = 3132: ai = 3132*4096 / (2*(3132 + 4096)) = 887.4 MAC/B, under the
     * 89600 / (0.7*8*12.8) = 1250 of 8 channels: still bandwidth-bound. With 32 times the channel
     * bandwidth thr is 39 and the NPU is compute-bound: t = B*M*N*K / 89.6e12. */
    DfProblem fast = p;
    fast.hw.channel_bandwidth *= 32;
    Gemm pq = {1, 3132, 4096, 4096};
    CHECK_NEAR(3132.0 * 4096 * 4096 / 89.6e12, art_npu(&fast, pq, 0, 8), 1e-15);
    /* no work costs nothing; work with no bandwidth or no channel never finishes */
    CHECK_NEAR(0, art_npu(&p, (Gemm){1, 4, 0, 4096}, 0, 2), 0);
    CHECK_NEAR(0, art_nmp(&p, (Gemm){0, 4, 4096, 4096}, 6), 0);
    CHECK(isinf(art_npu(&p, q, 0, 0)));
    CHECK(isinf(art_nmp(&p, q, 0)));
    /* the utilisation factor divides NMP time */
    DfProblem slow = p;
    slow.nmp_util = 0.5;
    CHECK_NEAR(2 * art_nmp(&p, q, 6), art_nmp(&slow, q, 6), 1e-18);
}

/* §4.8: llama3-8b, b=4, L=783, decode ctx 992, fp16, (8,600,25.6); ms per layer, as printed. */
static void operator_table(void) {
    static const struct {
        const char *op;
        Gemm dec, pre;
        double pre_npu8, dec_npu2, dec_nmp6, dec_nmp1;
    } rows[] = {
        {"q,o", {1, 4, 4096, 4096}, {1, 3132, 4096, 4096}, 0.826057, 1.874286, 0.015687, 0.086768},
        {"k,v", {1, 4, 1024, 4096}, {1, 3132, 1024, 4096}, 0.474971, 0.469943, 0.004422, 0.023540},
        {"qk", {32, 4, 992, 128}, {32, 3132, 783, 128}, 0.447429, 0.455314, 0.007647, 0.040782},
        {"sv", {32, 4, 128, 992}, {32, 3132, 128, 783}, 2.279089, 0.467657, 0.007748, 0.041322},
        {"f1,f3", {1, 4, 14336, 4096}, {1, 3132, 14336, 4096}, 2.052588, 6.555429, 0.051655, 0.297529},
        {"f2", {1, 4, 4096, 14336}, {1, 3132, 4096, 14336}, 2.891200, 6.560000, 0.051622, 0.297729},
    };
    DfProblem p;
    device(&p);
    const double tol = 0.5e-6 + 1e-12;   /* half a unit in the 6th decimal of a ms */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_NEAR(rows[i].pre_npu8, 1e3 * art_npu(&p, rows[i].pre, 6, 2), tol);
        CHECK_NEAR(rows[i].dec_npu2, 1e3 * art_npu(&p, rows[i].dec, 0, 2), tol);
        CHECK_NEAR(rows[i].dec_nmp6, 1e3 * art_nmp(&p, rows[i].dec, 6), tol);
        CHECK_NEAR(rows[i].dec_nmp1, 1e3 * art_nmp(&p, rows[i].dec, 1), tol);
    }
}

static void utilization(void) {
    Hardware hw;
    hardware_defaults(&hw);
    CHECK_NEAR(1, art_utilization(&hw, 4), 0);     /* (8, 600, 25.6): not in the table */
    hw.pe_fpus = 1;
    hw.pe_frequency = 1000e6;
    hw.pe_bandwidth = 6.4e9;                          /* ID-NMP+ */
    CHECK_NEAR(0.71, art_utilization(&hw, 1), 0);
    CHECK_NEAR(0.45, art_utilization(&hw, 4), 0);
    CHECK_NEAR(0.52, art_utilization(&hw, 16), 0);
    CHECK_NEAR(1, art_utilization(&hw, 8), 0);      /* other batches keep 1 */
    hw.pe_frequency = 200e6;                          /* ID-NMP */
    CHECK_NEAR(0.46, art_utilization(&hw, 1), 0);
    CHECK_NEAR(0.71, art_utilization(&hw, 4), 0);
    CHECK_NEAR(0.83, art_utilization(&hw, 16), 0);
    hw.pe_fpus = 2;
    CHECK_NEAR(1, art_utilization(&hw, 4), 0);
}

static bool llama(DfProblem *p, int batch, int prompt, int gen) {
    Hardware hw;
    hardware_defaults(&hw);
    Diag d;
    diag_init(&d, stderr);
    return compat_problem(CONFIGS, "llama", &hw, batch, prompt, gen, 2048, p, &d);
}

static int op_index(const DfProblem *p, const char *name) {
    for (int i = 0; i < p->nops; i++)
        if (strcmp(p->ops[i].name, name) == 0)
            return i;
    return -1;
}

/* Every op alone in its own stratum of one MPG, on NMP channels `nmp` and (if normal) the normal
 * group, with NMP share ratio (1 for pure NMP). */
static void plan_all(const DfProblem *p, DfPlan *plan, ChanSet nmp, bool normal, double ratio) {
    memset(plan, 0, sizeof *plan);
    plan->nops = p->nops;
    for (int i = 0; i < p->nops; i++) {
        plan->a[i] = (DfAssign){0, 0, i, nmp, normal, 0, ratio, DF_EXEC_AUTO, false};
        plan->order[i] = i;
    }
}

/* llama3-8b fp16, 32 layers: weights 4096*(4096*2 + 1024*2 + 14336*3) * 2 B * 32 = 13.0 GiB and a
 * KV cache of 2 * 4*8*2048*128 * 2 B * 32 = 1 GiB at max_seq 2048, b=4: 14 GiB of 32. */
static void capacity(void) {
    DfProblem p;
    if (!llama(&p, 4, 783, 209)) {
        CHECK(!"llama3-8b from " CONFIGS);
        return;
    }
    double total = 0;
    for (int i = 0; i < p.nops; i++)
        total += p.ops[i].footprint;
    CHECK_NEAR(14.0 * 1073741824, total, 0);
    DfPlan plan;
    plan_all(&p, &plan, 0x3f, true, 0.9856);    /* 14 GiB * 0.9856 / 6 = 2.3 GiB per NMP channel */
    CHECK(art_capacity_ok(&p, &plan));
    plan_all(&p, &plan, 0x01, false, 1);        /* 14 GiB on one 4 GiB channel */
    CHECK(!art_capacity_ok(&p, &plan));
    plan_all(&p, &plan, 0, true, 0);            /* 14 GiB on the 2 normal channels, 8 GiB */
    CHECK(!art_capacity_ok(&p, &plan));
    plan_all(&p, &plan, 0x3f, false, 1);        /* 14 GiB / 6 = 2.3 GiB per NMP channel */
    CHECK(art_capacity_ok(&p, &plan));
}

/* Python's int(N * r) truncates the rounded product: 14336 * (61/14336) is 60.99999999999999. */
static void split(void) {
    DfProblem p;
    if (!llama(&p, 4, 783, 209)) {
        CHECK(!"llama3-8b from " CONFIGS);
        return;
    }
    int f1 = op_index(&p, "f1"), qk = op_index(&p, "qk");
    CHECK(f1 >= 0 && qk >= 0);
    CHECK_EQ(14336, df_split_len(&p, f1));
    DfAssign a = {0, 0, 0, 0x3f, true, 0, 61.0 / 14336, DF_EXEC_AUTO, false};
    CHECK_EQ(60, df_split_of(&p, f1, &a));
    a.ratio = 0.9856;                               /* 14129.5616 */
    CHECK_EQ(14129, df_split_of(&p, f1, &a));
    a.ratio = -1;                                   /* no ratio: the integer share */
    a.split = 14000;
    CHECK_EQ(14000, df_split_of(&p, f1, &a));
    a.ratio = 7.0 / 8;                              /* attention splits B = kv * b = 32 */
    CHECK_EQ(32, df_split_len(&p, qk));
    CHECK_EQ(28, df_split_of(&p, qk, &a));
}

/* The decode shapes of §4.8's first column, and the per-op costs a search sees agree with a plan. */
static void problem_and_plan(void) {
    DfProblem p;
    if (!llama(&p, 4, 783, 209)) {
        CHECK(!"llama3-8b from " CONFIGS);
        return;
    }
    CHECK_EQ(9, p.nops);
    CHECK_EQ(992, p.ctx_last);
    int qk = op_index(&p, "qk"), sv = op_index(&p, "sv"), f2 = op_index(&p, "f2");
    CHECK(p.ops[qk].dec.B == 32 && p.ops[qk].dec.M == 4 && p.ops[qk].dec.N == 992 && p.ops[qk].dec.K == 128);
    CHECK(p.ops[sv].pre.B == 32 && p.ops[sv].pre.M == 3132 && p.ops[sv].pre.N == 128 && p.ops[sv].pre.K == 783);
    CHECK(p.ops[f2].dec.N == 4096 && p.ops[f2].dec.K == 14336);
    CHECK(p.ops[sv].preds == ((1u << qk) | (1u << op_index(&p, "v"))));

    DfPlan plan;
    plan_all(&p, &plan, 0x3f, true, 0.875);
    CostResult r;
    cost_artifact.evaluate(&p, &plan, &r);
    double pre = 0, dec = 0;
    for (int i = 0; i < p.nops; i++) {
        OpCost oc;
        long long s = df_split_of(&p, i, &plan.a[i]);
        cost_artifact.op_cost(&p, i, 6, true, s, &oc);
        pre += oc.prefill;
        dec += oc.npu > oc.nmp ? oc.npu : oc.nmp;
        CHECK_NEAR(oc.prefill, r.op_prefill[i], 0);
        CHECK_NEAR(oc.npu > oc.nmp ? oc.npu : oc.nmp, r.op_decode[i], 0);
        CHECK_NEAR(0, oc.energy, 0);
    }
    CHECK_NEAR(pre, r.prefill, 1e-15);
    CHECK_NEAR(dec, r.decode, 1e-13);
    CHECK_NEAR(r.prefill + r.decode, r.total, 1e-16);
    CHECK_NEAR(209 * r.decode_step, r.decode, 1e-13);
    CHECK_NEAR(0, r.energy, 0);
}

/* palm at batch 1 has B = kv * b = 1 attention GEMMs, which a ratio splits along N (§4.5). */
static void palm_batch1(void) {
    Hardware hw;
    hardware_defaults(&hw);
    Diag d;
    diag_init(&d, stderr);
    DfProblem p;
    if (!compat_problem(CONFIGS, "palm", &hw, 1, 1971, 17, 2048, &p, &d)) {
        CHECK(!"palm-8b from " CONFIGS);
        return;
    }
    int qk = op_index(&p, "qk");
    Gemm g = p.ops[qk].dec;
    CHECK(g.B == 1 && g.M == 16 && g.N == 1988 && g.K == 256);
    DfPlan plan;
    plan_all(&p, &plan, 0x3f, true, 0.5);
    CostResult r;
    cost_artifact.evaluate(&p, &plan, &r);
    Gemm gx = g, gn = g;
    gn.N = 994;     /* int(1988 * 0.5) */
    gx.N = 1988 - 994;
    double npu = art_npu(&p, gx, 6, 2), nmp = art_nmp(&p, gn, 6);
    CHECK_NEAR(17 * (npu > nmp ? npu : nmp), r.op_decode[qk], 1e-18);
}

static void baselines(void) {
    DfProblem p;
    if (!llama(&p, 4, 783, 209)) {
        CHECK(!"llama3-8b from " CONFIGS);
        return;
    }
    CostResult r;
    CHECK(!art_baseline(&p, DF_NPU_ONLY, &r));         /* CP needs a device without NMP channels */
    CHECK(!art_baseline(&p, DF_DATA_CENTRIC, &r));     /* not a fixed mapping */
    CHECK(art_baseline(&p, DF_FC_NMP, &r));
    /* h2llm-baselines.txt: llama sg 4 FC-NMP 0.104386265 0.0153744417 0.0890118234 */
    CHECK_NEAR(0.104386265, r.total, 0.5e-9);
    CHECK_NEAR(0.0153744417, r.prefill, 0.5e-10);
    CHECK_NEAR(0.0890118234, r.decode, 0.5e-10);
}

/* Running out of memory anywhere in compat (its arena or cJSON's allocations) is reported and
 * unwinds cleanly: LeakSanitizer, in the sanitizer build, sees every file, directory and tree freed. */
static long alloc_calls, fail_at;

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (++alloc_calls == fail_at)
        return NULL;
    return realloc(ptr, nsize);
}

static void compat_oom(const char *file, long stride_after) {
    FILE *null = fopen("/dev/null", "w");
    if (!null) {
        CHECK(!"/dev/null");
        return;
    }
    bool done = false;
    long runs = 0;
    for (fail_at = 1; !done; fail_at += fail_at < 400 ? 1 : stride_after, runs++) {
        alloc_calls = 0;
        Diag d;
        diag_init(&d, null);
        CompatSummary sum;
        h2c_set_allocator(failing_alloc, NULL);
        bool ok = compat_check(file, CONFIGS, null, &sum, &d);
        h2c_set_allocator(NULL, NULL);
        if (alloc_calls < fail_at) {    /* no allocation failed: the run must be the normal one */
            CHECK(ok && sum.failed == 0 && sum.entries > 0);
            fprintf(stderr, "%s: %ld allocations, %ld runs with one of them failing\n", file, alloc_calls, runs);
            done = true;
        } else if (ok || d.errors != 1) {
            CHECK(!ok && d.errors == 1);
            fprintf(stderr, "    %s, allocation %ld failing\n", file, fail_at);
            done = true;
        }
    }
    fclose(null);
}

int main(void) {
    hand_examples();
    operator_table();
    utilization();
    capacity();
    split();
    problem_and_plan();
    palm_batch1();
    baselines();
    compat_oom("../shared/reference/h2llm-baselines.txt", 1);
    compat_oom("../shared/reference/h2llm-testvectors.json", 23);
    fprintf(stderr, "%d checks, %d failed\n", checks, failures);
    return failures != 0;
}

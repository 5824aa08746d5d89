/* test_quest_plan.c: Quest page selection as the schedule runs it (docs/schedule.md §7), composed from
 * the JIT-compiled kernels and the runtime's rules, against the reference runtime. A stream's KV is
 * spread over n tiles, token t in tile t mod n at local row t / n; each step the new key's page
 * metadata is folded in by the tile the `when` predicate picks (prefill: the prompt's metadata on
 * the NPU, stored page p into tile p mod n), every tile scores its pages, the scores go into page
 * order, `topk` picks floor(B/P) pages with the newest kept, each tile attends over its share of them
 * (pages of P/n rows when n divides P, else its rows from `pagerows`, with hi from rt_sel_rows), and
 * `merge` combines the tiles. The oracle: the reference runtime's metadata, scores and top pages (the
 * newest added), rt_quest_tokens and rt_attn_f64 over those tokens. Keys and queries are small
 * integers, so scores are exact and the selection (ties included) must match exactly. */
#include "kernels.h"
#include "runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;
static int irand(int lo, int hi) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int)((seed >> 33) % (uint64_t)(hi - lo + 1));
}

static void *xcalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p)
        abort();
    return p;
}

enum { D = 32, G = 2 };

typedef struct Kit {
    KernelJit *jit;
    KernelFn meta_npu, meta_pe, score, topk, rows, attn, merge;
} Kit;

/* One plan: n tiles, pages of P, a budget of B, a prompt of S tokens, then decode steps up to ctx_end. */
static void run_plan(int n, int P, int B, int S, int ctx_end) {
    int K = B / P, maxseq = ctx_end, npg_max = (maxseq + P - 1) / P, pages_t = (npg_max + n - 1) / n;
    int cap = (maxseq + n - 1) / n;
    bool divides = P % n == 0;
    int prow = divides ? P / n : 1, nsel = divides ? K : K * ((P + n - 1) / n);
    KernelDesc d_meta_npu = {.kind = KK_PAGE_META, .meta = {D, P, KD_F16, KD_F16, 1}};
    KernelDesc d_meta_pe = {.kind = KK_PAGE_META, .meta = {D, P, KD_F16, KD_F16, n}};
    KernelDesc d_score = {.kind = KK_PAGE_SCORE, .score = {D, G, 0, KD_F16}};
    KernelDesc d_topk = {.kind = KK_TOPK, .topk = {K}};
    KernelDesc d_rows = {.kind = KK_PAGE_ROWS, .rows = {P, n, K}};
    KernelDesc d_attn = {.kind = KK_ATTN, .attn = {D, G, KD_F16, prow, false, 0, 0, 0}};
    KernelDesc d_merge = {.kind = KK_MERGE, .merge = {D}};
    KernelDesc all[] = {d_meta_npu, d_meta_pe, d_score, d_topk, d_rows, d_attn, d_merge};
    Diag dg;
    diag_init(&dg, stderr);
    Kit kt;
    kt.jit = be_jit_compile(all, 7, NULL, &dg);
    if (!CHECK(kt.jit != NULL))
        return;
    kt.meta_npu = be_jit_lookup(kt.jit, &d_meta_npu, &dg);
    kt.meta_pe = be_jit_lookup(kt.jit, &d_meta_pe, &dg);
    kt.score = be_jit_lookup(kt.jit, &d_score, &dg);
    kt.topk = be_jit_lookup(kt.jit, &d_topk, &dg);
    kt.rows = be_jit_lookup(kt.jit, &d_rows, &dg);
    kt.attn = be_jit_lookup(kt.jit, &d_attn, &dg);
    kt.merge = be_jit_lookup(kt.jit, &d_merge, &dg);

    /* the whole sequence's keys and values (f16, small integers for keys), and the tiles */
    float *kf = xcalloc(sizeof(float) * (size_t)maxseq * D), *vf = xcalloc(sizeof(float) * (size_t)maxseq * D);
    uint16_t *kh = xcalloc(2 * (size_t)maxseq * D);
    for (int i = 0; i < maxseq * D; i++) {
        kf[i] = (float)irand(-2, 2);
        kh[i] = be_f32_to_f16(kf[i]);
        vf[i] = be_f16_to_f32(be_f32_to_f16((float)irand(-1000, 1000) / 1000.0f));
    }
    uint16_t **tk = xcalloc(sizeof(void *) * (size_t)n), **tv = xcalloc(sizeof(void *) * (size_t)n);
    uint16_t **meta = xcalloc(sizeof(void *) * (size_t)n);
    for (int j = 0; j < n; j++) {
        tk[j] = xcalloc(2 * (size_t)cap * D);
        tv[j] = xcalloc(2 * (size_t)cap * D);
        meta[j] = xcalloc(2 * (size_t)pages_t * 2 * D);
        memset(meta[j], 0xff, 2 * (size_t)pages_t * 2 * D);    /* NaN until a page opens */
    }
    /* prefill: the prompt appended, its metadata built on the NPU and stored page p into tile p mod n */
    for (int t = 0; t < S; t++)
        for (int dd = 0; dd < D; dd++) {
            tk[t % n][(size_t)(t / n) * D + dd] = kh[(size_t)t * D + dd];
            tv[t % n][(size_t)(t / n) * D + dd] = be_f32_to_f16(vf[(size_t)t * D + dd]);
        }
    int npp = (S + P - 1) / P;
    uint16_t *mnpu = xcalloc(2 * (size_t)npp * 2 * D);
    {
        void *bufs[2] = {mnpu, kh};
        int64_t args[2] = {0, S};
        kt.meta_npu(bufs, args);
    }
    for (int p = 0; p < npp; p++)
        memcpy(meta[p % n] + (size_t)(p / n) * 2 * D, mnpu + (size_t)p * 2 * D, 2 * 2 * (size_t)D);
    float *q = xcalloc(sizeof(float) * G * D), *score = xcalloc(sizeof(float) * (size_t)pages_t * n);
    float *sc = xcalloc(sizeof(float) * (size_t)pages_t), *os = xcalloc(sizeof(float) * (size_t)n * G * D);
    float *ls = xcalloc(sizeof(float) * (size_t)n * G), o[G * D], lse[G];
    int32_t *sel = xcalloc(sizeof(int32_t) * (size_t)K), *rows = xcalloc(sizeof(int32_t) * (size_t)nsel);
    float *kmin = xcalloc(sizeof(float) * (size_t)npg_max * D), *kmax = xcalloc(sizeof(float) * (size_t)npg_max * D);
    float *rscore = xcalloc(sizeof(float) * (size_t)npg_max);
    int *top = xcalloc(sizeof(int) * (size_t)npg_max), *toks = xcalloc(sizeof(int) * (size_t)maxseq);
    for (int ctx = S + 1; ctx <= ctx_end; ctx++) {
        int t = ctx - 1;
        /* the append, and the metadata on the tile the predicate names */
        for (int dd = 0; dd < D; dd++) {
            tk[t % n][(size_t)(t / n) * D + dd] = kh[(size_t)t * D + dd];
            tv[t % n][(size_t)(t / n) * D + dd] = be_f32_to_f16(vf[(size_t)t * D + dd]);
        }
        RtExpr when = {.ctx = 1, .plus = -1, .div = P, .mod = n > 1 ? n : 0};
        int ran = 0;
        for (int j = 0; j < n; j++) {
            if (n > 1 && rt_expr_eval(when, ctx) != j)
                continue;
            ran++;
            void *bufs[2] = {meta[j], kh + (size_t)t * D};
            int64_t args[2] = {t, 1};
            kt.meta_pe(bufs, args);
        }
        CHECK_EQ(ran, 1);
        for (int i = 0; i < G * D; i++)
            q[i] = (float)irand(-2, 2);
        /* scores per tile into page order, top-k */
        int np = (ctx + P - 1) / P;
        for (int j = 0; j < n; j++) {
            RtExpr npj = {.ctx = 1, .plus = P - 1 + P * (n - 1 - j), .div = (int64_t)P * n};
            int64_t args[1] = {rt_expr_eval(npj, ctx)};
            CHECK_EQ(args[0], (np + n - 1 - j) / n);
            void *bufs[4] = {NULL, sc, q, meta[j]};
            kt.score(bufs, args);
            for (int i = 0; i < args[0]; i++)
                score[(size_t)i * n + j] = sc[i];
        }
        {
            void *bufs[2] = {sel, score};
            int64_t args[1] = {np};
            kt.topk(bufs, args);
        }
        /* the oracle's selection: the newest page, and the K - 1 best of the others */
        rt_quest_meta_build(kf, ctx, D, P, kmin, kmax);
        rt_quest_scores(q, G, D, kmin, kmax, np, rscore);
        int nt = rt_quest_top_pages(rscore, np - 1, K - 1, top);
        top[nt++] = np - 1;
        for (int i = 0; i < K; i++)
            if (!CHECK(sel[i] == (i < nt ? top[i] : -1))) {
                fprintf(stderr, "    n %d P %d ctx %d: sel[%d] = %d, want %d\n", n, P, ctx, i, sel[i], i < nt ? top[i] : -1);
                break;
            }
        for (int p = 0; p < np; p++)    /* the tiles' metadata is the reference's, bit for bit */
            for (int dd = 0; dd < D; dd++)
                if (!CHECK(be_f16_to_f32(meta[p % n][(size_t)(p / n) * 2 * D + dd]) == kmin[(size_t)p * D + dd] &&
                           be_f16_to_f32(meta[p % n][(size_t)(p / n) * 2 * D + D + dd]) == kmax[(size_t)p * D + dd]))
                    p = np, dd = D;
        /* each tile over its share of the selected pages, then the merge */
        int64_t total = 0;
        for (int j = 0; j < n; j++) {
            int64_t rows_j = (ctx + n - 1 - j) / n, hi;
            const int32_t *list = sel;
            if (divides) {
                hi = rt_sel_rows(sel, K, prow, rows_j);
            } else {
                void *bufs[2] = {rows, sel};
                int64_t args[1] = {j};
                kt.rows(bufs, args);
                hi = rt_sel_rows(rows, nsel, 1, rows_j);
                list = rows;
            }
            CHECK(hi >= 0);
            total += hi;
            void *bufs[7] = {os + (size_t)j * G * D, ls + (size_t)j * G, q, tk[j], tv[j], (void *)list, NULL};
            int64_t args[3] = {1, 0, hi};
            kt.attn(bufs, args);
        }
        {
            void *bufs[4] = {o, lse, os, ls};
            int64_t args[2] = {G, n};
            kt.merge(bufs, args);
        }
        int ntok = rt_quest_tokens(top, nt, P, ctx, toks);
        CHECK_EQ(total, ntok);  /* the tiles' rows are exactly the selected tokens */
        double ro[G * D], rl[G];
        rt_attn_f64(q, G, D, kf, vf, toks, NULL, ntok, (double)rt_attn_scale(D), ro, rl);
        for (int h = 0; h < G; h++) {
            CHECK_NEAR(rl[h], lse[h], 1e-5 * (1 + fabs(rl[h])));
            for (int dd = 0; dd < D; dd++)
                CHECK_NEAR(ro[h * D + dd], o[h * D + dd], 1e-5);
        }
    }
    for (int j = 0; j < n; j++) {
        free(tk[j]);
        free(tv[j]);
        free(meta[j]);
    }
    free(tk), free(tv), free(meta), free(kf), free(vf), free(kh), free(mnpu), free(q), free(score), free(sc);
    free(os), free(ls), free(sel), free(rows), free(kmin), free(kmax), free(rscore), free(top), free(toks);
    be_jit_free(kt.jit);
}

int main(void) {
    run_plan(1, 16, 64, 40, 120);    /* one tile */
    run_plan(2, 8, 32, 44, 120);     /* plan-quest's shape: 2 tiles divide pages of 8 */
    run_plan(4, 16, 64, 1, 150);     /* a one-token prompt: the context starts below the budget */
    run_plan(3, 16, 256, 200, 300);  /* plan-tiny's and Llama-3-8B's: 3 tiles, pages as rows */
    run_plan(12, 16, 64, 30, 140);   /* more tiles than a page has tokens for some */
    run_plan(5, 8, 8, 17, 60);       /* a budget of one page: the newest alone */
    return test_done();
}

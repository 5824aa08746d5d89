/* test_attn_ref.c: the reference attention numerics (runtime/attn_ref.c), linked against
 * h2c_runtime alone. Tiled-and-merged attention must equal the fp64 oracle over the same token
 * set for hundreds of seeded random shapes (GQA g = 1, 2, 4, 8; empty, single-token and
 * all-masked tiles; every merge order); the static and Quest token sets must equal brute-force
 * oracles written here; the merge must not care about order; -inf states must never make a NaN;
 * and the static-mass profile metric must match numbers worked out by hand and an oracle.
 *
 * Error measures (fp32 against the fp64 oracle): O relative to the largest |v| over the
 * attended rows (O is a convex combination of them, so that is its scale), LSE relative to
 * max(1, |LSE|). Both must stay below TOL = 1e-6. */
#include "runtime.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"

#define TOL 1e-6

/* ---------------------------------------------------------------- seeded randomness */

static uint64_t rng = 0x1234abcd5678ef01u;

static uint64_t next_u64(void) {   /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int irand(int n) { return n <= 1 ? 0 : (int)(next_u64() % (uint64_t)n); }
static double unif(void) { return (double)(next_u64() >> 11) * 0x1p-53; }
static float frand(float a) { return (float)((2.0 * unif() - 1.0) * a); }

static void fill(float *x, size_t n, float a) {
    for (size_t i = 0; i < n; i++)
        x[i] = frand(a);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---------------------------------------------------------------- comparing with the oracle */

static double worst_o, worst_lse;       /* plain relative errors over the random cases */
static double worst_o_k, worst_lse_k;   /* the same divided by kappa: what is checked */
static double largest_kappa;

/* Checks an fp32 state of g query heads against the fp64 oracle over the same entries.
 * O's error is taken relative to the largest |v| over the attended rows (O is a convex
 * combination of them), LSE's relative to max(1, |LSE|). Both must be below TOL * kappa with
 * kappa = max(1, S), S = scale * max_j sum_i |q_i k_ji|: the magnitude at which the fp32 dot
 * products round. A score computed in fp32 is off by about S * 2^-24 whatever the algorithm,
 * and every weight exp(s - m) inherits that; for unit-scale scores kappa is 1 and this is a
 * plain 1e-6 relative bound. */
static void check_state(const char *what, int trial, int g, int d, const float *o, const float *lse,
                        const double *oo, const double *olse, const float *q, const float *k, const float *v,
                        const int *tokens, const unsigned char *masked, int n, float scale) {
    float vmax = 0.0f;
    for (int j = 0; j < n; j++) {
        if (masked && masked[j])
            continue;
        const float *row = v + (size_t)(tokens ? tokens[j] : j) * (size_t)d;
        for (int i = 0; i < d; i++)
            vmax = fabsf(row[i]) > vmax ? fabsf(row[i]) : vmax;
    }
    for (int h = 0; h < g; h++) {
        bool ok = true;
        double eo = 0.0, el = 0.0, kappa = 1.0;
        if (olse[h] == -INFINITY) {
            ok = lse[h] == -INFINITY;
            for (int i = 0; i < d; i++)
                ok = ok && o[(size_t)h * (size_t)d + (size_t)i] == 0.0f;
        } else {
            for (int j = 0; j < n; j++) {
                if (masked && masked[j])
                    continue;
                const float *row = k + (size_t)(tokens ? tokens[j] : j) * (size_t)d;
                double s = 0.0;
                for (int i = 0; i < d; i++)
                    s += fabs((double)q[h * d + i] * row[i]);
                kappa = fmax(kappa, s * scale);
            }
            for (int i = 0; i < d; i++) {
                double e = fabs((double)o[(size_t)h * (size_t)d + (size_t)i] - oo[(size_t)h * (size_t)d + (size_t)i]);
                eo = e > eo ? e : eo;
            }
            eo /= vmax > 0 ? vmax : 1.0;
            el = fabs((double)lse[h] - olse[h]) / fmax(1.0, fabs(olse[h]));
            ok = eo <= TOL * kappa && el <= TOL * kappa;   /* false for a NaN */
            worst_o = fmax(worst_o, eo);
            worst_lse = fmax(worst_lse, el);
            worst_o_k = fmax(worst_o_k, eo / kappa);
            largest_kappa = fmax(largest_kappa, kappa);
            worst_lse_k = fmax(worst_lse_k, el / kappa);
        }
        test_checks++;
        if (!ok) {
            test_fail(__FILE__, __LINE__, what);
            fprintf(stderr, "    trial %d head %d (g %d, d %d, %d entries, kappa %.3g): O error %.3g, LSE %.9g vs %.9g\n",
                    trial, h, g, d, n, kappa, eo, (double)lse[h], olse[h]);
            return;
        }
    }
}

/* ---------------------------------------------------------------- worked by hand */

/* d = 1, scale 1, q = 1: scores 0 and ln 3, so p = (1/4, 3/4); v = (4, 8) gives
 * O = 1 + 6 = 7 and LSE = ln(1 + 3) = ln 4. Masking the second token leaves O = 4, LSE = 0. */
static void test_by_hand(void) {
    float q = 1.0f, k[2] = {0.0f, logf(3.0f)}, v[2] = {4.0f, 8.0f}, o, lse;
    rt_attn(&q, 1, 1, k, v, NULL, NULL, 2, 1.0f, &o, &lse);
    CHECK_NEAR(7.0, o, 1e-6);
    CHECK_NEAR(log(4.0), lse, 1e-6);
    double oo, ol;
    rt_attn_f64(&q, 1, 1, k, v, NULL, NULL, 2, 1.0, &oo, &ol);
    CHECK_NEAR(7.0, oo, 1e-6);           /* k holds ln 3 rounded to float */
    CHECK_NEAR(log(4.0), ol, 1e-6);
    unsigned char mask[2] = {0, 1};
    rt_attn(&q, 1, 1, k, v, NULL, mask, 2, 1.0f, &o, &lse);
    CHECK_EQ(o, 4.0f);
    CHECK_EQ(lse, 0.0f);
    /* the two tokens as two tiles, merged: states (4, 0) and (8, ln 3) -> (7, ln 4) */
    float oa = 4.0f, la = 0.0f, ob = 8.0f, lb = logf(3.0f);
    rt_merge2(&oa, &la, &ob, &lb, 1, 1);
    CHECK_NEAR(7.0, oa, 1e-6);
    CHECK_NEAR(log(4.0), la, 1e-6);
    CHECK_NEAR(1.0 / sqrt(128.0), rt_attn_scale(128), 1e-8);
}

/* ---------------------------------------------------------------- tiled == dense == oracle */

static const int DIMS[] = {1, 2, 3, 7, 16, 32, 64, 128};
static const int GROUPS[] = {1, 2, 4, 8};

/* One random case: a shape, a token set of some kind, maybe a mask, a random partition into
 * tiles; dense and tiled (all three orders) against the oracle. */
static void random_case(int trial) {
    int d = DIMS[irand(8)], g = GROUPS[trial % 4];
    static const int CTX[] = {4, 64, 600, 3000};
    int ctx = 1 + irand(CTX[irand(4)]);
    float amp = (float[]){0.5f, 1.5f, 3.0f, 5.0f}[irand(4)];   /* scores up to ~amp^2/3 in std */
    float *q = xmalloc(sizeof(float) * (size_t)(g * d)), *k = xmalloc(sizeof(float) * (size_t)ctx * (size_t)d),
          *v = xmalloc(sizeof(float) * (size_t)ctx * (size_t)d);
    fill(q, (size_t)(g * d), amp);
    fill(k, (size_t)ctx * (size_t)d, amp);
    fill(v, (size_t)ctx * (size_t)d, (float)exp2(irand(9) - 4));
    float scale = rt_attn_scale(d);

    /* the token set */
    int *tokens = xmalloc(sizeof(int) * (size_t)ctx);
    int n = 0, kind = irand(4);
    if (kind == 0) {            /* everything */
        for (int t = 0; t < ctx; t++)
            tokens[n++] = t;
    } else if (kind == 1) {     /* a random subset */
        for (int t = 0; t < ctx; t++)
            if (irand(3) == 0)
                tokens[n++] = t;
    } else if (kind == 2) {     /* static */
        int sink = irand(8), window = irand(ctx + 2);   /* in this order on every compiler */
        n = rt_static_tokens(ctx, sink, window, tokens);
    } else {                    /* Quest */
        int page = 1 + irand(32), pages = rt_pages(ctx, page);
        float *lo = xmalloc(sizeof(float) * (size_t)pages * (size_t)d),
              *hi = xmalloc(sizeof(float) * (size_t)pages * (size_t)d), *sc = xmalloc(sizeof(float) * (size_t)pages);
        int *sel = xmalloc(sizeof(int) * (size_t)pages);
        rt_quest_meta_build(k, ctx, d, page, lo, hi);
        rt_quest_scores(q, g, d, lo, hi, pages, sc);
        int nsel = rt_quest_top_pages(sc, pages, rt_quest_pages_for_budget(irand(ctx + page), page), sel);
        n = rt_quest_tokens(sel, nsel, page, ctx, tokens);
        free(lo);
        free(hi);
        free(sc);
        free(sel);
    }
    unsigned char *masked = NULL;
    if (irand(4) == 0) {
        masked = xmalloc((size_t)n + 1);
        bool all = irand(4) == 0;
        for (int j = 0; j < n; j++)
            masked[j] = all || irand(10) < 3;
    }

    double *oo = xmalloc(sizeof(double) * (size_t)(g * d)), olse[8];
    float *o = xmalloc(sizeof(float) * (size_t)(g * d)), lse[8];
    rt_attn_f64(q, g, d, k, v, tokens, masked, n, 1.0 / sqrt((double)d), oo, olse);
    rt_attn(q, g, d, k, v, tokens, masked, n, scale, o, lse);
    check_state("dense == oracle", trial, g, d, o, lse, oo, olse, q, k, v, tokens, masked, n, scale);

    /* a random partition: entries shuffled (with their mask), cut at random points into at most
     * 128 tiles (empty ones too), or one token per tile; test_long_fold has thousands */
    for (int j = n - 1; j > 0; j--) {
        int r = irand(j + 1), t = tokens[j];
        tokens[j] = tokens[r];
        tokens[r] = t;
        if (masked) {
            unsigned char mt = masked[j];
            masked[j] = masked[r];
            masked[r] = mt;
        }
    }
    int ntiles = n <= 128 && irand(3) == 0 ? n : 1 + irand(n + 4 < 128 ? n + 4 : 128);
    int *start = xmalloc(sizeof(int) * (size_t)(ntiles + 1));
    start[0] = 0;
    start[ntiles] = n;
    if (ntiles == n) {
        for (int t = 1; t < ntiles; t++)
            start[t] = t;
    } else {
        for (int t = 1; t < ntiles; t++)
            start[t] = irand(n + 1);
        for (int a = 1; a < ntiles; a++)   /* sort the cut points */
            for (int b = a; b > 1 && start[b - 1] > start[b]; b--) {
                int x = start[b];
                start[b] = start[b - 1];
                start[b - 1] = x;
            }
    }
    float *work = xmalloc(sizeof(float) * rt_tiled_work(ntiles, g, d));
    static const char *const names[] = {"tiled (left fold) == oracle", "tiled (tree) == oracle",
                                        "tiled (one pass) == oracle"};
    for (int order = 0; order < 3; order++) {
        rt_attn_tiled(q, g, d, k, v, tokens, masked, start, ntiles, scale, (RtMergeOrder)order, work, o, lse);
        check_state(names[order], trial, g, d, o, lse, oo, olse, q, k, v, tokens, masked, n, scale);
    }
    /* the implicit token list (rows 0..ctx-1) cut into contiguous tiles */
    if (kind == 0 && !masked) {
        rt_attn_tiled(q, g, d, k, v, NULL, NULL, start, ntiles, scale, RT_MERGE_TREE, work, o, lse);
        check_state("tiled over rows 0..n-1 == oracle", trial, g, d, o, lse, oo, olse, q, k, v, NULL, NULL, n, scale);
    }
    free(q);
    free(k);
    free(v);
    free(tokens);
    free(masked);
    free(oo);
    free(o);
    free(start);
    free(work);
}

/* The oracle itself against the textbook formula, softmax = exp(s) / sum exp(s) written out
 * without the max shift (scores kept small), on a few random cases. */
static void test_oracle(void) {
    for (int trial = 0; trial < 20; trial++) {
        int d = DIMS[irand(8)], g = GROUPS[irand(4)], n = 1 + irand(200);
        float *q = xmalloc(sizeof(float) * (size_t)(g * d)), *k = xmalloc(sizeof(float) * (size_t)(n * d)),
              *v = xmalloc(sizeof(float) * (size_t)(n * d));
        fill(q, (size_t)(g * d), 1.0f);
        fill(k, (size_t)(n * d), 1.0f);
        fill(v, (size_t)(n * d), 1.0f);
        double *oo = xmalloc(sizeof(double) * (size_t)(g * d)), lse[8];
        rt_attn_f64(q, g, d, k, v, NULL, NULL, n, 1.0 / sqrt(d), oo, lse);
        for (int h = 0; h < g; h++) {
            double z = 0.0, worst = 0.0;
            for (int j = 0; j < n; j++) {
                double s = 0.0;
                for (int i = 0; i < d; i++)
                    s += (double)q[h * d + i] * k[j * d + i];
                z += exp(s / sqrt(d));
            }
            for (int i = 0; i < d; i++) {
                double acc = 0.0;
                for (int j = 0; j < n; j++) {
                    double s = 0.0;
                    for (int c = 0; c < d; c++)
                        s += (double)q[h * d + c] * k[j * d + c];
                    acc += exp(s / sqrt(d)) / z * v[j * d + i];
                }
                worst = fmax(worst, fabs(acc - oo[h * d + i]));
            }
            CHECK_NEAR(0.0, worst, 1e-12);
            CHECK_NEAR(log(z), lse[h], 1e-12);
        }
        free(q);
        free(k);
        free(v);
        free(oo);
    }
}

/* ---------------------------------------------------------------- -inf and merge order */

static bool any_nan(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return true;
    return false;
}

static void test_empty(void) {
    enum { G = 4, D = 8 };
    float q[G * D], k[3 * D], v[3 * D], o[G * D], lse[G];
    fill(q, G * D, 1.0f);
    fill(k, 3 * D, 1.0f);
    fill(v, 3 * D, 1.0f);
    /* no entries; all masked */
    unsigned char all[3] = {1, 1, 1};
    for (int c = 0; c < 2; c++) {
        memset(o, 0x7f, sizeof o);   /* junk that must be overwritten */
        rt_attn(q, G, D, k, v, NULL, c ? all : NULL, c ? 3 : 0, rt_attn_scale(D), o, lse);
        bool zero = true;
        for (int i = 0; i < G * D; i++)
            zero = zero && o[i] == 0.0f;
        CHECK(zero);
        for (int h = 0; h < G; h++)
            CHECK(lse[h] == -INFINITY);
    }
    /* every tile empty or all masked, in every order; zero tiles */
    int start[5] = {0, 0, 3, 3, 3};
    int tokens[3] = {0, 1, 2};
    float work[4 * G * (D + 1)];
    for (int order = 0; order < 3; order++) {
        for (int nt = 0; nt <= 4; nt++) {
            memset(o, 0x7f, sizeof o);
            rt_attn_tiled(q, G, D, k, v, tokens, all, start, nt, rt_attn_scale(D), (RtMergeOrder)order, work, o, lse);
            CHECK(!any_nan(o, G * D) && !any_nan(lse, G));
            bool zero = true;
            for (int i = 0; i < G * D; i++)
                zero = zero && o[i] == 0.0f;
            CHECK(zero);
            CHECK(lse[0] == -INFINITY && lse[G - 1] == -INFINITY);
        }
    }
    /* merge2: -inf with -inf gives zeros even over junk; with a finite state, that state exactly */
    float oa[D], ob[D], la, lb, keep[D];
    fill(ob, D, 1.0f);
    for (int i = 0; i < D; i++)
        oa[i] = NAN;
    la = lb = -INFINITY;
    rt_merge2(oa, &la, ob, &lb, 1, D);
    CHECK(oa[0] == 0.0f && oa[D - 1] == 0.0f && la == -INFINITY);
    lb = 0.75f;
    rt_merge2(oa, &la, ob, &lb, 1, D);
    CHECK(memcmp(oa, ob, sizeof oa) == 0 && la == 0.75f);
    memcpy(keep, oa, sizeof keep);
    for (int i = 0; i < D; i++)
        ob[i] = NAN;    /* never read behind an LSE of -inf */
    lb = -INFINITY;
    rt_merge2(oa, &la, ob, &lb, 1, D);
    CHECK(memcmp(oa, keep, sizeof oa) == 0 && la == 0.75f);
    /* merge_n: junk O behind -inf states, none finite, and none at all */
    float parts[3 * D], lparts[3] = {-INFINITY, 2.0f, -INFINITY}, out[D], lout;
    for (int i = 0; i < 3 * D; i++)
        parts[i] = i / D == 1 ? 0.5f : NAN;
    rt_merge_n(3, parts, lparts, 1, D, out, &lout);
    CHECK(out[0] == 0.5f && out[D - 1] == 0.5f && lout == 2.0f);
    lparts[1] = -INFINITY;
    rt_merge_n(3, parts, lparts, 1, D, out, &lout);
    CHECK(!any_nan(out, D) && out[0] == 0.0f && lout == -INFINITY);
    rt_merge_n(0, parts, lparts, 1, D, out, &lout);
    CHECK(!any_nan(out, D) && lout == -INFINITY);
    /* extreme LSE gaps: the small state's weight underflows to 0, no NaN */
    float oc[1] = {1.0f}, lc = 80.0f, od[1] = {-1.0f}, ld = -80.0f;
    rt_merge2(oc, &lc, od, &ld, 1, 1);
    CHECK(oc[0] == 1.0f && lc == 80.0f);
}

/* Random partial states merged in random orders: a left fold over a random permutation, a
 * pairwise tree over it, and the one-pass merge agree up to rounding. Each merge rounds the
 * LSE it passes on to fp32 (half an ulp, <= 2^-24 |LSE|) and the weights exp(LSE_i - LSE)
 * inherit that as a relative error, so n states merged one after the other may differ by up to
 * about n * 2^-23 * max(1, L), L the largest |LSE| in or out (|O| <= 1 here): that is the
 * tolerance, a worst case; the typical error is near sqrt(n) * 2^-24 * L. */
static void test_merge_order(void) {
    double worst = 0.0;
    for (int trial = 0; trial < 400; trial++) {
        int g = GROUPS[irand(4)], d = DIMS[irand(8)], n = 1 + irand(40);
        float range = trial % 2 ? 8.0f : 30.0f;
        size_t so = (size_t)(g * d);
        float *os = xmalloc(sizeof(float) * so * (size_t)n), *ls = xmalloc(sizeof(float) * (size_t)(n * g));
        fill(os, so * (size_t)n, 1.0f);
        double big = 0.0;
        for (int i = 0; i < n * g; i++) {
            ls[i] = irand(5) == 0 ? -INFINITY : frand(range);
            if (ls[i] == -INFINITY)   /* as rt_attn makes an empty state */
                memset(os + (size_t)(i / g) * so + (size_t)(i % g) * (size_t)d, 0, sizeof(float) * (size_t)d);
            else
                big = fmax(big, fabs(ls[i]));
        }
        float *ref = xmalloc(sizeof(float) * so), lref[8], *o = xmalloc(sizeof(float) * so), l[8];
        rt_merge_n(n, os, ls, g, d, ref, lref);
        for (int h = 0; h < g; h++)
            big = lref[h] == -INFINITY ? big : fmax(big, fabs(lref[h]));
        double tol = n * 0x1p-23 * fmax(1.0, big);
        /* the fold over a random permutation */
        int *perm = xmalloc(sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int r = irand(i + 1), t = perm[i];
            perm[i] = perm[r];
            perm[r] = t;
        }
        memcpy(o, os + (size_t)perm[0] * so, sizeof(float) * so);
        memcpy(l, ls + (size_t)perm[0] * (size_t)g, sizeof(float) * (size_t)g);
        for (int i = 1; i < n; i++)
            rt_merge2(o, l, os + (size_t)perm[i] * so, ls + (size_t)perm[i] * (size_t)g, g, d);
        /* and a tree over the same permutation, pairs of neighbours first */
        float *tos = xmalloc(sizeof(float) * so * (size_t)n), *tls = xmalloc(sizeof(float) * (size_t)(n * g));
        for (int i = 0; i < n; i++) {
            memcpy(tos + (size_t)i * so, os + (size_t)perm[i] * so, sizeof(float) * so);
            memcpy(tls + (size_t)i * (size_t)g, ls + (size_t)perm[i] * (size_t)g, sizeof(float) * (size_t)g);
        }
        for (int step = 1; step < n; step *= 2)
            for (int i = 0; i + step < n; i += 2 * step)
                rt_merge2(tos + (size_t)i * so, tls + (size_t)i * (size_t)g, tos + (size_t)(i + step) * so,
                          tls + (size_t)(i + step) * (size_t)g, g, d);
        bool ok = true;
        for (int h = 0; h < g; h++) {
            bool empty = lref[h] == -INFINITY;
            ok = ok && (empty ? l[h] == -INFINITY && tls[h] == -INFINITY
                              : fabs(l[h] - lref[h]) <= tol && fabs(tls[h] - lref[h]) <= tol);
            for (int i = 0; i < d; i++) {
                size_t x = (size_t)(h * d + i);
                double e = fmax(fabs(o[x] - ref[x]), fabs(tos[x] - ref[x]));   /* |O| <= 1 */
                worst = fmax(worst, e / tol);
                ok = ok && e <= tol && (!empty || (o[x] == 0 && tos[x] == 0 && ref[x] == 0));
            }
        }
        test_checks++;
        if (!ok) {
            test_fail(__FILE__, __LINE__, "merge order independence");
            fprintf(stderr, "    trial %d: g %d d %d n %d\n", trial, g, d, n);
        }
        free(os);
        free(ls);
        free(ref);
        free(o);
        free(perm);
        free(tos);
        free(tls);
    }
    fprintf(stderr, "merge orders: largest O difference %.3g of the worst-case bound\n", worst);
}

/* Thousands of one-token tiles. The tree and the one-pass merge stay within TOL * kappa; a
 * left fold rounds LSE to fp32 at each of its N - 1 merges, so its LSE may drift by up to
 * N * ulp(LSE) / 2 and its O's weights with it: checked against that bound, which is the
 * documented price of a long fold in fp32. */
static void test_long_fold(void) {
    enum { N = 3000, D = 16, G = 2 };
    float *q = xmalloc(sizeof(float) * G * D), *k = xmalloc(sizeof(float) * N * D), *v = xmalloc(sizeof(float) * N * D);
    fill(q, G * D, 1.5f);
    fill(k, N * D, 1.5f);
    fill(v, N * D, 1.0f);
    int *start = xmalloc(sizeof(int) * (N + 1));
    for (int t = 0; t <= N; t++)
        start[t] = t;
    float *work = xmalloc(sizeof(float) * rt_tiled_work(N, G, D)), o[G * D], lse[G];
    double oo[G * D], olse[G];
    float scale = rt_attn_scale(D);
    rt_attn_f64(q, G, D, k, v, NULL, NULL, N, 1.0 / sqrt(D), oo, olse);
    rt_attn_tiled(q, G, D, k, v, NULL, NULL, start, N, scale, RT_MERGE_TREE, work, o, lse);
    check_state("3000 one-token tiles, tree", 0, G, D, o, lse, oo, olse, q, k, v, NULL, NULL, N, scale);
    fprintf(stderr, "tree of %d one-token tiles: LSE error %.3g\n", N, fabs(lse[0] - olse[0]));
    rt_attn_tiled(q, G, D, k, v, NULL, NULL, start, N, scale, RT_MERGE_ONEPASS, work, o, lse);
    check_state("3000 one-token tiles, one pass", 0, G, D, o, lse, oo, olse, q, k, v, NULL, NULL, N, scale);
    fprintf(stderr, "one pass over %d one-token tiles: LSE error %.3g\n", N, fabs(lse[0] - olse[0]));
    rt_attn_tiled(q, G, D, k, v, NULL, NULL, start, N, scale, RT_MERGE_FOLD, work, o, lse);
    for (int h = 0; h < G; h++) {
        double bound = N * ldexp(1.0, ilogb(olse[h]) - 24), eo = 0.0;   /* N * ulp(LSE) / 2 */
        for (int i = 0; i < D; i++)
            eo = fmax(eo, fabs(o[h * D + i] - oo[h * D + i]));
        CHECK(fabs(lse[h] - olse[h]) <= bound);
        CHECK(eo <= 2 * bound);   /* |v| <= 1: O moves by at most the weights' relative error */
        fprintf(stderr, "left fold of %d one-token tiles: LSE %.4g, error %.3g (bound %.3g), O error %.3g\n", N,
                olse[h], fabs(lse[h] - olse[h]), bound, eo);
    }
    free(q);
    free(k);
    free(v);
    free(start);
    free(work);
}

/* ---------------------------------------------------------------- token selection */

static void test_static(void) {
    int out[128], bad = 0;
    for (int ctx = 0; ctx <= 40; ctx++)
        for (int sink = 0; sink <= 6; sink++)
            for (int window = 0; window <= 45; window++) {
                int n = rt_static_tokens(ctx, sink, window, out), want = 0;
                for (int t = 0; t < ctx; t++) {
                    bool in = t < sink || ctx - t <= window;   /* among the first sink or the last window */
                    if (in && (want >= n || out[want] != t))
                        bad++;
                    want += in;
                }
                bad += n != want;
                bad += n != (ctx < sink + window ? ctx : sink + window);
            }
    CHECK_EQ(bad, 0);
}

/* The pages an oracle keeps: page p is in iff fewer than kk pages beat it (a higher score, or an
 * equal one at a lower index; NaN loses to every number). */
static bool oracle_keeps(const float *score, int pages, int kk, int p) {
    int better = 0;
    for (int r = 0; r < pages; r++) {
        bool rn = isnan(score[r]), pn = isnan(score[p]);
        if (r != p && ((!rn && pn) || (rn == pn && !rn && score[r] > score[p]) ||
                       (rn == pn && (rn || score[r] == score[p]) && r < p)))
            better++;
    }
    return better < kk;
}

static void test_quest(void) {
    int bad_meta = 0, bad_append = 0, bad_score = 0, bad_sel = 0, bad_tok = 0;
    double worst_score = 0.0;
    for (int trial = 0; trial < 300; trial++) {
        int d = DIMS[irand(6)], g = GROUPS[irand(4)], page = 1 + irand(20), ctx = irand(400);
        int pages = rt_pages(ctx, page);
        bool ints = trial % 2 == 0;   /* small integers: exact sums, many ties */
        float *k = xmalloc(sizeof(float) * (size_t)(ctx * d) + 4), *q = xmalloc(sizeof(float) * (size_t)(g * d));
        for (int i = 0; i < ctx * d; i++)
            k[i] = ints ? (float)(irand(5) - 2) : frand(2.0f);
        for (int i = 0; i < g * d; i++)
            q[i] = ints ? (float)(irand(3) - 1) : frand(2.0f);
        size_t pd = (size_t)pages * (size_t)d + 1;
        float *lo = xmalloc(sizeof(float) * pd), *hi = xmalloc(sizeof(float) * pd),
              *lo2 = xmalloc(sizeof(float) * pd), *hi2 = xmalloc(sizeof(float) * pd),
              *sc = xmalloc(sizeof(float) * (size_t)(pages + 1));
        rt_quest_meta_build(k, ctx, d, page, lo, hi);
        /* min and max by brute force */
        for (int p = 0; p < pages; p++)
            for (int i = 0; i < d; i++) {
                float mn = INFINITY, mx = -INFINITY;
                for (int t = p * page; t < ctx && t < (p + 1) * page; t++) {
                    mn = fminf(mn, k[t * d + i]);
                    mx = fmaxf(mx, k[t * d + i]);
                }
                bad_meta += lo[p * d + i] != mn || hi[p * d + i] != mx;
            }
        /* appending token by token gives the same pages at every step */
        for (int t = 0; t < ctx; t++) {
            rt_quest_meta_append(k + (size_t)t * (size_t)d, t, d, page, lo2, hi2);
            if (t % 37 == 36 || t == ctx - 1) {
                float *l3 = xmalloc(sizeof(float) * pd), *h3 = xmalloc(sizeof(float) * pd);
                rt_quest_meta_build(k, t + 1, d, page, l3, h3);
                size_t used = (size_t)rt_pages(t + 1, page) * (size_t)d;
                bad_append += memcmp(l3, lo2, sizeof(float) * used) != 0 || memcmp(h3, hi2, sizeof(float) * used) != 0;
                free(l3);
                free(h3);
            }
        }
        /* scores against the formula in double */
        rt_quest_scores(q, g, d, lo, hi, pages, sc);
        for (int p = 0; p < pages; p++) {
            double s = 0.0, mag = 0.0;
            for (int h = 0; h < g; h++)
                for (int i = 0; i < d; i++) {
                    double a = (double)q[h * d + i] * hi[p * d + i], b = (double)q[h * d + i] * lo[p * d + i];
                    s += fmax(a, b);
                    mag += fabs(fmax(a, b));
                }
            double e = fabs(sc[p] - s) / fmax(1.0, mag);
            worst_score = fmax(worst_score, e);
            bad_score += ints ? sc[p] != s : e > 1e-6;
        }
        if (trial % 10 == 0 && pages > 2)
            sc[irand(pages)] = NAN;   /* a NaN page never beats a number */
        /* top pages against the ranking oracle, for every budget up to all pages and past */
        int *sel = xmalloc(sizeof(int) * (size_t)(pages + 1)), *tok = xmalloc(sizeof(int) * (size_t)(ctx + 1));
        for (int budget = 0; budget <= (pages + 2) * page; budget += 1 + irand(page + 3)) {
            int kk = rt_quest_pages_for_budget(budget, page);
            bad_sel += kk != budget / page;
            int nsel = rt_quest_top_pages(sc, pages, kk, sel);
            bad_sel += nsel != (kk < pages ? kk : pages);
            int j = 0;
            for (int p = 0; p < pages; p++) {
                bool in = oracle_keeps(sc, pages, kk, p);
                if (in && (j >= nsel || sel[j] != p))
                    bad_sel++;
                j += in;
            }
            bad_sel += j != nsel;
            /* the tokens: t is in iff its page is */
            int n = rt_quest_tokens(sel, nsel, page, ctx, tok), w = 0;
            for (int t = 0; t < ctx; t++) {
                bool in = oracle_keeps(sc, pages, kk, t / page);
                if (in && (w >= n || tok[w] != t))
                    bad_tok++;
                w += in;
            }
            bad_tok += w != n;
        }
        free(k);
        free(q);
        free(lo);
        free(hi);
        free(lo2);
        free(hi2);
        free(sc);
        free(sel);
        free(tok);
    }
    CHECK_EQ(bad_meta, 0);
    CHECK_EQ(bad_append, 0);
    CHECK_EQ(bad_score, 0);
    CHECK_EQ(bad_sel, 0);
    CHECK_EQ(bad_tok, 0);
    fprintf(stderr, "quest: largest page-score error %.3g (relative to sum |terms|)\n", worst_score);

    /* by hand: 5 tokens, pages of 2 (the last one partial), d = 1, q = -1: scores are -min k,
     * k = (1, 3 | -2, 0 | -5) -> pages (1,3), (-2,0), (-5,-5) score -1, 2, 5; a budget of 4
     * tokens buys 2 pages: 2 and 1, tokens 2, 3, 4 (3 tokens: the partial page costs a page) */
    float k[5] = {1, 3, -2, 0, -5}, q = -1, lo[3], hi[3], sc[3];
    int sel[4], tok[5];
    rt_quest_meta_build(k, 5, 1, 2, lo, hi);
    rt_quest_scores(&q, 1, 1, lo, hi, 3, sc);
    CHECK(sc[0] == -1 && sc[1] == 2 && sc[2] == 5);
    CHECK_EQ(rt_quest_pages_for_budget(4, 2), 2);
    CHECK_EQ(rt_quest_pages_for_budget(1, 2), 0);
    int nsel = rt_quest_top_pages(sc, 3, 2, sel);
    CHECK(nsel == 2 && sel[0] == 1 && sel[1] == 2);
    int n = rt_quest_tokens(sel, nsel, 2, 5, tok);
    CHECK(n == 3 && tok[0] == 2 && tok[1] == 3 && tok[2] == 4);
    /* ties go to the lower page */
    float tie[4] = {1, 2, 2, 2};
    nsel = rt_quest_top_pages(tie, 4, 2, sel);
    CHECK(nsel == 2 && sel[0] == 1 && sel[1] == 2);
}

/* ---------------------------------------------------------------- the profile metric */

/* The kept mass by the definition: for every query position t, the softmax over keys 0..t and
 * the tokens among the first `sink` or the last `window` of those t + 1. */
static double mass_oracle(const float *q, int g, int nq, const float *k, int ctx, int d, int sink, int window) {
    double total = 0.0;
    double *p = xmalloc(sizeof(double) * (size_t)ctx);
    for (int h = 0; h < g; h++)
        for (int i = 0; i < nq; i++) {
            int t = ctx - nq + i;
            double z = 0.0, kept = 0.0, mx = -INFINITY;
            for (int j = 0; j <= t; j++) {
                double s = 0.0;
                for (int c = 0; c < d; c++)
                    s += (double)q[((size_t)h * (size_t)nq + (size_t)i) * (size_t)d + (size_t)c] * k[j * d + c];
                p[j] = s / sqrt(d);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j <= t; j++)
                z += p[j] = exp(p[j] - mx);
            for (int j = 0; j <= t; j++)
                if (j < sink || t - j < window)
                    kept += p[j] / z;
            total += kept;
        }
    free(p);
    return total / (g * nq);
}

static void test_static_mass(void) {
    enum { CTX = 10, D = 4 };
    float q0[2 * CTX * D] = {0}, k[CTX * D];
    fill(k, CTX * D, 1.0f);
    double sc = 1.0 / sqrt(D);
    /* q = 0: every key equally likely, so a query at t keeps min(t + 1, sink + window) / (t + 1).
     * sink 1, window 2, positions 0..9: 1, 1, 1, 3/4, 3/5, 3/6, 3/7, 3/8, 3/9, 3/10 */
    double want = (3 + 3.0 / 4 + 3.0 / 5 + 3.0 / 6 + 3.0 / 7 + 3.0 / 8 + 3.0 / 9 + 3.0 / 10) / 10;   /* 0.62869 */
    CHECK_NEAR(want, rt_static_mass(q0, 1, CTX, k, CTX, D, 1, 2, sc), 1e-12);
    /* the last two positions only, and two query heads: the same mean */
    CHECK_NEAR((3.0 / 9 + 3.0 / 10) / 2, rt_static_mass(q0, 2, 2, k, CTX, D, 1, 2, sc), 1e-12);
    /* a window covering everything keeps everything; nothing kept keeps nothing */
    CHECK_NEAR(1.0, rt_static_mass(q0, 1, CTX, k, CTX, D, 0, CTX, sc), 1e-12);
    CHECK_NEAR(0.0, rt_static_mass(q0, 1, CTX, k, CTX, D, 0, 0, sc), 1e-12);
    CHECK_EQ(rt_static_mass(q0, 1, 0, k, CTX, D, 1, 2, sc), 1.0);
    CHECK(isnan(rt_static_mass(q0, 1, CTX + 1, k, CTX, D, 1, 2, sc)));
    /* a query that matches key 0 (the sink) far better than the rest keeps almost all its mass */
    float kp[CTX * D] = {0}, qp[D] = {0};
    kp[0] = 20.0f;
    qp[0] = 20.0f;
    CHECK(rt_static_mass(qp, 1, 1, kp, CTX, D, 1, 0, sc) > 0.999999);
    /* GQA: the mean over the group is the mean of the heads */
    float qg[2 * 3 * D];
    fill(qg, 2 * 3 * D, 2.0f);
    double h0 = rt_static_mass(qg, 1, 3, k, CTX, D, 2, 3, sc), h1 = rt_static_mass(qg + 3 * D, 1, 3, k, CTX, D, 2, 3, sc);
    CHECK_NEAR((h0 + h1) / 2, rt_static_mass(qg, 2, 3, k, CTX, D, 2, 3, sc), 1e-12);
    /* random cases against the oracle */
    double worst = 0.0;
    for (int trial = 0; trial < 100; trial++) {
        int d = DIMS[irand(7)], g = GROUPS[irand(4)], ctx = 1 + irand(300), nq = 1 + irand(ctx);
        float *q = xmalloc(sizeof(float) * (size_t)(g * nq * d)), *kk = xmalloc(sizeof(float) * (size_t)(ctx * d));
        fill(q, (size_t)(g * nq * d), 3.0f);
        fill(kk, (size_t)(ctx * d), 3.0f);
        int sink = irand(6), window = irand(ctx + 1);
        double got = rt_static_mass(q, g, nq, kk, ctx, d, sink, window, 1.0 / sqrt(d));
        worst = fmax(worst, fabs(got - mass_oracle(q, g, nq, kk, ctx, d, sink, window)));
        free(q);
        free(kk);
    }
    CHECK_NEAR(0.0, worst, 1e-12);
}

int main(void) {
    test_by_hand();
    test_oracle();
    for (int trial = 0; trial < 600; trial++)
        random_case(trial);
    fprintf(stderr, "600 random cases: largest relative error of O %.3g, of LSE %.3g; divided by kappa %.3g, %.3g "
            "(kappa up to %.3g)\n", worst_o, worst_lse, worst_o_k, worst_lse_k, largest_kappa);
    test_long_fold();
    test_empty();
    test_merge_order();
    test_static();
    test_quest();
    test_static_mass();
    return test_done();
}

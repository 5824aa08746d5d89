/* attn_ref.c: reference attention numerics: dense, tiled with the exact log-sum-exp merge,
 * the static (sink + window) and Quest token sets, and the static-mass profile metric. The
 * simplest correct algorithm each time; fp32 with an fp64 oracle. Conventions in runtime.h. */
#include "runtime.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

float rt_attn_scale(int d) { return 1.0f / sqrtf((float)d); }

static int token_at(const int *tokens, int j) { return tokens ? tokens[j] : j; }

static float dot_f32(const float *a, const float *b, int d) {
    float s = 0.0f;
    for (int i = 0; i < d; i++)
        s += a[i] * b[i];
    return s;
}

static double dot_f64(const float *a, const float *b, int d) {
    double s = 0.0;
    for (int i = 0; i < d; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

void rt_attn(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
             const unsigned char *masked, int n, float scale, float *o, float *lse) {
    for (int h = 0; h < g; h++) {
        const float *qh = q + (size_t)h * (size_t)d;
        float *oh = o + (size_t)h * (size_t)d;
        memset(oh, 0, sizeof(float) * (size_t)d);
        float m = -INFINITY;
        for (int j = 0; j < n; j++) {
            if (masked && masked[j])
                continue;
            float s = scale * dot_f32(qh, k + (size_t)token_at(tokens, j) * (size_t)d, d);
            if (s > m)
                m = s;
        }
        if (m == -INFINITY) {   /* nothing to attend to: exp(s - m) would be NaN */
            if (lse)
                lse[h] = -INFINITY;
            continue;
        }
        float l = 0.0f;
        for (int j = 0; j < n; j++) {
            if (masked && masked[j])
                continue;
            size_t row = (size_t)token_at(tokens, j) * (size_t)d;
            float p = expf(scale * dot_f32(qh, k + row, d) - m);
            l += p;
            for (int i = 0; i < d; i++)
                oh[i] += p * v[row + (size_t)i];
        }
        float inv = 1.0f / l;   /* l >= 1: the max term is exp(0) */
        for (int i = 0; i < d; i++)
            oh[i] *= inv;
        if (lse)
            lse[h] = m + logf(l);
    }
}

void rt_attn_f64(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                 const unsigned char *masked, int n, double scale, double *o, double *lse) {
    for (int h = 0; h < g; h++) {
        const float *qh = q + (size_t)h * (size_t)d;
        double *oh = o + (size_t)h * (size_t)d;
        for (int i = 0; i < d; i++)
            oh[i] = 0.0;
        double m = -INFINITY;
        for (int j = 0; j < n; j++) {
            if (masked && masked[j])
                continue;
            double s = scale * dot_f64(qh, k + (size_t)token_at(tokens, j) * (size_t)d, d);
            if (s > m)
                m = s;
        }
        if (m == -INFINITY) {
            if (lse)
                lse[h] = -INFINITY;
            continue;
        }
        double l = 0.0;
        for (int j = 0; j < n; j++) {
            if (masked && masked[j])
                continue;
            size_t row = (size_t)token_at(tokens, j) * (size_t)d;
            double p = exp(scale * dot_f64(qh, k + row, d) - m);
            l += p;
            for (int i = 0; i < d; i++)
                oh[i] += p * (double)v[row + (size_t)i];
        }
        for (int i = 0; i < d; i++)
            oh[i] /= l;
        if (lse)
            lse[h] = m + log(l);
    }
}

/* ---------------------------------------------------------------- merging partial states */

void rt_merge2(float *o_a, float *lse_a, const float *o_b, const float *lse_b, int g, int d) {
    for (int h = 0; h < g; h++) {
        float *oa = o_a + (size_t)h * (size_t)d;
        const float *ob = o_b + (size_t)h * (size_t)d;
        float la = lse_a[h], lb = lse_b[h];
        if (lb == -INFINITY) {          /* b adds nothing; -inf - -inf would be NaN below */
            if (la == -INFINITY)
                memset(oa, 0, sizeof(float) * (size_t)d);
            continue;
        }
        if (la == -INFINITY) {
            memcpy(oa, ob, sizeof(float) * (size_t)d);
            lse_a[h] = lb;
            continue;
        }
        float mx = la > lb ? la : lb;
        float lse = mx + log1pf(expf(-fabsf(la - lb)));   /* ln(e^(la-mx) + e^(lb-mx)), one term is 1 */
        float wa = expf(la - lse), wb = expf(lb - lse);
        for (int i = 0; i < d; i++)
            oa[i] = wa * oa[i] + wb * ob[i];
        lse_a[h] = lse;
    }
}

void rt_merge_n(int n, const float *o_parts, const float *lse_parts, int g, int d, float *o, float *lse) {
    for (int h = 0; h < g; h++) {
        float *oh = o + (size_t)h * (size_t)d;
        memset(oh, 0, sizeof(float) * (size_t)d);
        float mx = -INFINITY;
        for (int t = 0; t < n; t++)
            if (lse_parts[(size_t)t * (size_t)g + (size_t)h] > mx)
                mx = lse_parts[(size_t)t * (size_t)g + (size_t)h];
        if (mx == -INFINITY) {
            lse[h] = -INFINITY;
            continue;
        }
        float sum = 0.0f;
        for (int t = 0; t < n; t++)
            sum += expf(lse_parts[(size_t)t * (size_t)g + (size_t)h] - mx);   /* exp(-inf) = 0 */
        float total = mx + logf(sum);
        for (int t = 0; t < n; t++) {
            float lt = lse_parts[(size_t)t * (size_t)g + (size_t)h];
            if (lt == -INFINITY)
                continue;   /* its O is not read: it may be anything */
            float w = expf(lt - total);
            const float *ot = o_parts + ((size_t)t * (size_t)g + (size_t)h) * (size_t)d;
            for (int i = 0; i < d; i++)
                oh[i] += w * ot[i];
        }
        lse[h] = total;
    }
}

size_t rt_tiled_work(int ntiles, int g, int d) { return (size_t)ntiles * (size_t)g * ((size_t)d + 1); }

void rt_attn_tiled(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                   const unsigned char *masked, const int *tile_start, int ntiles, float scale,
                   RtMergeOrder order, float *work, float *o, float *lse) {
    size_t so = (size_t)g * (size_t)d;                  /* floats of O per state */
    float *os = work, *ls = work + (size_t)ntiles * so; /* O of every tile, then every LSE */
    for (int t = 0; t < ntiles; t++) {
        int s = tile_start[t];
        /* without a token list the entries are rows 0..n-1, so this tile starts at row s */
        size_t base = tokens ? 0 : (size_t)s * (size_t)d;
        rt_attn(q, g, d, k + base, v + base, tokens ? tokens + s : NULL, masked ? masked + s : NULL,
                tile_start[t + 1] - s, scale, os + (size_t)t * so, ls + (size_t)t * (size_t)g);
    }
    if (order == RT_MERGE_ONEPASS || ntiles == 0) {
        rt_merge_n(ntiles, os, ls, g, d, o, lse);
        return;
    }
    if (order == RT_MERGE_TREE) {
        for (int step = 1; step < ntiles; step *= 2)
            for (int t = 0; t + step < ntiles; t += 2 * step)
                rt_merge2(os + (size_t)t * so, ls + (size_t)t * (size_t)g, os + (size_t)(t + step) * so,
                          ls + (size_t)(t + step) * (size_t)g, g, d);
        memcpy(o, os, sizeof(float) * so);
        memcpy(lse, ls, sizeof(float) * (size_t)g);
        return;
    }
    memcpy(o, os, sizeof(float) * so);
    memcpy(lse, ls, sizeof(float) * (size_t)g);
    for (int t = 1; t < ntiles; t++)
        rt_merge2(o, lse, os + (size_t)t * so, ls + (size_t)t * (size_t)g, g, d);
}

/* ---------------------------------------------------------------- token sets */

int rt_static_tokens(int ctx, int sink, int window, int *out) {
    int n = 0;
    int first_recent = ctx - window > 0 ? ctx - window : 0;
    for (int t = 0; t < ctx; t++)
        if (t < sink || t >= first_recent)
            out[n++] = t;
    return n;
}

int rt_pages(int ctx, int page) { return ctx <= 0 ? 0 : (ctx + page - 1) / page; }

void rt_quest_meta_append(const float *k_t, int t, int d, int page, float *kmin, float *kmax) {
    float *lo = kmin + (size_t)(t / page) * (size_t)d, *hi = kmax + (size_t)(t / page) * (size_t)d;
    if (t % page == 0) {
        memcpy(lo, k_t, sizeof(float) * (size_t)d);
        memcpy(hi, k_t, sizeof(float) * (size_t)d);
        return;
    }
    for (int i = 0; i < d; i++) {
        if (k_t[i] < lo[i])
            lo[i] = k_t[i];
        if (k_t[i] > hi[i])
            hi[i] = k_t[i];
    }
}

void rt_quest_meta_build(const float *k, int ctx, int d, int page, float *kmin, float *kmax) {
    for (int t = 0; t < ctx; t++)
        rt_quest_meta_append(k + (size_t)t * (size_t)d, t, d, page, kmin, kmax);
}

void rt_quest_scores(const float *q, int g, int d, const float *kmin, const float *kmax, int pages, float *score) {
    for (int p = 0; p < pages; p++) {
        const float *lo = kmin + (size_t)p * (size_t)d, *hi = kmax + (size_t)p * (size_t)d;
        float s = 0.0f;
        for (int h = 0; h < g; h++) {
            const float *qh = q + (size_t)h * (size_t)d;
            for (int i = 0; i < d; i++) {
                float a = qh[i] * hi[i], b = qh[i] * lo[i];
                s += a > b ? a : b;
            }
        }
        score[p] = s;
    }
}

int rt_quest_pages_for_budget(int budget, int page) { return budget <= 0 ? 0 : budget / page; }

static _Thread_local const float *sort_scores;   /* qsort has no context argument */

/* Best first: higher score, then lower index; NaN after every number. */
static int by_score(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    float sa = sort_scores[a], sb = sort_scores[b];
    bool na = isnan(sa), nb = isnan(sb);
    if (na != nb)
        return na ? 1 : -1;
    if (!na && sa != sb)
        return sa > sb ? -1 : 1;
    return (a > b) - (a < b);
}

static int by_index(const void *pa, const void *pb) {
    int a = *(const int *)pa, b = *(const int *)pb;
    return (a > b) - (a < b);
}

int rt_quest_top_pages(const float *score, int pages, int kk, int *out) {
    for (int p = 0; p < pages; p++)
        out[p] = p;
    sort_scores = score;
    qsort(out, (size_t)pages, sizeof(int), by_score);
    sort_scores = NULL;
    int n = kk < pages ? (kk > 0 ? kk : 0) : pages;
    qsort(out, (size_t)n, sizeof(int), by_index);
    return n;
}

int rt_quest_tokens(const int *sel, int nsel, int page, int ctx, int *out) {
    int n = 0;
    for (int i = 0; i < nsel; i++)
        for (int t = sel[i] * page; t < (sel[i] + 1) * page && t < ctx; t++)
            out[n++] = t;
    return n;
}

/* ---------------------------------------------------------------- the profile metric */

double rt_static_mass(const float *q, int g, int nq, const float *k, int ctx, int d, int sink, int window,
                      double scale) {
    if (g <= 0 || nq <= 0)
        return 1.0;
    if (nq > ctx)
        return NAN;   /* a query before the first token */
    double total = 0.0;
    for (int h = 0; h < g; h++)
        for (int i = 0; i < nq; i++) {
            const float *qi = q + ((size_t)h * (size_t)nq + (size_t)i) * (size_t)d;
            int pos = ctx - nq + i;   /* sees keys 0..pos */
            double m = -INFINITY;
            for (int j = 0; j <= pos; j++) {
                double s = scale * dot_f64(qi, k + (size_t)j * (size_t)d, d);
                if (s > m)
                    m = s;
            }
            int first_recent = pos + 1 - window;
            double all = 0.0, kept = 0.0;
            for (int j = 0; j <= pos; j++) {
                double p = exp(scale * dot_f64(qi, k + (size_t)j * (size_t)d, d) - m);
                all += p;
                if (j < sink || j >= first_recent)
                    kept += p;
            }
            total += kept / all;
        }
    return total / ((double)g * (double)nq);
}

/* runtime.h: h2c's reference runtime, plain-C numerics that compiled schedules and the emulator
 * are checked against. It needs libc and libm only: nothing of the compiler (no IR, no AST), so
 * a generated program can link it alone (CMake target h2c_runtime). */
#ifndef H2C_RUNTIME_H
#define H2C_RUNTIME_H

#include <stddef.h>

/* ---------------------------------------------------------------- attn_ref.c */

/* Reference attention for decoding: one query position, the g query heads that share one KV
 * head (GQA; g = 1 is plain multi-head attention), over a set of tokens of that KV head's cache.
 * Conventions (docs/runtime.md):
 * - the cache of a KV head is K and V, each [tokens x d] floats, row t = token t;
 * - q is [g x d]: query head h of the group is row h; o is [g x d] the same way, lse is [g];
 * - score s_j = scale * (q . k_j); scale is rt_attn_scale(d) = 1/sqrt(d) unless a model says
 *   otherwise;
 * - a partial state per query head: O = sum_j exp(s_j - m) v_j / l, normalised, and
 *   LSE = m + ln l, with m = max_j s_j and l = sum_j exp(s_j - m): natural log, fp32 (fp64 in
 *   the oracle). An empty or all-masked set gives O = 0, LSE = -inf, never NaN;
 * - a token set is a list of row indices (tokens == NULL: rows 0..n-1), with an optional
 *   `masked` flag per entry (nonzero: left out, as if its score were -inf). Inputs are finite. */

/* 1/sqrt(d) in float. */
float rt_attn_scale(int d);

/* Attention of the g query heads over tokens[0..n): o [g x d], lse [g] (lse may be NULL).
 * fp32: per head one pass for the max score, one for exp-sum and the weighted sum of V. */
void rt_attn(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
             const unsigned char *masked, int n, float scale, float *o, float *lse);
/* The oracle: the same from the same float inputs, computed in double. */
void rt_attn_f64(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                 const unsigned char *masked, int n, double scale, double *o, double *lse);

/* a := a (+) b, the exact log-sum-exp merge of two partial states of g query heads:
 * LSE = M + ln(exp(LSE_a - M) + exp(LSE_b - M)), M = max; O = w_a O_a + w_b O_b with
 * w_i = exp(LSE_i - LSE). A state with LSE = -inf contributes nothing (its O is not read);
 * two of them give O = 0, LSE = -inf. */
void rt_merge2(float *o_a, float *lse_a, const float *o_b, const float *lse_b, int g, int d);
/* n states at once: o_parts [n x g x d], lse_parts [n x g] -> o [g x d], lse [g]; n = 0 or all
 * -inf gives O = 0, LSE = -inf. */
void rt_merge_n(int n, const float *o_parts, const float *lse_parts, int g, int d, float *o, float *lse);

typedef enum RtMergeOrder {
    RT_MERGE_FOLD,      /* ((s0 (+) s1) (+) s2) (+) ...: a left fold */
    RT_MERGE_TREE,      /* (s0 (+) s1) (+) (s2 (+) s3) ...: a pairwise tree */
    RT_MERGE_ONEPASS,   /* rt_merge_n over all tiles */
} RtMergeOrder;

/* Floats of work space rt_attn_tiled needs: ntiles * g * (d + 1). */
size_t rt_tiled_work(int ntiles, int g, int d);
/* Tiled attention: tile i is entries tile_start[i] .. tile_start[i+1] of tokens (and masked):
 * ntiles + 1 non-decreasing offsets, tiles may be empty. Each tile gives a partial state per
 * query head (rt_attn), and the states are merged in `order`. Equal to rt_attn over all the
 * entries up to rounding, for any partition and any order. */
void rt_attn_tiled(const float *q, int g, int d, const float *k, const float *v, const int *tokens,
                   const unsigned char *masked, const int *tile_start, int ntiles, float scale,
                   RtMergeOrder order, float *work, float *o, float *lse);

/* The static (sink + window) pattern for a context of ctx tokens: tokens 0..sink-1 and
 * ctx-window..ctx-1, ascending, each once (all ctx tokens when sink + window >= ctx). out holds
 * at least min(ctx, sink + window) ints; returns the count. */
int rt_static_tokens(int ctx, int sink, int window, int *out);

/* Quest pages of P >= 1 tokens: page p holds tokens p*P .. min((p+1)*P, ctx)-1; the last page
 * may be partial.
 * kmin, kmax [pages x d]: the element-wise min and max of the page's keys. */
int rt_pages(int ctx, int page);
void rt_quest_meta_build(const float *k, int ctx, int d, int page, float *kmin, float *kmax);
/* Token t (= the context length before it) was appended with key row k_t: starts page t / P
 * when t is its first token, else widens its min and max. */
void rt_quest_meta_append(const float *k_t, int t, int d, int page, float *kmin, float *kmax);
/* score[p] = sum over the g query heads h, sum_i max(q_hi * kmax_pi, q_hi * kmin_pi): an upper
 * bound of the page's best q . k for each head, summed over the group (fp32, heads outer). */
void rt_quest_scores(const float *q, int g, int d, const float *kmin, const float *kmax, int pages, float *score);
/* Pages a budget of `budget` tokens buys: budget / P (floor). A partial last page costs a whole
 * page, so the selected tokens can fall short of the budget; a budget below P buys none. */
int rt_quest_pages_for_budget(int budget, int page);
/* The min(kk, pages) pages with the highest score (ties to the lower index, NaN lowest), in
 * ascending page order in out[0..). out must hold `pages` ints (it is the sort's space). */
int rt_quest_top_pages(const float *score, int pages, int kk, int *out);
/* The tokens of the selected pages (ascending page indices), ascending; returns the count. */
int rt_quest_tokens(const int *sel, int nsel, int page, int ctx, int *out);

/* Head-wise sparsity profile: the share of softmax mass the static pattern keeps for one KV
 * head. q [g x nq x d]: nq calibration queries for each of the head's g query heads, query i at
 * position ctx - nq + i (nq <= ctx); k [ctx x d]. A query at position t sees keys 0..t (causal);
 * its kept mass is sum over j in rt_static_tokens(t + 1, sink, window) of its softmax p_j. The
 * result is the mean over the g * nq (head, query) pairs, in fp64; 1 when nq or g is 0, NaN when
 * nq > ctx. */
double rt_static_mass(const float *q, int g, int nq, const float *k, int ctx, int d, int sink, int window,
                      double scale);

#endif

/* sparse.h: head-wise sparse attention (sparse/), between the search and the passes: where each
 * (layer, KV head) gets its pattern from (a head profile, read or measured) and how its KV is
 * balanced over the PEs. One section per file. */
#ifndef H2C_SPARSE_H
#define H2C_SPARSE_H

#include "search.h"

/* ---------------------------------------------------------------- profile.c
 * Head profiles (docs/sparsity.md, "Profiles and sweeps"): one score per (layer, KV head), higher =
 * needs the full context more. Three formats are read, told apart by content and extension:
 * - DuoAttention's pattern, full_attention_heads.tsv: one row per layer, one tab-separated gate per KV
 *   head (score = gate; gates within 0.01 of [0, 1] are clipped to it, as DuoAttention's loader does);
 * - a CSV of `layer,head,score` rows, with or without that header line, every (layer, head) once;
 * - the CSV `h2c profile` writes: the same with `#` comment lines and more columns after score.
 * Whatever the format, the heads with the lowest scores become static first (sparse_assign). */

/* Reads the profile at `path` for a model of `layers` x `kv_heads` KV heads into scores[layer *
 * kv_heads + head]. Strict: a malformed file, a value that is not a finite number, a duplicate or
 * missing (layer, head), an index out of range or a shape other than the model's is an error located
 * in the file (file:line:col; a shape mismatch names both shapes), with a note at `at` (where the
 * profile is named, if it has a file). False on any error; scores is then unspecified. */
bool sparse_profile_load(const char *path, int layers, int kv_heads, double *scores, Loc at, Diag *d);

/* The path of a profile named in a .h2 file: a relative path is relative to the directory of the
 * file `at` points into (as imports are), an absolute one is used as it is, and so is any path when
 * `at` has no file. In arena a. */
const char *sparse_profile_path(Arena *a, const char *path, Loc at);

/* The pattern a (layer, KV head) gets. */
typedef enum SparsePattern {
    SPAT_DENSE,     /* the whole KV */
    SPAT_STATIC,    /* sink + window */
    SPAT_DYNAMIC,   /* Quest pages within the budget */
    SPAT_COUNT_
} SparsePattern;
extern const char *const sparse_pattern_names[SPAT_COUNT_];   /* "dense", "static", "dynamic" */

/* The patterns of a sparsity block (NULL: all dense) for layers x kv_heads heads, into out[layer *
 * kv_heads + head]: the first dense_layers layers dense; of the other heads, by mode, all static, all
 * dynamic, all dense, or (hybrid) the ceil(static_heads x eligible) heads of lowest score static and
 * the rest dynamic. Ties, and a NULL scores (a uniform profile), go by (layer, head). Returns the
 * number of static heads, or -1 if memory ran out. */
int sparse_assign(const Sparsity *sp, int layers, int kv_heads, const double *scores, SparsePattern *out);

/* One head of a measured profile (h2c profile). */
typedef struct HeadProfile {
    double score;           /* 1 - kept: what the static pattern loses; DuoAttention's gate: low = static */
    double kept;            /* the softmax mass the static pattern keeps (rt_static_mass) */
    SparsePattern plan;     /* the pattern sparse_assign gives it */
    double error;           /* the largest relative output error of that pattern vs dense; NAN: not measured */
} HeadProfile;

/* Writes a measured profile as the CSV sparse_profile_load reads: the comment lines (each written
 * after "# "), then `layer,head,score,kept,plan,max_rel_error` and one row per head, in (layer,
 * head) order, numbers in the shortest form that reads back exactly. */
void sparse_profile_write(FILE *out, const char *const *comments, int ncomments, int layers, int kv_heads,
                          const HeadProfile *heads);

/* ---------------------------------------------------------------- balance.c: sparse_balance_*
 * Load balancing of tiled attention (docs/sparsity.md §4). A *stream* is work that may be cut into
 * equal tiles (a head's attended KV, token t in tile t mod n); a *bin* is a PE. The balancer
 * chooses how many tiles each stream gets and which bin computes each tile, so that the largest bin
 * load (the makespan) is as small as it can make it: for a tile count it apportions tiles by the
 * highest-averages rule (the stream with the largest tile gets the next one), assigns them by LPT
 * (longest first, to the bin where the load ends lowest), refines by moves and swaps out of the
 * most loaded bin, and keeps round robin's assignment if that is better; over several tile counts
 * it keeps the best. A bin may take several tiles of one stream (its bank then holds each tile's
 * region and its PE computes them as one partial state, so the per-tile cost is paid once per
 * stream and bin); a bin never takes more bytes than its room. */

typedef struct SparseBalanceStream {
    double work;        /* the whole stream's time on one bin; each tile of n takes work / n */
    double tile_work;   /* what each bin holding tiles of the stream adds once (its partial state) */
    double bytes;       /* what the whole stream stores; a tile of n stores bytes / n + tile_bytes */
    double tile_bytes;  /* what each tile adds (rounding up to whole tokens, alignment) */
    int min_tiles;      /* at least this many tiles (>= 1) */
    int max_tiles;      /* at most this many (>= min_tiles) */
} SparseBalanceStream;

typedef struct SparseBalanceBin {
    double load;        /* work on it already */
    double room;        /* bytes it can still store (INFINITY: no limit) */
    int group;          /* its group (a channel, >= 0): among equal choices the bin whose group holds
                           the fewest tiles is taken, which spreads tiles over the groups */
} SparseBalanceBin;

/* A solution: stream s has ntiles[s] tiles, tile j of it on bin[first(s) + j] where first(s) is
 * the sum of ntiles of the streams before s. */
typedef struct SparseBalancePlan {
    int *ntiles;        /* [nstreams] */
    int *bin;           /* [sum of max_tiles]: room for any tiling */
    int tiles;          /* the sum of ntiles */
    double makespan;    /* the largest bin load (initial loads included) */
    double lower;       /* a bound for this tiling: max(the largest initial load, the largest tile,
                           (initial loads + works + each stream's tile_work once) / bins) */
} SparseBalancePlan;

/* Scores a candidate (lower is better) instead of its makespan: the pass prices a layer with its
 * channel and merge costs this way. */
typedef double (*SparseBalanceScore)(void *ctx, const SparseBalancePlan *p);

/* Room for a plan of these streams (h2c_raw_alloc); false if memory runs out. */
bool sparse_balance_plan_init(SparseBalancePlan *p, const SparseBalanceStream *s, int ns);
void sparse_balance_plan_free(SparseBalancePlan *p, const SparseBalanceStream *s, int ns);
void sparse_balance_plan_copy(SparseBalancePlan *dst, const SparseBalancePlan *src, int ns);
/* Tile counts for `budget` tiles in all by the highest-averages rule (ties to the lower stream
 * index), each between its min_tiles and max_tiles; the budget is clamped to what those allow. */
void sparse_balance_apportion(const SparseBalanceStream *s, int ns, int budget, int *ntiles);
/* Assigns the tiles of p->ntiles: LPT, then moves and swaps out of the most loaded bin while that
 * lowers it. Fills p->bin, makespan and lower; false if some tile fits no bin (or memory runs out). */
bool sparse_balance_assign(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                           SparseBalancePlan *p);
/* The tiles of p->ntiles dealt out in stream order, tile k of all to bin k mod nb (the baseline);
 * false if that breaks a bin's room. */
bool sparse_balance_round_robin(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                                SparseBalancePlan *p);
/* The best plan over a range of tile counts (the streams' minimum, fractions and multiples of the
 * bins, their maximum), each assigned by sparse_balance_assign and by round robin, scored by
 * `score` (NULL: the makespan; ties to fewer tiles). False if no tiling fits. */
bool sparse_balance_best(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                         SparseBalanceScore score, void *ctx, SparseBalancePlan *best);
/* A bound on the makespan of any tiling: max(the largest initial load, the largest stream cut
 * into its most tiles, (initial loads + works + each tile_work once) / bins). */
double sparse_balance_bound(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb);

#endif

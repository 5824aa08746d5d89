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

/* ---------------------------------------------------------------- balance.c: sparse_balance_* (to come) */

#endif

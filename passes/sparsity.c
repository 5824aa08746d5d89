/* sparsity.c: pass_sparsity gives every decode attention a plan's patterns, head by head, from the
 * module's sparsity block (docs/sparsity.md §2): the first `dense_layers` layers dense; in the
 * others, by the block's mode, every head dense, static (sink + window) or dynamic (Quest pages),
 * or, in hybrid mode, round(static_heads x kv_heads) heads of each layer static, those the head
 * profile scores highest (ties by head index, so by (layer, head) overall), and the rest dynamic.
 * Consecutive layers with the same patterns share their lines.
 * Requires: nothing (an attention is an attn_value reading an attn_score, directly or through a
 * softmax). Replaces: the module's attention sections (their patterns; no tiles yet, so K and V
 * keep the dataflow's tensor tiles until pass_coplace). Without a sparsity block, or under the
 * h2llm-artifact cost model (which prices dense attention by the artifact's formulas), it makes none. */
#include "passes.h"

#include <math.h>
#include <string.h>

/* The head profile: a score per (layer, KV head), higher = better kept by the static pattern.
 * TODO(sparse-tools): return sparse_profile_load(sp->profile, layers, kv_heads, scores, at, d);
 * once sparse/profile.c lands. Until then every head scores the same and ties go by head index. */
static bool load_profile(const Module *m, double *scores, Diag *d) {
    const Sparsity *sp = &m->sparsity;
    long long n = (long long)m->model.layers * m->model.kv_heads;
    for (long long i = 0; i < n; i++)
        scores[i] = 1.0;
    if (sp->profile)
        diag_warning(d, sp->profile_loc.file ? sp->profile_loc : sp->loc,
                     "the head profile '%s' is not read yet: every head scores the same, so the static heads are "
                     "the lowest-numbered of each layer", sp->profile);
    return true;
}

static bool same_pattern(const Pattern *a, const Pattern *b) {
    return a->kind == b->kind && a->sink == b->sink && a->window == b->window && a->page == b->page &&
           a->budget == b->budget;
}

bool pass_sparsity(Module *m, Diag *d) {
    m->nattns = 0;
    /* the H2-LLM artifact's model prices dense attention by its own formulas, one layer at a time:
       plans are for the h2c model */
    if (!m->has_sparsity || m->cost_model == CM_ARTIFACT)
        return true;
    const Sparsity *sp = &m->sparsity;
    int L = m->model.layers, H = m->model.kv_heads;
    if (L < 1 || H < 1)
        return true;
    size_t n = (size_t)L * (size_t)H;
    double *score = h2c_raw_alloc(sizeof(double) * n);
    Pattern *pat = h2c_raw_alloc(sizeof(Pattern) * n);
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)(H + 1));
    bool ok = score && pat && order;
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    if (ok)
        ok = load_profile(m, score, d);
    Pattern dense = {PAT_DENSE, 0, 0, 0, 0}, stat = {PAT_STATIC, sp->sink, sp->window, 0, 0},
            dyn = {PAT_DYNAMIC, 0, 0, sp->page, sp->budget};
    /* heads made static in each sparse layer of a hybrid block */
    int nstatic = (int)floor(sp->static_heads * H + 0.5);
    for (int l = 0; ok && l < L; l++) {
        Pattern *row = &pat[(size_t)l * H];
        if (l < sp->dense_layers || sp->mode == SP_DENSE) {
            for (int h = 0; h < H; h++)
                row[h] = dense;
            continue;
        }
        if (sp->mode != SP_HYBRID) {
            for (int h = 0; h < H; h++)
                row[h] = sp->mode == SP_STATIC ? stat : dyn;
            continue;
        }
        /* rank the layer's heads by score, highest first, ties to the lower head (insertion sort) */
        const double *sc = &score[(size_t)l * H];
        for (int h = 0; h < H; h++) {
            int j = h;
            while (j > 0 && sc[order[j - 1]] < sc[h]) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = h;
        }
        for (int k = 0; k < H; k++)
            row[order[k]] = k < nstatic ? stat : dyn;
    }
    const Phase *dc = &m->phases[PH_DECODE];
    for (int v = 0; ok && v < dc->nops; v++) {
        Attention found;
        if (!attn_plan_find(m, v, &found))
            continue;
        Attention *a = ir_add_attention(m);
        *a = found;
        /* classes of consecutive layers with one row of patterns, a line per distinct pattern */
        for (int lo = 0; lo < L;) {
            int hi = lo + 1;
            while (hi < L) {
                bool same = true;
                for (int h = 0; h < H && same; h++)
                    same = same_pattern(&pat[(size_t)hi * H + h], &pat[(size_t)lo * H + h]);
                if (!same)
                    break;
                hi++;
            }
            const Pattern *row = &pat[(size_t)lo * H];
            for (int h = 0; h < H; h++) {
                bool first = true;
                for (int k = 0; k < h && first; k++)
                    first = !same_pattern(&row[k], &row[h]);
                if (!first)
                    continue;
                AttnPatternLine pl;
                memset(&pl, 0, sizeof pl);
                pl.layers = (Range){lo, hi};
                pl.pat = row[h];
                pl.loc = a->loc;
                pl.heads = ARENA_ARRAY(&m->arena, int, H);
                for (int k = h; k < H; k++)
                    if (same_pattern(&row[k], &row[h]))
                        pl.heads[pl.nheads++] = k;
                ir_attn_add_pattern(&m->arena, a, pl);
            }
            lo = hi;
        }
    }
    h2c_raw_free(score, sizeof(double) * n);
    h2c_raw_free(pat, sizeof(Pattern) * n);
    h2c_raw_free(order, sizeof(int) * (size_t)(H + 1));
    return ok;
}

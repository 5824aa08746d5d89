/* sparsity.c: pass_sparsity gives every decode attention a plan's patterns, head by head, from the
 * module's sparsity block (docs/sparsity.md §2): the scores of its head profile, if it names one
 * (sparse_profile_load), and the rule of sparse_assign (sparse/profile.c): the first `dense_layers`
 * layers dense; the other heads, by the block's mode, all dense, all static (sink + window), all
 * dynamic (Quest pages), or, in hybrid mode, the ceil(static_heads x eligible) heads of lowest score
 * static and the rest dynamic, ties by (layer, head). Consecutive layers with the same patterns share
 * their lines.
 * Requires: nothing (an attention is an attn_value reading an attn_score, directly or through a
 * softmax). Replaces: the module's attention sections (their patterns; no tiles yet, so K and V
 * keep the dataflow's tensor tiles until pass_coplace). Without a sparsity block, or under the
 * h2llm-artifact cost model (which prices dense attention by the artifact's formulas), it makes none,
 * and none for an attention with a sliding window shorter than max_seq (a note says so).
 * Fails if the profile cannot be read or does not fit the model (an error in the file). */
#include "passes.h"
#include "sparse.h"

#include <string.h>

/* The head profile's scores, if the block names one: read from the file, a relative name taken
 * from the directory of the .h2 file that names it (for IR text, the .h2 place it was compiled
 * from, else the IR file's own). *have false: a uniform profile. */
static bool load_profile(Module *m, double *scores, bool *have, Diag *d) {
    const Sparsity *sp = &m->sparsity;
    *have = false;
    if (!sp->profile)
        return true;
    Loc at = sp->profile_loc.file ? sp->profile_loc : sp->loc;
    if (at.file && at.file->ir_text) {
        Loc origin = ir_origin(m, at);
        if (origin.file)
            at = origin;
    }
    const char *path = sparse_profile_path(&m->arena, sp->profile, at);
    if (!sparse_profile_load(path, m->model.layers, m->model.kv_heads, scores, at, d))
        return false;
    *have = true;
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
    SparsePattern *sel = h2c_raw_alloc(sizeof(SparsePattern) * n);
    Pattern *pat = h2c_raw_alloc(sizeof(Pattern) * n);
    bool ok = score && sel && pat, have = false;
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    if (ok)
        ok = load_profile(m, score, &have, d);
    if (ok && sparse_assign(sp, L, H, have ? score : NULL, sel) < 0) {
        diag_error(d, NOLOC, "out of memory");
        ok = false;
    }
    Pattern dense = {PAT_DENSE, 0, 0, 0, 0}, stat = {PAT_STATIC, sp->sink, sp->window, 0, 0},
            dyn = {PAT_DYNAMIC, 0, 0, sp->page, sp->budget};
    for (size_t i = 0; ok && i < n; i++)
        pat[i] = sel[i] == SPAT_STATIC ? stat : sel[i] == SPAT_DYNAMIC ? dyn : dense;
    const Phase *dc = &m->phases[PH_DECODE];
    for (int v = 0; ok && v < dc->nops; v++) {
        Attention found;
        if (!attn_plan_find(m, v, &found))
            continue;
        /* a sliding window shorter than the cache: the window is its pattern (the schedule's tiles
           would not know their keys' positions, which it needs) */
        const Op *vo = &dc->ops[found.value_op], *so = &dc->ops[found.score_op];
        int window = vo->window > so->window ? vo->window : so->window;
        if (window > 0 && window < m->work.max_seq) {
            diag_note(d, vo->loc, "%%%s has a sliding window of %d tokens: it gets no sparse plan and stays dense "
                      "(docs/sparsity.md §1)", vo->name, window);
            continue;
        }
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
    h2c_raw_free(sel, sizeof(SparsePattern) * n);
    h2c_raw_free(pat, sizeof(Pattern) * n);
    return ok;
}

/* balance.c: pass_balance re-tiles every attention to minimise each layer's decode attention time
 * (docs/sparsity.md §4): layer class by layer class (consecutive layers with the same patterns), it
 * chooses how many tiles each head's KV is cut into and which PE's bank holds each tile, by the
 * tile balancer (sparse/balance.c: highest-averages tilings, LPT, target fills, moves and swaps)
 * scored with the h2c cost model's layer time at the last decode context (the PEs' makespan plus
 * the channels' transfers of queries, page scores and partial states and the merge). A class keeps
 * its co-placed tiling where the balancer finds nothing faster, and the whole attention keeps it if
 * the balanced plan does not fit the banks. An attention whose heads are all dense keeps coplace's
 * tiling, the dense schedule's (so that it computes the dense schedule's numbers bit for bit).
 * Requires: coplace. Replaces: the attentions' tiles. Maintains: patterns and everything else. */
#include "passes.h"

bool pass_balance(Module *m, Diag *d) {
    for (int i = 0; i < m->nattns; i++) {
        Attention *a = &m->attns[i];
        if (a->ntiles == 0 || attn_plan_all_dense(a))
            continue;   /* all dense: coplace gave it the dense schedule's tiling, which it keeps */
        Attention start = *a, cand = *a;
        char why[300];
        if (!attn_plan_tile(&m->arena, m, i, &cand, TILING_BALANCE, &start))
            continue;
        int fits = attn_plan_fits(m, i, &cand, why, sizeof why);
        if (fits < 0) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        if (!fits) {
            diag_note(d, a->loc, "attention %%%s keeps its co-placed tiles: the balanced ones do not fit (%s)",
                      m->phases[PH_DECODE].ops[a->value_op].name, why);
            continue;
        }
        a->tiles = cand.tiles;
        a->ntiles = cand.ntiles;
        a->tiles_cap = cand.tiles_cap;
    }
    return true;
}

/* coplace.c: pass_coplace puts every attention's KV in the banks of the PEs that attend over it
 * (docs/sparsity.md §3): the banks of the NMP channels its value op runs near memory on. A static
 * head's tile is whole in one bank (its size is fixed: sink + window tokens; the heads dealt round
 * robin over the banks), a dynamic head's tokens are interleaved over min(page, banks) banks (every
 * page spread over all of them, so any choice of pages keeps them balanced), a dense head's over
 * every bank. An attention whose heads are all dense keeps the dense schedule's tiling instead (the
 * dataflow pass's: each (KV head, batch) stream over the banks of its K tile, computed near memory
 * or on the NPU where the dense schedule computes it), so that it computes the dense schedule's
 * numbers bit for bit (docs/runtime.md §5.4); a module without those tiles gets the co-placed one.
 * Every bank reserves its tiles' regions for max_seq tokens; the plan must fit beside
 * the tensors as placement will allocate them. Without near-memory channels the NPU reads the tiles.
 * Requires: sparsity (patterns), shapes; dataflow if it ran keeps its channels. Replaces: the
 * attentions' tiles and their K and V tensor tiles (the plan places them). A value op with no decode
 * tiles is put on every NMP channel. Maintains: everything else. */
#include "passes.h"

#include <string.h>

bool pass_coplace(Module *m, Diag *d) {
    bool ok = true;
    for (int i = 0; i < m->nattns && ok; i++) {
        Attention *a = &m->attns[i];
        if (a->npats == 0)
            continue;
        Op *val = &m->phases[PH_DECODE].ops[a->value_op];
        if (val->ntiles == 0 && dev_nmp_channels(&m->dev) > 0 && val->shape[0]) {
            OpTile t;
            memset(&t, 0, sizeof t);
            for (int k = 0; k < 4; k++)
                t.box[k] = (Range){0, val->shape[k]};
            t.exec = (Exec){EXEC_NMP, dev_nmp_set(&m->dev), -1};
            ir_op_add_tile(m, val, t);
        }
        /* all dense: the dense schedule's tiling, read off the tensors' tiles before they go */
        bool kept = attn_plan_all_dense(a) && attn_plan_tile(&m->arena, m, i, a, TILING_DATAFLOW, NULL);
        m->tensors[a->k_tensor].ntiles = 0;
        m->tensors[a->v_tensor].ntiles = 0;
        char why[300];
        int fits = 1;
        if (!kept && !attn_plan_tile(&m->arena, m, i, a, TILING_COPLACE, NULL)) {
            diag_error(d, a->loc, "attention %%%s: no banks to place its KV on", val->name);
            ok = false;
        } else if ((fits = attn_plan_fits(m, i, a, why, sizeof why)) < 0) {
            diag_error(d, NOLOC, "out of memory");
            ok = false;
        } else if (!fits) {
            diag_error(d, a->loc, "attention %%%s: its co-placed KV does not fit: %s", val->name, why);
            diag_note(d, m->dev.hw.loc, "on device '%s'", m->dev.hw.name);
            ok = false;
        }
    }
    return ok;
}

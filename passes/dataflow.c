/* dataflow.c: pass_dataflow chooses how each op of a layer runs and where its data lives, jointly
 * (data-centric, H2-LLM) or per kind of unit (compute-centric, SpecPIM), or applies a fixed
 * baseline mapping (npu-only, attn-nmp, attn-nmp-split, fc-nmp), according to the module's
 * `dataflow` option and cost model. The layer graph and the epilogue (the LM head) are planned each
 * in its own hierarchy (search/plan.c; search/layer.c cuts a scope of more than 32 ops in pieces);
 * the prologue's lookup runs on the NPU. The plans become IR: decode ops get their dataflow position
 * and execution tiles; weights and KV get tensor tiles on the channels that hold each share; prefill
 * runs on the NPU. When the plan is not proven optimal, a note at the model gives its gap to the
 * search's bound.
 * Requires: shapes. Replaces: every tensor tile and op tile, and drops the attention plans (the
 * sparsity passes make them again). Maintains: shapes, locations. Placement (offsets) runs after it. */
#include "passes.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- presets */

/* An FFN op: an fc into or out of the intermediate width (gate, up and down projections). */
static bool is_ffn(const DfProblem *p, int i) {
    const DfOp *o = &p->ops[i];
    return o->kind == DFK_FC && ((long long)o->dec.N == p->intermediate || (long long)o->dec.K == p->intermediate);
}

bool df_plan_preset(const DfProblem *p, DataflowMode mode, DfPlan *plan) {
    memset(plan, 0, sizeof *plan);
    plan->nops = p->nops;
    ChanSet nmp = chanset_first(p->nmp);
    /* one op per group, in topological order (lowest index first) */
    uint32_t done = 0;
    for (int k = 0; k < p->nops; k++) {
        int i = -1;
        for (int j = 0; j < p->nops && i < 0; j++)
            if (!(done & (1u << j)) && !(p->ops[j].preds & ~done))
                i = j;
        if (i < 0)
            return false;
        done |= 1u << i;
        plan->order[k] = i;
        DfAssign *a = &plan->a[i];
        a->group = k;
        a->part = a->stratum = 0;
        a->ratio = -1;
        const DfOp *o = &p->ops[i];
        if (o->kind == DFK_OTHER) {
            a->exec = DF_EXEC_NPU;
            continue;
        }
        bool attn = o->kind == DFK_ATTN;
        long long S = df_split_len(p, i);
        /* striped over every channel, on the NPU */
        a->nmp = nmp;
        a->normal = p->normal > 0;
        a->spread = true;
        a->exec = DF_EXEC_NPU;
        switch (mode) {
        case DF_NPU_ONLY:
            break;
        case DF_FC_NMP:
            if (!attn) {
                a->normal = false;
                a->spread = false;
                a->exec = DF_EXEC_NMP;
                a->split = S;
            }
            break;
        case DF_ATTN_NMP:
        case DF_ATTN_NMP_SPLIT:
            if (attn) {
                a->normal = false;
                a->spread = false;
                a->exec = DF_EXEC_NMP;
                a->split = S;
            } else if (mode == DF_ATTN_NMP_SPLIT && is_ffn(p, i) && p->nmp > 0 && p->normal > 0) {
                /* the artifact's split (§4.7): ratio = int(nmp * pe_bw / (normal * channel bw)),
                   the NMP gets ceil(N / (ratio + 1)) columns */
                double ratio = floor(p->nmp * (p->hw.pe_bandwidth / 1e9) / (p->normal * (p->hw.channel_bandwidth / 1e9)));
                long long n_nmp = (long long)ceil((double)S / (ratio + 1));
                if (n_nmp >= 1 && n_nmp <= S - 1) {
                    a->exec = DF_EXEC_MIX;
                    a->split = n_nmp;
                }
            }
            break;
        default:
            return false;
        }
        if (p->nmp == 0) {
            a->nmp = 0;
            if (a->exec != DF_EXEC_NPU)
                return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- plan -> IR */

static void add_tensor_box(Module *m, Tensor *t, const Range *box, ChanSet chans) {
    TensorTile tile;
    memset(&tile, 0, sizeof tile);
    memcpy(tile.box, box, sizeof(Range) * (size_t)t->rank);
    tile.place = (Place){PLACE_CHANNELS, chans, -1, -1};
    ir_tensor_add_tile(m, t, tile);
}

/* Stores [lo, hi) of t's split dimension on chans: weight columns (rows of a transposed weight, when
 * kv_dim is 0); (KV head, batch) pairs numbered head * batch + b, which may take a partial head; or,
 * for a one-GEMM attention split along N, KV tensor dimension kv_dim (positions, or head_dim
 * columns). */
static void store_range(Module *m, Tensor *t, long long lo, long long hi, ChanSet chans, int kv_dim) {
    if (lo >= hi || !chans)
        return;
    Range box[IR_MAX_RANK];
    for (int i = 0; i < t->rank; i++)
        box[i] = (Range){0, t->dims[i]};
    if (t->kind == TEN_WEIGHT || kv_dim >= 0) {
        int dim = t->kind == TEN_WEIGHT ? (kv_dim >= 0 ? kv_dim : 1) : kv_dim;
        box[dim] = (Range){lo, hi < t->dims[dim] ? hi : t->dims[dim]};
        add_tensor_box(m, t, box, chans);
        return;
    }
    long long batch = t->dims[1];
    long long h = lo / batch, b = lo % batch;
    if (b) { /* the tail of a partial head */
        long long end = hi < (h + 1) * batch ? hi - h * batch : batch;
        box[0] = (Range){h, h + 1};
        box[1] = (Range){b, end};
        add_tensor_box(m, t, box, chans);
        lo = h * batch + end;
        h++;
        box[1] = (Range){0, batch};
    }
    long long full_end = hi / batch;
    if (h < full_end && lo < hi) {
        box[0] = (Range){h, full_end};
        box[1] = (Range){0, batch};
        add_tensor_box(m, t, box, chans);
        lo = full_end * batch;
    }
    if (lo < hi) {
        box[0] = (Range){full_end, full_end + 1};
        box[1] = (Range){0, hi - full_end * batch};
        add_tensor_box(m, t, box, chans);
    }
}

static void add_op_tile(Module *m, Op *op, int dim, long long lo, long long hi, Exec e) {
    OpTile t;
    memset(&t, 0, sizeof t);
    for (int k = 0; k < 4; k++)
        t.box[k] = (Range){0, op->shape[k]};
    if (dim >= 0)
        t.box[dim] = (Range){lo, hi};
    t.exec = e;
    ir_op_add_tile(m, op, t);
}

/* Writes the plan of one piece of the layer: op i of p is decode op ops[i], and its groups come
 * after the g0 groups of the pieces before. stored[t]: tensor t has its tiles already. */
static bool apply_plan(Module *m, const DfProblem *p, const DfPlan *plan, const int *ops, int g0, bool *stored,
                       Diag *d) {
    Phase *pf = &m->phases[PH_PREFILL], *dc = &m->phases[PH_DECODE];
    ChanSet normal = dev_normal_set(&m->dev);
    bool ok = true;
    for (int i = 0; i < p->nops && ok; i++) {
        const DfAssign *a = &plan->a[i];
        Op *op = &dc->ops[ops[i]], *pop = &pf->ops[ops[i]];
        op->ntiles = 0;
        pop->ntiles = 0;
        op->df = (DfPos){g0 + a->group, a->part, a->stratum};
        add_op_tile(m, pop, -1, 0, 0, (Exec){EXEC_NPU, 0, -1});
        if (p->ops[i].kind == DFK_OTHER) {
            add_op_tile(m, op, -1, 0, 0, (Exec){EXEC_NPU, 0, -1});
            continue;
        }
        DfExec ex = df_exec_of(a);
        long long S = df_split_len(p, i), s = df_split_of(p, i, a);
        bool along_n = p->ops[i].kind == DFK_FC || p->ops[i].dec.B <= 1;
        int dim = along_n ? DIM_N : DIM_B;
        /* a one-GEMM attention split along N cuts the KV positions (score) or head_dim (value) */
        int kv_dim = p->ops[i].kind == DFK_ATTN && along_n ? (op->code == OP_ATTN_VALUE ? 3 : 2) : -1;
        if (op->tied)
            kv_dim = 0; /* a tied LM head's columns are the rows of the embedding table */
        Exec on_nmp = {EXEC_NMP, a->nmp, -1}, on_npu = {EXEC_NPU, 0, -1};
        switch (ex) {
        case DF_EXEC_NMP: add_op_tile(m, op, -1, 0, 0, on_nmp); break;
        case DF_EXEC_NPU: add_op_tile(m, op, -1, 0, 0, on_npu); break;
        default:
            add_op_tile(m, op, dim, 0, s, on_nmp);
            add_op_tile(m, op, dim, s, S, on_npu);
        }
        if (op->tensor < 0)
            continue;
        Tensor *t = &m->tensors[op->tensor];
        if (stored[op->tensor]) {
            diag_error(d, op->loc, "'%%%s' is read by two ops; the dataflow search maps each tensor with one op",
                       t->name);
            ok = false;
            break;
        }
        stored[op->tensor] = true;
        ChanSet rest = a->spread ? (a->nmp | (a->normal ? normal : 0)) : (a->normal ? normal : 0);
        /* the split dimension's extent in the tensor: positions run to max_seq, beyond the context */
        long long TS = kv_dim >= 0 ? t->dims[kv_dim] : (t->kind == TEN_WEIGHT ? t->dims[1] : S);
        if (ex == DF_EXEC_NMP || (ex == DF_EXEC_NPU && !a->normal)) {
            store_range(m, t, 0, TS, a->nmp, kv_dim);
        } else if (ex == DF_EXEC_NPU && (a->spread || !a->nmp)) {
            store_range(m, t, 0, TS, a->spread ? (a->nmp | normal) : normal, kv_dim);
        } else {
            store_range(m, t, 0, s, a->nmp, kv_dim);
            store_range(m, t, s, TS, rest, kv_dim);
        }
    }
    return ok;
}

/* ---------------------------------------------------------------- IR -> plan */

bool df_plan_from_module(const Module *m, const DfProblem *p, DfPlan *plan, Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    memset(plan, 0, sizeof *plan);
    plan->nops = p->nops;
    /* the problem's ops in a topological order of the phase */
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    int *local = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    int topo = order && local ? ir_topo_order(dc, order) : -1;
    if (topo != 1) {
        if (topo == 0)
            diag_error(d, dc->loc, "no cost report: the ops of the decode phase form a cycle");
        else
            diag_error(d, NOLOC, "out of memory");
        h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
        h2c_raw_free(local, sizeof(int) * (size_t)(dc->nops + 1));
        return false;
    }
    for (int i = 0; i < dc->nops; i++)
        local[i] = -1;
    for (int k = 0; k < p->nops; k++)
        local[p->index[k]] = k;
    int nlocal = 0;
    for (int i = 0; i < dc->nops; i++)
        if (local[order[i]] >= 0)
            order[nlocal++] = local[order[i]];
    bool positioned = p->nops > 0 && dc->ops[p->index[0]].df.group >= 0;
    for (int k = 0; k < p->nops; k++) {
        int li = positioned ? k : order[k];
        const Op *op = &dc->ops[p->index[li]];
        DfAssign *a = &plan->a[li];
        plan->order[k] = li;
        a->ratio = -1;
        if (positioned) {
            a->group = op->df.group;
            a->part = op->df.part;
            a->stratum = op->df.stratum;
        } else {
            a->group = k;
        }
        if (p->ops[li].kind == DFK_OTHER) {
            a->exec = DF_EXEC_NPU;
            continue;
        }
        int at = ir_attention_of_op(m, p->index[li]);
        if (at >= 0) {
            /* an attention plan: decode is priced from the plan; the assignment says where its K and
               V live, which prefill streams them from */
            const Attention *pl = &m->attns[at];
            double on_nmp = 0, all = 0;
            for (int j = 0; j < pl->ntiles; j++) {
                const AttnTiles *t = &pl->tiles[j];
                double size = (double)attn_line_region(m, pl, t) * (double)(t->layers.hi - t->layers.lo);
                for (int b = 0; b < t->nbanks; b++) {
                    all += size;
                    if (t->banks[b].ch < dev_nmp_channels(&m->dev))
                        on_nmp += size;
                }
            }
            ChanSet chans = attn_channels(pl);
            a->nmp = chans & dev_nmp_set(&m->dev);
            a->normal = (chans & dev_normal_set(&m->dev)) != 0;
            long long S = df_split_len(p, li);
            if (a->nmp && a->normal && S > 1) {
                long long sh = all > 0 ? (long long)(S * on_nmp / all + 0.5) : 1;
                a->exec = DF_EXEC_MIX;
                a->split = sh < 1 ? 1 : sh > S - 1 ? S - 1 : sh;
            } else if (a->nmp) {
                a->exec = DF_EXEC_NMP;
                a->split = S;
            } else {
                a->exec = DF_EXEC_NPU;
                a->normal = true;
            }
            continue;
        }
        ir_op_storage(m, op, &a->nmp, &a->normal);
        const Tensor *t = op->tensor >= 0 ? &m->tensors[op->tensor] : NULL;
        for (int j = 0; t && j < t->ntiles; j++) {
            ChanSet c = t->tiles[j].place.chans;
            if ((c & dev_nmp_set(&m->dev)) && (c & dev_normal_set(&m->dev)))
                a->spread = true;
        }
        /* execution from the op's tiles: the NMP extent along the split dimension */
        int dim = p->ops[li].kind == DFK_FC || p->ops[li].dec.B <= 1 ? DIM_N : DIM_B;
        long long nmp_extent = 0, total = op->shape[dim];
        ChanSet exec_chans = 0;
        bool any_npu = false;
        for (int j = 0; j < op->ntiles; j++) {
            const OpTile *ot = &op->tiles[j];
            if (ot->exec.kind == EXEC_NMP || ot->exec.kind == EXEC_PE) {
                nmp_extent += ot->box[dim].hi - ot->box[dim].lo;
                exec_chans |= ot->exec.chans;
            } else {
                any_npu = true;
            }
        }
        if (op->ntiles == 0 || nmp_extent == 0) {
            a->exec = DF_EXEC_NPU;
            a->split = 0;
        } else if (!any_npu) {
            a->exec = DF_EXEC_NMP;
            a->split = total;
            a->nmp |= exec_chans;
        } else {
            a->exec = DF_EXEC_MIX;
            a->split = nmp_extent;
            a->nmp |= exec_chans;
        }
    }
    h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
    h2c_raw_free(local, sizeof(int) * (size_t)(dc->nops + 1));
    return true;
}

/* ---------------------------------------------------------------- the pass */

/* A note at the model when the plan is not proven optimal: the exact search did not fit its budget
 * (the restricted search chose the plan), or the best plan broke capacity and was repaired. */
static void report_gap(const Module *m, const SearchResult *r, const SearchOpts *o, int nops, Diag *d) {
    const char *unit = m->cost_model == CM_ARTIFACT ? " per layer" : "";
    char why[256], gap[256];
    if (r->pieces > 1) {
        snprintf(why, sizeof why, "the layer has %d ops, more than one search takes (%d), so its plan is the best of "
                 "%d pieces searched one after another", nops, DF_MAX_OPS, r->pieces);
    } else if (!r->exact) {
        int k = snprintf(why, sizeof why, "the exact dataflow search does not fit its budget of %lld steps and %u MiB",
                         DF_WORK_BUDGET, DF_MEMORY_BUDGET >> 20);
        if (r->estimate > (double)DF_WORK_BUDGET)
            k += snprintf(why + k, sizeof why - (size_t)k, " (it needs more than %.3g steps)", r->estimate);
        snprintf(why + k, sizeof why - (size_t)k, ", so the plan is the best of a restricted search (%d chunk%s, each "
                 "searched exactly)", r->chunks, r->chunks == 1 ? "" : "s");
    } else {
        snprintf(why, sizeof why, "the fastest dataflow overflows a channel, so the plan is one repaired to fit");
    }
    if (o->objective == OBJ_LATENCY && !isnan(r->bound) && r->value > 0) {
        double g = (r->value - r->bound) / r->value;
        snprintf(gap, sizeof gap, "latency %.6g s%s, and no dataflow is faster than %.6g s (gap %.3g%%)", r->value, unit,
                 r->bound, g > 0 ? 100 * g : 0);
    } else {
        snprintf(gap, sizeof gap, "%s %.6g%s (no lower bound is known for the %s objective)",
                 o->objective == OBJ_ENERGY ? "energy" : "energy-delay product", r->value,
                 o->objective == OBJ_ENERGY ? " J" : " J s", objective_names[o->objective]);
    }
    diag_note(d, m->model.loc, "model '%s': %s: %s", m->model.name, why, gap);
}

bool pass_dataflow(Module *m, Diag *d) {
    const CostModel *cm = cost_model_get(m->cost_model);
    /* a new mapping makes attention plans stale: pass_sparsity makes them again */
    m->nattns = 0;
    bool search = m->dataflow == DF_DATA_CENTRIC || m->dataflow == DF_COMPUTE_CENTRIC;
    if (search && m->objective != OBJ_LATENCY && !cm->has_energy) {
        /* (h2c check refuses this in a .h2 file, and the command line --objective; IR text can still say it) */
        diag_error(d, m->model.loc, "objective %s needs a cost model with energy; %s has none (its energy is always 0)",
                   objective_names[m->objective], cost_model_names[m->cost_model]);
        return false;
    }
    ModulePlan *const mp = h2c_raw_alloc(sizeof *mp);
    bool *const stored = h2c_raw_alloc(sizeof(bool) * (size_t)(m->ntensors + 1));
    if (mp)
        memset(mp, 0, sizeof *mp);
    /* the module's arena running out while the plan is applied: the plan is freed here (the
       pipeline's handler would leak it) */
    jmp_buf oom, *const outer = m->arena.oom;
    if (setjmp(oom)) {
        m->arena.oom = outer;
        diag_error(d, NOLOC, "out of memory");
        df_module_plan_free(mp);
        h2c_raw_free(mp, sizeof *mp);
        h2c_raw_free(stored, sizeof(bool) * (size_t)(m->ntensors + 1));
        return false;
    }
    m->arena.oom = &oom;
    bool ok = mp && stored;
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    if (ok && search) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        SearchOpts o = {.mode = m->dataflow, .objective = m->objective, .capacity = true, .splits = m->splits,
                        .threads = ncpu > 1 ? (int)(ncpu < 64 ? ncpu : 64) : 1};
        ok = df_search_module(m, cm, NULL, &o, mp, d);
        if (!ok)
            diag_note(d, m->dev.hw.loc, "on device '%s'", m->dev.hw.name);
        else if (!mp->sum.exact || mp->sum.repaired)
            report_gap(m, &mp->sum, &o, mp->part[SCOPE_LAYER].nops, d);
    } else if (ok) {
        /* a fixed mapping, scope by scope, piece by piece */
        for (int s = 0; s < SCOPE_COUNT_ && ok; s++) {
            if (s != SCOPE_LAYER && !cm->whole_model)
                continue;
            ok = df_layer_from_module(m, cm, NULL, (OpScope)s, &mp->part[s], d);
            if (!ok)
                break;
            mp->has[s] = mp->part[s].nops > 0;
            mp->each[s] = h2c_raw_alloc(sizeof(SearchResult) * (size_t)(mp->part[s].npieces + 1));
            if (!mp->each[s]) {
                diag_error(d, NOLOC, "out of memory");
                ok = false;
                break;
            }
            for (int k = 0; k < mp->part[s].npieces && ok && mp->has[s]; k++) {
                const DfProblem *p = &mp->part[s].pieces[k];
                if (!df_plan_preset(p, m->dataflow, &mp->each[s][k].plan)) {
                    diag_error(d, m->dev.hw.loc,
                               "the %s mapping needs %s; device '%s' has %d NMP and %d normal channels",
                               dataflow_mode_names[m->dataflow],
                               m->dataflow == DF_NPU_ONLY ? "normal channels" : "NMP channels", m->dev.hw.name,
                               p->nmp, p->normal);
                    ok = false;
                }
            }
        }
    }
    if (ok) {
        memset(stored, 0, sizeof(bool) * (size_t)(m->ntensors + 1));
        for (int t = 0; t < m->ntensors; t++)
            m->tensors[t].ntiles = 0;
        for (int s = 0; s < SCOPE_COUNT_ && ok; s++) {
            if (!mp->has[s])
                continue;
            /* each scope's groups from 0; a scope's pieces one after another */
            int g0 = 0;
            const DfLayer *l = &mp->part[s];
            for (int k = 0; k < l->npieces && ok; k++) {
                const DfPlan *plan = &mp->each[s][k].plan;
                ok = apply_plan(m, &l->pieces[k], plan, &l->op[k * DF_MAX_OPS], g0, stored, d);
                int groups = 0;
                for (int i = 0; i < plan->nops; i++)
                    if (plan->a[i].group + 1 > groups)
                        groups = plan->a[i].group + 1;
                g0 += groups;
            }
        }
    }
    m->arena.oom = outer;
    if (mp)
        df_module_plan_free(mp);
    h2c_raw_free(mp, sizeof *mp);
    h2c_raw_free(stored, sizeof(bool) * (size_t)(m->ntensors + 1));
    return ok;
}

/* report.c: what a plan costs, for people: the summary `h2c compile` prints (prefill, decode and its
 * time per step, the total, and energy by entry of the device's energy table) and the per-op, per-
 * phase table of --report=ops (time, bytes moved, energy, where the op runs and where its data
 * lives). It prices the module's own plan, read back from its tiles and dataflow positions
 * (df_plan_from_module), so `h2c opt --report` costs a hand-edited .h2ir the same way. Not a pass:
 * it reads the module and changes nothing. */
#include "passes.h"

#include <string.h>

/* ---------------------------------------------------------------- formatting */

/* v in the largest of the units (each `step` times the next) that keeps it at least 1: 4 digits. */
static void fmt_scaled(char *buf, size_t n, double v, const char *const *units, int nunits, double step) {
    int u = 0;
    double x = v;
    while (u + 1 < nunits && x != 0 && x < 1) {
        x *= step;
        u++;
    }
    if (x == 0)
        snprintf(buf, n, "0 %s", units[0]);
    else
        snprintf(buf, n, "%.4g %s", x, units[u]);
}

static void fmt_time(char *buf, size_t n, double s) {
    static const char *const units[] = {"s", "ms", "us", "ns"};
    fmt_scaled(buf, n, s, units, 4, 1e3);
}

static void fmt_energy(char *buf, size_t n, double j) {
    static const char *const units[] = {"J", "mJ", "uJ", "nJ", "pJ"};
    fmt_scaled(buf, n, j, units, 5, 1e3);
}

static void fmt_bytes(char *buf, size_t n, double b) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (u + 1 < 5 && b >= 1024) {
        b /= 1024;
        u++;
    }
    snprintf(buf, n, "%.4g %s", b, units[u]);
}

/* ch{0-5}, as the IR writes a channel set */
static void fmt_chans(char *buf, size_t n, ChanSet s) {
    size_t k = (size_t)snprintf(buf, n, "ch{");
    bool first = true;
    for (int c = 0; c < 64 && k < n; c++) {
        if (!(s & CHAN_BIT(c)))
            continue;
        int e = c;
        while (e + 1 < 64 && (s & CHAN_BIT(e + 1)))
            e++;
        k += (size_t)snprintf(buf + k, n - k, e > c ? "%s%d-%d" : "%s%d", first ? "" : ",", c, e);
        first = false;
        c = e;
    }
    if (k < n)
        snprintf(buf + k, n - k, "}");
}

/* Where an op runs, from its tiles: npu, nmp ch{..}, pe (count), or the NMP share of a split. In
 * decode, an attention plan says instead: its value op's tiles on the PEs of some channels (and the
 * NPU), its score op and softmax inside the value op's plan. */
static void fmt_runs_on(char *buf, size_t n, const Module *m, PhaseKind ph, const Op *op, int index) {
    int at = ph == PH_DECODE ? ir_attention_of_op(m, index) : -1;
    if (at >= 0) {
        const Attention *a = &m->attns[at];
        if (a->value_op != index) {
            snprintf(buf, n, "in the plan of %%%s", m->phases[PH_DECODE].ops[a->value_op].name);
            return;
        }
        ChanSet pes = 0;
        bool npu = false;
        for (int k = 0; k < a->ntiles; k++) {
            const AttnTiles *t = &a->tiles[k];
            if (t->by.kind == EXEC_NPU)
                npu = true;
            else if (t->by.kind == EXEC_PE)
                pes |= t->by.chans;
            else
                for (int j = 0; j < t->nbanks; j++)
                    pes |= CHAN_BIT(t->banks[j].ch);
        }
        char chans[128];
        fmt_chans(chans, sizeof chans, pes);
        if (pes)
            snprintf(buf, n, "plan: PEs of %s%s", chans, npu ? " + npu" : "");
        else
            snprintf(buf, n, "plan: npu");
        return;
    }
    ChanSet nmp = 0;
    int pes = 0;
    bool npu = false;
    for (int i = 0; i < op->ntiles; i++) {
        const Exec *e = &op->tiles[i].exec;
        if (e->kind == EXEC_NMP)
            nmp |= e->chans;
        else if (e->kind == EXEC_PE)
            pes++;
        else if (e->kind == EXEC_NPU)
            npu = true;
    }
    char chans[128] = "";
    if (nmp)
        fmt_chans(chans, sizeof chans, nmp);
    char near[160] = "";
    if (nmp && pes)
        snprintf(near, sizeof near, "nmp %s + %d PE%s", chans, pes, plural(pes));
    else if (nmp)
        snprintf(near, sizeof near, "nmp %s", chans);
    else if (pes)
        snprintf(near, sizeof near, "%d PE%s", pes, plural(pes));
    if (!near[0])
        snprintf(buf, n, "%s", npu ? "npu" : "unmapped");
    else if (!npu)
        snprintf(buf, n, "%s", near);
    else
        snprintf(buf, n, "%s %.4g%% + npu", near, 100 * ir_op_nmp_share(op));
}

/* Where an op's tensor lives: the channels of its tiles. */
static void fmt_data_on(char *buf, size_t n, const Module *m, const Op *op) {
    if (op->tensor < 0) {
        snprintf(buf, n, "-");
        return;
    }
    fmt_chans(buf, n, ir_tensor_chans(m, op->tensor));
}

static double energy_sum(const double *e) {
    double s = 0;
    for (int k = 0; k < EF_COUNT_; k++)
        s += e[k];
    return s;
}

/* What each entry of the energy table pays for, in the h2c model. */
static const char *const energy_what[EF_COUNT_] = {
    [EF_npu_mac] = "MACs and vector operations on the NPU",
    [EF_pe_mac] = "MACs on the near-memory PEs",
    [EF_sram_access] = "the NPU's SRAM",
    [EF_hb_io] = "the hybrid bond, bank to PE",
    [EF_channel_io] = "channel I/O: DRAM to NPU, NPU to and from the PEs",
    [EF_dram_read] = "DRAM array reads and writes",
    [EF_dram_on_die] = "DRAM on-die path, bank to I/O (channel path)",
};

/* ---------------------------------------------------------------- readiness */

bool report_ready(const Module *m, char *why, size_t n) {
    const Phase *dc = &m->phases[PH_DECODE];
    int count[SCOPE_COUNT_] = {0};
    for (int i = 0; i < dc->nops; i++)
        count[dc->ops[i].scope]++;
    for (int sc = 0; sc < SCOPE_COUNT_; sc++)
        if (count[sc] > DF_MAX_OPS) {
            snprintf(why, n, "the %s has %d ops; costs are computed for up to %d",
                     sc == SCOPE_LAYER ? "layer" : op_scope_names[sc], count[sc], DF_MAX_OPS);
            return false;
        }
    for (int p = 0; p < PH_COUNT_; p++)
        for (int i = 0; i < m->phases[p].nops; i++) {
            const Op *op = &m->phases[p].ops[i];
            if (!op->shape[0]) {
                snprintf(why, n, "%%%s has no shape in phase %s (the shapes pass has not run)", op->name, phase_names[p]);
                return false;
            }
            if (op->ntiles == 0) {
                snprintf(why, n, "%%%s runs nowhere in phase %s (the dataflow and placement passes have not run)",
                         op->name, phase_names[p]);
                return false;
            }
        }
    for (int t = 0; t < m->ntensors; t++)
        if (m->tensors[t].ntiles == 0 && ir_attention_of_tensor(m, t) < 0) {
            snprintf(why, n, "tensor '%%%s' is not placed (the dataflow and placement passes have not run)",
                     m->tensors[t].name);
            return false;
        }
    return true;
}

/* ---------------------------------------------------------------- the report */

/* One scope's plan, priced. */
typedef struct ScopeCost {
    bool has;           /* the scope has ops and the cost model prices it */
    DfProblem p;
    DfPlan plan;
    CostResult r;
    CostDetail det;     /* valid when the model has a detail function */
} ScopeCost;

typedef struct ModuleCost {
    ScopeCost sc[SCOPE_COUNT_];
    CostResult total;   /* the scopes' sum */
    bool detail;        /* the cost model gave op-by-op detail */
    int gen, batch, prompt, layers;
} ModuleCost;

/* Attention plans to price a module with: att[i] priced by costs[i] (NULL: as its ops' tiles say). */
typedef struct PlanSet {
    const Attention *att;
    AttnCost *const *costs;
    int n;
} PlanSet;

/* Marks the ops of a scope's problem that an attention plan prices: the value op carries the plan's
 * cost, its score op and the softmax between cost nothing in decode. */
static void attach_attention(const Module *m, DfProblem *p, const PlanSet *ps) {
    const Phase *dc = &m->phases[PH_DECODE];
    for (int k = 0; k < p->nops; k++) {
        int op = p->index[k];
        for (int i = 0; i < ps->n; i++) {
            const Attention *a = &ps->att[i];
            if (!ps->costs[i])
                continue;
            const Op *v = &dc->ops[a->value_op];
            bool softmax = v->ninputs > 0 && v->inputs[0] == op && dc->ops[op].code == OP_SOFTMAX;
            if (op == a->value_op)
                p->ops[k].attn = ps->costs[i];
            else if (op == a->score_op || softmax)
                p->ops[k].in_attn = true;
        }
    }
}

/* Prices a module's plan scope by scope, its attentions by ps (NULL: none). False on a graph the
 * cost model cannot take. */
static bool price_module(const Module *m, const CostModel *cm, const PlanSet *ps, ModuleCost *mc, Diag *d) {
    memset(mc, 0, sizeof *mc);
    mc->detail = cm->detail != NULL;
    mc->gen = m->work.generate;
    mc->batch = m->work.batch;
    mc->prompt = m->work.prompt;
    mc->layers = m->model.layers;
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        ScopeCost *sc = &mc->sc[s];
        if (s != SCOPE_LAYER && !cm->whole_model)
            continue;
        if (!df_problem_scope(m, cm, (OpScope)s, &sc->p, d))
            return false;
        if (sc->p.nops == 0)
            continue;
        sc->has = true;
        if (cm == &cost_h2c && ps)
            attach_attention(m, &sc->p, ps);
        if (!df_plan_from_module(m, &sc->p, &sc->plan, d))
            return false;
        cm->evaluate(&sc->p, &sc->plan, &sc->r);
        if (cm->detail)
            cm->detail(&sc->p, &sc->plan, &sc->det);
        mc->total.prefill += sc->r.prefill;
        mc->total.decode += sc->r.decode;
        mc->total.total += sc->r.total;
        mc->total.energy += sc->r.energy;
    }
    mc->total.decode_step = mc->sc[SCOPE_LAYER].r.decode_step;
    if (cm->whole_model && mc->gen > 0)
        mc->total.decode_step = mc->total.decode / mc->gen;
    return true;
}

/* The detail of phase op i, or NULL when its scope is not priced; *t its time. */
static const OpDetail *op_detail(const ModuleCost *mc, PhaseKind ph, const Op *op, int i, double *t) {
    const ScopeCost *sc = &mc->sc[op->scope];
    *t = 0;
    if (!sc->has)
        return NULL;
    for (int k = 0; k < sc->p.nops; k++)
        if (sc->p.index[k] == i) {
            *t = ph == PH_DECODE ? sc->r.op_decode[k] : sc->r.op_prefill[k];
            if (!mc->detail)
                return NULL;
            *t = sc->det.op[ph][k].time;
            return &sc->det.op[ph][k];
        }
    return NULL;
}

static void print_summary(FILE *out, const Module *m, const CostModel *cm, const ModuleCost *mc) {
    bool per_layer = m->cost_model == CM_ARTIFACT;
    const CostResult *r = &mc->total;
    char a[64], b[64], c[64];
    fprintf(out, "cost (%s model%s): model %s on hardware %s, workload %s (batch %d, %d + %d tokens), %s for %s\n",
            cm->name, per_layer ? ", seconds per layer" : "", m->model.name, m->dev.hw.name, m->work.name,
            m->work.batch, m->work.prompt, m->work.generate, dataflow_mode_names[m->dataflow],
            objective_names[m->objective]);
    /* the entries of the energy breakdown are indented by two more: the values line up */
    int w = 0;
    for (int k = 0; k < EF_COUNT_; k++)
        if ((int)strlen(energy_names[k]) > w)
            w = (int)strlen(energy_names[k]);
    /* how the prologue, the layers and the epilogue share a phase's time */
    bool scoped = mc->sc[SCOPE_PROLOGUE].has || mc->sc[SCOPE_EPILOGUE].has;
    char split[PH_COUNT_][200];
    for (int ph = 0; ph < PH_COUNT_; ph++) {
        split[ph][0] = 0;
        if (!scoped)
            continue;
        size_t k = (size_t)snprintf(split[ph], sizeof split[ph], "   ");
        static const OpScope order[3] = {SCOPE_PROLOGUE, SCOPE_LAYER, SCOPE_EPILOGUE};
        for (int o = 0; o < 3; o++) {
            const ScopeCost *sc = &mc->sc[order[o]];
            if (!sc->has)
                continue;
            fmt_time(a, sizeof a, ph == PH_PREFILL ? sc->r.prefill : sc->r.decode);
            k += (size_t)snprintf(split[ph] + k, sizeof split[ph] - k, "%s%s %s", k > 3 ? ", " : "",
                                  order[o] == SCOPE_LAYER ? "layers" : op_scope_names[order[o]], a);
        }
    }
    fmt_time(a, sizeof a, r->prefill);
    fprintf(out, "  %-*s %12s%s\n", w + 2, "prefill", a, split[PH_PREFILL]);
    fmt_time(a, sizeof a, r->decode);
    fmt_time(b, sizeof b, r->decode_step);
    fprintf(out, "  %-*s %12s   %d step%s x %s per step%s (one token for each of %d sequence%s)\n", w + 2, "decode", a,
            mc->gen, plural(mc->gen), b, per_layer ? " at the last context" : "", mc->batch, plural(mc->batch));
    if (scoped)
        fprintf(out, "  %-*s %12s%s\n", w + 2, "", "", split[PH_DECODE]);
    fmt_time(a, sizeof a, r->total);
    fprintf(out, "  %-*s %12s\n", w + 2, "total", a);
    if (!cm->has_energy || !mc->detail) {
        fprintf(out, "  %-*s %12s   not modelled by the %s cost model\n", w + 2, "energy", "-", cm->name);
        return;
    }
    double by[EF_COUNT_] = {0}, phase[PH_COUNT_] = {0};
    for (int s = 0; s < SCOPE_COUNT_; s++) {
        const ScopeCost *sc = &mc->sc[s];
        if (!sc->has)
            continue;
        for (int ph = 0; ph < PH_COUNT_; ph++)
            for (int i = 0; i < sc->p.nops; i++) {
                const OpDetail *od = &sc->det.op[ph][i];
                for (int k = 0; k < EF_COUNT_; k++)
                    by[k] += od->energy[k];
                phase[ph] += energy_sum(od->energy);
            }
    }
    fmt_energy(a, sizeof a, r->energy);
    fmt_energy(b, sizeof b, phase[PH_PREFILL]);
    fmt_energy(c, sizeof c, phase[PH_DECODE]);
    fprintf(out, "  %-*s %12s   prefill %s, decode %s\n", w + 2, "energy", a, b, c);
    double sum = energy_sum(by);
    for (int k = 0; k < EF_COUNT_; k++) {
        fmt_energy(a, sizeof a, by[k]);
        fprintf(out, "    %-*s %12s %6.2f%%  %s\n", w, energy_names[k], a, sum > 0 ? 100 * by[k] / sum : 0,
                energy_what[k]);
    }
}

/* One phase's table: a line per op, grouped by scope (the prologue, the layer, the epilogue), then
 * the phase's total. */
static void print_phase(FILE *out, const Module *m, const CostModel *cm, const ModuleCost *mc, PhaseKind ph) {
    const Phase *P = &m->phases[ph];
    bool decode = ph == PH_DECODE;
    int nw = (int)strlen("op"), kw = (int)strlen("kind");
    for (int i = 0; i < P->nops; i++) {
        int l = (int)strlen(P->ops[i].name) + 1, k = (int)strlen(op_info[P->ops[i].code].name);
        nw = l > nw ? l : nw;
        kw = k > kw ? k : kw;
    }
    const char *every = m->cost_model == CM_ARTIFACT ? "per layer, of " : "all ";
    if (decode)
        fprintf(out, "\ndecode: %d step%s, contexts %d..%d, %s%d layer%s\n", mc->gen, plural(mc->gen), P->ctx_first,
                P->ctx_last, every, mc->layers, plural(mc->layers));
    else
        fprintf(out, "\nprefill: %d token%s for each of %d sequence%s, %s%d layer%s\n", mc->prompt, plural(mc->prompt),
                mc->batch, plural(mc->batch), every, mc->layers, plural(mc->layers));
    double total = decode ? mc->total.decode : mc->total.prefill, sum = 0;
    /* the model's detail, if it has one: the NPU and NMP parts of decode, bytes moved, energy */
    bool det = mc->detail;
    bool parts = decode && det, moved = det, energy = det && cm->has_energy;
    fprintf(out, "  %-*s  %-*s  %10s  %6s  ", nw, "op", kw, "kind", "time", "share");
    if (parts)
        fprintf(out, "%10s  %10s  ", "npu part", "nmp part");
    if (moved)
        fprintf(out, "%10s  ", "moved");
    if (energy)
        fprintf(out, "%10s  ", "energy");
    if (decode)
        fprintf(out, "%-9s  ", "position");
    fprintf(out, "%s\n", "runs on (data on)");
    for (int i = 0; i < P->nops; i++) {
        const Op *op = &P->ops[i];
        if (op->scope != SCOPE_LAYER && (i == 0 || P->ops[i - 1].scope != op->scope))
            fprintf(out, "  %s (once per %s)%s\n", op_scope_names[op->scope], decode ? "step" : "prompt",
                    mc->sc[op->scope].has ? "" : ": not priced by this cost model, which prices one layer");
        else if (op->scope == SCOPE_LAYER && i > 0 && P->ops[i - 1].scope != SCOPE_LAYER)
            fprintf(out, "  layer (x %d)\n", mc->layers);
        double t;
        const OpDetail *od = op_detail(mc, ph, op, i, &t);
        sum += t;
        char tm[32], npu[32] = "-", nmp[32] = "-", mv[32] = "-", en[32] = "-", pos[32] = "", runs[200], data[128];
        fmt_time(tm, sizeof tm, t);
        if (!mc->sc[op->scope].has)
            snprintf(tm, sizeof tm, "-");
        if (od) {
            fmt_time(npu, sizeof npu, od->npu);
            fmt_time(nmp, sizeof nmp, od->nmp);
            fmt_bytes(mv, sizeof mv, od->bytes);
            if (cm->has_energy)
                fmt_energy(en, sizeof en, energy_sum(od->energy));
        }
        char name[80];
        snprintf(name, sizeof name, "%%%s", op->name);
        if (decode && op->df.group >= 0)
            snprintf(pos, sizeof pos, "g%d p%d s%d", op->df.group, op->df.part, op->df.stratum);
        fmt_runs_on(runs, sizeof runs, m, ph, op, i);
        fmt_data_on(data, sizeof data, m, op);
        char where[340];
        snprintf(where, sizeof where, strcmp(data, "-") ? "%s (%s)" : "%s", runs, data);
        fprintf(out, "  %-*s  %-*s  %10s  %5.1f%%  ", nw, name, kw, op_info[op->code].name, tm,
                total > 0 ? 100 * t / total : 0);
        if (parts)
            fprintf(out, "%10s  %10s  ", npu, nmp);
        if (moved)
            fprintf(out, "%10s  ", mv);
        if (energy)
            fprintf(out, "%10s  ", en);
        if (decode)
            fprintf(out, "%-9s  ", pos);
        fprintf(out, "%s\n", where);
    }
    char a[32], b[32];
    fmt_time(a, sizeof a, total);
    if (decode) {
        fmt_time(b, sizeof b, sum);
        fprintf(out, "  decode total %s; the ops' own times add up to %s (in a stratum the NMP parts overlap the NPU\n"
                     "  parts, and the partitions of a group run in parallel)\n", a, b);
    } else {
        fprintf(out, "  prefill total %s: the ops run one after another on the NPU\n", a);
    }
}

/* ---------------------------------------------------------------- attention plans */

/* A sum over the decode steps of one figure of some attentions' plans at each context. */
typedef struct AttnSumArgs {
    AttnCost *const *costs;
    int n;
    int which;          /* 0: time, 1: KV bytes read, 2 + k: energy entry k (pJ) */
} AttnSumArgs;

static double attn_fn(const void *data, double ctx) {
    const AttnSumArgs *a = data;
    double v = 0;
    for (int i = 0; i < a->n; i++) {
        if (!a->costs[i])
            continue;
        AttnLayerCost c;
        attn_cost_all(a->costs[i], ctx, &c);
        v += a->which == 0 ? c.time : a->which == 1 ? c.kv_bytes : c.pj[a->which - 2];
    }
    return v;
}

/* What the ablation shows of one variant, per decode step averaged over the steps. */
typedef struct AttnFigures {
    bool fits;
    char why[300];
    double attn_time;       /* seconds per step, all layers */
    double decode_time;     /* seconds per step, the whole model */
    double kv_bytes;        /* per step */
    double pj[EF_COUNT_];   /* attention energy per step by entry */
    double imbalance;       /* at the last context: the layers' mean of max / mean PE load; 0: no PE */
} AttnFigures;

static void attn_figures(const Module *m, const CostModel *cm, const Attention *att, int n, AttnFigures *f, Diag *d) {
    AttnCost **costs = h2c_raw_alloc(sizeof(AttnCost *) * (size_t)(n + 1));
    ModuleCost *mc = h2c_raw_alloc(sizeof *mc);
    f->fits = costs && mc;
    for (int i = 0; f->fits && i < n; i++) {
        costs[i] = attn_cost_new(m, &att[i]);
        f->fits = costs[i] != NULL;
    }
    PlanSet ps = {att, costs, n};
    Diag quiet;
    diag_init_quiet(&quiet);
    if (f->fits && price_module(m, cm, &ps, mc, &quiet)) {
        const DfProblem *p = &mc->sc[SCOPE_LAYER].p;
        double gen = m->work.generate > 0 ? m->work.generate : 1;
        f->decode_time = mc->total.decode / gen;
        for (int w = 0; w < 2 + EF_COUNT_; w++) {
            AttnSumArgs a = {costs, n, w};
            double v = cost_sum_decode(p, attn_fn, &a) / gen;
            if (w == 0)
                f->attn_time = v;
            else if (w == 1)
                f->kv_bytes = v;
            else
                f->pj[w - 2] = v;
        }
        double ctx = m->phases[PH_DECODE].ctx_last, imb = 0, layers = 0;
        bool pes = false;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < attn_cost_classes(costs[i]); k++) {
                AttnLayerCost c;
                Range r;
                attn_cost_class(costs[i], k, ctx, &r, &c);
                if (c.mean > 0) {
                    imb += (double)(r.hi - r.lo) * c.makespan / c.mean;
                    pes = true;
                }
                layers += (double)(r.hi - r.lo);
            }
        f->imbalance = pes && layers > 0 ? imb / layers : 0;
    } else if (f->fits) {
        f->fits = false;
        snprintf(f->why, sizeof f->why, "the plan cannot be priced");
    }
    (void)d;
    for (int i = 0; costs && i < n; i++)
        attn_cost_free(costs[i]);
    h2c_raw_free(costs, sizeof(AttnCost *) * (size_t)(n + 1));
    h2c_raw_free(mc, sizeof *mc);
}

/* "4 static, 4 dynamic": the patterns of layer l's heads. */
static void fmt_patterns(char *buf, size_t n, const Module *m, const Attention *a, int l) {
    int count[PAT_COUNT_] = {0};
    for (int h = 0; h < m->model.kv_heads; h++) {
        const AttnPatternLine *pl = attn_pattern_at(a, l, h);
        if (pl)
            count[pl->pat.kind]++;
    }
    size_t k = 0;
    buf[0] = 0;
    for (int t = 0; t < PAT_COUNT_ && k < n; t++)
        if (count[t])
            k += (size_t)snprintf(buf + k, n - k, "%s%d %s", k ? ", " : "", count[t], pat_kind_names[t]);
}

/* The module's own plans, layer class by layer class, at the last decode context. */
static void print_attention_layers(FILE *out, const Module *m, const Attention *a, AttnCost *cost) {
    double ctx = m->phases[PH_DECODE].ctx_last;
    const char *name = m->phases[PH_DECODE].ops[a->value_op].name;
    fprintf(out, "\nattention %%%s: the plan layer by layer, one decode step at the last context (%.0f tokens)\n", name,
            ctx);
    fprintf(out, "  %-7s  %-22s  %5s  %5s  %10s  %10s  %7s  %6s  %9s  %10s\n", "layers", "patterns", "tiles", "PEs",
            "makespan", "bound", "/bound", "util", "imbalance", "layer time");
    for (int k = 0; k < attn_cost_classes(cost); k++) {
        AttnLayerCost c;
        Range r;
        attn_cost_class(cost, k, ctx, &r, &c);
        char layers[32], pats[64], mk[32], lb[32], lt[32], ratio[16] = "-", util[16] = "-", imb[16] = "-";
        if (r.hi - r.lo == 1)
            snprintf(layers, sizeof layers, "%lld", r.lo);
        else
            snprintf(layers, sizeof layers, "%lld-%lld", r.lo, r.hi - 1);
        fmt_patterns(pats, sizeof pats, m, a, (int)r.lo);
        fmt_time(mk, sizeof mk, c.makespan);
        fmt_time(lb, sizeof lb, c.lower);
        fmt_time(lt, sizeof lt, c.time);
        if (c.lower > 0 && c.makespan > 0) {
            snprintf(ratio, sizeof ratio, "%.3f", c.makespan / c.lower);
            snprintf(util, sizeof util, "%.1f%%", 100 * c.mean / c.makespan);
            snprintf(imb, sizeof imb, "%.2f", c.makespan / c.mean);
        }
        fprintf(out, "  %-7s  %-22s  %5d  %5d  %10s  %10s  %7s  %6s  %9s  %10s\n", layers, pats, c.tiles, c.pes_used, mk,
                lb, ratio, util, imb, lt);
    }
    fprintf(out, "  (makespan: the busiest PE; bound: max(PE work / usable PEs, largest tile); util: mean / busiest;\n"
                 "  layer time adds the transfers of queries, page scores and partial states, and the merge)\n");
}

typedef struct Variant {
    const char *head1, *head2;
    bool dense;         /* all heads dense, else the sparsity block's patterns */
    AttnTiling how;
    bool balance;       /* then pass_balance's tiling from it */
} Variant;

static const Variant variants[5] = {
    {"(a) dense", "head per PE", true, TILING_HEAD_PER_PE, false},
    {"(b) dense", "co-pl.+bal.", true, TILING_COPLACE, true},
    {"(c) hybrid", "naive", false, TILING_NAIVE, false},
    {"(d) hybrid", "co-placed", false, TILING_COPLACE, false},
    {"(e) hybrid", "co-pl.+bal.", false, TILING_COPLACE, true},
};

/* Builds variant v's plans of the module's attentions into att (n of them), in ar. False, with the
 * reason, if one cannot be made or does not fit. */
static bool build_variant(Arena *ar, const Module *m, const Variant *v, Attention *att, int n, char *why, size_t wn) {
    for (int i = 0; i < n; i++) {
        Attention *a = &att[i];
        int idx = -1;
        for (int j = 0; j < m->nattns; j++)
            if (m->attns[j].value_op == a->value_op)
                idx = j;
        if (v->dense) {
            attn_plan_dense(ar, m, a);
        } else if (idx >= 0 && m->attns[idx].npats > 0) {
            a->pats = m->attns[idx].pats;
            a->npats = a->pats_cap = m->attns[idx].npats;
            a->pats_cap = 0;    /* (shared with the module: never grown) */
        } else {
            snprintf(why, wn, "no sparsity block");
            return false;
        }
        if (!attn_plan_tile(ar, m, idx, a, v->how, NULL)) {
            snprintf(why, wn, "no PE to compute on");
            return false;
        }
        if (attn_plan_fits(m, idx, a, why, wn) != 1)
            return false;
        if (v->balance) {
            Attention cand = *a;
            char w2[300];
            if (attn_plan_tile(ar, m, idx, &cand, TILING_BALANCE, a) && attn_plan_fits(m, idx, &cand, w2, sizeof w2) == 1)
                *a = cand;
        }
    }
    return true;
}

static void ablation_in(FILE *out, const Module *m, const CostModel *cm, Arena *arp, Diag *d);

/* The ablation table, its plans built in a scratch arena whose exhaustion ends it with a message. */
static bool print_ablation(FILE *out, const Module *m, const CostModel *cm, Diag *d) {
    Arena *const ar = h2c_raw_alloc(sizeof *ar);
    if (!ar) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    arena_init(ar);
    jmp_buf jb;
    if (setjmp(jb)) {
        arena_free(ar);
        h2c_raw_free(ar, sizeof *ar);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    ar->oom = &jb;
    ablation_in(out, m, cm, ar, d);
    arena_free(ar);
    h2c_raw_free(ar, sizeof *ar);
    return true;
}

static void ablation_in(FILE *out, const Module *m, const CostModel *cm, Arena *arp, Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    int n = 0;
    Attention *found = ARENA_ARRAY(arp, Attention, dc->nops + 1);
    for (int v = 0; v < dc->nops; v++)
        if (attn_plan_find(m, v, &found[n]))
            n++;
    AttnFigures fig[5];
    memset(fig, 0, sizeof fig);
    for (int k = 0; k < 5; k++) {
        Attention *att = ARENA_ARRAY(arp, Attention, n + 1);
        memcpy(att, found, sizeof(Attention) * (size_t)n);
        fig[k].fits = build_variant(arp, m, &variants[k], att, n, fig[k].why, sizeof fig[k].why);
        if (fig[k].fits)
            attn_figures(m, cm, att, n, &fig[k], d);
    }
    double batch = m->work.batch > 0 ? m->work.batch : 1;
    fprintf(out, "\nablation: decode attention on hardware %s, workload %s (contexts %d..%d, %d step%s, batch %d); the "
                 "same dataflow\nfor everything else; times per decode step, bytes and energy per generated token "
                 "(a step's / batch)\n", m->dev.hw.name, m->work.name, dc->ctx_first, dc->ctx_last, dc->steps,
            plural(dc->steps), m->work.batch);
    const int lw = 28, cw = 13;
    fprintf(out, "  %-*s", lw, "");
    for (int k = 0; k < 5; k++)
        fprintf(out, "%*s", cw, variants[k].head1);
    fprintf(out, "\n  %-*s", lw, "");
    for (int k = 0; k < 5; k++)
        fprintf(out, "%*s", cw, variants[k].head2);
    fputc('\n', out);
    enum { R_BYTES, R_ATTN, R_SPEED, R_DECODE, R_ENERGY, R_DRAM, R_HB, R_CHAN, R_SRAM, R_MAC, R_EFF, R_IMB, R_N };
    static const char *const rows[R_N] = {"KV bytes read per token", "attention time per step", "  speedup over (a)",
                                          "decode time per step", "attention energy per token", "  DRAM array",
                                          "  hybrid bond", "  channel", "  SRAM", "  MAC", "  efficiency over (a)",
                                          "PE imbalance (max/mean)"};
    for (int r = 0; r < R_N; r++) {
        fprintf(out, "  %-*s", lw, rows[r]);
        for (int k = 0; k < 5; k++) {
            const AttnFigures *f = &fig[k], *a = &fig[0];
            char cell[40] = "-";
            double e = 0;
            for (int j = 0; j < EF_COUNT_; j++)
                e += f->pj[j];
            double ea = 0;
            for (int j = 0; j < EF_COUNT_; j++)
                ea += a->pj[j];
            if (!f->fits) {
                snprintf(cell, sizeof cell, r == 0 ? "no fit" : "");
            } else {
                switch (r) {
                case R_BYTES: fmt_bytes(cell, sizeof cell, f->kv_bytes / batch); break;
                case R_ATTN: fmt_time(cell, sizeof cell, f->attn_time); break;
                case R_SPEED:
                    if (a->fits && f->attn_time > 0)
                        snprintf(cell, sizeof cell, "%.2fx", a->attn_time / f->attn_time);
                    break;
                case R_DECODE: fmt_time(cell, sizeof cell, f->decode_time); break;
                case R_ENERGY: fmt_energy(cell, sizeof cell, e / batch * 1e-12); break;
                case R_DRAM: fmt_energy(cell, sizeof cell, f->pj[EF_dram_read] / batch * 1e-12); break;
                case R_HB: fmt_energy(cell, sizeof cell, f->pj[EF_hb_io] / batch * 1e-12); break;
                case R_CHAN:
                    fmt_energy(cell, sizeof cell, (f->pj[EF_channel_io] + f->pj[EF_dram_on_die]) / batch * 1e-12);
                    break;
                case R_SRAM: fmt_energy(cell, sizeof cell, f->pj[EF_sram_access] / batch * 1e-12); break;
                case R_MAC: fmt_energy(cell, sizeof cell, (f->pj[EF_pe_mac] + f->pj[EF_npu_mac]) / batch * 1e-12); break;
                case R_EFF:
                    if (a->fits && e > 0)
                        snprintf(cell, sizeof cell, "%.2fx", ea / e);
                    break;
                case R_IMB:
                    if (f->imbalance > 0)
                        snprintf(cell, sizeof cell, "%.2f", f->imbalance);
                    break;
                }
            }
            fprintf(out, "%*s", cw, cell);
        }
        fputc('\n', out);
    }
    for (int k = 0; k < 5; k++)
        if (!fig[k].fits)
            fprintf(out, "  %s %s: %s\n", variants[k].head1, variants[k].head2, fig[k].why);
    fprintf(out, "  (a) whole heads on banks, one per PE; (b) dense, co-placed and balanced tiles; (c) the sparsity "
                 "block's\n  patterns, KV striped over the banks and read by the NPU; (d) co-placed (pass_coplace); "
                 "(e) balanced\n  (pass_balance), the compiled plan. Channel: channel.io + dram.on_die; MAC: pe.mac + "
                 "npu.mac\n");
}

/* ---------------------------------------------------------------- the sweep's ablation hook */

/* Decode time (all steps) and decode energy of m with its attentions priced by att[0..n). */
static bool decode_cost(const Module *m, const Attention *att, int n, double *time, double *energy, Diag *d) {
    const CostModel *cm = cost_model_get(m->cost_model);
    AttnCost **costs = h2c_raw_alloc(sizeof(AttnCost *) * (size_t)(n + 1));
    ModuleCost *mc = h2c_raw_alloc(sizeof *mc);
    bool ok = costs && mc;
    if (costs)
        memset(costs, 0, sizeof(AttnCost *) * (size_t)(n + 1));
    for (int i = 0; ok && i < n; i++) {
        costs[i] = att[i].ntiles > 0 ? attn_cost_new(m, &att[i]) : NULL;
        ok = att[i].ntiles == 0 || costs[i];
    }
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    PlanSet ps = {att, costs, n};
    if (ok)
        ok = price_module(m, cm, &ps, mc, d);
    if (ok) {
        *time = mc->total.decode;
        *energy = 0;
        for (int s = 0; s < SCOPE_COUNT_; s++)
            for (int i = 0; mc->sc[s].has && i < mc->sc[s].p.nops; i++)
                *energy += energy_sum(mc->sc[s].det.op[PH_DECODE][i].energy);
    }
    for (int i = 0; costs && i < n; i++)
        attn_cost_free(costs[i]);
    h2c_raw_free(costs, sizeof(AttnCost *) * (size_t)(n + 1));
    h2c_raw_free(mc, sizeof *mc);
    return ok;
}

/* The sweep point's module (a copy) mapped, planned and priced: the full plan (patterns, co-placement,
 * balance) and the dense HB baseline (whole heads, one per PE). A plan that does not fit leaves its
 * side as explore set it (the dense plan's). */
static bool ablate(Module *c, Ablation *out, Arena *ar, Diag *d) {
    static const char *const passes[] = {"dataflow", "sparsity", "coplace", "balance"};
    PipelineOpts po = {NULL, NULL, false, false, false, NULL};
    Diag quiet;
    diag_init_quiet(&quiet);
    if (!pipeline_run(c, passes, 2, &po, d))
        return false;
    if (pipeline_run(c, passes + 2, 2, &po, &quiet) && c->nattns > 0) {
        if (!decode_cost(c, c->attns, c->nattns, &out->full_decode, &out->full_energy, d))
            return false;
    }
    const Phase *dc = &c->phases[PH_DECODE];
    int n = 0;
    Attention *att = ARENA_ARRAY(ar, Attention, dc->nops + 1);
    for (int v = 0; v < dc->nops; v++)
        if (attn_plan_find(c, v, &att[n]))
            n++;
    char why[300];
    if (n > 0 && build_variant(ar, c, &variants[0], att, n, why, sizeof why))
        return decode_cost(c, att, n, &out->base_decode, &out->base_energy, d);
    return true;
}

bool report_ablation(const Module *m, const Hardware *hw, const Sparsity *sp, Ablation *out, Diag *d, void *ctx) {
    (void)ctx;
    if (m->cost_model != CM_H2C)
        return true;    /* (the artifact's model prices dense attention only) */
    Module *c = ir_module_copy(m, d);
    Arena *const ar = c ? h2c_raw_alloc(sizeof *ar) : NULL;
    if (!c || !ar) {
        if (c)
            diag_error(d, NOLOC, "out of memory");
        ir_module_free(c);
        return false;
    }
    arena_init(ar);
    const char *name = c->dev.hw.name;
    c->dev.hw = *hw;
    c->dev.hw.name = name;
    ir_device_build(&c->arena, &c->dev);
    c->has_sparsity = true;
    c->sparsity = *sp;
    jmp_buf jb;
    volatile bool ok = false;
    if (!setjmp(jb)) {
        ar->oom = &jb;
        c->arena.oom = &jb;
        ok = ablate(c, out, ar, d);
    } else {
        diag_error(d, NOLOC, "out of memory");
    }
    arena_free(ar);
    h2c_raw_free(ar, sizeof *ar);
    ir_module_free(c);
    return ok;
}

bool report_print(FILE *out, const Module *m, ReportKind kind, Diag *d) {
    if (kind == REPORT_NONE)
        return true;
    char why[200];
    if (!report_ready(m, why, sizeof why)) {
        diag_error(d, NOLOC, "no cost report: %s", why);
        return false;
    }
    const CostModel *cm = cost_model_get(m->cost_model);
    ModuleCost *mc = h2c_raw_alloc(sizeof *mc);
    AttnCost **costs = h2c_raw_alloc(sizeof(AttnCost *) * (size_t)(m->nattns + 1));
    if (!mc || !costs) {
        h2c_raw_free(mc, sizeof *mc);
        h2c_raw_free(costs, sizeof(AttnCost *) * (size_t)(m->nattns + 1));
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    bool ok = true;
    for (int i = 0; i < m->nattns; i++) {
        costs[i] = m->attns[i].ntiles > 0 ? attn_cost_new(m, &m->attns[i]) : NULL;
        if (m->attns[i].ntiles > 0 && !costs[i])
            ok = false;
    }
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    PlanSet ps = {m->attns, costs, m->nattns};
    if (ok)
        ok = price_module(m, cm, &ps, mc, d);
    if (ok && kind == REPORT_ATTENTION && cm != &cost_h2c) {
        diag_error(d, NOLOC, "--report=attention needs the h2c cost model (%s prices dense attention per layer)",
                   cm->name);
        ok = false;
    }
    if (ok) {
        print_summary(out, m, cm, mc);
        if (kind == REPORT_OPS) {
            print_phase(out, m, cm, mc, PH_PREFILL);
            print_phase(out, m, cm, mc, PH_DECODE);
        }
        if (kind == REPORT_ATTENTION) {
            for (int i = 0; i < m->nattns; i++)
                if (costs[i])
                    print_attention_layers(out, m, &m->attns[i], costs[i]);
            if (m->nattns == 0)
                fprintf(out, "\nno attention plan: %s\n", m->has_sparsity ? "the sparsity passes have not run"
                                                                           : "the module has no sparsity block");
            ok = print_ablation(out, m, cm, d);
        }
    }
    for (int i = 0; i < m->nattns; i++)
        attn_cost_free(costs[i]);
    h2c_raw_free(costs, sizeof(AttnCost *) * (size_t)(m->nattns + 1));
    h2c_raw_free(mc, sizeof *mc);
    return ok;
}

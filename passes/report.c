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

/* Where an op runs, from its tiles: npu, nmp ch{..}, pe (count), or the NMP share of a split. */
static void fmt_runs_on(char *buf, size_t n, const Op *op) {
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
    ChanSet all = 0;
    const Tensor *t = &m->tensors[op->tensor];
    for (int i = 0; i < t->ntiles; i++)
        all |= t->tiles[i].place.chans;
    fmt_chans(buf, n, all);
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
        if (m->tensors[t].ntiles == 0) {
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
        fmt_runs_on(runs, sizeof runs, op);
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
    if (!mc) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    memset(mc, 0, sizeof *mc);
    mc->detail = cm->detail != NULL;
    mc->gen = m->work.generate;
    mc->batch = m->work.batch;
    mc->prompt = m->work.prompt;
    mc->layers = m->model.layers;
    bool ok = true;
    for (int s = 0; s < SCOPE_COUNT_ && ok; s++) {
        ScopeCost *sc = &mc->sc[s];
        if (s != SCOPE_LAYER && !cm->whole_model)
            continue;
        if (!df_problem_scope(m, cm, (OpScope)s, &sc->p, d)) {
            ok = false;
            break;
        }
        if (sc->p.nops == 0)
            continue;
        sc->has = true;
        if (!df_plan_from_module(m, &sc->p, &sc->plan, d)) {
            ok = false;
            break;
        }
        cm->evaluate(&sc->p, &sc->plan, &sc->r);
        if (cm->detail)
            cm->detail(&sc->p, &sc->plan, &sc->det);
        mc->total.prefill += sc->r.prefill;
        mc->total.decode += sc->r.decode;
        mc->total.total += sc->r.total;
        mc->total.energy += sc->r.energy;
    }
    if (ok) {
        mc->total.decode_step = mc->sc[SCOPE_LAYER].r.decode_step;
        if (cm->whole_model && mc->gen > 0)
            mc->total.decode_step = mc->total.decode / mc->gen;
        print_summary(out, m, cm, mc);
        if (kind == REPORT_OPS) {
            print_phase(out, m, cm, mc, PH_PREFILL);
            print_phase(out, m, cm, mc, PH_DECODE);
        }
    }
    h2c_raw_free(mc, sizeof *mc);
    return ok;
}

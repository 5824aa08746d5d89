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
    if (dc->nops > DF_MAX_OPS) {
        snprintf(why, n, "the layer has %d ops; costs are computed for up to %d", dc->nops, DF_MAX_OPS);
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

static void print_summary(FILE *out, const Module *m, const CostModel *cm, const DfProblem *p, const CostResult *r,
                          const CostDetail *det) {
    bool per_layer = m->cost_model == CM_ARTIFACT;
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
    fmt_time(a, sizeof a, r->prefill);
    fprintf(out, "  %-*s %12s\n", w + 2, "prefill", a);
    fmt_time(a, sizeof a, r->decode);
    fmt_time(b, sizeof b, r->decode_step);
    fprintf(out, "  %-*s %12s   %d step%s x %s per step%s (one token for each of %d sequence%s)\n", w + 2, "decode", a,
            p->gen, plural(p->gen), b, per_layer ? " at the last context" : "", p->batch, plural(p->batch));
    fmt_time(a, sizeof a, r->total);
    fprintf(out, "  %-*s %12s\n", w + 2, "total", a);
    if (!cm->has_energy || !det) {
        fprintf(out, "  %-*s %12s   not modelled by the %s cost model\n", w + 2, "energy", "-", cm->name);
        return;
    }
    double by[EF_COUNT_] = {0}, phase[PH_COUNT_] = {0};
    for (int ph = 0; ph < PH_COUNT_; ph++) {
        for (int i = 0; i <= p->nops; i++) {
            const OpDetail *od = i < p->nops ? &det->op[ph][i] : &det->head[ph];
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

/* One phase's table: a line per op (and the LM head), then the phase's total. */
static void print_phase(FILE *out, const Module *m, const CostModel *cm, const DfProblem *p, const CostResult *r,
                        const CostDetail *det, PhaseKind ph) {
    const Phase *P = &m->phases[ph];
    bool decode = ph == PH_DECODE, head = det && p->vocab > 0;
    int nw = (int)strlen("op"), kw = (int)strlen("kind");
    for (int i = 0; i < P->nops; i++) {
        int l = (int)strlen(P->ops[i].name) + 1, k = (int)strlen(op_info[P->ops[i].code].name);
        nw = l > nw ? l : nw;
        kw = k > kw ? k : kw;
    }
    if (head && nw < (int)strlen("lm_head"))
        nw = (int)strlen("lm_head");
    if (decode)
        fprintf(out, "\ndecode: %d step%s, contexts %d..%d, %s%d layer%s\n", p->gen, plural(p->gen), P->ctx_first,
                P->ctx_last, m->cost_model == CM_ARTIFACT ? "per layer, of " : "all ", p->layers, plural(p->layers));
    else
        fprintf(out, "\nprefill: %d token%s for each of %d sequence%s, %s%d layer%s\n", p->prompt, plural(p->prompt),
                p->batch, plural(p->batch), m->cost_model == CM_ARTIFACT ? "per layer, of " : "all ", p->layers,
                plural(p->layers));
    double total = decode ? r->decode : r->prefill, sum = 0;
    /* the model's detail, if it has one: the NPU and NMP parts of decode, bytes moved, energy */
    bool parts = decode && det, moved = det != NULL, energy = det && cm->has_energy;
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
    for (int i = 0; i <= P->nops; i++) {
        if (i == P->nops && !head)
            break;
        const OpDetail *od = !det ? NULL : i < P->nops ? &det->op[ph][i] : &det->head[ph];
        double t = od ? od->time : decode ? r->op_decode[i] : r->op_prefill[i];
        sum += t;
        char tm[32], npu[32] = "-", nmp[32] = "-", mv[32] = "-", en[32] = "-", pos[32] = "", runs[200], data[128];
        fmt_time(tm, sizeof tm, t);
        if (od) {
            fmt_time(npu, sizeof npu, od->npu);
            fmt_time(nmp, sizeof nmp, od->nmp);
            fmt_bytes(mv, sizeof mv, od->bytes);
            if (cm->has_energy)
                fmt_energy(en, sizeof en, energy_sum(od->energy));
        }
        char name[80];
        const char *kind;
        if (i < P->nops) {
            const Op *op = &P->ops[i];
            snprintf(name, sizeof name, "%%%s", op->name);
            kind = op_info[op->code].name;
            if (decode && op->df.group >= 0)
                snprintf(pos, sizeof pos, "g%d p%d s%d", op->df.group, op->df.part, op->df.stratum);
            fmt_runs_on(runs, sizeof runs, op);
            fmt_data_on(data, sizeof data, m, op);
        } else {
            snprintf(name, sizeof name, "lm_head");
            kind = "fc";
            snprintf(runs, sizeof runs, "npu");
            fmt_chans(data, sizeof data, dev_all_set(&m->dev));
        }
        char where[340];
        snprintf(where, sizeof where, strcmp(data, "-") ? "%s (%s)" : "%s", runs, data);
        fprintf(out, "  %-*s  %-*s  %10s  %5.1f%%  ", nw, name, kw, kind, tm, total > 0 ? 100 * t / total : 0);
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
    DfProblem p;
    if (!df_problem_from_module(m, cm, &p, d))
        return false;
    DfPlan plan;
    if (!df_plan_from_module(m, &p, &plan)) {
        diag_error(d, NOLOC, "no cost report: the decode graph has a cycle");
        return false;
    }
    CostResult r;
    cm->evaluate(&p, &plan, &r);
    CostDetail *det = NULL;
    if (cm->detail) {
        det = h2c_raw_alloc(sizeof *det);
        if (!det) {
            diag_error(d, NOLOC, "out of memory");
            return false;
        }
        cm->detail(&p, &plan, det);
    }
    print_summary(out, m, cm, &p, &r, det);
    if (kind == REPORT_OPS) {
        print_phase(out, m, cm, &p, &r, det, PH_PREFILL);
        print_phase(out, m, cm, &p, &r, det, PH_DECODE);
    }
    h2c_raw_free(det, sizeof *det);
    return true;
}

/* emu_report.c: the summary of an emulated run (runtime.h): prefill time, time per decode step and
 * tokens/s, energy per generated token by component, the utilisation of every unit and link, the
 * commands that took the most time, and per op the emulated time beside the estimates (the
 * commands' own `est` and the cost model's per-op figure), with the gap in percent. */
#include "runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *si(double v, const char *unit, char *buf, size_t n) {
    static const struct { double f; const char *p; } sc[] = {{1, ""}, {1e-3, "m"}, {1e-6, "u"}, {1e-9, "n"}, {1e-12, "p"}};
    double a = fabs(v);
    int k = 0;
    while (k < 4 && a < sc[k].f && a != 0)
        k++;
    snprintf(buf, n, "%.4g %s%s", v / sc[k].f, sc[k].p, unit);
    return buf;
}

static const RtCmdStat *top_of;
static int by_time(const void *a, const void *b) {
    double x = top_of[*(const int *)a].time, y = top_of[*(const int *)b].time;
    return x > y ? -1 : x < y ? 1 : *(const int *)a - *(const int *)b;
}

static const RtCmd *find_cmd(const RtSchedule *s, int p, int sc, int id, const RtStream **stp) {
    const RtBody *b = &s->phase[p].body[sc];
    for (int k = 0; k < b->nstreams; k++)
        for (int i = 0; i < b->streams[k].ncmds; i++)
            if (b->streams[k].cmds[i].id == id) {
                *stp = &b->streams[k];
                return &b->streams[k].cmds[i];
            }
    return NULL;
}

static double gap(double emu, double est) { return est > 0 ? 100 * (emu - est) / est : 0; }

bool rt_report(FILE *out, const RtSchedule *s, const RtTime *t, const RtRunStats *st) {
    char a[64], b[64], c[64], e4[64];
    int *idx = h2c_raw_alloc(sizeof(int) * (size_t)(st->ncmds + 1));
    if (!idx)
        return false;       /* before anything is printed */
    fprintf(out, "run: %s on %s: %d of %d layers, batch %d, prompt %d, %d decode steps\n", s->model_name, s->dev.name,
            st->layers, s->layers, st->batch, s->prompt, st->steps);
    double tokens = (double)st->steps * st->batch;
    fprintf(out, "  prefill            %s\n", si(st->prefill_time, "s", a, sizeof a));
    if (st->steps > 0) {
        fprintf(out, "  decode             %s per step (%d steps: %s), %.4g tokens/s\n",
                si(st->decode_time / st->steps, "s", a, sizeof a), st->steps, si(st->decode_time, "s", b, sizeof b),
                tokens / st->decode_time);
        double tot = 0;
        for (int k = 0; k < RT_ENERGY_COUNT; k++)
            tot += st->energy[1][k];
        fprintf(out, "  energy per token   %s (decode)\n", si(tot / tokens, "J", a, sizeof a));
        for (int k = 0; k < RT_ENERGY_COUNT; k++)
            if (st->energy[1][k] > 0)
                fprintf(out, "    %-14s %12s %6.2f%%\n", s->dev.energy[k].name, si(st->energy[1][k] / tokens, "J", a, sizeof a),
                        100 * st->energy[1][k] / tot);
    }
    double total = st->prefill_time + st->decode_time;
    fprintf(out, "utilisation (busy / %s, prefill and decode):\n", si(total, "s", a, sizeof a));
    /* by kind: the NPU, the PEs, the channel links, the bonds, the transfer links (mean and the busiest) */
    static const char *const kinds[5] = {"npu", "pe", "channel link", "hybrid bond", "transfer link"};
    for (int k = 0; k < 5; k++) {
        double sum = 0, mx = -1;
        int n = 0, arg = -1;
        for (int r = 0; r < rt_time_resources(t); r++) {
            int kind = r < s->dev.nunits ? (s->dev.units[r].kind == RT_UNIT_NPU ? 0 : s->dev.units[r].kind == RT_UNIT_PE ? 1 : -1)
                                         : 2 + (int)s->dev.links[r - s->dev.nunits].kind;
            if (kind != k)
                continue;
            double u = total > 0 ? rt_time_busy(t, r) / total : 0;
            sum += u, n++;
            if (u > mx)
                mx = u, arg = r;
        }
        if (n == 0)
            continue;
        if (n == 1)
            fprintf(out, "  %-14s %6.2f%%\n", kinds[k], 100 * sum);
        else
            fprintf(out, "  %-14s %6.2f%% mean of %d, busiest %s %.2f%%\n", kinds[k], 100 * sum / n, n,
                    rt_time_resource_name(t, arg, a, sizeof a), 100 * mx);
    }
    /* the top commands */
    {
        for (int i = 0; i < st->ncmds; i++)
            idx[i] = i;
        top_of = st->cmds;
        qsort(idx, (size_t)st->ncmds, sizeof(int), by_time);
        fprintf(out, "top commands by emulated time (summed over layers and steps):\n");
        static const char *const scopes[3] = {"prologue", "layer", "epilogue"};
        for (int i = 0; i < st->ncmds && i < 10; i++) {
            const RtCmdStat *cs = &st->cmds[idx[i]];
            if (cs->time <= 0)
                break;
            const RtStream *sp = NULL;
            const RtCmd *cm = find_cmd(s, cs->phase, cs->scope, cs->id, &sp);
            if (!cm)
                continue;
            const char *opn = cm->op >= 0 ? s->phase[cs->phase].ops[cm->op].name : "-";
            int res = sp->link ? s->dev.nunits + sp->id : sp->id;
            fprintf(out, "  %5.1f%%  %-7s %-8s #%-5d %-10s %-12s %-14s x%d\n", total > 0 ? 100 * cs->time / total : 0,
                    rt_phase_names[cs->phase], scopes[cs->scope], cs->id, rt_cmd_names[cm->kind], opn,
                    rt_time_resource_name(t, res, b, sizeof b), cs->runs);
        }
        h2c_raw_free(idx, sizeof(int) * (size_t)(st->ncmds + 1));
    }
    /* per op: emulated vs estimated */
    for (int p = 0; p < 2; p++) {
        const RtPhase *ph = &s->phase[p];
        if (p == 1 && st->steps == 0)
            continue;
        fprintf(out, "ops (%s; per side, summed over layers%s): emulated span vs the cost model, commands' busy vs their est\n",
                rt_phase_names[p], p ? " and steps" : "");
        fprintf(out, "  %-12s %-11s %11s %11s %8s %11s %11s %8s\n", "op", "kind", "npu emu", "npu model", "gap",
                "nmp emu", "nmp model", "gap");
        for (int i = 0; i < ph->nops; i++) {
            const RtOpStat *o = &st->ops[p][i];
            if (!ph->ops[i].has_est || ph->ops[i].into >= 0)
                continue;
            fprintf(out, "  %-12s %-11s %11s %11s %+7.1f%% %11s %11s %+7.1f%%", ph->ops[i].name, ph->ops[i].kind,
                    si(o->span[0], "s", a, sizeof a), si(o->est_model[0], "s", b, sizeof b), gap(o->span[0], o->est_model[0]),
                    si(o->span[1], "s", c, sizeof c), si(o->est_model[1], "s", e4, sizeof e4), gap(o->span[1], o->est_model[1]));
            fprintf(out, "   (cmds %+.1f%%)\n", gap(o->busy[0] + o->busy[1], o->est_cmds[0] + o->est_cmds[1]));
        }
    }
    if (st->triad_gbs > 0 && st->steps > 0) {
        double hs = st->host_seconds_decode;
        fprintf(out, "bench: decode %.4g emulated tokens per host second; host %.3f s: kernels %.1f%%, moves %.1f%%, "
                     "weights written %.1f%%, bookkeeping %.1f%%; weights streamed %.3g GB/s = %.1f%% of a STREAM "
                     "triad's %.3g GB/s; peak RSS %.1f MiB\n",
                (double)st->steps * st->batch / hs, hs, 100 * st->kernel_seconds_decode / hs,
                100 * st->move_seconds_decode / hs, 100 * st->fill_seconds_decode / hs,
                100 * (hs - st->kernel_seconds_decode - st->move_seconds_decode - st->fill_seconds_decode) / hs,
                st->weight_bytes_decode / hs / 1e9,
                100 * st->weight_bytes_decode / hs / 1e9 / st->triad_gbs, st->triad_gbs, (double)st->peak_rss_kb / 1024);
    }
    fprintf(out, "host: %.3f s (kernels %.3f s, %.1f%%; weights written %.3f s; reference %.3f s), peak RSS %.1f MiB%s\n",
            st->host_seconds, st->kernel_seconds, st->host_seconds > 0 ? 100 * st->kernel_seconds / st->host_seconds : 0,
            st->fill_seconds, st->check_seconds, (double)st->peak_rss_kb / 1024, st->lazy ? " (lazy per-layer weights)" : "");
    return true;
}

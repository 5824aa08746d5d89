/* test_emu.c: the emulator (runtime/emu_*.c, emulate.c) on examples/tiny.h2's schedule: the
 * synthetic weights are rt_synth_weight's, element for element; the banks filled from them hold the
 * bytes the general path (blocks of doubles, transposed) writes; the values the banks hold are the
 * reference's (the stored view: fp16 exact); and the allocation-failure sweep of a short run
 * (prefill and one decode step, with --check and the summary): the hook fails the Nth allocation,
 * every run ends with "out of memory" and nothing left allocated, and the first N never reached
 * runs through (with a trace and the logits written to a temporary folder). STRIDE=k fails only every
 * kth allocation. */
#include "backend.h"
#include "frontend.h"
#include "passes.h"
#include "runtime.h"

#include <stdlib.h>
#include <unistd.h>

#include "oom_hook.h"
#include "test.h"

static RtSchedule *tiny_schedule(void) {
    Diag d;
    diag_init(&d, stderr);
    Session s;
    session_init(&s, &d);
    AstFile *root = fe_load(&s, "examples/tiny.h2");
    Config *c = root ? fe_check(&s, root, NULL) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    RtSchedule *rs = NULL;
    if (m) {
        PipelineOpts po = {.verify = true};
        if (pipeline_run(m, default_pipeline, default_pipeline_len, &po, &d)) {
            Schedule *sc = be_schedule_build(m, "tiny", &d);
            JsonText t;
            if (sc && be_schedule_render(sc, &t)) {
                rs = rt_schedule_parse("tiny.schedule.json", t.text, t.len, &d);
                be_json_text_free(&t);
            }
            be_schedule_free(sc);
        }
        ir_module_free(m);
    }
    session_free(&s);
    return rs;
}

static void test_weights(const RtSchedule *s) {
    RtSynthWeights sy = {s, 7};
    RtWeights w = rt_synth_weights(&sy);
    double v[64];
    int checked = 0;
    for (int op = 0; op < s->graph->nops; op++) {
        int t = s->graph_tensor[op];
        const RtOp *o = &s->graph->ops[op];
        if (t < 0 || o->tied >= 0)
            continue;
        RtWeightPart part = o->kind == RT_NORM ? RT_PART_SCALE : RT_PART_WEIGHT;
        size_t cols = o->width > 0 ? (size_t)o->width : 1, row = 3;
        if (cols > 64)
            cols = 64;
        for (int layer = 0; layer < 2; layer++) {
            CHECK(w.get(w.ctx, op, layer, part, row, 1, cols, v));
            double scale = o->kind == RT_FC ? 1 / sqrt((double)o->in_width) : 1;
            for (size_t c = 0; c < cols; c++) {
                double want = rt_synth_weight(7, rt_name_hash(s->tensors[t].name), layer, part, row * cols + c, scale);
                if (v[c] != want) {
                    CHECK_EQ(v[c], want);
                    return;
                }
                checked++;
            }
        }
    }
    CHECK(checked > 500);
}

/* A source that only forwards to another: rt_fill_weights then takes its general path (blocks of
 * doubles, transposed into the banks) where the synthetic source has its own (rows generated in the
 * banks' order), whose bytes must be the same. */
static bool forward_get(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols,
                        double *dst) {
    const RtWeights *w = ctx;
    return w->get(w->ctx, op, layer, part, row, rows, cols, dst);
}

static void test_fill(const RtSchedule *s) {
    RtSynthWeights sy = {s, 7};
    RtWeights direct = rt_synth_weights(&sy), general = {&direct, forward_get};
    RtMem mem[2];
    char err[200];
    if (!CHECK(rt_mem_init(&mem[0], s, false, err, sizeof err)))
        return;
    if (!CHECK(rt_mem_init(&mem[1], s, false, err, sizeof err))) {
        rt_mem_free(&mem[0]);
        return;
    }
    for (int k = 0; k < 2; k++) {
        RtStoredWeights sw = {s, k ? general : direct, NULL, 0, false};
        RtWeights stored = rt_stored_weights(&sw);
        CHECK(rt_fill_weights(s, &mem[k], &stored, 0, 0, true, err, sizeof err));
        for (int l = 0; l < s->layers; l++)
            CHECK(rt_fill_weights(s, &mem[k], &stored, l, l, false, err, sizeof err));
        rt_stored_weights_free(&sw);
    }
    int64_t regions = 0, differ = 0;
    for (int t = 0; t < s->ntensors; t++)
        for (int k = 0; k < s->tensors[t].ntiles && !s->tensors[t].kv; k++)
            for (int r = 0; r < s->tensors[t].tiles[k].nregions; r++) {
                const RtRegion *g = &s->tensors[t].tiles[k].regions[r];
                int64_t copies = s->tensors[t].layers > 1 ? s->tensors[t].layers : 1;
                for (int64_t c = 0; c < copies; c++) {
                    size_t at = (size_t)(g->addr + c * g->stride);
                    regions++;
                    differ += memcmp(rt_mem_bank(&mem[0], g->channel, g->bank) + at,
                                     rt_mem_bank(&mem[1], g->channel, g->bank) + at, (size_t)g->bytes) != 0;
                }
            }
    CHECK(regions > 50);
    CHECK_EQ(differ, 0);
    rt_mem_free(&mem[0]);
    rt_mem_free(&mem[1]);
}

static char trace_path[4096], logits_path[4096];

static bool run_once(const RtSchedule *s, long fail_at, Hook *h, char **out) {
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    Diag d;
    diag_init(&d, f);
    RtRunOptions o = {0};
    o.steps = 1;
    o.seed = 1;
    o.numerics = true;
    o.check = true;
    o.trace = trace_path;
    o.dump_logits = logits_path;
    *h = (Hook){0, fail_at, 0, false};
    h2c_set_allocator(hook_alloc, h);
    bool ok = rt_run(s, &o, f, &d);
    h2c_set_allocator(NULL, NULL);
    fclose(f);
    return ok;
}

static void test_oom(const RtSchedule *s) {
    const char *st = getenv("STRIDE");
    long stride = st ? atol(st) : 1;
    if (stride < 1)
        stride = 1;
    Hook h;
    char *out = NULL;
    long runs = 0;
    for (long n = 1;; n += stride) {
        bool ok = run_once(s, n, &h, &out);
        runs++;
        if (!h.failed) {
            CHECK(ok);
            CHECK(strstr(out, "check: ok") != NULL);
            free(out);
            break;
        }
        /* (support/outfile.c reports its own failed allocation as the system's ENOMEM) */
        if (ok || (!strstr(out, "out of memory") && !strstr(out, "Cannot allocate memory"))) {
            test_fail(__FILE__, __LINE__, "a failed allocation ends the run with \"out of memory\"");
            fprintf(stderr, "    allocation %ld: ok %d, output: %.300s\n", n, ok, out);
        }
        if (h.live != 0) {
            test_fail(__FILE__, __LINE__, "nothing is left allocated");
            fprintf(stderr, "    allocation %ld: %ld blocks left\n", n, h.live);
        }
        free(out);
        if (test_failures > 20)
            break;
    }
    fprintf(stderr, "run: %ld runs with one failing allocation (stride %ld), %ld allocations in a run\n", runs, stride,
            h.calls);
}

int main(void) {
    /* the run's trace and logits go to a temporary folder */
    const char *tmp = getenv("TMPDIR");
    char tdir[4096];
    snprintf(tdir, sizeof tdir, "%s/h2c-emu.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(tdir);
    if (!CHECK(d != NULL))
        return test_done();
    snprintf(trace_path, sizeof trace_path, "%s/trace.json", d);
    snprintf(logits_path, sizeof logits_path, "%s/logits.npy", d);
    RtSchedule *s = tiny_schedule();
    if (!CHECK(s != NULL))
        return test_done();
    test_weights(s);
    test_fill(s);
    test_oom(s);
    rt_schedule_free(s);
    remove(trace_path);
    remove(logits_path);
    rmdir(d);
    return test_done();
}

/* hf_forward.c: a Hugging Face checkpoint through h2c: `h2c import-hf` on its config.json, the .h2
 * checked, lowered and compiled, the model handed to the runtime as the schedule's graph, the
 * weights bound from model.safetensors (runtime/hfmap.c), and runtime/forward.c's reference forward
 * pass over a prefill and four decode steps; the logits go to DIR/logits.bin for hf_oracle.py check.
 * usage: hf_forward DIR */
#include "backend.h"
#include "frontend.h"
#include "passes.h"
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, P = 5, STEPS = 4 };

/* The runtime's view of the model: the schedule's `graph` section (backend/graph.c writes it from the
 * IR, runtime/sched_read.c reads it), the very mapping h2c run's --check uses. */
static RtSchedule *schedule_of(Module *m, Diag *d) {
    PipelineOpts po = {.verify = true};
    if (!pipeline_run(m, default_pipeline, default_pipeline_len, &po, d))
        return NULL;
    Schedule *sc = be_schedule_build(m, "m", d);
    JsonText t;
    RtSchedule *rs = NULL;
    if (sc && be_schedule_render(sc, &t)) {
        rs = rt_schedule_parse("m.schedule.json", t.text, t.len, d);
        be_json_text_free(&t);
    }
    be_schedule_free(sc);
    return rs;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    const char *dir = argv[1];
    Diag d;
    diag_init(&d, stderr);
    Arena a;
    arena_init(&a);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    Diag quiet;
    diag_init_quiet(&quiet);  /* the warning about unmodelled fields is not the subject */
    if (!fe_import_hf(&a, dir, true, "m", mem, &quiet)) {
        fprintf(stderr, "import-hf failed\n");
        return 1;
    }
    fclose(mem);
    Session s;
    session_init(&s, &d);
    AstFile *root = fe_load_text(&s, "imported.h2", text, len);
    Config *c = root ? fe_check(&s, root, NULL) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    RtSchedule *rs = m ? schedule_of(m, &d) : NULL;
    if (!rs) {
        fprintf(stderr, "cannot hand the model to the runtime\n");
        return 1;
    }
    RtModel rm = *rs->graph;
    StModel st;
    if (!st_open(dir, &st)) {
        fprintf(stderr, "%s\n", st.err);
        return 1;
    }
    RtHfWeights hw;
    if (!rt_hf_bind(&hw, &rm, &st)) {
        fprintf(stderr, "%s\n", hw.err);
        return 1;
    }
    RtWeights w = rt_hf_weights(&hw);
    int toks[B * (P + STEPS)];
    char path[4096];
    snprintf(path, sizeof path, "%s/tokens.bin", dir);
    FILE *f = fopen(path, "rb");
    if (!f || fread(toks, sizeof(int), B * (P + STEPS), f) != B * (P + STEPS))
        return 1;
    fclose(f);
    RtForward *fw = rt_forward_new(&rm, B, 16, &w);
    double *logits = malloc(sizeof(double) * (size_t)(STEPS + 1) * B * (size_t)rm.vocab);
    int pre[B * P];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < P; t++)
            pre[b * P + t] = toks[b * (P + STEPS) + t];
    bool ok = fw && logits && rt_forward_step(fw, pre, P, NULL, logits);
    for (int st_ = 1; ok && st_ <= STEPS; st_++) {
        int next[B];
        for (int b = 0; b < B; b++)
            next[b] = toks[b * (P + STEPS) + P + st_ - 1];
        ok = rt_forward_step(fw, next, 1, NULL, logits + (size_t)st_ * B * (size_t)rm.vocab);
    }
    if (!ok) {
        fprintf(stderr, "forward: %s\n", fw ? rt_forward_error(fw) : "out of memory");
        return 1;
    }
    snprintf(path, sizeof path, "%s/logits.bin", dir);
    f = fopen(path, "wb");
    fwrite(logits, sizeof(double), (size_t)(STEPS + 1) * B * (size_t)rm.vocab, f);
    fclose(f);
    rt_forward_free(fw);
    st_close(&st);
    free(logits);
    rt_schedule_free(rs);
    ir_module_free(m);
    session_free(&s);
    free(text);
    arena_free(&a);
    return 0;
}

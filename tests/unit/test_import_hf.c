/* test_import_hf.c: `h2c import-hf` on the Hugging Face configs of Llama-3-8B and OPT-6.7B
 * (examples/hf/) gives models the front end accepts whose h2llm-artifact latency equals, exactly,
 * that of the artifact's own graphs (examples/llama3-8b.h2, examples/opt-6.7b.h2): the imported
 * layers hold the same GEMMs plus norms, rotary positions, residuals and activations, which the
 * artifact's model prices at nothing. Runs from the source root. */
#include "frontend.h"
#include "passes.h"
#include "test.h"

#include <stdlib.h>

/* The artifact model's best latency (per layer) of a module, on its own device and workload. */
static double artifact_latency(Session *s, AstFile *root, const char *workload) {
    Selection sel = {0};
    sel.workload = workload;
    sel.cost_model = "h2llm-artifact";
    Config *c = root ? fe_check(s, root, &sel) : NULL;
    if (!CHECK(c != NULL))
        return -1;
    Module *m = ir_lower(c, s->diag);
    if (!CHECK(m != NULL) || !CHECK(ir_fill_shapes(m, s->diag)))
        return -1;
    ModulePlan *mp = calloc(1, sizeof *mp);
    SearchOpts o = {.mode = DF_DATA_CENTRIC, .objective = OBJ_LATENCY, .capacity = true};
    double v = -1;
    if (CHECK(df_search_module(m, cost_model_get(CM_ARTIFACT), NULL, &o, mp, s->diag)))
        v = mp->sum.value;
    df_module_plan_free(mp);
    free(mp);
    ir_module_free(m);
    return v;
}

static void check_family(const char *config, const char *example, const char *workload) {
    Diag d;
    diag_init_quiet(&d);
    Arena a;
    arena_init(&a);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    CHECK(fe_import_hf(&a, config, true, NULL, mem, &d));
    fclose(mem);
    Session s1, s2;
    session_init(&s1, &d);
    session_init(&s2, &d);
    AstFile *imported = fe_load_text(&s1, "imported.h2", text, len);
    double got = artifact_latency(&s1, imported, NULL);
    double want = artifact_latency(&s2, fe_load(&s2, example), workload);
    CHECK(want > 0);
    CHECK_EQ(want, got);
    session_free(&s1);
    session_free(&s2);
    free(text);
    arena_free(&a);
}

int main(void) {
    /* the imported files have no workload: the default one is ShareGPT at batch 4, the examples' sg */
    check_family("examples/hf/llama-3-8b", "examples/llama3-8b.h2", "sg");
    check_family("examples/hf/opt-6.7b", "examples/opt-6.7b.h2", "sg");
    return test_done();
}

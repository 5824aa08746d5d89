/* test_oom_pipeline.c: the allocation-failure sweep of the compile pipeline (issue 14). For each
 * example and N = 1, 2, 3, ... the allocator hook fails the Nth allocation of a whole `h2c
 * compile`: load, check, lowering, the default pass pipeline (shapes, dataflow search, placement,
 * the verifier between passes) and printing the IR. Each run must end cleanly: either it reports
 * "out of memory" as an error, or it succeeds (the dataflow search treats exhausted memory as an
 * exhausted budget and falls back to its restricted search, which is a plan, not an error); no
 * other error; and no block left allocated. The first N never reached is a run with no failure,
 * which must succeed and print the very IR of a run without the hook.
 * usage: test_oom_pipeline [EXAMPLE.h2 ...]   (default: every example; run from the source root)
 * STRIDE=k fails only every kth allocation (a quicker sweep). Under ASan, LeakSanitizer checks too. */
#include "frontend.h"
#include "passes.h"

#include <stdlib.h>

#include "oom_hook.h"
#include "test.h"

/* One compile of `path`; its IR text (malloc'd) in *ir, NULL if it failed. Diagnostics go to diag. */
static bool compile(const char *path, FILE *diag, char **ir) {
    Diag d;
    diag_init(&d, diag);
    Session s;
    session_init(&s, &d);
    *ir = NULL;
    bool ok = false;
    AstFile *root = fe_load(&s, path);
    Config *c = root && d.errors == 0 ? fe_check(&s, root, NULL) : NULL;
    Module *m = c && d.errors == 0 ? ir_lower(c, &d) : NULL;
    if (m) {
        PipelineOpts po = {.verify = true};
        if (pipeline_run(m, default_pipeline, default_pipeline_len, &po, &d) && d.errors == 0) {
            size_t len = 0;
            FILE *f = open_memstream(ir, &len);
            ir_print(f, m);
            fclose(f);
            ok = true;
        }
        ir_module_free(m);
    }
    session_free(&s);
    return ok;
}

static bool run_compile(void *path, FILE *diag, char **out) { return compile(path, diag, out); }

static void sweep(const char *path, long stride) { oom_sweep(path, run_compile, (void *)path, stride, 0); }

int main(int argc, char **argv) {
    static const char *const examples[] = {"examples/tiny.h2", "examples/llama3-8b.h2", "examples/opt-6.7b.h2",
                                           "examples/palm-8b.h2", "examples/qwen2-7b.h2"};
    const char *s = getenv("STRIDE");
    long stride = s && atol(s) > 0 ? atol(s) : 1;
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            sweep(argv[i], stride);
    else
        for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
            sweep(examples[i], stride);
    return test_done();
}

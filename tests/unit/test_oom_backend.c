/* test_oom_backend.c: the allocation-failure sweep of the backend (issue 14). For each example,
 * the compile pipeline runs once without a hook; then for N = 1, 2, 3, ... the allocator hook fails
 * the Nth allocation of the backend's work on that module: the schedule (memory map, command
 * streams, be_schedule_build), its JSON text (be_schedule_render), the kernels as C and as LLVM IR
 * (be_emit_kernels through both targets), and the runtime's reader and writer on that text
 * (rt_schedule_parse, rt_schedule_render). Each run must end cleanly: "out of memory" as its only
 * error (or a success), and no block left allocated. The first N never reached is a run with no
 * failure, which must give the very texts of a run without the hook.
 * usage: test_oom_backend [EXAMPLE.h2 ...]   (default: every example and plan-tiny; from the source root)
 * STRIDE=k fails only every kth allocation; POINTS=p at most about p allocations a file, evenly spaced
 * (the backend of a full-size example makes 0.7 to 1.4 million allocations, and a run that fails the
 * Nth costs about N, so every N of those is hours). Under ASan, LeakSanitizer checks too. */
#include "backend.h"
#include "frontend.h"
#include "kernels.h"
#include "passes.h"
#include "runtime.h"

#include <stdlib.h>

#include "oom_hook.h"
#include "test.h"

/* The module of a whole compile of `path` (no hook), or NULL. */
static Module *compile(const char *path, Session *s) {
    AstFile *root = fe_load(s, path);
    Config *c = root && s->diag->errors == 0 ? fe_check(s, root, NULL) : NULL;
    Module *m = c && s->diag->errors == 0 ? ir_lower(c, s->diag) : NULL;
    PipelineOpts po = {.verify = true};
    if (m && (!pipeline_run(m, default_pipeline, default_pipeline_len, &po, s->diag) || s->diag->errors)) {
        ir_module_free(m);
        m = NULL;
    }
    return m;
}

/* Appends one kernel unit of the schedule through target t to f. */
static bool kernels(FILE *f, const KernelTarget *t, const Schedule *s, Diag *d) {
    int n;
    const KernelDesc *descs = be_schedule_kernels(s, &n);
    KernelOptions ko = {.portable = true, .vector_width = 8};
    return be_emit_kernels(t, f, "unit", descs, n, &ko, d);
}

/* The backend on m: the schedule's JSON, then its kernels in C (and LLVM IR when `llvm`), then the
 * runtime reader's rendering of that JSON, all into `out` (malloc'd); false, with errors in diag, on
 * failure. */
static bool backend(const Module *m, bool llvm, FILE *diag, char **out) {
    Diag d;
    diag_init(&d, diag);
    *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    if (!f)
        return false;
    bool ok = false;
    Schedule *s = be_schedule_build(m, "unit", &d);
    if (s) {
        JsonText t;
        if (!be_schedule_render(s, &t)) {
            diag_error(&d, NOLOC, "out of memory");
        } else {
            fwrite(t.text, 1, t.len, f);
            ok = kernels(f, &be_target_c, s, &d) && (!llvm || kernels(f, &be_target_llvm, s, &d));
            if (ok) {
                RtSchedule *r = rt_schedule_parse("unit.schedule.json", t.text, t.len, &d);
                RtText again = {0};
                ok = r && rt_schedule_render(r, &again);
                if (r && !ok)
                    diag_error(&d, NOLOC, "out of memory");
                if (ok)
                    fwrite(again.text, 1, again.len, f);
                rt_text_free(&again);
                rt_schedule_free(r);
            }
            be_json_text_free(&t);
        }
        be_schedule_free(s);
    }
    fclose(f);
    if (!ok) {
        free(*out);
        *out = NULL;
    }
    return ok && d.errors == 0;
}

typedef struct BackendRun {
    const Module *m;
    bool llvm;
} BackendRun;

static bool run_backend(void *ctx, FILE *diag, char **out) {
    const BackendRun *b = ctx;
    return backend(b->m, b->llvm, diag, out);
}

static void sweep(const char *path, long stride, long points) {
    Diag d;
    diag_init(&d, stderr);
    Session ses;
    session_init(&ses, &d);
    Module *m = compile(path, &ses);
    CHECK(m != NULL);
    if (m) {
        BackendRun b = {m, getenv("OOM_LLVM") != NULL};    /* LLVM's optimiser takes ~0.1 s a run: on request */
        oom_sweep(path, run_backend, &b, stride, points);
        ir_module_free(m);
    }
    session_free(&ses);
}

int main(int argc, char **argv) {
    static const char *const examples[] = {"examples/tiny.h2", "examples/llama3-8b.h2", "examples/opt-6.7b.h2",
                                           "examples/palm-8b.h2", "examples/qwen2-7b.h2",
                                           "tests/schedule/plan-tiny.h2"};
    const char *s = getenv("STRIDE"), *p = getenv("POINTS");
    long stride = s && atol(s) > 0 ? atol(s) : 1;
    long points = p && atol(p) > 0 ? atol(p) : 0;
    if (argc > 1)
        for (int i = 1; i < argc; i++)
            sweep(argv[i], stride, points);
    else
        for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
            sweep(examples[i], stride, points);
    return test_done();
}

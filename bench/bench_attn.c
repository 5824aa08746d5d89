/* bench_attn.c: the attention planning passes on a real model: lower a checked .h2, run shapes and
 * dataflow once, then time pass_sparsity, pass_coplace and pass_balance (which make the plan anew
 * each run) over R runs, and print the median and minimum of each and of the three together, with
 * the size of the plan. Default: examples/llama3-8b-longctx.h2 at workload lc128k, Llama-3-8B at a
 * 128k-token context, all 32 layers, on the 64 GiB H2-LLM device.
 * usage: bench_attn [FILE.h2 [RUNS [WORKLOAD]]]     (exit 1 if a step fails) */
#include "frontend.h"
#include "passes.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *file = argc > 1 ? argv[1] : "examples/llama3-8b-longctx.h2";
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1)
        runs = 1;
    Selection sel;
    memset(&sel, 0, sizeof sel);
    sel.workload = argc > 3 ? argv[3] : argc > 1 ? NULL : "lc128k";
    Diag d;
    diag_init(&d, stderr);
    Session s;
    session_init(&s, &d);
    AstFile *f = fe_load(&s, file);
    Config *c = f && d.errors == 0 ? fe_check(&s, f, &sel) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    static const char *const first[] = {"shapes", "dataflow"};
    PipelineOpts po = {NULL, NULL, false, false, false, stderr};
    Diag quiet;
    diag_init_quiet(&quiet);
    if (!m || !pipeline_run(m, first, 2, &po, &quiet)) {
        fprintf(stderr, "bench_attn: %s does not compile\n", file);
        session_free(&s);
        return 1;
    }
    enum { SPARSITY, COPLACE, BALANCE, ALL, STEPS };
    static const char *const names[STEPS] = {"sparsity", "coplace", "balance", "sparsity + coplace + balance"};
    PassFn fn[3] = {pass_sparsity, pass_coplace, pass_balance};
    double *t[STEPS];
    for (int k = 0; k < STEPS; k++)
        t[k] = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        double total = 0;
        for (int k = 0; k < 3; k++) {
            double t0 = now();
            bool ok = fn[k](m, &d);
            t[k][r] = now() - t0;
            total += t[k][r];
            if (!ok) {
                fprintf(stderr, "bench_attn: pass %s failed\n", names[k]);
                return 1;
            }
        }
        t[ALL][r] = total;
    }
    int tiles = 0, lines = 0;
    for (int i = 0; i < m->nattns; i++) {
        lines += m->attns[i].ntiles;
        for (int j = 0; j < m->attns[i].ntiles; j++)
            tiles += m->attns[i].tiles[j].nbanks;
    }
    printf("file         %s: model %s, workload %s (context %d), hardware %s\n", file, m->model.name, m->work.name,
           m->work.max_seq, m->dev.hw.name);
    printf("plan         %d layers x %d KV heads x batch %d: %d tiles lines, %d tiles; %d runs\n", m->model.layers,
           m->model.kv_heads, m->work.batch, lines, tiles, runs);
    for (int k = 0; k < STEPS; k++) {
        qsort(t[k], (size_t)runs, sizeof(double), cmp);
        printf("%-30s median %8.3f ms   min %8.3f ms\n", names[k], t[k][runs / 2] * 1e3, t[k][0] * 1e3);
        free(t[k]);
    }
    ir_module_free(m);
    session_free(&s);
    return 0;
}

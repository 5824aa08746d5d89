/* bench_ir.c: the IR's round trip on a real model: lower a checked .h2 (ir_lower), run the default
 * pipeline (shapes, dataflow, placement), print the text form, read it back (ir_parse) and print it
 * again. Reports the median and minimum of each step over R runs.
 * usage: bench_ir FILE.h2 [RUNS]      (exit 1 if any step fails or the round trip differs) */
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

static char *print_to_string(const Module *m, size_t *len) {
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    ir_print(f, m);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_ir FILE.h2 [RUNS]\n");
        return 2;
    }
    int runs = argc > 2 ? atoi(argv[2]) : 20;
    if (runs < 1)
        runs = 1;
    enum { LOWER, PASSES, PRINT, PARSE, STEPS };
    static const char *const names[STEPS] = {"lower (ir_lower)", "passes (shapes, dataflow, placement)",
                                             "print (ir_print)", "parse + print again"};
    double *t[STEPS];
    for (int s = 0; s < STEPS; s++)
        t[s] = calloc((size_t)runs, sizeof(double));
    size_t bytes = 0;
    for (int r = 0; r < runs; r++) {
        Diag d;
        diag_init(&d, stderr);
        Session s;
        session_init(&s, &d);
        AstFile *f = fe_load(&s, argv[1]);
        Config *c = f && d.errors == 0 ? fe_check(&s, f, NULL) : NULL;
        if (!c) {
            session_free(&s);
            return 1;
        }
        double t0 = now();
        Module *m = ir_lower(c, &d);
        double t1 = now();
        static const char *const pipeline[] = {"shapes", "dataflow", "placement"};
        PipelineOpts po = {NULL, NULL, false, false, false, stderr};
        if (!m || !pipeline_run(m, pipeline, 3, &po, &d))
            return 1;
        double t2 = now();
        size_t len;
        char *text = print_to_string(m, &len);
        double t3 = now();
        Module *back = ir_parse("bench.h2ir", text, len, &d);
        size_t len2 = 0;
        char *again = back ? print_to_string(back, &len2) : NULL;
        double t4 = now();
        if (!back || !again || len != len2 || memcmp(text, again, len) != 0) {
            fprintf(stderr, "bench_ir: the IR did not read back to the same text\n");
            return 1;
        }
        bytes = len;
        t[LOWER][r] = t1 - t0;
        t[PASSES][r] = t2 - t1;
        t[PRINT][r] = t3 - t2;
        t[PARSE][r] = t4 - t3;
        free(text);
        free(again);
        ir_module_free(back);
        ir_module_free(m);
        session_free(&s);
    }
    printf("file         %s (IR text %zu bytes)\nruns         %d\n", argv[1], bytes, runs);
    double total_med = 0;
    for (int s = 0; s < STEPS; s++) {
        qsort(t[s], (size_t)runs, sizeof(double), cmp);
        printf("%-38s median %8.3f ms   min %8.3f ms\n", names[s], t[s][runs / 2] * 1e3, t[s][0] * 1e3);
        total_med += t[s][runs / 2];
        free(t[s]);
    }
    printf("%-38s median %8.3f ms (sum of the medians)\n", "lower + passes + print + re-parse", total_med * 1e3);
    return 0;
}

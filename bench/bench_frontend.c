/* bench_frontend.c: front-end throughput. Loads and checks one .h2 file R times (default 20), each
 * time in a fresh Session, and prints the median and minimum wall time of fe_load + fe_check, the
 * throughput in MB/s of source and ops/s of model ops, the peak arena size, and how the median
 * splits between loading (read, lex, parse) and checking.
 * usage: bench_frontend FILE.h2 [R]      exit 0 ok, 1 the file does not check, 2 usage */
#include "frontend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v and returns its median. */
static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: bench_frontend FILE.h2 [REPETITIONS]   (default 20)\n");
        return 2;
    }
    const char *path = argv[1];
    int reps = 20;
    if (argc == 3) {
        char *end;
        long r = strtol(argv[2], &end, 10);
        if (*end || r < 1 || r > 100000) {
            fprintf(stderr, "bench_frontend: REPETITIONS must be a whole number from 1 to 100000, not '%s'\n",
                    argv[2]);
            return 2;
        }
        reps = (int)r;
    }

    double *times = malloc(sizeof(double) * (size_t)reps * 3);
    double *loads = times + reps, *checks = times + 2 * reps;
    if (!times) {
        fprintf(stderr, "bench_frontend: out of memory\n");
        return 1;
    }
    size_t peak_arena = 0, bytes = 0;
    int nops = 0, nfiles = 0;
    for (int r = 0; r < reps; r++) {
        Diag d;
        diag_init(&d, stderr);
        Session s;
        session_init(&s, &d);
        double t0 = now_seconds();
        AstFile *root = fe_load(&s, path);
        double tl = now_seconds();
        Config *c = root && d.errors == 0 ? fe_check(&s, root, NULL) : NULL;
        double t1 = now_seconds();
        if (!c) {
            fprintf(stderr, "bench_frontend: '%s' does not check (%d error%s)\n", path, d.errors,
                    d.errors == 1 ? "" : "s");
            session_free(&s);
            free(times);
            return 1;
        }
        times[r] = t1 - t0;
        loads[r] = tl - t0;
        checks[r] = t1 - tl;
        if (s.arena.total > peak_arena)
            peak_arena = s.arena.total;
        bytes = 0;
        for (int i = 0; i < s.nfiles; i++)
            bytes += s.files[i]->src->len;
        nfiles = s.nfiles;
        nops = c->model ? c->model->nops : 0;
        session_free(&s);
    }

    double median = median_of(times, reps), min = times[0];
    printf("file         %s (%zu bytes in %d file%s, %d ops)\n", path, bytes, nfiles, nfiles == 1 ? "" : "s", nops);
    printf("repetitions  %d (fe_load + fe_check, fresh Session each)\n", reps);
    printf("median       %.3f ms\n", median * 1e3);
    printf("min          %.3f ms\n", min * 1e3);
    printf("throughput   %.2f MB/s, %.0f ops/s (at the median)\n", (double)bytes / median / 1e6,
           (double)nops / median);
    printf("split        load %.3f ms + check %.3f ms (medians of each)\n", median_of(loads, reps) * 1e3,
           median_of(checks, reps) * 1e3);
    printf("peak arena   %zu bytes (%.2f MiB)\n", peak_arena, (double)peak_arena / (1024.0 * 1024.0));
    free(times);
    return 0;
}

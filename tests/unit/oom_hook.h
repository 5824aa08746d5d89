/* oom_hook.h: the allocator hook of the allocation-failure tests (tests/unit/test_oom*.c, test_emu.c,
 * and the out-of-memory cases of test_schedule.c and test_npy.c): installed with
 * h2c_set_allocator(hook_alloc, &hook), it fails the fail_at-th allocation or growth (1-based; 0:
 * none) and counts the blocks still allocated, so a test can check that a run which ran out of memory
 * freed everything; and oom_sweep, the sweep over N of the pipeline's and the backend's tests. */
#ifndef H2C_OOM_HOOK_H
#define H2C_OOM_HOOK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

typedef struct Hook {
    long calls;     /* allocations and growths so far */
    long fail_at;   /* the call that fails (1-based); 0: none */
    bool failed;    /* fail_at was reached */
    long live;      /* blocks allocated and not yet freed */
} Hook;

static inline void *hook_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    Hook *h = ud;
    (void)osize;
    if (nsize == 0) {
        if (ptr)
            h->live--;
        free(ptr);
        return NULL;
    }
    if (++h->calls == h->fail_at) {
        h->failed = true;
        return NULL; /* a failed realloc leaves ptr as it was */
    }
    void *p = realloc(ptr, nsize);
    if (p && !ptr)
        h->live++;
    return p;
}

/* Counts the "error: " lines of a diagnostic text, and those of them that say "out of memory". */
static inline void count_errors(const char *text, int *errors, int *oom) {
    *errors = *oom = 0;
    for (const char *p = text; (p = strstr(p, "error: ")) != NULL; p += 7) {
        (*errors)++;
        const char *eol = strchr(p, '\n');
        const char *o = strstr(p, "out of memory");
        *oom += o && (!eol || o < eol);
    }
}

/* One run of the work a sweep fails: true with its output text in *out (malloc'd), false with errors
 * in diag (and *out NULL). */
typedef bool (*OomRun)(void *ctx, FILE *diag, char **out);

/* The allocation-failure sweep of `run` (what: its name in messages). A plain run gives the output
 * to expect; a run through the hook counts the allocations; then for N = 1, 1 + stride, ... the Nth
 * fails (stride widened to about total / points when points > 0): each run must free every block
 * and end either in success without an error or in errors that all say "out of memory". The first N
 * never reached must give the plain run's output. At least one run must report out of memory. */
static inline void oom_sweep(const char *what, OomRun run, void *ctx, long stride, long points) {
    char *want = NULL;
    CHECK(run(ctx, stderr, &want));
    if (!want)
        return;
    Hook h0 = {0};
    char *got0 = NULL;
    h2c_set_allocator(hook_alloc, &h0);
    CHECK(run(ctx, stderr, &got0));
    h2c_set_allocator(NULL, NULL);
    CHECK(got0 && strcmp(got0, want) == 0);
    free(got0);
    long total = h0.calls;
    if (points > 0 && total / points > stride)
        stride = total / points;
    long runs = 0, failed_ok = 0, failed_err = 0;
    for (long n = 1;; n += stride, runs++) {
        Hook h = {0};
        h.fail_at = n;
        char *msgs = NULL, *got = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&msgs, &len);
        h2c_set_allocator(hook_alloc, &h);
        bool ok = run(ctx, f, &got);
        h2c_set_allocator(NULL, NULL);
        fclose(f);
        int errors, oom;
        count_errors(msgs, &errors, &oom);
        test_checks += 3;
        if (h.live != 0) {
            test_fail(__FILE__, __LINE__, "every block is freed");
            fprintf(stderr, "    %s, allocation %ld failed: %ld blocks still allocated\n", what, n, h.live);
        }
        if (!h.failed) {
            /* the end: a run with no failure gives what a run without the hook gives */
            if (!ok || strcmp(got, want) != 0) {
                test_fail(__FILE__, __LINE__, "a run with no failed allocation gives the output of a plain run");
                fprintf(stderr, "    %s: output:\n%s", what, msgs);
            }
            free(msgs);
            free(got);
            break;
        }
        if (ok ? errors != 0 : (errors == 0 || oom != errors)) {
            test_fail(__FILE__, __LINE__, "a failed allocation ends in \"out of memory\" and no other error");
            fprintf(stderr, "    %s, allocation %ld failed: ok %d, %d errors (%d out of memory), output:\n%s", what, n,
                    ok, errors, oom, msgs);
        }
        failed_ok += ok;
        failed_err += !ok;
        free(msgs);
        free(got);
    }
    fprintf(stderr, "%s: %ld runs with a failed allocation (every %ld of %ld): %ld reported out of memory, %ld "
            "recovered\n", what, runs, stride, total, failed_err, failed_ok);
    CHECK(failed_err > 0);
    free(want);
}

#endif

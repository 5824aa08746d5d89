/* oom_hook.h: the allocator hook of the allocation-failure tests (tests/unit/test_oom*.c, and the
 * out-of-memory cases of test_schedule.c and test_npy.c): installed with h2c_set_allocator(hook_alloc,
 * &hook), it fails the fail_at-th allocation or growth (1-based; 0: none) and counts the blocks still
 * allocated, so a test can check that a run which ran out of memory freed everything. */
#ifndef H2C_OOM_HOOK_H
#define H2C_OOM_HOOK_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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

#endif

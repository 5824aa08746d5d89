/* test_oom.c: running out of memory at every allocation. For N = 1, 2, 3, ... the allocator hook
 * fails the Nth allocation while examples/llama3-8b.h2 (and its imports) is loaded and checked
 * in a fresh Session; every run must return cleanly, report "out of memory", and leave no block
 * allocated after session_free. The first N that is never reached is a run that succeeds.
 * The arena asks for memory in 64 KiB chunks, so a load makes only a few allocations; to fail at
 * many different places in the lexer, parser and sema, the whole sweep is repeated with the
 * session's first chunk already filled by 0, 256, 512, ... bytes up to 64 KiB.
 * Run from the repository root (ctest does). Under the ASan build LeakSanitizer checks too. */
#include "frontend.h"

#include <stdlib.h>

#include "oom_hook.h"
#include "test.h"

static int oom_in_load, oom_in_check;  /* where the failed runs failed */

/* One load and check with the Nth allocation after `prefill` bytes failing; true when the run
 * succeeded. */
static bool run_once(long n, size_t prefill, Hook *h) {
    memset(h, 0, sizeof *h);
    h2c_set_allocator(hook_alloc, h);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    Diag d;
    diag_init(&d, f);
    Session s;
    session_init(&s, &d);
    for (size_t k = 0; k < prefill; k += 256)
        arena_alloc(&s.arena, 256);     /* small pieces: all in the first chunk */
    h->fail_at = h->calls + n;
    AstFile *root = fe_load(&s, "examples/llama3-8b.h2");
    Config *c = root && d.errors == 0 ? fe_check(&s, root, NULL) : NULL;
    bool ok = c != NULL && d.errors == 0;
    if (c) {
        /* the checked program is whole: the model and its imports */
        CHECK_EQ(c->model->nops, 12);   /* the embedding, 9 layer ops, the final norm and LM head */
        CHECK_STR(c->hw->name, "h2llm");
        CHECK_STR(c->workload->name, "sg");
    }
    session_free(&s);
    h2c_set_allocator(NULL, NULL);
    fflush(f);
    if (h->failed) {
        if (root)
            oom_in_check++;
        else
            oom_in_load++;
        if (ok || d.errors == 0 || !strstr(out, "out of memory")) {
            test_fail(__FILE__, __LINE__, "a failed allocation is reported as \"out of memory\"");
            fprintf(stderr, "    allocation %ld of the run: ok %d, %d errors, output:\n%s", n, ok, d.errors, out);
        }
    } else if (!ok) {
        test_fail(__FILE__, __LINE__, "with no failed allocation the example checks cleanly");
        fprintf(stderr, "    output:\n%s", out);
    }
    if (h->live != 0) {
        test_fail(__FILE__, __LINE__, "session_free frees every block");
        fprintf(stderr, "    allocation %ld (prefill %zu) failed: %ld blocks still allocated\n", n, prefill, h->live);
    }
    test_checks += 3;
    fclose(f);
    free(out);
    return !h->failed;
}

int main(void) {
    long runs = 0;
    for (size_t prefill = 0; prefill < 64 * 1024; prefill += 256) {
        Hook h;
        long n;
        for (n = 1; n < 100000; n++, runs++)
            if (run_once(n, prefill, &h))
                break;
        /* the last run reached the end without its failure: n - 1 allocations are all it takes */
        CHECK(n < 100000);
        CHECK(n > 1);
        CHECK_EQ(h.calls - (prefill ? 1 : 0), n - 1);
    }
    fprintf(stderr, "%ld runs failed an allocation: %d while loading, %d while checking\n", runs, oom_in_load,
            oom_in_check);
    CHECK(oom_in_load > 0);
    CHECK(oom_in_check > 0);
    return test_done();
}

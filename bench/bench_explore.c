/* bench_explore.c: the costs of the streaming exploration that are not searches (docs/distributed.md,
 * "Measurements"): what the process that hands out chunks spends per position when an evaluation
 * budget makes it count the consistent designs (it scans the visit order alone), and, per chunk, the
 * bytes of its state (an MPI message), the time to encode it, and the time to read it back and merge it
 * (what rank 0 does for every chunk another rank returns).
 * usage: bench_explore FILE.h2 [CHUNK [DESIGNS]]   (the h2llm-artifact cost model; CHUNK designs a chunk,
 * 4096; about DESIGNS designs searched, 32768; 2^20 positions counted, or DESIGNS x 32) */
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

typedef struct Bench {
    ExploreRun *run, *into;     /* chunks are searched in run and merged into into, as on rank 0 */
    long long chunk;
    int chunks, max_chunks;
    ExploreState *scratch;
    double bytes, encode_s, merge_s, search_s;
    long long searched;
    Diag *d;
} Bench;

static bool next(void *ctx, long long *k0, long long *k1) {
    Bench *b = ctx;
    return b->chunks < b->max_chunks && explore_next_chunk(b->run, b->chunk, k0, k1);
}

static bool done(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st) {
    Bench *b = ctx;
    double t = now();
    size_t len;
    unsigned char *p = explore_state_encode(st, &len);
    b->encode_s += now() - t;
    t = now();
    bool ok = p && explore_state_decode(b->into, p, len, b->scratch, "a chunk", b->d) &&
              explore_chunk_done(b->into, k0, k1, kend, b->scratch, b->d);
    b->merge_s += now() - t;
    b->bytes += (double)len;
    long long visited, searched;
    double seconds;
    explore_state_counts(st, &visited, &searched, &seconds);
    b->searched += searched;
    b->search_s += seconds;
    b->chunks++;
    explore_bytes_free(p, len);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_explore FILE.h2 [CHUNK [DESIGNS]]\n");
        return 2;
    }
    long long chunk = argc > 2 ? atoll(argv[2]) : 4096;
    long long designs = argc > 3 ? atoll(argv[3]) : 32768;
    if (chunk < 1 || designs < 1)
        return 2;
    long long count = designs * 32 < (1 << 20) ? designs * 32 : (1 << 20);
    Diag d;
    diag_init(&d, stderr);
    Session s;
    session_init(&s, &d);
    Selection sel = {.cost_model = "h2llm-artifact"};
    AstFile *f = fe_load(&s, argv[1]);
    Config *c = f && d.errors == 0 ? fe_check(&s, f, &sel) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    if (!m || !pass_shapes(m, &d))
        return 1;
    const CostModel *cm = cost_model_get(m->cost_model);

    /* 1. the count of consistent designs an evaluation budget needs: 2^20 positions (or fewer) */
    ExploreOpts o = {.cm = cm, .threads = 1, .stream = true, .budget_evals = 1000000000000LL};
    ExploreRun *run;
    if (!explore_open(m, c->xp, &o, &run, &d))
        return 1;
    long long k0, k1, positions = 0;
    double t = now();
    while (positions < count && explore_next_chunk(run, 4096, &k0, &k1))
        positions += k1 - k0;
    double scan = now() - t;
    explore_close(run);
    printf("counting consistent designs (--evaluations): %.0f ns a position (%lld positions)\n",
           1e9 * scan / (double)positions, positions);

    /* 2. chunks searched, their states encoded, read back and merged */
    o.budget_evals = 0;
    ExploreRun *into;
    if (!explore_open(m, c->xp, &o, &run, &d) || !explore_open(m, c->xp, &o, &into, &d))
        return 1;
    Bench b = {run, into, chunk, 0, (int)(designs / chunk > 4 ? designs / chunk : 4), explore_state_new(into), 0, 0, 0,
               0, 0, &d};
    ExploreHooks h = {next, done, NULL, NULL, &b};
    if (!explore_drive(run, 1, &h, &d))
        return 1;
    printf("chunks of %lld designs (%d of them): %.0f bytes a chunk's state, %.1f us to encode it, %.1f us to read it "
           "back and merge it; the searches %.1f us a design (%.0f ms a chunk)\n",
           chunk, b.chunks, b.bytes / b.chunks, 1e6 * b.encode_s / b.chunks, 1e6 * b.merge_s / b.chunks,
           1e6 * b.search_s / (double)b.searched, 1e3 * b.search_s / b.chunks);
    explore_state_free(b.scratch);
    explore_close(run);
    explore_close(into);
    ir_module_free(m);
    session_free(&s);
    return 0;
}

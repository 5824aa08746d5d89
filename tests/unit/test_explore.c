/* test_explore.c: the streaming exploration's pieces (search/explore.c). Chunks searched in any order,
 * of any size, merge to the same result, plain and streamed; a checkpoint and a state read back give
 * the same result; checkpoint bytes are hostile input: every truncation and every changed byte is
 * refused (and, with the checksum made to match, read without harm or refused with a reason); a
 * checkpoint of another version, format or exploration says so. Nothing is written to disk. */
#include "frontend.h"
#include "passes.h"
#include "test.h"

#include <stdlib.h>

static const char TEXT[] =
    "hardware hw {\n  precision = fp16;\n  channels = 8;\n  banks_per_channel = 8;\n  bank_capacity = 64 MiB;\n"
    "  nmp.channels = 2;\n  pe { fpus = 2; simd = 16; frequency = 500 MHz; bandwidth = 12.8 GB/s; }\n"
    "  buffers { input = 4 KiB; weight = 4 KiB; output = 8 KiB; }\n  npu { throughput = 1 TMAC/s; sram = 1 MiB; }\n}\n"
    "model m {\n  layers = 2;\n  hidden = 256;\n  intermediate = 512;\n  heads = 4;\n  kv_heads = 2;\n"
    "  op q = fc(x, out = hidden);\n  op k = fc(x, out = 128);\n  op v = fc(x, out = 128);\n"
    "  op s = attn_score(q, k);\n  op o = attn_value(s, v);\n  op f = fc(o, out = intermediate);\n"
    "  op g = fc(f, out = hidden);\n}\n"
    "workload w {\n  batch = 2;\n  prompt = 16 tokens;\n  generate = 8 tokens;\n  max_seq = 64 tokens;\n}\n"
    "explore {\n  channels = [4, 8];\n  nmp.channels = [1, 2, 3, 6];\n  npu.utilization = [50%, 70%, 90%];\n"
    "  pe = [(2, 500 MHz, 12.8 GB/s), (4, 1 GHz, 25.6 GB/s)];\n  buffers.input = [4 KiB, 8 KiB];\n}\n";

typedef struct Fixture {
    Diag d;
    Session s;
    Config *c;
    Module *m;
} Fixture;

static bool fixture(Fixture *f) {
    diag_init(&f->d, stderr);
    session_init(&f->s, &f->d);
    AstFile *file = fe_load_text(&f->s, "explore.h2", TEXT, strlen(TEXT));
    Selection sel = {0};
    f->c = file ? fe_check(&f->s, file, &sel) : NULL;
    f->m = f->c ? ir_lower(f->c, &f->d) : NULL;
    return CHECK(f->m != NULL) && CHECK(ir_fill_shapes(f->m, &f->d));
}

static ExploreOpts opts(bool stream, int top) {
    return (ExploreOpts){.cm = cost_model_get(CM_H2C), .threads = 1, .stream = stream, .top = top};
}

/* Hands out the run's chunks in reverse order (all of them first). */
typedef struct Reverse {
    ExploreRun *run;
    long long (*chunks)[2];
    int n;
    Diag *d;
} Reverse;

static bool rev_next(void *ctx, long long *k0, long long *k1) {
    Reverse *rv = ctx;
    if (rv->n == 0)
        return false;
    rv->n--;
    *k0 = rv->chunks[rv->n][0];
    *k1 = rv->chunks[rv->n][1];
    return true;
}

static bool rev_done(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st) {
    Reverse *rv = ctx;
    return explore_chunk_done(rv->run, k0, k1, kend, st, rv->d);
}

/* Explores with chunks of `chunk` positions, in order on `threads` threads or in reverse order. */
static bool explore_with(const Fixture *f, ExploreOpts o, long long chunk, int threads, bool reverse,
                         ExploreResult *r) {
    Diag d;
    diag_init(&d, stderr);
    o.chunk = chunk;
    ExploreRun *run;
    if (!CHECK(explore_open(f->m, f->c->xp, &o, &run, &d)))
        return false;
    bool ok;
    if (reverse) {
        long long (*chunks)[2] = malloc(sizeof *chunks * (size_t)explore_positions(run));
        int n = 0;
        while (explore_next_chunk(run, chunk, &chunks[n][0], &chunks[n][1]))
            n++;
        Reverse rv = {run, chunks, n, &d};
        ExploreHooks h = {rev_next, rev_done, NULL, NULL, &rv};
        ok = explore_drive(run, threads, &h, &d) && explore_finish(run, r, &d);
        free(chunks);
    } else {
        ok = explore_drive(run, threads, NULL, &d) && explore_finish(run, r, &d);
    }
    explore_close(run);
    return CHECK(ok);
}

/* The same designs with the same results (but for their search times). */
static bool same_result(const ExploreResult *a, const ExploreResult *b) {
    if (a->n != b->n || a->best != b->best || a->evaluated != b->evaluated || a->invalid != b->invalid ||
        a->restricted != b->restricted || strcmp(a->uncovered, b->uncovered) != 0)
        return false;
    for (int i = 0; i < a->n; i++) {
        const Design *x = &a->designs[i], *y = &b->designs[i];
        if (x->index != y->index || x->valid != y->valid || x->evaluated != y->evaluated || x->ok != y->ok ||
            x->total != y->total || x->energy != y->energy || x->value != y->value || x->configs != y->configs)
            return false;
    }
    return true;
}

static void merge_order(void) {
    Fixture f;
    if (!fixture(&f))
        return;
    for (int stream = 0; stream < 2; stream++) {
        ExploreResult a, b, c, d;
        if (!explore_with(&f, opts(stream, 3), 1, 1, false, &a))
            break;
        CHECK(explore_with(&f, opts(stream, 3), 5, 1, true, &b));
        CHECK(explore_with(&f, opts(stream, 3), 3, 2, false, &c));
        CHECK(explore_with(&f, opts(stream, 3), 7, 2, true, &d));
        CHECK(same_result(&a, &b));
        CHECK(same_result(&a, &c));
        CHECK(same_result(&a, &d));
        CHECK_EQ(a.space, 96);
        CHECK_EQ(a.distinct, 48);
        /* channels = 4 with nmp.channels = 6 is inconsistent: 3 utilisations x 2 pe tuples, 6 of the 48 */
        CHECK_EQ(a.invalid, 6);
        CHECK_EQ(a.evaluated, 42);
        CHECK(a.streamed == stream);
        if (!stream)
            CHECK_EQ(a.n, 48);
        explore_result_free(&a);
        explore_result_free(&b);
        explore_result_free(&c);
        explore_result_free(&d);
    }
    /* streamed: the table's 3, the front, the best; the same best as the plain run's */
    ExploreResult p, s;
    if (explore_with(&f, opts(false, 3), 4, 1, false, &p) && explore_with(&f, opts(true, 3), 4, 1, false, &s)) {
        CHECK(s.n < p.n);
        CHECK_EQ(s.designs[s.best].index, p.designs[p.best].index);
        int fp[64], fs[64];
        int np = explore_pareto(&p, fp), ns = explore_pareto(&s, fs);
        CHECK_EQ(np, ns);
        for (int i = 0; i < np && i < ns; i++)
            CHECK_EQ(p.designs[fp[i]].index, s.designs[fs[i]].index);
        explore_result_free(&p);
        explore_result_free(&s);
    }
    ir_module_free(f.m);
    session_free(&f.s);
}

/* FNV-1a, as the checkpoint's checksum. */
static unsigned long long fnv(const unsigned char *p, size_t n) {
    unsigned long long h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void fix_checksum(unsigned char *p, size_t len) {
    unsigned long long h = fnv(p, len - 8);
    for (int i = 0; i < 8; i++)
        p[len - 8 + i] = (unsigned char)(h >> (8 * i));
}

/* Decodes bytes into a fresh run of o; the diagnostics (into *msg, freed by the caller). */
static bool decode(const Fixture *f, ExploreOpts o, const unsigned char *p, size_t len, char **msg, bool finish) {
    size_t mlen = 0;
    FILE *mem = open_memstream(msg, &mlen);
    Diag d;
    diag_init(&d, mem);
    ExploreRun *run;
    bool ok = explore_open(f->m, f->c->xp, &o, &run, &d);
    if (ok) {
        ok = explore_checkpoint_decode(run, p, len, "ck", &d);
        if (ok && finish) {
            ExploreResult r;
            if (explore_finish(run, &r, &d))
                explore_result_free(&r);
        }
        explore_close(run);
    }
    fclose(mem);
    return ok;
}

static void checkpoints(void) {
    Fixture f;
    if (!fixture(&f))
        return;
    for (int stream = 0; stream < 2; stream++) {
        ExploreOpts o = opts(stream, 3);
        o.chunk = 5;
        Diag d;
        diag_init(&d, stderr);
        ExploreRun *run;
        /* a whole run's checkpoint, and the result it gives back */
        if (!CHECK(explore_open(f.m, f.c->xp, &o, &run, &d)))
            break;
        ExploreResult want, got;
        CHECK(explore_drive(run, 1, NULL, &d) && explore_finish(run, &want, &d));
        size_t len;
        unsigned char *ck = explore_checkpoint_encode(run, &len);
        explore_close(run);
        if (!CHECK(ck != NULL))
            break;
        CHECK(explore_open(f.m, f.c->xp, &o, &run, &d));
        CHECK(explore_checkpoint_decode(run, ck, len, "ck", &d));
        CHECK(explore_drive(run, 1, NULL, &d) && explore_finish(run, &got, &d));
        CHECK(same_result(&want, &got));
        CHECK(got.resumed);
        explore_result_free(&got);
        explore_result_free(&want);
        explore_close(run);

        unsigned char *bad = malloc(len);
        char *msg;
        /* every truncation: refused */
        int refused = 0;
        for (size_t n = 0; n < len; n++) {
            refused += !decode(&f, o, ck, n, &msg, false);
            free(msg);
        }
        CHECK_EQ(refused, (int)len);
        /* every byte changed: refused by the checksum; with the checksum made to match, read without harm
           (a changed cost is still a cost) or refused with a reason */
        refused = 0;
        int reasons = 0;
        for (size_t i = 0; i < len; i++) {
            memcpy(bad, ck, len);
            bad[i] ^= 0x5a;
            refused += !decode(&f, o, bad, len, &msg, false);
            free(msg);
            if (i < len - 8) {
                fix_checksum(bad, len);
                if (!decode(&f, o, bad, len, &msg, true))
                    reasons += strstr(msg, "checkpoint 'ck' ") != NULL;
                else
                    reasons++;
                free(msg);
            }
        }
        CHECK_EQ(refused, (int)len);
        CHECK_EQ(reasons, (int)len - 8);
        /* another format, another version, another exploration */
        memcpy(bad, ck, len);
        bad[8] = 2;
        fix_checksum(bad, len);
        CHECK(!decode(&f, o, bad, len, &msg, false) && strstr(msg, "has format 2; this h2c") != NULL);
        free(msg);
        memcpy(bad, ck, len);
        CHECK(memcmp(bad + 16, H2C_VERSION, strlen(H2C_VERSION)) == 0);
        bad[16] = '9';
        fix_checksum(bad, len);
        CHECK(!decode(&f, o, bad, len, &msg, false) && strstr(msg, "was written by h2c 9") != NULL);
        free(msg);
        ExploreOpts other = o;
        other.top = 4;
        CHECK(!decode(&f, other, ck, len, &msg, false) && strstr(msg, "the same in words, but") != NULL);
        free(msg);
        other = o;
        other.stream = !stream;
        CHECK(!decode(&f, other, ck, len, &msg, false) && strstr(msg, "is of another exploration") != NULL);
        free(msg);
        CHECK(!decode(&f, o, (const unsigned char *)"H2CXPCK", 7, &msg, false) &&
              strstr(msg, "is not an h2c explore checkpoint") != NULL);
        free(msg);
        free(bad);
        explore_bytes_free(ck, len);
    }
    ir_module_free(f.m);
    session_free(&f.s);
}

/* A state's bytes (an MPI message): read back whole, refused when cut or from another run's shape. */
static void states(void) {
    Fixture f;
    if (!fixture(&f))
        return;
    Diag d;
    diag_init(&d, stderr);
    ExploreOpts o = opts(true, 3);
    ExploreRun *run;
    if (!CHECK(explore_open(f.m, f.c->xp, &o, &run, &d)))
        return;
    CHECK(explore_drive(run, 1, NULL, &d));
    size_t len;
    unsigned char *ck = explore_checkpoint_encode(run, &len);
    /* the state is the checkpoint's tail but for the checksum: find its magic */
    size_t at = 0;
    for (size_t i = 0; i + 4 <= len; i++)
        if (memcmp(ck + i, "XST1", 4) == 0)
            at = i;
    CHECK(at > 0);
    ExploreState *st = explore_state_new(run);
    Diag q;
    diag_init_quiet(&q);
    CHECK(explore_state_decode(run, ck + at, len - 8 - at, st, "a state", &q));
    size_t elen;
    unsigned char *again = explore_state_encode(st, &elen);
    CHECK(again && elen == len - 8 - at);
    int refused = 0;
    for (size_t n = 0; n < len - 8 - at; n++)
        refused += !explore_state_decode(run, ck + at, n, st, "a state", &q);
    CHECK_EQ(refused, (int)(len - 8 - at));
    explore_bytes_free(again, elen);
    explore_state_free(st);
    explore_bytes_free(ck, len);
    explore_close(run);
    ir_module_free(f.m);
    session_free(&f.s);
}

int main(void) {
    merge_order();
    checkpoints();
    states();
    return test_done();
}

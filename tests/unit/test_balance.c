/* test_balance.c: the tile balancer (sparse/balance.c). First 1,000 seeded random instances shaped
 * like the layers pass_balance gives it: 16 to 128 PEs in channels of 16; 1 to 16 KV heads times a
 * batch of 1 to 8 streams; a dense layer, or a hybrid one whose heads are static or dynamic in a
 * random mix; a context of 1k to 128k tokens; work in token reads (a dense head reads the context,
 * a static one its sink + window, a dynamic one its budget and a page's min and max keys per page),
 * cut as the pass allows (dense heads into up to two tiles per PE, static ones into up to one per
 * PE, dynamic ones into at most a page's tokens, 16 or 32, so any choice of pages stays balanced), and a partial state per PE and stream
 * worth a quarter of a token read (the PE writes it to its channel's buffer; the transfer itself is
 * priced by the pass, not here). Its makespan must be within 5% of the bound of its tiling, max(total / PEs,
 * largest tile), and never above round robin (the same tiles dealt out in order, or whole streams
 * dealt out in order); the bound of any tiling is reported too. (With 8-token pages a layer can
 * have no tiling within 5%: 28 dynamic heads of at most 8 tiles on 80 PEs put three tiles on most
 * PEs.) Then instances drawn without that structure (arbitrary works and caps), checked against
 * round robin and reported. Then small cases worked by hand. */
#include "sparse.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static int between(int lo, int hi) { return lo + (int)(uniform() * (hi - lo + 1)); }

/* Whether every tile is on a bin and each bin within its room. */
static bool legal(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb, const SparseBalancePlan *p) {
    double *used = calloc((size_t)nb, sizeof(double));
    int k = 0;
    bool ok = true;
    for (int i = 0; i < ns; i++) {
        for (int j = 0; j < p->ntiles[i]; j++) {
            int b = p->bin[k + j];
            if (b < 0 || b >= nb)
                ok = false;
            else
                used[b] += s[i].bytes / p->ntiles[i] + s[i].tile_bytes;
        }
        k += p->ntiles[i];
    }
    for (int b = 0; b < nb && ok; b++)
        ok = used[b] <= bins[b].room * (1 + 1e-9) + 1e-6;
    free(used);
    return ok;
}

/* A layer-shaped instance (see the header). */
static int layer_instance(SparseBalanceStream **out, SparseBalanceBin **bins_out) {
    int nb = 16 * between(1, 8);
    int heads = between(1, 16), batch = between(1, 8), ns = heads * batch;
    double ctx = exp(log(1024.0) + uniform() * log(128.0));
    bool dense_layer = uniform() < 0.25;
    double static_share = uniform();
    int sink = between(0, 128), window = between(64, 1024), page = 16 << between(0, 1);
    int budget = page * between(16, 256);
    SparseBalanceStream *s = calloc((size_t)ns, sizeof *s);
    SparseBalanceBin *bins = calloc((size_t)nb, sizeof *bins);
    for (int h = 0; h < heads; h++) {
        bool is_static = !dense_layer && h < (int)(static_share * heads + 0.5);
        for (int b = 0; b < batch; b++) {
            SparseBalanceStream *st = &s[h * batch + b];
            double tokens;
            if (dense_layer) {
                tokens = ctx;
                st->max_tiles = 2 * nb;
            } else if (is_static) {
                tokens = fmin(ctx, sink + window);
                st->max_tiles = (int)fmin(tokens, nb);
            } else {
                tokens = fmin(ctx, budget) + (ctx > budget ? ceil(ctx / page) : 0);
                st->max_tiles = page;
            }
            st->work = tokens;
            st->bytes = tokens * 512;
            st->tile_work = 0.25;
            st->tile_bytes = 512 + 64;
            st->min_tiles = 1;
        }
    }
    for (int b = 0; b < nb; b++) {
        bins[b].group = b / 16;
        bins[b].room = INFINITY;
    }
    *out = s;
    *bins_out = bins;
    return nb * 1000000 + ns;
}

/* An arbitrary instance: works from 0.05 to 100, caps from 1 to every bin. */
static int free_instance(SparseBalanceStream **out, SparseBalanceBin **bins_out) {
    int nb = between(16, 128), ns = between(1, nb * 3 / 2);
    SparseBalanceStream *s = calloc((size_t)ns, sizeof *s);
    SparseBalanceBin *bins = calloc((size_t)nb, sizeof *bins);
    for (int i = 0; i < ns; i++) {
        bool light = uniform() < 0.4;
        s[i].work = light ? 0.05 + 0.95 * uniform() : exp(uniform() * log(100.0));
        s[i].min_tiles = 1;
        s[i].max_tiles = light ? between(1, 8) : between(1, nb);
        s[i].bytes = s[i].work * 1e6;
        s[i].tile_work = uniform() < 0.5 ? 0 : 1e-3;
    }
    for (int b = 0; b < nb; b++) {
        bins[b].group = b / 16;
        bins[b].room = INFINITY;
    }
    *out = s;
    *bins_out = bins;
    return nb * 1000000 + ns;
}

static void random_instances(bool layers) {
    double worst = 0, sum = 0, worst_global = 0, sum_global = 0, worst_rr = 0, sum_rr = 0;
    int fails = 0, rr_fails = 0, nrr = 0;
    enum { N = 1000 };
    for (int t = 0; t < N; t++) {
        SparseBalanceStream *s;
        SparseBalanceBin *bins;
        int code = layers ? layer_instance(&s, &bins) : free_instance(&s, &bins);
        int nb = code / 1000000, ns = code % 1000000;
        SparseBalancePlan p, rr;
        CHECK(sparse_balance_plan_init(&p, s, ns));
        CHECK(sparse_balance_plan_init(&rr, s, ns));
        CHECK(sparse_balance_best(s, ns, bins, nb, NULL, NULL, &p));
        CHECK(legal(s, ns, bins, nb, &p));
        double ratio = p.makespan / p.lower, global = p.makespan / sparse_balance_bound(s, ns, bins, nb);
        worst = ratio > worst ? ratio : worst;
        worst_global = global > worst_global ? global : worst_global;
        sum += ratio;
        sum_global += global;
        if (layers && ratio > 1.05) {
            fails++;
            if (fails <= 5)
                fprintf(stderr, "instance %d: %d streams, %d bins: makespan %g, bound of its tiling %g\n", t, ns, nb,
                        p.makespan, p.lower);
        }
        /* round robin of the same tiles, and of whole streams */
        for (int way = 0; way < 2; way++) {
            for (int i = 0; i < ns; i++)
                rr.ntiles[i] = way == 0 ? p.ntiles[i] : s[i].min_tiles;
            if (sparse_balance_round_robin(s, ns, bins, nb, &rr)) {
                if (p.makespan > rr.makespan * (1 + 1e-12))
                    rr_fails++;
                double r = p.makespan / rr.makespan;
                worst_rr = r > worst_rr ? r : worst_rr;
                sum_rr += r;
                nrr++;
            }
        }
        sparse_balance_plan_free(&p, s, ns);
        sparse_balance_plan_free(&rr, s, ns);
        free(s);
        free(bins);
    }
    fprintf(stderr, "%d %s instances: makespan / bound of its tiling: worst %.4f, mean %.4f; / bound of any tiling: "
            "worst %.4f, mean %.4f; / round robin: worst %.4f, mean %.4f\n", N, layers ? "layer-shaped" : "arbitrary",
            worst, sum / N, worst_global, sum_global / N, worst_rr, nrr ? sum_rr / nrr : 0);
    CHECK_EQ(fails, 0);
    CHECK_EQ(rr_fails, 0);
}

/* Worked by hand. */
static void small_cases(void) {
    /* Streams of work 6, 3 and 1 on 3 bins. Apportioning 5 tiles: from one each (tiles 6, 3, 1)
       the first gets a second (3, 3, 1), then the tie goes to the lower index: the first gets a
       third (2, 3, 1). */
    SparseBalanceStream s[3] = {{6, 0, 0, 0, 1, 8}, {3, 0, 0, 0, 1, 8}, {1, 0, 0, 0, 1, 8}};
    int n[3];
    sparse_balance_apportion(s, 3, 5, n);
    CHECK_EQ(n[0], 3);
    CHECK_EQ(n[1], 1);
    CHECK_EQ(n[2], 1);
    sparse_balance_apportion(s, 3, 100, n);
    CHECK_EQ(n[0] + n[1] + n[2], 24);     /* clamped at max_tiles */
    /* That tiling (2, 2, 2 | 3 | 1), by LPT: 3 on bin 0, 2 on bin 1, 2 on bin 2, the third 2 where
       the load ends lowest (bin 1: 4), 1 on bin 2 (3): loads 3, 4, 3. No move or swap lowers 4:
       moving a 2 makes 5, swapping it for the 1 makes 4 elsewhere. Its bound: max(10 / 3, 3). */
    SparseBalanceBin bins[3] = {{0, INFINITY, 0}, {0, INFINITY, 0}, {0, INFINITY, 0}};
    SparseBalancePlan p;
    CHECK(sparse_balance_plan_init(&p, s, 3));
    p.ntiles[0] = 3;
    p.ntiles[1] = 1;
    p.ntiles[2] = 1;
    CHECK(sparse_balance_assign(s, 3, bins, 3, &p));
    CHECK_NEAR(4, p.makespan, 1e-12);
    CHECK_NEAR(10.0 / 3, p.lower, 1e-12);
    /* Over tile counts, another tiling reaches the bound 10 / 3. */
    CHECK(sparse_balance_best(s, 3, bins, 3, NULL, NULL, &p));
    CHECK_NEAR(10.0 / 3, p.makespan, 1e-12);
    sparse_balance_plan_free(&p, s, 3);
    /* A per-bin cost: stream 0 of work 4 with 1 per bin it uses, on 2 bins: whole, 4 + 1 = 5; in
       two tiles, 2 + 1 on each = 3. */
    SparseBalanceStream c[1] = {{4, 1, 0, 0, 1, 2}};
    SparseBalanceBin two[2] = {{0, INFINITY, 0}, {0, INFINITY, 1}};
    CHECK(sparse_balance_plan_init(&p, c, 1));
    CHECK(sparse_balance_best(c, 1, two, 2, NULL, NULL, &p));
    CHECK_NEAR(3, p.makespan, 1e-12);
    CHECK_EQ(p.ntiles[0], 2);
    CHECK(p.bin[0] != p.bin[1]);
    sparse_balance_plan_free(&p, c, 1);
    /* Rooms: a stream of work 6 and 6 bytes, at most 3 tiles, on bins with room 1.5, 10 and 10. Whole:
       6 on bin 1 or 2. Cut in 2 (3 bytes each): bins 1 and 2, makespan 3. Cut in 3 (2 bytes): bin 0
       takes none, so one bin holds two: 4. The best is 2 tiles, off bin 0. */
    SparseBalanceStream big[1] = {{6, 0, 6, 0, 1, 3}};
    SparseBalanceBin tight[3] = {{0, 1.5, 0}, {0, 10, 0}, {0, 10, 0}};
    CHECK(sparse_balance_plan_init(&p, big, 1));
    CHECK(sparse_balance_best(big, 1, tight, 3, NULL, NULL, &p));
    CHECK_EQ(p.ntiles[0], 2);
    CHECK_NEAR(3, p.makespan, 1e-12);
    CHECK(p.bin[0] != 0 && p.bin[1] != 0);
    /* Round robin deals tile 0 to bin 0, which has no room for it. */
    CHECK(!sparse_balance_round_robin(big, 1, tight, 3, &p));
    sparse_balance_plan_free(&p, big, 1);
}

int main(void) {
    random_instances(true);
    random_instances(false);
    small_cases();
    return test_done();
}

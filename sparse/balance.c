/* balance.c: load balancing of tiled attention (sparse.h, docs/sparsity.md §4). Streams of work are
 * cut into equal tiles and the tiles assigned to bins (PEs) to minimise the largest bin load. Plain
 * C over arrays: pass_balance feeds it one layer's streams at a time, and tests/unit/test_balance.c
 * checks it against the lower bound and round robin on random instances. */
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double share_of(const SparseBalanceStream *s, int n) { return s->work / n; }
static double tile_size(const SparseBalanceStream *s, int n) { return s->bytes / n + s->tile_bytes; }

static int max_tiles_sum(const SparseBalanceStream *s, int ns) {
    int t = 0;
    for (int i = 0; i < ns; i++)
        t += s[i].max_tiles;
    return t;
}

bool sparse_balance_plan_init(SparseBalancePlan *p, const SparseBalanceStream *s, int ns) {
    memset(p, 0, sizeof *p);
    p->ntiles = h2c_raw_alloc(sizeof(int) * (size_t)(ns + 1));
    p->bin = h2c_raw_alloc(sizeof(int) * (size_t)(max_tiles_sum(s, ns) + 1));
    if (!p->ntiles || !p->bin) {
        sparse_balance_plan_free(p, s, ns);
        return false;
    }
    for (int i = 0; i < ns; i++)
        p->ntiles[i] = s[i].min_tiles;
    p->makespan = p->lower = INFINITY;
    return true;
}

void sparse_balance_plan_free(SparseBalancePlan *p, const SparseBalanceStream *s, int ns) {
    h2c_raw_free(p->ntiles, sizeof(int) * (size_t)(ns + 1));
    h2c_raw_free(p->bin, sizeof(int) * (size_t)(max_tiles_sum(s, ns) + 1));
    p->ntiles = p->bin = NULL;
}

void sparse_balance_plan_copy(SparseBalancePlan *dst, const SparseBalancePlan *src, int ns) {
    memcpy(dst->ntiles, src->ntiles, sizeof(int) * (size_t)ns);
    memcpy(dst->bin, src->bin, sizeof(int) * (size_t)src->tiles);
    dst->tiles = src->tiles;
    dst->makespan = src->makespan;
    dst->lower = src->lower;
}

/* ---------------------------------------------------------------- tile counts */

void sparse_balance_apportion(const SparseBalanceStream *s, int ns, int budget, int *ntiles) {
    int total = 0, most = 0;
    for (int i = 0; i < ns; i++) {
        ntiles[i] = s[i].min_tiles;
        total += ntiles[i];
        most += s[i].max_tiles;
    }
    if (budget > most)
        budget = most;
    /* highest averages: the next tile goes to the stream whose tiles are the longest. A binary
       heap of stream indices keyed by their current tile time. */
    int *heap = h2c_raw_alloc(sizeof(int) * (size_t)(ns + 1));
    if (!heap)
        return;     /* (the minimum counts stand) */
    int hn = 0;
#define KEY(i) share_of(&s[(i)], ntiles[(i)])
#define BEFORE(a, b) (KEY(a) > KEY(b) || (KEY(a) == KEY(b) && (a) < (b)))
    for (int i = 0; i < ns; i++) {
        if (ntiles[i] >= s[i].max_tiles)
            continue;
        int k = hn++;
        heap[k] = i;
        while (k > 0 && BEFORE(heap[k], heap[(k - 1) / 2])) {
            int t = heap[k]; heap[k] = heap[(k - 1) / 2]; heap[(k - 1) / 2] = t; k = (k - 1) / 2;
        }
    }
    while (total < budget && hn > 0) {
        int i = heap[0];
        ntiles[i]++;
        total++;
        if (ntiles[i] >= s[i].max_tiles)
            heap[0] = heap[--hn];
        for (int k = 0;;) {
            int l = 2 * k + 1, r = l + 1, m = k;
            if (l < hn && BEFORE(heap[l], heap[m])) m = l;
            if (r < hn && BEFORE(heap[r], heap[m])) m = r;
            if (m == k) break;
            int t = heap[k]; heap[k] = heap[m]; heap[m] = t; k = m;
        }
    }
#undef BEFORE
#undef KEY
    h2c_raw_free(heap, sizeof(int) * (size_t)(ns + 1));
}

/* ---------------------------------------------------------------- assignment */

/* Scratch of one assignment: the tiles stream by stream, each stream's share and size per tile,
 * bin loads and rooms, how many tiles of each stream each bin holds, and the tiles per group. */
typedef struct Work {
    int ns, nb, nt;
    int *stream;        /* [nt] */
    int *first;         /* [ns + 1]: the first tile of each stream */
    double *share, *size, *tw;  /* [ns]: a tile's work and bytes, the stream's per-bin work */
    double *load, *room;/* [nb] */
    int *cnt;           /* [nb * ns]: tiles of stream s on bin b at cnt[b * ns + s] */
    int *gcount;        /* [groups] */
    int groups;
    int *order;         /* [ns]: streams longest tile first */
    int *low;           /* [nb]: scratch, bins by load */
} Work;

static void work_free(Work *w) {
    int ns = w->ns, nb = w->nb;
    h2c_raw_free(w->stream, sizeof(int) * (size_t)(w->nt + 1));
    h2c_raw_free(w->first, sizeof(int) * (size_t)(ns + 1));
    h2c_raw_free(w->share, sizeof(double) * (size_t)(ns + 1));
    h2c_raw_free(w->size, sizeof(double) * (size_t)(ns + 1));
    h2c_raw_free(w->tw, sizeof(double) * (size_t)(ns + 1));
    h2c_raw_free(w->load, sizeof(double) * (size_t)(nb + 1));
    h2c_raw_free(w->room, sizeof(double) * (size_t)(nb + 1));
    h2c_raw_free(w->cnt, sizeof(int) * ((size_t)nb * (size_t)ns + 1));
    h2c_raw_free(w->gcount, sizeof(int) * (size_t)(w->groups + 1));
    h2c_raw_free(w->order, sizeof(int) * (size_t)(ns + 1));
    h2c_raw_free(w->low, sizeof(int) * (size_t)(nb + 1));
}

static bool work_init(Work *w, const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                      const int *ntiles) {
    memset(w, 0, sizeof *w);
    int nt = 0, groups = 0;
    for (int i = 0; i < ns; i++)
        nt += ntiles[i];
    for (int b = 0; b < nb; b++)
        groups = bins[b].group + 1 > groups ? bins[b].group + 1 : groups;
    w->ns = ns;
    w->nb = nb;
    w->nt = nt;
    w->groups = groups;
    w->stream = h2c_raw_alloc(sizeof(int) * (size_t)(nt + 1));
    w->first = h2c_raw_alloc(sizeof(int) * (size_t)(ns + 1));
    w->share = h2c_raw_alloc(sizeof(double) * (size_t)(ns + 1));
    w->size = h2c_raw_alloc(sizeof(double) * (size_t)(ns + 1));
    w->tw = h2c_raw_alloc(sizeof(double) * (size_t)(ns + 1));
    w->load = h2c_raw_alloc(sizeof(double) * (size_t)(nb + 1));
    w->room = h2c_raw_alloc(sizeof(double) * (size_t)(nb + 1));
    w->cnt = h2c_raw_alloc(sizeof(int) * ((size_t)nb * (size_t)ns + 1));
    w->gcount = h2c_raw_alloc(sizeof(int) * (size_t)(groups + 1));
    w->order = h2c_raw_alloc(sizeof(int) * (size_t)(ns + 1));
    w->low = h2c_raw_alloc(sizeof(int) * (size_t)(nb + 1));
    if (!w->stream || !w->first || !w->share || !w->size || !w->tw || !w->load || !w->room || !w->cnt ||
        !w->gcount || !w->order || !w->low) {
        work_free(w);
        return false;
    }
    int k = 0;
    for (int i = 0; i < ns; i++) {
        w->first[i] = k;
        w->share[i] = share_of(&s[i], ntiles[i]);
        w->size[i] = tile_size(&s[i], ntiles[i]);
        w->tw[i] = s[i].tile_work;
        for (int j = 0; j < ntiles[i]; j++)
            w->stream[k++] = i;
    }
    w->first[ns] = k;
    for (int b = 0; b < nb; b++) {
        w->load[b] = bins[b].load;
        w->room[b] = bins[b].room;
    }
    memset(w->cnt, 0, sizeof(int) * ((size_t)nb * (size_t)ns + 1));
    memset(w->gcount, 0, sizeof(int) * (size_t)(groups + 1));
    return true;
}

/* Rounding slack when comparing rooms. */
static bool fits(double room, double size) { return size <= room * (1 + 1e-12) + 1e-9; }

/* What bin b's load grows by when it takes one more tile of stream s, and shrinks by when it gives
 * one up: the tile's share, and the stream's per-bin work when it is the first or the last. */
static double gain(const Work *w, int b, int s) { return w->share[s] + (w->cnt[b * w->ns + s] == 0 ? w->tw[s] : 0); }
static double loss(const Work *w, int b, int s) { return w->share[s] + (w->cnt[b * w->ns + s] == 1 ? w->tw[s] : 0); }

static void put(Work *w, const SparseBalanceBin *bins, int b, int s, int sign) {
    if (sign > 0)
        w->load[b] += gain(w, b, s);
    else
        w->load[b] -= loss(w, b, s);
    w->room[b] -= sign * w->size[s];
    w->cnt[b * w->ns + s] += sign;
    w->gcount[bins[b].group] += sign;
}

/* The bound of a tiling: the makespan is at least the largest initial load and the largest tile
 * with its per-bin work; at least the mean load, counting each stream's per-bin work once; and,
 * since every bin that holds tiles pays some stream's per-bin work, at least the mean of the tiles'
 * work over all bins plus the smallest per-bin work. */
static double bound_of(const double *init, int nb, const double *work, const double *tile, const double *tw, int ns) {
    double total = 0, big = 0, wsum = 0, twmin = INFINITY;
    for (int b = 0; b < nb; b++) {
        total += init[b];
        big = init[b] > big ? init[b] : big;
    }
    for (int s = 0; s < ns; s++) {
        total += work[s] + tw[s];
        wsum += work[s];
        big = tile[s] + tw[s] > big ? tile[s] + tw[s] : big;
        twmin = tw[s] < twmin ? tw[s] : twmin;
    }
    double lb = total / nb > big ? total / nb : big;
    if (ns > 0 && wsum / nb + twmin > lb)
        lb = wsum / nb + twmin;
    return lb;
}

static void finish(const Work *w, const SparseBalanceBin *bins, SparseBalancePlan *p) {
    double mk = 0;
    for (int b = 0; b < w->nb; b++)
        mk = w->load[b] > mk ? w->load[b] : mk;
    double *init = h2c_raw_alloc(sizeof(double) * (size_t)(w->nb + 3 * w->ns + 1));
    p->tiles = w->nt;
    p->makespan = mk;
    p->lower = 0;
    if (!init)
        return;     /* (no bound: 0) */
    double *work = init + w->nb, *tile = work + w->ns;
    for (int b = 0; b < w->nb; b++)
        init[b] = bins[b].load;
    for (int s = 0; s < w->ns; s++) {
        work[s] = w->share[s] * (w->first[s + 1] - w->first[s]);
        tile[s] = w->share[s];
    }
    p->lower = bound_of(init, w->nb, work, tile, w->tw, w->ns);
    h2c_raw_free(init, sizeof(double) * (size_t)(w->nb + 3 * w->ns + 1));
}

/* Streams by tile share, longest first (then the lower index): an insertion sort, stable. */
static void lpt_order(Work *w) {
    for (int i = 0; i < w->ns; i++) {
        int j = i;
        while (j > 0 && w->share[w->order[j - 1]] < w->share[i]) {
            w->order[j] = w->order[j - 1];
            j--;
        }
        w->order[j] = i;
    }
}

/* The k least loaded bins into w->low, least first; returns how many (k, or all when fewer). */
static int least_loaded(Work *w, int k) {
    int n = 0;
    for (int b = 0; b < w->nb; b++) {
        if (n == k && !(w->load[b] < w->load[w->low[k - 1]]))
            continue;
        int j = n < k ? n++ : k - 1;    /* full: the last (the most loaded of them) drops out */
        while (j > 0 && w->load[w->low[j - 1]] > w->load[b]) {
            w->low[j] = w->low[j - 1];
            j--;
        }
        w->low[j] = b;
    }
    return n;
}

/* Moves and swaps out of the most loaded bin while one lowers it below its load. Moves may go to
 * any bin; swaps look at the few least loaded bins, the only ones that can take a longer tile
 * without becoming the new maximum. */
static void refine(Work *w, const SparseBalanceBin *bins, int *bin) {
    int ns = w->ns, nb = w->nb;
    int limit = w->nt + nb < 2000 ? w->nt + nb : 2000;
    for (int it = 0; it < limit; it++) {
        int bm = 0;
        for (int b = 1; b < nb; b++)
            if (w->load[b] > w->load[bm])
                bm = b;
        double lm = w->load[bm], best = lm * (1 - 1e-12);
        int bs = -1, bs2 = -1, bb = -1;     /* stream out of bm, stream into bm (or -1), the other bin */
        int nlow = least_loaded(w, 8);
        for (int s = 0; s < ns; s++) {
            if (w->cnt[bm * ns + s] == 0)
                continue;
            double out = loss(w, bm, s);
            for (int b = 0; b < nb; b++) {
                if (b == bm || !fits(w->room[b], w->size[s]))
                    continue;
                double pair = fmax(lm - out, w->load[b] + gain(w, b, s));
                if (pair < best) {
                    best = pair;
                    bs = s;
                    bs2 = -1;
                    bb = b;
                }
            }
            for (int q = 0; q < nlow; q++) {
                int b = w->low[q];
                if (b == bm)
                    continue;
                for (int s2 = 0; s2 < ns; s2++) {
                    if (s2 == s || w->cnt[b * ns + s2] == 0 || w->share[s2] >= w->share[s])
                        continue;
                    if (!fits(w->room[b] + w->size[s2], w->size[s]) || !fits(w->room[bm] + w->size[s], w->size[s2]))
                        continue;
                    double nbm = lm - out + gain(w, bm, s2);
                    double nb2 = w->load[b] - loss(w, b, s2) + gain(w, b, s);
                    double pair = fmax(nbm, nb2);
                    if (pair < best) {
                        best = pair;
                        bs = s;
                        bs2 = s2;
                        bb = b;
                    }
                }
            }
        }
        if (bs < 0)
            return;
        int x = -1, y = -1;
        for (int k = w->first[bs]; k < w->first[bs + 1] && x < 0; k++)
            if (bin[k] == bm)
                x = k;
        for (int k = bs2 >= 0 ? w->first[bs2] : 0; bs2 >= 0 && k < w->first[bs2 + 1] && y < 0; k++)
            if (bin[k] == bb)
                y = k;
        put(w, bins, bm, bs, -1);
        put(w, bins, bb, bs, +1);
        bin[x] = bb;
        if (y >= 0) {
            put(w, bins, bb, bs2, -1);
            put(w, bins, bm, bs2, +1);
            bin[y] = bm;
        }
    }
}

bool sparse_balance_assign(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                           SparseBalancePlan *p) {
    Work w;
    if (nb < 1 || !work_init(&w, s, ns, bins, nb, p->ntiles))
        return false;
    lpt_order(&w);
    bool ok = true;
    for (int q = 0; q < ns && ok; q++) {
        int st = w.order[q];
        for (int k = w.first[st]; k < w.first[st + 1]; k++) {
            /* the bin where the load ends lowest, then the group with the fewest tiles, then the most room */
            int pick = -1;
            double pend = 0;
            for (int b = 0; b < nb; b++) {
                if (!fits(w.room[b], w.size[st]))
                    continue;
                double end = w.load[b] + gain(&w, b, st);
                if (pick < 0 || end < pend ||
                    (end == pend && (w.gcount[bins[b].group] < w.gcount[bins[pick].group] ||
                                     (w.gcount[bins[b].group] == w.gcount[bins[pick].group] &&
                                      w.room[b] > w.room[pick])))) {
                    pick = b;
                    pend = end;
                }
            }
            if (pick < 0) {
                ok = false;
                break;
            }
            p->bin[k] = pick;
            put(&w, bins, pick, st, +1);
        }
    }
    if (ok) {
        refine(&w, bins, p->bin);
        finish(&w, bins, p);
    }
    work_free(&w);
    return ok;
}

bool sparse_balance_round_robin(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                                SparseBalancePlan *p) {
    Work w;
    if (nb < 1 || !work_init(&w, s, ns, bins, nb, p->ntiles))
        return false;
    bool ok = true;
    for (int k = 0; k < w.nt && ok; k++) {
        int b = k % nb, st = w.stream[k];
        if (!fits(w.room[b], w.size[st]))
            ok = false;
        p->bin[k] = b;
        put(&w, bins, b, st, +1);
    }
    if (ok)
        finish(&w, bins, p);
    work_free(&w);
    return ok;
}

double sparse_balance_bound(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb) {
    double *a = h2c_raw_alloc(sizeof(double) * (size_t)(nb + 3 * ns + 1));
    if (!a || nb < 1) {
        h2c_raw_free(a, sizeof(double) * (size_t)(nb + 3 * ns + 1));
        return 0;
    }
    double *work = a + nb, *tile = work + ns, *tw = tile + ns;
    for (int b = 0; b < nb; b++)
        a[b] = bins[b].load;
    for (int i = 0; i < ns; i++) {
        work[i] = s[i].work;
        tile[i] = share_of(&s[i], s[i].max_tiles > 0 ? s[i].max_tiles : 1);
        tw[i] = s[i].tile_work;
    }
    double lb = bound_of(a, nb, work, tile, tw, ns);
    h2c_raw_free(a, sizeof(double) * (size_t)(nb + 3 * ns + 1));
    return lb;
}

/* ---------------------------------------------------------------- target fill */

/* Another way to choose the tiling: streams by work, largest first, each cut into the fewest tiles
 * whose share fits under `target` on as many of the least loaded bins (with room), and put there;
 * when no count fits, the count that ends lowest. Then refined like LPT's result. It finds the
 * tilings where heavy streams fill whole bins and light ones the gaps, which apportioning one tile
 * count over all streams misses. */
static bool target_fill(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb, double target,
                        SparseBalancePlan *p) {
    size_t mem = sizeof(double) * (size_t)(2 * nb + 1) + sizeof(int) * (size_t)(2 * nb + ns + 1);
    char *buf = h2c_raw_alloc(mem);
    if (!buf)
        return false;
    double *load = (double *)buf, *room = load + nb;
    int *sorted = (int *)(room + nb + 1), *pick = sorted + nb, *order = pick + nb;
    for (int b = 0; b < nb; b++) {
        load[b] = bins[b].load;
        room[b] = bins[b].room;
        sorted[b] = b;
    }
    /* streams by work, largest first (stable) */
    for (int i = 0; i < ns; i++) {
        int j = i;
        while (j > 0 && s[order[j - 1]].work < s[i].work) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    int *binof = h2c_raw_alloc(sizeof(int) * (size_t)(nb * ns + 1));
    bool ok = binof != NULL;
    for (int q = 0; q < ns && ok; q++) {
        int i = order[q];
        /* bins by load (insertion sort: nearly sorted from the last stream) */
        for (int a = 1; a < nb; a++) {
            int v = sorted[a], j = a;
            while (j > 0 && load[sorted[j - 1]] > load[v]) {
                sorted[j] = sorted[j - 1];
                j--;
            }
            sorted[j] = v;
        }
        int top = s[i].max_tiles < nb ? s[i].max_tiles : nb, best_n = -1;
        double best_end = INFINITY;
        for (int n = s[i].min_tiles; n <= top; n++) {
            double size = tile_size(&s[i], n);
            int got = 0;
            double end = 0;
            for (int a = 0; a < nb && got < n; a++)
                if (fits(room[sorted[a]], size)) {
                    end = load[sorted[a]];
                    got++;
                }
            if (got < n)
                continue;
            end += share_of(&s[i], n) + s[i].tile_work;
            if (end <= target) {
                best_n = n;
                break;
            }
            if (end < best_end) {
                best_end = end;
                best_n = n;
            }
        }
        if (best_n < 0) {
            ok = false;
            break;
        }
        p->ntiles[i] = best_n;
        double size = tile_size(&s[i], best_n), add = share_of(&s[i], best_n) + s[i].tile_work;
        int got = 0;
        for (int a = 0; a < nb && got < best_n; a++) {
            int b = sorted[a];
            if (!fits(room[b], size))
                continue;
            pick[got++] = b;
        }
        for (int j = 0; j < best_n; j++) {
            load[pick[j]] += add;
            room[pick[j]] -= size;
            binof[i * nb + j] = pick[j];
        }
    }
    Work w;
    if (ok && work_init(&w, s, ns, bins, nb, p->ntiles)) {
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < p->ntiles[i]; j++) {
                int k = w.first[i] + j, b = binof[i * nb + j];
                p->bin[k] = b;
                put(&w, bins, b, i, +1);
            }
        refine(&w, bins, p->bin);
        finish(&w, bins, p);
        work_free(&w);
    } else {
        ok = false;
    }
    h2c_raw_free(binof, sizeof(int) * (size_t)(nb * ns + 1));
    h2c_raw_free(buf, mem);
    return ok;
}

/* ---------------------------------------------------------------- the best over tile counts */

bool sparse_balance_best(const SparseBalanceStream *s, int ns, const SparseBalanceBin *bins, int nb,
                         SparseBalanceScore score, void *ctx, SparseBalancePlan *best) {
    int lo = 0, hi = 0;
    for (int i = 0; i < ns; i++) {
        lo += s[i].min_tiles;
        hi += s[i].max_tiles;
    }
    /* tile counts: the minimum, fractions of the bins, multiples of the bins up to 8 per bin (or 4
       per stream, when the streams outnumber the bins; at most 32 of them), the maximum */
    int cand[48], nc = 0;
    cand[nc++] = lo;
    for (int k = 1; k <= 3; k++)
        if (k * nb / 4 > lo && k * nb / 4 < hi)
            cand[nc++] = k * nb / 4;
    int top = 8 * nb > 4 * lo ? 8 * nb : 4 * lo, step = (top / nb + 31) / 32;
    for (int m = 1; m * nb <= top && nc < 46; m += step)
        if (m * nb > lo && m * nb < hi)
            cand[nc++] = m * nb;
    if (hi > lo && hi <= top)
        cand[nc++] = hi;
    SparseBalancePlan cur;
    if (!sparse_balance_plan_init(&cur, s, ns))
        return false;
    int *dh = h2c_raw_alloc(sizeof(int) * (size_t)(ns + 1));
    if (!dh) {
        sparse_balance_plan_free(&cur, s, ns);
        return false;
    }
    bool found = false;
    double best_score = INFINITY;
    for (int c = 0; c < nc; c++) {
        if (c > 0 && cand[c] == cand[c - 1])
            continue;
        sparse_balance_apportion(s, ns, cand[c], dh);
        /* the apportionment as it is, and snapped: a stream of at least half the bins' count of tiles
           spreads evenly only over a multiple of the bins, so round its count down or up to one */
        for (int snap = 0; snap < 3; snap++) {
        bool changed = false;
        for (int i = 0; i < ns; i++) {
            int n = dh[i];
            if (snap > 0 && 2 * n >= nb) {
                int k = snap == 1 ? n / nb : (n + nb - 1) / nb;
                int m = (k > 0 ? k : 1) * nb;
                if (m >= s[i].min_tiles && m <= s[i].max_tiles && m != n) {
                    n = m;
                    changed = true;
                }
            }
            cur.ntiles[i] = n;
        }
        if (snap > 0 && !changed)
            continue;
        for (int way = 0; way < 2; way++) {
            bool ok = way == 0 ? sparse_balance_assign(s, ns, bins, nb, &cur)
                               : sparse_balance_round_robin(s, ns, bins, nb, &cur);
            if (!ok)
                continue;
            double v = score ? score(ctx, &cur) : cur.makespan;
            if (v < best_score) {
                best_score = v;
                sparse_balance_plan_copy(best, &cur, ns);
                found = true;
            }
        }
        }
    }
    /* target fills, aiming at the bound of any tiling and a little above it */
    double lb = sparse_balance_bound(s, ns, bins, nb);
    static const double aim[] = {1.0, 1.01, 1.02, 1.05, 1.1};
    for (size_t k = 0; k < sizeof aim / sizeof aim[0]; k++) {
        if (!target_fill(s, ns, bins, nb, lb * aim[k], &cur))
            continue;
        double v = score ? score(ctx, &cur) : cur.makespan;
        if (v < best_score) {
            best_score = v;
            sparse_balance_plan_copy(best, &cur, ns);
            found = true;
        }
    }
    /* then, while the best is more than 2% above the bound of its tiling, a few rounds of local
       search over the tile counts of the streams with the largest tiles: one tile more or fewer */
    for (int round = 0; found && round < 4 && best->makespan > 1.02 * best->lower; round++) {
        /* dh: the streams by their tile's share in the best plan, largest first (insertion sort) */
        for (int i = 0; i < ns; i++) {
            double si = s[i].work / best->ntiles[i];
            int j = i;
            while (j > 0 && s[dh[j - 1]].work / best->ntiles[dh[j - 1]] < si) {
                dh[j] = dh[j - 1];
                j--;
            }
            dh[j] = i;
        }
        bool better = false;
        for (int q = 0; q < 16 && q < ns; q++) {
            int i = dh[q];
            for (int d = -1; d <= 1; d += 2) {
                int n = best->ntiles[i] + d;
                if (n < s[i].min_tiles || n > s[i].max_tiles)
                    continue;
                memcpy(cur.ntiles, best->ntiles, sizeof(int) * (size_t)ns);
                cur.ntiles[i] = n;
                if (!sparse_balance_assign(s, ns, bins, nb, &cur))
                    continue;
                double v = score ? score(ctx, &cur) : cur.makespan;
                if (v < best_score * (1 - 1e-12)) {
                    best_score = v;
                    sparse_balance_plan_copy(best, &cur, ns);
                    better = true;
                }
            }
        }
        if (!better)
            break;
    }
    h2c_raw_free(dh, sizeof(int) * (size_t)(ns + 1));
    sparse_balance_plan_free(&cur, s, ns);
    return found;
}

/* attnplan.c: how an attention plan's streams are tiled over banks (docs/sparsity.md §3, §4), shared
 * by pass_coplace and pass_balance and by the ablation of `--report=attention`, which builds the
 * baselines the same way. Not a pass: it reads a module and fills an Attention in a given arena.
 * Tilings: whole heads one per PE (the dense baseline), striped over every bank and read by the NPU
 * (naive placement), co-placed (static heads whole, dynamic ones over a page's worth of banks,
 * dense ones over every bank), and balanced (the tile count and PEs of every stream chosen layer
 * class by layer class by sparse/balance.c, scored with the h2c cost model's layer time). Every
 * tiling is checked against the banks' capacity as pass_placement would allocate it. */
#include "passes.h"
#include "sparse.h"

#include <math.h>
#include <string.h>

bool attn_plan_find(const Module *m, int v, Attention *a) {
    const Phase *dc = &m->phases[PH_DECODE];
    const Op *val = &dc->ops[v];
    memset(a, 0, sizeof *a);
    if (val->code != OP_ATTN_VALUE || val->ninputs < 1 || val->inputs[0] < 0 || val->tensor < 0)
        return false;
    int s = val->inputs[0];
    if (dc->ops[s].code == OP_SOFTMAX && dc->ops[s].ninputs == 1 && dc->ops[s].inputs[0] >= 0)
        s = dc->ops[s].inputs[0];
    if (dc->ops[s].code != OP_ATTN_SCORE || dc->ops[s].tensor < 0)
        return false;
    a->value_op = v;
    a->score_op = s;
    a->k_tensor = dc->ops[s].tensor;
    a->v_tensor = val->tensor;
    a->loc = val->loc;
    return true;
}

/* ---------------------------------------------------------------- what a tiling may use */

ChanSet attn_plan_channels(const Module *m, const Attention *a) {
    const Op *v = &m->phases[PH_DECODE].ops[a->value_op];
    ChanSet s = 0;
    for (int i = 0; i < v->ntiles; i++)
        if (v->tiles[i].exec.kind == EXEC_NMP || v->tiles[i].exec.kind == EXEC_PE)
            s |= v->tiles[i].exec.chans;
    if (v->ntiles == 0)
        s = dev_nmp_set(&m->dev);   /* not mapped: every NMP channel */
    return s & dev_nmp_set(&m->dev);
}

/* The banks a tiling spreads over, bank-major (b0 of every channel, then b1, ...) so that a run of
 * them alternates channels and their transfer links. Without PEs: every bank of every channel. */
static BankRef *usable_banks(Arena *ar, const Module *m, const Attention *a, int *n) {
    ChanSet cs = attn_plan_channels(m, a);
    if (!cs)
        cs = dev_all_set(&m->dev);
    int B = dev_banks(&m->dev), k = 0;
    BankRef *bk = ARENA_ARRAY(ar, BankRef, chanset_count(cs) * B + 1);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < IR_MAX_CHANNELS; c++)
            if (cs & CHAN_BIT(c))
                bk[k++] = (BankRef){c, b};
    *n = k;
    return bk;
}

/* Layer classes: runs of layers between the pattern lines' ends (each run one row of patterns). */
static int layer_classes(Arena *ar, const Attention *a, int L, Range **out) {
    bool *cut = ARENA_ARRAY(ar, bool, L + 1);
    cut[0] = cut[L] = true;
    for (int i = 0; i < a->npats; i++) {
        const AttnPatternLine *p = &a->pats[i];
        if (p->layers.lo >= 0 && p->layers.lo <= L)
            cut[p->layers.lo] = true;
        if (p->layers.hi >= 0 && p->layers.hi <= L)
            cut[p->layers.hi] = true;
    }
    int n = 0;
    for (int l = 1; l <= L; l++)
        n += cut[l];
    Range *r = ARENA_ARRAY(ar, Range, n + 1);
    int k = 0, lo = 0;
    for (int l = 1; l <= L; l++)
        if (cut[l]) {
            r[k++] = (Range){lo, l};
            lo = l;
        }
    *out = r;
    return k;
}

/* ---------------------------------------------------------------- capacity */

/* The first free byte above the tensors, and the lowest byte the other attentions' regions leave
 * free, of every bank, as placement would allocate them. False if the tensors alone overflow. */
static bool bank_limits(Arena *ar, const Module *m, int index, const Attention *a, long long **top_out,
                        long long **ceil_out) {
    int nb = dev_channels(&m->dev) * dev_banks(&m->dev);
    long long *top = ARENA_ARRAY(ar, long long, nb), *ceil = ARENA_ARRAY(ar, long long, nb);
    bool ok = placement_tensor_tops(m, a->k_tensor, a->v_tensor, top);
    for (int u = 0; u < nb; u++)
        ceil[u] = (long long)m->dev.hw.bank_capacity;
    for (int i = 0; i < m->nattns && ok; i++) {
        if (i == index || m->attns[i].ntiles == 0)
            continue;
        Attention copy = m->attns[i];
        copy.tiles = ARENA_ARRAY(ar, AttnTiles, copy.ntiles);
        memcpy(copy.tiles, m->attns[i].tiles, sizeof(AttnTiles) * (size_t)copy.ntiles);
        for (int j = 0; j < copy.ntiles; j++)
            copy.tiles[j].offset = -1;
        ok = placement_attention(m, &copy, ceil, top, NULL);
    }
    *top_out = top;
    *ceil_out = ceil;
    return ok;
}

/* attn_plan_fits's work, in a scratch arena whose exhaustion the caller catches. */
static int fits_in(Arena *ar, const Module *m, int index, const Attention *a, char *why, size_t n) {
    long long *top, *ceil;
    if (!bank_limits(ar, m, index, a, &top, &ceil)) {
        snprintf(why, n, "the tensors and the other attentions fill the banks");
        return 0;
    }
    Attention copy = *a;
    copy.tiles = ARENA_ARRAY(ar, AttnTiles, a->ntiles + 1);
    memcpy(copy.tiles, a->tiles, sizeof(AttnTiles) * (size_t)a->ntiles);
    for (int j = 0; j < copy.ntiles; j++)
        copy.tiles[j].offset = -1;
    int bad = -1;
    if (placement_attention(m, &copy, ceil, top, &bad))
        return 1;
    if (bad < 0) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    const AttnTiles *t = &copy.tiles[bad];
    char need[32], cap[32];
    unit_format(need, sizeof need, (double)(attn_line_region(m, &copy, t) * (t->layers.hi - t->layers.lo)), UK_BYTES);
    unit_format(cap, sizeof cap, m->dev.hw.bank_capacity, UK_BYTES);
    snprintf(why, n, "the tiles of head %d batch %d (layers %lld:%lld, %s in each of %d bank%s) do not fit beside the "
             "weights in banks of %s", t->head, t->batch, t->layers.lo, t->layers.hi, need, t->nbanks,
             plural(t->nbanks), cap);
    return 0;
}

int attn_plan_fits(const Module *m, int index, const Attention *a, char *why, size_t n) {
    /* the arena on the heap: nothing local changes between the setjmp and a longjmp */
    Arena *const ar = h2c_raw_alloc(sizeof *ar);
    if (!ar) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    arena_init(ar);
    jmp_buf jb;
    if (setjmp(jb)) {
        arena_free(ar);
        h2c_raw_free(ar, sizeof *ar);
        snprintf(why, n, "out of memory");
        return -1;
    }
    ar->oom = &jb;
    int r = fits_in(ar, m, index, a, why, n);
    arena_free(ar);
    h2c_raw_free(ar, sizeof *ar);
    return r;
}

/* ---------------------------------------------------------------- patterns */

void attn_plan_dense(Arena *ar, const Module *m, Attention *a) {
    int H = m->model.kv_heads;
    AttnPatternLine pl;
    memset(&pl, 0, sizeof pl);
    pl.layers = (Range){0, m->model.layers};
    pl.heads = ARENA_ARRAY(ar, int, H);
    for (int h = 0; h < H; h++)
        pl.heads[pl.nheads++] = h;
    pl.pat = (Pattern){PAT_DENSE, 0, 0, 0, 0};
    pl.loc = a->loc;
    a->pats = NULL;
    a->npats = a->pats_cap = 0;
    ir_attn_add_pattern(ar, a, pl);
}

bool attn_plan_all_dense(const Attention *a) {
    for (int i = 0; i < a->npats; i++)
        if (a->pats[i].pat.kind != PAT_DENSE)
            return false;
    return a->npats > 0;
}

/* ---------------------------------------------------------------- fixed tilings */

static void add_line(Arena *ar, Attention *a, Range layers, int h, int b, BankRef *banks, int n, Exec by) {
    AttnTiles t;
    memset(&t, 0, sizeof t);
    t.layers = layers;
    t.head = h;
    t.batch = b;
    t.banks = banks;
    t.nbanks = n;
    t.by = by;
    t.offset = -1;
    t.loc = a->loc;
    ir_attn_add_tiles(ar, a, t);
}

static BankRef *window(Arena *ar, const BankRef *bk, int nbk, int start, int n) {
    BankRef *w = ARENA_ARRAY(ar, BankRef, n);
    for (int j = 0; j < n; j++)
        w[j] = bk[(start + j) % nbk];
    return w;
}

/* Channel-major order, for lines that read well: ch0.b{...},ch1.b{...}. */
static void sort_banks(BankRef *b, int n) {
    for (int i = 1; i < n; i++) {
        BankRef v = b[i];
        int j = i;
        while (j > 0 && (b[j - 1].ch > v.ch || (b[j - 1].ch == v.ch && b[j - 1].bank > v.bank))) {
            b[j] = b[j - 1];
            j--;
        }
        b[j] = v;
    }
}

/* Whole heads, one per PE within a layer, the streams of consecutive layers on the following banks. */
static void tile_head_per_pe(Arena *ar, const Module *m, Attention *a, const BankRef *bk, int nbk) {
    int L = m->model.layers, H = m->model.kv_heads, Bt = m->work.batch, ns = H * Bt;
    for (int h = 0; h < H; h++)
        for (int b = 0; b < Bt; b++) {
            int s = h * Bt + b;
            for (int lo = 0; lo < L;) {
                int u = (int)(((long long)lo * ns + s) % nbk), hi = lo + 1;
                while (hi < L && (int)(((long long)hi * ns + s) % nbk) == u)
                    hi++;
                add_line(ar, a, (Range){lo, hi}, h, b, window(ar, bk, nbk, u, 1), 1, (Exec){EXEC_NONE, 0, -1});
                lo = hi;
            }
        }
}

/* Every stream striped over every usable bank, read by the NPU over the channels, a line per layer
 * class (a line's regions are as large as its largest layer's). */
static void tile_naive(Arena *ar, const Module *m, Attention *a, const BankRef *bk, int nbk) {
    BankRef *all = window(ar, bk, nbk, 0, nbk);
    sort_banks(all, nbk);
    Range *cls;
    int ncls = layer_classes(ar, a, m->model.layers, &cls);
    for (int k = 0; k < ncls; k++)
        for (int h = 0; h < m->model.kv_heads; h++)
            for (int b = 0; b < m->work.batch; b++)
                add_line(ar, a, cls[k], h, b, all, nbk, (Exec){EXEC_NPU, 0, -1});
}

/* pass_coplace's tiling, layer class by class: a static head whole in one bank (round robin over the
 * banks, continuing from stream to stream and class to class), a dynamic head over min(page, banks)
 * consecutive banks of the bank-major order (a window that moves on by its width from stream to
 * stream), a dense head over every bank. */
static void tile_coplace(Arena *ar, const Module *m, Attention *a, const BankRef *bk, int nbk, bool npu) {
    int H = m->model.kv_heads, Bt = m->work.batch;
    Range *cls;
    int ncls = layer_classes(ar, a, m->model.layers, &cls);
    BankRef *all = window(ar, bk, nbk, 0, nbk);
    sort_banks(all, nbk);
    Exec by = {npu ? EXEC_NPU : EXEC_NONE, 0, -1};
    int next_static = 0, next_dyn = 0;
    for (int k = 0; k < ncls; k++)
        for (int h = 0; h < H; h++) {
            const AttnPatternLine *pl = attn_pattern_at(a, (int)cls[k].lo, h);
            if (!pl)
                continue;
            for (int b = 0; b < Bt; b++) {
                const Pattern *p = &pl->pat;
                if (p->kind == PAT_STATIC) {
                    add_line(ar, a, cls[k], h, b, window(ar, bk, nbk, next_static++ % nbk, 1), 1, by);
                } else if (p->kind == PAT_DYNAMIC) {
                    int n = p->page < nbk ? p->page : nbk;
                    BankRef *w = window(ar, bk, nbk, next_dyn, n);
                    next_dyn = (next_dyn + n) % nbk;
                    sort_banks(w, n);
                    add_line(ar, a, cls[k], h, b, w, n, by);
                } else {
                    add_line(ar, a, cls[k], h, b, all, nbk, by);
                }
            }
        }
}

const TensorTile *attn_kv_tile(const Tensor *t, int h, int b) {
    for (int k = 0; k < t->ntiles; k++) {
        const TensorTile *tt = &t->tiles[k];
        if (h >= tt->box[0].lo && h < tt->box[0].hi && b >= tt->box[1].lo && b < tt->box[1].hi)
            return tt;
    }
    return NULL;
}

/* Where op o's decode tiles compute pair p (= h * batch + b). */
static ExecKind pair_exec(const Op *o, long long p) {
    for (int k = 0; k < o->ntiles; k++)
        if (p >= o->tiles[k].box[DIM_B].lo && p < o->tiles[k].box[DIM_B].hi)
            return o->tiles[k].exec.kind;
    return EXEC_NONE;
}

AttnPairAt attn_pair_at(const Module *m, const Op *s, const Op *v, int h, int b) {
    const TensorTile *tk = attn_kv_tile(&m->tensors[s->tensor], h, b), *tv = attn_kv_tile(&m->tensors[v->tensor], h, b);
    long long p = (long long)h * m->work.batch + b;
    ExecKind es = pair_exec(s, p), ev = pair_exec(v, p);
    bool near_k = es == EXEC_NMP || es == EXEC_PE, near_v = ev == EXEC_NMP || ev == EXEC_PE;
    if (!near_k && !near_v)
        return PAIR_NPU;
    if (!near_k || !near_v || !tk || !tv)
        return PAIR_MOVED;
    const Place *pk = &tk->place, *pv = &tv->place;
    bool same = pk->kind == pv->kind && pk->chans == pv->chans && (pk->kind != PLACE_BANK || pk->bank == pv->bank);
    return same && (pk->chans & ~dev_nmp_set(&m->dev)) == 0 ? PAIR_NEAR : PAIR_MOVED;
}

/* pass_coplace's tiling of an attention whose heads are all dense: the dense schedule's, read off the
 * dataflow pass's mapping before the plan replaces it (docs/sparsity.md §3). Stream (h, b) lives in
 * the banks of its K tile, channel-major as the schedule stripes the tile's tokens, and is computed
 * by their PEs where the dense schedule computes the pair near memory (its score and value ops near
 * memory, its K and V tiles in the same banks, all of them with PEs); else by the NPU, as the dense
 * schedule does. False if the caches have no tiles to read. */
static bool tile_dataflow(Arena *ar, const Module *m, Attention *a) {
    const Tensor *K = &m->tensors[a->k_tensor], *V = &m->tensors[a->v_tensor];
    const Op *s = &m->phases[PH_DECODE].ops[a->score_op], *v = &m->phases[PH_DECODE].ops[a->value_op];
    int H = m->model.kv_heads, Bt = m->work.batch, C = dev_channels(&m->dev), B = dev_banks(&m->dev);
    for (int h = 0; h < H; h++)
        for (int b = 0; b < Bt; b++)
            if (!attn_kv_tile(K, h, b) || !attn_kv_tile(V, h, b))
                return false;
    for (int h = 0; h < H; h++)
        for (int b = 0; b < Bt; b++) {
            const Place *pk = &attn_kv_tile(K, h, b)->place;
            int n = 0;
            BankRef *bk;
            if (pk->kind == PLACE_BANK) {
                bk = ARENA_ARRAY(ar, BankRef, 1);
                bk[n++] = (BankRef){__builtin_ctzll(pk->chans), pk->bank};
            } else {
                bk = ARENA_ARRAY(ar, BankRef, chanset_count(pk->chans) * B + 1);
                for (int c = 0; c < C; c++)
                    if (pk->chans & CHAN_BIT(c))
                        for (int k = 0; k < B; k++)
                            bk[n++] = (BankRef){c, k};
            }
            if (n == 0)
                return false;
            bool near = attn_pair_at(m, s, v, h, b) == PAIR_NEAR;
            add_line(ar, a, (Range){0, m->model.layers}, h, b, bk, n, (Exec){near ? EXEC_NONE : EXEC_NPU, 0, -1});
        }
    return true;
}

/* ---------------------------------------------------------------- balanced tiling */

typedef struct Scorer {
    const AttnDev *dev;
    const SparseBalanceStream *st;
    const Pattern *pat;     /* [ns] */
    int ns;
    const BankRef *bk;      /* the bins' banks */
    AttnStream *s;          /* [ns] scratch */
    BankRef *banks;         /* [sum of max_tiles] scratch */
    double ctx;
} Scorer;

static void streams_of(Scorer *sc, const SparseBalancePlan *p) {
    int k = 0;
    for (int i = 0; i < sc->ns; i++) {
        int n = p->ntiles[i];
        for (int j = 0; j < n; j++)
            sc->banks[k + j] = sc->bk[p->bin[k + j]];
        sc->s[i] = (AttnStream){sc->pat[i], n, &sc->banks[k], {EXEC_NONE, 0, -1}};
        k += n;
    }
}

static double score_plan(void *ctx, const SparseBalancePlan *p) {
    Scorer *sc = ctx;
    streams_of(sc, p);
    AttnLayerCost c;
    attn_layer_cost(sc->dev, sc->s, sc->ns, sc->ctx, &c);
    return c.time;
}

/* The balanced tiling of one layer class into lines of a, from its co-placed tiling `start`. Rooms
 * are what the tensors and the lines placed so far leave; a class whose balanced layer is not
 * faster than its co-placed one keeps the co-placed lines. */
static bool balance_class(Arena *ar, const Module *m, Attention *a, const Attention *start, Range cls,
                          const BankRef *bk, int nbk, double *room, const AttnDev *dev, double ctx) {
    int H = m->model.kv_heads, Bt = m->work.batch, l = (int)cls.lo;
    double layers = (double)(cls.hi - cls.lo), row = m->model.head_dim * ir_elem_bytes(m);
    int ns = 0;
    SparseBalanceStream *st = ARENA_ARRAY(ar, SparseBalanceStream, H * Bt);
    Pattern *pat = ARENA_ARRAY(ar, Pattern, H * Bt);
    int *sh = ARENA_ARRAY(ar, int, H * Bt), *sb = ARENA_ARRAY(ar, int, H * Bt);
    const AttnTiles **old = ARENA_ARRAY(ar, const AttnTiles *, H * Bt);
    int total_max = 0;
    for (int h = 0; h < H; h++) {
        const AttnPatternLine *pl = attn_pattern_at(a, l, h);
        for (int b = 0; b < Bt && pl; b++) {
            const Pattern *p = &pl->pat;
            long long slots = attn_slots(p, m->work.max_seq), pages = attn_meta_pages(p, m->work.max_seq);
            /* its whole work on one PE at the reference context */
            AttnStream one = {*p, 1, &bk[0], {EXEC_NONE, 0, -1}};
            AttnLayerCost c;
            attn_layer_cost(dev, &one, 1, ctx, &c);
            SparseBalanceStream *s = &st[ns];
            s->work = c.makespan;
            s->tile_work = 0;   /* a tile's state costs its channel's link: the score prices it */
            s->bytes = (double)(slots + pages) * 2 * row * layers;
            s->tile_bytes = (4 * row + 64) * layers + 64;
            s->min_tiles = 1;
            long long cap = p->kind == PAT_DYNAMIC ? (p->page < 2 * nbk ? p->page : 2 * nbk)
                            : p->kind == PAT_STATIC ? nbk : 2 * (long long)nbk;
            s->max_tiles = (int)(cap < slots ? cap : slots > 0 ? slots : 1);
            total_max += s->max_tiles;
            pat[ns] = *p;
            sh[ns] = h;
            sb[ns] = b;
            old[ns] = attn_tiles_at(start, l, h, b);
            ns++;
        }
    }
    if (ns == 0)
        return true;
    SparseBalanceBin *bins = ARENA_ARRAY(ar, SparseBalanceBin, nbk);
    for (int u = 0; u < nbk; u++)
        bins[u] = (SparseBalanceBin){0, room[u], bk[u].ch};
    Scorer sc = {dev, st, pat, ns, bk, ARENA_ARRAY(ar, AttnStream, ns), ARENA_ARRAY(ar, BankRef, total_max + 1), ctx};
    SparseBalancePlan best;
    bool have = sparse_balance_plan_init(&best, st, ns);
    if (have)
        have = sparse_balance_best(st, ns, bins, nbk, score_plan, &sc, &best);
    /* the co-placed tiling of the class, for the comparison */
    double base = INFINITY;
    bool old_ok = true;
    for (int i = 0; i < ns; i++)
        old_ok &= old[i] && old[i]->layers.lo <= cls.lo && old[i]->layers.hi >= cls.hi;
    if (old_ok) {
        for (int i = 0; i < ns; i++)
            sc.s[i] = (AttnStream){pat[i], old[i]->nbanks, old[i]->banks, old[i]->by};
        AttnLayerCost c;
        attn_layer_cost(dev, sc.s, ns, ctx, &c);
        base = c.time;
    }
    bool take = have && (!old_ok || score_plan(&sc, &best) < base);
    if (take) {
        int k = 0;
        for (int i = 0; i < ns; i++) {
            int n = best.ntiles[i];
            BankRef *banks = ARENA_ARRAY(ar, BankRef, n);
            for (int j = 0; j < n; j++) {
                int u = best.bin[k + j];
                banks[j] = bk[u];
                room[u] -= st[i].bytes / n + st[i].tile_bytes;
            }
            sort_banks(banks, n);
            add_line(ar, a, cls, sh[i], sb[i], banks, n, (Exec){EXEC_NONE, 0, -1});
            k += n;
        }
    } else if (old_ok) {
        for (int i = 0; i < ns; i++)
            add_line(ar, a, cls, sh[i], sb[i], old[i]->banks, old[i]->nbanks, old[i]->by);
    }
    if (best.ntiles)    /* (a failed init leaves it NULL) */
        sparse_balance_plan_free(&best, st, ns);
    return take || old_ok;
}

static bool tile_balanced(Arena *ar, const Module *m, int index, Attention *a, const Attention *start,
                          const BankRef *bk, int nbk) {
    Range *cls;
    int ncls = layer_classes(ar, a, m->model.layers, &cls);
    /* rooms: what the tensors and the other attentions leave in each usable bank */
    long long *top, *ceil;
    if (!bank_limits(ar, m, index, a, &top, &ceil))
        return false;
    int B = dev_banks(&m->dev);
    double *room = ARENA_ARRAY(ar, double, nbk);
    for (int u = 0; u < nbk; u++) {
        int x = bk[u].ch * B + bk[u].bank;
        room[u] = (double)(ceil[x] - top[x]) - 4096;    /* (alignment: a few lines' worth) */
    }
    AttnDev dev;
    attn_dev_init(&dev, m, attn_plan_channels(m, a));
    double ctx = m->phases[PH_DECODE].ctx_last;
    /* the classes that store the most first, so the big tiles find room */
    int *order = ARENA_ARRAY(ar, int, ncls);
    double *size = ARENA_ARRAY(ar, double, ncls);
    for (int k = 0; k < ncls; k++) {
        size[k] = 0;
        for (int h = 0; h < m->model.kv_heads; h++) {
            const AttnPatternLine *pl = attn_pattern_at(a, (int)cls[k].lo, h);
            if (pl)
                size[k] += (double)attn_slots(&pl->pat, m->work.max_seq) * (double)(cls[k].hi - cls[k].lo);
        }
        int j = k;
        while (j > 0 && size[order[j - 1]] < size[k]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (int q = 0; q < ncls; q++)
        if (!balance_class(ar, m, a, start, cls[order[q]], bk, nbk, room, &dev, ctx))
            return false;
    /* lines in layer, head, batch order (an insertion sort: few lines) */
    for (int i = 1; i < a->ntiles; i++) {
        AttnTiles t = a->tiles[i];
        int j = i;
        while (j > 0) {
            const AttnTiles *u = &a->tiles[j - 1];
            bool after = u->layers.lo > t.layers.lo ||
                         (u->layers.lo == t.layers.lo && (u->head > t.head || (u->head == t.head && u->batch > t.batch)));
            if (!after)
                break;
            a->tiles[j] = a->tiles[j - 1];
            j--;
        }
        a->tiles[j] = t;
    }
    return true;
}

/* ---------------------------------------------------------------- entry */

bool attn_plan_tile(Arena *ar, const Module *m, int index, Attention *a, AttnTiling how, const Attention *start) {
    int nbk;
    BankRef *bk = usable_banks(ar, m, a, &nbk);
    bool pes = attn_plan_channels(m, a) != 0;
    a->tiles = NULL;
    a->ntiles = a->tiles_cap = 0;
    if (nbk == 0)
        return false;
    switch (how) {
    case TILING_HEAD_PER_PE:
        if (!pes)
            return false;
        tile_head_per_pe(ar, m, a, bk, nbk);
        return true;
    case TILING_NAIVE: tile_naive(ar, m, a, bk, nbk); return true;
    case TILING_COPLACE: tile_coplace(ar, m, a, bk, nbk, !pes); return true;
    case TILING_DATAFLOW: return tile_dataflow(ar, m, a);
    case TILING_BALANCE:
        if (!pes || !start) {
            tile_coplace(ar, m, a, bk, nbk, !pes);
            return true;
        }
        return tile_balanced(ar, m, index, a, start, bk, nbk);
    }
    return false;
}

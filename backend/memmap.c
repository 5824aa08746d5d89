/* memmap.c: the backend's memory map (backend.h). The IR's placement says which banks hold each
 * tensor tile and at which offset the placement pass reserved room; the map decides what each bank
 * holds, in the kernels' layouts (docs/kernels.md §3): whole output rows of a weight with their
 * scales and bias, whole rows of an embedding table, runs of a norm's vector, and KV tokens
 * interleaved over the banks (docs/schedule.md §3). Sizes are exact (the IR's are elements times
 * precision, striped by bytes), so a region starts at the IR's offset unless an earlier region of
 * the same bank ran past it. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

const char *const map_layout_names[MAP_COUNT_] = {"rows", "vector", "tokens"};

static long long round_up(long long v, long long a) { return (v + a - 1) / a * a; }

KernelDType map_weight_dtype(const Module *m) {
    switch ((Precision)m->dev.hw.precision) {
    case PREC_FP32: return KD_F32;
    case PREC_INT8: return KD_I8;
    case PREC_INT4: return KD_I4;
    default: return KD_F16;
    }
}

KernelDType map_kv_dtype(const Module *m) { return m->dev.hw.precision == PREC_FP32 ? KD_F32 : KD_F16; }

static long long dtype_row_bytes(KernelDType t, long long k) {
    switch (t) {
    case KD_F32: return 4 * k;
    case KD_F16: return 2 * k;
    case KD_I8: return k;
    case KD_I4: return 16 * ((k + 31) / 32);
    default: return 0;
    }
}

/* What reads a tensor: an embedding (a table), an fc (a weight), a norm (a vector) or attention. */
typedef enum Use { USE_NONE, USE_TABLE, USE_WEIGHT, USE_VECTOR, USE_KV } Use;

static Use tensor_use(const Module *m, int t) {
    const Tensor *T = &m->tensors[t];
    if (T->kind == TEN_KV)
        return USE_KV;
    const Phase *ph = &m->phases[PH_DECODE];
    Use u = T->rank == 1 ? USE_VECTOR : USE_WEIGHT;
    for (int i = 0; i < ph->nops; i++)
        if (ph->ops[i].tensor == t && ph->ops[i].code == OP_EMBEDDING)
            u = USE_TABLE;  /* a tied LM head reads the same rows: a table stays a table */
    return u;
}

/* The banks a tile is spread over, channel-major; returns the count. */
static int tile_banks(const Module *m, const TensorTile *tt, int *ch, int *bk) {
    int n = 0;
    if (tt->place.kind == PLACE_BANK) {
        ch[0] = __builtin_ctzll(tt->place.chans);
        bk[0] = tt->place.bank;
        return 1;
    }
    for (int c = 0; c < dev_channels(&m->dev); c++)
        if (tt->place.chans & CHAN_BIT(c))
            for (int b = 0; b < dev_banks(&m->dev); b++) {
                ch[n] = c;
                bk[n] = b;
                n++;
            }
    return n;
}

static bool full(const Range *r, long long dim) { return r->lo == 0 && r->hi == dim; }

/* Fills t's layout fields from its tensor; false with an error if the kernels cannot read it. */
static bool tile_layout(const Module *m, int ti, const TensorTile *tt, MapTile *t, Diag *d) {
    const Tensor *T = &m->tensors[ti];
    Use use = tensor_use(m, ti);
    memset(t, 0, sizeof *t);
    switch (use) {
    case USE_KV:
        t->layout = MAP_TOKENS;
        t->dtype = map_kv_dtype(m);
        if (!full(&tt->box[2], T->dims[2]) || !full(&tt->box[3], T->dims[3])) {
            diag_error(d, T->loc, "KV tensor '%%%s' has a tile that splits tokens or head_dim; the schedule stores "
                       "whole (KV head, batch) pairs", T->name);
            return false;
        }
        t->h0 = (int)tt->box[0].lo;
        t->h1 = (int)tt->box[0].hi;
        t->b0 = (int)tt->box[1].lo;
        t->b1 = (int)tt->box[1].hi;
        t->row_bytes = dtype_row_bytes(t->dtype, T->dims[3]);
        t->k = (int)T->dims[3];
        return true;
    case USE_VECTOR:
        t->layout = MAP_VECTOR;
        t->dtype = KD_F32;
        t->row_bytes = 4;
        t->bias = T->bias;
        t->lo = tt->box[0].lo;
        t->hi = tt->box[0].hi;
        return true;
    case USE_TABLE:
    case USE_WEIGHT:
    case USE_NONE:
        t->layout = MAP_ROWS;
        /* a weight [K, N] is stored output-major: its rows are the columns of the IR's tensor; a table
           [vocab, hidden] is stored as it is: a tied LM head reads it as W with N = vocab, K = hidden */
        int rowdim = use == USE_TABLE ? 0 : 1, kdim = 1 - rowdim;
        if (T->rank != 2 || !full(&tt->box[kdim], T->dims[kdim])) {
            diag_error(d, T->loc, "weight '%%%s' has a tile that splits its %s; the schedule stores whole %s", T->name,
                       use == USE_TABLE ? "hidden dimension" : "input dimension K",
                       use == USE_TABLE ? "table rows" : "output columns");
            return false;
        }
        t->dtype = use == USE_TABLE ? KD_F16 : map_weight_dtype(m);
        t->k = (int)T->dims[kdim];
        t->row_bytes = dtype_row_bytes(t->dtype, t->k);
        if (t->dtype == KD_I8 || t->dtype == KD_I4) {
            t->group = SCHED_QUANT_GROUP;
            t->scale_bytes = 2 * ((t->k + t->group - 1) / t->group);
        }
        t->bias = T->bias && use != USE_TABLE;
        t->lo = tt->box[rowdim].lo;
        t->hi = tt->box[rowdim].hi;
        return true;
    }
    return false;
}

/* Bytes of one layer's copy in a bank holding `rows` rows (elements, or a token residue). */
static long long region_bytes(const MapTile *t, long long rows) {
    switch (t->layout) {
    case MAP_ROWS: return rows * (t->row_bytes + t->scale_bytes + (t->bias ? 4 : 0));
    case MAP_VECTOR: return rows * 4 * (t->bias ? 2 : 1);
    case MAP_TOKENS: return (long long)(t->h1 - t->h0) * (t->b1 - t->b0) * t->cap * t->row_bytes;
    default: return 0;
    }
}

typedef struct Slot {
    int tile, region;       /* index in the map, region in its tile (a stream's: its first tile in the bank) */
    long long want;         /* the IR's offset */
    int stream;             /* a stream's block of regions, or -1 */
} Slot;

static int slot_cmp(const void *a, const void *b) {
    const Slot *x = a, *y = b;
    if (x->want != y->want)
        return x->want < y->want ? -1 : 1;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    if (x->tile != y->tile)
        return x->tile < y->tile ? -1 : 1;
    return x->region - y->region;
}

/* The streams of every attention plan: their regions' sizes and, per bank, the IR's offset (addresses
 * come with the tensors' below). */
static bool streams_build(Arena *a, const Module *m, MemMap *map, Diag *d) {
    int total = 0;
    for (int i = 0; i < m->nattns; i++)
        total += m->attns[i].ntiles;
    map->streams = ARENA_ARRAY(a, MapStream, total > 0 ? total : 1);
    map->attn_first = ARENA_ARRAY(a, int, m->nattns + 1);
    KernelDType kvt = map_kv_dtype(m);
    long long rb = dtype_row_bytes(kvt, m->model.head_dim), max_seq = m->work.max_seq;
    for (int ai = 0; ai < m->nattns; ai++) {
        const Attention *at = &m->attns[ai];
        map->attn_first[ai] = map->nstreams;
        for (int li = 0; li < at->ntiles; li++) {
            const AttnTiles *l = &at->tiles[li];
            MapStream *s = &map->streams[map->nstreams++];
            memset(s, 0, sizeof *s);
            s->attn = ai;
            s->line = li;
            s->l0 = (int)l->layers.lo;
            s->l1 = (int)l->layers.hi;
            s->head = l->head;
            s->batch = l->batch;
            s->n = l->nbanks;
            s->by = l->by;
            s->dtype = kvt;
            s->row_bytes = rb;
            if (l->offset < 0) {
                diag_error(d, l->loc.file ? l->loc : at->loc, "attention tiles without an offset (the placement pass "
                           "has not run)");
                return false;
            }
            /* the largest of the patterns the line's layers have */
            for (int pi = 0; pi < at->npats; pi++) {
                const AttnPatternLine *pl = &at->pats[pi];
                bool has = false;
                for (int k = 0; k < pl->nheads; k++)
                    has |= pl->heads[k] == l->head;
                if (!has || pl->layers.hi <= l->layers.lo || l->layers.hi <= pl->layers.lo)
                    continue;
                long long cap = (attn_slots(&pl->pat, max_seq) + s->n - 1) / s->n;
                long long pages = (attn_meta_pages(&pl->pat, max_seq) + s->n - 1) / s->n;
                s->cap = cap > s->cap ? cap : s->cap;
                s->pages = pages > s->pages ? pages : s->pages;
            }
            s->bytes = 2 * (s->cap + s->pages) * rb;
            s->regions = ARENA_ARRAY(a, MapRegion, s->n);
            for (int j = 0; j < s->n; j++) {
                /* a bank listed k times holds k regions: layer by layer, the tiles' regions in list order */
                int k = 0, o = 0;
                for (int j2 = 0; j2 < s->n; j2++)
                    if (l->banks[j2].ch == l->banks[j].ch && l->banks[j2].bank == l->banks[j].bank) {
                        o += j2 < j;
                        k++;
                    }
                s->regions[j] = (MapRegion){l->banks[j].ch, l->banks[j].bank, l->offset, k * s->bytes, s->bytes, j,
                                            j + 1};
                s->regions[j].addr = l->offset + o * s->bytes;  /* (moved with its block below if need be) */
            }
        }
    }
    map->attn_first[m->nattns] = map->nstreams;
    return true;
}

const MapStream *map_stream_at(const MemMap *map, const Module *m, int a, int layer, int head, int batch) {
    (void)m;
    for (int i = map->attn_first[a]; i < map->attn_first[a + 1]; i++) {
        const MapStream *s = &map->streams[i];
        if (s->head == head && s->batch == batch && layer >= s->l0 && layer < s->l1)
            return s;
    }
    return NULL;
}

bool map_build(Arena *a, const Module *m, MemMap *map, Diag *d) {
    memset(map, 0, sizeof *map);
    int total = 0;
    for (int t = 0; t < m->ntensors; t++) {
        if (m->tensors[t].ntiles == 0 && ir_attention_of_tensor(m, t) < 0) {
            diag_error(d, m->tensors[t].loc, "tensor '%%%s' is not placed (the dataflow and placement passes have not "
                       "run)", m->tensors[t].name);
            return false;
        }
        total += m->tensors[t].ntiles;
    }
    map->tiles = ARENA_ARRAY(a, MapTile, total > 0 ? total : 1);
    map->first = ARENA_ARRAY(a, int, m->ntensors + 1);
    int nb_max = dev_channels(&m->dev) * dev_banks(&m->dev);
    int *ch = ARENA_ARRAY(a, int, nb_max), *bk = ARENA_ARRAY(a, int, nb_max);
    bool ok = true;
    for (int ti = 0; ti < m->ntensors; ti++) {
        const Tensor *T = &m->tensors[ti];
        map->first[ti] = map->ntiles;
        for (int k = 0; k < T->ntiles; k++) {
            const TensorTile *tt = &T->tiles[k];
            MapTile *t = &map->tiles[map->ntiles++];
            if (tt->place.kind == PLACE_NONE || tt->place.offset < 0) {
                diag_error(d, T->loc, "tensor '%%%s' has a tile without a place or an offset (the placement pass has "
                           "not run)", T->name);
                return false;
            }
            if (!tile_layout(m, ti, tt, t, d)) {
                ok = false;
                continue;
            }
            t->tensor = ti;
            t->tile = k;
            int n = tile_banks(m, tt, ch, bk);
            t->nbanks = n;
            t->regions = ARENA_ARRAY(a, MapRegion, n);
            if (t->layout == MAP_TOKENS)
                t->cap = (T->dims[2] + n - 1) / n;
            long long count = t->hi - t->lo, base = count / n, extra = count % n;
            for (int j = 0; j < n; j++) {
                MapRegion g = {ch[j], bk[j], tt->place.offset, 0, 0, 0, 0};
                if (t->layout == MAP_TOKENS) {
                    g.lo = j;
                    g.hi = j + 1;
                    g.bytes = region_bytes(t, 1);
                } else {
                    g.lo = t->lo + j * base + (j < extra ? j : extra);
                    g.hi = g.lo + base + (j < extra);
                    g.bytes = region_bytes(t, g.hi - g.lo);
                }
                if (g.bytes == 0)
                    continue;   /* fewer rows than banks: this bank holds none */
                g.stride = round_up(g.bytes, SCHED_ALIGN);
                t->regions[t->nregions++] = g;
            }
        }
    }
    map->first[m->ntensors] = map->ntiles;
    if (!ok)
        return false;
    if (!streams_build(a, m, map, d))
        return false;
    /* addresses: bank by bank, in the IR's order, each region (or a stream's block of regions in a
       bank: all its tiles there, all its layers) at its IR offset or after the last */
    int B = dev_banks(&m->dev), nslots = 0;
    for (int i = 0; i < map->ntiles; i++)
        nslots += map->tiles[i].nregions;
    for (int i = 0; i < map->nstreams; i++)
        nslots += map->streams[i].n;
    Slot *slots = ARENA_ARRAY(a, Slot, nslots > 0 ? nslots : 1);
    int *count = ARENA_ARRAY(a, int, nb_max + 1), *start = ARENA_ARRAY(a, int, nb_max + 1);
    for (int i = 0; i < map->ntiles; i++)
        for (int r = 0; r < map->tiles[i].nregions; r++)
            count[map->tiles[i].regions[r].channel * B + map->tiles[i].regions[r].bank]++;
    for (int i = 0; i < map->nstreams; i++)
        for (int r = 0; r < map->streams[i].n; r++)
            count[map->streams[i].regions[r].channel * B + map->streams[i].regions[r].bank]++;
    for (int b = 0, k = 0; b < nb_max; b++) {
        start[b] = k;
        k += count[b];
        count[b] = 0;
    }
    for (int i = 0; i < map->ntiles; i++)
        for (int r = 0; r < map->tiles[i].nregions; r++) {
            const MapRegion *g = &map->tiles[i].regions[r];
            int b = g->channel * B + g->bank;
            slots[start[b] + count[b]++] = (Slot){i, r, g->addr, -1};
        }
    for (int i = 0; i < map->nstreams; i++) {
        const MapStream *st = &map->streams[i];
        for (int r = 0; r < st->n; r++) {   /* one slot per bank: its first tile there */
            const MapRegion *g = &st->regions[r];
            bool first = true;
            for (int r2 = 0; r2 < r && first; r2++)
                first = !(st->regions[r2].channel == g->channel && st->regions[r2].bank == g->bank);
            if (!first)
                continue;
            int b = g->channel * B + g->bank;
            slots[start[b] + count[b]++] = (Slot){-1, r, m->attns[st->attn].tiles[st->line].offset, i};
        }
    }
    long long cap = (long long)m->dev.hw.bank_capacity;
    for (int b = 0; b < nb_max && ok; b++) {
        Slot *sl = slots + start[b];
        qsort(sl, (size_t)count[b], sizeof *sl, slot_cmp);
        long long end = 0;
        for (int k = 0; k < count[b]; k++) {
            long long at = round_up(sl[k].want > end ? sl[k].want : end, SCHED_ALIGN);
            const char *what;
            Loc loc;
            if (sl[k].stream < 0) {
                MapTile *t = &map->tiles[sl[k].tile];
                MapRegion *g = &t->regions[sl[k].region];
                const Tensor *T = &m->tensors[t->tensor];
                g->addr = at;
                end = g->addr + g->stride * T->layers;
                what = T->name;
                loc = T->loc;
            } else {
                MapStream *st = &map->streams[sl[k].stream];
                const MapRegion *g0 = &st->regions[sl[k].region];
                int occ = 0;
                for (int r = 0; r < st->n; r++)
                    if (st->regions[r].channel == g0->channel && st->regions[r].bank == g0->bank)
                        st->regions[r].addr = at + (occ++) * st->bytes;
                end = at + (long long)occ * st->bytes * (st->l1 - st->l0);
                const Attention *att = &m->attns[st->attn];
                what = m->tensors[att->k_tensor].name;
                loc = att->tiles[st->line].loc.file ? att->tiles[st->line].loc : att->loc;
            }
            if (end > cap) {
                diag_error(d, loc, "'%%%s' does not fit bank ch%d.b%d in the kernels' layout: it would end at byte "
                           "%lld of %lld (int8/int4 scales, biases and whole rows or tokens per bank take more than "
                           "the IR's estimate)", what, b / B, b % B, end, cap);
                ok = false;
                break;
            }
        }
    }
    return ok;
}

const MapTile *map_tile(const MemMap *map, int tensor, int tile) { return &map->tiles[map->first[tensor] + tile]; }

const MapRegion *map_region_of(const MapTile *t, long long r) {
    for (int i = 0; i < t->nregions; i++)
        if (r >= t->regions[i].lo && r < t->regions[i].hi)
            return &t->regions[i];
    return NULL;
}

long long map_row_offset(const MapTile *t, const MapRegion *g, long long r) {
    return t->layout == MAP_ROWS ? (r - g->lo) * t->row_bytes : (r - g->lo) * 4;
}

long long map_scale_offset(const MapTile *t, const MapRegion *g, long long r) {
    return (g->hi - g->lo) * t->row_bytes + (r - g->lo) * t->scale_bytes;
}

long long map_bias_offset(const MapTile *t, const MapRegion *g, long long r) {
    if (t->layout == MAP_VECTOR)
        return (g->hi - g->lo) * 4 + (r - g->lo) * 4;
    return (g->hi - g->lo) * (t->row_bytes + t->scale_bytes) + (r - g->lo) * 4;
}

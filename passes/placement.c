/* placement.c: where data lives and where unmapped work runs. A tensor with no tiles is striped
 * over every bank of every channel, unless an attention plan places it (its K and V caches); an op
 * with no tiles runs whole on the NPU (the default placement). Then every tensor tile without a
 * byte offset gets one: a bump allocator per bank from the bottom up, each tile at the same offset
 * in all the banks it is striped over: first the tensors it striped itself (so a norm's scale on
 * every channel does not lift the others' banks), then the rest in tensor order. Attention tiles lines are allocated from the
 * top of each bank down (the widest lines first), each at one offset in all its banks, so the
 * plan's regions do not depend on how the weights below them are laid out.
 * Requires: shapes (pass_shapes). Maintains: existing tiles, offsets, dataflow positions and
 * attention plans. Breaks: nothing. Fails if a bank overflows, naming what does not fit. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGN = 64 };    /* byte alignment of a tile in a bank (one DRAM burst) */

static long long align_up(long long x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }
static long long align_down(long long x) { return x / ALIGN * ALIGN; }

static bool in_bank(const Place *pl, int c, int b) {
    return (pl->chans & CHAN_BIT(c)) && (pl->kind == PLACE_CHANNELS || pl->bank == b);
}

/* Where a tensor with no tiles goes: one tile striped over every bank of every channel. */
static TensorTile default_tile(const Device *dev, const Tensor *T) {
    TensorTile tile;
    memset(&tile, 0, sizeof tile);
    for (int i = 0; i < T->rank; i++)
        tile.box[i] = (Range){0, T->dims[i]};
    tile.place = (Place){PLACE_CHANNELS, dev_all_set(dev), -1, -1};
    return tile;
}

/* Allocates one tile at the lowest offset free in all its banks (the same in each), 64-byte
 * aligned; false if it overflows a bank (reported when d is given). */
static bool bump(const Module *m, const Tensor *T, Place *pl, const TensorTile *tile, long long *top, bool assign,
                 Diag *d) {
    const Device *dev = &m->dev;
    int C = dev_channels(dev), B = dev_banks(dev);
    long long off = 0;
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            if (in_bank(pl, c, b) && top[c * B + b] > off)
                off = top[c * B + b];
    off = align_up(off);
    long long size = tile_bank_bytes(dev, T, tile) * T->layers;
    if ((double)(off + size) > dev->hw.bank_capacity) {
        if (d) {
            char need[64], cap[64];
            unit_format(need, sizeof need, (double)(off + size), UK_BYTES);
            unit_format(cap, sizeof cap, dev->hw.bank_capacity, UK_BYTES);
            diag_error(d, T->loc, "tensor '%%%s' does not fit: its banks would need %s of %s", T->name, need, cap);
        }
        return false;
    }
    if (assign)
        pl->offset = off;
    for (int c = 0; c < C; c++)
        for (int b = 0; b < B; b++)
            if (in_bank(pl, c, b))
                top[c * B + b] = off + size;
    return true;
}

/* The bump allocation of every tensor tile: top[c * B + b] ends as the first free byte of each
 * bank. The tiles allocated already count first; then the tensors striped by default (fresh[t]:
 * given their tile by this pass; or, simulating, a tensor with no tiles yet, which gets it), so
 * that a small tensor on every channel (a norm's scale) does not lift the banks of the others;
 * then the rest in tensor order. skip: a tensor to leave out (-1: none; two of them). With assign,
 * tiles without an offset get theirs. False on overflow (reported when d is given). */
static bool alloc_tensors(const Module *m, long long *top, bool assign, const bool *fresh, const int *skip, Diag *d) {
    const Device *dev = &m->dev;
    int C = dev_channels(dev), B = dev_banks(dev);
    memset(top, 0, sizeof(long long) * (size_t)C * (size_t)B);
    for (int t = 0; t < m->ntensors; t++) {
        const Tensor *T = &m->tensors[t];
        for (int i = 0; i < T->ntiles; i++) {
            const Place *pl = &T->tiles[i].place;
            if (pl->offset < 0)
                continue;
            long long end = pl->offset + tile_bank_bytes(dev, T, &T->tiles[i]) * T->layers;
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                    if (in_bank(pl, c, b) && end > top[c * B + b])
                        top[c * B + b] = end;
        }
    }
    for (int round = 0; round < 2; round++)
        for (int t = 0; t < m->ntensors; t++) {
            Tensor *T = &m->tensors[t];
            if (skip && (t == skip[0] || t == skip[1]))
                continue;
            bool unplaced = T->ntiles == 0 && ir_attention_of_tensor(m, t) < 0;
            bool striped = (fresh && fresh[t]) || (!fresh && unplaced);
            if (striped != (round == 0))
                continue;
            if (!fresh && unplaced) {
                TensorTile tile = default_tile(dev, T);
                if (!bump(m, T, &tile.place, &tile, top, false, d))
                    return false;
                continue;
            }
            for (int i = 0; i < T->ntiles; i++) {
                Place *pl = &T->tiles[i].place;
                if (pl->offset >= 0)
                    continue;
                if (!bump(m, T, pl, &T->tiles[i], top, assign, d))
                    return false;
            }
        }
    return true;
}

bool placement_tensor_tops(const Module *m, int skip_k, int skip_v, long long *top) {
    int skip[2] = {skip_k, skip_v};
    return alloc_tensors(m, top, false, NULL, skip, NULL);
}

typedef struct LineOrder {
    int line, width;
} LineOrder;

static int cmp_width(const void *x, const void *y) {
    const LineOrder *a = x, *b = y;
    return a->width != b->width ? b->width - a->width : a->line - b->line;
}

bool placement_attention(const Module *m, Attention *a, long long *ceil, const long long *floor, int *bad) {
    int B = dev_banks(&m->dev), nb = dev_channels(&m->dev) * B;
    /* how many of a line's tiles each bank holds (a bank listed k times holds k regions) */
    int *cnt = h2c_raw_alloc(sizeof(int) * (size_t)(nb + 1));
    LineOrder *order = h2c_raw_alloc(sizeof(LineOrder) * (size_t)(a->ntiles + 1));
    if (!cnt || !order) {
        h2c_raw_free(cnt, sizeof(int) * (size_t)(nb + 1));
        h2c_raw_free(order, sizeof(LineOrder) * (size_t)(a->ntiles + 1));
        return false;
    }
    memset(cnt, 0, sizeof(int) * (size_t)(nb + 1));
    /* lines allocated already (IR read back) hold the space from their offset up */
    for (int i = 0; i < a->ntiles; i++) {
        const AttnTiles *l = &a->tiles[i];
        if (l->offset < 0)
            continue;
        for (int j = 0; j < l->nbanks; j++) {
            long long *cp = &ceil[l->banks[j].ch * B + l->banks[j].bank];
            *cp = l->offset < *cp ? l->offset : *cp;
        }
    }
    int n = 0;
    for (int i = 0; i < a->ntiles; i++)
        if (a->tiles[i].offset < 0)
            order[n++] = (LineOrder){i, a->tiles[i].nbanks};
    qsort(order, (size_t)n, sizeof *order, cmp_width);
    bool ok = true;
    for (int k = 0; k < n && ok; k++) {
        AttnTiles *l = &a->tiles[order[k].line];
        long long size = attn_line_region(m, a, l) * (l->layers.hi - l->layers.lo);
        for (int j = 0; j < l->nbanks; j++)
            cnt[l->banks[j].ch * B + l->banks[j].bank]++;
        long long off = (long long)m->dev.hw.bank_capacity, high = 0;
        for (int j = 0; j < l->nbanks; j++) {
            int u = l->banks[j].ch * B + l->banks[j].bank;
            long long lo = ceil[u] - size * cnt[u];
            off = lo < off ? lo : off;
            high = floor[u] > high ? floor[u] : high;
        }
        off = align_down(off);
        if (off < high) {
            if (bad)
                *bad = order[k].line;
            ok = false;
        } else {
            l->offset = off;
        }
        for (int j = 0; j < l->nbanks; j++) {
            int u = l->banks[j].ch * B + l->banks[j].bank;
            if (ok)
                ceil[u] = off;
            cnt[u] = 0;
        }
    }
    h2c_raw_free(cnt, sizeof(int) * (size_t)(nb + 1));
    h2c_raw_free(order, sizeof(LineOrder) * (size_t)(a->ntiles + 1));
    return ok;
}

bool pass_placement(Module *m, Diag *d) {
    const Device *dev = &m->dev;
    int C = dev_channels(dev), B = dev_banks(dev);
    bool *fresh = h2c_raw_alloc(sizeof(bool) * (size_t)(m->ntensors + 1));
    if (!fresh) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    for (int t = 0; t < m->ntensors; t++) {
        Tensor *T = &m->tensors[t];
        fresh[t] = !T->ntiles && ir_attention_of_tensor(m, t) < 0;
        if (fresh[t])
            ir_tensor_add_tile(m, T, default_tile(dev, T));
    }
    for (int p = 0; p < PH_COUNT_; p++) {
        Phase *ph = &m->phases[p];
        for (int i = 0; i < ph->nops; i++) {
            Op *op = &ph->ops[i];
            if (op->ntiles)
                continue;
            if (!(op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3])) {
                diag_error(d, op->loc, "%%%s has no shape; run the shapes pass before placement", op->name);
                h2c_raw_free(fresh, sizeof(bool) * (size_t)(m->ntensors + 1));
                return false;
            }
            OpTile tile;
            memset(&tile, 0, sizeof tile);
            for (int k = 0; k < 4; k++)
                tile.box[k] = (Range){0, op->shape[k]};
            tile.exec = (Exec){EXEC_NPU, 0, -1};
            ir_op_add_tile(m, op, tile);
        }
    }
    size_t nb = (size_t)C * (size_t)B;
    long long *top = h2c_raw_alloc(sizeof(long long) * nb), *ceil = h2c_raw_alloc(sizeof(long long) * nb);
    if (!top || !ceil) {
        h2c_raw_free(top, sizeof(long long) * nb);
        h2c_raw_free(ceil, sizeof(long long) * nb);
        h2c_raw_free(fresh, sizeof(bool) * (size_t)(m->ntensors + 1));
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    bool ok = alloc_tensors(m, top, true, fresh, NULL, d);
    h2c_raw_free(fresh, sizeof(bool) * (size_t)(m->ntensors + 1));
    for (size_t u = 0; u < nb; u++)
        ceil[u] = (long long)dev->hw.bank_capacity;
    for (int a = 0; a < m->nattns && ok; a++) {
        Attention *at = &m->attns[a];
        int bad = -1;
        if (!placement_attention(m, at, ceil, top, &bad)) {
            ok = false;
            if (bad < 0) {
                diag_error(d, NOLOC, "out of memory");
                break;
            }
            const AttnTiles *l = &at->tiles[bad];
            char need[64], cap[64];
            unit_format(need, sizeof need, (double)(attn_line_region(m, at, l) * (l->layers.hi - l->layers.lo)),
                        UK_BYTES);
            unit_format(cap, sizeof cap, dev->hw.bank_capacity, UK_BYTES);
            diag_error(d, l->loc.file ? l->loc : at->loc,
                       "attention %%%s: the tiles of head %d batch %d (layers %lld:%lld, %s in each of %d bank%s) do "
                       "not fit beside the tensors in banks of %s", m->phases[PH_DECODE].ops[at->value_op].name,
                       l->head, l->batch, l->layers.lo, l->layers.hi, need, l->nbanks, plural(l->nbanks), cap);
        }
    }
    h2c_raw_free(top, sizeof(long long) * nb);
    h2c_raw_free(ceil, sizeof(long long) * nb);
    return ok;
}

/* placement.c: where data lives and where unmapped work runs. A tensor with no tiles is striped
 * over every bank of every channel; an op with no tiles runs whole on the NPU (the default
 * placement). Then every tensor tile without a byte offset gets one: a bump allocator per bank, in
 * tensor order, each tile at the same offset in all the banks it is striped over.
 * Requires: shapes (pass_shapes). Maintains: existing tiles, offsets and dataflow positions.
 * Breaks: nothing. Fails if a bank overflows, naming the tensor that does not fit. */
#include "passes.h"

#include <string.h>

enum { ALIGN = 64 };    /* byte alignment of a tile in a bank (one DRAM burst) */

static long long align_up(long long x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

bool pass_placement(Module *m, Diag *d) {
    const Device *dev = &m->dev;
    int C = dev_channels(dev), B = dev_banks(dev);
    for (int t = 0; t < m->ntensors; t++) {
        Tensor *T = &m->tensors[t];
        if (T->ntiles)
            continue;
        TensorTile tile;
        memset(&tile, 0, sizeof tile);
        for (int i = 0; i < T->rank; i++)
            tile.box[i] = (Range){0, T->dims[i]};
        tile.place = (Place){PLACE_CHANNELS, dev_all_set(dev), -1, -1};
        ir_tensor_add_tile(m, T, tile);
    }
    for (int p = 0; p < PH_COUNT_; p++) {
        Phase *ph = &m->phases[p];
        for (int i = 0; i < ph->nops; i++) {
            Op *op = &ph->ops[i];
            if (op->ntiles)
                continue;
            if (!(op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3])) {
                diag_error(d, op->loc, "%%%s has no shape; run the shapes pass before placement", op->name);
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
    /* the top of every bank: first past the tiles already allocated */
    size_t nb = (size_t)C * (size_t)B;
    long long *top = h2c_raw_alloc(sizeof(long long) * nb);
    if (!top) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    memset(top, 0, sizeof(long long) * nb);
    for (int t = 0; t < m->ntensors; t++) {
        const Tensor *T = &m->tensors[t];
        for (int i = 0; i < T->ntiles; i++) {
            const Place *pl = &T->tiles[i].place;
            if (pl->offset < 0)
                continue;
            long long end = pl->offset + tile_bank_bytes(dev, T, &T->tiles[i]) * T->layers;
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                    if ((pl->chans & CHAN_BIT(c)) && (pl->kind == PLACE_CHANNELS || pl->bank == b) &&
                        end > top[c * B + b])
                        top[c * B + b] = end;
        }
    }
    bool ok = true;
    for (int t = 0; t < m->ntensors && ok; t++) {
        Tensor *T = &m->tensors[t];
        for (int i = 0; i < T->ntiles && ok; i++) {
            Place *pl = &T->tiles[i].place;
            if (pl->offset >= 0)
                continue;
            long long off = 0;
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                    if ((pl->chans & CHAN_BIT(c)) && (pl->kind == PLACE_CHANNELS || pl->bank == b) &&
                        top[c * B + b] > off)
                        off = top[c * B + b];
            off = align_up(off);
            long long size = tile_bank_bytes(dev, T, &T->tiles[i]) * T->layers;
            if ((double)(off + size) > dev->hw.bank_capacity) {
                char need[64], cap[64];
                unit_format(need, sizeof need, (double)(off + size), UK_BYTES);
                unit_format(cap, sizeof cap, dev->hw.bank_capacity, UK_BYTES);
                diag_error(d, T->loc, "tensor '%%%s' does not fit: its banks would need %s of %s", T->name, need, cap);
                ok = false;
                break;
            }
            pl->offset = off;
            for (int c = 0; c < C; c++)
                for (int b = 0; b < B; b++)
                    if ((pl->chans & CHAN_BIT(c)) && (pl->kind == PLACE_CHANNELS || pl->bank == b))
                        top[c * B + b] = off + size;
        }
    }
    h2c_raw_free(top, sizeof(long long) * nb);
    return ok;
}

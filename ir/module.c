/* module.c: the Module and its parts: creation, the op table, the device's units and links,
 * channel sets, and small queries shared by passes (storage of an op, NMP share, topo order). */
#include "ir.h"

#include <string.h>

const OpInfo op_info[OP_COUNT_] = {
#define X(id, name, lo, hi, opnd, doc) {name, lo, hi, opnd, doc},
    IR_OPS(X)
#undef X
};

const char *const phase_names[PH_COUNT_] = {"prefill", "decode"};

Module *ir_module_new(void) {
    Module *m = h2c_raw_alloc(sizeof *m);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    arena_init(&m->arena);
    for (int p = 0; p < PH_COUNT_; p++)
        m->phases[p].kind = (PhaseKind)p;
    m->work.attention = -1;
    m->model.norm_eps = 1e-5;
    rope_defaults(&m->model.rope);
    return m;
}

void ir_module_free(Module *m) {
    if (!m)
        return;
    arena_free(&m->arena);
    h2c_raw_free(m, sizeof *m);
}

int ir_find_op(const Phase *ph, const char *name) {
    for (int i = 0; i < ph->nops; i++)
        if (strcmp(ph->ops[i].name, name) == 0)
            return i;
    return -1;
}

int ir_find_tensor(const Module *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0)
            return i;
    return -1;
}

Op *ir_add_op(Module *m, Phase *ph) {
    Op op;
    memset(&op, 0, sizeof op);
    op.tensor = -1;
    op.df.group = op.df.part = op.df.stratum = -1;
    VEC_PUSH(&m->arena, ph->ops, ph->nops, ph->ops_cap, op);
    return &ph->ops[ph->nops - 1];
}

Tensor *ir_add_tensor(Module *m) {
    Tensor t;
    memset(&t, 0, sizeof t);
    VEC_PUSH(&m->arena, m->tensors, m->ntensors, m->tensors_cap, t);
    return &m->tensors[m->ntensors - 1];
}

const SrcFile *ir_intern_file(Module *m, const char *name, const char *text, size_t len) {
    for (int i = 0; i < m->nfiles; i++)
        if (strcmp(m->files[i]->name, name) == 0) {
            if (!m->files[i]->text && text) {
                char *copy = arena_strndup(&m->arena, text, len);
                m->files[i]->text = copy;
                m->files[i]->len = len;
            }
            return m->files[i];
        }
    SrcFile *f = ARENA_NEW(&m->arena, SrcFile);
    f->name = arena_strdup(&m->arena, name);
    if (text) {
        f->text = arena_strndup(&m->arena, text, len);
        f->len = len;
    }
    VEC_PUSH(&m->arena, m->files, m->nfiles, m->files_cap, f);
    return f;
}

Loc ir_own_loc(Module *m, Loc loc) {
    if (loc.file)
        loc.file = ir_intern_file(m, loc.file->name, loc.file->text, loc.file->len);
    return loc;
}

/* Origins are kept in (file, line, col) order of `at` (the reader records them as it goes), so a
 * lookup is a binary search; one recorded out of order turns the lookups into a scan. */
static int loc_key_cmp(const Loc *a, const Loc *b) {
    uintptr_t fa = (uintptr_t)a->file, fb = (uintptr_t)b->file;
    if (fa != fb)
        return fa < fb ? -1 : 1;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->col < b->col ? -1 : a->col > b->col;
}

void ir_set_origin(Module *m, Loc at, Loc origin) {
    LocOrigin lo = {at, origin};
    if (m->norigins > 0 && loc_key_cmp(&m->origins[m->norigins - 1].at, &at) >= 0)
        m->origins_unsorted = true;
    VEC_PUSH(&m->arena, m->origins, m->norigins, m->origins_cap, lo);
}

Loc ir_origin(const Module *m, Loc at) {
    if (m->origins_unsorted) {
        for (int i = 0; i < m->norigins; i++)
            if (loc_key_cmp(&m->origins[i].at, &at) == 0)
                return m->origins[i].origin;
        return NOLOC;
    }
    int lo = 0, hi = m->norigins;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = loc_key_cmp(&m->origins[mid].at, &at);
        if (c == 0)
            return m->origins[mid].origin;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NOLOC;
}

void ir_op_add_tile(Module *m, Op *op, OpTile t) { VEC_PUSH(&m->arena, op->tiles, op->ntiles, op->tiles_cap, t); }

void ir_tensor_add_tile(Module *m, Tensor *t, TensorTile tile) {
    VEC_PUSH(&m->arena, t->tiles, t->ntiles, t->tiles_cap, tile);
}

double ir_elem_bytes(const Module *m) { return precision_bytes((Precision)m->dev.hw.precision); }

AttnForm ir_attention_form(const Module *m) {
    return m->work.attention >= 0 ? (AttnForm)m->work.attention : m->model.attention;
}

const char *ir_input_name(const Phase *ph, int k) {
    return k == IR_INPUT_X ? "x" : k == IR_INPUT_TOKENS ? "tokens" : ph->ops[k].name;
}

/* ---------------------------------------------------------------- device */

int dev_channel_unit(const Device *d, int c) {
    (void)d;
    return 1 + c;
}
int dev_bank_unit(const Device *d, int c, int b) { return 1 + dev_channels(d) + c * dev_banks(d) + b; }
int dev_pe_unit(const Device *d, int c, int b) {
    if (c >= dev_nmp_channels(d))
        return -1;
    return 1 + dev_channels(d) + dev_channels(d) * dev_banks(d) + c * dev_banks(d) + b;
}

void ir_device_build(Arena *a, Device *dev) {
    const Hardware *hw = &dev->hw;
    int C = (int)hw->channels, B = (int)hw->banks_per_channel, N = (int)hw->nmp_channels;
    dev->nunits = 1 + C + C * B + N * B;
    dev->units = ARENA_ARRAY(a, DevUnit, dev->nunits);
    dev->units[0] = (DevUnit){DEV_NPU, -1, -1, false, hw->npu_sram, hw->npu_throughput};
    for (int c = 0; c < C; c++) {
        dev->units[dev_channel_unit(dev, c)] = (DevUnit){DEV_CHANNEL, c, -1, c < N, B * hw->bank_capacity, 0};
        for (int b = 0; b < B; b++) {
            dev->units[dev_bank_unit(dev, c, b)] = (DevUnit){DEV_BANK, c, b, c < N, hw->bank_capacity, 0};
            if (c < N)
                dev->units[dev_pe_unit(dev, c, b)] =
                    (DevUnit){DEV_PE, c, b, true, 0, hw->pe_fpus * hw->pe_simd * hw->pe_frequency};
        }
    }
    dev->nlinks = C + N * B + N;
    dev->links = ARENA_ARRAY(a, DevLink, dev->nlinks);
    int k = 0;
    for (int c = 0; c < C; c++)
        dev->links[k++] = (DevLink){LINK_CHANNEL, dev_channel_unit(dev, c), 0, hw->channel_bandwidth};
    for (int c = 0; c < N; c++)
        for (int b = 0; b < B; b++)
            dev->links[k++] = (DevLink){LINK_HB, dev_bank_unit(dev, c, b), dev_pe_unit(dev, c, b), hw->pe_bandwidth};
    for (int c = 0; c < N; c++)
        dev->links[k++] = (DevLink){LINK_XFER, 0, dev_channel_unit(dev, c), hw->nmp_transfer_bandwidth};
}

int chanset_count(ChanSet s) { return __builtin_popcountll(s); }

ChanSet chanset_first(int n) { return n >= 64 ? ~(ChanSet)0 : CHAN_BIT(n) - 1; }

ChanSet dev_nmp_set(const Device *d) { return chanset_first(dev_nmp_channels(d)); }

ChanSet dev_all_set(const Device *d) { return chanset_first(dev_channels(d)); }

ChanSet dev_normal_set(const Device *d) { return dev_all_set(d) & ~dev_nmp_set(d); }

/* ---------------------------------------------------------------- sizes and queries */

long long ir_box_volume(const Range *box, int rank) {
    long long v = 1;
    for (int i = 0; i < rank; i++)
        v *= box[i].hi - box[i].lo;
    return v;
}

double tensor_box_bytes(const Tensor *t, const Range *box) {
    double v = (double)ir_box_volume(box, t->rank);
    if (t->bias) {
        /* a bias row under a [K, N] weight (the box's columns), or a shift as long as a scale vector */
        double rows = t->rank >= 2 ? (double)(box[0].hi - box[0].lo) : 1;
        v = t->rank >= 2 ? v / rows * (rows + 1) : v * 2;
    }
    return v * precision_bytes(t->elem);
}

long long tile_bank_bytes(const Device *d, const Tensor *t, const TensorTile *tile) {
    double bytes = tensor_box_bytes(t, tile->box);
    long long nbanks = tile->place.kind == PLACE_BANK ? 1 : (long long)chanset_count(tile->place.chans) * dev_banks(d);
    if (nbanks <= 0)
        return 0;
    double per = bytes / (double)nbanks;
    long long whole = (long long)per;
    return (double)whole < per ? whole + 1 : whole;
}

void ir_op_storage(const Module *m, const Op *op, ChanSet *nmp, bool *normal) {
    *nmp = 0;
    *normal = false;
    if (op->tensor < 0)
        return;
    ChanSet all = ir_tensor_chans(m, op->tensor);
    *nmp = all & dev_nmp_set(&m->dev);
    *normal = (all & dev_normal_set(&m->dev)) != 0;
}

double ir_op_nmp_share(const Op *op) {
    long long total = 0, nmp = 0;
    for (int i = 0; i < op->ntiles; i++) {
        long long v = ir_box_volume(op->tiles[i].box, 4);
        total += v;
        if (op->tiles[i].exec.kind == EXEC_NMP || op->tiles[i].exec.kind == EXEC_PE)
            nmp += v;
    }
    return total ? (double)nmp / (double)total : 0;
}

int ir_topo_order(const Phase *ph, int *order) {
    /* Kahn's algorithm over a consumer list; the ready queue is a min-heap on the op index, so the
       order is deterministic and keeps source order where the graph allows */
    int n = ph->nops;
    if (n == 0)
        return 1;
    long long nedges = 0;
    for (int i = 0; i < n; i++)
        nedges += ph->ops[i].ninputs;
    size_t bytes = sizeof(int) * ((size_t)n * 4 + (size_t)nedges + 1);
    int *mem = h2c_raw_alloc(bytes);
    if (!mem)
        return -1;
    int *deg = mem, *start = mem + n, *heap = mem + 2 * n, *fill = mem + 3 * n, *cons = mem + 4 * n;
    for (int i = 0; i < n; i++)
        deg[i] = fill[i] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ph->ops[i].ninputs; j++) {
            int src = ph->ops[i].inputs[j];
            if (src >= 0 && src < n) {
                deg[i]++;
                fill[src]++;
            }
        }
    int acc = 0;
    for (int i = 0; i < n; i++) {
        start[i] = acc;
        acc += fill[i];
        fill[i] = start[i];
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ph->ops[i].ninputs; j++) {
            int src = ph->ops[i].inputs[j];
            if (src >= 0 && src < n)
                cons[fill[src]++] = i;
        }
    int hn = 0, k = 0;
#define HEAP_PUSH(v)                                                                               \
    do {                                                                                           \
        int i_ = hn++;                                                                             \
        heap[i_] = (v);                                                                            \
        while (i_ > 0 && heap[(i_ - 1) / 2] > heap[i_]) {                                          \
            int t_ = heap[i_]; heap[i_] = heap[(i_ - 1) / 2]; heap[(i_ - 1) / 2] = t_; i_ = (i_ - 1) / 2; \
        }                                                                                          \
    } while (0)
    for (int i = 0; i < n; i++)
        if (deg[i] == 0)
            HEAP_PUSH(i);
    while (hn > 0) {
        int v = heap[0];
        heap[0] = heap[--hn];
        for (int i = 0;;) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < hn && heap[l] < heap[m]) m = l;
            if (r < hn && heap[r] < heap[m]) m = r;
            if (m == i) break;
            int t = heap[i]; heap[i] = heap[m]; heap[m] = t; i = m;
        }
        order[k++] = v;
        for (int e = start[v]; e < fill[v]; e++)
            if (--deg[cons[e]] == 0)
                HEAP_PUSH(cons[e]);
    }
#undef HEAP_PUSH
    h2c_raw_free(mem, bytes);
    return k == n ? 1 : 0;
}

/* emu_weights.c: the weights of an emulated run (runtime.h). A source (synthetic from a seed, or a
 * Hugging Face checkpoint through hfmap.c) gives each op's weights in the reference's layout; the
 * stored view rounds them to what the banks hold (fp16 weights and tables, f32 vectors and biases,
 * int8/int4 quantised per group of 128 along K with an fp16 scale), and rt_fill_weights writes the
 * banks in the schedule's layouts (docs/schedule.md §3). The reference forward pass reads the
 * stored view, so --check compares like with like. */
#include "runtime.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- synthetic weights */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* rt_round_f16, fast where binary16 is normal: round the double's significand to 10 bits, to
 * nearest even, by integer arithmetic (the same result; elsewhere rt_round_f16 itself). */
static inline double round_f16(double v) {
    double a = fabs(v);
    if (!(a >= 0x1p-14 && a < 65504.0))
        return rt_round_f16(v);
    uint64_t b;
    memcpy(&b, &v, 8);
    b += 0x1ffffffffffull + ((b >> 42) & 1);
    b &= ~0x3ffffffffffull;
    double r;
    memcpy(&r, &b, 8);
    return fabs(r) > 65504.0 ? rt_round_f16(v) : r;
}

/* The per-tensor part of rt_synth_weight: its hash, and the value's affine map from [-1, 1). */
typedef struct SynthParams {
    uint64_t h;
    double mul, add;
} SynthParams;

static bool synth_params(const RtSynthWeights *w, int op, int layer, RtWeightPart part, SynthParams *p) {
    const RtSchedule *s = w->s;
    const RtOp *o = &s->graph->ops[op];
    int t = s->graph_tensor[op];
    if (t < 0)
        return false;
    uint64_t tensor = rt_name_hash(s->tensors[t].name);
    double scale = o->kind == RT_FC && o->in_width > 0 ? 1 / sqrt((double)o->in_width) : 1;
    p->h = splitmix64(w->seed ^ splitmix64(tensor ^ splitmix64(((uint64_t)layer << 8) | (uint64_t)part)));
    p->mul = part == RT_PART_SCALE ? 0.25 : part == RT_PART_SHIFT || part == RT_PART_BIAS ? 0.05 : scale;
    p->add = part == RT_PART_SCALE ? 1 : 0;
    return true;
}

/* Element `index` (row-major) of the tensor: rt_synth_weight's value. */
static inline double synth_value(const SynthParams *p, uint64_t index) {
    uint64_t x = splitmix64(p->h ^ index);
    double u = (double)(x >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;
    return round_f16(p->add + p->mul * u);
}

/* rt_synth_weight, element for element (tests/unit checks it), with its per-tensor hash hoisted. */
static bool synth_get(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols,
                      double *dst) {
    SynthParams p;
    if (!synth_params(ctx, op, layer, part, &p))
        return false;
    for (size_t r = 0; r < rows; r++) {
        uint64_t base = (uint64_t)(row + r) * (uint64_t)cols;
        double *d = dst + r * cols;
        for (size_t c = 0; c < cols; c++)
            d[c] = synth_value(&p, base + c);
    }
    return true;
}

RtWeights rt_synth_weights(RtSynthWeights *w) { return (RtWeights){w, synth_get}; }

/* ---------------------------------------------------------------- storage types */

/* The op that owns tensor t (the first that names it: an embedding before the LM head tied to it). */
static int owner_op(const RtSchedule *s, int t) {
    for (int i = 0; i < s->graph->nops; i++)
        if (s->graph_tensor[i] == t)
            return i;
    return -1;
}

/* How an op's fc weight is stored: its tensor's first tile's type. */
static const RtTile *weight_tile(const RtSchedule *s, int op) {
    int t = s->graph_tensor[op];
    return t >= 0 && s->tensors[t].ntiles > 0 ? &s->tensors[t].tiles[0] : NULL;
}

/* Quantises n weights (stride apart) of one group: the fp16 scale max|w| / qmax and each weight's
 * integer; dq gets the dequantised values (q * scale). int8: -127..127; int4: -8..7, scale max|w| / 7. */
static double quant_group(const double *w, size_t n, size_t stride, KernelDType t, int *q, double *dq) {
    double amax = 0;
    for (size_t i = 0; i < n; i++)
        amax = fabs(w[i * stride]) > amax ? fabs(w[i * stride]) : amax;
    double qmax = t == KD_I8 ? 127 : 7, lo = t == KD_I8 ? -127 : -8;
    double sc = rt_round_f16(amax / qmax);
    for (size_t i = 0; i < n; i++) {
        double v = sc > 0 ? nearbyint(w[i * stride] / sc) : 0;
        v = v < lo ? lo : v > qmax ? qmax : v;
        if (q)
            q[i] = (int)v;
        if (dq)
            dq[i * stride] = v * sc;
    }
    return sc;
}

static bool grow(RtStoredWeights *w, size_t n) {
    if (w->cap >= n)
        return true;
    double *b = h2c_raw_alloc(sizeof(double) * n);
    if (!b) {
        w->failed = true;
        return false;
    }
    if (w->buf)
        h2c_raw_free(w->buf, sizeof(double) * w->cap);
    w->buf = b;
    w->cap = n;
    return true;
}

static bool stored_get(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols,
                       double *dst) {
    RtStoredWeights *w = ctx;
    const RtSchedule *s = w->s;
    const RtOp *o = &s->graph->ops[op];
    const RtTile *tl = weight_tile(s, op);
    KernelDType t = KD_F32;
    if (part == RT_PART_WEIGHT)
        t = o->kind == RT_EMBED ? KD_F16 : tl ? tl->dtype : KD_F16;
    if (part == RT_PART_WEIGHT && o->kind == RT_FC && (t == KD_I8 || t == KD_I4)) {
        /* whole groups along K (the rows of [K x N]) */
        size_t G = (size_t)(tl->group > 0 ? tl->group : 128), K = (size_t)o->in_width;
        size_t g0 = row / G * G, g1 = (row + rows + G - 1) / G * G;
        g1 = g1 > K ? K : g1;
        if (!grow(w, (g1 - g0) * cols))
            return false;
        if (!w->src.get(w->src.ctx, op, layer, part, g0, g1 - g0, cols, w->buf))
            return false;
        for (size_t k = g0; k < g1; k += G)
            for (size_t n = 0; n < cols; n++) {
                size_t len = k + G <= g1 ? G : g1 - k;
                quant_group(w->buf + (k - g0) * cols + n, len, cols, t, NULL, w->buf + (k - g0) * cols + n);
            }
        memcpy(dst, w->buf + (row - g0) * cols, sizeof(double) * rows * cols);
        return true;
    }
    if (!w->src.get(w->src.ctx, op, layer, part, row, rows, cols, dst))
        return false;
    if (w->src.get == synth_get && (t == KD_F16 || t == KD_F32))
        return true;    /* synthetic weights are binary16 values already, exact in f16 and f32 */
    for (size_t i = 0; i < rows * cols; i++)
        dst[i] = t == KD_F16 ? round_f16(dst[i]) : (double)(float)dst[i];
    return true;
}

RtWeights rt_stored_weights(RtStoredWeights *w) { return (RtWeights){w, stored_get}; }

void rt_stored_weights_free(RtStoredWeights *w) {
    if (w->buf)
        h2c_raw_free(w->buf, sizeof(double) * w->cap);
    w->buf = NULL;
    w->cap = 0;
}

/* ---------------------------------------------------------------- into the banks */

/* The binary16 bits of v, which is a binary16 value (normal ones by integer arithmetic). */
static uint16_t f16_bits(double v) {
    uint64_t b;
    memcpy(&b, &v, 8);
    int e = (int)((b >> 52) & 0x7ff) - 1023 + 15;
    if (e <= 0 || e >= 31)
        return be_f32_to_f16((float)v);
    return (uint16_t)(((b >> 48) & 0x8000u) | ((unsigned)e << 10) | ((b >> 42) & 0x3ffu));
}

static void put_elem(unsigned char *row, int64_t k, KernelDType t, double v) {
    switch (t) {
    case KD_F32: {
        float f = (float)v;
        memcpy(row + 4 * k, &f, 4);
        break;
    }
    case KD_F16: {
        uint16_t h = f16_bits(v);     /* v is already a binary16 value (the stored view's) */
        memcpy(row + 2 * k, &h, 2);
        break;
    }
    default: break;
    }
}

/* The tensor is the layer body's (a copy per layer) or the prologue's/epilogue's. */
static bool layer_tensor(const RtSchedule *s, int t) {
    int op = owner_op(s, t);
    return op >= 0 && s->graph->ops[op].scope == RT_SCOPE_LAYER;
}

int64_t rt_weight_bytes(const RtSchedule *s, bool layer) {
    int64_t n = 0;
    for (int t = 0; t < s->ntensors; t++) {
        const RtTensor *T = &s->tensors[t];
        if (T->kv || layer_tensor(s, t) != layer)
            continue;
        for (int k = 0; k < T->ntiles; k++)
            for (int r = 0; r < T->tiles[k].nregions; r++)
                n += T->tiles[k].regions[r].bytes;
    }
    return n;
}

/* The binary16 bits of synth_value(p, index), straight from the double's bits where the value is a
 * normal binary16 (round_f16's and f16_bits's arithmetic in one); elsewhere through them. */
static inline uint16_t synth_f16(const SynthParams *p, uint64_t index) {
    uint64_t x = splitmix64(p->h ^ index);
    double v = p->add + p->mul * ((double)(x >> 11) * (1.0 / 9007199254740992.0) * 2 - 1);
    uint64_t b;
    memcpy(&b, &v, 8);
    uint64_t a = b & 0x7fffffffffffffffull;
    if (a >= 0x3f10000000000000ull && a < 0x40effc0000000000ull) {     /* [2^-14, 65504) */
        uint64_t r = a + 0x1ffffffffffull + ((a >> 42) & 1);          /* to nearest even, 10 bits */
        unsigned e = (unsigned)(r >> 52) - 1008u;
        if (e < 31)
            return (uint16_t)(((b >> 48) & 0x8000u) | (e << 10) | ((r >> 42) & 0x3ffu));
    }
    return f16_bits(round_f16(v));
}

/* count synthetic weights, elements idx, idx + step, ... of their tensor, into row in type t (fp16 or
 * f32): the values stored_get gives, which leaves synthetic fp16/f32 weights as they are. */
static void synth_row(const SynthParams *p, uint64_t idx, uint64_t step, int64_t count, KernelDType t,
                      unsigned char *row) {
    if (t == KD_F16) {
        for (int64_t k = 0; k < count; k++, idx += step) {
            uint16_t h = synth_f16(p, idx);
            memcpy(row + 2 * k, &h, 2);
        }
    } else {
        for (int64_t k = 0; k < count; k++, idx += step)
            put_elem(row, k, t, synth_value(p, idx));
    }
}

/* Synthetic rows written by a few threads: rows [lo, hi) of one tile's regions of a tile (an fc tile:
 * its output rows, which hold the columns of [K x N], element k of row n element k N + n; a table: its
 * rows, element e of row v element v H + e), each written in order, so no block of doubles passes
 * through the cache (the general path's transpose). Every element is a function of its index alone,
 * so the bytes do not depend on the threads. */
typedef struct SynthJob {
    const SynthParams *p;
    const RtTile *tl;
    unsigned char *const *base;     /* [r1 - r0]: each region's first byte */
    int r0, r1;                     /* the tile's regions written */
    bool fc;
    int64_t N;
    int64_t total;                  /* rows over all regions */
    int part, parts;
} SynthJob;

static void *synth_rows(void *arg) {
    const SynthJob *j = arg;
    int64_t lo = j->total * j->part / j->parts, hi = j->total * (j->part + 1) / j->parts, at = 0;
    for (int r = j->r0; r < j->r1 && at < hi; r++) {
        const RtRegion *g = &j->tl->regions[r];
        int64_t n = g->hi - g->lo, a = lo > at ? lo - at : 0, b = hi - at < n ? hi - at : n;
        for (int64_t i = a; i < b; i++) {
            int64_t v = g->lo + i;
            unsigned char *row = j->base[r - j->r0] + i * j->tl->row_bytes;
            if (j->fc)
                synth_row(j->p, (uint64_t)v, (uint64_t)j->N, j->tl->k, j->tl->dtype, row);
            else
                synth_row(j->p, (uint64_t)v * (uint64_t)j->tl->k, 1, j->tl->k, j->tl->dtype, row);
        }
        at += n;
    }
    return NULL;
}

/* Writes regions [r0, r1) of tile tl (region r at base[r - r0]) with synthetic rows, on up to 8
 * threads (the host's cores); where a thread cannot start, this one does its share. */
static void synth_tile(const SynthParams *p, const RtTile *tl, int r0, int r1, unsigned char *const *base, bool fc,
                       int64_t N) {
    enum { MAX_THREADS = 8 };
    int64_t total = 0;
    for (int r = r0; r < r1; r++)
        total += tl->regions[r].hi - tl->regions[r].lo;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int parts = cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (int)cores;
    if (total * tl->k < (1 << 20))
        parts = 1;  /* (small tiles: not worth a thread) */
    SynthJob job[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    bool started[MAX_THREADS] = {false};
    for (int i = 0; i < parts; i++) {
        job[i] = (SynthJob){p, tl, base, r0, r1, fc, N, total, i, parts};
        if (i > 0)
            started[i] = pthread_create(&th[i], NULL, synth_rows, &job[i]) == 0;
    }
    synth_rows(&job[0]);
    for (int i = 1; i < parts; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            synth_rows(&job[i]);
    }
}

/* Fills the regions of one tile of an fc weight (rows = output columns). */
static bool fill_fc(const RtSchedule *s, RtMem *mem, RtStoredWeights *sw, int op, const RtTile *tl, int64_t copy,
                    int layer, char *err, size_t errlen) {
    const RtOp *o = &s->graph->ops[op];
    int64_t K = tl->k, N = o->width, G = tl->group > 0 ? tl->group : 128;
    bool quant = tl->dtype == KD_I8 || tl->dtype == KD_I4;
    size_t kb = (size_t)((8 << 20) / (N > 0 ? N : 1));
    kb = kb < 1 ? 1 : kb;
    if (quant)
        kb = (kb + (size_t)G - 1) / (size_t)G * (size_t)G;
    if (kb > (size_t)K)
        kb = (size_t)K;
    /* fp16/f32: the stored values (exact in their type); int8/int4: the source, quantised here as
     * stored_get quantises it */
    RtWeights src = quant ? sw->src : rt_stored_weights(sw);
    SynthParams sp;
    bool direct = !quant && sw->src.get == synth_get && synth_params(sw->src.ctx, op, layer, RT_PART_WEIGHT, &sp);
    if (direct) {
        unsigned char **base = h2c_raw_alloc(sizeof(unsigned char *) * (size_t)(tl->nregions + 1));
        if (!base) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        for (int r = 0; r < tl->nregions; r++) {
            const RtRegion *g = &tl->regions[r];
            base[r] = rt_mem_bank(mem, g->channel, g->bank) + g->addr + copy * g->stride;
        }
        synth_tile(&sp, tl, 0, tl->nregions, base, true, N);
        h2c_raw_free(base, sizeof(unsigned char *) * (size_t)(tl->nregions + 1));
    }
    if (!direct && !grow(sw, kb * (size_t)N)) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    int q[1024];
    for (int64_t k0 = 0; !direct && k0 < K; k0 += (int64_t)kb) {
        int64_t kn = K - k0 < (int64_t)kb ? K - k0 : (int64_t)kb;
        if (!src.get(src.ctx, op, layer, RT_PART_WEIGHT, (size_t)k0, (size_t)kn, (size_t)N, sw->buf)) {
            snprintf(err, errlen, "no weights for op '%s' (layer %d)", o->name, layer);
            return false;
        }
        for (int r = 0; r < tl->nregions; r++) {
            const RtRegion *g = &tl->regions[r];
            unsigned char *base = rt_mem_bank(mem, g->channel, g->bank) + g->addr + copy * g->stride;
            if (!quant) {
                /* 32 output rows at a time: the block's rows read in order, 32 rows written */
                for (int64_t n0 = g->lo; n0 < g->hi; n0 += 32) {
                    int64_t n1 = n0 + 32 < g->hi ? n0 + 32 : g->hi;
                    for (int64_t k = 0; k < kn; k++) {
                        const double *wk = sw->buf + (size_t)k * (size_t)N;
                        for (int64_t n = n0; n < n1; n++)
                            put_elem(base + (n - g->lo) * tl->row_bytes, k0 + k, tl->dtype, wk[n]);
                    }
                }
                continue;
            }
            for (int64_t n = g->lo; n < g->hi; n++) {
                unsigned char *row = base + (n - g->lo) * tl->row_bytes;
                const double *col = sw->buf + n;
                unsigned char *sc = base + (g->hi - g->lo) * tl->row_bytes + (n - g->lo) * tl->scale_bytes;
                for (int64_t k = 0; k < kn; k += G) {
                    int64_t len = kn - k < G ? kn - k : G;
                    if (len > 1024)
                        len = 1024;
                    double scale = quant_group(col + (size_t)k * (size_t)N, (size_t)len, (size_t)N, tl->dtype, q, NULL);
                    uint16_t h = be_f32_to_f16((float)scale);
                    memcpy(sc + 2 * ((k0 + k) / G), &h, 2);
                    for (int64_t i = 0; i < len; i++) {
                        int64_t kk = k0 + k + i;
                        if (tl->dtype == KD_I8)
                            row[kk] = (unsigned char)(signed char)q[i];
                        else {
                            /* block b of 32: byte j holds weight 32b + j (low) and 32b + 16 + j (high) */
                            int64_t b = kk / 32, j = kk % 32;
                            unsigned char *by = row + 16 * b + (j % 16);
                            unsigned nib = (unsigned)(q[i] + 8) & 15u;
                            *by = j < 16 ? (unsigned char)((*by & 0xf0u) | nib) : (unsigned char)((*by & 0x0fu) | (nib << 4));
                        }
                    }
                }
            }
        }
    }
    if (tl->bias) {
        if (!grow(sw, (size_t)N) || !src.get(src.ctx, op, layer, RT_PART_BIAS, 0, 1, (size_t)N, sw->buf)) {
            snprintf(err, errlen, "no bias for op '%s' (layer %d)", o->name, layer);
            return false;
        }
        for (int r = 0; r < tl->nregions; r++) {
            const RtRegion *g = &tl->regions[r];
            unsigned char *b = rt_mem_bank(mem, g->channel, g->bank) + g->addr + copy * g->stride +
                               (g->hi - g->lo) * (tl->row_bytes + tl->scale_bytes);
            for (int64_t n = g->lo; n < g->hi; n++)
                put_elem(b, n - g->lo, KD_F32, sw->buf[n]);
        }
    }
    return true;
}

bool rt_fill_weights(const RtSchedule *s, RtMem *mem, RtWeights *stored, int copy, int layer, bool top, char *err,
                     size_t errlen) {
    RtStoredWeights *sw = stored->ctx;
    for (int t = 0; t < s->ntensors; t++) {
        const RtTensor *T = &s->tensors[t];
        int op = owner_op(s, t);
        if (T->kv || op < 0 || (s->graph->ops[op].scope == RT_SCOPE_LAYER) == top)
            continue;
        const RtOp *o = &s->graph->ops[op];
        int lay = top ? 0 : layer;
        for (int k = 0; k < T->ntiles; k++) {
            const RtTile *tl = &T->tiles[k];
            if (o->kind == RT_FC) {
                if (!fill_fc(s, mem, sw, op, tl, top ? 0 : copy, lay, err, errlen))
                    return false;
                continue;
            }
            for (int r = 0; r < tl->nregions; r++) {
                const RtRegion *g = &tl->regions[r];
                unsigned char *base = rt_mem_bank(mem, g->channel, g->bank) + g->addr + (top ? 0 : copy) * g->stride;
                if (tl->layout == RT_VECTOR) {
                    /* a norm's scale run, then its shift */
                    int64_t n = g->hi - g->lo;
                    for (int part = 0; part < (tl->bias ? 2 : 1); part++) {
                        if (!grow(sw, (size_t)o->width) ||
                            !stored->get(sw, op, lay, part ? RT_PART_SHIFT : RT_PART_SCALE, 0, 1, (size_t)o->width,
                                         sw->buf)) {
                            snprintf(err, errlen, "no %s for op '%s'", part ? "shift" : "scale", o->name);
                            return false;
                        }
                        for (int64_t e = 0; e < n; e++)
                            put_elem(base + part * n * 4, e, KD_F32, sw->buf[g->lo + e]);
                    }
                    continue;
                }
                /* a table's rows (embedding: fp16) */
                int64_t H = tl->k;
                SynthParams sp;
                if (sw->src.get == synth_get && (tl->dtype == KD_F16 || tl->dtype == KD_F32) &&
                    synth_params(sw->src.ctx, op, lay, RT_PART_WEIGHT, &sp)) {
                    synth_tile(&sp, tl, r, r + 1, &base, false, H);
                    continue;
                }
                for (int64_t v = g->lo; v < g->hi; v++) {
                    if (!grow(sw, (size_t)H) || !stored->get(sw, op, lay, RT_PART_WEIGHT, (size_t)v, 1, (size_t)H, sw->buf)) {
                        snprintf(err, errlen, "no weights for row %lld of op '%s'", (long long)v, o->name);
                        return false;
                    }
                    for (int64_t e = 0; e < H; e++)
                        put_elem(base + (v - g->lo) * tl->row_bytes, e, tl->dtype, sw->buf[e]);
                }
            }
        }
    }
    return true;
}

/* emulate.c: h2c run (runtime.h rt_run; docs/runtime.md §5): runs a schedule on the emulated
 * device. The memories are emu_mem.c's, the weights emu_weights.c's; each phase's steps run their
 * bodies (the prologue, the layer body once per layer, the epilogue) command by command in id order,
 * which is a topological order of the dependencies, through one dispatch loop with a short case per
 * command: moves copy bytes, kernels call the JIT-compiled KernelFn on the translated buffers, KV
 * appends and loads and gathers walk the tokens a link really moves. Time and energy come from
 * emu_time.c (which never reads the data), the comparison with the reference from emu_check.c. */
#include "runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct Emu {
    const RtSchedule *s;
    const RtRunOptions *o;
    Diag *d;
    int layers, steps, batch;
    bool numerics, lazy;
    RtMem mem;
    KernelJit *jit;
    KernelFn *fn;               /* per kernel of the table */
    RtTime *time;
    RtTrace *trace;
    RtCheck *check;
    RtSynthWeights synth;
    RtStoredWeights stored;
    RtWeights src, storedw;
    int *tok;                   /* [batch][ntok] host token ids */
    int ntok;
    int32_t *in_tok, *in_pos;   /* the current step's inputs (host copies: gathers count with them) */
    int64_t tok_addr;           /* the phase's tokens input (a gather's ids there are token ids, else positions) */
    float **hidden;             /* [layers] -> [rows x hidden], the emulator's layer outputs of the step */
    float **attn;               /* --check: [layers] -> [rows x heads x head_dim], their attention results */
    float *logits;              /* [steps + 1][batch][vocab] */
    float *last_hidden;         /* [steps + 1][batch][hidden] */
    unsigned char **wmask;      /* per phase * 3 + scope: per command id, the bank references in a weight region */
    RtCmdStat *cmdstat;
    int *cmdbase;               /* per phase * 3 + scope: first index in cmdstat */
    RtRunStats st;
    /* per-op interval buffer of one body iteration */
    struct Iv { int op, side; double a, b; } *iv;
    int niv, ivcap;
    char err[512];
    double t_kernels;
    double kv_written;          /* KV bytes appended so far (the trace's counter) */
    double t_moves;             /* host seconds in loads, stores, copies and transfers */
} Emu;

static double now_s(void) { return h2c_seconds(); }

/* ---------------------------------------------------------------- addresses */

/* A reference's host bytes. `lrel` is the layer offset (iteration minus the command's first layer). */
static unsigned char *ref_ptr(Emu *e, const RtRef *r, int pe_unit, int64_t lrel) {
    switch (r->at) {
    case RT_AT_NPU: return e->mem.npu + r->addr;
    case RT_AT_PE: return e->mem.pe + (size_t)(pe_unit - e->mem.pe_unit0) * (size_t)e->mem.pe_bytes + r->addr;
    case RT_AT_BANK: return rt_mem_bank(&e->mem, r->channel, r->bank) + r->addr + lrel * r->layer_stride;
    }
    return NULL;
}

/* Is a bank reference inside a region of a layer tensor's weights (copy 0)? */
static bool in_weight_region(const RtSchedule *s, const RtRef *r) {
    if (r->null || r->at != RT_AT_BANK)
        return false;
    for (int t = 0; t < s->ntensors; t++) {
        const RtTensor *T = &s->tensors[t];
        if (T->kv || T->layers <= 1)
            continue;
        for (int k = 0; k < T->ntiles; k++)
            for (int g = 0; g < T->tiles[k].nregions; g++) {
                const RtRegion *x = &T->tiles[k].regions[g];
                if (x->channel == r->channel && x->bank == r->bank && r->addr >= x->addr && r->addr < x->addr + x->bytes)
                    return true;
            }
    }
    return false;
}

/* ---------------------------------------------------------------- commands */

static void move_rows(unsigned char *dst, const unsigned char *src, const RtCmd *c, int64_t i) {
    int64_t so = c->nstrides > 0 ? i * c->strides[0] : 0, dof = c->nstrides > 1 ? i * c->strides[1] : 0;
    for (int64_t r = 0; r < c->rows; r++) {
        const unsigned char *a = src + so + r * c->src_stride;
        unsigned char *b = dst + dof + r * c->dst_stride;
        if (!c->cvt) {
            memmove(b, a, (size_t)c->row_bytes);
            continue;
        }
        for (int64_t k = 0; k < c->row_bytes / 4; k++) {
            float f;
            memcpy(&f, a + 4 * k, 4);
            uint16_t h = be_f32_to_f16(f);
            memcpy(b + 2 * k, &h, 2);
        }
    }
}

static void narrow_row(unsigned char *dst, const unsigned char *src, int64_t row_bytes, KernelDType t) {
    if (t == KD_F32) {
        memcpy(dst, src, (size_t)row_bytes);
        return;
    }
    for (int64_t k = 0; k < row_bytes / 2; k++) {
        float f;
        memcpy(&f, src + 4 * k, 4);
        uint16_t h = be_f32_to_f16(f);
        memcpy(dst + 2 * k, &h, 2);
    }
}

/* The channel of a link's stream. */
static int link_channel(const RtSchedule *s, const RtStream *st) { return s->dev.links[st->id].channel; }

/* kv_append into a tile: returns the bytes written on this link's channel. */
static int64_t kv_append_tile(Emu *e, const RtStream *st, const RtCmd *c, int64_t l, int64_t ctx) {
    const RtTile *tl = &e->s->tensors[c->tensor].tiles[c->tile];
    int ch = link_channel(e->s, st), n = tl->nregions;
    int64_t first = rt_expr_eval(c->first, ctx), count = rt_expr_eval(c->count, ctx), bytes = 0;
    int64_t nb = tl->batch[1] - tl->batch[0];
    for (int64_t t = first; t < first + count; t++) {
        const RtRegion *g = &tl->regions[t % n];
        if (g->channel != ch)
            continue;
        for (int64_t h = tl->heads[0]; h < tl->heads[1]; h++)
            for (int64_t b = tl->batch[0]; b < tl->batch[1]; b++) {
                bytes += tl->row_bytes;
                if (!e->numerics)
                    continue;
                int64_t pair = (h - tl->heads[0]) * nb + (b - tl->batch[0]);
                const unsigned char *src = ref_ptr(e, &c->src, 0, 0) + (h - tl->heads[0]) * c->head_stride +
                                           (b - tl->batch[0]) * c->batch_stride + (t - first) * c->token_stride;
                unsigned char *dst = rt_mem_bank(&e->mem, g->channel, g->bank) + g->addr + l * g->stride +
                                     (pair * tl->cap + t / n) * tl->row_bytes;
                narrow_row(dst, src, tl->row_bytes, tl->dtype);
            }
    }
    return bytes;
}

/* Slot `slot`'s row of layer l's keys (or values, v) in an attention stream: tile slot mod n, row
 * slot / n. */
static unsigned char *stream_row(Emu *e, const RtKvStream *ks, bool v, int64_t l, int64_t slot) {
    const RtRegion *g = &ks->regions[slot % ks->nregions];
    return rt_mem_bank(&e->mem, g->channel, g->bank) + g->addr + (l - ks->layers[0]) * g->stride +
           ((v ? ks->cap : 0) + slot / ks->nregions) * ks->row_bytes;
}

/* kv_append into an attention stream's keys or values. */
static int64_t kv_append_stream(Emu *e, const RtStream *st, const RtCmd *c, int64_t l, int64_t ctx) {
    const RtKvStream *ks = &e->s->streams[c->stream];
    int ch = link_channel(e->s, st), n = ks->nregions;
    int64_t first = rt_expr_eval(c->first, ctx), count = rt_expr_eval(c->count, ctx), bytes = 0;
    for (int64_t t = first; t < first + count; t++) {
        int64_t slot = !c->ring || t < c->sink ? t : c->sink + (t - c->sink) % c->window;
        const RtRegion *g = &ks->regions[slot % n];
        if (g->channel != ch)
            continue;
        bytes += ks->row_bytes;
        if (!e->numerics)
            continue;
        const unsigned char *src = ref_ptr(e, &c->src, 0, 0) + (t - first) * c->token_stride;
        narrow_row(stream_row(e, ks, c->part_v, l, slot), src, ks->row_bytes, ks->dtype);
    }
    return bytes;
}

/* kv_load from an attention stream (`by npu`): slot s from tile s mod n, row s / n, into dst densely. */
static int64_t kv_load_stream(Emu *e, const RtStream *st, const RtCmd *c, int64_t l, int64_t ctx) {
    const RtKvStream *ks = &e->s->streams[c->stream];
    int ch = link_channel(e->s, st), n = ks->nregions;
    int64_t first = rt_expr_eval(c->first, ctx), count = rt_expr_eval(c->count, ctx), bytes = 0;
    for (int64_t t = first; t < first + count; t++) {
        const RtRegion *g = &ks->regions[t % n];
        if (g->channel != ch)
            continue;
        bytes += ks->row_bytes;
        if (!e->numerics)
            continue;
        memcpy(ref_ptr(e, &c->dst, 0, 0) + (t - first) * ks->row_bytes, stream_row(e, ks, c->part_v, l, t),
               (size_t)ks->row_bytes);
    }
    return bytes;
}

static int64_t kv_load_tile(Emu *e, const RtStream *st, const RtCmd *c, int64_t l, int64_t ctx) {
    const RtTile *tl = &e->s->tensors[c->tensor].tiles[c->tile];
    int ch = link_channel(e->s, st), n = tl->nregions;
    int64_t first = rt_expr_eval(c->first, ctx), count = rt_expr_eval(c->count, ctx), bytes = 0;
    for (int64_t t = first; t < first + count; t++) {
        const RtRegion *g = &tl->regions[t % n];
        if (g->channel != ch)
            continue;
        for (int64_t p = c->pairs[0]; p < c->pairs[1]; p++) {
            bytes += tl->row_bytes;
            if (!e->numerics)
                continue;
            const unsigned char *src = rt_mem_bank(&e->mem, g->channel, g->bank) + g->addr + l * g->stride +
                                       (p * tl->cap + t / n) * tl->row_bytes;
            unsigned char *dst = ref_ptr(e, &c->dst, 0, 0) + (p - c->pairs[0]) * c->pair_stride + (t - first) * tl->row_bytes;
            memcpy(dst, src, (size_t)tl->row_bytes);
        }
    }
    return bytes;
}

/* gather: the ids are the step's token ids or positions (host copies, so the count does not
 * depend on --numerics). */
static int64_t gather(Emu *e, const RtStream *st, const RtCmd *c) {
    const RtSchedule *s = e->s;
    const RtTile *tl = &s->tensors[c->tensor].tiles[c->tile];
    int ch = link_channel(s, st);
    int64_t bytes = 0;
    for (int64_t r = 0; r < c->rows; r++) {
        int64_t id;
        if (e->numerics) {
            int32_t v;
            memcpy(&v, ref_ptr(e, &c->ids, 0, 0) + 4 * r, 4);
            id = v;
        } else {
            id = c->ids.addr == e->tok_addr ? e->in_tok[r] : e->in_pos[r];
        }
        id += c->id_offset;
        for (int g = 0; g < tl->nregions; g++) {
            const RtRegion *x = &tl->regions[g];
            if (x->channel != ch || id < x->lo || id >= x->hi)
                continue;
            bytes += tl->row_bytes;
            if (e->numerics)
                memcpy(ref_ptr(e, &c->dst, 0, 0) + r * tl->row_bytes,
                       rt_mem_bank(&e->mem, x->channel, x->bank) + x->addr + (id - x->lo) * tl->row_bytes,
                       (size_t)tl->row_bytes);
        }
    }
    return bytes;
}

/* ---------------------------------------------------------------- the dispatch loop */

/* Runs one command of body (p, sc) in layer iteration l (0 outside the layer body) at ctx. */
static bool dispatch(Emu *e, int p, int sc, const RtStream *st, const RtCmd *c, int64_t l, int64_t ctx) {
    const RtSchedule *s = e->s;
    int64_t lrel = c->layers[1] > 0 ? l - c->layers[0] : l;
    const unsigned char *wm = e->wmask[p * 3 + sc] + (size_t)c->id * 2;
    unsigned mask = (unsigned)wm[0] | ((unsigned)wm[1] << 8);
    int pe = st->link ? -1 : st->id;
    int64_t bytes_here = 0;
    if (e->numerics) {
        /* the lazy window: every layer's weights live in copy 0 */
#define LREL(bit) (e->lazy && (mask & (1u << (bit))) ? 0 : lrel)
        double tm = c->kind != RT_KERNEL ? now_s() : 0;
        switch (c->kind) {
        case RT_LOAD:
        case RT_STORE:
        case RT_COPY:
            for (int64_t i = 0; i < c->repeat; i++)
                move_rows(ref_ptr(e, &c->dst, pe, LREL(9)), ref_ptr(e, &c->src, pe, LREL(8)), c, i);
            break;
        case RT_TRANSFER:
            for (int64_t i = 0; i < c->repeat; i++) {
                if (c->dst.at == RT_AT_PE)
                    for (int k = 0; k < c->npes; k++)
                        move_rows(ref_ptr(e, &c->dst, c->pes[k], 0), ref_ptr(e, &c->src, 0, 0), c, i);
                else
                    move_rows(ref_ptr(e, &c->dst, 0, 0), ref_ptr(e, &c->src, c->pes[0], 0), c, i);
            }
            break;
        case RT_KERNEL: {
            void *bufs[KERNEL_MAX_BUFS] = {0};
            unsigned char *base[KERNEL_MAX_BUFS] = {0};
            int64_t args[KERNEL_MAX_ARGS] = {0};
            for (int k = 0; k < c->nbufs; k++)
                base[k] = c->bufs[k].null ? NULL : ref_ptr(e, &c->bufs[k], pe, LREL(k));
            for (int k = 0; k < c->nargs; k++) {
                /* the sel form: rows of the pages listed in this PE's (or the NPU's) selection */
                const int32_t *sel = c->args[k].page_rows > 0
                                         ? (const int32_t *)(const void *)ref_ptr(e, &c->args[k].sel, pe, 0)
                                         : NULL;
                args[k] = rt_expr_value(c->args[k], ctx, sel);
            }
            KernelFn fn = e->fn[c->kernel];
            double t0 = now_s();
            for (int64_t i = 0; i < c->repeat; i++) {
                for (int k = 0; k < c->nbufs; k++)
                    bufs[k] = base[k] ? base[k] + (k < c->nstrides ? i * c->strides[k] : 0) : NULL;
                fn(bufs, args);
            }
            e->t_kernels += now_s() - t0;
            break;
        }
        default: break;
        }
        if (c->kind != RT_KERNEL)
            e->t_moves += now_s() - tm;
#undef LREL
    }
    switch (c->kind) {
    case RT_KV_APPEND:
        bytes_here = c->tensor >= 0 ? kv_append_tile(e, st, c, l, ctx) : kv_append_stream(e, st, c, l, ctx);
        e->kv_written += (double)bytes_here;
        break;
    case RT_KV_LOAD:
        bytes_here = c->tensor >= 0 ? kv_load_tile(e, st, c, l, ctx) : kv_load_stream(e, st, c, l, ctx);
        break;
    case RT_GATHER: bytes_here = gather(e, st, c); break;
    default: break;
    }
    const RtTimeCmd *tc = rt_time_cmd(e->time, st, c, ctx, bytes_here);
    /* bookkeeping: per command, per op, the trace */
    RtCmdStat *cs = &e->cmdstat[e->cmdbase[p * 3 + sc] + c->id];
    double dur = tc->end - tc->start, en = 0;
    for (int k = 0; k < RT_ENERGY_COUNT; k++)
        en += tc->energy[k];
    cs->time += dur;
    cs->energy += en;
    cs->runs++;
    if (p == 1 && (c->kind == RT_LOAD || (c->kind == RT_KERNEL && !st->link && s->dev.units[st->id].kind == RT_UNIT_PE)))
        e->st.weight_bytes_decode += tc->bytes;
    int op = c->op;
    if (op >= 0 && op < s->phase[p].nops && s->phase[p].ops[op].into >= 0)
        op = s->phase[p].ops[op].into;
    if (op >= 0) {
        RtOpStat *os = &e->st.ops[p][op];
        double est = c->est.ctx * (double)ctx + c->est.plus;
        os->est_cmds[tc->side] += est;
        os->busy[tc->side] += dur;
        if (e->niv == e->ivcap) {
            int cap = e->ivcap ? 2 * e->ivcap : 1024;
            struct Iv *n = h2c_raw_realloc(e->iv, sizeof(struct Iv) * (size_t)e->ivcap, sizeof(struct Iv) * (size_t)cap);
            if (!n) {
                snprintf(e->err, sizeof e->err, "out of memory");
                return false;
            }
            e->iv = n;
            e->ivcap = cap;
        }
        e->iv[e->niv++] = (struct Iv){op, tc->side, tc->start, tc->end};
    }
    if (e->trace && !rt_trace_cmd(e->trace, p, st, c, tc, op >= 0 ? s->phase[p].ops[op].name : "")) {
        snprintf(e->err, sizeof e->err, "out of memory");
        return false;
    }
    return true;
}

static int iv_cmp(const void *a, const void *b) {
    const struct Iv *x = a, *y = b;
    if (x->op != y->op)
        return x->op < y->op ? -1 : 1;
    if (x->side != y->side)
        return x->side < y->side ? -1 : 1;
    return x->a < y->a ? -1 : x->a > y->a ? 1 : 0;
}

/* The op spans of one body iteration: per (op, side) the union of its commands' intervals. */
static void close_spans(Emu *e, int p) {
    if (e->niv > 1)
        qsort(e->iv, (size_t)e->niv, sizeof *e->iv, iv_cmp);
    for (int i = 0; i < e->niv;) {
        int j = i;
        double a = e->iv[i].a, b = e->iv[i].b, sum = 0;
        while (j < e->niv && e->iv[j].op == e->iv[i].op && e->iv[j].side == e->iv[i].side) {
            if (e->iv[j].a > b) {
                sum += b - a;
                a = e->iv[j].a;
                b = e->iv[j].b;
            } else if (e->iv[j].b > b) {
                b = e->iv[j].b;
            }
            j++;
        }
        sum += b - a;
        e->st.ops[p][e->iv[i].op].span[e->iv[i].side] += sum;
        i = j;
    }
    e->niv = 0;
}

/* The commands of a body, by id. */
typedef struct Flat {
    const RtStream *st;
    const RtCmd *c;
} Flat;

static bool run_body(Emu *e, int p, int sc, const Flat *flat, int64_t l, int64_t ctx) {
    const RtPhase *ph = &e->s->phase[p];
    const RtBody *b = &ph->body[sc];
    rt_time_body(e->time, b);
    for (int i = 0; i < b->ncmds; i++) {
        const RtCmd *c = flat[i].c;
        if (!rt_cmd_runs(c, sc == RT_SCHED_LAYER ? l : 0, ctx))     /* its layers, its `when` */
            continue;
        if (!dispatch(e, p, sc, flat[i].st, c, l, ctx))
            return false;
    }
    /* the cost model's estimate of the ops this body iteration ran */
    static const char *const scopes[3] = {"prologue", "layer", "epilogue"};
    for (int i = 0; i < ph->nops; i++)
        if (ph->ops[i].has_est && strcmp(ph->ops[i].scope, scopes[sc]) == 0) {
            /* a fused op's estimate goes with the op whose commands compute it, as its commands do */
            int to = ph->ops[i].into >= 0 ? ph->ops[i].into : i;
            e->st.ops[p][to].est_model[0] += ph->ops[i].npu.ctx * (double)ctx + ph->ops[i].npu.plus;
            e->st.ops[p][to].est_model[1] += ph->ops[i].nmp.ctx * (double)ctx + ph->ops[i].nmp.plus;
        }
    close_spans(e, p);
    return true;
}

/* ---------------------------------------------------------------- setup */

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static Flat *flatten(Emu *e, const RtBody *b) {
    Flat *f = h2c_raw_alloc(sizeof(Flat) * (size_t)(b->ncmds + 1));
    if (!f)
        return NULL;
    for (int k = 0; k < b->nstreams; k++)
        for (int i = 0; i < b->streams[k].ncmds; i++) {
            const RtCmd *c = &b->streams[k].cmds[i];
            f[c->id] = (Flat){&b->streams[k], c};
        }
    (void)e;
    return f;
}

/* Floats of one layer's attention result at the largest step (the prompt's rows). */
static size_t attn_floats(const Emu *e) {
    const RtSchedule *s = e->s;
    return (size_t)e->batch * (size_t)s->prompt * (size_t)s->heads * (size_t)s->head_dim;
}

static bool setup(Emu *e) {
    const RtSchedule *s = e->s;
    char err[400];
    int total = 0;
    e->cmdbase = h2c_raw_alloc(sizeof(int) * 6);
    e->wmask = h2c_raw_alloc(sizeof(unsigned char *) * 6);
    if (e->wmask)
        memset(e->wmask, 0, sizeof(unsigned char *) * 6);
    if (!e->cmdbase || !e->wmask)
        return false;
    for (int p = 0; p < 2; p++)
        for (int sc = 0; sc < 3; sc++) {
            const RtBody *b = &s->phase[p].body[sc];
            e->cmdbase[p * 3 + sc] = total;
            total += b->ncmds;
            e->wmask[p * 3 + sc] = h2c_raw_alloc((size_t)b->ncmds * 2 + 2);
            if (!e->wmask[p * 3 + sc])
                return false;
            memset(e->wmask[p * 3 + sc], 0, (size_t)b->ncmds * 2 + 2);
            if (!e->lazy || sc != RT_SCHED_LAYER)
                continue;
            for (int k = 0; k < b->nstreams; k++)
                for (int i = 0; i < b->streams[k].ncmds; i++) {
                    const RtCmd *c = &b->streams[k].cmds[i];
                    unsigned m = 0;
                    for (int j = 0; j < c->nbufs && c->kind == RT_KERNEL; j++)
                        m |= in_weight_region(s, &c->bufs[j]) ? 1u << j : 0;
                    if (c->kind != RT_KERNEL) {
                        m |= in_weight_region(s, &c->src) ? 1u << 8 : 0;
                        m |= in_weight_region(s, &c->dst) ? 1u << 9 : 0;
                    }
                    e->wmask[p * 3 + sc][c->id * 2] = (unsigned char)(m & 0xff);
                    e->wmask[p * 3 + sc][c->id * 2 + 1] = (unsigned char)(m >> 8);
                }
        }
    e->cmdstat = h2c_raw_alloc(sizeof(RtCmdStat) * (size_t)(total + 1));
    if (!e->cmdstat)
        return false;
    memset(e->cmdstat, 0, sizeof(RtCmdStat) * (size_t)(total + 1));
    for (int p = 0; p < 2; p++)
        for (int sc = 0; sc < 3; sc++)
            for (int i = 0; i < s->phase[p].body[sc].ncmds; i++) {
                RtCmdStat *c = &e->cmdstat[e->cmdbase[p * 3 + sc] + i];
                c->phase = p, c->scope = sc, c->id = i;
            }
    e->st.cmds = e->cmdstat;
    e->st.ncmds = total;
    for (int p = 0; p < 2; p++) {
        e->st.ops[p] = h2c_raw_alloc(sizeof(RtOpStat) * (size_t)(s->phase[p].nops + 1));
        if (!e->st.ops[p])
            return false;
        memset(e->st.ops[p], 0, sizeof(RtOpStat) * (size_t)(s->phase[p].nops + 1));
    }
    e->time = rt_time_new(s);
    if (!e->time)
        return false;
    if (e->o->trace && !(e->trace = rt_trace_new(s)))
        return false;
    /* the host's token ids: the given ones, then synthetic ones from the seed */
    e->ntok = s->prompt + e->steps + 1;
    e->tok = h2c_raw_alloc(sizeof(int) * (size_t)e->batch * (size_t)e->ntok);
    e->in_tok = h2c_raw_alloc(sizeof(int32_t) * (size_t)e->batch * (size_t)s->prompt + 4);
    e->in_pos = h2c_raw_alloc(sizeof(int32_t) * (size_t)e->batch * (size_t)s->prompt + 4);
    if (!e->tok || !e->in_tok || !e->in_pos)
        return false;
    for (int b = 0; b < e->batch; b++)
        for (int t = 0; t < e->ntok; t++) {
            int v;
            if (e->o->tokens && t < e->o->ntokens)
                v = e->o->tokens[(size_t)b * (size_t)e->o->ntokens + (size_t)t];
            else
                v = s->vocab > 0 ? (int)(mix(e->o->seed ^ mix((uint64_t)b << 32 | (uint64_t)t)) % (uint64_t)s->vocab) : 0;
            e->tok[(size_t)b * (size_t)e->ntok + (size_t)t] = v;
        }
    /* outputs */
    size_t nsteps = (size_t)e->steps + 1;
    e->logits = h2c_raw_alloc(sizeof(float) * nsteps * (size_t)e->batch * (size_t)(s->vocab > 0 ? s->vocab : 1));
    e->last_hidden = h2c_raw_alloc(sizeof(float) * nsteps * (size_t)e->batch * (size_t)s->hidden);
    e->hidden = h2c_raw_alloc(sizeof(float *) * (size_t)e->layers);
    if (e->hidden)
        memset(e->hidden, 0, sizeof(float *) * (size_t)e->layers);
    if (!e->logits || !e->last_hidden || !e->hidden)
        return false;
    memset(e->logits, 0, sizeof(float) * nsteps * (size_t)e->batch * (size_t)(s->vocab > 0 ? s->vocab : 1));
    if (!e->numerics)
        return true;
    /* the layers' outputs of a step: one buffer each for --check, else one for all (the last is kept) */
    size_t hrows = (size_t)e->batch * (size_t)s->prompt * (size_t)s->hidden;
    for (int l = 0; l < (e->o->check ? e->layers : 1); l++)
        if (!(e->hidden[l] = h2c_raw_alloc(sizeof(float) * hrows)))
            return false;
    for (int l = 1; !e->o->check && l < e->layers; l++)
        e->hidden[l] = e->hidden[0];
    if (e->o->check && s->phase[0].has_attn && s->phase[1].has_attn) {
        if (!(e->attn = h2c_raw_alloc(sizeof(float *) * (size_t)e->layers)))
            return false;
        memset(e->attn, 0, sizeof(float *) * (size_t)e->layers);
        for (int l = 0; l < e->layers; l++)
            if (!(e->attn[l] = h2c_raw_alloc(sizeof(float) * attn_floats(e))))
                return false;
    }
    if (!rt_mem_init(&e->mem, s, e->o->huge_pages, err, sizeof err)) {
        snprintf(e->err, sizeof e->err, "%s", err);
        return false;
    }
    /* the kernels */
    KernelDesc *descs = h2c_raw_alloc(sizeof(KernelDesc) * (size_t)(s->nkernels + 1));
    e->fn = h2c_raw_alloc(sizeof(KernelFn) * (size_t)(s->nkernels + 1));
    if (!descs || !e->fn) {
        if (descs)
            h2c_raw_free(descs, sizeof(KernelDesc) * (size_t)(s->nkernels + 1));
        return false;
    }
    for (int k = 0; k < s->nkernels; k++)
        descs[k] = s->kernels[k].desc;
    KernelOptions ko = {0};
    e->jit = be_jit_compile(descs, s->nkernels, &ko, e->d);
    h2c_raw_free(descs, sizeof(KernelDesc) * (size_t)(s->nkernels + 1));
    if (!e->jit) {
        snprintf(e->err, sizeof e->err, "the kernels do not compile");
        return false;
    }
    for (int k = 0; k < s->nkernels; k++)
        if (!(e->fn[k] = be_jit_lookup(e->jit, &s->kernels[k].desc, e->d))) {
            snprintf(e->err, sizeof e->err, "kernel %s is missing from the JIT", s->kernels[k].name);
            return false;
        }
    /* the weights: the prologue's and epilogue's once, the layers' now or (lazy) per iteration */
    double t0 = now_s();
    if (!rt_fill_weights(s, &e->mem, &e->storedw, 0, 0, true, err, sizeof err)) {
        snprintf(e->err, sizeof e->err, "%s", e->stored.failed ? "out of memory" : err);
        return false;
    }
    for (int l = 0; l < (e->lazy ? 0 : e->layers); l++)
        if (!rt_fill_weights(s, &e->mem, &e->storedw, l, l, false, err, sizeof err)) {
            snprintf(e->err, sizeof e->err, "%s", e->stored.failed ? "out of memory" : err);
            return false;
        }
    e->st.fill_seconds += now_s() - t0;
    if (e->o->check && !(e->check = rt_check_new(s, e->layers, &e->storedw)))
        return false;
    return true;
}

static void teardown(Emu *e) {
    const RtSchedule *s = e->s;
    rt_check_free(e->check);
    rt_trace_free(e->trace);
    rt_time_free(e->time);
    if (e->jit)
        be_jit_free(e->jit);
    if (e->fn)
        h2c_raw_free(e->fn, sizeof(KernelFn) * (size_t)(s->nkernels + 1));
    rt_mem_free(&e->mem);
    rt_stored_weights_free(&e->stored);
    if (e->wmask)
        for (int i = 0; i < 6; i++)
            if (e->wmask[i])
                h2c_raw_free(e->wmask[i], (size_t)s->phase[i / 3].body[i % 3].ncmds * 2 + 2);
    if (e->wmask)
        h2c_raw_free(e->wmask, sizeof(unsigned char *) * 6);
    int total = e->st.ncmds;
    if (e->cmdbase)
        h2c_raw_free(e->cmdbase, sizeof(int) * 6);
    if (e->cmdstat)
        h2c_raw_free(e->cmdstat, sizeof(RtCmdStat) * (size_t)(total + 1));
    for (int p = 0; p < 2; p++)
        if (e->st.ops[p])
            h2c_raw_free(e->st.ops[p], sizeof(RtOpStat) * (size_t)(s->phase[p].nops + 1));
    if (e->tok)
        h2c_raw_free(e->tok, sizeof(int) * (size_t)e->batch * (size_t)e->ntok);
    if (e->in_tok)
        h2c_raw_free(e->in_tok, sizeof(int32_t) * (size_t)e->batch * (size_t)s->prompt + 4);
    if (e->in_pos)
        h2c_raw_free(e->in_pos, sizeof(int32_t) * (size_t)e->batch * (size_t)s->prompt + 4);
    size_t nsteps = (size_t)e->steps + 1;
    if (e->logits)
        h2c_raw_free(e->logits, sizeof(float) * nsteps * (size_t)e->batch * (size_t)(s->vocab > 0 ? s->vocab : 1));
    if (e->last_hidden)
        h2c_raw_free(e->last_hidden, sizeof(float) * nsteps * (size_t)e->batch * (size_t)s->hidden);
    if (e->hidden) {
        for (int l = 0; l < (e->o->check ? e->layers : 1); l++)
            if (e->hidden[l])
                h2c_raw_free(e->hidden[l], sizeof(float) * (size_t)e->batch * (size_t)s->prompt * (size_t)s->hidden);
        h2c_raw_free(e->hidden, sizeof(float *) * (size_t)e->layers);
    }
    if (e->attn) {
        for (int l = 0; l < e->layers; l++)
            if (e->attn[l])
                h2c_raw_free(e->attn[l], sizeof(float) * attn_floats(e));
        h2c_raw_free(e->attn, sizeof(float *) * (size_t)e->layers);
    }
    if (e->iv)
        h2c_raw_free(e->iv, sizeof(struct Iv) * (size_t)e->ivcap);
}

/* ---------------------------------------------------------------- phases and steps */

static bool run_step(Emu *e, int p, int step, Flat *const *flat) {
    const RtSchedule *s = e->s;
    const RtPhase *ph = &s->phase[p];
    int T = ph->tokens, R = ph->rows;
    int64_t ctx = p == 0 ? s->prompt : (int64_t)s->prompt + step + 1;
    /* the step's tokens and positions: prefill row b*T + i is token i; decode row b is token ctx - 1 */
    int *ids = h2c_raw_alloc(sizeof(int) * (size_t)R + 4);
    if (!ids)
        return false;
    for (int b = 0; b < e->batch; b++)
        for (int i = 0; i < T; i++) {
            int pos = (int)(ctx - T + i);
            e->in_tok[b * T + i] = e->tok[(size_t)b * (size_t)e->ntok + (size_t)pos];
            e->in_pos[b * T + i] = pos;
            ids[b * T + i] = e->in_tok[b * T + i];
        }
    e->tok_addr = ph->has_tokens ? ph->in_tokens.addr : -1;
    if (e->numerics) {
        if (ph->has_tokens)
            memcpy(e->mem.npu + ph->in_tokens.addr, e->in_tok, sizeof(int32_t) * (size_t)R);
        if (ph->has_positions)
            memcpy(e->mem.npu + ph->in_positions.addr, e->in_pos, sizeof(int32_t) * (size_t)R);
        if (ph->has_x_in) {
            /* no prologue: the reference's ramp (forward.c) */
            float *x = (float *)(void *)(e->mem.npu + ph->in_x.addr);
            for (size_t k = 0; k < (size_t)R * (size_t)s->hidden; k++)
                x[k] = (float)(0.01 * (double)((k * 2654435761u) % 97) - 0.48);
        }
    }
    bool ok = run_body(e, p, RT_SCHED_PROLOGUE, flat[p * 3 + 0], 0, ctx);
    for (int l = 0; ok && l < e->layers; l++) {
        if (e->lazy && e->numerics && (e->layers > 1 || (p == 0 && step == 0))) {
            char err[400];
            double t0 = now_s();
            if (!rt_fill_weights(s, &e->mem, &e->storedw, 0, l, false, err, sizeof err)) {
                snprintf(e->err, sizeof e->err, "%s", e->stored.failed ? "out of memory" : err);
                ok = false;
                break;
            }
            e->st.fill_seconds += now_s() - t0;
            if (p == 1)
                e->st.fill_seconds_decode += now_s() - t0;
        }
        ok = run_body(e, p, RT_SCHED_LAYER, flat[p * 3 + 1], l, ctx);
        if (ok && e->numerics)
            memcpy(e->hidden[l], e->mem.npu + ph->out_hidden.addr, sizeof(float) * (size_t)R * (size_t)s->hidden);
        if (ok && e->numerics && e->attn)
            memcpy(e->attn[l], e->mem.npu + ph->out_attn.addr, (size_t)ph->out_attn.bytes);
    }
    if (ok)
        ok = run_body(e, p, RT_SCHED_EPILOGUE, flat[p * 3 + 2], 0, ctx);
    if (ok && e->trace && !rt_trace_counter(e->trace, "kv bytes written", rt_time_now(e->time), e->kv_written)) {
        snprintf(e->err, sizeof e->err, "out of memory");
        ok = false;
    }
    int slot = p == 0 ? 0 : step + 1;
    if (ok && e->numerics) {
        if (ph->has_logits)
            memcpy(e->logits + (size_t)slot * (size_t)e->batch * (size_t)s->vocab, e->mem.npu + ph->out_logits.addr,
                   sizeof(float) * (size_t)e->batch * (size_t)s->vocab);
        for (int b = 0; b < e->batch; b++)
            memcpy(e->last_hidden + ((size_t)slot * (size_t)e->batch + (size_t)b) * (size_t)s->hidden,
                   e->hidden[e->layers - 1] + ((size_t)b * (size_t)T + (size_t)T - 1) * (size_t)s->hidden,
                   sizeof(float) * (size_t)s->hidden);
    }
    if (ok && e->check) {
        double t0 = now_s();
        char err[300];
        ok = rt_check_step(e->check, ids, T, e->hidden, e->attn,
                           ph->has_logits ? e->logits + (size_t)slot * (size_t)e->batch * (size_t)s->vocab : NULL, err,
                           sizeof err);
        if (!ok)
            snprintf(e->err, sizeof e->err, "the reference: %s", err);
        e->st.check_seconds += now_s() - t0;
    }
    h2c_raw_free(ids, sizeof(int) * (size_t)R + 4);
    return ok;
}

/* STREAM's triad a = b + 3c over three arrays of doubles (192 MiB), one thread: the host's memory
 * bandwidth in the same run, GB/s (24 bytes an element), the best of five. */
static double triad(void) {
    size_t n = (size_t)8 << 20;
    double *a = h2c_raw_alloc(sizeof(double) * n * 3);
    if (!a)
        return 0;
    double *b = a + n, *c = b + n, best = 0;
    for (size_t i = 0; i < n; i++)
        a[i] = 0, b[i] = 1, c[i] = 2;
    for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 3 * c[i];
        double dt = now_s() - t0, gbs = 24.0 * (double)n / dt / 1e9;
        best = gbs > best && a[r] == 7 ? gbs : best;
    }
    h2c_raw_free(a, sizeof(double) * n * 3);
    return best;
}

static bool write_npy(Emu *e, const char *path, const float *data, int64_t d0, int64_t d1, int64_t d2) {
    int64_t dims[3] = {d0, d1, d2};
    return npy_write_file(e->d, path, NPY_F32, 3, dims, data);
}

bool rt_run(const RtSchedule *s, const RtRunOptions *o, FILE *out, Diag *d) {
    Emu e;
    memset(&e, 0, sizeof e);
    e.s = s, e.o = o, e.d = d;
    e.layers = o->layers > 0 && o->layers < s->layers ? o->layers : s->layers;
    e.steps = o->steps >= 0 ? o->steps : s->generate;
    if ((int64_t)s->prompt + e.steps > s->max_seq) {
        diag_error(d, NOLOC, "%d decode steps after a %d-token prompt pass the %d tokens the schedule holds (max_seq)",
                   e.steps, s->prompt, s->max_seq);
        return false;
    }
    e.batch = s->batch;
    e.numerics = o->numerics;
    if (!s->graph && (o->check || o->numerics)) {
        diag_error(d, NOLOC, "the schedule has no graph");
        return false;
    }
    if (o->numerics && (o->dump_logits || o->check) && !s->phase[0].has_logits && o->dump_logits) {
        diag_error(d, NOLOC, "--dump-logits: the model has no LM head (no epilogue)");
        return false;
    }
    int64_t lazy_at = o->lazy_bytes == 0 ? (int64_t)1 << 30 : o->lazy_bytes;
    e.lazy = o->numerics && o->lazy_bytes >= 0 && rt_weight_bytes(s, true) / s->layers * e.layers > lazy_at;
    e.synth = (RtSynthWeights){s, o->seed};
    e.src = o->weights ? *o->weights : rt_synth_weights(&e.synth);
    e.stored = (RtStoredWeights){s, e.src, NULL, 0, false};
    e.storedw = rt_stored_weights(&e.stored);
    e.st.layers = e.layers, e.st.steps = e.steps, e.st.batch = e.batch, e.st.lazy = e.lazy;
    double t_start = now_s();
    bool ok = setup(&e);
    Flat *flat[6] = {0};
    for (int i = 0; ok && i < 6; i++)
        ok = (flat[i] = flatten(&e, &s->phase[i / 3].body[i % 3])) != NULL;
    if (!ok && !e.err[0])
        snprintf(e.err, sizeof e.err, "out of memory");
    double t_dec0 = 0, k_dec0 = 0, m_dec0 = 0, last_progress = t_start;
    for (int p = 0; ok && p < 2; p++) {
        const RtPhase *ph = &s->phase[p];
        if (e.numerics)
            for (int k = 0; k < ph->nconsts; k++) {
                const RtConst *c = &ph->consts[k];
                unsigned char *b = e.mem.npu + c->ref.addr;
                for (int64_t i = 0; i < c->ref.bytes / 4; i++) {
                    if (c->iota) {
                        int32_t v = (int32_t)i;
                        memcpy(b + 4 * i, &v, 4);
                    } else {
                        float f = (float)c->fill;
                        memcpy(b + 4 * i, &f, 4);
                    }
                }
            }
        double t0 = rt_time_now(e.time);
        if (p == 1) {
            t_dec0 = now_s();
            k_dec0 = e.t_kernels;
            m_dec0 = e.t_moves;
        }
        int nsteps = p == 0 ? 1 : e.steps;
        for (int step = 0; ok && step < nsteps; step++) {
            ok = run_step(&e, p, step, flat);
            double nw = now_s();
            if (o->progress && nw - last_progress > 1) {
                fprintf(stderr, "\rh2c run: %s step %d/%d, %.1f s", rt_phase_names[p], step + 1, nsteps, nw - t_start);
                last_progress = nw;
            }
        }
        double dt = rt_time_now(e.time) - t0;
        for (int k = 0; k < RT_ENERGY_COUNT; k++)
            e.st.energy[p][k] = rt_time_energy(e.time, k) - (p ? e.st.energy[0][k] : 0);
        if (p == 0)
            e.st.prefill_time = dt;
        else
            e.st.decode_time = dt;
    }
    if (o->progress && now_s() - t_start > 1)
        fprintf(stderr, "\n");
    e.st.host_seconds = now_s() - t_start;
    e.st.host_seconds_decode = now_s() - t_dec0;
    e.st.kernel_seconds = e.t_kernels;
    e.st.kernel_seconds_decode = e.t_kernels - k_dec0;
    e.st.move_seconds_decode = e.t_moves - m_dec0;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        e.st.peak_rss_kb = ru.ru_maxrss;
    if (ok && o->bench)
        e.st.triad_gbs = triad();
    if (!ok)
        diag_error(d, NOLOC, "%s", e.err[0] ? e.err : "out of memory");
    if (ok && !o->quiet && !rt_report(out, s, e.time, &e.st)) {
        diag_error(d, NOLOC, "out of memory");
        ok = false;
    }
    if (ok && e.check) {
        double worst = 0;
        ok = rt_check_report(e.check, o->quiet ? NULL : out, o->tolerance > 0 ? o->tolerance : RT_CHECK_TOL, d, &worst);
    }
    /* the files last: a failed run (or check) writes none */
    if (ok && o->numerics && o->dump_logits && s->phase[0].has_logits)
        ok = write_npy(&e, o->dump_logits, e.logits, e.steps + 1, e.batch, s->vocab);
    if (ok && o->numerics && o->dump_hidden)
        ok = write_npy(&e, o->dump_hidden, e.last_hidden, e.steps + 1, e.batch, s->hidden);
    if (ok && e.trace)
        ok = rt_trace_write(e.trace, e.time, o->trace, d);
    for (int i = 0; i < 6; i++)
        if (flat[i])
            h2c_raw_free(flat[i], sizeof(Flat) * (size_t)(s->phase[i / 3].body[i % 3].ncmds + 1));
    teardown(&e);
    return ok;
}

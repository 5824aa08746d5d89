/* emu_time.c: time and energy of an emulated run (runtime.h), apart from the numerics. Every unit
 * (the NPU, each PE) and every link (each channel's link, each bank's hybrid bond, each NMP
 * channel's transfer link) is a resource with its own rate from the device. A command holds its
 * unit or link (a PE kernel also the bonds of the banks it reads) for what it really does at this
 * context: the bytes it moves (the KV and table rows really on this channel), its MACs, the NPU's
 * vector operations as docs/schedule.md §4.3 counts them. It starts when its resources are free,
 * every command it depends on has ended and its body has begun; a body begins when the previous one
 * has ended. Energy per component from the device's table, charged as docs/cost-models.md §3 does.
 * Nothing here reads the data: --numerics off gives the same times. */
#include "runtime.h"

#include <string.h>

enum { E_NPU_MAC, E_PE_MAC, E_SRAM, E_HB, E_CH, E_DRAM_READ, E_ON_DIE };

struct RtTime {
    const RtSchedule *s;
    int nres;
    double *free_at, *busy;     /* per resource */
    double *dep_end;            /* per command id of the current body */
    int dep_cap;
    double body_start, body_end, now;
    double energy[RT_ENERGY_COUNT];
    double F_npu, F_vec, B_ch, B_x, B_hb;
    RtTimeCmd cur;
};

RtTime *rt_time_new(const RtSchedule *s) {
    RtTime *t = h2c_raw_alloc(sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->s = s;
    t->nres = s->dev.nunits + s->dev.nlinks;
    int maxc = 1;
    for (int p = 0; p < 2; p++)
        for (int b = 0; b < RT_SCHED_SCOPE_COUNT_; b++)
            maxc = s->phase[p].body[b].ncmds > maxc ? s->phase[p].body[b].ncmds : maxc;
    t->dep_cap = maxc;
    t->free_at = h2c_raw_alloc(sizeof(double) * (size_t)t->nres);
    t->busy = h2c_raw_alloc(sizeof(double) * (size_t)t->nres);
    t->dep_end = h2c_raw_alloc(sizeof(double) * (size_t)maxc);
    if (!t->free_at || !t->busy || !t->dep_end) {
        rt_time_free(t);
        return NULL;
    }
    memset(t->free_at, 0, sizeof(double) * (size_t)t->nres);
    memset(t->busy, 0, sizeof(double) * (size_t)t->nres);
    const RtDevice *dv = &s->dev;
    t->F_npu = dv->npu_throughput * dv->npu_utilization;
    t->F_vec = dv->npu_throughput / 128;
    t->B_ch = dv->channel_bandwidth * dv->channel_utilization;
    t->B_x = dv->transfer_bandwidth;
    t->B_hb = dv->pe_bandwidth;
    return t;
}

void rt_time_free(RtTime *t) {
    if (!t)
        return;
    if (t->free_at)
        h2c_raw_free(t->free_at, sizeof(double) * (size_t)t->nres);
    if (t->busy)
        h2c_raw_free(t->busy, sizeof(double) * (size_t)t->nres);
    if (t->dep_end)
        h2c_raw_free(t->dep_end, sizeof(double) * (size_t)t->dep_cap);
    h2c_raw_free(t, sizeof *t);
}

void rt_time_body(RtTime *t, const RtBody *b) {
    t->body_start = t->body_end = t->now;
    for (int i = 0; i < b->ncmds && i < t->dep_cap; i++)
        t->dep_end[i] = t->now;
}

double rt_time_now(const RtTime *t) { return t->body_end > t->now ? t->body_end : t->now; }
double rt_time_busy(const RtTime *t, int r) { return t->busy[r]; }
int rt_time_resources(const RtTime *t) { return t->nres; }
double rt_time_energy(const RtTime *t, int c) { return t->energy[c]; }

const char *rt_time_resource_name(const RtTime *t, int r, char *buf, size_t n) {
    const RtDevice *dv = &t->s->dev;
    if (r < dv->nunits) {
        const RtUnit *u = &dv->units[r];
        switch (u->kind) {
        case RT_UNIT_NPU: snprintf(buf, n, "npu"); break;
        case RT_UNIT_CHANNEL: snprintf(buf, n, "ch%d", u->channel); break;
        case RT_UNIT_BANK: snprintf(buf, n, "ch%d.b%d", u->channel, u->bank); break;
        case RT_UNIT_PE: snprintf(buf, n, "pe ch%d.%d", u->channel, u->pe); break;
        }
        return buf;
    }
    const RtLink *l = &dv->links[r - dv->nunits];
    switch (l->kind) {
    case RT_LINK_CHANNEL: snprintf(buf, n, "link ch%d", l->channel); break;
    case RT_LINK_HB: snprintf(buf, n, "hb ch%d.b%d", l->channel, l->bank); break;
    case RT_LINK_XFER: snprintf(buf, n, "xfer ch%d", l->channel); break;
    }
    return buf;
}

/* Energy e pJ per unit of `amount` into component c of the current command. */
static void charge(RtTime *t, int c, double amount) {
    t->cur.energy[c] += amount * t->s->dev.energy[c].value * 1e-12;
}

static void hold(RtTime *t, int r) {
    for (int i = 0; i < t->cur.nres; i++)
        if (t->cur.res[i] == r)
            return;
    if (t->cur.nres < (int)(sizeof t->cur.res / sizeof t->cur.res[0]))
        t->cur.res[t->cur.nres++] = r;
}

/* The hybrid bond of a bank, as a resource (only NMP channels' banks have one). */
static int hb_resource(const RtTime *t, int channel, int bank) {
    const RtDevice *dv = &t->s->dev;
    return dv->nunits + dv->channels + channel * dv->banks + bank;
}

/* Keys a causal attention call sees: M query rows, the last M positions of the context, over keys
 * [lo, hi); row i at position ctx - M + i sees keys up to its position (and, with a window W, from
 * its position - W + 1 on); an interleaved tile (n ways) only the keys t = lo mod n of those. */
static double attn_keys(const KernelDesc *k, int64_t M, int64_t lo, int64_t hi, int64_t ctx) {
    double keys = 0;
    int64_t n = k->attn.page ? 1 : be_attn_interleave(k), j = lo % n;
    for (int64_t i = 0; i < M; i++) {
        int64_t top = hi, from = lo, pos = ctx - M + i;
        if (k->attn.causal && pos + 1 < top)
            top = pos + 1;
        if (k->attn.window > 0 && pos - k->attn.window + 1 > from)
            from = pos - k->attn.window + 1;
        int64_t r0 = (from - j + n - 1) / n, r1 = top > j ? (top - j + n - 1) / n : 0;
        if (r1 > r0)
            keys += (double)(r1 - r0);
    }
    return keys;
}

/* Duration of a kernel call; charges its energy and holds its bonds. */
static double kernel_time(RtTime *t, const RtStream *st, const RtCmd *c, int64_t ctx) {
    const RtSchedule *s = t->s;
    const KernelDesc *k = &s->kernels[c->kernel].desc;
    const RtUnit *u = &s->dev.units[st->id];
    bool pe = u->kind == RT_UNIT_PE;
    double reps = (double)c->repeat;
    int64_t a[KERNEL_MAX_ARGS] = {0};
    for (int i = 0; i < c->nargs; i++)
        a[i] = rt_expr_eval(c->args[i], ctx);
    double macs = 0, vec = 0, bank_bytes = 0, sram_bytes = 0;
    switch (k->kind) {
    case KK_GEMM: {
        double M = k->gemm.m ? k->gemm.m : (double)a[0];
        macs = M * k->gemm.k * k->gemm.n;
        double wb = (double)k->gemm.n * (double)(be_gemm_row_bytes(k) + be_gemm_scale_row_bytes(k) + (k->gemm.bias ? 4 : 0));
        if (pe)
            bank_bytes = wb;
        sram_bytes = wb + M * (k->gemm.k + k->gemm.n) * 4;
        break;
    }
    case KK_ATTN: {
        double keys = attn_keys(k, a[0], a[1], a[2], ctx);
        int es = k->attn.kv == KD_F32 ? 4 : 2;
        macs = keys * k->attn.g * k->attn.head_dim * 2;
        vec = keys * k->attn.g * 5;
        if (pe) {
            /* a PE's bank read per key: K and V rows (scores on its FPUs) */
            bank_bytes = (keys / (double)(a[0] > 0 ? a[0] : 1)) * 2 * k->attn.head_dim * es;
            vec = 0;
        }
        sram_bytes = keys * 2 * k->attn.head_dim * es;
        break;
    }
    case KK_MERGE: vec = (double)a[0] * (double)a[1] * (k->merge.head_dim + 2) * 3; break;
    case KK_SOFTMAX: vec = (double)a[0] * k->row.n * 5; break;
    case KK_RMSNORM:
    case KK_LAYERNORM:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU: vec = (double)a[0] * k->row.n * 4; break;
    case KK_ADD:
    case KK_MUL: vec = (double)a[0] * k->row.n; break;
    case KK_ROPE: vec = (double)a[0] * k->rope.heads * k->rope.head_dim * 4; break;
    case KK_EMBED: vec = (double)a[0] * k->embed.hidden; break;
    default: break;         /* page score and metadata: not timed yet */
    }
    macs *= reps, vec *= reps, bank_bytes *= reps, sram_bytes *= reps;
    t->cur.macs = macs;
    t->cur.bytes = bank_bytes;
    if (pe) {
        for (int i = 0; i < c->nbufs; i++)
            if (!c->bufs[i].null && c->bufs[i].at == RT_AT_BANK)
                hold(t, hb_resource(t, c->bufs[i].channel, c->bufs[i].bank));
        charge(t, E_PE_MAC, macs);
        charge(t, E_DRAM_READ, bank_bytes * 8);
        charge(t, E_HB, bank_bytes * 8);
        double tc = macs / u->rate, tb = bank_bytes / t->B_hb;
        return tc > tb ? tc : tb;
    }
    charge(t, E_NPU_MAC, macs + vec);
    charge(t, E_SRAM, (sram_bytes + (vec > 0 ? 2 * vec : 0)) * 8);
    return macs / t->F_npu + vec / t->F_vec;
}

const RtTimeCmd *rt_time_cmd(RtTime *t, const RtStream *st, const RtCmd *c, int64_t ctx, int64_t bytes_here) {
    const RtDevice *dv = &t->s->dev;
    memset(&t->cur, 0, sizeof t->cur);
    int own = st->link ? dv->nunits + st->id : st->id;
    hold(t, own);
    bool nmp_side = st->link ? dv->links[st->id].kind != RT_LINK_CHANNEL : dv->units[st->id].kind == RT_UNIT_PE;
    t->cur.side = nmp_side ? RT_SIDE_NMP : RT_SIDE_NPU;
    double moved = (double)c->rows * (double)c->row_bytes * (double)c->repeat, dur = 0;
    switch (c->kind) {
    case RT_LOAD:
        dur = moved / t->B_ch;
        t->cur.bytes = moved;
        charge(t, E_DRAM_READ, moved * 8), charge(t, E_ON_DIE, moved * 8), charge(t, E_CH, moved * 8);
        charge(t, E_SRAM, moved * 8);
        break;
    case RT_STORE:
        dur = moved / t->B_ch;
        t->cur.bytes = moved;
        charge(t, E_DRAM_READ, moved * 8), charge(t, E_ON_DIE, moved * 8), charge(t, E_CH, moved * 8);
        break;
    case RT_COPY:
        dur = moved / 4 / t->F_vec;
        t->cur.bytes = moved;
        charge(t, E_SRAM, 2 * moved * 8);
        break;
    case RT_TRANSFER:
        dur = moved / t->B_x;
        t->cur.bytes = moved;
        charge(t, E_CH, moved * 8);
        break;
    case RT_KV_APPEND:
        dur = (double)bytes_here / t->B_ch;
        t->cur.bytes = (double)bytes_here;
        charge(t, E_DRAM_READ, t->cur.bytes * 8), charge(t, E_ON_DIE, t->cur.bytes * 8), charge(t, E_CH, t->cur.bytes * 8);
        break;
    case RT_KV_LOAD:
    case RT_GATHER:
        dur = (double)bytes_here / t->B_ch;
        t->cur.bytes = (double)bytes_here;
        charge(t, E_DRAM_READ, t->cur.bytes * 8), charge(t, E_ON_DIE, t->cur.bytes * 8), charge(t, E_CH, t->cur.bytes * 8);
        charge(t, E_SRAM, t->cur.bytes * 8);
        break;
    case RT_KERNEL: dur = kernel_time(t, st, c, ctx); break;
    default: break;
    }
    double start = t->body_start;
    for (int i = 0; i < t->cur.nres; i++)
        start = t->free_at[t->cur.res[i]] > start ? t->free_at[t->cur.res[i]] : start;
    for (int i = 0; i < c->ndeps; i++)
        start = t->dep_end[c->deps[i]] > start ? t->dep_end[c->deps[i]] : start;
    t->cur.start = start;
    t->cur.end = start + dur;
    for (int i = 0; i < t->cur.nres; i++) {
        t->free_at[t->cur.res[i]] = t->cur.end;
        t->busy[t->cur.res[i]] += dur;
    }
    if (c->id < t->dep_cap)
        t->dep_end[c->id] = t->cur.end;
    if (t->cur.end > t->body_end)
        t->body_end = t->cur.end;
    for (int e = 0; e < RT_ENERGY_COUNT; e++)
        t->energy[e] += t->cur.energy[e];
    t->now = t->body_end;
    return &t->cur;
}

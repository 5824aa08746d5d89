/* cost_h2c.c: h2c's own cost model (docs/cost-models.md, "The h2c model"). Differences from the
 * artifact's: a problem's ops run `layers` times (the layer graph) or once (the prologue and
 * epilogue: embedding, final norm, LM head); decode summed step by step as the KV cache grows; the
 * NPU reads each part of an op from the channels that hold that part, overlapping traffic with
 * compute; output activations, NPU<->NMP transfers, KV write-back and SRAM spill are counted;
 * prefill attention is one fused causal kernel unless the model asks for the unfused form; non-GEMM
 * ops cost vector time; and energy comes from the device's energy table.
 * Every time below is, as a function of the context, a maximum of affine functions plus affine
 * terms: convex and piecewise linear. sum_ctx() sums such a function over all decode steps exactly,
 * by splitting the context range where it stops being linear. */
#include "cost.h"

#include <math.h>
#include <string.h>

typedef struct Dev {
    double npu;         /* MAC/s, derated */
    double vec;         /* element ops/s of the NPU's vector unit (npu.throughput / 128) */
    double sram;        /* bytes */
    double ch_bw;       /* bytes/s per channel to the NPU, derated */
    double pe_rate;     /* MAC/s of one NMP channel's PEs */
    double pe_bw;       /* bytes/s from one NMP channel's banks to its PEs */
    double xfer;        /* bytes/s of one NPU<->NMP transfer link */
    /* energies in pJ */
    double e_npu_mac, e_pe_mac, e_sram_bit, e_npu_bit, e_pe_bit, e_xfer_bit, e_write_bit;
    const EnergyEntry *e;   /* the device's table, for the breakdown by entry */
} Dev;

static Dev dev_of(const DfProblem *p) {
    const Hardware *hw = &p->hw;
    Dev d;
    double pes = hw->banks_per_channel / hw->pe_banks;
    d.npu = hw->npu_throughput * hw->npu_utilization;
    d.vec = hw->npu_throughput / 128.0;
    d.sram = hw->npu_sram;
    d.ch_bw = hw->channel_bandwidth * hw->channel_utilization;
    d.pe_rate = hw->pe_fpus * hw->pe_simd * hw->pe_frequency * pes;
    d.pe_bw = hw->pe_bandwidth * pes;
    d.xfer = hw->nmp_transfer_bandwidth;
    const EnergyEntry *e = hw->energy;
    d.e_npu_mac = e[EF_npu_mac].value;
    d.e_pe_mac = energy_pe_mac(hw, hw->pe_frequency);
    d.e_sram_bit = e[EF_sram_access].value;
    d.e_npu_bit = e[EF_dram_read].value + e[EF_dram_on_die].value + e[EF_channel_io].value;
    d.e_pe_bit = e[EF_dram_read].value + e[EF_hb_io].value;
    d.e_xfer_bit = e[EF_channel_io].value;
    d.e_write_bit = e[EF_channel_io].value + e[EF_dram_on_die].value + e[EF_dram_read].value;
    d.e = e;
    return d;
}

/* The op's GEMM at a context (decode) or in prefill. */
static Gemm gemm_at(const DfOp *o, bool prefill, double ctx) {
    Gemm g = prefill ? o->pre : o->dec;
    if (o->window > 0 && ctx > o->window)
        ctx = o->window;    /* a sliding window reads its last `window` tokens */
    if (!prefill && o->ctx_dim == 2)
        g.N = ctx;
    else if (!prefill && o->ctx_dim == 3)
        g.K = ctx;
    return g;
}

static double vector_ops(OpCode c) {
    switch (c) {
    case OP_SOFTMAX: return 5;      /* max, subtract, exp, sum, divide */
    case OP_NORM: return 4;         /* square, sum, rsqrt, scale */
    case OP_ACTIVATION: return 4;   /* silu: exp, add, divide, multiply */
    case OP_ROPE: return 4;         /* two products and a sum per element, and its angle's sine or cosine */
    default: return 1;              /* add, mul */
    }
}

/* How an op is mapped: c NMP channels and nx normal channels hold it; f is the NMP share (of the
 * split dimension: fc columns, attention KV-head x batch pairs); exec says who computes; spread: the
 * rest is striped over every channel instead of the normal ones only. */
typedef struct Mapping {
    int c, nx;
    double f;
    DfExec exec;
    bool spread;
} Mapping;

typedef struct Part {
    double npu, nmp;    /* seconds on each side */
    double energy;      /* joules */
} Part;

/* What a report wants besides time (NULL where only time and total energy matter): the bytes moved
 * (DRAM reads and writes, SRAM spill, NPU<->NMP transfers) and the energy by table entry, in pJ. The
 * entries sum to Part.energy (up to rounding: the total keeps its own order of operations). */
typedef struct Detail {
    double bytes;
    double pj[EF_COUNT_];
} Detail;

/* Bits over the channel path to the NPU (a read, a spill, a KV write): the DRAM array, the die's
 * internal path to its I/O, and the channel interface. */
static void bill_channel(Detail *dt, const Dev *d, double bytes) {
    dt->bytes += bytes;
    dt->pj[EF_dram_read] += bytes * 8 * d->e[EF_dram_read].value;
    dt->pj[EF_dram_on_die] += bytes * 8 * d->e[EF_dram_on_die].value;
    dt->pj[EF_channel_io] += bytes * 8 * d->e[EF_channel_io].value;
}

/* Bits from a bank to its PE: the DRAM array and the hybrid bond. */
static void bill_bond(Detail *dt, const Dev *d, double bytes) {
    dt->bytes += bytes;
    dt->pj[EF_dram_read] += bytes * 8 * d->e[EF_dram_read].value;
    dt->pj[EF_hb_io] += bytes * 8 * d->e[EF_hb_io].value;
}

/* Bytes of an operand on the NMP channels and on the normal ones, per the mapping's storage. */
static void storage_split(const Mapping *mp, double bytes, double *on_nmp, double *on_normal) {
    double rest = bytes * (1 - mp->f);
    *on_nmp = bytes * mp->f;
    *on_normal = rest;
    if (mp->spread && mp->c + mp->nx > 0) {
        *on_nmp += rest * mp->c / (double)(mp->c + mp->nx);
        *on_normal = rest * mp->nx / (double)(mp->c + mp->nx);
    }
}

/* Time for the NPU to stream bytes held as (on_nmp over c channels, on_normal over nx channels):
 * the channels stream in parallel, so the most loaded one decides. */
static double read_time(const Dev *d, const Mapping *mp, double on_nmp, double on_normal) {
    double t = 0;
    if (on_nmp > 0)
        t = mp->c > 0 ? on_nmp / (mp->c * d->ch_bw) : INFINITY;
    if (on_normal > 0) {
        double t2 = mp->nx > 0 ? on_normal / (mp->nx * d->ch_bw) : INFINITY;
        t = t2 > t ? t2 : t;
    }
    return t;
}

/* The share of a prefill score matrix under the causal mask: query i of s sees i + 1 keys, or, with
 * a sliding window of w, min(i + 1, w). */
static double causal_share(const DfProblem *p, int w) {
    double s = p->prompt;
    if (w <= 0 || w >= p->prompt)
        return (s + 1) / (2.0 * s);
    double seen = (double)w * (w + 1) / 2.0 + (s - w) * w;
    return seen / (s * s);
}

/* Prefill attention as one fused kernel (flash-style) on the NPU, priced on its score op: the
 * scores and probabilities stay on chip, the causal mask skips the upper triangle, and the MACs of
 * both products, the softmax on the vector unit and the traffic (Q in, K and V read once, O out,
 * the prompt's KV written) overlap, so the slowest decides. The softmax and value ops then cost
 * only their energy. */
static Part fused_attention(const DfProblem *p, const Dev *d, const DfOp *score, const Mapping *mp, Detail *dt) {
    Part r = {0, 0, 0};
    const DfOp *value = &p->ops[score->fused], *sm = NULL;
    for (int i = 0; i < p->nops; i++)
        if (p->ops[i].code == OP_SOFTMAX && p->ops[i].fused == value->fused && &p->ops[i] != value &&
            &p->ops[i] != score)
            sm = &p->ops[i];
    double es = p->es, share = causal_share(p, score->window);
    Gemm a = score->pre, b = value->pre;
    double macs = (a.B * a.M * a.N * a.K + b.B * b.M * b.N * b.K) * share;
    double elems = a.B * a.M * a.N * share;
    double vec = sm ? elems * vector_ops(OP_SOFTMAX) : 0;
    double q = a.B * a.M * a.K * es, o = b.B * b.M * b.N * es;
    double kv = (a.B * a.K * a.N + b.B * b.N * b.K) * es;       /* the K and V of the prompt */
    double kv_write = 2.0 * p->prompt * p->batch * p->kv_heads * p->head_dim * es;
    /* Q and O stream through DRAM when they do not fit on chip beside a head's K and V */
    double act = q + o > d->sram ? q + o : 0;
    double all_ch = (double)(p->nmp + p->normal) * d->ch_bw;
    double on_nmp, on_normal;
    storage_split(mp, kv, &on_nmp, &on_normal);
    double t_mem = read_time(d, mp, on_nmp, on_normal) + (act + kv_write) / all_ch;
    double t_mac = macs / d->npu, t_vec = vec / d->vec;
    r.npu = t_mac > t_vec ? t_mac : t_vec;
    r.npu = r.npu > t_mem ? r.npu : t_mem;
    r.energy = (macs * d->e_npu_mac + vec * d->e_npu_mac + (kv + act) * 8 * d->e_npu_bit +
                (q + o + kv + 2 * elems * es) * 8 * d->e_sram_bit + kv_write * 8 * d->e_write_bit) *
               1e-12;
    if (dt) {
        dt->pj[EF_npu_mac] += (macs + vec) * d->e_npu_mac;
        dt->pj[EF_sram_access] += (q + o + kv + 2 * elems * es) * 8 * d->e_sram_bit;
        bill_channel(dt, d, kv + act + kv_write);
    }
    return r;
}

/* Time and energy of one op, one layer, one step (prefill: the whole prompt at once). */
static Part op_step(const DfProblem *p, const Dev *d, const DfOp *o, bool prefill, double ctx, const Mapping *mp,
                    Detail *dt) {
    Part r = {0, 0, 0};
    if (!prefill && o->in_attn)
        return r;   /* a score op or softmax inside an attention plan: priced with its value op */
    if (!prefill && o->attn) {
        /* decode attention as its plan says, every layer at once, given per layer */
        AttnLayerCost all;
        attn_cost_all(o->attn, ctx, &all);
        double L = p->layers > 0 ? p->layers : 1;
        double t = all.time / L;
        if (attn_cost_uses_pes(o->attn))
            r.nmp = t;
        else
            r.npu = t;
        double pj = 0;
        for (int k = 0; k < EF_COUNT_; k++)
            pj += all.pj[k];
        r.energy = pj / L * 1e-12;
        if (dt) {
            dt->bytes += all.bytes / L;
            for (int k = 0; k < EF_COUNT_; k++)
                dt->pj[k] += all.pj[k] / L;
        }
        return r;
    }
    Gemm g = gemm_at(o, prefill, ctx);
    double es = p->es;
    if (prefill && o->fused >= 0 && p->attention == ATTN_FUSED) {
        if (o->code == OP_ATTN_SCORE)
            return fused_attention(p, d, o, mp, dt);
        return r;   /* the softmax and value ops ran inside the score op's kernel */
    }
    if (o->code == OP_EMBEDDING) {
        /* a lookup: the NPU gathers one row per token from wherever the table is stored */
        double bytes = g.M * g.N * es;
        r.npu = bytes / ((double)(p->nmp + p->normal) * d->ch_bw);
        r.energy = bytes * 8 * (d->e_npu_bit + d->e_sram_bit) * 1e-12;
        if (dt) {
            dt->pj[EF_sram_access] += bytes * 8 * d->e_sram_bit;
            bill_channel(dt, d, bytes);
        }
        return r;
    }
    if (o->kind == DFK_OTHER) {
        double elems = g.B * g.M * g.N;
        double ops = elems * vector_ops(o->code);
        r.npu = ops / d->vec;
        r.energy = (ops * d->e_npu_mac + 2 * elems * es * 8 * d->e_sram_bit) * 1e-12;
        if (dt) {
            dt->pj[EF_npu_mac] += ops * d->e_npu_mac;
            dt->pj[EF_sram_access] += 2 * elems * es * 8 * d->e_sram_bit;
        }
        return r;
    }
    double macs = g.B * g.M * g.N * g.K;
    double operand = g.B * g.K * g.N * es;     /* weights, or the KV the op reads */
    double in = g.B * g.M * g.K * es, out = g.B * g.M * g.N * es;
    /* the KV written this step (prompt tokens in prefill, one token in decode), where the KV lives */
    double kv_write = 0;
    if (o->kind == DFK_ATTN) {
        double tokens = prefill ? p->prompt : 1;
        kv_write = tokens * p->batch * p->kv_heads * p->head_dim * es;
    }
    /* activations beyond the NPU's SRAM spill to DRAM and come back */
    double spill = in + out > d->sram ? (in + out - d->sram) : 0;
    double all_ch = (double)(p->nmp + p->normal) * d->ch_bw;
    DfExec ex = mp->exec;
    if (prefill || ex == DF_EXEC_NPU) {
        /* everything on the NPU, streaming each part from the channels that hold it */
        double a, b;
        storage_split(mp, operand, &a, &b);
        double wa, wb;
        storage_split(mp, kv_write, &wa, &wb);
        /* DMA overlaps compute: the operand, the spilled activations and the KV written share the
           channels, and the slower of that traffic and the MACs decides */
        double t_mac = macs / d->npu, t_mem = read_time(d, mp, a, b) + spill / all_ch + read_time(d, mp, wa, wb);
        r.npu = t_mac > t_mem ? t_mac : t_mem;
        r.energy = (macs * d->e_npu_mac + operand * 8 * d->e_npu_bit + (operand + in + out) * 8 * d->e_sram_bit +
                    spill * 8 * d->e_npu_bit + kv_write * 8 * d->e_write_bit) * 1e-12;
        if (dt) {
            dt->pj[EF_npu_mac] += macs * d->e_npu_mac;
            dt->pj[EF_sram_access] += (operand + in + out) * 8 * d->e_sram_bit;
            bill_channel(dt, d, operand + spill + kv_write);
        }
        return r;
    }
    double f = ex == DF_EXEC_NMP ? 1 : mp->f;
    int c = mp->c;
    if (f > 0 && c > 0) {
        /* the NMP share on the PEs of c channels: inputs in, compute from the banks, outputs out */
        double m = macs * f, b = operand * f;
        double t_c = m / (c * d->pe_rate);
        double t_b = b / (c * d->pe_bw);
        double xin = o->kind == DFK_FC ? in / d->xfer : in * f / (c * d->xfer); /* fc: every channel needs all of x */
        double xout = out * f / (c * d->xfer);
        double xkv = kv_write * f / (c * d->xfer);
        r.nmp = xin + (t_c > t_b ? t_c : t_b) + xout + xkv;
        double xbytes = (o->kind == DFK_FC ? in * c : in * f) + out * f + kv_write * f;
        r.energy += (m * d->e_pe_mac + b * 8 * d->e_pe_bit + xbytes * 8 * d->e_xfer_bit +
                     kv_write * f * 8 * d->e_pe_bit) * 1e-12;
        if (dt) {
            dt->pj[EF_pe_mac] += m * d->e_pe_mac;
            bill_bond(dt, d, b + kv_write * f);
            dt->bytes += xbytes;
            dt->pj[EF_channel_io] += xbytes * 8 * d->e_xfer_bit;
        }
    }
    if (f < 1) {
        /* the rest on the NPU, read from the normal channels (or every channel when spread) */
        Mapping rest = *mp;
        rest.f = 0;
        double m = macs * (1 - f), b = operand * (1 - f), kvw = kv_write * (1 - f);
        double a1, b1, a2, b2;
        storage_split(&rest, b, &a1, &b1);
        storage_split(&rest, kvw, &a2, &b2);
        if (!mp->spread) {
            /* the NPU share lives on the normal channels only */
            a1 = a2 = 0;
            b1 = b;
            b2 = kvw;
        }
        double t_mac = m / d->npu, t_mem = read_time(d, mp, a1, b1) + spill / all_ch + read_time(d, mp, a2, b2);
        r.npu = t_mac > t_mem ? t_mac : t_mem;
        r.energy += (m * d->e_npu_mac + b * 8 * d->e_npu_bit + (b + in + out) * 8 * d->e_sram_bit +
                     spill * 8 * d->e_npu_bit + kvw * 8 * d->e_write_bit) * 1e-12;
        if (dt) {
            dt->pj[EF_npu_mac] += m * d->e_npu_mac;
            dt->pj[EF_sram_access] += (b + in + out) * 8 * d->e_sram_bit;
            bill_channel(dt, d, b + spill + kvw);
        }
    }
    return r;
}

/* ---------------------------------------------------------------- summing over decode steps */

/* A function of the context, convex and piecewise linear. */
typedef double (*CtxFn)(const void *ctx_data, double ctx);

/* Sum of f(ctx) for ctx = a..b (integers), for a convex f: a convex function lies on or below its
 * chord, and if it touches the chord inside the range it equals the chord on all of it. So a range
 * whose midpoint (and, against rounding, quarter point) lies on the chord is summed as an
 * arithmetic series; any other is halved. Short ranges are summed term by term. */
static double sum_convex(CtxFn f, const void *data, long long a, long long b, double fa, double fb, int depth) {
    long long n = b - a + 1;
    if (n <= 32 || depth > 48) {
        double s = fa + (n > 1 ? fb : 0);
        for (long long x = a + 1; x < b; x++)
            s += f(data, (double)x);
        return s;
    }
    long long mid = a + (b - a) / 2, q = a + (b - a) / 4;
    double fm = f(data, (double)mid), fq = f(data, (double)q);
    double span = (double)(b - a);
    double cm = fa + (fb - fa) * (double)(mid - a) / span, cq = fa + (fb - fa) * (double)(q - a) / span;
    double tol = 1e-13 * (fabs(fa) + fabs(fb)) + 1e-300;
    if (fabs(fm - cm) <= tol && fabs(fq - cq) <= tol)
        return (fa + fb) * 0.5 * (double)n;
    return sum_convex(f, data, a, mid, fa, fm, depth + 1) +
           sum_convex(f, data, mid + 1, b, f(data, (double)(mid + 1)), fb, depth + 1);
}

static double sum_ctx_range(CtxFn f, const void *data, long long a, long long b) {
    if (b < a)
        return 0;
    return sum_convex(f, data, a, b, f(data, (double)a), f(data, (double)b), 0);
}

/* Sum over the decode steps: contexts prompt+1 .. min(prompt+gen, max_seq), then any steps past
 * max_seq at max_seq. */
static double sum_ctx(const DfProblem *p, CtxFn f, const void *data) {
    long long first = p->ctx_first, last = p->ctx_last;
    long long grow = last - first + 1;
    if (grow > p->gen)
        grow = p->gen;
    double s = sum_ctx_range(f, data, first, first + grow - 1);
    long long rest = p->gen - grow;
    if (rest > 0)
        s += (double)rest * f(data, (double)last);
    return s;
}

double cost_sum_decode(const DfProblem *p, double (*f)(const void *data, double ctx), const void *data) {
    return sum_ctx(p, f, data);
}

/* ---------------------------------------------------------------- per op, for the search */

typedef struct OpArgs {
    const DfProblem *p;
    const Dev *d;
    const DfOp *o;
    Mapping mp;
    int which;          /* 0: npu time, 1: nmp time, 2: energy */
} OpArgs;

static double op_fn(const void *data, double ctx) {
    const OpArgs *a = data;
    Part r = op_step(a->p, a->d, a->o, false, ctx, &a->mp, NULL);
    return a->which == 0 ? r.npu : a->which == 1 ? r.nmp : r.energy;
}

/* The mapping of an assignment (exec resolved, the NMP share as a fraction). */
static Mapping mapping_of(const DfProblem *p, int op, const DfAssign *a) {
    Mapping mp;
    mp.c = chanset_count(a->nmp);
    mp.nx = a->normal ? p->normal : 0;
    mp.exec = df_exec_of(a);
    mp.spread = a->spread;
    long long S = df_split_len(p, op);
    switch (mp.exec) {
    case DF_EXEC_NMP: mp.f = 1; break;
    case DF_EXEC_MIX: mp.f = S > 0 ? (double)df_split_of(p, op, a) / (double)S : 0; break;
    default: mp.f = mp.c > 0 && !a->normal ? 1 : (a->spread || mp.c == 0 ? 0 : (S > 0 ? (double)df_split_of(p, op, a) / (double)S : 0));
    }
    if (p->ops[op].kind == DFK_OTHER) {
        mp.c = mp.nx = 0;
        mp.f = 0;
        mp.exec = DF_EXEC_NPU;
    }
    return mp;
}

/* All layers: a layer's op costs times the layer count (data-centric mapping, as the search asks). */
static void h2c_op_cost(const DfProblem *p, int op, int c, bool normal, long long split, OpCost *out) {
    Dev d = dev_of(p);
    const DfOp *o = &p->ops[op];
    DfAssign as;
    memset(&as, 0, sizeof as);
    as.nmp = chanset_first(c);
    as.normal = normal;
    as.split = split;
    as.ratio = -1;
    OpArgs a = {p, &d, o, mapping_of(p, op, &as), 0};
    Part pre = op_step(p, &d, o, true, 0, &a.mp, NULL);
    double L = p->layers;
    out->prefill = L * (pre.npu + pre.nmp);
    a.which = 0;
    out->npu = L * sum_ctx(p, op_fn, &a);
    a.which = 1;
    out->nmp = L * sum_ctx(p, op_fn, &a);
    a.which = 2;
    out->energy = L * (pre.energy + sum_ctx(p, op_fn, &a));
}

/* Lower bounds over the MIX splits lo..hi on c channels + normal. Prefill: the NPU can do no better
 * than stream the operand (and write the KV) over every channel at once; and over a narrower range,
 * the NMP channels hold at least the share lo/S and the normal ones at least 1 - hi/S. Energy: every
 * term is linear in the NMP share (or does not depend on it), so the least is at one end. */
static void h2c_mix_lower(const DfProblem *p, int op, int c, long long lo, long long hi, double *prefill,
                          double *energy) {
    Dev d = dev_of(p);
    const DfOp *o = &p->ops[op];
    Gemm g = o->pre;
    double es = p->es, L = p->layers;
    double macs = g.B * g.M * g.N * g.K, operand = g.B * g.K * g.N * es;
    double in = g.B * g.M * g.K * es, out = g.B * g.M * g.N * es;
    double spill = in + out > d.sram ? in + out - d.sram : 0;
    double kv = o->kind == DFK_ATTN ? (double)p->prompt * p->batch * p->kv_heads * p->head_dim * es : 0;
    double bw = (double)(c + p->normal) * d.ch_bw, all_ch = (double)(p->nmp + p->normal) * d.ch_bw;
    double t_mac = macs / d.npu, t_mem = operand / bw + spill / all_ch + kv / bw;
    *prefill = L * (t_mac > t_mem ? t_mac : t_mem);
    bool fused = o->fused >= 0 && p->attention == ATTN_FUSED;
    if (fused) {
        /* a fused kernel: no faster than its MACs (priced on the score op; the value op is free) */
        const DfOp *v = &p->ops[o->fused];
        Gemm b = v->pre;
        double share = causal_share(p, o->window);
        *prefill = o->code == OP_ATTN_SCORE ? L * (g.B * g.M * g.N * g.K + b.B * b.M * b.N * b.K) * share / d.npu : 0;
    }
    long long S = df_split_len(p, op);
    if (!fused && (lo > 1 || hi < S - 1) && c > 0 && p->normal > 0 && S > 0) {
        double f_lo = (double)lo / (double)S, f_hi = (double)hi / (double)S;
        double cb = c * d.ch_bw, xb = p->normal * d.ch_bw;
        double r_nmp = f_lo * operand / cb, r_normal = (1 - f_hi) * operand / xb;
        double k_nmp = f_lo * kv / cb, k_normal = (1 - f_hi) * kv / xb;
        double read = r_nmp > r_normal ? r_nmp : r_normal, write = k_nmp > k_normal ? k_nmp : k_normal;
        double mem = read + spill / all_ch + write;
        double narrow = L * (t_mac > mem ? t_mac : mem);
        if (narrow > *prefill)
            *prefill = narrow;
    }
    OpCost e_lo, e_hi;
    h2c_op_cost(p, op, c, true, lo, &e_lo);
    h2c_op_cost(p, op, c, true, hi, &e_hi);
    *energy = e_lo.energy < e_hi.energy ? e_lo.energy : e_hi.energy;
}

/* ---------------------------------------------------------------- whole plans */

typedef struct PlanArgs {
    const DfProblem *p;
    const Dev *d;
    const DfPlan *plan;
    Mapping mp[DF_MAX_OPS];
    bool energy;        /* return energy instead of time */
} PlanArgs;

/* One decode step of one layer at a context: the hierarchy's overlap rules. */
static double plan_step(const void *data, double ctx) {
    const PlanArgs *a = data;
    const DfPlan *pl = a->plan;
    const DfProblem *p = a->p;
    int G = 0;
    for (int i = 0; i < pl->nops; i++)
        if (pl->a[i].group + 1 > G)
            G = pl->a[i].group + 1;
    double step = 0, energy = 0;
    for (int g = 0; g < G; g++) {
        double gmax = 0;
        for (int part = 0;; part++) {
            bool any = false;
            double psum = 0;
            for (int s = 0;; s++) {
                bool sany = false;
                double nmax = 0, nsum = 0;
                for (int k = 0; k < pl->nops; k++) {
                    int i = pl->order[k];
                    const DfAssign *as = &pl->a[i];
                    if (as->group != g || as->part != part || as->stratum != s)
                        continue;
                    sany = true;
                    Part r = op_step(p, a->d, &p->ops[i], false, ctx, &a->mp[i], NULL);
                    nmax = r.nmp > nmax ? r.nmp : nmax;
                    nsum += r.npu;
                    energy += r.energy;
                }
                if (!sany)
                    break;
                psum += nmax > nsum ? nmax : nsum;
                any = true;
            }
            if (!any)
                break;
            gmax = psum > gmax ? psum : gmax;
        }
        step += gmax;
    }
    return a->energy ? energy : step;
}

static void h2c_evaluate(const DfProblem *p, const DfPlan *plan, CostResult *out) {
    memset(out, 0, sizeof *out);
    Dev d = dev_of(p);
    PlanArgs a;
    memset(&a, 0, sizeof a);
    a.p = p;
    a.d = &d;
    a.plan = plan;
    double L = p->layers, pre_energy = 0;
    for (int k = 0; k < plan->nops; k++) {
        int i = plan->order[k];
        a.mp[i] = mapping_of(p, i, &plan->a[i]);
        Part pre = op_step(p, &d, &p->ops[i], true, 0, &a.mp[i], NULL);
        out->op_prefill[i] = L * (pre.npu + pre.nmp);
        out->prefill += out->op_prefill[i];
        pre_energy += L * pre.energy;
        OpArgs oa = {p, &d, &p->ops[i], a.mp[i], 0};
        double npu = sum_ctx(p, op_fn, &oa);
        oa.which = 1;
        double nmp = sum_ctx(p, op_fn, &oa);
        out->op_decode[i] = L * (npu > nmp ? npu : nmp);
    }
    out->decode = L * sum_ctx(p, plan_step, &a);
    a.energy = true;
    out->energy = pre_energy + L * sum_ctx(p, plan_step, &a);
    out->total = out->prefill + out->decode;
    out->decode_step = p->gen > 0 ? out->decode / p->gen : 0;
}

/* ---------------------------------------------------------------- op by op, for reports */

typedef struct DetailArgs {
    const DfProblem *p;
    const Dev *d;
    const DfOp *o;
    Mapping mp;
    int which;          /* 0: npu time, 1: nmp time, 2: the slower of the two, 3: bytes, 4 + k: energy entry k */
} DetailArgs;

static double detail_fn(const void *data, double ctx) {
    const DetailArgs *a = data;
    Detail dt;
    memset(&dt, 0, sizeof dt);
    Part r = op_step(a->p, a->d, a->o, false, ctx, &a->mp, &dt);
    switch (a->which) {
    case 0: return r.npu;
    case 1: return r.nmp;
    case 2: return r.npu > r.nmp ? r.npu : r.nmp;
    case 3: return dt.bytes;
    default: return dt.pj[a->which - 4];
    }
}

/* One step's Part and Detail, scaled (layers, or decode steps) into an OpDetail. */
static void fill_detail(OpDetail *od, Part r, const Detail *dt, double scale) {
    od->npu = scale * r.npu;
    od->nmp = scale * r.nmp;
    od->time = scale * (r.npu > r.nmp ? r.npu : r.nmp);
    od->bytes = scale * dt->bytes;
    for (int k = 0; k < EF_COUNT_; k++)
        od->energy[k] = scale * dt->pj[k] * 1e-12;
}

static void h2c_detail(const DfProblem *p, const DfPlan *plan, CostDetail *out) {
    memset(out, 0, sizeof *out);
    Dev d = dev_of(p);
    double L = p->layers;
    for (int i = 0; i < plan->nops; i++) {
        Mapping mp = mapping_of(p, i, &plan->a[i]);
        Detail dt;
        memset(&dt, 0, sizeof dt);
        Part pre = op_step(p, &d, &p->ops[i], true, 0, &mp, &dt);
        fill_detail(&out->op[PH_PREFILL][i], pre, &dt, L);
        out->op[PH_PREFILL][i].time = L * (pre.npu + pre.nmp);     /* as h2c_evaluate counts it */
        OpDetail *od = &out->op[PH_DECODE][i];
        DetailArgs a = {p, &d, &p->ops[i], mp, 0};
        double *field[4] = {&od->npu, &od->nmp, &od->time, &od->bytes};
        for (a.which = 0; a.which < 4 + EF_COUNT_; a.which++) {
            double v = L * sum_ctx(p, detail_fn, &a);
            if (a.which < 4)
                *field[a.which] = v;
            else
                od->energy[a.which - 4] = v * 1e-12;
        }
    }
}

const CostModel cost_h2c = {
    .name = "h2c",
    .op_cost = h2c_op_cost,
    .evaluate = h2c_evaluate,
    .split_pieces = NULL,
    .has_energy = true,
    .mix_lower = h2c_mix_lower,
    .costs_by_shape = true,
    .fixed_time = NULL,
    .nmp_util = NULL,
    .reads_sram = true,
    .whole_model = true,
    .detail = h2c_detail,
};

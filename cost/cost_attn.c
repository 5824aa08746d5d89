/* cost_attn.c: decode attention under an attention plan, in the h2c cost model (docs/cost-models.md
 * §3.6, docs/sparsity.md §5). One layer at one context: every stream's tiles (a share of its
 * attended tokens and, for a dynamic head, of its pages' min/max keys) run on the PE under their
 * bank, on a PE elsewhere that reads them over the channel, or on the NPU; the query and the new K
 * and V go to the PEs and the partial states come back over each NMP channel's transfer link; a
 * dynamic head's page scores go to the NPU, which picks the top pages and sends the list back; the
 * NPU merges the states by the log-sum-exp rule. Tokens are spread evenly (A / n per tile, real),
 * so every time is piecewise linear in the context and sums exactly over the decode steps. An
 * AttnCost groups a plan's layers into classes that share their patterns and tiles. */
#include "cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void attn_dev_init(AttnDev *dev, const Module *m, ChanSet pes) {
    const Hardware *hw = &m->dev.hw;
    memset(dev, 0, sizeof *dev);
    dev->pe_rate = hw->pe_fpus * hw->pe_simd * hw->pe_frequency;
    dev->pe_bw = hw->pe_bandwidth;
    dev->ch_bw = hw->channel_bandwidth * hw->channel_utilization;
    dev->xfer = hw->nmp_transfer_bandwidth;
    dev->npu = hw->npu_throughput * hw->npu_utilization;
    dev->vec = hw->npu_throughput / 128.0;
    dev->es = ir_elem_bytes(m);
    dev->g = m->model.kv_heads > 0 ? m->model.heads / m->model.kv_heads : 1;
    dev->d = m->model.head_dim;
    dev->channels = dev_channels(&m->dev);
    dev->banks = dev_banks(&m->dev);
    dev->pe_banks = (int)hw->pe_banks;
    dev->nmp = dev_nmp_channels(&m->dev);
    dev->pes = pes & dev_nmp_set(&m->dev);
    dev->e = hw->energy;
    dev->e_pe_mac = energy_pe_mac(hw, hw->pe_frequency);
}

ChanSet attn_pe_channels(const Module *m, const Attention *a) {
    const Op *v = &m->phases[PH_DECODE].ops[a->value_op];
    ChanSet s = 0;
    for (int i = 0; i < v->ntiles; i++)
        if (v->tiles[i].exec.kind == EXEC_NMP || v->tiles[i].exec.kind == EXEC_PE)
            s |= v->tiles[i].exec.chans;
    if (!s)
        for (int i = 0; i < a->ntiles; i++) {
            const AttnTiles *t = &a->tiles[i];
            if (t->by.kind == EXEC_PE)
                s |= t->by.chans;
            else if (t->by.kind == EXEC_NONE)
                for (int j = 0; j < t->nbanks; j++)
                    s |= CHAN_BIT(t->banks[j].ch);
        }
    s &= dev_nmp_set(&m->dev);
    return s ? s : dev_nmp_set(&m->dev);
}

/* Tokens a stream attends at context ctx, and pages whose keys' bounds it scores. A dynamic head
 * whose budget covers the context attends every token and scores nothing. */
static void attended(const Pattern *p, double ctx, double *tokens, double *pages) {
    *pages = 0;
    switch (p->kind) {
    case PAT_STATIC: *tokens = fmin(ctx, (double)p->sink + p->window); break;
    case PAT_DYNAMIC: {
        double kept = p->page > 0 ? floor((double)p->budget / p->page) * p->page : 0;
        if (ctx <= kept) {
            *tokens = ctx;
        } else {
            *tokens = kept;
            *pages = p->page > 0 ? ctx / p->page : 0;
        }
        break;
    }
    default: *tokens = ctx;
    }
}

void attn_cost_add(AttnLayerCost *a, const AttnLayerCost *b, double times) {
    a->time += times * b->time;
    a->t_in += times * b->t_in;
    a->t_main += times * b->t_main;
    a->t_select += times * b->t_select;
    a->t_out += times * b->t_out;
    a->t_merge += times * b->t_merge;
    a->makespan += times * b->makespan;
    a->mean += times * b->mean;
    a->lower += times * b->lower;
    a->kv_bytes += times * b->kv_bytes;
    a->bytes += times * b->bytes;
    for (int k = 0; k < EF_COUNT_; k++)
        a->pj[k] += times * b->pj[k];
    a->states += (int)(times * b->states);
    a->tiles += (int)(times * b->tiles);
    a->pes_used += (int)(times * b->pes_used);
}

void attn_layer_cost(const AttnDev *dev, const AttnStream *s, int ns, double ctx, AttnLayerCost *out) {
    memset(out, 0, sizeof *out);
    int C = dev->channels, B = dev->banks, ppc = B / (dev->pe_banks > 0 ? dev->pe_banks : 1);
    int npe = dev->nmp * ppc;
    /* per PE: load, the stream that last stamped it; per channel: bytes over its link or bus */
    size_t nd = (size_t)npe + 6 * (size_t)C + 1, ni = (size_t)npe + (size_t)C + 1;
    double *dbl = h2c_raw_alloc(sizeof(double) * nd);
    int *stamp = h2c_raw_alloc(sizeof(int) * ni);
    if (!dbl || !stamp) {
        h2c_raw_free(dbl, sizeof(double) * nd);
        h2c_raw_free(stamp, sizeof(int) * ni);
        out->time = INFINITY;
        return;
    }
    memset(dbl, 0, sizeof(double) * nd);
    double *load = dbl, *in_c = load + npe, *score_c = in_c + C, *list_c = score_c + C, *state_c = list_c + C,
           *bus_c = state_c + C;    /* bus_c: reads and writes over the channel itself (NPU, remote PEs) */
    int *pe_stamp = stamp, *ch_stamp = stamp + npe;
    for (size_t i = 0; i < ni; i++)
        stamp[i] = -1;
    double g = dev->g, d = dev->d, es = dev->es;
    double unit_macs = g * d * 2, unit_bytes = 2 * d * es;     /* per token (q.k and p.v) or page (q.max, q.min) */
    double q_bytes = g * d * es, state_bytes = g * (d + 1) * 4;
    double local = 0, remote = 0, npu_read = 0, pe_macs = 0, npu_macs = 0, biggest = 0;
    double w_local = 0, w_bus = 0, transfers = 0, topk_ops = 0;
    int states_pe = 0, states_npu = 0;
    for (int i = 0; i < ns; i++) {
        const AttnStream *st = &s[i];
        int n = st->ntiles;
        if (n < 1)
            continue;
        out->tiles += n;
        double tokens, pages;
        attended(&st->pat, ctx, &tokens, &pages);
        double tok = tokens / n, pg = pages / n;
        double macs = (tok + pg) * unit_macs, bytes = (tok + pg) * unit_bytes;
        /* the new token's K and V (and for a dynamic head its key again, for its page's bounds) */
        double kvw = 2 * d * es + (st->pat.kind == PAT_DYNAMIC ? d * es : 0);
        bool selects = pages > 0;
        if (selects)
            topk_ops += pages * 4;
        bool on_npu = false;
        for (int j = 0; j < n; j++) {
            BankRef bk = st->banks[j];
            if (bk.ch < 0 || bk.ch >= C || bk.bank < 0 || bk.bank >= B)
                continue;
            bool by_npu = st->by.kind == EXEC_NPU || (st->by.kind == EXEC_NONE && bk.ch >= dev->nmp);
            if (by_npu) {
                npu_macs += macs;
                npu_read += bytes;
                bus_c[bk.ch] += bytes + kvw / n;
                w_bus += kvw / n;
                on_npu = true;
                continue;
            }
            int pc = bk.ch, pb = bk.bank;
            double t;
            if (st->by.kind == EXEC_PE) {
                pc = __builtin_ctzll(st->by.chans);
                pb = st->by.bank;
                t = fmax(macs / dev->pe_rate, bytes / dev->ch_bw);
                remote += bytes;
                bus_c[bk.ch] += bytes + kvw / n;
                w_bus += kvw / n;
            } else {
                t = fmax(macs / dev->pe_rate, bytes / dev->pe_bw);
                local += bytes;
                in_c[pc] += kvw / n;
                w_local += kvw / n;
            }
            int pe = pc * ppc + pb / (dev->pe_banks > 0 ? dev->pe_banks : 1);
            if (pc >= dev->nmp || pe < 0 || pe >= npe)
                continue;
            load[pe] += t;
            pe_macs += macs;
            biggest = t > biggest ? t : biggest;
            if (selects)
                score_c[pc] += pg * 4;
            if (pe_stamp[pe] != i) {            /* the first tile of this stream on this PE: one state */
                pe_stamp[pe] = i;
                state_c[pc] += state_bytes;
                states_pe++;
            }
            if (ch_stamp[pc] != i) {            /* ... on this channel: the query, and the page list */
                ch_stamp[pc] = i;
                in_c[pc] += q_bytes;
                if (selects)
                    list_c[pc] += floor((double)st->pat.budget / st->pat.page) * 4;
            }
        }
        if (on_npu)
            states_npu++;
    }
    /* the busiest of each */
    double mk = 0, sum = 0, t_in = 0, t_sc = 0, t_li = 0, t_out = 0, t_bus = 0;
    int usable = 0;
    for (int p = 0; p < npe; p++) {
        out->pes_used += load[p] > 0;
        mk = load[p] > mk ? load[p] : mk;
        if (dev->pes & CHAN_BIT(p / ppc)) {
            sum += load[p];
            usable++;
        }
    }
    for (int c = 0; c < C; c++) {
        if (c < dev->nmp) {
            t_in = fmax(t_in, in_c[c] / dev->xfer);
            t_sc = fmax(t_sc, score_c[c] / dev->xfer);
            t_li = fmax(t_li, list_c[c] / dev->xfer);
            t_out = fmax(t_out, state_c[c] / dev->xfer);
            transfers += in_c[c] + score_c[c] + list_c[c] + state_c[c];
        }
        t_bus = fmax(t_bus, bus_c[c] / dev->ch_bw);
    }
    int states = states_pe + states_npu;
    double merge_ops = states * g * (d + 2) * 3;
    out->t_in = t_in;
    out->t_main = fmax(fmax(mk, npu_macs / dev->npu), t_bus);
    out->t_select = topk_ops > 0 ? t_sc + topk_ops / dev->vec + t_li : 0;
    out->t_out = t_out;
    out->t_merge = merge_ops / dev->vec;
    out->time = out->t_in + out->t_main + out->t_select + out->t_out + out->t_merge;
    out->makespan = mk;
    out->mean = usable ? sum / usable : 0;
    out->lower = fmax(usable ? sum / usable : 0, biggest);
    out->kv_bytes = local + remote + npu_read;
    out->bytes = out->kv_bytes + w_local + w_bus + transfers;
    out->states = states;
    const EnergyEntry *e = dev->e;
    double vec_ops = merge_ops + topk_ops;
    out->pj[EF_dram_read] = (out->kv_bytes + w_local + w_bus) * 8 * e[EF_dram_read].value;
    out->pj[EF_hb_io] = (local + w_local) * 8 * e[EF_hb_io].value;
    out->pj[EF_dram_on_die] = (remote + npu_read + w_bus) * 8 * e[EF_dram_on_die].value;
    out->pj[EF_channel_io] = (remote + npu_read + w_bus + transfers) * 8 * e[EF_channel_io].value;
    out->pj[EF_pe_mac] = pe_macs * dev->e_pe_mac;
    out->pj[EF_npu_mac] = (npu_macs + vec_ops) * e[EF_npu_mac].value;
    out->pj[EF_sram_access] = (2 * states * state_bytes + npu_read) * 8 * e[EF_sram_access].value;
    h2c_raw_free(dbl, sizeof(double) * nd);
    h2c_raw_free(stamp, sizeof(int) * ni);
}

/* ---------------------------------------------------------------- plans, class by class */

typedef struct AttnClass {
    Range layers;
    AttnStream *s;
    int ns;
} AttnClass;

struct AttnCost {
    AttnDev dev;
    AttnClass *cls;
    int ncls;
    bool pes;           /* some tile runs on a PE */
    size_t bytes;       /* of the allocation below */
    void *mem;
};

static int cmp_ll(const void *x, const void *y) {
    long long a = *(const long long *)x, b = *(const long long *)y;
    return a < b ? -1 : a > b;
}

AttnCost *attn_cost_new(const Module *m, const Attention *a) {
    int L = m->model.layers, H = m->model.kv_heads, Bt = m->work.batch;
    /* class boundaries: every line's ends */
    int nbnd = 2 + 2 * (a->npats + a->ntiles);
    long long *bnd = h2c_raw_alloc(sizeof(long long) * (size_t)nbnd);
    if (!bnd)
        return NULL;
    int k = 0;
    bnd[k++] = 0;
    bnd[k++] = L;
    for (int i = 0; i < a->npats; i++) {
        bnd[k++] = a->pats[i].layers.lo;
        bnd[k++] = a->pats[i].layers.hi;
    }
    for (int i = 0; i < a->ntiles; i++) {
        bnd[k++] = a->tiles[i].layers.lo;
        bnd[k++] = a->tiles[i].layers.hi;
    }
    qsort(bnd, (size_t)k, sizeof *bnd, cmp_ll);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (bnd[i] >= 0 && bnd[i] <= L && (u == 0 || bnd[i] != bnd[u - 1]))
            bnd[u++] = bnd[i];
    int ncls = u - 1 > 0 ? u - 1 : 0;
    size_t per = (size_t)H * (size_t)Bt;
    size_t bytes = sizeof(AttnCost) + sizeof(AttnClass) * (size_t)(ncls + 1) + sizeof(AttnStream) * per * (size_t)(ncls + 1);
    char *mem = h2c_raw_alloc(bytes);
    if (!mem) {
        h2c_raw_free(bnd, sizeof(long long) * (size_t)nbnd);
        return NULL;
    }
    memset(mem, 0, bytes);
    AttnCost *c = (AttnCost *)mem;
    c->mem = mem;
    c->bytes = bytes;
    c->cls = (AttnClass *)(mem + sizeof(AttnCost));
    AttnStream *all = (AttnStream *)(c->cls + ncls + 1);
    c->ncls = ncls;
    attn_dev_init(&c->dev, m, attn_pe_channels(m, a));
    for (int q = 0; q < ncls; q++) {
        AttnClass *cl = &c->cls[q];
        cl->layers = (Range){bnd[q], bnd[q + 1]};
        cl->s = all + per * (size_t)q;
        int l = (int)bnd[q];
        for (int h = 0; h < H; h++) {
            const AttnPatternLine *pl = attn_pattern_at(a, l, h);
            for (int b = 0; b < Bt && pl; b++) {
                const AttnTiles *t = attn_tiles_at(a, l, h, b);
                if (!t)
                    continue;
                cl->s[cl->ns++] = (AttnStream){pl->pat, t->nbanks, t->banks, t->by};
                if (t->by.kind != EXEC_NPU)
                    for (int j = 0; j < t->nbanks; j++)
                        c->pes |= t->by.kind == EXEC_PE || t->banks[j].ch < c->dev.nmp;
            }
        }
    }
    h2c_raw_free(bnd, sizeof(long long) * (size_t)nbnd);
    return c;
}

void attn_cost_free(AttnCost *c) {
    if (c)
        h2c_raw_free(c->mem, c->bytes);
}

int attn_cost_classes(const AttnCost *c) { return c->ncls; }

bool attn_cost_uses_pes(const AttnCost *c) { return c->pes; }

void attn_cost_class(const AttnCost *c, int k, double ctx, Range *layers, AttnLayerCost *out) {
    const AttnClass *cl = &c->cls[k];
    *layers = cl->layers;
    attn_layer_cost(&c->dev, cl->s, cl->ns, ctx, out);
}

void attn_cost_all(const AttnCost *c, double ctx, AttnLayerCost *sum) {
    memset(sum, 0, sizeof *sum);
    for (int k = 0; k < c->ncls; k++) {
        AttnLayerCost one;
        Range r;
        attn_cost_class(c, k, ctx, &r, &one);
        attn_cost_add(sum, &one, (double)(r.hi - r.lo));
    }
}
